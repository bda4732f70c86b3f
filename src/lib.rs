//! ccsync carries Claude Code sessions between a developer's machine and GitHub Actions through
//! draft GitHub Releases.
//!
//! The modules follow the path a session takes:
//! - [`store`]: the local Claude Code store (folder names, session files, the repository's sessions)
//! - [`bundle`]: a session packed for transport (archive, metadata, path rewrite, secrets, encryption)
//! - [`sync`]: how a local and a stored copy of one session relate (the uuid conflict rule)
//! - [`release`]: the GitHub release backend (draft releases and their assets)
//! - [`stored`]: the sessions stored in a release and the write protocol that keeps them whole
//!   (reading rules, roll-forward, the writer; docs/write-protocol.md)
//! - [`catalog`]: what a release tells without downloading metadata (asset labels, the body table)
//! - [`actions`]: GitHub Actions glue (environment files, annotations, step summary)
//! - [`transfer`]: the push and restore pipelines (find, compare, pack or fetch, write or
//!   install), each step a function
//! - [`commands`]: one module per `ccsync` command: arguments, one call into the layers above,
//!   and reporting
//!
//! Around them: [`cli`] (the command line), [`claude_cli`] (the `claude` that will run and its
//! version), [`config`] (checked settings from options and environment, and the branch a command
//! works on), [`doctor`] (the checks of `ccsync doctor`), [`event`] (the Actions event a run
//! belongs to), [`memory`] (project memory that travels with sessions), [`passphrase`] (the
//! archive passphrase), [`git`], [`hook`] (the pre-push hook), [`token`], [`exit`] (exit codes),
//! [`ui`], [`progress`] and [`neutral`] (what people see, with text from stored data
//! neutralised), [`scratch`] (temporary folders, and those of killed runs).

// Functions over 80 lines of code fail CI's clippy (threshold in clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod actions;
pub mod bundle;
pub mod catalog;
pub mod claude_cli;
pub mod cli;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod event;
pub mod exit;
pub mod git;
pub mod hook;
pub mod ids;
pub mod memory;
pub mod neutral;
pub mod passphrase;
pub mod progress;
pub mod release;
pub mod scratch;
pub mod store;
pub mod stored;
pub mod sync;
pub mod token;
pub mod transfer;
pub mod ui;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line, runs the command and maps the outcome to an exit code. The only
/// place that prints an error.
pub fn run() -> ExitCode {
    let cli = parse_cli();
    scratch::handle_interrupts();
    let ui = ui::Ui::from_globals(&cli.global);
    match commands::dispatch(cli, &ui) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`ccsync sessions | head`): nothing to report.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let code = exit::code_for(&err);
            let message = format!("{err:#}");
            // Nothing found is a documented outcome that callers decide on by the exit code, so
            // in Actions it is a notice rather than an error annotation (unless it was required).
            if exit::is_optional_nothing(&err) && ui.in_actions {
                ui.notice(&message);
            } else {
                ui.error(&message);
            }
            ExitCode::from(code as u8)
        }
    }
}

/// The command line, or clap's error (exit 2). Clap's usage line lists the options given so far
/// and counts those set from the environment as given, so in Actions (where `GITHUB_API_URL` is
/// always set) a missing `--session` read `Usage: … --session <ID> --api-url <URL>`: such an error
/// is rendered again from a definition without environment fallbacks.
fn parse_cli() -> cli::Cli {
    use clap::{CommandFactory, FromArgMatches};
    let err = match cli::Cli::try_parse() {
        Ok(cli) => return cli,
        Err(err) => err,
    };
    if matches!(
        err.kind(),
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
    ) {
        err.exit();
    }
    let without_env = cli::Cli::command().mut_args(|arg| arg.env(None::<&'static str>));
    match without_env
        .try_get_matches_from(std::env::args_os())
        .and_then(|m| cli::Cli::from_arg_matches(&m))
    {
        Err(again) if again.kind() == err.kind() => again.exit(),
        _ => err.exit(),
    }
}

/// Whether the error is a write to a closed pipe (stdout piped into `head`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

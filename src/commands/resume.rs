//! `ccsync resume`: the laptop's one command. Brings the branch's session home when the release
//! holds a newer copy (the rules of `release-restore`), runs `claude --resume <id>` with the
//! terminal attached, and pushes the session when Claude exits, however it exits (the rules of
//! `release-push`).
//!
//! With no session of the branch anywhere, it starts a new Claude Code session and pushes that one:
//! someone who types `ccsync resume` wants to work on the branch, and a refusal would only make
//! them type `claude` and then `ccsync release-push`.
//!
//! While Claude runs, ccsync ignores Ctrl-C (and SIGTERM/SIGHUP) itself: the terminal delivers
//! Ctrl-C to Claude, which handles it, and ccsync lives on to push. ccsync exits with Claude's exit
//! code unless the push fails.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{PushArgs, RestoreArgs, ResumeArgs, SecretsMode};
use crate::config::{BranchChoice, Context};
use crate::exit::{self, Code, Exit};
use crate::store::{self, LocalSession};
use crate::ui::Ui;

use crate::transfer::push::{self, PushOutcome};
use crate::transfer::restore::{self, RestoreOutcome};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResumeJson {
    branch: String,
    /// The session Claude ran (`None` when a new session recorded nothing).
    session_id: Option<String>,
    /// `resumed`, or `new` (no session of the branch existed).
    started: &'static str,
    /// What the restore before Claude did (`None` when the release could not be read).
    restore: Option<RestoreOutcome>,
    claude_exit_code: i32,
    /// What the push after Claude did (empty when there was nothing to push).
    push: Vec<PushOutcome>,
}

pub fn run(ctx: &Context, args: &ResumeArgs) -> anyhow::Result<()> {
    let ui = ctx.ui;
    let git = ctx.git_repo()?;
    let claude_dir = ctx.claude_dir()?;
    let cwd = ctx.current_dir()?;
    if let Some(id) = &args.session {
        if !store::scan::is_session_id(id) {
            return Err(Exit::usage(format!(
                "`{id}` is not a session id: session ids are uuids (`ccsync sessions` and `ccsync release-list` list them)"
            ))
            .into());
        }
    }
    let branch = match ctx
        .branch(args.branch.as_deref(), Some(&git))
        .and_then(BranchChoice::required)
    {
        Ok(branch) => branch,
        // `--session` on a detached HEAD: the branch the session itself recorded, if it has one.
        Err(e) => match args
            .session
            .as_deref()
            .map(|id| recorded_branch(&claude_dir, git.root(), id))
            .transpose()?
            .flatten()
        {
            Some(branch) => branch,
            None => return Err(e),
        },
    };
    check_checked_out(&git, args)?;
    // Before any network: a missing Claude is the first thing to fix.
    let claude = crate::claude_cli::program()?;

    // The steps print for people; only resume itself answers `--json`.
    let step_ui = Ui {
        json: false,
        ..ui.clone()
    };
    let step = Context {
        global: ctx.global,
        ui: &step_ui,
    };

    let restore_args = RestoreArgs {
        branch: Some(branch.clone()),
        session: args.session.clone(),
        cwd: None,
        force: false,
        keep_local_as_new: false,
        require: false,
        allow_unencrypted: false,
        accept_memory: args.accept_memory,
    };
    let restored = match restore::restore_session(&step, &restore_args) {
        Ok(outcome) => {
            if outcome.action == "nothing" {
                if let Some(message) = &outcome.message {
                    // Resume pushes when Claude exits: restore's advice to push first does not apply.
                    let message = message.split(" (push one with").next().unwrap_or(message);
                    ui.info(message);
                }
            }
            Some(outcome)
        }
        // Two copies that each hold what the other lacks: the user decides, not resume.
        Err(e) if exit::code_for(&e) == Code::Conflict => return Err(e),
        Err(e) => {
            ui.warn(&format!(
                "skipped the sync: could not check the release for a newer copy ({e:#}); resuming what this machine has"
            ));
            None
        }
    };

    let before = ctx.repository_sessions(&claude_dir, git.root())?;
    let chosen: Option<LocalSession> = match &args.session {
        Some(id) => match store::find_session(&claude_dir, git.root(), id)? {
            Some(session) => Some(session),
            None => {
                return Err(Exit::nothing_found(format!(
                    "no session {id} on this machine or in the release of branch `{branch}`: `ccsync sessions` and `ccsync release-list` list the sessions there are"
                ))
                .into())
            }
        },
        // The same rule as `discover`: a session restored from the branch's release belongs to it
        // even when CI recorded only a detached `HEAD`.
        None => crate::store::belongs::newest_of_branch(&before, &branch).cloned(),
    };

    let mut claude_args: Vec<OsString> = Vec::new();
    let folder = match &chosen {
        Some(session) => {
            claude_args.push("--resume".into());
            claude_args.push(session.id.clone().into());
            let folder = folder_for(&claude_dir, session, &cwd, ui);
            ui.info(&format!(
                "resuming session {} of branch `{branch}` with {} (in {})",
                session.id,
                claude.display(),
                folder.display()
            ));
            folder
        }
        None => {
            ui.info(&format!(
                "no session of branch `{branch}` here or in its release: starting a new Claude Code session; it is pushed when Claude exits"
            ));
            cwd.clone()
        }
    };
    claude_args.extend(args.claude_args.iter().map(OsString::from));

    let code = run_claude(&claude, &claude_args, &folder, ctx.ui.json)?;
    if code != 0 {
        ui.info(&format!(
            "Claude exited with code {code}; pushing the session anyway"
        ));
    }

    // The session to push: the resumed one, or the one a new Claude run recorded.
    let pushed_id = match &chosen {
        Some(session) => Some(session.id.clone()),
        None => {
            let known: HashSet<&str> = before.iter().map(|s| s.id.as_str()).collect();
            ctx.repository_sessions(&claude_dir, git.root())?
                .into_iter()
                .find(|s| !known.contains(s.id.as_str()))
                .map(|s| s.id)
        }
    };
    let push = match &pushed_id {
        Some(id) => {
            let push_args = PushArgs {
                branch: Some(branch.clone()),
                session: Some(id.clone()),
                since: None,
                dry_run: false,
                force: false,
                keep: 10,
                secrets: SecretsMode::Redact,
                allow_plaintext: false,
                from_hook: false,
            };
            push::push_sessions(&step, &push_args, &git, &branch).with_context(|| {
                format!(
                    "Claude exited with code {code}, but session {id} was not pushed; push it with `ccsync release-push --session {id}`"
                )
            })?
        }
        None => {
            ui.info("Claude Code recorded no session, so there is nothing to push");
            Vec::new()
        }
    };

    if ui.json {
        ui.print_json(&ResumeJson {
            branch,
            session_id: pushed_id,
            started: if chosen.is_some() { "resumed" } else { "new" },
            restore: restored,
            claude_exit_code: code,
            push,
        })?;
    }
    if code != 0 {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        std::process::exit(code);
    }
    Ok(())
}

/// The branch a local session recorded last, unless it is none or a detached `HEAD`.
fn recorded_branch(claude_dir: &Path, root: &Path, id: &str) -> anyhow::Result<Option<String>> {
    Ok(store::find_session(claude_dir, root, id)?
        .and_then(|s| s.branch)
        .filter(|b| !b.is_empty() && b != "HEAD"))
}

/// Where `claude --resume` finds the session: a folder whose project folder holds it. The current
/// folder when it does, else the session's own working folder, else the current folder (with a
/// warning, since Claude Code will say it found nothing).
fn folder_for(claude_dir: &Path, session: &LocalSession, cwd: &Path, ui: &Ui) -> PathBuf {
    let recorded = session
        .cwd
        .as_deref()
        .and_then(|c| std::fs::canonicalize(c).ok());
    for candidate in std::iter::once(cwd.to_path_buf()).chain(recorded) {
        if store::project_dir(claude_dir, &candidate) == session.project_dir {
            return candidate;
        }
    }
    ui.warn(&format!(
        "session {} lives in {}, which belongs to no folder on this machine: `claude --resume` may not find it \
         (restore it here with `ccsync release-restore --session {} --force`)",
        session.id,
        session.project_dir.display(),
        session.id
    ));
    cwd.to_path_buf()
}

/// Runs Claude with the terminal attached and returns its exit code (128 + signal when a signal
/// ended it, as shells report it).
/// With `--json`, stdout carries only ccsync's document: Claude's stdout goes to stderr.
fn run_claude(program: &Path, args: &[OsString], folder: &Path, json: bool) -> anyhow::Result<i32> {
    install_signal_handler();
    let mut command = Command::new(program);
    command.args(args).current_dir(folder);
    if json {
        command.stdout(std::process::Stdio::from(std::io::stderr()));
    }
    let status = command.status();
    let status = status.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "cannot run {}: not found; install Claude Code or set CCSYNC_CLAUDE to its path",
                program.display()
            )
        } else {
            anyhow::anyhow!("cannot run {}: {e}", program.display())
        }
    })?;
    if let Some(code) = status.code() {
        return Ok(code);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Ok(128 + signal);
        }
    }
    Ok(1)
}

/// From Claude's start on, Ctrl-C belongs to Claude and ccsync stays alive to push: the process's
/// handler ([`crate::scratch::handle_interrupts`]) then does nothing rather than the signal being
/// ignored (an ignored signal stays ignored in the child, and Claude must get Ctrl-C). The handler
/// runs on its own thread, possibly after Claude has exited, so it must not decide anything by
/// whether Claude still runs. Before Claude starts (the restore), Ctrl-C ends ccsync as usual,
/// after removing its temporary folders.
fn install_signal_handler() {
    crate::scratch::child_owns_interrupts();
}

/// `--branch B` in a checkout of another branch: Claude records the checked-out branch in every
/// new record, so the continuation would be found, and pushed, under that branch later. Asked on
/// a terminal; refused without `--force` otherwise.
fn check_checked_out(git: &crate::git::GitRepo, args: &ResumeArgs) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    let (Some(wanted), Some(here)) = (args.branch.as_deref(), git.current_branch()) else {
        return Ok(());
    };
    if wanted == here || args.force {
        return Ok(());
    }
    let why = format!(
        "--branch {} differs from the checked-out branch `{}`: Claude records the checked-out \
         branch, so the continuation would later be pushed to the release of `{}`",
        crate::neutral::text(wanted),
        crate::neutral::text(&here),
        crate::neutral::text(&here)
    );
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let mut err = std::io::stderr();
        write!(
            err,
            "warning: {why}. Check out `{}` first, or resume anyway? [y/N] ",
            crate::neutral::text(wanted)
        )?;
        err.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES") {
            return Ok(());
        }
        return Err(
            Exit::usage("nothing resumed: check out the branch first (`git switch B`)").into(),
        );
    }
    Err(Exit::usage(format!(
        "{why}. Check out `{}` first (`git switch {}`), or pass --force to resume it here anyway",
        crate::neutral::text(wanted),
        crate::neutral::text(wanted)
    ))
    .into())
}

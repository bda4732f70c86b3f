//! `ccsync resume`: the laptop's one command. Brings the branch's session home when the release
//! holds a newer copy (the rules of `release-restore`), runs `claude --resume <id>` with the
//! terminal attached, and pushes the session when Claude exits, however it exits (the rules of
//! `release-push`): the pipeline is [`crate::transfer::resume`].
//!
//! While Claude runs, ccsync ignores Ctrl-C (and SIGTERM/SIGHUP) itself: the terminal delivers
//! Ctrl-C to Claude, which handles it, and ccsync lives on to push. ccsync exits with Claude's exit
//! code unless the push fails.

use std::path::Path;

use crate::cli::ResumeArgs;
use crate::config::{BranchChoice, Context};
use crate::exit::Exit;
use crate::store;
use crate::ui::Ui;

pub fn run(ctx: &Context, args: &ResumeArgs) -> anyhow::Result<()> {
    let ui = ctx.ui;
    let git = ctx.git_repo()?;
    let claude_dir = ctx.claude_dir()?;
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
    let resumed = crate::transfer::resume::resume(&step, args, (&git, &branch), &claude, ui.json)?;
    let code = resumed.claude_exit_code;
    if ui.json {
        ui.print_json(&resumed)?;
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

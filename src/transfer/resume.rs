//! The resume pipeline: brings the branch's session home when the release holds a newer copy (the
//! restore pipeline), runs `claude --resume <id>` with the terminal attached, and pushes the
//! session when Claude exits, however it exits (the push pipeline).
//!
//! With no session of the branch anywhere, it starts a new Claude Code session and pushes that one:
//! someone who types `ccsync resume` wants to work on the branch, and a refusal would only make
//! them type `claude` and then `ccsync release-push`.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{PushArgs, RestoreArgs, ResumeArgs, SecretsMode};
use crate::config::Context;
use crate::exit::{self, Code, Exit};
use crate::git::GitRepo;
use crate::store::{self, LocalSession};
use crate::ui::Ui;

use super::push::{self, PushOutcome};
use super::restore::{self, RestoreOutcome};

/// What a resume did, for `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resumed {
    pub branch: String,
    /// The session Claude ran (`None` when a new session recorded nothing).
    pub session_id: Option<String>,
    /// `resumed`, or `new` (no session of the branch existed).
    pub started: &'static str,
    /// What the restore before Claude did (`None` when the release could not be read).
    pub restore: Option<RestoreOutcome>,
    pub claude_exit_code: i32,
    /// What the push after Claude did (empty when there was nothing to push).
    pub push: Vec<PushOutcome>,
}

/// restore → claude → push for `branch`. `ctx` prints for people (resume itself answers `--json`);
/// with `json`, stdout carries only that document, so Claude's stdout goes to stderr.
pub fn resume(
    ctx: &Context,
    args: &ResumeArgs,
    (git, branch): (&GitRepo, &str),
    claude: &Path,
    json: bool,
) -> anyhow::Result<Resumed> {
    let ui = ctx.ui;
    let claude_dir = ctx.claude_dir()?;
    let restored = restore_first(ctx, args, branch)?;
    let before = ctx.repository_sessions(&claude_dir, git.root())?;
    let chosen = choose_session(args, &claude_dir, git, branch, &before)?;
    let code = run_claude_on(
        ctx,
        args,
        (claude, json),
        &claude_dir,
        chosen.as_ref(),
        branch,
    )?;
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
    let push = push_after(ctx, git, branch, pushed_id.as_deref(), code)?;
    Ok(Resumed {
        branch: branch.to_owned(),
        session_id: pushed_id,
        started: if chosen.is_some() { "resumed" } else { "new" },
        restore: restored,
        claude_exit_code: code,
        push,
    })
}

/// The restore of `release-restore` for the branch (`None` when the release could not be read:
/// resume then goes on with what the machine has). A conflict ends the resume: the user decides.
fn restore_first(
    ctx: &Context,
    args: &ResumeArgs,
    branch: &str,
) -> anyhow::Result<Option<RestoreOutcome>> {
    let ui = ctx.ui;
    let restore_args = RestoreArgs {
        branch: Some(branch.to_owned()),
        session: args.session.clone(),
        cwd: None,
        force: false,
        keep_local_as_new: false,
        require: false,
        allow_unencrypted: false,
        accept_memory: args.accept_memory,
    };
    match restore::restore_session(ctx, &restore_args) {
        Ok(outcome) => {
            if outcome.action == "nothing" {
                if let Some(message) = &outcome.message {
                    // Resume pushes when Claude exits: restore's advice to push first does not apply.
                    let message = message.split(" (push one with").next().unwrap_or(message);
                    ui.info(message);
                }
            }
            Ok(Some(outcome))
        }
        // Two copies that each hold what the other lacks: the user decides, not resume.
        Err(e) if exit::code_for(&e) == Code::Conflict => Err(e),
        Err(e) => {
            ui.warn(&format!(
                "skipped the sync: could not check the release for a newer copy ({e:#}); resuming what this machine has"
            ));
            Ok(None)
        }
    }
}

/// `--session`, else the branch's newest session here (`None`: a new session starts).
fn choose_session(
    args: &ResumeArgs,
    claude_dir: &Path,
    git: &GitRepo,
    branch: &str,
    before: &[LocalSession],
) -> anyhow::Result<Option<LocalSession>> {
    Ok(match &args.session {
        Some(id) => match store::find_session(claude_dir, git.root(), id)? {
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
        None => crate::store::belongs::newest_of_branch(before, branch).cloned(),
    })
}

/// Runs `claude --resume <id>` (or a new `claude`) in the folder where it finds the session.
fn run_claude_on(
    ctx: &Context,
    args: &ResumeArgs,
    (claude, json): (&Path, bool),
    claude_dir: &Path,
    chosen: Option<&LocalSession>,
    branch: &str,
) -> anyhow::Result<i32> {
    let ui = ctx.ui;
    let cwd = ctx.current_dir()?;
    let mut claude_args: Vec<OsString> = Vec::new();
    let folder = match chosen {
        Some(session) => {
            claude_args.push("--resume".into());
            claude_args.push(session.id.clone().into());
            let folder = folder_for(claude_dir, session, &cwd, ui);
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
    crate::claude_cli::run_attached(claude, &claude_args, &folder, json)
}

/// The push of `release-push` for session `id` (nothing when Claude recorded none).
fn push_after(
    ctx: &Context,
    git: &GitRepo,
    branch: &str,
    id: Option<&str>,
    code: i32,
) -> anyhow::Result<Vec<PushOutcome>> {
    let Some(id) = id else {
        ctx.ui
            .info("Claude Code recorded no session, so there is nothing to push");
        return Ok(Vec::new());
    };
    let push_args = PushArgs {
        branch: Some(branch.to_owned()),
        session: Some(id.to_owned()),
        since: None,
        dry_run: false,
        force: false,
        keep: 10,
        secrets: SecretsMode::Redact,
        allow_plaintext: false,
        from_hook: false,
    };
    push::push_sessions(ctx, &push_args, git, branch).with_context(|| {
        format!(
            "Claude exited with code {code}, but session {id} was not pushed; push it with `ccsync release-push --session {id}`"
        )
    })
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

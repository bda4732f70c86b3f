//! Push, step 1: find the local sessions to push, and the files each carries (the transcript,
//! side data, project memory and the session's state elsewhere), complete records only.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{Duration, Utc};

use crate::actions;
use crate::bundle::pack;
use crate::cli::PushArgs;
use crate::config::Context;
use crate::exit::Exit;
use crate::git::GitRepo;
use crate::store::{self, LocalSession};

/// What a push packs: the entries and where each is read from.
#[derive(Clone, Copy)]
pub(super) struct Contents<'a> {
    pub entries: &'a [PathBuf],
    pub sources: &'a pack::Sources,
}

/// `--session`, else `$SESSION_ID` in Actions, else `--since` days of the branch, else the newest
/// session of the branch (in Actions: of the workspace, whatever branch it recorded, because CI
/// checkouts are often a detached HEAD recorded as `HEAD`).
pub(super) fn choose_sessions(
    ctx: &Context,
    args: &PushArgs,
    branch: &str,
    sessions: &[LocalSession],
    claude_dir: &Path,
    git: &GitRepo,
) -> anyhow::Result<Vec<LocalSession>> {
    let explicit = args.session.clone().or_else(|| {
        ctx.ui
            .in_actions
            .then(|| actions::env_nonempty("SESSION_ID"))
            .flatten()
    });
    if let Some(id) = explicit {
        if !store::scan::is_session_id(&id) {
            return Err(Exit::usage(format!(
                "`{id}` is not a session id: session ids are uuids such as 4d5611e5-241a-462a-8d15-5122611a9569 (see `ccsync sessions`)"
            ))
            .into());
        }
        return match store::find_session(claude_dir, git.root(), &id)? {
            Some(session) => Ok(vec![session]),
            None => Err(Exit::nothing_found(format!(
                "no local session {id} in this repository's Claude folders under {}: `ccsync sessions` lists the sessions there",
                store::projects_dir(claude_dir).display()
            ))
            .into()),
        };
    }
    let any_branch = ctx.ui.in_actions;
    let of_branch = |s: &&LocalSession| any_branch || s.branch.as_deref() == Some(branch);
    let chosen: Vec<LocalSession> = match args.since {
        Some(days) => {
            let since = Utc::now() - Duration::days(i64::from(days));
            sessions
                .iter()
                .filter(of_branch)
                .filter(|s| s.last_activity.is_some_and(|t| t >= since))
                .cloned()
                .collect()
        }
        None => sessions
            .iter()
            .find(of_branch)
            .cloned()
            .into_iter()
            .collect(),
    };
    if chosen.is_empty() {
        return Err(nothing_to_push(args, branch, sessions, claude_dir));
    }
    Ok(chosen)
}

/// No session of the branch to push: says what the repository holds instead.
fn nothing_to_push(
    args: &PushArgs,
    branch: &str,
    sessions: &[LocalSession],
    claude_dir: &Path,
) -> anyhow::Error {
    let on_branch = sessions
        .iter()
        .filter(|s| s.branch.as_deref() == Some(branch))
        .count() as u64;
    let elsewhere = sessions.len() as u64 - on_branch;
    let hint = if sessions.is_empty() {
        format!(
            "this repository has no Claude Code sessions under {} (start `claude` in the repository first)",
            store::projects_dir(claude_dir).display()
        )
    } else {
        let mut parts = Vec::new();
        if on_branch > 0 {
            parts.push(format!(
                "{} of branch `{branch}` {} older",
                crate::ui::count(on_branch, "session"),
                if on_branch == 1 { "is" } else { "are" }
            ));
        }
        if elsewhere > 0 {
            parts.push(format!(
                "{} of this repository {} on other branches",
                crate::ui::count(elsewhere, "session"),
                if elsewhere == 1 { "is" } else { "are" }
            ));
        }
        format!(
            "{}: `ccsync sessions` lists them, `--session ID` pushes one",
            parts.join("; ")
        )
    };
    let when = args
        .since
        .map(|d| format!(" active in the last {d} days"))
        .unwrap_or_default();
    Exit::nothing_found(format!(
        "no session of branch `{branch}`{when} to push: {hint}"
    ))
    .into()
}

/// The files a push of `session` carries, and where each is read from: the transcript, its side
/// files, the project's memory (it travels with every session of the folder: crate::memory) and
/// the session's state outside the project folder (store::state: tasks, file history, plans and
/// background outputs). The folder returned holds copies made for the push (links, and `.jsonl`
/// files up to their last complete record): keep it until the push ends.
pub(super) fn files_to_carry(
    claude_dir: &Path,
    session: &LocalSession,
) -> anyhow::Result<(Vec<PathBuf>, pack::Sources, tempfile::TempDir)> {
    let mut entries = vec![PathBuf::from(format!("{}.jsonl", session.id))];
    entries.extend(store::side_files(session)?);
    entries.extend(crate::memory::files(&session.project_dir)?);
    let links = tempfile::tempdir().context("cannot create a temporary folder")?;
    let mut sources = pack::Sources::project(&session.project_dir);
    let roots = store::state::Roots::for_session(claude_dir, &session.project_dir, &session.id)?;
    sources.temp_root = Some(roots.temp_root.clone());
    for file in store::state::collect(&roots, &session.project_dir, &session.id, links.path())? {
        entries.push(file.rel.clone());
        sources.elsewhere.insert(file.rel, file.src);
    }
    complete_records_only(&entries, &mut sources, links.path())?;
    // What restore refuses must not be uploaded (DESIGN.md: restore's limits are checked at push).
    let most = crate::bundle::Limits::default().max_entries;
    if entries.len() as u64 > most {
        anyhow::bail!(
            "session {} has {} files to carry (transcript, side data, memory and state), more than the {most} \
             a restore accepts: nothing was uploaded. Remove what it no longer needs, such as old checkpoints in {}",
            session.id,
            entries.len(),
            claude_dir.join("file-history").join(&session.id).display()
        );
    }
    Ok((entries, sources, links))
}

/// Only complete records travel (DESIGN.md): a `.jsonl` entry (transcript, agent and subagent
/// files) whose last line has no newline yet is being written; it is packed up to its last
/// newline, from a copy in `scratch`, and the rest is left for the next push.
fn complete_records_only(
    entries: &[PathBuf],
    sources: &mut pack::Sources,
    scratch: &Path,
) -> anyhow::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    for (n, rel) in entries
        .iter()
        .filter(|r| r.extension().is_some_and(|e| e == "jsonl"))
        .enumerate()
    {
        let src = sources.path(rel);
        let mut file =
            std::fs::File::open(&src).with_context(|| format!("cannot read {}", src.display()))?;
        let len = file.metadata()?.len();
        let complete = crate::store::records::complete_lines_len(&file)
            .with_context(|| format!("cannot read {}", src.display()))?;
        if complete == len {
            continue;
        }
        let copy = scratch.join(format!("complete-{n}.jsonl"));
        file.seek(SeekFrom::Start(0))?;
        let mut out = std::fs::File::create(&copy)
            .with_context(|| format!("cannot create {}", copy.display()))?;
        std::io::copy(&mut file.take(complete), &mut out)
            .with_context(|| format!("cannot copy {}", src.display()))?;
        sources.elsewhere.insert(rel.clone(), copy);
    }
    Ok(())
}

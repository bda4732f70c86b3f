//! `ccsync status [--branch B | --all]`: where each local session of the branch stands against the
//! copy stored in its branch's release: `equal`, `local-ahead`, `remote-ahead`, `diverged` or
//! `not-stored`, by the uuid rule of [`crate::sync`]. The stored metadata decides when it can
//! (equal, local ahead); otherwise the stored copy is downloaded and compared record by record.
//! Nothing is written anywhere.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bundle::facts::read_facts;
use crate::cli::StatusArgs;
use crate::config::Context;
use crate::neutral::text;
use crate::release::GitHub;
use crate::store::LocalSession;
use crate::stored;
use crate::sync;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusJson {
    repository: String,
    /// The branch asked about; `null` with `--all`.
    branch: Option<String>,
    sessions: Vec<SessionStatus>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionStatus {
    session_id: String,
    /// The branch whose release is compared with (the session's recorded branch with `--all`).
    branch: String,
    /// `equal`, `local-ahead`, `remote-ahead`, `diverged` or `not-stored`.
    status: &'static str,
    last_activity: Option<String>,
    records: u64,
    stored_records: Option<u64>,
    stored_last_activity: Option<String>,
    release_url: Option<String>,
}

pub fn run(ctx: &Context, args: &StatusArgs) -> anyhow::Result<()> {
    let git = ctx.git_repo()?;
    let claude_dir = ctx.claude_dir()?;
    let sessions = ctx.repository_sessions(&claude_dir, git.root())?;
    let branch = match args.all {
        true => None,
        false => Some(ctx.branch(args.branch.as_deref(), Some(&git))?.required()?),
    };
    // Which release each session is compared with: its recorded branch's (`--all`), else the one
    // asked about. Sessions recorded on a detached HEAD have no branch release of their own.
    let mut by_branch: BTreeMap<String, Vec<&LocalSession>> = BTreeMap::new();
    for session in &sessions {
        let key = match &branch {
            Some(b) if session.branch.as_deref() == Some(b.as_str()) => b.clone(),
            Some(_) => continue,
            None => match session.branch.as_deref().filter(|b| *b != "HEAD") {
                Some(b) => b.to_owned(),
                None => continue,
            },
        };
        by_branch.entry(key).or_default().push(session);
    }
    let slug = ctx.github_repo(Some(&git))?;
    let mut out = StatusJson {
        repository: slug.to_string(),
        branch: branch.clone(),
        sessions: Vec::new(),
    };
    if !by_branch.is_empty() {
        let gh = GitHub::new(ctx.api_url()?, slug, ctx.token()?)?;
        let rt = crate::release::runtime()?;
        // The same passphrase rules as restore (CCSYNC_PASSPHRASE, else CCSYNC_PASSPHRASE_FILE).
        let passphrase = crate::passphrase::from_env("compare")?;
        for (branch, locals) in &by_branch {
            let statuses = branch_status(ctx, &rt, &gh, branch, locals, passphrase.as_deref())?;
            out.sessions.extend(statuses);
        }
    }
    report(ctx, &out, branch.as_deref())
}

/// The status of each local session of `branch` against the branch's release.
fn branch_status(
    ctx: &Context,
    rt: &tokio::runtime::Runtime,
    gh: &GitHub,
    branch: &str,
    locals: &[&LocalSession],
    passphrase: Option<&str>,
) -> anyhow::Result<Vec<SessionStatus>> {
    let scratch = tempfile::tempdir()?;
    let release = rt.block_on(gh.session_release(branch))?;
    let read = match &release {
        Some(release) => Some(stored::read_release(
            rt,
            gh,
            release,
            scratch.path(),
            &|m| ctx.ui.warn(m),
            None,
        )?),
        None => None,
    };
    let (stored, damaged) = match read {
        Some(read) => (read.sessions, read.damaged),
        None => (Vec::new(), Vec::new()),
    };
    let mut out = Vec::new();
    for local in locals {
        let copy = stored.iter().find(|s| s.meta.session_id == local.id);
        // A damaged stored copy is not "not stored": pushing over it needs --force.
        if let (None, Some(release)) = (copy, &release) {
            if let Some(bad) = damaged.iter().find(|d| d.meta.session_id == local.id) {
                return Err(stored::damaged_error(
                    release,
                    bad,
                    "Its status cannot be told.",
                ));
            }
        }
        let facts = read_facts(&local.path, copy.map(|s| s.meta.uuid_count))?;
        let relation = match copy {
            None => None,
            Some(copy) => Some(stored::beside::relation_to_stored(
                rt,
                gh,
                &facts,
                copy,
                scratch.path(),
                passphrase,
                || (),
            )?),
        };
        out.push(SessionStatus {
            session_id: local.id.clone(),
            branch: branch.to_owned(),
            status: match relation {
                None => "not-stored",
                some => sync::relation_label(some),
            },
            last_activity: local
                .last_activity
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            records: facts.records,
            stored_records: copy.map(|s| s.meta.records),
            stored_last_activity: copy.and_then(|s| s.meta.last_timestamp.clone()),
            release_url: copy.and(release.as_ref()).map(|r| r.html_url.clone()),
        });
    }
    Ok(out)
}

fn report(ctx: &Context, out: &StatusJson, branch: Option<&str>) -> anyhow::Result<()> {
    if ctx.ui.json {
        return ctx.ui.print_json(out);
    }
    if out.sessions.is_empty() {
        ctx.ui.info(&match branch {
            Some(b) => format!(
                "no local session of branch `{}` (`ccsync sessions` lists the sessions there are)",
                text(b)
            ),
            None => {
                "no local session recorded on a branch (`ccsync sessions` lists them)".to_owned()
            }
        });
        return Ok(());
    }
    let width = out
        .sessions
        .iter()
        .map(|s| s.status.len())
        .max()
        .unwrap_or(0);
    for s in &out.sessions {
        println!(
            "{:width$}  {}  {}  {}",
            s.status,
            s.session_id,
            text(&s.branch),
            s.last_activity.as_deref().unwrap_or("-"),
        );
    }
    if out.sessions.iter().any(|s| s.status == "remote-ahead") {
        ctx.ui.info(
            "remote-ahead: `ccsync release-restore --session ID` brings the stored copy here",
        );
    }
    if out
        .sessions
        .iter()
        .any(|s| matches!(s.status, "local-ahead" | "not-stored"))
    {
        ctx.ui.info(
            "local-ahead, not-stored: `ccsync release-push --session ID` stores the local copy",
        );
    }
    if out.sessions.iter().any(|s| s.status == "diverged") {
        ctx.ui.info("diverged: both copies hold records the other lacks; `ccsync release-restore --force` keeps a backup of the local one");
    }
    Ok(())
}

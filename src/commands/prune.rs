//! `ccsync release-prune`: deletes the session releases of branches that are gone from GitHub
//! (`--gone`) and those whose newest session is older than `--older-than DAYS`; either reason is
//! enough when both are given.
//!
//! Only ccsync's own releases are ever candidates: a draft whose tag starts with
//! `claude-sessions-` AND whose body carries ccsync's marker. Published releases are never
//! touched, whatever their tag.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::cli::PruneArgs;
use crate::config::Context;
use crate::exit::Exit;
use crate::release::{names, GitHub, SessionRelease};
use crate::stored;

/// A release and what prune decided about it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Decision {
    tag: String,
    branch: String,
    release_id: u64,
    release_url: String,
    sessions: usize,
    /// Last activity of the newest stored session (else the release's creation time).
    newest_activity: Option<String>,
    /// Why it goes (`gone`, `older-than`), or why it stays (`branch-exists`, `recent`,
    /// `published`, `no-marker`).
    reasons: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PruneJson {
    repository: String,
    dry_run: bool,
    /// Deleted (or, with `--dry-run`, to be deleted).
    deleted: Vec<Decision>,
    /// ccsync's releases that stay.
    kept: Vec<Decision>,
    /// Releases with the session prefix that are not ccsync's: never touched.
    foreign: Vec<Decision>,
}

/// What `release-prune --session` removed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RemovedSession {
    repository: String,
    dry_run: bool,
    session_id: String,
    branch: String,
    tag: String,
    release_url: String,
    /// The assets deleted (or, with `--dry-run`, to be deleted).
    assets: Vec<String>,
}

/// `--session ID`: deletes every asset of one session (metadata first, so no reader meets
/// metadata whose archive is gone) from whichever branch's draft holds it, and its row of the
/// release body. The release itself stays.
fn remove_session(ctx: &Context, args: &PruneArgs, id: &str) -> anyhow::Result<()> {
    let super::Holders {
        slug,
        gh,
        rt,
        releases,
    } = super::releases_holding(ctx, id)?;
    let Some(release) = releases.first() else {
        return Err(Exit::nothing_found(format!(
            "no branch's release holds session {id} (`ccsync release-list` lists what is stored)"
        ))
        .into());
    };
    let branch = release.branch().map(|b| b.into_owned()).unwrap_or_default();
    let assets = release.session_assets(id);
    let what = format!(
        "release-prune will remove session {id} from the release of branch `{}`:\n{}",
        crate::neutral::text(&branch),
        assets
            .iter()
            .map(|(a, _)| format!("  {}", crate::neutral::text(&a.name)))
            .collect::<Vec<_>>()
            .join("\n")
    );
    if !args.dry_run && !confirmed(args, &what)? {
        anyhow::bail!("nothing was deleted: not confirmed");
    }
    if !args.dry_run {
        for (asset, _) in &assets {
            rt.block_on(gh.delete_asset(asset))?;
        }
        let present: Vec<String> = crate::catalog::session_ids(release)
            .into_iter()
            .filter(|s| s != id)
            .collect();
        if let Some(body) = crate::catalog::drop_rows(release.body.as_deref(), &present) {
            rt.block_on(gh.set_body(release, &body))?;
        }
    }
    ctx.ui.info(&format!(
        "{} session {id} from the release of branch `{}` ({} asset(s))",
        if args.dry_run {
            "dry run: would remove"
        } else {
            "removed"
        },
        crate::neutral::text(&branch),
        assets.len()
    ));
    if ctx.ui.json {
        ctx.ui.print_json(&RemovedSession {
            repository: slug.to_string(),
            dry_run: args.dry_run,
            session_id: id.to_owned(),
            branch,
            tag: release.tag_name.clone(),
            release_url: release.html_url.clone(),
            assets: assets.iter().map(|(a, _)| a.name.clone()).collect(),
        })?;
    }
    Ok(())
}

pub fn run(ctx: &Context, args: &PruneArgs) -> anyhow::Result<()> {
    if let Some(id) = &args.session {
        return remove_session(ctx, args, id);
    }
    if !args.gone && args.older_than.is_none() {
        return Err(Exit::usage(
            "say what to prune: --session ID (one stored session), --gone (releases of branches deleted \
             on GitHub), --older-than DAYS (releases whose newest session is older), or both; add \
             --dry-run to see the list first",
        )
        .into());
    }
    let git = ctx.git_repo().ok();
    let slug = ctx.github_repo(git.as_ref())?;
    let gh = GitHub::new(ctx.api_url()?, slug.clone(), ctx.token()?)?;
    let rt = super::runtime()?;
    let limit = args
        .older_than
        .map(|days| Utc::now() - Duration::days(i64::from(days)));
    let releases = rt.block_on(gh.list_session_releases())?;
    let scratch = tempfile::tempdir()?;

    let mut out = PruneJson {
        repository: slug.to_string(),
        dry_run: args.dry_run,
        deleted: Vec::new(),
        kept: Vec::new(),
        foreign: Vec::new(),
    };
    // One lookup per branch, even when duplicate drafts share its tag.
    let mut branch_exists: std::collections::HashMap<String, bool> = Default::default();
    for release in &releases {
        let Some(branch) = release.branch() else {
            continue;
        };
        let branch = branch.as_ref();
        let mut decision = Decision {
            tag: release.tag_name.clone(),
            branch: branch.to_owned(),
            release_id: release.id,
            release_url: release.html_url.clone(),
            sessions: 0,
            newest_activity: None,
            reasons: Vec::new(),
        };
        if let Some(why) = foreign_reason(release) {
            decision.reasons.push(why);
            ctx.ui.detail(&format!(
                "leaving release `{}` alone: {}",
                crate::neutral::text(&release.tag_name),
                if why == "published" {
                    "it is published (ccsync's releases are drafts)"
                } else {
                    "its description lacks ccsync's marker"
                }
            ));
            out.foreign.push(decision);
            continue;
        }
        let sessions =
            stored::stored_sessions(&rt, &gh, release, scratch.path(), &|m| ctx.ui.warn(m))?;
        decision.sessions = sessions.len();
        decision.newest_activity = sessions
            .first()
            .map(|s| s.activity_key())
            .or_else(|| release.created_at.clone());

        // A fork's branch lives in the fork, which this repository's API cannot see: kept
        // (`--older-than` removes it).
        if args.gone && names::is_fork_key(branch) {
            decision.reasons.push("fork-branch");
        } else if args.gone {
            let exists = match branch_exists.get(branch) {
                Some(&known) => known,
                None => {
                    let known = rt.block_on(gh.branch_exists(branch))?;
                    branch_exists.insert(branch.to_owned(), known);
                    known
                }
            };
            decision
                .reasons
                .push(if exists { "branch-exists" } else { "gone" });
        }
        if let Some(limit) = limit {
            let newest = decision.newest_activity.as_deref().and_then(parse_time);
            // A release with no readable date is left alone: age unknown is not old.
            let old = newest.is_some_and(|t| t < limit);
            decision
                .reasons
                .push(if old { "older-than" } else { "recent" });
        }
        if decision
            .reasons
            .iter()
            .any(|r| matches!(*r, "gone" | "older-than"))
        {
            out.deleted.push(decision);
        } else {
            out.kept.push(decision);
        }
    }

    if !args.dry_run && !out.deleted.is_empty() {
        let list: Vec<String> = out
            .deleted
            .iter()
            .map(|d| {
                format!(
                    "  {} ({} session(s)): {}",
                    crate::neutral::text(&d.tag),
                    d.sessions,
                    describe(d, args.older_than)
                )
            })
            .collect();
        if !confirmed(
            args,
            &format!(
                "release-prune will delete {} release(s) of {slug}:\n{}",
                out.deleted.len(),
                list.join("\n")
            ),
        )? {
            anyhow::bail!("nothing was deleted: not confirmed");
        }
    }
    for decision in &out.deleted {
        let why = describe(decision, args.older_than);
        if args.dry_run {
            ctx.ui.info(&format!(
                "would delete `{}` ({} session(s)): {why}",
                decision.tag, decision.sessions
            ));
            continue;
        }
        let release = releases
            .iter()
            .find(|r| r.id == decision.release_id)
            .expect("decided from this list");
        rt.block_on(gh.delete_release(release))?;
        ctx.ui.info(&format!(
            "deleted `{}` ({} session(s)): {why}",
            decision.tag, decision.sessions
        ));
    }
    if out.deleted.is_empty() {
        ctx.ui.info(&format!(
            "nothing to prune in {slug}: {} session release(s) kept",
            out.kept.len()
        ));
    } else if args.dry_run {
        ctx.ui.info("dry run: nothing was deleted");
    }
    if ctx.ui.json {
        ctx.ui.print_json(&out)?;
    }
    Ok(())
}

/// Why a release with the session prefix is not ccsync's, if it is not.
fn foreign_reason(release: &SessionRelease) -> Option<&'static str> {
    if !release.draft {
        return Some("published");
    }
    if !release
        .body
        .as_deref()
        .is_some_and(|b| b.contains(names::BODY_MARKER))
    {
        return Some("no-marker");
    }
    None
}

fn describe(decision: &Decision, days: Option<u32>) -> String {
    let mut why = Vec::new();
    if decision.reasons.contains(&"gone") {
        why.push(format!(
            "branch `{}` no longer exists on GitHub",
            decision.branch
        ));
    }
    if decision.reasons.contains(&"older-than") {
        why.push(format!(
            "newest activity {} is more than {} days ago",
            decision.newest_activity.as_deref().unwrap_or("unknown"),
            days.unwrap_or_default()
        ));
    }
    why.join("; ")
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// On a terminal (stdin and stderr), shows `what` and asks; `--yes`, or no terminal (scripts,
/// CI), goes ahead as before.
fn confirmed(args: &PruneArgs, what: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if args.yes || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(true);
    }
    let mut err = std::io::stderr();
    write!(err, "{what}\nDelete? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

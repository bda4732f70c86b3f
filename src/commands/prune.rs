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
    /// The first copy's branch, tag, release and assets (as before several copies were removed).
    branch: String,
    tag: String,
    release_url: String,
    assets: Vec<String>,
    /// Every copy removed (with `--dry-run`: to be removed), one per draft that held one.
    copies: Vec<SessionCopy>,
    /// Copies that could not be removed, with why (the command then exits 1).
    not_removed: Vec<NotRemoved>,
    /// Whether every branch's release was searched (else only those of `--branch`, the local
    /// session's branch and the current branch, in a repository of more than 100 releases).
    searched_all_branches: bool,
}

/// One draft's copy of a session.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionCopy {
    branch: String,
    tag: String,
    release_id: u64,
    release_url: String,
    /// The assets deleted (or, with `--dry-run`, to be deleted), metadata first.
    assets: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NotRemoved {
    branch: String,
    tag: String,
    release_id: u64,
    release_url: String,
    error: String,
}

/// `--session ID`: deletes every copy of one session (every asset, metadata first so no reader
/// meets metadata whose archive is gone) from every draft that holds one (other branches' releases
/// and duplicate drafts too; `--branch` limits it to one branch's), and its row of each release
/// body. The releases themselves stay. A copy that cannot be removed is named and the others are
/// still removed.
fn remove_session(ctx: &Context, args: &PruneArgs, id: &str) -> anyhow::Result<()> {
    let holders = crate::transfer::holders::releases_holding(ctx, id, args.branch.as_deref())?;
    let id = holders.id.as_str();
    let (gh, rt) = (&holders.gh, &holders.rt);
    if holders.drafts.is_empty() {
        let message = match &args.branch {
            Some(b) => format!(
                "the release of branch `{}` does not hold session {id} (`ccsync release-list` lists what is stored)",
                crate::neutral::text(b)
            ),
            None => format!(
                "no branch's release holds session {id} (`ccsync release-list` lists what is stored)"
            ),
        };
        return Err(Exit::nothing_found(message).into());
    }
    let copies: Vec<SessionCopy> = holders
        .drafts
        .iter()
        .map(|r| SessionCopy {
            branch: r.branch().map(|b| b.into_owned()).unwrap_or_default(),
            tag: r.tag_name.clone(),
            release_id: r.id,
            release_url: r.html_url.clone(),
            assets: r
                .session_assets(id)
                .iter()
                .map(|(a, _)| a.name.clone())
                .collect(),
        })
        .collect();
    let what = format!(
        "release-prune will remove session {id} from {}:\n{}",
        crate::ui::count(copies.len() as u64, "release"),
        copies
            .iter()
            .map(|c| format!(
                "  `{}` (release {}): {}",
                crate::neutral::text(&c.tag),
                c.release_id,
                c.assets
                    .iter()
                    .map(|a| crate::neutral::text(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    if !args.dry_run && !confirmed(args, &what)? {
        ctx.ui.info("nothing deleted");
        return Ok(());
    }
    let mut not_removed = Vec::new();
    for (release, copy) in holders.drafts.iter().zip(&copies) {
        if !args.dry_run {
            if let Err(e) = remove_copy(gh, rt, release, id) {
                not_removed.push(NotRemoved {
                    branch: copy.branch.clone(),
                    tag: copy.tag.clone(),
                    release_id: copy.release_id,
                    release_url: copy.release_url.clone(),
                    error: format!("{e:#}"),
                });
                continue;
            }
        }
        ctx.ui.info(&format!(
            "{} session {id} from the release of branch `{}` (release {}, {})",
            if args.dry_run {
                "dry run: would remove"
            } else {
                "removed"
            },
            crate::neutral::text(&copy.branch),
            copy.release_id,
            crate::ui::count(copy.assets.len() as u64, "asset")
        ));
    }
    if !holders.searched_all {
        ctx.ui.info(
            "other branches' releases were not searched (the repository holds more than 100 releases): \
             pass --branch B to remove a copy stored in branch B's release",
        );
    }
    let first = &copies[0];
    let out = RemovedSession {
        repository: holders.slug.to_string(),
        dry_run: args.dry_run,
        session_id: id.to_owned(),
        branch: first.branch.clone(),
        tag: first.tag.clone(),
        release_url: first.release_url.clone(),
        assets: first.assets.clone(),
        searched_all_branches: holders.searched_all,
        copies: copies
            .into_iter()
            .filter(|c| !not_removed.iter().any(|n| n.release_id == c.release_id))
            .collect(),
        not_removed,
    };
    if ctx.ui.json {
        ctx.ui.print_json(&out)?;
    }
    if !out.not_removed.is_empty() {
        anyhow::bail!(
            "{} of session {id} could not be removed: {}; run the command again to retry",
            crate::ui::count(out.not_removed.len() as u64, "copy"),
            out.not_removed
                .iter()
                .map(|n| format!(
                    "`{}` (release {}): {}",
                    crate::neutral::text(&n.tag),
                    n.release_id,
                    n.error
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(())
}

/// Deletes one draft's assets of session `id`, then its row of the draft's body (a body that is
/// not ccsync's is never rewritten).
fn remove_copy(
    gh: &GitHub,
    rt: &tokio::runtime::Runtime,
    release: &SessionRelease,
    id: &str,
) -> anyhow::Result<()> {
    for (asset, _) in release.session_assets(id) {
        rt.block_on(gh.delete_asset(asset))?;
    }
    let present: Vec<String> = crate::catalog::session_ids(release)
        .into_iter()
        .filter(|s| s != id)
        .collect();
    if let Some(body) = crate::catalog::drop_rows(release.body.as_deref(), &present) {
        rt.block_on(gh.set_body(release, &body))?;
    }
    Ok(())
}

pub fn run(ctx: &Context, args: &PruneArgs) -> anyhow::Result<()> {
    if let Some(id) = &args.session {
        check_can_confirm(args)?;
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
    check_can_confirm(args)?;
    let git = ctx.git_repo().ok();
    let slug = ctx.github_repo(git.as_ref())?;
    let gh = GitHub::new(ctx.api_url()?, slug.clone(), ctx.token()?)?;
    let rt = crate::release::runtime()?;
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
        let cache = stored::MetaCache::default();
        let sessions = stored::stored_sessions_of(
            &rt,
            &gh,
            release,
            scratch.path(),
            &|m| ctx.ui.warn(m),
            None,
            &cache,
        )?;
        // A damaged copy is still a session (its metadata reads): never "0 sessions" dated by
        // the release's creation.
        let damaged = stored::damaged_sessions(release, &cache, None);
        decision.sessions = sessions.len() + damaged.len();
        decision.newest_activity = sessions
            .iter()
            .map(|s| s.activity_key())
            .chain(damaged.iter().filter_map(|d| d.meta.last_timestamp.clone()))
            .max()
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
            // The user chose: a refusal is an outcome, not a failure.
            ctx.ui.info("nothing deleted");
            out.kept.append(&mut out.deleted);
            if ctx.ui.json {
                ctx.ui.print_json(&out)?;
            }
            return Ok(());
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

/// Whether prune can ask before deleting: stdin and stderr are a terminal.
fn can_ask() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Without a terminal to ask on, deleting needs `--yes` (as `gh` requires it): a script that
/// forgot it gets a usage error before any request, never a silent deletion.
fn check_can_confirm(args: &PruneArgs) -> anyhow::Result<()> {
    if args.yes || args.dry_run || can_ask() {
        return Ok(());
    }
    Err(Exit::usage(
        "release-prune deletes only what you confirm, and there is no terminal to ask on: pass --yes \
         to delete without asking (add --dry-run first to see what would go)",
    )
    .into())
}

/// Shows `what` and asks, unless `--yes` (checked by [`check_can_confirm`] before any request).
fn confirmed(args: &PruneArgs, what: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    if args.yes || !can_ask() {
        return Ok(args.yes);
    }
    let mut err = std::io::stderr();
    write!(err, "{what}\nDelete? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

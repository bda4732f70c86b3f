//! `ccsync release-prune`: deletes the session releases of branches that are gone from GitHub
//! (`--gone`) and those whose newest session is older than `--older-than DAYS` (either reason is
//! enough when both are given), or every copy of one session (`--session`). What goes is decided
//! in [`crate::stored::prune`]; this page asks before deleting and reports.

use serde::Serialize;

use crate::cli::PruneArgs;
use crate::config::Context;
use crate::exit::Exit;
use crate::release::GitHub;
use crate::stored::prune::{self, Decision, Rules, SessionCopy};
use crate::transfer::holders::Holders;

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
        .map(|r| SessionCopy::of(r, id))
        .collect();
    if !args.dry_run && !confirmed(args, &removal_text(id, &copies))? {
        ctx.ui.info("nothing deleted");
        return Ok(());
    }
    let not_removed = remove_copies(ctx, args, &holders, &copies);
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
        return Err(not_removed_error(id, &out.not_removed));
    }
    Ok(())
}

/// What `--session` removes, to confirm.
fn removal_text(id: &str, copies: &[SessionCopy]) -> String {
    format!(
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
    )
}

/// Removes each copy (unless `--dry-run`), saying so; the copies that could not be removed, with
/// why.
fn remove_copies(
    ctx: &Context,
    args: &PruneArgs,
    holders: &Holders,
    copies: &[SessionCopy],
) -> Vec<NotRemoved> {
    let id = holders.id.as_str();
    let mut not_removed = Vec::new();
    for (release, copy) in holders.drafts.iter().zip(copies) {
        if !args.dry_run {
            if let Err(e) = prune::remove_copy(&holders.gh, &holders.rt, release, id) {
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
    not_removed
}

/// Copies that could not be removed: exit 1, naming each, to run again.
fn not_removed_error(id: &str, not_removed: &[NotRemoved]) -> anyhow::Error {
    anyhow::anyhow!(
        "{} of session {id} could not be removed: {}; run the command again to retry",
        crate::ui::count(not_removed.len() as u64, "copy"),
        not_removed
            .iter()
            .map(|n| format!(
                "`{}` (release {}): {}",
                crate::neutral::text(&n.tag),
                n.release_id,
                n.error
            ))
            .collect::<Vec<_>>()
            .join("; ")
    )
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
    let releases = rt.block_on(gh.list_session_releases())?;
    let rules = Rules {
        gone: args.gone,
        older_than: args.older_than,
    };
    let plan = prune::plan(&rt, &gh, &releases, &rules, &|m| ctx.ui.warn(m), &|m| {
        ctx.ui.detail(m)
    })?;
    let mut out = PruneJson {
        repository: slug.to_string(),
        dry_run: args.dry_run,
        deleted: plan.deleted,
        kept: plan.kept,
        foreign: plan.foreign,
    };
    if !args.dry_run && !out.deleted.is_empty() && !confirm_deletions(args, &out)? {
        // The user chose: a refusal is an outcome, not a failure.
        ctx.ui.info("nothing deleted");
        out.kept.append(&mut out.deleted);
        if ctx.ui.json {
            ctx.ui.print_json(&out)?;
        }
        return Ok(());
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
        prune::delete(&rt, &gh, &releases, decision)?;
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

/// Lists the releases to delete and asks (unless `--yes`).
fn confirm_deletions(args: &PruneArgs, out: &PruneJson) -> anyhow::Result<bool> {
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
    confirmed(
        args,
        &format!(
            "release-prune will delete {} release(s) of {}:\n{}",
            out.deleted.len(),
            out.repository,
            list.join("\n")
        ),
    )
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

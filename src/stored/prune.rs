//! What `release-prune` removes, and the removing: session releases of branches gone from GitHub
//! or whose newest session is older than a limit (judged from the verified metadata, a damaged
//! copy counting as a session), and every copy of one session.
//!
//! Only ccsync's own releases are ever candidates: a draft whose tag starts with
//! `claude-sessions-` AND whose body carries ccsync's marker. Published releases are never
//! touched, whatever their tag.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::release::{names, GitHub, SessionRelease};

/// A release and what prune decided about it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub tag: String,
    pub branch: String,
    pub release_id: u64,
    pub release_url: String,
    pub sessions: usize,
    /// Last activity of the newest stored session (else the release's creation time).
    pub newest_activity: Option<String>,
    /// Why it goes (`gone`, `older-than`), or why it stays (`branch-exists`, `recent`,
    /// `unknown-age`, `published`, `no-marker`).
    pub reasons: Vec<&'static str>,
}

impl Decision {
    /// Whether the release goes.
    pub fn deletes(&self) -> bool {
        self.reasons
            .iter()
            .any(|r| matches!(*r, "gone" | "older-than"))
    }
}

/// Which releases go: those of branches gone from GitHub (`gone`), and those whose newest session
/// is older than `older_than` days; either reason is enough when both are given.
pub struct Rules {
    pub gone: bool,
    pub older_than: Option<u32>,
}

/// Every session release judged: what goes, what stays, and what is not ccsync's.
#[derive(Default)]
pub struct Plan {
    pub deleted: Vec<Decision>,
    pub kept: Vec<Decision>,
    pub foreign: Vec<Decision>,
}

/// Judges each of `releases` by `rules`. `warn` hears what cannot be read, `detail` why a
/// release is left alone.
pub fn plan(
    rt: &Runtime,
    gh: &GitHub,
    releases: &[SessionRelease],
    rules: &Rules,
    warn: &dyn Fn(&str),
    detail: &dyn Fn(&str),
) -> anyhow::Result<Plan> {
    let limit = rules
        .older_than
        .map(|days| Utc::now() - Duration::days(i64::from(days)));
    let scratch = tempfile::tempdir()?;
    let mut plan = Plan::default();
    // One lookup per branch, even when duplicate drafts share its tag.
    let mut branch_exists: HashMap<String, bool> = HashMap::new();
    for release in releases {
        let Some(branch) = release.branch() else {
            continue;
        };
        let mut decision = Decision {
            tag: release.tag_name.clone(),
            branch: branch.into_owned(),
            release_id: release.id,
            release_url: release.html_url.clone(),
            sessions: 0,
            newest_activity: None,
            reasons: Vec::new(),
        };
        if let Some(why) = foreign_reason(release) {
            decision.reasons.push(why);
            detail(&format!(
                "leaving release `{}` alone: {}",
                crate::neutral::text(&release.tag_name),
                if why == "published" {
                    "it is published (ccsync's releases are drafts)"
                } else {
                    "its description lacks ccsync's marker"
                }
            ));
            plan.foreign.push(decision);
            continue;
        }
        let undated = date(rt, gh, release, &mut decision, scratch.path(), warn)?;
        if rules.gone {
            let exists = |b: &str| match branch_exists.get(b) {
                Some(&known) => Ok(known),
                None => rt.block_on(gh.branch_exists(b)).inspect(|known| {
                    branch_exists.insert(b.to_owned(), *known);
                }),
            };
            decision
                .reasons
                .push(gone_reason(&decision.branch, exists)?);
        }
        if let Some(limit) = limit {
            let reason = age_reason(release, &decision, limit, undated.as_deref(), warn);
            decision.reasons.push(reason);
        }
        match decision.deletes() {
            true => plan.deleted.push(decision),
            false => plan.kept.push(decision),
        }
    }
    Ok(plan)
}

/// `older-than` or `recent` by the newest activity; `unknown-age` (said through `warn`) when the
/// release holds a session nothing dates.
fn age_reason(
    release: &SessionRelease,
    decision: &Decision,
    limit: DateTime<Utc>,
    undated: Option<&str>,
    warn: &dyn Fn(&str),
) -> &'static str {
    if let Some(id) = undated {
        warn(&format!(
            "keeping release `{}`: it holds an archive of session {id} that no metadata describes \
             (missing, invalid or made by a newer ccsync), so its age is unknown; \
             `ccsync release-prune --session {id}` removes it",
            crate::neutral::text(&release.tag_name)
        ));
        return "unknown-age";
    }
    let newest = decision.newest_activity.as_deref().and_then(parse_time);
    // A release with no readable date is left alone: age unknown is not old.
    match newest.is_some_and(|t| t < limit) {
        true => "older-than",
        false => "recent",
    }
}

/// The sessions of `release` and its newest activity. A damaged copy is still a session (its
/// metadata reads): never "0 sessions" dated by the release's creation. Returns a session nothing
/// dates (see [`undated_sessions`]), which keeps the release whatever its age.
fn date(
    rt: &Runtime,
    gh: &GitHub,
    release: &SessionRelease,
    decision: &mut Decision,
    scratch: &std::path::Path,
    warn: &dyn Fn(&str),
) -> anyhow::Result<Option<String>> {
    let cache = super::MetaCache::default();
    let sessions = super::stored_sessions_of(rt, gh, release, scratch, warn, None, &cache)?;
    let damaged = super::damaged_sessions(release, &cache, None);
    let undated = undated_sessions(release, &cache, &damaged);
    decision.sessions = sessions.len() + damaged.len() + undated.len();
    decision.newest_activity = sessions
        .iter()
        .map(|s| s.activity_key())
        .chain(damaged.iter().filter_map(|d| d.meta.last_timestamp.clone()))
        .max()
        .or_else(|| release.created_at.clone());
    Ok(undated.into_iter().next())
}

/// Sessions of `release` with an archive under the stable name and no copy, other than damaged
/// copies (dated by their metadata): the metadata is missing, does not parse, or is of a format
/// this ccsync does not know, so nothing tells how old they are. A push keeps such an archive
/// unless `--force` (it may hold records no other copy has); so does `--older-than`.
fn undated_sessions(
    release: &SessionRelease,
    cache: &super::MetaCache,
    damaged: &[super::Damaged],
) -> Vec<String> {
    let mut ids: Vec<&str> = release
        .assets
        .iter()
        .filter(|a| a.state == "uploaded")
        .filter_map(|a| match names::classify(&a.name) {
            Some((id, names::Role::StableArchive { .. })) => Some(id),
            _ => None,
        })
        .filter(|id| !damaged.iter().any(|d| d.meta.session_id == *id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter(|id| super::write::orphan_archive(release, id, cache).is_some())
        .map(str::to_owned)
        .collect()
}

/// `gone` when the branch no longer exists on GitHub. A fork's branch lives in the fork, which
/// this repository's API cannot see: kept (`--older-than` removes it).
fn gone_reason(
    branch: &str,
    mut exists: impl FnMut(&str) -> crate::release::Result<bool>,
) -> anyhow::Result<&'static str> {
    if names::is_fork_key(branch) {
        return Ok("fork-branch");
    }
    Ok(if exists(branch)? {
        "branch-exists"
    } else {
        "gone"
    })
}

/// Why a release with the session prefix is not ccsync's, if it is not.
fn foreign_reason(release: &SessionRelease) -> Option<&'static str> {
    if !release.draft {
        return Some("published");
    }
    if !release.body.as_deref().is_some_and(names::is_ours_body) {
        return Some("no-marker");
    }
    None
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Deletes the release `decision` names (one of `releases`).
pub fn delete(
    rt: &Runtime,
    gh: &GitHub,
    releases: &[SessionRelease],
    decision: &Decision,
) -> anyhow::Result<()> {
    let release = releases
        .iter()
        .find(|r| r.id == decision.release_id)
        .expect("decided from this list");
    rt.block_on(gh.delete_release(release))?;
    Ok(())
}

/// One draft's copy of a session.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionCopy {
    pub branch: String,
    pub tag: String,
    pub release_id: u64,
    pub release_url: String,
    /// The assets deleted (or, with `--dry-run`, to be deleted), metadata first.
    pub assets: Vec<String>,
}

impl SessionCopy {
    /// The copy of session `id` that `release` holds.
    pub fn of(release: &SessionRelease, id: &str) -> SessionCopy {
        SessionCopy {
            branch: release.branch().map(|b| b.into_owned()).unwrap_or_default(),
            tag: release.tag_name.clone(),
            release_id: release.id,
            release_url: release.html_url.clone(),
            assets: release
                .session_assets(id)
                .iter()
                .map(|(a, _)| a.name.clone())
                .collect(),
        }
    }
}

/// Deletes one draft's assets of session `id` (metadata first, so no reader meets metadata whose
/// archive is gone), then its row of the draft's body (a body that is not ccsync's is never
/// rewritten).
pub fn remove_copy(
    gh: &GitHub,
    rt: &Runtime,
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

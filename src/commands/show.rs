//! `ccsync release-show --session ID`: one stored session's metadata (records, last activity,
//! where and when it was pushed, commit, encryption, size), read from whichever branch's release
//! holds it, without downloading or installing its archive.

use serde::Serialize;

use crate::bundle::metadata::Encryption;
use crate::cli::ShowArgs;
use crate::config::Context;
use crate::exit::Exit;
use crate::neutral::text;
use crate::release::{GitHub, SessionRelease};
use crate::stored::{self, MetaCache, StoredSession};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    session_id: String,
    /// The branch whose release holds it.
    branch: String,
    release_url: String,
    records: u64,
    last_activity: Option<String>,
    pushed_at: String,
    /// As in `release-list --json`: `{ "host": …, "os": … }`.
    pushed_from: crate::bundle::metadata::PushedFrom,
    commit: Option<String>,
    /// `none` or `age-scrypt`.
    encryption: &'static str,
    archive_name: String,
    archive_size: u64,
    claude_version: Option<String>,
    cwd: String,
    /// Every branch whose release holds a complete copy of the session.
    stored_in: Vec<String>,
}

/// A stored session and the release that holds it, with the client that read them.
pub(super) struct Found {
    pub(super) gh: GitHub,
    pub(super) rt: tokio::runtime::Runtime,
    pub(super) release: SessionRelease,
    pub(super) stored: StoredSession,
    /// Every branch whose release holds a complete copy (the chosen one among them).
    pub(super) branches: Vec<String>,
}

/// Finds session `id` (or a unique start of one) in the release of `branch`, else in whichever
/// branch's release holds a complete copy, reading only metadata. When several branches' releases
/// hold it, the most advanced copy (most records, then newest activity) is taken and a warning
/// names them all, with `--branch` to choose.
pub(super) fn find_stored(ctx: &Context, id: &str, branch: Option<&str>) -> anyhow::Result<Found> {
    let crate::transfer::holders::Holders {
        gh, rt, drafts, id, ..
    } = crate::transfer::holders::releases_holding(ctx, id, branch)?;
    let scratch = tempfile::tempdir()?;
    // A release that could not be read is an error, never "not stored there".
    let mut copies: Vec<(SessionRelease, StoredSession)> = Vec::new();
    let mut damaged: Vec<(SessionRelease, stored::Damaged)> = Vec::new();
    for release in drafts {
        let cache = MetaCache::default();
        let stored = stored::stored_sessions_of(
            &rt,
            &gh,
            &release,
            scratch.path(),
            &|m| ctx.ui.warn(m),
            Some(&id),
            &cache,
        )?;
        match stored.into_iter().next() {
            // Duplicate drafts of one branch: the copy restore uses, by the protocol's rank.
            Some(stored) => match copies
                .iter()
                .position(|(r, _)| r.tag_name == release.tag_name)
            {
                Some(at) if stored.ranks_before(&copies[at].1) => copies[at] = (release, stored),
                Some(_) => {}
                None => copies.push((release, stored)),
            },
            None => {
                let bad = stored::damaged_sessions(&release, &cache, Some(&id));
                damaged.extend(bad.into_iter().map(|d| (release.clone(), d)));
            }
        }
    }
    // A damaged copy is bad data, never "not stored" (restore says the same).
    if let Some((release, bad)) = damaged.first() {
        if copies.is_empty() {
            return Err(stored::damaged_error(release, bad, "Nothing was read."));
        }
        ctx.ui.warn(&format!(
            "{:#}",
            stored::damaged_error(release, bad, "This copy is not used.")
        ));
    }
    let mut branches: Vec<String> = copies
        .iter()
        .filter_map(|(r, _)| r.branch().map(|b| b.into_owned()))
        .collect();
    branches.sort();
    branches.dedup();
    copies.sort_by_key(|(_, s)| (s.meta.records, s.activity_key()));
    let Some((release, stored)) = copies.pop() else {
        let where_ = match branch {
            Some(b) => format!("the release of branch `{}` holds no", text(b)),
            None => "no branch's release holds a".to_owned(),
        };
        return Err(Exit::nothing_found(format!(
            "{where_} complete copy of session {id} (`ccsync release-list` lists what is stored)"
        ))
        .into());
    };
    if branches.len() > 1 {
        ctx.ui.warn(&format!(
            "session {id} is stored in the releases of {} branches: {}; this is the copy of `{}` \
             (most records, newest activity): pass --branch B to choose another",
            branches.len(),
            branches
                .iter()
                .map(|b| format!("`{}`", text(b)))
                .collect::<Vec<_>>()
                .join(", "),
            text(&release.branch().unwrap_or_default())
        ));
    }
    Ok(Found {
        gh,
        rt,
        release,
        stored,
        branches,
    })
}

pub fn run(ctx: &Context, args: &ShowArgs) -> anyhow::Result<()> {
    let found = find_stored(ctx, &args.session, args.branch.as_deref())?;
    let (release, stored) = (&found.release, &found.stored);
    let m = &stored.meta;
    let shown = Shown {
        session_id: m.session_id.clone(),
        branch: release.branch().map(|b| b.into_owned()).unwrap_or_default(),
        release_url: release.html_url.clone(),
        records: m.records,
        last_activity: m.last_timestamp.clone(),
        pushed_at: m.pushed_at.to_rfc3339(),
        pushed_from: m.pushed_from.clone(),
        commit: m.commit.clone(),
        encryption: match m.archive.encryption {
            Encryption::None => "none",
            Encryption::AgeScrypt => "age-scrypt",
        },
        archive_name: m.archive.name.clone(),
        archive_size: m.archive.size,
        claude_version: m.claude_version.clone(),
        cwd: m.cwd.clone(),
        stored_in: found.branches.clone(),
    };
    if ctx.ui.json {
        return ctx.ui.print_json(&shown);
    }
    let lines = [
        ("session", shown.session_id.clone()),
        ("branch", text(&shown.branch).into_owned()),
        ("release", shown.release_url.clone()),
        ("records", shown.records.to_string()),
        (
            "last activity",
            text(shown.last_activity.as_deref().unwrap_or("-")).into_owned(),
        ),
        ("pushed at", shown.pushed_at.clone()),
        (
            "pushed from",
            text(&format!(
                "{} ({})",
                shown.pushed_from.host, shown.pushed_from.os
            ))
            .into_owned(),
        ),
        (
            "commit",
            text(shown.commit.as_deref().unwrap_or("-")).into_owned(),
        ),
        ("encryption", shown.encryption.to_owned()),
        (
            "size",
            format!(
                "{} ({})",
                crate::ui::human_size(shown.archive_size),
                text(&shown.archive_name)
            ),
        ),
        ("folder", text(&shown.cwd).into_owned()),
    ];
    let text: String = lines
        .iter()
        .map(|(name, value)| format!("{name:>13}: {value}\n"))
        .collect();
    super::sessions::print_stdout(&text)
}

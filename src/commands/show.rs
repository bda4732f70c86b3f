//! `ccsync release-show --session ID`: one stored session's metadata (records, last activity,
//! where and when it was pushed, commit, encryption, size), read from whichever branch's release
//! holds it, without downloading or installing its archive.

use serde::Serialize;

use crate::bundle::metadata::Encryption;
use crate::cli::ShowArgs;
use crate::config::Context;
use crate::neutral::text;
use crate::transfer::holders;

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

pub fn run(ctx: &Context, args: &ShowArgs) -> anyhow::Result<()> {
    let found = holders::find_stored(ctx, &args.session, args.branch.as_deref())?;
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
    crate::ui::print_stdout(&text)
}

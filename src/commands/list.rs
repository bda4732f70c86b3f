//! `ccsync release-list`: every session stored in the repository's session releases, per branch
//! ([`crate::stored::listing`] reads them), as a table or `--json`.

use serde::Serialize;

use crate::cli::ListArgs;
use crate::config::Context;
use crate::neutral::text;
use crate::release::GitHub;
use crate::stored;
use crate::stored::listing::{self, Listed};
use crate::ui::Ui;

/// One stored session, for the table and `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedSession {
    branch: String,
    session_id: String,
    last_activity: Option<String>,
    records: u64,
    /// Archive size in bytes.
    size: u64,
    encrypted: bool,
    commit: Option<String>,
    pushed_at: String,
    pushed_from: PushedFromJson,
    claude_version: Option<String>,
    tag: String,
    release_url: String,
}

#[derive(Debug, Serialize)]
struct PushedFromJson {
    host: String,
    os: String,
}

/// A release with the session prefix that ccsync does not read.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct IgnoredRelease {
    tag: String,
    release_url: String,
    reason: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListJson {
    repository: String,
    sessions: Vec<ListedSession>,
    ignored: Vec<IgnoredRelease>,
}

pub fn run(ctx: &Context, args: &ListArgs) -> anyhow::Result<()> {
    let git = ctx.git_repo().ok();
    let slug = ctx.github_repo(git.as_ref())?;
    let gh = GitHub::new(ctx.api_url()?, slug.clone(), ctx.token()?)?;
    let rt = crate::release::runtime()?;
    let listing = listing::list(&rt, &gh, args.branch.as_deref(), &|m| ctx.ui.warn(m))?;
    let sessions: Vec<ListedSession> = listing.sessions.iter().map(listed).collect();
    let ignored = listing
        .ignored
        .iter()
        .map(|r| IgnoredRelease {
            tag: r.tag_name.clone(),
            release_url: r.html_url.clone(),
            reason: "published",
        })
        .collect();
    if sessions.is_empty() {
        // Drafts are invisible to read-only tokens: an empty list may only mean that.
        if let Ok(access) = rt.block_on(gh.access()) {
            if access.push == Some(false) {
                ctx.ui.warn(&format!(
                    "the token can only read {slug}, and draft releases are invisible to it: use a token with write access (`contents: write`) to list sessions"
                ));
            }
        }
    }
    // A session whose only copy in its branch's release is damaged is listed as an error after
    // what could be read.
    let damaged = listing
        .damaged
        .first()
        .map(|(r, d)| stored::damaged_error(r, d, "It is not listed."));
    if ctx.ui.json {
        ctx.ui.print_json(&ListJson {
            repository: slug.to_string(),
            sessions,
            ignored,
        })?;
        return damaged.map_or(Ok(()), Err);
    }
    if let Some(err) = damaged {
        if !sessions.is_empty() {
            print_table(ctx.ui, &sessions)?;
        }
        return Err(err);
    }
    if sessions.is_empty() {
        ctx.ui.info(&match &args.branch {
            Some(branch) => format!(
                "no session stored for branch `{}` in {slug} (`ccsync release-push` stores one)",
                text(branch)
            ),
            None => format!(
                "no session stored in the releases of {slug} (`ccsync release-push` stores one)"
            ),
        });
        return Ok(());
    }
    print_table(ctx.ui, &sessions)
}

fn listed(l: &Listed) -> ListedSession {
    let (branch, release, s) = (&l.branch, &l.release, &l.stored);
    let m = &s.meta;
    ListedSession {
        branch: branch.clone(),
        session_id: m.session_id.clone(),
        last_activity: m.last_timestamp.clone(),
        records: m.records,
        size: m.archive.size,
        encrypted: s.encrypted(),
        commit: m.commit.clone(),
        pushed_at: m.pushed_at.to_rfc3339(),
        pushed_from: PushedFromJson {
            host: m.pushed_from.host.clone(),
            os: m.pushed_from.os.clone(),
        },
        claude_version: m.claude_version.clone(),
        tag: release.tag_name.clone(),
        release_url: release.html_url.clone(),
    }
}

/// The table for people. Every cell comes from release data: each is one escaped line, and a
/// line never reads as a workflow command.
fn print_table(ui: &Ui, sessions: &[ListedSession]) -> anyhow::Result<()> {
    let header = [
        "BRANCH",
        "SESSION",
        "LAST ACTIVITY",
        "RECORDS",
        "SIZE",
        "PUSHED FROM",
        "COMMIT",
        "ENCRYPTED",
    ];
    let rows: Vec<[String; 8]> = sessions
        .iter()
        .map(|s| {
            [
                text(&s.branch).into_owned(),
                text(&s.session_id).into_owned(),
                s.last_activity
                    .as_deref()
                    .map(short_time)
                    .unwrap_or_else(|| "-".into()),
                s.records.to_string(),
                crate::ui::human_size(s.size),
                format!(
                    "{} ({})",
                    text(&s.pushed_from.host),
                    text(&s.pushed_from.os)
                ),
                s.commit
                    .as_deref()
                    .map(|c| text(&c.chars().take(10).collect::<String>()).into_owned())
                    .unwrap_or_else(|| "-".into()),
                if s.encrypted { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(crate::ui::display_width(cell));
        }
    }
    let mut table = String::new();
    let mut line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| crate::ui::pad(c, w, false))
            .collect();
        table.push_str(&ui.safe(padded.join("  ").trim_end()));
        table.push('\n');
    };
    line(&header.map(str::to_owned));
    for row in &rows {
        line(row);
    }
    crate::ui::print_stdout(&table)
}

/// `2026-01-02T03:04:05.678Z` as `2026-01-02 03:04 UTC`; anything unparsable as it is.
fn short_time(text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| crate::neutral::text(text).into_owned())
}

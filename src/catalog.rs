//! What a release tells people about its sessions: a compact summary in the `label` of each
//! metadata asset (readable where GitHub lists assets), and the table in the release body, updated
//! one row at a time. Both are hints anyone with write access can edit: no decision that chooses
//! or deletes a session is made from them, only from the verified metadata of complete copies
//! (`crate::stored`).

use crate::bundle::metadata::{Encryption, Metadata};
use crate::neutral::{markdown_code, markdown_text};
use chrono::{DateTime, FixedOffset, SecondsFormat};

use crate::release::names;
use crate::release::SessionRelease;

const LABEL_PREFIX: &str = "ccsync: ";
const LABEL_ACTIVITY: &str = " records, last activity ";
const LABEL_PUSHED: &str = " records, pushed ";

/// The facts of a session its metadata asset's label carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The last record's timestamp; `None` when no record has one.
    pub activity: Option<DateTime<FixedOffset>>,
    /// When it was pushed (said only when there is no activity).
    pub pushed: Option<DateTime<FixedOffset>>,
    pub records: u64,
}

impl Summary {
    /// Newest first, as `crate::stored` orders sessions: those with recorded activity by it,
    /// then the others by push time.
    #[cfg(test)]
    fn order(&self, other: &Summary) -> std::cmp::Ordering {
        other
            .activity
            .is_some()
            .cmp(&self.activity.is_some())
            .then_with(|| other.activity.cmp(&self.activity))
            .then_with(|| other.pushed.cmp(&self.pushed))
    }
}

/// The label of a metadata asset, readable where GitHub shows labels:
/// `ccsync: 42 records, last activity 2026-01-01T00:04:00Z` (or `..., pushed <time>` for a session
/// without timestamps).
pub fn metadata_label(meta: &Metadata) -> String {
    match meta
        .last_timestamp
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        Some(at) => format!(
            "{LABEL_PREFIX}{}{LABEL_ACTIVITY}{}",
            meta.records,
            at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        ),
        None => format!(
            "{LABEL_PREFIX}{}{LABEL_PUSHED}{}",
            meta.records,
            meta.pushed_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        ),
    }
}

/// Reads a label written by [`metadata_label`]; `None` for any other text.
pub fn parse_label(label: &str) -> Option<Summary> {
    let rest = label.strip_prefix(LABEL_PREFIX)?;
    let time = |t: &str| DateTime::parse_from_rfc3339(t.trim()).ok();
    if let Some((records, activity)) = rest.split_once(LABEL_ACTIVITY) {
        return Some(Summary {
            activity: Some(time(activity)?),
            pushed: None,
            records: records.trim().parse().ok()?,
        });
    }
    let (records, pushed) = rest.split_once(LABEL_PUSHED)?;
    Some(Summary {
        activity: None,
        pushed: Some(time(pushed)?),
        records: records.trim().parse().ok()?,
    })
}

/// The ids of the sessions that have a complete metadata asset in `release`.
pub fn session_ids(release: &SessionRelease) -> Vec<String> {
    let mut ids: Vec<String> = release
        .assets
        .iter()
        .filter(|a| a.state == "uploaded")
        .filter_map(|a| match names::classify(&a.name) {
            Some((id, role)) if role.is_metadata() => Some(id.to_owned()),
            _ => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

// ---- the release body ------------------------------------------------------------------------

const TABLE_HEADER: &str =
    "| Session | Last activity | Records | Size | Pushed from | Pushed at | Encrypted |";
const TABLE_RULE: &str = "|---|---|---|---|---|---|---|";

/// The release body: a marker that says ccsync owns the release, and a table of its sessions
/// (given newest first).
pub fn render_body<'a>(branch: &str, sessions: impl IntoIterator<Item = &'a Metadata>) -> String {
    let mut rows = String::new();
    let mut chains = false;
    for meta in sessions {
        chains |= meta.chain.is_some();
        rows.push_str(&body_row(meta));
        rows.push('\n');
    }
    let marker = if chains {
        names::BODY_MARKER_CHAINS
    } else {
        names::BODY_MARKER
    };
    body_head(branch, marker) + &rows
}

/// Branch names and metadata fields are data (anyone with write access can shape them): each is
/// rendered as a Markdown-safe code span or escaped text, one line per row.
fn body_head(branch: &str, marker: &str) -> String {
    format!(
        "{}\nClaude Code sessions of branch {}, stored by [ccsync](https://github.com/ccsync/claude-session-bridge). \
         This release stays a draft: only people with write access see it.\n\n\
         Restore the newest with {}.\n\n\
         {TABLE_HEADER}\n{TABLE_RULE}\n",
        marker,
        markdown_code(branch, false),
        markdown_code(&format!("ccsync release-restore --branch {branch}"), false),
    )
}

/// One session's row of the body table.
pub fn body_row(m: &Metadata) -> String {
    format!(
        "| {} | {} | {} | {} | {} ({}) | {} | {} |",
        markdown_code(&m.session_id, true),
        markdown_text(m.last_timestamp.as_deref().unwrap_or("-")),
        m.records,
        crate::ui::human_size(m.archive.size),
        markdown_text(&m.pushed_from.host),
        markdown_text(&m.pushed_from.os),
        m.pushed_at.format("%Y-%m-%d %H:%M UTC"),
        if m.archive.encryption != Encryption::None {
            "yes"
        } else {
            "no"
        },
    )
}

/// The session id and last-activity cell of a table row.
fn parse_row(line: &str) -> Option<(&str, &str)> {
    let mut cells = line.strip_prefix("| `")?.splitn(3, " | ");
    let id = cells.next()?.strip_suffix('`')?;
    let activity = cells.next()?;
    Some((id, activity))
}

/// The body with `pushed`'s row written in and the rows of sessions no longer in `present`
/// dropped, rows newest first; the rest of the body as it was. `None` when the body has no table
/// of ours or lacks a row of a present session (a racing writer's body, an older ccsync's): then
/// the caller renders it whole from the metadata.
pub fn update_body(
    existing: Option<&str>,
    branch: &str,
    pushed: &Metadata,
    present: &[String],
) -> Option<String> {
    let existing = existing?;
    let marker = names::body_marker_of(existing)?;
    // A release that holds a chain says so to older ccsync (names::BODY_MARKER_CHAINS).
    let upgraded;
    let existing = if pushed.chain.is_some() && marker == names::BODY_MARKER {
        upgraded = existing.replacen(names::BODY_MARKER, names::BODY_MARKER_CHAINS, 1);
        upgraded.as_str()
    } else {
        existing
    };
    let lines: Vec<&str> = existing.lines().collect();
    let header = lines.iter().position(|l| l.trim() == TABLE_HEADER)?;
    if lines.get(header + 1).map(|l| l.trim()) != Some(TABLE_RULE) {
        return None;
    }
    let rows_end = lines[header + 2..]
        .iter()
        .position(|l| !l.starts_with("| `"))
        .map_or(lines.len(), |n| header + 2 + n);
    let new_row = body_row(pushed);
    let mut rows: Vec<(String, String, String)> = vec![(
        pushed.session_id.clone(),
        pushed.last_timestamp.clone().unwrap_or_else(|| "-".into()),
        new_row,
    )];
    for line in &lines[header + 2..rows_end] {
        let (id, activity) = parse_row(line)?;
        if id != pushed.session_id && present.iter().any(|p| p == id) {
            rows.push((id.to_owned(), activity.to_owned(), (*line).to_owned()));
        }
    }
    if present
        .iter()
        .any(|id| !rows.iter().any(|(known, _, _)| known == id))
    {
        return None;
    }
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let marker = names::body_marker_of(existing).unwrap_or(names::BODY_MARKER);
    let mut body = body_head(branch, marker);
    for (_, _, row) in rows {
        body.push_str(&row);
        body.push('\n');
    }
    for line in &lines[rows_end..] {
        body.push_str(line);
        body.push('\n');
    }
    Some(body)
}

/// The body without the rows of sessions no longer in `present`; `None` when it has no table of
/// ours (then it stays as it is until the next push renders it).
pub fn drop_rows(existing: Option<&str>, present: &[String]) -> Option<String> {
    let existing = existing?;
    if names::body_marker_of(existing).is_none() || !existing.contains(TABLE_HEADER) {
        return None;
    }
    let mut body = String::with_capacity(existing.len());
    for line in existing.lines() {
        let gone = parse_row(line).is_some_and(|(id, _)| !present.iter().any(|p| p == id));
        if !gone {
            body.push_str(line);
            body.push('\n');
        }
    }
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, last: &str, records: u64) -> Metadata {
        let mut m = crate::bundle::metadata::tests::sample();
        m.session_id = id.into();
        m.last_timestamp = Some(last.into());
        m.records = records;
        m.archive.name = names::archive_asset_name(id, false);
        m.archive.size = 10;
        m.archive.encryption = Encryption::None;
        m.pushed_from.host = "lap|top".into();
        m.pushed_from.os = "linux".into();
        m
    }

    const A: &str = "00000000-0000-4000-8000-00000000000a";
    const B: &str = "00000000-0000-4000-8000-00000000000b";
    const C: &str = "00000000-0000-4000-8000-00000000000c";

    #[test]
    fn labels_round_trip_and_refuse_other_text() {
        let m = meta(A, "2026-01-01T00:04:00Z", 42);
        let label = metadata_label(&m);
        assert_eq!(
            label,
            "ccsync: 42 records, last activity 2026-01-01T00:04:00Z"
        );
        assert_eq!(
            parse_label(&label),
            Some(Summary {
                activity: DateTime::parse_from_rfc3339("2026-01-01T00:04:00Z").ok(),
                pushed: None,
                records: 42
            })
        );
        let mut quiet = m.clone();
        quiet.last_timestamp = None;
        let summary = parse_label(&metadata_label(&quiet)).unwrap();
        assert_eq!(summary.activity, None);
        assert!(summary.pushed.is_some());
        // Sessions with activity come first, newest first (by time, not text); then the rest by
        // push time.
        let newer = parse_label("ccsync: 1 records, last activity 2026-01-01T23:30:00Z").unwrap();
        let older =
            parse_label("ccsync: 1 records, last activity 2026-01-02T00:00:00+02:00").unwrap();
        assert!(newer.order(&older).is_lt(), "23:30Z is after 22:00Z");
        assert!(older.order(&summary).is_lt());
        assert_eq!(parse_label(""), None);
        assert_eq!(parse_label("ccsync: x records, last activity 2026"), None);
        assert_eq!(
            parse_label("ccsync: 1 records, last activity yesterday"),
            None
        );
    }

    #[test]
    fn a_body_row_is_replaced_and_absent_sessions_leave() {
        let (a, b, c) = (
            meta(A, "2026-01-01T00:00:00Z", 1),
            meta(B, "2026-01-02T00:00:00Z", 2),
            meta(C, "2026-01-03T00:00:00Z", 3),
        );
        let body = render_body("main", [&c, &b, &a]);
        assert!(body.contains("lap\\|top (linux)"), "{body}");
        // A continues and becomes the newest; C was dropped.
        let a2 = meta(A, "2026-01-04T00:00:00Z", 9);
        let updated = update_body(Some(&body), "main", &a2, &[A.into(), B.into()]).unwrap();
        assert_eq!(updated, render_body("main", [&a2, &b]));
        // A session present without a row: only a full render can tell its facts.
        assert_eq!(
            update_body(Some(&body), "main", &a2, &[A.into(), B.into(), "x".into()]),
            None
        );
        assert_eq!(
            update_body(Some("hand written"), "main", &a2, &[A.into()]),
            None
        );
        assert_eq!(update_body(None, "main", &a2, &[A.into()]), None);
        // Removing a session drops its row only.
        assert_eq!(
            drop_rows(Some(&body), &[A.into(), C.into()]),
            Some(render_body("main", [&c, &a]))
        );
    }
}

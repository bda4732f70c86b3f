//! `ccsync sessions`: the local Claude Code sessions of this repository, newest first, as a table
//! or (`--json`) an array.

use std::path::Path;

use serde::Serialize;

use crate::cli::SessionsArgs;
use crate::config::Context;
use crate::git::GitRepo;
use crate::store::labels::{explain_empty, FolderLabels};
use crate::store::{self, LocalSession};
use crate::ui::print_stdout;

pub fn run(ctx: &Context, args: &SessionsArgs) -> anyhow::Result<()> {
    let git = ctx.git_repo()?;
    let claude_dir = ctx.claude_dir()?;
    let mut cache = store::FactCache::from_env(&claude_dir);
    let all = load(ctx, &claude_dir, &git, &mut cache)?;
    let shown: Vec<&LocalSession> = all
        .iter()
        .filter(|s| match &args.branch {
            Some(branch) if !args.all => s.branch.as_deref() == Some(branch.as_str()),
            _ => true,
        })
        .collect();
    let counts = store::record_counts(&shown, &mut cache)?;
    cache.save();
    ctx.ui.detail(&cache.summary());
    if ctx.ui.json {
        let labels = FolderLabels::new(git.root(), &claude_dir);
        let rows: Vec<SessionJson> = shown
            .iter()
            .zip(&counts)
            .map(|(s, &records)| SessionJson::new(s, records, &labels))
            .collect();
        return ctx.ui.print_json(&rows);
    }
    if shown.is_empty() {
        if let Some(branch) = args.branch.as_deref().filter(|_| !all.is_empty()) {
            ctx.ui.info(&format!(
                "no session of branch `{branch}` ({} on other branches; `ccsync sessions` lists them)",
                all.len()
            ));
        }
        return Ok(());
    }
    print_table(&shown, &counts, git.root(), &claude_dir)
}

/// The repository's sessions (through the facts cache); says on stderr when there is no Claude
/// folder or no session yet (an empty result is not an error).
fn load(
    ctx: &Context,
    claude_dir: &Path,
    git: &GitRepo,
    cache: &mut store::FactCache,
) -> anyhow::Result<Vec<LocalSession>> {
    let sessions = store::repository_sessions_with(claude_dir, git.root(), cache)?;
    if sessions.is_empty() {
        ctx.ui.info(&explain_empty(claude_dir, git.root()));
    }
    Ok(sessions)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionJson<'a> {
    session_id: &'a str,
    branch: Option<&'a str>,
    last_activity: Option<String>,
    records: u64,
    size: u64,
    folder: String,
    cwd: Option<&'a str>,
    claude_version: Option<&'a str>,
    path: String,
}

impl<'a> SessionJson<'a> {
    fn new(s: &'a LocalSession, records: u64, labels: &FolderLabels) -> Self {
        SessionJson {
            session_id: &s.id,
            branch: s.branch.as_deref(),
            last_activity: s
                .last_activity
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            records,
            size: s.size,
            folder: labels.of(s),
            cwd: s.cwd.as_deref(),
            claude_version: s.version.as_deref(),
            path: s.path.display().to_string(),
        }
    }
}

fn print_table(
    sessions: &[&LocalSession],
    counts: &[u64],
    root: &Path,
    claude_dir: &Path,
) -> anyhow::Result<()> {
    let header = [
        "SESSION",
        "BRANCH",
        "LAST ACTIVITY (UTC)",
        "RECORDS",
        "SIZE",
        "FOLDER",
    ];
    let labels = FolderLabels::new(root, claude_dir);
    let rows: Vec<[String; 6]> = sessions
        .iter()
        .zip(counts)
        .map(|(s, records)| {
            [
                s.id.clone(),
                s.branch
                    .as_deref()
                    .map_or_else(|| "-".into(), |b| crate::neutral::text(b).into_owned()),
                s.last_activity.map_or_else(|| "-".into(), table_time),
                records.to_string(),
                crate::ui::human_size(s.size),
                labels.of(s),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(crate::ui::display_width(cell));
        }
    }
    let mut text = String::with_capacity((rows.len() + 1) * (widths.iter().sum::<usize>() + 12));
    let mut line = |cells: [&str; 6]| {
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Numbers right-aligned, text left-aligned; no trailing spaces.
            match i {
                3 | 4 => text.push_str(&crate::ui::pad(cell, w, true)),
                5 => text.push_str(cell),
                _ => text.push_str(&crate::ui::pad(cell, w, false)),
            }
            text.push_str(if i < 5 { "  " } else { "\n" });
        }
    };
    line(header);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
    print_stdout(&text)
}

/// `2026-01-02 03:04:05` (UTC), written directly: `chrono`'s `format` parses its pattern for
/// every row, which shows on tables of thousands of sessions.
fn table_time(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike as _, Timelike as _};
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_times() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05.999Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(table_time(t), t.format("%Y-%m-%d %H:%M:%S").to_string());
        assert_eq!(table_time(t), "2026-01-02 03:04:05");
    }
}

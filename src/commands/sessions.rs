//! `ccsync sessions`: the local Claude Code sessions of this repository, newest first, as a table
//! or (`--json`) an array. Also home of what `sessions` and `discover` share: loading the
//! repository's sessions and explaining an empty store.

use std::path::Path;

use serde::Serialize;

use crate::cli::SessionsArgs;
use crate::config::Context;
use crate::git::GitRepo;
use crate::store::{self, LocalSession};

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
pub(crate) fn load(
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

/// Why a repository has no session, and what to do about it.
pub(crate) fn explain_empty(claude_dir: &Path, root: &Path) -> String {
    if !claude_dir.is_dir() {
        return format!(
            "no Claude folder at {}: run Claude Code once, or point ccsync at your Claude folder with CLAUDE_CONFIG_DIR or --claude-dir",
            claude_dir.display()
        );
    }
    let projects = store::projects_dir(claude_dir);
    if !projects.is_dir() {
        return format!(
            "the Claude folder {} has no projects/ folder yet: no Claude Code session was recorded with it (wrong folder? set CLAUDE_CONFIG_DIR or --claude-dir)",
            claude_dir.display()
        );
    }
    format!(
        "no Claude Code session of {} in {}: run `claude` in this repository first",
        root.display(),
        store::project_dir(claude_dir, root).display()
    )
}

/// Where the session ran, relative to the repository root (`.` for the root itself); the project
/// folder name when the recorded folder is elsewhere (a session copied from another machine).
pub(crate) fn folder_label(session: &LocalSession, root: &Path, claude_dir: &Path) -> String {
    FolderLabels::new(root, claude_dir).of(session)
}

/// [`folder_label`] for many sessions of one repository (the root's folder computed once).
pub(crate) struct FolderLabels {
    own_dir: std::path::PathBuf,
    root_text: String,
}

impl FolderLabels {
    pub(crate) fn new(root: &Path, claude_dir: &Path) -> Self {
        FolderLabels {
            own_dir: store::project_dir(claude_dir, root),
            root_text: store::path_text(root),
        }
    }

    pub(crate) fn of(&self, session: &LocalSession) -> String {
        if session.project_dir == self.own_dir {
            return ".".to_owned();
        }
        let root_text = &self.root_text;
        match session.cwd.as_deref() {
            Some(cwd) if store::path_within(cwd, root_text) => {
                let rest = cwd[root_text.len()..].trim_start_matches(['/', '\\']);
                if rest.is_empty() {
                    ".".to_owned()
                } else {
                    rest.to_owned()
                }
            }
            _ => session
                .project_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
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

/// Writes a result on stdout; a reader that went away (`ccsync sessions | head`) is not an error.
/// In Actions no line of it can be read as a workflow command ([`crate::neutral::actions_lines`]).
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    let text = if crate::actions::in_actions() {
        crate::neutral::actions_lines(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    print_raw(&text)
}

/// Writes `text` on stdout as it is (a completion script); see [`print_stdout`].
pub(crate) fn print_raw(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
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

//! Which local session is a branch's: one rule for `discover` and `resume` (and whatever else picks
//! "the session of branch B").
//!
//! A session belongs to the branch its records name last ([`super::tail`]), unless it was restored
//! from a branch's release and has not been continued on another branch since: then it belongs to
//! that release's branch. That covers a session CI ran on a detached checkout, whose records name
//! only `HEAD`. `release-restore` notes the release's branch and the branch the installed records
//! name in ccsync's own folder, `<claude-dir>/ccsync/restored/<project folder>/<id>.branch` (never
//! in the project folder, which holds only what Claude Code wrote and restore installed); once
//! Claude records another branch in the session, the note no longer counts.

use std::path::{Path, PathBuf};

use super::LocalSession;

/// The newest session of `branch` among `sessions` (newest first, as the scan lists them).
pub fn newest_of_branch<'a>(
    sessions: &'a [LocalSession],
    branch: &str,
) -> Option<&'a LocalSession> {
    sessions
        .iter()
        .find(|s| branch_of(s).as_deref() == Some(branch))
}

/// The branch `session` belongs to, by the rule above; `None` when it names none and no restore
/// noted one.
pub fn branch_of(session: &LocalSession) -> Option<String> {
    match restored_for(&session.project_dir, &session.id) {
        Some((release, recorded)) if recorded.as_deref() == session.branch.as_deref() => {
            Some(release)
        }
        _ => session.branch.clone(),
    }
}

/// Notes that session `id` in `project_dir` was restored from `branch`'s release. A note that
/// cannot be written only costs `discover` its answer for a `HEAD` session: warn, do not fail.
/// The note holds two lines: the release's branch, and the branch the installed records name
/// (empty when none).
pub fn note_restored(project_dir: &Path, id: &str, branch: &str) -> std::io::Result<()> {
    let transcript = project_dir.join(format!("{id}.jsonl"));
    let recorded = super::tail_facts(&transcript)?.branch.unwrap_or_default();
    let note = note_path(project_dir, id).ok_or_else(|| {
        std::io::Error::other(format!(
            "{} is not a project folder of a Claude folder",
            project_dir.display()
        ))
    })?;
    if let Some(parent) = note.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(note, format!("{branch}\n{recorded}\n"))
}

/// What a restore noted for session `id`: the release's branch and the recorded one.
fn restored_for(project_dir: &Path, id: &str) -> Option<(String, Option<String>)> {
    let text = std::fs::read_to_string(note_path(project_dir, id)?).ok()?;
    let mut lines = text.lines();
    let release = lines.next().filter(|b| !b.is_empty())?.to_owned();
    let recorded = lines.next().filter(|b| !b.is_empty()).map(str::to_owned);
    Some((release, recorded))
}

/// `<claude-dir>/ccsync/restored/<project folder>/<id>.branch`, for `<claude-dir>/projects/<folder>`.
fn note_path(project_dir: &Path, id: &str) -> Option<PathBuf> {
    let folder = project_dir.file_name()?;
    let claude_dir = project_dir.parent()?.parent()?;
    Some(
        claude_dir
            .join("ccsync/restored")
            .join(folder)
            .join(format!("{id}.branch")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(dir: &Path, id: &str, branch: Option<&str>) -> LocalSession {
        LocalSession {
            id: id.to_owned(),
            path: dir.join(format!("{id}.jsonl")),
            project_dir: dir.to_path_buf(),
            branch: branch.map(str::to_owned),
            last_activity: None,
            cwd: None,
            version: None,
            size: 0,
        }
    }

    fn write(dir: &Path, id: &str, branch: &str) {
        let line = format!(
            "{{\"type\":\"user\",\"gitBranch\":\"{branch}\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"cwd\":\"/r\"}}\n"
        );
        std::fs::write(dir.join(format!("{id}.jsonl")), line).unwrap();
    }

    #[test]
    fn a_restored_session_belongs_to_its_release_until_continued_elsewhere() {
        let claude = tempfile::tempdir().unwrap();
        let dir = claude.path().join("projects/-r");
        std::fs::create_dir_all(&dir).unwrap();
        let dir = dir.as_path();
        write(dir, "a", "HEAD");
        let sessions = [
            session(dir, "a", Some("HEAD")),
            session(dir, "b", Some("main")),
        ];
        assert_eq!(newest_of_branch(&sessions, "main").unwrap().id, "b");
        note_restored(dir, "a", "main").unwrap();
        assert_eq!(newest_of_branch(&sessions, "main").unwrap().id, "a");
        // The note is ccsync's, not in Claude Code's project folder.
        assert!(!std::fs::read_dir(dir).unwrap().any(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".jsonl")));
        // Continued on another checked-out branch since: that branch's.
        let moved = session(dir, "a", Some("topic"));
        assert_eq!(branch_of(&moved).as_deref(), Some("topic"));
    }
}

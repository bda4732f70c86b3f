//! Which archive entries a restore of one session may install (DESIGN.md, "Archive and
//! metadata"): the session file `<uuid>.jsonl`, its side data `<uuid>/**`, the 2.0.x
//! `agent-*.jsonl` files whose records carry the session's id, the project's `memory/**`, and the
//! session's state kept outside the project folder under `.ccsync-state/` (names in
//! [`crate::store::state`]).
//! Anything else (another session's files, stray files such as `CLAUDE.md` or `run.sh`) makes
//! the archive hostile: the restore is refused before anything reaches the project folder.
//!
//! Names are checked as the archive is read ([`check_name`], before a byte is written), agent
//! files once they are unpacked into the temporary folder ([`check_agent_file`]).

use std::path::{Component, Path};

use anyhow::{bail, Result};
use serde::Deserialize;

use crate::store::state;

/// What an allowed entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// `<uuid>.jsonl`.
    Session,
    /// `<uuid>/` and everything below it.
    SideData,
    /// A 2.0.x `agent-*.jsonl` at the top (its records are checked after unpacking).
    AgentFile,
    /// The project's `memory/` and everything below it.
    Memory,
    /// Session state under `.ccsync-state/` (tasks, file history, plans, background outputs).
    State,
}

/// True for a 2.0.x agent file name: `agent-<something>.jsonl`, no folder.
pub fn is_agent_file_name(name: &str) -> bool {
    name.len() > "agent-.jsonl".len()
        && name.starts_with("agent-")
        && name.ends_with(".jsonl")
        && !name.contains('/')
}

/// Classifies the cleaned relative entry `rel` (a folder when `is_dir`) of the archive of
/// `session_id`, or refuses it with a message that names it.
pub fn check_name(session_id: &str, rel: &Path, is_dir: bool) -> Result<EntryKind> {
    let parts: Vec<&str> = rel
        .components()
        .map(|c| match c {
            Component::Normal(part) => part.to_str().unwrap_or(""),
            _ => "",
        })
        .collect();
    let shown = crate::neutral::text(&rel.to_string_lossy()).into_owned();
    let first = parts.first().copied().unwrap_or("");
    let kind = match (first, parts.len(), is_dir) {
        (top, 1, false) if top == format!("{session_id}.jsonl") => Some(EntryKind::Session),
        (top, _, _) if top == session_id && (is_dir || parts.len() > 1) => {
            Some(EntryKind::SideData)
        }
        (top, 1, false) if is_agent_file_name(top) => Some(EntryKind::AgentFile),
        ("memory", _, _) if is_dir || parts.len() > 1 => Some(EntryKind::Memory),
        (state::ARCHIVE_DIR, _, _) => state::classify(rel, is_dir).map(|_| EntryKind::State),
        _ => None,
    };
    match kind {
        Some(kind) => Ok(kind),
        None => bail!(
            "the archive of session {session_id} holds `{shown}`, which is not part of that session \
             (only {session_id}.jsonl, {session_id}/, its agent-*.jsonl files, memory/ and the session state \
             of .ccsync-state/ are restored): \
             the release was tampered with or not written by ccsync; nothing was installed"
        ),
    }
}

/// The `sessionId` of a record, if it has one (other fields are skipped unread).
#[derive(Deserialize)]
struct SessionIdOnly<'a> {
    #[serde(rename = "sessionId", borrow, default)]
    session_id: Option<std::borrow::Cow<'a, str>>,
}

/// Calls `f` with the `sessionId` of every record of `path` that has one (glued records
/// included; torn or non-JSON lines are skipped), until `f` returns false.
fn session_ids(path: &Path, mut f: impl FnMut(&str) -> bool) -> Result<()> {
    let mut go_on = true;
    super::for_each_line(path, |line| {
        if !go_on {
            return Ok(());
        }
        let stream = serde_json::Deserializer::from_slice(line).into_iter::<SessionIdOnly<'_>>();
        for record in stream {
            let Ok(record) = record else { break };
            if let Some(id) = record.session_id {
                if !f(&id) {
                    go_on = false;
                    break;
                }
            }
        }
        Ok(())
    })
}

/// Checks that the unpacked agent file `path` (entry `rel`) belongs to `session_id`: every record
/// with a `sessionId` carries that id, and at least one does.
pub fn check_agent_file(session_id: &str, rel: &Path, path: &Path) -> Result<()> {
    let mut own = false;
    let mut other: Option<String> = None;
    session_ids(path, |id| {
        if id == session_id {
            own = true;
            true
        } else {
            other = Some(id.chars().take(80).collect());
            false
        }
    })?;
    let shown = crate::neutral::text(&rel.to_string_lossy()).into_owned();
    if let Some(other) = other {
        bail!(
            "the archive of session {session_id} holds `{shown}`, an agent file of another session ({}): \
             the release was tampered with; nothing was installed",
            crate::neutral::text(&other)
        );
    }
    if !own {
        bail!(
            "the archive of session {session_id} holds `{shown}`, whose records do not name that session: \
             the release was tampered with; nothing was installed"
        );
    }
    Ok(())
}

/// Checks the state entries of an unpacked archive (`files`, relative to `dir`) beyond their names:
/// a plan must be named by a `slug` of the session's own transcripts (plans of all sessions share
/// one folder), and a background output link must point into the session's side data.
pub fn check_state_files(
    session_id: &str,
    dir: &Path,
    files: &[std::path::PathBuf],
    more_transcripts: &[std::path::PathBuf],
) -> Result<()> {
    let mut slugs: Option<Vec<String>> = None;
    for rel in files {
        let Some(state::Entry::File(kind, name)) = state::classify(rel, false) else {
            continue;
        };
        match kind {
            state::Kind::Plans => {
                if slugs.is_none() {
                    let mut all = Vec::new();
                    for file in files.iter().filter(|f| {
                        f.extension().is_some_and(|e| e == "jsonl") && !state::is_state(f)
                    }) {
                        all.extend(state::slugs_of(&dir.join(file))?);
                    }
                    // A delta's plans may be named by lines the local transcript already holds.
                    for file in more_transcripts {
                        all.extend(state::slugs_of(file)?);
                    }
                    slugs = Some(all);
                }
                if !state::plan_of(&name, slugs.as_deref().unwrap_or_default()) {
                    bail!(
                        "the archive of session {session_id} holds the plan `{}`, which its transcript does not name: \
                         the release was tampered with; nothing was installed",
                        crate::neutral::text(&name)
                    );
                }
            }
            state::Kind::Outputs if name.ends_with(state::LINK_SUFFIX) => {
                let path = dir.join(rel);
                let size = std::fs::metadata(&path)?.len();
                let target = if size <= 4096 {
                    std::fs::read_to_string(&path).unwrap_or_default()
                } else {
                    String::new()
                };
                state::check_link_target(session_id, &target)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The session a local agent file belongs to: the `sessionId` of its first record that has one
/// (as push decides which agent files to take).
pub fn agent_file_owner(path: &Path) -> Result<Option<String>> {
    let mut owner = None;
    session_ids(path, |id| {
        owner = Some(id.to_owned());
        false
    })?;
    Ok(owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4d5611e5-241a-462a-8d15-5122611a9569";
    const OTHER: &str = "0b0e7a3c-1111-4222-8333-944455556666";

    #[test]
    fn only_the_sessions_entries_pass() {
        let ok = |rel: &str, dir: bool| check_name(ID, Path::new(rel), dir);
        assert_eq!(
            ok(&format!("{ID}.jsonl"), false).unwrap(),
            EntryKind::Session
        );
        assert_eq!(ok(ID, true).unwrap(), EntryKind::SideData);
        assert_eq!(
            ok(&format!("{ID}/subagents/agent-a.jsonl"), false).unwrap(),
            EntryKind::SideData
        );
        assert_eq!(ok("agent-a1b2.jsonl", false).unwrap(), EntryKind::AgentFile);
        assert_eq!(ok("memory", true).unwrap(), EntryKind::Memory);
        assert_eq!(ok("memory/MEMORY.md", false).unwrap(), EntryKind::Memory);
        assert_eq!(ok(".ccsync-state", true).unwrap(), EntryKind::State);
        assert_eq!(
            ok(".ccsync-state/tasks/1.json", false).unwrap(),
            EntryKind::State
        );
        for bad in [
            format!("{OTHER}.jsonl"),
            format!("{OTHER}/subagents/agent-a.jsonl"),
            "CLAUDE.md".to_owned(),
            "run.sh".to_owned(),
            ID.to_owned(),
            "memory".to_owned(),
            format!("{ID}.jsonl/x"),
            "agent-.jsonl".to_owned(),
            "sub/agent-a.jsonl".to_owned(),
            format!("{ID}.jsonl.bak"),
            ".ccsync-state/tasks/.lock".to_owned(),
            ".ccsync-state/settings.json".to_owned(),
            ".ccsync-state/plans/../../x.md".to_owned(),
        ] {
            let err = ok(&bad, false).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
        assert!(ok(&format!("{ID}.jsonl"), true).is_err());
        assert!(ok("other", true).is_err());
    }

    #[test]
    fn agent_files_must_carry_the_session_id() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent-a.jsonl");
        let rel = Path::new("agent-a.jsonl");
        std::fs::write(
            &file,
            format!("{{\"type\":\"summary\"}}\n{{\"sessionId\":\"{ID}\",\"x\":[1,{{}}]}}{{\"sessionId\":\"{ID}\"}}\n{{\"torn"),
        )
        .unwrap();
        check_agent_file(ID, rel, &file).unwrap();
        assert_eq!(agent_file_owner(&file).unwrap().as_deref(), Some(ID));

        std::fs::write(
            &file,
            format!("{{\"sessionId\":\"{ID}\"}}\n{{\"sessionId\":\"{OTHER}\"}}\n"),
        )
        .unwrap();
        let err = check_agent_file(ID, rel, &file).unwrap_err().to_string();
        assert!(
            err.contains("another session") && err.contains(OTHER),
            "{err}"
        );

        std::fs::write(&file, "{\"type\":\"summary\"}\n").unwrap();
        let err = check_agent_file(ID, rel, &file).unwrap_err().to_string();
        assert!(err.contains("do not name that session"), "{err}");
        assert_eq!(agent_file_owner(&file).unwrap(), None);
    }
}

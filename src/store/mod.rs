//! The local Claude Code store: `<claude-dir>/projects/<folder>/<session-uuid>.jsonl` and its side
//! data (docs/claude-code-store.md).
//!
//! - [`folder_name`]: Claude Code's rule from a working folder to its project folder name
//! - [`fork`]: a copy of a session under a new id (`release-restore --keep-local-as-new`)
//! - [`records`]: a tolerant streaming reader of session files (glued lines, torn lines, junk)
//! - [`tail`]: a session's branch, last activity and folder, read from the end of its file
//! - [`scan`]: the sessions of a repository, one session by id, its side files, record counts
//! - [`belongs`]: which session is a branch's (one rule for `discover` and `resume`)
//! - [`labels`]: the folder a session ran in, as people read it, and why a repository has none
//! - [`state`]: a session's state outside the project folder (tasks, file history, plans, outputs)
//! - [`cache`]: what was learned from each file, kept between runs and keyed so a changed or
//!   copied file is never taken for the one read before

pub mod belongs;
pub mod cache;
pub mod folder_name;
pub mod fork;
pub mod labels;
pub mod records;
pub mod scan;
pub mod state;
pub mod tail;

use std::path::{Path, PathBuf};

pub use cache::{CacheStats, FactCache};
pub use folder_name::project_folder_name;
pub use records::{read_records, ReadSummary, Record, RecordFields};
pub use scan::{
    count_records, find_session, record_counts, repository_sessions, repository_sessions_with,
    side_files, LocalSession,
};
pub use tail::{tail_facts, TailFacts};

/// Renames a staged file into place (parents created) and dates it now: the archive's dates are
/// the origin's, and a restored file must not look weeks old to Claude Code's sweep of old
/// transcripts.
pub fn install_staged(src: &Path, dst: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::rename(src, dst).with_context(|| format!("cannot install {}", dst.display()))?;
    let now = std::time::SystemTime::now();
    std::fs::File::options()
        .write(true)
        .open(dst)
        .and_then(|f| {
            f.set_times(
                std::fs::FileTimes::new()
                    .set_modified(now)
                    .set_accessed(now),
            )
        })
        .with_context(|| format!("cannot date {}", dst.display()))
}

/// `<claude-dir>/projects`, where every project folder lives.
pub fn projects_dir(claude_dir: &Path) -> PathBuf {
    claude_dir.join("projects")
}

/// `<claude-dir>/projects/<folder>`: where Claude Code keeps the sessions it runs in
/// `resolved_cwd` (a realpath) and where `claude --resume` looks for them. `<folder>` is
/// `$CLAUDE_CODE_PROJECT_DIR_NAME` when Claude Code honours it ([`project_dir_name_override`]).
pub fn project_dir(claude_dir: &Path, resolved_cwd: &Path) -> PathBuf {
    match project_dir_name_override() {
        Some(name) => projects_dir(claude_dir).join(name),
        None => projects_dir(claude_dir).join(project_folder_name(&path_text(resolved_cwd))),
    }
}

/// `$CLAUDE_CODE_PROJECT_DIR_NAME` as Claude Code 2.1.x honours it: only with `$CLAUDE_CONFIG_DIR`
/// set, and only a valid name (`[A-Za-z0-9_-]{1,64}`, not a Windows device name such as `nul`);
/// otherwise Claude Code ignores it, and so does ccsync.
pub fn project_dir_name_override() -> Option<String> {
    std::env::var_os("CLAUDE_CONFIG_DIR").filter(|v| !v.is_empty())?;
    let name = std::env::var("CLAUDE_CODE_PROJECT_DIR_NAME").ok()?;
    valid_project_dir_name(&name).then_some(name)
}

fn valid_project_dir_name(name: &str) -> bool {
    let device = {
        let lower = name.to_ascii_lowercase();
        matches!(lower.as_str(), "con" | "prn" | "aux" | "nul")
            || ["com", "lpt"].iter().any(|p| {
                lower
                    .strip_prefix(p)
                    .is_some_and(|n| n.len() == 1 && n.as_bytes()[0].is_ascii_digit())
            })
    };
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !device
}

/// A resolved path as Claude Code writes it: Windows' verbatim prefix (`\\?\C:\...`, which
/// `std::fs::canonicalize` adds) removed, since Node's `realpath` never shows it.
pub fn path_text(path: &Path) -> String {
    let text = path.to_string_lossy();
    if let Some(rest) = text.strip_prefix(r"\\?\UNC\") {
        format!(r"\\{rest}")
    } else if let Some(rest) = text.strip_prefix(r"\\?\") {
        rest.to_owned()
    } else {
        text.into_owned()
    }
}

/// True when `path` is `root` or lies below it, comparing whole path components as text
/// (`/x/app` holds `/x/app/src` but not `/x/app-old`). Both separators count, so Windows paths
/// recorded in a session compare correctly on any machine.
pub fn path_within(path: &str, root: &str) -> bool {
    let is_sep = |c: char| c == '/' || c == '\\';
    let root = root.trim_end_matches(is_sep);
    let path = path.trim_end_matches(is_sep);
    match path.strip_prefix(root) {
        Some("") => true,
        Some(rest) => rest.starts_with(is_sep),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_dir_joins_the_folder_name() {
        assert_eq!(
            project_dir(Path::new("/h/.claude"), Path::new("/x/my_app")),
            PathBuf::from("/h/.claude/projects/-x-my-app")
        );
    }

    #[test]
    fn project_dir_names_follow_claude_codes_rule() {
        for ok in ["ci", "my_project-1", &"a".repeat(64)] {
            assert!(valid_project_dir_name(ok), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "..",
            "a.b",
            "nul",
            "COM1",
            "lpt9",
            &"a".repeat(65),
            "é",
        ] {
            assert!(!valid_project_dir_name(bad), "{bad}");
        }
        assert!(valid_project_dir_name("com10") && valid_project_dir_name("console"));
    }

    #[test]
    fn verbatim_windows_prefixes_are_dropped() {
        assert_eq!(
            path_text(Path::new(r"\\?\C:\Users\me\proj")),
            r"C:\Users\me\proj"
        );
        assert_eq!(
            path_text(Path::new(r"\\?\UNC\srv\share\p")),
            r"\\srv\share\p"
        );
        assert_eq!(path_text(Path::new("/x/app")), "/x/app");
        assert_eq!(
            project_folder_name(&path_text(Path::new(r"\\?\C:\Users\me\proj"))),
            "C--Users-me-proj"
        );
    }

    #[test]
    fn path_within_respects_boundaries() {
        assert!(path_within("/x/app", "/x/app"));
        assert!(path_within("/x/app/", "/x/app"));
        assert!(path_within("/x/app/src/a", "/x/app"));
        assert!(path_within(r"C:\x\app\src", r"C:\x\app"));
        assert!(!path_within("/x/app-old", "/x/app"));
        assert!(!path_within("/x/ap", "/x/app"));
        assert!(!path_within("/x", "/x/app"));
    }
}

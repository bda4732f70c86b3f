//! The local Claude Code store: `<claude-dir>/projects/<folder>/<session-uuid>.jsonl` and its side
//! data (docs/claude-code-store.md).
//!
//! - [`folder_name`]: Claude Code's rule from a working folder to its project folder name
//! - [`records`]: a tolerant streaming reader of session files (glued lines, torn lines, junk)
//! - [`tail`]: a session's branch, last activity and folder, read from the end of its file
//! - [`scan`]: the sessions of a repository, one session by id, its side files, record counts
//! - [`cache`]: what was learned from each file, kept between runs and keyed so a changed or
//!   copied file is never taken for the one read before

pub mod cache;
pub mod folder_name;
pub mod records;
pub mod scan;
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

/// `<claude-dir>/projects`, where every project folder lives.
pub fn projects_dir(claude_dir: &Path) -> PathBuf {
    claude_dir.join("projects")
}

/// `<claude-dir>/projects/<folder>`: where Claude Code keeps the sessions it runs in
/// `resolved_cwd` (a realpath) and where `claude --resume` looks for them.
pub fn project_dir(claude_dir: &Path, resolved_cwd: &Path) -> PathBuf {
    projects_dir(claude_dir).join(project_folder_name(&path_text(resolved_cwd)))
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

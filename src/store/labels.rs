//! How the local sessions of a repository are told to people: the folder each ran in, relative
//! to the repository root, and why a repository has none.

use std::path::Path;

use super::LocalSession;

/// Why a repository has no session, and what to do about it.
pub fn explain_empty(claude_dir: &Path, root: &Path) -> String {
    if !claude_dir.is_dir() {
        return format!(
            "no Claude folder at {}: run Claude Code once, or point ccsync at your Claude folder with CLAUDE_CONFIG_DIR or --claude-dir",
            claude_dir.display()
        );
    }
    let projects = super::projects_dir(claude_dir);
    if !projects.is_dir() {
        return format!(
            "the Claude folder {} has no projects/ folder yet: no Claude Code session was recorded with it (wrong folder? set CLAUDE_CONFIG_DIR or --claude-dir)",
            claude_dir.display()
        );
    }
    format!(
        "no Claude Code session of {} in {}: run `claude` in this repository first",
        root.display(),
        super::project_dir(claude_dir, root).display()
    )
}

/// Where the session ran, relative to the repository root (`.` for the root itself); the project
/// folder name when the recorded folder is elsewhere (a session copied from another machine).
pub fn folder_label(session: &LocalSession, root: &Path, claude_dir: &Path) -> String {
    FolderLabels::new(root, claude_dir).of(session)
}

/// [`folder_label`] for many sessions of one repository (the root's folder computed once).
pub struct FolderLabels {
    own_dir: std::path::PathBuf,
    root_text: String,
}

impl FolderLabels {
    pub fn new(root: &Path, claude_dir: &Path) -> Self {
        FolderLabels {
            own_dir: super::project_dir(claude_dir, root),
            root_text: super::path_text(root),
        }
    }

    pub fn of(&self, session: &LocalSession) -> String {
        if session.project_dir == self.own_dir {
            return ".".to_owned();
        }
        let root_text = &self.root_text;
        match session.cwd.as_deref() {
            Some(cwd) if super::path_within(cwd, root_text) => {
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

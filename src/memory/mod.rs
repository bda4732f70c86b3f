//! Project memory: `<project folder>/memory/**` (`MEMORY.md` and friends), which Claude Code reads at
//! start and shares between all sessions of a folder. It travels with every pushed session (archive
//! entries `memory/...`) so that what CI learned comes home and what the laptop learned reaches CI.
//!
//! Neither side may lose an edit. This module keeps, per machine, the sha256 each memory file had
//! when it was last synced (pushed or restored), in `<claude-dir>/ccsync/memory-sync.json`, and
//! decides per file from three hashes (local, incoming, last synced) whether a restore installs the
//! incoming file, keeps the local one, or installs it after saving the local one as a backup.
//!
//! The record also says which files existed at the last sync, so a deletion travels: a push
//! names the files deleted here since then (`deletedSideFiles` in the metadata, carried forward by
//! later pushes), a restore deletes them on the other side ([`incoming`]) and a push never puts a
//! file back that the stored copy deleted ([`outgoing`]). Memory is loaded into Claude's context as
//! instructions, so a restore names every file it installs, changes or deletes, and memory from
//! another lineage (another branch's or a fork's release) is installed only when asked.

pub mod incoming;
pub mod outgoing;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The folder of a project folder that holds its memory.
pub const DIR: &str = "memory";

/// The memory files of a project folder, relative to it (`memory/MEMORY.md`, ...), sorted;
/// regular files only (links are never followed or packed).
pub fn files(project_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let root = project_dir.join(DIR);
    if root.is_dir() && !root.is_symlink() {
        walk(project_dir, &root, &mut out)?;
    }
    out.sort();
    Ok(out)
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            walk(base, &path, out)?;
        } else if kind.is_file() {
            out.push(path.strip_prefix(base).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

/// Whether an archive entry (relative to the project folder) is project memory.
pub fn is_memory(rel: &Path) -> bool {
    rel.components()
        .next()
        .is_some_and(|c| c.as_os_str() == DIR)
}

/// The sha256 of a file's bytes, lower-case hex; `None` when it does not exist.
pub fn sha256_of(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(hex::encode(Sha256::digest(&bytes)))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// What a restore does with one incoming memory file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The local file already has these bytes.
    Same,
    /// No local file, or only the other side changed it since the last sync: install.
    Install,
    /// Only this side changed it since the last sync: keep the local file.
    KeepLocal,
    /// Both sides changed it (or it was never synced here and differs): save the local file as a
    /// backup, then install, and say so.
    BackupAndInstall,
}

/// The rule, from the local file's hash (`None`: absent), the incoming one, and the hash the
/// file had when this machine last synced it (`None`: never).
pub fn decide(local: Option<&str>, incoming: &str, synced: Option<&str>) -> Decision {
    match local {
        None => Decision::Install,
        Some(local) if local == incoming => Decision::Same,
        Some(_) if synced == Some(incoming) => Decision::KeepLocal,
        Some(local) if synced == Some(local) => Decision::Install,
        Some(_) => Decision::BackupAndInstall,
    }
}

/// This machine's record of the last-synced state of memory files: absolute path -> sha256 (a
/// file in it existed at the last sync), and per session the archive last synced.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncRecord {
    #[serde(default)]
    files: BTreeMap<String, String>,
    /// Files last pushed redacted (a secret in them): the local sha256 they had, so an unchanged
    /// file is not pushed again; not in `files`, so a restore backs them up before replacing them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    redacted: BTreeMap<String, String>,
    /// Session id -> sha256 of the stored archive this machine last pushed or restored.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    copies: BTreeMap<String, String>,
    #[serde(skip)]
    path: PathBuf,
    #[serde(skip)]
    dirty: bool,
}

impl SyncRecord {
    /// The record of `claude_dir`; empty when there is none or it cannot be read (then every
    /// differing file counts as changed on both sides: backed up, never lost).
    pub fn load(claude_dir: &Path) -> SyncRecord {
        let path = claude_dir.join("ccsync").join("memory-sync.json");
        let mut record: SyncRecord = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        record.path = path;
        record
    }

    pub fn synced(&self, file: &Path) -> Option<&str> {
        self.files
            .get(&crate::store::path_text(file))
            .map(String::as_str)
    }

    /// Whether `sha256` is what `file` held when this machine last synced it (pushed redacted
    /// included).
    pub fn unchanged(&self, file: &Path, sha256: &str) -> bool {
        let key = crate::store::path_text(file);
        self.files.get(&key).map(String::as_str) == Some(sha256)
            || self.redacted.get(&key).map(String::as_str) == Some(sha256)
    }

    pub fn set(&mut self, file: &Path, sha256: &str) {
        let key = crate::store::path_text(file);
        self.redacted.remove(&key);
        if self.files.get(&key).map(String::as_str) != Some(sha256) {
            self.files.insert(key, sha256.to_owned());
            self.dirty = true;
        }
    }

    /// A file pushed redacted: remembered as synced for pushes only (see `redacted`).
    pub fn set_redacted(&mut self, file: &Path, sha256: &str) {
        let key = crate::store::path_text(file);
        self.files.remove(&key);
        self.redacted.insert(key, sha256.to_owned());
        self.dirty = true;
    }

    /// A file deleted on one side and now on both: no longer synced.
    pub fn forget(&mut self, file: &Path) {
        let key = crate::store::path_text(file);
        let had = self.files.remove(&key).is_some() | self.redacted.remove(&key).is_some();
        self.dirty |= had;
    }

    /// The files of `dir` (a project's memory folder) that existed at the last sync.
    pub fn synced_under(&self, dir: &Path) -> Vec<PathBuf> {
        let prefix = format!("{}/", crate::store::path_text(dir).trim_end_matches('/'));
        self.files
            .keys()
            .chain(self.redacted.keys())
            .filter(|k| k.starts_with(&prefix))
            .map(PathBuf::from)
            .collect()
    }

    /// The sha256 of the archive of session `id` this machine last pushed or restored.
    pub fn copy(&self, id: &str) -> Option<&str> {
        self.copies.get(id).map(String::as_str)
    }

    pub fn set_copy(&mut self, id: &str, archive_sha256: &str) {
        if self.copy(id) != Some(archive_sha256) {
            self.copies.insert(id.to_owned(), archive_sha256.to_owned());
            self.dirty = true;
        }
    }

    /// Writes the record (atomically: a temporary file renamed over it) when it changed.
    pub fn save(&self) -> anyhow::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut temp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        serde_json::to_writer_pretty(&mut temp, self)?;
        temp.persist(&self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }
}

/// Whether a stored path (a `deletedSideFiles` entry: data from the release) names a memory file
/// safely: relative, below `memory/`, only plain components.
pub fn is_safe_memory_path(rel: &str) -> bool {
    let path = Path::new(rel);
    is_memory(path)
        && path.components().count() > 1
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        && !rel.contains('\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whose_side_changed_decides() {
        use Decision::*;
        assert_eq!(decide(None, "r", None), Install);
        assert_eq!(decide(Some("r"), "r", None), Same);
        // Only the other side changed it.
        assert_eq!(decide(Some("s"), "r", Some("s")), Install);
        // Only this side changed it.
        assert_eq!(decide(Some("l"), "s", Some("s")), KeepLocal);
        // Both, or never synced here.
        assert_eq!(decide(Some("l"), "r", Some("s")), BackupAndInstall);
        assert_eq!(decide(Some("l"), "r", None), BackupAndInstall);
    }

    #[test]
    fn the_record_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut record = SyncRecord::load(dir.path());
        let file = dir.path().join("projects/p/memory/MEMORY.md");
        assert_eq!(record.synced(&file), None);
        record.set(&file, "abc");
        record.save().unwrap();
        assert_eq!(SyncRecord::load(dir.path()).synced(&file), Some("abc"));
    }

    #[test]
    fn memory_files_are_listed_relative() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("memory/topics")).unwrap();
        std::fs::write(dir.path().join("memory/MEMORY.md"), "x").unwrap();
        std::fs::write(dir.path().join("memory/topics/a.md"), "y").unwrap();
        std::fs::write(dir.path().join("other.md"), "z").unwrap();
        assert_eq!(
            files(dir.path()).unwrap(),
            vec![
                PathBuf::from("memory/MEMORY.md"),
                PathBuf::from("memory/topics/a.md")
            ]
        );
        assert!(is_memory(Path::new("memory/MEMORY.md")));
        assert!(is_safe_memory_path("memory/topics/a.md"));
        for bad in [
            "memory",
            "memory/../x",
            "/memory/a",
            "other/a",
            "memory/a\\..\\b",
        ] {
            assert!(!is_safe_memory_path(bad), "{bad}");
        }
        assert!(!is_memory(Path::new("memoryx/a")));
    }
}

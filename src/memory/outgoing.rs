//! What a push carries of a project's memory: the files to upload, the deletions to name
//! (`deletedSideFiles`), and whether anything changed since this machine last synced, so that a
//! push whose only change is memory uploads it ("up to date" means transcript and memory).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{files, is_safe_memory_path, sha256_of, SyncRecord, DIR};

/// The memory part of one push.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Memory files to pack, relative to the project folder.
    pub upload: Vec<PathBuf>,
    /// The new copy's `deletedSideFiles`: files deleted here since the last sync, and those the
    /// stored copy named that are still absent from the upload.
    pub deleted: Vec<String>,
    /// Files deleted here since the last sync (no longer synced once the push is stored).
    pub deleted_here: Vec<PathBuf>,
    /// Something changed here since the last sync: an edit, a new file or a deletion.
    pub changed: bool,
    /// Files left out because the stored copy deleted them and they are unchanged here.
    pub left_out: Vec<PathBuf>,
}

/// Compares the memory of `project_dir` with the record of the last sync and with the stored
/// copy's deletions (`stored_deleted`, from its metadata).
pub fn outgoing(
    project_dir: &Path,
    record: &SyncRecord,
    stored_deleted: &[String],
) -> anyhow::Result<Outgoing> {
    let stored_deleted: BTreeSet<&str> = stored_deleted
        .iter()
        .map(String::as_str)
        .filter(|rel| is_safe_memory_path(rel))
        .collect();
    let mut out = Outgoing::default();
    for rel in files(project_dir)? {
        let file = project_dir.join(&rel);
        let Some(sha) = sha256_of(&file)? else {
            continue;
        };
        let unchanged = record.unchanged(&file, &sha);
        // The other side deleted it and this side did not touch it since: it stays deleted.
        if unchanged && stored_deleted.contains(crate::store::path_text(&rel).as_str()) {
            out.left_out.push(rel);
            continue;
        }
        out.changed |= !unchanged;
        out.upload.push(rel);
    }
    let memory_dir = project_dir.join(DIR);
    for file in record.synced_under(&memory_dir) {
        if file.exists() {
            continue;
        }
        let rel = file
            .strip_prefix(project_dir)
            .unwrap_or(&file)
            .to_path_buf();
        let text = crate::store::path_text(&rel);
        out.changed |= !stored_deleted.contains(text.as_str());
        out.deleted_here.push(file);
    }
    let uploaded: BTreeSet<String> = out
        .upload
        .iter()
        .map(|rel| crate::store::path_text(rel))
        .collect();
    let mut deleted: BTreeSet<String> = stored_deleted
        .iter()
        .map(|rel| (*rel).to_owned())
        .filter(|rel| !uploaded.contains(rel))
        .collect();
    for file in &out.deleted_here {
        if let Ok(rel) = file.strip_prefix(project_dir) {
            deleted.insert(crate::store::path_text(rel));
        }
    }
    out.deleted = deleted.into_iter().collect();
    Ok(out)
}

impl Outgoing {
    /// After the push is stored: the uploaded files are synced as they are here (those uploaded
    /// redacted as such), the deletions are synced, and the copy is this machine's last.
    pub fn record_pushed(
        &self,
        record: &mut SyncRecord,
        project_dir: &Path,
        redacted: &dyn Fn(&Path) -> bool,
        session_id: &str,
        archive_sha256: &str,
    ) {
        for rel in &self.upload {
            let file = project_dir.join(rel);
            if let Ok(Some(sha)) = sha256_of(&file) {
                if redacted(rel) {
                    record.set_redacted(&file, &sha);
                } else {
                    record.set(&file, &sha);
                }
            }
        }
        for file in &self.deleted_here {
            record.forget(file);
        }
        record.set_copy(session_id, archive_sha256);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, SyncRecord) {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("projects/p");
        std::fs::create_dir_all(project.join("memory")).unwrap();
        let record = SyncRecord::load(dir.path());
        (dir, project, record)
    }

    #[test]
    fn edits_new_files_and_deletions_are_changes() {
        let (_dir, project, mut record) = setup();
        let a = project.join("memory/A.md");
        let b = project.join("memory/B.md");
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let first = outgoing(&project, &record, &[]).unwrap();
        assert!(first.changed, "never synced: new");
        first.record_pushed(&mut record, &project, &|_| false, "s", "x");
        let again = outgoing(&project, &record, &[]).unwrap();
        assert!(!again.changed);
        assert_eq!(again.upload.len(), 2);

        std::fs::remove_file(&b).unwrap();
        let gone = outgoing(&project, &record, &[]).unwrap();
        assert!(gone.changed);
        assert_eq!(gone.deleted, ["memory/B.md"]);
        gone.record_pushed(&mut record, &project, &|_| false, "s", "y");
        // Deleted and synced: the stored copy's own deletion list is no change.
        let after = outgoing(&project, &record, &["memory/B.md".into()]).unwrap();
        assert!(!after.changed);
        assert_eq!(after.deleted, ["memory/B.md"], "carried forward");

        std::fs::write(&a, "edited").unwrap();
        assert!(outgoing(&project, &record, &[]).unwrap().changed);
    }

    #[test]
    fn a_file_the_stored_copy_deleted_is_not_put_back() {
        let (_dir, project, mut record) = setup();
        let b = project.join("memory/B.md");
        std::fs::write(&b, "b").unwrap();
        record.set(&b, &sha256_of(&b).unwrap().unwrap());
        let out = outgoing(&project, &record, &["memory/B.md".into(), "../x".into()]).unwrap();
        assert!(out.upload.is_empty() && !out.changed);
        assert_eq!(out.deleted, ["memory/B.md"]);
        // Changed here since: the edit travels and the deletion is dropped.
        std::fs::write(&b, "b, edited").unwrap();
        let out = outgoing(&project, &record, &["memory/B.md".into()]).unwrap();
        assert_eq!(out.upload, [PathBuf::from("memory/B.md")]);
        assert!(out.changed && out.deleted.is_empty());
    }
}

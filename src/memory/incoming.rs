//! A restore's installing of the project memory a stored copy brings: per file by
//! [`super::decide`], deletions the other side made ([`crate::bundle::metadata::Metadata`]'s
//! `deletedSideFiles`), and provenance. Memory is loaded into Claude's context as instructions, so
//! every file installed, changed or deleted is named ([`MemoryReport`]), and memory from another
//! lineage (a release of another branch or of a fork than the one this checkout continues) is only
//! saved aside for review unless the user accepts it (`--accept-memory`), and then never installed
//! over a local file without a backup.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use super::{decide, is_memory, is_safe_memory_path, sha256_of, Decision, SyncRecord, DIR};

/// Where the incoming memory comes from, against the branch this checkout continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lineage {
    /// The release of the branch being continued.
    Same,
    /// Another branch's or a fork's release, without `--accept-memory`: nothing installed.
    OtherHeldBack,
    /// Another branch's or a fork's release, with `--accept-memory`: installed, every replaced
    /// or deleted local file saved first.
    OtherAccepted,
}

/// What a restore did with project memory, for people (one line) and `--json` (`memory`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryReport {
    /// Files that did not exist here and were installed (relative to the project folder).
    pub installed: Vec<String>,
    /// Local files replaced by the stored version.
    pub changed: Vec<String>,
    /// Local files deleted because the other side deleted them.
    pub deleted: Vec<String>,
    /// Files kept as they are here (only this side changed them, or never synced here).
    pub kept_local: Vec<String>,
    /// Stored files not installed (another lineage without `--accept-memory`, or never synced here
    /// and different): saved in `incomingFolder`.
    pub held_back: Vec<String>,
    /// Where the local files that were replaced or deleted were saved first.
    pub backup_folder: Option<PathBuf>,
    /// Where the stored files that were not installed were saved.
    pub incoming_folder: Option<PathBuf>,
    /// The branch of the release the memory came from.
    pub from_branch: String,
    /// `true` when that release is of another lineage than the branch this checkout continues.
    pub other_lineage: bool,
}

impl MemoryReport {
    /// Something was installed, changed or deleted.
    pub fn touched(&self) -> bool {
        !(self.installed.is_empty() && self.changed.is_empty() && self.deleted.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        !self.touched() && self.kept_local.is_empty() && self.held_back.is_empty()
    }

    /// The one line that names every memory file the restore installed, changed or deleted.
    pub fn summary_line(&self, project_dir: &Path) -> Option<String> {
        if !self.touched() {
            return None;
        }
        let mut parts = Vec::new();
        for (what, list) in [
            ("installed", &self.installed),
            ("changed", &self.changed),
            ("deleted", &self.deleted),
        ] {
            if !list.is_empty() {
                let names: Vec<String> = list
                    .iter()
                    .map(|f| crate::neutral::text(f).into_owned())
                    .collect();
                parts.push(format!("{what} {}", names.join(", ")));
            }
        }
        Some(format!(
            "project memory from the release of branch `{}`: {} (in {}). Claude Code reads it as instructions at start: look at it before you resume",
            crate::neutral::text(&self.from_branch),
            parts.join("; "),
            project_dir.display()
        ))
    }
}

/// One restore's memory: the staged (path-mapped) files, the stored deletions, and the rule.
pub struct Incoming<'a> {
    /// The folder holding the staged files at their paths relative to the project folder.
    pub staged: &'a Path,
    /// The staged files (all of the archive's; only memory is handled here).
    pub files: &'a [PathBuf],
    /// The stored copy's `deletedSideFiles`.
    pub deleted: &'a [String],
    pub project_dir: &'a Path,
    pub lineage: Lineage,
    pub from_branch: &'a str,
}

impl Incoming<'_> {
    /// Installs, keeps, saves aside or deletes each memory file, updating `record`.
    pub fn apply(&self, record: &mut SyncRecord) -> anyhow::Result<MemoryReport> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut report = MemoryReport {
            from_branch: self.from_branch.to_owned(),
            other_lineage: self.lineage != Lineage::Same,
            ..Default::default()
        };
        let mut aside = Aside {
            project_dir: self.project_dir,
            stamp: &stamp,
            report: &mut report,
        };
        for rel in self.files.iter().filter(|rel| is_memory(rel)) {
            self.one_file(rel, record, &mut aside)?;
        }
        if self.lineage != Lineage::OtherHeldBack {
            for rel in self.deleted.iter().filter(|rel| is_safe_memory_path(rel)) {
                self.one_deletion(rel, record, &mut aside)?;
            }
        }
        Ok(report)
    }

    fn one_file(
        &self,
        rel: &Path,
        record: &mut SyncRecord,
        aside: &mut Aside<'_>,
    ) -> anyhow::Result<()> {
        let src = self.staged.join(rel);
        let dst = self.project_dir.join(rel);
        let name = crate::store::path_text(rel);
        let incoming = sha256_of(&src)?.unwrap_or_default();
        let local = sha256_of(&dst)?;
        if local.as_deref() == Some(incoming.as_str()) {
            if self.lineage != Lineage::OtherHeldBack {
                record.set(&dst, &incoming);
            }
            return Ok(());
        }
        let decision = match self.lineage {
            Lineage::Same => decide(local.as_deref(), &incoming, record.synced(&dst)),
            Lineage::OtherAccepted => Decision::BackupAndInstall,
            Lineage::OtherHeldBack => {
                aside.incoming(&src, rel)?;
                aside.report.held_back.push(name);
                return Ok(());
            }
        };
        match decision {
            Decision::Same => {}
            Decision::KeepLocal => aside.report.kept_local.push(name),
            Decision::BackupAndInstall
                if self.lineage == Lineage::Same && record.synced(&dst).is_none() =>
            {
                // Never synced here and different: neither side's edit can be told apart.
                aside.incoming(&src, rel)?;
                aside.report.held_back.push(name);
            }
            Decision::Install | Decision::BackupAndInstall => {
                if local.is_some() {
                    if decision == Decision::BackupAndInstall {
                        aside.backup(&dst, rel)?;
                    }
                    aside.report.changed.push(name);
                } else {
                    aside.report.installed.push(name);
                }
                crate::store::install_staged(&src, &dst)?;
                record.set(&dst, &incoming);
            }
        }
        Ok(())
    }

    /// The other side deleted `rel` since it last synced: deleted here too, saved first when it
    /// changed here since the last sync; kept when this machine never synced it (a new file).
    fn one_deletion(
        &self,
        rel: &str,
        record: &mut SyncRecord,
        aside: &mut Aside<'_>,
    ) -> anyhow::Result<()> {
        let dst = self.project_dir.join(rel);
        let Some(local) = sha256_of(&dst)? else {
            record.forget(&dst);
            return Ok(());
        };
        let synced = record.synced(&dst).is_some() || record.unchanged(&dst, &local);
        if self.lineage == Lineage::Same && !synced {
            aside.report.kept_local.push(rel.to_owned());
            return Ok(());
        }
        if self.lineage != Lineage::Same || !record.unchanged(&dst, &local) {
            aside.backup(&dst, Path::new(rel))?;
        }
        std::fs::remove_file(&dst).with_context(|| format!("cannot delete {}", dst.display()))?;
        record.forget(&dst);
        aside.report.deleted.push(rel.to_owned());
        Ok(())
    }
}

/// The two folders beside `memory/` where files are saved (outside it, so they neither travel
/// nor are read as memory).
struct Aside<'a> {
    project_dir: &'a Path,
    stamp: &'a str,
    report: &'a mut MemoryReport,
}

impl Aside<'_> {
    fn folder(&self, kind: &str) -> PathBuf {
        self.project_dir
            .join(format!("{DIR}.ccsync-{kind}-{}", self.stamp))
    }

    fn target(&self, kind: &str, rel: &Path) -> anyhow::Result<PathBuf> {
        let path = self.folder(kind).join(rel.strip_prefix(DIR).unwrap_or(rel));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        Ok(path)
    }

    /// Saves a local file before it is replaced or deleted.
    fn backup(&mut self, local: &Path, rel: &Path) -> anyhow::Result<()> {
        let path = self.target("backup", rel)?;
        std::fs::copy(local, &path)
            .with_context(|| format!("cannot save {} as {}", local.display(), path.display()))?;
        self.report.backup_folder = Some(self.folder("backup"));
        Ok(())
    }

    /// Saves a stored file that is not installed.
    fn incoming(&mut self, staged: &Path, rel: &Path) -> anyhow::Result<()> {
        let path = self.target("incoming", rel)?;
        std::fs::rename(staged, &path)
            .or_else(|_| std::fs::copy(staged, &path).map(|_| ()))
            .with_context(|| format!("cannot save the stored {}", path.display()))?;
        self.report.incoming_folder = Some(self.folder("incoming"));
        Ok(())
    }
}

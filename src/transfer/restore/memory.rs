//! Project memory in a restore: what the stored copy brings is installed by the rules of
//! [`crate::memory::incoming`], and said; and before a push, a stored copy another machine
//! pushed since brings its memory in first ([`memory_from_stored`]).

use std::path::Path;

use anyhow::Context as _;

use crate::bundle::Extracted;
use crate::memory::incoming::{Incoming, Lineage, MemoryReport};
use crate::neutral;
use crate::release::GitHub;
use crate::scratch::RunDir;
use crate::stored::{self, StoredSession};
use crate::ui::Ui;

use super::compare::Compared;
use super::rewrite::{path_map, rewrite_memory};
use super::{RestoreOutcome, Target};

/// The memory of the extracted copy (staged rewritten under `staged`) installed by the memory
/// rules, recorded in the comparison's sync record.
pub(super) fn incoming(
    staged: &Path,
    extracted: &Extracted,
    stored: &StoredSession,
    target: &Target,
    compared: &mut Compared,
) -> anyhow::Result<MemoryReport> {
    Incoming {
        staged,
        files: &extracted.files,
        deleted: &stored.meta.deleted_side_files,
        project_dir: &target.project_dir,
        lineage: compared.lineage,
        from_branch: &compared.from_branch,
    }
    .apply(&mut compared.record)
}

/// Where a push's session lives, for [`memory_from_stored`].
pub struct Places<'a> {
    pub claude_dir: &'a Path,
    pub project_dir: &'a Path,
    pub claude_cwd: &'a Path,
    pub local_root: &'a Path,
}

/// Before a push: the project memory of `stored` (a copy another machine pushed since this one
/// last synced) installed here by the restore rules, so the push carries the other side's memory
/// edits and deletions instead of putting this machine's older files back over them. Says what
/// it did, and records the copy as synced.
pub fn memory_from_stored(
    ui: &Ui,
    rt: &tokio::runtime::Runtime,
    gh: &GitHub,
    stored: &StoredSession,
    places: &Places<'_>,
    passphrase: Option<&str>,
    branch: &str,
) -> anyhow::Result<MemoryReport> {
    let target = Target {
        claude_cwd: places.claude_cwd.to_path_buf(),
        local_root: places.local_root.to_path_buf(),
        project_dir: places.project_dir.to_path_buf(),
        passphrase: passphrase.map(str::to_owned),
        claude_dir: places.claude_dir.to_path_buf(),
        continued: Some(branch.to_owned()),
    };
    let projects = target.project_dir.parent().unwrap_or(&target.project_dir);
    std::fs::create_dir_all(projects)
        .with_context(|| format!("cannot create {}", projects.display()))?;
    let staging = RunDir::in_folder(projects)?;
    let scratch = RunDir::in_temp()?;
    let extracted =
        stored::fetch_archive(rt, gh, stored, scratch.path(), staging.path(), passphrase)?;
    let rewritten = rewrite_memory(&extracted, &path_map(stored, &target))?;
    let mut record = crate::memory::SyncRecord::load(&target.claude_dir);
    let report = Incoming {
        staged: rewritten.path(),
        files: &extracted.files,
        deleted: &stored.meta.deleted_side_files,
        project_dir: &target.project_dir,
        lineage: Lineage::Same,
        from_branch: branch,
    }
    .apply(&mut record)?;
    record.set_copy(&stored.meta.session_id, stored.meta.copy_sha256());
    record.save()?;
    say_memory(ui, &report, &target.project_dir);
    Ok(report)
}

/// Records the memory sync, says what the restore did with memory, and keeps it for `--json`.
pub(super) fn finish_memory(
    ui: &Ui,
    outcome: &mut RestoreOutcome,
    report: MemoryReport,
    record: &mut crate::memory::SyncRecord,
    stored: &StoredSession,
    project_dir: &Path,
) {
    // Held back: the next restore (or one with --accept-memory) looks at this copy again.
    if report.held_back.is_empty() || !report.other_lineage {
        record.set_copy(&stored.meta.session_id, stored.meta.copy_sha256());
    }
    if let Err(e) = record.save() {
        ui.warn(&format!(
            "cannot record the project memory's sync state: {e:#}"
        ));
    }
    say_memory(ui, &report, project_dir);
    if !report.is_empty() {
        outcome.memory = Some(report);
    }
}

/// One line naming every memory file installed, changed or deleted; warnings for what was saved
/// aside or held back.
fn say_memory(ui: &Ui, report: &MemoryReport, project_dir: &Path) {
    let names = |list: &[String]| {
        list.iter()
            .map(|f| neutral::text(f).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(line) = report.summary_line(project_dir) {
        if report.other_lineage {
            ui.warn(&line);
        } else {
            ui.notice(&line);
        }
    }
    if !report.kept_local.is_empty() {
        ui.detail(&format!(
            "kept your local project memory {}: only this machine changed it since it was last synced",
            names(&report.kept_local)
        ));
    }
    if let Some(folder) = &report.backup_folder {
        ui.warn(&format!(
            "project memory that changed here was replaced or deleted by the stored session's: yours is saved in {}",
            folder.display()
        ));
    }
    if let (Some(folder), false) = (&report.incoming_folder, report.held_back.is_empty()) {
        if report.other_lineage {
            ui.warn(&format!(
                "project memory {} comes from the release of branch `{}`, not from the branch this checkout continues: \
                 not installed (Claude Code reads memory as instructions). The stored files are saved in {} for review; \
                 restore again with --accept-memory to install them (your files are saved first)",
                names(&report.held_back),
                neutral::text(&report.from_branch),
                folder.display()
            ));
        } else {
            ui.warn(&format!(
                "kept your local project memory {}: the stored session brought another version and this machine \
                 never synced it, so neither side's edits can be told apart; the stored version is saved in {}",
                names(&report.held_back),
                folder.display()
            ));
        }
    }
}

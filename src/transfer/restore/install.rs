//! Restore, step 4: install the fetched copy. A local copy equal or ahead stays (what memory and
//! state the stored copy brings still comes in); a diverged one is replaced only with `--force`,
//! after it was saved; otherwise the stored copy's files are renamed into place, side files first
//! and the session file last, with the state at this machine's places and memory by its rules.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::exit::Exit;
use crate::neutral;
use crate::store;
use crate::stored::StoredSession;
use crate::sync::{self, Relation};
use crate::ui::Ui;

use super::compare::{keep_local, note_branch, Compared};
use super::fetch::Fetched;
use super::memory::{finish_memory, incoming};
use super::rewrite::{path_map, rewrite_extracted, rewrite_memory};
use super::state::same_bytes;
use super::{state, RestoreJob, RestoreOutcome, Target};

impl RestoreJob<'_> {
    /// With the archive at hand: the relation decided, then the local copy kept, a conflict, or
    /// the stored copy installed.
    pub(super) fn install(
        &self,
        mut outcome: RestoreOutcome,
        stored: &StoredSession,
        target: &Target,
        mut compared: Compared,
        fetched: &Fetched,
    ) -> anyhow::Result<RestoreOutcome> {
        let (ui, args, branch) = (self.ui, self.args, self.branch);
        let id = stored.meta.session_id.clone();
        let extracted = &fetched.extracted;
        let relation = compared.relation(&extracted.path(&fetched.session_rel))?;
        outcome.relation = Some(sync::relation_label(relation));
        match relation {
            Some(relation @ (Relation::Equal | Relation::LocalAhead)) => {
                self.install_side_news(&mut outcome, stored, target, &mut compared, fetched)?;
                keep_local(ui, &mut outcome, relation, &target.project_dir);
                return Ok(outcome);
            }
            Some(Relation::Diverged) if !args.force => {
                return Err(Exit::conflict(format!(
                    "session {id} diverged: this machine and the release of branch `{branch}` each hold records the other lacks. \
                     `ccsync release-restore --session {id} --force` installs the stored copy and keeps yours as a backup beside it \
                     (with `--keep-local-as-new`, also as a session of its own); \
                     `ccsync release-push --session {id} --force` replaces the stored copy with yours"
                ))
                .into());
            }
            _ => {}
        }
        self.install_stored(
            &mut outcome,
            stored,
            target,
            &mut compared,
            fetched,
            relation,
        )?;
        Ok(outcome)
    }

    /// The transcript stays; the memory the stored copy brings is handled all the same, and so is
    /// the session state of a copy this machine has not synced (restore::state).
    fn install_side_news(
        &self,
        outcome: &mut RestoreOutcome,
        stored: &StoredSession,
        target: &Target,
        compared: &mut Compared,
        fetched: &Fetched,
    ) -> anyhow::Result<()> {
        let extracted = &fetched.extracted;
        let rewritten = rewrite_memory(extracted, &path_map(stored, target))?;
        let state_files: Vec<PathBuf> = extracted
            .files
            .iter()
            .filter(|rel| store::state::is_state(rel))
            .cloned()
            .collect();
        install_state(
            self.ui,
            outcome,
            (rewritten.path(), &state_files),
            target,
            state::Winner::PerFile,
            &mut compared.record,
        )?;
        let report = incoming(rewritten.path(), extracted, stored, target, compared)?;
        finish_memory(
            self.ui,
            outcome,
            report,
            &mut compared.record,
            stored,
            &target.project_dir,
        );
        Ok(())
    }

    /// The stored copy replaces the local one (saved first when it diverged): paths mapped, state
    /// at this machine's places, memory by its rules, then the files renamed into place.
    fn install_stored(
        &self,
        outcome: &mut RestoreOutcome,
        stored: &StoredSession,
        target: &Target,
        compared: &mut Compared,
        fetched: &Fetched,
        relation: Option<Relation>,
    ) -> anyhow::Result<()> {
        let (ui, args) = (self.ui, self.args);
        let id = stored.meta.session_id.clone();
        let (extracted, session_rel) = (&fetched.extracted, &fetched.session_rel);
        let rewritten = rewrite_extracted(extracted, &path_map(stored, target))?;
        if let Some(from) = &compared.from_link {
            from.complete(&stored.meta, &rewritten.path().join(session_rel))?;
        }
        // The session's state installs at this machine's own places (restore::state), the rest into
        // the project folder.
        let (state_files, files): (Vec<PathBuf>, Vec<PathBuf>) = extracted
            .files
            .iter()
            .cloned()
            .partition(|rel| store::state::is_state(rel));
        if relation == Some(Relation::Diverged) {
            if args.keep_local_as_new {
                let new = store::fork::copy_as_new(&target.project_dir, &id)
                    .context("cannot keep the diverged local copy as a new session")?;
                outcome.kept_as_session = Some(new);
            }
            let saved =
                backup_replaced(rewritten.path(), &files, &target.project_dir, session_rel)?;
            outcome.backup = saved.session;
            outcome.side_backup = saved.side_folder;
        }
        let side_saved = outcome.side_backup.is_some();
        let winner = state::Winner::Stored {
            // A delta brings only the state files that changed: the local ones it lacks stay.
            prune_tasks: stored.meta.claude_dir.is_some() && compared.from_link.is_none(),
        };
        install_state(
            ui,
            outcome,
            (rewritten.path(), &state_files),
            target,
            winner,
            &mut compared.record,
        )?;
        let report = incoming(rewritten.path(), extracted, stored, target, compared)?;
        install(&rewritten, &files, &target.project_dir, session_rel)?;
        if let Some(from) = &compared.from_link {
            from.remove_gone(&stored.meta, &extracted.files, &target.project_dir)?;
        }
        outcome.action = "installed";
        note_branch(ui, &target.project_dir, &id, self.branch);
        finish_memory(
            ui,
            outcome,
            report,
            &mut compared.record,
            stored,
            &target.project_dir,
        );
        say_installed(ui, outcome, stored, target, side_saved);
        Ok(())
    }
}

/// What the install did, and how to continue.
fn say_installed(
    ui: &Ui,
    outcome: &RestoreOutcome,
    stored: &StoredSession,
    target: &Target,
    side_saved: bool,
) {
    let id = &stored.meta.session_id;
    let session_file = target.project_dir.join(format!("{id}.jsonl"));
    ui.info(&format!(
        "restored session {id} ({}, last activity {}) into {}",
        crate::ui::count(stored.meta.records, "record"),
        neutral::text(stored.meta.last_timestamp.as_deref().unwrap_or("unknown")),
        session_file.display()
    ));
    if let Some(backup) = &outcome.backup {
        ui.warn(&format!(
            "your diverged local copy was saved as {}",
            backup.display()
        ));
    }
    if let Some(new) = &outcome.kept_as_session {
        ui.warn(&format!(
            "your diverged local copy is kept as session {new}: claude --resume {new}"
        ));
    }
    if let Some(folder) = outcome.side_backup.as_ref().filter(|_| side_saved) {
        ui.warn(&format!(
            "the local side files of session {id} that differed from the stored ones (subagent transcripts, tool results) were saved in {}",
            folder.display()
        ));
    }
    ui.info(&format!(
        "continue it with: claude --resume {id}   (from {})",
        target.claude_cwd.display()
    ));
}

/// Installs the session's state staged in `staged` (`files`: its `.ccsync-state/` entries) at this
/// machine's places (restore::state), and says what it installed and saved.
fn install_state(
    ui: &Ui,
    outcome: &mut RestoreOutcome,
    (staged, files): (&Path, &[PathBuf]),
    target: &Target,
    winner: state::Winner,
    record: &mut crate::memory::SyncRecord,
) -> anyhow::Result<()> {
    let id = outcome.session_id.clone().unwrap_or_default();
    let backup_folder = outcome.side_backup.clone().unwrap_or_else(|| {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        target
            .project_dir
            .join(format!("{id}.ccsync-backup-{stamp}"))
    });
    let places = state::StatePlaces {
        roots: store::state::Roots::here(&target.claude_dir),
        project_dir: &target.project_dir,
        session_id: &id,
    };
    let done = state::install(staged, files, &places, &backup_folder, winner, record)?;
    if done.files > 0 {
        ui.detail(&format!(
            "installed {} of session {id} (tasks, file history, plans, background outputs) at this machine's places",
            crate::ui::count(done.files as u64, "state file")
        ));
    }
    if done.saved > 0 {
        ui.warn(&format!(
            "{} of session {id} (tasks, file history, plans, background outputs) differed from the stored \
             copy that replaced them; they were saved in {}",
            crate::ui::count(done.saved as u64, "local state file"),
            backup_folder.display()
        ));
        outcome.side_backup = Some(backup_folder);
    }
    Ok(())
}

/// Where a forced install saved the local files it replaced.
#[derive(Debug, Default)]
struct Saved {
    /// `<uuid>.jsonl.ccsync-backup-<time>`, beside the session file.
    session: Option<PathBuf>,
    /// `<uuid>.ccsync-backup-<time>/`, beside the session file: the side files that differed, at
    /// their paths relative to the project folder. Outside `<uuid>/`, so a later push does not
    /// take the backups for side data of the session.
    side_folder: Option<PathBuf>,
}

/// Before a forced install: saves every local file of the session that the install replaces and
/// that differs from the staged version. Files only the local side has stay where they are
/// (nothing replaces them); project memory is never replaced by the install, so not saved here.
fn backup_replaced(
    staged: &Path,
    files: &[PathBuf],
    project_dir: &Path,
    session_rel: &Path,
) -> anyhow::Result<Saved> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut saved = Saved::default();
    let session_file = project_dir.join(session_rel);
    for rel in files {
        let local = project_dir.join(rel);
        if rel.starts_with("memory") || !local.is_file() || same_bytes(&local, &staged.join(rel))? {
            continue;
        }
        let backup = if rel.as_path() == session_rel {
            let backup = session_file.with_extension(format!("jsonl.ccsync-backup-{stamp}"));
            saved.session = Some(backup.clone());
            backup
        } else {
            let stem = session_rel.with_extension("");
            let folder = project_dir.join(format!("{}.ccsync-backup-{stamp}", stem.display()));
            saved.side_folder = Some(folder.clone());
            folder.join(rel)
        };
        if let Some(parent) = backup.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::copy(&local, &backup)
            .with_context(|| format!("cannot save {} as {}", local.display(), backup.display()))?;
    }
    Ok(saved)
}

/// Renames the rewritten files into the project folder: side files first, the session file
/// last (its appearance marks a complete restore), each rename atomic, each installed file dated
/// now (Claude Code sweeps old transcripts by modification time). Project memory is not among
/// them: [`Incoming`] installed what it decided to.
fn install(
    staged: &tempfile::TempDir,
    files: &[PathBuf],
    project_dir: &Path,
    session_rel: &Path,
) -> anyhow::Result<()> {
    let side = files
        .iter()
        .filter(|rel| rel.as_path() != session_rel && !crate::memory::is_memory(rel));
    for rel in side.chain(std::iter::once(&session_rel.to_path_buf())) {
        store::install_staged(&staged.path().join(rel), &project_dir.join(rel))?;
    }
    Ok(())
}

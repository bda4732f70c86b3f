//! Restore, step 2: the stored session against this machine: where its local copy is, whether an
//! encrypted copy was downgraded, and how the local copy relates (uuid rule). When the metadata
//! already shows the local copy equal or ahead, and the stored copy brings nothing else, nothing
//! is downloaded.

use std::path::Path;

use crate::bundle::facts::{read_facts, SessionFacts};
use crate::memory::incoming::Lineage;
use crate::memory::SyncRecord;
use crate::neutral;
use crate::release::SessionRelease;
use crate::stored::chain::FromLink;
use crate::stored::StoredSession;
use crate::sync::{self, Relation};
use crate::ui::Ui;

use super::{RestoreJob, RestoreOutcome, Target};

/// What the comparison before the download found.
pub(super) struct Compared {
    /// The local copy's facts, when there is one.
    pub local: Option<SessionFacts>,
    /// The relation the metadata alone decides, if it does.
    pub quick: Option<Relation>,
    /// The branch whose release holds the copy, and how its memory relates to this checkout.
    pub from_branch: String,
    pub lineage: Lineage,
    /// This machine's sync record (memory and state last synced).
    pub record: SyncRecord,
    /// The local transcript is an earlier generation of the stored chain: only the later parts
    /// are fetched (docs/write-protocol.md, "Reading a chain").
    pub from_link: Option<FromLink>,
}

impl RestoreJob<'_> {
    /// Notes where the copy came from, refuses an unencrypted copy where a passphrase is set, and
    /// settles where the session goes (the folder that already holds it, without `--cwd`).
    pub(super) fn check_found(
        &self,
        outcome: &mut RestoreOutcome,
        release: &SessionRelease,
        stored: &StoredSession,
        target: &Target,
    ) -> anyhow::Result<Target> {
        let (ui, args, branch) = (self.ui, self.args, self.branch);
        outcome.release_url = Some(release.html_url.clone());
        if let Some(other) = release.branch().filter(|b| *b != branch) {
            ui.info(&format!(
                "session {} is not in the release of branch `{branch}`: restoring it from the release of branch `{other}`",
                stored.meta.session_id
            ));
            outcome.release_branch = Some(other.into_owned());
        }
        let id = stored.meta.session_id.clone();
        // A passphrase says sessions are kept encrypted here: an unencrypted copy may be a downgrade
        // by someone who can edit the release, so it is refused unless the user says otherwise.
        if target.passphrase.is_some() && !stored.encrypted() && !args.allow_unencrypted {
            anyhow::bail!(
                "session {id} in the release of branch `{}` is not encrypted, but CCSYNC_PASSPHRASE is set: \
                 its encrypted copy may have been replaced by someone with write access to the repository. \
                 Nothing was installed; pass --allow-unencrypted to install the unencrypted copy anyway",
                neutral::text(branch)
            );
        }
        outcome.session_id = Some(id.clone());
        let moved = match args.cwd {
            Some(_) => None,
            None => target.where_it_already_is(&id)?,
        };
        if let Some(existing) = &moved {
            ui.info(&format!(
                "this machine already holds session {id} in {} (the project folder of {}): updating that copy \
                 (pass --cwd to restore it for another folder)",
                existing.project_dir.display(),
                existing.claude_cwd.display()
            ));
        }
        let target = moved.unwrap_or_else(|| target.clone());
        warn_if_claude_is_older(ui, stored);
        outcome.session_file = Some(target.project_dir.join(format!("{id}.jsonl")));
        Ok(target)
    }

    /// The local copy against the stored metadata. `None`: the local copy stays and nothing needs
    /// downloading (`outcome` says so); else what the install needs to know.
    pub(super) fn compare(
        &self,
        outcome: &mut RestoreOutcome,
        release: &SessionRelease,
        stored: &StoredSession,
        target: &Target,
    ) -> anyhow::Result<Option<Compared>> {
        let (ui, args, branch) = (self.ui, self.args, self.branch);
        let id = stored.meta.session_id.clone();
        let session_file = target.project_dir.join(format!("{id}.jsonl"));
        // The local copy first: when the metadata already shows it equal or ahead, nothing is downloaded.
        let local = session_file
            .is_file()
            .then(|| read_facts(&session_file, Some(stored.meta.uuid_count)))
            .transpose()?;
        let quick = local.as_ref().and_then(|facts| {
            sync::relation_from_summary(
                &facts.chain,
                stored.meta.uuid_count,
                &stored.meta.uuid_chain_sha256,
            )
        });
        let from_branch = release
            .branch()
            .map_or_else(|| branch.to_owned(), |b| b.into_owned());
        let lineage = target.lineage(&from_branch, args.accept_memory);
        let record = SyncRecord::load(&target.claude_dir);
        // A copy this machine did not last sync may bring memory (or deletions) even when the
        // transcript is the same: a push whose only change is memory.
        let side_news = args.accept_memory || record.copy(&id) != Some(stored.meta.copy_sha256());
        if let Some(relation @ (Relation::Equal | Relation::LocalAhead)) = quick {
            if !side_news {
                keep_local(ui, outcome, relation, &target.project_dir);
                return Ok(None);
            }
            if stored.encrypted() && target.passphrase.is_none() {
                ui.detail(&format!(
                    "session {id} is stored encrypted and CCSYNC_PASSPHRASE is not set: its project memory was not checked"
                ));
                keep_local(ui, outcome, relation, &target.project_dir);
                return Ok(None);
            }
        }

        let from_link = quick
            .is_none()
            .then(|| FromLink::find(stored, local.as_ref(), &session_file, record.copy(&id)))
            .flatten();
        Ok(Some(Compared {
            local,
            quick,
            from_branch,
            lineage,
            record,
            from_link,
        }))
    }
}

impl Compared {
    /// The relation once the stored transcript is at hand (`None`: no local copy).
    pub fn relation(&self, stored_transcript: &Path) -> anyhow::Result<Option<Relation>> {
        Ok(match (&self.local, self.quick) {
            (None, _) => None,
            (Some(_), Some(relation)) => Some(relation),
            // An earlier link of the chain: the stored copy continues it.
            (Some(_), None) if self.from_link.is_some() => Some(Relation::RemoteAhead),
            (Some(local), None) => {
                let remote = read_facts(stored_transcript, None)?;
                Some(sync::compare_sets(&local.chain, &remote.chain))
            }
        })
    }
}

/// Warns when the `claude` that will resume the session is older than the newest Claude Code that
/// wrote it: an older CLI can resume a newer transcript with part of its history silently missing.
fn warn_if_claude_is_older(ui: &Ui, stored: &StoredSession) {
    let Some(written) = stored.meta.claude_version.as_deref() else {
        return;
    };
    let Some(wrote) = crate::claude_cli::parse_version(written) else {
        return;
    };
    let Ok(program) = crate::claude_cli::program() else {
        ui.detail(
            "no `claude` on PATH (or CCSYNC_CLAUDE): the Claude Code version check was skipped",
        );
        return;
    };
    let Some(here) = crate::claude_cli::version_of(&program) else {
        ui.detail(&format!(
            "`{} --version` printed no version: the Claude Code version check was skipped",
            program.display()
        ));
        return;
    };
    if here >= wrote {
        return;
    }
    if here >= crate::claude_cli::NEWEST_PUBLISHED {
        // Nothing newer to install: the session came from a build this ccsync does not know yet.
        ui.detail(&format!(
            "session {} was written by Claude Code {wrote}, newer than {here} here, which is the newest \
             published version ccsync knows: no update to suggest",
            stored.meta.session_id
        ));
        return;
    }
    let progress = if stored.meta.has_progress_records {
        " This session holds `progress` records: Claude Code 2.0.77 resuming such a 2.1.x file sent \
         1 message of its history instead of 157, without an error."
    } else {
        ""
    };
    ui.warn(&format!(
        "session {} was written by Claude Code {wrote}, but the `claude` that will resume it ({}) is {here}: \
         an older Claude Code can resume a newer session with part of its history silently missing.{progress} \
         Update Claude Code to {wrote} or newer before resuming it: {}",
        stored.meta.session_id,
        program.display(),
        crate::claude_cli::how_to_get(&wrote)
    ));
}

/// The local copy stays: equal to the stored one, or ahead of it.
pub(super) fn keep_local(
    ui: &Ui,
    outcome: &mut RestoreOutcome,
    relation: Relation,
    project_dir: &Path,
) {
    let id = outcome.session_id.clone().unwrap_or_default();
    note_branch(ui, project_dir, &id, &outcome.branch);
    outcome.action = "kept-local";
    outcome.relation = Some(sync::relation_label(Some(relation)));
    let why = if relation == Relation::Equal {
        "is the same as"
    } else {
        "is ahead of"
    };
    ui.info(&format!(
        "kept the local copy of session {id}: it {why} the stored one"
    ));
}

/// Notes that the branch's release holds session `id`, which makes it the branch's session for
/// `discover` and `resume` even when its records name only a detached `HEAD` (store::belongs).
pub(super) fn note_branch(ui: &Ui, project_dir: &Path, id: &str, branch: &str) {
    if let Err(e) = crate::store::belongs::note_restored(project_dir, id, branch) {
        ui.detail(&format!(
            "could not note that session {id} is branch `{branch}`'s ({e}): `ccsync discover` may not name it"
        ));
    }
}

//! Push, step 2: find the stored copy and compare the local session with it (the uuid rule):
//! up to date, ahead (upload), or a conflict the user decides. A stored copy this machine did not
//! last sync brings its project memory in first.

use std::path::{Path, PathBuf};

use crate::bundle::facts::{read_facts, SessionFacts};
use crate::bundle::pack;
use crate::exit::Exit;
use crate::memory::outgoing::Outgoing;
use crate::neutral;
use crate::progress::Step;
use crate::release::{names, SessionRelease};
use crate::store::{self, LocalSession};
use crate::stored::write::{self, Writer};
use crate::stored::{self, MetaCache, StoredSession};
use crate::sync::{self, Relation};

use super::{MemoryPulled, PushJob, PushOutcome, Run};

/// How the local session stands against the stored copy, and what changed here besides.
pub(super) struct Compared {
    pub facts: SessionFacts,
    /// `None`: nothing is stored.
    pub relation: Option<Relation>,
    /// The memory that goes up (what the stored copy deleted, and is unchanged here, stays out).
    pub side: Outgoing,
    /// A state file of the session changed here since it was last synced.
    pub state_changed: bool,
}

impl Compared {
    /// The outcome of a push that uploads nothing (yet).
    pub fn outcome(
        &self,
        job: &PushJob<'_>,
        session: &LocalSession,
        release: Option<&SessionRelease>,
    ) -> PushOutcome {
        PushOutcome {
            session_id: session.id.clone(),
            branch: job.branch.to_owned(),
            action: "up-to-date",
            relation: sync::relation_label(self.relation),
            records: self.facts.records,
            archive_size: None,
            copy: None,
            encrypted: job.passphrase.is_some(),
            secrets_redacted: 0,
            release_url: release.map(|r| r.html_url.clone()),
            dropped_sessions: Vec::new(),
            api_requests: 0,
        }
    }
}

impl PushJob<'_> {
    /// The branch's release and the session's current copy in it. A hand-made draft is refused
    /// (unless `--force`), duplicate drafts (a lost create race) are merged first by the protocol's
    /// rules, and an interrupted write is finished before anything is compared (never "up to
    /// date" against a pair that does not match: only complete copies count).
    pub(super) fn find_stored(
        &self,
        run: &Run<'_>,
    ) -> anyhow::Result<(Option<SessionRelease>, Option<StoredSession>)> {
        let ui = self.ctx.ui;
        let session = run.session;
        let release = self.rt.block_on(self.gh.session_release(self.branch))?;
        if let Some(release) = &release {
            self.check_ours(release)?;
        }
        let release = match release {
            Some(view) if !view.duplicate_ids.is_empty() && !self.args.dry_run => Some(
                self.merge_duplicates(&view, run.writer, &session.id, run.scratch, &run.cache)?,
            ),
            other => other,
        };
        let stored = match release.as_ref() {
            None => None,
            Some(release) => write::prepare(
                self.rt,
                self.gh,
                release,
                &session.id,
                run.writer,
                !self.args.dry_run,
                run.scratch,
                &run.cache,
                &|m| ui.warn(m),
            )?,
        };
        if let (Some(release), None) = (&release, &stored) {
            self.refuse_orphan(release, &session.id, &run.cache)?;
        }
        Ok((release, stored))
    }

    /// An archive of the session that no metadata describes may hold records this machine lacks:
    /// replaced only with `--force`.
    fn refuse_orphan(
        &self,
        release: &SessionRelease,
        session_id: &str,
        cache: &MetaCache,
    ) -> anyhow::Result<()> {
        let orphan = write::orphan_archive(release, session_id, cache);
        let Some(orphan) = orphan.filter(|_| !self.args.force) else {
            return Ok(());
        };
        Err(Exit::conflict(format!(
            "the release of branch `{}` holds an archive of session {} ({}) that no metadata describes \
             (its metadata is missing or invalid: a push of an older ccsync stopped halfway, or someone edited it), \
             and that archive may hold records this machine lacks. \
             Download it from {} to keep it, then push with --force to replace it",
            self.branch,
            session_id,
            neutral::text(&orphan.name),
            neutral::text(&release.html_url)
        ))
        .into())
    }

    /// A draft with the session tag whose description lacks ccsync's marker was made by hand:
    /// `release-prune` calls it foreign, and push does not take it over unless `--force` (which
    /// still never rewrites its description).
    fn check_ours(&self, release: &SessionRelease) -> anyhow::Result<()> {
        if is_ours(release) {
            return Ok(());
        }
        if self.args.force {
            self.ctx.ui.warn(&format!(
                "the draft release `{}` was not made by ccsync (its description lacks ccsync's marker): \
                 pushing into it anyway (--force), leaving its description as it is",
                neutral::text(&release.tag_name)
            ));
            return Ok(());
        }
        Err(anyhow::anyhow!(
            "the draft release `{}` ({}) was not made by ccsync: its description lacks ccsync's marker \
             `{}`, so ccsync leaves it alone (release-prune calls it foreign). Rename or delete it to let \
             ccsync create its own, or pass --force to store the session in it anyway (its description \
             is never rewritten)",
            neutral::text(&release.tag_name),
            neutral::text(&release.html_url),
            names::BODY_MARKER
        ))
    }

    /// Merges the duplicate drafts of `view` into the kept one (crate::stored::merge). Diverged
    /// copies of the pushed session are its conflict (exit 4); of another session, a warning (the
    /// duplicates stay until someone resolves it).
    fn merge_duplicates(
        &self,
        view: &SessionRelease,
        writer: &Writer,
        session_id: &str,
        scratch: &Path,
        cache: &MetaCache,
    ) -> anyhow::Result<SessionRelease> {
        let ui = self.ctx.ui;
        let merged = stored::merge::Merger {
            rt: self.rt,
            gh: self.gh,
            claude_dir: self.claude_dir,
            own: writer,
            own_session: session_id,
            force: self.args.force,
            scratch,
            cache,
            warn: &|m| ui.warn(m),
        }
        .merge(view)?;
        for id in &merged.conflicts {
            if id == session_id {
                return Err(Exit::conflict(format!(
                    "session {id} diverged: the release of branch `{}` is split over duplicate drafts (a race of two first pushes) \
                     whose copies each hold records the other lacks, and nothing was changed. \
                     `ccsync release-restore --session {id} --force` keeps the copy readers use (yours is saved as a backup); \
                     `ccsync release-push --session {id} --force` replaces both with yours",
                    self.branch
                ))
                .into());
            }
            ui.warn(&format!(
                "session {id} diverged between duplicate drafts of branch `{}`: they stay until one copy is chosen \
                 (`ccsync release-push --session {id} --force` from the machine whose copy should win)",
                self.branch
            ));
        }
        Ok(merged.release)
    }

    /// The local session against the stored copy: the stored copy's memory pulled in first (not
    /// in a dry run), the local facts read, the relation decided, and what changed here besides.
    pub(super) fn compare(
        &self,
        run: &Run<'_>,
        stored: Option<&StoredSession>,
    ) -> anyhow::Result<Compared> {
        let session = run.session;
        if let Some(stored) = stored.filter(|_| !self.args.dry_run) {
            self.pull_memory(session, stored)?;
        }
        let facts = read_facts(&session.path, stored.map(|s| s.meta.uuid_count))?;
        if facts.chain.count() == 0 {
            return Err(nothing_worth_pushing(session, &facts));
        }
        let relation = match stored {
            None => None,
            Some(stored) => Some(self.relation(&facts, stored, run.scratch)?),
        };
        // Memory changed here since the last sync makes an upload even when the transcript
        // is the same; what the stored copy deleted is not put back.
        let side = crate::memory::outgoing::outgoing(
            &session.project_dir,
            &crate::memory::SyncRecord::load(self.claude_dir),
            stored.map_or(&[][..], |s| &s.meta.deleted_side_files[..]),
        )?;
        let state_changed = state_changed_here(self.claude_dir, run.contents.sources)?;
        Ok(Compared {
            facts,
            relation,
            side,
            state_changed,
        })
    }

    /// When the stored copy is not the one this machine last synced (another machine pushed since),
    /// its project memory comes in first by the restore rules ([`crate::transfer::restore::memory_from_stored`]):
    /// a push never puts this machine's older memory back over the other side's edits. Errs with
    /// [`MemoryPulled`] when local memory files changed, so the push starts again with them.
    fn pull_memory(&self, session: &LocalSession, stored: &StoredSession) -> anyhow::Result<()> {
        let record = crate::memory::SyncRecord::load(self.claude_dir);
        let last = record.copy(&session.id);
        if last.is_none_or(|sha| sha == stored.meta.copy_sha256())
            || (stored.encrypted() && self.passphrase.is_none())
        {
            return Ok(());
        }
        let claude_cwd = session
            .cwd
            .as_deref()
            .map(PathBuf::from)
            .filter(|c| c.is_dir())
            .unwrap_or_else(|| self.origin.root.clone());
        let report = crate::transfer::restore::memory_from_stored(
            self.ctx.ui,
            self.rt,
            self.gh,
            stored,
            &crate::transfer::restore::Places {
                claude_dir: self.claude_dir,
                project_dir: &session.project_dir,
                claude_cwd: &claude_cwd,
                local_root: &self.origin.root,
            },
            self.passphrase,
            self.branch,
        )?;
        if report.touched() {
            return Err(MemoryPulled.into());
        }
        Ok(())
    }

    /// The uuid rule, decided from the stored metadata when it can be, else from the stored copy.
    fn relation(
        &self,
        local: &SessionFacts,
        stored: &StoredSession,
        scratch: &Path,
    ) -> anyhow::Result<Relation> {
        stored::beside::relation_to_stored(
            self.rt,
            self.gh,
            local,
            stored,
            scratch,
            self.passphrase,
            || {
                self.ctx
                    .ui
                    .detail("comparing with the stored copy record by record");
                Step::watch_file(
                    self.ctx.ui,
                    &format!("downloading {}", stored.meta.archive.name),
                    &scratch.join(&stored.meta.archive.name),
                    Some(stored.meta.archive.size),
                )
            },
        )
    }

    /// Whether the comparison calls for an upload: an equal copy only when memory or state
    /// changed here (or `--force`); a newer or diverged stored copy is a conflict (unless
    /// `--force`). `false`: already up to date.
    pub(super) fn worth_uploading(
        &self,
        session: &LocalSession,
        compared: &Compared,
    ) -> anyhow::Result<bool> {
        let ui = self.ctx.ui;
        let (state_changed, side_changed) = (compared.state_changed, compared.side.changed);
        match compared.relation {
            Some(Relation::Equal) if !self.args.force && state_changed && !side_changed => {
                ui.info(&format!(
                "session {} is the same as its stored copy, but its state (tasks, file history, plans, \
                 background outputs) changed here since it was last synced: uploading it",
                session.id
            ));
            }
            Some(Relation::Equal) if !self.args.force && side_changed => {
                ui.info(&format!(
                "session {} is the same as its stored copy, but the project memory changed here since it was last synced: uploading it",
                session.id
            ));
            }
            Some(Relation::Equal) if !self.args.force => {
                ui.info(&format!(
                    "session {} is already up to date in the release of branch `{}`",
                    session.id, self.branch
                ));
                return Ok(false);
            }
            Some(Relation::RemoteAhead) if !self.args.force => {
                return Err(Exit::conflict(format!(
                "the release of branch `{}` holds a newer copy of session {} (it continued elsewhere): \
                 run `ccsync release-restore --session {}` to bring it here first, or push with --force to replace it",
                self.branch, session.id, session.id
            ))
            .into());
            }
            Some(Relation::Diverged) if !self.args.force => {
                return Err(Exit::conflict(format!(
                "session {} diverged: the release of branch `{}` and this machine each hold records the other lacks. \
                 `ccsync release-restore --session {} --force` keeps the stored copy (yours is saved as a backup); \
                 `ccsync release-push --session {} --force` replaces the stored copy with yours",
                session.id, self.branch, session.id, session.id
            ))
            .into());
            }
            _ => {}
        }
        Ok(true)
    }

    /// An encrypted stored copy is replaced by an unencrypted one only with `--allow-plaintext`.
    pub(super) fn check_encryption(&self, stored: Option<&StoredSession>) -> anyhow::Result<()> {
        let ui = self.ctx.ui;
        if let Some(stored) = stored.filter(|s| s.encrypted()) {
            if self.passphrase.is_none() {
                if !self.args.allow_plaintext {
                    return Err(anyhow::anyhow!(
                        "session {} is stored encrypted in the release of branch `{}`, but CCSYNC_PASSPHRASE is not set: \
                         set it to push an encrypted copy, or pass --allow-plaintext to replace the encrypted copy with an unencrypted one",
                        stored.meta.session_id,
                        self.branch
                    ));
                }
                ui.warn(&format!(
                    "replacing the encrypted copy of session {} with an unencrypted one (--allow-plaintext)",
                    stored.meta.session_id
                ));
            }
        }
        Ok(())
    }
}

/// A session without a message is not worth a copy.
fn nothing_worth_pushing(session: &LocalSession, facts: &SessionFacts) -> anyhow::Error {
    Exit::nothing_found(format!(
        "session {} holds no conversation ({}, none of them a message): nothing worth pushing. \
         Continue it with `claude --resume {}` first, or push another session with --session ID",
        session.id,
        if facts.records == 0 {
            "the file is empty".to_owned()
        } else {
            crate::ui::count(facts.records, "metadata record")
        },
        session.id
    ))
    .into()
}

/// Whether a state file of the session (`sources.elsewhere`, store::state) is new or changed here
/// since this machine last synced it: then an otherwise equal session is uploaded again. Links are
/// made again from the transcript's side data and need no upload of their own.
fn state_changed_here(claude_dir: &Path, sources: &pack::Sources) -> anyhow::Result<bool> {
    let record = crate::memory::SyncRecord::load(claude_dir);
    for (rel, src) in &sources.elsewhere {
        if rel.to_string_lossy().ends_with(store::state::LINK_SUFFIX) {
            continue;
        }
        if let Some(sha) = crate::memory::sha256_of(src)? {
            if !record.unchanged(src, &sha) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Whether ccsync made the release: its description carries ccsync's marker.
pub(super) fn is_ours(release: &SessionRelease) -> bool {
    release.body.as_deref().is_some_and(names::is_ours_body)
}

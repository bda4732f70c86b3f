//! Push, step 4: write the packed copy by the write protocol ([`crate::stored::write`]), then drop
//! the sessions beyond `--keep`, render the release body, and remember what was synced.

use std::path::Path;

use anyhow::Context as _;

use crate::bundle::metadata::Metadata;
use crate::bundle::pack;
use crate::catalog;
use crate::config::Context;
use crate::progress::Step;
use crate::release::{names, SessionRelease};
use crate::store::{self, LocalSession};
use crate::stored::write::{self, NewCopy, Written};
use crate::stored::{self, MetaCache, StoredSession};

use super::compare::{is_ours, Compared};
use super::pack::Packed;
use super::{PushJob, PushOutcome, Run, MAX_ATTEMPTS};

impl PushJob<'_> {
    /// What a dry run would upload.
    pub(super) fn say_dry_run(&self, session: &LocalSession, compared: &Compared, packed: &Packed) {
        self.ctx.ui.info(&format!(
            "dry run: would upload session {} ({}, {}) to the draft release `{}`{}",
            session.id,
            crate::ui::count(compared.facts.records, "record"),
            packed.size_text(),
            names::tag_for(self.branch),
            if self.passphrase.is_some() {
                ", encrypted"
            } else {
                ""
            }
        ));
    }

    /// The release to write into, created on the first push of the branch. `None`: another first
    /// push created a draft too: merge, then compare again.
    pub(super) fn release_for_write(
        &self,
        found: Option<SessionRelease>,
    ) -> anyhow::Result<Option<SessionRelease>> {
        if let Some(release) = found {
            return Ok(Some(release));
        }
        let created = self
            .rt
            .block_on(self.gh.session_release_for_write(self.branch))?;
        Ok(created.duplicate_ids.is_empty().then_some(created))
    }

    /// Uploads the copy by the write protocol. `None`: another push stored the session first
    /// (compare with its copy again), until [`MAX_ATTEMPTS`].
    pub(super) fn write(
        &self,
        run: &Run<'_>,
        release: &SessionRelease,
        stored: Option<&StoredSession>,
        packed: &Packed,
        attempt: u32,
    ) -> anyhow::Result<Option<SessionRelease>> {
        let ui = self.ctx.ui;
        let session = run.session;
        let progress = Step::spinner(
            ui,
            &format!("uploading {}", packed.upload_name()),
            Some(packed.upload_size()),
        );
        let written = write::write_copy(
            self.rt,
            self.gh,
            release,
            stored,
            run.writer,
            NewCopy {
                archive: &packed.archive,
                content_type: archive_content_type(self.passphrase.is_some()),
                meta: packed.meta.clone(),
                keep_generation: false,
                scratch: run.scratch,
            },
            &run.cache,
            &|m| ui.warn(m),
        )?;
        drop(progress);
        match written {
            Written::Current { release, .. } => Ok(Some(*release)),
            Written::Superseded if attempt < MAX_ATTEMPTS => {
                ui.info(&format!(
                    "another push stored session {} first: comparing with its copy again",
                    session.id
                ));
                Ok(None)
            }
            Written::Superseded => Err(anyhow::anyhow!(
                "other pushes of session {} kept replacing the stored copy while this one wrote; run the push again",
                session.id
            )),
        }
    }

    /// After the copy is current: sessions beyond `--keep` dropped, the sync remembered, and
    /// the push said.
    pub(super) fn finish(
        &self,
        run: &Run<'_>,
        release: &SessionRelease,
        compared: &Compared,
        packed: &Packed,
        mut outcome: PushOutcome,
    ) -> anyhow::Result<PushOutcome> {
        let session = run.session;
        outcome.dropped_sessions = self
            .keep_newest(release, &packed.meta, run.scratch, &run.cache)
            .with_context(|| {
                format!(
                    "session {} was pushed, but the sessions beyond --keep {} were left in \
                     place: ccsync drops only sessions it could read",
                    session.id, self.args.keep
                )
            })?;
        record_memory_sync(self.ctx, session, &compared.side, packed);
        record_state_sync(self.ctx, self.claude_dir, run.contents.sources, packed);
        outcome.action = "uploaded";
        outcome.release_url = Some(release.html_url.clone());
        self.ctx.ui.info(&format!(
            "pushed session {} ({}, {}{}) to {}",
            session.id,
            crate::ui::count(compared.facts.records, "record"),
            packed.size_text(),
            if self.passphrase.is_some() {
                ", encrypted"
            } else {
                ""
            },
            release.html_url
        ));
        Ok(outcome)
    }

    /// Drops the sessions beyond `--keep` (oldest activity first), never the one just pushed,
    /// then writes its row into the release body. What is dropped is decided from the verified
    /// metadata of complete copies, never from labels or the body (anyone with write access can
    /// edit those); the metadata is read only when more sessions than `--keep` could be there.
    fn keep_newest(
        &self,
        release: &SessionRelease,
        pushed: &Metadata,
        scratch: &Path,
        cache: &MetaCache,
    ) -> anyhow::Result<Vec<String>> {
        let ui = self.ctx.ui;
        let read_all = || {
            stored::stored_sessions_of(
                self.rt,
                self.gh,
                release,
                scratch,
                &|m| ui.warn(m),
                None,
                cache,
            )
        };
        // Only when more sessions than `--keep` could hold a complete copy, is every session's
        // metadata read.
        let named = with_archives(release);
        let mut full: Option<Vec<StoredSession>> = None;
        let mut dropped: Vec<String> = Vec::new();
        if named.len() > self.args.keep as usize {
            let sessions = read_all()?;
            // The pushed session always stays; the newest others fill the remaining places.
            let others_allowed = (self.args.keep as usize).saturating_sub(1);
            dropped = sessions
                .iter()
                .map(|s| s.meta.session_id.clone())
                .filter(|id| *id != pushed.session_id)
                .skip(others_allowed)
                .collect();
            full = Some(sessions);
        }
        self.drop_sessions(release, &dropped)?;
        let present: Vec<String> = match &full {
            Some(sessions) => sessions.iter().map(|s| s.meta.session_id.clone()).collect(),
            None => named,
        }
        .into_iter()
        .filter(|id| !dropped.contains(id))
        .collect();
        let body =
            match catalog::update_body(release.body.as_deref(), self.branch, pushed, &present) {
                Some(body) => body,
                None => {
                    let sessions = match full {
                        Some(sessions) => sessions,
                        None => read_all()?,
                    };
                    let kept: Vec<StoredSession> = sessions
                        .into_iter()
                        .filter(|s| !dropped.contains(&s.meta.session_id))
                        .collect();
                    stored::render_body(self.branch, &kept)
                }
            };
        // A description ccsync did not write (a hand-made draft taken with --force) stays.
        if is_ours(release) {
            self.rt.block_on(self.gh.set_body(release, &body))?;
        }
        Ok(dropped)
    }

    /// Deletes every asset of the sessions `dropped`.
    fn drop_sessions(&self, release: &SessionRelease, dropped: &[String]) -> anyhow::Result<()> {
        for id in dropped {
            for (asset, _) in release.session_assets(id) {
                self.rt.block_on(self.gh.delete_asset(asset))?;
            }
            self.ctx.ui.info(&format!(
                "dropped session {id} from the release (--keep {})",
                self.args.keep
            ));
        }
        Ok(())
    }
}

/// The sessions that could hold a complete copy: a metadata asset and an archive asset.
fn with_archives(release: &SessionRelease) -> Vec<String> {
    catalog::session_ids(release)
        .into_iter()
        .filter(|id| {
            release.session_assets(id).iter().any(|(a, role)| {
                a.state == "uploaded"
                    && matches!(
                        role,
                        names::Role::StableArchive { .. }
                            | names::Role::TempArchive { .. }
                            | names::Role::Part { .. }
                    )
            })
        })
        .collect()
}

/// Remembers the memory files just uploaded (and the deletions) as this machine's last-synced
/// state, so a later restore can tell an edit made here from one made on the other side. A file
/// uploaded redacted differs from the local one: it is remembered for pushes only (a restore then
/// backs up before replacing it).
fn record_memory_sync(
    ctx: &Context,
    session: &LocalSession,
    side: &crate::memory::outgoing::Outgoing,
    packed: &Packed,
) {
    let Ok(claude_dir) = ctx.claude_dir() else {
        return;
    };
    let mut record = crate::memory::SyncRecord::load(&claude_dir);
    let redacted = |rel: &Path| {
        let label = rel.to_string_lossy();
        packed.findings.iter().any(|f| f.file == label)
    };
    side.record_pushed(
        &mut record,
        &session.project_dir,
        &redacted,
        &session.id,
        packed.meta.copy_sha256(),
    );
    if let Err(e) = record.save() {
        ctx.ui.warn(&format!(
            "cannot record the project memory's sync state: {e:#}"
        ));
    }
}

/// Remembers the state files just uploaded as this machine's last-synced state (a file uploaded
/// redacted: for pushes only, like memory).
fn record_state_sync(ctx: &Context, claude_dir: &Path, sources: &pack::Sources, packed: &Packed) {
    let mut record = crate::memory::SyncRecord::load(claude_dir);
    for (rel, src) in &sources.elsewhere {
        let label = rel.to_string_lossy();
        if label.ends_with(store::state::LINK_SUFFIX) {
            continue;
        }
        let Ok(Some(sha)) = crate::memory::sha256_of(src) else {
            continue;
        };
        if packed.findings.iter().any(|f| f.file == label) {
            record.set_redacted(src, &sha);
        } else {
            record.set(src, &sha);
        }
    }
    if let Err(e) = record.save() {
        ctx.ui.warn(&format!(
            "cannot record the session state's sync state: {e:#}"
        ));
    }
}

fn archive_content_type(encrypted: bool) -> &'static str {
    if encrypted {
        "application/octet-stream"
    } else {
        "application/gzip"
    }
}

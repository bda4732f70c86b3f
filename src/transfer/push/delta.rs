//! Push, step 3 when it can be less: a delta part over the stored copy (docs/write-protocol.md,
//! "When a push writes a delta"): the transcript lines after the stored ones and the files new or
//! changed by the stored copy's manifest, packed like a full archive; the chain's metadata
//! extended by it ([`crate::stored::chain::extend`]). Anything that does not fit: a full copy.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

use anyhow::Context as _;

use crate::bundle::delta;
use crate::bundle::pack::{self, prescan};
use crate::cli::SecretsMode;
use crate::stored::{chain, StoredSession};
use crate::sync::Relation;

use super::compare::Compared;
use super::find::Contents;
use super::pack::Packed;
use super::{PushJob, Run};

impl PushJob<'_> {
    /// A delta part over `stored` when one fits: the local session continues the stored copy,
    /// encryption is unchanged, the stored copy has a manifest and its chain takes one more part.
    /// `None`: a full copy.
    pub(super) fn try_delta(
        &self,
        run: &Run<'_>,
        compared: &Compared,
        stored: Option<&StoredSession>,
    ) -> anyhow::Result<Option<Packed>> {
        let Some(stored) = stored else {
            return Ok(None);
        };
        let fits = !self.args.force
            && matches!(
                compared.relation,
                Some(Relation::LocalAhead | Relation::Equal)
            )
            && stored.encrypted() == self.passphrase.is_some()
            && stored.meta.manifest.is_some();
        if !fits {
            return Ok(None);
        }
        let kept: Vec<PathBuf> = run
            .contents
            .entries
            .iter()
            .filter(|rel| !compared.side.left_out.contains(rel))
            .cloned()
            .collect();
        let dir = tempfile::tempdir_in(run.scratch).context("cannot create a temporary folder")?;
        let local = self.roots(run.session, compared, run.contents.sources);
        let sources = run.contents.sources;
        let Some(part) = delta::part_contents(&stored.meta, &local, &kept, sources, dir.path())?
        else {
            return Ok(None);
        };
        // The secret scan reads only what the part carries.
        let scan = (self.args.secrets != SecretsMode::Allow).then(|| {
            let (tx, rx) = mpsc::sync_channel(1);
            let cancel = AtomicBool::new(false);
            let _ = tx.send(prescan(&part.sources, &part.entries, self.scanner, &cancel));
            rx
        });
        let contents = Contents {
            entries: &part.entries,
            sources: &part.sources,
        };
        let packed = self.pack_contents(run, &contents, compared, scan)?;
        let Some(meta) = chain::extend(&stored.meta, &packed.meta, &part.changes) else {
            return Ok(None);
        };
        Ok(Some(Packed {
            meta,
            delta: true,
            ..packed
        }))
    }

    /// The secret scan of the session's files, here and now (the one on its own thread was
    /// stopped for a delta part that was not written after all).
    pub(super) fn scan_now(&self, run: &Run<'_>) -> pack::Prescan {
        let (tx, rx) = mpsc::sync_channel(1);
        let cancel = AtomicBool::new(false);
        let contents = &run.contents;
        let _ = tx.send(prescan(
            contents.sources,
            contents.entries,
            self.scanner,
            &cancel,
        ));
        rx
    }
}

impl Packed {
    /// The asset uploaded: the part for a delta, else the archive.
    pub(super) fn upload_name(&self) -> &str {
        match self.meta.parts().last() {
            Some(part) if self.delta => &part.name,
            _ => &self.meta.archive.name,
        }
    }

    pub(super) fn upload_size(&self) -> u64 {
        match self.meta.parts().last() {
            Some(part) if self.delta => part.size,
            _ => self.meta.archive.size,
        }
    }

    /// How the upload reads in messages: its size, and for a delta the generation it continues.
    pub(super) fn size_text(&self) -> String {
        let size = crate::ui::human_size(self.upload_size());
        if self.delta {
            format!(
                "a delta of {size} over generation {}",
                self.meta.generation.saturating_sub(1)
            )
        } else {
            size
        }
    }
}

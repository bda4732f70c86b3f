//! Merging duplicate drafts (several drafts sharing a tag after a lost create race) into the kept
//! one, the lowest id, as writes of the protocol (docs/write-protocol.md, "Duplicate drafts").
//!
//! Per session held by a duplicate: its best copy there is compared with the kept draft's by the
//! one rank of [`copies::rank`]. The same content, or a newer kept copy, needs nothing; a newer
//! duplicate copy is written into the kept draft as a claim of its own generation (above the kept
//! copy's: the same compare-and-swap, confirmation, roll-forward and leftover rules as a push);
//! copies that diverged are left alone and reported. A duplicate is deleted only once every
//! session it holds has a copy in the kept draft at least as new, checked on a fresh read.

use std::path::Path;

use anyhow::Context as _;
use tokio::runtime::Runtime;

use super::copies::{self, Copy};
use super::write::{self, NewCopy, Writer, Written};
use super::{read_metadata_of, MetaCache, StoredSession};
use crate::release::{names, GitHub, SessionRelease};

/// How a merge ended.
pub struct Merged {
    /// The release as it stands now (without the duplicates when they could go).
    pub release: SessionRelease,
    /// Sessions whose copies in two drafts diverged (nothing of them was changed).
    pub conflicts: Vec<String>,
}

/// Who merges: the pushing writer, the session it pushes and whether it replaces that session's
/// stored copy whatever it holds (`--force`: its divergence is no conflict).
pub struct Merger<'a> {
    pub rt: &'a Runtime,
    pub gh: &'a GitHub,
    pub claude_dir: &'a Path,
    pub own: &'a Writer,
    pub own_session: &'a str,
    pub force: bool,
    pub scratch: &'a Path,
    pub cache: &'a MetaCache,
    pub warn: &'a dyn Fn(&str),
}

/// What a session needs.
enum Need {
    Nothing,
    Conflict,
    /// A duplicate's metadata could not be read: keep the duplicate.
    Unknown,
    Copy(Box<Copy>, Option<Box<Copy>>),
}

impl Merger<'_> {
    /// Merges the duplicates of `view` (the merged view of every draft) into the kept draft.
    pub fn merge(&self, view: &SessionRelease) -> anyhow::Result<Merged> {
        let mut conflicts = Vec::new();
        let mut unfinished = false;
        for (session_id, need) in self.needs(view) {
            match need {
                Need::Nothing => {}
                Need::Conflict => conflicts.push(session_id),
                Need::Unknown => unfinished = true,
                Need::Copy(from, over) => {
                    if !self.carry(view, &session_id, &from, over.as_deref())? {
                        unfinished = true;
                    }
                }
            }
        }
        let now = self.reread(view)?;
        if unfinished || !conflicts.is_empty() {
            return Ok(Merged {
                release: now,
                conflicts,
            });
        }
        // A fresh read: every session of a duplicate has a kept copy at least as new.
        if self
            .needs(&now)
            .iter()
            .any(|(_, n)| !matches!(n, Need::Nothing))
        {
            return Ok(Merged {
                release: now,
                conflicts,
            });
        }
        for id in &now.duplicate_ids {
            let mut duplicate = now.clone();
            duplicate.id = *id;
            self.rt
                .block_on(self.gh.delete_release(&duplicate))
                .with_context(|| format!("cannot delete the duplicate draft {id}"))?;
        }
        let mut kept = now;
        kept.assets.retain(|a| a.release_id == kept.id);
        kept.duplicate_ids.clear();
        Ok(Merged {
            release: kept,
            conflicts,
        })
    }

    /// Each session held by a duplicate, with what it needs.
    fn needs(&self, view: &SessionRelease) -> Vec<(String, Need)> {
        // Metadata that could not be downloaded stays unread: its duplicate is kept (`Unknown`).
        if let Err(err) = read_metadata_of(
            self.rt,
            self.gh,
            &view.assets,
            self.scratch,
            self.warn,
            None,
            self.cache,
        ) {
            (self.warn)(&format!("{err:#}"));
        }
        self.cache
            .layouts(&view.assets)
            .into_iter()
            .filter(|l| l.assets.iter().any(|(a, _)| a.release_id != view.id))
            .map(|l| {
                let need = need_of(&l, view.id, self.force && l.session_id == self.own_session);
                (l.session_id, need)
            })
            .collect()
    }

    /// Writes `from` (a duplicate's copy) into the kept draft over `over`. False when another
    /// writer got there first (the next merge looks again).
    fn carry(
        &self,
        view: &SessionRelease,
        session_id: &str,
        from: &Copy,
        over: Option<&Copy>,
    ) -> anyhow::Result<bool> {
        if !from.parts.is_empty() {
            // A chain is read across drafts as it is; carrying it part by part is not done: the
            // duplicate stays (readers still use its copy by the one rank).
            (self.warn)(&format!(
                "session {session_id} is stored as a chain of delta parts in a duplicate draft: left there"
            ));
            return Ok(false);
        }
        let archive = self
            .scratch
            .join(format!("merge-{}", from.archive_asset.id));
        self.rt
            .block_on(self.gh.download_asset(
                &from.archive_asset,
                &archive,
                Some(&from.meta.archive.sha256),
            ))
            .with_context(|| format!("cannot copy session {session_id} from a duplicate draft"))?;
        let mut kept = view.clone();
        kept.assets.retain(|a| a.release_id == view.id);
        kept.duplicate_ids.clear();
        let base = over.map(|c| StoredSession {
            meta: c.meta.clone(),
            metadata_asset: c.metadata_asset.clone(),
            archive_asset: c.archive_asset.clone(),
            parts: c.parts.clone(),
            assets: Vec::new(),
            repair: Vec::new(),
            beside: None,
        });
        let lock;
        let writer = if session_id == self.own_session {
            self.own
        } else {
            lock = Writer::lock(self.claude_dir, session_id, &|| {})?;
            &lock
        };
        let content_type =
            if from.meta.archive.encryption == crate::bundle::metadata::Encryption::None {
                "application/gzip"
            } else {
                "application/octet-stream"
            };
        let written = write::write_copy(
            self.rt,
            self.gh,
            &kept,
            base.as_ref(),
            writer,
            NewCopy {
                archive: &archive,
                content_type,
                meta: from.meta.clone(),
                keep_generation: true,
                scratch: self.scratch,
            },
            self.cache,
            self.warn,
        )?;
        let _ = std::fs::remove_file(&archive);
        Ok(matches!(written, Written::Current { .. }))
    }

    /// Every draft of `view` read again, as one view.
    fn reread(&self, view: &SessionRelease) -> anyhow::Result<SessionRelease> {
        let mut assets = Vec::new();
        let mut gone = Vec::new();
        for id in std::iter::once(view.id).chain(view.duplicate_ids.iter().copied()) {
            let mut draft = view.clone();
            draft.id = id;
            match self.rt.block_on(self.gh.release_as_stored(&draft)) {
                Ok(now) => assets.extend(now.assets.into_iter().filter(|a| a.state == "uploaded")),
                // A duplicate someone else already merged and deleted.
                Err(e) if e.is_not_found() && id != view.id => gone.push(id),
                Err(e) => return Err(e.into()),
            }
        }
        let mut now = view.clone();
        now.duplicate_ids.retain(|id| !gone.contains(id));
        now.assets = assets;
        Ok(now)
    }
}

/// What one session needs so the duplicates can go: the duplicates' best copy against the kept
/// draft's (and against each other: two duplicates may diverge too).
fn need_of(layout: &copies::SessionLayout, kept: u64, force: bool) -> Need {
    let kept_copy = layout.current_in(kept);
    let mut bests: Vec<&Copy> = Vec::new();
    for copy in layout.copies.iter().filter(|c| c.release_id() != kept) {
        if !bests.iter().any(|b| b.release_id() == copy.release_id()) {
            bests.push(copy);
        }
    }
    // Metadata of a duplicate that may describe a copy but could not be read: unknown, so the
    // duplicate stays.
    let unread = layout.assets.iter().any(|(a, role)| {
        a.release_id != kept
            && matches!(
                role,
                names::Role::StableMetadata | names::Role::ChainMetadata
            )
            && copies::may_describe_a_copy(a, &layout.session_id, &assets_of(layout))
            && !layout.judged.contains(&a.id)
            && !layout.copies.iter().any(|c| c.metadata_asset.id == a.id)
    });
    if unread {
        return Need::Unknown;
    }
    let Some(best) = bests.first().copied() else {
        return Need::Nothing;
    };
    let all: Vec<&Copy> = bests.iter().copied().chain(kept_copy).collect();
    if all
        .iter()
        .any(|a| all.iter().any(|b| copies::diverged(a, b)))
    {
        // `--force`: the push replaces the session's copy whatever the drafts hold.
        return if force { Need::Nothing } else { Need::Conflict };
    }
    match kept_copy {
        Some(k) if k.same_content(best) || copies::rank(k, best).is_lt() => Need::Nothing,
        other => Need::Copy(Box::new(best.clone()), other.cloned().map(Box::new)),
    }
}

fn assets_of(layout: &copies::SessionLayout) -> Vec<crate::release::Asset> {
    layout.assets.iter().map(|(a, _)| a.clone()).collect()
}

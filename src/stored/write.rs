//! The writer's side of the write protocol (docs/write-protocol.md): upload the archive under a
//! temporary name of this writer, claim the next generation (the commit point: an asset name is
//! unique in a release, so the claim is a compare-and-swap on the generation), confirm that no
//! other copy of that generation or later exists, then roll forward to the stable names.
//!
//! A writer is this machine and Claude folder ([`Writer`]); a local lock per session keeps two of
//! its pushes apart, so the temporary archives a writer finds under its own id are a dead run's.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use tokio::runtime::Runtime;

use super::copies::{self, Planner, Step};
use super::{apply_steps, read_metadata_of, MetaCache, StoredSession};
use crate::bundle::metadata::{Metadata, Parent};
use crate::release::names::{self, Role};
use crate::release::{Asset, GitHub, SessionRelease};

/// This machine and Claude folder as a writer of one session, holding the local lock.
pub struct Writer {
    id: String,
    _lock: File,
    /// The temporary archives this run uploaded: alive, never a dead run's leftovers (a merge
    /// may leave one as the twin of a copy another writer's identical upload carries).
    live: std::sync::Mutex<HashSet<u64>>,
}

impl Writer {
    /// Takes the local lock of `session_id` for this writer, waiting (after calling `waiting`)
    /// while another push of the session on this machine holds it.
    pub fn lock(claude_dir: &Path, session_id: &str, waiting: &dyn Fn()) -> anyhow::Result<Writer> {
        let id = writer_id(claude_dir);
        // The user's cache folder; a read-only home falls back to the temp folder.
        let dir = lock_dirs()
            .into_iter()
            .find(|dir| crate::scratch::create_private_dir(dir).is_ok())
            .context("cannot create a folder for ccsync's lock files (in the cache folder or the temp folder)")?;
        let path = dir.join(format!("push-{id}-{session_id}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                waiting();
                file.lock()
                    .with_context(|| format!("cannot lock {}", path.display()))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
        Ok(Writer {
            id,
            _lock: file,
            live: Default::default(),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn planner(&self) -> Planner<'_> {
        Planner {
            now: chrono::Utc::now(),
            own_writer: Some(&self.id),
            live: self.live.lock().unwrap().clone(),
        }
    }
}

/// Where the writers' lock files may live, in order: the user's ccsync cache folder, the temp
/// folder.
fn lock_dirs() -> Vec<PathBuf> {
    crate::store::cache::cache_dir_from_env()
        .into_iter()
        .chain([std::env::temp_dir().join("ccsync")])
        .map(|d| d.join("locks"))
        .collect()
}

/// A short stable id of this host and Claude folder: the same on every run here, different on
/// another machine or Claude folder.
pub fn writer_id(claude_dir: &Path) -> String {
    let folder = std::fs::canonicalize(claude_dir).unwrap_or_else(|_| claude_dir.to_path_buf());
    let mut hasher = Sha256::new();
    hasher.update(gethostname::gethostname().to_string_lossy().as_bytes());
    hasher.update([0]);
    hasher.update(folder.to_string_lossy().as_bytes());
    hex::encode(hasher.finalize())[..8].to_owned()
}

/// The writer's view of one session before it compares: its metadata read and, with `repair`
/// (not in a dry run), any unfinished write rolled forward and its own leftovers removed (best
/// effort, reported through `warn`). Returns the current copy (asset ids survive renames), if the
/// session has one.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    rt: &Runtime,
    gh: &GitHub,
    release: &SessionRelease,
    session_id: &str,
    writer: &Writer,
    repair: bool,
    scratch: &Path,
    cache: &MetaCache,
    warn: &dyn Fn(&str),
) -> anyhow::Result<Option<StoredSession>> {
    read_metadata_of(
        rt,
        gh,
        &release.assets,
        scratch,
        warn,
        Some(session_id),
        cache,
    )?;
    let Some(layout) = cache.layout_of(&release.assets, session_id) else {
        return Ok(None);
    };
    let steps = if repair {
        copies::repair_plan(&layout, &writer.planner())
    } else {
        Vec::new()
    };
    if !steps.is_empty() {
        if let Err(err) = rt.block_on(apply_steps(gh, release, &steps)) {
            warn(&format!(
                "could not finish the stored copy of session {session_id} (continuing with it as it is): {err:#}"
            ));
        }
    }
    let Some(current) = layout.current() else {
        return Ok(None);
    };
    let renamed = |asset: &Asset| {
        let mut asset = asset.clone();
        if let Some(Step::Rename(_, name)) = steps
            .iter()
            .find(|s| matches!(s, Step::Rename(a, _) if a.id == asset.id))
        {
            asset.name = name.clone();
        }
        asset
    };
    let stored_as_renamed = |copy: &copies::Copy| {
        let mut stored = StoredSession::of_copy(&layout, copy);
        stored.metadata_asset = renamed(&copy.metadata_asset);
        stored.archive_asset = renamed(&copy.archive_asset);
        stored.parts = copy.parts.iter().map(renamed).collect();
        stored
    };
    let mut stored = stored_as_renamed(current);
    stored.beside = copies::beside(&layout)
        .first()
        .map(|c| Box::new(stored_as_renamed(c)));
    Ok(Some(stored))
}

/// An archive of the session under its stable name that no metadata describes, when the session
/// has no complete copy at all: what ccsync 0.1 left when a replace stopped between the archive and
/// the metadata. It may hold records no other copy has, so a push does not replace it unasked.
pub fn orphan_archive(
    release: &SessionRelease,
    session_id: &str,
    cache: &MetaCache,
) -> Option<Asset> {
    let layout = cache.layout_of(&release.assets, session_id)?;
    if layout.current().is_some() {
        return None;
    }
    layout
        .assets
        .iter()
        .find(|(a, role)| {
            a.state == "uploaded"
                && matches!(role, Role::StableArchive { .. })
                && !copies::is_signpost(a, session_id)
        })
        .map(|(a, _)| a.clone())
}

/// A packed copy ready to write.
pub struct NewCopy<'a> {
    pub archive: &'a Path,
    pub content_type: &'a str,
    /// Its metadata; the generation and parent are set by [`write_copy`], unless
    /// `keep_generation` (a copy carried over from a duplicate draft, [`super::merge`]).
    pub meta: Metadata,
    pub keep_generation: bool,
    /// A folder for the claim file.
    pub scratch: &'a Path,
}

/// How a write ended.
pub enum Written {
    /// Our copy is the current one. `release` is the release as it stands after the roll-forward
    /// (as far as it went: a failure there is only warned about, the next comer finishes it).
    Current {
        release: Box<SessionRelease>,
        meta: Box<Metadata>,
    },
    /// Another writer replaced `base` first; nothing of ours is left. Re-read and decide again.
    Superseded,
}

/// Writes `copy` over `base` (the current copy this writer compared against, `None` if the
/// session had none), by the protocol: 1. the archive under a name of this writer, 2. the claim
/// (the commit point), 3. the confirmation, 4. the roll-forward. Errors before the commit point
/// leave the old copy in charge; a temporary archive left behind is removed by this writer's next
/// run.
#[allow(clippy::too_many_arguments)]
pub fn write_copy(
    rt: &Runtime,
    gh: &GitHub,
    release: &SessionRelease,
    base: Option<&StoredSession>,
    writer: &Writer,
    copy: NewCopy,
    cache: &MetaCache,
    warn: &dyn Fn(&str),
) -> anyhow::Result<Written> {
    let run = WriteRun {
        rt,
        gh,
        release,
        writer,
        cache,
        warn,
        id: copy.meta.session_id.clone(),
        scratch: copy.scratch,
    };
    // Over a damaged copy (a forced write: its metadata reads, its archive does not match), claim
    // above that metadata's generation: our archive may be the very bytes it records, and a pair
    // of the same generation would beat our claim on every attempt.
    let damaged = base
        .is_none()
        .then(|| super::damaged_sessions(release, cache, Some(&copy.meta.session_id)))
        .and_then(|d| d.iter().map(|d| d.meta.generation).max());
    let generation = next_generation(base, damaged, &copy)?;
    // A delta part is packed for one generation (its name and the chain say so): another
    // writer took it meanwhile, so pack again from the new copy.
    if copy
        .meta
        .parts()
        .last()
        .is_some_and(|p| p.generation != generation)
    {
        return Ok(Written::Superseded);
    }
    let temp = run.upload_archive(&copy)?;
    let mut meta = copy.meta;
    if !copy.keep_generation {
        meta.settle_generation(generation);
        meta.parent = base.map(|b| Parent {
            generation: b.meta.generation,
            archive_sha256: b.meta.copy_sha256().to_owned(),
        });
        // The writer compared with the copy beside too (an older ccsync's beside a chain): this
        // copy holds it, which lets the leftover rules remove it (docs/write-protocol.md).
        meta.supersedes = base.and_then(|b| b.beside.as_deref()).map(|b| Parent {
            generation: b.meta.generation,
            archive_sha256: b.meta.copy_sha256().to_owned(),
        });
    }
    let Some(claim) = run.claim(&meta, generation, &temp)? else {
        return Ok(Written::Superseded);
    };
    let Some((now, layout)) = run.confirm(&claim, &temp)? else {
        return Ok(Written::Superseded);
    };
    run.roll_forward(now, layout, &claim, &temp, meta)
}

/// One write: where it writes, and what it reads and says things through.
struct WriteRun<'a> {
    rt: &'a Runtime,
    gh: &'a GitHub,
    release: &'a SessionRelease,
    writer: &'a Writer,
    cache: &'a MetaCache,
    warn: &'a dyn Fn(&str),
    /// The session written.
    id: String,
    /// A folder for the claim file.
    scratch: &'a Path,
}

impl WriteRun<'_> {
    /// Step 1, the archive under a name of this writer: nothing readable changes.
    fn upload_archive(&self, copy: &NewCopy) -> anyhow::Result<Asset> {
        let id = &self.id;
        let encrypted = copy.meta.archive.encryption != crate::bundle::metadata::Encryption::None;
        let temp_name = names::temp_archive_name(id, self.writer.id(), &nonce(), encrypted);
        let temp = self
            .rt
            .block_on(
                self.gh
                    .upload_new(self.release, &temp_name, copy.archive, copy.content_type),
            )
            .with_context(|| format!("cannot upload the archive of session {id}"))?;
        self.writer.live.lock().unwrap().insert(temp.id);
        Ok(temp)
    }

    /// Step 2, the claim of `generation`: the commit point. `None`: another writer holds it
    /// (ours is superseded, and the temporary archive discarded).
    fn claim(
        &self,
        meta: &Metadata,
        generation: u64,
        temp: &Asset,
    ) -> anyhow::Result<Option<Asset>> {
        let (rt, gh, id) = (self.rt, self.gh, self.id.as_str());
        let claim_name = names::claim_asset_name(id, generation);
        let claim_file = self.scratch.join(&claim_name);
        std::fs::write(&claim_file, meta.to_json()).context("cannot write the metadata")?;
        // The label carries the session's summary (crate::catalog), so readers can pick the
        // newest session and order `--keep` without downloading every metadata asset.
        let label = crate::catalog::metadata_label(meta);
        let mut attempts = 0;
        let claim = loop {
            attempts += 1;
            match rt.block_on(gh.upload_new_labeled(
                self.release,
                &claim_name,
                Some(&label),
                &claim_file,
                "application/json",
            )) {
                Ok(claim) => break claim,
                Err(e) if e.is_already_exists() && attempts < 3 => {
                    // Who holds the name? A complete copy of another writer: we lost. A
                    // half-written upload or a claim whose archive is gone can never complete:
                    // clear it, try again.
                    let now = rt.block_on(gh.release_as_stored(self.release))?;
                    let (scratch, cache, warn) = (self.scratch, self.cache, self.warn);
                    match blocking_claim(rt, gh, &now, id, &claim_name, scratch, cache, warn) {
                        Blocker::Gone | Blocker::Copy => {
                            discard(rt, gh, &[temp]);
                            return Ok(None);
                        }
                        Blocker::Dead(asset) => rt.block_on(gh.delete_asset(&asset))?,
                    }
                }
                Err(e) if e.is_already_exists() => {
                    discard(rt, gh, &[temp]);
                    return Ok(None);
                }
                Err(e) => {
                    if !e.is_ambiguous() {
                        discard(rt, gh, &[temp]);
                    }
                    return Err(e).with_context(|| format!("cannot upload {claim_name}"));
                }
            }
        };
        self.cache.insert(claim.id, meta.clone());
        Ok(Some(claim))
    }

    /// Step 3, the confirmation: a stale writer can re-create a claim name after the winner
    /// renamed its claim away; its own read then shows the winner's copy, and it steps back.
    /// Judged by content, by the same rank readers use: an asset's name alone never beats a
    /// copy. `None`: superseded (our claim and archive discarded).
    fn confirm(
        &self,
        claim: &Asset,
        temp: &Asset,
    ) -> anyhow::Result<Option<(SessionRelease, Option<copies::SessionLayout>)>> {
        let (rt, gh, id) = (self.rt, self.gh, self.id.as_str());
        let now = rt.block_on(gh.release_as_stored(self.release))?;
        // A stable metadata asset that appeared since we read (a winner that rolled forward) is
        // read whatever else the release holds; claims count as far as they were read.
        for asset in now.assets.iter().filter(|a| {
            a.state == "uploaded"
                && matches!(
                    names::classify(&a.name),
                    Some((of, Role::StableMetadata | Role::ChainMetadata)) if of == id
                )
        }) {
            super::read_one(rt, gh, asset, id, self.scratch, self.warn, self.cache)?;
        }
        let known: HashSet<u64> = self
            .release
            .assets
            .iter()
            .filter(|a| names::classify(&a.name).is_some_and(|(s, r)| s == id && r.is_metadata()))
            .map(|a| a.id)
            .collect();
        let layout = self.cache.layout_of(&now.assets, id);
        if !confirmed(&now, layout.as_ref(), claim, temp, &known) {
            // Claim first: without it the temporary archive is unreferenced litter.
            discard(rt, gh, &[claim, temp]);
            return Ok(None);
        }
        Ok(Some((now, layout)))
    }

    /// Step 4, the roll-forward, removing what no copy needs any more. Success only for a copy
    /// that is current as the write ends.
    fn roll_forward(
        &self,
        now: SessionRelease,
        layout: Option<copies::SessionLayout>,
        claim: &Asset,
        temp: &Asset,
        meta: Metadata,
    ) -> anyhow::Result<Written> {
        let id = self.id.as_str();
        let mut steps = layout
            .map(|l| copies::repair_plan(&l, &self.writer.planner()))
            .unwrap_or_default();
        // Our own archive is never litter of our own write: when another writer's identical
        // upload is the copy's archive, ours is its twin (that writer may yet delete its upload).
        steps.retain(|s| !matches!(s, Step::Delete(a) if a.id == temp.id));
        let done = match self.rt.block_on(apply_steps(self.gh, &now, &steps)) {
            Ok(()) => steps.len(),
            Err(err) => {
                (self.warn)(&format!(
                    "session {id} is stored completely, but finishing its names failed (the next ccsync run finishes it): {err:#}"
                ));
                0
            }
        };
        let mut release_now = now;
        apply_locally(&mut release_now, &steps[..done]);
        release_now.assets.retain(|a| a.state == "uploaded");
        let current = self
            .cache
            .layout_of(&release_now.assets, id)
            .and_then(|l| l.current().map(|c| c.metadata_asset.id));
        if current != Some(claim.id) {
            return Ok(Written::Superseded);
        }
        Ok(Written::Current {
            release: Box::new(release_now),
            meta: Box::new(meta),
        })
    }
}

/// A half-written claim older than this was cut off (its writer gave up or died).
const STARTER_CLAIM_DEAD: chrono::Duration = chrono::Duration::minutes(1);

enum Blocker {
    /// The name is free again (its holder was renamed away: a winner rolled forward).
    Gone,
    /// A complete copy holds it, or one that may still become complete.
    Copy,
    /// A half-written upload or a claim without its archive.
    Dead(Box<Asset>),
}

#[allow(clippy::too_many_arguments)]
fn blocking_claim(
    rt: &Runtime,
    gh: &GitHub,
    now: &SessionRelease,
    id: &str,
    claim_name: &str,
    scratch: &Path,
    cache: &MetaCache,
    warn: &dyn Fn(&str),
) -> Blocker {
    let Some(holder) = now.assets.iter().find(|a| a.name == claim_name) else {
        return Blocker::Gone;
    };
    if holder.state != "uploaded" {
        // A claim is a few KiB: one still half-written after a minute was cut off. A younger one
        // is another writer's claim arriving: count it as theirs, and look again.
        let cut_off = holder
            .created_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| {
                chrono::Utc::now() - t.with_timezone(&chrono::Utc) > STARTER_CLAIM_DEAD
            });
        return if cut_off {
            Blocker::Dead(Box::new(holder.clone()))
        } else {
            Blocker::Copy
        };
    }
    // The holder itself is read, whatever else the release holds.
    if super::read_one(rt, gh, holder, id, scratch, warn, cache).is_err() {
        // Unreadable counts as a copy: never delete what we could not judge.
        return Blocker::Copy;
    }
    let Some(layout) = cache.layout_of(&now.assets, id) else {
        return Blocker::Copy;
    };
    if layout.judged.contains(&holder.id) {
        // Read, and no copy (junk, or a claim whose archive is gone): it can never complete.
        Blocker::Dead(Box::new(holder.clone()))
    } else {
        // A copy, or unreadable: never delete what we could not judge.
        Blocker::Copy
    }
}

/// Whether our claim won: it is a complete copy (with our archive), no other copy of its
/// generation or later exists (by content: the metadata's generation, whatever the name), and a
/// stable metadata asset we did not know before we claimed is one we could judge (a winner's that
/// we could not read counts against us; junk does not).
fn confirmed(
    now: &SessionRelease,
    layout: Option<&copies::SessionLayout>,
    claim: &Asset,
    temp: &Asset,
    known: &HashSet<u64>,
) -> bool {
    let Some(layout) = layout else {
        return false;
    };
    let Some(ours) = layout
        .copies
        .iter()
        .find(|c| c.metadata_asset.id == claim.id)
    else {
        return false;
    };
    if !ours.archives().any(|a| a.id == temp.id)
        && !now
            .assets
            .iter()
            .any(|a| a.id == temp.id && a.state == "uploaded")
    {
        return false;
    }
    let beaten = layout
        .copies
        .iter()
        .any(|c| c.metadata_asset.id != claim.id && c.generation() >= ours.generation());
    let unjudged_stable = layout.assets.iter().any(|(a, role)| {
        matches!(role, Role::StableMetadata | Role::ChainMetadata)
            && a.state == "uploaded"
            && !known.contains(&a.id)
            && !layout.judged.contains(&a.id)
            && !layout.copies.iter().any(|c| c.metadata_asset.id == a.id)
    });
    !beaten && !unjudged_stable
}

/// The generation a write claims: one more than the copy it replaces, or the carried copy's own
/// (which must be above it). Checked: a stored number never wraps into an older generation.
fn next_generation(
    base: Option<&StoredSession>,
    damaged: Option<u64>,
    copy: &NewCopy,
) -> anyhow::Result<u64> {
    let id = &copy.meta.session_id;
    let generation = match (copy.keep_generation, base) {
        (true, _) => Some(copy.meta.generation),
        (false, None) => damaged.map_or(Some(1), |g| g.checked_add(1)),
        (false, Some(b)) => b.meta.generation.checked_add(1),
    };
    match generation {
        Some(g) if g <= names::MAX_GENERATION && base.is_none_or(|b| g > b.meta.generation) => {
            Ok(g)
        }
        _ => anyhow::bail!(
            "cannot store session {id}: its stored copy has generation {}, the highest ccsync writes is {}; \
             delete the session's assets from the release (`ccsync release-prune --session {id}`) and push again",
            base.map_or(damaged.unwrap_or(0), |b| b.meta.generation),
            names::MAX_GENERATION
        ),
    }
}

/// Deletes our own assets of a write that did not win (best effort: a leftover is this writer's
/// litter, removed by its next run).
fn discard(rt: &Runtime, gh: &GitHub, assets: &[&Asset]) {
    for asset in assets {
        let _ = rt.block_on(gh.delete_asset(asset));
    }
}

/// The release as the steps left it, without reading it again.
fn apply_locally(release: &mut SessionRelease, steps: &[Step]) {
    for step in steps {
        match step {
            Step::Delete(asset) => release.assets.retain(|a| a.id != asset.id),
            Step::Rename(asset, name) => {
                if let Some(a) = release.assets.iter_mut().find(|a| a.id == asset.id) {
                    a.name = name.clone();
                }
            }
            // Read again by whoever needs it; nothing here depends on it.
            Step::Signpost { .. } => {}
        }
    }
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

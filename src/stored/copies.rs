//! The reading rules of the write protocol (docs/write-protocol.md), as pure functions of a
//! release's assets and the metadata already read: which complete copies a session has, which one
//! is current, and the steps that roll an unfinished write forward and remove leftovers.
//!
//! A copy is a metadata asset plus an archive asset of the same session in the same draft, whatever
//! its name, whose size and sha256 equal the metadata's: matching by content keeps a half-renamed
//! copy readable. Among the archives that match, the newest upload (highest id) is the copy's: a
//! later write that carries the same bytes as an old archive never depends on an asset a stale
//! reader may delete.
//!
//! Copies are ordered by one rank ([`rank`]) everywhere: readers, the writer's confirmation and the
//! merge of duplicate drafts. Several drafts sharing a tag (a lost create race) are one release to
//! these rules: a session's copies in all of them compete by the same rank.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::bundle::metadata::{Encryption, Metadata};
use crate::release::names::{self, Role};
use crate::release::Asset;

/// A `starter` or unreferenced temporary asset older than this is abandoned, whoever made it: no
/// upload of a session takes an hour. Younger ones may be another writer's upload in flight.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// One complete copy: metadata and the archive whose size and sha256 it records.
#[derive(Debug, Clone)]
pub struct Copy {
    pub meta: Metadata,
    pub metadata_asset: Asset,
    pub archive_asset: Asset,
    /// A chain's parts (docs/write-protocol.md, "Delta copies"), in the metadata's order; empty
    /// for a full copy.
    pub parts: Vec<Asset>,
    /// The role of the metadata asset (stable, claim, or an 0.1 temporary name).
    pub role: Role,
}

impl Copy {
    pub fn generation(&self) -> u64 {
        self.meta.generation
    }

    /// Under its final metadata name: the stable one (a full copy), or the chain's.
    pub fn stable(&self) -> bool {
        matches!(self.role, Role::StableMetadata | Role::ChainMetadata)
    }

    /// The draft that holds it.
    pub fn release_id(&self) -> u64 {
        self.metadata_asset.release_id
    }

    /// The same stored content: generation and copy bytes (then the records are the same too).
    pub fn same_content(&self, other: &Copy) -> bool {
        self.generation() == other.generation()
            && self
                .meta
                .copy_sha256()
                .eq_ignore_ascii_case(other.meta.copy_sha256())
    }

    /// Every asset the copy is made of: its archive (a chain's base) and its parts.
    pub fn archives(&self) -> impl Iterator<Item = &Asset> {
        std::iter::once(&self.archive_asset).chain(&self.parts)
    }
}

/// The one order of copies, current first: the higher generation as the metadata says it (content
/// beats names: a claim's name must agree, see [`layouts`]); on a tie the stable name (a claim of
/// the generation the stable copy already has lost a race); then content (more records, then the
/// archive's sha256), so every reader picks the same copy whatever the names, labels or upload
/// times say; then the lower draft id (the one duplicates merge into). Never upload time.
pub fn rank(a: &Copy, b: &Copy) -> Ordering {
    b.generation()
        .cmp(&a.generation())
        .then(b.stable().cmp(&a.stable()))
        .then(b.meta.uuid_count.cmp(&a.meta.uuid_count))
        .then_with(|| {
            let sha = |c: &Copy| c.meta.copy_sha256().to_ascii_lowercase();
            sha(b).cmp(&sha(a))
        })
        .then(a.release_id().cmp(&b.release_id()))
        .then(a.metadata_asset.id.cmp(&b.metadata_asset.id))
}

/// Two copies of one session neither of which can descend from the other: the same generation
/// with other bytes, or a higher generation whose parent at the lower one's generation is another
/// copy. Only a person can choose between them (the uuid rule's "diverged").
pub fn diverged(a: &Copy, b: &Copy) -> bool {
    let (low, high) = if a.generation() <= b.generation() {
        (a, b)
    } else {
        (b, a)
    };
    if low.generation() == high.generation() {
        return !low.same_content(high);
    }
    high.meta.parent.as_ref().is_some_and(|p| {
        p.generation == low.generation()
            && !p
                .archive_sha256
                .eq_ignore_ascii_case(low.meta.copy_sha256())
    })
}

/// Whether `x` provably holds every record of `y`, from their metadata alone: the same content;
/// `y` is what `x` replaced (`parent`) or found its writer to hold (`supersedes`); `y`'s
/// transcript is one `x` passed through (a link of its chain, or its own); `y` is `x`'s base; or
/// the write protocol orders them by generation (the higher one's writer compared with the lower
/// before it wrote). ccsync 0.1 and 0.2 cannot read a chain, so a copy of theirs and a chain are
/// ordered only by these facts (docs/write-protocol.md, "Older ccsync beside a chain").
pub fn contains(x: &Copy, y: &Copy) -> bool {
    let (xm, ym) = (&x.meta, &y.meta);
    let names_y = |link: &Option<crate::bundle::metadata::Parent>| {
        link.as_ref().is_some_and(|p| {
            p.generation == ym.generation && p.archive_sha256.eq_ignore_ascii_case(ym.copy_sha256())
        })
    };
    let passed_through = xm.known_states().iter().any(|(count, sha)| {
        *count == ym.uuid_count && sha.eq_ignore_ascii_case(&ym.uuid_chain_sha256)
    });
    let is_base = xm.chain.is_some() && xm.archive.sha256.eq_ignore_ascii_case(ym.copy_sha256());
    if x.same_content(y)
        || names_y(&xm.parent)
        || names_y(&xm.supersedes)
        || passed_through
        || is_base
    {
        return true;
    }
    let ordered = xm.generation > ym.generation;
    match (xm.knows_chains(), ym.knows_chains()) {
        // An old ccsync's copy never read a chain; it may have read a full copy.
        (false, true) => ym.chain.is_none() && ordered,
        // Our writer compared with the copy it replaced; but an old ccsync's copy under the
        // stable names beside a chain that did not name it came after the chain (its writer could
        // not read the chain, and a chain never takes the stable names).
        (true, false) => ordered && !(y.role == Role::StableMetadata && xm.chain.is_some()),
        _ => ordered,
    }
}

/// The copies of the current copy's draft that it does not provably hold ([`contains`]): an
/// older ccsync's full copy beside a chain, or the chain beside it. Nothing of them is removed,
/// and readers choose between them and the current copy by the uuid rule, on their content.
pub fn beside(layout: &SessionLayout) -> Vec<&Copy> {
    let Some(current) = layout.current() else {
        return Vec::new();
    };
    layout
        .copies
        .iter()
        .skip(1)
        .filter(|c| c.release_id() == current.release_id() && !contains(current, c))
        .collect()
}

/// Everything of one session in a release.
#[derive(Debug, Clone)]
pub struct SessionLayout {
    pub session_id: String,
    /// Every asset of the session, any state, with its role.
    pub assets: Vec<(Asset, Role)>,
    /// The complete copies, current first ([`rank`]).
    pub copies: Vec<Copy>,
    /// The metadata assets that were read and are known not to describe a copy (junk, a claim
    /// whose archive is gone): only these may be removed as litter; one not read stays.
    pub judged: HashSet<u64>,
}

impl SessionLayout {
    /// The copy readers use: the first by [`rank`].
    pub fn current(&self) -> Option<&Copy> {
        self.copies.first()
    }

    /// The best copy held by draft `release_id`.
    pub fn current_in(&self, release_id: u64) -> Option<&Copy> {
        self.copies.iter().find(|c| c.release_id() == release_id)
    }
}

/// Real metadata is larger than this (its required fields alone are): a claim any smaller is junk,
/// skipped without a download.
pub const MIN_METADATA_BYTES: u64 = 256;

/// Claims read per session and command, at most, beyond the stable metadata: junk claims above
/// the current copy cost a bounded number of downloads (writers remove what they judged).
pub const MAX_CLAIM_READS: usize = 8;

/// Whether a metadata asset is worth a download: uploaded, not too large (a claim: not too small
/// either; a broken stable metadata is read, to say so), and in a draft that holds an archive of
/// its session (no archive, no copy).
pub(crate) fn may_describe_a_copy(asset: &Asset, id: &str, assets: &[Asset]) -> bool {
    // Claims and chain metadata are larger than this when real. A small stable metadata is read
    // (broken metadata is reported), unless it is exactly the signpost over a chain.
    let role = names::classify(&asset.name).map(|(_, role)| role);
    let small_is_no_copy = matches!(role, Some(Role::Claim { .. } | Role::ChainMetadata));
    let floor = if small_is_no_copy {
        MIN_METADATA_BYTES
    } else {
        0
    };
    let signpost = role == Some(Role::StableMetadata) && is_signpost(asset, id);
    !signpost
        && asset.state == "uploaded"
        && (floor..=crate::bundle::metadata::MAX_METADATA_BYTES as u64).contains(&asset.size)
        && assets.iter().any(|a| {
            a.release_id == asset.release_id
                && a.state == "uploaded"
                && names::classify(&a.name).is_some_and(|(of, role)| of == id && is_archive(&role))
        })
}

/// The first metadata a reader downloads: the stable (and 0.1 temporary) metadata of each session,
/// with their session ids. `only` limits them to one session. Claims come after, a few at a time
/// ([`claims_to_read`]).
pub fn metadata_to_read<'a>(assets: &'a [Asset], only: Option<&str>) -> Vec<(&'a Asset, String)> {
    assets
        .iter()
        .filter_map(|asset| {
            let (id, role) = names::classify(&asset.name)?;
            (role.is_metadata()
                && !matches!(role, Role::Claim { .. })
                && only.is_none_or(|o| o == id)
                && may_describe_a_copy(asset, id, assets))
            .then(|| (asset, id.to_owned()))
        })
        .collect()
}

/// The next claims worth reading, at most `per_session` of each session, highest generation
/// first: those above the best copy already known in their draft (a claim at or below it can
/// never be current there), not in `tried`.
pub fn claims_to_read<'a>(
    assets: &'a [Asset],
    metas: &HashMap<u64, Metadata>,
    tried: &HashSet<u64>,
    only: Option<&str>,
    per_session: usize,
) -> Vec<(&'a Asset, String)> {
    let known = layouts(assets, metas);
    let best_in = |id: &str, release_id: u64| {
        known
            .iter()
            .find(|l| l.session_id == id)
            .and_then(|l| l.current_in(release_id))
            .map(Copy::generation)
    };
    let mut candidates: Vec<(&Asset, &str, u64)> = assets
        .iter()
        .filter(|a| !tried.contains(&a.id) && !metas.contains_key(&a.id))
        .filter_map(|asset| match names::classify(&asset.name)? {
            (id, Role::Claim { generation }) if only.is_none_or(|o| o == id) => {
                Some((asset, id, generation))
            }
            _ => None,
        })
        .filter(|(asset, id, generation)| {
            best_in(id, asset.release_id).is_none_or(|best| *generation > best)
                && may_describe_a_copy(asset, id, assets)
        })
        .collect();
    candidates.sort_by(|a, b| a.1.cmp(b.1).then(b.2.cmp(&a.2)));
    let mut out: Vec<(&Asset, String)> = Vec::new();
    for (asset, id, _) in candidates {
        if out.iter().filter(|(_, of)| of == id).count() < per_session {
            out.push((asset, id.to_owned()));
        }
    }
    out
}

/// Whether `archive` holds the bytes `meta` records: same size and GitHub's `digest` equal to the
/// sha256; without a digest (assets older than 2025-06), the name the metadata gives or a
/// temporary name of the session, and the sha256 is checked at download.
fn holds(meta: &Metadata, archive: &Asset, role: &Role) -> bool {
    holds_bytes(
        (&meta.archive.name, meta.archive.size, &meta.archive.sha256),
        archive,
        role,
    )
}

/// Whether `asset` holds the bytes of (name, size, sha256): an archive or a chain's part.
fn holds_bytes((name, size, sha256): (&str, u64, &str), asset: &Asset, role: &Role) -> bool {
    if asset.state != "uploaded" || asset.size != size {
        return false;
    }
    match asset
        .digest
        .as_deref()
        .and_then(|d| d.strip_prefix("sha256:"))
    {
        Some(digest) => digest.eq_ignore_ascii_case(sha256),
        None => asset.name == name || !role.is_stable(),
    }
}

fn is_archive(role: &Role) -> bool {
    matches!(
        role,
        Role::StableArchive { .. }
            | Role::TempArchive { .. }
            | Role::LegacyTemp { metadata: false }
            | Role::Part { .. }
    )
}

/// The asset holding each part of `meta`'s chain in draft `release_id` (the newest upload of
/// those that match), or `None` when one is missing: then the metadata describes no copy.
fn parts_of(meta: &Metadata, release_id: u64, assets: &[(Asset, Role)]) -> Option<Vec<Asset>> {
    meta.parts()
        .iter()
        .map(|part| {
            assets
                .iter()
                .filter(|(a, r)| {
                    a.release_id == release_id
                        && is_archive(r)
                        && holds_bytes((&part.name, part.size, &part.sha256), a, r)
                })
                .max_by_key(|(a, _)| a.id)
                .map(|(a, _)| a.clone())
        })
        .collect()
}

/// The sessions of `assets`, each with its complete copies, given the metadata read so far (by
/// asset id; a metadata asset not in `metas` counts as unreadable).
pub fn layouts(assets: &[Asset], metas: &HashMap<u64, Metadata>) -> Vec<SessionLayout> {
    layouts_judged(assets, metas, &HashSet::new())
}

/// [`layouts`], knowing which metadata assets were downloaded and are no metadata at all (`junk`).
pub fn layouts_judged(
    assets: &[Asset],
    metas: &HashMap<u64, Metadata>,
    junk: &HashSet<u64>,
) -> Vec<SessionLayout> {
    let mut by_session: HashMap<&str, Vec<(Asset, Role)>> = HashMap::new();
    for asset in assets {
        if let Some((id, role)) = names::classify(&asset.name) {
            by_session
                .entry(id)
                .or_default()
                .push((asset.clone(), role));
        }
    }
    let mut out: Vec<SessionLayout> = by_session
        .into_iter()
        .map(|(id, session_assets)| layout_of(id, session_assets, metas, junk))
        .collect();
    out.sort_by(|a, b| a.session_id.cmp(&b.session_id));
    out
}

fn layout_of(
    session_id: &str,
    assets: Vec<(Asset, Role)>,
    metas: &HashMap<u64, Metadata>,
    junk: &HashSet<u64>,
) -> SessionLayout {
    let mut copies = Vec::new();
    let mut judged = HashSet::new();
    for (asset, role) in &assets {
        if !role.is_metadata() || asset.state != "uploaded" {
            continue;
        }
        // Junk, or the signpost under the stable name ([`crate::bundle::metadata::signpost`]):
        // known to be no copy without a read.
        let signpost = *role == Role::StableMetadata && is_signpost(asset, session_id);
        if junk.contains(&asset.id) || signpost {
            judged.insert(asset.id);
            continue;
        }
        let Some(meta) = metas.get(&asset.id) else {
            continue;
        };
        // A claim's name and content must agree: otherwise one asset would rank by one number
        // for some and by another for others.
        let agrees = match role {
            Role::Claim { generation } => *generation == meta.generation,
            _ => true,
        };
        if meta.session_id != session_id || !agrees {
            judged.insert(asset.id);
            continue;
        }
        let archive = assets
            .iter()
            .filter(|(a, r)| a.release_id == asset.release_id && is_archive(r) && holds(meta, a, r))
            .max_by_key(|(a, _)| a.id);
        let parts = parts_of(meta, asset.release_id, &assets);
        if let (Some((archive, _)), Some(parts)) = (archive, parts) {
            copies.push(Copy {
                meta: meta.clone(),
                metadata_asset: asset.clone(),
                archive_asset: archive.clone(),
                parts,
                role: role.clone(),
            });
        } else {
            judged.insert(asset.id);
        }
    }
    copies.sort_by(rank);
    SessionLayout {
        session_id: session_id.to_owned(),
        assets,
        copies,
        judged,
    }
}

/// One request of a roll-forward or cleanup. Everything goes by asset id: a stale plan only meets
/// 404s, which count as done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Delete(Asset),
    Rename(Asset, String),
    /// Uploads the signpost ([`crate::bundle::metadata::signpost`]) of a chain under a stable
    /// name of `session_id` in draft `release_id`: the metadata's, or with `archive` the plain
    /// archive's (ccsync 0.2 reads a session's metadata only beside an archive of its own names).
    /// Best effort: a name taken meanwhile stays.
    Signpost {
        release_id: u64,
        session_id: String,
        archive: bool,
    },
}

/// Who plans, for the cleanup of leftovers.
#[derive(Debug, Clone)]
pub struct Planner<'a> {
    pub now: DateTime<Utc>,
    /// This writer's id when it holds the local lock of the session: its own temporary archives
    /// and `starter` leftovers are then a dead run's.
    pub own_writer: Option<&'a str>,
    /// Temporary archives this very run uploaded (alive, so never a dead run's leftovers).
    pub live: HashSet<u64>,
}

fn older_than_an_hour(asset: &Asset, now: DateTime<Utc>) -> bool {
    asset
        .updated_at
        .as_deref()
        .or(asset.created_at.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| now - t.with_timezone(&Utc) > STALE_AFTER)
}

/// The part of `layout` in the draft of the current copy (else of the lowest release id).
fn home_draft(layout: &SessionLayout) -> SessionLayout {
    let home = layout
        .current()
        .map(Copy::release_id)
        .or_else(|| layout.assets.iter().map(|(a, _)| a.release_id).min());
    SessionLayout {
        session_id: layout.session_id.clone(),
        assets: layout
            .assets
            .iter()
            .filter(|(a, _)| Some(a.release_id) == home)
            .cloned()
            .collect(),
        copies: layout
            .copies
            .iter()
            .filter(|c| Some(c.release_id()) == home)
            .cloned()
            .collect(),
        judged: layout.judged.clone(),
    }
}

/// The steps that bring the current copy under its final names; `keep` gets the assets it and
/// the copies beside it ([`beside`]) use. A full copy's are the stable names; a chain's are
/// names ccsync 0.1 and 0.2 never write or delete: the base and each part `.d<G>`, the metadata
/// `claude-session-chain-<uuid>.json`, with the signpost under the stable metadata name
/// (docs/write-protocol.md, "Delta copies"). A name held by a copy beside stays as it is.
fn stable_names(layout: &SessionLayout, keep: &mut HashSet<u64>) -> Vec<Step> {
    let mut steps = Vec::new();
    let Some(current) = layout.current() else {
        return steps;
    };
    let id = layout.session_id.as_str();
    let encrypted = current.meta.archive.encryption != Encryption::None;
    for copy in std::iter::once(current).chain(beside(layout)) {
        keep.insert(copy.metadata_asset.id);
        keep.extend(copy.archives().map(|a| a.id));
    }
    let chain = current.meta.chain.as_ref();
    let (archive_name, metadata_name) = match chain {
        Some(chain) => (
            names::part_asset_name(id, chain.base.generation, encrypted),
            names::chain_metadata_asset_name(id),
        ),
        None => (
            names::archive_asset_name(id, encrypted),
            names::metadata_asset_name(id),
        ),
    };
    rename_into(
        layout,
        keep,
        &mut steps,
        &archive_name,
        &current.archive_asset,
    );
    if chain.is_some() {
        steps.extend(signpost_steps(layout, keep, current, true));
        steps.extend(signpost_steps(layout, keep, current, false));
    }
    // The parts under their final names before the metadata does (docs/write-protocol.md, "A
    // delta write").
    for (part, asset) in current.meta.parts().iter().zip(&current.parts) {
        let name = names::part_asset_name(id, part.generation, encrypted);
        rename_into(layout, keep, &mut steps, &name, asset);
    }
    rename_into(
        layout,
        keep,
        &mut steps,
        &metadata_name,
        &current.metadata_asset,
    );
    // A chain of ccsync 0.3 under the stable metadata name gets its signpost once it moved.
    if chain.is_some() && current.metadata_asset.name == names::metadata_asset_name(id) {
        steps.push(Step::Signpost {
            release_id: current.release_id(),
            session_id: id.to_owned(),
            archive: false,
        });
    }
    steps
}

/// Renames `ours` to `target`, deleting first what else holds that name, unless a kept asset
/// (of the current copy or one beside it) holds it: then `ours` keeps its name (it is matched
/// by content).
fn rename_into(
    layout: &SessionLayout,
    keep: &HashSet<u64>,
    steps: &mut Vec<Step>,
    target: &str,
    ours: &Asset,
) {
    if ours.name == target {
        return;
    }
    let holders: Vec<&Asset> = layout
        .assets
        .iter()
        .map(|(a, _)| a)
        .filter(|a| a.name == target)
        .collect();
    if holders.iter().any(|a| keep.contains(&a.id)) {
        return;
    }
    steps.extend(holders.into_iter().map(|a| Step::Delete(a.clone())));
    steps.push(Step::Rename(ours.clone(), target.to_owned()));
}

/// The signpost under a stable name of a chain (the metadata's, or with `archive` the plain
/// archive's): uploaded where the name is free (or just renamed away from: the base), put in
/// place of an asset that is no copy's or of a copy the chain holds; a copy beside the chain, a
/// signpost already there, or metadata not read stay. The current copy's own metadata under the
/// stable name (ccsync 0.3's layout) gets it after its rename ([`stable_names`]).
fn signpost_steps(
    layout: &SessionLayout,
    keep: &HashSet<u64>,
    current: &Copy,
    archive: bool,
) -> Vec<Step> {
    let id = &layout.session_id;
    let (name, ours) = if archive {
        (names::archive_asset_name(id, false), &current.archive_asset)
    } else {
        (names::metadata_asset_name(id), &current.metadata_asset)
    };
    let signpost = Step::Signpost {
        release_id: current.release_id(),
        session_id: id.clone(),
        archive,
    };
    let Some(holder) = layout
        .assets
        .iter()
        .map(|(a, _)| a)
        .find(|a| a.name == name)
    else {
        return vec![signpost];
    };
    if holder.id == ours.id {
        return if archive { vec![signpost] } else { Vec::new() };
    }
    let replaceable = holder.state == "uploaded"
        && !keep.contains(&holder.id)
        && !is_signpost(holder, id)
        && (archive
            || (holder.size >= MIN_METADATA_BYTES
                && (layout.judged.contains(&holder.id)
                    || layout
                        .copies
                        .iter()
                        .any(|c| c.metadata_asset.id == holder.id))));
    if replaceable {
        vec![Step::Delete(holder.clone()), signpost]
    } else {
        Vec::new()
    }
}

/// Whether `asset` holds exactly the signpost of session `id` (by size, and GitHub's digest when
/// it gives one).
pub fn is_signpost(asset: &Asset, id: &str) -> bool {
    use sha2::Digest;
    let text = crate::bundle::metadata::signpost(id);
    asset.size == text.len() as u64
        && asset.digest.as_deref().is_none_or(|d| {
            let sha = hex::encode(sha2::Sha256::digest(text.as_bytes()));
            d.strip_prefix("sha256:")
                .is_some_and(|d| d.eq_ignore_ascii_case(&sha))
        })
}

/// What the litter rules need to know of the layout's assets.
struct Known {
    /// Archives (and parts) of copies that are not current and not beside it: they go with
    /// their metadata.
    of_old_copies: HashSet<u64>,
    /// The metadata of those copies under a chain's metadata name (a chain a compaction or a
    /// newer chain replaced).
    old_chain_metadata: HashSet<u64>,
    /// Archives (and parts) any copy uses.
    referenced: HashSet<u64>,
    /// Assets `steps` already delete.
    renamed: HashSet<u64>,
}

impl Known {
    fn of(layout: &SessionLayout, steps: &[Step]) -> Known {
        let beside: HashSet<u64> = beside(layout).iter().map(|c| c.metadata_asset.id).collect();
        let old = || {
            layout
                .copies
                .iter()
                .skip(1)
                .filter(|c| !beside.contains(&c.metadata_asset.id))
        };
        let of_old_copies: HashSet<u64> = old().flat_map(|c| c.archives().map(|a| a.id)).collect();
        let old_chain_metadata: HashSet<u64> = old()
            .filter(|c| c.role == Role::ChainMetadata)
            .map(|c| c.metadata_asset.id)
            .collect();
        let referenced: HashSet<u64> = layout
            .copies
            .iter()
            .flat_map(|c| c.archives().map(|a| a.id))
            .collect();
        let renamed: HashSet<u64> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Delete(a) => Some(a.id),
                Step::Rename(..) | Step::Signpost { .. } => None,
            })
            .collect();
        Known {
            of_old_copies,
            old_chain_metadata,
            referenced,
            renamed,
        }
    }
}

/// Litter removed per session and run, at most: junk anyone can upload in bulk costs each run a
/// bounded number of requests, and goes over a few runs.
pub const MAX_LITTER_PER_RUN: usize = 4;

/// The steps that bring the current copy under the stable names (in the protocol's order: old
/// archive, archive rename, old metadata, metadata rename), then remove what can never be part
/// of a copy again. Empty in the steady state. Only the draft of the current copy is touched
/// (names are unique per draft; other drafts are the merge's, [`super::merge`]).
pub fn repair_plan(layout: &SessionLayout, planner: &Planner) -> Vec<Step> {
    let layout = &home_draft(layout);
    let mut keep: HashSet<u64> = HashSet::new();
    let mut steps = stable_names(layout, &mut keep);
    let current_generation = layout.current().map(Copy::generation);
    let current_is_chain = layout.current().is_some_and(|c| c.meta.chain.is_some());
    let Known {
        of_old_copies,
        old_chain_metadata,
        referenced,
        renamed,
    } = Known::of(layout, &steps);
    let mut litter_left = MAX_LITTER_PER_RUN;
    for (asset, role) in &layout.assets {
        if keep.contains(&asset.id) || renamed.contains(&asset.id) {
            continue;
        }
        let stale = older_than_an_hour(asset, planner.now);
        let own = matches!(role, Role::TempArchive { writer, .. } if Some(writer.as_str()) == planner.own_writer)
            && !planner.live.contains(&asset.id);
        let litter = if asset.state != "uploaded" {
            // Half-written: ours (we are not uploading it) or abandoned.
            own || stale
        } else {
            match role {
                // A stable name that is not the current copy's (the other archive format, or
                // metadata when no copy is complete) goes only once a current copy exists.
                // The signpost stays while a chain is current.
                Role::StableArchive { .. } => {
                    current_generation.is_some()
                        && !(current_is_chain && is_signpost(asset, &layout.session_id))
                }
                Role::StableMetadata => false,
                // A chain's metadata that is not current: of a chain replaced (it goes with its
                // parts), or read and no copy. One not read stays.
                Role::ChainMetadata => {
                    current_generation.is_some()
                        && (old_chain_metadata.contains(&asset.id)
                            || layout.judged.contains(&asset.id))
                }
                // A claim that is not current lost a race or can never complete (judged so from
                // its content: one not read stays).
                Role::Claim { generation } => {
                    current_generation.is_some_and(|g| *generation <= g)
                        || layout.judged.contains(&asset.id)
                }
                Role::TempArchive { .. } | Role::LegacyTemp { metadata: false } => {
                    // A young twin of the current archive (the same bytes, uploaded by another
                    // live writer of the same content) stays: its writer may yet delete the asset
                    // the current copy uses, and the copy then lives on in the twin.
                    let twin = layout.current().is_some_and(|c| {
                        c.archive_asset.id != asset.id && holds(&c.meta, asset, role)
                    });
                    (!twin || stale || own)
                        && (of_old_copies.contains(&asset.id)
                            || (!referenced.contains(&asset.id) && (own || stale)))
                }
                Role::LegacyTemp { metadata: true } => current_generation.is_some() && stale,
                // A part the current copy does not use, of its generation or older, can never
                // be used again (claims name only parts of their parent's chain); one above it
                // may belong to a claim not read yet.
                Role::Part { generation, .. } => {
                    current_generation.is_some_and(|g| *generation <= g)
                }
            }
        };
        // The archives and parts of a copy just replaced are bounded by what its metadata may
        // list: they all go at once (a compacted chain leaves no tail of parts); other litter
        // goes a few at a time.
        let of_old_copy =
            of_old_copies.contains(&asset.id) || old_chain_metadata.contains(&asset.id);
        if litter && (of_old_copy || litter_left > 0) {
            if !of_old_copy {
                litter_left -= 1;
            }
            steps.push(Step::Delete(asset.clone()));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::metadata::tests::sample;

    const ID: &str = "4d5611e5-241a-462a-8d15-5122611a9569";

    struct Release {
        assets: Vec<Asset>,
        metas: HashMap<u64, Metadata>,
        next_id: u64,
    }

    fn asset(id: u64, name: &str, size: u64, sha: &str, state: &str) -> Asset {
        Asset {
            id,
            name: name.into(),
            size,
            state: state.into(),
            digest: Some(format!("sha256:{sha}")),
            content_type: None,
            created_at: Some("2026-01-01T00:00:00Z".into()),
            updated_at: Some("2026-01-01T00:00:00Z".into()),
            label: None,
            release_id: 1,
            stored_name: None,
        }
    }

    fn meta(generation: u64, version: u8) -> Metadata {
        let mut m = sample();
        m.session_id = ID.into();
        m.archive.name = names::archive_asset_name(ID, false);
        m.archive.size = 100 + u64::from(version);
        m.archive.sha256 = format!("{version:02x}").repeat(32);
        m.generation = generation;
        // Written by a ccsync that knows chains (a manifest), as this one writes.
        m.manifest = Some(Default::default());
        m
    }

    impl Release {
        fn new() -> Self {
            Release {
                assets: vec![],
                metas: HashMap::new(),
                next_id: 10,
            }
        }

        fn archive(&mut self, name: &str, version: u8) -> Asset {
            self.next_id += 1;
            let m = meta(0, version);
            let a = asset(
                self.next_id,
                name,
                m.archive.size,
                &m.archive.sha256,
                "uploaded",
            );
            self.assets.push(a.clone());
            a
        }

        fn metadata(&mut self, name: &str, generation: u64, version: u8) -> Asset {
            self.next_id += 1;
            let a = asset(self.next_id, name, 1000, &"00".repeat(32), "uploaded");
            self.metas.insert(a.id, meta(generation, version));
            self.assets.push(a.clone());
            a
        }

        fn layout(&self) -> SessionLayout {
            layouts(&self.assets, &self.metas).remove(0)
        }

        /// Applies steps as GitHub would (by id; a gone id is a 404 = done; a taken name fails).
        fn apply(&mut self, steps: &[Step]) {
            for step in steps {
                match step {
                    Step::Delete(a) => self.assets.retain(|x| x.id != a.id),
                    Step::Rename(a, name) => {
                        assert!(
                            !self.assets.iter().any(|x| &x.name == name && x.id != a.id),
                            "rename onto a taken name {name}"
                        );
                        if let Some(x) = self.assets.iter_mut().find(|x| x.id == a.id) {
                            x.name = name.clone();
                        }
                    }
                    Step::Signpost {
                        session_id,
                        archive,
                        ..
                    } => {
                        let name = if *archive {
                            names::archive_asset_name(session_id, false)
                        } else {
                            names::metadata_asset_name(session_id)
                        };
                        if !self.assets.iter().any(|x| x.name == name) {
                            self.next_id += 1;
                            let size = crate::bundle::metadata::signpost(session_id).len() as u64;
                            let text = crate::bundle::metadata::signpost(session_id);
                            let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                                text.as_bytes(),
                            ));
                            let a = asset(self.next_id, &name, size, &sha, "uploaded");
                            self.assets.push(a);
                        }
                    }
                }
            }
        }

        fn current_version(&self) -> Option<u64> {
            self.layout().current().map(|c| c.meta.archive.size - 100)
        }
    }

    fn reader() -> Planner<'static> {
        Planner {
            now: "2026-01-01T00:10:00Z".parse().unwrap(),
            own_writer: None,
            live: HashSet::new(),
        }
    }

    /// A builder of one state of a replace: (release, stable archive, stable metadata, temporary
    /// archive, claim).
    type Build = fn(&mut Release, &str, &str, &str, &str);

    /// The states of a replace, in order, each with the version readers must use.
    fn replace_states() -> Vec<(&'static str, Build, u64)> {
        vec![
            (
                "start",
                |r, a, m, _, _| {
                    r.archive(a, 1);
                    r.metadata(m, 0, 1);
                },
                1,
            ),
            (
                "temp uploaded",
                |r, a, m, t, _| {
                    r.archive(a, 1);
                    r.metadata(m, 0, 1);
                    r.archive(t, 2);
                },
                1,
            ),
            (
                "claim uploaded",
                |r, a, m, t, c| {
                    r.archive(a, 1);
                    r.metadata(m, 0, 1);
                    r.archive(t, 2);
                    r.metadata(c, 1, 2);
                },
                2,
            ),
            (
                "old archive deleted",
                |r, _, m, t, c| {
                    r.metadata(m, 0, 1);
                    r.archive(t, 2);
                    r.metadata(c, 1, 2);
                },
                2,
            ),
            (
                "temp renamed",
                |r, a, m, _, c| {
                    r.metadata(m, 0, 1);
                    r.archive(a, 2);
                    r.metadata(c, 1, 2);
                },
                2,
            ),
            (
                "old metadata deleted",
                |r, a, _, _, c| {
                    r.archive(a, 2);
                    r.metadata(c, 1, 2);
                },
                2,
            ),
            (
                "done",
                |r, a, m, _, _| {
                    r.archive(a, 2);
                    r.metadata(m, 1, 2);
                },
                2,
            ),
        ]
    }

    /// The protocol's states of a replace (v1 at generation 0 by ccsync 0.1 -> v2 at generation
    /// 1): in each, a complete copy exists and the one with v2 wins once its claim is up; applying
    /// the repair plan from any of them ends in exactly the stable pair of the winner.
    #[test]
    fn every_intermediate_state_has_a_copy_and_rolls_forward_to_the_stable_pair() {
        let stable_archive = names::archive_asset_name(ID, false);
        let stable_meta = names::metadata_asset_name(ID);
        let temp = names::temp_archive_name(ID, "w1", "n1", false);
        let claim = names::claim_asset_name(ID, 1);
        for (label, build, want) in replace_states() {
            let mut release = Release::new();
            build(&mut release, &stable_archive, &stable_meta, &temp, &claim);
            assert_eq!(release.current_version(), Some(want), "{label}");
            let plan = repair_plan(&release.layout(), &reader());
            release.apply(&plan);
            let mut names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
            names.sort();
            let mut stable = vec![stable_archive.as_str(), stable_meta.as_str()];
            stable.sort();
            if label == "temp uploaded" {
                // A young temporary archive of another writer may be an upload in flight.
                assert!(names.contains(&temp.as_str()), "{label}: {names:?}");
                names.retain(|n| *n != temp);
            }
            assert_eq!(names, stable, "{label}");
            assert_eq!(release.current_version(), Some(want), "{label}");
            assert!(
                repair_plan(&release.layout(), &reader()).is_empty(),
                "{label}"
            );
        }
    }

    /// Every prefix of the roll-forward plan, applied, still holds a complete copy of the new
    /// version (a reader or writer may die after any step).
    #[test]
    fn every_prefix_of_a_roll_forward_keeps_the_new_copy() {
        let mut release = Release::new();
        release.archive(&names::archive_asset_name(ID, false), 1);
        release.metadata(&names::metadata_asset_name(ID), 0, 1);
        release.archive(&names::temp_archive_name(ID, "w1", "n1", false), 2);
        release.metadata(&names::claim_asset_name(ID, 1), 1, 2);
        let plan = repair_plan(&release.layout(), &reader());
        assert_eq!(plan.len(), 4, "{plan:?}");
        for k in 0..=plan.len() {
            let mut partial = Release {
                assets: release.assets.clone(),
                metas: release.metas.clone(),
                next_id: 0,
            };
            partial.apply(&plan[..k]);
            assert_eq!(partial.current_version(), Some(2), "after {k} steps");
            // A second actor with a stale plan (the full one) does no harm either.
            partial.apply(&plan);
            assert_eq!(
                partial.current_version(),
                Some(2),
                "stale plan after {k} steps"
            );
        }
    }

    #[test]
    fn metadata_whose_archive_does_not_match_is_no_copy() {
        let mut release = Release::new();
        // The new archive beside the old metadata (0.1's half-finished replace): no copy at all,
        // so nothing is reported equal and nothing is deleted.
        release.archive(&names::archive_asset_name(ID, false), 2);
        release.metadata(&names::metadata_asset_name(ID), 0, 1);
        assert!(release.layout().current().is_none());
        assert!(repair_plan(&release.layout(), &reader()).is_empty());
        // The stranded complete copy of 0.1 under a temporary name is found by content.
        let mut release = Release::new();
        release.metadata(&names::metadata_asset_name(ID), 0, 2);
        release.archive(
            &names::temp_asset_name(&names::archive_asset_name(ID, false), "x"),
            2,
        );
        assert_eq!(release.current_version(), Some(2));
        let plan = repair_plan(&release.layout(), &reader());
        release.apply(&plan);
        assert!(release
            .assets
            .iter()
            .any(|a| a.name == names::archive_asset_name(ID, false)));
    }

    #[test]
    fn a_stale_claim_loses_to_the_stable_copy_of_its_generation_and_is_removed() {
        let mut release = Release::new();
        release.archive(&names::archive_asset_name(ID, false), 2);
        release.metadata(&names::metadata_asset_name(ID), 1, 2);
        let loser_archive = release.archive(&names::temp_archive_name(ID, "w2", "n2", false), 3);
        let loser = release.metadata(&names::claim_asset_name(ID, 1), 1, 3);
        assert_eq!(release.current_version(), Some(2));
        let plan = repair_plan(&release.layout(), &reader());
        assert!(plan.contains(&Step::Delete(loser)));
        assert!(plan.contains(&Step::Delete(loser_archive)));
        release.apply(&plan);
        assert_eq!(release.assets.len(), 2);
    }

    /// Two writers carried the same bytes (two merges of one duplicate): the loser deletes its
    /// own temporary archive, which the winner's roll-forward may have renamed to the stable name.
    /// The winner's twin stays while young, so the copy lives on in it.
    #[test]
    fn a_young_twin_of_the_current_archive_stays() {
        // The winner's own upload, then the loser's (a higher id: the copy's archive), renamed.
        let mut release = Release::new();
        let twin = release.archive(&names::temp_archive_name(ID, "w7", "n", false), 2);
        let used = release.archive(&names::archive_asset_name(ID, false), 2);
        release.metadata(&names::metadata_asset_name(ID), 2, 2);
        let writer = Planner {
            own_writer: Some("me"),
            ..reader()
        };
        assert_eq!(
            release.layout().current().unwrap().archive_asset.id,
            used.id
        );
        assert!(repair_plan(&release.layout(), &writer).is_empty());
        // The loser deletes what it uploaded: the copy is the twin now, and rolls forward to it.
        release.apply(&[Step::Delete(used)]);
        assert_eq!(release.current_version(), Some(2));
        let plan = repair_plan(&release.layout(), &writer);
        assert_eq!(
            plan,
            vec![Step::Rename(twin, names::archive_asset_name(ID, false))]
        );
        release.apply(&plan);
        assert_eq!(release.assets.len(), 2);
        assert_eq!(release.current_version(), Some(2));
        // A stale twin goes.
        let mut release = Release::new();
        let mut old = release.archive(&names::temp_archive_name(ID, "w8", "n", false), 2);
        old.updated_at = Some("2025-12-31T22:00:00Z".into());
        release.assets.last_mut().unwrap().updated_at = old.updated_at.clone();
        release.archive(&names::archive_asset_name(ID, false), 2);
        release.metadata(&names::metadata_asset_name(ID), 2, 2);
        assert_eq!(
            repair_plan(&release.layout(), &reader()),
            vec![Step::Delete(old)]
        );
    }

    /// A chain of generation `generation`: the base `base` (an archive of [`meta`]'s version) and
    /// one part per (generation, version), each `200 + version` bytes.
    /// The two signposts of a chain in draft 1.
    fn signposts() -> Vec<Step> {
        [true, false]
            .map(|archive| Step::Signpost {
                release_id: 1,
                session_id: ID.into(),
                archive,
            })
            .to_vec()
    }

    fn chain_meta(generation: u64, base: u8, parts: &[(u64, u8)]) -> Metadata {
        use crate::bundle::metadata::{After, Base, Chain, Part};
        let after = || After {
            records: 1,
            lines: 1,
            uuid_count: 1,
            uuid_chain_sha256: "11".repeat(32),
        };
        let mut m = meta(generation, base);
        m.format = crate::bundle::metadata::FORMAT_CHAIN;
        m.chain = Some(Chain {
            base: Base {
                generation: 1,
                after: after(),
                roots: m.roots(),
            },
            parts: parts
                .iter()
                .map(|&(g, v)| Part {
                    generation: g,
                    name: names::part_asset_name(ID, g, false),
                    size: 200 + u64::from(v),
                    sha256: format!("{v:02x}").repeat(32),
                    unpacked_size: 1,
                    roots: m.roots(),
                    after: after(),
                    removed: vec![],
                })
                .collect(),
        });
        m
    }

    impl Release {
        fn part(&mut self, name: &str, version: u8) -> Asset {
            self.next_id += 1;
            let sha = format!("{version:02x}").repeat(32);
            let a = asset(
                self.next_id,
                name,
                200 + u64::from(version),
                &sha,
                "uploaded",
            );
            self.assets.push(a.clone());
            a
        }

        fn chain(&mut self, name: &str, meta: Metadata) -> Asset {
            self.next_id += 1;
            let a = asset(self.next_id, name, 1000, &"00".repeat(32), "uploaded");
            self.metas.insert(a.id, meta);
            self.assets.push(a.clone());
            a
        }

        fn current_generation(&self) -> Option<u64> {
            self.layout().current().map(Copy::generation)
        }

        fn sorted_names(&self) -> Vec<String> {
            let mut names: Vec<String> = self.assets.iter().map(|a| a.name.clone()).collect();
            names.sort();
            names
        }
    }

    /// The states of a delta write (docs/write-protocol.md, "A delta write"): generation 1 (a full
    /// copy) to generation 2 (that copy as the base plus a part). Each holds a complete copy; the
    /// new one from its claim on; the repair plan from any of them (and each of its prefixes)
    /// keeps it and ends in the stable names plus the part's `.d2` name.
    #[test]
    fn every_state_of_a_delta_write_has_a_copy_and_rolls_forward() {
        let (stable_archive, stable_meta) = (
            names::archive_asset_name(ID, false),
            names::metadata_asset_name(ID),
        );
        let (temp, part) = (
            names::temp_archive_name(ID, "w1", "n1", false),
            names::part_asset_name(ID, 2, false),
        );
        let claim = names::claim_asset_name(ID, 2);
        let (base, chain_name) = (
            names::part_asset_name(ID, 1, false),
            names::chain_metadata_asset_name(ID),
        );
        let new = || chain_meta(2, 1, &[(2, 7)]);
        let build = |step: usize| {
            let mut r = Release::new();
            r.archive(if step < 6 { &stable_archive } else { &base }, 1);
            if step < 4 {
                r.metadata(&stable_meta, 1, 1);
            }
            match step {
                0 => {}
                1 => {
                    r.part(&temp, 7);
                }
                2 => {
                    r.part(&temp, 7);
                    r.chain(&claim, new());
                }
                3 | 4 => {
                    r.part(&part, 7);
                    r.chain(&claim, new());
                }
                // The layout of ccsync 0.3: the chain under the stable names.
                5 => {
                    r.part(&part, 7);
                    r.chain(&stable_meta, new());
                }
                // Rolled forward: names ccsync 0.1 and 0.2 never write, and the signpost.
                _ => {
                    r.part(&part, 7);
                    r.chain(&chain_name, new());
                    r.apply(&signposts());
                }
            }
            r
        };
        let mut want_final = vec![
            base.clone(),
            part.clone(),
            chain_name.clone(),
            stable_meta.clone(),
            stable_archive.clone(),
        ];
        want_final.sort();
        for step in 0..=6 {
            let release = build(step);
            let want = if step < 2 { 1 } else { 2 };
            assert_eq!(release.current_generation(), Some(want), "step {step}");
            let plan = repair_plan(&release.layout(), &reader());
            for k in 0..=plan.len() {
                let mut partial = build(step);
                partial.apply(&plan[..k]);
                assert_eq!(partial.current_generation(), Some(want), "step {step}, {k}");
            }
            let mut done = build(step);
            done.apply(&plan);
            if step >= 2 {
                assert_eq!(done.sorted_names(), want_final, "step {step}");
                let current = done.layout().current().unwrap().clone();
                assert_eq!(current.parts.len(), 1);
                assert_eq!(current.archive_asset.name, base);
                assert_eq!(current.metadata_asset.name, chain_name);
                let signpost = done.assets.iter().find(|a| a.name == stable_meta).unwrap();
                assert!(signpost.size < MIN_METADATA_BYTES);
            }
            assert!(
                repair_plan(&done.layout(), &reader()).is_empty(),
                "step {step}"
            );
        }
    }

    /// A chain whose part is missing is no copy; a part above the current generation (a claim not
    /// read yet may use it) stays; after a compaction the old chain's parts go.
    #[test]
    fn parts_count_only_complete_and_go_only_when_no_chain_can_use_them() {
        let mut r = Release::new();
        r.archive(&names::part_asset_name(ID, 1, false), 1);
        r.part(&names::part_asset_name(ID, 2, false), 2);
        r.chain(
            &names::chain_metadata_asset_name(ID),
            chain_meta(3, 1, &[(2, 2), (3, 3)]),
        );
        r.apply(&signposts());
        assert!(r.layout().current().is_none(), "part 3 is missing");
        let third = r.part(&names::part_asset_name(ID, 3, false), 3);
        assert_eq!(r.current_generation(), Some(3));
        let ahead = r.part(&names::part_asset_name(ID, 4, false), 4);
        assert!(repair_plan(&r.layout(), &reader()).is_empty());
        // Compaction: a full copy of generation 4 (a claim) over the chain.
        r.archive(&names::temp_archive_name(ID, "w1", "n1", false), 9);
        r.metadata(&names::claim_asset_name(ID, 4), 4, 9);
        let plan = repair_plan(&r.layout(), &reader());
        for k in 0..=plan.len() {
            let mut partial = Release {
                assets: r.assets.clone(),
                metas: r.metas.clone(),
                next_id: 0,
            };
            partial.apply(&plan[..k]);
            assert_eq!(partial.current_generation(), Some(4), "after {k} steps");
        }
        r.apply(&plan);
        assert!(
            r.assets.iter().all(|a| a.id != third.id),
            "{:?}",
            r.sorted_names()
        );
        assert!(r.assets.iter().all(|a| a.id != ahead.id));
        assert_eq!(r.assets.len(), 2, "{:?}", r.sorted_names());
    }

    #[test]
    fn leftovers_go_only_when_they_can_be_no_copy() {
        let mut release = Release::new();
        release.archive(&names::archive_asset_name(ID, false), 1);
        release.metadata(&names::metadata_asset_name(ID), 0, 1);
        let young_other = release.archive(&names::temp_archive_name(ID, "w9", "n", false), 5);
        let own = release.archive(&names::temp_archive_name(ID, "me", "n", false), 6);
        let mut old = release.archive(&names::temp_archive_name(ID, "w8", "n", false), 7);
        old.updated_at = Some("2025-12-31T22:00:00Z".into());
        release
            .assets
            .iter_mut()
            .find(|a| a.id == old.id)
            .unwrap()
            .updated_at = old.updated_at.clone();
        let mut starter = asset(99, &names::claim_asset_name(ID, 1), 0, "00", "starter");
        starter.updated_at = Some("2025-12-31T22:00:00Z".into());
        release.assets.push(starter.clone());
        // A claim without its archive can never complete.
        let orphan = release.metadata(&names::claim_asset_name(ID, 2), 2, 9);
        let writer = Planner {
            own_writer: Some("me"),
            ..reader()
        };
        let plan = repair_plan(&release.layout(), &writer);
        for gone in [&own, &old, &starter, &orphan] {
            assert!(
                plan.contains(&Step::Delete(gone.clone())),
                "{} stays: {plan:?}",
                gone.name
            );
        }
        assert!(!plan.contains(&Step::Delete(young_other.clone())));
        // A reader does not know "own": it leaves the young temporary archive of `me` too.
        let plan = repair_plan(&release.layout(), &reader());
        assert!(!plan.contains(&Step::Delete(own)));
    }

    /// A chain (current, generation 3) with ccsync 0.1's full copy beside it under the stable
    /// names: `transcript` its uuid count and chain sha256 (the chain's own is 1400 "cd…", its
    /// base's 1 "11…").
    fn chain_with_old_copy_beside(transcript: (u64, &str)) -> (Release, Asset, Asset) {
        let mut r = Release::new();
        r.archive(&names::part_asset_name(ID, 1, false), 1);
        r.part(&names::part_asset_name(ID, 2, false), 2);
        r.part(&names::part_asset_name(ID, 3, false), 3);
        r.chain(
            &names::chain_metadata_asset_name(ID),
            chain_meta(3, 1, &[(2, 2), (3, 3)]),
        );
        let archive = r.archive(&names::archive_asset_name(ID, false), 9);
        let metadata = r.metadata(&names::metadata_asset_name(ID), 0, 9);
        let old = r.metas.get_mut(&metadata.id).unwrap();
        old.manifest = None;
        old.uuid_count = transcript.0;
        old.uuid_chain_sha256 = transcript.1.repeat(32);
        (r, archive, metadata)
    }

    /// An older ccsync's copy beside a chain that the chain's metadata does not show it holds:
    /// both stay, whole, under their names (no signpost takes the stable names), and readers are
    /// told of it; one whose transcript is a link of the chain goes, and the signposts return.
    #[test]
    fn an_old_copy_beside_a_chain_stays_until_a_copy_holds_it() {
        let (r, archive, metadata) = chain_with_old_copy_beside((1400, "ee"));
        let layout = r.layout();
        assert_eq!(layout.current().map(Copy::generation), Some(3));
        let kept: Vec<u64> = beside(&layout)
            .iter()
            .map(|c| c.metadata_asset.id)
            .collect();
        assert_eq!(kept, vec![metadata.id]);
        assert!(repair_plan(&layout, &reader()).is_empty());

        // Its transcript is the chain's base (a laptop that was behind): held, so it goes.
        for held in [(1, "11"), (1400, "cd")] {
            let (mut r, archive, metadata) = chain_with_old_copy_beside(held);
            assert!(beside(&r.layout()).is_empty(), "{held:?}");
            let plan = repair_plan(&r.layout(), &reader());
            assert!(plan.contains(&Step::Delete(archive.clone())), "{held:?}");
            assert!(plan.contains(&Step::Delete(metadata.clone())), "{held:?}");
            r.apply(&plan);
            assert_eq!(r.current_generation(), Some(3));
            for name in [
                names::archive_asset_name(ID, false),
                names::metadata_asset_name(ID),
            ] {
                let signpost = r.assets.iter().find(|a| a.name == name).unwrap();
                assert!(is_signpost(signpost, ID), "{name}");
            }
            assert!(repair_plan(&r.layout(), &reader()).is_empty());
        }

        // A newer copy whose writer found it holds the old one (`supersedes`): the old one goes.
        let mut r = r;
        r.part(&names::temp_archive_name(ID, "w1", "n1", false), 4);
        let mut newer = chain_meta(4, 1, &[(2, 2), (3, 3), (4, 4)]);
        newer.parent = Some(crate::bundle::metadata::Parent {
            generation: 3,
            archive_sha256: "03".repeat(32),
        });
        let old = &r.metas[&metadata.id];
        newer.supersedes = Some(crate::bundle::metadata::Parent {
            generation: old.generation,
            archive_sha256: old.copy_sha256().to_owned(),
        });
        r.chain(&names::claim_asset_name(ID, 4), newer);
        assert!(beside(&r.layout()).is_empty());
        let plan = repair_plan(&r.layout(), &reader());
        assert!(plan.contains(&Step::Delete(archive)));
        assert!(plan.contains(&Step::Delete(metadata)));

        // A full copy of this ccsync above an older one's (a merge of duplicate drafts carries
        // one without naming it): ordered by generation, as before chains.
        let mut r = Release::new();
        let old_archive = r.archive(&names::archive_asset_name(ID, false), 1);
        let old = r.metadata(&names::metadata_asset_name(ID), 3, 1);
        let m = r.metas.get_mut(&old.id).unwrap();
        (m.manifest, m.uuid_chain_sha256) = (None, "ee".repeat(32));
        r.archive(&names::temp_archive_name(ID, "w1", "n1", false), 2);
        r.metadata(&names::claim_asset_name(ID, 5), 5, 2);
        assert!(beside(&r.layout()).is_empty());
        let plan = repair_plan(&r.layout(), &reader());
        assert!(plan.contains(&Step::Delete(old_archive)) && plan.contains(&Step::Delete(old)));
    }
}

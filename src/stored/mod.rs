//! The sessions stored in a branch's draft release, read by the rules of the write protocol
//! (docs/write-protocol.md): a session's current copy is the complete copy (metadata plus the
//! archive it records, both fully uploaded) of the highest generation. Assets are the truth; the
//! release body is only a readable table rendered from them.
//!
//! - [`copies`]: the reading rules as pure functions: copies, the current one, repair plans.
//! - [`write`](mod@write): the writer's side: temporary archive, claim, confirmation, roll-forward.
//! - [`listing`]: every session of the repository's session releases (`release-list`).
//! - [`prune`]: which releases and copies `release-prune` removes, and the removing.
//! - this module: reading a release (metadata downloads), finishing others' writes, fetching an
//!   archive, rendering the body.
//!
//! Metadata assets are small and fetched a few at a time; a [`MetaCache`] keeps what one command
//! already read (an asset's bytes never change under its id: GitHub cannot overwrite an asset), so a
//! push reads each metadata asset at most once.

pub mod beside;
pub mod chain;
pub mod copies;
pub mod listing;
pub mod merge;
pub mod prune;
pub mod write;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use anyhow::{bail, Context};
use futures_util::StreamExt;
use tokio::runtime::Runtime;

use crate::bundle::metadata::{Encryption, Metadata};
use crate::bundle::{self, Extracted, Limits};
use crate::release::{Asset, GitHub, SessionRelease};
use copies::{Planner, SessionLayout, Step};

/// One session in a release: its current copy, and what is left to do of an unfinished write.
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub meta: Metadata,
    pub metadata_asset: Asset,
    pub archive_asset: Asset,
    /// A chain's parts, in its metadata's order (empty for a full copy).
    pub parts: Vec<Asset>,
    /// Every asset of the session (claims and temporary archives too).
    pub assets: Vec<Asset>,
    /// The steps that finish an interrupted write and remove leftovers (as a reader sees them);
    /// empty in the steady state.
    pub repair: Vec<Step>,
    /// A copy beside this one that it does not provably hold (an older ccsync's full copy beside
    /// a chain, or the chain beside it: [`copies::beside`]): readers choose between the two by the
    /// uuid rule on their content ([`beside::choose`]).
    pub beside: Option<Box<StoredSession>>,
}

impl StoredSession {
    /// Last activity for ordering: the last record's timestamp, else the push time.
    pub fn activity_key(&self) -> String {
        self.meta
            .last_timestamp
            .clone()
            .unwrap_or_else(|| self.meta.pushed_at.to_rfc3339())
    }

    /// Whether this copy is the one to use rather than `other` (the same session read from two
    /// drafts sharing a tag): the one rank of [`copies::rank`], never push or upload time.
    pub fn ranks_before(&self, other: &StoredSession) -> bool {
        let copy = |s: &StoredSession| copies::Copy {
            meta: s.meta.clone(),
            metadata_asset: s.metadata_asset.clone(),
            archive_asset: s.archive_asset.clone(),
            parts: s.parts.clone(),
            role: crate::release::names::classify(&s.metadata_asset.name)
                .map_or(crate::release::names::Role::StableMetadata, |(_, role)| {
                    role
                }),
        };
        copies::rank(&copy(self), &copy(other)).is_lt()
    }

    pub fn encrypted(&self) -> bool {
        self.meta.archive.encryption != Encryption::None
    }

    fn from_layout(layout: &SessionLayout, planner: &Planner) -> Option<StoredSession> {
        let current = layout.current()?;
        let mut stored = StoredSession::of_copy(layout, current);
        stored.repair = copies::repair_plan(layout, planner);
        stored.beside = copies::beside(layout)
            .first()
            .map(|c| Box::new(StoredSession::of_copy(layout, c)));
        Some(stored)
    }

    /// `copy` of `layout` as a stored session (nothing to repair, nothing beside).
    pub(crate) fn of_copy(layout: &SessionLayout, copy: &copies::Copy) -> StoredSession {
        StoredSession {
            meta: copy.meta.clone(),
            metadata_asset: copy.metadata_asset.clone(),
            archive_asset: copy.archive_asset.clone(),
            parts: copy.parts.clone(),
            assets: layout.assets.iter().map(|(a, _)| a.clone()).collect(),
            repair: Vec::new(),
            beside: None,
        }
    }
}

/// Metadata already read, by asset id, and the assets read that hold no metadata of their
/// session (junk: judged, never read again); and how many claims of each session this command
/// read (bounded: [`copies::MAX_CLAIM_READS`]).
#[derive(Default)]
pub struct MetaCache(
    Mutex<(HashMap<u64, Metadata>, HashSet<u64>)>,
    Mutex<HashMap<String, usize>>,
);

impl MetaCache {
    /// Remembers the metadata of an asset this command uploaded itself.
    pub fn insert(&self, asset_id: u64, meta: Metadata) {
        self.0.lock().unwrap().0.insert(asset_id, meta);
    }

    fn insert_junk(&self, asset_id: u64) {
        self.0.lock().unwrap().1.insert(asset_id);
    }

    /// Counts one claim read of `session_id`; false once the command read its share.
    fn take_claim_read(&self, session_id: &str) -> bool {
        let mut reads = self.1.lock().unwrap();
        let count = reads.entry(session_id.to_owned()).or_default();
        *count += 1;
        *count <= copies::MAX_CLAIM_READS
    }

    fn known(&self, asset_id: u64) -> bool {
        let cache = self.0.lock().unwrap();
        cache.0.contains_key(&asset_id) || cache.1.contains(&asset_id)
    }

    /// The metadata read so far, by asset id.
    pub fn snapshot(&self) -> HashMap<u64, Metadata> {
        self.0.lock().unwrap().0.clone()
    }

    /// The sessions of `assets` by the reading rules, with what this cache knows.
    pub fn layouts(&self, assets: &[Asset]) -> Vec<copies::SessionLayout> {
        let cache = self.0.lock().unwrap();
        copies::layouts_judged(assets, &cache.0, &cache.1)
    }

    /// The layout of one session.
    pub fn layout_of(&self, assets: &[Asset], session_id: &str) -> Option<copies::SessionLayout> {
        self.layouts(assets)
            .into_iter()
            .find(|l| l.session_id == session_id)
    }
}

/// Metadata downloads in flight at once: a handful of small requests, not a burst.
const METADATA_CONCURRENCY: usize = 4;

/// Reads the metadata of every complete session of `release`, newest activity first. A session
/// with no complete copy is skipped (a first push is under way or was cut off), as is metadata
/// that does not parse (reported through `warn`).
pub fn stored_sessions(
    rt: &Runtime,
    gh: &GitHub,
    release: &SessionRelease,
    scratch: &Path,
    warn: &dyn Fn(&str),
) -> anyhow::Result<Vec<StoredSession>> {
    stored_sessions_of(rt, gh, release, scratch, warn, None, &MetaCache::default())
}

/// [`stored_sessions`], limited to session `only` when given (only its metadata is downloaded),
/// reading metadata through `cache`.
pub fn stored_sessions_of(
    rt: &Runtime,
    gh: &GitHub,
    release: &SessionRelease,
    scratch: &Path,
    warn: &dyn Fn(&str),
    only: Option<&str>,
    cache: &MetaCache,
) -> anyhow::Result<Vec<StoredSession>> {
    read_metadata_of(rt, gh, &release.assets, scratch, warn, only, cache)?;
    let planner = Planner {
        now: chrono::Utc::now(),
        own_writer: None,
        live: HashSet::new(),
    };
    let mut sessions: Vec<StoredSession> = cache
        .layouts(&release.assets)
        .iter()
        .filter(|l| only.is_none_or(|o| o == l.session_id))
        .filter_map(|l| StoredSession::from_layout(l, &planner))
        .collect();
    sessions.sort_by(newest_first);
    Ok(sessions)
}

/// A release as every reader reads it: the current copies of its sessions (newest activity
/// first), and the sessions whose stored copy is damaged.
pub struct ReleaseRead {
    pub sessions: Vec<StoredSession>,
    pub damaged: Vec<Damaged>,
}

/// Reads `release` (only session `only`, when given): [`stored_sessions_of`], then
/// [`damaged_sessions`] from the same metadata, so that no reader takes a damaged copy for
/// "nothing stored".
pub fn read_release(
    rt: &Runtime,
    gh: &GitHub,
    release: &SessionRelease,
    scratch: &Path,
    warn: &dyn Fn(&str),
    only: Option<&str>,
) -> anyhow::Result<ReleaseRead> {
    let cache = MetaCache::default();
    let sessions = stored_sessions_of(rt, gh, release, scratch, warn, only, &cache)?;
    let damaged = damaged_sessions(release, &cache, only);
    Ok(ReleaseRead { sessions, damaged })
}

/// Newest activity first. A session with recorded activity comes before one without any timestamp
/// (whose push time says nothing about when it was used); those follow, newest push first.
fn newest_first(a: &StoredSession, b: &StoredSession) -> std::cmp::Ordering {
    let activity = |s: &StoredSession| {
        s.meta
            .last_timestamp
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let (ta, tb) = (activity(a), activity(b));
    tb.is_some()
        .cmp(&ta.is_some())
        .then_with(|| tb.cmp(&ta))
        .then_with(|| b.meta.pushed_at.cmp(&a.meta.pushed_at))
        .then_with(|| a.meta.session_id.cmp(&b.meta.session_id))
}

/// Downloads into `cache` the metadata a reader needs of `assets` (all sessions, or `only`): the
/// stable metadata of each session that has an archive, then its claims above the best copy
/// known, highest first, a few at a time, until none is left above it ([`copies::claims_to_read`]).
/// What can be no copy is skipped unread, so the cost stays bounded whatever the release holds.
/// A download or parse failure is reported through `warn` and leaves the asset unread (it then
/// describes no copy).
pub(crate) fn read_metadata_of(
    rt: &Runtime,
    gh: &GitHub,
    assets: &[Asset],
    scratch: &Path,
    warn: &dyn Fn(&str),
    only: Option<&str>,
    cache: &MetaCache,
) -> anyhow::Result<()> {
    let mut tried: HashSet<u64> = HashSet::new();
    let first = copies::metadata_to_read(assets, only);
    fetch_metadata(rt, gh, first, scratch, warn, cache, &mut tried)?;
    loop {
        let known = cache.0.lock().unwrap().1.clone();
        let tried_all: HashSet<u64> = tried.union(&known).copied().collect();
        let next: Vec<(&Asset, String)> = copies::claims_to_read(
            assets,
            &cache.snapshot(),
            &tried_all,
            only,
            METADATA_CONCURRENCY,
        )
        .into_iter()
        .filter(|(_, id)| cache.take_claim_read(id))
        .collect();
        if next.is_empty() {
            return Ok(());
        }
        fetch_metadata(rt, gh, next, scratch, warn, cache, &mut tried)?;
    }
}

/// Reads one metadata asset of session `session_id` into `cache` (unless known already).
pub(crate) fn read_one(
    rt: &Runtime,
    gh: &GitHub,
    asset: &Asset,
    session_id: &str,
    scratch: &Path,
    warn: &dyn Fn(&str),
    cache: &MetaCache,
) -> anyhow::Result<()> {
    let wanted = vec![(asset, session_id.to_owned())];
    fetch_metadata(rt, gh, wanted, scratch, warn, cache, &mut HashSet::new())
}

/// Downloads `wanted` into `cache` (a few at a time), each at most once per command. Metadata
/// that does not parse or describes another session is junk (reported through `warn`, never
/// fetched again). A download that fails (a host that did not answer, stalled or answered an
/// error) is an error: what could not be read is never taken for "no session", and nothing is
/// deleted on its strength. An asset gone meanwhile (a writer rolled forward) is skipped.
fn fetch_metadata(
    rt: &Runtime,
    gh: &GitHub,
    wanted: Vec<(&Asset, String)>,
    scratch: &Path,
    warn: &dyn Fn(&str),
    cache: &MetaCache,
    tried: &mut HashSet<u64>,
) -> anyhow::Result<()> {
    let wanted: Vec<(&Asset, String)> = wanted
        .into_iter()
        .filter(|(asset, _)| !cache.known(asset.id) && tried.insert(asset.id))
        .collect();
    let fetched: Vec<anyhow::Result<Metadata>> = rt.block_on(
        futures_util::stream::iter(
            wanted
                .iter()
                .map(|(asset, _)| read_metadata(gh, asset, scratch)),
        )
        .buffered(METADATA_CONCURRENCY)
        .collect(),
    );
    for ((asset, session_id), meta) in wanted.into_iter().zip(fetched) {
        match meta {
            Ok(meta) if meta.session_id == session_id => cache.insert(asset.id, meta),
            Ok(meta) => {
                cache.insert_junk(asset.id);
                warn(&format!(
                    "skipping {}: it describes session {} instead",
                    crate::neutral::text(&asset.name),
                    meta.session_id
                ))
            }
            Err(err) if is_download_failure(&err) => {
                let gone = err
                    .downcast_ref::<crate::release::Error>()
                    .is_some_and(|e| e.is_not_found());
                if !gone {
                    return Err(err).with_context(|| {
                        format!(
                            "cannot read the stored metadata of session {session_id} ({}), so \
                             ccsync cannot tell what the release holds and changed nothing",
                            crate::neutral::text(&asset.name)
                        )
                    });
                }
            }
            // A newer ccsync's stable copy: never junk (a push would write over it), never
            // "nothing stored": every reader and writer stops and says to upgrade.
            Err(err)
                if err.is::<crate::bundle::metadata::NewerFormat>()
                    && crate::release::names::classify(&asset.name).is_some_and(|(_, role)| {
                        matches!(
                            role,
                            crate::release::names::Role::StableMetadata
                                | crate::release::names::Role::ChainMetadata
                        )
                    }) =>
            {
                return Err(err).with_context(|| {
                    format!(
                        "cannot read the stored copy of session {session_id} ({}); nothing was changed",
                        crate::neutral::text(&asset.name)
                    )
                });
            }
            Err(err) => {
                cache.insert_junk(asset.id);
                warn(&format!(
                    "skipping {}: {err:#}",
                    crate::neutral::text(&asset.name)
                ))
            }
        }
    }
    Ok(())
}

/// A stored session whose stable metadata was read but that has no complete copy, and no claim
/// or temporary archive (a write under way or cut off) that explains it: damaged. Readers never
/// take it for "nothing stored" (DESIGN.md, Restore).
#[derive(Debug, Clone)]
pub struct Damaged {
    pub meta: Metadata,
    /// What is wrong, in words.
    pub problem: String,
}

/// The damaged sessions of `release` (of `only`, when given), from the metadata in `cache`.
pub fn damaged_sessions(
    release: &SessionRelease,
    cache: &MetaCache,
    only: Option<&str>,
) -> Vec<Damaged> {
    use crate::release::names::Role;
    let metas = cache.snapshot();
    copies::layouts(&release.assets, &metas)
        .into_iter()
        .filter(|l| only.is_none_or(|o| o == l.session_id) && l.copies.is_empty())
        .filter(|l| {
            !l.assets.iter().any(|(_, role)| {
                matches!(
                    role,
                    Role::Claim { .. } | Role::TempArchive { .. } | Role::LegacyTemp { .. }
                )
            })
        })
        .filter_map(|l| {
            let (_, meta) = l.assets.iter().find_map(|(asset, role)| {
                matches!(role, Role::StableMetadata | Role::ChainMetadata)
                    .then(|| metas.get(&asset.id).map(|m| (asset, m.clone())))
                    .flatten()
            })?;
            let archive = l.assets.iter().find(|(a, role)| {
                a.state == "uploaded"
                    && (a.name == meta.archive.name || matches!(role, Role::StableArchive { .. }))
            });
            let problem = match archive {
                None => format!(
                    "its archive {} is missing",
                    crate::neutral::text(&meta.archive.name)
                ),
                Some((a, _)) => format!(
                    "its archive {} does not match its metadata ({} bytes, digest {}; the metadata \
                     records {} bytes, sha256 {})",
                    crate::neutral::text(&a.name),
                    a.size,
                    crate::neutral::text(a.digest.as_deref().unwrap_or("none")),
                    meta.archive.size,
                    crate::neutral::text(&meta.archive.sha256)
                ),
            };
            Some(Damaged { meta, problem })
        })
        .collect()
}

/// The error every reader gives for a damaged copy: bad data is exit 1 with the fix, never
/// "nothing stored" (DESIGN.md, Exit codes), so restore, show, export, list and status agree.
pub fn damaged_error(release: &SessionRelease, bad: &Damaged, nothing_done: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the stored copy of session {} in the release of branch `{}` ({}) is damaged: {}, and no \
         push under way explains it. {nothing_done} Push the session again from a machine \
         that has it (`ccsync release-push --session {} --force`)",
        bad.meta.session_id,
        crate::neutral::text(&bad.meta.git_branch),
        release.html_url,
        bad.problem,
        bad.meta.session_id
    )
}

/// The asset could not be fetched (network, GitHub), as opposed to fetched and found not to be
/// metadata: only the latter is judged junk.
fn is_download_failure(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.downcast_ref::<crate::release::Error>().is_some())
}

/// Finishes the interrupted writes and removes the leftovers `sessions` show (best effort: a
/// failure is reported through `warn` and left to the next comer). Needs write access; a reader
/// that has none (it could not see a draft anyway) is told so through `warn`. Returns whether
/// anything changed.
pub fn finish_writes(
    rt: &Runtime,
    gh: &GitHub,
    release: &SessionRelease,
    sessions: &[StoredSession],
    warn: &dyn Fn(&str),
) -> bool {
    let mut changed = false;
    for session in sessions.iter().filter(|s| !s.repair.is_empty()) {
        match rt.block_on(apply_steps(gh, release, &session.repair)) {
            Ok(()) => changed = true,
            Err(err) => warn(&format!(
                "could not finish the stored copy of session {} (the next ccsync run will): {err:#}",
                session.meta.session_id
            )),
        }
    }
    changed
}

/// Runs steps in order, stopping at the first failure (later steps assume the earlier ones). A
/// gone asset counts as done; a rename onto a name taken meanwhile stops here. A signpost is
/// best effort (a name taken meanwhile, by an older ccsync's copy, stays): nothing depends on
/// it. `release` is the release (or merged view) the steps' assets were read from.
pub(crate) async fn apply_steps(
    gh: &GitHub,
    release: &SessionRelease,
    steps: &[Step],
) -> crate::release::Result<()> {
    for step in steps {
        match step {
            Step::Delete(asset) => gh.delete_asset(asset).await?,
            Step::Rename(asset, name) => match gh.rename_asset(asset.id, name).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            },
            Step::Signpost {
                release_id,
                session_id,
                archive,
            } => {
                let _ = upload_signpost(gh, release, *release_id, session_id, *archive).await;
            }
        }
    }
    Ok(())
}

/// Uploads the signpost of `session_id`'s chain into draft `release_id` of `release`.
async fn upload_signpost(
    gh: &GitHub,
    release: &SessionRelease,
    release_id: u64,
    session_id: &str,
    archive: bool,
) -> anyhow::Result<()> {
    let mut draft = release.clone();
    if release_id != release.id {
        // A duplicate draft of a merged view: its upload URL differs only by the id.
        draft.upload_url = draft.upload_url.replacen(
            &format!("/releases/{}/", release.id),
            &format!("/releases/{release_id}/"),
            1,
        );
        draft.id = release_id;
    }
    let file = tempfile::NamedTempFile::new().context("cannot create a temporary file")?;
    std::fs::write(file.path(), bundle::metadata::signpost(session_id))
        .context("cannot write the signpost")?;
    let name = if archive {
        crate::release::names::archive_asset_name(session_id, false)
    } else {
        crate::release::names::metadata_asset_name(session_id)
    };
    gh.upload_new(&draft, &name, file.path(), "application/json")
        .await?;
    Ok(())
}

async fn read_metadata(gh: &GitHub, asset: &Asset, scratch: &Path) -> anyhow::Result<Metadata> {
    if asset.size > bundle::metadata::MAX_METADATA_BYTES as u64 {
        bail!("{} bytes is too large for session metadata", asset.size);
    }
    let file =
        tempfile::NamedTempFile::new_in(scratch).context("cannot create a temporary file")?;
    gh.download_asset(asset, file.path(), None).await?;
    let bytes = std::fs::read(file.path()).context("cannot read the downloaded metadata")?;
    Metadata::parse(&bytes)
}

/// The uuid rule between a local session's facts and a stored copy: from the stored metadata's
/// summary when it decides, else record by record against the downloaded copy. `downloading`
/// runs just before that download (a progress line); what it returns lives until the download ends.
pub fn relation_to_copy<G>(
    rt: &Runtime,
    gh: &GitHub,
    local: &bundle::facts::SessionFacts,
    stored: &StoredSession,
    scratch: &Path,
    passphrase: Option<&str>,
    downloading: impl FnOnce() -> G,
) -> anyhow::Result<crate::sync::Relation> {
    if let Some(relation) = crate::sync::relation_from_summary(
        &local.chain,
        stored.meta.uuid_count,
        &stored.meta.uuid_chain_sha256,
    ) {
        return Ok(relation);
    }
    let guard = downloading();
    let remote = transcript_facts(rt, gh, stored, scratch, passphrase)?;
    drop(guard);
    Ok(crate::sync::compare_sets(&local.chain, &remote.chain))
}

/// The facts of a stored copy's transcript (downloaded, verified, extracted into `scratch`).
pub(crate) fn transcript_facts(
    rt: &Runtime,
    gh: &GitHub,
    stored: &StoredSession,
    scratch: &Path,
    passphrase: Option<&str>,
) -> anyhow::Result<bundle::facts::SessionFacts> {
    let extracted = fetch_archive(rt, gh, stored, scratch, scratch, passphrase)?;
    let transcript = extracted.path(Path::new(&format!("{}.jsonl", stored.meta.session_id)));
    bundle::facts::read_facts(&transcript, None)
}

/// Downloads a stored session's archive into `scratch`, verifies its size and sha256 against the
/// metadata, decrypts it when needed and extracts it into a temporary folder inside
/// `extract_parent` (same file system as the install target, so the install can rename).
pub fn fetch_archive(
    rt: &Runtime,
    gh: &GitHub,
    stored: &StoredSession,
    scratch: &Path,
    extract_parent: &Path,
    passphrase: Option<&str>,
) -> anyhow::Result<Extracted> {
    let meta = &stored.meta;
    if meta.chain.is_some() {
        return chain::fetch_chain(
            rt,
            gh,
            stored,
            None,
            None,
            scratch,
            extract_parent,
            passphrase,
        );
    }
    let downloaded = scratch.join(&meta.archive.name);
    rt.block_on(gh.download_asset(
        &stored.archive_asset,
        &downloaded,
        Some(&meta.archive.sha256),
    ))
    .with_context(|| format!("cannot download {}", meta.archive.name))?;
    // The download was hashed as it arrived and checked against the metadata's sha256 (and
    // GitHub's digest): reading the file again would only repeat that. The size is checked
    // against the metadata too, as a second, independent record of what was pushed.
    let size = std::fs::metadata(&downloaded)
        .with_context(|| format!("cannot read {}", downloaded.display()))?
        .len();
    if size != meta.archive.size {
        return Err(crate::release::Error::Integrity(format!(
            "{} has {size} bytes but its metadata says {}: the asset was replaced; try again",
            meta.archive.name, meta.archive.size
        ))
        .into());
    }
    let archive = match meta.archive.encryption {
        Encryption::None => downloaded,
        Encryption::AgeScrypt => {
            let Some(passphrase) = passphrase else {
                bail!(
                    "session {} is encrypted: set CCSYNC_PASSPHRASE (the action's `passphrase` input) to the passphrase it was pushed with",
                    meta.session_id
                );
            };
            let plain = scratch.join(format!("claude-session-{}.tar.gz", meta.session_id));
            bundle::crypt::decrypt_file(&downloaded, &plain, passphrase)
                .with_context(|| format!("cannot decrypt session {}", meta.session_id))?;
            plain
        }
    };
    let limits = Limits::for_unpacked_size(meta.unpacked_size);
    bundle::check_room(
        extract_parent,
        limits.max_total_bytes.min(meta.unpacked_size.unwrap_or(0)),
    )
    .with_context(|| format!("refusing the archive of session {}", meta.session_id))?;
    bundle::extract_session(&archive, extract_parent, &limits, &meta.session_id)
        .with_context(|| format!("refusing the archive of session {}", meta.session_id))
}

/// The release body: a marker that says ccsync owns the release, and a table of its sessions.
/// Branch names and metadata fields are data (anyone with write access can shape them): each is
/// rendered as a Markdown-safe code span or escaped text, one line per row.
pub fn render_body(branch: &str, sessions: &[StoredSession]) -> String {
    crate::catalog::render_body(branch, sessions.iter().map(|s| &s.meta))
}

//! The sessions stored in a branch's draft release: each a metadata asset and the archive it
//! names, both fully uploaded. Assets are the truth; the release body is only a readable table
//! rendered from them.
//!
//! Metadata assets are small and fetched a few at a time; a [`MetaCache`] keeps what one command
//! already read (an asset's bytes never change under its id: GitHub cannot overwrite an asset), so a
//! push reads each metadata asset at most once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{bail, Context};
use futures_util::StreamExt;
use tokio::runtime::Runtime;

use crate::bundle::metadata::{Encryption, Metadata};
use crate::bundle::{self, Extracted, Limits};
use crate::release::names::{self, AssetKind};
use crate::release::{Asset, GitHub, SessionRelease};

/// One session in a release.
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub meta: Metadata,
    pub metadata_asset: Asset,
    pub archive_asset: Asset,
}

impl StoredSession {
    /// Last activity for ordering: the last record's timestamp, else the push time.
    pub fn activity_key(&self) -> String {
        self.meta
            .last_timestamp
            .clone()
            .unwrap_or_else(|| self.meta.pushed_at.to_rfc3339())
    }

    pub fn encrypted(&self) -> bool {
        self.meta.archive.encryption != Encryption::None
    }
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

fn is_uploaded(asset: &Asset) -> bool {
    asset.state == "uploaded"
}

/// Metadata already read, by asset id.
#[derive(Default)]
pub struct MetaCache(Mutex<HashMap<u64, Metadata>>);

impl MetaCache {
    /// Remembers the metadata of an asset this command uploaded itself.
    pub fn insert(&self, asset_id: u64, meta: Metadata) {
        self.0.lock().unwrap().insert(asset_id, meta);
    }

    fn get(&self, asset_id: u64) -> Option<Metadata> {
        self.0.lock().unwrap().get(&asset_id).cloned()
    }
}

/// Metadata downloads in flight at once: a handful of small requests, not a burst.
const METADATA_CONCURRENCY: usize = 4;

/// Reads the metadata of every complete session of `release`, newest activity first. A metadata
/// asset whose archive is missing or incomplete is skipped (a push is under way or was cut off),
/// as is one that does not parse (reported through `warn`).
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
    let wanted: Vec<(&Asset, String)> = release
        .assets
        .iter()
        .filter(|a| is_uploaded(a))
        .filter_map(|asset| match names::parse_asset_name(&asset.name) {
            Some((id, AssetKind::Metadata)) if only.is_none_or(|o| o == id) => {
                Some((asset, id.to_owned()))
            }
            _ => None,
        })
        .collect();
    let fetched: Vec<anyhow::Result<Metadata>> = rt.block_on(
        futures_util::stream::iter(wanted.iter().map(|(asset, _)| async move {
            if let Some(meta) = cache.get(asset.id) {
                return Ok(meta);
            }
            let meta = read_metadata(gh, asset, scratch).await?;
            cache.insert(asset.id, meta.clone());
            Ok(meta)
        }))
        .buffered(METADATA_CONCURRENCY)
        .collect(),
    );
    let mut sessions: Vec<StoredSession> = Vec::new();
    for ((asset, session_id), meta) in wanted.into_iter().zip(fetched) {
        let meta = match meta {
            Ok(meta) => meta,
            Err(err) => {
                warn(&format!(
                    "skipping {}: {err:#}",
                    crate::neutral::text(&asset.name)
                ));
                continue;
            }
        };
        if meta.session_id != session_id {
            warn(&format!(
                "skipping {}: it describes session {} instead",
                crate::neutral::text(&asset.name),
                meta.session_id
            ));
            continue;
        }
        let archive = release
            .assets
            .iter()
            .find(|a| a.name == meta.archive.name && is_uploaded(a));
        let Some(archive) = archive else {
            continue;
        };
        // Duplicate drafts can hold the same session twice: keep the newest push.
        if let Some(existing) = sessions
            .iter_mut()
            .find(|s| s.meta.session_id == meta.session_id)
        {
            if existing.meta.pushed_at < meta.pushed_at {
                *existing = StoredSession {
                    meta,
                    metadata_asset: asset.clone(),
                    archive_asset: archive.clone(),
                };
            }
            continue;
        }
        sessions.push(StoredSession {
            meta,
            metadata_asset: asset.clone(),
            archive_asset: archive.clone(),
        });
    }
    sessions.sort_by(newest_first);
    Ok(sessions)
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
    bundle::extract_session(&archive, extract_parent, &limits, &meta.session_id)
        .with_context(|| format!("refusing the archive of session {}", meta.session_id))
}

/// The release body: a marker that says ccsync owns the release, and a table of its sessions.
/// Branch names and metadata fields are data (anyone with write access can shape them): each is
/// rendered as a Markdown-safe code span or escaped text, one line per row.
pub fn render_body(branch: &str, sessions: &[StoredSession]) -> String {
    use crate::neutral::{markdown_code, markdown_text};
    let mut body = format!(
        "{}\nClaude Code sessions of branch {}, stored by [ccsync](https://github.com/ccsync/claude-session-bridge). \
         This release stays a draft: only people with write access see it.\n\n\
         Restore the newest with {}.\n\n\
         | Session | Last activity | Records | Size | Pushed from | Pushed at | Encrypted |\n\
         |---|---|---|---|---|---|---|\n",
        names::BODY_MARKER,
        markdown_code(branch, false),
        markdown_code(&format!("ccsync release-restore --branch {branch}"), false),
    );
    for s in sessions {
        let m = &s.meta;
        body.push_str(&format!(
            "| {} | {} | {} | {} | {} ({}) | {} | {} |\n",
            markdown_code(&m.session_id, true),
            markdown_text(m.last_timestamp.as_deref().unwrap_or("-")),
            m.records,
            crate::ui::human_size(m.archive.size),
            markdown_text(&m.pushed_from.host),
            markdown_text(&m.pushed_from.os),
            m.pushed_at.format("%Y-%m-%d %H:%M UTC"),
            if s.encrypted() { "yes" } else { "no" },
        ));
    }
    body
}

//! Reading and extending a chain (docs/write-protocol.md, "Delta copies"): a base archive plus
//! delta parts. When a push writes a part instead of a full copy (compaction), which generation
//! of a chain a local transcript equals, and the download, check and assembly of the parts into
//! one folder laid out like an extracted full archive, in the metadata's own roots (what a full
//! copy written by the newest writer would hold), so every reader maps it as it maps a full copy.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use tokio::runtime::Runtime;

use super::StoredSession;
use crate::bundle::delta::{self, map_between, transcript_rel};
use crate::bundle::metadata::{After, Encryption, Metadata, Part, Roots};
use crate::bundle::{self, Extracted, Limits};
use crate::release::{Asset, GitHub};

/// A chain longer than this is compacted: the next push writes a full copy.
pub const MAX_CHAIN_PARTS: usize = 16;

/// The parts of a chain (a new one included) may add up to this share of the base's size, in
/// percent; beyond, the next push writes a full copy. A fresh restore then downloads at most 1.5x
/// the base, which is a full archive of an earlier state of the same session.
pub const MAX_PARTS_PERCENT: u64 = 50;

/// Whether `stored` can take one more part of `part_size` bytes (else compaction: a full copy).
pub fn takes_part(stored: &Metadata, part_size: u64) -> bool {
    let parts = stored.parts();
    let total: u64 = parts
        .iter()
        .map(|p| p.size)
        .fold(part_size, u64::saturating_add);
    parts.len() < MAX_CHAIN_PARTS
        && total.saturating_mul(100) <= stored.archive.size.saturating_mul(MAX_PARTS_PERCENT)
}

/// The metadata of a copy that is `stored` plus one part: `packed` is the metadata push wrote
/// for the part alone (its `archive` the part, its facts and roots the whole session's and this
/// writer's), `changes` what the part carries beside the transcript. `None` when the chain must
/// be compacted instead ([`takes_part`]) or the metadata would come near its cap.
pub fn extend(
    stored: &Metadata,
    packed: &Metadata,
    changes: &crate::bundle::delta::Changes,
) -> Option<Metadata> {
    let generation = stored.generation.checked_add(1)?;
    if !takes_part(stored, packed.archive.size) {
        return None;
    }
    let encrypted = packed.archive.encryption != Encryption::None;
    let part = Part {
        generation,
        name: crate::release::names::part_asset_name(&stored.session_id, generation, encrypted),
        size: packed.archive.size,
        sha256: packed.archive.sha256.clone(),
        unpacked_size: packed.unpacked_size?,
        roots: packed.roots(),
        after: packed.after()?,
        removed: changes.removed.clone(),
    };
    let mut chain = match &stored.chain {
        Some(chain) => chain.clone(),
        None => crate::bundle::metadata::Chain {
            base: crate::bundle::metadata::Base {
                generation: stored.generation,
                after: stored.after()?,
                roots: stored.roots(),
            },
            parts: Vec::new(),
        },
    };
    chain.parts.push(part);
    let mut meta = packed.clone();
    meta.format = crate::bundle::metadata::FORMAT_CHAIN;
    meta.archive = stored.archive.clone();
    // The base lives under a link name (`.d<B>`), which ccsync 0.1 and 0.2 never write over;
    // the roll-forward renames a full copy's archive there (matched by content meanwhile).
    meta.archive.name = crate::release::names::part_asset_name(
        &stored.session_id,
        chain.base.generation,
        encrypted,
    );
    meta.unpacked_size = stored.unpacked_size;
    meta.generation = generation;
    meta.chain = Some(chain);
    let mut manifest = changes.unchanged.clone();
    manifest.extend(packed.manifest.clone().unwrap_or_default());
    meta.manifest = Some(manifest);
    let cap = crate::bundle::metadata::MAX_METADATA_BYTES * 3 / 4;
    (meta.to_json().len() <= cap).then_some(meta)
}

/// One link of a chain: the base (index 0) or a part.
struct Link<'a> {
    generation: u64,
    after: After,
    /// The sha256 of the link's asset: what the sync record names once a machine holds it.
    sha256: &'a str,
}

fn links(meta: &Metadata) -> Vec<Link<'_>> {
    let Some(chain) = &meta.chain else {
        return Vec::new();
    };
    std::iter::once(Link {
        generation: chain.base.generation,
        after: chain.base.after.clone(),
        sha256: &meta.archive.sha256,
    })
    .chain(chain.parts.iter().map(|p| Link {
        generation: p.generation,
        after: p.after.clone(),
        sha256: &p.sha256,
    }))
    .collect()
}

/// The link of `meta`'s chain (0: the base, k: after part k) whose transcript the local one
/// equals (its complete lines, uuid count and uuid chain sha256), below the chain's last: the
/// restore then needs only the parts after it. Where several links share a transcript (a part
/// that brought only memory or state), the one this machine last synced (`synced`, a copy sha256)
/// if it is among them, else the earliest, so no part's files are skipped.
pub fn local_link(meta: &Metadata, local: &After, synced: Option<&str>) -> Option<usize> {
    let all = links(meta);
    let same = |a: &After| {
        a.lines == local.lines
            && a.uuid_count == local.uuid_count
            && a.uuid_chain_sha256
                .eq_ignore_ascii_case(&local.uuid_chain_sha256)
    };
    let matching: Vec<usize> = (0..all.len().saturating_sub(1))
        .filter(|&k| same(&all[k].after))
        .collect();
    let synced_one = matching
        .iter()
        .copied()
        .find(|&k| synced.is_some_and(|s| s.eq_ignore_ascii_case(all[k].sha256)));
    synced_one.or_else(|| matching.first().copied())
}

/// The files the parts after link `k` delete and no later part brings back (`brought`: the
/// files of the assembled parts), for a restore that starts from link `k`.
pub fn removed_after(meta: &Metadata, k: usize, brought: &[PathBuf]) -> Vec<String> {
    let mut removed: Vec<String> = meta
        .parts()
        .iter()
        .skip(k)
        .flat_map(|p| p.removed.iter().cloned())
        .filter(|name| !brought.iter().any(|b| delta::rel_text(b) == *name))
        .collect();
    removed.sort();
    removed.dedup();
    removed
}

/// A restore that starts from a link of the chain this machine's transcript already equals: it
/// downloads only the parts after it ([`fetch_chain`]), puts the local transcript before their
/// lines, and deletes what they removed.
pub struct FromLink {
    pub link: usize,
    /// This machine's transcript (at `link`).
    pub local: PathBuf,
}

impl FromLink {
    /// When `stored` is a chain and the local transcript (`facts` of `session_file`) equals one
    /// of its links below the last; `synced` is the copy sha256 this machine last synced.
    pub fn find(
        stored: &StoredSession,
        facts: Option<&crate::bundle::facts::SessionFacts>,
        session_file: &Path,
        synced: Option<&str>,
    ) -> Option<FromLink> {
        let facts = facts?;
        let local = After {
            records: facts.records,
            lines: facts.lines,
            uuid_count: facts.chain.count(),
            uuid_chain_sha256: facts.chain.sha256_hex(),
        };
        let link = local_link(&stored.meta, &local, synced)?;
        Some(FromLink {
            link,
            local: session_file.to_path_buf(),
        })
    }

    /// The parts after the link, verified, extracted and assembled in the metadata's roots.
    pub fn fetch(
        &self,
        rt: &Runtime,
        gh: &GitHub,
        stored: &StoredSession,
        scratch: &Path,
        extract_parent: &Path,
        passphrase: Option<&str>,
    ) -> anyhow::Result<Extracted> {
        fetch_chain(
            rt,
            gh,
            stored,
            Some(self.link),
            Some(&self.local),
            scratch,
            extract_parent,
            passphrase,
        )
    }

    /// The staged transcript (the parts' lines, mapped here) made whole: the local transcript
    /// before them, then checked against the metadata before anything is installed.
    pub fn complete(&self, meta: &Metadata, staged: &Path) -> anyhow::Result<()> {
        delta::prepend_local(&self.local, staged)?;
        check_transcript(meta, staged)
    }

    /// After the install: the files of the project folder the parts removed (`brought`: what
    /// they carry). Memory goes by its own rules and state stays (docs/write-protocol.md).
    pub fn remove_gone(
        &self,
        meta: &Metadata,
        brought: &[PathBuf],
        project_dir: &Path,
    ) -> anyhow::Result<()> {
        for name in removed_after(meta, self.link, brought) {
            let rel = delta::checked_rel(&name)?;
            if crate::memory::is_memory(&rel) || crate::store::state::is_state(&rel) {
                continue;
            }
            match std::fs::remove_file(project_dir.join(&rel)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {name}"))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Bytes a restore downloads from link `from` on (`None`: the whole copy, base first).
pub fn download_size(meta: &Metadata, from: Option<usize>) -> u64 {
    let parts = meta.parts().iter().skip(from.unwrap_or(0)).map(|p| p.size);
    let base = if from.is_none() { meta.archive.size } else { 0 };
    parts.fold(base, u64::saturating_add)
}

/// The generation of link `k` of `meta`'s chain.
pub fn link_generation(meta: &Metadata, k: usize) -> Option<u64> {
    links(meta).get(k).map(|l| l.generation)
}

/// Downloads what `stored` needs after link `from` (`None`: the whole chain, base first),
/// verifies and extracts each part, maps each from the roots it was written under to the
/// metadata's, and assembles them in a temporary folder inside `extract_parent`. From a link, the
/// transcript entry holds only the lines after it; `local_transcript` (that link's transcript on
/// this machine) names plans for the state check. Nothing outside the temporary folders is written.
#[allow(clippy::too_many_arguments)]
pub fn fetch_chain(
    rt: &Runtime,
    gh: &GitHub,
    stored: &StoredSession,
    from: Option<usize>,
    local_transcript: Option<&Path>,
    scratch: &Path,
    extract_parent: &Path,
    passphrase: Option<&str>,
) -> anyhow::Result<Extracted> {
    let meta = &stored.meta;
    let Some(chain) = &meta.chain else {
        bail!("session {} is not stored as a chain", meta.session_id);
    };
    if stored.parts.len() != chain.parts.len() {
        bail!(
            "session {}: the chain's parts are not all in the release",
            meta.session_id
        );
    }
    let fetch = Fetch {
        rt,
        gh,
        meta,
        scratch,
        extract_parent,
        passphrase,
    };
    let assembled = tempfile::Builder::new()
        .prefix(".ccsync-extract-")
        .tempdir_in(extract_parent)
        .with_context(|| {
            format!(
                "cannot create a temporary folder in {}",
                extract_parent.display()
            )
        })?;
    let transcript = transcript_rel(&meta.session_id);
    let first = match from {
        None => {
            let base = fetch.extract(
                &stored.archive_asset,
                (&meta.archive.name, meta.archive.size, &meta.archive.sha256),
                meta.unpacked_size,
            )?;
            map_into(&base, &chain.base.roots, &meta.roots(), assembled.path())?;
            0
        }
        Some(k) => k,
    };
    let mut lines_before = match from {
        None => chain.base.after.lines,
        Some(k) => links(meta)[k].after.lines,
    };
    for (part, asset) in chain.parts.iter().zip(&stored.parts).skip(first) {
        lines_before = fetch.apply(part, asset, lines_before, assembled.path(), &transcript)?;
    }
    let files = list_files(assembled.path())?;
    let extra: Vec<PathBuf> = local_transcript
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    bundle::entries::check_state_files(&meta.session_id, assembled.path(), &files, &extra)
        .context("refusing the stored chain")?;
    if from.is_none() {
        check_transcript(meta, &assembled.path().join(&transcript))?;
    }
    Ok(Extracted {
        dir: assembled,
        files,
    })
}

/// Checks the assembled transcript against the metadata: the chain is the copy it describes.
pub fn check_transcript(meta: &Metadata, path: &Path) -> anyhow::Result<()> {
    let facts = bundle::facts::read_facts(path, None)?;
    let same = facts.chain.count() == meta.uuid_count
        && facts.records == meta.records
        && facts
            .chain
            .sha256_hex()
            .eq_ignore_ascii_case(&meta.uuid_chain_sha256);
    if !same {
        bail!(
            "the stored chain of session {} does not assemble into the transcript its metadata \
             records: the release was tampered with; nothing was installed",
            meta.session_id
        );
    }
    Ok(())
}

struct Fetch<'a> {
    rt: &'a Runtime,
    gh: &'a GitHub,
    meta: &'a Metadata,
    scratch: &'a Path,
    extract_parent: &'a Path,
    passphrase: Option<&'a str>,
}

impl Fetch<'_> {
    /// Downloads one asset of the chain, checks its size and sha256, decrypts and extracts it.
    fn extract(
        &self,
        asset: &Asset,
        (name, size, sha256): (&str, u64, &str),
        unpacked: Option<u64>,
    ) -> anyhow::Result<Extracted> {
        let id = &self.meta.session_id;
        let downloaded = self.scratch.join(format!("chain-{}", asset.id));
        self.rt
            .block_on(self.gh.download_asset(asset, &downloaded, Some(sha256)))
            .with_context(|| format!("cannot download {}", crate::neutral::text(name)))?;
        let got = std::fs::metadata(&downloaded)?.len();
        if got != size {
            return Err(crate::release::Error::Integrity(format!(
                "{} has {got} bytes but its metadata says {size}: the asset was replaced; try again",
                crate::neutral::text(name)
            ))
            .into());
        }
        let archive = match self.meta.archive.encryption {
            Encryption::None => downloaded,
            Encryption::AgeScrypt => {
                let Some(passphrase) = self.passphrase else {
                    bail!(
                        "session {id} is encrypted: set CCSYNC_PASSPHRASE (the action's `passphrase` input) to the passphrase it was pushed with"
                    );
                };
                let plain = self.scratch.join(format!("chain-{}.tar.gz", asset.id));
                bundle::crypt::decrypt_file(&downloaded, &plain, passphrase)
                    .with_context(|| format!("cannot decrypt session {id}"))?;
                std::fs::remove_file(&downloaded).ok();
                plain
            }
        };
        let limits = Limits::for_unpacked_size(unpacked);
        bundle::check_room(
            self.extract_parent,
            limits.max_total_bytes.min(unpacked.unwrap_or(0)),
        )
        .with_context(|| format!("refusing the stored copy of session {id}"))?;
        let extracted = bundle::extract::extract_part(&archive, self.extract_parent, &limits, id)
            .with_context(|| format!("refusing the stored copy of session {id}"))?;
        std::fs::remove_file(&archive).ok();
        Ok(extracted)
    }

    /// Fetches `part` and applies it onto `assembled`; returns the transcript's lines after it.
    fn apply(
        &self,
        part: &Part,
        asset: &Asset,
        lines_before: u64,
        assembled: &Path,
        transcript: &Path,
    ) -> anyhow::Result<u64> {
        let lines = part.after.lines.checked_sub(lines_before).with_context(|| {
            format!(
                "the chain of session {} loses lines at generation {}: the release was tampered with",
                self.meta.session_id, part.generation
            )
        })?;
        let extracted = self.extract(
            asset,
            (&part.name, part.size, &part.sha256),
            Some(part.unpacked_size),
        )?;
        let mapped = tempfile::Builder::new()
            .prefix(".ccsync-extract-")
            .tempdir_in(self.extract_parent)?;
        map_into(&extracted, &part.roots, &self.meta.roots(), mapped.path())?;
        delta::apply_part(
            assembled,
            mapped.path(),
            &extracted.files,
            transcript,
            lines,
            &part.removed,
        )
        .with_context(|| {
            format!(
                "refusing generation {} of session {}",
                part.generation, self.meta.session_id
            )
        })?;
        Ok(part.after.lines)
    }
}

/// Moves (nothing to map) or rewrites each extracted file from roots `from` to roots `to` into
/// `dst`. A transcript (`.jsonl`) ends in `\n`; any other file keeps a missing final newline.
fn map_into(extracted: &Extracted, from: &Roots, to: &Roots, dst: &Path) -> anyhow::Result<()> {
    let map = map_between(from, to);
    for rel in &extracted.files {
        let (src, out) = (extracted.path(rel), dst.join(rel));
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        if map.is_empty() {
            std::fs::rename(&src, &out)
                .with_context(|| format!("cannot move {} into place", src.display()))?;
            continue;
        }
        delta::map_file(&src, &out, &map)?;
    }
    Ok(())
}

/// Every regular file below `dir`, relative to it, sorted.
fn list_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(dir.join(&rel))
            .with_context(|| format!("cannot list {}", dir.join(&rel).display()))?
        {
            let entry = entry?;
            let child = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                stack.push(child);
            } else {
                out.push(child);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::metadata::{Base, Chain};

    fn after(lines: u64, sha: u8) -> After {
        After {
            records: lines,
            lines,
            uuid_count: lines,
            uuid_chain_sha256: format!("{sha:02x}").repeat(32),
        }
    }

    fn part(generation: u64, size: u64, lines: u64, sha: u8) -> Part {
        Part {
            generation,
            name: format!("p{generation}"),
            size,
            sha256: format!("{:02x}", 0x80 + generation).repeat(32),
            unpacked_size: size,
            roots: crate::bundle::metadata::tests::sample().roots(),
            after: after(lines, sha),
            removed: vec![],
        }
    }

    fn chained(parts: Vec<Part>) -> Metadata {
        let mut meta = crate::bundle::metadata::tests::sample();
        meta.archive.size = 1000;
        meta.generation = parts.last().map_or(1, |p| p.generation);
        meta.chain = Some(Chain {
            base: Base {
                generation: 1,
                after: after(10, 1),
                roots: meta.roots(),
            },
            parts,
        });
        meta
    }

    #[test]
    fn compaction_at_half_the_base_or_sixteen_parts() {
        let mut full = crate::bundle::metadata::tests::sample();
        full.archive.size = 1000;
        assert!(takes_part(&full, 500));
        assert!(!takes_part(&full, 501));
        let meta = chained(vec![part(2, 300, 11, 2)]);
        assert!(takes_part(&meta, 200));
        assert!(!takes_part(&meta, 201));
        let many = chained((2..=17).map(|g| part(g, 1, 10 + g, g as u8)).collect());
        assert_eq!(many.parts().len(), MAX_CHAIN_PARTS);
        assert!(!takes_part(&many, 1));
        let fewer = chained((2..=16).map(|g| part(g, 1, 10 + g, g as u8)).collect());
        assert!(takes_part(&fewer, 1));
    }

    #[test]
    fn the_local_link_is_the_synced_one_else_the_earliest_and_never_the_last() {
        // Base (10 lines), part 2 (12), part 3 memory only (12), part 4 (15).
        let meta = chained(vec![
            part(2, 1, 12, 2),
            part(3, 1, 12, 2),
            part(4, 1, 15, 4),
        ]);
        assert_eq!(local_link(&meta, &after(10, 1), None), Some(0));
        assert_eq!(local_link(&meta, &after(12, 2), None), Some(1));
        let synced = meta.parts()[1].sha256.clone();
        assert_eq!(local_link(&meta, &after(12, 2), Some(&synced)), Some(2));
        // The last link is the copy itself (equal: nothing to fetch); others match nothing.
        assert_eq!(local_link(&meta, &after(15, 4), None), None);
        assert_eq!(local_link(&meta, &after(11, 9), None), None);
        assert_eq!(link_generation(&meta, 2), Some(3));
    }
}

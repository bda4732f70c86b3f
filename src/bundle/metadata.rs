//! The metadata asset of a stored session, `claude-session-metadata-<uuid>.json` (DESIGN.md,
//! "Archive and metadata"): what restore reads before it downloads the archive, and what push
//! compares against the local session (`uuidCount`, `uuidChainSha256`, see [`crate::sync`]).
//!
//! Parsing is strict because the file comes over the network: bounded size, every required field
//! present, a session id that is a uuid (it becomes a file name), an archive name without path
//! separators, a sha256 of 64 hex digits, and a clear "upgrade" error for a newer `format`.
//! Fields added later within format 1 are ignored, so older ccsync versions keep reading.
//! Format 2 is a chain (docs/write-protocol.md, "Delta copies"): a base archive plus delta parts,
//! which older ccsync refuses with "upgrade ccsync" rather than reading the base as the session.

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The metadata format of a full copy (one archive holds the session).
pub const FORMAT: u32 = 1;

/// The metadata format of a chain (a base archive plus delta parts): the newest this ccsync reads.
pub const FORMAT_CHAIN: u32 = 2;

/// Parts a chain may list (a writer compacts long before: [`crate::stored::chain`]).
pub const MAX_PARTS: usize = 64;

/// The signpost ccsync leaves under the stable metadata name while a session is stored as a
/// chain (docs/write-protocol.md, "Delta copies"): format 2, so ccsync 0.1 and 0.2 refuse it
/// with "made by a newer ccsync: upgrade ccsync" and never call the session "same" or "up to
/// date"; its bytes follow from the session id, so this ccsync knows it by its size and digest
/// without reading it ([`crate::stored::copies::is_signpost`]).
pub fn signpost(session_id: &str) -> String {
    format!(
        "{{\"format\": {FORMAT_CHAIN}, \"sessionId\": \"{session_id}\", \"chainMetadata\": \"{}\"}}\n",
        crate::release::names::chain_metadata_asset_name(session_id)
    )
}

/// Metadata files larger than this are refused unread.
pub const MAX_METADATA_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub format: u32,
    pub session_id: String,
    pub git_branch: String,
    /// `OWNER/NAME`.
    pub repository: String,
    /// The commit checked out at push, if any.
    pub commit: Option<String>,
    /// The session's working directory at push.
    pub cwd: String,
    /// The repository root at push.
    pub repo_root: String,
    /// The Claude project folder of the session at push (absolute), so restore can map
    /// `<persisted-output>` paths that point into it.
    #[serde(default)]
    pub claude_project_dir: Option<String>,
    /// The Claude config folder at push (absolute): restore maps paths into it (plans, file
    /// history) to its own. Absent in metadata of ccsync before 0.2.1, which carried no state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_dir: Option<String>,
    /// Claude Code's temp folder at push (`$TMPDIR/claude-<uid>`, absolute), where background
    /// outputs live: restore maps paths into it to its own. Absent before 0.2.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_temp_dir: Option<String>,
    /// The `timestamp` of the last record that has one.
    pub last_timestamp: Option<String>,
    /// Records (lines) in the session file.
    pub records: u64,
    /// Complete lines of the session file as packed (glued records share one): where a delta
    /// part's lines start. Absent before 0.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<u64>,
    /// The `uuid` of the last record that has one.
    pub last_uuid: Option<String>,
    /// The highest Claude Code `version` of the session's records (the newest CLI that wrote it).
    pub claude_version: Option<String>,
    /// The session holds `progress` records (2.1.x), whose history a 2.0.x CLI loses on resume.
    /// Absent (false) in metadata of ccsync before 0.2.
    #[serde(default)]
    pub has_progress_records: bool,
    pub archive: ArchiveInfo,
    /// Bytes of the decompressed tar stream (file contents, headers and padding): restore refuses
    /// an archive that unpacks to more. Absent in metadata of ccsync before 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpacked_size: Option<u64>,
    pub pushed_at: DateTime<Utc>,
    pub pushed_from: PushedFrom,
    pub tool: Tool,
    /// Record uuids in the session, in file order (see [`crate::sync::UuidChain`]).
    pub uuid_count: u64,
    /// sha256 of the ordered record uuids, each followed by `\n`.
    pub uuid_chain_sha256: String,
    /// The write protocol's generation of this copy (docs/write-protocol.md): one more than the
    /// copy it replaced. Absent in metadata of ccsync 0.1: 0.
    #[serde(default)]
    pub generation: u64,
    /// The copy this one replaced, if any (room for a later delta asset that names its parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Parent>,
    /// A copy an older ccsync (one that does not know chains) stored beside a chain, that this
    /// copy's writer found its local session to hold (docs/write-protocol.md, "Older ccsync
    /// beside a chain"): once this copy is current, that one may go by the leftover rules.
    /// Absent before 0.4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<Parent>,
    /// Side content (project memory, relative to the project folder: `memory/B.md`) that a pusher
    /// deleted since it last synced, carried forward by later pushes while the file stays
    /// deleted: a restore deletes it on its side too, and a push does not put it back
    /// ([`crate::memory`]). Data from the release: each entry is checked before use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_side_files: Vec<String>,
    /// Format 2 only: the base and the delta parts this copy is made of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
    /// Every file of the copy but the transcript, by path relative to the project folder, with
    /// the sha256 of its stored bytes and the generation that wrote them: a push tells what changed
    /// without downloading. Absent before 0.3 (the next push then writes a full copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<std::collections::BTreeMap<String, ManifestEntry>>,
}

/// The machine roots a generation was written under (restore maps each to the local one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Roots {
    pub cwd: String,
    pub repo_root: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_project_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_temp_dir: Option<String>,
}

/// The transcript after a link of a chain applies: what a reader compares its local copy with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct After {
    pub records: u64,
    pub lines: u64,
    pub uuid_count: u64,
    pub uuid_chain_sha256: String,
}

/// The base of a chain: a full archive (the metadata's `archive`) of generation `generation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Base {
    pub generation: u64,
    pub after: After,
    pub roots: Roots,
}

/// One delta part: the asset generation `generation` uploaded, and the state after it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub generation: u64,
    /// The asset name (`claude-session-<uuid>.d<G>.tar.gz`); matched by content like archives.
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub unpacked_size: u64,
    pub roots: Roots,
    pub after: After,
    /// Files of the copy (relative to the project folder) this part deletes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// A chain: the base, then the parts oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chain {
    pub base: Base,
    pub parts: Vec<Part>,
}

/// A file of the copy as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestEntry {
    pub sha256: String,
    pub generation: u64,
}

/// The stored copy a push replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parent {
    pub generation: u64,
    pub archive_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveInfo {
    /// The asset name.
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub encryption: Encryption,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encryption {
    #[serde(rename = "none")]
    None,
    /// age with a passphrase (scrypt recipient).
    #[serde(rename = "age-scrypt")]
    AgeScrypt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushedFrom {
    pub host: String,
    pub os: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    /// This build of ccsync.
    pub fn current() -> Self {
        Tool {
            name: "ccsync".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

impl Metadata {
    /// Pretty JSON, readable in the release's asset list.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("metadata always serialises");
        text.push('\n');
        text
    }

    /// Parses and checks a metadata file downloaded from a release.
    pub fn parse(bytes: &[u8]) -> Result<Metadata> {
        if bytes.len() > MAX_METADATA_BYTES {
            bail!("the session metadata is {} bytes, more than the {MAX_METADATA_BYTES} allowed: it is not ccsync metadata", bytes.len());
        }
        // The format first, so a newer file says "upgrade" rather than "missing field".
        #[derive(Deserialize)]
        struct Probe {
            format: Option<serde_json::Value>,
        }
        let probe: Probe = serde_json::from_slice(bytes)
            .map_err(|e| anyhow!("the session metadata is not valid JSON ({e})"))?;
        let format = match probe.format {
            None => bail!("the session metadata has no `format`: it was not written by ccsync"),
            Some(value) => value
                .as_u64()
                .ok_or_else(|| anyhow!("the session metadata's `format` is not a number"))?,
        };
        if format > u64::from(FORMAT_CHAIN) {
            return Err(NewerFormat(format).into());
        }
        if format < u64::from(FORMAT) {
            bail!("the session metadata has an unknown format {format}");
        }
        let meta: Metadata = serde_json::from_slice(bytes)
            .map_err(|e| anyhow!("the session metadata is invalid: {e}"))?;
        meta.check().context("the session metadata is invalid")?;
        meta.check_chain()
            .context("the session metadata is invalid")?;
        Ok(meta)
    }

    /// Sets the generation a write claims, and names it in the manifest entries of the files
    /// this copy carries (written as generation 0 until the writer knows its generation).
    pub fn settle_generation(&mut self, generation: u64) {
        self.generation = generation;
        for entry in self.manifest.iter_mut().flat_map(|m| m.values_mut()) {
            if entry.generation == 0 {
                entry.generation = generation;
            }
        }
    }

    /// The roots this copy's writer recorded.
    pub fn roots(&self) -> Roots {
        Roots {
            cwd: self.cwd.clone(),
            repo_root: self.repo_root.clone(),
            claude_project_dir: self.claude_project_dir.clone(),
            claude_dir: self.claude_dir.clone(),
            claude_temp_dir: self.claude_temp_dir.clone(),
        }
    }

    /// The state of the transcript this copy holds (`None` before 0.3, which counted no lines).
    pub fn after(&self) -> Option<After> {
        Some(After {
            records: self.records,
            lines: self.lines?,
            uuid_count: self.uuid_count,
            uuid_chain_sha256: self.uuid_chain_sha256.clone(),
        })
    }

    /// The copy's identity: the sha256 of its last part, else of its archive. Every generation of
    /// a chain shares the base's sha256, so rank, divergence, `parent` and the sync record use this.
    pub fn copy_sha256(&self) -> &str {
        self.chain
            .as_ref()
            .and_then(|c| c.parts.last())
            .map_or(&self.archive.sha256, |p| &p.sha256)
    }

    /// Whether its writer knew chains (0.3 and later: a chain, or a manifest on a full copy).
    /// ccsync 0.1 and 0.2 cannot read a chain, so a copy of theirs beside one may hold records
    /// it lacks, or lack records it holds (docs/write-protocol.md, "Older ccsync beside a chain").
    pub fn knows_chains(&self) -> bool {
        self.chain.is_some() || self.manifest.is_some()
    }

    /// The transcript states this copy passed through that its metadata records: each link of a
    /// chain (the base, then after each part), and the copy's own; as (uuid count, uuid chain
    /// sha256).
    pub fn known_states(&self) -> Vec<(u64, &str)> {
        let mut states: Vec<(u64, &str)> = Vec::new();
        if let Some(chain) = &self.chain {
            let after =
                std::iter::once(&chain.base.after).chain(chain.parts.iter().map(|p| &p.after));
            states.extend(after.map(|a| (a.uuid_count, a.uuid_chain_sha256.as_str())));
        }
        states.push((self.uuid_count, self.uuid_chain_sha256.as_str()));
        states
    }

    /// The parts of the chain (none for a full copy).
    pub fn parts(&self) -> &[Part] {
        self.chain.as_ref().map_or(&[][..], |c| &c.parts[..])
    }

    /// A chain (format 2) must say so, list at least one part, and keep its numbers in order: the
    /// base below every part, parts in increasing generations, the last one this copy's own.
    fn check_chain(&self) -> Result<()> {
        let max = crate::release::names::MAX_GENERATION;
        let chain = match (self.format, &self.chain) {
            (FORMAT, None) => return self.check_manifest(),
            (FORMAT_CHAIN, Some(chain)) => chain,
            (FORMAT, Some(_)) => bail!("format 1 metadata lists a `chain`"),
            _ => bail!("format {} metadata lists no `chain`", self.format),
        };
        if chain.parts.is_empty() || chain.parts.len() > MAX_PARTS {
            bail!(
                "`chain.parts` lists {} parts (1 to {MAX_PARTS})",
                chain.parts.len()
            );
        }
        let mut previous = chain.base.generation;
        check_after("chain.base", &chain.base.after)?;
        for part in &chain.parts {
            if part.generation <= previous || part.generation > self.generation {
                bail!(
                    "`chain.parts` generation {} is out of order",
                    part.generation
                );
            }
            previous = part.generation;
            check_plain_name("chain.parts.name", &part.name)?;
            check_sha("chain.parts.sha256", &part.sha256)?;
            check_after("chain.parts", &part.after)?;
            for (field, value) in [("size", part.size), ("unpackedSize", part.unpacked_size)] {
                if value > max {
                    bail!("`chain.parts.{field}` {value} is out of range (at most {max})");
                }
            }
        }
        if previous != self.generation {
            bail!(
                "the last part of the chain has generation {previous}, the copy {}",
                self.generation
            );
        }
        self.check_manifest()
    }

    fn check_manifest(&self) -> Result<()> {
        for (path, entry) in self.manifest.iter().flatten() {
            check_sha("manifest", &entry.sha256)?;
            if entry.generation > self.generation || path.is_empty() {
                bail!(
                    "`manifest` entry {:?} is invalid",
                    path.chars().take(80).collect::<String>()
                );
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<()> {
        let id = uuid::Uuid::parse_str(&self.session_id).ok();
        if id.map(|u| u.hyphenated().to_string()) != Some(self.session_id.to_ascii_lowercase())
            || self.session_id.len() != 36
        {
            bail!(
                "`sessionId` {:?} is not a session uuid",
                self.session_id.chars().take(80).collect::<String>()
            );
        }
        let name = &self.archive.name;
        if name.is_empty() || name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
            bail!(
                "`archive.name` {:?} is not a plain file name",
                name.chars().take(80).collect::<String>()
            );
        }
        // Numbers come from anyone who can write the release: bounded, so that arithmetic on
        // them (the next generation, sizes, counts) can never wrap.
        let max = crate::release::names::MAX_GENERATION;
        for (field, value) in [
            ("generation", self.generation),
            ("archive.size", self.archive.size),
            ("records", self.records),
            ("uuidCount", self.uuid_count),
            ("unpackedSize", self.unpacked_size.unwrap_or(0)),
            ("lines", self.lines.unwrap_or(0)),
        ] {
            if value > max {
                bail!("`{field}` {value} is out of range (at most {max})");
            }
        }
        for (field, link) in [("parent", &self.parent), ("supersedes", &self.supersedes)] {
            let Some(link) = link else { continue };
            if link.generation >= self.generation {
                bail!(
                    "`{field}.generation` {} is not below `generation` {}",
                    link.generation,
                    self.generation
                );
            }
        }
        for (field, hash) in [
            ("archive.sha256", &self.archive.sha256),
            ("uuidChainSha256", &self.uuid_chain_sha256),
        ] {
            check_sha(field, hash)?;
        }
        Ok(())
    }
}

/// Metadata of a format newer than this ccsync reads: never junk, never overwritten (a reader
/// says "upgrade ccsync"; a push stops).
#[derive(Debug, thiserror::Error)]
#[error(
    "the session metadata has format {0}, made by a newer ccsync: upgrade ccsync (this one reads formats 1 and 2)"
)]
pub struct NewerFormat(pub u64);

fn check_sha(field: &str, hash: &str) -> Result<()> {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("`{field}` is not a sha256 (64 hex digits)");
    }
    Ok(())
}

fn check_plain_name(field: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
        bail!(
            "`{field}` {:?} is not a plain file name",
            name.chars().take(80).collect::<String>()
        );
    }
    Ok(())
}

fn check_after(field: &str, after: &After) -> Result<()> {
    let max = crate::release::names::MAX_GENERATION;
    if after.records > max || after.uuid_count > max || after.lines > max {
        bail!("`{field}` counts are out of range (at most {max})");
    }
    check_sha(field, &after.uuid_chain_sha256)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Metadata {
        Metadata {
            format: FORMAT,
            session_id: "4d5611e5-241a-462a-8d15-5122611a9569".into(),
            git_branch: "feature/x".into(),
            repository: "octo/app".into(),
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            cwd: "/Users/me/app/sub".into(),
            repo_root: "/Users/me/app".into(),
            claude_project_dir: Some("/Users/me/.claude/projects/-Users-me-app-sub".into()),
            claude_dir: Some("/Users/me/.claude".into()),
            claude_temp_dir: Some("/var/folders/xy/T/claude-501".into()),
            last_timestamp: Some("2026-01-02T03:04:05.678Z".into()),
            records: 1512,
            lines: None,
            last_uuid: Some("a3e0f6a2-7d5b-4a53-9f0e-0c8f3f1d2b11".into()),
            claude_version: Some("2.1.39".into()),
            has_progress_records: true,
            archive: ArchiveInfo {
                name: "claude-session-4d5611e5-241a-462a-8d15-5122611a9569.tar.gz".into(),
                size: 123456,
                sha256: "ab".repeat(32),
                encryption: Encryption::None,
            },
            unpacked_size: Some(987654),
            pushed_at: "2026-01-02T04:00:00Z".parse().unwrap(),
            pushed_from: PushedFrom {
                host: "laptop".into(),
                os: "macos".into(),
            },
            tool: Tool::current(),
            uuid_count: 1400,
            uuid_chain_sha256: "cd".repeat(32),
            generation: 3,
            parent: Some(Parent {
                generation: 2,
                archive_sha256: "ef".repeat(32),
            }),
            supersedes: None,
            deleted_side_files: vec!["memory/old.md".into()],
            chain: None,
            manifest: None,
        }
    }

    #[test]
    fn metadata_of_ccsync_0_1_reads_as_generation_0_without_parent() {
        let old = edited(|m| {
            m.remove("generation");
            m.remove("parent");
        });
        let meta = Metadata::parse(&old).unwrap();
        assert_eq!((meta.generation, meta.parent), (0, None));
        let json = sample().to_json();
        assert!(
            json.contains("\"generation\": 3") && json.contains("\"archiveSha256\""),
            "{json}"
        );
    }

    #[test]
    fn round_trips_with_camel_case_names() {
        let meta = sample();
        let json = meta.to_json();
        for key in [
            "\"sessionId\"",
            "\"gitBranch\"",
            "\"repoRoot\"",
            "\"lastTimestamp\"",
            "\"lastUuid\"",
            "\"claudeVersion\"",
            "\"pushedAt\"",
            "\"pushedFrom\"",
            "\"uuidChainSha256\"",
            "\"unpackedSize\"",
            "\"encryption\": \"none\"",
        ] {
            assert!(json.contains(key), "{key} missing in {json}");
        }
        assert_eq!(Metadata::parse(json.as_bytes()).unwrap(), meta);
        let mut enc = sample();
        enc.archive.encryption = Encryption::AgeScrypt;
        assert!(enc.to_json().contains("\"age-scrypt\""));
        assert_eq!(Metadata::parse(enc.to_json().as_bytes()).unwrap(), enc);
    }

    fn edited(f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<u8> {
        let mut value: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        f(value.as_object_mut().unwrap());
        serde_json::to_vec(&value).unwrap()
    }

    fn err(bytes: &[u8]) -> String {
        format!("{:#}", Metadata::parse(bytes).unwrap_err())
    }

    #[test]
    fn newer_format_says_upgrade() {
        let e = err(&edited(|m| {
            m.insert("format".into(), 3.into());
            m.remove("sessionId");
        }));
        assert!(e.contains("newer ccsync") && e.contains("upgrade"), "{e}");
    }

    #[test]
    fn missing_fields_are_named() {
        for field in ["sessionId", "archive", "uuidChainSha256", "pushedFrom"] {
            let e = err(&edited(|m| {
                m.remove(field);
            }));
            assert!(e.contains(&format!("missing field `{field}`")), "{e}");
        }
        assert!(err(&edited(|m| {
            m.remove("format");
        }))
        .contains("no `format`"));
        // Unknown fields of a later format-1 writer are fine.
        assert!(Metadata::parse(&edited(|m| {
            m.insert("someday".into(), true.into());
        }))
        .is_ok());
    }

    #[test]
    fn hostile_values_are_refused() {
        assert!(err(&edited(|m| {
            m.insert("sessionId".into(), "../../etc/passwd".into());
        }))
        .contains("not a session uuid"));
        let e = err(&edited(|m| {
            m["archive"]["name"] = "../evil.tar.gz".into();
        }));
        assert!(e.contains("plain file name"), "{e}");
        let e = err(&edited(|m| {
            m["archive"]["encryption"] = "rot13".into();
        }));
        assert!(e.contains("unknown variant"), "{e}");
        assert!(err(&edited(|m| {
            m["archive"]["sha256"] = "xyz".into();
        }))
        .contains("sha256"));
        assert!(err(&vec![b' '; MAX_METADATA_BYTES + 1]).contains("more than"));
        assert!(err(b"{\"format\":1").contains("not valid JSON"));
    }

    #[test]
    fn a_chain_is_format_2_with_its_numbers_in_order() {
        let after = After {
            records: 5,
            lines: 5,
            uuid_count: 4,
            uuid_chain_sha256: "12".repeat(32),
        };
        let mut chained = sample();
        chained.format = FORMAT_CHAIN;
        chained.lines = Some(5);
        chained.chain = Some(Chain {
            base: Base {
                generation: 1,
                after: after.clone(),
                roots: chained.roots(),
            },
            parts: vec![Part {
                generation: 3,
                name: "claude-session-x.d3.tar.gz".into(),
                size: 10,
                sha256: "34".repeat(32),
                unpacked_size: 20,
                roots: chained.roots(),
                after,
                removed: vec!["memory/a.md".into()],
            }],
        });
        let json = chained.to_json();
        assert!(
            json.contains("\"format\": 2") && json.contains("\"chain\""),
            "{json}"
        );
        let back = Metadata::parse(json.as_bytes()).unwrap();
        assert_eq!(back.copy_sha256(), "34".repeat(32));
        assert_eq!(back.after().unwrap().lines, 5);
        let bad = |f: &dyn Fn(&mut Metadata)| {
            let mut m = chained.clone();
            f(&mut m);
            format!("{:#}", Metadata::parse(m.to_json().as_bytes()).unwrap_err())
        };
        assert!(bad(&|m| m.format = FORMAT).contains("lists a `chain`"));
        assert!(bad(&|m| m.chain = None).contains("lists no `chain`"));
        assert!(bad(&|m| m.generation = 4).contains("last part"));
        assert!(bad(&|m| m.chain.as_mut().unwrap().base.generation = 3).contains("out of order"));
        assert!(
            bad(&|m| m.chain.as_mut().unwrap().parts[0].name = "../x".into())
                .contains("plain file name")
        );
        assert!(bad(&|m| m.chain.as_mut().unwrap().parts.clear()).contains("parts"));
        // A full copy's manifest is checked too; written files settle on the claimed generation.
        let mut full = sample();
        let entry = ManifestEntry {
            sha256: "56".repeat(32),
            generation: 0,
        };
        full.manifest = Some([("memory/a.md".to_owned(), entry)].into());
        full.settle_generation(7);
        assert_eq!(full.manifest.as_ref().unwrap()["memory/a.md"].generation, 7);
        assert_eq!(full.copy_sha256(), full.archive.sha256);
        assert!(Metadata::parse(full.to_json().as_bytes()).is_ok());
    }

    #[test]
    fn numbers_out_of_range_are_refused() {
        let huge = serde_json::Value::from(u64::MAX);
        for (field, path) in [
            ("generation", &["generation"][..]),
            ("archive.size", &["archive", "size"][..]),
            ("records", &["records"][..]),
            ("uuidCount", &["uuidCount"][..]),
            ("unpackedSize", &["unpackedSize"][..]),
        ] {
            let e = err(&edited(|m| match path {
                [one] => {
                    m.insert((*one).into(), huge.clone());
                }
                [outer, inner] => m[*outer][*inner] = huge.clone(),
                _ => unreachable!(),
            }));
            assert!(e.contains(field) && e.contains("out of range"), "{e}");
        }
        let at_max = edited(|m| {
            m.insert(
                "generation".into(),
                crate::release::names::MAX_GENERATION.into(),
            );
        });
        assert!(Metadata::parse(&at_max).is_ok());
        let e = err(&edited(|m| {
            m["parent"]["generation"] = 3.into();
        }));
        assert!(e.contains("not below"), "{e}");
    }
}

//! The metadata asset of a stored session, `claude-session-metadata-<uuid>.json` (DESIGN.md,
//! "Archive and metadata"): what restore reads before it downloads the archive, and what push
//! compares against the local session (`uuidCount`, `uuidChainSha256`, see [`crate::sync`]).
//!
//! Parsing is strict because the file comes over the network: bounded size, every required field
//! present, a session id that is a uuid (it becomes a file name), an archive name without path
//! separators, a sha256 of 64 hex digits, and a clear "upgrade" error for a newer `format`.
//! Fields added later within format 1 are ignored, so older ccsync versions keep reading.

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The metadata format this ccsync writes and the newest it reads.
pub const FORMAT: u32 = 1;

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
    /// Side content (project memory, relative to the project folder: `memory/B.md`) that a pusher
    /// deleted since it last synced, carried forward by later pushes while the file stays
    /// deleted: a restore deletes it on its side too, and a push does not put it back
    /// ([`crate::memory`]). Data from the release: each entry is checked before use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_side_files: Vec<String>,
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
        if format > u64::from(FORMAT) {
            bail!(
                "the session metadata has format {format}, made by a newer ccsync: upgrade ccsync \
                 (this one reads format {FORMAT})"
            );
        }
        if format < u64::from(FORMAT) {
            bail!("the session metadata has an unknown format {format}");
        }
        let meta: Metadata = serde_json::from_slice(bytes)
            .map_err(|e| anyhow!("the session metadata is invalid: {e}"))?;
        meta.check().context("the session metadata is invalid")?;
        Ok(meta)
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
        ] {
            if value > max {
                bail!("`{field}` {value} is out of range (at most {max})");
            }
        }
        if let Some(parent) = &self.parent {
            if parent.generation >= self.generation {
                bail!(
                    "`parent.generation` {} is not below `generation` {}",
                    parent.generation,
                    self.generation
                );
            }
        }
        for (field, hash) in [
            ("archive.sha256", &self.archive.sha256),
            ("uuidChainSha256", &self.uuid_chain_sha256),
        ] {
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("`{field}` is not a sha256 (64 hex digits)");
            }
        }
        Ok(())
    }
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
            deleted_side_files: vec!["memory/old.md".into()],
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
            m.insert("format".into(), 2.into());
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

//! Planting what anyone with write access to a repository's releases could: an archive and
//! metadata of their own making, seeded into the fake GitHub. And a [`Machine`] whose Claude
//! folder and checkout can be snapshotted byte for byte, to show that nothing changed.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use fake_github::FakeGitHub;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::sessions::{project_folder, SessionBuilder};
use super::{assert_no_token, TestEnv, TOKEN};

/// A machine with a Claude folder and a checkout of octo/app, talking to the fake.
pub struct Machine {
    pub env: TestEnv,
    pub api_url: String,
}

impl Machine {
    pub fn new(fake: &FakeGitHub, path: &str) -> Self {
        Machine {
            env: TestEnv::with_repo_path(path),
            api_url: fake.api_url(),
        }
    }

    pub fn project_dir(&self) -> PathBuf {
        project_folder(&self.env.claude_dir, &self.env.repo)
    }

    pub fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = self.env.ccsync();
        cmd.args(args)
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("CCSYNC_RETRY_BASE_MS", "1");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("ccsync runs");
        assert_no_token(&output);
        output
    }

    /// Every path below the Claude folder and the repository, with the bytes of each file.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        let mut out = BTreeMap::new();
        for root in [&self.env.claude_dir, &self.env.repo] {
            if root.exists() {
                snapshot_into(root, &mut out);
            }
        }
        out
    }
}

fn snapshot_into(dir: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.insert(path.clone(), None);
            snapshot_into(&path, out);
        } else {
            out.insert(path.clone(), Some(std::fs::read(&path).unwrap()));
        }
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(output)
    );
}

/// Archive entries: a raw name (a trailing `/` makes a folder) and the bytes of a file.
pub type Entries<'a> = Vec<(&'a str, Vec<u8>)>;

/// A gzip'd tar of `entries` (raw names, so `..` can be planted as an attacker would), and the
/// size of its tar stream.
pub fn tar_gz(entries: &[(&str, Vec<u8>)]) -> (Vec<u8>, u64) {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        let is_dir = name.ends_with('/');
        header.set_entry_type(if is_dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        header.set_size(data.len() as u64);
        header.set_mode(if is_dir { 0o755 } else { 0o644 });
        header.set_mtime(1_767_225_600);
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        tar.append(&header, &data[..]).unwrap();
    }
    let stream = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&stream).unwrap();
    (gz.finish().unwrap(), stream.len() as u64)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex_string(&Sha256::digest(data))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Metadata as ccsync writes it (DESIGN.md, "Archive and metadata") for `session` and `archive`.
pub fn metadata_for(session: &SessionBuilder, archive: &[u8], unpacked: u64, cwd: &str) -> Value {
    let chain: String = session.uuids.iter().map(|u| format!("{u}\n")).collect();
    json!({
        "format": 1,
        "sessionId": session.id,
        "gitBranch": "main",
        "repository": "octo/app",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "cwd": cwd,
        "repoRoot": cwd,
        "lastTimestamp": "2026-01-01T00:10:00.000Z",
        "records": session.line_count(),
        "lastUuid": session.uuids.last(),
        "claudeVersion": "2.1.197",
        "archive": {
            "name": format!("claude-session-{}.tar.gz", session.id),
            "size": archive.len(),
            "sha256": sha256_hex(archive),
            "encryption": "none"
        },
        "unpackedSize": unpacked,
        "pushedAt": "2026-01-02T00:00:00Z",
        "pushedFrom": {"host": "attacker", "os": "linux"},
        "tool": {"name": "ccsync", "version": "0.1.0"},
        "uuidCount": session.uuids.len(),
        "uuidChainSha256": sha256_hex(chain.as_bytes()),
    })
}

/// Seeds the draft release of `branch` with `archive` and `meta`, as someone with write access
/// could upload them.
pub fn plant(fake: &FakeGitHub, branch: &str, id: &str, archive: &[u8], meta: &Value) {
    let release = fake.seed_release("octo", "app", &format!("claude-sessions-{branch}"), true);
    let archive_name = meta["archive"]["name"].as_str().unwrap().to_owned();
    fake.seed_asset("octo", "app", release, &archive_name, archive, "uploaded");
    fake.seed_asset(
        "octo",
        "app",
        release,
        &format!("claude-session-metadata-{id}.json"),
        serde_json::to_string_pretty(meta).unwrap().as_bytes(),
        "uploaded",
    );
}

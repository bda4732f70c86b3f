//! Shared test support: a hermetic environment for running the `ccsync` binary the way users do,
//! and lookup of the external tools some tests need.
#![allow(dead_code)]

pub mod claude;
pub mod hostile;
pub mod machine;
pub mod sessions;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The token every test hands to ccsync. The harness asserts it never appears in any output.
pub const TOKEN: &str = "ghs_TESTTOKEN0never0printed0XYZ123456789";

/// Deletes a release asset through the fake's API, as a user or another tool would.
pub fn delete_asset(api_url: &str, asset_id: u64) {
    let url = format!("{api_url}/repos/octo/app/releases/assets/{asset_id}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let answer = reqwest::Client::new()
            .delete(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    });
}

/// A temporary home with a Claude folder and a git repository, and a way to run `ccsync` in it
/// with no `GITHUB_*` variable of the machine leaking in.
pub struct TestEnv {
    pub temp: tempfile::TempDir,
    /// `$HOME` of the simulated user.
    pub home: PathBuf,
    /// `$CLAUDE_CONFIG_DIR`.
    pub claude_dir: PathBuf,
    /// The git repository's root (symlinks resolved).
    pub repo: PathBuf,
}

impl TestEnv {
    /// A repository at `<temp>/work/app` on branch `main` with `origin` = github.com/octo/app.
    pub fn new() -> Self {
        Self::with_repo_path("work/app")
    }

    /// A repository at `<temp>/<relative>` (any depth, any characters the file system allows).
    pub fn with_repo_path(relative: &str) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let base = std::fs::canonicalize(temp.path()).expect("canonical temp");
        let home = base.join("home");
        let claude_dir = home.join(".claude");
        let repo = base.join(relative);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&repo).unwrap();
        let env = TestEnv {
            temp,
            home,
            claude_dir,
            repo,
        };
        env.git(["init", "-q", "-b", "main"]);
        env.git(["remote", "add", "origin", "https://github.com/octo/app.git"]);
        env.commit("init");
        env
    }

    /// An empty commit on the checked-out branch.
    pub fn commit(&self, message: &str) {
        self.git([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
        ]);
    }

    /// Runs git in the repository and panics on failure.
    pub fn git<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let output = std::process::Command::new("git")
            .args(args)
            .current_dir(&self.repo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &self.home)
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// `ccsync` in the repository root with a clean environment.
    pub fn ccsync(&self) -> assert_cmd::Command {
        self.ccsync_in(&self.repo)
    }

    /// `ccsync` in `folder` with a clean environment.
    pub fn ccsync_in(&self, folder: &Path) -> assert_cmd::Command {
        let cmd = assert_cmd::Command::cargo_bin("ccsync").expect("binary built");
        self.in_env(cmd, folder)
    }

    /// Another `ccsync` binary (an older release) in `folder`, with the same clean environment.
    pub fn ccsync_binary_in(&self, binary: &Path, folder: &Path) -> assert_cmd::Command {
        self.in_env(assert_cmd::Command::new(binary), folder)
    }

    fn in_env(&self, mut cmd: assert_cmd::Command, folder: &Path) -> assert_cmd::Command {
        cmd.current_dir(folder);
        hermetic(&mut cmd);
        cmd.env("HOME", &self.home)
            .env("USERPROFILE", &self.home)
            .env("LOCALAPPDATA", self.home.join("AppData/Local"))
            .env("CLAUDE_CONFIG_DIR", &self.claude_dir)
            .env("GIT_CONFIG_NOSYSTEM", "1");
        cmd
    }

    /// `<claude-dir>/projects`.
    pub fn projects(&self) -> PathBuf {
        self.claude_dir.join("projects")
    }
}

/// Removes every variable of the machine that would change what ccsync does.
pub fn hermetic(cmd: &mut assert_cmd::Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("GITHUB_")
            || key.starts_with("RUNNER_")
            || key.starts_with("CCSYNC_")
            || key.starts_with("CLAUDE_")
            || key.starts_with("ANTHROPIC_")
            || matches!(
                key.as_str(),
                "GH_TOKEN"
                    | "GH_HOST"
                    | "CI"
                    | "SESSION_ID"
                    | "HTTP_PROXY"
                    | "HTTPS_PROXY"
                    | "http_proxy"
                    | "https_proxy"
                    | "ALL_PROXY"
            )
        {
            cmd.env_remove(&key);
        }
    }
    // The facts cache and other per-user files go under the test's home, never the machine's.
    cmd.env_remove("XDG_CACHE_HOME");
    cmd.env("NO_PROXY", "127.0.0.1,localhost");
    // No `gh` credentials of the machine: tests hand the token explicitly.
    cmd.env("GH_CONFIG_DIR", "/nonexistent-ccsync-test");
}

/// Checks that no output of a run shows the test token. The one line allowed to hold it is the
/// runner's `::add-mask::` command, which the runner consumes and never displays.
pub fn assert_no_token(output: &Output) {
    for (name, stream) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(stream);
        let mask = format!("::add-mask::{TOKEN}");
        let leaked = text
            .lines()
            .any(|line| line != mask && line.contains(TOKEN));
        assert!(!leaked, "the token leaked into {name}:\n{text}");
    }
}

/// An external tool for a test: `Some(path)` if on PATH (or in the project's `.tools`). Outside CI a
/// missing tool skips the test with a message; in CI (`CI` set) it fails the test, since
/// `.ci/run` installs every tool.
pub fn tool(name: &str) -> Option<PathBuf> {
    let local = [
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".tools/bin")
            .join(name),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".tools/venv/bin")
            .join(name),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".tools/node_modules/.bin")
            .join(name),
    ];
    if let Some(found) = local.into_iter().find(|p| p.is_file()) {
        return Some(found);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Like [`tool`], but decides skip-or-fail: returns `None` (after saying so) only outside CI.
pub fn require_tool(name: &str, install_hint: &str) -> Option<PathBuf> {
    match tool(name) {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => {
            panic!("`{name}` is missing in CI: {install_hint} (scripts/install-test-tools)")
        }
        None => {
            eprintln!("skipped: `{name}` is not installed ({install_hint}; scripts/install-test-tools installs it)");
            None
        }
    }
}

/// `tar -xzf archive -C dest` with the system's tar (dest is created); `None` when tar is missing
/// outside CI (see [`require_tool`]).
pub fn system_untar(archive: &Path, dest: &Path) -> Option<std::process::ExitStatus> {
    let tar = require_tool("tar", "apt-get install tar")?;
    std::fs::create_dir_all(dest).unwrap();
    let status = std::process::Command::new(tar)
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(dest)
        .status()
        .unwrap();
    Some(status)
}

/// Every `.jsonl` file below `dir`, sorted (the corpus's transcripts and subagent files).
pub fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(jsonl_files(&path));
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The real transcripts of `../shared/corpus`, if present beside the project (never committed).
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CCSYNC_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.join("SOURCES.md").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: no corpus at {} (set CCSYNC_CORPUS)",
            dir.display()
        );
        None
    }
}

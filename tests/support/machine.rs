//! A machine for tests that run several `ccsync` processes against one fake GitHub: its own home,
//! Claude folder, temp folder (`TMPDIR`) and checkout of octo/app, and plain processes a test can
//! kill.

use std::path::{Path, PathBuf};
use std::process::Output;

use fake_github::FakeGitHub;
use serde_json::Value;

use super::sessions::project_folder;
use super::{assert_no_token, TestEnv, TOKEN};

/// A machine with its own home, Claude folder, temp folder and checkout of octo/app.
pub struct Machine {
    pub env: TestEnv,
    pub tmp: PathBuf,
}

impl Machine {
    pub fn new() -> Machine {
        let env = TestEnv::with_repo_path("work/app");
        let tmp = env.temp.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        Machine { env, tmp }
    }

    /// A machine holding `text` as session `id`.
    pub fn with_session(id: &str, text: &str) -> Machine {
        let machine = Machine::new();
        std::fs::create_dir_all(machine.project_dir()).unwrap();
        std::fs::write(machine.session_file(id), text).unwrap();
        machine
    }

    pub fn project_dir(&self) -> PathBuf {
        project_folder(&self.env.claude_dir, &self.env.repo)
    }

    pub fn session_file(&self, id: &str) -> PathBuf {
        self.project_dir().join(format!("{id}.jsonl"))
    }

    /// `ccsync` as a plain process (so a test can kill it), hermetic like `TestEnv::ccsync`.
    pub fn command(&self, fake: &FakeGitHub, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ccsync"));
        cmd.args(args)
            .current_dir(&self.env.repo)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.env.home)
            .env("CLAUDE_CONFIG_DIR", &self.env.claude_dir)
            .env("TMPDIR", &self.tmp)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("GH_CONFIG_DIR", "/nonexistent-ccsync-test")
            .env("GITHUB_API_URL", fake.api_url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("CCSYNC_RETRY_BASE_MS", "1")
            .stdin(std::process::Stdio::null());
        cmd
    }

    pub fn ccsync(&self, fake: &FakeGitHub, args: &[&str]) -> Output {
        let output = self.command(fake, args).output().expect("ccsync runs");
        assert_no_token(&output);
        output
    }

    /// `ccsync-run-*` folders left in this machine's temp folder.
    pub fn temp_leftovers(&self) -> Vec<String> {
        std::fs::read_dir(&self.tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("ccsync-"))
            .collect()
    }
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

pub fn text(output: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn assert_ok(output: &Output) {
    assert_eq!(code(output), 0, "{}", text(output));
}

pub fn uuids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| r["uuid"].as_str().map(str::to_owned))
        .collect()
}

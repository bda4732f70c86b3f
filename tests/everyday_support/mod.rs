//! Shared by the `everyday_*` tests: a laptop checkout of octo/app wired to a fake GitHub, with
//! helpers to write sessions, run ccsync and read its `--json`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;

use fake_github::{FakeGitHub, Options};
use serde_json::Value;

use crate::support::sessions::{project_folder, SessionBuilder};
use crate::support::{assert_no_token, TestEnv, TOKEN};

pub struct Laptop {
    pub fake: FakeGitHub,
    pub env: TestEnv,
}

impl Laptop {
    pub fn new() -> Laptop {
        let fake = FakeGitHub::start(Options::default());
        let env = TestEnv::with_repo_path("Users/me/src/app");
        Laptop { fake, env }
    }

    pub fn project_dir(&self) -> PathBuf {
        project_folder(&self.env.claude_dir, &self.env.repo)
    }

    /// A session of `branch` in the checkout, last activity around `at`, written to disk.
    pub fn session(&self, branch: &str, at: &str) -> SessionBuilder {
        let session = SessionBuilder::new(&self.env.repo)
            .branch(branch)
            .at(at)
            .turns(2);
        session.write_to(&self.project_dir());
        session
    }

    /// `ccsync` in the checkout with the fake's URL and the test token.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.env.ccsync();
        cmd.args(args)
            .env("GITHUB_API_URL", self.fake.api_url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("CCSYNC_RETRY_BASE_MS", "1");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run(self.cmd(args))
    }

    /// Runs with `--json`, asserts exit 0 and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let output = self.run(&all);
        assert_code(&output, 0);
        parse_json(&output)
    }

    /// Pushes session `id` to the release of `branch`.
    pub fn push(&self, branch: &str, id: &str) {
        let output = self.run(&["release-push", "--branch", branch, "--session", id]);
        assert_code(&output, 0);
    }

    /// Seeds a release through the fake's admin endpoint (which can set a body and publish).
    pub fn seed_release(&self, tag: &str, draft: bool, body: &str) -> u64 {
        let url = format!("{}/_fake/repos/octo/app/releases", self.fake.api_url());
        let payload =
            serde_json::json!({ "tag_name": tag, "draft": draft, "name": tag, "body": body });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let answer: Value = rt.block_on(async {
            reqwest::Client::new()
                .post(url)
                .json(&payload)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        answer["id"].as_u64().expect("seeded release has an id")
    }

    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .fake
            .releases("octo", "app")
            .into_iter()
            .map(|r| r.tag_name)
            .collect();
        tags.sort();
        tags
    }

    /// The stored metadata of session `id` in the fake.
    /// The stored metadata of session `id`: a chain's (`claude-session-chain-<id>.json`, while
    /// the stable name holds its signpost), else the stable metadata.
    pub fn stored_metadata(&self, id: &str) -> Option<Value> {
        let names = [
            format!("claude-session-chain-{id}.json"),
            format!("claude-session-metadata-{id}.json"),
        ];
        let releases = self.fake.releases("octo", "app");
        names.iter().find_map(|name| {
            releases
                .iter()
                .flat_map(|r| r.assets.iter())
                .find(|a| &a.name == name)
                .map(|a| serde_json::from_slice(&a.data).unwrap())
        })
    }
}

pub fn run(mut cmd: assert_cmd::Command) -> Output {
    let output = cmd.output().expect("ccsync runs");
    assert_no_token(&output);
    output
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stderr:\n{}\nstdout:\n{}",
        stderr(output),
        stdout(output)
    );
}

/// stdout as JSON: nothing else may be on it, in Actions either.
pub fn parse_json(output: &Output) -> Value {
    let text = stdout(output);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{text}"))
}

/// RFC 3339 text `days` days before now.
pub fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

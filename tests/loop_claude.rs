//! The whole loop with the real Claude Code CLI, offline: a real transcript with subagents is
//! pushed from a laptop home, restored into a runner home at another path with the `GITHUB_*`
//! environment of a real runner, resumed there by `claude -p --resume "$SESSION_ID"` against a fake
//! Messages API in a loopback-only network namespace, pushed back, restored on the laptop and
//! resumed there once more. On the pinned CLI (2.1.329) and the newest (2.1.332), which also runs
//! the runner's half with `CLAUDE_CODE_PROJECT_DIR_NAME` set.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use fake_github::{FakeGitHub, Options};
use serde_json::Value;
use support::claude::{self, ClaudeCli};
use support::{assert_no_token, TestEnv, TOKEN};

const SPOTTER_FOLDER: &str = "spotter/-home-USER-projects-spotter-worktrees-spotter-dov";
const SPOTTER_SESSION: &str = "4d5611e5-241a-462a-8d15-5122611a9569";
const SPOTTER_CWD: &str = "/home/USER/projects/spotter-worktrees/spotter-dov";

struct Home {
    env: TestEnv,
    api_url: String,
    runner_files: Option<PathBuf>,
    /// `CLAUDE_CODE_PROJECT_DIR_NAME` for ccsync and claude on this machine.
    project_dir_name: Option<&'static str>,
}

impl Home {
    fn project_dir(&self) -> PathBuf {
        let folder = match self.project_dir_name {
            Some(name) => name.to_owned(),
            None => claude::project_folder_name(&self.env.repo),
        };
        self.env.claude_dir.join("projects").join(folder)
    }

    fn session_file(&self) -> PathBuf {
        self.project_dir().join(format!("{SPOTTER_SESSION}.jsonl"))
    }

    fn ccsync(&self, args: &[&str]) -> Output {
        let mut cmd = self.env.ccsync();
        cmd.args(args)
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_TOKEN", TOKEN);
        if let Some(name) = self.project_dir_name {
            cmd.env("CLAUDE_CODE_PROJECT_DIR_NAME", name);
        }
        if let Some(files) = &self.runner_files {
            cmd.env("GITHUB_ACTIONS", "true")
                .env("CI", "true")
                .env("GITHUB_REPOSITORY", "octo/app")
                .env("GITHUB_REF_NAME", "main")
                .env("GITHUB_WORKSPACE", &self.env.repo)
                .env("GITHUB_ENV", files.join("env"))
                .env("GITHUB_OUTPUT", files.join("output"))
                .env("GITHUB_STEP_SUMMARY", files.join("summary"));
            if let Some(id) = self.exported_session_id() {
                cmd.env("SESSION_ID", id);
            }
        }
        let output = cmd.output().expect("ccsync runs");
        assert_no_token(&output);
        assert!(
            output.status.success(),
            "ccsync {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// `SESSION_ID` as a later workflow step would see it.
    fn exported_session_id(&self) -> Option<String> {
        let env = std::fs::read_to_string(self.runner_files.as_ref()?.join("env")).ok()?;
        env.lines()
            .find_map(|l| l.strip_prefix("SESSION_ID="))
            .map(str::to_owned)
    }

    fn resume(&self, cli: &ClaudeCli, session_id: &str, prompt: &str) -> claude::ResumeRun {
        claude::run_offline_in(
            cli,
            &self.env.home,
            &self.env.claude_dir,
            &self.env.repo,
            self.project_dir_name,
            &[
                "-p",
                "--output-format",
                "json",
                "--resume",
                session_id,
                prompt,
            ],
        )
    }
}

fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

/// The last prompt a person typed in a session file.
fn last_typed_prompt(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "user" && r["isMeta"] != true)
        .filter_map(|r| r["message"]["content"].as_str().map(str::to_owned))
        .find(|t| !t.starts_with('<') && t.len() > 10)
        .expect("a typed prompt")
}

#[test]
fn real_claude_resumes_a_session_carried_laptop_to_ci_and_back() {
    let Some(cli) = claude::claude_cli() else {
        return;
    };
    carry_loop(&cli, None);
}

#[test]
fn real_claude_2_1_332_resumes_a_session_carried_laptop_to_ci_and_back() {
    let Some(cli) = claude::claude_cli_newest() else {
        return;
    };
    carry_loop(&cli, None);
}

/// `CLAUDE_CODE_PROJECT_DIR_NAME` on the runner: restore installs into that folder, where 2.1.332
/// looks, and push finds the continuation there.
#[test]
fn real_claude_2_1_332_resumes_under_its_project_dir_name() {
    let Some(cli) = claude::claude_cli_newest() else {
        return;
    };
    carry_loop(&cli, Some("ci-sessions"));
}

fn carry_loop(cli: &ClaudeCli, runner_dir_name: Option<&'static str>) {
    if !claude::namespaces_available() {
        return;
    }
    let Some(corpus) = support::corpus_dir() else {
        return;
    };
    let fake = FakeGitHub::start(Options::default());

    let laptop = Home {
        env: TestEnv::with_repo_path("Users/me/src/spotter"),
        api_url: fake.api_url(),
        runner_files: None,
        project_dir_name: None,
    };
    let runner_env = TestEnv::with_repo_path("home/runner/work/spotter/spotter");
    let files = runner_env.temp.path().join("runner-files");
    std::fs::create_dir_all(&files).unwrap();
    let runner = Home {
        env: runner_env,
        api_url: fake.api_url(),
        runner_files: Some(files),
        project_dir_name: runner_dir_name,
    };

    // The real transcript as if recorded in the laptop's checkout.
    let origin = corpus.join(SPOTTER_FOLDER);
    let map = ccsync::bundle::PathMap::new(vec![(
        SPOTTER_CWD.into(),
        laptop.env.repo.to_string_lossy().into_owned(),
    )]);
    std::fs::create_dir_all(laptop.project_dir().join(SPOTTER_SESSION).join("subagents")).unwrap();
    for rel in [
        format!("{SPOTTER_SESSION}.jsonl"),
        format!("{SPOTTER_SESSION}/subagents/agent-a2898e3.jsonl"),
        format!("{SPOTTER_SESSION}/subagents/agent-acompact-e1f845.jsonl"),
    ] {
        let mut out = std::fs::File::create(laptop.project_dir().join(&rel)).unwrap();
        ccsync::bundle::rewrite::rewrite_file(&origin.join(&rel), &mut out, &map).unwrap();
    }
    let laptop_lines = line_count(&laptop.session_file());
    let typed = last_typed_prompt(&laptop.session_file());
    // The project's memory, which Claude Code reads at start (2.1.332 sends MEMORY.md to the model).
    let laptop_memory = laptop.project_dir().join("memory/MEMORY.md");
    std::fs::create_dir_all(laptop_memory.parent().unwrap()).unwrap();
    std::fs::write(
        &laptop_memory,
        "# Memory\n- The codename is BLUEBIRD-LAPTOP.\n",
    )
    .unwrap();
    let reads_memory = cli.version == claude::PINNED_NEWEST_VERSION;

    laptop.ccsync(&["release-push", "--session", SPOTTER_SESSION]);

    // CI: restore, then `claude --resume "$SESSION_ID"` in the workspace.
    runner.ccsync(&["release-restore"]);
    let session_id = runner.exported_session_id().expect("SESSION_ID exported");
    assert_eq!(session_id, SPOTTER_SESSION);
    assert!(runner
        .project_dir()
        .join(SPOTTER_SESSION)
        .join("subagents/agent-a2898e3.jsonl")
        .is_file());
    let runner_memory = runner.project_dir().join("memory/MEMORY.md");
    assert_eq!(
        std::fs::read_to_string(&runner_memory).unwrap(),
        std::fs::read_to_string(&laptop_memory).unwrap(),
        "the project memory travelled with the session"
    );
    let ci_prompt = "CI step: summarise what is left to do";
    let run = runner.resume(cli, &session_id, ci_prompt);
    assert_eq!(run.exit_code, 0, "{}", run.describe());
    if reads_memory {
        assert!(
            run.request_contains("BLUEBIRD-LAPTOP"),
            "the laptop's memory reached the model in CI: {}",
            run.describe()
        );
    }
    assert_eq!(
        run.session_id.as_deref(),
        Some(SPOTTER_SESSION),
        "{}",
        run.describe()
    );
    assert!(
        run.history_contains(&typed),
        "the restored history reached the model: {}",
        run.describe()
    );
    let ci_lines = line_count(&runner.session_file());
    assert!(
        ci_lines > laptop_lines,
        "claude appended to the restored file"
    );
    let appended: Vec<Value> = std::fs::read_to_string(runner.session_file())
        .unwrap()
        .lines()
        .skip(laptop_lines)
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        appended
            .iter()
            .any(|r| r["cwd"] == runner.env.repo.to_str().unwrap()),
        "new records carry the runner's cwd"
    );

    // What CI learned goes into the memory, and comes home with the continuation.
    let mut memory = std::fs::read_to_string(&runner_memory).unwrap();
    memory.push_str("- CI learned: the heron test is flaky (HERON-CI).\n");
    std::fs::write(&runner_memory, &memory).unwrap();

    // The last step of the workflow pushes the continuation back.
    runner.ccsync(&["release-push"]);

    // Home: the continuation comes back with laptop paths, and resumes.
    laptop.ccsync(&["release-restore"]);
    assert_eq!(line_count(&laptop.session_file()), ci_lines);
    let home_text = std::fs::read_to_string(laptop.session_file()).unwrap();
    assert!(
        !home_text.contains(runner.env.repo.to_str().unwrap()),
        "runner paths mapped back"
    );
    assert!(
        std::fs::read_to_string(&laptop_memory)
            .unwrap()
            .contains("HERON-CI"),
        "CI's memory came home"
    );
    let run = laptop.resume(cli, SPOTTER_SESSION, "back home: continue");
    assert_eq!(run.exit_code, 0, "{}", run.describe());
    if reads_memory {
        assert!(
            run.request_contains("HERON-CI"),
            "CI's memory reached the model at home: {}",
            run.describe()
        );
    }
    assert_eq!(run.session_id.as_deref(), Some(SPOTTER_SESSION));
    assert!(
        run.history_contains(ci_prompt),
        "the CI turn came home: {}",
        run.describe()
    );
}

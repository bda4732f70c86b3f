//! The loop, laptop -> CI -> laptop, through the `ccsync` binary against the fake GitHub: push,
//! restore at another path, continue, push back, restore home; every conflict case; dry runs,
//! `--keep`, nothing to restore, `--require`, read-only tokens and the exact `GITHUB_*` files.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use fake_github::{FakeGitHub, Options, Permission};
use serde_json::Value;
use support::sessions::{project_folder, SessionBuilder};
use support::{assert_no_token, TestEnv, TOKEN};

/// A machine: a home with a Claude folder and a checkout of octo/app at its own path.
struct Machine {
    env: TestEnv,
    api_url: String,
    /// Set for a GitHub Actions runner: the folder holding its `GITHUB_*` files.
    runner: Option<PathBuf>,
}

impl Machine {
    fn laptop(fake: &FakeGitHub) -> Machine {
        Machine {
            env: TestEnv::with_repo_path("Users/me/src/app"),
            api_url: fake.api_url(),
            runner: None,
        }
    }

    fn runner(fake: &FakeGitHub) -> Machine {
        let env = TestEnv::with_repo_path("home/runner/work/app/app");
        let files = env.temp.path().join("runner-files");
        std::fs::create_dir_all(&files).unwrap();
        Machine {
            env,
            api_url: fake.api_url(),
            runner: Some(files),
        }
    }

    fn project_dir(&self) -> PathBuf {
        project_folder(&self.env.claude_dir, &self.env.repo)
    }

    fn session_file(&self, id: &str) -> PathBuf {
        self.project_dir().join(format!("{id}.jsonl"))
    }

    /// Runs ccsync with the token and the fake's URL; on a runner, with the environment of a
    /// real GitHub Actions job on branch `main` (detached checkout).
    fn ccsync(&self, args: &[&str]) -> Output {
        let mut cmd = self.env.ccsync();
        cmd.args(args)
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("CCSYNC_RETRY_BASE_MS", "1");
        if let Some(files) = &self.runner {
            cmd.env("GITHUB_ACTIONS", "true")
                .env("CI", "true")
                .env("GITHUB_REPOSITORY", "octo/app")
                .env("GITHUB_REF_NAME", "main")
                .env("GITHUB_HEAD_REF", "")
                .env("GITHUB_WORKSPACE", &self.env.repo)
                .env("GITHUB_ENV", files.join("env"))
                .env("GITHUB_OUTPUT", files.join("output"))
                .env("GITHUB_STEP_SUMMARY", files.join("summary"));
        }
        let output = cmd.output().expect("ccsync runs");
        assert_no_token(&output);
        output
    }

    fn runner_file(&self, name: &str) -> String {
        std::fs::read_to_string(self.runner.as_ref().unwrap().join(name)).unwrap_or_default()
    }

    fn clear_runner_files(&self) {
        for name in ["env", "output", "summary"] {
            let _ = std::fs::remove_file(self.runner.as_ref().unwrap().join(name));
        }
    }
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_ok(output: &Output) {
    assert_eq!(
        code(output),
        0,
        "stderr:\n{}\nstdout:\n{}",
        stderr(output),
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Every line of a file as parsed JSON.
fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect()
}

fn uuids(path: &Path) -> Vec<String> {
    records(path)
        .iter()
        .filter_map(|r| r["uuid"].as_str().map(str::to_owned))
        .collect()
}

/// Appends records to a session the way `claude --resume` does: same id, new cwd. A runner's
/// checkout is a detached HEAD, which Claude Code records as the branch `HEAD`.
fn continue_session(file: &Path, id: &str, cwd: &Path, turns: usize, at: &str) {
    let on_runner = cwd.to_string_lossy().contains("/home/runner/");
    let branch = if on_runner { "HEAD" } else { "main" };
    let more = SessionBuilder::new(cwd)
        .id(id)
        .branch(branch)
        .at(at)
        .turns(turns);
    let mut text = std::fs::read_to_string(file).unwrap();
    text.push_str(&more.text());
    std::fs::write(file, text).unwrap();
}

fn session_assets(fake: &FakeGitHub) -> Vec<String> {
    let mut names: Vec<String> = fake
        .releases("octo", "app")
        .iter()
        .flat_map(|r| r.assets.iter().map(|a| a.name.clone()))
        .collect();
    names.sort();
    names
}

#[test]
fn laptop_to_ci_and_back_maps_paths_and_loses_nothing() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::laptop(&fake);
    let runner = Machine::runner(&fake);

    // A session on the laptop, with a mention of a look-alike sibling folder that must never change.
    let sibling = format!("{}-old/notes.md", laptop.env.repo.display());
    let session = SessionBuilder::new(&laptop.env.repo)
        .turns(3)
        .user(&format!(
            "compare {} with {sibling}",
            laptop.env.repo.join("src/main.rs").display()
        ))
        .trailing_metadata();
    let original = session.write_to(&laptop.project_dir());
    let side = session.write_side_folder_2_1(&laptop.project_dir(), "a1b2c3");
    let original_text = std::fs::read_to_string(&original).unwrap();

    assert_ok(&laptop.ccsync(&["release-push"]));
    let releases = fake.releases("octo", "app");
    assert_eq!(releases.len(), 1);
    let release = &releases[0];
    assert!(release.draft, "the session release stays a draft");
    assert_eq!(release.tag_name, "claude-sessions-main");
    assert!(
        release.body.as_deref().unwrap().contains(&session.id),
        "the body lists the session"
    );
    assert_eq!(
        session_assets(&fake),
        vec![
            format!("claude-session-{}.tar.gz", session.id),
            format!("claude-session-metadata-{}.json", session.id)
        ]
    );
    let meta_asset = release
        .assets
        .iter()
        .find(|a| a.name.ends_with(".json"))
        .unwrap();
    let meta: Value = serde_json::from_slice(&meta_asset.data).unwrap();
    assert_eq!(meta["format"], 1);
    assert_eq!(meta["sessionId"], session.id.as_str());
    assert_eq!(meta["gitBranch"], "main");
    assert_eq!(meta["repository"], "octo/app");
    assert_eq!(meta["repoRoot"], laptop.env.repo.to_str().unwrap());
    assert_eq!(meta["records"], session.line_count() as u64);
    assert_eq!(meta["lastUuid"], session.uuids.last().unwrap().as_str());
    assert_eq!(meta["archive"]["encryption"], "none");
    assert_eq!(
        std::fs::read_to_string(&original).unwrap(),
        original_text,
        "push never changes the local file"
    );

    // CI: restore into the runner's workspace, a different path.
    let restore = runner.ccsync(&["release-restore"]);
    assert_ok(&restore);
    let restored = runner.session_file(&session.id);
    assert!(
        restored.is_file(),
        "installed where `claude --resume` looks: {}",
        restored.display()
    );
    for rel in &side {
        assert!(
            runner.project_dir().join(rel).is_file(),
            "side file {} restored",
            rel.display()
        );
    }
    assert_eq!(
        runner.runner_file("env"),
        format!("SESSION_ID={}\nSESSION_RESTORED=true\n", session.id),
        "exact $GITHUB_ENV"
    );
    let output = runner.runner_file("output");
    assert!(
        output.contains(&format!("session-id={}\n", session.id)),
        "{output}"
    );
    assert!(output.contains("restored=true\n"), "{output}");
    assert!(
        output.contains(&format!("session-file={}\n", restored.display())),
        "{output}"
    );
    assert!(output.contains("release-url="), "{output}");
    assert!(runner.runner_file("summary").contains(&session.id));

    let ci_records = records(&restored);
    assert_eq!(
        ci_records.len(),
        session.line_count(),
        "every record restored"
    );
    assert_eq!(
        uuids(&restored),
        session.uuids,
        "same records in the same order"
    );
    let ci_text = std::fs::read_to_string(&restored).unwrap();
    assert!(
        !ci_text.contains(laptop.env.repo.join("src").to_str().unwrap()),
        "laptop paths mapped"
    );
    assert!(
        ci_text.contains(runner.env.repo.join("src/main.rs").to_str().unwrap()),
        "to the runner's root"
    );
    assert!(
        ci_text.contains(&sibling),
        "a look-alike sibling path is untouched"
    );
    assert!(!ci_text.contains("\": "), "compact JSON");
    assert!(ci_text.ends_with('\n'));
    for record in ci_records.iter().filter(|r| r.get("cwd").is_some()) {
        assert_eq!(record["cwd"], runner.env.repo.to_str().unwrap());
    }

    // CI continues the session (as `claude --resume` would) and pushes it back.
    continue_session(
        &restored,
        &session.id,
        &runner.env.repo,
        2,
        "2026-03-01T00:00:00Z",
    );
    runner.clear_runner_files();
    let push_back = runner.ccsync(&["release-push"]);
    assert_ok(&push_back);

    // Home again: the continuation comes back with laptop paths.
    assert_ok(&laptop.ccsync(&["release-restore"]));
    let home_uuids = uuids(&original);
    assert_eq!(home_uuids.len(), session.uuids.len() + 4);
    assert_eq!(&home_uuids[..session.uuids.len()], &session.uuids[..]);
    let home_text = std::fs::read_to_string(&original).unwrap();
    assert!(
        home_text.starts_with(&original_text),
        "the laptop's own records come back byte for byte"
    );
    assert!(
        !home_text.contains(runner.env.repo.to_str().unwrap()),
        "runner paths mapped back"
    );
    let last: Value = serde_json::from_str(home_text.lines().last().unwrap()).unwrap();
    assert_eq!(last["cwd"], laptop.env.repo.to_str().unwrap());

    // The session is still the branch's session on the laptop (CI recorded `HEAD`).
    let discover = laptop.ccsync(&["discover"]);
    assert_ok(&discover);
    assert_eq!(String::from_utf8_lossy(&discover.stdout).trim(), session.id);

    // And pushing from the laptop now has nothing to do.
    let again = laptop.ccsync(&["release-push"]);
    assert_ok(&again);
    assert!(stderr(&again).contains("up to date"), "{}", stderr(&again));
}

/// A laptop session pushed, restored on a runner, continued there and pushed back: the release is
/// now ahead of the laptop. Returns the laptop, its session and the session's file.
fn release_ahead_of_laptop(fake: &FakeGitHub) -> (Machine, SessionBuilder, PathBuf) {
    let laptop = Machine::laptop(fake);
    let other = Machine::runner(fake);
    let session = SessionBuilder::new(&laptop.env.repo).turns(2);
    let file = session.write_to(&laptop.project_dir());
    assert_ok(&laptop.ccsync(&["release-push"]));
    assert_ok(&other.ccsync(&["release-restore"]));
    continue_session(
        &other.session_file(&session.id),
        &session.id,
        &other.env.repo,
        1,
        "2026-02-01T00:00:00Z",
    );
    assert_ok(&other.ccsync(&["release-push"]));
    (laptop, session, file)
}

#[test]
fn push_conflicts_follow_the_uuid_rule() {
    let fake = FakeGitHub::start(Options::default());
    let (laptop, session, file) = release_ahead_of_laptop(&fake);

    let behind = laptop.ccsync(&["release-push"]);
    assert_eq!(code(&behind), 4, "{}", stderr(&behind));
    assert!(
        stderr(&behind).contains("release-restore"),
        "says what to do: {}",
        stderr(&behind)
    );

    // The laptop also continued on its own: diverged.
    continue_session(
        &file,
        &session.id,
        &laptop.env.repo,
        1,
        "2026-02-02T00:00:00Z",
    );
    let diverged = laptop.ccsync(&["release-push"]);
    assert_eq!(code(&diverged), 4);
    assert!(
        stderr(&diverged).contains("diverged"),
        "{}",
        stderr(&diverged)
    );
    let restore = laptop.ccsync(&["release-restore"]);
    assert_eq!(
        code(&restore),
        4,
        "restore refuses a diverged copy: {}",
        stderr(&restore)
    );

    // --force on restore keeps the laptop's copy as a backup and installs the stored one.
    let before = std::fs::read_to_string(&file).unwrap();
    assert_ok(&laptop.ccsync(&["release-restore", "--force"]));
    let backups: Vec<_> = std::fs::read_dir(laptop.project_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("ccsync-backup"))
        .collect();
    assert_eq!(backups.len(), 1, "one backup beside the session");
    assert_eq!(
        std::fs::read_to_string(laptop.project_dir().join(&backups[0])).unwrap(),
        before
    );

    // Local ahead: restore keeps it; push uploads it.
    continue_session(
        &file,
        &session.id,
        &laptop.env.repo,
        1,
        "2026-02-03T00:00:00Z",
    );
    let keep = laptop.ccsync(&["release-restore"]);
    assert_ok(&keep);
    assert!(
        stderr(&keep).contains("kept the local copy"),
        "{}",
        stderr(&keep)
    );
    assert_ok(&laptop.ccsync(&["release-push"]));
}

#[test]
fn push_force_replaces_a_diverged_copy() {
    let fake = FakeGitHub::start(Options::default());
    let (laptop, session, file) = release_ahead_of_laptop(&fake);
    continue_session(
        &file,
        &session.id,
        &laptop.env.repo,
        1,
        "2026-02-02T00:00:00Z",
    );

    assert_ok(&laptop.ccsync(&["release-push", "--force"]));
    // The release now holds exactly the laptop's records.
    let fresh = Machine::runner(&fake);
    assert_ok(&fresh.ccsync(&["release-restore"]));
    assert_eq!(uuids(&fresh.session_file(&session.id)), uuids(&file));
}

#[test]
fn dry_run_changes_nothing() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::laptop(&fake);
    SessionBuilder::new(&laptop.env.repo)
        .turns(1)
        .write_to(&laptop.project_dir());
    let output = laptop.ccsync(&["release-push", "--dry-run"]);
    assert_ok(&output);
    assert!(stderr(&output).contains("dry run"), "{}", stderr(&output));
    assert!(
        fake.releases("octo", "app").is_empty(),
        "no release created"
    );
}

#[test]
fn keep_drops_the_oldest_sessions_after_the_upload() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::laptop(&fake);
    let mut ids = Vec::new();
    for (i, day) in ["2026-01-01", "2026-01-02", "2026-01-03"]
        .iter()
        .enumerate()
    {
        let s = SessionBuilder::new(&laptop.env.repo)
            .at(&format!("{day}T00:00:00Z"))
            .turns(i + 1);
        s.write_to(&laptop.project_dir());
        assert_ok(&laptop.ccsync(&["release-push", "--session", &s.id, "--keep", "2"]));
        ids.push(s.id.clone());
    }
    let names = session_assets(&fake);
    assert_eq!(names.len(), 4, "two sessions kept: {names:?}");
    assert!(
        !names.iter().any(|n| n.contains(&ids[0])),
        "the oldest went: {names:?}"
    );
    assert!(names.iter().any(|n| n.contains(&ids[2])));
    let body = fake.releases("octo", "app")[0].body.clone().unwrap();
    assert!(
        body.contains(&ids[1]) && body.contains(&ids[2]) && !body.contains(&ids[0]),
        "{body}"
    );
}

#[test]
fn nothing_to_restore_is_a_notice_unless_required() {
    let fake = FakeGitHub::start(Options::default());
    let runner = Machine::runner(&fake);
    let output = runner.ccsync(&["release-restore"]);
    assert_ok(&output);
    assert!(
        stderr(&output).contains("::notice::"),
        "{}",
        stderr(&output)
    );
    assert_eq!(runner.runner_file("env"), "SESSION_RESTORED=false\n");
    assert!(runner.runner_file("output").contains("restored=false\n"));

    runner.clear_runner_files();
    let required = runner.ccsync(&["release-restore", "--require"]);
    assert_eq!(code(&required), 3, "{}", stderr(&required));
}

#[test]
fn read_only_tokens_say_so_and_exit_zero() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::laptop(&fake);
    SessionBuilder::new(&laptop.env.repo)
        .turns(1)
        .write_to(&laptop.project_dir());
    assert_ok(&laptop.ccsync(&["release-push"]));

    fake.set_token(TOKEN, Permission::Read);
    let runner = Machine::runner(&fake);
    let output = runner.ccsync(&["release-restore"]);
    assert_ok(&output);
    assert!(stderr(&output).contains("read-only"), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("contents: write"),
        "{}",
        stderr(&output)
    );
    assert_eq!(runner.runner_file("env"), "SESSION_RESTORED=false\n");
}

#[test]
fn push_without_a_session_exits_3() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::laptop(&fake);
    let output = laptop.ccsync(&["release-push"]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no session"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn ci_push_takes_session_id_from_the_environment() {
    let fake = FakeGitHub::start(Options::default());
    let runner = Machine::runner(&fake);
    // Two sessions in the workspace, recorded on a detached HEAD; SESSION_ID names the older one.
    let older = SessionBuilder::new(&runner.env.repo)
        .branch("HEAD")
        .at("2026-01-01T00:00:00Z")
        .turns(1);
    let newer = SessionBuilder::new(&runner.env.repo)
        .branch("HEAD")
        .at("2026-02-01T00:00:00Z")
        .turns(1);
    older.write_to(&runner.project_dir());
    newer.write_to(&runner.project_dir());
    let mut cmd = runner.env.ccsync();
    cmd.args(["release-push"])
        .env("GITHUB_API_URL", &runner.api_url)
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "octo/app")
        .env("GITHUB_REF_NAME", "main")
        .env("SESSION_ID", &older.id);
    let output = cmd.output().unwrap();
    assert_no_token(&output);
    assert_ok(&output);
    let names = session_assets(&fake);
    assert!(names.iter().any(|n| n.contains(&older.id)), "{names:?}");
    assert!(!names.iter().any(|n| n.contains(&newer.id)), "{names:?}");

    // Without SESSION_ID: the newest session of the workspace, whatever its recorded branch.
    let mut cmd = runner.env.ccsync();
    cmd.args(["release-push"])
        .env("GITHUB_API_URL", &runner.api_url)
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "octo/app")
        .env("GITHUB_REF_NAME", "main");
    assert_ok(&cmd.output().unwrap());
    assert!(session_assets(&fake).iter().any(|n| n.contains(&newer.id)));
}

#[test]
fn agent_files_of_claude_2_0_travel_with_their_session() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::laptop(&fake);
    let runner = Machine::runner(&fake);
    let session = SessionBuilder::new(&laptop.env.repo)
        .version("2.0.77")
        .turns(1);
    session.write_to(&laptop.project_dir());
    session.write_agent_2_0(&laptop.project_dir(), "1a2b3c4d", "main");
    // Another session's agent file must stay behind.
    let stranger = SessionBuilder::new(&laptop.env.repo)
        .version("2.0.77")
        .at("2025-01-01T00:00:00Z")
        .turns(1);
    stranger.write_agent_2_0(&laptop.project_dir(), "9f9f9f9f", "main");

    assert_ok(&laptop.ccsync(&["release-push", "--session", &session.id]));
    assert_ok(&runner.ccsync(&["release-restore"]));
    assert!(runner.project_dir().join("agent-1a2b3c4d.jsonl").is_file());
    assert!(!runner.project_dir().join("agent-9f9f9f9f.jsonl").exists());
}

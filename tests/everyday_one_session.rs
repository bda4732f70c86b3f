//! One stored session, wherever it is: `ccsync release-prune --session ID` removes it (metadata
//! first, then its archive, and its row of the body) from whichever branch's release holds it, the
//! others stay; `ccsync release-restore --session ID` finds it in another branch's release when the
//! current branch's does not hold it, and says which.

mod support;

use fake_github::{FakeGitHub, Options};
use serde_json::Value;
use support::sessions::{project_folder, SessionBuilder};
use support::{assert_no_token, TestEnv, TOKEN};

fn ccsync(env: &TestEnv, fake: &FakeGitHub, args: &[&str]) -> std::process::Output {
    let mut cmd = env.ccsync();
    cmd.args(args)
        .env("GITHUB_API_URL", fake.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("CCSYNC_RETRY_BASE_MS", "1");
    let output = cmd.output().unwrap();
    assert_no_token(&output);
    output
}

/// Runs a `--json` command that must succeed and reads its answer.
fn ccsync_json(env: &TestEnv, fake: &FakeGitHub, args: &[&str]) -> Value {
    let out = ccsync(env, fake, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn session_assets(fake: &FakeGitHub) -> Vec<String> {
    fake.releases("octo", "app")
        .iter()
        .flat_map(|r| r.assets.iter().map(|a| a.name.clone()))
        .collect()
}

#[test]
fn one_stored_session_is_removed_and_the_others_stay() {
    let fake = FakeGitHub::start(Options::default());
    let env = TestEnv::new();
    let project = project_folder(&env.claude_dir, &env.repo);
    let gone = SessionBuilder::new(&env.repo)
        .at("2026-01-01T00:00:00Z")
        .turns(2);
    let stays = SessionBuilder::new(&env.repo)
        .at("2026-01-02T00:00:00Z")
        .turns(2);
    for s in [&gone, &stays] {
        s.write_to(&project);
        let out = ccsync(&env, &fake, &["release-push", "--session", &s.id]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A dry run names the assets and deletes nothing.
    let json = ccsync_json(
        &env,
        &fake,
        &[
            "--json",
            "release-prune",
            "--session",
            &gone.id,
            "--dry-run",
        ],
    );
    assert_eq!(json["dryRun"], true);
    assert_eq!(json["branch"], "main");
    assert_eq!(json["assets"].as_array().unwrap().len(), 2, "{json}");
    assert_eq!(session_assets(&fake).len(), 4);

    let json = ccsync_json(
        &env,
        &fake,
        &["--json", "release-prune", "--session", &gone.id, "--yes"],
    );
    assert_eq!(json["sessionId"], gone.id.as_str());
    assert_eq!(json["tag"], "claude-sessions-main");
    assert_eq!(
        json["assets"][0],
        format!("claude-session-metadata-{}.json", gone.id),
        "metadata first"
    );
    let names = session_assets(&fake);
    assert!(!names.iter().any(|n| n.contains(&gone.id)), "{names:?}");
    assert_eq!(
        names.iter().filter(|n| n.contains(&stays.id)).count(),
        2,
        "{names:?}"
    );
    let body = fake.releases("octo", "app")[0]
        .body
        .clone()
        .unwrap_or_default();
    assert!(
        !body.contains(&gone.id) && body.contains(&stays.id),
        "{body}"
    );

    // The other session still restores; the removed one is nothing found (exit 3).
    let out = ccsync(
        &env,
        &fake,
        &["release-prune", "--session", &gone.id, "--yes"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no branch's release holds session"));
    let out = ccsync(&env, &fake, &["release-prune", "--session", "not-a-uuid"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn restore_finds_a_session_in_another_branchs_release() {
    let fake = FakeGitHub::start(Options::default());
    let env = TestEnv::new();
    let project = project_folder(&env.claude_dir, &env.repo);
    let session = SessionBuilder::new(&env.repo).branch("feature/x").turns(2);
    session.write_to(&project);
    let out = ccsync(
        &env,
        &fake,
        &[
            "release-push",
            "--branch",
            "feature/x",
            "--session",
            &session.id,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // main has a release too, without that session.
    let other = SessionBuilder::new(&env.repo).turns(1);
    other.write_to(&project);
    let out = ccsync(
        &env,
        &fake,
        &["release-push", "--branch", "main", "--session", &other.id],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Another machine on main.
    let laptop = TestEnv::new();
    let out = ccsync(
        &laptop,
        &fake,
        &["--json", "release-restore", "--session", &session.id],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["action"], "installed", "{json}");
    assert_eq!(json["branch"], "main");
    assert_eq!(json["releaseBranch"], "feature/x", "{json}");
    assert!(
        stderr.contains("from the release of branch `feature/x`"),
        "{stderr}"
    );
    let installed =
        project_folder(&laptop.claude_dir, &laptop.repo).join(format!("{}.jsonl", session.id));
    assert!(installed.is_file());

    // A session no release holds: nothing found.
    let out = ccsync(
        &laptop,
        &fake,
        &["release-restore", "--session", &support::sessions::new_id()],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// On a terminal, prune shows what it will delete and asks; `--yes` does not ask. (`script` gives
/// the command a terminal.)
#[test]
fn prune_asks_on_a_terminal() {
    let Some(script) = support::require_tool("script", "apt-get install bsdutils") else {
        return;
    };
    let fake = FakeGitHub::start(Options::default());
    let env = TestEnv::new();
    let session = SessionBuilder::new(&env.repo).turns(2);
    session.write_to(&project_folder(&env.claude_dir, &env.repo));
    let out = ccsync(&env, &fake, &["release-push"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let on_terminal = |answer: &str, extra: &str| {
        let command = format!(
            "{} release-prune --session {} {extra}",
            env!("CARGO_BIN_EXE_ccsync"),
            session.id
        );
        let mut child = std::process::Command::new(&script)
            .args(["-qec", &command, "/dev/null"])
            .current_dir(&env.repo)
            .env("HOME", &env.home)
            .env("CLAUDE_CONFIG_DIR", &env.claude_dir)
            .env("GITHUB_API_URL", fake.api_url())
            .env("GITHUB_TOKEN", TOKEN)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_REPOSITORY")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_no_token(&out);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code(),
        )
    };
    let (shown, code) = on_terminal("n\n", "");
    assert!(shown.contains("Delete? [y/N]"), "{shown}");
    assert!(
        shown.contains(&format!("claude-session-metadata-{}.json", session.id)),
        "{shown}"
    );
    // Answering no is the user's choice: exit 0, "nothing deleted".
    assert!(shown.contains("nothing deleted"), "{shown}");
    assert!(!shown.contains("error"), "{shown}");
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(session_assets(&fake).len(), 2, "nothing deleted");
    let (shown, _) = on_terminal("", "--yes");
    assert!(!shown.contains("Delete? [y/N]"), "{shown}");
    assert!(session_assets(&fake).is_empty(), "{shown}");
}

/// `release-show --session ID`: the stored session's facts without installing anything.
#[test]
fn show_tells_a_stored_sessions_facts_without_installing() {
    let fake = FakeGitHub::start(Options::default());
    let env = TestEnv::new();
    let session = SessionBuilder::new(&env.repo).branch("feature/y").turns(3);
    session.write_to(&project_folder(&env.claude_dir, &env.repo));
    let out = ccsync(
        &env,
        &fake,
        &[
            "release-push",
            "--branch",
            "feature/y",
            "--session",
            &session.id,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let other = TestEnv::new();
    let json = ccsync_json(
        &other,
        &fake,
        &["--json", "release-show", "--session", &session.id],
    );
    assert_eq!(json["sessionId"], session.id.as_str());
    assert_eq!(json["branch"], "feature/y");
    assert_eq!(json["records"], session.line_count() as u64, "{json}");
    assert_eq!(json["encryption"], "none");
    assert!(json["archiveSize"].as_u64().unwrap() > 0);
    assert!(
        json["lastActivity"]
            .as_str()
            .unwrap()
            .starts_with("2026-01-01T00:"),
        "{json}"
    );
    // One shape per concept: as in `release-list --json`.
    assert!(json["pushedFrom"]["host"].as_str().is_some(), "{json}");
    assert!(json["pushedFrom"]["os"].as_str().is_some(), "{json}");
    assert_eq!(json["storedIn"], serde_json::json!(["feature/y"]));
    assert!(
        !project_folder(&other.claude_dir, &other.repo).exists(),
        "nothing installed"
    );
    let out = ccsync(&other, &fake, &["release-show", "--session", &session.id]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("records: ") && shown.contains("encryption: none"),
        "{shown}"
    );
    let out = ccsync(
        &other,
        &fake,
        &["release-show", "--session", &support::sessions::new_id()],
    );
    assert_eq!(out.status.code(), Some(3));
}

/// `release-export --session ID --output DIR`: the session's files, verified, in a new folder;
/// nothing installed, and an existing folder is never written into.
#[test]
fn export_unpacks_a_stored_session_into_a_new_folder() {
    let fake = FakeGitHub::start(Options::default());
    let env = TestEnv::new();
    let session = SessionBuilder::new(&env.repo).turns(3);
    let original = session.write_to(&project_folder(&env.claude_dir, &env.repo));
    let out = ccsync(&env, &fake, &["release-push"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let other = TestEnv::new();
    let target = other.temp.path().join("exported");
    let json = ccsync_json(
        &other,
        &fake,
        &[
            "--json",
            "release-export",
            "--session",
            &session.id,
            "--output",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(json["sessionId"], session.id.as_str());
    let file = target.join(format!("{}.jsonl", session.id));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(&original).unwrap(),
        "the stored bytes, as pushed"
    );
    assert!(
        !project_folder(&other.claude_dir, &other.repo).exists(),
        "nothing installed"
    );

    let out = ccsync(
        &other,
        &fake,
        &[
            "release-export",
            "--session",
            &session.id,
            "--output",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "an existing folder is refused");
}

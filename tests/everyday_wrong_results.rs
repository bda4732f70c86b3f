//! Wrong results found when ccsync was tried as a new user would, each pinned at the binary level:
//! which stored session is "newest", what may be pushed, which `origin` counts as GitHub, what a
//! wrong `--repo` or `--since` reports, the exit codes of restore, where a session started in a
//! subfolder comes home, and output into a closed pipe.

mod everyday_support;
mod support;

use everyday_support::{assert_code, parse_json, stderr, Laptop};
use fake_github::{Fault, FaultKind};
use serde_json::json;
use support::sessions::{project_folder, SessionBuilder};

/// A chain record with a uuid but no timestamp (and no branch): real activity unknown.
fn undated_record(id: &str, cwd: &std::path::Path) -> String {
    json!({"type": "user", "uuid": uuid::Uuid::new_v4().to_string(), "parentUuid": null,
           "sessionId": id, "cwd": cwd, "message": {"role": "user", "content": "hello"}})
    .to_string()
}

#[test]
fn restore_prefers_a_session_with_activity_over_one_without_timestamps() {
    let laptop = Laptop::new();
    let dated = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &dated.id);
    // Pushed later, so its push time is newer, but it records no activity time at all.
    let undated = SessionBuilder::new(&laptop.env.repo);
    let undated_id = undated.id.clone();
    let undated = undated.raw(&undated_record(&undated_id, &laptop.env.repo));
    undated.write_to(&laptop.project_dir());
    laptop.push("main", &undated_id);

    // A second machine on the same fake.
    let second = support::TestEnv::with_repo_path("Users/other/app");
    let output = second
        .ccsync()
        .args(["release-restore", "--branch", "main", "--json"])
        .env("GITHUB_API_URL", laptop.fake.api_url())
        .env("GITHUB_TOKEN", support::TOKEN)
        .output()
        .unwrap();
    assert_code(&output, 0);
    assert_eq!(parse_json(&output)["sessionId"], dated.id.as_str());
}

#[test]
fn pushing_an_empty_or_metadata_only_session_is_refused() {
    let laptop = Laptop::new();
    let empty = SessionBuilder::new(&laptop.env.repo);
    empty.write_to(&laptop.project_dir());
    let output = laptop.run(&["release-push", "--session", &empty.id]);
    assert_code(&output, 3);
    assert!(stderr(&output).contains("empty"), "{}", stderr(&output));

    let meta_only = SessionBuilder::new(&laptop.env.repo)
        .metadata("summary")
        .metadata("last-prompt");
    meta_only.write_to(&laptop.project_dir());
    let output = laptop.run(&["release-push", "--session", &meta_only.id]);
    assert_code(&output, 3);
    let err = stderr(&output);
    assert!(
        err.contains("no conversation") && err.contains("2 metadata records"),
        "{err}"
    );
    assert!(laptop.tags().is_empty(), "nothing was uploaded");
}

#[test]
fn only_github_remotes_name_the_repository() {
    let laptop = Laptop::new();
    for url in [
        "https://gitlab.com/octo/app.git",
        "git@bitbucket.org:octo/app.git",
        "https://github.com.evil.com/octo/app.git",
    ] {
        laptop.env.git(["remote", "set-url", "origin", url]);
        let output = laptop.run(&["release-list"]);
        assert_code(&output, 2);
        let err = stderr(&output);
        assert!(
            err.contains("--repo") && err.contains("not a GitHub"),
            "{url}: {err}"
        );
        assert!(
            laptop.fake.requests().is_empty(),
            "{url}: nothing may be sent"
        );
    }
    // The host of --api-url counts (a GitHub Enterprise Server's remotes).
    let api = url::Url::parse(&laptop.fake.api_url()).unwrap();
    laptop.env.git([
        "remote",
        "set-url",
        "origin",
        &format!("https://{}/octo/app.git", api.host_str().unwrap()),
    ]);
    assert_code(&laptop.run(&["release-list"]), 0);
    // So does github.com, and an explicit --repo whatever the remote.
    laptop.env.git([
        "remote",
        "set-url",
        "origin",
        "https://gitlab.com/octo/app.git",
    ]);
    assert_code(&laptop.run(&["release-list", "--repo", "octo/app"]), 0);
}

#[test]
fn a_wrong_repo_is_not_a_push_under_way() {
    let laptop = Laptop::new();
    // The fake creates repositories on first use; GitHub answers a repository that does not
    // exist with GraphQL errors (the lookup then lists releases) and a 404 for the listing.
    laptop.fake.add_fault(
        Fault::new("POST", "/graphql", FaultKind::Status)
            .status(404)
            .times(10),
    );
    laptop.fake.add_fault(
        Fault::new("GET", "/repos/octo/nope/releases", FaultKind::Status)
            .status(404)
            .times(10),
    );
    let output = laptop.run(&["release-restore", "--repo", "octo/nope", "--branch", "main"]);
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(!err.contains("push under way"), "{err}");
    assert!(err.contains("octo/nope"), "{err}");
}

#[test]
fn since_counts_the_sessions_of_other_branches_right() {
    let laptop = Laptop::new();
    laptop.session("main", "2020-01-01T10:00:00Z");
    laptop.session("main", "2020-01-02T10:00:00Z");
    laptop.session("feature/a", "2026-01-01T10:00:00Z");
    let output = laptop.run(&["release-push", "--branch", "main", "--since", "3"]);
    assert_code(&output, 3);
    let err = stderr(&output);
    assert!(
        err.contains("2 sessions of branch `main` are older"),
        "{err}"
    );
    assert!(
        err.contains("1 session of this repository is on other branches"),
        "{err}"
    );
}

#[test]
fn restore_exit_codes_follow_the_design() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &session.id);

    // An unknown --session: nothing found, exit 3.
    let unknown = uuid::Uuid::new_v4().to_string();
    let output = laptop.run(&["release-restore", "--session", &unknown]);
    assert_code(&output, 3);
    assert!(stderr(&output).contains(&unknown));

    // A --cwd that does not exist: usage, exit 2.
    let output = laptop.run(&["release-restore", "--cwd", "/no/such/folder/here"]);
    assert_code(&output, 2);
    assert!(stderr(&output).contains("--cwd"));

    // A release whose only session has unreadable metadata: bad data, exit 1, said so.
    let id = uuid::Uuid::new_v4().to_string();
    let release = laptop.seed_release(
        "claude-sessions-broken",
        true,
        "<!-- ccsync:session-release -->",
    );
    laptop.fake.seed_asset(
        "octo",
        "app",
        release,
        &format!("claude-session-metadata-{id}.json"),
        b"{ not json",
        "uploaded",
    );
    laptop.fake.seed_asset(
        "octo",
        "app",
        release,
        &format!("claude-session-{id}.tar.gz"),
        b"not a tarball",
        "uploaded",
    );
    let output = laptop.run(&["release-restore", "--branch", "broken"]);
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("metadata cannot be read"), "{err}");
    assert!(!err.contains("nothing to restore"), "{err}");
}

#[test]
fn restore_updates_the_copy_of_a_session_started_in_a_subfolder() {
    let laptop = Laptop::new();
    let sub = laptop.env.repo.join("crates/core");
    std::fs::create_dir_all(&sub).unwrap();
    let sub_project = project_folder(&laptop.env.claude_dir, &sub);
    let session = SessionBuilder::new(&sub).turns(2);
    session.write_to(&sub_project);
    laptop.push("main", &session.id);

    // CI continued it at the repository root (another machine's path); it comes back here.
    let ci_root = std::path::Path::new("/home/runner/work/app/app");
    let mut stored = laptop.stored_metadata(&session.id).unwrap();
    let more = SessionBuilder::new(ci_root)
        .id(&session.id)
        .branch("HEAD")
        .at("2026-06-01T00:00:00Z")
        .turns(1);
    let ci = support::TestEnv::with_repo_path("runner/app");
    let ci_project = project_folder(&ci.claude_dir, &ci.repo);
    let restored = ci
        .ccsync()
        .args(["release-restore", "--branch", "main"])
        .env("GITHUB_API_URL", laptop.fake.api_url())
        .env("GITHUB_TOKEN", support::TOKEN)
        .output()
        .unwrap();
    assert_code(&restored, 0);
    let ci_file = ci_project.join(format!("{}.jsonl", session.id));
    let mut text = std::fs::read_to_string(&ci_file).unwrap();
    text.push_str(&more.text());
    std::fs::write(&ci_file, text).unwrap();
    let pushed = ci
        .ccsync()
        .args(["release-push", "--branch", "main", "--session", &session.id])
        .env("GITHUB_API_URL", laptop.fake.api_url())
        .env("GITHUB_TOKEN", support::TOKEN)
        .output()
        .unwrap();
    assert_code(&pushed, 0);
    stored = laptop.stored_metadata(&session.id).unwrap_or(stored);
    assert_eq!(
        stored["records"],
        (session.line_count() + more.line_count()) as u64
    );

    // Restored from the repository root: the subfolder's copy is brought up to date, no second
    // copy appears in the root's project folder.
    let output = laptop.run(&["release-restore", "--branch", "main"]);
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(err.contains(&sub_project.display().to_string()), "{err}");
    let root_copy = laptop.project_dir().join(format!("{}.jsonl", session.id));
    assert!(
        !root_copy.exists(),
        "a second copy appeared in {}",
        root_copy.display()
    );
    let lines = std::fs::read_to_string(sub_project.join(format!("{}.jsonl", session.id)))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, session.line_count() + more.line_count());

    // With --cwd the user chooses: the root gets its own copy.
    let output = laptop.run(&[
        "release-restore",
        "--branch",
        "main",
        "--cwd",
        laptop.env.repo.to_str().unwrap(),
    ]);
    assert_code(&output, 0);
    assert!(root_copy.is_file());
}

#[test]
fn one_record_is_one_record() {
    let laptop = Laptop::new();
    let session = SessionBuilder::new(&laptop.env.repo).user("just one");
    session.write_to(&laptop.project_dir());
    let output = laptop.run(&["release-push", "--session", &session.id]);
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(err.contains("(1 record,"), "{err}");
}

/// Output into a pipe whose reader is gone (`ccsync ... | head`): no "Broken pipe" error, no panic.
#[cfg(unix)]
#[test]
fn a_closed_pipe_is_no_error() {
    let laptop = Laptop::new();
    for n in 0..3 {
        laptop.session("main", &format!("2026-03-0{}T10:00:00Z", n + 1));
    }
    for args in [
        &["completions", "fish"][..],
        &["completions", "bash"],
        &["sessions"],
        &["sessions", "--json"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_ccsync"))
            .args(args)
            .current_dir(&laptop.env.repo)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &laptop.env.home)
            .env("CLAUDE_CONFIG_DIR", &laptop.env.claude_dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("ccsync runs");
        let err = stderr(&output);
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
        assert_eq!(output.status.code(), Some(0), "{args:?}: {err}");
    }
}

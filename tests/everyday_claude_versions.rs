//! Exact with the newest Claude Code: the metadata records the highest `version` in a session and
//! whether it holds `progress` records; restore warns when the `claude` that will run is older;
//! `CLAUDE_CODE_PROJECT_DIR_NAME` (with `CLAUDE_CONFIG_DIR`, valid names only) decides the project
//! folder as it does for Claude Code 2.1.x.
#![cfg(unix)]

mod everyday_support;
mod support;

use std::path::{Path, PathBuf};

use everyday_support::{assert_code, parse_json, stderr, stdout, Laptop};
use serde_json::json;
use support::sessions::SessionBuilder;

/// A stand-in `claude` whose `--version` prints `version`.
fn claude_printing(dir: &Path, version: &str) -> PathBuf {
    let path = dir.join(format!("claude-{version}"));
    std::fs::write(
        &path,
        format!("#!/bin/sh\necho '{version} (Claude Code)'\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A session written by 2.1.332 and continued by an older 2.1.40, with a `progress` record.
fn mixed_session(laptop: &Laptop) -> SessionBuilder {
    let newer = SessionBuilder::new(&laptop.env.repo)
        .version("2.1.332")
        .turns(1);
    let id = newer.id.clone();
    let progress = json!({"type": "progress", "uuid": uuid::Uuid::new_v4().to_string(),
        "parentUuid": null, "sessionId": id, "cwd": laptop.env.repo, "version": "2.1.332",
        "gitBranch": "main", "timestamp": "2026-01-01T00:05:00.000Z", "data": {"type": "hook_progress"}});
    let session = newer
        .raw(&progress.to_string())
        .version("2.1.40")
        .at("2026-01-02T00:00:00Z")
        .turns(1);
    session.write_to(&laptop.project_dir());
    session
}

#[test]
fn metadata_records_the_highest_version_and_progress_records() {
    let laptop = Laptop::new();
    let session = mixed_session(&laptop);
    laptop.push("main", &session.id);
    let meta = laptop.stored_metadata(&session.id).unwrap();
    assert_eq!(meta["claudeVersion"], "2.1.332", "{meta:#}");
    assert_eq!(meta["hasProgressRecords"], true, "{meta:#}");

    let plain = laptop.session("main", "2026-02-01T00:00:00Z");
    laptop.push("main", &plain.id);
    assert_eq!(
        laptop.stored_metadata(&plain.id).unwrap()["hasProgressRecords"],
        false
    );
}

#[test]
fn restore_warns_when_the_claude_that_will_run_is_older() {
    let laptop = Laptop::new();
    let session = mixed_session(&laptop);
    laptop.push("main", &session.id);
    std::fs::remove_file(laptop.project_dir().join(format!("{}.jsonl", session.id))).unwrap();
    let bin = laptop.env.temp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();

    // 2.0.77 will run: a warning that says why, with the progress records named.
    let old = claude_printing(&bin, "2.0.77");
    let output = everyday_support::run({
        let mut cmd = laptop.cmd(&["release-restore"]);
        cmd.env("CCSYNC_CLAUDE", &old);
        cmd
    });
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(
        err.contains("warning:") && err.contains("2.1.332") && err.contains("2.0.77"),
        "{err}"
    );
    assert!(
        err.contains("history silently missing") && err.contains("progress"),
        "{err}"
    );
    // The advice names the version needed and a way to get it that works (the wrapper's
    // `latest` lags behind the newest Claude Code; the platform package carries it).
    assert!(
        err.contains("to 2.1.332 or newer") && err.contains("claude update"),
        "{err}"
    );
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        assert!(
            err.contains("npm install -g @anthropic-ai/claude-code-linux-x64@2.1.332"),
            "{err}"
        );
    }
    assert!(!err.contains("claude-code@latest`,"), "{err}");

    // In Actions it is a `::warning::` annotation.
    let output = everyday_support::run({
        let mut cmd = laptop.cmd(&["release-restore"]);
        cmd.env("CCSYNC_CLAUDE", &old)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "octo/app")
            .env("GITHUB_REF_NAME", "main")
            .env("GITHUB_WORKSPACE", &laptop.env.repo);
        cmd
    });
    assert_code(&output, 0);
    assert!(
        stderr(&output).contains("::warning::"),
        "{}",
        stderr(&output)
    );

    // The same or a newer CLI: no warning. Nor when the local CLI is the newest published one
    // (a session of a newer, unpublished build: nothing to update to).
    let beyond = SessionBuilder::new(&laptop.env.repo)
        .version("2.1.400")
        .turns(1);
    beyond.write_to(&laptop.project_dir());
    laptop.push("main", &beyond.id);
    std::fs::remove_file(laptop.project_dir().join(format!("{}.jsonl", beyond.id))).unwrap();
    for (version, warns) in [("2.1.337", false), ("2.1.332", true)] {
        let local = claude_printing(&bin, version);
        let output = everyday_support::run({
            let mut cmd = laptop.cmd(&["release-restore", "--session", &beyond.id]);
            cmd.env("CCSYNC_CLAUDE", &local);
            cmd
        });
        assert_code(&output, 0);
        assert_eq!(
            stderr(&output).contains("warning"),
            warns,
            "{version}: {}",
            stderr(&output)
        );
        std::fs::remove_file(laptop.project_dir().join(format!("{}.jsonl", beyond.id))).unwrap();
    }

    for version in ["2.1.332", "2.2.0"] {
        std::fs::remove_file(laptop.project_dir().join(format!("{}.jsonl", session.id))).unwrap();
        let newer = claude_printing(&bin, version);
        let output = everyday_support::run({
            let mut cmd = laptop.cmd(&["release-restore"]);
            cmd.env("CCSYNC_CLAUDE", &newer);
            cmd
        });
        assert_code(&output, 0);
        assert!(
            !stderr(&output).contains("warning"),
            "{version}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn claude_code_project_dir_name_decides_the_project_folder() {
    let laptop = Laptop::new();
    let named = laptop.env.claude_dir.join("projects/ci-sessions");
    let session = SessionBuilder::new(&laptop.env.repo).turns(2);
    session.write_to(&named);
    // A session of another repository in the same named folder is not this repository's.
    let stranger = SessionBuilder::new("/elsewhere/other")
        .at("2027-01-01T00:00:00Z")
        .turns(1);
    stranger.write_to(&named);

    let with_name = |args: &[&str], name: &str| {
        let mut cmd = laptop.cmd(args);
        cmd.env("CLAUDE_CODE_PROJECT_DIR_NAME", name);
        everyday_support::run(cmd)
    };
    let output = with_name(&["discover"], "ci-sessions");
    assert_code(&output, 0);
    assert_eq!(stdout(&output).trim(), session.id);

    // Push and restore use the named folder too.
    assert_code(
        &with_name(&["release-push", "--session", &session.id], "ci-sessions"),
        0,
    );
    std::fs::remove_file(named.join(format!("{}.jsonl", session.id))).unwrap();
    let output = with_name(&["release-restore", "--json"], "ci-sessions");
    assert_code(&output, 0);
    assert_eq!(
        parse_json(&output)["sessionFile"],
        named
            .join(format!("{}.jsonl", session.id))
            .to_str()
            .unwrap()
    );
    assert!(named.join(format!("{}.jsonl", session.id)).is_file());

    // Invalid names are ignored (as Claude Code ignores them): the usual folder.
    for bad in ["../x", "nul", "a.b"] {
        let output = with_name(&["discover"], bad);
        assert_code(&output, 3);
    }
    // So is the name without CLAUDE_CONFIG_DIR (here the folder comes from --claude-dir).
    let mut cmd = laptop.cmd(&[
        "discover",
        "--claude-dir",
        laptop.env.claude_dir.to_str().unwrap(),
    ]);
    cmd.env_remove("CLAUDE_CONFIG_DIR")
        .env("CLAUDE_CODE_PROJECT_DIR_NAME", "ci-sessions");
    assert_code(&everyday_support::run(cmd), 3);
}

//! `ccsync doctor` on a healthy setup and on each broken one: the failing check names the problem
//! and what to do, exit 1 on any `fail`, 0 when everything is `ok` or `warn`.

mod everyday_support;
mod support;

use std::process::Output;

use everyday_support::{assert_code, parse_json, stdout, Laptop};
use fake_github::Permission;
use serde_json::Value;
use support::TOKEN;

fn checks(output: &Output) -> Vec<(String, String, String)> {
    parse_json(output)
        .as_array()
        .expect("an array of checks")
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn status_of<'a>(
    checks: &'a [(String, String, String)],
    name: &str,
) -> Option<&'a (String, String, String)> {
    checks.iter().find(|c| c.0 == name)
}

/// The check `name` has `status`, and its message contains `needle`.
fn expect(output: &Output, name: &str, status: &str, needle: &str) {
    let all = checks(output);
    let found = status_of(&all, name).unwrap_or_else(|| panic!("no check {name}: {all:?}"));
    assert_eq!(found.1, status, "{name}: {all:?}");
    assert!(
        found.2.contains(needle),
        "{name} should mention {needle:?}: {}",
        found.2
    );
}

fn healthy() -> (Laptop, String) {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-04-01T10:00:00Z");
    laptop.push("main", &session.id);
    (laptop, session.id)
}

#[test]
fn healthy_setup_is_all_ok() {
    let (laptop, id) = healthy();
    let output = laptop.run(&["doctor", "--json"]);
    assert_code(&output, 0);
    let all = checks(&output);
    let names: Vec<&str> = all.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "git",
            "branch",
            "repository",
            "token",
            "access",
            "release",
            "encryption",
            "claude-folder",
            "project-folder",
            "session"
        ],
        "checks run in order"
    );
    assert!(all.iter().all(|c| c.1 == "ok"), "{all:?}");
    expect(&output, "repository", "ok", "octo/app");
    expect(&output, "token", "ok", "GITHUB_TOKEN");
    expect(&output, "access", "ok", "draft");
    expect(&output, "release", "ok", "1 session");
    expect(&output, "session", "ok", &id);

    // The same as lines for people.
    let output = laptop.run(&["doctor"]);
    assert_code(&output, 0);
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 10, "{text}");
    assert!(text.lines().all(|l| l.starts_with("ok ")), "{text}");
}

#[test]
fn outside_a_git_repository() {
    let (laptop, _) = healthy();
    let mut cmd = laptop.env.ccsync_in(&laptop.env.home);
    cmd.args(["doctor", "--json", "--repo", "octo/app"])
        .env("GITHUB_API_URL", laptop.fake.api_url())
        .env("GITHUB_TOKEN", TOKEN);
    let output = everyday_support::run(cmd);
    assert_code(&output, 1);
    expect(&output, "git", "fail", "not inside a git repository");
    // The rest still runs.
    expect(&output, "access", "ok", "draft");
}

#[test]
fn without_a_github_remote() {
    let (laptop, _) = healthy();
    laptop.env.git(["remote", "remove", "origin"]);
    let output = laptop.run(&["doctor", "--json"]);
    assert_code(&output, 1);
    expect(&output, "repository", "fail", "--repo");
    assert!(
        status_of(&checks(&output), "access").is_none(),
        "no access check without a repository"
    );
}

#[test]
fn without_a_token() {
    let (laptop, _) = healthy();
    let mut cmd = laptop.cmd(&["doctor", "--json"]);
    cmd.env_remove("GITHUB_TOKEN")
        .env("PATH", laptop.env.temp.path()); // no `gh` either
    let output = everyday_support::run(cmd);
    assert_code(&output, 1);
    expect(&output, "token", "fail", "GITHUB_TOKEN");
}

#[test]
fn a_rejected_token() {
    let (laptop, _) = healthy();
    laptop.fake.set_token(TOKEN, Permission::Invalid);
    let output = laptop.run(&["doctor", "--json"]);
    assert_code(&output, 1);
    expect(&output, "access", "fail", "401");
}

#[test]
fn a_read_only_token() {
    let (laptop, _) = healthy();
    laptop.fake.set_token(TOKEN, Permission::Read);
    let output = laptop.run(&["doctor", "--json"]);
    assert_code(&output, 1);
    expect(&output, "access", "fail", "only read");
    assert!(status_of(&checks(&output), "release").is_none());
}

#[test]
fn a_token_without_access_to_the_repository() {
    let (laptop, _) = healthy();
    laptop.fake.set_token(TOKEN, Permission::None);
    let output = laptop.run(&["doctor", "--json"]);
    assert_code(&output, 1);
    expect(&output, "access", "fail", "cannot see it");
}

#[test]
fn no_claude_folder() {
    let laptop = Laptop::new();
    assert!(!laptop.env.claude_dir.exists());
    let output = laptop.run(&["doctor", "--json"]);
    assert_code(&output, 1);
    expect(&output, "claude-folder", "fail", "CLAUDE_CONFIG_DIR");
    expect(&output, "release", "ok", "release-push");
}

#[test]
fn no_sessions_yet_is_a_warning() {
    let laptop = Laptop::new();
    std::fs::create_dir_all(laptop.env.claude_dir.join("projects")).unwrap();
    let output = laptop.run(&["doctor", "--json"]);
    assert_code(&output, 0);
    expect(&output, "claude-folder", "ok", ".claude");
    expect(&output, "project-folder", "warn", "run `claude`");
    let text = stdout(&laptop.run(&["doctor"]));
    assert!(text.contains("warn  project-folder:"), "{text}");
}

#[test]
fn sessions_only_on_other_branches_is_a_warning() {
    let laptop = Laptop::new();
    laptop.session("feature", "2026-04-01T10:00:00Z");
    let output = laptop.run(&["doctor", "--json"]);
    assert_code(&output, 0);
    expect(&output, "project-folder", "ok", "1 session");
    expect(&output, "session", "warn", "other branches");
}

#[test]
fn in_actions_on_a_fork_pull_request() {
    let (laptop, _) = healthy();
    let event = laptop.env.temp.path().join("event.json");
    let payload: Value = serde_json::json!({
        "pull_request": {
            "head": { "repo": { "full_name": "someone/app", "fork": true } },
            "base": { "repo": { "full_name": "octo/app", "fork": false } }
        }
    });
    std::fs::write(&event, payload.to_string()).unwrap();
    let mut cmd = laptop.cmd(&["doctor", "--json"]);
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "octo/app")
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_EVENT_PATH", &event);
    let output = everyday_support::run(cmd);
    assert_code(&output, 0);
    expect(&output, "actions", "warn", "fork");

    // Not a fork: says what the job needs.
    std::fs::write(&event, "{}").unwrap();
    let mut cmd = laptop.cmd(&["doctor", "--json"]);
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "octo/app")
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_EVENT_PATH", &event);
    let output = everyday_support::run(cmd);
    expect(&output, "actions", "ok", "contents: write");
}

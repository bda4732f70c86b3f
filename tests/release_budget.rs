//! Request budgets at any repository size, through the `ccsync` binary against the fake GitHub
//! holding 2,000 published releases (github.com and GitHub Enterprise Server layouts): restore of
//! the newest session <= 3 requests plus one per stored session (its metadata: the newest is chosen
//! from verified metadata, never from labels), push of an unchanged session <= 3, push that
//! replaces a stored copy <= 12, everything included. Requests to the API and uploads hosts count; downloads from
//! the storage host behind a 302 do not. Also: the lookup still works when GraphQL is missing (an
//! old GHES), answers with errors, or GitHub holds duplicate drafts of a tag.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use fake_github::{FakeGitHub, Fault, FaultKind, Host, Options};
use serde_json::Value;
use support::sessions::{project_folder, SessionBuilder};
use support::{assert_no_token, TestEnv, TOKEN};

const RELEASES: u64 = 2_000;
/// Everything included: lookup, metadata read, the write protocol's uploads, re-read, deletes and
/// renames (docs/write-protocol.md), and the body.
const REPLACE_BUDGET: usize = 12;

/// A restore: the lookup (2), each stored session's metadata (the newest is chosen from verified
/// metadata, labels being editable by anyone with write access), the archive.
const RESTORE_BUDGET: usize = 3 + 3;

struct Machine {
    env: TestEnv,
    api_url: String,
}

impl Machine {
    fn new(fake: &FakeGitHub, path: &str) -> Machine {
        Machine {
            env: TestEnv::with_repo_path(path),
            api_url: fake.api_url(),
        }
    }

    fn project_dir(&self) -> PathBuf {
        project_folder(&self.env.claude_dir, &self.env.repo)
    }

    fn ccsync(&self, args: &[&str]) -> Output {
        let mut cmd = self.env.ccsync();
        cmd.args(args)
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("CCSYNC_RETRY_BASE_MS", "1");
        let output = cmd.output().expect("ccsync runs");
        assert_no_token(&output);
        output
    }

    fn ok(&self, args: &[&str]) -> Value {
        let output = self.ccsync(args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "ccsync {args:?}\nstderr:\n{}\nstdout:\n{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
    }
}

fn large_repository(ghes: bool) -> FakeGitHub {
    let fake = FakeGitHub::start(Options {
        ghes,
        ..Options::default()
    });
    fake.seed_releases("octo", "app", "v1.0.", RELEASES, false);
    fake
}

/// Requests to the API and uploads hosts since the log was cleared, as `METHOD path` lines.
fn counted(fake: &FakeGitHub) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.host != Host::Storage)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn assert_within(fake: &FakeGitHub, budget: usize, what: &str) -> usize {
    let requests = counted(fake);
    assert!(
        requests.len() <= budget,
        "{what}: {} requests, budget {budget}:\n{}",
        requests.len(),
        requests.join("\n")
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("GET /repos/octo/app/releases?")),
        "{what} listed the releases:\n{}",
        requests.join("\n")
    );
    requests.len()
}

fn continue_session(file: &Path, id: &str, cwd: &Path, at: &str) {
    let more = SessionBuilder::new(cwd).id(id).at(at).turns(2);
    let mut text = std::fs::read_to_string(file).unwrap();
    text.push_str(&more.text());
    std::fs::write(file, text).unwrap();
}

/// Three sessions on the laptop's `main`, the newest last, all pushed (the first push creates the
/// draft; that one is not budgeted).
fn laptop_with_three_sessions(fake: &FakeGitHub) -> (Machine, Vec<SessionBuilder>) {
    let laptop = Machine::new(fake, "Users/me/src/app");
    let sessions: Vec<SessionBuilder> = [
        "2026-01-01T00:00:00Z",
        "2026-01-02T00:00:00Z",
        "2026-01-03T00:00:00Z",
    ]
    .iter()
    .map(|at| SessionBuilder::new(&laptop.env.repo).at(at).turns(2))
    .collect();
    for s in &sessions {
        s.write_to(&laptop.project_dir());
        laptop.ok(&["release-push", "--session", &s.id]);
    }
    (laptop, sessions)
}

fn budgets(ghes: bool) -> (usize, usize, usize) {
    let fake = large_repository(ghes);
    let (laptop, sessions) = laptop_with_three_sessions(&fake);
    let newest = &sessions[2];

    // Push of an unchanged session.
    fake.clear_requests();
    let pushed = laptop.ok(&["--json", "release-push", "--session", &newest.id]);
    assert_eq!(pushed[0]["action"], "up-to-date", "{pushed}");
    let unchanged = assert_within(&fake, 3, "push of an unchanged session");

    // Restore of the newest session on another machine.
    let runner = Machine::new(&fake, "home/runner/work/app/app");
    fake.clear_requests();
    let restored = runner.ok(&["--json", "release-restore"]);
    assert_eq!(restored["sessionId"], newest.id.as_str(), "{restored}");
    assert_eq!(restored["action"], "installed", "{restored}");
    let restore = assert_within(&fake, RESTORE_BUDGET, "restore of the newest session");

    // The runner continues the oldest session and pushes it: a replace.
    let oldest = &sessions[0];
    runner.ok(&["release-restore", "--session", &oldest.id]);
    let file = runner.project_dir().join(format!("{}.jsonl", oldest.id));
    continue_session(&file, &oldest.id, &runner.env.repo, "2026-02-01T00:00:00Z");
    fake.clear_requests();
    let pushed = runner.ok(&["--json", "release-push", "--session", &oldest.id]);
    assert_eq!(pushed[0]["action"], "uploaded", "{pushed}");
    let replace = assert_within(&fake, REPLACE_BUDGET, "push that replaces a stored copy");

    // The body's table is current: every session, the continued one first with its new count.
    let release = fake
        .releases("octo", "app")
        .into_iter()
        .find(|r| r.tag_name == "claude-sessions-main")
        .unwrap();
    let body = release.body.unwrap_or_default();
    let rows: Vec<&str> = body.lines().filter(|l| l.starts_with("| `")).collect();
    assert_eq!(rows.len(), 3, "{body}");
    assert!(rows[0].contains(&oldest.id), "{body}");
    let records = std::fs::read_to_string(&file).unwrap().lines().count();
    assert!(rows[0].contains(&format!("| {records} |")), "{body}");

    // And the newest is now the continued one, still within budget.
    let third = Machine::new(&fake, "srv/app");
    fake.clear_requests();
    let restored = third.ok(&["--json", "release-restore"]);
    assert_eq!(restored["sessionId"], oldest.id.as_str(), "{restored}");
    assert_within(&fake, RESTORE_BUDGET, "restore after a replace");
    (restore, unchanged, replace)
}

#[test]
fn request_budgets_hold_with_two_thousand_releases() {
    let (restore, unchanged, replace) = budgets(false);
    eprintln!("github.com: restore {restore}, unchanged push {unchanged}, replace push {replace}");
}

#[test]
fn request_budgets_hold_on_enterprise_server() {
    let (restore, unchanged, replace) = budgets(true);
    eprintln!("GHES: restore {restore}, unchanged push {unchanged}, replace push {replace}");
    // GHES takes GraphQL at /api/graphql, not under /api/v3.
}

#[test]
fn graphql_goes_to_api_graphql_on_enterprise_server() {
    let fake = large_repository(true);
    let (laptop, sessions) = laptop_with_three_sessions(&fake);
    fake.clear_requests();
    laptop.ok(&["release-push", "--session", &sessions[0].id]);
    let urls: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/graphql")
        .map(|r| r.url.clone())
        .collect();
    assert!(!urls.is_empty());
    assert!(urls.iter().all(|u| u.ends_with("/api/graphql")), "{urls:?}");
}

/// An old GHES without GraphQL (404), or GraphQL answering with `errors`: the listing still finds
/// the draft, and everything works.
#[test]
fn without_graphql_the_listing_still_finds_the_draft() {
    for status in [404, 200] {
        let fake = large_repository(true);
        let mut fault = Fault::new("POST", "/graphql", FaultKind::Status);
        fault.status = Some(status);
        fault.count = 1_000;
        fake.add_fault(fault);
        let laptop = Machine::new(&fake, "Users/me/src/app");
        let session = SessionBuilder::new(&laptop.env.repo).turns(2);
        session.write_to(&laptop.project_dir());
        laptop.ok(&["release-push"]);
        let pushed = laptop.ok(&["--json", "release-push"]);
        assert_eq!(
            pushed[0]["action"], "up-to-date",
            "GraphQL {status}: {pushed}"
        );
        let runner = Machine::new(&fake, "home/runner/work/app/app");
        let restored = runner.ok(&["--json", "release-restore"]);
        assert_eq!(
            restored["sessionId"],
            session.id.as_str(),
            "GraphQL {status}"
        );
        let listed = fake
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == "/repos/octo/app/releases")
            .count();
        assert!(
            listed >= 20,
            "GraphQL {status}: the fallback lists every page ({listed})"
        );
        let drafts: Vec<_> = fake
            .releases("octo", "app")
            .into_iter()
            .filter(|r| r.tag_name == "claude-sessions-main")
            .collect();
        assert_eq!(drafts.len(), 1, "GraphQL {status}: one draft");
    }
}

/// Two drafts of one tag (racing creates): GraphQL names one; a session stored only in the other
/// is still found, and the draft holding it is named.
#[test]
fn a_session_in_a_duplicate_draft_is_still_found() {
    let fake = large_repository(false);
    let laptop = Machine::new(&fake, "Users/me/src/app");
    let first = SessionBuilder::new(&laptop.env.repo).turns(2);
    first.write_to(&laptop.project_dir());
    laptop.ok(&["release-push"]);
    // A racing writer's duplicate, newer: GraphQL names it, and it holds nothing yet.
    let duplicate = fake.seed_release("octo", "app", "claude-sessions-main", true);
    let runner = Machine::new(&fake, "home/runner/work/app/app");
    let restored = runner.ok(&["--json", "release-restore", "--session", &first.id]);
    assert_eq!(restored["sessionId"], first.id.as_str(), "{restored}");
    assert_eq!(restored["action"], "installed", "{restored}");
    assert!(duplicate > 0);
}

/// One stored session's commands at 2,000 releases: `release-list --branch`, `release-show`,
/// `release-export` and `release-prune --session` look the session up by its branch's tag (the
/// branch its local copy records, or the current one), never by listing every release.
#[test]
fn one_session_commands_stay_within_five_requests() {
    let fake = large_repository(false);
    let (laptop, sessions) = laptop_with_three_sessions(&fake);
    let id = sessions[1].id.as_str();

    fake.clear_requests();
    let listed = laptop.ok(&["--json", "release-list", "--branch", "main"]);
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 3, "{listed}");
    assert_within(&fake, 5, "release-list --branch");

    fake.clear_requests();
    let shown = laptop.ok(&["--json", "release-show", "--session", id]);
    assert_eq!(shown["sessionId"], id, "{shown}");
    assert_within(&fake, 5, "release-show");

    fake.clear_requests();
    let out = laptop.env.temp.path().join("exported");
    let exported = laptop.ok(&[
        "--json",
        "release-export",
        "--session",
        id,
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(exported["sessionId"], id, "{exported}");
    assert_within(&fake, 5, "release-export");

    fake.clear_requests();
    let removed = laptop.ok(&["--json", "release-prune", "--session", id, "--yes"]);
    assert_eq!(removed["copies"].as_array().unwrap().len(), 1, "{removed}");
    assert_eq!(removed["searchedAllBranches"], false, "{removed}");
    assert_within(&fake, 5, "release-prune --session");

    // Another branch's session, named by --branch, costs as little.
    fake.clear_requests();
    let missing = laptop.ccsync(&["release-show", "--session", id, "--branch", "main"]);
    assert_eq!(missing.status.code(), Some(3));
    assert_within(&fake, 5, "release-show --branch");
}

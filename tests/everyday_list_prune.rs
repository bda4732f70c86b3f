//! `release-list` and `release-prune` against the fake GitHub: what is listed (and what is not
//! read), and that prune deletes exactly the releases it should, never a live branch's (for
//! `--gone`) nor one that is not ccsync's.

mod everyday_support;
mod support;

use everyday_support::{assert_code, days_ago, parse_json, stderr, stdout, Laptop};
use serde_json::Value;

const MARKER: &str = "<!-- ccsync:session-release -->";

fn ids(list: &Value) -> Vec<String> {
    list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn list_shows_every_stored_session_with_its_facts() {
    let laptop = Laptop::new();
    let old = laptop.session("main", "2026-03-01T10:00:00Z");
    let new = laptop.session("main", "2026-03-02T10:00:00Z");
    let feature = laptop.session("feature/x", "2026-03-03T10:00:00Z");
    laptop.push("main", &old.id);
    laptop.push("main", &new.id);
    // An encrypted push.
    let mut cmd = laptop.cmd(&[
        "release-push",
        "--branch",
        "feature/x",
        "--session",
        &feature.id,
    ]);
    cmd.env("CCSYNC_PASSPHRASE", "correct horse");
    assert_code(&everyday_support::run(cmd), 0);
    // A published release with the prefix is not ccsync's: named, never read.
    laptop.seed_release("claude-sessions-published", false, MARKER);

    let output = laptop.run(&["release-list", "--json"]);
    assert_code(&output, 0);
    let list = parse_json(&output);
    assert_eq!(list["repository"], "octo/app");
    // Branches in order, newest first within a branch.
    assert_eq!(
        ids(&list),
        vec![feature.id.clone(), new.id.clone(), old.id.clone()]
    );
    let first = &list["sessions"][0];
    assert_eq!(first["branch"], "feature/x");
    assert_eq!(first["encrypted"], true);
    assert_eq!(first["tag"], "claude-sessions-feature/x");
    let main_new = &list["sessions"][1];
    assert_eq!(main_new["branch"], "main");
    assert_eq!(main_new["encrypted"], false);
    assert_eq!(main_new["records"], new.line_count() as u64);
    assert!(main_new["size"].as_u64().unwrap() > 0);
    assert_eq!(
        main_new["lastActivity"].as_str().unwrap()[..10],
        *"2026-03-02"
    );
    assert_eq!(
        main_new["commit"].as_str().unwrap().len(),
        40,
        "the commit pushed from"
    );
    assert!(!main_new["pushedFrom"]["host"].as_str().unwrap().is_empty());
    assert_eq!(main_new["pushedFrom"]["os"], std::env::consts::OS);
    assert!(main_new["pushedAt"].is_string());
    assert!(main_new["releaseUrl"].is_string());
    assert_eq!(list["ignored"][0]["tag"], "claude-sessions-published");
    assert_eq!(list["ignored"][0]["reason"], "published");
    assert!(stderr(&output).contains("claude-sessions-published"));

    let only = laptop.json(&["release-list", "--branch", "main"]);
    assert_eq!(ids(&only), vec![new.id.clone(), old.id.clone()]);

    // The table for people.
    let output = laptop.run(&["release-list"]);
    assert_code(&output, 0);
    let table = stdout(&output);
    assert!(table.starts_with("BRANCH"), "{table}");
    for id in [&old.id, &new.id, &feature.id] {
        assert!(table.contains(id.as_str()), "{table}");
    }
    assert!(table.contains("yes") && table.contains("no"));
}

#[test]
fn list_with_nothing_stored_says_so() {
    let laptop = Laptop::new();
    let output = laptop.run(&["release-list"]);
    assert_code(&output, 0);
    assert!(stdout(&output).is_empty());
    assert!(
        stderr(&output).contains("no session stored"),
        "{}",
        stderr(&output)
    );
    let list = laptop.json(&["release-list"]);
    assert_eq!(list["sessions"], Value::Array(vec![]));
}

#[test]
fn prune_without_a_reason_is_a_usage_error() {
    let laptop = Laptop::new();
    let output = laptop.run(&["release-prune"]);
    assert_code(&output, 2);
    let err = stderr(&output);
    assert!(
        err.contains("--gone") && err.contains("--older-than"),
        "{err}"
    );
    assert!(laptop.fake.requests().is_empty(), "asked nothing of GitHub");
}

/// Releases of a live branch, a deleted branch, and three that are not ccsync's.
fn prune_setup() -> (Laptop, String) {
    let laptop = Laptop::new();
    let live = laptop.session("main", &days_ago(1));
    let gone = laptop.session("old-feature", &days_ago(2));
    laptop.push("main", &live.id);
    laptop.push("old-feature", &gone.id);
    laptop.fake.add_branch("octo", "app", "main");
    // Not ccsync's: no marker, published (with the marker!), another prefix. Their branches do
    // not exist, so `--gone` would take them if it did not check.
    laptop.seed_release("claude-sessions-nomarker", true, "someone else's notes");
    laptop.seed_release("claude-sessions-published", false, MARKER);
    laptop.seed_release("v1.0", true, MARKER);
    (laptop, gone.id)
}

const FOREIGN: [&str; 3] = [
    "claude-sessions-nomarker",
    "claude-sessions-published",
    "v1.0",
];

#[test]
fn prune_gone_dry_run_names_and_deletes_nothing() {
    let (laptop, _) = prune_setup();
    let before = laptop.tags();
    let out = laptop.json(&["release-prune", "--gone", "--dry-run"]);
    assert_eq!(laptop.tags(), before, "a dry run deletes nothing");
    assert_eq!(out["dryRun"], true);
    let deleted: Vec<&str> = out["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["tag"].as_str().unwrap())
        .collect();
    assert_eq!(deleted, vec!["claude-sessions-old-feature"]);
    assert_eq!(out["deleted"][0]["reasons"][0], "gone");
    assert_eq!(out["deleted"][0]["sessions"], 1);
    assert_eq!(out["kept"][0]["tag"], "claude-sessions-main");
    assert_eq!(out["kept"][0]["reasons"][0], "branch-exists");
    let mut foreign: Vec<(String, String)> = out["foreign"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["tag"].as_str().unwrap().to_owned(),
                d["reasons"][0].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    foreign.sort();
    assert_eq!(
        foreign,
        vec![
            ("claude-sessions-nomarker".into(), "no-marker".into()),
            ("claude-sessions-published".into(), "published".into())
        ]
    );

    let output = laptop.run(&["release-prune", "--gone", "--dry-run"]);
    assert_code(&output, 0);
    assert!(stderr(&output).contains("would delete `claude-sessions-old-feature`"));
}

#[test]
fn prune_gone_deletes_only_the_deleted_branch_release() {
    let (laptop, gone_id) = prune_setup();
    // Without a terminal to ask on, deleting needs --yes (as gh): nothing is asked or deleted.
    laptop.fake.clear_requests();
    let output = laptop.run(&["release-prune", "--gone"]);
    assert_code(&output, 2);
    assert!(stderr(&output).contains("--yes"), "{}", stderr(&output));
    assert!(
        laptop.fake.requests().is_empty(),
        "refused before any request"
    );
    let output = laptop.run(&["release-prune", "--gone", "--yes"]);
    assert_code(&output, 0);
    assert!(stderr(&output).contains("deleted `claude-sessions-old-feature`"));
    let tags = laptop.tags();
    assert!(
        tags.contains(&"claude-sessions-main".to_owned()),
        "live branch kept"
    );
    assert!(!tags.contains(&"claude-sessions-old-feature".to_owned()));
    for foreign in FOREIGN {
        assert!(
            tags.contains(&foreign.to_owned()),
            "{foreign} untouched: {tags:?}"
        );
    }
    assert!(laptop.stored_metadata(&gone_id).is_none());
    // Nothing left to do the second time.
    let again = laptop.json(&["release-prune", "--gone", "--yes"]);
    assert_eq!(again["deleted"], Value::Array(vec![]));
}

#[test]
fn prune_older_than_goes_by_the_newest_session() {
    let laptop = Laptop::new();
    let stale = laptop.session("stale", &days_ago(40));
    let mixed_old = laptop.session("mixed", &days_ago(90));
    let mixed_new = laptop.session("mixed", &days_ago(3));
    laptop.push("stale", &stale.id);
    laptop.push("mixed", &mixed_old.id);
    laptop.push("mixed", &mixed_new.id);
    for branch in ["stale", "mixed"] {
        laptop.fake.add_branch("octo", "app", branch);
    }
    laptop.seed_release("claude-sessions-published", false, MARKER);

    let dry = laptop.json(&["release-prune", "--older-than", "30", "--dry-run"]);
    assert_eq!(dry["deleted"].as_array().unwrap().len(), 1);
    assert_eq!(dry["deleted"][0]["tag"], "claude-sessions-stale");
    assert_eq!(dry["deleted"][0]["reasons"][0], "older-than");
    assert_eq!(dry["kept"][0]["tag"], "claude-sessions-mixed");
    assert_eq!(dry["kept"][0]["reasons"][0], "recent");

    laptop.json(&["release-prune", "--older-than", "30", "--yes"]);
    let tags = laptop.tags();
    assert_eq!(
        tags,
        vec!["claude-sessions-mixed", "claude-sessions-published"],
        "an old release goes even though its branch lives; the one with a recent session stays"
    );

    // Both reasons: either is enough.
    let out = laptop.json(&["release-prune", "--older-than", "1", "--gone", "--dry-run"]);
    assert_eq!(out["deleted"][0]["tag"], "claude-sessions-mixed");
    assert_eq!(
        out["deleted"][0]["reasons"],
        serde_json::json!(["branch-exists", "older-than"])
    );
}

#[test]
fn list_with_a_read_only_token_says_drafts_are_invisible() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &session.id);
    laptop
        .fake
        .set_token(support::TOKEN, fake_github::Permission::Read);
    let output = laptop.run(&["release-list"]);
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(
        err.contains("can only read") && err.contains("contents: write"),
        "{err}"
    );
}

/// A session whose archive no metadata describes (its metadata gone, as an older ccsync's
/// interrupted replace left it, or invalid, or made by a newer ccsync) has no known age: however old
/// its release, `--older-than` keeps it and says why; `release-prune --session` still removes it.
#[test]
fn prune_older_than_keeps_a_release_holding_a_session_it_cannot_date() {
    let junk: [Option<&[u8]>; 2] = [None, Some(br#"{"format": 1, "sessionId": 42}"#)];
    for metadata in junk {
        let laptop = Laptop::new();
        let session = laptop.session("main", &days_ago(1));
        laptop.push("main", &session.id);
        let release = laptop.fake.releases("octo", "app").remove(0);
        let meta_name = format!("claude-session-metadata-{}.json", session.id);
        let meta = release.assets.iter().find(|a| a.name == meta_name).unwrap();
        support::delete_asset(&laptop.fake.api_url(), meta.id);
        if let Some(bytes) = metadata {
            laptop
                .fake
                .seed_asset("octo", "app", release.id, &meta_name, bytes, "uploaded");
        }
        laptop.fake.age_release(release.id, 60 * 86_400);
        let what = format!("metadata {:?}", metadata.map(String::from_utf8_lossy));

        let output = laptop.run(&["release-prune", "--older-than", "30", "--yes", "--json"]);
        assert_code(&output, 0);
        let out = parse_json(&output);
        assert_eq!(out["deleted"], serde_json::json!([]), "{what}: {out}");
        assert_eq!(out["kept"][0]["reasons"][0], "unknown-age", "{what}: {out}");
        assert_eq!(out["kept"][0]["sessions"], 1, "{what}: {out}");
        assert!(
            stderr(&output).contains(&session.id),
            "{what}: {}",
            stderr(&output)
        );
        assert_eq!(laptop.tags(), vec!["claude-sessions-main"], "{what}");

        let output = laptop.run(&["release-prune", "--session", &session.id, "--yes"]);
        assert_code(&output, 0);
        let left = laptop.fake.releases("octo", "app");
        assert!(left.iter().all(|r| r.assets.is_empty()), "{what}: {left:?}");
    }
}

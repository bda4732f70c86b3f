//! `ccsync status`: each local session of the branch against its release's copy, by the uuid rule:
//! equal, local ahead, remote ahead, diverged, not stored; `--all` compares every branch's.

mod everyday_support;
mod support;

use std::path::Path;

use everyday_support::{assert_code, stderr, stdout, Laptop};
use serde_json::Value;
use support::sessions::SessionBuilder;

/// Appends two turns (new records) to the session file.
fn continue_session(file: &Path, id: &str, cwd: &Path, at: &str) {
    let more = SessionBuilder::new(cwd)
        .id(id)
        .branch("main")
        .at(at)
        .turns(2);
    let mut text = std::fs::read_to_string(file).unwrap();
    text.push_str(&more.text());
    std::fs::write(file, text).unwrap();
}

fn status_of<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sessionId"] == id)
        .unwrap_or_else(|| panic!("{id} is listed: {json}"))
}

#[test]
fn status_tells_where_each_local_session_stands() {
    let laptop = Laptop::new();
    let repo = laptop.env.repo.clone();
    let file = |id: &str| laptop.project_dir().join(format!("{id}.jsonl"));

    let equal = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &equal.id);

    let ahead = laptop.session("main", "2026-03-01T11:00:00Z");
    laptop.push("main", &ahead.id);
    continue_session(&file(&ahead.id), &ahead.id, &repo, "2026-03-01T11:30:00Z");

    let behind = laptop.session("main", "2026-03-01T12:00:00Z");
    let original = std::fs::read_to_string(file(&behind.id)).unwrap();
    continue_session(&file(&behind.id), &behind.id, &repo, "2026-03-01T12:30:00Z");
    laptop.push("main", &behind.id);
    std::fs::write(file(&behind.id), &original).unwrap();

    let diverged = laptop.session("main", "2026-03-01T13:00:00Z");
    let original = std::fs::read_to_string(file(&diverged.id)).unwrap();
    continue_session(
        &file(&diverged.id),
        &diverged.id,
        &repo,
        "2026-03-01T13:30:00Z",
    );
    laptop.push("main", &diverged.id);
    std::fs::write(file(&diverged.id), &original).unwrap();
    continue_session(
        &file(&diverged.id),
        &diverged.id,
        &repo,
        "2026-03-01T13:40:00Z",
    );

    let unstored = laptop.session("main", "2026-03-01T14:00:00Z");
    let elsewhere = laptop.session("feature", "2026-03-01T15:00:00Z");
    laptop.push("feature", &elsewhere.id);

    let json = laptop.json(&["status"]);
    assert_eq!(json["branch"], "main");
    assert_eq!(json["sessions"].as_array().unwrap().len(), 5, "{json}");
    for (session, expected) in [
        (&equal, "equal"),
        (&ahead, "local-ahead"),
        (&behind, "remote-ahead"),
        (&diverged, "diverged"),
        (&unstored, "not-stored"),
    ] {
        assert_eq!(status_of(&json, &session.id)["status"], expected, "{json}");
    }
    assert_eq!(
        status_of(&json, &equal.id)["storedRecords"],
        status_of(&json, &equal.id)["records"]
    );
    assert!(status_of(&json, &unstored.id)["releaseUrl"].is_null());

    // --all: every branch's sessions against their own branch's release.
    let all = laptop.json(&["status", "--all"]);
    assert!(all["branch"].is_null());
    assert_eq!(status_of(&all, &elsewhere.id)["status"], "equal");
    assert_eq!(status_of(&all, &elsewhere.id)["branch"], "feature");
    let feature = laptop.json(&["status", "--branch", "feature"]);
    assert_eq!(feature["sessions"].as_array().unwrap().len(), 1);

    // Text: one line per session, with its status word.
    let output = laptop.run(&["status"]);
    assert_code(&output, 0);
    let text = stdout(&output);
    let line = text.lines().find(|l| l.contains(&diverged.id)).unwrap();
    assert!(line.starts_with("diverged"), "{text}");
    assert!(
        stderr(&output).contains("release-restore"),
        "{}",
        stderr(&output)
    );

    // A branch with no local session says so and is not an error.
    let output = laptop.run(&["status", "--branch", "nothing-here"]);
    assert_code(&output, 0);
    assert!(
        stderr(&output).contains("no local session"),
        "{}",
        stderr(&output)
    );
}

/// An encrypted stored copy that must be downloaded to compare is read with the passphrase from
/// `CCSYNC_PASSPHRASE_FILE`, as restore reads it (status used to see only `CCSYNC_PASSPHRASE`).
#[test]
fn status_reads_an_encrypted_copy_with_the_passphrase_file() {
    let laptop = Laptop::new();
    let repo = laptop.env.repo.clone();
    let secret = laptop.env.temp.path().join("passphrase");
    std::fs::write(&secret, "correct horse battery\n").unwrap();
    let session = laptop.session("main", "2026-03-01T13:00:00Z");
    let file = laptop.project_dir().join(format!("{}.jsonl", session.id));
    let original = std::fs::read_to_string(&file).unwrap();
    continue_session(&file, &session.id, &repo, "2026-03-01T13:30:00Z");
    let mut push = laptop.cmd(&["release-push", "--session", &session.id]);
    push.env("CCSYNC_PASSPHRASE_FILE", &secret);
    assert_code(&everyday_support::run(push), 0);
    std::fs::write(&file, &original).unwrap();
    continue_session(&file, &session.id, &repo, "2026-03-01T13:40:00Z");

    let mut status = laptop.cmd(&["status", "--json"]);
    status.env("CCSYNC_PASSPHRASE_FILE", &secret);
    let output = everyday_support::run(status);
    assert_code(&output, 0);
    let json = everyday_support::parse_json(&output);
    assert_eq!(
        status_of(&json, &session.id)["status"],
        "diverged",
        "{json}"
    );
}

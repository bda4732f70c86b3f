//! Hostile writers against the stored copies (generations, claims, labels), through the `ccsync`
//! binary against the fake GitHub: whoever can write the repository's releases can upload assets of
//! their own making and edit labels. Numbers are parsed strictly and never wrap; a claim counts by
//! its content and only under a canonical name; labels never choose or delete; junk costs a reader
//! a bounded number of requests (the fake's request log counts them).

mod support;

use fake_github::{FakeGitHub, Host, Options};
use serde_json::Value;
use support::machine::{assert_ok, code, text, uuids, Machine};
use support::sessions::SessionBuilder;

/// A session pushed from a laptop (generation 1), and a second machine that restored and continued
/// it (it holds v2, not pushed yet). `v1_assets` is the release after the first push.
struct Story {
    id: String,
    v1_uuids: Vec<String>,
    v2_uuids: Vec<String>,
    v1_assets: Vec<(String, Vec<u8>)>,
    second: Machine,
}

fn story() -> Story {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let session = SessionBuilder::new(&laptop.env.repo).turns(3);
    let file = session.write_to(&laptop.project_dir());
    assert_ok(&laptop.ccsync(&fake, &["release-push"]));
    let v1_assets = all_assets(&fake);
    let second = Machine::new();
    assert_ok(&second.ccsync(&fake, &["release-restore"]));
    let restored = second.session_file(&session.id);
    let more = SessionBuilder::new(&second.env.repo)
        .id(&session.id)
        .at("2026-02-01T00:00:00Z")
        .turns(2);
    let mut v2 = std::fs::read_to_string(&restored).unwrap();
    v2.push_str(&more.text());
    std::fs::write(&restored, &v2).unwrap();
    Story {
        id: session.id.clone(),
        v1_uuids: uuids(&file),
        v2_uuids: uuids(&restored),
        v1_assets,
        second,
    }
}

fn all_assets(fake: &FakeGitHub) -> Vec<(String, Vec<u8>)> {
    fake.releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .map(|a| (a.name, a.data.to_vec()))
        .collect()
}

/// A fresh fake with one draft holding `assets`; returns it and the draft's id.
fn fake_holding(assets: &[(String, Vec<u8>)]) -> (FakeGitHub, u64) {
    let fake = FakeGitHub::start(Options::default());
    let release = fake.seed_release("octo", "app", "claude-sessions-main", true);
    for (name, data) in assets {
        fake.seed_asset("octo", "app", release, name, data, "uploaded");
    }
    (fake, release)
}

fn metadata_of(assets: &[(String, Vec<u8>)]) -> Value {
    let (_, data) = assets
        .iter()
        .find(|(n, _)| n.starts_with("claude-session-metadata-"))
        .unwrap();
    serde_json::from_slice(data).unwrap()
}

fn with_metadata(assets: &[(String, Vec<u8>)], meta: &Value) -> Vec<(String, Vec<u8>)> {
    assets
        .iter()
        .map(|(n, d)| {
            if n.starts_with("claude-session-metadata-") {
                (n.clone(), serde_json::to_vec_pretty(meta).unwrap())
            } else {
                (n.clone(), d.clone())
            }
        })
        .collect()
}

/// What a fresh machine restores of the session.
fn restored_by_a_third(fake: &FakeGitHub, id: &str) -> Vec<String> {
    let third = Machine::new();
    let restore = third.ccsync(fake, &["release-restore", "--session", id]);
    assert_ok(&restore);
    uuids(&third.session_file(id))
}

/// Requests to GitHub (API and uploads; the storage host behind a 302 is not GitHub's API).
fn api_requests(fake: &FakeGitHub) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.host != Host::Storage)
        .map(|r| format!("{} {} {}", r.method, r.path, r.url))
        .collect()
}

/// Issue 18, 1: a stored generation at u64::MAX made the next push claim generation 0 and delete
/// its own new copy as a lost race, then say "uploaded". Out-of-range numbers are invalid
/// metadata now: the push stops with a clear message, and `--force` really stores the copy.
#[test]
fn a_generation_that_would_overflow_never_throws_a_push_away() {
    let story = story();
    let mut meta = metadata_of(&story.v1_assets);
    meta["generation"] = Value::from(u64::MAX);
    let (fake, _) = fake_holding(&with_metadata(&story.v1_assets, &meta));

    let push = story.second.ccsync(&fake, &["--json", "release-push"]);
    assert_eq!(code(&push), 4, "{}", text(&push));
    assert!(!text(&push).contains("\"uploaded\""), "{}", text(&push));
    assert!(
        text(&push).contains("no metadata describes") && text(&push).contains("--force"),
        "{}",
        text(&push)
    );
    let forced = story
        .second
        .ccsync(&fake, &["--json", "release-push", "--force"]);
    assert_ok(&forced);
    assert!(text(&forced).contains("\"uploaded\""), "{}", text(&forced));
    assert_eq!(restored_by_a_third(&fake, &story.id), story.v2_uuids);

    // At the highest generation ccsync accepts, there is no next one: an error, never "uploaded".
    meta["generation"] = Value::from(1u64 << 53);
    meta.as_object_mut().unwrap().remove("parent");
    let (fake, _) = fake_holding(&with_metadata(&story.v1_assets, &meta));
    let push = story.second.ccsync(&fake, &["--json", "release-push"]);
    assert_ne!(code(&push), 0, "{}", text(&push));
    assert!(!text(&push).contains("\"uploaded\""), "{}", text(&push));
    assert!(text(&push).contains("highest"), "{}", text(&push));
    assert_eq!(restored_by_a_third(&fake, &story.id), story.v1_uuids);
}

/// Issue 18, 6: a copy of the current metadata under a claim name whose generation is not its
/// content's (`.g18446744073709551615.json`, `.g0002.json`, `.g5.json` holding generation 1) blocked
/// every push for good. Non-canonical names are no claims; a claim counts by its content.
#[test]
fn claims_that_lie_about_their_generation_block_no_push() {
    let story = story();
    let (_, metadata) = story
        .v1_assets
        .iter()
        .find(|(n, _)| n.starts_with("claude-session-metadata-"))
        .unwrap();
    let mut assets = story.v1_assets.clone();
    for generation in ["18446744073709551615", "0002", "5", "2"] {
        assets.push((
            format!("claude-session-metadata-{}.g{generation}.json", story.id),
            metadata.clone(),
        ));
    }
    let (fake, _) = fake_holding(&assets);
    assert_eq!(restored_by_a_third(&fake, &story.id), story.v1_uuids);

    let push = story.second.ccsync(&fake, &["--json", "release-push"]);
    assert_ok(&push);
    assert!(text(&push).contains("\"uploaded\""), "{}", text(&push));
    assert_eq!(restored_by_a_third(&fake, &story.id), story.v2_uuids);
    // And the next push of more work lands too (nothing left blocks it).
    let file = story.second.session_file(&story.id);
    let more = SessionBuilder::new(&story.second.env.repo)
        .id(&story.id)
        .at("2026-03-01T00:00:00Z")
        .turns(1);
    let mut v3 = std::fs::read_to_string(&file).unwrap();
    v3.push_str(&more.text());
    std::fs::write(&file, &v3).unwrap();
    let push = story.second.ccsync(&fake, &["--json", "release-push"]);
    assert_ok(&push);
    assert_eq!(restored_by_a_third(&fake, &story.id), uuids(&file));
}

/// Pushes sessions with the given last activity from one laptop; returns the laptop and the ids.
fn laptop_with_sessions(fake: &FakeGitHub, times: &[&str]) -> (Machine, Vec<String>) {
    let laptop = Machine::new();
    let mut ids = Vec::new();
    for at in times {
        let s = SessionBuilder::new(&laptop.env.repo).at(at).turns(2);
        s.write_to(&laptop.project_dir());
        assert_ok(&laptop.ccsync(fake, &["release-push", "--session", &s.id]));
        ids.push(s.id.clone());
    }
    (laptop, ids)
}

fn stored_session_ids(fake: &FakeGitHub) -> Vec<String> {
    let mut ids: Vec<String> = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .filter_map(|a| {
            let id = a.name.strip_prefix("claude-session-metadata-")?;
            Some(id.strip_suffix(".json")?.to_owned())
        })
        .filter(|id| !id.contains('.'))
        .collect();
    ids.sort();
    ids
}

const LYING_LABEL: &str = "ccsync: 1 records, last activity 2099-01-01T00:00:00Z";

/// Issue 18, 5: nine 4-byte junk "metadata" assets labelled as the newest sessions made an
/// ordinary push drop other complete sessions (`--keep`). What is dropped is decided from the
/// verified metadata of complete copies: junk is no session.
#[test]
fn junk_with_lying_labels_makes_no_push_drop_a_session() {
    let fake = FakeGitHub::start(Options::default());
    let (laptop, ids) = laptop_with_sessions(
        &fake,
        &[
            "2026-01-01T00:00:00Z",
            "2026-01-02T00:00:00Z",
            "2026-01-03T00:00:00Z",
        ],
    );
    let release = fake.releases("octo", "app")[0].id;
    for _ in 0..9 {
        let junk = support::sessions::new_id();
        let id = fake.seed_asset(
            "octo",
            "app",
            release,
            &format!("claude-session-metadata-{junk}.json"),
            b"junk",
            "uploaded",
        );
        fake.set_label(id, LYING_LABEL);
    }
    // The newest session continues and is pushed with room for three.
    let file = laptop.session_file(&ids[2]);
    let more = SessionBuilder::new(&laptop.env.repo)
        .id(&ids[2])
        .at("2026-01-04T00:00:00Z")
        .turns(1);
    let mut text_now = std::fs::read_to_string(&file).unwrap();
    text_now.push_str(&more.text());
    std::fs::write(&file, text_now).unwrap();
    let push = laptop.ccsync(
        &fake,
        &[
            "--json",
            "release-push",
            "--session",
            &ids[2],
            "--keep",
            "3",
        ],
    );
    assert_ok(&push);
    let json: Value = serde_json::from_slice(&push.stdout).unwrap();
    assert_eq!(json[0]["droppedSessions"], Value::Array(vec![]), "{json}");
    for id in &ids {
        assert!(stored_session_ids(&fake).contains(id), "{id} was dropped");
        assert!(!restored_by_a_third(&fake, id).is_empty());
    }
    // With room for two, the oldest real session goes (by its verified activity), junk or not.
    let push = laptop.ccsync(
        &fake,
        &[
            "--json",
            "release-push",
            "--session",
            &ids[2],
            "--keep",
            "2",
            "--force",
        ],
    );
    assert_ok(&push);
    let json: Value = serde_json::from_slice(&push.stdout).unwrap();
    assert_eq!(
        json[0]["droppedSessions"],
        serde_json::json!([ids[0]]),
        "{json}"
    );
}

/// Issue 18, 5: a label-only edit on an older session made a CI restore pick it while
/// `release-list` showed the other as newest. Restore, list and show agree, from verified metadata.
#[test]
fn a_lying_label_never_chooses_what_restore_picks() {
    let fake = FakeGitHub::start(Options::default());
    let (_, ids) = laptop_with_sessions(&fake, &["2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"]);
    let (older, newer) = (&ids[0], &ids[1]);
    let older_meta = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .find(|a| a.name == format!("claude-session-metadata-{older}.json"))
        .unwrap();
    fake.set_label(older_meta.id, LYING_LABEL);

    let ci = Machine::new();
    let restore = ci.ccsync(&fake, &["--json", "release-restore"]);
    assert_ok(&restore);
    let json: Value = serde_json::from_slice(&restore.stdout).unwrap();
    assert_eq!(json["sessionId"], newer.as_str(), "{json}");
    let list = ci.ccsync(&fake, &["--json", "release-list"]);
    assert_ok(&list);
    assert!(
        String::from_utf8_lossy(&list.stdout).find(newer.as_str())
            < String::from_utf8_lossy(&list.stdout).find(older.as_str()),
        "{}",
        text(&list)
    );
}

/// Issue 18, 8: 900 junk claims made one CI restore spend 2,707 requests. What can be no copy is
/// skipped unread, and a reader reads a bounded number of claims: a restore costs a small
/// constant beyond what it needs, whatever the release holds. A push still lands.
#[test]
fn junk_claims_cost_a_reader_a_bounded_number_of_requests() {
    let story = story();
    let (fake, release) = fake_holding(&story.v1_assets);
    fake.clear_requests();
    assert_eq!(restored_by_a_third(&fake, &story.id), story.v1_uuids);
    let baseline = api_requests(&fake).len();

    // Plausibly sized junk above the current generation, tiny junk, and junk of sessions that
    // have no archive at all.
    let junk = format!("{{\"format\":1,\"junk\":\"{}\"}}", "x".repeat(400));
    for generation in 2..=901u64 {
        let data: &[u8] = if generation % 3 == 0 {
            b"junk"
        } else {
            junk.as_bytes()
        };
        fake.seed_asset(
            "octo",
            "app",
            release,
            &format!("claude-session-metadata-{}.g{generation}.json", story.id),
            data,
            "uploaded",
        );
    }
    for _ in 0..100 {
        let other = support::sessions::new_id();
        fake.seed_asset(
            "octo",
            "app",
            release,
            &format!("claude-session-metadata-{other}.g7.json"),
            junk.as_bytes(),
            "uploaded",
        );
    }
    for round in 0..2 {
        fake.clear_requests();
        assert_eq!(restored_by_a_third(&fake, &story.id), story.v1_uuids);
        let spent = api_requests(&fake);
        assert!(
            spent.len() <= baseline + 14,
            "restore {round}: {} requests (baseline {baseline}):\n{}",
            spent.len(),
            spent.join("\n")
        );
    }
    fake.clear_requests();
    let push = story.second.ccsync(&fake, &["--json", "release-push"]);
    assert_ok(&push);
    assert!(text(&push).contains("\"uploaded\""), "{}", text(&push));
    let spent = api_requests(&fake);
    assert!(
        spent.len() <= 40,
        "push: {}:\n{}",
        spent.len(),
        spent.join("\n")
    );
    assert_eq!(restored_by_a_third(&fake, &story.id), story.v2_uuids);
}

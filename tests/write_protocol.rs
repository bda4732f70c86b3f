//! The release write protocol under failure and races (docs/write-protocol.md), through the
//! `ccsync` binary against the fake GitHub's fault injection:
//! - every mutating request of a healthy replace-push, in turn, fails for ever, hangs until the
//!   push is killed, or is done and then hangs until the push is killed; after each, readers get a
//!   complete copy (never a mismatch), the old machine never hears "same"/"up to date" while only
//!   the new copy is valid, a fully uploaded new copy wins everywhere, and rerunning the push
//!   finishes the job with no temporary asset left;
//! - two diverged pushes forced to claim at the same instant: never both succeed, the loser exits 4.

mod support;

use std::collections::BTreeSet;
use std::process::Output;
use std::time::Duration;

use fake_github::{FakeGitHub, Fault, FaultKind, Host, LoggedRequest, Options};
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::machine::{assert_ok, code, text, uuids, Machine};
use support::sessions::SessionBuilder;

/// The `records` of every complete copy in the fake, judged from its stored bytes (not from
/// ccsync): a metadata asset and an uploaded archive asset of the session whose sha256 and size
/// are the ones the metadata records.
fn valid_copies(fake: &FakeGitHub) -> BTreeSet<u64> {
    let assets: Vec<_> = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .filter(|a| a.state == "uploaded")
        .collect();
    let mut found = BTreeSet::new();
    let is_metadata = |name: &str| {
        (name.starts_with("claude-session-metadata-") || name.starts_with("claude-session-chain-"))
            && name.contains(".json")
    };
    for meta in assets.iter().filter(|a| is_metadata(&a.name)) {
        let Ok(value) = serde_json::from_slice::<Value>(&meta.data) else {
            continue;
        };
        let (Some(sha), Some(size)) = (
            value["archive"]["sha256"].as_str(),
            value["archive"]["size"].as_u64(),
        ) else {
            continue;
        };
        let held = |sha: &str, size: u64| {
            assets.iter().any(|a| {
                a.name.starts_with("claude-session-")
                    && !is_metadata(&a.name)
                    && a.data.len() as u64 == size
                    && hex::encode(Sha256::digest(&a.data)) == sha
            })
        };
        // A chain (format 2) is complete only with every part it lists.
        let parts = value["chain"]["parts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let parts_held = parts.iter().all(|p| {
            held(
                p["sha256"].as_str().unwrap_or_default(),
                p["size"].as_u64().unwrap_or(u64::MAX),
            )
        });
        if held(sha, size) && parts_held {
            found.insert(value["records"].as_u64().unwrap());
        }
    }
    found
}

fn asset_names(fake: &FakeGitHub) -> Vec<String> {
    let mut names: Vec<String> = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .map(|a| format!("{} [{}]", a.name, a.state))
        .collect();
    names.sort();
    names
}

/// v1 pushed from a laptop; another machine restored it and appended: it holds v2.
struct Story {
    id: String,
    v1_text: String,
    v1_records: u64,
    v2_records: u64,
    v2_uuids: Vec<String>,
    v1_uuids: Vec<String>,
    /// The release after the v1 push: (name, bytes) of each asset.
    v1_assets: Vec<(String, Vec<u8>)>,
    /// The machine holding v2.
    second: Machine,
}

/// v1 stored as ccsync 0.2 stored it (no manifest, no line count): the push of v2 writes a full
/// copy.
fn story() -> Story {
    let mut story = story_of_delta();
    let meta_name = format!("claude-session-metadata-{}.json", story.id);
    for (name, data) in &mut story.v1_assets {
        if *name == meta_name {
            let mut value: Value = serde_json::from_slice(data).unwrap();
            let object = value.as_object_mut().unwrap();
            object.remove("manifest");
            object.remove("lines");
            *data = serde_json::to_vec_pretty(&value).unwrap();
        }
    }
    story
}

/// v1 stored by this ccsync: the push of v2 writes a delta part over it.
fn story_of_delta() -> Story {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    // Output that compresses like real tool output, so a turn is small next to the archive and
    // the next push can be a delta part.
    let output: String = (0..400).map(|_| support::sessions::new_id()).collect();
    let session = SessionBuilder::new(&laptop.env.repo).turns(3).user(&output);
    let file = session.write_to(&laptop.project_dir());
    assert_ok(&laptop.ccsync(&fake, &["release-push"]));
    let v1_assets = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .map(|a| (a.name, a.data))
        .collect();

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
    let v1_text = std::fs::read_to_string(&file).unwrap();
    Story {
        id: session.id.clone(),
        v1_records: v1_text.lines().count() as u64,
        v2_records: v2.lines().count() as u64,
        v1_uuids: uuids(&file),
        v2_uuids: uuids(&restored),
        v1_text,
        v1_assets,
        second,
    }
}

/// A fresh fake holding the release as the v1 push left it.
fn fake_with_v1(story: &Story) -> FakeGitHub {
    let fake = FakeGitHub::start(Options::default());
    let release = fake.seed_release("octo", "app", "claude-sessions-main", true);
    for (name, data) in &story.v1_assets {
        fake.seed_asset("octo", "app", release, name, data, "uploaded");
    }
    fake
}

/// A mutating request of the healthy push, as a fault target: method, path pattern (ids
/// replaced by `*`), the upload's kind of name, and how many earlier requests match the same.
#[derive(Clone, Debug)]
struct Target {
    method: String,
    path: String,
    query: Option<String>,
    host: Host,
    after: u32,
    label: String,
}

impl Target {
    fn fault(&self, kind: FaultKind) -> Fault {
        let mut fault = Fault::new(&self.method, &self.path, kind)
            .on(self.host)
            .after(self.after);
        if let Some(query) = &self.query {
            fault = fault.query(query);
        }
        fault
    }
}

fn targets(requests: &[LoggedRequest]) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for r in requests.iter().filter(|r| r.method != "GET") {
        let path: String = r
            .path
            .split('/')
            .map(|s| {
                if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                    "*"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let name = r
            .url
            .split_once("name=")
            .map(|(_, n)| n.split('&').next().unwrap_or("").to_owned());
        let query = name.as_deref().map(|n| {
            if n.contains(".tmp-") {
                "name=claude-session-*.tmp-*".to_owned()
            } else if n.starts_with("claude-session-metadata-") {
                "name=claude-session-metadata-*".to_owned()
            } else {
                format!("name={n}")
            }
        });
        let body = r
            .request
            .body
            .as_ref()
            .and_then(|b| b.get("name").and_then(Value::as_str).map(str::to_owned));
        let label = format!(
            "{} {} {}",
            r.method,
            r.path,
            name.or(body).unwrap_or_default()
        );
        let after = out
            .iter()
            .filter(|t| {
                t.method == r.method && t.path == path && t.query == query && t.host == r.host
            })
            .count() as u32;
        out.push(Target {
            method: r.method.clone(),
            path,
            query,
            host: r.host,
            after,
            label,
        });
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum Failure {
    /// The request fails with 500, and so does every later one that matches.
    Persistent,
    /// The request hangs before it takes effect; the push is killed.
    KilledBefore,
    /// The request takes effect, then hangs; the push is killed.
    KilledAfter,
}

/// The checks after a push that failed at some point.
fn check_after_failure(story: &Story, fake: &FakeGitHub, what: &str) {
    let valid = valid_copies(fake);
    assert!(
        !valid.is_empty(),
        "{what}: no complete copy left: {:?}",
        asset_names(fake)
    );
    let v2_complete = valid.contains(&story.v2_records);

    // The machine that holds v1 never hears "same" or "up to date" while v2 is the copy.
    let v1_machine = Machine::with_session(&story.id, &story.v1_text);
    let push = v1_machine.ccsync(fake, &["release-push"]);
    let said = text(&push);
    if v2_complete {
        assert_eq!(code(&push), 4, "{what}: v1 machine's push\n{said}");
        assert!(!said.contains("up to date"), "{what}: {said}");
    } else {
        assert_ok(&push);
        assert!(said.contains("up to date"), "{what}: {said}");
    }
    let restore = v1_machine.ccsync(fake, &["release-restore"]);
    assert_ok(&restore);
    if v2_complete {
        assert!(
            !text(&restore).contains("same as"),
            "{what}: {}",
            text(&restore)
        );
        assert_eq!(
            uuids(&v1_machine.session_file(&story.id)),
            story.v2_uuids,
            "{what}"
        );
    }

    // A third machine gets a complete copy: v2 once it was completely uploaded, else v1.
    let third = Machine::new();
    let restore = third.ccsync(fake, &["release-restore"]);
    assert_ok(&restore);
    let got = uuids(&third.session_file(&story.id));
    let want = if v2_complete {
        &story.v2_uuids
    } else {
        &story.v1_uuids
    };
    assert_eq!(&got, want, "{what}: third machine\n{}", text(&restore));
    assert!(
        valid_copies(fake).contains(if v2_complete {
            &story.v2_records
        } else {
            &story.v1_records
        }),
        "{what}: readers lost a copy: {:?}",
        asset_names(fake)
    );
}

/// Rerunning the push finishes the job: exactly the two stable assets, holding v2, and no
/// temporary folder of the killed run.
fn check_rerun(story: &Story, fake: &FakeGitHub, what: &str) {
    check_rerun_ends_in(story, fake, what, &stable_names(story, false));
}

/// The assets of the steady state: the stable pair; for a delta the chain under names ccsync
/// 0.1 and 0.2 never write (the base `.d1`, the part `.d2`, the chain's metadata) and the
/// signpost under both stable names.
fn stable_names(story: &Story, delta: bool) -> Vec<String> {
    let id = &story.id;
    let mut names = if delta {
        vec![
            format!("claude-session-{id}.d1.tar.gz [uploaded]"),
            format!("claude-session-{id}.d2.tar.gz [uploaded]"),
            format!("claude-session-chain-{id}.json [uploaded]"),
            format!("claude-session-metadata-{id}.json [uploaded]"),
            format!("claude-session-{id}.tar.gz [uploaded]"),
        ]
    } else {
        vec![
            format!("claude-session-{id}.tar.gz [uploaded]"),
            format!("claude-session-metadata-{id}.json [uploaded]"),
        ]
    };
    names.sort();
    names
}

/// Under the stable names of a chain: the signpost, format 2, that older ccsync refuses with
/// "upgrade ccsync".
fn assert_signpost(story: &Story, fake: &FakeGitHub, what: &str) {
    let id = &story.id;
    for name in [
        format!("claude-session-metadata-{id}.json"),
        format!("claude-session-{id}.tar.gz"),
    ] {
        let data = fake
            .releases("octo", "app")
            .into_iter()
            .flat_map(|r| r.assets)
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("{what}: no signpost {name}"))
            .data;
        let value: Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(value["format"], 2, "{what}: {value}");
        assert!(value.get("archive").is_none(), "{what}: {value}");
    }
}

fn check_rerun_ends_in(story: &Story, fake: &FakeGitHub, what: &str, want: &[String]) {
    let rerun = story.second.ccsync(fake, &["release-push"]);
    assert_ok(&rerun);
    let names = asset_names(fake);
    assert_eq!(names, want, "{what}: after the rerun\n{}", text(&rerun));
    if names.iter().any(|n| n.starts_with("claude-session-chain-")) {
        assert_signpost(story, fake, what);
    }
    assert_eq!(
        valid_copies(fake),
        BTreeSet::from([story.v2_records]),
        "{what}"
    );
    assert!(
        story.second.temp_leftovers().is_empty(),
        "{what}: {:?}",
        story.second.temp_leftovers()
    );
    let fourth = Machine::new();
    assert_ok(&fourth.ccsync(fake, &["release-restore"]));
    assert_eq!(
        uuids(&fourth.session_file(&story.id)),
        story.v2_uuids,
        "{what}"
    );
}

#[test]
fn a_replace_push_that_stops_at_any_request_loses_nothing_and_a_rerun_finishes_it() {
    every_request_of_a_push_fails_in_turn(&story(), false);
}

/// The same for a push that writes a delta part (docs/write-protocol.md, "A delta write").
#[test]
fn a_delta_push_that_stops_at_any_request_loses_nothing_and_a_rerun_finishes_it() {
    every_request_of_a_push_fails_in_turn(&story_of_delta(), true);
}

fn every_request_of_a_push_fails_in_turn(story: &Story, delta: bool) {
    // The healthy replace-push, to enumerate its mutating requests.
    let fake = fake_with_v1(story);
    fake.clear_requests();
    assert_ok(&story.second.ccsync(&fake, &["release-push"]));
    let targets = targets(&fake.requests());
    assert_eq!(valid_copies(&fake), BTreeSet::from([story.v2_records]));
    assert_eq!(asset_names(&fake), stable_names(story, delta));
    let labels: Vec<&str> = targets.iter().map(|t| t.label.as_str()).collect();
    eprintln!("mutating requests of a healthy replace-push: {labels:#?}");
    assert!(
        targets.len() >= 6,
        "a replace uploads an archive and a claim and renames both: {labels:#?}"
    );
    // The first delta push renames its part to `.d2`, the full copy it continues to the base's
    // `.d1` and its claim to the chain's metadata name, and puts the signpost under the stable
    // metadata name (docs/write-protocol.md, "A delta write"): each of those requests fails and
    // is killed in turn below.
    let renames = |what: &str| {
        labels
            .iter()
            .any(|l| l.starts_with("PATCH") && l.contains(what))
    };
    for renamed in [".d2.tar.gz", ".d1.tar.gz", "claude-session-chain-"] {
        assert_eq!(renames(renamed), delta, "{renamed}: {labels:#?}");
    }
    let signposts = labels
        .iter()
        .filter(|l| {
            l.starts_with("POST")
                && (l.ends_with(&format!("metadata-{}.json", story.id))
                    || l.ends_with(&format!("claude-session-{}.tar.gz", story.id)))
        })
        .count();
    assert_eq!(signposts, 2 * usize::from(delta), "{labels:#?}");
    drop(fake);

    for (k, target) in targets.iter().enumerate() {
        for failure in [
            Failure::Persistent,
            Failure::KilledBefore,
            Failure::KilledAfter,
        ] {
            let what = format!("request {k} ({}) {failure:?}", target.label);
            let fake = fake_with_v1(story);
            match failure {
                Failure::Persistent => {
                    fake.add_fault(target.fault(FaultKind::Status).status(500).always());
                    // Failing or not (a failure after the commit point is a warning), it ends.
                    let _ = story.second.ccsync(&fake, &["release-push"]);
                }
                Failure::KilledBefore | Failure::KilledAfter => {
                    let kind = if matches!(failure, Failure::KilledBefore) {
                        FaultKind::Hang
                    } else {
                        FaultKind::HangAfter
                    };
                    fake.add_fault(target.fault(kind));
                    let mut child = story
                        .second
                        .command(&fake, &["release-push"])
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()
                        .unwrap();
                    let hung = fake.wait_for_hung(1, Duration::from_secs(60));
                    child.kill().unwrap();
                    child.wait().unwrap();
                    assert!(hung, "{what}: the push never reached the request");
                }
            }
            fake.clear_faults();
            check_after_failure(story, &fake, &what);
            check_rerun_ends_in(story, &fake, &what, &stable_names(story, delta));
        }
    }
}

/// A machine that restored v1 and continued it its own way (diverged from every other).
fn continued(story: &Story, turns: usize, at: &str) -> Machine {
    let more = SessionBuilder::new("/elsewhere")
        .id(&story.id)
        .at(at)
        .turns(turns);
    Machine::with_session(&story.id, &format!("{}{}", story.v1_text, more.text()))
}

/// After a race: exactly one push won, the other exited 4 saying the copies diverged; the release
/// holds exactly the winner's copy under the stable names; nothing of the loser is left.
fn check_race(
    story: &Story,
    fake: &FakeGitHub,
    machines: [&Machine; 2],
    outputs: [&Output; 2],
    what: &str,
) {
    let codes = [code(outputs[0]), code(outputs[1])];
    let winner = match codes {
        [0, 4] => 0,
        [4, 0] => 1,
        _ => panic!(
            "{what}: exit codes {codes:?}\nfirst:\n{}\nsecond:\n{}",
            text(outputs[0]),
            text(outputs[1])
        ),
    };
    let loser = 1 - winner;
    assert!(
        text(outputs[loser]).contains("diverged"),
        "{what}: {}",
        text(outputs[loser])
    );
    let winner_uuids = uuids(&machines[winner].session_file(&story.id));
    let third = Machine::new();
    assert_ok(&third.ccsync(fake, &["release-restore"]));
    assert_eq!(
        uuids(&third.session_file(&story.id)),
        winner_uuids,
        "{what}"
    );
    let delta = text(outputs[winner]).contains("delta");
    assert_eq!(asset_names(fake), stable_names(story, delta), "{what}");
    // The loser's records are still on its machine, and its push still says why it stops.
    let again = machines[loser].ccsync(fake, &["release-push"]);
    assert_eq!(code(&again), 4, "{what}: {}", text(&again));
}

#[test]
fn two_diverged_pushes_that_claim_at_the_same_instant_never_both_win() {
    diverged_pushes_claim_at_the_same_instant(&story(), false, 6);
}

/// The same for two delta parts written from the same parent.
#[test]
fn two_diverged_delta_pushes_that_claim_at_the_same_instant_never_both_win() {
    diverged_pushes_claim_at_the_same_instant(&story_of_delta(), true, 4);
}

/// `release-push` from `a` and `b` at once; both claims of the next generation wait for each
/// other, then land at the same instant. Their outputs, in that order.
fn push_both_at_the_claim(
    fake: &FakeGitHub,
    a: &Machine,
    b: &Machine,
) -> (std::process::Output, std::process::Output) {
    fake.add_fault(
        Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::Barrier)
            .on(Host::Uploads)
            .query("name=claude-session-metadata-*")
            .parties(2),
    );
    let spawn = |m: &Machine| {
        m.command(fake, &["release-push"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(a), spawn(b));
    (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    )
}

fn diverged_pushes_claim_at_the_same_instant(story: &Story, delta: bool, rounds: usize) {
    for round in 0..rounds {
        let what = format!("round {round}");
        let fake = fake_with_v1(story);
        let a = continued(story, 2, "2026-03-01T00:00:00Z");
        let b = continued(story, 3, "2026-03-02T00:00:00Z");
        let (first, second) = push_both_at_the_claim(&fake, &a, &b);
        assert!(
            fake.pending_faults().is_empty(),
            "{what}: both reached the claim"
        );
        check_race(story, &fake, [&a, &b], [&first, &second], &what);
        assert_eq!(asset_names(&fake), stable_names(story, delta), "{what}");
    }
}

/// Two delta pushes from the same parent, one continuing the other: their claims meet at the same
/// instant. The shorter one loses and exits 4 (the stored copy is ahead of it), or wins and the
/// longer one re-bases: it compares with the new copy and writes its part over it. Either way the
/// stored copy ends as the longer session and nothing is lost.
#[test]
fn a_delta_push_that_loses_the_claim_rebases_onto_the_winner() {
    let story = story_of_delta();
    for round in 0..4 {
        let what = format!("round {round}");
        let fake = fake_with_v1(&story);
        let more = SessionBuilder::new("/elsewhere")
            .id(&story.id)
            .at("2026-03-01T00:00:00Z")
            .turns(2);
        let short_text = format!("{}{}", story.v1_text, more.text());
        let short = Machine::with_session(&story.id, &short_text);
        let longer = SessionBuilder::new("/elsewhere")
            .id(&story.id)
            .at("2026-03-02T00:00:00Z")
            .turns(1);
        let long = Machine::with_session(&story.id, &format!("{short_text}{}", longer.text()));
        let (a, b) = push_both_at_the_claim(&fake, &short, &long);
        assert_eq!(code(&b), 0, "{what}: the longer push\n{}", text(&b));
        match code(&a) {
            0 => assert!(
                text(&b).contains("comparing with its copy again"),
                "{what}: {}",
                text(&b)
            ),
            4 => assert!(text(&a).contains("newer copy"), "{what}: {}", text(&a)),
            other => panic!("{what}: the shorter push exited {other}\n{}", text(&a)),
        }
        let third = Machine::new();
        assert_ok(&third.ccsync(&fake, &["release-restore"]));
        assert_eq!(
            uuids(&third.session_file(&story.id)),
            uuids(&long.session_file(&story.id)),
            "{what}"
        );
        let names = asset_names(&fake);
        assert!(
            names
                .iter()
                .all(|n| !n.contains(".tmp-") && !n.contains(&format!("{}.g", story.id))),
            "{what}: {names:?}"
        );
    }
}

/// The stale writer: it read generation N, then its claim of N+1 arrives only after the winner
/// claimed N+1, confirmed and renamed its claim away (the name is free again). Its own
/// confirmation sees the winner's copy: it removes its claim and archive and exits 4.
#[test]
fn a_claim_that_arrives_after_the_winner_finished_steps_back() {
    let story = story();
    let fake = fake_with_v1(&story);
    let stale = continued(&story, 2, "2026-03-01T00:00:00Z");
    let winner = continued(&story, 3, "2026-03-02T00:00:00Z");
    fake.add_fault(
        Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::Hold)
            .on(Host::Uploads)
            .query("name=claude-session-metadata-*"),
    );
    let held = stale
        .command(&fake, &["release-push"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(fake.wait_for_hung(1, Duration::from_secs(60)));
    let won = winner.ccsync(&fake, &["release-push"]);
    assert_ok(&won);
    fake.release_held();
    let lost = held.wait_with_output().unwrap();
    check_race(
        &story,
        &fake,
        [&stale, &winner],
        [&lost, &won],
        "stale writer",
    );
    // It really claimed after the winner: its claim upload was answered 201, then removed.
    let claims: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.url.contains("name=claude-session-metadata-"))
        .filter_map(|r| r.response.as_ref().map(|resp| resp.status))
        .collect();
    assert!(
        claims.iter().filter(|s| **s == 201).count() >= 2,
        "{claims:?}"
    );
}

/// What ccsync 0.1 left when a replace stopped between its two assets: the new archive beside the
/// old metadata. No copy matches, so nobody hears "same" or "up to date" from it, and a push does
/// not overwrite the stranded archive unless told to.
#[test]
fn an_archive_without_its_metadata_is_neither_trusted_nor_overwritten_unasked() {
    let story = story();
    let healthy = fake_with_v1(&story);
    assert_ok(&story.second.ccsync(&healthy, &["release-push"]));
    let v2_archive = healthy
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .find(|a| a.name.ends_with(".tar.gz"))
        .unwrap()
        .data;
    drop(healthy);

    let fake = FakeGitHub::start(Options::default());
    let release = fake.seed_release("octo", "app", "claude-sessions-main", true);
    for (name, data) in &story.v1_assets {
        let data = if name.ends_with(".tar.gz") {
            &v2_archive
        } else {
            data
        };
        fake.seed_asset("octo", "app", release, name, data, "uploaded");
    }
    let before = asset_names(&fake);
    assert!(valid_copies(&fake).is_empty());

    let v1_machine = Machine::with_session(&story.id, &story.v1_text);
    let push = v1_machine.ccsync(&fake, &["release-push"]);
    assert_eq!(code(&push), 4, "{}", text(&push));
    assert!(
        text(&push).contains("no metadata describes"),
        "{}",
        text(&push)
    );
    assert!(!text(&push).contains("up to date"));
    assert_eq!(asset_names(&fake), before, "nothing was replaced");
    // No matched pair and no claim that explains it: a damaged copy, an error that says what to
    // do (never "nothing to restore", never "same as").
    let restore = v1_machine.ccsync(&fake, &["release-restore"]);
    assert_eq!(code(&restore), 1, "{}", text(&restore));
    assert!(text(&restore).contains("damaged"), "{}", text(&restore));
    assert!(!text(&restore).contains("same as"), "{}", text(&restore));
    assert_eq!(uuids(&v1_machine.session_file(&story.id)), story.v1_uuids);

    assert_ok(&v1_machine.ccsync(&fake, &["release-push", "--force"]));
    assert_eq!(valid_copies(&fake), BTreeSet::from([story.v1_records]));
}

// ---- Duplicate drafts (two first pushes raced to create the branch's draft) ----------------

/// The assets a healthy push left in a fresh fake, as (name, bytes).
fn assets_of(fake: &FakeGitHub) -> Vec<(String, Vec<u8>)> {
    fake.releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .map(|a| (a.name, a.data.to_vec()))
        .collect()
}

/// The release after the healthy replace-push of v2 over v1: generation 2.
fn v2_assets(story: &Story) -> Vec<(String, Vec<u8>)> {
    let fake = fake_with_v1(story);
    let out = story.second.ccsync(&fake, &["release-push"]);
    assert_ok(&out);
    assets_of(&fake)
}

/// What a first push of `machine`'s session stores (generation 1), in a fresh fake.
fn first_push_assets(machine: &Machine, args: &[&str]) -> Vec<(String, Vec<u8>)> {
    let fake = FakeGitHub::start(Options::default());
    assert_ok(&machine.ccsync(&fake, args));
    assets_of(&fake)
}

/// Which draft's assets look uploaded earlier (GitHub's timestamps are to the second).
#[derive(Clone, Copy, Debug)]
enum Older {
    Kept,
    Duplicate,
    Neither,
}

/// Two drafts with the branch's tag: `kept` holds the lower id (the one duplicates merge into).
fn fake_with_drafts(
    kept: &[(String, Vec<u8>)],
    duplicate: &[(String, Vec<u8>)],
    older: Older,
) -> FakeGitHub {
    let fake = FakeGitHub::start(Options::default());
    let first = fake.seed_release("octo", "app", "claude-sessions-main", true);
    let second = fake.seed_release("octo", "app", "claude-sessions-main", true);
    for (release, assets, backdate) in [
        (first, kept, matches!(older, Older::Kept)),
        (second, duplicate, matches!(older, Older::Duplicate)),
    ] {
        for (name, data) in assets {
            let id = fake.seed_asset("octo", "app", release, name, data, "uploaded");
            if backdate {
                fake.age_asset(id, 5);
            }
        }
    }
    fake
}

fn draft_count(fake: &FakeGitHub) -> usize {
    fake.releases("octo", "app").len()
}

/// The `records` every entry of a `--json` answer gives session `id`.
fn listed_records(json: &Value, id: &str) -> Vec<u64> {
    match json {
        Value::Array(items) => items.iter().flat_map(|v| listed_records(v, id)).collect(),
        Value::Object(map) if map.get("sessionId").and_then(Value::as_str) == Some(id) => map
            .get("records")
            .and_then(Value::as_u64)
            .into_iter()
            .collect(),
        Value::Object(map) => map.values().flat_map(|v| listed_records(v, id)).collect(),
        _ => Vec::new(),
    }
}

/// Restore, list and show pick the same copy of the session (one rule across drafts).
fn readers_agree(fake: &FakeGitHub, id: &str, want_uuids: &[String], what: &str) {
    let reader = Machine::new();
    assert_ok(&reader.ccsync(fake, &["release-restore", "--session", id]));
    assert_eq!(
        uuids(&reader.session_file(id)),
        want_uuids,
        "{what}: restore"
    );
    let records = want_uuids.len() as u64;
    for args in [
        vec!["--json", "release-list"],
        vec!["--json", "release-show", "--session", id],
    ] {
        let out = reader.ccsync(fake, &args);
        assert_ok(&out);
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let listed = listed_records(&json, id);
        assert!(!listed.is_empty(), "{what}: {args:?} {json}");
        // Records count lines; the uuids are the records that carry one: compare through restore.
        let restored_lines = std::fs::read_to_string(reader.session_file(id))
            .unwrap()
            .lines()
            .count() as u64;
        assert!(
            listed.iter().all(|r| *r == restored_lines),
            "{what}: {args:?} says {listed:?}, restore installed {restored_lines} ({records} uuids)"
        );
    }
}

/// Issue 23, 1: generation 1 in one draft and generation 2 in the other, in either order and
/// whatever the upload times say: readers use generation 2 before any merge, and a push merges
/// into one draft holding generation 2. The machine holding v1 never hears "up to date".
#[test]
fn duplicate_drafts_holding_two_generations_merge_to_the_newest_whatever_the_upload_times() {
    let story = story();
    let v2 = v2_assets(&story);
    for (kept, duplicate, which) in [
        (&story.v1_assets, &v2, "v1 kept, v2 duplicate"),
        (&v2, &story.v1_assets, "v2 kept, v1 duplicate"),
    ] {
        for older in [Older::Kept, Older::Duplicate, Older::Neither] {
            let what = format!("{which}, older {older:?}");
            let fake = fake_with_drafts(kept, duplicate, older);
            readers_agree(&fake, &story.id, &story.v2_uuids, &what);

            let v1_machine = Machine::with_session(&story.id, &story.v1_text);
            let push = v1_machine.ccsync(&fake, &["release-push"]);
            assert_eq!(code(&push), 4, "{what}: {}", text(&push));
            assert!(!text(&push).contains("up to date"), "{what}");

            assert_ok(&story.second.ccsync(&fake, &["release-push"]));
            assert_eq!(draft_count(&fake), 1, "{what}: {:?}", asset_names(&fake));
            assert_eq!(
                valid_copies(&fake),
                BTreeSet::from([story.v2_records]),
                "{what}: {:?}",
                asset_names(&fake)
            );
            readers_agree(&fake, &story.id, &story.v2_uuids, &what);
        }
    }
}

/// Enumerates the mutating requests of the healthy push `pusher` makes against `setup()`, then
/// fails each in turn (persistent 500, killed before, killed after) and runs `check`.
fn enumerate_failures(
    setup: &dyn Fn() -> FakeGitHub,
    pusher: &Machine,
    check: &dyn Fn(&FakeGitHub, &str),
) {
    let fake = setup();
    fake.clear_requests();
    assert_ok(&pusher.ccsync(&fake, &["release-push"]));
    let targets = targets(&fake.requests());
    let labels: Vec<&str> = targets.iter().map(|t| t.label.as_str()).collect();
    eprintln!("mutating requests of the healthy merge: {labels:#?}");
    assert!(
        labels
            .iter()
            .any(|l| l.starts_with("DELETE") && !l.contains("assets")),
        "the merge deletes the duplicate draft: {labels:#?}"
    );
    drop(fake);
    for (k, target) in targets.iter().enumerate() {
        for failure in [
            Failure::Persistent,
            Failure::KilledBefore,
            Failure::KilledAfter,
        ] {
            let what = format!("request {k} ({}) {failure:?}", target.label);
            let fake = setup();
            match failure {
                Failure::Persistent => {
                    fake.add_fault(target.fault(FaultKind::Status).status(500).always());
                    let _ = pusher.ccsync(&fake, &["release-push"]);
                }
                Failure::KilledBefore | Failure::KilledAfter => {
                    let kind = if matches!(failure, Failure::KilledBefore) {
                        FaultKind::Hang
                    } else {
                        FaultKind::HangAfter
                    };
                    fake.add_fault(target.fault(kind));
                    let mut child = pusher
                        .command(&fake, &["release-push"])
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()
                        .unwrap();
                    let hung = fake.wait_for_hung(1, Duration::from_secs(60));
                    child.kill().unwrap();
                    child.wait().unwrap();
                    assert!(hung, "{what}: the push never reached the request");
                }
            }
            fake.clear_faults();
            check(&fake, &what);
        }
    }
}

/// Issue 23, 2 (b): generation 1 in the kept draft, generation 2 in the duplicate (uploaded 1.2 s
/// later in the report; here later or in the same second). The merge copies generation 2 into
/// the kept draft as a claim; a failure or a kill at any request leaves a complete generation 2
/// that every reader uses, the old machine is never told "up to date", and a rerun ends in one
/// draft holding exactly the stable pair of generation 2.
#[test]
fn a_merge_of_two_generations_that_stops_at_any_request_loses_nothing() {
    let story = story();
    let v2 = v2_assets(&story);
    for older in [Older::Kept, Older::Neither] {
        let setup = || fake_with_drafts(&story.v1_assets, &v2, older);
        enumerate_failures(&setup, &story.second, &|fake, what| {
            let what = format!("older {older:?}, {what}");
            assert!(
                valid_copies(fake).contains(&story.v2_records),
                "{what}: {:?}",
                asset_names(fake)
            );
            check_after_failure(&story, fake, &what);
            check_rerun(&story, fake, &what);
        });
    }
}

/// Issue 23 (a): each draft holds another session. A failure anywhere in the merge (and the push
/// after it) keeps both sessions restorable; a rerun ends in one draft holding both.
#[test]
fn a_merge_of_drafts_holding_different_sessions_that_stops_at_any_request_loses_nothing() {
    let story = story();
    let other = Machine::new();
    let y = SessionBuilder::new(&other.env.repo)
        .at("2026-01-05T00:00:00Z")
        .turns(2);
    y.write_to(&other.project_dir());
    let y_assets = first_push_assets(&other, &["release-push", "--session", &y.id]);
    let y_uuids = uuids(&other.session_file(&y.id));
    let setup = || fake_with_drafts(&story.v1_assets, &y_assets, Older::Neither);
    enumerate_failures(&setup, &story.second, &|fake, what| {
        let reader = Machine::new();
        assert_ok(&reader.ccsync(fake, &["release-restore", "--session", &y.id]));
        assert_eq!(uuids(&reader.session_file(&y.id)), y_uuids, "{what}");
        let x = restored_uuids(fake, &story.id);
        assert!(
            x == story.v1_uuids || x == story.v2_uuids,
            "{what}: session X restored as neither v1 nor v2"
        );
        assert_ok(&story.second.ccsync(fake, &["release-push"]));
        assert_eq!(draft_count(fake), 1, "{what}: {:?}", asset_names(fake));
        let mut names = asset_names(fake);
        names.retain(|n| !n.contains(&y.id));
        assert_eq!(
            names,
            vec![
                format!("claude-session-{}.tar.gz [uploaded]", story.id),
                format!("claude-session-metadata-{}.json [uploaded]", story.id),
            ],
            "{what}"
        );
        assert_eq!(restored_uuids(fake, &story.id), story.v2_uuids, "{what}");
        assert_eq!(restored_uuids(fake, &y.id), y_uuids, "{what}");
    });
}

fn restored_uuids(fake: &FakeGitHub, id: &str) -> Vec<String> {
    let reader = Machine::new();
    assert_ok(&reader.ccsync(fake, &["release-restore", "--session", id]));
    uuids(&reader.session_file(id))
}

/// Issue 23 (c): two first pushes of one session from two machines, each into its own draft:
/// diverged copies. Nobody chooses silently: both pushers exit 4 saying so and nothing is
/// deleted; readers all pick the same copy; a push of another session goes on (the drafts stay);
/// `--force` from one machine resolves it into one draft holding its copy.
#[test]
fn diverged_copies_in_two_drafts_are_a_conflict_never_a_silent_choice() {
    let story = story();
    let a = continued(&story, 2, "2026-03-01T00:00:00Z");
    let b = continued(&story, 3, "2026-03-02T00:00:00Z");
    // b first: a is pushed later but holds fewer records, so push time and rank disagree.
    let b_assets = first_push_assets(&b, &["release-push"]);
    let a_assets = first_push_assets(&a, &["release-push"]);
    let fake = fake_with_drafts(&a_assets, &b_assets, Older::Neither);
    let before = asset_names(&fake);
    for machine in [&a, &b] {
        let push = machine.ccsync(&fake, &["release-push"]);
        assert_eq!(code(&push), 4, "{}", text(&push));
        assert!(text(&push).contains("diverged"), "{}", text(&push));
        assert_eq!(asset_names(&fake), before, "nothing changed");
        assert_eq!(draft_count(&fake), 2);
    }
    let picked = restored_uuids(&fake, &story.id);
    let (a_uuids, b_uuids) = (
        uuids(&a.session_file(&story.id)),
        uuids(&b.session_file(&story.id)),
    );
    assert!(picked == a_uuids || picked == b_uuids);
    readers_agree(&fake, &story.id, &picked, "diverged");
    for older in [Older::Kept, Older::Duplicate] {
        // Upload times do not change the pick.
        let again = fake_with_drafts(&a_assets, &b_assets, older);
        assert_eq!(restored_uuids(&again, &story.id), picked, "older {older:?}");
    }

    // Another session's push lands, with a warning; the diverged copies stay for a person.
    let other = Machine::new();
    let z = SessionBuilder::new(&other.env.repo).turns(1);
    z.write_to(&other.project_dir());
    let push = other.ccsync(&fake, &["release-push", "--session", &z.id]);
    assert_ok(&push);
    assert!(text(&push).contains("diverged"), "{}", text(&push));
    assert_eq!(draft_count(&fake), 2);
    assert_eq!(
        restored_uuids(&fake, &z.id),
        uuids(&other.session_file(&z.id))
    );

    // The person chooses: b's copy, by --force from b.
    assert_ok(&b.ccsync(&fake, &["release-push", "--force"]));
    assert_eq!(draft_count(&fake), 1, "{:?}", asset_names(&fake));
    assert_eq!(restored_uuids(&fake, &story.id), b_uuids);
    assert_eq!(
        restored_uuids(&fake, &z.id),
        uuids(&other.session_file(&z.id))
    );
}

/// Two pushes merge the same duplicate at once: their claims of the carried generation meet at
/// the same instant in the kept draft. One carries it, the other steps back; both end well and
/// the release ends as one draft holding generation 2.
#[test]
fn two_merges_of_the_same_duplicate_at_the_same_instant_end_in_one_draft() {
    let story = story();
    let v2 = v2_assets(&story);
    let v2_text = std::fs::read_to_string(story.second.session_file(&story.id)).unwrap();
    let twin = Machine::with_session(&story.id, &v2_text);
    for round in 0..3 {
        let what = format!("round {round}");
        let fake = fake_with_drafts(&story.v1_assets, &v2, Older::Neither);
        fake.add_fault(
            Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::Barrier)
                .on(Host::Uploads)
                .query("name=claude-session-metadata-*")
                .parties(2)
                .delay_ms(5000),
        );
        let spawn = |m: &Machine| {
            m.command(&fake, &["release-push"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (first, second) = (spawn(&story.second), spawn(&twin));
        let outputs = [
            first.wait_with_output().unwrap(),
            second.wait_with_output().unwrap(),
        ];
        for output in &outputs {
            assert_ok(output);
        }
        fake.clear_faults();
        // Nothing was lost in the race itself: generation 2 is complete somewhere.
        assert!(
            valid_copies(&fake).contains(&story.v2_records),
            "{what}: {:?}",
            asset_names(&fake)
        );
        // Whatever the race left, the next push finishes it.
        assert_ok(&story.second.ccsync(&fake, &["release-push"]));
        assert_eq!(draft_count(&fake), 1, "{what}: {:?}", asset_names(&fake));
        assert_eq!(
            valid_copies(&fake),
            BTreeSet::from([story.v2_records]),
            "{what}"
        );
        readers_agree(&fake, &story.id, &story.v2_uuids, &what);
    }
}

/// Generation 1 in one draft, a forced generation 2 with fewer records in the other: show and
/// export read the copy restore installs (the protocol's rank), not the one with more records.
#[test]
fn show_and_restore_pick_the_same_copy_of_duplicate_drafts_when_the_newer_is_shorter() {
    let story = story();
    let fake = fake_with_v1(&story);
    // A machine holding only the first turn replaces the stored copy: generation 2, fewer records.
    let short = Machine::new();
    let text: String = story
        .v1_text
        .lines()
        .take(2)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::create_dir_all(short.project_dir()).unwrap();
    std::fs::write(short.session_file(&story.id), text).unwrap();
    assert_ok(&short.ccsync(&fake, &["release-push", "--force"]));
    let v2_short = assets_of(&fake);
    let short_uuids = uuids(&short.session_file(&story.id));
    assert!(short_uuids.len() < story.v1_uuids.len());
    for (kept, duplicate) in [(&story.v1_assets, &v2_short), (&v2_short, &story.v1_assets)] {
        let fake = fake_with_drafts(kept, duplicate, Older::Neither);
        readers_agree(&fake, &story.id, &short_uuids, "shorter generation 2");
    }
}

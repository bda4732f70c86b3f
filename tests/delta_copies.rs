//! Delta copies (docs/write-protocol.md, "Delta copies"), through the `ccsync` binary against the
//! fake GitHub: a push whose stored copy the local session continues uploads only a part; a
//! restore of a machine that holds an earlier generation downloads only the later parts; a fresh
//! machine assembles base and parts into the same bytes a full copy gives; chains are compacted.
//! Bytes on the wire are read from the fake's request log.

mod support;

use fake_github::{FakeGitHub, Host, Options};
use serde_json::Value;
use support::machine::{assert_ok, text, Machine};
use support::sessions::SessionBuilder;

/// Bytes the pushes uploaded (request bodies to the uploads host) since log entry `from`.
fn uploaded(fake: &FakeGitHub, from: usize) -> u64 {
    fake.requests()[from..]
        .iter()
        .filter(|r| r.host == Host::Uploads)
        .map(|r| r.request.body_size)
        .sum()
}

/// Where the request log stood, and the size of every asset then (assets deleted later, such as
/// replaced metadata, keep their size).
struct Downloads(usize, std::collections::BTreeMap<u64, u64>);

fn sizes(fake: &FakeGitHub) -> std::collections::BTreeMap<u64, u64> {
    fake.releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .map(|a| (a.id, a.data.len() as u64))
        .collect()
}

fn downloads(fake: &FakeGitHub) -> Downloads {
    Downloads(fake.requests().len(), sizes(fake))
}

/// Bytes the storage host served since `before` (by the asset id of each download).
fn downloaded(fake: &FakeGitHub, before: &Downloads) -> u64 {
    let mut size_of = before.1.clone();
    size_of.extend(sizes(fake));
    fake.requests()[before.0..]
        .iter()
        .filter(|r| r.host == Host::Storage)
        .filter(|r| r.response.as_ref().is_some_and(|a| a.status == 200))
        .filter_map(|r| r.path.rsplit('/').next()?.parse::<u64>().ok())
        .map(|id| size_of.get(&id).copied().unwrap_or(0))
        .sum()
}

fn asset_names(fake: &FakeGitHub) -> Vec<String> {
    let mut names: Vec<String> = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .map(|a| a.name)
        .collect();
    names.sort();
    names
}

fn asset_size(fake: &FakeGitHub, name: &str) -> u64 {
    fake.releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .find(|a| a.name == name)
        .map_or(0, |a| a.data.len() as u64)
}

fn stable_metadata(fake: &FakeGitHub, id: &str) -> Value {
    let name = format!("claude-session-metadata-{id}.json");
    let data = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .find(|a| a.name == name)
        .expect("stable metadata")
        .data;
    serde_json::from_slice(&data).unwrap()
}

/// One push's `--json` object.
fn push_json(machine: &Machine, fake: &FakeGitHub, extra: &[&str]) -> Value {
    let mut args = vec!["release-push", "--json"];
    args.extend_from_slice(extra);
    let out = machine.ccsync(fake, &args);
    assert_ok(&out);
    let all: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    all[0].clone()
}

/// A session of about `kib` KiB of tool output (so the base is large next to one turn).
fn big_session(machine: &Machine, kib: usize) -> SessionBuilder {
    let mut session = SessionBuilder::new(&machine.env.repo).turns(2);
    for _ in 0..kib / 8 {
        // Hex of random uuids: output that compresses about as much as real tool output.
        let output: String = (0..220).map(|_| support::sessions::new_id()).collect();
        session = session.user(&output).assistant("looked at it");
    }
    session
}

/// `machine` continues session `id` by `turns` turns written in its own paths.
fn continue_session(machine: &Machine, id: &str, at: &str, turns: usize, extra: &str) {
    let file = machine.session_file(id);
    let more = SessionBuilder::new(&machine.env.repo)
        .id(id)
        .at(at)
        .user(extra)
        .turns(turns);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&more.text());
    std::fs::write(&file, text).unwrap();
}

/// The transcript of `from` as it reads at `to`'s paths.
fn at_paths_of(text: &str, from: &Machine, to: &Machine) -> String {
    text.replace(
        &from.env.repo.to_string_lossy().into_owned(),
        &to.env.repo.to_string_lossy(),
    )
}

#[test]
fn a_turn_travels_as_a_delta_both_ways_at_different_paths() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let session = big_session(&laptop, 256);
    let id = session.id.clone();
    session.write_to(&laptop.project_dir());
    let first = push_json(&laptop, &fake, &[]);
    assert_eq!(first["copy"], "full", "{first}");
    let base_size = first["archiveSize"].as_u64().unwrap();
    let meta = stable_metadata(&fake, &id);
    assert_eq!(meta["format"], 1);
    assert!(meta["lines"].as_u64().is_some() && meta["manifest"].is_object(), "{meta}");

    // CI restores the full copy at its own paths, continues, pushes a delta.
    let ci = Machine::new();
    assert_ok(&ci.ccsync(&fake, &["release-restore"]));
    continue_session(&ci, &id, "2026-02-01T00:00:00Z", 3, "ci turn");
    let mark = fake.requests().len();
    let pushed = push_json(&ci, &fake, &[]);
    assert_eq!((pushed["action"].as_str(), pushed["copy"].as_str()), (Some("uploaded"), Some("delta")), "{pushed}");
    let part = format!("claude-session-{id}.d2.tar.gz");
    assert!(asset_names(&fake).contains(&part), "{:?}", asset_names(&fake));
    let sent = uploaded(&fake, mark);
    assert!(
        sent < base_size / 4 && sent <= asset_size(&fake, &part) + 64 * 1024,
        "a delta push uploaded {sent} bytes (base {base_size})"
    );
    let meta = stable_metadata(&fake, &id);
    assert_eq!((meta["format"].as_u64(), meta["generation"].as_u64()), (Some(2), Some(2)), "{meta}");

    // The laptop, which holds generation 1, restores: only the part comes down.
    let mark = downloads(&fake);
    assert_ok(&laptop.ccsync(&fake, &["release-restore"]));
    let got = downloaded(&fake, &mark);
    assert!(got < base_size / 4, "the laptop downloaded {got} bytes (base {base_size})");
    let want = at_paths_of(&std::fs::read_to_string(ci.session_file(&id)).unwrap(), &ci, &laptop);
    assert_eq!(std::fs::read_to_string(laptop.session_file(&id)).unwrap(), want);

    // And back again: the laptop's turn is generation 3; a fresh machine assembles the chain.
    continue_session(&laptop, &id, "2026-03-01T00:00:00Z", 2, "laptop turn");
    let pushed = push_json(&laptop, &fake, &[]);
    assert_eq!(pushed["copy"], "delta", "{pushed}");
    let fresh = Machine::new();
    let mark = downloads(&fake);
    assert_ok(&fresh.ccsync(&fake, &["release-restore"]));
    let got = downloaded(&fake, &mark);
    assert!(got > base_size && got <= base_size * 2, "{got} (base {base_size})");
    let want = at_paths_of(&std::fs::read_to_string(laptop.session_file(&id)).unwrap(), &laptop, &fresh);
    assert_eq!(std::fs::read_to_string(fresh.session_file(&id)).unwrap(), want);
    // CI holds generation 2: it fetches part 3 only, and is equal afterwards.
    let mark = downloads(&fake);
    assert_ok(&ci.ccsync(&fake, &["release-restore"]));
    assert!(downloaded(&fake, &mark) < base_size / 4);
    let want = at_paths_of(&std::fs::read_to_string(laptop.session_file(&id)).unwrap(), &laptop, &ci);
    assert_eq!(std::fs::read_to_string(ci.session_file(&id)).unwrap(), want);
    let again = push_json(&ci, &fake, &[]);
    assert_eq!(again["action"], "up-to-date", "{again}");
}

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

/// The current metadata: a chain's (its own name, ccsync 0.1 and 0.2 never write it), else the
/// stable one.
fn stable_metadata(fake: &FakeGitHub, id: &str) -> Value {
    let names = [
        format!("claude-session-chain-{id}.json"),
        format!("claude-session-metadata-{id}.json"),
    ];
    let assets: Vec<_> = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .collect();
    let data = &names
        .iter()
        .find_map(|name| assets.iter().find(|a| &a.name == name))
        .expect("stored metadata")
        .data;
    serde_json::from_slice(data).unwrap()
}

/// One push's `--json` object.
fn push_json(machine: &Machine, fake: &FakeGitHub, extra: &[&str]) -> Value {
    let mut args = vec!["release-push", "--json"];
    args.extend_from_slice(extra);
    let out = machine.ccsync(fake, &args);
    assert_ok(&out);
    let all: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
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
    assert!(
        meta["lines"].as_u64().is_some() && meta["manifest"].is_object(),
        "{meta}"
    );

    // CI restores the full copy at its own paths, continues, pushes a delta.
    let ci = Machine::new();
    assert_ok(&ci.ccsync(&fake, &["release-restore"]));
    continue_session(&ci, &id, "2026-02-01T00:00:00Z", 3, "ci turn");
    let mark = fake.requests().len();
    let pushed = push_json(&ci, &fake, &[]);
    assert_eq!(
        (pushed["action"].as_str(), pushed["copy"].as_str()),
        (Some("uploaded"), Some("delta")),
        "{pushed}"
    );
    let part = format!("claude-session-{id}.d2.tar.gz");
    assert!(
        asset_names(&fake).contains(&part),
        "{:?}",
        asset_names(&fake)
    );
    let sent = uploaded(&fake, mark);
    assert!(
        sent < base_size / 4 && sent <= asset_size(&fake, &part) + 64 * 1024,
        "a delta push uploaded {sent} bytes (base {base_size})"
    );
    let meta = stable_metadata(&fake, &id);
    assert_eq!(
        (meta["format"].as_u64(), meta["generation"].as_u64()),
        (Some(2), Some(2)),
        "{meta}"
    );
    // Older ccsync calls a release holding a chain foreign (its prune leaves it alone).
    let body = fake.releases("octo", "app")[0]
        .body
        .clone()
        .unwrap_or_default();
    assert!(
        body.starts_with("<!-- ccsync:session-release:2 -->"),
        "{body}"
    );

    // The laptop, which holds generation 1, restores: only the part comes down.
    let mark = downloads(&fake);
    let out = laptop.ccsync(&fake, &["release-restore", "--json"]);
    assert_ok(&out);
    let restored: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(restored["copy"], "delta", "{restored}");
    let got = downloaded(&fake, &mark);
    // What it says it downloaded: the part (the rest is the stable metadata).
    let part_size = restored["downloadSize"].as_u64().unwrap();
    assert!(
        part_size == asset_size(&fake, &part) && got - part_size < 16 << 10,
        "{got} {part_size}"
    );
    assert!(
        got < base_size / 4,
        "the laptop downloaded {got} bytes (base {base_size})"
    );
    let want = at_paths_of(
        &std::fs::read_to_string(ci.session_file(&id)).unwrap(),
        &ci,
        &laptop,
    );
    assert_eq!(
        std::fs::read_to_string(laptop.session_file(&id)).unwrap(),
        want
    );

    // And back again: the laptop's turn is generation 3; a fresh machine assembles the chain.
    continue_session(&laptop, &id, "2026-03-01T00:00:00Z", 2, "laptop turn");
    let pushed = push_json(&laptop, &fake, &[]);
    assert_eq!(pushed["copy"], "delta", "{pushed}");
    let fresh = Machine::new();
    let mark = downloads(&fake);
    assert_ok(&fresh.ccsync(&fake, &["release-restore"]));
    let got = downloaded(&fake, &mark);
    assert!(
        got > base_size && got <= base_size * 2,
        "{got} (base {base_size})"
    );
    let want = at_paths_of(
        &std::fs::read_to_string(laptop.session_file(&id)).unwrap(),
        &laptop,
        &fresh,
    );
    assert_eq!(
        std::fs::read_to_string(fresh.session_file(&id)).unwrap(),
        want
    );
    // CI holds generation 2: it fetches part 3 only, and is equal afterwards.
    let mark = downloads(&fake);
    assert_ok(&ci.ccsync(&fake, &["release-restore"]));
    assert!(downloaded(&fake, &mark) < base_size / 4);
    let want = at_paths_of(
        &std::fs::read_to_string(laptop.session_file(&id)).unwrap(),
        &laptop,
        &ci,
    );
    assert_eq!(std::fs::read_to_string(ci.session_file(&id)).unwrap(), want);
    let again = push_json(&ci, &fake, &[]);
    assert_eq!(again["action"], "up-to-date", "{again}");
}

/// `machine` runs ccsync with `env` set.
fn run_with(
    machine: &Machine,
    fake: &FakeGitHub,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let mut cmd = machine.command(fake, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    support::assert_no_token(&out);
    out
}

/// The chain's links but its base (`.d<G>` names: the base is one too, by its generation).
fn parts_of(fake: &FakeGitHub) -> Vec<String> {
    let bases: Vec<String> = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .filter(|a| a.name.starts_with("claude-session-chain-"))
        .map(|a| serde_json::from_slice::<Value>(&a.data).unwrap()["archive"]["name"].to_string())
        .map(|name| name.trim_matches('"').to_owned())
        .collect();
    asset_names(fake)
        .into_iter()
        .filter(|n| n.contains(".d") && n.contains(".tar.gz") && !bases.contains(n))
        .collect()
}

/// Encrypted, with a secret in the new records: the part is encrypted, carries the secret only
/// redacted, and the other side installs exactly that.
#[test]
fn an_encrypted_delta_with_a_redacted_secret_round_trips() {
    let fake = FakeGitHub::start(Options::default());
    let pass = [("CCSYNC_PASSPHRASE", "correct horse battery staple")];
    let laptop = Machine::new();
    let session = big_session(&laptop, 128);
    let id = session.id.clone();
    session.write_to(&laptop.project_dir());
    assert_ok(&run_with(&laptop, &fake, &pass, &["release-push"]));
    let ci = Machine::new();
    assert_ok(&run_with(&ci, &fake, &pass, &["release-restore"]));
    let secret = "ghp_7Qm2Zk9Lp4Xw8Rt3Vn6Hs1Jc5Yd0Fb2Gk7NqW";
    continue_session(
        &ci,
        &id,
        "2026-02-01T00:00:00Z",
        2,
        &format!("deploy with {secret} now"),
    );
    let out = run_with(&ci, &fake, &pass, &["release-push", "--json"]);
    assert_ok(&out);
    let pushed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            pushed[0]["copy"].as_str(),
            pushed[0]["encrypted"].as_bool(),
            pushed[0]["secretsRedacted"].as_u64()
        ),
        (Some("delta"), Some(true), Some(1)),
        "{}",
        text(&out)
    );
    let part = format!("claude-session-{id}.d2.tar.gz.age");
    assert!(
        asset_names(&fake).contains(&part),
        "{:?}",
        asset_names(&fake)
    );
    let stored: Vec<u8> = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .find(|a| a.name == part)
        .unwrap()
        .data;
    assert!(
        stored.starts_with(b"age-encryption.org/v1"),
        "the part is encrypted"
    );

    // Without the passphrase: a clear error, nothing installed.
    let before = std::fs::read(laptop.session_file(&id)).unwrap();
    let out = laptop.ccsync(&fake, &["release-restore"]);
    assert_ne!(support::machine::code(&out), 0, "{}", text(&out));
    assert_eq!(std::fs::read(laptop.session_file(&id)).unwrap(), before);
    // With it: only the part comes down, the secret redacted in the new records only.
    let mark = downloads(&fake);
    assert_ok(&run_with(&laptop, &fake, &pass, &["release-restore"]));
    assert!(
        downloaded(&fake, &mark)
            < asset_size(&fake, &format!("claude-session-{id}.d1.tar.gz.age")) / 4
    );
    let got = std::fs::read_to_string(laptop.session_file(&id)).unwrap();
    assert!(
        !got.contains(secret) && got.contains("[REDACTED:"),
        "the secret travelled"
    );
    assert!(got.starts_with(&String::from_utf8(before).unwrap()));
    let ci_text = std::fs::read_to_string(ci.session_file(&id)).unwrap();
    assert_eq!(got.lines().count(), ci_text.lines().count());
}

/// Twenty turns, alternating between two machines at different paths, each restoring the other's
/// turn first: the chain is compacted (at most 16 parts, the old parts gone), and a fresh machine
/// gets the very bytes a full copy of the same session gives.
#[test]
fn twenty_alternating_turns_compact_and_a_fresh_restore_equals_a_full_one() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let session = big_session(&laptop, 256);
    let id = session.id.clone();
    session.write_to(&laptop.project_dir());
    assert_ok(&laptop.ccsync(&fake, &["release-push"]));
    let ci = Machine::new();
    let sides = [&ci, &laptop];
    let (mut most_parts, mut compacted) = (0, false);
    for turn in 0..20 {
        let side = sides[turn % 2];
        assert_ok(&side.ccsync(&fake, &["release-restore"]));
        let at = format!("2026-02-{:02}T00:00:00Z", turn + 1);
        continue_session(side, &id, &at, 2, &format!("turn {turn}"));
        let pushed = push_json(side, &fake, &[]);
        let parts = parts_of(&fake);
        if pushed["copy"] == "full" {
            assert!(
                parts.is_empty(),
                "turn {turn}: the old chain stays: {parts:?}"
            );
            compacted = true;
        }
        most_parts = most_parts.max(parts.len());
    }
    assert!(
        compacted && most_parts <= 16,
        "compacted {compacted}, parts up to {most_parts}"
    );
    let last = sides[19 % 2];
    // The chain as it stands now (make sure it is one).
    if parts_of(&fake).is_empty() {
        continue_session(last, &id, "2026-03-01T00:00:00Z", 1, "one more");
        assert_eq!(push_json(last, &fake, &[])["copy"], "delta");
    }
    let fresh = Machine::new();
    assert_ok(&fresh.ccsync(&fake, &["release-restore"]));
    let chained = std::fs::read_to_string(fresh.session_file(&id)).unwrap();
    // The same session as one full copy (--force), restored by another fresh machine.
    assert_eq!(push_json(last, &fake, &["--force"])["copy"], "full");
    assert!(parts_of(&fake).is_empty(), "{:?}", asset_names(&fake));
    let other = Machine::new();
    assert_ok(&other.ccsync(&fake, &["release-restore"]));
    let full = std::fs::read_to_string(other.session_file(&id)).unwrap();
    assert_eq!(chained, at_paths_of(&full, &other, &fresh));
    assert_eq!(
        chained,
        at_paths_of(
            &std::fs::read_to_string(last.session_file(&id)).unwrap(),
            last,
            &fresh
        )
    );
}

/// The entries of a part asset (gzip'd tar).
fn part_entries(fake: &FakeGitHub, name: &str) -> Vec<String> {
    let data = fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .find(|a| a.name == name)
        .unwrap()
        .data;
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(&data[..]));
    let mut names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Side files travel in a part only when new or changed (a file that differs only by the paths
/// a restore mapped is unchanged), deletions travel as `removed`, and the laptop ends with CI's
/// side files and memory.
#[test]
fn side_files_and_memory_travel_in_a_part_only_when_they_changed() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let session = big_session(&laptop, 128);
    let id = session.id.clone();
    session.write_to(&laptop.project_dir());
    session.write_side_folder_2_1(&laptop.project_dir(), "a1");
    assert_ok(&laptop.ccsync(&fake, &["release-push"]));

    let ci = Machine::new();
    assert_ok(&ci.ccsync(&fake, &["release-restore"]));
    let side = |m: &Machine, rel: &str| m.project_dir().join(&id).join(rel);
    let agent = "subagents/agent-a1.jsonl";
    // Restored at CI's paths: the subagent transcript names CI's folder now.
    let ci_agent = std::fs::read_to_string(side(&ci, agent)).unwrap();
    assert!(
        ci_agent.contains(&*ci.env.repo.to_string_lossy()),
        "{ci_agent}"
    );
    std::fs::write(side(&ci, "tool-results/toolu_01.txt"), "changed output\n").unwrap();
    std::fs::write(side(&ci, "tool-results/toolu_02.txt"), "new output\n").unwrap();
    std::fs::remove_file(side(&ci, "subagents/agent-a1.meta.json")).unwrap();
    std::fs::create_dir_all(ci.project_dir().join("memory")).unwrap();
    std::fs::write(ci.project_dir().join("memory/ci.md"), "# learned on CI\n").unwrap();
    continue_session(&ci, &id, "2026-02-01T00:00:00Z", 1, "ci turn");
    assert_eq!(push_json(&ci, &fake, &[])["copy"], "delta");

    let part = format!("claude-session-{id}.d2.tar.gz");
    let mut want = vec![
        format!("{id}.jsonl"),
        format!("{id}/tool-results/toolu_01.txt"),
        format!("{id}/tool-results/toolu_02.txt"),
        "memory/ci.md".to_owned(),
    ];
    want.sort();
    assert_eq!(part_entries(&fake, &part), want);
    let meta = stable_metadata(&fake, &id);
    assert_eq!(
        meta["chain"]["parts"][0]["removed"],
        serde_json::json!([format!("{id}/subagents/agent-a1.meta.json")]),
        "{meta}"
    );

    let mark = downloads(&fake);
    assert_ok(&laptop.ccsync(&fake, &["release-restore"]));
    let got = downloaded(&fake, &mark);
    assert!(
        got - asset_size(&fake, &part) < 16 << 10,
        "the laptop downloaded {got} bytes"
    );
    let read = |m: &Machine, rel: &str| std::fs::read_to_string(side(m, rel)).ok();
    assert_eq!(
        read(&laptop, "tool-results/toolu_01.txt").as_deref(),
        Some("changed output\n")
    );
    assert_eq!(
        read(&laptop, "tool-results/toolu_02.txt").as_deref(),
        Some("new output\n")
    );
    assert_eq!(read(&laptop, "subagents/agent-a1.meta.json"), None);
    assert_eq!(
        read(&laptop, agent),
        Some(at_paths_of(&ci_agent, &ci, &laptop))
    );
    let memory = std::fs::read_to_string(laptop.project_dir().join("memory/ci.md")).unwrap();
    assert_eq!(memory, "# learned on CI\n");
    let want = at_paths_of(
        &std::fs::read_to_string(ci.session_file(&id)).unwrap(),
        &ci,
        &laptop,
    );
    assert_eq!(
        std::fs::read_to_string(laptop.session_file(&id)).unwrap(),
        want
    );
}

/// A push whose only change is memory writes a part without transcript lines; the other side
/// gets the memory (its transcript is already the same).
#[test]
fn a_memory_only_change_is_a_part_without_lines() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let session = big_session(&laptop, 128);
    let id = session.id.clone();
    session.write_to(&laptop.project_dir());
    assert_ok(&laptop.ccsync(&fake, &["release-push"]));
    let ci = Machine::new();
    assert_ok(&ci.ccsync(&fake, &["release-restore"]));
    std::fs::create_dir_all(ci.project_dir().join("memory")).unwrap();
    std::fs::write(ci.project_dir().join("memory/ci.md"), "# only memory\n").unwrap();
    let pushed = push_json(&ci, &fake, &[]);
    assert_eq!(
        (pushed["relation"].as_str(), pushed["copy"].as_str()),
        (Some("equal"), Some("delta")),
        "{pushed}"
    );
    let part = format!("claude-session-{id}.d2.tar.gz");
    assert_eq!(
        part_entries(&fake, &part),
        vec![format!("{id}.jsonl"), "memory/ci.md".to_owned()]
    );
    assert_ok(&laptop.ccsync(&fake, &["release-restore"]));
    let memory = std::fs::read_to_string(laptop.project_dir().join("memory/ci.md")).unwrap();
    assert_eq!(memory, "# only memory\n");
    assert_eq!(push_json(&laptop, &fake, &[])["action"], "up-to-date");
}

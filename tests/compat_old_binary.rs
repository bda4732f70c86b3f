//! Older ccsync releases, the real binaries built from their commits (scripts/build-old-ccsync),
//! against what this ccsync stores: the current ccsync restores and continues what ccsync 0.1 and
//! 0.2.1 wrote and they restore and continue its full copies, and the older releases meet a chain
//! copy (docs/write-protocol.md, "Delta copies"): never "same" or "up to date", a restore refused
//! with "upgrade ccsync", and nothing of the chain changed: ccsync 0.1's push at worst stores its
//! own full copy beside it, and this ccsync then keeps the copy ahead by the uuid rule.

mod everyday_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use everyday_support::{stderr, stdout, Laptop};
use serde_json::Value;
use support::hostile::sha256_hex;
use support::machine::uuids;
use support::sessions::SessionBuilder;
use support::sessions::{claude_path, project_folder};
use support::TestEnv;

/// An earlier release of ccsync: its version and the commit it is built from (also in
/// scripts/build-old-ccsync).
struct Release {
    version: &'static str,
    commit: &'static str,
}

/// The last commit before the write protocol (generations and claims).
const V0_1: Release = Release {
    version: "0.1.0",
    commit: "863183dc7937b529df6c7a6bc82b9a57842dafb7",
};

/// The last commit before delta copies.
const V0_2: Release = Release {
    version: "0.2.1",
    commit: "0a927a007ce8af0571dd36417f3292d150a43899",
};

/// The old binary, built by scripts/build-old-ccsync. Missing: the test fails in CI (`CI` set)
/// and is skipped with a message elsewhere.
fn old_binary(release: &Release) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools")
        .join(format!("ccsync-{}", release.version));
    let binary = dir.join("ccsync");
    let stamp = std::fs::read_to_string(dir.join("commit")).unwrap_or_default();
    if binary.is_file() && stamp.trim() == release.commit {
        return Some(binary);
    }
    let why = format!(
        "ccsync {} (commit {}) is not built in {}: run scripts/build-old-ccsync \
         (scripts/install-test-tools runs it); it needs that commit in this clone's history, so a \
         shallow clone must be deepened (actions/checkout: fetch-depth: 0)",
        release.version,
        release.commit,
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    None
}

/// `ccsync` (the current one, or `binary`) on the machine `env`, talking to the laptop's fake.
fn run_on(
    laptop: &Laptop,
    env: &TestEnv,
    binary: Option<&Path>,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Output {
    let mut cmd = match binary {
        Some(binary) => env.ccsync_binary_in(binary, &env.repo),
        None => env.ccsync(),
    };
    cmd.args(args)
        .env("GITHUB_API_URL", laptop.fake.api_url())
        .env("GITHUB_TOKEN", support::TOKEN)
        .env("CCSYNC_RETRY_BASE_MS", "1");
    for (key, value) in envs {
        cmd.env(key, value);
    }
    everyday_support::run(cmd)
}

/// What ccsync 0.1 and 0.2.1 stored (plain and encrypted) is restored by this ccsync on another
/// machine with every record, and this ccsync's push continues it from there.
#[test]
fn copies_written_by_older_ccsync_restore_and_continue_with_this_one() {
    for release in [V0_1, V0_2] {
        let Some(binary) = old_binary(&release) else {
            return;
        };
        for passphrase in [None, Some("correct horse battery staple")] {
            let what = format!(
                "ccsync {}, encrypted: {}",
                release.version,
                passphrase.is_some()
            );
            let envs: Vec<(&str, &str)> = passphrase
                .map(|p| vec![("CCSYNC_PASSPHRASE", p)])
                .unwrap_or_default();
            let laptop = Laptop::new();
            let session = laptop
                .session("main", "2026-03-01T10:00:00Z")
                .tool_result(5000);
            session.write_to(&laptop.project_dir());
            let push = ["release-push", "--session", &session.id];
            let output = run_on(&laptop, &laptop.env, Some(&binary), &push, &envs);
            assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
            let stored = laptop.stored_metadata(&session.id).expect("stored");
            assert_eq!(stored["tool"]["version"], release.version, "{what}");
            // 0.1 wrote no generation (read as 0); 0.2 starts at 1.
            let old_generation = stored["generation"].as_u64().unwrap_or(0);

            // A runner: another home, another checkout path.
            let ci = TestEnv::with_repo_path("runner/work/app/app");
            let restore = ["release-restore", "--session", &session.id];
            let output = run_on(&laptop, &ci, None, &restore, &envs);
            assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
            let restored =
                project_folder(&ci.claude_dir, &ci.repo).join(format!("{}.jsonl", session.id));
            assert_eq!(uuids(&restored), session.uuids, "{what}");
            let text = std::fs::read_to_string(&restored).unwrap();
            assert!(
                text.contains(&claude_path(&ci.repo)),
                "{what}: paths mapped"
            );

            // The runner continues the session and pushes with this ccsync: the old copy is
            // replaced by the next generation, which the laptop restores.
            let continued = session.clone().turns(1);
            let turn = &continued.text()[session.text().len()..];
            let turn = turn.replace(&claude_path(&laptop.env.repo), &claude_path(&ci.repo));
            std::fs::write(&restored, text + &turn).unwrap();
            let output = run_on(&laptop, &ci, None, &push, &envs);
            assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
            let stored = laptop.stored_metadata(&session.id).expect("stored");
            assert_eq!(stored["generation"], old_generation + 1, "{what}: {stored}");
            let output = run_on(&laptop, &laptop.env, None, &restore, &envs);
            assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
            let mine = laptop.project_dir().join(format!("{}.jsonl", session.id));
            assert_eq!(uuids(&mine), continued.uuids, "{what}");
        }
    }
}

/// A full copy this ccsync stores (format 1, with the fields 0.2 and 0.3 added) is restored by
/// ccsync 0.1 and 0.2.1 on another machine with every record, and their push continues it.
#[test]
fn full_copies_of_this_ccsync_restore_and_continue_with_older_ccsync() {
    for release in [V0_1, V0_2] {
        let Some(binary) = old_binary(&release) else {
            return;
        };
        let what = format!("ccsync {}", release.version);
        let laptop = Laptop::new();
        let session = laptop.session("main", "2026-03-01T10:00:00Z");
        laptop.push("main", &session.id);
        assert_eq!(laptop.stored_metadata(&session.id).unwrap()["format"], 1);

        let ci = TestEnv::with_repo_path("runner/work/app/app");
        let restore = ["release-restore", "--session", &session.id];
        let output = run_on(&laptop, &ci, Some(&binary), &restore, &[]);
        assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
        let restored =
            project_folder(&ci.claude_dir, &ci.repo).join(format!("{}.jsonl", session.id));
        assert_eq!(uuids(&restored), session.uuids, "{what}");

        let continued = session.clone().turns(1);
        let text = std::fs::read_to_string(&restored).unwrap();
        let turn = &continued.text()[session.text().len()..];
        let turn = turn.replace(&claude_path(&laptop.env.repo), &claude_path(&ci.repo));
        std::fs::write(&restored, text + &turn).unwrap();
        let push = ["release-push", "--session", &session.id];
        let output = run_on(&laptop, &ci, Some(&binary), &push, &[]);
        assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
        let output = run_on(&laptop, &laptop.env, None, &restore, &[]);
        assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
        let mine = laptop.project_dir().join(format!("{}.jsonl", session.id));
        assert_eq!(uuids(&mine), continued.uuids, "{what}");
    }
}

// ---- A chain copy (docs/write-protocol.md, "Delta copies") against the older releases ----------

/// A release holding one session as a chain, written by this ccsync's push: the base (a full
/// copy pushed as generation 1, renamed `claude-session-<uuid>.d1.tar.gz` when the chain began)
/// and a part that adds one turn (`.d2`), under `claude-session-chain-<uuid>.json`, with the
/// signpost under the stable names (docs/write-protocol.md, "Delta copies"). Every asset is two
/// hours old, so no leftover rule protects it by its youth.
struct Chain {
    laptop: Laptop,
    id: String,
    /// The session as the base holds it.
    base: SessionBuilder,
    /// The session as the whole chain holds it.
    full: SessionBuilder,
}

fn chain_copy() -> Chain {
    chain_copy_at("2026-03-01T10:00:00Z")
}

/// [`chain_copy`] of a session whose first record is dated `at`: the base pushed with 40 turns,
/// so that one more turn is a small part next to it (a push compacts a chain whose parts outgrow
/// half the base), then that turn pushed as a part.
fn chain_copy_at(at: &str) -> Chain {
    chain_copy_with(at, &[])
}

/// [`chain_copy_at`], pushed with `envs` (a passphrase: an encrypted chain).
fn chain_copy_with(at: &str, envs: &[(&str, &str)]) -> Chain {
    let laptop = Laptop::new();
    let base = laptop.session("main", at).turns(40);
    let push = |session: &SessionBuilder| {
        session.write_to(&laptop.project_dir());
        let args = ["release-push", "--branch", "main", "--session", &base.id];
        let output = run_on(&laptop, &laptop.env, None, &args, envs);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    };
    push(&base);
    let full = base.clone().turns(1);
    push(&full);
    let stored = laptop.stored_metadata(&base.id).expect("stored");
    assert_eq!(
        stored["format"], 2,
        "the second push wrote a part: {stored}"
    );
    let fake = &laptop.fake;
    for asset in &fake.releases("octo", "app")[0].assets {
        fake.age_asset(asset.id, 2 * 3600);
    }
    Chain {
        id: base.id.clone(),
        laptop,
        base,
        full,
    }
}

/// Every release and asset the fake holds: release id and tag, each asset's id, name, state and
/// content sha256.
type Assets = Vec<(u64, String, Vec<(u64, String, String, String)>)>;

fn assets(laptop: &Laptop) -> Assets {
    laptop
        .fake
        .releases("octo", "app")
        .into_iter()
        .map(|r| {
            let assets = r
                .assets
                .iter()
                .map(|a| (a.id, a.name.clone(), a.state.clone(), sha256_hex(&a.data)))
                .collect();
            (r.id, r.tag_name, assets)
        })
        .collect()
}

/// What the laptop holds of the session when the older ccsync runs.
#[derive(Clone, Copy, Debug)]
enum Local {
    /// Nothing of the session.
    None,
    /// The base's records only: behind the chain.
    Behind,
    /// The chain's records: the same session.
    Same,
    /// One more turn than the chain.
    Ahead,
    /// The base's records and a turn of its own: diverged from the chain.
    Diverged,
}

impl Local {
    /// The session this laptop holds, written to its project folder (`None`: removed).
    fn write(self, chain: &Chain) -> Option<SessionBuilder> {
        let dir = chain.laptop.project_dir();
        let session = match self {
            Local::None => {
                std::fs::remove_dir_all(&dir).unwrap();
                return None;
            }
            Local::Behind => chain.base.clone(),
            Local::Same => chain.full.clone(),
            Local::Ahead => chain.full.clone().turns(1),
            Local::Diverged => chain.base.clone().turns(1),
        };
        session.write_to(&dir);
        Some(session)
    }
}

/// A fresh chain, the laptop holding `local`, then `args` (`ID` stands for the session id) run by
/// `binary`: the output, and the release's assets before and after.
fn against_chain(binary: &Path, local: Local, args: &[&str]) -> (Output, Assets, Assets) {
    let chain = chain_copy();
    local.write(&chain);
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "ID" { chain.id.as_str() } else { a })
        .collect();
    let before = assets(&chain.laptop);
    let env = &chain.laptop.env;
    let output = run_on(&chain.laptop, env, Some(binary), &args, &[]);
    (output, before, assets(&chain.laptop))
}

/// Never a word that says the local copy and the chain agree.
fn assert_never_up_to_date(output: &Output, what: &str) {
    let text = format!("{}{}", stdout(output), stderr(output)).to_lowercase();
    for wrong in ["up to date", "up-to-date", "\"equal\"", "same as"] {
        assert!(!text.contains(wrong), "{what}: says {wrong:?}: {text}");
    }
}

/// The crafted chain is one this ccsync reads: a fresh machine restores every record of it.
#[test]
fn the_chain_the_older_releases_meet_restores_with_this_ccsync() {
    let chain = chain_copy();
    let ci = TestEnv::with_repo_path("runner/work/app/app");
    let restore = ["release-restore", "--session", &chain.id];
    let output = run_on(&chain.laptop, &ci, None, &restore, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let restored = project_folder(&ci.claude_dir, &ci.repo).join(format!("{}.jsonl", chain.id));
    assert_eq!(uuids(&restored), chain.full.uuids);
}

/// ccsync 0.1 and 0.2 read a chain as a copy they cannot read, never as the same session: list
/// warns to upgrade, restore exits 1 saying so and installs nothing, and neither changes the
/// release, whatever the laptop holds.
#[test]
fn older_ccsync_never_calls_a_chain_up_to_date_nor_restores_it() {
    for release in [V0_1, V0_2] {
        let Some(binary) = old_binary(&release) else {
            return;
        };
        let cases: [(Local, &[&str]); 7] = [
            (Local::None, &["release-list"]),
            (Local::Same, &["release-list", "--json"]),
            (Local::None, &["release-restore"]),
            (Local::Behind, &["release-restore"]),
            (Local::Behind, &["release-restore", "--session", "ID"]),
            (Local::Same, &["release-restore", "--session", "ID"]),
            (
                Local::Same,
                &["release-restore", "--session", "ID", "--force"],
            ),
        ];
        // Commands 0.1 did not have.
        let newer: [(Local, &[&str]); 4] = [
            (Local::Same, &["status"]),
            (Local::Behind, &["status", "--json"]),
            (Local::None, &["release-show", "--session", "ID"]),
            (
                Local::None,
                &["release-export", "--session", "ID", "--output", "exported"],
            ),
        ];
        let newer = if release.version == "0.1.0" {
            &[][..]
        } else {
            &newer[..]
        };
        for (local, args) in cases.iter().chain(newer) {
            let (local, args) = (*local, *args);
            let what = format!("ccsync {} {args:?}, local {local:?}", release.version);
            let (output, before, after) = against_chain(&binary, local, args);
            assert_never_up_to_date(&output, &what);
            assert!(
                stderr(&output).contains("upgrade ccsync"),
                "{what}: {}",
                stderr(&output)
            );
            match args[0] {
                "release-restore" => {
                    assert_eq!(output.status.code(), Some(1), "{what}: {}", stderr(&output))
                }
                "release-show" | "release-export" => {
                    assert_ne!(output.status.code(), Some(0), "{what}: {}", stderr(&output))
                }
                _ => {}
            }
            assert_eq!(after, before, "{what}: the release changed");
        }
    }
}

/// ccsync 0.2 refuses to push over a chain, whether the laptop holds the same session, more of it
/// or less (exit 1: the release is not its own by the body marker; exit 4 without that marker: a
/// stable archive no metadata it can read describes), and changes nothing.
#[test]
fn ccsync_0_2_refuses_to_push_over_a_chain() {
    let Some(binary) = old_binary(&V0_2) else {
        return;
    };
    for local in [Local::Same, Local::Ahead, Local::Behind] {
        for args in [&["release-push", "--session", "ID"][..], &["release-push"]] {
            let what = format!("ccsync 0.2.1 {args:?}, local {local:?}");
            let (output, before, after) = against_chain(&binary, local, args);
            // Exit 1: the release's body marker is not 0.2's (a release holding a chain); exit 4:
            // a stable archive that no metadata it can read describes.
            let code = output.status.code();
            assert!(
                matches!(code, Some(1 | 4)),
                "{what}: {code:?} {}",
                stderr(&output)
            );
            assert_never_up_to_date(&output, &what);
            assert_eq!(after, before, "{what}: the release changed");
        }
    }
}

/// What the stable metadata name holds (a chain's signpost, or a full copy's metadata).
fn stable_metadata(laptop: &Laptop, id: &str) -> Option<Value> {
    let name = format!("claude-session-metadata-{id}.json");
    laptop
        .fake
        .releases("octo", "app")
        .into_iter()
        .flat_map(|r| r.assets)
        .find(|a| a.name == name)
        .map(|a| serde_json::from_slice(&a.data).unwrap())
}

/// The assets of the chain: every asset of the release but those under the two names ccsync 0.1
/// writes (`claude-session-<uuid>.tar.gz` or `.tar.gz.age`, `claude-session-metadata-<uuid>.json`).
fn chain_assets(assets: &Assets, id: &str) -> Assets {
    let old_names = [
        format!("claude-session-{id}.tar.gz"),
        format!("claude-session-{id}.tar.gz.age"),
        format!("claude-session-metadata-{id}.json"),
    ];
    assets
        .iter()
        .map(|(release, tag, assets)| {
            let kept = assets
                .iter()
                .filter(|(_, name, _, _)| !old_names.contains(name))
                .cloned()
                .collect();
            (*release, tag.clone(), kept)
        })
        .collect()
}

/// ccsync 0.1 skips metadata it cannot read (the chain's signpost) and replaces by name whatever
/// it finds under its two stable names: its push stores its own full copy there (exit 0, never
/// "up to date") beside the chain, whose assets live under names 0.1 never writes or deletes
/// and stay exactly as they were, whatever the laptop holds. This ccsync then applies the uuid
/// rule between the two copies: a fresh machine restores the one that holds the other's records
/// (the chain, or 0.1's copy from a laptop that was ahead); the laptop's push is up to date, a
/// copy that supersedes both, or the conflict of a laptop behind; two copies that diverged are a
/// conflict for restore and push, nothing removed, until `--force` from one side.
#[test]
fn ccsync_0_1_never_pushes_over_a_chain() {
    let Some(binary) = old_binary(&V0_1) else {
        return;
    };
    let all = [Local::Same, Local::Ahead, Local::Behind, Local::Diverged];
    old_push_beside_a_chain(&binary, &all, &[]);
}

/// The same with encryption: the chain's links and 0.1's copy are `.age` (0.1 deletes the plain
/// archive name, the signpost, as its other format), and this ccsync decrypts 0.1's copy to
/// compare it. (A laptop ahead and one behind: each encrypted run costs scrypt's work.)
#[test]
fn ccsync_0_1_never_pushes_over_an_encrypted_chain() {
    let Some(binary) = old_binary(&V0_1) else {
        return;
    };
    let pass = [("CCSYNC_PASSPHRASE", "correct horse battery staple")];
    old_push_beside_a_chain(&binary, &[Local::Ahead, Local::Behind], &pass);
}

fn old_push_beside_a_chain(binary: &Path, locals: &[Local], envs: &[(&str, &str)]) {
    for &local in locals {
        let what = format!("ccsync 0.1.0 release-push {envs:?}, local {local:?}");
        let chain = chain_copy_with("2026-03-01T10:00:00Z", envs);
        let held = local.write(&chain).unwrap();
        let before = assets(&chain.laptop);
        let laptop = &chain.laptop;
        let output = run_on(laptop, &laptop.env, Some(binary), &["release-push"], envs);
        assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
        assert_never_up_to_date(&output, &what);
        let after = assets(laptop);
        assert_eq!(
            chain_assets(&after, &chain.id),
            chain_assets(&before, &chain.id),
            "{what}: the chain changed"
        );
        let beside = stable_metadata(laptop, &chain.id).unwrap();
        assert_eq!(beside["tool"]["version"], "0.1.0", "{what}: {beside}");
        this_ccsync_after_0_1_pushed_beside(&chain, local, &held, envs, &what);
    }
}

/// The uuid rule between a chain and ccsync 0.1's copy beside it, applied by this ccsync.
fn this_ccsync_after_0_1_pushed_beside(
    chain: &Chain,
    local: Local,
    held: &SessionBuilder,
    envs: &[(&str, &str)],
    what: &str,
) {
    let laptop = &chain.laptop;
    let id = chain.id.as_str();
    let json = |args: &[&str]| {
        let output = run_on(laptop, &laptop.env, None, args, envs);
        assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
        serde_json::from_str::<Value>(&stdout(&output)).unwrap()
    };
    // The laptop's status against both copies.
    let status = json(&["status", "--json"]);
    let want = match local {
        Local::Same => "equal",
        Local::Ahead => "local-ahead",
        Local::Behind => "remote-ahead",
        _ => "diverged",
    };
    assert_eq!(status["sessions"][0]["status"], want, "{what}: {status}");
    if !matches!(local, Local::Diverged) {
        // What is shown and listed is the copy ahead.
        let records = if matches!(local, Local::Ahead) {
            held.line_count()
        } else {
            chain.full.line_count()
        };
        let shown = json(&["release-show", "--session", id, "--json"]);
        assert_eq!(shown["records"], records, "{what}: {shown}");
        let listed = json(&["release-list", "--json"]);
        assert_eq!(
            listed["sessions"][0]["records"], records,
            "{what}: {listed}"
        );
    }
    let restore = ["release-restore", "--session", id];
    let fresh_restore = || {
        let fresh = TestEnv::with_repo_path("runner/work/app/app");
        let output = run_on(laptop, &fresh, None, &restore, envs);
        let file = project_folder(&fresh.claude_dir, &fresh.repo).join(format!("{id}.jsonl"));
        (output, file.is_file().then(|| uuids(&file)))
    };
    let (output, restored) = fresh_restore();
    let ahead = match local {
        Local::Same | Local::Behind => &chain.full,
        Local::Ahead => held,
        _ => {
            // Diverged: a conflict, nothing installed, nothing removed.
            let before = assets(laptop);
            assert_eq!(output.status.code(), Some(4), "{what}: {}", stderr(&output));
            assert!(stderr(&output).contains("diverged"), "{what}");
            assert_eq!(restored, None, "{what}");
            let push = run_on(laptop, &laptop.env, None, &["release-push"], envs);
            assert_eq!(push.status.code(), Some(4), "{what}: {}", stderr(&push));
            assert!(stderr(&push).contains("diverged"), "{what}");
            assert_eq!(
                assets(laptop),
                before,
                "{what}: a conflict removed something"
            );
            let force = ["release-push", "--force"];
            let push = run_on(laptop, &laptop.env, None, &force, envs);
            assert_eq!(push.status.code(), Some(0), "{what}: {}", stderr(&push));
            assert_eq!(fresh_restore().1.as_ref(), Some(&held.uuids), "{what}");
            return;
        }
    };
    assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
    assert_eq!(restored.as_ref(), Some(&ahead.uuids), "{what}");
    // The laptop pushes with this ccsync: up to date (it holds the chain), a copy that
    // supersedes both (it holds 0.1's copy, ahead), or the conflict of a machine behind.
    let push = run_on(laptop, &laptop.env, None, &["release-push", "--json"], envs);
    let code = push.status.code();
    match local {
        Local::Behind => assert_eq!(code, Some(4), "{what}: {}", stderr(&push)),
        _ => assert_eq!(code, Some(0), "{what}: {}", stderr(&push)),
    }
    let action = serde_json::from_str::<Value>(&stdout(&push))
        .ok()
        .and_then(|v| v[0]["action"].as_str().map(str::to_owned));
    if matches!(local, Local::Ahead) {
        assert_eq!(action.as_deref(), Some("uploaded"), "{what}");
    }
    // One copy is left, the one ahead: 0.1's copy went once a copy holding it was current.
    let stable = stable_metadata(laptop, id).unwrap();
    assert_ne!(stable["tool"]["version"], "0.1.0", "{what}: {stable}");
    let stored = laptop.stored_metadata(id).unwrap();
    assert_eq!(stored["uuidCount"], ahead.uuids.len(), "{what}: {stored}");
    assert_eq!(fresh_restore().1.as_ref(), Some(&ahead.uuids), "{what}");
}

/// A chain pushed to today in a release made 60 days ago: this ccsync keeps it under
/// `--older-than 30` (its newest activity is today).
fn recent_chain_in_an_old_release() -> Chain {
    let at = (chrono::Utc::now() - chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let chain = chain_copy_at(&at);
    let release = chain.laptop.fake.releases("octo", "app")[0].id;
    chain.laptop.fake.age_release(release, 60 * 86_400);
    chain
}

#[test]
fn this_ccsync_keeps_a_recent_chain_in_an_old_release() {
    let chain = recent_chain_in_an_old_release();
    let before = assets(&chain.laptop);
    let prune = ["release-prune", "--older-than", "30", "--yes"];
    let output = run_on(&chain.laptop, &chain.laptop.env, None, &prune, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(assets(&chain.laptop), before);
}

/// ccsync 0.1 and 0.2 count a session whose metadata they cannot read as none and date its
/// release by the release's creation, so their `release-prune --older-than N` would delete a
/// release whose chain was pushed to today once the release is N days old. The body marker of a
/// release holding a chain (`<!-- ccsync:session-release:2 -->`, not theirs) makes it foreign to
/// both: they leave it alone.
#[test]
fn older_ccsync_never_prunes_a_recent_chain() {
    let mut deleted = Vec::new();
    for release in [V0_1, V0_2] {
        let Some(binary) = old_binary(&release) else {
            return;
        };
        let chain = recent_chain_in_an_old_release();
        let before = assets(&chain.laptop);
        let mut prune = vec!["release-prune", "--older-than", "30"];
        if release.version != "0.1.0" {
            prune.push("--yes");
        }
        let output = run_on(&chain.laptop, &chain.laptop.env, Some(&binary), &prune, &[]);
        if assets(&chain.laptop) != before {
            let out = stderr(&output);
            deleted.push(format!("ccsync {} {prune:?}: {out}", release.version));
        }
    }
    assert!(deleted.is_empty(), "the release changed: {deleted:#?}");
}

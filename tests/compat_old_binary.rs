//! Older ccsync releases, the real binaries built from their commits (scripts/build-old-ccsync),
//! against what this ccsync stores: the current ccsync restores and continues what ccsync 0.1 and
//! 0.2.1 wrote and they restore and continue its full copies, and the older releases meet a chain
//! copy (docs/write-protocol.md, "Delta copies"): never "same" or "up to date", a restore refused
//! with "upgrade ccsync", nothing changed. What they still do wrong to a chain is measured by the
//! `#[ignore]`d tests (run with `--ignored`).

mod everyday_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use everyday_support::{stderr, stdout, Laptop};
use serde_json::{json, Value};
use support::hostile::{sha256_hex, tar_gz};
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

/// A release holding one session as a chain: the base (a full copy this ccsync pushed as
/// generation 1) and a part that adds one turn, under format-2 stable metadata. Written by this ccsync's own
/// push when it writes delta parts (so the test follows the layout delta pushes really write),
/// else crafted as docs/write-protocol.md lays it out (base under the stable archive name, part
/// `claude-session-<uuid>.d2.tar.gz`). Every asset is two hours old, so no leftover rule protects
/// it by its youth.
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

/// [`chain_copy`] of a session whose first record is dated `at`.
fn chain_copy_at(at: &str) -> Chain {
    let chain = pushed_chain(at).unwrap_or_else(|| crafted_chain(at));
    let fake = &chain.laptop.fake;
    for asset in &fake.releases("octo", "app")[0].assets {
        fake.age_asset(asset.id, 2 * 3600);
    }
    chain
}

/// The laptop with the base pushed (generation 1): 40 turns, so that one more turn is a small
/// part next to it (a push compacts a chain whose parts outgrow half the base).
fn base_pushed(at: &str) -> (Laptop, SessionBuilder, SessionBuilder) {
    let laptop = Laptop::new();
    let base = laptop.session("main", at).turns(40);
    base.write_to(&laptop.project_dir());
    laptop.push("main", &base.id);
    let full = base.clone().turns(1);
    (laptop, base, full)
}

/// Whether this ccsync writes delta parts, probed once per test run.
static WRITES_CHAINS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// The chain as this ccsync's push writes it, or `None` when its push writes a full copy.
fn pushed_chain(at: &str) -> Option<Chain> {
    if WRITES_CHAINS.get() == Some(&false) {
        return None;
    }
    let (laptop, base, full) = base_pushed(at);
    full.write_to(&laptop.project_dir());
    laptop.push("main", &base.id);
    let chained = laptop.stored_metadata(&base.id).expect("stored")["format"] == 2;
    WRITES_CHAINS.get_or_init(|| chained);
    chained.then(|| Chain {
        id: base.id.clone(),
        laptop,
        base,
        full,
    })
}

/// The chain crafted from a pushed base as docs/write-protocol.md lays it out.
fn crafted_chain(at: &str) -> Chain {
    let (laptop, base, full) = base_pushed(at);
    let id = base.id.clone();
    let appended = full.text().as_bytes()[base.text().len()..].to_vec();
    let (part, unpacked) = tar_gz(&[(&format!("{id}.jsonl"), appended)]);
    let part_name = format!("claude-session-{id}.d2.tar.gz");

    let release = laptop.fake.releases("octo", "app").remove(0);
    let meta_name = format!("claude-session-metadata-{id}.json");
    let stored = release.assets.iter().find(|a| a.name == meta_name).unwrap();
    let mut meta: Value = serde_json::from_slice(&stored.data).unwrap();
    let roots = json!({
        "cwd": meta["cwd"], "repoRoot": meta["repoRoot"],
        "claudeProjectDir": meta["claudeProjectDir"], "claudeDir": meta["claudeDir"],
        "claudeTempDir": meta["claudeTempDir"],
    });
    let after = |s: &SessionBuilder| {
        let chain: String = s.uuids.iter().map(|u| format!("{u}\n")).collect();
        json!({"records": s.line_count(), "lines": s.line_count(),
               "uuidCount": s.uuids.len(), "uuidChainSha256": sha256_hex(chain.as_bytes())})
    };
    let (base_after, full_after) = (after(&base), after(&full));
    meta["chain"] = json!({
        "base": {"generation": meta["generation"], "after": base_after, "roots": roots},
        "parts": [{"generation": 2, "name": part_name, "size": part.len(),
                   "sha256": sha256_hex(&part), "unpackedSize": unpacked,
                   "roots": roots, "after": full_after}],
    });
    meta["parent"] =
        json!({"generation": meta["generation"], "archiveSha256": meta["archive"]["sha256"]});
    meta["format"] = json!(2);
    meta["generation"] = json!(2);
    for field in ["records", "lines", "uuidCount", "uuidChainSha256"] {
        meta[field] = full_after[field].clone();
    }
    meta["lastUuid"] = json!(full.uuids.last());
    let last = full.last_timestamp().format("%Y-%m-%dT%H:%M:%S%.3fZ");
    meta["lastTimestamp"] = json!(last.to_string());

    support::delete_asset(&laptop.fake.api_url(), stored.id);
    let fake = &laptop.fake;
    let data = serde_json::to_vec_pretty(&meta).unwrap();
    fake.seed_asset("octo", "app", release.id, &meta_name, &data, "uploaded");
    fake.seed_asset("octo", "app", release.id, &part_name, &part, "uploaded");
    Chain {
        laptop,
        id,
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
}

/// A fresh chain, the laptop holding `local`, then `args` (`ID` stands for the session id) run by
/// `binary`: the output, and the release's assets before and after.
fn against_chain(binary: &Path, local: Local, args: &[&str]) -> (Output, Assets, Assets) {
    let chain = chain_copy();
    let dir = chain.laptop.project_dir();
    match local {
        Local::None => std::fs::remove_dir_all(&dir).unwrap(),
        Local::Behind => drop(chain.base.write_to(&dir)),
        Local::Same => drop(chain.full.write_to(&dir)),
        Local::Ahead => drop(chain.full.clone().turns(1).write_to(&dir)),
    }
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

/// KNOWN DEFECT of the chain layout (ignored until the layout changes): ccsync 0.1 skips metadata
/// it cannot read and replaces, by name, whatever it finds under its two stable names. Its push
/// exits 0 ("pushed"), deletes the chain's base and metadata and uploads its own full copy; the
/// part stays behind, referenced by nothing. From a laptop that was behind, the chain's newer
/// records are gone from the release.
#[test]
#[ignore = "ccsync 0.1's push replaces a chain under the stable names (see the comment)"]
fn ccsync_0_1_never_pushes_over_a_chain() {
    let Some(binary) = old_binary(&V0_1) else {
        return;
    };
    let mut changed = Vec::new();
    for local in [Local::Same, Local::Ahead, Local::Behind] {
        let what = format!("ccsync 0.1.0 release-push, local {local:?}");
        let (output, before, after) = against_chain(&binary, local, &["release-push"]);
        assert_never_up_to_date(&output, &what);
        if after != before {
            changed.push(format!("{what}: exit {:?}", output.status.code()));
        }
    }
    assert!(changed.is_empty(), "the release changed: {changed:#?}");
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

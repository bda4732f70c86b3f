//! Older ccsync releases, the real binaries built from their commits (scripts/build-old-ccsync),
//! against what this ccsync stores: the current ccsync restores and continues what ccsync 0.1 and
//! 0.2.1 wrote.

mod everyday_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use everyday_support::{stderr, Laptop};
use support::machine::uuids;
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

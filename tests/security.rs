//! Security and robustness through the `ccsync` binary against the fake GitHub: planted secrets
//! never reach an uploaded archive, `--secrets refuse` uploads nothing, encryption round trips and
//! fails clearly without the right passphrase, corrupted downloads write nothing, faults and
//! concurrent pushes lose nothing, fork pull requests restore nothing and exit 0.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use fake_github::{FakeGitHub, Fault, FaultKind, Options};
use support::sessions::{project_folder, SessionBuilder};
use support::{assert_no_token, TestEnv, TOKEN};

/// One secret of every rule, none of them real.
fn planted() -> Vec<(&'static str, String)> {
    vec![
        ("aws-access-key", "AKIAZ7QPLMXW3RT9VB2K".to_owned()),
        (
            "github-token",
            format!(
                "ghp_{}",
                "Xq7Lm2Pz9Rt4Vb8Nc1Kd5Hf3Jg6Ws0Ye2Ua7Q0000"[..36].to_owned()
            ),
        ),
        (
            "github-token",
            format!(
                "github_pat_{}",
                "11AQ7ZK2W0h8Rm4Lx9Tp_Vn3cJ6sWq1Yk8Dz5Bf2Gt7Hr4Mp9Ne6Ls3Xw"
            ),
        ),
        (
            "anthropic-api-key",
            format!(
                "sk-ant-api03-{}",
                "Zq9Lm4Tx7Wb2Kp8Rn5Vd3Hs6Jc1Yf0Qg".repeat(3)
            ),
        ),
        (
            "openai-api-key",
            format!("sk-proj-{}", "Ab3Cd5Xq9Lm2Wz7Kp4Rt8Vn6Hs1Jy0Fb"),
        ),
        ("slack-token", "xoxb-482019375612-Qm7ZkW2pLx9RtV".to_owned()),
        (
            "google-api-key",
            format!("AIza{}", "SyD3xAmPlE0kEy_abc-DEF1234567890123"),
        ),
        (
            "stripe-key",
            format!("sk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc"),
        ),
        ("ccsync-token", TOKEN.to_owned()),
    ]
}

const PRIVATE_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBvbmx5LWEtdGVzdC1rZXktbm90LXJlYWwtYXQtYWxsAAAAAAAAAAA=\n-----END OPENSSH PRIVATE KEY-----";

struct Laptop {
    env: TestEnv,
    api_url: String,
}

impl Laptop {
    fn new(fake: &FakeGitHub) -> Self {
        Laptop {
            env: TestEnv::with_repo_path("src/app"),
            api_url: fake.api_url(),
        }
    }

    fn project_dir(&self) -> PathBuf {
        project_folder(&self.env.claude_dir, &self.env.repo)
    }

    fn ccsync(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = self.env.ccsync();
        cmd.args(args)
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("CCSYNC_RETRY_BASE_MS", "1");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("ccsync runs");
        assert_no_token(&output);
        output
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stderr:\n{}",
        stderr(output)
    );
}

/// Every byte of every file in a `.tar.gz`, decompressed, as one string.
fn archive_text(bytes: &[u8]) -> String {
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(bytes));
    let mut all = String::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        all.push_str(&text);
    }
    all
}

fn asset_data(fake: &FakeGitHub, suffix: &str) -> Vec<u8> {
    fake.releases("octo", "app")
        .iter()
        .flat_map(|r| r.assets.clone())
        .find(|a| a.name.ends_with(suffix) && a.state == "uploaded")
        .unwrap_or_else(|| panic!("no asset ending in {suffix}"))
        .data
}

fn session_with_secrets(laptop: &Laptop) -> SessionBuilder {
    let mut session = SessionBuilder::new(&laptop.env.repo).turns(1);
    for (_, secret) in planted() {
        session = session.user(&format!("here is the key: {secret} (keep it safe)"));
    }
    session = session.assistant(&format!(
        "I found this in id_ed25519:\n{PRIVATE_KEY}\nDo not commit it."
    ));
    session
}

#[test]
fn planted_secrets_never_reach_the_uploaded_archive() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Laptop::new(&fake);
    let session = session_with_secrets(&laptop);
    let file = session.write_to(&laptop.project_dir());
    // A secret in a side file too.
    let side = session.write_side_folder_2_1(&laptop.project_dir(), "abc123");
    std::fs::write(
        laptop.project_dir().join(&side[2]),
        format!("aws key AKIAZ7QPLMXW3RT9VB2K\n{PRIVATE_KEY}\n"),
    )
    .unwrap();
    let before = std::fs::read(&file).unwrap();

    let output = laptop.ccsync(&["release-push"], &[]);
    assert_code(&output, 0);
    let report = stderr(&output);
    for (rule, secret) in planted() {
        assert!(
            report.contains(rule),
            "the report names rule {rule}: {report}"
        );
        assert!(
            !report.contains(&secret),
            "the report never shows a value: {report}"
        );
    }
    assert!(report.contains("private-key"), "{report}");
    assert!(
        report.contains("line "),
        "findings carry their line: {report}"
    );

    let uploaded = archive_text(&asset_data(&fake, ".tar.gz"));
    for (rule, secret) in planted() {
        assert!(
            !uploaded.contains(&secret),
            "{rule} leaked into the archive"
        );
        assert!(
            uploaded.contains(&format!("[REDACTED:{rule}]")),
            "{rule} replaced by its marker"
        );
    }
    assert!(
        !uploaded.contains("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"),
        "the private key body is gone"
    );
    // The redacted session is still valid JSON, line by line.
    let session_text = {
        let bytes = asset_data(&fake, ".tar.gz");
        let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(&bytes[..]));
        let mut text = String::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry
                .path()
                .unwrap()
                .to_string_lossy()
                .ends_with(&format!("{}.jsonl", session.id))
            {
                entry.read_to_string(&mut text).unwrap();
            }
        }
        text
    };
    for line in session_text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("invalid JSON after redaction ({e}): {line}"));
    }
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the local file is never changed"
    );
}

#[test]
fn refuse_uploads_nothing_and_exits_5() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Laptop::new(&fake);
    session_with_secrets(&laptop).write_to(&laptop.project_dir());
    let output = laptop.ccsync(&["release-push", "--secrets", "refuse"], &[]);
    assert_code(&output, 5);
    assert!(
        stderr(&output).contains("nothing was uploaded"),
        "{}",
        stderr(&output)
    );
    let assets: usize = fake
        .releases("octo", "app")
        .iter()
        .map(|r| r.assets.len())
        .sum();
    assert_eq!(assets, 0, "no asset uploaded");
}

#[test]
fn encrypted_round_trip_and_clear_errors_without_the_passphrase() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Laptop::new(&fake);
    let session = SessionBuilder::new(&laptop.env.repo).turns(2);
    session.write_to(&laptop.project_dir());
    let pass = [("CCSYNC_PASSPHRASE", "correct horse battery staple")];
    assert_code(&laptop.ccsync(&["release-push"], &pass), 0);

    let names: Vec<String> = fake.releases("octo", "app")[0]
        .assets
        .iter()
        .map(|a| a.name.clone())
        .collect();
    assert!(
        names.contains(&format!("claude-session-{}.tar.gz.age", session.id)),
        "{names:?}"
    );
    let encrypted = asset_data(&fake, ".tar.gz.age");
    assert!(
        encrypted.starts_with(b"age-encryption.org/v1"),
        "an age file"
    );
    assert!(
        !String::from_utf8_lossy(&encrypted).contains("question 0"),
        "no plain text inside"
    );
    let meta: serde_json::Value = serde_json::from_slice(&asset_data(&fake, ".json")).unwrap();
    assert_eq!(meta["archive"]["encryption"], "age-scrypt");

    let ci = Laptop {
        env: TestEnv::with_repo_path("runner/app"),
        api_url: fake.api_url(),
    };
    let ci_dir = project_folder(&ci.env.claude_dir, &ci.env.repo);
    let missing = ci.ccsync(&["release-restore"], &[]);
    assert_code(&missing, 1);
    assert!(
        stderr(&missing).contains("CCSYNC_PASSPHRASE"),
        "says what to set: {}",
        stderr(&missing)
    );
    assert!(
        !ci_dir.exists() || std::fs::read_dir(&ci_dir).unwrap().next().is_none(),
        "nothing written"
    );

    let wrong = ci.ccsync(&["release-restore"], &[("CCSYNC_PASSPHRASE", "wrong")]);
    assert_code(&wrong, 1);
    assert!(stderr(&wrong).contains("decrypt"), "{}", stderr(&wrong));
    assert!(
        !ci_dir.join(format!("{}.jsonl", session.id)).exists(),
        "nothing written"
    );
    assert_no_leftovers(&ci.env.claude_dir.join("projects"));

    assert_code(&ci.ccsync(&["release-restore"], &pass), 0);
    assert!(ci_dir.join(format!("{}.jsonl", session.id)).is_file());
}

/// No temporary folder or half-written file is left in the Claude projects folder.
fn assert_no_leftovers(projects: &Path) {
    if !projects.exists() {
        return;
    }
    for entry in walk(projects) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(".tmp") && !name.starts_with(".ccsync"),
            "leftover {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn a_corrupted_archive_is_refused_with_nothing_written() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Laptop::new(&fake);
    let session = SessionBuilder::new(&laptop.env.repo).turns(2);
    session.write_to(&laptop.project_dir());
    assert_code(&laptop.ccsync(&["release-push"], &[]), 0);
    let archive = fake.releases("octo", "app")[0]
        .assets
        .iter()
        .find(|a| a.name.ends_with(".tar.gz"))
        .unwrap()
        .id;
    fake.corrupt_asset(archive);

    let ci = Laptop {
        env: TestEnv::with_repo_path("runner/app"),
        api_url: fake.api_url(),
    };
    let output = ci.ccsync(&["release-restore"], &[]);
    assert_code(&output, 1);
    let dir = project_folder(&ci.env.claude_dir, &ci.env.repo);
    assert!(!dir.join(format!("{}.jsonl", session.id)).exists());
    assert_no_leftovers(&ci.env.claude_dir.join("projects"));
}

#[test]
fn push_and_restore_survive_server_errors_rate_limits_and_dropped_connections() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Laptop::new(&fake);
    let session = SessionBuilder::new(&laptop.env.repo).turns(3);
    session.write_to(&laptop.project_dir());
    fake.add_fault(Fault::new("GET", "/repos/*/releases", FaultKind::Status).times(2));
    fake.add_fault(Fault::new("POST", "/repos/*/assets*", FaultKind::CutUpload));
    fake.add_fault(
        Fault::new(
            "PATCH",
            "/repos/*/releases/assets/*",
            FaultKind::SecondaryRateLimit,
        )
        .retry_after(1),
    );
    fake.add_fault(Fault::new("DELETE", "/repos/*", FaultKind::DropAfter));
    assert_code(&laptop.ccsync(&["release-push"], &[]), 0);

    let ci = Laptop {
        env: TestEnv::with_repo_path("runner/app"),
        api_url: fake.api_url(),
    };
    fake.add_fault(Fault::new("GET", "/repos/*/releases/assets/*", FaultKind::Drop).times(2));
    fake.add_fault(
        Fault::new("GET", "/repos/*/releases", FaultKind::TooManyRequests).retry_after(1),
    );
    assert_code(&ci.ccsync(&["release-restore"], &[]), 0);
    let restored =
        project_folder(&ci.env.claude_dir, &ci.env.repo).join(format!("{}.jsonl", session.id));
    assert_eq!(
        std::fs::read_to_string(restored).unwrap().lines().count(),
        session.line_count()
    );

    for release in fake.releases("octo", "app") {
        for asset in &release.assets {
            assert_eq!(
                asset.state, "uploaded",
                "no starter asset left: {}",
                asset.name
            );
        }
    }
}

#[test]
fn two_concurrent_pushes_on_one_branch_both_land() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Laptop::new(&fake);
    let first = SessionBuilder::new(&laptop.env.repo)
        .at("2026-01-01T00:00:00Z")
        .turns(2);
    let second = SessionBuilder::new(&laptop.env.repo)
        .at("2026-01-02T00:00:00Z")
        .turns(2);
    first.write_to(&laptop.project_dir());
    second.write_to(&laptop.project_dir());
    // Widen the race: both see no release, both create one.
    fake.add_fault(
        Fault::new("POST", "/repos/*/releases", FaultKind::Delay)
            .delay_ms(400)
            .times(2),
    );
    let outputs: Vec<Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = [&first.id, &second.id]
            .into_iter()
            .map(|id| scope.spawn(|| laptop.ccsync(&["release-push", "--session", id], &[])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for output in &outputs {
        assert_code(output, 0);
    }
    // A later reader sees both sessions, whatever drafts the race left.
    let ci = Laptop {
        env: TestEnv::with_repo_path("runner/app"),
        api_url: fake.api_url(),
    };
    for id in [&first.id, &second.id] {
        assert_code(&ci.ccsync(&["release-restore", "--session", id], &[]), 0);
        assert!(project_folder(&ci.env.claude_dir, &ci.env.repo)
            .join(format!("{id}.jsonl"))
            .is_file());
    }
    // And the next write converges to one draft.
    assert_code(
        &laptop.ccsync(&["release-push", "--session", &first.id, "--force"], &[]),
        0,
    );
    assert_eq!(
        fake.releases("octo", "app").len(),
        1,
        "duplicate drafts converged"
    );
}

#[test]
fn a_fork_pull_request_restores_nothing_and_exits_0() {
    let fake = FakeGitHub::start(Options::default());
    let runner = Laptop {
        env: TestEnv::with_repo_path("runner/app"),
        api_url: fake.api_url(),
    };
    let files = runner.env.temp.path().join("gh");
    std::fs::create_dir_all(&files).unwrap();
    let event = files.join("event.json");
    std::fs::write(&event, r#"{"pull_request":{"number":7,"head":{"ref":"feature","repo":{"full_name":"stranger/app","fork":true}},"base":{"repo":{"full_name":"octo/app"}}}}"#).unwrap();
    let env_file = files.join("env");
    let envs = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ("GITHUB_REPOSITORY", "octo/app"),
        ("GITHUB_HEAD_REF", "feature"),
        ("GITHUB_ENV", env_file.to_str().unwrap()),
    ];
    let output = runner.ccsync(&["release-restore"], &envs);
    assert_code(&output, 0);
    assert!(stderr(&output).contains("fork"), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        "SESSION_RESTORED=false\n"
    );
    let required = runner.ccsync(&["release-restore", "--require"], &envs);
    assert_code(&required, 3);
}

#[test]
fn a_restore_that_races_a_push_reads_the_release_again() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Laptop::new(&fake);
    let session = SessionBuilder::new(&laptop.env.repo).turns(1);
    let file = session.write_to(&laptop.project_dir());
    assert_code(&laptop.ccsync(&["release-push"], &[]), 0);

    // The runner reads the metadata, then its archive download stalls while the laptop pushes a
    // continuation, which replaces both assets.
    fake.add_fault(
        Fault::new("GET", "/repos/*/releases/assets/*", FaultKind::Delay)
            .after(1)
            .delay_ms(4000),
    );
    let ci = Laptop {
        env: TestEnv::with_repo_path("runner/app"),
        api_url: fake.api_url(),
    };
    let restored = std::thread::scope(|scope| {
        let restore = scope.spawn(|| ci.ccsync(&["release-restore"], &[]));
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let more = SessionBuilder::new(&laptop.env.repo)
            .id(&session.id)
            .at("2026-05-01T00:00:00Z")
            .turns(1);
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str(&more.text());
        std::fs::write(&file, text).unwrap();
        assert_code(&laptop.ccsync(&["release-push"], &[]), 0);
        restore.join().unwrap()
    });
    assert_code(&restored, 0);
    assert!(
        stderr(&restored).contains("reading the release again"),
        "{}",
        stderr(&restored)
    );
    let installed =
        project_folder(&ci.env.claude_dir, &ci.env.repo).join(format!("{}.jsonl", session.id));
    assert_eq!(
        std::fs::read_to_string(installed).unwrap().lines().count(),
        session.line_count() + 2,
        "the continuation was restored"
    );
}

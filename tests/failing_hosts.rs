//! Every command against a failing storage host (where downloads redirect) and a failing uploads
//! host, while the API answers: an error that names the host, exit 1, never "no session", never
//! an empty list, never a deletion, and never advice to delete assets that are intact.

mod everyday_support;
mod support;

use std::process::Output;

use everyday_support::{stderr, stdout, Laptop};
use fake_github::{Fault, FaultKind, Host};

/// The ways a host fails: error statuses, a dropped connection, a request that hangs.
fn faults(host: Host, method: &str, path: &str) -> Vec<(String, Fault)> {
    let base = || {
        Fault::new(method, path, FaultKind::Status)
            .on(host)
            .always()
    };
    vec![
        ("503".into(), base().status(503)),
        ("404".into(), base().status(404)),
        (
            "drop".into(),
            Fault::new(method, path, FaultKind::Drop).on(host).always(),
        ),
        (
            "hang".into(),
            Fault::new(method, path, FaultKind::Hang).on(host).always(),
        ),
    ]
}

/// The storage host's faults, plus a download cut halfway (the full `Content-Length`, half the
/// body, then the connection closes).
fn storage_faults() -> Vec<(String, Fault)> {
    let path = "/github-production-release-asset/*";
    let mut all = faults(Host::Storage, "GET", path);
    all.push((
        "cut".into(),
        Fault::new("GET", path, FaultKind::CutResponse)
            .on(Host::Storage)
            .always(),
    ));
    all
}

/// Runs with short waits: a stall period of half a second, a budget of 3 s.
fn run_fast(laptop: &Laptop, args: &[&str]) -> Output {
    let mut all = vec!["--timeout", "3"];
    all.extend_from_slice(args);
    let mut cmd = laptop.cmd(&all);
    cmd.env("CCSYNC_STALL_SECONDS", "0.5");
    everyday_support::run(cmd)
}

/// Exit 1, the host named, and none of the wrong stories.
fn assert_host_failure(output: &Output, host_url: &str, what: &str) {
    let host = host_url.trim_start_matches("http://");
    assert_failure_naming(output, &[host], what);
}

/// Exit 1, one of `names` said, and none of the wrong stories.
fn assert_failure_naming(output: &Output, names: &[&str], what: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{what}: {text}");
    assert!(
        names.iter().any(|n| text.contains(n)),
        "{what}: names the host ({names:?}): {text}"
    );
    let out = stdout(output);
    for wrong in [
        "no session",
        "nothing to restore",
        "\"sessions\": []",
        "delete the broken",
        "stopped halfway",
        "The repository does not exist",
    ] {
        assert!(
            !text.contains(wrong) && !out.contains(wrong),
            "{what}: says {wrong:?}: {text}{out}"
        );
    }
}

fn pushed_laptop() -> (Laptop, String) {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &session.id);
    (laptop, session.id)
}

fn asset_count(laptop: &Laptop) -> usize {
    laptop
        .fake
        .releases("octo", "app")
        .iter()
        .map(|r| r.assets.len())
        .sum()
}

#[test]
fn reading_commands_name_a_failing_storage_host() {
    for (label, fault) in storage_faults() {
        let (laptop, id) = pushed_laptop();
        laptop.fake.add_fault(fault);
        let storage = laptop.fake.storage_url();
        let output = run_fast(&laptop, &["release-list", "--json"]);
        assert_host_failure(&output, &storage, &format!("list --json, {label}"));
        let output = run_fast(&laptop, &["release-list"]);
        assert_host_failure(&output, &storage, &format!("list, {label}"));
        let output = run_fast(&laptop, &["release-show", "--session", &id]);
        assert_host_failure(&output, &storage, &format!("show, {label}"));
        let out_dir = laptop.env.temp.path().join("export");
        let output = run_fast(
            &laptop,
            &[
                "release-export",
                "--session",
                &id,
                "--output",
                out_dir.to_str().unwrap(),
            ],
        );
        assert_host_failure(&output, &storage, &format!("export, {label}"));
        let output = run_fast(&laptop, &["status"]);
        assert_host_failure(&output, &storage, &format!("status, {label}"));
    }
}

#[test]
fn restore_names_a_failing_storage_host_in_and_out_of_actions() {
    for (label, fault) in storage_faults() {
        let (laptop, id) = pushed_laptop();
        std::fs::remove_dir_all(laptop.project_dir()).unwrap();
        laptop.fake.add_fault(fault);
        let storage = laptop.fake.storage_url();
        let output = run_fast(&laptop, &["release-restore"]);
        assert_host_failure(&output, &storage, &format!("restore, {label}"));
        let output = run_fast(&laptop, &["release-restore", "--session", &id]);
        assert_host_failure(&output, &storage, &format!("restore --session, {label}"));
        let mut cmd = laptop.cmd(&["--timeout", "3", "release-restore"]);
        cmd.env("CCSYNC_STALL_SECONDS", "0.5")
            .env("GITHUB_ACTIONS", "true");
        let output = everyday_support::run(cmd);
        assert_host_failure(&output, &storage, &format!("restore in Actions, {label}"));
        let both = format!("{}{}", stdout(&output), stderr(&output));
        assert!(both.contains("::error"), "{both}");
        assert!(!laptop.project_dir().join(format!("{id}.jsonl")).exists());
    }
}

#[test]
fn nothing_is_deleted_when_a_sessions_metadata_cannot_be_read() {
    for (label, fault) in storage_faults() {
        let (laptop, id) = pushed_laptop();
        let before = asset_count(&laptop);
        laptop.fake.add_fault(fault);
        let storage = laptop.fake.storage_url();
        for args in [
            vec!["release-prune", "--older-than", "0", "--dry-run"],
            vec!["release-prune", "--older-than", "0", "--yes"],
            vec!["release-prune", "--gone", "--older-than", "0", "--yes"],
        ] {
            let output = run_fast(&laptop, &args);
            assert_host_failure(&output, &storage, &format!("{args:?}, {label}"));
            assert!(
                !stdout(&output).contains("would delete"),
                "{}",
                stdout(&output)
            );
        }
        assert_eq!(asset_count(&laptop), before, "{label}: nothing deleted");
        // A push of another session that drops sessions beyond --keep 1 drops nothing it could
        // not read.
        let other = laptop.session("main", "2026-03-02T10:00:00Z");
        let output = run_fast(
            &laptop,
            &["release-push", "--session", &other.id, "--keep", "1"],
        );
        let text = stderr(&output);
        assert!(
            laptop.stored_metadata(&id).is_some(),
            "{label}: the older session is still stored: {text}"
        );
    }
}

#[test]
fn push_names_a_failing_storage_host_instead_of_blaming_an_older_ccsync() {
    for (label, fault) in storage_faults() {
        let (laptop, id) = pushed_laptop();
        // The local copy grows: a push must compare with the stored one, which it cannot read.
        let session = laptop.session("main", "2026-03-01T10:00:00Z").id(&id);
        let session = session.turns(1);
        session.write_to(&laptop.project_dir());
        laptop.fake.add_fault(fault);
        let output = run_fast(&laptop, &["release-push", "--session", &id]);
        assert_host_failure(
            &output,
            &laptop.fake.storage_url(),
            &format!("push, {label}"),
        );
    }
}

#[test]
fn push_names_a_failing_uploads_host() {
    let path = "/repos/*/releases/*/assets";
    let mut cases = faults(Host::Uploads, "POST", path);
    // An upload cut halfway: GitHub keeps a `starter` asset.
    cases.push((
        "cut".into(),
        Fault::new("POST", path, FaultKind::CutUpload)
            .on(Host::Uploads)
            .always(),
    ));
    for (label, fault) in cases {
        let laptop = Laptop::new();
        let session = laptop.session("main", "2026-03-01T10:00:00Z");
        laptop.fake.add_fault(fault);
        let output = run_fast(&laptop, &["release-push", "--session", &session.id]);
        assert_host_failure(
            &output,
            &laptop.fake.uploads_url(),
            &format!("push, {label}"),
        );
        assert!(
            stderr(&output).contains("uploads host"),
            "{}",
            stderr(&output)
        );
        // Nothing half-written stays behind.
        assert!(laptop
            .fake
            .releases("octo", "app")
            .iter()
            .flat_map(|r| r.assets.iter())
            .all(|a| a.state == "uploaded"));
    }
}

/// Replaces the stable archive of `id` by other bytes under the same name (a hostile or broken
/// writer): the metadata stays, no claim explains it.
fn damage_archive(laptop: &Laptop, id: &str) {
    let name = format!("claude-session-{id}.tar.gz");
    let (release_id, asset_id) = laptop
        .fake
        .releases("octo", "app")
        .iter()
        .find_map(|r| {
            r.assets
                .iter()
                .find(|a| a.name == name)
                .map(|a| (r.id, a.id))
        })
        .unwrap();
    support::delete_asset(&laptop.fake.api_url(), asset_id);
    laptop.fake.seed_asset(
        "octo",
        "app",
        release_id,
        &name,
        b"not the archive the metadata records",
        "uploaded",
    );
}

#[test]
fn a_damaged_copy_is_an_error_naming_the_session_with_or_without_require() {
    let (laptop, id) = pushed_laptop();
    std::fs::remove_dir_all(laptop.project_dir()).unwrap();
    damage_archive(&laptop, &id);
    for args in [
        vec!["release-restore"],
        vec!["release-restore", "--require"],
        vec!["release-restore", "--session", id.as_str()],
    ] {
        for actions in [false, true] {
            let mut cmd = laptop.cmd(&args);
            if actions {
                cmd.env("GITHUB_ACTIONS", "true");
            }
            let output = everyday_support::run(cmd);
            let text = format!("{}{}", stderr(&output), stdout(&output));
            assert_eq!(output.status.code(), Some(1), "{args:?}: {text}");
            assert!(text.contains(&id) && text.contains("damaged"), "{text}");
            assert!(
                text.contains("release-push --session"),
                "says what to do: {text}"
            );
            assert!(!text.contains("nothing to restore"), "{text}");
        }
    }
    assert!(!laptop.project_dir().join(format!("{id}.jsonl")).exists());
}

/// `resume` against each set of faults in turn: Claude starts within resume's 15 s budget for
/// GitHub, the whole run ends in time, and stderr names the failing host (one of `names`).
#[cfg(unix)]
fn assert_resume_starts_claude(
    cases: Vec<(String, Vec<Fault>)>,
    names: impl Fn(&Laptop) -> Vec<String>,
) {
    let (laptop, id) = pushed_laptop();
    let standin = laptop.env.temp.path().join("claude-standin");
    let ran = laptop.env.temp.path().join("claude-ran");
    std::fs::write(
        &standin,
        format!(
            "#!/bin/sh\n[ \"$1\" = --version ] && {{ echo '2.1.332 (Claude Code)'; exit 0; }}\ndate +%s.%N > {}\n",
            ran.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&standin, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (label, faults) in cases {
        laptop.fake.clear_faults();
        for fault in faults {
            laptop.fake.add_fault(fault);
        }
        let _ = std::fs::remove_file(&ran);
        let mut cmd = laptop.cmd(&["resume", "--session", &id]);
        cmd.env("CCSYNC_CLAUDE", &standin)
            .env_remove("CCSYNC_STALL_SECONDS");
        let started = std::time::Instant::now();
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let output = everyday_support::run(cmd);
        let took = started.elapsed();
        let text = stderr(&output);
        // `resume` waits at most 15 s for GitHub before Claude starts.
        let claude_at: f64 = std::fs::read_to_string(&ran)
            .unwrap_or_else(|_| panic!("{label}: Claude was not started: {text}"))
            .trim()
            .parse()
            .unwrap();
        assert!(
            claude_at - wall < 18.0,
            "{label}: Claude started after {:.1} s: {text}",
            claude_at - wall
        );
        assert!(
            took < std::time::Duration::from_secs(45),
            "{label}: took {took:?}"
        );
        let names = names(&laptop);
        assert!(
            names.iter().any(|n| text.contains(n.as_str())),
            "{label}: names the host ({names:?}): {text}"
        );
        assert!(!text.contains("delete the broken"), "{text}");
    }
}

#[cfg(unix)]
#[test]
fn resume_names_a_failing_storage_host_and_still_starts_claude_within_its_budget() {
    let cases = storage_faults()
        .into_iter()
        .map(|(label, fault)| (label, vec![fault]))
        .collect();
    assert_resume_starts_claude(cases, |laptop| {
        let host = laptop.fake.storage_url();
        vec![host.trim_start_matches("http://").to_owned()]
    });
}

/// The API host failing on the release lookup (GraphQL and the listing it falls back to).
#[cfg(unix)]
#[test]
fn resume_names_a_failing_api_host_and_still_starts_claude_within_its_budget() {
    let lookup = [("POST", "/graphql"), ("GET", "/repos/octo/app/releases*")];
    let cases = ["503", "drop", "hang"]
        .into_iter()
        .map(|label| {
            let faults = lookup
                .iter()
                .flat_map(|(method, path)| faults(Host::Api, method, path))
                .filter(|(l, _)| l == label)
                .map(|(_, fault)| fault)
                .collect();
            (label.to_owned(), faults)
        })
        .collect();
    assert_resume_starts_claude(cases, |laptop| {
        let host = laptop.fake.api_url();
        vec![
            host.trim_start_matches("http://").to_owned(),
            "GitHub".into(),
        ]
    });
}

/// Restore, show, export, list and status agree about a damaged copy: exit 1 naming the session
/// and the fix, never "not stored" (status used to advise a push that then refuses) and never an
/// empty list.
#[test]
fn a_damaged_copy_is_the_same_error_for_every_reader() {
    let (laptop, id) = pushed_laptop();
    damage_archive(&laptop, &id);
    let export_to = laptop.env.temp.path().join("export");
    let export_to = export_to.to_str().unwrap();
    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec!["release-list"],
        vec!["release-list", "--json"],
        vec!["release-list", "--branch", "main"],
        vec!["release-show", "--session", id.as_str()],
        vec!["release-show", "--session", id.as_str(), "--json"],
        vec![
            "release-export",
            "--session",
            id.as_str(),
            "--output",
            export_to,
        ],
        vec!["release-restore", "--session", id.as_str()],
    ] {
        let output = everyday_support::run(laptop.cmd(&args));
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&id) && err.contains("damaged"),
            "{args:?}: {err}"
        );
        assert!(err.contains("release-push --session"), "{args:?}: {err}");
        assert!(!err.contains("not-stored") && !stdout(&output).contains("not-stored"));
    }
    // The list's JSON still says what could be read.
    let output = everyday_support::run(laptop.cmd(&["release-list", "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(json["sessions"], serde_json::json!([]), "{json}");
    assert!(!std::path::Path::new(export_to).exists());
    // Prune counts it and dates the release by it, not as "0 sessions" dated by its creation.
    let output = laptop.run(&["release-prune", "--older-than", "30", "--dry-run", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let release = &json["deleted"][0];
    assert_eq!(release["sessions"], 1, "{json}");
    assert!(
        release["newestActivity"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-03-01")),
        "{json}"
    );
    // doctor's release check says so too (it used to count metadata names: "holds 1 session").
    let output = laptop.run(&["doctor"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report = format!("{}{}", stdout(&output), stderr(&output));
    let line = report
        .lines()
        .find(|l| l.contains("release:"))
        .unwrap_or("");
    assert!(
        line.starts_with("fail") && line.contains("damaged"),
        "{report}"
    );
    // A push refuses too (a conflict that --force settles), then every reader agrees again.
    let output = laptop.run(&["release-push", "--session", &id]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("--force"), "{}", stderr(&output));
    // The forced push succeeds even with the very bytes the damaged metadata records (it used to
    // pair its new archive with that metadata, lose to it and give up), and leaves one clean copy.
    let output = laptop.run(&["release-push", "--session", &id, "--force"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(asset_count(&laptop), 2);
    let status = laptop.json(&["status"]);
    assert_eq!(status["sessions"][0]["status"], "equal", "{status}");
}

/// doctor's lines and exit code against a host that fails: exit 1, the failing check's line
/// naming the host (`host_url`, or for the API host "GitHub" as every API error does), and no line
/// saying the release is fine.
fn assert_doctor_fails(laptop: &Laptop, host_url: &str, check: &str, what: &str) {
    let output = run_fast(laptop, &["doctor"]);
    let report = format!("{}{}", stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(1), "{what}: {report}");
    let host = host_url.trim_start_matches("http://");
    let line = report
        .lines()
        .find(|l| l.contains(&format!("{check}:")))
        .unwrap_or_else(|| panic!("{what}: no {check} line: {report}"));
    assert!(line.starts_with("fail"), "{what}: {report}");
    let api = host_url == laptop.fake.api_url();
    assert!(
        line.contains(host) || (api && line.contains("GitHub")),
        "{what}: names the host {host}: {report}"
    );
    assert!(
        !report.contains("ok    release"),
        "{what}: says the release is fine: {report}"
    );
}

#[test]
fn doctor_names_a_failing_storage_host() {
    for (label, fault) in storage_faults() {
        let (laptop, _) = pushed_laptop();
        laptop.fake.add_fault(fault);
        let storage = laptop.fake.storage_url();
        assert_doctor_fails(&laptop, &storage, "release", &format!("storage, {label}"));
    }
}

#[test]
fn doctor_names_a_failing_api_host() {
    // The repository check (GET /repos/o/r), and the release lookup (GraphQL, with the releases
    // listing as its fallback: both fail).
    let checks: [(&str, &[(&str, &str)]); 2] = [
        ("access", &[("GET", "/repos/octo/app")]),
        (
            "release",
            &[("POST", "/graphql"), ("GET", "/repos/octo/app/releases*")],
        ),
    ];
    for (check, requests) in checks {
        for (index, label) in ["503", "drop", "hang"].into_iter().enumerate() {
            let (laptop, _) = pushed_laptop();
            for (method, path) in requests {
                let fault = faults(Host::Api, method, path)
                    .into_iter()
                    .filter(|(l, _)| l != "404")
                    .nth(index)
                    .unwrap();
                assert_eq!(fault.0, label);
                laptop.fake.add_fault(fault.1);
            }
            let api = laptop.fake.api_url();
            assert_doctor_fails(&laptop, &api, check, &format!("{check}, {label}"));
        }
    }
}

/// Every command that reads a release against a failing API host (the release lookup: GraphQL and
/// the releases listing it falls back to, both failing): exit 1 naming GitHub, never "no session"
/// or an empty list, and nothing deleted.
#[test]
fn every_command_names_a_failing_api_host() {
    for (label, kind) in [
        ("503", FaultKind::Status),
        ("drop", FaultKind::Drop),
        ("hang", FaultKind::Hang),
    ] {
        let (laptop, id) = pushed_laptop();
        // The local copy grows, so a push must read the stored one.
        let session = laptop.session("main", "2026-03-01T10:00:00Z").id(&id);
        session.turns(1).write_to(&laptop.project_dir());
        let before = asset_count(&laptop);
        for (method, path) in [("POST", "/graphql"), ("GET", "/repos/octo/app/releases*")] {
            let fault = Fault::new(method, path, kind).always();
            laptop.fake.add_fault(if label == "503" {
                fault.status(503)
            } else {
                fault
            });
        }
        let api = laptop.fake.api_url();
        let host = api.trim_start_matches("http://");
        let export_to = laptop.env.temp.path().join("export");
        let export_to = export_to.to_str().unwrap();
        for args in [
            vec!["release-list"],
            vec!["release-list", "--json"],
            vec!["release-show", "--session", &id],
            vec!["release-export", "--session", &id, "--output", export_to],
            vec!["status"],
            vec!["release-restore"],
            vec!["release-restore", "--session", &id],
            vec!["release-push", "--session", &id],
            vec!["release-prune", "--older-than", "0", "--dry-run"],
            vec!["release-prune", "--older-than", "0", "--yes"],
            vec!["release-prune", "--session", &id, "--yes"],
        ] {
            let output = run_fast(&laptop, &args);
            assert_failure_naming(&output, &[host, "GitHub"], &format!("{args:?}, {label}"));
        }
        assert_eq!(asset_count(&laptop), before, "{label}: nothing deleted");
    }
}

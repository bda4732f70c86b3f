//! The contract check: the client runs through every releases endpoint it uses against the fake,
//! on github.com's layout and on GHES's, and every request/response pair the fake logged is validated
//! against GitHub's own OpenAPI description (tests/openapi/check.py). A mismatch fails the test, so
//! the fake cannot drift from GitHub.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ccsync::release::names::{archive_asset_name, metadata_asset_name};
use ccsync::release::{GitHub, RetryPolicy};
use ccsync::token::Token;
use fake_github::{FakeGitHub, Options};

/// The validator and the descriptions, installed by scripts/install-test-tools. Missing: a skip
/// outside CI, a failure in CI.
fn contract_tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".tools/venv/bin/python");
    let generated = root.join(".tools/node_modules/@octokit/openapi/generated");
    let (dotcom, ghes) = (
        generated.join("api.github.com.json"),
        generated.join("ghes-3.19.json"),
    );
    let ready = python.is_file()
        && dotcom.is_file()
        && ghes.is_file()
        && std::process::Command::new(&python)
            .args(["-c", "import openapi_core, requests"])
            .status()
            .is_ok_and(|s| s.success());
    if ready {
        return Some((python, dotcom, ghes));
    }
    let hint = "the contract check needs .tools/venv (pip openapi-core requests) and npm @octokit/openapi in .tools";
    if std::env::var_os("CI").is_some() {
        panic!("{hint} (scripts/install-test-tools)");
    }
    eprintln!("skipped: {hint}; run scripts/install-test-tools");
    None
}

/// Every releases operation the client uses, with the answers it meets on a normal day.
fn drive(fake: &FakeGitHub, dir: &Path) {
    let policy = RetryPolicy {
        base: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    let gh = GitHub::with_retry_policy(
        fake.api_url().parse().unwrap(),
        "octo/app".parse().unwrap(),
        Token::new(support::TOKEN),
        policy,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(gh.session_release("main").await.unwrap().is_none()); // list-releases
        let release = gh.session_release_for_write("main").await.unwrap(); // create-release
        let archive = dir.join("a.tgz");
        let metadata = dir.join("m.json");
        std::fs::write(&archive, vec![7u8; 70_000]).unwrap();
        std::fs::write(&metadata, br#"{"format":1}"#).unwrap();
        let name = archive_asset_name("s1", false);
        // upload-release-asset, get-release, update-release-asset (rename)
        gh.upload_asset(&release, &name, &archive, "application/gzip")
            .await
            .unwrap();
        gh.upload_asset(
            &release,
            &metadata_asset_name("s1"),
            &metadata,
            "application/json",
        )
        .await
        .unwrap();
        // Replacing deletes the old copy: delete-release-asset
        gh.upload_asset(&release, &name, &archive, "application/gzip")
            .await
            .unwrap();
        let release = gh.refresh(&release).await.unwrap();
        gh.set_body(&release, "<!-- ccsync:session-release -->\n")
            .await
            .unwrap(); // update-release
        let asset = release.asset(&name).unwrap().clone();
        gh.download_asset(&asset, &dir.join("back"), None)
            .await
            .unwrap(); // get-release-asset (302)
        gh.delete_asset(&asset).await.unwrap();
        gh.delete_asset(&asset).await.unwrap(); // 404: already gone
                                                // Duplicate drafts read as one view; delete-release below.
        let tag = ccsync::release::names::tag_for("dup");
        let first = fake.seed_release("octo", "app", &tag, true);
        let second = fake.seed_release("octo", "app", &tag, true);
        fake.seed_asset(
            "octo",
            "app",
            first,
            &metadata_asset_name("s2"),
            b"{}",
            "uploaded",
        );
        fake.seed_asset(
            "octo",
            "app",
            second,
            &metadata_asset_name("s3"),
            b"{}",
            "uploaded",
        );
        // get-pull-request: the head of an `issue_comment`'s pull request.
        fake.seed_pull("octo", "app", 12, "feature/x", Some("alice/app"));
        let head = gh.pull_head(12).await.unwrap();
        assert_eq!(head.branch, "feature/x");
        assert_eq!(head.repo_full_name.as_deref(), Some("alice/app"));
        assert!(gh.pull_head(13).await.unwrap_err().is_not_found());
        let both = gh.session_release_for_write("dup").await.unwrap();
        assert_eq!(both.assets.len(), 2);
        let all = gh.list_session_releases().await.unwrap();
        for release in all {
            gh.delete_release(&release).await.unwrap();
        }
    });
}

#[test]
fn the_fake_answers_as_githubs_openapi_description_says() {
    let Some((python, dotcom, ghes)) = contract_tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut logs = Vec::new();
    for ghes_mode in [false, true] {
        let log = dir.path().join(format!("log-{ghes_mode}.jsonl"));
        {
            let fake = FakeGitHub::start(Options {
                ghes: ghes_mode,
                log_file: Some(log.clone()),
                ..Options::default()
            });
            drive(&fake, dir.path());
            let statuses: Vec<u16> = fake
                .requests()
                .iter()
                .filter_map(|r| r.response.as_ref().map(|x| x.status))
                .collect();
            assert!(
                statuses.contains(&302)
                    && statuses.contains(&201)
                    && statuses.contains(&204)
                    && statuses.contains(&404)
            );
        }
        logs.push(log);
    }
    let output = std::process::Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi/check.py"))
        .arg("--spec")
        .arg(&dotcom)
        .arg("--ghes-spec")
        .arg(&ghes)
        .args(&logs)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "the fake disagrees with GitHub's description:\n{stderr}"
    );
    for op in [
        "repos/list-releases",
        "repos/create-release",
        "repos/get-release",
        "repos/update-release",
        "repos/delete-release",
        "repos/upload-release-asset",
        "repos/update-release-asset",
        "repos/delete-release-asset",
        "repos/get-release-asset",
        "pulls/get",
    ] {
        for layout in ["api.github.com", "ghes"] {
            assert!(
                stdout.contains(&format!("validated {op} ({layout})")),
                "{op} on {layout} was not validated:\n{stdout}"
            );
        }
    }
}

#[test]
fn the_check_catches_a_drifted_fake() {
    let Some((python, dotcom, _)) = contract_tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    {
        let fake = FakeGitHub::start(Options {
            log_file: Some(log.clone()),
            ..Options::default()
        });
        drive(&fake, dir.path());
    }
    // Break one recorded answer the way a careless fake would: a release without `assets`.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut broken = String::new();
    let mut done = false;
    for line in text.lines() {
        let mut entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let creates = entry["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/releases"));
        if !done && entry["method"] == "POST" && entry["host"] == "api" && creates {
            entry["response"]["body"]
                .as_object_mut()
                .unwrap()
                .remove("assets");
            done = true;
        }
        broken.push_str(&entry.to_string());
        broken.push('\n');
    }
    assert!(done);
    std::fs::write(&log, broken).unwrap();
    let output = std::process::Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi/check.py"))
        .arg("--spec")
        .arg(&dotcom)
        .arg(&log)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("repos/create-release"));
}

//! The release client against the fake GitHub: faults survived with nothing lost, races, duplicate
//! drafts, published releases, error words, GHES, downloads, pagination.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ccsync::git::RepoSlug;
use ccsync::release::names::{archive_asset_name, metadata_asset_name, tag_for};
use ccsync::release::{Error, GitHub, RetryPolicy};
use ccsync::token::Token;
use fake_github::{FakeGitHub, Fault, FaultKind, Host, Options, Permission};
use sha2::{Digest, Sha256};

const OWNER: &str = "octo";
const REPO: &str = "app";

fn slug() -> RepoSlug {
    format!("{OWNER}/{REPO}").parse().unwrap()
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(5),
        max_attempts: 5,
        max_wait: Duration::from_secs(5),
        max_total: Duration::from_secs(30),
        ..RetryPolicy::default()
    }
}

fn client_with(fake: &FakeGitHub, token: &str) -> GitHub {
    GitHub::with_retry_policy(
        fake.api_url().parse().unwrap(),
        slug(),
        Token::new(token),
        fast(),
    )
    .unwrap()
}

fn client(fake: &FakeGitHub) -> GitHub {
    client_with(fake, support::TOKEN)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A file of `size` pseudo-random bytes (distinct per `seed`).
fn file_with(dir: &Path, name: &str, seed: u8, size: usize) -> (PathBuf, Vec<u8>) {
    let data: Vec<u8> = (0..size)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2654435761)
                .wrapping_add(seed as u32 * 7919) as u8
                ^ seed
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

/// What a push does: get the draft, upload the archive and the metadata, write the body.
async fn push(
    gh: &GitHub,
    dir: &Path,
    branch: &str,
    session: &str,
    seed: u8,
) -> (Vec<u8>, Vec<u8>) {
    let release = gh.session_release_for_write(branch).await.expect("draft");
    let (archive, archive_data) = file_with(dir, &format!("{session}-{seed}.tgz"), seed, 300_000);
    let (meta, meta_data) = file_with(
        dir,
        &format!("{session}-{seed}.json"),
        seed.wrapping_add(1),
        1_000,
    );
    gh.upload_asset(
        &release,
        &archive_asset_name(session, false),
        &archive,
        "application/gzip",
    )
    .await
    .expect("archive upload");
    gh.upload_asset(
        &release,
        &metadata_asset_name(session),
        &meta,
        "application/json",
    )
    .await
    .expect("metadata upload");
    let release = gh.refresh(&release).await.expect("refresh");
    gh.set_body(&release, "<!-- ccsync:session-release -->\n| session |\n")
        .await
        .expect("body");
    (archive_data, meta_data)
}

/// The fake's state holds exactly one draft for the branch with exactly these assets, all uploaded,
/// no starter, no temporary name, bytes as expected.
fn assert_stored(fake: &FakeGitHub, branch: &str, expected: &[(String, Vec<u8>)]) {
    let drafts: Vec<_> = fake
        .releases(OWNER, REPO)
        .into_iter()
        .filter(|r| r.tag_name == tag_for(branch))
        .collect();
    assert_eq!(
        drafts.len(),
        1,
        "exactly one draft for {branch}: {drafts:#?}"
    );
    let draft = &drafts[0];
    assert!(draft.draft);
    let mut names: Vec<&str> = draft.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    let mut want: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    want.sort();
    assert_eq!(names, want, "assets of the draft");
    for (name, data) in expected {
        let asset = draft.assets.iter().find(|a| &a.name == name).unwrap();
        assert_eq!(asset.state, "uploaded", "{name}");
        assert!(asset.data == *data, "{name}: stored bytes differ");
        assert_eq!(
            asset.digest.as_deref(),
            Some(format!("sha256:{}", sha(data)).as_str())
        );
    }
}

#[test]
fn push_then_read_back_round_trips_and_speaks_githubs_protocol() {
    let fake = FakeGitHub::start(Options::default());
    let gh = client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (archive, meta) = rt.block_on(push(&gh, dir.path(), "feature/x", "s1", 1));
    assert_stored(
        &fake,
        "feature/x",
        &[
            (archive_asset_name("s1", false), archive.clone()),
            (metadata_asset_name("s1"), meta),
        ],
    );

    let release = rt
        .block_on(gh.session_release("feature/x"))
        .unwrap()
        .expect("found by listing");
    assert_eq!(release.tag_name, "claude-sessions-feature/x");
    assert_eq!(release.name.as_deref(), Some("Claude sessions: feature/x"));
    assert!(release.draft);
    let asset = release
        .asset(&archive_asset_name("s1", false))
        .expect("archive listed");
    let dest = dir.path().join("back.tgz");
    rt.block_on(gh.download_asset(asset, &dest, Some(&sha(&archive))))
        .unwrap();
    assert!(std::fs::read(&dest).unwrap() == archive);

    let log = fake.requests();
    // Never the tags endpoint; every request carries GitHub's headers.
    assert!(!log.iter().any(|r| r.path.contains("/releases/tags/")));
    for r in log.iter().filter(|r| r.host != Host::Storage) {
        assert_eq!(
            r.request
                .headers
                .get("x-github-api-version")
                .map(String::as_str),
            Some("2022-11-28"),
            "{}",
            r.url
        );
        assert!(r
            .request
            .headers
            .get("user-agent")
            .unwrap()
            .starts_with("ccsync/"));
        assert_eq!(
            r.request.headers.get("authorization").map(String::as_str),
            Some("[redacted]")
        );
    }
    // Uploads went to the uploads host, with a length and no chunked body, never as one blob on the API.
    let uploads: Vec<_> = log
        .iter()
        .filter(|r| r.method == "POST" && r.host == Host::Uploads)
        .collect();
    assert_eq!(uploads.len(), 2);
    for u in &uploads {
        assert!(u.url.starts_with(&fake.uploads_url()), "{}", u.url);
        assert!(u.request.headers.contains_key("content-length"));
        assert!(!u.request.headers.contains_key("transfer-encoding"));
        assert_eq!(u.response.as_ref().unwrap().status, 201);
    }
    // Lists ask for 100 per page.
    assert!(log
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/releases"))
        .all(|r| r.url.contains("per_page=100")));
    assert!(gh.request_count() as usize >= log.len());
}

#[test]
fn replacing_an_asset_keeps_one_copy_at_every_step() {
    let fake = FakeGitHub::start(Options::default());
    let gh = client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    rt.block_on(push(&gh, dir.path(), "main", "s1", 1));
    fake.clear_requests();
    let (archive, meta) = rt.block_on(push(&gh, dir.path(), "main", "s1", 2));
    assert_stored(
        &fake,
        "main",
        &[
            (archive_asset_name("s1", false), archive),
            (metadata_asset_name("s1"), meta),
        ],
    );
    // Order: upload (temp) before delete (old) before rename (temp -> final).
    let log = fake.requests();
    let pos =
        |pred: &dyn Fn(&fake_github::LoggedRequest) -> bool| log.iter().position(pred).unwrap();
    let upload = pos(&|r| r.method == "POST" && r.host == Host::Uploads);
    let delete = pos(&|r| r.method == "DELETE");
    let rename = pos(&|r| r.method == "PATCH" && r.path.contains("/releases/assets/"));
    assert!(
        upload < delete && delete < rename,
        "upload {upload}, delete {delete}, rename {rename}"
    );
}

/// Every fault the fake can inject, on the request it hurts most, survived with nothing lost.
#[test]
fn every_fault_is_survived_with_nothing_lost_and_no_starter_left() {
    let faults: Vec<(&str, Fault)> = vec![
        (
            "502 on listing",
            Fault::new("GET", "/repos/*/releases", FaultKind::Status).times(2),
        ),
        (
            "dropped listing",
            Fault::new("GET", "/repos/*/releases", FaultKind::Drop),
        ),
        (
            "secondary limit on listing",
            Fault::new("GET", "/repos/*/releases", FaultKind::SecondaryRateLimit).retry_after(1),
        ),
        (
            "429 on listing",
            Fault::new("GET", "/repos/*/releases", FaultKind::TooManyRequests).retry_after(0),
        ),
        (
            "502 on create",
            Fault::new("POST", "/repos/*/releases", FaultKind::Status),
        ),
        (
            "create dropped before",
            Fault::new("POST", "/repos/*/releases", FaultKind::Drop),
        ),
        (
            "create done, answer lost",
            Fault::new("POST", "/repos/*/releases", FaultKind::DropAfter),
        ),
        (
            "secondary limit on create",
            Fault::new("POST", "/repos/*/releases", FaultKind::SecondaryRateLimit).retry_after(0),
        ),
        (
            "upload cut mid-body",
            Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::CutUpload),
        ),
        (
            "upload cut twice",
            Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::CutUpload).times(2),
        ),
        (
            "upload done, answer lost",
            Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::DropAfter),
        ),
        (
            "502 on upload",
            Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::Status),
        ),
        (
            "429 on upload",
            Fault::new(
                "POST",
                "/repos/*/releases/*/assets",
                FaultKind::TooManyRequests,
            )
            .retry_after(0),
        ),
        (
            "primary limit on rename",
            Fault::new(
                "PATCH",
                "/repos/*/releases/assets/*",
                FaultKind::PrimaryRateLimit,
            )
            .retry_after(1),
        ),
        (
            "rename done, answer lost",
            Fault::new("PATCH", "/repos/*/releases/assets/*", FaultKind::DropAfter),
        ),
        (
            "500 on rename",
            Fault::new("PATCH", "/repos/*/releases/assets/*", FaultKind::Status).status(500),
        ),
        (
            "dropped delete of the old copy",
            Fault::new("DELETE", "/repos/*/releases/assets/*", FaultKind::DropAfter),
        ),
        (
            "503 on reading the release",
            Fault::new("GET", "/repos/*/releases/*", FaultKind::Status)
                .status(503)
                .times(2),
        ),
        (
            "500 on the body",
            Fault::new("PATCH", "/repos/*/releases/*", FaultKind::Status).status(500),
        ),
    ];
    let rt = rt();
    for (label, fault) in faults {
        let fake = FakeGitHub::start(Options::default());
        let gh = client(&fake);
        let dir = tempfile::tempdir().unwrap();
        // A first push, so replacing (delete + rename) is exercised too.
        rt.block_on(push(&gh, dir.path(), "main", "s1", 1));
        fake.add_fault(fault.clone());
        let (archive, meta) = rt.block_on(push(&gh, dir.path(), "main", "s1", 9));
        assert_stored(
            &fake,
            "main",
            &[
                (archive_asset_name("s1", false), archive.clone()),
                (metadata_asset_name("s1"), meta),
            ],
        );

        // And a first push into a fresh repository under the same fault (creating the draft).
        let fake2 = FakeGitHub::start(Options::default());
        let gh2 = client(&fake2);
        fake2.add_fault(fault);
        let (archive2, meta2) = rt.block_on(push(&gh2, dir.path(), "fresh", "s2", 3));
        assert_stored(
            &fake2,
            "fresh",
            &[
                (archive_asset_name("s2", false), archive2),
                (metadata_asset_name("s2"), meta2),
            ],
        );
        // A create that may have happened is never repeated blindly: one draft was ever made.
        let created = fake2
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/releases"))
            .filter(|r| {
                r.response.as_ref().is_some_and(|x| x.status == 201)
                    || r.fault == Some(FaultKind::DropAfter)
            })
            .count();
        assert_eq!(created, 1, "{label}: drafts created");
        assert!(
            fake.pending_faults().is_empty() || fake2.pending_faults().is_empty(),
            "{label}: the fault never fired"
        );
        eprintln!("survived: {label}");
    }
}

#[test]
fn download_faults_are_survived_and_the_file_is_whole() {
    let rt = rt();
    for fault in [
        Fault::new("GET", "/github-production-release-asset/*", FaultKind::Drop).on(Host::Storage),
        Fault::new(
            "GET",
            "/github-production-release-asset/*",
            FaultKind::Status,
        )
        .status(503)
        .on(Host::Storage),
        Fault::new("GET", "/repos/*/releases/assets/*", FaultKind::Status).status(502),
        Fault::new(
            "GET",
            "/repos/*/releases/assets/*",
            FaultKind::SecondaryRateLimit,
        )
        .retry_after(0),
    ] {
        let fake = FakeGitHub::start(Options::default());
        let gh = client(&fake);
        let dir = tempfile::tempdir().unwrap();
        let (archive, _) = rt.block_on(push(&gh, dir.path(), "main", "s1", 4));
        fake.add_fault(fault.clone());
        let release = rt.block_on(gh.session_release("main")).unwrap().unwrap();
        let dest = dir.path().join("down");
        rt.block_on(gh.download_asset(
            release.asset(&archive_asset_name("s1", false)).unwrap(),
            &dest,
            Some(&sha(&archive)),
        ))
        .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert!(fake.pending_faults().is_empty(), "{fault:?} never fired");
        assert!(std::fs::read(&dest).unwrap() == archive);
    }
}

#[test]
fn two_concurrent_writers_on_one_branch_both_land() {
    let fake = FakeGitHub::start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    // Round 0 forces the lost race: both creates are held long enough that each writer lists before
    // either draft exists, so two drafts appear. Later rounds race on an existing draft.
    fake.add_fault(
        Fault::new("POST", "/repos/*/releases", FaultKind::Delay)
            .delay_ms(400)
            .times(2),
    );
    for round in 0..3u8 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        std::thread::scope(|scope| {
            for who in ["a", "b"] {
                let barrier = barrier.clone();
                let fake = &fake;
                let dir = dir.path();
                scope.spawn(move || {
                    let gh = client(fake);
                    barrier.wait();
                    let seed = round * 2 + u8::from(who == "b");
                    rt().block_on(push(&gh, dir, "race", &format!("{who}{round}"), seed));
                });
            }
        });
    }
    let creates = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/releases"))
        .count();
    let order: Vec<String> = fake
        .requests()
        .iter()
        .take(8)
        .map(|r| {
            format!(
                "{} {} {:?}",
                r.method,
                r.path,
                r.response.as_ref().map(|x| x.status)
            )
        })
        .collect();
    assert_eq!(creates, 2, "the race made two drafts: {order:#?}");
    // Every session readable through the one view of the drafts, nothing half-written (merging
    // the drafts is the write protocol's job: tests/write_protocol.rs).
    let release = rt()
        .block_on(client(&fake).session_release_for_write("race"))
        .unwrap();
    let names: Vec<String> = release.assets.iter().map(|a| a.name.clone()).collect();
    assert_eq!(names.len(), 12, "{names:?}");
    for round in 0..3 {
        for who in ["a", "b"] {
            let s = format!("{who}{round}");
            assert!(
                names.contains(&archive_asset_name(&s, false)),
                "{s} missing: {names:?}"
            );
            assert!(
                names.contains(&metadata_asset_name(&s)),
                "{s} missing: {names:?}"
            );
        }
    }
    for draft in fake
        .releases(OWNER, REPO)
        .into_iter()
        .filter(|r| r.tag_name == tag_for("race"))
    {
        assert!(draft
            .assets
            .iter()
            .all(|a| a.state == "uploaded" && !a.name.contains("ccsync-tmp")));
    }
}

#[test]
fn a_race_to_create_makes_duplicates_that_read_as_one_view() {
    let fake = FakeGitHub::start(Options::default());
    let tag = tag_for("dup");
    // Two drafts from a lost race: s1 in both (newer in the second), s2 only in the first, s3 only in
    // the second.
    let first = fake.seed_release(OWNER, REPO, &tag, true);
    let second = fake.seed_release(OWNER, REPO, &tag, true);
    let blob = |s: &str, v: u8| -> Vec<u8> { format!("{s} version {v}").into_bytes().repeat(1000) };
    fake.seed_asset(
        OWNER,
        REPO,
        first,
        &archive_asset_name("s1", false),
        &blob("s1", 1),
        "uploaded",
    );
    fake.seed_asset(
        OWNER,
        REPO,
        first,
        &metadata_asset_name("s1"),
        b"{\"v\":1}",
        "uploaded",
    );
    fake.seed_asset(
        OWNER,
        REPO,
        first,
        &archive_asset_name("s2", false),
        &blob("s2", 1),
        "uploaded",
    );
    fake.seed_asset(
        OWNER,
        REPO,
        first,
        &metadata_asset_name("s2"),
        b"{\"s2\":1}",
        "uploaded",
    );
    std::thread::sleep(Duration::from_millis(1100)); // a later second on GitHub's clock
    fake.seed_asset(
        OWNER,
        REPO,
        second,
        &archive_asset_name("s1", false),
        &blob("s1", 2),
        "uploaded",
    );
    fake.seed_asset(
        OWNER,
        REPO,
        second,
        &metadata_asset_name("s1"),
        b"{\"v\":2}",
        "uploaded",
    );
    fake.seed_asset(
        OWNER,
        REPO,
        second,
        &archive_asset_name("s3", true),
        &blob("s3", 1),
        "uploaded",
    );
    fake.seed_asset(
        OWNER,
        REPO,
        second,
        &metadata_asset_name("s3"),
        b"{\"s3\":1}",
        "uploaded",
    );

    let gh = client(&fake);
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    // Reading: the lowest id's identity, every draft's assets, each with the draft holding it.
    // Which copy of s1 counts is the reading rules' choice (by generation and content, never by
    // upload time: crate::stored::copies), not the view's.
    let view = rt.block_on(gh.session_release("dup")).unwrap().unwrap();
    assert_eq!(view.id, first);
    assert_eq!(view.duplicate_ids, vec![second]);
    assert_eq!(view.assets.len(), 8);
    let s1: Vec<_> = view
        .assets
        .iter()
        .filter(|a| a.name == archive_asset_name("s1", false))
        .collect();
    assert_eq!(s1.len(), 2);
    for asset in s1 {
        let dest = dir.path().join(format!("s1-{}", asset.release_id));
        rt.block_on(gh.download_asset(asset, &dest, None)).unwrap();
        let version = if asset.release_id == first { 1 } else { 2 };
        assert!(std::fs::read(&dest).unwrap() == blob("s1", version));
    }
    // The view for writing is the same: nothing is copied or deleted by name or time.
    let again = rt.block_on(gh.session_release_for_write("dup")).unwrap();
    assert_eq!(again.duplicate_ids, vec![second]);
    assert_eq!(
        fake.releases(OWNER, REPO)
            .iter()
            .filter(|r| r.tag_name == tag)
            .count(),
        2
    );
}

#[test]
fn a_published_release_is_never_written() {
    let fake = FakeGitHub::start(Options::default());
    let published = fake.seed_release(OWNER, REPO, &tag_for("main"), false);
    fake.seed_asset(OWNER, REPO, published, "notes.txt", b"public", "uploaded");
    let gh = client(&fake);
    let rt = rt();
    let before = fake.releases(OWNER, REPO);

    let read = rt.block_on(gh.session_release("main")).unwrap_err();
    let write = rt
        .block_on(gh.session_release_for_write("main"))
        .unwrap_err();
    for err in [&read, &write] {
        assert!(matches!(err, Error::Published { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("published") && text.contains("refuses") && text.contains("everyone"),
            "{text}"
        );
    }
    // Even handed the release directly, the client refuses to upload, set the body or delete.
    let listed = rt.block_on(gh.list_session_releases()).unwrap();
    let release = listed.iter().find(|r| r.id == published).unwrap();
    assert!(!release.draft);
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = file_with(dir.path(), "f", 1, 10);
    assert!(matches!(
        rt.block_on(gh.upload_asset(release, "x.json", &file, "application/json")),
        Err(Error::Published { .. })
    ));
    assert!(matches!(
        rt.block_on(gh.set_body(release, "x")),
        Err(Error::Published { .. })
    ));
    assert!(matches!(
        rt.block_on(gh.delete_release(release)),
        Err(Error::Published { .. })
    ));
    // A release handed over as a draft that was published meanwhile is refused on upload too.
    let mut stale = release.clone();
    stale.draft = true;
    assert!(matches!(
        rt.block_on(gh.upload_asset(&stale, "x.json", &file, "application/json")),
        Err(Error::Published { .. })
    ));

    let after = fake.releases(OWNER, REPO);
    assert_eq!(
        format!("{before:?}"),
        format!("{after:?}"),
        "nothing changed"
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.method == "GET" || r.path == "/graphql"),
        "only reads were sent"
    );
}

#[test]
fn bad_tokens_missing_permissions_and_missing_repositories_are_named() {
    let fake = FakeGitHub::start(Options::default());
    let rt = rt();
    let id = fake.seed_release(OWNER, REPO, &tag_for("main"), true);
    fake.seed_asset(
        OWNER,
        REPO,
        id,
        &metadata_asset_name("s1"),
        b"{}",
        "uploaded",
    );

    // Each token gets a distinct value that must never show up in errors.
    let bad = format!("{}-bad", support::TOKEN);
    let read = format!("{}-read", support::TOKEN);
    let none = format!("{}-none", support::TOKEN);
    fake.set_token(&bad, Permission::Invalid);
    fake.set_token(&read, Permission::Read);
    fake.set_token(&none, Permission::None);

    let mut texts = Vec::new();
    let err = rt
        .block_on(client_with(&fake, &bad).session_release("main"))
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(
        err.to_string().contains("rejected the token") && err.to_string().contains("--token"),
        "{err}"
    );
    texts.push(format!("{err} {err:?}"));

    // A read-only token sees no drafts, is told so by `access`, and writing says what to add.
    let gh = client_with(&fake, &read);
    assert!(rt.block_on(gh.session_release("main")).unwrap().is_none());
    let access = rt.block_on(gh.access()).unwrap();
    assert!(access.exists);
    assert_eq!(access.push, Some(false));
    let err = rt
        .block_on(gh.session_release_for_write("main"))
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(
        err.to_string().contains("permissions: contents: write"),
        "{err}"
    );
    texts.push(format!("{err} {err:?}"));

    let gh = client_with(&fake, &none);
    let err = rt.block_on(gh.session_release("main")).unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(
        err.to_string()
            .contains("repository does not exist, or the token has no access"),
        "{err}"
    );
    texts.push(format!("{err} {err:?}"));
    assert!(!rt.block_on(gh.access()).unwrap().exists);
    let err = rt.block_on(gh.branch_exists("main")).unwrap_err();
    texts.push(format!("{err} {err:?}"));

    // A primary rate limit that lifts later than the client will wait names the time.
    let gh = client(&fake);
    fake.add_fault(Fault::new("POST", "/graphql", FaultKind::PrimaryRateLimit).retry_after(7200));
    let err = rt.block_on(gh.session_release("main")).unwrap_err();
    assert!(err.is_rate_limited());
    assert!(
        err.to_string().contains("rate limiting") && err.to_string().contains("UTC"),
        "{err}"
    );
    texts.push(format!("{err} {err:?}"));

    for text in texts {
        assert!(!text.contains(support::TOKEN), "the token leaked: {text}");
    }
}

#[test]
fn ghes_layout_works_end_to_end() {
    let fake = FakeGitHub::start(Options {
        ghes: true,
        ..Options::default()
    });
    assert!(fake.api_url().ends_with("/api/v3"));
    let gh = client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (archive, meta) = rt.block_on(push(&gh, dir.path(), "main", "s1", 5));
    assert_stored(
        &fake,
        "main",
        &[
            (archive_asset_name("s1", false), archive.clone()),
            (metadata_asset_name("s1"), meta),
        ],
    );
    let release = rt.block_on(gh.session_release("main")).unwrap().unwrap();
    let dest = dir.path().join("back");
    rt.block_on(gh.download_asset(
        release.asset(&archive_asset_name("s1", false)).unwrap(),
        &dest,
        Some(&sha(&archive)),
    ))
    .unwrap();
    let log = fake.requests();
    let uploads: Vec<_> = log.iter().filter(|r| r.host == Host::Uploads).collect();
    assert!(!uploads.is_empty());
    for u in uploads {
        assert!(
            u.url.contains("/api/uploads/repos/octo/app/releases/"),
            "{}",
            u.url
        );
        assert!(!u.url.contains("/api/v3/api/uploads"));
    }
    assert!(log
        .iter()
        .filter(|r| r.host == Host::Api)
        .all(|r| r.url.contains("/api/v3/") || r.url.ends_with("/api/graphql")));
    fake.add_branch(OWNER, REPO, "feature/y");
    assert!(rt.block_on(gh.branch_exists("feature/y")).unwrap());
    assert!(!rt.block_on(gh.branch_exists("gone")).unwrap());
}

#[test]
fn downloads_follow_the_redirect_without_the_token_or_take_the_bytes_directly() {
    let rt = rt();
    for redirect in [true, false] {
        let fake = FakeGitHub::start(Options {
            redirect_downloads: redirect,
            ..Options::default()
        });
        let gh = client(&fake);
        let dir = tempfile::tempdir().unwrap();
        let (archive, _) = rt.block_on(push(&gh, dir.path(), "main", "s1", 6));
        let release = rt.block_on(gh.session_release("main")).unwrap().unwrap();
        fake.clear_requests();
        let dest = dir.path().join("back");
        rt.block_on(gh.download_asset(
            release.asset(&archive_asset_name("s1", false)).unwrap(),
            &dest,
            Some(&sha(&archive)),
        ))
        .unwrap();
        assert!(std::fs::read(&dest).unwrap() == archive);
        let log = fake.requests();
        let api = log
            .iter()
            .find(|r| r.path.contains("/releases/assets/"))
            .unwrap();
        assert_eq!(
            api.request.headers.get("accept").map(String::as_str),
            Some("application/octet-stream")
        );
        let storage: Vec<_> = log.iter().filter(|r| r.host == Host::Storage).collect();
        if redirect {
            assert_eq!(api.response.as_ref().unwrap().status, 302);
            assert_eq!(storage.len(), 1);
            assert!(
                !storage[0].request.headers.contains_key("authorization"),
                "the token went to storage"
            );
            assert_eq!(storage[0].response.as_ref().unwrap().status, 200);
        } else {
            assert_eq!(api.response.as_ref().unwrap().status, 200);
            assert!(storage.is_empty());
        }
    }
}

#[test]
fn a_damaged_download_is_detected_and_removed() {
    let fake = FakeGitHub::start(Options::default());
    let gh = client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (archive, _) = rt.block_on(push(&gh, dir.path(), "main", "s1", 7));
    let release = rt.block_on(gh.session_release("main")).unwrap().unwrap();
    let asset = release
        .asset(&archive_asset_name("s1", false))
        .unwrap()
        .clone();
    let dest = dir.path().join("back");

    // The recorded checksum (from the metadata) disagrees.
    let err = rt
        .block_on(gh.download_asset(&asset, &dest, Some(&sha(b"something else"))))
        .unwrap_err();
    assert!(matches!(err, Error::Integrity(_)), "{err}");
    assert!(err.to_string().contains("damaged"), "{err}");
    assert!(!dest.exists(), "a damaged download stays on disk");

    // The stored bytes rot: GitHub's digest catches it even without a recorded checksum.
    fake.corrupt_asset(asset.id);
    let err = rt
        .block_on(gh.download_asset(&asset, &dest, None))
        .unwrap_err();
    assert!(err.to_string().contains("digest"), "{err}");
    assert!(!dest.exists());

    // Without a digest (assets from before 2025-06) the recorded checksum still catches it.
    fake.clear_digest(asset.id);
    let mut no_digest = asset.clone();
    no_digest.digest = None;
    let err = rt
        .block_on(gh.download_asset(&no_digest, &dest, Some(&sha(&archive))))
        .unwrap_err();
    assert!(matches!(err, Error::Integrity(_)));
    assert!(!dest.exists());
}

#[test]
fn the_draft_is_found_across_more_than_a_hundred_releases() {
    let fake = FakeGitHub::start(Options::default());
    // The session draft first (lowest id: listed last, newest first), then 130 other releases.
    let draft = fake.seed_release(OWNER, REPO, &tag_for("old"), true);
    fake.seed_asset(
        OWNER,
        REPO,
        draft,
        &metadata_asset_name("s1"),
        b"{}",
        "uploaded",
    );
    for i in 0..130 {
        fake.seed_release(OWNER, REPO, &format!("v1.{i}"), i % 3 == 0);
    }
    let gh = client(&fake);
    let rt = rt();
    // By tag: GraphQL, then the release by id, whatever the count.
    let found = rt
        .block_on(gh.session_release("old"))
        .unwrap()
        .expect("found by tag");
    assert_eq!(found.id, draft);
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/graphql".to_owned(),
            format!("/repos/{OWNER}/{REPO}/releases/{draft}")
        ]
    );
    fake.clear_requests();
    // By listing (what a missing GraphQL leaves): page after page.
    let found = rt
        .block_on(gh.session_release_listed("old"))
        .unwrap()
        .expect("found on page 2");
    assert_eq!(found.id, draft);
    let lists: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/releases"))
        .collect();
    assert_eq!(lists.len(), 2, "two pages of 100");
    assert_eq!(
        lists[0]
            .response
            .as_ref()
            .unwrap()
            .body
            .as_ref()
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        100
    );
    assert!(lists[1].url.contains("page=2"));
    let sessions = rt.block_on(gh.list_session_releases()).unwrap();
    assert_eq!(sessions.len(), 1);
}

#[test]
fn stale_starters_go_but_another_writers_upload_in_flight_stays() {
    let fake = FakeGitHub::start(Options::default());
    let id = fake.seed_release(OWNER, REPO, &tag_for("main"), true);
    let name = archive_asset_name("s1", false);
    let stale = fake.seed_asset(
        OWNER,
        REPO,
        id,
        &format!("{name}.ccsync-tmp-0ld0ld0ld0ld"),
        b"half",
        "starter",
    );
    fake.age_asset(stale, 2 * 3600);
    let stale_final = fake.seed_asset(
        OWNER,
        REPO,
        id,
        &metadata_asset_name("s9"),
        b"ha",
        "starter",
    );
    fake.age_asset(stale_final, 2 * 3600);
    let in_flight = fake.seed_asset(
        OWNER,
        REPO,
        id,
        &format!("{name}.ccsync-tmp-0therwr1ter0"),
        b"hal",
        "starter",
    );

    let gh = client(&fake);
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let release = rt.block_on(gh.session_release_for_write("main")).unwrap();
    assert!(
        release.assets.is_empty(),
        "starters are not readable: {:?}",
        release.assets
    );
    let (file, data) = file_with(dir.path(), "a", 3, 5000);
    let asset = rt
        .block_on(gh.upload_asset(&release, &name, &file, "application/gzip"))
        .unwrap();
    assert_eq!(asset.name, name);
    let stored = &fake.releases(OWNER, REPO)[0];
    let ids: Vec<u64> = stored.assets.iter().map(|a| a.id).collect();
    assert!(
        !ids.contains(&stale) && !ids.contains(&stale_final),
        "stale starters were deleted"
    );
    assert!(
        ids.contains(&in_flight),
        "a young starter of another writer is left alone"
    );
    assert!(stored
        .assets
        .iter()
        .any(|a| a.name == name && a.data == data));
}

#[test]
fn an_interrupted_rename_is_read_under_its_final_name_and_finished_on_write() {
    let fake = FakeGitHub::start(Options::default());
    let id = fake.seed_release(OWNER, REPO, &tag_for("main"), true);
    let name = archive_asset_name("s1", false);
    // A writer died between deleting the old copy and renaming the new one.
    fake.seed_asset(
        OWNER,
        REPO,
        id,
        &format!("{name}.ccsync-tmp-deadbeef0000"),
        b"the only copy",
        "uploaded",
    );
    let gh = client(&fake);
    let rt = rt();
    let view = rt.block_on(gh.session_release("main")).unwrap().unwrap();
    let asset = view.asset(&name).expect("readable under its final name");
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(gh.download_asset(asset, &dir.path().join("x"), Some(&sha(b"the only copy"))))
        .unwrap();
    rt.block_on(gh.session_release_for_write("main")).unwrap();
    assert_stored(&fake, "main", &[(name, b"the only copy".to_vec())]);
}

#[test]
fn github_renames_odd_names_and_the_client_uses_the_returned_name() {
    let fake = FakeGitHub::start(Options::default());
    let gh = client(&fake);
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let release = rt.block_on(gh.session_release_for_write("main")).unwrap();
    let (file, _) = file_with(dir.path(), "n", 1, 10);
    let asset = rt
        .block_on(gh.upload_asset(&release, "my notes (1).txt", &file, "text/plain"))
        .unwrap();
    assert_eq!(asset.name, "my.notes.1.txt");
    // Replacing it finds the old copy under GitHub's form of the name.
    let again = rt
        .block_on(gh.upload_asset(&release, "my notes (1).txt", &file, "text/plain"))
        .unwrap();
    assert_eq!(again.name, "my.notes.1.txt");
    let stored = &fake.releases(OWNER, REPO)[0];
    assert_eq!(
        stored
            .assets
            .iter()
            .filter(|a| a.name == "my.notes.1.txt")
            .count(),
        1
    );
    assert_eq!(stored.assets.len(), 1);
    // The temporary name went out percent-encoded and arrived intact.
    assert!(fake.requests().iter().any(
        |r| r.host == Host::Uploads && r.url.contains("name=my+notes+%281%29.txt.ccsync-tmp-")
    ));
}

#[test]
fn delete_and_list_session_releases() {
    let fake = FakeGitHub::start(Options::default());
    let gh = client(&fake);
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(push(&gh, dir.path(), "a", "s1", 1));
    rt.block_on(push(&gh, dir.path(), "b", "s2", 2));
    fake.seed_release(OWNER, REPO, "v1.0", false);
    let all = rt.block_on(gh.list_session_releases()).unwrap();
    assert_eq!(
        all.iter().map(|r| r.branch().unwrap()).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    assert!(all[0]
        .body
        .as_deref()
        .unwrap()
        .contains(ccsync::release::names::BODY_MARKER));
    let asset = all[0].assets[0].clone();
    rt.block_on(gh.delete_asset(&asset)).unwrap();
    rt.block_on(gh.delete_asset(&asset)).unwrap(); // already gone: fine
    rt.block_on(gh.delete_release(&all[0])).unwrap();
    rt.block_on(gh.delete_release(&all[0])).unwrap();
    let left = rt.block_on(gh.list_session_releases()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(fake.releases(OWNER, REPO).len(), 2);
}

#[test]
fn an_upload_that_keeps_failing_gives_up_cleanly_and_the_old_copy_survives() {
    let fake = FakeGitHub::start(Options::default());
    let gh = client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (archive, meta) = rt.block_on(push(&gh, dir.path(), "main", "s1", 1));
    fake.add_fault(
        Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::CutUpload).times(50),
    );
    let release = rt.block_on(gh.session_release("main")).unwrap().unwrap();
    let (file, _) = file_with(dir.path(), "new", 8, 100_000);
    let err = rt
        .block_on(gh.upload_asset(
            &release,
            &archive_asset_name("s1", false),
            &file,
            "application/gzip",
        ))
        .unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("the connection to GitHub's uploads host")
            && err.to_string().contains("broke after"),
        "{err}"
    );
    // The old copy is untouched and no half-written asset is left behind.
    assert_stored(
        &fake,
        "main",
        &[
            (archive_asset_name("s1", false), archive),
            (metadata_asset_name("s1"), meta),
        ],
    );
    let cuts = fake
        .requests()
        .iter()
        .filter(|r| r.fault == Some(FaultKind::CutUpload))
        .count();
    assert_eq!(cuts, 5, "bounded attempts");
}

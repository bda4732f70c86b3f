//! The fake GitHub's fault injection (raw HTTP, no ccsync client): the k-th matching request, by
//! method, path, query and host; persistent faults; hangs a test can wait for; cut answers; and a
//! barrier that makes two clients meet. The write-protocol tests stand on these.

use std::time::Duration;

use fake_github::{FakeGitHub, Fault, FaultKind, Host, Options};
use reqwest::StatusCode;

const AUTH: &str = "Bearer any-token";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn upload(
    http: &reqwest::Client,
    fake: &FakeGitHub,
    release: u64,
    name: &str,
    body: &'static str,
) -> reqwest::RequestBuilder {
    http.post(format!(
        "{}/repos/o/r/releases/{release}/assets?name={name}",
        fake.uploads_url()
    ))
    .header("authorization", AUTH)
    .header("content-type", "text/plain")
    .body(body)
}

fn asset_names(fake: &FakeGitHub) -> Vec<(String, String)> {
    fake.releases("o", "r")
        .into_iter()
        .flat_map(|r| r.assets)
        .map(|a| (a.name, a.state))
        .collect()
}

#[test]
fn the_kth_matching_request_fails_and_a_persistent_fault_never_stops() {
    let fake = FakeGitHub::start(Options::default());
    let release = fake.seed_release("o", "r", "claude-sessions-main", true);
    let http = reqwest::Client::new();
    // The second upload whose name matches fails once; other names are not counted.
    fake.add_fault(
        Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::Status)
            .query("name=*.json")
            .on(Host::Uploads)
            .status(500)
            .after(1),
    );
    rt().block_on(async {
        let status = |r: reqwest::Response| r.status();
        assert_eq!(
            status(
                upload(&http, &fake, release, "a.json", "1")
                    .send()
                    .await
                    .unwrap()
            ),
            StatusCode::CREATED
        );
        assert_eq!(
            status(
                upload(&http, &fake, release, "x.txt", "1")
                    .send()
                    .await
                    .unwrap()
            ),
            StatusCode::CREATED
        );
        assert_eq!(
            status(
                upload(&http, &fake, release, "b.json", "1")
                    .send()
                    .await
                    .unwrap()
            ),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(
                upload(&http, &fake, release, "b.json", "1")
                    .send()
                    .await
                    .unwrap()
            ),
            StatusCode::CREATED
        );
    });
    assert!(fake.pending_faults().is_empty());

    fake.add_fault(Fault::new("DELETE", "/repos/*/releases/assets/*", FaultKind::Status).always());
    let id = fake.seed_asset("o", "r", release, "c.txt", b"c", "uploaded");
    rt().block_on(async {
        for _ in 0..5 {
            let r = http
                .delete(format!("{}/repos/o/r/releases/assets/{id}", fake.api_url()))
                .header("authorization", AUTH)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        }
    });
    assert_eq!(fake.pending_faults().len(), 1);
    fake.clear_faults();
    assert!(fake.pending_faults().is_empty());
    assert!(asset_names(&fake).contains(&("c.txt".into(), "uploaded".into())));
}

#[test]
fn hangs_are_counted_and_hang_after_does_the_request_first() {
    let fake = FakeGitHub::start(Options::default());
    let release = fake.seed_release("o", "r", "claude-sessions-main", true);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    fake.add_fault(
        Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::Hang).query("name=before.txt"),
    );
    fake.add_fault(
        Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::HangAfter)
            .query("name=after.txt"),
    );
    rt().block_on(async {
        let err = upload(&http, &fake, release, "before.txt", "x")
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        let err = upload(&http, &fake, release, "after.txt", "x")
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
    });
    assert!(fake.wait_for_hung(2, Duration::from_secs(5)));
    assert_eq!(fake.hung_requests(), 2);
    let names = asset_names(&fake);
    assert!(!names.iter().any(|(n, _)| n == "before.txt"), "{names:?}");
    assert!(
        names.contains(&("after.txt".into(), "uploaded".into())),
        "{names:?}"
    );
    // Both are in the log, without an answer.
    let logged: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.response.is_none())
        .collect();
    assert_eq!(logged.len(), 2);
}

#[test]
fn a_cut_response_announces_more_bytes_than_it_sends() {
    let fake = FakeGitHub::start(Options {
        redirect_downloads: false,
        ..Options::default()
    });
    let release = fake.seed_release("o", "r", "claude-sessions-main", true);
    let id = fake.seed_asset("o", "r", release, "big.bin", &[7u8; 100_000], "uploaded");
    fake.add_fault(Fault::new(
        "GET",
        "/repos/*/releases/assets/*",
        FaultKind::CutResponse,
    ));
    let http = reqwest::Client::new();
    rt().block_on(async {
        let get = || {
            http.get(format!("{}/repos/o/r/releases/assets/{id}", fake.api_url()))
                .header("authorization", AUTH)
                .header("accept", "application/octet-stream")
                .send()
        };
        let r = get().await.unwrap();
        assert_eq!(r.content_length(), Some(100_000));
        assert!(r.bytes().await.is_err(), "the body should end early");
        let r = get().await.unwrap();
        assert_eq!(r.bytes().await.unwrap().len(), 100_000);
    });
}

#[test]
fn a_barrier_holds_requests_until_both_arrive() {
    let fake = FakeGitHub::start(Options::default());
    let release = fake.seed_release("o", "r", "claude-sessions-main", true);
    fake.add_fault(
        Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::Barrier)
            .query("name=claim.json")
            .parties(2),
    );
    let http = reqwest::Client::new();
    rt().block_on(async {
        let mut first = tokio::spawn(upload(&http, &fake, release, "claim.json", "a").send());
        // Alone, the first waits at the barrier: no answer, nothing stored.
        let alone = tokio::time::timeout(Duration::from_millis(200), &mut first).await;
        assert!(alone.is_err(), "the first upload was answered alone");
        assert!(asset_names(&fake).is_empty());
        let second = upload(&http, &fake, release, "claim.json", "b")
            .send()
            .await
            .unwrap();
        let first = first.await.unwrap().unwrap();
        let mut statuses = vec![first.status().as_u16(), second.status().as_u16()];
        statuses.sort();
        // Met at the same instant: exactly one gets the name.
        assert_eq!(statuses, vec![201, 422]);
    });
}

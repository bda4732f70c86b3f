//! Transfers on real links, through the `ccsync` binary and the fake's `throttle`, `hang` and
//! `status` faults on each host: a slow link finishes, a stall (nothing, or a trickle) fails with
//! its cause and host and is retried within `--timeout`, a hung request is retried, and a retried
//! upload never leaves a half-written asset behind.

mod everyday_support;
mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use everyday_support::{assert_code, stderr, stdout, Laptop};
use fake_github::{Fault, FaultKind, Host};

/// `len` bytes of base64 text that gzip cannot shrink much (a xorshift stream).
fn incompressible_text(len: usize) -> String {
    use base64::Engine as _;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut raw = Vec::with_capacity(len * 3 / 4 + 8);
    while raw.len() < len * 3 / 4 + 3 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        raw.extend_from_slice(&state.to_le_bytes());
    }
    let mut text = base64::engine::general_purpose::STANDARD.encode(raw);
    text.truncate(len);
    text
}

/// A session of `main` whose side folder holds `side_bytes` of incompressible text.
fn big_session(laptop: &Laptop, side_bytes: usize) -> String {
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    let folder = laptop.project_dir().join(&session.id).join("tool-results");
    std::fs::create_dir_all(&folder).unwrap();
    let mut file = std::fs::File::create(folder.join("toolu_big.txt")).unwrap();
    file.write_all(incompressible_text(side_bytes).as_bytes())
        .unwrap();
    session.id
}

fn stored_names(laptop: &Laptop) -> Vec<String> {
    let mut names: Vec<String> = laptop
        .fake
        .releases("octo", "app")
        .iter()
        .flat_map(|r| r.assets.iter().map(|a| format!("{} ({})", a.name, a.state)))
        .collect();
    names.sort();
    names
}

fn assert_steady(laptop: &Laptop, id: &str) {
    assert_eq!(
        stored_names(laptop),
        vec![
            format!("claude-session-{id}.tar.gz (uploaded)"),
            format!("claude-session-metadata-{id}.json (uploaded)"),
        ]
    );
}

#[test]
fn a_12_mib_upload_through_a_250_kb_per_second_link_succeeds() {
    let laptop = Laptop::new();
    let id = big_session(&laptop, 17 << 20);
    laptop.fake.add_fault(
        Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::Throttle)
            .on(Host::Uploads)
            .rate(250_000)
            .always(),
    );
    let started = Instant::now();
    let mut cmd = laptop.cmd(&["release-push", "--session", &id, "--secrets", "allow"]);
    cmd.env_remove("CCSYNC_TIMEOUT");
    let output = everyday_support::run(cmd);
    let took = started.elapsed();
    assert_code(&output, 0);
    let meta = laptop.stored_metadata(&id).unwrap();
    let size = meta["archive"]["size"].as_u64().unwrap();
    assert!(size >= 12 << 20, "the archive is {size} bytes");
    // The link really was slow: well past the old 30 s cut-off, and past the default 10 s stall.
    assert!(
        took >= Duration::from_secs_f64(size as f64 / 250_000.0 * 0.9),
        "took {took:?}"
    );
    assert!(!stderr(&output).contains("retrying"), "{}", stderr(&output));
    assert_steady(&laptop, &id);
}

#[test]
fn an_upload_that_stalls_is_retried_under_a_new_name_and_nothing_is_left_behind() {
    for kind in [FaultKind::Hang, FaultKind::Throttle] {
        let laptop = Laptop::new();
        let id = big_session(&laptop, 200 << 10);
        // The archive's first upload: nothing at all, or one byte a second (a trickle).
        laptop.fake.add_fault(
            Fault::new("POST", "/repos/*/releases/*/assets", kind)
                .on(Host::Uploads)
                .query("name=claude-session-*.tmp-*")
                .rate(1),
        );
        let mut cmd = laptop.cmd(&["release-push", "--session", &id, "--secrets", "allow"]);
        cmd.env("CCSYNC_STALL_SECONDS", "1");
        let output = everyday_support::run(cmd);
        assert_code(&output, 0);
        let text = stderr(&output);
        assert!(
            text.contains("stopped answering, retrying in"),
            "{kind:?}: {text}"
        );
        let uploads: Vec<String> = laptop
            .fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.url.contains(".tmp-"))
            .map(|r| r.url.clone())
            .collect();
        // Tried again (under the same temporary name once its `starter` is gone, or a new one):
        // the stored copy is complete and nothing half-written is left.
        // (The fake logs a request when it ends: the trickled one the client gave up on is not.)
        assert!(!uploads.is_empty(), "{kind:?}");
        assert_steady(&laptop, &id);
    }
}

#[test]
fn an_upload_that_never_moves_fails_naming_the_uploads_host_and_the_bytes() {
    let laptop = Laptop::new();
    // Larger than loopback's buffers (about 8 MiB): the stall is seen mid-body.
    let id = big_session(&laptop, 16 << 20);
    laptop.fake.add_fault(
        Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::Throttle)
            .on(Host::Uploads)
            .rate(1)
            .always(),
    );
    let mut cmd = laptop.cmd(&[
        "--timeout",
        "4",
        "release-push",
        "--session",
        &id,
        "--secrets",
        "allow",
    ]);
    cmd.env("CCSYNC_STALL_SECONDS", "1");
    let started = Instant::now();
    let output = everyday_support::run(cmd);
    assert_code(&output, 1);
    assert!(started.elapsed() < Duration::from_secs(20));
    let text = stderr(&output);
    let uploads = laptop.fake.uploads_url();
    let host = uploads.trim_start_matches("http://");
    assert!(text.contains(&format!("uploads host {host}")), "{text}");
    assert!(
        text.contains("stalled after") && text.contains(" of "),
        "{text}"
    );
    assert!(text.contains("CCSYNC_STALL_SECONDS"), "{text}");
    assert!(!text.contains("no answer within 10 s"), "{text}");
    // No half-written asset stays; the release holds nothing that reads as a copy.
    assert!(
        stored_names(&laptop).iter().all(|n| !n.contains("starter")),
        "{:?}",
        stored_names(&laptop)
    );
}

#[test]
fn a_trickling_download_is_a_stall_bounded_by_timeout() {
    let laptop = Laptop::new();
    let id = big_session(&laptop, 1 << 20);
    let mut cmd = laptop.cmd(&["release-push", "--session", &id, "--secrets", "allow"]);
    cmd.env("CCSYNC_STALL_SECONDS", "1");
    assert_code(&everyday_support::run(cmd), 0);
    std::fs::remove_dir_all(laptop.project_dir()).unwrap();
    // The metadata comes; the archive trickles, one byte a second, for ever.
    laptop.fake.add_fault(
        Fault::new(
            "GET",
            "/github-production-release-asset/*",
            FaultKind::Throttle,
        )
        .on(Host::Storage)
        .rate(1)
        .after(1)
        .always(),
    );
    let started = Instant::now();
    let mut cmd = laptop.cmd(&["--timeout", "6", "release-restore"]);
    cmd.env_remove("CCSYNC_STALL_SECONDS");
    let output = everyday_support::run(cmd);
    let took = started.elapsed();
    assert_code(&output, 1);
    assert!(took < Duration::from_secs(12), "took {took:?}");
    let text = stderr(&output);
    let storage = laptop.fake.storage_url();
    let host = storage.trim_start_matches("http://");
    assert!(text.contains(&format!("storage host {host}")), "{text}");
    assert!(text.contains("stalled after"), "{text}");
    assert!(!laptop.project_dir().join(format!("{id}.jsonl")).exists());
}

#[test]
fn a_download_that_hangs_once_is_retried() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &session.id);
    std::fs::remove_dir_all(laptop.project_dir()).unwrap();
    for host in [Host::Api, Host::Storage] {
        let path = match host {
            Host::Storage => "/github-production-release-asset/*",
            _ => "/repos/*/releases/assets/*",
        };
        laptop
            .fake
            .add_fault(Fault::new("GET", path, FaultKind::Hang).on(host));
    }
    let mut cmd = laptop.cmd(&["release-restore"]);
    cmd.env("CCSYNC_STALL_SECONDS", "1");
    let output = everyday_support::run(cmd);
    assert_code(&output, 0);
    assert!(laptop
        .project_dir()
        .join(format!("{}.jsonl", session.id))
        .exists());
}

#[test]
fn a_listing_that_hangs_once_is_retried() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &session.id);
    for path in ["/graphql", "/repos/*/releases"] {
        let method = if path == "/graphql" { "POST" } else { "GET" };
        laptop
            .fake
            .add_fault(Fault::new(method, path, FaultKind::Hang));
    }
    let mut cmd = laptop.cmd(&["release-list", "--json"]);
    cmd.env("CCSYNC_STALL_SECONDS", "1");
    let output = everyday_support::run(cmd);
    assert_code(&output, 0);
    let list = everyday_support::parse_json(&output);
    assert_eq!(list["sessions"][0]["sessionId"], session.id.as_str());
    assert!(stderr(&output).contains("stopped answering, retrying in"));
}

/// A test runner's log: the same lines over and over, as `npm test` prints them (gzip shrinks it
/// more than 100 times).
fn test_log(len: usize) -> String {
    let mut log = String::with_capacity(len + 100);
    let mut n = 0u64;
    while log.len() < len {
        n += 1;
        log.push_str(&format!(
            "PASS src/components/Button.test.tsx ({} ms)\n",
            n % 7 + 3
        ));
    }
    log
}

#[test]
fn a_session_holding_a_huge_compressible_log_restores_byte_identical() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    let side = laptop.project_dir().join(&session.id).join("tool-results");
    std::fs::create_dir_all(&side).unwrap();
    let log = test_log(9 << 20);
    std::fs::write(side.join("toolu_log.txt"), &log).unwrap();
    let transcript = laptop.project_dir().join(format!("{}.jsonl", session.id));
    let before = std::fs::read(&transcript).unwrap();
    laptop.push("main", &session.id);
    let meta = laptop.stored_metadata(&session.id).unwrap();
    let ratio = meta["unpackedSize"].as_u64().unwrap() / meta["archive"]["size"].as_u64().unwrap();
    assert!(ratio >= 100, "the archive is compressed {ratio} times");

    std::fs::remove_dir_all(laptop.project_dir()).unwrap();
    for args in [vec!["release-restore"], vec!["release-restore", "--force"]] {
        let output = laptop.run(&args);
        assert_code(&output, 0);
        assert_eq!(
            std::fs::read(side.join("toolu_log.txt")).unwrap(),
            log.as_bytes()
        );
        assert_eq!(std::fs::read(&transcript).unwrap(), before);
    }
    let out_dir = laptop.env.temp.path().join("exported");
    let output = laptop.run(&[
        "release-export",
        "--session",
        &session.id,
        "--output",
        out_dir.to_str().unwrap(),
    ]);
    assert_code(&output, 0);
}

#[test]
fn push_refuses_what_restore_would_refuse_and_says_how_to_raise_the_ceiling() {
    let laptop = Laptop::new();
    let id = big_session(&laptop, 3 << 20);
    let mut cmd = laptop.cmd(&["release-push", "--session", &id, "--secrets", "allow"]);
    cmd.env("CCSYNC_MAX_UNPACKED_MB", "2");
    let output = everyday_support::run(cmd);
    assert_code(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains("CCSYNC_MAX_UNPACKED_MB") && text.contains("nothing was uploaded"),
        "{text}"
    );
    assert!(laptop
        .fake
        .releases("octo", "app")
        .iter()
        .all(|r| r.assets.is_empty()));
}

#[test]
fn resume_of_another_branch_than_the_checked_out_one_is_refused_without_force() {
    let laptop = Laptop::new();
    let session = laptop.session("feature", "2026-03-01T10:00:00Z");
    laptop.push("feature", &session.id);
    // The checkout is on `main`; no terminal to ask on.
    let output = laptop.run(&["resume", "--branch", "feature"]);
    assert_code(&output, 2);
    let text = stderr(&output);
    assert!(
        text.contains("checked-out branch `main`") && text.contains("--force"),
        "{text}"
    );
    // With --force it goes on (here to the missing Claude, which is the next thing it checks).
    let mut cmd = laptop.cmd(&["resume", "--branch", "feature", "--force"]);
    cmd.env("CCSYNC_CLAUDE", "/nonexistent/claude");
    let output = everyday_support::run(cmd);
    assert!(
        !stderr(&output).contains("checked-out branch"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_record_being_written_stays_for_the_next_push() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    let transcript = laptop.project_dir().join(format!("{}.jsonl", session.id));
    let complete = std::fs::read(&transcript).unwrap();
    // Claude is writing the next record: 1,501 bytes of a longer line, no newline yet.
    let torn = format!("{{\"type\":\"user\",\"message\":\"{}", "x".repeat(1480));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    file.write_all(torn.as_bytes()).unwrap();
    drop(file);
    laptop.push("main", &session.id);
    std::fs::rename(&transcript, laptop.env.temp.path().join("local.jsonl")).unwrap();
    let output = laptop.run(&["release-restore", "--session", &session.id]);
    assert_code(&output, 0);
    assert_eq!(
        std::fs::read(&transcript).unwrap(),
        complete,
        "only complete records travel"
    );
}

#[test]
fn a_record_without_its_newline_is_compared_as_it_is_packed() {
    // The last record is whole JSON, but its newline is not written yet: push leaves it, and the
    // uuid rule must not count it either, or the push that follows the newline is "up to date".
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    let transcript = laptop.project_dir().join(format!("{}.jsonl", session.id));
    let record = format!(
        "{{\"type\":\"user\",\"uuid\":\"9d0c1c57-0000-4000-8000-00000000aa01\",\"parentUuid\":null,\"sessionId\":\"{}\",\"gitBranch\":\"main\",\"timestamp\":\"2026-03-01T11:00:00Z\",\"message\":{{\"role\":\"user\",\"content\":\"the newest words\"}}}}",
        session.id
    );
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    file.write_all(record.as_bytes()).unwrap();
    drop(file);
    laptop.push("main", &session.id);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    file.write_all(b"\n").unwrap();
    drop(file);
    let whole = std::fs::read(&transcript).unwrap();
    let again = laptop.run(&["--json", "release-push", "--session", &session.id]);
    assert_code(&again, 0);
    assert!(
        stdout(&again).contains("\"uploaded\""),
        "the finished record is uploaded: {}",
        stdout(&again)
    );
    std::fs::rename(&transcript, laptop.env.temp.path().join("local.jsonl")).unwrap();
    assert_code(
        &laptop.run(&["release-restore", "--session", &session.id]),
        0,
    );
    assert_eq!(
        std::fs::read(&transcript).unwrap(),
        whole,
        "the record arrived"
    );
}

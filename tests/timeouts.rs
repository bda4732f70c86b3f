//! Fast, honest answers when GitHub is slow or gone, through the `ccsync` binary: an API that
//! refuses connections gives a clear error within 10 s; one that accepts and never answers is
//! retried within `--timeout` and then a clear error; a retry is said on stderr while ccsync waits.

mod support;

use std::net::TcpListener;
use std::process::Output;
use std::time::{Duration, Instant};

use fake_github::{FakeGitHub, Fault, FaultKind, Options};
use support::sessions::{project_folder, SessionBuilder};
use support::{assert_no_token, TestEnv, TOKEN};

fn run(env: &TestEnv, api_url: &str, args: &[&str]) -> (Output, Duration) {
    let mut cmd = env.ccsync();
    cmd.args(args)
        .env("GITHUB_API_URL", api_url)
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove("CCSYNC_TIMEOUT")
        .env_remove("CCSYNC_RETRY_BASE_MS");
    let started = Instant::now();
    let output = cmd.output().expect("ccsync runs");
    assert_no_token(&output);
    (output, started.elapsed())
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_refused_connection_is_a_clear_error_within_ten_seconds() {
    // A port nobody listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = TestEnv::new();
    let (output, took) = run(
        &env,
        &format!("http://127.0.0.1:{port}"),
        &["release-restore"],
    );
    let text = stderr(&output);
    assert!(!output.status.success(), "{text}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {text}");
    assert!(text.contains("could not reach GitHub"), "{text}");
    assert!(
        text.contains("could not be reached, retrying in"),
        "the wait is said: {text}"
    );
}

#[test]
fn an_api_that_never_answers_is_retried_within_timeout_then_a_clear_error() {
    // Accepts connections (the kernel's backlog) and never reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let env = TestEnv::new();

    // One answer wait is 10 s; a hang is retried like a drop while the budget lasts.
    let (output, took) = run(&env, &url, &["--timeout", "14", "release-restore"]);
    let text = stderr(&output);
    assert!(!output.status.success(), "{text}");
    assert!(took < Duration::from_secs(18), "took {took:?}: {text}");
    assert!(took >= Duration::from_secs(12), "it did wait: {took:?}");
    assert!(text.contains("stopped answering, retrying in"), "{text}");
    // The last wait was cut to what was left of the budget, and the message says so.
    assert!(text.contains("no answer within"), "{text}");
    assert!(
        text.contains("2 attempts in 14 s"),
        "the real times: {text}"
    );
    assert!(text.contains("--timeout"), "says what to change: {text}");

    // `--timeout` shortens the wait.
    let (output, took) = run(&env, &url, &["--timeout", "2", "release-list"]);
    let text = stderr(&output);
    assert!(!output.status.success(), "{text}");
    assert!(took < Duration::from_secs(6), "took {took:?}: {text}");
    assert!(text.contains("no answer within 2 s"), "{text}");
    drop(silent);
}

#[test]
fn a_retry_is_said_on_stderr() {
    let fake = FakeGitHub::start(Options::default());
    let env = TestEnv::new();
    let session = SessionBuilder::new(&env.repo).turns(2);
    session.write_to(&project_folder(&env.claude_dir, &env.repo));
    let mut fault = Fault::new("POST", "/graphql", FaultKind::Status);
    fault.status = Some(502);
    fake.add_fault(fault);
    let mut cmd = env.ccsync();
    cmd.args(["release-push"])
        .env("GITHUB_API_URL", fake.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("CCSYNC_RETRY_BASE_MS", "1");
    let output = cmd.output().unwrap();
    assert_no_token(&output);
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("GitHub answered 502, retrying in") && text.contains("(attempt 2 of 5)"),
        "{text}"
    );
}

//! Strict inputs and the everyday rough edges: `--branch` checked by git's ref-name rules before
//! any request, usage lines without options set from the environment, session ids in any case or
//! as a unique prefix, a session stored in several releases (shown with a warning, `--branch`
//! chooses; pruned everywhere), export's default and empty folders, doctor on a fresh runner, and
//! `resume --json` keeping Claude's output off stdout.

mod everyday_support;
mod support;

use everyday_support::{assert_code, parse_json, stderr, stdout, Laptop};

const MARKER: &str = "<!-- ccsync:session-release -->";

#[test]
fn branch_inputs_are_checked_by_git_rules_before_any_request() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &session.id);
    laptop.fake.clear_requests();
    for bad in [
        "",
        "a b",
        "x\ny",
        "a..b",
        "-x",
        "feature~1",
        "x.lock",
        "a\u{1b}[31m",
    ] {
        for command in [
            "release-list",
            "release-push",
            "release-restore",
            "discover",
        ] {
            let output = laptop.run(&[command, &format!("--branch={bad}")]);
            assert_code(&output, 2);
            let err = stderr(&output);
            assert!(err.contains("--branch"), "{command} {bad:?}: {err}");
            assert!(
                !err.trim_end().contains('\n') && !err.contains('\u{1b}'),
                "control characters are escaped: {err:?}"
            );
        }
    }
    assert!(
        laptop.fake.requests().is_empty(),
        "refused before any request: {:?}",
        laptop.fake.requests()
    );
    let output = laptop.run(&["release-list", "--branch", "x\ny"]);
    assert!(stderr(&output).contains("x\\ny"), "{}", stderr(&output));

    // `refs/heads/main` is `main`, as git takes it.
    let listed = laptop.json(&["release-list", "--branch", "refs/heads/main"]);
    assert_eq!(listed["sessions"][0]["sessionId"], session.id.as_str());
    assert_eq!(listed["sessions"][0]["branch"], "main");
    // A fork's branch key stays valid.
    let output = laptop.run(&["release-list", "--branch", "alice:main"]);
    assert_code(&output, 0);
}

#[test]
fn usage_errors_do_not_list_options_set_from_the_environment() {
    let laptop = Laptop::new();
    let output = run_with_env(&laptop, &["release-show"]);
    assert_code(&output, 2);
    let err = stderr(&output);
    let usage = err.lines().find(|l| l.starts_with("Usage:")).unwrap_or("");
    assert!(usage.contains("--session <ID>"), "{err}");
    assert!(
        !usage.contains("--api-url")
            && !usage.contains("--repo")
            && !usage.contains("--claude-dir"),
        "{err}"
    );
}

fn run_with_env(laptop: &Laptop, args: &[&str]) -> std::process::Output {
    let mut cmd = laptop.cmd(args);
    cmd.env("GITHUB_REPOSITORY", "octo/app")
        .env("CLAUDE_CONFIG_DIR", &laptop.env.claude_dir)
        .env("CCSYNC_TIMEOUT", "30");
    everyday_support::run(cmd)
}

#[test]
fn session_ids_in_upper_case_or_as_a_unique_prefix() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    let upper = session.id.to_uppercase();
    let pushed = laptop.json(&["release-push", "--session", &upper]);
    assert_eq!(pushed[0]["sessionId"], session.id.as_str());

    let prefix = &session.id[..8];
    let shown = laptop.json(&["release-show", "--session", prefix]);
    assert_eq!(shown["sessionId"], session.id.as_str());
    let shown = laptop.json(&["release-show", "--session", &upper[..8]]);
    assert_eq!(shown["sessionId"], session.id.as_str());
    let pushed = laptop.json(&["release-push", "--session", prefix]);
    assert_eq!(pushed[0]["action"], "up-to-date");

    // A prefix of nothing is nothing found; too short or not hex is a usage error.
    let output = laptop.run(&["release-show", "--session", "ffffffff"]);
    assert_code(&output, 3);
    let output = laptop.run(&["release-show", "--session", "abc"]);
    assert_code(&output, 2);
}

#[test]
fn a_session_in_two_branches_releases_is_named_and_pruned_everywhere() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    let other = laptop.session("main", "2026-03-02T10:00:00Z");
    laptop.push("main", &session.id);
    laptop.push("main", &other.id);
    laptop.push("feature", &session.id);

    let output = laptop.run(&["release-show", "--session", &session.id]);
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(
        err.contains("`main`") && err.contains("`feature`") && err.contains("--branch"),
        "says both branches and how to choose: {err}"
    );
    let shown = laptop.json(&[
        "release-show",
        "--session",
        &session.id,
        "--branch",
        "feature",
    ]);
    assert_eq!(shown["branch"], "feature");
    let all = laptop.json(&["release-show", "--session", &session.id]);
    assert_eq!(all["storedIn"], serde_json::json!(["feature", "main"]));
    let output = laptop.run(&[
        "release-show",
        "--session",
        &other.id,
        "--branch",
        "feature",
    ]);
    assert_code(&output, 3);

    // A duplicate draft of main's tag holding a copy too (a lost create race).
    let duplicate = laptop.seed_release("claude-sessions-main", true, MARKER);
    for asset in laptop
        .fake
        .releases("octo", "app")
        .iter()
        .filter(|r| r.tag_name == "claude-sessions-main" && r.id != duplicate)
        .flat_map(|r| r.assets.clone())
        .filter(|a| a.name.contains(&session.id))
    {
        laptop.fake.seed_asset(
            "octo",
            "app",
            duplicate,
            &asset.name,
            &asset.data,
            "uploaded",
        );
    }
    assert_eq!(
        holding(&laptop, &session.id),
        6,
        "three copies of two assets"
    );

    // --branch limits the removal to one branch.
    let removed = laptop.json(&[
        "release-prune",
        "--session",
        &session.id,
        "--branch",
        "feature",
        "--yes",
    ]);
    assert_eq!(removed["copies"].as_array().unwrap().len(), 1, "{removed}");
    assert_eq!(holding(&laptop, &session.id), 4);

    // Without it, every copy goes in one run, each named.
    let output = laptop.run(&["release-prune", "--session", &session.id, "--yes", "--json"]);
    assert_code(&output, 0);
    let removed = parse_json(&output);
    assert_eq!(removed["copies"].as_array().unwrap().len(), 2, "{removed}");
    assert_eq!(removed["notRemoved"], serde_json::json!([]));
    assert_eq!(holding(&laptop, &session.id), 0);
    assert_eq!(holding(&laptop, &other.id), 2, "the other session stays");
    assert_eq!(
        stderr(&output).matches("removed session").count(),
        2,
        "{}",
        stderr(&output)
    );
}

/// Assets of session `id` in every release of the fake.
fn holding(laptop: &Laptop, id: &str) -> usize {
    laptop
        .fake
        .releases("octo", "app")
        .iter()
        .flat_map(|r| r.assets.iter())
        .filter(|a| a.name.contains(id))
        .count()
}

#[test]
fn export_defaults_to_a_folder_named_for_the_session_and_takes_an_empty_one() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &session.id);
    let exported = laptop.json(&["release-export", "--session", &session.id]);
    let folder = laptop
        .env
        .repo
        .join(format!("claude-session-{}", session.id));
    assert!(
        folder.join(format!("{}.jsonl", session.id)).is_file(),
        "{exported}"
    );
    // Again: the folder now holds files, so it is refused.
    let output = laptop.run(&["release-export", "--session", &session.id]);
    assert_code(&output, 2);
    assert!(stderr(&output).contains("not empty"), "{}", stderr(&output));

    let empty = laptop.env.temp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let exported = laptop.json(&[
        "release-export",
        "--session",
        &session.id,
        "--output",
        empty.to_str().unwrap(),
    ]);
    assert!(
        empty.join(format!("{}.jsonl", session.id)).is_file(),
        "{exported}"
    );
}

#[test]
fn doctor_on_a_fresh_runner_warns_about_the_missing_claude_folder() {
    let laptop = Laptop::new();
    let missing = laptop.env.temp.path().join("runner-home/.claude");
    let mut cmd = laptop.cmd(&[
        "doctor",
        "--json",
        "--claude-dir",
        missing.to_str().unwrap(),
    ]);
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "octo/app")
        .env("GITHUB_REF_NAME", "main");
    let output = everyday_support::run(cmd);
    let checks = parse_json(&output);
    let folder = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "claude-folder")
        .expect("the Claude folder is checked");
    assert_eq!(folder["status"], "warn", "{checks}");
}

#[cfg(unix)]
#[test]
fn resume_json_keeps_claudes_output_off_stdout() {
    use std::os::unix::fs::PermissionsExt;
    let laptop = Laptop::new();
    let claude = laptop.env.temp.path().join("claude-standin");
    std::fs::write(&claude, "#!/bin/sh\necho 'hello from claude'\nexit 0\n").unwrap();
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = laptop.cmd(&["resume", "--json"]);
    cmd.env("CCSYNC_CLAUDE", &claude);
    let output = everyday_support::run(cmd);
    assert_code(&output, 0);
    let json = parse_json(&output);
    assert_eq!(json["started"], "new", "{json}");
    assert!(!stdout(&output).contains("hello from claude"));
    assert!(
        stderr(&output).contains("hello from claude"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn repo_takes_urls_as_gh_does() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &session.id);
    for repo in [
        "https://github.com/octo/app",
        "https://github.com/octo/app.git",
        "git@github.com:octo/app.git",
        "ssh://git@github.com/octo/app",
        "github.com/octo/app",
    ] {
        let listed = laptop.json(&["--repo", repo, "release-list"]);
        assert_eq!(listed["repository"], "octo/app", "{repo}");
        assert_eq!(
            listed["sessions"][0]["sessionId"],
            session.id.as_str(),
            "{repo}"
        );
    }
    laptop.fake.clear_requests();
    let output = laptop.run(&["--repo", "https://gitlab.com/octo/app", "release-list"]);
    assert_code(&output, 2);
    assert!(laptop.fake.requests().is_empty(), "the token goes nowhere");
}

#[test]
fn push_does_not_take_over_a_draft_ccsync_did_not_make() {
    let laptop = Laptop::new();
    let session = laptop.session("x", "2026-03-01T10:00:00Z");
    let notes = "Release notes in progress, by hand.";
    let id = laptop.seed_release("claude-sessions-x", true, notes);
    let release = || {
        laptop
            .fake
            .releases("octo", "app")
            .into_iter()
            .find(|r| r.id == id)
            .unwrap()
    };

    let output = laptop.run(&["release-push", "--branch", "x", "--session", &session.id]);
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("not made by ccsync") && err.contains("--force"),
        "{err}"
    );
    assert!(release().assets.is_empty(), "nothing uploaded");
    assert_eq!(release().body.as_deref(), Some(notes));

    // --force stores the session there, and its description still is the user's.
    let pushed = laptop.json(&[
        "release-push",
        "--branch",
        "x",
        "--session",
        &session.id,
        "--force",
    ]);
    assert_eq!(pushed[0]["action"], "uploaded", "{pushed}");
    assert!(!release().assets.is_empty());
    assert_eq!(release().body.as_deref(), Some(notes), "never rewritten");
}

#[test]
fn a_passphrase_file_encrypts_and_decrypts_and_a_terminal_is_asked() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    let file = laptop.env.temp.path().join("passphrase.txt");
    std::fs::write(&file, "correct horse battery\n").unwrap();
    let mut cmd = laptop.cmd(&["release-push", "--session", &session.id, "--json"]);
    cmd.env("CCSYNC_PASSPHRASE_FILE", &file);
    let output = everyday_support::run(cmd);
    assert_code(&output, 0);
    assert_eq!(parse_json(&output)[0]["encrypted"], true);

    // Another folder of the same machine: the file decrypts it.
    let out = laptop.env.temp.path().join("exported");
    let mut cmd = laptop.cmd(&[
        "release-export",
        "--session",
        &session.id,
        "--output",
        out.to_str().unwrap(),
    ]);
    cmd.env("CCSYNC_PASSPHRASE_FILE", &file);
    assert_code(&everyday_support::run(cmd), 0);
    assert!(out.join(format!("{}.jsonl", session.id)).is_file());

    // Without a terminal and without a passphrase: the error says what to set.
    let output = laptop.run(&["release-export", "--session", &session.id, "--output", "x"]);
    assert_code(&output, 1);
    assert!(
        stderr(&output).contains("CCSYNC_PASSPHRASE"),
        "{}",
        stderr(&output)
    );

    // An empty or missing file is an error, never "no encryption".
    std::fs::write(&file, "\n").unwrap();
    let mut cmd = laptop.cmd(&["release-push", "--session", &session.id]);
    cmd.env("CCSYNC_PASSPHRASE_FILE", &file);
    assert_code(&everyday_support::run(cmd), 2);
    let mut cmd = laptop.cmd(&["release-push", "--session", &session.id]);
    cmd.env(
        "CCSYNC_PASSPHRASE_FILE",
        laptop.env.temp.path().join("missing"),
    );
    assert_code(&everyday_support::run(cmd), 2);

    // On a terminal, export asks for it (echo off) and decrypts.
    let Some(script) = support::require_tool("script", "apt-get install bsdutils") else {
        return;
    };
    let out = laptop.env.temp.path().join("asked");
    let command = format!(
        "{} release-export --session {} --output {}",
        env!("CARGO_BIN_EXE_ccsync"),
        session.id,
        out.display()
    );
    let mut child = std::process::Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .current_dir(&laptop.env.repo)
        .env("HOME", &laptop.env.home)
        .env("CLAUDE_CONFIG_DIR", &laptop.env.claude_dir)
        .env("GITHUB_API_URL", laptop.fake.api_url())
        .env("GITHUB_TOKEN", support::TOKEN)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_REPOSITORY")
        .env_remove("CCSYNC_PASSPHRASE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::{Read, Write};
    // The terminal's output is read on a thread, so a prompt that never comes fails the test
    // instead of hanging it.
    let mut stdout = child.stdout.take().unwrap();
    let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 256];
            while let Ok(n) = stdout.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                shown.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    let prompted =
        || String::from_utf8_lossy(&shown.lock().unwrap()).contains("CCSYNC_PASSPHRASE): ");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !prompted() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        prompted(),
        "no prompt: {}",
        String::from_utf8_lossy(&shown.lock().unwrap())
    );
    // Typed once the prompt shows (ccsync turns echo off before it prints the prompt).
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"correct horse battery\n").unwrap();
    let mut exited = None;
    while exited.is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        exited = child.try_wait().unwrap();
    }
    drop(stdin);
    if exited.is_none() {
        let _ = child.kill();
    }
    child.wait().unwrap();
    assert!(
        exited.is_some(),
        "export did not finish after the passphrase was typed: {}",
        String::from_utf8_lossy(&shown.lock().unwrap())
    );
    reader.join().unwrap();
    let shown = shown.lock().unwrap().clone();
    let shown = String::from_utf8_lossy(&shown);
    assert!(!shown.contains("correct horse"), "echo is off: {shown}");
    assert!(
        out.join(format!("{}.jsonl", session.id)).is_file(),
        "{shown}"
    );
}

#[test]
fn vvv_and_ccsync_debug_print_each_request_without_the_token() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    laptop.push("main", &session.id);
    let quiet = laptop.run(&["release-list"]);
    assert!(!stderr(&quiet).contains("http: "), "{}", stderr(&quiet));
    let mut with_env = laptop.cmd(&["release-restore", "--session", &session.id, "--force"]);
    with_env.env("CCSYNC_DEBUG", "http");
    for output in [
        laptop.run(&["-vvv", "release-list"]),
        everyday_support::run(with_env),
    ] {
        assert_code(&output, 0);
        let err = stderr(&output);
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("http: ")).collect();
        assert!(!lines.is_empty(), "{err}");
        for line in &lines {
            assert!(
                line.contains(" -> ")
                    && line.ends_with(" ms")
                    && line.contains("http://127.0.0.1:"),
                "method, URL, status and time: {line}"
            );
        }
        assert!(
            lines.iter().any(|l| l.contains("GET ")
                && l.contains("/repos/octo/app")
                && l.contains("-> 200")),
            "{err}"
        );
        assert!(!err.contains(support::TOKEN));
    }

    // Uploads too: the POST of each asset with its size and status, its query elided.
    let fresh = laptop.session("main", "2026-03-02T10:00:00Z");
    let pushed = laptop.run(&["-vvv", "release-push", "--session", &fresh.id]);
    assert_code(&pushed, 0);
    let err = stderr(&pushed);
    let uploads: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("http: POST ") && l.contains("/assets?…"))
        .collect();
    assert!(uploads.len() >= 2, "the archive and its metadata: {err}");
    for line in &uploads {
        let bytes = line
            .split(" (")
            .nth(1)
            .and_then(|rest| rest.split(" B)").next())
            .and_then(|n| n.parse::<u64>().ok());
        assert!(bytes.is_some_and(|n| n > 0), "bytes sent: {line}");
        assert!(line.contains("-> 201") && line.ends_with(" ms"), "{line}");
        assert!(!line.contains("name="), "no query: {line}");
    }
    assert!(!err.contains(support::TOKEN));
}

#[test]
fn text_tables_line_up_by_display_width() {
    let laptop = Laptop::new();
    let wide = laptop.session("機能", "2026-03-01T10:00:00Z");
    let narrow = laptop.session("main", "2026-03-02T10:00:00Z");
    laptop.push("機能", &wide.id);
    laptop.push("main", &narrow.id);
    let output = laptop.run(&["release-list"]);
    assert_code(&output, 0);
    let text = stdout(&output);
    // The session id column starts at the same terminal column on both rows (機 takes two).
    let column = |id: &str| {
        let line = text.lines().find(|l| l.contains(id)).unwrap();
        let before = &line[..line.find(id).unwrap()];
        before
            .chars()
            .map(|c| if c.is_ascii() { 1 } else { 2 })
            .sum::<usize>()
    };
    assert_eq!(column(&wide.id), column(&narrow.id), "{text}");
}

/// `release-restore --session <start>` takes the start of an id that only the branch's release
/// holds; a start that fits two stored ids is a usage error naming both.
#[test]
fn a_session_start_resolves_against_the_branchs_release_too() {
    let laptop = Laptop::new();
    let ids = [
        "abcd0000-0000-4000-8000-000000000001",
        "abcd0000-1111-4000-8000-000000000002",
    ];
    for (n, id) in ids.iter().enumerate() {
        let session = support::sessions::SessionBuilder::new(&laptop.env.repo)
            .id(id)
            .at(&format!("2026-03-0{}T10:00:00Z", n + 1))
            .turns(1);
        let file = session.write_to(&laptop.project_dir());
        laptop.push("main", id);
        std::fs::remove_file(file).unwrap();
    }
    let ambiguous = laptop.run(&["release-restore", "--session", "abcd0000"]);
    assert_code(&ambiguous, 2);
    let err = stderr(&ambiguous);
    assert!(err.contains(ids[0]) && err.contains(ids[1]), "{err}");

    let json = laptop.json(&["release-restore", "--session", "ABCD0000-0"]);
    assert_eq!(json["sessionId"], ids[0]);
    assert_eq!(json["action"], "installed");
    assert!(laptop
        .project_dir()
        .join(format!("{}.jsonl", ids[0]))
        .exists());
}

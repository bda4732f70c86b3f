//! `ccsync resume` with a stand-in `claude` (CCSYNC_CLAUDE): a shell script that records how it
//! was called, appends records to the session as `claude --resume` does, and exits the way the
//! test asks (non-zero, or interrupted by Ctrl-C). ccsync restores first when the release is
//! ahead, and pushes afterwards whatever the exit.
#![cfg(unix)]

mod everyday_support;
mod support;

use std::path::{Path, PathBuf};

use everyday_support::{assert_code, parse_json, stderr, Laptop};
use support::sessions::SessionBuilder;
use support::TOKEN;

/// Writes the stand-in Claude into the test's temp folder. It writes its arguments and working
/// folder to `$STANDIN_LOG`; with `--resume ID` it appends `$STANDIN_MORE` to that session, else
/// it starts the session `$STANDIN_NEW` (a file); `--version` answers as Claude Code does. Exits `$STANDIN_EXIT`; with `STANDIN_SIGINT=1`
/// it first sends Ctrl-C to its whole process group, as a terminal does.
fn standin(laptop: &Laptop) -> PathBuf {
    let path = laptop.env.temp.path().join("bin/claude-standin");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        r#"#!/bin/sh
if [ "$1" = "--version" ]; then
    echo "2.1.332 (Claude Code)"
    exit 0
fi
printf '%s\n' "$*" > "$STANDIN_LOG"
pwd >> "$STANDIN_LOG"
if [ "$1" = "--resume" ]; then
    cat "$STANDIN_MORE" >> "$STANDIN_PROJECT/$2.jsonl"
else
    mkdir -p "$STANDIN_PROJECT"
    cp "$STANDIN_NEW" "$STANDIN_PROJECT/$(basename "$STANDIN_NEW")"
fi
if [ "${STANDIN_SIGINT:-0}" = 1 ]; then
    trap 'echo "standin: interrupted" >&2; exit 130' INT
    kill -INT 0
    sleep 5
    exit 99
fi
exit "${STANDIN_EXIT:-0}"
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

struct Run {
    log: PathBuf,
    more: PathBuf,
    new: PathBuf,
}

/// Continuation records for session `id` (what Claude appends), and a new session's file.
fn prepare(laptop: &Laptop, id: &str) -> (Run, SessionBuilder, SessionBuilder) {
    let dir = laptop.env.temp.path().join("standin");
    std::fs::create_dir_all(&dir).unwrap();
    let more = SessionBuilder::new(&laptop.env.repo)
        .id(id)
        .at("2026-05-01T10:00:00Z")
        .turns(2);
    std::fs::write(dir.join("more.jsonl"), more.text()).unwrap();
    let fresh = SessionBuilder::new(&laptop.env.repo)
        .at("2026-05-02T10:00:00Z")
        .turns(1);
    let new = dir.join(format!("{}.jsonl", fresh.id));
    std::fs::write(&new, fresh.text()).unwrap();
    (
        Run {
            log: dir.join("log"),
            more: dir.join("more.jsonl"),
            new,
        },
        more,
        fresh,
    )
}

fn resume_cmd(laptop: &Laptop, run: &Run, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = laptop.cmd(args);
    cmd.env("CCSYNC_CLAUDE", standin(laptop))
        .env("STANDIN_LOG", &run.log)
        .env("STANDIN_MORE", &run.more)
        .env("STANDIN_NEW", &run.new)
        .env("STANDIN_PROJECT", laptop.project_dir());
    cmd
}

fn log_lines(run: &Run) -> Vec<String> {
    std::fs::read_to_string(&run.log)
        .expect("the stand-in ran")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn resume_runs_claude_then_pushes_even_after_a_failing_exit() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-04-01T10:00:00Z");
    let (run, more, _) = prepare(&laptop, &session.id);
    let mut cmd = resume_cmd(
        &laptop,
        &run,
        &["resume", "--json", "--", "--model", "opus"],
    );
    cmd.env("STANDIN_EXIT", "3");
    let output = everyday_support::run(cmd);
    assert_code(&output, 3);
    let log = log_lines(&run);
    assert_eq!(log[0], format!("--resume {} --model opus", session.id));
    assert_eq!(
        Path::new(&log[1]),
        laptop.env.repo,
        "claude runs where the session lives"
    );
    let meta = laptop
        .stored_metadata(&session.id)
        .unwrap_or_else(|| panic!("pushed after claude exited 3:\n{}", stderr(&output)));
    assert_eq!(
        meta["records"],
        (session.line_count() + more.line_count()) as u64,
        "the continuation was pushed"
    );
    let err = stderr(&output);
    assert!(err.contains("exited with code 3"), "{err}");
    assert!(err.contains("pushed session"), "{err}");
    let json = parse_json(&output);
    assert_eq!(json["sessionId"], session.id.as_str());
    assert_eq!(json["started"], "resumed");
    assert_eq!(json["claudeExitCode"], 3);
    assert_eq!(json["restore"]["action"], "nothing");
    assert_eq!(json["push"][0]["action"], "uploaded");
}

#[test]
fn resume_restores_first_when_the_release_is_ahead() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-04-01T10:00:00Z");
    laptop.push("main", &session.id);
    // Another machine's copy is in the release; this machine has none.
    let file = laptop.project_dir().join(format!("{}.jsonl", session.id));
    std::fs::remove_file(&file).unwrap();
    let (run, more, _) = prepare(&laptop, &session.id);
    let output = everyday_support::run(resume_cmd(&laptop, &run, &["resume", "--json"]));
    assert_code(&output, 0);
    assert!(
        stderr(&output).contains("restored session"),
        "{}",
        stderr(&output)
    );
    assert_eq!(log_lines(&run)[0], format!("--resume {}", session.id));
    let json = parse_json(&output);
    assert_eq!(json["restore"]["action"], "installed");
    assert_eq!(json["push"][0]["action"], "uploaded");
    assert_eq!(
        laptop.stored_metadata(&session.id).unwrap()["records"],
        (session.line_count() + more.line_count()) as u64
    );
}

#[test]
fn resume_with_no_session_starts_a_new_one_and_pushes_it() {
    let laptop = Laptop::new();
    let (run, _, fresh) = prepare(&laptop, "unused");
    let output = everyday_support::run(resume_cmd(
        &laptop,
        &run,
        &["resume", "--json", "--", "-p", "hi"],
    ));
    assert_code(&output, 0);
    assert_eq!(log_lines(&run)[0], "-p hi", "no --resume for a new session");
    assert!(stderr(&output).contains("starting a new Claude Code session"));
    // It pushes when Claude exits: no advice to push first.
    assert!(
        !stderr(&output).contains("push one with"),
        "{}",
        stderr(&output)
    );
    let json = parse_json(&output);
    assert_eq!(json["started"], "new");
    assert_eq!(json["sessionId"], fresh.id.as_str());
    assert!(
        laptop.stored_metadata(&fresh.id).is_some(),
        "the new session was pushed"
    );
}

#[test]
fn resume_survives_ctrl_c_and_pushes() {
    use std::os::unix::process::CommandExt;
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-04-01T10:00:00Z");
    let (run, more, _) = prepare(&laptop, &session.id);
    // Its own process group, so the stand-in's Ctrl-C reaches ccsync and itself, not the tests.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ccsync"));
    cmd.arg("resume")
        .current_dir(&laptop.env.repo)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", &laptop.env.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("CLAUDE_CONFIG_DIR", &laptop.env.claude_dir)
        .env("GITHUB_API_URL", laptop.fake.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("CCSYNC_RETRY_BASE_MS", "1")
        .env("CCSYNC_CLAUDE", standin(&laptop))
        .env("STANDIN_LOG", &run.log)
        .env("STANDIN_MORE", &run.more)
        .env("STANDIN_PROJECT", laptop.project_dir())
        .env("STANDIN_SIGINT", "1")
        .process_group(0);
    let output = cmd.output().unwrap();
    support::assert_no_token(&output);
    assert_code(&output, 130);
    let err = stderr(&output);
    assert!(
        err.contains("standin: interrupted"),
        "the child got Ctrl-C: {err}"
    );
    assert_eq!(
        laptop
            .stored_metadata(&session.id)
            .map(|m| m["records"].clone()),
        Some(((session.line_count() + more.line_count()) as u64).into()),
        "ccsync survived Ctrl-C and pushed: {err}"
    );
}

#[test]
fn resume_without_claude_says_how_to_get_it() {
    let laptop = Laptop::new();
    laptop.session("main", "2026-04-01T10:00:00Z");
    let output = everyday_support::run({
        let mut cmd = laptop.cmd(&["resume"]);
        cmd.env(
            "CCSYNC_CLAUDE",
            laptop.env.temp.path().join("no/such/claude"),
        );
        cmd
    });
    assert_code(&output, 1);
    assert!(
        stderr(&output).contains("CCSYNC_CLAUDE"),
        "{}",
        stderr(&output)
    );

    let empty = laptop.env.temp.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let output = everyday_support::run({
        let mut cmd = laptop.cmd(&["resume"]);
        cmd.env("PATH", &empty);
        cmd
    });
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("not on PATH") && err.contains("CCSYNC_CLAUDE"),
        "{err}"
    );
    assert!(
        laptop.fake.requests().is_empty(),
        "checked before any network"
    );
}

#[test]
fn resume_of_an_unknown_session_is_nothing_found() {
    let laptop = Laptop::new();
    let (run, _, _) = prepare(&laptop, "x");
    let id = support::sessions::new_id();
    let output = everyday_support::run(resume_cmd(&laptop, &run, &["resume", "--session", &id]));
    assert_code(&output, 3);
    assert!(!run.log.exists(), "claude did not run");
}

/// CI continued the branch's only session on a detached HEAD, so its last records say
/// `gitBranch: "HEAD"`: resume restores it and continues it, never starts a new session.
#[test]
fn resume_continues_a_session_that_ci_continued_on_a_detached_head() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-04-01T10:00:00Z");
    let file = laptop.project_dir().join(format!("{}.jsonl", session.id));
    // The runner's continuation, recorded on a detached HEAD.
    let ci = SessionBuilder::new(&laptop.env.repo)
        .id(&session.id)
        .branch("HEAD")
        .at("2026-04-02T10:00:00Z")
        .turns(1);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&ci.text());
    std::fs::write(&file, text).unwrap();
    laptop.push("main", &session.id);
    std::fs::remove_file(&file).unwrap();

    let (run, _, _) = prepare(&laptop, &session.id);
    let output = everyday_support::run(resume_cmd(&laptop, &run, &["resume", "--json"]));
    assert_code(&output, 0);
    assert_eq!(log_lines(&run)[0], format!("--resume {}", session.id));
    let json = parse_json(&output);
    assert_eq!(json["started"], "resumed");
    assert_eq!(json["sessionId"], session.id.as_str());
}

/// A session CI started on a detached checkout records only `gitBranch: "HEAD"`. Once it is
/// restored from the branch's release, `discover` and `resume` name it alike (one rule), not an
/// older session of the branch; before the restore both name the older one.
#[test]
fn discover_and_resume_agree_on_a_restored_session_that_recorded_only_head() {
    let laptop = Laptop::new();
    let older = laptop.session("main", "2026-04-01T10:00:00Z");
    let ci = SessionBuilder::new(&laptop.env.repo)
        .branch("HEAD")
        .at("2026-04-02T10:00:00Z")
        .turns(1);
    let file = ci.write_to(&laptop.project_dir());
    laptop.push("main", &ci.id);
    std::fs::remove_file(&file).unwrap();
    let discover = || {
        let output = laptop.run(&["discover"]);
        assert_code(&output, 0);
        everyday_support::stdout(&output).trim().to_owned()
    };
    assert_eq!(discover(), older.id);

    assert_code(&laptop.run(&["release-restore"]), 0);
    assert_eq!(discover(), ci.id, "discover names the restored session");
    let json = laptop.json(&["discover"]);
    assert_eq!(json["sessionId"], ci.id.as_str());

    // Resume, whose own restore finds nothing new, continues the same session.
    let (run, _, _) = prepare(&laptop, &ci.id);
    let output = everyday_support::run(resume_cmd(&laptop, &run, &["resume", "--json"]));
    assert_code(&output, 0);
    assert_eq!(log_lines(&run)[0], format!("--resume {}", ci.id));
    // A HEAD session that was never restored from this branch's release is not the branch's.
    let stray = SessionBuilder::new(&laptop.env.repo)
        .branch("HEAD")
        .at("2026-06-01T10:00:00Z")
        .turns(1);
    stray.write_to(&laptop.project_dir());
    assert_ne!(discover(), stray.id);
}

/// On a detached HEAD, `resume --session ID` uses the branch that session recorded, and
/// `resume --branch B` and `doctor --branch B` work.
#[test]
fn a_detached_head_takes_branch_and_session_options() {
    let laptop = Laptop::new();
    let session = laptop.session("feature/z", "2026-04-01T10:00:00Z");
    let head = laptop.env.git(["rev-parse", "HEAD"]);
    laptop.env.git(["checkout", "-q", "--detach", head.trim()]);

    let (run, _, _) = prepare(&laptop, &session.id);
    let output = everyday_support::run(resume_cmd(&laptop, &run, &["resume"]));
    assert_code(&output, 2);
    assert!(stderr(&output).contains("--branch"), "{}", stderr(&output));

    let output = everyday_support::run(resume_cmd(
        &laptop,
        &run,
        &["resume", "--session", &session.id, "--json"],
    ));
    assert_code(&output, 0);
    assert_eq!(parse_json(&output)["branch"], "feature/z");
    assert!(laptop
        .tags()
        .contains(&"claude-sessions-feature/z".to_owned()));

    let output = everyday_support::run(resume_cmd(
        &laptop,
        &run,
        &["resume", "--branch", "feature/z", "--json"],
    ));
    assert_code(&output, 0);
    assert_eq!(log_lines(&run)[0], format!("--resume {}", session.id));
    assert_eq!(parse_json(&output)["branch"], "feature/z");

    let output = laptop.run(&["doctor", "--branch", "feature/z", "--json"]);
    let checks = parse_json(&output);
    let branch = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "branch")
        .unwrap();
    assert_eq!(branch["status"], "ok", "{branch}");
    assert!(branch["message"].as_str().unwrap().contains("feature/z"));
}

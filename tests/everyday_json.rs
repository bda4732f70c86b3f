//! The `--json` shapes of docs/json.md for the commands not covered by their own `everyday_*`
//! test (sessions, discover, release-push, release-restore), shell completions, and how progress
//! shows: plain lines in Actions, nothing with `-q`, bars only on a terminal.

mod everyday_support;
mod support;

use everyday_support::{assert_code, days_ago, stderr, stdout, Laptop};
use serde_json::Value;

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn sessions_and_discover_json() {
    let laptop = Laptop::new();
    let older = laptop.session("main", "2026-03-01T10:00:00Z");
    let newer = laptop.session("feature", "2026-03-02T10:00:00Z");

    let list = laptop.json(&["sessions"]);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["sessionId"], newer.id.as_str(), "newest first");
    assert_eq!(rows[0]["branch"], "feature");
    assert_eq!(rows[1]["records"], older.line_count() as u64);
    assert!(rows[1]["size"].as_u64().unwrap() > 0);
    assert!(rows[1]["lastActivity"]
        .as_str()
        .unwrap()
        .starts_with("2026-03-01T10:0"));
    assert_eq!(
        keys(&rows[0]),
        sorted(&[
            "sessionId",
            "branch",
            "lastActivity",
            "records",
            "size",
            "folder",
            "cwd",
            "claudeVersion",
            "path"
        ])
    );

    let found = laptop.json(&["discover"]);
    assert_eq!(found["sessionId"], older.id.as_str(), "the branch's newest");
    assert_eq!(found["branch"], "main");
    assert!(found["path"]
        .as_str()
        .unwrap()
        .ends_with(&format!("{}.jsonl", older.id)));
    for key in ["lastActivity", "cwd", "size", "folder"] {
        assert!(found.get(key).is_some(), "discover --json has {key}");
    }
}

#[test]
fn push_and_restore_json() {
    let laptop = Laptop::new();
    let session = laptop.session("main", "2026-03-01T10:00:00Z");

    let dry = laptop.json(&["release-push", "--dry-run"]);
    assert_eq!(dry[0]["action"], "would-upload");
    let pushed = laptop.json(&["release-push"]);
    let first = &pushed[0];
    assert_eq!(first["sessionId"], session.id.as_str());
    assert_eq!(first["branch"], "main");
    assert_eq!(first["action"], "uploaded");
    assert_eq!(first["relation"], "absent");
    assert_eq!(first["records"], session.line_count() as u64);
    assert!(first["archiveSize"].as_u64().unwrap() > 0);
    assert_eq!(first["encrypted"], false);
    assert_eq!(first["secretsRedacted"], 0);
    assert!(first["releaseUrl"].is_string());
    assert_eq!(first["droppedSessions"], Value::Array(vec![]));
    let again = laptop.json(&["release-push"]);
    assert_eq!(again[0]["action"], "up-to-date");
    assert_eq!(again[0]["relation"], "equal");

    let kept = laptop.json(&["release-restore"]);
    assert_eq!(kept["action"], "kept-local");
    assert_eq!(kept["relation"], "equal");
    std::fs::remove_file(laptop.project_dir().join(format!("{}.jsonl", session.id))).unwrap();
    let restored = laptop.json(&["release-restore"]);
    assert_eq!(restored["action"], "installed");
    assert_eq!(restored["sessionId"], session.id.as_str());
    assert_eq!(restored["branch"], "main");
    assert_eq!(restored["relation"], "absent");
    assert!(std::path::Path::new(restored["sessionFile"].as_str().unwrap()).is_file());
    assert!(restored["releaseUrl"].is_string());

    let nothing = laptop.json(&["release-restore", "--branch", "nowhere"]);
    assert_eq!(nothing["action"], "nothing");
    assert!(nothing["message"].as_str().unwrap().contains("nowhere"));
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    let laptop = Laptop::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = laptop.run(&["completions", shell]);
        assert_code(&output, 0);
        let script = stdout(&output);
        for sub in [
            "release-push",
            "release-restore",
            "release-prune",
            "doctor",
            "resume",
        ] {
            assert!(script.contains(sub), "{shell} completions mention {sub}");
        }
    }
    let output = laptop.run(&["completions", "tcsh"]);
    assert_code(&output, 2);
}

#[test]
fn progress_is_plain_lines_in_actions_and_silent_with_quiet() {
    let laptop = Laptop::new();
    let session = laptop.session("main", &days_ago(1));
    let runner_files = laptop.env.temp.path().join("runner");
    std::fs::create_dir_all(&runner_files).unwrap();
    let mut cmd = laptop.cmd(&["release-push", "--session", &session.id]);
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "octo/app")
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_OUTPUT", runner_files.join("output"));
    let output = everyday_support::run(cmd);
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(
        err.contains(&format!("packing session {}", session.id)),
        "{err}"
    );
    assert!(
        err.contains(&format!("uploading claude-session-{}.tar.gz", session.id)),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no terminal escapes in a log: {err:?}"
    );

    std::fs::remove_file(laptop.project_dir().join(format!("{}.jsonl", session.id))).unwrap();
    let output = laptop.run(&["-q", "release-restore"]);
    assert_code(&output, 0);
    assert_eq!(stderr(&output), "", "-q prints nothing on success");
}

/// On a terminal (a pty from `script`), the download shows a bar, cleared when done.
#[test]
fn progress_bars_on_a_terminal() {
    let Some(script) = support::require_tool("script", "util-linux") else {
        return;
    };
    let laptop = Laptop::new();
    // Big enough that the download takes a few ticks of the bar.
    let session = support::sessions::SessionBuilder::new(&laptop.env.repo)
        .at("2026-03-01T10:00:00Z")
        .tool_result(3_000_000)
        .turns(1);
    let file = session.write_to(&laptop.project_dir());
    laptop.push("main", &session.id);
    std::fs::remove_file(&file).unwrap();
    laptop.fake.add_fault(
        fake_github::Fault::new(
            "GET",
            "/github-production-release-asset/*",
            fake_github::FaultKind::Delay,
        )
        .delay_ms(400)
        .on(fake_github::Host::Storage)
        .times(5),
    );

    let ccsync = env!("CARGO_BIN_EXE_ccsync");
    let output = std::process::Command::new(script)
        .args(["-qec", &format!("{ccsync} release-restore"), "/dev/null"])
        .current_dir(&laptop.env.repo)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("TERM", "xterm")
        .env("HOME", &laptop.env.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("CLAUDE_CONFIG_DIR", &laptop.env.claude_dir)
        .env("GITHUB_API_URL", laptop.fake.api_url())
        .env("GITHUB_TOKEN", support::TOKEN)
        .output()
        .unwrap();
    support::assert_no_token(&output);
    assert_code(&output, 0);
    // Through the pty, ccsync's stderr arrives on script's stdout.
    let shown = stdout(&output);
    assert!(
        shown.contains(&format!("downloading claude-session-{}.tar.gz", session.id)),
        "{shown:?}"
    );
    assert!(
        shown.contains('\u{1b}'),
        "drawn with terminal controls: {shown:?}"
    );
    assert!(shown.contains("restored session"), "{shown:?}");
    assert!(laptop
        .project_dir()
        .join(format!("{}.jsonl", session.id))
        .is_file());
}

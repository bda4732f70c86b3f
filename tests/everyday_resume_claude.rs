//! `ccsync resume` with the real Claude Code CLI, offline (tests/claude/run-offline: a loopback-only
//! namespace and a fake Messages API): a session made by `claude -p` is resumed through ccsync,
//! Claude sees the earlier conversation, and the continued session lands in the fake GitHub.
#![cfg(unix)]

mod everyday_support;
mod support;

use std::path::Path;

use everyday_support::{assert_code, parse_json, stderr, Laptop};
use support::claude;

#[test]
fn resume_continues_a_real_session_and_pushes_it() {
    let Some(cli) = claude::claude_cli() else {
        return;
    };
    if !claude::namespaces_available() {
        return;
    }
    let laptop = Laptop::new();
    let first = claude::run_offline(
        &cli,
        &laptop.env.home,
        &laptop.env.claude_dir,
        &laptop.env.repo,
        &["-p", "--output-format", "json", "remember the word PELICAN"],
    );
    assert_eq!(first.exit_code, 0, "{}", first.describe());
    let id = first
        .session_id
        .clone()
        .expect("claude -p names its session");

    // CCSYNC_CLAUDE: the offline runner around the real CLI, in the folder ccsync chose.
    let record = laptop.env.temp.path().join("requests.jsonl");
    let wrapper = laptop.env.temp.path().join("claude-offline");
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/claude/run-offline");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec '{}' --claude '{}' --home '{}' --config-dir '{}' --cwd \"$PWD\" --record '{}' -- \"$@\"\n",
            runner.display(),
            cli.bin.display(),
            laptop.env.home.display(),
            laptop.env.claude_dir.display(),
            record.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut cmd = laptop.cmd(&[
        "resume",
        "--json",
        "--",
        "-p",
        "--output-format",
        "json",
        "which word did I ask you to remember?",
    ]);
    cmd.env("CCSYNC_CLAUDE", &wrapper);
    let output = everyday_support::run(cmd);
    assert_code(&output, 0);
    let json = parse_json_after_claude(&output);
    assert_eq!(json["sessionId"], id.as_str());
    assert_eq!(json["started"], "resumed");
    assert_eq!(json["push"][0]["action"], "uploaded");

    let requests = std::fs::read_to_string(&record).unwrap();
    assert!(
        requests.contains("PELICAN") && requests.contains("which word"),
        "the resumed request carried the earlier conversation: {}",
        stderr(&output)
    );
    let meta = laptop.stored_metadata(&id).expect("pushed");
    let local = std::fs::read_to_string(laptop.project_dir().join(format!("{id}.jsonl"))).unwrap();
    assert_eq!(
        meta["records"],
        local.lines().count() as u64,
        "the continued session was pushed"
    );
}

/// Claude's own `--output-format json` result shares stdout with ccsync's document, which comes
/// last: parse from the last line that opens a JSON object at column 0.
fn parse_json_after_claude(output: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&output.stdout);
    let start = text.rfind("\n{\n").map(|i| i + 1).unwrap_or(0);
    serde_json::from_str(&text[start..]).unwrap_or_else(|_| parse_json(output))
}

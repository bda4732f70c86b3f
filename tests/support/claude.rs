//! Running the real Claude Code CLI offline, for tests that prove a restored session resumes.
//!
//! The CLI runs through `tests/claude/run-offline`: a network namespace holding nothing but loopback
//! (also a PID namespace, so nothing outlives a run), a fake Anthropic Messages API
//! (`tests/claude/fake_anthropic.py`) on 127.0.0.1 inside it, and a clean environment with `HOME` and
//! `CLAUDE_CONFIG_DIR` of the test. Every request the fake API received comes back in [`ResumeRun`].
//!
//! Use it from an integration test that declares `mod support;` at its root, either as
//! `support::claude` (with `pub mod claude;` in `support/mod.rs`) or with
//! `#[path = "support/claude.rs"] mod claude;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

/// The pinned versions `scripts/install-test-tools` installs.
pub const PINNED_VERSION: &str = "2.1.329";
pub const PINNED_LEGACY_VERSION: &str = "2.0.77";
pub const PINNED_NEWEST_VERSION: &str = "2.1.332";
/// The newest Claude Code, published only as the platform package
/// (`.tools/claude-2.1.337/node_modules/@anthropic-ai/claude-code-<os>-<arch>/claude`).
pub const PINNED_PLATFORM_VERSION: &str = "2.1.337";

/// Hard limit for one CLI run (the runner kills the CLI after this).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// An installed Claude Code CLI.
#[derive(Debug, Clone)]
pub struct ClaudeCli {
    pub bin: PathBuf,
    /// As `claude --version` prints it, e.g. `2.1.329`.
    pub version: String,
}

/// The pinned current CLI (`.tools/node_modules/.bin/claude`, else `claude` on PATH). Missing: `None`
/// with a message outside CI, a panic in CI (like [`support::require_tool`]).
pub fn claude_cli() -> Option<ClaudeCli> {
    let bin = support::require_tool(
        "claude",
        &format!("npm --prefix .tools install @anthropic-ai/claude-code@{PINNED_VERSION}"),
    )?;
    Some(describe(bin))
}

/// The pinned 2.0.x CLI (`.tools/claude-2.0/node_modules/.bin/claude`), the last line with `cli.js`
/// and the 2.0 session layout. Same skip-or-fail rule as [`claude_cli`].
pub fn claude_cli_legacy() -> Option<ClaudeCli> {
    let bin = project_root().join(".tools/claude-2.0/node_modules/.bin/claude");
    if bin.is_file() {
        return Some(describe(bin));
    }
    let hint = format!(
        "npm --prefix .tools/claude-2.0 install @anthropic-ai/claude-code@{PINNED_LEGACY_VERSION}"
    );
    if std::env::var_os("CI").is_some() {
        panic!("Claude Code {PINNED_LEGACY_VERSION} is missing in CI: {hint} (scripts/install-test-tools)");
    }
    eprintln!(
        "skipped: Claude Code {PINNED_LEGACY_VERSION} is not installed ({hint}; scripts/install-test-tools installs it)"
    );
    None
}

/// The newest pinned CLI (`.tools/claude-newest/node_modules/.bin/claude`, 2.1.332). Same
/// skip-or-fail rule as [`claude_cli`].
pub fn claude_cli_newest() -> Option<ClaudeCli> {
    let bin = project_root().join(".tools/claude-newest/node_modules/.bin/claude");
    if bin.is_file() {
        let cli = describe(bin);
        assert_eq!(
            cli.version, PINNED_NEWEST_VERSION,
            "scripts/install-test-tools installs {PINNED_NEWEST_VERSION} into .tools/claude-newest"
        );
        return Some(cli);
    }
    let hint = format!(
        "npm --prefix .tools/claude-newest install @anthropic-ai/claude-code@{PINNED_NEWEST_VERSION}"
    );
    if std::env::var_os("CI").is_some() {
        panic!("Claude Code {PINNED_NEWEST_VERSION} is missing in CI: {hint} (scripts/install-test-tools)");
    }
    eprintln!(
        "skipped: Claude Code {PINNED_NEWEST_VERSION} is not installed ({hint}; scripts/install-test-tools installs it)"
    );
    None
}

/// The platform package's CLI, 2.1.337 (the newest Claude Code). Same skip-or-fail rule as
/// [`claude_cli`].
pub fn claude_cli_platform() -> Option<ClaudeCli> {
    let platform = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "linux-x64",
        ("linux", "aarch64") => "linux-arm64",
        ("macos", "aarch64") => "darwin-arm64",
        ("macos", "x86_64") => "darwin-x64",
        _ => {
            eprintln!("skipped: no Claude Code platform package for this machine");
            return None;
        }
    };
    let bin = project_root().join(format!(
        ".tools/claude-{PINNED_PLATFORM_VERSION}/node_modules/@anthropic-ai/claude-code-{platform}/claude"
    ));
    if bin.is_file() {
        let cli = describe(bin);
        assert_eq!(cli.version, PINNED_PLATFORM_VERSION);
        return Some(cli);
    }
    let hint = format!(
        "npm --prefix .tools/claude-{PINNED_PLATFORM_VERSION} install @anthropic-ai/claude-code-{platform}@{PINNED_PLATFORM_VERSION}"
    );
    if std::env::var_os("CI").is_some() {
        panic!("Claude Code {PINNED_PLATFORM_VERSION} is missing in CI: {hint} (scripts/install-test-tools)");
    }
    eprintln!(
        "skipped: Claude Code {PINNED_PLATFORM_VERSION} is not installed ({hint}; scripts/install-test-tools installs it)"
    );
    None
}

fn describe(bin: PathBuf) -> ClaudeCli {
    // A throwaway home: even `--version` must not touch the real user's Claude folder.
    let home = tempfile::tempdir().expect("temp dir");
    let output = Command::new(&bin)
        .arg("--version")
        .env("HOME", home.path())
        .env("CLAUDE_CONFIG_DIR", home.path().join(".claude"))
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        output.status.success() && version.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "`{} --version` did not print a version: {text} {}",
        bin.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    ClaudeCli { bin, version }
}

/// Whether this machine lets the runner build a loopback-only namespace (`unshare -n`, or `-rn` as
/// non-root, plus `ip` and `python3`). When not, says why on stderr, so the caller can skip.
pub fn namespaces_available() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false);
    let mut unshare = Command::new("unshare");
    if !root {
        unshare.arg("-r");
    }
    let works = unshare
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        eprintln!(
            "skipped: network namespaces are not available here (`unshare {}n true` failed); \
             the real Claude Code CLI runs only inside a loopback-only namespace",
            if root { "-" } else { "-r" }
        );
        return false;
    }
    for tool in ["ip", "python3", "timeout"] {
        if support::tool(tool).is_none() {
            eprintln!("skipped: `{tool}` is missing; the offline Claude Code runner needs it");
            return false;
        }
    }
    true
}

/// What one offline run of the CLI did.
#[derive(Debug)]
pub struct ResumeRun {
    /// The CLI's exit status (124 when the runner killed it after [`RUN_TIMEOUT`]).
    pub exit_code: i32,
    /// `session_id` of the JSON result on stdout (`--output-format json`).
    pub session_id: Option<String>,
    pub stdout: String,
    pub stderr: String,
    /// The JSON bodies the fake API received, in arrival order (requests without a body left out).
    pub requests: Vec<Value>,
    /// Every request the fake API received: `{method, path, headers, body}` (no API key).
    pub records: Vec<Value>,
}

impl ResumeRun {
    /// The bodies of the `POST /v1/messages` requests (model calls), in order.
    pub fn message_requests(&self) -> Vec<&Value> {
        self.records
            .iter()
            .filter(|r| {
                r["method"] == "POST"
                    && r["path"]
                        .as_str()
                        .is_some_and(|p| p.split('?').next() == Some("/v1/messages"))
            })
            .map(|r| &r["body"])
            .collect()
    }

    /// Whether some model call sent `needle` inside its `messages` (any text, tool input or tool result).
    pub fn history_contains(&self, needle: &str) -> bool {
        self.message_requests()
            .iter()
            .any(|body| strings_contain(&body["messages"], needle))
    }

    /// Whether some model call sent `needle` anywhere in its body (system prompt included).
    pub fn request_contains(&self, needle: &str) -> bool {
        self.message_requests()
            .iter()
            .any(|body| strings_contain(body, needle))
    }

    /// A readable account of the run for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}\n--- {} request(s): {}",
            self.exit_code,
            self.stdout,
            self.stderr,
            self.records.len(),
            self.records
                .iter()
                .map(|r| format!(
                    "{} {}",
                    r["method"].as_str().unwrap_or("?"),
                    r["path"].as_str().unwrap_or("?")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn strings_contain(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s.contains(needle),
        Value::Array(items) => items.iter().any(|v| strings_contain(v, needle)),
        Value::Object(map) => map.values().any(|v| strings_contain(v, needle)),
        _ => false,
    }
}

/// `claude -p --output-format json --resume <session_id> <prompt>` in `cwd`, offline.
pub fn resume_offline(
    cli: &ClaudeCli,
    home: &Path,
    claude_config_dir: &Path,
    cwd: &Path,
    session_id: &str,
    prompt: &str,
) -> ResumeRun {
    run_offline(
        cli,
        home,
        claude_config_dir,
        cwd,
        &[
            "-p",
            "--output-format",
            "json",
            "--resume",
            session_id,
            prompt,
        ],
    )
}

/// `claude <args>` in `cwd`, offline, with the fake API (see the module documentation).
pub fn run_offline(
    cli: &ClaudeCli,
    home: &Path,
    claude_config_dir: &Path,
    cwd: &Path,
    args: &[&str],
) -> ResumeRun {
    run_offline_in(cli, home, claude_config_dir, cwd, None, args)
}

/// [`run_offline`] with `CLAUDE_CODE_PROJECT_DIR_NAME` set when `project_dir_name` is given.
pub fn run_offline_in(
    cli: &ClaudeCli,
    home: &Path,
    claude_config_dir: &Path,
    cwd: &Path,
    project_dir_name: Option<&str>,
    args: &[&str],
) -> ResumeRun {
    run_offline_env(
        cli,
        home,
        claude_config_dir,
        cwd,
        project_dir_name,
        &[],
        args,
    )
}

/// [`run_offline_in`] with more environment for the CLI (`TMPDIR`, `CLAUDE_CODE_ENABLE_TODO_TOOLS`).
pub fn run_offline_env(
    cli: &ClaudeCli,
    home: &Path,
    claude_config_dir: &Path,
    cwd: &Path,
    project_dir_name: Option<&str>,
    env: &[(&str, &str)],
    args: &[&str],
) -> ResumeRun {
    let scratch = tempfile::tempdir().expect("temp dir");
    let record = scratch.path().join("requests.jsonl");
    let stdout_path = scratch.path().join("stdout");
    let stderr_path = scratch.path().join("stderr");
    let mut child = Command::new(project_root().join("tests/claude/run-offline"))
        .arg("--claude")
        .arg(&cli.bin)
        .arg("--home")
        .arg(home)
        .arg("--config-dir")
        .arg(claude_config_dir)
        .arg("--cwd")
        .arg(cwd)
        .arg("--record")
        .arg(&record)
        .arg("--timeout")
        .arg(RUN_TIMEOUT.as_secs().to_string())
        .args(
            project_dir_name
                .map(|name| vec!["--project-dir-name", name])
                .unwrap_or_default(),
        )
        .args(
            env.iter()
                .flat_map(|(k, v)| ["--env".to_owned(), format!("{k}={v}")]),
        )
        .arg("--")
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("tests/claude/run-offline starts");

    // The runner enforces RUN_TIMEOUT on the CLI; this is the backstop should the runner itself hang.
    // Killing it kills its whole PID namespace (`unshare --kill-child`).
    let deadline = Instant::now() + RUN_TIMEOUT + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the runner") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("wait for the killed runner");
        }
        std::thread::sleep(Duration::from_millis(50));
    };

    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let records: Vec<Value> = std::fs::read_to_string(&record)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("bad record from the fake API ({e}): {l}"))
        })
        .collect();
    let requests = records
        .iter()
        .map(|r| r["body"].clone())
        .filter(|b| !b.is_null())
        .collect();
    ResumeRun {
        exit_code: status.code().unwrap_or(-1),
        session_id: result_session_id(&stdout),
        stdout,
        stderr,
        requests,
        records,
    }
}

/// `session_id` of the `--output-format json` result: the whole stdout, else its last JSON line.
fn result_session_id(stdout: &str) -> Option<String> {
    let parsed = serde_json::from_str::<Value>(stdout.trim())
        .ok()
        .or_else(|| {
            stdout.lines().rev().find_map(|l| {
                serde_json::from_str::<Value>(l.trim())
                    .ok()
                    .filter(Value::is_object)
            })
        })?;
    parsed["session_id"].as_str().map(str::to_owned)
}

/// Claude Code's project folder name for a working directory (pass its realpath), 2.1.x rule: every
/// UTF-16 code unit outside `[A-Za-z0-9]` becomes `-`; beyond 200 characters the first 200 are kept and
/// `-` + base36 of |Java `String.hashCode`| is appended. An independent oracle for tests.
pub fn project_folder_name(cwd: &Path) -> String {
    let name = project_folder_name_untruncated(cwd);
    if name.len() <= 200 {
        return name;
    }
    let hash = utf16(cwd)
        .iter()
        .fold(0i32, |h, &u| h.wrapping_mul(31).wrapping_add(i32::from(u)));
    format!("{}-{}", &name[..200], base36(hash.unsigned_abs()))
}

/// The folder name of 1.0.x and 2.0.x, which never truncate.
pub fn project_folder_name_untruncated(cwd: &Path) -> String {
    utf16(cwd)
        .into_iter()
        .map(|u| match u8::try_from(u) {
            Ok(b) if b.is_ascii_alphanumeric() => char::from(b),
            _ => '-',
        })
        .collect()
}

fn utf16(path: &Path) -> Vec<u16> {
    path.to_str()
        .expect("a UTF-8 path")
        .encode_utf16()
        .collect()
}

fn base36(mut n: u32) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

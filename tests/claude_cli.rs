//! Proves the offline harness for the real Claude Code CLI (tests/support/claude.rs) without ccsync:
//! a real transcript with subagents, installed by hand into the project folder of a temporary working
//! directory, resumes offline against the fake Messages API; placed in the folder it came from instead,
//! it is not where `claude --resume` looks. This is the ground truth `release-restore` must meet.

mod support;

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::claude::{self, ClaudeCli, ResumeRun};

/// A session of the corpus: `<corpus>/<folder>/<session>.jsonl`, with `<session>/` beside it if any.
#[derive(Clone, Copy)]
struct Fixture {
    folder: &'static str,
    session: &'static str,
}

/// Written by 2.1.39: compaction, `progress` records, two subagent transcripts in `<uuid>/subagents/`.
const SPOTTER: Fixture = Fixture {
    folder: "spotter/-home-USER-projects-spotter-worktrees-spotter-dov",
    session: "4d5611e5-241a-462a-8d15-5122611a9569",
};

/// Written by 2.0.76, for the 2.0 CLI: 2.0.77 does not rebuild the history of a 2.1.x transcript (its
/// `progress` records break the parent chain 2.0 follows), it resumes the id with an empty history.
const LEGACY: Fixture = Fixture {
    folder: "entireio-cli/ee_8f793bfeb9_0",
    session: "488c5296-fc78-4fdf-8cfd-f1cae9454bd0",
};

const PROMPT: &str = "Continue: what did we decide about the release notes?";

/// A temporary user: home, Claude folder, and a working directory that is a symlink-free realpath.
struct Sandbox {
    _temp: tempfile::TempDir,
    home: PathBuf,
    claude_dir: PathBuf,
    cwd: PathBuf,
}

impl Sandbox {
    fn new(cwd_relative: &str) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let base = fs::canonicalize(temp.path()).expect("canonical temp");
        let home = base.join("home");
        let claude_dir = home.join(".claude");
        let cwd = base.join(cwd_relative);
        fs::create_dir_all(&claude_dir).unwrap();
        fs::create_dir_all(&cwd).unwrap();
        let cwd = fs::canonicalize(&cwd).unwrap();
        Sandbox {
            _temp: temp,
            home,
            claude_dir,
            cwd,
        }
    }

    fn resume(&self, cli: &ClaudeCli, fixture: Fixture) -> ResumeRun {
        claude::resume_offline(
            cli,
            &self.home,
            &self.claude_dir,
            &self.cwd,
            fixture.session,
            PROMPT,
        )
    }
}

/// Everything a test needs, or `None` (with a message) when the machine cannot run it.
fn prerequisites(cli: fn() -> Option<ClaudeCli>, fixture: Fixture) -> Option<(ClaudeCli, PathBuf)> {
    let corpus = support::corpus_dir()?.join(fixture.folder);
    if !corpus.join(format!("{}.jsonl", fixture.session)).is_file() {
        eprintln!("skipped: {} is missing from the corpus", corpus.display());
        return None;
    }
    let cli = cli()?;
    if !claude::namespaces_available() {
        return None;
    }
    Some((cli, corpus))
}

/// The `cwd` every record of the session was written in.
fn origin_cwd(session_file: &Path) -> String {
    let file = BufReader::new(fs::File::open(session_file).unwrap());
    for line in file.lines() {
        if let Ok(Value::Object(record)) = serde_json::from_str::<Value>(&line.unwrap()) {
            if let Some(Value::String(cwd)) = record.get("cwd") {
                return cwd.clone();
            }
        }
    }
    panic!("no cwd in {}", session_file.display())
}

/// Copies `from` to `to` line by line, replacing the `"cwd":"<old>"` fields by `"cwd":"<new>"`
/// (a stand-in for the real path rewrite of `release-restore`). Returns the number of lines.
fn copy_rewriting_cwd(from: &Path, to: &Path, old: &str, new: &str) -> usize {
    let field = |p: &str| format!("\"cwd\":{}", serde_json::to_string(p).unwrap());
    let (old_field, new_field) = (field(old), field(new));
    let reader = BufReader::new(fs::File::open(from).unwrap());
    let mut writer = BufWriter::new(fs::File::create(to).unwrap());
    let mut lines = 0;
    for line in reader.lines() {
        writeln!(writer, "{}", line.unwrap().replace(&old_field, &new_field)).unwrap();
        lines += 1;
    }
    writer.flush().unwrap();
    lines
}

/// Installs the corpus session (`<uuid>.jsonl` and `<uuid>/**`) into `projects/<folder>/`, with the
/// `cwd` fields rewritten to `new_cwd` when given. Returns the installed session file.
fn install_session(
    corpus: &Path,
    fixture: Fixture,
    claude_dir: &Path,
    folder: &str,
    new_cwd: Option<&Path>,
) -> PathBuf {
    let session = fixture.session;
    let source = corpus.join(format!("{session}.jsonl"));
    let old = origin_cwd(&source);
    let new = new_cwd
        .map(|p| p.to_str().unwrap().to_owned())
        .unwrap_or_else(|| old.clone());
    let project = claude_dir.join("projects").join(folder);
    fs::create_dir_all(&project).unwrap();
    if corpus.join(session).is_dir() {
        copy_tree(&corpus.join(session), &project.join(session), &old, &new);
    }
    let installed = project.join(format!("{session}.jsonl"));
    copy_rewriting_cwd(&source, &installed, &old, &new);
    installed
}

fn copy_tree(from: &Path, to: &Path, old: &str, new: &str) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target, old, new);
        } else if entry.path().extension().is_some_and(|e| e == "jsonl") {
            copy_rewriting_cwd(&entry.path(), &target, old, new);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    BufReader::new(fs::File::open(path).unwrap())
        .lines()
        .map(Result::unwrap)
        .collect()
}

/// Texts of the transcript the model must receive on resume: the last typed prompt and the last
/// assistant text, and, when nothing was compacted away, the first typed prompt too.
fn history_probes(lines: &[String]) -> Vec<String> {
    let records: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let prompts: Vec<&str> = records
        .iter()
        .filter(|r| r["type"] == "user" && r["isMeta"] != true && r["isCompactSummary"] != true)
        .filter_map(|r| r["message"]["content"].as_str())
        .collect();
    let answers: Vec<&str> = records
        .iter()
        .filter(|r| r["type"] == "assistant")
        .filter_map(|r| r["message"]["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == "text")
        .filter_map(|block| block["text"].as_str())
        .filter(|text| !text.trim().is_empty())
        .collect();
    let compacted = records.iter().any(|r| r["subtype"] == "compact_boundary");
    let mut probes = vec![
        *prompts.last().expect("a typed prompt"),
        *answers.last().expect("an assistant text"),
    ];
    if !compacted {
        probes.push(prompts[0]);
    }
    // A prefix is enough to recognise a text and keeps failure messages short.
    probes
        .into_iter()
        .map(|p| p.chars().take(120).collect())
        .collect()
}

/// The whole proof of one resume in the right folder, for one CLI.
fn resumes_in_the_folder_of_its_cwd(cli: fn() -> Option<ClaudeCli>, fixture: Fixture) {
    let Some((cli, corpus)) = prerequisites(cli, fixture) else {
        return;
    };
    let session = fixture.session;
    // Characters Claude maps to `-` in the folder name: `.`, `_` and a space.
    let sandbox = Sandbox::new("runner work/my_app.git/app");
    let folder = claude::project_folder_name(&sandbox.cwd);
    let installed = install_session(
        &corpus,
        fixture,
        &sandbox.claude_dir,
        &folder,
        Some(&sandbox.cwd),
    );
    let before = read_lines(&installed);
    let new_cwd = sandbox.cwd.to_str().unwrap();

    let run = sandbox.resume(&cli, fixture);

    let report = run.describe();
    assert_eq!(
        run.exit_code, 0,
        "Claude Code {} did not resume:\n{report}",
        cli.version
    );
    assert_eq!(
        run.session_id.as_deref(),
        Some(session),
        "another session id:\n{report}"
    );
    assert!(
        !run.message_requests().is_empty(),
        "no model call reached the fake API:\n{report}"
    );
    assert!(
        run.history_contains(PROMPT),
        "the new prompt was not sent:\n{report}"
    );
    // The restored history went to the model.
    for probe in history_probes(&before) {
        assert!(
            run.history_contains(&probe),
            "restored text {probe:?} was not sent to the model:\n{report}"
        );
    }

    // Appended to the same file, every old line intact, new records carrying the new cwd.
    let after = read_lines(&installed);
    assert!(
        after.len() > before.len(),
        "nothing was appended to {}",
        installed.display()
    );
    assert_eq!(
        after[..before.len()],
        before[..],
        "the resumed CLI changed restored lines"
    );
    let appended: Vec<Value> = after[before.len()..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let with_cwd: Vec<&Value> = appended.iter().filter(|r| r.get("cwd").is_some()).collect();
    assert!(!with_cwd.is_empty(), "no appended record carries a cwd");
    for record in &with_cwd {
        assert_eq!(
            record["cwd"], new_cwd,
            "an appended record has another cwd: {record}"
        );
        assert_eq!(
            record["sessionId"], session,
            "an appended record has another session: {record}"
        );
    }
    assert!(
        appended
            .iter()
            .any(|r| r["type"] == "user" && r["message"]["content"] == PROMPT),
        "the new prompt is not in the transcript"
    );
    assert!(
        appended.iter().any(|r| r["type"] == "assistant"
            && r.to_string()
                .contains("Fake reply from the offline test API")),
        "the fake API's answer is not in the transcript"
    );
    // The conversation went on in this file, not in another one. (2.0.x leaves an empty
    // `<new-uuid>.jsonl` and `agent-*.jsonl` warm-up sidechains of that new id beside it.)
    for entry in fs::read_dir(installed.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        if path == installed || path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        let stray = read_lines(&path)
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|r| r["type"] == "user" && r["isSidechain"] != true);
        assert!(
            stray.is_none(),
            "the conversation continued in {} too: {}",
            path.display(),
            stray.unwrap()
        );
    }
}

#[test]
fn restored_session_resumes_offline_in_the_folder_of_its_cwd() {
    resumes_in_the_folder_of_its_cwd(claude::claude_cli, SPOTTER);
}

#[test]
fn restored_session_resumes_offline_with_claude_code_2_0() {
    resumes_in_the_folder_of_its_cwd(claude::claude_cli_legacy, LEGACY);
}

/// The session left in the folder it came from (its origin cwd), while `claude` runs elsewhere.
/// Returns the CLI, the sandbox, the installed file, its line count before the run, and the run.
fn run_from_the_wrong_folder(
    cli: fn() -> Option<ClaudeCli>,
) -> Option<(ClaudeCli, Sandbox, PathBuf, usize, ResumeRun)> {
    let (cli, corpus) = prerequisites(cli, SPOTTER)?;
    let sandbox = Sandbox::new("ci/work/app/app");
    let origin_folder = SPOTTER.folder.rsplit('/').next().unwrap();
    let installed = install_session(&corpus, SPOTTER, &sandbox.claude_dir, origin_folder, None);
    let lines = read_lines(&installed).len();
    let run = sandbox.resume(&cli, SPOTTER);
    Some((cli, sandbox, installed, lines, run))
}

#[test]
fn session_in_the_origin_folder_is_not_found_by_claude_code_2_0() {
    let Some((cli, _sandbox, installed, lines, run)) =
        run_from_the_wrong_folder(claude::claude_cli_legacy)
    else {
        return;
    };
    let report = run.describe();
    assert_eq!(
        run.exit_code, 1,
        "Claude Code {} should not find the session:\n{report}",
        cli.version
    );
    assert!(
        run.stderr.contains(&format!(
            "No conversation found with session ID: {}",
            SPOTTER.session
        )),
        "unexpected message:\n{report}"
    );
    assert!(
        run.message_requests().is_empty(),
        "a model call was made:\n{report}"
    );
    assert_eq!(
        read_lines(&installed).len(),
        lines,
        "the session file was changed"
    );
}

/// 2.1.329 scans every project folder for a unique match, so the session is found, but the
/// continuation is written into the origin's folder: nothing in the folder of the working directory,
/// where `--continue`, older CLIs and a push from that directory look. Either way the session only
/// works where restore installs it: the folder of the cwd.
#[test]
fn session_in_the_origin_folder_continues_outside_the_cwd_folder_with_claude_code_2_1() {
    let Some((cli, sandbox, installed, lines, run)) = run_from_the_wrong_folder(claude::claude_cli)
    else {
        return;
    };
    let report = run.describe();
    let cwd_folder = sandbox
        .claude_dir
        .join("projects")
        .join(claude::project_folder_name(&sandbox.cwd));
    let in_cwd_folder = cwd_folder.join(format!("{}.jsonl", SPOTTER.session));
    assert!(
        !in_cwd_folder.exists(),
        "the CLI moved the session into the cwd's folder:\n{report}"
    );
    if run.exit_code != 0 {
        // A CLI without the cross-folder scan: the same outcome as 2.0.
        assert!(
            run.stderr.contains("No conversation found with session ID"),
            "unexpected failure:\n{report}"
        );
        return;
    }
    assert_eq!(run.session_id.as_deref(), Some(SPOTTER.session), "{report}");
    assert!(
        read_lines(&installed).len() > lines,
        "Claude Code {} resumed without appending to the origin file:\n{report}",
        cli.version
    );
}

/// The folder-name oracle of the harness agrees with the real CLI, including the 2.1.x truncation of
/// long names and 2.0's lack of it: a new session started in such a directory lands in that folder.
#[test]
fn project_folder_name_matches_the_real_cli() {
    for cli in [claude::claude_cli, claude::claude_cli_legacy] {
        let Some(cli) = cli() else { continue };
        if !claude::namespaces_available() {
            return;
        }
        let long = format!(
            "deep/{}/Ünïcode dir.x_y",
            "segment-with-many-characters".repeat(7)
        );
        for relative in ["short/app.git", long.as_str()] {
            let sandbox = Sandbox::new(relative);
            let run = claude::run_offline(
                &cli,
                &sandbox.home,
                &sandbox.claude_dir,
                &sandbox.cwd,
                &["-p", "hello"],
            );
            assert_eq!(run.exit_code, 0, "{}", run.describe());
            let folders: Vec<String> = fs::read_dir(sandbox.claude_dir.join("projects"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            let expected = if cli.version.starts_with("2.0.") {
                claude::project_folder_name_untruncated(&sandbox.cwd)
            } else {
                claude::project_folder_name(&sandbox.cwd)
            };
            assert_eq!(
                folders,
                [expected],
                "Claude Code {} in {}",
                cli.version,
                sandbox.cwd.display()
            );
        }
    }
}

/// The folder-name oracle on the documented examples (no CLI needed).
#[test]
fn project_folder_name_examples() {
    assert_eq!(
        claude::project_folder_name(Path::new("/home/runner/work/app/app")),
        "-home-runner-work-app-app"
    );
    assert_eq!(
        claude::project_folder_name(Path::new("/a/b.c_d e/ü")),
        "-a-b-c-d-e--"
    );
    assert_eq!(claude::project_folder_name(Path::new("/x/😀")), "-x---");
    let long = format!("/{}", "a".repeat(250));
    let name = claude::project_folder_name(Path::new(&long));
    assert_eq!(&name[..201], format!("-{}-", "a".repeat(199)));
    assert!(
        name.len() > 202
            && name[201..]
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    );
}

/// The runner gives the CLI loopback and nothing else, a clean environment pointing at the fake API,
/// and the fake API answers there.
#[test]
fn runner_is_loopback_only_and_hermetic() {
    if support::require_tool("python3", "apt-get install python3").is_none()
        || !claude::namespaces_available()
    {
        return;
    }
    let sandbox = Sandbox::new("work");
    // A stand-in for `claude` that reports what it sees.
    let probe = sandbox.home.join("probe");
    fs::write(
        &probe,
        r#"#!/bin/sh
env | sort > "$HOME/env.txt"
ip -o link show > "$HOME/links.txt"
python3 - <<'PY'
import os, socket, urllib.request
try:
    socket.create_connection(("192.0.2.1", 443), timeout=3)
    print("outside: reachable")
except OSError as e:
    print("outside: " + type(e).__name__ + " " + str(e))
req = urllib.request.Request(os.environ["ANTHROPIC_BASE_URL"] + "/v1/messages?beta=true",
    data=b'{"model":"m","messages":[{"role":"user","content":"ping"}],"max_tokens":5}',
    headers={"content-type": "application/json", "x-api-key": os.environ["ANTHROPIC_API_KEY"]})
print("api: " + urllib.request.urlopen(req).read().decode())
base = os.environ["ANTHROPIC_BASE_URL"]
print("head: %d" % urllib.request.urlopen(urllib.request.Request(base + "/", method="HEAD")).status)
try:
    urllib.request.urlopen(base + "/v1/nothing")
except urllib.error.HTTPError as e:
    print("missing: %d %s" % (e.code, e.read().decode()))
count = urllib.request.Request(base + "/v1/messages/count_tokens?beta=true", data=b'{"messages":[]}',
    headers={"content-type": "application/json"})
print("count: " + urllib.request.urlopen(count).read().decode())
PY
"#,
    )
    .unwrap();
    fs::set_permissions(&probe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cli = ClaudeCli {
        bin: probe,
        version: "probe".into(),
    };
    // The test process itself runs under cargo (CARGO_*); none of that may reach the CLI.
    let run = claude::run_offline(&cli, &sandbox.home, &sandbox.claude_dir, &sandbox.cwd, &[]);
    let report = run.describe();
    assert_eq!(run.exit_code, 0, "{report}");
    assert!(
        run.stdout
            .contains("outside: OSError [Errno 101] Network is unreachable"),
        "{report}"
    );
    let api: Value = serde_json::from_str(
        run.stdout
            .lines()
            .find_map(|l| l.strip_prefix("api: "))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(api["type"], "message", "{report}");
    assert_eq!(
        api["content"][0]["text"],
        "Fake reply from the offline test API."
    );
    assert_eq!(api["stop_reason"], "end_turn");
    assert!(run.stdout.contains("head: 200\n"), "{report}");
    assert!(
        run.stdout.contains("missing: 404 {\"type\": \"error\""),
        "{report}"
    );
    let count = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("count: "))
        .unwrap();
    let count: Value = serde_json::from_str(count).unwrap();
    assert!(
        count["input_tokens"].as_u64().is_some_and(|n| n > 0),
        "{report}"
    );
    assert_eq!(run.records.len(), 4, "{report}");
    assert_eq!(run.message_requests().len(), 1, "{report}");
    assert_eq!(
        run.requests,
        [
            serde_json::json!({"model":"m","messages":[{"role":"user","content":"ping"}],"max_tokens":5}),
            serde_json::json!({"messages":[]}),
        ]
    );
    assert!(run.history_contains("ping"));
    assert!(
        run.records[0]["headers"].get("x-api-key").is_none(),
        "the API key was recorded"
    );

    let links = fs::read_to_string(sandbox.home.join("links.txt")).unwrap();
    assert_eq!(
        links.lines().count(),
        1,
        "interfaces besides loopback:\n{links}"
    );
    let env = fs::read_to_string(sandbox.home.join("env.txt")).unwrap();
    let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    for name in [
        "HOME",
        "CLAUDE_CONFIG_DIR",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_API_KEY",
        "DISABLE_TELEMETRY",
    ] {
        assert!(
            names.contains(&name),
            "{name} missing from the CLI's environment:\n{env}"
        );
    }
    for line in env.lines() {
        let name = line.split('=').next().unwrap();
        assert!(
            !name.starts_with("GITHUB_")
                && !name.starts_with("CARGO")
                && name != "GH_TOKEN"
                && name != "CI",
            "{name} of the test's environment reached the CLI"
        );
    }
    assert!(
        env.contains(&format!("HOME={}\n", sandbox.home.display())),
        "{env}"
    );
    assert!(
        env.contains("ANTHROPIC_BASE_URL=http://127.0.0.1:"),
        "{env}"
    );
}

//! Conformance with the real Claude Code (2.1.337, the platform package, and 2.1.332), offline: a
//! session that used plan mode, tasks, an edit with a checkpoint, a background command and a
//! background agent is carried laptop -> CI (another HOME, repository path and `$TMPDIR`) -> laptop.
//!
//! First the inventory: every file under the Claude config folder and the temp folder that is keyed
//! by the session id or named in its transcripts must either arrive on CI or be on the documented
//! machine-local list (docs/session-state.md). When a newer Claude Code keeps more state, this test
//! names the file. Then the state works at the other end: `TaskList` shows the tasks,
//! `--rewind-files` restores the checkpointed file, the plan and the background output read at the
//! paths the transcript names, no origin root is left in any installed file, every
//! `api-request-blob` hash matches its message, the resumed request carries as many messages as on
//! the origin, and CI's new task and memory come home.
#![cfg(unix)]

mod support;

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use fake_github::{FakeGitHub, Options};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::claude::{self, ClaudeCli, ResumeRun};
use support::{assert_no_token, TestEnv, TOKEN};

/// Files of a session that stay on their machine, relative to the Claude config folder (or, with
/// `tmp:`, to the temp root), as docs/session-state.md lists them. `<id>` is the session id.
const MACHINE_LOCAL: &[&str] = &[
    "tasks/<id>/.lock",
    "session-env/",
    "debug/",
    "sessions/",
    "backups/",
    "shell-snapshots/",
    "plugins/",
    "jobs/",
    "daemon/",
    ".claude.json",
    "history.jsonl",
    "tmp:<folder>/<id>/started",
];

struct Side {
    env: TestEnv,
    tmp: PathBuf,
    api_url: String,
}

impl Side {
    fn new(fake: &FakeGitHub, repo: &str) -> Side {
        let env = TestEnv::with_repo_path(repo);
        let tmp = env.temp.path().join(format!("tmp-{}", repo.len()));
        std::fs::create_dir_all(&tmp).unwrap();
        let tmp = std::fs::canonicalize(tmp).unwrap();
        Side {
            env,
            tmp,
            api_url: fake.api_url(),
        }
    }
    fn temp_root(&self) -> PathBuf {
        let uid = std::fs::metadata(&self.tmp).unwrap().uid();
        self.tmp.join(format!("claude-{uid}"))
    }
    fn project_dir(&self) -> PathBuf {
        self.env
            .claude_dir
            .join("projects")
            .join(claude::project_folder_name(&self.env.repo))
    }
    fn folder(&self) -> String {
        claude::project_folder_name(&self.env.repo)
    }
    fn transcript(&self, id: &str) -> PathBuf {
        self.project_dir().join(format!("{id}.jsonl"))
    }
    fn roots(&self) -> Vec<String> {
        [&self.env.repo, &self.env.claude_dir, &self.temp_root()]
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }
    fn ccsync(&self, args: &[&str]) -> Output {
        let output = self
            .env
            .ccsync()
            .args(args)
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("TMPDIR", &self.tmp)
            .output()
            .expect("ccsync runs");
        assert_no_token(&output);
        assert!(
            output.status.success(),
            "ccsync {args:?}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
    fn claude(&self, cli: &ClaudeCli, args: &[&str]) -> ResumeRun {
        let tmp = self.tmp.to_string_lossy().into_owned();
        let run = claude::run_offline_env(
            cli,
            &self.env.home,
            &self.env.claude_dir,
            &self.env.repo,
            None,
            &[
                ("TMPDIR", tmp.as_str()),
                ("CLAUDE_CODE_ENABLE_TODO_TOOLS", "1"),
                ("CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING", "1"),
            ],
            args,
        );
        assert_eq!(run.exit_code, 0, "claude {args:?}: {}", run.describe());
        run
    }
}

const TOOLS: &str = "Write,Edit,Bash,Read,TaskCreate,TaskUpdate,TaskList,TaskGet,ToolSearch,Agent";

fn script(steps: Value) -> String {
    format!("SCRIPT:{steps}")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn records(path: &Path) -> Vec<Value> {
    read(path)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Every file (and link) below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(list) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in list.flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

/// The text of the session's transcripts (the session file and its subagents).
fn transcripts_text(side: &Side, id: &str) -> String {
    let mut text = read(&side.transcript(id));
    for file in walk(&side.project_dir().join(id).join("subagents")) {
        if file.extension().is_some_and(|e| e == "jsonl") {
            text.push_str(&read(&file));
        }
    }
    text
}

/// The files under the config folder and the temp root that are keyed by the session id or named
/// in its transcripts.
fn inventory(side: &Side, id: &str) -> Vec<PathBuf> {
    let named = transcripts_text(side, id);
    let mut out: Vec<PathBuf> = [side.env.claude_dir.clone(), side.temp_root()]
        .iter()
        .flat_map(|root| walk(root))
        .filter(|file| {
            let text = file.to_string_lossy();
            text.contains(id) || named.contains(text.as_ref())
        })
        .collect();
    out.sort();
    out
}

/// Where a file of the laptop should be on CI: the laptop's roots mapped to CI's, longest first.
fn mapped(file: &Path, from: &Side, to: &Side) -> PathBuf {
    let pairs = [
        (from.project_dir(), to.project_dir()),
        (
            from.temp_root().join(from.folder()),
            to.temp_root().join(to.folder()),
        ),
        (from.temp_root(), to.temp_root()),
        (from.env.claude_dir.clone(), to.env.claude_dir.clone()),
    ];
    for (a, b) in pairs {
        if let Ok(rest) = file.strip_prefix(&a) {
            return b.join(rest);
        }
    }
    file.to_path_buf()
}

fn machine_local(file: &Path, side: &Side, id: &str) -> bool {
    MACHINE_LOCAL.iter().any(|pattern| {
        let pattern = pattern
            .replace("<id>", id)
            .replace("<folder>", &side.folder());
        let (root, rel) = match pattern.strip_prefix("tmp:") {
            Some(rel) => (side.temp_root(), rel.to_owned()),
            None => (side.env.claude_dir.clone(), pattern),
        };
        let Ok(inside) = file.strip_prefix(&root) else {
            return false;
        };
        let inside = inside.to_string_lossy();
        match rel.strip_suffix('/') {
            Some(folder) => inside.starts_with(&format!("{folder}/")),
            None => inside == rel || inside.starts_with(&format!("{rel}/")),
        }
    })
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<_> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Every `api-request-blob` hash of the transcript matches its message; returns how many.
fn assert_blob_hashes(path: &Path) -> usize {
    let mut n = 0;
    for record in records(path) {
        if record["type"] != "api-request-blob" {
            continue;
        }
        let mut message = record["message"].clone();
        if let Some(s) = message["content"].as_str() {
            message["content"] = json!([{"type": "text", "text": s}]);
        }
        assert_eq!(
            record["hash"].as_str().unwrap(),
            sha(&sorted(&message).to_string()),
            "{} in {}",
            record["hash"],
            path.display()
        );
        n += 1;
    }
    n
}

/// The files installed for the session: transcript, side data and state.
fn installed(side: &Side, id: &str, slug: &str) -> Vec<PathBuf> {
    let mut out = vec![side.transcript(id)];
    out.extend(walk(&side.project_dir().join(id)));
    out.extend(walk(&side.env.claude_dir.join("tasks").join(id)));
    out.extend(walk(&side.env.claude_dir.join("file-history").join(id)));
    out.extend(walk(&side.temp_root().join(side.folder()).join(id)));
    out.extend(
        walk(&side.env.claude_dir.join("plans"))
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(slug)),
    );
    out
}

fn assert_no_root_of(from: &Side, files: &[PathBuf]) {
    for file in files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for root in from.roots() {
            assert!(
                !text.contains(&root),
                "{} still names {root}",
                file.display()
            );
        }
    }
}

/// The tool results sent back in the run's last model call: (text, is_error).
fn tool_results(run: &ResumeRun) -> Vec<(String, bool)> {
    let last = run.message_requests().last().cloned().cloned().unwrap();
    let mut out = Vec::new();
    for message in last["messages"].as_array().unwrap() {
        for block in message["content"].as_array().into_iter().flatten() {
            if block["type"] == "tool_result" {
                let text = match &block["content"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push((text, block["is_error"] == true));
            }
        }
    }
    out
}

/// Messages of the first model call that offers tools (the main turn, not a side call).
fn history_len(run: &ResumeRun) -> usize {
    run.message_requests()
        .iter()
        .find(|b| b["tools"].as_array().is_some_and(|t| !t.is_empty()))
        .and_then(|b| b["messages"].as_array())
        .map_or(0, Vec::len)
}

#[test]
fn claude_2_1_337_session_state_travels_laptop_to_ci_and_back() {
    let Some(cli) = claude::claude_cli_platform() else {
        return;
    };
    carry_state(&cli);
}

#[test]
fn claude_2_1_332_session_state_travels_laptop_to_ci_and_back() {
    let Some(cli) = claude::claude_cli_newest() else {
        return;
    };
    carry_state(&cli);
}

fn carry_state(cli: &ClaudeCli) {
    if !claude::namespaces_available() {
        return;
    }
    let fake = FakeGitHub::start(Options::default());
    let laptop = Side::new(&fake, "Users/me/src/app");
    let ci = Side::new(&fake, "home/runner/work/app/app");
    let hello = |side: &Side| side.env.repo.join("hello.txt");
    std::fs::write(hello(&laptop), "v0\n").unwrap();

    // Plan mode writes the plan, then the session goes on with tasks, an edit, background work.
    let run = laptop.claude(
        cli,
        &[
            "-p",
            "--output-format",
            "json",
            "--permission-mode",
            "plan",
            "--",
            &script(
                json!([[{"name": "Write", "input": {"file_path": "{{PLAN_FILE}}",
                "content": "# Plan\n1. edit hello.txt\n"}}]]),
            ),
        ],
    );
    let id = run.session_id.clone().expect("a session id");
    let hello_path = hello(&laptop).to_string_lossy().into_owned();
    laptop.claude(
        cli,
        &[
            "-p", "--output-format", "json", "--resume", &id, "--allowedTools", TOOLS, "--",
            &script(json!([
                [{"name": "ToolSearch", "input": {"query": "select:TaskCreate,TaskUpdate,TaskList"}}],
                [{"name": "TaskCreate", "input": {"subject": "Edit hello", "description": "edit hello.txt", "activeForm": "Editing hello"}}],
                [{"name": "TaskCreate", "input": {"subject": "Ship it", "description": "ship", "activeForm": "Shipping"}}],
                [{"name": "Read", "input": {"file_path": hello_path}}],
                [{"name": "Edit", "input": {"file_path": hello_path, "old_string": "v0", "new_string": "v1"}}],
                [{"name": "TaskUpdate", "input": {"taskId": "1", "status": "completed"}}],
                [{"name": "Bash", "input": {"command": "echo BG-OUT-$((40+2))", "description": "print a mark", "run_in_background": true}}],
                [{"name": "Agent", "input": {"description": "say hi", "prompt": "SCRIPT:[]\nsay hi", "subagent_type": "general-purpose", "run_in_background": true}}]
            ])),
        ],
    );
    assert_eq!(read(&hello(&laptop)), "v1\n");
    let laptop_records = records(&laptop.transcript(&id));
    let slug = laptop_records
        .iter()
        .find_map(|r| r["slug"].as_str().map(str::to_owned))
        .expect("plan mode names a slug");
    let checkpoint = laptop_records
        .iter()
        .find(|r| {
            r["type"] == "user"
                && r["message"]["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("ToolSearch"))
        })
        .and_then(|r| r["uuid"].as_str().map(str::to_owned))
        .expect("the prompt of the editing turn");
    // What a resume sends on the origin, measured on a fork (the session itself stays as it is).
    let before = read(&laptop.transcript(&id));
    let origin = laptop.claude(cli, &["-p", "--resume", &id, "--fork-session", "COUNT"]);
    assert_eq!(
        read(&laptop.transcript(&id)),
        before,
        "the fork left the session alone"
    );
    let origin_messages = history_len(&origin);
    assert!(origin_messages > 10, "{}", origin.describe());

    // The inventory, then the trip.
    let files = inventory(&laptop, &id);
    let kinds = |needle: &str| files.iter().any(|f| f.to_string_lossy().contains(needle));
    for needle in ["/tasks/", "/file-history/", "/plans/", ".output"] {
        assert!(kinds(needle), "the session has {needle} state: {files:#?}");
    }
    laptop.ccsync(&["release-push", "--session", &id]);
    ci.ccsync(&["release-restore", "--session", &id]);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::symlink_metadata(mapped(f, &laptop, &ci)).is_err()
                && !machine_local(f, &laptop, &id)
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "Claude Code {} keeps session state that neither travelled nor is listed as machine-local \
         (carry it, or add it to docs/session-state.md and MACHINE_LOCAL): {missing:#?}",
        cli.version
    );
    assert_no_root_of(&laptop, &installed(&ci, &id, &slug));
    assert!(assert_blob_hashes(&ci.transcript(&id)) > 0);

    // The resumed request carries the whole history.
    let count = ci.claude(cli, &["-p", "--resume", &id, "COUNT"]);
    assert_eq!(history_len(&count), origin_messages, "{}", count.describe());

    // Tasks, plan and background output work at CI's paths.
    let plan = ci.env.claude_dir.join("plans").join(format!("{slug}.md"));
    let output = records(&ci.transcript(&id))
        .iter()
        .find_map(|r| {
            r["toolUseResult"]["backgroundOutputPath"]
                .as_str()
                .map(str::to_owned)
        })
        .or_else(|| {
            walk(&ci.temp_root().join(ci.folder()).join(&id).join("tasks"))
                .into_iter()
                .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("BG-OUT-42")))
                .map(|p| p.to_string_lossy().into_owned())
        })
        .expect("the background output's path");
    assert!(
        output.starts_with(ci.temp_root().to_str().unwrap()),
        "{output}"
    );
    let checks = ci.claude(
        cli,
        &[
            "-p", "--output-format", "json", "--resume", &id, "--allowedTools", TOOLS, "--",
            &script(json!([
                [{"name": "ToolSearch", "input": {"query": "select:TaskCreate,TaskList"}}],
                [{"name": "TaskList", "input": {}}],
                [{"name": "Read", "input": {"file_path": plan}}],
                [{"name": "Read", "input": {"file_path": output}}],
                [{"name": "TaskCreate", "input": {"subject": "CI task", "description": "from CI", "activeForm": "Doing CI"}}]
            ])),
        ],
    );
    let results = tool_results(&checks);
    let shown = format!("{results:#?}");
    assert!(
        results
            .iter()
            .any(|(t, _)| t.contains("Edit hello") && t.contains("Ship it")),
        "TaskList shows the origin's tasks: {shown}"
    );
    assert!(
        results
            .iter()
            .any(|(t, _)| t.contains("edit hello.txt") && !t.contains("\"content\"")),
        "the plan reads: {shown}"
    );
    assert!(
        results.iter().any(|(t, _)| t.contains("BG-OUT-42")),
        "the background output reads: {shown}"
    );
    assert!(
        !results
            .iter()
            .any(|(t, _)| t.contains("does not exist") || t.contains("No tasks found")),
        "{shown}"
    );
    assert!(
        read(&ci.env.claude_dir.join("tasks").join(&id).join("3.json")).contains("CI task"),
        "TaskCreate went on from the origin's tasks"
    );

    // Rewind on CI: the checkout has the edited file; the checkpoint brings back the original.
    std::fs::write(hello(&ci), "v1\n").unwrap();
    let rewind = ci.claude(cli, &["-p", "--resume", &id, "--rewind-files", &checkpoint]);
    assert_eq!(read(&hello(&ci)), "v0\n", "{}", rewind.describe());
    std::fs::write(hello(&ci), "v1\n").unwrap();

    // CI's memory and task come home with the continuation.
    let memory = ci.project_dir().join("memory/MEMORY.md");
    std::fs::create_dir_all(memory.parent().unwrap()).unwrap();
    std::fs::write(&memory, "# Memory\n- CI learned HERON-CI\n").unwrap();
    ci.ccsync(&["release-push", "--session", &id]);
    laptop.ccsync(&["release-restore", "--session", &id]);
    assert!(
        read(&laptop.env.claude_dir.join("tasks").join(&id).join("3.json")).contains("CI task")
    );
    assert!(read(&laptop.project_dir().join("memory/MEMORY.md")).contains("HERON-CI"));
    assert_no_root_of(&ci, &installed(&laptop, &id, &slug));
    assert!(assert_blob_hashes(&laptop.transcript(&id)) > 0);
    let home = laptop.claude(
        cli,
        &[
            "-p",
            "--output-format",
            "json",
            "--resume",
            &id,
            "--allowedTools",
            TOOLS,
            "--",
            &script(json!([
                [{"name": "ToolSearch", "input": {"query": "select:TaskList"}}],
                [{"name": "TaskList", "input": {}}]
            ])),
        ],
    );
    assert!(
        tool_results(&home)
            .iter()
            .any(|(t, _)| t.contains("CI task") && t.contains("Edit hello")),
        "{:#?}",
        tool_results(&home)
    );
}

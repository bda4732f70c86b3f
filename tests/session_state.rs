//! The session's state outside the project folder travels with it (docs/session-state.md): its
//! task list, file history, plan files and background outputs are pushed under `.ccsync-state/`
//! and installed at the other machine's own places (another HOME, repository path and `$TMPDIR`);
//! every machine root is mapped both ways; Claude Code's content hashes stay true after the
//! rewrite; a local state file that the stored copy replaces is saved first; and a restore refuses
//! state that is not the session's, with nothing written.
#![cfg(unix)]

mod support;

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use fake_github::{FakeGitHub, Options};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::hostile::{self, tar_gz};
use support::machine::{assert_ok, code, text, Machine};
use support::sessions::SessionBuilder;

const SLUG: &str = "humble-dancing-fox";

/// A secret a background command printed: redacted in the uploaded copy like in the transcript.
const TOKEN_IN_OUTPUT: &str = "ghp_a1B2c3D4e5a1B2c3D4e5a1B2c3D4e5a1B2c3";

/// Paths of one machine's session state.
struct Places<'a> {
    m: &'a Machine,
    id: String,
}

impl Places<'_> {
    fn claude(&self) -> &Path {
        &self.m.env.claude_dir
    }
    fn temp_root(&self) -> PathBuf {
        let uid = std::fs::metadata(&self.m.tmp).unwrap().uid();
        self.m.tmp.join(format!("claude-{uid}"))
    }
    fn tasks(&self) -> PathBuf {
        self.claude().join("tasks").join(&self.id)
    }
    fn history(&self) -> PathBuf {
        self.claude().join("file-history").join(&self.id)
    }
    fn plan(&self) -> PathBuf {
        self.claude().join("plans").join(format!("{SLUG}.md"))
    }
    fn outputs(&self) -> PathBuf {
        let folder = self.m.project_dir().file_name().unwrap().to_owned();
        self.temp_root().join(folder).join(&self.id).join("tasks")
    }
    fn roots(&self) -> Vec<String> {
        [
            self.m.env.repo.clone(),
            self.m.env.claude_dir.clone(),
            self.temp_root(),
        ]
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A 2.1.x session on `m` that used tasks, an edit with a checkpoint, plan mode, a background
/// command and a background agent, with the records that name their files by absolute path.
fn session_with_state(m: &Machine) -> (SessionBuilder, Places<'_>) {
    let session = SessionBuilder::new(&m.env.repo)
        .version("2.1.337")
        .at("2026-12-01T10:00:00Z")
        .turns(2);
    let p = Places {
        m,
        id: session.id.clone(),
    };
    let repo = m.env.repo.to_string_lossy().into_owned();
    let plan = p.plan().to_string_lossy().into_owned();
    let output = p.outputs().join("b1.output").to_string_lossy().into_owned();
    // What Claude Code hashes: the message as sorted compact JSON, string content as a text block.
    let message =
        json!({"role": "system", "content": format!("Primary working directory: {repo}")});
    let canonical = format!(
        r#"{{"content":[{{"text":"Primary working directory: {repo}","type":"text"}}],"role":"system"}}"#
    );
    let hash = sha(&canonical);
    let session = session
        .raw(&json!({"type": "attachment", "slug": SLUG, "sessionId": p.id,
            "attachment": {"type": "plan_mode", "planFilePath": plan}}).to_string())
        .raw(&json!({"type": "queue-operation", "sessionId": p.id,
            "content": format!("<task-notification><output-file>{output}</output-file></task-notification>")}).to_string())
        .raw(&json!({"type": "file-history-snapshot", "messageId": "m1", "snapshot": {"messageId": "m1",
            "trackedFileBackups": {format!("{repo}/hello.txt"): {"backupFileName": "0123456789abcdef@v1", "version": 1},
                plan.clone(): {"backupFileName": null, "version": 1}}, "timestamp": "2026-12-01T10:00:00.000Z"},
            "isSnapshotUpdate": false}).to_string())
        .raw(&json!({"type": "api-request-blob", "sessionId": p.id, "hash": hash, "message": message}).to_string())
        .raw(&json!({"type": "api-request", "sessionId": p.id, "tail": [hash]}).to_string());
    session.write_to(&m.project_dir());
    session.write_side_folder_2_1(&m.project_dir(), "a1");

    write(
        &p.tasks().join("1.json"),
        r#"{"id":"1","subject":"Write hello","status":"in_progress","blocks":[],"blockedBy":[]}"#,
    );
    write(&p.tasks().join(".lock"), "");
    write(&p.history().join("0123456789abcdef@v1"), "v0\n");
    write(&p.plan(), &format!("# Plan\n1. Edit {repo}/hello.txt\n"));
    write(
        &p.claude().join("plans/other-session-plan.md"),
        "not this session's\n",
    );
    write(
        &p.outputs().join("b1.output"),
        &format!("built in {repo}\ntoken {TOKEN_IN_OUTPUT}\n\n[exited with code 0]\n"),
    );
    let agent = m.project_dir().join(&p.id).join("subagents/agent-a1.jsonl");
    std::os::unix::fs::symlink(&agent, p.outputs().join("a1.output")).unwrap();
    (session, p)
}

/// Every file installed for the session on `p`'s machine: transcript, side data, state.
fn installed_files(p: &Places<'_>) -> Vec<PathBuf> {
    let mut out = vec![p.m.session_file(&p.id)];
    for dir in [
        p.m.project_dir().join(&p.id),
        p.tasks(),
        p.history(),
        p.outputs(),
    ] {
        for entry in walk(&dir) {
            out.push(entry);
        }
    }
    out.push(p.plan());
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(list) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in list.flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The `hash` of every `api-request-blob` record matches its message, and `api-request` records
/// name existing blobs.
fn assert_hashes_hold(file: &Path) {
    let mut blobs = Vec::new();
    for line in read(file).lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        if record["type"] == "api-request-blob" {
            let message = &record["message"];
            let mut normal = message.clone();
            if let Some(s) = message["content"].as_str() {
                normal["content"] = json!([{"type": "text", "text": s}]);
            }
            let canonical = sorted(&normal).to_string();
            assert_eq!(record["hash"].as_str().unwrap(), sha(&canonical), "{line}");
            blobs.push(record["hash"].as_str().unwrap().to_owned());
        }
        if record["type"] == "api-request" {
            for hash in record["tail"].as_array().unwrap() {
                assert!(blobs.iter().any(|b| b == hash), "{line}");
            }
        }
    }
    assert!(!blobs.is_empty());
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<_> = map.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&map[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[test]
fn state_travels_to_the_other_machines_places_and_comes_home() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let ci = Machine::new();
    let (_, home) = session_with_state(&laptop);
    let id = home.id.clone();
    let there = Places {
        m: &ci,
        id: id.clone(),
    };
    let out = laptop.ccsync(&fake, &["release-push", "--session", &id]);
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(".ccsync-state/tmp-tasks/b1.output"),
        "the finding is reported by place: {}",
        text(&out)
    );
    let meta = stored_metadata(&fake, &id);
    assert_eq!(
        meta["claudeDir"].as_str().unwrap(),
        laptop.env.claude_dir.to_str().unwrap()
    );
    assert_eq!(
        meta["claudeTempDir"].as_str().unwrap(),
        home.temp_root().to_str().unwrap()
    );

    assert_ok(&ci.ccsync(&fake, &["release-restore", "--session", &id]));
    // Each piece at CI's own places; the lock and other sessions' plans stay behind.
    assert!(read(&there.tasks().join("1.json")).contains("in_progress"));
    assert!(!there.tasks().join(".lock").exists());
    assert_eq!(read(&there.history().join("0123456789abcdef@v1")), "v0\n");
    assert!(!ci
        .env
        .claude_dir
        .join("plans/other-session-plan.md")
        .exists());
    let ci_repo = ci.env.repo.to_str().unwrap();
    assert_eq!(
        read(&there.plan()),
        format!("# Plan\n1. Edit {ci_repo}/hello.txt\n")
    );
    let output = read(&there.outputs().join("b1.output"));
    assert!(output.contains(ci_repo), "{output}");
    assert!(
        !output.contains(TOKEN_IN_OUTPUT) && output.contains("[REDACTED:"),
        "{output}"
    );
    let link = there.outputs().join("a1.output");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        ci.project_dir().join(&id).join("subagents/agent-a1.jsonl")
    );
    assert!(read(&link).contains("answer 0"), "the link reads the agent");
    // The transcript names CI's places, and no root of the laptop is left anywhere.
    let transcript = read(&ci.session_file(&id));
    assert!(transcript.contains(there.plan().to_str().unwrap()));
    assert!(transcript.contains(there.outputs().join("b1.output").to_str().unwrap()));
    for file in installed_files(&there) {
        let content = std::fs::read_to_string(&file).unwrap_or_default();
        for root in home.roots() {
            assert!(
                !content.contains(&root),
                "{} still names {root}",
                file.display()
            );
        }
    }
    assert_hashes_hold(&ci.session_file(&id));

    // CI continues: a task done, a new one, a turn. Meanwhile the laptop's task changed too.
    write(
        &there.tasks().join("1.json"),
        r#"{"id":"1","subject":"Write hello","status":"completed","blocks":[],"blockedBy":[]}"#,
    );
    write(
        &there.tasks().join("2.json"),
        r#"{"id":"2","subject":"Ship","status":"pending","blocks":[],"blockedBy":[]}"#,
    );
    let more = SessionBuilder::new(&ci.env.repo)
        .id(&id)
        .branch("HEAD")
        .at("2026-12-02T00:00:00Z")
        .turns(1);
    let mut continued = read(&ci.session_file(&id));
    continued.push_str(&more.text());
    std::fs::write(ci.session_file(&id), continued).unwrap();
    assert_ok(&ci.ccsync(&fake, &["release-push", "--session", &id]));
    write(
        &home.tasks().join("1.json"),
        r#"{"id":"1","subject":"Write hello","status":"in_progress","note":"laptop"}"#,
    );

    let out = laptop.ccsync(&fake, &["release-restore", "--session", &id, "--json"]);
    assert_ok(&out);
    assert!(read(&home.tasks().join("1.json")).contains("completed"));
    assert!(read(&home.tasks().join("2.json")).contains("Ship"));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let backup = PathBuf::from(json["sideBackup"].as_str().expect("state saved"));
    assert!(
        read(&backup.join(".ccsync-state/tasks/1.json")).contains("laptop"),
        "{}",
        text(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("local state file"));
    // Home paths again, and the hashes still hold.
    let transcript = read(&laptop.session_file(&id));
    assert!(transcript.contains(home.plan().to_str().unwrap()));
    for root in there.roots() {
        assert!(!transcript.contains(&root), "{root} left at home");
    }
    assert_hashes_hold(&laptop.session_file(&id));
    assert_eq!(
        std::fs::read_link(home.outputs().join("a1.output")).unwrap(),
        laptop
            .project_dir()
            .join(&id)
            .join("subagents/agent-a1.jsonl")
    );

    // Nothing changed since: up to date. Then a change of state alone (a task done, no new
    // record) is uploaded and arrives on CI, whose own copy of that task did not change since.
    let out = laptop.ccsync(&fake, &["release-push", "--session", &id]);
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already up to date"),
        "{}",
        text(&out)
    );
    write(
        &home.tasks().join("2.json"),
        r#"{"id":"2","subject":"Ship","status":"completed","note":"laptop-done"}"#,
    );
    let out = laptop.ccsync(&fake, &["release-push", "--session", &id]);
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("its state"),
        "{}",
        text(&out)
    );
    let out = ci.ccsync(&fake, &["release-restore", "--session", &id]);
    assert_ok(&out);
    assert!(
        read(&there.tasks().join("2.json")).contains("laptop-done"),
        "{}",
        text(&out)
    );
    let out = ci.ccsync(&fake, &["release-push", "--session", &id]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already up to date"),
        "{}",
        text(&out)
    );
}

fn stored_metadata(fake: &FakeGitHub, id: &str) -> Value {
    let name = format!("claude-session-metadata-{id}.json");
    fake.releases("octo", "app")
        .iter()
        .flat_map(|r| r.assets.iter())
        .find(|a| a.name == name)
        .map(|a| serde_json::from_slice(&a.data).unwrap())
        .unwrap_or_else(|| panic!("{name} stored"))
}

/// A planted archive whose state is not the session's is refused with nothing written.
#[test]
fn state_that_is_not_the_sessions_is_refused() {
    let session = SessionBuilder::new("/w/app")
        .at("2026-01-01T00:00:00Z")
        .turns(1)
        .raw(&json!({"type": "attachment", "slug": SLUG}).to_string());
    let id = session.id.clone();
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        (
            ".ccsync-state/plans/someone-elses-plan.md".into(),
            b"# x".to_vec(),
            "does not name",
        ),
        (
            ".ccsync-state/tmp-tasks/a1.output.link".into(),
            b"../../../../etc/passwd".to_vec(),
            "not side data",
        ),
        (
            ".ccsync-state/settings.json".into(),
            b"{}".to_vec(),
            "not part of that session",
        ),
        (
            ".ccsync-state/tasks/.lock".into(),
            Vec::new(),
            "not part of that session",
        ),
    ];
    for (name, data, why) in cases {
        let fake = FakeGitHub::start(Options::default());
        let ci = hostile::Machine::new(&fake, "work/app");
        let entries = [
            (format!("{id}.jsonl"), session.text().into_bytes()),
            (format!(".ccsync-state/plans/{SLUG}.md"), b"# ok".to_vec()),
            (name.clone(), data),
        ];
        let borrowed: Vec<(&str, Vec<u8>)> = entries
            .iter()
            .map(|(n, d)| (n.as_str(), d.clone()))
            .collect();
        let (archive, unpacked) = tar_gz(&borrowed);
        let meta = hostile::metadata_for(&session, &archive, unpacked, "/w/app");
        hostile::plant(&fake, "main", &id, &archive, &meta);
        // The staging area's parent exists before any restore writes there.
        std::fs::create_dir_all(ci.env.claude_dir.join("projects")).unwrap();
        let before = ci.snapshot();
        let out = ci.run(&["release-restore", "--branch", "main"], &[]);
        assert_eq!(code(&out), 1, "{name}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(why),
            "{name}: {}",
            text(&out)
        );
        assert!(ci.snapshot() == before, "{name}: nothing written");
        assert!(!ci.env.claude_dir.join("plans").exists());
    }
}

/// A session with more files than a restore accepts is refused at push, before anything is
/// uploaded, with what to do.
#[test]
fn more_state_than_a_restore_accepts_is_refused_at_push() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let session = SessionBuilder::new(&laptop.env.repo)
        .at("2026-12-01T10:00:00Z")
        .turns(1);
    session.write_to(&laptop.project_dir());
    let history = laptop.env.claude_dir.join("file-history").join(&session.id);
    std::fs::create_dir_all(&history).unwrap();
    for n in 0..10_000 {
        std::fs::write(history.join(format!("{n:016x}@v1")), "x").unwrap();
    }
    let out = laptop.ccsync(&fake, &["release-push", "--session", &session.id]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("10001 files") && err.contains("file-history"),
        "{err}"
    );
    assert!(fake
        .releases("octo", "app")
        .iter()
        .all(|r| r.assets.is_empty()));
}

/// Encrypted like the rest: with a passphrase the state travels inside the age-encrypted archive.
#[test]
fn state_travels_encrypted() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let ci = Machine::new();
    let (_, home) = session_with_state(&laptop);
    let id = home.id.clone();
    let run = |m: &Machine, args: &[&str]| {
        let out = m
            .command(&fake, args)
            .env("CCSYNC_PASSPHRASE", "correct horse battery staple")
            .output()
            .unwrap();
        assert_ok(&out);
    };
    run(&laptop, &["release-push", "--session", &id]);
    let meta = stored_metadata(&fake, &id);
    assert_eq!(meta["archive"]["encryption"], "age-scrypt");
    run(&ci, &["release-restore", "--session", &id]);
    let there = Places { m: &ci, id };
    assert!(read(&there.tasks().join("1.json")).contains("Write hello"));
    assert!(read(&there.plan()).contains("# Plan"));
}

/// `claude` may run with another `$TMPDIR` than ccsync: push finds the background outputs where
/// the transcript says they are, and records that temp root.
#[test]
fn outputs_are_found_where_the_transcript_names_them() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let ci = Machine::new();
    let (_, home) = session_with_state(&laptop);
    let id = home.id.clone();
    let elsewhere = laptop.env.temp.path().join("other-tmp");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = laptop
        .command(&fake, &["release-push", "--session", &id])
        .env("TMPDIR", &elsewhere)
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(
        stored_metadata(&fake, &id)["claudeTempDir"]
            .as_str()
            .unwrap(),
        home.temp_root().to_str().unwrap()
    );
    assert_ok(&ci.ccsync(&fake, &["release-restore", "--session", &id]));
    let there = Places { m: &ci, id };
    assert!(read(&there.outputs().join("b1.output")).contains("exited with code 0"));
    assert!(read(&ci.session_file(&there.id))
        .contains(there.outputs().join("b1.output").to_str().unwrap()));
}

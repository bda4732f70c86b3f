//! A generator of realistic Claude Code session files for tests: chain records with the fields
//! Claude Code writes (uuid, parentUuid, sessionId, cwd, gitBranch, timestamp, version, type,
//! message), metadata records, branch switches, glued and torn lines, 2.0.x `agent-*.jsonl` files
//! and 2.1.x `<uuid>/subagents/` side folders. Self-contained (no `super::`), so it can be used
//! as `support::sessions` or included with `#[path]`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

/// Claude Code's folder-name rule, written independently of ccsync's (so tests do not check the
/// code against itself): UTF-16 units outside `[A-Za-z0-9]` become `-`; past 200 characters,
/// the first 200 + `-` + base36(|Java hashCode|).
pub fn claude_folder_name(path: &str) -> String {
    let name: String = path
        .encode_utf16()
        .map(|u| {
            if u < 128 && (u as u8).is_ascii_alphanumeric() {
                u as u8 as char
            } else {
                '-'
            }
        })
        .collect();
    if name.len() <= 200 {
        return name;
    }
    let mut h: i64 = 0;
    for unit in path.encode_utf16() {
        h = ((h << 5) - h + i64::from(unit)) & 0xffff_ffff;
    }
    let mut n = if h >= 1 << 31 { (1i64 << 32) - h } else { h };
    let mut digits = Vec::new();
    loop {
        digits.push(std::char::from_digit((n % 36) as u32, 36).unwrap());
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    format!(
        "{}-{}",
        &name[..200],
        digits.into_iter().collect::<String>()
    )
}

/// A path as Claude Code records it (no Windows verbatim `\\?\` prefix, which canonicalize adds).
pub fn claude_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    match text.strip_prefix(r"\\?\") {
        Some(rest) if !rest.starts_with("UNC") => rest.to_owned(),
        _ => text.into_owned(),
    }
}

/// `<claude_dir>/projects/<folder of cwd>`.
pub fn project_folder(claude_dir: &Path, cwd: &Path) -> PathBuf {
    claude_dir
        .join("projects")
        .join(claude_folder_name(&claude_path(cwd)))
}

/// A fresh lower-case hyphenated UUID.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Parses `2026-01-02T03:04:05Z`-style text.
pub fn ts(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Builds one session file line by line.
#[derive(Debug, Clone)]
pub struct SessionBuilder {
    pub id: String,
    cwd: String,
    branch: String,
    version: String,
    clock: DateTime<Utc>,
    last_uuid: Option<String>,
    sidechain: Option<String>,
    lines: Vec<String>,
    /// Every record uuid written, in order.
    pub uuids: Vec<String>,
}

impl SessionBuilder {
    /// A 2.1.x session in `cwd` on branch `main`, clock at 2026-01-01T00:00:00Z.
    pub fn new(cwd: impl AsRef<Path>) -> Self {
        SessionBuilder {
            id: new_id(),
            cwd: claude_path(cwd.as_ref()),
            branch: "main".into(),
            version: "2.1.197".into(),
            clock: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            last_uuid: None,
            sidechain: None,
            lines: Vec::new(),
            uuids: Vec::new(),
        }
    }

    pub fn id(mut self, id: &str) -> Self {
        self.id = id.to_owned();
        self
    }
    /// Following records carry this branch (a `git switch` during the session).
    pub fn branch(mut self, branch: &str) -> Self {
        self.branch = branch.to_owned();
        self
    }
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_owned();
        self
    }
    /// Following records carry this working folder.
    pub fn cwd(mut self, cwd: impl AsRef<Path>) -> Self {
        self.cwd = claude_path(cwd.as_ref());
        self
    }
    /// Sets the clock; each record advances it by one minute.
    pub fn at(mut self, when: &str) -> Self {
        self.clock = ts(when);
        self
    }
    /// The timestamp the next record will carry.
    pub fn clock(&self) -> DateTime<Utc> {
        self.clock
    }
    /// The timestamp of the last record written.
    pub fn last_timestamp(&self) -> DateTime<Utc> {
        self.clock - chrono::Duration::minutes(1)
    }

    fn chain(mut self, kind: &str, message: Value) -> Self {
        let uuid = new_id();
        let mut record = json!({
            "parentUuid": self.last_uuid,
            "isSidechain": self.sidechain.is_some(),
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.id,
            "version": self.version,
            "gitBranch": self.branch,
        });
        if let Some(agent) = &self.sidechain {
            record["agentId"] = json!(agent);
        }
        record["type"] = json!(kind);
        record["message"] = message;
        record["uuid"] = json!(uuid);
        record["timestamp"] = json!(self.clock.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        self.clock += chrono::Duration::minutes(1);
        self.last_uuid = Some(uuid.clone());
        self.uuids.push(uuid);
        self.lines.push(record.to_string());
        self
    }

    pub fn user(self, text: &str) -> Self {
        self.chain("user", json!({"role": "user", "content": text}))
    }
    pub fn assistant(self, text: &str) -> Self {
        let id = format!("msg_{}", &new_id()[..8]);
        self.chain(
            "assistant",
            json!({"model": "claude-sonnet-4-5", "id": id, "type": "message", "role": "assistant",
                   "content": [{"type": "text", "text": text}], "usage": {"input_tokens": 10, "output_tokens": 20}}),
        )
    }
    /// A tool result whose output is `size` bytes (big records make tails widen).
    pub fn tool_result(self, size: usize) -> Self {
        let body = "lorem ipsum \"quoted\" {json-like} ".repeat(size / 33 + 1);
        self.chain(
            "user",
            json!({"role": "user", "content": [{"tool_use_id": "toolu_01", "type": "tool_result", "content": &body[..size]}]}),
        )
    }
    /// `n` user/assistant pairs.
    pub fn turns(mut self, n: usize) -> Self {
        for i in 0..n {
            self = self
                .user(&format!("question {i}"))
                .assistant(&format!("answer {i}"));
        }
        self
    }
    /// A `system` record (e.g. `compact_boundary`, with a null parent).
    pub fn compact_boundary(mut self) -> Self {
        self.last_uuid = None;
        self.chain("system", json!(null))
    }

    /// A metadata record without chain fields (`summary`, `last-prompt`, ...).
    pub fn metadata(mut self, kind: &str) -> Self {
        let leaf = self.last_uuid.clone();
        let record = match kind {
            "summary" => {
                json!({"type": "summary", "summary": "Work on the parser", "leafUuid": leaf})
            }
            "last-prompt" => json!({"type": "last-prompt", "leafUuid": leaf}),
            "file-history-snapshot" => json!({"type": "file-history-snapshot", "messageId": leaf,
                "snapshot": {"messageId": leaf, "trackedFileBackups": {}, "timestamp": "2030-01-01T00:00:00.000Z"}, "isSnapshotUpdate": false}),
            other => json!({"type": other}),
        };
        self.lines.push(record.to_string());
        self
    }
    /// The usual tail of a 2.1.x session: records without `gitBranch` or top-level `timestamp`.
    pub fn trailing_metadata(self) -> Self {
        self.metadata("summary")
            .metadata("last-prompt")
            .metadata("file-history-snapshot")
    }
    /// Any raw line, verbatim.
    pub fn raw(mut self, line: &str) -> Self {
        self.lines.push(line.to_owned());
        self
    }
    /// Joins the last two lines into one (`}{`), as an older CLI does when the file lacked its
    /// final newline.
    pub fn glue_last_two(mut self) -> Self {
        let last = self.lines.pop().expect("two lines");
        self.lines.last_mut().expect("two lines").push_str(&last);
        self
    }
    /// A record cut off mid-way (crash while writing); it carries a later timestamp and another
    /// branch that must never count.
    pub fn torn_tail(mut self) -> Self {
        let full = json!({"parentUuid": self.last_uuid, "cwd": self.cwd, "sessionId": self.id,
            "gitBranch": "torn-branch", "type": "assistant", "uuid": new_id(),
            "timestamp": "2099-01-01T00:00:00.000Z", "message": {"content": "cut"}})
        .to_string();
        self.lines.push(full[..full.len() / 2].to_owned());
        self
    }
    /// Marks following records as a sidechain of `agent_id` (for agent transcripts).
    pub fn sidechain(mut self, agent_id: &str) -> Self {
        self.sidechain = Some(agent_id.to_owned());
        self
    }

    /// Number of lines written (a glued line counts once).
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// The file text. Every line ends in `\n` except a torn tail.
    pub fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        let torn = self.lines.last().is_some_and(|l| !l.ends_with('}'));
        if !self.lines.is_empty() && !torn {
            text.push('\n');
        }
        text
    }

    /// Writes `<project_dir>/<id>.jsonl` and returns its path.
    pub fn write_to(&self, project_dir: &Path) -> PathBuf {
        std::fs::create_dir_all(project_dir).unwrap();
        let path = project_dir.join(format!("{}.jsonl", self.id));
        std::fs::write(&path, self.text()).unwrap();
        path
    }

    /// Writes a 2.0.x subagent file `<project_dir>/agent-<short>.jsonl` whose records carry this
    /// session's id, timestamps after the session's, on `branch`. Returns its path.
    pub fn write_agent_2_0(&self, project_dir: &Path, short: &str, branch: &str) -> PathBuf {
        let agent = SessionBuilder::new(&self.cwd)
            .id(&self.id)
            .version("2.0.77")
            .branch(branch)
            .sidechain(short)
            .at("2030-06-01T00:00:00Z")
            .turns(2);
        let path = project_dir.join(format!("agent-{short}.jsonl"));
        std::fs::create_dir_all(project_dir).unwrap();
        std::fs::write(&path, agent.text()).unwrap();
        path
    }

    /// Writes a 2.1.x side folder: `<id>/subagents/agent-<short>.jsonl` (+ `.meta.json`) and a
    /// `tool-results` file. Returns the paths relative to `project_dir`.
    pub fn write_side_folder_2_1(&self, project_dir: &Path, short: &str) -> Vec<PathBuf> {
        let agent = SessionBuilder::new(&self.cwd)
            .id(&self.id)
            .sidechain(short)
            .turns(1);
        let base = project_dir.join(&self.id);
        std::fs::create_dir_all(base.join("subagents")).unwrap();
        std::fs::create_dir_all(base.join("tool-results")).unwrap();
        let rel = [
            PathBuf::from(&self.id)
                .join("subagents")
                .join(format!("agent-{short}.jsonl")),
            PathBuf::from(&self.id)
                .join("subagents")
                .join(format!("agent-{short}.meta.json")),
            PathBuf::from(&self.id)
                .join("tool-results")
                .join("toolu_01.txt"),
        ];
        std::fs::write(project_dir.join(&rel[0]), agent.text()).unwrap();
        std::fs::write(
            project_dir.join(&rel[1]),
            "{\"agentType\":\"general-purpose\"}",
        )
        .unwrap();
        std::fs::write(project_dir.join(&rel[2]), "big output\n").unwrap();
        rel.to_vec()
    }
}

/// Sets a file's modification time `days_ago` days in the past (to scramble mtimes).
pub fn set_mtime_days_ago(path: &Path, days_ago: u64) {
    let when = SystemTime::now() - Duration::from_secs(days_ago * 86_400);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// Reference facts of a session file computed the slow, obvious way (whole file, every object):
/// (last gitBranch, last timestamp, number of objects).
pub fn reference_facts(path: &Path) -> (Option<String>, Option<DateTime<Utc>>, u64) {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let (mut branch, mut last, mut count) = (None, None, 0);
    for line in text.split('\n') {
        for value in serde_json::Deserializer::from_str(line).into_iter::<Value>() {
            let Ok(value) = value else { break };
            if !value.is_object() {
                break;
            }
            count += 1;
            if let Some(b) = value
                .get("gitBranch")
                .and_then(Value::as_str)
                .filter(|b| !b.is_empty())
            {
                branch = Some(b.to_owned());
            }
            if let Some(t) = value.get("timestamp").and_then(Value::as_str) {
                if let Ok(t) = DateTime::parse_from_rfc3339(t) {
                    last = Some(t.with_timezone(&Utc));
                }
            }
        }
    }
    (branch, last, count)
}

//! Output injection through the `ccsync` binary: metadata fields and branch names shaped by an
//! attacker (newlines, `::` workflow commands, ESC/OSC sequences, CR, backticks, `|`, HTML) never
//! reach a terminal, an Actions log, `$GITHUB_OUTPUT`/`$GITHUB_ENV`, the step summary or the
//! release body raw; `--json` stays exact JSON. Nothing outside the requested session changes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use fake_github::{FakeGitHub, Options};
use serde_json::Value;
use support::hostile::{assert_code, metadata_for, plant, stderr, tar_gz, Machine};
use support::sessions::{claude_path, SessionBuilder};
use support::TOKEN;

/// Everything at once: fake lines, workflow commands, a mask that would hide output, a terminal
/// hyperlink and screen clear, a carriage return, Markdown and HTML, a pre-escaped line break,
/// a mention.
const PAYLOAD: &str = "evil\n::set-output name=pwned::1\n::add-mask::leak\r\u{1b}]8;;http://x\u{7}\u{1b}[2J\u{9b}31m|`<b>x</b>`|%0A::error::y @someone\u{202e}";

/// Every string field of the metadata that ccsync might print.
const FIELDS: &[&[&str]] = &[
    &["gitBranch"],
    &["repository"],
    &["commit"],
    &["cwd"],
    &["repoRoot"],
    &["claudeProjectDir"],
    &["claudeDir"],
    &["claudeTempDir"],
    &["lastTimestamp"],
    &["lastUuid"],
    &["claudeVersion"],
    &["pushedFrom", "host"],
    &["pushedFrom", "os"],
    &["tool", "name"],
    &["tool", "version"],
];

/// Files a GitHub Actions step writes to, and the environment that points ccsync at them.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Self {
        Runner {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_default()
    }

    fn env(&self, workspace: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_REPOSITORY", "octo/app".into()),
            ("GITHUB_EVENT_NAME", "push".into()),
            ("GITHUB_REF_NAME", "main".into()),
            ("GITHUB_WORKSPACE", workspace.display().to_string()),
            ("GITHUB_OUTPUT", self.file("output").display().to_string()),
            ("GITHUB_ENV", self.file("env").display().to_string()),
            (
                "GITHUB_STEP_SUMMARY",
                self.file("summary").display().to_string(),
            ),
        ]
    }
}

fn run(machine: &Machine, args: &[&str], envs: &[(&str, String)]) -> Output {
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    machine.run(args, &envs)
}

/// No terminal control reaches the stream, and (in Actions) every line the runner would read as
/// a workflow command is one ccsync meant to write.
fn assert_inert(what: &str, text: &str) {
    for bad in ['\u{1b}', '\r', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(
            !text.contains(bad),
            "{what}: raw {bad:?} in output:\n{text}"
        );
    }
    for line in text.lines() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with("::") {
            continue;
        }
        let allowed = [
            "::notice",
            "::warning",
            "::error",
            "::group::",
            "::endgroup::",
        ]
        .iter()
        .any(|p| trimmed.starts_with(p))
            || trimmed == format!("::add-mask::{TOKEN}");
        assert!(allowed, "{what}: a workflow command from data: {line:?}");
        // Annotation data may hold ccsync's own line breaks (%0A), never a carriage return.
        assert!(!trimmed.contains("%0D"), "{what}: a CR from data: {line:?}");
    }
}

/// The keys of a `$GITHUB_OUTPUT`/`$GITHUB_ENV` file, read as the runner reads it.
fn file_command_keys(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let (eq, heredoc) = (line.find('='), line.find("<<"));
        match (eq, heredoc) {
            (Some(eq), h) if h.is_none_or(|h| eq < h) => keys.push(line[..eq].to_owned()),
            (_, Some(h)) => {
                keys.push(line[..h].to_owned());
                let delimiter = &line[h + 2..];
                loop {
                    let next = lines.next().expect("heredoc closed");
                    if next == delimiter {
                        break;
                    }
                }
            }
            _ => panic!("a malformed line: {line:?}"),
        }
    }
    keys
}

/// `|` characters that separate table cells (not escaped by a backslash).
fn cell_separators(line: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in line.chars() {
        if c == '|' && !escaped {
            count += 1;
        }
        escaped = !escaped && c == '\\';
    }
    count
}

/// Every Markdown table keeps its shape: each row has as many cells as its header. No raw
/// control character, no raw HTML from data.
fn assert_markdown_safe(what: &str, md: &str) {
    for bad in ['\u{1b}', '\r', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!md.contains(bad), "{what}: raw {bad:?} in:\n{md}");
    }
    assert!(!md.contains("<b>"), "{what}: raw HTML in:\n{md}");
    let mut header: Option<usize> = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let cells = cell_separators(line);
        match header {
            None => header = Some(cells),
            Some(h) => assert_eq!(cells, h, "{what}: a broken table row {line:?} in:\n{md}"),
        }
    }
}

#[test]
fn injection_through_every_metadata_field_stays_inert() {
    let fake = FakeGitHub::start(Options::default());
    let ci = Machine::new(&fake, "runner/app");
    let cwd = claude_path(&ci.env.repo);
    let session = SessionBuilder::new(&ci.env.repo).turns(2);
    let file = format!("{}.jsonl", session.id);
    let (archive, unpacked) = tar_gz(&[(file.as_str(), session.text().into_bytes())]);
    let mut meta = metadata_for(&session, &archive, unpacked, &cwd);
    for path in FIELDS {
        let mut slot = &mut meta;
        for key in *path {
            slot = &mut slot[*key];
        }
        *slot = Value::from(PAYLOAD);
    }
    plant(&fake, "main", &session.id, &archive, &meta);

    // A bystander session of the same project must stay as it is.
    let other = SessionBuilder::new(&ci.env.repo).turns(1);
    other.write_to(&ci.project_dir());

    // Restore in Actions: log, outputs, environment and summary.
    let runner = Runner::new();
    let before_other = std::fs::read(ci.project_dir().join(format!("{}.jsonl", other.id))).unwrap();
    let output = run(&ci, &["release-restore", "-v"], &runner.env(&ci.env.repo));
    assert_code(&output, 0);
    assert_inert("restore in Actions (stderr)", &stderr(&output));
    assert_inert(
        "restore in Actions (stdout)",
        &String::from_utf8_lossy(&output.stdout),
    );
    let mut outputs = file_command_keys(&runner.read("output"));
    outputs.sort();
    assert_eq!(
        outputs,
        ["release-url", "restored", "session-file", "session-id"]
    );
    let mut env = file_command_keys(&runner.read("env"));
    env.sort();
    assert_eq!(env, ["SESSION_ID", "SESSION_RESTORED"]);
    assert_markdown_safe("restore summary", &runner.read("summary"));
    assert!(ci.project_dir().join(&file).is_file());
    assert_eq!(
        std::fs::read(ci.project_dir().join(format!("{}.jsonl", other.id))).unwrap(),
        before_other
    );

    // On a terminal-less laptop and in Actions, the list shows the fields escaped.
    let laptop = Machine::new(&fake, "src/app");
    let list = laptop.run(&["release-list"], &[]);
    assert_code(&list, 0);
    let table = String::from_utf8_lossy(&list.stdout).into_owned();
    assert_inert("release-list", &table);
    assert_inert("release-list (stderr)", &stderr(&list));
    assert!(
        table.contains("evil\\n::set-output"),
        "escaped, not dropped:\n{table}"
    );
    assert_eq!(table.lines().count(), 2, "one header, one row:\n{table}");
    let list = run(
        &laptop,
        &["release-list"],
        &Runner::new().env(&laptop.env.repo),
    );
    assert_inert(
        "release-list in Actions",
        &String::from_utf8_lossy(&list.stdout),
    );
    assert_inert("release-list in Actions (stderr)", &stderr(&list));

    // --json is exact: the payload comes back byte for byte.
    let json = laptop.run(&["release-list", "--json"], &[]);
    assert_code(&json, 0);
    let doc: Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    let listed = &doc["sessions"][0];
    assert_eq!(listed["pushedFrom"]["host"], PAYLOAD);
    assert_eq!(listed["lastActivity"], PAYLOAD);
    assert_eq!(listed["commit"], PAYLOAD);

    // A push into the same release renders its body from every stored session's metadata.
    let mine = SessionBuilder::new(&laptop.env.repo).turns(1);
    mine.write_to(&laptop.project_dir());
    let push = run(
        &laptop,
        &["release-push"],
        &Runner::new().env(&laptop.env.repo),
    );
    assert_code(&push, 0);
    assert_inert("push in Actions", &stderr(&push));
    let body = fake.releases("octo", "app")[0]
        .body
        .clone()
        .unwrap_or_default();
    assert!(body.contains(&session.id), "{body}");
    assert_markdown_safe("release body", &body);
}

#[test]
fn injection_through_branch_names_stays_inert() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new(&fake, "src/app");
    // Characters git allows in a branch name.
    let branch = "feat/`tick`|pipe<b>x</b>@someone";
    let session = SessionBuilder::new(&laptop.env.repo)
        .branch(branch)
        .turns(2);
    session.write_to(&laptop.project_dir());
    let push = run(
        &laptop,
        &["release-push", "--branch", branch],
        &Runner::new().env(&laptop.env.repo),
    );
    assert_code(&push, 0);
    let release = &fake.releases("octo", "app")[0];
    let body = release.body.clone().unwrap_or_default();
    assert!(
        body.contains("``feat/`tick`|pipe<b>x</b>@someone``"),
        "the branch as a code span with a longer fence:\n{body}"
    );
    let table: String = body
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_markdown_safe("release body table", &table);

    // The head branch of a pull request reaches the restore's summary as a table cell.
    let ci = Machine::new(&fake, "runner/app");
    let runner = Runner::new();
    let mut env = runner.env(&ci.env.repo);
    env.push(("GITHUB_EVENT_NAME", "pull_request".into()));
    env.push(("GITHUB_HEAD_REF", branch.into()));
    env.retain(|(k, v)| *k != "GITHUB_EVENT_NAME" || v == "pull_request");
    let output = run(&ci, &["release-restore"], &env);
    assert_code(&output, 0);
    assert_inert("restore of a hostile branch", &stderr(&output));
    assert_markdown_safe("restore summary", &runner.read("summary"));
    assert!(ci
        .project_dir()
        .join(format!("{}.jsonl", session.id))
        .is_file());

    // Names no git allows, from a hand-set variable: still inert everywhere.
    for hostile in [
        "x\n::set-output name=pwned::1",
        "y\r\u{1b}]0;pwned\u{7}\u{1b}[2J",
        "::stop-commands::pwned",
        "z`|`\n| forged | row |",
    ] {
        let runner = Runner::new();
        let ci = Machine::new(&fake, "runner/app");
        let before = ci.snapshot();
        let output = run(
            &ci,
            &["release-restore", "--branch", hostile],
            &runner.env(&ci.env.repo),
        );
        assert_inert(hostile, &stderr(&output));
        assert_inert(hostile, &String::from_utf8_lossy(&output.stdout));
        for name in ["output", "env"] {
            for key in file_command_keys(&runner.read(name)) {
                assert!(
                    [
                        "SESSION_ID",
                        "SESSION_RESTORED",
                        "session-id",
                        "restored",
                        "session-file",
                        "release-url"
                    ]
                    .contains(&key.as_str()),
                    "{hostile:?}: injected {key:?}"
                );
            }
        }
        assert_markdown_safe(hostile, &runner.read("summary"));
        assert_eq!(ci.snapshot(), before, "{hostile:?}: nothing installed");
        let list = laptop.run(&["release-list", "--branch", hostile], &[]);
        assert_inert(hostile, &stderr(&list));
        assert_inert(hostile, &String::from_utf8_lossy(&list.stdout));
    }
}

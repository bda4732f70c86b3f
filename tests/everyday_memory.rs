//! Project memory travels with sessions (`memory/**` of the project folder): what one side
//! changed comes in on the other, and a local memory file changed since it was last synced is
//! never overwritten without a backup and a message. Restored files are dated now and, unless a
//! path in them is mapped, byte-identical to what was pushed.

mod everyday_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use everyday_support::{assert_code, stderr, Laptop};
use support::sessions::{project_folder, SessionBuilder};
use support::{TestEnv, TOKEN};

/// A second machine (CI) on the same fake GitHub.
struct Ci {
    env: TestEnv,
    api_url: String,
}

impl Ci {
    fn new(laptop: &Laptop) -> Ci {
        Ci {
            env: TestEnv::with_repo_path("home/runner/work/app/app"),
            api_url: laptop.fake.api_url(),
        }
    }
    fn project_dir(&self) -> PathBuf {
        project_folder(&self.env.claude_dir, &self.env.repo)
    }
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.env.ccsync();
        cmd.args(args)
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("CCSYNC_RETRY_BASE_MS", "1");
        everyday_support::run(cmd)
    }
    /// Continues session `id` (a turn appended) so that its release copy moves ahead.
    fn continue_session(&self, id: &str) {
        let file = self.project_dir().join(format!("{id}.jsonl"));
        let more = SessionBuilder::new(&self.env.repo)
            .id(id)
            .branch("HEAD")
            .at("2026-06-01T00:00:00Z")
            .turns(1);
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str(&more.text());
        std::fs::write(&file, text).unwrap();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Laptop: a session with memory, pushed. CI: restored. Returns the session.
fn pushed_with_memory(laptop: &Laptop, ci: &Ci) -> SessionBuilder {
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    write(
        &laptop.project_dir().join("memory/MEMORY.md"),
        "# Memory\n- laptop fact\n",
    );
    write(
        &laptop.project_dir().join("memory/topics/build.md"),
        "build with make\n",
    );
    laptop.push("main", &session.id);
    assert_code(&ci.run(&["release-restore", "--branch", "main"]), 0);
    session
}

/// The entries of `dir` whose names start with `prefix`.
fn entries_starting_with(dir: &std::path::Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect()
}

#[test]
fn memory_travels_both_ways() {
    let laptop = Laptop::new();
    let ci = Ci::new(&laptop);
    let session = pushed_with_memory(&laptop, &ci);
    assert_eq!(
        read(&ci.project_dir().join("memory/MEMORY.md")),
        "# Memory\n- laptop fact\n"
    );
    assert_eq!(
        read(&ci.project_dir().join("memory/topics/build.md")),
        "build with make\n"
    );

    // CI learns something; it comes home (the laptop did not touch the file since its push).
    ci.continue_session(&session.id);
    write(
        &ci.project_dir().join("memory/MEMORY.md"),
        "# Memory\n- laptop fact\n- ci fact\n",
    );
    assert_code(
        &ci.run(&["release-push", "--session", &session.id, "--branch", "main"]),
        0,
    );
    let output = laptop.run(&["release-restore", "--branch", "main"]);
    assert_code(&output, 0);
    assert_eq!(
        read(&laptop.project_dir().join("memory/MEMORY.md")),
        "# Memory\n- laptop fact\n- ci fact\n"
    );
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));
}

#[test]
fn a_memory_file_changed_on_both_sides_is_backed_up_before_it_is_replaced() {
    let laptop = Laptop::new();
    let ci = Ci::new(&laptop);
    let session = pushed_with_memory(&laptop, &ci);
    ci.continue_session(&session.id);
    write(&ci.project_dir().join("memory/MEMORY.md"), "ci version\n");
    write(
        &ci.project_dir().join("memory/topics/build.md"),
        "build with cargo\n",
    );
    assert_code(
        &ci.run(&["release-push", "--session", &session.id, "--branch", "main"]),
        0,
    );

    // Meanwhile the laptop edited MEMORY.md (not build.md).
    let memory = laptop.project_dir().join("memory/MEMORY.md");
    write(&memory, "laptop version\n");
    let output = laptop.run(&["release-restore", "--branch", "main"]);
    assert_code(&output, 0);
    let err = stderr(&output);
    assert_eq!(read(&memory), "ci version\n");
    let backups: Vec<PathBuf> =
        entries_starting_with(&laptop.project_dir(), "memory.ccsync-backup-");
    assert_eq!(backups.len(), 1, "{err}");
    assert_eq!(read(&backups[0].join("MEMORY.md")), "laptop version\n");
    assert!(
        err.contains("warning") && err.contains(&backups[0].display().to_string()),
        "{err}"
    );
    // The file only CI changed came in without a word.
    assert_eq!(
        read(&laptop.project_dir().join("memory/topics/build.md")),
        "build with cargo\n"
    );
    // The backup is not memory: the next push does not carry it.
    assert_code(&laptop.run(&["release-push", "--session", &session.id]), 0);
    assert_code(
        &ci.run(&["release-restore", "--branch", "main", "--force"]),
        0,
    );
    assert!(!ci.project_dir().read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("ccsync-backup")));
}

#[test]
fn a_memory_file_only_this_side_changed_is_kept() {
    let laptop = Laptop::new();
    let ci = Ci::new(&laptop);
    let session = pushed_with_memory(&laptop, &ci);
    ci.continue_session(&session.id);
    assert_code(
        &ci.run(&["release-push", "--session", &session.id, "--branch", "main"]),
        0,
    );
    let memory = laptop.project_dir().join("memory/MEMORY.md");
    write(&memory, "edited on the laptop after the push\n");
    let output = laptop.run(&["release-restore", "--branch", "main"]);
    assert_code(&output, 0);
    assert_eq!(read(&memory), "edited on the laptop after the push\n");
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));
}

#[test]
fn a_memory_file_never_synced_here_is_kept_and_the_stored_one_saved_beside() {
    let laptop = Laptop::new();
    let ci = Ci::new(&laptop);
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    write(
        &laptop.project_dir().join("memory/MEMORY.md"),
        "laptop notes\n",
    );
    laptop.push("main", &session.id);
    // CI had its own memory before it ever restored.
    let memory = ci.project_dir().join("memory/MEMORY.md");
    write(&memory, "ci's own notes\n");
    let output = ci.run(&["release-restore", "--branch", "main"]);
    assert_code(&output, 0);
    assert_eq!(read(&memory), "ci's own notes\n");
    let err = stderr(&output);
    assert!(err.contains("kept your local"), "{err}");
    let saved: Vec<PathBuf> = entries_starting_with(&ci.project_dir(), "memory.ccsync-incoming-");
    assert_eq!(saved.len(), 1, "{err}");
    assert_eq!(read(&saved[0].join("MEMORY.md")), "laptop notes\n");
}

#[test]
fn restored_files_are_dated_now_and_side_files_stay_byte_identical() {
    let laptop = Laptop::new();
    let ci = Ci::new(&laptop);
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    let project = laptop.project_dir();
    // A 2.1.x side folder with a meta.json that has no final newline and no path to map.
    let meta = project.join(format!("{}/subagents/agent-a1.meta.json", session.id));
    write(&meta, r#"{"agentType":"general-purpose"}"#);
    let result = project.join(format!("{}/tool-results/t1.txt", session.id));
    write(&result, "plain output\nno newline at the end");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 24 * 3600);
    for file in [&meta, &result] {
        std::fs::File::options()
            .write(true)
            .open(file)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    laptop.push("main", &session.id);

    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
    assert_code(&ci.run(&["release-restore", "--branch", "main"]), 0);
    let ci_project = ci.project_dir();
    for (rel, original) in [
        (
            format!("{}/subagents/agent-a1.meta.json", session.id),
            &meta,
        ),
        (format!("{}/tool-results/t1.txt", session.id), &result),
        (
            format!("{}.jsonl", session.id),
            &project.join(format!("{}.jsonl", session.id)),
        ),
    ] {
        let restored = ci_project.join(&rel);
        let modified = std::fs::metadata(&restored).unwrap().modified().unwrap();
        assert!(
            modified >= before,
            "{rel} is dated {modified:?}, before the restore"
        );
        if !rel.ends_with(".jsonl") {
            assert_eq!(
                std::fs::read(&restored).unwrap(),
                std::fs::read(original).unwrap(),
                "{rel} changed"
            );
        }
    }
}

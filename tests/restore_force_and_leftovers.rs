//! What a forced restore saves, and what killed runs leave behind, through the `ccsync` binary:
//! - `release-restore --force` over a diverged copy saves every local file of the session it
//!   replaces that differs (the `.jsonl` and side files), says where, and leaves local-only files;
//!   with `--keep-local-as-new` it also keeps the local copy as a session of its own;
//! - the temporary folders of a restore or an encrypted push killed mid-request (plaintext session
//!   copies) are removed by the next run, and a live run's folder is never touched.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_github::{FakeGitHub, Fault, FaultKind, Host, Options};
use serde_json::Value;
use support::machine::{assert_ok, text, uuids, Machine};
use support::sessions::SessionBuilder;

fn append(path: &Path, more: &str) {
    let mut text = std::fs::read_to_string(path).unwrap();
    text.push_str(more);
    std::fs::write(path, text).unwrap();
}

/// Every file below `dir`, relative to it.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_forced_restore_saves_every_local_file_it_replaces_that_differs() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let session = SessionBuilder::new(&laptop.env.repo).turns(3);
    session.write_to(&laptop.project_dir());
    let side = session.write_side_folder_2_1(&laptop.project_dir(), "a1b2");
    let (subagent, tool_result) = (&side[0], &side[2]);
    assert_ok(&laptop.ccsync(&fake, &["release-push"]));

    // CI continues the session and its subagent, and pushes.
    let ci = Machine::new();
    assert_ok(&ci.ccsync(&fake, &["release-restore"]));
    let more = |turns, at| {
        SessionBuilder::new(&ci.env.repo)
            .id(&session.id)
            .at(at)
            .turns(turns)
            .text()
    };
    append(
        &ci.session_file(&session.id),
        &more(2, "2026-02-01T00:00:00Z"),
    );
    append(
        &ci.project_dir().join(subagent),
        &more(1, "2026-02-01T01:00:00Z"),
    );
    assert_ok(&ci.ccsync(&fake, &["release-push"]));

    // The laptop continued differently: the session and the same subagent diverged; one side
    // file is the same on both; one exists only here.
    let project = laptop.project_dir();
    append(
        &laptop.session_file(&session.id),
        &more(1, "2026-03-01T00:00:00Z"),
    );
    append(&project.join(subagent), &more(1, "2026-03-01T01:00:00Z"));
    let local_only = PathBuf::from(&session.id).join("subagents/agent-local.jsonl");
    std::fs::write(project.join(&local_only), more(1, "2026-03-02T00:00:00Z")).unwrap();
    let laptop_session = std::fs::read(laptop.session_file(&session.id)).unwrap();
    let laptop_subagent = std::fs::read(project.join(subagent)).unwrap();
    let local_only_bytes = std::fs::read(project.join(&local_only)).unwrap();

    let refused = laptop.ccsync(&fake, &["release-restore"]);
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused));

    let forced = laptop.ccsync(&fake, &["release-restore", "--force", "--json"]);
    assert_ok(&forced);
    let out: Value = serde_json::from_slice(&forced.stdout).unwrap();
    let backup = PathBuf::from(out["backup"].as_str().expect("backup path"));
    assert_eq!(std::fs::read(&backup).unwrap(), laptop_session);
    let folder = PathBuf::from(out["sideBackup"].as_str().expect("side backup folder"));
    assert!(folder.starts_with(&project), "{}", folder.display());
    assert!(
        !folder.starts_with(project.join(&session.id)),
        "backups outside the session's side folder, so a push does not carry them"
    );
    // The side files that differed are saved at their relative paths; the same one is not.
    let saved = files_below(&folder);
    assert!(saved.contains(subagent), "{saved:?}");
    assert!(
        !saved.contains(tool_result) && !saved.contains(&local_only),
        "{saved:?}"
    );
    assert_eq!(
        std::fs::read(folder.join(subagent)).unwrap(),
        laptop_subagent
    );
    let said = String::from_utf8_lossy(&forced.stderr);
    assert!(
        said.contains(&folder.display().to_string()),
        "says where: {said}"
    );
    assert!(
        said.contains(&backup.display().to_string()),
        "says where: {said}"
    );

    // Installed: CI's versions (paths mapped to this machine); the local-only file stays.
    assert_eq!(
        uuids(&project.join(subagent)),
        uuids(&ci.project_dir().join(subagent))
    );
    assert_eq!(
        uuids(&laptop.session_file(&session.id)),
        uuids(&ci.session_file(&session.id))
    );
    assert_eq!(
        std::fs::read_to_string(project.join(tool_result)).unwrap(),
        "big output\n"
    );
    assert_eq!(
        std::fs::read(project.join(&local_only)).unwrap(),
        local_only_bytes
    );
}

/// Folders of ccsync runs in a directory.
fn run_folders(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".ccsync-") || n.starts_with("ccsync-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_restore_killed_mid_download_leaves_folders_the_next_run_removes() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let session = SessionBuilder::new(&laptop.env.repo).turns(2);
    session.write_to(&laptop.project_dir());
    assert_ok(&laptop.ccsync(&fake, &["release-push"]));

    let other = Machine::new();
    let projects = other.env.claude_dir.join("projects");
    // A live run's folder (its lock held, here by the test) must survive every sweep.
    std::fs::create_dir_all(&projects).unwrap();
    let live = projects.join(".ccsync-run-live");
    std::fs::create_dir(&live).unwrap();
    let lock = std::fs::File::create(live.join(".lock")).unwrap();
    lock.lock().unwrap();

    // The archive download (the second on the storage host, after the metadata) hangs; the
    // restore is killed there.
    fake.add_fault(
        Fault::new("GET", "/github-production-release-asset/*", FaultKind::Hang)
            .on(Host::Storage)
            .after(1),
    );
    let mut child = other
        .command(&fake, &["release-restore"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(fake.wait_for_hung(1, Duration::from_secs(60)));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !run_folders(&other.tmp).is_empty(),
        "the killed run had a temp folder"
    );
    assert!(
        run_folders(&projects).len() >= 2,
        "{:?}",
        run_folders(&projects)
    );

    fake.clear_faults();
    assert_ok(&other.ccsync(&fake, &["release-restore"]));
    assert!(other.session_file(&session.id).is_file());
    assert_eq!(run_folders(&other.tmp), Vec::<String>::new());
    assert_eq!(run_folders(&projects), vec![".ccsync-run-live".to_owned()]);
    drop(lock);
}

/// A laptop's encrypted `release-push` of a new session, running, held by the fake at its
/// upload: its run folder holds the packed archive.
fn encrypted_push_hanging_at_its_upload() -> (FakeGitHub, Machine, std::process::Child) {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    SessionBuilder::new(&laptop.env.repo)
        .turns(2)
        .write_to(&laptop.project_dir());
    fake.add_fault(
        Fault::new("POST", "/repos/*/releases/*/assets", FaultKind::Hang).on(Host::Uploads),
    );
    let child = laptop
        .command(&fake, &["release-push"])
        .env("CCSYNC_PASSPHRASE", "correct horse battery staple")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(fake.wait_for_hung(1, Duration::from_secs(60)));
    (fake, laptop, child)
}

#[test]
fn the_run_folder_of_a_killed_encrypted_push_is_removed_by_the_next_run() {
    let (fake, laptop, mut child) = encrypted_push_hanging_at_its_upload();
    child.kill().unwrap();
    child.wait().unwrap();
    let left: Vec<PathBuf> = run_folders(&laptop.tmp)
        .iter()
        .flat_map(|d| {
            files_below(&laptop.tmp.join(d))
                .into_iter()
                .map(move |f| PathBuf::from(d).join(f))
        })
        .collect();
    // Packing (plaintext, then encrypted) happens in the run folder; the killed push left it.
    assert!(
        left.iter()
            .any(|f| f.to_string_lossy().ends_with(".tar.gz.age")),
        "the killed push held its archive: {left:?}"
    );

    fake.clear_faults();
    let push = laptop
        .command(&fake, &["release-push"])
        .env("CCSYNC_PASSPHRASE", "correct horse battery staple")
        .output()
        .unwrap();
    assert_ok(&push);
    assert_eq!(run_folders(&laptop.tmp), Vec::<String>::new());
}

#[test]
fn an_interrupted_push_removes_its_temporary_folder_before_it_exits() {
    // The fake stays up while the push hangs on it.
    let (_fake, laptop, child) = encrypted_push_hanging_at_its_upload();
    assert!(!run_folders(&laptop.tmp).is_empty());
    // Ctrl-C (SIGINT), as a terminal sends it.
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    assert_eq!(run_folders(&laptop.tmp), Vec::<String>::new());
}

/// `release-restore --force --keep-local-as-new` keeps the diverged local copy as a session of its
/// own: a new uuid v4, `<new>.jsonl` with the same records and every `sessionId` of the old session
/// now the new id, and the side folder copied as `<new>/`, so `claude --resume <new>` finds it.
#[test]
fn keep_local_as_new_keeps_the_diverged_copy_as_a_session_of_its_own() {
    let fake = FakeGitHub::start(Options::default());
    let laptop = Machine::new();
    let session = SessionBuilder::new(&laptop.env.repo).turns(3);
    session.write_to(&laptop.project_dir());
    let side = session.write_side_folder_2_1(&laptop.project_dir(), "a1b2");
    assert_ok(&laptop.ccsync(&fake, &["release-push"]));
    let ci = Machine::new();
    assert_ok(&ci.ccsync(&fake, &["release-restore"]));
    let more = |at| {
        SessionBuilder::new(&ci.env.repo)
            .id(&session.id)
            .at(at)
            .turns(1)
            .text()
    };
    append(&ci.session_file(&session.id), &more("2026-02-01T00:00:00Z"));
    assert_ok(&ci.ccsync(&fake, &["release-push"]));
    let project = laptop.project_dir();
    append(
        &laptop.session_file(&session.id),
        &more("2026-03-01T00:00:00Z"),
    );
    append(&project.join(&side[0]), &more("2026-03-01T01:00:00Z"));
    let local_records = uuids(&laptop.session_file(&session.id));
    let local_side = files_below(&project.join(&session.id));
    let local_subagent = uuids(&project.join(&side[0]));

    let without_force = laptop.ccsync(&fake, &["release-restore", "--keep-local-as-new"]);
    assert_eq!(
        without_force.status.code(),
        Some(2),
        "{}",
        text(&without_force)
    );

    let args = [
        "release-restore",
        "--force",
        "--keep-local-as-new",
        "--json",
    ];
    let forced = laptop.ccsync(&fake, &args);
    assert_ok(&forced);
    let out: Value = serde_json::from_slice(&forced.stdout).unwrap();
    let new = out["keptAsSession"]
        .as_str()
        .expect("the new id")
        .to_owned();
    let parsed = uuid::Uuid::parse_str(&new).expect("a uuid");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(
        parsed.hyphenated().to_string(),
        new,
        "lower-case, hyphenated"
    );
    assert_ne!(new, session.id);
    assert!(
        String::from_utf8_lossy(&forced.stderr).contains(&new),
        "{}",
        text(&forced)
    );

    // The kept copy: the local records under the new id, every one saying so.
    let kept = project.join(format!("{new}.jsonl"));
    assert_eq!(uuids(&kept), local_records);
    for line in std::fs::read_to_string(&kept).unwrap().lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["sessionId"], new.as_str(), "{line}");
    }
    assert_eq!(files_below(&project.join(&new)), local_side);
    let kept_subagent = project
        .join(&new)
        .join(side[0].strip_prefix(&session.id).unwrap());
    assert_eq!(uuids(&kept_subagent), local_subagent);
    for line in std::fs::read_to_string(&kept_subagent).unwrap().lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["sessionId"], new.as_str(), "{line}");
    }
    // The old id now holds the stored copy.
    assert_eq!(
        uuids(&laptop.session_file(&session.id)),
        uuids(&ci.session_file(&session.id))
    );
    // Claude and ccsync see it as a session: `sessions` lists it.
    let listed = laptop.ccsync(&fake, &["sessions", "--json"]);
    assert_ok(&listed);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&new));
}

//! The facts cache of `ccsync sessions` / `discover` (src/store/cache.rs) seen from the outside:
//! a warm run answers exactly like a cold one, and any change to a file (an append, a copy with
//! a forged modification time, an in-place rewrite) makes ccsync read it again. A broken or
//! unwritable cache is never an error.
mod support;
use support::sessions as gen;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gen::{project_folder, reference_facts, SessionBuilder};
use serde_json::Value;
use support::TestEnv;

/// Changes younger than this are never served from the cache (`store::cache::RACY` is 2 s): tests
/// that expect hits wait it out once.
const PAST_RACY: Duration = Duration::from_millis(2100);

struct Run {
    json: Value,
    stderr: String,
}

/// `ccsync -v --json <args>` with the cache in `cache_dir` (and `extra` variables).
fn run(env: &TestEnv, cache_dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let mut cmd = env.ccsync();
    cmd.env("CCSYNC_CACHE_DIR", cache_dir)
        .args(["-v", "--json"])
        .args(args);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    Run {
        json: serde_json::from_slice(&out.stdout).expect("JSON on stdout"),
        stderr,
    }
}

fn sessions(env: &TestEnv, cache_dir: &Path) -> Run {
    run(env, cache_dir, &["sessions", "--all"], &[])
}

/// The one `facts-*.bin` file of a cache folder.
fn cache_file(cache_dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(cache_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("facts-")
        })
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

fn row<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["sessionId"] == id)
        .unwrap_or_else(|| panic!("{id} not listed in {list:#}"))
}

/// A store of several sessions in the repository root and a subfolder, one ending in a torn line,
/// one glued, one in a prefix-sharing sibling (never ours, but a candidate file: 9 files in all).
fn store(env: &TestEnv) -> Vec<SessionBuilder> {
    let root = &env.repo;
    std::fs::create_dir_all(root.join("src")).unwrap();
    let mut made = Vec::new();
    for i in 0..6 {
        let s = SessionBuilder::new(root)
            .branch(if i % 2 == 0 { "main" } else { "feature" })
            .at(&format!("2026-03-0{}T10:00:00Z", i + 1))
            .turns(3 + i)
            .tool_result(5000 * i)
            .trailing_metadata();
        s.write_to(&project_folder(&env.claude_dir, root));
        made.push(s);
    }
    let torn = SessionBuilder::new(root)
        .branch("main")
        .at("2026-04-01T00:00:00Z")
        .turns(2)
        .glue_last_two()
        .torn_tail();
    torn.write_to(&project_folder(&env.claude_dir, root));
    made.push(torn);
    let sub = SessionBuilder::new(root.join("src"))
        .branch("feature")
        .at("2026-04-02T00:00:00Z")
        .turns(2);
    sub.write_to(&project_folder(&env.claude_dir, &root.join("src")));
    made.push(sub);
    let sibling_root = PathBuf::from(format!("{}-old", root.display()));
    std::fs::create_dir_all(&sibling_root).unwrap();
    SessionBuilder::new(&sibling_root)
        .at("2027-01-01T00:00:00Z")
        .turns(1)
        .write_to(&project_folder(&env.claude_dir, &sibling_root));
    made
}

#[test]
fn a_warm_run_answers_like_a_cold_one_without_reading_the_files() {
    let env = TestEnv::new();
    let made = store(&env);
    let cache = env.temp.path().join("cache");
    std::thread::sleep(PAST_RACY);

    let cold = sessions(&env, &cache);
    assert!(
        cold.stderr.contains("0 file(s) unchanged, 9 read") && cold.stderr.contains("saved"),
        "{}",
        cold.stderr
    );
    let warm = sessions(&env, &cache);
    assert_eq!(warm.json, cold.json);
    assert!(
        warm.stderr
            .contains("9 file(s) unchanged, 0 read; record counts: 8 cached, 0 continued, 0 counted; not written"),
        "{}",
        warm.stderr
    );
    let uncached = run(
        &env,
        &cache,
        &["sessions", "--all"],
        &[("CCSYNC_NO_CACHE", "1")],
    );
    assert_eq!(uncached.json, cold.json);

    // The answers are the files' own (not merely self-consistent).
    assert_eq!(cold.json.as_array().unwrap().len(), made.len());
    for s in &made {
        let path = PathBuf::from(row(&cold.json, &s.id)["path"].as_str().unwrap());
        let (branch, _, records) = reference_facts(&path);
        let r = row(&warm.json, &s.id);
        assert_eq!(r["branch"].as_str(), branch.as_deref());
        assert_eq!(r["records"].as_u64(), Some(records));
    }

    for branch in ["main", "feature"] {
        let cold_discover = run(
            &env,
            &cache,
            &["discover", "--branch", branch],
            &[("CCSYNC_NO_CACHE", "1")],
        );
        let warm_discover = run(&env, &cache, &["discover", "--branch", branch], &[]);
        assert_eq!(warm_discover.json, cold_discover.json);
        assert!(
            warm_discover.stderr.contains("9 file(s) unchanged, 0 read"),
            "{}",
            warm_discover.stderr
        );
    }
}

#[test]
fn an_appended_file_is_read_again_and_its_count_continued() {
    let env = TestEnv::new();
    let made = store(&env);
    let cache = env.temp.path().join("cache");
    std::thread::sleep(PAST_RACY);
    sessions(&env, &cache);

    // `claude --resume` on another branch: new records at the end, newest of all.
    let target = &made[0];
    let path = project_folder(&env.claude_dir, &env.repo).join(format!("{}.jsonl", target.id));
    let more = SessionBuilder::new(&env.repo)
        .id(&target.id)
        .branch("resumed")
        .at("2026-05-01T00:00:00Z")
        .turns(2);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(more.text().as_bytes())
        .unwrap();

    let found = run(&env, &cache, &["discover", "--branch", "resumed"], &[]);
    assert_eq!(found.json["sessionId"], target.id.as_str());
    assert!(
        found.stderr.contains("8 file(s) unchanged, 1 read"),
        "{}",
        found.stderr
    );

    let listed = sessions(&env, &cache);
    let (branch, _, records) = reference_facts(&path);
    assert_eq!(branch.as_deref(), Some("resumed"));
    let r = row(&listed.json, &target.id);
    assert_eq!(r["branch"], "resumed");
    assert_eq!(r["records"].as_u64(), Some(records));
    assert_eq!(
        r["size"].as_u64(),
        Some(std::fs::metadata(&path).unwrap().len())
    );
    assert!(
        listed.stderr.contains("7 cached, 1 continued, 0 counted"),
        "{}",
        listed.stderr
    );

    // A torn last line ended by a later append (and more records): the count continues from the
    // last complete line, so it still matches a count of the whole file.
    let torn = &made[6];
    let torn_path = project_folder(&env.claude_dir, &env.repo).join(format!("{}.jsonl", torn.id));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&torn_path)
        .unwrap();
    file.write_all(b"\n").unwrap();
    file.write_all(more.text().as_bytes()).unwrap();
    drop(file);
    let listed = sessions(&env, &cache);
    let (_, _, records) = reference_facts(&torn_path);
    assert_eq!(
        row(&listed.json, &torn.id)["records"].as_u64(),
        Some(records)
    );
    let uncached = run(
        &env,
        &cache,
        &["sessions", "--all"],
        &[("CCSYNC_NO_CACHE", "1")],
    );
    assert_eq!(listed.json, uncached.json);
}

/// The same bytes with `from` replaced by `to` (of the same length).
#[cfg(unix)]
fn same_size_edit(path: &Path, from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from));
    text.replace(from, to).into_bytes()
}

/// Unix only: elsewhere std offers neither inode nor ctime, the key is size + modification +
/// creation time, and this forgery (plus NTFS "tunneling" of creation times) defeats it
/// (documented in src/store/cache.rs).
#[cfg(unix)]
#[test]
fn a_same_size_copy_or_rewrite_with_a_forged_mtime_is_read_again() {
    let env = TestEnv::new();
    let folder = project_folder(&env.claude_dir, &env.repo);
    let copied = SessionBuilder::new(&env.repo)
        .branch("alpha")
        .at("2026-03-01T00:00:00Z")
        .turns(3)
        .write_to(&folder);
    let rewritten = SessionBuilder::new(&env.repo)
        .branch("gamma")
        .at("2026-03-02T00:00:00Z")
        .turns(3)
        .write_to(&folder);
    let cache = env.temp.path().join("cache");
    std::thread::sleep(PAST_RACY);
    let cold = sessions(&env, &cache);
    assert!(
        cold.stderr.contains("0 file(s) unchanged, 2 read"),
        "{}",
        cold.stderr
    );

    let before = [mtime_of(&copied), mtime_of(&rewritten)];
    let sizes = [&copied, &rewritten].map(|p| std::fs::metadata(p).unwrap().len());
    // A copy tool puts a same-size file with another branch in place and restores the mtime.
    let mtime = before[0];
    let bytes = same_size_edit(
        &copied,
        "\"gitBranch\":\"alpha\"",
        "\"gitBranch\":\"bravo\"",
    );
    let temp = folder.join("incoming.tmp");
    std::fs::write(&temp, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&temp)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(&temp, &copied).unwrap();
    // An in-place rewrite of the same size (same inode), mtime restored too.
    let mtime = before[1];
    let bytes = same_size_edit(
        &rewritten,
        "\"gitBranch\":\"gamma\"",
        "\"gitBranch\":\"delta\"",
    );
    let mut file = std::fs::File::options()
        .write(true)
        .open(&rewritten)
        .unwrap();
    file.write_all(&bytes).unwrap();
    file.set_modified(mtime).unwrap();
    drop(file);
    // Same sizes and modification times as before: only the key (inode, ctime) can tell.
    assert_eq!([mtime_of(&copied), mtime_of(&rewritten)], before);
    assert_eq!(
        [&copied, &rewritten].map(|p| std::fs::metadata(p).unwrap().len()),
        sizes
    );
    // Past the racy window, so only the key (inode, size, ctime) can tell.
    std::thread::sleep(PAST_RACY);

    let warm = sessions(&env, &cache);
    assert!(
        warm.stderr.contains("0 file(s) unchanged, 2 read"),
        "{}",
        warm.stderr
    );
    let branches: Vec<&str> = warm
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["branch"].as_str().unwrap())
        .collect();
    assert_eq!(branches, ["delta", "bravo"]);
    let uncached = run(
        &env,
        &cache,
        &["sessions", "--all"],
        &[("CCSYNC_NO_CACHE", "1")],
    );
    assert_eq!(warm.json, uncached.json);
}

#[cfg(unix)]
fn mtime_of(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_corrupt_cache_is_ignored_and_replaced() {
    let env = TestEnv::new();
    store(&env);
    let cache = env.temp.path().join("cache");
    let good = sessions(&env, &cache);
    let file = cache_file(&cache);
    let bytes = std::fs::read(&file).unwrap();

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let damaged: [&[u8]; 4] = [
        b"",
        b"garbage, not a cache\n",
        &bytes[..bytes.len() / 2],
        &flipped,
    ];
    for broken in damaged {
        std::fs::write(&file, broken).unwrap();
        let again = sessions(&env, &cache);
        assert_eq!(again.json, good.json);
        assert!(
            again.stderr.contains("(unreadable)") && again.stderr.contains("saved"),
            "{}",
            again.stderr
        );
    }
    // The replacement is a good cache again.
    let again = sessions(&env, &cache);
    assert!(!again.stderr.contains("unreadable"), "{}", again.stderr);
    assert_eq!(again.json, good.json);
}

#[test]
fn an_unwritable_cache_folder_is_not_an_error() {
    let env = TestEnv::new();
    store(&env);
    // A folder under a regular file cannot be created, whoever runs the test (root included).
    let blocker = env.temp.path().join("not-a-folder");
    std::fs::write(&blocker, "x").unwrap();
    let cache = blocker.join("cache");
    let first = sessions(&env, &cache);
    assert!(first.stderr.contains("cannot write"), "{}", first.stderr);
    let reference = run(
        &env,
        &cache,
        &["sessions", "--all"],
        &[("CCSYNC_NO_CACHE", "1")],
    );
    assert_eq!(first.json, reference.json);
    let discover = run(&env, &cache, &["discover", "--branch", "main"], &[]);
    assert_eq!(discover.json["branch"], "main");
    // Without -v nothing is said about it.
    let out = env
        .ccsync()
        .env("CCSYNC_CACHE_DIR", &cache)
        .args(["discover", "--branch", "main"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn no_cache_reads_everything_and_leaves_the_cache_alone() {
    let env = TestEnv::new();
    let made = store(&env);
    let cache = env.temp.path().join("cache");
    std::thread::sleep(PAST_RACY);
    sessions(&env, &cache);
    let file = cache_file(&cache);
    let before = std::fs::read(&file).unwrap();

    let path = project_folder(&env.claude_dir, &env.repo).join(format!("{}.jsonl", made[1].id));
    let more = SessionBuilder::new(&env.repo)
        .id(&made[1].id)
        .branch("later")
        .at("2026-06-01T00:00:00Z")
        .turns(1);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(more.text().as_bytes())
        .unwrap();

    let off = run(
        &env,
        &cache,
        &["discover", "--branch", "later"],
        &[("CCSYNC_NO_CACHE", "1")],
    );
    assert_eq!(off.json["sessionId"], made[1].id.as_str());
    assert!(off.stderr.contains("facts cache: off"), "{}", off.stderr);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the cache file was not touched"
    );
}

#[test]
fn deleted_files_leave_the_cache() {
    let env = TestEnv::new();
    let made = store(&env);
    let cache = env.temp.path().join("cache");
    sessions(&env, &cache);
    let file = cache_file(&cache);
    let gone = &made[2].id;
    assert!(String::from_utf8_lossy(&std::fs::read(&file).unwrap()).contains(gone.as_str()));
    std::fs::remove_file(project_folder(&env.claude_dir, &env.repo).join(format!("{gone}.jsonl")))
        .unwrap();
    let after = sessions(&env, &cache);
    assert_eq!(after.json.as_array().unwrap().len(), made.len() - 1);
    assert!(!String::from_utf8_lossy(&std::fs::read(&file).unwrap()).contains(gone.as_str()));
}

#[cfg(target_os = "linux")]
#[test]
fn the_cache_lives_in_the_users_cache_folder() {
    let env = TestEnv::new();
    store(&env);
    let run_with = |extra: &[(&str, &Path)]| {
        let mut cmd = env.ccsync();
        cmd.env_remove("XDG_CACHE_HOME")
            .args(["discover", "--branch", "main"]);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        assert!(cmd.output().unwrap().status.success());
    };
    run_with(&[]);
    cache_file(&env.home.join(".cache").join("ccsync"));
    let xdg = env.temp.path().join("xdg");
    run_with(&[("XDG_CACHE_HOME", &xdg)]);
    cache_file(&xdg.join("ccsync"));
}

#[test]
fn files_changed_just_before_a_run_are_not_trusted_until_a_later_run() {
    // Time stamps are coarse: a file changed in the same tick as the run that read it could
    // change again unseen. Such entries are read again by the next run.
    let env = TestEnv::new();
    store(&env);
    let cache = env.temp.path().join("cache");
    let first = sessions(&env, &cache);
    let second = sessions(&env, &cache);
    assert!(
        second.stderr.contains("0 file(s) unchanged, 9 read"),
        "{}",
        second.stderr
    );
    assert_eq!(first.json, second.json);
    std::thread::sleep(PAST_RACY);
    sessions(&env, &cache);
    let later = sessions(&env, &cache);
    assert!(
        later.stderr.contains("9 file(s) unchanged, 0 read"),
        "{}",
        later.stderr
    );
}

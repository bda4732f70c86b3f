//! `ccsync sessions` and `ccsync discover` over generated stores that hold every trap of the
//! Claude Code store (DESIGN.md, "The Claude Code store").
mod support;
use support::sessions as gen;

use std::path::Path;

use gen::{project_folder, reference_facts, set_mtime_days_ago, SessionBuilder};
use serde_json::Value;
use support::TestEnv;

fn json_of(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap().to_owned())
        .collect()
}

/// A store with every trap, around the repository of `env`. Returns the sessions by role.
struct Traps {
    /// Root folder, branch `main`, oldest activity but the newest mtime.
    old_main: SessionBuilder,
    /// Root folder, switches main -> feature, ends in metadata records.
    switched: SessionBuilder,
    /// Root folder, newest `main` activity, glued line and torn tail, oldest mtime.
    newest_main: SessionBuilder,
    /// Started in the subfolder `src`.
    in_src: SessionBuilder,
    /// Started in the subfolder `old`, whose folder name equals the sibling's.
    in_old: SessionBuilder,
    /// In the sibling repository `<repo>-old`: newest of all, never ours.
    sibling: SessionBuilder,
    /// Empty file named like a session.
    empty_id: String,
}

fn build_traps(env: &TestEnv) -> Traps {
    let root = &env.repo;
    let root_folder = project_folder(&env.claude_dir, root);
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("old")).unwrap();

    let old_main = SessionBuilder::new(root)
        .at("2026-03-01T10:00:00Z")
        .turns(3);
    let switched = SessionBuilder::new(root)
        .at("2026-03-02T10:00:00Z")
        .turns(2)
        .branch("feature")
        .turns(2)
        .trailing_metadata();
    let newest_main = SessionBuilder::new(root)
        .at("2026-03-05T10:00:00Z")
        .turns(2)
        .assistant("glued below")
        .glue_last_two()
        .tool_result(40_000)
        .assistant("done")
        .metadata("summary")
        .torn_tail();
    let in_src = SessionBuilder::new(root.join("src"))
        .at("2026-03-03T10:00:00Z")
        .turns(2);
    let in_old = SessionBuilder::new(root.join("old"))
        .at("2026-03-04T10:00:00Z")
        .branch("feature")
        .turns(1);
    let sibling_root = Path::new(&format!("{}-old", root.display())).to_path_buf();
    let sibling = SessionBuilder::new(&sibling_root)
        .at("2026-04-01T10:00:00Z")
        .turns(2);

    let p_old = old_main.write_to(&root_folder);
    let p_switched = switched.write_to(&root_folder);
    let p_newest = newest_main.write_to(&root_folder);
    in_src.write_to(&project_folder(&env.claude_dir, &root.join("src")));
    in_old.write_to(&project_folder(&env.claude_dir, &root.join("old")));
    // The sibling's folder name is the same as the subfolder `old`'s, and it has its own too.
    sibling.write_to(&project_folder(&env.claude_dir, &root.join("old")));
    let sibling_only = SessionBuilder::new(&sibling_root)
        .at("2026-04-02T10:00:00Z")
        .turns(1);
    sibling_only.write_to(&project_folder(&env.claude_dir, &sibling_root));
    // A 2.0.x agent file: newest of all on `main`, never a session.
    old_main.write_agent_2_0(&root_folder, "a1b2c3d4", "main");
    newest_main.write_side_folder_2_1(&root_folder, "a9f8e7d");
    // Files that are not sessions.
    std::fs::write(
        root_folder.join("notes.jsonl"),
        "{\"gitBranch\":\"main\"}\n",
    )
    .unwrap();
    let empty_id = gen::new_id();
    std::fs::write(root_folder.join(format!("{empty_id}.jsonl")), "").unwrap();

    // Modification times say the opposite of the records.
    set_mtime_days_ago(&p_old, 0);
    set_mtime_days_ago(&p_switched, 5);
    set_mtime_days_ago(&p_newest, 400);

    Traps {
        old_main,
        switched,
        newest_main,
        in_src,
        in_old,
        sibling,
        empty_id,
    }
}

#[test]
fn discover_picks_the_newest_session_of_the_branch_by_its_records() {
    let env = TestEnv::new();
    let t = build_traps(&env);

    let out = env.ccsync().arg("discover").output().unwrap();
    assert_eq!(
        stdout(&out),
        format!("{}\n", t.newest_main.id),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = env
        .ccsync()
        .args(["discover", "--branch", "feature"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), format!("{}\n", t.in_old.id));

    // The checked-out branch is the default.
    env.git(["switch", "-q", "-c", "feature"]);
    let out = env.ccsync().arg("discover").output().unwrap();
    assert_eq!(stdout(&out), format!("{}\n", t.in_old.id));

    // From a subfolder, the answer is the same (the repository's sessions, not the folder's).
    let out = env
        .ccsync_in(&env.repo.join("src"))
        .args(["discover", "--branch", "main"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), format!("{}\n", t.newest_main.id));
}

#[test]
fn discover_json_describes_the_session() {
    let env = TestEnv::new();
    let t = build_traps(&env);
    let out = env.ccsync().args(["discover", "--json"]).output().unwrap();
    let v = json_of(&out);
    assert_eq!(v["sessionId"], t.newest_main.id.as_str());
    assert_eq!(v["branch"], "main");
    // The torn tail's 2099 timestamp does not count; the last complete record's does.
    assert_eq!(
        v["lastActivity"],
        t.newest_main
            .clock()
            .checked_sub_signed(chrono::Duration::minutes(1))
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    );
    assert_eq!(v["folder"], ".");
}

#[test]
fn sessions_lists_the_repository_newest_first_with_branches_and_counts() {
    let env = TestEnv::new();
    let t = build_traps(&env);
    let v = json_of(&env.ccsync().args(["sessions", "--json"]).output().unwrap());
    assert_eq!(
        ids(&v),
        vec![
            t.newest_main.id.clone(),
            t.in_old.id.clone(),
            t.in_src.id.clone(),
            t.switched.id.clone(),
            t.old_main.id.clone(),
            t.empty_id.clone(),
        ],
        "sibling, agent and non-uuid files must not appear"
    );
    let rows = v.as_array().unwrap();
    let by_id = |id: &str| rows.iter().find(|r| r["sessionId"] == id).unwrap().clone();
    assert_eq!(by_id(&t.switched.id)["branch"], "feature");
    assert_eq!(by_id(&t.in_src.id)["folder"], "src");
    assert_eq!(by_id(&t.in_old.id)["folder"], "old");
    assert_eq!(by_id(&t.empty_id)["branch"], Value::Null);
    assert_eq!(by_id(&t.empty_id)["records"], 0);
    // Records: glued objects count one each, the torn tail none.
    for s in [&t.newest_main, &t.switched, &t.old_main] {
        let path = project_folder(&env.claude_dir, &env.repo).join(format!("{}.jsonl", s.id));
        let (branch, last, count) = reference_facts(&path);
        let row = by_id(&s.id);
        assert_eq!(row["records"], count, "{}", s.id);
        assert_eq!(row["branch"].as_str(), branch.as_deref());
        assert_eq!(
            row["lastActivity"].as_str().map(gen::ts),
            last.filter(|t| t.timestamp() < 4_000_000_000)
        );
        assert_eq!(row["size"], std::fs::metadata(&path).unwrap().len());
    }
    // 4 turn records, 1 glued, tool result, answer, summary; the torn tail is not one.
    assert_eq!(by_id(&t.newest_main.id)["records"], 8);

    // --branch filters, --all is everything.
    let v = json_of(
        &env.ccsync()
            .args(["sessions", "--json", "--branch", "feature"])
            .output()
            .unwrap(),
    );
    assert_eq!(ids(&v), vec![t.in_old.id.clone(), t.switched.id.clone()]);
    let v = json_of(
        &env.ccsync()
            .args(["sessions", "--json", "--all"])
            .output()
            .unwrap(),
    );
    assert_eq!(v.as_array().unwrap().len(), 6);
    assert!(!ids(&v).contains(&t.sibling.id));
}

#[test]
fn sessions_table_is_readable() {
    let env = TestEnv::new();
    let t = build_traps(&env);
    let out = env
        .ccsync_in(&env.repo.join("old"))
        .arg("sessions")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("SESSION"), "{text}");
    for header in ["BRANCH", "LAST ACTIVITY", "RECORDS", "SIZE", "FOLDER"] {
        assert!(lines[0].contains(header), "{text}");
    }
    assert_eq!(lines.len(), 7, "{text}");
    assert!(lines[1].starts_with(&t.newest_main.id));
    assert!(
        lines[1].contains("main") && lines[1].contains("KiB"),
        "{text}"
    );
    assert!(
        lines[2].starts_with(&t.in_old.id) && lines[2].ends_with("old"),
        "{text}"
    );
    assert!(text.contains("2026-03-05"), "{text}");
    assert!(!text.contains(&t.sibling.id));
}

#[test]
fn discover_says_what_exists_when_the_branch_has_nothing() {
    let env = TestEnv::new();
    build_traps(&env);
    let out = env
        .ccsync()
        .args(["discover", "--branch", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`nope`") && err.contains("6 other sessions"),
        "{err}"
    );
    assert!(
        err.contains("ccsync sessions") && err.contains("branches: feature, main"),
        "{err}"
    );
}

#[test]
fn a_repository_path_over_200_characters() {
    let long = format!(
        "work/{}/{}/app",
        "a-very-long-folder-name".repeat(5),
        "nested_segment.v2".repeat(6)
    );
    let env = TestEnv::with_repo_path(&long);
    let root = env.repo.clone();
    let root_name = gen::claude_folder_name(&gen::claude_path(&root));
    assert!(root_name.len() > 200, "{root_name}");
    std::fs::create_dir_all(root.join("sub")).unwrap();

    let at_root = SessionBuilder::new(&root)
        .at("2026-05-01T00:00:00Z")
        .turns(2)
        .trailing_metadata();
    let in_sub = SessionBuilder::new(root.join("sub"))
        .at("2026-05-02T00:00:00Z")
        .turns(1);
    let sibling_root = root.with_file_name("app-old");
    let sibling = SessionBuilder::new(&sibling_root)
        .at("2026-05-03T00:00:00Z")
        .turns(1);
    at_root.write_to(&project_folder(&env.claude_dir, &root));
    in_sub.write_to(&project_folder(&env.claude_dir, &root.join("sub")));
    sibling.write_to(&project_folder(&env.claude_dir, &sibling_root));
    // All three folders share their first 200 characters.
    let names: Vec<String> = std::fs::read_dir(env.projects())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names.iter().all(|n| n[..200] == root_name[..200]));

    let v = json_of(&env.ccsync().args(["sessions", "--json"]).output().unwrap());
    assert_eq!(ids(&v), vec![in_sub.id.clone(), at_root.id.clone()]);
    let out = env.ccsync().arg("discover").output().unwrap();
    assert_eq!(stdout(&out), format!("{}\n", in_sub.id));
}

#[test]
fn the_real_corpus() {
    let Some(corpus) = support::corpus_dir() else {
        return;
    };
    let env = TestEnv::new();
    let folder = project_folder(&env.claude_dir, &env.repo);
    std::fs::create_dir_all(&folder).unwrap();
    let mut expected = Vec::new();
    for entry in walk(&corpus) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".jsonl") || name.starts_with("agent-") {
            continue;
        }
        // `short.jsonl` is named after its session id, like every other session file.
        let id = if name == "short.jsonl" {
            first_session_id(&entry)
        } else {
            name.trim_end_matches(".jsonl").to_owned()
        };
        let dest = folder.join(format!("{id}.jsonl"));
        std::fs::copy(&entry, &dest).unwrap();
        let side = entry.with_extension("");
        if side.is_dir() {
            copy_tree(&side, &folder.join(&id));
        }
        // Copies get fresh mtimes in arbitrary order; scramble them further.
        set_mtime_days_ago(&dest, (expected.len() as u64 * 37) % 11);
        let (branch, last, count) = reference_facts(&dest);
        expected.push((id, branch, last, count));
    }
    assert_eq!(expected.len(), 10, "corpus changed?");
    expected.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));

    let v = json_of(&env.ccsync().args(["sessions", "--json"]).output().unwrap());
    let rows = v.as_array().unwrap();
    assert_eq!(
        ids(&v),
        expected.iter().map(|e| e.0.clone()).collect::<Vec<_>>()
    );
    for (row, (id, branch, last, count)) in rows.iter().zip(&expected) {
        assert_eq!(row["branch"].as_str(), branch.as_deref(), "{id}");
        assert_eq!(row["lastActivity"].as_str().map(gen::ts), *last, "{id}");
        assert_eq!(row["records"], *count, "{id}");
    }
    // discover of each branch = the newest session whose last branch is that one.
    let mut branches: Vec<&str> = expected.iter().filter_map(|e| e.1.as_deref()).collect();
    branches.dedup();
    for branch in branches {
        let want = &expected
            .iter()
            .find(|e| e.1.as_deref() == Some(branch))
            .unwrap()
            .0;
        let out = env
            .ccsync()
            .args(["discover", "--branch", branch])
            .output()
            .unwrap();
        assert_eq!(stdout(&out), format!("{want}\n"), "branch {branch}");
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // Side folders are copied with their session, not walked as sessions.
            if !path.with_extension("jsonl").is_file() {
                out.extend(walk(&path));
            }
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

fn first_session_id(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| {
            v.get("sessionId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap()
}

#[test]
fn a_relative_claude_folder_gives_absolute_paths() {
    let env = TestEnv::new();
    let s = SessionBuilder::new(&env.repo).turns(1);
    let file = s.write_to(&project_folder(&env.claude_dir, &env.repo));
    // From <temp>/work/app, the Claude folder is ../../home/.claude.
    let out = env
        .ccsync()
        .env("CLAUDE_CONFIG_DIR", "../../home/.claude")
        .args(["discover", "--json"])
        .output()
        .unwrap();
    let v = json_of(&out);
    assert_eq!(v["sessionId"], s.id.as_str());
    assert_eq!(v["path"], file.to_str().unwrap());
}

#[test]
fn discover_in_github_actions_uses_the_pull_request_branch() {
    let env = TestEnv::new();
    let t = build_traps(&env);
    let out = env
        .ccsync()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_HEAD_REF", "feature")
        .env("GITHUB_REF_NAME", "12/merge")
        .arg("discover")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), format!("{}\n", t.in_old.id));
    // A push build: no head ref, the ref name is the branch.
    let out = env
        .ccsync()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_HEAD_REF", "")
        .env("GITHUB_REF_NAME", "main")
        .arg("discover")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), format!("{}\n", t.newest_main.id));
}

//! `sessions` and `discover` as a new user meets them: no Claude folder, a repository without
//! sessions, outside any git repository, a detached HEAD. Each case says what to do, with the
//! documented exit code.
mod support;
use support::sessions as gen;

use support::TestEnv;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn no_claude_folder() {
    let env = TestEnv::new();
    assert!(!env.claude_dir.exists());
    let out = env.ccsync().arg("sessions").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("no Claude folder at {}", env.claude_dir.display())),
        "{err}"
    );
    assert!(
        err.contains("CLAUDE_CONFIG_DIR") && err.contains("--claude-dir"),
        "{err}"
    );

    let out = env.ccsync().args(["sessions", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");

    let out = env.ccsync().arg("discover").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("no Claude folder at"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn default_claude_folder_is_under_home() {
    let env = TestEnv::new();
    let out = env
        .ccsync()
        .env_remove("CLAUDE_CONFIG_DIR")
        .arg("sessions")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let want = env.home.join(".claude");
    assert!(
        stderr(&out).contains(&format!("no Claude folder at {}", want.display())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn repository_without_sessions() {
    let env = TestEnv::new();
    // Claude Code was used, but only in another project.
    let elsewhere = env.temp.path().join("elsewhere");
    gen::SessionBuilder::new(&elsewhere)
        .turns(1)
        .write_to(&gen::project_folder(&env.claude_dir, &elsewhere));
    let out = env.ccsync().arg("sessions").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("no Claude Code session of"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("run `claude` in this repository"),
        "{}",
        stderr(&out)
    );

    let out = env.ccsync().arg("discover").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("no Claude Code session of"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn outside_git() {
    let env = TestEnv::new();
    for command in ["sessions", "discover"] {
        let out = env.ccsync_in(&env.home).arg(command).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(
            stderr(&out).contains("is not inside a git repository"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn detached_head_needs_a_branch() {
    let env = TestEnv::new();
    let head = env.git(["rev-parse", "HEAD"]);
    env.git(["checkout", "-q", head.trim()]);
    let out = env.ccsync().arg("discover").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--branch"), "{}", stderr(&out));
    // With --branch it works (nothing found here: exit 3).
    let out = env
        .ccsync()
        .args(["discover", "--branch", "main"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

//! `ccsync hook install | uninstall` in a real git repository: `git push` to a local bare remote
//! runs the hook, which runs the built ccsync, and the session lands in the fake GitHub; a failing
//! ccsync never blocks the push; tags and deletions push no session; foreign hooks are left alone.

mod everyday_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use everyday_support::{assert_code, parse_json, stderr, Laptop};
use fake_github::Permission;
use support::TOKEN;

const MARKER: &str = "# ccsync pre-push hook";

/// A local bare repository as the remote `local` of the checkout.
fn add_bare_remote(laptop: &Laptop) -> PathBuf {
    let bare = laptop.env.temp.path().join("remote.git");
    let status = std::process::Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&bare)
        .status()
        .unwrap();
    assert!(status.success());
    laptop
        .env
        .git(["remote", "add", "local", bare.to_str().unwrap()]);
    bare
}

/// `git push` the way a user runs it, with the built ccsync on PATH and the fake's settings in
/// the environment (git hands its environment to the hook).
fn git_push(laptop: &Laptop, args: &[&str]) -> Output {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_ccsync")).parent().unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let mut cmd = std::process::Command::new("git");
    cmd.arg("push").args(args).current_dir(&laptop.env.repo);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("GITHUB_")
            || key.starts_with("CCSYNC_")
            || key.starts_with("CLAUDE_")
            || key == "GH_TOKEN"
        {
            cmd.env_remove(key);
        }
    }
    let output = cmd
        .env("PATH", path)
        .env("HOME", &laptop.env.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GH_CONFIG_DIR", "/nonexistent-ccsync-test")
        .env("CLAUDE_CONFIG_DIR", &laptop.env.claude_dir)
        .env("GITHUB_API_URL", laptop.fake.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("CCSYNC_RETRY_BASE_MS", "1")
        .output()
        .unwrap();
    support::assert_no_token(&output);
    output
}

fn remote_branches(bare: &Path) -> String {
    let output = std::process::Command::new("git")
        .args(["for-each-ref", "--format=%(refname)"])
        .current_dir(bare)
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn git_push_pushes_the_session_and_a_failure_never_blocks_it() {
    let laptop = Laptop::new();
    let bare = add_bare_remote(&laptop);
    let installed = laptop.json(&["hook", "install"]);
    assert_eq!(installed["action"], "installed");
    let hook = laptop.env.repo.join(".git/hooks/pre-push");
    assert_eq!(Path::new(installed["path"].as_str().unwrap()), hook);
    let text = std::fs::read_to_string(&hook).unwrap();
    assert!(text.starts_with("#!/bin/sh") && text.contains(MARKER));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert!(hook.metadata().unwrap().permissions().mode() & 0o111 != 0);
    }
    assert_eq!(laptop.json(&["hook", "install"])["action"], "unchanged");

    // A session of main: `git push` brings it to the release.
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    let output = git_push(&laptop, &["local", "main"]);
    assert_code(&output, 0);
    assert!(remote_branches(&bare).contains("refs/heads/main"));
    let meta = laptop.stored_metadata(&session.id).unwrap_or_else(|| {
        panic!(
            "the hook pushed the session; git said:\n{}",
            stderr(&output)
        )
    });
    assert_eq!(meta["gitBranch"], "main");
    assert_eq!(laptop.tags(), vec!["claude-sessions-main"]);

    // Another branch, pushed while main is checked out: the hook pushes that branch's session.
    let feature = laptop.session("feature", "2026-03-02T10:00:00Z");
    laptop.env.git(["branch", "feature"]);
    let output = git_push(&laptop, &["local", "feature"]);
    assert_code(&output, 0);
    assert_eq!(
        laptop.stored_metadata(&feature.id).unwrap()["gitBranch"],
        "feature"
    );

    // Tags and deletions push no session.
    laptop.env.git(["tag", "v1"]);
    laptop.fake.clear_requests();
    assert_code(&git_push(&laptop, &["local", "v1"]), 0);
    assert_code(&git_push(&laptop, &["local", ":feature"]), 0);
    assert!(
        laptop.fake.requests().is_empty(),
        "no ccsync run for a tag or a deletion"
    );
    assert!(!remote_branches(&bare).contains("refs/heads/feature"));

    // ccsync fails (GitHub rejects the token): the push still goes through, and says so.
    laptop.fake.set_token(TOKEN, Permission::Invalid);
    laptop.env.commit("more work");
    laptop.session("main", "2026-03-03T10:00:00Z");
    let output = git_push(&laptop, &["local", "main"]);
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(err.contains("was not pushed"), "{err}");
    let head = laptop.env.git(["rev-parse", "HEAD"]);
    let remote_head = std::process::Command::new("git")
        .args(["rev-parse", "refs/heads/main"])
        .current_dir(&bare)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(remote_head.stdout).unwrap(),
        head,
        "the commit reached the remote"
    );

    // A branch never used with Claude: not an error for the hook, so nothing is said.
    laptop.fake.set_token(TOKEN, Permission::Write);
    laptop.env.git(["branch", "empty"]);
    let output = git_push(&laptop, &["local", "empty"]);
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(
        !err.contains("ccsync") && !err.contains("error") && !err.contains("session"),
        "the hook is silent about a branch without a session: {err}"
    );
    assert!(remote_branches(&bare).contains("refs/heads/empty"));
    // What the hook runs says one line about it with -v.
    let output = laptop.run(&["-v", "release-push", "--branch", "empty", "--from-hook"]);
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(err.contains("no session of branch `empty`"), "{err}");
    assert!(!err.contains("error"), "{err}");

    // Uninstall removes it; a second time there is nothing to remove.
    assert_eq!(laptop.json(&["hook", "uninstall"])["action"], "removed");
    assert!(!hook.exists());
    assert_eq!(laptop.json(&["hook", "uninstall"])["action"], "absent");
}

#[test]
fn the_hook_goes_where_core_hooks_path_says() {
    let laptop = Laptop::new();
    laptop.env.git(["config", "core.hooksPath", ".githooks"]);
    let installed = laptop.json(&["hook", "install"]);
    let expected = laptop.env.repo.join(".githooks/pre-push");
    assert_eq!(Path::new(installed["path"].as_str().unwrap()), expected);
    assert!(expected.is_file());
    assert!(!laptop.env.repo.join(".git/hooks/pre-push").exists());

    // And it runs from there.
    let session = laptop.session("main", "2026-03-01T10:00:00Z");
    add_bare_remote(&laptop);
    assert_code(&git_push(&laptop, &["local", "main"]), 0);
    assert!(laptop.stored_metadata(&session.id).is_some());
}

#[test]
fn a_foreign_hook_is_never_overwritten_nor_removed() {
    let laptop = Laptop::new();
    let hook = laptop.env.repo.join(".git/hooks/pre-push");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    let theirs = "#!/bin/sh\necho 'lint first'\n";
    std::fs::write(&hook, theirs).unwrap();

    let output = laptop.run(&["hook", "install"]);
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("did not write"), "{err}");
    assert!(
        err.contains("release-push --branch"),
        "says what to add: {err}"
    );
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs);

    let output = laptop.run(&["hook", "uninstall"]);
    assert_code(&output, 1);
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs);

    // Ours is replaced in place when it changes (an older ccsync's hook).
    std::fs::write(
        &hook,
        format!("#!/bin/sh\n{MARKER}: managed by `ccsync hook install`\nexit 0\n"),
    )
    .unwrap();
    let out = parse_json(&laptop.run(&["hook", "install", "--json"]));
    assert_eq!(out["action"], "updated");
}

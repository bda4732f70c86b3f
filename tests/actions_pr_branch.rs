//! A session per pull request: in GitHub Actions the branch comes from the event (DESIGN.md,
//! "Commands"). An `@claude` comment arrives as `issue_comment` (the branch is asked of
//! `GET /pulls/{n}`), `pull_request_review` or `pull_request_review_comment` (the payload holds the
//! head); a comment on a plain issue has no branch; a fork's branch never shares a release with a
//! base branch of the same name; `--branch` wins. Push in Actions writes its outputs and a summary.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use fake_github::{FakeGitHub, Options};
use serde_json::json;
use support::sessions::{project_folder, SessionBuilder};
use support::{assert_no_token, TestEnv, TOKEN};

/// A GitHub Actions runner with a checkout of octo/app and the files a job gets.
struct Runner {
    env: TestEnv,
    files: PathBuf,
    api_url: String,
}

impl Runner {
    fn new(fake: &FakeGitHub) -> Runner {
        let env = TestEnv::with_repo_path("home/runner/work/app/app");
        let files = env.temp.path().join("runner-files");
        std::fs::create_dir_all(&files).unwrap();
        Runner {
            env,
            files,
            api_url: fake.api_url(),
        }
    }

    fn project_dir(&self) -> PathBuf {
        project_folder(&self.env.claude_dir, &self.env.repo)
    }

    /// ccsync in a job run by `event` with this payload; `GITHUB_REF_NAME` as GitHub sets it for
    /// that event (the default branch, or the merge ref of a review event).
    fn run(&self, event: &str, payload: &serde_json::Value, args: &[&str]) -> Output {
        let event_path = self.files.join("event.json");
        std::fs::write(&event_path, payload.to_string()).unwrap();
        let ref_name = match event {
            "issue_comment" => "main".to_owned(),
            _ => format!(
                "{}/merge",
                payload["pull_request"]["number"].as_u64().unwrap_or(1)
            ),
        };
        let mut cmd = self.env.ccsync();
        cmd.args(args)
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("CCSYNC_RETRY_BASE_MS", "1")
            .env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_REPOSITORY", "octo/app")
            .env("GITHUB_EVENT_NAME", event)
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_REF_NAME", ref_name)
            .env("GITHUB_HEAD_REF", "")
            .env("GITHUB_WORKSPACE", &self.env.repo)
            .env("GITHUB_ENV", self.files.join("env"))
            .env("GITHUB_OUTPUT", self.files.join("output"))
            .env("GITHUB_STEP_SUMMARY", self.files.join("summary"));
        let output = cmd.output().expect("ccsync runs");
        assert_no_token(&output);
        output
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.files.join(name)).unwrap_or_default()
    }

    fn clear_files(&self) {
        for name in ["env", "output", "summary"] {
            let _ = std::fs::remove_file(self.files.join(name));
        }
    }
}

/// A laptop that pushes sessions of octo/app (not in Actions).
fn laptop_push(fake: &FakeGitHub, branch: &str) -> String {
    let laptop = TestEnv::with_repo_path("Users/me/src/app");
    let session = SessionBuilder::new(&laptop.repo).branch(branch).turns(2);
    session.write_to(&project_folder(&laptop.claude_dir, &laptop.repo));
    let output = laptop
        .ccsync()
        .args(["release-push", "--branch", branch, "--session", &session.id])
        .env("GITHUB_API_URL", fake.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_ok(&output);
    session.id
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn comment_on_pull(number: u64) -> serde_json::Value {
    json!({
        "action": "created",
        "issue": {
            "number": number,
            "title": "Add the thing",
            "pull_request": {
                "url": format!("https://api.github.com/repos/octo/app/pulls/{number}"),
                "html_url": format!("https://github.com/octo/app/pull/{number}"),
            },
        },
        "comment": { "id": 1, "body": "@claude please continue" },
        "repository": { "full_name": "octo/app" },
    })
}

fn review_comment(number: u64, head_ref: &str, head_repo: &str) -> serde_json::Value {
    json!({
        "action": "created",
        "comment": { "id": 2, "body": "@claude fix this line" },
        "pull_request": {
            "number": number,
            "head": {
                "label": format!("{}:{head_ref}", head_repo.split('/').next().unwrap()),
                "ref": head_ref,
                "sha": "0".repeat(40),
                "repo": { "full_name": head_repo },
            },
            "base": { "ref": "main", "repo": { "full_name": "octo/app" } },
        },
        "repository": { "full_name": "octo/app" },
    })
}

fn restored_id(runner: &Runner) -> Option<String> {
    runner
        .file("env")
        .lines()
        .find_map(|l| l.strip_prefix("SESSION_ID="))
        .map(str::to_owned)
}

fn has_file(dir: &Path, id: &str) -> bool {
    dir.join(format!("{id}.jsonl")).is_file()
}

#[test]
fn a_comment_on_a_pull_request_restores_its_head_branch_session() {
    let fake = FakeGitHub::start(Options::default());
    let on_main = laptop_push(&fake, "main");
    let on_feature = laptop_push(&fake, "feature/x");
    fake.seed_pull("octo", "app", 5, "feature/x", Some("octo/app"));
    let runner = Runner::new(&fake);

    let output = runner.run("issue_comment", &comment_on_pull(5), &["release-restore"]);
    assert_ok(&output);
    assert_eq!(restored_id(&runner).as_deref(), Some(on_feature.as_str()));
    assert!(has_file(&runner.project_dir(), &on_feature));
    assert!(!has_file(&runner.project_dir(), &on_main));
    assert!(runner.file("output").contains("restored=true"));
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path.ends_with("/repos/octo/app/pulls/5")));

    // The continuation goes back to the pull request's release, not the default branch's.
    let continued = SessionBuilder::new(&runner.env.repo)
        .id(&on_feature)
        .branch("HEAD")
        .turns(1);
    let file = runner.project_dir().join(format!("{on_feature}.jsonl"));
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&continued.text());
    std::fs::write(&file, text).unwrap();
    runner.clear_files();
    let output = runner.run("issue_comment", &comment_on_pull(5), &["release-push"]);
    assert_ok(&output);
    let outputs = runner.file("output");
    assert!(
        outputs.contains(&format!("session-id={on_feature}")),
        "{outputs}"
    );
    assert!(outputs.contains("result=uploaded"), "{outputs}");
    assert!(outputs.contains("release-url=http"), "{outputs}");
    assert!(runner.file("summary").contains(&on_feature));
    let feature_tag = "claude-sessions-feature/x";
    let releases = fake.releases("octo", "app");
    let feature = releases.iter().find(|r| r.tag_name == feature_tag).unwrap();
    assert_eq!(
        feature
            .assets
            .iter()
            .filter(|a| a.name.contains(&on_feature))
            .count(),
        2
    );
    let main = releases
        .iter()
        .find(|r| r.tag_name == "claude-sessions-main")
        .unwrap();
    assert!(!main.assets.iter().any(|a| a.name.contains(&on_feature)));

    // Pushing again changes nothing and says so.
    runner.clear_files();
    assert_ok(&runner.run("issue_comment", &comment_on_pull(5), &["release-push"]));
    assert!(runner.file("output").contains("result=up-to-date"));
}

#[test]
fn a_review_comment_restores_the_head_branch_from_the_payload() {
    let fake = FakeGitHub::start(Options::default());
    laptop_push(&fake, "main");
    let on_feature = laptop_push(&fake, "feature/y");
    let runner = Runner::new(&fake);
    let payload = review_comment(9, "feature/y", "octo/app");
    for event in ["pull_request_review_comment", "pull_request_review"] {
        runner.clear_files();
        let output = runner.run(event, &payload, &["release-restore", "--json"]);
        assert_ok(&output);
        assert_eq!(
            restored_id(&runner).as_deref(),
            Some(on_feature.as_str()),
            "{event}"
        );
    }
    // No pull request was asked for: the payload had the head.
    assert!(!fake.requests().iter().any(|r| r.path.contains("/pulls/")));

    // `--branch` still wins.
    runner.clear_files();
    let output = runner.run(
        "pull_request_review_comment",
        &payload,
        &["release-restore", "--branch", "main", "--force"],
    );
    assert_ok(&output);
    assert_ne!(restored_id(&runner).as_deref(), Some(on_feature.as_str()));
}

#[test]
fn a_comment_on_a_plain_issue_has_no_branch() {
    let fake = FakeGitHub::start(Options::default());
    laptop_push(&fake, "main");
    let runner = Runner::new(&fake);
    let payload = json!({ "action": "created", "issue": { "number": 3, "title": "Bug" },
                          "comment": { "body": "@claude look" } });

    let output = runner.run("issue_comment", &payload, &["release-restore"]);
    assert_ok(&output);
    let err = stderr(&output);
    assert!(
        err.contains("::notice::") && err.contains("issue #3"),
        "{err}"
    );
    assert!(runner.file("env").contains("SESSION_RESTORED=false"));
    assert!(runner.file("output").contains("restored=false"));
    // The summary says there is no branch, and keeps the message's code spans readable.
    let summary = runner.file("summary");
    assert!(summary.contains("| Branch | none |"), "{summary}");
    assert!(
        !summary.contains("``") && !summary.contains("\\`"),
        "{summary}"
    );
    assert!(
        restored_id(&runner).is_none(),
        "the main session must not be restored"
    );

    runner.clear_files();
    let output = runner.run("issue_comment", &payload, &["release-restore", "--require"]);
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(
        err.contains("::error::") && err.contains("issue #3"),
        "{err}"
    );
    assert!(!err.contains("::notice::"), "{err}");

    // Push has nothing to push to: a notice, exit 0.
    SessionBuilder::new(&runner.env.repo)
        .branch("HEAD")
        .turns(1)
        .write_to(&runner.project_dir());
    runner.clear_files();
    let output = runner.run("issue_comment", &payload, &["release-push"]);
    assert_ok(&output);
    assert!(stderr(&output).contains("::notice::"));
    assert!(runner.file("output").contains("result=nothing"));
    assert!(!fake
        .releases("octo", "app")
        .iter()
        .any(|r| r.tag_name != "claude-sessions-main"));
}

#[test]
fn a_forks_branch_never_shares_the_base_branchs_release() {
    let fake = FakeGitHub::start(Options::default());
    let base_main = laptop_push(&fake, "main");
    fake.seed_pull("octo", "app", 21, "main", Some("alice/app"));
    let runner = Runner::new(&fake);

    // The fork's `main` is not the base repository's `main`.
    let output = runner.run("issue_comment", &comment_on_pull(21), &["release-restore"]);
    assert_ok(&output);
    assert!(restored_id(&runner).is_none());
    assert!(!has_file(&runner.project_dir(), &base_main));

    let session = SessionBuilder::new(&runner.env.repo)
        .branch("HEAD")
        .turns(1);
    session.write_to(&runner.project_dir());
    runner.clear_files();
    assert_ok(&runner.run("issue_comment", &comment_on_pull(21), &["release-push"]));
    let releases = fake.releases("octo", "app");
    let fork = releases
        .iter()
        .find(|r| r.tag_name == "claude-sessions--alice/main")
        .expect("the fork's release");
    assert!(fork.assets.iter().any(|a| a.name.contains(&session.id)));
    let main = releases
        .iter()
        .find(|r| r.tag_name == "claude-sessions-main")
        .unwrap();
    assert!(!main.assets.iter().any(|a| a.name.contains(&session.id)));

    // A review comment on the same pull request finds it again; the laptop names it `alice:main`.
    runner.clear_files();
    std::fs::remove_file(runner.project_dir().join(format!("{}.jsonl", session.id))).unwrap();
    let output = runner.run(
        "pull_request_review_comment",
        &review_comment(21, "main", "alice/app"),
        &["release-restore"],
    );
    assert_ok(&output);
    assert_eq!(restored_id(&runner).as_deref(), Some(session.id.as_str()));
    let listed = runner
        .env
        .ccsync()
        .args(["release-list", "--json", "--repo", "octo/app"])
        .env("GITHUB_API_URL", fake.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_ok(&listed);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("alice:main"));
}

/// The payload is the only source of a review's or a comment's branch: one without the pull
/// request, or one that cannot be read, is a clear error (exit 2, "pass --branch"), never the
/// merge ref or the default branch; `--branch` still works.
#[test]
fn a_payload_without_its_pull_request_is_an_error_not_the_merge_ref() {
    let fake = FakeGitHub::start(Options::default());
    let runner = Runner::new(&fake);
    let review = serde_json::json!({ "review": { "id": 1 } });
    let output = runner.run("pull_request_review", &review, &["release-restore"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("pull_request") && err.contains("--branch"),
        "{err}"
    );
    assert!(!err.contains("merge"), "{err}");

    // An unreadable payload of a comment: the same, not the default branch.
    let event_path = runner.files.join("event.json");
    let output = {
        std::fs::write(&event_path, "{ not json").unwrap();
        let mut cmd = runner.env.ccsync();
        cmd.args(["release-restore"])
            .env("GITHUB_API_URL", &runner.api_url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "octo/app")
            .env("GITHUB_EVENT_NAME", "issue_comment")
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_REF_NAME", "main")
            .env("GITHUB_WORKSPACE", &runner.env.repo);
        cmd.output().unwrap()
    };
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot be read")
            || stderr(&output).contains("not an event payload")
    );

    let output = runner.run(
        "pull_request_review",
        &review,
        &["release-restore", "--branch", "feature"],
    );
    assert_ok(&output);
}

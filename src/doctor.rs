//! The checks of `ccsync doctor`, in the order a session travels: git, branch, repository, token,
//! access and release, encryption, the Claude folder and the checkout's sessions, Actions. Each
//! says in plain words what is wrong and what to do; a check that cannot run because an earlier
//! one failed is left out (the failure already says why).

use serde::Serialize;

use crate::actions::env_nonempty;
use crate::config::{BranchChoice, Context};
use crate::git::{GitRepo, RepoSlug};
use crate::release::{names, GitHub};
use crate::store;
use crate::token::Token;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Check {
    /// Stable name: `git`, `branch`, `repository`, `token`, `access`, `release`, `claude-folder`,
    /// `project-folder`, `session`, `actions`.
    pub check: &'static str,
    pub status: Status,
    pub message: String,
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn add(&mut self, check: &'static str, status: Status, message: impl Into<String>) {
        self.checks.push(Check {
            check,
            status,
            message: message.into(),
        });
    }
    fn ok(&mut self, check: &'static str, message: impl Into<String>) {
        self.add(check, Status::Ok, message);
    }
    fn warn(&mut self, check: &'static str, message: impl Into<String>) {
        self.add(check, Status::Warn, message);
    }
    fn fail(&mut self, check: &'static str, message: impl Into<String>) {
        self.add(check, Status::Fail, message);
    }
}

/// Every check, in order. `branch`: `--branch`, else the current one.
pub fn diagnose(ctx: &Context, branch: Option<&str>) -> Vec<Check> {
    let mut report = Report::default();
    let git = check_git(ctx, &mut report);
    let branch = match ctx.branch(branch, git.as_ref()) {
        Ok(BranchChoice::Branch(branch)) => {
            report.ok("branch", format!("branch `{branch}`"));
            Some(branch)
        }
        Ok(BranchChoice::NoBranch(why)) => {
            report.warn("branch", why);
            None
        }
        Err(e) => {
            report.warn("branch", format!("{e:#}"));
            None
        }
    };
    let slug = match ctx.github_repo(git.as_ref()) {
        Ok(slug) => {
            report.ok("repository", format!("GitHub repository {slug}"));
            Some(slug)
        }
        Err(e) => {
            report.fail("repository", format!("{e:#}"));
            None
        }
    };
    let token = match ctx.token() {
        Ok(token) => {
            report.ok(
                "token",
                format!("a GitHub token was found ({})", token_source(ctx)),
            );
            Some(token)
        }
        Err(e) => {
            report.fail("token", format!("{e:#}"));
            None
        }
    };
    if let (Some(slug), Some(token)) = (&slug, token) {
        check_github(ctx, &mut report, slug, token, branch.as_deref());
    }
    match crate::passphrase::from_env("work") {
        Ok(Some(_)) => report.ok(
            "encryption",
            "a passphrase is set (CCSYNC_PASSPHRASE or CCSYNC_PASSPHRASE_FILE): sessions are pushed encrypted",
        ),
        Ok(None) => report.ok(
            "encryption",
            "CCSYNC_PASSPHRASE is not set: sessions are pushed unencrypted",
        ),
        Err(e) => report.fail("encryption", format!("{e:#}")),
    }
    check_claude(ctx, &mut report, git.as_ref(), branch.as_deref());
    if ctx.ui.in_actions {
        check_actions(&mut report);
    }

    report.checks
}

fn check_git(ctx: &Context, report: &mut Report) -> Option<GitRepo> {
    let cwd = match ctx.current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            report.fail("git", format!("{e:#}"));
            return None;
        }
    };
    match GitRepo::discover(&cwd) {
        Ok(Some(git)) => {
            report.ok("git", format!("git repository {}", git.root().display()));
            Some(git)
        }
        Ok(None) => {
            report.fail(
                "git",
                format!(
                    "{} is not inside a git repository: run ccsync in a checkout of your project",
                    cwd.display()
                ),
            );
            None
        }
        Err(e) => {
            report.fail("git", format!("{e:#}"));
            None
        }
    }
}

/// Where the token came from, without showing it.
fn token_source(ctx: &Context) -> &'static str {
    if ctx.global.token.as_deref().is_some_and(|t| !t.is_empty()) {
        "--token"
    } else if env_nonempty("GITHUB_TOKEN").is_some() {
        "GITHUB_TOKEN"
    } else if env_nonempty("GH_TOKEN").is_some() {
        "GH_TOKEN"
    } else {
        "`gh auth token`"
    }
}

/// The token's access to the repository and the branch's release.
fn check_github(
    ctx: &Context,
    report: &mut Report,
    slug: &RepoSlug,
    token: Token,
    branch: Option<&str>,
) {
    let api = match ctx.api_url() {
        Ok(api) => api,
        Err(e) => {
            report.fail("access", format!("{e:#}"));
            return;
        }
    };
    let (gh, rt) = match GitHub::new(api, slug.clone(), token)
        .and_then(|gh| Ok((gh, crate::release::runtime()?)))
    {
        Ok(pair) => pair,
        Err(e) => {
            report.fail("access", format!("{e:#}"));
            return;
        }
    };
    let access = match rt.block_on(gh.access()) {
        Ok(access) => access,
        Err(e) if e.status() == Some(401) => {
            report.fail(
                "access",
                format!("GitHub rejected the token (401 Bad credentials): it is wrong, expired or revoked; make a new one (`gh auth login`, or a token with `contents: write` on {slug})"),
            );
            return;
        }
        Err(e) => {
            report.fail("access", format!("{e:#}"));
            return;
        }
    };
    if !access.exists {
        report.fail(
            "access",
            format!("repository {slug} does not exist or the token cannot see it: check --repo / the `origin` remote, and that the token has access to {slug}"),
        );
        return;
    }
    let mut can_see_drafts = true;
    match access.push {
        Some(true) => report.ok(
            "access",
            format!("the token can write to {slug}, so it sees and writes draft releases"),
        ),
        Some(false) => {
            can_see_drafts = false;
            report.fail(
                "access",
                format!("the token can only read {slug}: draft releases are invisible to it and it cannot push sessions; use a token with write access (`contents: write`)"),
            );
        }
        None => report.warn(
            "access",
            format!("GitHub does not say what the token may do in {slug} (workflow tokens such as GITHUB_TOKEN get no permissions list): drafts need `permissions: contents: write`"),
        ),
    }
    let Some(branch) = branch.filter(|_| can_see_drafts) else {
        return;
    };
    match rt.block_on(gh.session_release(branch)) {
        Ok(Some(release)) => release_check(&rt, &gh, &release, report),
        Ok(None) => report.ok(
            "release",
            format!(
                "no draft release `{}` yet (`ccsync release-push` creates it)",
                names::tag_for(branch)
            ),
        ),
        Err(e) => report.fail("release", format!("{e:#}")),
    }
}

fn check_claude(ctx: &Context, report: &mut Report, git: Option<&GitRepo>, branch: Option<&str>) {
    let claude_dir = match ctx.claude_dir() {
        Ok(dir) => dir,
        Err(e) => {
            report.fail("claude-folder", format!("{e:#}"));
            return;
        }
    };
    if !claude_dir.is_dir() {
        // A fresh runner has none until the first restore creates it: normal there.
        if ctx.ui.in_actions {
            report.warn(
                "claude-folder",
                format!(
                    "no Claude folder at {} yet: normal on a fresh runner (`ccsync release-restore` creates it)",
                    claude_dir.display()
                ),
            );
        } else {
            report.fail(
                "claude-folder",
                format!(
                    "no Claude folder at {}: run Claude Code once, or point ccsync at yours with CLAUDE_CONFIG_DIR or --claude-dir",
                    claude_dir.display()
                ),
            );
        }
        return;
    }
    report.ok(
        "claude-folder",
        format!("Claude folder {}", claude_dir.display()),
    );
    if let Some(git) = git {
        check_sessions(ctx, report, &claude_dir, git, branch);
    }
}

/// The checkout's sessions, and the newest of the branch.
fn check_sessions(
    ctx: &Context,
    report: &mut Report,
    claude_dir: &std::path::Path,
    git: &GitRepo,
    branch: Option<&str>,
) {
    let project = store::project_dir(claude_dir, git.root());
    let sessions = match ctx.repository_sessions(claude_dir, git.root()) {
        Ok(sessions) => sessions,
        Err(e) => {
            report.fail("project-folder", format!("{e:#}"));
            return;
        }
    };
    if sessions.is_empty() {
        report.warn(
            "project-folder",
            format!(
                "no Claude Code session of this checkout yet (Claude Code keeps them in {}): run `claude` in {}",
                project.display(),
                git.root().display()
            ),
        );
        return;
    }
    report.ok(
        "project-folder",
        format!(
            "{} session(s) of this checkout under {}",
            sessions.len(),
            store::projects_dir(claude_dir).display()
        ),
    );
    let Some(branch) = branch else {
        return;
    };
    match sessions
        .iter()
        .find(|s| s.branch.as_deref() == Some(branch))
    {
        Some(s) => report.ok(
            "session",
            format!(
                "newest session of `{branch}`: {} (last activity {})",
                s.id,
                s.last_activity
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| "unknown".into())
            ),
        ),
        None => report.warn(
            "session",
            format!(
                "no session of branch `{branch}` yet ({} on other branches; `ccsync sessions` lists them)",
                sessions.len()
            ),
        ),
    }
}

/// In a workflow: what the job needs, and whether this is a pull request from a fork.
fn check_actions(report: &mut Report) {
    if is_fork_pull_request() {
        report.warn(
            "actions",
            "this is a pull request from a fork: its token is read-only, so restore finds nothing and push fails; run the session workflow on branches of this repository",
        );
        return;
    }
    report.ok(
        "actions",
        "running in GitHub Actions: the job needs `permissions: contents: write` to see and write draft releases",
    );
}

fn is_fork_pull_request() -> bool {
    let Some(path) = env_nonempty("GITHUB_EVENT_PATH") else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let Ok(event) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let pr = &event["pull_request"];
    if pr.is_null() {
        return false;
    }
    if let Some(fork) = pr["head"]["repo"]["fork"].as_bool() {
        let head = pr["head"]["repo"]["full_name"].as_str();
        let base = pr["base"]["repo"]["full_name"].as_str();
        return fork && head != base;
    }
    false
}

/// What the branch's release holds, read from its verified metadata (labels are hints): a damaged
/// copy fails the check with the fix, as every reader reports it.
fn release_check(
    rt: &tokio::runtime::Runtime,
    gh: &GitHub,
    release: &crate::release::SessionRelease,
    report: &mut Report,
) {
    let read = tempfile::tempdir()
        .map_err(anyhow::Error::from)
        .and_then(|scratch| {
            let read = crate::stored::read_release(rt, gh, release, scratch.path(), &|_| {}, None)?;
            Ok((read.sessions.len(), read.damaged))
        });
    match read {
        Ok((_, damaged)) if !damaged.is_empty() => report.fail(
            "release",
            format!(
                "{:#}",
                crate::stored::damaged_error(release, &damaged[0], "It cannot be restored.")
            ),
        ),
        Ok((count, _)) => report.ok(
            "release",
            format!(
                "draft release `{}` holds {count} session(s): {}",
                crate::neutral::text(&release.tag_name),
                crate::neutral::text(&release.html_url)
            ),
        ),
        Err(e) => report.fail("release", format!("{e:#}")),
    }
}

//! Turns the global options and the environment into checked settings: the Claude folder, the
//! branch, the GitHub repository, the token and API URL. The network is touched only to find a
//! pull request's head branch for a comment on it (`issue_comment`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::actions::env_nonempty;
use crate::cli::GlobalArgs;
use crate::event::{self, PullEvent, PullHead};
use crate::exit::Exit;
use crate::git::{GitRepo, RepoSlug};
use crate::release::names;
use crate::token::{self, Token};
use crate::ui::Ui;

/// What every command gets: the parsed global options and the printer.
pub struct Context<'a> {
    pub global: &'a GlobalArgs,
    pub ui: &'a Ui,
}

impl Context<'_> {
    /// The repository's sessions, newest first, through the facts cache (saved afterwards, with a
    /// `-v` line on how it went).
    pub fn repository_sessions(
        &self,
        claude_dir: &Path,
        repo_root: &Path,
    ) -> anyhow::Result<Vec<crate::store::LocalSession>> {
        let mut cache = crate::store::FactCache::from_env(claude_dir);
        let sessions = crate::store::repository_sessions_with(claude_dir, repo_root, &mut cache)?;
        cache.save();
        self.ui.detail(&cache.summary());
        Ok(sessions)
    }

    /// `--claude-dir`, else `$CLAUDE_CONFIG_DIR`, else `~/.claude`; absolute and, when it exists,
    /// with links resolved (without Windows' verbatim prefix), because the paths derived from it
    /// end up in metadata and messages.
    pub fn claude_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = match &self.global.claude_dir {
            Some(dir) => dir.clone(),
            None => std::env::home_dir()
                .context("cannot find the home folder: set CLAUDE_CONFIG_DIR or pass --claude-dir")?
                .join(".claude"),
        };
        let absolute = std::path::absolute(&dir)
            .with_context(|| format!("cannot resolve the Claude folder {}", dir.display()))?;
        Ok(std::fs::canonicalize(&absolute)
            .map(|real| PathBuf::from(crate::store::path_text(&real)))
            .unwrap_or(absolute))
    }

    /// The current folder, symlinks resolved.
    pub fn current_dir(&self) -> anyhow::Result<PathBuf> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        std::fs::canonicalize(&cwd).with_context(|| format!("cannot resolve {}", cwd.display()))
    }

    /// The git repository around the current folder, or an error that says to run inside one.
    pub fn git_repo(&self) -> anyhow::Result<GitRepo> {
        let cwd = self.current_dir()?;
        GitRepo::discover(&cwd)?.ok_or_else(|| {
            Exit::usage(format!(
                "{} is not inside a git repository: run ccsync in a checkout of your project",
                cwd.display()
            ))
            .into()
        })
    }

    /// `--repo`, else `$GITHUB_REPOSITORY`, else the `origin` remote.
    pub fn github_repo(&self, git: Option<&GitRepo>) -> anyhow::Result<RepoSlug> {
        if let Some(repo) = self.global.repo.as_deref().filter(|r| !r.is_empty()) {
            return self.repo_option(repo);
        }
        let Some(git) = git else {
            bail!(Exit::usage("no GitHub repository: pass --repo OWNER/NAME or run inside a checkout with an `origin` remote"));
        };
        match git.origin_url() {
            Some(url) => {
                // Only github.com and the server of --api-url are GitHub: a gitlab.com or
                // github.com.evil.com remote must not send the token anywhere or name a repository.
                let api_host = self.api_url().ok().and_then(|u| u.host_str().map(str::to_owned));
                let on_github = crate::git::remote_host(&url)
                    .is_some_and(|host| crate::git::is_github_host(&host, api_host.as_deref()));
                match git.github_repo().filter(|_| on_github) {
                    Some(slug) => Ok(slug),
                    None => bail!(Exit::usage(format!(
                        "the `origin` remote ({}) is not a GitHub repository (only github.com and the host of --api-url / GITHUB_API_URL{} count): pass --repo OWNER/NAME",
                        crate::git::without_credentials(&url),
                        api_host.map(|h| format!(", {h}")).unwrap_or_default()
                    ))),
                }
            }
            None => bail!(Exit::usage(
                "this repository has no `origin` remote: pass --repo OWNER/NAME or set GITHUB_REPOSITORY"
            )),
        }
    }

    /// `--repo` as `gh` takes it: `OWNER/NAME`, a URL (`https://github.com/o/r`, `git@github.com:o/r.git`,
    /// `ssh://git@github.com/o/r`) or `HOST/OWNER/NAME`. A URL's host must be GitHub (github.com or
    /// the host of --api-url): the token goes where the repository is.
    fn repo_option(&self, repo: &str) -> anyhow::Result<RepoSlug> {
        let usage = |e: anyhow::Error| -> anyhow::Error { Exit::usage(format!("{e:#}")).into() };
        let repo = repo.trim();
        let host_path = repo
            .split_once('/')
            .filter(|(host, rest)| host.contains('.') && rest.contains('/'));
        let url = if repo.contains("://") || repo.contains('@') || repo.contains(':') {
            repo.to_owned()
        } else if let Some((host, path)) = host_path {
            format!("https://{host}/{path}")
        } else {
            return repo.parse().map_err(usage);
        };
        let shown = crate::neutral::text(repo);
        let api_host = self
            .api_url()
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        let on_github = crate::git::remote_host(&url)
            .is_some_and(|host| crate::git::is_github_host(&host, api_host.as_deref()));
        match crate::git::parse_remote_url(&url).filter(|_| on_github) {
            Some(slug) => Ok(slug),
            None => bail!(Exit::usage(format!(
                "--repo `{}` is not a GitHub repository: pass OWNER/NAME, or its URL on github.com or on the host of --api-url",
                crate::git::without_credentials(&shown)
            ))),
        }
    }

    pub fn token(&self) -> anyhow::Result<Token> {
        token::resolve(self.global.token.as_deref())
    }

    /// The API base URL without a trailing slash.
    pub fn api_url(&self) -> anyhow::Result<url::Url> {
        let raw = self.global.api_url.trim_end_matches('/');
        let url = url::Url::parse(raw).map_err(|e| {
            Exit::usage(format!("--api-url `{raw}` is not a URL ({e}); e.g. https://api.github.com or https://HOST/api/v3"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!(Exit::usage(format!(
                "--api-url `{raw}` must be an http(s) URL"
            )));
        }
        Ok(url)
    }
}

/// The branch a command works on, or why this run has none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BranchChoice {
    /// A branch key (a fork's branch is `owner:branch`, see [`crate::release::names::head_branch_key`]).
    Branch(String),
    /// An Actions run for a comment on a plain issue: there is no branch to work on.
    NoBranch(String),
}

impl BranchChoice {
    /// The branch, or a usage error that says why there is none (for commands that need one).
    pub fn required(self) -> anyhow::Result<String> {
        match self {
            BranchChoice::Branch(branch) => Ok(branch),
            BranchChoice::NoBranch(why) => bail!(Exit::usage(format!("{why}: pass --branch NAME"))),
        }
    }
}

impl Context<'_> {
    /// The branch of this run (see [`resolve_branch`]); asks GitHub for a pull request's head
    /// only when the run is for a comment on one.
    pub fn branch(
        &self,
        explicit: Option<&str>,
        git: Option<&GitRepo>,
    ) -> anyhow::Result<BranchChoice> {
        let base = || -> anyhow::Result<RepoSlug> { self.github_repo(git) };
        let pull = |number: u64| -> anyhow::Result<PullHead> {
            let gh = crate::release::GitHub::new(self.api_url()?, base()?, self.token()?)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the network runtime")?;
            rt.block_on(gh.pull_head(number)).with_context(|| {
                format!("cannot find the branch of pull request #{number}, which this comment belongs to")
            })
        };
        // The payload matters only when no --branch names the branch.
        let event = match explicit.filter(|b| !b.is_empty()) {
            None if crate::actions::in_actions() => event::current()?,
            _ => None,
        };
        resolve_branch(explicit, git, event, &base, &pull)
    }
}

/// The branch (DESIGN.md, "Commands"): `--branch`; else in Actions the pull request's head branch
/// (from the event payload, or `GET /pulls/{n}` for a comment on a pull request; a fork's branch
/// as `owner:branch`), else `$GITHUB_HEAD_REF`, else `$GITHUB_REF_NAME`; else the checked-out
/// branch. A comment on a plain issue has no branch; a detached HEAD with none of these is an error.
pub fn resolve_branch(
    explicit: Option<&str>,
    git: Option<&GitRepo>,
    event: Option<PullEvent>,
    base: &dyn Fn() -> anyhow::Result<RepoSlug>,
    pull: &dyn Fn(u64) -> anyhow::Result<PullHead>,
) -> anyhow::Result<BranchChoice> {
    if let Some(branch) = explicit.filter(|b| !b.is_empty()) {
        return Ok(BranchChoice::Branch(branch.to_owned()));
    }
    if crate::actions::in_actions() {
        let head = match event {
            Some(PullEvent::Head(head)) => Some(head),
            Some(PullEvent::Comment { number }) => Some(pull(number)?),
            Some(PullEvent::IssueComment { number }) => {
                return Ok(BranchChoice::NoBranch(format!(
                    "this run is for a comment on issue #{number}, which is not a pull request, so it has no branch"
                )))
            }
            None => None,
        };
        if let Some(head) = head {
            return Ok(BranchChoice::Branch(head_key(&head, base)?));
        }
        if let Some(branch) =
            env_nonempty("GITHUB_HEAD_REF").or_else(|| env_nonempty("GITHUB_REF_NAME"))
        {
            return Ok(BranchChoice::Branch(branch));
        }
    }
    match git {
        Some(git) => git.current_branch().map(BranchChoice::Branch).ok_or_else(|| {
            Exit::usage("HEAD is detached, so there is no current branch: pass --branch NAME").into()
        }),
        None => bail!(Exit::usage(
            "not inside a git repository, so there is no current branch: pass --branch NAME or run in a checkout"
        )),
    }
}

/// A `--branch` value as git would take it: `refs/heads/` is dropped (so `refs/heads/main` is
/// `main`), and the rest must be a valid branch name by git's own rules (`git check-ref-format
/// --branch`: no spaces, no `~^:?*[\`, no `..`, no control characters, no leading `-`). A fork's
/// branch key `owner:branch` (see [`names::head_branch_key`]) is taken too. Anything else is a
/// usage error before any request: GitHub would answer `422 Validation Failed`.
pub fn checked_branch(raw: &str) -> anyhow::Result<String> {
    let shown = crate::neutral::text(raw);
    if raw.trim().is_empty() {
        bail!(Exit::usage(format!(
            "--branch `{shown}` is empty: pass a branch name, or leave --branch out for the current branch"
        )));
    }
    let branch = raw.strip_prefix("refs/heads/").unwrap_or(raw);
    let (owner, name) = match branch.split_once(':') {
        Some((owner, name)) => (Some(owner), name),
        None => (None, branch),
    };
    let owner_ok = owner.is_none_or(|o| {
        !o.is_empty()
            && !o.starts_with('-')
            && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    let name_ok = !name.is_empty()
        && !name.starts_with('-')
        && git2::Reference::is_valid_name(&format!("refs/heads/{name}"));
    if !owner_ok || !name_ok {
        bail!(Exit::usage(format!(
            "--branch `{shown}` is not a valid branch name (git refuses spaces, control characters, `~ ^ : ? * [ \\`, `..`, `@{{`, a leading `-` and a trailing `.lock` or `/`): pass the name `git branch` shows, or `owner:branch` for a fork's branch"
        )));
    }
    Ok(branch.to_owned())
}

/// A pull request head's branch key: a head in another repository than the run's is a fork's.
fn head_key(
    head: &PullHead,
    base: &dyn Fn() -> anyhow::Result<RepoSlug>,
) -> anyhow::Result<String> {
    let base = match env_nonempty("GITHUB_REPOSITORY") {
        Some(name) => name,
        None => base()?.to_string(),
    };
    let base_owner = base.split('/').next().unwrap_or_default();
    let fork_owner = match &head.repo_full_name {
        Some(full) if full.eq_ignore_ascii_case(&base) => None,
        Some(full) => Some(full.split('/').next().unwrap_or(full).to_owned()),
        // The fork was deleted: its owner is still in the label (`owner:branch`).
        None => Some(
            head.label
                .as_deref()
                .and_then(|l| l.split_once(':'))
                .map_or("unknown-fork", |(owner, _)| owner)
                .to_owned(),
        )
        .filter(|owner| !owner.eq_ignore_ascii_case(base_owner)),
    };
    Ok(names::head_branch_key(&head.branch, fork_owner.as_deref()))
}

/// The folder where `claude` will run for a restore: `--cwd`, else `$GITHUB_WORKSPACE` in Actions,
/// else the current folder; symlinks resolved as Claude Code resolves them.
pub fn resolve_claude_cwd(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let folder = match explicit {
        Some(dir) => dir.to_path_buf(),
        None => match crate::actions::in_actions()
            .then(|| env_nonempty("GITHUB_WORKSPACE"))
            .flatten()
        {
            Some(ws) => PathBuf::from(ws),
            None => std::env::current_dir().context("cannot read the current folder")?,
        },
    };
    std::fs::canonicalize(&folder).map_err(|e| {
        Exit::usage(format!(
            "the folder {} does not exist ({e}): pass --cwd with the folder where claude will run",
            folder.display()
        ))
        .into()
    })
}

//! Turns the global options and the environment into checked settings: the Claude folder, the
//! branch, the GitHub repository, the token and API URL. Nothing here touches the network.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::actions::env_nonempty;
use crate::cli::GlobalArgs;
use crate::exit::Exit;
use crate::git::{GitRepo, RepoSlug};
use crate::token::{self, Token};
use crate::ui::Ui;

/// What every command gets: the parsed global options and the printer.
pub struct Context<'a> {
    pub global: &'a GlobalArgs,
    pub ui: &'a Ui,
}

impl Context<'_> {
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
            return repo
                .parse()
                .map_err(|e: anyhow::Error| Exit::usage(format!("{e:#}")).into());
        }
        let Some(git) = git else {
            bail!(Exit::usage("no GitHub repository: pass --repo OWNER/NAME or run inside a checkout with an `origin` remote"));
        };
        match git.origin_url() {
            Some(url) => git.github_repo().ok_or_else(|| {
                Exit::usage(format!(
                    "the `origin` remote ({url}) is not a GitHub repository: pass --repo OWNER/NAME"
                ))
                .into()
            }),
            None => bail!(Exit::usage(
                "this repository has no `origin` remote: pass --repo OWNER/NAME or set GITHUB_REPOSITORY"
            )),
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

/// The branch: `--branch`, else in Actions `$GITHUB_HEAD_REF` when non-empty, else
/// `$GITHUB_REF_NAME`, else the checked-out branch. A detached HEAD with none of these is an error.
pub fn resolve_branch(explicit: Option<&str>, git: Option<&GitRepo>) -> anyhow::Result<String> {
    if let Some(branch) = explicit.filter(|b| !b.is_empty()) {
        return Ok(branch.to_owned());
    }
    if crate::actions::in_actions() {
        if let Some(branch) =
            env_nonempty("GITHUB_HEAD_REF").or_else(|| env_nonempty("GITHUB_REF_NAME"))
        {
            return Ok(branch);
        }
    }
    match git {
        Some(git) => git.current_branch().ok_or_else(|| {
            Exit::usage("HEAD is detached, so there is no current branch: pass --branch NAME").into()
        }),
        None => bail!(Exit::usage(
            "not inside a git repository, so there is no current branch: pass --branch NAME or run in a checkout"
        )),
    }
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
    std::fs::canonicalize(&folder).with_context(|| {
        format!(
            "the folder {} does not exist: pass --cwd with the folder where claude will run",
            folder.display()
        )
    })
}

//! The git repository around the working folder: its root, branch, commit and GitHub remote.
//! Uses git2 without default features (no OpenSSL, no SSH): ccsync only reads local state.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context};

/// A GitHub repository, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSlug {
    pub owner: String,
    pub name: String,
}

impl fmt::Display for RepoSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl FromStr for RepoSlug {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        match s.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => Ok(RepoSlug {
                owner: owner.to_owned(),
                name: name.to_owned(),
            }),
            _ => bail!("`{s}` is not a GitHub repository: expected OWNER/NAME, e.g. octo-org/app"),
        }
    }
}

/// The GitHub repository of a remote URL: `https://github.com/o/r(.git)`, `git@github.com:o/r(.git)`,
/// `ssh://git@host/o/r`, and GitHub Enterprise hosts alike. `None` for anything else.
pub fn parse_remote_url(url: &str) -> Option<RepoSlug> {
    let url = url.trim();
    let path = if let Some((_, rest)) = url.split_once("://") {
        // scheme://[user@]host[:port]/owner/name
        rest.split_once('/')?.1
    } else if let Some((host, path)) = url.split_once(':') {
        // scp-like: [user@]host:owner/name
        if host.contains('/') {
            return None;
        }
        path
    } else {
        return None;
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut parts = path.rsplitn(2, '/');
    let name = parts.next()?;
    let owner = parts.next()?.rsplit('/').next()?;
    format!("{owner}/{name}").parse().ok()
}

/// The host of a remote URL (`https://[user@]host[:port]/...`, `ssh://[user@]host[:port]/...`,
/// scp-like `[user@]host:path`), lower-cased; `None` for a local path.
pub fn remote_host(url: &str) -> Option<String> {
    let url = url.trim();
    let authority = if let Some((_, rest)) = url.split_once("://") {
        rest.split('/').next()?
    } else {
        let (host, _) = url.split_once(':')?;
        if host.contains('/') {
            return None;
        }
        host
    };
    let host = authority.rsplit('@').next()?;
    // `[v6::addr]:port` or `host:port`.
    let host = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next()?
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// A remote URL fit to print: `https://user:password@host/...` loses its user part.
pub fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}/{path}")
        }
        None => url.to_owned(),
    }
}

/// Whether a remote on `host` is GitHub for an API at `api_host`: github.com (and its SSH-over-443
/// host), or the server of the API (GitHub Enterprise Server `HOST/api/v3`, GHE.com `api.HOST`).
pub fn is_github_host(host: &str, api_host: Option<&str>) -> bool {
    let host = host.to_ascii_lowercase();
    if matches!(
        host.as_str(),
        "github.com" | "www.github.com" | "ssh.github.com"
    ) {
        return true;
    }
    api_host.is_some_and(|api| {
        let api = api.to_ascii_lowercase();
        host == api || api.strip_prefix("api.") == Some(host.as_str())
    })
}

/// An open git repository with a work tree.
pub struct GitRepo {
    repo: git2::Repository,
    root: PathBuf,
}

impl GitRepo {
    /// The repository containing `folder`, or `None` when `folder` is in none.
    pub fn discover(folder: &Path) -> anyhow::Result<Option<GitRepo>> {
        let repo = match git2::Repository::discover(folder) {
            Ok(repo) => repo,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot open the git repository at {}", folder.display())
                })
            }
        };
        let Some(workdir) = repo.workdir() else {
            bail!(
                "{} is a bare git repository: run ccsync in a checkout",
                folder.display()
            );
        };
        let root = std::fs::canonicalize(workdir)
            .with_context(|| format!("cannot resolve {}", workdir.display()))?;
        Ok(Some(GitRepo { repo, root }))
    }

    /// The repository root, symlinks resolved (as Claude Code resolves its working folder).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The checked-out branch; `None` on a detached HEAD.
    pub fn current_branch(&self) -> Option<String> {
        let head = match self.repo.head() {
            Ok(head) => head,
            // An unborn branch (fresh `git init`): HEAD still names it.
            Err(_) => {
                let reference = self.repo.find_reference("HEAD").ok()?;
                let target = reference.symbolic_target()?;
                return target.strip_prefix("refs/heads/").map(str::to_owned);
            }
        };
        if !head.is_branch() {
            return None;
        }
        head.shorthand().map(str::to_owned)
    }

    /// The commit HEAD points at, if any.
    pub fn head_commit(&self) -> Option<String> {
        self.repo
            .head()
            .ok()?
            .peel_to_commit()
            .ok()
            .map(|c| c.id().to_string())
    }

    /// The URL of the `origin` remote.
    pub fn origin_url(&self) -> Option<String> {
        self.repo
            .find_remote("origin")
            .ok()?
            .url()
            .map(str::to_owned)
    }

    /// The GitHub repository of the `origin` remote.
    pub fn github_repo(&self) -> Option<RepoSlug> {
        self.origin_url().as_deref().and_then(parse_remote_url)
    }

    /// The `.git` folder (for hooks).
    pub fn git_dir(&self) -> &Path {
        self.repo.path()
    }

    /// True when the local repository has a branch of that name.
    pub fn has_local_branch(&self, name: &str) -> bool {
        self.repo.find_branch(name, git2::BranchType::Local).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_url_forms() {
        let expect = Some(RepoSlug {
            owner: "octo".into(),
            name: "app".into(),
        });
        for url in [
            "https://github.com/octo/app",
            "https://github.com/octo/app.git",
            "https://github.com/octo/app/",
            "https://user:pw@github.com/octo/app.git",
            "git@github.com:octo/app.git",
            "git@github.com:octo/app",
            "ssh://git@github.com/octo/app.git",
            "ssh://git@github.com:22/octo/app",
            "https://ghe.example.com/octo/app.git",
        ] {
            assert_eq!(parse_remote_url(url), expect, "{url}");
        }
        assert_eq!(parse_remote_url("/local/path/repo"), None);
        assert_eq!(parse_remote_url("https://github.com/onlyowner"), None);
    }

    #[test]
    fn only_github_hosts_count() {
        let github = |url: &str, api: Option<&str>| {
            remote_host(url).is_some_and(|h| is_github_host(&h, api))
        };
        for url in [
            "https://github.com/octo/app.git",
            "git@github.com:octo/app.git",
            "ssh://git@ssh.github.com:443/octo/app.git",
            "https://user:pw@GitHub.com/octo/app",
        ] {
            assert!(github(url, Some("api.github.com")), "{url}");
        }
        for url in [
            "https://gitlab.com/octo/app.git",
            "git@bitbucket.org:octo/app.git",
            "https://github.com.evil.com/octo/app.git",
            "git@github.com.evil.com:octo/app.git",
            "https://evilgithub.com/octo/app",
            "/local/path",
        ] {
            assert!(!github(url, Some("api.github.com")), "{url}");
        }
        assert!(github(
            "https://ghe.example.com/octo/app.git",
            Some("ghe.example.com")
        ));
        assert!(github(
            "git@octo.ghe.com:octo/app.git",
            Some("api.octo.ghe.com")
        ));
        assert!(!github(
            "https://ghe.example.com/octo/app.git",
            Some("api.github.com")
        ));
    }

    #[test]
    fn slug_validation() {
        assert!("octo/app".parse::<RepoSlug>().is_ok());
        assert!("octo".parse::<RepoSlug>().is_err());
        assert!("octo/app/x".parse::<RepoSlug>().is_err());
        assert!("../app".parse::<RepoSlug>().is_err());
    }
}

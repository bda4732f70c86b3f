//! The repository itself: whether the token can see it and push, whether a branch exists, and
//! the head branch of a pull request.

use reqwest::Method;
use serde::Deserialize;

use super::client::{encode, unexpected, GitHub};
use super::error::Result;
use super::transport::Replay;

/// What the token may do in the repository (`GET /repos/{o}/{r}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The repository exists and the token can read it.
    pub exists: bool,
    /// `permissions.push`; `None` when GitHub does not say (installation tokens such as
    /// `GITHUB_TOKEN` get no `permissions` object).
    pub push: Option<bool>,
    pub private: Option<bool>,
    pub full_name: Option<String>,
}

#[derive(Deserialize)]
struct RepoJson {
    full_name: Option<String>,
    private: Option<bool>,
    permissions: Option<PermissionsJson>,
}

#[derive(Deserialize)]
struct PermissionsJson {
    push: Option<bool>,
}

impl GitHub {
    /// Whether the branch exists on GitHub (`release-prune --gone`).
    pub async fn branch_exists(&self, branch: &str) -> Result<bool> {
        let what = format!("looking up branch `{branch}` of {}", self.repo);
        let url = self.repo_url(&format!("/branches/{}", encode(branch)));
        match self
            .http
            .send(&what, Replay::Idempotent, || {
                self.http.github(Method::GET, &url)
            })
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => {
                // A 404 for the branch and for the whole repository look alike: tell them apart.
                if self.access().await?.exists {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The head of pull request `number` (`GET /repos/{o}/{r}/pulls/{number}`): what an
    /// `issue_comment` on a pull request runs for.
    pub async fn pull_head(&self, number: u64) -> Result<crate::event::PullHead> {
        let what = format!("reading pull request #{number} of {}", self.repo);
        let url = self.repo_url(&format!("/pulls/{number}"));
        let response = self
            .http
            .send(&what, Replay::Idempotent, || {
                self.http.github(Method::GET, &url)
            })
            .await?;
        let body = response.bytes().await.map_err(|e| unexpected(&what, e))?;
        crate::event::parse_pull(&body).map_err(|e| {
            super::Error::Unexpected(format!("{what}: GitHub's answer could not be read ({e})"))
        })
    }

    /// Whether the repository is visible to the token and whether it may push (see drafts).
    pub async fn access(&self) -> Result<Access> {
        let what = format!("reading repository {}", self.repo);
        let url = self.repo_url("");
        match self
            .http
            .send(&what, Replay::Idempotent, || {
                self.http.github(Method::GET, &url)
            })
            .await
        {
            Ok(response) => {
                let repo: RepoJson = response.json().await.map_err(|e| unexpected(&what, e))?;
                Ok(Access {
                    exists: true,
                    push: repo.permissions.and_then(|p| p.push),
                    private: repo.private,
                    full_name: repo.full_name,
                })
            }
            Err(e) if e.is_not_found() => Ok(Access {
                exists: false,
                push: None,
                private: None,
                full_name: None,
            }),
            Err(e) => Err(e),
        }
    }
}

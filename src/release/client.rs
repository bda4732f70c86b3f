//! [`GitHub`]: the client for one repository's session releases, and what its parts share.
//!
//! Its methods live by concern: `lookup` and `graphql` (finding releases), `draft` (the
//! branch's draft for writing), `assets` (upload, rename, delete), `download`
//! (verified downloads) and `repository` (the repository and its branches).
//!
//! Rules this client keeps (docs/github-api.md): a draft is found by its tag with GraphQL and read
//! by id (two requests at any repository size), by listing releases when GraphQL cannot answer,
//! never via `/releases/tags/{tag}`; a create is never retried blindly (a lost answer is checked by
//! listing again); duplicate drafts met by a listing are read as one and converged into the lowest
//! id; a published release
//! of a session tag is never written; an asset is replaced by uploading under a temporary name,
//! deleting the old one, then renaming, so a complete copy exists at every instant; uploads stream
//! from disk with `Content-Length` to the host of `upload_url`; downloads follow a 302 without the
//! token and are checked for size and sha256 before they count.

use std::collections::HashSet;
use std::sync::Mutex;

use reqwest::Method;
use url::Url;

use super::error::{Error, Result};
use super::model::SessionRelease;
use super::transport::{Replay, RetryPolicy, Transport};
use crate::git::RepoSlug;
use crate::token::Token;

/// A GitHub REST client for one repository's session releases.
pub struct GitHub {
    pub(super) http: Transport,
    pub(super) api: Url,
    pub(super) repo: RepoSlug,
    /// Temporary asset names this client created: their `starter` leftovers are ours to delete.
    pub(super) own_temps: Mutex<HashSet<String>>,
}

impl GitHub {
    pub fn new(api_url: Url, repo: RepoSlug, token: Token) -> anyhow::Result<Self> {
        Self::with_retry_policy(api_url, repo, token, RetryPolicy::from_env())
    }

    pub fn with_retry_policy(
        api_url: Url,
        repo: RepoSlug,
        token: Token,
        policy: RetryPolicy,
    ) -> anyhow::Result<Self> {
        if !matches!(api_url.scheme(), "http" | "https") {
            anyhow::bail!("--api-url must be an http(s) URL, e.g. https://api.github.com or https://HOST/api/v3");
        }
        Ok(GitHub {
            http: Transport::new(token, policy)?,
            api: api_url,
            repo,
            own_temps: Mutex::new(HashSet::new()),
        })
    }

    /// HTTP requests made so far (API, uploads and storage).
    pub fn request_count(&self) -> u64 {
        self.http.request_count()
    }

    pub(super) fn repo_url(&self, rest: &str) -> String {
        format!(
            "{}/repos/{}/{}{rest}",
            self.api.as_str().trim_end_matches('/'),
            encode(&self.repo.owner),
            encode(&self.repo.name)
        )
    }

    /// `DELETE url`; a resource that is already gone counts as deleted (a retried delete whose
    /// first answer was lost finds it gone).
    pub(super) async fn delete(&self, what: &str, url: &str) -> Result<()> {
        match self
            .http
            .send(what, Replay::Idempotent, || {
                self.http.github(Method::DELETE, url)
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

pub(super) fn refuse_published(release: &SessionRelease) -> Result<()> {
    if release.draft {
        Ok(())
    } else {
        Err(Error::Published {
            tag: release.tag_name.clone(),
            url: release.html_url.clone(),
        })
    }
}

pub(super) fn tag_assets(release: &mut SessionRelease) {
    for asset in &mut release.assets {
        asset.release_id = release.id;
    }
}

pub(super) fn unexpected(what: &str, err: reqwest::Error) -> Error {
    Error::Unexpected(format!("{what}: GitHub's answer could not be read ({err})"))
}

/// Percent-encodes one path segment (branch names hold `/`).
pub(super) fn encode(segment: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(segment, SET).to_string()
}

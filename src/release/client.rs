//! [`GitHub`]: the branch's draft release and its assets, over GitHub's REST API.
//!
//! Rules this client keeps (docs/github-api.md): drafts are found by listing releases, never via
//! `/releases/tags/{tag}`; a create is never retried blindly (a lost answer is checked by listing
//! again); duplicate drafts are read as one and converged into the lowest id; a published release
//! of a session tag is never written; an asset is replaced by uploading under a temporary name,
//! deleting the old one, then renaming, so a complete copy exists at every instant; uploads stream
//! from disk with `Content-Length` to the host of `upload_url`; downloads follow a 302 without the
//! token and are checked for size and sha256 before they count.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;

use super::error::{Error, Result};
use super::names;
use super::transport::{Replay, RetryPolicy, Transport};
use crate::git::RepoSlug;
use crate::token::Token;

/// A `starter` (half-uploaded) or temporary asset older than this is abandoned, whoever made it: no
/// upload of a session takes an hour. Younger ones may be another writer's upload in flight.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A session release: one draft, or the merged view of several drafts that share the tag.
#[derive(Clone, Debug, Deserialize)]
pub struct SessionRelease {
    pub id: u64,
    pub tag_name: String,
    pub name: Option<String>,
    pub draft: bool,
    pub body: Option<String>,
    pub html_url: String,
    pub upload_url: String,
    /// Readable assets only (state `uploaded`). In a merged view, each session's assets come from
    /// the draft with its newest copy; [`Asset::release_id`] says which.
    pub assets: Vec<Asset>,
    pub created_at: Option<String>,
    /// Other drafts with the same tag (higher ids), merged into this view.
    #[serde(skip)]
    pub duplicate_ids: Vec<u64>,
}

impl SessionRelease {
    /// The readable asset of that name, if any.
    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.iter().find(|a| a.name == name)
    }

    /// The branch this release is for.
    pub fn branch(&self) -> Option<&str> {
        names::branch_of_tag(&self.tag_name)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Asset {
    pub id: u64,
    /// The name the session knows it by. Differs from the name stored on GitHub only for a temporary
    /// upload whose rename was interrupted (it is the only copy then, and reads as the final name).
    pub name: String,
    pub size: u64,
    pub state: String,
    pub digest: Option<String>,
    pub content_type: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// The release that holds the asset.
    #[serde(skip)]
    pub release_id: u64,
    /// The name on GitHub when it is a temporary name (see `name`).
    #[serde(skip)]
    pub stored_name: Option<String>,
}

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

/// A GitHub REST client for one repository's session releases.
pub struct GitHub {
    http: Transport,
    api: Url,
    repo: RepoSlug,
    /// Temporary asset names this client created: their `starter` leftovers are ours to delete.
    own_temps: Mutex<HashSet<String>>,
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

    fn repo_url(&self, rest: &str) -> String {
        format!(
            "{}/repos/{}/{}{rest}",
            self.api.as_str().trim_end_matches('/'),
            encode(&self.repo.owner),
            encode(&self.repo.name)
        )
    }

    // ---- reading -----------------------------------------------------------------------------

    /// Every release of the repository the token can see, following `Link: rel="next"`.
    async fn all_releases(&self) -> Result<Vec<SessionRelease>> {
        let what = format!("listing the releases of {}", self.repo);
        let mut url = self.repo_url("/releases?per_page=100");
        let mut out = Vec::new();
        let mut pages = 0;
        loop {
            pages += 1;
            let response = self
                .http
                .send(&what, Replay::Idempotent, || {
                    self.http.github(Method::GET, &url)
                })
                .await?;
            let next = next_link(response.headers());
            let mut page: Vec<SessionRelease> =
                response.json().await.map_err(|e| unexpected(&what, e))?;
            for release in &mut page {
                tag_assets(release);
            }
            out.extend(page);
            match next {
                // Follow only links to the API we talk to: the token goes with them.
                Some(next) if same_origin(&next, &self.api) && pages < 1000 => url = next,
                _ => return Ok(out),
            }
        }
    }

    /// The drafts with the branch's tag, lowest id first; an error if a published release has it.
    async fn drafts_for(&self, branch: &str) -> Result<Vec<SessionRelease>> {
        let tag = names::tag_for(branch);
        let mut matching: Vec<SessionRelease> = self
            .all_releases()
            .await?
            .into_iter()
            .filter(|r| r.tag_name == tag)
            .collect();
        if let Some(published) = matching.iter().find(|r| !r.draft) {
            return Err(Error::Published {
                tag,
                url: published.html_url.clone(),
            });
        }
        matching.sort_by_key(|r| r.id);
        Ok(matching)
    }

    /// The branch's draft release, or `None`. Several drafts (a lost race) read as one: the lowest
    /// id, with every session any of them holds.
    pub async fn session_release(&self, branch: &str) -> Result<Option<SessionRelease>> {
        let drafts = self.drafts_for(branch).await?;
        Ok((!drafts.is_empty()).then(|| merged_view(drafts)))
    }

    /// Every release whose tag starts with `claude-sessions-`, drafts and published, each on its own
    /// (duplicates are listed separately).
    pub async fn list_session_releases(&self) -> Result<Vec<SessionRelease>> {
        let mut releases: Vec<SessionRelease> = self
            .all_releases()
            .await?
            .into_iter()
            .filter(|r| r.tag_name.starts_with(names::TAG_PREFIX))
            .map(|r| merged_view(vec![r]))
            .collect();
        releases.sort_by(|a, b| a.tag_name.cmp(&b.tag_name).then(a.id.cmp(&b.id)));
        Ok(releases)
    }

    /// `GET /releases/{id}` as stored (every asset, any state).
    async fn get_release_raw(&self, id: u64) -> Result<SessionRelease> {
        let what = format!("reading release {id} of {}", self.repo);
        let url = self.repo_url(&format!("/releases/{id}"));
        let response = self
            .http
            .send(&what, Replay::Idempotent, || {
                self.http.github(Method::GET, &url)
            })
            .await?;
        let mut release: SessionRelease =
            response.json().await.map_err(|e| unexpected(&what, e))?;
        tag_assets(&mut release);
        Ok(release)
    }

    /// The release as it is now (readable assets only).
    pub async fn refresh(&self, release: &SessionRelease) -> Result<SessionRelease> {
        Ok(merged_view(vec![self.get_release_raw(release.id).await?]))
    }

    // ---- the branch's draft, for writing -----------------------------------------------------

    /// The branch's draft release, created when missing, and converged into one when a race left
    /// several. Never writes into a published release.
    pub async fn session_release_for_write(&self, branch: &str) -> Result<SessionRelease> {
        let tag = names::tag_for(branch);
        let mut created: Option<SessionRelease> = None;
        for _ in 0..4 {
            let mut drafts = self.drafts_for(branch).await?;
            // A listing may lag behind a create that just answered: keep what we made.
            if let Some(mine) = &created {
                if !drafts.iter().any(|d| d.id == mine.id) {
                    drafts.push(mine.clone());
                    drafts.sort_by_key(|r| r.id);
                }
            }
            if !drafts.is_empty() {
                return self.converge(drafts).await;
            }
            match self.create_draft(branch, &tag).await {
                Ok(release) => created = Some(release),
                // The answer was lost or the create collided: look again before anything else.
                Err(err) if err.is_ambiguous() || err.is_already_exists() => continue,
                Err(err) => return Err(err),
            }
        }
        Err(Error::Unexpected(format!(
            "creating the draft release `{tag}` in {} failed repeatedly; try again later",
            self.repo
        )))
    }

    /// `POST /releases` once: never repeated after it may have reached GitHub.
    async fn create_draft(&self, branch: &str, tag: &str) -> Result<SessionRelease> {
        let what = format!("creating the draft release `{tag}` in {}", self.repo);
        let url = self.repo_url("/releases");
        let body = json!({
            "tag_name": tag,
            "name": names::release_name(branch),
            "body": format!("{}\nClaude Code sessions of branch `{branch}`, stored by ccsync. This release stays a draft: do not publish it.\n", names::BODY_MARKER),
            "draft": true,
            "prerelease": false,
        });
        let response = self
            .http
            .send(&what, Replay::OnlyIfRejected, || {
                self.http.github(Method::POST, &url).json(&body)
            })
            .await?;
        let mut release: SessionRelease =
            response.json().await.map_err(|e| unexpected(&what, e))?;
        tag_assets(&mut release);
        Ok(release)
    }

    /// Makes the lowest-id draft hold every session of `drafts` (newest copy of each), then deletes
    /// the others. Every copy is verified before any draft goes.
    async fn converge(&self, drafts: Vec<SessionRelease>) -> Result<SessionRelease> {
        let chosen_raw = drafts[0].clone();
        let view = merged_view(drafts.clone());
        // Finish renames that an interrupted writer left behind (the temp is the only copy).
        let mut renamed = false;
        for asset in view
            .assets
            .iter()
            .filter(|a| a.release_id == chosen_raw.id && a.stored_name.is_some())
        {
            match self.rename_asset(asset.id, &asset.name).await {
                Ok(_) => renamed = true,
                Err(e) if e.is_already_exists() || e.is_not_found() => renamed = true,
                Err(e) => return Err(e),
            }
        }
        if drafts.len() == 1 {
            // The listing that found the draft is as fresh as a read would be, unless we just
            // changed it.
            if !renamed {
                return Ok(view);
            }
            return self.refresh(&chosen_raw).await;
        }
        let scratch =
            tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
        for asset in view.assets.iter().filter(|a| a.release_id != chosen_raw.id) {
            let file = scratch.path().join(format!("{}", asset.id));
            self.download_asset(asset, &file, None).await?;
            let content_type = asset
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            self.upload_asset(&chosen_raw, &asset.name, &file, &content_type)
                .await?;
            let _ = std::fs::remove_file(&file);
        }
        let now = self.refresh(&chosen_raw).await?;
        let missing: Vec<&str> = view
            .assets
            .iter()
            .map(|a| a.name.as_str())
            .filter(|name| now.asset(name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(Error::Unexpected(format!(
                "merging the duplicate drafts `{}` left {} without {}; nothing was deleted, try again",
                chosen_raw.tag_name,
                chosen_raw.id,
                missing.join(", ")
            )));
        }
        for duplicate in &drafts[1..] {
            self.delete_release(duplicate).await?;
        }
        Ok(now)
    }

    // ---- assets ------------------------------------------------------------------------------

    /// Uploads `file` as asset `name`, replacing any asset of that name without a moment with no
    /// complete copy: upload under a temporary name, delete the old asset, rename. Returns the asset
    /// with the name GitHub gave it.
    pub async fn upload_asset(
        &self,
        release: &SessionRelease,
        name: &str,
        file: &Path,
        content_type: &str,
    ) -> Result<Asset> {
        refuse_published(release)?;
        let what = format!(
            "uploading {name} to release `{}` of {}",
            release.tag_name, self.repo
        );
        let length = std::fs::metadata(file)
            .map_err(|e| Error::io(format!("{what}: reading {}", file.display()), e))?
            .len();
        let current = self.get_release_raw(release.id).await?;
        refuse_published(&current)?;
        self.clean_leftovers(&current).await?;

        let started = Instant::now();
        let mut attempt = 0;
        let uploaded = loop {
            let temp = names::temp_asset_name(name, &nonce());
            self.own_temps.lock().unwrap().insert(temp.clone());
            let err = match self
                .post_asset(
                    &what,
                    &current.upload_url,
                    &temp,
                    file,
                    length,
                    content_type,
                )
                .await
            {
                Ok((asset, sha)) => match verify_uploaded(&asset, length, &sha) {
                    Ok(()) => break asset,
                    Err(e) => {
                        self.delete_asset(&asset).await?;
                        e
                    }
                },
                Err(err) => err,
            };
            // The upload's fate is unknown: look at the temporary name first. A complete copy
            // (the answer was lost) is kept; anything else is deleted, so no `starter` stays behind
            // whether or not we try again.
            if let Ok(Some(found)) = self.settle_temp(release.id, &temp, length).await {
                break found;
            }
            attempt += 1;
            let Some(delay) = self
                .http
                .retry_delay(&err, attempt, Replay::Idempotent, started)
            else {
                return Err(err);
            };
            tokio::time::sleep(delay).await;
        };

        // GitHub stores odd names renamed; the old copy of an odd name is under that form.
        let github_name = names::as_github_stores(name);
        let github_name = github_name.as_str();
        // Replace: delete the old asset(s) of that name, then rename. A concurrent writer may win the
        // name between the two; then its copy is the old one and goes the same way. The first round
        // works from the read made before the upload: an asset that took the name since makes the
        // rename fail, and the next round reads again.
        let mut now = current;
        for round in 0..4 {
            if round > 0 {
                now = self.get_release_raw(release.id).await?;
            }
            for old in now
                .assets
                .iter()
                .filter(|a| (a.name == name || a.name == github_name) && a.id != uploaded.id)
            {
                self.delete_asset(old).await?;
            }
            match self.rename_asset(uploaded.id, name).await {
                Ok(mut asset) => {
                    asset.release_id = release.id;
                    self.own_temps.lock().unwrap().remove(&uploaded.name);
                    return Ok(asset);
                }
                Err(e) if e.is_already_exists() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Unexpected(format!(
            "{what}: another writer keeps taking the name {name}; try again"
        )))
    }

    /// After a failed upload under `temp`: the asset if it arrived complete, else `None` after
    /// deleting whatever half of it GitHub kept.
    async fn settle_temp(&self, release_id: u64, temp: &str, length: u64) -> Result<Option<Asset>> {
        let now = self.get_release_raw(release_id).await?;
        let Some(found) = now.assets.iter().find(|a| a.name == temp) else {
            return Ok(None);
        };
        if found.state == "uploaded" && found.size == length {
            return Ok(Some(found.clone()));
        }
        self.delete_asset(found).await?;
        Ok(None)
    }

    /// One streamed upload from disk. Returns the asset and the sha256 of the bytes sent.
    async fn post_asset(
        &self,
        what: &str,
        upload_url: &str,
        name: &str,
        file: &Path,
        length: u64,
        content_type: &str,
    ) -> Result<(Asset, String)> {
        let mut url = upload_target(upload_url).ok_or_else(|| {
            Error::Unexpected(format!(
                "{what}: GitHub gave an upload_url ccsync cannot use: {upload_url}"
            ))
        })?;
        // `append_pair` percent-encodes the name.
        url.query_pairs_mut().append_pair("name", name);
        let handle = tokio::fs::File::open(file)
            .await
            .map_err(|e| Error::io(format!("{what}: opening {}", file.display()), e))?;
        let hasher = Arc::new(Mutex::new(Sha256::new()));
        let feed = hasher.clone();
        let stream =
            tokio_util::io::ReaderStream::with_capacity(handle, 256 * 1024).map(move |chunk| {
                if let Ok(bytes) = &chunk {
                    feed.lock().unwrap().update(bytes);
                }
                chunk
            });
        let request = self
            .http
            .github(Method::POST, url.as_str())
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(stream));
        let response = self.http.send_once(what, request).await?;
        let mut asset: Asset = response.json().await.map_err(|e| unexpected(what, e))?;
        asset.release_id = 0;
        let sha = hex::encode(hasher.lock().unwrap().clone().finalize());
        Ok((asset, sha))
    }

    async fn rename_asset(&self, asset_id: u64, name: &str) -> Result<Asset> {
        let what = format!("renaming asset {asset_id} to {name} in {}", self.repo);
        let url = self.repo_url(&format!("/releases/assets/{asset_id}"));
        let body = json!({ "name": name });
        let response = self
            .http
            .send(&what, Replay::Idempotent, || {
                self.http.github(Method::PATCH, &url).json(&body)
            })
            .await?;
        response.json().await.map_err(|e| unexpected(&what, e))
    }

    /// Deletes `starter` and temporary assets that are ours or abandoned (older than an hour).
    /// Younger ones of other writers are uploads in flight and stay.
    async fn clean_leftovers(&self, release: &SessionRelease) -> Result<()> {
        let now = chrono::Utc::now();
        for asset in &release.assets {
            let temp_final = names::final_name_of_temp(&asset.name);
            let half_written = asset.state != "uploaded";
            if !half_written && temp_final.is_none() {
                continue;
            }
            let ours = self.own_temps.lock().unwrap().contains(&asset.name);
            let stale = asset
                .updated_at
                .as_deref()
                .or(asset.created_at.as_deref())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| {
                    (now - t.with_timezone(&chrono::Utc))
                        .to_std()
                        .unwrap_or_default()
                        > STALE_AFTER
                });
            // A complete temporary copy whose final name is missing is the only copy: keep it
            // (readers see it under its final name; converge renames it).
            let only_copy = !half_written
                && temp_final.is_some_and(|final_name| {
                    !release
                        .assets
                        .iter()
                        .any(|a| a.name == final_name && a.state == "uploaded")
                });
            if (ours || stale) && !only_copy {
                self.delete_asset(asset).await?;
            }
        }
        Ok(())
    }

    /// Downloads an asset to `dest`, streaming, following a 302 without the token, and checks the
    /// size, `expected_sha256` and GitHub's `digest`. On any mismatch `dest` is removed.
    pub async fn download_asset(
        &self,
        asset: &Asset,
        dest: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<()> {
        let what = format!("downloading {} from {}", asset.name, self.repo);
        let url = self.repo_url(&format!("/releases/assets/{}", asset.id));
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let err = match self.download_once(&what, &url, dest).await {
                Ok((size, sha)) => return check_download(asset, dest, size, &sha, expected_sha256),
                Err(err) => err,
            };
            let _ = std::fs::remove_file(dest);
            attempt += 1;
            match self
                .http
                .retry_delay(&err, attempt, Replay::Idempotent, started)
            {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(err),
            }
        }
    }

    async fn download_once(&self, what: &str, url: &str, dest: &Path) -> Result<(u64, String)> {
        let request = self
            .http
            .github_accepting(Method::GET, url, "application/octet-stream");
        let mut response = self.http.send_once(what, request).await?;
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    Error::Unexpected(format!("{what}: GitHub redirected without a location"))
                })?;
            let target = Url::parse(url)
                .and_then(|base| base.join(location))
                .map_err(|_| {
                    Error::Unexpected(format!("{what}: GitHub redirected to an unusable location"))
                })?;
            // The storage URL is signed: a token would be refused ("Only one auth mechanism allowed"),
            // and must not leave GitHub anyway.
            response = self
                .http
                .send_once(what, self.http.anonymous(target.as_str()))
                .await?;
            if response.status().is_redirection() {
                return Err(Error::Unexpected(format!(
                    "{what}: the download redirected more than once"
                )));
            }
        }
        // Buffered: each write to a tokio file is a trip to the blocking pool, and the body comes
        // in pieces of a few KiB.
        let mut out = tokio::io::BufWriter::with_capacity(
            1 << 20,
            tokio::fs::File::create(dest)
                .await
                .map_err(|e| Error::io(format!("{what}: creating {}", dest.display()), e))?,
        );
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| super::transport::network_error(what, &e))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            out.write_all(&chunk)
                .await
                .map_err(|e| Error::io(format!("{what}: writing {}", dest.display()), e))?;
        }
        // No fsync: the file is a scratch copy, checked, read and deleted by this process.
        out.flush()
            .await
            .map_err(|e| Error::io(format!("{what}: writing {}", dest.display()), e))?;
        Ok((size, hex::encode(hasher.finalize())))
    }

    /// Deletes an asset; one that is already gone counts as deleted.
    pub async fn delete_asset(&self, asset: &Asset) -> Result<()> {
        let what = format!(
            "deleting asset {} from {}",
            asset.stored_name.as_deref().unwrap_or(&asset.name),
            self.repo
        );
        let url = self.repo_url(&format!("/releases/assets/{}", asset.id));
        self.delete(&what, &url).await
    }

    /// `DELETE url`; a resource that is already gone counts as deleted (a retried delete whose
    /// first answer was lost finds it gone).
    async fn delete(&self, what: &str, url: &str) -> Result<()> {
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

    // ---- the release itself --------------------------------------------------------------------

    /// Replaces the release body. Refuses a published release.
    pub async fn set_body(&self, release: &SessionRelease, body: &str) -> Result<()> {
        refuse_published(release)?;
        let what = format!(
            "updating the description of release `{}` in {}",
            release.tag_name, self.repo
        );
        let url = self.repo_url(&format!("/releases/{}", release.id));
        let payload = json!({ "body": body });
        self.http
            .send(&what, Replay::Idempotent, || {
                self.http.github(Method::PATCH, &url).json(&payload)
            })
            .await
            .map(drop)
    }

    /// Deletes a draft release (and its assets). A published release is refused; one already gone
    /// counts as deleted.
    pub async fn delete_release(&self, release: &SessionRelease) -> Result<()> {
        refuse_published(release)?;
        let what = format!(
            "deleting release `{}` ({}) of {}",
            release.tag_name, release.id, self.repo
        );
        let url = self.repo_url(&format!("/releases/{}", release.id));
        self.delete(&what, &url).await
    }

    // ---- the repository ------------------------------------------------------------------------

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

// ---- helpers -------------------------------------------------------------------------------------

fn refuse_published(release: &SessionRelease) -> Result<()> {
    if release.draft {
        Ok(())
    } else {
        Err(Error::Published {
            tag: release.tag_name.clone(),
            url: release.html_url.clone(),
        })
    }
}

fn tag_assets(release: &mut SessionRelease) {
    for asset in &mut release.assets {
        asset.release_id = release.id;
    }
}

fn unexpected(what: &str, err: reqwest::Error) -> Error {
    Error::Unexpected(format!("{what}: GitHub's answer could not be read ({err})"))
}

/// Percent-encodes one path segment (branch names hold `/`).
fn encode(segment: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(segment, SET).to_string()
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// `https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}` without the template part.
fn upload_target(upload_url: &str) -> Option<Url> {
    let base = upload_url.split('{').next()?;
    let url = Url::parse(base).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

fn same_origin(url: &str, api: &Url) -> bool {
    Url::parse(url).is_ok_and(|u| u.origin() == api.origin())
}

fn verify_uploaded(asset: &Asset, length: u64, sha: &str) -> Result<()> {
    if asset.state != "uploaded" || asset.size != length {
        return Err(Error::Unexpected(format!(
            "GitHub stored {} as {} bytes in state `{}` instead of {length} bytes `uploaded`",
            asset.name, asset.size, asset.state
        )));
    }
    if let Some(digest) = asset
        .digest
        .as_deref()
        .and_then(|d| d.strip_prefix("sha256:"))
    {
        if !digest.eq_ignore_ascii_case(sha) {
            return Err(Error::Integrity(format!(
                "GitHub's checksum of the uploaded {} differs from the file sent (sha256 {digest} != {sha})",
                asset.name
            )));
        }
    }
    Ok(())
}

fn check_download(
    asset: &Asset,
    dest: &Path,
    size: u64,
    sha: &str,
    expected: Option<&str>,
) -> Result<()> {
    let mut problems = Vec::new();
    if size != asset.size {
        problems.push(format!("{size} bytes instead of {}", asset.size));
    }
    if let Some(expected) = expected {
        if !expected.eq_ignore_ascii_case(sha) {
            problems.push(format!("sha256 {sha} instead of the recorded {expected}"));
        }
    }
    if let Some(digest) = asset
        .digest
        .as_deref()
        .and_then(|d| d.strip_prefix("sha256:"))
    {
        if !digest.eq_ignore_ascii_case(sha) {
            problems.push(format!("sha256 {sha} instead of GitHub's digest {digest}"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let _ = std::fs::remove_file(dest);
    Err(Error::Integrity(format!(
        "the download of {} is damaged ({}); nothing was kept. Push the session again from a machine that has it",
        asset.name,
        problems.join(", ")
    )))
}

/// One view of several drafts sharing a tag: the lowest id's identity; per session, the assets of
/// the draft with the newest copy (a session's archive and metadata always come from one draft).
/// Only `uploaded` assets count; a complete temporary copy stands in for a missing final name.
fn merged_view(mut drafts: Vec<SessionRelease>) -> SessionRelease {
    drafts.sort_by_key(|r| r.id);
    // Per draft: logical name -> asset.
    let per_draft: Vec<(u64, BTreeMap<String, Asset>)> = drafts
        .iter()
        .map(|release| {
            let mut logical: BTreeMap<String, Asset> = BTreeMap::new();
            for asset in release.assets.iter().filter(|a| a.state == "uploaded") {
                if names::final_name_of_temp(&asset.name).is_none() {
                    logical.insert(asset.name.clone(), asset.clone());
                }
            }
            for asset in release.assets.iter().filter(|a| a.state == "uploaded") {
                if let Some(final_name) = names::final_name_of_temp(&asset.name) {
                    let newer = logical.get(final_name).is_none_or(|other| {
                        other.stored_name.is_some() && other.updated_at < asset.updated_at
                    });
                    if newer {
                        let mut stand_in = asset.clone();
                        stand_in.stored_name = Some(asset.name.clone());
                        stand_in.name = final_name.to_owned();
                        logical.insert(final_name.to_owned(), stand_in);
                    }
                }
            }
            (release.id, logical)
        })
        .collect();

    // Group by session (or by name for other assets) and pick one draft per group.
    let group_of = |name: &str| {
        names::parse_asset_name(name)
            .map(|(id, _)| id.to_owned())
            .unwrap_or_else(|| name.to_owned())
    };
    let mut groups: BTreeMap<String, Vec<(u64, Vec<Asset>)>> = BTreeMap::new();
    for (release_id, logical) in &per_draft {
        let mut by_group: BTreeMap<String, Vec<Asset>> = BTreeMap::new();
        for asset in logical.values() {
            by_group
                .entry(group_of(&asset.name))
                .or_default()
                .push(asset.clone());
        }
        for (group, assets) in by_group {
            groups.entry(group).or_default().push((*release_id, assets));
        }
    }
    let mut assets: Vec<Asset> = groups
        .into_values()
        .filter_map(|candidates| {
            candidates
                .into_iter()
                .max_by(|(id_a, a), (id_b, b)| {
                    let key = |set: &Vec<Asset>| {
                        let has_metadata = set.iter().any(|x| {
                            matches!(
                                names::parse_asset_name(&x.name),
                                Some((_, names::AssetKind::Metadata))
                            )
                        });
                        let newest = set.iter().filter_map(|x| x.updated_at.clone()).max();
                        (has_metadata, newest)
                    };
                    // Equal keys: the lower release id wins (max_by keeps the later maximum).
                    key(a).cmp(&key(b)).then(id_b.cmp(id_a))
                })
                .map(|(_, set)| set)
        })
        .flatten()
        .collect();
    assets.sort_by(|a, b| a.name.cmp(&b.name));

    let duplicate_ids = drafts.iter().skip(1).map(|r| r.id).collect();
    let mut view = drafts.into_iter().next().expect("at least one draft");
    view.assets = assets;
    view.duplicate_ids = duplicate_ids;
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: u64, release_id: u64, name: &str, updated: &str) -> Asset {
        Asset {
            id,
            name: name.into(),
            size: 1,
            state: "uploaded".into(),
            digest: None,
            content_type: None,
            created_at: Some(updated.into()),
            updated_at: Some(updated.into()),
            release_id,
            stored_name: None,
        }
    }

    fn draft(id: u64, assets: Vec<Asset>) -> SessionRelease {
        SessionRelease {
            id,
            tag_name: "claude-sessions-main".into(),
            name: None,
            draft: true,
            body: None,
            html_url: String::new(),
            upload_url: String::new(),
            assets,
            created_at: None,
            duplicate_ids: vec![],
        }
    }

    #[test]
    fn merged_view_keeps_each_sessions_newest_pair_together() {
        let (a, b) = (
            names::archive_asset_name("s1", false),
            names::metadata_asset_name("s1"),
        );
        let old = "2026-01-01T00:00:00Z";
        let new = "2026-01-02T00:00:00Z";
        let d1 = draft(
            1,
            vec![
                asset(10, 1, &a, old),
                asset(11, 1, &b, old),
                asset(12, 1, &names::metadata_asset_name("s2"), old),
            ],
        );
        let d2 = draft(2, vec![asset(20, 2, &a, new), asset(21, 2, &b, new)]);
        let view = merged_view(vec![d2, d1]);
        assert_eq!(view.id, 1);
        assert_eq!(view.duplicate_ids, vec![2]);
        let mut ids: Vec<u64> = view.assets.iter().map(|x| x.id).collect();
        ids.sort();
        assert_eq!(ids, vec![12, 20, 21]);
    }

    #[test]
    fn a_complete_temp_copy_stands_in_for_a_missing_name() {
        let name = names::archive_asset_name("s1", false);
        let temp = names::temp_asset_name(&name, "abc");
        let mut starter = asset(
            3,
            1,
            &names::temp_asset_name(&name, "zzz"),
            "2026-01-01T00:00:00Z",
        );
        starter.state = "starter".into();
        let view = merged_view(vec![draft(
            1,
            vec![asset(2, 1, &temp, "2026-01-01T00:00:00Z"), starter],
        )]);
        assert_eq!(view.assets.len(), 1);
        assert_eq!(view.assets[0].name, name);
        assert_eq!(view.assets[0].stored_name.as_deref(), Some(temp.as_str()));
    }

    #[test]
    fn link_header_next_is_found() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "link",
            "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=5>; rel=\"last\"".parse().unwrap(),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
    }

    #[test]
    fn upload_target_strips_the_template() {
        let url =
            upload_target("https://HOST/api/uploads/repos/o/r/releases/7/assets{?name,label}")
                .unwrap();
        assert_eq!(
            url.as_str(),
            "https://host/api/uploads/repos/o/r/releases/7/assets"
        );
    }
}

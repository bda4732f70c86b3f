//! Writing assets: a streamed upload under a temporary name that replaces the old copy without a
//! moment with none, renames, deletes, and the cleanup of half-written leftovers.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

use super::client::{refuse_published, unexpected, GitHub};
use super::error::{Error, Result};
use super::model::{Asset, SessionRelease};
use super::names;
use super::stall::{say_bytes, Progress};
use super::transport;
use super::transport::{
    api_error, broke, gave_up, host_of, network_error, no_answer, no_answer_after_body, stalled,
    transport_cause, HostRole, Replay,
};

/// A `starter` (half-uploaded) or temporary asset older than this is abandoned, whoever made it: no
/// upload of a session takes an hour. Younger ones may be another writer's upload in flight.
const STALE_AFTER: Duration = Duration::from_secs(3600);

impl GitHub {
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
        let (what, length) = self.upload_opening(release, name, file)?;
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
                    (&temp, None),
                    file,
                    (length, attempt + 1),
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
                return Err(gave_up(err, attempt, started));
            };
            tokio::time::sleep(delay).await;
        };

        self.replace_named(release, name, &uploaded, current, &what)
            .await
    }

    /// Gives `uploaded` (under its temporary name) the name `name`: the old asset(s) of that name
    /// deleted, then the rename. `current` is the release as read before the upload.
    async fn replace_named(
        &self,
        release: &SessionRelease,
        name: &str,
        uploaded: &Asset,
        current: SessionRelease,
        what: &str,
    ) -> Result<Asset> {
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

    /// Uploads `file` under `name`, which must be free: no replacing. A taken name answers
    /// [`Error::is_already_exists`] (the write protocol's compare-and-swap). When the answer is
    /// lost, the release is read: our complete upload (same size, GitHub's digest equal to what
    /// we sent) counts as done, a `starter` we left is deleted and the upload tried again.
    pub async fn upload_new(
        &self,
        release: &SessionRelease,
        name: &str,
        file: &Path,
        content_type: &str,
    ) -> Result<Asset> {
        self.upload_new_labeled(release, name, None, file, content_type)
            .await
    }

    /// [`GitHub::upload_new`] with GitHub's `label` set on the asset (a rename keeps it).
    pub async fn upload_new_labeled(
        &self,
        release: &SessionRelease,
        name: &str,
        label: Option<&str>,
        file: &Path,
        content_type: &str,
    ) -> Result<Asset> {
        let (what, length) = self.upload_opening(release, name, file)?;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let (err, sent_sha) = match self
                .post_asset(
                    &what,
                    &release.upload_url,
                    (name, label),
                    file,
                    (length, attempt + 1),
                    content_type,
                )
                .await
            {
                Ok((mut asset, sha)) => match verify_uploaded(&asset, length, &sha) {
                    Ok(()) => {
                        asset.release_id = release.id;
                        return Ok(asset);
                    }
                    Err(e) => {
                        self.delete_asset(&asset).await?;
                        (e, None)
                    }
                },
                Err(err) if err.is_already_exists() => return Err(err),
                Err(err) => (err, Some(())),
            };
            if sent_sha.is_some() {
                let now = self.get_release_raw(release.id).await?;
                if let Some(found) = now.assets.iter().find(|a| a.name == name) {
                    let ours = found.state == "uploaded"
                        && found.size == length
                        && found.digest.as_deref().is_none_or(|d| {
                            d.strip_prefix("sha256:").is_some_and(|d| {
                                file_sha256(file).is_ok_and(|sha| d.eq_ignore_ascii_case(&sha))
                            })
                        });
                    if ours {
                        let mut found = found.clone();
                        found.release_id = release.id;
                        return Ok(found);
                    }
                    if found.state == "uploaded" {
                        // Someone else's complete asset holds the name now.
                        return Err(Error::Api {
                            status: 422,
                            what,
                            message: format!("the name {name} is taken"),
                            errors: vec!["ReleaseAsset.name already_exists".into()],
                            rate_limited_until: None,
                            retry: None,
                        });
                    }
                    self.delete_asset(found).await?;
                }
            }
            attempt += 1;
            let Some(delay) = self
                .http
                .retry_delay(&err, attempt, Replay::Idempotent, started)
            else {
                return Err(gave_up(err, attempt, started));
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// The release as stored now: every asset, any state (`starter` ones too).
    pub async fn release_as_stored(&self, release: &SessionRelease) -> Result<SessionRelease> {
        self.get_release_raw(release.id).await
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

    /// What every upload checks and says first: the release is still a draft; the description
    /// of the upload (for errors) and the file's length.
    fn upload_opening(
        &self,
        release: &SessionRelease,
        name: &str,
        file: &Path,
    ) -> Result<(String, u64)> {
        refuse_published(release)?;
        let what = format!(
            "uploading {name} to release `{}` of {}",
            release.tag_name, self.repo
        );
        let length = std::fs::metadata(file)
            .map_err(|e| Error::io(format!("{what}: reading {}", file.display()), e))?
            .len();
        Ok((what, length))
    }

    /// One streamed upload from disk under `name` (with GitHub's `label`, if any), judged by its
    /// progress (see `stall`). Returns the asset and the sha256 of the bytes sent. `attempt`
    /// (1-based) bounds a retry's first wait by the budget.
    async fn post_asset(
        &self,
        what: &str,
        upload_url: &str,
        (name, label): (&str, Option<&str>),
        file: &Path,
        (length, attempt): (u64, u32),
        content_type: &str,
    ) -> Result<(Asset, String)> {
        let mut url = self.upload_target(what, upload_url)?;
        // `append_pair` percent-encodes the name.
        url.query_pairs_mut().append_pair("name", name);
        if let Some(label) = label {
            url.query_pairs_mut().append_pair("label", label);
        }
        let handle = tokio::fs::File::open(file)
            .await
            .map_err(|e| Error::io(format!("{what}: opening {}", file.display()), e))?;
        let (body, hasher, pulled) = metered_body(handle);
        let request = self
            .http
            .github(Method::POST, url.as_str())
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, length)
            .body(body);
        let host = host_of(url.as_str());
        self.http.count_one();
        let mut progress = Progress::new(self.http.policy.stall, self.http.budget_end(attempt));
        let started = Instant::now();
        let outcome = self
            .watch_upload(what, &host, request.send(), &pulled, &mut progress, length)
            .await;
        if transport::http_debug() {
            debug_upload(&url, length, &outcome, started);
        }
        self.http.credit(progress.active());
        let moved = (progress.moved, pulled.load(Ordering::Relaxed));
        let response = self
            .upload_answer(what, &host, outcome, moved, length)
            .await?;
        let answer = tokio::time::timeout(self.http.policy.answer_timeout, response.json());
        let mut asset: Asset = match answer.await {
            Ok(parsed) => parsed.map_err(|e| unexpected(what, e))?,
            Err(_) => {
                let wait = self.http.policy.answer_timeout;
                return Err(no_answer(what, HostRole::Uploads, &host, wait));
            }
        };
        asset.release_id = 0;
        let sha = hex::encode(hasher.lock().unwrap().clone().finalize());
        Ok((asset, sha))
    }

    /// The answer to an upload when it succeeded; else the failure in words that name the uploads
    /// host and how far the body got (`moved`: as the stall watch and as the body counted it).
    async fn upload_answer(
        &self,
        what: &str,
        host: &str,
        outcome: std::result::Result<reqwest::Response, Failed>,
        (watched, pulled): (u64, u64),
        length: u64,
    ) -> Result<reqwest::Response> {
        match outcome {
            Ok(response) if response.status().is_success() => Ok(response),
            Ok(response) => {
                let err = api_error(what, response).await;
                Err(uploads_status(err, host, (watched, length)))
            }
            Err(Failed::Transport(e)) if e.is_connect() => Err(network_error(
                what,
                HostRole::Uploads,
                &e,
                self.http.policy.stall,
            )),
            Err(Failed::Transport(e)) => Err(broke(
                what,
                HostRole::Uploads,
                host,
                (pulled, Some(length)),
                &transport_cause(&e),
            )),
            Err(Failed::Ours(err)) => Err(err),
        }
    }

    /// Drives the upload `sent` while the body moves; fails it when a window of the stall period
    /// moves too little, or when the answer does not come after the whole body was handed over.
    async fn watch_upload(
        &self,
        what: &str,
        host: &str,
        sent: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
        pulled: &AtomicU64,
        progress: &mut Progress,
        length: u64,
    ) -> std::result::Result<reqwest::Response, Failed> {
        let stall = self.http.policy.stall;
        tokio::pin!(sent);
        let mut seen = 0;
        loop {
            tokio::select! {
                response = &mut sent => return response.map_err(Failed::Transport),
                _ = tokio::time::sleep_until(progress.window_end().into()) => {}
            }
            let now = pulled.load(Ordering::Relaxed);
            progress.add(now - seen);
            seen = now;
            if now >= length {
                // All handed over; kernel buffers may still be draining towards GitHub.
                let wait = progress.answer_wait_after_body(stall);
                return match tokio::time::timeout(wait, &mut sent).await {
                    Ok(response) => response.map_err(Failed::Transport),
                    Err(_) => Err(Failed::Ours(no_answer_after_body(what, host, length, wait))),
                };
            }
            if !progress.close_window() {
                let moved = (now, Some(length));
                return Err(Failed::Ours(stalled(
                    what,
                    HostRole::Uploads,
                    host,
                    moved,
                    stall,
                )));
            }
        }
    }

    /// The upload URL of `upload_url` (a URI template) if it may receive the token: the API's own
    /// host or its uploads host (github.com: `uploads.github.com`; GitHub Enterprise Server: the
    /// same host), over https unless the API itself is plain http on loopback.
    fn upload_target(&self, what: &str, upload_url: &str) -> Result<Url> {
        let refuse = |why: &str| {
            Error::Unexpected(format!(
                "{what}: GitHub gave an upload_url ccsync will not send the token to ({why}): {}",
                crate::neutral::text(upload_url)
            ))
        };
        let url = upload_target(upload_url).ok_or_else(|| refuse("not an http(s) URL"))?;
        let (Some(api_host), Some(host)) = (self.api.host_str(), url.host_str()) else {
            return Err(refuse("no host"));
        };
        let uploads_host = api_host
            .strip_prefix("api.")
            .map(|rest| format!("uploads.{rest}"));
        if host != api_host && Some(host) != uploads_host.as_deref() {
            return Err(refuse(&format!(
                "its host is neither the API's host {api_host} nor its uploads host"
            )));
        }
        let plain_ok = self.api.scheme() == "http" && is_loopback(api_host);
        if url.scheme() != "https" && !plain_ok {
            return Err(refuse("it is not https"));
        }
        Ok(url)
    }

    /// Renames an asset (422 `already_exists` when the name is taken by another asset).
    pub async fn rename_asset(&self, asset_id: u64, name: &str) -> Result<Asset> {
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
}

fn file_sha256(file: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(file)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
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

/// Loopback: where a plain-http API is a local test server, not a network.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How an upload attempt ended without an answer: the connection's error, or our own verdict.
enum Failed {
    Transport(reqwest::Error),
    Ours(Error),
}

/// An error status of the uploads host: 404 and 5xx are that host's failure (they say nothing
/// about the repository, which the API just read); others (422 `already_exists`, 401, 403, rate
/// limits) are GitHub's answer as usual.
fn uploads_status(err: Error, host: &str, (moved, length): (u64, u64)) -> Error {
    match err {
        Error::Api {
            status,
            what,
            message,
            rate_limited_until: None,
            ..
        } if status == 404 || status >= 500 => Error::HostStatus {
            detail: format!(
                "GitHub's uploads host {host} answered {status} {message} after {} of {}; GitHub's \
                 API answered, so only its uploads host failed: run the command again later",
                say_bytes(moved),
                say_bytes(length)
            ),
            what,
            host: host.to_owned(),
            status,
        },
        other => other,
    }
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

/// The upload body streamed from `handle`, with the sha256 of what was sent and the count of bytes
/// the connection pulled (what hyper pulls from the body is what the connection accepted: the
/// upload's progress).
fn metered_body(handle: tokio::fs::File) -> (reqwest::Body, Arc<Mutex<Sha256>>, Arc<AtomicU64>) {
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let feed = hasher.clone();
    let pulled = Arc::new(AtomicU64::new(0));
    let counter = pulled.clone();
    let stream =
        tokio_util::io::ReaderStream::with_capacity(handle, 256 * 1024).map(move |chunk| {
            if let Ok(bytes) = &chunk {
                feed.lock().unwrap().update(bytes);
                counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            chunk
        });
    (reqwest::Body::wrap_stream(stream), hasher, pulled)
}

/// `-vvv`: the upload request and how it ended.
fn debug_upload(
    url: &url::Url,
    length: u64,
    outcome: &std::result::Result<reqwest::Response, Failed>,
    started: Instant,
) {
    let shown = transport::debug_request(&Method::POST, url, HostRole::Uploads, Some(length));
    let answer = match outcome {
        Ok(response) => transport::debug_status(response),
        Err(Failed::Transport(e)) => transport::debug_failure(e),
        Err(Failed::Ours(_)) => "failed (stalled)".to_owned(),
    };
    transport::debug_print(&shown, &answer, started);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(api: &str) -> GitHub {
        GitHub::new(
            api.parse().unwrap(),
            "o/r".parse().unwrap(),
            crate::token::Token::new("t"),
        )
        .unwrap()
    }

    #[test]
    fn the_token_goes_only_to_the_apis_own_uploads_host() {
        let template = |base: &str| format!("{base}/repos/o/r/releases/7/assets{{?name,label}}");
        let ok =
            |api: &str, upload: &str| client(api).upload_target("up", &template(upload)).is_ok();
        assert!(ok("https://api.github.com", "https://uploads.github.com"));
        assert!(ok(
            "https://api.acme.ghe.com",
            "https://uploads.acme.ghe.com"
        ));
        assert!(ok(
            "https://ghes.example/api/v3",
            "https://ghes.example/api/uploads"
        ));
        assert!(ok("http://127.0.0.1:9000", "http://127.0.0.1:9001"));
        assert!(ok(
            "http://api.github.localhost",
            "http://uploads.github.localhost"
        ));
        // Another host, plain http, or a look-alike.
        assert!(!ok("https://api.github.com", "https://evil.example"));
        assert!(!ok("https://api.github.com", "http://uploads.github.com"));
        assert!(!ok(
            "https://api.github.com",
            "https://uploads.github.com.evil.example"
        ));
        assert!(!ok(
            "https://ghes.example/api/v3",
            "http://ghes.example/api/uploads"
        ));
        assert!(!ok(
            "http://ghes.example/api/v3",
            "http://ghes.example/api/uploads"
        ));
        assert!(!ok("http://127.0.0.1:9000", "http://10.0.0.1:9001"));
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

//! Verified downloads: streamed to disk, a 302 followed without the token, size and sha256 checked
//! before the file counts.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::LOCATION;
use reqwest::Method;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;

use super::client::GitHub;
use super::error::{Error, Result};
use super::model::Asset;
use super::stall::Progress;
use super::transport::{
    broke, gave_up, host_of, no_answer, stalled, transport_cause, HostRole, Replay,
};

impl GitHub {
    /// Downloads an asset to `dest`, streaming, following a 302 without the token, and checks the
    /// size, `expected_sha256` and GitHub's `digest`. On any mismatch `dest` is removed. A failed
    /// attempt (either host: a status, a broken connection, a stall) is retried within the budget;
    /// each retry asks the API again (a signed storage URL expires).
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
            let err = match self
                .download_once(&what, &url, dest, asset.size, attempt + 1)
                .await
            {
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
                None => return Err(gave_up(err, attempt, started)),
            }
        }
    }

    /// One attempt: the API's answer (the bytes, or a redirect to storage), then the body.
    async fn download_once(
        &self,
        what: &str,
        url: &str,
        dest: &Path,
        total: u64,
        attempt: u32,
    ) -> Result<(u64, String)> {
        let wait = self.http.answer_wait(attempt);
        let request = self
            .http
            .github_accepting(Method::GET, url, "application/octet-stream");
        let mut response = self.answer(what, HostRole::Api, url, request, wait).await?;
        let mut role = HostRole::Api;
        let mut source = url.to_owned();
        if response.status().is_redirection() {
            let target = redirect_target(what, url, &response)?;
            // The storage URL is signed: a token would be refused ("Only one auth mechanism allowed"),
            // and must not leave GitHub anyway.
            role = HostRole::Storage;
            source = target.to_string();
            let request = self.http.anonymous(target.as_str());
            response = self.answer(what, role, &source, request, wait).await?;
            if response.status().is_redirection() {
                return Err(Error::Unexpected(format!(
                    "{what}: the download redirected more than once"
                )));
            }
        }
        self.receive(what, role, &source, response, dest, (total, attempt))
            .await
    }

    /// Sends one request and waits at most `wait` for its status line. A storage host's error
    /// status is that host's failure (never "not found" in GitHub's sense: the API listed the
    /// asset).
    async fn answer(
        &self,
        what: &str,
        role: HostRole,
        url: &str,
        request: reqwest::RequestBuilder,
        wait: Duration,
    ) -> Result<reqwest::Response> {
        let sent = self.http.send_once(what, role, request, wait);
        let response = match tokio::time::timeout(wait, sent).await {
            Ok(Ok(response)) => response,
            Ok(Err(Error::Api { status, .. })) if role == HostRole::Storage => {
                return Err(storage_status(what, url, status))
            }
            Ok(Err(err)) => return Err(err),
            Err(_) => return Err(no_answer(what, role, &host_of(url), wait)),
        };
        Ok(response)
    }

    /// Streams the body to `dest`, hashing it, judged by its progress. Returns size and sha256.
    async fn receive(
        &self,
        what: &str,
        role: HostRole,
        url: &str,
        response: reqwest::Response,
        dest: &Path,
        (total, attempt): (u64, u32),
    ) -> Result<(u64, String)> {
        // Buffered: each write to a tokio file is a trip to the blocking pool, and the body comes
        // in pieces of a few KiB.
        let mut out = tokio::io::BufWriter::with_capacity(
            1 << 20,
            tokio::fs::File::create(dest)
                .await
                .map_err(|e| Error::io(format!("{what}: creating {}", dest.display()), e))?,
        );
        let mut hasher = Sha256::new();
        let mut progress = Progress::new(self.http.policy.stall, self.http.budget_end(attempt));
        let mut body = response.bytes_stream();
        let result = loop {
            let next = tokio::time::timeout_at(progress.window_end().into(), body.next()).await;
            let alive = match next {
                Ok(Some(Ok(chunk))) => {
                    hasher.update(&chunk);
                    out.write_all(&chunk)
                        .await
                        .map_err(|e| Error::io(format!("{what}: writing {}", dest.display()), e))?;
                    progress.add(chunk.len() as u64)
                }
                Ok(Some(Err(e))) => {
                    let cause = transport_cause(&e);
                    break Err(broke(
                        what,
                        role,
                        &host_of(url),
                        (progress.moved, Some(total)),
                        &cause,
                    ));
                }
                Ok(None) => break Ok(()),
                Err(_) => progress.close_window(),
            };
            if !alive {
                let moved = (progress.moved, Some(total));
                break Err(stalled(
                    what,
                    role,
                    &host_of(url),
                    moved,
                    self.http.policy.stall,
                ));
            }
        };
        self.http.credit(progress.active());
        result?;
        // No fsync: the file is a scratch copy, checked, read and deleted by this process.
        out.flush()
            .await
            .map_err(|e| Error::io(format!("{what}: writing {}", dest.display()), e))?;
        Ok((progress.moved, hex::encode(hasher.finalize())))
    }
}

/// Where a download's 302 points, resolved against the request URL.
fn redirect_target(what: &str, url: &str, response: &reqwest::Response) -> Result<Url> {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::Unexpected(format!("{what}: GitHub redirected without a location"))
        })?;
    Url::parse(url)
        .and_then(|base| base.join(location))
        .map_err(|_| {
            Error::Unexpected(format!("{what}: GitHub redirected to an unusable location"))
        })
}

/// The storage host answered an error status: retried (a 403 is an expired signed URL, and the
/// retry asks the API for a new one), and in the end an error naming the host.
fn storage_status(what: &str, url: &str, status: u16) -> Error {
    let host = host_of(url);
    Error::HostStatus {
        what: what.to_owned(),
        status,
        detail: format!(
            "the storage host {host} that GitHub's asset downloads redirect to answered {status}; \
             GitHub's API answered, so the stored copy is likely intact and only its download \
             host failed: run the command again later (nothing stored needs deleting)"
        ),
        host,
    }
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

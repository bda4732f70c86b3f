//! Verified downloads: streamed to disk, a 302 followed without the token, size and sha256 checked
//! before the file counts.

use std::path::Path;
use std::time::Instant;

use futures_util::StreamExt;
use reqwest::header::LOCATION;
use reqwest::Method;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;

use super::client::GitHub;
use super::error::{Error, Result};
use super::model::Asset;
use super::transport::Replay;

impl GitHub {
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
            let chunk = chunk.map_err(|e| {
                super::transport::network_error(what, &e, self.http.policy.answer_timeout * 3)
            })?;
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

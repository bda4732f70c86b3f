//! The release backend's one error type. An HTTP status becomes words a user can act on in exactly
//! one place, [`describe_status`]. No variant ever holds the token: requests carry it only in a
//! header, and URLs and GitHub's messages do not contain it.

use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// GitHub answered with an error status.
    #[error("{}", describe_status(*status, what, message, errors, rate_limited_until.as_deref()))]
    Api {
        status: u16,
        /// What ccsync was doing, e.g. "listing the releases of octo/app".
        what: String,
        /// GitHub's `message`.
        message: String,
        /// GitHub's `errors[]`, rendered (`ReleaseAsset.name already_exists`).
        errors: Vec<String>,
        /// Set when the answer was a rate limit: the time it lifts (UTC), if GitHub said.
        rate_limited_until: Option<String>,
        /// How long GitHub asked us to wait (`retry-after` or `x-ratelimit-reset`).
        retry: Option<RetryHint>,
    },
    /// No answer: the connection failed, broke, stayed silent or a transfer stalled. `detail`
    /// names the host and the cause and says what to do; `sent` tells whether the request may
    /// have reached GitHub (then its effect is unknown).
    #[error("{what}: {detail}")]
    Network {
        what: String,
        /// The host that failed (`api.github.com`, `uploads.github.com`, the storage host).
        host: String,
        detail: String,
        sent: bool,
        /// No answer or no progress within the stall period (see `RetryPolicy::stall`).
        timed_out: bool,
    },
    /// The uploads or storage host answered an error status: that host failed, whatever the
    /// status says in the API's sense (the API itself listed the release and its assets).
    #[error("{what}: {detail}")]
    HostStatus {
        what: String,
        host: String,
        status: u16,
        detail: String,
    },
    /// ccsync refuses to touch a published release of a session tag.
    #[error(
        "the release `{tag}` ({url}) is published, not a draft: ccsync refuses to use it, because a published \
         release shows its assets to everyone who can read the repository, and sessions hold conversations, \
         file contents and command output. Delete it (or turn it back into a draft) on GitHub, then run ccsync again"
    )]
    Published { tag: String, url: String },
    /// A download did not match its size or checksum; nothing was kept.
    #[error("{0}")]
    Integrity(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// GitHub answered something ccsync cannot use.
    #[error("{0}")]
    Unexpected(String),
}

/// How long GitHub asked the client to wait, carried for the retry loop.
#[derive(Debug, Clone, Copy)]
pub struct RetryHint(pub Duration);

impl Error {
    /// The HTTP status, if the API answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A host failed (no answer, a broken connection, a stall, an error status of the uploads
    /// or storage host): what was asked could not be read or written, which says nothing about
    /// what is stored.
    pub fn is_host_failure(&self) -> bool {
        matches!(self, Error::Network { .. } | Error::HostStatus { .. })
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// A 403 that is not a rate limit: the token may not do this.
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            Error::Api {
                status: 403,
                rate_limited_until: None,
                ..
            }
        )
    }

    pub fn is_rate_limited(&self) -> bool {
        matches!(
            self,
            Error::Api {
                rate_limited_until: Some(_),
                ..
            }
        )
    }

    /// A 422 whose errors say `already_exists`.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::Api { status: 422, errors, .. } if errors.iter().any(|e| e.contains("already_exists")))
    }

    /// The request may or may not have taken effect: a broken connection after sending, or a 5xx.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Error::Network { sent, .. } => *sent,
            Error::Api { status, .. } => *status >= 500,
            Error::HostStatus { status, .. } => *status >= 500,
            _ => false,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

/// THE mapping from an HTTP status to a message that says what to do next.
pub fn describe_status(
    status: u16,
    what: &str,
    message: &str,
    errors: &[String],
    rate_limited_until: Option<&str>,
) -> String {
    let said = if message.is_empty() {
        String::new()
    } else {
        format!(" {message}")
    };
    if let Some(until) = rate_limited_until {
        // The secondary limit (too many requests at once or too fast) is not the hourly quota.
        let which = if message
            .to_ascii_lowercase()
            .contains("secondary rate limit")
        {
            "GitHub's secondary rate limit: too many requests at once or in a short time, not the hourly \
             quota; wait a few minutes before trying again"
        } else {
            "a GITHUB_TOKEN allows 1,000 requests per hour per repository"
        };
        return format!(
            "{what}: GitHub is rate limiting this token ({status}{said}) until {until}; try again after that time \
             ({which})"
        );
    }
    match status {
        401 => format!(
            "{what}: GitHub rejected the token (401{said}): it is wrong, expired or revoked. Pass a valid token with \
             --token, GITHUB_TOKEN or GH_TOKEN (or log in again with `gh auth login`)"
        ),
        403 if message.contains("Resource not accessible by integration") => format!(
            "{what}: the token may not do this (403 Resource not accessible by integration). In a workflow, give the \
             job `permissions: contents: write` (drafts are invisible and read-only without it; pull requests from \
             forks never get it)"
        ),
        403 => format!(
            "{what}: GitHub refused (403{said}). The token needs write access to the repository's contents \
             (`permissions: contents: write` in a workflow, the `repo` scope or `Contents: read and write` for a \
             personal token)"
        ),
        404 => format!(
            "{what}: not found (404). The repository does not exist, or the token has no access to it: check --repo \
             / GITHUB_REPOSITORY and that the token can read this repository"
        ),
        422 => {
            let details = if errors.is_empty() { String::new() } else { format!(": {}", errors.join("; ")) };
            format!("{what}: GitHub refused the request (422{said}{details})")
        }
        500..=599 => format!("{what}: GitHub had an internal error ({status}{said}) and retries did not help; try again later"),
        _ => format!("{what}: GitHub answered {status}{said}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, message: &str) -> Error {
        Error::Api {
            status,
            what: "listing releases".into(),
            message: message.into(),
            errors: vec![],
            rate_limited_until: None,
            retry: None,
        }
    }

    #[test]
    fn statuses_become_advice() {
        assert!(api(401, "Bad credentials").to_string().contains("--token"));
        assert!(api(403, "Resource not accessible by integration")
            .to_string()
            .contains("permissions: contents: write"));
        assert!(api(404, "Not Found")
            .to_string()
            .contains("token has no access"));
        let limited = Error::Api {
            status: 403,
            what: "x".into(),
            message: "API rate limit exceeded".into(),
            errors: vec![],
            rate_limited_until: Some("2026-01-01 10:00:00 UTC".into()),
            retry: None,
        };
        assert!(limited
            .to_string()
            .contains("until 2026-01-01 10:00:00 UTC"));
        assert!(limited.is_rate_limited() && !limited.is_forbidden());
        assert!(limited.to_string().contains("1,000 requests per hour"));
        let secondary = Error::Api {
            status: 403,
            what: "x".into(),
            message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.".into(),
            errors: vec![],
            rate_limited_until: Some("2026-01-01 10:01:00 UTC".into()),
            retry: None,
        };
        let text = secondary.to_string();
        assert!(
            text.contains("secondary rate limit") && !text.contains("1,000"),
            "{text}"
        );
    }
}

//! One HTTP request to GitHub, with the headers GitHub wants, and retries: with backoff for 5xx and
//! broken connections when the request is idempotent, and for rate limits (which GitHub answers
//! before doing anything) always, bounded in attempts and in total time. Counts every request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, ACCEPT, USER_AGENT};
use reqwest::{Method, RequestBuilder, Response};
use serde::Deserialize;
use url::Url;

use super::error::{Error, Result, RetryHint};
use super::stall::say_bytes;
use crate::token::Token;

/// A connection that is not made within this is unreachable (a firewall that drops packets).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
/// Attempts for a connection that could not be made (refused, unreachable): GitHub down or the
/// network gone rarely comes back within seconds, and the answer should come fast.
const CONNECT_ATTEMPTS: u32 = 2;

/// The command's `--timeout` (seconds), when given: set once, before any client is made.
static COMMAND_TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// Sets the retry budget of this command's GitHub requests (`--timeout`, `CCSYNC_TIMEOUT`, or
/// a command's own short default). The first call wins.
/// Whether each request is printed (`-vvv`, `CCSYNC_DEBUG=http`).
static HTTP_DEBUG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints every request to stderr from now on: method, URL (the query only for the API host:
/// a storage URL's query is a signed credential), status and time. The token is a header and is
/// never printed.
pub fn set_http_debug(on: bool) {
    HTTP_DEBUG.store(on, Ordering::Relaxed);
}

pub(crate) fn http_debug() -> bool {
    HTTP_DEBUG.load(Ordering::Relaxed)
}

/// A request as `-vvv` shows it: method, URL without a query that may carry more than the API's
/// own parameters (the token never travels in a URL; upload and download queries are elided),
/// and the bytes of its body when known.
pub(crate) fn debug_request(
    method: &reqwest::Method,
    url: &reqwest::Url,
    role: HostRole,
    body_bytes: Option<u64>,
) -> String {
    let query = match (role, url.query()) {
        (HostRole::Api, Some(q)) => format!("?{q}"),
        (_, Some(_)) => "?…".to_owned(),
        _ => String::new(),
    };
    let body = match body_bytes {
        Some(n) if n > 0 => format!(" ({n} B)"),
        _ => String::new(),
    };
    format!(
        "{method} {}://{}{}{}{query}{body}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default(),
        url.path()
    )
}

/// The status of an answer, with the bytes it announces when it does.
pub(crate) fn debug_status(response: &reqwest::Response) -> String {
    let status = response.status().as_u16();
    match response.content_length() {
        Some(n) if n > 0 => format!("{status} ({n} B)"),
        _ => status.to_string(),
    }
}

pub(crate) fn debug_failure(e: &reqwest::Error) -> String {
    let why = if e.is_timeout() {
        "timeout"
    } else {
        "connection"
    };
    format!("failed ({why})")
}

/// `http: <request> -> <answer> in <n> ms` on stderr.
pub(crate) fn debug_print(shown: &str, answer: &str, started: Instant) {
    eprintln!(
        "http: {} -> {answer} in {} ms",
        crate::neutral::text(shown),
        started.elapsed().as_millis()
    );
}

pub fn set_command_timeout(timeout: Duration) {
    let _ = COMMAND_TIMEOUT.set(timeout);
}

/// Retry bounds and deadlines. Tests shorten `base` with `CCSYNC_RETRY_BASE_MS`.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// First backoff; doubles per attempt. A secondary rate limit without `retry-after` waits
    /// 60 x base (GitHub asks for at least a minute).
    pub base: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// A single wait longer than this (a rate limit that lifts in an hour) is not waited out: the
    /// error says until when.
    pub max_wait: Duration,
    /// The command's retry budget, from the client's creation: no retry starts after it
    /// (`--timeout`, `CCSYNC_TIMEOUT`). Time a transfer spends moving bytes is not counted.
    pub max_total: Duration,
    /// How long one API request waits for GitHub's answer before it is tried again.
    pub answer_timeout: Duration,
    /// A transfer (upload or download body) that moves less than 1 KiB/s for this long has
    /// stalled (`CCSYNC_STALL_SECONDS`).
    pub stall: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(1000),
            max_attempts: 5,
            max_wait: Duration::from_secs(90),
            max_total: Duration::from_secs(120),
            answer_timeout: Duration::from_secs(10),
            stall: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The default, with `CCSYNC_STALL_SECONDS`, the command's timeout (see
    /// [`set_command_timeout`]) and `CCSYNC_RETRY_BASE_MS` applied.
    pub fn from_env() -> Self {
        let mut policy = RetryPolicy::default();
        if let Some(secs) = std::env::var("CCSYNC_STALL_SECONDS")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
        {
            let stall = Duration::from_secs_f64(secs.min(86400.0));
            policy.stall = stall;
            policy.answer_timeout = stall;
        }
        if let Some(timeout) = COMMAND_TIMEOUT.get() {
            policy.max_total = *timeout;
            policy.answer_timeout = policy.answer_timeout.min(*timeout);
            policy.stall = policy.stall.min(*timeout);
        }
        if let Some(ms) = std::env::var("CCSYNC_RETRY_BASE_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            policy.base = Duration::from_millis(ms);
        }
        policy
    }

    /// Exponential backoff with a little jitter, so racing writers do not retry in lockstep.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.min(10));
        let jitter = exp.mul_f64(0.25 * (nanos_noise() as f64 / u32::MAX as f64));
        (exp + jitter).min(self.max_wait)
    }
}

fn nanos_noise() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// Whether a request may be sent again after an unclear failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replay {
    /// GET, PATCH with the same body, DELETE: repeating does no harm.
    Idempotent,
    /// POST: only retried when GitHub certainly did nothing (connection refused, rate limit).
    OnlyIfRejected,
}

/// The three services a command talks to; each fails on its own (docs/github-api.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostRole {
    Api,
    Uploads,
    /// The object storage behind a download's redirect.
    Storage,
}

impl HostRole {
    fn name(self, host: &str) -> String {
        match self {
            HostRole::Api => format!("GitHub ({host})"),
            HostRole::Uploads => format!("GitHub's uploads host {host}"),
            HostRole::Storage => {
                format!("the storage host {host} that GitHub's asset downloads redirect to")
            }
        }
    }

    fn advice(self) -> &'static str {
        match self {
            HostRole::Api => "check the network connection and --api-url / GITHUB_API_URL",
            HostRole::Uploads => {
                "GitHub's API answered, so only its uploads host failed: check that no proxy or \
                 firewall blocks it, and run the command again later"
            }
            HostRole::Storage => {
                "GitHub's API answered, so the stored copy is likely intact and only its download \
                 host failed: run the command again later (nothing stored needs deleting)"
            }
        }
    }
}

/// `host` or `host:port` of a URL, for messages.
pub(crate) fn host_of(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => url.to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

pub(crate) struct Transport {
    pub(crate) client: reqwest::Client,
    token: Token,
    pub(crate) policy: RetryPolicy,
    count: AtomicU64,
    /// The command's deadline for retries: `policy.max_total` from the client's creation, moved
    /// on by the time transfers spend making progress.
    deadline: Mutex<Instant>,
}

#[derive(Deserialize, Default)]
struct GitHubError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

impl Transport {
    pub(crate) fn new(token: Token, policy: RetryPolicy) -> Result<Self> {
        let client = reqwest::Client::builder()
            // Redirects are followed by hand: a download's 302 goes to storage without the token.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT.min(policy.answer_timeout))
            // No overall or read timeout here: API requests get one per attempt, transfers are
            // judged by their progress (`stall`).
            .build()
            .map_err(|e| Error::Unexpected(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Transport {
            client,
            token,
            deadline: Mutex::new(Instant::now() + policy.max_total),
            policy,
            count: AtomicU64::new(0),
        })
    }

    pub(crate) fn request_count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub(crate) fn count_one(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The command's retry deadline now.
    pub(crate) fn deadline(&self) -> Instant {
        *self.deadline.lock().unwrap()
    }

    /// Time a transfer spent moving bytes does not count against the retry budget.
    pub(crate) fn credit(&self, active: Duration) {
        *self.deadline.lock().unwrap() += active;
    }

    /// How long attempt `attempt` (1-based) of an API request waits for its answer: a retry never
    /// waits past the budget's end (at least a second).
    pub(crate) fn answer_wait(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return self.policy.answer_timeout;
        }
        let left = self.deadline().saturating_duration_since(Instant::now());
        self.policy
            .answer_timeout
            .min(left.max(Duration::from_secs(1)))
    }

    /// The budget's end for a transfer's first window: none for a first attempt.
    pub(crate) fn budget_end(&self, attempt: u32) -> Option<Instant> {
        (attempt > 1).then(|| self.deadline())
    }

    /// A request to GitHub (API or uploads host) with the token and GitHub's headers.
    pub(crate) fn github(&self, method: Method, url: &str) -> RequestBuilder {
        self.github_accepting(method, url, "application/vnd.github+json")
    }

    /// Like [`Transport::github`] with another `Accept` (asset downloads want the bytes).
    pub(crate) fn github_accepting(
        &self,
        method: Method,
        url: &str,
        accept: &str,
    ) -> RequestBuilder {
        self.client
            .request(method, url)
            .bearer_auth(self.token.expose())
            .header(ACCEPT, accept)
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header(USER_AGENT, user_agent())
    }

    /// A request to a host that must not see the token (object storage behind a 302).
    pub(crate) fn anonymous(&self, url: &str) -> RequestBuilder {
        self.client.get(url).header(USER_AGENT, user_agent())
    }

    /// Sends `make()` until it succeeds (2xx/3xx), fails for good, or the retry bounds are reached.
    /// Each attempt waits at most [`Transport::answer_wait`] for the whole answer.
    pub(crate) async fn send(
        &self,
        what: &str,
        replay: Replay,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let wait = self.answer_wait(attempt + 1);
            let outcome = self
                .send_once(what, HostRole::Api, make().timeout(wait), wait)
                .await;
            let err = match outcome {
                Ok(response) => return Ok(response),
                Err(err) => err,
            };
            attempt += 1;
            match self.retry_delay(&err, attempt, replay, started) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(gave_up(err, attempt, started)),
            }
        }
    }

    /// One attempt: error statuses become [`Error::Api`] (with GitHub's message and any wait hint),
    /// connection failures [`Error::Network`] naming the host of `role`. `wait`: the answer wait
    /// the request carries, for the message when it passes.
    pub(crate) async fn send_once(
        &self,
        what: &str,
        role: HostRole,
        request: RequestBuilder,
        wait: Duration,
    ) -> Result<Response> {
        self.count_one();
        let debug = http_debug().then(|| {
            let shown = request.try_clone().and_then(|r| r.build().ok()).map(|r| {
                let sent = r
                    .headers()
                    .get(reqwest::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .or_else(|| Some(r.body()?.as_bytes()?.len() as u64));
                debug_request(r.method(), r.url(), role, sent)
            });
            (shown.unwrap_or_else(|| what.to_owned()), Instant::now())
        });
        let sent = request.send().await;
        if let Some((shown, at)) = &debug {
            let answer = match &sent {
                Ok(response) => debug_status(response),
                Err(e) => debug_failure(e),
            };
            debug_print(shown, &answer, *at);
        }
        let response = sent.map_err(|e| network_error(what, role, &e, wait))?;
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            return Ok(response);
        }
        Err(api_error(what, response).await)
    }

    /// How long to wait before attempt `attempt + 1`, or `None` to give up.
    pub(crate) fn retry_delay(
        &self,
        err: &Error,
        attempt: u32,
        replay: Replay,
        _started: Instant,
    ) -> Option<Duration> {
        if attempt >= self.policy.max_attempts {
            return None;
        }
        let (reason, attempts) = self.retry_reason(err)?;
        if attempt >= attempts {
            return None;
        }
        let delay = self.backoff_for(err, attempt, replay)?;
        if delay > self.policy.max_wait || Instant::now() + delay > self.deadline() {
            return None;
        }
        // Said on stderr (terminals and Actions logs alike): a wait is never silent.
        let note = format!(
            "ccsync: {reason}, retrying in {} (attempt {} of {attempts})",
            say_duration(delay),
            attempt + 1
        );
        eprintln!(
            "{}",
            crate::neutral::message(&note, crate::actions::in_actions())
        );
        Some(delay)
    }

    /// What went wrong, in words, and how many attempts such a failure gets (`None`: not one to
    /// retry).
    fn retry_reason(&self, err: &Error) -> Option<(String, u32)> {
        Some(match err {
            Error::Api {
                rate_limited_until: Some(_),
                ..
            } => (
                "GitHub's rate limit is reached".to_owned(),
                self.policy.max_attempts,
            ),
            Error::Api { status, .. } => (
                format!("GitHub answered {status}"),
                self.policy.max_attempts,
            ),
            Error::Network {
                sent: false, host, ..
            } => (
                format!("{host} could not be reached"),
                self.policy.max_attempts.min(CONNECT_ATTEMPTS),
            ),
            Error::Network {
                timed_out: true,
                host,
                ..
            } => (
                format!("{host} stopped answering"),
                self.policy.max_attempts,
            ),
            Error::Network { host, .. } => (
                format!("the connection to {host} broke"),
                self.policy.max_attempts,
            ),
            Error::HostStatus { host, status, .. } => (
                format!("{host} answered {status}"),
                self.policy.max_attempts,
            ),
            _ => return None,
        })
    }

    /// The wait before the next attempt after `err` (`None`: repeating the request is not safe).
    fn backoff_for(&self, err: &Error, attempt: u32, replay: Replay) -> Option<Duration> {
        Some(match err {
            // Rate limits are answered before GitHub does anything: always safe to repeat.
            Error::Api {
                rate_limited_until: Some(_),
                retry,
                ..
            } => match retry {
                Some(RetryHint(wait)) => *wait,
                None => self
                    .policy
                    .base
                    .saturating_mul(60)
                    .max(self.policy.backoff(attempt)),
            },
            Error::Api { status, .. } if *status >= 500 && replay == Replay::Idempotent => {
                self.policy.backoff(attempt)
            }
            // A hang is retried like a drop: the same request usually gets an answer next time.
            Error::Network { sent, .. } if !*sent || replay == Replay::Idempotent => {
                self.policy.backoff(attempt)
            }
            Error::HostStatus { .. } if replay == Replay::Idempotent => {
                self.policy.backoff(attempt)
            }
            _ => return None,
        })
    }
}

/// The final error of a request that was tried `attempts` times since `started`: a network
/// failure says how often and how long ccsync tried, and what gives it longer.
pub(crate) fn gave_up(err: Error, attempts: u32, started: Instant) -> Error {
    match err {
        Error::Network {
            what,
            host,
            detail,
            sent,
            timed_out,
        } if attempts > 1 || timed_out => Error::Network {
            what,
            host,
            detail: format!(
                "{detail} ({} in {}; --timeout / CCSYNC_TIMEOUT sets how long ccsync keeps retrying)",
                if attempts == 1 { "1 attempt".to_owned() } else { format!("{attempts} attempts") },
                say_duration(started.elapsed())
            ),
            sent,
            timed_out,
        },
        other => other,
    }
}

pub(crate) fn user_agent() -> String {
    format!("ccsync/{}", env!("CARGO_PKG_VERSION"))
}

pub(crate) fn say_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d < Duration::from_secs(10) && d.subsec_millis() != 0 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs_f64().round() as u64)
    }
}

/// A transport failure in words, naming the host (from the request's URL) and its role.
/// reqwest's message names the URL, never the headers.
pub(crate) fn network_error(
    what: &str,
    role: HostRole,
    err: &reqwest::Error,
    answer_wait: Duration,
) -> Error {
    let host = err
        .url()
        .map(|u| host_of(u.as_str()))
        .unwrap_or_else(|| "GitHub".to_owned());
    if err.is_timeout() && !err.is_connect() {
        return no_answer(what, role, &host, answer_wait);
    }
    let cause = transport_cause(err);
    let sent = !err.is_connect();
    let detail = if sent {
        format!(
            "the connection to {} broke ({cause}); {}",
            role.name(&host),
            role.advice()
        )
    } else {
        format!(
            "could not reach {} ({cause}); {}",
            role.name(&host),
            role.advice()
        )
    };
    Error::Network {
        what: what.to_owned(),
        host,
        detail,
        sent,
        timed_out: false,
    }
}

/// reqwest's error and its causes, in one line.
pub(crate) fn transport_cause(err: &reqwest::Error) -> String {
    let mut cause = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        cause.push_str(": ");
        cause.push_str(&inner.to_string());
        source = inner.source();
    }
    cause
}

/// A host that accepted the request and said nothing within `wait`.
pub(crate) fn no_answer(what: &str, role: HostRole, host: &str, wait: Duration) -> Error {
    Error::Network {
        what: what.to_owned(),
        host: host.to_owned(),
        detail: format!(
            "{} accepted the connection but gave no answer within {}; {}",
            role.name(host),
            say_duration(wait),
            role.advice()
        ),
        sent: true,
        timed_out: true,
    }
}

/// An upload whose whole body went into the connection and whose answer did not come within
/// `wait`: from here, no progress can be seen, so it is a stall too.
pub(crate) fn no_answer_after_body(what: &str, host: &str, total: u64, wait: Duration) -> Error {
    let role = HostRole::Uploads;
    Error::Network {
        what: what.to_owned(),
        host: host.to_owned(),
        detail: format!(
            "the transfer with {} stalled after all {} were sent: no answer within {} (a slow \
             link is fine, a stopped one is not); {}; CCSYNC_STALL_SECONDS sets how long a \
             transfer may pause",
            role.name(host),
            say_bytes(total),
            say_duration(wait),
            role.advice()
        ),
        sent: true,
        timed_out: true,
    }
}

/// A transfer that moved less than 1 KiB/s for a stall period: `moved` of `total` bytes.
pub(crate) fn stalled(
    what: &str,
    role: HostRole,
    host: &str,
    (moved, total): (u64, Option<u64>),
    period: Duration,
) -> Error {
    let of = match total {
        Some(total) => format!("{} of {}", say_bytes(moved), say_bytes(total)),
        None => say_bytes(moved),
    };
    Error::Network {
        what: what.to_owned(),
        host: host.to_owned(),
        detail: format!(
            "the transfer with {} stalled after {of}: less than 1 KiB/s for {} (a slow link is \
             fine, a stopped one is not); {}; CCSYNC_STALL_SECONDS sets how long a transfer may \
             pause",
            role.name(host),
            say_duration(period),
            role.advice()
        ),
        sent: true,
        timed_out: true,
    }
}

/// A transfer whose connection broke after `moved` of `total` bytes.
pub(crate) fn broke(
    what: &str,
    role: HostRole,
    host: &str,
    (moved, total): (u64, Option<u64>),
    cause: &str,
) -> Error {
    let of = match total {
        Some(total) => format!("{} of {}", say_bytes(moved), say_bytes(total)),
        None => say_bytes(moved),
    };
    Error::Network {
        what: what.to_owned(),
        host: host.to_owned(),
        detail: format!(
            "the connection to {} broke after {of} ({cause}); {}",
            role.name(host),
            role.advice()
        ),
        sent: true,
        timed_out: false,
    }
}

/// Reads an error answer: GitHub's message and errors, and whether (and how long) it is a rate limit.
pub(crate) async fn api_error(what: &str, response: Response) -> Error {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body: GitHubError = response.json().await.unwrap_or_default();
    let errors = body
        .errors
        .iter()
        .map(|e| match e {
            serde_json::Value::Object(o) => {
                let field = |k: &str| o.get(k).and_then(|v| v.as_str()).unwrap_or("");
                let text = format!("{} {} {}", field("resource"), field("field"), field("code"));
                let text = text.trim().to_owned();
                if let Some(m) = o.get("message").and_then(|v| v.as_str()) {
                    format!("{text} ({m})").trim().to_owned()
                } else {
                    text
                }
            }
            other => other.to_string(),
        })
        .collect();
    let (rate_limited_until, retry) = rate_limit(status, &headers, &body.message);
    Error::Api {
        status,
        what: what.to_owned(),
        message: body.message,
        errors,
        rate_limited_until,
        retry,
    }
}

/// GitHub's rate-limit rules: 429, or 403 with `retry-after`, with `x-ratelimit-remaining: 0`, or a
/// "rate limit" message (secondary limits).
fn rate_limit(
    status: u16,
    headers: &HeaderMap,
    message: &str,
) -> (Option<String>, Option<RetryHint>) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok());
    let exhausted = header("x-ratelimit-remaining") == Some("0");
    let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok());
    let limited = status == 429
        || (status == 403
            && (retry_after.is_some()
                || exhausted
                || message.to_ascii_lowercase().contains("rate limit")));
    if !limited {
        return (None, None);
    }
    let now = chrono::Utc::now().timestamp();
    let wait_secs = match (retry_after, exhausted, reset) {
        (Some(secs), _, _) => Some(secs),
        (None, true, Some(reset)) => Some((reset - now).max(0) as u64 + 1),
        _ => None,
    };
    let until = match wait_secs {
        Some(secs) => chrono::DateTime::from_timestamp(now + secs as i64, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| format!("in {secs} s")),
        None => "a few minutes from now".to_owned(),
    };
    (
        Some(until),
        wait_secs.map(|s| RetryHint(Duration::from_secs(s))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        assert!(policy.backoff(0) >= Duration::from_millis(100));
        assert!(policy.backoff(2) >= Duration::from_millis(400));
        assert_eq!(policy.backoff(20), Duration::from_secs(1));
    }

    #[test]
    fn rate_limits_are_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        let (until, hint) = rate_limit(403, &headers, "You have exceeded a secondary rate limit");
        assert!(until.is_some());
        assert_eq!(hint.unwrap().0, Duration::from_secs(7));
        assert_eq!(
            rate_limit(
                403,
                &HeaderMap::new(),
                "Resource not accessible by integration"
            )
            .0,
            None
        );
        assert!(rate_limit(429, &HeaderMap::new(), "").0.is_some());
    }
}

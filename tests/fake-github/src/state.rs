//! What the fake remembers: repositories, releases, assets, tokens, faults and the request log,
//! and how GitHub renders releases and assets as JSON.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What a token may do in a repository, as GitHub decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// `contents: write`: sees drafts, may write.
    Write,
    /// `contents: read` (a fork's pull request): no drafts, writes answer 403.
    Read,
    /// No access to the repository: everything answers 404, as for a private repository.
    None,
    /// Unknown or expired token: 401 `Bad credentials`.
    Invalid,
}

/// Which listener a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Host {
    Api,
    Uploads,
    Storage,
}

/// A fault to inject: the next `count` requests (after skipping `after` of them) whose method and
/// path match get `kind` instead of (or on top of) the normal answer. `path` is matched against the
/// path below the API/uploads prefix (`/repos/o/r/releases`), `*` matching any run of characters;
/// `query`, when given, against the decoded query string (`name=claude-session-*.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub method: Option<String>,
    pub path: String,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub host: Option<Host>,
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub after: u32,
    /// Every matching request (after `after`) gets the fault, for ever: `count` is ignored.
    #[serde(default)]
    pub persistent: bool,
    /// [`FaultKind::Barrier`]: how many requests meet before all go on (default 2).
    #[serde(default)]
    pub parties: Option<u32>,
    /// Set when the fault is added: tells the requests of one barrier apart from another's.
    #[serde(skip)]
    pub(crate) serial: u64,
    /// `status` for [`FaultKind::Status`] (default 502).
    #[serde(default)]
    pub status: Option<u16>,
    /// Seconds for `retry-after` / `x-ratelimit-reset` (default 1).
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Milliseconds for [`FaultKind::Delay`] (default 300).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Bytes per second for [`FaultKind::Throttle`] (default 250,000).
    #[serde(default)]
    pub rate: Option<u64>,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(method: &str, path: &str, kind: FaultKind) -> Self {
        Fault {
            method: Some(method.to_owned()),
            path: path.to_owned(),
            query: None,
            host: None,
            kind,
            count: 1,
            after: 0,
            persistent: false,
            parties: None,
            serial: 0,
            status: None,
            retry_after: None,
            delay_ms: None,
            rate: None,
        }
    }

    /// [`FaultKind::Throttle`]: the link's rate in bytes per second.
    pub fn rate(mut self, bytes_per_second: u64) -> Self {
        self.rate = Some(bytes_per_second);
        self
    }

    pub fn delay_ms(mut self, ms: u64) -> Self {
        self.delay_ms = Some(ms);
        self
    }

    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    pub fn after(mut self, after: u32) -> Self {
        self.after = after;
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn on(mut self, host: Host) -> Self {
        self.host = Some(host);
        self
    }

    /// Only requests whose decoded query string matches `pattern` (`*` any run of characters).
    pub fn query(mut self, pattern: &str) -> Self {
        self.query = Some(pattern.to_owned());
        self
    }

    /// Every matching request gets the fault (after the first `after`), however many come.
    pub fn always(mut self) -> Self {
        self.persistent = true;
        self
    }

    /// [`FaultKind::Barrier`]: `parties` requests wait for each other.
    pub fn parties(mut self, parties: u32) -> Self {
        self.parties = Some(parties);
        self.count = parties;
        self
    }

    /// Whether the fault still fires.
    pub fn pending(&self) -> bool {
        self.persistent || self.count > 0
    }

    pub(crate) fn matches(&self, host: Host, method: &str, path: &str, query: &str) -> bool {
        self.pending()
            && self.host.is_none_or(|h| h == host)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && glob(&self.path, path)
            && self.query.as_deref().is_none_or(|q| glob(q, query))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` (default 502) with a GitHub-style error body; nothing happens.
    Status,
    /// 403 "You have exceeded a secondary rate limit" with `retry-after`.
    SecondaryRateLimit,
    /// 429 with `retry-after`.
    TooManyRequests,
    /// 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` in `retry_after` seconds.
    PrimaryRateLimit,
    /// Close the connection without answering; nothing happens.
    Drop,
    /// Do the request, then close the connection without answering (the client cannot know).
    DropAfter,
    /// Uploads: read half the body, leave a `starter` asset, close the connection.
    CutUpload,
    /// Wait `delay_ms` (default 300), then answer normally: widens race windows.
    Delay,
    /// Accept the request and never answer (nothing happens): a test kills its client meanwhile.
    Hang,
    /// Do the request, then never answer.
    HangAfter,
    /// Do the request and answer with its full `Content-Length`, but only half the body, then close.
    CutResponse,
    /// Hold the request (counted like a hang) until the test calls `release_held`, then answer
    /// it normally: puts one client's request after another client's whole run.
    Hold,
    /// Hold the request until `parties` matching requests arrived (or `delay_ms`, default 10000,
    /// passed), then answer them all normally: forces two clients into the same instant.
    Barrier,
    /// A slow link: the request body is read and the answer's body sent at `rate` bytes per
    /// second (default 250,000); everything else as usual. A rate of a few bytes is a trickle.
    Throttle,
}

/// `*` matches any run of characters (including `/`); everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// One asset of a release, with its bytes.
#[derive(Clone, Debug)]
pub struct AssetState {
    pub id: u64,
    pub release_id: u64,
    pub name: String,
    pub label: Option<String>,
    pub content_type: String,
    /// `uploaded`, or `starter` while (or after an interrupted) upload.
    pub state: String,
    /// Shared, so that a release cloned to answer a request does not copy its assets' bytes.
    pub data: std::sync::Arc<Vec<u8>>,
    /// sha256 of `data` when the upload completed; a corrupted asset keeps the old digest.
    pub digest: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub download_count: u64,
}

#[derive(Clone, Debug)]
pub struct ReleaseState {
    pub id: u64,
    pub tag_name: String,
    pub target_commitish: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    pub created_at: String,
    pub published_at: Option<String>,
    pub assets: Vec<AssetState>,
}

#[derive(Default, Debug)]
pub struct Repo {
    pub owner: String,
    pub name: String,
    pub branches: BTreeSet<String>,
    pub releases: BTreeMap<u64, ReleaseState>,
    /// Pull requests by number (`GET /repos/{o}/{r}/pulls/{n}`).
    pub pulls: BTreeMap<u64, PullState>,
}

/// A pull request: its head branch and the repository that holds it (`owner/name`; a fork's
/// differs from the base repository's, `None` for a deleted fork).
#[derive(Clone, Debug)]
pub struct PullState {
    pub head_ref: String,
    pub head_repo: Option<String>,
}

/// One logged request/response pair.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub host: Host,
    pub method: String,
    /// The full URL as the client addressed it.
    pub url: String,
    /// The path below the API/uploads prefix (what faults match).
    pub path: String,
    pub request: LoggedMessage,
    /// `None` when the connection was dropped without an answer.
    pub response: Option<LoggedResponse>,
    #[serde(default)]
    pub fault: Option<FaultKind>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LoggedMessage {
    /// Lower-case names; `authorization` is logged as `[redacted]`.
    pub headers: BTreeMap<String, String>,
    /// The JSON body, if the body was JSON; binary bodies are omitted.
    pub body: Option<Value>,
    pub body_size: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoggedResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Option<Value>,
}

/// Everything the fake knows.
pub struct State {
    pub api_url: String,
    pub uploads_url: String,
    pub storage_url: String,
    /// `http://127.0.0.1:P` of the API listener: web links (`html_url`) point here.
    pub web_url: String,
    pub redirect_downloads: bool,
    pub repos: BTreeMap<String, Repo>,
    pub tokens: HashMap<String, Permission>,
    pub faults: Vec<Fault>,
    pub log: Vec<LoggedRequest>,
    pub log_file: Option<std::fs::File>,
    pub next_id: u64,
    pub requests_by_token: HashMap<String, u64>,
    pub next_fault_serial: u64,
    /// Requests held by a `hang`/`hang_after` fault, counted for [`Hangs::wait_for`].
    pub hangs: std::sync::Arc<Hangs>,
    /// One meeting point per `barrier` fault.
    pub barriers: HashMap<u64, std::sync::Arc<tokio::sync::Barrier>>,
}

/// Counts requests that hang, so a blocking test can wait until its client is stuck.
#[derive(Debug)]
pub struct Hangs {
    count: std::sync::Mutex<u64>,
    arrived: std::sync::Condvar,
    /// Bumped by `release_held`: held requests go on.
    pub released: tokio::sync::watch::Sender<u64>,
}

impl Default for Hangs {
    fn default() -> Self {
        Hangs {
            count: Default::default(),
            arrived: Default::default(),
            released: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Hangs {
    pub fn arrive(&self) {
        *self.count.lock().unwrap() += 1;
        self.arrived.notify_all();
    }

    pub fn count(&self) -> u64 {
        *self.count.lock().unwrap()
    }

    /// Waits until at least `n` requests have hung in total; `false` after `timeout`.
    pub fn wait_for(&self, n: u64, timeout: std::time::Duration) -> bool {
        let guard = self.count.lock().unwrap();
        let (guard, _) = self
            .arrived
            .wait_timeout_while(guard, timeout, |count| *count < n)
            .unwrap();
        *guard >= n
    }
}

impl State {
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Repositories spring into existence on first use: every token that is not `none` sees them.
    pub fn repo_mut(&mut self, owner: &str, name: &str) -> &mut Repo {
        let key = format!(
            "{}/{}",
            owner.to_ascii_lowercase(),
            name.to_ascii_lowercase()
        );
        self.repos.entry(key).or_insert_with(|| Repo {
            owner: owner.to_owned(),
            name: name.to_owned(),
            ..Repo::default()
        })
    }

    pub fn permission(&self, token: Option<&str>) -> Permission {
        match token {
            // Anonymous callers read public repositories.
            None => Permission::Read,
            Some(t) => self.tokens.get(t).copied().unwrap_or(Permission::Write),
        }
    }

    /// Adds a fault, numbering it.
    pub fn add_fault(&mut self, mut fault: Fault) {
        self.next_fault_serial += 1;
        fault.serial = self.next_fault_serial;
        self.faults.push(fault);
    }

    /// Takes the first fault that matches, counting it down.
    pub fn take_fault(
        &mut self,
        host: Host,
        method: &str,
        path: &str,
        query: &str,
    ) -> Option<Fault> {
        for fault in self.faults.iter_mut() {
            if fault.matches(host, method, path, query) {
                if fault.after > 0 {
                    fault.after -= 1;
                    continue;
                }
                if !fault.persistent {
                    fault.count -= 1;
                }
                return Some(fault.clone());
            }
        }
        None
    }

    pub fn record(&mut self, entry: LoggedRequest) {
        if let Some(file) = self.log_file.as_mut() {
            use std::io::Write;
            let _ = writeln!(
                file,
                "{}",
                serde_json::to_string(&entry).unwrap_or_default()
            );
        }
        self.log.push(entry);
    }

    pub fn user(&self) -> Value {
        let base = &self.api_url;
        json!({
            "login": "github-actions[bot]", "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=",
            "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4", "gravatar_id": "",
            "url": format!("{base}/users/github-actions%5Bbot%5D"),
            "html_url": format!("{}/apps/github-actions", self.web_url),
            "followers_url": format!("{base}/users/github-actions%5Bbot%5D/followers"),
            "following_url": format!("{base}/users/github-actions%5Bbot%5D/following{{/other_user}}"),
            "gists_url": format!("{base}/users/github-actions%5Bbot%5D/gists{{/gist_id}}"),
            "starred_url": format!("{base}/users/github-actions%5Bbot%5D/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{base}/users/github-actions%5Bbot%5D/subscriptions"),
            "organizations_url": format!("{base}/users/github-actions%5Bbot%5D/orgs"),
            "repos_url": format!("{base}/users/github-actions%5Bbot%5D/repos"),
            "events_url": format!("{base}/users/github-actions%5Bbot%5D/events{{/privacy}}"),
            "received_events_url": format!("{base}/users/github-actions%5Bbot%5D/received_events"),
            "type": "Bot", "user_view_type": "public", "site_admin": false
        })
    }

    pub fn asset_json(&self, owner: &str, repo: &str, tag: &str, asset: &AssetState) -> Value {
        json!({
            "url": format!("{}/repos/{owner}/{repo}/releases/assets/{}", self.api_url, asset.id),
            "id": asset.id,
            "node_id": format!("RA_kwDO{:08}", asset.id),
            "name": asset.name,
            "label": asset.label.clone().unwrap_or_default(),
            "uploader": self.user(),
            "content_type": asset.content_type,
            "state": asset.state,
            "size": asset.size(),
            "digest": asset.digest,
            "download_count": asset.download_count,
            "created_at": asset.created_at,
            "updated_at": asset.updated_at,
            "browser_download_url": format!(
                "{}/{owner}/{repo}/releases/download/{}/{}",
                self.web_url,
                encode(tag),
                encode(&asset.name)
            ),
        })
    }

    pub fn release_json(&self, owner: &str, repo: &str, release: &ReleaseState) -> Value {
        let api = &self.api_url;
        let id = release.id;
        let tag_for_links = if release.draft {
            format!("untagged-{:020x}", id.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        } else {
            release.tag_name.clone()
        };
        let assets: Vec<Value> = release
            .assets
            .iter()
            .map(|a| self.asset_json(owner, repo, &tag_for_links, a))
            .collect();
        json!({
            "url": format!("{api}/repos/{owner}/{repo}/releases/{id}"),
            "assets_url": format!("{api}/repos/{owner}/{repo}/releases/{id}/assets"),
            "upload_url": format!("{}/repos/{owner}/{repo}/releases/{id}/assets{{?name,label}}", self.uploads_url),
            "html_url": format!("{}/{owner}/{repo}/releases/tag/{}", self.web_url, encode(&tag_for_links)),
            "id": id,
            "author": self.user(),
            "node_id": format!("RE_kwDO{id:08}"),
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "draft": release.draft,
            "immutable": false,
            "prerelease": release.prerelease,
            "created_at": release.created_at,
            "updated_at": release.created_at,
            "published_at": release.published_at,
            "assets": assets,
            "tarball_url": (!release.draft).then(|| format!("{api}/repos/{owner}/{repo}/tarball/{}", encode(&release.tag_name))),
            "zipball_url": (!release.draft).then(|| format!("{api}/repos/{owner}/{repo}/zipball/{}", encode(&release.tag_name))),
            "body": release.body,
        })
    }
}

impl AssetState {
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Percent-encodes a path segment.
pub fn encode(segment: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(segment, SET).to_string()
}

/// GitHub's renaming of asset names: every run of characters outside `[A-Za-z0-9._+-]` becomes one
/// `.`, and leading or trailing dots go (`my file (1).zip` -> `my.file.1.zip`).
pub fn normalize_asset_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || "._+-".contains(c) {
            if in_run && !out.ends_with('.') && c != '.' {
                out.push('.');
            }
            in_run = false;
            out.push(c);
        } else {
            in_run = true;
        }
    }
    out.trim_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_a_shell() {
        assert!(glob("/repos/*/releases", "/repos/o/r/releases"));
        assert!(!glob("/repos/*/releases", "/repos/o/r/releases/1"));
        assert!(glob("/repos/*/releases/*", "/repos/o/r/releases/1"));
        assert!(glob("*", "/anything"));
        assert!(glob("/x", "/x"));
    }

    #[test]
    fn names_are_normalized_like_github() {
        assert_eq!(normalize_asset_name("my file (1).zip"), "my.file.1.zip");
        assert_eq!(normalize_asset_name("a b.tar.gz"), "a.b.tar.gz");
        assert_eq!(
            normalize_asset_name("claude-session-x.tar.gz"),
            "claude-session-x.tar.gz"
        );
        assert_eq!(normalize_asset_name(" lead"), "lead");
    }
}

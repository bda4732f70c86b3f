//! The three listeners (API, uploads, storage), the routing of requests to GitHub's behaviour,
//! fault injection and the request log.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::state::*;

pub type Shared = Arc<Mutex<State>>;

#[derive(Clone)]
pub struct Listener {
    pub host: Host,
    /// The path prefix below which GitHub's paths live (`/api/v3` on GHES, else empty).
    pub api_prefix: &'static str,
    /// On GHES the uploads live on the API host under this prefix.
    pub uploads_prefix: Option<&'static str>,
}

/// Accepts connections until `shutdown` changes. Each connection can be killed by its handler
/// (to simulate a dropped connection) through a per-connection [`Notify`].
pub async fn serve(
    listener: TcpListener,
    kind: Listener,
    state: Shared,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let state = state.clone();
        let kind = kind.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let kill_for_service = kill.clone();
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                let kind = kind.clone();
                let kill = kill_for_service.clone();
                async move {
                    Ok::<_, Infallible>(cut_if_marked(handle(state, kind, kill, req).await).await)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
            }
        });
    }
}

/// What a handler answers, before logging turns it into a response.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ReplyBody,
}

pub enum ReplyBody {
    Empty,
    Json(Value),
    Bytes(Vec<u8>, String),
    Text(String, String),
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            headers: vec![],
            body: ReplyBody::Json(body),
        }
    }

    fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: vec![],
            body: ReplyBody::Empty,
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

fn error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": status.to_string(),
        }),
    )
}

fn validation(resource: &str, field: &str, code: &str) -> Reply {
    Reply::json(
        422,
        json!({
            "message": "Validation Failed",
            "errors": [{ "resource": resource, "code": code, "field": field }],
            "documentation_url": "https://docs.github.com/rest",
            "status": "422",
        }),
    )
}

/// How one request ended: answered, or the connection is to be dropped.
enum Outcome {
    Answer(Reply),
    Drop,
}

struct Incoming2 {
    method: String,
    /// Path below the prefix.
    path: String,
    query: BTreeMap<String, String>,
    headers: hyper::HeaderMap,
    token: Option<String>,
}

async fn handle(
    state: Shared,
    kind: Listener,
    kill: Arc<Notify>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let raw_path = req.uri().path().to_owned();
    let host_header = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let url = format!(
        "http://{host_header}{}",
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let query: BTreeMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter(|s| !s.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(&v.replace('+', " ")))
                })
                .collect()
        })
        .unwrap_or_default();

    // `gh` with `GH_HOST=github.localhost` and `HTTP_PROXY` pointing here sends proxy-form requests
    // for `api.github.localhost`; it sends its token only to hosts below `github.localhost`, so
    // uploads must go to `uploads.github.localhost` (through the proxy, to this listener) rather
    // than to 127.0.0.1, as on github.com where they go to `uploads.github.com`.
    let proxied_local = (kind.host == Host::Api)
        .then(|| req.uri().host().map(str::to_owned))
        .flatten()
        .filter(|h| h.ends_with(".localhost"));
    let proxied_uploads = proxied_local
        .as_deref()
        .is_some_and(|h| h.starts_with("uploads."));
    // The URLs in answers then name those hosts too (`url` of an asset, `upload_url`).
    let aliases = proxied_local
        .as_deref()
        .and_then(|h| Some((h, h.strip_prefix("api.")?)))
        .map(|(api, base)| (format!("http://{api}"), format!("http://uploads.{base}")));

    // Which API this request addresses, and the path below its prefix.
    let (host, path) = match kind.host {
        Host::Api if proxied_uploads => (Host::Uploads, raw_path.clone()),
        Host::Api => {
            if raw_path == "/api/graphql" {
                // GHES (and `gh` with GH_HOST set to a non-github.com host) posts GraphQL here.
                (Host::Api, "/graphql".to_owned())
            } else if let Some(rest) = kind.uploads_prefix.and_then(|p| raw_path.strip_prefix(p)) {
                (Host::Uploads, rest.to_owned())
            } else if let Some(rest) = raw_path.strip_prefix(kind.api_prefix) {
                (
                    Host::Api,
                    if rest.is_empty() {
                        "/".to_owned()
                    } else {
                        rest.to_owned()
                    },
                )
            } else {
                (Host::Api, format!("\0{raw_path}"))
            }
        }
        other => (other, raw_path.clone()),
    };

    let mut logged_headers = BTreeMap::new();
    for (name, value) in req.headers() {
        let value = if name == "authorization" {
            "[redacted]".to_owned()
        } else {
            value.to_str().unwrap_or("<binary>").to_owned()
        };
        logged_headers.insert(name.as_str().to_owned(), value);
    }
    let token = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|v| {
            let v = v.trim();
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .or_else(|| v.strip_prefix("token "))
                .map(|t| t.trim().to_owned())
        });

    // Admin endpoints are not GitHub: no faults, no log.
    if host == Host::Api && path.starts_with("/_fake/") {
        let body = collect(req.into_body()).await;
        let reply = crate::admin::handle(&state, &method, &path, &query, &body);
        return to_response(&state, None, reply).0;
    }

    let raw_query = decode(req.uri().query().unwrap_or(""));
    let fault = state
        .lock()
        .unwrap()
        .take_fault(host, &method, &path, &raw_query);
    let incoming = Incoming2 {
        method: method.clone(),
        path: path.clone(),
        query,
        headers: req.headers().clone(),
        token,
    };

    let mut logged_request = LoggedMessage {
        headers: logged_headers,
        body: None,
        body_size: 0,
    };
    if let Some(f) = fault.as_ref().filter(|f| f.kind == FaultKind::Delay) {
        tokio::time::sleep(std::time::Duration::from_millis(f.delay_ms.unwrap_or(300))).await;
    }
    if let Some(f) = fault.as_ref().filter(|f| f.kind == FaultKind::Barrier) {
        let barrier = state
            .lock()
            .unwrap()
            .barriers
            .entry(f.serial)
            .or_insert_with(|| Arc::new(tokio::sync::Barrier::new(f.parties.unwrap_or(2) as usize)))
            .clone();
        let wait = std::time::Duration::from_millis(f.delay_ms.unwrap_or(10_000));
        let _ = tokio::time::timeout(wait, barrier.wait()).await;
    }
    if fault.as_ref().is_some_and(|f| f.kind == FaultKind::Hold) {
        let hangs = state.lock().unwrap().hangs.clone();
        let mut released = hangs.released.subscribe();
        hangs.arrive();
        let _ = released.changed().await;
    }
    let fault_kind = fault.as_ref().map(|f| f.kind);
    let outcome = match fault.as_ref().map(|f| f.kind) {
        Some(FaultKind::Hang) => {
            state.lock().unwrap().record(LoggedRequest {
                host,
                method,
                url,
                path,
                request: logged_request,
                response: None,
                fault: fault_kind,
            });
            hang(&state).await
        }
        Some(FaultKind::Drop) => {
            // Let the body arrive (or not): the client sees the connection close with no answer.
            Outcome::Drop
        }
        Some(FaultKind::Status) => {
            let status = fault.as_ref().and_then(|f| f.status).unwrap_or(502);
            let _ = collect(req.into_body()).await;
            Outcome::Answer(error(status, "Server Error"))
        }
        Some(FaultKind::SecondaryRateLimit) => {
            let _ = collect(req.into_body()).await;
            let after = fault.as_ref().and_then(|f| f.retry_after).unwrap_or(1);
            Outcome::Answer(
                error(
                    403,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                )
                .header("retry-after", after.to_string()),
            )
        }
        Some(FaultKind::TooManyRequests) => {
            let _ = collect(req.into_body()).await;
            let after = fault.as_ref().and_then(|f| f.retry_after).unwrap_or(1);
            Outcome::Answer(
                error(429, "Too Many Requests").header("retry-after", after.to_string()),
            )
        }
        Some(FaultKind::PrimaryRateLimit) => {
            let _ = collect(req.into_body()).await;
            let after = fault.as_ref().and_then(|f| f.retry_after).unwrap_or(1);
            let reset = chrono::Utc::now().timestamp() as u64 + after;
            Outcome::Answer(
                error(403, "API rate limit exceeded for installation.")
                    .header("x-ratelimit-remaining", "0")
                    .header("x-ratelimit-reset", reset.to_string()),
            )
        }
        _ => {
            let cut = fault_kind == Some(FaultKind::CutUpload);
            let pace = throttle_rate(fault.as_ref());
            let (reply, dropped) = if host == Host::Uploads && method == "POST" {
                upload(&state, &incoming, req.into_body(), (cut, pace)).await
            } else {
                let body = collect(req.into_body()).await;
                logged_request.body_size = body.len() as u64;
                logged_request.body = serde_json::from_slice(&body).ok();
                (route(&state, host, &incoming, &body), false)
            };
            if fault_kind == Some(FaultKind::HangAfter) {
                state.lock().unwrap().record(LoggedRequest {
                    host,
                    method,
                    url,
                    path,
                    request: logged_request,
                    response: None,
                    fault: fault_kind,
                });
                hang(&state).await
            }
            if dropped || fault_kind == Some(FaultKind::DropAfter) {
                Outcome::Drop
            } else {
                Outcome::Answer(reply)
            }
        }
    };
    if host == Host::Uploads {
        logged_request.body_size = incoming
            .headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
    }

    match outcome {
        Outcome::Drop => {
            state.lock().unwrap().record(LoggedRequest {
                host,
                method,
                url,
                path,
                request: logged_request,
                response: None,
                fault: fault_kind,
            });
            kill.notify_one();
            std::future::pending::<()>().await;
            unreachable!()
        }
        Outcome::Answer(mut reply) => {
            if let (Some((api, uploads)), ReplyBody::Json(value)) = (&aliases, &mut reply.body) {
                let (api_url, uploads_url) = {
                    let s = state.lock().unwrap();
                    (s.api_url.clone(), s.uploads_url.clone())
                };
                replace_prefix(value, &uploads_url, uploads);
                replace_prefix(value, &api_url, api);
            }
            let (mut response, logged) = to_response(&state, incoming.token.as_deref(), reply);
            if fault_kind == Some(FaultKind::CutResponse) {
                response.extensions_mut().insert(CutBody);
            }
            if let Some(rate) = throttle_rate(fault.as_ref()) {
                response.extensions_mut().insert(Paced(rate));
            }
            state.lock().unwrap().record(LoggedRequest {
                host,
                method,
                url,
                path,
                request: logged_request,
                response: Some(logged),
                fault: fault_kind,
            });
            response
        }
    }
}

/// Holds a request for ever (until the fake stops), after counting it for `wait_for_hung`.
async fn hang(state: &Shared) -> ! {
    let hangs = state.lock().unwrap().hangs.clone();
    hangs.arrive();
    std::future::pending::<()>().await;
    unreachable!()
}

/// Marks an answer whose body is to be cut (a `cut_response` fault).
#[derive(Clone, Copy)]
struct CutBody;

/// Marks an answer whose body goes out at this many bytes per second (a `throttle` fault).
#[derive(Clone, Copy)]
struct Paced(u64);

fn throttle_rate(fault: Option<&Fault>) -> Option<u64> {
    fault
        .filter(|f| f.kind == FaultKind::Throttle)
        .map(|f| f.rate.unwrap_or(250_000).max(1))
}

/// How long `bytes` take at `rate` bytes per second.
fn pace_time(bytes: u64, rate: u64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(bytes as f64 / rate as f64)
}

/// `body` sent at `rate` bytes per second, in pieces of a tenth of a second (at least a byte).
fn paced(body: Bytes, rate: u64) -> AnyBody {
    let piece = (rate / 10).max(1) as usize;
    let started = tokio::time::Instant::now();
    let frames = futures_util::stream::unfold(0usize, move |sent| {
        let body = body.clone();
        async move {
            if sent >= body.len() {
                return None;
            }
            let end = (sent + piece).min(body.len());
            tokio::time::sleep_until(started + pace_time(end as u64, rate)).await;
            let frame = hyper::body::Frame::data(body.slice(sent..end));
            Some((Ok::<_, std::io::Error>(frame), end))
        }
    });
    BodyExt::boxed(http_body_util::StreamBody::new(frames))
}

type AnyBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// The answer as sent: a marked one announces its full `Content-Length` and sends half the bytes,
/// so the client sees the body end early (hyper then closes the connection).
async fn cut_if_marked(response: Response<Full<Bytes>>) -> Response<AnyBody> {
    let cut = response.extensions().get::<CutBody>().is_some();
    let pace = response.extensions().get::<Paced>().map(|p| p.0);
    let (mut parts, body) = response.into_parts();
    if let Some(rate) = pace.filter(|_| !cut) {
        let full = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(never) => match never {},
        };
        return Response::from_parts(parts, paced(full, rate));
    }
    if !cut {
        return Response::from_parts(parts, body.map_err(|never| match never {}).boxed());
    }
    let full = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    parts
        .headers
        .insert("content-length", HeaderValue::from(full.len()));
    let half = full.slice(..full.len() / 2);
    // A stream has no exact size, so hyper takes the announced length. The half goes out first
    // (hyper writes what it has while the stream waits), then the stream fails and hyper closes
    // the connection mid-body.
    use futures_util::StreamExt as _;
    let frames = futures_util::stream::iter([Ok(hyper::body::Frame::data(half))]).chain(
        futures_util::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Err(std::io::Error::other("cut_response fault"))
        }),
    );
    Response::from_parts(
        parts,
        BodyExt::boxed(http_body_util::StreamBody::new(frames)),
    )
}

async fn collect(body: Incoming) -> Bytes {
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default()
}

pub fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Adds the headers GitHub sends on every answer and renders the body.
/// Replaces the prefix `from` of every string in `value` by `to`.
fn replace_prefix(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(text) => {
            if let Some(rest) = text.strip_prefix(from) {
                *text = format!("{to}{rest}");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_prefix(v, from, to)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_prefix(v, from, to)),
        _ => {}
    }
}

fn to_response(
    state: &Shared,
    token: Option<&str>,
    reply: Reply,
) -> (Response<Full<Bytes>>, LoggedResponse) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let (body, logged_body, content_type) = match reply.body {
        ReplyBody::Empty => (Bytes::new(), None, None),
        ReplyBody::Json(value) => (
            Bytes::from(serde_json::to_vec(&value).unwrap()),
            Some(value),
            Some("application/json; charset=utf-8".to_owned()),
        ),
        ReplyBody::Bytes(data, ct) => (Bytes::from(data), None, Some(ct)),
        ReplyBody::Text(text, ct) => (Bytes::from(text), None, Some(ct)),
    };
    if let Some(ct) = content_type {
        headers.push(("content-type".into(), ct));
    }
    {
        let mut s = state.lock().unwrap();
        let key = token.unwrap_or("").to_owned();
        let used = {
            let counter = s.requests_by_token.entry(key).or_insert(0);
            *counter += 1;
            *counter
        };
        if !reply
            .headers
            .iter()
            .any(|(n, _)| n == "x-ratelimit-remaining")
        {
            let reset = chrono::Utc::now().timestamp() + 3600;
            headers.push(("x-ratelimit-limit".into(), "5000".into()));
            headers.push((
                "x-ratelimit-remaining".into(),
                5000u64.saturating_sub(used).to_string(),
            ));
            headers.push(("x-ratelimit-reset".into(), reset.to_string()));
            headers.push(("x-ratelimit-used".into(), used.to_string()));
            headers.push(("x-ratelimit-resource".into(), "core".into()));
        }
    }
    headers.push(("x-github-api-version-selected".into(), "2022-11-28".into()));
    headers.push((
        "x-github-request-id".into(),
        format!("FAKE:{:08X}", rand_u32()),
    ));
    headers.extend(reply.headers);

    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut logged_headers = BTreeMap::new();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(n, v);
        }
        logged_headers.insert(name, value);
    }
    (
        response,
        LoggedResponse {
            status: reply.status,
            headers: logged_headers,
            body: logged_body,
        },
    )
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64);
    h.finish() as u32
}

/// Checks the token against the repository. `Err` is the answer GitHub gives instead.
fn authorize(state: &State, token: Option<&str>, write: bool) -> Result<Permission, Reply> {
    match state.permission(token) {
        Permission::Invalid => Err(error(401, "Bad credentials")),
        Permission::None => Err(error(404, "Not Found")),
        Permission::Read if write => Err(error(403, "Resource not accessible by integration")),
        p => Ok(p),
    }
}

/// The JSON API.
fn route(state: &Shared, host: Host, req: &Incoming2, body: &[u8]) -> Reply {
    let mut s = state.lock().unwrap();
    if host == Host::Storage {
        return storage(&mut s, req);
    }
    if host == Host::Uploads {
        return error(404, "Not Found");
    }
    let segments: Vec<String> = req
        .path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    let token = req.token.as_deref();

    if m == "GET" && req.path == "/" {
        return match authorize(&s, token, false) {
            Err(r) => r,
            Ok(_) => Reply::json(
                200,
                json!({ "current_user_url": format!("{}/user", s.api_url) }),
            )
            .header("x-oauth-scopes", "repo, workflow")
            .header("x-accepted-oauth-scopes", ""),
        };
    }
    if m == "POST" && req.path == "/graphql" {
        return graphql(&mut s, token, body);
    }

    let ["repos", owner, repo, rest @ ..] = seg.as_slice() else {
        return error(
            404,
            &format!("Not Found (the fake does not know {m} {})", req.path),
        );
    };
    let (owner, repo) = (owner.to_string(), repo.to_string());
    let writes = !matches!(m, "GET" | "HEAD");
    let permission = match authorize(&s, token, writes) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let sees_drafts = permission == Permission::Write;
    let json_body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);

    match (m, rest) {
        ("GET", []) => {
            let r = s.repo_mut(&owner, &repo);
            let full_name = format!("{}/{}", r.owner, r.name);
            let push = permission == Permission::Write;
            Reply::json(
                200,
                json!({
                    "id": 1296269, "node_id": "R_kgDOfake", "name": repo, "full_name": full_name,
                    "private": true, "default_branch": "main",
                    "html_url": format!("{}/{full_name}", s.web_url),
                    "url": format!("{}/repos/{full_name}", s.api_url),
                    "permissions": { "admin": false, "maintain": false, "push": push, "triage": push, "pull": true },
                }),
            )
        }
        ("GET", ["branches", name @ ..]) => {
            let name = name.join("/");
            let r = s.repo_mut(&owner, &repo);
            if r.branches.contains(&name) {
                Reply::json(
                    200,
                    json!({ "name": name, "protected": false, "commit": { "sha": "0".repeat(40) } }),
                )
            } else {
                error(404, "Branch not found")
            }
        }
        ("GET", ["pulls", number]) => {
            let pull = number.parse::<u64>().ok().and_then(|n| {
                s.repo_mut(&owner, &repo)
                    .pulls
                    .get(&n)
                    .cloned()
                    .map(|p| (n, p))
            });
            match pull {
                Some((n, pull)) => Reply::json(200, pull_json(&s, &owner, &repo, n, &pull)),
                None => error(404, "Not Found"),
            }
        }
        ("GET", ["releases"]) => {
            let api = s.api_url.clone();
            let releases: Vec<ReleaseState> = s
                .repo_mut(&owner, &repo)
                .releases
                .values()
                .rev()
                .filter(|r| sees_drafts || !r.draft)
                .cloned()
                .collect();
            let items: Vec<Value> = releases
                .iter()
                .map(|r| s.release_json(&owner, &repo, r))
                .collect();
            paginate(&api, &req.path, &req.query, items)
        }
        ("POST", ["releases"]) => {
            let Some(tag) = json_body.get("tag_name").and_then(Value::as_str) else {
                return validation("Release", "tag_name", "missing_field");
            };
            let draft = json_body
                .get("draft")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let published_exists = s
                .repo_mut(&owner, &repo)
                .releases
                .values()
                .any(|r| !r.draft && r.tag_name == tag);
            if published_exists {
                return validation("Release", "tag_name", "already_exists");
            }
            let id = s.new_id();
            let now = now();
            let release = ReleaseState {
                id,
                tag_name: tag.to_owned(),
                target_commitish: json_body
                    .get("target_commitish")
                    .and_then(Value::as_str)
                    .unwrap_or("main")
                    .to_owned(),
                name: json_body
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                body: json_body
                    .get("body")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                draft,
                prerelease: json_body
                    .get("prerelease")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                created_at: now.clone(),
                published_at: (!draft).then_some(now),
                assets: vec![],
            };
            let rendered = s.release_json(&owner, &repo, &release);
            s.repo_mut(&owner, &repo).releases.insert(id, release);
            Reply::json(201, rendered).header(
                "location",
                format!("{}/repos/{owner}/{repo}/releases/{id}", s.api_url),
            )
        }
        ("GET", ["releases", "latest"]) => {
            // GitHub: the most recent published, non-prerelease release by `created_at` (ids break
            // ties within a second); drafts and prereleases never count, whatever the token.
            let latest = s
                .repo_mut(&owner, &repo)
                .releases
                .values()
                .filter(|r| !r.draft && !r.prerelease)
                .max_by(|a, b| (&a.created_at, a.id).cmp(&(&b.created_at, b.id)))
                .cloned();
            match latest {
                Some(r) => Reply::json(200, s.release_json(&owner, &repo, &r)),
                None => error(404, "Not Found"),
            }
        }
        ("GET", ["releases", "tags", tag @ ..]) => {
            let tag = tag.join("/");
            // Drafts are never returned here, whatever the token.
            let found = s
                .repo_mut(&owner, &repo)
                .releases
                .values()
                .find(|r| !r.draft && r.tag_name == tag)
                .cloned();
            match found {
                Some(r) => Reply::json(200, s.release_json(&owner, &repo, &r)),
                None => error(404, "Not Found"),
            }
        }
        ("GET", ["releases", "assets", id]) => {
            let Some((release, asset)) = find_asset(&mut s, &owner, &repo, id, sees_drafts) else {
                return error(404, "Not Found");
            };
            let accept = req
                .headers
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if accept.contains("application/octet-stream") {
                if asset.state != "uploaded" {
                    return error(404, "Not Found");
                }
                if s.redirect_downloads {
                    let location = format!(
                        "{}/github-production-release-asset/{}/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={:08x}&response-content-disposition=attachment%3B%20filename%3D{}",
                        s.storage_url,
                        release.id,
                        asset.id,
                        rand_u32(),
                        encode(&asset.name)
                    );
                    Reply::empty(302).header("location", location)
                } else {
                    bump_downloads(&mut s, &owner, &repo, asset.id);
                    Reply {
                        status: 200,
                        headers: vec![],
                        body: ReplyBody::Bytes(
                            std::sync::Arc::unwrap_or_clone(asset.data),
                            "application/octet-stream".into(),
                        ),
                    }
                }
            } else {
                Reply::json(200, s.asset_json(&owner, &repo, &release.tag_name, &asset))
            }
        }
        ("PATCH", ["releases", "assets", id]) => {
            let Some((release, asset)) = find_asset(&mut s, &owner, &repo, id, sees_drafts) else {
                return error(404, "Not Found");
            };
            let new_name = json_body
                .get("name")
                .and_then(Value::as_str)
                .map(normalize_asset_name);
            if let Some(name) = &new_name {
                if release
                    .assets
                    .iter()
                    .any(|a| a.id != asset.id && &a.name == name)
                {
                    return validation("ReleaseAsset", "name", "already_exists");
                }
            }
            let label = json_body
                .get("label")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let r = s
                .repo_mut(&owner, &repo)
                .releases
                .get_mut(&release.id)
                .unwrap();
            let a = r.assets.iter_mut().find(|a| a.id == asset.id).unwrap();
            if let Some(name) = new_name {
                a.name = name;
            }
            if label.is_some() {
                a.label = label;
            }
            a.updated_at = now();
            let a = a.clone();
            Reply::json(200, s.asset_json(&owner, &repo, &release.tag_name, &a))
        }
        ("DELETE", ["releases", "assets", id]) => {
            let Some((release, asset)) = find_asset(&mut s, &owner, &repo, id, sees_drafts) else {
                return error(404, "Not Found");
            };
            let r = s
                .repo_mut(&owner, &repo)
                .releases
                .get_mut(&release.id)
                .unwrap();
            r.assets.retain(|a| a.id != asset.id);
            Reply::empty(204)
        }
        (_, ["releases", id, rest @ ..]) => {
            let Some(id) = id.parse::<u64>().ok() else {
                return error(404, "Not Found");
            };
            let found = s.repo_mut(&owner, &repo).releases.get(&id).cloned();
            let Some(release) = found.filter(|r| sees_drafts || !r.draft) else {
                return error(404, "Not Found");
            };
            match (m, rest) {
                ("GET", []) => Reply::json(200, s.release_json(&owner, &repo, &release)),
                ("PATCH", []) => {
                    let r = s.repo_mut(&owner, &repo).releases.get_mut(&id).unwrap();
                    if let Some(v) = json_body.get("body").and_then(Value::as_str) {
                        r.body = Some(v.to_owned());
                    }
                    if let Some(v) = json_body.get("name").and_then(Value::as_str) {
                        r.name = Some(v.to_owned());
                    }
                    if let Some(v) = json_body.get("tag_name").and_then(Value::as_str) {
                        r.tag_name = v.to_owned();
                    }
                    if let Some(v) = json_body.get("draft").and_then(Value::as_bool) {
                        if r.draft && !v {
                            r.published_at = Some(now());
                        }
                        r.draft = v;
                    }
                    let r = r.clone();
                    Reply::json(200, s.release_json(&owner, &repo, &r))
                }
                ("DELETE", []) => {
                    s.repo_mut(&owner, &repo).releases.remove(&id);
                    Reply::empty(204)
                }
                ("GET", ["assets"]) => {
                    let api = s.api_url.clone();
                    let items: Vec<Value> = release
                        .assets
                        .iter()
                        .map(|a| s.asset_json(&owner, &repo, &release.tag_name, a))
                        .collect();
                    paginate(&api, &req.path, &req.query, items)
                }
                _ => error(404, "Not Found"),
            }
        }
        _ => error(
            404,
            &format!("Not Found (the fake does not know {m} {})", req.path),
        ),
    }
}

fn bump_downloads(s: &mut State, owner: &str, repo: &str, asset_id: u64) {
    for r in s.repo_mut(owner, repo).releases.values_mut() {
        for a in r.assets.iter_mut().filter(|a| a.id == asset_id) {
            a.download_count += 1;
        }
    }
}

fn find_asset(
    s: &mut State,
    owner: &str,
    repo: &str,
    id: &str,
    sees_drafts: bool,
) -> Option<(ReleaseState, AssetState)> {
    let id: u64 = id.parse().ok()?;
    let r = s.repo_mut(owner, repo);
    r.releases
        .values()
        .filter(|r| sees_drafts || !r.draft)
        .find_map(|release| {
            release
                .assets
                .iter()
                .find(|a| a.id == id)
                .map(|a| (release.clone(), a.clone()))
        })
}

/// `per_page` (default 30, at most 100) and `page`, with a `Link` header like GitHub's.
fn paginate(api: &str, path: &str, query: &BTreeMap<String, String>, items: Vec<Value>) -> Reply {
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link =
        |p: usize, rel: &str| format!("<{api}{path}?per_page={per_page}&page={p}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
    }
    let mut reply = Reply::json(200, Value::Array(slice));
    if !links.is_empty() {
        reply = reply.header("link", links.join(", "));
    }
    reply
}

/// The object storage behind 302 downloads: rejects any `Authorization` header, as S3 does when the
/// URL is already signed.
fn storage(s: &mut State, req: &Incoming2) -> Reply {
    if req.headers.contains_key("authorization") {
        return Reply {
            status: 400,
            headers: vec![],
            body: ReplyBody::Text(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified</Message></Error>".into(),
                "application/xml".into(),
            ),
        };
    }
    let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let ["github-production-release-asset", _release, asset] = parts.as_slice() else {
        return Reply {
            status: 404,
            headers: vec![],
            body: ReplyBody::Text("NoSuchKey".into(), "application/xml".into()),
        };
    };
    if !req.query.contains_key("X-Amz-Signature") {
        return Reply {
            status: 403,
            headers: vec![],
            body: ReplyBody::Text("AccessDenied".into(), "application/xml".into()),
        };
    }
    let Ok(asset_id) = asset.parse::<u64>() else {
        return Reply {
            status: 404,
            headers: vec![],
            body: ReplyBody::Text("NoSuchKey".into(), "application/xml".into()),
        };
    };
    let mut found = None;
    for repo in s.repos.values_mut() {
        for r in repo.releases.values_mut() {
            for a in r.assets.iter_mut().filter(|a| a.id == asset_id) {
                a.download_count += 1;
                found = Some(a.data.clone());
            }
        }
    }
    match found {
        Some(data) => Reply {
            status: 200,
            headers: vec![],
            body: ReplyBody::Bytes(
                std::sync::Arc::unwrap_or_clone(data),
                "application/octet-stream".into(),
            ),
        },
        None => Reply {
            status: 404,
            headers: vec![],
            body: ReplyBody::Text("NoSuchKey".into(), "application/xml".into()),
        },
    }
}

/// `POST {uploads}/repos/{o}/{r}/releases/{id}/assets?name=N`: a raw body with `Content-Type` and
/// `Content-Length`. The asset exists as `starter` from the first byte; an upload cut short stays so
/// and blocks its name. Returns the reply and whether the connection is to be dropped.
async fn upload(
    state: &Shared,
    req: &Incoming2,
    mut body: Incoming,
    (cut, pace): (bool, Option<u64>),
) -> (Reply, bool) {
    let segments: Vec<String> = req
        .path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let ["repos", owner, repo, "releases", id, "assets"] = seg.as_slice() else {
        return (error(404, "Not Found"), false);
    };
    let (owner, repo) = (owner.to_string(), repo.to_string());
    let release_id: Option<u64> = id.parse().ok();
    let content_type = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let length: Option<u64> = req
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let asset_id;
    {
        let mut s = state.lock().unwrap();
        if let Err(reply) = authorize(&s, req.token.as_deref(), true) {
            return (reply, false);
        }
        let release =
            release_id.and_then(|id| s.repo_mut(&owner, &repo).releases.get(&id).cloned());
        let Some(release) = release else {
            return (error(404, "Not Found"), false);
        };
        if req.headers.contains_key("transfer-encoding") || length.is_none() {
            return (
                error(
                    411,
                    "Length Required: uploads need a Content-Length header (no chunked bodies)",
                ),
                false,
            );
        }
        let Some(content_type) = content_type else {
            return (
                error(
                    400,
                    "Bad Content-Type header value: the upload needs a Content-Type",
                ),
                false,
            );
        };
        let Some(raw_name) = req.query.get("name").filter(|n| !n.is_empty()) else {
            return (validation("ReleaseAsset", "name", "missing_field"), false);
        };
        let name = normalize_asset_name(raw_name);
        if release.assets.iter().any(|a| a.name == name) {
            return (validation("ReleaseAsset", "name", "already_exists"), false);
        }
        if release.assets.len() >= 1000 {
            return (validation("ReleaseAsset", "assets", "too_many"), false);
        }
        asset_id = s.new_id();
        let now = now();
        let asset = AssetState {
            id: asset_id,
            release_id: release.id,
            name,
            label: req.query.get("label").cloned(),
            content_type,
            state: "starter".into(),
            data: Default::default(),
            digest: None,
            created_at: now.clone(),
            updated_at: now,
            download_count: 0,
        };
        s.repo_mut(&owner, &repo)
            .releases
            .get_mut(&release.id)
            .unwrap()
            .assets
            .push(asset);
    }
    let length = length.unwrap_or(0);
    let stop_at = if cut { length / 2 } else { u64::MAX };
    let mut data: Vec<u8> = Vec::with_capacity(length.min(64 << 20) as usize);
    let mut broken = false;
    let started = tokio::time::Instant::now();
    while (data.len() as u64) < stop_at {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(chunk) = frame.into_data() {
                    data.extend_from_slice(&chunk);
                }
                // A slow link: the next read waits until the bytes so far would have arrived.
                if let Some(rate) = pace {
                    tokio::time::sleep_until(started + pace_time(data.len() as u64, rate)).await;
                }
            }
            Some(Err(_)) => {
                broken = true;
                break;
            }
            None => break,
        }
    }
    let mut s = state.lock().unwrap();
    let Some(release) = s
        .repo_mut(&owner, &repo)
        .releases
        .get_mut(&release_id.unwrap())
    else {
        return (error(404, "Not Found"), false);
    };
    let Some(asset) = release.assets.iter_mut().find(|a| a.id == asset_id) else {
        return (error(404, "Not Found"), false);
    };
    if cut {
        data.truncate(stop_at as usize);
    }
    let complete = !broken && !cut && data.len() as u64 == length;
    asset.data = std::sync::Arc::new(data);
    if !complete {
        // GitHub keeps the half-written asset as `starter`.
        return (
            error(400, "Bad request: the body ended before Content-Length"),
            true,
        );
    }
    asset.digest = Some(format!("sha256:{}", sha256_hex(&asset.data)));
    asset.state = "uploaded".into();
    asset.updated_at = now();
    let asset = asset.clone();
    let tag = release.tag_name.clone();
    (
        Reply::json(201, s.asset_json(&owner, &repo, &tag, &asset)),
        false,
    )
}

/// `all` cut to the `fields` a query selected (all of it when the selection is unknown):
/// GraphQL answers exactly the fields asked for, and gh's decoder refuses any other.
fn only_selected(all: Value, fields: Option<&[String]>) -> Value {
    match (all, fields) {
        (Value::Object(map), Some(fields)) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| fields.iter().any(|f| f == k))
                .collect(),
        ),
        (all, _) => all,
    }
}

/// The plain field names selected inside `{ ... }` after `field(` in a GraphQL query, e.g.
/// `release(tagName: $t){databaseId,isDraft}` gives `databaseId`, `isDraft`. `None` when the
/// query has no selection there (then every known field is answered).
fn selection(query: &str, field: &str) -> Option<Vec<String>> {
    let after = &query[query.find(field)?..];
    let open = after.find('{')?;
    let inner = &after[open + 1..];
    let close = inner.find(['{', '}'])?;
    let fields: Vec<String> = inner[..close]
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    (!fields.is_empty()).then_some(fields)
}

/// The one GraphQL query `gh release` uses to find a release (drafts included) by tag.
fn graphql(s: &mut State, token: Option<&str>, body: &[u8]) -> Reply {
    let permission = match authorize(s, token, false) {
        Ok(p) => p,
        // GraphQL answers 200 for a repository the token cannot see, with `errors`.
        Err(_) if s.permission(token) == Permission::None => {
            let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let vars = request.get("variables").cloned().unwrap_or(Value::Null);
            let get = |k: &str| vars.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            return Reply::json(
                200,
                json!({
                    "data": { "repository": null },
                    "errors": [{
                        "type": "NOT_FOUND", "path": ["repository"],
                        "message": format!("Could not resolve to a Repository with the name '{}/{}'.", get("owner"), get("name")),
                    }],
                }),
            );
        }
        Err(r) => return r,
    };
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let query = request.get("query").and_then(Value::as_str).unwrap_or("");
    let vars = request.get("variables").cloned().unwrap_or(Value::Null);
    if !query.contains("release(tagName") {
        return Reply::json(
            200,
            json!({ "errors": [{ "message": "the fake GitHub only answers repository.release(tagName:)" }] }),
        );
    }
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| vars.get(*n).and_then(Value::as_str))
            .unwrap_or("")
            .to_owned()
    };
    let (owner, name, tag) = (
        var(&["owner"]),
        var(&["name", "repo"]),
        var(&["tagName", "tag"]),
    );
    let sees_drafts = permission == Permission::Write;
    let release = s
        .repo_mut(&owner, &name)
        .releases
        .values()
        .filter(|r| r.tag_name == tag && (sees_drafts || !r.draft))
        // Several drafts may share a tag (racing creates): GitHub names one, the newest.
        .max_by_key(|r| r.id)
        .cloned();
    let wanted = selection(query, "release(");
    let node = release.map(|r| {
        let mut rest = s.release_json(&owner, &name, &r);
        let all = json!({
            "databaseId": r.id, "id": rest["node_id"].take(), "isDraft": r.draft, "isPrerelease": r.prerelease,
            "tagName": r.tag_name, "name": r.name, "url": rest["html_url"].take(), "createdAt": r.created_at,
            "publishedAt": r.published_at,
        });
        only_selected(all, wanted.as_deref())
    });
    let mut repository = json!({ "release": node });
    if let Some(at) = query.find("releases(") {
        // The newest releases (drafts only for write tokens), `first` of them, each with the
        // fields its `nodes { ... }` selects.
        let args = &query[at..query[at..].find(')').map_or(query.len(), |e| at + e)];
        let first = args
            .split("first:")
            .nth(1)
            .and_then(|rest| {
                rest.trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .unwrap_or(30)
            .min(100);
        let wanted = selection(&query[at..], "nodes");
        let mut releases: Vec<_> = s
            .repo_mut(&owner, &name)
            .releases
            .values()
            .filter(|r| sees_drafts || !r.draft)
            .cloned()
            .collect();
        releases.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let nodes: Vec<Value> = releases
            .iter()
            .take(first)
            .map(|r| {
                let all = json!({
                    "databaseId": r.id, "isDraft": r.draft, "isPrerelease": r.prerelease,
                    "tagName": r.tag_name, "name": r.name, "createdAt": r.created_at,
                    "publishedAt": r.published_at,
                });
                only_selected(all, wanted.as_deref())
            })
            .collect();
        repository["releases"] = json!({ "nodes": nodes });
        if query[at..].contains("totalCount") {
            repository["releases"]["totalCount"] = json!(releases.len());
        }
    }
    Reply::json(200, json!({ "data": { "repository": repository } }))
}

/// A pull request as `GET /repos/{o}/{r}/pulls/{n}` answers it: GitHub's own example from its
/// OpenAPI description with this pull request's number, base and head filled in.
fn pull_json(s: &State, owner: &str, repo: &str, number: u64, pull: &PullState) -> Value {
    let mut json: Value =
        serde_json::from_str(include_str!("pull_request.json")).expect("the template is JSON");
    let base_full = format!("{owner}/{repo}");
    let api = &s.api_url;
    let web = &s.web_url;
    json["number"] = json!(number);
    json["url"] = json!(format!("{api}/repos/{base_full}/pulls/{number}"));
    json["html_url"] = json!(format!("{web}/{base_full}/pull/{number}"));
    json["base"]["ref"] = json!("main");
    json["base"]["label"] = json!(format!("{owner}:main"));
    set_repo(&mut json["base"]["repo"], &base_full, api, web);
    let head_owner = pull
        .head_repo
        .as_deref()
        .and_then(|r| r.split('/').next())
        .unwrap_or("ghost");
    json["head"]["ref"] = json!(pull.head_ref);
    json["head"]["label"] = json!(format!("{head_owner}:{}", pull.head_ref));
    json["head"]["user"]["login"] = json!(head_owner);
    match &pull.head_repo {
        Some(full) => set_repo(&mut json["head"]["repo"], full, api, web),
        None => json["head"]["repo"] = Value::Null,
    }
    json
}

fn set_repo(repo: &mut Value, full_name: &str, api: &str, web: &str) {
    let (owner, name) = full_name.split_once('/').unwrap_or((full_name, full_name));
    repo["name"] = json!(name);
    repo["full_name"] = json!(full_name);
    repo["owner"]["login"] = json!(owner);
    repo["url"] = json!(format!("{api}/repos/{full_name}"));
    repo["html_url"] = json!(format!("{web}/{full_name}"));
}

//! A stateful fake of GitHub's releases API, faithful where clients go wrong: drafts hidden from
//! `/releases/tags/{tag}` and from tokens without write access, several drafts per tag, uploads on a
//! separate host taken from `upload_url`, `Content-Length` required, 422 on duplicate names, name
//! normalisation, `starter` assets after a cut upload, 302 downloads to a storage host that rejects
//! `Authorization`, `Link` pagination, rate-limit headers, injectable faults, a GHES mode and a
//! request log. See README.md for the HTTP admin endpoints.
//!
//! Rust tests use [`FakeGitHub::start`]; it runs on its own runtime thread, so blocking tests and
//! async tests alike can use it, and stops when dropped.

mod admin;
mod server;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use state::{
    glob, normalize_asset_name, Fault, FaultKind, Host, LoggedMessage, LoggedRequest,
    LoggedResponse, Permission,
};

/// How to start the fake.
#[derive(Clone, Debug)]
pub struct Options {
    /// GitHub Enterprise Server layout: API under `/api/v3`, uploads under `/api/uploads` of the same
    /// host.
    pub ghes: bool,
    /// Downloads answer 302 to the storage host (github.com's behaviour); `false`: 200 with the bytes.
    pub redirect_downloads: bool,
    /// Port of the API listener (0: any free port).
    pub port: u16,
    /// Also append every logged pair to this file, one JSON line each.
    pub log_file: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ghes: false,
            redirect_downloads: true,
            port: 0,
            log_file: None,
        }
    }
}

/// A release as the fake holds it (drafts and `starter` assets included).
#[derive(Clone, Debug)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub assets: Vec<Asset>,
}

#[derive(Clone, Debug)]
pub struct Asset {
    pub id: u64,
    pub name: String,
    pub state: String,
    pub content_type: String,
    pub data: Vec<u8>,
    pub digest: Option<String>,
}

/// A running fake GitHub. Dropping it stops the server.
pub struct FakeGitHub {
    state: server::Shared,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    api_url: String,
    uploads_url: String,
    storage_url: String,
}

/// The addresses of a running fake.
pub struct Urls {
    pub api_url: String,
    pub uploads_url: String,
    pub storage_url: String,
}

impl FakeGitHub {
    /// Binds the listeners on 127.0.0.1 and serves on a runtime thread of its own.
    pub fn start(options: Options) -> FakeGitHub {
        let (tx, rx) = std::sync::mpsc::channel();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("fake-github".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                runtime.block_on(async move {
                    let (state, tasks) = bind(options, shutdown_rx)
                        .await
                        .expect("fake GitHub binds on 127.0.0.1");
                    tx.send(state).unwrap();
                    for task in tasks {
                        let _ = task.await;
                    }
                });
                runtime.shutdown_background();
            })
            .expect("thread");
        let (state, urls) = rx.recv().expect("fake GitHub started");
        FakeGitHub {
            state,
            shutdown,
            thread: Some(thread),
            api_url: urls.api_url,
            uploads_url: urls.uploads_url,
            storage_url: urls.storage_url,
        }
    }

    /// The REST API base: `http://127.0.0.1:P` (GHES: `http://127.0.0.1:P/api/v3`).
    pub fn api_url(&self) -> String {
        self.api_url.clone()
    }

    pub fn uploads_url(&self) -> String {
        self.uploads_url.clone()
    }

    pub fn storage_url(&self) -> String {
        self.storage_url.clone()
    }

    /// Gives `token` a permission (unknown tokens have `write`).
    pub fn set_token(&self, token: &str, permission: Permission) {
        self.state
            .lock()
            .unwrap()
            .tokens
            .insert(token.to_owned(), permission);
    }

    pub fn add_branch(&self, owner: &str, repo: &str, branch: &str) {
        self.state
            .lock()
            .unwrap()
            .repo_mut(owner, repo)
            .branches
            .insert(branch.to_owned());
    }

    /// Seeds pull request `number` of `owner/repo` whose head is `head_ref` in `head_repo`
    /// (`owner/name`: the same repository, a fork, or `None` for a deleted fork).
    pub fn seed_pull(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
        head_ref: &str,
        head_repo: Option<&str>,
    ) {
        self.state
            .lock()
            .unwrap()
            .repo_mut(owner, repo)
            .pulls
            .insert(
                number,
                state::PullState {
                    head_ref: head_ref.to_owned(),
                    head_repo: head_repo.map(str::to_owned),
                },
            );
    }

    /// Seeds a release (draft or published) and returns its id. A draft with ccsync's tag prefix
    /// gets ccsync's marker in its description, as the drafts ccsync creates have (a hand-made
    /// draft without it is seeded through the admin endpoint with its own body).
    pub fn seed_release(&self, owner: &str, repo: &str, tag: &str, draft: bool) -> u64 {
        let mut s = self.state.lock().unwrap();
        let body = (draft && tag.starts_with("claude-sessions-"))
            .then_some("<!-- ccsync:session-release -->");
        admin::seed_release(&mut s, owner, repo, tag, draft, Some(tag), body).id
    }

    /// Seeds `count` releases tagged `<prefix>1`..`<prefix><count>` (a large repository) and
    /// returns their ids, oldest first.
    pub fn seed_releases(
        &self,
        owner: &str,
        repo: &str,
        prefix: &str,
        count: u64,
        draft: bool,
    ) -> Vec<u64> {
        let mut s = self.state.lock().unwrap();
        admin::seed_releases(&mut s, owner, repo, prefix, count, draft)
    }

    /// Seeds an asset in state `uploaded` (or `starter`) and returns its id.
    pub fn seed_asset(
        &self,
        owner: &str,
        repo: &str,
        release_id: u64,
        name: &str,
        data: &[u8],
        state: &str,
    ) -> u64 {
        let mut s = self.state.lock().unwrap();
        admin::seed_asset(&mut s, owner, repo, release_id, name, data.to_vec(), state)
            .expect("release exists")
            .id
    }

    /// Backdates an asset's `created_at`/`updated_at` by `secs` (to make a `starter` look stale).
    pub fn age_asset(&self, asset_id: u64, secs: i64) {
        let when = (chrono::Utc::now() - chrono::Duration::seconds(secs))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        self.with_asset(asset_id, |a| {
            a.created_at = when.clone();
            a.updated_at = when.clone();
        });
    }

    /// Backdates a release's `created_at` by `secs` (a release made long ago, pushed to since).
    pub fn age_release(&self, release_id: u64, secs: i64) {
        let when = (chrono::Utc::now() - chrono::Duration::seconds(secs))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let mut s = self.state.lock().unwrap();
        let release = s
            .repos
            .values_mut()
            .flat_map(|r| r.releases.values_mut())
            .find(|r| r.id == release_id)
            .expect("release exists");
        release.created_at = when;
    }

    /// Flips a byte of an asset's stored data, keeping its size and advertised digest.
    pub fn corrupt_asset(&self, asset_id: u64) {
        self.with_asset(asset_id, |a| {
            if let Some(b) = std::sync::Arc::make_mut(&mut a.data).first_mut() {
                *b ^= 0xff;
            }
        });
    }

    /// Sets an asset's label, as `PATCH .../releases/assets/{id}` with `label` would.
    pub fn set_label(&self, asset_id: u64, label: &str) {
        self.with_asset(asset_id, |a| a.label = Some(label.to_owned()));
    }

    /// Removes an asset's advertised digest (assets uploaded before 2025-06 have none).
    pub fn clear_digest(&self, asset_id: u64) {
        self.with_asset(asset_id, |a| a.digest = None);
    }

    fn with_asset(&self, asset_id: u64, f: impl FnOnce(&mut state::AssetState)) {
        let mut s = self.state.lock().unwrap();
        let asset = s
            .repos
            .values_mut()
            .flat_map(|r| r.releases.values_mut())
            .flat_map(|r| r.assets.iter_mut())
            .find(|a| a.id == asset_id)
            .expect("asset exists");
        f(asset);
    }

    pub fn add_fault(&self, fault: Fault) {
        self.state.lock().unwrap().add_fault(fault);
    }

    /// Removes every fault (requests held by a hang stay held).
    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// Faults that have not fired yet (persistent ones always).
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.state
            .lock()
            .unwrap()
            .faults
            .iter()
            .filter(|f| f.pending())
            .cloned()
            .collect()
    }

    /// Requests held by `hang`/`hang_after`/`hold` faults so far.
    pub fn hung_requests(&self) -> u64 {
        let hangs = self.state.lock().unwrap().hangs.clone();
        hangs.count()
    }

    /// Lets every request held by a `hold` fault go on.
    pub fn release_held(&self) {
        let hangs = self.state.lock().unwrap().hangs.clone();
        hangs.released.send_modify(|n| *n += 1);
    }

    /// Blocks until at least `n` requests have hung in total (`false` after `timeout`): the moment
    /// a test may kill the client that sent it.
    pub fn wait_for_hung(&self, n: u64, timeout: std::time::Duration) -> bool {
        let hangs = self.state.lock().unwrap().hangs.clone();
        hangs.wait_for(n, timeout)
    }

    /// Every GitHub request so far (admin requests excluded).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_requests(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// The log as JSON lines (what `tests/openapi/check.py` reads).
    pub fn log_jsonl(&self) -> String {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect()
    }

    /// Every release of the repository, drafts and `starter` assets included, lowest id first.
    pub fn releases(&self, owner: &str, repo: &str) -> Vec<Release> {
        let mut s = self.state.lock().unwrap();
        s.repo_mut(owner, repo)
            .releases
            .values()
            .map(|r| Release {
                id: r.id,
                tag_name: r.tag_name.clone(),
                name: r.name.clone(),
                body: r.body.clone(),
                draft: r.draft,
                assets: r
                    .assets
                    .iter()
                    .map(|a| Asset {
                        id: a.id,
                        name: a.name.clone(),
                        state: a.state.clone(),
                        content_type: a.content_type.clone(),
                        data: a.data.to_vec(),
                        digest: a.digest.clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds the listeners and spawns their accept loops. Used by the library and the binary.
pub async fn bind(
    options: Options,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<((server::Shared, Urls), Vec<tokio::task::JoinHandle<()>>)> {
    let api = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], options.port))).await?;
    let storage = TcpListener::bind("127.0.0.1:0").await?;
    let uploads = if options.ghes {
        None
    } else {
        Some(TcpListener::bind("127.0.0.1:0").await?)
    };
    let origin = |l: &TcpListener| format!("http://{}", l.local_addr().unwrap());
    let web_url = origin(&api);
    let (api_url, uploads_url) = if options.ghes {
        (
            format!("{web_url}/api/v3"),
            format!("{web_url}/api/uploads"),
        )
    } else {
        (web_url.clone(), origin(uploads.as_ref().unwrap()))
    };
    let storage_url = origin(&storage);
    let log_file = match &options.log_file {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        None => None,
    };
    let state = Arc::new(Mutex::new(state::State {
        api_url: api_url.clone(),
        uploads_url: uploads_url.clone(),
        storage_url: storage_url.clone(),
        web_url,
        redirect_downloads: options.redirect_downloads,
        repos: Default::default(),
        tokens: Default::default(),
        faults: vec![],
        log: vec![],
        log_file,
        next_id: 1000,
        requests_by_token: Default::default(),
        next_fault_serial: 0,
        hangs: Default::default(),
        barriers: Default::default(),
    }));
    let mut tasks = vec![];
    let api_kind = server::Listener {
        host: Host::Api,
        api_prefix: if options.ghes { "/api/v3" } else { "" },
        uploads_prefix: options.ghes.then_some("/api/uploads"),
    };
    tasks.push(tokio::spawn(server::serve(
        api,
        api_kind,
        state.clone(),
        shutdown.clone(),
    )));
    if let Some(uploads) = uploads {
        let kind = server::Listener {
            host: Host::Uploads,
            api_prefix: "",
            uploads_prefix: None,
        };
        tasks.push(tokio::spawn(server::serve(
            uploads,
            kind,
            state.clone(),
            shutdown.clone(),
        )));
    }
    let kind = server::Listener {
        host: Host::Storage,
        api_prefix: "",
        uploads_prefix: None,
    };
    tasks.push(tokio::spawn(server::serve(
        storage,
        kind,
        state.clone(),
        shutdown,
    )));
    Ok((
        (
            state,
            Urls {
                api_url,
                uploads_url,
                storage_url,
            },
        ),
        tasks,
    ))
}

//! The push pipeline: packs a local session and stores it in the branch's draft release.
//!
//! [`push_sessions`] runs, for each session chosen, the steps of its own module in order:
//! `find` the session and the files it carries → `compare` with the stored copy (uuid rule)
//! → `pack` into a temporary file (secrets redacted, optionally encrypted) → `write` by the
//! write protocol, then drop sessions beyond `--keep`.
//!
//! The order protects every copy: compare with the stored copy first, upload the archive and then
//! the metadata, each under a temporary name before the old asset goes, and only then drop
//! sessions beyond `--keep`. The local session is only ever read.
//!
//! Speed: the secret scan ([`crate::bundle::pack`]) runs on its own thread while the release is
//! read and the session's facts are gathered.

mod compare;
mod delta;
mod find;
mod pack;
mod write;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

use serde::Serialize;

use crate::actions;
use crate::bundle::pack::{prescan, CancelOnDrop, Prescan};
use crate::bundle::Scanner;
use crate::cli::{PushArgs, SecretsMode};
use crate::config::Context;
use crate::git::{GitRepo, RepoSlug};
use crate::release::GitHub;
use crate::scratch::RunDir;
use crate::store::LocalSession;
use crate::stored::write::Writer;
use crate::stored::MetaCache;

use find::Contents;
use pack::Packed;

/// What a push did, for `--json` and for people.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushOutcome {
    pub session_id: String,
    pub branch: String,
    /// `uploaded`, `up-to-date`, `would-upload` (dry run).
    pub action: &'static str,
    /// How the local copy stood against the stored one before the push (`absent` if none).
    pub relation: &'static str,
    pub records: u64,
    /// Bytes of the archive uploaded (or that would be): the whole session for a full copy, the
    /// part for a delta.
    pub archive_size: Option<u64>,
    /// `full` or `delta` (docs/write-protocol.md, "Delta copies"); `null` when nothing is uploaded.
    pub copy: Option<&'static str>,
    pub encrypted: bool,
    pub secrets_redacted: usize,
    pub release_url: Option<String>,
    pub dropped_sessions: Vec<String>,
    /// HTTP requests to GitHub for this session (API, uploads and downloads).
    pub api_requests: u64,
}

/// The whole push of `branch` without printing `--json`: what `release-push` and `resume` run.
pub fn push_sessions(
    ctx: &Context,
    args: &PushArgs,
    git: &GitRepo,
    branch: &str,
) -> anyhow::Result<Vec<PushOutcome>> {
    let claude_dir = ctx.claude_dir()?;
    let sessions = ctx.repository_sessions(&claude_dir, git.root())?;
    let chosen = find::choose_sessions(ctx, args, branch, &sessions, &claude_dir, git)?;

    let slug = ctx.github_repo(Some(git))?;
    let token = ctx.token()?;
    let gh = GitHub::new(ctx.api_url()?, slug.clone(), token.clone())?;
    let rt = crate::release::runtime()?;
    // Plaintext archives that killed pushes left in the temp folder.
    crate::scratch::sweep(&std::env::temp_dir());
    // The scan is linear in the session's size; the limit is a backstop that fails the push
    // with a clear error rather than holding it (and a pre-push hook) up.
    let scan_limit = ctx.global.timeout.map_or(
        crate::bundle::secrets::DEFAULT_TIME_LIMIT,
        std::time::Duration::from_secs,
    );
    let scanner = Scanner::new(vec![token.expose().to_owned()]).with_time_limit(scan_limit);
    let origin = Origin {
        repo: slug,
        root: git.root().to_path_buf(),
        commit: git.head_commit(),
    };
    let passphrase = crate::passphrase::from_env("push")?;

    let mut outcomes = Vec::new();
    for session in &chosen {
        let _group = actions::LogGroup::new(&format!("ccsync: push session {}", session.id));
        let job = PushJob {
            ctx,
            claude_dir: &claude_dir,
            args,
            gh: &gh,
            rt: &rt,
            branch,
            origin: &origin,
            scanner: &scanner,
            passphrase: passphrase.as_deref(),
            memory_pulled: AtomicBool::new(false),
        };
        outcomes.push(job.push(session)?);
    }
    ctx.ui
        .detail(&format!("{} GitHub API request(s)", gh.request_count()));
    Ok(outcomes)
}

struct Origin {
    repo: RepoSlug,
    root: PathBuf,
    commit: Option<String>,
}

/// The stored copy's project memory was installed here during a push ([`PushJob::pull_memory`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "the project memory changed while it was being pushed (the stored copy's came in): push again"
)]
struct MemoryPulled;

struct PushJob<'a> {
    ctx: &'a Context<'a>,
    claude_dir: &'a Path,
    args: &'a PushArgs,
    gh: &'a GitHub,
    rt: &'a tokio::runtime::Runtime,
    branch: &'a str,
    origin: &'a Origin,
    scanner: &'a Scanner,
    passphrase: Option<&'a str>,
    /// [`PushJob::pull_memory`] already started this push again once.
    memory_pulled: std::sync::atomic::AtomicBool,
}

/// What one push carries through its attempts: the session, its files, where it works, and the
/// secret scan and packed archive (made once, whatever the number of attempts).
struct Run<'a> {
    session: &'a LocalSession,
    contents: Contents<'a>,
    writer: &'a Writer,
    scratch: &'a Path,
    cache: MetaCache,
    /// Stops the scan of the whole session when a delta part (scanned on its own) is written.
    scan_stop: &'a AtomicBool,
}

/// Writes a push tries before it gives up on other pushes that keep winning.
const MAX_ATTEMPTS: u32 = 5;

impl PushJob<'_> {
    fn push(&self, session: &LocalSession) -> anyhow::Result<PushOutcome> {
        let requests_before = self.gh.request_count();
        // `_links` holds what the state's links and torn last lines were copied to.
        let (entries, sources, _links) = find::files_to_carry(self.claude_dir, session)?;
        let cancel = AtomicBool::new(false);
        let outcome = std::thread::scope(|scope| {
            // Dropped at the end of this closure, before the scope waits for the scan thread.
            let _stop = CancelOnDrop(&cancel);
            let prescan = (self.args.secrets != SecretsMode::Allow).then(|| {
                let (tx, rx) = mpsc::sync_channel(1);
                let (entries, sources, cancel) = (&entries, &sources, &cancel);
                scope.spawn(move || {
                    let _ = tx.send(prescan(sources, entries, self.scanner, cancel));
                });
                rx
            });
            self.push_scanned(session, (&entries, &sources), prescan, &cancel)
        });
        let mut outcome = match outcome {
            // The memory files changed under the scan: everything again, once.
            Err(e)
                if e.is::<MemoryPulled>()
                    && !self
                        .memory_pulled
                        .swap(true, std::sync::atomic::Ordering::Relaxed) =>
            {
                return self.push(session);
            }
            other => other?,
        };
        outcome.api_requests = self.gh.request_count() - requests_before;
        Ok(outcome)
    }

    /// Compares, packs and writes until the copy is stored or a decision ends the push; another
    /// push that wins the write makes it compare again (at most [`MAX_ATTEMPTS`] writes).
    fn push_scanned(
        &self,
        session: &LocalSession,
        (entries, sources): (&[PathBuf], &crate::bundle::pack::Sources),
        prescan: Option<Prescan>,
        scan_stop: &AtomicBool,
    ) -> anyhow::Result<PushOutcome> {
        let ui = self.ctx.ui;
        let scratch = RunDir::in_temp()?;
        // Held for the whole push: temporary archives under this writer's id are a dead run's.
        let writer = Writer::lock(self.claude_dir, &session.id, &|| {
            ui.info(&format!(
                "waiting for another ccsync push of session {} on this machine to finish",
                session.id
            ))
        })?;
        let run = Run {
            session,
            contents: Contents { entries, sources },
            writer: &writer,
            scratch: scratch.path(),
            cache: MetaCache::default(),
            scan_stop,
        };
        let mut prescan = Some(prescan);
        let mut packed: Option<Packed> = None;
        for attempt in 1.. {
            if let Some(outcome) = self.attempt(&run, attempt, &mut prescan, &mut packed)? {
                return Ok(outcome);
            }
        }
        unreachable!("the loop returns")
    }

    /// One pass of find → compare → pack → write. `None`: the release changed under it (another
    /// first push created a draft too, or another push stored the session first): compare again.
    fn attempt(
        &self,
        run: &Run<'_>,
        attempt: u32,
        prescan: &mut Option<Option<Prescan>>,
        packed: &mut Option<Packed>,
    ) -> anyhow::Result<Option<PushOutcome>> {
        let (release, stored) = self.find_stored(run)?;
        let compared = self.compare(run, stored.as_ref())?;
        let mut outcome = compared.outcome(self, run.session, release.as_ref());
        if !self.worth_uploading(run.session, &compared)? {
            return Ok(Some(outcome));
        }
        self.check_encryption(stored.as_ref())?;
        // Only what the stored copy lacks, when it can be a part of its chain.
        let delta = self.try_delta(run, &compared, stored.as_ref())?;
        if delta.is_some() {
            run.scan_stop
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if packed.is_none() && delta.is_none() {
            let scan = match prescan.take().flatten() {
                // A delta attempt stopped the scan; another writer won, and this is a full copy.
                Some(_) if run.scan_stop.load(std::sync::atomic::Ordering::Relaxed) => {
                    Some(self.scan_now(run))
                }
                scan => scan,
            };
            *packed = Some(self.pack(run, &compared, scan)?);
        }
        let packed = delta.as_ref().or(packed.as_ref()).expect("packed above");
        outcome.archive_size = Some(packed.upload_size());
        outcome.copy = Some(if packed.delta { "delta" } else { "full" });
        outcome.secrets_redacted = packed.findings.len();
        if self.args.dry_run {
            self.say_dry_run(run.session, &compared, packed);
            outcome.action = "would-upload";
            return Ok(Some(outcome));
        }
        let Some(release) = self.release_for_write(release)? else {
            return Ok(None);
        };
        let Some(release) = self.write(run, &release, stored.as_ref(), packed, attempt)? else {
            return Ok(None);
        };
        self.finish(run, &release, &compared, packed, outcome)
            .map(Some)
    }
}

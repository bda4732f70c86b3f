//! `ccsync release-push`: packs a local session and stores it in the branch's draft release.
//!
//! The order protects every copy: compare with the stored copy first (uuid rule), pack into a
//! temporary file (secrets redacted, optionally encrypted), upload the archive and then the
//! metadata, each under a temporary name before the old asset goes, and only then drop sessions
//! beyond `--keep`. The local session is only ever read.
//!
//! Speed: the secret scan ([`crate::bundle::pack`]) runs on its own thread while the release is
//! read and the session's facts are gathered.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

use anyhow::Context as _;
use chrono::{Duration, Utc};
use serde::Serialize;

use crate::actions;
use crate::bundle::facts::{read_facts, SessionFacts};
use crate::bundle::metadata::{ArchiveInfo, Encryption, Metadata, PushedFrom, Tool, FORMAT};
use crate::bundle::pack::{self, prescan, CancelOnDrop, Prescan};
use crate::bundle::{Finding, Scanner};
use crate::catalog;
use crate::cli::{PushArgs, SecretsMode};
use crate::config::{BranchChoice, Context};
use crate::exit::Exit;
use crate::git::{GitRepo, RepoSlug};
use crate::neutral;
use crate::progress::Step;
use crate::release::names;
use crate::release::{GitHub, SessionRelease};
use crate::scratch::RunDir;
use crate::store::{self, LocalSession};
use crate::stored::write::{self, NewCopy, Writer, Written};
use crate::stored::{self, MetaCache, StoredSession};
use crate::sync::{self, Relation};

pub fn run(ctx: &Context, args: &PushArgs) -> anyhow::Result<()> {
    let git = ctx.git_repo()?;
    let outcomes = match ctx.branch(args.branch.as_deref(), Some(&git))? {
        BranchChoice::Branch(branch) => match push_sessions(ctx, args, &git, &branch) {
            // `git push` of a branch never used with Claude is the hook's common case, not a failure.
            Err(err)
                if args.from_hook
                    && crate::exit::code_for(&err) == crate::exit::Code::NothingFound =>
            {
                ctx.ui
                    .detail(&format!("ccsync hook: {err:#}; nothing pushed"));
                Vec::new()
            }
            other => other?,
        },
        BranchChoice::NoBranch(why) => {
            ctx.ui.notice(&format!(
                "nothing pushed: {why} (pass --branch NAME to push anyway)"
            ));
            Vec::new()
        }
    };
    if ctx.ui.in_actions {
        report_to_workflow(&outcomes)?;
    }
    if ctx.ui.json {
        ctx.ui.print_json(&outcomes)?;
    }
    Ok(())
}

/// The step's outputs (`session-id`, `release-url`, `result`) and a summary row per session.
fn report_to_workflow(outcomes: &[PushOutcome]) -> anyhow::Result<()> {
    let last = outcomes.last();
    let result = if outcomes.iter().any(|o| o.action == "uploaded") {
        "uploaded"
    } else {
        last.map_or("nothing", |o| o.action)
    };
    actions::set_output("session-id", last.map_or("", |o| o.session_id.as_str()))?;
    actions::set_output(
        "release-url",
        last.and_then(|o| o.release_url.as_deref()).unwrap_or(""),
    )?;
    actions::set_output("result", result)?;
    let mut md = String::from(
        "### Claude Code session pushed\n\n| Session | Branch | Result | Records | Release |\n|---|---|---|---|---|\n",
    );
    if outcomes.is_empty() {
        md.push_str("| none | | nothing | | |\n");
    }
    for o in outcomes {
        // The branch may come from the event (a fork's head branch) and the URL from the API.
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            neutral::markdown_code(&o.session_id, true),
            neutral::markdown_code(&o.branch, true),
            o.action,
            o.records,
            neutral::markdown_text(o.release_url.as_deref().unwrap_or(""))
        ));
    }
    actions::append_summary(&md)
}

/// The whole push of `branch` without printing `--json`: what `resume` runs after `claude`.
pub(crate) fn push_sessions(
    ctx: &Context,
    args: &PushArgs,
    git: &GitRepo,
    branch: &str,
) -> anyhow::Result<Vec<PushOutcome>> {
    let claude_dir = ctx.claude_dir()?;
    let sessions = super::repository_sessions(ctx, &claude_dir, git.root())?;
    let chosen = choose_sessions(ctx, args, branch, &sessions, &claude_dir, git)?;

    let slug = ctx.github_repo(Some(git))?;
    let token = ctx.token()?;
    let gh = GitHub::new(ctx.api_url()?, slug.clone(), token.clone())?;
    let rt = super::runtime()?;
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
    let passphrase = super::passphrase("push")?;

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

/// `--session`, else `$SESSION_ID` in Actions, else `--since` days of the branch, else the newest
/// session of the branch (in Actions: of the workspace, whatever branch it recorded, because CI
/// checkouts are often a detached HEAD recorded as `HEAD`).
fn choose_sessions(
    ctx: &Context,
    args: &PushArgs,
    branch: &str,
    sessions: &[LocalSession],
    claude_dir: &Path,
    git: &GitRepo,
) -> anyhow::Result<Vec<LocalSession>> {
    let explicit = args.session.clone().or_else(|| {
        ctx.ui
            .in_actions
            .then(|| actions::env_nonempty("SESSION_ID"))
            .flatten()
    });
    if let Some(id) = explicit {
        if !store::scan::is_session_id(&id) {
            return Err(Exit::usage(format!(
                "`{id}` is not a session id: session ids are uuids such as 4d5611e5-241a-462a-8d15-5122611a9569 (see `ccsync sessions`)"
            ))
            .into());
        }
        return match store::find_session(claude_dir, git.root(), &id)? {
            Some(session) => Ok(vec![session]),
            None => Err(Exit::nothing_found(format!(
                "no local session {id} in this repository's Claude folders under {}: `ccsync sessions` lists the sessions there",
                store::projects_dir(claude_dir).display()
            ))
            .into()),
        };
    }
    let any_branch = ctx.ui.in_actions;
    let of_branch = |s: &&LocalSession| any_branch || s.branch.as_deref() == Some(branch);
    let chosen: Vec<LocalSession> = match args.since {
        Some(days) => {
            let since = Utc::now() - Duration::days(i64::from(days));
            sessions
                .iter()
                .filter(of_branch)
                .filter(|s| s.last_activity.is_some_and(|t| t >= since))
                .cloned()
                .collect()
        }
        None => sessions
            .iter()
            .find(of_branch)
            .cloned()
            .into_iter()
            .collect(),
    };
    if chosen.is_empty() {
        let on_branch = sessions
            .iter()
            .filter(|s| s.branch.as_deref() == Some(branch))
            .count() as u64;
        let elsewhere = sessions.len() as u64 - on_branch;
        let hint = if sessions.is_empty() {
            format!(
                "this repository has no Claude Code sessions under {} (start `claude` in the repository first)",
                store::projects_dir(claude_dir).display()
            )
        } else {
            let mut parts = Vec::new();
            if on_branch > 0 {
                parts.push(format!(
                    "{} of branch `{branch}` {} older",
                    super::count(on_branch, "session"),
                    if on_branch == 1 { "is" } else { "are" }
                ));
            }
            if elsewhere > 0 {
                parts.push(format!(
                    "{} of this repository {} on other branches",
                    super::count(elsewhere, "session"),
                    if elsewhere == 1 { "is" } else { "are" }
                ));
            }
            format!(
                "{}: `ccsync sessions` lists them, `--session ID` pushes one",
                parts.join("; ")
            )
        };
        let when = args
            .since
            .map(|d| format!(" active in the last {d} days"))
            .unwrap_or_default();
        return Err(Exit::nothing_found(format!(
            "no session of branch `{branch}`{when} to push: {hint}"
        ))
        .into());
    }
    Ok(chosen)
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

/// What a push did, for `--json` and for people.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushOutcome {
    pub(crate) session_id: String,
    branch: String,
    /// `uploaded`, `up-to-date`, `would-upload` (dry run).
    pub(crate) action: &'static str,
    /// How the local copy stood against the stored one before the push (`absent` if none).
    relation: &'static str,
    records: u64,
    archive_size: Option<u64>,
    encrypted: bool,
    secrets_redacted: usize,
    release_url: Option<String>,
    dropped_sessions: Vec<String>,
    /// HTTP requests to GitHub for this session (API, uploads and downloads).
    api_requests: u64,
}

/// What a push packs: the entries, where each is read from, and the memory part.
#[derive(Clone, Copy)]
struct Contents<'a> {
    entries: &'a [PathBuf],
    sources: &'a pack::Sources,
    side: &'a crate::memory::outgoing::Outgoing,
}

/// A packed session ready to upload.
struct Packed {
    _dir: tempfile::TempDir,
    archive: PathBuf,
    meta: Metadata,
    findings: Vec<Finding>,
}

/// Writes a push tries before it gives up on other pushes that keep winning.
const MAX_ATTEMPTS: u32 = 5;

impl PushJob<'_> {
    fn push(&self, session: &LocalSession) -> anyhow::Result<PushOutcome> {
        let requests_before = self.gh.request_count();
        let mut entries = vec![PathBuf::from(format!("{}.jsonl", session.id))];
        entries.extend(store::side_files(session)?);
        // The project's memory travels with every session of the folder (crate::memory).
        entries.extend(crate::memory::files(&session.project_dir)?);
        // The session's state outside the project folder (store::state): tasks, file history,
        // plans and background outputs.
        let links = tempfile::tempdir().context("cannot create a temporary folder")?;
        let mut sources = pack::Sources::project(&session.project_dir);
        let roots =
            store::state::Roots::for_session(self.claude_dir, &session.project_dir, &session.id)?;
        sources.temp_root = Some(roots.temp_root.clone());
        for file in store::state::collect(&roots, &session.project_dir, &session.id, links.path())?
        {
            entries.push(file.rel.clone());
            sources.elsewhere.insert(file.rel, file.src);
        }
        complete_records_only(&entries, &mut sources, links.path())?;
        // What restore refuses must not be uploaded (DESIGN.md: restore's limits are checked at push).
        let most = crate::bundle::Limits::default().max_entries;
        if entries.len() as u64 > most {
            anyhow::bail!(
                "session {} has {} files to carry (transcript, side data, memory and state), more than the {most} \
                 a restore accepts: nothing was uploaded. Remove what it no longer needs, such as old checkpoints in {}",
                session.id,
                entries.len(),
                self.claude_dir.join("file-history").join(&session.id).display()
            );
        }
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
            self.push_scanned(session, &entries, &sources, prescan)
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

    /// When the stored copy is not the one this machine last synced (another machine pushed since),
    /// its project memory comes in first by the restore rules ([`super::restore::memory_from_stored`]):
    /// a push never puts this machine's older memory back over the other side's edits. Errs with
    /// [`MemoryPulled`] when local memory files changed, so the push starts again with them.
    fn pull_memory(&self, session: &LocalSession, stored: &StoredSession) -> anyhow::Result<()> {
        let record = crate::memory::SyncRecord::load(self.claude_dir);
        let last = record.copy(&session.id);
        if last.is_none_or(|sha| sha == stored.meta.copy_sha256())
            || (stored.encrypted() && self.passphrase.is_none())
        {
            return Ok(());
        }
        let claude_cwd = session
            .cwd
            .as_deref()
            .map(PathBuf::from)
            .filter(|c| c.is_dir())
            .unwrap_or_else(|| self.origin.root.clone());
        let report = super::restore::memory_from_stored(
            self.ctx.ui,
            self.rt,
            self.gh,
            stored,
            &super::restore::Places {
                claude_dir: self.claude_dir,
                project_dir: &session.project_dir,
                claude_cwd: &claude_cwd,
                local_root: &self.origin.root,
            },
            self.passphrase,
            self.branch,
        )?;
        if report.touched() {
            return Err(MemoryPulled.into());
        }
        Ok(())
    }

    fn push_scanned(
        &self,
        session: &LocalSession,
        entries: &[PathBuf],
        sources: &pack::Sources,
        prescan: Option<Prescan>,
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
        let cache = MetaCache::default();
        let mut prescan = Some(prescan);
        let mut packed: Option<Packed> = None;
        for attempt in 1.. {
            let release = self.rt.block_on(self.gh.session_release(self.branch))?;
            if let Some(release) = &release {
                self.check_ours(release)?;
            }
            // Duplicate drafts (a lost create race) are merged first, by the protocol's rules.
            let release = match release {
                Some(view) if !view.duplicate_ids.is_empty() && !self.args.dry_run => Some(
                    self.merge_duplicates(&view, &writer, &session.id, scratch.path(), &cache)?,
                ),
                other => other,
            };
            // A writer finishes an interrupted write before it compares (never "up to date"
            // against a pair that does not match: only complete copies count).
            let stored = match release.as_ref() {
                None => None,
                Some(release) => write::prepare(
                    self.rt,
                    self.gh,
                    release,
                    &session.id,
                    &writer,
                    !self.args.dry_run,
                    scratch.path(),
                    &cache,
                    &|m| ui.warn(m),
                )?,
            };
            let orphan = match (&release, &stored) {
                (Some(release), None) => write::orphan_archive(release, &session.id, &cache),
                _ => None,
            };
            if let Some(orphan) = orphan.filter(|_| !self.args.force) {
                return Err(Exit::conflict(format!(
                    "the release of branch `{}` holds an archive of session {} ({}) that no metadata describes \
                     (its metadata is missing or invalid: a push of an older ccsync stopped halfway, or someone edited it), \
                     and that archive may hold records this machine lacks. \
                     Download it from {} to keep it, then push with --force to replace it",
                    self.branch,
                    session.id,
                    neutral::text(&orphan.name),
                    neutral::text(release.as_ref().map_or("", |r| r.html_url.as_str()))
                ))
                .into());
            }
            if let Some(stored) = stored.as_ref().filter(|_| !self.args.dry_run) {
                self.pull_memory(session, stored)?;
            }
            let facts = read_facts(&session.path, stored.as_ref().map(|s| s.meta.uuid_count))?;
            if facts.chain.count() == 0 {
                return Err(Exit::nothing_found(format!(
                    "session {} holds no conversation ({}, none of them a message): nothing worth pushing. \
                     Continue it with `claude --resume {}` first, or push another session with --session ID",
                    session.id,
                    if facts.records == 0 {
                        "the file is empty".to_owned()
                    } else {
                        super::count(facts.records, "metadata record")
                    },
                    session.id
                ))
                .into());
            }
            let relation = match &stored {
                None => None,
                Some(stored) => Some(self.relation(&facts, stored, scratch.path())?),
            };
            // Memory changed here since the last sync makes an upload even when the transcript
            // is the same; what the stored copy deleted is not put back.
            let side = crate::memory::outgoing::outgoing(
                &session.project_dir,
                &crate::memory::SyncRecord::load(self.claude_dir),
                stored
                    .as_ref()
                    .map_or(&[][..], |s| &s.meta.deleted_side_files[..]),
            )?;
            let mut outcome = PushOutcome {
                session_id: session.id.clone(),
                branch: self.branch.to_owned(),
                action: "up-to-date",
                relation: sync::relation_label(relation),
                records: facts.records,
                archive_size: None,
                encrypted: self.passphrase.is_some(),
                secrets_redacted: 0,
                release_url: release.as_ref().map(|r| r.html_url.clone()),
                dropped_sessions: Vec::new(),
                api_requests: 0,
            };
            let state_changed = state_changed_here(self.claude_dir, sources)?;
            match relation {
                Some(Relation::Equal) if !self.args.force && state_changed && !side.changed => {
                    ui.info(&format!(
                        "session {} is the same as its stored copy, but its state (tasks, file history, plans, \
                         background outputs) changed here since it was last synced: uploading it",
                        session.id
                    ));
                }
                Some(Relation::Equal) if !self.args.force && side.changed => {
                    ui.info(&format!(
                        "session {} is the same as its stored copy, but the project memory changed here since it was last synced: uploading it",
                        session.id
                    ));
                }
                Some(Relation::Equal) if !self.args.force => {
                    ui.info(&format!(
                        "session {} is already up to date in the release of branch `{}`",
                        session.id, self.branch
                    ));
                    return Ok(outcome);
                }
                Some(Relation::RemoteAhead) if !self.args.force => {
                    return Err(Exit::conflict(format!(
                        "the release of branch `{}` holds a newer copy of session {} (it continued elsewhere): \
                         run `ccsync release-restore --session {}` to bring it here first, or push with --force to replace it",
                        self.branch, session.id, session.id
                    ))
                    .into());
                }
                Some(Relation::Diverged) if !self.args.force => {
                    return Err(Exit::conflict(format!(
                        "session {} diverged: the release of branch `{}` and this machine each hold records the other lacks. \
                         `ccsync release-restore --session {} --force` keeps the stored copy (yours is saved as a backup); \
                         `ccsync release-push --session {} --force` replaces the stored copy with yours",
                        session.id, self.branch, session.id, session.id
                    ))
                    .into());
                }
                _ => {}
            }
            if let Some(stored) = stored.as_ref().filter(|s| s.encrypted()) {
                if self.passphrase.is_none() {
                    if !self.args.allow_plaintext {
                        return Err(anyhow::anyhow!(
                            "session {} is stored encrypted in the release of branch `{}`, but CCSYNC_PASSPHRASE is not set: \
                             set it to push an encrypted copy, or pass --allow-plaintext to replace the encrypted copy with an unencrypted one",
                            stored.meta.session_id,
                            self.branch
                        ));
                    }
                    ui.warn(&format!(
                        "replacing the encrypted copy of session {} with an unencrypted one (--allow-plaintext)",
                        stored.meta.session_id
                    ));
                }
            }

            if packed.is_none() {
                let scan = prescan.take().flatten();
                let contents = Contents {
                    entries,
                    sources,
                    side: &side,
                };
                packed = Some(self.pack(session, &contents, scan, &facts, scratch.path())?);
            }
            let packed = packed.as_ref().expect("packed above");
            outcome.archive_size = Some(packed.meta.archive.size);
            outcome.secrets_redacted = packed.findings.len();
            if self.args.dry_run {
                outcome.action = "would-upload";
                ui.info(&format!(
                    "dry run: would upload session {} ({}, {}) to the draft release `{}`{}",
                    session.id,
                    super::count(facts.records, "record"),
                    crate::ui::human_size(packed.meta.archive.size),
                    names::tag_for(self.branch),
                    if self.passphrase.is_some() {
                        ", encrypted"
                    } else {
                        ""
                    }
                ));
                return Ok(outcome);
            }

            let release = match release {
                Some(release) => release,
                None => {
                    let created = self
                        .rt
                        .block_on(self.gh.session_release_for_write(self.branch))?;
                    if !created.duplicate_ids.is_empty() {
                        // Another first push created a draft too: merge, then compare again.
                        continue;
                    }
                    created
                }
            };
            let progress = Step::spinner(
                ui,
                &format!("uploading {}", packed.meta.archive.name),
                Some(packed.meta.archive.size),
            );
            let written = write::write_copy(
                self.rt,
                self.gh,
                &release,
                stored.as_ref(),
                &writer,
                NewCopy {
                    archive: &packed.archive,
                    content_type: archive_content_type(self.passphrase.is_some()),
                    meta: packed.meta.clone(),
                    keep_generation: false,
                    scratch: scratch.path(),
                },
                &cache,
                &|m| ui.warn(m),
            )?;
            drop(progress);
            let release = match written {
                Written::Current { release, .. } => *release,
                Written::Superseded if attempt < MAX_ATTEMPTS => {
                    ui.info(&format!(
                        "another push stored session {} first: comparing with its copy again",
                        session.id
                    ));
                    continue;
                }
                Written::Superseded => {
                    return Err(anyhow::anyhow!(
                        "other pushes of session {} kept replacing the stored copy while this one wrote; run the push again",
                        session.id
                    ))
                }
            };
            outcome.dropped_sessions = self
                .keep_newest(&release, &packed.meta, scratch.path(), &cache)
                .with_context(|| {
                    format!(
                        "session {} was pushed, but the sessions beyond --keep {} were left in \
                         place: ccsync drops only sessions it could read",
                        session.id, self.args.keep
                    )
                })?;
            record_memory_sync(self.ctx, session, &side, packed);
            record_state_sync(self.ctx, self.claude_dir, sources, packed);
            outcome.action = "uploaded";
            outcome.release_url = Some(release.html_url.clone());
            ui.info(&format!(
                "pushed session {} ({}, {}{}) to {}",
                session.id,
                super::count(facts.records, "record"),
                crate::ui::human_size(packed.meta.archive.size),
                if self.passphrase.is_some() {
                    ", encrypted"
                } else {
                    ""
                },
                release.html_url
            ));
            return Ok(outcome);
        }
        unreachable!("the loop returns")
    }

    /// Merges the duplicate drafts of `view` into the kept one (crate::stored::merge). Diverged
    /// copies of the pushed session are its conflict (exit 4); of another session, a warning (the
    /// duplicates stay until someone resolves it).
    fn merge_duplicates(
        &self,
        view: &SessionRelease,
        writer: &Writer,
        session_id: &str,
        scratch: &Path,
        cache: &MetaCache,
    ) -> anyhow::Result<SessionRelease> {
        let ui = self.ctx.ui;
        let merged = stored::merge::Merger {
            rt: self.rt,
            gh: self.gh,
            claude_dir: self.claude_dir,
            own: writer,
            own_session: session_id,
            force: self.args.force,
            scratch,
            cache,
            warn: &|m| ui.warn(m),
        }
        .merge(view)?;
        for id in &merged.conflicts {
            if id == session_id {
                return Err(Exit::conflict(format!(
                    "session {id} diverged: the release of branch `{}` is split over duplicate drafts (a race of two first pushes) \
                     whose copies each hold records the other lacks, and nothing was changed. \
                     `ccsync release-restore --session {id} --force` keeps the copy readers use (yours is saved as a backup); \
                     `ccsync release-push --session {id} --force` replaces both with yours",
                    self.branch
                ))
                .into());
            }
            ui.warn(&format!(
                "session {id} diverged between duplicate drafts of branch `{}`: they stay until one copy is chosen \
                 (`ccsync release-push --session {id} --force` from the machine whose copy should win)",
                self.branch
            ));
        }
        Ok(merged.release)
    }

    /// The uuid rule, decided from the stored metadata when it can be, else from the stored copy.
    fn relation(
        &self,
        local: &SessionFacts,
        stored: &StoredSession,
        scratch: &Path,
    ) -> anyhow::Result<Relation> {
        if let Some(relation) = sync::relation_from_summary(
            &local.chain,
            stored.meta.uuid_count,
            &stored.meta.uuid_chain_sha256,
        ) {
            return Ok(relation);
        }
        self.ctx
            .ui
            .detail("comparing with the stored copy record by record");
        let progress = Step::watch_file(
            self.ctx.ui,
            &format!("downloading {}", stored.meta.archive.name),
            &scratch.join(&stored.meta.archive.name),
            Some(stored.meta.archive.size),
        );
        let extracted =
            stored::fetch_archive(self.rt, self.gh, stored, scratch, scratch, self.passphrase)?;
        drop(progress);
        let remote_file = extracted.path(Path::new(&format!("{}.jsonl", stored.meta.session_id)));
        let remote = read_facts(&remote_file, None)?;
        Ok(sync::compare_sets(&local.chain, &remote.chain))
    }

    /// Packs the session and its side files into `scratch`: secrets handled per `--secrets`,
    /// the archive streamed to disk (and encrypted with the passphrase, if any), then the metadata.
    fn pack(
        &self,
        session: &LocalSession,
        contents: &Contents<'_>,
        prescan: Option<Prescan>,
        facts: &SessionFacts,
        scratch: &Path,
    ) -> anyhow::Result<Packed> {
        let Contents {
            entries,
            sources,
            side,
        } = *contents;
        let ui = self.ctx.ui;
        let dir = tempfile::tempdir_in(scratch).context("cannot create a temporary folder")?;
        let scanned = match prescan {
            None => None,
            Some(answer) => Some(
                answer
                    .recv()
                    .map_err(|_| anyhow::anyhow!("the secret scan stopped unexpectedly"))??,
            ),
        };
        // Memory the stored copy deleted (and unchanged here) stays out of the upload.
        let kept = |rel: &Path| !side.left_out.iter().any(|out| out == rel);
        let entries: Vec<PathBuf> = entries.iter().filter(|rel| kept(rel)).cloned().collect();
        let scanned = scanned.map(|mut all| {
            all.retain(|s| kept(s.rel()));
            all
        });
        let scan_found: Vec<Finding> = scanned
            .iter()
            .flatten()
            .flat_map(|s| s.findings.iter().cloned())
            .collect();
        if self.args.secrets == SecretsMode::Refuse && !scan_found.is_empty() {
            return Err(refuse_error(&session.id, &scan_found));
        }

        let packed = pack::write_archive(
            &pack::ArchiveJob {
                dir: dir.path(),
                session_id: &session.id,
                sources,
                entries: &entries,
                scanned: scanned.as_deref(),
                scanner: self.scanner,
                passphrase: self.passphrase,
            },
            |path| Step::watch_file(ui, &format!("packing session {}", session.id), path, None),
        )?;
        // What restore refuses must not be uploaded: the same ceiling it applies.
        let ceiling = crate::bundle::max_unpacked_bytes();
        if packed.unpacked_size > ceiling {
            anyhow::bail!(
                "session {} unpacks to {} MiB, more than the {} MiB a restore accepts \
                 (CCSYNC_MAX_UNPACKED_MB raises that ceiling, on both machines): nothing was uploaded",
                session.id,
                packed.unpacked_size >> 20,
                ceiling >> 20
            );
        }
        let findings = packed.findings;
        if !findings.is_empty() {
            let report = findings_report(&findings);
            if self.args.secrets == SecretsMode::Refuse {
                return Err(refuse_error(&session.id, &findings));
            }
            ui.warn(&format!(
                "redacted {} secret(s) in the uploaded copy of session {} (your local file is unchanged):\n{report}",
                findings.len(),
                session.id
            ));
        }
        let (archive, encryption, size, sha256) = (
            packed.path.clone(),
            packed.encryption,
            packed.size,
            packed.sha256.clone(),
        );
        let meta = Metadata {
            format: FORMAT,
            session_id: session.id.clone(),
            git_branch: self.branch.to_owned(),
            repository: self.origin.repo.to_string(),
            commit: self.origin.commit.clone(),
            cwd: facts
                .cwd
                .clone()
                .or_else(|| session.cwd.clone())
                .unwrap_or_else(|| self.origin.root.to_string_lossy().into_owned()),
            repo_root: self.origin.root.to_string_lossy().into_owned(),
            claude_project_dir: Some(session.project_dir.to_string_lossy().into_owned()),
            claude_dir: Some(store::path_text(self.claude_dir)),
            claude_temp_dir: Some(store::path_text(
                &sources
                    .temp_root
                    .clone()
                    .unwrap_or_else(store::state::temp_root),
            )),
            last_timestamp: facts.last_timestamp.clone(),
            records: facts.records,
            lines: Some(facts.lines),
            last_uuid: facts.last_uuid.clone(),
            claude_version: facts.version.clone(),
            has_progress_records: facts.progress_records > 0,
            archive: ArchiveInfo {
                name: names::archive_asset_name(&session.id, encryption != Encryption::None),
                size,
                sha256,
                encryption,
            },
            unpacked_size: Some(packed.unpacked_size),
            pushed_at: Utc::now(),
            pushed_from: PushedFrom {
                host: gethostname::gethostname().to_string_lossy().into_owned(),
                os: std::env::consts::OS.to_owned(),
            },
            tool: Tool::current(),
            uuid_count: facts.chain.count(),
            uuid_chain_sha256: facts.chain.sha256_hex(),
            // Set by the write protocol when the copy is written.
            generation: 0,
            parent: None,
            deleted_side_files: side.deleted.clone(),
            chain: None,
            manifest: crate::bundle::delta::manifest_of(&session.id, &packed.entry_sha256),
        };
        Ok(Packed {
            _dir: dir,
            archive,
            meta,
            findings,
        })
    }

    /// A draft with the session tag whose description lacks ccsync's marker was made by hand:
    /// `release-prune` calls it foreign, and push does not take it over unless `--force` (which
    /// still never rewrites its description).
    fn check_ours(&self, release: &SessionRelease) -> anyhow::Result<()> {
        if is_ours(release) {
            return Ok(());
        }
        if self.args.force {
            self.ctx.ui.warn(&format!(
                "the draft release `{}` was not made by ccsync (its description lacks ccsync's marker): \
                 pushing into it anyway (--force), leaving its description as it is",
                neutral::text(&release.tag_name)
            ));
            return Ok(());
        }
        Err(anyhow::anyhow!(
            "the draft release `{}` ({}) was not made by ccsync: its description lacks ccsync's marker \
             `{}`, so ccsync leaves it alone (release-prune calls it foreign). Rename or delete it to let \
             ccsync create its own, or pass --force to store the session in it anyway (its description \
             is never rewritten)",
            neutral::text(&release.tag_name),
            neutral::text(&release.html_url),
            names::BODY_MARKER
        ))
    }

    /// Drops the sessions beyond `--keep` (oldest activity first), never the one just pushed,
    /// then writes its row into the release body. What is dropped is decided from the verified
    /// metadata of complete copies, never from labels or the body (anyone with write access can
    /// edit those); the metadata is read only when more sessions than `--keep` could be there.
    fn keep_newest(
        &self,
        release: &SessionRelease,
        pushed: &Metadata,
        scratch: &Path,
        cache: &MetaCache,
    ) -> anyhow::Result<Vec<String>> {
        let ui = self.ctx.ui;
        let read_all = || {
            stored::stored_sessions_of(
                self.rt,
                self.gh,
                release,
                scratch,
                &|m| ui.warn(m),
                None,
                cache,
            )
        };
        // Sessions that could hold a complete copy (a metadata asset and an archive asset): only
        // when more than `--keep` could, is every session's metadata read.
        let named: Vec<String> = catalog::session_ids(release)
            .into_iter()
            .filter(|id| {
                release.session_assets(id).iter().any(|(a, role)| {
                    a.state == "uploaded"
                        && matches!(
                            role,
                            names::Role::StableArchive { .. } | names::Role::TempArchive { .. }
                        )
                })
            })
            .collect();
        let mut full: Option<Vec<StoredSession>> = None;
        let mut dropped: Vec<String> = Vec::new();
        if named.len() > self.args.keep as usize {
            let sessions = read_all()?;
            // The pushed session always stays; the newest others fill the remaining places.
            let others_allowed = (self.args.keep as usize).saturating_sub(1);
            dropped = sessions
                .iter()
                .map(|s| s.meta.session_id.clone())
                .filter(|id| *id != pushed.session_id)
                .skip(others_allowed)
                .collect();
            full = Some(sessions);
        }
        for id in &dropped {
            for (asset, _) in release.session_assets(id) {
                self.rt.block_on(self.gh.delete_asset(asset))?;
            }
            ui.info(&format!(
                "dropped session {id} from the release (--keep {})",
                self.args.keep
            ));
        }
        let present: Vec<String> = match &full {
            Some(sessions) => sessions.iter().map(|s| s.meta.session_id.clone()).collect(),
            None => named,
        }
        .into_iter()
        .filter(|id| !dropped.contains(id))
        .collect();
        let body =
            match catalog::update_body(release.body.as_deref(), self.branch, pushed, &present) {
                Some(body) => body,
                None => {
                    let sessions = match full {
                        Some(sessions) => sessions,
                        None => read_all()?,
                    };
                    let kept: Vec<StoredSession> = sessions
                        .into_iter()
                        .filter(|s| !dropped.contains(&s.meta.session_id))
                        .collect();
                    stored::render_body(self.branch, &kept)
                }
            };
        // A description ccsync did not write (a hand-made draft taken with --force) stays.
        if is_ours(release) {
            self.rt.block_on(self.gh.set_body(release, &body))?;
        }
        Ok(dropped)
    }
}

/// Whether ccsync made the release: its description carries ccsync's marker.
fn is_ours(release: &SessionRelease) -> bool {
    release
        .body
        .as_deref()
        .is_some_and(|b| b.contains(names::BODY_MARKER))
}

/// Remembers the memory files just uploaded (and the deletions) as this machine's last-synced
/// state, so a later restore can tell an edit made here from one made on the other side. A file
/// uploaded redacted differs from the local one: it is remembered for pushes only (a restore then
/// backs up before replacing it).
fn record_memory_sync(
    ctx: &Context,
    session: &LocalSession,
    side: &crate::memory::outgoing::Outgoing,
    packed: &Packed,
) {
    let Ok(claude_dir) = ctx.claude_dir() else {
        return;
    };
    let mut record = crate::memory::SyncRecord::load(&claude_dir);
    let redacted = |rel: &Path| {
        let label = rel.to_string_lossy();
        packed.findings.iter().any(|f| f.file == label)
    };
    side.record_pushed(
        &mut record,
        &session.project_dir,
        &redacted,
        &session.id,
        packed.meta.copy_sha256(),
    );
    if let Err(e) = record.save() {
        ctx.ui.warn(&format!(
            "cannot record the project memory's sync state: {e:#}"
        ));
    }
}

/// Whether a state file of the session (`sources.elsewhere`, store::state) is new or changed here
/// since this machine last synced it: then an otherwise equal session is uploaded again. Links are
/// made again from the transcript's side data and need no upload of their own.
fn state_changed_here(claude_dir: &Path, sources: &pack::Sources) -> anyhow::Result<bool> {
    let record = crate::memory::SyncRecord::load(claude_dir);
    for (rel, src) in &sources.elsewhere {
        if rel.to_string_lossy().ends_with(store::state::LINK_SUFFIX) {
            continue;
        }
        if let Some(sha) = crate::memory::sha256_of(src)? {
            if !record.unchanged(src, &sha) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Remembers the state files just uploaded as this machine's last-synced state (a file uploaded
/// redacted: for pushes only, like memory).
fn record_state_sync(ctx: &Context, claude_dir: &Path, sources: &pack::Sources, packed: &Packed) {
    let mut record = crate::memory::SyncRecord::load(claude_dir);
    for (rel, src) in &sources.elsewhere {
        let label = rel.to_string_lossy();
        if label.ends_with(store::state::LINK_SUFFIX) {
            continue;
        }
        let Ok(Some(sha)) = crate::memory::sha256_of(src) else {
            continue;
        };
        if packed.findings.iter().any(|f| f.file == label) {
            record.set_redacted(src, &sha);
        } else {
            record.set(src, &sha);
        }
    }
    if let Err(e) = record.save() {
        ctx.ui.warn(&format!(
            "cannot record the session state's sync state: {e:#}"
        ));
    }
}

fn archive_content_type(encrypted: bool) -> &'static str {
    if encrypted {
        "application/octet-stream"
    } else {
        "application/gzip"
    }
}

/// `--secrets refuse` met secrets: nothing is uploaded.
fn refuse_error(session_id: &str, findings: &[Finding]) -> anyhow::Error {
    Exit::secrets_found(format!(
        "session {session_id} holds {} secret(s), so nothing was uploaded (--secrets refuse):\n{}\n\
         Remove them from the session, or push with --secrets redact (the default) to upload a redacted copy",
        findings.len(),
        findings_report(findings)
    ))
    .into()
}

/// Findings by rule and place, never by value.
fn findings_report(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {} in {} line {}", f.rule, f.file, f.line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Only complete records travel (DESIGN.md): a `.jsonl` entry (transcript, agent and subagent
/// files) whose last line has no newline yet is being written; it is packed up to its last
/// newline, from a copy in `scratch`, and the rest is left for the next push.
fn complete_records_only(
    entries: &[PathBuf],
    sources: &mut pack::Sources,
    scratch: &Path,
) -> anyhow::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    for (n, rel) in entries
        .iter()
        .filter(|r| r.extension().is_some_and(|e| e == "jsonl"))
        .enumerate()
    {
        let src = sources.path(rel);
        let mut file =
            std::fs::File::open(&src).with_context(|| format!("cannot read {}", src.display()))?;
        let len = file.metadata()?.len();
        let complete = crate::store::records::complete_lines_len(&file)
            .with_context(|| format!("cannot read {}", src.display()))?;
        if complete == len {
            continue;
        }
        let copy = scratch.join(format!("complete-{n}.jsonl"));
        file.seek(SeekFrom::Start(0))?;
        let mut out = std::fs::File::create(&copy)
            .with_context(|| format!("cannot create {}", copy.display()))?;
        std::io::copy(&mut file.take(complete), &mut out)
            .with_context(|| format!("cannot copy {}", src.display()))?;
        sources.elsewhere.insert(rel.clone(), copy);
    }
    Ok(())
}

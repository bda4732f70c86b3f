//! `ccsync release-restore`: downloads a stored session, verifies it, maps its paths to this
//! machine and installs it in the project folder of the directory where `claude` will run.
//!
//! Nothing is written before the archive's size and sha256 match its metadata; the archive is
//! extracted into a temporary folder beside the target and renamed into place, side data first
//! and the session file last; a diverged local copy is only replaced with `--force`, after it was
//! saved beside itself.

mod state;

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::actions;
use crate::bundle::content_hash;
use crate::bundle::facts::read_facts;
use crate::bundle::rewrite::PathMap;
use crate::bundle::Extracted;
use crate::bundle::{pargz, parlines};
use crate::catalog;
use crate::cli::RestoreArgs;
use crate::config::{self, BranchChoice, Context};
use crate::exit::Exit;
use crate::git::GitRepo;
use crate::memory::incoming::{Incoming, Lineage, MemoryReport};
use crate::neutral;
use crate::progress::Step;
use crate::release::{names, GitHub, SessionRelease};
use crate::scratch::RunDir;
use crate::store;
use crate::stored::{self, StoredSession};
use crate::sync::{self, Relation};

/// What a restore did, for `--json`, `$GITHUB_OUTPUT` and people.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RestoreOutcome {
    /// `installed`, `kept-local`, or `nothing` (nothing to restore).
    pub(crate) action: &'static str,
    pub(crate) session_id: Option<String>,
    pub(crate) branch: String,
    /// How the local copy stood against the stored one (`absent` if there was none).
    pub(crate) relation: Option<&'static str>,
    pub(crate) session_file: Option<PathBuf>,
    pub(crate) release_url: Option<String>,
    /// The branch whose release held the session, when it is not `branch` (`--session` found
    /// elsewhere); `null` otherwise.
    pub(crate) release_branch: Option<String>,
    pub(crate) backup: Option<PathBuf>,
    /// The folder holding the saved local side files (subagent transcripts, tool results, 2.0
    /// agent files) that `--force` replaced and that differed; `None` when none did.
    pub(crate) side_backup: Option<PathBuf>,
    /// The new id under which `--keep-local-as-new` kept the diverged local copy; `None` otherwise.
    pub(crate) kept_as_session: Option<String>,
    pub(crate) message: Option<String>,
    /// What the restore did with project memory (every file installed, changed, deleted or held
    /// back); `null` when the stored copy brought none that differed (a field is never missing).
    pub(crate) memory: Option<crate::memory::incoming::MemoryReport>,
    /// HTTP requests to GitHub (API, downloads).
    pub(crate) api_requests: u64,
}

impl RestoreOutcome {
    /// A session is ready for `claude --resume`.
    fn restored(&self) -> bool {
        self.session_id.is_some() && self.action != "nothing"
    }
}

pub fn run(ctx: &Context, args: &RestoreArgs) -> anyhow::Result<()> {
    let outcome = restore_session(ctx, args)?;
    // An unknown `--session` is nothing found (exit 3) like `--require` with nothing.
    let required = args.require || args.session.is_some();
    report(ctx, &outcome, required)?;
    if outcome.action == "nothing" && required {
        let message = outcome.message.unwrap_or_default();
        return Err(if args.require {
            Exit::required_missing(format!("{message} (--require)"))
        } else {
            Exit::required_missing(message)
        }
        .into());
    }
    Ok(())
}

/// The whole restore without reporting it: what `resume` runs before `claude`.
pub(crate) fn restore_session(ctx: &Context, args: &RestoreArgs) -> anyhow::Result<RestoreOutcome> {
    let claude_cwd = config::resolve_claude_cwd(args.cwd.as_deref())?;
    let git = GitRepo::discover(&claude_cwd)?;
    let branch = match ctx.branch(args.branch.as_deref(), git.as_ref())? {
        BranchChoice::Branch(branch) => branch,
        BranchChoice::NoBranch(why) => {
            return Ok(RestoreOutcome {
                action: "nothing",
                message: Some(format!("nothing to restore: {why}")),
                ..Default::default()
            })
        }
    };
    let slug = ctx.github_repo(git.as_ref())?;
    let claude_dir = ctx.claude_dir()?;
    let local_root = git
        .as_ref()
        .map_or_else(|| claude_cwd.clone(), |g| g.root().to_path_buf());
    if let Some(id) = &args.session {
        if !store::scan::is_session_id(id) {
            return Err(Exit::usage(format!(
                "`{id}` is not a session id: session ids are uuids (see `ccsync release-list`)"
            ))
            .into());
        }
    }
    let passphrase = super::passphrase("restore")?;
    let token = ctx.token()?;
    let gh = GitHub::new(ctx.api_url()?, slug, token)?;
    let rt = super::runtime()?;
    let continued = continued_branch(args, git.as_ref(), &branch);
    let target = Target {
        project_dir: store::project_dir(&claude_dir, &claude_cwd),
        claude_cwd,
        local_root,
        passphrase,
        claude_dir,
        continued,
    };

    let release_found = std::cell::Cell::new(false);
    let mut outcome = match restore(ctx, args, &rt, &gh, &branch, &target, &release_found) {
        // A push replaces the archive and then its metadata: a restore that read the old
        // metadata finds the old archive gone, or gets the new one and sees a mismatch. Reading
        // the release again resolves it; a copy that still does not match is refused. A 404
        // before the release was found (a wrong --repo) is no such race.
        Err(err) if release_found.get() && replaced_while_reading(&err) => {
            ctx.ui.info(&format!(
                "{err:#}; the stored copy may be changing (a push under way): reading the release again"
            ));
            std::thread::sleep(std::time::Duration::from_secs(2));
            restore(ctx, args, &rt, &gh, &branch, &target, &release_found)?
        }
        other => other?,
    };
    outcome.api_requests = gh.request_count();
    ctx.ui
        .detail(&format!("{} GitHub API request(s)", outcome.api_requests));
    Ok(outcome)
}

/// The branch this checkout continues, against which the lineage of incoming memory is judged:
/// the branch restored when none was asked for, and in Actions (a fresh runner whose workflow
/// chose the branch); else the checked-out branch (`None` on a detached HEAD).
fn continued_branch(args: &RestoreArgs, git: Option<&GitRepo>, branch: &str) -> Option<String> {
    if args.branch.is_none() || actions::in_actions() {
        return Some(branch.to_owned());
    }
    git.and_then(GitRepo::current_branch)
}

/// A download that did not match its metadata, or whose asset was gone (nothing was written).
fn replaced_while_reading(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<crate::release::Error>()
            .is_some_and(|e| matches!(e, crate::release::Error::Integrity(_)) || e.is_not_found())
    })
}

/// The session to restore from `release`: `--session`, else the newest by the verified metadata
/// of complete copies (labels are hints anyone with write access can edit: they never choose).
fn choose_session(
    rt: &tokio::runtime::Runtime,
    gh: &GitHub,
    warn: &dyn Fn(&str),
    release: &SessionRelease,
    args: &RestoreArgs,
    scratch: &Path,
) -> anyhow::Result<Option<StoredSession>> {
    let cache = stored::MetaCache::default();
    let only = args.session.as_deref();
    let sessions = stored::stored_sessions_of(rt, gh, release, scratch, warn, only, &cache)?;
    refuse_damaged(release, &cache, only, sessions.first())?;
    // A push that stopped after its commit point left a complete copy under temporary names:
    // finish it for everyone (downloads go by asset id, so `sessions` stays valid).
    stored::finish_writes(rt, gh, &sessions, warn);
    Ok(match &args.session {
        Some(id) => sessions.into_iter().find(|s| &s.meta.session_id == id),
        None => sessions.into_iter().next(),
    })
}

/// A damaged stored session (metadata without its matching archive, no write under way) that is
/// the one asked for, or newer than the copy about to be restored, is an error: restoring
/// nothing, or an older session, would silently lose its history.
fn refuse_damaged(
    release: &SessionRelease,
    cache: &stored::MetaCache,
    wanted: Option<&str>,
    chosen: Option<&StoredSession>,
) -> anyhow::Result<()> {
    let damaged = stored::damaged_sessions(release, cache, wanted);
    let newer = |d: &&stored::Damaged| {
        wanted.is_some()
            || chosen.is_none_or(|c| {
                d.meta.last_timestamp.as_deref().unwrap_or("") > c.activity_key().as_str()
            })
    };
    let Some(bad) = damaged.iter().find(newer) else {
        return Ok(());
    };
    Err(stored::damaged_error(release, bad, "Nothing was restored."))
}

/// Where the session goes on this machine.
#[derive(Clone)]
struct Target {
    claude_cwd: PathBuf,
    local_root: PathBuf,
    project_dir: PathBuf,
    /// `CCSYNC_PASSPHRASE`, if set.
    passphrase: Option<String>,
    claude_dir: PathBuf,
    /// See [`continued_branch`].
    continued: Option<String>,
}

impl Target {
    /// How memory from the release of `from` relates to the branch this checkout continues: a
    /// fork's branch (`owner:branch`) or another branch is another lineage.
    fn lineage(&self, from: &str, accept: bool) -> Lineage {
        let same = match &self.continued {
            Some(continued) => continued == from,
            None => !from.contains(':'),
        };
        match (same, accept) {
            (true, _) => Lineage::Same,
            (false, false) => Lineage::OtherHeldBack,
            (false, true) => Lineage::OtherAccepted,
        }
    }
}

impl Target {
    /// Without `--cwd`: when this machine already holds session `id` in another folder of the
    /// repository (it was started in a subfolder), that copy is the one to update, not a second
    /// one beside it in this folder's project folder.
    fn where_it_already_is(&self, id: &str) -> anyhow::Result<Option<Target>> {
        if self.project_dir.join(format!("{id}.jsonl")).is_file() {
            return Ok(None);
        }
        let Some(existing) = store::find_session(&self.claude_dir, &self.local_root, id)? else {
            return Ok(None);
        };
        if existing.project_dir == self.project_dir {
            return Ok(None);
        }
        // The folder `claude --resume` runs in: the one the local copy last recorded, when its
        // project folder is where the copy lies.
        let claude_cwd = existing
            .cwd
            .as_deref()
            .and_then(|c| std::fs::canonicalize(c).ok())
            .filter(|c| store::project_dir(&self.claude_dir, c) == existing.project_dir)
            .unwrap_or_else(|| self.claude_cwd.clone());
        Ok(Some(Target {
            claude_cwd,
            project_dir: existing.project_dir,
            ..self.clone()
        }))
    }
}

fn restore(
    ctx: &Context,
    args: &RestoreArgs,
    rt: &tokio::runtime::Runtime,
    gh: &GitHub,
    branch: &str,
    target: &Target,
    release_found: &std::cell::Cell<bool>,
) -> anyhow::Result<RestoreOutcome> {
    let ui = ctx.ui;
    let mut outcome = RestoreOutcome {
        branch: branch.to_owned(),
        action: "nothing",
        ..Default::default()
    };
    if actions::is_fork_pull_request() {
        outcome.message = Some(
            "nothing restored: this is a pull request from a fork, whose token is read-only and cannot see \
             the draft releases that hold sessions"
                .to_owned(),
        );
        return Ok(outcome);
    }
    let quick = rt.block_on(gh.session_release(branch))?;
    release_found.set(quick.is_some());
    // Downloads (and decrypted archives) that killed runs left in the temp folder go first.
    crate::scratch::sweep(&std::env::temp_dir());
    let scratch = RunDir::in_temp()?;
    let unreadable = std::cell::RefCell::new(Vec::new());
    let warn = |m: &str| {
        ui.warn(m);
        unreadable.borrow_mut().push(m.to_owned());
    };
    let choose =
        |release: &SessionRelease| choose_session(rt, gh, &warn, release, args, scratch.path());
    let mut found = match &quick {
        Some(release) => choose(release)?.map(|s| (release.clone(), s)),
        None => None,
    };
    // Missed: GraphQL names only one of several drafts sharing a tag (a lost create race), and a
    // `--session` may be stored on another branch. One listing answers both.
    if found.is_none() && (quick.is_some() || args.session.is_some()) {
        let tag = names::tag_for(branch);
        let drafts = rt.block_on(gh.session_drafts_merged())?;
        let own = drafts
            .iter()
            .filter(|r| r.tag_name == tag && !r.duplicate_ids.is_empty());
        let holding = |r: &&SessionRelease| {
            args.session.as_deref().is_some_and(|id| {
                r.tag_name != tag && r.asset(&names::metadata_asset_name(id)).is_some()
            })
        };
        for release in own.chain(drafts.iter().filter(holding)) {
            if let Some(stored) = choose(release)? {
                found = Some((release.clone(), stored));
                break;
            }
        }
    }
    let unreadable = unreadable.into_inner();
    if let (None, Some(release)) = (&found, &quick) {
        if !unreadable.is_empty() {
            // Stored sessions whose metadata cannot be read are bad data, not "nothing to restore".
            anyhow::bail!(
                "the release of branch `{branch}` ({}) holds {} whose metadata cannot be read, and no readable one{}: {}. \
                 Push the session again from a machine that has it, or delete the broken assets",
                release.html_url,
                super::count(unreadable.len() as u64, "session"),
                args.session.as_deref().map(|id| format!(" for session {id}")).unwrap_or_default(),
                unreadable.join("; ")
            );
        }
    }
    let Some((release, stored)) = found else {
        let message = match (&quick, &args.session) {
            (None, _) => match rt.block_on(gh.access()) {
                Ok(access) if access.push == Some(false) => "nothing restored: the token cannot see draft releases \
                    (it has read-only access, as on pull requests from forks); a workflow needs \
                    `permissions: contents: write` to restore sessions"
                    .to_owned(),
                _ => match &args.session {
                    Some(id) => format!(
                        "nothing to restore: no branch's release holds session {id}, and branch `{branch}` has no session release `{}` (`ccsync release-list` lists what is stored)",
                        names::tag_for(branch)
                    ),
                    None => format!(
                        "nothing to restore: branch `{branch}` has no session release `{}` (push one with `ccsync release-push`)",
                        names::tag_for(branch)
                    ),
                },
            },
            (Some(release), Some(id)) => format!(
                "nothing to restore: no branch's release holds session {id}; the release of branch `{branch}` holds {} other session(s) (`ccsync release-list --branch {branch}` lists them)",
                catalog::session_ids(release).len()
            ),
            (Some(_), None) => format!(
                "nothing to restore: the release of branch `{branch}` holds no complete session"
            ),
        };
        outcome.message = Some(message);
        return Ok(outcome);
    };
    release_found.set(true);
    outcome.release_url = Some(release.html_url.clone());
    if let Some(other) = release.branch().filter(|b| *b != branch) {
        ui.info(&format!(
            "session {} is not in the release of branch `{branch}`: restoring it from the release of branch `{other}`",
            stored.meta.session_id
        ));
        outcome.release_branch = Some(other.into_owned());
    }
    let stored = &stored;
    let id = stored.meta.session_id.clone();
    // A passphrase says sessions are kept encrypted here: an unencrypted copy may be a downgrade
    // by someone who can edit the release, so it is refused unless the user says otherwise.
    if target.passphrase.is_some() && !stored.encrypted() && !args.allow_unencrypted {
        anyhow::bail!(
            "session {id} in the release of branch `{}` is not encrypted, but CCSYNC_PASSPHRASE is set: \
             its encrypted copy may have been replaced by someone with write access to the repository. \
             Nothing was installed; pass --allow-unencrypted to install the unencrypted copy anyway",
            neutral::text(branch)
        );
    }
    outcome.session_id = Some(id.clone());
    let moved = match args.cwd {
        Some(_) => None,
        None => target.where_it_already_is(&id)?,
    };
    if let Some(existing) = &moved {
        ui.info(&format!(
            "this machine already holds session {id} in {} (the project folder of {}): updating that copy \
             (pass --cwd to restore it for another folder)",
            existing.project_dir.display(),
            existing.claude_cwd.display()
        ));
    }
    let target = moved.as_ref().unwrap_or(target);
    warn_if_claude_is_older(ui, stored);
    let session_file = target.project_dir.join(format!("{id}.jsonl"));
    outcome.session_file = Some(session_file.clone());

    // The local copy first: when the metadata already shows it equal or ahead, nothing is downloaded.
    let local = session_file
        .is_file()
        .then(|| read_facts(&session_file, Some(stored.meta.uuid_count)))
        .transpose()?;
    let quick = local.as_ref().and_then(|facts| {
        sync::relation_from_summary(
            &facts.chain,
            stored.meta.uuid_count,
            &stored.meta.uuid_chain_sha256,
        )
    });
    let from_branch = release
        .branch()
        .map_or_else(|| branch.to_owned(), |b| b.into_owned());
    let lineage = target.lineage(&from_branch, args.accept_memory);
    let mut record = crate::memory::SyncRecord::load(&target.claude_dir);
    // A copy this machine did not last sync may bring memory (or deletions) even when the
    // transcript is the same: a push whose only change is memory.
    let side_news = args.accept_memory || record.copy(&id) != Some(stored.meta.copy_sha256());
    if let Some(relation @ (Relation::Equal | Relation::LocalAhead)) = quick {
        if !side_news {
            return Ok(keep_local(ui, outcome, relation, &target.project_dir));
        }
        if stored.encrypted() && target.passphrase.is_none() {
            ui.detail(&format!(
                "session {id} is stored encrypted and CCSYNC_PASSPHRASE is not set: its project memory was not checked"
            ));
            return Ok(keep_local(ui, outcome, relation, &target.project_dir));
        }
    }

    // Staged beside the project folder (same file system, so installing is a rename, and no
    // half-restored file ever sits where Claude Code looks).
    let projects = target.project_dir.parent().unwrap_or(&target.project_dir);
    std::fs::create_dir_all(projects)
        .with_context(|| format!("cannot create {}", projects.display()))?;
    // What killed restores left there (plaintext session copies) goes first.
    crate::scratch::sweep(projects);
    let staging = RunDir::in_folder(projects)?;
    let prompted = match &target.passphrase {
        None if stored.encrypted() => super::prompt_passphrase(ui, &id)?,
        _ => None,
    };
    let progress = Step::watch_file(
        ui,
        &format!("downloading {}", stored.meta.archive.name),
        &scratch.path().join(&stored.meta.archive.name),
        Some(stored.meta.archive.size),
    );
    let extracted = stored::fetch_archive(
        rt,
        gh,
        stored,
        scratch.path(),
        staging.path(),
        target.passphrase.as_deref().or(prompted.as_deref()),
    )?;
    drop(progress);
    refuse_foreign_agent_files(&extracted, &target.project_dir, &id)?;
    let session_rel = PathBuf::from(format!("{id}.jsonl"));
    if !extracted.files.contains(&session_rel) {
        anyhow::bail!("the archive of session {id} holds no {id}.jsonl: it was not made by ccsync");
    }

    let relation = match (&local, quick) {
        (None, _) => None,
        (Some(_), Some(relation)) => Some(relation),
        (Some(local), None) => {
            let remote = read_facts(&extracted.path(&session_rel), None)?;
            Some(sync::compare_sets(&local.chain, &remote.chain))
        }
    };
    outcome.relation = Some(sync::relation_label(relation));
    let memory = |staged: &Path, record: &mut crate::memory::SyncRecord| {
        Incoming {
            staged,
            files: &extracted.files,
            deleted: &stored.meta.deleted_side_files,
            project_dir: &target.project_dir,
            lineage,
            from_branch: &from_branch,
        }
        .apply(record)
    };
    match relation {
        Some(relation @ (Relation::Equal | Relation::LocalAhead)) => {
            // The transcript stays; the memory the stored copy brings is handled all the same.
            let map = path_map(stored, target);
            let rewritten = rewrite_memory(&extracted, &map)?;
            // So does the session state of a copy this machine has not synced (restore::state).
            let state_files: Vec<PathBuf> = extracted
                .files
                .iter()
                .filter(|rel| store::state::is_state(rel))
                .cloned()
                .collect();
            install_state(
                ui,
                &mut outcome,
                (rewritten.path(), &state_files),
                target,
                state::Winner::PerFile,
                &mut record,
            )?;
            let report = memory(rewritten.path(), &mut record)?;
            finish_memory(
                ui,
                &mut outcome,
                report,
                &mut record,
                stored,
                &target.project_dir,
            );
            return Ok(keep_local(ui, outcome, relation, &target.project_dir));
        }
        Some(Relation::Diverged) if !args.force => {
            return Err(Exit::conflict(format!(
                "session {id} diverged: this machine and the release of branch `{branch}` each hold records the other lacks. \
                 `ccsync release-restore --session {id} --force` installs the stored copy and keeps yours as a backup beside it \
                 (with `--keep-local-as-new`, also as a session of its own); \
                 `ccsync release-push --session {id} --force` replaces the stored copy with yours"
            ))
            .into());
        }
        _ => {}
    }

    let map = path_map(stored, target);
    let rewritten = rewrite_extracted(&extracted, &map)?;
    // The session's state installs at this machine's own places (restore::state), the rest into
    // the project folder.
    let (state_files, files): (Vec<PathBuf>, Vec<PathBuf>) = extracted
        .files
        .iter()
        .cloned()
        .partition(|rel| store::state::is_state(rel));
    if relation == Some(Relation::Diverged) {
        if args.keep_local_as_new {
            let new = store::fork::copy_as_new(&target.project_dir, &id)
                .context("cannot keep the diverged local copy as a new session")?;
            outcome.kept_as_session = Some(new);
        }
        let saved = backup_replaced(rewritten.path(), &files, &target.project_dir, &session_rel)?;
        outcome.backup = saved.session;
        outcome.side_backup = saved.side_folder;
    }
    let side_saved = outcome.side_backup.is_some();
    let winner = state::Winner::Stored {
        prune_tasks: stored.meta.claude_dir.is_some(),
    };
    install_state(
        ui,
        &mut outcome,
        (rewritten.path(), &state_files),
        target,
        winner,
        &mut record,
    )?;
    let report = memory(rewritten.path(), &mut record)?;
    install(&rewritten, &files, &target.project_dir, &session_rel)?;
    outcome.action = "installed";
    note_branch(ui, &target.project_dir, &id, branch);
    finish_memory(
        ui,
        &mut outcome,
        report,
        &mut record,
        stored,
        &target.project_dir,
    );
    ui.info(&format!(
        "restored session {id} ({}, last activity {}) into {}",
        super::count(stored.meta.records, "record"),
        neutral::text(stored.meta.last_timestamp.as_deref().unwrap_or("unknown")),
        session_file.display()
    ));
    if let Some(backup) = &outcome.backup {
        ui.warn(&format!(
            "your diverged local copy was saved as {}",
            backup.display()
        ));
    }
    if let Some(new) = &outcome.kept_as_session {
        ui.warn(&format!(
            "your diverged local copy is kept as session {new}: claude --resume {new}"
        ));
    }
    if let Some(folder) = outcome.side_backup.as_ref().filter(|_| side_saved) {
        ui.warn(&format!(
            "the local side files of session {id} that differed from the stored ones (subagent transcripts, tool results) were saved in {}",
            folder.display()
        ));
    }
    ui.info(&format!(
        "continue it with: claude --resume {id}   (from {})",
        target.claude_cwd.display()
    ));
    Ok(outcome)
}

/// Installs the session's state staged in `staged` (`files`: its `.ccsync-state/` entries) at this
/// machine's places (restore::state), and says what it installed and saved.
fn install_state(
    ui: &crate::ui::Ui,
    outcome: &mut RestoreOutcome,
    (staged, files): (&Path, &[PathBuf]),
    target: &Target,
    winner: state::Winner,
    record: &mut crate::memory::SyncRecord,
) -> anyhow::Result<()> {
    let id = outcome.session_id.clone().unwrap_or_default();
    let backup_folder = outcome.side_backup.clone().unwrap_or_else(|| {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        target
            .project_dir
            .join(format!("{id}.ccsync-backup-{stamp}"))
    });
    let places = state::StatePlaces {
        roots: store::state::Roots::here(&target.claude_dir),
        project_dir: &target.project_dir,
        session_id: &id,
    };
    let done = state::install(staged, files, &places, &backup_folder, winner, record)?;
    if done.files > 0 {
        ui.detail(&format!(
            "installed {} of session {id} (tasks, file history, plans, background outputs) at this machine's places",
            super::count(done.files as u64, "state file")
        ));
    }
    if done.saved > 0 {
        ui.warn(&format!(
            "{} of session {id} (tasks, file history, plans, background outputs) differed from the stored \
             copy that replaced them; they were saved in {}",
            super::count(done.saved as u64, "local state file"),
            backup_folder.display()
        ));
        outcome.side_backup = Some(backup_folder);
    }
    Ok(())
}

/// Where a push's session lives, for [`memory_from_stored`].
pub(crate) struct Places<'a> {
    pub(crate) claude_dir: &'a Path,
    pub(crate) project_dir: &'a Path,
    pub(crate) claude_cwd: &'a Path,
    pub(crate) local_root: &'a Path,
}

/// Before a push: the project memory of `stored` (a copy another machine pushed since this one
/// last synced) installed here by the restore rules, so the push carries the other side's memory
/// edits and deletions instead of putting this machine's older files back over them. Says what
/// it did, and records the copy as synced.
pub(crate) fn memory_from_stored(
    ui: &crate::ui::Ui,
    rt: &tokio::runtime::Runtime,
    gh: &GitHub,
    stored: &StoredSession,
    places: &Places<'_>,
    passphrase: Option<&str>,
    branch: &str,
) -> anyhow::Result<MemoryReport> {
    let target = Target {
        claude_cwd: places.claude_cwd.to_path_buf(),
        local_root: places.local_root.to_path_buf(),
        project_dir: places.project_dir.to_path_buf(),
        passphrase: passphrase.map(str::to_owned),
        claude_dir: places.claude_dir.to_path_buf(),
        continued: Some(branch.to_owned()),
    };
    let projects = target.project_dir.parent().unwrap_or(&target.project_dir);
    std::fs::create_dir_all(projects)
        .with_context(|| format!("cannot create {}", projects.display()))?;
    let staging = RunDir::in_folder(projects)?;
    let scratch = RunDir::in_temp()?;
    let extracted =
        stored::fetch_archive(rt, gh, stored, scratch.path(), staging.path(), passphrase)?;
    let rewritten = rewrite_memory(&extracted, &path_map(stored, &target))?;
    let mut record = crate::memory::SyncRecord::load(&target.claude_dir);
    let report = Incoming {
        staged: rewritten.path(),
        files: &extracted.files,
        deleted: &stored.meta.deleted_side_files,
        project_dir: &target.project_dir,
        lineage: Lineage::Same,
        from_branch: branch,
    }
    .apply(&mut record)?;
    record.set_copy(&stored.meta.session_id, stored.meta.copy_sha256());
    record.save()?;
    say_memory(ui, &report, &target.project_dir);
    Ok(report)
}

/// An agent file of the archive whose name a local agent file of another session already has
/// would overwrite that session's file: refused, with nothing written.
fn refuse_foreign_agent_files(
    extracted: &Extracted,
    project_dir: &Path,
    id: &str,
) -> anyhow::Result<()> {
    for rel in &extracted.files {
        let is_agent = rel.parent() == Some(Path::new(""))
            && rel
                .to_str()
                .is_some_and(crate::bundle::entries::is_agent_file_name);
        let local = project_dir.join(rel);
        if !is_agent || !local.is_file() {
            continue;
        }
        let owner = crate::bundle::entries::agent_file_owner(&local)?;
        if owner.as_deref().is_some_and(|owner| owner != id) {
            anyhow::bail!(
                "the archive of session {id} holds {}, but the local file of that name belongs to session {}: \
                 restoring would overwrite it; nothing was installed",
                neutral::text(&rel.to_string_lossy()),
                neutral::text(owner.as_deref().unwrap_or_default())
            );
        }
    }
    Ok(())
}

/// Warns when the `claude` that will resume the session is older than the newest Claude Code that
/// wrote it: an older CLI can resume a newer transcript with part of its history silently missing.
fn warn_if_claude_is_older(ui: &crate::ui::Ui, stored: &StoredSession) {
    let Some(written) = stored.meta.claude_version.as_deref() else {
        return;
    };
    let Some(wrote) = crate::claude_cli::parse_version(written) else {
        return;
    };
    let Ok(program) = crate::claude_cli::program() else {
        ui.detail(
            "no `claude` on PATH (or CCSYNC_CLAUDE): the Claude Code version check was skipped",
        );
        return;
    };
    let Some(here) = crate::claude_cli::version_of(&program) else {
        ui.detail(&format!(
            "`{} --version` printed no version: the Claude Code version check was skipped",
            program.display()
        ));
        return;
    };
    if here >= wrote {
        return;
    }
    if here >= crate::claude_cli::NEWEST_PUBLISHED {
        // Nothing newer to install: the session came from a build this ccsync does not know yet.
        ui.detail(&format!(
            "session {} was written by Claude Code {wrote}, newer than {here} here, which is the newest \
             published version ccsync knows: no update to suggest",
            stored.meta.session_id
        ));
        return;
    }
    let progress = if stored.meta.has_progress_records {
        " This session holds `progress` records: Claude Code 2.0.77 resuming such a 2.1.x file sent \
         1 message of its history instead of 157, without an error."
    } else {
        ""
    };
    ui.warn(&format!(
        "session {} was written by Claude Code {wrote}, but the `claude` that will resume it ({}) is {here}: \
         an older Claude Code can resume a newer session with part of its history silently missing.{progress} \
         Update Claude Code to {wrote} or newer before resuming it: {}",
        stored.meta.session_id,
        program.display(),
        crate::claude_cli::how_to_get(&wrote)
    ));
}

fn keep_local(
    ui: &crate::ui::Ui,
    mut outcome: RestoreOutcome,
    relation: Relation,
    project_dir: &Path,
) -> RestoreOutcome {
    let id = outcome.session_id.clone().unwrap_or_default();
    note_branch(ui, project_dir, &id, &outcome.branch);
    outcome.action = "kept-local";
    outcome.relation = Some(sync::relation_label(Some(relation)));
    let why = if relation == Relation::Equal {
        "is the same as"
    } else {
        "is ahead of"
    };
    ui.info(&format!(
        "kept the local copy of session {id}: it {why} the stored one"
    ));
    outcome
}

/// Notes that the branch's release holds session `id`, which makes it the branch's session for
/// `discover` and `resume` even when its records name only a detached `HEAD` (store::belongs).
fn note_branch(ui: &crate::ui::Ui, project_dir: &Path, id: &str, branch: &str) {
    if let Err(e) = store::belongs::note_restored(project_dir, id, branch) {
        ui.detail(&format!(
            "could not note that session {id} is branch `{branch}`'s ({e}): `ccsync discover` may not name it"
        ));
    }
}

/// Origin paths to local ones: the repository root, the session's folder when it lay outside
/// the root, and the origin's Claude project folder (for `<persisted-output>` paths).
fn path_map(stored: &StoredSession, target: &Target) -> PathMap {
    let meta = &stored.meta;
    let local_root = target.local_root.to_string_lossy().into_owned();
    let mut pairs = vec![(meta.repo_root.clone(), local_root)];
    if !store::path_within(&meta.cwd, &meta.repo_root) {
        pairs.push((
            meta.cwd.clone(),
            target.claude_cwd.to_string_lossy().into_owned(),
        ));
    }
    if let Some(origin_project) = &meta.claude_project_dir {
        pairs.push((
            origin_project.clone(),
            target.project_dir.to_string_lossy().into_owned(),
        ));
    }
    // The session's state outside the project folder: plans and file history under the Claude
    // config folder, background outputs under `<temp root>/<project folder>/` (store::state).
    let here = store::state::Roots::here(&target.claude_dir);
    if let Some(origin_dir) = &meta.claude_dir {
        pairs.push((origin_dir.clone(), store::path_text(&here.claude_dir)));
    }
    if let Some(origin_temp) = &meta.claude_temp_dir {
        let origin_folder = meta
            .claude_project_dir
            .as_deref()
            .and_then(|p| p.rsplit(['/', '\\']).find(|part| !part.is_empty()));
        let local_folder = target.project_dir.file_name().map(|f| f.to_string_lossy());
        if let (Some(origin_folder), Some(local_folder)) = (origin_folder, local_folder) {
            let sep = if origin_temp.contains('\\') && !origin_temp.contains('/') {
                '\\'
            } else {
                '/'
            };
            pairs.push((
                format!(
                    "{}{sep}{origin_folder}",
                    origin_temp.trim_end_matches(['/', '\\'])
                ),
                store::path_text(&here.temp_root.join(local_folder.as_ref())),
            ));
        }
        pairs.push((origin_temp.clone(), store::path_text(&here.temp_root)));
    }
    PathMap::new(pairs)
}

/// Rewrites every extracted file into a second temporary folder beside the first (same file
/// system as the target, so the install is a rename). A file the map leaves byte-identical is
/// moved there instead of copied; the others are rewritten on every core (`bundle::parlines`),
/// with the same result as `bundle::rewrite::rewrite_file`.
fn rewrite_extracted(extracted: &Extracted, map: &PathMap) -> anyhow::Result<tempfile::TempDir> {
    rewrite_some(extracted, map, &|_| true)
}

/// [`rewrite_extracted`] for the project memory only (the transcript stays as it is here).
fn rewrite_memory(extracted: &Extracted, map: &PathMap) -> anyhow::Result<tempfile::TempDir> {
    rewrite_some(extracted, map, &|rel| {
        crate::memory::is_memory(rel) || store::state::is_state(rel)
    })
}

fn rewrite_some(
    extracted: &Extracted,
    map: &PathMap,
    only: &dyn Fn(&Path) -> bool,
) -> anyhow::Result<tempfile::TempDir> {
    let parent = extracted
        .dir
        .path()
        .parent()
        .unwrap_or(extracted.dir.path());
    let out = tempfile::Builder::new()
        .prefix(".ccsync-restore-")
        .tempdir_in(parent)
        .context("cannot create a temporary folder for the restore")?;
    for rel in extracted.files.iter().filter(|rel| only(rel)) {
        let dst = out.path().join(rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let src = extracted.path(rel);
        // Session transcripts always end in `\n` (an older CLI would glue its next record to
        // a torn last line); any other file stays byte-identical unless a path in it is mapped.
        let transcript = rel.extension().is_some_and(|e| e == "jsonl");
        if !changes(&src, map, transcript)? {
            std::fs::rename(&src, &dst)
                .with_context(|| format!("cannot move {} into place", src.display()))?;
            continue;
        }
        rewrite_parallel(&src, &dst, map, pargz::default_threads())?;
        if !transcript && !ends_with_newline(&src)? {
            let file = File::options().write(true).open(&dst)?;
            let len = file.metadata()?.len();
            file.set_len(len.saturating_sub(1))
                .with_context(|| format!("cannot write {}", dst.display()))?;
        }
    }
    Ok(out)
}

/// Whether a file's last byte is `\n` (an empty file counts as ended).
fn ends_with_newline(path: &Path) -> anyhow::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Whether rewriting `src` would change a byte: a line the map rewrites, or (when `terminate`,
/// for transcripts) a last line without its `\n`. Stops at the first change.
fn changes(src: &Path, map: &PathMap, terminate: bool) -> anyhow::Result<bool> {
    let file = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(false);
        }
        let body = match line.strip_suffix(b"\n") {
            Some(body) => body,
            None if terminate => return Ok(true),
            None => &line[..],
        };
        if let Ok(text) = std::str::from_utf8(body) {
            if matches!(map.rewrite_record(text)?, Cow::Owned(_)) {
                return Ok(true);
            }
        }
    }
}

/// `rewrite_file` on `threads` cores: the same bytes, in the same order.
fn rewrite_parallel(src: &Path, dst: &Path, map: &PathMap, threads: usize) -> anyhow::Result<()> {
    let input = BufReader::with_capacity(
        1 << 16,
        File::open(src).with_context(|| format!("cannot read {}", src.display()))?,
    );
    let mut writer = BufWriter::with_capacity(
        1 << 20,
        File::create(dst).with_context(|| format!("cannot write {}", dst.display()))?,
    );
    // Content hashes that followed their rewritten records (old to new), for the references.
    let rehashed = std::sync::Mutex::new(std::collections::BTreeMap::new());
    parlines::map_lines(input, &mut writer, threads, &|body, out| {
        match std::str::from_utf8(body) {
            Ok(text) => match map.rewrite_record(text)? {
                Cow::Borrowed(_) => out.extend_from_slice(body),
                Cow::Owned(new) => match content_hash::rehash(text, &new) {
                    Some(done) => {
                        out.extend_from_slice(done.line.as_bytes());
                        let mut pairs = rehashed.lock().unwrap_or_else(|e| e.into_inner());
                        pairs.insert(done.old, done.new);
                    }
                    None => out.extend_from_slice(new.as_bytes()),
                },
            },
            Err(_) => out.extend_from_slice(body),
        }
        out.push(b'\n');
        Ok(())
    })
    .with_context(|| format!("cannot rewrite {}", src.display()))?;
    writer
        .flush()
        .with_context(|| format!("cannot write {}", dst.display()))?;
    drop(writer);
    let rehashed = rehashed.into_inner().unwrap_or_else(|e| e.into_inner());
    content_hash::replace_references(dst, &rehashed)
}

/// Where a forced install saved the local files it replaced.
#[derive(Debug, Default)]
struct Saved {
    /// `<uuid>.jsonl.ccsync-backup-<time>`, beside the session file.
    session: Option<PathBuf>,
    /// `<uuid>.ccsync-backup-<time>/`, beside the session file: the side files that differed, at
    /// their paths relative to the project folder. Outside `<uuid>/`, so a later push does not
    /// take the backups for side data of the session.
    side_folder: Option<PathBuf>,
}

/// Before a forced install: saves every local file of the session that the install replaces and
/// that differs from the staged version. Files only the local side has stay where they are
/// (nothing replaces them); project memory is never replaced by the install, so not saved here.
fn backup_replaced(
    staged: &Path,
    files: &[PathBuf],
    project_dir: &Path,
    session_rel: &Path,
) -> anyhow::Result<Saved> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut saved = Saved::default();
    let session_file = project_dir.join(session_rel);
    for rel in files {
        let local = project_dir.join(rel);
        if rel.starts_with("memory") || !local.is_file() || same_bytes(&local, &staged.join(rel))? {
            continue;
        }
        let backup = if rel.as_path() == session_rel {
            let backup = session_file.with_extension(format!("jsonl.ccsync-backup-{stamp}"));
            saved.session = Some(backup.clone());
            backup
        } else {
            let stem = session_rel.with_extension("");
            let folder = project_dir.join(format!("{}.ccsync-backup-{stamp}", stem.display()));
            saved.side_folder = Some(folder.clone());
            folder.join(rel)
        };
        if let Some(parent) = backup.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::copy(&local, &backup)
            .with_context(|| format!("cannot save {} as {}", local.display(), backup.display()))?;
    }
    Ok(saved)
}

/// Whether two files hold the same bytes (streamed, stopping at the first difference).
fn same_bytes(a: &Path, b: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let open = |p: &Path| File::open(p).with_context(|| format!("cannot read {}", p.display()));
    let (fa, fb) = (open(a)?, open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ra, mut rb) = (BufReader::new(fa), BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = ra.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        rb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

/// Renames the rewritten files into the project folder: side files first, the session file
/// last (its appearance marks a complete restore), each rename atomic, each installed file dated
/// now (Claude Code sweeps old transcripts by modification time). Project memory is not among
/// them: [`Incoming`] installed what it decided to.
fn install(
    staged: &tempfile::TempDir,
    files: &[PathBuf],
    project_dir: &Path,
    session_rel: &Path,
) -> anyhow::Result<()> {
    let side = files
        .iter()
        .filter(|rel| rel.as_path() != session_rel && !crate::memory::is_memory(rel));
    for rel in side.chain(std::iter::once(&session_rel.to_path_buf())) {
        store::install_staged(&staged.path().join(rel), &project_dir.join(rel))?;
    }
    Ok(())
}

/// Records the memory sync, says what the restore did with memory, and keeps it for `--json`.
fn finish_memory(
    ui: &crate::ui::Ui,
    outcome: &mut RestoreOutcome,
    report: MemoryReport,
    record: &mut crate::memory::SyncRecord,
    stored: &StoredSession,
    project_dir: &Path,
) {
    // Held back: the next restore (or one with --accept-memory) looks at this copy again.
    if report.held_back.is_empty() || !report.other_lineage {
        record.set_copy(&stored.meta.session_id, stored.meta.copy_sha256());
    }
    if let Err(e) = record.save() {
        ui.warn(&format!(
            "cannot record the project memory's sync state: {e:#}"
        ));
    }
    say_memory(ui, &report, project_dir);
    if !report.is_empty() {
        outcome.memory = Some(report);
    }
}

/// One line naming every memory file installed, changed or deleted; warnings for what was saved
/// aside or held back.
fn say_memory(ui: &crate::ui::Ui, report: &MemoryReport, project_dir: &Path) {
    let names = |list: &[String]| {
        list.iter()
            .map(|f| neutral::text(f).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(line) = report.summary_line(project_dir) {
        if report.other_lineage {
            ui.warn(&line);
        } else {
            ui.notice(&line);
        }
    }
    if !report.kept_local.is_empty() {
        ui.detail(&format!(
            "kept your local project memory {}: only this machine changed it since it was last synced",
            names(&report.kept_local)
        ));
    }
    if let Some(folder) = &report.backup_folder {
        ui.warn(&format!(
            "project memory that changed here was replaced or deleted by the stored session's: yours is saved in {}",
            folder.display()
        ));
    }
    if let (Some(folder), false) = (&report.incoming_folder, report.held_back.is_empty()) {
        if report.other_lineage {
            ui.warn(&format!(
                "project memory {} comes from the release of branch `{}`, not from the branch this checkout continues: \
                 not installed (Claude Code reads memory as instructions). The stored files are saved in {} for review; \
                 restore again with --accept-memory to install them (your files are saved first)",
                names(&report.held_back),
                neutral::text(&report.from_branch),
                folder.display()
            ));
        } else {
            ui.warn(&format!(
                "kept your local project memory {}: the stored session brought another version and this machine \
                 never synced it, so neither side's edits can be told apart; the stored version is saved in {}",
                names(&report.held_back),
                folder.display()
            ));
        }
    }
}

/// Tells the workflow (env, outputs, summary) and the user what happened.
fn report(ctx: &Context, outcome: &RestoreOutcome, required: bool) -> anyhow::Result<()> {
    let ui = ctx.ui;
    // With `--require`, the error that ends the command says it (an `::error::` in Actions).
    if outcome.action == "nothing" && !required {
        if let Some(message) = &outcome.message {
            ui.notice(message);
        }
    }
    if ui.in_actions {
        let restored = if outcome.restored() { "true" } else { "false" };
        let id = outcome
            .session_id
            .as_deref()
            .filter(|_| outcome.restored())
            .unwrap_or("");
        if !id.is_empty() {
            actions::set_env("SESSION_ID", id)?;
        }
        actions::set_env("SESSION_RESTORED", restored)?;
        actions::set_output("session-id", id)?;
        actions::set_output("restored", restored)?;
        let file = outcome
            .session_file
            .as_ref()
            .filter(|_| outcome.restored())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        actions::set_output("session-file", &file)?;
        actions::set_output("release-url", outcome.release_url.as_deref().unwrap_or(""))?;
        actions::append_summary(&summary(outcome))?;
    }
    if ui.json {
        ui.print_json(outcome)?;
    }
    Ok(())
}

/// The step summary. The branch, the release URL and the message carry data: each is rendered
/// Markdown-safe ([`neutral`]).
fn summary(outcome: &RestoreOutcome) -> String {
    let mut md = String::from("### Claude Code session\n\n| | |\n|---|---|\n");
    // A comment on a plain issue has no branch: an empty code span would show as two backticks.
    let branch = match outcome.branch.as_str() {
        "" => "none".to_owned(),
        branch => neutral::markdown_code(branch, true),
    };
    md.push_str(&format!("| Branch | {branch} |\n"));
    md.push_str(&format!(
        "| Restored | {} |\n",
        if outcome.restored() { "yes" } else { "no" }
    ));
    if let Some(id) = &outcome.session_id {
        md.push_str(&format!(
            "| Session | {} |\n",
            neutral::markdown_code(id, true)
        ));
    }
    if let Some(relation) = outcome.relation {
        md.push_str(&format!("| Local copy before | {relation} |\n"));
    }
    if let Some(url) = &outcome.release_url {
        md.push_str(&format!("| Release | {} |\n", neutral::markdown_text(url)));
    }
    // Memory is instructions to Claude: the summary names what came in, as the log does.
    if let Some(memory) = &outcome.memory {
        for (what, list) in [
            ("Memory installed", &memory.installed),
            ("Memory changed", &memory.changed),
            ("Memory deleted", &memory.deleted),
            ("Memory held back", &memory.held_back),
        ] {
            if !list.is_empty() {
                let names: Vec<String> = list
                    .iter()
                    .map(|f| neutral::markdown_code(f, true))
                    .collect();
                md.push_str(&format!("| {what} | {} |\n", names.join(", ")));
            }
        }
    }
    if let Some(message) = &outcome.message {
        md.push_str(&format!("\n{}\n", message_markdown(message)));
    }
    md
}

/// A message for the summary: its `code` spans (branch names, commands) stay code spans, each
/// holding its text verbatim; the rest is escaped text. A message with an unpaired backtick is
/// escaped text throughout.
fn message_markdown(message: &str) -> String {
    let parts: Vec<&str> = message.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return neutral::markdown_text(message);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| match i % 2 {
            1 if !part.is_empty() => neutral::markdown_code(part, false),
            _ => neutral::markdown_text(part),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::rewrite::rewrite_file;

    #[test]
    fn summary_messages_keep_their_code_spans() {
        let md = message_markdown("nothing to restore: branch `feature/new` has no release `x|y`");
        assert!(md.contains("`feature/new`"), "{md}");
        assert!(!md.contains("\\`"), "{md}");
        let odd = message_markdown("a ` lone backtick");
        assert!(odd.contains("\\`"), "{odd}");
    }

    /// Records with and without origin paths, a non-UTF-8 line, CRLF, a glued line and a torn last
    /// line: the parallel rewrite gives what `rewrite_file` gives, and `changes` says so.
    #[test]
    fn parallel_rewrite_matches_rewrite_file() {
        let dir = tempfile::tempdir().unwrap();
        let map = PathMap::new(vec![("/home/dev/app".into(), "/ci/work/app".into())]);
        let mut data = Vec::new();
        for n in 0..40_000u32 {
            let line = match n % 5 {
                0 => {
                    format!("{{\"n\":{n},\"cwd\":\"/home/dev/app\",\"x\":\"/home/dev/app-old\"}}\n")
                }
                1 => format!("{{\"n\":{n},\"text\":\"nothing to see\"}}\r\n"),
                2 => format!("{{\"n\":{n}}}{{\"cwd\":\"/home/dev/app/src\"}}\n"),
                3 => format!("{{\"n\":{n},\"cmd\":\"cd /home/dev/app && ls\"}}\n"),
                _ => format!(
                    "{{\"n\":{n},\"plain\":\"{}\"}}\n",
                    "y".repeat(n as usize % 300)
                ),
            };
            data.extend_from_slice(line.as_bytes());
        }
        data.extend_from_slice(b"\xff\xfe not utf-8 /home/dev/app\n");
        data.extend_from_slice(b"{\"torn\":\"/home/dev/app");
        let src = dir.path().join("s.jsonl");
        std::fs::write(&src, &data).unwrap();
        let mut want = Vec::new();
        rewrite_file(&src, &mut want, &map).unwrap();
        for threads in [1, 2, 4] {
            let dst = dir.path().join(format!("out-{threads}"));
            rewrite_parallel(&src, &dst, &map, threads).unwrap();
            assert!(std::fs::read(&dst).unwrap() == want, "threads {threads}");
        }
        assert!(changes(&src, &map, true).unwrap());

        // Nothing to rewrite and every line ended: no change; a torn last line: a change.
        let other = PathMap::new(vec![("/elsewhere".into(), "/x".into())]);
        let clean = dir.path().join("clean.jsonl");
        std::fs::write(&clean, b"{\"cwd\":\"/home/dev/app\"}\n{\"a\":1}\n").unwrap();
        assert!(!changes(&clean, &other, true).unwrap());
        std::fs::write(&clean, b"{\"cwd\":\"/home/dev/app\"}\n{\"a\":1}").unwrap();
        assert!(changes(&clean, &other, true).unwrap());
        // Not a transcript: a missing final newline is kept, so no change.
        assert!(!changes(&clean, &other, false).unwrap());
        std::fs::write(&clean, b"").unwrap();
        assert!(!changes(&clean, &other, true).unwrap());
    }
}

//! The restore pipeline: downloads a stored session, verifies it, maps its paths to this machine
//! and installs it in the project folder of the directory where `claude` will run.
//!
//! [`restore_session`] runs the steps of its own modules in order: `find` the stored session
//! → `compare` it with the local copy (uuid rule; nothing is downloaded when the metadata shows
//! the local copy equal or ahead) → `fetch` the archive (verified, extracted beside the target)
//! → `install` it (`rewrite`: paths mapped; `state`: the session's state at this machine's
//! places; `memory`: project memory by its own rules).
//!
//! Nothing is written before the archive's size and sha256 match its metadata; the archive is
//! extracted into a temporary folder beside the target and renamed into place, side data first
//! and the session file last; a diverged local copy is only replaced with `--force`, after it was
//! saved beside itself.

mod compare;
mod fetch;
mod find;
mod install;
mod memory;
mod rewrite;
mod state;

use std::path::PathBuf;

use serde::Serialize;

use crate::actions;
use crate::cli::RestoreArgs;
use crate::config::{self, BranchChoice, Context};
use crate::exit::Exit;
use crate::git::GitRepo;
use crate::memory::incoming::Lineage;
use crate::release::GitHub;
use crate::store;
use crate::ui::Ui;

pub use memory::{memory_from_stored, Places};

/// What a restore did, for `--json`, `$GITHUB_OUTPUT` and people.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreOutcome {
    /// `installed`, `kept-local`, or `nothing` (nothing to restore).
    pub action: &'static str,
    pub session_id: Option<String>,
    pub branch: String,
    /// How the local copy stood against the stored one (`absent` if there was none).
    pub relation: Option<&'static str>,
    pub session_file: Option<PathBuf>,
    pub release_url: Option<String>,
    /// The branch whose release held the session, when it is not `branch` (`--session` found
    /// elsewhere); `null` otherwise.
    pub release_branch: Option<String>,
    pub backup: Option<PathBuf>,
    /// The folder holding the saved local side files (subagent transcripts, tool results, 2.0
    /// agent files) that `--force` replaced and that differed; `None` when none did.
    pub side_backup: Option<PathBuf>,
    /// The new id under which `--keep-local-as-new` kept the diverged local copy; `None` otherwise.
    pub kept_as_session: Option<String>,
    pub message: Option<String>,
    /// What the restore did with project memory (every file installed, changed, deleted or held
    /// back); `null` when the stored copy brought none that differed (a field is never missing).
    pub memory: Option<crate::memory::incoming::MemoryReport>,
    /// HTTP requests to GitHub (API, downloads).
    pub api_requests: u64,
    /// What was downloaded: `full` (the archive, or a chain's base and parts) or `delta` (only
    /// the parts after the generation this machine held); `null` when nothing was.
    pub copy: Option<&'static str>,
    /// Bytes of the archives and parts downloaded (`null` when nothing was).
    pub download_size: Option<u64>,
}

impl RestoreOutcome {
    /// A session is ready for `claude --resume`.
    pub fn restored(&self) -> bool {
        self.session_id.is_some() && self.action != "nothing"
    }
}

/// The whole restore without reporting it: what `resume` runs before `claude`.
pub fn restore_session(ctx: &Context, args: &RestoreArgs) -> anyhow::Result<RestoreOutcome> {
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
    let passphrase = crate::passphrase::from_env("restore")?;
    let token = ctx.token()?;
    let gh = GitHub::new(ctx.api_url()?, slug, token)?;
    let rt = crate::release::runtime()?;
    let continued = continued_branch(args, git.as_ref(), &branch);
    let target = Target {
        project_dir: store::project_dir(&claude_dir, &claude_cwd),
        claude_cwd,
        local_root,
        passphrase,
        claude_dir,
        continued,
    };

    let job = RestoreJob {
        ui: ctx.ui,
        args,
        rt: &rt,
        gh: &gh,
        branch: &branch,
    };
    let release_found = std::cell::Cell::new(false);
    let mut outcome = match job.restore(&target, &release_found) {
        // A push replaces the archive and then its metadata: a restore that read the old
        // metadata finds the old archive gone, or gets the new one and sees a mismatch. Reading
        // the release again resolves it; a copy that still does not match is refused. A 404
        // before the release was found (a wrong --repo) is no such race.
        Err(err) if release_found.get() && replaced_while_reading(&err) => {
            ctx.ui.info(&format!(
                "{err:#}; the stored copy may be changing (a push under way): reading the release again"
            ));
            std::thread::sleep(std::time::Duration::from_secs(2));
            job.restore(&target, &release_found)?
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

/// One restore's reader of the release: the options, the client and the branch asked for.
struct RestoreJob<'a> {
    ui: &'a Ui,
    args: &'a RestoreArgs,
    rt: &'a tokio::runtime::Runtime,
    gh: &'a GitHub,
    branch: &'a str,
}

impl RestoreJob<'_> {
    /// find → compare → fetch → install. `release_found` tells the caller whether a release was
    /// read (so a failed download may be a push under way).
    fn restore(
        &self,
        target: &Target,
        release_found: &std::cell::Cell<bool>,
    ) -> anyhow::Result<RestoreOutcome> {
        let mut outcome = RestoreOutcome {
            branch: self.branch.to_owned(),
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
        let (scratch, found) = self.find(release_found)?;
        let (release, stored) = match found {
            Ok(found) => found,
            Err(message) => {
                outcome.message = Some(message);
                return Ok(outcome);
            }
        };
        release_found.set(true);
        // An older ccsync's copy beside a chain: the one that holds the other's records.
        let stored = match crate::stored::beside::choose(
            self.rt,
            self.gh,
            &stored,
            scratch.path(),
            target.passphrase.as_deref(),
        )? {
            crate::stored::beside::Choice::Use(chosen) => *chosen,
            crate::stored::beside::Choice::Diverged => {
                return Err(crate::stored::beside::diverged_error(&stored, self.branch))
            }
        };
        let target = self.check_found(&mut outcome, &release, &stored, target)?;
        let target = &target;
        let Some(compared) = self.compare(&mut outcome, &release, &stored, target)? else {
            return Ok(outcome);
        };
        let from_link = compared.from_link.as_ref();
        let fetched = self.fetch(&stored, target, from_link, scratch.path())?;
        outcome.copy = Some(if from_link.is_some() { "delta" } else { "full" });
        let from = from_link.map(|f| f.link);
        outcome.download_size = Some(crate::stored::chain::download_size(&stored.meta, from));
        self.install(outcome, &stored, target, compared, &fetched)
    }
}

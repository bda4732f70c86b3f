//! One module per command. Each takes its parsed arguments and the [`Context`] and returns an
//! error carrying its exit code ([`crate::exit::Exit`]) when it does not succeed.

mod completions;
mod discover;
mod doctor;
mod export;
mod hook;
mod list;
mod prune;
mod push;
pub(crate) mod restore;
mod resume;
mod sessions;
mod show;
mod status;

use crate::cli::{Cli, Command};
use crate::config::Context;
use crate::ui::Ui;

/// `resume` waits this long for GitHub before it starts Claude with what the machine has.
const RESUME_TIMEOUT: u64 = 15;

pub fn dispatch(mut cli: Cli, ui: &Ui) -> anyhow::Result<()> {
    if let Some(branch) = cli.command.branch_mut() {
        if let Some(raw) = branch.take() {
            *branch = Some(crate::config::checked_branch(&raw)?);
        }
    }
    let ctx = Context {
        global: &cli.global,
        ui,
    };
    // Restore and resume also take the start of an id only the branch's release holds.
    let session = match &cli.command {
        Command::ReleasePush(a) => a.session.as_deref().map(|raw| (raw, None)),
        Command::ReleaseRestore(a) => a.session.as_deref().map(|raw| (raw, Some(&a.branch))),
        Command::Resume(a) => a.session.as_deref().map(|raw| (raw, Some(&a.branch))),
        _ => None,
    }
    .map(|(raw, release)| local_session_id(&ctx, raw, release.map(Option::as_deref)))
    .transpose()?;
    match &mut cli.command {
        Command::ReleasePush(a) => a.session = session.or(a.session.take()),
        Command::ReleaseRestore(a) => a.session = session.or(a.session.take()),
        Command::Resume(a) => a.session = session.or(a.session.take()),
        _ => {}
    }
    let timeout = cli.global.timeout.or(match &cli.command {
        Command::Resume(_) => Some(RESUME_TIMEOUT),
        _ => None,
    });
    if let Some(secs) = timeout {
        crate::release::set_command_timeout(std::time::Duration::from_secs(secs));
    }
    let debug = std::env::var("CCSYNC_DEBUG").unwrap_or_default();
    crate::release::set_http_debug(
        cli.global.verbose >= 3 || debug.split(',').any(|d| d.trim() == "http"),
    );
    let ctx = Context {
        global: &cli.global,
        ui,
    };
    match &cli.command {
        Command::Sessions(args) => sessions::run(&ctx, args),
        Command::Discover(args) => discover::run(&ctx, args),
        Command::ReleasePush(args) => push::run(&ctx, args),
        Command::ReleaseRestore(args) => restore::run(&ctx, args),
        Command::ReleaseList(args) => list::run(&ctx, args),
        Command::ReleasePrune(args) => prune::run(&ctx, args),
        Command::ReleaseShow(args) => show::run(&ctx, args),
        Command::ReleaseExport(args) => export::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args),
        Command::Resume(args) => resume::run(&ctx, args),
        Command::Doctor(args) => doctor::run(&ctx, args),
        Command::Hook(args) => hook::run(&ctx, args),
        Command::Completions(args) => completions::run(args),
    }
}

/// The repository's sessions, newest first, through the facts cache (saved afterwards, with a
/// `-v` line on how it went).
fn repository_sessions(
    ctx: &Context,
    claude_dir: &std::path::Path,
    repo_root: &std::path::Path,
) -> anyhow::Result<Vec<crate::store::LocalSession>> {
    let mut cache = crate::store::FactCache::from_env(claude_dir);
    let sessions = crate::store::repository_sessions_with(claude_dir, repo_root, &mut cache)?;
    cache.save();
    ctx.ui.detail(&cache.summary());
    Ok(sessions)
}

/// `1 record`, `2 records`: a count with its noun.
pub(crate) fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The runtime for the network calls of one command; file work stays outside it.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the network runtime: {e}"))
}

/// The archive passphrase: `CCSYNC_PASSPHRASE` (the action's `passphrase` input), else the first
/// line of the file `CCSYNC_PASSPHRASE_FILE` names (as age's `--passphrase-file` habits go), if
/// either is set. Encryption never silently stops: a variable that is set but empty (a workflow's
/// `CCSYNC_PASSPHRASE: ${{ secrets.X }}` whose secret is missing), or a file that is empty or
/// cannot be read, is an error, not "no encryption". `doing` names what would have happened
/// without it ("push", "restore").
fn passphrase(doing: &str) -> anyhow::Result<Option<String>> {
    let passphrase = match std::env::var("CCSYNC_PASSPHRASE") {
        Err(std::env::VarError::NotPresent) => return passphrase_file(doing),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(crate::exit::Exit::usage(
                "CCSYNC_PASSPHRASE is not valid UTF-8: set it to the passphrase as text",
            )
            .into())
        }
        Ok(passphrase) if passphrase.is_empty() => {
            return Err(crate::exit::Exit::usage(format!(
                "CCSYNC_PASSPHRASE is set but empty (in a workflow: the secret it is set from is missing or \
                 not available to this run): set it to the passphrase, or unset it to {doing} without encryption"
            ))
            .into())
        }
        Ok(passphrase) => passphrase,
    };
    crate::actions::add_mask(&passphrase);
    Ok(Some(passphrase))
}

/// `CCSYNC_PASSPHRASE_FILE`: the passphrase is the file's first line (without its line end).
fn passphrase_file(doing: &str) -> anyhow::Result<Option<String>> {
    let Some(path) = std::env::var_os("CCSYNC_PASSPHRASE_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = std::path::PathBuf::from(path);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        crate::exit::Exit::usage(format!(
            "CCSYNC_PASSPHRASE_FILE names {}, which cannot be read as text ({e}): point it at the file \
             holding the passphrase, or unset it to {doing} without encryption",
            path.display()
        ))
    })?;
    let passphrase = text.lines().next().unwrap_or("").to_owned();
    if passphrase.is_empty() {
        return Err(crate::exit::Exit::usage(format!(
            "the passphrase file {} (CCSYNC_PASSPHRASE_FILE) is empty: write the passphrase on its first line",
            path.display()
        ))
        .into());
    }
    crate::actions::add_mask(&passphrase);
    Ok(Some(passphrase))
}

/// The passphrase of an encrypted stored copy when none is set: asked on the terminal (echo off),
/// as age asks; `None` without one (scripts, CI), where the caller's error says what to set.
pub(crate) fn prompt_passphrase(ui: &Ui, session: &str) -> anyhow::Result<Option<String>> {
    use std::io::IsTerminal;
    if ui.in_actions || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(None);
    }
    let passphrase = read_line_without_echo(&format!(
        "session {session} is stored encrypted; passphrase (or set CCSYNC_PASSPHRASE): "
    ))?;
    Ok((!passphrase.is_empty()).then_some(passphrase))
}

/// One line from the terminal on stdin with echo off. Echo goes off before the prompt shows and
/// without flushing the input, so a line typed as soon as the prompt appears is neither echoed
/// nor lost (console's `read_secure_line` prints first, then flushes what was typed).
fn read_line_without_echo(prompt: &str) -> std::io::Result<String> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let stdin = std::io::stdin();
    let fd = stdin.as_raw_fd();
    let mut original = std::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the termios it is given; it is read only after success.
    if unsafe { libc::tcgetattr(fd, original.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let original = unsafe { original.assume_init() };
    let mut silent = original;
    silent.c_lflag &= !libc::ECHO;
    silent.c_lflag |= libc::ECHONL;
    // SAFETY: a valid termios for the same descriptor.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &silent) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut stderr = std::io::stderr();
    let read = stderr
        .write_all(prompt.as_bytes())
        .and_then(|()| stderr.flush())
        .and_then(|()| {
            let mut line = String::new();
            stdin.lock().read_line(&mut line).map(|_| line)
        });
    // SAFETY: restores the settings read above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &original) };
    Ok(read?.trim_end_matches(['\r', '\n']).to_owned())
}

/// The session drafts, of any branch, that hold assets of stored session `id`, with the client
/// and runtime that read them: where `release-show`, `release-export` and `release-prune
/// --session` start.
pub(crate) struct Holders {
    pub slug: crate::git::RepoSlug,
    pub gh: crate::release::GitHub,
    pub rt: tokio::runtime::Runtime,
    /// The session id (a prefix or upper-case id resolved).
    pub id: String,
    /// Each draft holding assets of the session on its own (duplicate drafts separately).
    pub drafts: Vec<crate::release::SessionRelease>,
    /// Whether every session draft of the repository was searched (else only the candidate
    /// branches': `--branch`, the local session's, the current one).
    pub searched_all: bool,
}

/// Finds the [`Holders`] of session `id`. With `--branch`, only that branch's drafts (by tag: a
/// few requests whatever the repository holds). Otherwise every session draft when the repository
/// holds at most 100 releases (one page of the listing); in a larger one, the drafts of the branches
/// the session is likely in (the branch its local copy records, the current branch) by tag, and the
/// whole listing only when those do not hold it. An `id` that is no session id is a usage error
/// before any request.
pub(crate) fn releases_holding(
    ctx: &Context,
    id: &str,
    branch: Option<&str>,
) -> anyhow::Result<Holders> {
    let git = ctx.git_repo().ok();
    let local = git.as_ref().and_then(|g| {
        let claude_dir = ctx.claude_dir().ok()?;
        crate::store::repository_sessions(&claude_dir, g.root()).ok()
    });
    let local = local.unwrap_or_default();
    // A whole id, or a prefix of a local one, is known before any request; text that is no id
    // is refused before any.
    let local_ids: Vec<&str> = local.iter().map(|s| s.id.as_str()).collect();
    let known = match crate::ids::resolve(id, &local_ids, &[]) {
        Ok(id) => Some(id),
        Err(e) if crate::exit::code_for(&e) == crate::exit::Code::Usage => return Err(e),
        Err(_) => None,
    };
    let slug = ctx.github_repo(git.as_ref())?;
    let gh = crate::release::GitHub::new(ctx.api_url()?, slug.clone(), ctx.token()?)?;
    let rt = runtime()?;
    let search = Search {
        gh: &gh,
        rt: &rt,
        local: &local,
        current: git.as_ref().and_then(|g| g.current_branch()),
    };
    let (id, drafts, searched_all) = match (branch, known) {
        (Some(branch), _) => search.in_branch(id, branch)?,
        (None, Some(id)) => search.everywhere(id)?,
        // A prefix of no local session: the stored ones decide, all of them.
        (None, None) => search.listed(id)?,
    };
    Ok(Holders {
        slug,
        gh,
        rt,
        id,
        drafts,
        searched_all,
    })
}

/// Where [`releases_holding`] looks.
struct Search<'a> {
    gh: &'a crate::release::GitHub,
    rt: &'a tokio::runtime::Runtime,
    local: &'a [crate::store::LocalSession],
    current: Option<String>,
}

type Found = (String, Vec<crate::release::SessionRelease>, bool);

impl Search<'_> {
    fn holding(
        id: &str,
        drafts: Vec<crate::release::SessionRelease>,
    ) -> Vec<crate::release::SessionRelease> {
        drafts
            .into_iter()
            .filter(|r| !r.session_assets(id).is_empty())
            .collect()
    }

    fn local_ids(&self) -> Vec<&str> {
        self.local.iter().map(|s| s.id.as_str()).collect()
    }

    fn in_branch(&self, id: &str, branch: &str) -> anyhow::Result<Found> {
        let drafts = self.rt.block_on(self.gh.session_drafts_of(branch))?;
        let id = crate::ids::resolve(id, &self.local_ids(), &drafts)?;
        Ok((id.clone(), Self::holding(&id, drafts), true))
    }

    fn listed(&self, id: &str) -> anyhow::Result<Found> {
        let all = self.rt.block_on(self.gh.session_drafts_listed())?;
        let id = crate::ids::resolve(id, &self.local_ids(), &all)?;
        Ok((id.clone(), Self::holding(&id, all), true))
    }

    /// Every branch's drafts in a small repository; in a large one the likely branches' by tag
    /// first (their copies only, when they hold one), else every draft.
    fn everywhere(&self, id: String) -> anyhow::Result<Found> {
        let mut candidates: Vec<String> = self
            .local
            .iter()
            .filter(|s| s.id == id)
            .filter_map(|s| s.branch.clone())
            .chain(self.current.clone())
            .filter(|b| b != "HEAD" && crate::config::checked_branch(b).is_ok())
            .collect();
        candidates.dedup();
        let mut found = Vec::new();
        for (n, candidate) in candidates.iter().enumerate() {
            match self.rt.block_on(self.gh.session_drafts_counted(candidate)) {
                // A small repository is searched whole: one page of the listing.
                Ok((_, total)) if n == 0 && total.is_none_or(|t| t <= 100) => break,
                Ok((drafts, _)) => found.extend(Self::holding(&id, drafts)),
                // A published release with that tag is not ccsync's: nothing of it is read.
                Err(crate::release::Error::Published { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !found.is_empty() {
            return Ok((id, found, false));
        }
        let all = match self.rt.block_on(self.gh.session_drafts_if_few())? {
            Some(all) => all,
            None => self.rt.block_on(self.gh.session_drafts_listed())?,
        };
        Ok((id.clone(), Self::holding(&id, all), true))
    }
}

/// A `--session` of a command that works on a local session: a whole id in any case is taken in
/// lower case (as Claude Code names its files), a unique start of one is the session it starts;
/// anything else is left for the command to refuse. With `release` (restore and resume: their
/// `--branch`), the starts of the ids the branch's release holds count too, so a session stored
/// there and not yet here can be named by its start; when the release cannot be read, the local
/// ids decide.
fn local_session_id(
    ctx: &Context,
    raw: &str,
    release: Option<Option<&str>>,
) -> anyhow::Result<String> {
    if let Some(id) = crate::ids::whole(raw) {
        return Ok(id);
    }
    if !crate::ids::is_prefix(raw) {
        return Ok(raw.to_owned());
    }
    let git = ctx.git_repo()?;
    let sessions = crate::store::repository_sessions(&ctx.claude_dir()?, git.root())?;
    let stored = match release {
        Some(branch) => stored_ids(ctx, &git, branch).unwrap_or_else(|e| {
            ctx.ui.detail(&format!(
                "could not read the branch's release for ids starting with `{}`: {e:#}",
                crate::neutral::text(raw)
            ));
            Vec::new()
        }),
        None => Vec::new(),
    };
    let ids: Vec<&str> = sessions
        .iter()
        .map(|s| s.id.as_str())
        .chain(stored.iter().map(String::as_str))
        .collect();
    crate::ids::resolve_among(raw, &ids)
}

/// The ids of the sessions the release of `branch` (default: the current one) holds.
fn stored_ids(
    ctx: &Context,
    git: &crate::git::GitRepo,
    branch: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let crate::config::BranchChoice::Branch(branch) = ctx.branch(branch, Some(git))? else {
        return Ok(Vec::new());
    };
    let gh =
        crate::release::GitHub::new(ctx.api_url()?, ctx.github_repo(Some(git))?, ctx.token()?)?;
    let drafts = runtime()?.block_on(gh.session_drafts_of(&branch))?;
    Ok(drafts
        .iter()
        .flat_map(|r| r.assets.iter())
        .filter_map(|a| crate::release::names::classify(&a.name).map(|(id, _)| id.to_owned()))
        .collect())
}

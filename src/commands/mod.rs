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
mod restore;
mod resume;
mod sessions;
mod show;

use crate::cli::{Cli, Command};
use crate::config::Context;
use crate::ui::Ui;

/// `resume` waits this long for GitHub before it starts Claude with what the machine has.
const RESUME_TIMEOUT: u64 = 15;

pub fn dispatch(cli: Cli, ui: &Ui) -> anyhow::Result<()> {
    let timeout = cli.global.timeout.or(match &cli.command {
        Command::Resume(_) => Some(RESUME_TIMEOUT),
        _ => None,
    });
    if let Some(secs) = timeout {
        crate::release::set_command_timeout(std::time::Duration::from_secs(secs));
    }
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

/// The archive passphrase (`CCSYNC_PASSPHRASE`; the action's `passphrase` input), if set.
/// Encryption never silently stops: a variable that is set but empty (a workflow's
/// `CCSYNC_PASSPHRASE: ${{ secrets.X }}` whose secret is missing) is an error, not "no
/// encryption". `doing` names what would have happened without it ("push", "restore").
fn passphrase(doing: &str) -> anyhow::Result<Option<String>> {
    match std::env::var("CCSYNC_PASSPHRASE") {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(crate::exit::Exit::usage(
            "CCSYNC_PASSPHRASE is not valid UTF-8: set it to the passphrase as text",
        )
        .into()),
        Ok(passphrase) if passphrase.is_empty() => Err(crate::exit::Exit::usage(format!(
            "CCSYNC_PASSPHRASE is set but empty (in a workflow: the secret it is set from is missing or \
             not available to this run): set it to the passphrase, or unset it to {doing} without encryption"
        ))
        .into()),
        Ok(passphrase) => {
            crate::actions::add_mask(&passphrase);
            Ok(Some(passphrase))
        }
    }
}

/// The session releases, of any branch, that hold assets of stored session `id`, with the
/// client and runtime that read them: where `release-show`, `release-export` and
/// `release-prune --session` start (one listing of the drafts).
pub(crate) struct Holders {
    pub slug: crate::git::RepoSlug,
    pub gh: crate::release::GitHub,
    pub rt: tokio::runtime::Runtime,
    pub releases: Vec<crate::release::SessionRelease>,
}

/// Finds the [`Holders`] of session `id`; an `id` that is no session id is a usage error before
/// any request.
pub(crate) fn releases_holding(ctx: &Context, id: &str) -> anyhow::Result<Holders> {
    check_stored_session_id(id)?;
    let git = ctx.git_repo().ok();
    let slug = ctx.github_repo(git.as_ref())?;
    let gh = crate::release::GitHub::new(ctx.api_url()?, slug.clone(), ctx.token()?)?;
    let rt = runtime()?;
    let releases = rt
        .block_on(gh.session_drafts_merged())?
        .into_iter()
        .filter(|r| !r.session_assets(id).is_empty())
        .collect();
    Ok(Holders {
        slug,
        gh,
        rt,
        releases,
    })
}

/// A `--session` that names a stored session must be a session id (a uuid): a usage error
/// otherwise, before any request.
pub(crate) fn check_stored_session_id(id: &str) -> anyhow::Result<()> {
    if crate::store::scan::is_session_id(id) {
        return Ok(());
    }
    Err(crate::exit::Exit::usage(format!(
        "`{id}` is not a session id: session ids are uuids (see `ccsync release-list`)"
    ))
    .into())
}

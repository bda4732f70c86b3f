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
    let drafts = crate::release::runtime()?.block_on(gh.session_drafts_of(&branch))?;
    Ok(drafts
        .iter()
        .flat_map(|r| r.assets.iter())
        .filter_map(|a| crate::release::names::classify(&a.name).map(|(id, _)| id.to_owned()))
        .collect())
}

//! The command line: global options with their environment fallbacks, and one subcommand per
//! command of DESIGN.md.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ccsync",
    version,
    about = "Carry Claude Code sessions between your machine and GitHub Actions",
    long_about = "Carry Claude Code sessions between your machine and GitHub Actions.\n\n\
        `ccsync release-push` stores the newest session of your branch in the draft GitHub Release \
        `claude-sessions-<branch>`; `ccsync release-restore` installs it where `claude --resume` finds it, \
        on a laptop or in a workflow.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// GitHub repository OWNER/NAME, or its URL (https://github.com/o/r, git@github.com:o/r.git)
    /// [default: the `origin` remote of the current git repository]
    #[arg(
        long,
        global = true,
        env = "GITHUB_REPOSITORY",
        hide_env_values = true,
        value_name = "OWNER/NAME"
    )]
    pub repo: Option<String>,

    /// GitHub token [default: $GITHUB_TOKEN, then $GH_TOKEN, then `gh auth token`]
    #[arg(long, global = true, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// GitHub API URL (GitHub Enterprise Server: https://HOST/api/v3)
    #[arg(
        long,
        global = true,
        env = "GITHUB_API_URL",
        hide_env_values = true,
        default_value = "https://api.github.com",
        value_name = "URL"
    )]
    pub api_url: String,

    /// Claude Code configuration folder [default: ~/.claude]
    #[arg(
        long,
        global = true,
        env = "CLAUDE_CONFIG_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub claude_dir: Option<PathBuf>,

    /// Stop retrying GitHub after waiting SECONDS in all (time spent moving bytes does not count);
    /// one request waits at most 10 s for an answer, and a transfer that moves less than 1 KiB/s
    /// for 10 s has stalled. Also the longest `release-push` spends on its secret scan [default:
    /// 120, the scan 600; `resume`: 15; the pre-push hook: 10]
    #[arg(
        long,
        global = true,
        env = "CCSYNC_TIMEOUT",
        hide_env_values = true,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=86400)
    )]
    pub timeout: Option<u64>,

    /// Machine-readable JSON output on stdout
    #[arg(long, global = true)]
    pub json: bool,

    /// Print only errors and warnings
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more detail (repeat for more; -vvv prints each HTTP request, as CCSYNC_DEBUG=http does)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the local Claude Code sessions of this repository, newest first
    Sessions(SessionsArgs),
    /// Print the id of the newest local session of the branch (exit 3 if none)
    Discover(DiscoverArgs),
    /// Pack a session and store it in the branch's draft release
    ReleasePush(PushArgs),
    /// Download, verify and install a session where `claude --resume` finds it
    ReleaseRestore(RestoreArgs),
    /// List the sessions stored in releases
    ReleaseList(ListArgs),
    /// Delete session releases of deleted branches or old ones
    ReleasePrune(PruneArgs),
    /// Show one stored session's metadata without installing it
    ReleaseShow(ShowArgs),
    /// Download, verify and unpack one stored session into a new folder, without installing it
    ReleaseExport(ExportArgs),
    /// For each local session of the branch: equal, local ahead, remote ahead, diverged or not stored
    Status(StatusArgs),
    /// Restore the branch's session if the release is ahead, run `claude --resume`, push when it exits
    Resume(ResumeArgs),
    /// Check repository, token, draft visibility, Claude folder and sessions
    Doctor(DoctorArgs),
    /// Install or remove a git pre-push hook that pushes the branch's session
    Hook(HookArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
}

impl Command {
    /// The command's `--branch`, if it takes one (checked once for all in
    /// [`crate::commands::dispatch`]).
    pub fn branch_mut(&mut self) -> Option<&mut Option<String>> {
        match self {
            Command::Sessions(a) => Some(&mut a.branch),
            Command::Discover(a) => Some(&mut a.branch),
            Command::ReleasePush(a) => Some(&mut a.branch),
            Command::ReleaseRestore(a) => Some(&mut a.branch),
            Command::ReleaseList(a) => Some(&mut a.branch),
            Command::Resume(a) => Some(&mut a.branch),
            Command::Doctor(a) => Some(&mut a.branch),
            Command::Status(a) => Some(&mut a.branch),
            Command::ReleaseShow(a) => Some(&mut a.branch),
            Command::ReleaseExport(a) => Some(&mut a.branch),
            Command::ReleasePrune(a) => Some(&mut a.branch),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct SessionsArgs {
    /// Only sessions whose last recorded branch is BRANCH [default: all branches]
    #[arg(long, conflicts_with = "all")]
    pub branch: Option<String>,
    /// All sessions of the repository, whatever their branch (the default)
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Branch whose local sessions to compare with its release [default: as for `discover`]
    #[arg(long, conflicts_with = "all")]
    pub branch: Option<String>,
    /// Every local session recorded on a branch, each against its own branch's release
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DiscoverArgs {
    /// Branch [default: in Actions the pull request's head branch, else $GITHUB_REF_NAME; else the checked-out branch]
    #[arg(long)]
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SecretsMode {
    /// Replace each finding in the uploaded copy by [REDACTED:<rule>]
    #[default]
    Redact,
    /// Upload nothing and exit 5 when a secret is found
    Refuse,
    /// Skip the scan
    Allow,
}

#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// Branch whose release receives the session [default: as for `discover`]
    #[arg(long)]
    pub branch: Option<String>,
    /// Session id to push [default: $SESSION_ID in Actions, else the newest session of the branch]
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Push every session of the branch active in the last DAYS days
    #[arg(long, value_name = "DAYS", conflicts_with = "session")]
    pub since: Option<u32>,
    /// Show what would happen and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Upload even when the release holds a copy that is ahead or diverged
    #[arg(long)]
    pub force: bool,
    /// Keep at most N sessions in the branch's release (oldest dropped after the upload)
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
    /// What to do with secrets found in the session
    #[arg(long, value_enum, default_value_t = SecretsMode::Redact)]
    pub secrets: SecretsMode,
    /// Replace a stored encrypted copy with an unencrypted one (without it, a push with no
    /// CCSYNC_PASSPHRASE refuses to do so)
    #[arg(long, alias = "allow-unencrypted")]
    pub allow_plaintext: bool,
    /// Run by the pre-push hook: a branch with no session is not an error (silent; one line with -v)
    #[arg(long, hide = true)]
    pub from_hook: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// Branch whose release holds the session [default: as for `discover`]
    #[arg(long)]
    pub branch: Option<String>,
    /// Session id to restore [default: the newest session of the branch's release]
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Folder where `claude` will run [default: the current folder; $GITHUB_WORKSPACE in Actions]
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Replace a diverged local copy (saved beside it first as a backup)
    #[arg(long)]
    pub force: bool,
    /// With --force: also keep the diverged local copy as a session of its own, under a new id
    /// that `claude --resume` takes
    #[arg(long, requires = "force")]
    pub keep_local_as_new: bool,
    /// Exit 3 when there is nothing to restore
    #[arg(long)]
    pub require: bool,
    /// Install an unencrypted stored copy although CCSYNC_PASSPHRASE is set (without it, such a
    /// copy is refused as a possible downgrade)
    #[arg(long, alias = "allow-plaintext")]
    pub allow_unencrypted: bool,
    /// Install project memory from a release of another branch or a fork than the one this
    /// checkout continues (local files it replaces are saved first); without it such memory is
    /// only saved aside for review
    #[arg(long)]
    pub accept_memory: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only this branch's release [default: every branch]
    #[arg(long)]
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    /// Remove one stored session (its metadata and archive) from every release that holds a copy
    #[arg(long, value_name = "ID", conflicts_with_all = ["gone", "older_than"])]
    pub session: Option<String>,
    /// With --session: only from this branch's release [default: every branch's]
    #[arg(long, requires = "session")]
    pub branch: Option<String>,
    /// Delete session releases of branches that no longer exist on GitHub
    #[arg(long)]
    pub gone: bool,
    /// Delete session releases whose newest session is older than DAYS days
    #[arg(long, value_name = "DAYS")]
    pub older_than: Option<u32>,
    /// Name what would be deleted and delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Delete without asking (on a terminal, prune lists what it will delete and asks first)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// The stored session to show (an id, or a unique start of one; looked up in every branch's release)
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// The branch whose release holds it (when several do) [default: the newest copy]
    #[arg(long)]
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The stored session to export (an id, or a unique start of one; looked up in every branch's release)
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// The branch whose release holds it (when several do) [default: the newest copy]
    #[arg(long)]
    pub branch: Option<String>,
    /// The folder to unpack the session's files into: a new one, or an empty one
    /// [default: ./claude-session-<ID>]
    #[arg(long, value_name = "DIR")]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ResumeArgs {
    /// Branch whose session to resume and push [default: as for `discover`]
    #[arg(long)]
    pub branch: Option<String>,
    /// Session id [default: the newest session of the branch]
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Install project memory from a release of another branch or a fork (see `release-restore`)
    #[arg(long)]
    pub accept_memory: bool,
    /// Resume a --branch other than the checked-out one without asking (Claude records the
    /// checked-out branch, so the continuation is later found under it)
    #[arg(long)]
    pub force: bool,
    /// Arguments passed on to `claude`
    #[arg(last = true, value_name = "CLAUDE_ARGS")]
    pub claude_args: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Branch whose release and sessions to check [default: as for `discover`]
    #[arg(long)]
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub action: HookAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum HookAction {
    /// Install the pre-push hook in the current repository
    Install,
    /// Remove the pre-push hook that `hook install` wrote
    Uninstall,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// Shell to print completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

//! `ccsync discover`: the id of the newest local session of a branch, one line on stdout, for
//! scripts (`claude --resume "$(ccsync discover)"`). Exit 3 when the branch has none.

use serde::Serialize;

use crate::cli::DiscoverArgs;
use crate::config::{BranchChoice, Context};
use crate::exit::Exit;

pub fn run(ctx: &Context, args: &DiscoverArgs) -> anyhow::Result<()> {
    let git = ctx.git_repo()?;
    let branch = match ctx.branch(args.branch.as_deref(), Some(&git))? {
        BranchChoice::Branch(branch) => branch,
        BranchChoice::NoBranch(why) => {
            return Err(Exit::nothing_found(format!("{why}: pass --branch NAME")).into())
        }
    };
    let claude_dir = ctx.claude_dir()?;
    let sessions = ctx.repository_sessions(&claude_dir, git.root())?;
    let Some(session) = crate::store::belongs::newest_of_branch(&sessions, &branch) else {
        let message = if sessions.is_empty() {
            crate::store::labels::explain_empty(&claude_dir, git.root())
        } else {
            let mut others: Vec<&str> = sessions
                .iter()
                .filter_map(|s| s.branch.as_deref())
                .collect();
            others.sort_unstable();
            others.dedup();
            format!(
                "no Claude Code session of branch `{branch}` in this repository, but {} other session{} ({}): `ccsync sessions` lists them, `--branch NAME` picks a branch",
                sessions.len(),
                if sessions.len() == 1 { "" } else { "s" },
                if others.is_empty() {
                    "none records a branch".to_owned()
                } else {
                    format!("branches: {}", others.join(", "))
                },
            )
        };
        return Err(Exit::nothing_found(message).into());
    };
    if ctx.ui.json {
        return ctx.ui.print_json(&DiscoverJson {
            session_id: &session.id,
            branch: &branch,
            last_activity: session
                .last_activity
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            cwd: session.cwd.as_deref(),
            size: session.size,
            folder: crate::store::labels::folder_label(session, git.root(), &claude_dir),
            path: session.path.display().to_string(),
        });
    }
    crate::ui::print_stdout(&format!("{}\n", session.id))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DiscoverJson<'a> {
    session_id: &'a str,
    branch: &'a str,
    last_activity: Option<String>,
    cwd: Option<&'a str>,
    size: u64,
    folder: String,
    path: String,
}

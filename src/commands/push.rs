//! `ccsync release-push`: packs a local session and stores it in the branch's draft release. The
//! work is the push pipeline ([`crate::transfer::push`]); this page reads the branch, runs it,
//! and reports (`--json`, the step's outputs and summary).

use crate::actions;
use crate::cli::PushArgs;
use crate::config::{BranchChoice, Context};
use crate::neutral;
use crate::transfer::push::{push_sessions, PushOutcome};

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

//! `ccsync release-restore`: brings a stored session to this machine. The work is the restore
//! pipeline ([`crate::transfer::restore`]); this page runs it and reports (`--json`, the
//! workflow's environment, outputs and step summary).

use crate::actions;
use crate::cli::RestoreArgs;
use crate::config::Context;
use crate::exit::Exit;
use crate::neutral;
use crate::transfer::restore::{restore_session, RestoreOutcome};

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

    #[test]
    fn summary_messages_keep_their_code_spans() {
        let md = message_markdown("nothing to restore: branch `feature/new` has no release `x|y`");
        assert!(md.contains("`feature/new`"), "{md}");
        assert!(!md.contains("\\`"), "{md}");
        let odd = message_markdown("a ` lone backtick");
        assert!(odd.contains("\\`"), "{odd}");
    }
}

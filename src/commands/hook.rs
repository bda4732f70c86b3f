//! `ccsync hook install | uninstall`: a git `pre-push` hook that pushes the session of every branch
//! being pushed, and never blocks the push.
//!
//! ccsync only ever replaces or removes a hook that carries its marker ([`crate::hook`] holds the
//! script and where git looks for it).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::Serialize;

use crate::cli::{HookAction, HookArgs};
use crate::config::Context;
use crate::hook::{hooks_dir, loop_snippet, script, write_executable, MARKER};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HookJson {
    /// `installed`, `updated`, `unchanged`, `removed`, `absent`.
    action: &'static str,
    path: PathBuf,
}

pub fn run(ctx: &Context, args: &HookArgs) -> anyhow::Result<()> {
    let git = ctx.git_repo()?;
    let hooks = hooks_dir(git.root())?;
    let path = hooks.join("pre-push");
    let action = match args.action {
        HookAction::Install => install(ctx, &path)?,
        HookAction::Uninstall => uninstall(ctx, &path)?,
    };
    if ctx.ui.json {
        ctx.ui.print_json(&HookJson { action, path })?;
    }
    Ok(())
}

fn install(ctx: &Context, path: &Path) -> anyhow::Result<&'static str> {
    let script = script();
    let action = match std::fs::read_to_string(path) {
        Ok(existing) if existing == script => "unchanged",
        Ok(existing) if existing.contains(MARKER) => "updated",
        Ok(_) => bail!(
            "{} already holds a pre-push hook that ccsync did not write, so it was left as it is. \
             To push sessions from it too, add these lines to it (they read the refs git passes on stdin; \
             if your hook reads stdin too, save it first with `refs=$(cat)` and feed both from \"$refs\"):\n\n{}",
            path.display(),
            loop_snippet()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "installed",
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if action != "unchanged" {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_executable(path, &script)?;
    }
    ctx.ui.info(&match action {
        "installed" => format!(
            "installed the pre-push hook {}: `git push` now also pushes the branch's Claude Code session (a failure never blocks the push)",
            path.display()
        ),
        "updated" => format!("updated the pre-push hook {}", path.display()),
        _ => format!("the pre-push hook {} is already installed", path.display()),
    });
    Ok(action)
}

fn uninstall(ctx: &Context, path: &Path) -> anyhow::Result<&'static str> {
    match std::fs::read_to_string(path) {
        Ok(existing) if existing.contains(MARKER) => {
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
            ctx.ui
                .info(&format!("removed the pre-push hook {}", path.display()));
            Ok("removed")
        }
        Ok(_) => bail!(
            "{} is a pre-push hook that ccsync did not write, so it was left as it is \
             (remove the ccsync lines from it by hand if you added them)",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ctx.ui.info(&format!(
                "no pre-push hook at {}: nothing to remove",
                path.display()
            ));
            Ok("absent")
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

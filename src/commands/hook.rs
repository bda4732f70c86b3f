//! `ccsync hook install | uninstall`: a git `pre-push` hook that pushes the session of every branch
//! being pushed, and never blocks the push.
//!
//! The hook is a small POSIX shell script marked with [`MARKER`]; ccsync only ever replaces or
//! removes a hook that carries the marker. The hooks folder is the one git uses: `core.hooksPath`
//! when set, else `<git-dir>/hooks` (asked from `git rev-parse --git-path hooks`, which knows both
//! and worktrees).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};
use serde::Serialize;

use crate::cli::{HookAction, HookArgs};
use crate::config::Context;

/// The line that marks a hook as ccsync's.
pub const MARKER: &str = "# ccsync pre-push hook: managed by `ccsync hook install`";

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

/// The folder git runs hooks from, for the repository at `root`.
pub fn hooks_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let output = Command::new("git")
        .args(["rev-parse", "--git-path", "hooks"])
        .current_dir(root)
        .output()
        .context("cannot run git (is it installed and on PATH?) to find the hooks folder")?;
    if !output.status.success() {
        bail!(
            "git could not name the hooks folder of {}: {}",
            root.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8(output.stdout).context("the hooks folder is not UTF-8")?;
    let dir = PathBuf::from(text.trim_end_matches(['\n', '\r']));
    Ok(if dir.is_absolute() {
        dir
    } else {
        root.join(dir)
    })
}

/// The hook. `ccsync` is looked up on PATH when git runs the hook (so upgrades apply), else the
/// binary that installed it is used.
fn script() -> String {
    let fallback = std::env::current_exe()
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        r#"#!/bin/sh
{MARKER}
# Pushes the Claude Code session of each branch being pushed to its draft release.
# It never blocks `git push`: whatever ccsync does, this hook exits 0.
# Remove it with `ccsync hook uninstall`.
ccsync=$(command -v ccsync 2>/dev/null)
if [ -z "$ccsync" ] && [ -x {fallback} ]; then ccsync={fallback}; fi
if [ -z "$ccsync" ]; then
    echo "ccsync hook: ccsync is not on PATH, so no session was pushed" >&2
    exit 0
fi
{loop}exit 0
"#,
        fallback = shell_quote(&fallback),
        loop = loop_body("\"$ccsync\""),
    )
}

/// What a foreign hook can include to do the same.
fn loop_snippet() -> String {
    loop_body("ccsync")
}

/// Reads `<local ref> <local sha> <remote ref> <remote sha>` lines; pushes branches only, skips
/// deletions (an all-zero local sha) and tags.
fn loop_body(ccsync: &str) -> String {
    format!(
        r#"while read -r local_ref local_sha remote_ref remote_sha; do
    case "$local_ref" in refs/heads/*) ;; *) continue ;; esac
    case "$local_sha" in *[!0]*) ;; *) continue ;; esac
    branch=${{local_ref#refs/heads/}}
    # A short deadline: an unreachable GitHub must not hold up `git push`.
    CCSYNC_TIMEOUT="${{CCSYNC_TIMEOUT:-10}}" {ccsync} release-push --branch "$branch" --from-hook </dev/null
    status=$?
    if [ "$status" -ne 0 ]; then
        echo "ccsync hook: skipped the sync: the Claude Code session of $branch was not pushed (ccsync exit $status); git push goes on" >&2
    fi
done
"#
    )
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn write_executable(path: &Path, text: &str) -> anyhow::Result<()> {
    // Written beside and renamed, so git never runs half a hook.
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut temp, text.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o755))?;
    }
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_marked_and_exits_zero() {
        let s = script();
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains(MARKER));
        assert!(s.trim_end().ends_with("exit 0"));
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}

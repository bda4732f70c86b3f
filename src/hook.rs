//! The git `pre-push` hook ccsync installs: a small POSIX shell script marked with [`MARKER`]
//! that pushes the session of every branch being pushed and never blocks the push; where git runs
//! hooks from (`core.hooksPath` when set, else `<git-dir>/hooks`, asked from `git rev-parse
//! --git-path hooks`, which knows both and worktrees); and writing it whole.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};

/// The line that marks a hook as ccsync's.
pub const MARKER: &str = "# ccsync pre-push hook: managed by `ccsync hook install`";

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
pub fn script() -> String {
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
pub fn loop_snippet() -> String {
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

pub fn write_executable(path: &Path, text: &str) -> anyhow::Result<()> {
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

//! The Claude Code CLI on this machine: which `claude` will run (`$CCSYNC_CLAUDE`, else `claude`
//! on `PATH`), its version, and how Claude Code versions compare. Older CLIs can resume a transcript
//! written by a newer one with its history silently missing (docs/claude-code-store.md, "Resume"),
//! so restore compares the two.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The newest Claude Code published when this ccsync was made (docs/claude-code-store.md): npm's
/// `latest` of `@anthropic-ai/claude-code` lags behind it; the platform packages carry it. A local
/// CLI at least this new is as new as a user can get, so restore does not ask for a newer one.
pub const NEWEST_PUBLISHED: semver::Version = semver::Version::new(2, 1, 337);

/// The npm package that holds the native Claude Code binary for this machine
/// (`@anthropic-ai/claude-code-linux-x64`, `-darwin-arm64`, `-win32-x64`, ...), when there is one.
pub fn platform_package() -> Option<String> {
    let os = match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        "windows" => "win32",
        _ => return None,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        _ => return None,
    };
    Some(format!("@anthropic-ai/claude-code-{os}-{arch}"))
}

/// How to get Claude Code `version` or newer, in words that work today: `claude update`, or the
/// platform package of that version (npm's `latest` of the wrapper may be older).
pub fn how_to_get(version: &semver::Version) -> String {
    match platform_package() {
        Some(package) => format!(
            "`claude update`, or `npm install -g {package}@{version}` and run the `claude` binary inside that \
             package (`$(npm root -g)/{package}/claude`; `@anthropic-ai/claude-code@latest` may install an older version)"
        ),
        None => format!("`claude update`, or `npm install -g @anthropic-ai/claude-code@{version}`"),
    }
}

/// `claude --version` gets this long to answer.
const VERSION_TIMEOUT: Duration = Duration::from_secs(15);

/// `$CCSYNC_CLAUDE`, else `claude` on PATH; an error that says how to get it otherwise.
pub fn program() -> anyhow::Result<PathBuf> {
    if let Some(explicit) = crate::actions::env_nonempty("CCSYNC_CLAUDE") {
        let path = PathBuf::from(&explicit);
        if path.components().count() > 1 {
            if path.is_file() {
                return Ok(path);
            }
            anyhow::bail!(
                "CCSYNC_CLAUDE points at {explicit}, which does not exist: set it to the path of the Claude Code binary, or unset it to use `claude` from PATH"
            );
        }
        return find_on_path(&explicit).ok_or_else(|| {
            anyhow::anyhow!("CCSYNC_CLAUDE names `{explicit}`, which is not on PATH: set it to the full path of the Claude Code binary")
        });
    }
    find_on_path("claude").ok_or_else(|| {
        anyhow::anyhow!(
            "Claude Code (`claude`) is not on PATH: install it (`npm install -g @anthropic-ai/claude-code`), \
             or set CCSYNC_CLAUDE to the path of its binary"
        )
    })
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            let plain = dir.join(name);
            let exe = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
            [plain, exe]
        })
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The version `program --version` prints (`2.1.332 (Claude Code)`), or `None` when it does not
/// run, answer in time, or print a version.
pub fn version_of(program: &Path) -> Option<semver::Version> {
    let mut child = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < VERSION_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let output = child.wait_with_output().ok()?;
    parse_version(&String::from_utf8_lossy(&output.stdout))
}

/// The first `MAJOR.MINOR.PATCH` in a text (`2.1.332 (Claude Code)`, a record's `version`).
pub fn parse_version(text: &str) -> Option<semver::Version> {
    text.split_whitespace().find_map(|word| {
        let word = word.trim_start_matches('v');
        semver::Version::parse(word).ok().or_else(|| {
            // `2.1` or `2.1.3-beta.x` forms: pad what is missing.
            let core: Vec<&str> = word.split(['-', '+']).next()?.split('.').collect();
            let nums: Option<Vec<u64>> = core.iter().map(|n| n.parse().ok()).collect();
            match nums?.as_slice() {
                [major, minor] => Some(semver::Version::new(*major, *minor, 0)),
                [major, minor, patch, ..] => Some(semver::Version::new(*major, *minor, *patch)),
                _ => None,
            }
        })
    })
}

/// Runs Claude with the terminal attached and returns its exit code (128 + signal when a signal
/// ended it, as shells report it).
/// With `--json`, stdout carries only ccsync's document: Claude's stdout goes to stderr.
pub fn run_attached(
    program: &Path,
    args: &[std::ffi::OsString],
    folder: &Path,
    json: bool,
) -> anyhow::Result<i32> {
    // From Claude's start on, Ctrl-C belongs to Claude and ccsync stays alive to push: the
    // process's handler ([`crate::scratch::handle_interrupts`]) then does nothing rather than the
    // signal being ignored (an ignored signal stays ignored in the child, and Claude must get
    // Ctrl-C). The handler runs on its own thread, possibly after Claude has exited, so it must
    // not decide anything by whether Claude still runs. Before Claude starts (the restore),
    // Ctrl-C ends ccsync as usual, after removing its temporary folders.
    crate::scratch::child_owns_interrupts();
    let mut command = Command::new(program);
    command.args(args).current_dir(folder);
    if json {
        command.stdout(std::process::Stdio::from(std::io::stderr()));
    }
    let status = command.status();
    let status = status.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "cannot run {}: not found; install Claude Code or set CCSYNC_CLAUDE to its path",
                program.display()
            )
        } else {
            anyhow::anyhow!("cannot run {}: {e}", program.display())
        }
    })?;
    if let Some(code) = status.code() {
        return Ok(code);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Ok(128 + signal);
        }
    }
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        assert_eq!(
            parse_version("2.1.332 (Claude Code)"),
            Some(semver::Version::new(2, 1, 332))
        );
        assert!(parse_version("2.1.332") > parse_version("2.1.40"));
        assert!(parse_version("2.0.77") < parse_version("2.1.9"));
        assert_eq!(parse_version("no version here"), None);
    }
}

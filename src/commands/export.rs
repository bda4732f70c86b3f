//! `ccsync release-export --session ID --output DIR`: one stored session's files, downloaded,
//! checked against their metadata (size, sha256), decrypted with `CCSYNC_PASSPHRASE` when
//! encrypted, and unpacked into a new folder, as stored (paths not rewritten). Nothing is installed
//! where Claude Code looks.

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::ExportArgs;
use crate::config::Context;
use crate::exit::Exit;
use crate::stored;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Exported {
    session_id: String,
    branch: String,
    output: std::path::PathBuf,
    /// The files written, relative to `output`.
    files: Vec<std::path::PathBuf>,
}

pub fn run(ctx: &Context, args: &ExportArgs) -> anyhow::Result<()> {
    let given = args.output.clone();
    // Checked before any request when it is named; the default needs the session id first.
    if let Some(output) = &given {
        check_output(output)?;
        outside_claude_dir(ctx, output)?;
    }
    let found = crate::transfer::holders::find_stored(ctx, &args.session, args.branch.as_deref())?;
    let id = found.stored.meta.session_id.clone();
    let output = match given {
        Some(output) => output,
        None => {
            let output = std::path::PathBuf::from(format!("claude-session-{id}"));
            check_output(&output)?;
            outside_claude_dir(ctx, &output)?;
            output
        }
    };
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let scratch = tempfile::tempdir().context("cannot create a temporary folder")?;
    let passphrase = match crate::passphrase::from_env("export")? {
        None if found.stored.encrypted() => crate::passphrase::prompt(ctx.ui, &id)?,
        set => set,
    };
    let extracted = stored::fetch_archive(
        &found.rt,
        &found.gh,
        &found.stored,
        scratch.path(),
        &parent,
        passphrase.as_deref(),
    )?;
    let files = extracted.files.clone();
    let dir = extracted.dir.keep();
    place(&dir, &output)?;
    let branch = found
        .release
        .branch()
        .map(|b| b.into_owned())
        .unwrap_or_default();
    ctx.ui.info(&format!(
        "exported session {id} from the release of branch `{}` into {} ({} file(s))",
        crate::neutral::text(&branch),
        output.display(),
        files.len()
    ));
    if ctx.ui.json {
        ctx.ui.print_json(&Exported {
            session_id: id,
            branch,
            output,
            files,
        })?;
    }
    Ok(())
}

/// The output folder must be new or empty: export never mixes its files with others.
fn check_output(output: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::read_dir(output).map(|mut entries| entries.next().is_none()) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Ok(true) => Ok(()),
        Ok(_) => Err(Exit::usage(format!(
            "{} is not empty: name a new or empty folder (release-export never writes among other files)",
            output.display()
        ))
        .into()),
        Err(_) => Err(Exit::usage(format!(
            "{} exists and is not a folder: name a new or empty folder",
            output.display()
        ))
        .into()),
    }
}

/// An export is files to look at, never a live session: inside the Claude config folder
/// (`~/.claude/projects/<x>`) its transcript would be resumable and its memory read by Claude Code as
/// instructions. Compared after resolving symbolic links, whether or not the folder exists yet.
fn outside_claude_dir(ctx: &Context, output: &std::path::Path) -> anyhow::Result<()> {
    let Ok(claude_dir) = ctx.claude_dir() else {
        return Ok(());
    };
    let claude_dir = resolved(&claude_dir);
    let target = resolved(&std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf()));
    if target.starts_with(&claude_dir) {
        return Err(Exit::usage(format!(
            "{} is inside the Claude config folder {}: an exported session there would be a live project \
             that Claude Code resumes and whose memory it reads as instructions. Name a folder outside it",
            output.display(),
            claude_dir.display()
        ))
        .into());
    }
    Ok(())
}

/// `path` with its longest existing ancestor's symbolic links resolved (the rest as written).
fn resolved(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    // `..` and `.` first, as written: a folder that does not exist yet cannot be resolved.
    let mut base = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                base.pop();
            }
            Component::CurDir => {}
            other => base.push(other),
        }
    }
    let path = base.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&base) {
            return rest.iter().rev().fold(real, |acc, part| acc.join(part));
        }
        match (base.file_name().map(|n| n.to_owned()), base.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                base = parent.to_path_buf();
            }
            _ => return path,
        }
    }
}

/// Moves the unpacked folder `dir` (beside the target) to `output`: a rename makes it appear
/// whole; an empty folder already there is replaced (an empty folder renames over on Unix, and is
/// removed first elsewhere).
fn place(dir: &std::path::Path, output: &std::path::Path) -> anyhow::Result<()> {
    if output.is_dir() {
        let _ = std::fs::remove_dir(output);
    }
    std::fs::rename(dir, output).map_err(|e| {
        let _ = std::fs::remove_dir_all(dir);
        anyhow::anyhow!("cannot create {}: {e}", output.display())
    })
}

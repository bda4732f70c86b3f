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
    }
    let found = super::show::find_stored(ctx, &args.session, args.branch.as_deref())?;
    let id = found.stored.meta.session_id.clone();
    let output = match given {
        Some(output) => output,
        None => {
            let output = std::path::PathBuf::from(format!("claude-session-{id}"));
            check_output(&output)?;
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
    let passphrase = super::passphrase("export")?;
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

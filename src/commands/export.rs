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
    if args.output.exists() {
        return Err(Exit::usage(format!(
            "{} already exists: name a folder to create (release-export never writes into an existing one)",
            args.output.display()
        ))
        .into());
    }
    let parent = match args.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let found = super::show::find_stored(ctx, &args.session)?;
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
    // Unpacked beside the target: a rename makes it appear whole.
    let files = extracted.files.clone();
    let dir = extracted.dir.keep();
    std::fs::rename(&dir, &args.output).with_context(|| {
        let _ = std::fs::remove_dir_all(&dir);
        format!("cannot create {}", args.output.display())
    })?;
    let branch = found
        .release
        .branch()
        .map(|b| b.into_owned())
        .unwrap_or_default();
    ctx.ui.info(&format!(
        "exported session {} from the release of branch `{}` into {} ({} file(s))",
        found.stored.meta.session_id,
        crate::neutral::text(&branch),
        args.output.display(),
        files.len()
    ));
    if ctx.ui.json {
        ctx.ui.print_json(&Exported {
            session_id: found.stored.meta.session_id.clone(),
            branch,
            output: args.output.clone(),
            files,
        })?;
    }
    Ok(())
}

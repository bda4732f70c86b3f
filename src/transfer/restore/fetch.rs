//! Restore, step 3: fetch the stored archive: downloaded and verified (size, sha256) into the
//! scratch folder, decrypted when it is encrypted, and extracted into a staging folder beside the
//! project folder (same file system, so installing is a rename, and no half-restored file ever
//! sits where Claude Code looks).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::bundle::Extracted;
use crate::neutral;
use crate::progress::Step;
use crate::scratch::RunDir;
use crate::stored::chain::FromLink;
use crate::stored::{self, StoredSession};

use super::{RestoreJob, Target};

/// The extracted archive, and the staging folder that holds it until the install.
pub(super) struct Fetched {
    _staging: RunDir,
    pub extracted: Extracted,
    /// `<id>.jsonl`, which the archive holds.
    pub session_rel: PathBuf,
}

impl RestoreJob<'_> {
    /// Downloads, verifies and extracts the stored copy beside `target`'s project folder.
    pub(super) fn fetch(
        &self,
        stored: &StoredSession,
        target: &Target,
        from_link: Option<&FromLink>,
        scratch: &Path,
    ) -> anyhow::Result<Fetched> {
        let (ui, rt, gh) = (self.ui, self.rt, self.gh);
        let id = stored.meta.session_id.clone();
        let projects = target.project_dir.parent().unwrap_or(&target.project_dir);
        std::fs::create_dir_all(projects)
            .with_context(|| format!("cannot create {}", projects.display()))?;
        // What killed restores left there (plaintext session copies) goes first.
        crate::scratch::sweep(projects);
        let staging = RunDir::in_folder(projects)?;
        let prompted = match &target.passphrase {
            None if stored.encrypted() => crate::passphrase::prompt(ui, &id)?,
            _ => None,
        };
        let progress = Step::watch_file(
            ui,
            &format!("downloading {}", stored.meta.archive.name),
            &scratch.join(&stored.meta.archive.name),
            Some(stored.meta.archive.size),
        );
        let passphrase = target.passphrase.as_deref().or(prompted.as_deref());
        // A chain whose earlier generation this machine holds: only the later parts come down.
        let extracted = match from_link {
            Some(from) => from.fetch(rt, gh, stored, scratch, staging.path(), passphrase)?,
            None => stored::fetch_archive(rt, gh, stored, scratch, staging.path(), passphrase)?,
        };
        drop(progress);
        refuse_foreign_agent_files(&extracted, &target.project_dir, &id)?;
        let session_rel = PathBuf::from(format!("{id}.jsonl"));
        if !extracted.files.contains(&session_rel) {
            anyhow::bail!(
                "the archive of session {id} holds no {id}.jsonl: it was not made by ccsync"
            );
        }
        Ok(Fetched {
            _staging: staging,
            extracted,
            session_rel,
        })
    }
}

/// An agent file of the archive whose name a local agent file of another session already has
/// would overwrite that session's file: refused, with nothing written.
fn refuse_foreign_agent_files(
    extracted: &Extracted,
    project_dir: &Path,
    id: &str,
) -> anyhow::Result<()> {
    for rel in &extracted.files {
        let is_agent = rel.parent() == Some(Path::new(""))
            && rel
                .to_str()
                .is_some_and(crate::bundle::entries::is_agent_file_name);
        let local = project_dir.join(rel);
        if !is_agent || !local.is_file() {
            continue;
        }
        let owner = crate::bundle::entries::agent_file_owner(&local)?;
        if owner.as_deref().is_some_and(|owner| owner != id) {
            anyhow::bail!(
                "the archive of session {id} holds {}, but the local file of that name belongs to session {}: \
                 restoring would overwrite it; nothing was installed",
                neutral::text(&rel.to_string_lossy()),
                neutral::text(owner.as_deref().unwrap_or_default())
            );
        }
    }
    Ok(())
}

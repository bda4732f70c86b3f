//! Push, step 3: pack the session into a temporary file: secrets handled per `--secrets` (the
//! scan ran on its own thread meanwhile), the archive streamed to disk (and encrypted with the
//! passphrase, if any), then the metadata that describes it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::Utc;

use crate::bundle::metadata::{ArchiveInfo, Encryption, Metadata, PushedFrom, Roots, Tool, FORMAT};
use crate::bundle::pack::{self, PackedArchive, Prescan, Scanned};
use crate::bundle::Finding;
use crate::cli::SecretsMode;
use crate::exit::Exit;
use crate::progress::Step;
use crate::release::names;
use crate::store::{self, LocalSession};

use super::compare::Compared;
use super::find::Contents;
use super::{PushJob, Run};

/// A packed session ready to upload.
pub(super) struct Packed {
    pub(super) _dir: tempfile::TempDir,
    pub archive: PathBuf,
    pub meta: Metadata,
    pub findings: Vec<Finding>,
    /// `archive` is a delta part of `meta`'s chain ([`super::delta`]), not the whole session.
    pub delta: bool,
}

impl PushJob<'_> {
    /// Packs the session and its side files into the run's scratch folder: the entries the
    /// comparison keeps, secrets per `--secrets`, then the archive and its metadata.
    pub(super) fn pack(
        &self,
        run: &Run<'_>,
        compared: &Compared,
        prescan: Option<Prescan>,
    ) -> anyhow::Result<Packed> {
        self.pack_contents(run, &run.contents, compared, prescan)
    }

    /// [`PushJob::pack`] of `contents` (the session's files, or a delta part's).
    pub(super) fn pack_contents(
        &self,
        run: &Run<'_>,
        contents: &Contents<'_>,
        compared: &Compared,
        prescan: Option<Prescan>,
    ) -> anyhow::Result<Packed> {
        let session = run.session;
        let dir = tempfile::tempdir_in(run.scratch).context("cannot create a temporary folder")?;
        let scanned = match prescan {
            None => None,
            Some(answer) => Some(
                answer
                    .recv()
                    .map_err(|_| anyhow::anyhow!("the secret scan stopped unexpectedly"))??,
            ),
        };
        // Memory the stored copy deleted (and unchanged here) stays out of the upload.
        let side = &compared.side;
        let kept = |rel: &Path| !side.left_out.iter().any(|out| out == rel);
        let entries: Vec<PathBuf> = contents
            .entries
            .iter()
            .filter(|rel| kept(rel))
            .cloned()
            .collect();
        let scanned = scanned.map(|mut all| {
            all.retain(|s| kept(s.rel()));
            all
        });
        self.refuse_scanned(&session.id, scanned.as_deref())?;
        let archive = (dir.path(), &entries[..], contents.sources);
        let mut packed = self.write_archive(run, archive, scanned.as_deref())?;
        let findings = std::mem::take(&mut packed.findings);
        self.report_findings(&session.id, &findings)?;
        let meta = self.metadata(run, contents.sources, compared, &packed);
        Ok(Packed {
            _dir: dir,
            archive: packed.path,
            meta,
            findings,
            delta: false,
        })
    }

    /// `--secrets refuse`: secrets the scan found stop the push before anything is packed.
    fn refuse_scanned(&self, session_id: &str, scanned: Option<&[Scanned]>) -> anyhow::Result<()> {
        let scan_found: Vec<Finding> = scanned
            .iter()
            .flat_map(|all| all.iter())
            .flat_map(|s| s.findings.iter().cloned())
            .collect();
        if self.args.secrets == SecretsMode::Refuse && !scan_found.is_empty() {
            return Err(refuse_error(session_id, &scan_found));
        }
        Ok(())
    }

    /// The archive written into `dir`, within what a restore accepts.
    fn write_archive(
        &self,
        run: &Run<'_>,
        (dir, entries, sources): (&Path, &[PathBuf], &pack::Sources),
        scanned: Option<&[Scanned]>,
    ) -> anyhow::Result<PackedArchive> {
        let session = run.session;
        let ui = self.ctx.ui;
        let packed = pack::write_archive(
            &pack::ArchiveJob {
                dir,
                session_id: &session.id,
                sources,
                entries,
                scanned,
                scanner: self.scanner,
                passphrase: self.passphrase,
            },
            |path| Step::watch_file(ui, &format!("packing session {}", session.id), path, None),
        )?;
        // What restore refuses must not be uploaded: the same ceiling it applies.
        let ceiling = crate::bundle::max_unpacked_bytes();
        if packed.unpacked_size > ceiling {
            anyhow::bail!(
                "session {} unpacks to {} MiB, more than the {} MiB a restore accepts \
                 (CCSYNC_MAX_UNPACKED_MB raises that ceiling, on both machines): nothing was uploaded",
                session.id,
                packed.unpacked_size >> 20,
                ceiling >> 20
            );
        }
        Ok(packed)
    }

    /// Secrets redacted in the archive: a warning that names them (never their values), or the
    /// end of the push with `--secrets refuse`.
    fn report_findings(&self, session_id: &str, findings: &[Finding]) -> anyhow::Result<()> {
        if findings.is_empty() {
            return Ok(());
        }
        let report = findings_report(findings);
        if self.args.secrets == SecretsMode::Refuse {
            return Err(refuse_error(session_id, findings));
        }
        self.ctx.ui.warn(&format!(
            "redacted {} secret(s) in the uploaded copy of session {} (your local file is unchanged):\n{report}",
            findings.len(),
            session_id
        ));
        Ok(())
    }

    /// This machine's roots for the session, as its metadata records them.
    pub(super) fn roots(
        &self,
        session: &LocalSession,
        compared: &Compared,
        sources: &pack::Sources,
    ) -> Roots {
        Roots {
            cwd: compared
                .facts
                .cwd
                .clone()
                .or_else(|| session.cwd.clone())
                .unwrap_or_else(|| self.origin.root.to_string_lossy().into_owned()),
            repo_root: self.origin.root.to_string_lossy().into_owned(),
            claude_project_dir: Some(session.project_dir.to_string_lossy().into_owned()),
            claude_dir: Some(store::path_text(self.claude_dir)),
            claude_temp_dir: Some(store::path_text(
                &sources
                    .temp_root
                    .clone()
                    .unwrap_or_else(store::state::temp_root),
            )),
        }
    }

    /// The metadata of the packed archive: where it was pushed from, what it holds.
    fn metadata(
        &self,
        run: &Run<'_>,
        sources: &pack::Sources,
        compared: &Compared,
        packed: &PackedArchive,
    ) -> Metadata {
        let (session, facts, side) = (run.session, &compared.facts, &compared.side);
        let encryption = packed.encryption;
        let roots = self.roots(session, compared, sources);
        Metadata {
            format: FORMAT,
            session_id: session.id.clone(),
            git_branch: self.branch.to_owned(),
            repository: self.origin.repo.to_string(),
            commit: self.origin.commit.clone(),
            cwd: roots.cwd,
            repo_root: roots.repo_root,
            claude_project_dir: roots.claude_project_dir,
            claude_dir: roots.claude_dir,
            claude_temp_dir: roots.claude_temp_dir,
            last_timestamp: facts.last_timestamp.clone(),
            records: facts.records,
            lines: Some(facts.lines),
            last_uuid: facts.last_uuid.clone(),
            claude_version: facts.version.clone(),
            has_progress_records: facts.progress_records > 0,
            archive: ArchiveInfo {
                name: names::archive_asset_name(&session.id, encryption != Encryption::None),
                size: packed.size,
                sha256: packed.sha256.clone(),
                encryption,
            },
            unpacked_size: Some(packed.unpacked_size),
            pushed_at: Utc::now(),
            pushed_from: PushedFrom {
                host: gethostname::gethostname().to_string_lossy().into_owned(),
                os: std::env::consts::OS.to_owned(),
            },
            tool: Tool::current(),
            uuid_count: facts.chain.count(),
            uuid_chain_sha256: facts.chain.sha256_hex(),
            // Set by the write protocol when the copy is written.
            generation: 0,
            parent: None,
            supersedes: None,
            deleted_side_files: side.deleted.clone(),
            chain: None,
            manifest: crate::bundle::delta::manifest_of(&session.id, &packed.entry_sha256),
        }
    }
}

/// `--secrets refuse` met secrets: nothing is uploaded.
fn refuse_error(session_id: &str, findings: &[Finding]) -> anyhow::Error {
    Exit::secrets_found(format!(
        "session {session_id} holds {} secret(s), so nothing was uploaded (--secrets refuse):\n{}\n\
         Remove them from the session, or push with --secrets redact (the default) to upload a redacted copy",
        findings.len(),
        findings_report(findings)
    ))
    .into()
}

/// Findings by rule and place, never by value.
fn findings_report(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {} in {} line {}", f.rule, f.file, f.line))
        .collect::<Vec<_>>()
        .join("\n")
}

//! Installing a restored session's state at this machine's own places ([`crate::store::state`]):
//! tasks, file history, plans and background outputs, each renamed into place from the staged
//! (rewritten) archive, and background output links made again to the installed subagent
//! transcripts.
//!
//! The state follows the copy that wins: a local state file that differs from the one installed
//! over it is first saved in the restore's backup folder (`<uuid>.ccsync-backup-<time>/`, under
//! `.ccsync-state/<kind>/`), and so is a local task of the session that the stored copy no longer
//! has (a stale task would show in `TaskList`).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::memory::{decide, sha256_of, Decision, SyncRecord};
use crate::store::state::{self, Kind, Roots};

/// Where the state of one session goes on this machine.
pub(super) struct StatePlaces<'a> {
    pub roots: Roots,
    pub project_dir: &'a Path,
    pub session_id: &'a str,
}

/// What installing the state did.
#[derive(Debug, Default)]
pub(super) struct Installed {
    /// State files installed (links included).
    pub files: usize,
    /// Local state files saved before they were replaced or dropped.
    pub saved: usize,
}

/// Which copy's state wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Winner {
    /// The stored copy's transcript is installed: its state replaces the local state (what
    /// differs is saved first). `prune_tasks`: the stored copy carries the session's state (a
    /// pusher of 0.2.1 or newer), so local tasks it lacks are dropped (saved first).
    Stored { prune_tasks: bool },
    /// The local transcript stays (equal or ahead), but the stored copy is one this machine has not
    /// synced: per file, what only the other side changed since the last sync comes in, what only
    /// this side changed stays, and what both changed comes in after the local file is saved
    /// ([`crate::memory::decide`], the rule of project memory).
    PerFile,
}

/// Installs the state entries among `files` (staged under `staged`), saving what it replaces
/// into `backup`, and records what this machine now holds in `record` (so a later push knows
/// what changed here since).
pub(super) fn install(
    staged: &Path,
    files: &[PathBuf],
    places: &StatePlaces<'_>,
    backup: &Path,
    winner: Winner,
    record: &mut SyncRecord,
) -> anyhow::Result<Installed> {
    let mut done = Installed::default();
    let mut incoming_tasks = Vec::new();
    for rel in files {
        let Some(state::Entry::File(kind, name)) = state::classify(rel, false) else {
            continue;
        };
        if kind == Kind::Tasks {
            incoming_tasks.push(name.clone());
        }
        let src = staged.join(rel);
        if let Some(link) = name.strip_suffix(state::LINK_SUFFIX) {
            let at = places.place(kind, link);
            if winner == Winner::PerFile && std::fs::symlink_metadata(&at).is_ok() {
                continue;
            }
            let target = std::fs::read_to_string(&src)
                .with_context(|| format!("cannot read {}", src.display()))?;
            let target = places
                .project_dir
                .join(state::check_link_target(places.session_id, &target)?);
            done.saved += usize::from(save_unless_same_link(&at, &target, backup, rel)?);
            make_link(&target, &at)?;
            done.files += 1;
            continue;
        }
        let dst = places.place(kind, &name);
        let incoming = sha256_of(&src)?.unwrap_or_default();
        if winner == Winner::PerFile {
            let local = sha256_of(&dst)?;
            match decide(local.as_deref(), &incoming, record.synced(&dst)) {
                Decision::Same => {
                    record.set(&dst, &incoming);
                    continue;
                }
                Decision::KeepLocal => continue,
                Decision::Install | Decision::BackupAndInstall => {}
            }
        }
        done.saved += usize::from(save_if_different(&dst, &src, backup, rel)?);
        crate::store::install_staged(&src, &dst)?;
        record.set(&dst, &incoming);
        done.files += 1;
    }
    if let Winner::Stored { prune_tasks: true } = winner {
        done.saved += drop_stale_tasks(places, &incoming_tasks, backup)?;
    }
    Ok(done)
}

impl StatePlaces<'_> {
    fn place(&self, kind: Kind, name: &str) -> PathBuf {
        if kind == Kind::Outputs {
            ensure_private(&self.roots.temp_root);
        }
        self.roots
            .place(kind, name, self.project_dir, self.session_id)
    }
}

/// Claude Code keeps its temp root private (mode 0700) and repairs it otherwise: create it so.
fn ensure_private(dir: &Path) {
    if dir.exists() {
        return;
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let _ = builder.create(dir);
}

/// Saves the local file `dst` as `backup/<rel>` when it exists and differs from `src`.
fn save_if_different(dst: &Path, src: &Path, backup: &Path, rel: &Path) -> anyhow::Result<bool> {
    let meta = match std::fs::symlink_metadata(dst) {
        Ok(meta) => meta,
        Err(_) => return Ok(false),
    };
    if meta.is_file() && same_bytes(dst, src)? {
        return Ok(false);
    }
    save(dst, &backup.join(rel))?;
    Ok(true)
}

/// Saves what lies at `at` unless it already is a link to `target`.
fn save_unless_same_link(
    at: &Path,
    target: &Path,
    backup: &Path,
    rel: &Path,
) -> anyhow::Result<bool> {
    let Ok(meta) = std::fs::symlink_metadata(at) else {
        return Ok(false);
    };
    if meta.file_type().is_symlink() && std::fs::read_link(at).ok().as_deref() == Some(target) {
        return Ok(false);
    }
    save(at, &backup.join(rel))?;
    Ok(true)
}

/// Copies a local state file (a link: the text of its target) into the backup folder.
fn save(local: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let meta = std::fs::symlink_metadata(local)?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(local)?;
        std::fs::write(to, target.to_string_lossy().as_bytes())
    } else {
        std::fs::copy(local, to).map(drop)
    }
    .with_context(|| format!("cannot save {} as {}", local.display(), to.display()))
}

/// Replaces whatever is at `at` by a symbolic link to `target`, atomically (a link beside it,
/// then a rename).
fn make_link(target: &Path, at: &Path) -> anyhow::Result<()> {
    let parent = at.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let tmp = parent.join(format!(
        ".ccsync-link-{}",
        at.file_name().unwrap_or_default().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("cannot create the link {}", at.display()))?;
    #[cfg(not(unix))]
    std::fs::copy(target, &tmp)
        .map(drop)
        .with_context(|| format!("cannot create {}", at.display()))?;
    std::fs::rename(&tmp, at).with_context(|| format!("cannot install {}", at.display()))
}

/// Saves and removes the session's local task files that `incoming` lacks.
fn drop_stale_tasks(
    places: &StatePlaces<'_>,
    incoming: &[String],
    backup: &Path,
) -> anyhow::Result<usize> {
    let dir = places.place(Kind::Tasks, "");
    let Ok(list) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let mut dropped = 0;
    for item in list {
        let item = item?;
        let Some(name) = item.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let is_task = name.ends_with(".json") && !name.starts_with('.');
        if !is_task || incoming.contains(&name) || !item.file_type()?.is_file() {
            continue;
        }
        let rel = Path::new(state::ARCHIVE_DIR)
            .join(Kind::Tasks.folder())
            .join(&name);
        save(&item.path(), &backup.join(rel))?;
        std::fs::remove_file(item.path())
            .with_context(|| format!("cannot remove {}", item.path().display()))?;
        dropped += 1;
    }
    Ok(dropped)
}

/// Whether two files hold the same bytes (streamed, stopping at the first difference).
pub(super) fn same_bytes(a: &Path, b: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let open = |p: &Path| File::open(p).with_context(|| format!("cannot read {}", p.display()));
    let (fa, fb) = (open(a)?, open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ra, mut rb) = (BufReader::new(fa), BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = ra.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        rb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

//! Temporary folders of one ccsync run, and the removal of those a killed run left behind.
//!
//! A run folder (`ccsync-run-*` in the system temp folder for downloads and packing, where an
//! encrypted push keeps its plaintext archive; `.ccsync-run-*` beside the Claude project folders
//! for a restore's extraction) is removed when its [`RunDir`] is dropped, so on every exit path
//! that runs code (errors and panics unwind). A killed process runs no code: each folder holds a
//! `.lock` file its process keeps locked, and [`sweep`] (run by the next push or restore) removes
//! folders whose lock is free. Folders of ccsync 0.1 (`.ccsync-extract-*`, `.ccsync-restore-*`,
//! which carry no lock) go once they are an hour old.
//!
//! An interrupt (Ctrl-C, SIGTERM, SIGHUP) can run code: [`handle_interrupts`] installs the process's
//! one handler, which removes the live run folders and exits with 130, except while a child owns
//! the terminal's interrupts ([`child_owns_interrupts`], `ccsync resume` running Claude).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;

/// Prefix of run folders in the system temp folder.
pub const TEMP_PREFIX: &str = "ccsync-run-";
/// Prefix of run folders beside the project folders (hidden: Claude Code must not see them).
pub const PROJECTS_PREFIX: &str = ".ccsync-run-";
/// Folders of ccsync 0.1 restores, directly in `projects/`.
const LEGACY_PREFIXES: [&str; 2] = [".ccsync-extract-", ".ccsync-restore-"];
const LOCK_FILE: &str = ".lock";
/// A lock-less leftover younger than this may belong to a live run of an older ccsync.
const LEGACY_AFTER: Duration = Duration::from_secs(3600);

/// The run folders of this process, for the interrupt handler.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Set while a child process (Claude) owns interrupts: the handler then does nothing.
static CHILD_OWNS_INTERRUPTS: AtomicBool = AtomicBool::new(false);

/// Installs the interrupt handler: remove this run's folders, exit 130. Once per process.
pub fn handle_interrupts() {
    let _ = ctrlc::set_handler(|| {
        if CHILD_OWNS_INTERRUPTS.load(Ordering::SeqCst) {
            return;
        }
        let live = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
        for dir in live {
            let _ = std::fs::remove_dir_all(dir);
        }
        std::process::exit(130);
    });
}

/// From now on interrupts belong to a child (Claude, which must get Ctrl-C) and ccsync stays
/// alive to finish its work: the handler does nothing rather than the signal being ignored (an
/// ignored signal stays ignored in the child).
pub fn child_owns_interrupts() {
    CHILD_OWNS_INTERRUPTS.store(true, Ordering::SeqCst);
}

/// A temporary folder that lives as long as this value, locked against [`sweep`].
#[derive(Debug)]
pub struct RunDir {
    dir: tempfile::TempDir,
    _lock: File,
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|p| p != self.dir.path());
        // `dir` is removed after this, when its field drops.
    }
}

impl RunDir {
    /// A new run folder in the system temp folder.
    pub fn in_temp() -> anyhow::Result<RunDir> {
        Self::create(&std::env::temp_dir(), TEMP_PREFIX)
    }

    /// A new run folder inside `parent` (e.g. `projects/`, so installs are renames).
    pub fn in_folder(parent: &Path) -> anyhow::Result<RunDir> {
        Self::create(parent, PROJECTS_PREFIX)
    }

    fn create(parent: &Path, prefix: &str) -> anyhow::Result<RunDir> {
        loop {
            let dir = tempfile::Builder::new()
                .prefix(prefix)
                .tempdir_in(parent)
                .with_context(|| {
                    format!("cannot create a temporary folder in {}", parent.display())
                })?;
            let lock_path = dir.path().join(LOCK_FILE);
            let lock = File::create(&lock_path)
                .and_then(|f| f.lock().map(|()| f))
                .with_context(|| format!("cannot lock {}", dir.path().display()))?;
            // Between the lock file's creation and our lock, another run's sweep may have found it
            // free and removed the folder (it removes while holding the lock): start again.
            if !lock_path.exists() {
                continue;
            }
            LIVE.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(dir.path().to_path_buf());
            return Ok(RunDir { dir, _lock: lock });
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Removes the run folders in `parent` whose process is gone (their lock is free), and 0.1's
/// lock-less ones older than an hour. Best effort: a folder that cannot be removed stays.
pub fn sweep(parent: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        let ours = name.starts_with(TEMP_PREFIX) || name.starts_with(PROJECTS_PREFIX);
        let legacy = LEGACY_PREFIXES.iter().any(|p| name.starts_with(p));
        if !(ours || legacy) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        // The dead run's lock stays held while its folder goes, so a run that is creating a
        // folder of that name cannot take it in between (see `RunDir::create`).
        let dead = if ours {
            abandoned(&path)
        } else {
            older_than(&path, LEGACY_AFTER).then_some(None)
        };
        if let Some(_held) = dead {
            if std::fs::remove_dir_all(&path).is_ok() {
                removed.push(path);
            }
        }
    }
    removed
}

/// Sweeps the system temp folder and, if given, the Claude `projects/` folder.
pub fn sweep_leftovers(projects: Option<&Path>) -> Vec<PathBuf> {
    let mut removed = sweep(&std::env::temp_dir());
    if let Some(projects) = projects {
        removed.extend(sweep(projects));
    }
    removed
}

/// A run folder whose lock nobody holds: `Some` with that lock, now held by us. A folder without
/// a lock file is one being created (its lock comes right after the folder) unless it is old.
fn abandoned(dir: &Path) -> Option<Option<File>> {
    match File::open(dir.join(LOCK_FILE)) {
        Ok(file) => file.try_lock().is_ok().then_some(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            older_than(dir, Duration::from_secs(60)).then_some(None)
        }
        Err(_) => None,
    }
}

fn older_than(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|d| d > age)
}

/// A folder only the user may read (it holds paths and session names).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_dead_runs_only() {
        let parent = tempfile::tempdir().unwrap();
        let live = RunDir::create(parent.path(), PROJECTS_PREFIX).unwrap();
        std::fs::write(live.path().join("plain.tar.gz"), b"x").unwrap();
        // A killed run: its folder and lock file stay, nobody holds the lock.
        let dead = parent.path().join(".ccsync-run-dead");
        std::fs::create_dir(&dead).unwrap();
        File::create(dead.join(LOCK_FILE)).unwrap();
        // A young 0.1 extraction folder may be a live old ccsync: it stays.
        let legacy = parent.path().join(".ccsync-extract-young");
        std::fs::create_dir(&legacy).unwrap();
        let other = parent.path().join("-home-me-app");
        std::fs::create_dir(&other).unwrap();

        let removed = sweep(parent.path());
        assert_eq!(removed, vec![dead.clone()]);
        assert!(live.path().join("plain.tar.gz").is_file());
        assert!(legacy.is_dir() && other.is_dir());
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists(), "a dropped run folder is removed");
    }
}

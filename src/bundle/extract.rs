//! Reading a session archive that came over the network, treated as hostile.
//!
//! The archive file is checked against the size and sha256 of its metadata before it is opened
//! as an archive. Extraction goes into a fresh temporary folder inside the destination's parent
//! (same file system, so the caller can rename into place atomically) and only regular files and
//! folders with plain relative UTF-8 names come out. Bombs are stopped by verified facts, never
//! by a compression ratio (test logs compress 100x and more, and real sessions hold them): the
//! archive's size and sha256 match its metadata before it is opened, the unpacked stream is held
//! to the size that metadata records ([`Limits::for_unpacked_size`]) and to an absolute ceiling a
//! user can raise (`CCSYNC_MAX_UNPACKED_MB`, [`max_unpacked_bytes`]), and the target file system
//! must have room for it ([`check_room`]). A session archive is also held to the entries of its
//! session ([`extract_session`], rules in [`super::entries`]). On any error the temporary
//! folder is removed, so nothing is left behind.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};

use super::entries;

/// What an archive may unpack to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Entries of any kind (files and folders).
    pub max_entries: u64,
    /// Bytes of all files together.
    pub max_total_bytes: u64,
    /// Bytes of any single file.
    pub max_file_bytes: u64,
    /// Bytes of the whole decompressed tar stream (file data, headers, padding, and anything
    /// hidden after the end-of-archive marker).
    pub max_stream_bytes: u64,
}

/// The absolute ceiling on what one session may unpack to, default 8 GiB:
/// `CCSYNC_MAX_UNPACKED_MB` raises (or lowers) it. Push refuses what restore would refuse.
pub fn max_unpacked_bytes() -> u64 {
    std::env::var("CCSYNC_MAX_UNPACKED_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|mb| *mb > 0)
        .map_or(8 << 30, |mb| mb.saturating_mul(1 << 20))
}

/// Refuses to unpack `bytes` into `dir` when its file system has less room than that (plus
/// a margin): a full disk mid-restore helps nobody.
pub fn check_room(dir: &Path, bytes: u64) -> Result<()> {
    let Some(free) = free_space(dir) else {
        return Ok(());
    };
    let needed = bytes.saturating_add(64 << 20);
    if free < needed {
        bail!(
            "the session unpacks to {} MiB, but {} has only {} MiB free: make room and try again; \
             nothing was installed",
            bytes >> 20,
            dir.display(),
            free >> 20
        );
    }
    Ok(())
}

#[cfg(unix)]
fn free_space(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stat` a writable statvfs.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<u64> {
    None
}

/// Slack over the unpacked size a pusher recorded: that size is the exact tar stream, but a
/// writer of another version may pad differently.
pub const UNPACKED_TOLERANCE: u64 = 64 << 10;

impl Default for Limits {
    fn default() -> Self {
        let max_entries = 10_000;
        let max_total_bytes = max_unpacked_bytes();
        Limits {
            max_entries,
            max_total_bytes,
            max_file_bytes: max_total_bytes,
            // The tar stream carries headers and padding besides file data.
            max_stream_bytes: max_total_bytes + max_entries * 1536 + (1 << 20),
        }
    }
}

impl Limits {
    /// The default caps, tightened to `unpacked` bytes of tar stream (the size the pusher
    /// recorded in the metadata) plus [`UNPACKED_TOLERANCE`] when it is known.
    pub fn for_unpacked_size(unpacked: Option<u64>) -> Limits {
        let mut limits = Limits::default();
        if let Some(unpacked) = unpacked {
            let cap = unpacked.saturating_add(UNPACKED_TOLERANCE);
            limits.max_stream_bytes = limits.max_stream_bytes.min(cap);
            limits.max_total_bytes = limits.max_total_bytes.min(cap);
            limits.max_file_bytes = limits.max_file_bytes.min(cap);
        }
        limits
    }
}

/// The files of an extracted archive, in a temporary folder that disappears when dropped.
#[derive(Debug)]
pub struct Extracted {
    pub dir: tempfile::TempDir,
    /// Regular files, relative to `dir`, in archive order.
    pub files: Vec<PathBuf>,
}

impl Extracted {
    /// The absolute path of a relative entry.
    pub fn path(&self, rel: &Path) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// Checks that `path` has `expected_size` bytes and the sha256 `expected_sha256` (hex).
pub fn verify_file(path: &Path, expected_size: u64, expected_sha256: &str) -> Result<()> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size != expected_size {
        bail!(
            "the downloaded archive has {size} bytes but its metadata says {expected_size}: \
             the download is incomplete or the asset was replaced; try again"
        );
    }
    let mut hasher = Sha256::new();
    let copied = io::copy(&mut BufReader::with_capacity(1 << 16, file), &mut hasher)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if copied != expected_size {
        bail!(
            "{} changed while it was being checked; try again",
            path.display()
        );
    }
    let actual = hex::encode(hasher.finalize());
    if !actual.eq_ignore_ascii_case(expected_sha256) {
        bail!(
            "the downloaded archive's sha256 does not match its metadata: the asset is corrupt or \
             was tampered with; nothing was installed"
        );
    }
    Ok(())
}

/// Extracts `archive` into a new temporary folder inside `parent` and lists its files.
pub fn extract_to_temp(archive: &Path, parent: &Path, limits: &Limits) -> Result<Extracted> {
    extract_filtered(archive, parent, limits, &|_, _| Ok(()))
}

/// [`extract_to_temp`] for the archive of session `session_id`: an entry that does not belong to
/// that session (see [`super::entries`]) refuses the archive before it is written, and every
/// agent file must carry the session's id.
pub fn extract_session(
    archive: &Path,
    parent: &Path,
    limits: &Limits,
    session_id: &str,
) -> Result<Extracted> {
    let extracted = extract_part(archive, parent, limits, session_id)?;
    entries::check_state_files(session_id, extracted.dir.path(), &extracted.files, &[])
        .context("refusing the session archive")?;
    Ok(extracted)
}

/// [`extract_session`] for one part of a chain (docs/write-protocol.md, "Delta copies"): every
/// entry's name and every agent file are checked; the state files are checked against the
/// transcripts once the chain is assembled ([`entries::check_state_files`]).
pub fn extract_part(
    archive: &Path,
    parent: &Path,
    limits: &Limits,
    session_id: &str,
) -> Result<Extracted> {
    let extracted = extract_filtered(archive, parent, limits, &|rel, is_dir| {
        entries::check_name(session_id, rel, is_dir).map(drop)
    })?;
    for rel in &extracted.files {
        if entries::check_name(session_id, rel, false)? == entries::EntryKind::AgentFile {
            entries::check_agent_file(session_id, rel, &extracted.path(rel))
                .context("refusing the session archive")?;
        }
    }
    Ok(extracted)
}

/// Decides on an entry (a cleaned relative path, a folder or not) before anything is written.
type EntryCheck<'a> = &'a dyn Fn(&Path, bool) -> Result<()>;

fn extract_filtered(
    archive: &Path,
    parent: &Path,
    limits: &Limits,
    check: EntryCheck<'_>,
) -> Result<Extracted> {
    let file = File::open(archive).with_context(|| format!("cannot read {}", archive.display()))?;
    let dir = tempfile::Builder::new()
        .prefix(".ccsync-extract-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a temporary folder in {}", parent.display()))?;
    // On error `dir` is dropped here, which removes everything written so far.
    let files = unpack(file, dir.path(), limits, check).context("refusing the session archive")?;
    Ok(Extracted { dir, files })
}

/// Caps unpacked bytes.
struct Meter {
    unpacked: u64,
    limits: Limits,
}

/// The decompressed stream, refusing to go past the caps. Tar headers and padding count too, so
/// a bomb hidden in padding or after the end-of-archive marker is caught as well.
struct CappedReader<R> {
    inner: R,
    meter: Meter,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let m = &mut self.meter;
        m.unpacked += n as u64;
        if m.unpacked > m.limits.max_stream_bytes {
            return Err(limit_error(&format!(
                "the archive unpacks to more than {} bytes{LIMIT_WHY}",
                m.limits.max_stream_bytes
            )));
        }
        Ok(n)
    }
}

/// Why a size cap is what it is, for the refusal message.
const LIMIT_WHY: &str = " (the unpacked size its metadata records, or ccsync's ceiling, which \
     CCSYNC_MAX_UNPACKED_MB raises); nothing was installed";

fn limit_error(msg: &str) -> io::Error {
    io::Error::other(msg.to_owned())
}

fn unpack(file: File, dest: &Path, limits: &Limits, check: EntryCheck<'_>) -> Result<Vec<PathBuf>> {
    let counted = BufReader::with_capacity(1 << 16, file);
    // ccsync writes one gzip member per 1 MiB block (bundle::pargz); other tools may write one.
    let gz = flate2::read::MultiGzDecoder::new(counted);
    let capped = CappedReader {
        inner: gz,
        meter: Meter {
            unpacked: 0,
            limits: limits.clone(),
        },
    };
    let mut archive = tar::Archive::new(capped);

    let mut seen: HashSet<String> = HashSet::new();
    let mut files = Vec::new();
    let mut total: u64 = 0;
    let mut count: u64 = 0;
    let mut dirs: Vec<(PathBuf, u64)> = Vec::new();

    for entry in archive.entries().map_err(io_err)? {
        let mut entry = entry.map_err(io_err)?;
        count += 1;
        if count > limits.max_entries {
            bail!("the archive has more than {} entries", limits.max_entries);
        }
        let kind = entry.header().entry_type();
        let Some((name, rel)) = entry_path(&entry, kind)? else {
            continue;
        };
        check(&rel, kind == tar::EntryType::Directory)?;
        let key = rel.to_str().expect("checked UTF-8").to_owned();
        if !seen.insert(key) {
            bail!("the entry `{}` appears twice", printable(&name));
        }
        let target = dest.join(&rel);
        let mtime = entry.header().mtime().unwrap_or(0);
        if kind == tar::EntryType::Directory {
            std::fs::create_dir_all(&target)
                .with_context(|| format!("cannot create {}", target.display()))?;
            dirs.push((target, mtime));
            continue;
        }
        // `size()` includes a pax size override, unlike the plain header field.
        let size = entry.size();
        total = within_limits(&name, size, total, limits)?;
        write_entry(&mut entry, &target, size, mtime, &name)?;
        files.push(rel);
    }
    // Read to the end of the gzip stream: its checksum is only verified there, and a bomb could
    // hide after the end-of-archive marker.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(io_err)?;
    // Folder times last, after their content stopped changing them.
    for (dir, mtime) in dirs.into_iter().rev() {
        if let Ok(handle) = File::open(&dir) {
            handle
                .set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
                .ok();
        }
    }
    Ok(files)
}

/// The entry's name and its plain relative path; `None` for what is skipped (the archive's own
/// root `./`, a pax global header). Links and other types are refused.
fn entry_path<R: Read>(
    entry: &tar::Entry<'_, R>,
    kind: tar::EntryType,
) -> Result<Option<(String, PathBuf)>> {
    let raw = entry.path_bytes();
    let name = std::str::from_utf8(&raw)
        .map_err(|_| anyhow!("an entry name is not UTF-8"))?
        .to_owned();
    let rel = match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::Directory => {
            clean_name(&name)?
        }
        // A pax global header only carries comments (e.g. from `git archive`).
        tar::EntryType::XGlobalHeader => None,
        tar::EntryType::Symlink | tar::EntryType::Link => {
            bail!(
                "the entry `{}` is a link: only regular files and folders are accepted",
                printable(&name)
            )
        }
        other => bail!(
            "the entry `{}` has the unsupported type {other:?}",
            printable(&name)
        ),
    };
    Ok(rel.map(|rel| (name, rel)))
}

/// The unpacked total with a file of `size` added, within the limits of one file and the whole.
fn within_limits(name: &str, size: u64, total: u64, limits: &Limits) -> Result<u64> {
    if size > limits.max_file_bytes {
        bail!(
            "the entry `{}` is larger than {} bytes: the archive unpacks to more than allowed{LIMIT_WHY}",
            printable(name),
            limits.max_file_bytes
        );
    }
    let total = total.saturating_add(size);
    if total > limits.max_total_bytes {
        bail!(
            "the archive unpacks to more than {} bytes{LIMIT_WHY}",
            limits.max_total_bytes
        );
    }
    Ok(total)
}

/// Writes a regular file entry of `size` bytes to `target`, a new file dated `mtime`.
fn write_entry(
    entry: &mut impl Read,
    target: &Path,
    size: u64,
    mtime: u64,
    name: &str,
) -> Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // `create_new` never follows or reuses anything already there.
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    let written = io::copy(&mut entry.take(size), &mut out).map_err(io_err)?;
    if written != size {
        bail!("the entry `{}` is truncated", printable(name));
    }
    out.flush()?;
    out.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
        .ok();
    Ok(())
}

/// A plain relative path from an entry name, `None` for the archive's own root (`./`).
fn clean_name(name: &str) -> Result<Option<PathBuf>> {
    if name.starts_with('/') {
        bail!("the entry `{}` has an absolute path", printable(name));
    }
    if name.contains('\\') || name.contains('\0') {
        bail!(
            "the entry `{}` has a backslash or NUL in its name",
            printable(name)
        );
    }
    let mut out = PathBuf::new();
    for part in name.split('/') {
        match part {
            "" | "." => continue,
            ".." => bail!(
                "the entry `{}` climbs out of the folder with `..`",
                printable(name)
            ),
            part => out.push(part),
        }
    }
    Ok(if out.as_os_str().is_empty() {
        None
    } else {
        Some(out)
    })
}

/// Entry names come from the network: never print control characters to a terminal.
fn printable(name: &str) -> String {
    crate::neutral::text(&name.chars().take(200).collect::<String>()).into_owned()
}

fn io_err(err: io::Error) -> anyhow::Error {
    // The tar crate wraps our cap errors; keep their message in front.
    anyhow!("{err}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::archive::ArchiveWriter;

    fn archive_of(files: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ArchiveWriter::new(File::create(dir.path().join("a.tar.gz")).unwrap());
        for (i, (name, data)) in files.iter().enumerate() {
            let src = dir.path().join(format!("src{i}"));
            std::fs::write(&src, data).unwrap();
            w.add_file(Path::new(name), &src).unwrap();
        }
        w.finish().unwrap();
        let path = dir.path().join("a.tar.gz");
        (dir, path)
    }

    #[test]
    fn round_trip() {
        let (_d, path) = archive_of(&[("s.jsonl", b"{}\n"), ("s/subagents/a.jsonl", b"x")]);
        let parent = tempfile::tempdir().unwrap();
        let out = extract_to_temp(&path, parent.path(), &Limits::default()).unwrap();
        assert_eq!(
            out.files,
            [
                PathBuf::from("s.jsonl"),
                PathBuf::from("s/subagents/a.jsonl")
            ]
        );
        assert_eq!(
            std::fs::read(out.path(Path::new("s.jsonl"))).unwrap(),
            b"{}\n"
        );
        let tmp = out.dir.path().to_owned();
        assert!(tmp.starts_with(parent.path()));
        drop(out);
        assert!(!tmp.exists());
    }

    #[test]
    fn verify_checks_size_and_hash() {
        let (_d, path) = archive_of(&[("s.jsonl", b"{}\n")]);
        let bytes = std::fs::read(&path).unwrap();
        let sha = hex::encode(Sha256::digest(&bytes));
        verify_file(&path, bytes.len() as u64, &sha).unwrap();
        verify_file(&path, bytes.len() as u64, &sha.to_uppercase()).unwrap();
        let err = verify_file(&path, bytes.len() as u64 + 1, &sha)
            .unwrap_err()
            .to_string();
        assert!(err.contains("incomplete"), "{err}");
        let err = verify_file(&path, bytes.len() as u64, &"0".repeat(64))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sha256"), "{err}");
    }

    #[test]
    fn names_are_cleaned_or_refused() {
        assert_eq!(clean_name("./a/b").unwrap(), Some(PathBuf::from("a/b")));
        assert_eq!(clean_name("./").unwrap(), None);
        for bad in ["/etc/passwd", "a/../../b", "..", "a\\b"] {
            assert!(clean_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn caps_entries_and_sizes() {
        let (_d, path) = archive_of(&[("a", b"12345"), ("b", b"12345")]);
        let parent = tempfile::tempdir().unwrap();
        let tight = |f: fn(&mut Limits)| {
            let mut l = Limits::default();
            f(&mut l);
            format!(
                "{:#}",
                extract_to_temp(&path, parent.path(), &l).unwrap_err()
            )
        };
        assert!(tight(|l| l.max_entries = 1).contains("more than 1 entries"));
        assert!(tight(|l| l.max_file_bytes = 4).contains("larger than 4 bytes"));
        assert!(tight(|l| l.max_total_bytes = 9).contains("more than 9 bytes"));
        assert_eq!(
            std::fs::read_dir(parent.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
    }
}

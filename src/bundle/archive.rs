//! Writing a session archive: a standard gzip'd tar (`tar -xzf` reads it) streamed to any
//! writer, with entries relative to the Claude project folder.
//!
//! The gzip side is [`ParGzWriter`]: 1 MiB blocks compressed on every core and written as
//! concatenated gzip members (readers need a multi-member decoder, as `gzip -d` and
//! `flate2::read::MultiGzDecoder` are). [`HashingWriter`] gives the archive's size and sha256 as it
//! is written, so the archive is never read back to checksum it.
//!
//! Only regular files and directories go in, in a deterministic order (the caller's order for
//! single files, sorted names inside [`ArchiveWriter::add_tree`]), with normalised owners and
//! modes (0644 files, 0755 folders) and the source's modification time, so two pushes of the same
//! files give the same bytes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path};
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context, Result};
use flate2::Compression;
use sha2::{Digest, Sha256};

use super::pargz::{self, ParGzWriter};

/// The gzip level: that of `gzip -6`, the size the archive is held to.
pub const LEVEL: u32 = 6;

/// Streams a gzip'd tar into `W`. Call [`ArchiveWriter::finish`] to get a complete archive.
pub struct ArchiveWriter<W: Write> {
    tar: tar::Builder<CountingWriter<ParGzWriter<W>>>,
}

/// Counts the bytes of the tar stream on their way into gzip: the unpacked size recorded in the
/// metadata.
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> ArchiveWriter<W> {
    /// A new archive written to `out`, gzip level [`LEVEL`], compressed on every core.
    pub fn new(out: W) -> Self {
        Self::with_threads(out, pargz::default_threads())
    }

    /// As [`ArchiveWriter::new`] with `threads` compression threads (1: none, on the caller's).
    /// The bytes written do not depend on `threads`.
    pub fn with_threads(out: W, threads: usize) -> Self {
        let gz = ParGzWriter::with_options(
            out,
            Compression::new(LEVEL),
            pargz::DEFAULT_BLOCK_SIZE,
            threads,
        );
        let mut tar = tar::Builder::new(CountingWriter {
            inner: gz,
            count: 0,
        });
        // Entries are built by hand below; never follow or store links.
        tar.follow_symlinks(false);
        tar.mode(tar::HeaderMode::Deterministic);
        Self { tar }
    }

    /// Adds the regular file `src` as the entry `rel`, streaming its content.
    ///
    /// The size is taken once from the file's metadata and exactly that many bytes are stored:
    /// a session that Claude Code appends to meanwhile yields a consistent (shorter) snapshot,
    /// and one that shrinks is an error instead of a corrupt archive.
    pub fn add_file(&mut self, rel: &Path, src: &Path) -> Result<()> {
        check_relative(rel)?;
        let file = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot read {}", src.display()))?;
        if !meta.is_file() {
            bail!(
                "{} is not a regular file: only regular files go into a session archive",
                src.display()
            );
        }
        let size = meta.len();
        self.add_reader(rel, size, mtime_secs(&meta), file)
            .with_context(|| format!("cannot add {} to the archive", src.display()))
    }

    /// Adds the first `size` bytes of `reader` as the regular file `rel` with modification time
    /// `mtime` (seconds since 1970). Fails if `reader` ends before `size` bytes; bytes beyond are
    /// never read. For content that is produced on the fly (a redacted copy) or a prefix of a file
    /// that was already scanned.
    pub fn add_reader(
        &mut self,
        rel: &Path,
        size: u64,
        mtime: u64,
        reader: impl Read,
    ) -> Result<()> {
        check_relative(rel)?;
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        let reader = ExactReader {
            inner: reader.take(size),
            left: size,
        };
        self.tar
            .append_data(&mut header, rel, reader)
            .with_context(|| format!("cannot add {} to the archive", rel.display()))
    }

    /// Adds a directory entry `rel` (mode 0755) with the modification time of `src`.
    pub fn add_dir(&mut self, rel: &Path, src: &Path) -> Result<()> {
        check_relative(rel)?;
        let meta =
            std::fs::metadata(src).with_context(|| format!("cannot read {}", src.display()))?;
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        header.set_mode(0o755);
        header.set_mtime(mtime_secs(&meta));
        self.tar
            .append_data(&mut header, rel, io::empty())
            .with_context(|| format!("cannot add {} to the archive", src.display()))
    }

    /// Adds the folder `src` as `rel` with everything below it, names sorted. Symbolic links
    /// and special files are left out (they never belong to a session); returns how many were.
    pub fn add_tree(&mut self, rel: &Path, src: &Path) -> Result<u64> {
        self.add_dir(rel, src)?;
        let mut names: Vec<_> = std::fs::read_dir(src)
            .with_context(|| format!("cannot list {}", src.display()))?
            .collect::<io::Result<Vec<_>>>()
            .with_context(|| format!("cannot list {}", src.display()))?;
        names.sort_by_key(|entry| entry.file_name());
        let mut skipped = 0;
        for entry in names {
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            let child_rel = rel.join(entry.file_name());
            if kind.is_dir() {
                skipped += self.add_tree(&child_rel, &entry.path())?;
            } else if kind.is_file() {
                self.add_file(&child_rel, &entry.path())?;
            } else {
                skipped += 1;
            }
        }
        Ok(skipped)
    }

    /// Writes the end of the tar and the last gzip member, and gives the writer back.
    pub fn finish(self) -> Result<W> {
        Ok(self.finish_counted()?.0)
    }

    /// [`ArchiveWriter::finish`], also giving the size of the tar stream (the unpacked size).
    pub fn finish_counted(self) -> Result<(W, u64)> {
        let counted = self.tar.into_inner().context("cannot finish the archive")?;
        let out = counted
            .inner
            .finish()
            .context("cannot finish the archive")?;
        Ok((out, counted.count))
    }
}

/// Passes bytes to `W` and keeps their count and sha256.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The writer, the number of bytes written and their sha256 (lowercase hex).
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.size, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Entry names must be plain relative paths: what the extractor accepts, we write.
fn check_relative(rel: &Path) -> Result<()> {
    let ok = rel.components().next().is_some()
        && rel.components().all(|c| matches!(c, Component::Normal(_)))
        && rel.to_str().is_some();
    if !ok {
        bail!(
            "archive entry {} must be a relative UTF-8 path without `..`",
            rel.display()
        );
    }
    Ok(())
}

fn mtime_secs(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// Yields exactly `left` bytes or fails: a file that shrank while being archived must not
/// produce an entry shorter than its header says.
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being archived",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(bytes: &[u8]) -> Vec<(String, tar::EntryType, u32, Vec<u8>)> {
        let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(bytes));
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path().unwrap().to_str().unwrap().to_owned();
                let kind = e.header().entry_type();
                let mode = e.header().mode().unwrap();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (name, kind, mode, data)
            })
            .collect()
    }

    #[test]
    fn writes_files_and_sorted_trees_with_normal_modes() {
        let dir = tempfile::tempdir().unwrap();
        let session = dir.path().join("s.jsonl");
        std::fs::write(&session, b"{\"a\":1}\n").unwrap();
        let side = dir.path().join("side");
        std::fs::create_dir_all(side.join("subagents")).unwrap();
        std::fs::write(side.join("subagents/b.jsonl"), b"b\n").unwrap();
        std::fs::write(side.join("a.txt"), b"a").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", side.join("link")).unwrap();

        let mut writer = ArchiveWriter::new(Vec::new());
        writer.add_file(Path::new("s.jsonl"), &session).unwrap();
        assert_eq!(
            writer.add_tree(Path::new("s"), &side).unwrap(),
            1,
            "the symlink is left out"
        );
        let bytes = writer.finish().unwrap();

        let got = entries(&bytes);
        let names: Vec<_> = got.iter().map(|(n, ..)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "s.jsonl",
                "s",
                "s/a.txt",
                "s/subagents",
                "s/subagents/b.jsonl"
            ]
        );
        assert_eq!(got[0].3, b"{\"a\":1}\n");
        assert_eq!((got[0].1, got[0].2), (tar::EntryType::Regular, 0o644));
        assert_eq!((got[1].1, got[1].2), (tar::EntryType::Directory, 0o755));
    }

    #[test]
    fn same_files_give_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"content").unwrap();
        let make = || {
            let mut w = ArchiveWriter::new(Vec::new());
            w.add_file(Path::new("f"), &dir.path().join("f")).unwrap();
            w.finish().unwrap()
        };
        assert_eq!(make(), make());
    }

    #[test]
    fn refuses_bad_entry_names_and_non_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        let mut w = ArchiveWriter::new(Vec::new());
        for bad in ["../f", "/abs", "a/../b", ""] {
            assert!(
                w.add_file(Path::new(bad), &dir.path().join("f")).is_err(),
                "{bad}"
            );
        }
        assert!(w.add_file(Path::new("d"), dir.path()).is_err());
    }

    #[test]
    fn long_names_survive() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        let long = format!("{}/agent-{}.jsonl", "d".repeat(120), "x".repeat(80));
        let mut w = ArchiveWriter::new(Vec::new());
        w.add_file(Path::new(&long), &dir.path().join("f")).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(entries(&bytes)[0].0, long);
    }
}

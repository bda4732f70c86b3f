//! A session packed for upload: the secret scan of its files and the archive written from what
//! the scan read (secrets redacted, optionally encrypted), hashed as it is written.
//!
//! The scan can run on its own thread while the release is read ([`prescan`]); a file without
//! findings then goes into the archive straight from the session (exactly the bytes scanned,
//! checked by CRC), and only a file with findings is copied redacted, because tar needs each
//! entry's size up front.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use super::metadata::Encryption;
use super::{crypt, redact_file, ArchiveWriter, Finding, HashingWriter, Scanner};

/// One archive entry as the secret scan read it: its first `bytes` bytes (CRC-32 `crc`) had
/// `findings`.
pub struct Scanned {
    rel: PathBuf,
    src: PathBuf,
    mtime: u64,
    bytes: u64,
    crc: u32,
    pub findings: Vec<Finding>,
}

/// The secret scan's answer, from its thread.
pub type Prescan = mpsc::Receiver<anyhow::Result<Vec<Scanned>>>;

/// Sets the flag when dropped: stops the scan thread when a push ends before it needs it.
pub struct CancelOnDrop<'a>(pub &'a AtomicBool);

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Where the scan writes: counts and checksums the bytes, keeps none. Fails once cancelled, which
/// ends the scan early.
struct ScanSink<'a> {
    bytes: u64,
    crc: flate2::Crc,
    cancel: &'a AtomicBool,
}

impl Write for ScanSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("the push no longer needs the scan"));
        }
        self.crc.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Scans every entry for secrets without writing anything; a set `cancel` stops it early.
pub fn prescan(
    project_dir: &Path,
    entries: &[PathBuf],
    scanner: &Scanner,
    cancel: &AtomicBool,
) -> anyhow::Result<Vec<Scanned>> {
    let mut out = Vec::with_capacity(entries.len());
    for rel in entries {
        let src = project_dir.join(rel);
        let meta =
            std::fs::metadata(&src).with_context(|| format!("cannot read {}", src.display()))?;
        let mut sink = ScanSink {
            bytes: 0,
            crc: flate2::Crc::new(),
            cancel,
        };
        let findings = redact_file(&src, &mut sink, scanner, &rel.to_string_lossy())?;
        out.push(Scanned {
            rel: rel.clone(),
            src,
            mtime: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
            bytes: sink.bytes,
            crc: sink.crc.sum(),
            findings,
        });
    }
    Ok(out)
}

/// What [`write_archive`] packs.
pub struct ArchiveJob<'a> {
    /// A temporary folder that receives the archive (and redacted copies while packing).
    pub dir: &'a Path,
    pub session_id: &'a str,
    /// The Claude project folder; entries are relative to it.
    pub project_dir: &'a Path,
    pub entries: &'a [PathBuf],
    /// The scan of `entries`; `None` packs them unscanned (`--secrets allow`).
    pub scanned: Option<&'a [Scanned]>,
    pub scanner: &'a Scanner,
    pub passphrase: Option<&'a str>,
}

/// The archive ready to upload.
pub struct PackedArchive {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub encryption: Encryption,
    /// Bytes of the tar stream inside the gzip (what the archive unpacks to).
    pub unpacked_size: u64,
    /// Secrets redacted in the archive, by rule and place.
    pub findings: Vec<Finding>,
}

/// Writes the archive of `job` into `job.dir`: entries with findings redacted, the rest as
/// scanned, then encrypted when there is a passphrase. `watch` is given the archive's path and
/// its result is held while the archive is written (a progress display).
pub fn write_archive<G>(
    job: &ArchiveJob<'_>,
    watch: impl FnOnce(&Path) -> G,
) -> anyhow::Result<PackedArchive> {
    let plain = job.dir.join(format!("{}.tar.gz", job.session_id));
    let mut findings = Vec::new();
    let (plain_size, plain_sha256, unpacked_size) = {
        let _watch = watch(&plain);
        let out = HashingWriter::new(BufWriter::with_capacity(
            1 << 20,
            File::create(&plain).context("cannot create the archive")?,
        ));
        let mut archive = ArchiveWriter::new(out);
        let redacted_dir = tempfile::tempdir_in(job.dir)?;
        match job.scanned {
            None => {
                for rel in job.entries {
                    archive.add_file(rel, &job.project_dir.join(rel))?;
                }
            }
            Some(scanned) => {
                for entry in scanned {
                    if entry.findings.is_empty() {
                        add_scanned(&mut archive, entry)?;
                        continue;
                    }
                    let copy = redacted_dir.path().join("entry");
                    let mut writer = BufWriter::new(File::create(&copy)?);
                    let found = redact_file(
                        &entry.src,
                        &mut writer,
                        job.scanner,
                        &entry.rel.to_string_lossy(),
                    )?;
                    writer.flush()?;
                    drop(writer);
                    findings.extend(found);
                    archive.add_file(&entry.rel, &copy)?;
                }
            }
        }
        let (hashing, unpacked) = archive.finish_counted()?;
        let (mut out, size, sha256) = hashing.finish();
        out.flush().context("cannot write the archive")?;
        (size, sha256, unpacked)
    };
    let Some(passphrase) = job.passphrase else {
        return Ok(PackedArchive {
            path: plain,
            size: plain_size,
            sha256: plain_sha256,
            encryption: Encryption::None,
            unpacked_size,
            findings,
        });
    };
    let encrypted = job.dir.join(format!("{}.tar.gz.age", job.session_id));
    crypt::encrypt_file(&plain, &encrypted, passphrase)?;
    std::fs::remove_file(&plain).ok();
    let (size, sha256) = size_and_sha256(&encrypted)?;
    Ok(PackedArchive {
        path: encrypted,
        size,
        sha256,
        encryption: Encryption::AgeScrypt,
        unpacked_size,
        findings,
    })
}

/// Adds exactly the bytes the scan read (a session that grew since ends where the scan stopped)
/// and checks they are the bytes it read: a file rewritten in between is refused, not uploaded
/// unscanned.
fn add_scanned<W: Write>(archive: &mut ArchiveWriter<W>, entry: &Scanned) -> anyhow::Result<()> {
    let file =
        File::open(&entry.src).with_context(|| format!("cannot read {}", entry.src.display()))?;
    let mut reader = flate2::CrcReader::new(std::io::BufReader::with_capacity(1 << 16, file));
    archive
        .add_reader(&entry.rel, entry.bytes, entry.mtime, &mut reader)
        .with_context(|| format!("cannot add {} to the archive", entry.src.display()))?;
    if reader.crc().sum() != entry.crc {
        anyhow::bail!(
            "{} changed while it was being packed (not only appended to); push again",
            entry.src.display()
        );
    }
    Ok(())
}

fn size_and_sha256(path: &Path) -> anyhow::Result<(u64, String)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(
        &mut std::io::BufReader::with_capacity(1 << 16, file),
        &mut hasher,
    )?;
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_takes_exactly_the_scanned_bytes_and_refuses_a_rewritten_file() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s.jsonl");
        std::fs::write(&src, b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        let cancel = AtomicBool::new(false);
        let scanner = Scanner::new(Vec::new());
        let scanned = prescan(dir.path(), &[PathBuf::from("s.jsonl")], &scanner, &cancel).unwrap();
        assert_eq!(scanned[0].bytes, 16);

        // Appended to after the scan: the archive ends where the scan did.
        std::fs::write(&src, b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n").unwrap();
        let mut archive = ArchiveWriter::new(Vec::new());
        add_scanned(&mut archive, &scanned[0]).unwrap();
        let bytes = archive.finish().unwrap();
        let mut entries = tar::Archive::new(flate2::read::MultiGzDecoder::new(&bytes[..]));
        let mut entry = entries.entries().unwrap().next().unwrap().unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        assert_eq!(data, b"{\"a\":1}\n{\"b\":2}\n");

        // Rewritten (not appended to): refused rather than uploaded unscanned.
        std::fs::write(&src, b"{\"a\":9}\n{\"b\":2}\n").unwrap();
        let mut archive = ArchiveWriter::new(Vec::new());
        let err = add_scanned(&mut archive, &scanned[0]).unwrap_err();
        assert!(
            err.to_string()
                .contains("changed while it was being packed"),
            "{err}"
        );

        // A cancelled scan stops with an error instead of reading on.
        cancel.store(true, Ordering::Relaxed);
        assert!(prescan(dir.path(), &[PathBuf::from("s.jsonl")], &scanner, &cancel).is_err());
    }
}

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
use super::{
    crypt, parlines, redact_file, secrets, ArchiveWriter, Finding, HashingWriter, Scanner,
};

/// Where each archive entry is read from: the project folder (entries are relative to it), except
/// the entries of session state kept elsewhere (`.ccsync-state/...`, see [`crate::store::state`]).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub project_dir: PathBuf,
    /// Entry name to the file it is read from, for entries outside the project folder.
    pub elsewhere: std::collections::BTreeMap<PathBuf, PathBuf>,
    /// Claude Code's temp root the background outputs were read from (the metadata records it).
    pub temp_root: Option<PathBuf>,
}

impl Sources {
    /// Entries read from `project_dir` only.
    pub fn project(project_dir: &Path) -> Sources {
        Sources {
            project_dir: project_dir.to_path_buf(),
            elsewhere: Default::default(),
            temp_root: None,
        }
    }

    /// The file the entry `rel` is read from.
    pub fn path(&self, rel: &Path) -> PathBuf {
        self.elsewhere
            .get(rel)
            .cloned()
            .unwrap_or_else(|| self.project_dir.join(rel))
    }
}

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

impl Scanned {
    /// The entry's path relative to the project folder.
    pub fn rel(&self) -> &Path {
        &self.rel
    }
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

/// Scans every entry for secrets without writing anything, each on every core; a set `cancel`
/// stops it early.
pub fn prescan(
    sources: &Sources,
    entries: &[PathBuf],
    scanner: &Scanner,
    cancel: &AtomicBool,
) -> anyhow::Result<Vec<Scanned>> {
    let threads = super::pargz::default_threads();
    let mut out = Vec::with_capacity(entries.len());
    for rel in entries {
        let src = sources.path(rel);
        let meta =
            std::fs::metadata(&src).with_context(|| format!("cannot read {}", src.display()))?;
        let mut scanned = Scanned {
            rel: rel.clone(),
            src,
            mtime: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
            bytes: 0,
            crc: 0,
            findings: Vec::new(),
        };
        scan_file(&mut scanned, scanner, cancel, threads)?;
        out.push(scanned);
    }
    Ok(out)
}

/// Scans `entry.src` in blocks of lines on `threads` cores and fills in the entry: the findings
/// [`super::redact_file`] would report, and the bytes read with their CRC (what the archive takes
/// when there are no findings, since the redacted copy is then the file itself).
fn scan_file(
    entry: &mut Scanned,
    scanner: &Scanner,
    cancel: &AtomicBool,
    threads: usize,
) -> anyhow::Result<()> {
    let file =
        File::open(&entry.src).with_context(|| format!("cannot read {}", entry.src.display()))?;
    let label = entry.rel.to_string_lossy().into_owned();
    let mut crc = flate2::Crc::new();
    let mut bytes = 0u64;
    let mut lines_before = 0u64;
    let mut key_block_open = false;
    let scan_block = |block: &[u8]| Ok(secrets::scan_lines(scanner, block, false, &label));
    parlines::for_each_block(file, threads, &scan_block, |block, mut scan| {
        if cancel.load(Ordering::Relaxed) {
            anyhow::bail!("the push no longer needs the scan");
        }
        // A worker assumed no private key ran on into its block; when one does (a key in
        // plain text cut by the block's start), the block is read again knowing it.
        if key_block_open {
            scan = secrets::scan_lines(scanner, block, true, &label);
        }
        if scan.timed_out {
            return Err(secrets::ScanTimeout::of(scanner, &label).into());
        }
        crc.update(block);
        bytes += block.len() as u64;
        entry
            .findings
            .extend(scan.findings.into_iter().map(|mut f| {
                f.line += lines_before;
                f
            }));
        lines_before += scan.lines;
        key_block_open = scan.key_block_open;
        Ok(())
    })
    .with_context(|| format!("cannot scan {}", entry.src.display()))?;
    entry.bytes = bytes;
    entry.crc = crc.sum();
    Ok(())
}

/// What [`write_archive`] packs.
pub struct ArchiveJob<'a> {
    /// A temporary folder that receives the archive (and redacted copies while packing).
    pub dir: &'a Path,
    pub session_id: &'a str,
    /// Where the entries are read from.
    pub sources: &'a Sources,
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
    /// The sha256 of each entry's stored bytes (after redaction): the metadata's manifest.
    pub entry_sha256: std::collections::BTreeMap<PathBuf, String>,
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
    let mut entry_sha256 = std::collections::BTreeMap::new();
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
                    let sha = add_hashed(&mut archive, rel, &job.sources.path(rel))?;
                    entry_sha256.insert(rel.clone(), sha);
                }
            }
            Some(scanned) => {
                for entry in scanned {
                    if entry.findings.is_empty() {
                        let sha = add_scanned(&mut archive, entry)?;
                        entry_sha256.insert(entry.rel.clone(), sha);
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
                    let sha = add_hashed(&mut archive, &entry.rel, &copy)?;
                    entry_sha256.insert(entry.rel.clone(), sha);
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
            entry_sha256,
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
        entry_sha256,
    })
}

/// Reads through to `R`, hashing what passes (an entry's sha256 for the manifest).
struct Sha256Reader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: std::io::Read> std::io::Read for Sha256Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Adds the regular file `src` as `rel` (its size as it is now) and gives its sha256.
fn add_hashed<W: Write>(
    archive: &mut ArchiveWriter<W>,
    rel: &Path,
    src: &Path,
) -> anyhow::Result<String> {
    let file = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {}", src.display()))?;
    if !meta.is_file() {
        anyhow::bail!(
            "{} is not a regular file: only regular files go into a session archive",
            src.display()
        );
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let mut reader = Sha256Reader {
        inner: std::io::BufReader::with_capacity(1 << 16, file),
        hasher: Sha256::new(),
    };
    archive
        .add_reader(rel, meta.len(), mtime, &mut reader)
        .with_context(|| format!("cannot add {} to the archive", src.display()))?;
    Ok(hex::encode(reader.hasher.finalize()))
}

/// Adds exactly the bytes the scan read (a session that grew since ends where the scan stopped)
/// and checks they are the bytes it read: a file rewritten in between is refused, not uploaded
/// unscanned.
fn add_scanned<W: Write>(
    archive: &mut ArchiveWriter<W>,
    entry: &Scanned,
) -> anyhow::Result<String> {
    let file =
        File::open(&entry.src).with_context(|| format!("cannot read {}", entry.src.display()))?;
    let mut reader = Sha256Reader {
        inner: flate2::CrcReader::new(std::io::BufReader::with_capacity(1 << 16, file)),
        hasher: Sha256::new(),
    };
    archive
        .add_reader(&entry.rel, entry.bytes, entry.mtime, &mut reader)
        .with_context(|| format!("cannot add {} to the archive", entry.src.display()))?;
    if reader.inner.crc().sum() != entry.crc {
        anyhow::bail!(
            "{} changed while it was being packed (not only appended to); push again",
            entry.src.display()
        );
    }
    Ok(hex::encode(reader.hasher.finalize()))
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

    /// The scan in blocks on several cores reports what the one-thread redaction reports, with
    /// the same line numbers, also for a plain-text private key cut by a block's start.
    #[test]
    fn scan_in_blocks_finds_what_the_serial_redaction_finds() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("tool-output.txt");
        let filler = format!("{}\n", "plain words and numbers 12345 ".repeat(3));
        let mut text = String::new();
        // A token on the first line, then filler up to just before the first block's end.
        text.push_str(&format!(
            "token ghp_{}\n",
            "a1B2c3D4e5".repeat(4).get(..36).unwrap()
        ));
        while text.len() < (1 << 20) - 150 {
            text.push_str(&filler);
        }
        // A key whose material runs over the 1 MiB cut; a line after it that is no key.
        text.push_str("-----BEGIN RSA PRIVATE KEY-----\n");
        // Inside a key, a line of key material that happens to look like an AWS key id is key
        // material (redacted whole, no finding of its own); read as an ordinary line, it would be
        // reported.
        for _ in 0..8 {
            text.push_str("MIIEowIBAAKCAQEA7bq98v1Zz0abcdefghijklmnopQRSTUV0123456789+/\n");
            text.push_str("AKIAIOSFODNN7EXAMPLQ\n");
        }
        text.push_str("-----END RSA PRIVATE KEY-----\nafter the key\n");
        while text.len() < (5 << 20) / 2 {
            text.push_str(&filler);
        }
        text.push_str("last line AKIAIOSFODNN7EXAMPLQ without a newline");
        std::fs::write(&src, &text).unwrap();

        let scanner = Scanner::new(Vec::new());
        let mut copy = Vec::new();
        let want = redact_file(&src, &mut copy, &scanner, "tool-output.txt").unwrap();
        let rules: Vec<_> = want.iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["github-token", "private-key", "aws-access-key"]);
        let cancel = AtomicBool::new(false);
        for threads in [1, 2, 3] {
            let mut entry = Scanned {
                rel: PathBuf::from("tool-output.txt"),
                src: src.clone(),
                mtime: 0,
                bytes: 0,
                crc: 0,
                findings: Vec::new(),
            };
            scan_file(&mut entry, &scanner, &cancel, threads).unwrap();
            assert_eq!(entry.findings, want, "threads {threads}");
            assert_eq!(entry.bytes, text.len() as u64);
            let mut crc = flate2::Crc::new();
            crc.update(text.as_bytes());
            assert_eq!(entry.crc, crc.sum());
        }
    }

    #[test]
    fn packing_takes_exactly_the_scanned_bytes_and_refuses_a_rewritten_file() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s.jsonl");
        std::fs::write(&src, b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        let cancel = AtomicBool::new(false);
        let scanner = Scanner::new(Vec::new());
        let scanned = prescan(
            &Sources::project(dir.path()),
            &[PathBuf::from("s.jsonl")],
            &scanner,
            &cancel,
        )
        .unwrap();
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
        assert!(prescan(
            &Sources::project(dir.path()),
            &[PathBuf::from("s.jsonl")],
            &scanner,
            &cancel,
        )
        .is_err());
    }
}

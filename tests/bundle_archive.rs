//! The session archive end to end: what we write, the system `tar` reads and our extractor reads;
//! every hostile archive is refused with nothing written anywhere.

mod support;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ccsync::bundle::archive::ArchiveWriter;
use ccsync::bundle::crypt;
use ccsync::bundle::extract::{extract_to_temp, verify_file, Limits};
use flate2::{Compress, Compression, FlushCompress};
use sha2::{Digest, Sha256};

const SESSION: &str = "4d5611e5-241a-462a-8d15-5122611a9569";

/// A project folder with a session, its side folder (subagents, tool results) and a 2.0.x agent
/// file, plus things that must never be archived.
fn project(root: &Path) -> PathBuf {
    let p = root.join("projects/-home-me-app");
    std::fs::create_dir_all(p.join(SESSION).join("subagents")).unwrap();
    std::fs::create_dir_all(p.join(SESSION).join("tool-results")).unwrap();
    std::fs::write(
        p.join(format!("{SESSION}.jsonl")),
        "{\"type\":\"user\",\"cwd\":\"/home/me/app\"}\n".repeat(50),
    )
    .unwrap();
    std::fs::write(
        p.join(SESSION).join("subagents/agent-a1.jsonl"),
        b"{\"isSidechain\":true}\n",
    )
    .unwrap();
    std::fs::write(p.join(SESSION).join("subagents/agent-a1.meta.json"), b"{}").unwrap();
    std::fs::write(
        p.join(SESSION).join("tool-results/t1.txt"),
        vec![b'x'; 200_000],
    )
    .unwrap();
    std::fs::write(p.join("agent-1234abcd.jsonl"), b"{\"sessionId\":\"x\"}\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.join(SESSION).join("tool-results/link")).unwrap();
    p
}

fn write_session_archive(project: &Path, out: &Path) {
    let mut w = ArchiveWriter::new(File::create(out).unwrap());
    let main = format!("{SESSION}.jsonl");
    w.add_file(Path::new(&main), &project.join(&main)).unwrap();
    assert_eq!(
        w.add_tree(Path::new(SESSION), &project.join(SESSION))
            .unwrap(),
        1,
        "the symlink is skipped"
    );
    w.add_file(
        Path::new("agent-1234abcd.jsonl"),
        &project.join("agent-1234abcd.jsonl"),
    )
    .unwrap();
    w.finish().unwrap().sync_all().unwrap();
}

/// Every regular file below `dir`, relative, with its content; anything else fails the test.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    tree_of(dir, false)
}

fn tree_of(dir: &Path, skip_links: bool) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_symlink() && skip_links {
                continue;
            } else {
                assert!(
                    kind.is_file(),
                    "{} is not a regular file",
                    e.path().display()
                );
                out.push((
                    e.path().strip_prefix(dir).unwrap().to_owned(),
                    std::fs::read(e.path()).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn sha256_file(path: &Path) -> (u64, String) {
    let bytes = std::fs::read(path).unwrap();
    (bytes.len() as u64, hex::encode(Sha256::digest(&bytes)))
}

#[test]
fn system_tar_and_our_extractor_read_what_we_write() {
    let temp = tempfile::tempdir().unwrap();
    let project = project(temp.path());
    let archive = temp.path().join("claude-session.tar.gz");
    write_session_archive(&project, &archive);
    let expected = tree_of(&project, true);

    let (size, sha) = sha256_file(&archive);
    verify_file(&archive, size, &sha).unwrap();
    let dest_parent = temp.path().join("restore");
    std::fs::create_dir(&dest_parent).unwrap();
    let out = extract_to_temp(&archive, &dest_parent, &Limits::default()).unwrap();
    assert_eq!(tree(out.dir.path()), expected);
    assert_eq!(out.files.len(), expected.len());
    assert_eq!(
        out.files[0],
        PathBuf::from(format!("{SESSION}.jsonl")),
        "archive order kept"
    );

    let by_tar = temp.path().join("by-tar");
    let Some(status) = support::system_untar(&archive, &by_tar) else {
        return;
    };
    assert!(status.success());
    assert_eq!(tree(&by_tar), expected);
    let listing = Command::new(support::tool("tar").expect("tar ran above"))
        .arg("-tvzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    for line in listing.lines() {
        assert!(
            line.starts_with("-rw-r--r--") || line.starts_with("drwxr-xr-x"),
            "{line}"
        );
    }
}

#[test]
fn our_extractor_reads_what_system_tar_writes() {
    let Some(tar) = support::require_tool("tar", "apt-get install tar") else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let project = project(temp.path());
    std::fs::remove_file(project.join(SESSION).join("tool-results/link")).unwrap();
    for format in ["gnu", "pax", "ustar"] {
        let archive = temp.path().join(format!("{format}.tar.gz"));
        let status = Command::new(&tar)
            .args(["--format", format, "-czf"])
            .arg(&archive)
            .arg("-C")
            .arg(&project)
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
        let out = extract_to_temp(&archive, temp.path(), &Limits::default()).unwrap();
        assert_eq!(tree(out.dir.path()), tree(&project), "{format}");
    }
}

/// A tar entry with any name, type and link target (the tar crate refuses to write hostile
/// names itself, so the header is filled in by hand).
fn raw_entry(name: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_size(data.len() as u64);
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(tar).unwrap();
    enc.write_all(&[0; 1024]).unwrap();
    enc.finish().unwrap()
}

/// Runs the extractor on `bytes` in `<base>/project` after a successful checksum check, and
/// asserts it fails and that neither the project folder nor anything around it changed.
fn assert_refused(what: &str, bytes: &[u8], expect: &str) {
    let base = tempfile::tempdir().unwrap();
    let base_path = std::fs::canonicalize(base.path()).unwrap();
    let parent = base_path.join("project");
    std::fs::create_dir(&parent).unwrap();
    std::fs::write(parent.join("existing.jsonl"), b"keep\n").unwrap();
    let archive = base_path.join("asset.tar.gz");
    std::fs::write(&archive, bytes).unwrap();
    let before = snapshot(&base_path);

    let (size, sha) = sha256_file(&archive);
    verify_file(&archive, size, &sha).unwrap();
    let err = format!(
        "{:#}",
        // As restore reads it: held to the size a pusher records for a small session.
        extract_to_temp(&archive, &parent, &Limits::for_unpacked_size(Some(1 << 20)))
            .expect_err(what)
    );
    assert!(err.contains(expect), "{what}: {err}");
    assert_eq!(snapshot(&base_path), before, "{what} left something behind");
    assert!(!Path::new("/tmp/ccsync-evil-absolute").exists());
}

/// Every path below `dir` (links not followed) with its kind and size.
fn snapshot(dir: &Path) -> Vec<(PathBuf, bool, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            }
            out.push((e.path(), meta.is_dir(), meta.len()));
        }
    }
    out.sort();
    out
}

#[test]
fn hostile_archives_are_refused_with_nothing_written() {
    use tar::EntryType::*;
    let ok = raw_entry(b"ok.jsonl", Regular, b"", b"{}\n");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dot-dot",
            [
                ok.clone(),
                raw_entry(b"../escaped.jsonl", Regular, b"", b"x"),
            ]
            .concat(),
            "`..`",
        ),
        (
            "nested dot-dot",
            raw_entry(b"a/../../escaped.jsonl", Regular, b"", b"x"),
            "`..`",
        ),
        (
            "absolute",
            raw_entry(b"/tmp/ccsync-evil-absolute", Regular, b"", b"x"),
            "absolute",
        ),
        (
            "symlink then a file through it",
            [
                raw_entry(b"link", Symlink, b"..", b""),
                raw_entry(b"link/escaped.jsonl", Regular, b"", b"x"),
            ]
            .concat(),
            "is a link",
        ),
        (
            "hard link",
            [ok.clone(), raw_entry(b"hard", Link, b"/etc/passwd", b"")].concat(),
            "is a link",
        ),
        (
            "char device",
            raw_entry(b"null", Char, b"", b""),
            "unsupported type",
        ),
        (
            "block device",
            raw_entry(b"sda", Block, b"", b""),
            "unsupported type",
        ),
        (
            "fifo",
            raw_entry(b"pipe", Fifo, b"", b""),
            "unsupported type",
        ),
        ("duplicate", [ok.clone(), ok.clone()].concat(), "twice"),
        (
            "non-UTF-8 name",
            raw_entry(b"\xff\xfe.jsonl", Regular, b"", b"x"),
            "not UTF-8",
        ),
        (
            "backslash name",
            raw_entry(b"..\\escaped", Regular, b"", b"x"),
            "backslash",
        ),
    ];
    for (what, tar, expect) in cases {
        assert_refused(what, &gzip(&tar), expect);
    }
}

#[test]
fn torn_and_corrupt_gzip_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    let project = project(temp.path());
    let archive = temp.path().join("a.tar.gz");
    write_session_archive(&project, &archive);
    let bytes = std::fs::read(&archive).unwrap();
    assert_refused("torn in the middle", &bytes[..bytes.len() / 2], "");
    // Cut inside the gzip trailer: every entry is complete, only the checksum is missing.
    assert_refused("torn trailer", &bytes[..bytes.len() - 3], "");
    let mut flipped = bytes.clone();
    let n = flipped.len();
    flipped[n - 6] ^= 0xff; // the stored CRC
    assert_refused("bad crc", &flipped, "");
    assert_refused("not gzip", b"PK\x03\x04 this is a zip", "");
}

/// A valid gzip stream of `header` followed by `zeros` MiB of zeros, built without compressing
/// a GiB: one fully flushed deflate block of 1 MiB of zeros repeated (each one stands alone).
fn zero_bomb(header: &[u8], zeros_mib: u64) -> Vec<u8> {
    let deflate = |data: &[u8], flush: FlushCompress| {
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(data.len() / 100 + 1024);
        c.compress_vec(data, &mut out, flush).unwrap();
        out
    };
    let mib = vec![0u8; 1 << 20];
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend(deflate(header, FlushCompress::Full));
    let block = deflate(&mib, FlushCompress::Full);
    assert!(block.len() < 8192);
    let mut crc = flate2::Crc::new();
    crc.update(header);
    let mut crc_mib = flate2::Crc::new();
    crc_mib.update(&mib);
    for _ in 0..zeros_mib {
        out.extend_from_slice(&block);
        crc.combine(&crc_mib);
    }
    out.extend(deflate(&[], FlushCompress::Finish));
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&((header.len() as u64 + (zeros_mib << 20)) as u32).to_le_bytes());
    out
}

#[test]
fn gzip_bombs_abort_quickly() {
    // The bomb is a real gzip file: prove it with the system gzip when available.
    let small = zero_bomb(
        &raw_entry(b"s.jsonl", tar::EntryType::Regular, b"", b"")[..512],
        3,
    );
    let mut d = flate2::read::GzDecoder::new(&small[..]);
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut d, &mut unpacked).unwrap();
    assert_eq!(unpacked.len(), 512 + (3 << 20));

    // One entry claiming 1 GiB of zeros. Bombs are stopped by the unpacked size the metadata
    // records (verified facts), not by a compression ratio.
    let mut header = tar::Header::new_gnu();
    header.set_path("s.jsonl").unwrap();
    header.set_size(1 << 30);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let started = Instant::now();
    assert_refused(
        "1 GiB file of zeros",
        &zero_bomb(header.as_bytes(), 1024),
        "the unpacked size its metadata records",
    );
    // Nothing but zeros: an empty tar that keeps inflating after its end marker.
    assert_refused(
        "1 GiB of zeros after the end marker",
        &zero_bomb(&[], 1024),
        "the unpacked size its metadata records",
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn checksum_mismatch_is_refused_before_extraction() {
    let temp = tempfile::tempdir().unwrap();
    let project = project(temp.path());
    let archive = temp.path().join("a.tar.gz");
    write_session_archive(&project, &archive);
    let (size, sha) = sha256_file(&archive);
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&archive, &bytes).unwrap();
    let err = verify_file(&archive, size, &sha).unwrap_err().to_string();
    assert!(err.contains("sha256"), "{err}");
    std::fs::write(&archive, &bytes[..bytes.len() - 1]).unwrap();
    let err = verify_file(&archive, size, &sha).unwrap_err().to_string();
    assert!(err.contains("bytes"), "{err}");
}

#[test]
fn encrypted_archive_round_trip() {
    let temp = tempfile::tempdir().unwrap();
    let project = project(temp.path());
    let archive = temp.path().join("a.tar.gz");
    write_session_archive(&project, &archive);
    let sealed = temp.path().join("a.tar.gz.age");
    crypt::encrypt_file_with_work_factor(&archive, &sealed, "pass phrase", 12).unwrap();
    let opened = temp.path().join("opened.tar.gz");
    assert!(crypt::decrypt_file(&sealed, &opened, "other").is_err());
    assert!(!opened.exists());
    crypt::decrypt_file(&sealed, &opened, "pass phrase").unwrap();
    assert_eq!(
        std::fs::read(&opened).unwrap(),
        std::fs::read(&archive).unwrap()
    );
    let out = extract_to_temp(&opened, temp.path(), &Limits::default()).unwrap();
    assert_eq!(out.files.len(), 5);
}

#[test]
fn real_sessions_compress_well_under_the_ratio_cap() {
    let Some(corpus) = support::corpus_dir() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let mut worst = 0.0f64;
    for entry in walk(&corpus)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
    {
        let archive = temp.path().join("a.tar.gz");
        let mut w = ArchiveWriter::new(File::create(&archive).unwrap());
        w.add_file(Path::new("s.jsonl"), &entry).unwrap();
        w.finish().unwrap();
        let ratio = std::fs::metadata(&entry).unwrap().len() as f64
            / std::fs::metadata(&archive).unwrap().len() as f64;
        worst = worst.max(ratio);
        let out = extract_to_temp(&archive, temp.path(), &Limits::default()).unwrap();
        assert_eq!(
            std::fs::read(out.path(Path::new("s.jsonl"))).unwrap(),
            std::fs::read(&entry).unwrap()
        );
    }
    // No ratio cap exists to come close to: real sessions restore whatever they compress to.
    eprintln!("highest compression ratio of a real session: {worst:.1}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

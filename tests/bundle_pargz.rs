//! The parallel gzip under the session archive (issue 7): an archive of several gzip members
//! that `tar -xzf` and our extractor both read, whose size stays within 5% of `gzip -6`, written
//! on several threads with the same bytes as on one.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ccsync::bundle::archive::ArchiveWriter;
use ccsync::bundle::{extract_to_temp, HashingWriter, Limits};
use sha2::{Digest, Sha256};

/// The corpus's session files, concatenated (in a temporary copy) until the sample has at least
/// `min` bytes, so the archive spans several 1 MiB gzip members. Real text, real compressibility.
/// Without the corpus, session-like generated lines.
fn sample(dir: &Path, min: u64) -> PathBuf {
    real_sample(dir, min).unwrap_or_else(|| generated_sample(dir, min))
}

fn generated_sample(dir: &Path, min: u64) -> PathBuf {
    const WORDS: &[&str] = &[
        "the",
        "session",
        "archive",
        "upload",
        "release",
        "branch",
        "record",
        "stream",
        "gzip",
        "member",
        "thread",
        "record",
        "uuid",
        "parent",
        "assistant",
        "user",
        "tool",
        "result",
    ];
    let sample = dir.join("sample.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&sample).unwrap());
    let (mut x, mut written, mut n) = (0x2545_f491_4f6c_dd1d_u64, 0u64, 0u64);
    while written < min {
        let mut text = String::new();
        for _ in 0..40 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
            text.push(' ');
        }
        n += 1;
        let line = format!(
            "{{\"type\":\"user\",\"uuid\":\"{x:016x}-{n}\",\"cwd\":\"/home/u/app\",\"message\":{{\"content\":\"{text}\"}}}}\n"
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
    }
    out.flush().unwrap();
    sample
}

fn real_sample(dir: &Path, min: u64) -> Option<PathBuf> {
    let corpus = support::corpus_dir()?;
    let mut files = Vec::new();
    let mut stack = vec![corpus];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                files.push(path);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return None;
    }
    let sample = dir.join("sample.jsonl");
    let mut out = std::fs::File::create(&sample).unwrap();
    let mut written = 0u64;
    'fill: loop {
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            out.write_all(&bytes).unwrap();
            written += bytes.len() as u64;
            if written >= min {
                break 'fill;
            }
        }
    }
    Some(sample)
}

fn archive(sample: &Path, out: &Path, threads: usize) -> (u64, String) {
    let file = std::fs::File::create(out).unwrap();
    let mut writer = ArchiveWriter::with_threads(HashingWriter::new(file), threads);
    writer
        .add_file(Path::new("sample.jsonl"), sample)
        .expect("archive");
    let (_, size, sha) = writer.finish().unwrap().finish();
    (size, sha)
}

#[test]
fn multi_member_archive_reads_everywhere_and_stays_near_gzip_6() {
    let temp = tempfile::tempdir().unwrap();
    let sample = sample(temp.path(), 6 << 20);
    let ours = temp.path().join("ours.tar.gz");
    let (size, sha) = archive(&sample, &ours, 2);
    let bytes = std::fs::read(&ours).unwrap();
    assert_eq!(size, bytes.len() as u64, "HashingWriter counts every byte");
    assert_eq!(sha, hex::encode(Sha256::digest(&bytes)));
    let members = bytes
        .windows(4)
        .filter(|w| w == &[0x1f, 0x8b, 0x08, 0x00])
        .count();
    assert!(members >= 6, "one gzip member per MiB, got {members}");

    // One thread or two: the same bytes.
    let single = temp.path().join("single.tar.gz");
    assert_eq!(archive(&sample, &single, 1).1, sha);

    // Our extractor.
    let parent = temp.path().join("restore");
    std::fs::create_dir(&parent).unwrap();
    let out = extract_to_temp(&ours, &parent, &Limits::default()).unwrap();
    assert_eq!(out.files, vec![PathBuf::from("sample.jsonl")]);
    assert!(
        std::fs::read(out.path(Path::new("sample.jsonl"))).unwrap()
            == std::fs::read(&sample).unwrap(),
        "our extractor gives the file back"
    );

    let by_tar = temp.path().join("by-tar");
    let Some(status) = support::system_untar(&ours, &by_tar) else {
        return;
    };
    assert!(status.success(), "tar -xzf reads the multi-member archive");
    assert!(
        std::fs::read(by_tar.join("sample.jsonl")).unwrap() == std::fs::read(&sample).unwrap(),
        "tar -xzf gives the file back"
    );

    // The same tar stream through `gzip -6`: ours is within 5% of it.
    let Some(gzip) = support::require_tool("gzip", "apt-get install gzip") else {
        return;
    };
    let tar_stream = Command::new(support::tool("tar").expect("tar ran above"))
        .args(["-cf", "-", "-C"])
        .arg(temp.path())
        .arg("sample.jsonl")
        .output()
        .unwrap()
        .stdout;
    let mut child = Command::new(&gzip)
        .arg("-6")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&tar_stream).unwrap());
    let gz = child.wait_with_output().unwrap().stdout;
    feeder.join().unwrap();
    let ratio = size as f64 / gz.len() as f64;
    assert!(
        ratio < 1.05,
        "ours {size} bytes, gzip -6 {} bytes: {:.1}% larger",
        gz.len(),
        (ratio - 1.0) * 100.0
    );
}

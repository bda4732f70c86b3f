//! Property: any session `release-push` accepts, `release-restore` installs byte-identical: random
//! sizes, compressibility from random bytes to test logs that gzip shrinks 100x and more, side
//! files and project memory. Few cases (each is a push and a restore through the binary).

mod everyday_support;
mod support;

use std::path::{Path, PathBuf};

use everyday_support::{assert_code, Laptop};
use proptest::prelude::*;

/// Text of `len` bytes: `kind` 0 random base64 (barely compressible), 1 a test log (100x+),
/// 2 one byte repeated (1000x).
fn content(kind: u8, len: usize, seed: u64) -> Vec<u8> {
    match kind {
        0 => {
            use base64::Engine as _;
            let mut state = seed | 1;
            let mut raw = Vec::with_capacity(len);
            while raw.len() < len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                raw.extend_from_slice(&state.to_le_bytes());
            }
            let mut text = base64::engine::general_purpose::STANDARD
                .encode(raw)
                .into_bytes();
            text.truncate(len);
            text
        }
        1 => {
            let mut log = Vec::with_capacity(len + 64);
            let mut n = seed;
            while log.len() < len {
                n += 1;
                log.extend_from_slice(
                    format!("PASS src/components/Button.test.tsx ({} ms)\n", n % 9).as_bytes(),
                );
            }
            log.truncate(len);
            log
        }
        _ => vec![b'x'; len],
    }
}

fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn what_push_accepts_restore_installs_byte_identical(
        side in proptest::collection::vec((0u8..3, 0usize..(6 << 20)), 0..4),
        memory in proptest::option::of((0u8..3, 1usize..20_000)),
        seed in any::<u64>(),
    ) {
        let laptop = Laptop::new();
        let session = laptop.session("main", "2026-03-01T10:00:00Z");
        let project = laptop.project_dir();
        let results = project.join(&session.id).join("tool-results");
        std::fs::create_dir_all(&results).unwrap();
        for (i, (kind, len)) in side.iter().enumerate() {
            std::fs::write(results.join(format!("toolu_{i}.txt")), content(*kind, *len, seed ^ i as u64)).unwrap();
        }
        if let Some((kind, len)) = memory {
            std::fs::create_dir_all(project.join("memory")).unwrap();
            std::fs::write(project.join("memory/MEMORY.md"), content(kind, len, seed)).unwrap();
        }
        let before = files_under(&project);
        let mut cmd = laptop.cmd(&["release-push", "--session", &session.id, "--secrets", "allow"]);
        cmd.env("CCSYNC_NO_CACHE", "1");
        let push = everyday_support::run(cmd);
        assert_code(&push, 0);
        std::fs::remove_dir_all(&project).unwrap();
        let restore = laptop.run(&["release-restore"]);
        assert_code(&restore, 0);
        let after: Vec<(PathBuf, Vec<u8>)> = files_under(&project)
            .into_iter()
            .filter(|(rel, _)| !rel.to_string_lossy().starts_with('.'))
            .collect();
        let names = |v: &[(PathBuf, Vec<u8>)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
        prop_assert_eq!(names(&after), names(&before));
        for ((rel, a), (_, b)) in after.iter().zip(before.iter()) {
            prop_assert!(a == b, "{} differs after the round trip", rel.display());
        }
    }
}

//! Any bytes as a downloaded session archive: the extractor must refuse or extract only regular
//! files inside its temporary folder, and leave nothing behind on refusal.
#![no_main]

use ccsync::bundle::extract::{extract_to_temp, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar.gz");
    std::fs::write(&archive, data).unwrap();
    let parent = dir.path().join("parent");
    std::fs::create_dir(&parent).unwrap();
    let limits = Limits { max_entries: 64, max_total_bytes: 4 << 20, max_file_bytes: 1 << 20, max_stream_bytes: 5 << 20, max_ratio: 200 };
    match extract_to_temp(&archive, &parent, &limits) {
        Ok(out) => {
            for rel in &out.files {
                assert!(rel.is_relative());
                assert!(rel.components().all(|c| matches!(c, std::path::Component::Normal(_))));
                let meta = std::fs::symlink_metadata(out.path(rel)).unwrap();
                assert!(meta.is_file());
            }
            assert!(out.files.len() <= 64);
        }
        Err(_) => {
            assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 0, "a refused archive left files behind");
        }
    }
});

//! Any bytes as a downloaded session archive: the extractor must refuse or extract only regular
//! files inside its temporary folder, and leave nothing behind on refusal. Extracted as the archive
//! of one session, only that session's entries may come out.
#![no_main]

use ccsync::bundle::entries::check_name;
use ccsync::bundle::extract::{extract_session, extract_to_temp, Limits};
use libfuzzer_sys::fuzz_target;

const ID: &str = "4d5611e5-241a-462a-8d15-5122611a9569";

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar.gz");
    std::fs::write(&archive, data).unwrap();
    let parent = dir.path().join("parent");
    std::fs::create_dir(&parent).unwrap();
    let limits = Limits { max_entries: 64, max_total_bytes: 4 << 20, max_file_bytes: 1 << 20, max_stream_bytes: 5 << 20 };
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
    assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 0, "the temporary folder went away");
    match extract_session(&archive, &parent, &limits, ID) {
        Ok(out) => {
            for rel in &out.files {
                check_name(ID, rel, false).expect("only the session's entries come out");
                let meta = std::fs::symlink_metadata(out.path(rel)).unwrap();
                assert!(meta.is_file());
            }
        }
        Err(_) => {
            assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 0, "a refused archive left files behind");
        }
    }
});

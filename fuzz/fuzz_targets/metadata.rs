//! Any bytes as a downloaded metadata asset: parse never panics, and what parses writes back to
//! the same value.
#![no_main]

use ccsync::bundle::Metadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(meta) = Metadata::parse(data) {
        let again = Metadata::parse(meta.to_json().as_bytes()).expect("our own JSON parses");
        assert_eq!(again, meta);
    }
});

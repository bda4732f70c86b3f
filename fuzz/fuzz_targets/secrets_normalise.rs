//! Any bytes as one line, through the secret scan's normalisation and mapping: every view maps
//! each of its bytes inside the line, in order; every finding maps inside the line (inside one
//! string literal of a JSON line); redacting a valid JSON line keeps it valid JSON; a redacted
//! line holds no finding any more.
#![no_main]

use ccsync::bundle::secrets::normalise::{segments, View};
use ccsync::bundle::secrets::Scanner;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn is_json(s: &[u8]) -> bool {
    let mut any = false;
    for v in serde_json::Deserializer::from_slice(s).into_iter::<serde_json::Value>() {
        if v.is_err() {
            return false;
        }
        any = true;
    }
    any
}

fuzz_target!(|line: &[u8]| {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    let scanner = SCANNER.get_or_init(|| Scanner::new(vec!["ghs_literalTOKEN123456".into()]));
    let segs = segments(line);
    for seg in &segs {
        assert!(seg.start <= seg.end && seg.end <= line.len());
        let view = View::of_segment(line, *seg);
        for v in [Some(view.clone()), view.normalised()].iter().flatten() {
            let mut last = 0;
            for i in 0..v.text.len() {
                let (s, e) = v.raw_span(i, i + 1);
                assert!(seg.start <= s && s < e && e <= seg.end, "view byte outside its segment");
                assert!(s >= last, "view bytes out of order");
                last = s;
            }
        }
    }
    let valid = is_json(line);
    // Only a line that opens like a JSONL record (`{`, `[`, `"`) is lexed into string literals;
    // any other line, even a stream of JSON values such as `0"..."`, is plain text to the scan.
    let lexed = segs.iter().any(|s| s.string);
    let scan = scanner.scan(line);
    for hit in &scan.hits {
        assert!(hit.start < hit.end && hit.end <= line.len());
        if valid && lexed {
            assert!(
                segs.iter().any(|s| s.string && s.start <= hit.start && hit.end <= s.end),
                "finding outside one string literal"
            );
        }
    }
    let (out, rules) = scanner.redact_bytes(line);
    if valid {
        assert!(is_json(&out), "redaction broke JSON");
    }
    if !rules.is_empty() {
        let (_, again) = scanner.redact_bytes(&out);
        assert!(again.is_empty(), "redacted line still holds {again:?}");
    }
});

//! Properties of the secret scan's normalisation and mapping, on stable (the fuzz target
//! `fuzz/fuzz_targets/secrets_normalise.rs` checks the same on nightly): redacting never breaks
//! a valid JSON line, every finding maps to raw bytes inside the line (inside one string literal
//! of a JSON line), views map each byte inside the line in order, and a redacted line holds no
//! secret any more.

use ccsync::bundle::secrets::normalise::{segments, View};
use ccsync::bundle::secrets::Scanner;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::OnceLock;

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| Scanner::new(vec!["ghs_literalTOKEN123456".into()]))
}

/// Pieces that secrets, escapes and hiding contexts are made of.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        "[\\\\\"\n\t%\u{1b}\u{e9}\u{2192}\u{1F600}]{1,4}",
        Just("ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5".to_owned()),
        Just("AKIAZ7QPLMXW3RT9VB2K".to_owned()),
        Just("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98v1Zz0ab\n".to_owned()),
        Just("-----END RSA PRIVATE KEY-----".to_owned()),
        Just("\u{1b}[31m".to_owned()),
        Just("%2F%3D%5F".to_owned()),
        Just("DB_PASSWORD=Xk9mP2vL7qRt".to_owned()),
        Just("postgres://u:Pw0rd7xQz@db/x".to_owned()),
        Just("\"auth\": \"dXNlcjpwYXNzd29yZDEy\"".to_owned()),
        Just("     12→".to_owned()),
        Just("\\n\\\"\\\\u00".to_owned()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..8).prop_map(|p| p.concat())
}

/// A record like Claude Code writes, with strings (and JSON inside strings) made of pieces.
fn record() -> impl Strategy<Value = String> {
    (text(), text(), text(), any::<bool>()).prop_map(|(a, b, c, nest)| {
        let inner = if nest {
            json!({"stdout": b, "deeper": json!({"x": c}).to_string()}).to_string()
        } else {
            b
        };
        json!({"type": "user", "message": {"content": [{"type": "tool_result", "content": a, "k": inner}]}, c.clone(): 1})
            .to_string()
    })
}

fn is_json(s: &[u8]) -> bool {
    let mut any = false;
    for v in serde_json::Deserializer::from_slice(s).into_iter::<serde::de::IgnoredAny>() {
        if v.is_err() {
            return false;
        }
        any = true;
    }
    any
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn redaction_keeps_json_lines_valid_and_findings_inside_strings(line in record()) {
        let bytes = line.as_bytes();
        let scan = scanner().scan(bytes);
        let segs = segments(bytes);
        for hit in &scan.hits {
            prop_assert!(hit.start < hit.end && hit.end <= bytes.len());
            prop_assert!(
                segs.iter().any(|s| s.string && s.start <= hit.start && hit.end <= s.end),
                "finding outside one string literal"
            );
        }
        let (out, rules) = scanner().redact_bytes(bytes);
        // (Redaction also takes what a scan of its own output finds: at least the hits.)
        prop_assert!(rules.len() >= scan.hits.len());
        prop_assert!(is_json(&out), "redaction broke {}", line);
        prop_assert!(std::str::from_utf8(&out).is_ok());
        if !rules.is_empty() {
            let (_, again) = scanner().redact_bytes(&out);
            prop_assert!(again.is_empty(), "still holds {:?}", again);
        }
    }

    #[test]
    fn views_map_every_byte_inside_the_line_in_order(line in text()) {
        let bytes = line.as_bytes();
        for seg in segments(bytes) {
            let view = View::of_segment(bytes, seg);
            let views = [Some(view.clone()), view.normalised()];
            for v in views.iter().flatten() {
                let mut last = 0;
                for i in 0..v.text.len() {
                    let (s, e) = v.raw_span(i, i + 1);
                    prop_assert!(seg.start <= s && s < e && e <= seg.end);
                    prop_assert!(s >= last);
                    last = s;
                }
            }
        }
        // Any text: no panic, and what is redacted is not found again.
        let (out, _) = scanner().redact_bytes(bytes);
        let decoded: Result<Value, _> = serde_json::from_slice(bytes);
        if decoded.is_ok() {
            prop_assert!(is_json(&out));
        }
    }
}

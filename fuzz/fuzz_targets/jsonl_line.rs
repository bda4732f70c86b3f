//! Any text as one record line, through the path rewrite and the secret scan: no panic; valid
//! JSON stays valid JSON; the rewrite maps back; a redacted line holds no finding any more.
#![no_main]

use ccsync::bundle::{PathMap, Scanner};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn is_json(s: &str) -> bool {
    let mut any = false;
    for v in serde_json::Deserializer::from_str(s).into_iter::<serde_json::Value>() {
        if v.is_err() {
            return false;
        }
        any = true;
    }
    any
}

fuzz_target!(|line: &str| {
    static TOOLS: OnceLock<(PathMap, Scanner)> = OnceLock::new();
    let (map, scanner) = TOOLS.get_or_init(|| {
        let map = PathMap::new(vec![
            ("/x/app".into(), "/ci/w/app".into()),
            ("/x/.claude/projects/-x-app".into(), "/ci/h/.claude/projects/-ci-w-app".into()),
        ]);
        (map, Scanner::new(vec!["ghs_literalTOKEN123".into()]))
    });
    let valid = is_json(line);

    let out = map.rewrite_record(line).expect("rewrite never fails on text");
    if valid {
        assert!(is_json(&out), "rewrite broke JSON");
    }
    // Laptop -> CI -> laptop is the identity when the CI paths did not occur before.
    if !line.contains("/ci/") && !line.contains('\\') {
        let back = map.reversed().rewrite_record(&out).unwrap();
        if valid {
            let a: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            let b: serde_json::Value = serde_json::from_str(&back).unwrap_or_default();
            assert_eq!(a, b, "round trip changed the record");
        } else {
            assert_eq!(back, line, "round trip changed the raw line");
        }
    }

    let (red, rules) = scanner.redact_line(line);
    if valid {
        assert!(is_json(&red), "redaction broke JSON");
    }
    if !rules.is_empty() {
        let (_, again) = scanner.redact_line(&red);
        assert!(again.is_empty(), "redacted line still holds {again:?}");
    }
});

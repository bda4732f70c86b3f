//! The path rewrite between machines on real transcripts and on generated ones: records keep their
//! order and content except the mapped paths, laptop -> CI -> laptop is byte-identical, look-alike
//! prefixes are never touched, output is compact JSON lines ending in `\n`.

mod support;

use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::path::Path;

use ccsync::bundle::rewrite::{rewrite_file, PathMap};
use proptest::prelude::*;
use serde_json::Value;

const CI_ROOT: &str = "/home/runner/work/app/app";
const CI_PROJECT: &str = "/home/runner/.claude/projects/-home-runner-work-app-app";

/// The first `cwd` of a file: the machine it was recorded on.
fn first_cwd(path: &Path) -> String {
    for line in BufReader::new(std::fs::File::open(path).unwrap()).lines() {
        let line = line.unwrap();
        if let Some(cwd) = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v.get("cwd")?.as_str().map(str::to_owned))
        {
            return cwd;
        }
    }
    panic!("no cwd in {}", path.display());
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    body.split(|&b| b == b'\n').collect()
}

/// Compares an original and a rewritten value: same structure, keys in the same order, same
/// numbers, and strings equal once the local paths are put back naively.
fn same_except_paths(orig: &Value, new: &Value, to: &[(&str, &str)]) -> bool {
    let back = |s: &str| {
        to.iter()
            .fold(s.to_owned(), |acc, (from, to)| acc.replace(to, from))
    };
    match (orig, new) {
        (Value::String(a), Value::String(b)) => a == b || *a == back(b),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_except_paths(x, y, to))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
                    (ka == kb || *ka == back(kb)) && same_except_paths(va, vb, to)
                })
        }
        (a, b) => a == b,
    }
}

#[test]
fn real_transcripts_round_trip_through_ci() {
    let Some(corpus) = support::corpus_dir() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let files = support::jsonl_files(&corpus);
    assert!(files.len() >= 12);
    let mut changed_total = 0;
    let (mut fast_total, mut slow_changed_total) = (0u64, 0u64);
    for original in files {
        // Work on a copy, as the real restore does; the corpus stays read-only.
        let copy = temp.path().join("session.jsonl");
        std::fs::copy(&original, &copy).unwrap();
        let root = first_cwd(&copy);
        let project = format!(
            "/home/someone/.claude/projects/{}",
            root.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        // Look-alikes of the origin that must survive both ways.
        let siblings = [
            format!("{root}-old"),
            format!("{root}le"),
            format!("{root}.txt"),
            format!("/mnt{root}"),
        ];
        let extra = serde_json::json!({"type":"user","cwd": root, "message": {"content": siblings.join(" | ")}, "persisted": format!("<persisted-output>{project}/x/tool-results/a.txt</persisted-output>")});
        let mut input = std::fs::read(&copy).unwrap();
        if !input.ends_with(b"\n") {
            input.push(b'\n');
        }
        input.extend_from_slice(format!("{extra}\n").as_bytes());
        std::fs::write(&copy, &input).unwrap();

        let map = PathMap::new(vec![
            (root.clone(), CI_ROOT.into()),
            (project.clone(), CI_PROJECT.into()),
        ]);
        let mut ci = Vec::new();
        let stats = rewrite_file(&copy, &mut ci, &map).unwrap();
        changed_total += stats.changed;
        let ci_copy = temp.path().join("ci.jsonl");
        std::fs::write(&ci_copy, &ci).unwrap();

        // Every record in its place; unchanged ones byte-identical, changed ones differ only by paths.
        let (before, after) = (lines(&input), lines(&ci));
        assert_eq!(before.len(), after.len(), "{}", original.display());
        assert!(ci.ends_with(b"\n"));
        let pairs = [(root.as_str(), CI_ROOT), (project.as_str(), CI_PROJECT)];
        for (a, b) in before.iter().zip(&after) {
            if a == b {
                continue;
            }
            let text = std::str::from_utf8(b).unwrap();
            assert!(!text.contains("\": \""), "not compact: {text}");
            match (
                serde_json::from_slice::<Value>(a),
                serde_json::from_slice::<Value>(b),
            ) {
                (Ok(va), Ok(vb)) => assert!(
                    same_except_paths(&va, &vb, &pairs),
                    "{}: record changed beyond paths",
                    original.display()
                ),
                // Lines that are not one JSON value are rewritten in their raw text.
                _ => assert_eq!(
                    String::from_utf8_lossy(a),
                    text.replace(CI_ROOT, &root).replace(CI_PROJECT, &project)
                ),
            }
            if let Ok(v) = serde_json::from_slice::<Value>(b) {
                if let Some(cwd) = v.get("cwd").and_then(Value::as_str) {
                    assert!(
                        !cwd.starts_with(&format!("{root}/")) && cwd != root,
                        "cwd not mapped: {cwd}"
                    );
                }
            }
        }
        let last: Value = serde_json::from_slice(after.last().unwrap()).unwrap();
        assert_eq!(last["cwd"], CI_ROOT);
        assert_eq!(
            last["message"]["content"],
            siblings.join(" | "),
            "look-alikes touched"
        );
        assert_eq!(
            last["persisted"],
            format!("<persisted-output>{CI_PROJECT}/x/tool-results/a.txt</persisted-output>")
        );

        // The raw-text fast path gives the parser's bytes on every real line, both ways, and
        // carries nearly every changed line.
        for (m, text) in [(&map, &input), (&map.reversed(), &ci)] {
            for line in lines(text) {
                let Ok(line) = std::str::from_utf8(line) else {
                    continue;
                };
                let slow = m.rewrite_record_slow(line).unwrap();
                if let Some(fast) = m.rewrite_record_fast(line) {
                    assert_eq!(fast, slow, "{}", original.display());
                    fast_total += u64::from(matches!(fast, Cow::Owned(_)));
                }
                slow_changed_total += u64::from(matches!(slow, Cow::Owned(_)));
                assert_eq!(m.rewrite_record(line).unwrap(), slow);
            }
        }

        // And back home: byte-identical to what was pushed.
        let mut home = Vec::new();
        rewrite_file(&ci_copy, &mut home, &map.reversed()).unwrap();
        assert!(
            home == input,
            "{}: laptop -> CI -> laptop is not byte-identical",
            original.display()
        );
    }
    assert!(
        changed_total > 3000,
        "the corpus should exercise the rewrite: {changed_total}"
    );
    assert!(
        fast_total * 100 >= slow_changed_total * 95,
        "the fast path should carry at least 95% of the changed real lines: {fast_total} of {slow_changed_total}"
    );
}

#[test]
fn unmatched_real_records_pass_through_byte_identical() {
    let Some(corpus) = support::corpus_dir() else {
        return;
    };
    let map = PathMap::new(vec![("/nowhere/at/all".into(), "/x".into())]);
    for file in support::jsonl_files(&corpus) {
        let mut out = Vec::new();
        rewrite_file(&file, &mut out, &map).unwrap();
        let mut input = std::fs::read(&file).unwrap();
        if !input.ends_with(b"\n") {
            input.push(b'\n');
        }
        assert!(out == input, "{}", file.display());
    }
}

/// Pieces of generated text: the origin, its look-alikes, separators and words.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/x/app".to_owned()),
        Just("/x/app/".to_owned()),
        Just("/x/app-old".to_owned()),
        Just("/x/apple".to_owned()),
        Just("/x/app.txt".to_owned()),
        Just("/x/app.".to_owned()),
        Just("/mnt/x/app".to_owned()),
        Just("/x/ap".to_owned()),
        Just("/u/.claude/projects/-x-app".to_owned()),
        Just("/u/.claude/projects/-x-app-old".to_owned()),
        "[ /.:\"'\\\\\n\t=,()-]",
        "[a-z0-9_]{1,6}",
        "[é😀]",
    ]
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..12).prop_map(|v| v.concat())
}

fn generated_map() -> PathMap {
    // Local paths use capitals, which generated text never holds: any local path in the output
    // came from the rewrite.
    PathMap::new(vec![
        ("/x/app".into(), "/CI/W".into()),
        (
            "/u/.claude/projects/-x-app".into(),
            "/CI/H/.claude/projects/-CI-W".into(),
        ),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn record_round_trip_is_the_identity(a in text(), b in text(), k in text(), n in any::<i64>()) {
        let record = serde_json::json!({"type": "user", "cwd": a, "n": n, "message": {"content": [b, {k.clone(): 1.5}], "z": null}});
        let raw = record.to_string();
        let map = generated_map();
        let out = map.rewrite_record(&raw).unwrap();
        prop_assert!(!out.contains("\": \""));
        // Canonical records without duplicate keys always take the fast path.
        prop_assert_eq!(map.rewrite_record_fast(&raw), Some(out.clone()));
        let back = map.reversed().rewrite_record(&out).unwrap();
        prop_assert_eq!(back.as_ref(), raw.as_str());
    }

    #[test]
    fn torn_lines_round_trip_too(a in text(), cut in 0usize..200) {
        let raw = serde_json::json!({"cwd": a, "t": "tail"}).to_string();
        let cut = (0..=cut.min(raw.len())).rev().find(|&i| raw.is_char_boundary(i)).unwrap();
        let torn = &raw[..cut];
        let map = generated_map();
        let out = map.rewrite_record(torn).unwrap();
        let back = map.reversed().rewrite_record(&out).unwrap();
        prop_assert_eq!(back.as_ref(), torn);
    }

    #[test]
    fn look_alikes_are_never_touched(parts in proptest::collection::vec(prop_oneof![
        Just("/x/app-old"), Just("/x/apple"), Just("/x/app.txt"), Just("/mnt/x/app"), Just("/x/app_1"),
        Just("a/x/app"), Just("/x/app~"), Just("/x/appé"), Just(" "), Just("\n"), Just("\""),
    ], 0..10)) {
        let text = parts.concat();
        let map = generated_map();
        let out = map.rewrite_text(&text);
        prop_assert_eq!(out.as_ref(), text.as_str());
        let raw = serde_json::json!({"cwd": text}).to_string();
        let rec = map.rewrite_record(&raw).unwrap();
        prop_assert_eq!(rec.as_ref(), raw.as_str());
    }
}

/// A JSON document as a writer may lay it out: objects may repeat keys, numbers keep their text.
#[derive(Debug, Clone)]
enum Doc {
    Lit(&'static str),
    Num(String),
    Str(String),
    Arr(Vec<Doc>),
    Obj(Vec<(String, Doc)>),
}

fn doc() -> impl Strategy<Value = Doc> {
    let key = prop_oneof![
        4 => text(),
        1 => Just("cwd".to_owned()),
        1 => Just("/x/app/f".to_owned()),
        1 => Just("/CI/W/f".to_owned()),
    ];
    let leaf = prop_oneof![
        1 => prop_oneof![Just("null"), Just("true"), Just("false")].prop_map(Doc::Lit),
        1 => any::<i64>().prop_map(|n| Doc::Num(n.to_string())),
        1 => any::<u64>().prop_map(|n| Doc::Num(n.to_string())),
        1 => prop_oneof![
            Just("1.5"), Just("1.0"), Just("1e5"), Just("1E5"), Just("1.5e-7"), Just("-0"),
            Just("-0.0"), Just("0.1"), Just("2.50"), Just("0"), Just("123456789012345678901234567890"),
            Just("18446744073709551616"), Just("-9223372036854775809"), Just("1e400"),
        ]
        .prop_map(|n| Doc::Num(n.to_owned())),
        4 => text().prop_map(Doc::Str),
    ];
    leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Doc::Arr),
            proptest::collection::vec((key.clone(), inner), 0..6).prop_map(Doc::Obj),
        ]
    })
}

/// Writes `doc`; `style` bytes pick non-canonical forms (spaces, `\/`, `\u` escapes, uppercase
/// hex, raw control characters, lone surrogates); none left means serde_json's own form.
fn write_doc(doc: &Doc, out: &mut String, style: &mut std::slice::Iter<u8>) {
    let mut pick = |below: u8| style.next().is_some_and(|&b| b < below);
    if pick(12) {
        out.push(' ');
    }
    match doc {
        Doc::Lit(s) => out.push_str(s),
        Doc::Num(s) => out.push_str(s),
        Doc::Str(s) => write_str(s, out, style),
        Doc::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_doc(item, out, style);
            }
            out.push(']');
        }
        Doc::Obj(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out, style);
                if style.next().is_some_and(|&b| b < 12) {
                    out.push_str(": ");
                } else {
                    out.push(':');
                }
                write_doc(v, out, style);
            }
            out.push('}');
        }
    }
}

fn write_str(s: &str, out: &mut String, style: &mut std::slice::Iter<u8>) {
    out.push('"');
    for c in s.chars() {
        let b = style.next().copied().unwrap_or(u8::MAX);
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' if b < 40 => out.push_str("\\u000a"),
            '\n' => out.push_str("\\n"),
            '\t' if b < 40 => out.push('\t'),
            '\t' => out.push_str("\\t"),
            '/' if b < 25 => out.push_str("\\/"),
            c if (c as u32) < 0x20 && b < 40 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if b < 20 => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c if b < 24 => {
                out.push_str("\\ud800");
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Lines: one or more documents glued, maybe styled, maybe torn, maybe ending in `\r`.
fn line() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(doc(), 1..4),
        prop_oneof![
            2 => Just(Vec::new()),
            1 => proptest::collection::vec(any::<u8>(), 0..400),
        ],
        prop_oneof![4 => Just(None), 1 => (0usize..400).prop_map(Some)],
        prop_oneof![6 => Just(""), 1 => Just("\r"), 1 => Just(" ")],
    )
        .prop_map(|(docs, style, cut, end)| {
            let mut out = String::new();
            let mut style = style.iter();
            for d in &docs {
                write_doc(d, &mut out, &mut style);
            }
            if let Some(cut) = cut {
                let cut = (0..=cut.min(out.len()))
                    .rev()
                    .find(|&i| out.is_char_boundary(i))
                    .unwrap();
                out.truncate(cut);
            }
            out.push_str(end);
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The fast path is the slow path, byte for byte, on canonical and non-canonical lines alike,
    /// both ways, and for a local path that needs escaping.
    #[test]
    fn fast_path_equals_parse_and_reserialise(raw in line()) {
        let odd_to = PathMap::new(vec![("/x/app".into(), r#"C:\W"q"#.into())]);
        for map in [generated_map(), generated_map().reversed(), odd_to] {
            let slow = map.rewrite_record_slow(&raw).unwrap();
            if let Some(fast) = map.rewrite_record_fast(&raw) {
                prop_assert_eq!(&fast, &slow);
            }
            prop_assert_eq!(map.rewrite_record(&raw).unwrap(), slow);
        }
    }
}

//! Claude Code's content hashes inside a transcript, kept true across a path rewrite.
//!
//! 2.1.x writes `api-request-blob` records `{hash, message}` and `api-request-shape` records
//! `{shapeHash, shape}`, and names them from `api-request` records (`shapeHash`, `tail`) so that the
//! same content is stored once. The hash is the sha256 (hex) of the content as compact JSON with
//! its object keys sorted; for a blob, a string `content` of the message counts as a one-text-block
//! array (measured on files 2.1.332 and 2.1.337 write). When the rewrite changes such content, the
//! hash is computed again, and the old hash is replaced wherever the file names it
//! ([`replace_references`]). A record whose hash the rule does not reproduce (a future rule) keeps
//! its hash: ccsync never writes a hash it cannot vouch for.

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A record whose content hash changed: the new line and the hash it had and has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rehashed {
    pub line: String,
    pub old: String,
    pub new: String,
}

/// The hashed records: type, hash field, content field.
const HASHED: [(&str, &str, &str); 2] = [
    ("api-request-blob", "hash", "message"),
    ("api-request-shape", "shapeHash", "shape"),
];

/// For a record line that the rewrite changed from `before` to `after`: when it is a hashed record
/// whose hash matched its content before, `after` with the hash of its new content.
pub fn rehash(before: &str, after: &str) -> Option<Rehashed> {
    if !after.contains("\"type\":\"api-request-") {
        return None;
    }
    let old: Value = serde_json::from_str(before).ok()?;
    let (_, hash_field, content_field) = HASHED
        .iter()
        .find(|(kind, ..)| old.get("type").and_then(Value::as_str) == Some(kind))?;
    let recorded = old.get(hash_field)?.as_str()?;
    if content_hash(old.get(content_field)?, content_field) != recorded {
        return None;
    }
    let mut new: Value = serde_json::from_str(after).ok()?;
    let hash = content_hash(new.get(content_field)?, content_field);
    if hash == recorded {
        return None;
    }
    new[hash_field] = Value::String(hash.clone());
    Some(Rehashed {
        line: serde_json::to_string(&new).ok()?,
        old: recorded.to_owned(),
        new: hash,
    })
}

/// The hash Claude Code records for `content` (the value of field `field`).
fn content_hash(content: &Value, field: &str) -> String {
    let mut text = String::new();
    match (field, content.get("content")) {
        ("message", Some(Value::String(s))) => {
            let mut message = content.clone();
            message["content"] = serde_json::json!([{"type": "text", "text": s}]);
            canonical(&message, &mut text);
        }
        _ => canonical(content, &mut text),
    }
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `value` as compact JSON with object keys sorted as JavaScript sorts strings (by UTF-16 code
/// units), strings escaped as `JSON.stringify` escapes them.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).expect("strings serialise"));
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).expect("values serialise")),
    }
}

/// Replaces every old hash of `changed` (old to new) by the new one in the file at `path`, line by
/// line (the references in `api-request` records), through a temporary file beside it.
pub fn replace_references(path: &Path, changed: &BTreeMap<String, String>) -> anyhow::Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let olds: Vec<&str> = changed.keys().map(String::as_str).collect();
    let matcher = aho_corasick::AhoCorasick::new(&olds).context("cannot build the hash matcher")?;
    let news: Vec<&str> = changed.values().map(String::as_str).collect();
    let tmp = path.with_extension("ccsync-rehash");
    {
        let input =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, input);
        let mut out = BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?,
        );
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if matcher.is_match(&line) {
                out.write_all(&matcher.replace_all_bytes(&line, &news))?;
            } else {
                out.write_all(&line)?;
            }
        }
        out.flush()
            .with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(text: &str) -> String {
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    #[test]
    fn blob_hashes_follow_the_rewritten_message() {
        // The hashing rule: sorted keys, compact, a string content as one text block.
        let canonical = r#"{"content":[{"text":"cwd /a/app","type":"text"}],"role":"user"}"#;
        let before = format!(
            r#"{{"type":"api-request-blob","sessionId":"s","hash":"{}","message":{{"role":"user","content":"cwd /a/app"}}}}"#,
            sha(canonical)
        );
        let after = before.replace("/a/app", "/b/app");
        let got = rehash(&before, &after).expect("rehashed");
        let want = sha(&canonical.replace("/a/app", "/b/app"));
        assert_eq!(got.old, sha(canonical));
        assert_eq!(got.new, want);
        assert!(
            got.line.contains(&format!("\"hash\":\"{want}\"")),
            "{}",
            got.line
        );
        assert!(got
            .line
            .starts_with(r#"{"type":"api-request-blob","sessionId":"s","hash":"#));

        // A hash the rule does not reproduce is kept as it is.
        let foreign = before.replace(&sha(canonical), &"0".repeat(64));
        assert_eq!(rehash(&foreign, &foreign.replace("/a/app", "/b/app")), None);
        // Other records are not touched.
        assert_eq!(
            rehash(r#"{"type":"user"}"#, r#"{"type":"user","x":1}"#),
            None
        );
    }

    /// As JavaScript writes it: keys sorted by UTF-16 code units (U+1F600 before U+FF5E, unlike
    /// byte order), non-ASCII raw, control characters as lower-case `\u00xx`.
    #[test]
    fn canonical_text_is_what_javascript_writes() {
        let value = serde_json::json!({"\u{1F600}": 1, "b": "é\u{1}\n", "\u{FF5E}": [true, null], "a": {"z": 1, "y": 2}});
        let mut text = String::new();
        canonical(&value, &mut text);
        assert_eq!(
            text,
            "{\"a\":{\"y\":2,\"z\":1},\"b\":\"é\\u0001\\n\",\"\u{1F600}\":1,\"\u{FF5E}\":[true,null]}"
        );
    }

    #[test]
    fn shape_hashes_and_references_follow() {
        let shape = r#"{"system":[{"text":"/a/app","type":"text"}],"tools":[]}"#;
        let before = format!(
            r#"{{"type":"api-request-shape","shapeHash":"{}","shape":{{"tools":[],"system":[{{"type":"text","text":"/a/app"}}]}}}}"#,
            sha(shape)
        );
        let got = rehash(&before, &before.replace("/a/app", "/b")).unwrap();
        assert_eq!(got.new, sha(&shape.replace("/a/app", "/b")));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.jsonl");
        std::fs::write(
            &file,
            format!(
                "{{\"type\":\"api-request\",\"shapeHash\":\"{}\",\"tail\":[\"{}\"]}}\n{{\"x\":1}}",
                got.old,
                "f".repeat(64)
            ),
        )
        .unwrap();
        let changed = BTreeMap::from([(got.old.clone(), got.new.clone())]);
        replace_references(&file, &changed).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            format!(
                "{{\"type\":\"api-request\",\"shapeHash\":\"{}\",\"tail\":[\"{}\"]}}\n{{\"x\":1}}",
                got.new,
                "f".repeat(64)
            )
        );
    }
}

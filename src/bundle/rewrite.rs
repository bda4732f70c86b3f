//! Moving a session between machines: origin path prefixes (repository root, Claude project
//! folder) become the local ones inside every JSON string of every record, keys included.
//!
//! A prefix only matches at path boundaries: `/x/app` rewrites `/x/app`, `/x/app/src` and
//! `cd /x/app;`, never `/x/app-old`, `/x/apple`, `/x/app.txt` or `/mnt/x/app`. The longest prefix
//! wins. A record without any match is returned byte-identical; a changed record is written as
//! compact JSON with its key order kept. Lines that are not one JSON value (a torn last line, or
//! lines a reader could not split) are rewritten in their raw text, so nothing is dropped.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use anyhow::{Context, Result};
use memchr::memmem::Finder;
use serde_json::Value;

/// Origin-to-local path prefixes.
#[derive(Debug, Clone)]
pub struct PathMap {
    /// Longest `from` first.
    pairs: Vec<Pair>,
}

#[derive(Debug, Clone)]
struct Pair {
    from: String,
    to: String,
    /// The JSON-escaped forms, as they appear inside raw record text.
    from_json: String,
    to_json: String,
    from_json_finder: Finder<'static>,
}

/// What [`rewrite_file`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RewriteStats {
    pub lines: u64,
    pub changed: u64,
}

impl PathMap {
    /// Maps each `from` prefix to its `to`. Trailing separators are ignored; empty or root
    /// prefixes and identity pairs are dropped (they would rewrite everything or nothing).
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        let mut out: Vec<Pair> = Vec::new();
        for (from, to) in pairs {
            let (from, to) = (trim_separator(&from), trim_separator(&to));
            if from.is_empty() || from == "/" || from == to || out.iter().any(|p| p.from == from) {
                continue;
            }
            let from_json = json_inner(from);
            out.push(Pair {
                from: from.to_owned(),
                to: to.to_owned(),
                from_json_finder: Finder::new(from_json.as_bytes()).into_owned(),
                from_json,
                to_json: json_inner(to),
            });
        }
        out.sort_by_key(|p| std::cmp::Reverse(p.from.len()));
        PathMap { pairs: out }
    }

    /// The map back (local to origin): a push from CI undoes the restore's rewrite.
    pub fn reversed(&self) -> PathMap {
        PathMap::new(
            self.pairs
                .iter()
                .map(|p| (p.to.clone(), p.from.clone()))
                .collect(),
        )
    }

    /// True when the map changes nothing.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Rewrites one record line (without its line ending).
    pub fn rewrite_record<'a>(&self, raw: &'a str) -> Result<Cow<'a, str>> {
        if !self
            .pairs
            .iter()
            .any(|p| p.from_json_finder.find(raw.as_bytes()).is_some())
        {
            return Ok(Cow::Borrowed(raw));
        }
        let mut values = Vec::new();
        let mut stream = serde_json::Deserializer::from_str(raw).into_iter::<Value>();
        let parsed = loop {
            match stream.next() {
                Some(Ok(value)) => values.push(value),
                Some(Err(_)) => break false,
                None => break !values.is_empty(),
            }
        };
        if !parsed {
            // Not JSON we can re-write faithfully (torn line, lone surrogate escapes, ...):
            // replace in the raw text, which keeps every other byte.
            return Ok(self.replace(raw, Mode::RawJson));
        }
        let mut changed = false;
        for value in &mut values {
            changed |= self.rewrite_value(value);
        }
        if !changed {
            return Ok(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len() + 64);
        for value in &values {
            out.push_str(&serde_json::to_string(value).context("cannot write a rewritten record")?);
        }
        Ok(Cow::Owned(out))
    }

    /// Rewrites plain text (a decoded string, a file name).
    pub fn rewrite_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.replace(text, Mode::Text)
    }

    fn rewrite_value(&self, value: &mut Value) -> bool {
        match value {
            Value::String(s) => {
                if let Cow::Owned(new) = self.rewrite_text(s) {
                    *s = new;
                    true
                } else {
                    false
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |acc, v| self.rewrite_value(v) | acc),
            Value::Object(map) => {
                // Keys can be paths too (file-history snapshots key backups by file path).
                let keys_change = map
                    .keys()
                    .any(|k| matches!(self.rewrite_text(k), Cow::Owned(_)));
                let mut changed = keys_change;
                if keys_change {
                    let old = std::mem::take(map);
                    for (k, v) in old {
                        map.insert(self.rewrite_text(&k).into_owned(), v);
                    }
                }
                for v in map.values_mut() {
                    changed |= self.rewrite_value(v);
                }
                changed
            }
            _ => false,
        }
    }

    fn replace<'a>(&self, text: &'a str, mode: Mode) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        let mut copied = 0; // bytes of `text` already in `out`
        let mut pos = 0;
        while pos < bytes.len() {
            // The earliest place any prefix occurs.
            let Some(start) = self
                .pairs
                .iter()
                .filter_map(|p| {
                    memchr::memmem::find(&bytes[pos..], mode.from(p).as_bytes()).map(|i| pos + i)
                })
                .min()
            else {
                break;
            };
            // Longest first among the prefixes that occur there at path boundaries.
            let hit = self.pairs.iter().find(|p| {
                let from = mode.from(p).as_bytes();
                bytes[start..].starts_with(from)
                    && left_boundary(bytes, start, mode)
                    && right_boundary(bytes, start + from.len())
            });
            match hit {
                Some(p) => {
                    let s = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                    s.push_str(&text[copied..start]);
                    s.push_str(mode.to(p));
                    pos = start + mode.from(p).len();
                    copied = pos;
                }
                None => pos = start + 1,
            }
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut s) => {
                s.push_str(&text[copied..]);
                Cow::Owned(s)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Decoded text.
    Text,
    /// Raw JSON text: prefixes in escaped form; `\n` before a path is a boundary.
    RawJson,
}

impl Mode {
    fn from(self, p: &Pair) -> &str {
        if self == Mode::Text {
            &p.from
        } else {
            &p.from_json
        }
    }
    fn to(self, p: &Pair) -> &str {
        if self == Mode::Text {
            &p.to
        } else {
            &p.to_json
        }
    }
}

/// Characters that continue a file name: a prefix touching one of them is part of a longer name.
fn continues_name(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '~')
}

fn left_boundary(bytes: &[u8], start: usize, mode: Mode) -> bool {
    let Some(prev) = char_before(bytes, start) else {
        return true;
    };
    if !continues_name(prev) {
        return true;
    }
    // In raw JSON, `\n/x/app` is a newline before the path.
    if mode == Mode::RawJson && matches!(prev, 'n' | 't' | 'r' | 'b' | 'f') {
        let backslashes = bytes[..start - 1]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        return backslashes % 2 == 1;
    }
    false
}

fn right_boundary(bytes: &[u8], end: usize) -> bool {
    let Some(next) = char_at(bytes, end) else {
        return true;
    };
    if next == '.' {
        // `/x/app.txt` is another name; `/x/app.` ends a sentence.
        return char_at(bytes, end + 1).is_none_or(|c| !continues_name(c));
    }
    !continues_name(next)
}

fn char_before(bytes: &[u8], i: usize) -> Option<char> {
    // `i` is a char boundary: the text before it is valid UTF-8.
    std::str::from_utf8(&bytes[..i]).ok()?.chars().next_back()
}

fn char_at(bytes: &[u8], i: usize) -> Option<char> {
    let tail = bytes.get(i..)?;
    let len = tail.len().min(4);
    (1..=len)
        .find_map(|n| std::str::from_utf8(&tail[..n]).ok())
        .and_then(|s| s.chars().next())
}

fn trim_separator(path: &str) -> &str {
    let trimmed = path.trim_end_matches(['/', '\\']);
    if trimmed.is_empty() && !path.is_empty() {
        "/"
    } else {
        trimmed
    }
}

/// `s` as it appears between the quotes of a JSON string written by `JSON.stringify`.
fn json_inner(s: &str) -> String {
    let quoted = serde_json::to_string(s).expect("strings serialise");
    quoted[1..quoted.len() - 1].to_owned()
}

/// Rewrites a session file line by line into `dst`: changed records as compact JSON, every line
/// ending with `\n` (a missing final newline is added), lines that are not UTF-8 copied as they are.
pub fn rewrite_file(src: &Path, dst: &mut impl Write, map: &PathMap) -> Result<RewriteStats> {
    let file =
        std::fs::File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let mut stats = RewriteStats::default();
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("cannot read {}", src.display()))?
            == 0
        {
            break;
        }
        stats.lines += 1;
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        let out: Cow<[u8]> = match std::str::from_utf8(body) {
            Ok(text) => match map.rewrite_record(text)? {
                Cow::Borrowed(_) => Cow::Borrowed(body),
                Cow::Owned(new) => {
                    stats.changed += 1;
                    Cow::Owned(new.into_bytes())
                }
            },
            Err(_) => Cow::Borrowed(body),
        };
        dst.write_all(&out)?;
        dst.write_all(b"\n")?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> PathMap {
        PathMap::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn boundaries() {
        let m = map(&[("/x/app", "/ci/w")]);
        let cases = [
            ("/x/app", "/ci/w"),
            ("/x/app/src/main.rs", "/ci/w/src/main.rs"),
            ("cd /x/app && ls", "cd /ci/w && ls"),
            ("I edited /x/app.", "I edited /ci/w."),
            ("file:///x/app/a", "file:///ci/w/a"),
            ("PATH=/bin:/x/app:/y", "PATH=/bin:/ci/w:/y"),
            ("'/x/app'", "'/ci/w'"),
            ("/x/app-old", "/x/app-old"),
            ("/x/apple", "/x/apple"),
            ("/x/app.txt", "/x/app.txt"),
            ("/mnt/x/app", "/mnt/x/app"),
            ("/x/app_2", "/x/app_2"),
            ("/x/app/x/app", "/ci/w/x/app"),
            ("a /x/app b /x/app", "a /ci/w b /ci/w"),
        ];
        for (input, want) in cases {
            assert_eq!(m.rewrite_text(input), want, "{input}");
        }
        assert!(matches!(m.rewrite_text("/x/apple"), Cow::Borrowed(_)));
    }

    #[test]
    fn longest_prefix_wins_and_reverse_maps_back() {
        let m = map(&[
            ("/u/me/app", "/ci/app"),
            ("/u/me/app/.claude-dir", "/ci/claude"),
        ]);
        assert_eq!(
            m.rewrite_text("/u/me/app/.claude-dir/x /u/me/app/y"),
            "/ci/claude/x /ci/app/y"
        );
        let back = m.reversed();
        assert_eq!(
            back.rewrite_text("/ci/claude/x /ci/app/y"),
            "/u/me/app/.claude-dir/x /u/me/app/y"
        );
    }

    #[test]
    fn records_keep_order_and_compactness() {
        let m = map(&[("/x/app", "/ci/w")]);
        let rec =
            r#"{"z":1,"cwd":"/x/app","a":{"/x/app/f":["cat /x/app/f\n"],"n":1.5e-7,"u":null}}"#;
        let out = m.rewrite_record(rec).unwrap();
        assert_eq!(
            out,
            r#"{"z":1,"cwd":"/ci/w","a":{"/ci/w/f":["cat /ci/w/f\n"],"n":1.5e-7,"u":null}}"#
        );
        assert_eq!(m.reversed().rewrite_record(&out).unwrap(), rec);
        // Untouched records come back byte-identical, even when not compact.
        let loose = r#"{"cwd": "/x/app-old", "b": 1.0}"#;
        assert!(matches!(m.rewrite_record(loose).unwrap(), Cow::Borrowed(_)));
        // Changed records become compact.
        assert_eq!(
            m.rewrite_record(r#"{"cwd": "/x/app"}"#).unwrap(),
            r#"{"cwd":"/ci/w"}"#
        );
    }

    #[test]
    fn raw_fallback_for_lines_that_are_not_json() {
        let m = map(&[("/x/app", "/ci/w")]);
        // Torn last line.
        assert_eq!(
            m.rewrite_record(r#"{"cwd":"/x/app","text":"a\n/x/app/b /x/apple"#)
                .unwrap(),
            r#"{"cwd":"/ci/w","text":"a\n/ci/w/b /x/apple"#
        );
        // A lone surrogate escape serde_json refuses: still rewritten, other bytes kept.
        let rec = r#"{"t":"\ud83d","cwd":"/x/app"}"#;
        assert_eq!(
            m.rewrite_record(rec).unwrap(),
            r#"{"t":"\ud83d","cwd":"/ci/w"}"#
        );
        // Glued records stay glued, both rewritten.
        assert_eq!(
            m.rewrite_record(r#"{"cwd":"/x/app"}{"cwd":"/x/app/a"}"#)
                .unwrap(),
            r#"{"cwd":"/ci/w"}{"cwd":"/ci/w/a"}"#
        );
    }

    #[test]
    fn windows_origin_paths_match_in_escaped_form() {
        let m = map(&[(r"C:\Users\me\proj", "/ci/w")]);
        let rec = r#"{"cwd":"C:\\Users\\me\\proj","x":"C:\\Users\\me\\proj-old"}"#;
        assert_eq!(
            m.rewrite_record(rec).unwrap(),
            r#"{"cwd":"/ci/w","x":"C:\\Users\\me\\proj-old"}"#
        );
    }

    #[test]
    fn degenerate_pairs_are_dropped() {
        assert!(map(&[("/", "/x"), ("", "/y"), ("/a", "/a/")]).is_empty());
        assert_eq!(map(&[("/a/", "/b")]).rewrite_text("/a/c"), "/b/c");
    }

    #[test]
    fn file_rewrite_ends_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s.jsonl");
        std::fs::write(
            &src,
            b"{\"cwd\":\"/x/app\"}\n\n{\"cwd\":\"/y\"}\n\xff\xfe\n{\"cwd\":\"/x/app\"",
        )
        .unwrap();
        let mut out = Vec::new();
        let stats = rewrite_file(&src, &mut out, &map(&[("/x/app", "/ci/w")])).unwrap();
        assert_eq!(
            out,
            b"{\"cwd\":\"/ci/w\"}\n\n{\"cwd\":\"/y\"}\n\xff\xfe\n{\"cwd\":\"/ci/w\"\n"
        );
        assert_eq!(
            stats,
            RewriteStats {
                lines: 5,
                changed: 2
            }
        );
    }
}

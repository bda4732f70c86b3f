//! Moving a session between machines: origin path prefixes (repository root, Claude project
//! folder) become the local ones inside every JSON string of every record, keys included.
//!
//! A prefix only matches at path boundaries: `/x/app` rewrites `/x/app`, `/x/app/src` and
//! `cd /x/app;`, never `/x/app-old`, `/x/apple`, `/x/app.txt` or `/mnt/x/app`. The longest prefix
//! wins. A record without any match is returned byte-identical; a changed record is written as
//! compact JSON with its key order kept. Lines that are not one JSON value (a torn last line, or
//! lines a reader could not split) are rewritten in their raw text, so nothing is dropped.
//!
//! Restores into another folder rewrite every record (each holds `cwd`), so the common case has a
//! fast path that edits the raw text without building a tree: see [`PathMap::rewrite_record_fast`]
//! for when it applies and why its output is the very bytes parse + re-serialise would give.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use memchr::memmem::Finder;
use serde_json::Value;

/// Origin-to-local path prefixes.
#[derive(Debug, Clone)]
pub struct PathMap {
    /// Longest `from` first.
    pairs: Vec<Pair>,
    /// Every `from` reads the same raw and decoded (no `"`, `\` or control character), so a match
    /// in a decoded string is a match in one unescaped run of its raw text: the fast path applies.
    fast: bool,
}

#[derive(Debug, Clone)]
struct Pair {
    from: String,
    to: String,
    /// The JSON-escaped forms, as they appear inside raw record text.
    from_json: String,
    to_json: String,
    /// Built once: a finder costs more to build than to run on one short string.
    from_finder: Finder<'static>,
    from_json_finder: Finder<'static>,
}

/// Deepest nesting the fast path follows (serde_json refuses 128 levels; deeper lines take the
/// slow path, which decides).
const FAST_MAX_DEPTH: usize = 100;

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
                from_finder: Finder::new(from.as_bytes()).into_owned(),
                from_json_finder: Finder::new(from_json.as_bytes()).into_owned(),
                from_json,
                to_json: json_inner(to),
            });
        }
        out.sort_by_key(|p| std::cmp::Reverse(p.from.len()));
        let fast = out.iter().all(|p| p.from == p.from_json);
        PathMap { pairs: out, fast }
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

    /// Rewrites one record line (without its line ending): the fast path when it applies, else
    /// [`Self::rewrite_record_slow`]. Both give the same bytes.
    pub fn rewrite_record<'a>(&self, raw: &'a str) -> Result<Cow<'a, str>> {
        let hits = self.occurrences(raw);
        if hits.is_empty() {
            return Ok(Cow::Borrowed(raw));
        }
        if let Some(out) = self.fast_rewrite(raw, &hits) {
            return Ok(out);
        }
        self.parse_and_rewrite(raw)
    }

    /// The raw-text path alone: `None` where it does not apply (then the slow path decides).
    ///
    /// It applies when every `from` is free of characters JSON escapes and the line is one or
    /// more JSON values exactly as serde_json writes them: compact, strings escaped the way it
    /// escapes them (only `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f` and `\u00xx` for other control
    /// characters), numbers that print back unchanged, no key twice in an object (also after
    /// keys are rewritten). For such a line, parse + re-serialise reproduces every byte except the
    /// strings the rewrite changes; and a decoded match can only lie in a run of unescaped
    /// characters (an escape decodes to a character no `from` holds), where raw and decoded text
    /// are the same bytes and the character beyond either end of the run (an escaped one, or
    /// none) never continues a name. So rewriting each run in place, `to` in its escaped form, is
    /// what the slow path writes.
    pub fn rewrite_record_fast<'a>(&self, raw: &'a str) -> Option<Cow<'a, str>> {
        let hits = self.occurrences(raw);
        if hits.is_empty() {
            return Some(Cow::Borrowed(raw));
        }
        self.fast_rewrite(raw, &hits)
    }

    /// The reference path: parse the line, rewrite every string (keys included), re-serialise
    /// compactly; lines that do not parse are rewritten in their raw text.
    pub fn rewrite_record_slow<'a>(&self, raw: &'a str) -> Result<Cow<'a, str>> {
        if self.occurrences(raw).is_empty() {
            return Ok(Cow::Borrowed(raw));
        }
        self.parse_and_rewrite(raw)
    }

    /// Sorted start offsets of every escaped `from` in `raw` (matches or not).
    fn occurrences(&self, raw: &str) -> Vec<usize> {
        let mut hits: Vec<usize> = Vec::new();
        for p in &self.pairs {
            hits.extend(p.from_json_finder.find_iter(raw.as_bytes()));
        }
        if self.pairs.len() > 1 {
            hits.sort_unstable();
            hits.dedup();
        }
        hits
    }

    fn fast_rewrite<'a>(&self, raw: &'a str, hits: &[usize]) -> Option<Cow<'a, str>> {
        if !self.fast || has_control_byte(raw.as_bytes()) {
            // Canonical compact JSON holds no byte below 0x20, not even whitespace.
            return None;
        }
        FastLine {
            map: self,
            raw,
            b: raw.as_bytes(),
            pos: 0,
            hits,
            hit: 0,
            out: None,
            copied: 0,
            keys: Vec::new(),
        }
        .run()
    }

    fn parse_and_rewrite<'a>(&self, raw: &'a str) -> Result<Cow<'a, str>> {
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
                .filter_map(|p| mode.finder(p).find(&bytes[pos..]).map(|i| pos + i))
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

/// Any byte below 0x20, in a loop the compiler vectorises.
fn has_control_byte(bytes: &[u8]) -> bool {
    bytes
        .chunks(64)
        .any(|c| c.iter().fold(false, |acc, &b| acc | (b < 0x20)))
}

/// A key of an open object as it will be written.
enum Key {
    Raw(usize, usize),
    /// A range of the rewritten line.
    Out(usize, usize),
}

/// One pass of [`PathMap::rewrite_record_fast`] over a line: checks that the line is canonical
/// serde_json output while rewriting the unescaped runs of strings that hold a `from`. Every
/// method answers `None` as soon as the line is not canonical.
struct FastLine<'m, 'a> {
    map: &'m PathMap,
    raw: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Sorted offsets of escaped `from`s in the line, and the first one not yet passed.
    hits: &'m [usize],
    hit: usize,
    /// The rewritten line so far (once something changed) and how much of `raw` it covers.
    out: Option<String>,
    copied: usize,
    /// Keys of the open objects, innermost last.
    keys: Vec<Key>,
}

impl<'a> FastLine<'_, 'a> {
    fn run(mut self) -> Option<Cow<'a, str>> {
        if self.b.is_empty() {
            return None;
        }
        while self.pos < self.b.len() {
            let first = self.b[self.pos];
            self.value(0)?;
            // serde_json's stream reader wants a delimiter after a number or literal.
            if !matches!(first, b'"' | b'[' | b'{')
                && self
                    .b
                    .get(self.pos)
                    .is_some_and(|c| !matches!(c, b'"' | b'[' | b'{'))
            {
                return None;
            }
        }
        Some(match self.out {
            None => Cow::Borrowed(self.raw),
            Some(mut s) => {
                s.push_str(&self.raw[self.copied..]);
                Cow::Owned(s)
            }
        })
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match *self.b.get(self.pos)? {
            b'"' => self.string().map(drop),
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.pos) == Some(&c)).then(|| self.pos += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.pos..]
            .starts_with(word)
            .then(|| self.pos += word.len())
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > FAST_MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(depth)?;
            match *self.b.get(self.pos)? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > FAST_MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        let base = self.keys.len();
        loop {
            if self.b.get(self.pos) != Some(&b'"') {
                return None;
            }
            let key = self.string()?;
            self.keys.push(key);
            self.eat(b':')?;
            self.value(depth)?;
            match *self.b.get(self.pos)? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        // A key twice (as written, or made equal by the rewrite) would be merged by the parser.
        let unique = {
            let keys: Vec<&str> = self.keys[base..]
                .iter()
                .map(|k| match k {
                    Key::Raw(s, e) => &self.raw[*s..*e],
                    Key::Out(s, e) => self.out.as_ref().map_or("", |o| &o[*s..*e]),
                })
                .collect();
            all_distinct(keys)
        };
        self.keys.truncate(base);
        unique.then_some(())
    }

    /// A number whose text serde_json prints back unchanged.
    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        let digits = |s: &mut Self| {
            let from = s.pos;
            while s.b.get(s.pos).is_some_and(u8::is_ascii_digit) {
                s.pos += 1;
            }
            s.pos > from
        };
        let _ = self.eat(b'-');
        if self.eat(b'0').is_none() && !digits(self) {
            return None;
        }
        let mut integer = true;
        if self.eat(b'.').is_some() {
            integer = false;
            digits(self).then_some(())?;
        }
        if matches!(self.b.get(self.pos), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            let _ = self.eat(b'+').or_else(|| self.eat(b'-'));
            digits(self).then_some(())?;
        }
        let text = &self.raw[start..self.pos];
        let plain =
            integer && text != "-0" && (text.parse::<u64>().is_ok() || text.parse::<i64>().is_ok());
        if plain {
            return Some(());
        }
        // Floats and big integers: only when the parser prints them back as written.
        let back = serde_json::from_str::<Value>(text).ok()?;
        (back.is_number() && serde_json::to_string(&back).ok()?.as_str() == text).then_some(())
    }

    /// A string, its unescaped runs rewritten where a `from` occurs; the key as written.
    fn string(&mut self) -> Option<Key> {
        let start = self.pos + 1;
        let mut run = start;
        // Where this string's text begins in `out`, once one of its runs changed.
        let mut rewritten: Option<usize> = None;
        let end = loop {
            let stop = run + memchr::memchr2(b'"', b'\\', &self.b[run..])?;
            while self.hit < self.hits.len() && self.hits[self.hit] < run {
                self.hit += 1;
            }
            if self.hits.get(self.hit).is_some_and(|&h| h < stop) {
                if let Cow::Owned(done) = self.map.replace(&self.raw[run..stop], Mode::RawJson) {
                    let out = self
                        .out
                        .get_or_insert_with(|| String::with_capacity(self.raw.len() + 64));
                    if rewritten.is_none() {
                        out.push_str(&self.raw[self.copied..start]);
                        self.copied = start;
                        rewritten = Some(out.len());
                    }
                    out.push_str(&self.raw[self.copied..run]);
                    out.push_str(&done);
                    self.copied = stop;
                }
                while self.hit < self.hits.len() && self.hits[self.hit] < stop {
                    self.hit += 1;
                }
            }
            if self.b[stop] == b'"' {
                break stop;
            }
            run = stop + canonical_escape(&self.b[stop..])?;
        };
        self.pos = end + 1;
        Some(match (rewritten, self.out.as_mut()) {
            (Some(from), Some(out)) => {
                out.push_str(&self.raw[self.copied..end]);
                self.copied = end;
                Key::Out(from, out.len())
            }
            _ => Key::Raw(start, end),
        })
    }
}

/// The length of the escape at the start of `b` when serde_json writes it so, else `None`.
fn canonical_escape(b: &[u8]) -> Option<usize> {
    match *b.get(1)? {
        b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => Some(2),
        b'u' => {
            let hex = b.get(2..6)?;
            let low = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            if hex[0] != b'0' || hex[1] != b'0' {
                return None;
            }
            let c = low(hex[2])? << 4 | low(hex[3])?;
            // Control characters without a short form; serde_json writes all else as itself.
            (c < 0x20 && !matches!(c, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)).then_some(6)
        }
        _ => None,
    }
}

fn all_distinct(mut keys: Vec<&str>) -> bool {
    if keys.len() <= 16 {
        return keys
            .iter()
            .enumerate()
            .all(|(i, k)| !keys[i + 1..].contains(k));
    }
    keys.sort_unstable();
    keys.windows(2).all(|w| w[0] != w[1])
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
    fn finder(self, p: &Pair) -> &Finder<'static> {
        if self == Mode::Text {
            &p.from_finder
        } else {
            &p.from_json_finder
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
///
/// Claude Code's content hashes follow their rewritten content, and later lines that name an old
/// hash name the new one ([`super::content_hash`]).
pub fn rewrite_file(src: &Path, dst: &mut impl Write, map: &PathMap) -> Result<RewriteStats> {
    let mut stats = RewriteStats::default();
    let mut rehashed: Vec<(String, String)> = Vec::new();
    super::for_each_line(src, |line| {
        stats.lines += 1;
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let mut out: Cow<[u8]> = match std::str::from_utf8(body) {
            Ok(text) => match map.rewrite_record(text)? {
                Cow::Borrowed(_) => Cow::Borrowed(body),
                Cow::Owned(new) => {
                    stats.changed += 1;
                    match super::content_hash::rehash(text, &new) {
                        Some(done) => {
                            rehashed.push((done.old, done.new));
                            Cow::Owned(done.line.into_bytes())
                        }
                        None => Cow::Owned(new.into_bytes()),
                    }
                }
            },
            Err(_) => Cow::Borrowed(body),
        };
        for (old, new) in &rehashed {
            if memchr::memmem::find(&out, old.as_bytes()).is_some() {
                let text = String::from_utf8_lossy(&out).replace(old.as_str(), new);
                out = Cow::Owned(text.into_bytes());
            }
        }
        dst.write_all(&out)?;
        dst.write_all(b"\n")?;
        Ok(())
    })?;
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
    fn fast_path_leaves_invalid_lines_to_the_raw_fallback() {
        let m = map(&[("/x/app", "/ci/w")]);
        // A raw tab makes the line invalid JSON: the raw-text fallback decides, and there
        // `\u0001/x/app` is no path boundary (the `1` before it continues a name).
        let rec = "{\"a\":\"\t\",\"b\":\"\\u0001/x/app\",\"cwd\":\"/x/app\"}";
        assert_eq!(m.rewrite_record_fast(rec), None);
        assert_eq!(
            m.rewrite_record(rec).unwrap(),
            "{\"a\":\"\t\",\"b\":\"\\u0001/x/app\",\"cwd\":\"/ci/w\"}"
        );
        // Valid and canonical: the escape ends before the path, which is rewritten.
        let rec = r#"{"b":"\u0001/x/app","cwd":"/x/app"}"#;
        assert_eq!(
            m.rewrite_record_fast(rec).unwrap(),
            r#"{"b":"\u0001/ci/w","cwd":"/ci/w"}"#
        );
        assert_eq!(
            m.rewrite_record_slow(rec).unwrap(),
            r#"{"b":"\u0001/ci/w","cwd":"/ci/w"}"#
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

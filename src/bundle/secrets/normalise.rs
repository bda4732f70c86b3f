//! The texts the rules read, derived from one raw line, and the way back from them.
//!
//! A raw line is cut into segments: for a JSON line, the content of each string literal and the
//! bytes between literals; any other line is one segment. Each segment gives a [`View`]: the
//! string's decoded text (JSON escapes undone) or the bytes as they are. A second view undoes
//! what else hides a secret: escapes of JSON inside a JSON string (repeatedly), ANSI terminal
//! sequences and percent-encoding. Every byte of a view knows the raw span it came from, so a
//! match maps back to raw bytes that lie inside one string literal and cover whole escape
//! sequences: replacing them with text that needs no escaping keeps the line valid JSON.

/// How many times the escapes of JSON inside JSON strings are undone.
const MAX_NESTING: usize = 3;

use std::borrow::Cow;

/// One segment of a raw line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Raw byte range (for a string literal: its content, without the quotes).
    pub start: usize,
    pub end: usize,
    /// The content of a JSON string literal (escapes to undo), or raw bytes.
    pub string: bool,
}

/// How a line (or a part of a long line) is cut into segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lex {
    /// One raw segment.
    Plain,
    /// String literals and the bytes between them; `in_string` when the text starts inside a
    /// literal (a part of a long line cut there).
    Json { in_string: bool },
}

/// How a whole line is lexed: a line whose first non-blank byte opens a JSON value (`{`, `[`,
/// `"`) is JSON, any other line plain text.
pub fn lex_of(line: &[u8]) -> Lex {
    let first = line.iter().position(|b| !b.is_ascii_whitespace());
    if matches!(first.map(|i| line[i]), Some(b'{' | b'[' | b'"')) {
        Lex::Json { in_string: false }
    } else {
        Lex::Plain
    }
}

/// Cuts `line` into segments as [`lex_of`] says: string literals and the bytes between them (an
/// unterminated literal runs to the end of the line), or one raw segment.
pub fn segments(line: &[u8]) -> Vec<Segment> {
    segments_as(line, lex_of(line))
}

/// Cuts `text` into segments as `lex` says.
pub fn segments_as(text: &[u8], lex: Lex) -> Vec<Segment> {
    let Lex::Json { in_string } = lex else {
        return vec![Segment {
            start: 0,
            end: text.len(),
            string: false,
        }];
    };
    let mut out = Vec::new();
    let mut at = 0;
    if in_string {
        let close = string_end(text, 0);
        out.push(Segment {
            start: 0,
            end: close,
            string: true,
        });
        at = close + 1;
    }
    while at < text.len() {
        let Some(open) = memchr::memchr(b'"', &text[at..]).map(|i| at + i) else {
            break;
        };
        if open > at {
            out.push(Segment {
                start: at,
                end: open,
                string: false,
            });
        }
        let content = open + 1;
        let close = string_end(text, content);
        out.push(Segment {
            start: content,
            end: close,
            string: true,
        });
        at = close + 1;
    }
    if at < text.len() {
        out.push(Segment {
            start: at,
            end: text.len(),
            string: false,
        });
    }
    out
}

/// Where the string literal whose content starts at `content` closes (its `"`), or the end of
/// `text`.
fn string_end(text: &[u8], content: usize) -> usize {
    let mut i = content;
    loop {
        if i >= text.len() {
            return text.len();
        }
        match memchr::memchr2(b'"', b'\\', &text[i..]) {
            None => return text.len(),
            Some(k) if text[i + k] == b'"' => return i + k,
            Some(k) => i += k + 2,
        }
    }
}

/// The JSON lexer's state along a long line, advanced in one pass: where each part of the line
/// starts inside a string literal or not.
#[derive(Debug, Clone, Copy)]
pub struct LexCursor {
    pos: usize,
    in_string: bool,
    /// The byte at `pos` is escaped (it follows a backslash inside a string).
    escaped: bool,
}

impl LexCursor {
    pub fn new() -> Self {
        LexCursor {
            pos: 0,
            in_string: false,
            escaped: false,
        }
    }

    /// Advances to `to` (not before where it is) and returns where a part of `line` may start at
    /// or just before `to` without cutting an escape, and whether it starts inside a string.
    pub fn start_at(&mut self, line: &[u8], to: usize) -> (usize, bool) {
        while self.pos < to {
            if self.escaped {
                self.escaped = false;
                self.pos += 1;
                continue;
            }
            let rest = &line[self.pos..to];
            if self.in_string {
                match memchr::memchr2(b'"', b'\\', rest) {
                    None => self.pos = to,
                    Some(k) => {
                        self.in_string = line[self.pos + k] != b'"';
                        self.escaped = self.in_string;
                        self.pos += k + 1;
                    }
                }
            } else {
                match memchr::memchr(b'"', rest) {
                    None => self.pos = to,
                    Some(k) => {
                        self.in_string = true;
                        self.pos += k + 1;
                    }
                }
            }
        }
        if self.escaped {
            // Start at the backslash, so the escape stays whole.
            (self.pos - 1, true)
        } else {
            (self.pos, self.in_string)
        }
    }
}

impl Default for LexCursor {
    fn default() -> Self {
        Self::new()
    }
}

/// Text derived from raw bytes, with the raw span of each of its bytes. A view of raw bytes as
/// they are borrows them.
#[derive(Debug, Clone)]
pub struct View<'a> {
    pub text: Cow<'a, [u8]>,
    map: Map,
}

#[derive(Debug, Clone)]
enum Map {
    /// Byte `i` is raw byte `offset + i`.
    Identity(usize),
    /// The view's bytes in runs, in order, each with where its bytes came from.
    Runs(Vec<Run>),
}

/// The view's bytes `at..end`: copied one for one from raw bytes `raw..` (plain text), or all
/// from the raw span `raw..raw_end` (an escape undone). (A byte apiece, as a table, cost more
/// than the scan's rules on transcripts, which are mostly plain text.)
#[derive(Debug, Clone, Copy)]
struct Run {
    at: usize,
    end: usize,
    raw: usize,
    raw_end: usize,
    copied: bool,
}

impl Run {
    /// The raw span of the run's byte `i`.
    fn raw_span_of(&self, i: usize) -> (usize, usize) {
        if self.copied {
            let raw = self.raw + (i - self.at);
            (raw, raw + 1)
        } else {
            (self.raw, self.raw_end)
        }
    }

    /// Where the raw span of the run's last byte starts.
    fn last_raw_start(&self) -> usize {
        self.raw_span_of(self.end - 1).0
    }
}

impl<'a> View<'a> {
    /// The raw bytes `line[start..end]` as they are.
    pub fn raw(line: &'a [u8], start: usize, end: usize) -> View<'a> {
        View {
            text: Cow::Borrowed(&line[start..end]),
            map: Map::Identity(start),
        }
    }

    /// The view a segment is first read as: a string's decoded content, other bytes as they are.
    pub fn of_segment(line: &'a [u8], segment: Segment) -> View<'a> {
        let raw = View::raw(line, segment.start, segment.end);
        if segment.string {
            json_unescape(&raw).unwrap_or(raw)
        } else {
            raw
        }
    }

    /// The index of the view's first byte that comes from raw byte `raw` or after it.
    pub fn index_of_raw(&self, raw: usize) -> usize {
        match &self.map {
            Map::Identity(offset) => raw.saturating_sub(*offset).min(self.text.len()),
            // (Raw starts never decrease along a view.)
            Map::Runs(runs) => {
                let k = runs.partition_point(|r| r.last_raw_start() < raw);
                runs.get(k).map_or(self.text.len(), |r| {
                    if r.copied {
                        r.at + raw.saturating_sub(r.raw)
                    } else {
                        r.at
                    }
                })
            }
        }
    }

    /// Raw span of the view's bytes `start..end` (`start < end <= text.len()`).
    pub fn raw_span(&self, start: usize, end: usize) -> (usize, usize) {
        debug_assert!(start < end && end <= self.text.len());
        (self.byte_span(start).0, self.byte_span(end - 1).1)
    }

    /// Raw span of the view's byte `i`.
    fn byte_span(&self, i: usize) -> (usize, usize) {
        match &self.map {
            Map::Identity(offset) => (offset + i, offset + i + 1),
            Map::Runs(runs) => runs[runs.partition_point(|r| r.end <= i)].raw_span_of(i),
        }
    }

    /// Everything undone that hides a secret: nested JSON escapes, ANSI sequences,
    /// percent-encoding. `None` when there was nothing to undo.
    pub fn normalised(&self) -> Option<View<'static>> {
        let mut current: Option<View<'static>> = None;
        for _ in 0..MAX_NESTING {
            match json_unescape(current.as_ref().unwrap_or(self)) {
                Some(next) => current = Some(next),
                None => break,
            }
        }
        if let Some(next) = strip_ansi(current.as_ref().unwrap_or(self)) {
            current = Some(next);
        }
        if let Some(next) = percent_decode(current.as_ref().unwrap_or(self)) {
            current = Some(next);
        }
        current
    }
}

/// Builds a view from another one, piece by piece.
struct Builder<'a, 'b> {
    src: &'a View<'b>,
    text: Vec<u8>,
    runs: Vec<Run>,
}

impl<'a, 'b> Builder<'a, 'b> {
    fn new(src: &'a View<'b>) -> Self {
        Builder {
            src,
            text: Vec::with_capacity(src.text.len()),
            runs: Vec::new(),
        }
    }

    /// Appends `bytes`, all of which came from the source's bytes `from..to`.
    fn push(&mut self, bytes: &[u8], from: usize, to: usize) {
        if bytes.is_empty() {
            return;
        }
        let (raw, raw_end) = self.src.raw_span(from, to);
        let at = self.text.len();
        self.text.extend_from_slice(bytes);
        self.runs.push(Run {
            at,
            end: self.text.len(),
            raw,
            raw_end,
            copied: false,
        });
    }

    /// Appends the source's bytes `from..to` unchanged.
    fn copy(&mut self, from: usize, to: usize) {
        if from >= to {
            return;
        }
        let at = self.text.len();
        self.text.extend_from_slice(&self.src.text[from..to]);
        match &self.src.map {
            Map::Identity(offset) => self.add_copied(at, offset + from, to - from),
            Map::Runs(runs) => {
                let first = runs.partition_point(|r| r.end <= from);
                for r in runs[first..].iter().take_while(|r| r.at < to) {
                    let (start, end) = (r.at.max(from), r.end.min(to));
                    let at = at + (start - from);
                    if r.copied {
                        self.add_copied(at, r.raw + (start - r.at), end - start);
                    } else {
                        self.runs.push(Run {
                            at,
                            end: at + (end - start),
                            ..*r
                        });
                    }
                }
            }
        }
    }

    /// A run of `len` bytes at `at` copied from raw bytes `raw..`, joined to the run before
    /// when it goes on where that one stops.
    fn add_copied(&mut self, at: usize, raw: usize, len: usize) {
        if let Some(last) = self.runs.last_mut() {
            if last.copied && last.end == at && last.raw + (last.end - last.at) == raw {
                last.end += len;
                return;
            }
        }
        self.runs.push(Run {
            at,
            end: at + len,
            raw,
            raw_end: 0,
            copied: true,
        });
    }

    fn finish(self) -> View<'static> {
        View {
            text: Cow::Owned(self.text),
            map: Map::Runs(self.runs),
        }
    }
}

fn hex_value(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

fn hex4(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 4 {
        return None;
    }
    bytes[..4]
        .iter()
        .try_fold(0u32, |acc, &b| Some(acc * 16 + hex_value(b)?))
}

/// Undoes JSON string escapes (`\n`, `\"`, `\\`, `\uXXXX` with surrogate pairs). Anything that
/// is not a valid escape stays as it is. `None` when the text holds no backslash.
fn json_unescape(src: &View) -> Option<View<'static>> {
    let text = &src.text;
    memchr::memchr(b'\\', text)?;
    let mut b = Builder::new(src);
    let mut at = 0;
    let mut plain = 0;
    while let Some(k) = memchr::memchr(b'\\', &text[at..]) {
        let i = at + k;
        let Some(&next) = text.get(i + 1) else {
            break;
        };
        let simple = match next {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            b.copy(plain, i);
            b.push(&[c], i, i + 2);
            at = i + 2;
            plain = at;
            continue;
        }
        if next == b'u' {
            if let Some(unit) = hex4(&text[i + 2..]) {
                let mut end = i + 6;
                let mut ch = None;
                if (0xD800..0xDC00).contains(&unit) && text[end..].starts_with(b"\\u") {
                    if let Some(low) = hex4(&text[end + 2..]) {
                        if (0xDC00..0xE000).contains(&low) {
                            ch = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
                            end += 6;
                        }
                    }
                }
                let ch = ch
                    .or_else(|| char::from_u32(unit))
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                b.copy(plain, i);
                b.push(ch.encode_utf8(&mut buf).as_bytes(), i, end);
                at = end;
                plain = at;
                continue;
            }
        }
        at = i + 1;
    }
    b.copy(plain, text.len());
    Some(b.finish())
}

/// Removes ANSI escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ST`, and two-byte
/// escapes). `None` when the text holds no ESC.
fn strip_ansi(src: &View) -> Option<View<'static>> {
    const ESC: u8 = 0x1b;
    let text = &src.text;
    memchr::memchr(ESC, text)?;
    let mut b = Builder::new(src);
    let mut at = 0;
    let mut plain = 0;
    while let Some(k) = memchr::memchr(ESC, &text[at..]) {
        let i = at + k;
        let end = match text.get(i + 1) {
            Some(b'[') => {
                let params = text[i + 2..]
                    .iter()
                    .position(|c| !(0x20..=0x3f).contains(c))
                    .map_or(text.len(), |p| i + 2 + p);
                if text.get(params).is_some_and(|c| (0x40..=0x7e).contains(c)) {
                    params + 1
                } else {
                    params
                }
            }
            Some(b']') => {
                let mut j = i + 2;
                loop {
                    match text.get(j) {
                        None => break j,
                        Some(0x07) => break j + 1,
                        Some(&ESC) if text.get(j + 1) == Some(&b'\\') => break j + 2,
                        Some(_) => j += 1,
                    }
                }
            }
            // A two-byte escape ends in a byte of 0x30-0x7e; before a space, a quote or other
            // punctuation only the ESC goes (`ESC "auth"` keeps its quote, which a rule reads).
            Some(c) if (0x30..=0x7e).contains(c) => i + 2,
            Some(_) | None => i + 1,
        };
        b.copy(plain, i);
        at = end;
        plain = end;
    }
    b.copy(plain, text.len());
    Some(b.finish())
}

/// Undoes percent-encoding (`%XX`). `None` when there is none.
fn percent_decode(src: &View) -> Option<View<'static>> {
    let text = &src.text;
    let is_escape = |i: usize| {
        text.len() > i + 2 && hex_value(text[i + 1]).is_some() && hex_value(text[i + 2]).is_some()
    };
    let first = memchr::memchr_iter(b'%', text).find(|&i| is_escape(i))?;
    let mut b = Builder::new(src);
    b.copy(0, first);
    let mut at = first;
    let mut plain = first;
    while let Some(k) = memchr::memchr(b'%', &text[at..]) {
        let i = at + k;
        if is_escape(i) {
            let byte = (hex_value(text[i + 1]).unwrap_or(0) * 16
                + hex_value(text[i + 2]).unwrap_or(0)) as u8;
            b.copy(plain, i);
            b.push(&[byte], i, i + 3);
            at = i + 3;
            plain = at;
        } else {
            at = i + 1;
        }
    }
    b.copy(plain, text.len());
    Some(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<(String, bool)> {
        segments(line.as_bytes())
            .into_iter()
            .map(|s| (line[s.start..s.end].to_owned(), s.string))
            .collect()
    }

    #[test]
    fn json_lines_are_cut_into_literals_and_the_rest() {
        assert_eq!(
            texts(r#"{"a":"x\"y","b":1}"#),
            [
                ("{".into(), false),
                ("a".into(), true),
                (":".into(), false),
                (r#"x\"y"#.into(), true),
                (",".into(), false),
                ("b".into(), true),
                (":1}".into(), false)
            ]
        );
        assert_eq!(texts("plain text"), [("plain text".into(), false)]);
        assert_eq!(
            texts(r#"{"torn"#),
            [("{".into(), false), ("torn".into(), true)]
        );
        assert_eq!(
            texts(r#"{"ends\"#),
            [("{".into(), false), (r#"ends\"#.into(), true)]
        );
    }

    #[test]
    fn views_map_back_to_whole_escapes() {
        let line = br#"{"k":"a\nb\u00e9\\nc%41\u001b[31mD"}"#;
        let seg = segments(line)[3];
        let view = View::of_segment(line, seg);
        assert_eq!(view.text, "a\nb\u{e9}\\nc%41\x1b[31mD".as_bytes());
        // `é` (two bytes) maps to the whole `\u00e9`.
        let e = view.text.iter().position(|&c| c == 0xc3).unwrap();
        let (s, t) = view.raw_span(e, e + 2);
        assert_eq!(&line[s..t], br"\u00e9");
        let full = view.normalised().unwrap();
        assert_eq!(full.text, "a\nb\u{e9}\nc\x41D".as_bytes());
        let d = full.text.len() - 1;
        let (s, t) = full.raw_span(d - 1, d + 1);
        assert_eq!(&line[s..t], br"%41\u001b[31mD");
    }

    /// Every byte of every view maps to raw bytes in order: a copied byte to itself, a
    /// decoded one to a whole escape; and the way back finds the first byte from a raw byte on.
    #[test]
    fn views_map_every_byte_back_in_order() {
        let pieces: [&[u8]; 12] = [
            b"ab",
            br"\n",
            br"\\",
            br"\\n",
            br"\u00e9",
            br"\ud83d\ude00",
            br"\u001b[1m",
            b"%41",
            b"%zz",
            br"\\\\u0041",
            b"\x1b[2K",
            b"xyz\xc3\xa9",
        ];
        let mut seed = 7u64;
        for _ in 0..400 {
            let mut content = Vec::new();
            for _ in 0..12 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                content.extend_from_slice(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            let mut line = br#"{"k":""#.to_vec();
            line.extend_from_slice(&content);
            line.extend_from_slice(br#""}"#);
            let seg = segments(&line)[3];
            let first = View::of_segment(&line, seg);
            let views: Vec<View> = std::iter::once(first.clone())
                .chain(first.normalised())
                .collect();
            for view in &views {
                let mut last = (seg.start, seg.start);
                for i in 0..view.text.len() {
                    let (s, e) = view.raw_span(i, i + 1);
                    assert!(
                        seg.start <= s && s < e && e <= seg.end,
                        "{s}..{e} of {seg:?}"
                    );
                    assert!(s >= last.0 && e >= last.1, "out of order at {i}");
                    if e - s == 1 {
                        assert_eq!(line[s], view.text[i], "copied byte {i}");
                    }
                    let back = view.index_of_raw(s);
                    assert!(back <= i && view.raw_span(back, back + 1).0 == s);
                    last = (s, e);
                }
                assert_eq!(view.index_of_raw(seg.end), view.text.len());
            }
        }
    }

    /// An ESC before a quote or a space is no two-byte escape: only the ESC goes, so the
    /// quote that starts `"auth": "..."` stays for the rule that reads it.
    #[test]
    fn an_escape_before_punctuation_keeps_the_punctuation() {
        let line = br#"{"k":"a\u001b\"auth\" \u001bMx\u001b y"}"#;
        let seg = segments(line)[3];
        let full = View::of_segment(line, seg).normalised().unwrap();
        assert_eq!(&full.text[..], br#"a"auth" x y"#);
    }
}

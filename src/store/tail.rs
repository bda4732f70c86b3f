//! What a session file says about itself at its end: its branch, last activity, working folder,
//! session id and Claude Code version. These come from the last record that has each field
//! (DESIGN.md: "A session's branch is the `gitBranch` of its last record that has one"), so they are
//! read from a bounded window at the end of the file, widened (doubling) only while some field is
//! still missing. Whole-file reads and modification times play no part.
//!
//! `HEAD` is what Claude Code records on a detached checkout (as in CI) and names no branch: the
//! branch is the last real one recorded, so a session continued in CI and restored on a laptop is
//! still the branch's session there. A session that only ever recorded `HEAD` has branch `HEAD`
//! (telling that needs the whole file; the facts cache keeps it to once per change).

use std::fs::File;
use std::io;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::records::parse_timestamp;

/// The first window read from the end of a file. Most real sessions end with a short answer and
/// small system and metadata records (8 of the 10 corpus files have their last branch-carrying
/// record within 1.4 KiB of the end); a file that ends in a huge tool result widens the window,
/// doubling, until the record fits.
pub const INITIAL_WINDOW: u64 = 4 * 1024;

/// Facts from the end of a session file. Each is taken from the last record that carries it
/// (an empty `gitBranch`/`cwd`, as 1.0.x writes outside git, counts as absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TailFacts {
    pub branch: Option<String>,
    pub last_activity: Option<DateTime<Utc>>,
    pub cwd: Option<String>,
    pub session_id: Option<String>,
    pub version: Option<String>,
    /// The file's size in bytes when it was read.
    pub size: u64,
}

impl TailFacts {
    /// Branch, last activity and folder decide what ccsync does; the scan stops once all three
    /// are known (the record that holds them nearly always holds the id and version too, and the
    /// id and version are only taken from lines already read).
    fn has_essentials(&self) -> bool {
        self.branch.is_some() && self.last_activity.is_some() && self.cwd.is_some()
    }

    /// Fills every still-missing fact from one record (records arrive newest first).
    fn absorb(&mut self, fields: &TopFields<'_>, detached_seen: &mut bool) {
        if self.branch.is_none() {
            match fields.git_branch.as_ref().and_then(|v| v.text()) {
                Some(branch) if branch == DETACHED_HEAD => *detached_seen = true,
                branch => self.branch = branch,
            }
        }
        if self.last_activity.is_none() {
            self.last_activity = fields
                .timestamp
                .as_ref()
                .and_then(|v| v.text())
                .and_then(|t| parse_timestamp(&t));
        }
        if self.cwd.is_none() {
            self.cwd = fields.cwd.as_ref().and_then(|v| v.text());
        }
        if self.session_id.is_none() {
            self.session_id = fields.session_id.as_ref().and_then(|v| v.text());
        }
        if self.version.is_none() {
            self.version = fields.version.as_ref().and_then(|v| v.text());
        }
    }
}

/// The `gitBranch` Claude Code records on a detached HEAD.
pub const DETACHED_HEAD: &str = "HEAD";

/// Reads the facts from the end of the file at `path`.
pub fn tail_facts(path: &Path) -> io::Result<TailFacts> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    tail_facts_of(&file, size, INITIAL_WINDOW)
}

/// The work of [`tail_facts`] on an open file of `size` bytes, starting with `window` bytes.
pub(crate) fn tail_facts_of(file: &File, size: u64, window: u64) -> io::Result<TailFacts> {
    // One buffer per thread: a scan reads thousands of files, and zeroing a fresh buffer for each
    // costs as much as the read.
    thread_local!(static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
    BUF.with_borrow_mut(|buf| scan_back(file, size, window, buf))
}

/// Scans the lines of the file from its end, newest first, in windows that start at `window`
/// bytes and double while an essential fact is missing. Each byte is read from the file once:
/// when the window widens, only the unread part before it is read, and only the unfinished line
/// at its front is kept.
fn scan_back(file: &File, size: u64, window: u64, buf: &mut Vec<u8>) -> io::Result<TailFacts> {
    let mut facts = TailFacts {
        size,
        ..TailFacts::default()
    };
    let mut detached_seen = false;
    let finish = |mut facts: TailFacts, detached_seen: bool| {
        if facts.branch.is_none() && detached_seen {
            facts.branch = Some(DETACHED_HEAD.to_owned());
        }
        facts
    };
    let mut window = window.max(1);
    // `buf` holds the file's bytes [lo, line_end): the unfinished line (or lines) not yet seen.
    // [search_end, line_end) is known to hold no newline.
    let mut lo = size;
    let mut line_end = size;
    let mut search_end = size;
    buf.clear();
    while lo > 0 {
        let new_lo = size.saturating_sub(window).min(lo);
        let chunk = (lo - new_lo) as usize;
        let kept = (line_end - lo) as usize;
        buf.resize(chunk + kept, 0);
        buf.copy_within(0..kept, chunk);
        read_exact_at(file, &mut buf[..chunk], new_lo)?;
        lo = new_lo;
        loop {
            let rel = |abs: u64| (abs - lo) as usize;
            match memchr::memrchr(b'\n', &buf[..rel(search_end)]) {
                Some(nl) => {
                    let nl_abs = lo + nl as u64;
                    scan_line(&buf[nl + 1..rel(line_end)], &mut facts, &mut detached_seen);
                    line_end = nl_abs;
                    search_end = nl_abs;
                    if facts.has_essentials() {
                        return Ok(finish(facts, detached_seen));
                    }
                }
                None if lo == 0 => {
                    // The first line of the file is whole.
                    scan_line(&buf[..rel(line_end)], &mut facts, &mut detached_seen);
                    return Ok(finish(facts, detached_seen));
                }
                None => {
                    search_end = lo;
                    break;
                }
            }
        }
        buf.truncate(rel_len(lo, line_end));
        window = window.saturating_mul(2);
    }
    Ok(finish(facts, detached_seen))
}

fn rel_len(lo: u64, end: u64) -> usize {
    (end - lo) as usize
}

/// Feeds the objects of one line to `facts`, newest (rightmost) first.
fn scan_line(line: &[u8], facts: &mut TailFacts, detached_seen: &mut bool) {
    // Most metadata lines carry none of these keys: skip them without scanning.
    let wanted: &[&[u8]] = &[b"\"gitBranch\"", b"\"timestamp\"", b"\"cwd\""];
    if !wanted
        .iter()
        .any(|key| memchr::memmem::find(line, key).is_some())
    {
        return;
    }
    let mut objects = Vec::new();
    let mut at = skip_ws(line, 0);
    while at < line.len() {
        match top_fields(line, at) {
            Some((fields, end)) => {
                objects.push(fields);
                at = skip_ws(line, end);
            }
            // A torn or broken rest of the line holds no record.
            None => break,
        }
    }
    for fields in objects.iter().rev() {
        facts.absorb(fields, detached_seen);
    }
}

/// A string value of a record, as its raw JSON text between the quotes.
struct RawStr<'a> {
    inner: &'a [u8],
    escaped: bool,
}

impl RawStr<'_> {
    /// The decoded text; `None` for an empty string or bad escapes/UTF-8.
    fn text(&self) -> Option<String> {
        let text = if self.escaped {
            let mut quoted = Vec::with_capacity(self.inner.len() + 2);
            quoted.push(b'"');
            quoted.extend_from_slice(self.inner);
            quoted.push(b'"');
            serde_json::from_slice::<String>(&quoted).ok()?
        } else {
            std::str::from_utf8(self.inner).ok()?.to_owned()
        };
        (!text.is_empty()).then_some(text)
    }
}

/// The top-level fields the tail needs, found without decoding the rest of the record.
#[derive(Default)]
struct TopFields<'a> {
    git_branch: Option<RawStr<'a>>,
    timestamp: Option<RawStr<'a>>,
    cwd: Option<RawStr<'a>>,
    session_id: Option<RawStr<'a>>,
    version: Option<RawStr<'a>>,
}

/// Walks one JSON object starting at `at` and picks its top-level string fields of interest,
/// skipping every other value (message bodies are most of a file) with `memchr` over string
/// contents instead of a full parse. Returns the fields and the offset after the object, or `None`
/// when the text is not a complete object (a torn line). Validation is structural only: this is a
/// fast path for tail facts; [`super::records`] is the strict reader.
fn top_fields(b: &[u8], at: usize) -> Option<(TopFields<'_>, usize)> {
    let mut fields = TopFields::default();
    let mut i = at;
    if *b.get(i)? != b'{' {
        return None;
    }
    i = skip_ws(b, i + 1);
    if *b.get(i)? == b'}' {
        return Some((fields, i + 1));
    }
    loop {
        if *b.get(i)? != b'"' {
            return None;
        }
        let (key_end, _) = string_end(b, i)?;
        let key = &b[i + 1..key_end];
        i = skip_ws(b, key_end + 1);
        if *b.get(i)? != b':' {
            return None;
        }
        i = skip_ws(b, i + 1);
        let slot = match key {
            b"gitBranch" => Some(&mut fields.git_branch),
            b"timestamp" => Some(&mut fields.timestamp),
            b"cwd" => Some(&mut fields.cwd),
            b"sessionId" => Some(&mut fields.session_id),
            b"version" => Some(&mut fields.version),
            _ => None,
        };
        match (slot, *b.get(i)?) {
            (Some(slot), b'"') => {
                let (end, escaped) = string_end(b, i)?;
                *slot = Some(RawStr {
                    inner: &b[i + 1..end],
                    escaped,
                });
                i = end + 1;
            }
            (Some(slot), _) => {
                *slot = None;
                i = skip_value(b, i)?;
            }
            (None, _) => i = skip_value(b, i)?,
        }
        i = skip_ws(b, i);
        match *b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return Some((fields, i + 1)),
            _ => return None,
        }
    }
}

/// The offset of the closing quote of the string opening at `start`, and whether it has escapes.
fn string_end(b: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut j = start + 1;
    let mut escaped = false;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', &b[j..])?;
        if b[k] == b'"' {
            return Some((k, escaped));
        }
        escaped = true;
        j = k + 2;
        if j > b.len() {
            return None;
        }
    }
}

/// The offset after the JSON value starting at `i`.
fn skip_value(b: &[u8], mut i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => Some(string_end(b, i)?.0 + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match *b.get(i)? {
                    b'"' => i = string_end(b, i)?.0,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            // A number, true, false or null.
            let len = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace())?;
            (len > 0).then_some(i + len)
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

#[cfg(unix)]
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detached_head_names_no_branch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let text = [
            chain("feature/login", "2026-01-01T00:00:00Z", "/laptop/app", 0),
            chain("HEAD", "2026-01-02T00:00:00Z", "/runner/app", 5000),
            chain("HEAD", "2026-01-03T00:00:00Z", "/runner/app", 0),
        ]
        .join("\n");
        std::fs::write(&path, format!("{text}\n")).unwrap();
        let facts = tail_facts(&path).unwrap();
        assert_eq!(
            facts.branch.as_deref(),
            Some("feature/login"),
            "the last real branch"
        );
        assert_eq!(
            facts.cwd.as_deref(),
            Some("/runner/app"),
            "other facts still come from the end"
        );

        let only_head = [
            chain("HEAD", "2026-01-02T00:00:00Z", "/runner/app", 0),
            chain("HEAD", "2026-01-03T00:00:00Z", "/runner/app", 0),
        ]
        .join("\n");
        std::fs::write(&path, format!("{only_head}\n")).unwrap();
        assert_eq!(tail_facts(&path).unwrap().branch.as_deref(), Some("HEAD"));
    }

    fn chain(branch: &str, ts: &str, cwd: &str, pad: usize) -> String {
        format!(
            r#"{{"parentUuid":null,"cwd":"{cwd}","sessionId":"s1","version":"2.1.1","gitBranch":"{branch}","type":"user","message":{{"content":"{}"}},"uuid":"u","timestamp":"{ts}"}}"#,
            "x".repeat(pad)
        )
    }

    fn facts_for(text: &str, window: u64) -> TailFacts {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        tail_facts_of(&file, text.len() as u64, window).unwrap()
    }

    #[test]
    fn last_record_with_each_field_wins() {
        let text = [
            chain("main", "2026-01-01T00:00:00Z", "/r", 10),
            chain("feature", "2026-01-02T00:00:00Z", "/r/sub", 10),
            r#"{"type":"summary","summary":"s","leafUuid":"u"}"#.to_owned(),
            r#"{"type":"last-prompt","leafUuid":"u"}"#.to_owned(),
            String::new(),
        ]
        .join("\n");
        for window in [1, 7, 64, 16 * 1024] {
            let f = facts_for(&text, window);
            assert_eq!(f.branch.as_deref(), Some("feature"), "window {window}");
            assert_eq!(f.cwd.as_deref(), Some("/r/sub"));
            assert_eq!(
                f.last_activity.unwrap().to_rfc3339(),
                "2026-01-02T00:00:00+00:00"
            );
            assert_eq!(f.session_id.as_deref(), Some("s1"));
            assert_eq!(f.version.as_deref(), Some("2.1.1"));
        }
    }

    #[test]
    fn torn_last_line_and_glued_line() {
        let text = format!(
            "{}\n{}{}\n{}",
            chain("old", "2026-01-01T00:00:00Z", "/r", 5),
            chain("a", "2026-01-03T00:00:00Z", "/r", 5),
            chain("b", "2026-01-04T00:00:00Z", "/r", 5),
            &chain("torn", "2026-01-09T00:00:00Z", "/r", 5)[..60],
        );
        for window in [3, 100, 1 << 20] {
            let f = facts_for(&text, window);
            assert_eq!(f.branch.as_deref(), Some("b"), "window {window}");
        }
    }

    #[test]
    fn huge_last_record_widens_the_window() {
        let text = format!(
            "{}\n{}\n",
            chain("first", "2026-01-01T00:00:00Z", "/r", 5),
            chain("big", "2026-01-05T00:00:00Z", "/r", 300_000)
        );
        let f = facts_for(&text, 1024);
        assert_eq!(f.branch.as_deref(), Some("big"));
    }

    #[test]
    fn fields_spread_over_records_and_empty_values() {
        let text = [
            chain("main", "2026-01-01T00:00:00Z", "/r", 1),
            r#"{"type":"user","gitBranch":"","cwd":"","timestamp":"2026-01-05T00:00:00Z"}"#
                .to_owned(),
        ]
        .join("\n");
        let f = facts_for(&text, 16);
        assert_eq!(f.branch.as_deref(), Some("main"));
        assert_eq!(f.cwd.as_deref(), Some("/r"));
        assert_eq!(
            f.last_activity.unwrap().to_rfc3339(),
            "2026-01-05T00:00:00+00:00"
        );
    }

    #[test]
    fn empty_and_metadata_only_files() {
        assert_eq!(facts_for("", 16), TailFacts::default());
        let f = facts_for("{\"type\":\"summary\"}\n\n", 4);
        assert_eq!(f.branch, None);
        assert_eq!(f.size, 20);
    }

    /// The fast scanner against the strict reader: same fields for every object of a line.
    fn assert_scanner_agrees(line: &str) {
        let mut strict = Vec::new();
        let whole = crate::store::records::objects_in_line(line, |raw| {
            strict.push(crate::store::Record { raw, line: 0 }.fields())
        });
        let bytes = line.trim_ascii().as_bytes();
        let mut fast = Vec::new();
        let mut at = skip_ws(bytes, 0);
        while at < bytes.len() {
            let Some((fields, end)) = top_fields(bytes, at) else {
                break;
            };
            fast.push(fields);
            at = skip_ws(bytes, end);
        }
        if whole {
            assert_eq!(fast.len(), strict.len(), "object count of {line:.200}");
        }
        for (f, s) in fast.iter().zip(&strict) {
            let text = |v: &Option<RawStr<'_>>| v.as_ref().and_then(RawStr::text);
            let strict_text = |v: &Option<std::borrow::Cow<'_, str>>| {
                v.as_deref().filter(|t| !t.is_empty()).map(str::to_owned)
            };
            assert_eq!(
                text(&f.git_branch),
                strict_text(&s.git_branch),
                "{line:.200}"
            );
            assert_eq!(text(&f.timestamp), strict_text(&s.timestamp), "{line:.200}");
            assert_eq!(text(&f.cwd), strict_text(&s.cwd), "{line:.200}");
            assert_eq!(
                text(&f.session_id),
                strict_text(&s.session_id),
                "{line:.200}"
            );
            assert_eq!(text(&f.version), strict_text(&s.version), "{line:.200}");
        }
    }

    #[test]
    fn scanner_agrees_with_the_strict_reader() {
        for line in [
            r#"{"gitBranch":"a\"b","cwd":"C:\\x\u00fc","message":{"gitBranch":"nested","x":[1,{"cwd":"n"}]},"timestamp":"t"}"#,
            r#"{ "gitBranch" : "sp" , "n" : -1.5e3, "b": true, "z": null, "cwd": 5 }"#,
            r#"{"a":"}{\"]","gitBranch":"x"}{"gitBranch":"y"}"#,
            r#"{"gitBranch":"x","message":{"content":"cut"#,
            r#"{}"#,
            r#"{"version":"2.1.1","sessionId":"s","gitBranch":"","cwd":""}"#,
            r#"{"k":["[","{",{"gitBranch":"deep"}],"gitBranch":"top"}"#,
        ] {
            assert_scanner_agrees(line);
        }
    }

    #[test]
    fn scanner_agrees_on_the_real_corpus() {
        let dir = std::env::var_os("CCSYNC_CORPUS").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
            std::path::PathBuf::from,
        );
        let Ok(sources) = std::fs::read_to_string(dir.join("SOURCES.md")) else {
            eprintln!("skipped: no corpus at {}", dir.display());
            return;
        };
        let mut lines = 0;
        for rel in sources.lines().filter_map(|l| l.strip_prefix("| `")) {
            let Some(rel) = rel.split('`').next() else {
                continue;
            };
            let Ok(file) = std::fs::File::open(dir.join(rel)) else {
                continue;
            };
            for line in std::io::BufRead::lines(std::io::BufReader::new(file)) {
                assert_scanner_agrees(&line.unwrap());
                lines += 1;
            }
        }
        assert!(lines > 3000, "corpus lines read: {lines}");
    }

    /// Last-wins facts over every object of the text, the slow way.
    fn reference(text: &str) -> (Option<String>, Option<String>, Option<String>) {
        let (mut branch, mut ts, mut cwd) = (None, None, None);
        for line in text.split('\n') {
            crate::store::records::objects_in_line(line, |raw| {
                let f = crate::store::Record { raw, line: 0 }.fields();
                let keep = |v: Option<std::borrow::Cow<'_, str>>| {
                    v.filter(|s| !s.is_empty()).map(|s| s.into_owned())
                };
                branch = keep(f.git_branch.clone()).or(branch.take());
                ts = keep(f.timestamp.clone()).or(ts.take());
                cwd = keep(f.cwd.clone()).or(cwd.take());
            });
        }
        (branch, ts, cwd)
    }

    proptest::proptest! {
        #[test]
        fn any_window_gives_the_last_values(
            parts in proptest::collection::vec((0u8..6, 0usize..3000, 0u8..4), 0..12),
            window in 1u64..9000,
            torn in proptest::bool::ANY,
        ) {
            let mut text = String::new();
            for (i, (kind, pad, branch)) in parts.iter().enumerate() {
                let ts = format!("2026-01-01T00:{:02}:00Z", i);
                let line = match kind {
                    0 | 1 => chain(&format!("b{branch}"), &ts, &format!("/c{branch}"), *pad),
                    2 => r#"{"type":"summary","leafUuid":"x"}"#.to_owned(),
                    3 => format!(r#"{{"type":"user","gitBranch":"g{branch}","message":{{"timestamp":"nested"}}}}"#),
                    4 => format!(r#"{{"type":"system","timestamp":"{ts}","cwd":"/s{branch}"}}"#),
                    _ => String::new(),
                };
                text.push_str(&line);
                // Sometimes glue the next object onto this line.
                if *branch != 3 { text.push('\n'); }
            }
            if torn {
                text.push_str(&chain("torn", "2099-01-01T00:00:00Z", "/t", 10)[..40]);
            }
            let (branch, ts, cwd) = reference(&text);
            let facts = facts_for(&text, window);
            proptest::prop_assert_eq!(&facts.branch, &branch);
            proptest::prop_assert_eq!(facts.last_activity, ts.as_deref().and_then(parse_timestamp));
            proptest::prop_assert_eq!(&facts.cwd, &cwd);
        }
    }
}

//! Reading session files record by record. A session file is JSON Lines, but real files break the
//! format in known ways (docs/claude-code-store.md, "Records"): two objects glued on one line
//! (`}{`), a torn last line after a crash, no final newline, empty files, lines that are not JSON
//! objects. The reader yields every complete object exactly as written and reports the rest by
//! line number; it never holds more than one line in memory.

use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One JSON object of a session file.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The object's text exactly as in the file (no surrounding whitespace).
    pub raw: &'a str,
    /// The 1-based line it sits on (glued objects share a line).
    pub line: u64,
}

impl<'a> Record<'a> {
    /// The fields ccsync looks at, parsed lightly. A field of an unexpected JSON type reads as
    /// absent rather than failing the record: unknown shapes pass through untouched.
    pub fn fields(&self) -> RecordFields<'a> {
        serde_json::from_str(self.raw).unwrap_or_default()
    }
}

/// The fields of a record that locate and date it. Each is `None` when absent, `null`, or not a
/// string. `parent_uuid` is `None` at a chain root and after a compaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordFields<'a> {
    #[serde(rename = "type", default, borrow, deserialize_with = "lenient_str")]
    pub kind: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    pub uuid: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    pub parent_uuid: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    pub session_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    pub cwd: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    pub git_branch: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    pub timestamp: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    pub version: Option<Cow<'a, str>>,
}

impl RecordFields<'_> {
    /// The timestamp as a UTC instant, when it is valid RFC 3339.
    pub fn timestamp_utc(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        parse_timestamp(self.timestamp.as_deref()?)
    }
}

/// Parses an ISO-8601 / RFC 3339 timestamp as Claude Code writes it (`2026-02-10T21:11:56.906Z`).
pub fn parse_timestamp(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// A string, borrowed when it has no escapes; any other JSON value reads as `None`.
fn lenient_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct LenientStr;
    impl<'de> Visitor<'de> for LenientStr {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(LenientStr)
}

/// What a pass over a file found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Complete JSON objects handed to the callback.
    pub records: u64,
    /// Line numbers (1-based) holding text that is not a complete JSON object: a torn last line,
    /// junk, or the broken tail of a glued line. A line is listed once.
    pub unparsable: Vec<u64>,
    /// Lines read (the last one may lack its `\n`).
    pub lines: u64,
}

/// The length of `file`'s complete lines: the offset after its last `\n` (0 when it has none).
/// Only complete records travel (DESIGN.md): a last line without its newline is being written,
/// so push packs, and the conflict rule compares, up to here. Reads backwards in blocks.
pub fn complete_lines_len(file: &std::fs::File) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut end = file.metadata()?.len();
    let mut block = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let part = &mut block[..(end - start) as usize];
        file.read_exact_at(part, start)?;
        if let Some(i) = memchr::memrchr(b'\n', part) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Calls `f` with every JSON object of a session file, in file order, streaming line by line.
/// Objects glued on one line come out one by one with the same line number. Text that is not a
/// complete object is skipped and reported in [`ReadSummary::unparsable`]. Errors of `f` and I/O
/// errors end the read.
pub fn read_records<R: BufRead>(
    mut reader: R,
    mut f: impl FnMut(Record<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<ReadSummary> {
    let mut summary = ReadSummary::default();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let Ok(line) = std::str::from_utf8(&buf) else {
            summary.unparsable.push(line_no);
            continue;
        };
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let mut stream = serde_json::Deserializer::from_str(line).into_iter::<&RawValue>();
        for item in stream.by_ref() {
            match item {
                Ok(raw) if raw.get().starts_with('{') => {
                    summary.records += 1;
                    f(Record {
                        raw: raw.get(),
                        line: line_no,
                    })?;
                }
                // A number, string or array is not a record; neither is anything after it.
                Ok(_) | Err(_) => {
                    summary.unparsable.push(line_no);
                    break;
                }
            }
        }
    }
    summary.lines = line_no;
    Ok(summary)
}

/// Calls `f` with every complete JSON object of one line (a line may hold glued objects), and
/// says whether the whole line was made of objects. Used where a line is already in memory.
pub(crate) fn objects_in_line<'a>(line: &'a str, mut f: impl FnMut(&'a str)) -> bool {
    let line = line.trim_ascii();
    if line.is_empty() {
        return true;
    }
    for item in serde_json::Deserializer::from_str(line).into_iter::<&RawValue>() {
        match item {
            Ok(raw) if raw.get().starts_with('{') => f(raw.get()),
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str) -> (Vec<(String, u64)>, ReadSummary) {
        let mut seen = Vec::new();
        let summary = read_records(text.as_bytes(), |r| {
            seen.push((r.raw.to_owned(), r.line));
            Ok(())
        })
        .unwrap();
        (seen, summary)
    }

    #[test]
    fn plain_lines_come_out_verbatim() {
        let (seen, summary) = collect("{\"type\":\"user\",\"a\":1}\n{\"type\": \"x\"}\n");
        assert_eq!(
            seen,
            vec![
                ("{\"type\":\"user\",\"a\":1}".to_owned(), 1),
                ("{\"type\": \"x\"}".to_owned(), 2)
            ]
        );
        assert_eq!(summary.records, 2);
        assert!(summary.unparsable.is_empty());
    }

    #[test]
    fn glued_torn_and_junk() {
        let text = "{\"a\":1}{\"b\":2}\r\n\n  \nnot json\n{\"c\":3} {\"d\":4}\n42\n{\"e\":5}{\"f\":\n{\"g\":";
        let (seen, summary) = collect(text);
        let raws: Vec<&str> = seen.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(
            raws,
            [
                "{\"a\":1}",
                "{\"b\":2}",
                "{\"c\":3}",
                "{\"d\":4}",
                "{\"e\":5}"
            ]
        );
        assert_eq!(seen[1].1, 1);
        assert_eq!(seen[4].1, 7);
        assert_eq!(summary.records, 5);
        assert_eq!(summary.unparsable, vec![4, 6, 7, 8]);
    }

    #[test]
    fn empty_and_no_final_newline() {
        assert_eq!(collect("").1, ReadSummary::default());
        let (seen, summary) = collect("{\"a\":1}");
        assert_eq!(seen.len(), 1);
        assert!(summary.unparsable.is_empty());
    }

    #[test]
    fn invalid_utf8_is_unparsable() {
        let mut bytes = b"{\"a\":1}\n".to_vec();
        bytes.extend_from_slice(b"{\"b\":\"\xff\"}\n{\"c\":1}\n");
        let mut n = 0;
        let summary = read_records(&bytes[..], |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(summary.unparsable, vec![2]);
    }

    #[test]
    fn fields_are_lenient() {
        let rec = Record {
            raw: r#"{"type":"user","uuid":"u1","parentUuid":null,"sessionId":"s","cwd":"C:\\x","gitBranch":"main","timestamp":"2026-01-02T03:04:05.678Z","version":"2.1.1","message":{"content":[1,{"gitBranch":"nested"}]}}"#,
            line: 1,
        };
        let f = rec.fields();
        assert_eq!(f.kind.as_deref(), Some("user"));
        assert_eq!(f.uuid.as_deref(), Some("u1"));
        assert_eq!(f.parent_uuid, None);
        assert_eq!(f.cwd.as_deref(), Some(r"C:\x"));
        assert_eq!(f.git_branch.as_deref(), Some("main"));
        assert_eq!(
            f.timestamp_utc().unwrap().to_rfc3339(),
            "2026-01-02T03:04:05.678+00:00"
        );
        let odd = Record {
            raw: r#"{"type":7,"uuid":["x"],"cwd":{"a":[1,2]},"gitBranch":true,"sessionId":"s"}"#,
            line: 1,
        };
        let f = odd.fields();
        assert_eq!(f.kind, None);
        assert_eq!(f.uuid, None);
        assert_eq!(f.cwd, None);
        assert_eq!(f.git_branch, None);
        assert_eq!(f.session_id.as_deref(), Some("s"));
    }
}

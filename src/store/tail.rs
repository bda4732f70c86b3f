//! What a session file says about itself at its end: its branch, last activity, working folder,
//! session id and Claude Code version. These come from the last record that has each field
//! (DESIGN.md: "A session's branch is the `gitBranch` of its last record that has one"), so they are
//! read from a bounded window at the end of the file, widened (doubling) only while some field is
//! still missing. Whole-file reads and modification times play no part.

use std::fs::File;
use std::io;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::records::{objects_in_line, parse_timestamp, Record};

/// The first window read from the end of a file. Real chain records are a few KiB; a file that
/// ends in a huge tool result widens the window until the record fits.
pub const INITIAL_WINDOW: u64 = 16 * 1024;

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
    /// are known (the record that holds them nearly always holds the id and version too).
    fn has_essentials(&self) -> bool {
        self.branch.is_some() && self.last_activity.is_some() && self.cwd.is_some()
    }

    fn complete(&self) -> bool {
        self.has_essentials() && self.session_id.is_some() && self.version.is_some()
    }

    /// Fills every still-missing fact from one record (records arrive newest first).
    fn absorb(&mut self, raw: &str) {
        let fields = Record { raw, line: 0 }.fields();
        if self.branch.is_none() {
            self.branch = nonempty(fields.git_branch.as_deref());
        }
        if self.last_activity.is_none() {
            self.last_activity = fields.timestamp.as_deref().and_then(parse_timestamp);
        }
        if self.cwd.is_none() {
            self.cwd = nonempty(fields.cwd.as_deref());
        }
        if self.session_id.is_none() {
            self.session_id = nonempty(fields.session_id.as_deref());
        }
        if self.version.is_none() {
            self.version = nonempty(fields.version.as_deref());
        }
    }
}

fn nonempty(value: Option<&str>) -> Option<String> {
    value.filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Reads the facts from the end of the file at `path`.
pub fn tail_facts(path: &Path) -> io::Result<TailFacts> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    tail_facts_of(&file, size, INITIAL_WINDOW)
}

/// The work of [`tail_facts`] on an open file of `size` bytes, starting with `window` bytes.
pub(crate) fn tail_facts_of(file: &File, size: u64, window: u64) -> io::Result<TailFacts> {
    let mut facts = TailFacts {
        size,
        ..TailFacts::default()
    };
    let mut window = window.max(1);
    let mut buf = Vec::new();
    // Absolute offset where the earliest line already examined starts: lines at or after it are
    // not parsed again when the window widens.
    let mut done_from = size;
    while done_from > 0 {
        let start = size.saturating_sub(window);
        buf.resize((done_from - start) as usize, 0);
        read_exact_at(file, &mut buf, start)?;
        let mut end = buf.len();
        loop {
            let (line_start, complete) = match memchr::memrchr(b'\n', &buf[..end]) {
                Some(nl) => (nl + 1, true),
                // The window's first line is whole only at the start of the file.
                None => (0, start == 0),
            };
            if !complete {
                break;
            }
            scan_line(&buf[line_start..end], &mut facts);
            done_from = start + line_start as u64;
            if facts.complete() || line_start == 0 {
                break;
            }
            end = line_start - 1;
        }
        if facts.has_essentials() || start == 0 {
            break;
        }
        window = window.saturating_mul(2);
    }
    Ok(facts)
}

/// Feeds the objects of one line to `facts`, newest (rightmost) first.
fn scan_line(line: &[u8], facts: &mut TailFacts) {
    // Most metadata lines carry none of these keys: skip them without parsing.
    let wanted: &[&[u8]] = &[
        b"\"gitBranch\"",
        b"\"timestamp\"",
        b"\"cwd\"",
        b"\"sessionId\"",
    ];
    if !wanted
        .iter()
        .any(|key| memchr::memmem::find(line, key).is_some())
    {
        return;
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return;
    };
    let mut objects = Vec::new();
    objects_in_line(text, |raw| objects.push(raw));
    for raw in objects.into_iter().rev() {
        facts.absorb(raw);
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
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
}

//! A copy of a local session under a new id, resumable on its own (`release-restore --force
//! --keep-local-as-new`): `<new>.jsonl` holds the records of `<old>.jsonl` with `sessionId`
//! rewritten where it was the old id, and `<old>/` (subagent transcripts, tool results) is copied
//! as `<new>/`, its `.jsonl` files rewritten the same way. Claude Code finds a session by its file
//! name and the `sessionId` in its records, so `claude --resume <new>` opens the copy.
//!
//! Streamed line by line; a record is changed only in its top-level `sessionId`, so the rest of
//! every line keeps its bytes.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::Context;

/// Copies session `old` in `project_dir` as a new session; returns the new id (a uuid v4).
pub fn copy_as_new(project_dir: &Path, old: &str) -> anyhow::Result<String> {
    let new = uuid::Uuid::new_v4().to_string();
    let side = project_dir.join(old);
    if side.is_dir() {
        copy_tree(&side, &project_dir.join(&new), old, &new)?;
    }
    // The transcript last: a session file with its side folder missing would look damaged.
    let from = project_dir.join(format!("{old}.jsonl"));
    rewrite_file(&from, &project_dir.join(format!("{new}.jsonl")), old, &new)?;
    Ok(new)
}

fn copy_tree(from: &Path, to: &Path, old: &str, new: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&src, &dst, old, new)?;
        } else if kind.is_file() && src.extension().is_some_and(|e| e == "jsonl") {
            rewrite_file(&src, &dst, old, new)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        }
        // Symbolic links are left out: a session's side files are plain files.
    }
    Ok(())
}

/// Copies `from` to `to`, rewriting each record's top-level `sessionId` from `old` to `new`.
fn rewrite_file(from: &Path, to: &Path, old: &str, new: &str) -> anyhow::Result<()> {
    let input = File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    let mut reader = BufReader::new(input);
    let file = File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut out = BufWriter::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        out.write_all(&rewrite_line(&line, old, new))?;
    }
    out.flush()
        .and_then(|()| out.get_ref().sync_all())
        .with_context(|| format!("cannot write {}", to.display()))
}

/// One line with its top-level `sessionId` rewritten when it is `old`; any other line unchanged
/// (a line that is not a JSON object, or a record of another session).
fn rewrite_line<'a>(line: &'a [u8], old: &str, new: &str) -> std::borrow::Cow<'a, [u8]> {
    #[derive(serde::Deserialize)]
    struct Top<'s> {
        #[serde(rename = "sessionId", borrow)]
        session_id: Option<std::borrow::Cow<'s, str>>,
    }
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let ours = serde_json::from_slice::<Top<'_>>(body)
        .ok()
        .and_then(|t| t.session_id)
        .is_some_and(|id| id == old);
    if !ours {
        return line.into();
    }
    // Claude Code writes compact JSON with `sessionId` before the message, so the first compact
    // occurrence is the top-level one; a line written otherwise is re-serialized.
    let needle = format!("\"sessionId\":\"{old}\"");
    if let Some(at) = find(line, needle.as_bytes()) {
        let mut changed = Vec::with_capacity(line.len());
        changed.extend_from_slice(&line[..at]);
        changed.extend_from_slice(format!("\"sessionId\":\"{new}\"").as_bytes());
        changed.extend_from_slice(&line[at + needle.len()..]);
        if top_level_is(&changed, new) {
            return changed.into();
        }
    }
    let mut value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return line.into(),
    };
    value["sessionId"] = serde_json::Value::String(new.to_owned());
    let mut changed = serde_json::to_vec(&value).unwrap_or_else(|_| body.to_vec());
    changed.extend_from_slice(&line[body.len()..]);
    changed.into()
}

fn top_level_is(line: &[u8], id: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(line.trim_ascii_end())
        .ok()
        .is_some_and(|v| v["sessionId"] == id)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "11111111-1111-4111-8111-111111111111";
    const NEW: &str = "22222222-2222-4222-8222-222222222222";

    fn rewrite(line: &str) -> String {
        String::from_utf8(rewrite_line(line.as_bytes(), OLD, NEW).into_owned()).unwrap()
    }

    #[test]
    fn only_the_top_level_session_id_of_the_old_session_changes() {
        let nested = format!(
            "{{\"toolUseResult\":{{\"sessionId\":\"{OLD}\"}},\"sessionId\":\"{OLD}\",\"x\":\"\\u00e9\"}}\n"
        );
        let out = rewrite(&nested);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["sessionId"], NEW);
        assert_eq!(v["toolUseResult"]["sessionId"], OLD);
        assert!(out.ends_with('\n'));

        let plain = format!("{{\"sessionId\":\"{OLD}\",\"x\":\"\\u00e9\"}}\n");
        assert_eq!(rewrite(&plain), plain.replace(OLD, NEW), "other bytes kept");
        let other = "{\"sessionId\":\"33333333-3333-4333-8333-333333333333\"}\n";
        assert_eq!(rewrite(other), other);
        assert_eq!(rewrite("not json\n"), "not json\n");
    }
}

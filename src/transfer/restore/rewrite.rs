//! Origin paths to this machine's: the map from the stored copy's metadata, and the extracted
//! files rewritten with it (on every core, byte-identical where nothing maps) into a staging
//! folder beside the target.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;

use crate::bundle::content_hash;
use crate::bundle::rewrite::PathMap;
use crate::bundle::Extracted;
use crate::bundle::{pargz, parlines};
use crate::store;
use crate::stored::StoredSession;

use super::Target;

/// Origin paths to local ones: the repository root, the session's folder when it lay outside
/// the root, and the origin's Claude project folder (for `<persisted-output>` paths).
pub(super) fn path_map(stored: &StoredSession, target: &Target) -> PathMap {
    let meta = &stored.meta;
    let local_root = target.local_root.to_string_lossy().into_owned();
    let mut pairs = vec![(meta.repo_root.clone(), local_root)];
    if !store::path_within(&meta.cwd, &meta.repo_root) {
        pairs.push((
            meta.cwd.clone(),
            target.claude_cwd.to_string_lossy().into_owned(),
        ));
    }
    if let Some(origin_project) = &meta.claude_project_dir {
        pairs.push((
            origin_project.clone(),
            target.project_dir.to_string_lossy().into_owned(),
        ));
    }
    // The session's state outside the project folder: plans and file history under the Claude
    // config folder, background outputs under `<temp root>/<project folder>/` (store::state).
    let here = store::state::Roots::here(&target.claude_dir);
    if let Some(origin_dir) = &meta.claude_dir {
        pairs.push((origin_dir.clone(), store::path_text(&here.claude_dir)));
    }
    if let Some(origin_temp) = &meta.claude_temp_dir {
        let origin_folder = meta
            .claude_project_dir
            .as_deref()
            .and_then(|p| p.rsplit(['/', '\\']).find(|part| !part.is_empty()));
        let local_folder = target.project_dir.file_name().map(|f| f.to_string_lossy());
        if let (Some(origin_folder), Some(local_folder)) = (origin_folder, local_folder) {
            let sep = if origin_temp.contains('\\') && !origin_temp.contains('/') {
                '\\'
            } else {
                '/'
            };
            pairs.push((
                format!(
                    "{}{sep}{origin_folder}",
                    origin_temp.trim_end_matches(['/', '\\'])
                ),
                store::path_text(&here.temp_root.join(local_folder.as_ref())),
            ));
        }
        pairs.push((origin_temp.clone(), store::path_text(&here.temp_root)));
    }
    PathMap::new(pairs)
}

/// Rewrites every extracted file into a second temporary folder beside the first (same file
/// system as the target, so the install is a rename). A file the map leaves byte-identical is
/// moved there instead of copied; the others are rewritten on every core (`bundle::parlines`),
/// with the same result as `bundle::rewrite::rewrite_file`.
pub(super) fn rewrite_extracted(
    extracted: &Extracted,
    map: &PathMap,
) -> anyhow::Result<tempfile::TempDir> {
    rewrite_some(extracted, map, &|_| true)
}

/// [`rewrite_extracted`] for the project memory only (the transcript stays as it is here).
pub(super) fn rewrite_memory(
    extracted: &Extracted,
    map: &PathMap,
) -> anyhow::Result<tempfile::TempDir> {
    rewrite_some(extracted, map, &|rel| {
        crate::memory::is_memory(rel) || store::state::is_state(rel)
    })
}

fn rewrite_some(
    extracted: &Extracted,
    map: &PathMap,
    only: &dyn Fn(&Path) -> bool,
) -> anyhow::Result<tempfile::TempDir> {
    let parent = extracted
        .dir
        .path()
        .parent()
        .unwrap_or(extracted.dir.path());
    let out = tempfile::Builder::new()
        .prefix(".ccsync-restore-")
        .tempdir_in(parent)
        .context("cannot create a temporary folder for the restore")?;
    for rel in extracted.files.iter().filter(|rel| only(rel)) {
        let dst = out.path().join(rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let src = extracted.path(rel);
        // Session transcripts always end in `\n` (an older CLI would glue its next record to
        // a torn last line); any other file stays byte-identical unless a path in it is mapped.
        let transcript = rel.extension().is_some_and(|e| e == "jsonl");
        if !changes(&src, map, transcript)? {
            std::fs::rename(&src, &dst)
                .with_context(|| format!("cannot move {} into place", src.display()))?;
            continue;
        }
        rewrite_parallel(&src, &dst, map, pargz::default_threads())?;
        if !transcript && !ends_with_newline(&src)? {
            let file = File::options().write(true).open(&dst)?;
            let len = file.metadata()?.len();
            file.set_len(len.saturating_sub(1))
                .with_context(|| format!("cannot write {}", dst.display()))?;
        }
    }
    Ok(out)
}

/// Whether a file's last byte is `\n` (an empty file counts as ended).
fn ends_with_newline(path: &Path) -> anyhow::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Whether rewriting `src` would change a byte: a line the map rewrites, or (when `terminate`,
/// for transcripts) a last line without its `\n`. Stops at the first change.
fn changes(src: &Path, map: &PathMap, terminate: bool) -> anyhow::Result<bool> {
    let file = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(false);
        }
        let body = match line.strip_suffix(b"\n") {
            Some(body) => body,
            None if terminate => return Ok(true),
            None => &line[..],
        };
        if let Ok(text) = std::str::from_utf8(body) {
            if matches!(map.rewrite_record(text)?, Cow::Owned(_)) {
                return Ok(true);
            }
        }
    }
}

/// `rewrite_file` on `threads` cores: the same bytes, in the same order.
fn rewrite_parallel(src: &Path, dst: &Path, map: &PathMap, threads: usize) -> anyhow::Result<()> {
    let input = BufReader::with_capacity(
        1 << 16,
        File::open(src).with_context(|| format!("cannot read {}", src.display()))?,
    );
    let mut writer = BufWriter::with_capacity(
        1 << 20,
        File::create(dst).with_context(|| format!("cannot write {}", dst.display()))?,
    );
    // Content hashes that followed their rewritten records (old to new), for the references.
    let rehashed = std::sync::Mutex::new(std::collections::BTreeMap::new());
    parlines::map_lines(input, &mut writer, threads, &|body, out| {
        match std::str::from_utf8(body) {
            Ok(text) => match map.rewrite_record(text)? {
                Cow::Borrowed(_) => out.extend_from_slice(body),
                Cow::Owned(new) => match content_hash::rehash(text, &new) {
                    Some(done) => {
                        out.extend_from_slice(done.line.as_bytes());
                        let mut pairs = rehashed.lock().unwrap_or_else(|e| e.into_inner());
                        pairs.insert(done.old, done.new);
                    }
                    None => out.extend_from_slice(new.as_bytes()),
                },
            },
            Err(_) => out.extend_from_slice(body),
        }
        out.push(b'\n');
        Ok(())
    })
    .with_context(|| format!("cannot rewrite {}", src.display()))?;
    writer
        .flush()
        .with_context(|| format!("cannot write {}", dst.display()))?;
    drop(writer);
    let rehashed = rehashed.into_inner().unwrap_or_else(|e| e.into_inner());
    content_hash::replace_references(dst, &rehashed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::rewrite::rewrite_file;

    /// Records with and without origin paths, a non-UTF-8 line, CRLF, a glued line and a torn last
    /// line: the parallel rewrite gives what `rewrite_file` gives, and `changes` says so.
    #[test]
    fn parallel_rewrite_matches_rewrite_file() {
        let dir = tempfile::tempdir().unwrap();
        let map = PathMap::new(vec![("/home/dev/app".into(), "/ci/work/app".into())]);
        let mut data = Vec::new();
        for n in 0..40_000u32 {
            let line = match n % 5 {
                0 => {
                    format!("{{\"n\":{n},\"cwd\":\"/home/dev/app\",\"x\":\"/home/dev/app-old\"}}\n")
                }
                1 => format!("{{\"n\":{n},\"text\":\"nothing to see\"}}\r\n"),
                2 => format!("{{\"n\":{n}}}{{\"cwd\":\"/home/dev/app/src\"}}\n"),
                3 => format!("{{\"n\":{n},\"cmd\":\"cd /home/dev/app && ls\"}}\n"),
                _ => format!(
                    "{{\"n\":{n},\"plain\":\"{}\"}}\n",
                    "y".repeat(n as usize % 300)
                ),
            };
            data.extend_from_slice(line.as_bytes());
        }
        data.extend_from_slice(b"\xff\xfe not utf-8 /home/dev/app\n");
        data.extend_from_slice(b"{\"torn\":\"/home/dev/app");
        let src = dir.path().join("s.jsonl");
        std::fs::write(&src, &data).unwrap();
        let mut want = Vec::new();
        rewrite_file(&src, &mut want, &map).unwrap();
        for threads in [1, 2, 4] {
            let dst = dir.path().join(format!("out-{threads}"));
            rewrite_parallel(&src, &dst, &map, threads).unwrap();
            assert!(std::fs::read(&dst).unwrap() == want, "threads {threads}");
        }
        assert!(changes(&src, &map, true).unwrap());

        // Nothing to rewrite and every line ended: no change; a torn last line: a change.
        let other = PathMap::new(vec![("/elsewhere".into(), "/x".into())]);
        let clean = dir.path().join("clean.jsonl");
        std::fs::write(&clean, b"{\"cwd\":\"/home/dev/app\"}\n{\"a\":1}\n").unwrap();
        assert!(!changes(&clean, &other, true).unwrap());
        std::fs::write(&clean, b"{\"cwd\":\"/home/dev/app\"}\n{\"a\":1}").unwrap();
        assert!(changes(&clean, &other, true).unwrap());
        // Not a transcript: a missing final newline is kept, so no change.
        assert!(!changes(&clean, &other, false).unwrap());
        std::fs::write(&clean, b"").unwrap();
        assert!(!changes(&clean, &other, true).unwrap());
    }
}

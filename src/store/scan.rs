//! The sessions of a repository in the local store, a session by id, the side files that travel
//! with a session, and record counts.
//!
//! A repository's sessions are the `<uuid>.jsonl` files in the project folder of its root and in
//! the folders of every folder below it. Folder names lose information (`/x/app-old` and
//! `/x/app/old` both become `-x-app-old`, and names over 200 characters end in a hash), so every
//! folder other than the root's own is confirmed by the working folder recorded inside its
//! sessions.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::cache::{hash64, CountSource, Counts, FactCache, FileKey, GUARD_BYTES};
use super::folder_name::{project_folder_name, untruncated_folder_name, MAX_FOLDER_NAME};
use super::records::{objects_in_line, Record};
use super::tail::{tail_facts, tail_facts_of, TailFacts, INITIAL_WINDOW};
use super::{path_within, projects_dir};
use crate::exit::Exit;

/// How far into a file ccsync reads to learn where a session (or a 2.0.x agent file) started.
const HEAD_LIMIT: u64 = 4 * 1024 * 1024;

/// A session file of the local store and what its tail says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSession {
    /// The session id: the file name without `.jsonl`.
    pub id: String,
    /// `<project_dir>/<id>.jsonl`.
    pub path: PathBuf,
    /// The project folder that holds the file.
    pub project_dir: PathBuf,
    /// `gitBranch` of the last record that has one.
    pub branch: Option<String>,
    /// `timestamp` of the last record that has one.
    pub last_activity: Option<DateTime<Utc>>,
    /// `cwd` of the last record that has one.
    pub cwd: Option<String>,
    /// `version` (Claude Code) of the last record that has one.
    pub version: Option<String>,
    /// The file size in bytes.
    pub size: u64,
}

/// The repository's sessions, newest first (by last activity; sessions without one last; ties by
/// id). A missing `<claude-dir>/projects` gives an empty list. Reads every file's tail; see
/// [`repository_sessions_with`] for the cached version the commands use.
pub fn repository_sessions(
    claude_dir: &Path,
    repo_root: &Path,
) -> anyhow::Result<Vec<LocalSession>> {
    repository_sessions_with(claude_dir, repo_root, &mut FactCache::disabled(claude_dir))
}

/// [`repository_sessions`], taking the tail facts of files unchanged since an earlier run from
/// `cache` (one `stat` per file) and reading only the others. Call [`FactCache::save`] afterwards.
pub fn repository_sessions_with(
    claude_dir: &Path,
    repo_root: &Path,
    cache: &mut FactCache,
) -> anyhow::Result<Vec<LocalSession>> {
    let root = super::path_text(repo_root);
    let folders = candidate_folders(claude_dir, &root)?;
    let mut files = Vec::new();
    for (f, folder) in folders.iter().enumerate() {
        for (path, key) in session_files(&folder.path, cache.enabled())? {
            files.push((path, f, key));
        }
        cache.listed_folder(&folder.path);
    }
    // A file whose metadata could not be read is read below, which reports why.
    let mut facts: Vec<Option<TailFacts>> = files
        .iter()
        .map(|(path, _, key)| cache.facts(path, key.as_ref()?))
        .collect();
    let misses: Vec<usize> = (0..files.len()).filter(|&i| facts[i].is_none()).collect();
    let read = parallel_map(&misses, |&i| read_tail(&files[i].0));
    for (i, result) in misses.into_iter().zip(read) {
        let path = &files[i].0;
        match result {
            Ok((key, read)) => {
                cache.put_facts(path, key, &read);
                facts[i] = Some(read);
            }
            // Claude Code may delete a file while we list.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    let mut sessions = Vec::with_capacity(files.len());
    for ((path, f, _), facts) in files.into_iter().zip(facts) {
        let Some(facts) = facts else { continue };
        if let Some(session) = session_of(path, &folders[f], &root, facts, cache)? {
            sessions.push(session);
        }
    }
    sort_newest_first(&mut sessions);
    Ok(sessions)
}

/// The record count of each session (see [`count_records`]), from `cache` when the file is the
/// version counted before, continued from the previous count when the file only grew, else
/// counted from the start; spread over the cores. `sessions` come from
/// [`repository_sessions_with`] with the same cache.
pub fn record_counts(
    sessions: &[&LocalSession],
    cache: &mut FactCache,
) -> anyhow::Result<Vec<u64>> {
    let known: Vec<Option<Counts>> = sessions.iter().map(|s| cache.counts(&s.path)).collect();
    let mut totals: Vec<Option<u64>> = sessions
        .iter()
        .map(|s| cache.cached_count(&s.path))
        .collect();
    let work: Vec<usize> = (0..sessions.len())
        .filter(|&i| totals[i].is_none())
        .collect();
    let done = parallel_map(&work, |&i| count_file(&sessions[i].path, known[i]));
    for _ in totals.iter().filter(|t| t.is_some()) {
        cache.note_count(CountSource::Cached);
    }
    for (i, result) in work.into_iter().zip(done) {
        let path = &sessions[i].path;
        let (counts, how) = result.with_context(|| format!("cannot read {}", path.display()))?;
        cache.note_count(how);
        cache.put_counts(path, counts);
        totals[i] = Some(counts.total);
    }
    Ok(totals.into_iter().map(|t| t.unwrap_or_default()).collect())
}

/// Opens `path` and reads its tail, with the key of the version read.
fn read_tail(path: &Path) -> io::Result<(FileKey, TailFacts)> {
    let file = File::open(path)?;
    let key = FileKey::of(&file.metadata()?);
    let facts = tail_facts_of(&file, key.size(), INITIAL_WINDOW)?;
    Ok((key, facts))
}

/// Counts the records of `path`, continuing `start` (a count of an earlier version) when the file
/// is the same file, no shorter, and the bytes just before the end of the counted lines are
/// unchanged.
fn count_file(path: &Path, start: Option<Counts>) -> io::Result<(Counts, CountSource)> {
    let file = File::open(path)?;
    let key = FileKey::of(&file.metadata()?);
    if let Some(c) = start {
        if c.key.same_file(&key)
            && c.key.size() <= key.size()
            && guard_hash(&file, c.lines_end).ok() == Some(c.guard)
        {
            let more = count_range(&file, c.lines_end, key.size())?;
            let counts = Counts {
                key,
                total: c.before + more.complete + more.rest,
                lines_end: more.lines_end,
                before: c.before + more.complete,
                guard: guard_hash(&file, more.lines_end)?,
            };
            return Ok((counts, CountSource::Continued));
        }
    }
    let all = count_range(&file, 0, key.size())?;
    let counts = Counts {
        key,
        total: all.complete + all.rest,
        lines_end: all.lines_end,
        before: all.complete,
        guard: guard_hash(&file, all.lines_end)?,
    };
    Ok((counts, CountSource::Full))
}

/// [`hash64`] of the [`GUARD_BYTES`] bytes before `end` (fewer at the start of the file).
fn guard_hash(file: &File, end: u64) -> io::Result<u64> {
    let start = end.saturating_sub(GUARD_BYTES);
    let mut buf = vec![0; (end - start) as usize];
    super::tail::read_exact_at(file, &mut buf, start)?;
    Ok(hash64(&buf))
}

/// The session `id` of the repository, if its file is in the repository's folders. When copies
/// sit in several folders, the one with the newest activity.
pub fn find_session(
    claude_dir: &Path,
    repo_root: &Path,
    id: &str,
) -> anyhow::Result<Option<LocalSession>> {
    if !is_session_id(id) {
        return Err(Exit::usage(format!(
            "`{id}` is not a session id: expected a UUID such as 3f2a9c1e-8d4b-4c6e-9a1f-2b3c4d5e6f70 (see `ccsync sessions`)"
        ))
        .into());
    }
    let root = super::path_text(repo_root);
    let mut found = Vec::new();
    for folder in candidate_folders(claude_dir, &root)? {
        let path = folder.path.join(format!("{id}.jsonl"));
        if path.is_file() {
            if let Some(session) = read_session(&path, &folder, &root)? {
                found.push(session);
            }
        }
    }
    sort_newest_first(&mut found);
    Ok(found.into_iter().next())
}

/// The side files of a session, relative to its project folder and sorted: every regular file
/// under `<id>/` (2.1.x: subagents, tool results, ...) and each 2.0.x `agent-*.jsonl` of the folder
/// whose records carry this session's id. Links and other special files are left out.
pub fn side_files(session: &LocalSession) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let side_dir = session.project_dir.join(&session.id);
    if side_dir.is_dir() {
        walk_regular_files(&session.project_dir, &side_dir, &mut out)?;
    }
    let entries = std::fs::read_dir(&session.project_dir)
        .with_context(|| format!("cannot read {}", session.project_dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_agent_file = name.starts_with("agent-") && name.ends_with(".jsonl");
        if !is_agent_file || !entry.file_type()?.is_file() {
            continue;
        }
        let owner = first_field(&entry.path(), |f| f.session_id.map(Into::into))
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        if owner.as_deref() == Some(session.id.as_str()) {
            out.push(PathBuf::from(name));
        }
    }
    out.sort();
    Ok(out)
}

/// The number of JSON objects in a session file, streaming. Glued objects count one each, a torn
/// or junk line counts as nothing. Newline-terminated lines that look like one whole object
/// (`{...}` with no `}{`, `} ` or `}\t` inside) are counted without parsing; only the others are parsed. (A
/// brace-shaped but invalid line in the middle of a file would count as one; Claude Code does not
/// write such lines, and [`super::read_records`] is the strict reader.)
pub fn count_records(path: &Path) -> anyhow::Result<u64> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let scan = count_range(&file, 0, u64::MAX)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(scan.complete + scan.rest)
}

/// Records in a byte range of a file that starts at a line start, as [`count_records`] counts them.
struct RangeCount {
    /// Records in the newline-terminated lines of the range.
    complete: u64,
    /// The offset just after the last newline of the range (its start when there is none).
    lines_end: u64,
    /// Records in the unterminated rest after `lines_end`.
    rest: u64,
}

/// Counts the records of `file` in `[start, end)` (`end` may lie past the end of the file).
fn count_range(file: &File, start: u64, end: u64) -> io::Result<RangeCount> {
    let mut file = file;
    file.seek(SeekFrom::Start(start))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file.take(end.saturating_sub(start)));
    let mut line = Vec::new();
    let mut scan = RangeCount {
        complete: 0,
        lines_end: start,
        rest: 0,
    };
    let mut at = start;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        at += n as u64;
        let terminated = line.last() == Some(&b'\n');
        let records = line_records(line.trim_ascii(), terminated);
        if terminated {
            scan.complete += records;
            scan.lines_end = at;
        } else {
            scan.rest += records;
        }
    }
    Ok(scan)
}

/// The records of one line (without its newline): see [`count_records`].
fn line_records(text: &[u8], terminated: bool) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let simple = terminated
        && text.first() == Some(&b'{')
        && text.last() == Some(&b'}')
        && [&b"}{"[..], b"} ", b"}\t"]
            .iter()
            .all(|glue| memchr::memmem::find(text, glue).is_none());
    if simple {
        return 1;
    }
    let mut count = 0;
    if let Ok(text) = std::str::from_utf8(text) {
        objects_in_line(text, |_| count += 1);
    }
    count
}

/// True for the names Claude Code gives sessions: a hyphenated UUID.
pub fn is_session_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

#[derive(Debug, Clone)]
struct Folder {
    path: PathBuf,
    /// The root's own folder: its sessions need no confirmation.
    exact: bool,
    /// The `CLAUDE_CODE_PROJECT_DIR_NAME` folder: its name says nothing about the working folder,
    /// so a session there is the repository's when its cwd lies in the root.
    named: bool,
}

/// Project folders that may hold sessions of the repository at `root`: the root's own folder (as
/// 2.1.x and as 1.0/2.0 name it) and every folder whose name extends it. Those others are only
/// candidates: a sibling such as `/x/app-old` shares the prefix.
fn candidate_folders(claude_dir: &Path, root: &str) -> anyhow::Result<Vec<Folder>> {
    let projects = projects_dir(claude_dir);
    let entries = match std::fs::read_dir(&projects) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", projects.display()));
        }
    };
    let full = untruncated_folder_name(root);
    let truncated = project_folder_name(root);
    // Names of folders below the root start with the root's name and `-`; past 200 characters
    // all that is certain is the first 200.
    let prefix = if full.len() > MAX_FOLDER_NAME {
        full[..MAX_FOLDER_NAME].to_owned()
    } else {
        format!("{full}-")
    };
    let mut folders = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", projects.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let exact = name == truncated || name == full;
        if !exact && !name.starts_with(&prefix) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            folders.push(Folder {
                path,
                exact,
                named: false,
            });
        }
    }
    // `CLAUDE_CODE_PROJECT_DIR_NAME`: every session Claude Code runs goes into that one folder,
    // whatever the working folder, so its sessions count when they recorded a cwd in the root.
    if let Some(name) = super::project_dir_name_override() {
        let path = projects.join(&name);
        if path.is_dir() && !folders.iter().any(|f| f.path == path) {
            folders.push(Folder {
                path,
                exact: false,
                named: true,
            });
        }
    }
    folders.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(folders)
}

/// The `<uuid>.jsonl` files of a project folder (never `agent-*.jsonl` or anything else), with
/// their keys when `with_keys` (for the facts cache; `None` when the metadata cannot be read).
fn session_files(
    folder: &Path,
    with_keys: bool,
) -> anyhow::Result<Vec<(PathBuf, Option<FileKey>)>> {
    let mut files = Vec::new();
    let mut regular = Vec::new();
    let entries =
        std::fs::read_dir(folder).with_context(|| format!("cannot read {}", folder.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", folder.display()))?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".jsonl")) else {
            continue;
        };
        if !is_session_id(id) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_file() {
            regular.push(entry);
        } else if kind.is_symlink() {
            let path = entry.path();
            if let Some(meta) = std::fs::metadata(&path).ok().filter(|m| m.is_file()) {
                files.push((path, with_keys.then(|| FileKey::of(&meta))));
            }
        }
    }
    // One stat per file is most of a cached scan: spread it over the cores. `DirEntry::metadata`
    // stats the name relative to the open folder, without walking the whole path each time.
    let keys: Vec<Option<FileKey>> = if with_keys {
        parallel_map(&regular, |e| e.metadata().ok().map(|m| FileKey::of(&m)))
    } else {
        vec![None; regular.len()]
    };
    files.extend(regular.iter().map(|e| e.path()).zip(keys));
    Ok(files)
}

/// Reads one session's tail; `None` when the file vanished or its folder is not confirmed.
fn read_session(path: &Path, folder: &Folder, root: &str) -> anyhow::Result<Option<LocalSession>> {
    let facts = match tail_facts(path) {
        Ok(facts) => facts,
        // Claude Code may delete a file while we list.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut no_cache = FactCache::disabled(Path::new(""));
    session_of(path.to_path_buf(), folder, root, facts, &mut no_cache)
}

/// The session of a file with these tail facts; `None` when its folder is not confirmed.
fn session_of(
    path: PathBuf,
    folder: &Folder,
    root: &str,
    facts: TailFacts,
    cache: &mut FactCache,
) -> anyhow::Result<Option<LocalSession>> {
    if !folder.exact && !confirmed(&path, folder, facts.cwd.as_deref(), root, cache)? {
        return Ok(None);
    }
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Some(LocalSession {
        id,
        path,
        project_dir: folder.path.clone(),
        branch: facts.branch,
        last_activity: facts.last_activity,
        cwd: facts.cwd,
        version: facts.version,
        size: facts.size,
    }))
}

/// A session in a folder other than the root's belongs to the repository when a working folder
/// recorded in it lies within the root and is the folder its file sits in: the last one recorded,
/// else the first (the shell may have moved elsewhere during the session).
fn confirmed(
    path: &Path,
    folder: &Folder,
    tail_cwd: Option<&str>,
    root: &str,
    cache: &mut FactCache,
) -> anyhow::Result<bool> {
    let folder_name = folder.path.file_name().map(|n| n.to_string_lossy());
    let Some(folder_name) = folder_name else {
        return Ok(false);
    };
    let fits = |cwd: &str| {
        path_within(cwd, root)
            && (folder.named
                || project_folder_name(cwd) == folder_name
                || untruncated_folder_name(cwd) == folder_name)
    };
    if tail_cwd.is_some_and(fits) {
        return Ok(true);
    }
    // Sessions of sibling projects (`/x/app-old` next to `/x/app`) land here on every run: the
    // head is cached with the file's version.
    let head_cwd = match cache.head_cwd(path) {
        Some(known) => known,
        None => {
            let head = first_field(path, |f| f.cwd.filter(|c| !c.is_empty()).map(Into::into))
                .with_context(|| format!("cannot read {}", path.display()))?;
            cache.put_head_cwd(path, head.clone());
            head
        }
    };
    Ok(head_cwd.as_deref().is_some_and(fits))
}

/// The first value `pick` finds in the records of the first [`HEAD_LIMIT`] bytes of a file.
fn first_field(
    path: &Path,
    pick: impl Fn(super::RecordFields<'_>) -> Option<String>,
) -> io::Result<Option<String>> {
    let file = File::open(path)?;
    let mut reader = BufReader::new(file.take(HEAD_LIMIT));
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            continue;
        };
        let mut found = None;
        objects_in_line(text, |raw| {
            if found.is_none() {
                found = pick(Record { raw, line: 0 }.fields());
            }
        });
        if found.is_some() {
            return Ok(found);
        }
    }
}

fn walk_regular_files(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            walk_regular_files(base, &path, out)?;
        } else if kind.is_file() {
            out.push(path.strip_prefix(base).expect("below base").to_path_buf());
        }
    }
    Ok(())
}

fn sort_newest_first(sessions: &mut Vec<LocalSession>) {
    let newest_first = |a: &LocalSession, b: &LocalSession| {
        b.last_activity
            .cmp(&a.last_activity)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.path.cmp(&b.path))
    };
    // Sort positions, then move each session once: sessions are large and there may be thousands.
    let mut order: Vec<usize> = (0..sessions.len()).collect();
    order.sort_unstable_by(|&i, &j| newest_first(&sessions[i], &sessions[j]));
    let mut slots: Vec<Option<LocalSession>> = sessions.drain(..).map(Some).collect();
    sessions.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// `f` over `items` on a few threads (tail reads are I/O and small parses; a store can hold
/// thousands of files). Results keep the order of `items`.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(items.len().div_ceil(32));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        mine.push((i, f(item)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker panicked"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_records_handles_glued_torn_and_junk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        std::fs::write(
            &path,
            "{\"a\":\"}{\"}\n{\"b\":1}{\"c\":2}\n\njunk\n{\"d\":1}\n{\"f\":1} {\"g\":\"} {\"}\n{\"e\":",
        )
        .unwrap();
        // `}{` inside a string is one object; glued lines (with or without a space) two; junk and
        // the torn tail none.
        assert_eq!(count_records(&path).unwrap(), 6);
        std::fs::write(&path, "{\"a\":1}").unwrap();
        assert_eq!(count_records(&path).unwrap(), 1);
        std::fs::write(&path, "").unwrap();
        assert_eq!(count_records(&path).unwrap(), 0);
    }

    /// A file written in pieces (cut anywhere, even inside a line) and counted after each piece,
    /// each count continuing the previous one, always equals a count of the whole file; a
    /// rewrite of the counted part is noticed and counted again.
    #[test]
    fn continued_counts_equal_whole_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let text = "{\"a\":1}\n{\"b\":\"}{\"}{\"c\":2}\n\njunk\n{\"d\":\"x\"} {\"e\":1}\n{\"f\":1}\n{\"g\":\n2}\n{\"h\":3}";
        for step in [1, 2, 3, 5, 7, 11, 64] {
            std::fs::write(&path, "").unwrap();
            let mut counts = None;
            let bytes = text.as_bytes();
            let mut at = 0;
            while at < bytes.len() {
                let end = (at + step).min(bytes.len());
                let mut file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                std::io::Write::write_all(&mut file, &bytes[at..end]).unwrap();
                drop(file);
                at = end;
                let (c, how) = count_file(&path, counts).unwrap();
                if counts.is_some() {
                    assert_eq!(how, CountSource::Continued);
                }
                assert_eq!(
                    c.total,
                    count_records(&path).unwrap(),
                    "step {step} at {at}"
                );
                counts = Some(c);
            }
        }
        // The counted lines rewritten in place (same file, same size): counted from the start.
        let counts = count_file(&path, None).unwrap().0;
        let rewritten = text.replace("{\"f\":1}", "junk!!!");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, rewritten.as_bytes()))
            .unwrap();
        let (c, how) = count_file(&path, Some(counts)).unwrap();
        assert_eq!(how, CountSource::Full);
        assert_eq!(c.total, counts.total - 1);
        // Another file at the same path: counted from the start.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, text.as_bytes()).unwrap();
        let fresh = count_file(&path, Some(c)).unwrap();
        assert_eq!(fresh.1, CountSource::Full);
        assert_eq!(fresh.0.total, counts.total);
    }

    #[test]
    fn session_ids_are_uuids() {
        assert!(is_session_id("4d5611e5-241a-462a-8d15-5122611a9569"));
        assert!(!is_session_id("agent-a2898e3"));
        assert!(!is_session_id("../../etc/passwd"));
        assert!(!is_session_id("4d5611e5241a462a8d155122611a9569"));
    }

    #[test]
    fn parallel_map_keeps_order() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(
            parallel_map(&items, |x| x * 2),
            items.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
    }

    proptest::proptest! {
        /// The fast count agrees with the strict reader on the shapes real files have: whole
        /// objects (with `}{`, braces and escapes inside strings), glued lines, blank lines,
        /// junk lines, a torn last line, with or without a final newline.
        #[test]
        fn count_agrees_with_the_strict_reader(
            lines in proptest::collection::vec((0u8..6, "[a-z{}\\[\\]\"\\\\ ]{0,12}"), 0..20),
            torn in proptest::bool::ANY,
            final_newline in proptest::bool::ANY,
        ) {
            let mut text = String::new();
            for (kind, body) in &lines {
                let object = serde_json::json!({"type": "user", "text": body}).to_string();
                match kind {
                    0 | 1 => text.push_str(&object),
                    2 => { text.push_str(&object); text.push_str(&object); }
                    3 => text.push_str("   "),
                    4 => text.push_str("not json"),
                    _ => { text.push_str(&object); text.push(' '); text.push_str(&object); }
                }
                text.push('\n');
            }
            if torn {
                text.push_str(r#"{"type":"assistant","message":{"content":"cu"#);
            } else if !final_newline && text.ends_with('\n') {
                text.pop();
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.jsonl");
            std::fs::write(&path, &text).unwrap();
            let strict = crate::store::read_records(text.as_bytes(), |_| Ok(())).unwrap();
            proptest::prop_assert_eq!(count_records(&path).unwrap(), strict.records);
        }
    }
}

//! A cache of what ccsync learned from each session file (its tail facts and record count), so a
//! repeated `discover` or `sessions` costs a directory listing and one `stat` per file instead of
//! opening and reading every file.
//!
//! # What makes a hit safe
//! An entry is keyed by what neither a copy nor an edit can keep equal: on Unix the device, inode,
//! size and status-change time (`ctime`, in nanoseconds). `ctime` cannot be set by `touch`, `cp -p`,
//! `rsync -t` or `File::set_modified`; every write, append, rename into place or copy changes it
//! (a copy is a new inode). So a hit means the file is the very one read before, unchanged. Claude
//! Code only appends, and an append changes size and `ctime`. Modification times are not part of the
//! key on Unix: they can be forged.
//!
//! Elsewhere (Windows) std offers no inode or `ctime`: the key is size + modification time +
//! creation time, which is weaker: a same-size copy that restores the modification time while
//! NTFS "tunnels" the old creation time onto the new file, or a same-size in-place rewrite that
//! restores the modification time, would be taken for the original.
//!
//! One more guard, as git does for its index ("racy clean"): a file changed within [`RACY`] of the
//! run that read it may change again within the same timestamp tick (file systems stamp times
//! coarsely); such an entry is kept but never served as a hit until a later run reads it again.
//!
//! # Record counts
//! A count is stored with the key of the file version it was made for. For a file that grew (same
//! device and inode, larger size), the count continues from the end of the last complete line
//! counted, after checking that a hash of the bytes just before that point is unchanged; otherwise
//! the file is counted again.
//!
//! # The file
//! One file per Claude folder, `<cache dir>/facts-<hash of the Claude folder's path>.bin`, in a small
//! versioned binary format ending in a checksum, read with one `read` and written atomically (a
//! temporary file renamed over it) only when something changed. A missing, corrupt, foreign or
//! unwritable cache is ignored: ccsync then reads the files, as without a cache. Entries of files
//! that no longer exist are dropped. The cache directory is `$CCSYNC_CACHE_DIR`, else the
//! platform's cache folder (`$XDG_CACHE_HOME/ccsync` or `~/.cache/ccsync` on Linux,
//! `~/Library/Caches/ccsync` on macOS, `%LOCALAPPDATA%\ccsync` on Windows). `CCSYNC_NO_CACHE=1`
//! (any value but empty, `0` or `false`) turns it off. `-v` prints what the cache did.
//!
//! Entries are found by the file's path below `<claude-dir>/projects` and trusted only when the
//! key matches; their texts stay in the loaded file's bytes until a lookup needs them.

use std::collections::{HashMap, HashSet};
use std::fs::Metadata;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use super::tail::TailFacts;

/// How recent a change must be for its entry to be "racy" (see the module docs). Two seconds
/// cover the coarsest time stamps in use (FAT; ext3 and HFS+ stamp whole seconds).
pub const RACY: Duration = Duration::from_secs(2);

const MAGIC: &[u8; 8] = b"ccsyncFC";
const FORMAT_VERSION: u32 = 2;
/// Bytes before the end of the counted lines whose hash must be unchanged to continue a count.
pub(crate) const GUARD_BYTES: u64 = 1024;

/// What identifies one version of a file (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileKey {
    /// Unix: device. Elsewhere 0.
    dev: u64,
    /// Unix: inode. Elsewhere 0.
    ino: u64,
    size: u64,
    /// Unix: `ctime`. Elsewhere: modification time. Nanoseconds since the epoch.
    changed_ns: i128,
    /// Unix: 0. Elsewhere: creation time in nanoseconds since the epoch.
    born_ns: i128,
}

impl FileKey {
    pub fn of(meta: &Metadata) -> FileKey {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileKey {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.len(),
                changed_ns: i128::from(meta.ctime()) * 1_000_000_000
                    + i128::from(meta.ctime_nsec()),
                born_ns: 0,
            }
        }
        #[cfg(not(unix))]
        {
            let ns = |t: io::Result<SystemTime>| t.map_or(0, system_ns);
            FileKey {
                dev: 0,
                ino: 0,
                size: meta.len(),
                changed_ns: ns(meta.modified()),
                born_ns: ns(meta.created()),
            }
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The same file (not necessarily the same content): same device and inode on Unix, same
    /// creation time elsewhere.
    pub(crate) fn same_file(&self, other: &FileKey) -> bool {
        self.dev == other.dev && self.ino == other.ino && self.born_ns == other.born_ns
    }
}

fn system_ns(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// A record count and what is needed to continue it after an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    /// The file version counted (its size is the number of bytes counted).
    pub key: FileKey,
    /// Records in the whole version.
    pub total: u64,
    /// The offset just after the last newline counted (0 when none).
    pub lines_end: u64,
    /// Records in the bytes before `lines_end`.
    pub before: u64,
    /// [`guard_hash`] of the [`GUARD_BYTES`] bytes before `lines_end`.
    pub guard: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    key: FileKey,
    racy: bool,
    facts: Facts,
    counts: Option<Counts>,
    /// The first `cwd` in the head of the file, once it was needed (see `scan::confirmed`):
    /// `Some(None)` when the head has none.
    head_cwd: Option<Option<String>>,
    /// The file was seen in this run (not stored).
    seen: bool,
}

impl Entry {
    /// Equal in everything stored (`stored`: the loaded cache file).
    fn same_content(&self, other: &Entry, stored: &[u8]) -> bool {
        self.key == other.key
            && self.racy == other.racy
            && self.facts.view(stored) == other.facts.view(stored)
            && self.counts == other.counts
            && self.head_cwd == other.head_cwd
    }
}

/// The tail facts of an entry (its size is the key's). Entries loaded from the cache file keep
/// their texts as places in the file's bytes, decoded only for the files looked up: a run that
/// lists a few sessions of a large cache allocates nothing for the others.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Facts {
    /// Branch, cwd, session id and version as (offset, length) in the loaded file.
    Stored {
        texts: [Option<(u32, u32)>; 4],
        last_activity: Option<DateTime<Utc>>,
    },
    Owned(TailFacts),
}

/// Borrowed tail facts: branch, cwd, session id, version, and last activity.
#[derive(Debug, PartialEq, Eq)]
struct FactsView<'a> {
    texts: [Option<&'a str>; 4],
    last_activity: Option<DateTime<Utc>>,
}

impl Facts {
    fn view<'a>(&'a self, stored: &'a [u8]) -> FactsView<'a> {
        match self {
            Facts::Stored {
                texts,
                last_activity,
            } => FactsView {
                // Checked as UTF-8 when the file was loaded.
                texts: texts.map(|t| {
                    t.map(|(at, len)| {
                        let bytes = stored.get(at as usize..at as usize + len as usize);
                        bytes
                            .and_then(|b| std::str::from_utf8(b).ok())
                            .unwrap_or("")
                    })
                }),
                last_activity: *last_activity,
            },
            Facts::Owned(f) => FactsView {
                texts: [
                    f.branch.as_deref(),
                    f.cwd.as_deref(),
                    f.session_id.as_deref(),
                    f.version.as_deref(),
                ],
                last_activity: f.last_activity,
            },
        }
    }
}

impl FactsView<'_> {
    fn to_facts(&self, size: u64) -> TailFacts {
        let [branch, cwd, session_id, version] = self.texts.map(|t| t.map(str::to_owned));
        TailFacts {
            branch,
            last_activity: self.last_activity,
            cwd,
            session_id,
            version,
            size,
        }
    }
}

/// What the cache did in this run, for `-v`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Files whose tail facts came from the cache.
    pub hits: usize,
    /// Files whose tail was read.
    pub read: usize,
    /// Record counts taken from the cache.
    pub counts_cached: usize,
    /// Record counts continued from the end of the previous count.
    pub counts_continued: usize,
    /// Record counts made from the start of the file.
    pub counts_full: usize,
    /// The cache file was written.
    pub saved: bool,
    /// Why the cache could not be read or written (it is then simply not used).
    pub problem: Option<String>,
}

/// The facts cache of one Claude folder. Load it with [`FactCache::from_env`], pass it to
/// [`super::scan::repository_sessions_with`] and [`super::scan::record_counts`], then
/// [`FactCache::save`] it. A disabled cache answers nothing and saves nothing.
#[derive(Debug)]
pub struct FactCache {
    /// The cache file; `None` when caching is off.
    file: Option<PathBuf>,
    /// `<claude-dir>/projects`: entry names are paths relative to it.
    projects: PathBuf,
    /// The Claude folder as written in the cache file (a cache of another folder is ignored).
    claude_id: String,
    entries: HashMap<String, Entry>,
    /// The cache file as loaded (entries' [`Facts::Stored`] point into it).
    stored: Vec<u8>,
    /// Project folders listed in this run: their unseen entries are files that are gone.
    listed: HashSet<String>,
    /// Anything to write.
    dirty: bool,
    /// Changes at or after this instant (ns since the epoch) make an entry racy.
    racy_from_ns: i128,
    stats: CacheStats,
}

impl FactCache {
    /// The cache for `claude_dir` (an absolute path) as the environment configures it: off with
    /// `CCSYNC_NO_CACHE=1`, else in [`cache_dir_from_env`].
    pub fn from_env(claude_dir: &Path) -> FactCache {
        let off = std::env::var_os("CCSYNC_NO_CACHE")
            .is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
        match cache_dir_from_env() {
            Some(dir) if !off => FactCache::at(&dir, claude_dir),
            _ => FactCache::disabled(claude_dir),
        }
    }

    /// A cache that remembers nothing (every file is read).
    pub fn disabled(claude_dir: &Path) -> FactCache {
        FactCache {
            file: None,
            projects: super::projects_dir(claude_dir),
            claude_id: super::path_text(claude_dir),
            entries: HashMap::new(),
            stored: Vec::new(),
            listed: HashSet::new(),
            dirty: false,
            racy_from_ns: system_ns(SystemTime::now() - RACY),
            stats: CacheStats::default(),
        }
    }

    /// The cache of `claude_dir` kept in `cache_dir`, loaded now. Never fails: a cache that
    /// cannot be read starts empty.
    pub fn at(cache_dir: &Path, claude_dir: &Path) -> FactCache {
        let mut cache = FactCache::disabled(claude_dir);
        let id = &cache.claude_id;
        let file = cache_dir.join(format!("facts-{:016x}.bin", hash64(id.as_bytes())));
        match std::fs::read(&file) {
            Ok(bytes) => match decode(&bytes, id) {
                Some(entries) => {
                    cache.entries = entries;
                    cache.stored = bytes;
                }
                None => {
                    cache.stats.problem = Some(format!("ignored {} (unreadable)", file.display()));
                    // Replace it on the next save even if nothing else changes.
                    cache.dirty = true;
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => cache.stats.problem = Some(format!("cannot read {}: {e}", file.display())),
        }
        cache.file = Some(file);
        cache
    }

    pub fn enabled(&self) -> bool {
        self.file.is_some()
    }

    /// The cache file, when caching is on.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// One line on what the cache did, for `-v`.
    pub fn summary(&self) -> String {
        let Some(file) = &self.file else {
            return "facts cache: off (CCSYNC_NO_CACHE)".to_owned();
        };
        let s = &self.stats;
        let mut text = format!(
            "facts cache {}: {} file(s) unchanged, {} read",
            file.display(),
            s.hits,
            s.read
        );
        if s.counts_cached + s.counts_continued + s.counts_full > 0 {
            text.push_str(&format!(
                "; record counts: {} cached, {} continued, {} counted",
                s.counts_cached, s.counts_continued, s.counts_full
            ));
        }
        text.push_str(if s.saved { "; saved" } else { "; not written" });
        if let Some(problem) = &s.problem {
            text.push_str(&format!(" ({problem})"));
        }
        text
    }

    /// The entry name of `path`, when it lies in the projects folder.
    fn name_of<'p>(&self, path: &'p Path) -> Option<&'p str> {
        // Text, not `Path::strip_prefix`: this runs for every file, and the paths are built by
        // joining names onto `projects`.
        let rest = path.to_str()?.strip_prefix(self.projects.to_str()?)?;
        rest.strip_prefix(std::path::is_separator)
    }

    /// Notes that a project folder was listed in full, so entries of its files not seen in this
    /// run belong to deleted files.
    pub(crate) fn listed_folder(&mut self, folder: &Path) {
        if let Some(name) = self.name_of(folder) {
            self.listed.insert(name.to_owned());
        }
    }

    /// The cached tail facts of `path` when its file is still exactly `key`.
    pub(crate) fn facts(&mut self, path: &Path, key: &FileKey) -> Option<TailFacts> {
        self.file.as_ref()?;
        let entry = self.entries.get_mut(self.name_of(path)?)?;
        if entry.key != *key || entry.racy {
            return None;
        }
        entry.seen = true;
        self.stats.hits += 1;
        Some(entry.facts.view(&self.stored).to_facts(key.size))
    }

    /// Remembers the tail facts read from `path` at version `key`.
    pub(crate) fn put_facts(&mut self, path: &Path, key: FileKey, facts: &TailFacts) {
        self.stats.read += 1;
        if self.file.is_none() {
            return;
        }
        let Some(name) = self.name_of(path) else {
            return;
        };
        let racy = key.changed_ns >= self.racy_from_ns;
        let old = self.entries.get(name);
        // Keep an older count: it is exact if the key is unchanged, else a start for continuing.
        let counts = old.and_then(|e| e.counts);
        let head_cwd = old
            .filter(|e| e.key == key)
            .and_then(|e| e.head_cwd.clone());
        let entry = Entry {
            key,
            racy,
            facts: Facts::Owned(facts.clone()),
            counts,
            head_cwd,
            seen: true,
        };
        if !old.is_some_and(|old| old.same_content(&entry, &self.stored)) {
            self.dirty = true;
        }
        self.entries.insert(name.to_owned(), entry);
    }

    /// The first working folder recorded in the head of `path`, when known for the version seen
    /// in this run.
    pub(crate) fn head_cwd(&self, path: &Path) -> Option<Option<String>> {
        self.seen_key(path)?;
        self.entries.get(self.name_of(path)?)?.head_cwd.clone()
    }

    /// Remembers the head's working folder of `path` (for the version seen in this run).
    pub(crate) fn put_head_cwd(&mut self, path: &Path, cwd: Option<String>) {
        if self.seen_key(path).is_none() {
            return;
        }
        let Some(name) = self.name_of(path) else {
            return;
        };
        if let Some(entry) = self.entries.get_mut(name) {
            if entry.head_cwd.as_ref() != Some(&cwd) {
                entry.head_cwd = Some(cwd);
                self.dirty = true;
            }
        }
    }

    /// The record count of `path` when it was made for the version seen in this run (and that
    /// version is not racy).
    pub(crate) fn cached_count(&self, path: &Path) -> Option<u64> {
        let entry = self.entries.get(self.name_of(path)?)?;
        let counts = entry.counts?;
        let exact = self.seen_key(path)? == counts.key && !entry.racy;
        exact.then_some(counts.total)
    }

    /// The last count made of `path`, maybe of an earlier version: a start to continue from.
    pub(crate) fn counts(&self, path: &Path) -> Option<Counts> {
        self.file.as_ref()?;
        self.entries.get(self.name_of(path)?)?.counts
    }

    /// The key under which `path` was last seen in this run.
    pub(crate) fn seen_key(&self, path: &Path) -> Option<FileKey> {
        let entry = self.entries.get(self.name_of(path)?)?;
        entry.seen.then_some(entry.key)
    }

    /// Remembers a count of `path` (only when the file has an entry: facts come first).
    pub(crate) fn put_counts(&mut self, path: &Path, counts: Counts) {
        let Some(name) = self.name_of(path) else {
            return;
        };
        if let Some(entry) = self.entries.get_mut(name) {
            if entry.counts != Some(counts) {
                entry.counts = Some(counts);
                self.dirty = true;
            }
        }
    }

    pub(crate) fn note_count(&mut self, how: CountSource) {
        match how {
            CountSource::Cached => self.stats.counts_cached += 1,
            CountSource::Continued => self.stats.counts_continued += 1,
            CountSource::Full => self.stats.counts_full += 1,
        }
    }

    /// Drops the entries of files that are gone and writes the cache if anything changed. Never
    /// fails: a cache that cannot be written is left as it was (see [`CacheStats::problem`]).
    pub fn save(&mut self) {
        let Some(file) = self.file.clone() else {
            return;
        };
        self.forget_deleted();
        if !self.dirty {
            return;
        }
        match self.write(&file) {
            Ok(()) => {
                self.dirty = false;
                self.stats.saved = true;
            }
            Err(e) => {
                self.stats.problem = Some(format!("cannot write {}: {e}", file.display()));
            }
        }
    }

    /// Entries of listed folders not seen in this run, and of folders that no longer exist.
    fn forget_deleted(&mut self) {
        let mut folder_exists: HashMap<String, bool> = HashMap::new();
        let before = self.entries.len();
        let (listed, projects) = (&self.listed, &self.projects);
        self.entries.retain(|name, entry| {
            if entry.seen {
                return true;
            }
            let folder = name
                .rsplit_once(['/', '\\'])
                .map_or("", |(folder, _)| folder);
            if listed.contains(folder) {
                return false;
            }
            *folder_exists
                .entry(folder.to_owned())
                .or_insert_with(|| projects.join(folder).is_dir())
        });
        if self.entries.len() != before {
            self.dirty = true;
        }
    }

    fn write(&self, file: &Path) -> io::Result<()> {
        let dir = file.parent().unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let bytes = encode(&self.entries, &self.stored, &self.claude_id);
        let mut temp = tempfile::Builder::new()
            .prefix(".facts-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        temp.write_all(&bytes)?;
        temp.persist(file).map_err(|e| e.error)?;
        Ok(())
    }
}

/// How a record count was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountSource {
    Cached,
    Continued,
    Full,
}

/// The cache directory: `$CCSYNC_CACHE_DIR`, else the platform's user cache folder + `ccsync`.
/// `None` when no such folder can be named (no home).
pub fn cache_dir_from_env() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("CCSYNC_CACHE_DIR") {
        return Some(dir);
    }
    let base = if cfg!(windows) {
        var("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        var("HOME").map(|h| h.join("Library").join("Caches"))
    } else {
        var("XDG_CACHE_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("ccsync"))
}

/// The cache holds paths and branch names: only the user may read it.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A fast 64-bit hash (FNV-1a over 8-byte words) for the cache file's checksum, its name and the
/// count guards. Not cryptographic: it detects accidents (torn writes, bit rot, edited files).
pub(crate) fn hash64(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        h = (h ^ u64::from_le_bytes(w.try_into().expect("8 bytes"))).wrapping_mul(PRIME);
        h ^= h >> 29;
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h ^= h >> 32;
    h.wrapping_mul(PRIME)
}

// ---- file format ------------------------------------------------------------------------------
//
// MAGIC, u32 version, str claude-dir, u32 entry count, entries sorted by name, u64 hash64 of all
// bytes before it. Integers little-endian; str = u32 length + UTF-8.
// Entry: u16 bytes shared with the previous name + str rest of the name, key (u64 dev, u64 ino,
// u64 size, i128 changed, i128 born), u8 racy, u8 has-time [i64 secs, u32 nanos], then branch,
// cwd, session id, version each as str, or u32::MAX (none), or u32::MAX - 1 (the previous
// entry's value); u8 counts (0 none, 1 own key follows, 2 the entry's key) [u64 total,
// u64 lines_end, u64 before, u64 guard]; u8 head-cwd (0 unknown, 1 none, 2 followed by str).

fn encode(entries: &HashMap<String, Entry>, stored: &[u8], claude_dir: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + entries.len() * 200);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    put_str(&mut out, claude_dir);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut names: Vec<&String> = entries.keys().collect();
    names.sort();
    let mut prev_name = "";
    let mut prev: [Option<&str>; 4] = [None; 4];
    for name in names {
        let e = &entries[name];
        // Names sorted share their folder with the previous one: store only the new suffix.
        let shared = common_prefix(prev_name, name).min(usize::from(u16::MAX));
        out.extend_from_slice(&(shared as u16).to_le_bytes());
        put_str(&mut out, &name[shared..]);
        prev_name = name;
        put_key(&mut out, &e.key);
        out.push(u8::from(e.racy));
        let facts = e.facts.view(stored);
        match facts.last_activity {
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.timestamp().to_le_bytes());
                out.extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
            }
            None => out.push(0),
        }
        for (text, prev) in facts.texts.into_iter().zip(&mut prev) {
            match text {
                Some(t) if *prev == Some(t) => out.extend_from_slice(&SAME.to_le_bytes()),
                Some(t) => put_str(&mut out, t),
                None => out.extend_from_slice(&NONE.to_le_bytes()),
            }
            *prev = text;
        }
        match &e.counts {
            Some(c) => {
                if c.key == e.key {
                    out.push(2);
                } else {
                    out.push(1);
                    put_key(&mut out, &c.key);
                }
                for n in [c.total, c.lines_end, c.before, c.guard] {
                    out.extend_from_slice(&n.to_le_bytes());
                }
            }
            None => out.push(0),
        }
        match &e.head_cwd {
            None => out.push(0),
            Some(None) => out.push(1),
            Some(Some(cwd)) => {
                out.push(2);
                put_str(&mut out, cwd);
            }
        }
    }
    let sum = hash64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Optional strings: no value, or the previous entry's value of the same field.
const NONE: u32 = u32::MAX;
const SAME: u32 = u32::MAX - 1;

fn common_prefix(a: &str, b: &str) -> usize {
    let mut n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !b.is_char_boundary(n) {
        n -= 1;
    }
    n
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_key(out: &mut Vec<u8>, k: &FileKey) {
    for n in [k.dev, k.ino, k.size] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&k.changed_ns.to_le_bytes());
    out.extend_from_slice(&k.born_ns.to_le_bytes());
}

/// The entries of a cache file, or `None` when it is not a whole, intact cache of `claude_dir`
/// in this format.
fn decode(bytes: &[u8], claude_dir: &str) -> Option<HashMap<String, Entry>> {
    let body_len = bytes.len().checked_sub(8)?;
    let (body, sum) = bytes.split_at(body_len);
    if hash64(body) != u64::from_le_bytes(sum.try_into().ok()?) {
        return None;
    }
    let mut r = Reader { b: body, at: 0 };
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != FORMAT_VERSION || r.str()? != claude_dir {
        return None;
    }
    let count = r.u32()? as usize;
    // Every entry takes well over 64 bytes: a count beyond that is corrupt.
    if count > body.len() / 64 {
        return None;
    }
    let mut entries = HashMap::with_capacity(count);
    let mut name = String::new();
    let mut prev: [Option<(u32, u32)>; 4] = [None; 4];
    for _ in 0..count {
        let shared = usize::from(r.u16()?);
        if shared > name.len() || !name.is_char_boundary(shared) {
            return None;
        }
        name.truncate(shared);
        name.push_str(r.str()?);
        let entry = decode_entry(&mut r, &mut prev)?;
        if entries.insert(name.clone(), entry).is_some() {
            return None;
        }
    }
    r.b.is_empty().then_some(entries)
}

/// One entry after its name: its key and facts (`prev`: the texts of the entry before, which
/// `SAME` refers to).
fn decode_entry(r: &mut Reader<'_>, prev: &mut [Option<(u32, u32)>; 4]) -> Option<Entry> {
    let key = r.key()?;
    let racy = r.flag()?;
    let last_activity = if r.flag()? {
        let secs = r.i64()?;
        let nanos = r.u32()?;
        Some(DateTime::<Utc>::from_timestamp(secs, nanos)?)
    } else {
        None
    };
    for prev in prev.iter_mut() {
        match r.u32()? {
            NONE => *prev = None,
            SAME => {
                prev.as_ref()?;
            }
            n => {
                let at = u32::try_from(r.at).ok()?;
                std::str::from_utf8(r.take(n as usize)?).ok()?;
                *prev = Some((at, n));
            }
        }
    }
    let counts = match r.take(1)?[0] {
        0 => None,
        tag @ (1 | 2) => Some(Counts {
            key: if tag == 2 { key } else { r.key()? },
            total: r.u64()?,
            lines_end: r.u64()?,
            before: r.u64()?,
            guard: r.u64()?,
        }),
        _ => return None,
    };
    let head_cwd = match r.take(1)?[0] {
        0 => None,
        1 => Some(None),
        2 => Some(Some(r.str()?.to_owned())),
        _ => return None,
    };
    let facts = Facts::Stored {
        texts: *prev,
        last_activity,
    };
    Some(Entry {
        key,
        racy,
        facts,
        counts,
        head_cwd,
        seen: false,
    })
}

struct Reader<'a> {
    b: &'a [u8],
    /// Offset of `b` in the file.
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        self.at += n;
        Some(head)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i128(&mut self) -> Option<i128> {
        Some(i128::from_le_bytes(self.take(16)?.try_into().ok()?))
    }
    fn flag(&mut self) -> Option<bool> {
        match self.take(1)?[0] {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn key(&mut self) -> Option<FileKey> {
        Some(FileKey {
            dev: self.u64()?,
            ino: self.u64()?,
            size: self.u64()?,
            changed_ns: self.i128()?,
            born_ns: self.i128()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> HashMap<String, Entry> {
        (0..n)
            .map(|i| {
                let key = FileKey {
                    dev: 1,
                    ino: i as u64,
                    size: 1000 + i as u64,
                    changed_ns: 1_700_000_000_000_000_000 + i as i128,
                    born_ns: 0,
                };
                let entry = Entry {
                    key,
                    racy: i % 3 == 0,
                    facts: Facts::Owned(TailFacts {
                        branch: (i % 2 == 0).then(|| format!("feature/{i}")),
                        last_activity: DateTime::<Utc>::from_timestamp(
                            1_760_000_000 + i as i64,
                            123_000_000,
                        ),
                        cwd: Some("/work/ünïcode app".to_owned()),
                        session_id: Some(format!("id-{i}")),
                        version: None,
                        size: key.size,
                    }),
                    counts: (i % 2 == 1).then_some(Counts {
                        key,
                        total: 7,
                        lines_end: 900,
                        before: 6,
                        guard: 42,
                    }),
                    head_cwd: match i % 3 {
                        0 => None,
                        1 => Some(None),
                        _ => Some(Some("/work/app/sub".to_owned())),
                    },
                    seen: false,
                };
                (format!("-work-app/{i:08}.jsonl"), entry)
            })
            .collect()
    }

    #[test]
    fn round_trip() {
        let entries = sample(50);
        let bytes = encode(&entries, &[], "/home/me/.claude");
        let back = decode(&bytes, "/home/me/.claude").unwrap();
        assert_eq!(owned(back.clone(), &bytes), entries);
        // Fields shared with the previous entry are stored once.
        assert!(bytes.len() < entries.len() * 200, "{} bytes", bytes.len());
        // Entries loaded and written again (as a save without changes to them does) are the same.
        let again = encode(&back, &bytes, "/home/me/.claude");
        assert_eq!(again, bytes);
        assert_eq!(
            decode(&encode(&HashMap::new(), &[], "/c"), "/c"),
            Some(HashMap::new())
        );
    }

    /// Entries with their stored facts decoded.
    fn owned(entries: HashMap<String, Entry>, stored: &[u8]) -> HashMap<String, Entry> {
        entries
            .into_iter()
            .map(|(name, mut e)| {
                e.facts = Facts::Owned(e.facts.view(stored).to_facts(e.key.size));
                (name, e)
            })
            .collect()
    }

    #[test]
    fn damaged_or_foreign_files_are_refused() {
        let entries = sample(20);
        let bytes = encode(&entries, &[], "/c");
        assert_eq!(
            decode(&bytes, "/other"),
            None,
            "another Claude folder's cache"
        );
        for cut in [0, 1, 7, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(decode(&bytes[..cut], "/c"), None, "cut at {cut}");
        }
        // Any single flipped bit is caught by the checksum.
        for at in (0..bytes.len()).step_by(7) {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert_eq!(decode(&bad, "/c"), None, "flip at {at}");
        }
        let mut newer = bytes.clone();
        newer[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let body = newer.len() - 8;
        let sum = hash64(&newer[..body]);
        newer[body..].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(decode(&newer, "/c"), None, "another format version");
    }

    proptest::proptest! {
        /// Damage that keeps the checksum valid (a bug, another writer) never panics the reader.
        #[test]
        fn any_resealed_damage_is_harmless(edits in proptest::collection::vec((0usize..4000, proptest::num::u8::ANY), 1..8)) {
            let mut bytes = encode(&sample(12), &[], "/c");
            let body = bytes.len() - 8;
            for (at, value) in edits {
                bytes[at % body] = value;
            }
            let sum = hash64(&bytes[..body]);
            bytes[body..].copy_from_slice(&sum.to_le_bytes());
            if let Some(entries) = decode(&bytes, "/c") {
                for e in entries.values() {
                    let _ = e.facts.view(&bytes).to_facts(e.key.size);
                }
            }
        }
    }

    #[test]
    fn loads_fast_enough() {
        // 1,500 entries (the benchmark's store) encode to a few hundred KiB and decode in well
        // under a millisecond in release builds; this only guards against pathologies.
        let entries = sample(1500);
        let bytes = encode(&entries, &[], "/c");
        let start = std::time::Instant::now();
        let back = decode(&bytes, "/c").unwrap();
        assert_eq!(back.len(), 1500);
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "{:?}",
            start.elapsed()
        );
    }
}

//! Delta parts on files (docs/write-protocol.md, "Delta copies"): what a push's part carries (the
//! transcript lines after the stored copy's, and the other files that are new or changed by the
//! manifest), the map between two machines' roots, and a part applied onto an assembled copy.
//!
//! Nothing here knows GitHub: [`crate::stored::chain`] downloads and orders the parts.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use sha2::{Digest, Sha256};

use super::metadata::{After, ManifestEntry, Metadata, Roots, MAX_METADATA_BYTES};
use super::rewrite::PathMap;
use crate::sync::UuidChain;

/// A manifest larger than this is left out (the metadata stays well under its 1 MiB cap, and the
/// next push is a full copy): session state can hold thousands of small files.
const MAX_MANIFEST_BYTES: usize = MAX_METADATA_BYTES / 2;

/// The manifest of a copy that carries `entry_sha256` (every entry but the transcript), each file
/// written by this copy (generation 0 until the writer knows its own:
/// [`Metadata::settle_generation`]). `None` when it would be too large.
pub fn manifest_of(
    session_id: &str,
    entry_sha256: &BTreeMap<PathBuf, String>,
) -> Option<BTreeMap<String, ManifestEntry>> {
    let transcript = transcript_rel(session_id);
    let manifest: BTreeMap<String, ManifestEntry> = entry_sha256
        .iter()
        .filter(|(rel, _)| **rel != transcript)
        .map(|(rel, sha)| {
            let entry = ManifestEntry {
                sha256: sha.clone(),
                generation: 0,
            };
            (rel_text(rel), entry)
        })
        .collect();
    let bytes: usize = manifest.keys().map(|k| k.len() + 120).sum();
    (bytes <= MAX_MANIFEST_BYTES).then_some(manifest)
}

/// `<uuid>.jsonl`, the transcript's entry.
pub fn transcript_rel(session_id: &str) -> PathBuf {
    PathBuf::from(format!("{session_id}.jsonl"))
}

/// An entry's path as the manifest writes it (`/` between parts, whatever the platform).
pub fn rel_text(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The map from the paths of machine `from` to those of machine `to` (the pairs restore maps,
/// docs/session-state.md): a part is read in the roots it was written under, and a local file is
/// compared with the manifest in the roots of the generation that stored it.
pub fn map_between(from: &Roots, to: &Roots) -> PathMap {
    let mut pairs = vec![(from.repo_root.clone(), to.repo_root.clone())];
    if !crate::store::path_within(&from.cwd, &from.repo_root) {
        pairs.push((from.cwd.clone(), to.cwd.clone()));
    }
    if let (Some(a), Some(b)) = (&from.claude_project_dir, &to.claude_project_dir) {
        pairs.push((a.clone(), b.clone()));
    }
    if let (Some(a), Some(b)) = (&from.claude_dir, &to.claude_dir) {
        pairs.push((a.clone(), b.clone()));
    }
    if let (Some(a), Some(b)) = (&from.claude_temp_dir, &to.claude_temp_dir) {
        // Background outputs live under `<temp root>/<project folder>/`: the folder's name
        // changes with the path.
        let folder = |p: &Option<String>| {
            p.as_deref()
                .and_then(|p| p.rsplit(['/', '\\']).find(|part| !part.is_empty()))
                .map(str::to_owned)
        };
        if let (Some(fa), Some(fb)) = (
            folder(&from.claude_project_dir),
            folder(&to.claude_project_dir),
        ) {
            let join = |root: &str, f: &str| {
                let sep = if root.contains('\\') && !root.contains('/') {
                    '\\'
                } else {
                    '/'
                };
                format!("{}{sep}{f}", root.trim_end_matches(['/', '\\']))
            };
            pairs.push((join(a, &fa), join(b, &fb)));
        }
        pairs.push((a.clone(), b.clone()));
    }
    PathMap::new(pairs)
}

/// The roots generation `generation` of `meta`'s copy was written under: the base's, a part's,
/// or (a full copy) the metadata's own.
pub fn roots_of(meta: &Metadata, generation: u64) -> Option<Roots> {
    match &meta.chain {
        None => (generation == meta.generation).then(|| meta.roots()),
        Some(chain) if chain.base.generation == generation => Some(chain.base.roots.clone()),
        Some(chain) => chain
            .parts
            .iter()
            .find(|p| p.generation == generation)
            .map(|p| p.roots.clone()),
    }
}

/// Where the lines after `after` start in the transcript `path`: its first `after.records`
/// complete lines must hold exactly `after`'s uuid chain (count and sha256). `None` when they do
/// not (the file is not that copy continued) or the file has fewer lines.
pub fn transcript_tail(path: &Path, after: &After) -> anyhow::Result<Option<u64>> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut chain = UuidChain::new();
    let (mut offset, mut lines) = (0u64, 0u64);
    let mut line = Vec::new();
    while lines < after.lines {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(None);
        }
        offset += n as u64;
        lines += 1;
        crate::store::read_records(&line[..], |record| {
            if let Some(uuid) = record.fields().uuid.as_deref() {
                chain.push(uuid);
            }
            Ok(())
        })?;
    }
    let same = chain.count() == after.uuid_count
        && chain
            .sha256_hex()
            .eq_ignore_ascii_case(&after.uuid_chain_sha256);
    Ok(same.then_some(offset))
}

/// Copies `src` from byte `offset` to its end into `dst`: the lines a part carries.
pub fn copy_tail(src: &Path, offset: u64, dst: &Path) -> anyhow::Result<u64> {
    let mut file = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
    file.seek(SeekFrom::Start(offset))?;
    let mut out = File::create(dst).with_context(|| format!("cannot create {}", dst.display()))?;
    let copied = std::io::copy(&mut file, &mut out)
        .with_context(|| format!("cannot copy {}", src.display()))?;
    out.flush()?;
    Ok(copied)
}

/// The sha256 of `path` as another machine stored it: each line mapped with `map` (nothing mapped:
/// the file's own bytes). What the stored copy holds when nothing but paths changed.
pub fn stored_form_sha256(path: &Path, map: &PathMap) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    if map.is_empty() {
        let mut file =
            File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        std::io::copy(&mut file, &mut hasher)?;
        return Ok(hex::encode(hasher.finalize()));
    }
    let mut out = HashOut(&mut hasher, None);
    super::rewrite::rewrite_file(path, &mut out, map)?;
    // rewrite_file ends every line with `\n`; a file without a final newline was stored without.
    let ended = ends_with_newline(path)?;
    out.finish(ended);
    Ok(hex::encode(hasher.finalize()))
}

/// Hashes what is written, holding back a last `\n` until [`HashOut::finish`] says whether it
/// belongs.
struct HashOut<'a>(&'a mut Sha256, Option<u8>);

impl Write for HashOut<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some((last, rest)) = buf.split_last() {
            if let Some(held) = self.1.take() {
                self.0.update([held]);
            }
            self.0.update(rest);
            self.1 = Some(*last);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl HashOut<'_> {
    fn finish(mut self, keep_last_newline: bool) {
        if let Some(held) = self.1.take() {
            if held != b'\n' || keep_last_newline {
                self.0.update([held]);
            }
        }
    }
}

/// Writes `src` into `dst` with every line mapped by `map` (content hashes follow, as in
/// [`super::rewrite::rewrite_file`]). A transcript (`.jsonl`) ends in `\n`; any other file keeps
/// a missing final newline, so a file nothing maps keeps its bytes.
pub fn map_file(src: &Path, dst: &Path, map: &PathMap) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        File::create(dst).with_context(|| format!("cannot write {}", dst.display()))?,
    );
    super::rewrite::rewrite_file(src, &mut out, map)
        .with_context(|| format!("cannot rewrite {}", src.display()))?;
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", dst.display()))?;
    let transcript = src.extension().is_some_and(|e| e == "jsonl");
    if !transcript && !ends_with_newline(src)? {
        let len = file.metadata()?.len();
        file.set_len(len.saturating_sub(1))
            .with_context(|| format!("cannot write {}", dst.display()))?;
    }
    Ok(())
}

fn ends_with_newline(path: &Path) -> anyhow::Result<bool> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// What a push's part carries, against the stored copy's manifest.
#[derive(Debug, Default)]
pub struct Changes {
    /// Entries (not the transcript) that are new or changed.
    pub changed: Vec<PathBuf>,
    /// Files of the stored copy this machine no longer has.
    pub removed: Vec<String>,
    /// The manifest entries of the unchanged files (kept as the stored copy has them).
    pub unchanged: BTreeMap<String, ManifestEntry>,
}

/// Sorts `entries` (read through `path_of`) into changed and unchanged against `stored`'s
/// manifest, comparing each file in the roots of the generation that stored it; and lists what
/// the manifest holds that `entries` does not. `None`: the stored copy has no manifest.
pub fn changes(
    stored: &Metadata,
    local: &Roots,
    entries: &[PathBuf],
    path_of: &dyn Fn(&Path) -> PathBuf,
) -> anyhow::Result<Option<Changes>> {
    let Some(manifest) = &stored.manifest else {
        return Ok(None);
    };
    let transcript = transcript_rel(&stored.session_id);
    let mut out = Changes::default();
    let mut maps: BTreeMap<u64, Option<PathMap>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for rel in entries.iter().filter(|rel| **rel != transcript) {
        let key = rel_text(rel);
        seen.insert(key.clone());
        let Some(entry) = manifest.get(&key) else {
            out.changed.push(rel.clone());
            continue;
        };
        let map = maps.entry(entry.generation).or_insert_with(|| {
            roots_of(stored, entry.generation).map(|roots| map_between(local, &roots))
        });
        let same = match map {
            Some(map) => {
                stored_form_sha256(&path_of(rel), map)?.eq_ignore_ascii_case(&entry.sha256)
            }
            None => false,
        };
        if same {
            out.unchanged.insert(key, entry.clone());
        } else {
            out.changed.push(rel.clone());
        }
    }
    out.removed = manifest
        .keys()
        .filter(|k| !seen.contains(*k))
        .cloned()
        .collect();
    Ok(Some(out))
}

/// What a push's part packs: its entries (the transcript's new lines first) and where each is
/// read from, and what it records beside them.
pub struct PartContents {
    pub entries: Vec<PathBuf>,
    pub sources: super::pack::Sources,
    pub changes: Changes,
}

/// The contents of a part over `stored` (a copy the local session continues): the transcript
/// lines after its `lines` (copied into `scratch`) and the entries new or changed by its
/// manifest. `None` when no part can be written: the stored copy counted no lines or has no
/// manifest (before 0.3), or the local transcript does not start with exactly its records.
pub fn part_contents(
    stored: &Metadata,
    local: &Roots,
    entries: &[PathBuf],
    sources: &super::pack::Sources,
    scratch: &Path,
) -> anyhow::Result<Option<PartContents>> {
    let Some(after) = stored.after() else {
        return Ok(None);
    };
    let transcript = transcript_rel(&stored.session_id);
    let Some(offset) = transcript_tail(&sources.path(&transcript), &after)? else {
        return Ok(None);
    };
    let Some(changes) = changes(stored, local, entries, &|rel| sources.path(rel))? else {
        return Ok(None);
    };
    let tail = scratch.join(format!("tail-{}", transcript.display()));
    copy_tail(&sources.path(&transcript), offset, &tail)?;
    let mut sources = sources.clone();
    sources.elsewhere.insert(transcript.clone(), tail);
    let entries = std::iter::once(transcript)
        .chain(changes.changed.iter().cloned())
        .collect();
    Ok(Some(PartContents {
        entries,
        sources,
        changes,
    }))
}

/// Applies one extracted part (`part_dir`, its `files`) onto the assembled copy in `copy_dir`:
/// its transcript lines appended (there must be exactly `lines` of them), its other files put in
/// place of the old ones, and `removed` deleted. Returns the files the part brought.
pub fn apply_part(
    copy_dir: &Path,
    part_dir: &Path,
    files: &[PathBuf],
    transcript: &Path,
    lines: u64,
    removed: &[String],
) -> anyhow::Result<()> {
    for name in removed {
        let rel = checked_rel(name)?;
        match std::fs::remove_file(copy_dir.join(&rel)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {name}")),
        }
    }
    for rel in files {
        let src = part_dir.join(rel);
        let dst = copy_dir.join(rel);
        if rel == transcript {
            append_lines(&src, &dst, lines)?;
            continue;
        }
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::rename(&src, &dst)
            .with_context(|| format!("cannot move {} into place", src.display()))?;
    }
    if !files.iter().any(|f| f == transcript) && lines > 0 {
        bail!("a delta part lacks the {lines} transcript lines its metadata records");
    }
    Ok(())
}

/// Puts the complete lines of `local` (this machine's transcript, at the link a delta restore
/// starts from) before the lines in `staged` (the parts' lines, already mapped to this machine):
/// `staged` then holds the whole transcript the chain describes.
pub fn prepend_local(local: &Path, staged: &Path) -> anyhow::Result<()> {
    let file = File::open(local).with_context(|| format!("cannot read {}", local.display()))?;
    let complete = crate::store::records::complete_lines_len(&file)
        .with_context(|| format!("cannot read {}", local.display()))?;
    let joined = staged.with_extension("jsonl.joined");
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        File::create(&joined).with_context(|| format!("cannot write {}", joined.display()))?,
    );
    std::io::copy(&mut BufReader::new(file).take(complete), &mut out)
        .with_context(|| format!("cannot copy {}", local.display()))?;
    if staged.exists() {
        let mut tail =
            File::open(staged).with_context(|| format!("cannot read {}", staged.display()))?;
        std::io::copy(&mut tail, &mut out)?;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", joined.display()))?;
    drop(out);
    std::fs::rename(&joined, staged).with_context(|| format!("cannot write {}", staged.display()))
}

/// A `removed` entry of a part's metadata: a plain relative path, nothing else.
pub fn checked_rel(name: &str) -> anyhow::Result<PathBuf> {
    let rel = PathBuf::from(name);
    let plain = !name.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !plain {
        bail!(
            "a delta part removes {:?}, which is no file of the session: the release was tampered with",
            crate::neutral::text(name)
        );
    }
    Ok(rel)
}

/// Appends the complete lines of `src` to `dst` (created if absent); `src` must hold exactly
/// `lines` lines, each ended by `\n`.
fn append_lines(src: &Path, dst: &Path, lines: u64) -> anyhow::Result<()> {
    let mut input = BufReader::with_capacity(
        1 << 16,
        File::open(src).with_context(|| format!("cannot read {}", src.display()))?,
    );
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        File::options()
            .create(true)
            .append(true)
            .open(dst)
            .with_context(|| format!("cannot write {}", dst.display()))?,
    );
    let (mut count, mut line) = (0u64, Vec::new());
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            bail!("a delta part's transcript ends in a torn line: it was not made by ccsync");
        }
        count += 1;
        out.write_all(&line)?;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", dst.display()))?;
    if count != lines {
        bail!(
            "a delta part carries {count} transcript lines where its metadata records {lines}: the release was tampered with"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(root: &str, home: &str) -> Roots {
        Roots {
            cwd: format!("{root}/sub"),
            repo_root: root.into(),
            claude_project_dir: Some(format!(
                "{home}/.claude/projects/{}",
                root.replace('/', "-")
            )),
            claude_dir: Some(format!("{home}/.claude")),
            claude_temp_dir: Some("/tmp/claude-1000".into()),
        }
    }

    #[test]
    fn a_file_that_differs_only_by_paths_hashes_to_the_stored_form() {
        let dir = tempfile::tempdir().unwrap();
        let (laptop, ci) = (roots("/home/me/app", "/home/me"), roots("/ci/w/app", "/ci"));
        let stored =
            "{\"cwd\":\"/home/me/app/sub\",\"x\":1}\nplain text /home/me/app-old\nno newline";
        let local = "{\"cwd\":\"/ci/w/app/sub\",\"x\":1}\nplain text /home/me/app-old\nno newline";
        let path = dir.path().join("f");
        std::fs::write(&path, local).unwrap();
        let want = hex::encode(Sha256::digest(stored.as_bytes()));
        assert_eq!(
            stored_form_sha256(&path, &map_between(&ci, &laptop)).unwrap(),
            want
        );
        // Without a map, the file's own bytes.
        std::fs::write(&path, stored).unwrap();
        assert_eq!(
            stored_form_sha256(&path, &PathMap::new(vec![])).unwrap(),
            want
        );
        // With a final newline, kept.
        std::fs::write(&path, format!("{local}\n")).unwrap();
        let want = hex::encode(Sha256::digest(format!("{stored}\n").as_bytes()));
        assert_eq!(
            stored_form_sha256(&path, &map_between(&ci, &laptop)).unwrap(),
            want
        );
    }

    #[test]
    fn the_tail_starts_after_exactly_the_stored_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let line = |u: &str| format!("{{\"type\":\"user\",\"uuid\":\"{u}\"}}\n");
        let head = format!("{}{{\"type\":\"summary\"}}\n{}", line("a"), line("b"));
        std::fs::write(&path, format!("{head}{}", line("c"))).unwrap();
        let mut chain = UuidChain::new();
        chain.push("a");
        chain.push("b");
        let after = After {
            records: 3,
            lines: 3,
            uuid_count: 2,
            uuid_chain_sha256: chain.sha256_hex(),
        };
        assert_eq!(
            transcript_tail(&path, &after).unwrap(),
            Some(head.len() as u64)
        );
        // Another prefix, or too few lines: no tail.
        let wrong = After {
            lines: 2,
            ..after.clone()
        };
        assert_eq!(transcript_tail(&path, &wrong).unwrap(), None);
        std::fs::write(&path, &head[..head.len() - 1]).unwrap();
        assert_eq!(transcript_tail(&path, &after).unwrap(), None);
    }

    #[test]
    fn a_part_applies_lines_files_and_removals_and_refuses_a_wrong_count() {
        let dir = tempfile::tempdir().unwrap();
        let (copy, part) = (dir.path().join("copy"), dir.path().join("part"));
        std::fs::create_dir_all(copy.join("s/tool-results")).unwrap();
        std::fs::create_dir_all(part.join("s/tool-results")).unwrap();
        std::fs::write(copy.join("s.jsonl"), "1\n2\n").unwrap();
        std::fs::write(copy.join("s/tool-results/old"), "old").unwrap();
        std::fs::write(copy.join("s/tool-results/gone"), "x").unwrap();
        std::fs::write(part.join("s.jsonl"), "3\n").unwrap();
        std::fs::write(part.join("s/tool-results/old"), "new").unwrap();
        let files = vec![
            PathBuf::from("s.jsonl"),
            PathBuf::from("s/tool-results/old"),
        ];
        let t = Path::new("s.jsonl");
        apply_part(&copy, &part, &files, t, 1, &["s/tool-results/gone".into()]).unwrap();
        assert_eq!(
            std::fs::read_to_string(copy.join("s.jsonl")).unwrap(),
            "1\n2\n3\n"
        );
        assert_eq!(
            std::fs::read_to_string(copy.join("s/tool-results/old")).unwrap(),
            "new"
        );
        assert!(!copy.join("s/tool-results/gone").exists());
        std::fs::write(part.join("s.jsonl"), "4\n5\n").unwrap();
        let e = apply_part(&copy, &part, &files[..1], t, 1, &[]).unwrap_err();
        assert!(format!("{e:#}").contains("tampered"), "{e:#}");
        let e = apply_part(&copy, &part, &[], t, 0, &["../x".into()]).unwrap_err();
        assert!(format!("{e:#}").contains("tampered"), "{e:#}");
    }
}

//! A session's state that Claude Code keeps outside the project folder (docs/session-state.md):
//! its task list, its file history (rewind points), its plan files and its background outputs, and
//! how each travels in a session archive.
//!
//! | state | here | in the archive |
//! |---|---|---|
//! | tasks | `<claude-dir>/tasks/<id>/<n>.json` (not `.lock`) | `.ccsync-state/tasks/<n>.json` |
//! | file history | `<claude-dir>/file-history/<id>/<backup>` | `.ccsync-state/file-history/<backup>` |
//! | plans | `<claude-dir>/plans/<slug>.md` (slugs the transcript names) | `.ccsync-state/plans/<slug>.md` |
//! | outputs | `<temp-root>/<folder>/<id>/tasks/<task>.output` | `.ccsync-state/tmp-tasks/<task>.output` |
//!
//! `<temp-root>` is `$CLAUDE_CODE_TMPDIR` (else the system temp folder) joined with `claude-<uid>`,
//! as Claude Code names it. A background agent's output is a symbolic link to the subagent's
//! transcript, which travels as side data of the session: it goes into the archive as
//! `<task>.output.link`, a text file holding the link's target relative to the project folder, and
//! restore makes the link again, to the installed transcript. A link that points anywhere else is
//! left behind. Everything else under those roots is machine-local (the list in
//! docs/session-state.md).

use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// The reserved top-level folder of a session archive that holds the session's state.
pub const ARCHIVE_DIR: &str = ".ccsync-state";

/// The suffix of an archive entry that stands for a symbolic link (see the module documentation).
pub const LINK_SUFFIX: &str = ".link";

/// The kinds of state, each a folder under [`ARCHIVE_DIR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tasks,
    FileHistory,
    Plans,
    Outputs,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Tasks, Kind::FileHistory, Kind::Plans, Kind::Outputs];

    /// Its folder under [`ARCHIVE_DIR`].
    pub fn folder(self) -> &'static str {
        match self {
            Kind::Tasks => "tasks",
            Kind::FileHistory => "file-history",
            Kind::Plans => "plans",
            Kind::Outputs => "tmp-tasks",
        }
    }

    fn from_folder(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.folder() == name)
    }

    /// Whether `name` is a file name this kind holds (the names Claude Code writes; nothing that
    /// could climb out of the folder or hide as a dot file).
    fn accepts(self, name: &str) -> bool {
        let plain = |s: &str, extra: &[u8]| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b) || extra.contains(&b))
        };
        match self {
            Kind::Tasks => name.strip_suffix(".json").is_some_and(|s| plain(s, b"")),
            Kind::FileHistory => !name.starts_with('.') && plain(name, b"@."),
            Kind::Plans => name.strip_suffix(".md").is_some_and(|s| plain(s, b"")),
            Kind::Outputs => {
                let name = name.strip_suffix(LINK_SUFFIX).unwrap_or(name);
                name.strip_suffix(".output").is_some_and(|s| plain(s, b""))
            }
        }
    }
}

/// An allowed archive entry under [`ARCHIVE_DIR`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `.ccsync-state/` or one of its kind folders.
    Folder,
    /// A state file: its kind and name.
    File(Kind, String),
}

/// What an archive entry under [`ARCHIVE_DIR`] is; `None` for anything that is not allowed.
pub fn classify(rel: &Path, is_dir: bool) -> Option<Entry> {
    let parts: Vec<&str> = rel
        .components()
        .map(|c| match c {
            Component::Normal(p) => p.to_str().unwrap_or(""),
            _ => "",
        })
        .collect();
    match (parts.as_slice(), is_dir) {
        ([ARCHIVE_DIR], true) => Some(Entry::Folder),
        ([ARCHIVE_DIR, folder], true) if Kind::from_folder(folder).is_some() => Some(Entry::Folder),
        ([ARCHIVE_DIR, folder, name], false) => match Kind::from_folder(folder) {
            Some(kind) if kind.accepts(name) => Some(Entry::File(kind, (*name).to_owned())),
            _ => None,
        },
        _ => None,
    }
}

/// Whether an archive entry is session state.
pub fn is_state(rel: &Path) -> bool {
    rel.components()
        .next()
        .is_some_and(|c| c.as_os_str() == ARCHIVE_DIR)
}

/// The places of session state on one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// The Claude config folder (`$CLAUDE_CONFIG_DIR`, else `~/.claude`).
    pub claude_dir: PathBuf,
    /// `$CLAUDE_CODE_TMPDIR` (else the system temp folder) joined with `claude-<uid>`.
    pub temp_root: PathBuf,
}

impl Roots {
    /// This machine's roots for the Claude config folder `claude_dir`.
    pub fn here(claude_dir: &Path) -> Roots {
        Roots {
            claude_dir: claude_dir.to_path_buf(),
            temp_root: temp_root(),
        }
    }

    /// This machine's roots for session `session_id` of `project_dir`: the temp root its
    /// transcript names when it names one (`<root>/<folder>/<id>/tasks/<task>.output`), since
    /// `claude` may have run with another `$TMPDIR` than ccsync; else [`temp_root`].
    pub fn for_session(
        claude_dir: &Path,
        project_dir: &Path,
        session_id: &str,
    ) -> anyhow::Result<Roots> {
        let mut roots = Roots::here(claude_dir);
        let transcript = project_dir.join(format!("{session_id}.jsonl"));
        if transcript.is_file() {
            if let Some(named) = temp_root_named(&transcript, session_id)? {
                roots.temp_root = named;
            }
        }
        Ok(roots)
    }

    /// `<temp-root>/<folder>/<id>/tasks`: where the session's background outputs are.
    pub fn outputs_dir(&self, project_dir: &Path, session_id: &str) -> PathBuf {
        let folder = project_dir.file_name().unwrap_or_default();
        self.temp_root.join(folder).join(session_id).join("tasks")
    }

    /// Where the state file `name` of `kind` of session `session_id` lives on this machine.
    pub fn place(&self, kind: Kind, name: &str, project_dir: &Path, session_id: &str) -> PathBuf {
        match kind {
            Kind::Tasks => self.claude_dir.join("tasks").join(session_id).join(name),
            Kind::FileHistory => self
                .claude_dir
                .join("file-history")
                .join(session_id)
                .join(name),
            Kind::Plans => self.claude_dir.join("plans").join(name),
            Kind::Outputs => self.outputs_dir(project_dir, session_id).join(name),
        }
    }
}

/// Claude Code's temp root: `$CLAUDE_CODE_TMPDIR`, else Node's `os.tmpdir()` (`$TMPDIR`, `$TMP`,
/// `$TEMP`, else `/tmp`), joined with `claude-<uid>`.
pub fn temp_root() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = var("CLAUDE_CODE_TMPDIR")
        .or_else(|| var("TMPDIR"))
        .or_else(|| var("TMP"))
        .or_else(|| var("TEMP"))
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let text = base.to_string_lossy();
    let trimmed = text.trim_end_matches('/');
    let base = if trimmed.is_empty() {
        PathBuf::from("/")
    } else {
        PathBuf::from(trimmed)
    };
    base.join(format!("claude-{}", uid()))
}

#[cfg(unix)]
fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(not(unix))]
fn uid() -> u32 {
    // Node has no `process.getuid` on Windows: Claude Code then names the folder `claude-0`.
    0
}

/// One state file of a local session, as push packs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    /// The archive entry (`.ccsync-state/<kind>/<name>`).
    pub rel: PathBuf,
    /// The file to pack: the state file, or for a link a file in the caller's folder holding the
    /// link's target relative to the project folder.
    pub src: PathBuf,
}

/// The state files of session `session_id` of `project_dir` on this machine, sorted by entry.
/// Link entries are written into `link_dir`.
pub fn collect(
    roots: &Roots,
    project_dir: &Path,
    session_id: &str,
    link_dir: &Path,
) -> anyhow::Result<Vec<StateFile>> {
    let mut out = Vec::new();
    let entry = |kind: Kind, name: &str| Path::new(ARCHIVE_DIR).join(kind.folder()).join(name);
    for kind in [Kind::Tasks, Kind::FileHistory] {
        let dir = roots.place(kind, "", project_dir, session_id);
        for (name, path) in regular_files(&dir)? {
            if kind.accepts(&name) {
                out.push(StateFile {
                    rel: entry(kind, &name),
                    src: path,
                });
            }
        }
    }
    for slug in slugs(project_dir, session_id)? {
        let plans = roots.claude_dir.join("plans");
        for (name, path) in regular_files(&plans)? {
            let stem = name.strip_suffix(".md").unwrap_or_default();
            let agent_plan = stem
                .strip_prefix(slug.as_str())
                .is_some_and(|rest| rest.starts_with("-agent-"));
            if (stem == slug || agent_plan) && Kind::Plans.accepts(&name) {
                out.push(StateFile {
                    rel: entry(Kind::Plans, &name),
                    src: path,
                });
            }
        }
    }
    out.extend(outputs(roots, project_dir, session_id, link_dir)?);
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out.dedup_by(|a, b| a.rel == b.rel);
    Ok(out)
}

/// The background outputs: regular files as they are, links into the session's own side data as
/// link entries; anything else stays behind.
fn outputs(
    roots: &Roots,
    project_dir: &Path,
    session_id: &str,
    link_dir: &Path,
) -> anyhow::Result<Vec<StateFile>> {
    let dir = roots.outputs_dir(project_dir, session_id);
    let mut out = Vec::new();
    let Ok(list) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    let side = project_dir.join(session_id);
    for item in list {
        let item = item.with_context(|| format!("cannot read {}", dir.display()))?;
        let Some(name) = item.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let kind = item.file_type()?;
        let rel = Path::new(ARCHIVE_DIR).join(Kind::Outputs.folder());
        if kind.is_file() && Kind::Outputs.accepts(&name) && !name.ends_with(LINK_SUFFIX) {
            out.push(StateFile {
                rel: rel.join(&name),
                src: item.path(),
            });
        } else if kind.is_symlink() {
            let Some(target) = link_target_in(&item.path(), &side, project_dir) else {
                continue;
            };
            let link_name = format!("{name}{LINK_SUFFIX}");
            if !Kind::Outputs.accepts(&link_name) {
                continue;
            }
            let src = link_dir.join(&link_name);
            std::fs::write(&src, target.as_bytes())
                .with_context(|| format!("cannot write {}", src.display()))?;
            out.push(StateFile {
                rel: rel.join(link_name),
                src,
            });
        }
    }
    Ok(out)
}

/// The target of the link `link`, relative to `project_dir`, when it is a regular file inside the
/// session's side folder `side`.
fn link_target_in(link: &Path, side: &Path, project_dir: &Path) -> Option<String> {
    let target = std::fs::read_link(link).ok()?;
    let target = if target.is_absolute() {
        target
    } else {
        link.parent()?.join(target)
    };
    let real = std::fs::canonicalize(&target).ok()?;
    let side = std::fs::canonicalize(side).ok()?;
    let project = std::fs::canonicalize(project_dir).ok()?;
    if !real.starts_with(&side) || !real.is_file() {
        return None;
    }
    let rel = real.strip_prefix(&project).ok()?;
    rel.to_str().map(|s| s.replace('\\', "/"))
}

/// Checks a link entry's content (the target relative to the project folder): a file of the
/// session's own side data, `<id>/...`, nothing that climbs.
pub fn check_link_target(session_id: &str, target: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(target);
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    let inside = path
        .components()
        .next()
        .is_some_and(|c| c.as_os_str() == session_id)
        && path.components().count() > 1;
    if !plain || !inside || target.contains('\\') {
        anyhow::bail!(
            "the archive of session {session_id} holds a background output link to `{}`, which is not \
             side data of that session: the release was tampered with; nothing was installed",
            crate::neutral::text(&target.chars().take(200).collect::<String>())
        );
    }
    Ok(path.to_path_buf())
}

fn regular_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let list = match std::fs::read_dir(dir) {
        Ok(list) => list,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for item in list {
        let item = item.with_context(|| format!("cannot read {}", dir.display()))?;
        if item.file_type()?.is_file() {
            if let Some(name) = item.file_name().to_str() {
                out.push((name.to_owned(), item.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The temp root of the last background output path the transcript names
/// (`<root>/<folder>/<id>/tasks/<task>.output`), when it names one that exists here.
fn temp_root_named(transcript: &Path, session_id: &str) -> anyhow::Result<Option<PathBuf>> {
    let needle = format!("/{session_id}/tasks/");
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let mut found: Option<PathBuf> = None;
    crate::bundle::for_each_line(transcript, |line| {
        for hit in finder.find_iter(line) {
            // The path starts after the last character no path of Claude Code's holds.
            let before = &line[..hit];
            let start = before
                .iter()
                .rposition(|b| b"\"'>( \t\\".contains(b))
                .map_or(0, |i| i + 1);
            let Ok(folder) = std::str::from_utf8(&before[start..]) else {
                continue;
            };
            let folder = Path::new(folder);
            let exists = |root: &&Path| root.join(folder.file_name().unwrap_or_default()).is_dir();
            if let Some(root) = folder.parent().filter(|r| r.is_absolute()).filter(exists) {
                found = Some(root.to_path_buf());
            }
        }
        Ok(())
    })?;
    Ok(found)
}

/// The `slug` of a record (plan mode names the plan file after it).
#[derive(Deserialize)]
struct SlugOnly<'a> {
    #[serde(borrow, default)]
    slug: Option<std::borrow::Cow<'a, str>>,
}

/// The plan slugs the session's transcripts name (the session file and its subagents), sorted.
fn slugs(project_dir: &Path, session_id: &str) -> anyhow::Result<Vec<String>> {
    let mut files = vec![project_dir.join(format!("{session_id}.jsonl"))];
    let subagents = project_dir.join(session_id).join("subagents");
    files.extend(
        regular_files(&subagents)?
            .into_iter()
            .filter(|(name, _)| name.ends_with(".jsonl"))
            .map(|(_, path)| path),
    );
    let mut out = Vec::new();
    for file in files.iter().filter(|f| f.is_file()) {
        out.extend(slugs_of(file)?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The plan slugs named by the records of one transcript.
pub fn slugs_of(file: &Path) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let finder = memchr::memmem::Finder::new(b"\"slug\":");
    crate::bundle::for_each_line(file, |line| {
        if finder.find(line).is_none() {
            return Ok(());
        }
        let stream = serde_json::Deserializer::from_slice(line).into_iter::<SlugOnly<'_>>();
        for record in stream {
            let Ok(record) = record else { break };
            if let Some(slug) = record.slug {
                if Kind::Plans.accepts(&format!("{slug}.md")) && !out.iter().any(|s| *s == slug) {
                    out.push(slug.into_owned());
                }
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Whether the plan file `name` belongs to one of `slugs` (`<slug>.md` or `<slug>-agent-*.md`).
pub fn plan_of(name: &str, slugs: &[String]) -> bool {
    let stem = name.strip_suffix(".md").unwrap_or(name);
    slugs.iter().any(|slug| {
        stem == slug
            || stem
                .strip_prefix(slug.as_str())
                .is_some_and(|rest| rest.starts_with("-agent-"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4d5611e5-241a-462a-8d15-5122611a9569";

    #[test]
    fn only_known_state_entries_classify() {
        let ok = |rel: &str, dir: bool| classify(Path::new(rel), dir);
        assert_eq!(ok(".ccsync-state", true), Some(Entry::Folder));
        assert_eq!(ok(".ccsync-state/tasks", true), Some(Entry::Folder));
        assert_eq!(
            ok(".ccsync-state/tasks/1.json", false),
            Some(Entry::File(Kind::Tasks, "1.json".into()))
        );
        assert_eq!(
            ok(".ccsync-state/file-history/0123456789abcdef@v2", false),
            Some(Entry::File(Kind::FileHistory, "0123456789abcdef@v2".into()))
        );
        assert_eq!(
            ok(".ccsync-state/plans/humble-dancing-fox.md", false),
            Some(Entry::File(Kind::Plans, "humble-dancing-fox.md".into()))
        );
        assert!(ok(".ccsync-state/tmp-tasks/bwslvb0nt.output", false).is_some());
        assert!(ok(".ccsync-state/tmp-tasks/a7edf57c.output.link", false).is_some());
        for bad in [
            ".ccsync-state/tasks/.lock",
            ".ccsync-state/tasks/1.json/x",
            ".ccsync-state/other/1.json",
            ".ccsync-state/plans/../x.md",
            ".ccsync-state/plans/x.sh",
            ".ccsync-state/file-history/.hidden",
            ".ccsync-state/tmp-tasks/run.sh",
            ".ccsync-state/x",
        ] {
            assert_eq!(ok(bad, false), None, "{bad}");
        }
        assert_eq!(ok(".ccsync-state/tasks/1.json", true), None);
        assert_eq!(ok(".ccsync-state/other", true), None);
    }

    #[test]
    fn link_targets_stay_in_the_session() {
        assert_eq!(
            check_link_target(ID, &format!("{ID}/subagents/agent-a.jsonl")).unwrap(),
            PathBuf::from(format!("{ID}/subagents/agent-a.jsonl"))
        );
        for bad in [
            format!("{ID}/../other.jsonl"),
            "/etc/passwd".to_owned(),
            "other/subagents/a.jsonl".to_owned(),
            ID.to_owned(),
            format!("{ID}.jsonl"),
        ] {
            assert!(check_link_target(ID, &bad).is_err(), "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn collects_the_sessions_state_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let roots = Roots {
            claude_dir: base.join("claude"),
            temp_root: base.join("tmp/claude-1000"),
        };
        let project = roots.claude_dir.join("projects/-w-app");
        std::fs::create_dir_all(project.join(ID).join("subagents")).unwrap();
        std::fs::write(
            project.join(format!("{ID}.jsonl")),
            "{\"type\":\"user\",\"slug\":\"humble-fox\"}\n",
        )
        .unwrap();
        let agent = project.join(ID).join("subagents/agent-a1.jsonl");
        std::fs::write(&agent, "{}\n").unwrap();
        let put = |p: PathBuf, text: &str| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        put(roots.claude_dir.join("tasks").join(ID).join("1.json"), "{}");
        put(roots.claude_dir.join("tasks").join(ID).join(".lock"), "");
        put(roots.claude_dir.join("tasks/other/1.json"), "{}");
        put(
            roots.claude_dir.join("file-history").join(ID).join("ab@v1"),
            "v0",
        );
        put(roots.claude_dir.join("plans/humble-fox.md"), "# plan");
        put(roots.claude_dir.join("plans/humble-fox-agent-a1.md"), "# p");
        put(roots.claude_dir.join("plans/other-slug.md"), "# other");
        let outputs = roots.outputs_dir(&project, ID);
        put(outputs.join("b1.output"), "out");
        std::os::unix::fs::symlink(&agent, outputs.join("a1.output")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", outputs.join("a2.output")).unwrap();

        let links = tempfile::tempdir().unwrap();
        let got = collect(&roots, &project, ID, links.path()).unwrap();
        let rels: Vec<String> = got
            .iter()
            .map(|f| f.rel.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            rels,
            [
                ".ccsync-state/file-history/ab@v1",
                ".ccsync-state/plans/humble-fox-agent-a1.md",
                ".ccsync-state/plans/humble-fox.md",
                ".ccsync-state/tasks/1.json",
                ".ccsync-state/tmp-tasks/a1.output.link",
                ".ccsync-state/tmp-tasks/b1.output",
            ]
        );
        let link = got
            .iter()
            .find(|f| f.rel.ends_with("a1.output.link"))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&link.src).unwrap(),
            format!("{ID}/subagents/agent-a1.jsonl")
        );
    }
}

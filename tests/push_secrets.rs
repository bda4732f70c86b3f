//! What leaves the machine on `release-push`, through the binary against the fake GitHub: the
//! secret scan runs beside the facts pass, a clean session goes into the archive byte for byte
//! (straight from the session file, no redacted copy), a session with a secret is uploaded
//! redacted (default) or not at all (`--secrets refuse`, exit 5), side files included; and
//! `--json` reports the GitHub requests made. The generated corpus of every secret type in every
//! place goes through the real push once: nothing of a planted value reaches the release.

mod secret_corpus;
mod support;

use std::io::Read;
use std::path::Path;
use std::process::Output;

use fake_github::{FakeGitHub, Options};
use serde_json::Value;
use support::sessions::{project_folder, SessionBuilder};
use support::{assert_no_token, TestEnv, TOKEN};

/// A GitHub token shape the scanner knows (not the test's own token).
const PLANTED: &str = "ghp_7Qm2Zk9Lp4Xw8Rt3Vn6Hs1Jc5Yd0Fb2Gk7NqW";

fn push(env: &TestEnv, fake: &FakeGitHub, extra: &[&str]) -> Output {
    let mut cmd = env.ccsync();
    cmd.args(["--json", "release-push"])
        .args(extra)
        .env("GITHUB_API_URL", fake.api_url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("CCSYNC_RETRY_BASE_MS", "1");
    let output = cmd.output().expect("ccsync runs");
    assert_no_token(&output);
    output
}

/// The files of the session archive stored in the fake's release, by entry name.
/// The files of the stored copy: the archive, and (a chain, docs/write-protocol.md "Delta
/// copies") its parts applied in order: the transcript's lines appended, other files replaced.
fn stored_archive(fake: &FakeGitHub, id: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let name = format!("claude-session-{id}.tar.gz");
    let release = fake
        .releases("octo", "app")
        .into_iter()
        .find(|r| r.tag_name == "claude-sessions-main")?;
    let base = release.assets.iter().find(|a| a.name == name)?;
    // A chain's stable name holds a small signpost, its base is its first `.d<B>` part
    // (docs/write-protocol.md): then every part is applied in order, the base first.
    let gzip = base.data.starts_with(&[0x1f, 0x8b]);
    let mut out = if gzip { untar(&base.data) } else { Vec::new() };
    let part_prefix = format!("claude-session-{id}.d");
    let mut parts: Vec<(u64, &[u8])> = release
        .assets
        .iter()
        .filter_map(|a| {
            let generation = a.name.strip_prefix(&part_prefix)?.strip_suffix(".tar.gz")?;
            Some((generation.parse().ok()?, &a.data[..]))
        })
        .collect();
    parts.sort();
    let transcript = format!("{id}.jsonl");
    for (_, data) in parts {
        for (path, bytes) in untar(data) {
            match out.iter_mut().find(|(p, _)| *p == path) {
                Some((_, old)) if path == transcript => old.extend(bytes),
                Some((_, old)) => *old = bytes,
                None => out.push((path, bytes)),
            }
        }
    }
    Some(out)
}

fn untar(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(data));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push((path, data));
    }
    out
}

fn file_of<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| n == name).unwrap().1
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn clean_sessions_travel_byte_for_byte_and_secrets_are_redacted_or_refused() {
    let fake = FakeGitHub::start(Options::default());
    let env = TestEnv::new();
    let project = project_folder(&env.claude_dir, &env.repo);

    // Clean: the archive holds the session file exactly, up to its last complete line (a torn
    // last line, still being written, is left for the next push).
    let clean = SessionBuilder::new(&env.repo).turns(40).torn_tail();
    let clean_file = clean.write_to(&project);
    let id = clean_file
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = push(&env, &fake, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report[0]["action"], "uploaded");
    assert_eq!(report[0]["secretsRedacted"], 0);
    assert!(
        report[0]["apiRequests"].as_u64().unwrap() >= 4,
        "requests are counted: {report}"
    );
    let files = stored_archive(&fake, &id).unwrap();
    let local = std::fs::read(&clean_file).unwrap();
    let complete = &local[..local.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)];
    assert!(complete.len() < local.len(), "the session has a torn tail");
    assert!(file_of(&files, &format!("{id}.jsonl")) == complete);

    // A secret in the session and one in a side file: refused with exit 5, nothing replaced.
    let secret_line = format!(
        "{{\"type\":\"user\",\"message\":{{\"content\":\"token {PLANTED} here\"}},\"sessionId\":\"{id}\"}}\n"
    );
    let mut text = std::fs::read_to_string(&clean_file).unwrap();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let extra = SessionBuilder::new(&env.repo).id(&id).turns(2).text();
    let dirty = format!("{text}{secret_line}{extra}");
    std::fs::write(&clean_file, &dirty).unwrap();
    let side = project.join(&id).join("tool-results");
    std::fs::create_dir_all(&side).unwrap();
    std::fs::write(side.join("out.txt"), format!("export GH={PLANTED}\n")).unwrap();
    let before = stored_archive(&fake, &id).unwrap();
    let refused = push(&env, &fake, &["--secrets", "refuse"]);
    assert_eq!(
        refused.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("github-token"), "{stderr}");
    assert!(!stderr.contains(PLANTED), "findings never show the value");
    assert_eq!(
        stored_archive(&fake, &id).unwrap(),
        before,
        "nothing uploaded"
    );

    // Default: uploaded redacted, the local files untouched.
    let out = push(&env, &fake, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)[0]["secretsRedacted"], 2);
    let files = stored_archive(&fake, &id).unwrap();
    let session = String::from_utf8(file_of(&files, &format!("{id}.jsonl")).to_vec()).unwrap();
    assert!(!session.contains(PLANTED));
    assert!(session.contains("[REDACTED:github-token]"));
    assert_eq!(
        session.replace("[REDACTED:github-token]", PLANTED),
        dirty,
        "only the secret changed"
    );
    let side_rel = format!("{id}/tool-results/out.txt");
    assert_eq!(
        file_of(&files, &side_rel),
        b"export GH=[REDACTED:github-token]\n"
    );
    assert_eq!(std::fs::read_to_string(&clean_file).unwrap(), dirty);
    assert!(Path::new(&side.join("out.txt")).is_file());
}

#[test]
fn every_planted_secret_is_gone_from_the_uploaded_archive() {
    let fake = FakeGitHub::start(Options::default());
    let env = TestEnv::new();
    let project = project_folder(&env.claude_dir, &env.repo);
    let id = secret_corpus::SESSION_ID;
    // A third of the corpus (every family, every place and context, in turn) keeps the debug
    // binary's push short; the library test reads all of it.
    let samples: Vec<_> = secret_corpus::samples(2026)
        .into_iter()
        .step_by(3)
        .collect();
    let families: std::collections::BTreeSet<_> = samples.iter().map(|s| s.family).collect();
    assert!(families.len() >= 33, "{families:?}");
    // A real session first, then every sample in its file (records of the main session, the
    // subagent transcripts, the tool-results text files).
    let base = SessionBuilder::new(&env.repo).id(id).turns(3).text();
    let mut files: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    files.insert(format!("{id}.jsonl"), base);
    for sample in &samples {
        files
            .entry(sample.file.clone())
            .or_default()
            .push_str(&sample.content);
    }
    for (rel, content) in &files {
        let path = project.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
    }

    let out = push(&env, &fake, &["--session", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert!(report[0]["secretsRedacted"].as_u64().unwrap() >= samples.len() as u64);
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let stored = stored_archive(&fake, id).expect("the archive was uploaded");
    assert_eq!(
        stored.len(),
        files.len(),
        "every file of the session travelled"
    );
    let mut leaked = Vec::new();
    for sample in &samples {
        let data = String::from_utf8(file_of(&stored, &sample.file).to_vec()).unwrap();
        if sample.forbidden.iter().any(|f| data.contains(f.as_str())) {
            leaked.push(format!(
                "{}/{} {:?} {:?}",
                sample.family, sample.kind, sample.place, sample.context
            ));
        }
        assert!(
            !sample.forbidden.iter().any(|f| shown.contains(f.as_str())),
            "the report shows a value"
        );
    }
    for (name, data) in &stored {
        let text = std::str::from_utf8(data).unwrap();
        assert_eq!(text.lines().count(), files[name].lines().count(), "{name}");
        if name.ends_with(".jsonl") {
            for line in text.lines() {
                serde_json::from_str::<Value>(line)
                    .unwrap_or_else(|e| panic!("{name}: redaction broke a line: {e}"));
            }
        }
    }
    let recall = 1.0 - leaked.len() as f64 / samples.len() as f64;
    assert!(
        recall >= 0.95,
        "recall {recall:.3} through push: {leaked:#?}"
    );
    assert!(leaked.is_empty(), "leaked through push: {leaked:#?}");
    // The local files are never changed.
    for (rel, content) in &files {
        assert_eq!(
            &std::fs::read_to_string(project.join(rel)).unwrap(),
            content
        );
    }
}

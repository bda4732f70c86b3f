//! The conflict rule on real sessions: a session continued elsewhere (records appended) is ahead,
//! the same file is equal, two continuations of one file have diverged; the metadata summary
//! decides the common cases without the remote copy and never contradicts the exact comparison.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;

use ccsync::sync::{compare_sets, relation_from_summary, Relation, UuidChain};

/// The record uuids of a file in order (glued lines give both records; torn lines none).
fn uuids(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for line in BufReader::new(std::fs::File::open(path).unwrap()).lines() {
        let line = line.unwrap();
        for value in serde_json::Deserializer::from_str(&line).into_iter::<serde_json::Value>() {
            let Ok(value) = value else { break };
            if let Some(id) = value.get("uuid").and_then(|v| v.as_str()) {
                out.push(id.to_owned());
            }
        }
    }
    out
}

fn chain(ids: &[String], checkpoint: u64) -> UuidChain {
    let mut c = UuidChain::new().with_checkpoint(checkpoint);
    for id in ids {
        c.push(id);
    }
    c
}

#[test]
fn relations_on_real_sessions() {
    let Some(corpus) = support::corpus_dir() else {
        return;
    };
    let mut checked = 0;
    for file in support::jsonl_files(&corpus) {
        let all = uuids(&file);
        if all.len() < 4 {
            continue;
        }
        checked += 1;
        let half = &all[..all.len() / 2];
        let remote_half = chain(half, 0);
        let (rc, rh) = (remote_half.count(), remote_half.sha256_hex());

        // Pushed at half-way, continued locally: local ahead, decided from the summary alone.
        let local = chain(&all, rc);
        assert_eq!(
            relation_from_summary(&local, rc, &rh),
            Some(Relation::LocalAhead),
            "{}",
            file.display()
        );
        assert_eq!(compare_sets(&local, &remote_half), Relation::LocalAhead);

        // The same file on both sides.
        let remote_all = chain(&all, 0);
        let local_all = chain(&all, remote_all.count());
        assert_eq!(
            relation_from_summary(&local_all, remote_all.count(), &remote_all.sha256_hex()),
            Some(Relation::Equal)
        );
        assert_eq!(compare_sets(&local_all, &remote_all), Relation::Equal);

        // Continued in CI while the laptop stayed at half-way: remote ahead, only the exact
        // comparison can tell.
        let local_half = chain(half, remote_all.count());
        assert_eq!(
            relation_from_summary(&local_half, remote_all.count(), &remote_all.sha256_hex()),
            None
        );
        assert_eq!(
            compare_sets(&local_half, &remote_all),
            Relation::RemoteAhead
        );

        // Both continued from half-way with different records.
        let mut ci: Vec<String> = half.to_vec();
        ci.push("00000000-0000-4000-8000-00000000c1c1".into());
        let remote_ci = chain(&ci, 0);
        let local_more = chain(&all, remote_ci.count());
        assert_eq!(
            relation_from_summary(&local_more, remote_ci.count(), &remote_ci.sha256_hex()),
            None
        );
        assert_eq!(compare_sets(&local_more, &remote_ci), Relation::Diverged);
    }
    assert!(checked >= 10, "only {checked} corpus files had uuids");
}

//! How a local and a remote copy of one session relate (DESIGN.md, "Conflicts"): compared by
//! record uuids, not clocks.
//!
//! Claude Code only appends to a session file, so a copy that continued another holds all of its
//! uuids and more. The exact answer compares the two sets of uuids ([`compare_sets`]). The
//! metadata of a pushed session carries the count and the sha256 of its ordered uuid list, which
//! decides the common cases without downloading the remote copy ([`relation_from_summary`]): the
//! same list, or a local list that starts with the remote one.

use std::collections::{BTreeSet, HashSet};

use sha2::{Digest, Sha256};

/// The record uuids of one session, fed in file order.
#[derive(Clone, Default)]
pub struct UuidChain {
    hasher: Sha256,
    count: u64,
    /// Prefix lengths whose hash to keep, and the hashes once reached.
    wanted: BTreeSet<u64>,
    prefixes: Vec<(u64, String)>,
    ids: HashSet<Id>,
}

/// A uuid as a number where it parses (16 bytes instead of a 36-byte string), else as text.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Id {
    Uuid(u128),
    Other(Box<str>),
}

impl Id {
    fn of(text: &str) -> Id {
        match uuid::Uuid::try_parse(text) {
            // Only the canonical spelling maps to a number, so two spellings of one value stay apart
            // exactly as they do in the chain hash.
            Ok(u) if u.hyphenated().to_string() == text => Id::Uuid(u.as_u128()),
            _ => Id::Other(text.into()),
        }
    }
}

/// How the local copy stands against the remote one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The same records.
    Equal,
    /// Local holds every remote record and more.
    LocalAhead,
    /// Remote holds every local record and more.
    RemoteAhead,
    /// Each has records the other lacks.
    Diverged,
}

/// How a relation reads in output (`absent` when there is no other copy).
pub fn relation_label(relation: Option<Relation>) -> &'static str {
    match relation {
        None => "absent",
        Some(Relation::Equal) => "equal",
        Some(Relation::LocalAhead) => "local-ahead",
        Some(Relation::RemoteAhead) => "remote-ahead",
        Some(Relation::Diverged) => "diverged",
    }
}

impl std::fmt::Debug for UuidChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UuidChain")
            .field("count", &self.count)
            .field("distinct", &self.ids.len())
            .finish()
    }
}

impl UuidChain {
    pub fn new() -> Self {
        Self::default()
    }

    /// Also remember the hash of the first `n` uuids (for [`UuidChain::prefix_sha256`]); call
    /// before feeding.
    pub fn with_checkpoint(mut self, n: u64) -> Self {
        if n <= self.count {
            debug_assert!(
                n == self.count || self.prefixes.iter().any(|(k, _)| *k == n),
                "checkpoint set after feeding"
            );
        } else {
            self.wanted.insert(n);
        }
        self
    }

    /// Feeds the next record uuid in file order.
    pub fn push(&mut self, uuid: &str) {
        self.hasher.update(uuid.as_bytes());
        self.hasher.update(b"\n");
        self.count += 1;
        if self.wanted.remove(&self.count) {
            self.prefixes
                .push((self.count, hex::encode(self.hasher.clone().finalize())));
        }
        self.ids.insert(Id::of(uuid));
    }

    /// How many uuids were fed.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// sha256 (hex) of all uuids fed, each followed by `\n`.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// sha256 of the first `n` uuids: known for 0, for the current count, and for checkpoints.
    pub fn prefix_sha256(&self, n: u64) -> Option<String> {
        if n == self.count {
            return Some(self.sha256_hex());
        }
        if n == 0 {
            return Some(hex::encode(Sha256::new().finalize()));
        }
        self.prefixes
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, h)| h.clone())
    }

    /// Whether `uuid` was fed.
    pub fn contains(&self, uuid: &str) -> bool {
        self.ids.contains(&Id::of(uuid))
    }

    /// Distinct uuids fed.
    pub fn distinct(&self) -> usize {
        self.ids.len()
    }
}

/// The exact relation, by the sets of uuids.
pub fn compare_sets(local: &UuidChain, remote: &UuidChain) -> Relation {
    let local_has_all = remote.ids.iter().all(|id| local.ids.contains(id));
    let remote_has_all = local.ids.iter().all(|id| remote.ids.contains(id));
    match (local_has_all, remote_has_all) {
        (true, true) => Relation::Equal,
        (true, false) => Relation::LocalAhead,
        (false, true) => Relation::RemoteAhead,
        (false, false) => Relation::Diverged,
    }
}

/// The relation from the remote metadata alone, when it is certain: the same ordered list, or a
/// local list that starts with the remote one. `None`: download the remote copy and use
/// [`compare_sets`]. Build `local` with `with_checkpoint(remote_count)` for the second case.
pub fn relation_from_summary(
    local: &UuidChain,
    remote_count: u64,
    remote_sha256: &str,
) -> Option<Relation> {
    let same = |hash: Option<String>| hash.is_some_and(|h| h.eq_ignore_ascii_case(remote_sha256));
    if local.count() == remote_count && same(Some(local.sha256_hex())) {
        return Some(Relation::Equal);
    }
    if local.count() > remote_count && same(local.prefix_sha256(remote_count)) {
        return Some(Relation::LocalAhead);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize, tag: u8) -> Vec<String> {
        (0..n)
            .map(|i| format!("{:08x}-0000-4000-8000-{:012x}", tag, i))
            .collect()
    }

    fn chain(list: &[String], checkpoint: Option<u64>) -> UuidChain {
        let mut c = UuidChain::new();
        if let Some(n) = checkpoint {
            c = c.with_checkpoint(n);
        }
        for id in list {
            c.push(id);
        }
        c
    }

    #[test]
    fn the_four_relations_by_sets() {
        let base = ids(5, 1);
        let more: Vec<String> = base.iter().cloned().chain(ids(2, 2)).collect();
        let other: Vec<String> = base.iter().cloned().chain(ids(1, 3)).collect();
        assert_eq!(
            compare_sets(&chain(&base, None), &chain(&base, None)),
            Relation::Equal
        );
        assert_eq!(
            compare_sets(&chain(&more, None), &chain(&base, None)),
            Relation::LocalAhead
        );
        assert_eq!(
            compare_sets(&chain(&base, None), &chain(&more, None)),
            Relation::RemoteAhead
        );
        assert_eq!(
            compare_sets(&chain(&more, None), &chain(&other, None)),
            Relation::Diverged
        );
        assert_eq!(
            compare_sets(&UuidChain::new(), &UuidChain::new()),
            Relation::Equal
        );
        assert_eq!(
            compare_sets(&chain(&base, None), &UuidChain::new()),
            Relation::LocalAhead
        );
    }

    #[test]
    fn hash_is_of_the_ordered_newline_terminated_list() {
        let c = chain(&["a".to_owned(), "b".to_owned()], None);
        assert_eq!(c.sha256_hex(), hex::encode(Sha256::digest(b"a\nb\n")));
        assert_eq!(c.count(), 2);
        assert!(c.contains("a") && !c.contains("c"));
        let reordered = chain(&["b".to_owned(), "a".to_owned()], None);
        assert_ne!(c.sha256_hex(), reordered.sha256_hex());
        assert_eq!(
            compare_sets(&c, &reordered),
            Relation::Equal,
            "sets ignore order"
        );
    }

    #[test]
    fn summary_shortcut() {
        let base = ids(5, 1);
        let more: Vec<String> = base.iter().cloned().chain(ids(3, 2)).collect();
        let remote = chain(&base, None);
        let (rc, rh) = (remote.count(), remote.sha256_hex());

        assert_eq!(
            relation_from_summary(&chain(&base, Some(rc)), rc, &rh),
            Some(Relation::Equal)
        );
        assert_eq!(
            relation_from_summary(&chain(&more, Some(rc)), rc, &rh),
            Some(Relation::LocalAhead)
        );
        assert_eq!(
            relation_from_summary(&chain(&more, Some(rc)), rc, &rh.to_uppercase()),
            Some(Relation::LocalAhead)
        );
        // Without the checkpoint the prefix is unknown: undecided, never wrong.
        assert_eq!(relation_from_summary(&chain(&more, None), rc, &rh), None);
        // Remote ahead and diverged are never decided from the summary.
        assert_eq!(
            relation_from_summary(&chain(&base[..3], Some(rc)), rc, &rh),
            None
        );
        let mut diverged = base.clone();
        diverged[4] = ids(1, 9)[0].clone();
        diverged.extend(ids(2, 2));
        assert_eq!(
            relation_from_summary(&chain(&diverged, Some(rc)), rc, &rh),
            None
        );
        // An empty remote: anything local is ahead.
        assert_eq!(
            relation_from_summary(&chain(&base, None), 0, &UuidChain::new().sha256_hex()),
            Some(Relation::LocalAhead)
        );
    }

    #[test]
    fn non_uuid_ids_still_count() {
        let c = chain(
            &[
                "msg_01".to_owned(),
                "4D5611E5-241A-462A-8D15-5122611A9569".to_owned(),
            ],
            None,
        );
        assert!(c.contains("msg_01"));
        assert!(c.contains("4D5611E5-241A-462A-8D15-5122611A9569"));
        assert!(!c.contains("4d5611e5-241a-462a-8d15-5122611a9569"));
        assert_eq!(c.distinct(), 2);
    }
}

//! The one keyword pass over a line that decides what runs on it, for both tiers of rules.
//!
//! The line is lower-cased once; SIMD searches (Teddy, from `aho-corasick`) look in that copy for
//! the built-in rules' triggers, each mapped to the rules it makes candidates, and one automaton
//! for the gitleaks tier's keywords; what must keep its case (the token ccsync holds, Azure's
//! `Q~`, ...) is found in the raw line. A line without any hit costs nothing more. The scan then
//! decodes only the strings hits fall in, once for both tiers, and runs each rule only in
//! windows around its own keywords. Where the CPU lacks the SIMD, automata do the same, slower.

use aho_corasick::packed::{self, Searcher};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use memchr::memmem::Finder;

use super::gitleaks::{KeywordHit, Tier};

/// A set of built-in rules, one bit each.
pub type Mask = u128;

/// The built-in rules' keywords (lower case), each with the rules it makes candidates.
#[derive(Default)]
pub struct KeywordTable {
    words: Vec<Vec<u8>>,
    rules: Vec<Mask>,
}

impl KeywordTable {
    /// Makes `word` a keyword of rule `index`.
    pub fn add(&mut self, word: &[u8], index: usize) {
        let word = word.to_ascii_lowercase();
        match self.words.iter().position(|k| *k == word) {
            Some(at) => self.rules[at] |= 1 << index,
            None => {
                self.words.push(word);
                self.rules.push(1 << index);
            }
        }
    }

    /// Searches report keywords without overlaps (a DFA, several times faster than an
    /// overlapping search): a keyword hidden inside or across a reported one makes its rules
    /// candidates through the reported one.
    fn close_over_overlaps(&mut self) {
        let direct = self.rules.clone();
        for (i, a) in self.words.iter().enumerate() {
            for (j, b) in self.words.iter().enumerate() {
                if i != j && overlap(a, b) {
                    self.rules[i] |= direct[j];
                }
            }
        }
    }

    /// The rules of every keyword that can overlap `text` where it is found.
    fn rules_overlapping(&self, text: &[u8]) -> Mask {
        self.words
            .iter()
            .zip(&self.rules)
            .filter(|(k, _)| overlap(k, text))
            .fold(0, |all, (_, m)| all | m)
    }
}

/// What the pass found in a line.
#[derive(Debug, Default)]
pub struct Hits {
    /// Where a trigger starts and the built-in rules it makes candidates, in order.
    pub triggers: Vec<(usize, Mask)>,
    /// The gitleaks tier's keywords, in order of their start.
    pub tier: Vec<KeywordHit>,
}

impl Hits {
    pub fn is_empty(&self) -> bool {
        self.triggers.is_empty() && self.tier.is_empty()
    }
}

pub struct FirstPass {
    /// Over the lower-case line, for the built-in rules' triggers: one search for those of 4
    /// bytes or more (Teddy fingerprints as many leading bytes as the shortest pattern has, at
    /// most 4, and longer fingerprints leave far fewer false candidates) and one for the shorter
    /// ones, with the rules each trigger makes candidates. `None`: no SIMD here.
    simd: Option<Vec<(Searcher, Vec<Mask>)>>,
    /// Found in the raw line by `memmem`: raw finds shorter than 4 bytes (or all of them where
    /// `raw_searcher` is `None`).
    literals: Vec<(Finder<'static>, Mask)>,
    /// The raw finds of 4 bytes or more, in one SIMD search.
    raw_searcher: Option<(Searcher, Vec<Mask>)>,
    /// The built-in keywords: the fallback first pass, and the search in normalised text.
    keywords: AhoCorasick,
    keyword_rules: Vec<Mask>,
    /// The tier's keywords (lower case), over the same lower-case copy of the line: some 240
    /// keywords are too many for Teddy's 16 buckets (measured: most positions of ordinary text
    /// became candidates), so they have their own automaton; what the pass saves is the second
    /// decoding and keyword search of every string the tier used to do on its own.
    tier_keywords: AhoCorasick,
    /// The longest keyword or trigger: how far a keyword reaches around a trigger it overlaps.
    pub reach: usize,
}

/// The most patterns one packed searcher takes well (Teddy's heuristic limit).
const PACKED_LIMIT: usize = 64;

fn simd_searcher<P: AsRef<[u8]>>(patterns: &[P]) -> Option<Searcher> {
    packed::Config::new()
        .match_kind(packed::MatchKind::LeftmostFirst)
        .builder()
        .extend(patterns)
        .build()
}

impl FirstPass {
    /// `triggers` (lower case): what every built-in keyword holds one of; `raw`: byte strings to
    /// find in the raw line with their rules; `tier`: the gitleaks tier's keywords (lower case,
    /// in the order [`Tier::keywords`] gives them).
    pub fn new(
        mut table: KeywordTable,
        triggers: &[&str],
        raw: Vec<(Vec<u8>, Mask)>,
        tier: &[String],
    ) -> FirstPass {
        assert!(
            triggers.len() <= PACKED_LIMIT,
            "{} triggers",
            triggers.len()
        );
        table.close_over_overlaps();
        let (long, short): (Vec<&str>, Vec<&str>) = triggers.iter().partition(|t| t.len() >= 4);
        let simd = [long, short]
            .into_iter()
            .map(|group| {
                let masks = group
                    .iter()
                    .map(|t| table.rules_overlapping(t.as_bytes()))
                    .collect();
                simd_searcher(&group).map(|s| (s, masks))
            })
            .collect::<Option<Vec<_>>>();
        let (long_raw, short_raw): (Vec<_>, Vec<_>) =
            raw.into_iter().partition(|(r, _)| r.len() >= 4);
        let raw_searcher = simd_searcher(&long_raw.iter().map(|(r, _)| r).collect::<Vec<_>>())
            .map(|s| (s, long_raw.iter().map(|(_, m)| *m).collect()));
        let finder = |(r, m): (Vec<u8>, Mask)| (Finder::new(&r).into_owned(), m);
        let literals = match raw_searcher {
            Some(_) => short_raw.into_iter().map(finder).collect(),
            None => short_raw.into_iter().chain(long_raw).map(finder).collect(),
        };
        let reach = table
            .words
            .iter()
            .map(Vec::len)
            .chain(triggers.iter().map(|t| t.len()))
            .max()
            .unwrap_or(0);
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::LeftmostLongest)
            .build(&table.words)
            .expect("keywords compile");
        let tier_keywords = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::Standard)
            .build(tier)
            .expect("keywords compile");
        FirstPass {
            simd,
            literals,
            raw_searcher,
            keywords,
            keyword_rules: table.rules,
            tier_keywords,
            reach,
        }
    }

    /// Whether the pass is the SIMD search (else the automata).
    pub fn fast(&self) -> bool {
        self.simd.is_some()
    }

    /// The rules of the built-in keywords that can overlap `text` (for the raw finds).
    pub fn table_rules(table: &KeywordTable, text: &[u8]) -> Mask {
        table.rules_overlapping(&text.to_ascii_lowercase())
    }

    /// The one pass over `line`.
    pub fn run(&self, line: &[u8], tier: &Tier) -> Hits {
        let mut hits = Hits::default();
        match &self.simd {
            Some(searchers) => {
                let lower = line.to_ascii_lowercase();
                for (searcher, masks) in searchers {
                    for m in searcher.find_iter(&lower) {
                        if never_a_secret(&lower, m.start(), m.end()) {
                            continue;
                        }
                        hits.triggers
                            .push((m.start(), masks[m.pattern().as_usize()]));
                    }
                }
                hits.tier = self
                    .tier_keywords
                    .find_overlapping_iter(&lower)
                    .map(|m| KeywordHit {
                        start: m.start(),
                        end: m.end(),
                        keyword: u16::try_from(m.pattern().as_usize()).expect("few keywords"),
                    })
                    .collect();
            }
            None => {
                hits.triggers = self
                    .builtin_keywords(line)
                    .map(|(s, _, m)| (s, m))
                    .collect();
                hits.tier = tier.keyword_hits(line);
            }
        }
        for (finder, mask) in &self.literals {
            hits.triggers
                .extend(finder.find_iter(line).map(|at| (at, *mask)));
        }
        if let Some((searcher, masks)) = &self.raw_searcher {
            for m in searcher.find_iter(line) {
                hits.triggers
                    .push((m.start(), masks[m.pattern().as_usize()]));
            }
        }
        hits.triggers.sort_unstable_by_key(|h| h.0);
        hits
    }

    /// The built-in keywords in `text` (ASCII case ignored, without overlaps): start, end and
    /// the rules each makes candidates.
    pub fn builtin_keywords<'a>(
        &'a self,
        text: &'a [u8],
    ) -> impl Iterator<Item = (usize, usize, Mask)> + 'a {
        self.keywords.find_iter(text).map(|m| {
            (
                m.start(),
                m.end(),
                self.keyword_rules[m.pattern().as_usize()],
            )
        })
    }
}

/// Whether the trigger at `start..end` of `lower` stands in a word that names no secret and that
/// holds no keyword of any rule, so its windows need not be read: `token` in a name ending in
/// `tokens` (`"input_tokens":` in every answer's usage, `max_tokens=`; `rules::secret_name`
/// rejects them) and `auth` in `author`, `authored` (git log, `Co-Authored-By:`), not in
/// `authorization`. The usage counts alone cost a fifth of the scan of a real transcript.
fn never_a_secret(lower: &[u8], start: usize, end: usize) -> bool {
    let word = |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_');
    match &lower[start..end] {
        b"token" => lower.get(end) == Some(&b's') && !word(lower.get(end + 1)),
        b"auth" => lower.get(end..end + 2) == Some(&b"or"[..]) && lower.get(end + 2) != Some(&b'i'),
        _ => false,
    }
}

/// Whether two keywords can overlap in a text: one holds the other, or an end of one (two
/// characters or more) is a start of the other.
pub fn overlap(a: &[u8], b: &[u8]) -> bool {
    let holds = |x: &[u8], y: &[u8]| memchr::memmem::find(x, y).is_some();
    // (Overlaps of one character are left out: they would make nearly every keyword a
    // candidate for every rule.)
    let joins = |x: &[u8], y: &[u8]| (2..x.len().min(y.len())).any(|k| x[x.len() - k..] == y[..k]);
    holds(a, b) || holds(b, a) || joins(a, b) || joins(b, a)
}

#[cfg(test)]
mod tests {
    use crate::bundle::secrets::gitleaks::TIER;

    /// Usage counts and authors raise no trigger; a secret's name beside them, and
    /// `Authorization`, still do (and are redacted).
    #[test]
    fn counts_and_authors_are_skipped_and_secrets_beside_them_are_not() {
        let scanner = crate::bundle::secrets::Scanner::new(vec![]);
        let first = scanner.first_pass();
        for quiet in [
            r#"{"usage":{"input_tokens":3,"cache_read_input_tokens":1200,"output_tokens":9}}"#,
            "Author: A <a@b.c>\nCo-Authored-By: Claude",
        ] {
            assert!(
                first.run(quiet.as_bytes(), &TIER).triggers.is_empty(),
                "{quiet}"
            );
        }
        for line in [
            r#"{"input_tokens":3,"GITHUB_TOKEN":"Qm7ZkW2pLx9RtV4nHs8JcY3dTb6"}"#,
            r#"{"author":"a","Authorization":"Bearer Qm7ZkW2pLx9RtV4nHs8JcY3dTb6"}"#,
            "max_tokens=5 api_tokens_secret=Qm7ZkW2pLx9RtV4nHs8JcY3dTb6",
        ] {
            let (out, rules) = scanner.redact_line(line);
            assert!(
                !rules.is_empty() && !out.contains("Qm7ZkW2pLx9R"),
                "{line}: {out}"
            );
        }
    }

    /// The pass finds every tier keyword the tier's own automaton finds, hidden inside or
    /// across a built-in trigger or not.
    #[test]
    fn the_pass_finds_the_tiers_keywords_as_its_own_search_does() {
        let scanner = crate::bundle::secrets::Scanner::new(vec![]);
        let first = scanner.first_pass();
        assert!(first.fast());
        let keywords = TIER.keywords();
        let mut line = String::new();
        for (i, k) in keywords.iter().enumerate() {
            // Glued to built-in triggers on both sides and in mixed case.
            let k = if i % 2 == 0 {
                k.to_ascii_uppercase()
            } else {
                k.clone()
            };
            line.push_str(&format!("token{k}key sk-{k}_key "));
        }
        let found = first.run(line.as_bytes(), &TIER);
        let own: std::collections::BTreeSet<_> = TIER
            .keyword_hits(line.as_bytes())
            .into_iter()
            .map(|h| (h.start, h.keyword))
            .collect();
        let ours: std::collections::BTreeSet<_> =
            found.tier.iter().map(|h| (h.start, h.keyword)).collect();
        let missing: Vec<_> = own.difference(&ours).collect();
        assert!(missing.is_empty(), "{missing:?}");
    }
}

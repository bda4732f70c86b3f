//! The one keyword pass over a line that decides what runs on it, for both tiers of rules.
//!
//! One Aho-Corasick DFA (from `aho-corasick`, ASCII case ignored) holds the built-in rules'
//! triggers, each mapped to the rules it makes candidates, the strings that must keep their case
//! (the token ccsync holds, Azure's `Q~`, ...: checked against the raw bytes where found) and
//! the provider tier's keywords; one walk over the raw line ([`Walk`]) finds them all. A line
//! without any hit costs nothing more. The scan then decodes only the strings hits fall in, once
//! for both tiers, and runs each rule only in windows around its own keywords.

use aho_corasick::automaton::{Automaton as _, StateID};
use aho_corasick::{dfa, AhoCorasick, AhoCorasickKind, Anchored, MatchKind, StartKind};

use super::provider_rules::KeywordHit;

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

    /// The pass finds triggers, not keywords, and a search in a view reports keywords without
    /// overlaps: a keyword hidden inside or across a reported one makes its rules candidates
    /// through the reported one.
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
    /// The provider tier's keywords, in order of their start.
    pub tier: Vec<KeywordHit>,
}

impl Hits {
    pub fn is_empty(&self) -> bool {
        self.triggers.is_empty() && self.tier.is_empty()
    }
}

/// What one of the walk's patterns stands for (several things may share a pattern).
#[derive(Debug, Clone)]
enum Found {
    /// A built-in trigger, with the rules it makes candidates.
    Trigger(Mask),
    /// A string to find in this case only, with its rules.
    Cased(Vec<u8>, Mask),
    /// A form of the tier's keyword of this index.
    Tier(u16),
}

pub struct FirstPass {
    /// Every trigger, cased string and tier keyword, in one DFA. (It replaced three SIMD
    /// searches (Teddy) over a lower-cased copy of the line beside the tier's own automaton:
    /// a DFA walk costs the same whatever it holds, and the frequent triggers (`key`, `token`)
    /// had made Teddy verify candidates at every few bytes.)
    walk: Walk,
    /// What each of the walk's patterns stands for.
    found: Vec<Vec<Found>>,
    /// The built-in keywords, for [`FirstPass::builtin_keywords`].
    keywords: AhoCorasick,
    keyword_rules: Vec<Mask>,
    /// The longest keyword or trigger: how far a keyword reaches around a trigger it overlaps.
    pub reach: usize,
}

impl FirstPass {
    /// `triggers` (lower case): what every built-in keyword holds one of; `raw`: byte strings to
    /// find in the raw line in their case, with their rules; `tier`: the provider tier's
    /// keywords (lower case, in the order [`Tier::keywords`] gives them).
    ///
    /// [`Tier::keywords`]: super::provider_rules::Tier::keywords
    pub fn new(
        mut table: KeywordTable,
        triggers: &[&str],
        raw: Vec<(Vec<u8>, Mask)>,
        tier: &[String],
    ) -> FirstPass {
        table.close_over_overlaps();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut found: Vec<Vec<Found>> = Vec::new();
        let mut add = |pattern: &[u8], what: Found| {
            let pattern = pattern.to_ascii_lowercase();
            match patterns.iter().position(|p| *p == pattern) {
                Some(at) => found[at].push(what),
                None => {
                    patterns.push(pattern);
                    found.push(vec![what]);
                }
            }
        };
        for trigger in triggers {
            let rules = table.rules_overlapping(trigger.as_bytes());
            add(trigger.as_bytes(), Found::Trigger(rules));
        }
        for (bytes, rules) in raw {
            add(&bytes, Found::Cased(bytes.clone(), rules));
        }
        for (index, keyword) in tier.iter().enumerate() {
            let index = u16::try_from(index).expect("fewer than 65536 keywords");
            for form in escaped_forms(keyword.as_bytes()) {
                add(&form, Found::Tier(index));
            }
        }
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
        FirstPass {
            walk: Walk::new(&patterns),
            found,
            keywords,
            keyword_rules: table.rules,
            reach,
        }
    }

    /// Whether the pass is fast everywhere: it is (it once needed SIMD, and fell back to
    /// automata without it).
    pub fn fast(&self) -> bool {
        true
    }

    /// The rules of the built-in keywords that can overlap `text` (for the raw finds).
    pub fn table_rules(table: &KeywordTable, text: &[u8]) -> Mask {
        table.rules_overlapping(&text.to_ascii_lowercase())
    }

    /// Where the tier's keywords occur in `text` (ASCII case ignored, overlaps included), in
    /// order of their start.
    pub fn tier_hits(&self, text: &[u8]) -> Vec<KeywordHit> {
        self.run(text).tier
    }

    /// The one pass over `text`: a raw line, or a normalised text (which may reveal keywords
    /// its raw text hides).
    pub fn run(&self, text: &[u8]) -> Hits {
        let mut hits = Hits::default();
        for (start, end, pattern) in self.walk.find(text) {
            for what in &self.found[pattern] {
                match what {
                    Found::Trigger(rules) if !never_a_secret(text, start, end) => {
                        hits.triggers.push((start, *rules));
                    }
                    Found::Cased(bytes, rules) if text[start..end] == bytes[..] => {
                        hits.triggers.push((start, *rules));
                    }
                    Found::Tier(keyword) => hits.tier.push(KeywordHit {
                        start,
                        end,
                        keyword: *keyword,
                    }),
                    _ => {}
                }
            }
        }
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

/// The walk of one Aho-Corasick DFA (from `aho-corasick`, ASCII case ignored, driven here) over
/// a text: over a long text, [`STREAMS`] parts of it at once, in lockstep. One walk through a DFA
/// waits on each byte's table lookup before the next (measured: about 450 MB/s); independent
/// walks overlap those waits, and the CPU runs four in the time of about one and a half. A DFA
/// walk costs the same whatever its patterns (measured the same at 227 and at 550 keywords).
struct Walk {
    dfa: dfa::DFA,
    /// How far before its part a walk starts: a pattern that ends in the part starts there.
    back: usize,
}

/// `keyword` as it is and as it is written in a JSON string, and in JSON inside one (`https://`
/// as `https:\/\/`, `https:\\\/\\\/`): the pass reads the raw line, where a keyword holding
/// `/`, `"` or `\` may stand escaped.
fn escaped_forms(keyword: &[u8]) -> Vec<Vec<u8>> {
    let escape = |text: &[u8]| -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() + 4);
        for &b in text {
            if matches!(b, b'/' | b'"' | b'\\') {
                out.push(b'\\');
            }
            out.push(b);
        }
        out
    };
    let once = escape(keyword);
    let twice = escape(&once);
    let mut forms = vec![keyword.to_vec()];
    if once != keyword {
        forms.extend([once, twice]);
    }
    forms
}

/// How many parts of a text the walk reads at once ([`Walk::walk_parts`] names four lanes).
const STREAMS: usize = 4;

/// Texts shorter than this are walked in one part (the parts' lookback would cost more than
/// it saves).
const SHORT_TEXT: usize = 512;

impl Walk {
    fn new(patterns: &[Vec<u8>]) -> Walk {
        let dfa = dfa::DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            // Without a prefilter, only match states (and the dead one, never reached by an
            // unanchored search) are special: one comparison per byte tells whether to look.
            .prefilter(false)
            .build(patterns)
            .expect("patterns compile");
        let back = dfa.max_pattern_len().saturating_sub(1);
        Walk { dfa, back }
    }

    /// Every occurrence of a pattern in `text`, overlaps included, in order of start:
    /// `(start, end, pattern)`.
    fn find(&self, text: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut hits = Vec::new();
        if self.dfa.patterns_len() == 0 {
            return hits;
        }
        if text.len() < SHORT_TEXT {
            self.walk(text, 0, 0, text.len(), &mut hits);
        } else {
            self.walk_parts(text, &mut hits);
        }
        hits.sort_unstable();
        hits
    }

    fn start(&self) -> StateID {
        self.dfa
            .start_state(Anchored::No)
            .expect("built for unanchored searches")
    }

    /// The matches that end at `text[at]` in state `sid`.
    fn report(&self, sid: StateID, at: usize, hits: &mut Vec<(usize, usize, usize)>) {
        for i in 0..self.dfa.match_len(sid) {
            let pattern = self.dfa.match_pattern(sid, i);
            let start = at + 1 - self.dfa.pattern_len(pattern);
            hits.push((start, at + 1, pattern.as_usize()));
        }
    }

    /// The matches of the lanes in states `sid` at `at` that end in their own parts.
    #[cold]
    #[inline(never)]
    fn report_lanes(
        &self,
        sid: [StateID; STREAMS],
        at: [usize; STREAMS],
        own: [usize; STREAMS],
        hits: &mut Vec<(usize, usize, usize)>,
    ) {
        for i in 0..STREAMS {
            if self.dfa.is_special(sid[i]) && at[i] >= own[i] {
                self.report(sid[i], at[i], hits);
            }
        }
    }

    /// One walk over `text[from..to]` that reports the keywords ending at `own` or after.
    fn walk(
        &self,
        text: &[u8],
        from: usize,
        own: usize,
        to: usize,
        hits: &mut Vec<(usize, usize, usize)>,
    ) {
        let mut sid = self.start();
        for (at, &byte) in text.iter().enumerate().take(to).skip(from) {
            sid = self.dfa.next_state(Anchored::No, sid, byte);
            if self.dfa.is_special(sid) && at >= own {
                self.report(sid, at, hits);
            }
        }
    }

    /// [`STREAMS`] walks, each over its own part of `text` (started [`Walk::back`]
    /// bytes earlier, so that a keyword across where parts meet is found whole by the walk of
    /// the part it ends in), in lockstep while all have bytes left, then each to its end.
    fn walk_parts(&self, text: &[u8], hits: &mut Vec<(usize, usize, usize)>) {
        let part = text.len().div_ceil(STREAMS);
        let own: [usize; STREAMS] = std::array::from_fn(|i| i * part);
        let end: [usize; STREAMS] = std::array::from_fn(|i| ((i + 1) * part).min(text.len()));
        let from: [usize; STREAMS] = std::array::from_fn(|i| own[i].saturating_sub(self.back));
        let steps = (0..STREAMS).map(|i| end[i] - from[i]).min().unwrap_or(0);
        let lane = |i: usize| &text[from[i]..from[i] + steps];
        let start = self.start();
        let (mut s0, mut s1, mut s2, mut s3) = (start, start, start, start);
        // Four explicit lanes and states keep the states in registers (an indexed array of
        // them was spilled to the stack on every byte); matches are rare and handled apart.
        let lanes = lane(0).iter().zip(lane(1)).zip(lane(2)).zip(lane(3));
        for (j, (((&b0, &b1), &b2), &b3)) in lanes.enumerate() {
            s0 = self.dfa.next_state(Anchored::No, s0, b0);
            s1 = self.dfa.next_state(Anchored::No, s1, b1);
            s2 = self.dfa.next_state(Anchored::No, s2, b2);
            s3 = self.dfa.next_state(Anchored::No, s3, b3);
            let special = |s| self.dfa.is_special(s);
            if special(s0) | special(s1) | special(s2) | special(s3) {
                let at = from.map(|f| f + j);
                self.report_lanes([s0, s1, s2, s3], at, own, hits);
            }
        }
        let sid = [s0, s1, s2, s3];
        for i in 0..STREAMS {
            // The rest of part `i`, from the state its walk is in.
            let mut s = sid[i];
            for (at, &byte) in text.iter().enumerate().take(end[i]).skip(from[i] + steps) {
                s = self.dfa.next_state(Anchored::No, s, byte);
                if self.dfa.is_special(s) && at >= own[i] {
                    self.report(s, at, hits);
                }
            }
        }
    }
}

/// Whether the trigger at `start..end` of `text` stands in a word that names no secret and that
/// holds no keyword of any rule, so its windows need not be read: `token` in a name ending in
/// `tokens` (`"input_tokens":` in every answer's usage, `max_tokens=`; `rules::secret_name`
/// rejects them) and `auth` in `author`, `authored` (git log, `Co-Authored-By:`), not in
/// `authorization`. The usage counts alone cost a fifth of the scan of a real transcript.
fn never_a_secret(text: &[u8], start: usize, end: usize) -> bool {
    let at = |i: usize| text.get(i).map(u8::to_ascii_lowercase);
    let word = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    let trigger = &text[start..end];
    if trigger.eq_ignore_ascii_case(b"token") {
        at(end) == Some(b's') && !word(at(end + 1))
    } else if trigger.eq_ignore_ascii_case(b"auth") {
        at(end) == Some(b'o') && at(end + 1) == Some(b'r') && at(end + 2) != Some(b'i')
    } else {
        false
    }
}

/// Whether two keywords can overlap in a text: one holds the other, or an end of one (two
/// characters or more) is a start of the other.
pub fn overlap(a: &[u8], b: &[u8]) -> bool {
    // (Keywords are short: a window compare costs less than building a searcher, and the
    // table asks this of every pair of its hundreds of keywords.)
    let holds = |x: &[u8], y: &[u8]| y.is_empty() || x.windows(y.len()).any(|w| w == y);
    // (Overlaps of one character are left out: they would make nearly every keyword a
    // candidate for every rule.)
    let joins = |x: &[u8], y: &[u8]| (2..x.len().min(y.len())).any(|k| x[x.len() - k..] == y[..k]);
    holds(a, b) || holds(b, a) || joins(a, b) || joins(b, a)
}

#[cfg(test)]
mod tests {
    use super::{escaped_forms, Walk, SHORT_TEXT, STREAMS};
    use crate::bundle::secrets::provider_rules::TIER;

    /// Every occurrence of every pattern, found at every position.
    fn naive(patterns: &[Vec<u8>], text: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut hits = Vec::new();
        for at in 0..text.len() {
            for (k, pattern) in patterns.iter().enumerate() {
                let end = at + pattern.len();
                if end <= text.len() && text[at..end].eq_ignore_ascii_case(pattern) {
                    hits.push((at, end, k));
                }
            }
        }
        hits.sort_unstable();
        hits
    }

    /// The walk over a text's parts finds what a naive search finds: keywords in upper and
    /// mixed case, overlapping ones, one at the text's end, across where the parts meet, and
    /// written with JSON escapes.
    #[test]
    fn the_keyword_walk_finds_every_occurrence() {
        let keywords = ["dp.pt.", "cloudflare", "flare", "pt.x", "abc", "https://"];
        let mut patterns: Vec<Vec<u8>> = keywords
            .iter()
            .flat_map(|k| escaped_forms(k.as_bytes()))
            .collect();
        patterns.dedup();
        let search = Walk::new(&patterns);
        for len in [0, 5, SHORT_TEXT - 1, SHORT_TEXT, 1000, 4097] {
            let part = len.div_ceil(STREAMS);
            // One keyword at a time, at and around every place two parts meet, and at the end.
            let mut places: Vec<usize> = (0..=STREAMS)
                .flat_map(|i| (i * part).saturating_sub(12)..i * part + 3)
                .collect();
            places.extend([0, len.saturating_sub(10)]);
            for (k, keyword) in ["CloudFlare", "DP.PT.", "https:\\/\\/", "abc"]
                .iter()
                .enumerate()
            {
                for &at in places.iter().filter(|&&at| at + keyword.len() <= len) {
                    let mut text = vec![b'-'; len];
                    text[at..at + keyword.len()].copy_from_slice(keyword.as_bytes());
                    let text = &text[..];
                    assert_eq!(
                        search.find(text),
                        naive(&patterns, text),
                        "{k} at {at} of {len}"
                    );
                    assert!(!search.find(text).is_empty(), "{keyword} at {at} of {len}");
                }
            }
            // Dense, overlapping hits everywhere.
            let alphabet = b"abcCLOUDflare.dpt.xhtps:/\\";
            let mut seed = 7u32;
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    alphabet[(seed >> 16) as usize % alphabet.len()]
                })
                .collect();
            assert_eq!(search.find(&text), naive(&patterns, &text), "dense, {len}");
        }
    }

    /// A tier rule's secret is found wherever its keyword stands in a long JSON line: in
    /// upper case, after escapes, at the line's end, and in JSON inside a JSON string.
    #[test]
    fn a_tier_secret_is_found_wherever_its_keyword_stands() {
        let scanner = crate::bundle::secrets::Scanner::new(vec![]);
        let secret = "q7wm2zk9lp4xyz0lq8wm3xk7rt2vn9hs";
        let noise = "line \"quoted\"\twith\ttabs\n".repeat(60);
        let record = |text: &str| {
            serde_json::json!({"type": "user", "message": {"content": text}}).to_string()
        };
        for text in [
            format!("{noise}DRONECI: {secret}\n{noise}"),
            format!("{noise}droneci: {secret}"),
            serde_json::json!({"cmd": format!("{noise}DroneCI: {secret}")}).to_string(),
            // Read in the normalised text only (the tab is an escape in the decoded one).
            serde_json::json!({"cmd": format!("{noise}DroneCI:\t{secret}")}).to_string(),
        ] {
            let line = record(&text);
            let (out, rules) = scanner.redact_line(&line);
            assert_eq!(rules, ["droneci-access-token"], "{text}");
            assert!(!out.contains(secret), "{out}");
            serde_json::from_str::<serde_json::Value>(&out).unwrap();
        }
    }

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
            assert!(first.run(quiet.as_bytes()).triggers.is_empty(), "{quiet}");
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
        let found = first.run(line.as_bytes());
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

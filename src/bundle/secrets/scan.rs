//! Finding secrets in one raw line and replacing them.
//!
//! One trigger pass (SIMD, ASCII case ignored) over the raw line picks the rules that can match
//! at all, the segments they can match in and, for rules that read a value's surroundings, the
//! windows they run in; a line without triggers costs nothing more. Each picked segment is read
//! as its decoded text and, when anything hides in it, as its normalised text
//! ([`super::normalise`]); matches from both map back to raw spans, which are merged and replaced
//! by `[REDACTED:<rule>]` (text that needs no JSON escaping).

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use regex::bytes::Regex;

use super::entropy;
use super::forms::literal_forms;
use super::gitleaks;
use super::normalise::{lex_of, segments_as, Lex, LexCursor, View};
use super::rules::{
    key_material, secret_name, structural, Check, Secret, ENCODED_KEYWORD_PARTS, MAX_VALUE, RULES,
};

/// The rule name of the extra literals (the token ccsync itself holds).
pub const TOKEN_RULE: &str = "ccsync-token";

/// Literals shorter than this are ignored: they would redact ordinary words.
const MIN_LITERAL_LEN: usize = 8;

/// What the first pass over a line looks for (lower case): every keyword of every rule holds one
/// of these (a test checks it), so a line without any holds no secret. At most 64, the limit of
/// the SIMD searcher.
pub const TRIGGERS: &[&str] = &[
    "-----begin",
    "---- begin",
    "private-lines",
    "age-secret-key",
    "age-plugin-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "gldt-",
    "glrt-",
    "glcbt-",
    "glptt-",
    "npm_",
    "pypi-ag",
    "hooks.slack",
    "xox",
    "xapp-",
    "sg.",
    "k_live_",
    "k_test_",
    "whsec_",
    "sk-",
    "hf_",
    "api_org_",
    "_v1_",
    "shp",
    "aiza",
    "gocspx-",
    ":aa",
    "sig=",
    "mailgun",
    "twilio",
    "datadog",
    "dd_",
    "dd-",
    "akia",
    "asia",
    "abia",
    "acca",
    "a3t",
    "fwogzxivyxdz",
    "iqojb3jpz2lu",
    "://",
    r":\/\/",
    "eyj",
    "aws",
    "secret",
    "token",
    "pass",
    "pwd",
    "key",
    "auth",
    "credential",
    "bearer",
    "basic",
    "%5f",
    "%2d",
    "%2e",
    "%3a",
];

/// Triggers looked for in the raw line, case kept (by `memmem`): those shorter than three bytes,
/// which would coarsen the SIMD search's fingerprints for every trigger (`8Q~` of an Azure
/// client secret), and those of the long tail, which the SIMD search (at most 64 triggers) has
/// no room for; each is matched by its rules in this case only.
pub const RAW_TRIGGERS: &[&str] = &[
    "Q~",
    "SWMTKN-",
    "SWMKEY-",
    "dckr_pat_",
    "ya29.",
    "glagent-",
    "GR1348941",
    "k_prod_",
    "LS0tLS1CRUdJTi",
    "Client(",
    "curl",
    "login",
    "mysql",
    "mariadb",
];

/// How far before and after a keyword the rules that read surroundings look.
const WINDOW_BEFORE: usize = 256;
const WINDOW_AFTER: usize = 768;

/// A set of rules, one bit each.
type Mask = u128;

/// A part of a text (`start..end`) and the rules to run in it.
type Window = (usize, usize, Mask);

/// Adds a window after the last one (windows come in order of their start), merged with it when
/// they overlap.
fn push_window(windows: &mut Vec<Window>, (start, end, rules): Window) {
    match windows.last_mut() {
        Some(last) if start <= last.1 => {
            last.1 = last.1.max(end);
            last.2 |= rules;
        }
        _ => windows.push((start, end, rules)),
    }
}

struct Compiled {
    name: &'static str,
    regex: Regex,
    secret: Secret,
    check: Check,
}

/// The compiled rules plus the literals to redact.
pub struct Scanner {
    rules: Vec<Compiled>,
    keywords: AhoCorasick,
    /// For each keyword, the rules it makes candidates.
    keyword_rules: Vec<Mask>,
    /// The first pass over a whole line: SIMD searches (Teddy) for [`TRIGGERS`] in the line's
    /// lower-case copy, one for the triggers of 4 bytes or more and one for the shorter ones, with
    /// the rules each trigger makes candidates; `None` where the CPU has no SIMD for them (then
    /// `keywords` does the first pass).
    triggers: Option<Vec<(aho_corasick::packed::Searcher, Vec<Mask>)>>,
    /// Byte strings found by `memmem` in the raw line, with the rules each makes candidates: the
    /// extra literals (the ccsync token) and [`RAW_TRIGGERS`].
    literals: Vec<(memchr::memmem::Finder<'static>, Mask)>,
    /// The same for the raw finds of 4 bytes or more, in one SIMD search (`None`: they are in
    /// `literals`).
    raw_searcher: Option<(aho_corasick::packed::Searcher, Vec<Mask>)>,
    /// The rules that also read a JSON line's raw text (see [`structural`]).
    structural: Mask,
    /// The longest keyword or trigger: how far a keyword reaches around a trigger it overlaps.
    keyword_reach: usize,
    /// When a scan gives up (see [`Scanner::with_time_limit`]).
    deadline: Option<Instant>,
    time_limit: Option<Duration>,
}

/// A secret found in a raw line: its raw byte range and the index of its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    rule: usize,
}

/// What a scan of one line found.
#[derive(Debug, Default)]
pub struct LineScan {
    /// Merged, in order, not overlapping.
    pub hits: Vec<Hit>,
    /// A private key began in this plain-text line and runs past its end.
    pub open_key_block: bool,
    /// The scanner's deadline passed before the whole line was read.
    pub timed_out: bool,
}

/// Lines longer than this are scanned in parts of [`PART`] bytes (each read with
/// [`PART_OVERLAP`] bytes more on both sides), so the texts the scan derives from a line stay
/// bounded.
pub const LONG_LINE: usize = 4 << 20;
const PART: usize = 1 << 20;
/// More than the longest secret (a private key of several KiB, JSON-escaped twice) plus the
/// surroundings a rule reads.
const PART_OVERLAP: usize = 64 << 10;

pub(super) static KEY_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-{4,5} ?END (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)? ?-{4,5}").expect("valid")
});

impl Scanner {
    /// The built-in rules plus `extra_literals` (reported as [`TOKEN_RULE`]).
    pub fn new(extra_literals: Vec<String>) -> Self {
        let mut rules = Vec::new();
        let mut keywords: Vec<Vec<u8>> = Vec::new();
        let mut keyword_rules: Vec<Mask> = Vec::new();
        let mut add_keyword = |word: &[u8], index: usize| {
            let word = word.to_ascii_lowercase();
            match keywords.iter().position(|k| *k == word) {
                Some(at) => keyword_rules[at] |= 1 << index,
                None => {
                    keywords.push(word);
                    keyword_rules.push(1 << index);
                }
            }
        };
        let mut forms: Vec<String> = Vec::new();
        let mut literals = Vec::new();
        for literal in extra_literals.iter().filter(|l| l.len() >= MIN_LITERAL_LEN) {
            // As it is, as written in JSON text and in JSON inside a JSON string (for the rare
            // text that is not decoded, such as a torn line), in base64 and in hex.
            for form in literal_forms(literal) {
                if !forms.contains(&form) {
                    forms.push(form);
                }
            }
        }
        if !forms.is_empty() {
            forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
            let pattern = forms
                .iter()
                .map(|f| regex::escape(f))
                .collect::<Vec<_>>()
                .join("|");
            for form in &forms {
                add_keyword(&form.as_bytes()[..MIN_LITERAL_LEN], rules.len());
                literals.push((
                    memchr::memmem::Finder::new(form.as_bytes()).into_owned(),
                    1 << rules.len(),
                ));
            }
            rules.push(Compiled {
                name: TOKEN_RULE,
                regex: Regex::new(&pattern).expect("escaped literals compile"),
                secret: Secret::Group(0),
                check: Check::Literal,
            });
        }
        let mut structural_rules: Mask = 0;
        for def in RULES {
            for word in def.keywords {
                add_keyword(word.as_bytes(), rules.len());
            }
            if structural(def.check) {
                structural_rules |= 1 << rules.len();
            }
            rules.push(Compiled {
                name: def.name,
                regex: Regex::new(def.pattern).expect("built-in rule compiles"),
                secret: def.secret,
                check: def.check,
            });
        }
        assert!(rules.len() <= Mask::BITS as usize, "too many rules");
        for part in ENCODED_KEYWORD_PARTS {
            for index in 0..rules.len() {
                add_keyword(part.as_bytes(), index);
            }
        }
        // The search reports keywords without overlaps (a DFA, which is several times faster
        // than an overlapping search); a keyword hidden inside or across a reported one makes
        // its rules candidates through the reported one.
        let direct = keyword_rules.clone();
        for (i, a) in keywords.iter().enumerate() {
            for (j, b) in keywords.iter().enumerate() {
                if i != j && overlap(a, b) {
                    keyword_rules[i] |= direct[j];
                }
            }
        }
        // Teddy fingerprints the first min(4, shortest) bytes of its patterns: the short triggers
        // get their own searcher so that the long ones are fingerprinted on 4 bytes, which
        // leaves far fewer false candidates to verify.
        let searcher_of = |group: Vec<&str>| {
            let masks: Vec<Mask> = group
                .iter()
                .map(|t| {
                    keywords
                        .iter()
                        .zip(&keyword_rules)
                        .filter(|(k, _)| overlap(k, t.as_bytes()))
                        .fold(0, |all, (_, m)| all | m)
                })
                .collect();
            aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(&group)
                .build()
                .map(|searcher| (searcher, masks))
        };
        if !forms.is_empty() {
            // A literal written with `\u00XX` escapes (JSON allows any character so) holds none
            // of its forms in the raw line: an escape makes the literal's rule read the decoded
            // string it is in.
            // (The literals' rule is rule 0.)
            literals.push((memchr::memmem::Finder::new(br"\u00").into_owned(), 1));
        }
        for raw in RAW_TRIGGERS {
            let lower = raw.to_ascii_lowercase();
            let mask = keywords
                .iter()
                .zip(&keyword_rules)
                .filter(|(k, _)| overlap(k, lower.as_bytes()))
                .fold(0, |all, (_, m)| all | m);
            literals.push((
                memchr::memmem::Finder::new(raw.as_bytes()).into_owned(),
                mask,
            ));
        }
        // The raw finds of 4 bytes or more share one SIMD search (one pass over the line rather
        // than one per literal form and long-tail trigger); the shorter ones keep `memmem`.
        let (long_raw, literals): (Vec<_>, Vec<_>) = literals
            .into_iter()
            .partition(|(f, _)| f.needle().len() >= 4);
        let raw_searcher = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(long_raw.iter().map(|(f, _)| f.needle()))
            .build()
            .map(|searcher| (searcher, long_raw.iter().map(|(_, m)| *m).collect()));
        let literals = match raw_searcher {
            Some(_) => literals,
            None => literals.into_iter().chain(long_raw).collect(),
        };
        let (long, short): (Vec<&str>, Vec<&str>) = TRIGGERS.iter().partition(|t| t.len() >= 4);
        let triggers = [long, short]
            .into_iter()
            .map(searcher_of)
            .collect::<Option<Vec<_>>>();
        let keyword_reach = keywords
            .iter()
            .map(Vec::len)
            .chain(TRIGGERS.iter().map(|t| t.len()))
            .max()
            .unwrap_or(0);
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::LeftmostLongest)
            .build(&keywords)
            .expect("keywords compile");
        Scanner {
            rules,
            keywords,
            keyword_rules,
            triggers,
            raw_searcher,
            literals,
            structural: structural_rules,
            keyword_reach,
            deadline: None,
            time_limit: None,
        }
    }

    /// The rule names, in order of precedence (for reports).
    pub fn rule_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for rule in &self.rules {
            if !names.contains(&rule.name) {
                names.push(rule.name);
            }
        }
        names
    }

    /// Whether the first pass over a line is the SIMD search (else the automaton).
    pub fn fast_first_pass(&self) -> bool {
        self.triggers.is_some()
    }

    /// The name of the rule of `hit`.
    pub fn rule_of(&self, hit: &Hit) -> &'static str {
        match self.rules.get(hit.rule) {
            Some(rule) => rule.name,
            None => gitleaks::TIER.rules[hit.rule - self.rules.len()].id,
        }
    }

    /// Finds the secrets of one raw line (without its line ending). A line longer than
    /// [`LONG_LINE`] is read in overlapping parts, so that what the scan holds beside the line
    /// stays bounded whatever its length; past the scanner's deadline the rest of such a line is
    /// left unread and the scan says so ([`LineScan::timed_out`]).
    pub fn scan(&self, line: &[u8]) -> LineScan {
        if line.len() <= LONG_LINE {
            return self.scan_part(line, lex_of(line));
        }
        let lex = lex_of(line);
        let mut cursor = LexCursor::new();
        let mut scan = LineScan::default();
        let mut found = Vec::new();
        let mut own = 0;
        while own < line.len() {
            if self.expired() {
                scan.timed_out = true;
                break;
            }
            let own_end = (own + PART).min(line.len());
            let (from, in_string) = cursor.start_at(line, own.saturating_sub(PART_OVERLAP));
            let to = (own_end + PART_OVERLAP).min(line.len());
            let part_lex = match lex {
                Lex::Plain => Lex::Plain,
                Lex::Json { .. } => Lex::Json { in_string },
            };
            let part = self.scan_part(&line[from..to], part_lex);
            // A hit belongs to the part it starts in; the overlaps give it its surroundings
            // and room to end.
            found.extend(
                part.hits
                    .iter()
                    .map(|h| Hit {
                        start: h.start + from,
                        end: h.end + from,
                        rule: h.rule,
                    })
                    .filter(|h| (own == 0 || h.start >= own) && h.start < own_end),
            );
            if to == line.len() {
                scan.open_key_block = part.open_key_block;
            }
            own = own_end;
        }
        scan.hits = merge(found, line);
        scan
    }

    /// Whether the scanner's deadline has passed.
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The deadline, if any, as the time the scan may take from its start.
    pub fn time_limit(&self) -> Option<Duration> {
        self.time_limit
    }

    /// This scanner with a deadline `limit` from now: a scan that is still running then stops
    /// (see [`LineScan::timed_out`]), and [`super::redact_file`] fails.
    pub fn with_time_limit(mut self, limit: Duration) -> Self {
        self.deadline = Instant::now().checked_add(limit);
        self.time_limit = Some(limit);
        self
    }

    /// [`Scanner::scan`] of a line, or of a part of a long line lexed as `lex`: the built-in
    /// rules, then gitleaks' rules on what they left.
    fn scan_part(&self, line: &[u8], lex: Lex) -> LineScan {
        let mut scan = self.scan_builtin(line, lex);
        let tier = &*gitleaks::TIER;
        let keywords = tier.keyword_positions(line);
        if keywords.is_empty() {
            return scan;
        }
        let mut found = Vec::new();
        let add = |view: &View, found: &mut Vec<Hit>| {
            let mut spans = Vec::new();
            tier.find(&view.text, &mut spans);
            for (start, end, rule) in spans {
                let (start, end) = view.raw_span(start, end);
                found.push(Hit {
                    start,
                    end,
                    rule: self.rules.len() + usize::from(rule),
                });
            }
        };
        let segs = segments_as(line, lex);
        if segs.iter().any(|s| s.string) {
            // A name and its value in separate JSON strings; values written with escapes are
            // found, whole, in the decoded strings.
            let mut raw = Vec::new();
            add(&View::raw(line, 0, line.len()), &mut raw);
            raw.retain(|h| memchr::memchr(b'\\', &line[h.start..h.end]).is_none());
            found.extend(raw);
        }
        for seg in segs {
            // Only segments a keyword falls in (JSON escapes none of a keyword's characters).
            let first = keywords.partition_point(|&k| k < seg.start);
            if keywords.get(first).is_none_or(|&k| k >= seg.end) {
                continue;
            }
            let view = View::of_segment(line, seg);
            add(&view, &mut found);
            if let Some(normalised) = view.normalised() {
                add(&normalised, &mut found);
            }
        }
        // Only what the built-in rules did not already redact.
        let builtin = &scan.hits;
        found.retain(|h| {
            let i = builtin.partition_point(|b| b.end <= h.start);
            builtin.get(i).is_none_or(|b| b.start >= h.end)
        });
        if !found.is_empty() {
            found.extend(scan.hits.iter().copied());
            scan.hits = merge(found, line);
        }
        scan
    }

    /// The built-in rules' part of [`Scanner::scan_part`].
    fn scan_builtin(&self, line: &[u8], lex: Lex) -> LineScan {
        let mut hits_by_keyword: Vec<(usize, Mask)> = Vec::new();
        match &self.triggers {
            Some(searchers) => {
                let lower = line.to_ascii_lowercase();
                for (searcher, masks) in searchers {
                    for m in searcher.find_iter(&lower) {
                        hits_by_keyword.push((m.start(), masks[m.pattern().as_usize()]));
                    }
                }
                for (finder, mask) in &self.literals {
                    for at in finder.find_iter(line) {
                        hits_by_keyword.push((at, *mask));
                    }
                }
                if let Some((searcher, masks)) = &self.raw_searcher {
                    for m in searcher.find_iter(line) {
                        hits_by_keyword.push((m.start(), masks[m.pattern().as_usize()]));
                    }
                }
                hits_by_keyword.sort_unstable_by_key(|h| h.0);
            }
            None => {
                for m in self.keywords.find_iter(line) {
                    hits_by_keyword.push((m.start(), self.keyword_rules[m.pattern().as_usize()]));
                }
            }
        }
        if hits_by_keyword.is_empty() {
            return LineScan::default();
        }
        let segs = segments_as(line, lex);
        let mut masks: Vec<Mask> = vec![0; segs.len()];
        for &(at, mask) in &hits_by_keyword {
            let i = segs.partition_point(|s| s.end <= at);
            if i < segs.len() && segs[i].start <= at {
                masks[i] |= mask;
            }
        }
        let mut scan = LineScan::default();
        let mut found: Vec<Hit> = Vec::new();
        // In a JSON line, a name and its value are separate strings (`{"password":"..."}`).
        let lexed = segs.iter().any(|s| s.string);
        let structural = masks.iter().fold(0, |all, m| all | m) & self.structural;
        if lexed && structural != 0 {
            let mut raw = Vec::new();
            // The raw line's windows come from where the first pass found triggers: no second
            // keyword search over the whole line.
            let windows =
                self.trigger_windows(hits_by_keyword.iter().copied(), structural, line.len());
            self.scan_view(
                &View::raw(line, 0, line.len()),
                structural,
                Some(windows),
                &mut raw,
            );
            // Values written with escapes are found, whole, in the decoded strings.
            raw.retain(|h| memchr::memchr(b'\\', &line[h.start..h.end]).is_none());
            found.extend(raw);
        }
        for (seg, &mask) in segs.iter().zip(&masks) {
            if mask == 0 {
                continue;
            }
            let plain_line = !seg.string && seg.start == 0 && seg.end == line.len();
            let view = View::of_segment(line, *seg);
            // The segment's decoded text holds its keywords where the raw text holds them
            // (JSON escapes none of their characters but `/`, and `:\/\/` is a trigger too), so
            // its windows also come from the first pass. Normalised text may reveal keywords the
            // raw text hides (`api%5Fkey`): it is searched for them.
            let first = hits_by_keyword.partition_point(|h| h.0 < seg.start);
            let last = hits_by_keyword.partition_point(|h| h.0 < seg.end);
            let in_view = hits_by_keyword[first..last]
                .iter()
                .map(|&(at, rules)| (view.index_of_raw(at), rules));
            let windows = self.trigger_windows(in_view, mask & self.structural, view.text.len());
            let open = self.scan_view(&view, mask, Some(windows), &mut found);
            if let Some(normalised) = view.normalised() {
                self.scan_view(&normalised, mask, None, &mut found);
            }
            scan.open_key_block |= plain_line && open;
        }
        scan.hits = merge(found, line);
        scan
    }

    /// Runs the rules of `mask` on `view`, adding raw hits to `found`. True when a private key
    /// runs to the end of the view without its END line. Rules that read a value's surroundings
    /// (see [`structural`]) run only on windows around their keywords: their patterns have no
    /// literal to search for and would otherwise cost a slow pass over long texts. `windows`,
    /// when given, are those windows already (else the keywords are searched in the view).
    fn scan_view(
        &self,
        view: &View,
        mask: Mask,
        windows: Option<Vec<Window>>,
        found: &mut Vec<Hit>,
    ) -> bool {
        let text = &view.text[..];
        let mut open = false;
        let direct = mask & !self.structural;
        self.run_rules(view, direct, 0, text.len(), found, &mut open);
        let windowed = mask & self.structural;
        if windowed != 0 {
            let windows = windows.unwrap_or_else(|| self.keyword_windows(text, windowed));
            for (start, end, rules) in windows {
                self.run_rules(view, rules & windowed, start, end, found, &mut open);
            }
        }
        open
    }

    /// Windows of a text of `len` bytes around the triggers the first pass found in it
    /// (`(position, rules)`, in order): each keyword holding a trigger lies within
    /// `keyword_reach` of it, so these windows hold the ones [`Scanner::keyword_windows`] would
    /// give.
    fn trigger_windows(
        &self,
        triggers: impl Iterator<Item = (usize, Mask)>,
        mask: Mask,
        len: usize,
    ) -> Vec<Window> {
        let mut windows: Vec<Window> = Vec::new();
        for (at, rules) in triggers {
            let rules = rules & mask;
            if rules == 0 {
                continue;
            }
            let start = at.saturating_sub(WINDOW_BEFORE + self.keyword_reach);
            // The trigger itself is no longer than the reach either.
            let end = (at + 2 * self.keyword_reach + WINDOW_AFTER).min(len);
            push_window(&mut windows, (start, end, rules));
        }
        windows
    }

    /// Merged windows of `text` around the keywords of the rules of `mask`, with the rules each
    /// window needs.
    fn keyword_windows(&self, text: &[u8], mask: Mask) -> Vec<Window> {
        let mut windows: Vec<Window> = Vec::new();
        for m in self.keywords.find_iter(text) {
            let rules = self.keyword_rules[m.pattern().as_usize()] & mask;
            if rules == 0 {
                continue;
            }
            let start = m.start().saturating_sub(WINDOW_BEFORE);
            let end = (m.end() + WINDOW_AFTER).min(text.len());
            push_window(&mut windows, (start, end, rules));
        }
        windows
    }

    /// Runs the rules of `mask` on `view.text[from..to]` (checks see the whole text).
    fn run_rules(
        &self,
        view: &View,
        mask: Mask,
        from: usize,
        to: usize,
        found: &mut Vec<Hit>,
        open: &mut bool,
    ) {
        let text = &view.text[..];
        let mut bits = mask;
        while bits != 0 {
            let index = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let rule = &self.rules[index];
            // Takes a match of `text[from..to]` (offsets in that part); returns where in the
            // part the finding ends (a private key runs past its BEGIN line), or `None` when
            // the checks reject it.
            let mut add = |start: usize, end: usize, name: Option<(usize, usize)>| {
                let (start, end) = (from + start, from + end);
                let name = name.map(|(s, e)| (from + s, from + e));
                if !check(rule.check, text, start, end, name) {
                    return None;
                }
                let end = if matches!(rule.check, Check::KeyBlock) {
                    let (end, ended) = key_block_end(text, end);
                    *open |= !ended && end == text.len();
                    end
                } else {
                    end
                };
                if start < end {
                    let (start, end) = view.raw_span(start, end);
                    found.push(Hit {
                        start,
                        end,
                        rule: index,
                    });
                }
                Some(end - from)
            };
            let part = &text[from..to];
            // Every search starts after the previous one's start, and beyond what was taken:
            // no byte is read again from each keyword, so the time is linear in the text.
            let mut at = 0;
            while at <= part.len() {
                if matches!(rule.secret, Secret::Group(0)) {
                    let Some(m) = rule.regex.find_at(part, at) else {
                        count_work(part.len() - at);
                        break;
                    };
                    count_work(m.end() - at);
                    let taken = add(m.start(), m.end(), None).unwrap_or(m.end());
                    at = taken.max(m.end()).max(m.start() + 1);
                    continue;
                }
                let Some(caps) = rule.regex.captures_at(part, at) else {
                    count_work(part.len() - at);
                    break;
                };
                let whole = caps.get(0).expect("group 0 always matches");
                count_work(whole.end() - at);
                let name = caps.get(1).map(|n| (n.start(), n.end()));
                let value = match rule.secret {
                    Secret::Group(group) => caps.get(group).map(|m| (m.start(), m.end())),
                    Secret::Value(byte, min) => {
                        let len = part[whole.end()..]
                            .iter()
                            .take(MAX_VALUE + 1)
                            .take_while(|&&b| byte(b))
                            .count();
                        count_work(len);
                        (len >= min).then_some((whole.end(), whole.end() + len))
                    }
                };
                let taken = value.and_then(|(start, end)| add(start, end, name));
                at = match (taken, value) {
                    (Some(_), Some((_, end))) => end.max(whole.end()),
                    // A rejected match (`KEY-----:DB_PASSWORD=...` is no secret-like name)
                    // may hide a good one in its value: search again from there.
                    (None, Some((start, _))) => start,
                    _ => whole.end(),
                }
                .max(whole.start() + 1);
            }
        }
    }

    /// Redacts one line (raw record text, without its ending) and names the rules that matched,
    /// once per finding.
    pub fn redact_line<'a>(&self, line: &'a str) -> (Cow<'a, str>, Vec<&'static str>) {
        let (out, rules) = self.redact_bytes(line.as_bytes());
        match out {
            Cow::Borrowed(_) => (Cow::Borrowed(line), rules),
            // Replacements cover whole UTF-8 characters, so the rest stays valid UTF-8.
            Cow::Owned(bytes) => (
                Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
                rules,
            ),
        }
    }

    /// [`Scanner::redact_line`] on bytes (a line need not be UTF-8).
    pub fn redact_bytes<'a>(&self, line: &'a [u8]) -> (Cow<'a, [u8]>, Vec<&'static str>) {
        self.redact_scanned(line, &self.scan(line))
    }

    /// Redacts what `scan` found in `line`.
    pub fn redact_scanned<'a>(
        &self,
        line: &'a [u8],
        scan: &LineScan,
    ) -> (Cow<'a, [u8]>, Vec<&'static str>) {
        if scan.hits.is_empty() {
            return (Cow::Borrowed(line), Vec::new());
        }
        let rules = scan.hits.iter().map(|h| self.rule_of(h)).collect();
        let out = self.replace(line, &scan.hits);
        // Replacements stay inside string literals on whole escapes; should a line still break,
        // its decoded values are redacted and written back instead.
        if !is_json(&out) && is_json(line) {
            if let Some(fixed) = self.redact_values(line) {
                return (Cow::Owned(fixed), rules);
            }
        }
        (Cow::Owned(out), rules)
    }

    /// `line` with every hit replaced by `[REDACTED:<rule>]`.
    pub fn replace(&self, line: &[u8], hits: &[Hit]) -> Vec<u8> {
        let mut out = Vec::with_capacity(line.len());
        let mut at = 0;
        for hit in hits {
            out.extend_from_slice(&line[at..hit.start]);
            out.extend_from_slice(b"[REDACTED:");
            out.extend_from_slice(self.rule_of(hit).as_bytes());
            out.push(b']');
            at = hit.end;
        }
        out.extend_from_slice(&line[at..]);
        out
    }

    /// The slow, always-valid path: parse, redact every decoded string (and key), re-serialise.
    fn redact_values(&self, line: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(line.len());
        for value in serde_json::Deserializer::from_slice(line).into_iter::<serde_json::Value>() {
            let mut value = value.ok()?;
            self.redact_value(&mut value);
            serde_json::to_writer(&mut out, &value).ok()?;
        }
        Some(out)
    }

    fn redact_value(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        let redact = |s: &str| -> Option<String> {
            // Decoded text is a plain line to the scanner: it is not lexed as JSON again.
            let text = format!(" {s}");
            let scan = self.scan(text.as_bytes());
            (!scan.hits.is_empty()).then(|| {
                let out = self.replace(text.as_bytes(), &scan.hits);
                String::from_utf8_lossy(&out[1..]).into_owned()
            })
        };
        match value {
            Value::String(s) => {
                if let Some(new) = redact(s) {
                    *s = new;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::Object(map) => {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    self.redact_value(&mut v);
                    map.insert(redact(&k).unwrap_or(k), v);
                }
            }
            _ => {}
        }
    }
}

thread_local! {
    static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many bytes the rules' searches and checks have read on this thread so far: the scan's
/// work, counted, so that tests can check it grows linearly with the input without timing it.
pub fn work_units() -> u64 {
    WORK.with(std::cell::Cell::get)
}

fn count_work(bytes: usize) {
    WORK.with(|w| w.set(w.get() + bytes as u64));
}

/// Whether two keywords can overlap in a text: one holds the other, or an end of one (two
/// characters or more) is a start of the other.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let holds = |x: &[u8], y: &[u8]| memchr::memmem::find(x, y).is_some();
    // (Overlaps of one character are left out: they would make nearly every keyword a
    // candidate for every rule.)
    let joins = |x: &[u8], y: &[u8]| (2..x.len().min(y.len())).any(|k| x[x.len() - k..] == y[..k]);
    holds(a, b) || holds(b, a) || joins(a, b) || joins(b, a)
}

/// Sorts hits, merges overlapping ones (the earlier start, then the earlier rule, names the
/// merged hit) and widens each to whole UTF-8 characters of `line`.
fn merge(mut found: Vec<Hit>, line: &[u8]) -> Vec<Hit> {
    let continuation = |b: u8| (0x80..0xc0).contains(&b);
    for hit in &mut found {
        while hit.start > 0 && line.get(hit.start).is_some_and(|&b| continuation(b)) {
            hit.start -= 1;
        }
        while hit.end < line.len() && continuation(line[hit.end]) {
            hit.end += 1;
        }
    }
    found.sort_by_key(|h| (h.start, h.rule));
    let mut merged: Vec<Hit> = Vec::with_capacity(found.len());
    for hit in found {
        match merged.last_mut() {
            Some(last) if hit.start < last.end => last.end = last.end.max(hit.end),
            _ => merged.push(hit),
        }
    }
    merged
}

fn word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// Nothing of `class` right before `start` or at `end`.
fn stands_alone(text: &[u8], start: usize, end: usize, class: fn(u8) -> bool) -> bool {
    start.checked_sub(1).is_none_or(|i| !class(text[i])) && text.get(end).is_none_or(|&b| !class(b))
}

/// One of `words` (lower case) within `window` bytes of `start..end`.
fn near(text: &[u8], start: usize, end: usize, words: &[&str], window: usize) -> bool {
    let from = start.saturating_sub(window);
    let to = (end + window).min(text.len());
    count_work(to - from);
    let around = text[from..to].to_ascii_lowercase();
    words
        .iter()
        .any(|w| memchr::memmem::find(&around, w.as_bytes()).is_some())
}

fn check(
    check: Check,
    text: &[u8],
    start: usize,
    end: usize,
    name: Option<(usize, usize)>,
) -> bool {
    let value = &text[start..end];
    // What an earlier redaction left is not found again.
    if memchr::memmem::find(value, b"[REDACTED:").is_some() {
        return false;
    }
    match check {
        Check::KeyBlock | Check::Literal => true,
        Check::None => !entropy::placeholder(value),
        Check::Bounded => stands_alone(text, start, end, word_byte) && !entropy::placeholder(value),
        Check::Mixed => entropy::mixed(value) && !example(value) && !entropy::placeholder(value),
        Check::AwsSecret => {
            let has = |f: fn(&u8) -> bool| value.iter().any(f);
            stands_alone(text, start, end, base64_byte)
                && has(u8::is_ascii_uppercase)
                && has(u8::is_ascii_lowercase)
                && (has(u8::is_ascii_digit) || has(|b| matches!(b, b'+' | b'/')))
                && entropy::shannon(value) >= 4.0
                && !example(value)
                && near(text, start, end, &["aws", "secret", "akia", "asia"], 120)
        }
        Check::SecretValue => entropy::secret_value(value),
        Check::Assignment => {
            name.is_some_and(|(s, e)| secret_name(&text[s..e])) && entropy::secret_value(value)
        }
        Check::BasicAuth => basic_auth(value),
        Check::Base64PrivateKey => base64_private_key(value),
        Check::Password => cli_password(value),
        Check::UrlPassword => url_password(value),
        Check::Near(words, window) => {
            stands_alone(text, start, end, word_byte) && near(text, start, end, words, window)
        }
    }
}

/// AWS's and others' documented example values.
fn example(value: &[u8]) -> bool {
    memchr::memmem::find(&value.to_ascii_lowercase(), b"example").is_some()
}

/// Base64 of `user:password`, both parts printable and not empty.
fn basic_auth(value: &[u8]) -> bool {
    let trimmed = value
        .strip_suffix(b"==")
        .or(value.strip_suffix(b"="))
        .unwrap_or(value);
    let Ok(decoded) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed) else {
        return false;
    };
    let printable = decoded.iter().all(|b| (0x20..0x7f).contains(b));
    let colon = memchr::memchr(b':', &decoded);
    printable && colon.is_some_and(|c| c > 0 && c + 1 < decoded.len())
}

/// Base64 whose start decodes to a PEM private key's BEGIN line.
fn base64_private_key(value: &[u8]) -> bool {
    let head = &value[..value.len().min(64) / 4 * 4];
    base64::engine::general_purpose::STANDARD
        .decode(head)
        .is_ok_and(|d| memchr::memmem::find(&d, b"PRIVATE KEY").is_some())
}

/// A password on a command line: not a placeholder, a variable, a prompt or a flag.
fn cli_password(value: &[u8]) -> bool {
    let lower = value.to_ascii_lowercase();
    (6..=128).contains(&value.len())
        && !matches!(
            value[0],
            b'$' | b'%' | b'<' | b'{' | b'-' | b'/' | b'~' | b'`'
        )
        && !entropy::placeholder(value)
        && !matches!(
            &lower[..],
            b"password" | b"passwd" | b"secret" | b"changeme" | b"admin" | b"******"
        )
        && entropy::classes(value) >= 2
}

/// A URL password, unless it is a placeholder or a reference to one.
fn url_password(value: &[u8]) -> bool {
    const PLACEHOLDERS: &[&[u8]] = &[
        b"password",
        b"pass",
        b"passwd",
        b"pwd",
        b"secret",
        b"token",
        b"pw",
        b"x",
        b"xxx",
        b"changeme",
        b"user",
        b"username",
        b"***",
        b"****",
        b"*****",
    ];
    let lower = value.to_ascii_lowercase();
    !(value.len() > 256
        || PLACEHOLDERS.contains(&&lower[..])
        || matches!(value[0], b'$' | b'{' | b'%' | b'*')
        || value.iter().all(|&b| b == b'*' || b == b'x' || b == b'X')
        || value.iter().all(u8::is_ascii_digit))
}

/// Where a private key that starts before `from` ends: at its END line, else after the last
/// line of key material. The flag says whether the END line was found.
pub(super) fn key_block_end(text: &[u8], from: usize) -> (usize, bool) {
    let (end, ended) = key_block_end_uncounted(text, from);
    count_work(end - from);
    (end, ended)
}

fn key_block_end_uncounted(text: &[u8], from: usize) -> (usize, bool) {
    let line_end = |at: usize| memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |k| at + k);
    // The rest of the first line belongs to the key (a key flattened onto one line).
    let first = line_end(from);
    if let Some(m) = KEY_END.find(&text[from..first]) {
        return (from + m.end(), true);
    }
    let mut end = first;
    while end < text.len() {
        let next = end + 1;
        let next_end = line_end(next);
        let line = &text[next..next_end];
        if let Some(m) = KEY_END.find(line) {
            return (next + m.end(), true);
        }
        if !key_material(line) {
            break;
        }
        end = next_end;
    }
    (end, false)
}

/// Whether `bytes` is one or more JSON values (glued records count).
pub(super) fn is_json(bytes: &[u8]) -> bool {
    let mut any = false;
    for value in serde_json::Deserializer::from_slice(bytes).into_iter::<serde::de::IgnoredAny>() {
        if value.is_err() {
            return false;
        }
        any = true;
    }
    any
}

//! Finding secrets in one raw line and replacing them.
//!
//! One trigger pass (one DFA walk, ASCII case ignored) over the raw line picks the rules that can
//! match at all, the segments they can match in and, for rules that read a value's surroundings,
//! the windows they run in; a line without triggers costs nothing more. Each picked segment is read
//! as its decoded text and, when anything hides in it, as its normalised text
//! ([`super::normalise`]); matches from both map back to raw spans, which are merged and replaced
//! by `[REDACTED:<rule>]` (text that needs no JSON escaping).

use std::borrow::Cow;
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use regex::bytes::Regex;

use super::entropy;
use super::first_pass::{FirstPass, Hits, KeywordTable, Mask};
use super::forms::literal_forms;
use super::normalise::{lex_of, segments_as, Lex, LexCursor, Segment, View};
use super::provider_form::{self, credential_run, name_byte, only_credential_words, Read};
use super::provider_rules::{self, KeywordHit};
use super::rules::{
    key_material, provider_credential_name, provider_key_name, secret_name, structural, Check,
    Secret, ENCODED_KEYWORD_PARTS, MAX_VALUE, RULES,
};

/// The rule name of the extra literals (the token ccsync itself holds).
pub const TOKEN_RULE: &str = "ccsync-token";

/// Literals shorter than this are ignored: they would redact ordinary words.
const MIN_LITERAL_LEN: usize = 8;

/// What the first pass over a line looks for (lower case, case ignored): every keyword of every
/// rule holds one of these (a test checks it), so a line without any holds no secret.
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
    "private",
    "token",
    "pass",
    "pwd",
    "key",
    "auth",
    "ado_pat",
    "telegram",
    "uid=",
    "user=",
    "userid=",
    "user id=",
    "user_id=",
    "username=",
    "pmak-",
    "odt_",
    "1000.",
    "vf.dm.",
    "tfp_",
    "tkn.v1_",
    "_mmk",
    "ltai",
    "ssws",
    "oy2",
    "pub-c-",
    "sub-c-",
    "pul-",
    "sq0",
    "pk_",
    "cfpat-",
    "r8_",
    "shltm_",
    "flb_live_",
    "sgp_",
    "slk_",
    "pat-na1-",
    "pat-eu1-",
    "dp.",
    "office.com/webhook",
    "office365.com/webhook",
    "thingsboard",
    "sk_",
    "$1$",
    "$2",
    "$5$",
    "$6$",
    "$8$",
    "$9$",
    "$krb5",
    "credential",
    "bearer",
    "basic",
    "%5f",
    "%2d",
    "%2e",
    "%3a",
];

/// Triggers looked for in the raw line with their case kept (the pass finds them with case
/// ignored and keeps those in this case): each is matched by its rules in this case only
/// (`Q~` of an Azure client secret, the long tail's prefixes).
pub const RAW_TRIGGERS: &[&str] = &[
    // (A provider's `ACCESS <value>`; `access` in any case is too common a word in prose and
    // code to be looked at everywhere.)
    "ACCESS",
    "NF-",
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
    "AZDO",
    "AzSe",
    "azure",
    "Azure",
    "AZURE",
    "devops",
    ".apps.googleusercontent.com",
    "_gitlab_session",
    "curl",
    "login",
    "mysql",
    "mariadb",
];

/// The rule of the extra literals (the token ccsync holds) and the forms it looks for: as it is,
/// as written in JSON text and in JSON inside a JSON string (for the rare text that is not
/// decoded, such as a torn line), in base64 and in hex; longest first. `None` without literals.
fn token_rule(extra_literals: &[String]) -> Option<(Compiled, Vec<String>)> {
    let mut forms: Vec<String> = Vec::new();
    for literal in extra_literals.iter().filter(|l| l.len() >= MIN_LITERAL_LEN) {
        for form in literal_forms(literal) {
            if !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    if forms.is_empty() {
        return None;
    }
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let pattern = forms
        .iter()
        .map(|f| regex::escape(f))
        .collect::<Vec<_>>()
        .join("|");
    let rule = Compiled {
        name: TOKEN_RULE,
        pattern: Cow::Owned(pattern),
        regex: OnceLock::new(),
        secret: Secret::Group(0),
        check: Check::Literal,
        led_by_name: false,
        anchored: OnceLock::new(),
        run_filter: any_run,
    };
    Some((rule, forms))
}

/// How far before and after a keyword the rules that read surroundings look.
const WINDOW_BEFORE: usize = 256;
const WINDOW_AFTER: usize = 768;

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
    pattern: Cow<'static, str>,
    /// The pattern, compiled on first use: most rules never run on a given session (their
    /// keywords are not in it), and compiling them all took more time than scanning a
    /// megabyte.
    regex: OnceLock<Regex>,
    secret: Secret,
    check: Check,
    /// Whether the rule's matches start with a name (see [`NAME_LED`]).
    led_by_name: bool,
    /// For such a rule: its pattern anchored at the start of the text, run at the start of
    /// each name that holds a keyword (compiled on first use).
    anchored: OnceLock<Regex>,
    /// For a name-led rule: whether the run of name bytes `text[start..end]` can start a match
    /// its check keeps at all (a cheap look before the pattern runs, which costs thousands of
    /// instructions a try).
    run_filter: fn(&[u8], usize, usize) -> bool,
}

/// Every run may start a match.
fn any_run(_: &[u8], _: usize, _: usize) -> bool {
    true
}

/// How the patterns of the secret-assignment rules start: a name made of these bytes that
/// holds one of the keywords of the alternation that follows (each of them one of the first
/// pass's triggers, a test checks it). So a match starts where a run of name bytes that holds
/// a trigger starts, and such a rule need not be searched for through the windows around its
/// triggers (as the others are): it is tried once at each such run, anchored. Those two rules
/// had been half of the scan's time on real transcripts.
const NAME_LED: &str = r"(?i)([A-Za-z0-9_.-]*(?:";

impl Compiled {
    fn new(name: &'static str, pattern: &'static str, secret: Secret, check: Check) -> Compiled {
        let run_filter = match check {
            Check::ProviderCredential => credential_run,
            _ => any_run,
        };
        Compiled {
            name,
            pattern: Cow::Borrowed(pattern),
            regex: OnceLock::new(),
            secret,
            check,
            led_by_name: pattern.starts_with(NAME_LED),
            anchored: OnceLock::new(),
            run_filter,
        }
    }

    fn regex(&self) -> &Regex {
        self.regex
            .get_or_init(|| Regex::new(&self.pattern).expect("rule compiles"))
    }

    /// The pattern anchored at the start of the text, for a rule led by a name.
    fn anchored(&self) -> Option<&Regex> {
        self.led_by_name.then(|| {
            self.anchored.get_or_init(|| {
                Regex::new(&format!(r"\A(?:{})", self.pattern)).expect("rule compiles")
            })
        })
    }
}

/// The compiled rules plus the literals to redact.
pub struct Scanner {
    rules: Vec<Compiled>,
    /// The one keyword pass over a line, for the built-in rules and the provider tier.
    first: FirstPass,
    /// The rules that also read a JSON line's raw text (see [`structural`]).
    structural: Mask,
    /// The rules tried at names rather than searched for in windows (see [`NAME_LED`]).
    name_led: Mask,
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
        let mut table = KeywordTable::default();
        let mut raw: Vec<(Vec<u8>, Mask)> = Vec::new();
        if let Some((rule, forms)) = token_rule(&extra_literals) {
            // (The literals' rule is rule 0.)
            for form in &forms {
                table.add(&form.as_bytes()[..MIN_LITERAL_LEN], 0);
                raw.push((form.as_bytes().to_vec(), 1));
            }
            // A literal written with `\u00XX` escapes (JSON allows any character so) holds none
            // of its forms in the raw line: an escape makes the literal's rule read the decoded
            // string it is in.
            raw.push((br"\u00".to_vec(), 1));
            rules.push(rule);
        }
        let mut structural_rules: Mask = 0;
        for def in RULES {
            for word in def.keywords {
                table.add(word.as_bytes(), rules.len());
            }
            if structural(def.check) {
                structural_rules |= 1 << rules.len();
            }
            rules.push(Compiled::new(def.name, def.pattern, def.secret, def.check));
        }
        assert!(rules.len() <= Mask::BITS as usize, "too many rules");
        for part in ENCODED_KEYWORD_PARTS {
            for index in 0..rules.len() {
                table.add(part.as_bytes(), index);
            }
        }
        // Long-tail triggers keep their case: each is matched by its rules in this case only.
        for trigger in RAW_TRIGGERS {
            let mask = FirstPass::table_rules(&table, trigger.as_bytes());
            raw.push((trigger.as_bytes().to_vec(), mask));
        }
        let first = FirstPass::new(table, TRIGGERS, raw, provider_rules::TIER.keywords());
        let name_led = rules
            .iter()
            .enumerate()
            .filter(|(i, r)| r.led_by_name && structural_rules & (1 << i) != 0)
            .fold(0, |all, (i, _)| all | 1 << i);
        Scanner {
            rules,
            first,
            structural: structural_rules,
            name_led,
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

    /// Whether the first pass over a line is fast everywhere (it is; see [`FirstPass::fast`]).
    pub fn fast_first_pass(&self) -> bool {
        self.first.fast()
    }

    /// The one keyword pass over a line (for tests).
    #[cfg(test)]
    pub(crate) fn first_pass(&self) -> &FirstPass {
        &self.first
    }

    /// The name of the rule of `hit`.
    pub fn rule_of(&self, hit: &Hit) -> &'static str {
        match self.rules.get(hit.rule) {
            Some(rule) => rule.name,
            None => provider_rules::TIER.rules[hit.rule - self.rules.len()].id,
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

    /// [`Scanner::scan`] of a line, or of a part of a long line lexed as `lex`: one keyword
    /// pass, then, in the segments it found keywords in, the built-in rules and the provider rules
    /// on the same decoded and normalised views; the tier's findings count only where the
    /// built-in rules found nothing.
    fn scan_part(&self, line: &[u8], lex: Lex) -> LineScan {
        let hits = self.first.run(line);
        if hits.is_empty() {
            return LineScan::default();
        }
        let segs = segments_as(line, lex);
        let mut masks: Vec<Mask> = vec![0; segs.len()];
        for &(at, mask) in &hits.triggers {
            let i = segs.partition_point(|s| s.end <= at);
            if i < segs.len() && segs[i].start <= at {
                masks[i] |= mask;
            }
        }
        let mut scan = LineScan::default();
        let mut found: Vec<Hit> = Vec::new();
        let mut tier_found: Vec<Hit> = Vec::new();
        // In a JSON line, a name and its value are separate strings (`{"password":"..."}`).
        if segs.iter().any(|s| s.string) {
            let structural = masks.iter().fold(0, |all, m| all | m) & self.structural;
            self.scan_raw_json(line, &hits, structural, &mut found, &mut tier_found);
        }
        for (seg, &mask) in segs.iter().zip(&masks) {
            let first = hits.tier.partition_point(|h| h.start < seg.start);
            let last = hits.tier.partition_point(|h| h.start < seg.end);
            let tier_hits = &hits.tier[first..last];
            if mask == 0 && tier_hits.is_empty() {
                continue;
            }
            let view = View::of_segment(line, *seg);
            let open = self.scan_segment(&view, *seg, mask, &hits.triggers, &mut found);
            self.tier_in_view(&view, tier_hits, &mut tier_found);
            if let Some(normalised) = view.normalised() {
                // Normalised text may hold keywords its raw text hides: one more pass.
                let again = self.first.run(&normalised.text);
                if mask != 0 {
                    self.scan_view(&normalised, mask, Some(again.triggers), &mut found);
                }
                if !tier_hits.is_empty() {
                    // (Positions in the normalised text itself, not in the raw line.)
                    let raw_span = |s, e| normalised.raw_span(s, e);
                    self.tier_spans(&normalised.text, &again.tier, raw_span, &mut tier_found);
                }
            }
            let plain_line = !seg.string && seg.start == 0 && seg.end == line.len();
            scan.open_key_block |= plain_line && open;
        }
        scan.hits = merge(found, line);
        // Only what the built-in rules did not already redact whole: a tier match that reaches
        // past a built-in one (a connection string around its key) widens it.
        let builtin = &scan.hits;
        tier_found.retain(|h| {
            let i = builtin.partition_point(|b| b.end <= h.start);
            builtin
                .get(i)
                .is_none_or(|b| h.start < b.start || b.end < h.end)
        });
        if !tier_found.is_empty() {
            tier_found.extend(scan.hits.iter().copied());
            scan.hits = merge(tier_found, line);
        }
        scan
    }

    /// Both tiers on a JSON line's raw text, for a name and its value in separate strings;
    /// values written with escapes are found, whole, in the decoded strings instead.
    fn scan_raw_json(
        &self,
        line: &[u8],
        hits: &Hits,
        structural: Mask,
        found: &mut Vec<Hit>,
        tier_found: &mut Vec<Hit>,
    ) {
        let unescaped = |h: &Hit| memchr::memchr(b'\\', &line[h.start..h.end]).is_none();
        if structural != 0 {
            let mut raw = Vec::new();
            // The raw line's windows come from where the first pass found triggers: no second
            // keyword search over the whole line.
            self.scan_view(
                &View::raw(line, 0, line.len()),
                structural,
                Some(hits.triggers.clone()),
                &mut raw,
            );
            raw.retain(unescaped);
            found.extend(raw);
        }
        if !hits.tier.is_empty() {
            let mut raw = Vec::new();
            self.tier_spans(line, &hits.tier, |start, end| (start, end), &mut raw);
            raw.retain(unescaped);
            tier_found.extend(raw);
        }
    }

    /// The built-in rules of `mask` on a segment's decoded view. Its keywords sit where the raw
    /// text holds them (JSON escapes none of their characters but `/`, and `:\/\/` is a
    /// trigger too), so its windows come from the first pass's triggers, mapped into the view.
    fn scan_segment(
        &self,
        view: &View,
        seg: Segment,
        mask: Mask,
        triggers: &[(usize, Mask)],
        found: &mut Vec<Hit>,
    ) -> bool {
        if mask == 0 {
            return false;
        }
        let first = triggers.partition_point(|h| h.0 < seg.start);
        let last = triggers.partition_point(|h| h.0 < seg.end);
        let in_view = triggers[first..last]
            .iter()
            .map(|&(at, rules)| (view.index_of_raw(at), rules))
            .collect();
        self.scan_view(view, mask, Some(in_view), found)
    }

    /// The provider rules on `view` around `hits`, raw positions of the line (mapped into it).
    fn tier_in_view(&self, view: &View, hits: &[KeywordHit], found: &mut Vec<Hit>) {
        if hits.is_empty() {
            return;
        }
        let mapped: Vec<KeywordHit> = hits
            .iter()
            .map(|h| KeywordHit {
                start: view.index_of_raw(h.start),
                end: view.index_of_raw(h.end),
                keyword: h.keyword,
            })
            .collect();
        self.tier_spans(&view.text, &mapped, |s, e| view.raw_span(s, e), found);
    }

    /// The provider rules on `text` around `hits` (positions in `text`), the spans mapped back.
    fn tier_spans(
        &self,
        text: &[u8],
        hits: &[KeywordHit],
        raw_span: impl Fn(usize, usize) -> (usize, usize),
        found: &mut Vec<Hit>,
    ) {
        let mut spans = Vec::new();
        provider_rules::TIER.find_near(text, hits, &mut spans);
        for (start, end, rule) in spans {
            let (start, end) = raw_span(start, end);
            found.push(Hit {
                start,
                end,
                rule: self.rules.len() + usize::from(rule),
            });
        }
    }

    /// Runs the rules of `mask` on `view`, adding raw hits to `found`. True when a private key
    /// runs to the end of the view without its END line. Rules that read a value's surroundings
    /// (see [`structural`]) run only on windows around their keywords (or, led by a name, at
    /// the names that hold them: [`NAME_LED`]): their patterns have no literal to search for
    /// and would otherwise cost a slow pass over long texts. `points`, when given, are where
    /// the first pass found triggers in the view, with their rules (else the keywords are
    /// searched in the view).
    fn scan_view(
        &self,
        view: &View,
        mask: Mask,
        points: Option<Vec<(usize, Mask)>>,
        found: &mut Vec<Hit>,
    ) -> bool {
        let text = &view.text[..];
        let mut open = false;
        let direct = mask & !self.structural;
        self.run_rules(view, direct, 0, text.len(), found, &mut open);
        let windowed = mask & self.structural;
        if windowed != 0 {
            let points = points.unwrap_or_else(|| {
                let keywords = self.first.builtin_keywords(text);
                keywords.map(|(start, _, rules)| (start, rules)).collect()
            });
            let mut bits = windowed & self.name_led;
            while bits != 0 {
                let index = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                self.run_at_names(view, index, &points, found, &mut open);
            }
            let windowed = windowed & !self.name_led;
            let windows = self.trigger_windows(points.iter().copied(), windowed, text.len());
            for (start, end, rules) in windows {
                self.run_rules(view, rules & windowed, start, end, found, &mut open);
            }
        }
        open
    }

    /// Runs the name-led rule `index` ([`NAME_LED`]) once at the start of each run of name bytes
    /// in `view` that holds one of `points` of its rules, anchored there. As a search would,
    /// it takes matches in order, and starts no match inside a finding it took.
    fn run_at_names(
        &self,
        view: &View,
        index: usize,
        points: &[(usize, Mask)],
        found: &mut Vec<Hit>,
        open: &mut bool,
    ) {
        let text = &view.text[..];
        let rule = &self.rules[index];
        if !rule.led_by_name {
            return;
        }
        // No match starts before this: the end of the last run tried, or of a finding taken.
        let mut resume = 0;
        for &(at, rules) in points {
            if rules & (1 << index) == 0 || at < resume || at >= text.len() {
                continue;
            }
            let before = text[resume..at].iter().rev().take_while(|&&b| name_byte(b));
            let start = at - before.count();
            let end = at + text[at..].iter().take_while(|&&b| name_byte(b)).count();
            count_work(end - start);
            resume = end;
            if !(rule.run_filter)(text, start, end) {
                continue;
            }
            let part = &text[start..];
            let read = match rule.check {
                Check::ProviderCredential => provider_form::read_at(part),
                _ => Read::Unsure,
            };
            let matched = match read {
                Read::Match { name_end, end } => Match {
                    start: 0,
                    end,
                    name: Some((0, name_end)),
                    group: None,
                },
                Read::NoMatch => continue,
                Read::Unsure => match rule.anchored().and_then(|a| a.captures(part)) {
                    Some(caps) => Match::of(rule, &caps),
                    None => continue,
                },
            };
            let mut add = self.taker(view, index, start, found, open);
            resume = resume.max(start + take(rule, part, &matched, 0, &mut add));
        }
    }

    /// Windows of a text of `len` bytes around the triggers the first pass found in it, or the
    /// keywords found in it (`(position, rules)`, in order): each keyword holding a trigger
    /// lies within the pass's reach of it, so these windows hold [`WINDOW_BEFORE`] and
    /// [`WINDOW_AFTER`] bytes around every keyword.
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
            let start = at.saturating_sub(WINDOW_BEFORE + self.first.reach);
            // The trigger itself is no longer than the reach either.
            let end = (at + 2 * self.first.reach + WINDOW_AFTER).min(len);
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
        let mut bits = mask;
        while bits != 0 {
            let index = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            self.run_rule(view, index, from, to, found, open);
        }
    }

    /// Runs rule `index` on `view.text[from..to]`, adding the raw spans of what its checks keep.
    fn run_rule(
        &self,
        view: &View,
        index: usize,
        from: usize,
        to: usize,
        found: &mut Vec<Hit>,
        open: &mut bool,
    ) {
        let rule = &self.rules[index];
        let mut add = self.taker(view, index, from, found, open);
        search(rule, &view.text[from..to], &mut add);
    }

    /// What takes a match of rule `index` in `view.text[from..]` (offsets in that part): it
    /// returns where in the part the finding ends (a private key runs past its BEGIN line), or
    /// `None` when the checks reject it.
    fn taker<'a>(
        &'a self,
        view: &'a View,
        index: usize,
        from: usize,
        found: &'a mut Vec<Hit>,
        open: &'a mut bool,
    ) -> impl FnMut(usize, usize, Option<(usize, usize)>) -> Option<usize> + 'a {
        let text = &view.text[..];
        let rule = &self.rules[index];
        move |start: usize, end: usize, name: Option<(usize, usize)>| {
            let (start, end) = (from + start, from + end);
            let name = name.map(|(s, e)| (from + s, from + e));
            if !check(rule.check, text, start, end, name) {
                return None;
            }
            let end = if matches!(rule.check, Check::KeyBlock) {
                let (block_end, ended) = key_block_end(text, end);
                // A whole block with no key in it (`BEGIN ... anything ... END`) is a
                // placeholder; a block cut off is taken whatever it holds (the key may follow
                // on the next lines of a plain-text file).
                if ended && !holds_key_material(&text[end..block_end]) {
                    return None;
                }
                *open |= !ended && block_end == text.len();
                block_end
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

    /// Redacts what `scan` found in `line`, then what a scan of the result finds (twice at
    /// most): a redaction changes what stands around a value, and a judgement that read the
    /// value as part of something longer (`ghp_...+AKIA...` as one base64 run) may read it
    /// alone now. Only lines that held a secret are scanned again.
    pub fn redact_scanned<'a>(
        &self,
        line: &'a [u8],
        scan: &LineScan,
    ) -> (Cow<'a, [u8]>, Vec<&'static str>) {
        let (mut out, mut rules) = self.redact_once(line, scan);
        for _ in 0..2 {
            if rules.is_empty() || self.expired() {
                break;
            }
            let again = self.scan(&out);
            if again.hits.is_empty() {
                break;
            }
            let (next, more) = self.redact_once(&out, &again);
            out = Cow::Owned(next.into_owned());
            rules.extend(more);
        }
        (out, rules)
    }

    /// Redacts what `scan` found in `line`, once.
    fn redact_once<'a>(
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

/// The matches of `rule` in `part`, each offered to `add` (secret span, name span) which says
/// where a kept finding ends. Every search starts after the previous one's start, and beyond
/// what was taken: no byte is read again from each keyword, so the time is linear in the text.
fn search(
    rule: &Compiled,
    part: &[u8],
    add: &mut impl FnMut(usize, usize, Option<(usize, usize)>) -> Option<usize>,
) {
    let mut at = 0;
    while at <= part.len() {
        if matches!(rule.secret, Secret::Group(0)) {
            let Some(m) = rule.regex().find_at(part, at) else {
                count_work(part.len() - at);
                break;
            };
            count_work(m.end() - at);
            let taken = add(m.start(), m.end(), None).unwrap_or(m.end());
            at = taken.max(m.end()).max(m.start() + 1);
            continue;
        }
        let Some(caps) = rule.regex().captures_at(part, at) else {
            count_work(part.len() - at);
            break;
        };
        at = take(rule, part, &Match::of(rule, &caps), at, add);
    }
}

/// A rule's match: its span, its name (group 1) and the group that holds its secret, if the
/// rule names one.
struct Match {
    start: usize,
    end: usize,
    name: Option<(usize, usize)>,
    group: Option<(usize, usize)>,
}

impl Match {
    fn of(rule: &Compiled, caps: &regex::bytes::Captures) -> Match {
        let whole = caps.get(0).expect("group 0 always matches");
        let span = |m: regex::bytes::Match| (m.start(), m.end());
        Match {
            start: whole.start(),
            end: whole.end(),
            name: caps.get(1).map(span),
            group: match rule.secret {
                Secret::Group(group) => caps.get(group).map(span),
                Secret::Value(..) => None,
            },
        }
    }
}

/// Offers the match `found` of `rule` in `part` (searched from `at`) to `add`, and says where
/// the next search starts.
fn take(
    rule: &Compiled,
    part: &[u8],
    found: &Match,
    at: usize,
    add: &mut impl FnMut(usize, usize, Option<(usize, usize)>) -> Option<usize>,
) -> usize {
    count_work(found.end - at);
    let value = match rule.secret {
        Secret::Group(_) => found.group,
        Secret::Value(byte, min) => {
            let len = part[found.end..]
                .iter()
                .take(MAX_VALUE + 1)
                .take_while(|&&b| byte(b))
                .count();
            count_work(len);
            (len >= min).then_some((found.end, found.end + len))
        }
    };
    let taken = value.and_then(|(start, end)| add(start, end, found.name));
    match (taken, value) {
        (Some(_), Some((_, end))) => end.max(found.end),
        // A rejected match (`KEY-----:DB_PASSWORD=...` is no secret-like name) may hide a
        // good one in its value: search again from there.
        (None, Some((start, _))) => start,
        _ => found.end,
    }
    .max(found.start + 1)
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
    if memchr::memchr_iter(b'[', value).any(|i| value[i..].starts_with(b"[REDACTED:")) {
        return false;
    }
    match check {
        Check::KeyBlock | Check::Literal => true,
        Check::None => !entropy::placeholder(value),
        Check::Judged(_)
        | Check::GoogleKey
        | Check::AwsKeyId
        | Check::Slack
        | Check::NoLetterBefore => family_check(check, text, start, end),
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
        Check::Assignment => assignment(text, start, end, name),
        Check::SpacedAssignment => {
            entropy::spaced_value(value) && assignment(text, start, end, name)
        }
        Check::ProviderCredential => name.is_some_and(|(s, e)| {
            let s = name_start(text, s, e);
            // (Nor a label an earlier redaction left: `[REDACTED:aws-access-token]`.)
            !text[..s].ends_with(b"REDACTED:")
                && provider_credential_name(&text[s..e], word_before(text, s))
                && entropy::generated_value(value)
                && provider_rules::TIER.keeps_assignment(text, s..end, start..end)
        }),
        Check::BasicAuth => basic_auth(value),
        Check::Base64PrivateKey => base64_private_key(value),
        Check::Password => cli_password(value),
        Check::UrlPassword => url_password(value),
        Check::Near(words, window) => {
            stands_alone(text, start, end, word_byte) && near(text, start, end, words, window)
        }
    }
}

/// An assignment: a secret-like name (capture 1), a value that passes the value test and
/// generic-api-key's allow-lists for assignments (provider tier).
fn assignment(text: &[u8], start: usize, end: usize, name: Option<(usize, usize)>) -> bool {
    let value = &text[start..end];
    name.is_some_and(|(s, e)| {
        let s = name_start(text, s, e);
        let name = &text[s..e];
        (secret_name(name) || provider_key_name(name) && entropy::spaced_value(value))
            && entropy::secret_value(value)
            && provider_rules::TIER.keeps_assignment(text, s..end, start..end)
    })
}

/// Where the name `text[s..e]` a pattern matched starts: in a JSON line's raw text a name may
/// follow an escape (`\\nDB_PASSWORD=`, `\\nboxSECRET`), and the escape's letter is no part of it.
fn name_start(text: &[u8], s: usize, e: usize) -> usize {
    if s > 0 && text[s - 1] == b'\\' && s < e {
        s + 1
    } else {
        s
    }
}

/// The word before a name that is only credential words (`bugsnag` in `bugsnag secret KEY
/// <value>`): on the same line, past spaces and the credential words themselves.
fn word_before(text: &[u8], mut at: usize) -> Option<&[u8]> {
    for _ in 0..3 {
        let end = at
            - text[..at]
                .iter()
                .rev()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
        let start = end
            - text[..end]
                .iter()
                .rev()
                .take_while(|&&b| name_byte(b) || b == b':')
                .count();
        // (In a JSON line's raw text a word may follow an escape: `\ngpg: key ...`.)
        let escaped = start > 0 && text[start - 1] == b'\\' && end - start > 1;
        let word = &text[start + usize::from(escaped)..end];
        if word.is_empty() || end == at {
            return None;
        }
        if !provider_credential_name(word, None) && !only_credential_words(word) {
            return Some(word);
        }
        at = start;
    }
    None
}

/// The checks of token families that also ask what the provider tier's rule of the family judges, or
/// look at the bytes around the match.
fn family_check(kind: Check, text: &[u8], start: usize, end: usize) -> bool {
    let value = &text[start..end];
    let letter_before = start
        .checked_sub(1)
        .is_some_and(|i| text[i].is_ascii_alphabetic());
    match kind {
        Check::Judged(id) => {
            !entropy::placeholder(value) && provider_rules::TIER.keeps(id, text, start..end)
        }
        Check::GoogleKey => {
            let longer = text[end..]
                .iter()
                .take(5)
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                .count();
            !letter_before
                && longer < 5
                && family_check(Check::Judged("gcp-api-key"), text, start, end)
        }
        Check::AwsKeyId => {
            let capital = |i: Option<&u8>| i.is_some_and(u8::is_ascii_uppercase);
            let apart =
                !capital(start.checked_sub(1).and_then(|i| text.get(i))) && !capital(text.get(end));
            (value.iter().any(u8::is_ascii_digit) || apart)
                && family_check(Check::Judged("aws-access-token"), text, start, end)
        }
        Check::Slack => {
            let body = value
                .iter()
                .position(|&b| b == b'-')
                .map_or(value, |dash| &value[dash + 1..]);
            body.iter().any(u8::is_ascii_alphabetic) && check(Check::Mixed, text, start, end, None)
        }
        Check::NoLetterBefore => !letter_before && check(Check::Mixed, text, start, end, None),
        _ => check(kind, text, start, end, None),
    }
}

/// Whether the body of a private key block (up to its END line) holds key material: 24 base64
/// characters or more besides the END line.
fn holds_key_material(body: &[u8]) -> bool {
    let end = KEY_END.find(body).map_or(body.len(), |m| m.start());
    body[..end].iter().filter(|&&b| base64_byte(b)).count() >= 24
}

/// AWS's and others' documented example values.
fn example(value: &[u8]) -> bool {
    value.windows(7).any(|w| w.eq_ignore_ascii_case(b"example"))
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
            b'$' | b'%' | b'<' | b'{' | b'-' | b'/' | b'~' | b'`' | b'#' | b'@'
        )
        && !entropy::placeholder(value)
        // (Templates and names of passwords: `#{datastore[DBPASSWORD]}`, `myPassword`.)
        && !value.contains(&b'{')
        && memchr::memmem::find(&lower, b"password").is_none()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules tried at names: the name-and-operator, the name-and-spaces and the
    /// provider-credential forms of secret-assignment, and every keyword of their alternation
    /// holds a trigger of the first pass (else a name holding only that keyword would never be
    /// tried; `access` is tried where written `ACCESS`, a trigger kept in its case).
    #[test]
    fn name_led_rules_are_tried_at_every_name_their_pattern_can_match() {
        let scanner = Scanner::new(vec![]);
        let led: Vec<&Compiled> = scanner
            .rules
            .iter()
            .enumerate()
            .filter(|(i, _)| scanner.name_led & (1 << i) != 0)
            .map(|(_, r)| r)
            .collect();
        assert_eq!(led.len(), 3);
        for rule in led {
            assert_eq!(rule.name, "secret-assignment");
            let pattern = &rule.pattern;
            let words = &pattern
                [NAME_LED.len()..pattern[NAME_LED.len()..].find(')').unwrap() + NAME_LED.len()];
            for word in words.split('|') {
                let word = word.replace("_?", "").to_ascii_lowercase();
                let cased = RAW_TRIGGERS.iter().map(|t| t.to_ascii_lowercase());
                assert!(
                    TRIGGERS.iter().any(|t| word.contains(t))
                        || cased.into_iter().any(|t| word == t),
                    "{word} of {pattern} holds no trigger"
                );
            }
        }
    }

    /// Tried at names, a name-led rule finds what a search through the whole text finds, on
    /// texts mixed from names, operators, quotes, escapes, values and look-alikes.
    #[test]
    fn tries_at_names_find_what_a_search_finds() {
        let scanner = Scanner::new(vec![]);
        let pieces = [
            "DB_PASSWORD",
            "api_key",
            "token",
            "x.auth",
            "tokens",
            "author",
            "KEY-----",
            "monkey",
            "=",
            ":",
            "::=",
            " := ",
            "=>",
            " ",
            "\t",
            "\"",
            "'",
            "\\n",
            "string ",
            ".",
            "-",
            "Zq8vN3xR7tLm2KpW9s",
            "Hq4bT9zLw2XcV7nR5mQ",
            "SECRET_KEY=Zq8vN3xR7tLm2KpW9s",
            "\"api_token\": \"Hq4bT9zLw2XcV7nR5mQ\"",
            "Password   Qm7ZkW2pLx9RtV4nHs8JcY3d",
            "changeme",
            "$",
            "\n",
            "a_b_c",
            "bugsnag",
            "ACCESS",
            "cloudplanSECRET",
            "9e9264cd3603fd4c56939740272ddce7",
            "dd6ef3ae-06a8-9e66-5af0-189ef1714401",
        ];
        let mut seed = 11u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 16) as usize
        };
        let mut compared = 0;
        for case in 0..1500 {
            let text: String = (0..5 + case % 40)
                .map(|_| pieces[next() % pieces.len()])
                .collect();
            let view = View::raw(text.as_bytes(), 0, text.len());
            let points: Vec<(usize, Mask)> = scanner
                .first
                .builtin_keywords(text.as_bytes())
                .map(|(start, _, rules)| (start, rules))
                .collect();
            let mut bits = scanner.name_led;
            while bits != 0 {
                let index = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (mut searched, mut tried) = (Vec::new(), Vec::new());
                let mut open = false;
                scanner.run_rule(&view, index, 0, text.len(), &mut searched, &mut open);
                scanner.run_at_names(&view, index, &points, &mut tried, &mut open);
                assert_eq!(tried, searched, "rule {index} in {text:?}");
                compared += searched.len();
            }
        }
        assert!(compared > 100, "only {compared} findings compared");
    }

    /// Rules compile on first use, so a test compiles every one of them.
    #[test]
    fn every_rule_compiles() {
        let scanner = Scanner::new(vec!["ccsync-literal-0123456789".into()]);
        assert!(scanner.rules.len() > 80);
        for rule in &scanner.rules {
            assert!(rule.regex().captures_len() >= 1, "{}", rule.name);
            assert_eq!(rule.anchored().is_some(), rule.led_by_name);
        }
    }

    /// A name longer than the windows the other rules read (which had cut it) is read whole.
    #[test]
    fn a_long_name_is_read_whole() {
        let scanner = Scanner::new(vec![]);
        let line = format!("export {}_API_TOKEN=Hq4bT9zLw2XcV7nR5m", "A".repeat(900));
        let (out, rules) = scanner.redact_line(&line);
        assert_eq!(rules, ["secret-assignment"]);
        assert!(!out.contains("Hq4bT9zLw2XcV7nR5m"), "{out}");
    }
}

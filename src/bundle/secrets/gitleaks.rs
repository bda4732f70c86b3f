//! The second tier of the scan: gitleaks' maintained rule set (`gitleaks/gitleaks.toml`, MIT,
//! vendored unmodified with its licence; `gitleaks/VERSION` names the commit), loaded as data.
//!
//! It runs beside the built-in rules, on the same decoded and normalised views, and only where
//! one of a rule's keywords occurs (found by the scan's one keyword pass, `super::first_pass`, as
//! gitleaks gates its rules): each rule runs in windows around its own keywords
//! ([`Tier::find_near`]), so the work per line stays bounded
//! by the line's length times a constant. A match is kept as gitleaks keeps it (the rule's secret
//! group, its entropy threshold, its and the global allow-lists and stop-words) and only when it
//! is no placeholder ([`super::entropy::placeholder`]).

use std::sync::{LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

use super::entropy;

const CONFIG: &str = include_str!("gitleaks/gitleaks.toml");

/// Rules left out on purpose: `generic-api-key` redacts identifiers and placeholders that the
/// built-in secret-assignment rule, which reads the value's name and shape, leaves alone.
const EXCLUDED: &[&str] = &["generic-api-key"];

/// How far before and after a keyword a rule looks (its matches hold the keyword or follow it,
/// after a name of at most some 50 characters); a match that reaches a window's end is read on
/// to its true end.
const WINDOW_BEFORE: usize = 128;
const WINDOW_AFTER: usize = 320;

#[derive(Deserialize)]
struct Config {
    allowlist: Option<AllowDef>,
    rules: Vec<RuleDef>,
}

#[derive(Deserialize)]
struct RuleDef {
    id: String,
    regex: Option<String>,
    path: Option<String>,
    #[serde(rename = "secretGroup")]
    secret_group: Option<usize>,
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    allowlists: Vec<AllowDef>,
}

#[derive(Deserialize)]
struct AllowDef {
    #[serde(rename = "regexTarget")]
    regex_target: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    condition: Option<String>,
    #[serde(default)]
    paths: Vec<String>,
}

/// What an allow-list's regexes are matched against.
#[derive(Clone, Copy)]
enum Target {
    Secret,
    Match,
    Line,
}

struct Allow {
    target: Target,
    regexes: Vec<Regex>,
    /// Lower case.
    stopwords: Vec<String>,
}

pub struct Rule {
    pub id: &'static str,
    pattern: String,
    /// Compiled when its keyword first occurs: most rules never run in a session, and compiling
    /// them all would cost a tenth of a second at every start.
    /// `None`: the regex crate cannot run it (a test checks that every rule of the vendored
    /// file compiles).
    compiled: OnceLock<Option<Regex>>,
    /// 0: the first group that matched, or the whole match when there is none (as gitleaks).
    secret_group: usize,
    entropy: f64,
    allows: Vec<Allow>,
}

impl Rule {
    fn regex(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| compile(&self.pattern).ok())
            .as_ref()
    }

    /// The secret in a match, as gitleaks takes it: the rule's secret group, else its first
    /// non-empty group, else the whole match.
    fn secret<'t>(&self, caps: &regex::bytes::Captures<'t>) -> regex::bytes::Match<'t> {
        let whole = caps.get(0).expect("group 0 always matches");
        if self.secret_group > 0 {
            caps.get(self.secret_group)
        } else {
            caps.iter().skip(1).flatten().find(|m| !m.is_empty())
        }
        .unwrap_or(whole)
    }

    /// Whether the rule's pattern matches somewhere in `text` (for tests that check a sample
    /// they drew is one the rule describes).
    pub fn is_match(&self, text: &[u8]) -> bool {
        self.regex().is_some_and(|r| r.is_match(text))
    }
}

/// A keyword of the rule set found in a text: its byte range and its index in
/// [`Tier::keywords`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeywordHit {
    pub start: usize,
    pub end: usize,
    pub keyword: u16,
}

/// The loaded rule set.
pub struct Tier {
    pub rules: Vec<Rule>,
    keywords: AhoCorasick,
    /// The keywords the automaton looks for, lower case, in its order.
    keyword_list: Vec<String>,
    /// For each keyword, the rules it gates.
    keyword_rules: Vec<Vec<u16>>,
    global: Vec<Allow>,
    /// Rules of the file that are not run, with why (docs/secrets.md lists them).
    pub skipped: Vec<(String, String)>,
    /// The rules not run but for their file path (`generic-api-key`, `jwt`, ...), kept for
    /// tests that ask whether gitleaks would report a text at all.
    set_aside: Vec<Rule>,
}

/// The rule set, parsed and compiled once.
pub static TIER: LazyLock<Tier> = LazyLock::new(Tier::load);

/// Compiles a Go (RE2) pattern: ASCII classes as in Go (`\w`, `\s`, `\b`, `\d`), falling back to
/// Unicode mode for patterns that hold non-ASCII literals.
fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    let build = |unicode: bool| {
        RegexBuilder::new(pattern)
            .unicode(unicode)
            .size_limit(32 << 20)
            .dfa_size_limit(32 << 20)
            .build()
    };
    build(false).or_else(|_| build(true))
}

fn allow_of(def: &AllowDef) -> Option<Allow> {
    // Paths never apply to a transcript: an allow-list that needs one never allows anything,
    // and one that needs any of its parts keeps its other parts.
    if !def.paths.is_empty() && def.condition.as_deref() == Some("AND") {
        return None;
    }
    let target = match def.regex_target.as_deref() {
        Some("match") => Target::Match,
        Some("line") => Target::Line,
        _ => Target::Secret,
    };
    Some(Allow {
        target,
        regexes: def.regexes.iter().filter_map(|r| compile(r).ok()).collect(),
        stopwords: def
            .stopwords
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect(),
    })
}

/// Why a rule of the file is not run, if it is not. Two-letter keywords (`ey`, `sk`, `s.`, `q~`)
/// occur in nearly every line and would make the gate useless: a rule keeps its longer keywords,
/// and one that has none (jwt, twilio-api-key, azure-ad-client-secret) is left to the built-in
/// rules, which cover these families.
fn skip_reason(def: &mut RuleDef) -> Option<String> {
    let all = def.keywords.len();
    def.keywords.retain(|k| k.len() >= 3);
    if EXCLUDED.contains(&def.id.as_str()) {
        Some("false alarms the built-in secret-assignment rule avoids".to_owned())
    } else if def.path.is_some() {
        Some("needs a file path, which a transcript line has not".to_owned())
    } else if def.keywords.is_empty() && all > 0 {
        Some("its only keywords are two letters long (a built-in rule covers it)".to_owned())
    } else if def.keywords.is_empty() {
        Some("has no keywords to gate it".to_owned())
    } else {
        None
    }
}

/// A rule of the file with `pattern` (compiled on first use).
fn rule_of(def: &RuleDef, pattern: &str) -> Rule {
    Rule {
        id: Box::leak(def.id.clone().into_boxed_str()),
        pattern: pattern.to_owned(),
        compiled: OnceLock::new(),
        secret_group: def.secret_group.unwrap_or(0),
        entropy: def.entropy.unwrap_or(0.0),
        allows: def.allowlists.iter().filter_map(allow_of).collect(),
    }
}

impl Tier {
    fn load() -> Tier {
        let config: Config = toml::from_str(CONFIG).expect("the vendored gitleaks.toml parses");
        let global = config.allowlist.iter().filter_map(allow_of).collect();
        let mut rules = Vec::new();
        let mut skipped = Vec::new();
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<u16>> = Vec::new();
        let mut set_aside = Vec::new();
        for mut def in config.rules {
            let why = skip_reason(&mut def);
            if let Some(why) = why {
                if def.path.is_none() {
                    set_aside.extend(def.regex.as_deref().map(|pattern| rule_of(&def, pattern)));
                }
                skipped.push((def.id, why));
                continue;
            }
            let Some(pattern) = def.regex.as_deref() else {
                skipped.push((def.id, "has no regex".to_owned()));
                continue;
            };
            let index = u16::try_from(rules.len()).expect("fewer than 65536 rules");
            for word in &def.keywords {
                let word = word.to_ascii_lowercase();
                match keywords.iter().position(|k| *k == word) {
                    Some(at) => keyword_rules[at].push(index),
                    None => {
                        keywords.push(word);
                        keyword_rules.push(vec![index]);
                    }
                }
            }
            rules.push(rule_of(&def, pattern));
        }
        let keyword_list = keywords;
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::Standard)
            .build(&keyword_list)
            .expect("keywords compile");
        Tier {
            rules,
            keywords,
            keyword_list,
            keyword_rules,
            global,
            skipped,
            set_aside,
        }
    }

    /// Whether gitleaks' judgement of rule `id` (its entropy threshold, its and the global
    /// allow-lists and stop-words) keeps `text[secret]` as a secret: the built-in rules of the
    /// same family ask it, so that values gitleaks knows to be public by design (Google's
    /// browser keys in its `gcp-api-key` allow-list) stay. True when there is no such rule.
    pub fn keeps(&self, id: &str, text: &[u8], secret: std::ops::Range<usize>) -> bool {
        match self.rule(id) {
            Some(rule) => self.keep(rule, text, secret.clone(), secret),
            None => true,
        }
    }

    /// Whether gitleaks' `generic-api-key` allow-lists keep an assignment the built-in
    /// `secret-assignment` rule found (`text[whole]` from its name to its value's end): names
    /// of things that are not secrets there (`csrf_token`, `public_key`, `key_id`, ...), lines
    /// it knows, and the values it lists as public (its stop-words that hold a digit; its
    /// stop-words that are words would reject passwords that hold them). The rule's entropy
    /// threshold is not applied: the built-in value test judges that.
    pub fn keeps_assignment(
        &self,
        text: &[u8],
        whole: std::ops::Range<usize>,
        secret: std::ops::Range<usize>,
    ) -> bool {
        let Some(rule) = self.set_aside.iter().find(|r| r.id == "generic-api-key") else {
            return true;
        };
        let value = text[secret].to_ascii_lowercase();
        let line = line_of(text, whole.clone());
        !rule.allows.iter().any(|allow| {
            let target = match allow.target {
                Target::Secret => return false,
                Target::Match => &text[whole.clone()],
                Target::Line => line,
            };
            allow.regexes.iter().any(|r| r.is_match(target))
                || allow.stopwords.iter().any(|w| {
                    w.bytes().any(|b| b.is_ascii_digit())
                        && memchr::memmem::find(&value, w.as_bytes()).is_some()
                })
        })
    }

    /// Whether any of gitleaks' rules, those the scan sets aside (`generic-api-key`, `jwt`, ...)
    /// included, reports something in `text`, each rule over the whole text as gitleaks runs it
    /// (for tests: a negative example of one provider's rule that gitleaks still reports is a
    /// secret-shaped value, not a placeholder).
    pub fn reports(&self, text: &[u8]) -> bool {
        self.rules.iter().chain(&self.set_aside).any(|rule| {
            let Some(regex) = rule.regex() else {
                return false;
            };
            regex.captures_iter(text).any(|caps| {
                let whole = caps.get(0).expect("group 0 always matches");
                let secret = rule.secret(&caps);
                !secret.is_empty() && self.keep(rule, text, whole.range(), secret.range())
            })
        })
    }

    /// The rule named `id`, if it runs.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The keywords (lower case), indexed as [`KeywordHit::keyword`] names them: the scan's
    /// first pass looks for them beside the built-in rules' triggers.
    pub fn keywords(&self) -> &[String] {
        &self.keyword_list
    }

    /// Where keywords occur in `text` (overlaps included): for text the first pass did not
    /// read (normalised text, which may reveal keywords its raw text hides).
    pub fn keyword_hits(&self, text: &[u8]) -> Vec<KeywordHit> {
        self.keywords
            .find_overlapping_iter(text)
            .map(|m| KeywordHit {
                start: m.start(),
                end: m.end(),
                keyword: u16::try_from(m.pattern().as_usize()).expect("few keywords"),
            })
            .collect()
    }

    /// The matches of the rules in `text`: `(start, end, rule)` of each kept secret.
    pub fn find(&self, text: &[u8], found: &mut Vec<(usize, usize, u16)>) {
        let hits = self.keyword_hits(text);
        self.find_near(text, &hits, found);
    }

    /// The matches of the rules in windows of `text` around `hits` (keywords found in it).
    pub fn find_near(
        &self,
        text: &[u8],
        hits: &[KeywordHit],
        found: &mut Vec<(usize, usize, u16)>,
    ) {
        // (rule, window start, window end), from every keyword found.
        let mut windows: Vec<(u16, usize, usize)> = Vec::new();
        for hit in hits {
            let start = hit.start.saturating_sub(WINDOW_BEFORE);
            let end = (hit.end + WINDOW_AFTER).min(text.len());
            for &rule in &self.keyword_rules[usize::from(hit.keyword)] {
                windows.push((rule, start, end));
            }
        }
        windows.sort_unstable();
        let mut merged: Vec<(u16, usize, usize)> = Vec::with_capacity(windows.len());
        for w in windows {
            match merged.last_mut() {
                Some(last) if last.0 == w.0 && w.1 <= last.2 => last.2 = last.2.max(w.2),
                _ => merged.push(w),
            }
        }
        for (rule, start, end) in merged {
            self.run(rule, text, start, end, found);
        }
    }

    /// Runs one rule on `text[start..end]` (with the text before as context for `\b`).
    fn run(
        &self,
        index: u16,
        text: &[u8],
        start: usize,
        end: usize,
        found: &mut Vec<(usize, usize, u16)>,
    ) {
        let rule = &self.rules[usize::from(index)];
        let Some(regex) = rule.regex() else {
            return;
        };
        let mut at = start;
        while at <= end {
            let Some(mut caps) = regex.captures_at(&text[..end], at) else {
                break;
            };
            if caps
                .get(0)
                .is_some_and(|m| m.end() == end && end < text.len())
            {
                // Cut by the window: the match read on from where it starts.
                let from = caps.get(0).map_or(at, |m| m.start());
                match regex.captures_at(text, from) {
                    Some(longer) => caps = longer,
                    None => break,
                }
            }
            let whole = caps.get(0).expect("group 0 always matches");
            let secret = rule.secret(&caps);
            if !secret.is_empty() && self.keep(rule, text, whole.range(), secret.range()) {
                found.push((secret.start(), secret.end(), index));
            }
            at = whole.end().max(whole.start() + 1);
        }
    }

    /// Whether a match is a secret as gitleaks judges it, and no placeholder.
    fn keep(
        &self,
        rule: &Rule,
        text: &[u8],
        whole: std::ops::Range<usize>,
        secret: std::ops::Range<usize>,
    ) -> bool {
        let value = &text[secret];
        if rule.entropy > 0.0 && entropy::shannon(value) < rule.entropy {
            return false;
        }
        if entropy::placeholder(value) {
            return false;
        }
        let line = line_of(text, whole.clone());
        let lower = value.to_ascii_lowercase();
        !rule.allows.iter().chain(&self.global).any(|allow| {
            let target = match allow.target {
                Target::Secret => value,
                Target::Match => &text[whole.clone()],
                Target::Line => line,
            };
            allow.regexes.iter().any(|r| r.is_match(target))
                || allow
                    .stopwords
                    .iter()
                    .any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some())
        })
    }
}

/// The line of `text` that `range` lies in.
fn line_of(text: &[u8], range: std::ops::Range<usize>) -> &[u8] {
    let start = text[..range.start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = text[range.end..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |i| range.end + i);
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_rule_set_loads_and_almost_all_of_it_runs() {
        let tier = &*TIER;
        for (id, why) in &tier.skipped {
            eprintln!("skipped {id}: {why}");
        }
        assert!(tier.rules.len() >= 200, "{} rules", tier.rules.len());
        let failing: Vec<_> = tier
            .rules
            .iter()
            .filter(|r| r.regex().is_none())
            .map(|r| r.id)
            .collect();
        assert!(failing.is_empty(), "the regex crate cannot run {failing:?}");
        assert!(tier.skipped.len() <= 10, "{:?}", tier.skipped);
    }

    #[test]
    fn a_rule_finds_its_secret_and_leaves_a_placeholder() {
        let mut found = Vec::new();
        let line = b"export DOPPLER_TOKEN=dp.pt.k3Jd9sLq0Zx7Vb2Nm4Pa8Rt6Yc1We5Ui0Oo9Kl3Hg7Fd";
        TIER.find(line, &mut found);
        assert!(found
            .iter()
            .any(|f| TIER.rules[usize::from(f.2)].id == "doppler-api-token"));
        found.clear();
        TIER.find(
            b"token: dp.pt.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            &mut found,
        );
        assert!(found.is_empty());
    }
}

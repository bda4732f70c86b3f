//! An independent recall and false-alarm measure: gitleaks' own per-rule examples
//! (`secret_corpus/gitleaks_examples.jsonl`, extracted from its rule definitions: sample-secret
//! templates, true positives and false positives), with every value drawn afresh (template
//! classes sampled, the random-looking runs of literal examples redrawn with characters of the
//! same class, prefixes kept) and kept only when the rule's own pattern still describes it, then
//! placed in the 8 shapes a transcript holds text in. The same for the examples of Betterleaks
//! and Kingfisher where they are on this machine (see [`scanner_examples`]). Run with
//! `--nocapture` for the figures.

mod secret_corpus;

use std::collections::BTreeMap;

use ccsync::bundle::secrets::gitleaks::TIER;
use ccsync::bundle::secrets::{redact_file, Scanner};
use secret_corpus::{benign_lines, plant, Context, Rng, Secret, PLACES};

const EXAMPLES: &str = include_str!("secret_corpus/gitleaks_examples.jsonl");

/// The 21 common families (by rule id prefix); every other rule is the long tail.
const COMMON: &[&str] = &[
    "aws-",
    "github-",
    "gitlab-",
    "slack-",
    "stripe-",
    "gcp-",
    "google-",
    "openai-",
    "anthropic-",
    "npm-",
    "pypi-",
    "private-key",
    "jwt",
    "twilio-",
    "sendgrid-",
    "mailgun-",
    "huggingface-",
    "shopify-",
    "azure-",
    "datadog-",
    "heroku-",
];

/// Forms in which gitleaks' sample generator writes a secret next to its name.
const FORMS: &[&str] = &[
    "{i}_api_token = \"{s}\"",
    "{i}Token={s}",
    "{i}_token: '{s}'",
    "var {i}Token string = \"{s}\"",
    "{i}Token := `{s}`",
    "String {i}Token = \"{s}\";",
];

/// A string drawn from a pattern of literals and `[class]{n}` / `{n,m}` parts, or `None` for a
/// pattern this sampler does not read.
fn sample(rng: &mut Rng, pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let mut alphabet: Vec<char> = Vec::new();
        match chars[i] {
            '[' => {
                let end = i + chars[i..].iter().position(|&c| c == ']')?;
                let class = &chars[i + 1..end];
                let mut j = 0;
                while j < class.len() {
                    let c = if class[j] == '\\' {
                        j += 1;
                        match *class.get(j)? {
                            'w' => {
                                alphabet.extend(('a'..='z').chain('A'..='Z').chain('0'..='9'));
                                alphabet.push('_');
                                j += 1;
                                continue;
                            }
                            'd' => {
                                alphabet.extend('0'..='9');
                                j += 1;
                                continue;
                            }
                            c => c,
                        }
                    } else {
                        class[j]
                    };
                    if class.get(j + 1) == Some(&'-') && j + 2 < class.len() {
                        alphabet.extend(c..=class[j + 2]);
                        j += 3;
                    } else {
                        alphabet.push(c);
                        j += 1;
                    }
                }
                i = end + 1;
            }
            '\\' if chars.get(i + 1) == Some(&'d') => {
                alphabet.extend('0'..='9');
                i += 2;
            }
            '\\' => {
                out.push(*chars.get(i + 1)?);
                i += 2;
                continue;
            }
            '(' | ')' | '|' | '*' | '+' | '?' | '.' | '^' | '$' | '{' => return None,
            c => {
                out.push(c);
                i += 1;
                continue;
            }
        }
        let (mut lo, mut hi) = (1, 1);
        if chars.get(i) == Some(&'{') {
            let end = i + chars[i..].iter().position(|&c| c == '}')?;
            let q: String = chars[i + 1..end].iter().collect();
            let (a, b) = q.split_once(',').unwrap_or((&q, &q));
            lo = a.trim().parse().ok()?;
            hi = if b.trim().is_empty() {
                lo + 8
            } else {
                b.trim().parse().ok()?
            };
            i = end + 1;
        }
        let n = lo + rng.below(hi - lo + 1);
        let alphabet: String = alphabet.into_iter().collect();
        out.push_str(&rng.from(&alphabet, n));
    }
    Some(out)
}

/// `text` with each run of 16 or more letters and digits redrawn after its first 4 characters
/// (same class for each character), so no example is used as published.
fn redraw(rng: &mut Rng, text: &str) -> String {
    let mut out = String::new();
    for (run, alnum) in runs(text) {
        if !alnum || run.len() < 16 {
            out.push_str(run);
            continue;
        }
        out.push_str(&run[..4]);
        for c in run[4..].chars() {
            let class = match c {
                'a'..='f' if run.bytes().all(|b| b.is_ascii_hexdigit()) => "0123456789abcdef",
                '0'..='9' => "0123456789",
                'a'..='z' => "abcdefghijklmnopqrstuvwxyz",
                _ => "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            };
            out.push_str(&rng.from(class, 1));
        }
    }
    out
}

/// Maximal runs of ASCII letters and digits, and of everything else.
fn runs(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for i in 1..=bytes.len() {
        if i == bytes.len()
            || bytes[i].is_ascii_alphanumeric() != bytes[start].is_ascii_alphanumeric()
        {
            out.push((&text[start..i], bytes[start].is_ascii_alphanumeric()));
            start = i;
        }
    }
    out
}

/// A rule's pattern, as the regex crate runs a Go or Hyperscan pattern (ASCII classes first).
fn compile(pattern: &str) -> Option<regex::bytes::Regex> {
    let build = |unicode: bool| {
        regex::bytes::RegexBuilder::new(pattern)
            .unicode(unicode)
            .size_limit(64 << 20)
            .build()
    };
    build(false).or_else(|_| build(true)).ok()
}

/// One planted positive: its source's rule, the text placed, the value that must go (empty: a
/// literal example, which counts as redacted when anything in it is found).
struct Positive {
    rule: String,
    text: String,
    value: String,
}

/// The planted positives and the negatives of `rows` (JSON lines). `is_match` says whether a
/// rule's own pattern describes a drawn text (`None`: the rule is not measured).
fn corpus(
    rng: &mut Rng,
    rows: &str,
    is_match: &dyn Fn(&serde_json::Value, &str) -> Option<bool>,
) -> (Vec<Positive>, Vec<String>) {
    let (mut positives, mut negatives) = (Vec::new(), Vec::new());
    for (n, line) in rows.lines().filter(|l| l.starts_with('{')).enumerate() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let rule = row["rule"].as_str().unwrap().to_owned();
        let kind = row["kind"].as_str().unwrap();
        if kind == "fp" {
            negatives.push(row["text"].as_str().unwrap().to_owned());
            continue;
        }
        // Several draws: the first the rule's pattern still describes is kept.
        for _ in 0..8 {
            let (text, value) = if kind == "gen" {
                let Some(value) = draw_template(rng, &row) else {
                    break;
                };
                let ident = row["ident"].as_str().unwrap();
                let text = FORMS[n % FORMS.len()]
                    .replace("{i}", ident)
                    .replace("{s}", &value);
                (text, value)
            } else {
                (redraw(rng, row["text"].as_str().unwrap()), String::new())
            };
            match is_match(&row, &text) {
                None => break,
                Some(true) => {
                    positives.push(Positive { rule, text, value });
                    break;
                }
                Some(false) => {}
            }
        }
    }
    (positives, negatives)
}

/// A value drawn from a row's sample-secret template, or `None` for one this sampler cannot
/// read.
fn draw_template(rng: &mut Rng, row: &serde_json::Value) -> Option<String> {
    let mut value = String::new();
    for part in row["parts"].as_array().unwrap() {
        let text = part[1].as_str().unwrap();
        match part[0].as_str().unwrap() {
            "l" => value.push_str(&redraw(rng, text)),
            _ => value.push_str(&sample(rng, text)?),
        }
    }
    Some(value)
}

fn scan(
    scanner: &Scanner,
    dir: &std::path::Path,
    content: &str,
    file: &str,
) -> (String, Vec<&'static str>) {
    let src = dir.join("sample");
    std::fs::write(&src, content).unwrap();
    let mut out = Vec::new();
    let findings = redact_file(&src, &mut out, scanner, file).unwrap();
    let rules = findings.iter().map(|f| f.rule).collect();
    (String::from_utf8(out).unwrap(), rules)
}

/// The provider a rule id names: gitleaks' and Betterleaks' `github-fine-grained-pat` ->
/// `github`, Kingfisher's `kingfisher.github.3` -> `github`.
fn family(rule: &str) -> String {
    let id = rule.strip_prefix("kingfisher.").unwrap_or(rule);
    id.split(['.', '-', '_']).next().unwrap_or(id).to_owned()
}

fn common(rule: &str) -> bool {
    let id = rule.strip_prefix("kingfisher.").unwrap_or(rule);
    COMMON
        .iter()
        .any(|p| id.starts_with(p.trim_end_matches('-')))
}

/// What one measurement found.
#[derive(Default)]
struct Figures {
    /// (planted, redacted) for common (true) and long tail (false).
    recall: BTreeMap<bool, (usize, usize)>,
    /// (planted, redacted) per provider.
    families: BTreeMap<String, (usize, usize)>,
    missed: BTreeMap<String, usize>,
    /// One missed text per rule (its first 100 characters).
    missed_example: BTreeMap<String, String>,
    false_by_rule: BTreeMap<&'static str, usize>,
    /// Redactions of negatives that gitleaks itself reports, by another of its rules (its
    /// `generic-api-key` and `jwt` included): one provider's negative example that is still a
    /// secret-shaped value (`AUTH_TOKEN=<40 random characters>`, a JWT), redacted by design.
    secret_shaped: BTreeMap<&'static str, usize>,
    alarms: BTreeMap<String, usize>,
    megabytes: f64,
}

impl Figures {
    fn pct(&self, common: bool) -> f64 {
        let (n, ok) = self.recall.get(&common).copied().unwrap_or_default();
        100.0 * ok as f64 / n.max(1) as f64
    }

    fn false_per_mb(&self) -> f64 {
        self.false_by_rule.values().sum::<usize>() as f64 / self.megabytes
    }

    fn print(&self, what: &str) {
        let count = |c: bool| self.recall.get(&c).copied().unwrap_or_default();
        println!(
            "{what}: recall common {:.1}% {:?}, long tail {:.1}% {:?}; {:.2} MB of negatives and \
             benign text: {:.2} false redactions per MB",
            self.pct(true),
            count(true),
            self.pct(false),
            count(false),
            self.megabytes,
            self.false_per_mb()
        );
        println!("{what}: missed placements by rule: {:?}", self.missed);
        println!(
            "{what}: missed, one text per rule: {:#?}",
            self.missed_example
        );
        println!("{what}: false redactions by rule: {:?}", self.false_by_rule);
        println!(
            "{what}: redactions of negatives gitleaks reports too: {:?} ({:.2} per \
             MB; {:.2} per MB counting them as false)",
            self.secret_shaped,
            self.secret_shaped.values().sum::<usize>() as f64 / self.megabytes,
            (self.secret_shaped.values().sum::<usize>()
                + self.false_by_rule.values().sum::<usize>()) as f64
                / self.megabytes
        );
        println!("{what}: negatives redacted: {:#?}", self.alarms);
        let partial: BTreeMap<_, _> = self.families.iter().filter(|(_, (n, ok))| ok < n).collect();
        println!(
            "{what}: {} providers, {} of them below 100%: {partial:?}",
            self.families.len(),
            partial.len()
        );
    }
}

/// Plants every positive and negative in the 8 shapes and scans them, with `benign` text.
fn measure(positives: &[Positive], negatives: &[String], benign: &str) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let scanner = Scanner::new(Vec::new());
    let mut figures = Figures::default();
    for (n, positive) in positives.iter().enumerate() {
        let literal = positive.value.is_empty();
        let secret = Secret {
            family: "sample",
            kind: "sample",
            text: positive.text.clone(),
            values: vec![if literal {
                positive.text.clone()
            } else {
                positive.value.clone()
            }],
            bare: None,
            multiline: positive.text.contains('\n'),
        };
        for place in PLACES {
            let sample = plant(&secret, place, Context::Plain, n);
            let (out, found) = scan(&scanner, dir.path(), &sample.content, &sample.file);
            // A literal example holds its secret somewhere in its text: redacted means found.
            let ok = if literal {
                !found.is_empty()
            } else {
                !sample.forbidden.iter().any(|f| out.contains(f.as_str()))
            };
            for entry in [
                figures.recall.entry(common(&positive.rule)).or_default(),
                figures.families.entry(family(&positive.rule)).or_default(),
            ] {
                entry.0 += 1;
                entry.1 += usize::from(ok);
            }
            if !ok {
                *figures.missed.entry(positive.rule.clone()).or_default() += 1;
                figures
                    .missed_example
                    .entry(positive.rule.clone())
                    .or_insert_with(|| positive.text.chars().take(100).collect());
            }
        }
    }
    let mut bytes = benign.len();
    for (n, text) in negatives.iter().enumerate() {
        let secret = Secret {
            family: "negative",
            kind: "negative",
            text: text.clone(),
            values: vec![text.clone()],
            bare: None,
            multiline: text.contains('\n'),
        };
        for place in PLACES {
            let sample = plant(&secret, place, Context::Plain, n);
            bytes += sample.content.len();
            let (_, found) = scan(&scanner, dir.path(), &sample.content, &sample.file);
            let counts = if TIER.reports(text.as_bytes()) {
                &mut figures.secret_shaped
            } else {
                &mut figures.false_by_rule
            };
            for rule in &found {
                *counts.entry(rule).or_default() += 1;
            }
            if !found.is_empty() {
                let shaped = if TIER.reports(text.as_bytes()) {
                    "(gitleaks reports it) "
                } else {
                    ""
                };
                let key = format!(
                    "{shaped}{found:?} {}",
                    text.chars().take(70).collect::<String>()
                );
                *figures.alarms.entry(key).or_default() += found.len();
            }
        }
    }
    let (_, benign_found) = scan(&scanner, dir.path(), benign, "benign.jsonl");
    for rule in benign_found {
        *figures.false_by_rule.entry(rule).or_default() += 1;
    }
    figures.megabytes = bytes as f64 / 1e6;
    figures
}

#[test]
fn gitleaks_examples_drawn_afresh_are_redacted_and_its_negatives_left_alone() {
    let mut rng = Rng::new(2026);
    let is_match = |row: &serde_json::Value, text: &str| {
        let rule = TIER.rule(row["rule"].as_str().unwrap())?;
        Some(rule.is_match(text.as_bytes()))
    };
    let (positives, negatives) = corpus(&mut rng, EXAMPLES, &is_match);
    let benign = benign_lines(11, 2_000_000).join("\n") + "\n";
    let figures = measure(&positives, &negatives, &benign);
    figures.print("gitleaks");
    let (common, tail) = (figures.pct(true), figures.pct(false));
    // Measured: see docs/secrets.md; the thresholds guard against regressions.
    assert!(
        common >= 99.0,
        "common recall {common:.1}%: {:?}",
        figures.missed
    );
    assert!(
        tail >= 98.0,
        "long-tail recall {tail:.1}%: {:?}",
        figures.missed
    );
    let per_mb = figures.false_per_mb();
    assert!(
        per_mb <= 2.0,
        "{per_mb:.2} false redactions per MB: {:?}",
        figures.false_by_rule
    );
    let all = figures
        .false_by_rule
        .values()
        .chain(figures.secret_shaped.values());
    let all_per_mb = all.sum::<usize>() as f64 / figures.megabytes;
    assert!(
        all_per_mb <= 10.0,
        "{all_per_mb:.2} redactions of negatives per MB"
    );
}

/// Where the examples of Betterleaks and Kingfisher are, if here: `CCSYNC_SCANNER_EXAMPLES`, else
/// `../shared/secret-examples/scanner_examples.jsonl` beside the repository (made by
/// `scripts/scanner_examples.py` from the two projects' rule files; not committed, as data taken
/// from other repositories is kept out of this one).
fn scanner_examples() -> Option<String> {
    let path = std::env::var_os("CCSYNC_SCANNER_EXAMPLES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/secret-examples/scanner_examples.jsonl")
        });
    std::fs::read_to_string(path).ok()
}

#[test]
fn betterleaks_and_kingfisher_examples_drawn_afresh_are_redacted_and_negatives_left_alone() {
    let Some(rows) = scanner_examples() else {
        println!("skipped: no scanner_examples.jsonl (set CCSYNC_SCANNER_EXAMPLES)");
        return;
    };
    let mut rng = Rng::new(2027);
    let mut patterns: BTreeMap<String, Option<regex::bytes::Regex>> = BTreeMap::new();
    let is_match = |row: &serde_json::Value, text: &str| {
        let pattern = row["pattern"].as_str()?;
        let regex = patterns
            .entry(pattern.to_owned())
            .or_insert_with(|| compile(pattern));
        Some(regex.as_ref()?.is_match(text.as_bytes()))
    };
    // (`patterns` is a cache the closure fills.)
    let is_match = std::cell::RefCell::new(is_match);
    let (positives, negatives) = corpus(&mut rng, &rows, &|row, text| {
        (is_match.borrow_mut())(row, text)
    });
    let benign = benign_lines(13, 2_000_000).join("\n") + "\n";
    let figures = measure(&positives, &negatives, &benign);
    figures.print("betterleaks+kingfisher");
    let (common, tail) = (figures.pct(true), figures.pct(false));
    // Measured (docs/secrets.md): short of the goals (95% / 85% / 2 per MB) on this
    // corpus; the thresholds guard against regressions.
    assert!(
        common >= 88.0,
        "common recall {common:.1}%: {:?}",
        figures.missed
    );
    assert!(
        tail >= 58.0,
        "long-tail recall {tail:.1}%: {:?}",
        figures.missed
    );
    let per_mb = figures.false_per_mb();
    assert!(
        per_mb <= 9.0,
        "{per_mb:.2} false redactions per MB: {:?}",
        figures.false_by_rule
    );
}

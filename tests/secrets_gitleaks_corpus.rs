//! Recall and false alarms of the scan on samples drawn from the provider rules' own data, and
//! (where they are on this machine) on independent examples.
//!
//! The committed corpus is generated the way gitleaks' `GenerateSampleSecrets` builds samples:
//! for every rule the provider tier runs (Betterleaks' rule set, vendored), an identifier from
//! the rule's keywords and a value drawn fresh from the rule's secret capture group
//! (`secret_corpus/regex_sample.rs`), written as code and configuration write them (`FORMS`),
//! kept when the rule's own pattern finds that value in it and its own filter keeps it (else
//! a sample of the whole pattern), then placed in the 8 shapes a transcript holds text in;
//! beside them a hand-written set of negatives (placeholders, names, public values) in the same
//! 8 shapes and 2 MB of ordinary output. The independent measure reads the public per-rule
//! examples of gitleaks, Betterleaks and Kingfisher from a file this repository does not hold
//! (see [`scanner_examples`]). Run with `--nocapture` for the figures.

#[path = "secret_corpus/regex_sample.rs"]
mod regex_sample;
mod secret_corpus;

use std::collections::BTreeMap;

use ccsync::bundle::secrets::provider_rules::TIER;
use ccsync::bundle::secrets::{redact_file, Scanner};
use secret_corpus::{benign_lines, plant, Context, Rng, Secret, PLACES};

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

/// `text` with every letter and digit in `span` (a rule's secret, as its pattern captures it)
/// drawn afresh from the same class (hex stays hex, case stays case) wherever the rule's
/// pattern (`matches`) allows another character there, the rest as written: a value drawn from
/// the rule's pattern in the example's own setting, not the example's value.
fn redraw_span(
    rng: &mut Rng,
    text: &str,
    span: std::ops::Range<usize>,
    matches: &dyn Fn(&str) -> bool,
) -> String {
    let secret = &text[span.clone()];
    let alnum = || secret.bytes().filter(u8::is_ascii_alphanumeric);
    let hex = alnum().all(|b| b.is_ascii_hexdigit()) && alnum().any(|b| b.is_ascii_alphabetic());
    let hex_digits = if alnum().any(|b| b.is_ascii_lowercase()) {
        "0123456789abcdef"
    } else {
        "0123456789ABCDEF"
    };
    let mut out = text.as_bytes().to_vec();
    for i in span {
        let class = match out[i] {
            c if hex && c.is_ascii_alphanumeric() => hex_digits,
            b'0'..=b'9' => "0123456789",
            b'a'..=b'z' => "abcdefghijklmnopqrstuvwxyz",
            b'A'..=b'Z' => "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            _ => continue,
        };
        // A character the pattern fixes (a prefix, a literal) stays as written.
        let written = out[i];
        for _ in 0..3 {
            out[i] = rng.from(class, 1).as_bytes()[0];
            if matches(std::str::from_utf8(&out).unwrap()) {
                break;
            }
            out[i] = written;
        }
    }
    String::from_utf8(out).unwrap()
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
    /// False for a companion rule's example (Betterleaks' `skipReport`, Kingfisher's
    /// `visible: false`): a client id, host or account name another rule's finding needs, which
    /// its own scanner never reports. It is counted apart from recall.
    reported: bool,
}

/// The planted positives and the negatives of `rows` (JSON lines). `is_match` says whether a
/// rule's own pattern describes a drawn text (`None`: the rule is not measured).
fn corpus(
    rng: &mut Rng,
    rows: &str,
    is_match: &dyn Fn(&serde_json::Value, &str) -> Option<bool>,
    secret_span: &dyn Fn(&serde_json::Value, &str) -> Option<std::ops::Range<usize>>,
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
                let example = row["text"].as_str().unwrap();
                let matches = |text: &str| is_match(&row, text) == Some(true);
                let text = match secret_span(&row, example) {
                    Some(span) if matches(example) => redraw_span(rng, example, span, &matches),
                    _ => redraw(rng, example),
                };
                (text, String::new())
            };
            match is_match(&row, &text) {
                None => break,
                Some(true) => {
                    let reported = row["reported"].as_bool().unwrap_or(true);
                    positives.push(Positive {
                        rule,
                        text,
                        value,
                        reported,
                    });
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
    /// (planted, redacted) per source of the examples (Kingfisher's ids start `kingfisher.`).
    sources: BTreeMap<&'static str, (usize, usize)>,
    /// (planted, redacted) per companion rule (`Positive::reported` false), not in `recall`.
    companions: BTreeMap<String, (usize, usize)>,
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
            "{what}: redactions of negatives a provider rule reports too: {:?} ({:.2} per \
             MB; {:.2} per MB counting them as false)",
            self.secret_shaped,
            self.secret_shaped.values().sum::<usize>() as f64 / self.megabytes,
            (self.secret_shaped.values().sum::<usize>()
                + self.false_by_rule.values().sum::<usize>()) as f64
                / self.megabytes
        );
        println!("{what}: negatives redacted: {:#?}", self.alarms);
        println!("{what}: by source (rule id prefix): {:?}", self.sources);
        let (n, ok) = self
            .companions
            .values()
            .fold((0, 0), |(n, ok), (a, b)| (n + a, ok + b));
        println!(
            "{what}: companion ids and hosts (not in recall), {ok} of {n} redacted: {:?}",
            self.companions
        );
        let common: BTreeMap<_, _> = self.families.iter().filter(|(f, _)| common(f)).collect();
        println!("{what}: common families: {common:?}");
        let partial: BTreeMap<_, _> = self.families.iter().filter(|(_, (n, ok))| ok < n).collect();
        println!(
            "{what}: {} providers, {} of them below 100%: {partial:?}",
            self.families.len(),
            partial.len()
        );
    }
}

static LABEL: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"\[REDACTED:[^\]]*\]").unwrap());

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
            // (A label names its rule, which may hold a value's start: `configcat-sdk-...`.)
            let out = LABEL.replace_all(&out, "[REDACTED]");
            // A literal example holds its secret somewhere in its text: redacted means found.
            let ok = if literal {
                !found.is_empty()
            } else {
                !sample.forbidden.iter().any(|f| out.contains(f.as_str()))
            };
            let source = if positive.rule.starts_with("kingfisher.") {
                "kingfisher"
            } else {
                "other"
            };
            let entries = if positive.reported {
                vec![
                    figures.recall.entry(common(&positive.rule)).or_default(),
                    figures.families.entry(family(&positive.rule)).or_default(),
                    figures.sources.entry(source).or_default(),
                ]
            } else {
                vec![figures.companions.entry(positive.rule.clone()).or_default()]
            };
            for entry in entries {
                entry.0 += 1;
                entry.1 += usize::from(ok);
            }
            if !ok && positive.reported {
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
                    "(a provider rule reports it) "
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

/// An identifier for a rule's samples, as gitleaks names them after the provider: its first
/// keyword that can be part of a name, else the provider its id names.
fn identifier(index: usize) -> String {
    TIER.keywords_of(index)
        .into_iter()
        .find(|k| k.len() >= 3 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .map_or_else(|| family(TIER.rules[index].id), str::to_owned)
}

/// One sample for every rule the provider tier runs: a value drawn from the rule's secret group
/// next to an identifier in one of `FORMS`, or, where the rule wants more around its value, a
/// draw of its whole pattern; kept when the rule finds that value and its own filter keeps it.
/// Also the rules no sample was found for.
fn generated(rng: &mut Rng) -> (Vec<Positive>, Vec<&'static str>) {
    let (mut positives, mut unsampled) = (Vec::new(), Vec::new());
    for (index, rule) in TIER.rules.iter().enumerate() {
        let Some(hir) = regex_sample::parse(rule.pattern()) else {
            unsampled.push(rule.id);
            continue;
        };
        // (A pattern without groups is its secret whole.)
        let group = u32::try_from(rule.secret_group().max(1)).unwrap();
        let secret = regex_sample::group(&hir, group).or(Some(&hir)
            .filter(|_| regex::Regex::new(rule.pattern()).map_or(true, |r| r.captures_len() == 1)));
        let ident = identifier(index);
        let keywords = TIER.keywords_of(index);
        let found = (0..48).find_map(|attempt| {
            let text = match secret {
                Some(secret) if attempt < 24 => {
                    let value = regex_sample::draw(rng, secret);
                    FORMS[(index + attempt) % FORMS.len()]
                        .replace("{i}", &ident)
                        .replace("{s}", &value)
                }
                _ => regex_sample::draw(rng, &hir),
            };
            let lower = text.to_ascii_lowercase();
            match rule.secret_in(text.as_bytes()) {
                // As Betterleaks runs a rule: only where one of its keywords occurs. The value's
                // start must not be in its name too (the name would count as a piece left).
                Some((range, true))
                    if range.len() >= 8
                        && !text.contains('\n')
                        && keywords.iter().any(|k| lower.contains(k))
                        && text.matches(&text[range.start..range.start + 8]).count() == 1 =>
                {
                    let value = text[range].to_owned();
                    Some(Positive {
                        rule: rule.id.to_owned(),
                        text,
                        value,
                        reported: true,
                    })
                }
                _ => None,
            }
        });
        match found {
            Some(positive) => positives.push(positive),
            None => unsampled.push(rule.id),
        }
    }
    (positives, unsampled)
}

/// Negatives written by hand, after the issue's own ([`secret_corpus::ISSUE_FALSE_ALARMS`]):
/// placeholders of many providers' documentation, references, identifiers and public values.
/// None may be redacted.
const NEGATIVES: &[&str] = &[
    // Placeholders: x, *, 0 runs, repeated and sequential characters, words.
    "OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "STRIPE_SECRET_KEY=sk_live_****************************",
    "GITLAB_TOKEN=glpat-00000000000000000000",
    "DOPPLER_TOKEN=dp.pt.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "SENDGRID_API_KEY=SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "NPM_TOKEN=npm_0000000000000000000000000000000000000000",
    "HF_TOKEN=hf_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "token = \"ghp_abcdefghijklmnopqrstuvwxyz0123456789\"",
    "DIGITALOCEAN_TOKEN=dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "PULUMI_ACCESS_TOKEN=pul-1234567890123456789012345678901234567890",
    "api_key: your-api-key-here",
    "SECRET_KEY=changeme",
    "password: example-password",
    "AUTH_TOKEN=<YOUR_AUTH_TOKEN>",
    "client_secret = \"{{ client_secret }}\"",
    "LINEAR_API_KEY=lin_api_YOUR_LINEAR_API_KEY_GOES_HERE",
    "export NEW_RELIC_LICENSE_KEY=your_new_relic_license_key",
    "SHOPIFY_ACCESS_TOKEN=shpat_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "TWILIO_AUTH_TOKEN=your_auth_token",
    "DATADOG_API_KEY=<DATADOG_API_KEY>",
    "# Replace sk_test_REPLACE_WITH_YOUR_KEY with your key",
    // Documented example values.
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    // References.
    "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
    "token = os.environ[\"SLACK_BOT_TOKEN\"]",
    "const apiKey = process.env.OPENAI_API_KEY;",
    "Authorization: Bearer $TOKEN",
    "password = settings.DATABASE_PASSWORD",
    // Identifiers and public values near a provider's name.
    "import { SlackTokenProvider } from '@slack/oauth';",
    "stripe_publishable_key = pk_live_ZmlsZS1uYW1lLWlzLXB1YmxpYw",
    "\"resolved\": \"https://registry.npmjs.org/@octokit/auth-token/-/auth-token-4.0.0.tgz\"",
    "sentry_dsn_public_key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq8e9Vx2fKp3dL7mN4rT6wY1bZ0cX5sQ9uJ8hG2aF3k'",
    "commit 3f9c2b1e8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e (HEAD -> main, origin/main)",
    "request-id: 4b7f2c1e-9a3d-4e8f-b6c5-1d2e3f4a5b6c",
    "stripeAccountId = \"acct_1032D82eZvKYlo2C\"",
    "max_tokens: 4096, input_tokens: 1200, cache_read_input_tokens: 23000",
    "tokenizer = AutoTokenizer.from_pretrained(\"meta-llama/Llama-3.1-8B\")",
    "--- PASS: TestTokenRefresh (0.02s)",
    "key_id = \"projects/my-project/locations/global/keyRings/ring/cryptoKeys/key\"",
    "csrf_token = \"Jq3Vn8Rt2Wz6Yb1Xc4Hs7Kd9\"",
    "public_key = \"MCowBQYDK2VwAyEAq8e9Vx2fKp3dL7mN4rT6wY1bZ0cX5sQ9uJ8hG2aF3kA=\"",
    "integrity sha512-Q7w2Zk9Lp4X3Rt8Vn1Hs6Jc3Yd5Fb0GkQ7w2Zk9Lp4X3Rt8Vn1Hs6Jc3Yd5Fb0Gk==",
    "sha256:3b0a6f0e7c554d7e9a110000000b3e013b0a6f0e7c554d7e9a110000000b3e01",
    "The Datadog agent reads its api key from datadog.yaml; see the docs.",
    "heroku: the key is stored in the HEROKU_API_KEY config var of the app",
    // Another provider's prefix ending in `sk-`, not OpenAI's.
    "ticket desk-Q7w2Zk9Lp4X3Rt8Vn1Hs6Jc3Yd5Fb0GkM4tW8pL2xR6nB9vZ3cKd7Hq",
];

#[test]
fn samples_drawn_from_the_provider_rules_are_redacted_and_negatives_left_alone() {
    let mut rng = Rng::new(2026);
    let (positives, unsampled) = generated(&mut rng);
    println!(
        "{} rules run, {} sampled, {} without a sample: {unsampled:?}",
        TIER.rules.len(),
        positives.len(),
        unsampled.len()
    );
    let negatives: Vec<String> = secret_corpus::ISSUE_FALSE_ALARMS
        .iter()
        .chain(NEGATIVES)
        .map(|n| (*n).to_owned())
        .collect();
    let benign = benign_lines(11, 2_000_000).join("\n") + "\n";
    let figures = measure(&positives, &negatives, &benign);
    figures.print("provider rules");
    assert!(
        positives.len() * 10 >= TIER.rules.len() * 9,
        "samples for only {} of {} rules: {unsampled:?}",
        positives.len(),
        TIER.rules.len()
    );
    let (common, tail) = (figures.pct(true), figures.pct(false));
    // Measured: see docs/secrets.md; the floors guard against regressions.
    assert!(
        common >= 99.0,
        "common recall {common:.1}%: {:?}",
        figures.missed
    );
    assert!(
        tail >= 97.0,
        "long-tail recall {tail:.1}%: {:?}",
        figures.missed
    );
    let weak: Vec<_> = figures
        .families
        .iter()
        .filter(|(_, (n, ok))| ok * 4 < n * 3)
        .collect();
    assert!(weak.is_empty(), "families below 75%: {weak:?}");
    // Not one of the hand-written negatives is redacted, in any shape.
    assert!(figures.alarms.is_empty(), "{:#?}", figures.alarms);
    let per_mb = figures.false_per_mb();
    assert!(
        per_mb <= 0.5,
        "{per_mb:.2} false redactions per MB: {:?}",
        figures.false_by_rule
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
    assert!(
        rows.contains("\"reported\""),
        "this extract predates companion rules' flag: make it again with scripts/scanner_examples.py"
    );
    let mut rng = Rng::new(2027);
    // A row's pattern, compiled once (gitleaks' rows name none: its rule of the same id in the
    // tier, if any).
    let patterns = std::cell::RefCell::new(BTreeMap::<String, Option<regex::bytes::Regex>>::new());
    let pattern = |row: &serde_json::Value| {
        let own = || TIER.rule(row["rule"].as_str()?).map(|r| r.pattern());
        let pattern = row["pattern"].as_str().or_else(own)?;
        let mut patterns = patterns.borrow_mut();
        let regex = patterns
            .entry(pattern.to_owned())
            .or_insert_with(|| compile(pattern));
        regex.clone()
    };
    let is_match =
        |row: &serde_json::Value, text: &str| Some(pattern(row)?.is_match(text.as_bytes()));
    // The secret in an example: what its rule's pattern captures (first group, else the match).
    let secret_span = |row: &serde_json::Value, text: &str| {
        let captures = pattern(row)?.captures(text.as_bytes())?;
        let found = captures.get(1).or_else(|| captures.get(0))?;
        Some(found.range()).filter(|r| {
            !r.is_empty() && text.is_char_boundary(r.start) && text.is_char_boundary(r.end)
        })
    };
    let (positives, negatives) = corpus(&mut rng, &rows, &is_match, &secret_span);
    let benign = benign_lines(13, 2_000_000).join("\n") + "\n";
    let figures = measure(&positives, &negatives, &benign);
    figures.print("betterleaks+kingfisher");
    let (common, tail) = (figures.pct(true), figures.pct(false));
    // The issue's goals (95% / 85% / 2 per MB), measured in docs/secrets.md; companion rules'
    // ids and hosts are counted apart (they are no secrets, and redacting them would change what
    // Claude reads).
    assert!(
        common >= 95.0,
        "common recall {common:.1}%: {:?}",
        figures.missed
    );
    assert!(
        tail >= 85.0,
        "long-tail recall {tail:.1}%: {:?}",
        figures.missed
    );
    let per_mb = figures.false_per_mb();
    assert!(
        per_mb <= 1.0,
        "{per_mb:.2} false redactions per MB: {:?}",
        figures.false_by_rule
    );
}

//! Recall and false alarms of the secret scan on the generated corpus (`tests/secret_corpus`):
//! every secret type in every place and hiding context must be gone from the redacted copy, with
//! every JSON line still valid; benign high-entropy text must raise (almost) nothing. Run with
//! `--nocapture` for the per-family tables that docs/secrets.md records.

mod secret_corpus;

use std::collections::BTreeMap;

use ccsync::bundle::secrets::{redact_file, Scanner};
use secret_corpus::{benign_lines, samples, Context, Place, Sample};

/// The families issue 12 requires, each of which must be present in the corpus.
const REQUIRED: &[&str] = &[
    "aws-access-key",
    "aws-secret-key",
    "aws-session-token",
    "url-credentials",
    "jwt",
    "authorization-header",
    "github-token",
    "gitlab-token",
    "npm-token",
    "pypi-token",
    "slack-token",
    "slack-webhook",
    "sendgrid-api-key",
    "stripe-key",
    "stripe-webhook-secret",
    "azure-storage-key",
    "azure-client-secret",
    "google-api-key",
    "google-service-account",
    "anthropic-api-key",
    "openai-api-key",
    "huggingface-token",
    "digitalocean-token",
    "shopify-token",
    "telegram-bot-token",
    "twilio-api-key",
    "datadog-api-key",
    "mailgun-api-key",
    "docker-auth",
    "private-key",
    "putty-private-key",
    "age-secret-key",
    "secret-assignment",
];

/// Redacts one sample's file as push does and says what survived (or why the copy is broken).
fn leaks(scanner: &Scanner, dir: &std::path::Path, sample: &Sample) -> Result<(), String> {
    let src = dir.join("sample");
    std::fs::write(&src, &sample.content).unwrap();
    let mut out = Vec::new();
    redact_file(&src, &mut out, scanner, &sample.file).unwrap();
    let out = String::from_utf8(out).map_err(|_| "output is not UTF-8".to_owned())?;
    if sample.file.ends_with(".jsonl") {
        for line in out.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .map_err(|e| format!("broken JSON: {e}"))?;
        }
    }
    if out.lines().count() != sample.content.lines().count() {
        return Err("line count changed".into());
    }
    match sample.forbidden.iter().find(|f| out.contains(f.as_str())) {
        Some(_) => Err("a piece of the secret survived".into()),
        None => Ok(()),
    }
}

#[test]
fn recall_of_every_family_in_every_place_and_context() {
    let dir = tempfile::tempdir().unwrap();
    let scanner = Scanner::new(Vec::new());
    let samples = samples(12);
    let types: std::collections::BTreeSet<_> = samples.iter().map(|s| (s.family, s.kind)).collect();
    assert!(types.len() >= 40, "{} secret types", types.len());

    let mut per_family: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut per_place: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    for sample in &samples {
        let ok = leaks(&scanner, dir.path(), sample);
        let place = match sample.context {
            Context::Plain => format!("{:?}", sample.place),
            context => format!("{:?} in {:?}", context, sample.place),
        };
        for entry in [
            per_family.entry(sample.family).or_default(),
            per_place.entry(place).or_default(),
        ] {
            entry.0 += 1;
            entry.1 += usize::from(ok.is_ok());
        }
        if let Err(why) = ok {
            misses.push(format!(
                "{}/{} {:?} {:?}: {why}",
                sample.family, sample.kind, sample.place, sample.context
            ));
        }
    }
    let total = samples.len();
    let caught = total - misses.len();
    println!("| family | planted | redacted | recall |\n|---|---:|---:|---:|");
    for (family, (n, ok)) in &per_family {
        println!(
            "| {family} | {n} | {ok} | {:.1}% |",
            100.0 * *ok as f64 / *n as f64
        );
    }
    println!(
        "| **all ({} types)** | {total} | {caught} | {:.1}% |",
        types.len(),
        100.0 * caught as f64 / total as f64
    );
    println!("\n| place / context | planted | redacted |\n|---|---:|---:|");
    for (place, (n, ok)) in &per_place {
        println!("| {place} | {n} | {ok} |");
    }
    for miss in &misses {
        println!("missed: {miss}");
    }
    for family in REQUIRED {
        assert!(
            per_family.contains_key(family),
            "{family} is not in the corpus"
        );
    }
    assert!(
        caught * 100 >= total * 95,
        "recall {caught}/{total} is below 95%: {misses:#?}"
    );
    // No family may be left behind by the overall figure.
    for (family, (n, ok)) in &per_family {
        assert!(ok * 100 >= n * 80, "{family}: {ok}/{n}: {misses:#?}");
    }
    // Every place of a transcript holds the secrets it was given.
    assert!(per_place.len() >= 8 + 4);
    let _ = Place::ReadOutput;
}

#[test]
fn false_alarms_on_benign_high_entropy_text() {
    let dir = tempfile::tempdir().unwrap();
    let scanner = Scanner::new(Vec::new());
    let lines = benign_lines(7, 4_000_000);
    let text = lines.join("\n") + "\n";
    let src = dir.path().join("benign.jsonl");
    std::fs::write(&src, &text).unwrap();
    let mut out = Vec::new();
    let findings = redact_file(&src, &mut out, &scanner, "benign.jsonl").unwrap();
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &findings {
        *per_rule.entry(f.rule).or_default() += 1;
    }
    let mb = text.len() as f64 / 1e6;
    println!(
        "benign corpus: {:.2} MB, {} lines, {} findings ({:.2} per MB): {per_rule:?}",
        mb,
        lines.len(),
        findings.len(),
        findings.len() as f64 / mb
    );
    assert!(
        findings.len() as f64 <= 2.0 * mb,
        "too many false alarms: {per_rule:?}"
    );
    // Documented examples and placeholders are never redacted.
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("AKIAIOSFODNN7EXAMPLE"));
    assert!(out.contains("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
}

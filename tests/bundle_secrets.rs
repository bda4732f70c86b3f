//! The secret scan on real transcripts: planted secrets of every rule are redacted from a copy
//! with every line still valid JSON and findings that never carry the value; and no finding at
//! all on the untouched corpus (every finding there would be a false alarm).

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

use ccsync::bundle::secrets::{redact_file, Scanner, TOKEN_RULE};
use serde_json::Value;

/// One made-up secret per rule and variant (none is a real credential).
fn planted() -> Vec<(&'static str, String)> {
    vec![
        ("aws-access-key", "AKIAZ7QPLMXW3RT9VB2K".into()),
        ("aws-access-key", "ASIAZ7QPLMXW3RT9VB2K".into()),
        ("github-token", format!("ghp_{}", "Xq7Lm2Pz9Rt4Vb8Nc1Kd5Hf3Jg6Ws0Ye2Ua7Q".get(..36).unwrap())),
        ("github-token", format!("gho_{}", "Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk1Ll2M".get(..36).unwrap())),
        ("github-token", format!("ghu_{}", "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8N".get(..36).unwrap())),
        ("github-token", format!("ghs_{}", "Mm3Nn4Oo5Pp6Qq7Rr8Ss9Tt0Uu1Vv2Ww3Xx4Y".get(..36).unwrap())),
        ("github-token", format!("ghr_{}", "Kk5Ll6Mm7Nn8Oo9Pp0Qq1Rr2Ss3Tt4Uu5Vv6W".get(..36).unwrap())),
        ("github-token", format!("github_pat_11AXYZW7Q0{}_{}", "Ab3Cd5Ef7Gh", "Jk9Lm1Np3Qr5St7Uv9Wx1Yz3Ab5Cd7Ef9Gh1Jk3Lm5Np7Qr9St1Uv3Wx5Yz7A")),
        ("anthropic-api-key", format!("sk-ant-api03-{}-{}AA", "Zq8Xw7Cv6Bn5Mk4Lj3Hg2Fd1Sa0Po9Iu8Yt7Re6Wq5", "Pl0Ok9Ij8Uh7Yg6Tf5Rd4Es3Wa2Qz1Xs0Cd9Vf8Bg7Nh6Mj5Ki4Lo3P")),
        ("openai-api-key", format!("sk-proj-{}", "Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz1Xc3Vb5Nm7Qw9Er1Ty3Ui5Op7As9Df1Gh3Jk5Lz7Xc9Vb1Nm3Q")),
        ("openai-api-key", "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".into()),
        ("openai-api-key", "sk-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv12Wx34".into()),
        ("slack-token", "xoxb-2048157263-4096315827-Qz8Wx7Ec6Rv5Tb4Yn3Um2Ik1O".into()),
        ("slack-token", "xoxp-2048157263-4096315827-4096315828-Qz8Wx7Ec6Rv5Tb4Yn3Um2Ik1O".into()),
        ("google-api-key", "AIzaSyQ8x7W6v5U4t3S2r1Q0p9O8n7M6l5K4j3I".into()),
        ("stripe-key", format!("sk_live_{}", "51Qz8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd8Fg7Hj6Kl5")),
        ("stripe-key", format!("rk_live_{}", "51Qz8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd8Fg7Hj6Kl5")),
        (
            "private-key",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBmZXhhbXBsZWtleWZvcnRlc3RzMDEyMzQ1Njc4OWFiY2RlZgAAAJg=\n-----END OPENSSH PRIVATE KEY-----".into(),
        ),
        ("private-key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----".into()),
        (TOKEN_RULE, "ghs_TESTTOKEN0never0printed0XYZ123456789".into()),
    ]
}

/// Puts `secret` into every string of `record` that is long enough, the way it would sit in a
/// tool output or a file read: after a newline, after `=`, inside quotes.
fn plant(value: &mut Value, secret: &str, n: &mut usize) {
    match value {
        Value::String(s) if s.len() > 40 => {
            *n += 1;
            *s = match *n % 3 {
                0 => format!("{s}\n{secret}\n"),
                1 => format!("export KEY={secret} # {s}"),
                _ => format!("{{\"key\": \"{secret}\"}} {s}"),
            };
        }
        Value::Array(items) => items.iter_mut().for_each(|v| plant(v, secret, n)),
        Value::Object(map) => map.values_mut().for_each(|v| plant(v, secret, n)),
        _ => {}
    }
}

#[test]
fn planted_secrets_of_every_rule_are_redacted_from_real_records() {
    let Some(corpus) = support::corpus_dir() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let source = support::jsonl_files(&corpus)
        .into_iter()
        .find(|p| p.ends_with("short.jsonl"))
        .expect("short.jsonl in the corpus");
    let secrets = planted();
    let scanner = Scanner::new(vec![secrets.last().unwrap().1.clone()]);

    // A session copy whose real records each carry one planted secret (rules in turn).
    let copy = temp.path().join("s.jsonl");
    let mut out = String::new();
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    let originals: Vec<String> = BufReader::new(std::fs::File::open(&source).unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    for (k, (rule, secret)) in secrets.iter().enumerate() {
        for line in &originals {
            let Ok(mut value) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let mut n = k;
            plant(&mut value, secret, &mut n);
            *expected.entry(rule).or_default() += n - k;
            out.push_str(&value.to_string());
            out.push('\n');
        }
    }
    std::fs::write(&copy, &out).unwrap();
    assert!(
        expected.len() == 9 && expected.values().all(|&n| n >= 10),
        "every rule planted: {expected:?}"
    );

    let mut redacted = Vec::new();
    let findings = redact_file(&copy, &mut redacted, &scanner, "projects/x/s.jsonl").unwrap();
    let redacted = String::from_utf8(redacted).unwrap();
    for (_, secret) in &secrets {
        assert!(
            !redacted.contains(secret.as_str()),
            "a secret survived redaction"
        );
        // Not even a recognisable piece of a key block.
        for piece in secret.split('\n').filter(|p| p.len() > 30) {
            assert!(!redacted.contains(piece));
        }
    }
    for line in redacted.lines() {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("redaction broke a line: {e}"));
    }
    assert_eq!(redacted.lines().count(), out.lines().count());

    let mut found: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &findings {
        *found.entry(f.rule).or_default() += 1;
        assert_eq!(f.file, "projects/x/s.jsonl");
        assert!(f.line >= 1 && f.line as usize <= out.lines().count());
    }
    assert_eq!(found, expected);
    let shown = format!("{findings:?}");
    for (_, secret) in &secrets {
        assert!(
            !shown.contains(secret.as_str()),
            "a finding shows its value"
        );
    }
    // The local file is never changed.
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), out);
}

/// Counts findings per rule on the real, unmodified transcripts (they hold no real secrets, so
/// every finding is a false positive). Run with `--nocapture` to see the table.
#[test]
fn false_positives_on_the_corpus() {
    let Some(corpus) = support::corpus_dir() else {
        return;
    };
    let scanner = Scanner::new(vec![support::TOKEN.to_owned()]);
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    let mut lines = 0usize;
    let files = support::jsonl_files(&corpus);
    for file in &files {
        let mut sink = Vec::new();
        for f in redact_file(file, &mut sink, &scanner, &file.display().to_string()).unwrap() {
            eprintln!("finding: {} {}:{}", f.rule, f.file, f.line);
            *per_rule.entry(f.rule).or_default() += 1;
        }
        lines += std::fs::read(file)
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        // A scan that finds nothing copies the file unchanged.
        if !per_rule.is_empty() {
            continue;
        }
        assert!(sink == std::fs::read(file).unwrap());
    }
    eprintln!(
        "false positives on {} files, {lines} lines: {per_rule:?}",
        files.len()
    );
    assert!(
        per_rule.is_empty(),
        "false positives on real sessions: {per_rule:?}"
    );
}

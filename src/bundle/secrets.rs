//! The secret scan that runs before a session leaves the machine (DESIGN.md, "Security").
//!
//! Rules run on the raw text of each record line, so a file is streamed line by line and never
//! parsed as a whole. Each finding is replaced by `[REDACTED:<rule>]`, which needs no JSON
//! escaping; when a replacement would still break a line that was valid JSON (a match spanning a
//! string boundary), the line is parsed and the rules run on each decoded string instead.
//! Findings name the rule, the file and the line, never the value.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;
use std::sync::LazyLock;

use anyhow::Result;
use regex::bytes::Regex;

/// One secret found: where, and by which rule. Deliberately without the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub file: String,
    /// 1-based line number.
    pub line: u64,
}

/// The rule name of the extra literals (the token ccsync itself holds).
pub const TOKEN_RULE: &str = "ccsync-token";

/// Literals shorter than this are ignored: they would redact ordinary words.
const MIN_LITERAL_LEN: usize = 8;

struct Rule {
    name: &'static str,
    regex: Regex,
    /// The match must not touch letters or digits on either side (see [`boundaries_ok`]).
    bounded: bool,
}

/// The compiled rules plus the literals to redact.
pub struct Scanner {
    rules: Vec<Rule>,
}

/// Name and pattern of every built-in rule. Patterns are byte regexes over raw JSON text.
const RULES: &[(&str, &str, bool)] = &[
    // A whole block, its newlines being `\n` escapes in JSON; or a header whose end is cut off
    // (a preview of a file), up to where the base64 stops.
    (
        "private-key",
        r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY( BLOCK)?-----[^\x22]*?-----END[A-Z0-9 ]{0,40} PRIVATE KEY( BLOCK)?-----",
        false,
    ),
    (
        "private-key",
        r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY( BLOCK)?-----(?:\\+[nrt]|[A-Za-z0-9+/=:, \t\r\n-])*",
        false,
    ),
    (
        "aws-access-key",
        r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}",
        true,
    ),
    ("github-token", r"gh[pousr]_[A-Za-z0-9]{36,251}", true),
    ("github-token", r"github_pat_[A-Za-z0-9_]{22,255}", true),
    (
        "anthropic-api-key",
        r"sk-ant-[a-z0-9]{2,10}-[A-Za-z0-9_-]{20,}",
        true,
    ),
    (
        "openai-api-key",
        r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}",
        true,
    ),
    (
        "openai-api-key",
        r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}",
        true,
    ),
    ("openai-api-key", r"sk-[A-Za-z0-9]{48}", true),
    (
        "slack-token",
        r"xox[abprs]-[0-9]{6,}-[A-Za-z0-9-]{6,}",
        true,
    ),
    ("google-api-key", r"AIza[0-9A-Za-z_-]{35}", true),
    ("stripe-live-key", r"(?:sk|rk)_live_[0-9A-Za-z]{20,}", true),
];

impl Scanner {
    /// The built-in rules plus `extra_literals` (reported as [`TOKEN_RULE`]).
    pub fn new(extra_literals: Vec<String>) -> Self {
        let mut rules: Vec<Rule> = RULES
            .iter()
            .map(|(name, pattern, bounded)| Rule {
                name,
                regex: Regex::new(pattern).expect("built-in rule compiles"),
                bounded: *bounded,
            })
            .collect();
        let mut forms: Vec<String> = Vec::new();
        for literal in extra_literals.iter().filter(|l| l.len() >= MIN_LITERAL_LEN) {
            // As written in JSON text, and as written in JSON inside a JSON string.
            let once = json_inner(literal);
            let twice = json_inner(&once);
            for form in [literal.clone(), once, twice] {
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
            rules.insert(
                0,
                Rule {
                    name: TOKEN_RULE,
                    regex: Regex::new(&pattern).expect("escaped literals compile"),
                    bounded: false,
                },
            );
        }
        Scanner { rules }
    }

    /// Redacts one line (raw record text, without its ending) and names the rules that matched,
    /// once per finding.
    pub fn redact_line<'a>(&self, line: &'a str) -> (Cow<'a, str>, Vec<&'static str>) {
        let (out, rules) = self.redact_bytes(line.as_bytes());
        match out {
            Cow::Borrowed(_) => (Cow::Borrowed(line), rules),
            // Matches start and end on ASCII characters, so the rest stays valid UTF-8.
            Cow::Owned(bytes) => (
                Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
                rules,
            ),
        }
    }

    /// [`Scanner::redact_line`] on bytes (a line need not be UTF-8).
    pub fn redact_bytes<'a>(&self, line: &'a [u8]) -> (Cow<'a, [u8]>, Vec<&'static str>) {
        let (out, rules) = self.replace(line);
        if rules.is_empty() {
            return (Cow::Borrowed(line), rules);
        }
        if !is_json(&out) && is_json(line) {
            if let Some(fixed) = self.redact_values(line) {
                return (Cow::Owned(fixed), rules);
            }
        }
        (Cow::Owned(out), rules)
    }

    /// All matches of all rules, earliest first, overlaps resolved in favour of the earlier and
    /// then the longer match.
    fn matches(&self, text: &[u8]) -> Vec<(usize, usize, &'static str)> {
        let mut found = Vec::new();
        for rule in &self.rules {
            for m in rule.regex.find_iter(text) {
                if !rule.bounded || boundaries_ok(text, m.start(), m.end()) {
                    found.push((m.start(), m.end(), rule.name));
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut kept: Vec<(usize, usize, &'static str)> = Vec::with_capacity(found.len());
        for m in found {
            if kept.last().is_none_or(|last| m.0 >= last.1) {
                kept.push(m);
            }
        }
        kept
    }

    fn replace(&self, text: &[u8]) -> (Vec<u8>, Vec<&'static str>) {
        let found = self.matches(text);
        if found.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let mut out = Vec::with_capacity(text.len());
        let mut at = 0;
        for &(start, end, rule) in &found {
            out.extend_from_slice(&text[at..start]);
            out.extend_from_slice(b"[REDACTED:");
            out.extend_from_slice(rule.as_bytes());
            out.push(b']');
            at = end;
        }
        out.extend_from_slice(&text[at..]);
        (out, found.into_iter().map(|m| m.2).collect())
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
            let (out, rules) = self.replace(s.as_bytes());
            (!rules.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned())
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

/// A token must stand alone: no ASCII letter, digit or `_` right before or after it (non-ASCII
/// text around a token does not hide it). In raw JSON, `\n` right before a token is a newline,
/// not the letter `n`.
fn boundaries_ok(text: &[u8], start: usize, end: usize) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let left = match start.checked_sub(1).map(|i| text[i]) {
        None => true,
        Some(b) if !word(b) => true,
        Some(b'n' | b't' | b'r' | b'b' | b'f') => {
            text[..start - 1]
                .iter()
                .rev()
                .take_while(|&&b| b == b'\\')
                .count()
                % 2
                == 1
        }
        Some(_) => false,
    };
    left && text.get(end).is_none_or(|&b| !word(b))
}

/// Whether `bytes` is one or more JSON values (glued records count).
fn is_json(bytes: &[u8]) -> bool {
    let mut any = false;
    for value in serde_json::Deserializer::from_slice(bytes).into_iter::<serde::de::IgnoredAny>() {
        if value.is_err() {
            return false;
        }
        any = true;
    }
    any
}

fn json_inner(s: &str) -> String {
    let quoted = serde_json::to_string(s).expect("strings serialise");
    quoted[1..quoted.len() - 1].to_owned()
}

static KEY_BEGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY( BLOCK)?-----").expect("valid")
});
static KEY_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----END[A-Z0-9 ]{0,40} PRIVATE KEY( BLOCK)?-----").expect("valid")
});
const REDACTED_KEY: &[u8] = b"[REDACTED:private-key]";

/// True when a line starts a private key block that it does not end: the key spans real newlines,
/// as in a plain-text tool output. (In JSON text the block stays on one line, as `\n` escapes.)
fn opens_key_block(line: &[u8]) -> bool {
    let Some(begin) = KEY_BEGIN.find_iter(line).last() else {
        return false;
    };
    !KEY_END.is_match(&line[begin.end()..]) && !is_json(line)
}

/// Copies `src` into `dst` with every secret redacted, line by line, keeping line endings, and
/// reports the findings under `file_label`.
pub fn redact_file(
    src: &Path,
    dst: &mut impl Write,
    scanner: &Scanner,
    file_label: &str,
) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let mut number = 0u64;
    // Set while a private key block that began on an earlier line has not ended.
    let mut in_key_block = false;
    super::for_each_line(src, |line| {
        number += 1;
        let (body, ending): (&[u8], &[u8]) = match line.strip_suffix(b"\n") {
            Some(body) => match body.strip_suffix(b"\r") {
                Some(b) => (b, b"\r\n"),
                None => (body, b"\n"),
            },
            None => (line, b""),
        };
        let (out, rules) = if in_key_block {
            // Inside a PEM block of a plain-text file: its lines hold nothing but key material.
            match KEY_END.find(body) {
                Some(end) => {
                    in_key_block = false;
                    let (rest, rules) = scanner.redact_bytes(&body[end.end()..]);
                    let mut out = REDACTED_KEY.to_vec();
                    out.extend_from_slice(&rest);
                    (Cow::Owned(out), rules)
                }
                None => (Cow::Borrowed(REDACTED_KEY), Vec::new()),
            }
        } else {
            in_key_block = opens_key_block(body);
            scanner.redact_bytes(body)
        };
        findings.extend(rules.into_iter().map(|rule| Finding {
            rule,
            file: file_label.to_owned(),
            line: number,
        }));
        dst.write_all(&out)?;
        dst.write_all(ending)?;
        Ok(())
    })?;
    dst.flush()?;
    Ok(findings)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One made-up secret per rule (none is a real credential).
    pub(crate) fn planted() -> Vec<(&'static str, String)> {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98v1Zz0abcdefghij\nklmnopQRSTUV0123456789+/=\n-----END RSA PRIVATE KEY-----";
        vec![
            ("aws-access-key", "AKIAIOSFODNN7EXAMPLQ".to_owned()),
            (
                "github-token",
                format!("ghp_{}", "a1B2c3D4e5".repeat(4).get(..36).unwrap()),
            ),
            (
                "github-token",
                format!("gho_{}", "Z9y8X7w6V5".repeat(4).get(..36).unwrap()),
            ),
            (
                "github-token",
                format!("ghu_{}", "Q1w2E3r4T5".repeat(4).get(..36).unwrap()),
            ),
            (
                "github-token",
                format!("ghs_{}", "p0O9i8U7y6".repeat(4).get(..36).unwrap()),
            ),
            (
                "github-token",
                format!("ghr_{}", "m1N2b3V4c5".repeat(4).get(..36).unwrap()),
            ),
            (
                "github-token",
                format!(
                    "github_pat_11ABCDEFG0{}_{}",
                    "x".repeat(12),
                    "Yz01".repeat(15).get(..59).unwrap()
                ),
            ),
            (
                "anthropic-api-key",
                format!("sk-ant-api03-{}AA", "AbC-dEf_123".repeat(8)),
            ),
            (
                "openai-api-key",
                format!("sk-proj-{}", "Ab3dEf6hIj".repeat(10)),
            ),
            (
                "openai-api-key",
                format!(
                    "sk-{}T3BlbkFJ{}",
                    "a1b2c3d4e5".repeat(2),
                    "F6g7H8i9J0".repeat(2)
                ),
            ),
            (
                "slack-token",
                "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx".to_owned(),
            ),
            (
                "google-api-key",
                format!(
                    "AIza{}",
                    "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q".get(..35).unwrap()
                ),
            ),
            (
                "stripe-live-key",
                format!("sk_live_{}", "51Hx2aBcD3eFgH4iJkL5mNoP".repeat(2)),
            ),
            (
                "stripe-live-key",
                format!("rk_live_{}", "51Hx2aBcD3eFgH4iJkL5mNoP"),
            ),
            ("private-key", pem.to_owned()),
        ]
    }

    fn record(text: &str) -> String {
        serde_json::json!({"type":"user","message":{"content":[{"type":"tool_result","content": text}]}}).to_string()
    }

    #[test]
    fn every_rule_is_redacted_and_json_stays_valid() {
        let scanner = Scanner::new(vec![]);
        for (rule, secret) in planted() {
            for text in [
                secret.clone(),
                format!("key={secret}\n"),
                format!("export X=\"{secret}\"\tnext"),
                format!("line\n{secret}"),
            ] {
                let line = record(&text);
                let (out, rules) = scanner.redact_line(&line);
                assert_eq!(rules, [rule], "{rule} in {line}");
                assert!(!out.contains(&secret), "{rule} kept");
                assert!(out.contains(&format!("[REDACTED:{rule}]")), "{out}");
                serde_json::from_str::<serde_json::Value>(&out)
                    .unwrap_or_else(|e| panic!("{rule}: {e} in {out}"));
            }
        }
    }

    #[test]
    fn look_alikes_are_left_alone() {
        let scanner = Scanner::new(vec![]);
        for text in [
            "task-management-system-for-teams-and-more",
            "AKIAIOSFODNN7EXAMPL",   // one short
            "XAKIAIOSFODNN7EXAMPLQ", // glued to a word
            "ghp_short",
            "the sk-learn library and sk_test_abcdefghijklmnopqrstuvwxyz",
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
            "[REDACTED:github-token]",
        ] {
            let line = record(text);
            let (out, rules) = scanner.redact_line(&line);
            assert!(rules.is_empty(), "{text}: {rules:?}");
            assert!(matches!(out, Cow::Borrowed(_)));
        }
    }

    #[test]
    fn truncated_private_key_is_still_redacted() {
        let scanner = Scanner::new(vec![]);
        let line = record("Preview:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAA");
        let (out, rules) = scanner.redact_line(&line);
        assert_eq!(rules, ["private-key"]);
        assert!(!out.contains("b3BlbnNzaC1rZXkt"), "{out}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
    }

    #[test]
    fn extra_literal_and_its_escaped_forms() {
        let token = "s3cr3t\"tok/en\\value";
        let scanner = Scanner::new(vec![token.to_owned(), "short".to_owned()]);
        let line = serde_json::json!({"a": token, "b": serde_json::json!({"c": token}).to_string(), "d": "short"}).to_string();
        let (out, rules) = scanner.redact_line(&line);
        assert_eq!(rules, [TOKEN_RULE, TOKEN_RULE]);
        assert!(!out.contains("s3cr3t"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["d"], "short");
    }

    #[test]
    fn a_match_across_strings_falls_back_to_values() {
        // A key block whose END marker sits in the next string: raw replacement would eat the
        // `","` between them; the value walk keeps both strings.
        let scanner = Scanner::new(vec![]);
        let line = r#"{"a":"-----BEGIN EC PRIVATE KEY-----\nAAAA","b":"BBBB\n-----END EC PRIVATE KEY-----"}"#;
        let (out, rules) = scanner.redact_line(line);
        assert!(!rules.is_empty());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            v["a"].as_str().unwrap().contains("[REDACTED:private-key]"),
            "{out}"
        );
        assert!(v.get("b").is_some());
    }

    #[test]
    fn file_keeps_endings_and_reports_places_not_values() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s.jsonl");
        let secret = planted()[0].1.clone();
        std::fs::write(
            &src,
            format!(
                "{{\"a\":1}}\r\n{}\n{{\"b\":\"{secret} {secret}\"}}",
                record(&secret)
            ),
        )
        .unwrap();
        let mut out = Vec::new();
        let findings = redact_file(&src, &mut out, &Scanner::new(vec![]), "s.jsonl").unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("{\"a\":1}\r\n") && !out.ends_with('\n'));
        assert!(!out.contains(&secret));
        let places: Vec<_> = findings
            .iter()
            .map(|f| (f.rule, f.file.as_str(), f.line))
            .collect();
        assert_eq!(
            places,
            [
                ("aws-access-key", "s.jsonl", 2),
                ("aws-access-key", "s.jsonl", 3),
                ("aws-access-key", "s.jsonl", 3)
            ]
        );
        assert!(!format!("{findings:?}").contains(&secret));
    }

    #[test]
    fn a_key_block_across_real_newlines_is_redacted_whole() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("tool-output.txt");
        std::fs::write(
            &src,
            "cat ~/.ssh/id_rsa\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98v1Zz0abc\nklmnopQRSTUV0123456789+/=\n-----END RSA PRIVATE KEY----- done\nafter\n",
        )
        .unwrap();
        let mut out = Vec::new();
        let findings =
            redact_file(&src, &mut out, &Scanner::new(vec![]), "tool-output.txt").unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            !out.contains("MIIEowIBAAKCAQEA7bq98v1Zz0abc") && !out.contains("klmnopQRSTUV"),
            "{out}"
        );
        assert!(out.starts_with("cat ~/.ssh/id_rsa\n"), "{out}");
        assert!(
            out.ends_with(" done\nafter\n"),
            "lines after the block are kept: {out}"
        );
        assert_eq!(out.lines().count(), 6, "line structure kept: {out}");
        assert_eq!(findings.len(), 1);
        assert_eq!((findings[0].rule, findings[0].line), ("private-key", 2));
    }
}

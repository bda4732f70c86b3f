//! The secret scan that runs before a session leaves the machine (DESIGN.md, "Security").
//!
//! A file is streamed line by line and never parsed as a whole. Each line is matched on its
//! decoded and normalised text (JSON strings unescaped, JSON inside JSON strings unescaped again,
//! ANSI sequences and percent-encoding undone) and every finding maps back to the raw bytes it
//! came from, which are replaced by `[REDACTED:<rule>]`: the copy keeps every other byte, and a
//! line that was valid JSON stays valid JSON. Findings name the rule, the file and the line,
//! never the value.
//!
//! - [`rules`]: what is a secret (provider formats, keys, secret-like assignments)
//! - [`normalise`]: the texts the rules read, and the way back to raw bytes
//! - [`first_pass`]: the one keyword pass over a line that picks the rules of both tiers
//! - [`scan`]: matching, merging and replacing in one line
//! - [`entropy`]: whether a value looks random enough to be a secret
//! - [`provider_rules`]: the second tier, Betterleaks' maintained rule set loaded as data
//! - [`forms`]: the forms the token ccsync holds takes in a transcript (JSON, base64, hex)

pub mod entropy;
pub mod first_pass;
pub mod forms;
pub mod normalise;
pub mod provider_form;
pub mod provider_rules;
pub mod rules;
pub mod scan;

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use anyhow::Result;

pub use scan::{Scanner, TOKEN_RULE};

/// How long `release-push` lets the scan of its sessions take when no `--timeout` is given.
pub const DEFAULT_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// One secret found: where, and by which rule. Deliberately without the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub file: String,
    /// 1-based line number.
    pub line: u64,
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
    let mut key_block = KeyBlock::default();
    super::for_each_line(src, |line| {
        number += 1;
        let (body, ending) = split_ending(line);
        let (out, rules) = key_block.redact(scanner, body);
        if key_block.timed_out || scanner.expired() {
            return Err(ScanTimeout::of(scanner, file_label).into());
        }
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

/// What [`scan_lines`] found in a run of whole lines.
#[derive(Debug, Default)]
pub struct LinesScan {
    /// Numbered from 1 at the run's first line.
    pub findings: Vec<Finding>,
    pub lines: u64,
    /// A private key runs on past the run's last line.
    pub key_block_open: bool,
    /// The scanner's deadline passed before the run was read whole: its findings are not all
    /// there ([`ScanTimeout`] says so to the user).
    pub timed_out: bool,
}

/// The scan took longer than its time limit ([`Scanner::with_time_limit`]): nothing that was
/// being scanned may leave the machine.
#[derive(Debug, thiserror::Error)]
#[error(
    "the secret scan of {file} did not finish within {limit}; nothing of it was pushed. \
     Give it longer with --timeout SECONDS (or CCSYNC_TIMEOUT)"
)]
pub struct ScanTimeout {
    pub file: String,
    pub limit: String,
}

impl ScanTimeout {
    pub fn of(scanner: &Scanner, file: &str) -> Self {
        ScanTimeout {
            file: file.to_owned(),
            limit: scanner.time_limit().map_or_else(
                || "its time limit".to_owned(),
                |d| format!("{} s", d.as_secs()),
            ),
        }
    }
}

/// The findings [`redact_file`] reports for `lines` (whole lines, each ending with `\n` but
/// perhaps the last), without writing the redacted copy. `key_block_open` says whether a private
/// key that began before them runs on into them: it is what the previous run's scan ended with.
/// This lets a file be scanned in blocks on several cores and the blocks' results be joined.
pub fn scan_lines(
    scanner: &Scanner,
    lines: &[u8],
    key_block_open: bool,
    file_label: &str,
) -> LinesScan {
    let mut scan = LinesScan::default();
    let mut key_block = KeyBlock {
        open: key_block_open,
        timed_out: false,
    };
    for line in whole_lines(lines) {
        if scanner.expired() {
            scan.timed_out = true;
            break;
        }
        scan.lines += 1;
        let (_, rules) = key_block.redact(scanner, split_ending(line).0);
        scan.findings.extend(rules.into_iter().map(|rule| Finding {
            rule,
            file: file_label.to_owned(),
            line: scan.lines,
        }));
    }
    scan.key_block_open = key_block.open;
    scan.timed_out |= key_block.timed_out;
    scan
}

/// `lines` cut after each `\n` (the last line may lack one), each end found by `memchr` (a
/// byte-wise split had cost as much as a cheap rule).
fn whole_lines(lines: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = lines;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

/// A line's body and its ending (`\n`, `\r\n`, or none at the end of a file).
fn split_ending(line: &[u8]) -> (&[u8], &[u8]) {
    match line.strip_suffix(b"\n") {
        Some(body) => match body.strip_suffix(b"\r") {
            Some(b) => (b, b"\r\n"),
            None => (body, b"\n"),
        },
        None => (line, b""),
    }
}

/// A private key that spans real newlines, as in a plain-text tool output (in JSON text a key
/// stays on one line, as `\n` escapes): set while one began on an earlier line and has not ended.
#[derive(Default)]
struct KeyBlock {
    open: bool,
    /// A line's scan stopped at the scanner's deadline.
    timed_out: bool,
}

const REDACTED_KEY: &[u8] = b"[REDACTED:private-key]";

impl KeyBlock {
    fn redact<'a>(
        &mut self,
        scanner: &Scanner,
        body: &'a [u8],
    ) -> (Cow<'a, [u8]>, Vec<&'static str>) {
        if self.open {
            // Lines of key material, each after an optional Read-tool line number.
            let key = body.len() - rules::strip_line_number(body).len();
            if let Some(end) = scan::KEY_END.find(&body[key..]) {
                self.open = false;
                let (rest, found) = scanner.redact_bytes(&body[key + end.end()..]);
                let mut out = body[..key].to_vec();
                out.extend_from_slice(REDACTED_KEY);
                out.extend_from_slice(&rest);
                return (Cow::Owned(out), found);
            }
            if rules::key_material(body) {
                if body[key..].trim_ascii().is_empty() {
                    return (Cow::Borrowed(body), Vec::new());
                }
                let mut out = body[..key].to_vec();
                out.extend_from_slice(REDACTED_KEY);
                return (Cow::Owned(out), Vec::new());
            }
            self.open = false;
        }
        let scan = scanner.scan(body);
        self.open = scan.open_key_block;
        self.timed_out |= scan.timed_out;
        scanner.redact_scanned(body, &scan)
    }
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
                    "github_pat_11AQ7ZK2W0{}_{}",
                    "q7Wm2Zk9Lp4X", "Yz0Lq8Wm3Xk7Rt2Vn9Hs4Jc6Bf1Gd5Np8Zw3Ky7Qm2Tx6Lv9Rh4Js1Wc5Pb0"
                ),
            ),
            (
                "anthropic-api-key",
                format!(
                    "sk-ant-api03-{}AA",
                    "AbC-dEf_123Qm7Zk2Wp9Lx4Rt8Vn1Hs6Jc3Yd5Fb0Gk".repeat(2)
                ),
            ),
            (
                "openai-api-key",
                format!(
                    "sk-proj-{}",
                    "Ab3dEf6hIjQm7Zk2Wp9Lx4Rt8Vn1Hs6Jc3Yd5Fb0Gk".repeat(2)
                ),
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
                "xoxb-4820193756-7390518264-Qm7ZkW2pLx9RtV4nHs8JcY3d".to_owned(),
            ),
            (
                "google-api-key",
                format!(
                    "AIza{}",
                    "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q".get(..35).unwrap()
                ),
            ),
            (
                "stripe-key",
                format!("sk_live_{}", "51Hx2aBcD3eFgH4iJkL5mNoP".repeat(2)),
            ),
            (
                "stripe-key",
                format!("rk_live_{}", "51Hx2aBcD3eFgH4iJkL5mNoP"),
            ),
            ("private-key", pem.to_owned()),
        ]
    }

    fn record(text: &str) -> String {
        serde_json::json!({"type":"user","message":{"content":[{"type":"tool_result","content": text}]}}).to_string()
    }

    #[test]
    fn whole_lines_keep_their_endings() {
        for text in [&b""[..], b"a", b"a\n", b"\n\n", b"a\r\nb\nc", b"a\nb\n"] {
            let ours: Vec<&[u8]> = whole_lines(text).collect();
            let split: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
            assert_eq!(ours, split, "{text:?}");
        }
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

    /// Rules that read a value's surroundings run in windows taken from the first pass's trigger
    /// positions, which in a decoded string sit earlier than in the raw line (each escape is one
    /// byte shorter decoded): an assignment deep in a long tool result full of escapes, and one
    /// in JSON inside that string, are still found.
    #[test]
    fn assignments_deep_in_escaped_strings_are_found() {
        let scanner = Scanner::new(vec![]);
        let noise = "line \"quoted\"\twith\ttabs\n".repeat(400);
        let inner = serde_json::json!({"DB_PASSWORD": "Zq8vN3xR7tLm2KpW9s"}).to_string();
        let text = format!("{noise}export DB_PASSWORD=Hq4bT9zLw2XcV7nR5m\n{noise}{inner}\n{noise}");
        let line = record(&text);
        let (out, rules) = scanner.redact_line(&line);
        assert_eq!(
            rules,
            ["secret-assignment", "secret-assignment"],
            "{rules:?}"
        );
        assert!(!out.contains("Hq4bT9zLw2XcV7nR5m") && !out.contains("Zq8vN3xR7tLm2KpW9s"));
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
    }

    /// Found by the `secrets_normalise` fuzz target: a stream of JSON values that opens with a
    /// number is not lexed (only lines opening like a record are), so its finding is not tied to
    /// a string literal; the redaction must still keep it valid JSON.
    #[test]
    fn a_value_stream_read_as_plain_text_stays_valid_json() {
        let scanner = Scanner::new(vec![]);
        let line = format!(
            r#"0"2%2%3%_%xoxa-{}37%3a%2a%%3""ikey4" 2"2""#,
            "Q7-wZ2-k9Lp"
        );
        let (out, rules) = scanner.redact_line(&line);
        assert_eq!(rules, ["slack-token"]);
        let values: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&out)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(values.len(), 5, "{out}");
    }

    #[test]
    fn look_alikes_are_left_alone() {
        let scanner = Scanner::new(vec![]);
        for text in [
            "task-management-system-for-teams-and-more",
            "AKIAIOSFODNN7EXAMPL",  // one short
            "AKIAIOSFODNN7EXAMPLE", // AWS's documented example
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

    /// Issue 18: the token's JSON-escaped, base64 and hex forms are redacted too.
    #[test]
    fn the_tokens_escaped_base64_and_hex_forms() {
        use base64::Engine as _;
        let token = "ghs_Tok3nOfCcsyncItselfNotARealOne12345";
        let scanner = Scanner::new(vec![token.to_owned()]);
        let escaped: String = token
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let half: String = token
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    format!("\\u{:04X}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let inner = serde_json::json!({"cmd": format!("echo {}", b64(token))}).to_string();
        for (what, line, gone) in [
            (
                "escaped",
                format!(r#"{{"a":"token {escaped} end"}}"#),
                escaped.clone(),
            ),
            ("half escaped", format!(r#"{{"a":"{half}"}}"#), half.clone()),
            (
                "basic",
                record(&format!(
                    "Authorization: Basic {}",
                    b64(&format!("x-access-token:{token}"))
                )),
                b64(&format!("x-access-token:{token}"))[20..50].to_owned(),
            ),
            (
                "base64",
                record(&format!("echo {} | base64 -d", b64(token))),
                b64(token)[..40].to_owned(),
            ),
            (
                "base64 in json in json",
                record(&inner),
                b64(token)[..40].to_owned(),
            ),
            (
                "hex",
                record(&format!("xxd -p: {}", hex::encode(token))),
                hex::encode(token)[..40].to_owned(),
            ),
            (
                "HEX",
                record(&hex::encode_upper(token)),
                hex::encode_upper(token)[..40].to_owned(),
            ),
        ] {
            let (out, rules) = scanner.redact_line(&line);
            assert!(!rules.is_empty(), "{what}: {line}");
            assert!(!out.contains(&gone), "{what}: {out}");
            serde_json::from_str::<serde_json::Value>(&out)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
        }
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

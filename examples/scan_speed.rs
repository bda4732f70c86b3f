//! Times the secret scan alone over session files, as `release-push` runs it (one thread, the
//! redacted copy discarded): `cargo run --release --example scan_speed -- FILE...`.
//! Prints the time to build the scanner, then bytes, seconds, MB/s and the findings per rule of
//! a first pass over the files (which compiles the rules their keywords call for, as a push
//! does) and of a second (the rules compiled).

use std::collections::BTreeMap;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(!files.is_empty(), "usage: scan_speed FILE...");
    let start = Instant::now();
    let scanner = ccsync::bundle::Scanner::new(vec!["ghs_benchTOKENnotAsecret0123456789".into()]);
    println!(
        "scanner built in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    for pass in ["first pass", "second pass"] {
        let mut bytes = 0u64;
        let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
        let start = Instant::now();
        for file in &files {
            bytes += std::fs::metadata(file)?.len();
            let mut sink = std::io::sink();
            for finding in ccsync::bundle::redact_file(file.as_ref(), &mut sink, &scanner, file)? {
                *per_rule.entry(finding.rule).or_default() += 1;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{pass}: {bytes} bytes in {secs:.3} s: {:.1} MB/s; findings {per_rule:?}",
            bytes as f64 / 1e6 / secs
        );
    }
    Ok(())
}

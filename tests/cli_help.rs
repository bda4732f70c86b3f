//! `--help` is part of the interface: its text is kept in `tests/snapshots/help/*.txt` (rewrite them
//! with `CCSYNC_UPDATE_SNAPSHOTS=1 cargo test --test cli_help`), and the README's command reference
//! names every command and every flag that `--help` shows.

mod support;

use std::path::PathBuf;

use support::TestEnv;

fn help(env: &TestEnv, args: &[&str]) -> String {
    let output = env
        .ccsync()
        .args(args)
        .arg("--help")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?} --help failed");
    String::from_utf8(output.stdout).unwrap()
}

/// The subcommands `ccsync --help` lists (leaving out clap's `help`).
fn subcommands(top: &str) -> Vec<String> {
    top.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // Wrapped descriptions are indented further than command names.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// The long flags a help text documents, without the global ones and clap's own.
fn flags(text: &str) -> Vec<String> {
    const GLOBAL: &[&str] = &[
        "--repo",
        "--token",
        "--api-url",
        "--claude-dir",
        "--timeout",
        "--json",
        "--quiet",
        "--verbose",
        "--help",
        "--version",
    ];
    let mut found: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '=')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_owned()
        })
        .filter(|w| !GLOBAL.contains(&w.as_str()))
        .collect();
    found.sort();
    found.dedup();
    found
}

fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/help")
}

fn check_snapshot(name: &str, actual: &str) {
    let path = snapshot_dir().join(format!("{name}.txt"));
    if std::env::var_os("CCSYNC_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run CCSYNC_UPDATE_SNAPSHOTS=1 cargo test --test cli_help",
            path.display()
        )
    });
    assert_eq!(actual, expected, "`ccsync {name} --help` changed: review it, then run CCSYNC_UPDATE_SNAPSHOTS=1 cargo test --test cli_help");
}

#[test]
fn help_texts_match_their_snapshots() {
    let env = TestEnv::new();
    let top = help(&env, &[]);
    check_snapshot("ccsync", &top);
    for command in subcommands(&top) {
        check_snapshot(&command, &help(&env, &[&command]));
    }
}

#[test]
fn the_readme_names_every_command_and_flag() {
    let env = TestEnv::new();
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let top = help(&env, &[]);
    let commands = subcommands(&top);
    assert!(
        commands.len() >= 10,
        "every command of DESIGN.md is listed: {commands:?}"
    );
    for command in &commands {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `ccsync {command}")))
            .unwrap_or_else(|| panic!("README's command table has no row for `ccsync {command}`"));
        for flag in flags(&help(&env, &[command])) {
            assert!(
                row.contains(&flag),
                "README's row for `ccsync {command}` does not mention {flag}: {row}"
            );
        }
    }
    for flag in flags(&top) {
        assert!(readme.contains(&flag), "README does not mention {flag}");
    }
}

#[test]
fn every_command_of_the_contract_is_present() {
    let env = TestEnv::new();
    let commands = subcommands(&help(&env, &[]));
    for expected in [
        "sessions",
        "discover",
        "release-push",
        "release-restore",
        "release-list",
        "release-prune",
        "doctor",
        "hook",
        "completions",
    ] {
        assert!(
            commands.iter().any(|c| c == expected),
            "`ccsync {expected}` is missing from --help: {commands:?}"
        );
    }
}

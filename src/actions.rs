//! GitHub Actions glue: workflow commands, the `$GITHUB_ENV` / `$GITHUB_OUTPUT` files, the step
//! summary and log groups. Everything here is a no-op outside Actions.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::neutral;

/// The step summary is capped by GitHub at 1 MiB; stay under it.
const SUMMARY_LIMIT: usize = 1024 * 1024 - 1024;

/// True inside a GitHub Actions job.
pub fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// An environment variable that is set and not empty.
pub fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// True for a `pull_request` run from a fork, whose `GITHUB_TOKEN` is read-only and sees no
/// drafts, whatever the workflow's `permissions` say.
pub fn is_fork_pull_request() -> bool {
    if !in_actions() || env_nonempty("GITHUB_EVENT_NAME").as_deref() != Some("pull_request") {
        return false;
    }
    let (Some(event_path), Some(repository)) = (
        env_nonempty("GITHUB_EVENT_PATH"),
        env_nonempty("GITHUB_REPOSITORY"),
    ) else {
        return false;
    };
    #[derive(serde::Deserialize)]
    struct Event {
        pull_request: Option<PullRequest>,
    }
    #[derive(serde::Deserialize)]
    struct PullRequest {
        head: Head,
    }
    #[derive(serde::Deserialize)]
    struct Head {
        repo: Option<Repo>,
    }
    #[derive(serde::Deserialize)]
    struct Repo {
        full_name: String,
    }
    let Ok(file) = std::fs::File::open(event_path) else {
        return false;
    };
    // Event payloads are at most a few MiB; the reader streams it.
    match serde_json::from_reader::<_, Event>(std::io::BufReader::new(file)) {
        Ok(Event {
            pull_request: Some(pr),
        }) => pr
            .head
            .repo
            .is_none_or(|r| !r.full_name.eq_ignore_ascii_case(&repository)),
        _ => false,
    }
}

/// `::name::message`, with the message escaped as the runner expects (and no terminal escape
/// inside, see [`neutral::command_data`]).
pub fn workflow_command(name: &str, message: &str) -> String {
    format!("::{name}::{}", escape_data(message))
}

fn escape_data(value: &str) -> String {
    neutral::command_data(value)
}

/// Asks the runner to mask `secret` in every later log line. Printed before anything could echo it,
/// on stderr (the runner reads commands on both streams) so `--json` output on stdout stays clean.
pub fn add_mask(secret: &str) {
    if in_actions() && !secret.is_empty() {
        eprintln!("::add-mask::{}", escape_data(secret));
    }
}

/// Appends `name=value` to `$GITHUB_ENV` (later steps see it as an environment variable).
pub fn set_env(name: &str, value: &str) -> anyhow::Result<()> {
    append_key_value("GITHUB_ENV", name, value)
}

/// Appends `name=value` to `$GITHUB_OUTPUT` (the step's outputs).
pub fn set_output(name: &str, value: &str) -> anyhow::Result<()> {
    append_key_value("GITHUB_OUTPUT", name, value)
}

/// Appends markdown to the step summary, truncated to GitHub's limit.
pub fn append_summary(markdown: &str) -> anyhow::Result<()> {
    let Some(path) = file_from_env("GITHUB_STEP_SUMMARY") else {
        return Ok(());
    };
    let mut text = markdown;
    if text.len() > SUMMARY_LIMIT {
        let mut end = SUMMARY_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text = &text[..end];
    }
    append(&path, text.as_bytes())
}

/// `name=value` for a one-line value; the heredoc form with a random delimiter otherwise, so a
/// value can never inject another variable.
pub fn key_value_entry(name: &str, value: &str) -> String {
    if value.contains('\n') || value.contains('\r') {
        // A random delimiter the value cannot know; drawn again in the (never seen) case that
        // the value holds it.
        let delimiter = loop {
            let candidate = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
            if !value.contains(&candidate) {
                break candidate;
            }
        };
        format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
    } else {
        format!("{name}={value}\n")
    }
}

fn append_key_value(file_var: &str, name: &str, value: &str) -> anyhow::Result<()> {
    match file_from_env(file_var) {
        Some(path) => append(&path, key_value_entry(name, value).as_bytes()),
        None => Ok(()),
    }
}

fn file_from_env(var: &str) -> Option<PathBuf> {
    if !in_actions() {
        return None;
    }
    env_nonempty(var).map(PathBuf::from)
}

fn append(path: &PathBuf, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {} for appending", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write to {}", path.display()))
}

/// A collapsible `::group::` in the Actions log, closed when dropped.
pub struct LogGroup {
    open: bool,
}

impl LogGroup {
    pub fn new(title: &str) -> Self {
        let open = in_actions();
        if open {
            eprintln!("::group::{}", escape_data(title));
        }
        LogGroup { open }
    }
}

impl Drop for LogGroup {
    fn drop(&mut self) {
        if self.open {
            eprintln!("::endgroup::");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_values_use_the_plain_form() {
        assert_eq!(key_value_entry("SESSION_ID", "abc"), "SESSION_ID=abc\n");
    }

    #[test]
    fn multi_line_values_cannot_inject_variables() {
        let entry = key_value_entry("X", "a\nEVIL=1");
        let mut lines = entry.lines();
        let header = lines.next().unwrap();
        let delimiter = header.strip_prefix("X<<").unwrap();
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(lines.next(), Some("a"));
        assert_eq!(lines.next(), Some("EVIL=1"));
        assert_eq!(lines.next(), Some(delimiter));
        assert_eq!(lines.next(), None);
    }

    /// The runner's reading of an environment or output file: `name=value` lines and
    /// `name<<DELIMITER` heredocs.
    fn runner_reads(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut lines = text.split('\n');
        while let Some(line) = lines.next() {
            if line.is_empty() {
                continue;
            }
            match (line.find('='), line.find("<<")) {
                (Some(eq), h) if h.is_none_or(|h| eq < h) => {
                    out.push((line[..eq].to_owned(), line[eq + 1..].to_owned()))
                }
                (_, Some(h)) => {
                    let delimiter = &line[h + 2..];
                    let mut value = Vec::new();
                    for next in lines.by_ref() {
                        if next == delimiter {
                            break;
                        }
                        value.push(next);
                    }
                    out.push((line[..h].to_owned(), value.join("\n")));
                }
                _ => panic!("malformed {line:?}"),
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn any_value_is_one_variable(value in "(.|\n|\r|=|<<|ghadelimiter_)*") {
            let entry = key_value_entry("SESSION_ID", &value);
            let read = runner_reads(&entry);
            proptest::prop_assert_eq!(read, vec![("SESSION_ID".to_owned(), value)]);
        }
    }

    #[test]
    fn messages_are_escaped() {
        assert_eq!(
            workflow_command("error", "50%\nnext"),
            "::error::50%25%0Anext"
        );
    }
}

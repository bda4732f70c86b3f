//! What ccsync prints for people: progress lines, warnings and errors on stderr, shaped as
//! workflow commands (`::warning::`, `::error::`) inside GitHub Actions. Results go to stdout
//! through the commands themselves; this module owns the rest. Every message passes through
//! [`crate::neutral::message`] on its way out: whatever data a caller put in it, no terminal
//! escape and (in Actions) no workflow-command line reaches the output.

use std::io::{IsTerminal, Write};

use crate::actions;
use crate::cli::GlobalArgs;

#[derive(Debug, Clone)]
pub struct Ui {
    pub json: bool,
    pub quiet: bool,
    pub verbose: u8,
    /// Running inside GitHub Actions (`GITHUB_ACTIONS=true`).
    pub in_actions: bool,
}

impl Ui {
    pub fn from_globals(global: &GlobalArgs) -> Self {
        Ui {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
            in_actions: actions::in_actions(),
        }
    }

    /// A progress line: what ccsync is doing or did. Hidden by `-q`.
    pub fn info(&self, message: &str) {
        if !self.quiet {
            eprintln!("{}", self.safe(message));
        }
    }

    /// `message` made safe for this output (see [`crate::neutral::message`]).
    pub fn safe<'m>(&self, message: &'m str) -> std::borrow::Cow<'m, str> {
        crate::neutral::message(message, self.in_actions)
    }

    /// Detail shown with `-v`.
    pub fn detail(&self, message: &str) {
        if self.verbose > 0 && !self.quiet {
            eprintln!("{}", self.safe(message));
        }
    }

    /// Something worth knowing that is not a failure (`::notice::` in Actions).
    pub fn notice(&self, message: &str) {
        if self.in_actions {
            println_stderr(&actions::workflow_command("notice", &self.safe(message)));
        } else if !self.quiet {
            eprintln!("{}", self.safe(message));
        }
    }

    pub fn warn(&self, message: &str) {
        if self.in_actions {
            println_stderr(&actions::workflow_command("warning", &self.safe(message)));
        } else {
            eprintln!("warning: {}", self.safe(message));
        }
    }

    pub fn error(&self, message: &str) {
        if self.in_actions {
            println_stderr(&actions::workflow_command("error", &self.safe(message)));
        } else {
            eprintln!("error: {}", self.safe(message));
        }
    }

    /// Progress bars only for a person watching a terminal.
    pub fn shows_progress(&self) -> bool {
        !self.quiet && !self.json && !self.in_actions && std::io::stderr().is_terminal()
    }

    /// Prints a JSON document on stdout (for `--json`). In Actions the runner reads stdout too:
    /// see [`crate::neutral::json_for_actions`] (no line of pretty JSON can start with `::`).
    pub fn print_json(&self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        if self.in_actions {
            text = crate::neutral::json_for_actions(&text).into_owned();
        }
        text.push('\n');
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(())
    }
}

/// The columns `text` takes on a terminal (a CJK character or an emoji takes two).
pub fn display_width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// `cell` padded with spaces to `width` terminal columns (left-aligned, or right-aligned with
/// `right`). Written by hand: `format!`'s `{:width$}` counts characters, not columns, and panics
/// for widths above 65,535, and a cell of stored data can be that long.
pub fn pad(cell: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(display_width(cell)));
    if right {
        fill + cell
    } else {
        format!("{cell}{fill}")
    }
}

#[cfg(test)]
mod width_tests {
    #[test]
    fn wide_characters_take_two_columns() {
        assert_eq!(super::display_width("機能"), 4);
        assert_eq!(super::pad("機能", 6, false), "機能  ");
        assert_eq!(super::pad("ab", 6, true), "    ab");
    }
}

/// `1 record`, `2 records`: a count with its noun.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Sizes as people read them: `812 B`, `3.4 KiB`, `12.0 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn println_stderr(line: &str) {
    // Workflow commands are read from either stream; stderr keeps stdout for results.
    eprintln!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn padding_has_no_width_limit() {
        assert_eq!(pad("ab", 4, false), "ab  ");
        assert_eq!(pad("ab", 4, true), "  ab");
        assert_eq!(pad("abc", 2, false), "abc");
        assert_eq!(pad("x", 70_000, false).len(), 70_000);
    }
}

/// Writes a result on stdout; a reader that went away (`ccsync sessions | head`) is not an error.
/// In Actions no line of it can be read as a workflow command ([`crate::neutral::actions_lines`]).
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let text = if crate::actions::in_actions() {
        crate::neutral::actions_lines(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    print_raw(&text)
}

/// Writes `text` on stdout as it is (a completion script); see [`print_stdout`].
pub fn print_raw(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

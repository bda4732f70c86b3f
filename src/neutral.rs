//! Neutralising text that ccsync did not write before it is printed: release metadata fields,
//! asset, tag and branch names, record fields of session files. Anyone with write access to a
//! repository's releases controls that text, so it must not be able to rewrite a terminal (ESC,
//! OSC, CR), fake or inject log lines, become a GitHub Actions workflow command (`::set-output`,
//! `::add-mask::`, `::stop-commands::`), or break out of a Markdown table cell or code span.
//!
//! This module owns every such escape; the print paths ([`crate::ui`], [`crate::actions`], the
//! tables of `release-list` and `sessions`, the step summaries and the release body) go through
//! it. `--json` output needs none of it: serde escapes control characters in JSON strings.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that never reach a terminal or a log raw: C0 and C1 controls and DEL (ESC starts
/// ANSI and OSC sequences, CR rewrites a line, LF starts a new one), the Unicode line and
/// paragraph separators, the bidirectional formatting characters that reorder what is shown
/// ("Trojan Source"), and every other invisible format or default-ignorable character.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_invisible(c)
}

/// Unicode format characters (category Cf) and default-ignorable code points. Besides hiding
/// text, they matter to the Actions runner: it looks for `::` and `##[` with .NET's
/// culture-aware string search, which skips such characters, so `#\u{ad}#[` would be read as
/// `##[`. Escaped, they can neither hide nor join a workflow command.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Stored text is shown up to this many characters: a field of megabytes (anyone who can write
/// the release can make one) must neither flood the output nor break the layout of a table.
pub const MAX_SHOWN_CHARS: usize = 1000;

/// One line of plain text for terminals and logs: every unsafe character written as an escape
/// (`\n`, `\r`, `\t`, `\u{1b}`), everything else as it is, cut after [`MAX_SHOWN_CHARS`]
/// characters with a note of how many more there were. The result never contains a control
/// character, so it never spans two lines.
pub fn text(value: &str) -> Cow<'_, str> {
    let Some((cut, _)) = value.char_indices().nth(MAX_SHOWN_CHARS) else {
        return escape(value);
    };
    let more = value[cut..].chars().count();
    Cow::Owned(format!(
        "{}…[{more} more characters]",
        escape(&value[..cut])
    ))
}

/// [`text`] without the length cap: for ccsync's own messages, whatever their length.
fn escape(value: &str) -> Cow<'_, str> {
    if !value.chars().any(is_unsafe_char) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A message ccsync composed (its own words, with data already passed through [`text`]) made
/// safe to print line by line: unsafe characters other than the message's own line breaks are
/// escaped, and in GitHub Actions no line can be read as a workflow command (see
/// [`actions_line`]).
pub fn message(value: &str, in_actions: bool) -> Cow<'_, str> {
    let needs = value.chars().any(|c| c != '\n' && is_unsafe_char(c))
        || (in_actions && value.split('\n').any(is_workflow_command));
    if !needs {
        return Cow::Borrowed(value);
    }
    let lines: Vec<String> = value
        .split('\n')
        .map(|line| {
            let line = escape(line);
            if in_actions {
                actions_line(&line).into_owned()
            } else {
                line.into_owned()
            }
        })
        .collect();
    Cow::Owned(lines.join("\n"))
}

/// Output ccsync prints in GitHub Actions whose characters must stay as they are (tables already
/// escaped cell by cell, JSON), made inert line by line with [`actions_line`].
pub fn actions_lines(value: &str) -> Cow<'_, str> {
    if !value.split('\n').any(is_workflow_command) {
        return Cow::Borrowed(value);
    }
    let lines: Vec<Cow<'_, str>> = value.split('\n').map(actions_line).collect();
    Cow::Owned(lines.join("\n"))
}

/// JSON text (as serde writes it) made inert for the Actions runner without changing the values
/// it holds: invisible characters (which serde leaves raw, and which the runner's search skips)
/// and the `[` of every `##[` written as `\uXXXX` escapes. Such characters only occur inside
/// strings, where the escape means the same character.
pub fn json_for_actions(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_invisible) && !json.contains(LEGACY) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_invisible(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out.replace(LEGACY, "##\\u005b"))
}

/// True when the Actions runner (actions/runner, `ActionCommand.cs`) would read `line` as a
/// workflow command: `::name::value` once leading white space is trimmed, or the legacy
/// `##[name]value` anywhere in the line.
pub fn is_workflow_command(line: &str) -> bool {
    is_command_line(line) || line.contains(LEGACY)
}

/// The legacy command prefix, which the runner finds anywhere in a line.
const LEGACY: &str = "##[";

/// True when the Actions runner would read `line` as a `::` workflow command.
pub fn is_command_line(line: &str) -> bool {
    line.trim_start().starts_with("::")
}

/// One line made inert for the Actions runner: a backslash before a leading `::` and inside
/// every `##[` (`##\[`). Only backslashes are added, so nothing new can form.
pub fn actions_line(line: &str) -> Cow<'_, str> {
    if !is_workflow_command(line) {
        return Cow::Borrowed(line);
    }
    let mut out = if is_command_line(line) {
        guard_command_line(line)
    } else {
        line.to_owned()
    };
    if out.contains(LEGACY) {
        out = out.replace(LEGACY, "##\\[");
    }
    Cow::Owned(out)
}

fn guard_command_line(line: &str) -> String {
    let start = line.len() - line.trim_start().len();
    format!("{}\\{}", &line[..start], &line[start..])
}

/// A workflow command's data (the message after `::name::`), escaped as the Actions runner
/// unescapes it: `%` → `%25`, CR → `%0D`, LF → `%0A`. Other control characters are escaped as
/// by [`text`] first, so an annotation can hold line breaks but no terminal escape.
pub fn command_data(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if is_unsafe_char(c) => out.push_str(&escape(c.encode_utf8(&mut [0; 4]))),
            c => out.push(c),
        }
    }
    out
}

/// A workflow command's property value (`title=...`): as [`command_data`], plus `:` → `%3A`
/// and `,` → `%2C`, which would otherwise end the property.
pub fn command_property(value: &str) -> String {
    command_data(value).replace(':', "%3A").replace(',', "%2C")
}

/// The runner's unescaping of command data and properties (the inverse of [`command_data`] and
/// [`command_property`] on text without other control characters).
pub fn unescape_command(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at..at + 3).unwrap_or("");
        let decoded = match code {
            "%25" => Some('%'),
            "%0D" => Some('\r'),
            "%0A" => Some('\n'),
            "%3A" => Some(':'),
            "%2C" => Some(','),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Markdown punctuation that could start markup inside a table cell: emphasis, links, HTML,
/// entities, code spans, the cell separator, math. A backslash before ASCII punctuation always
/// shows the character itself (CommonMark), and GitHub's tables honour `\|`.
const MARKDOWN_SPECIAL: &[char] = &[
    '\\', '`', '*', '_', '{', '}', '[', ']', '<', '>', '(', ')', '#', '+', '!', '|', '~', '&', '$',
    '^', '@',
];

/// Plain text for a Markdown table cell or paragraph: one line (see [`text`]) whose Markdown
/// punctuation is backslash-escaped, so it renders as the characters it holds.
pub fn markdown_text(value: &str) -> String {
    let line = text(value);
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        if MARKDOWN_SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A Markdown code span showing `value` verbatim (as one line, see [`text`]), fenced with one
/// backtick more than the longest run of backticks inside. `in_table`: a value with a `|` is shown
/// as escaped text instead ([`markdown_text`]): GitHub splits table cells at a `|` even inside a
/// code span, and its `\|` escape cannot follow a backslash that belongs to the value.
pub fn markdown_code(value: &str, in_table: bool) -> String {
    let line = text(value);
    if in_table && line.contains('|') {
        return markdown_text(value);
    }
    let mut longest = 0;
    let mut run = 0;
    for c in line.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // A code span's content that starts or ends with a backtick needs a space to separate it
    // from the fence (one space on each side is stripped again).
    let pad = if line.starts_with('`') || line.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{line}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_escapes_controls_and_keeps_the_rest() {
        assert_eq!(text("plain /a b/ü"), "plain /a b/ü");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(
            text("a\nb\rc\td\u{1b}]0;x\u{7}e\u{202e}f"),
            "a\\nb\\rc\\td\\u{1b}]0;x\\u{7}e\\u{202e}f"
        );
        assert_eq!(text("\u{9b}31m"), "\\u{9b}31m");
        let long = "h".repeat(70_000);
        let shown = text(&long);
        assert!(shown.starts_with(&"h".repeat(MAX_SHOWN_CHARS)), "{shown}");
        assert!(shown.ends_with("…[69000 more characters]"), "{shown}");
        assert_eq!(
            text(&"é".repeat(MAX_SHOWN_CHARS)),
            "é".repeat(MAX_SHOWN_CHARS)
        );
        // ccsync's own messages are never cut.
        assert_eq!(message(&long, false), long);
    }

    #[test]
    fn messages_keep_their_lines_and_lose_commands() {
        assert_eq!(message("one\ntwo", true), "one\ntwo");
        assert_eq!(
            message("x\n::set-output name=a::b\n  ::error::y", true),
            "x\n\\::set-output name=a::b\n  \\::error::y"
        );
        assert_eq!(message("::notice::x", false), "::notice::x");
        assert_eq!(message("a\u{1b}[2Jb\r", false), "a\\u{1b}[2Jb\\r");
    }

    #[test]
    fn legacy_commands_anywhere_in_a_line_are_broken() {
        assert_eq!(
            message("last activity x ##[set-output name=restored;]true", true),
            "last activity x ##\\[set-output name=restored;]true"
        );
        assert_eq!(
            message("a ##[error]b\n###[x", true),
            "a ##\\[error]b\n###\\[x"
        );
        assert_eq!(message("a ##[error]b", false), "a ##[error]b");
        // An invisible character the runner's search would skip is escaped, so no `##[` forms.
        assert_eq!(message("#\u{ad}#[add-mask]x", true), "#\\u{ad}#[add-mask]x");
        assert_eq!(message("\u{200b}::error::x", true), "\\u{200b}::error::x");
        assert_eq!(
            actions_lines("ok\n ::x::y\n{\"a\": \"##[z]\"}"),
            "ok\n \\::x::y\n{\"a\": \"##\\[z]\"}"
        );
        assert!(matches!(actions_lines("plain\nlines"), Cow::Borrowed(_)));
        let json = serde_json::to_string(&"a #\u{ad}#[b] ##[c] \u{e0041}").unwrap();
        let safe = json_for_actions(&json);
        assert_eq!(safe, "\"a #\\u00ad#[b] ##\\u005bc] \\udb40\\udc41\"");
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "a #\u{ad}#[b] ##[c] \u{e0041}");
    }

    #[test]
    fn command_escaping_is_githubs() {
        assert_eq!(command_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(command_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(command_data("\u{1b}[31m"), "\\u{1b}[31m");
        assert_eq!(unescape_command("50%25%0D%0Anext"), "50%\r\nnext");
    }

    #[test]
    fn markdown_cells_and_code_spans() {
        assert_eq!(markdown_text("a|b`c<d>\ne"), "a\\|b\\`c\\<d\\>\\\\ne");
        assert_eq!(markdown_code("main", false), "`main`");
        assert_eq!(markdown_code("a`b", false), "``a`b``");
        assert_eq!(markdown_code("`x``", true), "``` `x`` ```");
        assert_eq!(markdown_code("a|b", false), "`a|b`");
        assert_eq!(markdown_code("a|b", true), "a\\|b");
        assert_eq!(markdown_code("a\nb", false), "`a\\nb`");
    }

    /// The longest run of backticks in `s`.
    fn longest_run(s: &str) -> usize {
        s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
    }

    /// Strings rich in what attacks output: controls, escapes, command and Markdown syntax.
    fn hostile() -> impl Strategy<Value = String> {
        let special = prop::sample::select(vec![
            '\n', '\r', '\t', '\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2028}', '%', ':', ',',
            '`', '|', '<', '>', '\\', '[', ']', '*', '_', ' ', '#', '\u{ad}', '\u{200b}',
        ]);
        prop::collection::vec(prop_oneof![any::<char>(), special], 0..48)
            .prop_map(String::from_iter)
    }

    proptest! {
        #[test]
        fn text_is_one_safe_line(s in hostile()) {
            let out = text(&s);
            prop_assert!(!out.chars().any(is_unsafe_char));
            prop_assert!(!out.contains('\n') && !out.contains('\r'));
        }

        #[test]
        fn messages_never_carry_a_command_or_a_control(s in hostile(), prefix in "(::|  ::|\n::|##\\[|x##\\[|)") {
            let input = format!("{prefix}{s}");
            let out = message(&input, true);
            for line in out.split('\n') {
                prop_assert!(!is_workflow_command(line), "{line:?}");
                prop_assert!(!line.chars().any(is_unsafe_char));
            }
        }

        #[test]
        fn command_data_round_trips_and_stays_on_one_line(s in hostile()) {
            let data = command_data(&s);
            prop_assert!(!data.chars().any(is_unsafe_char));
            let property = command_property(&s);
            prop_assert!(!property.contains(':') && !property.contains(','));
            // Round trip wherever the runner's escaping is defined: text without other controls.
            if s.chars().all(|c| c == '\n' || c == '\r' || !is_unsafe_char(c)) {
                prop_assert_eq!(unescape_command(&data), s.clone());
                prop_assert_eq!(unescape_command(&property), s);
            }
        }

        #[test]
        fn markdown_never_breaks_out(s in hostile()) {
            let cell = markdown_text(&s);
            prop_assert!(!cell.chars().any(is_unsafe_char));
            // Every `|`, backtick and `<` is escaped.
            let mut escaped = false;
            for c in cell.chars() {
                if matches!(c, '|' | '`' | '<') {
                    prop_assert!(escaped, "{cell:?}");
                }
                escaped = !escaped && c == '\\';
            }
            let code = markdown_code(&s, true);
            prop_assert!(!code.chars().any(is_unsafe_char));
            if code.starts_with('`') {
                let fence = longest_run(&code[..code.find(|c| c != '`').unwrap_or(code.len())]);
                prop_assert!(fence > longest_run(&text(&s)));
                prop_assert!(!code.contains('|'));
            }
            // No unescaped `|` inside the span.
            let mut escaped = false;
            for c in code.chars() {
                if c == '|' {
                    prop_assert!(escaped, "{code:?}");
                }
                escaped = !escaped && c == '\\';
            }
        }
    }
}

//! Any text as a field of stored data: every escape of `ccsync::neutral` must give output with no
//! control character where it promises none, no line that the Actions runner reads as a workflow
//! command, code spans whose fence is longer than any backtick run inside, and the runner's own
//! unescaping must give the text back where its escaping is defined.
#![no_main]

use ccsync::neutral::{self, is_unsafe_char};
use libfuzzer_sys::fuzz_target;

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);

    let line = neutral::text(&value);
    assert!(!line.chars().any(is_unsafe_char), "text: {line:?}");

    for in_actions in [false, true] {
        let message = neutral::message(&value, in_actions);
        for part in message.split('\n') {
            assert!(!part.chars().any(is_unsafe_char), "message: {part:?}");
            if in_actions {
                assert!(!neutral::is_workflow_command(part), "command line: {part:?}");
            }
        }
    }

    let data = neutral::command_data(&value);
    let property = neutral::command_property(&value);
    assert!(!data.chars().any(is_unsafe_char) && !property.chars().any(is_unsafe_char));
    assert!(!property.contains(':') && !property.contains(','));
    if value.chars().all(|c| c == '\n' || c == '\r' || !is_unsafe_char(c)) {
        assert_eq!(neutral::unescape_command(&data), value);
        assert_eq!(neutral::unescape_command(&property), value);
    }

    let cell = neutral::markdown_text(&value);
    assert!(!cell.chars().any(is_unsafe_char));
    let mut escaped = false;
    for c in cell.chars() {
        if matches!(c, '|' | '`' | '<' | '[' | '*' | '_') {
            assert!(escaped, "unescaped {c:?} in {cell:?}");
        }
        escaped = !escaped && c == '\\';
    }

    for in_table in [false, true] {
        let code = neutral::markdown_code(&value, in_table);
        assert!(!code.chars().any(is_unsafe_char));
        if code.starts_with('`') {
            let fence = code.len() - code.trim_start_matches('`').len();
            assert!(fence > longest_backtick_run(&neutral::text(&value)), "{code:?}");
            assert!(code.ends_with(&"`".repeat(fence)));
            if in_table {
                assert!(!code.contains('|'), "{code:?}");
            }
        }
    }
});

//! The local Claude Code store: `<claude-dir>/projects/<folder>/<session-uuid>.jsonl` and its side
//! data (docs/claude-code-store.md).

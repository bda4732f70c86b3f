//! The work of the commands that move sessions, as pipelines a reader follows top to bottom:
//!
//! - [`push`]: find the local session and its files → compare with the stored copy (uuid rule)
//!   → pack (secrets, encryption, metadata) → write (the write protocol of [`crate::stored`]).
//! - [`restore`]: find the stored session → compare with the local copy → fetch (download,
//!   verify, extract) → install (paths mapped, side data, state and memory, the session last).
//! - [`resume`]: restore, then `claude --resume` with the terminal attached, then push.
//! - [`holders`]: the drafts of any branch that hold one stored session (show, export, prune).
//!
//! Commands (`crate::commands`) parse arguments, call one of these and report what it returns.

pub mod holders;
pub mod push;
pub mod restore;
pub mod resume;

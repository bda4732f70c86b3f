//! How a local and a remote copy of one session relate (DESIGN.md, "Conflicts"): compared by
//! record uuids, not clocks.

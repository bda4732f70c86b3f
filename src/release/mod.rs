//! The GitHub release backend: the branch's draft release `claude-sessions-<branch>` and its assets.

//! The GitHub release backend: the branch's draft release `claude-sessions-<branch>` and its assets.
//!
//! - [`names`]: the naming facts (tag, release name, asset names, body marker), in one place.
//! - [`model`]: [`SessionRelease`] and [`Asset`] as read, and the merged view of duplicate drafts.
//! - [`client`]: [`GitHub`], the client for one repository, and what its parts share. Its methods
//!   live by concern in the modules below.
//! - `lookup`: finding the branch's drafts, every session release, one release by id.
//! - `draft`: the branch's draft for writing: create, converge duplicates, body, delete.
//! - `assets`: uploads under a free name only (the write protocol's compare-and-swap, see
//!   [`crate::stored::write`]), safe replacement (temporary name, delete, rename) for converging
//!   drafts, renames, deletes, leftovers.
//! - `download`: verified downloads.
//! - `graphql`: the one GraphQL query, a release by tag (drafts included).
//! - `repository`: the repository's access and its branches.
//! - [`error`]: the one error type, and the one function that turns an HTTP status into words a
//!   user can act on.
//! - `transport` (private): headers, retries with backoff, rate limits, request counting, the
//!   three hosts' failures in words.
//! - `stall` (private): transfers judged by progress, not by total time.
//!
//! Async (tokio) lives only here; callers use `tokio::runtime::Runtime::block_on`.

mod assets;
pub mod client;
mod download;
mod draft;
pub mod error;
mod graphql;
mod lookup;
pub mod model;
pub mod names;
mod repository;
mod stall;
mod transport;

pub use client::GitHub;
pub use error::{Error, Result};
pub use model::{Asset, SessionRelease};
pub use repository::Access;
pub use transport::{set_command_timeout, set_http_debug, RetryPolicy};

/// The runtime for the network calls of one command; file work stays outside it.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the network runtime: {e}"))
}

//! The GitHub release backend: the branch's draft release `claude-sessions-<branch>` and its assets.
//!
//! - [`names`]: the naming facts (tag, release name, asset names, body marker), in one place.
//! - [`client`]: [`GitHub`], the REST client: finding, creating and converging the branch's draft,
//!   safe asset replacement, verified downloads.
//! - [`error`]: the one error type, and the one function that turns an HTTP status into words a
//!   user can act on.
//! - `transport` (private): headers, retries with backoff, rate limits, request counting.
//!
//! Async (tokio) lives only here; callers use `tokio::runtime::Runtime::block_on`.

pub mod client;
pub mod error;
pub mod names;
mod transport;

pub use client::{Access, Asset, GitHub, SessionRelease};
pub use error::{Error, Result};
pub use transport::RetryPolicy;

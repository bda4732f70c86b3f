//! An older ccsync's copy beside a chain (docs/write-protocol.md, "Older ccsync beside a
//! chain"): ccsync 0.1 cannot read a chain, so its push stores its own full copy under the
//! stable names beside it. Which of the two is ahead is not in their metadata; it is decided
//! here by the uuid rule on their content: the full copy's transcript is downloaded, then
//! compared with the other's metadata (its summary), and only when that does not decide, with
//! the other's content too. Nothing of either is removed until a copy that holds both is current.

use std::path::Path;

use tokio::runtime::Runtime;

use super::StoredSession;
use crate::bundle::facts::SessionFacts;
use crate::release::GitHub;
use crate::sync::Relation;

/// Which of a session's two copies readers use.
pub enum Choice {
    /// This one: it holds every record of the other.
    Use(Box<StoredSession>),
    /// Each holds records the other lacks: only a person can choose (the uuid rule's "diverged").
    Diverged,
}

/// The copy of `stored` (and the one beside it, if any) that holds every record of the other.
/// Without a copy beside: `stored` itself, nothing downloaded.
pub fn choose(
    rt: &Runtime,
    gh: &GitHub,
    stored: &StoredSession,
    scratch: &Path,
    passphrase: Option<&str>,
) -> anyhow::Result<Choice> {
    let Some(other) = stored.beside.as_deref() else {
        return Ok(Choice::Use(Box::new(stored.clone())));
    };
    let alone = |s: &StoredSession| {
        let mut s = s.clone();
        s.beside = None;
        Ok(Choice::Use(Box::new(s)))
    };
    // The full copy (an older ccsync's: one archive) is read first: its transcript against the
    // chain's summary usually decides without the chain's download.
    let (full, chain) = if stored.meta.chain.is_none() {
        (stored, other)
    } else {
        (other, stored)
    };
    let facts = super::transcript_facts(rt, gh, full, scratch, passphrase)?;
    match super::relation_to_copy(rt, gh, &facts, chain, scratch, passphrase, || ())? {
        // The full copy holds the chain's records; equal, the chain is the newer write.
        Relation::LocalAhead => alone(full),
        Relation::Equal | Relation::RemoteAhead => alone(chain),
        Relation::Diverged => Ok(Choice::Diverged),
    }
}

/// What a reader that only shows a session uses (`release-list`, `release-show`,
/// `release-export`): with a copy beside, the one [`choose`] takes; when that cannot be told
/// (diverged, or encrypted without the passphrase), the current copy, with a warning.
pub fn chosen_or_current(
    rt: &Runtime,
    gh: &GitHub,
    stored: StoredSession,
    scratch: &Path,
    warn: &dyn Fn(&str),
) -> StoredSession {
    if stored.beside.is_none() {
        return stored;
    }
    let passphrase = crate::passphrase::from_env("read").ok().flatten();
    let why = match choose(rt, gh, &stored, scratch, passphrase.as_deref()) {
        Ok(Choice::Use(chosen)) => return *chosen,
        Ok(Choice::Diverged) => "they diverged".to_owned(),
        Err(err) => format!("{err:#}"),
    };
    warn(&format!(
        "session {} has two copies in its release (an older ccsync stored one beside this \
         ccsync's), and which is ahead cannot be told ({why}): using the newer write",
        stored.meta.session_id
    ));
    stored
}

/// The uuid rule between a local session and what the release holds of it: the current copy,
/// and the copy beside it if any. With one beside, the local session is ahead only when it
/// holds every record of both (a push then writes a copy that supersedes both), equal or behind
/// as it stands against the copy that holds the other's records, and diverged otherwise.
pub fn relation_to_stored<G>(
    rt: &Runtime,
    gh: &GitHub,
    local: &SessionFacts,
    stored: &StoredSession,
    scratch: &Path,
    passphrase: Option<&str>,
    downloading: impl Fn() -> G,
) -> anyhow::Result<Relation> {
    let relation = |s: &StoredSession| {
        super::relation_to_copy(rt, gh, local, s, scratch, passphrase, &downloading)
    };
    let current = relation(stored)?;
    let Some(other) = stored.beside.as_deref() else {
        return Ok(current);
    };
    let beside = relation(other)?;
    let holds = |r: Relation| matches!(r, Relation::LocalAhead | Relation::Equal);
    if holds(current) && holds(beside) {
        return Ok(Relation::LocalAhead);
    }
    Ok(match choose(rt, gh, stored, scratch, passphrase)? {
        Choice::Use(chosen) if chosen.metadata_asset.id == stored.metadata_asset.id => current,
        Choice::Use(_) => beside,
        Choice::Diverged => Relation::Diverged,
    })
}

/// The divergence between a chain and an older ccsync's copy beside it, with the way out: a
/// push from the machine whose copy should win.
pub fn diverged_error(stored: &StoredSession, branch: &str) -> anyhow::Error {
    let id = &stored.meta.session_id;
    crate::exit::Exit::conflict(format!(
        "session {id} diverged in the release of branch `{branch}`: an older ccsync stored its own \
         copy beside this ccsync's, and each holds records the other lacks; nothing was changed. \
         `ccsync release-push --session {id} --force` from the machine whose copy should win \
         replaces both"
    ))
    .into()
}

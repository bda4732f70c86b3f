//! Every session stored in the repository's session releases, per branch, read from the
//! metadata assets (the release body is only a rendering of them): what `release-list` shows.
//!
//! Only drafts count: a published release whose tag has the session prefix is not ccsync's
//! (ccsync never publishes), so it is named and never read.

use tokio::runtime::Runtime;

use crate::release::{names, GitHub, SessionRelease};

use super::{Damaged, StoredSession};

/// One stored session as listed: the copy readers use of it in its branch's release.
pub struct Listed {
    pub branch: String,
    pub release: SessionRelease,
    pub stored: StoredSession,
}

/// What the session releases hold.
pub struct Listing {
    /// Branches in name order, newest session first within each.
    pub sessions: Vec<Listed>,
    /// Published releases with the session prefix: not ccsync's, not read.
    pub ignored: Vec<SessionRelease>,
    /// The sessions whose only copy in their branch's release is damaged (another draft of the
    /// tag may hold a good one, which is listed instead).
    pub damaged: Vec<(SessionRelease, Damaged)>,
}

/// Reads the session releases of `branch` (every branch's without one), finishing interrupted
/// pushes on the way (best effort). `warn` hears what cannot be read.
pub fn list(
    rt: &Runtime,
    gh: &GitHub,
    branch: Option<&str>,
    warn: &dyn Fn(&str),
) -> anyhow::Result<Listing> {
    let releases = releases_of(rt, gh, branch)?;
    let wanted = |r: &SessionRelease| branch.is_none_or(|b| r.tag_name == names::tag_for(b));
    let scratch = tempfile::tempdir()?;
    let mut listing = Listing {
        sessions: Vec::new(),
        ignored: Vec::new(),
        damaged: Vec::new(),
    };
    for release in releases.iter().filter(|r| wanted(r)) {
        let Some(branch) = release.branch() else {
            continue;
        };
        if !release.draft {
            warn(&format!(
                "release `{}` is published, so it is not ccsync's (ccsync keeps its releases as drafts); not read: {}",
                crate::neutral::text(&release.tag_name),
                crate::neutral::text(&release.html_url)
            ));
            listing.ignored.push(release.clone());
            continue;
        }
        let read = super::read_release(rt, gh, release, scratch.path(), warn, None)?;
        let damaged = read.damaged.into_iter().map(|d| (release.clone(), d));
        listing.damaged.extend(damaged);
        // Finishes interrupted pushes (complete copies under temporary names), best effort.
        super::finish_writes(rt, gh, release, &read.sessions, warn);
        for stored in read.sessions {
            let stored = super::beside::chosen_or_current(rt, gh, stored, scratch.path(), warn);
            listing.add(&branch, release, stored);
        }
    }
    listing.sessions.sort_by(|a, b| {
        a.branch
            .cmp(&b.branch)
            .then_with(|| {
                b.stored
                    .meta
                    .last_timestamp
                    .cmp(&a.stored.meta.last_timestamp)
            })
            .then_with(|| a.stored.meta.session_id.cmp(&b.stored.meta.session_id))
    });
    let sessions = &listing.sessions;
    listing.damaged.retain(|(r, d)| {
        !sessions.iter().any(|s| {
            Some(s.branch.as_str()) == r.branch().as_deref()
                && s.stored.meta.session_id == d.meta.session_id
        })
    });
    Ok(listing)
}

/// One branch: its drafts by tag, a few requests whatever the repository holds. A published
/// release with that tag is read by listing, where it is named as not ccsync's.
fn releases_of(
    rt: &Runtime,
    gh: &GitHub,
    branch: Option<&str>,
) -> anyhow::Result<Vec<SessionRelease>> {
    Ok(match branch {
        Some(branch) => match rt.block_on(gh.session_drafts_of(branch)) {
            Err(crate::release::Error::Published { .. }) => {
                rt.block_on(gh.list_session_releases())?
            }
            found => found?,
        },
        None => rt.block_on(gh.list_session_releases())?,
    })
}

impl Listing {
    /// Duplicate drafts of one tag may hold the same session: the copy readers use, by the write
    /// protocol's one rank (never push time).
    fn add(&mut self, branch: &str, release: &SessionRelease, stored: StoredSession) {
        let same =
            |l: &Listed| l.branch == branch && l.stored.meta.session_id == stored.meta.session_id;
        match self.sessions.iter().position(same) {
            Some(at) if stored.ranks_before(&self.sessions[at].stored) => {
                self.sessions[at] = Listed {
                    branch: branch.to_owned(),
                    release: release.clone(),
                    stored,
                };
            }
            Some(_) => {}
            None => self.sessions.push(Listed {
                branch: branch.to_owned(),
                release: release.clone(),
                stored,
            }),
        }
    }
}

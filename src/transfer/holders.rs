//! Where a stored session is: the session drafts, of any branch, that hold its assets, found with
//! as few requests as the repository's size allows; and the copy of one session that show and
//! export read among them.

use crate::config::Context;
use crate::exit::Exit;
use crate::neutral::text;
use crate::release::{GitHub, SessionRelease};
use crate::stored::{self, StoredSession};

/// The session drafts, of any branch, that hold assets of stored session `id`, with the client
/// and runtime that read them: where `release-show`, `release-export` and `release-prune
/// --session` start.
pub struct Holders {
    pub slug: crate::git::RepoSlug,
    pub gh: crate::release::GitHub,
    pub rt: tokio::runtime::Runtime,
    /// The session id (a prefix or upper-case id resolved).
    pub id: String,
    /// Each draft holding assets of the session on its own (duplicate drafts separately).
    pub drafts: Vec<crate::release::SessionRelease>,
    /// Whether every session draft of the repository was searched (else only the candidate
    /// branches': `--branch`, the local session's, the current one).
    pub searched_all: bool,
}

/// Finds the [`Holders`] of session `id`. With `--branch`, only that branch's drafts (by tag: a
/// few requests whatever the repository holds). Otherwise every session draft when the repository
/// holds at most 100 releases (one page of the listing); in a larger one, the drafts of the branches
/// the session is likely in (the branch its local copy records, the current branch) by tag, and the
/// whole listing only when those do not hold it. An `id` that is no session id is a usage error
/// before any request.
pub fn releases_holding(ctx: &Context, id: &str, branch: Option<&str>) -> anyhow::Result<Holders> {
    let git = ctx.git_repo().ok();
    let local = git.as_ref().and_then(|g| {
        let claude_dir = ctx.claude_dir().ok()?;
        crate::store::repository_sessions(&claude_dir, g.root()).ok()
    });
    let local = local.unwrap_or_default();
    // A whole id, or a prefix of a local one, is known before any request; text that is no id
    // is refused before any.
    let local_ids: Vec<&str> = local.iter().map(|s| s.id.as_str()).collect();
    let known = match crate::ids::resolve(id, &local_ids, &[]) {
        Ok(id) => Some(id),
        Err(e) if crate::exit::code_for(&e) == crate::exit::Code::Usage => return Err(e),
        Err(_) => None,
    };
    let slug = ctx.github_repo(git.as_ref())?;
    let gh = crate::release::GitHub::new(ctx.api_url()?, slug.clone(), ctx.token()?)?;
    let rt = crate::release::runtime()?;
    let search = Search {
        gh: &gh,
        rt: &rt,
        local: &local,
        current: git.as_ref().and_then(|g| g.current_branch()),
    };
    let (id, drafts, searched_all) = match (branch, known) {
        (Some(branch), _) => search.in_branch(id, branch)?,
        (None, Some(id)) => search.everywhere(id)?,
        // A prefix of no local session: the stored ones decide, all of them.
        (None, None) => search.listed(id)?,
    };
    Ok(Holders {
        slug,
        gh,
        rt,
        id,
        drafts,
        searched_all,
    })
}

/// Where [`releases_holding`] looks.
struct Search<'a> {
    gh: &'a crate::release::GitHub,
    rt: &'a tokio::runtime::Runtime,
    local: &'a [crate::store::LocalSession],
    current: Option<String>,
}

type Searched = (String, Vec<crate::release::SessionRelease>, bool);

impl Search<'_> {
    fn holding(
        id: &str,
        drafts: Vec<crate::release::SessionRelease>,
    ) -> Vec<crate::release::SessionRelease> {
        drafts
            .into_iter()
            .filter(|r| !r.session_assets(id).is_empty())
            .collect()
    }

    fn local_ids(&self) -> Vec<&str> {
        self.local.iter().map(|s| s.id.as_str()).collect()
    }

    fn in_branch(&self, id: &str, branch: &str) -> anyhow::Result<Searched> {
        let drafts = self.rt.block_on(self.gh.session_drafts_of(branch))?;
        let id = crate::ids::resolve(id, &self.local_ids(), &drafts)?;
        Ok((id.clone(), Self::holding(&id, drafts), true))
    }

    fn listed(&self, id: &str) -> anyhow::Result<Searched> {
        let all = self.rt.block_on(self.gh.session_drafts_listed())?;
        let id = crate::ids::resolve(id, &self.local_ids(), &all)?;
        Ok((id.clone(), Self::holding(&id, all), true))
    }

    /// Every branch's drafts in a small repository; in a large one the likely branches' by tag
    /// first (their copies only, when they hold one), else every draft.
    fn everywhere(&self, id: String) -> anyhow::Result<Searched> {
        let mut candidates: Vec<String> = self
            .local
            .iter()
            .filter(|s| s.id == id)
            .filter_map(|s| s.branch.clone())
            .chain(self.current.clone())
            .filter(|b| b != "HEAD" && crate::config::checked_branch(b).is_ok())
            .collect();
        candidates.dedup();
        let mut found = Vec::new();
        for (n, candidate) in candidates.iter().enumerate() {
            match self.rt.block_on(self.gh.session_drafts_counted(candidate)) {
                // A small repository is searched whole: one page of the listing.
                Ok((_, total)) if n == 0 && total.is_none_or(|t| t <= 100) => break,
                Ok((drafts, _)) => found.extend(Self::holding(&id, drafts)),
                // A published release with that tag is not ccsync's: nothing of it is read.
                Err(crate::release::Error::Published { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !found.is_empty() {
            return Ok((id, found, false));
        }
        let all = match self.rt.block_on(self.gh.session_drafts_if_few())? {
            Some(all) => all,
            None => self.rt.block_on(self.gh.session_drafts_listed())?,
        };
        Ok((id.clone(), Self::holding(&id, all), true))
    }
}

/// A stored session and the release that holds it, with the client that read them.
pub struct Found {
    pub gh: GitHub,
    pub rt: tokio::runtime::Runtime,
    pub release: SessionRelease,
    pub stored: StoredSession,
    /// Every branch whose release holds a complete copy (the chosen one among them).
    pub branches: Vec<String>,
}

/// Finds session `id` (or a unique start of one) in the release of `branch`, else in whichever
/// branch's release holds a complete copy, reading only metadata. When several branches' releases
/// hold it, the most advanced copy (most records, then newest activity) is taken and a warning
/// names them all, with `--branch` to choose.
pub fn find_stored(ctx: &Context, id: &str, branch: Option<&str>) -> anyhow::Result<Found> {
    let Holders {
        gh, rt, drafts, id, ..
    } = releases_holding(ctx, id, branch)?;
    let (mut copies, damaged) = read_copies(ctx, &rt, &gh, drafts, &id)?;
    // A damaged copy is bad data, never "not stored" (restore says the same).
    if let Some((release, bad)) = damaged.first() {
        if copies.is_empty() {
            return Err(stored::damaged_error(release, bad, "Nothing was read."));
        }
        ctx.ui.warn(&format!(
            "{:#}",
            stored::damaged_error(release, bad, "This copy is not used.")
        ));
    }
    let mut branches: Vec<String> = copies
        .iter()
        .filter_map(|(r, _)| r.branch().map(|b| b.into_owned()))
        .collect();
    branches.sort();
    branches.dedup();
    copies.sort_by_key(|(_, s)| (s.meta.records, s.activity_key()));
    let Some((release, stored)) = copies.pop() else {
        let where_ = match branch {
            Some(b) => format!("the release of branch `{}` holds no", text(b)),
            None => "no branch's release holds a".to_owned(),
        };
        return Err(Exit::nothing_found(format!(
            "{where_} complete copy of session {id} (`ccsync release-list` lists what is stored)"
        ))
        .into());
    };
    if branches.len() > 1 {
        ctx.ui.warn(&format!(
            "session {id} is stored in the releases of {} branches: {}; this is the copy of `{}` \
             (most records, newest activity): pass --branch B to choose another",
            branches.len(),
            branches
                .iter()
                .map(|b| format!("`{}`", text(b)))
                .collect::<Vec<_>>()
                .join(", "),
            text(&release.branch().unwrap_or_default())
        ));
    }
    Ok(Found {
        gh,
        rt,
        release,
        stored,
        branches,
    })
}

/// Each draft's copy of session `id` (of duplicate drafts of one branch, the copy restore uses,
/// by the protocol's rank), and the damaged copies. A release that could not be read is an error,
/// never "not stored there".
#[allow(clippy::type_complexity)]
fn read_copies(
    ctx: &Context,
    rt: &tokio::runtime::Runtime,
    gh: &GitHub,
    drafts: Vec<SessionRelease>,
    id: &str,
) -> anyhow::Result<(
    Vec<(SessionRelease, StoredSession)>,
    Vec<(SessionRelease, stored::Damaged)>,
)> {
    let scratch = tempfile::tempdir()?;
    let mut copies: Vec<(SessionRelease, StoredSession)> = Vec::new();
    let mut damaged = Vec::new();
    for release in drafts {
        let read = stored::read_release(
            rt,
            gh,
            &release,
            scratch.path(),
            &|m| ctx.ui.warn(m),
            Some(id),
        )?;
        let warn = |m: &str| ctx.ui.warn(m);
        let first = read.sessions.into_iter().next();
        // An older ccsync's copy beside a chain: the one that holds the other's records.
        let first =
            first.map(|s| stored::beside::chosen_or_current(rt, gh, s, scratch.path(), &warn));
        match first {
            Some(stored) => match copies
                .iter()
                .position(|(r, _)| r.tag_name == release.tag_name)
            {
                Some(at) if stored.ranks_before(&copies[at].1) => copies[at] = (release, stored),
                Some(_) => {}
                None => copies.push((release, stored)),
            },
            None => damaged.extend(read.damaged.into_iter().map(|d| (release.clone(), d))),
        }
    }
    Ok((copies, damaged))
}

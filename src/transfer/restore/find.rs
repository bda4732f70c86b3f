//! Restore, step 1: find the stored session: the branch's release by GraphQL, then the listing
//! for duplicate drafts and a `--session` stored on another branch; else why there is nothing.

use std::path::Path;

use crate::catalog;
use crate::cli::RestoreArgs;
use crate::release::{names, GitHub, SessionRelease};
use crate::scratch::RunDir;
use crate::stored::{self, StoredSession};

use super::RestoreJob;

/// The release and the session in it, or why there is nothing to restore.
pub(super) type Found = Result<(SessionRelease, StoredSession), String>;

impl RestoreJob<'_> {
    /// The session to restore and its release, with the run's scratch folder (made after the
    /// first lookup, once the temp folder was swept of what killed runs left there).
    pub(super) fn find(
        &self,
        release_found: &std::cell::Cell<bool>,
    ) -> anyhow::Result<(RunDir, Found)> {
        let (rt, gh, args, branch) = (self.rt, self.gh, self.args, self.branch);
        let ui = self.ui;
        let quick = rt.block_on(gh.session_release(branch))?;
        release_found.set(quick.is_some());
        // Downloads (and decrypted archives) that killed runs left in the temp folder go first.
        crate::scratch::sweep(&std::env::temp_dir());
        let scratch = RunDir::in_temp()?;
        let unreadable = std::cell::RefCell::new(Vec::new());
        let warn = |m: &str| {
            ui.warn(m);
            unreadable.borrow_mut().push(m.to_owned());
        };
        let choose =
            |release: &SessionRelease| choose_session(rt, gh, &warn, release, args, scratch.path());
        let mut found = match &quick {
            Some(release) => choose(release)?.map(|s| (release.clone(), s)),
            None => None,
        };
        // Missed: GraphQL names only one of several drafts sharing a tag (a lost create race), and a
        // `--session` may be stored on another branch. One listing answers both.
        if found.is_none() && (quick.is_some() || args.session.is_some()) {
            let tag = names::tag_for(branch);
            let drafts = rt.block_on(gh.session_drafts_merged())?;
            let own = drafts
                .iter()
                .filter(|r| r.tag_name == tag && !r.duplicate_ids.is_empty());
            let holding = |r: &&SessionRelease| {
                args.session.as_deref().is_some_and(|id| {
                    r.tag_name != tag && r.asset(&names::metadata_asset_name(id)).is_some()
                })
            };
            for release in own.chain(drafts.iter().filter(holding)) {
                if let Some(stored) = choose(release)? {
                    found = Some((release.clone(), stored));
                    break;
                }
            }
        }
        let unreadable = unreadable.into_inner();
        if let (None, Some(release)) = (&found, &quick) {
            refuse_unreadable(release, branch, args, &unreadable)?;
        }
        let found = match found {
            Some(found) => Ok(found),
            None => Err(self.nothing_message(quick.as_ref())),
        };
        Ok((scratch, found))
    }

    /// Why nothing is restored: no release, no such session, or no complete one.
    fn nothing_message(&self, quick: Option<&SessionRelease>) -> String {
        let (rt, gh, args, branch) = (self.rt, self.gh, self.args, self.branch);
        match (quick, &args.session) {
        (None, _) => match rt.block_on(gh.access()) {
            Ok(access) if access.push == Some(false) => "nothing restored: the token cannot see draft releases \
                (it has read-only access, as on pull requests from forks); a workflow needs \
                `permissions: contents: write` to restore sessions"
                .to_owned(),
            _ => match &args.session {
                Some(id) => format!(
                    "nothing to restore: no branch's release holds session {id}, and branch `{branch}` has no session release `{}` (`ccsync release-list` lists what is stored)",
                    names::tag_for(branch)
                ),
                None => format!(
                    "nothing to restore: branch `{branch}` has no session release `{}` (push one with `ccsync release-push`)",
                    names::tag_for(branch)
                ),
            },
        },
        (Some(release), Some(id)) => format!(
            "nothing to restore: no branch's release holds session {id}; the release of branch `{branch}` holds {} other session(s) (`ccsync release-list --branch {branch}` lists them)",
            catalog::session_ids(release).len()
        ),
        (Some(_), None) => format!(
            "nothing to restore: the release of branch `{branch}` holds no complete session"
        ),
    }
    }
}

/// Stored sessions whose metadata cannot be read, and no readable one: bad data, not "nothing to
/// restore".
fn refuse_unreadable(
    release: &SessionRelease,
    branch: &str,
    args: &RestoreArgs,
    unreadable: &[String],
) -> anyhow::Result<()> {
    if unreadable.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "the release of branch `{branch}` ({}) holds {} whose metadata cannot be read, and no readable one{}: {}. \
         Push the session again from a machine that has it, or delete the broken assets",
        release.html_url,
        crate::ui::count(unreadable.len() as u64, "session"),
        args.session.as_deref().map(|id| format!(" for session {id}")).unwrap_or_default(),
        unreadable.join("; ")
    );
}

/// The session to restore from `release`: `--session`, else the newest by the verified metadata
/// of complete copies (labels are hints anyone with write access can edit: they never choose).
fn choose_session(
    rt: &tokio::runtime::Runtime,
    gh: &GitHub,
    warn: &dyn Fn(&str),
    release: &SessionRelease,
    args: &RestoreArgs,
    scratch: &Path,
) -> anyhow::Result<Option<StoredSession>> {
    let only = args.session.as_deref();
    let read = stored::read_release(rt, gh, release, scratch, warn, only)?;
    let sessions = read.sessions;
    refuse_damaged(release, &read.damaged, only, sessions.first())?;
    // A push that stopped after its commit point left a complete copy under temporary names:
    // finish it for everyone (downloads go by asset id, so `sessions` stays valid).
    stored::finish_writes(rt, gh, release, &sessions, warn);
    Ok(match &args.session {
        Some(id) => sessions.into_iter().find(|s| &s.meta.session_id == id),
        None => sessions.into_iter().next(),
    })
}

/// A damaged stored session (metadata without its matching archive, no write under way) that is
/// the one asked for, or newer than the copy about to be restored, is an error: restoring
/// nothing, or an older session, would silently lose its history.
fn refuse_damaged(
    release: &SessionRelease,
    damaged: &[stored::Damaged],
    wanted: Option<&str>,
    chosen: Option<&StoredSession>,
) -> anyhow::Result<()> {
    let newer = |d: &&stored::Damaged| {
        wanted.is_some()
            || chosen.is_none_or(|c| {
                d.meta.last_timestamp.as_deref().unwrap_or("") > c.activity_key().as_str()
            })
    };
    let Some(bad) = damaged.iter().find(newer) else {
        return Ok(());
    };
    Err(stored::damaged_error(release, bad, "Nothing was restored."))
}

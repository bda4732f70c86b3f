//! Finding releases: the branch's draft (by tag in two requests whatever the repository holds,
//! else by listing), every session release, one release by id.
//!
//! Listing costs a request per 100 releases: it serves only where nothing else can (every session
//! release, duplicate drafts after a create, GraphQL unavailable).

use reqwest::Method;
use url::Url;

use super::client::{tag_assets, unexpected, GitHub};
use super::error::{Error, Result};
use super::graphql::ByTag;
use super::model::{merged_view, SessionRelease};
use super::names;
use super::transport::Replay;

impl GitHub {
    /// Every release of the repository the token can see, following `Link: rel="next"`.
    async fn all_releases(&self) -> Result<Vec<SessionRelease>> {
        Ok(self.releases_up_to(1000).await?.0)
    }

    /// The releases on the first `max_pages` pages of the listing (newest first), and whether
    /// that was all of them.
    async fn releases_up_to(&self, max_pages: u32) -> Result<(Vec<SessionRelease>, bool)> {
        let what = format!("listing the releases of {}", self.repo);
        let mut url = self.repo_url("/releases?per_page=100");
        let mut out = Vec::new();
        let mut pages = 0;
        loop {
            pages += 1;
            let response = self
                .http
                .send(&what, Replay::Idempotent, || {
                    self.http.github(Method::GET, &url)
                })
                .await?;
            let next = next_link(response.headers());
            let mut page: Vec<SessionRelease> =
                response.json().await.map_err(|e| unexpected(&what, e))?;
            for release in &mut page {
                tag_assets(release);
            }
            out.extend(page);
            match next {
                // Follow only links to the API we talk to: the token goes with them.
                Some(next) if same_origin(&next, &self.api) && pages < max_pages => url = next,
                Some(_) if pages >= max_pages => return Ok((out, false)),
                _ => return Ok((out, true)),
            }
        }
    }

    /// The drafts with the branch's tag, lowest id first; an error if a published release has it.
    pub(super) async fn drafts_for(&self, branch: &str) -> Result<Vec<SessionRelease>> {
        let tag = names::tag_for(branch);
        let mut matching: Vec<SessionRelease> = self
            .all_releases()
            .await?
            .into_iter()
            .filter(|r| r.tag_name == tag)
            .collect();
        if let Some(published) = matching.iter().find(|r| !r.draft) {
            return Err(Error::Published {
                tag,
                url: published.html_url.clone(),
            });
        }
        matching.sort_by_key(|r| r.id);
        Ok(matching)
    }

    /// The drafts with `tag`, lowest id first, found by GraphQL and read by id: `Some(vec![])` when
    /// GitHub says no release has the tag, `None` when GraphQL could not tell (then only a listing
    /// can). Drafts sharing the tag (a lost create race) are seen among the newest releases.
    pub(super) async fn drafts_by_tag(&self, tag: &str) -> Result<Option<Vec<SessionRelease>>> {
        Ok(self.drafts_by_tag_counted(tag).await?.0)
    }

    /// [`GitHub::drafts_by_tag`], with how many releases the repository holds when GraphQL said.
    async fn drafts_by_tag_counted(
        &self,
        tag: &str,
    ) -> Result<(Option<Vec<SessionRelease>>, Option<u64>)> {
        let (by_tag, total) = self.release_by_tag_counted(tag).await?;
        let (id, duplicates) = match by_tag {
            ByTag::Absent => return Ok((Some(Vec::new()), total)),
            ByTag::Unknown(_) => return Ok((None, None)),
            ByTag::Found {
                draft: false, url, ..
            } => {
                return Err(Error::Published {
                    tag: tag.to_owned(),
                    url,
                })
            }
            ByTag::Found { id, duplicates, .. } => (id, duplicates),
        };
        let mut drafts = Vec::new();
        for id in std::iter::once(id).chain(duplicates) {
            match self.get_release_raw(id).await {
                Ok(release) if release.tag_name == tag && release.draft => drafts.push(release),
                Ok(release) if release.tag_name == tag => {
                    return Err(Error::Published {
                        tag: tag.to_owned(),
                        url: release.html_url,
                    })
                }
                // Deleted or retagged since GraphQL answered: look again by listing.
                Ok(_) => return Ok((None, total)),
                Err(e) if e.is_not_found() => return Ok((None, total)),
                Err(e) => return Err(e),
            }
        }
        drafts.sort_by_key(|r| r.id);
        Ok((Some(drafts), total))
    }

    /// The branch's draft release, or `None`, in two requests whatever the repository holds
    /// (GraphQL by tag, then the release by id), else by listing. Several drafts (a lost race)
    /// read as one: the lowest id, with every session any of them holds.
    pub async fn session_release(&self, branch: &str) -> Result<Option<SessionRelease>> {
        if let Some(drafts) = self.drafts_by_tag(&names::tag_for(branch)).await? {
            return Ok((!drafts.is_empty()).then(|| merged_view(drafts)));
        }
        self.session_release_listed(branch).await
    }

    /// The branch's draft release found by listing every release: duplicate drafts (a lost create
    /// race, which GraphQL shows one of) read as one, the lowest id with every session any of them
    /// holds. Costs a request per 100 releases: for when the quick lookup misses a session.
    pub async fn session_release_listed(&self, branch: &str) -> Result<Option<SessionRelease>> {
        let drafts = self.drafts_for(branch).await?;
        Ok((!drafts.is_empty()).then(|| merged_view(drafts)))
    }

    /// Every release whose tag starts with `claude-sessions-`, drafts and published, each on its own
    /// (duplicates are listed separately).
    pub async fn list_session_releases(&self) -> Result<Vec<SessionRelease>> {
        let mut releases: Vec<SessionRelease> = self
            .all_releases()
            .await?
            .into_iter()
            .filter(|r| r.tag_name.starts_with(names::TAG_PREFIX))
            .map(|r| merged_view(vec![r]))
            .collect();
        releases.sort_by(|a, b| a.tag_name.cmp(&b.tag_name).then(a.id.cmp(&b.id)));
        Ok(releases)
    }

    /// Every branch's session draft, the drafts sharing a tag merged into one view (see
    /// [`GitHub::session_release_listed`]), by tag; published releases left out. One listing.
    pub async fn session_drafts_merged(&self) -> Result<Vec<SessionRelease>> {
        let mut by_tag: std::collections::BTreeMap<String, Vec<SessionRelease>> =
            std::collections::BTreeMap::new();
        for release in self.all_releases().await? {
            if release.draft && release.tag_name.starts_with(names::TAG_PREFIX) {
                by_tag
                    .entry(release.tag_name.clone())
                    .or_default()
                    .push(release);
            }
        }
        Ok(by_tag.into_values().map(merged_view).collect())
    }

    /// Every session draft of the repository, each on its own (drafts sharing a tag are listed
    /// separately), when one page of the listing holds every release; `None` in a larger
    /// repository, where finding them all costs a request per 100 releases.
    pub async fn session_drafts_if_few(&self) -> Result<Option<Vec<SessionRelease>>> {
        let (releases, complete) = self.releases_up_to(1).await?;
        Ok(complete.then(|| single_drafts(releases)))
    }

    /// Every session draft, each on its own, by listing every release.
    pub async fn session_drafts_listed(&self) -> Result<Vec<SessionRelease>> {
        Ok(single_drafts(self.all_releases().await?))
    }

    /// The drafts of one branch, each on its own (a lost create race leaves several), by tag in
    /// two requests whatever the repository holds, else by listing.
    pub async fn session_drafts_of(&self, branch: &str) -> Result<Vec<SessionRelease>> {
        Ok(self.session_drafts_counted(branch).await?.0)
    }

    /// [`GitHub::session_drafts_of`], with how many releases the repository holds when GraphQL
    /// said (so a caller knows whether listing them all is cheap).
    pub async fn session_drafts_counted(
        &self,
        branch: &str,
    ) -> Result<(Vec<SessionRelease>, Option<u64>)> {
        let (drafts, total) = match self.drafts_by_tag_counted(&names::tag_for(branch)).await? {
            (Some(drafts), total) => (drafts, total),
            (None, total) => (self.drafts_for(branch).await?, total),
        };
        Ok((
            drafts.into_iter().map(|d| merged_view(vec![d])).collect(),
            total,
        ))
    }

    /// `GET /releases/{id}` as stored (every asset, any state).
    pub(super) async fn get_release_raw(&self, id: u64) -> Result<SessionRelease> {
        let what = format!("reading release {id} of {}", self.repo);
        let url = self.repo_url(&format!("/releases/{id}"));
        let response = self
            .http
            .send(&what, Replay::Idempotent, || {
                self.http.github(Method::GET, &url)
            })
            .await?;
        let mut release: SessionRelease =
            response.json().await.map_err(|e| unexpected(&what, e))?;
        tag_assets(&mut release);
        Ok(release)
    }

    /// The release as it is now (readable assets only).
    pub async fn refresh(&self, release: &SessionRelease) -> Result<SessionRelease> {
        Ok(merged_view(vec![self.get_release_raw(release.id).await?]))
    }
}

/// The session drafts among `releases`, each read on its own, by tag then id.
fn single_drafts(releases: Vec<SessionRelease>) -> Vec<SessionRelease> {
    let mut drafts: Vec<SessionRelease> = releases
        .into_iter()
        .filter(|r| r.draft && r.tag_name.starts_with(names::TAG_PREFIX))
        .map(|r| merged_view(vec![r]))
        .collect();
    drafts.sort_by(|a, b| a.tag_name.cmp(&b.tag_name).then(a.id.cmp(&b.id)));
    drafts
}

fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

fn same_origin(url: &str, api: &Url) -> bool {
    Url::parse(url).is_ok_and(|u| u.origin() == api.origin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next_is_found() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "link",
            "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=5>; rel=\"last\"".parse().unwrap(),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
    }
}

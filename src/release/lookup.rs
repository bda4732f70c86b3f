//! Finding releases: the branch's drafts (merged into one view), every session release, one
//! release by id.

use reqwest::Method;
use url::Url;

use super::client::{tag_assets, unexpected, GitHub};
use super::error::{Error, Result};
use super::model::{merged_view, SessionRelease};
use super::names;
use super::transport::Replay;

impl GitHub {
    /// Every release of the repository the token can see, following `Link: rel="next"`.
    async fn all_releases(&self) -> Result<Vec<SessionRelease>> {
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
                Some(next) if same_origin(&next, &self.api) && pages < 1000 => url = next,
                _ => return Ok(out),
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

    /// The branch's draft release, or `None`. Several drafts (a lost race) read as one: the lowest
    /// id, with every session any of them holds.
    pub async fn session_release(&self, branch: &str) -> Result<Option<SessionRelease>> {
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

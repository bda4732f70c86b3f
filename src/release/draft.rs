//! The branch's draft for writing: created when missing (never blindly twice), read as one view
//! when a race left several (`crate::stored::merge` merges them), its description replaced, a
//! draft deleted. Never a published release.

use reqwest::Method;
use serde_json::json;

use super::client::{refuse_published, tag_assets, unexpected, GitHub};
use super::error::{Error, Result};
use super::model::{merged_view, SessionRelease};
use super::names;
use super::transport::Replay;

impl GitHub {
    /// The branch's draft release, created when missing; several drafts sharing the tag (a lost
    /// create race) come as one view with `duplicate_ids`. Never writes into a published release.
    pub async fn session_release_for_write(&self, branch: &str) -> Result<SessionRelease> {
        let tag = names::tag_for(branch);
        // The quick lookup: a draft found by tag is used as is; "none" goes straight to creating.
        // Only after a create is every release listed, to meet a racing writer's duplicate.
        let mut known_absent = match self.drafts_by_tag(&tag).await? {
            Some(drafts) if !drafts.is_empty() => return self.converge(drafts).await,
            Some(_) => true,
            None => false,
        };
        let mut created: Option<SessionRelease> = None;
        for _ in 0..4 {
            let mut drafts = if std::mem::take(&mut known_absent) {
                Vec::new()
            } else {
                self.drafts_for(branch).await?
            };
            // A listing may lag behind a create that just answered: keep what we made.
            if let Some(mine) = &created {
                if !drafts.iter().any(|d| d.id == mine.id) {
                    drafts.push(mine.clone());
                    drafts.sort_by_key(|r| r.id);
                }
            }
            if !drafts.is_empty() {
                return self.converge(drafts).await;
            }
            match self.create_draft(branch, &tag).await {
                Ok(release) => created = Some(release),
                // The answer was lost or the create collided: look again before anything else.
                Err(err) if err.is_ambiguous() || err.is_already_exists() => continue,
                Err(err) => return Err(err),
            }
        }
        Err(Error::Unexpected(format!(
            "creating the draft release `{tag}` in {} failed repeatedly; try again later",
            self.repo
        )))
    }

    /// `POST /releases` once: never repeated after it may have reached GitHub.
    async fn create_draft(&self, branch: &str, tag: &str) -> Result<SessionRelease> {
        let what = format!("creating the draft release `{tag}` in {}", self.repo);
        let url = self.repo_url("/releases");
        let body = json!({
            "tag_name": tag,
            "name": names::release_name(branch),
            "body": format!("{}\nClaude Code sessions of branch {}, stored by ccsync. This release stays a draft: do not publish it.\n", names::BODY_MARKER, crate::neutral::markdown_code(branch, false)),
            "draft": true,
            "prerelease": false,
        });
        let response = self
            .http
            .send(&what, Replay::OnlyIfRejected, || {
                self.http.github(Method::POST, &url).json(&body)
            })
            .await?;
        let mut release: SessionRelease =
            response.json().await.map_err(|e| unexpected(&what, e))?;
        tag_assets(&mut release);
        Ok(release)
    }

    /// The drafts as one view (see [`merged_view`]), with the renames an interrupted ccsync 0.1
    /// writer left behind in each finished (the temporary asset is the only copy). Duplicate drafts
    /// stay: merging them is a write of the protocol, by session (`crate::stored::merge`).
    async fn converge(&self, drafts: Vec<SessionRelease>) -> Result<SessionRelease> {
        let view = merged_view(drafts.clone());
        let mut renamed = false;
        for asset in view.assets.iter().filter(|a| a.stored_name.is_some()) {
            match self.rename_asset(asset.id, &asset.name).await {
                Ok(_) => renamed = true,
                Err(e) if e.is_already_exists() || e.is_not_found() => renamed = true,
                Err(e) => return Err(e),
            }
        }
        if !renamed {
            // The listing that found the drafts is as fresh as a read would be.
            return Ok(view);
        }
        let mut now = Vec::new();
        for draft in &drafts {
            now.push(self.get_release_raw(draft.id).await?);
        }
        Ok(merged_view(now))
    }

    /// Replaces the release body. Refuses a published release.
    pub async fn set_body(&self, release: &SessionRelease, body: &str) -> Result<()> {
        refuse_published(release)?;
        let what = format!(
            "updating the description of release `{}` in {}",
            release.tag_name, self.repo
        );
        let url = self.repo_url(&format!("/releases/{}", release.id));
        let payload = json!({ "body": body });
        self.http
            .send(&what, Replay::Idempotent, || {
                self.http.github(Method::PATCH, &url).json(&payload)
            })
            .await
            .map(drop)
    }

    /// Deletes a draft release (and its assets). A published release is refused; one already gone
    /// counts as deleted.
    pub async fn delete_release(&self, release: &SessionRelease) -> Result<()> {
        refuse_published(release)?;
        let what = format!(
            "deleting release `{}` ({}) of {}",
            release.tag_name, release.id, self.repo
        );
        let url = self.repo_url(&format!("/releases/{}", release.id));
        self.delete(&what, &url).await
    }
}

//! The branch's draft for writing: created when missing (never blindly twice), converged into one
//! when a race left several, its description replaced, a draft deleted. Never a published release.

use reqwest::Method;
use serde_json::json;

use super::client::{refuse_published, tag_assets, unexpected, GitHub};
use super::error::{Error, Result};
use super::model::{merged_view, SessionRelease};
use super::names;
use super::transport::Replay;

impl GitHub {
    /// The branch's draft release, created when missing, and converged into one when a race left
    /// several. Never writes into a published release.
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

    /// Makes the lowest-id draft hold every session of `drafts` (newest copy of each), then deletes
    /// the others. Every copy is verified before any draft goes.
    async fn converge(&self, drafts: Vec<SessionRelease>) -> Result<SessionRelease> {
        let chosen_raw = drafts[0].clone();
        let view = merged_view(drafts.clone());
        // Finish renames that an interrupted writer left behind (the temp is the only copy).
        let mut renamed = false;
        for asset in view
            .assets
            .iter()
            .filter(|a| a.release_id == chosen_raw.id && a.stored_name.is_some())
        {
            match self.rename_asset(asset.id, &asset.name).await {
                Ok(_) => renamed = true,
                Err(e) if e.is_already_exists() || e.is_not_found() => renamed = true,
                Err(e) => return Err(e),
            }
        }
        if drafts.len() == 1 {
            // The listing that found the draft is as fresh as a read would be, unless we just
            // changed it.
            if !renamed {
                return Ok(view);
            }
            return self.refresh(&chosen_raw).await;
        }
        let scratch =
            tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
        for asset in view.assets.iter().filter(|a| a.release_id != chosen_raw.id) {
            let file = scratch.path().join(format!("{}", asset.id));
            self.download_asset(asset, &file, None).await?;
            let content_type = asset
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            self.upload_asset(&chosen_raw, &asset.name, &file, &content_type)
                .await?;
            let _ = std::fs::remove_file(&file);
        }
        let now = self.refresh(&chosen_raw).await?;
        // Only what was copied from the duplicates is checked, and only under names that stay:
        // a write in progress may rename or drop its claim and temporary archive at any moment
        // (docs/write-protocol.md), in the chosen draft as well as in the copies.
        let missing: Vec<&str> = view
            .assets
            .iter()
            .filter(|a| a.release_id != chosen_raw.id)
            .map(|a| a.name.as_str())
            .filter(|name| !is_transient(name) && now.asset(name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(Error::Unexpected(format!(
                "merging the duplicate drafts `{}` left {} without {}; nothing was deleted, try again",
                chosen_raw.tag_name,
                chosen_raw.id,
                missing.join(", ")
            )));
        }
        for duplicate in &drafts[1..] {
            self.delete_release(duplicate).await?;
        }
        Ok(now)
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

/// A claim or temporary archive of the write protocol: renamed or deleted when its write ends.
fn is_transient(name: &str) -> bool {
    matches!(
        names::classify(name),
        Some((
            _,
            names::Role::Claim { .. }
                | names::Role::TempArchive { .. }
                | names::Role::LegacyTemp { .. }
        ))
    )
}

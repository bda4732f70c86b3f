//! The shapes of a session release and its assets as ccsync reads them, and the one merged view
//! that several drafts sharing a tag (a lost create race) read as.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::names;

/// A session release: one draft, or the merged view of several drafts that share the tag.
#[derive(Clone, Debug, Deserialize)]
pub struct SessionRelease {
    pub id: u64,
    pub tag_name: String,
    pub name: Option<String>,
    pub draft: bool,
    pub body: Option<String>,
    pub html_url: String,
    pub upload_url: String,
    /// Readable assets only (state `uploaded`). In a merged view, each session's assets come from
    /// the draft with its newest copy; [`Asset::release_id`] says which.
    pub assets: Vec<Asset>,
    pub created_at: Option<String>,
    /// Other drafts with the same tag (higher ids), merged into this view.
    #[serde(skip)]
    pub duplicate_ids: Vec<u64>,
}

impl SessionRelease {
    /// The readable asset of that name, if any.
    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.iter().find(|a| a.name == name)
    }

    /// The assets of session `id` (archives, metadata, claims, temporary archives), in the order
    /// they are safely removed in: metadata first (stable, then claims), so that a reader never
    /// sees metadata whose archive is gone, then the rest.
    pub fn session_assets(&self, id: &str) -> Vec<(&Asset, names::Role)> {
        let mut assets: Vec<(&Asset, names::Role)> = self
            .assets
            .iter()
            .filter_map(|a| match names::classify(&a.name) {
                Some((of, role)) if of == id => Some((a, role)),
                _ => None,
            })
            .collect();
        assets.sort_by_key(|(_, role)| (!role.is_metadata(), !role.is_stable()));
        assets
    }

    /// The branch this release is for.
    pub fn branch(&self) -> Option<std::borrow::Cow<'_, str>> {
        names::branch_of_tag(&self.tag_name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Asset {
    pub id: u64,
    /// The name the session knows it by. Differs from the name stored on GitHub only for a temporary
    /// upload whose rename was interrupted (it is the only copy then, and reads as the final name).
    pub name: String,
    pub size: u64,
    pub state: String,
    pub digest: Option<String>,
    pub content_type: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// GitHub's free-text label ("" when unset). Metadata assets carry a compact summary of their
    /// session there (see `crate::catalog`).
    #[serde(default)]
    pub label: Option<String>,
    /// The release that holds the asset.
    #[serde(skip)]
    pub release_id: u64,
    /// The name on GitHub when it is a temporary name (see `name`).
    #[serde(skip)]
    pub stored_name: Option<String>,
}

/// One view of several drafts sharing a tag: the lowest id's identity, and the readable assets of
/// every draft (each with its [`Asset::release_id`]). Which copy of a session counts is decided by
/// the reading rules of `crate::stored::copies`, across drafts exactly as within one; nothing here
/// chooses by name or time. Only `uploaded` assets count; a complete temporary copy of ccsync 0.1
/// stands in for a missing final name in its draft.
pub(super) fn merged_view(mut drafts: Vec<SessionRelease>) -> SessionRelease {
    drafts.sort_by_key(|r| r.id);
    let mut assets: Vec<Asset> = Vec::new();
    for release in &drafts {
        let mut logical: BTreeMap<String, Asset> = BTreeMap::new();
        for asset in release.assets.iter().filter(|a| a.state == "uploaded") {
            if names::final_name_of_temp(&asset.name).is_none() {
                logical.insert(asset.name.clone(), asset.clone());
            }
        }
        for asset in release.assets.iter().filter(|a| a.state == "uploaded") {
            if let Some(final_name) = names::final_name_of_temp(&asset.name) {
                let newer = logical.get(final_name).is_none_or(|other| {
                    other.stored_name.is_some() && other.updated_at < asset.updated_at
                });
                if newer {
                    let mut stand_in = asset.clone();
                    stand_in.stored_name = Some(asset.name.clone());
                    stand_in.name = final_name.to_owned();
                    logical.insert(final_name.to_owned(), stand_in);
                }
            }
        }
        assets.extend(logical.into_values());
    }
    assets.sort_by(|a, b| a.name.cmp(&b.name).then(a.release_id.cmp(&b.release_id)));

    let duplicate_ids = drafts.iter().skip(1).map(|r| r.id).collect();
    let mut view = drafts.into_iter().next().expect("at least one draft");
    view.assets = assets;
    view.duplicate_ids = duplicate_ids;
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: u64, release_id: u64, name: &str, updated: &str) -> Asset {
        Asset {
            id,
            name: name.into(),
            size: 1,
            state: "uploaded".into(),
            digest: None,
            content_type: None,
            created_at: Some(updated.into()),
            updated_at: Some(updated.into()),
            label: None,
            release_id,
            stored_name: None,
        }
    }

    fn draft(id: u64, assets: Vec<Asset>) -> SessionRelease {
        SessionRelease {
            id,
            tag_name: "claude-sessions-main".into(),
            name: None,
            draft: true,
            body: None,
            html_url: String::new(),
            upload_url: String::new(),
            assets,
            created_at: None,
            duplicate_ids: vec![],
        }
    }

    #[test]
    fn merged_view_keeps_every_drafts_assets() {
        let (a, b) = (
            names::archive_asset_name("s1", false),
            names::metadata_asset_name("s1"),
        );
        let old = "2026-01-01T00:00:00Z";
        let new = "2026-01-02T00:00:00Z";
        let d1 = draft(
            1,
            vec![
                asset(10, 1, &a, old),
                asset(11, 1, &b, old),
                asset(12, 1, &names::metadata_asset_name("s2"), old),
            ],
        );
        let d2 = draft(2, vec![asset(20, 2, &a, new), asset(21, 2, &b, new)]);
        let view = merged_view(vec![d2, d1]);
        assert_eq!(view.id, 1);
        assert_eq!(view.duplicate_ids, vec![2]);
        let mut ids: Vec<(u64, u64)> = view.assets.iter().map(|x| (x.id, x.release_id)).collect();
        ids.sort();
        assert_eq!(ids, vec![(10, 1), (11, 1), (12, 1), (20, 2), (21, 2)]);
    }

    #[test]
    fn a_complete_temp_copy_stands_in_for_a_missing_name() {
        let name = names::archive_asset_name("s1", false);
        let temp = names::temp_asset_name(&name, "abc");
        let mut starter = asset(
            3,
            1,
            &names::temp_asset_name(&name, "zzz"),
            "2026-01-01T00:00:00Z",
        );
        starter.state = "starter".into();
        let view = merged_view(vec![draft(
            1,
            vec![asset(2, 1, &temp, "2026-01-01T00:00:00Z"), starter],
        )]);
        assert_eq!(view.assets.len(), 1);
        assert_eq!(view.assets[0].name, name);
        assert_eq!(view.assets[0].stored_name.as_deref(), Some(temp.as_str()));
    }
}

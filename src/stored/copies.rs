//! The reading rules of the write protocol (docs/write-protocol.md), as pure functions of a
//! release's assets and the metadata already read: which complete copies a session has, which one
//! is current, and the steps that roll an unfinished write forward and remove leftovers.
//!
//! A copy is a metadata asset plus an archive asset of the same session, whatever its name, whose
//! size and sha256 equal the metadata's: matching by content keeps a half-renamed copy readable.
//! Among the archives that match, the newest upload (highest id) is the copy's: a later write that
//! carries the same bytes as an old archive never depends on an asset a stale reader may delete.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::bundle::metadata::{Encryption, Metadata};
use crate::release::names::{self, Role};
use crate::release::Asset;

/// A `starter` or unreferenced temporary asset older than this is abandoned, whoever made it: no
/// upload of a session takes an hour. Younger ones may be another writer's upload in flight.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// One complete copy: metadata and the archive whose size and sha256 it records.
#[derive(Debug, Clone)]
pub struct Copy {
    pub meta: Metadata,
    pub metadata_asset: Asset,
    pub archive_asset: Asset,
    /// The role of the metadata asset (stable, claim, or an 0.1 temporary name).
    pub role: Role,
}

impl Copy {
    pub fn generation(&self) -> u64 {
        self.meta.generation
    }

    /// Under the stable metadata name.
    pub fn stable(&self) -> bool {
        self.role == Role::StableMetadata
    }
}

/// Everything of one session in a release.
#[derive(Debug, Clone)]
pub struct SessionLayout {
    pub session_id: String,
    /// Every asset of the session, any state, with its role.
    pub assets: Vec<(Asset, Role)>,
    /// The complete copies, current first.
    pub copies: Vec<Copy>,
}

impl SessionLayout {
    /// The copy readers use: the highest generation; on a tie the stable name, then the newer push.
    pub fn current(&self) -> Option<&Copy> {
        self.copies.first()
    }
}

/// The metadata assets (any role) of a release that may describe a copy, with their session ids:
/// what a reader downloads. `only` limits them to one session.
pub fn metadata_to_read<'a>(assets: &'a [Asset], only: Option<&str>) -> Vec<(&'a Asset, String)> {
    assets
        .iter()
        .filter(|a| a.state == "uploaded")
        .filter_map(|asset| {
            let (id, role) = names::classify(&asset.name)?;
            (role.is_metadata() && only.is_none_or(|o| o == id)).then(|| (asset, id.to_owned()))
        })
        .collect()
}

/// Whether `archive` holds the bytes `meta` records: same size and GitHub's `digest` equal to the
/// sha256; without a digest (assets older than 2025-06), the name the metadata gives or a
/// temporary name of the session, and the sha256 is checked at download.
fn holds(meta: &Metadata, archive: &Asset, role: &Role) -> bool {
    if archive.state != "uploaded" || archive.size != meta.archive.size {
        return false;
    }
    match archive
        .digest
        .as_deref()
        .and_then(|d| d.strip_prefix("sha256:"))
    {
        Some(digest) => digest.eq_ignore_ascii_case(&meta.archive.sha256),
        None => archive.name == meta.archive.name || !role.is_stable(),
    }
}

fn is_archive(role: &Role) -> bool {
    matches!(
        role,
        Role::StableArchive { .. }
            | Role::TempArchive { .. }
            | Role::LegacyTemp { metadata: false }
    )
}

/// The sessions of `assets`, each with its complete copies, given the metadata read so far (by
/// asset id; a metadata asset not in `metas` counts as unreadable).
pub fn layouts(assets: &[Asset], metas: &HashMap<u64, Metadata>) -> Vec<SessionLayout> {
    let mut by_session: HashMap<&str, Vec<(Asset, Role)>> = HashMap::new();
    for asset in assets {
        if let Some((id, role)) = names::classify(&asset.name) {
            by_session
                .entry(id)
                .or_default()
                .push((asset.clone(), role));
        }
    }
    let mut out: Vec<SessionLayout> = by_session
        .into_iter()
        .map(|(id, session_assets)| layout_of(id, session_assets, metas))
        .collect();
    out.sort_by(|a, b| a.session_id.cmp(&b.session_id));
    out
}

fn layout_of(
    session_id: &str,
    assets: Vec<(Asset, Role)>,
    metas: &HashMap<u64, Metadata>,
) -> SessionLayout {
    let mut copies = Vec::new();
    for (asset, role) in &assets {
        if !role.is_metadata() || asset.state != "uploaded" {
            continue;
        }
        let Some(meta) = metas.get(&asset.id) else {
            continue;
        };
        if meta.session_id != session_id {
            continue;
        }
        let archive = assets
            .iter()
            .filter(|(a, r)| is_archive(r) && holds(meta, a, r))
            .max_by_key(|(a, _)| a.id);
        if let Some((archive, _)) = archive {
            copies.push(Copy {
                meta: meta.clone(),
                metadata_asset: asset.clone(),
                archive_asset: archive.clone(),
                role: role.clone(),
            });
        }
    }
    copies.sort_by(|a, b| {
        b.generation()
            .cmp(&a.generation())
            .then(b.stable().cmp(&a.stable()))
            .then(b.meta.pushed_at.cmp(&a.meta.pushed_at))
            .then(a.metadata_asset.id.cmp(&b.metadata_asset.id))
    });
    SessionLayout {
        session_id: session_id.to_owned(),
        assets,
        copies,
    }
}

/// One request of a roll-forward or cleanup. Everything goes by asset id: a stale plan only meets
/// 404s, which count as done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Delete(Asset),
    Rename(Asset, String),
}

/// Who plans, for the cleanup of leftovers.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    pub now: DateTime<Utc>,
    /// This writer's id when it holds the local lock of the session: its own temporary archives
    /// and `starter` leftovers are then a dead run's.
    pub own_writer: Option<&'a str>,
}

fn older_than_an_hour(asset: &Asset, now: DateTime<Utc>) -> bool {
    asset
        .updated_at
        .as_deref()
        .or(asset.created_at.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| now - t.with_timezone(&Utc) > STALE_AFTER)
}

/// The steps that bring the current copy under the stable names (in the protocol's order: old
/// archive, archive rename, old metadata, metadata rename), then remove what can never be part
/// of a copy again. Empty in the steady state.
pub fn repair_plan(layout: &SessionLayout, planner: &Planner) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut keep: HashSet<u64> = HashSet::new();
    if let Some(current) = layout.current() {
        let encrypted = current.meta.archive.encryption != Encryption::None;
        let archive_name = names::archive_asset_name(&layout.session_id, encrypted);
        let metadata_name = names::metadata_asset_name(&layout.session_id);
        keep.insert(current.archive_asset.id);
        keep.insert(current.metadata_asset.id);
        for (target, ours) in [
            (&archive_name, &current.archive_asset),
            (&metadata_name, &current.metadata_asset),
        ] {
            if &ours.name == target {
                continue;
            }
            for (other, _) in layout.assets.iter().filter(|(a, _)| &a.name == target) {
                steps.push(Step::Delete(other.clone()));
            }
            steps.push(Step::Rename(ours.clone(), target.clone()));
        }
    }
    let current_generation = layout.current().map(Copy::generation);
    // Archives of copies that are not current: they go with their metadata.
    let of_old_copies: HashSet<u64> = layout
        .copies
        .iter()
        .skip(1)
        .map(|c| c.archive_asset.id)
        .collect();
    let referenced: HashSet<u64> = layout.copies.iter().map(|c| c.archive_asset.id).collect();
    let renamed: HashSet<u64> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Delete(a) => Some(a.id),
            Step::Rename(..) => None,
        })
        .collect();
    for (asset, role) in &layout.assets {
        if keep.contains(&asset.id) || renamed.contains(&asset.id) {
            continue;
        }
        let stale = older_than_an_hour(asset, planner.now);
        let own = matches!(role, Role::TempArchive { writer, .. } if Some(writer.as_str()) == planner.own_writer);
        let litter = if asset.state != "uploaded" {
            // Half-written: ours (we are not uploading it) or abandoned.
            own || stale
        } else {
            match role {
                // A stable name that is not the current copy's (the other archive format, or
                // metadata when no copy is complete) goes only once a current copy exists.
                Role::StableArchive { .. } => current_generation.is_some(),
                Role::StableMetadata => false,
                // A claim that is not current lost a race or can never complete.
                Role::Claim { generation } => {
                    current_generation.is_some_and(|g| *generation <= g)
                        || !layout
                            .copies
                            .iter()
                            .any(|c| c.metadata_asset.id == asset.id)
                }
                Role::TempArchive { .. } | Role::LegacyTemp { metadata: false } => {
                    of_old_copies.contains(&asset.id)
                        || (!referenced.contains(&asset.id) && (own || stale))
                }
                Role::LegacyTemp { metadata: true } => current_generation.is_some() && stale,
            }
        };
        if litter {
            steps.push(Step::Delete(asset.clone()));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::metadata::tests::sample;

    const ID: &str = "4d5611e5-241a-462a-8d15-5122611a9569";

    struct Release {
        assets: Vec<Asset>,
        metas: HashMap<u64, Metadata>,
        next_id: u64,
    }

    fn asset(id: u64, name: &str, size: u64, sha: &str, state: &str) -> Asset {
        Asset {
            id,
            name: name.into(),
            size,
            state: state.into(),
            digest: Some(format!("sha256:{sha}")),
            content_type: None,
            created_at: Some("2026-01-01T00:00:00Z".into()),
            updated_at: Some("2026-01-01T00:00:00Z".into()),
            label: None,
            release_id: 1,
            stored_name: None,
        }
    }

    fn meta(generation: u64, version: u8) -> Metadata {
        let mut m = sample();
        m.session_id = ID.into();
        m.archive.name = names::archive_asset_name(ID, false);
        m.archive.size = 100 + u64::from(version);
        m.archive.sha256 = format!("{version:02x}").repeat(32);
        m.generation = generation;
        m
    }

    impl Release {
        fn new() -> Self {
            Release {
                assets: vec![],
                metas: HashMap::new(),
                next_id: 10,
            }
        }

        fn archive(&mut self, name: &str, version: u8) -> Asset {
            self.next_id += 1;
            let m = meta(0, version);
            let a = asset(
                self.next_id,
                name,
                m.archive.size,
                &m.archive.sha256,
                "uploaded",
            );
            self.assets.push(a.clone());
            a
        }

        fn metadata(&mut self, name: &str, generation: u64, version: u8) -> Asset {
            self.next_id += 1;
            let a = asset(self.next_id, name, 1, &"00".repeat(32), "uploaded");
            self.metas.insert(a.id, meta(generation, version));
            self.assets.push(a.clone());
            a
        }

        fn layout(&self) -> SessionLayout {
            layouts(&self.assets, &self.metas).remove(0)
        }

        /// Applies steps as GitHub would (by id; a gone id is a 404 = done; a taken name fails).
        fn apply(&mut self, steps: &[Step]) {
            for step in steps {
                match step {
                    Step::Delete(a) => self.assets.retain(|x| x.id != a.id),
                    Step::Rename(a, name) => {
                        assert!(
                            !self.assets.iter().any(|x| &x.name == name && x.id != a.id),
                            "rename onto a taken name {name}"
                        );
                        if let Some(x) = self.assets.iter_mut().find(|x| x.id == a.id) {
                            x.name = name.clone();
                        }
                    }
                }
            }
        }

        fn current_version(&self) -> Option<u64> {
            self.layout().current().map(|c| c.meta.archive.size - 100)
        }
    }

    fn reader() -> Planner<'static> {
        Planner {
            now: "2026-01-01T00:10:00Z".parse().unwrap(),
            own_writer: None,
        }
    }

    /// The protocol's states of a replace (v1 at generation 0 by ccsync 0.1 -> v2 at generation
    /// 1): in each, a complete copy exists and the one with v2 wins once its claim is up; applying
    /// the repair plan from any of them ends in exactly the stable pair of the winner.
    #[test]
    fn every_intermediate_state_has_a_copy_and_rolls_forward_to_the_stable_pair() {
        let stable_archive = names::archive_asset_name(ID, false);
        let stable_meta = names::metadata_asset_name(ID);
        let temp = names::temp_archive_name(ID, "w1", "n1", false);
        let claim = names::claim_asset_name(ID, 1);
        // (state builder, the version readers must use)
        type Build = fn(&mut Release, &str, &str, &str, &str);
        let states: Vec<(&str, Build, u64)> = vec![
            (
                "start",
                |r, a, m, _, _| {
                    r.archive(a, 1);
                    r.metadata(m, 0, 1);
                },
                1,
            ),
            (
                "temp uploaded",
                |r, a, m, t, _| {
                    r.archive(a, 1);
                    r.metadata(m, 0, 1);
                    r.archive(t, 2);
                },
                1,
            ),
            (
                "claim uploaded",
                |r, a, m, t, c| {
                    r.archive(a, 1);
                    r.metadata(m, 0, 1);
                    r.archive(t, 2);
                    r.metadata(c, 1, 2);
                },
                2,
            ),
            (
                "old archive deleted",
                |r, _, m, t, c| {
                    r.metadata(m, 0, 1);
                    r.archive(t, 2);
                    r.metadata(c, 1, 2);
                },
                2,
            ),
            (
                "temp renamed",
                |r, a, m, _, c| {
                    r.metadata(m, 0, 1);
                    r.archive(a, 2);
                    r.metadata(c, 1, 2);
                },
                2,
            ),
            (
                "old metadata deleted",
                |r, a, _, _, c| {
                    r.archive(a, 2);
                    r.metadata(c, 1, 2);
                },
                2,
            ),
            (
                "done",
                |r, a, m, _, _| {
                    r.archive(a, 2);
                    r.metadata(m, 1, 2);
                },
                2,
            ),
        ];
        for (label, build, want) in states {
            let mut release = Release::new();
            build(&mut release, &stable_archive, &stable_meta, &temp, &claim);
            assert_eq!(release.current_version(), Some(want), "{label}");
            let plan = repair_plan(&release.layout(), &reader());
            release.apply(&plan);
            let mut names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
            names.sort();
            let mut stable = vec![stable_archive.as_str(), stable_meta.as_str()];
            stable.sort();
            if label == "temp uploaded" {
                // A young temporary archive of another writer may be an upload in flight.
                assert!(names.contains(&temp.as_str()), "{label}: {names:?}");
                names.retain(|n| *n != temp);
            }
            assert_eq!(names, stable, "{label}");
            assert_eq!(release.current_version(), Some(want), "{label}");
            assert!(
                repair_plan(&release.layout(), &reader()).is_empty(),
                "{label}"
            );
        }
    }

    /// Every prefix of the roll-forward plan, applied, still holds a complete copy of the new
    /// version (a reader or writer may die after any step).
    #[test]
    fn every_prefix_of_a_roll_forward_keeps_the_new_copy() {
        let mut release = Release::new();
        release.archive(&names::archive_asset_name(ID, false), 1);
        release.metadata(&names::metadata_asset_name(ID), 0, 1);
        release.archive(&names::temp_archive_name(ID, "w1", "n1", false), 2);
        release.metadata(&names::claim_asset_name(ID, 1), 1, 2);
        let plan = repair_plan(&release.layout(), &reader());
        assert_eq!(plan.len(), 4, "{plan:?}");
        for k in 0..=plan.len() {
            let mut partial = Release {
                assets: release.assets.clone(),
                metas: release.metas.clone(),
                next_id: 0,
            };
            partial.apply(&plan[..k]);
            assert_eq!(partial.current_version(), Some(2), "after {k} steps");
            // A second actor with a stale plan (the full one) does no harm either.
            partial.apply(&plan);
            assert_eq!(
                partial.current_version(),
                Some(2),
                "stale plan after {k} steps"
            );
        }
    }

    #[test]
    fn metadata_whose_archive_does_not_match_is_no_copy() {
        let mut release = Release::new();
        // The new archive beside the old metadata (0.1's half-finished replace): no copy at all,
        // so nothing is reported equal and nothing is deleted.
        release.archive(&names::archive_asset_name(ID, false), 2);
        release.metadata(&names::metadata_asset_name(ID), 0, 1);
        assert!(release.layout().current().is_none());
        assert!(repair_plan(&release.layout(), &reader()).is_empty());
        // The stranded complete copy of 0.1 under a temporary name is found by content.
        let mut release = Release::new();
        release.metadata(&names::metadata_asset_name(ID), 0, 2);
        release.archive(
            &names::temp_asset_name(&names::archive_asset_name(ID, false), "x"),
            2,
        );
        assert_eq!(release.current_version(), Some(2));
        let plan = repair_plan(&release.layout(), &reader());
        release.apply(&plan);
        assert!(release
            .assets
            .iter()
            .any(|a| a.name == names::archive_asset_name(ID, false)));
    }

    #[test]
    fn a_stale_claim_loses_to_the_stable_copy_of_its_generation_and_is_removed() {
        let mut release = Release::new();
        release.archive(&names::archive_asset_name(ID, false), 2);
        release.metadata(&names::metadata_asset_name(ID), 1, 2);
        let loser_archive = release.archive(&names::temp_archive_name(ID, "w2", "n2", false), 3);
        let loser = release.metadata(&names::claim_asset_name(ID, 1), 1, 3);
        assert_eq!(release.current_version(), Some(2));
        let plan = repair_plan(&release.layout(), &reader());
        assert!(plan.contains(&Step::Delete(loser)));
        assert!(plan.contains(&Step::Delete(loser_archive)));
        release.apply(&plan);
        assert_eq!(release.assets.len(), 2);
    }

    #[test]
    fn leftovers_go_only_when_they_can_be_no_copy() {
        let mut release = Release::new();
        release.archive(&names::archive_asset_name(ID, false), 1);
        release.metadata(&names::metadata_asset_name(ID), 0, 1);
        let young_other = release.archive(&names::temp_archive_name(ID, "w9", "n", false), 5);
        let own = release.archive(&names::temp_archive_name(ID, "me", "n", false), 6);
        let mut old = release.archive(&names::temp_archive_name(ID, "w8", "n", false), 7);
        old.updated_at = Some("2025-12-31T22:00:00Z".into());
        release
            .assets
            .iter_mut()
            .find(|a| a.id == old.id)
            .unwrap()
            .updated_at = old.updated_at.clone();
        let mut starter = asset(99, &names::claim_asset_name(ID, 1), 0, "00", "starter");
        starter.updated_at = Some("2025-12-31T22:00:00Z".into());
        release.assets.push(starter.clone());
        // A claim without its archive can never complete.
        let orphan = release.metadata(&names::claim_asset_name(ID, 2), 2, 9);
        let writer = Planner {
            own_writer: Some("me"),
            ..reader()
        };
        let plan = repair_plan(&release.layout(), &writer);
        for gone in [&own, &old, &starter, &orphan] {
            assert!(
                plan.contains(&Step::Delete(gone.clone())),
                "{} stays: {plan:?}",
                gone.name
            );
        }
        assert!(!plan.contains(&Step::Delete(young_other.clone())));
        // A reader does not know "own": it leaves the young temporary archive of `me` too.
        let plan = repair_plan(&release.layout(), &reader());
        assert!(!plan.contains(&Step::Delete(own)));
    }
}

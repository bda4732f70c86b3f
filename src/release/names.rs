//! Every naming fact of the release layout: the tag and name of a branch's release, the asset names
//! of a session (stable, claims and temporary archives of the write protocol, see
//! docs/write-protocol.md), the marker ccsync leaves in the bodies it writes, and the temporary names
//! used while an asset is replaced.

/// Every session release's tag starts with this.
pub const TAG_PREFIX: &str = "claude-sessions-";

/// An HTML comment ccsync puts in every release body it writes: `release-prune` deletes only
/// releases that carry it.
pub const BODY_MARKER: &str = "<!-- ccsync:session-release -->";

/// The marker of a release that holds a chain of delta parts (docs/write-protocol.md, "Delta
/// copies"): ccsync 0.1 and 0.2 call such a release foreign, so their `release-prune` never
/// deletes a chain they cannot read, and 0.2's push leaves the release alone.
pub const BODY_MARKER_CHAINS: &str = "<!-- ccsync:session-release:2 -->";

/// Whether a release body carries one of ccsync's markers.
pub fn is_ours_body(body: &str) -> bool {
    body.contains(BODY_MARKER) || body.contains(BODY_MARKER_CHAINS)
}

/// The marker a body starts with (the chains' marker, or the plain one), if any.
pub fn body_marker_of(body: &str) -> Option<&'static str> {
    [BODY_MARKER_CHAINS, BODY_MARKER]
        .into_iter()
        .find(|m| body.starts_with(m))
}

const ARCHIVE_PREFIX: &str = "claude-session-";
const METADATA_PREFIX: &str = "claude-session-metadata-";
/// The metadata of a chain (docs/write-protocol.md, "Delta copies"): a name ccsync 0.1 and 0.2
/// neither read nor write nor delete (theirs end in `.tar.gz`, `.tar.gz.age` or start with
/// [`METADATA_PREFIX`]), so an old push can add its own copy beside a chain but never replace it.
const CHAIN_METADATA_PREFIX: &str = "claude-session-chain-";

/// Marks an asset being uploaded under a temporary name: `<final name>.ccsync-tmp-<nonce>`.
const TEMP_MARKER: &str = ".ccsync-tmp-";

/// Separates a fork's owner from its branch in a branch key: `alice:feature` (GitHub's own
/// `head.label`). Git forbids `:` in branch names, so such a key never names a base branch.
const FORK_SEPARATOR: char = ':';

/// The branch key of a pull request's head branch: the branch itself when it lives in the base
/// repository, `<fork owner>:<branch>` when it lives in a fork, so a fork's `main` never shares a
/// release with the base repository's `main`.
pub fn head_branch_key(branch: &str, fork_owner: Option<&str>) -> String {
    match fork_owner {
        Some(owner) => format!("{owner}{FORK_SEPARATOR}{branch}"),
        None => branch.to_owned(),
    }
}

/// `claude-sessions-<branch>`; for a fork's branch `alice:feature`, `claude-sessions--alice/feature`.
/// A tag is a git ref and cannot hold `:`; after the prefix the fork's tag starts with `-`, which
/// git refuses at the start of a branch name (`git check-ref-format --branch`), so no base branch
/// has that tag either.
pub fn tag_for(branch: &str) -> String {
    match branch.split_once(FORK_SEPARATOR) {
        Some((owner, branch)) => format!("{TAG_PREFIX}-{owner}/{branch}"),
        None => format!("{TAG_PREFIX}{branch}"),
    }
}

/// The branch key of a session release's tag (the reverse of [`tag_for`]).
pub fn branch_of_tag(tag: &str) -> Option<std::borrow::Cow<'_, str>> {
    let rest = tag.strip_prefix(TAG_PREFIX).filter(|b| !b.is_empty())?;
    if let Some(fork) = rest.strip_prefix('-') {
        if let Some((owner, branch)) = fork
            .split_once('/')
            .filter(|(o, b)| !o.is_empty() && !b.is_empty())
        {
            return Some(format!("{owner}{FORK_SEPARATOR}{branch}").into());
        }
    }
    Some(rest.into())
}

/// Whether a branch key names a fork's branch (see [`head_branch_key`]).
pub fn is_fork_key(branch: &str) -> bool {
    branch.contains(FORK_SEPARATOR)
}

/// `Claude sessions: <branch>`.
pub fn release_name(branch: &str) -> String {
    format!("Claude sessions: {branch}")
}

/// `claude-session-<uuid>.tar.gz`, or `.tar.gz.age` when encrypted.
pub fn archive_asset_name(session_id: &str, encrypted: bool) -> String {
    if encrypted {
        format!("{ARCHIVE_PREFIX}{session_id}.tar.gz.age")
    } else {
        format!("{ARCHIVE_PREFIX}{session_id}.tar.gz")
    }
}

/// `claude-session-metadata-<uuid>.json`.
pub fn metadata_asset_name(session_id: &str) -> String {
    format!("{METADATA_PREFIX}{session_id}.json")
}

/// `claude-session-chain-<uuid>.json`: the metadata of a chain copy.
pub fn chain_metadata_asset_name(session_id: &str) -> String {
    format!("{CHAIN_METADATA_PREFIX}{session_id}.json")
}

/// Which part of a session an asset name holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetKind {
    Archive { encrypted: bool },
    Metadata,
}

/// The session id and kind of a stable session asset name (the two names of DESIGN.md); `None`
/// for anything else, claims and temporary names included.
pub fn parse_asset_name(name: &str) -> Option<(&str, AssetKind)> {
    // Session ids are uuids: a dot means a claim or a temporary name.
    let plain = |id: &&str| !id.is_empty() && !id.contains('.');
    if let Some(rest) = name.strip_prefix(METADATA_PREFIX) {
        return rest
            .strip_suffix(".json")
            .filter(plain)
            .map(|id| (id, AssetKind::Metadata));
    }
    let rest = name.strip_prefix(ARCHIVE_PREFIX)?;
    if let Some(id) = rest.strip_suffix(".tar.gz.age") {
        return plain(&id).then_some((id, AssetKind::Archive { encrypted: true }));
    }
    rest.strip_suffix(".tar.gz")
        .filter(plain)
        .map(|id| (id, AssetKind::Archive { encrypted: false }))
}

/// The part an asset plays in the write protocol (docs/write-protocol.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// `claude-session-<uuid>.tar.gz` (`.tar.gz.age`).
    StableArchive { encrypted: bool },
    /// `claude-session-metadata-<uuid>.json`.
    StableMetadata,
    /// `claude-session-metadata-<uuid>.g<N>.json`: the metadata of generation N, not yet rolled
    /// forward.
    Claim { generation: u64 },
    /// `claude-session-<uuid>.tmp-<writer>-<nonce>.tar.gz` (`.age`): an archive not yet renamed.
    TempArchive { writer: String, encrypted: bool },
    /// ccsync 0.1's `<stable name>.ccsync-tmp-<nonce>`, of an archive or of a metadata file.
    LegacyTemp { metadata: bool },
    /// `claude-session-<uuid>.d<G>.tar.gz` (`.age`): a link of a chain: the delta part
    /// generation G wrote, or the base when G is the base's generation (docs/write-protocol.md,
    /// "Delta copies").
    Part { generation: u64, encrypted: bool },
    /// `claude-session-chain-<uuid>.json`: the metadata of the current chain, rolled forward.
    ChainMetadata,
}

impl Role {
    /// Metadata (stable, claim or an 0.1 temporary metadata): may describe a copy.
    pub fn is_metadata(&self) -> bool {
        matches!(
            self,
            Role::StableMetadata
                | Role::ChainMetadata
                | Role::Claim { .. }
                | Role::LegacyTemp { metadata: true }
        )
    }

    /// A stable name of DESIGN.md.
    pub fn is_stable(&self) -> bool {
        matches!(self, Role::StableMetadata | Role::StableArchive { .. })
    }
}

/// The session id and role of any asset name of a session; `None` for anything else.
pub fn classify(name: &str) -> Option<(&str, Role)> {
    if let Some(final_name) = final_name_of_temp(name) {
        let (id, kind) = parse_asset_name(final_name)?;
        let metadata = kind == AssetKind::Metadata;
        return Some((id, Role::LegacyTemp { metadata }));
    }
    if let Some((id, kind)) = parse_asset_name(name) {
        return Some((
            id,
            match kind {
                AssetKind::Metadata => Role::StableMetadata,
                AssetKind::Archive { encrypted } => Role::StableArchive { encrypted },
            },
        ));
    }
    if let Some(rest) = name.strip_prefix(CHAIN_METADATA_PREFIX) {
        let id = rest.strip_suffix(".json")?;
        return (!id.is_empty() && !id.contains('.')).then_some((id, Role::ChainMetadata));
    }
    if let Some(rest) = name.strip_prefix(METADATA_PREFIX) {
        let (id, generation) = rest.strip_suffix(".json")?.split_once(CLAIM_MARKER)?;
        let generation = parse_generation(generation)?;
        return (!id.is_empty() && !id.contains('.')).then_some((id, Role::Claim { generation }));
    }
    let rest = name.strip_prefix(ARCHIVE_PREFIX)?;
    let (rest, encrypted) = match rest.strip_suffix(".tar.gz.age") {
        Some(rest) => (rest, true),
        None => (rest.strip_suffix(".tar.gz")?, false),
    };
    if let Some((id, generation)) = rest.split_once(PART_MARKER) {
        let generation = parse_generation(generation)?;
        return (!id.is_empty() && !id.contains('.')).then_some((
            id,
            Role::Part {
                generation,
                encrypted,
            },
        ));
    }
    let (id, tail) = rest.split_once(TEMP_ARCHIVE_MARKER)?;
    let (writer, nonce) = tail.split_once('-')?;
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (!id.is_empty() && !id.contains('.') && plain(writer) && plain(nonce)).then(|| {
        (
            id,
            Role::TempArchive {
                writer: writer.to_owned(),
                encrypted,
            },
        )
    })
}

/// The highest generation ccsync reads or writes: far below `u64::MAX`, so `N + 1` never wraps,
/// and exact in a JSON number of any reader (2^53). Anything above is hostile or corrupt.
pub const MAX_GENERATION: u64 = 1 << 53;

/// A generation as a claim name writes it: canonical decimal (`0`, or digits without a leading
/// zero) up to [`MAX_GENERATION`]. `.g0002` or `.g18446744073709551615` is no claim: two names for
/// one generation, or one no writer can follow, would let a single asset block every push.
pub fn parse_generation(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.len() <= 16
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    let generation: u64 = canonical.then(|| text.parse().ok())??;
    (generation <= MAX_GENERATION).then_some(generation)
}

/// Marks a claim: `claude-session-metadata-<uuid>.g<N>.json`.
const CLAIM_MARKER: &str = ".g";

/// Marks a delta part: `claude-session-<uuid>.d<G>.tar.gz`.
const PART_MARKER: &str = ".d";

/// `claude-session-<uuid>.d<G>.tar.gz`, or `.tar.gz.age` when encrypted: the part generation G
/// wrote, or a chain's base of generation G (a full archive renamed when its chain began).
pub fn part_asset_name(session_id: &str, generation: u64, encrypted: bool) -> String {
    let suffix = if encrypted { ".tar.gz.age" } else { ".tar.gz" };
    format!("{ARCHIVE_PREFIX}{session_id}{PART_MARKER}{generation}{suffix}")
}

/// Marks a temporary archive: `claude-session-<uuid>.tmp-<writer>-<nonce>.tar.gz`.
const TEMP_ARCHIVE_MARKER: &str = ".tmp-";

/// `claude-session-metadata-<uuid>.g<N>.json`.
pub fn claim_asset_name(session_id: &str, generation: u64) -> String {
    format!("{METADATA_PREFIX}{session_id}{CLAIM_MARKER}{generation}.json")
}

/// `claude-session-<uuid>.tmp-<writer>-<nonce>.tar.gz` (`.age` when encrypted). Only characters
/// GitHub keeps as they are.
pub fn temp_archive_name(session_id: &str, writer: &str, nonce: &str, encrypted: bool) -> String {
    let suffix = if encrypted { ".tar.gz.age" } else { ".tar.gz" };
    format!("{ARCHIVE_PREFIX}{session_id}{TEMP_ARCHIVE_MARKER}{writer}-{nonce}{suffix}")
}

/// The name GitHub stores for `name` (best effort; GitHub does not document the rule): every run
/// of characters outside `[A-Za-z0-9._+-]` becomes one `.`, and leading or trailing dots go. Names
/// ccsync makes are unchanged.
pub fn as_github_stores(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_dot = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || "._+-".contains(c) {
            if pending_dot && !out.is_empty() && !out.ends_with('.') && c != '.' {
                out.push('.');
            }
            pending_dot = false;
            out.push(c);
        } else {
            pending_dot = true;
        }
    }
    out.trim_matches('.').to_owned()
}

/// The temporary name an asset is uploaded under before it replaces `name`. Only characters GitHub
/// keeps as they are, so the name it returns is the name we sent.
pub(crate) fn temp_asset_name(name: &str, nonce: &str) -> String {
    format!("{name}{TEMP_MARKER}{nonce}")
}

/// The final name of a temporary asset name.
pub(crate) fn final_name_of_temp(name: &str) -> Option<&str> {
    name.rfind(TEMP_MARKER).map(|at| &name[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_parts_are_named_by_generation() {
        let id = "4d5611e5-241a-462a-8d15-5122611a9569";
        let name = part_asset_name(id, 12, true);
        assert_eq!(name, format!("claude-session-{id}.d12.tar.gz.age"));
        assert_eq!(
            classify(&name),
            Some((
                id,
                Role::Part {
                    generation: 12,
                    encrypted: true
                }
            ))
        );
        assert_eq!(
            classify(&part_asset_name(id, 3, false)),
            Some((
                id,
                Role::Part {
                    generation: 3,
                    encrypted: false
                }
            ))
        );
        // Not canonical: no part (and no stable name either).
        assert_eq!(classify(&format!("claude-session-{id}.d03.tar.gz")), None);
        assert_eq!(parse_asset_name(&part_asset_name(id, 3, false)), None);
    }

    #[test]
    fn names_follow_the_design() {
        assert_eq!(tag_for("feature/x"), "claude-sessions-feature/x");
        assert_eq!(
            branch_of_tag("claude-sessions-feature/x").as_deref(),
            Some("feature/x")
        );
        assert_eq!(branch_of_tag("v1.0"), None);
        // A fork's branch never shares a tag with a base branch of the same name.
        let fork = head_branch_key("main", Some("alice"));
        assert_eq!(fork, "alice:main");
        assert_eq!(tag_for(&fork), "claude-sessions--alice/main");
        assert_ne!(tag_for(&fork), tag_for("main"));
        assert_ne!(tag_for(&fork), tag_for("alice/main"));
        assert_eq!(
            branch_of_tag(&tag_for(&fork)).as_deref(),
            Some("alice:main")
        );
        assert_eq!(head_branch_key("main", None), "main");
        assert!(is_fork_key(&fork) && !is_fork_key("feature/x"));
        assert_eq!(release_name("main"), "Claude sessions: main");
        let id = "0b5a3c5e-1f6a-4a8e-9d43-4f1c2b3a4d5e";
        assert_eq!(
            archive_asset_name(id, false),
            format!("claude-session-{id}.tar.gz")
        );
        assert_eq!(
            archive_asset_name(id, true),
            format!("claude-session-{id}.tar.gz.age")
        );
        assert_eq!(
            metadata_asset_name(id),
            format!("claude-session-metadata-{id}.json")
        );
        assert!(BODY_MARKER.starts_with("<!--") && BODY_MARKER.ends_with("-->"));
    }

    #[test]
    fn asset_names_parse_back() {
        let id = "0b5a3c5e-1f6a-4a8e-9d43-4f1c2b3a4d5e";
        assert_eq!(
            parse_asset_name(&archive_asset_name(id, false)),
            Some((id, AssetKind::Archive { encrypted: false }))
        );
        assert_eq!(
            parse_asset_name(&archive_asset_name(id, true)),
            Some((id, AssetKind::Archive { encrypted: true }))
        );
        assert_eq!(
            parse_asset_name(&metadata_asset_name(id)),
            Some((id, AssetKind::Metadata))
        );
        assert_eq!(parse_asset_name("notes.txt"), None);
        assert_eq!(parse_asset_name("claude-session-.tar.gz"), None);
    }

    #[test]
    fn odd_names_are_predicted_as_github_stores_them() {
        assert_eq!(as_github_stores("my notes (1).txt"), "my.notes.1.txt");
        assert_eq!(
            as_github_stores(&archive_asset_name("a-b", true)),
            archive_asset_name("a-b", true)
        );
    }

    #[test]
    fn every_role_parses_back_and_only_stable_names_parse_as_stable() {
        let id = "0b5a3c5e-1f6a-4a8e-9d43-4f1c2b3a4d5e";
        let cases = [
            (
                archive_asset_name(id, true),
                Role::StableArchive { encrypted: true },
            ),
            (metadata_asset_name(id), Role::StableMetadata),
            (claim_asset_name(id, 7), Role::Claim { generation: 7 }),
            (chain_metadata_asset_name(id), Role::ChainMetadata),
            (
                temp_archive_name(id, "ab12cd34", "0f0f", false),
                Role::TempArchive {
                    writer: "ab12cd34".into(),
                    encrypted: false,
                },
            ),
            (
                temp_archive_name(id, "ab12cd34", "0f0f", true),
                Role::TempArchive {
                    writer: "ab12cd34".into(),
                    encrypted: true,
                },
            ),
            (
                temp_asset_name(&metadata_asset_name(id), "n1"),
                Role::LegacyTemp { metadata: true },
            ),
            (
                temp_asset_name(&archive_asset_name(id, false), "n1"),
                Role::LegacyTemp { metadata: false },
            ),
        ];
        for (name, role) in cases {
            assert_eq!(as_github_stores(&name), name, "GitHub would rename {name}");
            assert_eq!(classify(&name), Some((id, role.clone())), "{name}");
            assert_eq!(
                parse_asset_name(&name).is_some(),
                role.is_stable(),
                "{name}"
            );
        }
        assert_eq!(classify("notes.txt"), None);
        assert_eq!(
            classify(&format!("claude-session-metadata-{id}.gx.json")),
            None
        );
        assert_eq!(classify(&format!("claude-session-{id}.tmp-.tar.gz")), None);
    }

    #[test]
    fn only_canonical_bounded_claim_names_are_claims() {
        let id = "0b5a3c5e-1f6a-4a8e-9d43-4f1c2b3a4d5e";
        let claim = |g: &str| {
            classify(&format!("claude-session-metadata-{id}.g{g}.json"))
                .map(|(of, role)| (of == id, role))
        };
        assert_eq!(claim("0"), Some((true, Role::Claim { generation: 0 })));
        assert_eq!(claim("12"), Some((true, Role::Claim { generation: 12 })));
        let max = MAX_GENERATION.to_string();
        assert_eq!(
            claim(&max),
            Some((
                true,
                Role::Claim {
                    generation: MAX_GENERATION
                }
            ))
        );
        for junk in [
            "0002",
            "00",
            "01",
            "",
            "+1",
            "-1",
            " 1",
            "1e3",
            "18446744073709551615",
            "18446744073709551616",
            &(MAX_GENERATION + 1).to_string(),
            "99999999999999999999999",
        ] {
            assert_eq!(claim(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn temp_names_round_trip() {
        let temp = temp_asset_name("claude-session-x.tar.gz", "ab12");
        assert!(temp
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        assert_eq!(final_name_of_temp(&temp), Some("claude-session-x.tar.gz"));
        assert_eq!(final_name_of_temp("claude-session-x.tar.gz"), None);
    }
}

//! Session ids as people type them: in any case (Claude Code writes them in lower case) and, as git
//! and docker take object ids, as a unique prefix of at least [`MIN_PREFIX`] characters.

use crate::exit::Exit;
use crate::release::{names, SessionRelease};
use crate::store::scan::is_session_id;

/// The shortest prefix taken (git's shortest abbreviation).
pub const MIN_PREFIX: usize = 4;

/// Whether `text` can be the start of a session id (hex digits and dashes, at least
/// [`MIN_PREFIX`] characters, shorter than a whole id).
pub fn is_prefix(text: &str) -> bool {
    (MIN_PREFIX..36).contains(&text.len())
        && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// A whole session id in lower case, if `text` is one in any case.
pub fn whole(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    is_session_id(&lower).then_some(lower)
}

/// The session id that `text` names among the local ids and the sessions the drafts hold: a whole
/// id as it is (lower-cased), else the one id that starts with it. An ambiguous prefix or text
/// that is no id is a usage error; a prefix that matches nothing is "nothing found".
pub fn resolve(text: &str, local: &[&str], drafts: &[SessionRelease]) -> anyhow::Result<String> {
    if let Some(id) = whole(text) {
        return Ok(id);
    }
    let stored = drafts
        .iter()
        .flat_map(|r| r.assets.iter())
        .filter_map(|a| names::classify(&a.name).map(|(id, _)| id));
    let known: Vec<&str> = local.iter().copied().chain(stored).collect();
    resolve_among(text, &known)
}

/// As [`resolve`], among `known` ids.
pub fn resolve_among(text: &str, known: &[&str]) -> anyhow::Result<String> {
    if let Some(id) = whole(text) {
        return Ok(id);
    }
    let shown = crate::neutral::text(text);
    if !is_prefix(text) {
        return Err(Exit::usage(format!(
            "`{shown}` is not a session id: session ids are uuids such as \
             4d5611e5-241a-462a-8d15-5122611a9569, or a unique start of one of at least {MIN_PREFIX} \
             characters (see `ccsync sessions` and `ccsync release-list`)"
        ))
        .into());
    }
    let prefix = text.to_ascii_lowercase();
    let mut matches: Vec<&str> = known
        .iter()
        .copied()
        .filter(|id| is_session_id(id) && id.starts_with(&prefix))
        .collect();
    matches.sort_unstable();
    matches.dedup();
    match matches.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(Exit::nothing_found(format!(
            "no session id starts with `{shown}` (see `ccsync sessions` and `ccsync release-list`)"
        ))
        .into()),
        many => Err(Exit::usage(format!(
            "`{shown}` is the start of {} session ids ({}): type more of it",
            many.len(),
            many.join(", ")
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "4d5611e5-241a-462a-8d15-5122611a9569";
    const B: &str = "4d5622e5-241a-462a-8d15-5122611a9569";

    #[test]
    fn upper_case_and_prefixes_name_one_id() {
        assert_eq!(resolve_among(&A.to_uppercase(), &[]).unwrap(), A);
        assert_eq!(resolve_among("4D5611", &[A, B]).unwrap(), A);
        let ambiguous = resolve_among("4d56", &[A, B]).unwrap_err();
        assert_eq!(crate::exit::code_for(&ambiguous), crate::exit::Code::Usage);
        let none = resolve_among("ffff", &[A, B]).unwrap_err();
        assert_eq!(
            crate::exit::code_for(&none),
            crate::exit::Code::NothingFound
        );
        let short = resolve_among("4d5", &[A]).unwrap_err();
        assert_eq!(crate::exit::code_for(&short), crate::exit::Code::Usage);
    }
}

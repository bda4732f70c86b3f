//! The provider's-credential form of `secret-assignment` (`coinapi ACCESS <uuid>`,
//! `cloudplanSECRET-<value>`, `taxjar key: <value>`): where a match can start, the match itself
//! read by hand, and the words around its name.
//!
//! The rule is tried at every name that ends in a credential word; through the regex engine
//! such a try cost thousands of instructions, most of the rule's cost on real transcripts. The
//! hand-read match is the anchored pattern's (`rules.rs`), as the engine's leftmost-first
//! search would take it; where a byte outside ASCII could change that (Unicode case folding
//! maps `K` (Kelvin) to `k`, `\b` reads Unicode letters), it says so and the regex decides.

use super::rules::{ends_with_word, strip_credential_words, CREDENTIAL_WORDS};

/// The words that may follow a credential name before its value (`secret KEY`, `access code`).
const FOLLOWING_WORDS: &[&[u8]] = &[b"key", b"secret", b"token", b"access", b"private", b"code"];

/// The bytes of a name in the name-led patterns (`[A-Za-z0-9_.-]`).
pub fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// How the hand-read match came out.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// The match: where its name (group 1) ends and where the whole ends.
    Match {
        name_end: usize,
        end: usize,
    },
    NoMatch,
    /// A byte outside ASCII stands where the pattern reads: ask the regex.
    Unsure,
}

/// The provider-credential pattern, anchored at the start of `part`:
/// `(?i)([A-Za-z0-9_.-]*(?:key|secret|token|access|private))(?:[ \t]+(?:key|secret|token|
/// access|private|code)\b)*[\x22']?(?:[ \t]*(?::=|=>|[:=])[ \t]*|[ \t]+|-)[\x22'`]?`.
/// The engine prefers the longest name, then the most words after it, then the earlier
/// alternative of each choice; so does this.
pub fn read_at(part: &[u8]) -> Read {
    let run = part.iter().take_while(|&&b| name_byte(b)).count();
    if part.get(run).is_some_and(|&b| !b.is_ascii()) {
        return Read::Unsure;
    }
    for name_end in (1..=run).rev() {
        if !ends_in_credential_word(&part[..name_end]) {
            continue;
        }
        match after_name(part, name_end) {
            Ok(Some(end)) => return Read::Match { name_end, end },
            Ok(None) => {}
            Err(Unsure) => return Read::Unsure,
        }
    }
    Read::NoMatch
}

/// A byte outside ASCII where the pattern reads.
struct Unsure;

/// Where what follows a name ending at `at` ends (words, a quote, a separator, a quote), if
/// it matches.
fn after_name(part: &[u8], at: usize) -> Result<Option<usize>, Unsure> {
    // Where each count of following words ends, fewest first.
    let mut ends = vec![at];
    let mut pos = at;
    loop {
        let spaces = blanks(&part[pos..]);
        if spaces == 0 {
            break;
        }
        let word_at = pos + spaces;
        if part.get(word_at).is_some_and(|&b| !b.is_ascii()) {
            return Err(Unsure);
        }
        let rest = &part[word_at..];
        let Some(word) = FOLLOWING_WORDS
            .iter()
            .find(|w| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w))
        else {
            break;
        };
        let end = word_at + word.len();
        // (`\b`: no letter, digit or `_` right after the word.)
        match part.get(end) {
            Some(&b) if !b.is_ascii() => return Err(Unsure),
            Some(&b) if b.is_ascii_alphanumeric() || b == b'_' => break,
            _ => {}
        }
        ends.push(end);
        pos = end;
    }
    for &at in ends.iter().rev() {
        let quoted = matches!(part.get(at), Some(b'"' | b'\'')).then_some(at + 1);
        for at in quoted.into_iter().chain([at]) {
            if let Some(end) = separator(part, at) {
                let quote = matches!(part.get(end), Some(b'"' | b'\'' | b'`'));
                return Ok(Some(end + usize::from(quote)));
            }
        }
    }
    Ok(None)
}

/// `[ \t]*(?::=|=>|[:=])[ \t]*|[ \t]+|-` at `at`: where it ends.
fn separator(part: &[u8], at: usize) -> Option<usize> {
    let spaces = blanks(&part[at..]);
    let op_at = at + spaces;
    let rest = &part[op_at..];
    let op = if rest.starts_with(b":=") || rest.starts_with(b"=>") {
        2
    } else {
        usize::from(matches!(rest.first(), Some(b':' | b'=')))
    };
    if op > 0 {
        let end = op_at + op;
        return Some(end + blanks(&part[end..]));
    }
    if spaces > 0 {
        return Some(op_at);
    }
    (part.get(at) == Some(&b'-')).then_some(at + 1)
}

/// How many spaces and tabs `text` starts with.
fn blanks(text: &[u8]) -> usize {
    text.iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count()
}

/// Whether a run ends in a credential word before a quote, a space or an operator, or holds
/// one right before a `-` (`bugsnag_secret"`, `coinapi ACCESS `, `cloudplanSECRET-<value>`):
/// where a match can start at all. A run of credential words alone needs a word before it on
/// the line (`"token": ...` in JSON has none). (`input_tokens`, `accessibility`, `api_key)`
/// cannot start one either.)
pub fn credential_run(text: &[u8], start: usize, end: usize) -> bool {
    let run = &text[start..end];
    let glued_dash = run
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'-' && ends_in_credential_word(&run[..i]));
    if glued_dash {
        return true;
    }
    let separated = matches!(
        text.get(end),
        Some(b'"' | b'\'' | b' ' | b'\t' | b':' | b'=')
    );
    let word_before = start > 0 && matches!(text[start - 1], b' ' | b'\t' | b'=' | b':');
    separated && ends_in_credential_word(run) && (word_before || !only_credential_words(run))
}

/// Whether `part` ends in `key`, `secret`, `token`, `access` or `private` (any case).
pub fn ends_in_credential_word(part: &[u8]) -> bool {
    CREDENTIAL_WORDS.iter().any(|w| ends_with_word(part, w))
}

/// `SECRET`, `private KEY:`, `access-token`: credential words and separators only.
pub fn only_credential_words(word: &[u8]) -> bool {
    let punctuation = |b: u8| !b.is_ascii_alphanumeric();
    let end = word
        .iter()
        .rposition(|&b| !punctuation(b))
        .map_or(0, |i| i + 1);
    strip_credential_words(&word[..end], punctuation)
        .0
        .is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-read match is the regex's, anchored, on texts mixed from names, credential
    /// words, separators, quotes and bytes outside ASCII (where it may defer to the regex).
    #[test]
    fn reads_what_the_anchored_pattern_matches() {
        let pattern = super::super::rules::PROVIDER_CREDENTIAL_PATTERN;
        let anchored = regex::bytes::Regex::new(&format!(r"\A(?:{pattern})")).unwrap();
        let pieces: [&[u8]; 30] = [
            b"coinapi",
            b"ACCESS",
            b"key",
            b"Secret",
            b"token",
            b"private",
            b"code",
            b"Kode",
            b"box",
            b"_",
            b"-",
            b".",
            b" ",
            b"\t",
            b"  ",
            b":",
            b"=",
            b":=",
            b"=>",
            b"\"",
            b"'",
            b"`",
            b"tokens",
            b"9e9264cd",
            b"x",
            "\u{212a}ey".as_bytes(),
            "\u{17f}ecret".as_bytes(),
            "\u{e9}".as_bytes(),
            b"\xff",
            b"accessibility",
        ];
        let mut seed = 5u64;
        let (mut matched, mut unsure) = (0, 0);
        for case in 0..20_000 {
            let mut text = Vec::new();
            for _ in 0..2 + case % 9 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.extend_from_slice(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            let expected = anchored.captures(&text).map(|c| Read::Match {
                name_end: c.get(1).unwrap().end(),
                end: c.get(0).unwrap().end(),
            });
            match read_at(&text) {
                Read::Unsure => unsure += 1,
                read => {
                    assert_eq!(
                        read,
                        expected.unwrap_or(Read::NoMatch),
                        "{:?}",
                        text.escape_ascii().to_string()
                    );
                    matched += usize::from(read != Read::NoMatch);
                }
            }
        }
        assert!(
            matched > 1_000 && unsure < 10_000,
            "{matched} matches, {unsure} unsure"
        );
    }
}

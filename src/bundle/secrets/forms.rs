//! The forms a known literal (the token ccsync holds) takes in a transcript besides itself: as
//! JSON writes it (once, and inside a JSON string), base64 (standard and URL-safe, at each of
//! the three positions it can take in a longer base64 text, as in `user:token`), and hex (lower
//! and upper case). JSON's `\u0067`-style escapes are undone by the scan's decoding; a raw
//! trigger on `\u00` makes sure that decoding runs (see [`super::scan`]).

use base64::Engine as _;

/// Forms shorter than this are left out: they would redact ordinary text.
pub const MIN_FORM_LEN: usize = 8;

/// Every form of `literal` to look for, the literal itself first, without duplicates.
pub fn literal_forms(literal: &str) -> Vec<String> {
    let once = json_inner(literal);
    let twice = json_inner(&once);
    let mut forms = vec![literal.to_owned(), once, twice];
    forms.extend(base64_forms(literal.as_bytes()));
    forms.push(hex::encode(literal));
    forms.push(hex::encode_upper(literal));
    let mut unique: Vec<String> = Vec::new();
    for form in forms {
        if form.len() >= MIN_FORM_LEN && !unique.contains(&form) {
            unique.push(form);
        }
    }
    unique
}

/// The part of the base64 encoding of `bytes` that is the same wherever they sit in a longer
/// text, for each of the three offsets modulo 3 they can start at: the groups of 4 characters
/// made of their bytes alone.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
    ];
    let mut out = Vec::new();
    for offset in 0..3 {
        // `offset` bytes before, so the literal's own groups start at the next multiple of 3.
        let skip = (3 - offset) % 3;
        let Some(whole) = bytes.get(skip..) else {
            continue;
        };
        let groups = whole.len() / 3;
        let aligned = &whole[..groups * 3];
        for engine in engines {
            out.push(engine.encode(aligned));
        }
    }
    // The literal alone, padded, as `base64 <<< token` prints it (less its newline).
    out.push(base64::engine::general_purpose::STANDARD.encode(bytes));
    out
}

/// `s` as it stands between the quotes of a JSON string.
pub fn json_inner(s: &str) -> String {
    let quoted = serde_json::to_string(s).expect("strings serialise");
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_forms_are_found_at_every_offset() {
        let token = "ghs_abcDEF0123456789xyzXYZ0123456789AbCd";
        let forms = literal_forms(token);
        for prefix in ["", "x", "xy", "x-access-token:"] {
            let text = format!("{prefix}{token}");
            for engine in [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                let encoded = engine.encode(&text);
                assert!(
                    forms.iter().any(|f| encoded.contains(f.as_str())),
                    "{prefix:?}: {encoded}"
                );
            }
        }
        assert!(forms.contains(&hex::encode(token)));
        assert!(forms.iter().all(|f| f.len() >= MIN_FORM_LEN));
    }
}

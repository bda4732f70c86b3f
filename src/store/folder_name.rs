//! Claude Code's rule that turns a working folder into the name of its project folder under
//! `<claude-dir>/projects/`. The one place this rule lives (docs/claude-code-store.md, "Where").

/// Claude Code 2.1.x keeps at most this many characters of the encoded path before it appends a hash.
pub const MAX_FOLDER_NAME: usize = 200;

/// The project folder name of a working folder (its realpath, as Claude Code resolves it).
///
/// Every UTF-16 code unit outside `[A-Za-z0-9]` becomes `-` (so `ü` is one `-` and an emoji, two
/// code units, is `--`). When the result is longer than [`MAX_FOLDER_NAME`] characters, Claude
/// Code 2.1.x keeps the first 200 and appends `-` and the base-36 absolute value of the path's
/// Java `String.hashCode`. (1.0.x and 2.0.x never truncate; see [`untruncated_folder_name`].)
pub fn project_folder_name(resolved_path: &str) -> String {
    let name = untruncated_folder_name(resolved_path);
    // The encoded name is pure ASCII, so byte length == character count.
    if name.len() <= MAX_FOLDER_NAME {
        return name;
    }
    let hash = java_string_hash(resolved_path);
    format!(
        "{}-{}",
        &name[..MAX_FOLDER_NAME],
        base36(hash.unsigned_abs())
    )
}

/// The folder name before any truncation (what 1.0.x and 2.0.x use for every length).
pub fn untruncated_folder_name(resolved_path: &str) -> String {
    resolved_path
        .encode_utf16()
        .map(|unit| match u8::try_from(unit) {
            Ok(byte) if byte.is_ascii_alphanumeric() => byte as char,
            _ => '-',
        })
        .collect()
}

/// Java's `String.hashCode`: `h = 31*h + unit` over UTF-16 code units, wrapping in 32 bits.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Lower-case base 36, as JavaScript's `Number.prototype.toString(36)`.
fn base36(mut n: u32) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".to_owned();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent reference for the hash: widen to i64 and reduce modulo 2^32 each step, the
    /// way the JavaScript source does it with `(h << 5) - h + c | 0`.
    fn reference_suffix(path: &str) -> String {
        let mut h: i64 = 0;
        for unit in path.encode_utf16() {
            h = ((h << 5) - h + i64::from(unit)) & 0xffff_ffff;
        }
        let signed = if h >= 1 << 31 { h - (1 << 32) } else { h };
        let mut n = signed.abs();
        let mut digits = String::new();
        loop {
            digits.insert(0, std::char::from_digit((n % 36) as u32, 36).unwrap());
            n /= 36;
            if n == 0 {
                break;
            }
        }
        digits
    }

    #[test]
    fn documented_examples() {
        assert_eq!(
            project_folder_name("/home/runner/work/app/app"),
            "-home-runner-work-app-app"
        );
        assert_eq!(project_folder_name(r"C:\Users\me\proj"), "C--Users-me-proj");
        assert_eq!(
            project_folder_name("/Users/me/my_proj.v2/src"),
            "-Users-me-my-proj-v2-src"
        );
    }

    #[test]
    fn non_ascii_and_emoji() {
        // `ü` is one UTF-16 unit, the emoji two.
        assert_eq!(project_folder_name("/home/jürgen/app"), "-home-j-rgen-app");
        assert_eq!(project_folder_name("/p/🦀x"), "-p---x");
        assert_eq!(project_folder_name("/a b/c:d"), "-a-b-c-d");
    }

    #[test]
    fn exactly_200_is_kept_whole() {
        let path = format!("/{}", "a".repeat(199));
        assert_eq!(project_folder_name(&path).len(), 200);
        assert_eq!(project_folder_name(&path), format!("-{}", "a".repeat(199)));
    }

    #[test]
    fn long_paths_are_truncated_with_the_java_hash() {
        let path = format!("/home/me/{}/project", "very-long-segment".repeat(15));
        let untruncated = untruncated_folder_name(&path);
        assert!(untruncated.len() > 200);
        let name = project_folder_name(&path);
        let expected = format!("{}-{}", &untruncated[..200], reference_suffix(&path));
        assert_eq!(name, expected);
        assert!(name.starts_with("-home-me-very-long-segment"));
        // Two long paths that share their first 200 characters differ only in the hash.
        let other = format!("{path}-old");
        assert_ne!(project_folder_name(&other), name);
        assert_eq!(project_folder_name(&other)[..200], name[..200]);
    }

    #[test]
    fn hash_handles_negative_values_and_non_ascii() {
        // Enough characters for the hash to overflow many times, with non-ASCII units in it.
        for path in [
            format!("/ü{}", "z".repeat(240)),
            format!("/🦀/{}", "Q9".repeat(150)),
            format!("C:\\{}", "x_".repeat(120)),
        ] {
            let name = project_folder_name(&path);
            assert_eq!(&name[201..], reference_suffix(&path), "suffix of {path}");
        }
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(u32::MAX), "1z141z3");
        // i32::MIN has no positive i32: unsigned_abs gives 2^31.
        assert_eq!(base36(i32::MIN.unsigned_abs()), "zik0zk");
    }
}

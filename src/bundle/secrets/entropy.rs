//! Whether a value looks like a secret rather than a word, a placeholder or code: Shannon
//! entropy, character classes and the shapes of things that are not secrets.

/// Shannon entropy of `value` in bits per byte.
pub fn shannon(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value {
        counts[b as usize] += 1;
    }
    let n = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// How many of lower case, upper case, digits and other characters `value` holds.
pub fn classes(value: &[u8]) -> usize {
    let mut seen = [false; 4];
    for &b in value {
        let class = if b.is_ascii_lowercase() {
            0
        } else if b.is_ascii_uppercase() {
            1
        } else if b.is_ascii_digit() {
            2
        } else {
            3
        };
        seen[class] = true;
    }
    seen.iter().filter(|&&s| s).count()
}

/// Letters and digits mixed as in a random token: at least two classes among lower, upper and
/// digits.
pub fn mixed(value: &[u8]) -> bool {
    let lower = value.iter().any(u8::is_ascii_lowercase);
    let upper = value.iter().any(u8::is_ascii_uppercase);
    let digit = value.iter().any(u8::is_ascii_digit);
    usize::from(lower) + usize::from(upper) + usize::from(digit) >= 2
}

/// Strings to look for anywhere in a value, ASCII case ignored, as one automaton built on first
/// use: a search per string (and a lower-cased copy of the value) cost more than the rest of a
/// value's checks.
pub struct Fragments {
    words: &'static [&'static str],
    automaton: std::sync::OnceLock<aho_corasick::AhoCorasick>,
}

impl Fragments {
    /// `words` in lower case.
    pub const fn new(words: &'static [&'static str]) -> Self {
        Fragments {
            words,
            automaton: std::sync::OnceLock::new(),
        }
    }

    /// Whether `value` holds one of the words.
    pub fn in_value(&self, value: &[u8]) -> bool {
        self.automaton
            .get_or_init(|| {
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(self.words)
                    .expect("fragments compile")
            })
            .is_match(value)
    }
}

/// Substrings of values that are placeholders, references or code, not secrets.
static NOT_SECRET: Fragments = Fragments::new(&[
    "${",
    "$(",
    "{{",
    "}}",
    "<",
    ">",
    "(",
    ")",
    "[",
    "]",
    "://",
    "...",
    "***",
    "xxxx",
    "example",
    "changeme",
    "change_me",
    "change-me",
    "your_",
    "your-",
    "yourpass",
    "placeholder",
    "redacted",
    "dummy",
    "sample",
    "replace",
    "insert",
    "process.env",
    "os.environ",
    "getenv",
    "environ",
    "secrets.",
    "settings.",
    "config.",
    "undefined",
    "password",
    "passwd",
    "secret",
    "token",
    "_key",
    "apikey",
    "api_key",
    "******",
]);

/// Fragments that real random tokens practically never hold (a run of 5+ sequential characters
/// or a placeholder word) but placeholders in docs and examples do.
static PLACEHOLDER_PARTS: Fragments = Fragments::new(&[
    "xxxx",
    "****",
    "example",
    "placeholder",
    "your_",
    "your-",
    "yourtoken",
    "yourkey",
    "changeme",
    "dummy",
    "redacted",
    "...",
    "\u{2026}",
    "${",
    "{{",
    "<",
    ">",
    "abc123",
    "abcdef",
    "qwerty",
    "signature",
    "short",
]);

/// Whether a token-shaped match is a placeholder or a name rather than a secret: it holds a
/// placeholder fragment, a long run of one character (`AIzaaaaaaa...`, `0000000`), is mostly
/// sequential characters, repeats a short unit, or is made of camelCase words without digits
/// (`hf_requiredCharacteristicTypesForDisplayMetadata`).
pub fn placeholder(value: &[u8]) -> bool {
    if PLACEHOLDER_PARTS.in_value(value) {
        return true;
    }
    let len = value.len();
    if len < 8 {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    let mut run = 1;
    let mut longest = 1;
    let mut sequential = 0;
    // Short values count `AbCeFG123` as sequential too; longer ones keep case (mixed-case
    // tokens hold many `aB`-style neighbours).
    let text = if len < 16 { &lower[..] } else { value };
    for pair in text.windows(2) {
        run = if pair[0] == pair[1] { run + 1 } else { 1 };
        longest = longest.max(run);
        if pair[0].is_ascii_alphanumeric() && pair[1] == pair[0].wrapping_add(1) {
            sequential += 1;
        }
    }
    if longest >= 6 && longest * 5 >= len {
        return true;
    }
    if sequential * 5 >= (len - 1) * 2 {
        return true;
    }
    // A short unit repeated (after what may be a prefix): `ghp_abababab...`.
    let tail = &value[len / 4..];
    if (1..=tail.len() / 4).any(|p| tail[p..].iter().zip(tail).all(|(a, b)| a == b)) {
        return true;
    }
    made_up_digits(value) || words_for_a_value(value) || wrapped(value)
}

/// A run of 4 or more digits that counts up or repeats one digit (`xoxp-1234-1234-...`,
/// `xoxc-888888888888-...`): ids made up for an example.
fn made_up_digits(value: &[u8]) -> bool {
    value
        .split(|b| !b.is_ascii_digit())
        .filter(|run| run.len() >= 4)
        .any(|run| {
            run.windows(2).all(|p| p[1] == p[0] + 1)
                // (Four alike happen by chance in a long random value.)
                || run.windows(2).all(|p| p[1] == p[0]) && (value.len() < 32 || run.len() >= 6)
        })
}

/// Words where a random part should be: the whole value made of camelCase words without digits
/// (`hf_requiredCharacteristicTypesForDisplayMetadata`), or its last part, after `-`, `_` or
/// `.`, of 12 letters or more in one case or camelCase words (`xoxe.xoxp-1-RANDOMSTRINGHERE`,
/// `...-1-SlackAppConfigurationAccessTokenHere`).
fn words_for_a_value(value: &[u8]) -> bool {
    let len = value.len();
    // Words: at least three humps, so that a short random token without digits is not one.
    let humps = value.iter().filter(|b| b.is_ascii_uppercase()).count();
    if len >= 16
        && humps >= 3
        && !value.iter().any(u8::is_ascii_digit)
        && value
            .split(|&b| matches!(b, b'_' | b'-' | b'.'))
            .all(|part| part.iter().all(u8::is_ascii_alphabetic) && camel_words(part))
    {
        return true;
    }
    let mut parts = value.split(|&b| matches!(b, b'_' | b'-' | b'.'));
    let last = parts.next_back().unwrap_or_default();
    let several = parts.next().is_some();
    // (Words hold vowels: one in four letters or more, where random letters hold one in five.)
    let vowels = last
        .iter()
        .filter(|b| matches!(b.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u'))
        .count();
    several
        && last.len() >= 12
        && last.iter().all(u8::is_ascii_alphabetic)
        && (vowels * 4 >= last.len()
            && (last.iter().all(u8::is_ascii_uppercase) || last.iter().all(u8::is_ascii_lowercase))
            || camel_words(last) && last.iter().filter(|b| b.is_ascii_uppercase()).count() >= 3)
}

/// A reference in braces or brackets (`{SumoAccessKey}`, `[token]`, `<key>`).
fn wrapped(value: &[u8]) -> bool {
    matches!(
        (value.first(), value.last()),
        (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']')) | (Some(b'<'), Some(b'>'))
    )
}

/// Long, random and of many kinds of character, as generated keys are (Django's `SECRET_KEY`
/// of 50 characters with symbols such as `%&#@^()`): a secret even where it starts with a symbol
/// or holds brackets, unless it reads like a reference or a placeholder.
fn strongly_random(value: &[u8]) -> bool {
    static REFERENCES: Fragments = Fragments::new(&[
        "${",
        "$(",
        "{{",
        "://",
        "process.env",
        "environ",
        "getenv",
        "...",
        "secrets.",
    ]);
    value.len() >= 24
        && !matches!(value[0], b'$' | b'/' | b'~' | b'.')
        && !call(value)
        && classes(value) >= 3
        && shannon(value) >= 4.2
        && !REFERENCES.in_value(value)
        && !placeholder(value)
}

/// Code that calls a function (`buildTaskKeyFromParams2024(params)`, `os.urandom(32);`): a
/// name, then arguments in parentheses to the end.
fn call(value: &[u8]) -> bool {
    let Some(open) = memchr::memchr(b'(', value) else {
        return false;
    };
    let body = value.strip_suffix(b";").unwrap_or(value);
    open > 0
        && body.ends_with(b")")
        && value[..open]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'$'))
}

/// A name followed by a version (`jjwt-jackson-0.11.2`, `react-18.2.0`): a dependency, not a
/// secret.
fn versioned_name(value: &[u8]) -> bool {
    let Some(cut) = value
        .iter()
        .rposition(|&b| !(b.is_ascii_digit() || b == b'.'))
    else {
        return false;
    };
    let (name, version) = (&value[..=cut], &value[cut + 1..]);
    version.contains(&b'.')
        && version.first().is_some_and(u8::is_ascii_digit)
        && name.len() >= 2
        && name
            .iter()
            .all(|&b| b.is_ascii_alphabetic() || matches!(b, b'-' | b'_' | b':' | b'.'))
}

/// Whether the value of a secret-like assignment (`PASSWORD=...`, `token: ...`) looks like a
/// secret: long enough, not a placeholder, reference, path, number, word or identifier, and
/// random enough.
pub fn secret_value(value: &[u8]) -> bool {
    let value = trim_quotes(value);
    if value.len() < 8 || value.len() > 512 {
        return false;
    }
    if strongly_random(value) {
        return true;
    }
    if matches!(value[0], b'*' | b'!' | b'&' | b'^') && value[1] != value[0] {
        // A password may start with a symbol (`*Jx7...`): the rest is judged (`********` and
        // `!!!` are not passwords).
        return secret_value(&value[1..]);
    }
    if matches!(
        value[0],
        b'$' | b'%' | b'/' | b'~' | b'#' | b'@' | b'&' | b'.' | b'*' | b'!' | b'-' | b'='
    ) {
        return false;
    }
    if NOT_SECRET.in_value(value) {
        return false;
    }
    if value.iter().all(u8::is_ascii_digit)
        || identifier(value)
        || versioned_name(value)
        || placeholder(value)
    {
        return false;
    }
    let entropy = shannon(value);
    let classes = classes(value);
    if value.len() >= 20 {
        entropy >= 3.2 && classes >= 2
    } else if value.len() >= 12 {
        entropy >= 3.0 && classes >= 2
    } else {
        entropy >= 2.5 && classes >= 3
    }
}

/// A value written after a secret's name with only spaces between (no `=` or `:` to say it is
/// one): it must look generated, not like the next word of a sentence: 16 characters or more,
/// letters and digits both, 3.5 bits of entropy a character (gitleaks' threshold for its
/// generic rule), no URL or path.
/// (`besnappy TOKEN 6f1c...`, not `the token expired` or `secret sauce v2 of the recipe`.)
pub fn spaced_value(value: &[u8]) -> bool {
    let value = trim_quotes(value);
    value.len() >= 16
        && value.iter().any(u8::is_ascii_alphabetic)
        && value.iter().any(u8::is_ascii_digit)
        && shannon(value) >= 3.5
        && !value.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"http"))
        // A path, unless base64 (which ends in `=` where it is padded).
        && (!value.contains(&b'/') || value.ends_with(b"="))
}

/// A value after a provider's credential word (`coinapi ACCESS <value>`,
/// `cloudplanSECRET-<value>`) looks generated ([`random_by_alphabet`]), and is no URL, path,
/// hash with its algorithm (`sha256:...`), code, version, placeholder or base64 of text.
pub fn generated_value(value: &[u8]) -> bool {
    static NOT_GENERATED: Fragments = Fragments::new(&[
        "://",
        "${",
        "$(",
        "{{",
        "process.env",
        "environ",
        "getenv",
        "sha1",
        "sha256",
        "sha512",
        "sha384",
        "md5",
        "(",
        ")",
        "[",
        "]",
        "<",
        ">",
    ]);
    let value = trim_quotes(value);
    if placeholder(value) {
        return false;
    }
    let value = value
        .strip_suffix(b":")
        .or(value.strip_suffix(b"."))
        .unwrap_or(value);
    // (Hex keys may be as short as 14 digits: ipinfo's; other values need 16.)
    let hex = value.iter().all(u8::is_ascii_hexdigit);
    if value.len() < if hex { 14 } else { 16 }
        || value.len() > 512
        || matches!(
            value[0],
            b'$' | b'%' | b'/' | b'~' | b'#' | b'@' | b'.' | b'-' | b'{' | b'<'
        )
    {
        return false;
    }
    !(NOT_GENERATED.in_value(value)
        || (value.contains(&b'/') && !value.ends_with(b"="))
        || placeholder(value)
        || versioned_name(value))
        && random_by_alphabet(value, &value.to_ascii_lowercase())
        && !encoded_text(value)
}

/// Random by the measure of its own alphabet: hex (a uuid too) of 16 digits or more with 3 bits
/// of entropy a character, 20 digits or more with 2.7, else letters and digits (or 20 letters or
/// more) with 3.5 bits a character and, where separators join parts, no more vowels than random
/// letters hold (so no kebab-case words, `control-v2-migration-2024`).
fn random_by_alphabet(value: &[u8], lower: &[u8]) -> bool {
    let alnum = || value.iter().filter(|b| b.is_ascii_alphanumeric());
    let has_letter = alnum().any(u8::is_ascii_alphabetic);
    let has_digit = alnum().any(u8::is_ascii_digit);
    if value.iter().all(|&b| b.is_ascii_hexdigit() || b == b'-') && has_letter {
        // (Fewer characters hold less entropy: 14 random hex digits average 3.3 bits.)
        let count = alnum().count();
        let least = if count < 20 { 2.6 } else { 3.0 };
        return count >= 14 && has_digit && shannon(lower) >= least;
    }
    if !has_letter {
        let digits: Vec<u8> = alnum().copied().collect();
        return digits.len() >= 20
            && value.iter().all(|&b| b.is_ascii_digit() || b == b'-')
            && shannon(&digits) >= 2.7;
    }
    let letters = lower.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let vowels = lower
        .iter()
        .filter(|b| matches!(b, b'a' | b'e' | b'i' | b'o' | b'u'))
        .count();
    // Words joined by separators read as words: their letters hold vowels as prose does (a
    // random token's hold one in five).
    let separated = value.iter().any(|&b| matches!(b, b'-' | b'_' | b'.'));
    let random_letters = vowels * 10 < letters * 3;
    if has_digit {
        shannon(value) >= 3.5 && (random_letters || !separated) && !identifier(value)
    } else {
        // Letters alone: long, very random, not camelCase words.
        let one_case =
            !value.iter().any(u8::is_ascii_uppercase) || !value.iter().any(u8::is_ascii_lowercase);
        letters >= 20
            && shannon(value) >= 3.5
            && random_letters
            && (one_case || !camel_words(value))
    }
}

/// Base64 of readable text (`YmVkcm9jay5hbWF6b25hd3M...`, `bedrock.amazonaws...`): encoded
/// words, where a generated key decodes to random bytes.
fn encoded_text(value: &[u8]) -> bool {
    use base64::Engine as _;
    let body = value
        .strip_suffix(b"==")
        .or(value.strip_suffix(b"="))
        .unwrap_or(value);
    let usable = body.len() / 4 * 4;
    if usable < 16 {
        return false;
    }
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines.iter().any(|engine| {
        engine.decode(&body[..usable]).is_ok_and(|text| {
            text.iter()
                .all(|&b| b == b'\n' || (0x20..0x7f).contains(&b))
        })
    })
}

fn trim_quotes(value: &[u8]) -> &[u8] {
    let mut v = value;
    while let [b'"' | b'\'' | b'`', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b'"' | b'\'' | b'`' | b'\\'] = v {
        v = rest;
    }
    v
}

/// Code and names rather than values: `snake_case_words`, `camelCaseWords`, `UPPER_CASE`,
/// `dotted.paths.of.names`, `kebab-case-words` (no digits in any of them).
fn identifier(value: &[u8]) -> bool {
    if value.iter().any(u8::is_ascii_digit) {
        // Names with digits still count when they are dotted paths (`self.v2.key`).
        return value.contains(&b'.')
            && value.split(|&b| b == b'.').all(|part| {
                !part.is_empty()
                    && !part[0].is_ascii_digit()
                    && part.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
                    && !part.iter().all(u8::is_ascii_digit)
                    && part.len() < 20
            });
    }
    if !value
        .iter()
        .all(|&b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'.' | b'-'))
    {
        return false;
    }
    if value.iter().any(|&b| matches!(b, b'_' | b'.' | b'-')) {
        // Words joined without digits: `Test_Name`, `some-name`, `a.b`.
        return true;
    }
    let upper = value.iter().filter(|b| b.is_ascii_uppercase()).count();
    let lower = value.iter().filter(|b| b.is_ascii_lowercase()).count();
    // All one case, or camelCase words (each capital starts a word of at least 2 letters).
    upper == 0 || lower == 0 || camel_words(value)
}

/// Words in camelCase: every capital starts a word of two letters or more, except capitals that
/// end the value (an acronym: `...RemoteRHS`); a random mix of cases has capitals side by side.
fn camel_words(value: &[u8]) -> bool {
    let trailing_capitals = value
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_uppercase())
        .count();
    if trailing_capitals == value.len() {
        return false;
    }
    let value = &value[..value.len() - trailing_capitals];
    let mut run = 0usize;
    for (i, &b) in value.iter().enumerate() {
        if b.is_ascii_uppercase() {
            if i > 0 && run < 2 {
                return false;
            }
            run = 1;
        } else if b.is_ascii_lowercase() {
            run += 1;
        } else {
            run = 0;
        }
    }
    run != 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_look_like_secrets() {
        for v in [
            "Xk9#mP2$vL7q",
            "hunter2Zx!Qm",
            "a8f5f167f44f4964e6c998dee827110c",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzKEY",
        ] {
            assert!(secret_value(v.as_bytes()), "{v}");
        }
        for v in [
            "12345678",
            "${DB_PASSWORD}",
            "process.env.TOKEN",
            "self.api_key",
            "getToken",
            "my-secret-value",
            "MY_SECRET_NAME",
            "changeme123",
            "<your-token>",
            "/etc/secret/file",
            "settings.SECRET_KEY",
            "abcdefgh",
            "AutoTokenizer.from_pretrained",
            "xxxxxxxxxxxx",
            "string",
            "v1.2.3.4",
        ] {
            assert!(!secret_value(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn generated_values_by_their_alphabet() {
        for v in [
            "7262a8c9896aab6024beafb9a2f848f2",
            "dd6ef3ae-06a8-9e66-5af0-189ef1714401",
            "73159000452687597821018555130155",
            "rukzocrlemtyhtespixsjiacdvjr",
            "FQZY6443YJOU3353MIHT5226TNGL5436",
            "ziej2395-xt23-99zp-hakl-oglkbgsmgqvz",
        ] {
            assert!(generated_value(v.as_bytes()), "{v}");
        }
        for v in [
            "control-v2-migration-2024",
            "successfullyconfigured",
            "buildTaskKeyFromParams2024(params)",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "YmVkcm9jay5hbWF6b25hd3MuY29x",
            "https://example.org/a/b/c/d",
            "12345678901234567890",
            "0123456789abcdef0123",
            "ops_eyJzaWduSW5BZGRyZXNzIjoiaHR0cHM6...",
        ] {
            assert!(!generated_value(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn placeholders_and_names_are_not_tokens() {
        for v in [
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "AIzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "sk-ant-api03-abc123xyz-abc123xyz-abc123xyz",
            "hf_requiredCharacteristicTypesForDisplayMetadata",
            "xoxb-12345-abcd234",
            "AKIA0000000000000000",
            "ghp_abababababababababababababababababab",
            "xoxp-1234-1234-1234-4ddbc191d40ee098cbaae6f3523ad5b1",
            "xoxc-888888888888-888888888888-8888888888888-fff",
            "xoxp-1-RANDOMSTRINGHERE",
            "xoxp-1-SlackAppConfigurationAccessTokenHere",
            "hf_SponsoredProductsRemote",
            "AbCeFG123",
            "{SumoAccessKey}",
            "lsv2_pt_short",
        ] {
            assert!(placeholder(v.as_bytes()), "{v}");
        }
        for v in [
            "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
            "AKIAZ7QPLMXW3RT9VB2K",
            "AKIAQWPLMZXRTVBKNDJH",
            "xoxb-4820193756-7390518264-Qm7ZkW2pLx9RtV4nHs8JcY3d",
            "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",
            "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",
            "AKIAQWPLMZXRTVBKNDJHQ",
        ] {
            assert!(!placeholder(v.as_bytes()), "{v}");
        }
        assert!(!secret_value(b"jjwt-jackson-0.11.2"));
    }

    #[test]
    fn entropy_of_simple_strings() {
        assert_eq!(shannon(b"aaaa"), 0.0);
        assert!((shannon(b"abcd") - 2.0).abs() < 1e-9);
    }
}

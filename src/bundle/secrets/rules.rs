//! The detection rules: provider token formats, credentials in context, private keys and
//! secret-like assignments.
//!
//! Written for ccsync from the providers' documented token formats and checked against the
//! public rule sets of gitleaks (`config/gitleaks.toml`, MIT) and trufflehog (AGPL, read only for
//! formats, nothing copied). Each rule names the keywords that must occur in a line (ASCII case
//! ignored) before its pattern runs at all, so most lines cost one keyword pass. A rule's name is
//! what a finding reports and what replaces the secret (`[REDACTED:<name>]`). Earlier rules win
//! when matches overlap, so specific formats come before generic ones.

/// What a match must also satisfy beyond its pattern.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// Not a placeholder or a name ([`super::entropy::placeholder`]).
    None,
    /// Nothing more: a known literal (the token ccsync holds).
    Literal,
    /// No ASCII letter, digit or `_` right before or after the redacted part.
    Bounded,
    /// Letters and digits mixed as in a random token (not a word, not a documented example).
    Mixed,
    /// An AWS secret access key: 40 characters of mixed base64 standing alone (not part of a
    /// longer base64 text), not AWS's example, with AWS or a secret named within 120 bytes.
    AwsSecret,
    /// The value passes [`super::entropy::secret_value`].
    SecretValue,
    /// Capture 1 is a secret-like name and the value, after only spaces, looks generated
    /// ([`super::entropy::spaced_value`]).
    SpacedAssignment,
    /// Capture 1 is a secret-like name (see [`secret_name`]) and the value passes
    /// [`super::entropy::secret_value`].
    Assignment,
    /// Capture 1 ends in a credential word (`key`, `secret`, `token`, `access`, `private`)
    /// that a provider's name leads (glued on, `boxSECRET`, `codakey`, or the word before,
    /// `bugsnag secret`, see [`provider_credential_name`]) and the value looks generated
    /// ([`super::entropy::generated_value`]).
    ProviderCredential,
    /// Base64 of `user:password`.
    BasicAuth,
    /// A URL password that is not a placeholder.
    UrlPassword,
    /// Stands alone (like [`Check::Bounded`]) and one of the words (lower case) occurs within
    /// `.1` bytes before or after the match.
    Near(&'static [&'static str], usize),
    /// The start of a private key: the match is extended over the key material that follows.
    KeyBlock,
    /// Base64 of a PEM private key (`LS0tLS1CRUdJTi...`): its start decodes to a `BEGIN ...
    /// PRIVATE KEY` line (a certificate's does not).
    Base64PrivateKey,
    /// A password given on a command line or in `.netrc`: not a placeholder, a reference or a
    /// prompt.
    Password,
    /// A token of a family the provider tier (Betterleaks) also judges: not a placeholder, and kept by the judgement
    /// (entropy, allow-lists) of the provider tier's rule of that id.
    Judged(&'static str),
    /// A Google API key: [`Check::Judged`] by `gcp-api-key`, and not inside a longer token (a key
    /// is 39 characters; digits or a few characters glued on are allowed, a letter before it or
    /// a run of base64 after it are not).
    GoogleKey,
    /// An AWS key id: [`Check::Judged`] by `aws-access-token`; one without a digit stands apart
    /// from capital letters (not `TODAYINASIAASACKOFRICE...`).
    AwsKeyId,
    /// A Slack token: what follows its prefix mixes letters and digits (not only the numeric
    /// ids of a token whose secret part is missing), and it is no placeholder.
    Slack,
    /// [`Check::Mixed`], and no letter right before the match (`nvkey-...` is not Mailgun's
    /// `key-...`, `desktop-rhf_Sponsored...` no Hugging Face token).
    NoLetterBefore,
}

/// Where the secret is in a match of a rule's pattern.
#[derive(Debug, Clone, Copy)]
pub enum Secret {
    /// This capture group (0: the whole match).
    Group(usize),
    /// The run of bytes of this class right after the match (at least `.1` of them), read at
    /// most [`MAX_VALUE`] + 1 bytes far: the pattern ends where an assigned value begins. Values
    /// are read by hand, not by the pattern, so that no search reads a long value again from
    /// each keyword inside it (`api_key=api_key=...`) and the pattern needs no counted
    /// repetition (which makes a DFA's states explode).
    Value(fn(u8) -> bool, usize),
}
pub use Secret::{Group, Value};

/// Longer assigned values are not secrets to the value test (a blob, a certificate).
pub const MAX_VALUE: usize = 512;

pub struct RuleDef {
    pub name: &'static str,
    pub keywords: &'static [&'static str],
    pub pattern: &'static str,
    pub secret: Secret,
    pub check: Check,
}

const fn rule(
    name: &'static str,
    keywords: &'static [&'static str],
    pattern: &'static str,
    secret: Secret,
    check: Check,
) -> RuleDef {
    RuleDef {
        name,
        keywords,
        pattern,
        secret,
        check,
    }
}

/// (A backslash ends a value too: in text that is still escaped, `\n` ends a line, and the
/// value is read whole from the decoded text.)
fn assigned_value_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'`' | b',' | b';' | b'\\'))
}

fn not_space_or_quote(b: u8) -> bool {
    !(b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'`' | b'\\'))
}

/// A value in a connection string runs to its `;` (or a quote or space around the string).
fn connection_value_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace() || matches!(b, b';' | b'"' | b'\'' | b'`' | b'\\'))
}

fn xml_text_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace() || b == b'<')
}

fn header_value_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b':' | b'-')
}

pub const PRIVATE_KEY: &str = "private-key";

/// Percent-encoded punctuation that keywords contain (`-`, `_`, `.`, `:`): a segment
/// holding one is read by every rule, since the keywords themselves may be encoded.
pub const ENCODED_KEYWORD_PARTS: &[&str] = &["%2d", "%5f", "%2e", "%3a"];

/// Whether a rule reads the structure around a value (a name before it, a word near it, a URL's
/// scheme), which in a JSON record may sit in another string: such rules also read the raw line,
/// and run only in windows around their keywords (their patterns start without a literal).
pub fn structural(check: Check) -> bool {
    matches!(
        check,
        Check::AwsSecret
            | Check::Assignment
            | Check::SpacedAssignment
            | Check::ProviderCredential
            | Check::BasicAuth
            | Check::Near(..)
            | Check::SecretValue
            | Check::UrlPassword
            | Check::Password
    )
}
pub const PUTTY_KEY: &str = "putty-private-key";

/// Every built-in rule, most specific first.
pub const RULES: &[RuleDef] = &[
    // Private keys: PEM (RSA, EC, DSA, OPENSSH, ENCRYPTED, PKCS8, PGP, SSH2) and PuTTY.
    rule(
        PRIVATE_KEY,
        &["-----begin", "---- begin"],
        r"-{4,5} ?BEGIN (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)? ?-{4,5}",
        Group(0),
        Check::KeyBlock,
    ),
    rule(
        PUTTY_KEY,
        &["private-lines"],
        r"Private-Lines: *[0-9]+",
        Group(0),
        Check::KeyBlock,
    ),
    rule(
        "age-secret-key",
        &["age-secret-key-1", "age-plugin-"],
        r"AGE-(?:SECRET-KEY|PLUGIN-[A-Z0-9]+)-1[0-9A-Z]{40,}",
        Group(0),
        Check::None,
    ),
    // Tokens with a documented prefix.
    // The long tail's prefixes that Betterleaks' rules miss or read narrower than the providers
    // issue them (Kingfisher's rules name these forms).
    rule(
        "postman-api-key",
        &["pmak-"],
        r"PMAK-[A-Za-z0-9]{24}-[A-Za-z0-9]{34}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "nightfall-api-key",
        &["nf-"],
        r"\bNF-[A-Za-z0-9]{32}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "dependency-track-api-key",
        &["odt_"],
        r"\bodt_[A-Za-z0-9]{32}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "zoho-token",
        &["1000."],
        r"\b1000\.[a-f0-9]{32}\.[a-f0-9]{32}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "voiceflow-api-key",
        &["vf.dm."],
        r"\bVF\.DM\.[a-f0-9]{24}\.[A-Za-z0-9]{16}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "typeform-token",
        &["tfp_"],
        r"\btfp_[A-Za-z0-9_.=-]{40,64}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "teamwork-token",
        &["tkn.v1_"],
        r"\btkn\.v1_[A-Za-z0-9+/=_-]{40,}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "maxmind-license-key",
        &["_mmk"],
        r"\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "alibaba-access-key-id",
        &["ltai"],
        r"\bLTAI[A-Za-z0-9]{20}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "okta-api-token",
        &["ssws"],
        r"(?i:ssws)[ \t]+([A-Za-z0-9_-]{40,44})\b",
        Group(1),
        Check::Mixed,
    ),
    rule(
        "nuget-api-key",
        &["oy2"],
        r"\boy2[a-z0-9]{43}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "pubnub-key",
        &["pub-c-", "sub-c-"],
        r"\b(?:pub|sub)-c-[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}\b",
        Group(0),
        Check::None,
    ),
    rule(
        "pulumi-token",
        &["pul-"],
        r"\bpul-[a-z0-9]{40}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "square-token",
        &["sq0"],
        r"\bsq0(?:csp|idp|atp)-[A-Za-z0-9_-]{22,43}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "clickup-token",
        &["pk_"],
        r"\bpk_[0-9]{6,8}_[A-Z0-9]{32}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "contentful-token",
        &["cfpat-"],
        r"\bCFPAT-[A-Za-z0-9_-]{43}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "replicate-token",
        &["r8_"],
        r"\br8_[A-Za-z0-9]{37}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "flexport-token",
        &["shltm_"],
        r"\bshltm_[A-Za-z0-9]{40}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "fleetbase-token",
        &["flb_live_"],
        r"\bflb_live_[A-Za-z0-9]{20}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "sourcegraph-token",
        &["sgp_", "slk_"],
        r"\b(?:sgp_(?:[a-f0-9]{16}_)?(?:local_)?[a-f0-9]{40}|slk_[a-f0-9]{64})\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "hubspot-token",
        &["pat-na1-", "pat-eu1-"],
        r"\bpat-(?:na|eu)1-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        Group(0),
        Check::None,
    ),
    rule(
        "doppler-token",
        &[
            "dp.ct.",
            "dp.pt.",
            "dp.st.",
            "dp.sa.",
            "dp.scim.",
            "dp.audit.",
        ],
        r"\bdp\.(?:ct|pt|st(?:\.[a-z0-9_-]{2,35})?|sa|scim|audit)\.[A-Za-z0-9]{40,44}\b",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "microsoft-teams-webhook",
        &["office.com/webhook", "office365.com/webhook"],
        r"(?:outlook\.office(?:365)?\.com|webhook\.office\.com)/webhook(?:b2)?/([A-Za-z0-9@/_-]{40,})",
        Group(1),
        Check::None,
    ),
    rule(
        "thingsboard-token",
        &["thingsboard"],
        r"(?i:thingsboard)[A-Za-z0-9.-]*/api/v1/([A-Za-z0-9]{20})/",
        Group(1),
        Check::Mixed,
    ),
    rule(
        "elevenlabs-api-key",
        &["sk_"],
        r"\bsk_[a-f0-9]{48}\b",
        Group(0),
        Check::Mixed,
    ),
    // Password hashes (crypt(3): MD5, bcrypt, SHA-256/512, Cisco types 8 and 9) and Kerberos
    // hashes as cracking tools write them: a password is as good as recovered from them.
    rule(
        "password-hash",
        &[
            "$1$", "$2a$", "$2b$", "$2x$", "$2y$", "$2$", "$5$", "$6$", "$8$", "$9$",
        ],
        r"\$(?:1\$[./A-Za-z0-9]{0,8}\$[./A-Za-z0-9]{22}|2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}|[56]\$(?:rounds=[0-9]+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}|[89]\$[./A-Za-z0-9]{14}\$[./A-Za-z0-9]{43})",
        Group(0),
        Check::None,
    ),
    rule(
        "password-hash",
        &["$krb5"],
        r"\$krb5(?:asrep|tgs|pa)\$[0-9]+\$[^\s\x22']{40,}",
        Group(0),
        Check::None,
    ),
    rule(
        "github-token",
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        r"gh[pousr]_[A-Za-z0-9]{36,}",
        Group(0),
        Check::None,
    ),
    rule(
        "github-token",
        &["github_pat_"],
        r"github_pat_[A-Za-z0-9_]{36,}",
        Group(0),
        Check::None,
    ),
    rule(
        "gitlab-token",
        &[
            "glpat-",
            "gldt-",
            "glrt-",
            "glcbt-",
            "glptt-",
            "glagent-",
            "gr1348941",
        ],
        r"gl(?:pat|dt|rt|cbt|ptt|agent)-[A-Za-z0-9_.-]{20,}|GR1348941[A-Za-z0-9_-]{20,}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "docker-swarm-token",
        &["swmtkn-", "swmkey-"],
        r"SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}|SWMKEY-1-[A-Za-z0-9+/]{43}",
        Group(0),
        Check::None,
    ),
    rule(
        "docker-pat",
        &["dckr_pat_"],
        r"dckr_pat_[A-Za-z0-9_-]{20,}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "google-oauth-access-token",
        &["ya29."],
        r"ya29\.[0-9A-Za-z_-]{30,}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        PRIVATE_KEY,
        &["ls0tls1crudjti"],
        r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{20,}={0,2}",
        Group(0),
        Check::Base64PrivateKey,
    ),
    rule(
        "twilio-api-key",
        &["client("],
        r"Client\(\s*[\x22']AC[0-9a-f]{32}[\x22']\s*,\s*[\x22']([0-9a-f]{32})[\x22']",
        Group(1),
        Check::None,
    ),
    // Azure DevOps personal access tokens (84 characters with `AZDO` at 76; the older ones,
    // 52 of `[a-z0-9]`, next to Azure or DevOps), Azure AI Search admin keys (52 with `AzSe` at
    // 42).
    rule(
        "azure-devops-pat",
        &["azdo"],
        r"[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4}",
        Group(0),
        Check::None,
    ),
    rule(
        "azure-search-key",
        &["azse"],
        r"[A-Za-z0-9]{42}AzSe[A-Za-z0-9]{6}",
        Group(0),
        Check::None,
    ),
    rule(
        "azure-devops-pat",
        &["azure", "devops", "ado_pat"],
        r"[A-Za-z0-9]{84}|[a-z0-9]{52}|[A-Za-z0-9]{52}",
        Group(0),
        Check::Near(&["azure", "devops", "ado_pat", "visualstudio.com"], 160),
    ),
    // Google OAuth client ids (`<number>-<32>.apps.googleusercontent.com`): the id part.
    rule(
        "google-oauth-client-id",
        &[".apps.googleusercontent.com"],
        r"([0-9]{6,}-[a-z0-9_]{32})\.apps\.googleusercontent\.com",
        Group(1),
        Check::None,
    ),
    // GitLab's session cookie.
    rule(
        "gitlab-token",
        &["_gitlab_session"],
        r"_gitlab_session[\x22']?\s*[=:]\s*[\x22']?([0-9a-f]{32})",
        Group(1),
        Check::None,
    ),
    rule(
        "npm-token",
        &["npm_"],
        r"npm_[A-Za-z0-9]{36,}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "npm-token",
        &["_authtoken"],
        r"(?i:_authToken)\s*=\s*",
        Value(not_space_or_quote, 8),
        Check::SecretValue,
    ),
    rule(
        "pypi-token",
        &["pypi-ag"],
        r"pypi-Ag[A-Za-z0-9_-]{50,}",
        Group(0),
        Check::None,
    ),
    rule(
        "slack-webhook",
        &["hooks.slack.com"],
        r"hooks\.slack\.com/((?:services|workflows|triggers)/[A-Za-z0-9+/_-]{16,})",
        Group(1),
        Check::None,
    ),
    rule(
        "slack-token",
        &["xox", "xapp-"],
        r"(?:xox[abposre]|xapp)-[0-9A-Za-z-]{10,}",
        Group(0),
        Check::Slack,
    ),
    rule(
        "sendgrid-api-key",
        &["sg."],
        r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}",
        Group(0),
        Check::None,
    ),
    rule(
        "stripe-key",
        &[
            "sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk_prod_", "rk_prod_",
        ],
        r"[sr]k_(?:live|test|prod)_[0-9A-Za-z]{10,}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "stripe-webhook-secret",
        &["whsec_"],
        r"whsec_[A-Za-z0-9+/=]{24,}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "anthropic-api-key",
        &["sk-ant-"],
        r"sk-ant-[a-z0-9]{2,10}-[A-Za-z0-9_-]{20,}",
        Group(0),
        Check::None,
    ),
    rule(
        "openai-api-key",
        &["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-none-"],
        r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}",
        Group(0),
        Check::None,
    ),
    rule(
        "openai-api-key",
        &["sk-"],
        r"sk-[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}",
        Group(0),
        Check::None,
    ),
    rule(
        "openai-api-key",
        &["sk-"],
        r"sk-[A-Za-z0-9]{48}",
        Group(0),
        // (Not the end of another provider's prefix: `bsk-...`, nor of a word: `task-...`.)
        Check::NoLetterBefore,
    ),
    rule(
        "huggingface-token",
        &["hf_", "api_org_"],
        r"(?:hf_|api_org_)[A-Za-z0-9]{30,}",
        Group(0),
        Check::NoLetterBefore,
    ),
    rule(
        "digitalocean-token",
        &["dop_v1_", "doo_v1_", "dor_v1_"],
        r"do[opr]_v1_[a-f0-9]{64}",
        Group(0),
        Check::None,
    ),
    rule(
        "shopify-token",
        &["shpat_", "shpca_", "shppa_", "shpss_"],
        r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
        Group(0),
        Check::None,
    ),
    rule(
        "google-api-key",
        &["aiza"],
        r"AIza[0-9A-Za-z_-]{35}",
        Group(0),
        Check::GoogleKey,
    ),
    rule(
        "google-oauth-client-secret",
        &["gocspx-"],
        r"GOCSPX-[A-Za-z0-9_-]{24,}",
        Group(0),
        Check::None,
    ),
    rule(
        "telegram-bot-token",
        &[":aa"],
        r"[0-9]{5,16}:AA[0-9A-Za-z_-]{33}",
        Group(0),
        Check::None,
    ),
    // (A bot token whose secret part does not start `AA`, next to Telegram's name.)
    rule(
        "telegram-bot-token",
        &["telegram"],
        r"\b[0-9]{8,10}:[0-9A-Za-z_-]{35}\b",
        Group(0),
        Check::Near(&["telegram"], 120),
    ),
    rule(
        "azure-storage-key",
        &["accountkey", "sharedaccesskey"],
        r"(?i:AccountKey|SharedAccessKey)\s*=\s*([A-Za-z0-9+/]{20,}={0,2})",
        Group(1),
        Check::None,
    ),
    rule(
        "azure-storage-key",
        &["sig="],
        r"[?&]sig=([A-Za-z0-9%+/]{20,}(?:%3D|=){0,2})",
        Group(1),
        Check::None,
    ),
    rule(
        "azure-client-secret",
        &["q~"],
        r"[A-Za-z0-9_.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}",
        Group(0),
        Check::Mixed,
    ),
    rule(
        "mailgun-api-key",
        &["key-"],
        r"key-[0-9a-zA-Z]{32}",
        Group(0),
        Check::NoLetterBefore,
    ),
    rule(
        "mailgun-api-key",
        &["mailgun"],
        r"[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}",
        Group(0),
        Check::Bounded,
    ),
    rule(
        "twilio-api-key",
        &["twilio"],
        r"SK[0-9a-fA-F]{32}|[0-9a-f]{32}",
        Group(0),
        Check::Near(&["twilio"], 200),
    ),
    rule(
        "datadog-api-key",
        &["datadog", "dd_api", "dd_app", "dd-api", "dd-app"],
        r"[0-9a-f]{40}|[0-9a-f]{32}",
        Group(0),
        Check::Near(&["datadog", "dd_api", "dd_app", "dd-api", "dd-app"], 120),
    ),
    // AWS: key ids anywhere, secret keys and session tokens next to what names them.
    rule(
        "aws-access-key",
        &["akia", "asia", "abia", "acca", "a3t"],
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
        Group(0),
        Check::AwsKeyId,
    ),
    rule(
        "aws-session-token",
        &["fwogzxivyxdz", "iqojb3jpz2lu"],
        r"(?:FwoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9/+=]{60,}",
        Group(0),
        Check::None,
    ),
    rule(
        "aws-session-token",
        &[
            "session_token",
            "sessiontoken",
            "session-token",
            "security_token",
            "security-token",
        ],
        r"(?i:session[_-]?token|security[_-]?token)[\x22']?\s*(?:[:=]|=>)\s*[\x22']?([A-Za-z0-9/+=]{60,})",
        Group(1),
        Check::None,
    ),
    rule(
        "aws-secret-key",
        &["aws", "secret", "akia", "asia"],
        r"[A-Za-z0-9/+]{40}",
        Group(0),
        Check::AwsSecret,
    ),
    // Credentials in URLs and headers, JWTs, docker's config.json.
    rule(
        "url-credentials",
        &["://", r":\/\/"],
        r"[A-Za-z][A-Za-z0-9+.-]+:\\?/\\?/[^\s:/?#@\x22'<>\\]*:([^\s/?#@\x22'<>\\]+)@[A-Za-z0-9\[_.-]",
        Group(1),
        Check::UrlPassword,
    ),
    rule(
        "jwt",
        &["eyj"],
        r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",
        Group(0),
        Check::None,
    ),
    rule(
        "authorization-header",
        &["authorization"],
        r"(?i:authorization)[\x22']?\s*[:=]\s*[\x22']?(?:(?i:bearer|basic|token|bot|digest|apikey|key|sso-key)\s+)?",
        Value(header_value_byte, 8),
        Check::SecretValue,
    ),
    rule(
        "authorization-header",
        &["bearer"],
        r"(?i:bearer)\s+([A-Za-z0-9._~+/-]{16,}=*)",
        Group(1),
        Check::SecretValue,
    ),
    rule(
        "authorization-header",
        &["basic"],
        r"(?i:basic)\s+([A-Za-z0-9+/]{12,}={0,2})",
        Group(1),
        Check::BasicAuth,
    ),
    rule(
        "docker-auth",
        &["auth", "identitytoken"],
        r#"[\x22'](?:auth|identitytoken|registrytoken)[\x22']\s*:\s*[\x22']([A-Za-z0-9+/._-]{8,}={0,2})[\x22']"#,
        Group(1),
        Check::BasicAuth,
    ),
    // `.env`, shell, YAML, JSON and code assignments of secret-like names.
    rule(
        "secret-assignment",
        &[
            "pass",
            "pwd",
            "secret",
            "private",
            "token",
            "api_key",
            "api-key",
            "apikey",
            "api.key",
            "_key",
            "-key",
            "privatekey",
            "accesskey",
            "credential",
            "auth",
        ],
        r"(?i)([A-Za-z0-9_.-]*(?:pass|pwd|secret|private|token|key|credential|auth)[A-Za-z0-9_.-]*)[\x22']?(?:[ \t]+(?:string|str|const|final|char|\[\]byte))?[ \t]*(?:::=|:=|\?=|\.=|\+=|=>|=|:)[ \t]*[\x22'`]?",
        Value(assigned_value_byte, 8),
        Check::Assignment,
    ),
    // A secret's name and its value with only spaces between (`besnappy TOKEN <value>`,
    // `boxSECRET <value>`): the value must look generated (see `entropy::spaced_value`).
    rule(
        "secret-assignment",
        &[
            "pass",
            "pwd",
            "secret",
            "private",
            "token",
            "key",
            "credential",
        ],
        r"(?i)([A-Za-z0-9_.-]*(?:pass|pwd|secret|private|token|key|credential)[A-Za-z0-9_.-]*)[\x22']?[ \t]+[\x22'`]?",
        Value(assigned_value_byte, 16),
        Check::SpacedAssignment,
    ),
    // A provider's name, a credential word and a generated value, with spaces, `-`, `:` or `=`
    // between (`coinapi ACCESS <uuid>`, `cloudplanSECRET-<value>`, `taxjar key: <value>`,
    // `detectifyKEY=<hex>`): the form of hundreds of providers' keys that no rule set names
    // one by one.
    rule(
        "secret-assignment",
        &["key", "secret", "token", "access", "private"],
        PROVIDER_CREDENTIAL_PATTERN,
        Value(assigned_value_byte, 14),
        Check::ProviderCredential,
    ),
    // The same names in other forms: `System.setProperty("X_TOKEN", "...")`, .NET's
    // `<add key="DbPassword" value="..." />`, XML elements `<xToken>...</xToken>`.
    rule(
        "secret-assignment",
        &["pass", "pwd", "secret", "token", "key", "credential"],
        r"(?i)(?:setProperty|setenv|putenv|set)\(\s*[\x22']([A-Za-z0-9_.-]*(?:pass|pwd|secret|token|key|credential)[A-Za-z0-9_.-]*)[\x22']\s*,\s*[\x22']",
        Value(not_space_or_quote, 8),
        Check::Assignment,
    ),
    rule(
        "secret-assignment",
        &["pass", "pwd", "secret", "token", "key", "credential"],
        r"(?i)key\s*=\s*\x22([A-Za-z0-9_.:-]*(?:pass|pwd|secret|token|key|credential)[A-Za-z0-9_.:-]*)\x22\s+value\s*=\s*\x22",
        Value(not_space_or_quote, 8),
        Check::Assignment,
    ),
    rule(
        "secret-assignment",
        &["pass", "pwd", "secret", "token", "key", "credential"],
        r"(?i)<([A-Za-z0-9_.:-]*(?:pass|pwd|secret|token|key|credential)[A-Za-z0-9_.:-]*)>",
        Value(xml_text_byte, 8),
        Check::Assignment,
    ),
    // A connection string's password after its user (`User Id=app;Password=...;`,
    // `Uid=app;Pwd=...;`): there even `Pwd` alone names one.
    rule(
        "connection-string-password",
        &[
            "uid=",
            "user=",
            "userid=",
            "user id=",
            "user_id=",
            "username=",
        ],
        r"(?i)(?:^|[;\s\x22'(])(?:user(?:[ _]?id)?|uid|username)[ \t]*=[ \t]*[^;\n]{1,100};[^\n]{0,60}?(?:password|pwd)[ \t]*=[ \t]*",
        Value(connection_value_byte, 6),
        Check::Password,
    ),
    // Passwords on command lines and in `.netrc`.
    rule(
        "cli-password",
        &["curl"],
        r"(?i:curl)\b[^\n|;&]*?\s(?:-u|--user)[ =]?[^\s:\x22'@/]+:",
        Value(not_space_or_quote, 6),
        Check::Password,
    ),
    rule(
        "cli-password",
        &["login", "mysql", "mariadb"],
        r"(?:(?i:login)[^\n|;&]*?\s(?:-p[ =]?|--password[ =])|(?i:mysql|mysqldump|mysqladmin|mariadb)\b[^\n|;&]*?\s(?:-p|--password=))",
        Value(not_space_or_quote, 6),
        Check::Password,
    ),
    rule(
        "cli-password",
        &["pass"],
        r"(?i:login)\s+\S+\s+(?i:password)\s+",
        Value(not_space_or_quote, 6),
        Check::Password,
    ),
];

/// Last words of a name that make it a count, a path or a public identifier of a secret, not
/// the secret (`TOKEN_COUNT`, `PASSWORD_FILE`, `SECRET_NAME`).
const NOT_SECRET_LAST: &[&[u8]] = &[
    b"file",
    b"path",
    b"dir",
    b"url",
    b"uri",
    b"name",
    b"id",
    b"ids",
    b"type",
    b"length",
    b"len",
    b"count",
    b"size",
    b"max",
    b"min",
    b"env",
    b"var",
    b"field",
    b"header",
    b"hint",
    b"policy",
    b"expiry",
    b"expires",
    b"ttl",
    b"timeout",
    b"endpoint",
    b"host",
    b"port",
    b"tokens",
    b"limit",
    b"index",
    b"prefix",
    b"suffix",
    b"format",
    b"mode",
    b"enabled",
    b"required",
    b"location",
    b"ref",
    b"version",
    b"user",
    b"username",
    b"email",
    b"label",
    b"usage",
    b"budget",
    b"provider",
    b"method",
    b"scope",
    b"scopes",
    b"kind",
    b"algorithm",
];

/// Words that name a secret wherever they stand in a name.
const SECRET_WORDS: &[&[u8]] = &[
    b"password",
    b"pat",
    b"passwd",
    b"passphrase",
    b"pass",
    b"pwd",
    b"pw",
    b"secret",
    b"secrets",
    b"token",
    b"apikey",
    b"privatekey",
    b"accesskey",
    b"secretkey",
    b"authtoken",
    b"credential",
    b"credentials",
    b"auth",
    b"authkey",
    b"clientsecret",
    b"accesstoken",
    b"refreshtoken",
    b"apitoken",
    b"dbpassword",
    b"masterkey",
    b"signingkey",
];

/// Words that make a following `key` a secret key (`API_KEY`, `private_key`).
const KEY_QUALIFIERS: &[&[u8]] = &[
    b"api",
    b"private",
    b"access",
    b"secret",
    b"auth",
    b"encryption",
    b"master",
    b"signing",
    b"client",
    b"app",
    b"account",
    b"storage",
    b"license",
    b"service",
    b"session",
    b"admin",
    b"webhook",
    b"server",
    b"shared",
];

/// Whether an assignment's name is secret-like: it names a password, secret, token or key, and
/// not a count, a path or a public identifier of one.
pub fn secret_name(name: &[u8]) -> bool {
    let name = name.to_ascii_lowercase();
    let words: Vec<&[u8]> = name
        .trim_ascii()
        .split(|&b| matches!(b, b'_' | b'-' | b'.'))
        .filter(|w| !w.is_empty())
        .collect();
    let Some(&last) = words.last() else {
        return false;
    };
    if NOT_SECRET_LAST.contains(&last) {
        return false;
    }
    // Tokens that are public by design or guard a form, not an account: `publicToken`,
    // `PUBLISHABLE_KEY`, `csrf-token`.
    if words[0].starts_with(b"public")
        || words.iter().any(|w| w.starts_with(b"publishable"))
        || words
            .iter()
            .any(|w| [&b"csrf"[..], b"xsrf", b"csrftoken", b"xsrftoken"].contains(w))
    {
        return false;
    }
    // Bare short words are too common as labels (`PASS: test_name`, `auth: required`).
    if words.len() == 1 && [&b"pass"[..], b"pw", b"pwd", b"auth"].contains(&words[0]) {
        return false;
    }
    words
        .iter()
        .enumerate()
        .any(|(i, word)| secret_word(word, i.checked_sub(1).map(|p| words[p])))
}

/// Words before `key` that make it no secret: database and cache keys, public halves, ids,
/// keyboard and translation keys.
const NOT_SECRET_KEY_QUALIFIERS: &[&[u8]] = &[
    b"public",
    b"pub",
    b"publishable",
    b"primary",
    b"foreign",
    b"sort",
    b"partition",
    b"cache",
    b"idempotency",
    b"unique",
    b"composite",
    b"hash",
    b"lookup",
    b"map",
    b"dict",
    b"row",
    b"routing",
    b"shard",
    b"object",
    b"s3",
    b"bucket",
    b"index",
    b"ssh",
    b"host",
    b"kms",
    b"i18n",
    b"translation",
    b"locale",
    b"item",
    b"group",
    b"message",
    b"event",
    b"hot",
    b"registry",
    b"sign",
    b"gpg",
    b"pgp",
    b"dedup",
    b"dedupe",
    b"natural",
    b"surrogate",
    b"entry",
    b"field",
    b"column",
    b"table",
    b"query",
    b"param",
    b"header",
    b"config",
    b"setting",
    b"settings",
    b"feature",
    b"flag",
    b"state",
    b"storage",
    b"react",
    b"list",
    b"node",
    b"tree",
    b"sequence",
    b"schema",
];

/// Whether a name is a provider's key (`ALCHEMY_KEY`, `atera_key`, `coinlayerKEY`): `key` after
/// a word that is not a database, cache or public key's. Its value must look generated
/// ([`super::entropy::spaced_value`]), as the name alone says less than `API_KEY` does.
pub fn provider_key_name(raw: &[u8]) -> bool {
    let name = raw.to_ascii_lowercase();
    let words: Vec<&[u8]> = name
        .trim_ascii()
        .split(|&b| matches!(b, b'_' | b'-' | b'.'))
        .filter(|w| !w.is_empty())
        .collect();
    let qualifies = |previous: &[u8]| {
        !previous.is_empty()
            && previous.iter().all(u8::is_ascii_alphanumeric)
            && !previous.iter().all(u8::is_ascii_digit)
            && !NOT_SECRET_KEY_QUALIFIERS.contains(&previous)
    };
    match words[..] {
        [.., previous, b"key"] => qualifies(previous),
        // `coinlayerKEY`, `apitemplateKey`: `key` glued on in another case (not `monkey`).
        [.., last] if last.len() > 3 && last.ends_with(b"key") => {
            let raw = raw.trim_ascii();
            let cut = raw.len() - 3;
            matches!(&raw[cut..], b"Key" | b"KEY")
                && (raw[cut - 1].is_ascii_lowercase() || raw[cut - 1].is_ascii_digit())
                && qualifies(&last[..last.len() - 3])
        }
        _ => false,
    }
}

/// The provider's-credential form (`provider_form.rs` reads it by hand where it is tried).
pub const PROVIDER_CREDENTIAL_PATTERN: &str = r"(?i)([A-Za-z0-9_.-]*(?:key|secret|token|access|private))(?:[ \t]+(?:key|secret|token|access|private|code)\b)*[\x22']?(?:[ \t]*(?::=|=>|[:=])[ \t]*|[ \t]+|-)[\x22'`]?";

/// Credential words that end a provider's key name ([`provider_credential_name`]).
pub const CREDENTIAL_WORDS: &[&[u8]] = &[b"key", b"secret", b"token", b"access", b"private"];

/// Words that stand before a credential word without naming a provider: articles,
/// prepositions, verbs and adjectives of prose (`from key: ...`, `the secret ...`), and what
/// makes a key public or no secret ([`NOT_SECRET_KEY_QUALIFIERS`]).
const NOT_PROVIDER_WORDS: &[&[u8]] = &[
    b"the",
    b"this",
    b"that",
    b"these",
    b"those",
    b"your",
    b"our",
    b"their",
    b"its",
    b"his",
    b"her",
    b"my",
    b"from",
    b"with",
    b"without",
    b"for",
    b"into",
    b"onto",
    b"and",
    b"not",
    b"new",
    b"old",
    b"any",
    b"some",
    b"each",
    b"every",
    b"same",
    b"other",
    b"which",
    b"what",
    b"where",
    b"when",
    b"is",
    b"are",
    b"was",
    b"were",
    b"been",
    b"has",
    b"have",
    b"had",
    b"use",
    b"uses",
    b"using",
    b"used",
    b"get",
    b"gets",
    b"got",
    b"set",
    b"sets",
    b"via",
    b"per",
    b"one",
    b"two",
    b"missing",
    b"invalid",
    b"valid",
    b"expired",
    b"wrong",
    b"bad",
    b"empty",
    b"unknown",
    b"default",
    b"given",
    b"saved",
    b"restored",
    b"loaded",
    b"found",
    b"matched",
    b"created",
    b"deleted",
    b"removed",
    b"added",
    b"updated",
    b"rotated",
    b"generated",
    b"fingerprint",
    b"rsa",
    b"dsa",
    b"ecdsa",
    b"ed25519",
    b"gpg",
    b"pgp",
    b"ssh",
    b"public",
    b"host",
    b"cache",
    b"id",
    b"hash",
    b"commit",
    b"sha",
    b"file",
    b"path",
    b"name",
    b"type",
    b"then",
    b"than",
    b"also",
    b"only",
    b"just",
    b"like",
    b"csrf",
    b"xsrf",
    b"page",
    b"next",
    b"continuation",
    b"cursor",
];

/// English words that end in a credential word without being a provider's key (`monkey`).
const GLUED_WORDS: &[&[u8]] = &[
    b"monkey", b"donkey", b"turkey", b"hockey", b"jockey", b"whiskey", b"turnkey", b"hotkey",
    b"lackey", b"keykey",
];

/// Whether a name ending in a credential word is a provider's key: the words before the last
/// credential words name a provider (`boxSECRET`, `codakey`, `hiveage-secret-KEY`,
/// `zonka-key-ACCESS`), or, when the name is only credential words (`ACCESS`, `secret KEY`),
/// the word before it in the text does (`previous`, `bugsnag`). A provider's word has three
/// letters or more and is no word of prose ([`NOT_PROVIDER_WORDS`]).
pub fn provider_credential_name(raw: &[u8], previous: Option<&[u8]>) -> bool {
    let name = raw.trim_ascii();
    if GLUED_WORDS.iter().any(|w| ends_with_word(name, w)) {
        return false;
    }
    let separator = |b: u8| matches!(b, b'_' | b'-' | b'.');
    let (rest, stripped) = strip_credential_words(name, separator);
    if stripped == 0 {
        return false;
    }
    // The word before names the provider's credential itself (`ipinfo_secret key=...`).
    if rest.is_empty() && previous.is_some_and(|p| provider_credential_name(p, None)) {
        return true;
    }
    let provider = if !rest.is_empty() {
        rest.split(|&b| separator(b)).rfind(|w| !w.is_empty())
    } else {
        previous.map(|p| {
            let p = p.trim_ascii();
            let end = p
                .iter()
                .rposition(u8::is_ascii_alphanumeric)
                .map_or(0, |i| i + 1);
            let p = &p[..end];
            let start = p
                .iter()
                .rposition(|&b| matches!(b, b'_' | b'-' | b'.' | b'/'))
                .map_or(0, |i| i + 1);
            &p[start..]
        })
    };
    let Some(provider) = provider else {
        return false;
    };
    let provider = provider.to_ascii_lowercase();
    provider.len() >= 3
        && provider.iter().all(u8::is_ascii_alphanumeric)
        && provider.iter().any(u8::is_ascii_alphabetic)
        && !NOT_PROVIDER_WORDS.contains(&&provider[..])
        && !NOT_SECRET_KEY_QUALIFIERS.contains(&&provider[..])
        && !CREDENTIAL_WORDS.contains(&&provider[..])
}

/// `name` without the credential words at its end, each with the separators before it
/// (`hiveage-secret-KEY` -> `hiveage` with `-` as a separator; ASCII case ignored), and how
/// many words went.
pub fn strip_credential_words(name: &[u8], separator: impl Fn(u8) -> bool) -> (&[u8], usize) {
    let (mut rest, mut words) = (name, 0);
    while let Some(word) = CREDENTIAL_WORDS.iter().find(|w| ends_with_word(rest, w)) {
        rest = &rest[..rest.len() - word.len()];
        words += 1;
        while let [head @ .., last] = rest {
            if !separator(*last) {
                break;
            }
            rest = head;
        }
    }
    (rest, words)
}

/// Whether `text` ends in `word` (lower case), ASCII case ignored.
pub fn ends_with_word(text: &[u8], word: &[u8]) -> bool {
    text.len() >= word.len() && text[text.len() - word.len()..].eq_ignore_ascii_case(word)
}

/// Whether one word of a name (after `previous`) names a secret.
fn secret_word(word: &[u8], previous: Option<&[u8]>) -> bool {
    if SECRET_WORDS.contains(&word) {
        return true;
    }
    if word == b"key" && previous.is_some_and(|p| KEY_QUALIFIERS.contains(&p)) {
        return true;
    }
    // A provider's `<name>_private` (`statuscake_private=`); alone the word names a setting
    // (`private: true`).
    if word == b"private" && previous.is_some() {
        return true;
    }
    // camelCase names lower-cased: `apiKey`, `clientSecret`, `accessToken`.
    word.ends_with(b"password")
        || word.ends_with(b"secret")
        || word.ends_with(b"apikey")
        || word.ends_with(b"token") && !word.starts_with(b"max")
        || word.ends_with(b"privatekey")
        || word.ends_with(b"accesskey")
        || word.ends_with(b"secretkey")
}

/// Lines that belong to a private key after its first line: base64, PEM headers
/// (`Proc-Type: ...`), blank lines, the quotes and commas of a key held in code, all after an
/// optional Read-tool line number (`     12→`).
pub fn key_material(line: &[u8]) -> bool {
    let line = strip_line_number(line).trim_ascii();
    if line.is_empty() {
        return true;
    }
    if let Some(colon) = memchr::memchr(b':', line) {
        if colon > 0
            && line[..colon]
                .iter()
                .all(|&b| b.is_ascii_alphabetic() || b == b'-')
        {
            return true;
        }
    }
    // A key held in code as quoted strings, one a line: `"b3Blbn...\n" +`.
    let quoted = matches!(line[0], b'"' | b'\'');
    line.iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'+' | b'/' | b'=' | b'"' | b'\'' | b'\\' | b',')
            || quoted && matches!(b, b' ' | b';' | b')')
    })
}

/// A line without the `     12→` (or `12\t`) prefix the Read tool puts before file lines.
pub fn strip_line_number(line: &[u8]) -> &[u8] {
    let digits_from = line.iter().position(|b| *b != b' ').unwrap_or(line.len());
    let digits = line[digits_from..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return line;
    }
    let rest = &line[digits_from + digits..];
    if let Some(after) = rest.strip_prefix("→".as_bytes()) {
        after
    } else if let Some(after) = rest.strip_prefix(b"\t") {
        after
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider's name leads its credential words, glued on or as the word before; prose,
    /// public keys, caches and plain credential words do not.
    #[test]
    fn provider_credential_names() {
        for (name, before) in [
            ("boxSECRET", None),
            ("codakey", None),
            ("hiveage-secret-KEY", None),
            ("ACCESS", Some("coinapi")),
            ("key", Some("spoonacularACCESS")),
            ("secret", Some("bugsnag")),
            ("KEY", Some("api")),
            ("key", Some("ipinfo_secret")),
        ] {
            assert!(
                provider_credential_name(name.as_bytes(), before.map(str::as_bytes)),
                "{name}"
            );
        }
        for (name, before) in [
            ("key", None),
            ("SECRET", None),
            ("key", Some("the")),
            ("key", Some("gpg:")),
            ("key", Some("cache")),
            ("monkey", None),
            ("token", Some("csrf")),
            ("access", Some("public")),
            ("nvkey", None),
        ] {
            assert!(
                !provider_credential_name(name.as_bytes(), before.map(str::as_bytes)),
                "{name} after {before:?}"
            );
        }
    }

    /// A provider's key glued on in another case is one (`coinlayerKEY`, `apitemplateKey`);
    /// `monkey`, `cacheKey` and `publishableKey` are not.
    #[test]
    fn provider_keys_glued_on_in_another_case() {
        for name in ["ALCHEMY_KEY", "coinlayerKEY", "apitemplateKey", "app2Key"] {
            assert!(provider_key_name(name.as_bytes()), "{name}");
        }
        for name in [
            "monkey",
            "cacheKey",
            "publishableKey",
            "primary_key",
            "KEY",
            "Key",
        ] {
            assert!(!provider_key_name(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn every_rule_compiles_and_names_lower_case_keywords() {
        for r in RULES {
            regex::bytes::Regex::new(r.pattern).unwrap_or_else(|e| panic!("{}: {e}", r.name));
            assert!(!r.keywords.is_empty(), "{}", r.name);
            for k in r.keywords {
                assert_eq!(*k, k.to_ascii_lowercase(), "{}", r.name);
            }
        }
    }

    #[test]
    fn every_keyword_holds_a_trigger_of_the_first_pass() {
        use crate::bundle::secrets::scan::{RAW_TRIGGERS, TRIGGERS};
        let lower_raw: Vec<String> = RAW_TRIGGERS
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        for r in RULES {
            for k in r.keywords.iter().chain(ENCODED_KEYWORD_PARTS) {
                assert!(
                    TRIGGERS.iter().any(|t| k.contains(t))
                        || lower_raw.iter().any(|t| k.contains(t.as_str())),
                    "{}: {k}",
                    r.name
                );
            }
        }
        assert!(crate::bundle::secrets::Scanner::new(vec![]).fast_first_pass());
    }

    #[test]
    fn secret_like_names() {
        for n in [
            "PASSWORD",
            "DB_PASSWORD",
            "SECRET_KEY",
            "API_KEY",
            "apiKey",
            "client_secret",
            "private_key",
            "GITHUB_TOKEN",
            "auth_token",
            "token",
            "x-api-key",
            "db.pass",
            "DB_PASS",
            "statuscake_private",
            "SERVICE-PRIVATE",
        ] {
            assert!(secret_name(n.as_bytes()), "{n}");
        }
        for n in [
            "publicToken",
            "PUBLISHABLE_KEY",
            "csrf-token",
            "X_CSRF_TOKEN",
        ] {
            assert!(!secret_name(n.as_bytes()), "{n}");
        }
        for n in [
            "input_tokens",
            "max_tokens",
            "token_count",
            "key",
            "keyboard",
            "password_file",
            "SECRET_NAME",
            "author",
            "tokenizer",
            "bypass",
            "passed",
            "monkey",
            "PASS",
            "private",
            "private_ip",
            "private_network",
        ] {
            assert!(!secret_name(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn read_tool_prefixes_and_key_lines() {
        assert_eq!(strip_line_number("     12→abc".as_bytes()), b"abc");
        assert_eq!(strip_line_number(b"12\tabc"), b"abc");
        assert_eq!(strip_line_number(b"  abc"), b"  abc");
        assert!(key_material("    3→MIIEowIBAAKCAQEA7bq98v1Z/+=".as_bytes()));
        assert!(key_material(b"Proc-Type: 4,ENCRYPTED"));
        assert!(key_material(b"\"MIIE\\n\","));
        assert!(!key_material(b"and then some prose"));
        assert!(key_material(
            br#"      "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n" +"#
        ));
    }
}

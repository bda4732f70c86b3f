//! A generated corpus for the secret scan: secrets of many types (random values, never real
//! ones) planted in the places a Claude Code transcript holds them, in the contexts that hide
//! them; and benign high-entropy text that sessions are full of. Deterministic for a seed.
#![allow(dead_code)]

use serde_json::{json, Value};

/// A small deterministic generator (splitmix64): no dependency, same corpus on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn from(&mut self, alphabet: &str, n: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..n).map(|_| chars[self.below(chars.len())]).collect()
    }

    pub fn alnum(&mut self, n: usize) -> String {
        self.from(ALNUM, n)
    }

    pub fn hex(&mut self, n: usize) -> String {
        self.from("0123456789abcdef", n)
    }

    pub fn upper(&mut self, n: usize) -> String {
        self.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", n)
    }

    pub fn b64(&mut self, n: usize) -> String {
        self.from(B64, n)
    }

    pub fn b64url(&mut self, n: usize) -> String {
        self.from(B64URL, n)
    }

    pub fn digits(&mut self, n: usize) -> String {
        let first = self.from("123456789", 1);
        first + &self.from("0123456789", n - 1)
    }

    /// A password as people pick them when told to: letters, digits, a symbol or two.
    pub fn password(&mut self) -> String {
        let n = 12 + self.below(8);
        let mut p = self.from(ALNUM, n - 2);
        p.push_str(&self.from("0123456789", 1));
        p.push_str(&self.from("!#%^*-_+", 1));
        p
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One planted secret: the text as it appears (a line of a `.env` file, a header, a key file),
/// the parts that must not survive, and whether the value alone (without its name) is a secret
/// anyone would recognise by its shape.
#[derive(Debug, Clone)]
pub struct Secret {
    pub family: &'static str,
    pub kind: &'static str,
    pub text: String,
    pub values: Vec<String>,
    /// The value alone, when its format identifies it (a prefixed token).
    pub bare: Option<String>,
    pub multiline: bool,
}

fn token(family: &'static str, kind: &'static str, name: &str, value: String) -> Secret {
    Secret {
        family,
        kind,
        text: format!("{name}={value}"),
        values: vec![value.clone()],
        bare: Some(value),
        multiline: false,
    }
}

fn named(family: &'static str, kind: &'static str, text: String, value: String) -> Secret {
    Secret {
        family,
        kind,
        text,
        values: vec![value],
        bare: None,
        multiline: false,
    }
}

fn pem(rng: &mut Rng, kind: &'static str, label: &str, headers: &str, cut: bool) -> Secret {
    let extra = rng.below(20);
    let body = base64(&rng.bytes(48 * 8 + 1 + extra));
    let lines: Vec<String> = body
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let mut text = format!("-----BEGIN {label}-----\n{headers}");
    let kept = if cut { lines.len() - 2 } else { lines.len() };
    for line in &lines[..kept] {
        text.push_str(line);
        text.push('\n');
    }
    if !cut {
        text.push_str(&format!("-----END {label}-----"));
    }
    Secret {
        family: "private-key",
        kind,
        text,
        values: lines[..kept]
            .iter()
            .filter(|l| l.len() >= 16)
            .cloned()
            .collect(),
        bare: None,
        multiline: true,
    }
}

/// Every secret type of the corpus, with fresh random values.
pub fn secret_types(rng: &mut Rng) -> Vec<Secret> {
    let mut out = Vec::new();
    // AWS.
    out.push(token(
        "aws-access-key",
        "akia",
        "AWS_ACCESS_KEY_ID",
        format!("AKIA{}", rng.upper(16)),
    ));
    out.push(token(
        "aws-access-key",
        "asia",
        "AWS_ACCESS_KEY_ID",
        format!("ASIA{}", rng.upper(16)),
    ));
    let v = loop {
        let v = rng.b64(40);
        if v.bytes().any(|b| b.is_ascii_digit()) {
            break v;
        }
    };
    out.push(named(
        "aws-secret-key",
        "env",
        format!("AWS_SECRET_ACCESS_KEY={v}"),
        v,
    ));
    let v = rng.b64(40);
    out.push(named(
        "aws-secret-key",
        "credentials-file",
        format!(
            "[default]\naws_access_key_id = AKIA{}\naws_secret_access_key = {v}",
            rng.upper(16)
        ),
        v,
    ));
    let v = format!("IQoJb3JpZ2luX2VjE{}", rng.b64(300));
    out.push(named(
        "aws-session-token",
        "iqoj",
        format!("aws_session_token = {v}"),
        v,
    ));
    let v = format!("FwoGZXIvYXdzE{}", rng.b64(200));
    out.push(named(
        "aws-session-token",
        "fwog",
        format!("AWS_SESSION_TOKEN={v}"),
        v,
    ));
    // Credentials in URLs.
    for (kind, scheme, host) in [
        ("postgres", "postgresql", "db.internal:5432/app"),
        ("mysql", "mysql", "mysql.internal:3306/shop"),
        ("redis", "rediss", "cache.internal:6380/0"),
        ("amqp", "amqps", "mq.internal:5671/vhost"),
        (
            "mongodb",
            "mongodb+srv",
            "cluster0.ab1cd.mongodb.net/prod?retryWrites=true",
        ),
        (
            "https",
            "https",
            "artifacts.internal/repository/pypi/simple",
        ),
        ("git", "https", "gitlab.internal/team/app.git"),
    ] {
        let pw = rng.password().replace(['#', '%', '^', '+'], "");
        let user = if kind == "redis" {
            String::new()
        } else {
            format!("svc_{}", rng.from("abcdefghijklmnopqrstuvwxyz", 5))
        };
        let url = format!("{scheme}://{user}:{pw}@{host}");
        let text = match kind {
            "git" => format!("git remote add origin {url}"),
            _ => format!("DATABASE_URL={url}"),
        };
        out.push(Secret {
            family: "url-credentials",
            kind,
            text,
            values: vec![pw],
            bare: Some(url),
            multiline: false,
        });
    }
    // JWT and Authorization headers.
    let jwt = format!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}",
        rng.b64url(60),
        rng.b64url(43)
    );
    out.push(token("jwt", "jwt", "SESSION_JWT", jwt));
    let v = rng.b64url(48);
    out.push(named(
        "authorization-header",
        "bearer",
        format!("curl -H 'Authorization: Bearer {v}' https://api.internal/v1/me"),
        v,
    ));
    let v = base64(format!("deploy:{}", rng.password()).as_bytes());
    out.push(named(
        "authorization-header",
        "basic",
        format!("Authorization: Basic {v}"),
        v,
    ));
    let v = rng.hex(40);
    out.push(named(
        "authorization-header",
        "token",
        format!("curl -H \"Authorization: token {v}\" https://ghe.internal/api/v3/user"),
        v,
    ));
    // Prefixed tokens.
    for prefix in ["ghp", "gho", "ghu", "ghs", "ghr"] {
        let kind: &'static str = match prefix {
            "ghp" => "ghp",
            "gho" => "gho",
            "ghu" => "ghu",
            "ghs" => "ghs",
            _ => "ghr",
        };
        out.push(token(
            "github-token",
            kind,
            "GITHUB_TOKEN",
            format!("{prefix}_{}", rng.alnum(36)),
        ));
    }
    out.push(token(
        "github-token",
        "github_pat",
        "GH_TOKEN",
        format!("github_pat_11{}_{}", rng.upper(20), rng.alnum(59)),
    ));
    out.push(token(
        "gitlab-token",
        "glpat",
        "GITLAB_TOKEN",
        format!("glpat-{}", rng.b64url(20)),
    ));
    out.push(token(
        "npm-token",
        "npm",
        "NPM_TOKEN",
        format!("npm_{}", rng.alnum(36)),
    ));
    let v = format!("npm_{}", rng.alnum(36));
    out.push(named(
        "npm-token",
        "npmrc",
        format!("//registry.npmjs.org/:_authToken={v}"),
        v,
    ));
    out.push(token(
        "pypi-token",
        "pypi",
        "TWINE_PASSWORD",
        format!("pypi-AgEIcHlwaS5vcmc{}", rng.b64url(70)),
    ));
    out.push(token(
        "slack-token",
        "xoxb",
        "SLACK_BOT_TOKEN",
        format!(
            "xoxb-{}-{}-{}",
            rng.digits(11),
            rng.digits(13),
            rng.alnum(24)
        ),
    ));
    out.push(token(
        "slack-token",
        "xoxp",
        "SLACK_USER_TOKEN",
        format!(
            "xoxp-{}-{}-{}-{}",
            rng.digits(11),
            rng.digits(11),
            rng.digits(13),
            rng.hex(32)
        ),
    ));
    let path = format!("T{}/B{}/{}", rng.upper(8), rng.upper(10), rng.alnum(24));
    out.push(Secret {
        family: "slack-webhook",
        kind: "webhook",
        text: format!("SLACK_WEBHOOK_URL=https://hooks.slack.com/services/{path}"),
        values: vec![path.clone()],
        bare: Some(format!("https://hooks.slack.com/services/{path}")),
        multiline: false,
    });
    out.push(token(
        "sendgrid-api-key",
        "sendgrid",
        "SENDGRID_API_KEY",
        format!("SG.{}.{}", rng.b64url(22), rng.b64url(43)),
    ));
    out.push(token(
        "stripe-key",
        "sk_live",
        "STRIPE_SECRET_KEY",
        format!("sk_live_51{}", rng.alnum(96)),
    ));
    out.push(token(
        "stripe-key",
        "sk_test",
        "STRIPE_SECRET_KEY",
        format!("sk_test_51{}", rng.alnum(96)),
    ));
    out.push(token(
        "stripe-key",
        "rk_live",
        "STRIPE_RESTRICTED_KEY",
        format!("rk_live_51{}", rng.alnum(96)),
    ));
    out.push(token(
        "stripe-webhook-secret",
        "whsec",
        "STRIPE_WEBHOOK_SECRET",
        format!("whsec_{}", rng.alnum(32)),
    ));
    let key = base64(&rng.bytes(64));
    out.push(named(
        "azure-storage-key",
        "connection-string",
        format!("AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=st{};AccountKey={key};EndpointSuffix=core.windows.net", rng.hex(8)),
        key,
    ));
    out.push(token(
        "azure-client-secret",
        "client-secret",
        "AZURE_CLIENT_SECRET",
        format!(
            "{}{}Q~{}",
            rng.alnum(3),
            rng.digits(1),
            rng.from(&format!("{ALNUM}_~.-"), 34)
        ),
    ));
    out.push(token(
        "google-api-key",
        "api-key",
        "GOOGLE_API_KEY",
        format!("AIza{}", rng.b64url(35)),
    ));
    let mut sa = pem(rng, "service-account", "PRIVATE KEY", "", false);
    sa.family = "google-service-account";
    sa.text = serde_json::to_string_pretty(&json!({
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": rng.hex(40),
        "private_key": format!("{}\n", sa.text),
        "client_email": "ci@demo-project.iam.gserviceaccount.com",
    }))
    .unwrap();
    out.push(sa);
    out.push(token(
        "anthropic-api-key",
        "api03",
        "ANTHROPIC_API_KEY",
        format!("sk-ant-api03-{}AA", rng.b64url(93)),
    ));
    out.push(token(
        "openai-api-key",
        "proj",
        "OPENAI_API_KEY",
        format!("sk-proj-{}", rng.b64url(120)),
    ));
    out.push(token(
        "openai-api-key",
        "legacy",
        "OPENAI_API_KEY",
        format!("sk-{}T3BlbkFJ{}", rng.alnum(20), rng.alnum(20)),
    ));
    out.push(token(
        "huggingface-token",
        "hf",
        "HF_TOKEN",
        format!(
            "hf_{}",
            rng.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34)
        ),
    ));
    out.push(token(
        "digitalocean-token",
        "dop",
        "DIGITALOCEAN_TOKEN",
        format!("dop_v1_{}", rng.hex(64)),
    ));
    out.push(token(
        "shopify-token",
        "shpat",
        "SHOPIFY_ACCESS_TOKEN",
        format!("shpat_{}", rng.hex(32)),
    ));
    out.push(token(
        "telegram-bot-token",
        "bot",
        "TELEGRAM_BOT_TOKEN",
        format!("{}:AA{}", rng.digits(10), rng.b64url(33)),
    ));
    let v = rng.hex(32);
    out.push(named(
        "twilio-api-key",
        "auth-token",
        format!("TWILIO_AUTH_TOKEN={v}"),
        v,
    ));
    let v = rng.hex(32);
    out.push(named(
        "datadog-api-key",
        "api-key",
        format!("DD_API_KEY={v}"),
        v,
    ));
    out.push(token(
        "mailgun-api-key",
        "key",
        "MAILGUN_API_KEY",
        format!("key-{}", rng.hex(32)),
    ));
    let v = base64(format!("robot:{}", rng.alnum(32)).as_bytes());
    out.push(named(
        "docker-auth",
        "config-json",
        serde_json::to_string_pretty(&json!({"auths": {"ghcr.io": {"auth": v}}})).unwrap(),
        v,
    ));
    // Private keys.
    out.push(pem(rng, "rsa", "RSA PRIVATE KEY", "", false));
    out.push(pem(rng, "ec", "EC PRIVATE KEY", "", false));
    out.push(pem(rng, "dsa", "DSA PRIVATE KEY", "", false));
    out.push(pem(rng, "openssh", "OPENSSH PRIVATE KEY", "", false));
    out.push(pem(rng, "encrypted", "ENCRYPTED PRIVATE KEY", "", false));
    out.push(pem(rng, "pkcs8", "PRIVATE KEY", "", false));
    out.push(pem(
        rng,
        "rsa-encrypted-headers",
        "RSA PRIVATE KEY",
        "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\n",
        false,
    ));
    out.push(pem(rng, "cut-off", "OPENSSH PRIVATE KEY", "", true));
    out.push(pem(
        rng,
        "quoted-comment",
        "RSA PRIVATE KEY",
        "Comment: \"rsa-key-20260101\"\n",
        false,
    ));
    let private: Vec<String> = base64(&rng.bytes(48 * 4))
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    out.push(Secret {
        family: "putty-private-key",
        kind: "ppk",
        text: format!(
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: eddsa-key-20260101\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIOr{}\n{}\nPrivate-Lines: {}\n{}\nPrivate-MAC: {}",
            rng.b64(40),
            rng.b64(20),
            private.len(),
            private.join("\n"),
            rng.hex(64)
        ),
        values: private.clone(),
        bare: None,
        multiline: true,
    });
    out.push(token(
        "age-secret-key",
        "age",
        "SOPS_AGE_KEY",
        format!(
            "AGE-SECRET-KEY-1{}",
            rng.from("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)
        ),
    ));
    // Secret-like assignments whose value is all there is to go by.
    let v = rng.password();
    out.push(named(
        "secret-assignment",
        "password",
        format!("DB_PASSWORD={v}"),
        v,
    ));
    let v = rng.b64url(50);
    out.push(named(
        "secret-assignment",
        "secret_key",
        format!("SECRET_KEY='{v}'"),
        v,
    ));
    let v = rng.alnum(32);
    out.push(named(
        "secret-assignment",
        "api_key",
        format!("export API_KEY=\"{v}\""),
        v,
    ));
    let v = rng.alnum(40);
    out.push(named(
        "secret-assignment",
        "yaml-token",
        format!("  token: {v}"),
        v,
    ));
    let v = rng.b64(44);
    out.push(named(
        "secret-assignment",
        "private_key",
        format!("private_key = \"{v}\""),
        v,
    ));
    let v = rng.password();
    out.push(named(
        "secret-assignment",
        "json-password",
        format!("{{\"username\": \"admin\", \"password\": \"{v}\"}}"),
        v,
    ));
    out
}

/// The places of a transcript that hold text Claude saw or wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The `content` of a tool_result after `cat .env`.
    CatOutput,
    /// `toolUseResult.stdout` of a Bash call.
    Stdout,
    /// A user prompt.
    Prompt,
    /// The command of a Bash tool_use.
    BashCommand,
    /// A record of a subagent's transcript (`<uuid>/subagents/agent-*.jsonl`).
    Subagent,
    /// A `<uuid>/tool-results/*.txt` file (plain text).
    ToolResultFile,
    /// Read-tool output, each line after `     N→`.
    ReadOutput,
    /// A tool result whose text is JSON holding the secret in a string.
    JsonInJson,
}

pub const PLACES: [Place; 8] = [
    Place::CatOutput,
    Place::Stdout,
    Place::Prompt,
    Place::BashCommand,
    Place::Subagent,
    Place::ToolResultFile,
    Place::ReadOutput,
    Place::JsonInJson,
];

/// What else surrounds a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Plain,
    /// An ANSI colour sequence right before it (terminal output).
    Ansi,
    /// Percent-encoded in a URL.
    UrlEncoded,
    /// Digits and letters glued to it on both sides.
    Glued,
}

/// One planted sample: where it goes and what must not survive.
#[derive(Debug, Clone)]
pub struct Sample {
    pub family: &'static str,
    pub kind: &'static str,
    pub place: Place,
    pub context: Context,
    /// Path relative to the project folder (`<id>.jsonl`, `<id>/subagents/...`, ...).
    pub file: String,
    /// The whole file content of this sample (JSON lines, or text).
    pub content: String,
    /// Substrings that must not appear after redaction (each at least 12 characters, or the
    /// whole value when shorter).
    pub forbidden: Vec<String>,
}

pub const SESSION_ID: &str = "5e55104a-0b1c-4d2e-8f3a-7b6c5d4e3f21";
const CWD: &str = "/home/dev/app";

fn envelope(kind: &str, message: Value, extra: Value, n: usize, sidechain: bool) -> String {
    let mut record = json!({
        "parentUuid": format!("00000000-0000-4000-8000-{n:012}"),
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": CWD,
        "sessionId": SESSION_ID,
        "version": "2.1.39",
        "gitBranch": "main",
        "type": kind,
        "message": message,
        "uuid": format!("10000000-0000-4000-8000-{n:012}"),
        "timestamp": "2026-11-30T10:00:00.000Z",
    });
    if let (Value::Object(r), Value::Object(e)) = (&mut record, extra) {
        r.extend(e);
    }
    record.to_string()
}

fn tool_result(content: &str, stdout: &str, n: usize, sidechain: bool) -> String {
    envelope(
        "user",
        json!({"role": "user", "content": [{"tool_use_id": format!("toolu_01{n:022}"), "type": "tool_result", "content": content, "is_error": false}]}),
        json!({"toolUseResult": {"stdout": stdout, "stderr": "", "interrupted": false, "isImage": false}}),
        n,
        sidechain,
    )
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// 12-character windows of each value (a piece of a secret is a leak too).
fn forbidden_of(secret: &Secret, context: Context) -> Vec<String> {
    let mut out = Vec::new();
    for value in &secret.values {
        let forms = if context == Context::UrlEncoded {
            vec![value.clone(), percent_encode(value)]
        } else {
            vec![value.clone()]
        };
        for form in forms {
            let chars: Vec<char> = form.chars().collect();
            if chars.len() <= 12 {
                out.push(form.clone());
            } else {
                out.extend(
                    chars
                        .windows(12)
                        .step_by(6)
                        .map(|w| w.iter().collect::<String>()),
                );
                out.push(chars[chars.len() - 12..].iter().collect());
            }
        }
    }
    out
}

/// `secret` planted in `place` with `context`, as the content of one file.
pub fn plant(secret: &Secret, place: Place, context: Context, n: usize) -> Sample {
    let text = match context {
        Context::Plain => secret.text.clone(),
        Context::Ansi => format!("\x1b[1;32m{}\x1b[0m", secret.text),
        Context::UrlEncoded => format!(
            "https://ci.internal/callback?state=ok&env={}",
            percent_encode(&secret.text)
        ),
        Context::Glued => {
            let value = secret.bare.clone().unwrap_or_else(|| secret.text.clone());
            format!("build-7f3e2024{value}9x")
        }
    };
    let env_file = format!("NODE_ENV=production\nLOG_LEVEL=info\n{text}\nPORT=8080\n");
    let (file, content) = match place {
        Place::CatOutput => (
            format!("{SESSION_ID}.jsonl"),
            tool_result(&env_file, "", n, false),
        ),
        Place::Stdout => (
            format!("{SESSION_ID}.jsonl"),
            tool_result("(see stdout)", &env_file, n, false),
        ),
        Place::Prompt => {
            let shown = match (&secret.bare, context) {
                (Some(bare), Context::Plain) if !secret.multiline => bare.clone(),
                _ => text.clone(),
            };
            (
                format!("{SESSION_ID}.jsonl"),
                envelope(
                    "user",
                    json!({"role": "user", "content": format!("The deploy fails with this, can you check?\n{shown}\nThanks")}),
                    json!({}),
                    n,
                    false,
                ),
            )
        }
        Place::BashCommand => {
            let command = if secret.multiline {
                format!("cat > /tmp/key <<'EOF'\n{text}\nEOF\nchmod 600 /tmp/key")
            } else {
                format!(
                    "export {} && ./scripts/deploy.sh --verbose",
                    text.replace('\n', " ")
                )
            };
            (
                format!("{SESSION_ID}.jsonl"),
                envelope(
                    "assistant",
                    json!({"model": "claude-opus-4-5", "id": format!("msg_01{n:022}"), "type": "message", "role": "assistant",
                        "content": [{"type": "tool_use", "id": format!("toolu_01{n:022}"), "name": "Bash",
                            "input": {"command": command, "description": "Deploy with the credentials"}}],
                        "stop_reason": "tool_use", "usage": {"input_tokens": 12, "output_tokens": 345}}),
                    json!({"requestId": format!("req_011{n:021}")}),
                    n,
                    false,
                ),
            )
        }
        Place::Subagent => (
            format!("{SESSION_ID}/subagents/agent-a{n:07x}.jsonl"),
            tool_result(&env_file, &env_file, n, true),
        ),
        Place::ToolResultFile => (
            format!("{SESSION_ID}/tool-results/toolu_01{n:022}.txt"),
            env_file.clone(),
        ),
        Place::ReadOutput => {
            let numbered: String = env_file
                .lines()
                .enumerate()
                .map(|(i, l)| format!("{:>6}→{l}\n", i + 1))
                .collect();
            (
                format!("{SESSION_ID}.jsonl"),
                envelope(
                    "user",
                    json!({"role": "user", "content": [{"tool_use_id": format!("toolu_01{n:022}"), "type": "tool_result", "content": numbered}]}),
                    json!({"toolUseResult": {"type": "text", "file": {"filePath": format!("{CWD}/.env"), "content": env_file, "numLines": env_file.lines().count(), "startLine": 1, "totalLines": env_file.lines().count()}}}),
                    n,
                    false,
                ),
            )
        }
        Place::JsonInJson => {
            let inner = json!({"content": [{"type": "text", "text": env_file}], "isError": false})
                .to_string();
            let outer = json!({"result": inner}).to_string();
            (
                format!("{SESSION_ID}.jsonl"),
                tool_result(&outer, "", n, false),
            )
        }
    };
    let content = if file.ends_with(".jsonl") {
        format!("{content}\n")
    } else {
        content
    };
    Sample {
        family: secret.family,
        kind: secret.kind,
        place,
        context,
        file,
        content,
        forbidden: forbidden_of(secret, context),
    }
}

/// Every secret type in every place, plus the hiding contexts in two places each (the ones a
/// terminal, a URL and glued text produce).
pub fn samples(seed: u64) -> Vec<Sample> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut n = 0;
    for secret in secret_types(&mut rng) {
        for place in PLACES {
            n += 1;
            out.push(plant(&secret, place, Context::Plain, n));
        }
        for (place, context) in [
            (Place::Stdout, Context::Ansi),
            (Place::ToolResultFile, Context::Ansi),
            (Place::Prompt, Context::UrlEncoded),
            (Place::JsonInJson, Context::UrlEncoded),
        ] {
            n += 1;
            out.push(plant(&secret, place, context, n));
        }
        if secret.bare.is_some() && secret.family != "url-credentials" {
            for place in [Place::Prompt, Place::Stdout] {
                n += 1;
                out.push(plant(&secret, place, Context::Glued, n));
            }
        }
    }
    out
}

/// Benign text that sessions are full of, as JSON lines of about `bytes` bytes: git SHAs, sha256
/// and sha512 sums, lockfile integrity hashes, UUIDs, base64 images, minified code, SSH public
/// keys, documented example keys, long base64 blobs, paths, CSS colours and code that talks about
/// tokens and passwords without holding any.
pub fn benign_lines(seed: u64, bytes: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut total = 0;
    let mut n = 0;
    while total < bytes {
        n += 1;
        let text = match n % 14 {
            0 => (0..20)
                .map(|_| format!("commit {}\nAuthor: Dev <dev@example.org>\n\n    fix: tokens in the {} parser\n", rng.hex(40), rng.from("abcdefghij", 6)))
                .collect::<String>(),
            1 => (0..30)
                .map(|_| format!("{}  target/release/{}.tar.gz\n{}  dist/{}.zip\n", rng.hex(64), rng.from("abcdefgh", 8), rng.hex(128), rng.from("abcdefgh", 6)))
                .collect(),
            2 => (0..25)
                .map(|_| format!("    \"node_modules/{}\": {{\n      \"version\": \"1.{}.0\",\n      \"resolved\": \"https://registry.npmjs.org/x/-/x-1.0.0.tgz\",\n      \"integrity\": \"sha512-{}==\"\n    }},\n", rng.from("abcdefghijklmnop", 8), rng.below(30), rng.b64(86)))
                .collect(),
            3 => (0..40)
                .map(|_| format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}\n", rng.next() as u32, rng.next() as u16, rng.below(4096), rng.below(4096), rng.next() & 0xffff_ffff_ffff))
                .collect(),
            4 => format!("data:image/png;base64,{}", base64(&rng.bytes(30_000))),
            5 => {
                let mut js = String::new();
                for _ in 0..300 {
                    let a = rng.from("abcdefghijklmnopqrstuvwxyz", 1);
                    let b = rng.from("abcdefghijklmnopqrstuvwxyz", 2);
                    js.push_str(&format!("function {a}{b}(e,t){{var n=e.token||t.apiKey;return n?\"Bearer \"+n:null}};var {b}=\"{}\";", rng.b64(24)));
                }
                js
            }
            6 => format!(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} dev@laptop\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ{} ci@runner\necdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBB{} x@y\n",
                rng.b64(43),
                rng.b64(500),
                rng.b64(120)
            ),
            7 => "# from the AWS docs\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n# .env.example\nAPI_KEY=your-api-key-here\nPASSWORD=changeme\nSECRET_KEY=${SECRET_KEY}\nDATABASE_URL=postgres://user:password@localhost:5432/db\nGITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}\n".to_owned(),
            8 => format!("{{\"type\":\"api-request-blob\",\"blob\":\"{}\",\"signature\":\"{}\"}}", rng.b64(8000), rng.b64(400)),
            9 => (0..60)
                .map(|_| format!("/home/dev/app/src/{}/{}_{}.rs:{}:{}\n", rng.from("abcdefghij", 6), rng.from("abcdefghij", 5), rng.hex(8), rng.below(900), rng.below(80)))
                .collect(),
            10 => (0..80)
                .map(|_| format!(".c-{} {{ color: #{}; background: #{}; border-color: #{} }}\n", rng.hex(6), rng.hex(6), rng.hex(3), rng.hex(8)))
                .collect(),
            11 => "const token = await getToken();\nlet password: string = '';\nconst apiKey = process.env.OPENAI_API_KEY;\nmax_tokens: 4096\n\"input_tokens\": 123456789,\ntokenizer = AutoTokenizer.from_pretrained(\"gpt2\")\nif (!secret) throw new Error('missing secret');\nauth: required\n--- PASS: TestTokenRefresh_ExpiredToken (0.00s)\nsecret_key = settings.SECRET_KEY\nAuthorization: Bearer ${TOKEN}\n".to_owned(),
            12 => (0..30)
                .map(|_| format!("{} {} refs/heads/feature/{}\n", rng.hex(40), rng.hex(40), rng.from("abcdef", 5)))
                .collect(),
            _ => format!("Run `cargo test` — {} passed; build id {} (sha1 {}), object {}", rng.below(500), rng.b64url(22), rng.hex(40), rng.b64(44)),
        };
        let line = tool_result(&text, &text, n, false);
        total += line.len() + 1;
        out.push(line);
    }
    out
}

/// The placeholders and names issue 21 saw redacted: none of them may be.
pub const ISSUE_FALSE_ALARMS: &[&str] = &[
    "export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "const key = \"AIzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\";",
    "ANTHROPIC_API_KEY=sk-ant-api03-abc123xyz-...",
    "hf_requiredCharacteristicTypesForDisplayMetadata",
    "notes = \"Maven - io.jsonwebtoken:jjwt-jackson-0.11.2\"",
    "SLACK_BOT_TOKEN=xoxb-12345-abcd234",
];

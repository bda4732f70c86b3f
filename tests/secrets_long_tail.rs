//! Issue 21's long tail and false alarms, in every place a transcript holds text: the formats
//! the issue found missed (Docker Swarm and Docker Hub tokens, passwords on command lines and in
//! `.netrc`, `.NET` and Django config, assignment forms of other languages, gcloud access
//! tokens, AWS key ids without a digit, Stripe `rk_prod_`, Twilio clients, GitLab agent and
//! runner registration tokens, base64 PEM keys) must be redacted, and the placeholders and names
//! it found redacted must be left alone. Values are drawn fresh from each format (seeded), not
//! copied from anywhere. Run with `--nocapture` for the per-family table.

mod secret_corpus;

use std::collections::BTreeMap;

use ccsync::bundle::secrets::{redact_file, Scanner};
use secret_corpus::{plant, Context, Rng, Secret, PLACES};

fn secret(family: &'static str, text: String, value: String) -> Secret {
    Secret {
        family,
        kind: family,
        text,
        values: vec![value],
        bare: None,
        multiline: false,
    }
}

fn lower_alnum(rng: &mut Rng, n: usize) -> String {
    rng.from("abcdefghijklmnopqrstuvwxyz0123456789", n)
}

/// The issue's missed formats, one value each.
fn missed(rng: &mut Rng) -> Vec<Secret> {
    use base64::Engine as _;
    let swarm = format!("SWMTKN-1-{}-{}", lower_alnum(rng, 50), lower_alnum(rng, 25));
    let unlock = format!("SWMKEY-1-{}", rng.b64(43));
    let pat = format!("dckr_pat_{}", rng.alnum(27));
    let (pw1, pw2, pw3, pw4, pw5, pw6) = (
        rng.password(),
        rng.password(),
        rng.password(),
        rng.password(),
        rng.password(),
        rng.password(),
    );
    let ya29 = format!(
        "ya29.a0{}",
        rng.from(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            120,
        )
    );
    let akia = format!("AKIA{}", rng.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 16));
    let rk = format!("rk_prod_{}", rng.alnum(24));
    let sk = format!("sk_live_{}", rng.alnum(12));
    let (sid, auth) = (format!("AC{}", rng.hex(32)), rng.hex(32));
    let agent = format!("glagent-{}", rng.b64url(50));
    let runner = format!("GR1348941{}", rng.b64url(20));
    let pem = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----\n",
        rng.b64(64),
        rng.b64(64)
    );
    let pem64 = base64::engine::general_purpose::STANDARD.encode(pem);
    let django = format!(
        "%0&2#@5wz^{}",
        rng.from("abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)", 40)
    );
    let tokens: Vec<String> = (0..6).map(|_| rng.alnum(32)).collect();
    let symbol_password = format!("*{}", rng.password());
    let ado_new = format!("{}AZDO{}", rng.alnum(76), rng.alnum(4));
    let ado_old = lower_alnum(rng, 52);
    let client_id = format!("{}-{}", rng.digits(12), lower_alnum(rng, 32));
    let gocspx = format!("GOCSPX-{}", rng.b64url(28));
    let search = format!("{}AzSe{}", rng.alnum(42), rng.alnum(6));
    let session = rng.hex(32);
    let ssh: Vec<String> = (0..3).map(|_| rng.b64(64)).collect();
    vec![
        secret(
            "docker-swarm-token",
            format!("docker swarm join --token {swarm} 10.0.0.5:2377"),
            swarm,
        ),
        secret(
            "docker-swarm-token",
            format!("Successfully rotated manager unlock key.\n\n    {unlock}\n"),
            unlock,
        ),
        secret(
            "docker-pat",
            format!("echo {pat} | docker login -u deploy --password-stdin"),
            pat,
        ),
        secret(
            "cli-password",
            format!("docker login -u deploy -p {pw1} registry.internal"),
            pw1.clone(),
        ),
        secret(
            "cli-password",
            format!("curl -s -u admin:{pw2} https://ci.internal/api/json"),
            pw2.clone(),
        ),
        secret(
            "cli-password",
            format!("machine api.internal login deploy password {pw3}"),
            pw3.clone(),
        ),
        secret(
            "cli-password",
            format!("mysql -u root -p{pw4} -h db.internal app"),
            pw4.clone(),
        ),
        secret(
            "secret-assignment",
            format!("Server=db.internal;Database=app;User Id=sa;Password={pw5};"),
            pw5.clone(),
        ),
        secret(
            "secret-assignment",
            format!("<add key=\"DbPassword\" value=\"{pw6}\" />"),
            pw6.clone(),
        ),
        secret(
            "secret-assignment",
            format!("SECRET_KEY = '{django}'"),
            django,
        ),
        secret(
            "secret-assignment",
            format!("X_TOKEN ?= \"{}\"", tokens[0]),
            tokens[0].clone(),
        ),
        secret(
            "secret-assignment",
            format!("X_TOKEN ::= {}", tokens[1]),
            tokens[1].clone(),
        ),
        secret(
            "secret-assignment",
            format!("$xToken .= \"{}\";", tokens[2]),
            tokens[2].clone(),
        ),
        secret(
            "secret-assignment",
            format!("var xToken string = \"{}\"", tokens[3]),
            tokens[3].clone(),
        ),
        secret(
            "secret-assignment",
            format!("System.setProperty(\"X_TOKEN\", \"{}\");", tokens[4]),
            tokens[4].clone(),
        ),
        secret(
            "secret-assignment",
            format!("<xToken>{}</xToken>", tokens[5]),
            tokens[5].clone(),
        ),
        secret(
            "google-oauth-access-token",
            format!("gcloud auth print-access-token\n{ya29}"),
            ya29,
        ),
        secret(
            "aws-access-key",
            format!("aws_access_key_id = {akia}"),
            akia,
        ),
        secret("stripe-key", format!("STRIPE_RESTRICTED={rk}"), rk),
        secret("stripe-key", format!("stripe.api_key = \"{sk}\""), sk),
        secret(
            "twilio-api-key",
            format!("client = Client(\"{sid}\", \"{auth}\")"),
            auth,
        ),
        secret("gitlab-token", format!("token: {agent}"), agent),
        secret(
            "gitlab-token",
            format!("gitlab-runner register --registration-token {runner}"),
            runner,
        ),
        secret("private-key", format!("  tls.key: {pem64}"), pem64),
        secret(
            "secret-assignment",
            format!("DB_PASSWORD={symbol_password}"),
            symbol_password,
        ),
        secret(
            "azure-devops-pat",
            format!("AZURE_DEVOPS_EXT_PAT={ado_new}"),
            ado_new,
        ),
        secret(
            "azure-devops-pat",
            format!("echo {ado_old} | az devops login --organization https://dev.azure.com/acme"),
            ado_old,
        ),
        secret(
            "google-oauth-client-id",
            format!("\"client_id\": \"{client_id}.apps.googleusercontent.com\""),
            client_id,
        ),
        secret(
            "google-oauth-client-secret",
            format!("GOOGLE_CLIENT_SECRET={gocspx}"),
            gocspx,
        ),
        secret(
            "azure-search-key",
            format!("az search admin-key show: {{\"primaryKey\": \"{search}\"}}"),
            search,
        ),
        secret(
            "gitlab-token",
            format!("Cookie: _gitlab_session={session}; path=/"),
            session,
        ),
        Secret {
            family: "private-key",
            kind: "openssh-quoted",
            text: format!(
                "const key = \"-----BEGIN OPENSSH PRIVATE KEY-----\\n\" +\n  \"{}\\n\" +\n  \"{}\\n\" +\n  \"{}\\n\" +\n  \"-----END OPENSSH PRIVATE KEY-----\";",
                ssh[0], ssh[1], ssh[2]
            ),
            values: ssh.clone(),
            bare: None,
            multiline: true,
        },
    ]
}

/// More placeholders and names, after the issue's own ([`secret_corpus::ISSUE_FALSE_ALARMS`]).
const BENIGN: &[&str] = &[
    "token: ghp_abababababababababababababababababab",
    "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX",
    "curl -u admin:$ADMIN_PASSWORD https://ci.internal",
    "mysql -u root -p app",
    "docker login -u deploy -p <password>",
];

fn scan(scanner: &Scanner, dir: &std::path::Path, content: &str, file: &str) -> (String, usize) {
    let src = dir.join("sample");
    std::fs::write(&src, content).unwrap();
    let mut out = Vec::new();
    let findings = redact_file(&src, &mut out, scanner, file).unwrap();
    (String::from_utf8(out).unwrap(), findings.len())
}

#[test]
fn the_issues_missed_formats_are_redacted_in_every_place() {
    let dir = tempfile::tempdir().unwrap();
    let scanner = Scanner::new(Vec::new());
    let mut rng = Rng::new(21);
    let mut per_family: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    for (n, secret) in missed(&mut rng).iter().enumerate() {
        for place in PLACES {
            let sample = plant(secret, place, Context::Plain, n);
            let (out, _) = scan(&scanner, dir.path(), &sample.content, &sample.file);
            let ok = !sample.forbidden.iter().any(|f| out.contains(f.as_str()));
            let entry = per_family.entry(secret.family).or_default();
            entry.0 += 1;
            entry.1 += usize::from(ok);
            if !ok {
                misses.push(format!("{:?}: {}", place, secret.text));
            }
        }
    }
    println!("| family | planted | redacted |\n|---|---:|---:|");
    for (family, (n, ok)) in &per_family {
        println!("| {family} | {n} | {ok} |");
    }
    assert!(misses.is_empty(), "{} missed: {misses:#?}", misses.len());
}

#[test]
fn the_issues_placeholders_and_names_are_left_alone_in_every_place() {
    let texts = secret_corpus::ISSUE_FALSE_ALARMS.iter().chain(BENIGN);
    let alarms = redacted_in_any_place(texts.copied());
    assert!(alarms.is_empty(), "{alarms:#?}");
}

/// Each of `texts` planted in every place: the places and texts where anything was redacted.
fn redacted_in_any_place<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let scanner = Scanner::new(Vec::new());
    let mut alarms = Vec::new();
    for (n, text) in texts.enumerate() {
        let benign = secret("benign", text.to_owned(), text.to_owned());
        for place in PLACES {
            let sample = plant(&benign, place, Context::Plain, n);
            let (_, found) = scan(&scanner, dir.path(), &sample.content, &sample.file);
            if found > 0 {
                alarms.push(format!("{place:?}: {text}"));
            }
        }
    }
    alarms
}

/// The form of hundreds of providers' keys that no rule set names one by one (a provider's
/// name, a credential word, a generated value: `coinapi ACCESS <uuid>`, `boxSECRET <hex>`,
/// `cloudplanSECRET-<value>`), and the long tail's prefixes Betterleaks' rules miss or read too
/// narrowly, one value each, drawn fresh.
fn provider_forms(rng: &mut Rng) -> Vec<Secret> {
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let uuid = |rng: &mut Rng| {
        format!(
            "{}-{}-{}-{}-{}",
            rng.hex(8),
            rng.hex(4),
            rng.hex(4),
            rng.hex(4),
            rng.hex(12)
        )
    };
    let crypt = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut forms: Vec<(&'static str, String, String)> = Vec::new();
    let mut add = |family: &'static str, text: String, value: String| {
        forms.push((family, text, value));
    };
    let v = uuid(rng);
    add("secret-assignment", format!("coinapi ACCESS {v}"), v);
    let v = uuid(rng);
    add("secret-assignment", format!("bugsnag secret {v}"), v);
    let v = rng.hex(32);
    add("secret-assignment", format!("boxSECRET {v}"), v);
    let v = format!("{}{}", rng.from(UPPER, 16), rng.digits(16));
    add("secret-assignment", format!("cloudplanSECRET-{v}"), v);
    let v = rng.hex(32);
    add("secret-assignment", format!("detectifyKEY={v}"), v);
    let v = lower_alnum(rng, 32);
    add("secret-assignment", format!("taxjar key: {v}"), v);
    let v = rng.hex(32);
    add("secret-assignment", format!("spoonacularACCESS key {v}"), v);
    let v = rng.digits(32);
    add("secret-assignment", format!("AXONAUT_API_KEY={v}"), v);
    let v = rng.from(UPPER, 24);
    add("secret-assignment", format!("oanda SECRET key {v}"), v);
    let v = uuid(rng);
    add("secret-assignment", format!("squarespace-secret-{v}"), v);
    let v = format!("{}-{}-{}", rng.hex(8), rng.hex(4), lower_alnum(rng, 12));
    add("secret-assignment", format!("privacy_token={v}"), v);
    let v = format!("PMAK-{}-{}", rng.alnum(24), rng.alnum(34));
    add("postman-api-key", v.clone(), v);
    let v = format!("NF-{}", rng.alnum(32));
    add("nightfall-api-key", format!("export NIGHTFALL={v}"), v);
    let v = format!("odt_{}", rng.alnum(32));
    add("dependency-track-api-key", format!("X-Api-Key: {v}"), v);
    let v = format!("1000.{}.{}", rng.hex(32), rng.hex(32));
    add("zoho-token", format!("refresh {v}"), v);
    let v = format!("VF.DM.{}.{}", rng.hex(24), rng.alnum(16));
    add("voiceflow-api-key", v.clone(), v);
    let v = format!("tfp_{}", rng.alnum(44));
    add("typeform-token", v.clone(), v);
    let v = format!("tkn.v1_{}=", rng.b64(68));
    add("teamwork-token", format!("teamwork {v}"), v);
    let v = format!("{}_{}_mmk", rng.alnum(6), rng.alnum(29));
    add("maxmind-license-key", v.clone(), v);
    let v = format!("LTAI{}", rng.alnum(20));
    add("alibaba-access-key-id", format!("AccessKeyId: {v}"), v);
    let v = format!("00{}", rng.b64url(40));
    add("okta-api-token", format!("Authorization: SSWS {v}"), v);
    let v = format!("oy2{}", lower_alnum(rng, 43));
    add("nuget-api-key", format!("dotnet nuget push -k {v}"), v);
    let v = format!("pub-c-{}", uuid(rng));
    add("pubnub-key", v.clone(), v);
    let v = format!("pul-{}", lower_alnum(rng, 40));
    add("pulumi-token", format!("PULUMI_ACCESS_TOKEN={v}"), v);
    let v = format!("sq0csp-{}", rng.b64url(43));
    add("square-token", v.clone(), v);
    let v = format!("pk_{}_{}", rng.digits(7), rng.upper(32));
    add("clickup-token", v.clone(), v);
    let v = format!("CFPAT-{}", rng.b64url(43));
    add("contentful-token", v.clone(), v);
    let v = format!("r8_{}", rng.alnum(37));
    add("replicate-token", v.clone(), v);
    let v = format!("sgp_{}_{}", rng.hex(16), rng.hex(40));
    add("sourcegraph-token", v.clone(), v);
    let v = format!("pat-na1-{}", uuid(rng));
    add("hubspot-token", v.clone(), v);
    let v = format!("dp.ct.{}", rng.alnum(43));
    add("doppler-token", v.clone(), v);
    let v = format!(
        "{}@{}/IncomingWebhook/{}/{}",
        uuid(rng),
        uuid(rng),
        rng.hex(32),
        uuid(rng)
    );
    add(
        "microsoft-teams-webhook",
        format!("https://outlook.office.com/webhook/{v}"),
        v,
    );
    let v = rng.alnum(20);
    add(
        "thingsboard-token",
        format!("curl http://thingsboard.cloud/api/v1/{v}/telemetry"),
        v,
    );
    let v = format!("sk_{}", rng.hex(48));
    add("elevenlabs-api-key", format!("xi-api-key: {v}"), v);
    let v = format!("$2b$12${}", rng.from(crypt, 53));
    add("password-hash", format!("admin:{v}"), v);
    let v = format!("$6${}${}", rng.from(crypt, 16), rng.from(crypt, 86));
    add("password-hash", format!("root:{v}:19000:0:99999:7:::"), v);
    let v = format!(
        "$krb5asrep$23$svc@CORP.LOCAL:{}${}",
        rng.hex(32),
        rng.hex(200)
    );
    add("password-hash", v.clone(), v);
    let v = lower_alnum(rng, 52);
    add("azure-devops-pat", format!("ado_pat = \"{v}\""), v);
    let v = format!("{}:x{}", rng.digits(10), rng.b64url(34));
    add("telegram-bot-token", format!("telegram: {v}"), v);
    // (14 hex digits: ipinfo's token.)
    let v = format!("{}a1", rng.hex(12));
    add("secret-assignment", format!("ipinfo_secret key={v}"), v);
    forms
        .into_iter()
        .map(|(family, text, value)| secret(family, text, value))
        .collect()
}

/// Prose and code around credential words and prefixes that must stay as written.
const PROVIDER_FORMS_BENIGN: &[&str] = &[
    "Cache restored from key: Linux-cargo-3f2a9c81d7e64b05a1c2d3e4",
    "git checkout -b my-app-access-control-v2-migration-2024",
    "gpg: key 3AA5C34371567BD2: public key \"Dev <dev@example.org>\" imported",
    "256 SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8 host key (ED25519)",
    "the private key lives at ~/.ssh/id_ed25519",
    "{\"private\": true, \"name\": \"web\"}",
    "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29x",
    "max_tokens 4096, input_tokens 1234567890123456789012",
    "monkey-3f2a9c81d7e64b05a1c2d3e4f5a6b7c8",
    "const taskKey = buildTaskKeyFromParams2024(params)",
    "Updated 1000.0 of 1000.5 units",
];

#[test]
fn providers_credential_words_and_prefixes_are_redacted_in_every_place() {
    let dir = tempfile::tempdir().unwrap();
    let scanner = Scanner::new(Vec::new());
    let mut rng = Rng::new(2112);
    let mut misses = Vec::new();
    for (n, secret) in provider_forms(&mut rng).iter().enumerate() {
        for place in PLACES {
            let sample = plant(secret, place, Context::Plain, n);
            let (out, _) = scan(&scanner, dir.path(), &sample.content, &sample.file);
            if sample.forbidden.iter().any(|f| out.contains(f.as_str())) {
                misses.push(format!("{place:?}: {}", secret.text));
            }
        }
    }
    assert!(misses.is_empty(), "{} missed: {misses:#?}", misses.len());
    let alarms = redacted_in_any_place(PROVIDER_FORMS_BENIGN.iter().copied());
    assert!(alarms.is_empty(), "{alarms:#?}");
}

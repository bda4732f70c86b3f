//! The fake GitHub itself behaves like GitHub where clients go wrong (raw HTTP, no ccsync client):
//! if these rules were missing, the client tests would pass against a lenient fake and fail on GitHub.

use fake_github::{FakeGitHub, Options, Permission};
use reqwest::StatusCode;
use serde_json::Value;

const AUTH: &str = "Bearer any-token";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[test]
fn uploads_need_length_and_type_and_a_free_name_and_names_are_normalised() {
    let fake = FakeGitHub::start(Options::default());
    let id = fake.seed_release("o", "r", "claude-sessions-main", true);
    let http = reqwest::Client::new();
    let url = format!("{}/repos/o/r/releases/{id}/assets", fake.uploads_url());
    rt().block_on(async {
        // Chunked (no Content-Length): 411.
        let chunks = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes_of("abc"))]);
        let r = http
            .post(format!("{url}?name=a.txt"))
            .header("authorization", AUTH)
            .header("content-type", "text/plain")
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::LENGTH_REQUIRED);
        // No Content-Type: 400.
        let r = http
            .post(format!("{url}?name=a.txt"))
            .header("authorization", AUTH)
            .body("abc")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        // A name with a space comes back with a dot; the same name again: 422 already_exists.
        let up = |name: &str| {
            http.post(format!("{url}?name={name}"))
                .header("authorization", AUTH)
                .header("content-type", "text/plain")
                .body("abc")
                .send()
        };
        let r = up("a%20b.txt").await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let asset = json(r).await;
        assert_eq!(asset["name"], "a.b.txt");
        assert_eq!(asset["state"], "uploaded");
        assert_eq!(
            asset["digest"],
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let r = up("a.b.txt").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json(r).await["errors"][0]["code"], "already_exists");
        // The API host does not take uploads.
        let r = http
            .post(format!(
                "{}/repos/o/r/releases/{id}/assets?name=x",
                fake.api_url()
            ))
            .header("authorization", AUTH)
            .header("content-type", "text/plain")
            .body("abc")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    });
}

#[test]
fn drafts_hide_from_the_tags_endpoint_and_from_read_only_tokens() {
    let fake = FakeGitHub::start(Options::default());
    fake.seed_release("o", "r", "claude-sessions-main", true);
    fake.seed_release("o", "r", "claude-sessions-main", true);
    fake.seed_release("o", "r", "v1", false);
    fake.set_token("reader", Permission::Read);
    let http = reqwest::Client::new();
    let api = fake.api_url();
    rt().block_on(async {
        let get = |path: String, auth: &'static str| {
            http.get(format!("{api}{path}"))
                .header("authorization", auth)
                .send()
        };
        let r = get("/repos/o/r/releases/tags/claude-sessions-main".into(), AUTH)
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "drafts never come from the tags endpoint"
        );
        assert_eq!(
            get("/repos/o/r/releases/tags/v1".into(), AUTH)
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        let all = json(get("/repos/o/r/releases".into(), AUTH).await.unwrap()).await;
        assert_eq!(
            all.as_array().unwrap().len(),
            3,
            "two drafts may share a tag"
        );
        let r = get("/repos/o/r/releases".into(), "token reader")
            .await
            .unwrap();
        assert_eq!(r.headers()["x-ratelimit-limit"], "5000");
        let seen = json(r).await;
        assert_eq!(
            seen.as_array().unwrap().len(),
            1,
            "a read-only token sees no drafts"
        );
        let r = http
            .post(format!("{api}/repos/o/r/releases"))
            .header("authorization", "token reader")
            .json(&serde_json::json!({ "tag_name": "x", "draft": true }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            json(r).await["message"],
            "Resource not accessible by integration"
        );
    });
}

#[test]
fn pages_are_linked_and_per_page_is_capped_at_100() {
    let fake = FakeGitHub::start(Options::default());
    for i in 0..250 {
        fake.seed_release("o", "r", &format!("v{i}"), false);
    }
    let http = reqwest::Client::new();
    rt().block_on(async {
        let r = http
            .get(format!("{}/repos/o/r/releases", fake.api_url()))
            .header("authorization", AUTH)
            .send()
            .await
            .unwrap();
        let link = r.headers()["link"].to_str().unwrap().to_owned();
        assert_eq!(
            json(r).await.as_array().unwrap().len(),
            30,
            "default per_page"
        );
        assert!(
            link.contains("per_page=30&page=2>; rel=\"next\"")
                && link.contains("page=9>; rel=\"last\""),
            "{link}"
        );
        let r = http
            .get(format!(
                "{}/repos/o/r/releases?per_page=500&page=3",
                fake.api_url()
            ))
            .header("authorization", AUTH)
            .send()
            .await
            .unwrap();
        let link = r.headers()["link"].to_str().unwrap().to_owned();
        assert_eq!(json(r).await.as_array().unwrap().len(), 50);
        assert!(
            !link.contains("rel=\"next\"") && link.contains("rel=\"prev\""),
            "{link}"
        );
    });
}

#[test]
fn storage_refuses_a_second_auth_mechanism() {
    let fake = FakeGitHub::start(Options::default());
    let id = fake.seed_release("o", "r", "claude-sessions-main", true);
    let asset = fake.seed_asset("o", "r", id, "a.bin", b"bytes", "uploaded");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    rt().block_on(async {
        let r = http
            .get(format!(
                "{}/repos/o/r/releases/assets/{asset}",
                fake.api_url()
            ))
            .header("authorization", AUTH)
            .header("accept", "application/octet-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FOUND);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&fake.storage_url()));
        let r = http
            .get(&location)
            .header("authorization", AUTH)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("Only one auth mechanism allowed"));
        let r = http.get(&location).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await.unwrap().as_ref(), b"bytes");
    });
}

fn bytes_of(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

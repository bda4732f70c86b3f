//! The fake GitHub answers the real `gh` CLI (Debian's 2.23), which the benchmarks compare ccsync
//! with (`gh release upload` into a draft, found by GraphQL): over raw HTTP, GraphQL answers exactly
//! the fields a query selects (gh's decoder refuses any other); and, when gh is installed, uploads
//! with `--clobber` land as one complete asset.

mod support;

use std::process::Command;

use fake_github::{FakeGitHub, Options};
use serde_json::{json, Value};

#[test]
fn graphql_answers_only_the_selected_fields() {
    let fake = FakeGitHub::start(Options::default());
    let id = fake.seed_release("o", "r", "claude-sessions-main", true);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let ask = |query: &str| -> Value {
        rt.block_on(async {
            http.post(format!("{}/graphql", fake.api_url()))
                .header("authorization", "bearer t")
                .json(&json!({
                    "query": query,
                    "variables": { "owner": "o", "name": "r", "tagName": "claude-sessions-main" },
                }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    };
    // gh 2.23's query, verbatim.
    let answer = ask("query RepositoryReleaseByTag($name:String!$owner:String!$tagName:String!){repository(owner: $owner, name: $name){release(tagName: $tagName){databaseId,isDraft}}}");
    assert_eq!(
        answer["data"]["repository"]["release"],
        json!({ "databaseId": id, "isDraft": true })
    );
    let answer = ask("query($owner:String!,$name:String!,$tagName:String!){ repository(owner:$owner,name:$name) { release(tagName:$tagName) { tagName\n url } } }");
    let release = answer["data"]["repository"]["release"].as_object().unwrap();
    assert_eq!(
        release.keys().collect::<Vec<_>>(),
        ["tagName", "url"],
        "{release:?}"
    );
}

#[test]
fn gh_release_upload_with_clobber_replaces_the_asset_in_a_draft() {
    let Some(gh) = support::require_tool("gh", "apt-get install gh") else {
        return;
    };
    let fake = FakeGitHub::start(Options::default());
    let id = fake.seed_release("o", "r", "claude-sessions-main", true);
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("session.tar.gz");
    let port = fake.api_url().rsplit(':').next().unwrap().to_owned();
    for content in ["first", "second copy"] {
        std::fs::write(&file, content).unwrap();
        let output = Command::new(&gh)
            .args(["release", "upload", "claude-sessions-main"])
            .arg(&file)
            .args(["--clobber", "-R", "github.localhost/o/r"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", temp.path())
            .env("GH_CONFIG_DIR", temp.path().join("gh"))
            .env("GH_HOST", "github.localhost")
            .env("HTTP_PROXY", format!("http://127.0.0.1:{port}"))
            .env("GH_TOKEN", "gh-token")
            .env("GH_NO_UPDATE_NOTIFIER", "1")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "gh release upload failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let releases = fake.releases("o", "r");
    let release = releases.iter().find(|r| r.id == id).unwrap();
    let assets: Vec<_> = release
        .assets
        .iter()
        .map(|a| (a.name.as_str(), a.state.as_str(), a.data.clone()))
        .collect();
    assert_eq!(
        assets,
        [("session.tar.gz", "uploaded", b"second copy".to_vec())],
        "--clobber left one complete asset"
    );
}

//! Finding a release by its tag in one GraphQL request, drafts included (what `gh release` does):
//! `repository(owner:, name:) { release(tagName:) { databaseId isDraft url } }`. The REST API has
//! no such lookup for drafts (`/releases/tags/{tag}` never returns one), only listing.
//!
//! GraphQL lives at `{api}/graphql` on github.com and GHE.com, and at `https://HOST/api/graphql`
//! when the REST API is `https://HOST/api/v3` (GitHub Enterprise Server). When it cannot answer
//! (an old server without it, an error in the answer), callers fall back to listing.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::client::GitHub;
use super::error::{Error, Result};
use super::transport::Replay;

/// The release with the tag, and the newest releases: drafts sharing a tag come from writers that
/// raced to create it moments apart, so they show among the newest, in the same request.
const QUERY: &str = "query ReleaseByTag($owner: String!, $name: String!, $tagName: String!) { \
     repository(owner: $owner, name: $name) { release(tagName: $tagName) { databaseId isDraft url } \
     releases(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount nodes { databaseId tagName isDraft } } } }";

/// What GraphQL said about a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ByTag {
    /// One release with the tag (GitHub picks one when several drafts share it), and the other
    /// drafts with the tag among the newest releases.
    Found {
        id: u64,
        draft: bool,
        url: String,
        duplicates: Vec<u64>,
    },
    /// No release the token can see has the tag.
    Absent,
    /// GraphQL could not answer (missing endpoint, errors, an odd answer): list instead.
    Unknown(String),
}

#[derive(Deserialize)]
struct Answer {
    data: Option<Data>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Data {
    repository: Option<Repository>,
}

#[derive(Deserialize)]
struct Repository {
    release: Option<ReleaseNode>,
    #[serde(default)]
    releases: Option<Connection>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    #[serde(default)]
    nodes: Vec<Option<RecentNode>>,
    /// How many releases the repository holds (that the token sees).
    #[serde(default)]
    total_count: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecentNode {
    database_id: Option<u64>,
    tag_name: String,
    is_draft: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseNode {
    database_id: Option<u64>,
    is_draft: bool,
    #[serde(default)]
    url: String,
}

/// The GraphQL endpoint that goes with a REST API URL.
pub(super) fn graphql_url(api: &Url) -> Url {
    let mut url = api.clone();
    let path = api.path().trim_end_matches('/');
    let base = match path.strip_suffix("/api/v3") {
        // GitHub Enterprise Server: https://HOST/api/v3 -> https://HOST/api/graphql
        Some(prefix) => format!("{prefix}/api/graphql"),
        None => format!("{path}/graphql"),
    };
    url.set_path(&base);
    url.set_query(None);
    url
}

impl GitHub {
    /// Asks GraphQL for the release with `tag`. Network failures and rate limits are errors (a
    /// listing would meet them too); anything else GraphQL cannot answer is [`ByTag::Unknown`].
    /// With it, how many releases the repository holds, when GraphQL said.
    pub(super) async fn release_by_tag_counted(&self, tag: &str) -> Result<(ByTag, Option<u64>)> {
        let what = format!("looking up release `{tag}` of {}", self.repo);
        let url = graphql_url(&self.api);
        let payload = json!({
            "query": QUERY,
            "variables": { "owner": self.repo.owner, "name": self.repo.name, "tagName": tag },
        });
        let response = match self
            .http
            .send(&what, Replay::Idempotent, || {
                self.http.github(Method::POST, url.as_str()).json(&payload)
            })
            .await
        {
            Ok(response) => response,
            Err(e @ Error::Network { .. }) => return Err(e),
            Err(e) if e.is_rate_limited() || e.status() == Some(401) => return Err(e),
            Err(e) => return Ok((ByTag::Unknown(e.to_string()), None)),
        };
        if response.status().is_redirection() {
            return Ok((
                ByTag::Unknown(format!("GraphQL answered {}", response.status())),
                None,
            ));
        }
        let answer: Answer = match response.json().await {
            Ok(answer) => answer,
            Err(e) => {
                return Ok((
                    ByTag::Unknown(format!("unreadable GraphQL answer: {e}")),
                    None,
                ))
            }
        };
        let total = answer
            .data
            .as_ref()
            .and_then(|d| d.repository.as_ref())
            .and_then(|r| r.releases.as_ref())
            .and_then(|c| c.total_count);
        Ok((interpret(answer, tag), total))
    }
}

fn interpret(answer: Answer, tag: &str) -> ByTag {
    if !answer.errors.is_empty() {
        let messages: Vec<String> = answer
            .errors
            .iter()
            .map(|e| {
                e.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.to_string())
            })
            .collect();
        return ByTag::Unknown(format!("GraphQL errors: {}", messages.join("; ")));
    }
    match answer.data.map(|d| d.repository) {
        Some(Some(repository)) => match repository.release {
            None => ByTag::Absent,
            Some(ReleaseNode {
                database_id: Some(id),
                is_draft,
                url,
            }) => ByTag::Found {
                id,
                draft: is_draft,
                url,
                duplicates: repository
                    .releases
                    .map(|c| c.nodes)
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .filter(|n| n.tag_name == tag && n.is_draft)
                    .filter_map(|n| n.database_id)
                    .filter(|other| *other != id)
                    .collect(),
            },
            Some(_) => ByTag::Unknown("GraphQL gave no databaseId".into()),
        },
        _ => ByTag::Unknown("GraphQL gave no repository".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_follows_the_api_url() {
        let at = |api: &str| graphql_url(&Url::parse(api).unwrap()).to_string();
        assert_eq!(
            at("https://api.github.com"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            at("https://api.github.com/"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            at("https://ghes.example/api/v3"),
            "https://ghes.example/api/graphql"
        );
        assert_eq!(
            at("https://ghes.example/api/v3/"),
            "https://ghes.example/api/graphql"
        );
        assert_eq!(
            at("https://api.acme.ghe.com"),
            "https://api.acme.ghe.com/graphql"
        );
    }

    #[test]
    fn answers_are_read_strictly() {
        let read = |v: serde_json::Value| interpret(serde_json::from_value(v).unwrap(), "t");
        assert_eq!(
            read(json!({"data": {"repository": {"release": null}}})),
            ByTag::Absent
        );
        assert_eq!(
            read(
                json!({"data": {"repository": {"release": {"databaseId": 7, "isDraft": true, "url": "u"}}}})
            ),
            ByTag::Found {
                id: 7,
                draft: true,
                url: "u".into(),
                duplicates: vec![]
            }
        );
        assert_eq!(
            read(json!({"data": {"repository": {
                "release": {"databaseId": 7, "isDraft": true, "url": "u"},
                "releases": {"nodes": [
                    {"databaseId": 9, "tagName": "t", "isDraft": true},
                    {"databaseId": 8, "tagName": "v1", "isDraft": false},
                    {"databaseId": 7, "tagName": "t", "isDraft": true},
                    {"databaseId": 5, "tagName": "t", "isDraft": true}
                ]}
            }}})),
            ByTag::Found {
                id: 7,
                draft: true,
                url: "u".into(),
                duplicates: vec![9, 5]
            }
        );
        assert!(matches!(
            read(json!({"data": {"repository": null}, "errors": [{"type": "NOT_FOUND", "message": "Could not resolve"}]})),
            ByTag::Unknown(m) if m.contains("Could not resolve")
        ));
        assert!(matches!(read(json!({"data": null})), ByTag::Unknown(_)));
    }
}

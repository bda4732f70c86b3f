//! `{api}/_fake/...`: the HTTP endpoints scripts use to seed and inspect the fake (README.md).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::server::{Reply, ReplyBody, Shared};
use crate::state::*;

fn ok(body: Value) -> Reply {
    Reply {
        status: 200,
        headers: vec![],
        body: ReplyBody::Json(body),
    }
}

fn bad(message: &str) -> Reply {
    Reply {
        status: 400,
        headers: vec![],
        body: ReplyBody::Json(json!({ "message": message })),
    }
}

pub fn handle(
    state: &Shared,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    body: &[u8],
) -> Reply {
    let segments: Vec<String> = path
        .trim_start_matches("/_fake/")
        .split('/')
        .map(crate::server::decode)
        .collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let json_body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut s = state.lock().unwrap();
    match (method, seg.as_slice()) {
        ("POST", ["tokens"]) => {
            let (Some(token), Some(permission)) = (
                json_body.get("token").and_then(Value::as_str),
                json_body
                    .get("permission")
                    .and_then(|p| serde_json::from_value::<Permission>(p.clone()).ok()),
            ) else {
                return bad("expected {\"token\": \"...\", \"permission\": \"write\"|\"read\"|\"none\"|\"invalid\"}");
            };
            s.tokens.insert(token.to_owned(), permission);
            ok(json!({}))
        }
        ("POST", ["faults"]) => {
            let faults: Vec<Fault> = match json_body {
                Value::Array(_) => serde_json::from_value(json_body),
                other => serde_json::from_value(other).map(|f| vec![f]),
            }
            .unwrap_or_default();
            if faults.is_empty() {
                return bad("expected a fault object (see README.md) or an array of them");
            }
            for fault in faults {
                s.add_fault(fault);
            }
            ok(json!({}))
        }
        ("POST", ["release-held"]) => {
            s.hangs.released.send_modify(|n| *n += 1);
            ok(json!({}))
        }
        ("DELETE", ["faults"]) => {
            s.faults.clear();
            ok(json!({}))
        }
        ("GET", ["log"]) => {
            let lines: String = s
                .log
                .iter()
                .map(|e| serde_json::to_string(e).unwrap() + "\n")
                .collect();
            Reply {
                status: 200,
                headers: vec![],
                body: ReplyBody::Text(lines, "application/x-ndjson".into()),
            }
        }
        ("DELETE", ["log"]) => {
            s.log.clear();
            ok(json!({}))
        }
        ("POST", ["repos", owner, repo, "branches"]) => {
            let Some(name) = json_body.get("name").and_then(Value::as_str) else {
                return bad("expected {\"name\": \"branch\"}");
            };
            s.repo_mut(owner, repo).branches.insert(name.to_owned());
            ok(json!({}))
        }
        ("POST", ["repos", owner, repo, "releases"]) if json_body.get("count").is_some() => {
            // Bulk: `count` releases tagged `<tag_prefix>1`..`<tag_prefix><count>`, in one request.
            let (Some(count), Some(prefix)) = (
                json_body.get("count").and_then(Value::as_u64),
                json_body.get("tag_prefix").and_then(Value::as_str),
            ) else {
                return bad("expected {\"count\": N, \"tag_prefix\": \"v\", \"draft\": false}");
            };
            let draft = json_body
                .get("draft")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let ids = seed_releases(&mut s, owner, repo, prefix, count, draft);
            ok(json!({ "count": ids.len(), "first_id": ids.first(), "last_id": ids.last() }))
        }
        ("POST", ["repos", owner, repo, "releases"]) => {
            let Some(tag) = json_body.get("tag_name").and_then(Value::as_str) else {
                return bad("expected {\"tag_name\": ..., \"draft\": true|false, \"name\": ..., \"body\": ...}");
            };
            let release = seed_release(
                &mut s,
                owner,
                repo,
                tag,
                json_body
                    .get("draft")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                json_body.get("name").and_then(Value::as_str),
                json_body.get("body").and_then(Value::as_str),
            );
            ok(s.release_json(owner, repo, &release))
        }
        ("GET", ["repos", owner, repo, "releases"]) => {
            let releases: Vec<Value> = s
                .repo_mut(owner, repo)
                .releases
                .values()
                .map(|r| {
                    json!({
                        "id": r.id, "tag_name": r.tag_name, "name": r.name, "draft": r.draft, "body": r.body,
                        "assets": r.assets.iter().map(|a| json!({
                            "id": a.id, "name": a.name, "state": a.state, "size": a.size(),
                            "sha256": sha256_hex(&a.data), "digest": a.digest, "content_type": a.content_type,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            ok(Value::Array(releases))
        }
        ("POST", ["repos", owner, repo, "releases", id, "assets"]) => {
            let Some(id) = id.parse::<u64>().ok() else {
                return bad("release id");
            };
            let Some(name) = query.get("name") else {
                return bad("expected ?name=N");
            };
            let state_name = query.get("state").map(String::as_str).unwrap_or("uploaded");
            match seed_asset(&mut s, owner, repo, id, name, body.to_vec(), state_name) {
                Some(asset) => {
                    let tag = s.repo_mut(owner, repo).releases[&id].tag_name.clone();
                    ok(s.asset_json(owner, repo, &tag, &asset))
                }
                None => bad("no such release"),
            }
        }
        _ => Reply {
            status: 404,
            headers: vec![],
            body: ReplyBody::Json(
                json!({ "message": format!("no admin endpoint {method} {path}") }),
            ),
        },
    }
}

pub fn seed_release(
    s: &mut State,
    owner: &str,
    repo: &str,
    tag: &str,
    draft: bool,
    name: Option<&str>,
    body: Option<&str>,
) -> ReleaseState {
    let id = s.new_id();
    let now = now();
    let release = ReleaseState {
        id,
        tag_name: tag.to_owned(),
        target_commitish: "main".into(),
        name: name.map(str::to_owned),
        body: body.map(str::to_owned),
        draft,
        prerelease: false,
        created_at: now.clone(),
        published_at: (!draft).then_some(now),
        assets: vec![],
    };
    s.repo_mut(owner, repo).releases.insert(id, release.clone());
    release
}

/// Seeds `count` releases tagged `<prefix>1`..`<prefix><count>` (a large repository), oldest first.
pub fn seed_releases(
    s: &mut State,
    owner: &str,
    repo: &str,
    prefix: &str,
    count: u64,
    draft: bool,
) -> Vec<u64> {
    (1..=count)
        .map(|i| {
            let tag = format!("{prefix}{i}");
            seed_release(s, owner, repo, &tag, draft, Some(&tag), None).id
        })
        .collect()
}

pub fn seed_asset(
    s: &mut State,
    owner: &str,
    repo: &str,
    release_id: u64,
    name: &str,
    data: Vec<u8>,
    state: &str,
) -> Option<AssetState> {
    let id = s.new_id();
    let release = s.repo_mut(owner, repo).releases.get_mut(&release_id)?;
    let now = now();
    let uploaded = state == "uploaded";
    let asset = AssetState {
        id,
        release_id,
        name: normalize_asset_name(name),
        label: None,
        content_type: "application/octet-stream".into(),
        state: state.to_owned(),
        digest: uploaded.then(|| format!("sha256:{}", sha256_hex(&data))),
        data: std::sync::Arc::new(data),
        created_at: now.clone(),
        updated_at: now,
        download_count: 0,
    };
    release.assets.push(asset.clone());
    Some(asset)
}

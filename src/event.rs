//! The GitHub Actions event a run belongs to, read from its payload (`$GITHUB_EVENT_PATH`): which
//! pull request, if any, and where its head branch lives. Only the fields branch resolution needs
//! are read; everything else in the payload is ignored.

use serde::Deserialize;

use crate::actions::env_nonempty;

/// A pull request's head: its branch and the repository that holds it (a fork's differs from the
/// base repository; `None` when the fork was deleted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullHead {
    pub number: Option<u64>,
    pub branch: String,
    pub repo_full_name: Option<String>,
    /// `head.label` (`owner:branch`): names the fork's owner even when its repository is gone.
    pub label: Option<String>,
}

/// What the event says about the branch of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullEvent {
    /// A pull request event whose payload carries the head (`pull_request*` events).
    Head(PullHead),
    /// A comment on a pull request's conversation (`issue_comment`): the head must be asked for.
    Comment { number: u64 },
    /// A comment on a plain issue: no branch at all.
    IssueComment { number: u64 },
}

#[derive(Deserialize)]
struct Payload {
    pull_request: Option<PullJson>,
    issue: Option<IssueJson>,
}

#[derive(Deserialize)]
struct IssueJson {
    number: u64,
    /// Set (to an object of links) only when the issue is a pull request.
    pull_request: Option<serde_json::Value>,
}

/// The head of a pull request as the payload and `GET /pulls/{n}` both give it.
#[derive(Deserialize)]
pub(crate) struct PullJson {
    number: Option<u64>,
    head: HeadJson,
}

#[derive(Deserialize)]
struct HeadJson {
    #[serde(rename = "ref")]
    branch: String,
    label: Option<String>,
    repo: Option<RepoJson>,
}

#[derive(Deserialize)]
struct RepoJson {
    full_name: String,
}

impl From<PullJson> for PullHead {
    fn from(pull: PullJson) -> Self {
        PullHead {
            number: pull.number,
            branch: pull.head.branch,
            repo_full_name: pull.head.repo.map(|r| r.full_name),
            label: pull.head.label,
        }
    }
}

/// The pull request of the current Actions run, from `$GITHUB_EVENT_NAME` and the payload;
/// `None` for other events. For the events whose branch only the payload names (a review, a
/// review comment, a comment), a payload that cannot be read or lacks the pull request is an
/// error that says to pass `--branch`: falling back to `GITHUB_REF_NAME` would name the merge ref
/// (`8/merge`) or the default branch, never the pull request's branch.
pub fn current() -> anyhow::Result<Option<PullEvent>> {
    let Some(name) = env_nonempty("GITHUB_EVENT_NAME") else {
        return Ok(None);
    };
    let needs_payload = matches!(
        name.as_str(),
        "pull_request_review" | "pull_request_review_comment" | "issue_comment"
    ) && env_nonempty("GITHUB_HEAD_REF").is_none();
    if !needs_payload && !name.starts_with("pull_request") {
        return Ok(None);
    }
    let fail = |why: String| -> anyhow::Result<Option<PullEvent>> {
        if needs_payload {
            Err(crate::exit::Exit::usage(format!(
                "this `{name}` run's branch comes from its event payload, but {why}: pass --branch NAME"
            ))
            .into())
        } else {
            Ok(None)
        }
    };
    let Some(path) = env_nonempty("GITHUB_EVENT_PATH") else {
        return fail("GITHUB_EVENT_PATH is not set".into());
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) => return fail(format!("the payload {path} cannot be read ({e})")),
    };
    // Payloads are at most a few MiB; the reader streams it.
    let payload: Payload = match serde_json::from_reader(std::io::BufReader::new(file)) {
        Ok(payload) => payload,
        Err(e) => return fail(format!("the payload {path} is not an event payload ({e})")),
    };
    match from_payload(&name, payload) {
        Some(event) => Ok(Some(event)),
        None => fail(format!(
            "the payload {path} names no {}",
            if name == "issue_comment" {
                "issue"
            } else {
                "pull_request"
            }
        )),
    }
}

fn from_payload(event_name: &str, payload: Payload) -> Option<PullEvent> {
    match event_name {
        "pull_request"
        | "pull_request_target"
        | "pull_request_review"
        | "pull_request_review_comment" => payload.pull_request.map(|p| PullEvent::Head(p.into())),
        "issue_comment" => {
            let issue = payload.issue?;
            Some(if issue.pull_request.is_some() {
                PullEvent::Comment {
                    number: issue.number,
                }
            } else {
                PullEvent::IssueComment {
                    number: issue.number,
                }
            })
        }
        _ => None,
    }
}

/// Parses a `pull_request` object (payload or API answer).
pub fn parse_pull(json: &[u8]) -> serde_json::Result<PullHead> {
    serde_json::from_slice::<PullJson>(json).map(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, json: &str) -> Option<PullEvent> {
        from_payload(name, serde_json::from_str(json).unwrap())
    }

    #[test]
    fn events_name_their_pull_request() {
        let review = r#"{"pull_request":{"number":7,"head":{"ref":"feat/x","label":"alice:feat/x","repo":{"full_name":"alice/app"}}}}"#;
        assert_eq!(
            parse("pull_request_review_comment", review),
            Some(PullEvent::Head(PullHead {
                number: Some(7),
                branch: "feat/x".into(),
                repo_full_name: Some("alice/app".into()),
                label: Some("alice:feat/x".into()),
            }))
        );
        let on_pr = r#"{"issue":{"number":7,"pull_request":{"url":"u"}}}"#;
        assert_eq!(
            parse("issue_comment", on_pr),
            Some(PullEvent::Comment { number: 7 })
        );
        let plain = r#"{"issue":{"number":8}}"#;
        assert_eq!(
            parse("issue_comment", plain),
            Some(PullEvent::IssueComment { number: 8 })
        );
        assert_eq!(parse("push", review), None);
        let deleted_fork = r#"{"pull_request":{"head":{"ref":"x","repo":null}}}"#;
        assert!(matches!(
            parse("pull_request", deleted_fork),
            Some(PullEvent::Head(PullHead {
                repo_full_name: None,
                ..
            }))
        ));
    }
}

#!/usr/bin/env python3
"""Validates the fake GitHub's recorded request/response pairs against GitHub's own OpenAPI
description (npm @octokit/openapi), so the fake cannot drift from GitHub.

usage: check.py --spec api.github.com.json [--ghes-spec ghes-3.19.json] LOG.jsonl [LOG.jsonl ...]

Each log line is one pair as the fake records it (tests/fake-github/README.md). Pairs are validated
when their path is one of the releases operations or `GET /repos/{o}/{r}/pulls/{n}`; the storage host (302 targets) is not GitHub's API
and is skipped. A log whose API URL has /api/v3 is validated against the GHES description.

Accommodations, each because the description is narrower than GitHub's documented behaviour:
- The upload's request body is described as application/octet-stream only, while GitHub's docs say
  to send the asset's own media type; uploads are validated with that content type.
- Binary bodies are not logged (only their size): the upload body is validated as empty bytes.

Prints the validated operationIds and every mismatch; exits 1 on any mismatch or if nothing was
validated.
"""

import argparse
import json
import re
import sys
from urllib.parse import urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
import requests

DOTCOM_API = "https://api.github.com"
DOTCOM_UPLOADS = "https://uploads.github.com"
# Host names are case-insensitive and `requests` lower-cases them; the GHES description's upload
# server is the literal https://HOSTNAME/api/uploads, lower-cased below to match.
GHES_API = "https://hostname/api/v3"
GHES_UPLOADS = "https://hostname/api/uploads"


class Response:
    """openapi-core's response protocol over a logged response."""

    def __init__(self, status, headers, body):
        self.status_code = status
        self.headers = headers
        self.content_type = headers.get("content-type", "")
        self.data = b"" if body is None else json.dumps(body).encode()


# Besides the releases operations: the pull request read that finds an `issue_comment`'s branch.
OTHER_PATHS = ("/repos/{owner}/{repo}/pulls/{pull_number}",)


def covered(path):
    """Whether ccsync uses the description's path (the releases operations and OTHER_PATHS)."""
    return "/releases" in path or path in OTHER_PATHS


def operations(spec):
    """(method, compiled path regex, operationId) for every operation ccsync uses."""
    out = []
    for path, item in spec["paths"].items():
        if not covered(path):
            continue
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"
        for method, op in item.items():
            if method in ("get", "post", "patch", "delete", "put"):
                out.append((method.upper(), re.compile(pattern), path, op["operationId"]))
    # Literal segments first (/releases/assets/{id} before /releases/{release_id}/...).
    out.sort(key=lambda o: (o[2].count("{"), -len(o[2])))
    return out


def rewrite(entry, ghes):
    """The logged URL moved onto the description's server, and the path below the API prefix."""
    parts = urlsplit(entry["url"])
    path = parts.path
    if ghes:
        if path.startswith("/api/uploads/"):
            base, path = GHES_UPLOADS, path[len("/api/uploads"):]
        else:
            base, path = GHES_API, path[len("/api/v3"):]
    else:
        base = DOTCOM_UPLOADS if entry["host"] == "uploads" else DOTCOM_API
    url = base + path + ("?" + parts.query if parts.query else "")
    return url, path


def check(api, ops, entry, ghes):
    """Returns (operationId or None, [problems])."""
    if entry["host"] == "storage" or entry.get("response") is None:
        return None, []
    url, path = rewrite(entry, ghes)
    method = entry["method"]
    op = next((o for o in ops if o[0] == method and o[1].match(path)), None)
    if op is None:
        return None, []
    headers = {k: v for k, v in entry["request"]["headers"].items() if k not in ("authorization", "host")}
    body = entry["request"].get("body")
    if entry["host"] == "uploads":
        headers["content-type"] = "application/octet-stream"
        data = b""
    elif body is not None:
        data = json.dumps(body).encode()
    else:
        data = None
    prepared = requests.Request(method, url, headers=headers, data=data).prepare()
    request = RequestsOpenAPIRequest(prepared)
    problems = []
    for err in api.iter_request_errors(request):
        problems.append(f"request: {describe(err)}")
    resp = entry["response"]
    response = Response(resp["status"], resp["headers"], resp.get("body"))
    for err in api.iter_response_errors(request, response):
        problems.append(f"response {resp['status']}: {describe(err)}")
    return op[3], problems


def describe(err):
    text = str(err)
    cause = err.__cause__
    while cause is not None:
        inner = getattr(cause, "schema_errors", None)
        if inner:
            text += " [" + "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in inner) + "]"
        else:
            text += f" <- {cause}"
        cause = cause.__cause__
    return text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--ghes-spec")
    parser.add_argument("logs", nargs="+")
    args = parser.parse_args()

    entries = []
    for log in args.logs:
        with open(log) as f:
            entries += [json.loads(line) for line in f if line.strip()]
    ghes_entries = [e for e in entries if "/api/v3/" in e["url"] or "/api/uploads/" in e["url"]]
    dotcom_entries = [e for e in entries if e not in ghes_entries]

    validated, failures = {}, []
    for entries_, spec_path, ghes in ((dotcom_entries, args.spec, False), (ghes_entries, args.ghes_spec, True)):
        if not entries_:
            continue
        if spec_path is None:
            failures.append("GHES pairs were logged but no --ghes-spec was given")
            continue
        with open(spec_path) as f:
            spec = json.load(f)
        # Only the paths ccsync uses: the path finder then has 17 candidates, not 1,000.
        spec["paths"] = {p: item for p, item in spec["paths"].items() if covered(p)}
        for item in spec["paths"].values():
            for op in item.values():
                for server in op.get("servers", []) if isinstance(op, dict) else []:
                    server["url"] = server["url"].replace("HOSTNAME", "hostname")
        # The description itself is GitHub's; validating it on every run costs a minute.
        api = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
        ops = operations(spec)
        label = "ghes" if ghes else "api.github.com"
        for entry in entries_:
            op_id, problems = check(api, ops, entry, ghes)
            if op_id is None:
                continue
            validated.setdefault(f"{op_id} ({label})", set()).add(entry["response"]["status"])
            for p in problems:
                failures.append(f"{entry['method']} {entry['url']} [{op_id}, {label}]: {p}")

    for op_id, statuses in sorted(validated.items()):
        print(f"validated {op_id}: {', '.join(map(str, sorted(statuses)))}")
    for f in failures:
        print(f"MISMATCH {f}", file=sys.stderr)
    if not validated:
        print("nothing was validated: the logs hold no releases requests", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

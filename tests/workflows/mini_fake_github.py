#!/usr/bin/env python3
"""A stand-in for the `fake-github` binary, used by tests/workflows.rs only while that crate is not
built: the few release endpoints the action's installer uses, with the same start-up contract (one
JSON line {"api_url", "uploads_url", "storage_url"} on stdout) and the same admin endpoints to seed
releases and assets. Like GitHub, an asset download answers 302 to a storage host that refuses a
request carrying an Authorization header."""
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
RELEASES = {}  # (owner, repo) -> [release]
ASSETS = {}  # id -> (bytes, metadata)
NEXT_ID = [1]
URLS = {}


def new_id():
    with LOCK:
        NEXT_ID[0] += 1
        return NEXT_ID[0]


def release_json(owner, repo, rel):
    api = URLS["api_url"]
    return {
        "id": rel["id"],
        "url": f"{api}/repos/{owner}/{repo}/releases/{rel['id']}",
        "tag_name": rel["tag_name"],
        "name": rel.get("name"),
        "draft": rel.get("draft", False),
        "body": rel.get("body", ""),
        "assets": [ASSETS[a][1] for a in rel["assets"]],
    }


class Api(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("mini-fake-github: " + fmt % args + "\n")

    def send(self, status, body=b"", ctype="application/json", headers=()):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        url = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        m = re.fullmatch(r"/_fake/repos/([^/]+)/([^/]+)/releases", url.path)
        if m:
            rel = dict(json.loads(body), id=new_id(), assets=[])
            RELEASES.setdefault(m.groups(), []).append(rel)
            return self.send(201, release_json(*m.groups(), rel))
        m = re.fullmatch(r"/_fake/repos/([^/]+)/([^/]+)/releases/(\d+)/assets", url.path)
        if m:
            owner, repo, rid = m.group(1), m.group(2), int(m.group(3))
            rel = next((r for r in RELEASES.get((owner, repo), []) if r["id"] == rid), None)
            if rel is None:
                return self.send(404, {"message": "Not Found"})
            aid = new_id()
            name = parse_qs(url.query)["name"][0]
            meta = {
                "url": f"{URLS['api_url']}/repos/{owner}/{repo}/releases/assets/{aid}",
                "id": aid,
                "name": name,
                "state": "uploaded",
                "size": len(body),
                "content_type": "application/octet-stream",
            }
            ASSETS[aid] = (body, meta)
            rel["assets"].append(aid)
            return self.send(201, meta)
        self.send(404, {"message": "Not Found"})

    def do_GET(self):
        url = urlparse(self.path)
        # Like a private repository: nothing without a token.
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            return self.send(401, {"message": "Requires authentication"})
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/releases/tags/(.+)", url.path)
        if m:
            for rel in reversed(RELEASES.get(m.groups()[:2], [])):
                if rel["tag_name"] == m.group(3) and not rel.get("draft"):
                    return self.send(200, release_json(m.group(1), m.group(2), rel))
            return self.send(404, {"message": "Not Found"})
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/releases/latest", url.path)
        if m:
            published = [r for r in RELEASES.get(m.groups(), []) if not r.get("draft")]
            if published:
                return self.send(200, release_json(*m.groups(), published[-1]))
            return self.send(404, {"message": "Not Found"})
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/releases/assets/(\d+)", url.path)
        if m and int(m.group(3)) in ASSETS:
            aid = int(m.group(3))
            if self.headers.get("Accept") == "application/octet-stream":
                return self.send(302, b"", headers=[("Location", f"{URLS['storage_url']}/assets/{aid}?sig=x")])
            return self.send(200, ASSETS[aid][1])
        self.send(404, {"message": "Not Found"})


class Storage(Api):
    def do_GET(self):  # noqa: N802 (the storage host takes no token: its URL is signed)
        m = re.fullmatch(r"/assets/(\d+)", urlparse(self.path).path)
        if self.headers.get("Authorization"):
            return self.send(400, b"Only one auth mechanism allowed", "text/plain")
        if m and int(m.group(1)) in ASSETS:
            return self.send(200, ASSETS[int(m.group(1))][0], "application/octet-stream")
        self.send(404, b"not found", "text/plain")


def main():
    api = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    storage = ThreadingHTTPServer(("127.0.0.1", 0), Storage)
    URLS["api_url"] = f"http://127.0.0.1:{api.server_address[1]}"
    URLS["uploads_url"] = URLS["api_url"]
    URLS["storage_url"] = f"http://127.0.0.1:{storage.server_address[1]}"
    threading.Thread(target=storage.serve_forever, daemon=True).start()
    print(json.dumps(URLS), flush=True)
    api.serve_forever()


if __name__ == "__main__":
    main()

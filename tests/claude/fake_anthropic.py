#!/usr/bin/env python3
"""A small fake of the Anthropic Messages API for running the real Claude Code CLI offline.

It answers on 127.0.0.1 only:
  POST /v1/messages[?beta=true]              streaming SSE when the body has "stream": true, JSON otherwise
  POST /v1/messages/count_tokens[?beta=true] {"input_tokens": N}
  HEAD / and GET /                           200 (the CLI probes reachability with HEAD /)
  anything else                              404 with an Anthropic-shaped error body

Every request is appended, one compact JSON object per line, to --record:
  {"method", "path", "headers": {lower-case name: value}, "body": <parsed JSON or null>}
so tests can assert what the CLI sent (for example that a restored history is in "messages").
The API key header is never recorded.

The reply text is --reply (default "Fake reply from the offline test API."). A conversation can script
tool calls: when a user message holds a text block starting with "SCRIPT:" followed by a JSON list of
steps, each step a list of tool calls {"name", "input"}, the fake answers the first request after that
message with the tool_use blocks of step 0, the request after their results with step 1, and so on
(counting the user messages with tool results since the script), then with the reply text. Requests
that offer no tools (titles, summaries) get the reply text. "{{PLAN_FILE}}" in a call's input becomes
the plan file path the request names (plan mode). A subagent's prompt can carry its own script. The port is written to
--port-file once the socket listens (use --port 0 to let the system choose), so a caller can wait for
that file instead of polling the port.

Only the Python standard library is used.
"""

import argparse
import json
import os
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Header names whose values must never reach the record file.
SECRET_HEADERS = {"x-api-key", "authorization", "proxy-authorization", "cookie"}


class FakeAnthropic(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-anthropic/1"

    # Silence the default stderr access log unless asked for it.
    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-anthropic: " + (fmt % args) + "\n")

    # ---- plumbing -------------------------------------------------------------------------

    def _route(self):
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def _read_body(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {"_unparsed": raw.decode("utf-8", "replace")}

    def _record(self, body):
        headers = {
            k.lower(): v for k, v in self.headers.items() if k.lower() not in SECRET_HEADERS
        }
        entry = {"method": self.command, "path": self.path, "headers": headers, "body": body}
        line = json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n"
        with self.server.record_lock:
            with open(self.server.record_path, "a", encoding="utf-8") as f:
                f.write(line)

    def _send_json(self, status, obj):
        data = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", "req_fake_" + uuid.uuid4().hex[:20])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _not_found(self):
        self._send_json(
            404,
            {"type": "error", "error": {"type": "not_found_error", "message": "Not found: " + self.path}},
        )

    # ---- verbs ----------------------------------------------------------------------------

    def do_HEAD(self):
        self._record(None)
        if self._route() == "/":
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

    def do_GET(self):
        self._record(None)
        if self._route() == "/":
            self._send_json(200, {"ok": True, "service": "fake-anthropic"})
        else:
            self._not_found()

    def do_POST(self):
        body = self._read_body()
        self._record(body)
        route = self._route()
        if route == "/v1/messages":
            self._messages(body if isinstance(body, dict) else {})
        elif route == "/v1/messages/count_tokens":
            self._send_json(200, {"input_tokens": estimate_tokens(body)})
        else:
            self._not_found()

    # ---- /v1/messages ---------------------------------------------------------------------

    def _messages(self, body):
        model = body.get("model") or "claude-fake"
        msg_id = "msg_fake_" + uuid.uuid4().hex[:24]
        text = self.server.reply
        input_tokens = estimate_tokens(body)
        output_tokens = max(1, len(text) // 4)
        calls = scripted_calls(body)
        if calls:
            self._stream_tools(msg_id, model, calls, input_tokens, bool(body.get("stream")))
        elif body.get("stream"):
            self._stream(msg_id, model, text, input_tokens, output_tokens)
        else:
            self._send_json(
                200,
                {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_tokens,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": output_tokens,
                    },
                },
            )

    def _stream(self, msg_id, model, text, input_tokens, output_tokens):
        # The event sequence and shapes of the real streaming API.
        half = len(text) // 2
        events = [
            ("message_start", {
                "type": "message_start",
                "message": {
                    "id": msg_id, "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0, "output_tokens": 1},
                },
            }),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("ping", {"type": "ping"}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": text[:half]}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": text[half:]}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": output_tokens}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        payload = "".join(
            "event: %s\ndata: %s\n\n" % (name, json.dumps(data, separators=(",", ":")))
            for name, data in events
        ).encode("utf-8")
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", "req_fake_" + uuid.uuid4().hex[:20])
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


    def _stream_tools(self, msg_id, model, calls, input_tokens, stream):
        blocks = [
            {"type": "tool_use", "id": "toolu_fake_" + uuid.uuid4().hex[:20], "name": c["name"],
             "input": c.get("input", {})}
            for c in calls
        ]
        usage = {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0, "output_tokens": 10}
        if not stream:
            self._send_json(200, {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                                  "content": blocks, "stop_reason": "tool_use", "stop_sequence": None,
                                  "usage": usage})
            return
        events = [("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": dict(usage, output_tokens=1)}})]
        for i, b in enumerate(blocks):
            events.append(("content_block_start", {"type": "content_block_start", "index": i,
                           "content_block": {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}}))
            events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                           "delta": {"type": "input_json_delta", "partial_json": json.dumps(b["input"])}}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(("message_delta", {"type": "message_delta",
                       "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                       "usage": {"output_tokens": 10}}))
        events.append(("message_stop", {"type": "message_stop"}))
        payload = "".join(
            "event: %s\ndata: %s\n\n" % (name, json.dumps(data, separators=(",", ":")))
            for name, data in events
        ).encode("utf-8")
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", "req_fake_" + uuid.uuid4().hex[:20])
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


def scripted_calls(body):
    """The tool calls a "SCRIPT:" in the conversation asks for next (see the module documentation)."""
    messages = body.get("messages") or []
    script, start = None, None
    for i, m in enumerate(messages):
        if m.get("role") != "user" or not isinstance(m.get("content"), list):
            if m.get("role") == "user" and isinstance(m.get("content"), str) and m["content"].startswith("SCRIPT:"):
                script, start = m["content"], i
            continue
        for block in m["content"]:
            if block.get("type") == "text" and block.get("text", "").startswith("SCRIPT:"):
                script, start = block["text"], i
    if script is None:
        return None
    try:
        steps = json.loads(script[len("SCRIPT:"):].strip().splitlines()[0])
    except (ValueError, IndexError):
        return None
    done = sum(
        1 for m in messages[start + 1:]
        if m.get("role") == "user" and isinstance(m.get("content"), list)
        and any(b.get("type") == "tool_result" for b in m["content"])
    )
    if done >= len(steps):
        return None
    if not body.get("tools"):
        return None  # a side call (a title, a summary): no tools to call
    calls = steps[done]
    if "{{PLAN_FILE}}" in json.dumps(calls):
        found = re.search(r'(/[^"\\\s]*/plans/[A-Za-z0-9_-]+\.md)', json.dumps(body))
        if found:
            calls = json.loads(json.dumps(calls).replace("{{PLAN_FILE}}", found.group(1)))
    return calls or None


def estimate_tokens(body):
    """A rough, deterministic token count: a quarter of the JSON size of the request."""
    if not body:
        return 1
    return max(1, len(json.dumps(body)) // 4)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--record", required=True, help="append every request (JSON lines) here")
    parser.add_argument("--reply", default="Fake reply from the offline test API.")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), FakeAnthropic)
    server.daemon_threads = True
    server.record_path = args.record
    server.record_lock = threading.Lock()
    server.reply = args.reply
    server.verbose = args.verbose
    # Create the record file up front so "no request" reads as an empty file, not a missing one.
    open(args.record, "a").close()
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)  # atomic: a reader never sees a half-written port
    else:
        print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

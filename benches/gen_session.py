#!/usr/bin/env python3
"""Writes a synthetic Claude Code session of about --size bytes, fast, for the benchmarks.

The records look like Claude Code 2.1.x transcripts (user / assistant / tool_use / tool_result /
thinking / file-history-snapshot / summary lines with uuid, parentUuid, sessionId, cwd, gitBranch,
timestamp), carry paths under --cwd (so a restore elsewhere has paths to rewrite), and compress
like real sessions (gzip -6 about 4-6x): prose and code from word lists, ids and hashes that do
not repeat, and a share of base64 "screenshots" that do not compress at all (--binary-share).

Speed comes from a pool of message bodies built once (JSON-escaped) and envelopes filled per
record; the pool is larger than deflate's 32 KiB window, so reuse does not flatter compression.
Deterministic for a given --seed. No real transcript is used.
"""
import argparse
import base64
import json
import random
import sys

WORDS = (
    "the a to of and in is that for it with as on this be are by was at or from an not we can"
    " function file test error value return type string list check change update build run"
    " should would could then when if else because before after into which each only also more"
    " session branch commit release push restore archive upload download stream memory buffer"
    " thread parallel compress gzip tar header entry record line json parse field path folder"
    " cargo rust crate module struct impl trait async await tokio reqwest serde error result"
    " option some none match loop while break continue let mut pub fn use mod self super crate"
    " look fix bug issue review diff patch merge rebase checkout status log show blame grep find"
    " user assistant tool call output input command shell bash python node npm install configure"
    " performance benchmark median ratio seconds bytes megabytes throughput latency request count"
).split()

IDENTS = [
    "read_records", "ArchiveWriter", "session_release", "upload_asset", "PathMap", "Scanner",
    "redact_file", "extract_to_temp", "HashingWriter", "MetaCache", "stored_sessions", "Limits",
    "project_dir", "git_repo", "resolve_branch", "request_count", "ParGzWriter", "compress_member",
    "handle_event", "parse_config", "build_index", "render_table", "flush_buffer", "open_stream",
]


SENTENCES = []


def sentence(rnd):
    # Text repeats itself like a conversation about one code base does: mostly sentences seen
    # before, some new.
    if SENTENCES and rnd.random() < 0.8:
        return rnd.choice(SENTENCES)
    return fresh_sentence(rnd)


def fresh_sentence(rnd):
    n = rnd.randint(6, 22)
    words = [rnd.choice(WORDS) for _ in range(n)]
    if rnd.random() < 0.3:
        words.insert(rnd.randrange(n), "`%s`" % rnd.choice(IDENTS))
    s = " ".join(words)
    return s[0].upper() + s[1:] + rnd.choice([".", ".", ".", "?", ":"])


def prose(rnd, target):
    out = []
    size = 0
    while size < target:
        para = " ".join(sentence(rnd) for _ in range(rnd.randint(2, 6)))
        out.append(para)
        size += len(para) + 2
    return "\n\n".join(out)


FILES = []


def code(rnd, target, cwd):
    """A slice of one of the code base's files, numbered like the Read tool shows it."""
    f = rnd.choice(FILES)
    start = rnd.randrange(len(f))
    out = []
    size = 0
    i = start
    while size < target:
        line = "%6d\u2192%s" % (i % len(f) + 1, f[i % len(f)])
        out.append(line)
        size += len(line) + 1
        i += 1
    return "\n".join(out)


def code_file(rnd, target, cwd):
    lines = []
    size = 0
    indent = 0
    while size < target:
        r = rnd.random()
        ident = rnd.choice(IDENTS)
        if r < 0.15:
            line = "fn %s_%d(%s: &%s) -> Result<%s> {" % (
                ident.lower(), rnd.randint(0, 999), rnd.choice(WORDS), rnd.choice(IDENTS),
                rnd.choice(IDENTS))
            indent = 1
        elif r < 0.25:
            line = "}"
            indent = 0
        elif r < 0.35:
            line = '// %s' % sentence(rnd)
        elif r < 0.45:
            line = 'let %s = %s.%s(%d)?;' % (rnd.choice(WORDS), rnd.choice(WORDS), ident, rnd.randint(0, 65535))
        elif r < 0.55:
            line = 'use crate::%s::%s;' % (rnd.choice(WORDS), ident)
        elif r < 0.62:
            line = 'const ID_%d: u64 = 0x%016x;' % (rnd.randint(0, 99), rnd.getrandbits(64))
        else:
            line = '%s.%s(&%s, "%s")?;' % (rnd.choice(WORDS), ident, rnd.choice(WORDS), rnd.choice(WORDS))
        line = "    " * indent + line
        lines.append(line)
        size += len(line) + 1
    return lines


def command_output(rnd, target, cwd):
    lines = []
    size = 0
    while size < target:
        r = rnd.random()
        if r < 0.4:
            line = "%s/src/%s/%s.rs:%d:%d: %s" % (
                cwd, rnd.choice(WORDS), rnd.choice(IDENTS).lower(), rnd.randint(1, 900),
                rnd.randint(1, 80), sentence(rnd))
        elif r < 0.7:
            line = "   Compiling %s v0.%d.%d (%s/%s)" % (
                rnd.choice(WORDS), rnd.randint(0, 30), rnd.randint(0, 20), cwd, rnd.choice(WORDS))
        elif r < 0.85:
            line = "test %s::%s ... ok" % (rnd.choice(WORDS), rnd.choice(IDENTS).lower())
        else:
            line = "%040x %s" % (rnd.getrandbits(160), sentence(rnd))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def j(s):
    """A JSON string literal."""
    return json.dumps(s, ensure_ascii=False)


def build_images(rnd, count=8):
    """Tool results holding a screenshot: base64 of random bytes, which no compressor shrinks."""
    images = []
    for _ in range(count):
        raw = rnd.getrandbits(8 * 30_000).to_bytes(30_000, "little")
        images.append('[{"tool_use_id":"toolu_%s","type":"tool_result","content":[{"type":"image",'
                      '"source":{"type":"base64","media_type":"image/png","data":"%s"}}]}]'
                      % ("%024x" % rnd.getrandbits(96), base64.b64encode(raw).decode()))
    return images


def build_pool(rnd, cwd, count=600):
    """(kind, json fragment for message.content) pairs."""
    SENTENCES.extend(fresh_sentence(rnd) for _ in range(400))
    FILES.extend(code_file(rnd, rnd.randint(4_000, 24_000), cwd) for _ in range(24))
    pool = []
    for i in range(count):
        r = rnd.random()
        size = int(rnd.lognormvariate(7.2, 1.1)) + 40  # median ~1.3 kB, long tail
        size = min(size, 60_000)
        if r < 0.30:
            body = code(rnd, size, cwd)
            frag = ('[{"tool_use_id":"toolu_%s","type":"tool_result","content":%s}]'
                    % ("%024x" % rnd.getrandbits(96), j(body)))
            pool.append(("user", frag))
        elif r < 0.45:
            body = command_output(rnd, size, cwd)
            frag = ('[{"tool_use_id":"toolu_%s","type":"tool_result","content":%s,"is_error":false}]'
                    % ("%024x" % rnd.getrandbits(96), j(body)))
            pool.append(("user", frag))
        elif r < 0.60:
            frag = '[{"type":"thinking","thinking":%s,"signature":"%s"}]' % (
                j(prose(rnd, size)), base64.b64encode(rnd.getrandbits(8 * 300).to_bytes(300, "little")).decode())
            pool.append(("assistant", frag))
        elif r < 0.80:
            path = "%s/src/%s/%s.rs" % (cwd, rnd.choice(WORDS), rnd.choice(IDENTS).lower())
            tool = rnd.choice(["Read", "Edit", "Bash", "Grep"])
            if tool == "Edit":
                old = code(rnd, size // 2, cwd)
                lines = old.split("\n")
                k = rnd.randrange(len(lines))
                lines[k] = lines[k] + " // " + sentence(rnd)
                inp = '{"file_path":%s,"old_string":%s,"new_string":%s}' % (
                    j(path), j(old), j("\n".join(lines)))
            elif tool == "Bash":
                inp = '{"command":%s,"description":%s}' % (j("cd %s && cargo test %s" % (cwd, rnd.choice(WORDS))), j(sentence(rnd)))
            else:
                inp = '{"file_path":%s}' % j(path)
            frag = '[{"type":"tool_use","id":"toolu_%s","name":"%s","input":%s}]' % (
                "%024x" % rnd.getrandbits(96), tool, inp)
            pool.append(("assistant", frag))
        else:
            frag = '[{"type":"text","text":%s}]' % j(prose(rnd, size))
            pool.append(("assistant", frag))
    return pool


def uuid4(rnd):
    h = "%032x" % rnd.getrandbits(128)
    return "%s-%s-4%s-%s-%s" % (h[:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) % 4] + h[17:20], h[20:32])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=float, required=True, help="bytes (e.g. 3e8)")
    ap.add_argument("--session-id", required=True)
    ap.add_argument("--cwd", required=True)
    ap.add_argument("--branch", default="bench")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--binary-share", type=float, default=0.05,
                    help="share of the bytes that are incompressible base64 images")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    pool = build_pool(rnd, args.cwd)
    images = build_images(rnd)
    image_bytes = 0
    target = int(args.size)
    sid = args.session_id
    head = ('"isSidechain":false,"userType":"external","cwd":%s,"sessionId":"%s","version":"2.1.329",'
            '"gitBranch":%s,' % (j(args.cwd), sid, j(args.branch)))
    written = 0
    parent = None
    t = 1_767_225_600  # 2026-01-01T00:00:00Z
    ms = 0
    chunk = []
    chunk_size = 0
    with open(args.out, "w", encoding="utf-8") as out:
        first = '{"type":"summary","summary":"Benchmark session","leafUuid":"%s"}\n' % uuid4(rnd)
        out.write(first)
        written += len(first)
        n = 0
        while written < target:
            n += 1
            if image_bytes < args.binary_share * (written + chunk_size):
                kind, frag = "user", images[n % len(images)]
                image_bytes += len(frag) + 400
            else:
                kind, frag = pool[rnd.randrange(len(pool))]
            uid = uuid4(rnd)
            ms += rnd.randint(200, 40_000)
            secs, milli = divmod(ms, 1000)
            ts = "2026-01-%02dT%02d:%02d:%02d.%03dZ" % (
                1 + (secs // 86400) % 28, (secs // 3600) % 24, (secs // 60) % 60, secs % 60, milli)
            par = '"%s"' % parent if parent else "null"
            if kind == "user":
                line = ('{"parentUuid":%s,%s"type":"user","message":{"role":"user","content":%s},'
                        '"uuid":"%s","timestamp":"%s"}\n' % (par, head, frag, uid, ts))
            else:
                line = ('{"parentUuid":%s,%s"message":{"model":"claude-opus-4-5-20251101","id":"msg_%s",'
                        '"type":"message","role":"assistant","content":%s,"stop_reason":null,'
                        '"usage":{"input_tokens":%d,"output_tokens":%d}},"requestId":"req_%s",'
                        '"type":"assistant","uuid":"%s","timestamp":"%s"}\n'
                        % (par, head, "%024x" % rnd.getrandbits(96), frag, rnd.randint(1, 90000),
                           rnd.randint(1, 4000), "%024x" % rnd.getrandbits(96), uid, ts))
            if n % 97 == 0:
                line += ('{"type":"file-history-snapshot","messageId":"%s","snapshot":{"messageId":"%s",'
                         '"trackedFileBackups":{%s:{"backupFileName":"%016x@v2","version":2}},'
                         '"timestamp":"%s"},"isSnapshotUpdate":false}\n'
                         % (uid, uid, j("%s/src/%s.rs" % (args.cwd, rnd.choice(WORDS))),
                            rnd.getrandbits(64), ts))
            parent = uid
            chunk.append(line)
            chunk_size += len(line)
            if chunk_size > 1 << 20:
                data = "".join(chunk)
                out.write(data)
                written += len(data.encode("utf-8")) if not data.isascii() else len(data)
                chunk.clear()
                chunk_size = 0
        if chunk:
            out.write("".join(chunk))
    return 0


if __name__ == "__main__":
    sys.exit(main())

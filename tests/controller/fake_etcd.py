#!/usr/bin/env python3
"""fake_etcd.py PORT PREFIX STATE_DIR [HUGE_BYTES] [HUGE_TIMES]

A hostile etcd for tests/controller/fake_etcd.sh: it speaks enough of etcd's v3 JSON gateway
(/v3/kv/range, put, deleterange, txn with compares, /v3/lease/*) for a drover-controller to campaign,
lead, load and store, over a small in-memory key space, and it misbehaves on purpose:

  - every prefix range also returns keys that are not the controller's: a key shorter than the
    prefix, the prefix with a NUL and more, an invalid host name, a domain name with whitespace, and
    for each stored domain the same key with a NUL and a tail ("domains/vm1\\0evil"), its document
    changed (memory 999 GiB): read as a C string it would alias the real one;
  - the first HUGE_TIMES range requests over PREFIX + "domains/" are answered with HUGE_BYTES of
    body (valid JSON framing, sent in 64 KiB chunks);
  - /v3/watch answers "created", then sends bytes with no newline, 16 KiB every 20 ms, until the
    client goes away.

Counters go to STATE_DIR: watch_connections, huge_replies (one line per event).
"""
import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
PREFIX = sys.argv[2].encode()
STATE = sys.argv[3]
HUGE_BYTES = int(sys.argv[4]) if len(sys.argv) > 4 else 4 * 1024 * 1024
HUGE_TIMES = int(sys.argv[5]) if len(sys.argv) > 5 else 2

lock = threading.Lock()
kv = {}  # key bytes -> dict(value, create, mod, version, lease)
revision = [1]
leases = {}  # id -> ttl
next_lease = [7000]
huge_left = [HUGE_TIMES]


def count(name):
    with open(f"{STATE}/{name}", "a") as f:
        f.write("1\n")


def b64(b):
    return base64.b64encode(b).decode()


def unb64(s):
    return base64.b64decode(s) if s else b""


def header():
    return {"cluster_id": "1", "member_id": "1", "revision": str(revision[0]), "raft_term": "1"}


def kv_json(k, e):
    return {"key": b64(k), "value": b64(e["value"]), "create_revision": str(e["create"]),
            "mod_revision": str(e["mod"]), "version": str(e["version"]), "lease": str(e["lease"])}


def in_range(k, key, end):
    if end is None:
        return k == key
    if end == b"\0":
        return k >= key
    return key <= k < end


def hostile(key, end):
    """The keys a hostile etcd adds to a prefix range over key."""
    if end is None or not key.startswith(PREFIX):
        return []
    out = []
    doc = json.dumps({"name": "x"}).encode()
    out.append({"key": b64(PREFIX[:2]), "value": b64(doc), "mod_revision": "1"})
    out.append({"key": b64(PREFIX + b"\0" + key[len(PREFIX):] + b"x"), "value": b64(doc),
                "mod_revision": "1"})
    rest = key[len(PREFIX):]
    if rest == b"hosts/":
        out.append({"key": b64(key + b"h\x1b[31m\nforged"), "value": b64(b"{}"), "mod_revision": "1"})
    if rest == b"domains/":
        out.append({"key": b64(key + b" vm1"), "value": b64(doc), "mod_revision": "1"})
        for k, e in sorted(kv.items()):
            if k.startswith(key) and b"/" not in k[len(key):]:
                try:
                    d = json.loads(e["value"])
                    for f in ("memory_kib", "max_memory_kib"):
                        if f in d:
                            d[f] = 999 * 1024 * 1024 * 1024
                    forged = json.dumps(d).encode()
                except ValueError:
                    forged = e["value"]
                out.append({"key": b64(k + b"\0evil"), "value": b64(forged),
                            "mod_revision": str(e["mod"] + 1)})
    return out


def do_range(req):
    key = unb64(req.get("key"))
    end = unb64(req["range_end"]) if "range_end" in req else None
    kvs = [kv_json(k, e) for k, e in sorted(kv.items()) if in_range(k, key, end)]
    kvs += hostile(key, end)
    kvs.sort(key=lambda o: unb64(o["key"]))
    if req.get("count_only"):
        return {"header": header(), "count": str(len(kvs))}
    return {"header": header(), "kvs": kvs, "count": str(len(kvs))}


def do_put(req):
    key = unb64(req.get("key"))
    revision[0] += 1
    old = kv.get(key)
    kv[key] = {"value": unb64(req.get("value")), "create": old["create"] if old else revision[0],
               "mod": revision[0], "version": (old["version"] + 1) if old else 1,
               "lease": int(req.get("lease", "0"))}
    return {"header": header()}


def do_delete(req):
    key = unb64(req.get("key"))
    end = unb64(req["range_end"]) if "range_end" in req else None
    gone = [k for k in kv if in_range(k, key, end)]
    if gone:
        revision[0] += 1
    for k in gone:
        del kv[k]
    return {"header": header(), "deleted": str(len(gone))}


def compare(c):
    e = kv.get(unb64(c.get("key")))
    target = c.get("target", "VERSION")
    if target == "VALUE":
        have, want = (e["value"] if e else b""), unb64(c.get("value"))
    else:
        field = {"CREATE": "create", "MOD": "mod", "VERSION": "version", "LEASE": "lease"}[target]
        jf = {"CREATE": "create_revision", "MOD": "mod_revision", "VERSION": "version",
              "LEASE": "lease"}[target]
        have, want = (e[field] if e else 0), int(c.get(jf, "0"))
    result = c.get("result", "EQUAL")
    return {"EQUAL": have == want, "NOT_EQUAL": have != want, "LESS": have < want,
            "GREATER": have > want}[result]


def do_txn(req):
    ok = all(compare(c) for c in req.get("compare", []))
    responses = []
    for op in req.get("success" if ok else "failure", []):
        if "request_put" in op:
            responses.append({"response_put": do_put(op["request_put"])})
        elif "request_range" in op:
            responses.append({"response_range": do_range(op["request_range"])})
        elif "request_delete_range" in op:
            responses.append({"response_delete_range": do_delete(op["request_delete_range"])})
    return {"header": header(), "succeeded": ok, "responses": responses}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake-etcd: " + (fmt % args) + "\n")

    def reply(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def huge(self):
        count("huge_replies")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(HUGE_BYTES))
        self.end_headers()
        head = b'{"header":{"revision":"1"},"kvs":[],"pad":"'
        tail = b'"}'
        self.wfile.write(head)
        left = HUGE_BYTES - len(head) - len(tail)
        chunk = b"A" * 65536
        try:
            while left > 0:
                n = min(left, len(chunk))
                self.wfile.write(chunk[:n])
                left -= n
            self.wfile.write(tail)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def watch(self):
        count("watch_connections")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(b):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
            self.wfile.flush()

        try:
            with lock:
                created = {"result": {"header": header(), "created": True}}
            chunk(json.dumps(created).encode() + b"\n")
            junk = b"x" * 16384
            while True:
                chunk(junk)
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        path = self.path
        if path == "/v3/watch":
            return self.watch()
        with lock:
            if path == "/v3/kv/range":
                key = unb64(req.get("key"))
                if key == PREFIX + b"domains/" and "range_end" in req and huge_left[0] > 0:
                    huge_left[0] -= 1
                    is_huge = True
                else:
                    is_huge = False
                    out = do_range(req)
            elif path == "/v3/kv/put":
                out = do_put(req)
            elif path == "/v3/kv/deleterange":
                out = do_delete(req)
            elif path == "/v3/kv/txn":
                out = do_txn(req)
            elif path == "/v3/lease/grant":
                next_lease[0] += 1
                leases[next_lease[0]] = int(req.get("TTL", "5"))
                out = {"header": header(), "ID": str(next_lease[0]), "TTL": req.get("TTL", "5")}
            elif path == "/v3/lease/keepalive":
                lid = int(req.get("ID", "0"))
                out = {"result": {"header": header(), "ID": str(lid),
                                  "TTL": str(leases.get(lid, 0))}}
            elif path == "/v3/lease/revoke":
                lid = int(req.get("ID", "0"))
                leases.pop(lid, None)
                for k in [k for k, e in kv.items() if e["lease"] == lid]:
                    del kv[k]  # a revoked lease takes its keys with it
                out = {"header": header()}
            elif path == "/v3/lease/timetolive":
                lid = int(req.get("ID", "0"))
                out = {"header": header(), "ID": str(lid), "TTL": str(leases.get(lid, -1))}
            else:
                self.send_error(404)
                return
        if path == "/v3/kv/range" and is_huge:
            return self.huge()
        self.reply(out)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()

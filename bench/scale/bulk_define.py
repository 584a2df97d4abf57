#!/usr/bin/env python3
"""bulk_define.py — writes domains straight into etcd for bench/scale/scale.sh, so that a cold
start with 20,000 or 100,000 domains can be measured without 100,000 CLI runs (the define row
measures the real verb on a sample). Each record is a copy of one the controller stored itself
(TEMPLATE, the JSON of domains/<a defined domain>) with its name and UUID replaced, in the record
and in its XML. Plain HTTP to etcd's JSON gateway on loopback; keep-alive, one put per key.

usage: bulk_define.py ENDPOINT PREFIX TEMPLATE_FILE FIRST LAST   (names dFIRST..dLAST)
"""
import base64
import http.client
import json
import re
import sys
import urllib.parse
import uuid


def main():
    endpoint, prefix, template_file, first, last = sys.argv[1:6]
    url = urllib.parse.urlparse(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    with open(template_file) as f:
        template = json.load(f)
    old_name = template["name"]
    old_uuid = template.get("uuid")
    for i in range(int(first), int(last) + 1):
        rec = dict(template)
        name = "d%d" % i
        new_uuid = str(uuid.uuid4())
        rec["name"] = name
        # defined, never placed, meant to be off (what `domain define` stores), whatever the
        # template's runtime state was
        rec["desired_state"] = "shutoff"
        rec.pop("host", None)
        if old_uuid:
            rec["uuid"] = new_uuid
        xml = rec["xml"].replace("<name>%s</name>" % old_name, "<name>%s</name>" % name)
        if old_uuid:
            xml = re.sub(r"<uuid>[^<]*</uuid>", "<uuid>%s</uuid>" % new_uuid, xml)
        rec["xml"] = xml
        key = (prefix + "domains/" + name).encode()
        body = json.dumps({"key": base64.b64encode(key).decode(),
                           "value": base64.b64encode(json.dumps(rec).encode()).decode()})
        conn.request("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit("bulk_define: put %s: HTTP %d %s" % (name, resp.status, data[:200]))
    conn.close()


if __name__ == "__main__":
    main()

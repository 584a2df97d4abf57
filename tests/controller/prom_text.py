#!/usr/bin/env python3
"""prom_text.py FILE [SERIES...] — a strict reader of the Prometheus text format (0.0.4).

Fails (exit 1, naming the line) on any line that is not a HELP/TYPE comment, a blank line or a
well-formed sample; on a sample whose family has no TYPE, or a TYPE after the family's samples; on
a family declared twice; on a duplicate series; on a histogram whose buckets are not cumulative or
lack +Inf. Then prints the value of each SERIES asked for, e.g. 'drover_hosts{state="up"}' (labels
in any order), or 'absent'."""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(r"^(" + NAME + r")(\{(" + LABEL + r"(," + LABEL + r")*)?,?\})? (\S+)( -?\d+)?$")
VALUE = re.compile(r"^([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?Inf|NaN)$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def fail(n, line, why):
    sys.exit(f"prom_text: line {n}: {why}: {line!r}")


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return name


def parse(text):
    types, helps, seen_samples, series = {}, {}, set(), {}
    if text and not text.endswith("\n"):
        sys.exit("prom_text: the last line has no newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (" + NAME + r") (.*)$", line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    fail(n, line, "malformed HELP/TYPE")
                continue
            kind, name, rest = m.groups()
            table = helps if kind == "HELP" else types
            if name in table:
                fail(n, line, f"second {kind} for {name}")
            if kind == "TYPE":
                if rest not in TYPES:
                    fail(n, line, "unknown type")
                if name in seen_samples:
                    fail(n, line, "TYPE after the family's samples")
            table[name] = rest
            continue
        m = SAMPLE.match(line)
        if not m:
            fail(n, line, "not a sample")
        name, value = m.group(1), m.group(9)
        if not VALUE.match(value):
            fail(n, line, "bad value")
        fam = family_of(name, types)
        if fam not in types:
            fail(n, line, f"family {fam} has no TYPE")
        seen_samples.add(fam)
        labels = {}
        if m.group(3):
            for k, v in re.findall(LABEL, m.group(3)):
                if k in labels:
                    fail(n, line, f"label {k} twice")
                labels[k] = v
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            fail(n, line, "duplicate series")
        series[key] = float(value)
    # histograms: cumulative buckets ending in +Inf equal to _count
    for fam, t in types.items():
        if t != "histogram":
            continue
        groups = {}
        for (name, labels), v in series.items():
            if name == fam + "_bucket":
                rest = tuple(kv for kv in labels if kv[0] != "le")
                le = dict(labels)["le"]
                groups.setdefault(rest, []).append((math.inf if le == "+Inf" else float(le), v))
        for rest, buckets in groups.items():
            buckets.sort()
            if buckets[-1][0] != math.inf:
                sys.exit(f"prom_text: histogram {fam} has no +Inf bucket")
            if any(b[1] < a[1] for a, b in zip(buckets, buckets[1:])):
                sys.exit(f"prom_text: histogram {fam}: buckets are not cumulative")
            if series.get((fam + "_count", rest)) != buckets[-1][1]:
                sys.exit(f"prom_text: histogram {fam}: _count differs from the +Inf bucket")
    return series


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        series = parse(f.read())
    for q in sys.argv[2:]:
        m = re.match(r"^(" + NAME + r")(\{(.*)\})?$", q)
        labels = tuple(sorted(re.findall(LABEL, m.group(3) or "")))
        v = series.get((m.group(1), labels))
        if v is None:
            print("absent")
        elif v == int(v) if math.isfinite(v) else False:
            print(int(v))
        else:
            print(repr(v))


main()

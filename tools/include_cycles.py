#!/usr/bin/env python3
# include_cycles.py [--check] [--part HEADER=MODULE ...] DIR
# The modules below DIR (a .c and its .h, by file stem) that include each other: prints each strongly
# connected group with its edges. --part merges a header without its own .c into the module it
# belongs to (a module's private headers). --check exits 1 when any group is printed.
# docs/controller.md "Dependencies between files"; the test include_cycles runs it on controller/.
import argparse
import collections
import os
import re
import sys

ap = argparse.ArgumentParser()
ap.add_argument('--check', action='store_true')
ap.add_argument('--part', action='append', default=[])
ap.add_argument('dir')
args = ap.parse_args()
part = dict(p.split('=', 1) for p in args.part)
paths = {}  # file name -> path (names are unique in the tree: docs/controller.md)
for root, _, names in os.walk(args.dir):
    for f in names:
        if f.endswith(('.c', '.h')):
            paths[f] = os.path.join(root, f)
files = sorted(paths)
heads = {f for f in files if f.endswith('.h')}


def mod(f):
    stem = f[:-2]
    return part.get(stem, stem)


g = collections.defaultdict(set)
for f in files:
    with open(paths[f]) as fh:
        for line in fh:
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if m and m.group(1) in heads and mod(m.group(1)) != mod(f):
                g[mod(f)].add(mod(m.group(1)))
nodes = sorted(set(g) | {x for v in g.values() for x in v})
index, low, stack, on, groups, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def connect(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(g[v]):
        if w not in index:
            connect(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            groups.append(sorted(comp))


for v in nodes:
    if v not in index:
        connect(v)
for comp in groups:
    print('%d modules include each other: %s' % (len(comp), ' '.join(comp)))
    for a in comp:
        print('    %s -> %s' % (a, ' '.join(sorted(x for x in g[a] if x in comp))))
if args.check and groups:
    sys.exit(1)

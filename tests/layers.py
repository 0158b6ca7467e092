#!/usr/bin/env python3
"""Checks the layer rule of docs/design.md on a source tree.

Layers, bottom to top: src/ (capture, connections) = 0, encoders/ = 1,
correlate/ = 2, datasets/ = 3 (generators, beside the command line),
src/cli/ = 4. A file may include (#include "name") files of its own layer or
lower ones only, and no two modules (a .h/.c pair) may reach each other
through includes (a circle). Prints each violation on one line and exits 1
when there is any, 0 otherwise; 2 on a usage or tree error.

usage: layers.py [ROOT]   (default: the tree this script lives in)
"""
import os
import re
import sys

LAYERS = [("src", 0), ("encoders", 1), ("correlate", 2), ("datasets", 3), ("src/cli", 4)]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def collect(root):
    """Maps each header/source basename to (path, layer); fails on a name
    that two layers share (includes name files only, so it would be ambiguous)."""
    files = {}
    for folder, layer in LAYERS:
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            raise SystemExit(f"layers.py: {d}: no such folder (is ROOT the source tree?)")
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h")):
                continue
            if name in files:
                print(f"{folder}/{name}: same name as {files[name][0]}; "
                      "includes name files only, so names must be unique", file=sys.stderr)
                sys.exit(2)
            files[name] = (f"{folder}/{name}", layer)
    return files


def module(path):
    return path.rsplit(".", 1)[0]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = collect(root)
    layer_name = {layer: folder for folder, layer in LAYERS}
    bad = 0
    edges = {}
    for name, (path, layer) in sorted(files.items()):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = os.path.basename(m.group(1))
                if target not in files:
                    continue  # a generated or system header (config.h)
                tpath, tlayer = files[target]
                if tlayer > layer:
                    print(f"{path}:{lineno}: includes {tpath}: {layer_name[tlayer]}/ is above "
                          f"{layer_name[layer]}/ (move what is needed down a layer)")
                    bad += 1
                a, b = module(path), module(tpath)
                if a != b:
                    edges.setdefault(a, set()).add(b)
    # Circles: strongly connected components of the module graph (Tarjan).
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
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
                comps.append(sorted(comp))

    for v in sorted(set(edges) | {m for s in edges.values() for m in s}):
        if v not in index:
            visit(v)
    for comp in comps:
        print("include circle between modules: " + " <-> ".join(comp))
        bad += 1
    if bad:
        print(f"layers.py: {bad} violation(s) of the layer rule (docs/design.md, \"Layers\")")
        return 1
    print(f"layers.py: {len(files)} files, {sum(len(s) for s in edges.values())} module includes, "
          "no upward include, no circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())

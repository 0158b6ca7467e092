#!/usr/bin/python3
"""vector_novelty.py - how unusual attack connections' encoder vectors are among benign ones.

usage: vector_novelty.py STEPSTONE --train CAP ... --benign CAP ... --attack NAME=CAP ...
                         [--ports 80,443,8000,8080] [-k 5] [--catch 0.75] [--workdir DIR]

Asks whether the encoder's vector of a connection (`stepstone embed`, the window that
holds the connection's start) could tell attack connections from benign ones of the same
service, whatever model would read it. Each connection to one of --ports gets a novelty:
the mean Euclidean distance to its k nearest vectors among the --train captures'
connections. Prints, for the held-out --benign captures, the novelty quantiles, and for
each --attack capture, each connection's novelty and its percentile among the held-out
benign connections, then the benign connections flagged at the novelty threshold that
catches the --catch share of that attack's connections. If that share of benign
connections is large, no score built on the vector alone separates the attack.
Needs python3-numpy.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def vectors(st, cap, ports, work):
    out = os.path.join(work, os.path.basename(cap) + ".jsonl")
    r = subprocess.run([st, "embed", "--format", "jsonl", "--max-windows", "1", "--threads", "1",
                        "-o", out, cap], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("vector_novelty.py: embed %s failed: %s" % (cap, r.stderr.strip()))
    v = []
    with open(out) as f:
        for line in f:
            d = json.loads(line)
            if d.get("type") == "window" and d["proto"] == 6 and d["resp_p"] in ports:
                v.append(d["vector"])
    return np.array(v, dtype=np.float64).reshape(-1, 64 if not v else len(v[0]))


def novelty(x, ref, k):
    if len(x) == 0:
        return np.zeros(0)
    d = (x * x).sum(1)[:, None] - 2.0 * x @ ref.T + (ref * ref).sum(1)[None, :]
    d = np.sqrt(np.maximum(d, 0.0))
    d.sort(1)
    return d[:, :k].mean(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stepstone")
    ap.add_argument("--train", action="append", required=True)
    ap.add_argument("--benign", action="append", required=True)
    ap.add_argument("--attack", action="append", default=[], help="NAME=CAPTURE")
    ap.add_argument("--ports", default="80,443,8000,8080")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--catch", type=float, default=0.75)
    ap.add_argument("--workdir")
    a = ap.parse_args()
    if a.k < 1 or not 0.0 < a.catch <= 1.0:
        sys.exit("vector_novelty.py: -k must be >= 1 and --catch in (0, 1]")
    try:
        ports = {int(p) for p in a.ports.split(",")}
    except ValueError:
        sys.exit("vector_novelty.py: --ports takes numbers separated by commas, e.g. 80,443")
    if any("=" not in x for x in a.attack):
        sys.exit("vector_novelty.py: --attack takes NAME=CAPTURE")
    work = a.workdir or tempfile.mkdtemp(prefix="vector-novelty.")
    os.makedirs(work, exist_ok=True)
    ref = np.vstack([vectors(a.stepstone, c, ports, work) for c in a.train])
    if len(ref) < a.k:
        sys.exit("vector_novelty.py: fewer than k training connections on ports %s" % a.ports)
    print("training connections (ports %s): %d, k = %d" % (a.ports, len(ref), a.k))
    print("\n| held-out benign capture | connections | novelty q50 | q99 | q99.9 | max |")
    print("|---|---|---|---|---|---|")
    pool = []
    for c in a.benign:
        n = novelty(vectors(a.stepstone, c, ports, work), ref, a.k)
        pool.append(n)
        if len(n):
            q = np.percentile(n, [50, 99, 99.9, 100])
            print("| %s | %d | %.3f | %.3f | %.3f | %.3f |" % ((c, len(n)) + tuple(q)))
    pool = np.concatenate(pool)
    print("\nheld-out benign connections pooled: %d" % len(pool))
    print("\n| attack | connections | novelty (each) | benign percentile (each) |"
          " benign flagged at %.0f%% caught |" % (100 * a.catch))
    print("|---|---|---|---|---|")
    for spec in a.attack:
        name, cap = spec.split("=", 1)
        n = novelty(vectors(a.stepstone, cap, ports, work), ref, a.k)
        if not len(n):
            print("| %s | 0 | | | |" % name)
            continue
        pct = [(pool < x).mean() for x in n]
        thr = np.sort(n)[::-1][max(0, int(np.ceil(a.catch * len(n))) - 1)]
        fp = (pool >= thr).mean() if len(pool) else float("nan")
        print("| %s | %d | %s | %s | %.3f (%d/%d) |" % (
            name, len(n), " ".join("%.3f" % x for x in n), " ".join("%.2f" % p for p in pct),
            fp, int((pool >= thr).sum()), len(pool)))


if __name__ == "__main__":
    main()

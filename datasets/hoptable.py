#!/usr/bin/env python3
"""Hops found at each method's threshold, by outbound-leg duration and by path RTT.

usage: hoptable.py [--stepstone BIN] [--model FILE] RUN_DIR...

Each RUN_DIR holds merged.pcap and labels.csv (datasets/netns/run.sh output;
links.csv too when the run had delayed links). For every run, `stepstone eval
--json --pairs` scores every candidate pair with every method; a labelled hop
counts as found by a method when, among the candidates of its outbound
connection, its inbound scores highest and at least the method's threshold
(as `eval` counts reported hops). Prints Markdown tables: per run (hops
found, false hops, AUC per method), then hops found by outbound-leg duration
(< 2 s, 2-8 s, 8-30 s, > 30 s) and by the out-leg's path RTT (2 x the sum of
the relay's and the destination's one-way delays from links.csv; LAN when the
run has none), with the labelled hops whose legs both last at least 1 s.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"hoptable.py: {' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[:300]}")
    return p.stdout


def dur_class(d):
    return "< 2 s" if d < 2 else "2-8 s" if d < 8 else "8-30 s" if d < 30 else "> 30 s"


def rtt_class(ms):
    if ms is None:
        return "LAN"
    return "LAN" if ms < 10 else "~30 ms" if ms < 60 else "~100 ms" if ms < 170 else "~250 ms"


DURS = ["< 2 s", "2-8 s", "8-30 s", "> 30 s"]
RTTS = ["LAN", "~30 ms", "~100 ms", "~250 ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stepstone", default="./stepstone")
    ap.add_argument("--model", help="correlator model for the lstm method")
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()
    found = {}   # (method, axis, class) -> [found, total]
    per_run = []
    methods = []
    for d in a.runs:
        pcap, labels = os.path.join(d, "merged.pcap"), os.path.join(d, "labels.csv")
        for f in (pcap, labels):
            if not os.path.exists(f):
                sys.exit(f"hoptable.py: {f}: no such file")
        delay = {}
        links = os.path.join(d, "links.csv")
        if os.path.exists(links):
            for r in csv.DictReader(open(links)):
                delay[r["ip"]] = float(r["delay_ms"])
        with tempfile.TemporaryDirectory() as tmp:
            pairs = os.path.join(tmp, "pairs.csv")
            cmd = [a.stepstone, "eval", "--json", "--labels", labels, "--pairs", pairs, pcap]
            if a.model:
                cmd[2:2] = ["--arg", "lstm=" + a.model]
            ev = json.loads(run(cmd))
            scores = list(csv.DictReader(open(pairs)))
        thr = {m["method"]: m["threshold"] for m in ev["methods"]}
        methods = [m["method"] for m in ev["methods"] if m["method"] != "random"]
        conns = {}
        for line in run([a.stepstone, "conns", "--json", pcap]).splitlines():
            c = json.loads(line)
            if c["proto"] == "tcp":
                conns[(c["id.orig_h"], c["id.orig_p"], c["id.resp_h"], c["id.resp_p"])] = c
        hops = []
        for r in csv.DictReader(open(labels)):
            ci = conns.get((r["in_src_ip"], int(r["in_src_port"]), r["in_dst_ip"], int(r["in_dst_port"])))
            co = conns.get((r["out_src_ip"], int(r["out_src_port"]), r["out_dst_ip"], int(r["out_dst_port"])))
            if not ci or not co:
                continue
            rtt = None
            if delay:
                rtt = 2 * (delay.get(r["out_src_ip"], 0) + delay.get(r["out_dst_ip"], 0))
            hops.append((ci["uid"], co["uid"], ci.get("duration") or 0, co.get("duration") or 0, rtt))
        best = {}  # (method, out) -> (score, in)
        for s in scores:
            k = (s["method"], s["out_uid"])
            v = float(s["score"])
            if k not in best or v > best[k][0]:
                best[k] = (v, s["in_uid"])
        row = {"run": os.path.basename(os.path.normpath(d)), "hops": 0}
        for m in methods:
            n = 0
            for hin, hout, din, dout, rtt in hops:
                if min(din, dout) < 1.0:
                    continue
                b = best.get((m, hout))
                ok = b is not None and b[1] == hin and b[0] >= thr[m]
                n += ok
                for axis, cls in (("dur", dur_class(dout)), ("rtt", rtt_class(rtt))):
                    f = found.setdefault((m, axis, cls), [0, 0])
                    f[0] += ok
                    f[1] += 1
            mm = next(x for x in ev["methods"] if x["method"] == m)
            row[m] = (n, mm["hops_false"], mm["auc"])
        row["hops"] = sum(1 for h in hops if min(h[2], h[3]) >= 1.0)
        per_run.append(row)
    print("| run | hops (legs >= 1 s) | " + " | ".join(f"{m}: found, false, AUC" for m in methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for r in per_run:
        cells = []
        for m in methods:
            n, fa, auc = r[m]
            cells.append(f"{n}, {fa}, {auc:.4f}" if isinstance(auc, float) else f"{n}, {fa}, -")
        print(f"| {r['run']} | {r['hops']} | " + " | ".join(cells) + " |")
    for axis, classes, title in (("dur", DURS, "outbound-leg duration"), ("rtt", RTTS, "path RTT")):
        print(f"\n| {title} | hops | " + " | ".join(methods) + " |")
        print("|---|---|" + "---|" * len(methods))
        for c in classes:
            tot = found.get((methods[0], axis, c), [0, 0])[1]
            if not tot:
                continue
            print(f"| {c} | {tot} | " + " | ".join(str(found[(m, axis, c)][0]) for m in methods) + " |")


if __name__ == "__main__":
    main()

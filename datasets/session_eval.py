#!/usr/bin/python3
"""session_eval.py - detection and false-positive rates of the session scorers.

usage: session_eval.py STEPSTONE REALDATA [--benign CAP ...] [--attack KIND=CAP ...]
                       [--benign-train CAP ...] [--benign-test CAP ...]
                       [--attacks-dir DIR ...] [--background CAP] [--no-real-benign]
                       [--train-frac 0.7] [--workdir DIR] [--train-opt OPT ...]
                       [--score-opt OPT ...]

Benign captures (default: the three real benign ones, plus any --benign) are split in
time: the first train-frac of each capture trains a model (`stepstone train sessions`),
the rest is held out. Benign false-positive rate = flagged held-out benign sessions /
held-out benign sessions. Each attack capture is time-shifted (pcapshift.py) to start in
the middle of the first held-out benign slice and scored together with it (one merged
timeline); its sessions are those of the hosts that appear in the attack capture.
Detection rate = flagged attack sessions / attack sessions, per attack kind; "any" says
whether at least one session of the attack was flagged. AUC: attack sessions against
held-out benign sessions, by score. Prints a markdown table for each method.

Generated data (datasets/netns): --benign-train captures train whole, --benign-test
captures are held out whole (another run, another seed); --attacks-dir takes the output
of attacks.sh and cuts one capture per row of its attacks.csv (the row's times, 1 s
before to 3 s after), its kind named from the row ("ssh-bruteforce*": ssh brute force,
"portscan-*": port scan). Attacks are mixed into --background (default: the first
--benign-test capture, else the first held-out slice). An attack session is a session,
in the mix, of a host of the attack capture that overlaps one of that host's sessions
in the attack capture scored alone (so a victim's benign sessions at other times are
not counted as attack sessions).
Standard library only.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "netns"))
import pcapfile  # noqa: E402

METHODS = ("bilstm", "lstm1", "markov")
DEFAULT_ATTACKS = [
    ("ssh brute force", "zeek-sshguess.pcap"),
    ("ftp brute force", "zeek-ftp-bruteforce.pcap"),
    ("sql injection", "cicids2017-sqli-slice.pcap"),
    ("sql injection", "zeek-dvwa-sqli.pcapng"),
    ("path traversal", "detgen-path-traversal-1.pcap"),
    ("path traversal", "detgen-path-traversal-2.pcap"),
    ("port scan", "ndpi-synscan.pcap"),
    ("version scan", "zeek-nmap-vsn.pcap"),
]
DEFAULT_BENIGN = ["detgen-nginx-server.pcap", "zeek-ssh-mixed.pcap", "zeek-wikipedia.pcap"]


def span(path):
    ts = [p[0] for p in pcapfile.packets(path)]
    return min(ts), max(ts)


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("session_eval.py: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
    return r.stdout


def score(st, model, method, caps, opts=()):
    out = run([st, "score", "--json", "--model", model, "--method", method] + list(opts) + caps)
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def auc(pos, neg):
    if not pos or not neg:
        return float("nan")
    s = 0.0
    for p in pos:
        for n in neg:
            s += 1.0 if p > n else 0.5 if p == n else 0.0
    return s / (len(pos) * len(neg))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stepstone")
    ap.add_argument("realdata")
    ap.add_argument("--benign", action="append", default=[])
    ap.add_argument("--attack", action="append", default=[], help="KIND=CAPTURE")
    ap.add_argument("--train-frac", type=float, default=0.7)
    ap.add_argument("--workdir")
    ap.add_argument("--train-opt", action="append", default=[])
    ap.add_argument("--score-opt", action="append", default=[])
    ap.add_argument("--benign-train", action="append", default=[])
    ap.add_argument("--benign-test", action="append", default=[])
    ap.add_argument("--attacks-dir", action="append", default=[])
    ap.add_argument("--background")
    ap.add_argument("--no-real-benign", action="store_true")
    a = ap.parse_args()
    work = a.workdir or tempfile.mkdtemp(prefix="session-eval.")
    os.makedirs(work, exist_ok=True)
    shift = os.path.join(HERE, "pcapshift.py")
    benign = [] if a.no_real_benign else [os.path.join(a.realdata, b) for b in DEFAULT_BENIGN]
    benign += a.benign
    attacks = [(k, os.path.join(a.realdata, c)) for k, c in DEFAULT_ATTACKS]
    attacks += [tuple(x.split("=", 1)) for x in a.attack]
    for j, d in enumerate(a.attacks_dir):
        with open(os.path.join(d, "attacks.csv")) as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            kind = ("ssh brute force" if r["kind"].startswith("ssh-brute") else
                    "port scan" if r["kind"].startswith("portscan") else r["kind"])
            cut = os.path.join(work, "gen%d-%s.pcap" % (j, r["kind"]))
            run([sys.executable, shift, os.path.join(d, "merged.pcap"), cut, "--from",
                 repr(float(r["start"]) - 1.0), "--to", repr(float(r["end"]) + 3.0)])
            attacks.append((kind, cut))
    train, test = list(a.benign_train), list(a.benign_test)
    for i, b in enumerate(benign):
        t0, t1 = span(b)
        cut = t0 + a.train_frac * (t1 - t0)
        ext = ".pcapng" if b.endswith(".pcapng") else ".pcap"
        tr, te = os.path.join(work, "train%d%s" % (i, ext)), os.path.join(work, "test%d%s" % (i, ext))
        run([sys.executable, shift, b, tr, "--to", repr(cut)])
        run([sys.executable, shift, b, te, "--from", repr(cut)])
        train.append(tr)
        test.append(te)
    model = os.path.join(work, "session.model")
    r = subprocess.run([a.stepstone, "train", "sessions", "-q", "--threads", "1", "-o", model]
                       + a.train_opt + train, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("session_eval.py: training failed: " + r.stderr.strip())
    base = a.background or test[0]
    b0, b1 = span(base)
    mixes = []
    for j, (kind, cap) in enumerate(attacks):
        ext = ".pcapng" if cap.endswith(".pcapng") else ".pcap"
        shifted = os.path.join(work, "attack%d%s" % (j, ext))
        run([sys.executable, shift, cap, shifted, "--start-at", repr((b0 + b1) / 2)])
        mixes.append((kind, cap, shifted))
    print("Benign training slices: %s (first %.0f%% of each capture's time span)."
          % (", ".join(os.path.basename(b) for b in benign), 100 * a.train_frac))
    if a.benign_train or a.benign_test:
        print("Benign training captures (whole): %s; held-out captures (whole): %s."
              % (", ".join(a.benign_train) or "none", ", ".join(a.benign_test) or "none"))
    print("Attacks mixed into: %s." % base)
    if a.train_opt:
        print("Training options: %s." % " ".join(a.train_opt))
    for m in METHODS:
        ben, per_cap = [], []
        for te in test:
            sc = score(a.stepstone, model, m, [te], a.score_opt)
            per_cap.append((os.path.basename(te), len(sc), sum(s["flagged"] for s in sc)))
            ben += sc
        fp = sum(s["flagged"] for s in ben)
        rows, by_kind, all_att = [], {}, []
        for kind, cap, shifted in mixes:
            alone = score(a.stepstone, model, m, [shifted], a.score_opt)
            spans = {}
            for s in alone:
                spans.setdefault(s["host"], []).append((s["start"], s["end"]))
            mixed = score(a.stepstone, model, m, [base, shifted], a.score_opt)
            att = [s for s in mixed if any(s["start"] <= e and s0 <= s["end"]
                                           for s0, e in spans.get(s["host"], ()))]
            det = sum(s["flagged"] for s in att)
            rows.append((kind, os.path.basename(cap), det, len(att)))
            k = by_kind.setdefault(kind, [0, 0, 0, 0])
            k[0] += det
            k[1] += len(att)
            k[2] += 1 if det else 0
            k[3] += 1
            all_att += [s["score"] for s in att]
        print("\n### %s\n" % m)
        print("Benign held-out sessions: %d, flagged %d (false-positive rate %.4f). "
              "AUC attack vs benign sessions: %.3f\n"
              % (len(ben), fp, fp / max(1, len(ben)), auc(all_att, [s["score"] for s in ben])))
        print("| held-out benign capture | sessions | flagged |")
        print("|---|---|---|")
        for name, n, f in per_cap:
            print("| %s | %d | %d |" % (name, n, f))
        print()
        print("| attack kind | capture | sessions flagged / attack sessions | rate |")
        print("|---|---|---|---|")
        for kind, cap, det, n in rows:
            print("| %s | %s | %d / %d | %.2f |" % (kind, cap, det, n, det / max(1, n)))
        print("\n| attack kind | detection rate (sessions) | attacks with a flagged session |")
        print("|---|---|---|")
        for kind, (det, n, anyd, na) in by_kind.items():
            print("| %s | %.2f (%d/%d) | %d/%d |" % (kind, det / max(1, n), det, n, anyd, na))
    return 0


if __name__ == "__main__":
    sys.exit(main())

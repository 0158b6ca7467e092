#!/bin/sh
# sweep.sh - every correlation method over a grid of chaff and jitter.
#
# For each cell (chaff ratio x added relay jitter), generates SEEDS captures
# with `stepstone synth` (seeds 1000 and up: training uses seeds below 1000),
# each shifted by a day so their timelines do not overlap, and scores every
# method on them together with `stepstone eval --json`. Then runs every
# method on the real captures: $REALDATA/socks5-telnet-relay.pcapng (labels in
# tests/) and datasets/samples/netns-*.pcap. Writes
#   docs/results/sweep.md   AUC and TPR at FPR 1e-2 and 1e-3 per cell and method
#   docs/results/sweep.csv  every figure, one row per (cell, method)
#   docs/results/sweep-*.png  AUC against chaff / jitter (when gnuplot is
#                           installed: apt-get install gnuplot-nox)
#
# usage: datasets/sweep.sh [BUILD_DIR]   (run from the source tree; BUILD_DIR
#        holds the stepstone binary, default .)
# Environment: SEEDS (default 2), DURATION (s, default 1800), CHAINS (40),
# BACKGROUND (600), CHAFFS ("0 0.5 1 2 3"), JITTERS ("0 0.25 0.5 1.0"),
# METHODS (default all), REALDATA (default ../shared/realdata), MODEL and OUT
# (below).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-.}
ss="$(cd "$build" && pwd)/stepstone"
[ -x "$ss" ] || { echo "sweep.sh: no stepstone binary in $build" >&2; exit 1; }
SEEDS=${SEEDS:-2}
DURATION=${DURATION:-1800}
CHAINS=${CHAINS:-40}
BACKGROUND=${BACKGROUND:-600}
CHAFFS=${CHAFFS:-"0 0.5 1 2 3"}
JITTERS=${JITTERS:-"0 0.25 0.5 1.0"}
METHODS=${METHODS:-all}
REALDATA=${REALDATA:-$top/../shared/realdata}
# MODEL: a model file for the lstm method (default: the compiled-in one);
# OUT: where the reports go (default docs/results), e.g. to compare a
# candidate model without touching the published figures.
MODEL=${MODEL:-}
out=${OUT:-"$top/docs/results"}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/stepstone-sweep.XXXXXX")
trap 'rm -rf "$work"' EXIT

csv="$work/sweep.csv"
echo "set,chaff,jitter,seeds,method,connections,candidates,positives,missed,auc,tpr_1e-2,tpr_1e-3,tpr_1e-3_meaningful,tpr_1e-4,threshold,precision,recall,hops_reported,hops_false,chains_reconstructed,labelled_chains,seconds" >"$csv"

# Appends the rows of one eval JSON ($1) for set $2, chaff $3, jitter $4, seeds $5, time $6.
rows() {
    /usr/bin/python3 - "$@" >>"$csv" <<'PY'
import json, sys
path, name, chaff, jitter, seeds, secs = sys.argv[1:7]
r = json.load(open(path))
def f(v):
    return "" if v is None else ("%.6g" % v if isinstance(v, float) else str(v))
for m in r["methods"]:
    t = m["tpr_at_fpr"]
    print(",".join([name, chaff, jitter, seeds, m["method"], f(r["connections"]),
                    f(r["candidates"]), f(r["positives"]), f(r["missed"]), f(m["auc"]),
                    f(t[0]["tpr"]), f(t[1]["tpr"]), "1" if t[1]["meaningful"] else "0",
                    f(t[2]["tpr"]), f(m["threshold"]), f(m["precision"]), f(m["recall"]),
                    f(m["hops_reported"]), f(m["hops_false"]), f(m["chains_reconstructed"]),
                    f(r["labelled_chains"]), secs]))
PY
}

for chaff in $CHAFFS; do
    for jitter in $JITTERS; do
        files=""
        labels="$work/cell.csv"
        : >"$labels"
        s=0
        while [ "$s" -lt "$SEEDS" ]; do
            seed=$((1000 + s))
            start=$((1700000000 + 86400 * s))
            "$ss" synth -q -o "$work/c$s.pcap" --labels "$work/c$s.csv" --seed "$seed" \
                --start "$start" --duration "$DURATION" --chains "$CHAINS" \
                --background "$BACKGROUND" --kind mix --chaff "$chaff" --jitter "$jitter"
            # chain ids restart at each seed: keep them distinct in the pooled labels
            if [ "$s" -eq 0 ]; then cat "$work/c$s.csv" >"$labels"; else
                tail -n +2 "$work/c$s.csv" |
                    awk -F, -v OFS=, -v off=$((1000000 * s)) '{ $1 = $1 + off; print }' >>"$labels"
            fi
            files="$files $work/c$s.pcap"
            s=$((s + 1))
        done
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086
        "$ss" eval --labels "$labels" --method "$METHODS" ${MODEL:+--arg "lstm=$MODEL"} --json \
            -o "$work/r.json" $files
        t1=$(date +%s.%N)
        rows "$work/r.json" synth "$chaff" "$jitter" "$SEEDS" "$(echo "$t1 - $t0" | bc)"
        echo "sweep.sh: chaff $chaff jitter $jitter done" >&2
        rm -f "$work"/c*.pcap
    done
done

# Real captures.
real_one() { # name lead_s labels files...
    name=$1; lead=$2; lab=$3; shift 3
    t0=$(date +%s.%N)
    if "$ss" eval --labels "$lab" --method "$METHODS" ${MODEL:+--arg "lstm=$MODEL"} \
        --max-lead "$lead" --json -o "$work/r.json" "$@"; then
        t1=$(date +%s.%N)
        rows "$work/r.json" "$name" - - - "$(echo "$t1 - $t0" | bc)"
    else
        echo "sweep.sh: eval failed on $name" >&2
    fi
}
if [ -f "$REALDATA/socks5-telnet-relay.pcapng" ]; then
    real_one socks5-telnet-relay 0 "$top/tests/socks5-telnet-relay.labels.csv" \
        "$REALDATA/socks5-telnet-relay.pcapng"
else
    echo "sweep.sh: $REALDATA/socks5-telnet-relay.pcapng not found, skipped" >&2
fi
for p in "$top"/datasets/samples/netns-*.pcap; do
    [ -f "$p" ] || continue
    # `nc -l | nc` relays connect onward before they are reached: also with
    # a 5 s lead allowed
    real_one "$(basename "$p" .pcap)" 0 "${p%.pcap}.csv" "$p"
    real_one "$(basename "$p" .pcap) (lead 5 s)" 5 "${p%.pcap}.csv" "$p"
done

# Report.
cp "$csv" "$out/sweep.csv.tmp" && mv "$out/sweep.csv.tmp" "$out/sweep.csv"
/usr/bin/python3 - "$out/sweep.csv" "$out/sweep.md.tmp" \
    "$SEEDS" "$DURATION" "$CHAINS" "$BACKGROUND" <<'PY'
import csv, sys
path, md, seeds, dur, chains, bg = sys.argv[1:7]
rows = list(csv.DictReader(open(path)))
syn = [r for r in rows if r["set"] == "synth"]
methods = list(dict.fromkeys(r["method"] for r in rows))
chaffs = list(dict.fromkeys(r["chaff"] for r in syn))
jitters = list(dict.fromkeys(r["jitter"] for r in syn))
o = open(md, "w")
o.write("# Sweep: correlation methods against chaff and relay jitter\n\n")
o.write("Generated by `datasets/sweep.sh` (the figures below are its output; rerun it to "
        "reproduce). Each cell pools %s captures of `stepstone synth --kind mix --duration %s "
        "--chains %s --background %s` (seeds 1000-%d, a day apart) scored together by "
        "`stepstone eval`. Chaff: dummy packets per real packet on every chain leg; jitter: "
        "extra uniform delay up to J seconds per forwarded chunk at each relay.\n\n"
        % (seeds, dur, chains, bg, 999 + int(seeds)))
if syn:
    c = syn[0]
    o.write("Per cell: about %s candidate pairs, %s labelled hops (all of them candidates: "
            "missed %s).\n\n" % (c["candidates"], c["positives"], c["missed"]))
def table(metric, title, flag=None):
    o.write("## %s\n\n" % title)
    for m in methods:
        o.write("**%s**\n\n| chaff \\ jitter (s) | %s |\n|---|%s\n"
                % (m, " | ".join(jitters), "---|" * len(jitters)))
        for ch in chaffs:
            cells = []
            for j in jitters:
                r = [x for x in syn if x["method"] == m and x["chaff"] == ch and x["jitter"] == j]
                v = r[0][metric] if r else ""
                s = ("%.3f" % float(v)) if v else "-"
                if r and flag and r[0][flag] == "0" and v:
                    s += "*"
                cells.append(s)
            o.write("| %s | %s |\n" % (ch, " | ".join(cells)))
        o.write("\n")
def below(metric):
    """Cells where lstm is below the best baseline on metric."""
    base = [m for m in methods if m not in ("lstm", "random")]
    res = []
    for ch in chaffs:
        for j in jitters:
            cell = {x["method"]: x[metric] for x in syn if x["chaff"] == ch and x["jitter"] == j}
            if "lstm" not in cell or not cell["lstm"]:
                continue
            vals = [(float(cell[m]), m) for m in base if cell.get(m)]
            if vals and float(cell["lstm"]) < max(vals)[0]:
                res.append("chaff %s jitter %s: %.4f < %s %.4f"
                           % (ch, j, float(cell["lstm"]), max(vals)[1], max(vals)[0]))
    return res
if "lstm" in methods and len(methods) > 1:
    o.write("## lstm against the best baseline\n\n"
            "Cells where the lstm method is below the best classic baseline (zhang-paxson, "
            "ipd, deviation):\n\n")
    for metric, name in (("auc", "AUC"), ("tpr_1e-2", "TPR at FPR 1e-2"),
                         ("tpr_1e-3", "TPR at FPR 1e-3")):
        b = below(metric)
        o.write("- %s: %s\n" % (name, "; ".join(b) if b else "none (lstm equal or above "
                                 "in all %d cells)" % (len(chaffs) * len(jitters))))
    o.write("\n")
table("auc", "ROC AUC over the candidate pairs")
table("tpr_1e-2", "TPR at FPR 1e-2")
table("tpr_1e-3", "TPR at FPR 1e-3 (* fewer than 1000 negatives: the point says little)",
      "tpr_1e-3_meaningful")
o.write("## Operating points (no chaff, no jitter)\n\n"
        "| method | threshold | precision | recall | chains rebuilt | false hops |\n"
        "|---|---|---|---|---|---|\n")
for m in methods:
    r = [x for x in syn if x["method"] == m and x["chaff"] == chaffs[0] and x["jitter"] == jitters[0]]
    if r:
        r = r[0]
        o.write("| %s | %s | %s | %s | %s/%s | %s |\n" % (m, r["threshold"], r["precision"] or "-",
                r["recall"] or "-", r["chains_reconstructed"], r["labelled_chains"], r["hops_false"]))
real = [r for r in rows if r["set"] != "synth"]
if real:
    o.write("\n## Real captures\n\n"
            "| capture | method | candidates | labelled hops found as candidates | AUC | "
            "precision | recall | chains rebuilt |\n|---|---|---|---|---|---|---|---|\n")
    for r in real:
        o.write("| %s | %s | %s | %s/%s | %s | %s | %s | %s/%s |\n" % (
            r["set"], r["method"], r["candidates"], r["positives"],
            int(r["positives"]) + int(r["missed"]), r["auc"] or "- (no negatives)",
            r["precision"] or "-", r["recall"] or "-", r["chains_reconstructed"],
            r["labelled_chains"]))
o.close()
PY
mv "$out/sweep.md.tmp" "$out/sweep.md"

if command -v gnuplot >/dev/null 2>&1; then
    for m in $(awk -F, 'NR>1 && $1=="synth" {print $5}' "$out/sweep.csv" | sort -u); do
        awk -F, -v m="$m" 'NR>1 && $1=="synth" && $5==m {print $2, $3, $10}' "$out/sweep.csv" \
            >"$work/$m.dat"
    done
    {
        echo "set terminal pngcairo size 1000,600 noenhanced"
        echo "set output '$out/sweep-auc.png.tmp'"
        echo "set multiplot layout 1,2 title 'ROC AUC of candidate relay hops (stepstone synth, seeds 1000+)'"
        echo "set xlabel 'chaff ratio (jitter 0)'; set ylabel 'AUC'; set yrange [0.4:1.01]; set grid; set key bottom left"
        printf "plot "
        sep=""
        for f in "$work"/*.dat; do
            m=$(basename "$f" .dat)
            printf "%s'%s' using (\$2==0 ? \$1 : 1/0):3 with linespoints title '%s'" "$sep" "$f" "$m"
            sep=", "
        done
        echo
        echo "set xlabel 'added relay jitter, s (chaff 0)'"
        printf "plot "
        sep=""
        for f in "$work"/*.dat; do
            m=$(basename "$f" .dat)
            printf "%s'%s' using (\$1==0 ? \$2 : 1/0):3 with linespoints title '%s'" "$sep" "$f" "$m"
            sep=", "
        done
        echo
        echo "unset multiplot"
    } >"$work/plot.gp"
    gnuplot "$work/plot.gp" && mv "$out/sweep-auc.png.tmp" "$out/sweep-auc.png"
else
    echo "sweep.sh: gnuplot not found, no plot (apt-get install gnuplot-nox)" >&2
fi
echo "sweep.sh: wrote $out/sweep.md, $out/sweep.csv" >&2

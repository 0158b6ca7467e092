#!/bin/sh
# lstm_bench.sh - encoders/lstm.c against PyTorch's nn.LSTM, same shapes and
# thread counts, in one invocation; prints a markdown table on stdout.
#
# usage: bench/lstm_bench.sh [BUILD_DIR [MIN_SECONDS [ROUNDS]]]
#   BUILD_DIR    a configured out-of-tree build (default /tmp/build-lstm);
#                the bench is built there with `make bench/lstm_bench`
#   MIN_SECONDS  time spent on each measurement (default 0.3)
#   ROUNDS       C and PyTorch runs alternate ROUNDS times; the best
#                (fastest) of the rounds is kept for each entry (default 2),
#                which damps the noise of other work on the machine
#
# Shapes: one layer, one direction, input size = hidden size H, H in
# {64,128}, T in {64,128}, B in {1,32,256}, all sequences of length T.
# Threads 1 and 2. Needs Debian's /usr/bin/python3 with python3-torch.
# NOBUILD=1 skips the make step and uses the bench already in BUILD_DIR.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-/tmp/build-lstm}
min_s=${2:-0.3}
rounds=${3:-2}
py=/usr/bin/python3

[ -f "$build/Makefile" ] || { echo "lstm_bench.sh: no Makefile in $build (configure a build there first)" >&2; exit 1; }
"$py" -c 'import torch' 2>/dev/null || { echo "lstm_bench.sh: $py cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
if [ "${NOBUILD:-0}" != 1 ]; then
    make -s -C "$build" bench/lstm_bench >&2
fi
[ -x "$build/bench/lstm_bench" ] || { echo "lstm_bench.sh: $build/bench/lstm_bench not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lstm-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

r=1
while [ "$r" -le "$rounds" ]; do
    for th in 1 2; do
        echo "lstm_bench.sh: round $r, $th thread(s): C" >&2
        "$build/bench/lstm_bench" "$th" "$min_s" >>"$tmp/c.tsv"
        echo "lstm_bench.sh: round $r, $th thread(s): PyTorch" >&2
        "$py" "$here/lstm_torch.py" "$th" "$min_s" >>"$tmp/torch.tsv"
    done
    r=$((r + 1))
done

"$py" - "$tmp/c.tsv" "$tmp/torch.tsv" "$rounds" <<'EOF'
import platform
import subprocess
import sys

import torch


def load(path):
    best = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        f = line.split("\t")
        key = tuple(int(v) for v in f[1:5])  # threads, H, T, B
        vals = [float(v) for v in f[5:]]
        old = best.get(key)
        if old is None:
            best[key] = vals
        else:  # keep the best of each column (all are higher-is-better)
            best[key] = [max(a, b) for a, b in zip(old, vals)]
    return best


c = load(sys.argv[1])
t = load(sys.argv[2])
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
print("LSTM: 1 layer, 1 direction, input size = H, full-length sequences, float32. "
      "Best of %s rounds. CPU: %s, %s; PyTorch %s." % (sys.argv[3], cpu, platform.machine(),
                                                      torch.__version__))
print()
print("| threads | H | T | B | C fwd seq/s | torch fwd seq/s | fwd C/torch "
      "| C train seq/s | torch train seq/s | train C/torch | C fwd GFLOP/s "
      "| sgemm GFLOP/s | fwd/sgemm |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for key in sorted(c):
    th, H, T, B = key
    cf, ct, gf, peak = c[key]
    if key not in t:
        continue
    tf, tt = t[key]
    print("| %d | %d | %d | %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f | %.1f | %.1f | %.0f%% |"
          % (th, H, T, B, cf, tf, cf / tf, ct, tt, ct / tt, gf, peak, 100.0 * gf / peak))
EOF

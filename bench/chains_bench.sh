#!/bin/sh
# chains_bench.sh - speed of `stepstone chains` (the learned correlator) on a
# large synthetic capture, against `stepstone conns` (reading the same capture
# into connections, its first stage) in the same run. Run by hand, not by the
# tests; results go to docs/results/chains.md.
#
# usage: bench/chains_bench.sh [BUILD_DIR]   (BUILD_DIR holds the stepstone
#        binary, default .)
# Environment: PARTS (captures, default 3: `synth` caps the hosts of one
# capture, so the large input is several captures one after another on one
# timeline, read together as `chains FILE...` reads them), DURATION (s per
# part, default 600), BACKGROUND (background sessions per part, default 16000:
# about 36 000 connections and 3.3 GB per part), CHAINS (per part, 100),
# THREADS (OpenBLAS threads for chains, default all cores), REPEAT (timed runs
# of each command, default 2; the best is kept), TMPDIR (where the capture is
# written; it is deleted at the end).
#
# Prints: the capture's size, the connections and candidate pairs, the
# windows embedded per second, the candidate pairs scored per second
# (embedding included), and the wall-clock times of conns and chains with
# their ratio. The capture is read once before timing so both commands find
# it in the page cache.
set -eu
build=${1:-.}
ss="$(cd "$build" && pwd)/stepstone"
[ -x "$ss" ] || { echo "chains_bench.sh: no stepstone binary in $build" >&2; exit 1; }
DURATION=${DURATION:-600}
BACKGROUND=${BACKGROUND:-16000}
CHAINS=${CHAINS:-100}
PARTS=${PARTS:-3}
THREADS=${THREADS:-0}
REPEAT=${REPEAT:-2}
work=$(mktemp -d "${TMPDIR:-/tmp}/stepstone-chains-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }

t0=$(now)
files=""
p=0
while [ "$p" -lt "$PARTS" ]; do
    "$ss" synth -q -o "$work/part$p.pcap" --labels "$work/part$p.csv" --seed $((7001 + p)) \
        --start $((1700000000 + p * (DURATION + 60))) --duration "$DURATION" \
        --chains "$CHAINS" --background "$BACKGROUND" --max-output 20000 --kind mix
    files="$files $work/part$p.pcap"
    p=$((p + 1))
done
t1=$(now)
size=$(cat $files | wc -c)
echo "capture: $PARTS parts of synth --duration $DURATION --chains $CHAINS --background" \
     "$BACKGROUND --max-output 20000 --kind mix: $size bytes, written in $(elapsed "$t0" "$t1") s"
# shellcheck disable=SC2086
cat $files >/dev/null # into the page cache

thr=""
[ "$THREADS" -gt 0 ] && thr="--threads $THREADS"
conns_s=""
chains_s=""
r=0
while [ "$r" -lt "$REPEAT" ]; do
    t0=$(now)
    # shellcheck disable=SC2086
    /usr/bin/time -f %M -o "$work/conns.rss" "$ss" conns $files >"$work/conns.tsv" 2>"$work/conns.err"
    t1=$(now)
    # shellcheck disable=SC2086
    /usr/bin/time -f %M -o "$work/chains.rss" "$ss" chains --stats $thr -o "$work/chains.txt" \
        $files 2>"$work/chains.err"
    t2=$(now)
    conns_s=$(best "$conns_s" "$(elapsed "$t0" "$t1")")
    c=$(elapsed "$t1" "$t2")
    if [ "$(best "$chains_s" "$c")" = "$c" ]; then
        chains_s=$c
        cp "$work/chains.err" "$work/chains.best"
    fi
    echo "run $((r + 1)): peak RSS conns $(cat "$work/conns.rss") KB, chains $(cat "$work/chains.rss") KB"
    r=$((r + 1))
done
grep -v '^stepstone chains: warning' "$work/conns.err" | tail -n 1
grep -v '^stepstone chains: warning' "$work/chains.best"
/usr/bin/python3 - "$work/chains.best" "$conns_s" "$chains_s" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
conns_s, chains_s = float(sys.argv[2]), float(sys.argv[3])
m = re.search(r"(\d+) TCP connections, (\d+) candidate hops", text)
s = re.search(r"read and score ([\d.]+) s, embedding ([\d.]+) s \((\d+) windows, (\d+)/s\), "
              r"pairs \((\d+) pairs, (\d+)/s", text)
if not m or not s:
    sys.exit("chains_bench.sh: cannot parse the chains --stats line")
print("connections %s, candidate pairs %s" % (m.group(1), m.group(2)))
print("embeddings per second: %s (%s windows in %s s)" % (s.group(4), s.group(3), s.group(2)))
print("candidate pairs scored per second (reading and embedding included): %s (%s pairs in %s s)"
      % (s.group(6), s.group(5), s.group(1)))
print("end to end (best of runs): conns %.3f s, chains %.3f s: chains takes %.2fx conns"
      % (conns_s, chains_s, chains_s / conns_s if conns_s > 0 else float("nan")))
PY

#!/bin/sh
# fan_bench.sh - `stepstone chains` on a busy relay host: one host with N
# inbound and N outbound overlapping ssh-like connections (bench/mkfan.py),
# N x N candidate hops. Measures chains' wall-clock time and peak RSS on one
# thread (--threads 1), and `stepstone conns` on the same capture as the peer
# (reading alone). Run by hand, not by the tests; results go to
# docs/results/fan.md.
#
# usage: bench/fan_bench.sh [BUILD_DIR]   (BUILD_DIR holds the stepstone
#        binary, default .)
# Environment: NS (default "1000 2000 3000 6000"), REPEAT (runs per N, default
# 3; the fastest is kept, with its peak RSS), SS (another stepstone binary to
# measure instead of BUILD_DIR's, e.g. a build of an older commit), TMPDIR
# (where the captures are written; deleted at the end).
#
# Prints one Markdown table row per N: capture bytes, candidate hops, chains
# wall-clock and CPU (user + system) seconds and peak RSS (MB), the same for
# conns, and chains/conns (wall clock). On a shared machine the CPU seconds
# are the steadier figure.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-.}
ss=${SS:-"$(cd "$build" && pwd)/stepstone"}
[ -x "$ss" ] || { echo "fan_bench.sh: no stepstone binary $ss" >&2; exit 1; }
NS=${NS:-"1000 2000 3000 6000"}
REPEAT=${REPEAT:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/stepstone-fan-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# run OUT CMD...: runs CMD REPEAT times (output to /dev/null, stderr to
# OUT.err); prints "seconds KB cpu-seconds" of the fastest run
run() {
    out=$1
    shift
    best=""
    r=0
    while [ "$r" -lt "$REPEAT" ]; do
        /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" >/dev/null 2>"$out.err"
        cur=$(awk '{ print $1, $2, $3 + $4 }' "$work/time")
        best=$(printf '%s\n%s\n' "$best" "$cur" | awk 'NF == 3' | sort -n | head -n 1)
        r=$((r + 1))
    done
    echo "$best"
}

echo "| N | capture (bytes) | candidate hops | chains (s) | chains CPU (s) | chains peak RSS (MB) | conns (s) | conns CPU (s) | conns peak RSS (MB) | chains / conns |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in $NS; do
    f="$work/fan$n.pcap"
    python3 "$here/mkfan.py" "$n" "$f"
    cat "$f" >/dev/null
    size=$(wc -c <"$f")
    set -- $(run "$work/chains" "$ss" chains --threads 1 "$f")
    ch_s=$1 ch_kb=$2 ch_cpu=$3
    pairs=$(sed -n 's/.* TCP connections, \([0-9]*\) candidate hops.*/\1/p' "$work/chains.err")
    set -- $(run "$work/conns" "$ss" conns "$f")
    co_s=$1 co_kb=$2 co_cpu=$3
    awk -v n="$n" -v size="$size" -v pairs="$pairs" -v cs="$ch_s" -v ck="$ch_kb" \
        -v cc="$ch_cpu" -v os="$co_s" -v ok="$co_kb" -v oc="$co_cpu" 'BEGIN {
        printf "| %d | %d | %s | %.2f | %.2f | %.0f | %.2f | %.2f | %.0f | %.0f |\n", n, size,
               pairs, cs, cc, ck / 1024, os, oc, ok / 1024, (os > 0 ? cs / os : 0) }'
    rm -f "$f"
done

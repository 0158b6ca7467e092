#!/bin/sh
# flood_bench.sh - peak memory and time of `stepstone conns` and `stepstone
# chains` on a SYN flood (bench/mkflood.py: 2 million SYNs from distinct
# sources in 20 s of capture time, never answered), under the default bound
# on open connections and others. Run by hand from the build folder; not a test.
#
# usage: bench/flood_bench.sh [N [SECONDS]]   (defaults 2000000, 20)
# Environment: BUILDDIR (default: current folder), BENCH_TMP (default /tmp),
#   FLOOD_BOUNDS (default "default 0": --max-open values, "default" = none given;
#   0 = no bound, needs about 2 GB for conns and more for chains).
# Prints one line per (command, bound): wall time, peak RSS (GNU time -v) and
# the command's summary line.
set -u
N=${1:-2000000}
SECS=${2:-20}
B=${BUILDDIR:-.}
T=${BENCH_TMP:-/tmp}
SRC=$(dirname "$0")
SS="$B/stepstone"
[ -x "$SS" ] || { echo "flood_bench: $SS missing: run make" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "flood_bench: GNU time missing: apt-get install time" >&2; exit 1; }
WORK=$(mktemp -d "$T/flood-bench.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT INT TERM
python3 "$SRC/mkflood.py" "$WORK/flood.pcap" "$N" "$SECS" || exit 1
echo "capture: $N SYNs in $SECS s, $(($(wc -c <"$WORK/flood.pcap") / 1048576)) MB"
for bound in ${FLOOD_BOUNDS:-default 0}; do
    opt=""
    [ "$bound" = default ] || opt="--max-open $bound"
    for cmd in conns chains; do
        extra=""
        [ $cmd = chains ] && extra="--threads 1"
        [ $cmd = conns ] && extra="-o $WORK/out.tsv"
        /usr/bin/time -v "$SS" $cmd $extra $opt "$WORK/flood.pcap" >"$WORK/out" 2>"$WORK/time" ||
            { cat "$WORK/time" >&2; exit 1; }
        wall=$(awk -F': ' '/Elapsed/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$WORK/time")
        rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/time")
        printf '%-7s --max-open %-8s %7.2f s  %5d MB peak RSS  | %s\n' $cmd "$bound" "$wall" \
            $((rss / 1024)) "$(grep "^stepstone $cmd: [0-9]" "$WORK/time" | head -1)"
    done
done

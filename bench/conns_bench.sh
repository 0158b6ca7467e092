#!/bin/sh
# conns_bench.sh - speed and memory of `stepstone conns` against a bare
# pcap_next_ex loop and tshark, on a generated capture. Run by hand from the
# build folder (or `make bench-conns`); not a test.
#
# usage: bench/conns_bench.sh [SIZE_MB] [CONCURRENT]
#   SIZE_MB     size of the main capture (default 1024)
#   CONCURRENT  TCP connections open at once in the generator (default 10000)
# Environment: BUILDDIR (default: current folder), BENCH_TMP (default /tmp),
#   BENCH_NO_TSHARK=1 to leave tshark out, BENCH_SIZES (default "256 512",
#   extra capture sizes in MB for the memory-vs-size table).
#
# Prints packets/s of each reader (wall clock and CPU) on a dense capture
# (mkcapture's dense mode: CONCURRENT connections at once, 2 min per GB, the
# hardest case for the connection table), the ratio stepstone/bare loop,
# peak RSS (GNU time -v); then the same on a timed capture (mkcapture -t:
# realistic time span), then peak RSS of stepstone at several sizes of
# timed captures. The captures are deleted at the end.
set -u
SIZE=${1:-1024}
CONC=${2:-10000}
B=${BUILDDIR:-.}
T=${BENCH_TMP:-/tmp}
SIZES="${BENCH_SIZES:-256 512} $SIZE"
MK="$B/bench/mkcapture"
LOOP="$B/bench/pcap_loop"
SS="$B/stepstone"
for x in "$MK" "$LOOP" "$SS"; do
    [ -x "$x" ] || { echo "conns_bench: $x missing: run 'make bench-conns' or 'make bench/mkcapture bench/pcap_loop stepstone'" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "conns_bench: GNU time missing: apt-get install time" >&2; exit 1; }
WORK=$(mktemp -d "$T/conns-bench.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT INT TERM

# runs "$@" under GNU time; sets WALL, CPU (user+sys) and RSS (KB)
measure() {
    /usr/bin/time -v "$@" >"$WORK/out" 2>"$WORK/time" || { cat "$WORK/time" >&2; echo "conns_bench: '$*' failed" >&2; exit 1; }
    WALL=$(awk -F': ' '/Elapsed/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$WORK/time")
    CPU=$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {print u + s}' "$WORK/time")
    RSS=$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/time")
}

cap="$WORK/cap-$SIZE.pcap"
"$MK" "$cap" "$SIZE" "$CONC" || exit 1
cat "$cap" >/dev/null; cat "$cap" >/dev/null     # page-cache it
PKTS=$("$LOOP" "$cap" | awk '{print $2}')

echo "capture: $SIZE MB, $PKTS packets, $CONC concurrent TCP connections; $(nproc) cores"
echo
echo "| reader | wall s | packets/s (wall) | CPU s | packets/s (CPU) | peak RSS MB |"
echo "|---|---|---|---|---|---|"
row() { # name
    awk -v n="$1" -v w="$WALL" -v c="$CPU" -v r="$RSS" -v p="$PKTS" 'BEGIN {
        printf "| %s | %.2f | %.0f | %.2f | %.0f | %.1f |\n", n, w, p / (w > 0 ? w : 0.01), c, p / (c > 0 ? c : 0.01), r / 1024 }'
}
measure "$LOOP" "$cap"; LW=$WALL; LC=$CPU; row "bare pcap_next_ex loop"
measure "$SS" conns "$cap"; SW=$WALL; SC=$CPU; row "stepstone conns"
grep -v '^#' "$WORK/out" | wc -l >"$WORK/nconns"
if [ -z "${BENCH_NO_TSHARK:-}" ] && command -v tshark >/dev/null 2>&1; then
    measure tshark -r "$cap" -q -z conv,tcp; TW=$WALL; TC=$CPU; row "tshark -q -z conv,tcp"
else
    TW=""
fi
echo
awk -v lw="$LW" -v lc="$LC" -v sw="$SW" -v sc="$SC" 'BEGIN {
    printf "ratio stepstone/bare loop (packets/s): wall %.2f, CPU %.2f (goal >= 0.5)\n", lw / sw, lc / sc }'
[ -n "$TW" ] && awk -v tw="$TW" -v sw="$SW" 'BEGIN { printf "stepstone is %.1fx faster than tshark (wall)\n", tw / sw }'
echo "stepstone found $(cat "$WORK/nconns") connections"
rm -f "$cap"

echo
cap="$WORK/timed-main.pcap"
"$MK" -t "$cap" "$SIZE" 2>"$WORK/mk" || { cat "$WORK/mk" >&2; exit 1; }
cat "$cap" >/dev/null; cat "$cap" >/dev/null
PKTS=$("$LOOP" "$cap" | awk '{print $2}')
echo "timed capture: $SIZE MB, $PKTS packets ($(sed 's/^mkcapture: //' "$WORK/mk"))"
echo
echo "| reader | wall s | packets/s (wall) | CPU s | packets/s (CPU) | peak RSS MB |"
echo "|---|---|---|---|---|---|"
measure "$LOOP" "$cap"; LW=$WALL; LC=$CPU; row "bare pcap_next_ex loop"
measure "$SS" conns "$cap"; SW=$WALL; SC=$CPU; row "stepstone conns"
echo
awk -v lw="$LW" -v lc="$LC" -v sw="$SW" -v sc="$SC" 'BEGIN {
    printf "ratio stepstone/bare loop (packets/s): wall %.2f, CPU %.2f\n", lw / sw, lc / sc }'
rm -f "$cap"

echo
# Memory against capture size, with the default timeouts: timed captures
# (mkcapture -t: a steady 12 new TCP connections per second, 1 GB spans
# about an hour), so every size is much longer than the idle timeouts and
# the connections open at once are the same number all along.
echo "| capture MB | packets | span s | connections | peak open | peak RSS MB |"
echo "|---|---|---|---|---|---|"
for s in $SIZES; do
    c="$WORK/timed-$s.pcap"
    "$MK" -t "$c" "$s" 2>"$WORK/mk" || { cat "$WORK/mk" >&2; exit 1; }
    span=$(sed -n 's/.* over \([0-9]*\) s.*/\1/p' "$WORK/mk")
    n=$("$LOOP" "$c" | awk '{print $2}')
    measure "$SS" conns "$c"
    k=$(grep -vc '^#' "$WORK/out")
    peak=$(sed -n 's/.*(peak \([0-9]*\) open).*/\1/p' "$WORK/time")
    awk -v s="$s" -v n="$n" -v sp="$span" -v k="$k" -v pk="$peak" -v a="$RSS" 'BEGIN {
        printf "| %s | %s | %s | %s | %s | %.1f |\n", s, n, sp, k, pk, a / 1024 }'
    rm -f "$c"
done

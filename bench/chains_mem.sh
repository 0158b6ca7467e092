#!/bin/sh
# chains_mem.sh - peak memory of `stepstone chains` as the capture grows, at
# the same traffic rate: captures of 300, 600 and 1200 s made by `stepstone
# synth` with background and chains in proportion to the duration. With the
# streaming correlator the peak follows the connections open at a time, so it
# should stay about flat while the capture doubles; `stepstone conns` on the
# same files is the peer (it streams too). Run by hand; results go to
# docs/results/chains.md.
#
# usage: bench/chains_mem.sh [BUILD_DIR]   (default .; needs ~4.5 GB in TMPDIR)
# Environment: DURATIONS (default "300 600 1200"), RATE (background sessions
# per 3 s of capture, default 20), OTHER (another stepstone binary to measure
# alongside, e.g. an older build; optional).
set -eu
build=${1:-.}
ss="$(cd "$build" && pwd)/stepstone"
[ -x "$ss" ] || { echo "chains_mem.sh: no stepstone binary in $build" >&2; exit 1; }
DURATIONS=${DURATIONS:-"300 600 1200"}
RATE=${RATE:-20}
OTHER=${OTHER:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/stepstone-chains-mem.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

printf '| capture | size (bytes) | TCP connections | most open at once | conns peak RSS (KB) | chains peak RSS (KB) | chains wall (s) |%s\n' \
    "${OTHER:+ other chains peak RSS (KB) |}"
printf '|---|---|---|---|---|---|---|%s\n' "${OTHER:+---|}"
for d in $DURATIONS; do
    f="$work/d$d.pcap"
    "$ss" synth -q -o "$f" --labels "$work/d$d.csv" --seed 7101 --start 1700000000 \
        --duration "$d" --chains $((d / 6)) --background $((d * RATE / 3)) --max-output 20000 \
        --kind mix
    size=$(wc -c <"$f")
    cat "$f" >/dev/null
    /usr/bin/time -f %M -o "$work/conns.rss" "$ss" conns "$f" >/dev/null 2>"$work/conns.err"
    /usr/bin/time -f "%M %e" -o "$work/chains.rss" "$ss" chains --stats "$f" >/dev/null \
        2>"$work/chains.err"
    conns=$(sed -n 's/.* \([0-9]*\) TCP connections.*/\1/p' "$work/chains.err" | head -n 1)
    peak=$(sed -n 's/.*at most \([0-9]*\) connections followed.*/\1/p' "$work/chains.err")
    other=""
    if [ -n "$OTHER" ]; then
        /usr/bin/time -f %M -o "$work/other.rss" "$OTHER" chains "$f" >/dev/null 2>&1
        other=" $(cat "$work/other.rss") |"
    fi
    printf '| %s s | %s | %s | %s | %s | %s | %s |%s\n' "$d" "$size" "$conns" "$peak" \
        "$(cat "$work/conns.rss")" "$(cut -d' ' -f1 "$work/chains.rss")" \
        "$(cut -d' ' -f2 "$work/chains.rss")" "$other"
    rm -f "$f"
done

#!/bin/sh
# stream_mem.sh - peak memory of the streaming commands (`chains`, `score`,
# `embed`) as the capture grows, at the same traffic rate: captures of 300,
# 600 and 1200 s made by `stepstone synth` with background and chains in
# proportion to the duration. Each streams, so its peak follows the
# connections open at a time and should stay about flat while the capture
# doubles; `stepstone conns` on the same files is the peer (the connection
# table alone). Run by hand; results go to docs/results/streaming.md.
#
# usage: bench/stream_mem.sh [BUILD_DIR]   (default .; needs ~4.5 GB in TMPDIR)
# Environment: DURATIONS (default "300 600 1200"), RATE (background sessions
# per 3 s of capture, default 20), OTHER (another stepstone binary whose
# chains, score and embed are measured alongside, e.g. a build of the batch
# version; optional).
set -eu
build=${1:-.}
ss="$(cd "$build" && pwd)/stepstone"
[ -x "$ss" ] || { echo "stream_mem.sh: no stepstone binary in $build" >&2; exit 1; }
DURATIONS=${DURATIONS:-"300 600 1200"}
RATE=${RATE:-20}
OTHER=${OTHER:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/stepstone-stream-mem.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# peak RSS in KB of a command (its output discarded)
rss() { /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>"$work/err"; cat "$work/rss"; }

echo "| capture | size (bytes) | TCP connections | most open at once | conns | chains | score | embed |${OTHER:+ other chains | other score | other embed |}"
echo "|---|---|---|---|---|---|---|---|${OTHER:+---|---|---|}"
for d in $DURATIONS; do
    f="$work/d$d.pcap"
    "$ss" synth -q -o "$f" --labels "$work/d$d.csv" --seed 7101 --start 1700000000 \
        --duration "$d" --chains $((d / 6)) --background $((d * RATE / 3)) --max-output 20000 \
        --kind mix
    size=$(wc -c <"$f")
    cat "$f" >/dev/null
    r_conns=$(rss "$ss" conns "$f")
    r_chains=$(rss "$ss" chains --stats "$f")
    conns=$(sed -n 's/.* \([0-9]*\) TCP connections.*/\1/p' "$work/err" | head -n 1)
    peak=$(sed -n 's/.*at most \([0-9]*\) connections followed.*/\1/p' "$work/err")
    r_score=$(rss "$ss" score "$f")
    r_embed=$(rss "$ss" embed -o "$work/e.msgpack" "$f")
    other=""
    if [ -n "$OTHER" ]; then
        other=" $(rss "$OTHER" chains "$f") | $(rss "$OTHER" score "$f") |"
        other="$other $(rss "$OTHER" embed -o "$work/e.msgpack" "$f") |"
    fi
    echo "| $d s | $size | $conns | $peak | $r_conns | $r_chains | $r_score | $r_embed |$other"
    rm -f "$f" "$work/e.msgpack"
done

#!/bin/sh
# embed_mem.sh - peak memory (RSS) of `stepstone embed` against capture size
# (run by hand; not a test). Each spec D:B or D:BxN stands for N (default 1)
# synthetic captures of `stepstone synth --duration D --background B`, copy k
# starting k * (D + 400) s after the first (same seed: the same traffic again
# once every connection of the previous copy has ended), read together as one
# timeline: N times the bytes with the same connections open at a time. The
# captures are kept in WORKDIR for the next run. It measures with
# /usr/bin/time -f %M, in the same invocation:
#   embed   stepstone embed -o OUT.msgpack CAPTURE...
#   conns   stepstone conns --max-pkts 4096 CAPTURE...: the connection table
#           alone, streaming, keeping the same first 4096 packets per record
#           (the floor for anything that reads through it)
#   old     $OLD embed ... when OLD names another stepstone binary (e.g. a
#           build of the version that loaded every connection first)
# and prints one markdown row per spec: total capture size, connections,
# windows, most connections open at once (from embed's summary), each peak
# RSS in MB, the embed - conns difference, and the wall times (embed/old as a
# ratio).
#
# usage: bench/embed_mem.sh BUILDDIR [WORKDIR]
#   BUILDDIR  a configured, built out-of-tree build (holds ./stepstone)
#   WORKDIR   where captures and outputs go, a path without spaces
#             (default ${TMPDIR:-/tmp}/stepstone-embed-mem)
# environment: SPECS (default "600:700 600:2000 600:6000 600:2000x2 600:2000x3":
# about 0.3, 0.8, 2.4, 1.7 and 2.5 GB), OLD (optional peer binary), KEEP=0
# deletes the captures at the end.
set -u
build=${1:?usage: bench/embed_mem.sh BUILDDIR [WORKDIR]}
work=${2:-${TMPDIR:-/tmp}/stepstone-embed-mem}
SPECS=${SPECS:-600:700 600:2000 600:6000 600:2000x2 600:2000x3}
OLD=${OLD:-}
KEEP=${KEEP:-1}
ss="$build/stepstone"
[ -x "$ss" ] || { echo "embed_mem: $ss not found: build first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "embed_mem: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
[ -z "$OLD" ] || [ -x "$OLD" ] || { echo "embed_mem: OLD=$OLD is not executable" >&2; exit 1; }
mkdir -p "$work" || exit 1

# run LABEL CMD...: runs CMD under /usr/bin/time, leaves "RSS_KB SECONDS" in
# $work/LABEL.time and its stderr in $work/LABEL.err
run() {
    label=$1
    shift
    /usr/bin/time -o "$work/$label.time" -f '%M %e' "$@" >/dev/null 2>"$work/$label.err" || {
        echo "embed_mem: $label failed: $(cat "$work/$label.err")" >&2
        exit 1
    }
}
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

echo "| duration s | background | copies | capture MB | TCP connections | windows | most open at once | embed RSS MB | conns RSS MB | embed - conns MB |$([ -n "$OLD" ] && printf ' old embed RSS MB |') embed s |$([ -n "$OLD" ] && printf ' old s | embed/old time |')"
echo "|---|---|---|---|---|---|---|---|---|---|$([ -n "$OLD" ] && printf -- '---|')---|$([ -n "$OLD" ] && printf -- '---|---|')"
for spec in $SPECS; do
    d=${spec%%:*}
    b=${spec#*:}
    n=1
    case $b in *x*) n=${b#*x} b=${b%x*} ;; esac
    caps=""
    size=0
    k=0
    while [ $k -lt "$n" ]; do
        start=$((1700000000 + k * (d + 400)))
        cap="$work/synth-$d-$b-$start.pcap"
        if [ ! -s "$cap" ]; then
            "$ss" synth -q --duration "$d" --background "$b" --start "$start" -o "$cap" \
                --labels "$work/synth-$d-$b-$start.csv" || { echo "embed_mem: synth failed" >&2; exit 1; }
        fi
        caps="$caps $cap"
        size=$((size + $(wc -c <"$cap") / 1000000))
        k=$((k + 1))
    done
    run embed "$ss" embed -o "$work/out.msgpack" $caps
    run conns "$ss" conns --max-pkts 4096 $caps
    set -- $(cat "$work/embed.time")
    e_rss=$1 e_s=$2
    set -- $(cat "$work/conns.time")
    c_rss=$1
    summary=$(grep '^stepstone embed: [0-9]* connections' "$work/embed.err")
    conns=$(echo "$summary" | sed -n 's/^stepstone embed: \([0-9]*\) connections.*/\1/p')
    wins=$(echo "$summary" | sed -n 's/.*connections, \([0-9]*\) windows.*/\1/p')
    open=$(echo "$summary" | sed -n 's/.*at most \([0-9]*\) connections open.*/\1/p')
    row="| $d | $b | $n | $size | $conns | $wins | $open | $(mb "$e_rss") | $(mb "$c_rss") | $(mb $((e_rss - c_rss))) |"
    if [ -n "$OLD" ]; then
        run old "$OLD" embed -o "$work/old.msgpack" $caps
        set -- $(cat "$work/old.time")
        o_rss=$1 o_s=$2
        row="$row $(mb "$o_rss") | $e_s | $o_s | $(awk -v a="$e_s" -v b="$o_s" 'BEGIN { printf "%.2f", a / b }') |"
    else
        row="$row $e_s |"
    fi
    echo "$row"
    rm -f "$work/out.msgpack" "$work/old.msgpack"
    [ "$KEEP" = 1 ] || for cap in $caps; do rm -f "$cap" "${cap%.pcap}.csv"; done
done

#!/bin/sh
# e2e_synth.sh - `stepstone synth` end to end: usage errors, determinism, the
# bundled sample regenerates byte-identically, outputs are atomic, and (when
# `stepstone conns` exists) every labelled leg is a connection with packets
# both ways.
. "$top_srcdir/tests/lib.sh"
[ -x "$STEPSTONE" ] || fail "stepstone binary not found at $STEPSTONE"
tmpdir_make

expect_status() { # want, command...
    want=$1; shift
    "$@" >"$TMPD/out" 2>"$TMPD/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$TMPD/err")"
}

O="-o $TMPD/x.pcap --labels $TMPD/x.csv"

# --- usage ------------------------------------------------------------
expect_status 0 "$STEPSTONE" synth --help
for opt in --chaff --hops --jitter --background --kind --seed --duration --delay \
           --short --busy --busy-hosts --decoys --wan; do
    grep -q -- "$opt" "$TMPD/out" || fail "--help does not list $opt"
done
expect_status 2 "$STEPSTONE" synth
expect_status 2 "$STEPSTONE" synth -o "$TMPD/x.pcap"
expect_status 2 "$STEPSTONE" synth --labels "$TMPD/x.csv"
for bad in "--chaff -1" "--chaff abc" "--hops 0" "--hops 1" "--hops 1-1" "--hops 1-3" \
           "--hops 3-2" "--hops 2-99" "--hops x" "--kind telnet" "--duration 0" \
           "--duration -5" "--seed -1" "--seed 1x" "--jitter -0.1" "--delay 0" \
           "--background -2" "--chains -1" "--snaplen 10" "--bogus" "extra-arg" \
           "--short -1" "--short x" "--busy 5000" "--busy 2 --busy-hosts 101" "--decoys -3" \
           "--wan 0.001" "--wan 5" "--wan" "--chains 0 --background 0"; do
    # shellcheck disable=SC2086
    expect_status 2 "$STEPSTONE" synth $O $bad
    [ -s "$TMPD/err" ] || fail "'$bad': no message"
    [ "$(wc -l <"$TMPD/err")" -eq 1 ] || fail "'$bad': message is not one line"
    [ ! -e "$TMPD/x.pcap" ] && [ ! -e "$TMPD/x.csv" ] || fail "'$bad' left an output behind"
done

# --- determinism -------------------------------------------------------
ARGS="--duration 30 --chains 2 --hops 2-3 --background 4 --kind mix --chaff 0.5 --jitter 0.01 --max-output 20000 -q"
# shellcheck disable=SC2086
expect_status 0 "$STEPSTONE" synth -o "$TMPD/a.pcap" --labels "$TMPD/a.csv" --seed 5 $ARGS
# shellcheck disable=SC2086
expect_status 0 "$STEPSTONE" synth -o "$TMPD/b.pcap" --labels "$TMPD/b.csv" --seed 5 $ARGS
# shellcheck disable=SC2086
expect_status 0 "$STEPSTONE" synth -o "$TMPD/c.pcap" --labels "$TMPD/c.csv" --seed 6 $ARGS
cmp -s "$TMPD/a.pcap" "$TMPD/b.pcap" || fail "same seed, different pcap"
cmp -s "$TMPD/a.csv" "$TMPD/b.csv" || fail "same seed, different labels"
cmp -s "$TMPD/a.pcap" "$TMPD/c.pcap" && fail "different seeds, same pcap"
head -1 "$TMPD/a.csv" | grep -q '^chain_id,kind,relay_host_ip,in_src_ip,in_src_port,' \
    || fail "labels header"
rows=$(($(wc -l <"$TMPD/a.csv") - 1))
[ "$rows" -ge 2 ] && [ "$rows" -le 4 ] || fail "2 chains of 2-3 hops gave $rows hop pairs"
ls "$TMPD" | grep -q '\.tmp\.' && fail "temporary files left behind"

# --- short chains, busy hosts, decoys, WAN: deterministic, every chain labelled
HARD="--duration 60 --chains 2 --hops 2 --short 5 --busy 4 --decoys 3 --wan 0.15 --kind mix -q"
# shellcheck disable=SC2086
expect_status 0 "$STEPSTONE" synth -o "$TMPD/h1.pcap" --labels "$TMPD/h1.csv" --seed 8 $HARD
# shellcheck disable=SC2086
expect_status 0 "$STEPSTONE" synth -o "$TMPD/h2.pcap" --labels "$TMPD/h2.csv" --seed 8 $HARD
cmp -s "$TMPD/h1.pcap" "$TMPD/h2.pcap" || fail "same seed, different pcap (new options)"
cmp -s "$TMPD/h1.csv" "$TMPD/h2.csv" || fail "same seed, different labels (new options)"
chains=$(awk -F, 'NR > 1 { print $1 }' "$TMPD/h1.csv" | sort -u | wc -l)
[ "$chains" -eq 7 ] || fail "2 chains + 5 short ones: $chains chains labelled"

# --- the bundled sample is regenerable byte for byte (datasets/samples/README.md)
SAMPLE="$top_srcdir/datasets/samples"
if [ -f "$SAMPLE/synth-small.pcap" ]; then
    expect_status 0 "$STEPSTONE" synth -o "$TMPD/s.pcap" --labels "$TMPD/s.csv" --seed 1 \
        --duration 90 --chains 3 --hops 2-4 --background 6 --kind mix --max-output 8000
    cmp -s "$TMPD/s.pcap" "$SAMPLE/synth-small.pcap" || fail "synth-small.pcap does not regenerate"
    cmp -s "$TMPD/s.csv" "$SAMPLE/synth-small.csv" || fail "synth-small.csv does not regenerate"
fi
if [ -f "$SAMPLE/synth-chaff.pcap" ]; then
    expect_status 0 "$STEPSTONE" synth -o "$TMPD/s.pcap" --labels "$TMPD/s.csv" --seed 2 \
        --duration 60 --chains 2 --hops 3-3 --background 3 --kind plain --chaff 1 --jitter 0.05 \
        --max-output 5000
    cmp -s "$TMPD/s.pcap" "$SAMPLE/synth-chaff.pcap" || fail "synth-chaff.pcap does not regenerate"
    cmp -s "$TMPD/s.csv" "$SAMPLE/synth-chaff.csv" || fail "synth-chaff.csv does not regenerate"
fi

# --- unwritable output: exit 1, one line, nothing left ---------------------
expect_status 1 "$STEPSTONE" synth -o /nonexistent/dir/x.pcap --labels "$TMPD/u.csv"
grep -q "/nonexistent/dir/x.pcap" "$TMPD/err" || fail "unwritable output: unclear message"
[ ! -e "$TMPD/u.csv" ] || fail "labels left behind after a failure"

# --- every labelled leg is a connection with packets both ways --------------
if "$STEPSTONE" conns --help >/dev/null 2>&1; then
    expect_status 0 "$STEPSTONE" conns "$TMPD/a.pcap"
    cp "$TMPD/out" "$TMPD/conns.tsv"
    # conns.tsv: ts uid orig_h orig_p resp_h resp_p proto duration ... orig_pkts resp_pkts
    awk -F, 'NR > 1 { print $4, $5, $6, $7; print $8, $9, $10, $11 }' "$TMPD/a.csv" |
    while read -r sh sp dh dp; do
        awk -v sh="$sh" -v sp="$sp" -v dh="$dh" -v dp="$dp" -F '\t' '
            $3 == sh && $4 == sp && $5 == dh && $6 == dp && $12 > 0 && $13 > 0 { found = 1 }
            END { exit !found }' "$TMPD/conns.tsv" ||
            fail "labelled leg $sh:$sp -> $dh:$dp not in conns output with packets both ways"
    done || exit 1
else
    echo "note: stepstone conns not built; labelled legs checked by the synth Check suite only"
fi
exit 0

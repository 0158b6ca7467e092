#!/bin/sh
# e2e_dedup.sh - `stepstone conns` over several sensors: the option's
# checks, and one capture given twice (two sensors that saw everything)
# gives the same connections as given once.
. "$top_srcdir/tests/lib.sh"
[ -x "$STEPSTONE" ] || fail "stepstone binary not found at $STEPSTONE"
tmpdir_make
SAMPLE="$top_srcdir/datasets/samples/synth-small.pcap"
[ -f "$SAMPLE" ] || fail "sample capture $SAMPLE missing"

for bad in -1 abc 1e9 nan ''; do
    "$STEPSTONE" conns --dedup-window "$bad" "$SAMPLE" >/dev/null 2>"$TMPD/err"
    [ $? -eq 2 ] || fail "--dedup-window '$bad' was accepted"
    grep -q 'dedup-window' "$TMPD/err" || fail "--dedup-window '$bad': unclear message"
done
"$STEPSTONE" conns --help | grep -q -- '--dedup-window' || fail "--help does not list --dedup-window"

"$STEPSTONE" conns --json "$SAMPLE" >"$TMPD/once" 2>"$TMPD/err1" || fail "conns once: $(cat "$TMPD/err1")"
"$STEPSTONE" conns --json "$SAMPLE" "$SAMPLE" >"$TMPD/twice" 2>"$TMPD/err2" || fail "conns twice: $(cat "$TMPD/err2")"
cmp -s "$TMPD/once" "$TMPD/twice" || fail "the same capture from two sensors gives other connections"
grep -q 'duplicates from another file dropped' "$TMPD/err2" || fail "summary does not count duplicates"
"$STEPSTONE" conns --json --dedup-window 0 "$SAMPLE" "$SAMPLE" >"$TMPD/raw" 2>/dev/null || fail "conns --dedup-window 0 failed"
cmp -s "$TMPD/once" "$TMPD/raw" && fail "--dedup-window 0 still drops copies"
exit 0

#!/bin/sh
# e2e_fan.sh - `stepstone chains` on a busy relay host (bench/mkfan.py: one
# host with 40 inbound and 40 outbound connections open at once, 1600
# candidate hops): every pair is scored by default and with
# --max-candidates 0; --max-candidates 5 scores 5 per outbound connection
# (200), still gives every outbound connection its hop, and one warning names
# the host; a bad limit is a usage error (exit 2).
. "$top_srcdir/tests/lib.sh"
tmpdir_make
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not found"
cap="$TMPD/fan.pcap"
"$PY" "$top_srcdir/bench/mkfan.py" 40 "$cap" || fail "mkfan.py failed"

"$STEPSTONE" chains --json "$cap" >"$TMPD/all.jsonl" 2>"$TMPD/all.err" ||
    fail "chains exited $?: $(cat "$TMPD/all.err")"
grep -q '80 TCP connections, 1600 candidate hops, 40 hops' "$TMPD/all.err" ||
    fail "default: not every pair scored: $(cat "$TMPD/all.err")"
grep -q 'warning' "$TMPD/all.err" && fail "default limit warned: $(cat "$TMPD/all.err")"

"$STEPSTONE" chains --json --max-candidates 0 "$cap" >"$TMPD/none.jsonl" 2>"$TMPD/none.err" ||
    fail "chains --max-candidates 0 exited $?: $(cat "$TMPD/none.err")"
cmp -s "$TMPD/all.jsonl" "$TMPD/none.jsonl" || fail "--max-candidates 0 changed the output"

"$STEPSTONE" chains --max-candidates 5 "$cap" >"$TMPD/cap.txt" 2>"$TMPD/cap.err" ||
    fail "chains --max-candidates 5 exited $?: $(cat "$TMPD/cap.err")"
grep -q '80 TCP connections, 200 candidate hops, 40 hops' "$TMPD/cap.err" ||
    fail "--max-candidates 5: $(cat "$TMPD/cap.err")"
[ "$(grep -c 'warning: host 10\.0\.0\.1: .* more than 5 candidate' "$TMPD/cap.err")" = 1 ] ||
    fail "--max-candidates 5: no single warning naming the host: $(cat "$TMPD/cap.err")"
grep -q '40 outbound connections scored on at most 5 candidates' "$TMPD/cap.err" ||
    fail "--max-candidates 5: no count of the capped connections: $(cat "$TMPD/cap.err")"

for bad in -1 x 100000001; do
    "$STEPSTONE" chains --max-candidates "$bad" "$cap" >/dev/null 2>"$TMPD/bad.err"
    rc=$?
    [ "$rc" = 2 ] || fail "--max-candidates $bad exited $rc, not 2"
    grep -q -- '--max-candidates needs an integer' "$TMPD/bad.err" ||
        fail "--max-candidates $bad: $(cat "$TMPD/bad.err")"
done
echo "e2e_fan: ok"

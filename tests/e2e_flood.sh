#!/bin/sh
# e2e_flood.sh - the bound on open connections (--max-open) end to end: on a
# small generated SYN flood (bench/mkflood.py: 5000 SYNs from distinct
# sources in 2 s, one real session among them) each of conns, chains, score
# and embed under --max-open 1000 holds at most 1000 connections, reports
# the 4001 evictions in its summary, and conns emits every evicted
# connection (S0, end_reason "evicted") while the session comes out whole.
. "$top_srcdir/tests/lib.sh"
[ -x "$STEPSTONE" ] || fail "stepstone binary not found at $STEPSTONE"
command -v python3 >/dev/null || skip "python3 missing"
tmpdir_make
CAP="$TMPD/flood.pcap"
python3 "$top_srcdir/bench/mkflood.py" "$CAP" 5000 2 || fail "mkflood.py failed"

# --- usage ----------------------------------------------------------------
for cmd in conns chains score embed; do
    for bad in -1 abc 12x 99999999999; do
        "$STEPSTONE" $cmd --max-open $bad -o "$TMPD/x" "$CAP" >/dev/null 2>"$TMPD/err"
        [ $? -eq 2 ] || fail "$cmd --max-open $bad: not a usage error"
    done
    "$STEPSTONE" $cmd --help | grep -q -- '--max-open' || fail "$cmd --help does not list --max-open"
done

# --- conns ----------------------------------------------------------------
"$STEPSTONE" conns --json --max-open 1000 "$CAP" >"$TMPD/c.json" 2>"$TMPD/err" ||
    fail "conns --max-open failed: $(cat "$TMPD/err")"
grep -q 'connections (peak 1000 open, 4001 evicted)' "$TMPD/err" ||
    fail "conns summary: $(cat "$TMPD/err")"
[ "$(wc -l <"$TMPD/c.json")" -eq 5001 ] || fail "conns: not every connection emitted"
[ "$(grep -c '"end_reason":"evicted"' "$TMPD/c.json")" -eq 4001 ] || fail "conns: evicted records"
[ "$(grep '"end_reason":"evicted"' "$TMPD/c.json" | grep -vc '"conn_state":"S0"')" -eq 0 ] ||
    fail "conns: an evicted connection is not an S0 attempt"
grep '"id.resp_p":22,' "$TMPD/c.json" | grep -q '"orig_bytes":960,"resp_bytes":1920,"conn_state":"SF"' ||
    fail "conns: the session was not kept whole"
# no bound: nothing evicted, the same connections
"$STEPSTONE" conns --max-open 0 "$CAP" >"$TMPD/c0.tsv" 2>"$TMPD/err" || fail "conns --max-open 0"
grep -q '(peak 5001 open, 0 evicted)' "$TMPD/err" || fail "conns --max-open 0: $(cat "$TMPD/err")"
[ "$(grep -vc '^#' "$TMPD/c0.tsv")" -eq 5001 ] || fail "conns --max-open 0: connections"

# --- chains, score, embed: the count in each summary ---------------------
"$STEPSTONE" chains --threads 1 --max-open 1000 --stats "$CAP" >"$TMPD/ch" 2>"$TMPD/err" ||
    fail "chains --max-open failed: $(cat "$TMPD/err")"
grep -q '; 4001 connections evicted$' "$TMPD/err" || fail "chains summary: $(cat "$TMPD/err")"
grep -q 'at most 1000 connections followed' "$TMPD/err" || fail "chains held more than 1000"
grep -q 'embedding [0-9.]* s (0 windows' "$TMPD/err" ||
    fail "chains embedded windows of connections without payload: $(cat "$TMPD/err")"
"$STEPSTONE" score --threads 1 --max-open 1000 "$CAP" >"$TMPD/sc" 2>"$TMPD/err" ||
    fail "score --max-open failed: $(cat "$TMPD/err")"
grep -q ', 4001 connections evicted$' "$TMPD/err" || fail "score summary: $(cat "$TMPD/err")"
"$STEPSTONE" embed --threads 1 --max-open 1000 -o "$TMPD/e.msgpack" "$CAP" 2>"$TMPD/err" ||
    fail "embed --max-open failed: $(cat "$TMPD/err")"
grep -q 'at most 1000 connections open at once, 4001 evicted)' "$TMPD/err" ||
    fail "embed summary: $(cat "$TMPD/err")"
exit 0

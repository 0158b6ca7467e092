#!/bin/sh
# e2e_eval.sh - `stepstone eval` on generated and bundled captures: the table,
# --json, --roc, --plot, bad input, and the real socks5 relay capture.
. "$top_srcdir/tests/lib.sh"
tmpdir_make

"$STEPSTONE" synth -q -o "$TMPD/s.pcap" --labels "$TMPD/s.csv" --seed 1300 --duration 200 \
    --chains 5 --background 30 --kind mix || fail "synth"

# table with every method; Zhang-Paxson finds every chain without chaff/jitter
"$STEPSTONE" eval --labels "$TMPD/s.csv" "$TMPD/s.pcap" >"$TMPD/table.txt" || fail "eval table"
grep -q "^zhang-paxson " "$TMPD/table.txt" || fail "no zhang-paxson row"
grep -q "0 missed" "$TMPD/table.txt" || fail "labelled hops missed by the candidates"
grep "^zhang-paxson " "$TMPD/table.txt" | grep -q " 5/5 " || fail "zhang-paxson did not rebuild the 5 chains"

# JSON: parse it and check the numbers are consistent
"$STEPSTONE" eval --labels "$TMPD/s.csv" --method zhang-paxson,random --json \
    --roc "$TMPD/roc.csv" -o "$TMPD/r.json" "$TMPD/s.pcap" || fail "eval --json"
/usr/bin/python3 - "$TMPD/r.json" "$TMPD/roc.csv" <<'PY' || fail "JSON/ROC content"
import json, sys, csv
r = json.load(open(sys.argv[1]))
assert r["missed"] == 0 and r["positives"] == r["labelled_hops"] > 0, r
m = {x["method"]: x for x in r["methods"]}
assert set(m) == {"zhang-paxson", "random"}, m.keys()
assert m["zhang-paxson"]["auc"] > 0.9 > m["random"]["auc"] + 0.15, m
assert m["zhang-paxson"]["chains_reconstructed"] == r["labelled_chains"] == 5
rows = list(csv.DictReader(open(sys.argv[2])))
assert {x["method"] for x in rows} == {"zhang-paxson", "random"}
last = [x for x in rows if x["method"] == "random"][-1]
assert float(last["fpr"]) == 1.0 and float(last["tpr"]) == 1.0, last
PY

# a plot when gnuplot is here
if command -v gnuplot >/dev/null 2>&1; then
    "$STEPSTONE" eval --labels "$TMPD/s.csv" --method ipd --plot "$TMPD/roc.png" \
        "$TMPD/s.pcap" >/dev/null || fail "eval --plot"
    head -c 8 "$TMPD/roc.png" | od -c | grep -q "P   N   G" || fail "plot is not a PNG"
fi

# bad input: one line, non-zero exit, nothing left behind
expect_fail() { # status, then the command
    want=$1; shift
    "$@" >"$TMPD/out" 2>"$TMPD/err"; got=$?
    [ "$got" -eq "$want" ] || fail "exit $got, wanted $want: $*"
    [ "$(wc -l <"$TMPD/err")" -eq 1 ] || fail "not one line of error: $(cat "$TMPD/err")"
}
expect_fail 2 "$STEPSTONE" eval "$TMPD/s.pcap"
expect_fail 2 "$STEPSTONE" eval --labels "$TMPD/s.csv"
expect_fail 2 "$STEPSTONE" eval --labels "$TMPD/s.csv" --method nope "$TMPD/s.pcap"
expect_fail 2 "$STEPSTONE" eval --labels "$TMPD/s.csv" --min-overlap -1 "$TMPD/s.pcap"
expect_fail 1 "$STEPSTONE" eval --labels "$TMPD/missing.csv" "$TMPD/s.pcap"
expect_fail 1 "$STEPSTONE" eval --labels "$TMPD/s.csv" "$TMPD/missing.pcap"
echo "not,a,label" >"$TMPD/bad.csv"
expect_fail 1 "$STEPSTONE" eval --labels "$TMPD/bad.csv" "$TMPD/s.pcap"
head -c 3000 "$TMPD/s.pcap" >"$TMPD/cut.pcap"
"$STEPSTONE" eval --labels "$TMPD/s.csv" -o "$TMPD/cut.txt" "$TMPD/cut.pcap" 2>/dev/null
[ $? -le 1 ] || fail "truncated capture"
expect_fail 1 "$STEPSTONE" eval --labels "$TMPD/s.csv" -o /nonexistent/dir/x "$TMPD/s.pcap"
ls "$TMPD" | grep -q tmp && fail "temporary file left behind"

# the real socks5 relay: client -> proxy :7890 then proxy -> telnet :23
need_realdata
cap="$REALDATA/socks5-telnet-relay.pcapng"
[ -f "$cap" ] || skip "$cap not found"
"$STEPSTONE" eval --labels "$top_srcdir/tests/socks5-telnet-relay.labels.csv" --json "$cap" \
    >"$TMPD/socks.json" || fail "eval on $cap"
/usr/bin/python3 - "$TMPD/socks.json" <<'PY' || fail "socks5 relay hop not a candidate"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["labelled_hops"] == 1 and r["positives"] == 1 and r["missed"] == 0, r
PY
exit 0

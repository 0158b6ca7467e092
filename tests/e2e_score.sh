#!/bin/sh
# e2e_score.sh - `stepstone score` end to end on real captures: JSON lines that
# parse and agree with themselves, the three methods, -o, bad models and
# captures refused with one line and exit 1; `train sessions` when wired in.
. "$top_srcdir/tests/lib.sh"
need_realdata
tmpdir_make
cap="$REALDATA/zeek-sshguess.pcap"
[ -r "$cap" ] || skip "$cap missing"

check_json() { # FILE METHOD: every line a session with consistent fields
    /usr/bin/python3 - "$1" "$2" <<'PY' || fail "bad JSON output for $2"
import json, math, sys
path, method = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
assert lines, "no session printed"
prev = None
for line in lines:
    s = json.loads(line)
    for k in ("host", "start", "end", "connections", "score", "threshold", "flagged", "least_expected"):
        assert k in s, "missing " + k
    assert s["host"] in ("192.168.56.1", "192.168.56.103"), s["host"]
    assert 1 <= s["connections"] <= 25
    assert s["start"] <= s["end"]
    # summed surprisal / sqrt(n): at least 0 (every prediction certain and right), at
    # most sqrt(n) * 27.7 (every likelihood at its 1e-12 floor)
    n = s["connections"]
    assert math.isfinite(s["score"]) and 0.0 <= s["score"] <= 27.7 * n ** 0.5, line
    assert s["flagged"] == (s["score"] > s["threshold"] + 1e-6) or abs(s["score"] - s["threshold"]) < 2e-6, line
    le = s["least_expected"]
    assert le["uid"].startswith("C") and 0.0 <= le["likelihood"] <= 1.0
    assert le["state"].startswith("tcp/22 ")
    assert prev is None or prev <= s["start"], "not in start order"
    prev = s["start"]
# 11 connections, each in one session of the client and one of the server
assert sum(json.loads(l)["connections"] for l in lines) == 22, "connections do not add up"
PY
}

for m in bilstm lstm1 markov; do
    "$STEPSTONE" score --json --method $m "$cap" > "$TMPD/$m.json" 2> "$TMPD/err" ||
        fail "score --method $m exited $?: $(cat "$TMPD/err")"
    check_json "$TMPD/$m.json" $m
done
cmp -s "$TMPD/bilstm.json" "$TMPD/markov.json" && fail "bilstm and markov give identical output"
# the compiled-in model flags the password guesser (11 logins in 70 s) on both sides
[ "$(grep -c '"flagged":true' "$TMPD/bilstm.json")" -eq 2 ] ||
    fail "default model: the password guessing sessions are not both flagged"

# text output through -o, same sessions as JSON
"$STEPSTONE" score -o "$TMPD/out.tsv" "$cap" 2> "$TMPD/err" || fail "score -o failed"
[ "$(head -c 7 "$TMPD/out.tsv")" = "#fields" ] || fail "no #fields header"
[ $(($(wc -l < "$TMPD/out.tsv") - 1)) -eq "$(wc -l < "$TMPD/bilstm.json")" ] ||
    fail "text and JSON disagree on the number of sessions"
ls "$TMPD" | grep -q tmp && fail "temporary output file left behind"

# bad model files: exit 1, one line naming the file
printf 'not a model at all' > "$TMPD/junk.model"
for bad in "$TMPD/junk.model" "$TMPD/missing.model"; do
    "$STEPSTONE" score --model "$bad" "$cap" > "$TMPD/out" 2> "$TMPD/err"
    rc=$?
    [ $rc -eq 1 ] || fail "model $bad: exit $rc, expected 1"
    [ "$(wc -l < "$TMPD/err")" -eq 1 ] || fail "model $bad: expected one error line, got: $(cat "$TMPD/err")"
    grep -q "$bad" "$TMPD/err" || fail "error does not name $bad"
    [ -s "$TMPD/out" ] && fail "output written despite a bad model"
done
: > "$TMPD/empty.model"
"$STEPSTONE" score --model "$TMPD/empty.model" "$cap" 2> "$TMPD/err" >/dev/null
[ $? -eq 1 ] || fail "empty model accepted"
# bad capture: exit 1; bad option: exit 2
"$STEPSTONE" score "$TMPD/junk.model" > /dev/null 2>&1
[ $? -eq 1 ] || fail "a non-capture input should exit 1"
"$STEPSTONE" score --method bogus "$cap" > /dev/null 2>&1
[ $? -eq 2 ] || fail "--method bogus should exit 2"

# captures of other times merged into one timeline: each begins in the middle of
# connections, and those are left out at every capture's beginning, not only at the
# first one's. The last 30% of the nginx capture (cut in time, as the evaluation does)
# begins with such fragments; scored after the (older, other hosts) Wikipedia capture,
# the sessions must be exactly those of the two scored alone.
ngx="$REALDATA/detgen-nginx-server.pcap"
wik="$REALDATA/zeek-wikipedia.pcap"
if [ -r "$ngx" ] && [ -r "$wik" ]; then
    cut=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1] + "/datasets/netns"); import pcapfile; t = [p[0] for p in pcapfile.packets(sys.argv[2])]; print(repr(min(t) + 0.7 * (max(t) - min(t))))' "$top_srcdir" "$ngx") ||
        fail "cannot read $ngx"
    /usr/bin/python3 "$top_srcdir/datasets/pcapshift.py" "$ngx" "$TMPD/ngx30.pcap" --from "$cut" ||
        fail "pcapshift.py failed"
    "$STEPSTONE" score --json "$TMPD/ngx30.pcap" > "$TMPD/a.json" 2>/dev/null || fail "score ngx30 failed"
    "$STEPSTONE" score --json "$wik" > "$TMPD/b.json" 2>/dev/null || fail "score wikipedia failed"
    "$STEPSTONE" score --json "$wik" "$TMPD/ngx30.pcap" > "$TMPD/ab.json" 2>/dev/null ||
        fail "score wikipedia + ngx30 failed"
    /usr/bin/python3 - "$TMPD/a.json" "$TMPD/b.json" "$TMPD/ab.json" <<'PY' || fail "sessions of merged captures differ from those of each alone"
import json, sys
def key(path):
    return sorted((s["host"], s["start"], s["end"], s["connections"], s["score"], s["flagged"])
                  for s in map(json.loads, open(path)))
alone, merged = sorted(key(sys.argv[1]) + key(sys.argv[2])), key(sys.argv[3])
assert alone, "no session"
assert merged == alone, "merged: %d sessions, alone: %d" % (len(merged), len(alone))
PY
fi

# training, when `train sessions` is wired into `stepstone train`
if "$STEPSTONE" train sessions --help > /dev/null 2>&1; then
    "$STEPSTONE" train sessions -q --epochs 3 --threads 1 -o "$TMPD/s.model" \
        "$REALDATA/zeek-ssh-mixed.pcap" "$REALDATA/zeek-wikipedia.pcap" 2> "$TMPD/err" ||
        fail "train sessions failed: $(cat "$TMPD/err")"
    grep -q "overlap in time" "$TMPD/err" && fail "captures of different years reported overlapping"
    "$STEPSTONE" score --json --model "$TMPD/s.model" "$cap" > "$TMPD/own.json" 2> "$TMPD/err" ||
        fail "score with a trained model failed: $(cat "$TMPD/err")"
    check_json "$TMPD/own.json" own
    # captures that overlap in time are merged into one timeline: a warning names
    # both, the model is still written
    "$STEPSTONE" train sessions -q --epochs 1 --threads 1 -o "$TMPD/ov.model" \
        "$REALDATA/zeek-wikipedia.pcap" "$REALDATA/zeek-wikipedia.pcap" 2> "$TMPD/err" ||
        fail "train sessions on overlapping captures failed: $(cat "$TMPD/err")"
    grep -q "warning: training captures .*zeek-wikipedia.pcap and .*zeek-wikipedia.pcap overlap in time" \
        "$TMPD/err" || fail "no overlap warning: $(cat "$TMPD/err")"
    [ -s "$TMPD/ov.model" ] || fail "no model written for overlapping captures"
    # the score's burst part and the bound of host thresholds: out-of-range values are
    # usage errors (exit 2, one line, no model written)
    for bad in "--score-top 65" "--score-top -1" "--host-factor 0.5" "--host-factor x"; do
        # shellcheck disable=SC2086 # bad is an option and its value
        "$STEPSTONE" train sessions -q $bad -o "$TMPD/bad.model" "$cap" > /dev/null 2> "$TMPD/err"
        rc=$?
        [ $rc -eq 2 ] || fail "train sessions $bad: exit $rc, expected 2"
        [ "$(wc -l < "$TMPD/err")" -eq 1 ] || fail "train sessions $bad: $(cat "$TMPD/err")"
        [ -e "$TMPD/bad.model" ] && fail "train sessions $bad wrote a model"
    done
    # without the burst part and the bound, the scores of the same capture differ only
    # where a session is longer than 5 connections or a host has its own threshold
    "$STEPSTONE" train sessions -q --epochs 3 --threads 1 --score-top 0 --host-factor 0 \
        -o "$TMPD/plain.model" "$REALDATA/zeek-ssh-mixed.pcap" "$REALDATA/zeek-wikipedia.pcap" \
        2> "$TMPD/err" || fail "train sessions --score-top 0 --host-factor 0 failed: $(cat "$TMPD/err")"
    "$STEPSTONE" score --json --model "$TMPD/plain.model" "$cap" > "$TMPD/plain.json" 2> "$TMPD/err" ||
        fail "score with the plain model failed: $(cat "$TMPD/err")"
    check_json "$TMPD/plain.json" plain
    # encoder vectors: the models above took the compiled-in encoder's; a model trained
    # with --encoder none takes none, and the wrong encoder is refused in one line
    "$STEPSTONE" train sessions -q --epochs 2 --threads 1 --encoder none --score-rule \
        mean-likelihood -o "$TMPD/noenc.model" "$REALDATA/zeek-ssh-mixed.pcap" 2> "$TMPD/err" ||
        fail "train sessions --encoder none failed: $(cat "$TMPD/err")"
    "$STEPSTONE" score --json --model "$TMPD/noenc.model" "$cap" > "$TMPD/noenc.json" 2> "$TMPD/err" ||
        fail "score with a model without vectors failed: $(cat "$TMPD/err")"
    check_json "$TMPD/noenc.json" noenc
    /usr/bin/python3 -c 'import json,sys; s=[json.loads(l)["score"] for l in open(sys.argv[1])]; assert s and all(0 <= x <= 1 for x in s), s' \
        "$TMPD/noenc.json" || fail "mean-likelihood scores are not in [0, 1]"
    for args in "--model $TMPD/noenc.model --encoder $TMPD/noenc.model" \
                "--model $TMPD/s.model --encoder $TMPD/s.model"; do
        # shellcheck disable=SC2086 # args is a list of options
        "$STEPSTONE" score $args "$cap" > /dev/null 2> "$TMPD/err"
        rc=$?
        [ $rc -eq 1 ] || fail "score $args: exit $rc, expected 1"
        [ "$(wc -l < "$TMPD/err")" -eq 1 ] || fail "score $args: $(cat "$TMPD/err")"
    done
    "$STEPSTONE" train sessions -q --score-rule mean -o "$TMPD/bad.model" "$cap" > /dev/null 2>&1
    [ $? -eq 2 ] || fail "--score-rule mean should exit 2"
    /usr/bin/python3 - "$TMPD/own.json" "$TMPD/plain.json" <<'PY' || fail "burst part: scores disagree"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b)
for x, y in zip(a, b):
    assert x["host"] == y["host"] and x["connections"] == y["connections"]
    if x["connections"] <= 5:  # whole part only: the same network, the same score
        assert abs(x["score"] - y["score"]) < 1e-5, (x, y)
    else:  # the burst part can only raise it
        assert x["score"] >= y["score"] - 1e-5, (x, y)
PY
else
    echo "note: 'stepstone train sessions' not wired in; training part not run" >&2
fi
exit 0

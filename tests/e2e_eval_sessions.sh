#!/bin/sh
# e2e_eval_sessions.sh - `stepstone eval sessions` on real captures: the JSON
# report has every field and its counts, rates and AUCs equal those computed
# from `stepstone score --json --method X` of the same captures; the text report
# has one section of tables per method; usage errors exit 2 and bad captures or
# models exit 1, in one line, writing nothing.
. "$top_srcdir/tests/lib.sh"
need_realdata
tmpdir_make
for f in detgen-nginx-server.pcap zeek-wikipedia.pcap zeek-sshguess.pcap ndpi-synscan.pcap \
         cicids2017-sqli-slice.pcap; do
    [ -r "$REALDATA/$f" ] || skip "$REALDATA/$f missing"
done
R=$REALDATA
set -- --benign "$R/detgen-nginx-server.pcap" --benign "$R/zeek-wikipedia.pcap" \
    --attack "ssh brute force=$R/zeek-sshguess.pcap" --attack "port scan=$R/ndpi-synscan.pcap" \
    --attack "sql injection=$R/cicids2017-sqli-slice.pcap"

# JSON report through -o, progress on stderr
"$STEPSTONE" eval sessions --json -o "$TMPD/eval.json" "$@" 2> "$TMPD/err" ||
    fail "eval sessions --json exited $?: $(cat "$TMPD/err")"
[ "$(grep -c '^stepstone eval sessions: \[[1-5]/5\] ' "$TMPD/err")" -eq 5 ] ||
    fail "expected one progress line per capture, got: $(cat "$TMPD/err")"
ls "$TMPD" | grep -q tmp && fail "temporary output file left behind"

# the same captures through `score`, one run per capture and method
for m in bilstm lstm1 markov; do
    for f in detgen-nginx-server zeek-wikipedia zeek-sshguess ndpi-synscan cicids2017-sqli-slice; do
        "$STEPSTONE" score --json --method $m "$R/$f.pcap" > "$TMPD/$m.$f.json" 2> "$TMPD/err" ||
            fail "score --method $m $f exited $?: $(cat "$TMPD/err")"
    done
done

/usr/bin/python3 - "$TMPD" "$R" <<'PY' || fail "eval sessions JSON disagrees with score"
import json, math, os, sys
tmpd, R = sys.argv[1], sys.argv[2]
caps = [("detgen-nginx-server", None), ("zeek-wikipedia", None),
        ("zeek-sshguess", "ssh brute force"), ("ndpi-synscan", "port scan"),
        ("cicids2017-sqli-slice", "sql injection")]
kinds = ["ssh brute force", "port scan", "sql injection"]
rep = json.load(open(os.path.join(tmpd, "eval.json")))
for k in ("model", "benign_captures", "attack_captures", "benign_sessions", "attack_sessions",
          "methods"):
    assert k in rep, "missing " + k
assert rep["model"] == "compiled-in"
assert (rep["benign_captures"], rep["attack_captures"]) == (2, 3)
assert [m["method"] for m in rep["methods"]] == ["bilstm", "lstm1", "markov"]

def auc(pos, neg):  # Mann-Whitney, ties one half
    if not pos or not neg:
        return None
    s = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return s / (len(pos) * len(neg))

def rate(k, n):
    return k / n if n else None

def close(a, b, what):
    if a is None or b is None:
        assert a is None and b is None, "%s: %r != %r" % (what, a, b)
    else:
        assert abs(a - b) <= 2e-6, "%s: %r != %r" % (what, a, b)

for mr in rep["methods"]:
    m = mr["method"]
    for k in ("benign", "attack", "auc", "kinds", "captures"):
        assert k in mr, "%s: missing %s" % (m, k)
    sess = {}
    for f, _ in caps:
        sess[f] = [json.loads(l) for l in open(os.path.join(tmpd, "%s.%s.json" % (m, f)))]
    ben = [s for f, kd in caps if kd is None for s in sess[f]]
    att = [s for f, kd in caps if kd is not None for s in sess[f]]
    assert ben and att, "score printed no sessions"
    b = mr["benign"]
    for k in ("sessions", "flagged", "false_positive_rate", "captures", "captures_flagged"):
        assert k in b, "%s: benign: missing %s" % (m, k)
    assert b["sessions"] == len(ben), (m, b, len(ben))
    assert b["flagged"] == sum(s["flagged"] for s in ben), (m, b)
    close(b["false_positive_rate"], rate(b["flagged"], b["sessions"]), m + " fpr")
    assert b["captures"] == 2
    a = mr["attack"]
    for k in ("sessions", "flagged", "detection_rate", "captures", "captures_flagged"):
        assert k in a, "%s: attack: missing %s" % (m, k)
    assert a["sessions"] == len(att) and a["flagged"] == sum(s["flagged"] for s in att), (m, a)
    assert a["captures"] == 3
    assert a["captures_flagged"] == sum(1 for f, kd in caps
                                        if kd and any(s["flagged"] for s in sess[f]))
    close(a["detection_rate"], rate(a["flagged"], a["sessions"]), m + " detection rate")
    bs = [s["score"] for s in ben]
    close(mr["auc"], auc([s["score"] for s in att], bs), m + " auc")
    assert [k["kind"] for k in mr["kinds"]] == kinds, mr["kinds"]
    for kr in mr["kinds"]:
        for k in ("kind", "sessions", "flagged", "detection_rate", "captures",
                  "captures_flagged", "auc"):
            assert k in kr, "%s: kind: missing %s" % (m, k)
        ks = [s for f, kd in caps if kd == kr["kind"] for s in sess[f]]
        assert kr["sessions"] == len(ks), (m, kr)
        assert kr["flagged"] == sum(s["flagged"] for s in ks), (m, kr)
        assert kr["captures"] == 1 and kr["captures_flagged"] == (kr["flagged"] > 0), (m, kr)
        close(kr["detection_rate"], rate(kr["flagged"], kr["sessions"]), m + " kind rate")
        close(kr["auc"], auc([s["score"] for s in ks], bs), m + " kind auc")
    assert len(mr["captures"]) == 5
    for cr, (f, kd) in zip(mr["captures"], caps):
        for k in ("file", "kind", "connections", "sessions", "flagged", "flagged_rate"):
            assert k in cr, "%s: capture: missing %s" % (m, k)
        assert cr["file"] == os.path.join(R, f + ".pcap") and cr["kind"] == kd, cr
        assert cr["sessions"] == len(sess[f]), (m, cr)
        assert cr["flagged"] == sum(s["flagged"] for s in sess[f]), (m, cr)
        assert cr["connections"] > 0
        close(cr["flagged_rate"], rate(cr["flagged"], cr["sessions"]), m + " capture rate")
# the methods do not all agree (the comparison compares something)
assert len({json.dumps(mr["captures"]) for mr in rep["methods"]}) > 1, "methods identical"
PY

# text report: a section of tables per method asked for, nothing on stderr with -q
"$STEPSTONE" eval sessions -q --method markov,lstm1 "$@" > "$TMPD/eval.txt" 2> "$TMPD/err" ||
    fail "eval sessions (text) exited $?: $(cat "$TMPD/err")"
[ -s "$TMPD/err" ] && fail "-q still wrote to stderr: $(cat "$TMPD/err")"
[ "$(grep '^## ' "$TMPD/eval.txt" | tr '\n' ' ')" = "## markov ## lstm1 " ] ||
    fail "expected one section per method (markov, lstm1): $(grep '^## ' "$TMPD/eval.txt")"
[ "$(grep -c '^| attack kind |' "$TMPD/eval.txt")" -eq 2 ] || fail "expected one kind table per method"
[ "$(grep -c '^| capture |' "$TMPD/eval.txt")" -eq 2 ] || fail "expected one capture table per method"
grep -q '^| port scan | 160 | ' "$TMPD/eval.txt" || fail "no port scan row with its 160 sessions"
[ "$(grep -c '^| [^|]* | benign | ' "$TMPD/eval.txt")" -eq 4 ] || fail "expected 2 benign rows per method"

# usage errors: exit 2, one line, no output file
W="$R/zeek-wikipedia.pcap"
G="$R/zeek-sshguess.pcap"
usage_err() { # ARGS...: must exit 2 with one line and write nothing
    "$STEPSTONE" eval sessions -o "$TMPD/bad.out" "$@" > "$TMPD/out" 2> "$TMPD/err"
    rc=$?
    [ $rc -eq 2 ] || fail "eval sessions $*: exit $rc, expected 2"
    [ "$(wc -l < "$TMPD/err")" -eq 1 ] || fail "eval sessions $*: expected one line: $(cat "$TMPD/err")"
    [ -e "$TMPD/bad.out" ] && fail "eval sessions $*: output written despite a usage error"
    [ -s "$TMPD/out" ] && fail "eval sessions $*: stdout written despite a usage error"
    return 0
}
usage_err --attack "x=$G"
usage_err --benign "$W"
usage_err
usage_err --benign "$W" --attack "$G"
usage_err --benign "$W" --attack "=$G"
usage_err --benign "$W" --attack "x="
usage_err --benign "$W" --attack "x=$G" --method bilstm,bogus
usage_err --benign "$W" --attack "x=$G" --method ""
usage_err --benign "$W" --attack "x=$G" --bogus
usage_err --benign "$W" --attack "x=$G" "$G"

# unreadable or corrupt captures, bad models: exit 1, one line naming the file, nothing written
printf 'not a capture' > "$TMPD/junk.pcap"
fail_err() { # NAME ARGS...: must exit 1 with one line naming NAME and write nothing
    name=$1; shift
    "$STEPSTONE" eval sessions -q -o "$TMPD/bad.out" "$@" > "$TMPD/out" 2> "$TMPD/err"
    rc=$?
    [ $rc -eq 1 ] || fail "eval sessions $*: exit $rc, expected 1"
    [ "$(wc -l < "$TMPD/err")" -eq 1 ] || fail "eval sessions $*: expected one line: $(cat "$TMPD/err")"
    grep -qF "$name" "$TMPD/err" || fail "eval sessions $*: error does not name $name"
    [ -e "$TMPD/bad.out" ] && fail "eval sessions $*: output written despite a failure"
    [ -s "$TMPD/out" ] && fail "eval sessions $*: stdout written despite a failure"
    return 0
}
fail_err "$TMPD/missing.pcap" --benign "$W" --attack "x=$TMPD/missing.pcap"
fail_err "$TMPD/junk.pcap" --benign "$TMPD/junk.pcap" --attack "x=$G"
fail_err "$TMPD/junk.pcap" --benign "$W" --attack "x=$G" --model "$TMPD/junk.pcap"
ls "$TMPD" | grep -q tmp && fail "temporary output file left behind"

"$STEPSTONE" eval sessions --help | grep -q -- '--attack KIND=FILE' || fail "--help lacks --attack"
"$STEPSTONE" eval --help | grep -q 'eval sessions --help' || fail "eval --help does not point to eval sessions"
exit 0

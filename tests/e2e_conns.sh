#!/bin/sh
# e2e_conns.sh - `stepstone conns` end to end: usage errors, bad input, the
# output file option, determinism, and golden outputs on the real captures.
#
# Golden files: tests/golden/conns/<capture>.tsv (TSV output of every capture
# in $REALDATA and $REALDATA/linktypes) and a few .json (--json --packets).
# To regenerate them after an intended change, run with STEPSTONE_REGEN=1 and
# review the diff before committing.
. "$top_srcdir/tests/lib.sh"
[ -x "$STEPSTONE" ] || fail "stepstone binary not found at $STEPSTONE"
tmpdir_make
GOLDEN="$top_srcdir/tests/golden/conns"

expect_status() { # want, command...
    want=$1; shift
    "$@" >"$TMPD/out" 2>"$TMPD/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$TMPD/err")"
}

# --- usage ------------------------------------------------------------
expect_status 0 "$STEPSTONE" conns --help
grep -q -- '--tcp-timeout' "$TMPD/out" || fail "--help does not list --tcp-timeout"
expect_status 2 "$STEPSTONE" conns
expect_status 2 "$STEPSTONE" conns --tcp-timeout -5 x.pcap
grep -q 'positive number' "$TMPD/err" || fail "negative timeout: unclear message"
expect_status 2 "$STEPSTONE" conns --udp-timeout abc x.pcap
expect_status 2 "$STEPSTONE" conns --active-timeout 0 x.pcap
expect_status 2 "$STEPSTONE" conns --icmp-timeout nan x.pcap
expect_status 2 "$STEPSTONE" conns --max-pkts -1 x.pcap
expect_status 2 "$STEPSTONE" conns --max-pkts 12x x.pcap
expect_status 2 "$STEPSTONE" conns --packets x.pcap
expect_status 2 "$STEPSTONE" conns --bogus x.pcap
expect_status 2 "$STEPSTONE" conns x.pcap --tcp-timeout

# --- bad input: one clear line, exit 1 ----------------------------------
expect_status 1 "$STEPSTONE" conns "$TMPD/does-not-exist.pcap"
[ "$(wc -l <"$TMPD/err")" -ge 1 ] || fail "no message for a missing file"
printf 'this is not a capture file at all\n' >"$TMPD/junk.pcap"
expect_status 1 "$STEPSTONE" conns "$TMPD/junk.pcap"
: >"$TMPD/empty.pcap"
expect_status 1 "$STEPSTONE" conns "$TMPD/empty.pcap"

need_realdata

# --- golden outputs -----------------------------------------------------
n=0
for f in "$REALDATA"/*.pcap "$REALDATA"/*.pcapng "$REALDATA"/linktypes/*.pcap "$REALDATA"/linktypes/*.pcapng; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    "$STEPSTONE" conns "$f" >"$TMPD/$name.tsv" 2>"$TMPD/err" ||
        fail "$name: exit $?: $(cat "$TMPD/err")"
    if [ -n "$STEPSTONE_REGEN" ]; then
        mkdir -p "$GOLDEN" && cp "$TMPD/$name.tsv" "$GOLDEN/$name.tsv"
    fi
    [ -f "$GOLDEN/$name.tsv" ] || fail "$name: no golden file $GOLDEN/$name.tsv"
    if ! cmp -s "$GOLDEN/$name.tsv" "$TMPD/$name.tsv"; then
        diff "$GOLDEN/$name.tsv" "$TMPD/$name.tsv" | head -20 >&2
        fail "$name: output differs from the golden file"
    fi
    n=$((n + 1))
done
[ "$n" -gt 0 ] || skip "no captures in $REALDATA"

for name in zeek-sshguess.pcap ndpi-synscan.pcap socks5-telnet-relay.pcapng; do
    f="$REALDATA/$name"
    [ -f "$f" ] || continue
    "$STEPSTONE" conns --json --packets --max-pkts 16 "$f" >"$TMPD/$name.json" 2>/dev/null ||
        fail "$name: --json failed"
    [ -n "$STEPSTONE_REGEN" ] && cp "$TMPD/$name.json" "$GOLDEN/$name.json"
    cmp -s "$GOLDEN/$name.json" "$TMPD/$name.json" || fail "$name: JSON differs from the golden file"
    # JSON and TSV describe the same connections
    [ "$(wc -l <"$TMPD/$name.json")" -eq "$(($(wc -l <"$GOLDEN/$name.tsv") - 1))" ] ||
        fail "$name: JSON and TSV line counts differ"
done
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert len(r["packets"]) == min(16, r["orig_pkts"] + r["resp_pkts"]), r["uid"]
' "$TMPD/zeek-sshguess.pcap.json" || fail "JSON output does not parse or has wrong packet records"
fi

# --- several files merged, deterministic output, -o --------------------
a="$REALDATA/zeek-sshguess.pcap"
b="$REALDATA/ndpi-telnet.pcap"
"$STEPSTONE" conns "$a" "$b" >"$TMPD/ab.tsv" 2>/dev/null || fail "two files: exit $?"
"$STEPSTONE" conns "$b" "$a" >"$TMPD/ba.tsv" 2>/dev/null || fail "two files: exit $?"
cmp -s "$TMPD/ab.tsv" "$TMPD/ba.tsv" || fail "output depends on the order of the files"
want=$(($(wc -l <"$GOLDEN/zeek-sshguess.pcap.tsv") + $(wc -l <"$GOLDEN/ndpi-telnet.pcap.tsv") - 1))
[ "$(wc -l <"$TMPD/ab.tsv")" -eq "$want" ] || fail "two files: wrong number of connections"
expect_status 0 "$STEPSTONE" conns -o "$TMPD/out.tsv" "$a"
cmp -s "$TMPD/out.tsv" "$GOLDEN/zeek-sshguess.pcap.tsv" || fail "-o output differs from stdout output"
[ -z "$(ls "$TMPD" | grep '\.tmp\.')" ] || fail "-o left a temporary file"
expect_status 1 "$STEPSTONE" conns -o "$TMPD/no-such-dir/out.tsv" "$a"
grep -q 'frames' "$TMPD/err" && : # summary may or may not be printed; the exit status matters

# timeouts change the split: a 1 s TCP timeout cuts idle SSH sessions
"$STEPSTONE" conns --tcp-timeout 1 "$a" >"$TMPD/short.tsv" 2>/dev/null || fail "--tcp-timeout 1 failed"
[ "$(wc -l <"$TMPD/short.tsv")" -ge "$(wc -l <"$GOLDEN/zeek-sshguess.pcap.tsv")" ] ||
    fail "--tcp-timeout 1 gave fewer connections than the default"

# summary on stderr names the skip reasons
"$STEPSTONE" conns "$REALDATA/zeek-nmap-vsn.pcap" >/dev/null 2>"$TMPD/err" || fail "nmap capture failed"
grep -q 'not-ip' "$TMPD/err" || fail "summary does not report skipped non-IP frames"

echo "e2e_conns: $n golden captures match"

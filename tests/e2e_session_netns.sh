#!/bin/sh
# e2e_session_netns.sh - the session data generators (datasets/netns/benign.sh,
# attacks.sh) end to end: short runs, captures stepstone reads, only 198.18.0.0/15
# addresses, the attacks' time table, `stepstone score` over both, bad usage refused,
# keep-alive web connections (--keepalive), a browser's requests and parallel
# connections (--browser), and nothing of a run left behind (namespaces,
# processes). Needs root; ~1.5 min.
. "$top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
for t in ip sshd ssh tcpdump curl wget nc; do
    command -v "$t" > /dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || skip "$t not installed"
done
tmpdir_make
B="$top_srcdir/datasets/netns/benign.sh"
A="$top_srcdir/datasets/netns/attacks.sh"

# bad usage: exit 2, nothing started
"$B" > /dev/null 2>&1; [ $? -eq 2 ] || fail "benign.sh without -o should exit 2"
"$B" -o "$TMPD/x" --duration 5 > /dev/null 2>&1; [ $? -eq 2 ] || fail "--duration 5 should exit 2"
"$A" -o "$TMPD/x" --attempts 1 > /dev/null 2>&1; [ $? -eq 2 ] || fail "--attempts 1 should exit 2"

leftovers() { # RUN_ID: namespaces or processes of that run still there
    ip netns list | grep -q "stepstone-$1-" && fail "namespaces of run $1 left: $(ip netns list | grep "stepstone-$1-")"
    grep -l -s -x -z "STEPSTONE_NETNS_RUN=$1" /proc/[0-9]*/environ | grep -q . &&
        fail "processes of run $1 left"
    return 0
}
in_range() { # CONNS.tsv: every address in 198.18.0.0/15 (the LAN chatter's multicast groups too)
    awk -F'\t' '!/^#/ { print $3; print $5 }' "$1" | grep -v '^198\.1[89]\.' |
        grep -v -x -e 224.0.0.251 -e 224.0.0.252 -e 239.255.255.250 | grep -q . &&
        fail "address outside 198.18.0.0/15 in $1"
    return 0
}

"$B" -o "$TMPD/b" --hosts 5 --duration 20 --seed 3 --chatter --keepalive --browser 2> "$TMPD/b.err" ||
    fail "benign.sh failed: $(tail -n 3 "$TMPD/b.err")"
for f in merged.pcap activity.csv hosts.csv run.log; do
    [ -s "$TMPD/b/$f" ] || fail "benign.sh wrote no $f"
done
ls -a "$TMPD/b" | grep -q partial && fail "benign.sh left a partial directory"
[ "$(tail -n +2 "$TMPD/b/activity.csv" | wc -l)" -ge 3 ] || fail "fewer than 3 activities in 20 s"
"$STEPSTONE" conns "$TMPD/b/merged.pcap" > "$TMPD/b.tsv" 2> /dev/null || fail "conns cannot read the benign capture"
[ "$(grep -vc '^#' "$TMPD/b.tsv")" -ge 3 ] || fail "fewer than 3 connections in the benign capture"
in_range "$TMPD/b.tsv"
# --keepalive: browsing (seed 3 browses once in these 20 s) keeps its connection open until
# the web server's idle timeout (5 or 15 s) closes it
grep -q ',web,' "$TMPD/b/activity.csv" || fail "no web activity in the benign run (seed 3)"
awk -F'\t' '!/^#/ && $7 == "tcp" && ($6 == 80 || $6 == 8000) && $8 >= 4.0' "$TMPD/b.tsv" |
    grep -q . || fail "no web connection held open by keep-alive (--keepalive)"
# --browser: a browser's requests (its headers make every request segment to a web
# server at least 290 bytes, curl's are under 160) and assets fetched over parallel
# connections to one server
/usr/bin/python3 - "$top_srcdir/datasets/netns" "$TMPD/b/merged.pcap" <<'PY' ||
import sys
sys.path.insert(0, sys.argv[1])
import pcapfile
req = [t[6] for _, lt, data, _ in pcapfile.packets(sys.argv[2])
       for t in [pcapfile.transport(lt, data)] if t and t[0] == "tcp" and t[4] in (80, 8000) and t[6]]
assert req and min(req) >= 290, req
PY
    fail "web requests of other than a browser's size (--browser)"
/usr/bin/python3 - "$TMPD/b.tsv" <<'PY' || fail "no parallel web connections (--browser)"
import sys
c = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if not l.startswith("#")]
web = sorted({(x[2], x[4], x[5], float(x[0]), float(x[0]) + float(x[7]))
              for x in c if x[6] == "tcp" and x[5] in ("80", "8000")})
assert any(a[:3] == b[:3] and b[3] < a[4] for i, a in enumerate(web) for b in web[i + 1:]), web
PY
# --chatter: unanswered discovery datagrams to the multicast groups or the subnet broadcast
awk -F'\t' '$7 == "udp" && $11 == "S0" && ($5 ~ /^2[23][49]\./ || $5 == "198.18.0.255")' \
    "$TMPD/b.tsv" | grep -q . || fail "no LAN chatter in the benign capture (--chatter)"
leftovers "$(sed -n 's/.*run \([0-9a-f]*\):.*/\1/p' "$TMPD/b/run.log" | head -n 1)"

"$A" -o "$TMPD/a" --attempts 4 --pause 9 --seed 3 2> "$TMPD/a.err" ||
    fail "attacks.sh failed: $(tail -n 3 "$TMPD/a.err")"
[ "$(tail -n +2 "$TMPD/a/attacks.csv" | wc -l)" -eq 5 ] || fail "attacks.csv should have 5 rows"
"$STEPSTONE" conns "$TMPD/a/merged.pcap" > "$TMPD/a.tsv" 2> /dev/null || fail "conns cannot read the attack capture"
in_range "$TMPD/a.tsv"
# the connect scan alone is over a thousand connections from the attacker
[ "$(awk -F'\t' '$3 == "198.18.0.250"' "$TMPD/a.tsv" | wc -l)" -ge 1000 ] ||
    fail "the attacker made fewer than 1000 connections"
# every attack row lies inside the capture's time span, in order
/usr/bin/python3 - "$TMPD/a/attacks.csv" "$TMPD/a.tsv" <<'PY' || fail "attacks.csv times inconsistent"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ts = [float(l.split("\t")[0]) for l in open(sys.argv[2]) if not l.startswith("#")]
lo, hi = min(ts), max(ts)
prev = 0.0
for r in rows:
    s, e = float(r["start"]), float(r["end"])
    assert lo - 1 <= s <= e <= hi + 5 and s >= prev, r
    prev = e
PY
leftovers "$(sed -n 's/.*run \([0-9a-f]*\):.*/\1/p' "$TMPD/a/run.log" | head -n 1)"

# both captures scored together (one timeline) with the compiled-in model
"$STEPSTONE" score --json "$TMPD/b/merged.pcap" "$TMPD/a/merged.pcap" > "$TMPD/s.json" 2> "$TMPD/err" ||
    fail "score failed: $(cat "$TMPD/err")"
grep -q '"host":"198.18.0.250"' "$TMPD/s.json" || fail "no session of the attacker scored"
# the connect scan's sessions (over a thousand refused ports) are flagged by the default model
grep '"host":"198.18.0.250"' "$TMPD/s.json" | grep -q '"flagged":true' ||
    fail "no session of the attacker flagged"
exit 0

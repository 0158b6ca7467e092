#!/bin/sh
# e2e_netns.sh - the real traffic generator end to end, twice: the small scenario on plain links
# (LAN), then the short scenario (short relays, a decoy) behind delayed links (--delay 20-60).
# Checks that each capture reads, that every labelled hop pair is in it with packets both ways,
# that the labels match the scenario, that the short relay hops are labelled, that the round
# trips measured on the bridge (SYN -> SYN/ACK) are the configured delays, and that nothing
# (namespace, process, temp dir) is left behind. Needs root; skipped otherwise. About 1.5 min.
. "$top_srcdir/tests/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
PY=/usr/bin/python3
for t in ip ss tcpdump socat nc /usr/sbin/sshd ssh ssh-keygen $PY timeout; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not installed (see datasets/netns/README.md)"
done
ip netns add "stepstone-probe-$$" 2>/dev/null || skip "cannot create network namespaces here"
ip netns del "stepstone-probe-$$"

tmpdir_make
NETNS="$top_srcdir/datasets/netns"

# gen NAME ARG...: run.sh into TMPD/NAME. Live sessions driven by a typing robot can time out on
# a loaded machine: one retry, said aloud.
gen() {
    name=$1
    shift
    for attempt in 1 2; do
        rm -rf "$TMPD/$name"
        timeout 170 bash "$NETNS/run.sh" -o "$TMPD/$name" "$@" --max-time 150 2> "$TMPD/$name.err"
        rc=$?
        cat "$TMPD/$name.err" >&2
        [ "$rc" = 0 ] && break
        [ "$attempt" = 1 ] && echo "run.sh $* exited with $rc; retrying once" >&2
    done
    [ "$rc" = 0 ] || fail "run.sh $* exited with $rc (twice)"
    for f in merged.pcap labels.csv expected.txt hosts.csv sensors/h1.pcap sensors/h5.pcap; do
        [ -s "$TMPD/$name/$f" ] || fail "run.sh $* did not write $f"
    done
    ls -a "$TMPD/$name" | grep -q '^\.partial' && fail "a partial output folder was left"
}

# left_behind NAME: nothing of run NAME is left: namespaces, temp dir, processes
left_behind() {
    runid=$(sed -n 's/.*run \([0-9a-f]*\): scenario.*/\1/p' "$TMPD/$1.err" | tail -n 1)
    runtmp=$(sed -n 's/.*, temp \(.*\)$/\1/p' "$TMPD/$1.err" | tail -n 1)
    [ -n "$runid" ] && [ -n "$runtmp" ] || fail "run.sh did not print its run id and temp dir"
    ip netns list | grep -q "^stepstone-$runid-" && fail "namespaces left: $(ip netns list | grep "^stepstone-$runid-")"
    [ -e "$runtmp" ] && fail "temp dir $runtmp left"
    left=$(ps -eo pid=,args= | grep -v grep | grep -e "$runtmp" -e "$TMPD/$1")
    [ -z "$left" ] || fail "processes of the run are left: $left"
    left=$(grep -l -s -x -z "STEPSTONE_NETNS_RUN=$runid" /proc/[0-9]*/environ)
    [ -z "$left" ] || fail "processes of the run are left: $left"
}

# labels_match NAME MIN KIND...: at least MIN rows, as many as the scenario meant, all in the
# capture, each KIND present
labels_match() {
    out=$TMPD/$1
    min=$2
    shift 2
    rows=$(($(wc -l < "$out/labels.csv") - 1))
    want=$(wc -l < "$out/expected.txt")
    [ "$rows" -ge "$min" ] || fail "only $rows labelled hop pairs, the scenario makes $min"
    [ "$rows" = "$want" ] || fail "$rows labelled hop pairs, the scenario made $want"
    $PY "$NETNS/checklabels.py" "$out/labels.csv" "$out/merged.pcap" \
        || fail "checklabels found labelled connections missing from $out/merged.pcap"
    for k in "$@"; do
        cut -d, -f2 "$out/labels.csv" | grep -qx "$k" || fail "no hop pair of kind $k labelled"
    done
}

# ---------------------------------------------------------------- LAN: the small scenario
gen lan --duration 20 --seed 3 --scenario small
[ -e "$TMPD/lan/links.csv" ] && fail "a LAN run wrote links.csv"
n=$(tcpdump -n -r "$TMPD/lan/merged.pcap" 2>/dev/null | wc -l)
[ "$n" -gt 200 ] || fail "merged.pcap has only $n readable packets"
if "$STEPSTONE" conns --help >/dev/null 2>&1; then
    "$STEPSTONE" conns "$TMPD/lan/merged.pcap" > "$TMPD/conns.txt" 2> "$TMPD/conns.err" \
        || fail "stepstone conns failed on merged.pcap: $(head -n 1 "$TMPD/conns.err")"
    [ -s "$TMPD/conns.txt" ] || fail "stepstone conns printed nothing for merged.pcap"
fi
labels_match lan 4 ssh ssh-jump socat nc
lanrows=$rows
# the checker can fail: a hop pair shifted to a port that never carried traffic is rejected
awk -F, 'NR == 2 { $5 = 1; } { print }' OFS=, "$TMPD/lan/labels.csv" > "$TMPD/bad.csv"
$PY "$NETNS/checklabels.py" "$TMPD/bad.csv" "$TMPD/lan/merged.pcap" >/dev/null 2>&1 \
    && fail "checklabels accepted a label whose connection is not in the capture"
left_behind lan

# ---------------------------------------------------------------- WAN: short relays, delayed
gen wan --duration 30 --seed 3 --scenario short --delay 20-60
out=$TMPD/wan
labels_match wan 5 ssh ssh-jump socat nc
grep -q 'ping h1 -> h2: rtt' "$out/run.log" || fail "run.log has no ping through the delayed links"
# every host's delay is within the configured range
awk -F, 'NR > 1 && ($3 < 20 || $3 > 60) { exit 1 }' "$out/links.csv" \
    || fail "links.csv has delays outside 20-60 ms: $(cat "$out/links.csv")"
[ "$(($(wc -l < "$out/links.csv") - 1))" = 5 ] || fail "links.csv does not list the 5 hosts"
# round trips on the bridge: SYN -> SYN/ACK is twice the server's one-way delay, so within
# 40-120 ms (plus jitter: sd 5% of the delay, and a few ms of forwarding on a loaded machine)
tcpdump -tt -n -r "$out/merged.pcap" 'tcp[tcpflags] & tcp-syn != 0' 2>/dev/null | awk '
    { split($3, a, "."); split($5, b, "."); sub(":", "", b[5])
      src = a[1] "." a[2] "." a[3] "." a[4] ":" a[5]; dst = b[1] "." b[2] "." b[3] "." b[4] ":" b[5] }
    $7 == "[S]," { syn[src "-" dst] = $1 }
    $7 == "[S.]," && (dst "-" src) in syn { r = 1000 * ($1 - syn[dst "-" src]); n++
        if (r < 36 || r > 135) { bad++; print "round trip " r " ms for " dst " -> " src }
        delete syn[dst "-" src] }
    END { print n " handshakes"; exit (n < 5 || bad > 0) }' > "$TMPD/rtt.txt" \
    || fail "round trips on the bridge outside 40-120 ms (or too few): $(cat "$TMPD/rtt.txt")"
# and each host's measured delay is its configured one (linkdelay.py check, as run.sh does)
$PY "$NETNS/linkdelay.py" check "$out/links.csv" "$out/merged.pcap" > "$TMPD/check.txt" \
    || fail "measured delays differ from links.csv: $(cat "$TMPD/check.txt")"
# the short hops are labelled: ssh -J, socat and nc one-shots and a one-command ssh inside a
# session, whose outbound connections last under 12 s
$PY - "$NETNS" "$out/labels.csv" "$out/merged.pcap" > "$TMPD/short.txt" <<'EOF' \
    || fail "short relay hops missing: $(cat "$TMPD/short.txt")"
import csv, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import pcapfile
table, _ = pcapfile.connections([sys.argv[3]])
short = []
for r in csv.DictReader(open(sys.argv[2])):
    c = pcapfile.find(table, "tcp", (r["out_src_ip"], int(r["out_src_port"])),
                      (r["out_dst_ip"], int(r["out_dst_port"])))
    if c is not None and c.last - c.first < 12:
        short.append(r["kind"])
print("short hops:", " ".join(sorted(short)))
sys.exit(0 if {"ssh", "ssh-jump", "socat", "nc"} <= set(short) else 1)
EOF
left_behind wan
echo "e2e_netns: LAN $lanrows hop pairs labelled and found in $n packets; delayed links:" \
    "$(tail -n 1 "$TMPD/rtt.txt") within 40-120 ms, $(cat "$TMPD/short.txt"); nothing left behind"
exit 0

#!/bin/sh
# e2e_netns.sh - the real traffic generator end to end: a small scenario in network namespaces,
# then checks that the capture reads, that every labelled hop pair is in it with packets both
# ways, that the labels match the scenario, and that nothing (namespace, process, temp dir) is
# left behind. Needs root; skipped otherwise.
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

# Live sessions driven by a typing robot can time out on a loaded machine: one retry, said aloud.
for attempt in 1 2; do
    rm -rf "$TMPD/out"
    timeout 170 bash "$NETNS/run.sh" -o "$TMPD/out" --duration 20 --seed 3 --scenario small \
        --max-time 150 2> "$TMPD/run.err"
    rc=$?
    cat "$TMPD/run.err" >&2
    [ "$rc" = 0 ] && break
    [ "$attempt" = 1 ] && echo "run.sh exited with $rc; retrying once" >&2
done
[ "$rc" = 0 ] || fail "run.sh exited with $rc (twice)"
for f in merged.pcap labels.csv expected.txt hosts.csv sensors/h1.pcap sensors/h5.pcap; do
    [ -s "$TMPD/out/$f" ] || fail "run.sh did not write $f"
done
ls -a "$TMPD/out" | grep -q '^\.partial' && fail "a partial output folder was left"

# the capture reads
n=$(tcpdump -n -r "$TMPD/out/merged.pcap" 2>/dev/null | wc -l)
[ "$n" -gt 200 ] || fail "merged.pcap has only $n readable packets"
if "$STEPSTONE" conns --help >/dev/null 2>&1; then
    "$STEPSTONE" conns "$TMPD/out/merged.pcap" > "$TMPD/conns.txt" 2> "$TMPD/conns.err" \
        || fail "stepstone conns failed on merged.pcap: $(head -n 1 "$TMPD/conns.err")"
    [ -s "$TMPD/conns.txt" ] || fail "stepstone conns printed nothing for merged.pcap"
fi

# every labelled hop pair is in the capture, both ways; the labels are the scenario's
rows=$(($(wc -l < "$TMPD/out/labels.csv") - 1))
want=$(wc -l < "$TMPD/out/expected.txt")
[ "$rows" -ge 4 ] || fail "only $rows labelled hop pairs, the small scenario makes 4"
[ "$rows" = "$want" ] || fail "$rows labelled hop pairs, the scenario made $want"
$PY "$NETNS/checklabels.py" "$TMPD/out/labels.csv" "$TMPD/out/merged.pcap" \
    || fail "checklabels found labelled connections missing from merged.pcap"
for k in ssh ssh-jump socat nc; do
    cut -d, -f2 "$TMPD/out/labels.csv" | grep -qx "$k" || fail "no hop pair of kind $k labelled"
done

# the checker can fail: a hop pair shifted to a port that never carried traffic is rejected
awk -F, 'NR == 2 { $5 = 1; } { print }' OFS=, "$TMPD/out/labels.csv" > "$TMPD/bad.csv"
$PY "$NETNS/checklabels.py" "$TMPD/bad.csv" "$TMPD/out/merged.pcap" >/dev/null 2>&1 \
    && fail "checklabels accepted a label whose connection is not in the capture"

# nothing left behind: namespaces, temp dir, processes of the run
runid=$(sed -n 's/.*run \([0-9a-f]*\): scenario.*/\1/p' "$TMPD/run.err" | head -n 1)
runtmp=$(sed -n 's/.*, temp \(.*\)$/\1/p' "$TMPD/run.err" | head -n 1)
[ -n "$runid" ] && [ -n "$runtmp" ] || fail "run.sh did not print its run id and temp dir"
ip netns list | grep -q "^stepstone-$runid-" && fail "namespaces left: $(ip netns list | grep "^stepstone-$runid-")"
[ -e "$runtmp" ] && fail "temp dir $runtmp left"
left=$(ps -eo pid=,args= | grep -v grep | grep -e "$runtmp" -e "$TMPD/out")
[ -z "$left" ] || fail "processes of the run are left: $left"
left=$(grep -l -s -x -z "STEPSTONE_NETNS_RUN=$runid" /proc/[0-9]*/environ)
[ -z "$left" ] || fail "processes of the run are left: $left"
echo "e2e_netns: $rows hop pairs labelled and found in $n packets; nothing left behind"
exit 0

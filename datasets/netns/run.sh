#!/bin/bash
# run.sh - real relay traffic in network namespaces, captured and labelled from live sockets.
#
# usage: run.sh -o OUTDIR [--duration S] [--seed N] [--scenario small|full] [--snaplen N]
#               [--max-time S] [--keep-logs]
#
# Builds hosts h1..hN (one network namespace each, 198.18.0.11.. on 198.18.0.0/24, no route out)
# plugged into a Linux bridge that lives in a namespace of its own; every name carries a
# per-run id, so runs in parallel do not clash and the root namespace is not touched. Each host
# runs its own sshd (generated host key and config, key auth for root, UsePAM no, listening on
# the host address only). Typing drivers (typist.py) play people through relay chains: ssh
# inside ssh, ssh -J, socat and netcat relays, a delaying user-space relay, plain-text shells,
# alongside unrelated sessions to and from the relay hosts. tcpdump records each host's
# interface (sensors/hN.pcap) and the bridge (merged.pcap: every packet once, one timeline).
# sockwatch.py reads `ss -tanp` in every namespace while the chains run and labels the hop pairs
# from the sockets and process trees; their times come from merged.pcap.
#
# Output in OUTDIR: merged.pcap, sensors/hN.pcap, labels.csv, hosts.csv, expected.txt (relay
# ip and kind of each hop pair the scenario meant to create), run.log, logs/ (--keep-logs).
# Everything started is stopped and removed on exit, on failure and on the global timeout
# (--max-time, default duration + 150 s). Exit status: 0 done and the labels match the
# scenario, 1 failure, 2 bad usage, 3 missing privilege or tool.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
ME=run.sh
. "$HERE/lib.sh"

OUTDIR= DURATION=30 SEED=1 SCENARIO=small SNAPLEN=0 MAXTIME= KEEPLOGS=0
while [ $# -gt 0 ]; do
    case "$1" in
        -o) OUTDIR=${2:-}; shift 2 || usage ;;
        --duration) DURATION=${2:-}; shift 2 || usage ;;
        --seed) SEED=${2:-}; shift 2 || usage ;;
        --scenario) SCENARIO=${2:-}; shift 2 || usage ;;
        --snaplen) SNAPLEN=${2:-}; shift 2 || usage ;;
        --max-time) MAXTIME=${2:-}; shift 2 || usage ;;
        --keep-logs) KEEPLOGS=1; shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[ -n "$OUTDIR" ] || { echo "run.sh: -o OUTDIR is required" >&2; usage; }
netns_whole_numbers "$DURATION" "$SEED" "$SNAPLEN" ${MAXTIME:+"$MAXTIME"}
[ "$DURATION" -ge 10 ] || { echo "run.sh: --duration must be at least 10 s" >&2; exit 2; }
case "$SCENARIO" in small|full) ;; *) echo "run.sh: --scenario is small or full" >&2; exit 2 ;; esac
: "${MAXTIME:=$((DURATION + 150))}"

netns_require ip iproute2 ss iproute2 tc iproute2 /usr/sbin/sshd openssh-server \
    ssh openssh-client ssh-keygen openssh-client socat socat tcpdump tcpdump \
    nc netcat-openbsd $PY python3 timeout coreutils setsid util-linux mkfifo coreutils

# Bound the whole run: re-run under timeout(1); the TERM it sends runs the cleanup trap.
netns_timed -o "$OUTDIR" --duration "$DURATION" --seed "$SEED" --scenario "$SCENARIO" \
    --snaplen "$SNAPLEN" --max-time "$MAXTIME" $([ "$KEEPLOGS" = 1 ] && echo --keep-logs)

WATCHPID= CAPPIDS=()  # the socket watcher, outside the namespaces, is stopped by the cleanup too
netns_start '' /tmp/ssns.XXXXXX


# ---------------------------------------------------------------- hosts and network
case "$SCENARIO" in small) NHOSTS=5 ;; full) NHOSTS=8 ;; esac
netns_bridge
mkdir -p "$TMP/files" "$TMP/logs" "$TMP/plans" "$STAGE/sensors"
echo "host,ip,netns" > "$STAGE/hosts.csv"
for i in $(seq 1 $NHOSTS); do
    netns_host h$i $i
    echo "h$i,$(ipof h$i),$(nsof h$i)" >> "$STAGE/hosts.csv"
done
# Two hosts sit behind slower links (token bucket; the kernel here has no netem delay).
if [ "$SCENARIO" = full ]; then
    tc -n "$(nsof h4)" qdisc add dev eth0 root tbf rate 2mbit burst 16kb latency 100ms \
        || log "warning: tbf on h4 failed"
    tc -n "$(nsof h7)" qdisc add dev eth0 root tbf rate 5mbit burst 32kb latency 100ms \
        || log "warning: tbf on h7 failed"
fi

# ---------------------------------------------------------------- keys, sshd, files
netns_client_key id stepstone-netns
cp "$TMP/id.pub" "$TMP/authorized_keys"
netns_ssh_config $NHOSTS
printf '  ServerAliveInterval 0\n' >> "$CFG"
for i in $(seq 1 $NHOSTS); do
    netns_sshd h$i <<EOF
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 100
MaxSessions 50
LogLevel ERROR
EOF
done
# Files the typed commands show: a few hundred bytes to a few hundred kilobytes.
$PY - "$TMP/files" "$SEED" "$SCENARIO" <<'EOF' || die "cannot generate files"
import random, sys, os
d, seed, scen = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = random.Random(seed)
words = "alpha beta gamma delta server client token retry cache queue worker disk".split()
with open(os.path.join(d, "notes.txt"), "w") as f:
    for _ in range(r.randint(10, 30)):
        f.write(" ".join(r.choice(words) for _ in range(r.randint(3, 12))) + "\n")
with open(os.path.join(d, "config.ini"), "w") as f:
    for s in range(r.randint(3, 8)):
        f.write("[section%d]\n" % s)
        for k in range(r.randint(2, 6)):
            f.write("%s = %d\n" % (r.choice(words), r.randint(0, 99999)))
lines = 600 if scen == "small" else 3000
with open(os.path.join(d, "app.log"), "w") as f:
    t = 1700000000
    for _ in range(lines):
        t += r.randint(0, 5)
        f.write("%d %s %s request id=%06x took %dms\n" % (t, r.choice(["INFO"] * 8 + ["WARN", "ERROR"]),
                r.choice(words), r.getrandbits(24), int(r.lognormvariate(3, 1))))
EOF

# ---------------------------------------------------------------- captures and socket watch
for i in $(seq 1 $NHOSTS); do
    ip netns exec "$(nsof h$i)" tcpdump -i eth0 -n -U -s "$SNAPLEN" -w "$STAGE/sensors/h$i.pcap" \
        > "$TMP/logs/tcpdump-h$i.log" 2>&1 &
    CAPPIDS+=($!)
done
ip netns exec "$SW" tcpdump -i br0 -n -U -s "$SNAPLEN" -w "$STAGE/merged.pcap" \
    > "$TMP/logs/tcpdump-br0.log" 2>&1 &
CAPPIDS+=($!)
for _ in $(seq 1 50); do
    n=$(cat "$TMP"/logs/tcpdump-*.log 2>/dev/null | grep -c 'listening on')
    [ "$n" -ge $((NHOSTS + 1)) ] && break
    sleep 0.1
done
[ "$n" -ge $((NHOSTS + 1)) ] || die "tcpdump did not start: $(cat "$TMP"/logs/tcpdump-*.log | head -3)"
for i in $(seq 1 $NHOSTS); do netns_listening h$i t 22; done  # wait for every sshd to listen
HOSTNS=()
for i in $(seq 1 $NHOSTS); do HOSTNS+=("$(nsof h$i)"); done
$PY "$HERE/sockwatch.py" watch --obs "$TMP/obs.json" --interval 0.3 "${HOSTNS[@]}" \
    2> "$TMP/logs/sockwatch.log" &
WATCHPID=$!

# ---------------------------------------------------------------- scenario building blocks
START=$(date +%s)
UNTIL=$((START + DURATION - 8))
TYPISTS=() NAMES=()
EXPECT=$STAGE/expected.txt
: > "$EXPECT"
nseed=0
expect_hop() { echo "$(ipof "$1") $2" >> "$EXPECT"; }

# typist NAME HOST DELAY PLANFILE COMMAND...: play a plan from HOST after DELAY seconds
typist() {
    local name=$1 host=$2 delay=$3 plan=$4
    shift 4
    nseed=$((nseed + 1))
    (sleep "$delay"; exec ip netns exec "$(nsof "$host")" $PY "$HERE/typist.py" --plan "$plan" \
        --seed $((SEED * 1000 + nseed)) --files "$TMP/files" --cfg "$CFG" --until "$UNTIL" \
        --log "$TMP/logs/$name.out" -- "$@" 2> "$TMP/logs/$name.err") &
    TYPISTS+=($!)
    NAMES+=("$name")
}

# relays: each is the process tree the labels should find
relay_socat() {  # HOST PORT DST DPORT
    ip netns exec "$(nsof "$1")" socat "TCP-LISTEN:$2,bind=$(ipof "$1"),reuseaddr,fork" \
        "TCP:$(ipof "$3"):$4" 2>> "$TMP/logs/relay.log" &
}
relay_nc() {  # HOST PORT DST DPORT: the classic fifo pipeline, one connection
    local f=$TMP/fifo-$1-$2
    mkfifo "$f"
    ip netns exec "$(nsof "$1")" bash -c "nc -l -s $(ipof "$1") -p $2 < '$f' | nc $(ipof "$3") $4 > '$f'" \
        2>> "$TMP/logs/relay.log" &
}
relay_delay() {  # HOST PORT DST DPORT
    ip netns exec "$(nsof "$1")" $PY "$HERE/delayrelay.py" "$(ipof "$1")" "$2" "$(ipof "$3")" "$4" \
        --delay 40 --jitter 15 --seed "$SEED" 2>> "$TMP/logs/relay.log" &
}
shell_listener() {  # HOST PORT: a plain-text shell for whoever connects
    ip netns exec "$(nsof "$1")" socat "TCP-LISTEN:$2,bind=$(ipof "$1"),reuseaddr,fork" \
        "EXEC:bash --norc -i,pty,stderr,setsid,sigint,sane" 2>> "$TMP/logs/relay.log" &
}
wait_listen() { netns_listening "$1" t "$2" || die "nothing listens on $1:$2"; }  # HOST PORT

# ssh inside ssh: SRC ssh to the first hop, then types ssh to each next one.
chain_ssh() {  # NAME DELAY SRC HOP... DST
    local name=$1 delay=$2 src=$3 first=$4
    shift 4
    local lines=("expect 25" "pause 1")
    local h prev=$first
    for h in "$@"; do
        lines+=("type ssh -F @CFG@ $h" "expect 25" "pause 1")
        expect_hop "$prev" ssh
        prev=$h
    done
    lines+=("session 200")
    for h in "$@"; do lines+=("type exit" "expect 15"); done
    lines+=("type exit")
    printf '%s\n' "${lines[@]}" > "$TMP/plans/$name.plan"
    typist "$name" "$src" "$delay" "$TMP/plans/$name.plan" ssh -tt -F "$CFG" "$first"
}
chain_jump() {  # NAME DELAY SRC JUMPS(comma list) DST
    local name=$1 j
    for j in ${4//,/ }; do expect_hop "$j" ssh-jump; done
    printf '%s\n' "expect 25" "pause 1" "session 200" "type exit" > "$TMP/plans/$name.plan"
    typist "$name" "$3" "$2" "$TMP/plans/$name.plan" ssh -tt -F "$CFG" -J "$4" "$5"
}
chain_port() {  # NAME DELAY SRC RELAYHOST PORT KIND: ssh through a port relay
    local name=$1
    expect_hop "$4" "$6"
    printf '%s\n' "expect 25" "pause 1" "session 200" "type exit" > "$TMP/plans/$name.plan"
    typist "$name" "$3" "$2" "$TMP/plans/$name.plan" ssh -tt -F "$CFG" -p "$5" "$4"
}
chain_plain() {  # NAME DELAY SRC HOST PORT KIND: plain-text shell reached through a relay port
    local name=$1
    expect_hop "$4" "$6"
    printf '%s\n' "expect 25" "pause 1" "session 200" "type exit" > "$TMP/plans/$name.plan"
    typist "$name" "$3" "$2" "$TMP/plans/$name.plan" socat -,raw,echo=0 "TCP:$(ipof "$4"):$5"
}
# nc keeps running after the far shell exits while its stdin is open: the next keys typed get
# the peer's reset and end it, as they would for a person.
chain_shellnc() {  # NAME DELAY SRC HOST PORT DST DPORT: plain shell on HOST, nc from it to DST
    local name=$1
    expect_hop "$4" shell-nc
    printf '%s\n' "expect 25" "pause 1" "type stty raw -echo; nc $(ipof "$6") $7" "expect 25" \
        "pause 1" "session 200" "type exit" "sleep 1" "rawtype " "sleep 0.5" "rawtype " "expect 15" \
        "type stty sane" "expect 10" "type exit" \
        > "$TMP/plans/$name.plan"
    typist "$name" "$3" "$2" "$TMP/plans/$name.plan" socat -,raw,echo=0 "TCP:$(ipof "$4"):$5"
}
# unrelated sessions (negatives): interactive ssh, bulk copies over ssh, a direct plain shell
bg_ssh() {  # NAME DELAY SRC DST
    printf '%s\n' "expect 25" "pause 2" "session 200" "type exit" > "$TMP/plans/$1.plan"
    typist "$1" "$3" "$2" "$TMP/plans/$1.plan" ssh -tt -F "$CFG" "$4"
}
bg_bulk() {  # NAME DELAY SRC DST: non-interactive transfers now and then
    printf '%s\n' "expect 25" "pause 1" \
        "type ssh -F @CFG@ $4 cat @FILES@/app.log > /dev/null; sleep 3; ssh -F @CFG@ $4 'head -c 50000 @FILES@/app.log' | wc -c" \
        "expect 60" "pause 2" "type exit" > "$TMP/plans/$1.plan"
    typist "$1" "$3" "$2" "$TMP/plans/$1.plan" bash --norc -i
}
bg_plain() {  # NAME DELAY SRC HOST PORT: plain-text shell, no relay
    printf '%s\n' "expect 25" "pause 1" "session 200" "type exit" > "$TMP/plans/$1.plan"
    typist "$1" "$3" "$2" "$TMP/plans/$1.plan" socat -,raw,echo=0 "TCP:$(ipof "$4"):$5"
}

# ---------------------------------------------------------------- scenarios
if [ "$SCENARIO" = small ]; then
    relay_socat h2 2222 h3 22
    relay_nc h4 2223 h5 22
    shell_listener h1 2300
    wait_listen h2 2222; wait_listen h4 2223; wait_listen h1 2300
    chain_ssh   c-ssh    1 h1 h2 h3
    chain_jump  c-jump   2 h3 h2 h4
    chain_port  c-socat  3 h1 h2 2222 socat
    chain_port  c-nc     2 h3 h4 2223 nc
    bg_ssh      n-out    1 h2 h5      # from a relay host
    bg_ssh      n-in     3 h5 h2      # to a relay host
    bg_bulk     n-bulk   4 h4 h1
    bg_plain    n-plain  2 h3 h1 2300
else
    relay_socat h3 2222 h5 22
    relay_nc h6 2223 h8 22
    relay_delay h4 2400 h1 22
    shell_listener h2 2300
    shell_listener h5 2300
    shell_listener h8 2300
    relay_socat h1 2301 h2 2300
    for hp in "h3 2222" "h6 2223" "h4 2400" "h2 2300" "h5 2300" "h8 2300" "h1 2301"; do
        wait_listen $hp
    done
    chain_ssh     c-ssh3   1 h1 h2 h3 h4
    chain_jump    c-jump2  3 h5 h2,h6 h7
    chain_port    c-socat  2 h8 h3 2222 socat
    chain_port    c-nc     4 h4 h6 2223 nc
    chain_port    c-delay  5 h6 h4 2400 delay-relay
    chain_plain   c-plain  2 h7 h1 2301 socat
    chain_shellnc c-shnc   6 h3 h5 2300 h8 2300
    bg_ssh   n-out2   1 h2 h5
    bg_ssh   n-in2    4 h7 h2
    bg_ssh   n-out3   2 h3 h7
    bg_ssh   n-in6    3 h1 h6
    bg_ssh   n-in4    5 h5 h4
    bg_bulk  n-bulk1  6 h1 h8
    bg_bulk  n-bulk2  9 h6 h2
    bg_plain n-plain  3 h4 h8 2300
fi
log "run $RUNID: scenario $SCENARIO, $NHOSTS hosts, ${#TYPISTS[@]} sessions, ${DURATION}s, seed $SEED, temp $TMP"

# ---------------------------------------------------------------- wait, stop, label
DEADLINE=$((START + DURATION + 45))
for k in "${!TYPISTS[@]}"; do
    p=${TYPISTS[$k]}
    while kill -0 "$p" 2>/dev/null && [ "$(date +%s)" -lt "$DEADLINE" ]; do sleep 0.5; done
    if kill -0 "$p" 2>/dev/null; then
        log "warning: session ${NAMES[$k]} still running at the deadline; stopped"
        kill -TERM "$p" 2>/dev/null
    fi
    wait "$p"
    rc=$?
    [ "$rc" = 0 ] || log "warning: session ${NAMES[$k]} ended with status $rc: $(tail -n 2 "$TMP/logs/${NAMES[$k]}.err" | tr '\n' ' ')"
done
sleep 1
kill -TERM "$WATCHPID" 2>/dev/null
wait "$WATCHPID"
WATCHPID=
kill -TERM "${CAPPIDS[@]}" 2>/dev/null
wait "${CAPPIDS[@]}" 2>/dev/null
$PY "$HERE/sockwatch.py" finalize --obs "$TMP/obs.json" --out "$STAGE/labels.csv" \
    "$STAGE/merged.pcap" 2>&1 | tee -a "$STAGE/run.log" >&2
[ -s "$STAGE/labels.csv" ] || die "no labels written"
STATUS=0
got=$(cut -d, -f2,3 "$STAGE/labels.csv" | tail -n +2 | awk -F, '{print $2" "$1}' | sort)
want=$(sort "$EXPECT")
if [ "$got" != "$want" ]; then
    log "warning: labelled hop pairs differ from the scenario (relay kind):"
    diff <(echo "$want") <(echo "$got") | sed 's/^/  /' | tee -a "$STAGE/run.log" >&2
    STATUS=1
fi
$PY "$HERE/checklabels.py" --stats "$STAGE/labels.csv" "$STAGE/merged.pcap" 2>&1 \
    | tee -a "$STAGE/run.log" >&2 || STATUS=1
[ "$KEEPLOGS" = 1 ] && cp -r "$TMP/logs" "$STAGE/logs"

# move results into place
mkdir -p "$OUTDIR/sensors"
for f in "$STAGE"/sensors/*.pcap; do mv -f "$f" "$OUTDIR/sensors/"; done
rmdir "$STAGE/sensors"
for f in "$STAGE"/*; do
    [ -d "$OUTDIR/$(basename "$f")" ] && rm -rf "${OUTDIR:?}/$(basename "$f")"
    mv -f "$f" "$OUTDIR/"
done
echo "run.sh: done: $OUTDIR (status $STATUS)" >&2
exit $STATUS

#!/bin/bash
# run.sh - real relay traffic in network namespaces, captured and labelled from live sockets.
#
# usage: run.sh -o OUTDIR [--duration S] [--seed N] [--scenario small|full|hard|short]
#               [--delay MIN-MAX | --wan] [--jitter PCT] [--snaplen N] [--max-time S] [--keep-logs]
#
# Builds hosts h1..hN (one network namespace each, 198.18.0.11.. on 198.18.0.0/24, no route out)
# plugged into a Linux bridge that lives in a namespace of its own; every name carries a
# per-run id, so runs in parallel do not clash and the root namespace is not touched. Each host
# runs its own sshd (generated host key and config, key auth for root, UsePAM no, listening on
# the host address only). Typing drivers (typist.py) play people through relay chains: ssh
# inside ssh, ssh -J, socat and netcat relays, a delaying user-space relay, plain-text shells,
# alongside unrelated sessions to and from the relay hosts; `hard` adds short relays (one command
# through a relay, one-shot ssh -J, short socat/nc forwards), short decoys beside long sessions
# and a busy jump host. --delay (or --wan: 15-150) puts every host behind a link that holds
# frames for a per-host one-way delay drawn from MIN..MAX ms (linkdelay.py, user space: the
# kernel has no netem); without it the links are plain veths (LAN). tcpdump records each host's
# interface (sensors/hN.pcap) and the bridge (merged.pcap: every packet once, one timeline).
# sockwatch.py reads the sockets of every namespace while the chains run and labels the hop pairs
# from the sockets and process trees; their times come from merged.pcap.
#
# Output in OUTDIR: merged.pcap, sensors/hN.pcap, labels.csv, hosts.csv, expected.txt (relay
# ip and kind of each hop pair the scenario meant to create), links.csv (--delay: each host's
# one-way delay and jitter), run.log, logs/ (--keep-logs).
# Everything started is stopped and removed on exit, on failure and on the global timeout
# (--max-time, default duration + 150 s, + 60 s with --delay, + 60 s for hard). Exit status:
# 0 done and the labels match the scenario (and, with --delay, the delays measured in
# merged.pcap match links.csv), 1 failure, 2 bad usage, 3 missing privilege or tool.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
ME=run.sh
. "$HERE/lib.sh"

OUTDIR= DURATION=30 SEED=1 SCENARIO=small SNAPLEN=0 MAXTIME= KEEPLOGS=0 DELAY= JITTER=5
while [ $# -gt 0 ]; do
    case "$1" in
        -o) OUTDIR=${2:-}; shift 2 || usage ;;
        --duration) DURATION=${2:-}; shift 2 || usage ;;
        --seed) SEED=${2:-}; shift 2 || usage ;;
        --scenario) SCENARIO=${2:-}; shift 2 || usage ;;
        --snaplen) SNAPLEN=${2:-}; shift 2 || usage ;;
        --delay) DELAY=${2:-}; shift 2 || usage ;;
        --wan) DELAY=15-150; shift ;;
        --jitter) JITTER=${2:-}; shift 2 || usage ;;
        --max-time) MAXTIME=${2:-}; shift 2 || usage ;;
        --keep-logs) KEEPLOGS=1; shift ;;
        -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[ -n "$OUTDIR" ] || { echo "run.sh: -o OUTDIR is required" >&2; usage; }
netns_whole_numbers "$DURATION" "$SEED" "$SNAPLEN" ${MAXTIME:+"$MAXTIME"}
[ "$DURATION" -ge 10 ] || { echo "run.sh: --duration must be at least 10 s" >&2; exit 2; }
case "$SCENARIO" in small|full|hard|short) ;;
    *) echo "run.sh: --scenario is small, full, hard or short" >&2; exit 2 ;; esac
DMIN= DMAX=
if [ -n "$DELAY" ]; then
    [[ "$DELAY" =~ ^([0-9]+)-([0-9]+)$ ]] && DMIN=${BASH_REMATCH[1]} DMAX=${BASH_REMATCH[2]} \
        && [ "$DMIN" -le "$DMAX" ] && [ "$DMAX" -le 1000 ] \
        || { echo "run.sh: --delay is MIN-MAX in ms, 0 <= MIN <= MAX <= 1000" >&2; exit 2; }
    [ "$DMAX" = 0 ] && DELAY= DMIN= DMAX=   # 0-0: no delay, a LAN
fi
netns_whole_numbers "$JITTER"
extra=0
[ -n "$DELAY" ] && extra=60
[ "$SCENARIO" = hard ] && extra=$((extra + 60))
: "${MAXTIME:=$((DURATION + 150 + extra))}"

netns_require ip iproute2 ss iproute2 tc iproute2 /usr/sbin/sshd openssh-server \
    ssh openssh-client ssh-keygen openssh-client socat socat tcpdump tcpdump \
    nc netcat-openbsd $PY python3 timeout coreutils setsid util-linux mkfifo coreutils \
    vmstat procps

# Bound the whole run: re-run under timeout(1); the TERM it sends runs the cleanup trap.
netns_timed -o "$OUTDIR" --duration "$DURATION" --seed "$SEED" --scenario "$SCENARIO" \
    --snaplen "$SNAPLEN" --max-time "$MAXTIME" --delay "${DELAY:-0-0}" --jitter "$JITTER" \
    $([ "$KEEPLOGS" = 1 ] && echo --keep-logs)

# the socket watcher, outside the namespaces, is stopped by the cleanup too; the link forwarders
# (LINKPIDS) live in the bridge namespace
WATCHPID= CAPPIDS=() LINKPIDS=()
netns_start '' /tmp/ssns.XXXXXX


# ---------------------------------------------------------------- hosts and network
case "$SCENARIO" in small|short) NHOSTS=5 ;; full) NHOSTS=8 ;; hard) NHOSTS=10 ;; esac
netns_bridge
mkdir -p "$TMP/files" "$TMP/logs" "$TMP/plans" "$STAGE/sensors"
echo "host,ip,netns" > "$STAGE/hosts.csv"
if [ -n "$DELAY" ]; then
    # one-way delay and jitter of each host's link, drawn from the seed (linkdelay.py plan)
    $PY "$HERE/linkdelay.py" plan --hosts $NHOSTS --min "$DMIN" --max "$DMAX" --jitter "$JITTER" \
        --seed "$SEED" > "$TMP/delays" || die "cannot draw the link delays"
    echo "host,ip,delay_ms,jitter_ms" > "$STAGE/links.csv"
fi
for i in $(seq 1 $NHOSTS); do
    if [ -n "$DELAY" ]; then
        read -r d j < <(sed -n "${i}p" "$TMP/delays")
        netns_host h$i $i "$d" "$j"
        echo "h$i,$(ipof h$i),$d,$j" >> "$STAGE/links.csv"
    else
        netns_host h$i $i
    fi
    echo "h$i,$(ipof h$i),$(nsof h$i)" >> "$STAGE/hosts.csv"
done
if [ -n "$DELAY" ]; then
    # the forwarders are up when h1 gets its echo replies from h2: round trip 2 x (d1 + d2)
    want=$(awk -F, 'NR == 2 || NR == 3 { s += $3 } END { printf "%.1f", 2 * s }' "$STAGE/links.csv")
    ip netns exec "$(nsof h1)" $PY "$HERE/linkdelay.py" ping "$(ipof h2)" --count 1 --timeout 5 \
        > /dev/null  # resolves the address first
    got=$(ip netns exec "$(nsof h1)" $PY "$HERE/linkdelay.py" ping "$(ipof h2)" --count 4 \
        --interval 0.2 | tail -n 1)
    case "$got" in "rtt min"*) ;; *) die "no echo reply from h2 through the delayed links" ;; esac
    log "delayed links: one-way ${DMIN}-${DMAX} ms per host (links.csv);" \
        "ping h1 -> h2: $got (configured $want ms)"
fi
# Two hosts sit behind slower links (token bucket on their eth0).
if [ "$SCENARIO" = full ] || [ "$SCENARIO" = hard ]; then
    tc -n "$(nsof h4)" qdisc add dev eth0 root tbf rate 2mbit burst 16kb latency 100ms \
        || log "warning: tbf on h4 failed"
    tc -n "$(nsof h7)" qdisc add dev eth0 root tbf rate 5mbit burst 32kb latency 100ms \
        || log "warning: tbf on h7 failed"
fi

# ---------------------------------------------------------------- keys, sshd, files
netns_client_key id stepstone-netns
cp "$TMP/id.pub" "$TMP/authorized_keys"
# Logins through nested jumps over delayed links on a loaded machine take tens of seconds: the
# banner exchange gets CONNECT_TIMEOUT s and a login prompt LW s.
LW=25 CONNECT_TIMEOUT=10
[ -n "$DELAY" ] && LW=60 CONNECT_TIMEOUT=40
netns_ssh_config $NHOSTS $CONNECT_TIMEOUT
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
NAMES=()
mkdir -p "$TMP/run"
EXPECT=$STAGE/expected.txt
: > "$EXPECT"
nseed=0
expect_hop() { echo "$(ipof "$1") $2" >> "$EXPECT"; }

# spawn NAME DELAY HOST COMMAND...: run COMMAND in HOST's namespace after DELAY seconds, in the
# background; its pid goes to TMP/run/NAME.pid, its exit status to TMP/run/NAME.status when it
# ends. (The shell reaps finished jobs at once and pids here wrap at 32768 within minutes in a
# busy run: a $! kept for later may name another process by then.)
spawn() {
    local name=$1 delay=$2 host=$3
    shift 3
    (sleep "$delay"
     ip netns exec "$(nsof "$host")" "$@" &
     echo $! > "$TMP/run/$name.pid"
     wait $!
     echo $? > "$TMP/run/$name.status") &
    NAMES+=("$name")
}
# typist NAME HOST DELAY PLANFILE COMMAND...: play a plan from HOST after DELAY seconds
typist() {
    local name=$1 host=$2 delay=$3 plan=$4
    shift 4
    nseed=$((nseed + 1))
    spawn "$name" "$delay" "$host" $PY "$HERE/typist.py" --plan "$plan" \
        --seed $((SEED * 1000 + nseed)) --files "$TMP/files" --cfg "$CFG" --until "$UNTIL" \
        --log "$TMP/logs/$name.out" -- "$@" 2> "$TMP/logs/$name.err"
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
# The classic pipeline's outbound nc connects as soon as it starts, long before a client that
# comes later; this one waits for the client's first line (ssh clients speak first) and only
# then connects: a short forward with both legs short.
relay_nc_lazy() {  # HOST PORT DST DPORT
    local f=$TMP/fifo-$1-$2
    mkfifo "$f"
    ip netns exec "$(nsof "$1")" bash -c "nc -l -s $(ipof "$1") -p $2 < '$f' | { IFS= read -r l; { printf '%s\\n' \"\$l\"; exec cat; } | nc $(ipof "$3") $4; } > '$f'" \
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
    local lines=("expect $LW" "pause 1")
    local h prev=$first
    for h in "$@"; do
        lines+=("type ssh -F @CFG@ $h" "expect $LW" "pause 1")
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
    printf '%s\n' "expect $LW" "pause 1" "session 200" "type exit" > "$TMP/plans/$name.plan"
    typist "$name" "$3" "$2" "$TMP/plans/$name.plan" ssh -tt -F "$CFG" -J "$4" "$5"
}
chain_port() {  # NAME DELAY SRC RELAYHOST PORT KIND: ssh through a port relay
    local name=$1
    expect_hop "$4" "$6"
    printf '%s\n' "expect $LW" "pause 1" "session 200" "type exit" > "$TMP/plans/$name.plan"
    typist "$name" "$3" "$2" "$TMP/plans/$name.plan" ssh -tt -F "$CFG" -p "$5" "$4"
}
chain_plain() {  # NAME DELAY SRC HOST PORT KIND: plain-text shell reached through a relay port
    local name=$1
    expect_hop "$4" "$6"
    printf '%s\n' "expect $LW" "pause 1" "session 200" "type exit" > "$TMP/plans/$name.plan"
    typist "$name" "$3" "$2" "$TMP/plans/$name.plan" socat -,raw,echo=0 "TCP:$(ipof "$4"):$5"
}
# nc keeps running after the far shell exits while its stdin is open: the next keys typed get
# the peer's reset and end it, as they would for a person.
chain_shellnc() {  # NAME DELAY SRC HOST PORT DST DPORT: plain shell on HOST, nc from it to DST
    local name=$1
    expect_hop "$4" shell-nc
    printf '%s\n' "expect $LW" "pause 1" "type stty raw -echo; nc $(ipof "$6") $7" "expect $LW" \
        "pause 1" "session 200" "type exit" "sleep 1" "rawtype " "sleep 0.5" "rawtype " "expect 15" \
        "type stty sane" "expect 10" "type exit" \
        > "$TMP/plans/$name.plan"
    typist "$name" "$3" "$2" "$TMP/plans/$name.plan" socat -,raw,echo=0 "TCP:$(ipof "$4"):$5"
}
# unrelated sessions (negatives): interactive ssh, bulk copies over ssh, a direct plain shell
bg_ssh() {  # NAME DELAY SRC DST
    printf '%s\n' "expect $LW" "pause 2" "session 200" "type exit" > "$TMP/plans/$1.plan"
    typist "$1" "$3" "$2" "$TMP/plans/$1.plan" ssh -tt -F "$CFG" "$4"
}
bg_bulk() {  # NAME DELAY SRC DST: non-interactive transfers now and then
    printf '%s\n' "expect $LW" "pause 1" \
        "type ssh -F @CFG@ $4 cat @FILES@/app.log > /dev/null; sleep 3; ssh -F @CFG@ $4 'head -c 50000 @FILES@/app.log' | wc -c" \
        "expect 60" "pause 2" "type exit" > "$TMP/plans/$1.plan"
    typist "$1" "$3" "$2" "$TMP/plans/$1.plan" bash --norc -i
}
bg_plain() {  # NAME DELAY SRC HOST PORT: plain-text shell, no relay
    printf '%s\n' "expect $LW" "pause 1" "session 200" "type exit" > "$TMP/plans/$1.plan"
    typist "$1" "$3" "$2" "$TMP/plans/$1.plan" socat -,raw,echo=0 "TCP:$(ipof "$4"):$5"
}

# short relays, decoys and a busy jump host (scenarios hard and short)
RANDOM=$SEED  # every draw below comes from the seed, in order
rnd() { printf -v "$1" %d $(($2 + RANDOM % ($3 - $2 + 1))); }  # VAR LO HI: a whole number
pick() { local v=$1 n; shift; n=$((RANDOM % $#)); shift $n; printf -v "$v" %s "$1"; }  # VAR WORD...
# one-shot commands that run 1-5 s (a one-shot ssh shorter than the socket watch's round could
# go unseen, and people's one-shots are rarely instant either)
ONESHOTS=("vmstat 1 3" "vmstat 1 5" "top -b -n 2 -d 1 | head -n 20"
    "for i in 1 2 3; do date; sleep 1; done" "tail -n 40 @FILES@/app.log; sleep 1; uptime"
    "ps aux | head -n 30; sleep 2; uptime" "df -h; sleep 1; free -m" "sleep 2; grep -c WARN @FILES@/app.log")
QUICK=("uptime" "ls -la /etc | head -n 40" "tail -n 60 @FILES@/app.log" "ps aux | head -n 25" "df -h"
    "cat @FILES@/config.ini" "id; hostname")
# a session on RELAY from SRC (30-45 s) in which ssh to DST runs one command and leaves:
# MODE i types `ssh DST`, one command, `exit` (a leg of 3-8 s); MODE 1 types `ssh DST CMD`
# (a leg of 1-5 s)
chain_brief() {  # NAME DELAY SRC RELAY DST MODE
    local name=$1 relay=$4 dst=$5 mode=$6 pre post cmd
    rnd pre 3 8; rnd post 3 9  # typing `ssh -F CONFIG DST ...` alone takes 10-20 s
    expect_hop "$relay" ssh
    if [ "$mode" = i ]; then
        pick cmd "${QUICK[@]}"
        printf '%s\n' "expect $LW" "pause 1" "session 99 $pre" "type ssh -F @CFG@ $dst" "expect 30" \
            "pause 0.8" "type $cmd" "expect 30" "pause 0.8" "type exit" "expect 15" "pause 1" \
            "session 99 $post" "type exit" > "$TMP/plans/$name.plan"
    else
        pick cmd "${ONESHOTS[@]}"
        printf '%s\n' "expect $LW" "pause 1" "session 99 $pre" "type ssh -F @CFG@ $dst '$cmd'" \
            "expect 40" "pause 1" "session 99 $post" "type exit" > "$TMP/plans/$name.plan"
    fi
    typist "$name" "$3" "$2" "$TMP/plans/$name.plan" ssh -tt -F "$CFG" "$relay"
}
# a one-shot command typed in a local shell on SRC: ssh -J through JUMP, or ssh through a port
# relay (socat, nc) on RELAYHOST:PORT
oneshot_jump() {  # NAME DELAY SRC JUMP DST
    local cmd
    pick cmd "${ONESHOTS[@]}"
    expect_hop "$4" ssh-jump
    printf '%s\n' "expect $LW" "pause 1" "type ssh -F @CFG@ -J $4 $5 '$cmd'" "expect 60" "pause 1" \
        "type exit" > "$TMP/plans/$1.plan"
    typist "$1" "$3" "$2" "$TMP/plans/$1.plan" bash --norc -i
}
oneshot_port() {  # NAME DELAY SRC RELAYHOST PORT KIND
    local cmd
    pick cmd "${ONESHOTS[@]}"
    expect_hop "$4" "$6"
    printf '%s\n' "expect $LW" "pause 1" "type ssh -F @CFG@ -p $5 $4 '$cmd'" "expect 60" "pause 1" \
        "type exit" > "$TMP/plans/$1.plan"
    typist "$1" "$3" "$2" "$TMP/plans/$1.plan" bash --norc -i
}
# a negative: an unrelated login SRC -> RELAY (20-60 s of commands), and 0.5-4 s after it
# arrives a one-shot ssh leaves RELAY for DST, started on RELAY by no one in that session
decoy() {  # NAME DELAY SRC RELAY DST
    local name=$1 relay=$4 sess after cmd
    rnd sess 20 60; rnd after 5 40; pick cmd "${ONESHOTS[@]}"
    printf '%s\n' "expect $LW" "pause 2" "session 99 $sess" "type exit" > "$TMP/plans/$name.plan"
    typist "$name" "$3" "$2" "$TMP/plans/$name.plan" ssh -tt -F "$CFG" "$relay"
    cmd=${cmd//@FILES@/$TMP/files}
    # count the logins from SRC before the typist starts, then wait (up to DELAY + 60 s) for one more
    spawn "$name-oneshot" 0 "$relay" bash -c '
        n() { ss -tnH state established "( sport = :22 and dst $1 )" | wc -l; }
        n0=$(n "$1")
        for _ in $(seq 1 "$2"); do [ "$(n "$1")" -gt "$n0" ] && break; sleep 0.1; done
        sleep "$3"; exec ssh -F "$4" "$5" "$6"' decoy "$(ipof "$3")" $((($2 + 60) * 10)) \
        "$((after / 10)).$((after % 10))" "$CFG" "$5" "$cmd" \
        > "$TMP/logs/$name-oneshot.out" 2> "$TMP/logs/$name-oneshot.err"
}
# a negative: an interactive session SRC -> DST lasting LEN s (0: to the end of the run)
bg_for() {  # NAME DELAY SRC DST LEN
    printf '%s\n' "expect $LW" "pause 2" "session 999 $([ "$5" = 0 ] && echo 99999 || echo "$5")" \
        "type exit" > "$TMP/plans/$1.plan"
    typist "$1" "$3" "$2" "$TMP/plans/$1.plan" ssh -tt -F "$CFG" "$4"
}
# a busy jump host: NIN sessions from the others into HOST, NOUT from HOST to the others, all
# unrelated, staggered over the first minute, two thirds to the end of the run, a third 60-180 s
busy_host() {  # HOST NIN NOUT OTHERS...
    local host=$1 nin=$2 nout=$3 k peer delay len
    shift 3
    for k in $(seq 1 "$nin"); do
        pick peer "$@"; rnd delay 1 60; rnd len 60 180; [ $((k % 3)) = 0 ] || len=0
        bg_for "b-in$k" "$delay" "$peer" "$host" "$len"
    done
    for k in $(seq 1 "$nout"); do
        pick peer "$@"; rnd delay 1 60; rnd len 60 180; [ $((k % 3)) = 0 ] || len=0
        bg_for "b-out$k" "$delay" "$host" "$peer" "$len"
    done
}
# a start time for a short element: uniform over [LO, DURATION - TAIL], at least LO
when() {  # VAR LO TAIL
    local hi=$((DURATION - $3))
    [ "$hi" -gt "$2" ] || hi=$2
    rnd "$1" "$2" "$hi"
}

# ---------------------------------------------------------------- scenarios
# the full scenario's relays (and the ports they listen on) and chains; hard has them too
full_relays() {
    relay_socat h3 2222 h5 22
    relay_nc h6 2223 h8 22
    relay_delay h4 2400 h1 22
    shell_listener h2 2300
    shell_listener h5 2300
    shell_listener h8 2300
    relay_socat h1 2301 h2 2300
}
FULL_LISTEN=("h3 2222" "h6 2223" "h4 2400" "h2 2300" "h5 2300" "h8 2300" "h1 2301")
full_chains() {
    chain_ssh     c-ssh3   1 h1 h2 h3 h4
    chain_jump    c-jump2  3 h5 h2,h6 h7
    chain_port    c-socat  2 h8 h3 2222 socat
    chain_port    c-nc     4 h4 h6 2223 nc
    chain_port    c-delay  5 h6 h4 2400 delay-relay
    chain_plain   c-plain  2 h7 h1 2301 socat
    chain_shellnc c-shnc   6 h3 h5 2300 h8 2300
}
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
elif [ "$SCENARIO" = full ]; then
    full_relays
    for hp in "${FULL_LISTEN[@]}"; do
        wait_listen $hp
    done
    full_chains
    bg_ssh   n-out2   1 h2 h5
    bg_ssh   n-in2    4 h7 h2
    bg_ssh   n-out3   2 h3 h7
    bg_ssh   n-in6    3 h1 h6
    bg_ssh   n-in4    5 h5 h4
    bg_bulk  n-bulk1  6 h1 h8
    bg_bulk  n-bulk2  9 h6 h2
    bg_plain n-plain  3 h4 h8 2300
elif [ "$SCENARIO" = hard ]; then
    # long relays of every kind, as in full, two more through the busy jump host h10
    full_relays
    # port relays for short connections
    relay_socat h7 2224 h9 22
    relay_nc_lazy h9 2225 h2 22
    relay_nc_lazy h5 2226 h10 22
    for hp in "${FULL_LISTEN[@]}" "h7 2224" "h9 2225" "h5 2226"; do
        wait_listen $hp
    done
    full_chains
    chain_ssh     c-busy   7 h1 h10 h9
    chain_jump    c-bjump  8 h5 h10 h3
    # short relays: one command through ssh inside a 30-45 s session, one-shot ssh -J, one-shot
    # ssh through socat and nc forwards; the busy host relays some of them
    when t 10 70; chain_brief  s-int1   $t h7 h3 h9 i
    when t 10 70; chain_brief  s-int2   $t h4 h10 h8 i
    when t 10 70; chain_brief  s-one1   $t h9 h6 h1 1
    when t 10 70; chain_brief  s-one2   $t h2 h10 h5 1
    when t 10 40; oneshot_jump s-jump1  $t h8 h4 h2
    when t 10 40; oneshot_jump s-jump2  $t h2 h10 h6
    when t 10 40; oneshot_jump s-jump3  $t h1 h7 h3
    when t 10 40; oneshot_port s-socat1 $t h1 h7 2224 socat
    when t 10 40; oneshot_port s-socat2 $t h8 h7 2224 socat
    when t 10 40; oneshot_port s-socat3 $t h2 h3 2222 socat
    when t 10 40; oneshot_port s-nc1    $t h6 h9 2225 nc
    when t 10 40; oneshot_port s-nc2    $t h3 h5 2226 nc
    # negatives: decoys on relay hosts, unrelated sessions, bulk copies, a plain shell
    when t 5 80; decoy d-h2  $t h9 h2 h7
    when t 5 80; decoy d-h3  $t h1 h3 h8
    when t 5 80; decoy d-h6  $t h10 h6 h4
    when t 5 80; decoy d-h10 $t h7 h10 h1
    when t 5 80; decoy d-h4  $t h5 h4 h9
    bg_ssh   n-out2   1 h2 h5
    bg_ssh   n-in2    4 h7 h2
    bg_ssh   n-out3   2 h3 h7
    bg_ssh   n-in6    3 h1 h6
    bg_bulk  n-bulk1  6 h1 h8
    bg_bulk  n-bulk2  9 h6 h2
    bg_plain n-plain  3 h4 h8 2300
    # the busy jump host: 10-16 sessions in, 6-10 out
    rnd nin 10 16; rnd nout 6 10
    busy_host h10 $nin $nout h1 h2 h3 h4 h5 h6 h7 h8 h9
else  # short: the short relays of hard on five hosts (for tests)
    relay_socat h2 2222 h4 22
    relay_nc_lazy h4 2223 h5 22
    wait_listen h2 2222; wait_listen h4 2223
    chain_ssh    c-ssh   1 h1 h2 h3
    chain_brief  s-int   2 h4 h2 h5 i
    oneshot_jump s-jump  6 h5 h3 h1
    oneshot_port s-socat 4 h1 h2 2222 socat
    oneshot_port s-nc    8 h3 h4 2223 nc
    decoy        d-h2    3 h5 h2 h4
fi
log "run $RUNID: scenario $SCENARIO, $NHOSTS hosts, ${#NAMES[@]} sessions, ${DURATION}s, seed $SEED, temp $TMP"

# ---------------------------------------------------------------- wait, stop, label
DEADLINE=$((START + DURATION + 45))
for n in "${NAMES[@]}"; do
    st=$TMP/run/$n.status
    while [ ! -e "$st" ] && [ "$(date +%s)" -lt "$DEADLINE" ]; do sleep 0.5; done
    if [ ! -e "$st" ]; then  # no status yet: the process (or its zombie) still holds its pid
        log "warning: session $n still running at the deadline; stopped"
        [ -s "$TMP/run/$n.pid" ] && kill -TERM "$(cat "$TMP/run/$n.pid")" 2>/dev/null
        for _ in $(seq 1 20); do [ -e "$st" ] && break; sleep 0.5; done
    fi
    rc=$(cat "$st" 2>/dev/null)
    [ "$rc" = 0 ] || log "warning: session $n ended with status ${rc:-unknown}: $(tail -n 2 "$TMP/logs/$n.err" | tr '\n' ' ')"
done
sleep 1
kill -TERM "$WATCHPID" 2>/dev/null
wait "$WATCHPID"
WATCHPID=
kill -TERM "${CAPPIDS[@]}" 2>/dev/null
wait "${CAPPIDS[@]}" 2>/dev/null
if [ -n "$DELAY" ]; then  # the forwarders' counts: frames, drops, lateness of the releases
    kill -TERM "${LINKPIDS[@]}" 2>/dev/null
    wait "${LINKPIDS[@]}" 2>/dev/null
    cat "$TMP"/logs/linkdelay-h*.log >> "$STAGE/run.log"
    awk '/^linkdelay: .* frames/ { n += $3 + $6; split($9, d, "/"); dr += d[1] + d[2];
             if ($14 > mx) mx = $14; l1 += $19; l5 += $23 }
         END { printf "run.sh: delayed links: %d frames forwarded, %d dropped; released over 1 ms late: %d, over 5 ms: %d, at most %.1f ms\n", n, dr, l1, l5, mx }' \
        "$TMP"/logs/linkdelay-h*.log | tee -a "$STAGE/run.log" >&2
fi
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
if [ -n "$DELAY" ]; then  # each host's delay, measured from the handshakes on the bridge
    $PY "$HERE/linkdelay.py" check "$STAGE/links.csv" "$STAGE/merged.pcap" > "$TMP/delaycheck" 2>&1 \
        || { log "warning: delays measured in merged.pcap differ from links.csv"; STATUS=1; }
    sed 's/^/  /' "$TMP/delaycheck" | tee -a "$STAGE/run.log" >&2
fi
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

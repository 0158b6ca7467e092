#!/bin/bash
# attacks.sh - ssh brute force and port scans in network namespaces, captured and timed.
#
# usage: attacks.sh -o OUTDIR [--hosts N] [--seed N] [--attempts N] [--pause S]
#                   [--snaplen N] [--max-time S]
#
# Builds victims h1..hN (default 6; one network namespace each, 198.18.0.11.., the address
# plan of benign.sh, so an attack capture lays over a benign one) and an attacker at
# 198.18.0.250, on a bridge living in a namespace of its own (198.18.0.0/24, no route out,
# IPv6 off; every name carries a per-run id). Victims run sshd (key auth only) and h1..h4
# serve HTTP like in benign.sh (h1, h2 on 8000, h3, h4 on 80). The attacker then runs, one
# after the other with --pause seconds (default 20) of silence between them:
#   ssh-bruteforce       --attempts (default 60) short failed logins to h1 (wrong key,
#                        changing user names, 0.1-1.5 s apart, 2 at a time)
#   ssh-bruteforce-slow  half as many failed logins to h4, 1-4 s apart
#   portscan-connect     a python TCP connect scan of h2: ports 1..1024 and 40 others, shuffled
#   portscan-nc          nc -z over ports 1..600 of h3
#   portscan-sweep       ports 21, 22, 23, 80, 443, 3389, 8000, 8080 on every victim
# and writes merged.pcap (the bridge: every packet once) and attacks.csv (kind, attacker,
# victim, start, end: epoch seconds of the first and last attack action).
# Exit status: 0 done, 1 failure, 2 bad usage, 3 missing privilege or tool. Everything
# started is stopped and removed on exit, on failure and on the global timeout (--max-time,
# default 400 s).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
ME=attacks.sh
. "$HERE/lib.sh"

OUTDIR= NHOSTS=6 SEED=1 SNAPLEN=128 MAXTIME=400 ATTEMPTS=60 PAUSE=20
while [ $# -gt 0 ]; do
    case "$1" in
        -o) OUTDIR=${2:-}; shift 2 || usage ;;
        --hosts) NHOSTS=${2:-}; shift 2 || usage ;;
        --seed) SEED=${2:-}; shift 2 || usage ;;
        --attempts) ATTEMPTS=${2:-}; shift 2 || usage ;;
        --pause) PAUSE=${2:-}; shift 2 || usage ;;
        --snaplen) SNAPLEN=${2:-}; shift 2 || usage ;;
        --max-time) MAXTIME=${2:-}; shift 2 || usage ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "attacks.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[ -n "$OUTDIR" ] || { echo "attacks.sh: -o OUTDIR is required" >&2; usage; }
netns_whole_numbers "$NHOSTS" "$SEED" "$SNAPLEN" "$MAXTIME" "$ATTEMPTS" "$PAUSE"
[ "$NHOSTS" -ge 4 ] && [ "$NHOSTS" -le 200 ] || { echo "attacks.sh: --hosts must be 4..200" >&2; exit 2; }
[ "$ATTEMPTS" -ge 2 ] && [ "$ATTEMPTS" -le 1000 ] || { echo "attacks.sh: --attempts must be 2..1000" >&2; exit 2; }

netns_require ip iproute2 /usr/sbin/sshd openssh-server ssh openssh-client \
    ssh-keygen openssh-client tcpdump tcpdump nc netcat-openbsd $PY python3 timeout coreutils

# Bound the whole run: re-run under timeout(1); the TERM it sends runs the cleanup trap.
netns_timed -o "$OUTDIR" --hosts "$NHOSTS" --seed "$SEED" --attempts "$ATTEMPTS" \
    --pause "$PAUSE" --snaplen "$SNAPLEN" --max-time "$MAXTIME"

CAPPID=
netns_start a /tmp/ssat.XXXXXX


# ---------------------------------------------------------------- hosts and network
netns_bridge
mkdir -p "$TMP/www" "$TMP/logs"
HOSTS=()
for i in $(seq 1 "$NHOSTS"); do HOSTS+=("h$i"); done
HOSTS+=(atk)
k=0
for h in "${HOSTS[@]}"; do
    k=$((k + 1))
    netns_host "$h" $k
done

# ---------------------------------------------------------------- victims' services
netns_client_key good stepstone-attacks
netns_client_key wrong stepstone-wrong
cp "$TMP/good.pub" "$TMP/authorized_keys"
for i in $(seq 1 "$NHOSTS"); do
    netns_sshd h$i <<EOF
UseDNS no
MaxStartups 100
MaxAuthTries 2
LogLevel ERROR
EOF
done
echo "<html><body>index</body></html>" > "$TMP/www/index.html"
netns_http_servers
cat > "$TMP/scan.py" <<'EOF'
import random, socket, sys, time
mode, seed = sys.argv[1], int(sys.argv[2])
r = random.Random(seed)
def probe(host, port):
    s = socket.socket()
    s.settimeout(1.0)
    try:
        s.connect((host, port))
    except OSError:
        pass
    s.close()
if mode == "connect":
    ports = list(range(1, 1025)) + r.sample(range(1025, 65536), 40)
    r.shuffle(ports)
    for p in ports:
        probe(sys.argv[3], p)
        time.sleep(r.uniform(0.0, 0.01))
else:  # sweep
    for p in (21, 22, 23, 80, 443, 3389, 8000, 8080):
        for h in sys.argv[3:]:
            probe(h, p)
            time.sleep(r.uniform(0.0, 0.05))
EOF
cat > "$TMP/brute.sh" <<'EOF'
# brute.sh VICTIM N MIN MAX PARALLEL KEY SEED: N failed logins, MIN..MAX s apart
victim=$1 n=$2 lo=$3 hi=$4 par=$5 key=$6
RANDOM=$7
users=(root admin test user oracle guest ubuntu pi)
for k in $(seq 1 "$n"); do
    timeout 20 ssh -n -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=QUIET -o ConnectTimeout=5 \
        -l "${users[$((RANDOM % 8))]}" "$victim" true >/dev/null 2>&1 &
    [ $((k % par)) = 0 ] && wait
    sleep "$(awk -v a="$lo" -v b="$hi" -v r=$RANDOM 'BEGIN { printf "%.2f", a + (b - a) * r / 32767 }')"
done
wait
EOF

# ---------------------------------------------------------------- capture and attacks
netns_capture_bridge
waitport() { netns_listening "$1" t "$2" || die "nothing listens on $1 port $2"; }  # HOST PORT
for i in $(seq 1 "$NHOSTS"); do waitport h$i 22; done
waitport h1 8000; waitport h2 8000; waitport h3 80; waitport h4 80
log "run $RUNID: $NHOSTS victims, seed $SEED, temp $TMP"
echo "kind,attacker,victim,start,end" > "$STAGE/attacks.csv"
A=$(ipof atk)
attack() {  # KIND VICTIM COMMAND...
    local kind=$1 victim=$2 t0 t1
    shift 2
    sleep "$PAUSE"
    t0=$(date +%s.%N)
    ip netns exec "$(nsof atk)" "$@" > "$TMP/logs/$kind.log" 2>&1 || log "warning: $kind ended with an error"
    t1=$(date +%s.%N)
    printf '%s,%s,%s,%.3f,%.3f\n' "$kind" "$A" "$victim" "$t0" "$t1" >> "$STAGE/attacks.csv"
    log "$kind against $victim: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
}
VICTIMS=()
for i in $(seq 1 "$NHOSTS"); do VICTIMS+=("$(ipof h$i)"); done
attack ssh-bruteforce "$(ipof h1)" bash "$TMP/brute.sh" "$(ipof h1)" "$ATTEMPTS" 0.1 1.5 2 "$TMP/wrong" "$SEED"
attack ssh-bruteforce-slow "$(ipof h4)" bash "$TMP/brute.sh" "$(ipof h4)" $((ATTEMPTS / 2)) 1 4 1 "$TMP/wrong" $((SEED + 1))
attack portscan-connect "$(ipof h2)" $PY "$TMP/scan.py" connect "$SEED" "$(ipof h2)"
attack portscan-nc "$(ipof h3)" nc -z -w 1 "$(ipof h3)" 1-600
attack portscan-sweep all $PY "$TMP/scan.py" sweep "$SEED" "${VICTIMS[@]}"
sleep 3
kill -TERM "$CAPPID" 2>/dev/null
wait "$CAPPID" 2>/dev/null
[ -s "$STAGE/merged.pcap" ] || die "empty capture"
[ "$(wc -l < "$STAGE/attacks.csv")" = 6 ] || die "not every attack ran"
for f in "$STAGE"/*; do mv -f "$f" "$OUTDIR/"; done
echo "attacks.sh: done: $OUTDIR" >&2
exit 0

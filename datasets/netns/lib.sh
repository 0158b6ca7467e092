# lib.sh - setup shared by run.sh, benign.sh and attacks.sh (sourced, not run).
#
# The sourcing script sets ME (its name, the prefix of every message) and PY before sourcing,
# and keeps its own option parsing. Here: usage and error helpers, the root and tool checks,
# the re-run under timeout(1), the run's names, temp dir, staging dir and cleanup trap, the
# bridge and host namespaces, per-host sshd, the bridge capture and listening-port waits.
# Hosts are h1..hN at 198.18.0.11.. (the attacker of attacks.sh, atk, at 198.18.0.250); each
# lives in namespace stepstone-RUNID-NAME, the bridge br0 in stepstone-RUNID-sw.

# usage: print the script's usage lines (4-5 of its header) and exit 2.
usage() { sed -n '4,5p' "$0" | sed 's/^# //' >&2; exit 2; }
# die MESSAGE: report a failure and exit 1 (the EXIT trap cleans up).
die() { echo "$ME: $*" >&2; exit 1; }
# log MESSAGE: report on stderr and in the run's run.log.
log() { echo "$ME: $*" | tee -a "$STAGE/run.log" >&2; }

# netns_whole_numbers VALUE...: exit 2 unless every value is a whole number.
netns_whole_numbers() {
    local v
    for v in "$@"; do
        [[ "$v" =~ ^[0-9]+$ ]] || { echo "$ME: '$v' is not a whole number" >&2; exit 2; }
    done
}

# netns_require TOOL PACKAGE...: exit 3 unless root and every tool is there (naming the
# Debian package of each missing one).
netns_require() {
    local missing=
    if [ "$(id -u)" != 0 ]; then
        echo "$ME: needs root (network namespaces, sshd, tcpdump)" >&2; exit 3
    fi
    while [ $# -ge 2 ]; do
        command -v "$1" >/dev/null 2>&1 || missing="$missing $1 (Debian package $2)"
        shift 2
    done
    [ -z "$missing" ] || { echo "$ME: missing:$missing" >&2; exit 3; }
}

# netns_timed ARG...: re-run the script with ARGs under timeout(1) (MAXTIME seconds) unless
# already done; the TERM it sends runs the cleanup trap.
netns_timed() {
    if [ -z "${SS_NETNS_TIMED:-}" ]; then
        SS_NETNS_TIMED=1 exec timeout --kill-after=30 "$MAXTIME" "$0" "$@"
    fi
}

# netns_start RUNID_PREFIX TEMP_TEMPLATE: create OUTDIR, name the run (RUNID, PFX, SW), make the
# temp dir TMP and the staging dir STAGE inside OUTDIR, and install the cleanup traps.
# Every process the run starts inherits STEPSTONE_NETNS_RUN=RUNID, so leftovers can be found.
netns_start() {
    mkdir -p "$OUTDIR" || die "cannot create $OUTDIR"
    RUNID=$(printf '%s%x%04x' "$1" $$ $((RANDOM)))
    PFX="stepstone-$RUNID"
    export STEPSTONE_NETNS_RUN=$RUNID
    SW="$PFX-sw"
    TMP=$(mktemp -d "$2") || die "cannot create a temp dir"
    STAGE=$(mktemp -d "$OUTDIR/.partial.XXXXXX") || die "cannot write in $OUTDIR"
    NSLIST=()
    trap netns_cleanup EXIT
    trap 'log "interrupted"; exit 130' INT
    trap 'log "stopped (global timeout of ${MAXTIME}s or TERM)"; exit 143' TERM
}

# netns_cleanup: the EXIT trap: stop every process in the run's namespaces and WATCHPID (a
# helper outside them, if the script has one), delete the namespaces, TMP and STAGE.
netns_cleanup() {
    local rc=$? ns pids left
    trap - EXIT INT TERM
    set +e
    [ -n "${WATCHPID:-}" ] && kill -TERM "$WATCHPID" 2>/dev/null
    for ns in "${NSLIST[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
    done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        left=
        for ns in "${NSLIST[@]}"; do left="$left$(ip netns pids "$ns" 2>/dev/null)"; done
        [ -n "${WATCHPID:-}" ] && kill -0 "$WATCHPID" 2>/dev/null && left=x
        [ -z "$left" ] && break
        sleep 0.3
    done
    for ns in "${NSLIST[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    done
    [ -n "${WATCHPID:-}" ] && kill -KILL "$WATCHPID" 2>/dev/null
    wait 2>/dev/null
    for ns in "${NSLIST[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$TMP" "$STAGE"
    exit "$rc"
}

# ipof HOST: the address of h1..hN or of the attacker atk.
ipof() { [ "$1" = atk ] && echo 198.18.0.250 || echo "198.18.0.$((10 + ${1#h}))"; }
# nsof HOST: the namespace of HOST.
nsof() { echo "$PFX-$1"; }

# netns_bridge: the bridge namespace SW with br0 up (IPv6 off).
netns_bridge() {
    ip netns add "$SW" || die "cannot create namespace $SW"
    NSLIST+=("$SW")
    ip netns exec "$SW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$SW" link set lo up
    ip -n "$SW" link add br0 type bridge || die "cannot create the bridge"
    ip -n "$SW" link set br0 up
}

# netns_host HOST K [DELAY_MS JITTER_MS]: HOST's namespace, its eth0 (address ipof HOST, /24,
# IPv6 off) plugged into br0 as port pK. With a delay, the link goes through linkdelay.py:
# eth0's peer is dK in the bridge namespace (not a bridge port), pK's peer is uK there, and a
# forwarder in the bridge namespace (real-time priority; its pid goes into LINKPIDS) holds
# every frame between dK and uK for DELAY_MS plus a normal jitter of sd JITTER_MS, each way,
# never reordering. Offloads (checksum, scatter-gather, TSO, GSO, GRO) are off on eth0, dK, uK
# and pK so that frames stay MTU-sized and carry their checksums.
netns_host() {
    local h=$1 k=$2 delay=${3:-} jitter=${4:-0} ns
    ns=$(nsof "$h")
    ip netns add "$ns" || die "cannot create namespace $ns"
    NSLIST+=("$ns")
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    if [ -z "$delay" ]; then
        ip -n "$SW" link add "p$k" type veth peer name eth0 netns "$ns" || die "cannot create veth for $h"
        ip -n "$SW" link set "p$k" master br0 up
    else
        ip -n "$SW" link add "p$k" type veth peer name "u$k" || die "cannot create veth for $h"
        ip -n "$SW" link add "d$k" type veth peer name eth0 netns "$ns" || die "cannot create veth for $h"
        ip -n "$SW" link set "p$k" master br0 up
        ip -n "$SW" link set "u$k" up
        ip -n "$SW" link set "d$k" up
        ip netns exec "$SW" $PY "$HERE/linkdelay.py" offloads "p$k" "u$k" "d$k" \
            && ip netns exec "$ns" $PY "$HERE/linkdelay.py" offloads eth0 \
            || die "cannot turn offloads off on the links of $h"
        ip netns exec "$SW" $PY "$HERE/linkdelay.py" forward "d$k" "u$k" --delay "$delay" \
            --jitter "$jitter" --seed "$((${SEED:-1} * 100 + k))" 2> "$TMP/logs/linkdelay-$h.log" &
        LINKPIDS+=($!)
    fi
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(ipof "$h")/24" dev eth0
    ip -n "$ns" link set eth0 up
}

# netns_client_key NAME COMMENT: a key pair TMP/NAME, TMP/NAME.pub for the clients.
netns_client_key() {
    ssh-keygen -q -t ed25519 -N '' -C "$2" -f "$TMP/$1" || die "ssh-keygen failed"
}

# netns_ssh_config N [CONNECT_TIMEOUT]: the clients' config (TMP/ssh_config, path in CFG): names
# h1..hN, root with the key TMP/id, no host key checks, batch mode, ConnectTimeout (default 10 s:
# the connection and the banner exchange); the caller may append options.
netns_ssh_config() {
    local i
    CFG=$TMP/ssh_config
    {
        for i in $(seq 1 "$1"); do printf 'Host h%d\n  HostName %s\n' "$i" "$(ipof h$i)"; done
        printf 'Host *\n  User root\n  IdentityFile %s/id\n  IdentitiesOnly yes\n' "$TMP"
        printf '  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  LogLevel ERROR\n'
        printf '  BatchMode yes\n  ConnectTimeout %d\n' "${2:-10}"
    } > "$CFG"
}

# netns_sshd HOST < EXTRA: start sshd in HOST's namespace on its address, port 22: generated
# host key, key auth for root (TMP/authorized_keys), no PAM; EXTRA config lines on stdin.
# Sessions get HOME=TMP/HOST/home (empty): bash run by sshd reads ~/.bashrc, and the
# machine's root dotfiles must not shape (or stall) generated traffic; a pyenv init in
# /root/.bashrc waited 60 s on a stale lock and hung every ssh command of a run.
netns_sshd() {
    local d=$TMP/$1
    [ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd  # sshd's privilege-separation dir (Debian path)
    mkdir -p "$d" "$d/home"
    ssh-keygen -q -t ed25519 -N '' -f "$d/hostkey" || die "ssh-keygen failed"
    {
        cat <<EOF
ListenAddress $(ipof "$1"):22
HostKey $d/hostkey
PidFile $d/sshd.pid
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $TMP/authorized_keys
StrictModes no
SetEnv HOME=$d/home
EOF
        cat
    } > "$d/sshd_config"
    if ! /usr/sbin/sshd -t -f "$d/sshd_config" 2>/dev/null; then
        # OpenSSH before 8.7 has no SetEnv in sshd_config: go on without it
        sed -i '/^SetEnv HOME=/d' "$d/sshd_config"
        /usr/sbin/sshd -t -f "$d/sshd_config" || die "sshd config for $1 rejected"
    fi
    ip netns exec "$(nsof "$1")" /usr/sbin/sshd -D -e -f "$d/sshd_config" \
        >> "$TMP/logs/sshd-$1.log" 2>&1 &
}

# netns_http_servers: python's http.server over TMP/www on h1, h2 (port 8000), h3, h4 (80).
netns_http_servers() {
    local i port
    for i in 1 2 3 4; do
        port=8000; [ "$i" -ge 3 ] && port=80
        (cd "$TMP/www" && exec ip netns exec "$(nsof h$i)" $PY -m http.server -b "$(ipof h$i)" "$port" \
            > "$TMP/logs/http-h$i.log" 2>&1) &
    done
}

# netns_capture_bridge: tcpdump on br0 into STAGE/merged.pcap (pid in CAPPID), once listening.
netns_capture_bridge() {
    ip netns exec "$SW" tcpdump -i br0 -n -U -s "$SNAPLEN" -w "$STAGE/merged.pcap" \
        > "$TMP/logs/tcpdump-br0.log" 2>&1 &
    CAPPID=$!
    for _ in $(seq 1 50); do
        grep -q 'listening on' "$TMP/logs/tcpdump-br0.log" 2>/dev/null && break
        sleep 0.1
    done
    grep -q 'listening on' "$TMP/logs/tcpdump-br0.log" || die "tcpdump did not start"
}

# netns_listening HOST t|u PORT: wait up to 5 s for a TCP or UDP listener on PORT in HOST;
# status 1 if none.
netns_listening() {
    for _ in $(seq 1 50); do
        ip netns exec "$(nsof "$1")" ss -"$2"lnH "sport = :$3" | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

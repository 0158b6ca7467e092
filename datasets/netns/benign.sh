#!/bin/bash
# benign.sh - benign per-host activity in network namespaces, captured on one bridge.
#
# usage: benign.sh -o OUTDIR [--hosts N] [--duration S] [--seed N] [--snaplen N]
#                  [--max-time S] [--chatter] [--keepalive] [--browser]
#
# Builds hosts h1..hN (one network namespace each, 198.18.0.11.. on 198.18.0.0/24, no route
# out, IPv6 off) on a Linux bridge living in a namespace of its own; every name carries a
# per-run id. Every host runs sshd (key auth, generated keys); h1..h4 serve HTTP
# (python3 -m http.server: h1, h2 on 8000, h3, h4 on 80), h1 and h5 answer DNS-like UDP
# queries on port 53 (a tiny python responder). Each host runs a "user" (python, in its
# namespace) that until the end of the run thinks (log-normal pauses, median 12 s), then does
# one activity: web browsing (a page then a few assets, curl, wget or python), a DNS-like
# lookup (often before the other activities), ssh commands (one or several in a row), an
# ssh session running commands over tens of seconds, a file transfer (scp either way, or a
# wget download). With --chatter each host also sends the service-discovery datagrams of a
# LAN, unanswered, at random times (mean 45 s): mDNS (224.0.0.251:5353), LLMNR
# (224.0.0.252:5355), SSDP (239.255.255.250:1900), NetBIOS name queries (198.18.0.255:137),
# each host a few of these four. With --keepalive the web servers speak HTTP/1.1 and keep an
# idle connection open as Apache does by default (h3, h4 on port 80: 5 s; h1, h2: 15 s, the
# 2.2 default), and browsing fetches its page and assets over one connection, left open
# until the server closes it (the client closes 1 s after the timeout). With --browser,
# browsing is a browser's instead: requests with a browser's headers (user agent, accept
# lists, referer, often a cookie: 290-500 bytes, where curl's are under 170; downloads
# too), the page,
# then its assets fetched in parallel over up to 6 connections per server, a third of them
# from a second web server (a static host); with --keepalive each connection is reused and
# left open, without it the servers close each one after a response. Captures the bridge
# (merged.pcap, every packet once).
#
# Output in OUTDIR: merged.pcap, hosts.csv, activity.csv (one row per activity: time, host,
# kind, peer, status), run.log. Exit status: 0 done, 1 failure, 2 bad usage, 3 missing
# privilege or tool. Everything started is stopped and removed on exit, on failure and on
# the global timeout (--max-time, default duration + 120 s).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
ME=benign.sh
. "$HERE/lib.sh"

OUTDIR= NHOSTS=16 DURATION=300 SEED=1 SNAPLEN=128 MAXTIME= CHATTER=0 KEEPALIVE=0 BROWSER=0
while [ $# -gt 0 ]; do
    case "$1" in
        -o) OUTDIR=${2:-}; shift 2 || usage ;;
        --hosts) NHOSTS=${2:-}; shift 2 || usage ;;
        --duration) DURATION=${2:-}; shift 2 || usage ;;
        --seed) SEED=${2:-}; shift 2 || usage ;;
        --snaplen) SNAPLEN=${2:-}; shift 2 || usage ;;
        --max-time) MAXTIME=${2:-}; shift 2 || usage ;;
        --chatter) CHATTER=1; shift ;;
        --keepalive) KEEPALIVE=1; shift ;;
        --browser) BROWSER=1; shift ;;
        -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "benign.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[ -n "$OUTDIR" ] || { echo "benign.sh: -o OUTDIR is required" >&2; usage; }
netns_whole_numbers "$NHOSTS" "$DURATION" "$SEED" "$SNAPLEN" ${MAXTIME:+"$MAXTIME"}
[ "$NHOSTS" -ge 5 ] && [ "$NHOSTS" -le 200 ] || { echo "benign.sh: --hosts must be 5..200" >&2; exit 2; }
[ "$DURATION" -ge 10 ] || { echo "benign.sh: --duration must be at least 10 s" >&2; exit 2; }
: "${MAXTIME:=$((DURATION + 120))}"

netns_require ip iproute2 /usr/sbin/sshd openssh-server ssh openssh-client \
    scp openssh-client ssh-keygen openssh-client tcpdump tcpdump \
    curl curl wget wget $PY python3 timeout coreutils

# Bound the whole run: re-run under timeout(1); the TERM it sends runs the cleanup trap.
CHATTER_OPT=()
[ "$CHATTER" = 1 ] && CHATTER_OPT=(--chatter)
[ "$KEEPALIVE" = 1 ] && CHATTER_OPT+=(--keepalive)
[ "$BROWSER" = 1 ] && CHATTER_OPT+=(--browser)
netns_timed -o "$OUTDIR" --hosts "$NHOSTS" --duration "$DURATION" --seed "$SEED" \
    --snaplen "$SNAPLEN" --max-time "$MAXTIME" "${CHATTER_OPT[@]}"

CAPPID= USERPIDS=()
netns_start b /tmp/ssbn.XXXXXX


# ---------------------------------------------------------------- hosts and network
netns_bridge
mkdir -p "$TMP/www" "$TMP/logs"
echo "host,ip,netns" > "$STAGE/hosts.csv"
for i in $(seq 1 "$NHOSTS"); do
    netns_host h$i $i
    echo "h$i,$(ipof h$i),$(nsof h$i)" >> "$STAGE/hosts.csv"
done

# ---------------------------------------------------------------- keys, sshd, files
netns_client_key id stepstone-benign
cp "$TMP/id.pub" "$TMP/authorized_keys"
netns_ssh_config "$NHOSTS"
for i in $(seq 1 "$NHOSTS"); do
    netns_sshd h$i <<EOF
X11Forwarding no
Subsystem sftp internal-sftp
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 100
MaxSessions 50
LogLevel ERROR
EOF
done
# Web pages, assets and downloads: a few hundred bytes to a few megabytes.
$PY - "$TMP/www" "$SEED" <<'EOF' || die "cannot generate files"
import os, random, sys
d, r = sys.argv[1], random.Random(int(sys.argv[2]))
words = "alpha beta gamma delta server client token retry cache queue worker disk".split()
for p in range(12):
    body = "".join("<p>%s</p>\n" % " ".join(r.choice(words) for _ in range(r.randint(5, 40)))
                   for _ in range(r.randint(3, 200)))
    open(os.path.join(d, "page%d.html" % p), "w").write("<html><body>\n%s</body></html>\n" % body)
for a in range(30):
    open(os.path.join(d, "asset%d.bin" % a), "wb").write(r.randbytes(int(r.lognormvariate(8.5, 1.2))))
for f in range(6):
    open(os.path.join(d, "file%d.tar" % f), "wb").write(r.randbytes(int(r.lognormvariate(12.5, 1.0))))
EOF
# DNS-like responder: answers every query with the question and one A record.
cat > "$TMP/dnsd.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    q, peer = s.recvfrom(2048)
    if len(q) < 12:
        continue
    qid, = struct.unpack("!H", q[:2])
    ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton("198.18.0.%d" % (11 + qid % 50))
    s.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q[12:] + ans, peer)
EOF
# LAN chatter of one host: service-discovery datagrams nobody answers, until the deadline.
cat > "$TMP/chatter.py" <<'EOF'
import random, socket, sys, time
me, until, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
r = random.Random(seed)
kinds = [("224.0.0.251", 5353, 5353, (40, 420)), ("224.0.0.252", 5355, 0, (30, 60)),
         ("239.255.255.250", 1900, 0, (120, 180)), ("198.18.0.255", 137, 137, (50, 68))]
mine = r.sample(kinds, r.randint(1, len(kinds)))
socks = {}
def sock(sport):
    if sport not in socks:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(me))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        s.bind((me, sport))
        socks[sport] = s
    return socks[sport]
time.sleep(r.uniform(0, 10))
while time.time() < until:
    group, port, sport, (lo, hi) = r.choice(mine)
    for _ in range(r.choice([1, 1, 2, 3])):  # queries are often repeated at once
        sock(sport).sendto(r.randbytes(r.randint(lo, hi)), (group, port))
        time.sleep(r.uniform(0.05, 1.0))
    time.sleep(max(0.0, min(r.expovariate(1 / 45.0), until - time.time())))
EOF
# --keepalive web server: HTTP/1.1, an idle connection closed after IDLE seconds.
cat > "$TMP/kaserver.py" <<'EOF'
import http.server, sys
addr, port, idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = idle
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((addr, port), Handler).serve_forever()
EOF
# The user of one host: think, act, repeat until the deadline.
cat > "$TMP/user.py" <<'EOF'
import os, random, socket, struct, subprocess, sys, time, urllib.request
me, nh, until, seed, cfg, www, act_log = (sys.argv[1], int(sys.argv[2]), float(sys.argv[3]),
                                          int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7])
keepalive = len(sys.argv) > 8 and sys.argv[8] == "1"
browser = len(sys.argv) > 9 and sys.argv[9] == "1"
ka_timeout = {8000: 15.0, 80: 5.0}  # the servers' idle timeouts (--keepalive)
r = random.Random(seed)
ip = lambda i: "198.18.0.%d" % (10 + i)
web = [(1, 8000), (2, 8000), (3, 80), (4, 80)]
dns = [1, 5]
others = [i for i in range(1, nh + 1) if ip(i) != me]
pages = sorted(f for f in os.listdir(www) if f.startswith("page"))
assets = sorted(f for f in os.listdir(www) if f.startswith("asset"))
files = sorted(f for f in os.listdir(www) if f.startswith("file"))
ssh = ["ssh", "-F", cfg]
logf = open(act_log, "a")

def run(cmd, t=60):
    try:
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=t).returncode
    except subprocess.TimeoutExpired:
        return -1

def lookup():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    name = b"".join(bytes([len(l)]) + l for l in r.choice(
        [b"www.example.test", b"files.example.test", b"mail.example.test", b"h%d.lan.test" % r.randint(1, 99)]).split(b".")) + b"\0"
    qid = r.getrandbits(16)
    for qt in ([1] if r.random() < 0.6 else [1, 28]):
        s.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", qt, 1),
                 (ip(r.choice(dns)), 53))
        try:
            s.recvfrom(2048)
        except OSError:
            s.close()
            return 1
    s.close()
    return 0

def get(url):
    tool = r.choice(["curl", "curl", "wget", "py"])
    if tool == "curl":
        return run(["curl", "-s", "-o", "/dev/null", "--max-time", "30", url])
    if tool == "wget":
        return run(["wget", "-q", "-O", "/dev/null", "-T", "30", "-t", "1", url])
    try:
        urllib.request.urlopen(url, timeout=30).read()
        return 0
    except OSError:
        return 1

def browse_keepalive(h, port):
    # a browser: page and assets over one HTTP/1.1 connection, left open until the server
    # closes it when idle (the client lets go 1 s after the server's timeout)
    import http.client, threading
    rc = 0
    try:
        c = http.client.HTTPConnection(ip(h), port, timeout=30)
        for k, f in enumerate([r.choice(pages)] + [r.choice(assets) for _ in
                                                     range(r.choice([0, 1, 2, 3, 4, 6]))]):
            if k:
                time.sleep(r.uniform(0.0, 0.4))
            c.request("GET", "/" + f, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)",
                                                "Accept": "*/*", "Connection": "keep-alive"})
            c.getresponse().read()
        threading.Timer(ka_timeout[port] + 1.0, c.close).start()
    except (OSError, http.client.HTTPException):
        rc = 1
    return "web", ip(h), rc

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

def browser_headers(referer):
    hd = {"User-Agent": UA, "Accept-Language": "en-US,en;q=0.5",
          "Accept-Encoding": "gzip, deflate", "Connection": "keep-alive",
          "Accept": ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
                     if referer is None else "image/avif,image/webp,*/*")}
    if referer is not None:
        hd["Referer"] = referer
    if r.random() < 0.7:
        hd["Cookie"] = "sid=%x; prefs=%x" % (r.getrandbits(128), r.getrandbits(r.randint(8, 640)))
    return hd

def browse_browser(h, port):
    # a browser: the page, then its assets in parallel, up to 6 connections per server,
    # some from a second server; with keep-alive each connection is reused and left open
    import http.client, threading
    page = r.choice(pages)
    ref = "http://%s:%d/%s" % (ip(h), port, page)
    static = r.choice([w for w in web if w != (h, port)])
    items = [((h, port) if r.random() < 0.67 else static, r.choice(assets), browser_headers(ref))
             for _ in range(r.choice([0, 1, 2, 3, 4, 6, 8, 12]))]
    pools, failed = {}, []
    def fetch(conn, jobs):
        try:
            for _, f, hd in jobs:
                conn.request("GET", "/" + f, headers=hd)
                conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            failed.append(1)
    first = http.client.HTTPConnection(ip(h), port, timeout=30)
    fetch(first, [(None, page, browser_headers(None))])
    pools[(h, port)] = [first]
    time.sleep(r.uniform(0.05, 0.3))  # parse the page
    per = {}
    for srv, f, hd in items:
        per.setdefault(srv, []).append((srv, f, hd))
    threads = []
    for srv, jobs in per.items():
        n = min(6, len(jobs))
        conns = pools.setdefault(srv, [])
        while len(conns) < n:
            conns.append(http.client.HTTPConnection(ip(srv[0]), srv[1], timeout=30))
        for k in range(n):
            t = threading.Thread(target=fetch, args=(conns[k], jobs[k::n]))
            t.start()
            threads.append(t)
    for t in threads:
        t.join()
    for srv, conns in pools.items():
        for c in conns:
            if keepalive:
                threading.Timer(ka_timeout[srv[1]] + 1.0, c.close).start()
            else:
                c.close()
    return "web", ip(h), 1 if failed else 0

def browse():
    h, port = r.choice(web)
    if browser:
        return browse_browser(h, port)
    if keepalive:
        return browse_keepalive(h, port)
    base = "http://%s:%d/" % (ip(h), port)
    rc = get(base + r.choice(pages))
    for _ in range(r.choice([0, 1, 2, 3, 4, 6])):
        time.sleep(r.uniform(0.0, 0.4))
        rc |= get(base + r.choice(assets))
    return "web", ip(h), rc

def command():
    h = r.choice(others)
    cmds = ["uptime", "ls -la /tmp", "ps aux", "df -h", "cat /etc/os-release", "date; id",
            "head -c %d %s/%s" % (r.randint(100, 200000), www, r.choice(files)), "uname -a; free"]
    rc = 0
    for _ in range(r.choice([1, 1, 1, 2, 3])):
        rc |= run(ssh + [ip(h), r.choice(cmds)])
        time.sleep(r.uniform(0.2, 3.0))
    return "ssh", ip(h), rc

def shell():
    h = r.choice(others)
    steps = "; ".join("%s; sleep %.1f" % (r.choice(["ls /", "ps", "date", "cat /proc/loadavg",
                      "head -n 20 /etc/services", "ls -la %s" % www]), r.uniform(1, 8))
                      for _ in range(r.randint(2, 8)))
    return "shell", ip(h), run(ssh + ["-tt", ip(h), steps], 120)

def transfer():
    h = r.choice(others)
    f = r.choice(files)
    if r.random() < 0.5:
        rc = run(["scp", "-q", "-F", cfg, "%s:%s/%s" % (ip(h), www, f), "/dev/null"], 120)
        return "scp-get", ip(h), rc
    rc = run(["scp", "-q", "-F", cfg, "%s/%s" % (www, f), "%s:/dev/null" % ip(h)], 120)
    return "scp-put", ip(h), rc

def download():
    h, port = r.choice(web)
    f = r.choice(files)
    if not browser:
        return "download", ip(h), get("http://%s:%d/%s" % (ip(h), port, f))
    import http.client, threading
    rc = 0
    c = http.client.HTTPConnection(ip(h), port, timeout=30)
    try:
        c.request("GET", "/" + f, headers=browser_headers(None))
        c.getresponse().read()
    except (OSError, http.client.HTTPException):
        rc = 1
    if keepalive:
        threading.Timer(ka_timeout[port] + 1.0, c.close).start()
    else:
        c.close()
    return "download", ip(h), rc

acts = [(browse, 0.35), (command, 0.22), (shell, 0.08), (transfer, 0.1), (download, 0.07), (None, 0.18)]
time.sleep(r.uniform(0, 10))
while time.time() < until:
    x, f = r.random(), None
    for f, w in acts:
        x -= w
        if x < 0:
            break
    t0 = time.time()
    if f is None or r.random() < 0.5:
        rc = lookup()
        logf.write("%.3f,%s,dns,,%d\n" % (t0, me, rc))
        time.sleep(r.uniform(0.0, 0.3))
    if f is not None:
        kind, peer, rc = f()
        logf.write("%.3f,%s,%s,%s,%d\n" % (t0, me, kind, peer, rc))
    logf.flush()
    time.sleep(max(0.0, min(120.0, r.lognormvariate(2.5, 0.9), until - time.time())))
EOF

# ---------------------------------------------------------------- capture, servers, users
netns_capture_bridge
if [ "$KEEPALIVE" = 1 ]; then
    for i in 1 2 3 4; do
        port=8000 idle=15; [ "$i" -ge 3 ] && port=80 idle=5
        (cd "$TMP/www" && exec ip netns exec "$(nsof h$i)" $PY "$TMP/kaserver.py" "$(ipof h$i)" \
            "$port" "$idle" > "$TMP/logs/http-h$i.log" 2>&1) &
    done
else
    netns_http_servers
fi
for i in 1 5; do
    ip netns exec "$(nsof h$i)" $PY "$TMP/dnsd.py" "$(ipof h$i)" > "$TMP/logs/dns-h$i.log" 2>&1 &
done
waitport() { netns_listening "$@" || die "nothing listens on $1 $2 port $3"; }  # HOST PROTO PORT
for i in $(seq 1 "$NHOSTS"); do waitport h$i t 22; done
waitport h1 t 8000; waitport h2 t 8000; waitport h3 t 80; waitport h4 t 80
waitport h1 u 53; waitport h5 u 53
START=$(date +%s)
UNTIL=$((START + DURATION))
echo "time,host,kind,peer,status" > "$STAGE/activity.csv"
: > "$TMP/activity.part"
for i in $(seq 1 "$NHOSTS"); do
    ip netns exec "$(nsof h$i)" $PY "$TMP/user.py" "$(ipof h$i)" "$NHOSTS" "$UNTIL" \
        $((SEED * 1000 + i)) "$CFG" "$TMP/www" "$TMP/activity.part" "$KEEPALIVE" "$BROWSER" \
        2> "$TMP/logs/user-h$i.err" &
    USERPIDS+=($!)
    if [ "$CHATTER" = 1 ]; then
        ip netns exec "$(nsof h$i)" $PY "$TMP/chatter.py" "$(ipof h$i)" "$UNTIL" \
            $((SEED * 1000 + 500 + i)) 2> "$TMP/logs/chatter-h$i.err" &
        USERPIDS+=($!)
    fi
done
log "run $RUNID: $NHOSTS hosts, ${DURATION}s, seed $SEED, temp $TMP"

# ---------------------------------------------------------------- wait, stop, write
for p in "${USERPIDS[@]}"; do
    while kill -0 "$p" 2>/dev/null && [ "$(date +%s)" -lt $((UNTIL + 100)) ]; do sleep 1; done
    kill -0 "$p" 2>/dev/null && { log "warning: a user ran past the deadline; stopped"; kill -TERM "$p"; }
    wait "$p" || log "warning: a user ended with an error: $(cat "$TMP"/logs/user-*.err | tail -n 2 | tr '\n' ' ')"
done
sleep 2
kill -TERM "$CAPPID" 2>/dev/null
wait "$CAPPID" 2>/dev/null
sort -n "$TMP/activity.part" >> "$STAGE/activity.csv"
n=$(($(wc -l < "$STAGE/activity.csv") - 1))
nfail=$(tail -n +2 "$STAGE/activity.csv" | awk -F, '$5 != 0' | wc -l)
log "activities: $n ($nfail failed); capture $(stat -c %s "$STAGE/merged.pcap") bytes"
[ "$n" -gt 0 ] || die "no activity recorded"
[ -s "$STAGE/merged.pcap" ] || die "empty capture"
for f in "$STAGE"/*; do mv -f "$f" "$OUTDIR/"; done
echo "benign.sh: done: $OUTDIR" >&2
exit 0

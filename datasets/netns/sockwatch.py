#!/usr/bin/python3
"""sockwatch.py - label relay hop pairs from the live sockets of network namespaces.

    sockwatch.py watch --obs OBS.json [--interval S] NETNS...
    sockwatch.py finalize --obs OBS.json --out labels.csv CAPTURE...

watch: every --interval seconds (default 0.3) reads the TCP sockets of every namespace and
their owning processes from /proc (`ss -tanpH` in a namespace without a process to read it
through). A socket in state ESTAB whose local address is one of the namespace's listening
addresses is inbound; any other established socket is outbound. An inbound socket I and an outbound socket O of the same
namespace form a relay hop pair when a process owning O is, or descends from, a process owning
I (sshd session -> shell -> ssh; socat or a python relay holding both; socat shell -> nc), or
from the parent of I's owner when that parent is a shell that is not an ancestor of this
watcher (the `nc -l <fifo | nc DST` pipeline). Processes come from /proc (ppid, comm). Pairs
are kept with the time of their first and last observation; OBS.json is rewritten (temp file +
rename) whenever something new is seen, and on SIGTERM/SIGINT the watcher writes it and exits.

finalize: joins pairs into chains (the outbound socket of one hop is the inbound socket of the
next: same four-tuple), numbers chains by start, names the kind from the owning processes
(sshd->ssh: ssh, sshd->sshd: ssh-jump, socat->socat: socat, nc->nc: nc, socat->nc: shell-nc,
python3->python3: delay-relay, otherwise IN-OUT) and writes labels.csv (temp file + rename).
Times: start_time/end_time are the first and last packet of the two connections of the pair in
the captures; when a connection is missing from the captures, the observation times are used and
a warning is printed.
"""
import csv
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SHELLS = {"bash", "sh", "dash"}


def split_addr(s):
    """'198.18.0.1:22' or '[::1]:22' or '*:22' -> (ip, port)."""
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    if "%" in host:
        host = host.split("%", 1)[0]
    return host, int(port) if port.isdigit() else 0


def parse_users(s):
    """'users:(("sshd",pid=12,fd=4),...)' -> set of pids."""
    pids = set()
    for part in s.split("pid=")[1:]:
        num = ""
        for ch in part:
            if not ch.isdigit():
                break
            num += ch
        if num:
            pids.add(int(num))
    return pids


def proc_info(pid, cache):
    """(ppid, comm) of a process, or (0, '') once it is gone."""
    if pid in cache:
        return cache[pid]
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        comm = st[st.index("(") + 1:st.rindex(")")]
        ppid = int(st[st.rindex(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        ppid, comm = 0, ""
    cache[pid] = (ppid, comm)
    return cache[pid]


def ancestors(pid, cache):
    """pid and all its ancestors."""
    out = []
    seen = set()
    while pid > 0 and pid not in seen:
        seen.add(pid)
        out.append(pid)
        pid = proc_info(pid, cache)[0]
    return out


def snapshot_start(ns):
    """Start `ss -tanpH` in namespace NS; the Popen, or None."""
    try:
        return subprocess.Popen(["ip", "netns", "exec", ns, "ss", "-tanpH"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    except OSError:
        return None


def snapshot_read(proc):
    """Return (listening addresses, established sockets [(local, peer, pids)]) of a started ss."""
    if proc is None:
        return set(), []
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return set(), []
    listen, est = set(), []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        state, local, peer = f[0], split_addr(f[3]), split_addr(f[4])
        pids = parse_users(" ".join(f[5:])) if len(f) > 5 else set()
        if state == "LISTEN":
            listen.add(local)
        elif state == "ESTAB":
            est.append((local, peer, pids))
    return listen, est


def netns_inodes(namespaces):
    """{inode of /run/netns/NAME: NAME} for the named namespaces that exist."""
    out = {}
    for ns in namespaces:
        try:
            out[os.stat("/run/netns/" + ns).st_ino] = ns
        except OSError:
            pass
    return out


def netns_members(by_ino):
    """{namespace name: [pids of the processes in it]}, from /proc/PID/ns/net."""
    members = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            link = os.readlink("/proc/%s/ns/net" % d)   # 'net:[4026532288]'
            ns = by_ino.get(int(link[link.index("[") + 1:-1]))
        except (OSError, ValueError):
            continue
        if ns is not None:
            members.setdefault(ns, []).append(int(d))
    return members


def socket_owners(pids, cache):
    """{socket inode: set of pids holding it} over the given processes' descriptors; the ppid
    and name of each holder go into CACHE (proc_info) at once: a relay's process can end a moment
    after its sockets were seen (a one-shot's socat child), and its name makes the hop's kind."""
    owners = {}
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        held = False
        for fd in fds:
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if t.startswith("socket:["):
                owners.setdefault(int(t[8:-1]), set()).add(pid)
                held = True
        if held:
            proc_info(pid, cache)
    return owners


def hex_addr(s):
    """'0B1212C6:0016' (or the 32-digit IPv6 form) of /proc/net/tcp -> (ip, port)."""
    h, _, p = s.partition(":")
    if len(h) == 8:
        ip = socket.inet_ntoa(struct.pack("<I", int(h, 16)))
    else:
        raw = b"".join(struct.pack("<I", int(h[i:i + 8], 16)) for i in range(0, 32, 8))
        ip = socket.inet_ntop(socket.AF_INET6, raw)
        if ip.startswith("::ffff:") and "." in ip:
            ip = ip[7:]
    return ip, int(p, 16)


def tcp_table(pid, files=("tcp",)):
    """(listening addresses, established sockets [(local, peer, inode)]) of the network namespace
    of PID, from /proc/PID/net/tcp (IPv4: the generators turn IPv6 off; add "tcp6" to FILES
    otherwise; each read walks the kernel's whole connection table, shared by all namespaces);
    None if PID is gone."""
    listen, est = set(), []
    for name in files:
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                lines = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        except OSError:
            return None
        for line in lines:
            f = line.split()
            if len(f) < 10:
                continue
            if f[3] == "0A":
                listen.add(hex_addr(f[1]))
            elif f[3] == "01":
                est.append((hex_addr(f[1]), hex_addr(f[2]), int(f[9])))
    return listen, est


def snapshots(namespaces, by_ino, cache):
    """{namespace: (listening addresses, established sockets [(local, peer, pids)])}: the TCP
    tables read through /proc (a process in each namespace) and the owners from one pass over
    the descriptors of the namespaces' processes; a namespace without processes falls back to
    `ss -tanpH`. Much cheaper than one `ss -p` per namespace (each walks every process of the
    machine), so a round stays short on a loaded machine and hops of a second or two are seen."""
    members = netns_members(by_ino)
    tables, fallback = {}, []
    for ns in namespaces:
        for pid in members.get(ns, []):
            t = tcp_table(pid)
            if t is not None:
                tables[ns] = t
                break
        else:
            fallback.append(ns)
    owners = socket_owners([p for ns in namespaces for p in members.get(ns, [])], cache)
    out = {}
    for ns, (listen, est) in tables.items():
        out[ns] = (listen, [(l, r, owners.get(ino, set())) for l, r, ino in est])
    procs = [(ns, snapshot_start(ns)) for ns in fallback]
    for ns, proc in procs:
        out[ns] = snapshot_read(proc)
    return out


def is_inbound(local, listen):
    return local in listen or ("0.0.0.0", local[1]) in listen or ("*", local[1]) in listen \
        or ("::", local[1]) in listen


def watch(obs_path, namespaces, interval):
    pairs = {}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    mine = set(ancestors(os.getpid(), {}))

    def dump():
        tmp = obs_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(sorted(pairs.values(), key=lambda p: p["first_seen"]), f, indent=1)
        os.replace(tmp, obs_path)

    dump()
    by_ino = netns_inodes(namespaces)
    while not stop:
        changed = False
        cache = {}  # (ppid, name) of processes, for this round
        snaps = snapshots(namespaces, by_ino, cache)
        for ns in namespaces:
            listen, est = snaps.get(ns, (set(), []))
            now = time.time()
            inbound = [s for s in est if is_inbound(s[0], listen)]
            outbound = [s for s in est if not is_inbound(s[0], listen)]
            for (il, ip_, ipids) in inbound:
                roots = set(ipids)
                for p in ipids:
                    parent = proc_info(p, cache)[0]
                    if parent > 1 and parent not in mine and proc_info(parent, cache)[1] in SHELLS:
                        roots.add(parent)
                for (ol, op, opids) in outbound:
                    hit = None
                    for p in opids:
                        if any(a in roots for a in ancestors(p, cache)):
                            hit = p
                            break
                    if hit is None:
                        continue
                    key = "%s|%s:%d|%s:%d|%s:%d|%s:%d" % (ns, ip_[0], ip_[1], il[0], il[1],
                                                          ol[0], ol[1], op[0], op[1])
                    rec = pairs.get(key)
                    if rec is None:
                        in_comms = sorted({proc_info(p, cache)[1] for p in ipids} - {""})
                        rec = pairs[key] = {
                            "netns": ns, "relay_ip": il[0],
                            "in": [ip_[0], ip_[1], il[0], il[1]],
                            "out": [ol[0], ol[1], op[0], op[1]],
                            "in_comms": in_comms, "out_comm": proc_info(hit, cache)[1],
                            "first_seen": now, "last_seen": now}
                        changed = True
                    if not rec["in_comms"] or not rec["out_comm"]:  # first seen as it ended
                        rec["in_comms"] = rec["in_comms"] or sorted(
                            {proc_info(p, cache)[1] for p in ipids} - {""})
                        rec["out_comm"] = rec["out_comm"] or proc_info(hit, cache)[1]
                    rec["last_seen"] = now
        if changed:
            dump()
        end = time.monotonic() + interval
        while not stop and time.monotonic() < end:
            time.sleep(min(0.05, interval))
    dump()
    return 0


def kind_of(rec):
    ins, out = set(rec["in_comms"]), rec["out_comm"]
    if "sshd" in ins:
        return "ssh-jump" if out == "sshd" else ("ssh" if out == "ssh" else "sshd-" + out)
    if "socat" in ins:
        return "socat" if out == "socat" else ("shell-nc" if out == "nc" else "socat-" + out)
    if "nc" in ins:
        return "nc" if out == "nc" else "nc-" + out
    if ins & {"python3", "python"} and out.startswith("python"):
        return "delay-relay"
    return "%s-%s" % ("+".join(sorted(ins)) or "unknown", out or "unknown")


def finalize(obs_path, out_path, captures):
    import pcapfile
    import checklabels
    with open(obs_path) as f:
        recs = json.load(f)
    table = {}
    if captures:
        table, _ = pcapfile.connections(captures)
    for r in recs:
        t0, t1 = r["first_seen"], r["last_seen"]
        firsts, lasts = [], []
        for side in ("in", "out"):
            s = r[side]
            c = pcapfile.find(table, "tcp", (s[0], s[1]), (s[2], s[3]), t0, t1, 5.0)
            if c is None:
                print("sockwatch: warning: %s connection %s:%d -> %s:%d not in the capture; "
                      "using observation times" % (side, s[0], s[1], s[2], s[3]),
                      file=sys.stderr)
                firsts.append(t0)
                lasts.append(t1)
            else:
                firsts.append(c.first)
                lasts.append(c.last)
        r["start"], r["end"] = min(firsts), max(lasts)
    # chains: union hops whose outbound four-tuple is another hop's inbound four-tuple
    parent = list(range(len(recs)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    by_in = {}
    for i, r in enumerate(recs):
        by_in.setdefault(tuple(r["in"]), []).append(i)
    for i, r in enumerate(recs):
        for j in by_in.get(tuple(r["out"]), []):
            parent[root(i)] = root(j)
    groups = {}
    for i in range(len(recs)):
        groups.setdefault(root(i), []).append(i)
    order = sorted(groups.values(), key=lambda g: min(recs[i]["start"] for i in g))
    rows = []
    for cid, g in enumerate(order, start=1):
        for i in sorted(g, key=lambda k: recs[k]["start"]):
            r = recs[i]
            rows.append([cid, kind_of(r), r["relay_ip"], r["in"][0], r["in"][1], r["in"][2],
                         r["in"][3], r["out"][0], r["out"][1], r["out"][2], r["out"][3],
                         "%.6f" % r["start"], "%.6f" % r["end"]])
    tmp = out_path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(checklabels.HEADER)
        w.writerows(rows)
    os.replace(tmp, out_path)
    print("sockwatch: %d hop pairs in %d chains -> %s" % (len(rows), len(order), out_path))
    return 0


def main(argv):
    if len(argv) < 2 or argv[1] not in ("watch", "finalize"):
        print("usage: sockwatch.py watch --obs OBS.json [--interval S] NETNS... | "
              "finalize --obs OBS.json --out labels.csv CAPTURE...", file=sys.stderr)
        return 2
    mode, args = argv[1], argv[2:]
    obs, out, interval, rest = None, None, 0.3, []
    i = 0
    while i < len(args):
        if args[i] in ("--obs", "--out", "--interval") and i + 1 < len(args):
            if args[i] == "--obs":
                obs = args[i + 1]
            elif args[i] == "--out":
                out = args[i + 1]
            else:
                interval = float(args[i + 1])
            i += 2
        else:
            rest.append(args[i])
            i += 1
    if not obs or (mode == "finalize" and not out) or (mode == "watch" and not rest):
        print("sockwatch: missing --obs, --out or namespaces", file=sys.stderr)
        return 2
    try:
        if mode == "watch":
            return watch(obs, rest, interval)
        return finalize(obs, out, rest)
    except (OSError, ValueError, KeyError) as e:
        print("sockwatch: %s" % e, file=sys.stderr)
        return 2
    except Exception as e:  # a bad capture must not crash with a traceback
        print("sockwatch: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

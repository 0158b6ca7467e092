#!/usr/bin/python3
"""compare.py - compares the relay legs of two labelled captures.

For each capture (pcap or pcapng, Ethernet / Linux cooked / raw IP) and its
labels.csv (datasets/README.md), takes every labelled leg (the in and out
connections of each relay hop pair) and measures, per direction
(upstream = from the connection's client, downstream = back):
  - payload sizes of data packets,
  - inter-arrival times of data packets (log10 seconds),
  - the relay lag: for each upstream data packet on an in-leg, the delay to
    the next upstream data packet on the matching out-leg (under 1 s),
  - the share of pure ACKs among packets.
It prints a quantile table and the two-sample Kolmogorov-Smirnov distance per
metric, and writes them as Markdown (default datasets/calibration.md).

Usage:
  /usr/bin/python3 datasets/compare.py A.pcap A.csv B.pcap B.csv \
      [--names synth real] [-o datasets/calibration.md] [--title TEXT] [--note TEXT]

Needs Debian's python3 with numpy; reads captures with the struct module.
"""
import argparse
import csv
import os
import struct
import sys
import tempfile

import numpy as np

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def die(msg):
    print("compare.py: " + msg, file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- captures

def _ip_of(data, linktype):
    """Returns the offset of the IP header in a frame, or None."""
    if linktype == 1:  # Ethernet, with VLAN tags
        off, eth = 12, None
        while off + 2 <= len(data):
            eth = struct.unpack_from("!H", data, off)[0]
            if eth in (0x8100, 0x88A8):
                off += 4
                continue
            break
        return off + 2 if eth == 0x0800 else None
    if linktype == 113:  # Linux cooked v1
        return 16 if len(data) >= 16 and struct.unpack_from("!H", data, 14)[0] == 0x0800 else None
    if linktype == 276:  # Linux cooked v2
        return 20 if len(data) >= 20 and struct.unpack_from("!H", data, 0)[0] == 0x0800 else None
    if linktype in (101, 12, 228):  # raw IP / IPv4
        return 0
    return None


def _frames(path):
    """Yields (ts_seconds, linktype, bytes) of every frame of a pcap or pcapng."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 24:
        die("%s: too short for a capture" % path)
    magic = buf[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        le = magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        e = "<" if le else ">"
        linktype = struct.unpack_from(e + "I", buf, 20)[0] & 0x0FFFFFFF
        off = 24
        div = 1e9 if nano else 1e6
        while off + 16 <= len(buf):
            sec, frac, incl, _orig = struct.unpack_from(e + "IIII", buf, off)
            off += 16
            if off + incl > len(buf):
                print("compare.py: %s: truncated at the end" % path, file=sys.stderr)
                break
            yield sec + frac / div, linktype, buf[off:off + incl]
            off += incl
        return
    if magic == b"\x0a\x0d\x0d\x0a":
        off, e = 0, "<"
        links, tsres = [], []
        while off + 12 <= len(buf):
            btype = struct.unpack_from(e + "I", buf, off)[0]
            if btype == 0x0A0D0D0A:
                bom = buf[off + 8:off + 12]
                e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                links, tsres = [], []
            blen = struct.unpack_from(e + "I", buf, off + 4)[0]
            if blen < 12 or off + blen > len(buf):
                print("compare.py: %s: damaged block at %d" % (path, off), file=sys.stderr)
                break
            body = buf[off + 8:off + blen - 4]
            if btype == 1:  # interface description
                links.append(struct.unpack_from(e + "H", body, 0)[0])
                res = 1e6
                o = 8
                while o + 4 <= len(body):
                    code, ln = struct.unpack_from(e + "HH", body, o)
                    if code == 0:
                        break
                    if code == 9 and ln >= 1:
                        v = body[o + 4]
                        res = float(2 ** (v & 0x7F)) if v & 0x80 else float(10 ** v)
                    o += 4 + ((ln + 3) & ~3)
                tsres.append(res)
            elif btype == 6:  # enhanced packet
                iface, hi, lo, cap = struct.unpack_from(e + "IIII", body, 0)
                if iface < len(links):
                    ts = ((hi << 32) | lo) / tsres[iface]
                    yield ts, links[iface], body[20:20 + cap]
            off += blen
        return
    die("%s: not a pcap or pcapng file" % path)


def read_tcp(path):
    """Returns {(src, sport, dst, dport): [(ts, payload_len, flags), ...]}."""
    flows = {}
    for ts, linktype, data in _frames(path):
        o = _ip_of(data, linktype)
        if o is None or len(data) < o + 20 or data[o] >> 4 != 4:
            continue
        ihl = (data[o] & 15) * 4
        total = struct.unpack_from("!H", data, o + 2)[0]
        if data[o + 9] != 6 or len(data) < o + ihl + 14:
            continue
        if struct.unpack_from("!H", data, o + 6)[0] & 0x3FFF:
            continue  # fragment
        src = ".".join(str(b) for b in data[o + 12:o + 16])
        dst = ".".join(str(b) for b in data[o + 16:o + 20])
        t = o + ihl
        sport, dport = struct.unpack_from("!HH", data, t)
        thl = (data[t + 12] >> 4) * 4
        flags = data[t + 13]
        plen = max(0, total - ihl - thl)
        flows.setdefault((src, sport, dst, dport), []).append((ts, plen, flags))
    return flows


def read_labels(path):
    legs = []  # (role, (src, sport, dst, dport), hop index)
    hops = []
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:2] != ["chain_id", "kind"]:
        die("%s: not a labels file" % path)
    for n, r in enumerate(rows[1:], start=2):
        if len(r) != 13:
            die("%s:%d: %d fields, expected 13" % (path, n, len(r)))
        try:
            inleg = (r[3], int(r[4]), r[5], int(r[6]))
            outleg = (r[7], int(r[8]), r[9], int(r[10]))
        except ValueError:
            die("%s:%d: bad port" % (path, n))
        hops.append((r[1], inleg, outleg))
    return hops


# ---------------------------------------------------------------- metrics

def leg_metrics(flows, leg):
    """Packets of a leg: (upstream, downstream) lists of (ts, len, flags)."""
    src, sport, dst, dport = leg
    return flows.get((src, sport, dst, dport), []), flows.get((dst, dport, src, sport), [])


def collect(pcap, labels):
    flows = read_tcp(pcap)
    hops = read_labels(labels)
    m = {k: [] for k in ("size_up", "size_down", "iat_up", "iat_down", "relay_lag")}
    acks = [0, 0]
    seen = set()
    missing = 0
    for _kind, inleg, outleg in hops:
        for leg in (inleg, outleg):
            if leg in seen:
                continue
            seen.add(leg)
            up, down = leg_metrics(flows, leg)
            if not up and not down:
                missing += 1
                continue
            for name, pkts in (("up", up), ("down", down)):
                data = [(ts, ln) for ts, ln, _fl in pkts if ln > 0]
                m["size_" + name] += [ln for _ts, ln in data]
                ts = np.array([t for t, _ln in data])
                if len(ts) > 1:
                    d = np.diff(ts)
                    m["iat_" + name] += list(np.log10(np.maximum(d, 1e-6)))
                for _ts, ln, fl in pkts:
                    acks[1] += 1
                    if ln == 0 and fl & 0x10 and not fl & 0x07:
                        acks[0] += 1
        up_in = np.array([ts for ts, ln, _ in leg_metrics(flows, inleg)[0] if ln > 0])
        up_out = np.array([ts for ts, ln, _ in leg_metrics(flows, outleg)[0] if ln > 0])
        if len(up_in) and len(up_out):
            idx = np.searchsorted(up_out, up_in)
            ok = idx < len(up_out)
            lag = up_out[idx[ok]] - up_in[ok]
            lag = lag[lag < 1.0]
            m["relay_lag"] += list(np.log10(np.maximum(lag, 1e-6)))
    out = {k: np.array(v, dtype=float) for k, v in m.items()}
    return out, len(hops), len(seen), missing, (acks[0] / acks[1] if acks[1] else float("nan"))


def ks(a, b):
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    a, b = np.sort(a), np.sort(b)
    allv = np.concatenate([a, b])
    fa = np.searchsorted(a, allv, side="right") / len(a)
    fb = np.searchsorted(b, allv, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def quant(v):
    if len(v) == 0:
        return ["-"] * len(QUANTILES)
    return ["%.4g" % q for q in np.quantile(v, QUANTILES)]


DESCR = {
    "size_up": "payload bytes, upstream data packets",
    "size_down": "payload bytes, downstream data packets",
    "iat_up": "log10 s between upstream data packets",
    "iat_down": "log10 s between downstream data packets",
    "relay_lag": "log10 s from an in-leg upstream packet to the next out-leg one",
}


def main():
    ap = argparse.ArgumentParser(description="Compare relay legs of two labelled captures.")
    ap.add_argument("a_pcap")
    ap.add_argument("a_labels")
    ap.add_argument("b_pcap")
    ap.add_argument("b_labels")
    ap.add_argument("--names", nargs=2, default=["A", "B"])
    ap.add_argument("-o", "--output", default=os.path.join(os.path.dirname(__file__),
                                                            "calibration.md"))
    ap.add_argument("--title", default="Calibration: relay legs of two labelled captures")
    ap.add_argument("--note", action="append", default=[],
                    help="a paragraph added at the end of the report (repeatable)")
    ap.add_argument("--command", default=None,
                    help="command line to record in the report (default: this one)")
    args = ap.parse_args()
    for p in (args.a_pcap, args.a_labels, args.b_pcap, args.b_labels):
        if not os.path.isfile(p):
            die("%s: no such file" % p)
    ma, ha, la, mia, acka = collect(args.a_pcap, args.a_labels)
    mb, hb, lb, mib, ackb = collect(args.b_pcap, args.b_labels)
    na, nb = args.names
    lines = ["# " + args.title, ""]
    cmd = args.command or " ".join(["/usr/bin/python3", "datasets/compare.py"] + sys.argv[1:])
    lines += ["Made by `%s`." % cmd, ""]
    lines += ["| capture | file | hop pairs | legs | legs missing | pure-ACK share |",
              "|---|---|---|---|---|---|",
              "| %s | `%s` | %d | %d | %d | %.3f |" % (na, args.a_pcap, ha, la, mia, acka),
              "| %s | `%s` | %d | %d | %d | %.3f |" % (nb, args.b_pcap, hb, lb, mib, ackb), ""]
    qh = " | ".join("p%d" % round(q * 100) for q in QUANTILES)
    lines += ["| metric | capture | n | %s | KS |" % qh,
              "|---|---|---|" + "---|" * len(QUANTILES) + "---|"]
    for k in DESCR:
        d = ks(ma[k], mb[k])
        lines.append("| %s | %s | %d | %s | %s |" % (DESCR[k], na, len(ma[k]),
                                                   " | ".join(quant(ma[k])),
                                                   "%.3f" % d if d == d else "-"))
        lines.append("| | %s | %d | %s | |" % (nb, len(mb[k]), " | ".join(quant(mb[k]))))
    lines += ["", "KS: two-sample Kolmogorov-Smirnov distance (0 = same distribution, "
              "1 = disjoint)."]
    for note in args.note:
        lines += ["", note]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(prefix=".calibration.", dir=out_dir)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, args.output)


if __name__ == "__main__":
    main()

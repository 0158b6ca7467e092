#!/usr/bin/python3
"""pcapshift.py - copy a capture, shifting its timestamps and optionally keeping a time slice.

usage: pcapshift.py IN OUT [--shift SECONDS] [--from T] [--to T] [--start-at T]

--shift S      adds S seconds to every timestamp
--start-at T   shifts so that the first packet is at epoch time T (overrides --shift)
--from/--to    keep packets with (original) time in [from, to) only, epoch seconds
Reads and writes classic pcap (either byte order, micro or nanosecond stamps) and
pcapng (enhanced packet blocks; other blocks copied; per-interface if_tsresol honoured).
Standard library only. Used to compose the attack mixes of docs/sessions.md.
"""
import argparse
import struct
import sys


def pcap_copy(data, out, shift, lo, hi, start_at):
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    else:
        e = ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    div = 10**9 if nano else 10**6
    out.write(data[:24])
    off = 24
    first = True
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack_from(e + "IIII", data, off)
        body = data[off + 16:off + 16 + incl]
        if len(body) < incl:
            raise ValueError("truncated packet record")
        off += 16 + incl
        t = sec * div + frac
        if (lo is not None and t < lo * div) or (hi is not None and t >= hi * div):
            continue
        if first and start_at is not None:
            shift = start_at - t / div
        first = False
        t += int(round(shift * div))
        out.write(struct.pack(e + "IIII", t // div, t % div, incl, orig) + body)


def pcapng_copy(data, out, shift, lo, hi, start_at):
    off = 0
    e = "<"
    res = []  # ticks per second per interface
    first = True
    while off + 12 <= len(data):
        btype = struct.unpack_from(e + "I", data, off)[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            res = []
        blen = struct.unpack_from(e + "I", data, off + 4)[0]
        if blen < 12 or off + blen > len(data):
            raise ValueError("bad pcapng block length")
        block = bytearray(data[off:off + blen])
        off += blen
        if btype == 1:  # interface description: look for if_tsresol (9)
            tps = 10**6
            p = 16
            while p + 4 <= blen - 4:
                code, ln = struct.unpack_from(e + "HH", block, p)
                if code == 0:
                    break
                if code == 9 and ln >= 1:
                    v = block[p + 4]
                    tps = 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
                p += 4 + ((ln + 3) & ~3)
            res.append(tps)
        elif btype == 6:  # enhanced packet
            iface, hi32, lo32 = struct.unpack_from(e + "III", block, 8)
            tps = res[iface] if iface < len(res) else 10**6
            t = (hi32 << 32) | lo32
            if (lo is not None and t < lo * tps) or (hi is not None and t >= hi * tps):
                continue
            if first and start_at is not None:
                shift = start_at - t / tps
            first = False
            t += int(round(shift * tps))
            struct.pack_into(e + "II", block, 12, t >> 32, t & 0xFFFFFFFF)
        out.write(bytes(block))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--shift", type=float, default=0.0)
    ap.add_argument("--start-at", type=float)
    ap.add_argument("--from", dest="lo", type=float)
    ap.add_argument("--to", dest="hi", type=float)
    a = ap.parse_args()
    try:
        data = open(a.inp, "rb").read()
    except OSError as err:
        print("pcapshift.py: %s" % err, file=sys.stderr)
        return 1
    tmp = a.out + ".partial"
    try:
        with open(tmp, "wb") as out:
            if data[:4] == b"\x0a\x0d\x0d\x0a":
                pcapng_copy(data, out, a.shift, a.lo, a.hi, a.start_at)
            elif data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                              b"\xa1\xb2\x3c\x4d"):
                pcap_copy(data, out, a.shift, a.lo, a.hi, a.start_at)
            else:
                raise ValueError("not a pcap or pcapng file")
    except (ValueError, struct.error) as err:
        print("pcapshift.py: %s: %s" % (a.inp, err), file=sys.stderr)
        return 1
    import os
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""mkflood.py - writes a SYN flood capture (pcap, Ethernet/IPv4) for the
open-connection bound of the connection table (docs/design.md, "Floods").

usage: mkflood.py OUT.pcap [N [SECONDS [TARGETS]]]
  N        SYNs (default 2000000, at most 4194304), each from its own source
           address (in 10.64.0.0/10) and a port in 1024-65535, never answered
  SECONDS  capture time they are spread over, evenly (default 20)
  TARGETS  destination hosts 192.0.2.1.. port 80 (default 1)

Besides the flood it writes one complete TCP session (handshake, 20 small
exchanges, FIN close) from 198.51.100.7 to 192.0.2.1:22 starting at the
flood's first second, so a reader under the bound must keep it while it
evicts the attempts. Deterministic: the same arguments give the same file.
Checksums are left 0 (stepstone does not verify them).
"""
import struct
import sys

EPOCH = 1700000000


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) >= 2 else 2
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000000
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
    targets = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    if n < 1 or n > 1 << 22 or secs <= 0 or targets < 1 or targets > 250:
        print("mkflood: bad arguments", file=sys.stderr)
        return 2
    eth = b"\x00\x00\x5e\x00\x01\x01" + b"\x00\x00\x5e\x00\x01\x02" + b"\x08\x00"
    pkt_hdr = struct.Struct("<IIII")
    ip_tcp = struct.Struct("!BBHHHBBH4s4sHHIIBBHHH")

    def frame(ts_us, src, dst, sport, dport, flags, seq, ack, payload=0):
        body = ip_tcp.pack(0x45, 0, 40 + payload, 0, 0x4000, 64, 6, 0, src, dst,
                           sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
        data = eth + body + b"x" * payload
        return pkt_hdr.pack(ts_us // 1000000, ts_us % 1000000, len(data), len(data)) + data

    # the one real session, interleaved by time with the flood
    sess = []
    c, s = bytes([198, 51, 100, 7]), bytes([192, 0, 2, 1])
    t0 = EPOCH * 1000000 + 1000000
    cs, ss = 1000, 5000
    sess.append(frame(t0, c, s, 40000, 22, 0x02, cs, 0))
    sess.append(frame(t0 + 1000, s, c, 22, 40000, 0x12, ss, cs + 1))
    sess.append(frame(t0 + 2000, c, s, 40000, 22, 0x10, cs + 1, ss + 1))
    cs += 1
    ss += 1
    t = t0 + 100000
    for _ in range(20):
        sess.append(frame(t, c, s, 40000, 22, 0x18, cs, ss, 48))
        cs += 48
        sess.append(frame(t + 2000, s, c, 22, 40000, 0x18, ss, cs, 96))
        ss += 96
        t += 500000
    sess.append(frame(t, c, s, 40000, 22, 0x11, cs, ss))
    sess.append(frame(t + 1000, s, c, 22, 40000, 0x11, ss, cs + 1))
    sess.append(frame(t + 2000, c, s, 40000, 22, 0x10, cs + 1, ss + 1))
    sess_ts = [struct.unpack_from("<II", f) for f in sess]
    sess_ts = [a * 1000000 + b for a, b in sess_ts]

    step = secs * 1e6 / n
    k = 0
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        buf = []
        for i in range(n):
            ts = EPOCH * 1000000 + int(i * step)
            while k < len(sess) and sess_ts[k] <= ts:
                buf.append(sess[k])
                k += 1
            # a distinct source address per SYN (an odd multiplier is a
            # bijection on the 22 low bits), ports spread over 1024-65535
            a = 0x0A400000 + (i * 2654435761 & 0x3FFFFF)
            src = struct.pack("!I", a)
            dst = bytes([192, 0, 2, 1 + i % targets])
            buf.append(frame(ts, src, dst, 1024 + (i * 7919) % 64512, 80, 0x02,
                             (i * 2654435761) & 0xFFFFFFFF, 0))
            if len(buf) >= 65536:
                f.write(b"".join(buf))
                buf = []
        buf.extend(sess[k:])
        f.write(b"".join(buf))
    return 0


if __name__ == "__main__":
    sys.exit(main())

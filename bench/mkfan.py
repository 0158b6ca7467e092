#!/usr/bin/env python3
"""mkfan.py - writes a "busy relay host" capture: one host with N inbound and N
outbound ssh-like TCP connections, all open at the same time, so every
(inbound, outbound) pair of it is a candidate hop (N x N pairs).

usage: bench/mkfan.py N OUT.pcap [SEED]

The relay is 10.0.0.1. Inbound i: client 10.1.x.y (one per connection) ->
10.0.0.1:22; outbound i: 10.0.0.1 -> server 10.2.x.y:22. The inbound
connections start in the first second, the outbound ones in the next; each
has 12 packets (SYN, SYN-ACK, ACK, 7 data packets every 3 s from 2 s on, FIN
and the FIN-ACK at 25 s), so all 2N connections overlap for about 23 s (6 grid
windows). Payload sizes come from a fixed-seed generator: the same N and SEED
give the same bytes. Ethernet/IPv4, classic pcap, microsecond timestamps.
Used by bench/fan_bench.sh (docs/results/fan.md).
"""
import random
import struct
import sys

T0 = 1700000000_000000  # capture start, microseconds since the epoch
RELAY = bytes([10, 0, 0, 1])
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + tcp


def conn(pkts, rng, start, cli, cport, srv, sport):
    """Appends the 12 packets of one connection cli:cport -> srv:sport."""
    cs, ss = rng.getrandbits(32), rng.getrandbits(32)
    pkts.append((start, frame(cli, srv, cport, sport, cs, 0, SYN, b"")))
    pkts.append((start + 1000, frame(srv, cli, sport, cport, ss, cs + 1, SYN | ACK, b"")))
    pkts.append((start + 2000, frame(cli, srv, cport, sport, cs + 1, ss + 1, ACK, b"")))
    cs += 1
    ss += 1
    for k in range(7):
        n = rng.choice((36, 44, 52, 68, 84, 100))
        t = start + 2_000000 + k * 3_000000 + rng.randrange(0, 200000)
        if k % 2 == 0:
            pkts.append((t, frame(cli, srv, cport, sport, cs, ss, PSH | ACK, bytes(n))))
            cs += n
        else:
            pkts.append((t, frame(srv, cli, sport, cport, ss, cs, PSH | ACK, bytes(n))))
            ss += n
    end = start + 25_000000
    pkts.append((end, frame(cli, srv, cport, sport, cs, ss, FIN | ACK, b"")))
    pkts.append((end + 1000, frame(srv, cli, sport, cport, ss, cs + 1, FIN | ACK, b"")))


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: mkfan.py N OUT.pcap [SEED]")
    n = int(sys.argv[1])
    if not 1 <= n <= 60000:
        sys.exit("mkfan.py: N must be in 1..60000")
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) == 4 else 1)
    pkts = []
    for i in range(n):
        a = bytes([10, 1, 1 + i // 250, 1 + i % 250])
        conn(pkts, rng, T0 + i * 1000000 // n, a, 40000 + i % 20000, RELAY, 22)
    for i in range(n):
        b = bytes([10, 2, 1 + i // 250, 1 + i % 250])
        conn(pkts, rng, T0 + 1000000 + i * 1000000 // n, RELAY, 30000 + i % 30000, b, 22)
    pkts.sort(key=lambda p: p[0])
    with open(sys.argv[2], "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, data in pkts:
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(data), len(data)))
            f.write(data)


if __name__ == "__main__":
    main()

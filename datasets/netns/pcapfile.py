"""pcapfile.py - read pcap and pcapng files and sum up TCP/UDP connections (standard library only).

Used by checklabels.py and sockwatch.py. Reads classic pcap (both byte orders, micro- and
nanosecond stamps) and pcapng (enhanced and simple packet blocks, per-interface link types and
time resolutions). Link types: Ethernet (with 802.1Q tags), Linux cooked v1/v2, raw IP, BSD loopback.
IPv4 (non-first fragments skipped) and IPv6 (extension headers walked).
"""
import struct


class PcapError(Exception):
    """The file is not a readable capture."""


LINK_NULL, LINK_EN10MB, LINK_RAW, LINK_RAW_ALT, LINK_LOOP = 0, 1, 101, 12, 108
LINK_SLL, LINK_SLL2, LINK_IPV4, LINK_IPV6 = 113, 276, 228, 229


def _packets_pcap(f, head):
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise PcapError("not a pcap or pcapng file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    rest = f.read(20)
    if len(rest) < 20:
        raise PcapError("truncated pcap file header")
    linktype = struct.unpack(end + "I", rest[16:20])[0] & 0x0FFFFFFF
    div = 1e9 if nano else 1e6
    rec = struct.Struct(end + "IIII")
    while True:
        h = f.read(16)
        if not h:
            return
        if len(h) < 16:
            raise PcapError("truncated packet record header")
        sec, frac, incl, orig = rec.unpack(h)
        if incl > 0x4000000:
            raise PcapError("packet record length %d is not plausible" % incl)
        data = f.read(incl)
        if len(data) < incl:
            raise PcapError("truncated packet data")
        yield sec + frac / div, linktype, data, orig


def _packets_pcapng(f, head):
    end = "<"
    ifaces = []  # (linktype, ticks per second)
    buf = head
    first = True
    while True:
        if not first:
            buf = f.read(8)
            if not buf:
                return
        first = False
        if len(buf) < 8:
            raise PcapError("truncated pcapng block header")
        btype = struct.unpack(end + "I", buf[:4])[0]
        if btype == 0x0A0D0D0A:
            bom = f.read(4)
            if bom == b"\x4d\x3c\x2b\x1a":
                end = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                end = ">"
            else:
                raise PcapError("bad pcapng byte-order magic")
            blen = struct.unpack(end + "I", buf[4:8])[0]
            if blen < 28 or blen % 4:
                raise PcapError("bad pcapng section header length")
            body = f.read(blen - 12)
            if len(body) < blen - 12:
                raise PcapError("truncated pcapng section header")
            ifaces = []
            continue
        blen = struct.unpack(end + "I", buf[4:8])[0]
        if blen < 12 or blen % 4 or blen > 0x4000000:
            raise PcapError("bad pcapng block length %d" % blen)
        body = f.read(blen - 8)
        if len(body) < blen - 8:
            raise PcapError("truncated pcapng block")
        body = body[:-4]
        if btype == 1:  # interface description
            linktype = struct.unpack(end + "H", body[:2])[0]
            tps = 1e6
            off = 8
            while off + 4 <= len(body):
                code, olen = struct.unpack(end + "HH", body[off:off + 4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    v = body[off + 4]
                    tps = float(2 ** (v & 0x7F)) if v & 0x80 else float(10 ** v)
                off += 4 + ((olen + 3) & ~3)
            ifaces.append((linktype, tps))
        elif btype == 6:  # enhanced packet
            ifid, hi, lo, incl, orig = struct.unpack(end + "IIIII", body[:20])
            if ifid >= len(ifaces):
                raise PcapError("packet refers to unknown interface %d" % ifid)
            linktype, tps = ifaces[ifid]
            yield ((hi << 32) | lo) / tps, linktype, body[20:20 + incl], orig
        elif btype == 3:  # simple packet: no time stamp
            if not ifaces:
                raise PcapError("simple packet before any interface")
            orig = struct.unpack(end + "I", body[:4])[0]
            yield 0.0, ifaces[0][0], body[4:], orig


def packets(path):
    """Yield (time, linktype, bytes, original length) for every packet of a pcap/pcapng file."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise PcapError(str(e))
    with f:
        head = f.read(8)
        if len(head) < 8:
            raise PcapError("file too short to be a capture")
        if head[:4] == b"\x0a\x0d\x0d\x0a":
            yield from _packets_pcapng(f, head)
        else:
            f.seek(4)
            yield from _packets_pcap(f, head)


def _ip_payload(linktype, data):
    """Return (version, ip bytes) or None."""
    if linktype == LINK_EN10MB:
        if len(data) < 14:
            return None
        etype = struct.unpack("!H", data[12:14])[0]
        off = 14
        while etype in (0x8100, 0x88A8) and len(data) >= off + 4:
            etype = struct.unpack("!H", data[off + 2:off + 4])[0]
            off += 4
        data = data[off:]
    elif linktype == LINK_SLL:
        if len(data) < 16:
            return None
        etype = struct.unpack("!H", data[14:16])[0]
        data = data[16:]
    elif linktype == LINK_SLL2:
        if len(data) < 20:
            return None
        etype = struct.unpack("!H", data[0:2])[0]
        data = data[20:]
    elif linktype in (LINK_NULL, LINK_LOOP):
        if len(data) < 4:
            return None
        data = data[4:]
        etype = 0x0800 if data[:1] and data[0] >> 4 == 4 else 0x86DD
    elif linktype in (LINK_RAW, LINK_RAW_ALT, 14, LINK_IPV4, LINK_IPV6):
        if not data:
            return None
        etype = 0x0800 if data[0] >> 4 == 4 else 0x86DD
    else:
        return None
    if etype == 0x0800:
        return 4, data
    if etype == 0x86DD:
        return 6, data
    return None


def _ip_text(raw):
    if len(raw) == 4:
        return "%d.%d.%d.%d" % tuple(raw)
    import ipaddress
    return str(ipaddress.IPv6Address(raw))


def transport(linktype, data):
    """Return (proto, src ip, src port, dst ip, dst port, tcp flags, payload length) or None."""
    got = _ip_payload(linktype, data)
    if got is None:
        return None
    ver, ip = got
    if ver == 4:
        if len(ip) < 20:
            return None
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if struct.unpack("!H", ip[6:8])[0] & 0x1FFF:
            return None  # not the first fragment
        proto = ip[9]
        src, dst = ip[12:16], ip[16:20]
        l4 = ip[ihl:]
        l4len = max(0, total - ihl)
    else:
        if len(ip) < 40:
            return None
        proto = ip[6]
        l4len = struct.unpack("!H", ip[4:6])[0]
        src, dst = ip[8:24], ip[24:40]
        l4 = ip[40:]
        while proto in (0, 43, 60) and len(l4) >= 8:
            hlen = (l4[1] + 1) * 8
            proto = l4[0]
            l4, l4len = l4[hlen:], l4len - hlen
        if proto == 44:
            return None
    if proto == 6 and len(l4) >= 14:
        sport, dport = struct.unpack("!HH", l4[:4])
        doff = (l4[12] >> 4) * 4
        return "tcp", _ip_text(src), sport, _ip_text(dst), dport, l4[13], max(0, l4len - doff)
    if proto == 17 and len(l4) >= 8:
        sport, dport = struct.unpack("!HH", l4[:4])
        return "udp", _ip_text(src), sport, _ip_text(dst), dport, 0, max(0, l4len - 8)
    return None


class Conn:
    """Packets of one TCP/UDP 5-tuple, per direction (a = first seen sender)."""
    __slots__ = ("proto", "a", "b", "first", "last", "pkts_ab", "pkts_ba", "bytes_ab", "bytes_ba",
                 "syn")

    def __init__(self, proto, a, b, t):
        self.proto, self.a, self.b = proto, a, b
        self.first = self.last = t
        self.pkts_ab = self.pkts_ba = self.bytes_ab = self.bytes_ba = 0
        self.syn = False


def connections(paths):
    """Sum up every TCP/UDP connection of the given captures.

    Returns (dict keyed by frozenset of the two (ip, port) endpoints plus proto -> list of Conn
    (a 5-tuple reused after a quiet gap of 120 s starts a new Conn), total packets)."""
    table = {}
    total = 0
    for path in paths:
        for t, linktype, data, _orig in packets(path):
            total += 1
            tr = transport(linktype, data)
            if tr is None:
                continue
            proto, sip, sport, dip, dport, flags, plen = tr
            a, b = (sip, sport), (dip, dport)
            key = (proto, frozenset((a, b)))
            lst = table.setdefault(key, [])
            syn_only = proto == "tcp" and (flags & 0x12) == 0x02
            c = lst[-1] if lst else None
            if c is None or (t - c.last > 120 and syn_only):
                c = Conn(proto, a, b, t)
                lst.append(c)
            c.first = min(c.first, t)
            c.last = max(c.last, t)
            if syn_only:
                c.syn = True
            if a == c.a:
                c.pkts_ab += 1
                c.bytes_ab += plen
            else:
                c.pkts_ba += 1
                c.bytes_ba += plen
    return table, total


def find(table, proto, src, dst, start=None, end=None, slack=2.0):
    """Return the Conn between endpoints src and dst (tuples (ip, port)) overlapping [start, end]."""
    for c in table.get((proto, frozenset((src, dst))), []):
        if start is None or (c.first <= end + slack and c.last >= start - slack):
            return c
    return None

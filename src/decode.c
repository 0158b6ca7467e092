/* decode.c - link, network and transport decoding of one captured frame.
 *
 * Pure, bounds-checked parsing: every read is preceded by a length check
 * against the bytes that were captured, so no input can make it read past
 * caplen. The layers are:
 *
 *   link (Ethernet, SLL, SLL2, NULL/LOOP, NFLOG, raw IP)
 *     -> ethertype walk (802.1Q / QinQ tags, MPLS labels, PPPoE session)
 *     -> IPv4 / IPv6 (with extension headers)
 *     -> TCP / UDP / ICMP / ICMPv6 fixed header.
 *
 * Choices worth knowing:
 * - payload_len comes from the IP lengths (what was sent). If the IP length
 *   claims more than the frame holds, the IP length is kept and ip_len_trunc
 *   is set; bytes after the IP length (Ethernet padding) are ignored.
 * - An IP length of 0 (IPv4 total length 0 from TCP segmentation offload, or
 *   an IPv6 jumbogram) is taken to mean "the rest of the frame".
 * - Only the fixed transport header must be captured (TCP 20, UDP 8,
 *   ICMP/ICMPv6 8 bytes); TCP options may be cut by the snaplen.
 * - IPv6 atomic fragments (fragment header with offset 0 and M=0, RFC 6946)
 *   are decoded as whole packets; any other fragment is DECODE_FRAGMENT.
 * - IPv4 fragments (MF set or offset != 0) are DECODE_FRAGMENT.
 * - Checksums are not verified (captures taken on the sending host often
 *   hold offloaded, not yet computed checksums).
 */
#include "decode.h"

#include <string.h>

/* Link types by value: pcap/dlt.h gives some of them different values on
 * other systems (DLT_RAW is 14 on OpenBSD, DLT_LOOP is 12 there), and a
 * frame may come with the file's LINKTYPE_ value, so the values are listed
 * here once. */
enum {
    LT_NULL = 0,
    LT_EN10MB = 1,
    LT_RAW_12 = 12,
    LT_RAW_14 = 14,
    LT_RAW_101 = 101, /* LINKTYPE_RAW */
    LT_LOOP = 108,
    LT_LINUX_SLL = 113,
    LT_IPV4 = 228,
    LT_IPV6 = 229,
    LT_NFLOG = 239,
    LT_LINUX_SLL2 = 276
};

enum {
    ETHERTYPE_IPV4 = 0x0800,
    ETHERTYPE_IPV6 = 0x86dd,
    ETHERTYPE_VLAN = 0x8100,
    ETHERTYPE_QINQ = 0x88a8,
    ETHERTYPE_QINQ_OLD = 0x9100,
    ETHERTYPE_QINQ_OLD2 = 0x9200,
    ETHERTYPE_MPLS = 0x8847,
    ETHERTYPE_MPLS_MC = 0x8848,
    ETHERTYPE_PPPOE = 0x8864
};

enum {
    PROTO_ICMP = 1,
    PROTO_TCP = 6,
    PROTO_UDP = 17,
    PROTO_ICMPV6 = 58,
    PROTO_V6_HOPOPTS = 0,
    PROTO_V6_ROUTING = 43,
    PROTO_V6_FRAGMENT = 44,
    PROTO_V6_AH = 51,
    PROTO_V6_DSTOPTS = 60
};

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint32_t rd32le(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static uint16_t rd16host(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint16_t swap16(uint16_t v)
{
    return (uint16_t)((v >> 8) | (v << 8));
}

/* Transport layer. cap: bytes captured from the start of the transport
 * header; plen: bytes the IP header says follow it. */
static int decode_l4(packet_t *out, unsigned proto, const uint8_t *p, size_t cap, size_t plen)
{
    size_t avail = cap < plen ? cap : plen;
    out->proto = (uint8_t)proto;
    out->ip_len_trunc = cap < plen;
    if (proto == PROTO_TCP) {
        if (plen < 20)
            return DECODE_MALFORMED;
        if (avail < 20)
            return DECODE_TRUNCATED;
        size_t doff = (size_t)(p[12] >> 4) * 4;
        if (doff < 20 || doff > plen)
            return DECODE_MALFORMED;
        out->sport = rd16(p);
        out->dport = rd16(p + 2);
        out->seq = rd32(p + 4);
        out->ack = rd32(p + 8);
        out->tcp_flags = p[13];
        out->win = rd16(p + 14);
        out->payload_len = (uint32_t)(plen - doff);
        return DECODE_OK;
    }
    if (proto == PROTO_UDP || (proto == PROTO_ICMP && out->family == 4) ||
        (proto == PROTO_ICMPV6 && out->family == 6)) {
        if (plen < 8)
            return DECODE_MALFORMED;
        if (avail < 8)
            return DECODE_TRUNCATED;
        if (proto == PROTO_UDP) {
            out->sport = rd16(p);
            out->dport = rd16(p + 2);
        } else {
            out->sport = p[0]; /* type */
            out->dport = p[1]; /* code */
        }
        out->payload_len = (uint32_t)(plen - 8);
        return DECODE_OK;
    }
    return DECODE_OTHER_PROTO;
}

static int decode_ipv4(packet_t *out, const uint8_t *p, size_t len)
{
    if (len < 20)
        return DECODE_TRUNCATED;
    if ((p[0] >> 4) != 4)
        return DECODE_MALFORMED;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < 20)
        return DECODE_MALFORMED;
    if (len < ihl)
        return DECODE_TRUNCATED;
    size_t tot = rd16(p + 2);
    if (tot == 0)
        tot = len; /* segmentation offload: length left to the NIC */
    if (tot < ihl)
        return DECODE_MALFORMED;
    out->family = 4;
    out->ip_id = rd16(p + 4);
    memcpy(out->src, p + 12, 4);
    memcpy(out->dst, p + 16, 4);
    out->proto = p[9];
    if (rd16(p + 6) & 0x3fff) /* MF flag or fragment offset */
        return DECODE_FRAGMENT;
    return decode_l4(out, p[9], p + ihl, len - ihl, tot - ihl);
}

static int decode_ipv6(packet_t *out, const uint8_t *p, size_t len)
{
    if (len < 40)
        return DECODE_TRUNCATED;
    if ((p[0] >> 4) != 6)
        return DECODE_MALFORMED;
    out->family = 6;
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    size_t cap = len - 40;
    size_t rem = rd16(p + 4);
    if (rem == 0)
        rem = cap; /* jumbogram or offload: the rest of the frame */
    unsigned nh = p[6];
    const uint8_t *q = p + 40;
    for (;;) {
        size_t hl;
        switch (nh) {
        case PROTO_V6_HOPOPTS:
        case PROTO_V6_ROUTING:
        case PROTO_V6_DSTOPTS:
        case PROTO_V6_AH:
            if (rem < 8)
                return DECODE_MALFORMED;
            if (cap < 2)
                return DECODE_TRUNCATED;
            hl = nh == PROTO_V6_AH ? ((size_t)q[1] + 2) * 4 : ((size_t)q[1] + 1) * 8;
            break;
        case PROTO_V6_FRAGMENT:
            if (rem < 8)
                return DECODE_MALFORMED;
            if (cap < 8)
                return DECODE_TRUNCATED;
            if ((rd16(q + 2) & 0xfff9) != 0) /* offset != 0 or M set */
                return DECODE_FRAGMENT;
            hl = 8; /* atomic fragment: decoded as a whole packet */
            break;
        default:
            return decode_l4(out, nh, q, cap, rem);
        }
        if (hl > rem)
            return DECODE_MALFORMED;
        if (hl > cap)
            return DECODE_TRUNCATED;
        /* Type 0 routing header with segments left: the connection's real
         * destination is the last address listed (as tshark and Zeek read it). */
        if (nh == PROTO_V6_ROUTING && q[2] == 0 && q[3] > 0 && q[1] >= 2)
            memcpy(out->dst, q + 8 + ((size_t)q[1] / 2 - 1) * 16, 16);
        nh = q[0];
        q += hl;
        cap -= hl;
        rem -= hl;
    }
}

/* IP of either version, chosen by the version nibble; bad_version is the
 * result when it is neither 4 nor 6. */
static int decode_ip(packet_t *out, const uint8_t *p, size_t len, int bad_version)
{
    if (len < 1)
        return DECODE_TRUNCATED;
    switch (p[0] >> 4) {
    case 4: return decode_ipv4(out, p, len);
    case 6: return decode_ipv6(out, p, len);
    default: return bad_version;
    }
}

/* MPLS label stack: walks to the bottom-of-stack label, then guesses the
 * payload from the IP version nibble (anything else, e.g. an Ethernet
 * pseudowire, is not decoded). */
static int decode_mpls(packet_t *out, const uint8_t *p, size_t len)
{
    for (;;) {
        if (len < 4)
            return DECODE_TRUNCATED;
        int bottom = p[2] & 0x01;
        p += 4;
        len -= 4;
        if (bottom)
            return decode_ip(out, p, len, DECODE_NOT_IP);
    }
}

/* From an ethertype to the IP header: VLAN and QinQ tags, MPLS, PPPoE. Each
 * tag consumes 4 bytes, so the loop ends. */
static int decode_ethertype(packet_t *out, unsigned type, const uint8_t *p, size_t len)
{
    for (;;) {
        switch (type) {
        case ETHERTYPE_IPV4:
            return decode_ipv4(out, p, len);
        case ETHERTYPE_IPV6:
            return decode_ipv6(out, p, len);
        case ETHERTYPE_VLAN:
        case ETHERTYPE_QINQ:
        case ETHERTYPE_QINQ_OLD:
        case ETHERTYPE_QINQ_OLD2:
            if (len < 4)
                return DECODE_TRUNCATED;
            type = rd16(p + 2);
            p += 4;
            len -= 4;
            break;
        case ETHERTYPE_MPLS:
        case ETHERTYPE_MPLS_MC:
            return decode_mpls(out, p, len);
        case ETHERTYPE_PPPOE: {
            /* PPPoE session header (6 bytes), then the PPP protocol. */
            if (len < 8)
                return DECODE_TRUNCATED;
            unsigned ppp = rd16(p + 6);
            if (ppp == 0x0021)
                return decode_ipv4(out, p + 8, len - 8);
            if (ppp == 0x0057)
                return decode_ipv6(out, p + 8, len - 8);
            return DECODE_NOT_IP;
        }
        default:
            return DECODE_NOT_IP;
        }
    }
}

static int decode_ethernet(packet_t *out, const uint8_t *p, size_t len)
{
    if (len < 14)
        return DECODE_TRUNCATED;
    unsigned type = rd16(p + 12);
    if (type < 0x0600) {
        /* 802.3 length field: only LLC/SNAP with an ethertype is IP. */
        if (len < 22)
            return DECODE_TRUNCATED;
        if (p[14] != 0xaa || p[15] != 0xaa || p[16] != 0x03 || p[17] || p[18] || p[19])
            return DECODE_NOT_IP;
        return decode_ethertype(out, rd16(p + 20), p + 22, len - 22);
    }
    return decode_ethertype(out, type, p + 14, len - 14);
}

/* Linux cooked capture v1: 16-byte header, protocol (ethertype) last. */
static int decode_sll(packet_t *out, const uint8_t *p, size_t len)
{
    if (len < 16)
        return DECODE_TRUNCATED;
    if (rd16(p + 2) == 824) /* ARPHRD_NETLINK: protocol is a netlink family */
        return DECODE_NOT_IP;
    return decode_ethertype(out, rd16(p + 14), p + 16, len - 16);
}

/* Linux cooked capture v2: 20-byte header, protocol (ethertype) first. */
static int decode_sll2(packet_t *out, const uint8_t *p, size_t len)
{
    if (len < 20)
        return DECODE_TRUNCATED;
    if (rd16(p + 8) == 824)
        return DECODE_NOT_IP;
    return decode_ethertype(out, rd16(p), p + 20, len - 20);
}

/* BSD loopback: a 4-byte address family, in the writer's byte order (NULL)
 * or network order (LOOP); both are tried. AF_INET6 differs per system. */
static int decode_null(packet_t *out, const uint8_t *p, size_t len)
{
    if (len < 4)
        return DECODE_TRUNCATED;
    uint32_t be = rd32(p), le = rd32le(p);
    uint32_t af = be < 256 ? be : le;
    switch (af) {
    case 2:
        return decode_ipv4(out, p + 4, len - 4);
    case 10: /* Linux */
    case 24: /* NetBSD, OpenBSD, BSD/OS */
    case 28: /* FreeBSD */
    case 30: /* macOS */
        return decode_ipv6(out, p + 4, len - 4);
    default:
        return DECODE_NOT_IP;
    }
}

/* NFLOG: a 4-byte header (family, version, resource id), then TLVs whose
 * length and type are in host byte order (libpcap converts them when the
 * file was written on a host of the other order; if the first length makes
 * no sense natively, the other order is tried). Length counts the 4-byte TLV
 * header; TLVs are padded to 4 bytes. Type 9 is the packet. */
static int decode_nflog(packet_t *out, const uint8_t *p, size_t len)
{
    if (len < 4)
        return DECODE_TRUNCATED;
    if (p[0] != 2 && p[0] != 10 && p[0] != 0) /* AF_INET, AF_INET6, AF_UNSPEC */
        return DECODE_NOT_IP;
    size_t off = 4;
    int swap = 0;
    if (len - off >= 4) {
        uint16_t n = rd16host(p + off);
        if (n < 4 || n > len - off) {
            uint16_t s = swap16(n);
            swap = s >= 4 && s <= len - off;
        }
    }
    while (len - off >= 4) {
        uint16_t tlen = rd16host(p + off);
        uint16_t type = rd16host(p + off + 2);
        if (swap) {
            tlen = swap16(tlen);
            type = swap16(type);
        }
        if (tlen < 4)
            return DECODE_MALFORMED;
        if ((type & 0x3fff) == 9) {
            /* The payload TLV may be cut by the snaplen: decode what is there
             * and let the IP lengths tell. */
            size_t have = len - off - 4;
            size_t claim = (size_t)tlen - 4;
            return decode_ip(out, p + off + 4, have < claim ? have : claim, DECODE_MALFORMED);
        }
        size_t step = ((size_t)tlen + 3) & ~(size_t)3;
        if (step > len - off)
            return DECODE_TRUNCATED;
        off += step;
    }
    return DECODE_TRUNCATED; /* every NFLOG packet message carries a payload */
}

const char *decode_result_to_string(int result)
{
    switch (result) {
    case DECODE_OK: return "ok";
    case DECODE_NOT_IP: return "not-ip";
    case DECODE_FRAGMENT: return "fragment";
    case DECODE_OTHER_PROTO: return "other-proto";
    case DECODE_TRUNCATED: return "truncated";
    case DECODE_MALFORMED: return "malformed";
    case DECODE_UNKNOWN_LINKTYPE: return "unknown-linktype";
    default: return "unknown";
    }
}

int decode_linktype_supported(int linktype)
{
    switch (linktype) {
    case LT_NULL:
    case LT_EN10MB:
    case LT_RAW_12:
    case LT_RAW_14:
    case LT_RAW_101:
    case LT_LOOP:
    case LT_LINUX_SLL:
    case LT_IPV4:
    case LT_IPV6:
    case LT_NFLOG:
    case LT_LINUX_SLL2:
        return 1;
    default:
        return 0;
    }
}

int decode_frame(packet_t *out, int linktype, const uint8_t *data,
                 size_t caplen, uint32_t wire_len, int64_t ts_us)
{
    memset(out, 0, sizeof *out);
    out->ts_us = ts_us;
    out->wire_len = wire_len;
    if (!data)
        caplen = 0;
    switch (linktype) {
    case LT_EN10MB: return decode_ethernet(out, data, caplen);
    case LT_LINUX_SLL: return decode_sll(out, data, caplen);
    case LT_LINUX_SLL2: return decode_sll2(out, data, caplen);
    case LT_NULL:
    case LT_LOOP: return decode_null(out, data, caplen);
    case LT_NFLOG: return decode_nflog(out, data, caplen);
    case LT_RAW_12:
    case LT_RAW_14:
    case LT_RAW_101: return decode_ip(out, data, caplen, DECODE_MALFORMED);
    case LT_IPV4: return decode_ipv4(out, data, caplen);
    case LT_IPV6: return decode_ipv6(out, data, caplen);
    default: return DECODE_UNKNOWN_LINKTYPE;
    }
}

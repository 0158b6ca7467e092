/* check_decode.c - tests for decode.c: every link type from hand-built
 * frames, every decode_result, and bounds (every prefix of a valid frame). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

/* Link type values as written in capture files. */
enum {
    T_NULL = 0,
    T_EN10MB = 1,
    T_RAW = 12,
    T_RAW_BSD = 14,
    T_LINKTYPE_RAW = 101,
    T_LOOP = 108,
    T_SLL = 113,
    T_IPV4 = 228,
    T_IPV6 = 229,
    T_NFLOG = 239,
    T_SLL2 = 276
};

/* A frame under construction. */
typedef struct frame {
    uint8_t b[2048];
    size_t n;
} frame;

static void put(frame *f, const void *p, size_t n)
{
    ck_assert_uint_le(f->n + n, sizeof f->b);
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void put8(frame *f, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(f, &b, 1);
}

static void put16(frame *f, unsigned v)
{
    put8(f, v >> 8);
    put8(f, v);
}

static void put32(frame *f, uint32_t v)
{
    put16(f, v >> 16);
    put16(f, v & 0xffff);
}

static void put_zero(frame *f, size_t n)
{
    while (n--)
        put8(f, 0);
}

static void put_eth(frame *f, unsigned type)
{
    static const uint8_t macs[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    put(f, macs, sizeof macs);
    put16(f, type);
}

static const uint8_t SRC4[4] = {10, 0, 0, 1};
static const uint8_t DST4[4] = {192, 168, 1, 2};
static const uint8_t SRC6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t DST6[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xef};

/* IPv4 header with the given protocol, total length and fragment field. */
static void put_ipv4(frame *f, unsigned proto, unsigned total_len, unsigned frag)
{
    put8(f, 0x45);
    put8(f, 0);
    put16(f, total_len);
    put16(f, 0x1234); /* id */
    put16(f, frag);
    put8(f, 64);
    put8(f, proto);
    put16(f, 0); /* checksum: not verified */
    put(f, SRC4, 4);
    put(f, DST4, 4);
}

static void put_ipv6(frame *f, unsigned next, unsigned payload_len)
{
    put32(f, 0x60000000);
    put16(f, payload_len);
    put8(f, next);
    put8(f, 64);
    put(f, SRC6, 16);
    put(f, DST6, 16);
}

/* TCP header (20 bytes + opt_len option bytes) then payload_len bytes. */
static void put_tcp(frame *f, size_t opt_len, size_t payload_len)
{
    put16(f, 40000);
    put16(f, 22);
    put32(f, 0x01020304);
    put32(f, 0xa0b0c0d0);
    put8(f, (unsigned)((20 + opt_len) / 4) << 4);
    put8(f, 0x18); /* PSH|ACK */
    put16(f, 5840);
    put16(f, 0);
    put16(f, 0);
    for (size_t k = 0; k < opt_len; k++)
        put8(f, 1); /* NOP */
    for (size_t k = 0; k < payload_len; k++)
        put8(f, 'a' + k % 26);
}

static void put_udp(frame *f, size_t payload_len)
{
    put16(f, 5353);
    put16(f, 53);
    put16(f, 8 + payload_len);
    put16(f, 0);
    for (size_t k = 0; k < payload_len; k++)
        put8(f, 'x');
}

/* IPv4 TCP with 12 bytes of options and 7 bytes of payload. */
static void put_ipv4_tcp(frame *f)
{
    put_ipv4(f, 6, 20 + 32 + 7, 0x4000 /* DF */);
    put_tcp(f, 12, 7);
}

static void put_ipv6_udp(frame *f)
{
    put_ipv6(f, 17, 8 + 5);
    put_udp(f, 5);
}

static void assert_ipv4_tcp(const packet_t *p)
{
    ck_assert_int_eq(p->family, 4);
    ck_assert_int_eq(p->proto, 6);
    ck_assert_mem_eq(p->src, SRC4, 4);
    ck_assert_mem_eq(p->dst, DST4, 4);
    ck_assert_uint_eq(p->sport, 40000);
    ck_assert_uint_eq(p->dport, 22);
    ck_assert_uint_eq(p->seq, 0x01020304);
    ck_assert_uint_eq(p->ack, 0xa0b0c0d0);
    ck_assert_uint_eq(p->tcp_flags, PACKET_TCP_PSH | PACKET_TCP_ACK);
    ck_assert_uint_eq(p->win, 5840);
    ck_assert_uint_eq(p->payload_len, 7);
    ck_assert_uint_eq(p->ip_len_trunc, 0);
}

static void assert_ipv6_udp(const packet_t *p)
{
    ck_assert_int_eq(p->family, 6);
    ck_assert_int_eq(p->proto, 17);
    ck_assert_mem_eq(p->src, SRC6, 16);
    ck_assert_mem_eq(p->dst, DST6, 16);
    ck_assert_uint_eq(p->sport, 5353);
    ck_assert_uint_eq(p->dport, 53);
    ck_assert_uint_eq(p->payload_len, 5);
    ck_assert_uint_eq(p->ip_len_trunc, 0);
}

/* Decodes f from an exactly-sized heap copy, so that a read past the end is
 * caught by valgrind or AddressSanitizer. */
static int decode_exact(packet_t *p, int linktype, const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    if (len)
        memcpy(copy, data, len);
    int r = decode_frame(p, linktype, copy, len, (uint32_t)len + 3, 1234567);
    free(copy);
    return r;
}

static int decode(packet_t *p, int linktype, const frame *f)
{
    return decode_exact(p, linktype, f->b, f->n);
}

START_TEST(test_ethernet_ipv4_tcp_fields)
{
    frame f = {.n = 0};
    packet_t p;
    put_eth(&f, 0x0800);
    put_ipv4_tcp(&f);
    ck_assert_int_eq(decode(&p, T_EN10MB, &f), DECODE_OK);
    assert_ipv4_tcp(&p);
    ck_assert_int_eq(p.ts_us, 1234567);
    ck_assert_uint_eq(p.wire_len, f.n + 3);
}
END_TEST

START_TEST(test_ethernet_padding_not_payload)
{
    frame f = {.n = 0};
    packet_t p;
    put_eth(&f, 0x0800);
    put_ipv4(&f, 6, 40, 0);
    put_tcp(&f, 0, 0);
    put_zero(&f, 6); /* pads the frame to the 60-byte minimum */
    ck_assert_uint_eq(f.n, 60);
    ck_assert_int_eq(decode(&p, T_EN10MB, &f), DECODE_OK);
    ck_assert_uint_eq(p.payload_len, 0);
    ck_assert_uint_eq(p.ip_len_trunc, 0);
}
END_TEST

START_TEST(test_ethernet_ipv6_udp)
{
    frame f = {.n = 0};
    packet_t p;
    put_eth(&f, 0x86dd);
    put_ipv6_udp(&f);
    ck_assert_int_eq(decode(&p, T_EN10MB, &f), DECODE_OK);
    assert_ipv6_udp(&p);
}
END_TEST

START_TEST(test_vlan_and_qinq)
{
    static const unsigned outer[] = {0x8100, 0x88a8, 0x9100};
    for (size_t k = 0; k < 3; k++) {
        frame f = {.n = 0};
        packet_t p;
        put_eth(&f, outer[k]);
        put16(&f, 100 + k);  /* TCI */
        put16(&f, 0x8100);   /* inner tag */
        put16(&f, 200);
        put16(&f, 0x0800);
        put_ipv4_tcp(&f);
        ck_assert_int_eq(decode(&p, T_EN10MB, &f), DECODE_OK);
        assert_ipv4_tcp(&p);
    }
}
END_TEST

START_TEST(test_mpls)
{
    /* Two labels (the second bottom-of-stack) then IPv4, in a VLAN. */
    frame f = {.n = 0};
    packet_t p;
    put_eth(&f, 0x8100);
    put16(&f, 7);
    put16(&f, 0x8847);
    put32(&f, (16u << 12) | 0x40);       /* label 16, S=0, TTL 64 */
    put32(&f, (17u << 12) | 0x100 | 64); /* label 17, S=1 */
    put_ipv4_tcp(&f);
    ck_assert_int_eq(decode(&p, T_EN10MB, &f), DECODE_OK);
    assert_ipv4_tcp(&p);

    /* One label then IPv6. */
    frame g = {.n = 0};
    put_eth(&g, 0x8847);
    put32(&g, (18u << 12) | 0x100 | 64);
    put_ipv6_udp(&g);
    ck_assert_int_eq(decode(&p, T_EN10MB, &g), DECODE_OK);
    assert_ipv6_udp(&p);

    /* Bottom label followed by an Ethernet pseudowire control word: not IP. */
    frame h = {.n = 0};
    put_eth(&h, 0x8847);
    put32(&h, (19u << 12) | 0x100 | 64);
    put32(&h, 0);
    put_eth(&h, 0x0800);
    put_ipv4_tcp(&h);
    ck_assert_int_eq(decode(&p, T_EN10MB, &h), DECODE_NOT_IP);
}
END_TEST

START_TEST(test_pppoe_and_snap)
{
    frame f = {.n = 0};
    packet_t p;
    put_eth(&f, 0x8864);
    put8(&f, 0x11);
    put8(&f, 0);
    put16(&f, 0x0001);  /* session */
    put16(&f, 2 + 20 + 32 + 7);
    put16(&f, 0x0021);  /* PPP: IPv4 */
    put_ipv4_tcp(&f);
    ck_assert_int_eq(decode(&p, T_EN10MB, &f), DECODE_OK);
    assert_ipv4_tcp(&p);

    frame g = {.n = 0};
    put_eth(&g, 8 + 40 + 13); /* 802.3 length */
    put8(&g, 0xaa);
    put8(&g, 0xaa);
    put8(&g, 0x03);
    put_zero(&g, 3);
    put16(&g, 0x86dd);
    put_ipv6_udp(&g);
    ck_assert_int_eq(decode(&p, T_EN10MB, &g), DECODE_OK);
    assert_ipv6_udp(&p);
}
END_TEST

START_TEST(test_not_ip)
{
    frame f = {.n = 0};
    packet_t p;
    put_eth(&f, 0x0806); /* ARP */
    put_zero(&f, 28);
    ck_assert_int_eq(decode(&p, T_EN10MB, &f), DECODE_NOT_IP);

    frame g = {.n = 0};
    put_eth(&g, 38); /* 802.3 + LLC (STP) */
    put8(&g, 0x42);
    put8(&g, 0x42);
    put8(&g, 0x03);
    put_zero(&g, 35);
    ck_assert_int_eq(decode(&p, T_EN10MB, &g), DECODE_NOT_IP);
}
END_TEST

START_TEST(test_linux_sll)
{
    frame f = {.n = 0};
    packet_t p;
    put16(&f, 0);     /* packet type: to us */
    put16(&f, 1);     /* ARPHRD_ETHER */
    put16(&f, 6);     /* address length */
    put_zero(&f, 8);  /* address */
    put16(&f, 0x0800);
    put_ipv4_tcp(&f);
    ck_assert_int_eq(decode(&p, T_SLL, &f), DECODE_OK);
    assert_ipv4_tcp(&p);

    frame g = {.n = 0};
    put16(&g, 4);
    put16(&g, 1);
    put16(&g, 6);
    put_zero(&g, 8);
    put16(&g, 0x0806);
    put_zero(&g, 28);
    ck_assert_int_eq(decode(&p, T_SLL, &g), DECODE_NOT_IP);

    frame h = {.n = 0};
    put16(&h, 0);
    put16(&h, 824); /* ARPHRD_NETLINK */
    put16(&h, 0);
    put_zero(&h, 8);
    put16(&h, 0x0800); /* would look like IPv4 */
    put_ipv4_tcp(&h);
    ck_assert_int_eq(decode(&p, T_SLL, &h), DECODE_NOT_IP);
}
END_TEST

START_TEST(test_linux_sll2)
{
    frame f = {.n = 0};
    packet_t p;
    put16(&f, 0x86dd); /* protocol */
    put16(&f, 0);      /* reserved */
    put32(&f, 3);      /* interface index */
    put16(&f, 1);      /* ARPHRD_ETHER */
    put8(&f, 0);       /* packet type */
    put8(&f, 6);       /* address length */
    put_zero(&f, 8);
    put_ipv6_udp(&f);
    ck_assert_int_eq(decode(&p, T_SLL2, &f), DECODE_OK);
    assert_ipv6_udp(&p);
}
END_TEST

START_TEST(test_raw_ip)
{
    static const int types[] = {T_RAW, T_RAW_BSD, T_LINKTYPE_RAW};
    packet_t p;
    for (size_t k = 0; k < 3; k++) {
        frame f = {.n = 0}, g = {.n = 0};
        put_ipv4_tcp(&f);
        ck_assert_int_eq(decode(&p, types[k], &f), DECODE_OK);
        assert_ipv4_tcp(&p);
        put_ipv6_udp(&g);
        ck_assert_int_eq(decode(&p, types[k], &g), DECODE_OK);
        assert_ipv6_udp(&p);
    }
    frame f = {.n = 0}, g = {.n = 0};
    put_ipv4_tcp(&f);
    put_ipv6_udp(&g);
    ck_assert_int_eq(decode(&p, T_IPV4, &f), DECODE_OK);
    assert_ipv4_tcp(&p);
    ck_assert_int_eq(decode(&p, T_IPV6, &g), DECODE_OK);
    assert_ipv6_udp(&p);
    /* A DLT_IPV4 link carrying an IPv6 header is inconsistent. */
    ck_assert_int_eq(decode(&p, T_IPV4, &g), DECODE_MALFORMED);
    /* Version 5 on a raw link. */
    f.b[0] = 0x55;
    ck_assert_int_eq(decode(&p, T_RAW, &f), DECODE_MALFORMED);
}
END_TEST

START_TEST(test_null_loop)
{
    /* Address family in little-endian (DLT_NULL from x86) and big-endian
     * (DLT_LOOP, or DLT_NULL from a big-endian host) order. */
    static const uint32_t af6[] = {24, 28, 30};
    packet_t p;
    for (int big = 0; big < 2; big++) {
        int lt = big ? T_LOOP : T_NULL;
        frame f = {.n = 0};
        if (big)
            put32(&f, 2);
        else
            put32(&f, 0x02000000);
        put_ipv4_tcp(&f);
        ck_assert_int_eq(decode(&p, lt, &f), DECODE_OK);
        assert_ipv4_tcp(&p);
        ck_assert_int_eq(decode(&p, T_NULL, &f), DECODE_OK); /* either order on NULL */
        for (size_t k = 0; k < 3; k++) {
            frame g = {.n = 0};
            uint32_t v = af6[k];
            put32(&g, big ? v : (v << 24));
            put_ipv6_udp(&g);
            ck_assert_int_eq(decode(&p, lt, &g), DECODE_OK);
            assert_ipv6_udp(&p);
        }
        frame h = {.n = 0};
        put32(&h, big ? 7 : 0x07000000); /* AF_? other */
        put_ipv4_tcp(&h);
        ck_assert_int_eq(decode(&p, lt, &h), DECODE_NOT_IP);
    }
}
END_TEST

/* NFLOG TLV with host-order (or swapped) length and type, padded to 4. */
static void put_tlv(frame *f, unsigned type, const uint8_t *v, size_t n, int swapped)
{
    uint16_t len = (uint16_t)(4 + n), t = (uint16_t)type;
    if (swapped) {
        len = (uint16_t)((len >> 8) | (len << 8));
        t = (uint16_t)((t >> 8) | (t << 8));
    }
    put(f, &len, 2);
    put(f, &t, 2);
    put(f, v, n);
    while (f->n % 4)
        put8(f, 0);
}

START_TEST(test_nflog)
{
    packet_t p;
    for (int swapped = 0; swapped < 2; swapped++) {
        frame ip = {.n = 0}, f = {.n = 0};
        put_ipv4_tcp(&ip);
        put8(&f, 2); /* AF_INET */
        put8(&f, 0);
        put16(&f, 1);
        static const uint8_t hw[4] = {0, 0x08, 2, 0};
        put_tlv(&f, 1, hw, 4, swapped);                      /* packet header */
        put_tlv(&f, 10, (const uint8_t *)"prefix", 7, swapped); /* padded */
        put_tlv(&f, 9, ip.b, ip.n, swapped);
        ck_assert_int_eq(decode(&p, T_NFLOG, &f), DECODE_OK);
        assert_ipv4_tcp(&p);
    }
    frame ip6 = {.n = 0}, g = {.n = 0};
    put_ipv6_udp(&ip6);
    put8(&g, 10); /* AF_INET6 */
    put8(&g, 0);
    put16(&g, 0);
    put_tlv(&g, 9, ip6.b, ip6.n, 0);
    ck_assert_int_eq(decode(&p, T_NFLOG, &g), DECODE_OK);
    assert_ipv6_udp(&p);

    /* No payload TLV: the frame was cut. */
    frame h = {.n = 0};
    put8(&h, 2);
    put8(&h, 0);
    put16(&h, 0);
    put_tlv(&h, 10, (const uint8_t *)"abc", 3, 0);
    ck_assert_int_eq(decode(&p, T_NFLOG, &h), DECODE_TRUNCATED);
    /* A TLV length below its own header. */
    h.b[4] = 2;
    h.b[5] = 0;
    h.b[6] = 10;
    h.b[7] = 0;
    ck_assert_int_eq(decode(&p, T_NFLOG, &h), DECODE_MALFORMED);
    /* ARP family. */
    h.b[0] = 3;
    ck_assert_int_eq(decode(&p, T_NFLOG, &h), DECODE_NOT_IP);
}
END_TEST

START_TEST(test_ipv4_fragments)
{
    static const unsigned frags[] = {0x2000 /* MF */, 0x0010 /* offset */, 0x2010};
    packet_t p;
    for (size_t k = 0; k < 3; k++) {
        frame f = {.n = 0};
        put_ipv4(&f, 6, 20 + 32 + 7, frags[k]);
        put_tcp(&f, 12, 7);
        ck_assert_int_eq(decode(&p, T_RAW, &f), DECODE_FRAGMENT);
    }
}
END_TEST

START_TEST(test_ipv6_fragments)
{
    packet_t p;
    /* Fragment header: next, reserved, offset<<3 | M, identification. */
    static const unsigned offm[] = {0x0001, 0x0008, 0x0009};
    for (size_t k = 0; k < 3; k++) {
        frame f = {.n = 0};
        put_ipv6(&f, 44, 8 + 8 + 5);
        put8(&f, 17);
        put8(&f, 0);
        put16(&f, offm[k]);
        put32(&f, 0xdeadbeef);
        put_udp(&f, 5);
        ck_assert_int_eq(decode(&p, T_RAW, &f), DECODE_FRAGMENT);
    }
    /* Atomic fragment (offset 0, M=0): decoded as a whole packet. */
    frame f = {.n = 0};
    put_ipv6(&f, 44, 8 + 8 + 5);
    put8(&f, 17);
    put8(&f, 0);
    put16(&f, 0);
    put32(&f, 1);
    put_udp(&f, 5);
    ck_assert_int_eq(decode(&p, T_RAW, &f), DECODE_OK);
    assert_ipv6_udp(&p);
}
END_TEST

/* IPv6 with hop-by-hop (8), routing (24), destination options (16) and AH
 * (24) headers before TCP. */
static void put_ipv6_ext_tcp(frame *f)
{
    put_ipv6(f, 0, 8 + 24 + 16 + 24 + 32 + 7);
    put8(f, 43);
    put8(f, 0);
    put_zero(f, 6);
    put8(f, 60);
    put8(f, 2);
    put_zero(f, 22);
    put8(f, 51);
    put8(f, 1);
    put_zero(f, 14);
    put8(f, 6);
    put8(f, 4); /* AH: (4 + 2) * 4 = 24 bytes */
    put_zero(f, 22);
    put_tcp(f, 12, 7);
}

START_TEST(test_ipv6_extension_headers)
{
    frame f = {.n = 0};
    packet_t p;
    put_eth(&f, 0x86dd);
    put_ipv6_ext_tcp(&f);
    ck_assert_int_eq(decode(&p, T_EN10MB, &f), DECODE_OK);
    ck_assert_int_eq(p.family, 6);
    ck_assert_int_eq(p.proto, 6);
    ck_assert_uint_eq(p.sport, 40000);
    ck_assert_uint_eq(p.payload_len, 7);
    /* An extension header longer than the payload length claims. */
    f.b[14 + 4] = 0;
    f.b[14 + 5] = 16;
    ck_assert_int_eq(decode(&p, T_EN10MB, &f), DECODE_MALFORMED);
}
END_TEST

/* A type 0 routing header with segments left: the destination is the last
 * address it lists, not the IPv6 header's (tshark and Zeek read it so). */
START_TEST(test_ipv6_routing0_final_destination)
{
    static const uint8_t FINAL[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                      0, 0, 0, 0, 0, 0, 0, 0x99};
    frame f = {.n = 0};
    packet_t p;
    put_ipv6(&f, 43, 24 + 8 + 5);
    put8(&f, 17); /* next: UDP */
    put8(&f, 2);  /* (2 + 1) * 8 = 24 bytes: one address */
    put8(&f, 0);  /* type 0 */
    put8(&f, 1);  /* segments left */
    put_zero(&f, 4);
    put(&f, FINAL, 16);
    put_udp(&f, 5);
    ck_assert_int_eq(decode(&p, T_RAW, &f), DECODE_OK);
    ck_assert_mem_eq(p.dst, FINAL, 16);
    ck_assert_mem_eq(p.src, SRC6, 16);
    ck_assert_uint_eq(p.payload_len, 5);
    /* No segments left: the header's destination stands. */
    f.b[40 + 3] = 0;
    ck_assert_int_eq(decode(&p, T_RAW, &f), DECODE_OK);
    ck_assert_mem_eq(p.dst, DST6, 16);
}
END_TEST

START_TEST(test_icmp)
{
    frame f = {.n = 0}, g = {.n = 0};
    packet_t p;
    put_ipv4(&f, 1, 20 + 8 + 4, 0);
    put8(&f, 8); /* echo request */
    put8(&f, 0);
    put_zero(&f, 10);
    ck_assert_int_eq(decode(&p, T_RAW, &f), DECODE_OK);
    ck_assert_int_eq(p.proto, 1);
    ck_assert_uint_eq(p.sport, 8);
    ck_assert_uint_eq(p.dport, 0);
    ck_assert_uint_eq(p.payload_len, 4);

    put_ipv6(&g, 58, 8);
    put8(&g, 1); /* destination unreachable */
    put8(&g, 3); /* address unreachable */
    put_zero(&g, 6);
    ck_assert_int_eq(decode(&p, T_RAW, &g), DECODE_OK);
    ck_assert_int_eq(p.proto, 58);
    ck_assert_uint_eq(p.sport, 1);
    ck_assert_uint_eq(p.dport, 3);
    ck_assert_uint_eq(p.payload_len, 0);
}
END_TEST

START_TEST(test_other_proto)
{
    frame f = {.n = 0}, g = {.n = 0}, h = {.n = 0};
    packet_t p;
    put_ipv4(&f, 47, 20 + 8, 0); /* GRE */
    put_zero(&f, 8);
    ck_assert_int_eq(decode(&p, T_RAW, &f), DECODE_OTHER_PROTO);
    put_ipv6(&g, 50, 16); /* ESP */
    put_zero(&g, 16);
    ck_assert_int_eq(decode(&p, T_RAW, &g), DECODE_OTHER_PROTO);
    put_ipv4(&h, 58, 20 + 8, 0); /* ICMPv6 number inside IPv4 */
    put_zero(&h, 8);
    ck_assert_int_eq(decode(&p, T_RAW, &h), DECODE_OTHER_PROTO);
}
END_TEST

START_TEST(test_malformed)
{
    packet_t p;
    frame f = {.n = 0};
    put_ipv4_tcp(&f);
    f.b[0] = 0x44; /* IHL 4 */
    ck_assert_int_eq(decode(&p, T_RAW, &f), DECODE_MALFORMED);

    frame g = {.n = 0};
    put_ipv4(&g, 6, 19, 0); /* total length below the header */
    put_tcp(&g, 0, 0);
    ck_assert_int_eq(decode(&p, T_RAW, &g), DECODE_MALFORMED);

    frame h = {.n = 0};
    put_ipv4(&h, 6, 40, 0);
    put_tcp(&h, 0, 0);
    h.b[20 + 12] = 0x40; /* data offset 4 */
    ck_assert_int_eq(decode(&p, T_RAW, &h), DECODE_MALFORMED);
    h.b[20 + 12] = 0x60; /* data offset 6: beyond the IP length */
    ck_assert_int_eq(decode(&p, T_RAW, &h), DECODE_MALFORMED);

    frame u = {.n = 0};
    put_ipv4(&u, 17, 20 + 6, 0); /* UDP shorter than its header */
    put_zero(&u, 8);
    ck_assert_int_eq(decode(&p, T_RAW, &u), DECODE_MALFORMED);
}
END_TEST

START_TEST(test_snaplen_cut_keeps_ip_length)
{
    frame f = {.n = 0};
    packet_t p;
    put_eth(&f, 0x0800);
    put_ipv4(&f, 6, 20 + 20 + 1000, 0);
    put_tcp(&f, 0, 10); /* only 10 of the 1000 payload bytes captured */
    ck_assert_int_eq(decode(&p, T_EN10MB, &f), DECODE_OK);
    ck_assert_uint_eq(p.payload_len, 1000);
    ck_assert_uint_eq(p.ip_len_trunc, 1);
}
END_TEST

START_TEST(test_truncated_and_unknown)
{
    frame f = {.n = 0};
    packet_t p;
    put_eth(&f, 0x0800);
    put_ipv4_tcp(&f);
    ck_assert_int_eq(decode_exact(&p, T_EN10MB, f.b, 14 + 20 + 10), DECODE_TRUNCATED);
    ck_assert_int_eq(decode_exact(&p, T_EN10MB, f.b, 0), DECODE_TRUNCATED);
    ck_assert_int_eq(decode_frame(&p, T_EN10MB, NULL, 0, 0, 0), DECODE_TRUNCATED);
    ck_assert_int_eq(decode(&p, 105 /* 802.11 */, &f), DECODE_UNKNOWN_LINKTYPE);
    ck_assert_int_eq(decode(&p, -1, &f), DECODE_UNKNOWN_LINKTYPE);
    ck_assert(!decode_linktype_supported(105));
    ck_assert(!decode_linktype_supported(-1));
    static const int ok[] = {T_NULL, T_EN10MB, T_RAW, T_RAW_BSD, T_LINKTYPE_RAW, T_LOOP,
                             T_SLL, T_IPV4, T_IPV6, T_NFLOG, T_SLL2};
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
        ck_assert(decode_linktype_supported(ok[k]));
}
END_TEST

START_TEST(test_result_strings)
{
    for (int a = 0; a < DECODE_RESULT_COUNT; a++) {
        ck_assert_str_ne(decode_result_to_string(a), "unknown");
        for (int b = a + 1; b < DECODE_RESULT_COUNT; b++)
            ck_assert_str_ne(decode_result_to_string(a), decode_result_to_string(b));
    }
    ck_assert_str_eq(decode_result_to_string(DECODE_RESULT_COUNT), "unknown");
    ck_assert_str_eq(decode_result_to_string(-3), "unknown");
}
END_TEST

/* Every prefix of a valid frame decodes from an exactly-sized buffer (no
 * read past it: checked by valgrind/ASan), to TRUNCATED where headers are
 * cut, or to OK with ip_len_trunc where only payload is cut. */
START_TEST(test_every_prefix)
{
    frame fr[12];
    int lt[12];
    size_t used[12] = {0}; /* bytes before trailing padding, if any */
    size_t nf = 0;
    memset(fr, 0, sizeof fr);
    put_eth(&fr[nf], 0x0800), put_ipv4_tcp(&fr[nf]), lt[nf++] = T_EN10MB;
    put_eth(&fr[nf], 0x86dd), put_ipv6_ext_tcp(&fr[nf]), lt[nf++] = T_EN10MB;
    put_eth(&fr[nf], 0x88a8), put16(&fr[nf], 1), put16(&fr[nf], 0x8100), put16(&fr[nf], 2),
        put16(&fr[nf], 0x8847), put32(&fr[nf], 0x10140), put_ipv6_udp(&fr[nf]),
        lt[nf++] = T_EN10MB;
    put16(&fr[nf], 0), put16(&fr[nf], 1), put16(&fr[nf], 6), put_zero(&fr[nf], 8),
        put16(&fr[nf], 0x0800), put_ipv4_tcp(&fr[nf]), lt[nf++] = T_SLL;
    put16(&fr[nf], 0x86dd), put_zero(&fr[nf], 18), put_ipv6_udp(&fr[nf]), lt[nf++] = T_SLL2;
    put32(&fr[nf], 30), put_ipv6_udp(&fr[nf]), lt[nf++] = T_LOOP;
    put_ipv4_tcp(&fr[nf]), lt[nf++] = T_RAW;
    {
        frame ip = {.n = 0};
        put_ipv4_tcp(&ip);
        put8(&fr[nf], 2), put8(&fr[nf], 0), put16(&fr[nf], 0);
        put_tlv(&fr[nf], 10, (const uint8_t *)"pfx", 3, 0);
        put_tlv(&fr[nf], 9, ip.b, ip.n, 0);
        used[nf] = 4 + 8 + 4 + ip.n; /* the payload TLV is padded to 4 */
        lt[nf++] = T_NFLOG;
    }
    for (size_t k = 0; k < nf; k++) {
        packet_t p;
        ck_assert_int_eq(decode(&p, lt[k], &fr[k]), DECODE_OK);
        for (size_t len = 0; len < fr[k].n; len++) {
            int r = decode_exact(&p, lt[k], fr[k].b, len);
            if (r == DECODE_OK && used[k] && len >= used[k])
                ck_assert_uint_eq(p.ip_len_trunc, 0);
            else if (r == DECODE_OK)
                ck_assert_msg(p.ip_len_trunc, "frame %zu cut at %zu: ok without ip_len_trunc",
                              k, len);
            else
                ck_assert_msg(r == DECODE_TRUNCATED, "frame %zu cut at %zu: %s", k, len,
                              decode_result_to_string(r));
        }
    }
}
END_TEST

Suite *decode_suite(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ethernet_ipv4_tcp_fields);
    tcase_add_test(tc, test_ethernet_padding_not_payload);
    tcase_add_test(tc, test_ethernet_ipv6_udp);
    tcase_add_test(tc, test_vlan_and_qinq);
    tcase_add_test(tc, test_mpls);
    tcase_add_test(tc, test_pppoe_and_snap);
    tcase_add_test(tc, test_not_ip);
    tcase_add_test(tc, test_linux_sll);
    tcase_add_test(tc, test_linux_sll2);
    tcase_add_test(tc, test_raw_ip);
    tcase_add_test(tc, test_null_loop);
    tcase_add_test(tc, test_nflog);
    tcase_add_test(tc, test_ipv4_fragments);
    tcase_add_test(tc, test_ipv6_fragments);
    tcase_add_test(tc, test_ipv6_extension_headers);
    tcase_add_test(tc, test_ipv6_routing0_final_destination);
    tcase_add_test(tc, test_icmp);
    tcase_add_test(tc, test_other_proto);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_snaplen_cut_keeps_ip_length);
    tcase_add_test(tc, test_truncated_and_unknown);
    tcase_add_test(tc, test_result_strings);
    tcase_add_test(tc, test_every_prefix);
    suite_add_tcase(s, tc);
    return s;
}

/* check_dedup.c - tests for dedup.c and the several-sensor merge in
 * pcapsrc: a capture split into two overlapping "sensor" files gives the
 * same connections as the original. */
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conntab.h"
#include "dedup.h"
#include "pcapsrc.h"
#include "status.h"

static packet_t tcp_packet(int64_t ts, uint16_t ip_id, uint32_t seq, uint32_t len)
{
    packet_t p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts;
    p.family = 4;
    p.proto = 6;
    p.tcp_flags = PACKET_TCP_ACK;
    p.src[0] = 10; p.src[3] = 1;
    p.dst[0] = 10; p.dst[3] = 2;
    p.sport = 40000;
    p.dport = 22;
    p.seq = seq;
    p.ack = 7;
    p.payload_len = len;
    p.ip_id = ip_id;
    return p;
}

START_TEST(test_dedup_window_and_sources)
{
    char err[SS_ERRBUF_SIZE];
    dedup *d = NULL;
    ck_assert_int_eq(dedup_create(&d, 0, 0, err), SS_ERR_ARG);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(dedup_create(&d, 50000, 0, err), 0);
    packet_t p = tcp_packet(1000000, 1, 100, 50);
    ck_assert_int_eq(dedup_check(d, &p, 0, err), 0);   /* first copy */
    p.ts_us += 10000;
    ck_assert_int_eq(dedup_check(d, &p, 1, err), 1);   /* other sensor, 10 ms later */
    ck_assert_int_eq(dedup_check(d, &p, 2, err), 1);   /* a third sensor */
    ck_assert_int_eq(dedup_check(d, &p, 0, err), 0);   /* same sensor: a repeat, kept */
    packet_t q = tcp_packet(p.ts_us, 2, 100, 50);      /* retransmission: new IP id */
    ck_assert_int_eq(dedup_check(d, &q, 1, err), 0);
    packet_t r = tcp_packet(p.ts_us, 1, 100, 51);      /* other length */
    ck_assert_int_eq(dedup_check(d, &r, 1, err), 0);
    r.tcp_flags |= PACKET_TCP_PSH;                      /* other flags */
    ck_assert_int_eq(dedup_check(d, &r, 2, err), 0);
    p.ts_us += 60000;                                   /* out of the window */
    ck_assert_int_eq(dedup_check(d, &p, 1, err), 0);
    ck_assert_uint_eq(dedup_dropped(d), 2);
    ck_assert_uint_ne(dedup_signature(&p), dedup_signature(&q));
    dedup_destroy(d);
    dedup_destroy(NULL);
}
END_TEST

START_TEST(test_dedup_bounded)
{
    char err[SS_ERRBUF_SIZE];
    dedup *d = NULL;
    ck_assert_int_eq(dedup_create(&d, 1000000, 16, err), 0);
    for (uint32_t k = 0; k < 100; k++) {
        packet_t p = tcp_packet(1000, (uint16_t)k, k, 10);
        ck_assert_int_eq(dedup_check(d, &p, 0, err), 0);
    }
    packet_t old = tcp_packet(1000, 0, 0, 10), recent = tcp_packet(1000, 99, 99, 10);
    ck_assert_int_eq(dedup_check(d, &old, 1, err), 0);    /* forgotten: set is full */
    ck_assert_int_eq(dedup_check(d, &recent, 1, err), 1); /* still remembered */
    dedup_destroy(d);
}
END_TEST

/* ---- two sensors ------------------------------------------------------ */

/* One Ethernet/IPv4 frame, with an 802.1Q tag if vlan (the second sensor
 * sits on a trunk port: other link layer, same packet). */
static size_t make_frame(uint8_t *b, int vlan, uint8_t proto, uint32_t src, uint32_t dst,
                         uint16_t sp, uint16_t dp, uint16_t ip_id, uint32_t seq, uint32_t ack,
                         uint8_t flags, uint32_t len)
{
    size_t l2 = vlan ? 18 : 14, l4 = proto == 6 ? 20 : 8;
    size_t n = l2 + 20 + l4 + len;
    memset(b, 0, n);
    b[0] = 2; b[6] = 4;
    if (vlan) {
        b[12] = 0x81; b[13] = 0x00; b[15] = 7;
        b[16] = 0x08; b[17] = 0x00;
    } else {
        b[12] = 0x08; b[13] = 0x00;
    }
    uint8_t *ip = b + l2;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((20 + l4 + len) >> 8); ip[3] = (uint8_t)(20 + l4 + len);
    ip[4] = (uint8_t)(ip_id >> 8); ip[5] = (uint8_t)ip_id;
    ip[8] = 64;
    ip[9] = proto;
    for (int k = 0; k < 4; k++) {
        ip[12 + k] = (uint8_t)(src >> (24 - 8 * k));
        ip[16 + k] = (uint8_t)(dst >> (24 - 8 * k));
    }
    uint8_t *th = ip + 20;
    th[0] = (uint8_t)(sp >> 8); th[1] = (uint8_t)sp;
    th[2] = (uint8_t)(dp >> 8); th[3] = (uint8_t)dp;
    if (proto == 6) {
        for (int k = 0; k < 4; k++) {
            th[4 + k] = (uint8_t)(seq >> (24 - 8 * k));
            th[8 + k] = (uint8_t)(ack >> (24 - 8 * k));
        }
        th[12] = 0x50;
        th[13] = flags;
    } else {
        th[4] = (uint8_t)((8 + len) >> 8); th[5] = (uint8_t)(8 + len);
    }
    return n;
}

typedef struct gen_pkt {
    int64_t ts;
    uint8_t proto, flags;
    uint32_t src, dst;
    uint16_t sp, dp, ip_id;
    uint32_t seq, ack, len;
} gen_pkt;

#define GEN_MAX 2000

/* Interleaved TCP connections (handshake, data with some retransmissions,
 * FIN close) and UDP exchanges, 1 ms apart. Returns the count. */
static size_t gen_traffic(gen_pkt *g)
{
    size_t n = 0;
    uint16_t ip_id = 1;
    uint64_t rs = 0x9e3779b97f4a7c15ULL;
    int64_t ts = 1700000000LL * 1000000;
    for (int c = 0; c < 12 && n + 60 < GEN_MAX; c++) {
        uint32_t cli = 0x0a000001u + (uint32_t)c, srv = 0xc0a80001u;
        uint16_t cp = (uint16_t)(40000 + c), spt = 22;
        uint32_t cs = 1000u * (uint32_t)c, ss = 500000u + (uint32_t)c;
        gen_pkt base = {0, 6, 0, cli, srv, cp, spt, 0, 0, 0, 0};
#define PUT(fromcli, fl, sq, ak, ln) do { \
        gen_pkt q = base; q.ts = (ts += 1000); q.flags = (fl); q.ip_id = ip_id++; \
        if (!(fromcli)) { q.src = srv; q.dst = cli; q.sp = spt; q.dp = cp; } \
        q.seq = (sq); q.ack = (ak); q.len = (ln); g[n++] = q; } while (0)
        PUT(1, 0x02, cs, 0, 0); cs++;
        PUT(0, 0x12, ss, cs, 0); ss++;
        PUT(1, 0x10, cs, ss, 0);
        for (int k = 0; k < 20; k++) {
            rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
            uint32_t len = 1 + (uint32_t)(rs % 1400);
            PUT(0, 0x18, ss, cs, len);
            if (rs % 7 == 0)
                PUT(0, 0x18, ss, cs, len); /* retransmission: same seq, new IP id */
            ss += len;
            PUT(1, 0x10, cs, ss, 0);
            if (k % 5 == 0) { /* a UDP exchange between */
                gen_pkt u = {0, 17, 0, cli, 0xc0a80035u, (uint16_t)(50000 + k), 53, 0, 0, 0, 40};
                u.ts = (ts += 1000); u.ip_id = ip_id++; g[n++] = u;
                gen_pkt v = u;
                v.src = u.dst; v.dst = u.src; v.sp = 53; v.dp = u.sp; v.len = 120;
                v.ts = (ts += 1000); v.ip_id = ip_id++; g[n++] = v;
            }
        }
        PUT(1, 0x11, cs, ss, 0); cs++;
        PUT(0, 0x11, ss, cs, 0); ss++;
        PUT(1, 0x10, cs, ss, 0);
#undef PUT
    }
    return n;
}

/* Writes g[from, to) to path, timestamps shifted by skew_us. */
static void write_pcap(const char *path, const gen_pkt *g, size_t from, size_t to, int vlan,
                       int64_t skew_us)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    ck_assert_ptr_nonnull(dead);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    ck_assert_ptr_nonnull(d);
    static uint8_t buf[2048];
    for (size_t k = from; k < to; k++) {
        const gen_pkt *q = &g[k];
        struct pcap_pkthdr h;
        memset(&h, 0, sizeof(h));
        size_t len = make_frame(buf, vlan, q->proto, q->src, q->dst, q->sp, q->dp, q->ip_id,
                                q->seq, q->ack, q->flags, q->len);
        int64_t ts = q->ts + skew_us;
        h.ts.tv_sec = (time_t)(ts / 1000000);
        h.ts.tv_usec = (suseconds_t)(ts % 1000000);
        h.caplen = h.len = (uint32_t)len;
        pcap_dump((u_char *)d, &h, buf);
    }
    pcap_dump_close(d);
    pcap_close(dead);
}

typedef struct recs {
    conntab_record r[64];
    size_t n;
} recs;

static int collect(void *ctx, const conntab_record *rec, char *errbuf)
{
    recs *c = ctx;
    (void)errbuf;
    if (c->n < 64) {
        c->r[c->n] = *rec;
        c->r[c->n].pkts = NULL;
    }
    c->n++;
    return 0;
}

/* pcapsrc + conntab over paths; returns the duplicates dropped. */
static uint64_t run_conns(const char *const *paths, size_t n, int64_t window_us, recs *out)
{
    char err[SS_ERRBUF_SIZE];
    pcapsrc *src = NULL;
    conntab *tab = NULL;
    memset(out, 0, sizeof(*out));
    ck_assert_msg(pcapsrc_open(&src, paths, n, NULL, NULL, err) == 0, "%s", err);
    ck_assert_int_eq(pcapsrc_set_dedup_window(src, window_us, err), 0);
    ck_assert_int_eq(conntab_create(&tab, NULL, collect, out, err), 0);
    packet_t p;
    int rc;
    while ((rc = pcapsrc_next_packet(src, &p, NULL, err)) == 1)
        ck_assert_int_eq(conntab_add(tab, &p, err), 0);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(conntab_flush(tab, err), 0);
    uint64_t dups = pcapsrc_duplicates(src);
    ck_assert_int_eq(pcapsrc_set_dedup_window(src, 0, err), SS_ERR_ARG); /* too late */
    conntab_destroy(tab);
    pcapsrc_close(src);
    ck_assert_uint_le(out->n, 64);
    return dups;
}

/* Whether two runs found the same connections; with times, also the same
 * timestamps. */
static int same_conns(const recs *a, const recs *b, int times)
{
    if (a->n != b->n)
        return 0;
    for (size_t k = 0; k < a->n; k++) {
        const conntab_record *x = &a->r[k], *y = &b->r[k];
        if (memcmp(x->orig_h, y->orig_h, 16) || memcmp(x->resp_h, y->resp_h, 16) ||
            x->orig_p != y->orig_p || x->resp_p != y->resp_p || x->proto != y->proto ||
            x->state != y->state || x->orig_pkts != y->orig_pkts ||
            x->resp_pkts != y->resp_pkts || x->orig_bytes != y->orig_bytes ||
            x->resp_bytes != y->resp_bytes || x->orig_retrans != y->orig_retrans ||
            x->resp_retrans != y->resp_retrans || x->n_pkts != y->n_pkts)
            return 0;
        if (times && (x->start_us != y->start_us || x->end_us != y->end_us ||
                      strcmp(x->uid, y->uid)))
            return 0;
    }
    return 1;
}

START_TEST(test_two_sensors_count_once)
{
    static gen_pkt g[GEN_MAX];
    size_t n = gen_traffic(g);
    ck_assert_uint_gt(n, 500);
    char dir[] = "/tmp/dedup-test.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char orig[64], a[64], b[64], bskew[64];
    snprintf(orig, sizeof orig, "%s/orig.pcap", dir);
    snprintf(a, sizeof a, "%s/a.pcap", dir);
    snprintf(b, sizeof b, "%s/b.pcap", dir);
    snprintf(bskew, sizeof bskew, "%s/bskew.pcap", dir);
    size_t lo = n * 3 / 10, hi = n * 7 / 10; /* both sensors see [lo, hi) */
    write_pcap(orig, g, 0, n, 0, 0);
    write_pcap(a, g, 0, hi, 0, 0);
    write_pcap(b, g, lo, n, 1, 0);
    write_pcap(bskew, g, lo, n, 1, 3000); /* clock 3 ms ahead */

    recs want, got, raw, skewed;
    const char *one[] = {orig};
    ck_assert_uint_eq(run_conns(one, 1, DEDUP_DEFAULT_WINDOW_US, &want), 0);
    ck_assert_uint_ge(want.n, 12);

    const char *two[] = {a, b};
    ck_assert_uint_eq(run_conns(two, 2, DEDUP_DEFAULT_WINDOW_US, &got), hi - lo);
    ck_assert_msg(same_conns(&want, &got, 1), "two sensors differ from the original capture");
    const char *two_rev[] = {b, a};
    ck_assert_uint_eq(run_conns(two_rev, 2, DEDUP_DEFAULT_WINDOW_US, &got), hi - lo);
    ck_assert_msg(same_conns(&want, &got, 1), "order of the files matters");

    /* without suppression every copy counts: the test can tell */
    ck_assert_uint_eq(run_conns(two, 2, 0, &raw), 0);
    ck_assert_msg(!same_conns(&want, &raw, 0), "duplicates not visible without suppression");

    /* a skew inside the window: the same packets and bytes (times of the
     * part only the late sensor saw are its own) */
    const char *sk[] = {a, bskew};
    ck_assert_uint_eq(run_conns(sk, 2, DEDUP_DEFAULT_WINDOW_US, &skewed), hi - lo);
    ck_assert_msg(same_conns(&want, &skewed, 0), "a 3 ms skew changed the counts");
    /* a window smaller than the skew misses the copies (documented limit) */
    ck_assert_uint_eq(run_conns(sk, 2, 1000, &skewed), 0);

    unlink(orig); unlink(a); unlink(b); unlink(bskew);
    rmdir(dir);
}
END_TEST

Suite *dedup_suite(void)
{
    Suite *s = suite_create("dedup");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_dedup_window_and_sources);
    tcase_add_test(tc, test_dedup_bounded);
    tcase_add_test(tc, test_two_sensors_count_once);
    suite_add_tcase(s, tc);
    return s;
}

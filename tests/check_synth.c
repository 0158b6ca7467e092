/* check_synth.c - tests for datasets/synth.c and correlate/labels.c.
 *
 * The generated captures are read back with libpcap and checked packet by
 * packet: IP and TCP checksums, time order, handshakes, in-order sequence
 * numbers, ACKs that never acknowledge unsent data, and every labelled relay
 * leg present with data both ways.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "labels.h"
#include "status.h"
#include "synth.h"

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/check-synth.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void path_in(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", tmpdir, name);
}

/* A small, quick configuration. */
static void small_config(synth_config *cfg, uint64_t seed, int kind)
{
    synth_config_default(cfg);
    cfg->seed = seed;
    cfg->duration_s = 40;
    cfg->chains = 3;
    cfg->hops_min = 2;
    cfg->hops_max = 4;
    cfg->background = 6;
    cfg->kind = kind;
    cfg->max_output = 20000;
}

static void generate(const synth_config *cfg, const char *pcap_name, const char *csv_name,
                     char *pcap, char *csv)
{
    char errbuf[SS_ERRBUF_SIZE] = "";
    path_in(pcap, 256, pcap_name);
    path_in(csv, 256, csv_name);
    int rc = synth_generate(cfg, pcap, csv, NULL, errbuf);
    ck_assert_msg(rc == 0, "synth_generate: %s", errbuf);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int same_bytes(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

/* ------------------------------------------------ reading a capture back */

typedef struct side {
    uint32_t ip;
    uint16_t port;
} side;

typedef struct tconn {
    side ep[2];            /* [0] the SYN's sender */
    int syn[2], fin[2];
    uint32_t next_seq[2];  /* expected next sequence number */
    uint64_t data_pkts[2];
    uint64_t pkts;
    int64_t first_us, last_us;
    int64_t synack_us;     /* time of the SYN-ACK */
    uint64_t small_ssh[2]; /* data packets of 36 or 52 bytes */
} tconn;

typedef struct capture {
    tconn *c;
    size_t n;
    uint64_t packets, bad_ip_csum, bad_tcp_csum, out_of_order_time, seq_gaps,
        ack_unsent, no_syn, nonzero_snd;
} capture;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
    for (; n > 1; p += 2, n -= 2)
        s += (uint32_t)p[0] << 8 | p[1];
    if (n)
        s += (uint32_t)p[0] << 8;
    return s;
}

static int folds_to_ok(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s == 0xffff;
}

static tconn *find_conn(capture *cap, uint32_t sip, uint16_t sp, uint32_t dip, uint16_t dp,
                        int *dir)
{
    for (size_t k = 0; k < cap->n; k++) {
        tconn *c = &cap->c[k];
        if (c->ep[0].ip == sip && c->ep[0].port == sp && c->ep[1].ip == dip && c->ep[1].port == dp) {
            *dir = 0;
            return c;
        }
        if (c->ep[1].ip == sip && c->ep[1].port == sp && c->ep[0].ip == dip && c->ep[0].port == dp) {
            *dir = 1;
            return c;
        }
    }
    return NULL;
}

static void read_capture(const char *path, capture *cap)
{
    char err[PCAP_ERRBUF_SIZE];
    memset(cap, 0, sizeof *cap);
    pcap_t *p = pcap_open_offline(path, err);
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_int_eq(pcap_datalink(p), DLT_EN10MB);
    struct pcap_pkthdr *h;
    const u_char *d;
    int64_t prev = 0;
    size_t cap_alloc = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        cap->packets++;
        int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
        if (ts < prev)
            cap->out_of_order_time++;
        prev = ts;
        ck_assert_uint_ge(h->caplen, 54);
        ck_assert_uint_eq(rd16(d + 12), 0x0800);
        const uint8_t *ip = d + 14;
        ck_assert_uint_eq(ip[0], 0x45);
        ck_assert_uint_eq(ip[9], 6);
        uint16_t ip_len = rd16(ip + 2);
        ck_assert_uint_eq(h->len, 14u + ip_len);
        if (!folds_to_ok(sum16(0, ip, 20)))
            cap->bad_ip_csum++;
        const uint8_t *tcp = ip + 20;
        uint32_t thl = (uint32_t)(tcp[12] >> 4) * 4;
        uint32_t plen = ip_len - 20 - thl;
        if (h->caplen == h->len) {
            uint8_t pseudo[12];
            memcpy(pseudo, ip + 12, 8);
            pseudo[8] = 0;
            pseudo[9] = 6;
            pseudo[10] = (uint8_t)((ip_len - 20) >> 8);
            pseudo[11] = (uint8_t)(ip_len - 20);
            if (!folds_to_ok(sum16(sum16(0, pseudo, 12), tcp, ip_len - 20u)))
                cap->bad_tcp_csum++;
        }
        uint32_t sip = rd32(ip + 12), dip = rd32(ip + 16);
        uint16_t sp = rd16(tcp), dp = rd16(tcp + 2);
        uint32_t seq = rd32(tcp + 4), ack = rd32(tcp + 8);
        uint8_t fl = tcp[13];
        int dir;
        tconn *c = find_conn(cap, sip, sp, dip, dp, &dir);
        if (!c) {
            if (!(fl & 0x02) || (fl & 0x10)) { /* must start with a bare SYN */
                cap->no_syn++;
                continue;
            }
            if (cap->n == cap_alloc) {
                cap_alloc = cap_alloc ? cap_alloc * 2 : 64;
                cap->c = realloc(cap->c, cap_alloc * sizeof *cap->c);
                ck_assert_ptr_nonnull(cap->c);
            }
            c = &cap->c[cap->n++];
            memset(c, 0, sizeof *c);
            c->ep[0] = (side){sip, sp};
            c->ep[1] = (side){dip, dp};
            c->first_us = ts;
            dir = 0;
        }
        c->pkts++;
        c->last_us = ts;
        if (fl & 0x02) {
            if (dir == 1)
                c->synack_us = ts;
            c->syn[dir] = 1;
            c->next_seq[dir] = seq + 1;
        } else {
            if (!c->syn[dir]) {
                cap->no_syn++;
                continue;
            }
            if (seq != c->next_seq[dir])
                cap->seq_gaps++;
            c->next_seq[dir] = seq + plen + ((fl & 0x01) ? 1 : 0);
            if (fl & 0x01)
                c->fin[dir] = 1;
        }
        if (fl & 0x10) { /* never ACK what the other side has not sent */
            if (!c->syn[!dir] || (int32_t)(ack - c->next_seq[!dir]) > 0)
                cap->ack_unsent++;
        }
        if (plen > 0) {
            c->data_pkts[dir]++;
            if (plen == 36 || plen == 52)
                c->small_ssh[dir]++;
        }
    }
    ck_assert_int_eq(rc, PCAP_ERROR_BREAK);
    pcap_close(p);
}

static tconn *conn_of(capture *cap, const labels_endpoint *s, const labels_endpoint *d)
{
    int dir;
    uint32_t sip = rd32(s->addr), dip = rd32(d->addr);
    tconn *c = find_conn(cap, sip, s->port, dip, d->port, &dir);
    if (c)
        ck_assert_int_eq(dir, 0); /* the labelled source opened it */
    return c;
}

/* ------------------------------------------------------------ the tests */

START_TEST(test_same_seed_same_bytes)
{
    synth_config cfg;
    char p1[256], c1[256], p2[256], c2[256], p3[256], c3[256];
    small_config(&cfg, 42, SYNTH_KIND_MIX);
    cfg.chaff = 0.5;
    cfg.jitter_s = 0.02;
    generate(&cfg, "a.pcap", "a.csv", p1, c1);
    generate(&cfg, "b.pcap", "b.csv", p2, c2);
    ck_assert(same_bytes(p1, p2));
    ck_assert(same_bytes(c1, c2));
    cfg.seed = 43;
    generate(&cfg, "c.pcap", "c.csv", p3, c3);
    ck_assert(!same_bytes(p1, p3));
    ck_assert(!same_bytes(c1, c3));
}
END_TEST

static void check_capture_and_labels(int kind, double chaff, uint64_t seed)
{
    synth_config cfg;
    char pcap[256], csv[256], errbuf[SS_ERRBUF_SIZE];
    small_config(&cfg, seed, kind);
    cfg.chaff = chaff;
    generate(&cfg, "t.pcap", "t.csv", pcap, csv);
    capture cap;
    read_capture(pcap, &cap);
    ck_assert_uint_gt(cap.packets, 1000);
    ck_assert_uint_eq(cap.bad_ip_csum, 0);
    ck_assert_uint_eq(cap.bad_tcp_csum, 0);
    ck_assert_uint_eq(cap.out_of_order_time, 0);
    ck_assert_uint_eq(cap.no_syn, 0);
    ck_assert_uint_eq(cap.seq_gaps, 0);
    ck_assert_uint_eq(cap.ack_unsent, 0);
    for (size_t k = 0; k < cap.n; k++) { /* every connection closed both ways */
        ck_assert(cap.c[k].syn[0] && cap.c[k].syn[1]);
        ck_assert(cap.c[k].fin[0] && cap.c[k].fin[1]);
    }
    labels lab;
    labels_init(&lab);
    ck_assert_msg(labels_read(&lab, csv, errbuf) == 0, "%s", errbuf);
    ck_assert_uint_ge(lab.n, cfg.chains * (cfg.hops_min - 1));
    ck_assert_uint_le(lab.n, cfg.chains * (cfg.hops_max - 1));
    uint64_t small = 0, data = 0;
    for (size_t k = 0; k < lab.n; k++) {
        const labels_hop *h = &lab.hops[k];
        tconn *in = conn_of(&cap, &h->in_src, &h->in_dst);
        tconn *out = conn_of(&cap, &h->out_src, &h->out_dst);
        ck_assert_msg(in && out, "labelled hop %zu is not in the capture", k + 1);
        ck_assert_uint_gt(in->data_pkts[0], 0);
        ck_assert_uint_gt(in->data_pkts[1], 0);
        ck_assert_uint_gt(out->data_pkts[0], 0);
        ck_assert_uint_gt(out->data_pkts[1], 0);
        /* the relay is the one host on both legs, and times match the legs */
        ck_assert(!memcmp(h->in_dst.addr, h->relay_addr, 4));
        ck_assert(!memcmp(h->out_src.addr, h->relay_addr, 4));
        int64_t first = in->first_us < out->first_us ? in->first_us : out->first_us;
        int64_t last = in->last_us > out->last_us ? in->last_us : out->last_us;
        ck_assert_int_eq(h->start_us, first);
        ck_assert_int_eq(h->end_us, last);
        ck_assert(out->first_us >= in->first_us);
        ck_assert_int_eq(labels_conn_role(&lab, 4, h->in_src.addr, h->in_src.port,
                                          h->in_dst.addr, h->in_dst.port) & LABELS_ROLE_IN,
                         LABELS_ROLE_IN);
        if (kind == SYNTH_KIND_SSH) {
            ck_assert_str_eq(h->kind, "ssh");
            small += in->small_ssh[0] + out->small_ssh[0];
            data += in->data_pkts[0] + out->data_pkts[0];
        } else if (kind == SYNTH_KIND_PLAIN) {
            ck_assert(!strcmp(h->kind, "socat") || !strcmp(h->kind, "nc"));
        }
    }
    if (kind == SYNTH_KIND_SSH) /* keystrokes dominate upstream: 36 or 52 bytes */
        ck_assert_msg(small * 2 > data, "%llu of %llu upstream packets keystroke-sized",
                      (unsigned long long)small, (unsigned long long)data);
    /* negatives exist: connections that are no leg */
    size_t negatives = 0;
    for (size_t k = 0; k < cap.n; k++) {
        uint8_t a[4], b[4];
        for (int q = 0; q < 4; q++) {
            a[q] = (uint8_t)(cap.c[k].ep[0].ip >> (24 - 8 * q));
            b[q] = (uint8_t)(cap.c[k].ep[1].ip >> (24 - 8 * q));
        }
        if (labels_conn_role(&lab, 4, a, cap.c[k].ep[0].port, b, cap.c[k].ep[1].port) ==
            LABELS_ROLE_NONE)
            negatives++;
    }
    ck_assert_uint_ge(negatives, cfg.background);
    labels_free(&lab);
    free(cap.c);
}

START_TEST(test_capture_valid_ssh)
{
    check_capture_and_labels(SYNTH_KIND_SSH, 0, 5);
}
END_TEST

START_TEST(test_capture_valid_plain_chaff)
{
    check_capture_and_labels(SYNTH_KIND_PLAIN, 1.5, 6);
}
END_TEST

START_TEST(test_capture_valid_mix_chaff)
{
    check_capture_and_labels(SYNTH_KIND_MIX, 0.3, 7);
}
END_TEST

/* Data packets on the labelled legs of a capture. */
static uint64_t leg_data_packets(const char *pcap, const char *csv)
{
    char errbuf[SS_ERRBUF_SIZE];
    capture cap;
    read_capture(pcap, &cap);
    labels lab;
    labels_init(&lab);
    ck_assert_msg(labels_read(&lab, csv, errbuf) == 0, "%s", errbuf);
    uint64_t n = 0;
    for (size_t k = 0; k < cap.n; k++) {
        uint8_t a[4], b[4];
        for (int q = 0; q < 4; q++) {
            a[q] = (uint8_t)(cap.c[k].ep[0].ip >> (24 - 8 * q));
            b[q] = (uint8_t)(cap.c[k].ep[1].ip >> (24 - 8 * q));
        }
        if (labels_conn_role(&lab, 4, a, cap.c[k].ep[0].port, b, cap.c[k].ep[1].port))
            n += cap.c[k].data_pkts[0] + cap.c[k].data_pkts[1];
    }
    labels_free(&lab);
    free(cap.c);
    return n;
}

START_TEST(test_chaff_adds_packets)
{
    synth_config cfg;
    char p1[256], c1[256], p2[256], c2[256];
    small_config(&cfg, 9, SYNTH_KIND_SSH);
    generate(&cfg, "n.pcap", "n.csv", p1, c1);
    cfg.chaff = 1.0;
    generate(&cfg, "y.pcap", "y.csv", p2, c2);
    /* chaff has its own RNG and leaves the real packets alone: same labels */
    ck_assert(same_bytes(c1, c2));
    uint64_t da = leg_data_packets(p1, c1), db = leg_data_packets(p2, c2);
    /* ratio 1: about as many chaff as real data packets on the legs (chaff
     * that would cross a leg's teardown is not sent) */
    ck_assert_msg(db > da * 18 / 10 && db < da * 21 / 10, "data packets %llu -> %llu",
                  (unsigned long long)da, (unsigned long long)db);
}
END_TEST

START_TEST(test_labels_round_trip)
{
    labels a, b;
    labels_init(&a);
    labels_init(&b);
    labels_hop h;
    memset(&h, 0, sizeof h);
    h.chain_id = 4294967295u;
    strcpy(h.kind, "socat");
    h.relay_family = 6;
    h.relay_addr[0] = 0x20;
    h.relay_addr[1] = 0x01;
    h.relay_addr[15] = 9;
    h.in_src = (labels_endpoint){6, {0x20, 0x01, [15] = 1}, 1};
    h.in_dst = (labels_endpoint){6, {0x20, 0x01, [15] = 9}, 65535};
    h.out_src = (labels_endpoint){4, {198, 18, 0, 9}, 40000};
    h.out_dst = (labels_endpoint){4, {198, 19, 255, 254}, 22};
    h.start_us = 1700000000000001LL;
    h.end_us = 1700000123456789LL;
    char errbuf[SS_ERRBUF_SIZE], path[256], path2[256];
    ck_assert_int_eq(labels_append(&a, &h, errbuf), 0);
    h.chain_id = 0;
    strcpy(h.kind, "ssh");
    h.start_us = 0;
    h.end_us = 0;
    ck_assert_int_eq(labels_append(&a, &h, errbuf), 0);
    path_in(path, sizeof path, "l.csv");
    path_in(path2, sizeof path2, "l2.csv");
    ck_assert_int_eq(labels_write(&a, path, errbuf), 0);
    ck_assert_msg(labels_read(&b, path, errbuf) == 0, "%s", errbuf);
    ck_assert_uint_eq(b.n, 2);
    for (size_t k = 0; k < 2; k++) {
        const labels_hop *x = &a.hops[k], *y = &b.hops[k];
        ck_assert_uint_eq(x->chain_id, y->chain_id);
        ck_assert_str_eq(x->kind, y->kind);
        ck_assert_int_eq(x->relay_family, y->relay_family);
        ck_assert(!memcmp(x->relay_addr, y->relay_addr, 16));
        ck_assert(!memcmp(&x->in_src, &y->in_src, sizeof x->in_src));
        ck_assert(!memcmp(&x->in_dst, &y->in_dst, sizeof x->in_dst));
        ck_assert(!memcmp(&x->out_src, &y->out_src, sizeof x->out_src));
        ck_assert(!memcmp(&x->out_dst, &y->out_dst, sizeof x->out_dst));
        ck_assert_int_eq(x->start_us, y->start_us);
        ck_assert_int_eq(x->end_us, y->end_us);
    }
    ck_assert_int_eq(labels_write(&b, path2, errbuf), 0);
    ck_assert(same_bytes(path, path2));
    labels_free(&a);
    labels_free(&b);
    labels_free(NULL);
}
END_TEST

START_TEST(test_generated_labels_round_trip)
{
    synth_config cfg;
    char pcap[256], csv[256], csv2[256], errbuf[SS_ERRBUF_SIZE];
    small_config(&cfg, 11, SYNTH_KIND_MIX);
    generate(&cfg, "g.pcap", "g.csv", pcap, csv);
    labels lab;
    labels_init(&lab);
    ck_assert_msg(labels_read(&lab, csv, errbuf) == 0, "%s", errbuf);
    path_in(csv2, sizeof csv2, "g2.csv");
    ck_assert_int_eq(labels_write(&lab, csv2, errbuf), 0);
    ck_assert(same_bytes(csv, csv2));
    labels_free(&lab);
}
END_TEST

/* Parses text as a labels file; returns the status and the message. */
static int parse_text(const char *text, char *errbuf)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    ck_assert_ptr_nonnull(f);
    labels lab;
    labels_init(&lab);
    int rc = labels_read_stream(&lab, f, "x.csv", errbuf);
    if (rc)
        ck_assert_uint_eq(lab.n, 0);
    labels_free(&lab);
    fclose(f);
    return rc;
}

#define GOOD "1,ssh,198.18.0.2,198.18.0.1,40000,198.18.0.2,22,198.18.0.2,40001,198.18.0.3,22," \
             "1700000000.000001,1700000001.5\n"

START_TEST(test_reader_refuses_malformed)
{
    static const struct {
        const char *text;
        const char *where;
    } bad[] = {
        {"", "x.csv: empty"},
        {"chain,kind\n" GOOD, "x.csv:1:"},
        {LABELS_HEADER "\n" GOOD "1,ssh,198.18.0.2\n", "x.csv:3:"},
        {LABELS_HEADER "\n" GOOD GOOD "\n" GOOD, "x.csv:4: empty line"},
        {LABELS_HEADER "\n" GOOD GOOD "1,ssh,198.18.0.2,198.18.0.1,40000,198.18.0.2,22,"
                                      "198.18.0.2,40001,198.18.0.3,22,1,2,3\n", "x.csv:4: more"},
        {LABELS_HEADER "\n1,ssh,198.18.0.256,198.18.0.1,40000,198.18.0.2,22,198.18.0.2,40001,"
                       "198.18.0.3,22,1,2\n", "x.csv:2: bad relay_host_ip"},
        {LABELS_HEADER "\n1,ssh,198.18.0.2,198.18.0.1,70000,198.18.0.2,22,198.18.0.2,40001,"
                       "198.18.0.3,22,1,2\n", "x.csv:2: bad in_src_port"},
        {LABELS_HEADER "\n1,ssh,198.18.0.2,198.18.0.1,1,198.18.0.2,22,198.18.0.2,40001,"
                       "198.18.0.3,-22,1,2\n", "x.csv:2: bad out_dst_port"},
        {LABELS_HEADER "\n1,ssh,198.18.0.2,198.18.0.1,1,198.18.0.2,22,198.18.0.2,40001,"
                       "198.18.0.3,22,1.1234567,2\n", "x.csv:2: bad start_time"},
        {LABELS_HEADER "\n1,ssh,198.18.0.2,198.18.0.1,1,198.18.0.2,22,198.18.0.2,40001,"
                       "198.18.0.3,22,5,2.5\n", "x.csv:2: end_time before"},
        {LABELS_HEADER "\n-1,ssh,198.18.0.2,198.18.0.1,1,198.18.0.2,22,198.18.0.2,40001,"
                       "198.18.0.3,22,1,2\n", "x.csv:2: bad chain_id"},
        {LABELS_HEADER "\n1,,198.18.0.2,198.18.0.1,1,198.18.0.2,22,198.18.0.2,40001,"
                       "198.18.0.3,22,1,2\n", "x.csv:2: bad kind"},
        {LABELS_HEADER "\n1,ssh,198.18.0.2,198.18.0.1,1,198.18.0.2,22,198.18.0.2,40001,"
                       "198.18.0.3,22,1e3,2\n", "x.csv:2: bad start_time"},
    };
    char errbuf[SS_ERRBUF_SIZE];
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        errbuf[0] = '\0';
        int rc = parse_text(bad[k].text, errbuf);
        ck_assert_msg(rc < 0, "case %zu accepted", k);
        ck_assert_msg(strstr(errbuf, bad[k].where) != NULL, "case %zu: '%s' lacks '%s'", k,
                      errbuf, bad[k].where);
    }
    /* and the good rows (CRLF too) are accepted */
    ck_assert_int_eq(parse_text(LABELS_HEADER "\r\n" GOOD GOOD, errbuf), 0);
    labels lab;
    labels_init(&lab);
    ck_assert_int_eq(labels_read(&lab, "/nonexistent/labels.csv", errbuf), SS_ERR_IO);
    ck_assert(strstr(errbuf, "/nonexistent/labels.csv") != NULL);
}
END_TEST

START_TEST(test_config_refuses_absurd)
{
    synth_config cfg;
    char errbuf[SS_ERRBUF_SIZE];
    synth_config_default(&cfg);
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), 0);
    cfg.hops_min = cfg.hops_max = 1;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    ck_assert(strstr(errbuf, "2 hops") != NULL);
    cfg.hops_min = 0;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    synth_config_default(&cfg);
    cfg.hops_min = 4;
    cfg.hops_max = 3;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    cfg.hops_min = 2;
    cfg.hops_max = SYNTH_MAX_HOPS + 1;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    synth_config_default(&cfg);
    cfg.chaff = -0.5;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    synth_config_default(&cfg);
    cfg.jitter_s = -1;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    synth_config_default(&cfg);
    cfg.duration_s = 0;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    synth_config_default(&cfg);
    cfg.kind = 7;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    ck_assert_int_eq(synth_kind_from_string("ssh"), SYNTH_KIND_SSH);
    ck_assert_int_eq(synth_kind_from_string("mix"), SYNTH_KIND_MIX);
    ck_assert_int_eq(synth_kind_from_string("telnet"), -1);
    /* and synth_generate refuses it too, leaving no file */
    char pcap[256], csv[256];
    path_in(pcap, sizeof pcap, "r.pcap");
    path_in(csv, sizeof csv, "r.csv");
    synth_config_default(&cfg);
    cfg.hops_min = 1;
    ck_assert_int_eq(synth_generate(&cfg, pcap, csv, NULL, errbuf), SS_ERR_ARG);
    ck_assert_int_ne(access(pcap, F_OK), 0);
    ck_assert_int_ne(access(csv, F_OK), 0);
}
END_TEST

START_TEST(test_unwritable_output)
{
    synth_config cfg;
    char errbuf[SS_ERRBUF_SIZE], csv[256];
    small_config(&cfg, 1, SYNTH_KIND_SSH);
    path_in(csv, sizeof csv, "u.csv");
    ck_assert_int_eq(synth_generate(&cfg, "/nonexistent/dir/x.pcap", csv, NULL, errbuf),
                     SS_ERR_IO);
    ck_assert(strstr(errbuf, "/nonexistent/dir/x.pcap") != NULL);
    ck_assert_int_ne(access(csv, F_OK), 0);
}
END_TEST

/* ------------------------------------- short relays, busy hosts, decoys, WAN */

/* FNV-1a 64 of a file's bytes. */
static uint64_t file_fnv(const char *path)
{
    size_t n;
    unsigned char *b = slurp(path, &n);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t k = 0; k < n; k++)
        h = (h ^ b[k]) * 0x100000001b3ULL;
    free(b);
    return h;
}

/* The options that existed before --short/--busy/--decoys/--wan give the same
 * bytes as then: hashes of outputs of the generator before those options. */
START_TEST(test_old_options_same_bytes)
{
    synth_config cfg;
    char pcap[256], csv[256];
    small_config(&cfg, 42, SYNTH_KIND_MIX);
    cfg.chaff = 0.5;
    cfg.jitter_s = 0.02;
    generate(&cfg, "o1.pcap", "o1.csv", pcap, csv);
    ck_assert_uint_eq(file_fnv(pcap), 0x8d1c81c4da6ae0d1ULL);
    ck_assert_uint_eq(file_fnv(csv), 0x5b1200a3842310e1ULL);
    small_config(&cfg, 5, SYNTH_KIND_SSH);
    cfg.delay_s = 0.05;
    generate(&cfg, "o2.pcap", "o2.csv", pcap, csv);
    ck_assert_uint_eq(file_fnv(pcap), 0xe660a5b9c9fba11dULL);
    ck_assert_uint_eq(file_fnv(csv), 0x9d36b6b3dc4bd305ULL);
}
END_TEST

/* A config with every new option on. */
static void hard_config(synth_config *cfg, uint64_t seed)
{
    small_config(cfg, seed, SYNTH_KIND_MIX);
    cfg->duration_s = 60;
    cfg->short_chains = 4;
    cfg->busy = 4;
    cfg->decoys = 3;
    cfg->wan_s = 0.15;
}

START_TEST(test_new_options_deterministic)
{
    synth_config cfg;
    char p1[256], c1[256], p2[256], c2[256], p3[256], c3[256];
    hard_config(&cfg, 21);
    generate(&cfg, "a.pcap", "a.csv", p1, c1);
    generate(&cfg, "b.pcap", "b.csv", p2, c2);
    ck_assert(same_bytes(p1, p2));
    ck_assert(same_bytes(c1, c2));
    cfg.seed = 22;
    generate(&cfg, "c.pcap", "c.csv", p3, c3);
    ck_assert(!same_bytes(p1, p3));
    /* and the capture is as valid as any other */
    capture cap;
    read_capture(p1, &cap);
    ck_assert_uint_eq(cap.bad_ip_csum + cap.bad_tcp_csum + cap.out_of_order_time, 0);
    ck_assert_uint_eq(cap.no_syn + cap.seq_gaps + cap.ack_unsent, 0);
    for (size_t k = 0; k < cap.n; k++)
        ck_assert(cap.c[k].fin[0] && cap.c[k].fin[1]);
    free(cap.c);
}
END_TEST

static int64_t dur_of(const tconn *c)
{
    return c->last_us - c->first_us;
}

/* Every hop of 2-leg short chains has an outbound leg of 1-8 s, either inside
 * a 20-60 s inbound login (`ssh C` on the relay) or beside an inbound leg as
 * short that starts with it (-J, socat/nc one-shots); all kinds occur. */
static void check_short_legs(uint64_t seed, double wan_s)
{
    synth_config cfg;
    char pcap[256], csv[256], errbuf[SS_ERRBUF_SIZE];
    small_config(&cfg, seed, SYNTH_KIND_MIX);
    cfg.duration_s = 120;
    cfg.chains = 0;
    cfg.background = 0;
    cfg.hops_min = cfg.hops_max = 2;
    cfg.short_chains = 16;
    cfg.wan_s = wan_s;
    generate(&cfg, "s.pcap", "s.csv", pcap, csv);
    capture cap;
    read_capture(pcap, &cap);
    labels lab;
    labels_init(&lab);
    ck_assert_msg(labels_read(&lab, csv, errbuf) == 0, "%s", errbuf);
    ck_assert_uint_eq(lab.n, 16);
    int inner = 0, oneshot = 0, jump = 0, fwd = 0;
    for (size_t k = 0; k < lab.n; k++) {
        const labels_hop *h = &lab.hops[k];
        tconn *in = conn_of(&cap, &h->in_src, &h->in_dst);
        tconn *out = conn_of(&cap, &h->out_src, &h->out_dst);
        ck_assert(in && out);
        ck_assert_msg(dur_of(out) >= 1000000 && dur_of(out) <= 8000000,
                      "hop %zu (%s): outbound leg lasts %lld us", k + 1, h->kind,
                      (long long)dur_of(out));
        ck_assert_uint_gt(out->data_pkts[0], 0);
        ck_assert_uint_gt(out->data_pkts[1], 0);
        if (dur_of(in) >= 20000000) {
            ck_assert_int_le(dur_of(in), 60000000);
            ck_assert_int_gt(out->first_us, in->first_us);
            ck_assert_int_lt(out->last_us, in->last_us);
            ck_assert_str_eq(h->kind, "ssh");
            inner++;
        } else {
            ck_assert_msg(dur_of(in) <= 10000000, "hop %zu: inbound %lld us", k + 1,
                          (long long)dur_of(in));
            ck_assert_int_lt(out->first_us - in->first_us, 3000000);
            oneshot++;
            jump += !strcmp(h->kind, "ssh-jump");
            fwd += !strcmp(h->kind, "socat") || !strcmp(h->kind, "nc");
        }
    }
    ck_assert_int_gt(inner, 0);
    ck_assert_int_gt(jump, 0);
    ck_assert_int_gt(fwd, 0);
    ck_assert_int_eq(inner + oneshot, 16);
    labels_free(&lab);
    free(cap.c);
}

START_TEST(test_short_legs_in_range)
{
    check_short_legs(1, 0);
    check_short_legs(2, 0);
    check_short_legs(3, 0.15);
}
END_TEST

static void addr_of(uint8_t out[4], uint32_t ip)
{
    for (int q = 0; q < 4; q++)
        out[q] = (uint8_t)(ip >> (24 - 8 * q));
}

static int conn_labelled(const labels *lab, const tconn *c)
{
    uint8_t a[4], b[4];
    addr_of(a, c->ep[0].ip);
    addr_of(b, c->ep[1].ip);
    return labels_conn_role(lab, 4, a, c->ep[0].port, b, c->ep[1].port) != LABELS_ROLE_NONE;
}

static int is_relay(const labels *lab, uint32_t ip)
{
    uint8_t a[4];
    addr_of(a, ip);
    for (size_t k = 0; k < lab->n; k++)
        if (!memcmp(lab->hops[k].relay_addr, a, 4))
            return 1;
    return 0;
}

/* Decoys: the only unlabelled connections opened by relay hosts; each is
 * short and starts 0.5-4 s after an unlabelled login into the same host. */
START_TEST(test_decoys_unlabelled_after_login)
{
    synth_config cfg;
    char pcap[256], csv[256], errbuf[SS_ERRBUF_SIZE];
    small_config(&cfg, 31, SYNTH_KIND_SSH);
    cfg.duration_s = 90;
    cfg.chains = 12; /* 12 relays, one decoy each (decoys go to the relays in turn) */
    cfg.hops_min = cfg.hops_max = 2;
    cfg.background = 0;
    cfg.decoys = 12;
    generate(&cfg, "d.pcap", "d.csv", pcap, csv);
    capture cap;
    read_capture(pcap, &cap);
    labels lab;
    labels_init(&lab);
    ck_assert_msg(labels_read(&lab, csv, errbuf) == 0, "%s", errbuf);
    ck_assert_uint_eq(lab.n, 12); /* the decoys add no labels */
    int decoys = 0;
    for (size_t k = 0; k < cap.n; k++) {
        const tconn *d = &cap.c[k];
        if (conn_labelled(&lab, d) || !is_relay(&lab, d->ep[0].ip))
            continue;
        decoys++;
        ck_assert_int_le(dur_of(d), 8000000);
        /* the latest unlabelled login into that host before the decoy */
        int64_t gap = -1;
        for (size_t j = 0; j < cap.n; j++) {
            const tconn *in = &cap.c[j];
            int64_t g = d->first_us - in->first_us;
            if (in->ep[1].ip == d->ep[0].ip && !conn_labelled(&lab, in) && g >= 0 &&
                (gap < 0 || g < gap))
                gap = g;
        }
        ck_assert_msg(gap >= 500000 && gap <= 4000000, "decoy %zu: %lld us after a login", k,
                      (long long)gap);
    }
    ck_assert_int_eq(decoys, 12);
    labels_free(&lab);
    free(cap.c);
}
END_TEST

/* --busy N: at any time of the run the busy relay has at least N unrelated
 * connections open, some in, some out. */
START_TEST(test_busy_host_concurrency)
{
    synth_config cfg;
    char pcap[256], csv[256], errbuf[SS_ERRBUF_SIZE];
    small_config(&cfg, 41, SYNTH_KIND_SSH);
    cfg.duration_s = 120;
    cfg.chains = 1;
    cfg.hops_min = cfg.hops_max = 2;
    cfg.background = 0;
    cfg.busy = 14;
    generate(&cfg, "b.pcap", "b.csv", pcap, csv);
    capture cap;
    read_capture(pcap, &cap);
    labels lab;
    labels_init(&lab);
    ck_assert_msg(labels_read(&lab, csv, errbuf) == 0, "%s", errbuf);
    ck_assert_uint_eq(lab.n, 1);
    uint32_t relay = rd32(lab.hops[0].relay_addr);
    int64_t t0 = cfg.start_us;
    for (int pct = 5; pct <= 95; pct += 10) {
        int64_t t = t0 + (int64_t)(cfg.duration_s * 1e6 * pct / 100);
        int in = 0, out = 0;
        for (size_t k = 0; k < cap.n; k++) {
            const tconn *c = &cap.c[k];
            if (conn_labelled(&lab, c) || c->first_us > t || c->last_us < t)
                continue;
            in += c->ep[1].ip == relay;
            out += c->ep[0].ip == relay;
        }
        ck_assert_msg(in + out >= 14, "at %d%%: %d in + %d out", pct, in, out);
        ck_assert_int_ge(in, 5);
        ck_assert_int_ge(out, 5);
    }
    labels_free(&lab);
    free(cap.c);
}
END_TEST

/* Median SYN to SYN-ACK gap of a capture, us. */
static int64_t median_synack(const capture *cap, int64_t *max)
{
    int64_t *g = calloc(cap->n, sizeof *g);
    ck_assert_ptr_nonnull(g);
    *max = 0;
    for (size_t k = 0; k < cap->n; k++) {
        g[k] = cap->c[k].synack_us - cap->c[k].first_us;
        if (g[k] > *max)
            *max = g[k];
    }
    for (size_t k = 1; k < cap->n; k++) /* insertion sort: a few hundred */
        for (size_t j = k; j > 0 && g[j] < g[j - 1]; j--) {
            int64_t x = g[j];
            g[j] = g[j - 1];
            g[j - 1] = x;
        }
    int64_t m = g[cap->n / 2];
    free(g);
    return m;
}

/* --wan 0.15: connections' one-way delays are the halves of two hosts'
 * 1-150 ms delays plus the LAN part: SYN-ACKs come tens of ms after SYNs. */
START_TEST(test_wan_delays)
{
    synth_config cfg;
    char pcap[256], csv[256];
    small_config(&cfg, 51, SYNTH_KIND_SSH);
    cfg.background = 20;
    generate(&cfg, "l.pcap", "l.csv", pcap, csv);
    capture cap;
    int64_t max;
    read_capture(pcap, &cap);
    int64_t lan = median_synack(&cap, &max);
    free(cap.c);
    cfg.wan_s = 0.15;
    generate(&cfg, "w.pcap", "w.csv", pcap, csv);
    read_capture(pcap, &cap);
    int64_t wan = median_synack(&cap, &max);
    free(cap.c);
    ck_assert_msg(lan < 15000, "LAN median SYN-ACK gap %lld us", (long long)lan);
    ck_assert_msg(wan > 40000 && wan < 150000, "WAN median SYN-ACK gap %lld us", (long long)wan);
    /* at most 150 ms of access delay on the path, plus the LAN part */
    ck_assert_msg(max < 150000 + 200000, "WAN max SYN-ACK gap %lld us", (long long)max);
}
END_TEST

START_TEST(test_config_refuses_bad_new_options)
{
    synth_config cfg;
    char errbuf[SS_ERRBUF_SIZE];
    synth_config_default(&cfg);
    cfg.wan_s = 0.001;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    cfg.wan_s = 2;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    synth_config_default(&cfg);
    cfg.busy = 4;
    cfg.busy_hosts = SYNTH_MAX_BUSY_HOSTS + 1;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    synth_config_default(&cfg);
    cfg.short_chains = 10001;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    synth_config_default(&cfg);
    cfg.chains = cfg.background = 0;
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), SS_ERR_ARG);
    cfg.decoys = 1; /* decoys alone are something to generate */
    ck_assert_int_eq(synth_config_check(&cfg, errbuf), 0);
}
END_TEST

Suite *synth_suite(void)
{
    Suite *s = suite_create("synth");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_same_seed_same_bytes);
    tcase_add_test(tc, test_capture_valid_ssh);
    tcase_add_test(tc, test_capture_valid_plain_chaff);
    tcase_add_test(tc, test_capture_valid_mix_chaff);
    tcase_add_test(tc, test_chaff_adds_packets);
    tcase_add_test(tc, test_labels_round_trip);
    tcase_add_test(tc, test_generated_labels_round_trip);
    tcase_add_test(tc, test_reader_refuses_malformed);
    tcase_add_test(tc, test_config_refuses_absurd);
    tcase_add_test(tc, test_unwritable_output);
    tcase_add_test(tc, test_old_options_same_bytes);
    tcase_add_test(tc, test_new_options_deterministic);
    tcase_add_test(tc, test_short_legs_in_range);
    tcase_add_test(tc, test_decoys_unlabelled_after_login);
    tcase_add_test(tc, test_busy_host_concurrency);
    tcase_add_test(tc, test_wan_delays);
    tcase_add_test(tc, test_config_refuses_bad_new_options);
    suite_add_tcase(s, tc);
    return s;
}

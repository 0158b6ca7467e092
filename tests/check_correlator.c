/* check_correlator.c - tests for correlate/correlator.c: the streaming
 * correlator gives the batch path's candidates and scores, keeps memory
 * bounded by the connections open at a time, and sees past the first
 * packets of long connections. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidates.h"
#include "connset.h"
#include "conntab.h"
#include "correlator.h"
#include "encoder.h"
#include "lstm_method.h"
#include "packet.h"
#include "testpkt.h"
#include "status.h"

/* One scored pair, by conntab serials. */
typedef struct spair {
    uint64_t in, out;
    double score;
} spair;

typedef struct collect {
    spair *p;
    size_t n, cap;
} collect;

static int collect_emit(void *ctx, const correlator_group *g, char *errbuf)
{
    (void)errbuf;
    collect *col = ctx;
    for (size_t i = 0; i < g->n; i++) {
        if (col->n == col->cap) {
            col->cap = col->cap ? col->cap * 2 : 256;
            col->p = realloc(col->p, col->cap * sizeof(*col->p));
            ck_assert_ptr_nonnull(col->p);
        }
        col->p[col->n++] = (spair){g->in[i]->serial, g->out->serial, g->score[i]};
    }
    return SS_OK;
}

static int spair_cmp(const void *pa, const void *pb)
{
    const spair *a = pa, *b = pb;
    if (a->out != b->out)
        return a->out < b->out ? -1 : 1;
    return (a->in > b->in) - (a->in < b->in);
}

static encoder *load_default(void)
{
    encoder *enc = NULL;
    char err[SS_ERRBUF_SIZE];
    ck_assert_msg(encoder_open(&enc, NULL, err) == 0, "%s", err);
    return enc;
}

/* Scores the capture both ways and checks they agree pair for pair. */
static void compare_capture(const char *name)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof(path), "%s/datasets/samples/%s", top ? top : ".", name);
    const char *paths[1] = {path};
    char err[SS_ERRBUF_SIZE];
    encoder *enc = load_default();

    connset_config cc;
    connset_config_default(&cc);
    cc.tcp_only = 1;
    connset *set = NULL;
    ck_assert_msg(connset_load(&set, paths, 1, &cc, err) == 0, "%s (set top_srcdir)", err);
    candidates_pair *pairs = NULL;
    size_t np = 0;
    ck_assert_int_eq(candidates_find(&pairs, &np, set, NULL, err), 0);
    double *scores = malloc(sizeof(double) * (np ? np : 1));
    ck_assert_ptr_nonnull(scores);
    ck_assert_int_eq(lstm_method_score_pairs(enc, set, pairs, np, scores, err), 0);
    spair *batch = malloc(sizeof(spair) * (np ? np : 1));
    ck_assert_ptr_nonnull(batch);
    for (size_t i = 0; i < np; i++)
        batch[i] = (spair){connset_get(set, pairs[i].in)->serial,
                           connset_get(set, pairs[i].out)->serial, scores[i]};
    qsort(batch, np, sizeof(*batch), spair_cmp);

    collect col = {0};
    correlator *c = NULL;
    ck_assert_int_eq(correlator_create(&c, enc, NULL, collect_emit, &col, err), 0);
    ck_assert_msg(correlator_read_files(c, paths, 1, NULL, NULL, NULL, err) == 0, "%s", err);
    correlator_stats st;
    correlator_get_stats(c, &st);
    qsort(col.p, col.n, sizeof(*col.p), spair_cmp);

    ck_assert_uint_gt(np, 0);
    ck_assert_uint_eq(col.n, np);
    double worst = 0;
    for (size_t i = 0; i < np; i++) {
        ck_assert_uint_eq(col.p[i].in, batch[i].in);
        ck_assert_uint_eq(col.p[i].out, batch[i].out);
        double d = fabs(col.p[i].score - batch[i].score);
        if (d > worst)
            worst = d;
    }
    printf("correlator %s: %zu pairs, %llu windows, largest score difference %.2e, "
           "peak %llu states of %llu connections\n",
           name, np, (unsigned long long)st.windows, worst, (unsigned long long)st.peak_live,
           (unsigned long long)st.conns);
    ck_assert_double_le(worst, 1e-5);
    ck_assert_uint_eq(st.live, 0);

    correlator_destroy(c);
    free(col.p);
    free(batch);
    free(scores);
    candidates_free(pairs);
    connset_free(set);
    encoder_destroy(enc);
}

START_TEST(test_same_as_batch_synth)
{
    compare_capture("synth-small.pcap");
    compare_capture("synth-chaff.pcap");
}
END_TEST

START_TEST(test_same_as_batch_netns)
{
    compare_capture("netns-small.pcap");
    compare_capture("netns-full.pcap");
}
END_TEST

/* ---- synthetic packet feed ---------------------------------------------- */

typedef struct feed {
    conntab *tab;
    correlator *c;
    collect col;
} feed;

static int feed_end(void *ctx, const conntab_record *rec, char *errbuf)
{
    return correlator_conn_end(((feed *)ctx)->c, rec, errbuf);
}

static void feed_open(feed *f, encoder *enc)
{
    char err[SS_ERRBUF_SIZE];
    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(correlator_create(&f->c, enc, NULL, collect_emit, &f->col, err), 0);
    conntab_config tc;
    conntab_config_default(&tc);
    tc.max_pkts = 0;
    tc.watch = correlator_watch;
    tc.watch_ctx = f->c;
    ck_assert_int_eq(conntab_create(&f->tab, &tc, feed_end, f, err), 0);
}

static void feed_close(feed *f)
{
    char err[SS_ERRBUF_SIZE];
    ck_assert_msg(conntab_flush(f->tab, err) == 0, "%s", err);
    ck_assert_msg(correlator_finish(f->c, err) == 0, "%s", err);
}

static void feed_free(feed *f)
{
    conntab_destroy(f->tab);
    correlator_destroy(f->c);
    free(f->col.p);
}

static void pkt(feed *f, int64_t t, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp,
                uint8_t flags, uint32_t len, uint32_t seq)
{
    testpkt_add(f->tab, t, src, sp, dst, dp, flags, len, seq);
}

/* Memory follows the open connections: 3000 relay hops one after the other
 * (each a 20 s interactive session through one relay) never hold more than
 * a handful of connection states or window vectors at once. */
START_TEST(test_bounded_by_live)
{
    encoder *enc = load_default();
    feed f;
    feed_open(&f, enc);
    const uint32_t A = 0x010012c6, B = 0x020012c6, C = 0x030012c6; /* 198.18.0.x */
    int64_t t = 1700000000000000LL;
    const int hops = 3000;
    for (int h = 0; h < hops; h++) {
        uint16_t p1 = (uint16_t)(20000 + h % 30000), p2 = (uint16_t)(40000 + h % 20000);
        uint32_t s1 = 1000, s2 = 5000;
        pkt(&f, t, A, p1, B, 22, PACKET_TCP_SYN, 0, 999);
        pkt(&f, t + 300, B, 22, A, p1, PACKET_TCP_SYN | PACKET_TCP_ACK, 0, 0);
        pkt(&f, t + 100000, B, p2, C, 22, PACKET_TCP_SYN, 0, 4999);
        pkt(&f, t + 100300, C, 22, B, p2, PACKET_TCP_SYN | PACKET_TCP_ACK, 0, 0);
        for (int k = 0; k < 100; k++) {
            int64_t tk = t + 200000 + (int64_t)k * 190000 + (k * 7919 % 97) * 1000;
            uint32_t len = 36 + (uint32_t)(k % 3) * 16;
            pkt(&f, tk, A, p1, B, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, len, s1);
            pkt(&f, tk + 700, B, p2, C, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, len, s2);
            s1 += len;
            s2 += len;
        }
        int64_t te = t + 20000000;
        pkt(&f, te, A, p1, B, 22, PACKET_TCP_RST, 0, s1);
        pkt(&f, te + 500, B, p2, C, 22, PACKET_TCP_RST, 0, s2);
        t += 21000000; /* the next session starts after this one ended */
    }
    feed_close(&f);
    correlator_stats st;
    correlator_get_stats(f.c, &st);
    printf("correlator bounded: %llu connections, %llu pairs, peak %llu states, %llu pending, "
           "%llu window vectors\n",
           (unsigned long long)st.conns, (unsigned long long)st.pairs,
           (unsigned long long)st.peak_live, (unsigned long long)st.peak_pending,
           (unsigned long long)st.peak_windows);
    ck_assert_uint_eq(st.conns, 2 * hops);
    ck_assert_uint_eq(st.pairs, hops);
    ck_assert_uint_le(st.peak_live, 16);
    ck_assert_uint_le(st.peak_pending, 8);
    ck_assert_uint_le(st.peak_windows, 300);
    ck_assert_uint_eq(st.live, 0);
    /* every hop scored on its windows: the relayed keystrokes match */
    for (size_t i = 0; i < f.col.n; i++)
        ck_assert_double_gt(f.col.p[i].score, 0.5);
    feed_free(&f);
    encoder_destroy(enc);
}
END_TEST

/* A relay reached by a long session (5000 keystroke packets, beyond what the
 * batch path keeps of a connection) is still scored on the windows where it
 * forwards: the streaming correlator keeps the open windows, not the first
 * packets. */
START_TEST(test_long_inbound)
{
    encoder *enc = load_default();
    feed f;
    feed_open(&f, enc);
    const uint32_t A = 0x0a0012c6, B = 0x0b0012c6, C = 0x0c0012c6;
    int64_t t0 = 1700000000000000LL;
    uint32_t s1 = 1000, s2 = 5000, r1 = 7000, r2 = 9000;
    pkt(&f, t0, A, 40001, B, 22, PACKET_TCP_SYN, 0, s1 - 1);
    pkt(&f, t0 + 300, B, 22, A, 40001, PACKET_TCP_SYN | PACKET_TCP_ACK, 0, r1 - 1);
    int64_t t = t0 + 1000;
    int64_t out_start = t0 + 1200LL * 1000000; /* the onward hop after 20 min */
    int opened = 0;
    for (int k = 0; t < out_start + 60LL * 1000000; k++) {
        uint32_t len = 36 + (uint32_t)(k % 5) * 8;
        t += 150000 + (k * 7919 % 211) * 1000;
        if (!opened && t >= out_start) {
            pkt(&f, out_start, B, 50001, C, 22, PACKET_TCP_SYN, 0, s2 - 1);
            pkt(&f, out_start + 300, C, 22, B, 50001, PACKET_TCP_SYN | PACKET_TCP_ACK, 0, r2 - 1);
            opened = 1;
        }
        /* a keystroke, relayed to C once the onward hop is open, and its
         * echo (C's, relayed back) */
        pkt(&f, t, A, 40001, B, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, len, s1);
        s1 += len;
        if (opened) {
            pkt(&f, t + 900, B, 50001, C, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, len, s2);
            s2 += len;
            pkt(&f, t + 1600, C, 22, B, 50001, PACKET_TCP_ACK | PACKET_TCP_PSH, len, r2);
            r2 += len;
        }
        pkt(&f, t + 2200, B, 22, A, 40001, PACKET_TCP_ACK | PACKET_TCP_PSH, len, r1);
        r1 += len;
    }
    feed_close(&f);
    ck_assert_uint_eq(f.col.n, 1);
    printf("correlator long inbound: hop score %.4f (threshold %.4f)\n", f.col.p[0].score,
           enc->threshold);
    ck_assert_double_ge(f.col.p[0].score, enc->threshold);
    feed_free(&f);
    encoder_destroy(enc);
}
END_TEST

/* A capture whose clock leaps by years and comes back (a bad timestamp) does
 * not hang the correlator (it would walk ~80 million grid windows one by
 * one), and every hop is still handed on. */
START_TEST(test_time_leap)
{
    encoder *enc = load_default();
    feed f;
    feed_open(&f, enc);
    const uint32_t A = 0x150012c6, B = 0x160012c6, C = 0x170012c6, D = 0x180012c6;
    int64_t t = 1700000000000000LL;
    pkt(&f, t, A, 40000, B, 22, PACKET_TCP_SYN, 0, 1);
    pkt(&f, t + 1000, B, 40001, C, 22, PACKET_TCP_SYN, 0, 1);
    /* one packet ten years ahead, then the capture goes on as before */
    pkt(&f, t + 10 * 365LL * 86400 * 1000000, D, 5000, C, 80, PACKET_TCP_SYN, 0, 1);
    correlator_stats st;
    for (int h = 0; h < 200; h++) {
        int64_t th = t + 2000000 + (int64_t)h * 30000000;
        uint16_t p1 = (uint16_t)(41000 + h), p2 = (uint16_t)(51000 + h);
        pkt(&f, th, A, p1, B, 22, PACKET_TCP_SYN, 0, 1);
        pkt(&f, th + 1000, B, p2, C, 22, PACKET_TCP_SYN, 0, 1);
        for (int k = 0; k < 20; k++) {
            pkt(&f, th + 10000 + k * 200000, A, p1, B, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, 40,
                2 + (uint32_t)k * 40);
            pkt(&f, th + 11000 + k * 200000, B, p2, C, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, 40,
                2 + (uint32_t)k * 40);
        }
    }
    feed_close(&f);
    correlator_get_stats(f.c, &st);
    ck_assert_uint_eq(st.live, 0);
    /* the three lone SYNs carry no payload: never paired, no group */
    ck_assert_uint_eq(st.outbound, 2 * 200);
    /* the 200 relayed hops; the first two SYNs do not overlap in time */
    ck_assert_uint_eq(st.pairs, 200);
    feed_free(&f);
    encoder_destroy(enc);
}
END_TEST

/* ---- busy relay hosts --------------------------------------------------- */

typedef struct fpkt {
    int64_t t;
    uint32_t src, dst, seq, len;
    uint16_t sp, dp;
    uint8_t flags;
} fpkt;

static int fpkt_cmp(const void *pa, const void *pb)
{
    const fpkt *a = pa, *b = pb;
    return (a->t > b->t) - (a->t < b->t);
}

/* Appends the 12 packets of one ssh-like connection cli:cp -> srv:sp
 * starting at t (as bench/mkfan.py writes them) to p[*n..]. */
static void fan_conn(fpkt *p, size_t *n, int64_t t, uint32_t cli, uint16_t cp, uint32_t srv,
                     uint16_t sp, unsigned salt)
{
    uint32_t cs = 1000, ss = 5000;
    p[(*n)++] = (fpkt){t, cli, srv, cs - 1, 0, cp, sp, PACKET_TCP_SYN};
    p[(*n)++] = (fpkt){t + 1000, srv, cli, ss - 1, 0, sp, cp, PACKET_TCP_SYN | PACKET_TCP_ACK};
    p[(*n)++] = (fpkt){t + 2000, cli, srv, cs, 0, cp, sp, PACKET_TCP_ACK};
    for (unsigned k = 0; k < 7; k++) {
        uint32_t len = 36 + 16 * ((salt * 7919u + k * 104729u) % 5);
        int64_t tk = t + 2000000 + (int64_t)k * 3000000 + (int64_t)((salt * 31u + k) % 200) * 1000;
        if (k % 2 == 0) {
            p[(*n)++] = (fpkt){tk, cli, srv, cs, len, cp, sp, PACKET_TCP_ACK | PACKET_TCP_PSH};
            cs += len;
        } else {
            p[(*n)++] = (fpkt){tk, srv, cli, ss, len, sp, cp, PACKET_TCP_ACK | PACKET_TCP_PSH};
            ss += len;
        }
    }
    p[(*n)++] = (fpkt){t + 25000000, cli, srv, cs, 0, cp, sp, PACKET_TCP_FIN | PACKET_TCP_ACK};
    p[(*n)++] = (fpkt){t + 25001000, srv, cli, ss, 0, sp, cp, PACKET_TCP_FIN | PACKET_TCP_ACK};
}

/* Feeds a busy relay host 198.18.0.1 with n inbound and n outbound
 * connections, all open at once (n x n candidate pairs), and returns the
 * correlator's counters. */
static void run_fan(encoder *enc, int n, correlator_stats *st)
{
    fpkt *p = malloc(sizeof(*p) * 24 * (size_t)n);
    ck_assert_ptr_nonnull(p);
    size_t np = 0;
    const int64_t t0 = 1700000000000000LL;
    const uint32_t B = 0x010012c6; /* 198.18.0.1 */
    for (int i = 0; i < n; i++) {
        uint32_t a = 0x000013c6u | (uint32_t)(1 + i / 250) << 16 | (uint32_t)(1 + i % 250) << 24;
        uint32_t c = 0x000014c6u | (uint32_t)(1 + i / 250) << 16 | (uint32_t)(1 + i % 250) << 24;
        fan_conn(p, &np, t0 + (int64_t)i * 1000000 / n, a, (uint16_t)(40000 + i), B, 22,
                 (unsigned)i);
        fan_conn(p, &np, t0 + 1000000 + (int64_t)i * 1000000 / n, B, (uint16_t)(20000 + i), c,
                 22, (unsigned)(i + n));
    }
    qsort(p, np, sizeof(*p), fpkt_cmp);
    feed f;
    feed_open(&f, enc);
    for (size_t i = 0; i < np; i++)
        pkt(&f, p[i].t, p[i].src, p[i].sp, p[i].dst, p[i].dp, p[i].flags, p[i].len, p[i].seq);
    feed_close(&f);
    correlator_get_stats(f.c, st);
    ck_assert_uint_eq(st->pairs, (uint64_t)n * (uint64_t)n);
    ck_assert_uint_eq(f.col.n, (size_t)n * (size_t)n);
    ck_assert_uint_eq(st->live, 0);
    feed_free(&f);
    free(p);
}

/* A busy relay host (bastion, proxy: n inbound and n outbound connections
 * open at once) costs work in proportion to its n x n candidate pairs:
 * doubling n makes at most about 4x the candidate-list work, not 8x (a
 * linear scan per freed candidate). */
START_TEST(test_fan_linear)
{
    encoder *enc = load_default();
    correlator_stats s1, s2;
    run_fan(enc, 300, &s1);
    run_fan(enc, 600, &s2);
    double ratio = (double)s2.cand_ops / (double)s1.cand_ops;
    printf("correlator fan: n=300: %llu pairs, %llu candidate-list operations; n=600: %llu "
           "pairs, %llu operations (%.2fx)\n",
           (unsigned long long)s1.pairs, (unsigned long long)s1.cand_ops,
           (unsigned long long)s2.pairs, (unsigned long long)s2.cand_ops, ratio);
    ck_assert_uint_gt(s1.cand_ops, 0);
    ck_assert_double_le(ratio, 4.5);
    /* and in proportion to pairs times the windows they rest on */
    ck_assert_uint_le(s2.cand_ops, 4 * 6 * s2.pairs);
    encoder_destroy(enc);
}
END_TEST

typedef struct warnlog {
    int n;
    char last[512];
} warnlog;

static void warn_cb(void *ctx, const char *msg)
{
    warnlog *w = ctx;
    w->n++;
    snprintf(w->last, sizeof(w->last), "%s", msg);
}

/* A relay B (198.18.0.2) forwards A's session to C; four idle inbound
 * connections to B start after A's and before B's onward one. Scored with
 * at most max candidates per outbound connection (0: no limit): the pairs
 * scored, the hops at the model's threshold and the warnings are returned. */
static void run_capped(encoder *enc, size_t max, correlator_stats *st, int *hops, warnlog *w)
{
    feed f;
    feed_open(&f, enc);
    correlator_set_max_candidates(f.c, max, warn_cb, w);
    const uint32_t A = 0x0a0012c6, B = 0x020012c6, C = 0x0c0012c6;
    int64_t t0 = 1700000000000000LL;
    pkt(&f, t0, A, 40001, B, 22, PACKET_TCP_SYN, 0, 999);
    pkt(&f, t0 + 300, B, 22, A, 40001, PACKET_TCP_SYN | PACKET_TCP_ACK, 0, 4999);
    for (uint32_t d = 0; d < 4; d++) {
        uint32_t D = 0x000012c6u | (0x20u + d) << 24;
        pkt(&f, t0 + 100000 + d * 1000, D, (uint16_t)(41000 + d), B, 22, PACKET_TCP_SYN, 0, 9);
        pkt(&f, t0 + 100300 + d * 1000, B, 22, D, (uint16_t)(41000 + d),
            PACKET_TCP_SYN | PACKET_TCP_ACK, 0, 9);
        /* a little payload: a connection is paired from its first byte */
        pkt(&f, t0 + 100600 + d * 1000, D, (uint16_t)(41000 + d), B, 22,
            PACKET_TCP_ACK | PACKET_TCP_PSH, 21, 10);
    }
    int64_t t = t0 + 200000;
    pkt(&f, t, B, 50001, C, 22, PACKET_TCP_SYN, 0, 1999);
    pkt(&f, t + 300, C, 22, B, 50001, PACKET_TCP_SYN | PACKET_TCP_ACK, 0, 2999);
    uint32_t s1 = 1000, s2 = 2000;
    for (int k = 0; k < 150; k++) {
        uint32_t len = 36 + (uint32_t)(k % 5) * 8;
        t += 150000 + (k * 7919 % 211) * 1000;
        pkt(&f, t, A, 40001, B, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, len, s1);
        pkt(&f, t + 900, B, 50001, C, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, len, s2);
        s1 += len;
        s2 += len;
    }
    t += 1000000;
    for (uint32_t d = 0; d < 4; d++) {
        uint32_t D = 0x000012c6u | (0x20u + d) << 24;
        pkt(&f, t, D, (uint16_t)(41000 + d), B, 22, PACKET_TCP_RST, 0, 31);
    }
    pkt(&f, t, A, 40001, B, 22, PACKET_TCP_RST, 0, s1);
    pkt(&f, t + 500, B, 50001, C, 22, PACKET_TCP_RST, 0, s2);
    feed_close(&f);
    correlator_get_stats(f.c, st);
    *hops = 0;
    for (size_t i = 0; i < f.col.n; i++)
        *hops += f.col.p[i].score >= enc->threshold;
    feed_free(&f);
}

/* The candidate limit keeps the inbound connections that started last: at a
 * limit of 2 the relayed session (the earliest) is left out, the hop is lost
 * and one warning names the relay; without a limit (or at 5) it is found. */
START_TEST(test_max_candidates)
{
    encoder *enc = load_default();
    correlator_stats st;
    int hops;
    warnlog w = {0, ""};
    run_capped(enc, 0, &st, &hops, &w);
    ck_assert_uint_eq(st.pairs, 5);
    ck_assert_uint_eq(st.capped, 0);
    ck_assert_int_eq(hops, 1);
    ck_assert_int_eq(w.n, 0);
    run_capped(enc, 5, &st, &hops, &w);
    ck_assert_uint_eq(st.pairs, 5);
    ck_assert_int_eq(hops, 1);
    ck_assert_int_eq(w.n, 0);
    run_capped(enc, 2, &st, &hops, &w);
    printf("correlator capped: %s\n", w.last);
    ck_assert_uint_eq(st.pairs, 2);
    ck_assert_uint_eq(st.capped, 1);
    ck_assert_uint_eq(st.max_cands, 2);
    ck_assert_int_eq(hops, 0);
    ck_assert_int_eq(w.n, 1);
    ck_assert_ptr_nonnull(strstr(w.last, "host 198.18.0.2"));
    encoder_destroy(enc);
}
END_TEST

/* A candidate already scored keeps its score when its connection then
 * changes roles (a pure SYN from the side first taken for the responder):
 * B relays A's session (A:40001 -> B:2222, first seen mid-stream) to C; a
 * quiet inbound leg keeps B's hop waiting; then B sends a SYN on the relayed
 * connection, which becomes B's outbound connection to A. The hop B -> C is
 * still handed on with the relayed leg, scored before the change. */
START_TEST(test_flip_keeps_final)
{
    encoder *enc = load_default();
    feed f;
    feed_open(&f, enc);
    const uint32_t A = 0x0a0112c6, B = 0x0b0112c6, C = 0x0c0112c6, Q = 0x0d0112c6;
    int64_t t0 = 1700000000000000LL, t = t0;
    pkt(&f, t, Q, 41000, B, 22, PACKET_TCP_SYN, 0, 9);
    pkt(&f, t + 300, B, 22, Q, 41000, PACKET_TCP_SYN | PACKET_TCP_ACK, 0, 9);
    pkt(&f, t + 600, Q, 41000, B, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, 21, 10); /* paired */
    pkt(&f, t + 1000, A, 40001, B, 2222, PACKET_TCP_ACK | PACKET_TCP_PSH, 40, 100);
    pkt(&f, t + 200000, B, 50001, C, 22, PACKET_TCP_SYN, 0, 1999);
    pkt(&f, t + 200300, C, 22, B, 50001, PACKET_TCP_SYN | PACKET_TCP_ACK, 0, 2999);
    uint32_t s1 = 140, s2 = 2000;
    t += 300000;
    for (int k = 0; t < t0 + 40000000; k++) {
        uint32_t len = 36 + (uint32_t)(k % 5) * 8;
        t += 150000 + (k * 7919 % 211) * 1000;
        pkt(&f, t, A, 40001, B, 2222, PACKET_TCP_ACK | PACKET_TCP_PSH, len, s1);
        pkt(&f, t + 900, B, 50001, C, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, len, s2);
        s1 += len;
        s2 += len;
    }
    /* the relayed connection changes roles; the quiet leg still waits */
    pkt(&f, t + 1000, B, 2222, A, 40001, PACKET_TCP_SYN, 0, 5000);
    t += 2000000;
    pkt(&f, t, A, 40001, B, 2222, PACKET_TCP_RST, 0, s1);
    pkt(&f, t, B, 50001, C, 22, PACKET_TCP_RST, 0, s2);
    pkt(&f, t + 1000, Q, 41000, B, 22, PACKET_TCP_RST, 0, 31);
    feed_close(&f);
    correlator_stats st;
    correlator_get_stats(f.c, &st);
    ck_assert_uint_eq(st.live, 0);
    double best = -1;
    for (size_t i = 0; i < f.col.n; i++)
        if (f.col.p[i].score > best)
            best = f.col.p[i].score;
    printf("correlator flip: %zu pairs, best score %.4f\n", f.col.n, best);
    /* (quiet, B -> C), (relayed, B -> C) and (quiet, B -> A) */
    ck_assert_uint_eq(f.col.n, 3);
    ck_assert_double_ge(best, enc->threshold);
    feed_free(&f);
    encoder_destroy(enc);
}
END_TEST

START_TEST(test_bad_config)
{
    encoder *enc = load_default();
    candidates_config cc;
    candidates_config_default(&cc);
    cc.max_lead_us = -1;
    correlator *c = NULL;
    char err[SS_ERRBUF_SIZE] = "";
    ck_assert_int_eq(correlator_create(&c, enc, &cc, NULL, NULL, err), SS_ERR_ARG);
    ck_assert_ptr_null(c);
    ck_assert_str_ne(err, "");
    correlator_destroy(NULL);
    encoder_destroy(enc);
}
END_TEST

Suite *correlator_suite(void)
{
    Suite *s = suite_create("correlator");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_same_as_batch_synth);
    tcase_add_test(tc, test_same_as_batch_netns);
    tcase_add_test(tc, test_bounded_by_live);
    tcase_add_test(tc, test_long_inbound);
    tcase_add_test(tc, test_time_leap);
    tcase_add_test(tc, test_bad_config);
    tcase_add_test(tc, test_fan_linear);
    tcase_add_test(tc, test_max_candidates);
    tcase_add_test(tc, test_flip_keeps_final);
    suite_add_tcase(s, tc);
    return s;
}

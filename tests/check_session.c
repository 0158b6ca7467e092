/* check_session.c - tests for the session anomaly model: sessionisation
 * rules, tokens, training, model file round trip, scores and thresholds,
 * scoring of an unseen pattern, the Markov baseline, and refusal of bad model
 * files. The network alone: check_sessnet.c. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "markov.h"
#include "modelfile.h"
#include "rng.h"
#include "session.h"
#include "sessmodel.h"
#include "sessnet.h"
#include "sessscore.h"
#include "sessvocab.h"
#include "status.h"
#include "train_sessions.h"

/* A growing set of hand-built records. */
typedef struct recset {
    conntab_record r[4096];
    const conntab_record *p[4096];
    size_t n;
} recset;

static void add_rec(recset *s, int a, int b, int proto, int resp_p, double start_s,
                    double dur_s, uint64_t bytes, int state)
{
    ck_assert_uint_lt(s->n, 4096);
    conntab_record *r = &s->r[s->n];
    memset(r, 0, sizeof(*r));
    snprintf(r->uid, sizeof(r->uid), "C%011zu", s->n);
    r->serial = s->n;
    r->family = 4;
    r->proto = (uint8_t)proto;
    r->state = (uint8_t)state;
    r->orig_h[0] = 10;
    r->orig_h[3] = (uint8_t)a;
    r->resp_h[0] = 10;
    r->resp_h[3] = (uint8_t)b;
    r->orig_p = (uint16_t)(40000 + s->n % 20000);
    r->resp_p = (uint16_t)resp_p;
    r->start_us = (int64_t)llround(1e9 * 1e6 + start_s * 1e6);
    r->end_us = r->start_us + (int64_t)llround(dur_s * 1e6);
    r->orig_bytes = bytes / 4;
    r->resp_bytes = bytes - bytes / 4;
    r->orig_pkts = r->resp_pkts = 3;
    s->p[s->n] = r;
    s->n++;
}

/* Benign activity: client hosts 1..4 each run rounds of "DNS query, web page
 * (two objects), sometimes an ssh login" against servers 100 (DNS), 101
 * (web) and 102 (ssh); rounds are 20-40 s apart. */
static void benign(recset *s, uint64_t seed, int rounds)
{
    rng_t r;
    rng_seed(&r, seed);
    for (int c = 1; c <= 4; c++) {
        double t = c * 3.0;
        for (int k = 0; k < rounds; k++) {
            add_rec(s, c, 100, 17, 53, t, 0.01, 90 + rng_below(&r, 40), CONNTAB_STATE_SF);
            add_rec(s, c, 101, 6, 80, t + 0.2, 0.5, 20000 + rng_below(&r, 5000),
                    CONNTAB_STATE_SF);
            add_rec(s, c, 101, 6, 80, t + 0.6, 0.3, 3000 + rng_below(&r, 500), CONNTAB_STATE_SF);
            if (rng_uniform(&r) < 0.3f)
                add_rec(s, c, 102, 6, 22, t + 1.5, 30.0, 8000 + rng_below(&r, 3000),
                        CONNTAB_STATE_SF);
            t += 20.0 + 20.0 * rng_uniform(&r);
        }
    }
}

static void small_train_config(train_sessions_config *cfg)
{
    train_sessions_config_default(cfg);
    cfg->hidden = 12;
    cfg->dense = 12;
    cfg->epochs = 40;
    cfg->batch = 16;
    cfg->lr = 1e-2f;
    cfg->min_host_sessions = 2; /* of the validation part: a few hosts get their own */
    cfg->patience = 10;
}

/* ---- sessionisation ---- */

START_TEST(test_sessions_gap_and_cut)
{
    recset *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    /* host 1 -> host 2: idle time runs from the end of the latest connection:
     * 0..1 s, 8.9..9.9 s (7.9 s idle: joins), 17.9 s (8.0 s idle is not less than 8:
     * new session) */
    add_rec(s, 1, 2, 6, 22, 0.0, 1.0, 100, CONNTAB_STATE_SF);
    add_rec(s, 1, 2, 6, 22, 8.9, 1.0, 100, CONNTAB_STATE_SF);
    add_rec(s, 1, 2, 6, 22, 17.9, 1.0, 100, CONNTAB_STATE_SF);
    /* host 3 -> host 4: 30 connections 1 s apart from t = 100: cut at 25 */
    for (int k = 0; k < 30; k++)
        add_rec(s, 3, 4, 6, 80, 100.0 + k, 0.5, 100, CONNTAB_STATE_SF);
    session_config cfg;
    session_config_default(&cfg);
    ck_assert_int_eq(cfg.gap_us, 8000000);
    ck_assert_int_eq(cfg.max_conns, 25);
    session_list l;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(session_list_build(&l, s->p, s->n, &cfg, NULL, 0, err), 0);
    /* host 1: {0, 7.9} {15.9}; host 2 the same (inbound); host 3: 25 + 5; host 4 too */
    ck_assert_uint_eq(l.n_spans, 8);
    ck_assert_uint_eq(l.n_members, 2 * s->n);
    int seen_h1 = 0, seen_25 = 0, seen_5 = 0;
    for (size_t k = 0; k < l.n_spans; k++) {
        const session_span *sp = &l.spans[k];
        if (k)
            ck_assert(l.spans[k - 1].start_us <= sp->start_us);
        if (sp->host[3] == 1) {
            int expect = sp->start_us == s->r[0].start_us ? 2 : 1;
            ck_assert_int_eq(sp->n, expect);
            ck_assert_int_eq(l.outbound[sp->first], 1);
            seen_h1++;
        }
        if (sp->host[3] == 2)
            ck_assert_int_eq(l.outbound[sp->first], 0);
        if (sp->host[3] == 3 || sp->host[3] == 4) {
            seen_25 += sp->n == 25;
            seen_5 += sp->n == 5;
            /* members in time order */
            for (int j = 1; j < sp->n; j++)
                ck_assert(s->r[l.conn[sp->first + j]].start_us >
                          s->r[l.conn[sp->first + j - 1]].start_us);
        }
    }
    ck_assert_int_eq(seen_h1, 2);
    ck_assert_int_eq(seen_25, 2);
    ck_assert_int_eq(seen_5, 2);
    session_list_free(&l);
    /* other rules: a 20 s gap keeps host 1 in one session, a cut at 10 splits host 3 in 3 */
    cfg.gap_us = 20000000;
    cfg.max_conns = 10;
    ck_assert_int_eq(session_list_build(&l, s->p, s->n, &cfg, NULL, 0, err), 0);
    ck_assert_uint_eq(l.n_spans, 2 + 2 * 3);
    session_list_free(&l);
    cfg.max_conns = 0;
    ck_assert_int_eq(session_list_build(&l, s->p, s->n, &cfg, NULL, 0, err), SS_ERR_ARG);
    ck_assert(strlen(err) > 0);
    session_list_free(NULL);
    /* a connection open for 60 s keeps its host active: one starting 30 s after it
     * started (but while it is open) joins, one 8 s after it ended does not */
    s->n = 0;
    add_rec(s, 5, 6, 6, 22, 0.0, 60.0, 100, CONNTAB_STATE_SF);
    add_rec(s, 5, 7, 6, 80, 30.0, 0.1, 100, CONNTAB_STATE_SF);
    add_rec(s, 5, 7, 6, 80, 68.0, 0.1, 100, CONNTAB_STATE_SF);
    session_config_default(&cfg);
    ck_assert_int_eq(session_list_build(&l, s->p, s->n, &cfg, NULL, 0, err), 0);
    int h5 = 0;
    for (size_t k = 0; k < l.n_spans; k++)
        if (l.spans[k].host[3] == 5) {
            ck_assert_int_eq(l.spans[k].n, h5 == 0 ? 2 : 1);
            h5++;
        }
    ck_assert_int_eq(h5, 2);
    session_list_free(&l);
    /* a multicast group, the limited broadcast and the unspecified address are not
     * hosts: host 5's announcements to 224.0.0.251 and 255.255.255.255 are in its
     * session only, and a DHCP-like 0.0.0.0 -> 255.255.255.255 in none */
    s->n = 0;
    add_rec(s, 5, 6, 17, 5353, 0.0, 0.1, 100, CONNTAB_STATE_S0);
    s->r[0].resp_h[0] = 224, s->r[0].resp_h[3] = 251;
    add_rec(s, 5, 6, 17, 67, 1.0, 0.1, 100, CONNTAB_STATE_S0);
    memset(s->r[1].resp_h, 255, 4);
    add_rec(s, 5, 6, 17, 67, 2.0, 0.1, 100, CONNTAB_STATE_S0);
    memset(s->r[2].orig_h, 0, 4);
    memset(s->r[2].resp_h, 255, 4);
    ck_assert_int_eq(session_list_build(&l, s->p, s->n, &cfg, NULL, 0, err), 0);
    ck_assert_uint_eq(l.n_spans, 1);
    ck_assert_uint_eq(l.n_members, 2);
    ck_assert_int_eq(l.spans[0].host[3], 5);
    session_list_free(&l);
    uint8_t a6[16] = {0xff, 0x02};
    ck_assert_int_eq(session_is_host(6, a6), 0);
    a6[0] = 0xfe, a6[1] = 0x80;
    ck_assert_int_eq(session_is_host(6, a6), 1);
    memset(a6, 0, 16);
    ck_assert_int_eq(session_is_host(6, a6), 0);
    const uint8_t a4[4] = {239, 255, 255, 250}, b4[4] = {223, 255, 255, 255};
    ck_assert_int_eq(session_is_host(4, a4), 0);
    ck_assert_int_eq(session_is_host(4, b4), 1);
    free(s);
}
END_TEST

START_TEST(test_tokens)
{
    recset *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    add_rec(s, 1, 2, 6, 22, 0.0, 1.0, 100, CONNTAB_STATE_SF);
    uint32_t out = session_state_key(&s->r[0], 1, 0, 0), in = session_state_key(&s->r[0], 0, 0, 0);
    ck_assert_uint_ne(out, in);
    char buf[48];
    session_state_key_string(out, buf, sizeof(buf));
    ck_assert_str_eq(buf, "tcp/22 out ok");
    session_state_key_string(in, buf, sizeof(buf));
    ck_assert_str_eq(buf, "tcp/22 in ok");
    /* the outcome is part of the state: a refused or unanswered attempt is another state */
    add_rec(s, 1, 2, 6, 22, 0.0, 0.0, 0, CONNTAB_STATE_REJ);
    add_rec(s, 1, 2, 6, 22, 0.0, 0.0, 0, CONNTAB_STATE_S0);
    add_rec(s, 1, 2, 6, 22, 0.0, 0.0, 0, CONNTAB_STATE_RSTR);
    uint32_t rej = session_state_key(&s->r[1], 1, 0, 0), s0 = session_state_key(&s->r[2], 1, 0, 0);
    ck_assert_uint_ne(rej, out);
    ck_assert_uint_ne(rej, s0);
    ck_assert_uint_ne(session_state_key(&s->r[3], 1, 0, 0), out);
    session_state_key_string(rej, buf, sizeof(buf));
    ck_assert_str_eq(buf, "tcp/22 out rej");
    session_state_key_string(s0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "tcp/22 out noans");
    ck_assert_int_eq(session_outcome(CONNTAB_STATE_S1), SESSION_OUTCOME_OK);
    ck_assert_int_eq(session_outcome(CONNTAB_STATE_RSTO), SESSION_OUTCOME_RESET);
    ck_assert_int_eq(session_outcome(CONNTAB_STATE_OTH), SESSION_OUTCOME_UNANSWERED);
    /* port classes: 22 and 1023 share one, 1024 and 49152 do not; keys stay below 2^24 */
    uint32_t c22 = session_state_class_key(out);
    ck_assert(c22 & SESSION_KEY_CLASS_BIT);
    ck_assert_uint_eq(session_state_class_key(c22), c22);
    s->r[0].resp_p = 1023;
    ck_assert_uint_eq(session_state_class_key(session_state_key(&s->r[0], 1, 0, 0)), c22);
    s->r[0].resp_p = 1024;
    uint32_t creg = session_state_class_key(session_state_key(&s->r[0], 1, 0, 0));
    s->r[0].resp_p = 49152;
    uint32_t cdyn = session_state_class_key(session_state_key(&s->r[0], 1, 0, 0));
    ck_assert_uint_ne(creg, c22);
    ck_assert_uint_ne(creg, cdyn);
    ck_assert_uint_lt(cdyn, 1u << 26);
    session_state_key_string(creg, buf, sizeof(buf));
    ck_assert_str_eq(buf, "tcp/reg out ok");
    s->r[0].resp_p = 22;
    /* repeat classes: the same state with the same peer again is another state, and
     * the 5th time on stays one state */
    uint32_t r1 = session_state_key(&s->r[0], 1, 1, 0), r4 = session_state_key(&s->r[0], 1, 4, 0);
    ck_assert_uint_ne(r1, out);
    ck_assert_uint_ne(r4, r1);
    ck_assert_uint_eq(session_state_key(&s->r[0], 1, 9, 0), r4);
    ck_assert_uint_eq(session_state_key(&s->r[0], 1, 3, 0), session_state_key(&s->r[0], 1, 2, 0));
    session_state_key_string(r4, buf, sizeof(buf));
    ck_assert_str_eq(buf, "tcp/22 out ok x5+");
    uint32_t sp1 = session_state_key(&s->r[0], 1, 0, 2), sp3 = session_state_key(&s->r[0], 1, 0, 3);
    ck_assert_uint_ne(sp1, out);
    ck_assert_uint_ne(sp1, sp3);
    ck_assert_uint_eq(session_state_key(&s->r[0], 1, 0, 1), sp1);
    ck_assert_uint_eq(session_state_key(&s->r[0], 1, 0, 30), sp3);
    session_state_key_string(sp3, buf, sizeof(buf));
    ck_assert_str_eq(buf, "tcp/22 out ok +3ports");
    ck_assert(!(sp3 & SESSION_KEY_CLASS_BIT));
    /* vocabulary: key 7 x5, key 3 x5, key 9 x1 (below min_count 2) */
    uint32_t keys[11] = {7, 7, 3, 7, 3, 3, 9, 7, 3, 7, 3};
    session_vocab v;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(session_vocab_build(&v, keys, 11, 10, 2, err), 0);
    ck_assert_int_eq(v.n_states, 3);
    ck_assert_int_eq(session_vocab_state(&v, 3), 1); /* tie on count: lower key first */
    ck_assert_int_eq(session_vocab_state(&v, 7), 2);
    ck_assert_int_eq(session_vocab_state(&v, 9), 0); /* its class (seen once) is not in */
    /* state types: ids 1 and 2 are one state each; "other" stands for key 9 and for
     * the states never seen: its probability is shared by 2 */
    ck_assert_float_eq(v.state_types[1], 1.0f);
    ck_assert_float_eq(v.state_types[2], 1.0f);
    ck_assert_float_eq(v.state_types[0], 2.0f);
    ck_assert_double_eq_tol(session_vocab_state_prob(&v, 0, 0.5), 0.25, 1e-12);
    ck_assert_double_eq_tol(session_vocab_state_prob(&v, 2, 0.5), 0.5, 1e-12);
    session_vocab_free(&v);
    /* rare ports fall back to their class: ports 1000..1004 once each form "tcp/wk out
     * ok"; key 7 stays exact; an unseen low port maps to the class, an unseen refused one
     * or a high port to "other" */
    uint32_t k2[8] = {7, 7, 7, 1000, 1001, 1002, 1003, 1004};
    for (int k = 0; k < 8; k++)
        k2[k] |= 1u << 21;
    ck_assert_int_eq(session_vocab_build(&v, k2, 8, 10, 2, err), 0);
    ck_assert_int_eq(v.n_states, 3);
    ck_assert_int_eq(session_vocab_state(&v, k2[0]), 1);
    int cls = session_vocab_state(&v, k2[3]);
    ck_assert_int_eq(cls, 2);
    ck_assert_int_eq(session_vocab_state(&v, (1u << 21) | 555), cls);
    ck_assert_int_eq(session_vocab_state(&v, (1u << 21) | 5555), 0);
    ck_assert_int_eq(session_vocab_state(&v, (1u << 21) | (2u << 22) | 555), 0);
    ck_assert_float_eq(v.state_types[cls], 5.0f); /* the class stands for 5 ports */
    ck_assert_float_eq(v.state_types[0], 1.0f);   /* "other": only the unseen ones */
    session_vocab_free(&v);
    /* with room for one state only, the class (5 observations) beats key 7 (3) */
    ck_assert_int_eq(session_vocab_build(&v, k2, 8, 2, 2, err), 0);
    ck_assert_int_eq(v.n_states, 2);
    ck_assert_int_eq(session_vocab_state(&v, k2[4]), 1);
    ck_assert_int_eq(session_vocab_state(&v, k2[0]), 1); /* 7 is a well-known port too */
    session_vocab_free(&v);
    session_vocab_free(NULL);
    free(s);
}
END_TEST

/* Size classes are relative to the connection's service: the same request size is
 * a high-tail class for a service whose requests are small and an ordinary one for
 * a service whose requests are large; rare services use the global edges. */
START_TEST(test_size_classes)
{
    enum { NA = 200, NB = 150, NR = 20, N = NA + NB + NR };
    uint32_t keys[N];
    uint64_t orig[N], resp[N];
    int64_t dur[N];
    uint32_t ka = (1u << 21) | 80, kb = (1u << 21) | 22, kr = (1u << 21) | 5000;
    for (int i = 0; i < N; i++) {
        int a = i < NA, b = !a && i < NA + NB;
        keys[i] = a ? ka | (uint32_t)(i % 4) << 16 : b ? kb : kr; /* repeats pool with A */
        orig[i] = a ? 100 + (uint64_t)i : b ? 5000 + 10 * (uint64_t)i : 7;
        resp[i] = a ? 1000 + 7 * (uint64_t)i : b ? 300 : 7;
        dur[i] = a ? 10000 : b ? 1000000 + 1000 * (int64_t)i : 5;
    }
    session_vocab v;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(session_vocab_build(&v, keys, N, 64, 3, err), 0);
    ck_assert_int_eq(session_vocab_build_sizes(&v, keys, orig, resp, dur, N, 2, err), SS_ERR_ARG);
    ck_assert_int_eq(session_vocab_build_sizes(&v, keys, orig, resp, dur, N, 4, err), 0);
    ck_assert_int_eq(v.n_sizes, 32);
    ck_assert_int_eq(v.n_services, 3); /* global, A, B; R has too few */
    int sa = session_vocab_service(&v, ka), sb = session_vocab_service(&v, kb);
    ck_assert_int_gt(sa, 0);
    ck_assert_int_gt(sb, 0);
    ck_assert_int_ne(sa, sb);
    ck_assert_int_eq(session_vocab_service(&v, ka | 3u << 16 | 2u << 18), sa);
    ck_assert_int_eq(session_vocab_service(&v, kr), 0);
    /* a typical A connection: middle classes, not long */
    int c = session_vocab_size(&v, ka, 200, 1700, 10000);
    ck_assert_int_eq(c % 2, 0);
    ck_assert(c / 2 / 4 == 1 || c / 2 / 4 == 2);
    /* a 1000-byte request: above A's high tail, below B's low tail */
    ck_assert_int_eq(session_vocab_size(&v, ka, 1000, 1700, 10000) / 8, 3);
    ck_assert_int_eq(session_vocab_size(&v, kb, 1000, 300, 1200000) / 8, 0);
    /* held open 5 s: long for A, not for B */
    ck_assert_int_eq(session_vocab_size(&v, ka, 200, 1700, 5000000) % 2, 1);
    ck_assert_int_eq(session_vocab_size(&v, kb, 6000, 300, 1100000) % 2, 0);
    /* B's responses are all 300: 300 is the middle, anything else a tail */
    ck_assert_int_eq(session_vocab_size(&v, kb, 6000, 300, 1100000) / 2 % 4, 1);
    ck_assert_int_eq(session_vocab_size(&v, kb, 6000, 299, 1100000) / 2 % 4, 0);
    ck_assert_int_eq(session_vocab_size(&v, kb, 6000, 301, 1100000) / 2 % 4, 3);
    /* monotonic in each direction */
    for (uint64_t b = 1; b < 600; b++) {
        ck_assert_int_ge(session_vocab_size(&v, ka, b, 1700, 0) / 8,
                         session_vocab_size(&v, ka, b - 1, 1700, 0) / 8);
        ck_assert_int_ge(session_vocab_size(&v, ka, 200, 1000 + 4 * b, 0) / 2 % 4,
                         session_vocab_size(&v, ka, 200, 1000 + 4 * (b - 1), 0) / 2 % 4);
    }
    session_vocab_free(&v);
}
END_TEST

/* How far past a service's upper edges a connection lies is scored from that
 * service's own tail: 0 up to the edges, growing with the log of the excess,
 * faster for a service whose training tail hugs its edge than for one whose
 * tail reaches far, and each scale is the documented shrunk mean. */
START_TEST(test_size_tails)
{
    enum { NN = 400, NW = 400, N = NN + NW };
    uint32_t keys[N];
    uint64_t orig[N], resp[N];
    int64_t dur[N];
    uint32_t kn = (1u << 21) | 80, kw = (1u << 21) | 8080;
    for (int i = 0; i < N; i++) {
        int nar = i < NN, j = nar ? i : i - NN;
        keys[i] = nar ? kn : kw;
        /* both: requests 100..299 bytes; the top 1% of N just past, of W up to 10x */
        orig[i] = 100 + (uint64_t)(j % 200);
        if (j >= 396)
            orig[i] = nar ? 300 + (uint64_t)(j - 396) : 300 * (uint64_t)(1 + 3 * (j - 396));
        resp[i] = 1000;
        dur[i] = 10000 + 10 * (int64_t)j;
    }
    session_vocab v;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(session_vocab_build(&v, keys, N, 64, 3, err), 0);
    ck_assert_int_eq(session_vocab_build_sizes(&v, keys, orig, resp, dur, N, 4, err), 0);
    ck_assert_ptr_nonnull(v.size_tails);
    int sn = session_vocab_service(&v, kn), sw = session_vocab_service(&v, kw);
    ck_assert(sn > 0 && sw > 0 && sn != sw);
    int W = SESSION_SIZE_EDGES(4);
    /* inside the edges: nothing */
    ck_assert_double_eq(session_vocab_tail(&v, kn, 150, 1000, 12000), 0.0);
    ck_assert_double_eq(session_vocab_tail(&v, kw, 150, 1000, 12000), 0.0);
    /* past the request edge: log-excess / scale, exactly */
    for (int s = 0; s < 2; s++) {
        uint32_t k = s ? kw : kn;
        int sv = s ? sw : sn;
        const float *e = v.size_edges + (size_t)sv * W;
        double edge = e[2], b = v.size_tails[sv * 3];
        /* the documented scale: mean log-excess of the values past the edge,
         * shrunk towards service 0's with SESSION_TAIL_PRIOR pseudo-observations */
        double sum = 0.0;
        int cnt = 0;
        for (int i = 0; i < N; i++)
            if (keys[i] == k && (double)orig[i] > edge) {
                sum += log(((double)orig[i] + 1.0) / (edge + 1.0));
                cnt++;
            }
        ck_assert_int_gt(cnt, 0);
        double want = (sum + SESSION_TAIL_PRIOR * v.size_tails[0]) / (cnt + SESSION_TAIL_PRIOR);
        ck_assert_double_eq_tol(b, fmax(want, SESSION_TAIL_MIN_SCALE), 1e-6 * want);
        double got = session_vocab_tail(&v, k, 1200, 1000, 12000);
        ck_assert_double_eq_tol(got, log(1201.0 / (edge + 1.0)) / b, 1e-6 * got);
        /* monotonic in the excess */
        ck_assert_double_lt(session_vocab_tail(&v, k, 600, 1000, 12000), got);
        ck_assert_double_gt(session_vocab_tail(&v, k, 600, 1000, 12000), 0.0);
    }
    /* the service whose tail hugs its edge finds 4x the edge less likely */
    ck_assert_double_gt(session_vocab_tail(&v, kn, 1200, 1000, 12000),
                        2.0 * session_vocab_tail(&v, kw, 1200, 1000, 12000));
    /* the three parts add: a long connection with a large request */
    double both = session_vocab_tail(&v, kn, 1200, 1000, 5000000);
    ck_assert_double_eq_tol(both, session_vocab_tail(&v, kn, 1200, 1000, 12000) +
                                      session_vocab_tail(&v, kn, 150, 1000, 5000000),
                            1e-9 * both);
    ck_assert_double_gt(session_vocab_tail(&v, kn, 150, 1000, 5000000), 0.0);
    ck_assert_double_gt(session_vocab_tail(&v, kn, 150, 100000, 12000), 0.0);
    session_vocab_free(&v);
}
END_TEST

/* Connections under way when the capture began (no handshake, first second) are
 * left out of sessions; the same states later, or answered ones at the start, stay. */
START_TEST(test_partial_at_start)
{
    recset *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    add_rec(s, 1, 2, 6, 80, 0.0, 0.1, 0, CONNTAB_STATE_OTH);   /* partial: out */
    add_rec(s, 1, 2, 6, 80, 0.5, 0.1, 0, CONNTAB_STATE_SH);    /* partial: out */
    add_rec(s, 1, 2, 6, 80, 0.2, 0.1, 100, CONNTAB_STATE_SF);  /* handshake seen: in */
    add_rec(s, 1, 2, 17, 53, 0.3, 0.1, 100, CONNTAB_STATE_S0); /* UDP: in */
    add_rec(s, 1, 2, 6, 80, 3.0, 0.1, 0, CONNTAB_STATE_OTH);   /* later: in */
    int64_t t0 = s->r[0].start_us;
    ck_assert(session_partial_at_start(&s->r[0], &t0, 1));
    ck_assert(!session_partial_at_start(&s->r[4], &t0, 1));
    session_config cfg;
    session_config_default(&cfg);
    session_list l;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(session_list_build(&l, s->p, s->n, &cfg, NULL, 0, err), 0);
    ck_assert_uint_eq(l.n_members, 6); /* 3 records, one session of each host */
    for (size_t k = 0; k < l.n_members; k++)
        ck_assert(l.conn[k] >= 2);
    session_list_free(&l);

    /* a second capture merged in, beginning 100 s later (at 100.0) in the middle of
     * connections: its first second's records without handshake are left out too */
    add_rec(s, 3, 4, 6, 22, 100.0, 5.0, 0, CONNTAB_STATE_OTH);  /* partial: out */
    add_rec(s, 3, 4, 6, 22, 100.9, 0.1, 0, CONNTAB_STATE_SHR);  /* partial: out */
    add_rec(s, 3, 4, 6, 22, 99.5, 0.1, 0, CONNTAB_STATE_OTH);   /* before it: in */
    add_rec(s, 3, 4, 6, 22, 101.5, 0.1, 0, CONNTAB_STATE_OTH);  /* after its edge: in */
    int64_t starts[2] = {s->r[5].start_us, t0}; /* any order, sorted below */
    session_starts_sort(starts, 2);
    ck_assert_int_eq(starts[0], t0);
    ck_assert(session_partial_at_start(&s->r[5], starts, 2));
    ck_assert(session_partial_at_start(&s->r[6], starts, 2));
    ck_assert(!session_partial_at_start(&s->r[7], starts, 2));
    ck_assert(!session_partial_at_start(&s->r[8], starts, 2));
    ck_assert(!session_partial_at_start(&s->r[5], &t0, 1));
    ck_assert(!session_partial_at_start(&s->r[5], starts, 0));
    ck_assert_int_eq(session_list_build(&l, s->p, s->n, &cfg, starts, 2, err), 0);
    ck_assert_uint_eq(l.n_members, 10); /* records 2, 3, 4, 7, 8; two hosts each */
    for (size_t k = 0; k < l.n_members; k++)
        ck_assert(l.conn[k] >= 2 && l.conn[k] != 5 && l.conn[k] != 6);
    session_list_free(&l);
    /* without the second beginning only the first capture's edge counts */
    ck_assert_int_eq(session_list_build(&l, s->p, s->n, &cfg, NULL, 0, err), 0);
    ck_assert_uint_eq(l.n_members, 14);
    session_list_free(&l);
    free(s);
}
END_TEST

/* Thresholds by length class: a host's own threshold applies to its class only,
 * and only where it is above the global one. */
START_TEST(test_threshold_lookup)
{
    session_model m;
    memset(&m, 0, sizeof(m));
    session_host_threshold h[2];
    memset(h, 0, sizeof(h));
    h[0].family = 4;
    h[0].host[0] = 10;
    h[0].host[3] = 1;
    h[1] = h[0];
    h[1].host[3] = 2;
    double own0[SESSION_LEN_CLASSES] = {NAN, 9.0, 1.0}, own1[SESSION_LEN_CLASSES] = {7.0, NAN, NAN};
    for (int c = 0; c < SESSION_LEN_CLASSES; c++) {
        m.thr[0].global[c] = 2.0 + c;
        h[0].threshold[c] = own0[c];
        h[1].threshold[c] = own1[c];
    }
    m.thr[0].hosts = h;
    m.thr[0].n_hosts = 2;
    ck_assert_int_eq(session_length_class(1), 0);
    ck_assert_int_eq(session_length_class(2), 1);
    ck_assert_int_eq(session_length_class(5), 1);
    ck_assert_int_eq(session_length_class(6), 2);
    ck_assert_int_eq(session_length_class(25), 2);
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, h[0].host, 1), 2.0); /* NAN: global */
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, h[0].host, 3), 9.0); /* own, higher */
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, h[0].host, 25), 4.0); /* own lower */
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, h[1].host, 1), 7.0);
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, h[1].host, 4), 3.0);
    uint8_t other[16] = {10, 0, 0, 3};
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, other, 1), 2.0);
    ck_assert_double_eq(session_model_threshold(&m, 0, 6, h[0].host, 3), 3.0); /* family */
    /* a host's own threshold rises at most host_factor times over the global one */
    m.host_factor = 1.5;
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, h[0].host, 3), 4.5); /* 9 -> 1.5 * 3 */
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, h[1].host, 1), 3.0); /* 7 -> 1.5 * 2 */
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, h[0].host, 25), 4.0); /* still global */
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, h[0].host, 1), 2.0);
    m.host_factor = 4.0; /* a bound above the host's own changes nothing */
    ck_assert_double_eq(session_model_threshold(&m, 0, 4, h[0].host, 3), 9.0);
}
END_TEST

/* Which connections are scored by the less likely of their state and size: TCP,
 * refused or never answered (no payload). */
START_TEST(test_size_implied)
{
    static const struct { int proto, state, implied; } cases[] = {
        {6, CONNTAB_STATE_REJ, 1}, {6, CONNTAB_STATE_S0, 1}, {6, CONNTAB_STATE_SH, 1},
        {6, CONNTAB_STATE_SF, 0}, {6, CONNTAB_STATE_RSTO, 0}, {6, CONNTAB_STATE_S1, 0},
        {17, CONNTAB_STATE_S0, 0}, {17, CONNTAB_STATE_SF, 0}, {1, CONNTAB_STATE_S0, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        conntab_record r;
        memset(&r, 0, sizeof(r));
        r.family = 4;
        r.proto = (uint8_t)cases[i].proto;
        r.state = (uint8_t)cases[i].state;
        r.resp_p = 443;
        for (int out = 0; out < 2; out++)
            for (int rep = 0; rep < 6; rep += 5)
                ck_assert_msg(session_key_size_implied(session_state_key(&r, out, rep, 3)) ==
                                  cases[i].implied, "case %zu", i);
        uint32_t key = session_state_key(&r, 0, 0, 0);
        ck_assert_int_eq(session_key_size_implied(session_state_class_key(key)), cases[i].implied);
    }
}
END_TEST

/* The score of a session: the whole session's summed surprisal / sqrt(n), or
 * that of its score_top most surprising connections / sqrt(score_top) when
 * higher and the session is longer than score_top; compared with the
 * threshold of its length class. */
START_TEST(test_score_burst)
{
    session_model m;
    memset(&m, 0, sizeof(m));
    for (int c = 0; c < SESSION_LEN_CLASSES; c++)
        m.thr[0].global[c] = 10.0;
    enum { N = 8 };
    session_span spans[4];
    memset(spans, 0, sizeof(spans));
    spans[0].family = spans[1].family = spans[2].family = spans[3].family = 4;
    spans[0].n = N; /* six ordinary connections and two very unlikely ones */
    spans[1].first = N;
    spans[1].n = 2; /* no longer than score_top (from 2): the whole only */
    spans[2].first = N + 2;
    spans[2].n = N; /* evenly unlikely: the whole part wins */
    spans[3].first = 2 * N + 2;
    spans[3].n = 1;
    double lik[3 * N + 3];
    for (int t = 0; t < N; t++) {
        lik[t] = 0.5;
        lik[N + 2 + t] = 0.02;
    }
    lik[3] = 1e-4;
    lik[6] = 1e-14; /* below the floor: counts as 1e-12 */
    lik[N] = 1e-4;
    lik[N + 1] = 0.9;
    lik[2 * N + 2] = 0.3;
    session_data d;
    memset(&d, 0, sizeof(d));
    d.list.spans = spans;
    d.list.n_spans = 4;
    d.list.n_members = 2 * N + 3;
    session_result res[4];
    double s_rare = -log(1e-4), s_floor = -log(SESSION_MIN_LIKELIHOOD), s_half = log(2.0);
    double whole0 = (6 * s_half + s_rare + s_floor) / sqrt(N);
    for (int k = 0; k <= 3; k++) {
        m.score_top = k;
        session_model_results(res, &m, 0, &d, lik);
        double burst0 = k == 0 ? 0.0 : k == 1 ? s_floor : (s_floor + s_rare + (k - 2) * s_half) /
                                                                sqrt(k);
        ck_assert_double_eq_tol(res[0].score, fmax(whole0, burst0), 1e-9);
        ck_assert_int_eq(res[0].least, 6);
        ck_assert_double_eq_tol(res[1].score, k == 1 ? s_rare : (s_rare - log(0.9)) / sqrt(2.0),
                                1e-9); /* k 1: its most unlikely connection; else the whole */
        ck_assert_double_eq_tol(res[2].score, -log(0.02) * sqrt(N), 1e-9);
        ck_assert_double_eq_tol(res[3].score, -log(0.3), 1e-9);
        for (int s = 0; s < 4; s++) {
            ck_assert_double_eq(res[s].threshold, 10.0);
            ck_assert_int_eq(res[s].flagged, res[s].score > 10.0 + SESSION_THRESHOLD_SLACK);
        }
    }
    /* at a threshold of 15, the whole part alone leaves the two unlikely connections
     * unflagged ((4.2 + 9.2 + 27.6) / sqrt 8 = 14.5); with score_top 2 they are
     * (27.6 + 9.2) / sqrt 2 = 26 */
    m.thr[0].global[2] = 15.0;
    m.score_top = 0;
    session_model_results(res, &m, 0, &d, lik);
    ck_assert_int_eq(res[0].flagged, 0);
    m.score_top = 2;
    session_model_results(res, &m, 0, &d, lik);
    ck_assert_int_eq(res[0].flagged, 1);
    ck_assert_int_eq(res[2].flagged, 0); /* 3.9 nats each: 11.1 either way */
    m.score_top = SESSION_SCORE_TOP_MAX + 10; /* clamped, no overrun */
    session_model_results(res, &m, 0, &d, lik);
    ck_assert_double_eq_tol(res[0].score, whole0, 1e-9);
}
END_TEST

/* The first definition, kept to compare: 1 - the mean likelihood of the
 * session's connections, with no burst part whatever score_top says. */
START_TEST(test_score_mean_likelihood)
{
    session_model m;
    memset(&m, 0, sizeof(m));
    for (int c = 0; c < SESSION_LEN_CLASSES; c++)
        m.thr[0].global[c] = 0.9;
    m.score_rule = SESSION_SCORE_MEAN_LIK;
    m.score_top = 2;
    session_span spans[2];
    memset(spans, 0, sizeof(spans));
    spans[0].family = spans[1].family = 4;
    spans[0].n = 4;
    spans[1].first = 4;
    spans[1].n = 1;
    double lik[5] = {0.5, 1e-14, 0.25, 0.05, 0.02};
    session_data d;
    memset(&d, 0, sizeof(d));
    d.list.spans = spans;
    d.list.n_spans = 2;
    d.list.n_members = 5;
    session_result res[2];
    session_model_results(res, &m, 0, &d, lik);
    ck_assert_double_eq_tol(res[0].score, 1.0 - (0.5 + 1e-14 + 0.25 + 0.05) / 4.0, 1e-12);
    ck_assert_int_eq(res[0].least, 1);
    ck_assert_int_eq(res[0].flagged, 0); /* 0.80 */
    ck_assert_double_eq_tol(res[1].score, 0.98, 1e-12);
    ck_assert_int_eq(res[1].flagged, 1);
    ck_assert_str_eq(session_score_rule_to_string(SESSION_SCORE_MEAN_LIK), "mean-likelihood");
    ck_assert_int_eq(session_score_rule_from_string("surprisal"), SESSION_SCORE_SURPRISAL);
    ck_assert_int_eq(session_score_rule_from_string("mean"), -1);
}
END_TEST

/* Repeat and spread classes come from what the host did with the same peer
 * earlier in the session; another peer does not count. */
START_TEST(test_session_keys)
{
    recset *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    for (int k = 0; k < 6; k++) /* host 1 -> host 2 on port 22, six times */
        add_rec(s, 1, 2, 6, 22, 0.5 * k, 0.1, 100, CONNTAB_STATE_SF);
    add_rec(s, 1, 3, 6, 22, 3.2, 0.1, 100, CONNTAB_STATE_SF); /* another peer */
    for (int k = 0; k < 5; k++) /* then ports 80, 81, 82, 83, 84 of host 2, refused */
        add_rec(s, 1, 2, 6, 80 + k, 3.5 + 0.1 * k, 0.0, 0, CONNTAB_STATE_REJ);
    session_config cfg;
    session_config_default(&cfg);
    session_list l;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(session_list_build(&l, s->p, s->n, &cfg, NULL, 0, err), 0);
    uint32_t *keys = malloc(l.n_members * sizeof(uint32_t));
    ck_assert_ptr_nonnull(keys);
    ck_assert_int_eq(session_list_keys(keys, &l, s->p, err), 0);
    int found = 0;
    for (size_t sp = 0; sp < l.n_spans; sp++) {
        if (l.spans[sp].host[3] != 1)
            continue;
        found = 1;
        ck_assert_int_eq(l.spans[sp].n, 12);
        const int rep[12] = {0, 1, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0};
        const int spr[12] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2};
        for (int t = 0; t < 12; t++) {
            uint32_t key = keys[l.spans[sp].first + (size_t)t];
            ck_assert_int_eq((int)(key >> 16 & 3), rep[t]);
            ck_assert_int_eq((int)(key >> 18 & 3), spr[t]);
        }
    }
    ck_assert(found);
    free(keys);
    session_list_free(&l);
    /* across sessions: logins 10 s apart are sessions of their own, yet the repeat
     * class counts those of the last minute; after 150 s of silence it starts over */
    s->n = 0;
    const double at[7] = {100, 110, 120, 130, 140, 150, 300};
    for (int k = 0; k < 7; k++)
        add_rec(s, 1, 8, 6, 22, at[k], 0.1, 100, CONNTAB_STATE_SF);
    ck_assert_int_eq(session_list_build(&l, s->p, s->n, &cfg, NULL, 0, err), 0);
    keys = malloc(l.n_members * sizeof(uint32_t));
    ck_assert_ptr_nonnull(keys);
    ck_assert_int_eq(session_list_keys(keys, &l, s->p, err), 0);
    const int rep7[7] = {0, 1, 2, 2, 3, 3, 0};
    int n1 = 0;
    for (size_t sp = 0; sp < l.n_spans; sp++) {
        if (l.spans[sp].host[3] != 1)
            continue;
        ck_assert_int_eq(l.spans[sp].n, 1);
        uint32_t key = keys[l.spans[sp].first];
        ck_assert_int_eq((int)(key >> 16 & 3), rep7[n1]);
        n1++;
    }
    ck_assert_int_eq(n1, 7);
    free(keys);
    session_list_free(&l);
    free(s);
}
END_TEST

/* ---- training, round trip, scoring ---- */

START_TEST(test_training_lowers_loss)
{
    recset *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    benign(s, 1, 40);
    train_sessions_config cfg;
    small_train_config(&cfg);
    session_model *m;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(train_sessions_run(&m, s->p, s->n, NULL, 0, &cfg, err), 0);
    session_data d;
    ck_assert_int_eq(session_data_build(&d, &m->vocab, s->p, s->n, NULL, 0, &cfg.sess, NULL, 0, err), 0);
    size_t *idx = malloc(d.list.n_spans * sizeof(size_t));
    ck_assert_ptr_nonnull(idx);
    for (size_t k = 0; k < d.list.n_spans; k++)
        idx[k] = k;
    for (int j = 0; j < 2; j++) {
        session_net *fresh;
        ck_assert_int_eq(session_net_create(&fresh, &m->net[j]->cfg, cfg.seed + (uint64_t)j,
                                            err), 0);
        float before, after;
        ck_assert_int_eq(train_sessions_eval_loss(&before, fresh, &d, idx, d.list.n_spans, 16,
                                                  err), 0);
        ck_assert_int_eq(train_sessions_eval_loss(&after, m->net[j], &d, idx, d.list.n_spans,
                                                  16, err), 0);
        ck_assert_msg(after < 0.6f * before, "%s: loss %g -> %g", session_method_to_string(j),
                      before, after);
        session_net_destroy(fresh);
    }
    free(idx);
    session_data_free(&d);
    session_model_destroy(m);
    free(s);
}
END_TEST

/* A model trained briefly (epochs) on two clients' benign rounds: *s holds
 * their records (free it), *cfg the configuration. */
static session_model *small_model(recset **s, train_sessions_config *cfg, int epochs)
{
    *s = calloc(1, sizeof(**s));
    ck_assert_ptr_nonnull(*s);
    benign(*s, 2, 15);
    small_train_config(cfg);
    cfg->epochs = epochs;
    session_model *m;
    char err[SS_ERRBUF_SIZE];
    ck_assert_msg(train_sessions_run(&m, (*s)->p, (*s)->n, NULL, 0, cfg, err) == 0, "%s", err);
    return m;
}

START_TEST(test_model_round_trip)
{
    recset *s;
    train_sessions_config cfg;
    session_model *m = small_model(&s, &cfg, 5), *m2;
    char err[SS_ERRBUF_SIZE];
    modelfile_t *mf;
    params_t *p;
    ck_assert_int_eq(session_model_to_file(&mf, &p, m, err), 0);
    void *buf;
    size_t len;
    ck_assert_int_eq(modelfile_save_buffer(mf, p, &buf, &len, err), 0);
    ck_assert_msg(session_model_load_buffer(&m2, buf, len, err) == 0, "%s", err);
    ck_assert_uint_eq(m2->id, modelfile_fnv1a64(buf, len));
    ck_assert_int_eq(m2->vocab.n_states, m->vocab.n_states);
    ck_assert_int_eq(m2->vocab.n_sizes, m->vocab.n_sizes);
    ck_assert_int_eq(m2->vocab.n_services, m->vocab.n_services);
    ck_assert_mem_eq(m2->vocab.size_tails, m->vocab.size_tails,
                     (size_t)m->vocab.n_services * 3 * sizeof(float));
    ck_assert_int_eq(m2->sess.max_conns, m->sess.max_conns);
    ck_assert_int_eq(m2->score_top, 5);
    ck_assert_int_eq(m2->score_rule, SESSION_SCORE_SURPRISAL);
    ck_assert_double_eq(m2->host_factor, 1.1);
    for (int j = 0; j < 2; j++) {
        ck_assert_uint_eq(m2->net[j]->params->total, m->net[j]->params->total);
        ck_assert_mem_eq(m2->net[j]->params->data, m->net[j]->params->data,
                         m->net[j]->params->total * sizeof(float));
        ck_assert_int_eq(m2->net[j]->cfg.bidirectional, m->net[j]->cfg.bidirectional);
        ck_assert_int_eq(m2->net[j]->cfg.layers, m->net[j]->cfg.layers);
    }
    session_data d;
    ck_assert_int_eq(session_data_build(&d, &m->vocab, s->p, s->n, NULL, 0, &cfg.sess, NULL, 0, err), 0);
    double *l1 = malloc(d.list.n_members * sizeof(double));
    double *l2 = malloc(d.list.n_members * sizeof(double));
    ck_assert(l1 && l2);
    for (int k = 0; k < SESSION_METHOD_COUNT; k++) {
        ck_assert_int_eq(session_model_likelihoods(l1, NULL, m, k, &d, err), 0);
        ck_assert_int_eq(session_model_likelihoods(l2, NULL, m2, k, &d, err), 0);
        ck_assert_mem_eq(l1, l2, d.list.n_members * sizeof(double));
        for (int c = 0; c < SESSION_LEN_CLASSES; c++)
            ck_assert_double_eq_tol(m2->thr[k].global[c], m->thr[k].global[c], 1e-6);
        ck_assert_uint_eq(m2->thr[k].n_hosts, m->thr[k].n_hosts);
        ck_assert_uint_gt(m->thr[k].n_hosts, 0);
    }
    /* tail scales of the wrong count, or not positive, are refused */
    {
        size_t nt = (size_t)m->vocab.n_services * 3, blen;
        float *bad = calloc(nt, sizeof(float));
        ck_assert_ptr_nonnull(bad);
        session_model *m4;
        void *b2;
        for (int c = 0; c < 3; c++) {
            const float *vals = c == 2 ? m->vocab.size_tails : bad;
            ck_assert_int_eq(modelfile_set_norm(mf, "size_tails", vals, c == 0 ? nt - 1 : nt,
                                                err), 0);
            ck_assert_int_eq(modelfile_save_buffer(mf, p, &b2, &blen, err), 0);
            int rc = session_model_load_buffer(&m4, b2, blen, err);
            free(b2);
            if (c == 2) {
                ck_assert_msg(rc == 0, "%s", err);
                session_model_destroy(m4);
                continue;
            }
            ck_assert_int_eq(rc, SS_ERR_FORMAT);
            ck_assert_ptr_null(m4);
            ck_assert_ptr_nonnull(strstr(err, c == 0 ? "retrain" : "bad size_tails"));
        }
        free(bad);
    }
    /* a correlator model is refused as a session model */
    modelfile_t *other;
    ck_assert_int_eq(modelfile_create(&other, "correlator", err), 0);
    session_model *m3;
    ck_assert_int_ne(session_model_from_file(&m3, other, 0, err), 0);
    ck_assert_ptr_null(m3);
    modelfile_destroy(other);
    /* a missing tensor is refused with its name */
    free(buf);
    params_t *q;
    ck_assert_int_eq(params_create(&q, err), 0);
    for (size_t t = 1; t < p->n_tensors; t++)
        ck_assert_int_ge(params_add(q, p->tensors[t].name, p->tensors[t].ndim,
                                    p->tensors[t].shape, 0, err), 0);
    ck_assert_int_eq(params_alloc(q, err), 0);
    ck_assert_int_eq(modelfile_save_buffer(mf, q, &buf, &len, err), 0);
    ck_assert_int_eq(session_model_load_buffer(&m3, buf, len, err), SS_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err, p->tensors[0].name));
    free(buf);
    params_destroy(q);
    free(l1);
    free(l2);
    session_data_free(&d);
    modelfile_destroy(mf);
    params_destroy(p);
    session_model_destroy(m);
    session_model_destroy(m2);
    session_model_destroy(NULL);
    free(s);
}
END_TEST

/* The threshold estimator against hand-computed values: the exponential tail
 * above the median with few scores, the empirical quantile with many, and the
 * largest score as a floor. */
START_TEST(test_tail_quantile)
{
    double v[10];
    for (int i = 0; i < 10; i++)
        v[i] = (double)(10 - i); /* 10..1, sorted in place */
    /* median 5.5; mean excess of 6..10 over it 2.5: 5.5 + 2.5 ln(0.5 / 0.001) */
    ck_assert_double_eq_tol(train_sessions_tail_quantile(v, 10, 0.999, SESSION_SCORE_SURPRISAL),
                            5.5 + 2.5 * log(500.0), 1e-9);
    ck_assert_double_eq(v[0], 1.0);
    /* never below the largest: median 3, mean excess (1 + 97) / 2 = 49, fit
     * 3 + 49 ln(0.5 / 0.1) = 81.9, below the 100 it was set on */
    double w[5] = {100.0, 4.0, 3.0, 2.0, 1.0};
    ck_assert_double_eq(train_sessions_tail_quantile(w, 5, 0.9, SESSION_SCORE_SURPRISAL), 100.0);
    /* 3000 scores at q 0.999: 3 expected above, the empirical quantile (linear
     * between order statistics: position 0.999 * 2999 = 2996.001) */
    double *u = malloc(3000 * sizeof(double));
    ck_assert_ptr_nonnull(u);
    for (int i = 0; i < 3000; i++)
        u[i] = (double)((i * 7919) % 3000);
    ck_assert_double_eq_tol(train_sessions_tail_quantile(u, 3000, 0.999, SESSION_SCORE_SURPRISAL),
                            2996.001, 1e-9);
    /* a bounded score always takes the empirical quantile */
    for (int i = 0; i < 10; i++)
        v[i] = 0.1 * i;
    ck_assert_double_eq_tol(train_sessions_tail_quantile(v, 10, 0.999, SESSION_SCORE_MEAN_LIK),
                            0.9 - 0.1 * 0.009, 1e-9);
    free(u);
}
END_TEST

/* The global threshold of a length class comes from the sessions of every host
 * but the busy ones: those with enough sessions for a threshold of their own
 * *and* more than the average host of the class. A host with enough sessions but
 * no more than average (here the clients) stays in the pool. */
START_TEST(test_global_threshold_pool)
{
    recset *s;
    train_sessions_config cfg;
    session_model *m = small_model(&s, &cfg, 3);
    char err[SS_ERRBUF_SIZE];
    recset *cal = calloc(1, sizeof(*cal));
    ck_assert_ptr_nonnull(cal);
    benign(cal, 7, 30);
    session_data d;
    ck_assert_int_eq(session_data_build(&d, &m->vocab, cal->p, cal->n, NULL, 0, &cfg.sess, NULL, 0, err),
                     0);
    const int need = 5;
    const double q = 0.999;
    ck_assert_int_eq(train_sessions_thresholds(m, SESSION_METHOD_BILSTM, &d, NULL, 0, q, need,
                                               err), 0);
    size_t ns = d.list.n_spans;
    double *lik = malloc(d.list.n_members * sizeof(double));
    session_result *res = malloc(ns * sizeof(*res));
    double *pool = malloc(ns * sizeof(double));
    ck_assert(lik && res && pool);
    ck_assert_int_eq(session_model_likelihoods(lik, NULL, m, SESSION_METHOD_BILSTM, &d, err), 0);
    session_model_results(res, m, SESSION_METHOD_BILSTM, &d, lik);
    int checked = 0, kept_enough = 0;
    for (int c = 0; c < SESSION_LEN_CLASSES; c++) {
        /* sessions of the class per host (hosts are 1..4 and 100..102 here) */
        size_t cnt[256] = {0}, n_hosts = 0, tot = 0, k = 0;
        for (size_t i = 0; i < ns; i++)
            if (session_length_class(d.list.spans[i].n) == c)
                cnt[d.list.spans[i].host[3]]++;
        for (int h = 0; h < 256; h++) {
            n_hosts += cnt[h] > 0;
            tot += cnt[h];
        }
        if (!tot)
            continue;
        double avg = (double)tot / (double)n_hosts;
        for (int h = 0; h < 256; h++)
            kept_enough += cnt[h] >= (size_t)need && (double)cnt[h] <= avg;
        for (size_t i = 0; i < ns; i++) {
            size_t kc = cnt[d.list.spans[i].host[3]];
            if (session_length_class(d.list.spans[i].n) == c &&
                !(kc >= (size_t)need && (double)kc > avg))
                pool[k++] = res[i].score;
        }
        ck_assert_uint_gt(k, 0);
        double want = train_sessions_tail_quantile(pool, k, q, m->score_rule);
        ck_assert_double_eq_tol(m->thr[SESSION_METHOD_BILSTM].global[c], want, 1e-9 * want);
        checked++;
    }
    ck_assert_int_gt(checked, 0);
    ck_assert_int_gt(kept_enough, 0); /* the case that tells the rule from "enough" alone */
    free(lik);
    free(res);
    free(pool);
    session_data_free(&d);
    session_model_destroy(m);
    free(cal);
    free(s);
}
END_TEST

/* A never-seen pattern (a host probing 25 ports, rejected) scores higher
 * than every benign session under the BiLSTM model. (The baselines are not
 * held to it: the predict-next LSTM learns from the session itself that
 * "other" follows "other", and the Markov chain gives some benign sessions
 * of servers higher scores; scores of both are still printed on failure.) */
START_TEST(test_unseen_pattern_scores_higher)
{
    recset *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    benign(s, 3, 40);
    train_sessions_config cfg;
    small_train_config(&cfg);
    session_model *m;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(train_sessions_run(&m, s->p, s->n, NULL, 0, &cfg, err), 0);
    size_t n_benign = s->n;
    for (int k = 0; k < 25; k++)
        add_rec(s, 9, 101, 6, 1000 + 7 * k, 5000.0 + 0.05 * k, 0.001, 0, CONNTAB_STATE_REJ);
    session_data d;
    ck_assert_int_eq(session_data_build(&d, &m->vocab, s->p, s->n, NULL, 0, &cfg.sess, NULL, 0, err), 0);
    double *lik = malloc(2 * d.list.n_members * sizeof(double));
    session_result *res = malloc(d.list.n_spans * sizeof(*res));
    ck_assert(lik && res);
    double *ent = lik + d.list.n_members;
    for (int k = 0; k < SESSION_METHOD_COUNT; k++) {
        if (k != SESSION_METHOD_BILSTM)
            continue;
        ck_assert_int_eq(session_model_likelihoods(lik, ent, m, k, &d, err), 0);
        for (size_t j = 0; j < d.list.n_members; j++)
            ck_assert(ent[j] >= 0.0 && ent[j] < 10.0);
        /* each likelihood against the net's own probabilities, one session at a time:
         * the refused probes by the less likely of state and size, the others by the
         * geometric mean */
        const session_net *net = m->net[k];
        int In = net->cfg.input_size, n_implied = 0;
        for (size_t sp = 0; sp < d.list.n_spans; sp++) {
            const session_span *span = &d.list.spans[sp];
            int len = span->n;
            float *acts = malloc(session_net_acts_size(net, 1, len) * sizeof(float));
            ck_assert_ptr_nonnull(acts);
            ck_assert_int_eq(session_net_forward(NULL, acts, d.x + span->first * (size_t)In, &len,
                                                 NULL, NULL, net, 1, len, err), 0);
            const float *ps, *pz;
            session_net_probs(&ps, &pz, acts, net, 1, len);
            for (int t = 0; t < len; t++) {
                size_t j = span->first + (size_t)t;
                /* the state's probability is its id's shared among the states the
                 * id stands for */
                double pst = ps[(size_t)t * net->cfg.n_states + d.state[j]] /
                             m->vocab.state_types[d.state[j]];
                double psz = pz[(size_t)t * net->cfg.n_sizes + d.size[j]] * exp(-d.tail[j]);
                int implied = session_key_size_implied(d.key[j]);
                n_implied += implied;
                ck_assert_int_eq(implied, d.list.conn[j] >= n_benign); /* the probes only */
                double want = implied ? fmin(pst, psz) : sqrt(pst * psz);
                ck_assert_double_eq_tol(lik[j], want, 1e-5 * want + 1e-12);
            }
            free(acts);
        }
        ck_assert_int_eq(n_implied, 50); /* 25 probes, each in two sessions */
        session_model_results(res, m, k, &d, lik);
        for (size_t sp = 0; sp < d.list.n_spans; sp++) { /* the documented score */
            int n = d.list.spans[sp].n, K = m->score_top;
            double sum = 0.0, x[64];
            ck_assert_int_le(n, 64);
            for (int j = 0; j < n; j++) {
                x[j] = -log(fmax(lik[d.list.spans[sp].first + (size_t)j], SESSION_MIN_LIKELIHOOD));
                sum += x[j];
            }
            double want = sum / sqrt(n);
            if (K > 0 && n > K) { /* plus the burst part: the K largest, by selection */
                double burst = 0.0;
                for (int r = 0; r < K; r++) {
                    int b = 0;
                    for (int j = 1; j < n; j++)
                        b = x[j] > x[b] ? j : b;
                    burst += x[b];
                    x[b] = -1.0;
                }
                want = fmax(want, burst / sqrt(K));
            }
            ck_assert_double_eq_tol(res[sp].score, want, 1e-9);
        }
        double worst_benign = 0.0, scan = -1.0;
        for (size_t sp = 0; sp < d.list.n_spans; sp++) {
            const session_span *span = &d.list.spans[sp];
            int is_scan = d.list.conn[span->first] >= n_benign && span->host[3] == 9;
            int has_scan = 0;
            for (int j = 0; j < span->n; j++)
                has_scan |= d.list.conn[span->first + (size_t)j] >= n_benign;
            if (is_scan)
                scan = res[sp].score;
            else if (!has_scan && res[sp].score > worst_benign)
                worst_benign = res[sp].score;
        }
        ck_assert_msg(scan > worst_benign, "%s: scan %g, worst benign %g",
                      session_method_to_string(k), scan, worst_benign);
    }
    free(lik);
    free(res);
    session_data_free(&d);
    session_model_destroy(m);
    free(s);
}
END_TEST

START_TEST(test_markov)
{
    markov_t *mk;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(markov_create(&mk, 3, 0.5, err), 0);
    int a[4] = {0, 1, 0, 1}, b[2] = {0, 2};
    markov_observe(mk, a, 4);
    markov_observe(mk, b, 2);
    /* start row: 0 seen twice -> (2 + .5) / (2 + 1.5) */
    ck_assert_double_eq_tol(markov_prob(mk, -1, 0), 2.5 / 3.5, 1e-12);
    /* after 0: 1 twice, 2 once -> P(1|0) = 2.5 / 4.5 */
    ck_assert_double_eq_tol(markov_prob(mk, 0, 1), 2.5 / 4.5, 1e-12);
    ck_assert_double_eq_tol(markov_prob(mk, 2, 1), 1.0 / 3.0, 1e-12); /* unseen row */
    double lik[2];
    int seq[2] = {0, 1};
    double sc = markov_score(mk, seq, 2, lik);
    ck_assert_double_eq_tol(sc, 1.0 - (2.5 / 3.5 + 2.5 / 4.5) / 2.0, 1e-12);
    ck_assert_double_eq_tol(lik[1], 2.5 / 4.5, 1e-12);
    markov_destroy(mk);
    markov_destroy(NULL);
    ck_assert_int_eq(markov_create(&mk, 0, 0.5, err), SS_ERR_ARG);
}
END_TEST

START_TEST(test_bad_model_files)
{
    char path[] = "/tmp/check-session-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char junk[] = "this is not a model";
    ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    session_model *m;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(session_model_load(&m, path, err), SS_ERR_FORMAT);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_null(strchr(err, '\n'));
    /* the one size cap of model files (modelfile_load), the file named */
    ck_assert_int_eq(truncate(path, (off_t)MODELFILE_MAX_BYTES + 1), 0);
    ck_assert_int_eq(session_model_load(&m, path, err), SS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "too large"));
    unlink(path);
    ck_assert_int_eq(session_model_load(&m, path, err), SS_ERR_IO);
    ck_assert_int_ne(session_model_load_buffer(&m, "", 0, err), 0);
}
END_TEST

Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sessions_gap_and_cut);
    tcase_add_test(tc, test_tokens);
    tcase_add_test(tc, test_size_classes);
    tcase_add_test(tc, test_partial_at_start);
    tcase_add_test(tc, test_threshold_lookup);
    tcase_add_test(tc, test_score_burst);
    tcase_add_test(tc, test_score_mean_likelihood);
    tcase_add_test(tc, test_size_implied);
    tcase_add_test(tc, test_session_keys);
    tcase_add_test(tc, test_training_lowers_loss);
    tcase_add_test(tc, test_model_round_trip);
    tcase_add_test(tc, test_size_tails);
    tcase_add_test(tc, test_tail_quantile);
    tcase_add_test(tc, test_global_threshold_pool);
    tcase_add_test(tc, test_unseen_pattern_scores_higher);
    tcase_add_test(tc, test_markov);
    tcase_add_test(tc, test_bad_model_files);
    suite_add_tcase(s, tc);
    return s;
}

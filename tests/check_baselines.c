/* check_baselines.c - tests for the classic correlation baselines
 * (correlate/zhangpaxson.c, ipd.c, deviation.c) and the method registry.
 *
 * Hand-made legs: a relayed leg (the same packets, a few ms later) must
 * score high, an unrelated one low; on a generated capture without chaff or
 * jitter every baseline must beat the random method clearly.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "candidates.h"
#include "connset.h"
#include "deviation.h"
#include "evaluate.h"
#include "ipd.h"
#include "labels.h"
#include "method.h"
#include "registry.h"
#include "status.h"
#include "synth.h"
#include "zhangpaxson.h"

#define NP 400

/* Simple deterministic generator for the tests. */
static double urand(uint64_t *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*st >> 11) / 9007199254740992.0;
}

/* Interactive-looking times (us): keystroke gaps of ~150 ms with pauses of
 * 1-3 s every ~8 keys, from t0. */
static void typing(int64_t *ts, size_t n, int64_t t0, uint64_t seed)
{
    uint64_t st = seed;
    int64_t t = t0;
    for (size_t i = 0; i < n; i++) {
        double gap = urand(&st) < 0.12 ? 1.0 + 2.0 * urand(&st) : 0.05 + 0.2 * urand(&st);
        t += (int64_t)(gap * 1e6);
        ts[i] = t;
    }
}

/* A record whose ORIG packets are at ts (1-byte keystrokes, 36 B framed)
 * and each answered by a RESP echo 2 ms later. */
static void leg_make(conntab_record *r, conntab_pkt *pk, const int64_t *ts, size_t n,
                     int64_t start, int64_t shift, uint64_t serial)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->uid, sizeof r->uid, "C%llu", (unsigned long long)serial);
    r->serial = serial;
    r->family = 4;
    r->proto = 6;
    r->start_us = start;
    for (size_t i = 0; i < n; i++) {
        pk[2 * i].dt_us = ts[i] + shift - start;
        pk[2 * i].dir = CONNTAB_DIR_ORIG;
        pk[2 * i].payload_len = 36;
        pk[2 * i + 1].dt_us = ts[i] + shift + 2000 - start;
        pk[2 * i + 1].dir = CONNTAB_DIR_RESP;
        pk[2 * i + 1].payload_len = 36 + (uint32_t)(i % 3) * 16;
    }
    r->pkts = pk;
    r->n_pkts = (uint32_t)(2 * n);
    r->orig_pkts = r->resp_pkts = n;
    r->end_us = start + pk[2 * n - 1].dt_us;
}

typedef struct legs {
    conntab_record in, relayed, other;
    conntab_pkt pin[2 * NP], prel[2 * NP], poth[2 * NP];
} legs;

static legs *legs_make(void)
{
    legs *l = calloc(1, sizeof(*l));
    ck_assert_ptr_nonnull(l);
    int64_t a[NP], b[NP];
    typing(a, NP, 0, 1);
    typing(b, NP, 0, 2);
    leg_make(&l->in, l->pin, a, NP, 0, 0, 0);
    leg_make(&l->relayed, l->prel, a, NP, a[0] - 1000, 5000, 1);  /* 5 ms later */
    leg_make(&l->other, l->poth, b, NP, a[0] - 1000, 0, 2);       /* unrelated */
    return l;
}

START_TEST(test_zhangpaxson_pair)
{
    legs *l = legs_make();
    zhangpaxson_config cfg;
    zhangpaxson_config_default(&cfg);
    ck_assert_int_eq(cfg.idle_us, 500000);
    ck_assert_int_eq(cfg.delta_us, 80000);
    int64_t *ws = malloc(4 * 2 * NP * sizeof(*ws));
    ck_assert_ptr_nonnull(ws);
    double hit = zhangpaxson_score_pair(&cfg, &l->in, &l->relayed, ws);
    double miss = zhangpaxson_score_pair(&cfg, &l->in, &l->other, ws);
    ck_assert_msg(hit > 0.95, "relayed leg scored %g", hit);
    ck_assert_msg(miss < cfg.gamma, "unrelated leg scored %g", miss);
    free(ws);
    free(l);
}
END_TEST

START_TEST(test_ipd_pair)
{
    legs *l = legs_make();
    ipd_config cfg;
    ipd_config_default(&cfg);
    int64_t *ws = malloc(4 * 2 * NP * sizeof(*ws));
    ck_assert_ptr_nonnull(ws);
    double hit = ipd_score_pair(&cfg, &l->in, &l->relayed, ws);
    double miss = ipd_score_pair(&cfg, &l->in, &l->other, ws);
    ck_assert_msg(hit > 0.99, "relayed leg scored %g", hit);
    ck_assert_msg(miss < cfg.threshold, "unrelated leg scored %g", miss);
    free(ws);
    free(l);
}
END_TEST

START_TEST(test_deviation_pair)
{
    legs *l = legs_make();
    deviation_config cfg;
    deviation_config_default(&cfg);
    int64_t *ws = malloc(4 * 2 * NP * sizeof(*ws));
    uint32_t *lws = malloc(4 * 2 * NP * sizeof(*lws));
    double *dws = malloc(4 * 2 * NP * sizeof(*dws));
    ck_assert(ws && lws && dws);
    double hit = deviation_score_pair(&cfg, &l->in, &l->relayed, ws, lws, dws);
    double miss = deviation_score_pair(&cfg, &l->in, &l->other, ws, lws, dws);
    ck_assert_msg(hit > 0.98, "relayed leg scored %g", hit);
    ck_assert_msg(miss < hit - 0.02, "unrelated leg scored %g (relayed %g)", miss, hit);
    free(ws);
    free(lws);
    free(dws);
    free(l);
}
END_TEST

START_TEST(test_registry)
{
    char errbuf[SS_ERRBUF_SIZE] = "";
    method m;
    ck_assert_int_eq(registry_create(&m, "no-such-method", NULL, errbuf), SS_ERR_ARG);
    ck_assert(strstr(errbuf, "zhang-paxson") != NULL);
    ck_assert_ptr_null(m.score);
    method_free(&m);
    method_free(NULL);
    const char *names[] = {"zhang-paxson", "ipd", "deviation", "random"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_msg(registry_create(&m, names[i], NULL, errbuf) == 0, "%s", errbuf);
        ck_assert_str_eq(m.name, names[i]);
        ck_assert_ptr_nonnull(m.score);
        method_free(&m);
    }
    size_t n = 0;
    for (const registry_entry *r = registry_methods(); r->name; r++)
        n++;
    ck_assert_uint_ge(n, 4);
}
END_TEST

/* On a capture without chaff or jitter, every baseline beats random. */
START_TEST(test_baselines_beat_random)
{
    char dir[] = "/tmp/check-base.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char pcap[128], csv[128], errbuf[SS_ERRBUF_SIZE] = "";
    snprintf(pcap, sizeof pcap, "%s/s.pcap", dir);
    snprintf(csv, sizeof csv, "%s/s.csv", dir);
    synth_config cfg;
    synth_config_default(&cfg);
    cfg.seed = 1100;
    cfg.duration_s = 300;
    cfg.chains = 8;
    cfg.background = 60;
    cfg.kind = SYNTH_KIND_MIX;
    cfg.max_output = 50000;
    ck_assert_msg(synth_generate(&cfg, pcap, csv, NULL, errbuf) == 0, "%s", errbuf);
    connset *set = NULL;
    const char *paths[1] = {pcap};
    ck_assert_msg(connset_load(&set, paths, 1, NULL, errbuf) == 0, "%s", errbuf);
    labels lab;
    labels_init(&lab);
    ck_assert_int_eq(labels_read(&lab, csv, errbuf), 0);
    evaluate_truth t;
    ck_assert_int_eq(evaluate_truth_build(&t, &lab, set, errbuf), 0);
    candidates_pair *p = NULL;
    size_t n = 0;
    ck_assert_int_eq(candidates_find(&p, &n, set, NULL, errbuf), 0);
    double *scores = malloc(n * sizeof(*scores));
    ck_assert_ptr_nonnull(scores);

    const char *names[] = {"random", "zhang-paxson", "ipd", "deviation"};
    double auc_random = 0;
    for (size_t i = 0; i < 4; i++) {
        method m;
        ck_assert_int_eq(registry_create(&m, names[i], NULL, errbuf), 0);
        evaluate_result r;
        ck_assert_msg(evaluate_method(&r, &m, set, p, n, &t, scores, errbuf) == 0, "%s", errbuf);
        ck_assert(r.have_auc);
        ck_assert_uint_gt(r.n_candidates - r.n_positives, 2 * r.n_positives);
        if (i == 0) {
            auc_random = r.auc;
            ck_assert_msg(r.auc > 0.2 && r.auc < 0.8, "random AUC %g", r.auc);
        } else {
            ck_assert_msg(r.auc >= 0.9 && r.auc > auc_random + 0.15, "%s AUC %g (random %g)",
                          names[i], r.auc, auc_random);
        }
        method_free(&m);
    }
    free(scores);
    candidates_free(p);
    evaluate_truth_free(&t);
    labels_free(&lab);
    connset_free(set);
    unlink(pcap);
    unlink(csv);
    rmdir(dir);
}
END_TEST

Suite *baselines_suite(void)
{
    Suite *s = suite_create("baselines");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_zhangpaxson_pair);
    tcase_add_test(tc, test_ipd_pair);
    tcase_add_test(tc, test_deviation_pair);
    tcase_add_test(tc, test_registry);
    tcase_add_test(tc, test_baselines_beat_random);
    suite_add_tcase(s, tc);
    return s;
}

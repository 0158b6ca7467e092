/* check_candidates.c - tests for src/connset.c and correlate/candidates.c.
 *
 * Hand-made connection sets with known pairs, the sweep against a brute-force
 * enumeration on random sets, and every labelled hop of generated captures
 * found among the candidates.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "candidates.h"
#include "connset.h"
#include "evaluate.h"
#include "labels.h"
#include "status.h"
#include "synth.h"

#define S 1000000LL

static void rec_make(conntab_record *r, uint64_t serial, uint8_t proto, uint8_t orig,
                     uint8_t resp, int64_t start_s, int64_t end_s)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->uid, sizeof(r->uid), "C%llu", (unsigned long long)serial);
    r->serial = serial;
    r->family = 4;
    r->proto = proto;
    r->orig_h[0] = 10;
    r->orig_h[3] = orig;
    r->resp_h[0] = 10;
    r->resp_h[3] = resp;
    r->orig_p = (uint16_t)(40000 + serial);
    r->resp_p = 22;
    r->start_us = start_s * S;
    r->end_us = end_s * S;
    r->orig_pkts = r->resp_pkts = 5;
}

static connset *set_of(const conntab_record *recs, size_t n)
{
    char errbuf[SS_ERRBUF_SIZE];
    connset *set = NULL;
    ck_assert_int_eq(connset_create(&set, errbuf), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(connset_add(set, &recs[i], errbuf), 0);
    connset_sort(set);
    return set;
}

START_TEST(test_known_pairs)
{
    /* host 2 is the relay; index = serial because starts are increasing */
    conntab_record r[7];
    rec_make(&r[0], 0, 6, 1, 2, 0, 100);  /* in: 1 -> 2 */
    rec_make(&r[1], 1, 6, 5, 2, 1, 4);    /* in that ends before the outs start */
    rec_make(&r[2], 2, 6, 2, 3, 10, 50);  /* out: 2 -> 3: pairs with 0 */
    rec_make(&r[3], 3, 6, 2, 1, 20, 30);  /* out back to 1: the reverse leg of 0 */
    rec_make(&r[4], 4, 17, 2, 4, 25, 40); /* UDP: never a candidate */
    rec_make(&r[5], 5, 6, 4, 2, 30, 90);  /* in after the out 2 started */
    rec_make(&r[6], 6, 6, 2, 6, 60, 200); /* out: pairs with 0 and 5 */
    connset *set = set_of(r, 7);
    ck_assert_uint_eq(connset_count(set), 7);
    candidates_pair *p = NULL;
    size_t n = 0;
    char errbuf[SS_ERRBUF_SIZE];
    ck_assert_int_eq(candidates_find(&p, &n, set, NULL, errbuf), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(p[0].in, 0);
    ck_assert_uint_eq(p[0].out, 2);
    ck_assert_uint_eq(p[1].in, 0);
    ck_assert_uint_eq(p[1].out, 6);
    ck_assert_uint_eq(p[2].in, 5);
    ck_assert_uint_eq(p[2].out, 6);
    candidates_free(p);

    /* minimum overlap: 0 -> 2 overlap 40 s, 0 -> 6 overlap 40 s, 5 -> 6 30 s */
    candidates_config cfg;
    candidates_config_default(&cfg);
    cfg.min_overlap_us = 35 * S;
    ck_assert_int_eq(candidates_find(&p, &n, set, &cfg, errbuf), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(p[1].out, 6);
    ck_assert_uint_eq(p[1].in, 0);
    candidates_free(p);
    cfg.min_overlap_us = -1;
    ck_assert_int_eq(candidates_find(&p, &n, set, &cfg, errbuf), SS_ERR_ARG);
    ck_assert_ptr_null(p);

    /* minimum packets */
    candidates_config_default(&cfg);
    cfg.min_pkts = 11;
    ck_assert_int_eq(candidates_find(&p, &n, set, &cfg, errbuf), 0);
    ck_assert_uint_eq(n, 0);
    candidates_free(p);

    /* maximum lead: in 5 (starts 30 s) may now feed out 2 (starts 10 s) */
    candidates_config_default(&cfg);
    cfg.max_lead_us = 20 * S;
    ck_assert_int_eq(candidates_find(&p, &n, set, &cfg, errbuf), 0);
    ck_assert_uint_eq(n, 5); /* (0,2) (5,2) (5,3) (0,6) (5,6) */
    ck_assert_uint_eq(p[1].in, 5);
    ck_assert_uint_eq(p[1].out, 2);
    candidates_free(p);
    connset_free(set);
}
END_TEST

START_TEST(test_find)
{
    conntab_record r[3];
    rec_make(&r[0], 0, 6, 1, 2, 0, 10);
    rec_make(&r[1], 1, 6, 1, 2, 20, 30); /* same 5-tuple reused later */
    r[1].orig_p = r[0].orig_p;
    rec_make(&r[2], 2, 6, 3, 4, 5, 6);
    connset *set = set_of(r, 3);
    uint8_t a[16] = {10, 0, 0, 1}, b[16] = {10, 0, 0, 2};
    /* sorted by start: serial 2 (start 5 s) comes before serial 1 (20 s) */
    ck_assert_uint_eq(connset_get(set, 1)->serial, 2);
    ck_assert_int_eq(connset_find(set, 6, 4, a, r[0].orig_p, b, 22, 21 * S, 25 * S), 2);
    ck_assert_int_eq(connset_find(set, 6, 4, a, r[0].orig_p, b, 22, 1 * S, 2 * S), 0);
    /* either direction */
    ck_assert_int_eq(connset_find(set, 6, 4, b, 22, a, r[0].orig_p, 1 * S, 2 * S), 0);
    ck_assert_int_eq(connset_find(set, 6, 4, b, 22, a, r[0].orig_p, 1, 0), 0);
    ck_assert_int_eq(connset_find(set, 17, 4, a, r[0].orig_p, b, 22, 1, 0), -1);
    ck_assert_int_eq(connset_find(set, 6, 4, a, 1, b, 22, 1, 0), -1);
    connset_free(set);
    connset_free(NULL);
    candidates_free(NULL);
}
END_TEST

static int pair_cmp(const void *pa, const void *pb)
{
    const candidates_pair *x = pa, *y = pb;
    if (x->out != y->out)
        return x->out < y->out ? -1 : 1;
    return (x->in > y->in) - (x->in < y->in);
}

START_TEST(test_sweep_matches_brute_force)
{
    srand(12345u + (unsigned)_i);
    size_t nc = 300;
    conntab_record *r = calloc(nc, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    for (size_t i = 0; i < nc; i++) {
        int64_t start = rand() % 1000;
        rec_make(&r[i], i, rand() % 10 ? 6 : 17, (uint8_t)(1 + rand() % 6),
                 (uint8_t)(1 + rand() % 6), start, start + rand() % 200);
        r[i].orig_pkts = (uint64_t)(rand() % 8);
        r[i].resp_pkts = 0;
    }
    connset *set = set_of(r, nc);
    candidates_config cfg;
    candidates_config_default(&cfg);
    cfg.min_overlap_us = (_i % 2) * 30 * S;
    cfg.max_lead_us = (_i / 2) * 20 * S;
    cfg.min_pkts = (uint32_t)(_i % 3);
    candidates_pair *p = NULL;
    size_t n = 0;
    char errbuf[SS_ERRBUF_SIZE];
    ck_assert_int_eq(candidates_find(&p, &n, set, &cfg, errbuf), 0);

    candidates_pair *want = malloc(nc * nc * sizeof(*want));
    ck_assert_ptr_nonnull(want);
    size_t nw = 0;
    for (size_t o = 0; o < nc; o++) {
        const conntab_record *ro = connset_get(set, o);
        for (size_t i = 0; i < nc; i++) {
            const conntab_record *ri = connset_get(set, i);
            if (i == o || ro->proto != 6 || ri->proto != 6)
                continue;
            if (ro->orig_pkts + ro->resp_pkts < cfg.min_pkts ||
                ri->orig_pkts + ri->resp_pkts < cfg.min_pkts)
                continue;
            if (memcmp(ri->resp_h, ro->orig_h, 4) || !memcmp(ro->resp_h, ri->orig_h, 4))
                continue;
            if (ri->start_us > ro->start_us + cfg.max_lead_us)
                continue;
            int64_t end = ri->end_us < ro->end_us ? ri->end_us : ro->end_us;
            int64_t beg = ri->start_us > ro->start_us ? ri->start_us : ro->start_us;
            if (end - beg < cfg.min_overlap_us)
                continue;
            want[nw].in = (uint32_t)i;
            want[nw].out = (uint32_t)o;
            nw++;
        }
    }
    qsort(want, nw, sizeof(*want), pair_cmp);
    ck_assert_uint_gt(nw, 10);
    ck_assert_uint_eq(n, nw);
    for (size_t k = 0; k < n; k++) {
        ck_assert_uint_eq(p[k].in, want[k].in);
        ck_assert_uint_eq(p[k].out, want[k].out);
    }
    free(want);
    candidates_free(p);
    connset_free(set);
    free(r);
}
END_TEST

/* Every labelled hop of generated captures is a candidate. */
START_TEST(test_synth_hops_are_candidates)
{
    char dir[] = "/tmp/check-cand.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char pcap[128], csv[128], errbuf[SS_ERRBUF_SIZE] = "";
    snprintf(pcap, sizeof pcap, "%s/s.pcap", dir);
    snprintf(csv, sizeof csv, "%s/s.csv", dir);
    synth_config cfg;
    synth_config_default(&cfg);
    cfg.seed = 1000 + (uint64_t)_i;
    cfg.duration_s = 120;
    cfg.chains = 4;
    cfg.hops_max = 5;
    cfg.background = 20;
    cfg.kind = SYNTH_KIND_MIX;
    cfg.chaff = _i % 2 ? 1.0 : 0.0;
    cfg.jitter_s = _i % 2 ? 0.5 : 0.0;
    cfg.max_output = 20000;
    ck_assert_msg(synth_generate(&cfg, pcap, csv, NULL, errbuf) == 0, "%s", errbuf);

    connset *set = NULL;
    const char *paths[1] = {pcap};
    ck_assert_msg(connset_load(&set, paths, 1, NULL, errbuf) == 0, "%s", errbuf);
    for (size_t i = 1; i < connset_count(set); i++)
        ck_assert(connset_get(set, i - 1)->start_us <= connset_get(set, i)->start_us);
    labels lab;
    labels_init(&lab);
    ck_assert_msg(labels_read(&lab, csv, errbuf) == 0, "%s", errbuf);
    ck_assert_uint_gt(lab.n, 3);
    evaluate_truth t;
    ck_assert_int_eq(evaluate_truth_build(&t, &lab, set, errbuf), 0);
    ck_assert_uint_eq(t.n_unresolved, 0);
    ck_assert_uint_eq(t.n_hops, lab.n);
    candidates_pair *p = NULL;
    size_t n = 0;
    ck_assert_int_eq(candidates_find(&p, &n, set, NULL, errbuf), 0);
    int *pos = malloc((n + 1) * sizeof(*pos));
    ck_assert_ptr_nonnull(pos);
    ck_assert_uint_eq(evaluate_mark(pos, &t, p, n), t.n_hops);
    ck_assert_uint_gt(n, t.n_hops); /* and negatives too */
    free(pos);
    candidates_free(p);
    evaluate_truth_free(&t);
    labels_free(&lab);
    connset_free(set);
    unlink(pcap);
    unlink(csv);
    rmdir(dir);
}
END_TEST

START_TEST(test_load_errors)
{
    char errbuf[SS_ERRBUF_SIZE] = "";
    connset *set = (connset *)1;
    const char *paths[1] = {"/nonexistent/x.pcap"};
    ck_assert_int_lt(connset_load(&set, paths, 1, NULL, errbuf), 0);
    ck_assert_ptr_null(set);
    ck_assert(strstr(errbuf, "/nonexistent/x.pcap") != NULL);
}
END_TEST

Suite *candidates_suite(void)
{
    Suite *s = suite_create("candidates");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_known_pairs);
    tcase_add_test(tc, test_find);
    tcase_add_loop_test(tc, test_sweep_matches_brute_force, 0, 6);
    tcase_add_loop_test(tc, test_synth_hops_are_candidates, 0, 4);
    tcase_add_test(tc, test_load_errors);
    suite_add_tcase(s, tc);
    return s;
}

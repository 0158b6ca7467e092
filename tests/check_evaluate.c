/* check_evaluate.c - tests for correlate/evaluate.c: an oracle method that
 * reads the labels scores AUC 1 and rebuilds every chain; a random one
 * scores about 0.5; unresolvable label rows count as missed. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "candidates.h"
#include "connset.h"
#include "evaluate.h"
#include "labels.h"
#include "method.h"
#include "registry.h"
#include "status.h"
#include "synth.h"

/* The oracle: 1 for a labelled hop, 0 otherwise (ctx: the truth). */
static int oracle_score(void *ctx, const connset *set, const candidates_pair *pairs, size_t n,
                        double *scores, char *errbuf)
{
    (void)set;
    (void)errbuf;
    int *pos = malloc((n + 1) * sizeof(*pos));
    if (!pos)
        return SS_ERR_NOMEM;
    evaluate_mark(pos, ctx, pairs, n);
    for (size_t i = 0; i < n; i++)
        scores[i] = pos[i];
    free(pos);
    return SS_OK;
}

typedef struct fixture {
    char dir[32], pcap[128], csv[128];
    connset *set;
    labels lab;
    evaluate_truth t;
    candidates_pair *p;
    size_t n;
} fixture;

static void fixture_make(fixture *f, uint64_t seed, double chaff, double jitter)
{
    char errbuf[SS_ERRBUF_SIZE] = "";
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof f->dir, "/tmp/check-eval.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->pcap, sizeof f->pcap, "%s/s.pcap", f->dir);
    snprintf(f->csv, sizeof f->csv, "%s/s.csv", f->dir);
    synth_config cfg;
    synth_config_default(&cfg);
    cfg.seed = seed;
    cfg.duration_s = 200;
    cfg.chains = 6;
    cfg.hops_max = 5;
    cfg.background = 40;
    cfg.kind = SYNTH_KIND_MIX;
    cfg.chaff = chaff;
    cfg.jitter_s = jitter;
    cfg.max_output = 30000;
    ck_assert_msg(synth_generate(&cfg, f->pcap, f->csv, NULL, errbuf) == 0, "%s", errbuf);
    const char *paths[1] = {f->pcap};
    ck_assert_msg(connset_load(&f->set, paths, 1, NULL, errbuf) == 0, "%s", errbuf);
    labels_init(&f->lab);
    ck_assert_int_eq(labels_read(&f->lab, f->csv, errbuf), 0);
    ck_assert_int_eq(evaluate_truth_build(&f->t, &f->lab, f->set, errbuf), 0);
    ck_assert_int_eq(candidates_find(&f->p, &f->n, f->set, NULL, errbuf), 0);
}

static void fixture_free(fixture *f)
{
    candidates_free(f->p);
    evaluate_truth_free(&f->t);
    labels_free(&f->lab);
    connset_free(f->set);
    unlink(f->pcap);
    unlink(f->csv);
    rmdir(f->dir);
}

START_TEST(test_oracle_is_perfect)
{
    fixture f;
    fixture_make(&f, 1200 + (uint64_t)_i, _i ? 2.0 : 0.0, _i ? 1.0 : 0.0);
    char errbuf[SS_ERRBUF_SIZE] = "";
    method m = {"oracle", 0.5, oracle_score, &f.t, NULL};
    double *scores = malloc(f.n * sizeof(*scores));
    ck_assert_ptr_nonnull(scores);
    evaluate_result r;
    ck_assert_msg(evaluate_method(&r, &m, f.set, f.p, f.n, &f.t, scores, errbuf) == 0, "%s",
                  errbuf);
    ck_assert_str_eq(r.method, "oracle");
    ck_assert_uint_eq(r.n_labelled, f.lab.n);
    ck_assert_uint_eq(r.n_positives, f.lab.n);
    ck_assert_uint_eq(r.n_missed, 0);
    ck_assert(r.have_auc);
    ck_assert_double_eq(r.auc, 1.0);
    for (int k = 0; k < EVALUATE_NFPR; k++)
        ck_assert_double_eq(r.tpr[k], 1.0);
    ck_assert_uint_eq(r.hops_true, f.lab.n);
    ck_assert_uint_eq(r.hops_false, 0);
    ck_assert_double_eq(r.precision, 1.0);
    ck_assert_double_eq(r.recall, 1.0);
    ck_assert_uint_eq(r.chains_labelled, 6);
    ck_assert_uint_eq(r.chains_reconstructed, 6);
    ck_assert_uint_eq(r.chains_reported, 6);

    /* the inverted oracle scores 0 and reconstructs nothing */
    for (size_t i = 0; i < f.n; i++)
        scores[i] = 1.0 - scores[i];
    ck_assert_int_eq(evaluate_scores(&r, "inverse", 0.5, f.set, f.p, f.n, &f.t, scores, errbuf),
                     0);
    ck_assert_double_eq(r.auc, 0.0);
    ck_assert_uint_eq(r.chains_reconstructed, 0);
    ck_assert_uint_eq(r.hops_true, 0);

    /* ROC rows: header-less CSV, ending at (1,1) */
    FILE *tf = tmpfile();
    ck_assert_ptr_nonnull(tf);
    int *pos = malloc(f.n * sizeof(*pos));
    ck_assert_ptr_nonnull(pos);
    evaluate_mark(pos, &f.t, f.p, f.n);
    ck_assert_int_eq(evaluate_write_roc(tf, "inverse", scores, pos, f.n, errbuf), 0);
    rewind(tf);
    char line[256], last[256] = "";
    int rows = 0;
    while (fgets(line, sizeof line, tf)) {
        ck_assert(!strncmp(line, "inverse,", 8));
        snprintf(last, sizeof last, "%s", line);
        rows++;
    }
    ck_assert_int_ge(rows, 2);
    ck_assert_msg(strstr(last, ",1,1\n") != NULL, "last ROC row '%s'", last);
    fclose(tf);
    free(pos);
    free(scores);
    fixture_free(&f);
}
END_TEST

START_TEST(test_random_near_half)
{
    /* many pairs, 10 % positives, the registry's random method */
    size_t nc = 4001;
    connset *set = NULL;
    char errbuf[SS_ERRBUF_SIZE];
    ck_assert_int_eq(connset_create(&set, errbuf), 0);
    for (size_t i = 0; i < nc; i++) {
        conntab_record r;
        memset(&r, 0, sizeof r);
        snprintf(r.uid, sizeof r.uid, "C%06zu", i);
        r.serial = i;
        r.family = 4;
        r.proto = 6;
        r.orig_h[0] = 10;
        r.orig_h[1] = (uint8_t)(i >> 8);
        r.orig_h[2] = (uint8_t)i;
        r.orig_p = 1000;
        r.resp_p = 22;
        r.start_us = (int64_t)i;
        r.end_us = (int64_t)i + 10;
        ck_assert_int_eq(connset_add(set, &r, errbuf), 0);
    }
    connset_sort(set);
    size_t n = nc - 1;
    candidates_pair *p = malloc(n * sizeof(*p));
    double *scores = malloc(n * sizeof(*scores));
    ck_assert(p && scores);
    for (size_t i = 0; i < n; i++) {
        p[i].in = 0;
        p[i].out = (uint32_t)(i + 1);
    }
    /* truth: a labels set naming every 10th pair */
    labels lab;
    labels_init(&lab);
    for (size_t i = 0; i < n; i += 10) {
        const conntab_record *a = connset_get(set, 0), *b = connset_get(set, i + 1);
        labels_hop h;
        memset(&h, 0, sizeof h);
        h.chain_id = (uint32_t)i;
        snprintf(h.kind, sizeof h.kind, "nc");
        h.in_src.family = h.in_dst.family = h.out_src.family = h.out_dst.family = 4;
        memcpy(h.in_src.addr, a->orig_h, 4);
        h.in_src.port = a->orig_p;
        memcpy(h.in_dst.addr, a->resp_h, 4);
        h.in_dst.port = a->resp_p;
        memcpy(h.out_src.addr, b->orig_h, 4);
        h.out_src.port = b->orig_p;
        memcpy(h.out_dst.addr, b->resp_h, 4);
        h.out_dst.port = b->resp_p;
        h.start_us = a->start_us;
        h.end_us = b->end_us;
        ck_assert_int_eq(labels_append(&lab, &h, errbuf), 0);
    }
    /* plus a row naming connections that are not in the set */
    labels_hop ghost = lab.hops[0];
    ghost.in_src.port = 9;
    ghost.chain_id = 999999;
    ck_assert_int_eq(labels_append(&lab, &ghost, errbuf), 0);
    evaluate_truth t;
    ck_assert_int_eq(evaluate_truth_build(&t, &lab, set, errbuf), 0);
    ck_assert_uint_eq(t.n_unresolved, 1);
    ck_assert_uint_eq(t.n_hops, 400);

    method m;
    ck_assert_int_eq(registry_create(&m, "random", NULL, errbuf), 0);
    evaluate_result r;
    ck_assert_int_eq(evaluate_method(&r, &m, set, p, n, &t, scores, errbuf), 0);
    ck_assert_uint_eq(r.n_positives, 400);
    ck_assert_uint_eq(r.n_labelled, 401);
    ck_assert_uint_eq(r.n_missed, 1);
    ck_assert_msg(fabs(r.auc - 0.5) < 0.05, "random AUC %g", r.auc);
    ck_assert(r.tpr_meaningful[0] && r.tpr_meaningful[1] && !r.tpr_meaningful[2]);
    /* one out per pair: every pair above 0.5 is reported, ~10 % true */
    ck_assert_uint_gt(r.hops_reported, 1500);
    ck_assert_msg(r.precision < 0.2, "random precision %g", r.precision);
    method_free(&m);
    evaluate_truth_free(&t);
    labels_free(&lab);
    free(p);
    free(scores);
    connset_free(set);
}
END_TEST

Suite *evaluate_suite(void)
{
    Suite *s = suite_create("evaluate");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_oracle_is_perfect, 0, 2);
    tcase_add_test(tc, test_random_near_half);
    suite_add_tcase(s, tc);
    return s;
}

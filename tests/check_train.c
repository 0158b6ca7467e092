/* check_train.c - tests for train_correlate.c: on a tiny generated set
 * (synthetic captures, training seeds < 1000) training lowers the loss and
 * raises the validation TPR, is deterministic for a seed, writes a model
 * that loads back; threshold calibration; refusal of bad data. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "candidates.h"
#include "connset.h"
#include "encoder.h"
#include "hopscore.h"
#include "lstm_method.h"
#include "status.h"
#include "synth.h"
#include "threads.h"
#include "train_correlate.h"

static char dir[] = "/tmp/check_train.XXXXXX";
static char paths[3][2][128]; /* pcap, csv */

static void make_data(void)
{
    char err[SS_ERRBUF_SIZE];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    for (int k = 0; k < 3; k++) {
        synth_config sc;
        synth_config_default(&sc);
        sc.seed = 101 + (uint64_t)k;
        sc.duration_s = 150;
        sc.chains = 5;
        sc.background = 40;
        sc.kind = SYNTH_KIND_MIX;
        sc.chaff = 2;          /* hard enough that the untrained model is not perfect */
        sc.jitter_s = 0.5;
        snprintf(paths[k][0], sizeof(paths[k][0]), "%s/s%d.pcap", dir, k);
        snprintf(paths[k][1], sizeof(paths[k][1]), "%s/s%d.csv", dir, k);
        ck_assert_msg(synth_generate(&sc, paths[k][0], paths[k][1], NULL, err) == 0, "%s", err);
    }
}

static void remove_data(void)
{
    for (int k = 0; k < 3; k++) {
        unlink(paths[k][0]);
        unlink(paths[k][1]);
    }
    rmdir(dir);
}

static void tiny_config(train_correlate_config *cfg)
{
    train_correlate_config_default(cfg);
    encoder_config_default(&cfg->enc, CONNFEAT_KIND_SEQ);
    cfg->enc.feat.steps = 32;
    cfg->enc.hidden = 12;
    cfg->enc.dim = 16;
    cfg->epochs = 4;
    cfg->steps = 8;
    cfg->batch = 16;
    cfg->patience = 10;
    cfg->seed = 3;
}

START_TEST(test_train_improves)
{
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(threads_apply(1, err), 0);
    make_data();
    const char *p0[1] = {paths[0][0]}, *p1[1] = {paths[1][0]}, *p2[1] = {paths[2][0]};
    train_correlate_data tr[2] = {{p0, 1, paths[0][1]}, {p1, 1, paths[1][1]}};
    train_correlate_data va[1] = {{p2, 1, paths[2][1]}};
    train_correlate_config cfg;
    tiny_config(&cfg);
    char model[160];
    snprintf(model, sizeof(model), "%s/m.model", dir);
    cfg.out_path = model;
    train_correlate_result r1, r2;
    encoder *e1 = NULL, *e2 = NULL;
    ck_assert_msg(train_correlate_run(&e1, &r1, &cfg, tr, 2, va, 1, err) == 0, "%s", err);
    ck_assert_uint_gt(r1.train_hops, 5);
    ck_assert_uint_gt(r1.val_hops, 2);
    ck_assert_int_eq(r1.epochs_run, 4);
    ck_assert_msg(r1.last_loss < r1.first_loss, "loss %g -> %g", r1.first_loss, r1.last_loss);
    ck_assert_msg(r1.best_epoch > 0, "no epoch beat the untrained model");
    ck_assert_msg(r1.best_val_tpr + 0.01 * r1.best_val_auc >
                      r1.initial_val_tpr + 0.01 * r1.initial_val_auc,
                  "validation TPR %g (AUC %g) -> %g (AUC %g)", r1.initial_val_tpr,
                  r1.initial_val_auc, r1.best_val_tpr, r1.best_val_auc);
    ck_assert(r1.threshold > 0 && r1.threshold <= 1);

    /* the checkpoint is the returned model */
    encoder *back = NULL;
    ck_assert_msg(encoder_load(&back, model, err) == 0, "%s", err);
    ck_assert_uint_eq(back->params->total, e1->params->total);
    ck_assert_int_eq(memcmp(back->params->data, e1->params->data,
                            e1->params->total * sizeof(float)), 0);
    ck_assert_double_eq(back->threshold, e1->threshold);
    encoder_destroy(back);

    /* same seed, same model */
    cfg.out_path = NULL;
    ck_assert_msg(train_correlate_run(&e2, &r2, &cfg, tr, 2, va, 1, err) == 0, "%s", err);
    ck_assert_double_eq(r1.last_loss, r2.last_loss);
    ck_assert_int_eq(memcmp(e1->params->data, e2->params->data,
                            e1->params->total * sizeof(float)), 0);
    encoder_destroy(e2);

    /* recalibration: at most target_fpr of the set's negatives (scored here
     * independently, as `chains` scores) lie at or above the new threshold,
     * and a slightly lower threshold lets more through */
    size_t nn = 0, np = 0;
    double tpr = -1;
    ck_assert_msg(train_correlate_recalibrate(e1, &nn, &np, &tpr, va, 1, 0.1, err) == 0, "%s",
                  err);
    {
        connset *cs = NULL;
        candidates_pair *pairs = NULL;
        size_t n = 0;
        connset_config cc;
        connset_config_default(&cc);
        cc.tcp_only = 1;
        ck_assert_msg(connset_load(&cs, p2, 1, &cc, err) == 0, "%s", err);
        ck_assert_msg(candidates_find(&pairs, &n, cs, NULL, err) == 0, "%s", err);
        int *hop = calloc(n, sizeof(int));
        double *sc = calloc(n, sizeof(double));
        ck_assert(hop && sc);
        ck_assert_msg(train_correlate_label_pairs(hop, NULL, cs, pairs, n, paths[2][1], err) == 0,
                      "%s", err);
        ck_assert_msg(lstm_method_score_pairs(e1, cs, pairs, n, sc, err) == 0, "%s", err);
        size_t neg = 0, pos = 0, above = 0, below_hit = 0, pos_hit = 0, few = 0;
        for (size_t i = 0; i < n; i++) {
            /* a pair seen on k windows scores at most (k/(k+1) + 1)/2: little
             * evidence cannot give a high score */
            int64_t g0;
            int k = hopscore_windows(&e1->cfg.feat, connset_get(cs, pairs[i].in),
                                             connset_get(cs, pairs[i].out), &g0);
            few += k <= 2;
            ck_assert_msg(sc[i] <= (k / (k + 1.0) + 1.0) / 2.0 + 1e-9,
                          "pair %zu: %d windows, score %g", i, k, sc[i]);
            if (hop[i]) {
                pos++;
                pos_hit += sc[i] >= e1->threshold;
            } else {
                neg++;
                above += sc[i] >= e1->threshold;
                below_hit += sc[i] >= e1->threshold - 1e-3;
            }
        }
        ck_assert_uint_eq(nn, neg);
        ck_assert_uint_eq(np, pos);
        ck_assert_uint_gt(nn, 5);
        ck_assert_uint_gt(few, 0);
        ck_assert_msg(above <= (size_t)floor(0.1 * (double)neg), "%zu of %zu negatives above",
                      above, neg);
        ck_assert_msg(below_hit > above || e1->threshold <= 1e-3 || above == neg,
                      "threshold %g is not the lowest allowed", e1->threshold);
        ck_assert_double_eq_tol(tpr, (double)pos_hit / (double)pos, 1e-12);
        free(hop);
        free(sc);
        candidates_free(pairs);
        connset_free(cs);
    }
    ck_assert_int_eq(train_correlate_recalibrate(e1, &nn, &np, NULL, va, 0, 1e-4, err),
                     SS_ERR_ARG);
    ck_assert_int_eq(train_correlate_recalibrate(e1, &nn, &np, NULL, va, 1, 0, err), SS_ERR_ARG);

    /* labels that match nothing: a clear error */
    char bad[160];
    snprintf(bad, sizeof(bad), "%s/bad.csv", dir);
    FILE *f = fopen(bad, "w");
    fprintf(f, "%s\n", "chain_id,kind,relay_host_ip,in_src_ip,in_src_port,in_dst_ip,"
                       "in_dst_port,out_src_ip,out_src_port,out_dst_ip,out_dst_port,"
                       "start_time,end_time");
    fclose(f);
    train_correlate_data nolab[1] = {{p0, 1, bad}};
    ck_assert_int_eq(train_correlate_run(&e2, &r2, &cfg, nolab, 1, va, 1, err), SS_ERR_EMPTY);
    ck_assert_ptr_null(e2);
    unlink(bad);
    encoder_destroy(e1);
    unlink(model);
    remove_data();
}
END_TEST

START_TEST(test_calibrate)
{
    double neg[20000];
    for (int k = 0; k < 20000; k++)
        neg[k] = (double)k / 20000.0;
    /* 1e-4 of 20000 = 2 negatives may lie at or above the threshold */
    double thr = train_correlate_calibrate(neg, 20000, 1e-4);
    int above = 0;
    for (int k = 0; k < 20000; k++)
        above += neg[k] >= thr;
    ck_assert_int_eq(above, 2);
    double few[3] = {0.2, 0.9, 0.5};
    thr = train_correlate_calibrate(few, 3, 1e-4);
    ck_assert(thr > 0.9 && thr < 0.9000001);
}
END_TEST

Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_calibrate);
    tcase_add_test(tc, test_train_improves);
    suite_add_tcase(s, tc);
    return s;
}

/* check_hopscore.c - tests for correlate/hopscore.c: the plain hop score,
 * the per-window-count calibration (thresholds from constructed negatives,
 * computed by hand), the calibrated score's mapping, and the thresholds'
 * round trip through a model file (the model's id ignores them; bad values
 * are refused). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoder.h"
#include "hopscore.h"
#include "modelfile.h"
#include "status.h"

/* The plain score of k windows of mean similarity m (hopscore.h). */
static double plain_of(double m, int k)
{
    return (m * k / (k + 1.0) + 1.0) / 2.0;
}

START_TEST(test_plain)
{
    ck_assert_double_eq_tol(hopscore_plain(0.9 * 6, 6), plain_of(0.9, 6), 1e-12);
    ck_assert_double_eq_tol(hopscore_plain(1.0, 1), 0.75, 1e-12);
    ck_assert_double_eq(hopscore_plain(0.0, 0), 0.0);
    ck_assert_double_eq(hopscore_plain(-7.0, 6), 0.0); /* clamped */
    /* an uncalibrated encoder reports the plain score */
    encoder enc;
    memset(&enc, 0, sizeof(enc));
    enc.threshold = 0.8;
    ck_assert_double_eq(hopscore_score(&enc, 3.3, 4), hopscore_plain(3.3, 4));
    ck_assert_double_eq(hopscore_score(NULL, 3.3, 4), hopscore_plain(3.3, 4));
}
END_TEST

/* 20 000 one-window negatives of mean similarity -1 + 2 i / 20 000, ten
 * six-window ones of mean 0.1 j, and fifty two-window ones whose highest
 * mean (0.3) is below the six-window threshold. */
START_TEST(test_calibrate)
{
    size_t n1 = 20000, n6 = 10, n2 = 50, n = n1 + n6 + n2;
    double *sum = malloc(n * sizeof(*sum));
    int *used = malloc(n * sizeof(*used));
    size_t c = 0;
    for (size_t i = 0; i < n1; i++, c++) {
        sum[c] = -1.0 + 2.0 * (double)i / (double)n1;
        used[c] = 1;
    }
    for (size_t j = 0; j < n6; j++, c++) {
        sum[c] = 6 * 0.1 * (double)j; /* highest mean 0.9 */
        used[c] = 6;
    }
    for (size_t j = 0; j < n2; j++, c++) {
        sum[c] = 2 * 0.3 * (double)j / (double)(n2 - 1);
        used[c] = 2;
    }
    float thr[6][ENCODER_HOP_LEVELS], level[ENCODER_HOP_LEVELS];
    double thr_plain;
    char err[SS_ERRBUF_SIZE];
    const int L = ENCODER_HOP_LEVELS;
    ck_assert_int_eq(hopscore_calibrate(thr, level, &thr_plain, 6, sum, used, n, 1e-4, err), 0);
    /* one window at the target (1e-4): 2 of 20 000 may lie above, so just
     * above the third highest; at 10x the target, above the 21st */
    double m3 = -1.0 + 2.0 * (double)(n1 - 3) / (double)n1;
    double m21 = -1.0 + 2.0 * (double)(n1 - 21) / (double)n1;
    ck_assert_double_eq_tol(thr[0][L - 1], plain_of(nextafter(m3, INFINITY), 1), 1e-6);
    ck_assert_double_eq_tol(thr[0][L - 2], plain_of(nextafter(m21, INFINITY), 1), 1e-6);
    /* six windows: fewer than 10^4 negatives, so their highest (0.9), which
     * is above what the pooled threshold asks of six windows */
    ck_assert_double_eq_tol(thr[5][L - 1], plain_of(0.9, 6), 1e-5);
    /* 3 to 5 windows: no pair, the six-window mean; 2 windows: its own top
     * (0.3) and the pooled threshold's ask are below 0.9, so lifted to 0.9 */
    for (int k = 2; k <= 5; k++)
        ck_assert_double_eq_tol(thr[k - 1][L - 1], plain_of(0.9, k), 1e-5);
    /* every row and the levels increase; the last level is the plain
     * threshold over all pairs */
    for (int k = 0; k < 6; k++)
        for (int j = 1; j < L; j++)
            ck_assert(thr[k][j] > thr[k][j - 1]);
    for (int j = 1; j < L; j++)
        ck_assert(level[j] > level[j - 1]);
    /* (the six-window pairs' plain scores are the highest: 0.886, 0.843, 0.8) */
    ck_assert_double_eq_tol(level[L - 1], plain_of(0.7, 6), 1e-6);
    /* no six-window pair at all: the largest count takes the level */
    ck_assert_int_eq(hopscore_calibrate(thr, level, &thr_plain, 6, sum, used, n1, 1e-4, err), 0);
    ck_assert_double_eq_tol(thr[5][L - 1], level[L - 1], 1e-5);
    /* six-window pairs too few to tell their tail and below the level's ask
     * (highest mean 0.09): the pooled threshold */
    for (size_t j = 0; j < n6; j++)
        sum[n1 + j] = 6 * 0.01 * (double)j;
    ck_assert_int_eq(hopscore_calibrate(thr, level, &thr_plain, 6, sum, used, n1 + n6, 1e-4, err), 0);
    ck_assert_double_eq_tol(thr[5][L - 1], level[L - 1], 1e-5);
    free(sum);
    free(used);
}
END_TEST

/* An encoder calibrated with two window counts: one window passes the
 * levels at plain 0.55 0.60 0.65 0.70, two or more at 0.60 0.65 0.70 0.75. */
static void calibrated(encoder *enc)
{
    memset(enc, 0, sizeof(*enc));
    enc->threshold = 0.8;
    enc->n_hop_thr = 2;
    for (int j = 0; j < ENCODER_HOP_LEVELS; j++) {
        enc->hop_thr[0][j] = 0.55f + 0.05f * (float)j;
        enc->hop_thr[1][j] = 0.60f + 0.05f * (float)j;
        enc->hop_level[j] = 0.65f + 0.05f * (float)j;
    }
}

START_TEST(test_mapping)
{
    encoder enc;
    calibrated(&enc);
    /* a score at its count's threshold maps to the model's threshold */
    ck_assert_double_eq_tol(hopscore_score(&enc, (2 * 0.70 - 1) * 2, 1), 0.8, 1e-6);
    ck_assert_double_eq_tol(hopscore_score(&enc, (2 * 0.75 - 1) * 7, 6), 0.8, 1e-6);
    /* a level in between maps to its value; halfway between two, halfway */
    ck_assert_double_eq_tol(hopscore_score(&enc, (2 * 0.60 - 1) * 2, 1), 0.70, 1e-6);
    ck_assert_double_eq_tol(hopscore_score(&enc, (2 * 0.625 - 1) * 7, 6), 0.675, 1e-6);
    /* order kept within one count, both sides of the threshold */
    double prev = -1;
    for (int i = 0; i <= 100; i++) {
        double s = hopscore_score(&enc, -6.0 + 12.0 * i / 100.0, 6);
        ck_assert(s >= prev && s >= 0 && s <= 1);
        prev = s;
    }
    /* a one-window hop just over its threshold passes, a six-window pair of
     * the same plain score does not reach it */
    ck_assert(hopscore_score(&enc, (2 * 0.72 - 1) * 2, 1) > 0.8);
    ck_assert(hopscore_score(&enc, (2 * 0.72 - 1) * 7, 6) < 0.8);
}
END_TEST

START_TEST(test_model_roundtrip)
{
    char err[SS_ERRBUF_SIZE];
    encoder_config cfg;
    encoder_config_default(&cfg, CONNFEAT_KIND_SEQ);
    cfg.feat.steps = 8;
    cfg.hidden = 5;
    cfg.dim = 4;
    encoder *enc = NULL;
    ck_assert_msg(encoder_create(&enc, &cfg, 7, err) == 0, "%s", err);
    enc->threshold = 0.8;
    char path[] = "/tmp/check_hopscore.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_msg(encoder_save(enc, path, err) == 0, "%s", err);
    uint64_t plain_id = enc->id;
    encoder cal;
    calibrated(&cal);
    memcpy(enc->hop_thr, cal.hop_thr, sizeof(cal.hop_thr));
    memcpy(enc->hop_level, cal.hop_level, sizeof(cal.hop_level));
    enc->n_hop_thr = cal.n_hop_thr;
    ck_assert_msg(encoder_save(enc, path, err) == 0, "%s", err);
    ck_assert_uint_eq(enc->id, plain_id); /* the calibration is not the identity */
    encoder *back = NULL;
    ck_assert_msg(encoder_load(&back, path, err) == 0, "%s", err);
    ck_assert_uint_eq(back->id, plain_id);
    ck_assert_int_eq(back->n_hop_thr, 2);
    ck_assert_int_eq(memcmp(back->hop_thr, enc->hop_thr, 2 * sizeof(enc->hop_thr[0])), 0);
    ck_assert_int_eq(memcmp(back->hop_level, enc->hop_level, sizeof(enc->hop_level)), 0);
    encoder_destroy(back);
    /* a row that does not increase, or a value outside (0,1), is refused */
    enc->hop_thr[1][2] = 0.6f;
    ck_assert_msg(encoder_save(enc, path, err) == 0, "%s", err);
    back = NULL;
    ck_assert_int_lt(encoder_load(&back, path, err), 0);
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(err, "hop_thresholds row 1") != NULL, "%s", err);
    enc->hop_thr[1][2] = 0.7f;
    enc->hop_level[3] = 1.5f;
    ck_assert_msg(encoder_save(enc, path, err) == 0, "%s", err);
    ck_assert_int_lt(encoder_load(&back, path, err), 0);
    ck_assert_msg(strstr(err, "hop_levels") != NULL, "%s", err);
    unlink(path);
    encoder_destroy(enc);
}
END_TEST

Suite *hopscore_suite(void)
{
    Suite *s = suite_create("hopscore");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_plain);
    tcase_add_test(tc, test_calibrate);
    tcase_add_test(tc, test_mapping);
    tcase_add_test(tc, test_model_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}

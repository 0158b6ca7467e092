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
 * six-window ones of mean 0.05 j, and (optionally) two-window ones whose
 * highest mean is 0.3: below the six-window threshold. */
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
        sum[c] = 6 * 0.05 * (double)j; /* highest mean 0.45 */
        used[c] = 6;
    }
    for (size_t j = 0; j < n2; j++, c++) {
        sum[c] = 2 * 0.3 * (double)j / (double)(n2 - 1);
        used[c] = 2;
    }
    float thr[6];
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(hopscore_calibrate(thr, 6, sum, used, n, 1e-4, 0.79, err), 0);
    /* one window: 2 of 20 000 may lie above, so just above the third highest */
    double m3 = -1.0 + 2.0 * (double)(n1 - 3) / (double)n1;
    ck_assert_double_eq_tol(thr[0], plain_of(nextafter(m3, INFINITY), 1), 1e-6);
    /* six windows: fewer than 10^4 negatives, so their highest (0.45) */
    ck_assert_double_eq_tol(thr[5], plain_of(0.45, 6), 1e-6);
    /* 3 to 5 windows: no pair, the six-window mean; 2 windows: its own top
     * (0.3) is below 0.45, so lifted to 0.45 */
    for (int k = 2; k <= 5; k++)
        ck_assert_double_eq_tol(thr[k - 1], plain_of(0.45, k), 1e-6);
    /* no six-window pair at all: the largest count takes the plain threshold */
    ck_assert_int_eq(hopscore_calibrate(thr, 6, sum, used, n1, 1e-4, 0.79, err), 0);
    ck_assert_double_eq_tol(thr[5], 0.79, 1e-6);
    ck_assert_double_eq_tol(thr[1], plain_of((2 * 0.79 - 1) * 7 / 6, 2), 1e-6);
    free(sum);
    free(used);
}
END_TEST

START_TEST(test_mapping)
{
    encoder enc;
    memset(&enc, 0, sizeof(enc));
    enc.threshold = 0.8;
    enc.n_hop_thr = 2;
    enc.hop_thr[0] = 0.7f;  /* one window */
    enc.hop_thr[1] = 0.75f; /* two or more */
    /* a score at its count's threshold maps to the model's threshold */
    double s1 = hopscore_score(&enc, (2 * 0.7 - 1) * 2 / 1.0, 1);
    ck_assert_double_eq_tol(s1, 0.8, 1e-6);
    ck_assert_double_eq_tol(hopscore_score(&enc, (2 * 0.75 - 1) * 7, 6), 0.8, 1e-6);
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
    enc->threshold = 0.79;
    char path[] = "/tmp/check_hopscore.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_msg(encoder_save(enc, path, err) == 0, "%s", err);
    uint64_t plain_id = enc->id;
    for (int k = 0; k < 6; k++)
        enc->hop_thr[k] = 0.70f + 0.01f * (float)k;
    enc->n_hop_thr = 6;
    ck_assert_msg(encoder_save(enc, path, err) == 0, "%s", err);
    ck_assert_uint_eq(enc->id, plain_id); /* the thresholds are not the identity */
    encoder *back = NULL;
    ck_assert_msg(encoder_load(&back, path, err) == 0, "%s", err);
    ck_assert_uint_eq(back->id, plain_id);
    ck_assert_int_eq(back->n_hop_thr, 6);
    ck_assert_int_eq(memcmp(back->hop_thr, enc->hop_thr, 6 * sizeof(float)), 0);
    encoder_destroy(back);
    /* a threshold outside (0,1) is refused, naming the array */
    enc->hop_thr[2] = 1.5f;
    ck_assert_msg(encoder_save(enc, path, err) == 0, "%s", err);
    back = NULL;
    ck_assert_int_lt(encoder_load(&back, path, err), 0);
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(err, "hop_thresholds[2]") != NULL, "%s", err);
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

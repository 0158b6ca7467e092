/* check_roc.c - tests for correlate/roc.c. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "roc.h"
#include "status.h"

START_TEST(test_auc_perfect_and_reversed)
{
    double s[] = {0.9, 0.8, 0.7, 0.2, 0.1};
    int y[] = {1, 1, 1, 0, 0};
    int yr[] = {0, 0, 0, 1, 1};
    double auc;
    ck_assert_int_eq(roc_auc(&auc, s, y, 5, NULL), SS_OK);
    ck_assert_double_eq_tol(auc, 1.0, 1e-12);
    ck_assert_int_eq(roc_auc(&auc, s, yr, 5, NULL), SS_OK);
    ck_assert_double_eq_tol(auc, 0.0, 1e-12);
}
END_TEST

START_TEST(test_auc_ties_are_half)
{
    double s[] = {0.5, 0.5, 0.5, 0.5};
    int y[] = {1, 0, 1, 0};
    double auc;
    ck_assert_int_eq(roc_auc(&auc, s, y, 4, NULL), SS_OK);
    ck_assert_double_eq_tol(auc, 0.5, 1e-12);
}
END_TEST

/* Against the pairwise definition on random scores with many ties. */
START_TEST(test_auc_matches_pairwise)
{
    enum { N = 400 };
    double s[N];
    int y[N];
    unsigned st = 12345;
    for (int i = 0; i < N; i++) {
        st = st * 1103515245u + 12345u;
        y[i] = (st >> 16) % 3 == 0;
        st = st * 1103515245u + 12345u;
        s[i] = (double)((st >> 16) % 50) + (y[i] ? 5.0 : 0.0);
    }
    double wins = 0, pairs = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (y[i] && !y[j]) {
                pairs++;
                wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
            }
    double auc;
    ck_assert_int_eq(roc_auc(&auc, s, y, N, NULL), SS_OK);
    ck_assert_double_eq_tol(auc, wins / pairs, 1e-12);
}
END_TEST

START_TEST(test_tpr_at_fpr_steps)
{
    /* 4 positives, 10 negatives; the top negative outranks two positives. */
    double s[] = {10, 9, 8.5, 8, 7, 6, 5, 4, 3, 2, 1, 0.5, 0.4, 0.3};
    int y[] = {1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    double tpr;
    int ok;
    ck_assert_int_eq(roc_tpr_at_fpr(&tpr, &ok, s, y, 14, 0.05, NULL), SS_OK);
    ck_assert_double_eq_tol(tpr, 0.25, 1e-12); /* only the first positive before any FP */
    ck_assert_int_eq(ok, 0);                   /* 10 negatives < 1/0.05 */
    ck_assert_int_eq(roc_tpr_at_fpr(&tpr, &ok, s, y, 14, 0.1, NULL), SS_OK);
    ck_assert_double_eq_tol(tpr, 0.75, 1e-12);
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(roc_tpr_at_fpr(&tpr, &ok, s, y, 14, 0.2, NULL), SS_OK);
    ck_assert_double_eq_tol(tpr, 1.0, 1e-12);
}
END_TEST

START_TEST(test_curve_monotone_and_ends)
{
    double s[] = {0.3, 0.9, 0.1, 0.9, 0.5, 0.2};
    int y[] = {1, 1, 0, 0, 1, 0};
    roc_point pts[7];
    size_t n;
    ck_assert_int_eq(roc_curve(pts, &n, s, y, 6, NULL), SS_OK);
    ck_assert_uint_eq(n, 6); /* start + 5 distinct scores */
    ck_assert_double_eq(pts[0].fpr, 0.0);
    ck_assert_double_eq(pts[0].tpr, 0.0);
    ck_assert_double_eq(pts[n - 1].fpr, 1.0);
    ck_assert_double_eq(pts[n - 1].tpr, 1.0);
    for (size_t i = 1; i < n; i++) {
        ck_assert(pts[i].fpr >= pts[i - 1].fpr);
        ck_assert(pts[i].tpr >= pts[i - 1].tpr);
        ck_assert(pts[i].thr < pts[i - 1].thr);
    }
}
END_TEST

START_TEST(test_one_class_refused)
{
    double s[] = {1, 2};
    int y[] = {1, 1};
    double auc;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(roc_auc(&auc, s, y, 2, err), SS_ERR_EMPTY);
    ck_assert_int_eq(roc_tpr_at_fpr(&auc, NULL, s, y, 2, 0.0, err), SS_ERR_ARG);
}
END_TEST

Suite *roc_suite(void)
{
    Suite *s = suite_create("roc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_auc_perfect_and_reversed);
    tcase_add_test(tc, test_auc_ties_are_half);
    tcase_add_test(tc, test_auc_matches_pairwise);
    tcase_add_test(tc, test_tpr_at_fpr_steps);
    tcase_add_test(tc, test_curve_monotone_and_ends);
    tcase_add_test(tc, test_one_class_refused);
    suite_add_tcase(s, tc);
    return s;
}

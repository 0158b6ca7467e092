/* check_chains.c - tests for correlate/chains.c: matching and linking of
 * hand-scored hops into chains. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "status.h"

static void assert_chain(const chains_result *r, size_t c, const uint32_t *want, size_t len,
                         double score)
{
    ck_assert_uint_lt(c, r->n_chains);
    ck_assert_uint_eq(r->chains[c].n_conns, len);
    for (size_t i = 0; i < len; i++)
        ck_assert_uint_eq(r->conns[r->chains[c].first + i], want[i]);
    ck_assert_double_eq_tol(r->chains[c].score, score, 1e-12);
}

START_TEST(test_three_hops)
{
    /* 0 -> 1 -> 2 -> 3 (A->B->C->D); 4 competes for out 2 and loses; 1 -> 5
     * scores below the threshold. */
    candidates_pair p[] = {{0, 1}, {1, 2}, {4, 2}, {2, 3}, {1, 5}};
    double s[] = {0.9, 0.8, 0.5, 0.7, 0.2};
    chains_result r;
    char errbuf[SS_ERRBUF_SIZE];
    ck_assert_int_eq(chains_link(&r, p, s, 5, 6, 0.3, errbuf), 0);
    ck_assert_uint_eq(r.n_hops, 3);
    ck_assert_uint_eq(r.hops[0].in, 0);
    ck_assert_uint_eq(r.hops[0].out, 1);
    ck_assert_uint_eq(r.hops[1].in, 1);
    ck_assert_uint_eq(r.hops[1].out, 2);
    ck_assert_uint_eq(r.hops[2].in, 2);
    ck_assert_uint_eq(r.hops[2].out, 3);
    ck_assert_uint_eq(r.n_chains, 1);
    const uint32_t want[] = {0, 1, 2, 3};
    assert_chain(&r, 0, want, 4, 0.7);
    chains_free(&r);

    /* a higher threshold cuts the chain at its weakest hop */
    ck_assert_int_eq(chains_link(&r, p, s, 5, 6, 0.75, errbuf), 0);
    ck_assert_uint_eq(r.n_chains, 1);
    const uint32_t want2[] = {0, 1, 2};
    assert_chain(&r, 0, want2, 3, 0.8);
    chains_free(&r);

    /* the order of the pairs does not matter */
    candidates_pair q[] = {{1, 5}, {2, 3}, {4, 2}, {1, 2}, {0, 1}};
    double t[] = {0.2, 0.7, 0.5, 0.8, 0.9};
    ck_assert_int_eq(chains_link(&r, q, t, 5, 6, 0.3, errbuf), 0);
    ck_assert_uint_eq(r.n_chains, 1);
    assert_chain(&r, 0, want, 4, 0.7);
    chains_free(&r);
}
END_TEST

START_TEST(test_branch_and_ties)
{
    /* 0 feeds 1 and 2 (an inbound may feed several outbounds); 1 -> 3.
     * Out 4 has two inbounds with equal scores: the lower index wins. */
    candidates_pair p[] = {{0, 1}, {0, 2}, {1, 3}, {6, 4}, {5, 4}};
    double s[] = {0.9, 0.6, 0.8, 0.5, 0.5};
    chains_result r;
    char errbuf[SS_ERRBUF_SIZE];
    ck_assert_int_eq(chains_link(&r, p, s, 5, 7, 0.5, errbuf), 0);
    ck_assert_uint_eq(r.n_hops, 4);
    ck_assert_uint_eq(r.hops[3].out, 4);
    ck_assert_uint_eq(r.hops[3].in, 5);
    ck_assert_uint_eq(r.n_chains, 3);
    const uint32_t c0[] = {0, 1, 3}, c1[] = {0, 2}, c2[] = {5, 4};
    assert_chain(&r, 0, c0, 3, 0.8);
    assert_chain(&r, 1, c1, 2, 0.6);
    assert_chain(&r, 2, c2, 2, 0.5);
    ck_assert_uint_eq(r.n_conns_total, 7);
    chains_free(&r);
    chains_free(&r); /* empty: no-op */
    chains_free(NULL);
}
END_TEST

START_TEST(test_cycle_and_errors)
{
    /* a cycle (only possible with equal start times) has no root: no chain,
     * no endless walk */
    candidates_pair p[] = {{0, 1}, {1, 0}, {2, 3}};
    double s[] = {0.9, 0.9, 0.9};
    chains_result r;
    char errbuf[SS_ERRBUF_SIZE];
    ck_assert_int_eq(chains_link(&r, p, s, 3, 4, 0.5, errbuf), 0);
    ck_assert_uint_eq(r.n_hops, 3);
    ck_assert_uint_eq(r.n_chains, 1);
    const uint32_t c0[] = {2, 3};
    assert_chain(&r, 0, c0, 2, 0.9);
    /* the cycle's two hops are on no chain: listed as loose, by out index */
    ck_assert_uint_eq(r.n_loose, 2);
    ck_assert_uint_eq(r.hops[r.loose[0]].out, 0);
    ck_assert_uint_eq(r.hops[r.loose[0]].in, 1);
    ck_assert_uint_eq(r.hops[r.loose[1]].out, 1);
    ck_assert_uint_eq(r.hops[r.loose[1]].in, 0);
    chains_free(&r);

    ck_assert_int_eq(chains_link(&r, p, s, 3, 3, 0.5, errbuf), SS_ERR_ARG);
    ck_assert_ptr_null(r.hops);
    double bad[] = {0.9, NAN, 0.9};
    ck_assert_int_eq(chains_link(&r, p, bad, 3, 4, 0.5, errbuf), SS_ERR_ARG);
    ck_assert_int_eq(chains_link(&r, p, s, 0, 0, 0.5, errbuf), 0);
    ck_assert_uint_eq(r.n_chains, 0);
    chains_free(&r);
}
END_TEST

START_TEST(test_cycle_every_hop_reported)
{
    /* Two sessions in opposite directions between hosts A and B (0: A->B,
     * 1: B->A) are each other's best candidates: a cycle with no root. 1
     * also feeds 2 (B->C), which hangs off the cycle; 3 -> 4 -> 5 is a chain
     * and 4 also feeds 6 (a tree: two chains). Every hop is on a chain or
     * loose, none twice. */
    candidates_pair p[] = {{1, 0}, {0, 1}, {1, 2}, {3, 4}, {4, 5}, {4, 6}};
    double s[] = {0.6, 0.7, 0.8, 0.9, 0.4, 0.3};
    chains_result r;
    char errbuf[SS_ERRBUF_SIZE];
    ck_assert_int_eq(chains_link(&r, p, s, 6, 7, 0.0, errbuf), 0);
    ck_assert_uint_eq(r.n_hops, 6);
    ck_assert_uint_eq(r.n_chains, 2);
    const uint32_t c0[] = {3, 4, 5}, c1[] = {3, 4, 6};
    assert_chain(&r, 0, c0, 3, 0.4);
    assert_chain(&r, 1, c1, 3, 0.3);
    ck_assert_uint_eq(r.n_loose, 3);
    const uint32_t outs[] = {0, 1, 2}, ins[] = {1, 0, 1};
    for (size_t k = 0; k < 3; k++) {
        ck_assert_uint_eq(r.hops[r.loose[k]].out, outs[k]);
        ck_assert_uint_eq(r.hops[r.loose[k]].in, ins[k]);
    }
    /* each hop once: on a chain (out = a chain's non-first connection) or loose */
    unsigned seen[7] = {0};
    for (size_t c = 0; c < r.n_chains; c++)
        for (size_t k = 1; k < r.chains[c].n_conns; k++)
            seen[r.conns[r.chains[c].first + k]] = 1; /* 4 is on both chains */
    for (size_t k = 0; k < r.n_loose; k++)
        seen[r.hops[r.loose[k]].out]++;
    for (size_t h = 0; h < r.n_hops; h++)
        ck_assert_uint_eq(seen[r.hops[h].out], 1);
    chains_free(&r);
}
END_TEST

START_TEST(test_long_chain)
{
    /* a chain as long as the set: the walk is iterative */
    size_t n = 100000;
    candidates_pair *p = malloc(n * sizeof(*p));
    double *s = malloc(n * sizeof(*s));
    ck_assert(p && s);
    for (size_t i = 0; i < n; i++) {
        p[i].in = (uint32_t)i;
        p[i].out = (uint32_t)(i + 1);
        s[i] = 1.0 - (double)i / (double)n;
    }
    chains_result r;
    char errbuf[SS_ERRBUF_SIZE];
    ck_assert_int_eq(chains_link(&r, p, s, n, n + 1, 0.0, errbuf), 0);
    ck_assert_uint_eq(r.n_chains, 1);
    ck_assert_uint_eq(r.chains[0].n_conns, n + 1);
    ck_assert_double_eq_tol(r.chains[0].score, s[n - 1], 1e-12);
    chains_free(&r);
    free(p);
    free(s);
}
END_TEST

Suite *chains_suite(void)
{
    Suite *s = suite_create("chains");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_three_hops);
    tcase_add_test(tc, test_branch_and_ties);
    tcase_add_test(tc, test_cycle_and_errors);
    tcase_add_test(tc, test_cycle_every_hop_reported);
    tcase_add_test(tc, test_long_chain);
    suite_add_tcase(s, tc);
    return s;
}

/* check_sessnet.c - tests for the session network (sessnet.h): no
 * connection sees its own inputs, in both the BiLSTM and the predict-next
 * layout, and finite-difference checks of the parameter gradients of the
 * training loss, with and without label smoothing. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "rng.h"
#include "sessnet.h"
#include "status.h"

static session_net *make_net(int bidirectional, int layers, uint64_t seed)
{
    session_net_config c = {.input_size = 7, .n_states = 5, .n_sizes = 3, .hidden = 6,
                            .layers = layers, .bidirectional = bidirectional, .dense = 5};
    session_net *net;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(session_net_create(&net, &c, seed, err), 0);
    return net;
}

/* Changing every input of connection t never changes the prediction at t
 * (bitwise); it does change predictions elsewhere (so the test can fail). */
static void check_no_self_visibility(int bidirectional, int layers)
{
    enum { B = 2, T = 7 };
    session_net *net = make_net(bidirectional, layers, 5);
    int In = net->cfg.input_size, V = net->cfg.n_states, K = net->cfg.n_sizes;
    int lengths[B] = {T, 5};
    float *x = malloc(sizeof(float) * B * T * In), *x2 = malloc(sizeof(float) * B * T * In);
    size_t na = session_net_acts_size(net, B, T);
    float *a1 = malloc(sizeof(float) * na), *a2 = malloc(sizeof(float) * na);
    ck_assert(x && x2 && a1 && a2);
    rng_t r;
    rng_seed(&r, 11);
    rng_fill_normal(&r, x, (size_t)B * T * In, 1.0f);
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(session_net_forward(NULL, a1, x, lengths, NULL, NULL, net, B, T, err), 0);
    const float *ps1, *pz1, *ps2, *pz2;
    session_net_probs(&ps1, &pz1, a1, net, B, T);
    session_net_probs(&ps2, &pz2, a2, net, B, T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lengths[b]; t++) {
            memcpy(x2, x, sizeof(float) * B * T * In);
            for (int i = 0; i < In; i++)
                x2[((size_t)b * T + t) * In + i] += 3.0f * rng_normal(&r) + 1.0f;
            ck_assert_int_eq(session_net_forward(NULL, a2, x2, lengths, NULL, NULL, net, B, T,
                                                 err), 0);
            size_t row = (size_t)b * T + t;
            ck_assert_mem_eq(ps1 + row * V, ps2 + row * V, sizeof(float) * V);
            ck_assert_mem_eq(pz1 + row * K, pz2 + row * K, sizeof(float) * K);
            /* a neighbour that sees t: the next one always, the previous one if
             * the net looks both ways */
            int other = t + 1 < lengths[b] ? t + 1 : -1;
            if (bidirectional && t > 0 && other < 0)
                other = t - 1;
            if (other >= 0) {
                size_t orow = (size_t)b * T + other;
                ck_assert(memcmp(ps1 + orow * V, ps2 + orow * V, sizeof(float) * V) != 0);
            }
            if (bidirectional && t > 0) {
                size_t prow = (size_t)b * T + t - 1;
                ck_assert(memcmp(ps1 + prow * V, ps2 + prow * V, sizeof(float) * V) != 0);
            }
            if (!bidirectional && t > 0) { /* predict-next: the past never sees t */
                size_t prow = (size_t)b * T + t - 1;
                ck_assert_mem_eq(ps1 + prow * V, ps2 + prow * V, sizeof(float) * V);
            }
            /* the other sequence of the batch is untouched */
            size_t ob = (size_t)(1 - b) * T;
            ck_assert_mem_eq(ps1 + ob * V, ps2 + ob * V, sizeof(float) * V);
        }
    free(x);
    free(x2);
    free(a1);
    free(a2);
    session_net_destroy(net);
}

START_TEST(test_no_self_visibility_bilstm)
{
    check_no_self_visibility(1, 2);
}
END_TEST

START_TEST(test_no_self_visibility_lstm1)
{
    check_no_self_visibility(0, 1);
}
END_TEST

/* Finite-difference check of the parameter gradients of the full loss, with
 * and without label smoothing (_i: 0 or 1). */
START_TEST(test_gradients)
{
    enum { B = 3, T = 5 };
    session_net *net = make_net(1, 2, 3);
    net->smoothing = _i ? 0.2f : 0.0f;
    int In = net->cfg.input_size;
    int lengths[B] = {5, 3, 1};
    float x[B * T * 7];
    int st[B * T], sz[B * T];
    rng_t r;
    rng_seed(&r, 4);
    rng_fill_normal(&r, x, sizeof(x) / sizeof(x[0]), 1.0f);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int valid = t < lengths[b];
            st[b * T + t] = valid ? (int)rng_below(&r, 5) : -1;
            sz[b * T + t] = valid ? (int)rng_below(&r, 3) : -1;
        }
    ck_assert_int_eq(In, 7);
    float *acts = malloc(sizeof(float) * session_net_acts_size(net, B, T));
    float *ws = malloc(sizeof(float) * session_net_workspace_size(net, B, T));
    ck_assert(acts && ws);
    char err[SS_ERRBUF_SIZE];
    float loss;
    ck_assert_int_eq(session_net_forward(&loss, acts, x, lengths, st, sz, net, B, T, err), 0);
    ck_assert(isfinite(loss) && loss > 0);
    params_zero_grad(net->params);
    ck_assert_int_eq(session_net_backward(ws, acts, x, lengths, st, sz, net, B, T, err), 0);
    params_t *p = net->params;
    double worst = 0.0;
    int checked = 0;
    for (size_t k = 0; k < p->n_tensors; k++) {
        const params_tensor *t = &p->tensors[k];
        for (int j = 0; j < 3; j++) {
            size_t q = t->offset + rng_below(&r, t->size);
            float keep = p->data[q], lp, lm;
            const float h = 1e-2f;
            p->data[q] = keep + h;
            session_net_forward(&lp, acts, x, lengths, st, sz, net, B, T, err);
            p->data[q] = keep - h;
            session_net_forward(&lm, acts, x, lengths, st, sz, net, B, T, err);
            p->data[q] = keep;
            double num = ((double)lp - lm) / (2.0 * h), ana = p->grad[q];
            double diff = fabs(num - ana) / fmax(1e-2, fabs(num) + fabs(ana));
            if (diff > worst)
                worst = diff;
            checked++;
        }
    }
    ck_assert_int_gt(checked, 20);
    ck_assert_msg(worst < 5e-2, "worst relative gradient difference %g", worst);
    free(acts);
    free(ws);
    session_net_destroy(net);
}
END_TEST

Suite *sessnet_suite(void)
{
    Suite *s = suite_create("sessnet");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_no_self_visibility_bilstm);
    tcase_add_test(tc, test_no_self_visibility_lstm1);
    tcase_add_loop_test(tc, test_gradients, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

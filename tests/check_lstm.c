/* check_lstm.c - tests for lstm.c, act.c and threads.c: activation accuracy,
 * parameter layout, ragged-sequence semantics, finite-difference gradients
 * and parity with a PyTorch reference (tests/ref/lstm_ref.bin, written by
 * tests/ref/lstm_ref.py). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "lstm.h"
#include "rng.h"
#include "threads.h"

/* ---- helpers ------------------------------------------------------------ */

/* All buffers one LSTM run needs, sized for cfg, B, T. */
typedef struct run {
    lstm_config cfg;
    int B, T;
    float *params, *dparams, *acts, *ws, *inp, *dinp, *out, *hlast;
} run;

static void *xcalloc(size_t n)
{
    void *p = calloc(n ? n : 1, sizeof(float));
    ck_assert_ptr_nonnull(p);
    return p;
}

static void run_init(run *r, lstm_config cfg, int B, int T)
{
    r->cfg = cfg;
    r->B = B;
    r->T = T;
    size_t D = (size_t)lstm_output_size(&cfg);
    r->params = xcalloc(lstm_num_params(&cfg));
    r->dparams = xcalloc(lstm_num_params(&cfg));
    r->acts = xcalloc(lstm_acts_size(&cfg, B, T));
    r->ws = xcalloc(lstm_workspace_size(&cfg, B, T));
    r->inp = xcalloc((size_t)B * T * cfg.input_size);
    r->dinp = xcalloc((size_t)B * T * cfg.input_size);
    r->out = xcalloc((size_t)B * T * D);
    r->hlast = xcalloc((size_t)B * D);
}

static void run_free(run *r)
{
    free(r->params);
    free(r->dparams);
    free(r->acts);
    free(r->ws);
    free(r->inp);
    free(r->dinp);
    free(r->out);
    free(r->hlast);
}

static void fill_uniform(float *x, size_t n, rng_t *g, float lo, float hi)
{
    for (size_t k = 0; k < n; k++)
        x[k] = rng_uniform_range(g, lo, hi);
}

static void forward_ok(run *r, const int *lengths)
{
    char err[SS_ERRBUF_SIZE] = "";
    int rc = lstm_forward(r->out, r->hlast, r->acts, r->inp, lengths, r->params, &r->cfg,
                          r->B, r->T, err);
    ck_assert_msg(rc == 0, "lstm_forward: %s", err);
}

/* loss = sum(out * ro) + sum(hlast * rh), accumulated in double */
static double loss_of(const run *r, const float *ro, const float *rh)
{
    size_t D = (size_t)lstm_output_size(&r->cfg);
    double s = 0.0;
    for (size_t k = 0; k < (size_t)r->B * r->T * D; k++)
        s += (double)r->out[k] * ro[k];
    for (size_t k = 0; k < (size_t)r->B * D; k++)
        s += (double)r->hlast[k] * rh[k];
    return s;
}

/* ---- activations --------------------------------------------------------- */

START_TEST(test_act_accuracy)
{
    enum { N = 200001 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    for (int k = 0; k < N; k++)
        x[k] = -30.0f + 60.0f * (float)k / (N - 1);
    x[N / 2] = 0.0f;
    x[7] = 1e-20f;
    x[8] = -3e-5f;
    x[9] = 0.6249f;
    x[10] = 0.6251f;
    double worst_s = 0, worst_t = 0, worst_e = 0;
    act_sigmoid(y, x, N);
    for (int k = 0; k < N; k++) {
        double ref = 1.0 / (1.0 + exp(-(double)x[k]));
        worst_s = fmax(worst_s, fabs(y[k] - ref) / ref);
    }
    act_tanh(y, x, N);
    for (int k = 0; k < N; k++) {
        double ref = tanh((double)x[k]);
        double rel = ref == 0.0 ? fabs(y[k]) : fabs(y[k] - ref) / fabs(ref);
        worst_t = fmax(worst_t, rel);
    }
    for (int k = 0; k < N; k++)
        x[k] = -87.0f + 175.0f * (float)k / (N - 1);
    act_exp(y, x, N);
    for (int k = 0; k < N; k++) {
        double ref = exp((double)x[k]);
        worst_e = fmax(worst_e, fabs(y[k] - ref) / ref);
    }
    printf("act: max relative error sigmoid %.3g, tanh %.3g, exp %.3g\n", worst_s, worst_t,
           worst_e);
    ck_assert_double_lt(worst_s, 1e-6);
    ck_assert_double_lt(worst_t, 1e-6);
    ck_assert_double_lt(worst_e, 1e-6);
    /* saturation: no NaN or overflow far outside the range */
    float big[4] = {-1e30f, 1e30f, -200.0f, 200.0f}, ys[4];
    act_sigmoid(ys, big, 4);
    ck_assert_float_eq_tol(ys[0], 0.0f, 1e-30f);
    ck_assert_float_eq(ys[1], 1.0f);
    act_tanh(ys, big, 4);
    ck_assert_float_eq(ys[0], -1.0f);
    ck_assert_float_eq(ys[1], 1.0f);
    ck_assert_float_eq(ys[3], 1.0f);
    /* in place gives the same as out of place */
    float a[5] = {-2, -0.5f, 0, 0.3f, 4}, b[5];
    act_tanh(b, a, 5);
    act_tanh(a, a, 5);
    ck_assert_mem_eq(a, b, sizeof a);
    free(x);
    free(y);
}
END_TEST

/* ---- layout, init, arguments --------------------------------------------- */

START_TEST(test_param_layout)
{
    lstm_config cfg = {5, 6, 2, 1};
    char err[SS_ERRBUF_SIZE];
    int n = lstm_num_tensors(&cfg);
    ck_assert_int_eq(n, 16);
    lstm_tensor t[16];
    ck_assert_int_eq(lstm_param_tensors(t, 15, &cfg, err), SS_ERR_ARG);
    ck_assert_int_eq(lstm_param_tensors(t, n, &cfg, err), 0);
    size_t off = 0;
    for (int k = 0; k < n; k++) {
        ck_assert_uint_eq(t[k].offset, off); /* adjacent, in order */
        ck_assert_uint_eq(t[k].count, (size_t)t[k].rows * t[k].cols);
        ck_assert_int_eq(t[k].rows, 24);
        off += t[k].count;
    }
    ck_assert_uint_eq(off, lstm_num_params(&cfg));
    ck_assert_str_eq(t[0].name, "weight_ih_l0");
    ck_assert_int_eq(t[0].cols, 5);
    ck_assert_str_eq(t[1].name, "weight_ih_l0_reverse");
    ck_assert_str_eq(t[2].name, "weight_hh_l0");
    ck_assert_int_eq(t[2].cols, 6);
    ck_assert_str_eq(t[7].name, "bias_hh_l0_reverse");
    ck_assert_int_eq(t[7].cols, 1);
    ck_assert_str_eq(t[8].name, "weight_ih_l1");
    ck_assert_int_eq(t[8].cols, 12); /* layer 1 reads both directions */
    /* PyTorch's count: 4H*(In+H+2) per layer and direction */
    ck_assert_uint_eq(lstm_num_params(&cfg), 2u * 24 * (5 + 6 + 2) + 2u * 24 * (12 + 6 + 2));

    lstm_config bad = {5, 0, 1, 0};
    ck_assert_int_eq(lstm_config_check(&bad, err), SS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err, "hidden"));
    bad = (lstm_config){5, 4, 1, 3};
    ck_assert_int_eq(lstm_config_check(&bad, err), SS_ERR_ARG);
}
END_TEST

START_TEST(test_init_deterministic)
{
    lstm_config cfg = {3, 16, 1, 1};
    size_t n = lstm_num_params(&cfg);
    float *a = xcalloc(n), *b = xcalloc(n);
    rng_t g1, g2;
    rng_seed(&g1, 42);
    rng_seed(&g2, 42);
    lstm_init_params(a, &cfg, &g1);
    lstm_init_params(b, &cfg, &g2);
    ck_assert_mem_eq(a, b, n * sizeof(float));
    float lo = 1, hi = -1;
    for (size_t k = 0; k < n; k++) {
        lo = fminf(lo, a[k]);
        hi = fmaxf(hi, a[k]);
    }
    ck_assert_float_ge(lo, -0.25f);
    ck_assert_float_lt(hi, 0.25f);
    ck_assert_float_lt(lo, -0.2f); /* spans the range */
    ck_assert_float_gt(hi, 0.2f);
    rng_seed(&g2, 43);
    lstm_init_params(b, &cfg, &g2);
    ck_assert_int_ne(memcmp(a, b, n * sizeof(float)), 0);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_bad_arguments)
{
    run r;
    run_init(&r, (lstm_config){2, 3, 1, 0}, 2, 4);
    char err[SS_ERRBUF_SIZE];
    int zero[2] = {4, 0}, over[2] = {5, 1};
    ck_assert_int_eq(lstm_forward(r.out, NULL, r.acts, r.inp, zero, r.params, &r.cfg, 2, 4, err),
                     SS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err, "length 0"));
    ck_assert_int_eq(lstm_forward(r.out, NULL, r.acts, r.inp, over, r.params, &r.cfg, 2, 4, err),
                     SS_ERR_ARG);
    int ok[2] = {4, 1};
    ck_assert_int_eq(lstm_forward(r.out, NULL, r.acts, r.inp, ok, r.params, &r.cfg, 0, 4, err),
                     SS_ERR_ARG);
    ck_assert_int_eq(lstm_forward(r.out, NULL, NULL, r.inp, ok, r.params, &r.cfg, 2, 4, err),
                     SS_ERR_ARG);
    ck_assert_int_eq(lstm_forward(r.out, NULL, r.acts, r.inp, ok, r.params, &r.cfg, 1 << 20,
                                  1 << 10, err),
                     SS_ERR_ARG); /* rejected before lengths or buffers are touched */
    ck_assert_ptr_nonnull(strstr(err, "too large"));
    ck_assert_int_eq(lstm_backward(r.dinp, NULL, r.out, NULL, r.acts, r.ws, r.inp, ok, r.params,
                                   &r.cfg, 2, 4, err),
                     SS_ERR_ARG);
    run_free(&r);
}
END_TEST

START_TEST(test_threads_policy)
{
    char err[SS_ERRBUF_SIZE];
    int n = -1;
    ck_assert_int_ge(threads_default(), 1);
    ck_assert_int_eq(threads_parse("2", &n, err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(threads_parse("auto", &n, err), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(threads_parse("-1", &n, err), SS_ERR_ARG);
    ck_assert_int_eq(threads_parse("2x", &n, err), SS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err, "--threads"));
    ck_assert_int_eq(threads_apply(1, err), 0);
    ck_assert_int_eq(threads_current(), 1);
    ck_assert_int_eq(threads_for_batch(2, 1), 1);
    ck_assert_int_eq(threads_for_batch(2, 32), 2);
    ck_assert_int_eq(threads_apply(0, err), 0);
    ck_assert_int_eq(threads_current(), threads_default());
}
END_TEST

/* ---- ragged semantics ----------------------------------------------------- */

/* Padded steps: zero output, and their input values change nothing. A
 * sequence's result does not depend on the other sequences in the batch. */
START_TEST(test_padding_is_inert)
{
    lstm_config cfg = {3, 5, 2, 1};
    int B = 3, T = 6, lengths[3] = {6, 2, 4};
    run r, s;
    run_init(&r, cfg, B, T);
    run_init(&s, cfg, 1, T);
    rng_t g;
    rng_seed(&g, 7);
    lstm_init_params(r.params, &cfg, &g);
    fill_uniform(r.inp, (size_t)B * T * 3, &g, -1, 1);
    forward_ok(&r, lengths);
    size_t D = 10, n_out = (size_t)B * T * D;
    float *out1 = xcalloc(n_out), *h1 = xcalloc((size_t)B * D);
    memcpy(out1, r.out, n_out * sizeof(float));
    memcpy(h1, r.hlast, (size_t)B * D * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int t = lengths[b]; t < T; t++) {
            for (size_t j = 0; j < D; j++)
                ck_assert_float_eq(r.out[((size_t)b * T + t) * D + j], 0.0f);
            for (int k = 0; k < 3; k++)
                r.inp[((size_t)b * T + t) * 3 + k] = 100.0f;
        }
    forward_ok(&r, lengths);
    ck_assert_mem_eq(out1, r.out, n_out * sizeof(float));
    ck_assert_mem_eq(h1, r.hlast, (size_t)B * D * sizeof(float));
    /* hlast: forward half at step L-1, backward half at step 0 */
    for (int b = 0; b < B; b++)
        for (int j = 0; j < 5; j++) {
            ck_assert_float_eq(r.hlast[b * D + j], r.out[((size_t)b * T + lengths[b] - 1) * D + j]);
            ck_assert_float_eq(r.hlast[b * D + 5 + j], r.out[(size_t)b * T * D + 5 + j]);
        }
    /* sequence 1 alone (batch of 1, same length) gives the same numbers */
    memcpy(s.params, r.params, lstm_num_params(&cfg) * sizeof(float));
    memcpy(s.inp, r.inp + (size_t)1 * T * 3, (size_t)T * 3 * sizeof(float));
    int l1[1] = {lengths[1]};
    forward_ok(&s, l1);
    for (size_t k = 0; k < (size_t)T * D; k++)
        ck_assert_float_eq_tol(s.out[k], r.out[(size_t)T * D + k], 1e-6f);
    free(out1);
    free(h1);
    run_free(&r);
    run_free(&s);
}
END_TEST

/* ---- finite differences ---------------------------------------------------- */

/* Central differences in float32 (step 1e-2 on O(1) values: truncation and
 * rounding errors are both ~1e-5) against the analytic gradient, for every
 * weight, bias and input of a 2-layer bidirectional LSTM with ragged
 * lengths. Loss = sum(out * ro) + sum(hlast * rh). */
static void gradcheck(lstm_config cfg, int B, int T, const int *lengths, uint64_t seed)
{
    run r;
    run_init(&r, cfg, B, T);
    rng_t g;
    rng_seed(&g, seed);
    lstm_init_params(r.params, &cfg, &g);
    size_t np = lstm_num_params(&cfg), ni = (size_t)B * T * cfg.input_size;
    size_t D = (size_t)lstm_output_size(&cfg);
    float *ro = xcalloc((size_t)B * T * D), *rh = xcalloc((size_t)B * D);
    fill_uniform(r.inp, ni, &g, -1, 1);
    fill_uniform(ro, (size_t)B * T * D, &g, -1, 1);
    fill_uniform(rh, (size_t)B * D, &g, -1, 1);

    char err[SS_ERRBUF_SIZE] = "";
    forward_ok(&r, lengths);
    memset(r.dparams, 0, np * sizeof(float));
    int rc = lstm_backward(r.dinp, r.dparams, ro, rh, r.acts, r.ws, r.inp, lengths, r.params,
                           &cfg, B, T, err);
    ck_assert_msg(rc == 0, "lstm_backward: %s", err);

    const float eps = 1e-2f;
    double worst = 0.0, worst_scale = 0.0;
    size_t n_checked = 0;
    for (int which = 0; which < 2; which++) {
        float *x = which ? r.inp : r.params;
        const float *ana = which ? r.dinp : r.dparams;
        size_t n = which ? ni : np;
        for (size_t k = 0; k < n; k++) {
            float keep = x[k];
            x[k] = keep + eps;
            forward_ok(&r, lengths);
            double lp = loss_of(&r, ro, rh);
            x[k] = keep - eps;
            forward_ok(&r, lengths);
            double lm = loss_of(&r, ro, rh);
            x[k] = keep;
            double num = (lp - lm) / (2.0 * eps);
            double diff = fabs(num - ana[k]);
            ck_assert_msg(diff <= 5e-4 + 5e-3 * fabs(num),
                          "%s[%zu]: analytic %.6g, numeric %.6g", which ? "input" : "param", k,
                          (double)ana[k], num);
            worst = fmax(worst, diff);
            worst_scale = fmax(worst_scale, fabs(num));
            n_checked++;
        }
    }
    printf("lstm gradcheck (In %d, H %d, layers %d, bidir %d, B %d, T %d): %zu gradients, "
           "largest |analytic - numeric| %.3g (largest gradient %.3g)\n",
           cfg.input_size, cfg.hidden_size, cfg.num_layers, cfg.bidirectional, B, T, n_checked,
           worst, worst_scale);
    free(ro);
    free(rh);
    run_free(&r);
}

START_TEST(test_gradcheck_bidir_ragged)
{
    int lengths[3] = {5, 2, 4};
    gradcheck((lstm_config){3, 4, 2, 1}, 3, 5, lengths, 11);
}
END_TEST

/* Sorted by decreasing length with trailing steps no sequence reaches: the
 * per-step GEMMs then cover only the running prefix of the batch. */
START_TEST(test_gradcheck_sorted_short)
{
    int lengths[3] = {4, 3, 1};
    gradcheck((lstm_config){2, 3, 1, 1}, 3, 6, lengths, 14);
}
END_TEST

START_TEST(test_gradcheck_unidir_single_steps)
{
    int lengths[2] = {1, 1}; /* T = 1: no recurrence at all */
    gradcheck((lstm_config){2, 3, 1, 0}, 2, 1, lengths, 12);
    int l2[1] = {4}; /* B = 1 */
    gradcheck((lstm_config){2, 3, 2, 0}, 1, 4, l2, 13);
}
END_TEST

/* Gradients accumulate: two backward calls give twice one. */
START_TEST(test_grads_accumulate)
{
    lstm_config cfg = {2, 3, 1, 1};
    int lengths[2] = {3, 2};
    run r;
    run_init(&r, cfg, 2, 3);
    rng_t g;
    rng_seed(&g, 5);
    lstm_init_params(r.params, &cfg, &g);
    fill_uniform(r.inp, 12, &g, -1, 1);
    float dout[36];
    fill_uniform(dout, 36, &g, -1, 1);
    forward_ok(&r, lengths);
    char err[SS_ERRBUF_SIZE];
    size_t np = lstm_num_params(&cfg);
    ck_assert_int_eq(lstm_backward(NULL, r.dparams, dout, NULL, r.acts, r.ws, r.inp, lengths,
                                   r.params, &cfg, 2, 3, err), 0);
    float *once = xcalloc(np);
    memcpy(once, r.dparams, np * sizeof(float));
    ck_assert_int_eq(lstm_backward(NULL, r.dparams, dout, NULL, r.acts, r.ws, r.inp, lengths,
                                   r.params, &cfg, 2, 3, err), 0);
    int nonzero = 0;
    for (size_t k = 0; k < np; k++) {
        ck_assert_float_eq_tol(r.dparams[k], 2.0f * once[k], 1e-6f);
        nonzero += once[k] != 0.0f;
    }
    ck_assert_int_gt(nonzero, (int)np / 2);
    free(once);
    run_free(&r);
}
END_TEST

/* ---- PyTorch parity --------------------------------------------------------- */

typedef struct ref_tensor {
    char name[64];
    size_t count;
    float *data;
} ref_tensor;

typedef struct ref_file {
    int n;
    ref_tensor t[64];
} ref_file;

static int read_u32(FILE *f, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4)
        return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

static FILE *open_fixture(void)
{
    char path[4096];
    const char *top = getenv("top_srcdir");
    if (top) {
        snprintf(path, sizeof path, "%s/tests/ref/lstm_ref.bin", top);
        FILE *f = fopen(path, "rb");
        if (f)
            return f;
    }
    /* beside this source file (out-of-tree builds compile it by full path) */
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0),
             "ref/lstm_ref.bin");
    return fopen(path, "rb");
}

static void ref_load(ref_file *rf)
{
    FILE *f = open_fixture();
    ck_assert_msg(f != NULL, "cannot open tests/ref/lstm_ref.bin (set top_srcdir)");
    char magic[8];
    uint32_t n;
    ck_assert_int_eq(fread(magic, 1, 8, f), 8);
    ck_assert_int_eq(memcmp(magic, "SSLSTMR1", 8), 0);
    ck_assert_int_eq(read_u32(f, &n), 0);
    ck_assert_uint_le(n, 64);
    rf->n = (int)n;
    for (int k = 0; k < rf->n; k++) {
        uint32_t len, ndim, dim;
        ck_assert_int_eq(read_u32(f, &len), 0);
        ck_assert_uint_lt(len, sizeof rf->t[k].name);
        ck_assert_int_eq(fread(rf->t[k].name, 1, len, f), len);
        rf->t[k].name[len] = 0;
        ck_assert_int_eq(read_u32(f, &ndim), 0);
        ck_assert_uint_le(ndim, 4);
        size_t count = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            ck_assert_int_eq(read_u32(f, &dim), 0);
            count *= dim;
        }
        rf->t[k].count = count;
        rf->t[k].data = xcalloc(count);
        ck_assert_int_eq(fread(rf->t[k].data, sizeof(float), count, f), count);
    }
    fclose(f);
}

static const ref_tensor *ref_get(const ref_file *rf, const char *name, size_t count)
{
    for (int k = 0; k < rf->n; k++)
        if (!strcmp(rf->t[k].name, name)) {
            ck_assert_msg(rf->t[k].count == count, "%s: %zu values, expected %zu", name,
                          rf->t[k].count, count);
            return &rf->t[k];
        }
    ck_abort_msg("fixture has no tensor %s", name);
    return NULL;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t k = 0; k < n; k++)
        m = fmax(m, fabs((double)a[k] - b[k]));
    return m;
}

START_TEST(test_pytorch_parity)
{
    ref_file rf;
    ref_load(&rf);
    const float *c = ref_get(&rf, "config", 6)->data;
    lstm_config cfg = {(int)c[0], (int)c[1], (int)c[2], (int)c[3]};
    int B = (int)c[4], T = (int)c[5];
    size_t D = (size_t)lstm_output_size(&cfg);
    run r;
    run_init(&r, cfg, B, T);
    int lengths[64];
    ck_assert_int_le(B, 64);
    const float *lf = ref_get(&rf, "lengths", (size_t)B)->data;
    for (int b = 0; b < B; b++)
        lengths[b] = (int)lf[b];
    memcpy(r.inp, ref_get(&rf, "input", (size_t)B * T * cfg.input_size)->data,
           (size_t)B * T * cfg.input_size * sizeof(float));
    int nt = lstm_num_tensors(&cfg);
    lstm_tensor tens[64];
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_le(nt, 64);
    ck_assert_int_eq(lstm_param_tensors(tens, nt, &cfg, err), 0);
    for (int k = 0; k < nt; k++)
        memcpy(r.params + tens[k].offset, ref_get(&rf, tens[k].name, tens[k].count)->data,
               tens[k].count * sizeof(float));

    forward_ok(&r, lengths);
    double d_out = max_abs_diff(r.out, ref_get(&rf, "out", (size_t)B * T * D)->data,
                                (size_t)B * T * D);
    double d_h = max_abs_diff(r.hlast, ref_get(&rf, "hlast", (size_t)B * D)->data, (size_t)B * D);

    const float *ro = ref_get(&rf, "r_out", (size_t)B * T * D)->data;
    const float *rh = ref_get(&rf, "r_hlast", (size_t)B * D)->data;
    int rc = lstm_backward(r.dinp, r.dparams, ro, rh, r.acts, r.ws, r.inp, lengths, r.params,
                           &cfg, B, T, err);
    ck_assert_msg(rc == 0, "%s", err);
    size_t ni = (size_t)B * T * cfg.input_size;
    double d_gin = max_abs_diff(r.dinp, ref_get(&rf, "grad.input", ni)->data, ni);
    double d_gp = 0.0;
    for (int k = 0; k < nt; k++) {
        char name[80];
        snprintf(name, sizeof name, "grad.%.40s", tens[k].name);
        double d = max_abs_diff(r.dparams + tens[k].offset,
                                ref_get(&rf, name, tens[k].count)->data, tens[k].count);
        ck_assert_msg(d < 1e-4, "%s differs from PyTorch by %.3g", name, d);
        d_gp = fmax(d_gp, d);
    }
    printf("lstm vs PyTorch (float64 reference): max |diff| out %.3g, hlast %.3g, "
           "grad input %.3g, grad params %.3g\n", d_out, d_h, d_gin, d_gp);
    ck_assert_double_lt(d_out, 1e-4);
    ck_assert_double_lt(d_h, 1e-4);
    ck_assert_double_lt(d_gin, 1e-4);
    ck_assert_double_lt(d_gp, 1e-4);
    for (int k = 0; k < rf.n; k++)
        free(rf.t[k].data);
    run_free(&r);
}
END_TEST

Suite *lstm_suite(void)
{
    Suite *s = suite_create("lstm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_act_accuracy);
    tcase_add_test(tc, test_param_layout);
    tcase_add_test(tc, test_init_deterministic);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_threads_policy);
    tcase_add_test(tc, test_padding_is_inert);
    tcase_add_test(tc, test_grads_accumulate);
    suite_add_tcase(s, tc);
    TCase *num = tcase_create("numeric");
    tcase_add_test(num, test_gradcheck_bidir_ragged);
    tcase_add_test(num, test_gradcheck_unidir_single_steps);
    tcase_add_test(num, test_gradcheck_sorted_short);
    tcase_add_test(num, test_pytorch_parity);
    suite_add_tcase(s, num);
    return s;
}

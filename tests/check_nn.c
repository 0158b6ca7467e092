/* check_nn.c - tests for the layers, losses, optimizer, parameter sets and RNG:
 * finite-difference gradient checks, a hand-computed AdamW step, and parity
 * with PyTorch reference tensors (tests/ref/nn_ref.h, made by nn_ref.py). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "dense.h"
#include "dropout.h"
#include "embedding.h"
#include "layernorm.h"
#include "loss.h"
#include "params.h"
#include "rng.h"
#include "status.h"

#include "ref/nn_ref.h"

/* ---- finite-difference helper ---- */

typedef double (*loss_fn)(void *ctx);

/* Compares analytic (n) with central differences of f over x (n), eps 1e-3.
 * Passes when |a - num| <= 1e-2 * max(|a|, |num|) + 2e-3 for every element, and
 * the gradient is not all zero (so a missing backward cannot pass). */
static void gradcheck(const char *what, loss_fn f, void *ctx, float *x,
                      const float *analytic, size_t n)
{
    const float eps = 1e-3f;
    double worst = 0.0, amax = 0.0;
    for (size_t k = 0; k < n; k++) {
        float keep = x[k];
        x[k] = keep + eps;
        double lp = f(ctx);
        x[k] = keep - eps;
        double lm = f(ctx);
        x[k] = keep;
        double num = (lp - lm) / (2.0 * eps);
        double a = analytic[k];
        double tol = 1e-2 * fmax(fabs(a), fabs(num)) + 2e-3;
        double err = fabs(a - num);
        if (err / tol > worst)
            worst = err / tol;
        if (fabs(a) > amax)
            amax = fabs(a);
        if (err > tol)
            ck_abort_msg("%s: element %zu analytic %.6g numeric %.6g", what, k, a, num);
    }
    ck_assert_msg(amax > 1e-4, "%s: gradient is all zero", what);
    (void)worst;
}

static void fill(rng_t *r, float *x, size_t n, float scale)
{
    rng_fill_uniform(r, x, n, -scale, scale);
}

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t k = 0; k < n; k++)
        s += (double)a[k] * b[k];
    return s;
}

/* ---- dense ---- */

enum { DN = 4, DIC = 5, DOC = 3 };
typedef struct dense_ctx {
    float inp[DN * DIC], w[DOC * DIC], b[DOC], out[DN * DOC], r[DN * DOC];
    int act;
} dense_ctx;

static double dense_loss(void *p)
{
    dense_ctx *c = p;
    dense_forward(c->out, c->inp, c->w, c->b, c->act, DN, DIC, DOC);
    return dot_d(c->out, c->r, DN * DOC);
}

static void dense_check(int act)
{
    rng_t r;
    rng_seed(&r, 11 + act);
    dense_ctx c;
    c.act = act;
    fill(&r, c.inp, DN * DIC, 1.0f);
    fill(&r, c.w, DOC * DIC, 0.7f);
    fill(&r, c.b, DOC, 0.3f);
    fill(&r, c.r, DN * DOC, 1.0f);
    float dinp[DN * DIC], dw[DOC * DIC] = {0}, db[DOC] = {0}, ws[DN * DOC];
    ck_assert_uint_le(dense_workspace_size(act, DN, DOC), DN * DOC);
    dense_loss(&c);
    if (act == DENSE_ACT_RELU) { /* stay away from the kink */
        for (int k = 0; k < DN * DOC; k++)
            ck_assert_msg(c.out[k] == 0.0f || c.out[k] > 5e-3f, "pre-activation near 0");
    }
    dense_backward(dinp, dw, db, c.r, c.inp, c.w, c.out, act, ws, DN, DIC, DOC);
    gradcheck("dense dinp", dense_loss, &c, c.inp, dinp, DN * DIC);
    gradcheck("dense dweight", dense_loss, &c, c.w, dw, DOC * DIC);
    gradcheck("dense dbias", dense_loss, &c, c.b, db, DOC);
    /* parameter gradients accumulate */
    float dw2[DOC * DIC], db2[DOC];
    memcpy(dw2, dw, sizeof(dw));
    memcpy(db2, db, sizeof(db));
    dense_loss(&c);
    dense_backward(dinp, dw2, db2, c.r, c.inp, c.w, c.out, act, ws, DN, DIC, DOC);
    for (int k = 0; k < DOC * DIC; k++)
        ck_assert_float_eq_tol(dw2[k], 2.0f * dw[k], 1e-5f);
    for (int k = 0; k < DOC; k++)
        ck_assert_float_eq_tol(db2[k], 2.0f * db[k], 1e-5f);
}

START_TEST(test_dense_none) { dense_check(DENSE_ACT_NONE); }
END_TEST
START_TEST(test_dense_relu) { dense_check(DENSE_ACT_RELU); }
END_TEST
START_TEST(test_dense_tanh) { dense_check(DENSE_ACT_TANH); }
END_TEST

START_TEST(test_dense_forward_values)
{
    /* out = relu([1,2] . w^T + b) by hand */
    float inp[2] = {1.0f, 2.0f}, w[4] = {1.0f, -1.0f, 0.5f, 0.25f}, b[2] = {0.5f, -2.0f};
    float out[2];
    dense_forward(out, inp, w, b, DENSE_ACT_NONE, 1, 2, 2);
    ck_assert_float_eq_tol(out[0], -0.5f, 1e-6f);
    ck_assert_float_eq_tol(out[1], -1.0f, 1e-6f);
    dense_forward(out, inp, w, b, DENSE_ACT_RELU, 1, 2, 2);
    ck_assert_float_eq(out[0], 0.0f);
    dense_forward(out, inp, w, NULL, DENSE_ACT_TANH, 1, 2, 2);
    ck_assert_float_eq_tol(out[1], tanhf(1.0f), 1e-6f);
}
END_TEST

/* ---- embedding ---- */

enum { EV = 6, EC = 4, EN = 5 };
typedef struct emb_ctx {
    float table[EV * EC], out[EN * EC], r[EN * EC];
    int ids[EN];
} emb_ctx;

static double emb_loss(void *p)
{
    emb_ctx *c = p;
    embedding_forward(c->out, c->ids, c->table, EN, EV, EC);
    return dot_d(c->out, c->r, EN * EC);
}

START_TEST(test_embedding)
{
    rng_t r;
    rng_seed(&r, 5);
    emb_ctx c;
    int ids[EN] = {2, 0, 2, -1, 5};
    memcpy(c.ids, ids, sizeof(ids));
    fill(&r, c.table, EV * EC, 1.0f);
    fill(&r, c.r, EN * EC, 1.0f);
    float dt[EV * EC] = {0};
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(embedding_check_ids(c.ids, EN, EV, err), 0);
    emb_loss(&c);
    for (int k = 0; k < EC; k++) {
        ck_assert_float_eq(c.out[0 * EC + k], c.table[2 * EC + k]);
        ck_assert_float_eq(c.out[3 * EC + k], 0.0f); /* padding */
    }
    embedding_backward(dt, c.r, c.ids, EN, EV, EC);
    gradcheck("embedding dtable", emb_loss, &c, c.table, dt, EV * EC);
    for (int k = 0; k < EC; k++) /* rows 1,3,4 unused: no gradient */
        ck_assert_float_eq(dt[1 * EC + k], 0.0f);
    int bad[2] = {1, 6};
    ck_assert_int_eq(embedding_check_ids(bad, 2, EV, err), SS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err, "position 1"));
}
END_TEST

/* ---- layernorm ---- */

enum { LN = 3, LC = 7 };
typedef struct ln_ctx {
    float inp[LN * LC], w[LC], b[LC], out[LN * LC], r[LN * LC], mean[LN], rstd[LN];
} ln_ctx;

static double ln_loss(void *p)
{
    ln_ctx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, LN, LC, 1e-5f);
    return dot_d(c->out, c->r, LN * LC);
}

START_TEST(test_layernorm)
{
    rng_t r;
    rng_seed(&r, 7);
    ln_ctx c;
    fill(&r, c.inp, LN * LC, 2.0f);
    for (int k = 0; k < LC; k++)
        c.w[k] = 1.0f + rng_uniform_range(&r, -0.5f, 0.5f);
    fill(&r, c.b, LC, 0.5f);
    fill(&r, c.r, LN * LC, 1.0f);
    ln_loss(&c);
    /* normalised rows have mean b-mean-ish: check with unit weight/zero bias */
    float w1[LC], b0[LC] = {0}, out[LN * LC], mean[LN], rstd[LN];
    for (int k = 0; k < LC; k++)
        w1[k] = 1.0f;
    layernorm_forward(out, mean, rstd, c.inp, w1, b0, LN, LC, 1e-5f);
    for (int n = 0; n < LN; n++) {
        double m = 0, v = 0;
        for (int k = 0; k < LC; k++)
            m += out[n * LC + k];
        m /= LC;
        for (int k = 0; k < LC; k++)
            v += (out[n * LC + k] - m) * (out[n * LC + k] - m);
        ck_assert_double_eq_tol(m, 0.0, 1e-5);
        ck_assert_double_eq_tol(v / LC, 1.0, 1e-3);
    }
    float dinp[LN * LC], dw[LC] = {0}, db[LC] = {0};
    ln_loss(&c);
    layernorm_backward(dinp, dw, db, c.r, c.inp, c.w, c.mean, c.rstd, LN, LC);
    gradcheck("layernorm dinp", ln_loss, &c, c.inp, dinp, LN * LC);
    gradcheck("layernorm dweight", ln_loss, &c, c.w, dw, LC);
    gradcheck("layernorm dbias", ln_loss, &c, c.b, db, LC);
}
END_TEST

/* ---- dropout ---- */

enum { DRN = 40 };
typedef struct drop_ctx {
    float inp[DRN], out[DRN], mask[DRN], r[DRN];
} drop_ctx;

static double drop_loss(void *p)
{
    drop_ctx *c = p;
    dropout_forward(c->out, c->inp, c->mask, DRN);
    double s = 0;
    for (int k = 0; k < DRN; k++) /* a non-linear readout so the check is not trivial */
        s += (double)c->r[k] * c->out[k] * c->out[k];
    return s;
}

START_TEST(test_dropout)
{
    rng_t r;
    rng_seed(&r, 3);
    drop_ctx c;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(dropout_mask_fill(c.mask, DRN, 0.5f, &r, err), 0);
    int zeros = 0;
    for (int k = 0; k < DRN; k++) {
        ck_assert(c.mask[k] == 0.0f || c.mask[k] == 2.0f);
        zeros += c.mask[k] == 0.0f;
    }
    ck_assert_int_gt(zeros, 0);
    ck_assert_int_lt(zeros, DRN);
    fill(&r, c.inp, DRN, 1.0f);
    fill(&r, c.r, DRN, 1.0f);
    drop_loss(&c);
    float dout[DRN], dinp[DRN];
    for (int k = 0; k < DRN; k++)
        dout[k] = 2.0f * c.r[k] * c.out[k];
    dropout_backward(dinp, dout, c.mask, DRN);
    gradcheck("dropout dinp", drop_loss, &c, c.inp, dinp, DRN);
    /* rate over many draws, p = 0 keeps everything, p = 1 is refused */
    static float big[20000];
    ck_assert_int_eq(dropout_mask_fill(big, 20000, 0.3f, &r, err), 0);
    int z = 0;
    for (int k = 0; k < 20000; k++)
        z += big[k] == 0.0f;
    ck_assert_int_gt(z, 5700);
    ck_assert_int_lt(z, 6300);
    ck_assert_int_eq(dropout_mask_fill(big, 100, 0.0f, &r, err), 0);
    for (int k = 0; k < 100; k++)
        ck_assert_float_eq(big[k], 1.0f);
    ck_assert_int_eq(dropout_mask_fill(big, 10, 1.0f, &r, err), SS_ERR_ARG);
    ck_assert_int_eq(dropout_mask_fill(big, 10, -0.1f, &r, err), SS_ERR_ARG);
}
END_TEST

/* ---- softmax cross-entropy ---- */

enum { CN = 5, CC = 4 };
typedef struct ce_ctx {
    float logits[CN * CC], probs[CN * CC], weights[CN];
    int targets[CN];
    int use_weights;
    float eps; /* label smoothing; 0: the plain loss_softmax_ce_forward */
} ce_ctx;

static double ce_loss(void *p)
{
    ce_ctx *c = p;
    float l;
    char err[SS_ERRBUF_SIZE];
    const float *w = c->use_weights ? c->weights : NULL;
    int rc = c->eps > 0.0f ? loss_softmax_ce_smooth_forward(&l, c->probs, c->logits, c->targets,
                                                            w, -100, c->eps, CN, CC, err)
                           : loss_softmax_ce_forward(&l, c->probs, c->logits, c->targets, w,
                                                     -100, CN, CC, err);
    ck_assert_int_eq(rc, 0);
    return l;
}

/* Rows with a target, an ignored row (-100) and a zero weight; logits uniform
 * in [-scale, scale]; no smoothing, no weights. */
static void ce_init(ce_ctx *c, uint64_t seed, float scale)
{
    static const int t[CN] = {1, 3, -100, 0, 2};
    static const float w[CN] = {1.0f, 0.0f, 1.0f, 2.0f, 0.5f};
    rng_t r;
    rng_seed(&r, seed);
    memcpy(c->targets, t, sizeof(t));
    memcpy(c->weights, w, sizeof(w));
    fill(&r, c->logits, CN * CC, scale);
    c->use_weights = 0;
    c->eps = 0.0f;
}

START_TEST(test_softmax_ce)
{
    ce_ctx c;
    ce_init(&c, 9, 2.0f);
    for (int uw = 0; uw < 2; uw++) {
        c.use_weights = uw;
        float dl[CN * CC];
        double l = ce_loss(&c);
        /* by hand for row 0 alone */
        double s = 0;
        for (int k = 0; k < CC; k++)
            s += exp(c.logits[k]);
        double l0 = log(s) - c.logits[1];
        ck_assert(l > 0.0 && isfinite(l));
        (void)l0;
        loss_softmax_ce_backward(dl, c.probs, c.targets, uw ? c.weights : NULL, -100, 1.0f,
                                 CN, CC);
        gradcheck(uw ? "ce weighted dlogits" : "ce dlogits", ce_loss, &c, c.logits, dl,
                  CN * CC);
        for (int k = 0; k < CC; k++) /* ignored row: no gradient */
            ck_assert_float_eq(dl[2 * CC + k], 0.0f);
    }
    /* single row equals log-sum-exp minus the target logit */
    float one[3] = {1.0f, 2.0f, 3.0f}, pr[3], l;
    int tg = 0;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(loss_softmax_ce_forward(&l, pr, one, &tg, NULL, -1, 1, 3, err), 0);
    ck_assert_float_eq_tol(l, (float)(log(exp(1.0) + exp(2.0) + exp(3.0)) - 1.0), 1e-5f);
    /* bad target is refused with the row named */
    tg = 3;
    ck_assert_int_eq(loss_softmax_ce_forward(&l, pr, one, &tg, NULL, -1, 1, 3, err),
                     SS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err, "row 0"));
    /* everything ignored: loss 0, gradient 0 */
    tg = -1;
    ck_assert_int_eq(loss_softmax_ce_forward(&l, pr, one, &tg, NULL, -1, 1, 3, err), 0);
    ck_assert_float_eq(l, 0.0f);
    float dz[3];
    loss_softmax_ce_backward(dz, pr, &tg, NULL, -1, 1.0f, 1, 3);
    ck_assert_float_eq(dz[0] + fabsf(dz[1]) + fabsf(dz[2]), 0.0f);
}
END_TEST

/* Label smoothing: the rows of test_softmax_ce, targets smoothed by eps. */
START_TEST(test_softmax_ce_smooth)
{
    ce_ctx c;
    ce_init(&c, 21, 3.0f);
    const int *t = c.targets;
    const float *w = c.weights;
    const float eps_list[2] = {0.1f, 0.3f};
    for (int e = 0; e < 2; e++)
        for (int uw = 0; uw < 2; uw++) {
            c.eps = eps_list[e];
            c.use_weights = uw;
            double l = ce_loss(&c);
            /* by hand, in double: mean over counted rows of
             * -(1 - eps) log p[t] - eps / C sum_k log p[k] */
            double sum = 0.0, wsum = 0.0;
            for (int n = 0; n < CN; n++) {
                double wn = uw ? w[n] : 1.0;
                if (t[n] == -100 || wn == 0.0)
                    continue;
                const float *z = c.logits + n * CC;
                double se = 0.0, logp[CC];
                for (int k = 0; k < CC; k++)
                    se += exp(z[k]);
                double all = 0.0;
                for (int k = 0; k < CC; k++) {
                    logp[k] = z[k] - log(se);
                    all += logp[k];
                    /* the probabilities are the softmax */
                    ck_assert_double_eq_tol(c.probs[n * CC + k], exp(logp[k]), 1e-6);
                }
                sum += wn * (-(1.0 - c.eps) * logp[t[n]] - c.eps / CC * all);
                wsum += wn;
            }
            ck_assert_double_eq_tol(l, sum / wsum, 1e-5);
            float dl[CN * CC];
            loss_softmax_ce_smooth_backward(dl, c.probs, c.targets,
                                            uw ? c.weights : NULL, -100, c.eps, 1.0f, CN, CC);
            gradcheck(uw ? "smoothed ce weighted dlogits" : "smoothed ce dlogits", ce_loss,
                      &c, c.logits, dl, CN * CC);
            for (int n = 0; n < CN; n++) { /* a counted row's gradient sums to 0 */
                double rs = 0.0;
                for (int k = 0; k < CC; k++)
                    rs += dl[n * CC + k];
                ck_assert_double_eq_tol(rs, 0.0, 1e-6);
            }
        }
    /* eps 0 is the plain loss, bit for bit */
    float l0, l1, p0[CN * CC], p1[CN * CC], d0[CN * CC], d1[CN * CC];
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(loss_softmax_ce_forward(&l0, p0, c.logits, t, w, -100, CN, CC, err), 0);
    ck_assert_int_eq(loss_softmax_ce_smooth_forward(&l1, p1, c.logits, t, w, -100, 0.0f, CN,
                                                    CC, err), 0);
    ck_assert_mem_eq(&l0, &l1, sizeof(l0));
    ck_assert_mem_eq(p0, p1, sizeof(p0));
    loss_softmax_ce_backward(d0, p0, t, w, -100, 0.7f, CN, CC);
    loss_softmax_ce_smooth_backward(d1, p1, t, w, -100, 0.0f, 0.7f, CN, CC);
    ck_assert_mem_eq(d0, d1, sizeof(d0));
    /* the softmax alone gives the same probabilities */
    loss_softmax_forward(p1, c.logits, CN, CC);
    ck_assert_mem_eq(p0, p1, sizeof(p0));
    /* smoothing outside [0,1) is refused */
    ck_assert_int_eq(loss_softmax_ce_smooth_forward(&l1, p1, c.logits, t, w, -100, 1.0f, CN,
                                                    CC, err), SS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err, "smoothing"));
    ck_assert_int_eq(loss_softmax_ce_smooth_forward(&l1, p1, c.logits, t, w, -100, -0.1f, CN,
                                                    CC, err), SS_ERR_ARG);
}
END_TEST

/* ---- InfoNCE ---- */

enum { IB = 4, ID = 5 };
typedef struct nce_ctx {
    float a[IB * ID], p[IB * ID];
    float ws[2 * IB * ID + 2 * IB + 2 * IB * IB];
    int symmetric;
} nce_ctx;

static double nce_loss(void *q)
{
    nce_ctx *c = q;
    return loss_infonce_forward(c->ws, c->a, c->p, 0.5f, c->symmetric, IB, ID);
}

START_TEST(test_infonce)
{
    ck_assert_uint_eq(loss_infonce_workspace_size(IB, ID), 2 * IB * ID + 2 * IB + 2 * IB * IB);
    rng_t r;
    rng_seed(&r, 21);
    for (int sym = 0; sym < 2; sym++) {
        nce_ctx c;
        c.symmetric = sym;
        fill(&r, c.a, IB * ID, 1.0f);
        for (int k = 0; k < IB * ID; k++) /* positives near their anchors */
            c.p[k] = c.a[k] + rng_uniform_range(&r, -0.6f, 0.6f);
        float da[IB * ID], dp[IB * ID];
        double l = nce_loss(&c);
        ck_assert(l > 0.0 && l < log((double)IB) + 1.0);
        loss_infonce_backward(da, dp, c.ws, c.a, c.p, 0.5f, sym, 1.0f, IB, ID);
        gradcheck(sym ? "infonce sym danchors" : "infonce danchors", nce_loss, &c, c.a, da,
                  IB * ID);
        gradcheck(sym ? "infonce sym dpositives" : "infonce dpositives", nce_loss, &c, c.p,
                  dp, IB * ID);
    }
    /* orthogonal matching pairs and a small temperature: loss near 0 */
    float a[3 * 3] = {1, 0, 0, 0, 2, 0, 0, 0, 3}, ws[2 * 9 + 6 + 18];
    float l = loss_infonce_forward(ws, a, a, 0.05f, 0, 3, 3);
    ck_assert_float_lt(l, 1e-6f);
    /* swapped positives: loss large */
    float p[9] = {0, 1, 0, 1, 0, 0, 0, 0, 1};
    l = loss_infonce_forward(ws, a, p, 0.05f, 0, 3, 3);
    ck_assert_float_gt(l, 10.0f);
}
END_TEST

/* ---- triplet ---- */

enum { TB = 4, TD = 5 };
typedef struct tri_ctx {
    float a[TB * TD], p[TB * TD], n[TB * TD];
} tri_ctx;

static double tri_loss(void *q)
{
    tri_ctx *c = q;
    return loss_triplet_forward(c->a, c->p, c->n, 1.0f, TB, TD);
}

START_TEST(test_triplet)
{
    rng_t r;
    rng_seed(&r, 33);
    tri_ctx c;
    fill(&r, c.a, TB * TD, 1.0f);
    fill(&r, c.n, TB * TD, 1.0f);
    for (int k = 0; k < TB * TD; k++)
        c.p[k] = c.a[k] + rng_uniform_range(&r, -0.5f, 0.5f);
    /* row 3: a satisfied triplet (positive = anchor, negative = -anchor) */
    for (int k = 0; k < TD; k++) {
        c.p[3 * TD + k] = c.a[3 * TD + k];
        c.n[3 * TD + k] = -c.a[3 * TD + k];
    }
    float da[TB * TD], dp[TB * TD], dn[TB * TD];
    double l = tri_loss(&c);
    ck_assert(l > 0.0);
    loss_triplet_backward(da, dp, dn, c.a, c.p, c.n, 1.0f, 1.0f, TB, TD);
    for (int k = 0; k < TD; k++)
        ck_assert_float_eq(da[3 * TD + k], 0.0f);
    gradcheck("triplet danchors", tri_loss, &c, c.a, da, TB * TD);
    gradcheck("triplet dpositives", tri_loss, &c, c.p, dp, TB * TD);
    gradcheck("triplet dnegatives", tri_loss, &c, c.n, dn, TB * TD);
    /* one triplet by hand: a=(1,0), p=(1,1), n=(0,1): cos_p = 1/sqrt2, cos_n = 0 */
    float a1[2] = {1, 0}, p1[2] = {1, 1}, n1[2] = {0, 1};
    ck_assert_float_eq_tol(loss_triplet_forward(a1, p1, n1, 1.0f, 1, 2),
                           (float)(1.0 - 1.0 / sqrt(2.0)), 1e-6f);
    ck_assert_float_eq(loss_triplet_forward(a1, p1, n1, 0.5f, 1, 2), 0.0f);
}
END_TEST

/* ---- AdamW ---- */

START_TEST(test_adamw_hand_step)
{
    adamw_config cfg = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                        .weight_decay = 0.1f, .clip_norm = 0.0f};
    float x[2] = {1.0f, -2.0f}, g[2] = {0.5f, -0.1f}, m[2] = {0}, v[2] = {0};
    float mask[2] = {1.0f, 0.0f};
    adamw_update(x, g, m, v, mask, 2, &cfg, 1);
    /* step 1: mhat = g, vhat = g^2, so the update is lr * sign(g);
     * decay 1 - lr*wd = 0.99 on the first, none on the second */
    ck_assert_float_eq_tol(x[0], 0.99f - 0.1f, 1e-6f);
    ck_assert_float_eq_tol(x[1], -2.0f + 0.1f, 1e-6f);
    ck_assert_float_eq_tol(m[0], 0.05f, 1e-7f);
    ck_assert_float_eq_tol(v[0], 0.00025f, 1e-8f);
    /* step 2 with another gradient, by hand */
    float g2[2] = {-0.3f, 0.2f};
    adamw_update(x, g2, m, v, mask, 2, &cfg, 2);
    double m0 = 0.9 * 0.05 + 0.1 * -0.3, v0 = 0.999 * 0.00025 + 0.001 * 0.09;
    double mh = m0 / (1 - 0.81), vh = v0 / (1 - 0.999 * 0.999);
    double want0 = 0.89 * 0.99 - 0.1 * mh / (sqrt(vh) + 1e-8);
    double m1 = 0.9 * -0.01 + 0.1 * 0.2, v1 = 0.999 * 0.00001 + 0.001 * 0.04;
    double want1 = -1.9 - 0.1 * (m1 / 0.19) / (sqrt(v1 / (1 - 0.998001)) + 1e-8);
    ck_assert_double_eq_tol(x[0], want0, 1e-5);
    ck_assert_double_eq_tol(x[1], want1, 1e-5);
    /* NULL mask decays everything */
    float y = 1.0f, gy = 0.0f, my = 0, vy = 0;
    adamw_update(&y, &gy, &my, &vy, NULL, 1, &cfg, 1);
    ck_assert_float_eq_tol(y, 0.99f, 1e-7f);
}
END_TEST

START_TEST(test_adamw_clip)
{
    float g[2] = {3.0f, 4.0f};
    ck_assert_float_eq_tol(adamw_clip_grad_norm(g, 2, 10.0f), 5.0f, 1e-6f);
    ck_assert_float_eq(g[0], 3.0f);
    ck_assert_float_eq_tol(adamw_clip_grad_norm(g, 2, 1.0f), 5.0f, 1e-6f);
    ck_assert_float_eq_tol(g[0], 0.6f, 1e-5f);
    ck_assert_float_eq_tol(g[1], 0.8f, 1e-5f);
    ck_assert_float_eq_tol(adamw_grad_norm(g, 2), 1.0f, 1e-5f);
    ck_assert_float_eq_tol(adamw_clip_grad_norm(g, 2, 0.0f), 1.0f, 1e-5f); /* 0: off */
    ck_assert_float_eq_tol(g[1], 0.8f, 1e-5f);
}
END_TEST

START_TEST(test_adamw_step_params)
{
    char err[SS_ERRBUF_SIZE];
    params_t *p;
    ck_assert_int_eq(params_create(&p, err), 0);
    size_t s2[2] = {2, 2}, s1[1] = {2};
    ck_assert_int_eq(params_add(p, "w", 2, s2, PARAMS_DECAY, err), 0);
    ck_assert_int_eq(params_add(p, "b", 1, s1, PARAMS_NO_DECAY, err), 1);
    ck_assert_int_eq(params_alloc(p, err), 0);
    for (size_t k = 0; k < p->total; k++) {
        p->data[k] = 1.0f;
        p->grad[k] = 3.0f; /* norm 3*sqrt(6) */
    }
    adamw_config cfg;
    adamw_config_default(&cfg);
    float norm = adamw_step(p, &cfg);
    ck_assert_float_eq_tol(norm, 3.0f * sqrtf(6.0f), 1e-4f);
    ck_assert_int_eq(p->step, 1);
    ck_assert_float_eq_tol(adamw_grad_norm(p->grad, p->total), 1.0f, 1e-4f);
    /* decayed weight vs undecayed bias differ by lr*wd */
    ck_assert_float_eq_tol(params_data(p, 0)[0], 1.0f - 1e-5f - 1e-3f, 1e-6f);
    ck_assert_float_eq_tol(params_data(p, 1)[0], 1.0f - 1e-3f, 1e-6f);
    params_zero_grad(p);
    ck_assert_float_eq(adamw_grad_norm(p->grad, p->total), 0.0f);
    params_destroy(p);
}
END_TEST

/* ---- params ---- */

START_TEST(test_params_layout)
{
    char err[SS_ERRBUF_SIZE];
    params_t *p, *q;
    ck_assert_int_eq(params_create(&p, err), 0);
    size_t a[2] = {3, 4}, b[1] = {4}, c[3] = {2, 2, 2}, z[1] = {0};
    ck_assert_int_eq(params_add(p, "a", 2, a, 0, err), 0);
    ck_assert_int_eq(params_add(p, "b", 1, b, PARAMS_NO_DECAY, err), 1);
    ck_assert_int_eq(params_add(p, "a", 1, b, 0, err), SS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err, "duplicate"));
    ck_assert_int_eq(params_add(p, "zero", 1, z, 0, err), SS_ERR_ARG);
    ck_assert_ptr_null(params_data(p, 0)); /* not allocated yet */
    ck_assert_int_eq(params_alloc(p, err), 0);
    ck_assert_int_eq(params_add(p, "late", 1, b, 0, err), SS_ERR_ARG);
    ck_assert_uint_eq(p->total, 16);
    ck_assert_ptr_eq(params_data(p, 1), p->data + 12);
    ck_assert_ptr_eq(params_grad(p, 1), p->grad + 12);
    ck_assert_ptr_null(params_data(p, 2));
    ck_assert_int_eq(params_find(p, "b"), 1);
    ck_assert_int_eq(params_find(p, "nope"), -1);
    ck_assert_float_eq(p->decay[11], 1.0f);
    ck_assert_float_eq(p->decay[12], 0.0f);
    char shp[32];
    params_shape_string(&p->tensors[0], shp, sizeof(shp));
    ck_assert_str_eq(shp, "(3,4)");
    /* copy values: same layout ok, shape mismatch named */
    ck_assert_int_eq(params_create(&q, err), 0);
    ck_assert_int_eq(params_add(q, "a", 2, a, 0, err), 0);
    ck_assert_int_eq(params_add(q, "b", 1, b, 0, err), 1);
    ck_assert_int_eq(params_alloc(q, err), 0);
    for (size_t k = 0; k < q->total; k++)
        q->data[k] = (float)k;
    ck_assert_int_eq(params_copy_values(p, q, err), 0);
    ck_assert_float_eq(p->data[15], 15.0f);
    params_destroy(q);
    ck_assert_int_eq(params_create(&q, err), 0);
    ck_assert_int_eq(params_add(q, "a", 3, c, 0, err), 0);
    ck_assert_int_eq(params_add(q, "b", 1, b, 0, err), 1);
    ck_assert_int_eq(params_alloc(q, err), 0);
    ck_assert_int_eq(params_copy_values(p, q, err), SS_ERR_SHAPE);
    ck_assert_str_eq(err, "tensor 'a': expected shape (3,4), found (2,2,2)");
    params_destroy(q);
    params_destroy(p);
    params_destroy(NULL);
}
END_TEST

/* ---- rng ---- */

START_TEST(test_rng)
{
    rng_t a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int k = 0; k < 100; k++)
        ck_assert_uint_eq(rng_next_u64(&a), rng_next_u64(&b));
    rng_seed(&b, 43);
    ck_assert_uint_ne(rng_next_u64(&a), rng_next_u64(&b));
    double s = 0, s2 = 0, u = 0;
    const int n = 100000;
    for (int k = 0; k < n; k++) {
        float x = rng_uniform(&a);
        ck_assert(x >= 0.0f && x < 1.0f);
        u += x;
        float g = rng_normal(&a);
        s += g;
        s2 += (double)g * g;
        uint64_t j = rng_below(&a, 7);
        ck_assert_uint_lt(j, 7);
    }
    ck_assert_double_eq_tol(u / n, 0.5, 0.01);
    ck_assert_double_eq_tol(s / n, 0.0, 0.02);
    ck_assert_double_eq_tol(s2 / n, 1.0, 0.03);
    size_t idx[10], seen[10] = {0};
    for (size_t k = 0; k < 10; k++)
        idx[k] = k;
    rng_shuffle(&a, idx, 10);
    for (size_t k = 0; k < 10; k++)
        seen[idx[k]]++;
    for (size_t k = 0; k < 10; k++)
        ck_assert_uint_eq(seen[k], 1);
    float f[50];
    rng_fill_uniform(&a, f, 50, -2.0f, -1.0f);
    for (int k = 0; k < 50; k++)
        ck_assert(f[k] >= -2.0f && f[k] < -1.0f);
}
END_TEST


/* ---- parity with PyTorch (tests/ref/nn_ref.py) ---- */

/* Largest |a - b| over n floats; prints it, fails above tol. */
static void compare(const char *what, const float *a, const float *b, size_t n, float tol)
{
    float worst = 0.0f;
    for (size_t k = 0; k < n; k++) {
        float d = fabsf(a[k] - b[k]);
        if (!(d <= worst)) /* also catches NaN */
            worst = d;
    }
    printf("nn parity %-12s max |diff| %.3g\n", what, (double)worst);
    ck_assert_msg(worst <= tol, "%s: max difference %g > %g", what, (double)worst, (double)tol);
}

START_TEST(test_parity_dense_ln_ce)
{
    enum { N = NN_REF_N, IC = NN_REF_IC, HC = NN_REF_HC, C = NN_REF_C };
    float h[N * HC], ln[N * HC], mean[N], rstd[N], logits[N * C], probs[N * C], loss;
    char err[SS_ERRBUF_SIZE];
    dense_forward(h, nn_ref_x, nn_ref_w1, nn_ref_b1, DENSE_ACT_TANH, N, IC, HC);
    layernorm_forward(ln, mean, rstd, h, nn_ref_lnw, nn_ref_lnb, N, HC, 1e-5f);
    dense_forward(logits, ln, nn_ref_w2, nn_ref_b2, DENSE_ACT_NONE, N, HC, C);
    ck_assert_int_eq(loss_softmax_ce_forward(&loss, probs, logits, nn_ref_targets, NULL,
                                             -100, N, C, err), 0);
    compare("h", h, nn_ref_h, N * HC, 1e-5f);
    compare("layernorm", ln, nn_ref_ln, N * HC, 1e-5f);
    compare("logits", logits, nn_ref_logits, N * C, 1e-5f);
    compare("loss", &loss, nn_ref_loss, 1, 1e-5f);
    float dlogits[N * C], dln[N * HC], dh[N * HC], dx[N * IC];
    float dw1[HC * IC] = {0}, db1[HC] = {0}, dlnw[HC] = {0}, dlnb[HC] = {0};
    float dw2[C * HC] = {0}, db2[C] = {0}, ws[N * HC];
    loss_softmax_ce_backward(dlogits, probs, nn_ref_targets, NULL, -100, 1.0f, N, C);
    dense_backward(dln, dw2, db2, dlogits, ln, nn_ref_w2, logits, DENSE_ACT_NONE, NULL,
                   N, HC, C);
    layernorm_backward(dh, dlnw, dlnb, dln, h, nn_ref_lnw, mean, rstd, N, HC);
    dense_backward(dx, dw1, db1, dh, nn_ref_x, nn_ref_w1, h, DENSE_ACT_TANH, ws, N, IC, HC);
    compare("dlogits", dlogits, nn_ref_dlogits, N * C, 1e-5f);
    compare("dw2", dw2, nn_ref_dw2, C * HC, 1e-5f);
    compare("db2", db2, nn_ref_db2, C, 1e-5f);
    compare("dlnw", dlnw, nn_ref_dlnw, HC, 1e-5f);
    compare("dlnb", dlnb, nn_ref_dlnb, HC, 1e-5f);
    compare("dw1", dw1, nn_ref_dw1, HC * IC, 1e-5f);
    compare("db1", db1, nn_ref_db1, HC, 1e-5f);
    compare("dx", dx, nn_ref_dx, N * IC, 1e-5f);
}
END_TEST

START_TEST(test_parity_infonce)
{
    enum { B = NN_REF_B, D = NN_REF_D };
    float ws[2 * B * D + 2 * B + 2 * B * B], da[B * D], dp[B * D];
    for (int sym = 0; sym < 2; sym++) {
        float l = loss_infonce_forward(ws, nn_ref_nce_a, nn_ref_nce_p, NN_REF_TAU, sym, B, D);
        loss_infonce_backward(da, dp, ws, nn_ref_nce_a, nn_ref_nce_p, NN_REF_TAU, sym, 1.0f,
                              B, D);
        compare(sym ? "nce sym loss" : "nce loss", &l, sym ? nn_ref_nce1_loss : nn_ref_nce0_loss,
                1, 1e-5f);
        compare(sym ? "nce sym da" : "nce da", da, sym ? nn_ref_nce1_da : nn_ref_nce0_da, B * D,
                1e-5f);
        compare(sym ? "nce sym dp" : "nce dp", dp, sym ? nn_ref_nce1_dp : nn_ref_nce0_dp, B * D,
                1e-5f);
    }
}
END_TEST

START_TEST(test_parity_adamw)
{
    adamw_config cfg = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                        .weight_decay = 0.05f, .clip_norm = 0.0f};
    float w[7], m[7] = {0}, v[7] = {0};
    memcpy(w, nn_ref_adam_w0, sizeof(w));
    for (int t = 1; t <= 3; t++)
        adamw_update(w, nn_ref_adam_grads + 7 * (t - 1), m, v, NULL, 7, &cfg, t);
    compare("adamw 3 steps", w, nn_ref_adam_w3, 7, 1e-6f);
}
END_TEST

Suite *nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, test_dense_none);
    tcase_add_test(tc, test_dense_relu);
    tcase_add_test(tc, test_dense_tanh);
    tcase_add_test(tc, test_dense_forward_values);
    tcase_add_test(tc, test_embedding);
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_dropout);
    suite_add_tcase(s, tc);
    tc = tcase_create("losses");
    tcase_add_test(tc, test_softmax_ce);
    tcase_add_test(tc, test_softmax_ce_smooth);
    tcase_add_test(tc, test_infonce);
    tcase_add_test(tc, test_triplet);
    suite_add_tcase(s, tc);
    tc = tcase_create("optim");
    tcase_add_test(tc, test_adamw_hand_step);
    tcase_add_test(tc, test_adamw_clip);
    tcase_add_test(tc, test_adamw_step_params);
    tcase_add_test(tc, test_params_layout);
    tcase_add_test(tc, test_rng);
    suite_add_tcase(s, tc);
    tc = tcase_create("parity");
    tcase_add_test(tc, test_parity_dense_ln_ce);
    tcase_add_test(tc, test_parity_infonce);
    tcase_add_test(tc, test_parity_adamw);
    suite_add_tcase(s, tc);
    return s;
}

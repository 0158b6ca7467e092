/* loss.c - softmax cross-entropy, InfoNCE and triplet losses; see loss.h. */
#include "loss.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "status.h"

/* ---- softmax cross-entropy ---- */

static int ce_counted(const int *targets, const float *weights, int ignore_index,
                      int n, float *w)
{
    if (targets[n] == ignore_index)
        return 0;
    *w = weights ? weights[n] : 1.0f;
    return *w != 0.0f;
}

/* Softmax of one row z (C) into p; returns log(sum exp z), the log-partition. */
static float softmax_row(float *p, const float *z, int C)
{
    float mx = z[0];
    for (int c = 1; c < C; c++)
        mx = z[c] > mx ? z[c] : mx;
    float s = 0.0f;
    for (int c = 0; c < C; c++) {
        p[c] = expf(z[c] - mx);
        s += p[c];
    }
    for (int c = 0; c < C; c++)
        p[c] /= s;
    return logf(s) + mx;
}

void loss_softmax_forward(float *probs, const float *logits, int N, int C)
{
    for (int n = 0; n < N; n++)
        softmax_row(probs + (size_t)n * C, logits + (size_t)n * C, C);
}

int loss_softmax_ce_smooth_forward(float *loss, float *probs, const float *logits,
                                   const int *targets, const float *weights,
                                   int ignore_index, float eps, int N, int C,
                                   char *errbuf)
{
    if (!(eps >= 0.0f && eps < 1.0f))
        return ss_errf(errbuf, SS_ERR_ARG, "cross-entropy: label smoothing %g is outside [0,1)",
                       (double)eps);
    for (int n = 0; n < N; n++) {
        if (targets[n] != ignore_index && (targets[n] < 0 || targets[n] >= C))
            return ss_errf(errbuf, SS_ERR_ARG,
                           "cross-entropy: target %d of row %d is outside [0,%d)",
                           targets[n], n, C);
        if (weights && !(weights[n] >= 0.0f))
            return ss_errf(errbuf, SS_ERR_ARG, "cross-entropy: weight of row %d is negative",
                           n);
    }
    double sum = 0.0, wsum = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * C;
        /* log-softmax from the logits, not log(p), for accuracy:
         * -log p[c] = logsumexp(z) - z[c] */
        float lse = softmax_row(probs + (size_t)n * C, z, C);
        float w;
        if (!ce_counted(targets, weights, ignore_index, n, &w))
            continue;
        double row = (double)(lse - z[targets[n]]);
        if (eps > 0.0f) { /* (1 - eps) (lse - z[t]) + eps mean(lse - z) */
            double zsum = 0.0;
            for (int c = 0; c < C; c++)
                zsum += z[c];
            row = (1.0 - eps) * row + eps * ((double)lse - zsum / C);
        }
        sum += w * row;
        wsum += w;
    }
    *loss = wsum > 0.0 ? (float)(sum / wsum) : 0.0f;
    return SS_OK;
}

int loss_softmax_ce_forward(float *loss, float *probs, const float *logits,
                            const int *targets, const float *weights,
                            int ignore_index, int N, int C, char *errbuf)
{
    return loss_softmax_ce_smooth_forward(loss, probs, logits, targets, weights, ignore_index,
                                          0.0f, N, C, errbuf);
}

void loss_softmax_ce_smooth_backward(float *dlogits, const float *probs,
                                     const int *targets, const float *weights,
                                     int ignore_index, float eps, float dloss, int N,
                                     int C)
{
    double wsum = 0.0;
    float w;
    for (int n = 0; n < N; n++)
        if (ce_counted(targets, weights, ignore_index, n, &w))
            wsum += w;
    float u = eps / (float)C; /* the smoothed target's share of every class */
    for (int n = 0; n < N; n++) {
        float *dz = dlogits + (size_t)n * C;
        const float *p = probs + (size_t)n * C;
        if (wsum <= 0.0 || !ce_counted(targets, weights, ignore_index, n, &w)) {
            memset(dz, 0, (size_t)C * sizeof(float));
            continue;
        }
        float scale = (float)(dloss * w / wsum);
        for (int c = 0; c < C; c++)
            dz[c] = scale * (p[c] - u);
        dz[targets[n]] -= scale * (1.0f - eps);
    }
}

void loss_softmax_ce_backward(float *dlogits, const float *probs,
                              const int *targets, const float *weights,
                              int ignore_index, float dloss, int N, int C)
{
    loss_softmax_ce_smooth_backward(dlogits, probs, targets, weights, ignore_index, 0.0f, dloss,
                                    N, C);
}

/* ---- shared: row normalisation ---- */

/* xhat (B,D) = x / max(|x|, eps); norm (B) receives the clamped norms. */
static void normalize_rows(float *xhat, float *norm, const float *x, int B, int D)
{
    for (int b = 0; b < B; b++) {
        const float *r = x + (size_t)b * D;
        float s = 0.0f;
        for (int d = 0; d < D; d++)
            s += r[d] * r[d];
        float nr = sqrtf(s);
        nr = nr > LOSS_NORM_EPS ? nr : LOSS_NORM_EPS;
        norm[b] = nr;
        float inv = 1.0f / nr;
        float *o = xhat + (size_t)b * D;
        for (int d = 0; d < D; d++)
            o[d] = r[d] * inv;
    }
}

/* Turns dxhat (B,D) into dx in place: dx = (dxhat - xhat (xhat . dxhat)) / |x|. */
static void normalize_rows_backward(float *dx, const float *xhat, const float *norm,
                                    int B, int D)
{
    for (int b = 0; b < B; b++) {
        float *g = dx + (size_t)b * D;
        const float *h = xhat + (size_t)b * D;
        float dot = 0.0f;
        for (int d = 0; d < D; d++)
            dot += h[d] * g[d];
        float inv = 1.0f / norm[b];
        for (int d = 0; d < D; d++)
            g[d] = (g[d] - h[d] * dot) * inv;
    }
}

/* ---- InfoNCE ---- */

/* Workspace layout: ahat (B,D), phat (B,D), anorm (B), pnorm (B),
 * prow (B,B) row softmax, pcol (B,B) column softmax stored transposed. */
size_t loss_infonce_workspace_size(int B, int D)
{
    return 2 * (size_t)B * D + 2 * (size_t)B + 2 * (size_t)B * B;
}

/* Softmax of each row of s (B,B) into p (p may equal s); returns the sum over
 * rows of -log p[i][i]. */
static double softmax_rows_diag_nll(float *p, const float *s, int B)
{
    double nll = 0.0;
    for (int i = 0; i < B; i++) {
        const float *z = s + (size_t)i * B;
        float *q = p + (size_t)i * B;
        float zi = z[i];
        float mx = z[0];
        for (int j = 1; j < B; j++)
            mx = z[j] > mx ? z[j] : mx;
        float sum = 0.0f;
        for (int j = 0; j < B; j++) {
            q[j] = expf(z[j] - mx);
            sum += q[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < B; j++)
            q[j] *= inv;
        nll += (double)(logf(sum) + mx - zi);
    }
    return nll;
}

float loss_infonce_forward(float *ws, const float *anchors,
                           const float *positives, float temperature,
                           int symmetric, int B, int D)
{
    size_t bd = (size_t)B * D, bb = (size_t)B * B;
    float *ahat = ws, *phat = ws + bd;
    float *anorm = ws + 2 * bd, *pnorm = anorm + B;
    float *prow = pnorm + B, *pcol = prow + bb;
    if (B <= 0)
        return 0.0f;
    normalize_rows(ahat, anorm, anchors, B, D);
    normalize_rows(phat, pnorm, positives, B, D);
    /* logits S (B,B) = ahat phat^T / t, into prow */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, B, D,
                1.0f / temperature, ahat, D, phat, D, 0.0f, prow, B);
    double lc = 0.0;
    if (symmetric) {
        /* pcol = S^T, then its row softmax: the column softmax of S, transposed */
        for (int i = 0; i < B; i++)
            for (int j = 0; j < B; j++)
                pcol[(size_t)j * B + i] = prow[(size_t)i * B + j];
        lc = softmax_rows_diag_nll(pcol, pcol, B);
    }
    double lr = softmax_rows_diag_nll(prow, prow, B);
    return (float)(symmetric ? 0.5 * (lr + lc) / B : lr / B);
}

void loss_infonce_backward(float *danchors, float *dpositives, const float *ws,
                           const float *anchors, const float *positives,
                           float temperature, int symmetric, float dloss,
                           int B, int D)
{
    (void)anchors;
    (void)positives;
    size_t bd = (size_t)B * D, bb = (size_t)B * B;
    const float *ahat = ws, *phat = ws + bd;
    const float *anorm = ws + 2 * bd, *pnorm = anorm + B;
    const float *prow = pnorm + B, *pcol = prow + bb;
    float inv_t = 1.0f / temperature;
    if (B <= 0)
        return;
    /* dS = (prow - I)/B, plus (colsoftmax - I)/B when symmetric (both halved);
     * dahat = dS phat / t and dphat = dS^T ahat / t, with the identity part
     * applied as a row-wise subtraction instead of a (B,B) buffer. */
    float scale = dloss * inv_t / (float)B * (symmetric ? 0.5f : 1.0f);
    /* rows term: dahat += scale * (prow - I) phat ; dphat += scale * (prow - I)^T ahat */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, B,
                scale, prow, B, phat, D, 0.0f, danchors, D);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, B, D, B,
                scale, prow, B, ahat, D, 0.0f, dpositives, D);
    for (size_t k = 0; k < bd; k++) {
        danchors[k] -= scale * phat[k];
        dpositives[k] -= scale * ahat[k];
    }
    if (symmetric) {
        /* pcol holds C^T where C is the column softmax of S (C^T rows = softmax of S^T rows).
         * dS_col = C - I, so dahat += scale * (C - I) phat = scale*(C^T)^T phat,
         * dphat += scale * (C - I)^T ahat = scale * C^T ahat. */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, B, D, B,
                    scale, pcol, B, phat, D, 1.0f, danchors, D);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, B,
                    scale, pcol, B, ahat, D, 1.0f, dpositives, D);
        for (size_t k = 0; k < bd; k++) {
            danchors[k] -= scale * phat[k];
            dpositives[k] -= scale * ahat[k];
        }
    }
    normalize_rows_backward(danchors, ahat, anorm, B, D);
    normalize_rows_backward(dpositives, phat, pnorm, B, D);
}

/* ---- triplet ---- */

/* Cosine of rows x and y (length D) with clamped norms; also returns the norms. */
static float cosine(const float *x, const float *y, int D, float *nx, float *ny)
{
    float xx = 0.0f, yy = 0.0f, xy = 0.0f;
    for (int d = 0; d < D; d++) {
        xx += x[d] * x[d];
        yy += y[d] * y[d];
        xy += x[d] * y[d];
    }
    float a = sqrtf(xx), b = sqrtf(yy);
    *nx = a > LOSS_NORM_EPS ? a : LOSS_NORM_EPS;
    *ny = b > LOSS_NORM_EPS ? b : LOSS_NORM_EPS;
    return xy / (*nx * *ny);
}

float loss_triplet_forward(const float *anchors, const float *positives,
                           const float *negatives, float margin, int B, int D)
{
    double sum = 0.0;
    float na, np, nn;
    for (int b = 0; b < B; b++) {
        const float *a = anchors + (size_t)b * D;
        float cp = cosine(a, positives + (size_t)b * D, D, &na, &np);
        float cn = cosine(a, negatives + (size_t)b * D, D, &na, &nn);
        float l = cn - cp + margin; /* (1-cp) - (1-cn) + margin */
        if (l > 0.0f)
            sum += l;
    }
    return B > 0 ? (float)(sum / B) : 0.0f;
}

/* g += s * d cos(x,y)/dx = s * (y/(|x||y|) - cos * x/|x|^2) */
static void cosine_grad_add(float *g, const float *x, const float *y, float c,
                            float nx, float ny, float s, int D)
{
    float k1 = s / (nx * ny), k2 = s * c / (nx * nx);
    for (int d = 0; d < D; d++)
        g[d] += k1 * y[d] - k2 * x[d];
}

void loss_triplet_backward(float *danchors, float *dpositives, float *dnegatives,
                           const float *anchors, const float *positives,
                           const float *negatives, float margin, float dloss,
                           int B, int D)
{
    size_t bd = (size_t)B * D;
    memset(danchors, 0, bd * sizeof(float));
    memset(dpositives, 0, bd * sizeof(float));
    memset(dnegatives, 0, bd * sizeof(float));
    float s = B > 0 ? dloss / (float)B : 0.0f;
    float na, np, nn;
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * D;
        const float *a = anchors + o, *p = positives + o, *n = negatives + o;
        float cp = cosine(a, p, D, &na, &np);
        float cn = cosine(a, n, D, &na, &nn);
        if (cn - cp + margin <= 0.0f)
            continue;
        /* loss = cn - cp + margin */
        cosine_grad_add(danchors + o, a, n, cn, na, nn, s, D);
        cosine_grad_add(danchors + o, a, p, cp, na, np, -s, D);
        cosine_grad_add(dnegatives + o, n, a, cn, nn, na, s, D);
        cosine_grad_add(dpositives + o, p, a, cp, np, na, -s, D);
    }
}

/* hopscore.c - a hop's windows and score; see hopscore.h. */
#include "hopscore.h"

#include <math.h>
#include <stdlib.h>

#include "roc.h"
#include "status.h"

int hopscore_windows(const connfeat_config *f, const conntab_record *in,
                     const conntab_record *out, int64_t *g0)
{
    *g0 = connfeat_first_window(f, out->start_us);
    int64_t end = in->end_us < out->end_us ? in->end_us : out->end_us;
    int k = 0;
    while (k < f->max_windows) {
        int64_t w0 = connfeat_window_start(f, *g0 + k);
        if (k > 0 && w0 > end)
            break;
        if (!connfeat_window_known(in, w0, f) || !connfeat_window_known(out, w0, f))
            break;
        k++;
    }
    return k;
}

/* Windows of similarity 0 added to every pair's mean (hopscore.h). */
#ifndef HOPSCORE_PRIOR_WINDOWS
#define HOPSCORE_PRIOR_WINDOWS 1.0
#endif

double hopscore_plain(double sum, int used)
{
    double s = used ? (sum / (used + HOPSCORE_PRIOR_WINDOWS) + 1.0) / 2.0 : 0.0;
    return s < 0 ? 0 : s > 1 ? 1 : s;
}

double hopscore_score(const encoder *enc, double sum, int used)
{
    double s = hopscore_plain(sum, used);
    if (!enc || enc->n_hop_thr == 0 || used == 0)
        return s;
    int k = used < enc->n_hop_thr ? used : enc->n_hop_thr;
    const float *t = enc->hop_thr[k - 1], *y = enc->hop_level;
    /* piecewise linear through (0,0), (t[j], y[j]) ..., (1,1) */
    double x0 = 0, y0 = 0;
    for (int j = 0; j <= ENCODER_HOP_LEVELS; j++) {
        double x1 = j < ENCODER_HOP_LEVELS ? t[j] : 1.0;
        double y1 = j == ENCODER_HOP_LEVELS - 1 ? enc->threshold /* exactly */
                    : j < ENCODER_HOP_LEVELS        ? y[j]
                                                    : 1.0;
        if (s <= x1 || j == ENCODER_HOP_LEVELS) {
            double v = x1 > x0 ? y0 + (s - x0) * (y1 - y0) / (x1 - x0) : y1;
            return v < 0 ? 0 : v > 1 ? 1 : v;
        }
        x0 = x1;
        y0 = y1;
    }
    return s;
}

/* The plain score of k windows of mean similarity m, and back. */
static double plain_of_mean(double m, int k)
{
    return (m * k / (k + HOPSCORE_PRIOR_WINDOWS) + 1.0) / 2.0;
}

static double mean_of_plain(double s, int k)
{
    return (2.0 * s - 1.0) * (k + HOPSCORE_PRIOR_WINDOWS) / k;
}

/* Keeps v in (0,1), above lo by at least a step. */
static double in_unit(double v, double lo)
{
    const double step = 1e-6;
    if (v < lo + step)
        v = lo + step;
    if (v < step)
        v = step;
    return v > 1 - step ? 1 - step : v;
}

int hopscore_calibrate(float (*thr)[ENCODER_HOP_LEVELS], float *level, double *threshold,
                       int k_max, const double *sum, const int *used, size_t n,
                       double target_fpr, char *errbuf)
{
    double *m = malloc(sizeof(*m) * (n ? n : 1));
    double *mk = malloc(sizeof(*mk) * (size_t)(k_max + 1) * ENCODER_HOP_LEVELS);
    if (!m || !mk) {
        free(m);
        free(mk);
        return ss_errf(errbuf, SS_ERR_NOMEM, "calibration: out of memory");
    }
    double fpr[ENCODER_HOP_LEVELS];
    for (int j = 0; j < ENCODER_HOP_LEVELS; j++)
        fpr[j] = target_fpr * pow(10.0, ENCODER_HOP_LEVELS - 1 - j);
    /* the levels: plain-score thresholds over all pairs */
    for (size_t i = 0; i < n; i++)
        m[i] = hopscore_plain(sum[i], used[i]);
    roc_sort_desc(m, n);
    *threshold = n ? roc_threshold_at_fpr(m, n, target_fpr) : 0.5;
    if (*threshold > 1.0)
        *threshold = 1.0;
    double lo = 0;
    for (int j = 0; j < ENCODER_HOP_LEVELS; j++) {
        double v = n ? roc_threshold_at_fpr(m, n, fpr[j] < 1 ? fpr[j] : 1) : 0.5;
        level[j] = (float)in_unit(v, lo);
        lo = level[j];
    }
    /* mk[k][j]: the mean-similarity threshold of k windows at level j, NAN
     * when no pair */
    for (int k = 1; k <= k_max; k++) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
            if (used[i] == k || (k == k_max && used[i] > k_max))
                m[c++] = sum[i] / used[i];
        roc_sort_desc(m, c);
        for (int j = 0; j < ENCODER_HOP_LEVELS; j++) {
            double v = c ? roc_threshold_at_fpr(m, c, fpr[j] < 1 ? fpr[j] : 1) : NAN;
            /* too few pairs to tell their own tail at this rate: never below
             * what the pooled (plain) threshold asks of k windows */
            if (c && fpr[j] * (double)c < 1.0 && v < mean_of_plain(level[j], k))
                v = mean_of_plain(level[j], k);
            mk[k * ENCODER_HOP_LEVELS + j] = v;
        }
    }
    for (int j = 0; j < ENCODER_HOP_LEVELS; j++) {
        double next = -INFINITY;
        for (int k = k_max; k >= 1; k--) {
            double v = mk[k * ENCODER_HOP_LEVELS + j];
            if (isnan(v)) /* no pair: the next larger count's, or the level's */
                v = k == k_max ? mean_of_plain(level[j], k_max) : next;
            if (v < next)
                v = next; /* fewer windows never need less similarity */
            next = v;
            mk[k * ENCODER_HOP_LEVELS + j] = v;
        }
    }
    for (int k = 1; k <= k_max; k++) {
        double prev = 0;
        for (int j = 0; j < ENCODER_HOP_LEVELS; j++) {
            double t = in_unit(plain_of_mean(mk[k * ENCODER_HOP_LEVELS + j], k), prev);
            thr[k - 1][j] = (float)t;
            prev = thr[k - 1][j];
        }
    }
    /* the last level is the plain threshold itself (exact in hopscore_score);
     * the levels below stay strictly under it */
    level[ENCODER_HOP_LEVELS - 1] = (float)*threshold;
    for (int j = ENCODER_HOP_LEVELS - 2; j >= 0; j--)
        if (!(level[j] < level[j + 1]))
            level[j] = nextafterf(level[j + 1], 0.0f);
    free(m);
    free(mk);
    return SS_OK;
}

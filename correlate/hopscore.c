/* hopscore.c - a hop's windows and score; see hopscore.h. */
#include "hopscore.h"

#include <math.h>
#include <stdlib.h>

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
    double t = enc->hop_thr[k - 1], T = enc->threshold;
    if (!(T > 0 && T < 1))
        return s;
    s = s <= t ? s * T / t : T + (s - t) * (1.0 - T) / (1.0 - t);
    return s < 0 ? 0 : s > 1 ? 1 : s;
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

static int dbl_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int hopscore_calibrate(float *thr, int k_max, const double *sum, const int *used, size_t n,
                       double target_fpr, double global, char *errbuf)
{
    double *m = malloc(sizeof(*m) * (n ? n : 1));
    double *mk = malloc(sizeof(*mk) * (size_t)(k_max + 1));
    if (!m || !mk) {
        free(m);
        free(mk);
        return ss_errf(errbuf, SS_ERR_NOMEM, "calibration: out of memory");
    }
    /* mk[k]: the mean-similarity threshold of k windows, NAN when no pair */
    for (int k = 1; k <= k_max; k++) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
            if (used[i] == k || (k == k_max && used[i] > k_max))
                m[c++] = sum[i] / used[i];
        if (c == 0) {
            mk[k] = NAN;
            continue;
        }
        qsort(m, c, sizeof(*m), dbl_desc);
        size_t allowed = (size_t)floor(target_fpr * (double)c);
        mk[k] = allowed >= c ? m[c - 1] : nextafter(m[allowed], INFINITY);
    }
    double next = -INFINITY;
    for (int k = k_max; k >= 1; k--) {
        double v = mk[k];
        if (isnan(v)) /* no pair: the next larger count's, or the plain threshold's */
            v = k == k_max ? mean_of_plain(global, k_max) : next;
        if (v < next)
            v = next; /* fewer windows never need less similarity */
        next = v;
        double t = plain_of_mean(v, k);
        thr[k - 1] = (float)(t < 1e-6 ? 1e-6 : t > 1 - 1e-6 ? 1 - 1e-6 : t);
    }
    free(m);
    free(mk);
    return SS_OK;
}

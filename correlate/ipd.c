/* ipd.c - inter-packet-delay correlation (Wang, Reeves & Wu 2002). */
#include "ipd.h"

#include <stdlib.h>

#include "status.h"

void ipd_config_default(ipd_config *cfg)
{
    cfg->window = 10;
    cfg->max_back = 2;
    cfg->max_ahead = 8;
    cfg->threshold = 0.7;
}

/* Min/max sum ratio of the IPDs of x starting at packet xi and of y at yi,
 * over w IPDs (both ranges checked by the caller). */
static double mms(const int64_t *x, size_t xi, const int64_t *y, size_t yi, unsigned w)
{
    double smin = 0, smax = 0;
    for (unsigned i = 0; i < w; i++) {
        double a = (double)(x[xi + i + 1] - x[xi + i]);
        double b = (double)(y[yi + i + 1] - y[yi + i]);
        smin += a < b ? a : b;
        smax += a < b ? b : a;
    }
    return smax > 0 ? smin / smax : 1.0;
}

/* Adds the windows of x (first leg) against y (relayed leg) to *sum, *count. */
static void windows(const ipd_config *cfg, const int64_t *x, size_t nx, const int64_t *y,
                    size_t ny, int64_t t0, int64_t t1, double *sum, size_t *count)
{
    unsigned w = cfg->window;
    size_t yi = 0;
    for (size_t j = 0; j + w < nx; ) {
        if (x[j] < t0) {
            j++;
            continue;
        }
        if (x[j + w] > t1)
            break;
        while (yi < ny && y[yi] < x[j])
            yi++;
        double best = 0;
        for (long k = -(long)cfg->max_back; k <= (long)cfg->max_ahead; k++) {
            long s = (long)yi + k;
            if (s < 0 || (size_t)s + w >= ny)
                continue;
            double v = mms(x, j, y, (size_t)s, w);
            if (v > best)
                best = v;
        }
        *sum += best;
        (*count)++;
        j += w;
    }
}

double ipd_score_pair(const ipd_config *cfg, const conntab_record *in,
                      const conntab_record *out, int64_t *ws)
{
    int64_t t0, t1;
    if (method_pair_window(in, out, &t0, &t1) < 0)
        return 0.0;
    int64_t *a = ws, *b = ws + in->n_pkts + out->n_pkts;
    double sum = 0;
    size_t count = 0;
    size_t na = method_leg_times(in, CONNTAB_DIR_ORIG, a, NULL, in->n_pkts);
    size_t nb = method_leg_times(out, CONNTAB_DIR_ORIG, b, NULL, out->n_pkts);
    windows(cfg, a, na, b, nb, t0, t1, &sum, &count);
    na = method_leg_times(out, CONNTAB_DIR_RESP, a, NULL, out->n_pkts);
    nb = method_leg_times(in, CONNTAB_DIR_RESP, b, NULL, in->n_pkts);
    windows(cfg, a, na, b, nb, t0, t1, &sum, &count);
    return count ? sum / (double)count : 0.0;
}

/* Adapts ipd_score_pair to method_score_each. */
static double ipd_pair(const void *cfg, const conntab_record *in, const conntab_record *out,
                       int64_t *ws)
{
    return ipd_score_pair(cfg, in, out, ws);
}

static int ipd_score(void *ctx, const connset *set, const candidates_pair *pairs, size_t n,
                     double *scores, char *errbuf)
{
    return method_score_each(ctx, ipd_pair, "ipd", set, pairs, n, scores, errbuf);
}

int ipd_method_init(method *m, const char *arg, char *errbuf)
{
    (void)arg;
    ipd_config *cfg = malloc(sizeof(*cfg));
    if (!cfg)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for ipd");
    ipd_config_default(cfg);
    m->threshold = cfg->threshold;
    m->score = ipd_score;
    m->ctx = cfg;
    m->destroy = free;
    return SS_OK;
}

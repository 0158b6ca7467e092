/* deviation.c - delay-shifted deviation of cumulative bytes (Yoda & Etoh 2000). */
#include "deviation.h"

#include <math.h>
#include <stdlib.h>

#include "status.h"

void deviation_config_default(deviation_config *cfg)
{
    cfg->samples = 128;
    cfg->shifts = 48;
    cfg->max_shift_us = 2000000;
    cfg->threshold = 0.9;
}

/* A cumulative curve: times ts[0..n) with the running byte count cum[] (as
 * a fraction of the total). */
typedef struct curve {
    const int64_t *ts;
    double *cum;
    size_t n;
} curve;

/* Turns lens of the packets in [t0, t1] into fractions of their total, in
 * place in cum (reusing the time array slots); returns the count kept. */
static size_t make_curve(curve *c, int64_t *ts, const uint32_t *lens, size_t n, int64_t t0,
                         int64_t t1)
{
    size_t k = 0;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ts[i] < t0 || ts[i] > t1)
            continue;
        ts[k] = ts[i];
        total += lens[i];
        c->cum[k] = total;
        k++;
    }
    for (size_t i = 0; i < k; i++)
        c->cum[i] /= total;
    c->ts = ts;
    c->n = k;
    return k;
}

/* F(t): the fraction sent at or before t, walking forward from *pos (t only
 * grows between calls). */
static double curve_at(const curve *c, size_t *pos, int64_t t)
{
    while (*pos < c->n && c->ts[*pos] <= t)
        (*pos)++;
    return *pos ? c->cum[*pos - 1] : 0.0;
}

static double curve_deviation(const deviation_config *cfg, const curve *f, const curve *g,
                              int64_t t0, int64_t t1)
{
    double best = 1.0;
    for (unsigned s = 0; s <= cfg->shifts; s++) {
        int64_t tau = 0;
        if (s > 0)
            tau = (int64_t)llround(1000.0 * pow((double)cfg->max_shift_us / 1000.0,
                                                (double)(s - 1) /
                                                    (double)(cfg->shifts > 1 ? cfg->shifts - 1 : 1)));
        if (t1 - tau <= t0)
            break;
        double span = (double)(t1 - tau - t0);
        size_t pf = 0, pg = 0;
        double sum = 0;
        for (unsigned m = 0; m < cfg->samples; m++) {
            int64_t t = t0 + (int64_t)(span * (m + 0.5) / cfg->samples);
            sum += fabs(curve_at(f, &pf, t) - curve_at(g, &pg, t + tau));
        }
        double d = sum / cfg->samples;
        if (d < best)
            best = d;
    }
    return best;
}

double deviation_score_pair(const deviation_config *cfg, const conntab_record *in,
                            const conntab_record *out, int64_t *ws, uint32_t *lws,
                            double *dws)
{
    int64_t t0, t1;
    if (method_pair_window(in, out, &t0, &t1) < 0)
        return 0.0;
    size_t half = in->n_pkts + out->n_pkts;
    int64_t *ta = ws, *tb = ws + half;
    uint32_t *la = lws, *lb = lws + half;
    double sum = 0;
    int dirs = 0;
    double *cum = dws;
    for (int dir = 0; dir < 2; dir++) {
        const conntab_record *first = dir == 0 ? in : out, *second = dir == 0 ? out : in;
        size_t na = method_leg_times(first, dir, ta, la, first->n_pkts);
        size_t nb = method_leg_times(second, dir, tb, lb, second->n_pkts);
        curve f = {NULL, cum, 0}, g = {NULL, cum + half, 0};
        if (!make_curve(&f, ta, la, na, t0, t1) || !make_curve(&g, tb, lb, nb, t0, t1))
            continue;
        sum += 1.0 - curve_deviation(cfg, &f, &g, t0, t1);
        dirs++;
    }
    return dirs ? sum / dirs : 0.0;
}

/* Bytes of workspace per packet: two int64_t times, two double fractions
 * and two uint32_t lengths (deviation_score_pair's ws, dws and lws). */
#define DEV_WS_PER_PKT (2 * sizeof(int64_t) + 2 * sizeof(double) + 2 * sizeof(uint32_t))

/* Adapts deviation_score_pair to method_score_each_ws: carves its three
 * workspaces, each for 2 * (in->n_pkts + out->n_pkts) packets, out of ws. */
static double dev_pair(const void *cfg, const conntab_record *in, const conntab_record *out,
                       void *ws)
{
    size_t cap = 2 * ((size_t)in->n_pkts + out->n_pkts);
    int64_t *ts = ws;
    double *dws = (double *)(ts + cap);
    uint32_t *lws = (uint32_t *)(dws + cap);
    return deviation_score_pair(cfg, in, out, ts, lws, dws);
}

static int dev_score(void *ctx, const connset *set, const candidates_pair *pairs, size_t n,
                     double *scores, char *errbuf)
{
    return method_score_each_ws(ctx, dev_pair, DEV_WS_PER_PKT, "deviation", set, pairs, n,
                                scores, errbuf);
}

static void dev_destroy(void *ctx)
{
    free(ctx);
}

int deviation_method_init(method *m, const char *arg, char *errbuf)
{
    (void)arg;
    deviation_config *cfg = malloc(sizeof(*cfg));
    if (!cfg)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for deviation");
    deviation_config_default(cfg);
    m->threshold = cfg->threshold;
    m->score = dev_score;
    m->ctx = cfg;
    m->destroy = dev_destroy;
    return SS_OK;
}

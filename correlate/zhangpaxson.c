/* zhangpaxson.c - ON/OFF period coincidence (Zhang & Paxson 2000). */
#include "zhangpaxson.h"

#include <stdlib.h>
#include <string.h>

#include "status.h"

void zhangpaxson_config_default(zhangpaxson_config *cfg)
{
    cfg->idle_us = 500000;
    cfg->delta_us = 80000;
    cfg->gamma = 0.3;
    cfg->min_consecutive = 2;
}

/* Keeps, in place, the times of ts[0..n) that end an OFF period and fall in
 * [t0, t1]; returns their count. */
static size_t off_ends(int64_t *ts, size_t n, int64_t idle, int64_t t0, int64_t t1)
{
    size_t k = 0;
    for (size_t i = 1; i < n; i++)
        if (ts[i] - ts[i - 1] > idle && ts[i] >= t0 && ts[i] <= t1)
            ts[k++] = ts[i];
    return k;
}

typedef struct zp_count {
    size_t coinc, base;
    unsigned best_run;
} zp_count;

/* Counts the OFF ends of b that coincide with one of a (both sorted). */
static void coincide(zp_count *c, const int64_t *a, size_t na, const int64_t *b, size_t nb,
                     int64_t delta)
{
    size_t j = 0;
    unsigned run = 0;
    size_t hits = 0;
    for (size_t i = 0; i < nb; i++) {
        while (j < na && a[j] < b[i] - delta)
            j++;
        if (j < na && a[j] <= b[i] + delta) {
            hits++;
            if (++run > c->best_run)
                c->best_run = run;
        } else {
            run = 0;
        }
    }
    size_t m = na < nb ? na : nb;
    c->coinc += hits < m ? hits : m;
    c->base += m;
}

double zhangpaxson_score_pair(const zhangpaxson_config *cfg, const conntab_record *in,
                              const conntab_record *out, int64_t *ws)
{
    int64_t t0, t1;
    if (method_pair_window(in, out, &t0, &t1) < 0)
        return -1.0;
    zp_count c = {0, 0, 0};
    int64_t *a = ws, *b = ws + in->n_pkts + out->n_pkts;
    /* keystrokes: in.ORIG then out.ORIG; answers: out.RESP then in.RESP */
    for (int dir = 0; dir < 2; dir++) {
        size_t na = method_leg_times(in, dir, a, NULL, in->n_pkts);
        size_t nb = method_leg_times(out, dir, b, NULL, out->n_pkts);
        na = off_ends(a, na, cfg->idle_us, t0, t1);
        nb = off_ends(b, nb, cfg->idle_us, t0, t1);
        coincide(&c, a, na, b, nb, cfg->delta_us);
    }
    if (!c.base)
        return -1.0;
    double ratio = (double)c.coinc / (double)c.base;
    return c.best_run >= cfg->min_consecutive ? ratio : ratio - 1.0;
}

/* Adapts zhangpaxson_score_pair to method_score_each. */
static double zp_pair(const void *cfg, const conntab_record *in, const conntab_record *out,
                      int64_t *ws)
{
    return zhangpaxson_score_pair(cfg, in, out, ws);
}

static int zp_score(void *ctx, const connset *set, const candidates_pair *pairs, size_t n,
                    double *scores, char *errbuf)
{
    return method_score_each(ctx, zp_pair, "zhang-paxson", set, pairs, n, scores, errbuf);
}

int zhangpaxson_method_init(method *m, const char *arg, char *errbuf)
{
    (void)arg;
    zhangpaxson_config *cfg = malloc(sizeof(*cfg));
    if (!cfg)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for zhang-paxson");
    zhangpaxson_config_default(cfg);
    m->threshold = cfg->gamma;
    m->score = zp_score;
    m->ctx = cfg;
    m->destroy = free;
    return SS_OK;
}

/* method.c - what every correlation method shares; see method.h. */
#include "method.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

int method_score(const method *m, const connset *set, const candidates_pair *pairs,
                 size_t n, double *scores, char *errbuf)
{
    if (!m || !m->score)
        return ss_errf(errbuf, SS_ERR_ARG, "method not initialised");
    size_t nc = connset_count(set);
    for (size_t i = 0; i < n; i++)
        if (pairs[i].in >= nc || pairs[i].out >= nc)
            return ss_errf(errbuf, SS_ERR_ARG, "candidate %zu refers to a connection outside the set",
                           i);
    if (n == 0)
        return SS_OK;
    int rc = m->score(m->ctx, set, pairs, n, scores, errbuf);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (isnan(scores[i]))
            return ss_errf(errbuf, SS_ERR_INTERNAL, "method %s gave a NaN score", m->name);
    return SS_OK;
}

void method_free(method *m)
{
    if (!m)
        return;
    if (m->destroy)
        m->destroy(m->ctx);
    memset(m, 0, sizeof(*m));
}

size_t method_leg_times(const conntab_record *rec, int dir, int64_t *ts,
                        uint32_t *lens, size_t cap)
{
    size_t k = 0;
    for (uint32_t i = 0; i < rec->n_pkts && k < cap; i++) {
        const conntab_pkt *p = &rec->pkts[i];
        if (p->dir != dir || !p->payload_len || p->retrans)
            continue;
        ts[k] = rec->start_us + p->dt_us;
        if (lens)
            lens[k] = p->payload_len;
        k++;
    }
    return k;
}

static int64_t last_seen(const conntab_record *r)
{
    int64_t end = r->end_us;
    if (r->n_pkts < r->orig_pkts + r->resp_pkts) /* the record was cut */
        end = r->n_pkts ? r->start_us + r->pkts[r->n_pkts - 1].dt_us : r->start_us;
    return end;
}

int method_pair_window(const conntab_record *in, const conntab_record *out,
                       int64_t *t0, int64_t *t1)
{
    int64_t a = in->start_us > out->start_us ? in->start_us : out->start_us;
    int64_t ei = last_seen(in), eo = last_seen(out);
    int64_t b = ei < eo ? ei : eo;
    *t0 = a;
    *t1 = b;
    return b > a ? 0 : -1;
}

int method_score_each_ws(const void *cfg, method_pair_ws_fn pair, size_t ws_per_pkt,
                         const char *name, const connset *set, const candidates_pair *pairs,
                         size_t n, double *scores, char *errbuf)
{
    size_t maxp = 1;
    for (size_t i = 0; i < connset_count(set); i++)
        if (connset_get(set, i)->n_pkts > maxp)
            maxp = connset_get(set, i)->n_pkts;
    void *ws = malloc(2 * maxp * ws_per_pkt);
    if (!ws)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %s", name);
    for (size_t i = 0; i < n; i++)
        scores[i] = pair(cfg, connset_get(set, pairs[i].in), connset_get(set, pairs[i].out), ws);
    free(ws);
    return SS_OK;
}

/* A method_pair_fn with its configuration, run through method_score_each_ws. */
typedef struct times_pair {
    const void *cfg;
    method_pair_fn pair;
} times_pair;

static double times_pair_call(const void *ctx, const conntab_record *in,
                              const conntab_record *out, void *ws)
{
    const times_pair *tp = ctx;
    return tp->pair(tp->cfg, in, out, ws);
}

int method_score_each(const void *cfg, method_pair_fn pair, const char *name,
                      const connset *set, const candidates_pair *pairs, size_t n,
                      double *scores, char *errbuf)
{
    times_pair tp = {cfg, pair};
    return method_score_each_ws(&tp, times_pair_call, 2 * sizeof(int64_t), name, set, pairs, n,
                                scores, errbuf);
}

/* train_sessions.c - training of the session anomaly model (see train_sessions.h). */
#include "train_sessions.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "rng.h"
#include "sessnet.h"
#include "sessscore.h"
#include "status.h"

void train_sessions_config_default(train_sessions_config *cfg)
{
    session_config_default(&cfg->sess);
    cfg->max_states = 64;
    cfg->min_count = 3;
    cfg->byte_classes = SESSION_BYTE_CLASSES_DEFAULT;
    cfg->hidden = 32;
    cfg->layers = 2;
    cfg->dense = 32;
    cfg->epochs = 60;
    cfg->batch = 32;
    cfg->lr = 3e-3f;
    cfg->weight_decay = 0.01f;
    cfg->val_frac = 0.2f;
    cfg->patience = 8;
    cfg->seed = 1;
    cfg->quantile = 0.999;
    cfg->label_smoothing = 0.0f;
    cfg->input_dropout = 0.2f;
    cfg->min_host_sessions = 20;
    cfg->score_top = 5;
    cfg->score_rule = SESSION_SCORE_SURPRISAL;
    cfg->host_factor = 1.1;
    cfg->markov_alpha = 0.1;
    cfg->log = NULL;
    cfg->starts = NULL;
    cfg->n_starts = 0;
}

/* Scratch of one batch: inputs, targets, activations, workspace. */
typedef struct batch_buf {
    int B, T;
    float *x, *acts, *ws;
    int *lengths, *st, *sz;
} batch_buf;

static void batch_free(batch_buf *b)
{
    free(b->x);
    free(b->acts);
    free(b->ws);
    free(b->lengths);
    free(b->st);
    free(b->sz);
    memset(b, 0, sizeof(*b));
}

static int batch_alloc(batch_buf *b, const session_net *net, int B, int T, int want_ws,
                       char *errbuf)
{
    memset(b, 0, sizeof(*b));
    b->B = B;
    b->T = T;
    size_t N = (size_t)B * (size_t)T;
    b->x = malloc(N * (size_t)net->cfg.input_size * sizeof(float));
    b->acts = malloc(session_net_acts_size(net, B, T) * sizeof(float));
    b->ws = want_ws ? malloc(session_net_workspace_size(net, B, T) * sizeof(float)) : NULL;
    b->lengths = malloc((size_t)B * sizeof(int));
    b->st = malloc(N * sizeof(int));
    b->sz = malloc(N * sizeof(int));
    if (!b->x || !b->acts || (want_ws && !b->ws) || !b->lengths || !b->st || !b->sz) {
        batch_free(b);
        return ss_errf(errbuf, SS_ERR_NOMEM, "session training: out of memory");
    }
    return SS_OK;
}

/* Copies sessions idx[0..nb) of d into the batch; returns the T used (the
 * longest session, at most b->T). */
static int batch_fill(batch_buf *b, const session_data *d, const size_t *idx, int nb)
{
    int In = d->input_size, T = 1;
    for (int k = 0; k < nb; k++)
        T = d->list.spans[idx[k]].n > T ? d->list.spans[idx[k]].n : T;
    size_t N = (size_t)nb * (size_t)T;
    memset(b->x, 0, N * (size_t)In * sizeof(float));
    for (size_t r = 0; r < N; r++)
        b->st[r] = b->sz[r] = -1;
    for (int k = 0; k < nb; k++) {
        const session_span *sp = &d->list.spans[idx[k]];
        b->lengths[k] = sp->n;
        memcpy(b->x + (size_t)k * T * In, d->x + sp->first * (size_t)In,
               (size_t)sp->n * In * sizeof(float));
        memcpy(b->st + (size_t)k * T, d->state + sp->first, (size_t)sp->n * sizeof(int));
        memcpy(b->sz + (size_t)k * T, d->size + sp->first, (size_t)sp->n * sizeof(int));
    }
    return T;
}

static int max_len(const session_data *d)
{
    int T = 1;
    for (size_t s = 0; s < d->list.n_spans; s++)
        T = d->list.spans[s].n > T ? d->list.spans[s].n : T;
    return T;
}

int train_sessions_eval_loss(float *loss, const session_net *net, const session_data *d,
                             const size_t *idx, size_t n, int batch, char *errbuf)
{
    *loss = 0.0f;
    if (n == 0)
        return SS_OK;
    if (batch < 1)
        batch = 32;
    batch_buf b;
    int rc = batch_alloc(&b, net, batch, max_len(d), 0, errbuf);
    if (rc)
        return rc;
    double sum = 0.0, members = 0.0;
    for (size_t s0 = 0; s0 < n; s0 += (size_t)batch) {
        int nb = (int)(n - s0 < (size_t)batch ? n - s0 : (size_t)batch);
        int T = batch_fill(&b, d, idx + s0, nb);
        float l;
        if ((rc = session_net_forward(&l, b.acts, b.x, b.lengths, b.st, b.sz, net, nb, T,
                                      errbuf)))
            break;
        double m = 0.0;
        for (int k = 0; k < nb; k++)
            m += b.lengths[k];
        sum += (double)l * m; /* the forward's loss is a mean over members */
        members += m;
    }
    batch_free(&b);
    if (!rc)
        *loss = (float)(sum / members);
    return rc;
}

int train_sessions_net(session_net *net, const session_data *d, const size_t *train,
                       size_t n_train, const size_t *val, size_t n_val,
                       const train_sessions_config *cfg, double *best_val, char *errbuf)
{
    if (n_train == 0)
        return ss_errf(errbuf, SS_ERR_EMPTY, "no training sessions");
    int B = cfg->batch > 0 ? cfg->batch : 32;
    net->smoothing = cfg->label_smoothing;
    batch_buf b;
    int rc = batch_alloc(&b, net, B, max_len(d), 1, errbuf);
    if (rc)
        return rc;
    size_t *order = malloc(n_train * sizeof(*order));
    float *best = malloc(net->params->total * sizeof(float));
    if (!order || !best) {
        free(order);
        free(best);
        batch_free(&b);
        return ss_errf(errbuf, SS_ERR_NOMEM, "session training: out of memory");
    }
    memcpy(order, train, n_train * sizeof(*order));
    memcpy(best, net->params->data, net->params->total * sizeof(float));
    adamw_config ac;
    adamw_config_default(&ac);
    ac.lr = cfg->lr;
    ac.weight_decay = cfg->weight_decay;
    rng_t r;
    rng_seed(&r, cfg->seed ^ UINT64_C(0x5e5510ade1));
    double best_loss = INFINITY;
    int since = 0;
    for (int ep = 0; ep < cfg->epochs && !rc; ep++) {
        rng_shuffle(&r, order, n_train);
        double tsum = 0.0;
        int steps = 0;
        for (size_t s0 = 0; s0 < n_train; s0 += (size_t)B) {
            int nb = (int)(n_train - s0 < (size_t)B ? n_train - s0 : (size_t)B);
            int T = batch_fill(&b, d, order + s0, nb);
            /* hide whole connections from the context: a network that can copy its
             * neighbours finds a run of identical never-seen connections (a scan)
             * predictable from itself */
            if (cfg->input_dropout > 0.0f)
                for (int k = 0; k < nb; k++)
                    for (int t = 0; t < b.lengths[k]; t++)
                        if (rng_uniform(&r) < cfg->input_dropout)
                            memset(b.x + ((size_t)k * T + t) * d->input_size, 0,
                                   (size_t)d->input_size * sizeof(float));
            float l;
            if ((rc = session_net_forward(&l, b.acts, b.x, b.lengths, b.st, b.sz, net, nb, T,
                                          errbuf)))
                break;
            params_zero_grad(net->params);
            if ((rc = session_net_backward(b.ws, b.acts, b.x, b.lengths, b.st, b.sz, net, nb, T,
                                           errbuf)))
                break;
            adamw_step(net->params, &ac);
            tsum += l;
            steps++;
        }
        if (rc)
            break;
        float vl = 0.0f;
        if (n_val && (rc = train_sessions_eval_loss(&vl, net, d, val, n_val, B, errbuf)))
            break;
        if (cfg->log)
            fprintf(cfg->log, "epoch %d: train loss %.4f, validation loss %.4f\n", ep + 1,
                    steps ? tsum / steps : 0.0, n_val ? vl : NAN);
        if (!n_val)
            continue;
        if (vl < best_loss) {
            best_loss = vl;
            since = 0;
            memcpy(best, net->params->data, net->params->total * sizeof(float));
        } else if (++since >= cfg->patience) {
            if (cfg->log)
                fprintf(cfg->log, "early stop: best validation loss %.4f\n", best_loss);
            break;
        }
    }
    if (!rc && n_val)
        memcpy(net->params->data, best, net->params->total * sizeof(float));
    if (best_val)
        *best_val = best_loss;
    free(order);
    free(best);
    batch_free(&b);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Quantile q of v[0..n) (sorted in place), linear interpolation. */
static double quantile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof(*v), cmp_double);
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (pos - (double)lo) * (v[lo + 1] - v[lo]);
}

/* Estimate of the quantile q of the distribution v[0..n) were drawn from (sorted in
 * place): the empirical quantile when n (1 - q) >= 2 (two values or more expected
 * above it); otherwise an exponential tail fitted above the median u (peaks over
 * threshold): P(X > u + y) = 0.5 exp(-y / b), b the mean excess over u, so the
 * estimate is u + b ln(0.5 / (1 - q)), and never below the largest value (a
 * benign session the threshold was set on is never flagged). With 400 scores the
 * empirical 0.999 quantile is the maximum, which about 1/400 of new benign
 * sessions exceed. A score bounded by 1 (rule SESSION_SCORE_MEAN_LIK) takes the
 * empirical quantile: an exponential tail has no bound. */
double train_sessions_tail_quantile(double *v, size_t n, double q, int rule)
{
    if ((double)n * (1.0 - q) >= 2.0 || q <= 0.5 || rule == SESSION_SCORE_MEAN_LIK)
        return quantile(v, n, q);
    double u = quantile(v, n, 0.5), b = 0.0; /* sorts v */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] > u) {
            b += v[i] - u;
            m++;
        }
    double est = m ? u + b / (double)m * log(0.5 / (1.0 - q)) : v[n - 1];
    return est > v[n - 1] ? est : v[n - 1];
}

static int cmp_span_host(const void *a, const void *b, void *ctx)
{
    const session_span *sp = ctx;
    const session_span *x = &sp[*(const size_t *)a], *y = &sp[*(const size_t *)b];
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    int c = memcmp(x->host, y->host, 16);
    if (c)
        return c;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Per host and length class, the quantile q of the scores res of the sessions
 * sel[0..n_sel) of l (NAN where a host has fewer than need of a class): into
 * *out (n_sel entries at most, sorted by host), *n_out hosts. sel is reordered. */
static int host_quantiles(session_host_threshold **out, size_t *n_out, const session_list *l,
                          size_t *sel, size_t n_sel, const session_result *res, double q,
                          size_t need, int rule, char *errbuf)
{
    *out = NULL;
    *n_out = 0;
    session_host_threshold *hosts = calloc(n_sel ? n_sel : 1, sizeof(*hosts));
    double *sc = malloc((n_sel ? n_sel : 1) * sizeof(double));
    if (!hosts || !sc) {
        free(hosts);
        free(sc);
        return ss_errf(errbuf, SS_ERR_NOMEM, "thresholds: out of memory");
    }
    qsort_r(sel, n_sel, sizeof(size_t), cmp_span_host, l->spans);
    size_t nh = 0;
    for (size_t i = 0; i < n_sel;) {
        const session_span *a = &l->spans[sel[i]];
        size_t j = i;
        while (j < n_sel && l->spans[sel[j]].family == a->family &&
               !memcmp(l->spans[sel[j]].host, a->host, 16))
            j++;
        int own = 0;
        for (int c = 0; c < SESSION_LEN_CLASSES; c++) {
            size_t k = 0;
            for (size_t x = i; x < j; x++)
                if (session_length_class(l->spans[sel[x]].n) == c)
                    sc[k++] = res[sel[x]].score;
            hosts[nh].threshold[c] = !k ? NAN : k >= need ? train_sessions_tail_quantile(sc, k, q, rule)
                                                          : quantile(sc, k, 1.0);
            own |= k && k >= need;
        }
        if (own) {
            hosts[nh].family = a->family;
            memcpy(hosts[nh].host, a->host, 16);
            nh++;
        }
        i = j;
    }
    free(sc);
    *out = hosts;
    *n_out = nh;
    return SS_OK;
}

/* Scores of every session of d under method into res (d->list.n_spans). */
static int score_all(session_result *res, const session_model *m, int method,
                     const session_data *d, char *errbuf)
{
    size_t nm = d->list.n_members ? d->list.n_members : 1;
    double *lik = malloc(2 * nm * sizeof(double));
    if (!lik)
        return ss_errf(errbuf, SS_ERR_NOMEM, "thresholds: out of memory");
    int rc = session_model_likelihoods(lik, lik + nm, m, method, d, errbuf);
    if (!rc)
        session_model_results(res, m, method, d, lik);
    free(lik);
    return rc;
}

/* End of the run of sessions idx[i..) of one host (idx sorted by host); *kc
 * receives how many of them are of length class c. */
static size_t host_run(const session_list *sl, const size_t *idx, size_t n_sel, size_t i, int c,
                       size_t *kc)
{
    size_t j = i;
    *kc = 0;
    while (j < n_sel && sl->spans[idx[j]].family == sl->spans[idx[i]].family &&
           !memcmp(sl->spans[idx[j]].host, sl->spans[idx[i]].host, 16))
        *kc += session_length_class(sl->spans[idx[j++]].n) == c;
    return j;
}

int train_sessions_thresholds(session_model *m, int method, const session_data *d,
                              const size_t *sel, size_t n_sel, double q, int min_host_sessions,
                              char *errbuf)
{
    const session_list *sl = &d->list;
    if (!sel)
        n_sel = sl->n_spans;
    if (sl->n_spans == 0 || n_sel == 0)
        return ss_errf(errbuf, SS_ERR_EMPTY, "no sessions to set thresholds from");
    session_result *res = malloc(sl->n_spans * sizeof(*res));
    double *sc = malloc(n_sel * sizeof(double));
    size_t *idx = malloc(n_sel * sizeof(size_t));
    session_host_threshold *hosts = NULL;
    size_t nh = 0;
    int rc = SS_OK;
    if (!res || !sc || !idx) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "thresholds: out of memory");
        goto done;
    }
    if ((rc = score_all(res, m, method, d, errbuf)))
        goto done;
    for (size_t s = 0; s < n_sel; s++) {
        idx[s] = sel ? sel[s] : s;
        sc[s] = res[idx[s]].score;
    }
    session_thresholds *t = &m->thr[method];
    size_t need = (size_t)(min_host_sessions > 1 ? min_host_sessions : 1);
    double all = train_sessions_tail_quantile(sc, n_sel, q, m->score_rule);
    if ((rc = host_quantiles(&hosts, &nh, sl, idx, n_sel, res, q, need, m->score_rule,
                             errbuf)))
        goto done;
    /* The global threshold of a class is for hosts without a threshold of their own
     * in it: the sessions of the busy hosts (busy servers, whose long sessions score
     * higher) are left out: those with enough sessions for their own threshold *and*
     * more than the average host of the class. The average keeps the split the same
     * however much calibration data there is: with enough sessions alone as the test,
     * more data made every moderately busy host "busy", and only the quiet hosts were
     * left to set the bar. idx is sorted by host now. */
    for (int c = 0; c < SESSION_LEN_CLASSES; c++) {
        size_t k = 0, n_hc = 0, tot = 0;
        for (size_t i = 0; i < n_sel;) {
            size_t kc, j = host_run(sl, idx, n_sel, i, c, &kc);
            n_hc += kc > 0;
            tot += kc;
            i = j;
        }
        double avg = n_hc ? (double)tot / (double)n_hc : 0.0;
        for (size_t i = 0; i < n_sel;) {
            size_t kc, j = host_run(sl, idx, n_sel, i, c, &kc);
            int busy = need > 1 && kc >= need && (double)kc > avg;
            for (size_t x = i; x < j && !busy; x++)
                if (session_length_class(sl->spans[idx[x]].n) == c)
                    sc[k++] = res[idx[x]].score;
            i = j;
        }
        if (!k) { /* every host of the class has its own: all of them */
            for (size_t i = 0; i < n_sel; i++)
                if (session_length_class(sl->spans[idx[i]].n) == c)
                    sc[k++] = res[idx[i]].score;
        }
        t->global[c] = k ? train_sessions_tail_quantile(sc, k, q, m->score_rule) : all; /* no session of the class: all */
    }
    free(t->hosts);
    t->hosts = hosts;
    t->n_hosts = nh;
    hosts = NULL;
done:
    free(res);
    free(sc);
    free(idx);
    free(hosts);
    return rc;
}

/* Merges hosts[0..nh) (sorted by host) into t's host thresholds, keeping the
 * larger threshold of each length class of a host present in both. */
static int merge_hosts(session_thresholds *t, const session_host_threshold *hosts, size_t nh,
                       char *errbuf)
{
    session_host_threshold *merged;
    merged = malloc((t->n_hosts + nh ? t->n_hosts + nh : 1) * sizeof(*merged));
    if (!merged) {
        return ss_errf(errbuf, SS_ERR_NOMEM, "thresholds: out of memory");
    }
    /* both lists are sorted by host: merge, keeping the larger threshold of each class */
    size_t i = 0, j = 0, n = 0;
    while (i < t->n_hosts || j < nh) {
        int c = i == t->n_hosts ? 1 : j == nh ? -1
                : (t->hosts[i].family != hosts[j].family
                       ? (t->hosts[i].family < hosts[j].family ? -1 : 1)
                       : memcmp(t->hosts[i].host, hosts[j].host, 16));
        if (c < 0)
            merged[n++] = t->hosts[i++];
        else if (c > 0)
            merged[n++] = hosts[j++];
        else {
            merged[n] = t->hosts[i++];
            for (int k = 0; k < SESSION_LEN_CLASSES; k++) {
                double b = hosts[j].threshold[k];
                if (!isnan(b) && (isnan(merged[n].threshold[k]) || b > merged[n].threshold[k]))
                    merged[n].threshold[k] = b;
            }
            j++;
            n++;
        }
    }
    free(t->hosts);
    t->hosts = merged;
    t->n_hosts = n;
    return SS_OK;
}

int train_sessions_host_thresholds(session_model *m, int method, const session_data *d,
                                   double q, int min_host_sessions, char *errbuf)
{
    const session_list *sl = &d->list;
    if (sl->n_spans == 0)
        return SS_OK;
    session_result *res = malloc(sl->n_spans * sizeof(*res));
    size_t *idx = malloc(sl->n_spans * sizeof(size_t));
    session_host_threshold *hosts = NULL;
    size_t nh = 0;
    int rc = SS_OK;
    session_thresholds *t = &m->thr[method];
    if (!res || !idx) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "thresholds: out of memory");
        goto done;
    }
    for (size_t s = 0; s < sl->n_spans; s++)
        idx[s] = s;
    if ((rc = score_all(res, m, method, d, errbuf)) ||
        (rc = host_quantiles(&hosts, &nh, sl, idx, sl->n_spans, res, q,
                             (size_t)(min_host_sessions > 1 ? min_host_sessions : 1),
                             m->score_rule, errbuf)))
        goto done;
    rc = merge_hosts(t, hosts, nh, errbuf);
done:
    free(res);
    free(idx);
    free(hosts);
    return rc;
}

int train_sessions_calibrate(session_model *m, const conntab_record *const *recs, size_t n,
                             const float *vecs, int enc_dim, const train_sessions_config *cfg,
                             char *errbuf)
{
    if (enc_dim != m->enc_dim)
        return ss_errf(errbuf, SS_ERR_ARG, "calibration: encoder dimension %d, the model %d",
                       enc_dim, m->enc_dim);
    session_data d;
    int rc = session_data_build(&d, &m->vocab, recs, n, vecs, enc_dim, &m->sess, cfg->starts,
                                cfg->n_starts, errbuf);
    for (int k = 0; !rc && k < SESSION_METHOD_COUNT; k++) {
        /* the hosts' thresholds from training stay, raised where calibration says */
        session_host_threshold *old = m->thr[k].hosts;
        size_t n_old = m->thr[k].n_hosts;
        m->thr[k].hosts = NULL;
        m->thr[k].n_hosts = 0;
        rc = train_sessions_thresholds(m, k, &d, NULL, 0, cfg->quantile, cfg->min_host_sessions,
                                       errbuf);
        if (!rc)
            rc = merge_hosts(&m->thr[k], old, n_old, errbuf);
        free(old);
    }
    if (!rc && cfg->log)
        for (int k = 0; k < SESSION_METHOD_COUNT; k++)
            fprintf(cfg->log, "%s: calibrated on %zu sessions: global thresholds %.4f %.4f %.4f "
                    "(1, 2-5, 6+ connections), %zu host thresholds\n",
                    session_method_to_string(k), d.list.n_spans, m->thr[k].global[0],
                    m->thr[k].global[1], m->thr[k].global[2], m->thr[k].n_hosts);
    session_data_free(&d);
    return rc;
}

int train_sessions_run(session_model **out, const conntab_record *const *recs, size_t n,
                       const float *vecs, int enc_dim, const train_sessions_config *cfg,
                       char *errbuf)
{
    *out = NULL;
    if (cfg->score_rule < 0 || cfg->score_rule >= SESSION_SCORE_RULE_COUNT)
        return ss_errf(errbuf, SS_ERR_ARG, "session training: unknown score rule %d",
                       cfg->score_rule);
    if (cfg->score_top < 0 || cfg->score_top > SESSION_SCORE_TOP_MAX ||
        !(cfg->host_factor == 0.0 || cfg->host_factor >= 1.0))
        return ss_errf(errbuf, SS_ERR_ARG, "session training: score_top %d (0..%d) or "
                       "host_factor %g (0 or at least 1) out of range", cfg->score_top,
                       SESSION_SCORE_TOP_MAX, cfg->host_factor);
    session_list sl;
    session_data d;
    memset(&d, 0, sizeof(d));
    int rc = session_list_build(&sl, recs, n, &cfg->sess, cfg->starts, cfg->n_starts, errbuf);
    if (rc)
        return rc;
    session_model *m = calloc(1, sizeof(*m));
    uint32_t *keys = malloc((sl.n_members ? sl.n_members : 1) * sizeof(uint32_t));
    size_t nm1 = sl.n_members ? sl.n_members : 1;
    uint64_t *orig = malloc(2 * nm1 * sizeof(uint64_t)), *resp = orig ? orig + nm1 : NULL;
    int64_t *dur = malloc(nm1 * sizeof(int64_t));
    size_t *idx = malloc((sl.n_spans ? sl.n_spans : 1) * sizeof(size_t));
    if (!m || !keys || !orig || !dur || !idx) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "session training: out of memory");
        goto done;
    }
    if (sl.n_spans == 0) {
        rc = ss_errf(errbuf, SS_ERR_EMPTY, "no connections to train on");
        goto done;
    }
    if ((rc = session_list_keys(keys, &sl, recs, errbuf)))
        goto done;
    for (size_t k = 0; k < sl.n_members; k++) {
        const conntab_record *r = recs[sl.conn[k]];
        orig[k] = r->orig_bytes;
        resp[k] = r->resp_bytes;
        dur[k] = r->end_us - r->start_us;
    }
    m->sess = cfg->sess;
    m->enc_dim = enc_dim;
    m->quantile = cfg->quantile;
    m->score_top = cfg->score_top;
    m->score_rule = cfg->score_rule;
    m->host_factor = cfg->host_factor;
    if ((rc = session_vocab_build(&m->vocab, keys, sl.n_members, cfg->max_states,
                                  cfg->min_count, errbuf)) ||
        (rc = session_vocab_build_sizes(&m->vocab, keys, orig, resp, dur, sl.n_members,
                                        cfg->byte_classes, errbuf)) ||
        (rc = session_data_build(&d, &m->vocab, recs, n, vecs, enc_dim, &cfg->sess, cfg->starts,
                                 cfg->n_starts, errbuf)))
        goto done;
    size_t ns = d.list.n_spans;
    for (size_t s = 0; s < ns; s++)
        idx[s] = s;
    rng_t r;
    rng_seed(&r, cfg->seed);
    rng_shuffle(&r, idx, ns);
    size_t n_val = ns >= 5 ? (size_t)floor(cfg->val_frac * (double)ns) : 0;
    if (n_val >= ns)
        n_val = ns - 1;
    if (cfg->log)
        fprintf(cfg->log, "%zu connections, %zu sessions (%zu training, %zu validation), "
                "%d states, %d size classes (%d services)\n", n, ns, ns - n_val, n_val,
                m->vocab.n_states, m->vocab.n_sizes, m->vocab.n_services);
    int In = session_input_size(&m->vocab, enc_dim);
    session_net_config nc[2] = {
        {.input_size = In, .n_states = m->vocab.n_states, .n_sizes = m->vocab.n_sizes,
         .hidden = cfg->hidden, .layers = cfg->layers, .bidirectional = 1, .dense = cfg->dense},
        {.input_size = In, .n_states = m->vocab.n_states, .n_sizes = m->vocab.n_sizes,
         .hidden = cfg->hidden, .layers = 1, .bidirectional = 0, .dense = cfg->dense}};
    for (int j = 0; j < 2; j++) {
        if (cfg->log)
            fprintf(cfg->log, "training %s\n", session_method_to_string(j));
        if ((rc = session_net_create(&m->net[j], &nc[j], cfg->seed + (uint64_t)j, errbuf)) ||
            (rc = train_sessions_net(m->net[j], &d, idx + n_val, ns - n_val, idx, n_val, cfg,
                                     NULL, errbuf)))
            goto done;
    }
    if ((rc = markov_create(&m->markov, m->vocab.n_states, cfg->markov_alpha, errbuf)))
        goto done;
    /* The chain counts the training part only, and every method's thresholds are
     * quantiles of the validation part's scores: sessions no method was fit on. Scores
     * of the sessions a network was trained on are lower than those of new benign
     * sessions, so thresholds taken from them flag several times more of the latter
     * than the quantile says. Without a validation part, every session is used. */
    for (size_t s = n_val; s < ns; s++)
        markov_observe(m->markov, d.state + d.list.spans[idx[s]].first, d.list.spans[idx[s]].n);
    for (int k = 0; k < SESSION_METHOD_COUNT; k++)
        if ((rc = train_sessions_thresholds(m, k, &d, n_val ? idx : NULL, n_val, cfg->quantile,
                                            cfg->min_host_sessions, errbuf)) ||
            (rc = train_sessions_host_thresholds(m, k, &d, cfg->quantile,
                                                 cfg->min_host_sessions, errbuf)))
            goto done;
    if (cfg->log)
        for (int k = 0; k < SESSION_METHOD_COUNT; k++)
            fprintf(cfg->log, "%s: global thresholds %.4f %.4f %.4f (1, 2-5, 6+ connections), "
                    "%zu host thresholds\n", session_method_to_string(k), m->thr[k].global[0],
                    m->thr[k].global[1], m->thr[k].global[2], m->thr[k].n_hosts);
    *out = m;
    m = NULL;
done:
    session_model_destroy(m);
    session_list_free(&sl);
    session_data_free(&d);
    free(keys);
    free(orig);
    free(dur);
    free(idx);
    return rc;
}

/* train_sessions.c - training of the session anomaly model (see train_sessions.h). */
#include "train_sessions.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "rng.h"
#include "status.h"

void train_sessions_config_default(train_sessions_config *cfg)
{
    session_config_default(&cfg->sess);
    cfg->max_states = 64;
    cfg->min_count = 3;
    cfg->size_classes = 8;
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
    cfg->min_host_sessions = 1000; /* a 0.999 quantile needs ~1/(1-q) scores */
    cfg->markov_alpha = 0.1;
    cfg->log = NULL;
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

int train_sessions_thresholds(session_model *m, int method, const session_data *d,
                              const size_t *sel, size_t n_sel, double q, int min_host_sessions,
                              char *errbuf)
{
    const session_list *sl = &d->list;
    if (!sel)
        n_sel = sl->n_spans;
    if (sl->n_spans == 0 || n_sel == 0)
        return ss_errf(errbuf, SS_ERR_EMPTY, "no sessions to set thresholds from");
    double *lik = malloc(2 * (sl->n_members ? sl->n_members : 1) * sizeof(double));
    session_result *res = malloc(sl->n_spans * sizeof(*res));
    double *sc = malloc(sl->n_spans * sizeof(double));
    size_t *byhost = malloc(sl->n_spans * sizeof(size_t));
    session_host_threshold *hosts = calloc(sl->n_spans, sizeof(*hosts));
    int rc = SS_OK;
    if (!lik || !res || !sc || !byhost || !hosts) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "thresholds: out of memory");
        goto done;
    }
    if ((rc = session_model_likelihoods(lik, lik + sl->n_members, m, method, d, errbuf)))
        goto done;
    session_model_results(res, m, method, d, lik, lik + sl->n_members);
    for (size_t s = 0; s < n_sel; s++) {
        byhost[s] = sel ? sel[s] : s;
        sc[s] = res[byhost[s]].score;
    }
    double global = quantile(sc, n_sel, q);
    qsort_r(byhost, n_sel, sizeof(size_t), cmp_span_host, sl->spans);
    size_t nh = 0;
    for (size_t i = 0; i < n_sel;) {
        const session_span *a = &sl->spans[byhost[i]];
        size_t j = i;
        while (j < n_sel && sl->spans[byhost[j]].family == a->family &&
               !memcmp(sl->spans[byhost[j]].host, a->host, 16)) {
            sc[j - i] = res[byhost[j]].score;
            j++;
        }
        if (j - i >= (size_t)(min_host_sessions > 1 ? min_host_sessions : 1)) {
            hosts[nh].family = a->family;
            memcpy(hosts[nh].host, a->host, 16);
            hosts[nh].threshold = quantile(sc, j - i, q);
            nh++;
        }
        i = j;
    }
    free(m->thr[method].hosts);
    m->thr[method].global = global;
    m->thr[method].hosts = hosts;
    m->thr[method].n_hosts = nh;
    hosts = NULL;
done:
    free(lik);
    free(res);
    free(sc);
    free(byhost);
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
    int rc = session_data_build(&d, &m->vocab, recs, n, vecs, enc_dim, &m->sess, errbuf);
    for (int k = 0; !rc && k < SESSION_METHOD_COUNT; k++)
        rc = train_sessions_thresholds(m, k, &d, NULL, 0, cfg->quantile, cfg->min_host_sessions,
                                       errbuf);
    if (!rc && cfg->log)
        for (int k = 0; k < SESSION_METHOD_COUNT; k++)
            fprintf(cfg->log, "%s: calibrated on %zu sessions: global threshold %.4f, %zu host "
                    "thresholds\n", session_method_to_string(k), d.list.n_spans,
                    m->thr[k].global, m->thr[k].n_hosts);
    session_data_free(&d);
    return rc;
}

int train_sessions_run(session_model **out, const conntab_record *const *recs, size_t n,
                       const float *vecs, int enc_dim, const train_sessions_config *cfg,
                       char *errbuf)
{
    *out = NULL;
    session_list sl;
    session_data d;
    memset(&d, 0, sizeof(d));
    int rc = session_list_build(&sl, recs, n, &cfg->sess, errbuf);
    if (rc)
        return rc;
    session_model *m = calloc(1, sizeof(*m));
    uint32_t *keys = malloc((sl.n_members ? sl.n_members : 1) * sizeof(uint32_t));
    uint64_t *bytes = malloc((sl.n_members ? sl.n_members : 1) * sizeof(uint64_t));
    size_t *idx = malloc((sl.n_spans ? sl.n_spans : 1) * sizeof(size_t));
    if (!m || !keys || !bytes || !idx) {
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
        bytes[k] = r->orig_bytes + r->resp_bytes;
    }
    m->sess = cfg->sess;
    m->enc_dim = enc_dim;
    m->quantile = cfg->quantile;
    if ((rc = session_vocab_build(&m->vocab, keys, bytes, sl.n_members, cfg->max_states,
                                  cfg->min_count, cfg->size_classes, errbuf)) ||
        (rc = session_data_build(&d, &m->vocab, recs, n, vecs, enc_dim, &cfg->sess, errbuf)))
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
                "%d states, %d size classes\n", n, ns, ns - n_val, n_val, m->vocab.n_states,
                m->vocab.n_sizes);
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
                                            cfg->min_host_sessions, errbuf)))
            goto done;
    if (cfg->log)
        for (int k = 0; k < SESSION_METHOD_COUNT; k++)
            fprintf(cfg->log, "%s: global threshold %.4f, %zu host thresholds\n",
                    session_method_to_string(k), m->thr[k].global, m->thr[k].n_hosts);
    *out = m;
    m = NULL;
done:
    session_model_destroy(m);
    session_list_free(&sl);
    session_data_free(&d);
    free(keys);
    free(bytes);
    free(idx);
    return rc;
}

/* sessmodel.c - the session model and its model files (see sessmodel.h). */
#include "sessmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

static const char *const method_names[SESSION_METHOD_COUNT] = {"bilstm", "lstm1", "markov"};
static const char *const net_prefix[2] = {"bilstm.", "lstm1."};

const char *session_score_rule_to_string(int rule)
{
    return rule == SESSION_SCORE_SURPRISAL  ? "surprisal"
           : rule == SESSION_SCORE_MEAN_LIK ? "mean-likelihood"
                                            : "?";
}

int session_score_rule_from_string(const char *s)
{
    for (int r = 0; r < SESSION_SCORE_RULE_COUNT; r++)
        if (!strcmp(s, session_score_rule_to_string(r)))
            return r;
    return -1;
}

const char *session_method_to_string(int method)
{
    return method >= 0 && method < SESSION_METHOD_COUNT ? method_names[method] : "?";
}

int session_method_from_string(const char *s)
{
    for (int k = 0; k < SESSION_METHOD_COUNT; k++)
        if (s && !strcmp(s, method_names[k]))
            return k;
    return -1;
}

/* ---- the model ---- */

static void thresholds_free(session_thresholds *t)
{
    free(t->hosts);
    memset(t, 0, sizeof(*t));
}

void session_model_destroy(session_model *m)
{
    if (!m)
        return;
    session_vocab_free(&m->vocab);
    session_net_destroy(m->net[0]);
    session_net_destroy(m->net[1]);
    markov_destroy(m->markov);
    for (int k = 0; k < SESSION_METHOD_COUNT; k++)
        thresholds_free(&m->thr[k]);
    free(m);
}

/* ---- model files ---- */

#define HOST_FLOATS (17 + SESSION_LEN_CLASSES) /* family, 16 address bytes, thresholds */

/* A threshold as a float, rounded up: a score it was taken from is never above it. */
static float thr_float(double v)
{
    float f = (float)v;
    return (double)f < v ? nextafterf(f, INFINITY) : f;
}

static int set_net_config(modelfile_t *mf, const char *prefix, const session_net *net,
                          char *errbuf)
{
    char k[MODELFILE_NAME_MAX];
    int rc;
    snprintf(k, sizeof(k), "%shidden", prefix);
    if ((rc = modelfile_set_int(mf, k, net->cfg.hidden, errbuf)))
        return rc;
    snprintf(k, sizeof(k), "%slayers", prefix);
    if ((rc = modelfile_set_int(mf, k, net->cfg.layers, errbuf)))
        return rc;
    snprintf(k, sizeof(k), "%sbidirectional", prefix);
    if ((rc = modelfile_set_int(mf, k, net->cfg.bidirectional, errbuf)))
        return rc;
    snprintf(k, sizeof(k), "%sdense", prefix);
    return modelfile_set_int(mf, k, net->cfg.dense, errbuf);
}

static int set_thresholds(modelfile_t *mf, int method, const session_thresholds *t,
                          char *errbuf)
{
    char k[MODELFILE_NAME_MAX];
    float g[SESSION_LEN_CLASSES];
    for (int c = 0; c < SESSION_LEN_CLASSES; c++)
        g[c] = thr_float(t->global[c]);
    snprintf(k, sizeof(k), "thr.%s.global", session_method_to_string(method));
    int rc = modelfile_set_norm(mf, k, g, SESSION_LEN_CLASSES, errbuf);
    if (rc)
        return rc;
    float *a = malloc((t->n_hosts ? t->n_hosts : 1) * HOST_FLOATS * sizeof(float));
    if (!a)
        return ss_errf(errbuf, SS_ERR_NOMEM, "session model: out of memory");
    for (size_t h = 0; h < t->n_hosts; h++) {
        float *r = a + h * HOST_FLOATS;
        r[0] = t->hosts[h].family;
        for (int j = 0; j < 16; j++)
            r[1 + j] = t->hosts[h].host[j];
        for (int c = 0; c < SESSION_LEN_CLASSES; c++)
            r[17 + c] = isnan(t->hosts[h].threshold[c]) ? NAN : thr_float(t->hosts[h].threshold[c]);
    }
    snprintf(k, sizeof(k), "thr.%s.hosts", session_method_to_string(method));
    rc = modelfile_set_norm(mf, k, a, t->n_hosts * HOST_FLOATS, errbuf);
    free(a);
    return rc;
}

int session_model_to_file(modelfile_t **out, params_t **params, const session_model *m,
                          char *errbuf)
{
    *out = NULL;
    *params = NULL;
    modelfile_t *mf = NULL;
    params_t *p = NULL;
    float *tmp = NULL;
    int rc;
    if (!m->net[0] || !m->net[1] || !m->markov)
        return ss_errf(errbuf, SS_ERR_ARG, "session model: incomplete (networks or chain missing)");
    if ((rc = modelfile_create(&mf, SESSION_MODEL_KIND, errbuf)))
        return rc;
    size_t nk = (size_t)m->vocab.n_states - 1, nsv = (size_t)m->vocab.n_services - 1;
    size_t ne = (size_t)m->vocab.n_services * SESSION_SIZE_EDGES(m->vocab.byte_classes);
    if (m->vocab.byte_classes < 3 || m->vocab.n_services < 1 || !m->vocab.size_edges ||
        !m->vocab.size_tails || !m->vocab.state_types) {
        rc = ss_errf(errbuf, SS_ERR_ARG, "session model: no size classes or state types");
        goto fail;
    }
    tmp = malloc((2 * nk + 2 * nsv + 1) * sizeof(float));
    if (!tmp) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "session model: out of memory");
        goto fail;
    }
    for (size_t k = 0; k < nk; k++) { /* two halves: each exact as a float */
        tmp[2 * k] = (float)(m->vocab.state_keys[k] & 0xffff);
        tmp[2 * k + 1] = (float)(m->vocab.state_keys[k] >> 16);
    }
    for (size_t k = 0; k < nsv; k++) {
        tmp[2 * nk + 2 * k] = (float)(m->vocab.service_keys[k] & 0xffff);
        tmp[2 * nk + 2 * k + 1] = (float)(m->vocab.service_keys[k] >> 16);
    }
    if ((rc = modelfile_set_int(mf, "gap_us", m->sess.gap_us, errbuf)) ||
        (rc = modelfile_set_int(mf, "max_conns", m->sess.max_conns, errbuf)) ||
        (rc = modelfile_set_int(mf, "enc_dim", m->enc_dim, errbuf)) ||
        (rc = modelfile_set_int(mf, "encoder_id", (int64_t)m->encoder_id, errbuf)) ||
        (rc = modelfile_set_int(mf, "n_states", m->vocab.n_states, errbuf)) ||
        (rc = modelfile_set_int(mf, "n_sizes", m->vocab.n_sizes, errbuf)) ||
        (rc = modelfile_set_int(mf, "byte_classes", m->vocab.byte_classes, errbuf)) ||
        (rc = modelfile_set_int(mf, "n_services", m->vocab.n_services, errbuf)) ||
        (rc = modelfile_set_norm(mf, "service_keys", tmp + 2 * nk, 2 * nsv, errbuf)) ||
        (rc = modelfile_set_int(mf, "outcomes", SESSION_N_OUTCOMES, errbuf)) ||
        (rc = modelfile_set_int(mf, "state_layout", SESSION_STATE_LAYOUT, errbuf)) ||
        (rc = modelfile_set_float(mf, "quantile", m->quantile, errbuf)) ||
        (rc = modelfile_set_int(mf, "score_top", m->score_top, errbuf)) ||
        (rc = modelfile_set_str(mf, "score_rule", session_score_rule_to_string(m->score_rule),
                                errbuf)) ||
        (rc = modelfile_set_float(mf, "host_factor", m->host_factor, errbuf)) ||
        (rc = modelfile_set_float(mf, "markov.alpha", m->markov->alpha, errbuf)) ||
        (rc = modelfile_set_norm(mf, "state_keys", tmp, 2 * nk, errbuf)) ||
        (rc = modelfile_set_norm(mf, "state_types", m->vocab.state_types,
                                 (size_t)m->vocab.n_states, errbuf)) ||
        (rc = modelfile_set_norm(mf, "size_edges", m->vocab.size_edges, ne, errbuf)) ||
        (rc = modelfile_set_norm(mf, "size_tails", m->vocab.size_tails,
                                 (size_t)m->vocab.n_services * 3, errbuf)) ||
        (rc = modelfile_set_norm(mf, "markov.counts", m->markov->counts,
                                 markov_counts_size(m->markov->n_states), errbuf)))
        goto fail;
    for (int j = 0; j < 2; j++)
        if ((rc = set_net_config(mf, net_prefix[j], m->net[j], errbuf)))
            goto fail;
    for (int k = 0; k < SESSION_METHOD_COUNT; k++)
        if ((rc = set_thresholds(mf, k, &m->thr[k], errbuf)))
            goto fail;
    if ((rc = params_create(&p, errbuf)))
        goto fail;
    for (int j = 0; j < 2; j++) {
        const params_t *np = m->net[j]->params;
        for (size_t t = 0; t < np->n_tensors; t++) {
            char name[PARAMS_NAME_MAX];
            if (snprintf(name, sizeof(name), "%s%s", net_prefix[j], np->tensors[t].name) >=
                (int)sizeof(name)) {
                rc = ss_errf(errbuf, SS_ERR_INTERNAL, "tensor name too long");
                goto fail;
            }
            int idx = params_add(p, name, np->tensors[t].ndim, np->tensors[t].shape,
                                 np->tensors[t].flags, errbuf);
            if (idx < 0) {
                rc = idx;
                goto fail;
            }
        }
    }
    if ((rc = params_alloc(p, errbuf)))
        goto fail;
    size_t off = 0;
    for (int j = 0; j < 2; j++) {
        const params_t *np = m->net[j]->params;
        memcpy(p->data + off, np->data, np->total * sizeof(float));
        off += np->total;
    }
    free(tmp);
    *out = mf;
    *params = p;
    return SS_OK;
fail:
    free(tmp);
    modelfile_destroy(mf);
    params_destroy(p);
    return rc;
}

int session_model_save(const session_model *m, const char *path, char *errbuf)
{
    modelfile_t *mf;
    params_t *p;
    int rc = session_model_to_file(&mf, &p, m, errbuf);
    if (rc)
        return rc;
    rc = modelfile_save(mf, p, path, errbuf);
    modelfile_destroy(mf);
    params_destroy(p);
    return rc;
}

static int get_int(const modelfile_t *mf, const char *key, int64_t lo, int64_t hi, int64_t *v,
                   char *errbuf)
{
    int rc = modelfile_get_int(mf, key, v, errbuf);
    if (rc)
        return rc;
    if (*v < lo || *v > hi)
        return ss_errf(errbuf, SS_ERR_FORMAT, "session model: %s = %lld is out of range",
                       key, (long long)*v);
    return SS_OK;
}

static int load_net(session_net **out, const modelfile_t *mf, int j, int In, int V, int K,
                    char *errbuf)
{
    char k[MODELFILE_NAME_MAX];
    int64_t hid, lay, bi, den;
    int rc;
    snprintf(k, sizeof(k), "%shidden", net_prefix[j]);
    if ((rc = get_int(mf, k, 1, 4096, &hid, errbuf)))
        return rc;
    snprintf(k, sizeof(k), "%slayers", net_prefix[j]);
    if ((rc = get_int(mf, k, 1, 8, &lay, errbuf)))
        return rc;
    snprintf(k, sizeof(k), "%sbidirectional", net_prefix[j]);
    if ((rc = get_int(mf, k, 0, 1, &bi, errbuf)))
        return rc;
    snprintf(k, sizeof(k), "%sdense", net_prefix[j]);
    if ((rc = get_int(mf, k, 1, 4096, &den, errbuf)))
        return rc;
    session_net_config nc = {.input_size = In, .n_states = V, .n_sizes = K, .hidden = (int)hid,
                             .layers = (int)lay, .bidirectional = (int)bi, .dense = (int)den};
    session_net *net;
    if ((rc = session_net_create(&net, &nc, 0, errbuf)))
        return rc;
    const params_t *src = mf->params;
    for (size_t t = 0; t < net->params->n_tensors; t++) {
        const params_tensor *dt = &net->params->tensors[t];
        char name[PARAMS_NAME_MAX];
        snprintf(name, sizeof(name), "%s%s", net_prefix[j], dt->name);
        int si = params_find(src, name);
        if (si < 0) {
            session_net_destroy(net);
            return ss_errf(errbuf, SS_ERR_SHAPE, "session model: tensor %s missing", name);
        }
        const params_tensor *st = &src->tensors[si];
        int same = st->ndim == dt->ndim;
        for (int d = 0; same && d < dt->ndim; d++)
            same = st->shape[d] == dt->shape[d];
        if (!same) {
            char e[64], f[64];
            params_shape_string(dt, e, sizeof(e));
            params_shape_string(st, f, sizeof(f));
            session_net_destroy(net);
            return ss_errf(errbuf, SS_ERR_SHAPE, "session model: tensor %s: expected %s, found %s",
                           name, e, f);
        }
        const float *sv = params_data(src, si);
        for (size_t q = 0; q < dt->size; q++)
            if (!isfinite(sv[q])) {
                session_net_destroy(net);
                return ss_errf(errbuf, SS_ERR_FORMAT, "session model: tensor %s holds a value "
                               "that is not a finite number", name);
            }
        memcpy(params_data(net->params, (int)t), sv, dt->size * sizeof(float));
    }
    *out = net;
    return SS_OK;
}

static int load_thresholds(session_thresholds *t, const modelfile_t *mf, int method,
                           char *errbuf)
{
    char k[MODELFILE_NAME_MAX];
    const float *g;
    size_t ng;
    snprintf(k, sizeof(k), "thr.%s.global", session_method_to_string(method));
    int rc = modelfile_get_norm(mf, k, &g, &ng, SESSION_LEN_CLASSES, errbuf);
    if (rc)
        return rc;
    for (int c = 0; c < SESSION_LEN_CLASSES; c++) {
        if (!isfinite(g[c]))
            return ss_errf(errbuf, SS_ERR_FORMAT, "session model: %s[%d] = %g is not a finite "
                           "number", k, c, g[c]);
        t->global[c] = g[c];
    }
    snprintf(k, sizeof(k), "thr.%s.hosts", session_method_to_string(method));
    const float *a;
    size_t n;
    if ((rc = modelfile_get_norm(mf, k, &a, &n, 0, errbuf)))
        return rc;
    if (n % HOST_FLOATS)
        return ss_errf(errbuf, SS_ERR_SHAPE, "session model: %s has %zu floats, not a multiple "
                       "of %d", k, n, HOST_FLOATS);
    t->n_hosts = n / HOST_FLOATS;
    t->hosts = calloc(t->n_hosts ? t->n_hosts : 1, sizeof(*t->hosts));
    if (!t->hosts)
        return ss_errf(errbuf, SS_ERR_NOMEM, "session model: out of memory");
    for (size_t h = 0; h < t->n_hosts; h++) {
        const float *r = a + h * HOST_FLOATS;
        session_host_threshold *ht = &t->hosts[h];
        int bad = r[0] != 4 && r[0] != 6;
        for (int c = 0; c < SESSION_LEN_CLASSES; c++)
            bad |= isinf(r[17 + c]);
        if (bad)
            return ss_errf(errbuf, SS_ERR_FORMAT, "session model: bad host entry %zu in %s", h, k);
        ht->family = (uint8_t)r[0];
        for (int j = 0; j < 16; j++) {
            if (!(r[1 + j] >= 0 && r[1 + j] <= 255))
                return ss_errf(errbuf, SS_ERR_FORMAT, "session model: bad host entry %zu in %s",
                               h, k);
            ht->host[j] = (uint8_t)r[1 + j];
        }
        for (int c = 0; c < SESSION_LEN_CLASSES; c++)
            ht->threshold[c] = r[17 + c];
        if (h && session_host_cmp(t->hosts[h - 1].family, t->hosts[h - 1].host, ht->family,
                          ht->host) >= 0)
            return ss_errf(errbuf, SS_ERR_FORMAT, "session model: hosts of %s not sorted", k);
    }
    return SS_OK;
}

/* Config keys and arrays a session model holds besides the per-network and
 * per-method ones (check_keys adds those). */
static const char *const fixed_config_keys[] = {
    "gap_us", "max_conns", "enc_dim", "encoder_id", "n_states", "n_sizes", "byte_classes",
    "n_services", "outcomes", "state_layout", "quantile", "score_top", "score_rule",
    "host_factor", "markov.alpha"};
static const char *const fixed_arrays[] = {"service_keys", "state_keys", "state_types",
                                           "size_edges", "size_tails", "markov.counts"};
static const char *const net_keys[] = {"hidden", "layers", "bidirectional", "dense"};
#define N_FIXED_CONFIG (sizeof(fixed_config_keys) / sizeof(fixed_config_keys[0]))
#define N_FIXED_ARRAYS (sizeof(fixed_arrays) / sizeof(fixed_arrays[0]))

/* Refuses a config key or array a session model does not have. */
static int check_keys(const modelfile_t *mf, char *errbuf)
{
    char names[2 * 4 + 2 * SESSION_METHOD_COUNT][MODELFILE_NAME_MAX];
    const char *cfg[N_FIXED_CONFIG + 2 * 4 + 1], *arr[N_FIXED_ARRAYS + 2 * SESSION_METHOD_COUNT + 1];
    size_t nc = 0, na = 0, nn = 0;
    for (size_t k = 0; k < N_FIXED_CONFIG; k++)
        cfg[nc++] = fixed_config_keys[k];
    for (int j = 0; j < 2; j++)
        for (int k = 0; k < 4; k++) {
            snprintf(names[nn], MODELFILE_NAME_MAX, "%s%s", net_prefix[j], net_keys[k]);
            cfg[nc++] = names[nn++];
        }
    cfg[nc] = NULL;
    for (size_t k = 0; k < N_FIXED_ARRAYS; k++)
        arr[na++] = fixed_arrays[k];
    for (int m = 0; m < SESSION_METHOD_COUNT; m++) {
        snprintf(names[nn], MODELFILE_NAME_MAX, "thr.%s.global", session_method_to_string(m));
        arr[na++] = names[nn++];
        snprintf(names[nn], MODELFILE_NAME_MAX, "thr.%s.hosts", session_method_to_string(m));
        arr[na++] = names[nn++];
    }
    arr[na] = NULL;
    return modelfile_check_keys(mf, cfg, arr, errbuf);
}

int session_model_from_file(session_model **out, const modelfile_t *mf, uint64_t id,
                            char *errbuf)
{
    *out = NULL;
    int rc = modelfile_expect_kind(mf, SESSION_MODEL_KIND, errbuf);
    if (!rc)
        rc = check_keys(mf, errbuf);
    if (rc)
        return rc;
    int64_t gap, maxc, E, V, K, nout, eid, C, S;
    double alpha, q;
    if ((rc = get_int(mf, "gap_us", 1, INT64_C(1) << 50, &gap, errbuf)) ||
        (rc = get_int(mf, "max_conns", 1, 4096, &maxc, errbuf)) ||
        (rc = get_int(mf, "enc_dim", 0, 4096, &E, errbuf)) ||
        (rc = modelfile_get_int(mf, "encoder_id", &eid, errbuf)) ||
        (rc = get_int(mf, "n_states", 1, 4096, &V, errbuf)) ||
        (rc = get_int(mf, "n_sizes", 1, 256, &K, errbuf)) ||
        (rc = get_int(mf, "byte_classes", 3, 8, &C, errbuf)) ||
        (rc = get_int(mf, "n_services", 1, SESSION_SIZE_MAX_SERVICES, &S, errbuf)) ||
        (rc = get_int(mf, "outcomes", 0, 1024, &nout, errbuf)) ||
        (rc = modelfile_get_float(mf, "quantile", &q, errbuf)) ||
        (rc = modelfile_get_float(mf, "markov.alpha", &alpha, errbuf)))
        return rc;
    if (!(q >= 0 && q <= 1)) /* NaN too: --quantile's range */
        return ss_errf(errbuf, SS_ERR_FORMAT, "session model: quantile = %g is out of range "
                       "(0 to 1)", q);
    if (!(isfinite(alpha) && alpha > 0))
        return ss_errf(errbuf, SS_ERR_FORMAT, "session model: markov.alpha = %g is not a "
                       "finite positive number", alpha);
    int64_t layout = 0;
    if (modelfile_get_int(mf, "state_layout", &layout, errbuf) || layout != SESSION_STATE_LAYOUT)
        return ss_errf(errbuf, SS_ERR_FORMAT, "session model: state layout %lld, this build "
                       "reads %d (retrain the model with this build)", (long long)layout,
                       SESSION_STATE_LAYOUT);
    int64_t top;
    double hf;
    if (modelfile_get_int(mf, "score_top", &top, errbuf) ||
        modelfile_get_float(mf, "host_factor", &hf, errbuf))
        return ss_errf(errbuf, SS_ERR_FORMAT, "session model: no score_top or host_factor "
                       "(a model of an earlier build: retrain it with this build)");
    const char *rule_s;
    int rule;
    if (modelfile_get_str(mf, "score_rule", &rule_s, errbuf))
        return ss_errf(errbuf, SS_ERR_FORMAT, "session model: no score_rule (a model of an "
                       "earlier build: retrain it with this build)");
    if ((rule = session_score_rule_from_string(rule_s)) < 0) {
        char esc[SS_ESCAPE_SIZE];
        return ss_errf(errbuf, SS_ERR_FORMAT, "session model: unknown score_rule '%s'",
                       ss_escape(esc, sizeof(esc), rule_s, strlen(rule_s)));
    }
    if (top < 0 || top > SESSION_SCORE_TOP_MAX || !(hf == 0.0 || (hf >= 1.0 && hf < 1e6)))
        return ss_errf(errbuf, SS_ERR_FORMAT, "session model: score_top %lld or host_factor %g "
                       "out of range", (long long)top, hf);
    if (nout != SESSION_N_OUTCOMES)
        return ss_errf(errbuf, SS_ERR_SHAPE, "session model: %lld connection states, this build "
                       "has %d", (long long)nout, SESSION_N_OUTCOMES);
    if (!mf->params)
        return ss_errf(errbuf, SS_ERR_FORMAT, "session model: no tensors");
    session_model *m = calloc(1, sizeof(*m));
    if (!m)
        return ss_errf(errbuf, SS_ERR_NOMEM, "session model: out of memory");
    m->sess.gap_us = gap;
    m->sess.max_conns = (int)maxc;
    m->enc_dim = (int)E;
    m->encoder_id = (uint64_t)eid;
    m->quantile = q;
    m->score_top = (int)top;
    m->score_rule = rule;
    m->host_factor = hf;
    m->id = id;
    const float *keys, *edges, *counts;
    size_t n;
    if ((rc = modelfile_get_norm(mf, "state_keys", &keys, &n, 0, errbuf)))
        goto fail;
    if (n != 2 * ((size_t)V - 1)) {
        rc = ss_errf(errbuf, SS_ERR_SHAPE, "session model: %zu state key halves for %lld "
                     "states", n, (long long)V);
        goto fail;
    }
    const float *types;
    if (modelfile_get_norm(mf, "state_types", &types, &n, (size_t)V, errbuf)) {
        rc = ss_errf(errbuf, SS_ERR_FORMAT, "session model: no state_types for %lld states (a "
                     "model of an earlier build: retrain it with this build)", (long long)V);
        goto fail;
    }
    const float *skeys;
    size_t nsk;
    if ((rc = modelfile_get_norm(mf, "service_keys", &skeys, &nsk, 0, errbuf)) ||
        (rc = modelfile_get_norm(mf, "size_edges", &edges, &n, 0, errbuf)))
        goto fail;
    int W = SESSION_SIZE_EDGES((int)C);
    if (K != 2 * C * C || nsk != 2 * ((size_t)S - 1) || n != (size_t)S * (size_t)W) {
        rc = ss_errf(errbuf, SS_ERR_SHAPE, "session model: %lld size classes, %lld byte "
                     "classes, %zu service key halves and %zu size edges for %lld services "
                     "do not agree", (long long)K, (long long)C, nsk, n, (long long)S);
        goto fail;
    }
    m->vocab.n_states = (int)V;
    m->vocab.n_sizes = (int)K;
    m->vocab.byte_classes = (int)C;
    m->vocab.n_services = (int)S;
    m->vocab.state_keys = malloc((size_t)V * sizeof(uint32_t));
    m->vocab.state_types = malloc((size_t)V * sizeof(float));
    m->vocab.service_keys = malloc((size_t)S * sizeof(uint32_t));
    const float *tails;
    size_t ntl;
    if (modelfile_get_norm(mf, "size_tails", &tails, &ntl, (size_t)S * 3, errbuf)) {
        rc = ss_errf(errbuf, SS_ERR_FORMAT, "session model: no size_tails for %lld services (a "
                     "model of an earlier build: retrain it with this build)", (long long)S);
        goto fail;
    }
    m->vocab.size_edges = malloc(n * sizeof(float));
    m->vocab.size_tails = malloc((size_t)S * 3 * sizeof(float));
    if (!m->vocab.state_keys || !m->vocab.state_types || !m->vocab.service_keys ||
        !m->vocab.size_edges || !m->vocab.size_tails) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "session model: out of memory");
        goto fail;
    }
    for (int k = 0; k < V; k++) {
        if (!(types[k] >= 1.0f && types[k] < 1e9f)) {
            rc = ss_errf(errbuf, SS_ERR_FORMAT, "session model: bad state_types[%d]", k);
            goto fail;
        }
        m->vocab.state_types[k] = types[k];
    }
    for (int k = 0; k + 2 < V + S; k++) { /* V-1 state keys, then S-1 service keys */
        const float *h = k + 1 < V ? keys + 2 * k : skeys + 2 * (k - (V - 1));
        float lo = h[0], hi = h[1];
        if (!(lo >= 0 && lo < 65536.0f && hi >= 0 && hi < 65536.0f && lo == (float)(int)lo &&
              hi == (float)(int)hi)) {
            rc = ss_errf(errbuf, SS_ERR_FORMAT, "session model: bad state or service key %d", k);
            goto fail;
        }
        uint32_t key = (uint32_t)hi << 16 | (uint32_t)lo;
        if (k + 1 < V)
            m->vocab.state_keys[k] = key;
        else
            m->vocab.service_keys[k - (V - 1)] = key;
    }
    for (size_t k = 0; k < n; k++) {
        int col = (int)(k % (size_t)W);
        if (!isfinite(edges[k]) ||
            (col != 0 && col != (int)C - 1 && col < W - 1 && edges[k] < edges[k - 1])) {
            rc = ss_errf(errbuf, SS_ERR_FORMAT, "session model: size edges not ascending");
            goto fail;
        }
        m->vocab.size_edges[k] = edges[k];
    }
    for (size_t k = 0; k < (size_t)S * 3; k++) {
        if (!(tails[k] >= SESSION_TAIL_MIN_SCALE && tails[k] < 1e6f)) {
            rc = ss_errf(errbuf, SS_ERR_FORMAT, "session model: bad size_tails[%zu]", k);
            goto fail;
        }
        m->vocab.size_tails[k] = tails[k];
    }
    if ((rc = markov_create(&m->markov, (int)V, alpha, errbuf)))
        goto fail;
    if ((rc = modelfile_get_norm(mf, "markov.counts", &counts, &n, markov_counts_size((int)V),
                                 errbuf)))
        goto fail;
    for (size_t k = 0; k < n; k++) {
        if (!(counts[k] >= 0 && isfinite(counts[k]))) {
            rc = ss_errf(errbuf, SS_ERR_FORMAT, "session model: bad Markov count");
            goto fail;
        }
        m->markov->counts[k] = counts[k];
    }
    int In = session_input_size(&m->vocab, m->enc_dim);
    size_t total = 0;
    for (int j = 0; j < 2; j++) {
        if ((rc = load_net(&m->net[j], mf, j, In, (int)V, (int)K, errbuf)))
            goto fail;
        total += m->net[j]->params->n_tensors;
    }
    if (total != mf->params->n_tensors) {
        rc = ss_errf(errbuf, SS_ERR_SHAPE, "session model: %zu tensors, expected %zu",
                     mf->params->n_tensors, total);
        goto fail;
    }
    for (int k = 0; k < SESSION_METHOD_COUNT; k++)
        if ((rc = load_thresholds(&m->thr[k], mf, k, errbuf)))
            goto fail;
    *out = m;
    return SS_OK;
fail:
    session_model_destroy(m);
    return rc;
}

/* modelfile_build_fn of a session_model: out is a session_model **. */
static int build_session_model(void *out, const modelfile_t *mf, char *errbuf)
{
    return session_model_from_file(out, mf, mf->id, errbuf);
}

int session_model_load_buffer(session_model **out, const void *buf, size_t len, char *errbuf)
{
    *out = NULL;
    return modelfile_build(out, build_session_model, NULL, buf, len, errbuf);
}

int session_model_load(session_model **out, const char *path, char *errbuf)
{
    *out = NULL;
    return modelfile_build(out, build_session_model, path, NULL, 0, errbuf);
}

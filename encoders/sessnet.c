/* sessnet.c - the session network's forward and backward (see sessnet.h). */
#include "sessnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dense.h"
#include "loss.h"
#include "rng.h"
#include "status.h"

static int net_config_check(const session_net_config *c, char *errbuf)
{
    if (c->input_size < 1 || c->input_size > 1 << 16 || c->n_states < 1 ||
        c->n_states > 4096 || c->n_sizes < 1 || c->n_sizes > 256 || c->hidden < 1 ||
        c->hidden > 4096 || c->layers < 1 || c->layers > 8 || c->dense < 1 ||
        c->dense > 4096 || (c->bidirectional != 0 && c->bidirectional != 1))
        return ss_errf(errbuf, SS_ERR_ARG, "session net: bad sizes (in %d, states %d, sizes %d, "
                       "hidden %d, layers %d, dense %d)", c->input_size, c->n_states, c->n_sizes,
                       c->hidden, c->layers, c->dense);
    return SS_OK;
}

/* Declares one LSTM stack's tensors with a name prefix; returns the index of
 * its first tensor or a negative status. */
static int add_stack(params_t *p, const lstm_config *lc, const char *prefix, char *errbuf)
{
    int nt = lstm_num_tensors(lc), first = -1, rc;
    lstm_tensor *ts = calloc((size_t)nt, sizeof(*ts));
    if (!ts)
        return ss_errf(errbuf, SS_ERR_NOMEM, "session net: out of memory");
    if ((rc = lstm_param_tensors(ts, nt, lc, errbuf))) {
        free(ts);
        return rc;
    }
    for (int k = 0; k < nt; k++) {
        char name[PARAMS_NAME_MAX];
        snprintf(name, sizeof(name), "%s%s", prefix, ts[k].name);
        size_t sh[2] = {(size_t)ts[k].rows, (size_t)ts[k].cols};
        int idx = params_add(p, name, ts[k].cols == 1 ? 1 : 2, sh,
                             ts[k].cols == 1 ? PARAMS_NO_DECAY : PARAMS_DECAY, errbuf);
        if (idx < 0) {
            free(ts);
            return idx;
        }
        if (k == 0)
            first = idx;
    }
    free(ts);
    return first;
}

static int add_dense(params_t *p, const char *name, int oc, int ic, int *kw, int *kb,
                     char *errbuf)
{
    char nw[PARAMS_NAME_MAX], nb[PARAMS_NAME_MAX];
    snprintf(nw, sizeof(nw), "%s.weight", name);
    snprintf(nb, sizeof(nb), "%s.bias", name);
    size_t sw[2] = {(size_t)oc, (size_t)ic}, sb[1] = {(size_t)oc};
    if ((*kw = params_add(p, nw, 2, sw, PARAMS_DECAY, errbuf)) < 0)
        return *kw;
    if ((*kb = params_add(p, nb, 1, sb, PARAMS_NO_DECAY, errbuf)) < 0)
        return *kb;
    return SS_OK;
}

int session_net_create(session_net **out, const session_net_config *cfg, uint64_t seed,
                       char *errbuf)
{
    *out = NULL;
    int rc = net_config_check(cfg, errbuf);
    if (rc)
        return rc;
    session_net *net = calloc(1, sizeof(*net));
    if (!net)
        return ss_errf(errbuf, SS_ERR_NOMEM, "session net: out of memory");
    net->cfg = *cfg;
    net->lstm = (lstm_config){.input_size = cfg->input_size, .hidden_size = cfg->hidden,
                              .num_layers = cfg->layers, .bidirectional = 0};
    net->k_bwd = -1;
    if ((rc = params_create(&net->params, errbuf)))
        goto fail;
    if ((rc = net->k_fwd = add_stack(net->params, &net->lstm, "fwd.", errbuf)) < 0)
        goto fail;
    if (cfg->bidirectional && (rc = net->k_bwd = add_stack(net->params, &net->lstm, "bwd.",
                                                           errbuf)) < 0)
        goto fail;
    int C = session_net_context_size(net);
    if ((rc = add_dense(net->params, "dense", cfg->dense, C, &net->k_dense_w, &net->k_dense_b,
                        errbuf)) ||
        (rc = add_dense(net->params, "state_head", cfg->n_states, cfg->dense, &net->k_state_w,
                        &net->k_state_b, errbuf)) ||
        (rc = add_dense(net->params, "size_head", cfg->n_sizes, cfg->dense, &net->k_size_w,
                        &net->k_size_b, errbuf)))
        goto fail;
    if ((rc = params_alloc(net->params, errbuf)))
        goto fail;
    rng_t r;
    rng_seed(&r, seed);
    lstm_init_params(params_data(net->params, net->k_fwd), &net->lstm, &r);
    if (net->k_bwd >= 0)
        lstm_init_params(params_data(net->params, net->k_bwd), &net->lstm, &r);
    int kw[3] = {net->k_dense_w, net->k_state_w, net->k_size_w};
    int kb[3] = {net->k_dense_b, net->k_state_b, net->k_size_b};
    int ic[3] = {C, cfg->dense, cfg->dense};
    for (int j = 0; j < 3; j++) {
        float bound = 1.0f / sqrtf((float)ic[j]);
        rng_fill_uniform(&r, params_data(net->params, kw[j]),
                         net->params->tensors[kw[j]].size, -bound, bound);
        rng_fill_uniform(&r, params_data(net->params, kb[j]),
                         net->params->tensors[kb[j]].size, -bound, bound);
    }
    *out = net;
    return SS_OK;
fail:
    session_net_destroy(net);
    return rc < 0 ? rc : SS_ERR_INTERNAL;
}

void session_net_destroy(session_net *net)
{
    if (!net)
        return;
    params_destroy(net->params);
    free(net);
}

int session_net_context_size(const session_net *net)
{
    return net->cfg.bidirectional ? 2 * net->cfg.hidden : net->cfg.hidden;
}

/* Offsets of the activation buffer (floats). */
typedef struct net_layout {
    size_t xr, fa, fo, ba, bo, ctx, hid, ls, ps, lz, pz, total;
} net_layout;

static net_layout acts_layout(const session_net *net, int B, int T)
{
    net_layout L;
    size_t N = (size_t)B * (size_t)T, H = (size_t)net->cfg.hidden;
    size_t la = lstm_acts_size(&net->lstm, B, T);
    int bi = net->cfg.bidirectional;
    size_t o = 0;
    L.xr = o;
    o += bi ? N * (size_t)net->cfg.input_size : 0;
    L.fa = o;
    o += la;
    L.fo = o;
    o += N * H;
    L.ba = o;
    o += bi ? la : 0;
    L.bo = o;
    o += bi ? N * H : 0;
    L.ctx = o;
    o += N * (size_t)session_net_context_size(net);
    L.hid = o;
    o += N * (size_t)net->cfg.dense;
    L.ls = o;
    o += N * (size_t)net->cfg.n_states;
    L.ps = o;
    o += N * (size_t)net->cfg.n_states;
    L.lz = o;
    o += N * (size_t)net->cfg.n_sizes;
    L.pz = o;
    o += N * (size_t)net->cfg.n_sizes;
    L.total = o;
    return L;
}

size_t session_net_acts_size(const session_net *net, int B, int T)
{
    return acts_layout(net, B, T).total;
}

size_t session_net_workspace_size(const session_net *net, int B, int T)
{
    size_t N = (size_t)B * (size_t)T;
    size_t C = (size_t)session_net_context_size(net), D = (size_t)net->cfg.dense;
    return N * ((size_t)net->cfg.n_states + (size_t)net->cfg.n_sizes + 2 * D + C +
                2 * (size_t)net->cfg.hidden) +
           dense_workspace_size(DENSE_ACT_TANH, B * T, net->cfg.dense) +
           lstm_workspace_size(&net->lstm, B, T);
}

static int check_batch(const int *lengths, int B, int T, char *errbuf)
{
    if (B < 1 || T < 1)
        return ss_errf(errbuf, SS_ERR_ARG, "session net: empty batch (%d x %d)", B, T);
    for (int b = 0; b < B; b++)
        if (lengths[b] < 1 || lengths[b] > T)
            return ss_errf(errbuf, SS_ERR_ARG, "session net: length %d of sequence %d not in 1..%d",
                           lengths[b], b, T);
    return SS_OK;
}

int session_net_forward(float *loss, float *acts, const float *inp, const int *lengths,
                        const int *state_tgt, const int *size_tgt, const session_net *net,
                        int B, int T, char *errbuf)
{
    int rc = check_batch(lengths, B, T, errbuf);
    if (rc)
        return rc;
    net_layout L = acts_layout(net, B, T);
    const session_net_config *c = &net->cfg;
    int H = c->hidden, In = c->input_size, C = session_net_context_size(net);
    size_t N = (size_t)B * (size_t)T;
    if ((rc = lstm_forward(acts + L.fo, NULL, acts + L.fa, inp, lengths,
                           params_data(net->params, net->k_fwd), &net->lstm, B, T, errbuf)))
        return rc;
    if (c->bidirectional) {
        float *xr = acts + L.xr;
        memset(xr, 0, N * (size_t)In * sizeof(float));
        for (int b = 0; b < B; b++)
            for (int s = 0; s < lengths[b]; s++)
                memcpy(xr + ((size_t)b * T + s) * In,
                       inp + ((size_t)b * T + (lengths[b] - 1 - s)) * In, (size_t)In * sizeof(float));
        if ((rc = lstm_forward(acts + L.bo, NULL, acts + L.ba, xr, lengths,
                               params_data(net->params, net->k_bwd), &net->lstm, B, T, errbuf)))
            return rc;
    }
    /* context of t: fwd output at t-1 and bwd output at t+1 (reversed index L-2-t) */
    float *ctx = acts + L.ctx;
    memset(ctx, 0, N * (size_t)C * sizeof(float));
    for (int b = 0; b < B; b++) {
        int len = lengths[b];
        for (int t = 0; t < len; t++) {
            float *row = ctx + ((size_t)b * T + t) * C;
            if (t > 0)
                memcpy(row, acts + L.fo + ((size_t)b * T + t - 1) * H, (size_t)H * sizeof(float));
            if (c->bidirectional && t + 1 < len)
                memcpy(row + H, acts + L.bo + ((size_t)b * T + (len - 2 - t)) * H,
                       (size_t)H * sizeof(float));
        }
    }
    const params_t *p = net->params;
    dense_forward(acts + L.hid, ctx, params_data(p, net->k_dense_w),
                  params_data(p, net->k_dense_b), DENSE_ACT_TANH, (int)N, C, c->dense);
    dense_forward(acts + L.ls, acts + L.hid, params_data(p, net->k_state_w),
                  params_data(p, net->k_state_b), DENSE_ACT_NONE, (int)N, c->dense, c->n_states);
    dense_forward(acts + L.lz, acts + L.hid, params_data(p, net->k_size_w),
                  params_data(p, net->k_size_b), DENSE_ACT_NONE, (int)N, c->dense, c->n_sizes);
    if (!loss || !state_tgt || !size_tgt) {
        loss_softmax_forward(acts + L.ps, acts + L.ls, (int)N, c->n_states);
        loss_softmax_forward(acts + L.pz, acts + L.lz, (int)N, c->n_sizes);
        return SS_OK;
    }
    float ls, lz;
    if ((rc = loss_softmax_ce_smooth_forward(&ls, acts + L.ps, acts + L.ls, state_tgt, NULL, -1,
                                             net->smoothing, (int)N, c->n_states, errbuf)) ||
        (rc = loss_softmax_ce_smooth_forward(&lz, acts + L.pz, acts + L.lz, size_tgt, NULL, -1,
                                             net->smoothing, (int)N, c->n_sizes, errbuf)))
        return rc;
    *loss = ls + lz;
    return SS_OK;
}

void session_net_probs(const float **p_state, const float **p_size, const float *acts,
                       const session_net *net, int B, int T)
{
    net_layout L = acts_layout(net, B, T);
    *p_state = acts + L.ps;
    *p_size = acts + L.pz;
}

int session_net_backward(float *ws, const float *acts, const float *inp, const int *lengths,
                         const int *state_tgt, const int *size_tgt, session_net *net, int B,
                         int T, char *errbuf)
{
    int rc = check_batch(lengths, B, T, errbuf);
    if (rc)
        return rc;
    if (!state_tgt || !size_tgt)
        return ss_errf(errbuf, SS_ERR_ARG, "session net: backward needs targets");
    net_layout L = acts_layout(net, B, T);
    const session_net_config *c = &net->cfg;
    int H = c->hidden, C = session_net_context_size(net), D = c->dense;
    size_t N = (size_t)B * (size_t)T;
    params_t *p = net->params;
    float *dls = ws, *dlz = dls + N * (size_t)c->n_states, *dhid = dlz + N * (size_t)c->n_sizes;
    float *dhid2 = dhid + N * (size_t)D, *dctx = dhid2 + N * (size_t)D;
    float *dfo = dctx + N * (size_t)C, *dbo = dfo + N * (size_t)H, *dws = dbo + N * (size_t)H;
    float *lws = dws + dense_workspace_size(DENSE_ACT_TANH, (int)N, D);
    loss_softmax_ce_smooth_backward(dls, acts + L.ps, state_tgt, NULL, -1, net->smoothing, 1.0f,
                                    (int)N, c->n_states);
    loss_softmax_ce_smooth_backward(dlz, acts + L.pz, size_tgt, NULL, -1, net->smoothing, 1.0f,
                                    (int)N, c->n_sizes);
    dense_backward(dhid, params_grad(p, net->k_state_w), params_grad(p, net->k_state_b), dls,
                   acts + L.hid, params_data(p, net->k_state_w), acts + L.ls, DENSE_ACT_NONE,
                   NULL, (int)N, D, c->n_states);
    dense_backward(dhid2, params_grad(p, net->k_size_w), params_grad(p, net->k_size_b), dlz,
                   acts + L.hid, params_data(p, net->k_size_w), acts + L.lz, DENSE_ACT_NONE,
                   NULL, (int)N, D, c->n_sizes);
    for (size_t k = 0; k < N * (size_t)D; k++)
        dhid[k] += dhid2[k];
    dense_backward(dctx, params_grad(p, net->k_dense_w), params_grad(p, net->k_dense_b), dhid,
                   acts + L.ctx, params_data(p, net->k_dense_w), acts + L.hid, DENSE_ACT_TANH,
                   dws, (int)N, C, D);
    memset(dfo, 0, 2 * N * (size_t)H * sizeof(float));
    for (int b = 0; b < B; b++) {
        int len = lengths[b];
        for (int t = 0; t < len; t++) {
            const float *row = dctx + ((size_t)b * T + t) * C;
            if (t > 0) {
                float *d = dfo + ((size_t)b * T + t - 1) * H;
                for (int h = 0; h < H; h++)
                    d[h] += row[h];
            }
            if (c->bidirectional && t + 1 < len) {
                float *d = dbo + ((size_t)b * T + (len - 2 - t)) * H;
                for (int h = 0; h < H; h++)
                    d[h] += row[H + h];
            }
        }
    }
    if ((rc = lstm_backward(NULL, params_grad(p, net->k_fwd), dfo, NULL, acts + L.fa, lws, inp,
                            lengths, params_data(p, net->k_fwd), &net->lstm, B, T, errbuf)))
        return rc;
    if (c->bidirectional &&
        (rc = lstm_backward(NULL, params_grad(p, net->k_bwd), dbo, NULL, acts + L.ba, lws,
                            acts + L.xr, lengths, params_data(p, net->k_bwd), &net->lstm, B, T,
                            errbuf)))
        return rc;
    return SS_OK;
}

/* encoder.c - the connection encoder; see encoder.h. */
#include "encoder.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "default_model.h"
#include "dense.h"
#include "rng.h"
#include "status.h"

#define ENCODER_EMBED_BATCH 256
#define ENCODER_NORM_EPS 1e-8f

void encoder_config_default(encoder_config *cfg, int feature_kind)
{
    connfeat_config_default(&cfg->feat, feature_kind);
    cfg->hidden = 48;
    cfg->layers = 1;
    cfg->bidirectional = 1;
    cfg->dim = 64;
}

static int config_check(const encoder_config *cfg, char *errbuf)
{
    int rc = connfeat_config_check(&cfg->feat, errbuf);
    if (rc)
        return rc;
    if (cfg->hidden < 1 || cfg->hidden > 4096 || cfg->layers < 1 || cfg->layers > 16 ||
        (cfg->bidirectional != 0 && cfg->bidirectional != 1) || cfg->dim < 1 || cfg->dim > 4096)
        return ss_errf(errbuf, SS_ERR_ARG,
                       "encoder: bad architecture (hidden %d, layers %d, bidirectional %d, dim %d)",
                       cfg->hidden, cfg->layers, cfg->bidirectional, cfg->dim);
    return SS_OK;
}

/* Declares the tensors of an encoder with configuration cfg into a fresh
 * params_t and allocates it. */
static int build(encoder **out, const encoder_config *cfg, char *errbuf)
{
    *out = NULL;
    int rc = config_check(cfg, errbuf);
    if (rc)
        return rc;
    encoder *enc = calloc(1, sizeof(*enc));
    lstm_tensor *ts = NULL;
    if (!enc)
        return ss_errf(errbuf, SS_ERR_NOMEM, "encoder: out of memory");
    enc->cfg = *cfg;
    enc->lstm = (lstm_config){.input_size = CONNFEAT_CHANNELS, .hidden_size = cfg->hidden,
                              .num_layers = cfg->layers, .bidirectional = cfg->bidirectional};
    enc->threshold = 0.5;
    for (int c = 0; c < CONNFEAT_CHANNELS; c++) {
        enc->mean[c] = 0.0f;
        enc->std[c] = 1.0f;
    }
    if ((rc = params_create(&enc->params, errbuf)))
        goto fail;
    int nt = lstm_num_tensors(&enc->lstm);
    ts = calloc((size_t)nt, sizeof(*ts));
    if (!ts) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "encoder: out of memory");
        goto fail;
    }
    if ((rc = lstm_param_tensors(ts, nt, &enc->lstm, errbuf)))
        goto fail;
    for (int k = 0; k < nt; k++) {
        size_t sh[2] = {(size_t)ts[k].rows, (size_t)ts[k].cols};
        int idx = params_add(enc->params, ts[k].name, ts[k].cols == 1 ? 1 : 2, sh,
                             ts[k].cols == 1 ? PARAMS_NO_DECAY : PARAMS_DECAY, errbuf);
        if (idx < 0) {
            rc = idx;
            goto fail;
        }
        if (k == 0)
            enc->k_lstm = idx;
    }
    int DH = lstm_output_size(&enc->lstm);
    size_t sw[2] = {(size_t)cfg->dim, (size_t)DH}, sb[1] = {(size_t)cfg->dim};
    enc->k_head_w = params_add(enc->params, "head.weight", 2, sw, PARAMS_DECAY, errbuf);
    if (enc->k_head_w < 0) {
        rc = enc->k_head_w;
        goto fail;
    }
    enc->k_head_b = params_add(enc->params, "head.bias", 1, sb, PARAMS_NO_DECAY, errbuf);
    if (enc->k_head_b < 0) {
        rc = enc->k_head_b;
        goto fail;
    }
    if ((rc = params_alloc(enc->params, errbuf)))
        goto fail;
    free(ts);
    *out = enc;
    return SS_OK;
fail:
    free(ts);
    encoder_destroy(enc);
    return rc;
}

int encoder_create(encoder **out, const encoder_config *cfg, uint64_t seed, char *errbuf)
{
    int rc = build(out, cfg, errbuf);
    if (rc)
        return rc;
    encoder *enc = *out;
    rng_t r;
    rng_seed(&r, seed);
    lstm_init_params(params_data(enc->params, enc->k_lstm), &enc->lstm, &r);
    int DH = lstm_output_size(&enc->lstm);
    float bound = 1.0f / sqrtf((float)DH);
    rng_fill_uniform(&r, params_data(enc->params, enc->k_head_w), (size_t)cfg->dim * DH,
                     -bound, bound);
    rng_fill_uniform(&r, params_data(enc->params, enc->k_head_b), (size_t)cfg->dim, -bound,
                     bound);
    return SS_OK;
}

void encoder_destroy(encoder *enc)
{
    if (!enc)
        return;
    params_destroy(enc->params);
    free(enc);
}

static int steps(const encoder *enc)
{
    return enc->cfg.feat.steps;
}

size_t encoder_acts_size(const encoder *enc, int B)
{
    int DH = lstm_output_size(&enc->lstm);
    return lstm_acts_size(&enc->lstm, B, steps(enc)) + (size_t)B * DH +
           (size_t)B * enc->cfg.dim + (size_t)B;
}

size_t encoder_workspace_size(const encoder *enc, int B)
{
    int DH = lstm_output_size(&enc->lstm);
    return lstm_workspace_size(&enc->lstm, B, steps(enc)) + (size_t)B * DH +
           (size_t)B * enc->cfg.dim;
}

int encoder_forward(float *emb, float *acts, const float *inp, const int *lengths,
                    const encoder *enc, int B, char *errbuf)
{
    const int T = steps(enc), E = enc->cfg.dim, DH = lstm_output_size(&enc->lstm);
    float *la = acts;
    float *hlast = la + lstm_acts_size(&enc->lstm, B, T);
    float *z = hlast + (size_t)B * DH;
    float *nrm = z + (size_t)B * E;
    int rc = lstm_forward(NULL, hlast, la, inp, lengths,
                          params_data(enc->params, enc->k_lstm), &enc->lstm, B, T, errbuf);
    if (rc)
        return rc;
    dense_forward(z, hlast, params_data(enc->params, enc->k_head_w),
                  params_data(enc->params, enc->k_head_b), DENSE_ACT_NONE, B, DH, E);
    for (int b = 0; b < B; b++) {
        const float *zb = z + (size_t)b * E;
        float s = 0.0f;
        for (int e = 0; e < E; e++)
            s += zb[e] * zb[e];
        float n = sqrtf(s);
        if (n < ENCODER_NORM_EPS)
            n = ENCODER_NORM_EPS;
        nrm[b] = n;
        float inv = 1.0f / n;
        for (int e = 0; e < E; e++)
            emb[(size_t)b * E + e] = zb[e] * inv;
    }
    return SS_OK;
}

int encoder_backward(float *dinp, const float *demb, const float *acts, float *ws,
                     const float *inp, const int *lengths, encoder *enc, int B,
                     char *errbuf)
{
    const int T = steps(enc), E = enc->cfg.dim, DH = lstm_output_size(&enc->lstm);
    const float *la = acts;
    const float *hlast = la + lstm_acts_size(&enc->lstm, B, T);
    const float *z = hlast + (size_t)B * DH;
    const float *nrm = z + (size_t)B * E;
    float *lws = ws;
    float *dhlast = lws + lstm_workspace_size(&enc->lstm, B, T);
    float *dz = dhlast + (size_t)B * DH;
    for (int b = 0; b < B; b++) {
        const float *zb = z + (size_t)b * E, *db = demb + (size_t)b * E;
        float inv = 1.0f / nrm[b];
        float dot = 0.0f;
        for (int e = 0; e < E; e++)
            dot += zb[e] * inv * db[e];
        for (int e = 0; e < E; e++)
            dz[(size_t)b * E + e] = (db[e] - zb[e] * inv * dot) * inv;
    }
    dense_backward(dhlast, params_grad(enc->params, enc->k_head_w),
                   params_grad(enc->params, enc->k_head_b), dz, hlast,
                   params_data(enc->params, enc->k_head_w), z, DENSE_ACT_NONE, NULL, B, DH, E);
    return lstm_backward(dinp, params_grad(enc->params, enc->k_lstm), NULL, dhlast, la, lws,
                         inp, lengths, params_data(enc->params, enc->k_lstm), &enc->lstm, B, T,
                         errbuf);
}

int encoder_window_input(float *x, int *n_data, const encoder *enc,
                         const conntab_record *rec, int64_t w0_us)
{
    int len = connfeat_window(x, n_data, rec, w0_us, &enc->cfg.feat);
    connfeat_normalise(x, len, enc->mean, enc->std);
    return len;
}

int encoder_embed_windows(float *emb, int *n_data, const encoder *enc,
                          const conntab_record *const *recs, const int64_t *w0_us, size_t n,
                          char *errbuf)
{
    if (n == 0)
        return SS_OK;
    const int T = steps(enc), C = CONNFEAT_CHANNELS, E = enc->cfg.dim;
    int Bmax = n < ENCODER_EMBED_BATCH ? (int)n : ENCODER_EMBED_BATCH;
    float *inp = malloc(sizeof(float) * (size_t)Bmax * T * C);
    float *acts = malloc(sizeof(float) * encoder_acts_size(enc, Bmax));
    int *lengths = malloc(sizeof(int) * (size_t)Bmax);
    int rc = SS_OK;
    if (!inp || !acts || !lengths) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "encoder: out of memory for %d windows", Bmax);
        goto done;
    }
    for (size_t i0 = 0; i0 < n; i0 += (size_t)Bmax) {
        int B = (int)(n - i0 < (size_t)Bmax ? n - i0 : (size_t)Bmax);
        for (int b = 0; b < B; b++)
            lengths[b] = encoder_window_input(inp + (size_t)b * T * C,
                                              n_data ? n_data + i0 + b : NULL, enc,
                                              recs[i0 + b], w0_us[i0 + b]);
        if ((rc = encoder_forward(emb + i0 * E, acts, inp, lengths, enc, B, errbuf)))
            goto done;
    }
done:
    free(inp);
    free(acts);
    free(lengths);
    return rc;
}

/* encoder_to_model, with or without the per-window-count thresholds. */
static int to_model(modelfile_t **out, const encoder *enc, int with_hop_thr, char *errbuf)
{
    modelfile_t *mf = NULL;
    const connfeat_config *f = &enc->cfg.feat;
    int rc = modelfile_create(&mf, ENCODER_MODEL_KIND, errbuf);
    if (!rc) rc = modelfile_set_str(mf, "features", connfeat_kind_to_string(f->kind), errbuf);
    if (!rc) rc = modelfile_set_int(mf, "window_us", f->window_us, errbuf);
    if (!rc) rc = modelfile_set_int(mf, "stride_us", f->stride_us, errbuf);
    if (!rc) rc = modelfile_set_int(mf, "steps", f->steps, errbuf);
    if (!rc) rc = modelfile_set_int(mf, "max_windows", f->max_windows, errbuf);
    if (!rc) rc = modelfile_set_int(mf, "channels", CONNFEAT_CHANNELS, errbuf);
    if (!rc) rc = modelfile_set_int(mf, "hidden", enc->cfg.hidden, errbuf);
    if (!rc) rc = modelfile_set_int(mf, "layers", enc->cfg.layers, errbuf);
    if (!rc) rc = modelfile_set_int(mf, "bidirectional", enc->cfg.bidirectional, errbuf);
    if (!rc) rc = modelfile_set_int(mf, "dim", enc->cfg.dim, errbuf);
    if (!rc) rc = modelfile_set_float(mf, "threshold", enc->threshold, errbuf);
    if (!rc) rc = modelfile_set_norm(mf, "mean", enc->mean, CONNFEAT_CHANNELS, errbuf);
    if (!rc) rc = modelfile_set_norm(mf, "std", enc->std, CONNFEAT_CHANNELS, errbuf);
    if (!rc && enc->n_hop_thr && with_hop_thr)
        rc = modelfile_set_norm(mf, "hop_thresholds", &enc->hop_thr[0][0],
                                (size_t)enc->n_hop_thr * ENCODER_HOP_LEVELS, errbuf);
    if (!rc && enc->n_hop_thr && with_hop_thr)
        rc = modelfile_set_norm(mf, "hop_levels", enc->hop_level, ENCODER_HOP_LEVELS, errbuf);
    if (rc) {
        modelfile_destroy(mf);
        return rc;
    }
    *out = mf;
    return SS_OK;
}

int encoder_to_model(modelfile_t **out, const encoder *enc, char *errbuf)
{
    return to_model(out, enc, 1, errbuf);
}

/* The model's identity: the checksum of its model file without the
 * per-window-count thresholds, so calibrating them keeps the id that models
 * built on its vectors (the session model) were trained against. */
static int identity(uint64_t *id, const encoder *enc, char *errbuf)
{
    modelfile_t *mf = NULL;
    void *buf = NULL;
    size_t len = 0;
    int rc = to_model(&mf, enc, 0, errbuf);
    if (!rc)
        rc = modelfile_save_buffer(mf, enc->params, &buf, &len, errbuf);
    if (!rc)
        *id = modelfile_fnv1a64(buf, len);
    free(buf);
    modelfile_destroy(mf);
    return rc;
}

int encoder_save(encoder *enc, const char *path, char *errbuf)
{
    modelfile_t *mf = NULL;
    void *buf = NULL;
    size_t len = 0;
    int rc = encoder_to_model(&mf, enc, errbuf);
    if (!rc)
        rc = modelfile_save_buffer(mf, enc->params, &buf, &len, errbuf);
    if (!rc)
        rc = modelfile_save(mf, enc->params, path, errbuf);
    if (!rc && enc->n_hop_thr)
        rc = identity(&enc->id, enc, errbuf);
    else if (!rc)
        enc->id = modelfile_fnv1a64(buf, len);
    free(buf);
    modelfile_destroy(mf);
    return rc;
}

static int get_int(const modelfile_t *mf, const char *key, int lo, int64_t hi, int64_t *v,
                   char *errbuf)
{
    int rc = modelfile_get_int(mf, key, v, errbuf);
    if (rc)
        return rc;
    if (*v < lo || *v > hi)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: %s = %lld is out of range", key,
                       (long long)*v);
    return SS_OK;
}

/* Whether v[0..n) are in (0,1) and strictly increasing. */
static int increasing_unit(const float *v, size_t n)
{
    for (size_t j = 0; j < n; j++)
        if (!(v[j] > 0 && v[j] < 1) || (j && !(v[j] > v[j - 1])))
            return 0;
    return 1;
}

/* Reads the optional hop-score calibration of mf into enc (and sets enc->id
 * to the identity without it). */
static int load_calibration(encoder *enc, const modelfile_t *mf, char *errbuf)
{
    const float *ht, *hl;
    size_t n, nl;
    char sub[SS_ERRBUF_SIZE];
    int has_t = modelfile_get_norm(mf, "hop_thresholds", &ht, &n, 0, sub) == SS_OK;
    int has_l = modelfile_get_norm(mf, "hop_levels", &hl, &nl, 0, sub) == SS_OK;
    if (!has_t && !has_l)
        return SS_OK;
    if (!has_t || !has_l)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: %s without %s",
                       has_t ? "hop_thresholds" : "hop_levels",
                       has_t ? "hop_levels" : "hop_thresholds");
    if (nl != ENCODER_HOP_LEVELS || n % ENCODER_HOP_LEVELS || n == 0 ||
        n / ENCODER_HOP_LEVELS > ENCODER_HOP_CLASSES)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: hop_thresholds has %zu values and "
                       "hop_levels %zu, expected k x %d (k = 1 to %d) and %d", n, nl,
                       ENCODER_HOP_LEVELS, ENCODER_HOP_CLASSES, ENCODER_HOP_LEVELS);
    if (!increasing_unit(hl, nl))
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: hop_levels are not increasing in (0,1)");
    for (size_t k = 0; k < n / ENCODER_HOP_LEVELS; k++)
        if (!increasing_unit(ht + k * ENCODER_HOP_LEVELS, ENCODER_HOP_LEVELS))
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: hop_thresholds row %zu (%zu "
                           "windows) is not increasing in (0,1)", k, k + 1);
    memcpy(&enc->hop_thr[0][0], ht, n * sizeof(*ht));
    memcpy(enc->hop_level, hl, nl * sizeof(*hl));
    enc->n_hop_thr = (int)(n / ENCODER_HOP_LEVELS);
    return identity(&enc->id, enc, errbuf);
}

/* Every config key and array a correlator model may hold; anything else is
 * refused (the last two arrays are the optional calibration). */
static const char *const model_config_keys[] = {
    "features", "window_us", "stride_us", "steps", "max_windows", "channels", "hidden",
    "layers", "bidirectional", "dim", "threshold", NULL};
static const char *const model_arrays[] = {"mean", "std", "hop_thresholds", "hop_levels",
                                           NULL};

int encoder_from_model(encoder **out, const modelfile_t *mf, uint64_t id, char *errbuf)
{
    *out = NULL;
    int rc = modelfile_expect_kind(mf, ENCODER_MODEL_KIND, errbuf);
    if (!rc)
        rc = modelfile_check_keys(mf, model_config_keys, model_arrays, errbuf);
    if (rc)
        return rc;
    const char *fk = NULL;
    int64_t w, s, st, mw, ch, hid, lay, bi, dim;
    double thr;
    if ((rc = modelfile_get_str(mf, "features", &fk, errbuf)))
        return rc;
    encoder_config cfg;
    int kind = connfeat_kind_from_string(fk);
    if (kind < 0) {
        char esc[SS_ESCAPE_SIZE];
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: unknown features '%s'",
                       ss_escape(esc, sizeof(esc), fk, strlen(fk)));
    }
    if ((rc = get_int(mf, "window_us", 1, INT64_C(1) << 40, &w, errbuf)) ||
        (rc = get_int(mf, "stride_us", 1, INT64_C(1) << 40, &s, errbuf)) ||
        (rc = get_int(mf, "steps", 1, 4096, &st, errbuf)) ||
        (rc = get_int(mf, "max_windows", 1, 1024, &mw, errbuf)) ||
        (rc = get_int(mf, "channels", 1, 1024, &ch, errbuf)) ||
        (rc = get_int(mf, "hidden", 1, 4096, &hid, errbuf)) ||
        (rc = get_int(mf, "layers", 1, 16, &lay, errbuf)) ||
        (rc = get_int(mf, "bidirectional", 0, 1, &bi, errbuf)) ||
        (rc = get_int(mf, "dim", 1, 4096, &dim, errbuf)) ||
        (rc = modelfile_get_float(mf, "threshold", &thr, errbuf)))
        return rc;
    if (ch != CONNFEAT_CHANNELS)
        return ss_errf(errbuf, SS_ERR_SHAPE, "model: %lld feature channels, this build has %d",
                       (long long)ch, CONNFEAT_CHANNELS);
    if (!(thr >= 0 && thr <= 1)) /* NaN too: --threshold's range */
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: threshold = %g is out of range (0 to 1)",
                       thr);
    cfg.feat = (connfeat_config){.kind = kind, .window_us = w, .stride_us = s,
                                 .steps = (int)st, .max_windows = (int)mw};
    cfg.hidden = (int)hid;
    cfg.layers = (int)lay;
    cfg.bidirectional = (int)bi;
    cfg.dim = (int)dim;
    const float *mean, *std;
    size_t n;
    if ((rc = modelfile_get_norm(mf, "mean", &mean, &n, CONNFEAT_CHANNELS, errbuf)) ||
        (rc = modelfile_get_norm(mf, "std", &std, &n, CONNFEAT_CHANNELS, errbuf)))
        return rc;
    for (int c = 0; c < CONNFEAT_CHANNELS; c++) {
        if (!isfinite(mean[c]))
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: mean[%d] = %g is not a finite "
                           "number", c, mean[c]);
        if (!(isfinite(std[c]) && std[c] > 0))
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: std[%d] = %g is not a finite "
                           "positive number", c, std[c]);
    }
    if (!mf->params)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: no tensors");
    encoder *enc = NULL;
    if ((rc = build(&enc, &cfg, errbuf)))
        return rc;
    if ((rc = params_copy_values(enc->params, mf->params, errbuf))) {
        encoder_destroy(enc);
        return rc;
    }
    for (size_t k = 0; k < enc->params->total; k++)
        if (!isfinite(enc->params->data[k])) {
            encoder_destroy(enc);
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: a parameter is not a finite number");
        }
    memcpy(enc->mean, mean, sizeof(enc->mean));
    memcpy(enc->std, std, sizeof(enc->std));
    enc->threshold = thr;
    enc->id = id;
    if ((rc = load_calibration(enc, mf, errbuf))) {
        encoder_destroy(enc);
        return rc;
    }
    *out = enc;
    return SS_OK;
}

/* modelfile_build_fn of an encoder: out is an encoder **. */
static int build_encoder(void *out, const modelfile_t *mf, char *errbuf)
{
    return encoder_from_model(out, mf, mf->id, errbuf);
}

int encoder_load_buffer(encoder **out, const void *buf, size_t len, char *errbuf)
{
    *out = NULL;
    return modelfile_build(out, build_encoder, NULL, buf, len, errbuf);
}

int encoder_load(encoder **out, const char *path, char *errbuf)
{
    *out = NULL;
    return modelfile_build(out, build_encoder, path, NULL, 0, errbuf);
}

int encoder_open(encoder **out, const char *path, char *errbuf)
{
    if (path && *path)
        return encoder_load(out, path, errbuf);
    char sub[SS_ERRBUF_SIZE];
    int rc = encoder_load_buffer(out, default_model_data, default_model_size, sub);
    if (rc)
        return ss_errf(errbuf, rc, "compiled-in model: %s", sub);
    return SS_OK;
}

/* train_correlate.c - trains the correlator; see train_correlate.h. */
#include "train_correlate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "labels.h"
#include "loss.h"
#include "hopscore.h"
#include "lstm_method.h"
#include "rng.h"
#include "roc.h"
#include "status.h"

#define TC_NORM_WINDOWS 4000 /* windows sampled for the standardisation constants */
#define TC_VAL_FPR 1e-3      /* operating point of the validation metric */
/* Defaults of the negative-pair loss and of the first-window share
 * (train_correlate.h; measured choice in docs/encoder.md). */
#ifndef TC_NEG_PAIRS
#define TC_NEG_PAIRS 32
#endif
#ifndef TC_NEG_WEIGHT
#define TC_NEG_WEIGHT 8.0f
#endif
#ifndef TC_NEG_MARGIN
#define TC_NEG_MARGIN 0.0f
#endif
#ifndef TC_FIRST_WINDOW
#define TC_FIRST_WINDOW 0.25f
#endif

void train_correlate_config_default(train_correlate_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    encoder_config_default(&cfg->enc, CONNFEAT_KIND_BINS);
    cfg->epochs = 30;
    cfg->steps = 40;
    cfg->batch = 64;
    cfg->patience = 5;
    cfg->lr = 2e-3f;
    cfg->temperature = 0.1f;
    cfg->margin = 0.3f;
    cfg->triplet_weight = 1.0f;
    cfg->neg_pairs = TC_NEG_PAIRS;
    cfg->neg_weight = TC_NEG_WEIGHT;
    cfg->neg_margin = TC_NEG_MARGIN;
    cfg->first_window = TC_FIRST_WINDOW;
    cfg->target_fpr = 1e-4;
    cfg->seed = 1;
}

/* ---- data ---- */

/* One loaded labelled set. */
typedef struct tc_set {
    connset *cs;
    candidates_pair *pairs;
    size_t n_pairs;
    int *is_hop;      /* (n_pairs) */
    size_t *pos;      /* indices of the labelled hops among pairs */
    size_t n_pos;
    size_t *neg_off;  /* (n_pos + 1): hard negatives of pos[k] are */
    size_t *neg_idx;  /*   neg_idx[neg_off[k] .. neg_off[k+1]) (pair indices) */
    size_t *negs;     /* indices of the pairs that are not hops */
    size_t n_negs;
} tc_set;

static void set_free(tc_set *s)
{
    connset_free(s->cs);
    candidates_free(s->pairs);
    free(s->is_hop);
    free(s->pos);
    free(s->neg_off);
    free(s->neg_idx);
    free(s->negs);
    memset(s, 0, sizeof(*s));
}

static int pair_cmp(const candidates_pair *a, uint32_t in, uint32_t out)
{
    if (a->out != out)
        return a->out < out ? -1 : 1;
    return (a->in > in) - (a->in < in);
}

int train_correlate_label_pairs(int *is_hop, size_t *n_labelled, const connset *set,
                                const candidates_pair *pairs, size_t n, const char *path,
                                char *errbuf)
{
    labels lab;
    labels_init(&lab);
    int rc = labels_read(&lab, path, errbuf);
    if (rc)
        return rc;
    memset(is_hop, 0, sizeof(int) * n);
    size_t found = 0;
    for (size_t h = 0; h < lab.n; h++) {
        const labels_hop *hop = &lab.hops[h];
        long in = connset_find(set, 6, hop->in_src.family, hop->in_src.addr, hop->in_src.port,
                               hop->in_dst.addr, hop->in_dst.port, hop->start_us, hop->end_us);
        long out = connset_find(set, 6, hop->out_src.family, hop->out_src.addr,
                                hop->out_src.port, hop->out_dst.addr, hop->out_dst.port,
                                hop->start_us, hop->end_us);
        if (in < 0 || out < 0)
            continue;
        found++;
        /* pairs are ordered by (out, in): binary search */
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (pair_cmp(&pairs[mid], (uint32_t)in, (uint32_t)out) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n && pairs[lo].in == (uint32_t)in && pairs[lo].out == (uint32_t)out)
            is_hop[lo] = 1;
    }
    if (n_labelled)
        *n_labelled = found;
    labels_free(&lab);
    return SS_OK;
}

static int set_load(tc_set *s, const train_correlate_data *d, char *errbuf)
{
    memset(s, 0, sizeof(*s));
    connset_config cc;
    connset_config_default(&cc);
    cc.tcp_only = 1;
    int rc = connset_load(&s->cs, d->pcaps, d->n_pcaps, &cc, errbuf);
    if (rc)
        return rc;
    if ((rc = candidates_find(&s->pairs, &s->n_pairs, s->cs, NULL, errbuf)))
        goto fail;
    s->is_hop = calloc(s->n_pairs ? s->n_pairs : 1, sizeof(int));
    s->pos = calloc(s->n_pairs ? s->n_pairs : 1, sizeof(size_t));
    s->negs = calloc(s->n_pairs ? s->n_pairs : 1, sizeof(size_t));
    if (!s->is_hop || !s->pos || !s->negs) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "training: out of memory");
        goto fail;
    }
    char sub[SS_ERRBUF_SIZE];
    if ((rc = train_correlate_label_pairs(s->is_hop, NULL, s->cs, s->pairs, s->n_pairs,
                                          d->labels, sub))) {
        ss_errf(errbuf, rc, "%s", sub);
        goto fail;
    }
    for (size_t i = 0; i < s->n_pairs; i++) {
        if (s->is_hop[i])
            s->pos[s->n_pos++] = i;
        else
            s->negs[s->n_negs++] = i;
    }
    /* hard negatives: candidates sharing exactly one leg with a hop */
    size_t cnt = 0;
    for (size_t k = 0; k < s->n_pos; k++) {
        const candidates_pair *p = &s->pairs[s->pos[k]];
        for (size_t i = 0; i < s->n_pairs; i++)
            if (!s->is_hop[i] && (s->pairs[i].in == p->in || s->pairs[i].out == p->out))
                cnt++;
    }
    s->neg_off = calloc(s->n_pos + 1, sizeof(size_t));
    s->neg_idx = calloc(cnt ? cnt : 1, sizeof(size_t));
    if (!s->neg_off || !s->neg_idx) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "training: out of memory");
        goto fail;
    }
    cnt = 0;
    for (size_t k = 0; k < s->n_pos; k++) {
        const candidates_pair *p = &s->pairs[s->pos[k]];
        s->neg_off[k] = cnt;
        for (size_t i = 0; i < s->n_pairs; i++)
            if (!s->is_hop[i] && (s->pairs[i].in == p->in || s->pairs[i].out == p->out))
                s->neg_idx[cnt++] = i;
    }
    s->neg_off[s->n_pos] = cnt;
    return SS_OK;
fail:
    set_free(s);
    return rc;
}

/* ---- standardisation constants ---- */

static int compute_norm(encoder *enc, const tc_set *sets, size_t n_sets, rng_t *r,
                        char *errbuf)
{
    const connfeat_config *f = &enc->cfg.feat;
    const int T = f->steps, C = CONNFEAT_CHANNELS;
    float *x = malloc(sizeof(float) * (size_t)T * C);
    if (!x)
        return ss_errf(errbuf, SS_ERR_NOMEM, "training: out of memory");
    double sum[CONNFEAT_CHANNELS] = {0}, sq[CONNFEAT_CHANNELS] = {0}, cnt = 0;
    size_t total = 0;
    for (size_t s = 0; s < n_sets; s++)
        total += sets[s].n_pairs;
    for (int w = 0; w < TC_NORM_WINDOWS && total; w++) {
        size_t pick = (size_t)rng_below(r, total), s = 0;
        while (pick >= sets[s].n_pairs) {
            pick -= sets[s].n_pairs;
            s++;
        }
        const candidates_pair *p = &sets[s].pairs[pick];
        const conntab_record *legs[2] = {connset_get(sets[s].cs, p->in),
                                         connset_get(sets[s].cs, p->out)};
        int64_t g0;
        int k = hopscore_windows(f, legs[0], legs[1], &g0);
        if (k == 0)
            continue;
        int64_t w0 = connfeat_window_start(f, g0 + (int64_t)rng_below(r, (uint64_t)k));
        for (int l = 0; l < 2; l++) {
            int len = connfeat_window(x, NULL, legs[l], w0, f);
            for (int t = 0; t < len; t++)
                for (int c = 0; c < C; c++) {
                    double v = x[(size_t)t * C + c];
                    sum[c] += v;
                    sq[c] += v * v;
                }
            cnt += len;
        }
    }
    for (int c = 0; c < C; c++) {
        double m = cnt > 0 ? sum[c] / cnt : 0.0;
        double var = cnt > 0 ? sq[c] / cnt - m * m : 1.0;
        enc->mean[c] = (float)m;
        enc->std[c] = var > 1e-8 ? (float)sqrt(var) : 1.0f;
    }
    free(x);
    return SS_OK;
}

/* ---- validation ---- */

double train_correlate_calibrate(double *neg, size_t n, double target_fpr)
{
    if (n == 0)
        return 0.5;
    roc_sort_desc(neg, n);
    double thr = roc_threshold_at_fpr(neg, n, target_fpr);
    return thr > 1.0 ? 1.0 : thr;
}

typedef struct val_stats {
    double tpr, auc, threshold;
    double tpr2;         /* TPR at FPR 1e-2: less noisy on small validation sets */
    double gap;          /* mean hop score - mean non-hop score */
    size_t n_pairs, n_hops;
} val_stats;

static int validate(val_stats *vs, const encoder *enc, const tc_set *sets, size_t n_sets,
                    double target_fpr, char *errbuf)
{
    size_t n = 0;
    for (size_t s = 0; s < n_sets; s++)
        n += sets[s].n_pairs;
    memset(vs, 0, sizeof(*vs));
    double *scores = malloc(sizeof(double) * (n ? n : 1));
    double *neg = malloc(sizeof(double) * (n ? n : 1));
    int *lab = malloc(sizeof(int) * (n ? n : 1));
    int rc = SS_OK;
    if (!scores || !neg || !lab) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "validation: out of memory");
        goto done;
    }
    size_t at = 0, nn = 0;
    double sp = 0, sn = 0;
    for (size_t s = 0; s < n_sets; s++) {
        if ((rc = lstm_method_score_pairs(enc, sets[s].cs, sets[s].pairs, sets[s].n_pairs,
                                          scores + at, errbuf)))
            goto done;
        for (size_t i = 0; i < sets[s].n_pairs; i++) {
            lab[at + i] = sets[s].is_hop[i];
            if (!lab[at + i]) {
                neg[nn++] = scores[at + i];
                sn += scores[at + i];
            } else {
                vs->n_hops++;
                sp += scores[at + i];
            }
        }
        at += sets[s].n_pairs;
    }
    vs->n_pairs = n;
    vs->gap = (vs->n_hops ? sp / vs->n_hops : 0) - (nn ? sn / nn : 0);
    int meaningful;
    if (roc_tpr_at_fpr(&vs->tpr, &meaningful, scores, lab, n, TC_VAL_FPR, NULL) < 0 ||
        roc_tpr_at_fpr(&vs->tpr2, &meaningful, scores, lab, n, 1e-2, NULL) < 0 ||
        roc_auc(&vs->auc, scores, lab, n, NULL) < 0) {
        vs->tpr = 0;
        vs->auc = 0.5;
    }
    vs->threshold = train_correlate_calibrate(neg, nn, target_fpr);
done:
    free(scores);
    free(neg);
    free(lab);
    return rc;
}

/* Appends v to *arr (count *cnt, capacity *cap). Returns 0 or -1. */
static int push_pair(double **arr, int **karr, size_t *cnt, size_t *cap, double v, int k)
{
    if (*cnt == *cap) {
        size_t c2 = *cap ? 2 * *cap : 4096;
        double *g = realloc(*arr, sizeof(double) * c2);
        if (!g)
            return -1;
        *arr = g;
        int *h = realloc(*karr, sizeof(int) * c2);
        if (!h)
            return -1;
        *karr = h;
        *cap = c2;
    }
    (*arr)[*cnt] = v;
    (*karr)[(*cnt)++] = k;
    return 0;
}

int train_correlate_recalibrate(encoder *enc, size_t *n_neg, size_t *n_pos, double *tpr,
                                const train_correlate_data *data, size_t n, double target_fpr,
                                char *errbuf)
{
    *n_neg = *n_pos = 0;
    if (tpr)
        *tpr = 0;
    if (n == 0)
        return ss_errf(errbuf, SS_ERR_ARG, "calibration: no capture set");
    if (!(target_fpr > 0 && target_fpr < 1))
        return ss_errf(errbuf, SS_ERR_ARG, "calibration: target FPR %g not in (0,1)",
                       target_fpr);
    /* per pair: the sum of its windows' similarities and their number */
    size_t cap_neg = 0, cap_pos = 0, nn = 0, np = 0;
    double *neg = NULL, *pos = NULL, *sums = NULL;
    int *neg_k = NULL, *pos_k = NULL, *used = NULL;
    int rc = SS_OK;
    for (size_t k = 0; k < n; k++) {
        tc_set s;
        if ((rc = set_load(&s, &data[k], errbuf)))
            goto done;
        size_t m = s.n_pairs ? s.n_pairs : 1;
        double *sc = realloc(sums, sizeof(double) * m);
        if (sc)
            sums = sc;
        int *us = sc ? realloc(used, sizeof(int) * m) : NULL;
        if (us)
            used = us;
        if (!sc || !us) {
            set_free(&s);
            rc = ss_errf(errbuf, SS_ERR_NOMEM, "calibration: out of memory");
            goto done;
        }
        rc = lstm_method_pair_evidence(enc, s.cs, s.pairs, s.n_pairs, sums, used, NULL, errbuf);
        for (size_t i = 0; rc == SS_OK && i < s.n_pairs; i++) {
            int bad = s.is_hop[i] ? push_pair(&pos, &pos_k, &np, &cap_pos, sums[i], used[i])
                                  : push_pair(&neg, &neg_k, &nn, &cap_neg, sums[i], used[i]);
            if (bad)
                rc = ss_errf(errbuf, SS_ERR_NOMEM, "calibration: out of memory");
        }
        set_free(&s);
        if (rc)
            goto done;
    }
    if (nn == 0) {
        rc = ss_errf(errbuf, SS_ERR_EMPTY, "calibration: no negative pair in the captures");
        goto done;
    }
    /* the plain threshold over all negatives, and one per window count */
    int kmax = enc->cfg.feat.max_windows < ENCODER_HOP_CLASSES ? enc->cfg.feat.max_windows
                                                                : ENCODER_HOP_CLASSES;
    if ((rc = hopscore_calibrate(enc->hop_thr, enc->hop_level, &enc->threshold, kmax, neg,
                                 neg_k, nn, target_fpr, errbuf)))
        goto done;
    enc->n_hop_thr = kmax;
    *n_neg = nn;
    *n_pos = np;
    if (tpr && np) {
        size_t hit = 0;
        for (size_t i = 0; i < np; i++)
            hit += hopscore_score(enc, pos[i], pos_k[i]) >= enc->threshold;
        *tpr = (double)hit / (double)np;
    }
done:
    free(neg);
    free(pos);
    free(neg_k);
    free(pos_k);
    free(sums);
    free(used);
    return rc;
}

/* ---- training ---- */

/* Buffers of one batch. */
typedef struct tc_batch {
    int B;
    int N;            /* unlabelled negative pairs */
    int R;            /* rows: 3B + 2N */
    float *inp;       /* (R,T,C): out legs, in legs, hard-negative partners (B each),
                         then the negative pairs' in legs and out legs (N each) */
    int *lengths;     /* (R) */
    float *emb;       /* (R,E) */
    float *demb;      /* (R,E) */
    float *acts, *ws;
    float *ws_nce;
    float *ta, *tp, *tn, *dta, *dtp, *dtn; /* (B,E) triplet gathers */
    int *anchor_row;  /* (B): row of the shared leg */
    int *pos_row;     /* (B): row of its true partner */
} tc_batch;

static void batch_free(tc_batch *b)
{
    free(b->inp);
    free(b->lengths);
    free(b->emb);
    free(b->demb);
    free(b->acts);
    free(b->ws);
    free(b->ws_nce);
    free(b->ta);
    free(b->tp);
    free(b->tn);
    free(b->dta);
    free(b->dtp);
    free(b->dtn);
    free(b->anchor_row);
    free(b->pos_row);
}

static int batch_alloc(tc_batch *b, const encoder *enc, int B, int N, char *errbuf)
{
    memset(b, 0, sizeof(*b));
    b->B = B;
    b->N = N;
    b->R = 3 * B + 2 * N;
    const size_t T = (size_t)enc->cfg.feat.steps, C = CONNFEAT_CHANNELS, E = enc->cfg.dim;
    const size_t R = (size_t)b->R;
    b->inp = malloc(sizeof(float) * R * T * C);
    b->lengths = malloc(sizeof(int) * R);
    b->emb = malloc(sizeof(float) * R * E);
    b->demb = malloc(sizeof(float) * R * E);
    b->acts = malloc(sizeof(float) * encoder_acts_size(enc, (int)R));
    b->ws = malloc(sizeof(float) * encoder_workspace_size(enc, (int)R));
    b->ws_nce = malloc(sizeof(float) * loss_infonce_workspace_size(B, (int)E));
    b->ta = malloc(sizeof(float) * B * E);
    b->tp = malloc(sizeof(float) * B * E);
    b->tn = malloc(sizeof(float) * B * E);
    b->dta = malloc(sizeof(float) * B * E);
    b->dtp = malloc(sizeof(float) * B * E);
    b->dtn = malloc(sizeof(float) * B * E);
    b->anchor_row = malloc(sizeof(int) * B);
    b->pos_row = malloc(sizeof(int) * B);
    if (!b->inp || !b->lengths || !b->emb || !b->demb || !b->acts || !b->ws || !b->ws_nce ||
        !b->ta || !b->tp || !b->tn || !b->dta || !b->dtp || !b->dtn || !b->anchor_row ||
        !b->pos_row) {
        batch_free(b);
        return ss_errf(errbuf, SS_ERR_NOMEM, "training: out of memory for a batch of %d", B);
    }
    return SS_OK;
}

/* Start of the j-th scored window of a pair whose outbound leg starts at
 * out_start, with a random grid phase (out starts anywhere in the first
 * stride, as at inference). */
static int64_t sample_w0(const connfeat_config *f, int64_t out_start, int j, rng_t *r)
{
    return out_start - (int64_t)(rng_uniform(r) * (float)f->stride_us) +
           (int64_t)j * f->stride_us;
}

/* Fills rows 3B..3B+2N of the batch with N candidate pairs that are not hops,
 * each at a random scored window where one leg sent payload. */
static void batch_sample_negs(tc_batch *b, const encoder *enc, const tc_set *sets,
                              size_t n_sets, size_t total_neg, rng_t *r)
{
    const connfeat_config *f = &enc->cfg.feat;
    const size_t T = (size_t)f->steps, C = CONNFEAT_CHANNELS;
    const int B = b->B, N = b->N;
    for (int i = 0; i < N; i++) {
        float *xi = b->inp + (size_t)(3 * B + i) * T * C;
        float *xo = b->inp + (size_t)(3 * B + N + i) * T * C;
        for (int tries = 0; tries < 20; tries++) {
            size_t pick = (size_t)rng_below(r, total_neg), si = 0;
            while (si + 1 < n_sets && pick >= sets[si].n_negs) {
                pick -= sets[si].n_negs;
                si++;
            }
            const tc_set *s = &sets[si];
            const candidates_pair *p = &s->pairs[s->negs[pick]];
            const conntab_record *in = connset_get(s->cs, p->in);
            const conntab_record *out = connset_get(s->cs, p->out);
            int64_t g0;
            int nw = hopscore_windows(f, in, out, &g0);
            if (nw < 1)
                nw = 1;
            int64_t w0 = sample_w0(f, out->start_us, (int)rng_below(r, (uint64_t)nw), r);
            int nd_in, nd_out;
            b->lengths[3 * B + i] = connfeat_window(xi, &nd_in, in, w0, f);
            b->lengths[3 * B + N + i] = connfeat_window(xo, &nd_out, out, w0, f);
            if (nd_in + nd_out > 0)
                break;
        }
    }
}

/* Fills the batch's inputs with B random hops at random windows. */
static void batch_sample(tc_batch *b, const encoder *enc, const tc_set *sets, size_t n_sets,
                         size_t total_pos, float first_window, rng_t *r)
{
    const connfeat_config *f = &enc->cfg.feat;
    const size_t T = (size_t)f->steps, C = CONNFEAT_CHANNELS;
    const int B = b->B;
    for (int i = 0; i < B; i++) {
        const tc_set *s = NULL;
        size_t k = 0;
        const conntab_record *in = NULL, *out = NULL;
        int64_t w0 = 0;
        for (int tries = 0; tries < 20; tries++) {
            size_t pick = (size_t)rng_below(r, total_pos), si = 0;
            while (si + 1 < n_sets && pick >= sets[si].n_pos) {
                pick -= sets[si].n_pos;
                si++;
            }
            s = &sets[si];
            k = pick;
            const candidates_pair *p = &s->pairs[s->pos[k]];
            in = connset_get(s->cs, p->in);
            out = connset_get(s->cs, p->out);
            int64_t g0;
            int nw = hopscore_windows(f, in, out, &g0);
            if (nw < 1)
                nw = 1;
            int j = (int)rng_below(r, (uint64_t)nw);
            if (first_window > 0 && rng_uniform(r) < first_window)
                j = 0;
            w0 = sample_w0(f, out->start_us, j, r);
            int nd_in, nd_out;
            b->lengths[i] = connfeat_window(b->inp + (size_t)i * T * C, &nd_out, out, w0, f);
            b->lengths[B + i] =
                connfeat_window(b->inp + (size_t)(B + i) * T * C, &nd_in, in, w0, f);
            if (nd_in + nd_out > 0)
                break;
        }
        /* hard negative: a candidate sharing one leg with the hop */
        size_t nneg = s->neg_off[k + 1] - s->neg_off[k];
        float *xn = b->inp + (size_t)(2 * B + i) * T * C;
        if (nneg > 0) {
            size_t q = s->neg_idx[s->neg_off[k] + rng_below(r, nneg)];
            const candidates_pair *np = &s->pairs[q];
            const candidates_pair *p = &s->pairs[s->pos[k]];
            if (np->out == p->out) { /* another inbound of the same outbound */
                b->anchor_row[i] = i;
                b->pos_row[i] = B + i;
                b->lengths[2 * B + i] =
                    connfeat_window(xn, NULL, connset_get(s->cs, np->in), w0, f);
            } else { /* another outbound of the same inbound */
                b->anchor_row[i] = B + i;
                b->pos_row[i] = i;
                b->lengths[2 * B + i] =
                    connfeat_window(xn, NULL, connset_get(s->cs, np->out), w0, f);
            }
        } else { /* none: the partner itself (zero triplet gradient) */
            b->anchor_row[i] = i;
            b->pos_row[i] = B + i;
            memcpy(xn, b->inp + (size_t)(B + i) * T * C, sizeof(float) * T * C);
            b->lengths[2 * B + i] = b->lengths[B + i];
        }
    }
}

/* One optimisation step; *loss receives the batch loss. */
static int batch_step(double *loss, tc_batch *b, encoder *enc, const train_correlate_config *cfg,
                      const adamw_config *opt, char *errbuf)
{
    const int B = b->B, N = b->N, E = enc->cfg.dim;
    const size_t T = (size_t)enc->cfg.feat.steps, C = CONNFEAT_CHANNELS;
    for (int i = 0; i < b->R; i++)
        connfeat_normalise(b->inp + (size_t)i * T * C, b->lengths[i], enc->mean, enc->std);
    int rc = encoder_forward(b->emb, b->acts, b->inp, b->lengths, enc, b->R, errbuf);
    if (rc)
        return rc;
    float l1 = loss_infonce_forward(b->ws_nce, b->emb, b->emb + (size_t)B * E,
                                    cfg->temperature, 1, B, E);
    memset(b->demb, 0, sizeof(float) * (size_t)b->R * E);
    loss_infonce_backward(b->demb, b->demb + (size_t)B * E, b->ws_nce, b->emb,
                          b->emb + (size_t)B * E, cfg->temperature, 1, 1.0f, B, E);
    for (int i = 0; i < B; i++) {
        memcpy(b->ta + (size_t)i * E, b->emb + (size_t)b->anchor_row[i] * E, sizeof(float) * E);
        memcpy(b->tp + (size_t)i * E, b->emb + (size_t)b->pos_row[i] * E, sizeof(float) * E);
        memcpy(b->tn + (size_t)i * E, b->emb + (size_t)(2 * B + i) * E, sizeof(float) * E);
    }
    float l2 = loss_triplet_forward(b->ta, b->tp, b->tn, cfg->margin, B, E);
    loss_triplet_backward(b->dta, b->dtp, b->dtn, b->ta, b->tp, b->tn, cfg->margin,
                          cfg->triplet_weight, B, E);
    for (int i = 0; i < B; i++)
        for (int e = 0; e < E; e++) {
            b->demb[(size_t)b->anchor_row[i] * E + e] += b->dta[(size_t)i * E + e];
            b->demb[(size_t)b->pos_row[i] * E + e] += b->dtp[(size_t)i * E + e];
            b->demb[(size_t)(2 * B + i) * E + e] += b->dtn[(size_t)i * E + e];
        }
    /* unlabelled negative pairs: neg_weight * mean max(0, sim - margin) */
    double l3 = 0;
    for (int i = 0; i < N; i++) {
        const float *ei = b->emb + (size_t)(3 * B + i) * E;
        const float *eo = b->emb + (size_t)(3 * B + N + i) * E;
        float sim = 0;
        for (int e = 0; e < E; e++)
            sim += ei[e] * eo[e];
        if (sim <= cfg->neg_margin)
            continue;
        l3 += (double)(sim - cfg->neg_margin) / N;
        float g = cfg->neg_weight / (float)N;
        float *di = b->demb + (size_t)(3 * B + i) * E;
        float *dout = b->demb + (size_t)(3 * B + N + i) * E;
        for (int e = 0; e < E; e++) {
            di[e] += g * eo[e];
            dout[e] += g * ei[e];
        }
    }
    params_zero_grad(enc->params);
    if ((rc = encoder_backward(NULL, b->demb, b->acts, b->ws, b->inp, b->lengths, enc, b->R,
                               errbuf)))
        return rc;
    adamw_step(enc->params, opt);
    *loss = (double)l1 + (double)cfg->triplet_weight * l2 + (double)cfg->neg_weight * l3;
    return SS_OK;
}

static double metric(const val_stats *v)
{
    /* TPR at 1e-3 and 1e-2 (the first alone hangs on the single highest
     * negative of a small validation set); AUC, then the score gap, break
     * ties (TPR and AUC saturate) */
    return 0.5 * v->tpr + 0.5 * v->tpr2 + 0.01 * v->auc + 0.001 * v->gap;
}

int train_correlate_run(encoder **out, train_correlate_result *res,
                        const train_correlate_config *cfg, const train_correlate_data *train,
                        size_t n_train, const train_correlate_data *val, size_t n_val,
                        char *errbuf)
{
    *out = NULL;
    memset(res, 0, sizeof(*res));
    if (n_train == 0)
        return ss_errf(errbuf, SS_ERR_ARG, "training: no training data");
    if (cfg->epochs < 1 || cfg->steps < 1 || cfg->batch < 2 || cfg->patience < 1 ||
        !(cfg->lr > 0) || !(cfg->temperature > 0) || cfg->neg_pairs < 0 ||
        !(cfg->first_window >= 0 && cfg->first_window <= 1))
        return ss_errf(errbuf, SS_ERR_ARG,
                       "training: bad options (epochs %d, steps %d, batch %d, patience %d)",
                       cfg->epochs, cfg->steps, cfg->batch, cfg->patience);
    tc_set *sets = calloc(n_train + n_val, sizeof(*sets));
    float *best = NULL;
    encoder *enc = NULL;
    tc_batch batch;
    memset(&batch, 0, sizeof(batch));
    int rc = SS_OK;
    if (!sets)
        return ss_errf(errbuf, SS_ERR_NOMEM, "training: out of memory");
    for (size_t k = 0; k < n_train + n_val; k++) {
        const train_correlate_data *d = k < n_train ? &train[k] : &val[k - n_train];
        if ((rc = set_load(&sets[k], d, errbuf)))
            goto done;
    }
    tc_set *vsets = n_val ? sets + n_train : sets;
    size_t n_vsets = n_val ? n_val : n_train;
    if (!n_val && cfg->progress)
        fprintf(cfg->progress, "train: warning: no validation captures; validating on the "
                               "training captures\n");
    size_t total_pos = 0, total_neg = 0;
    for (size_t k = 0; k < n_train; k++) {
        total_pos += sets[k].n_pos;
        total_neg += sets[k].n_negs;
    }
    res->train_hops = total_pos;
    if (total_pos == 0) {
        rc = ss_errf(errbuf, SS_ERR_EMPTY,
                     "training: no labelled hop found among the candidates of the training "
                     "captures (check the labels files)");
        goto done;
    }
    if ((rc = encoder_create(&enc, &cfg->enc, cfg->seed, errbuf)))
        goto done;
    rng_t r;
    rng_seed(&r, cfg->seed ^ 0x9e3779b97f4a7c15ULL);
    if ((rc = compute_norm(enc, sets, n_train, &r, errbuf)) ||
        (rc = batch_alloc(&batch, enc, cfg->batch, total_neg ? cfg->neg_pairs : 0, errbuf)))
        goto done;
    best = malloc(sizeof(float) * enc->params->total);
    if (!best) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "training: out of memory");
        goto done;
    }
    adamw_config opt;
    adamw_config_default(&opt);
    opt.lr = cfg->lr;

    val_stats vs;
    if ((rc = validate(&vs, enc, vsets, n_vsets, cfg->target_fpr, errbuf)))
        goto done;
    res->initial_val_tpr = res->best_val_tpr = vs.tpr;
    res->initial_val_auc = res->best_val_auc = vs.auc;
    res->val_hops = vs.n_hops;
    res->val_pairs = vs.n_pairs;
    double best_metric = metric(&vs);
    enc->threshold = vs.threshold;
    res->threshold = vs.threshold;
    memcpy(best, enc->params->data, sizeof(float) * enc->params->total);
    if (cfg->progress)
        fprintf(cfg->progress,
                "train: %zu training hops, %zu validation hops among %zu candidates; "
                "untrained: val TPR@1e-3 %.4f AUC %.4f\n",
                total_pos, vs.n_hops, vs.n_pairs, vs.tpr, vs.auc);
    int since = 0;
    for (int ep = 1; ep <= cfg->epochs; ep++) {
        double sum = 0;
        for (int st = 0; st < cfg->steps; st++) {
            double l;
            batch_sample(&batch, enc, sets, n_train, total_pos, cfg->first_window, &r);
            if (batch.N > 0)
                batch_sample_negs(&batch, enc, sets, n_train, total_neg, &r);
            if ((rc = batch_step(&l, &batch, enc, cfg, &opt, errbuf)))
                goto done;
            sum += l;
        }
        double mean = sum / cfg->steps;
        if (ep == 1)
            res->first_loss = mean;
        res->last_loss = mean;
        res->epochs_run = ep;
        if ((rc = validate(&vs, enc, vsets, n_vsets, cfg->target_fpr, errbuf)))
            goto done;
        int better = metric(&vs) > best_metric;
        if (better) {
            best_metric = metric(&vs);
            res->best_epoch = ep;
            res->best_val_tpr = vs.tpr;
            res->best_val_auc = vs.auc;
            res->threshold = vs.threshold;
            memcpy(best, enc->params->data, sizeof(float) * enc->params->total);
            since = 0;
            if (cfg->out_path) {
                double thr = enc->threshold;
                enc->threshold = vs.threshold;
                rc = encoder_save(enc, cfg->out_path, errbuf);
                enc->threshold = thr;
                if (rc)
                    goto done;
            }
        } else {
            since++;
        }
        if (cfg->progress)
            fprintf(cfg->progress,
                    "train: epoch %d/%d loss %.4f val TPR@1e-3 %.4f AUC %.4f thr %.4f%s\n", ep,
                    cfg->epochs, mean, vs.tpr, vs.auc, vs.threshold,
                    better ? " (best, saved)" : "");
        if (since >= cfg->patience) {
            if (cfg->progress)
                fprintf(cfg->progress, "train: no improvement in %d epochs: stopping\n",
                        cfg->patience);
            break;
        }
    }
    memcpy(enc->params->data, best, sizeof(float) * enc->params->total);
    enc->threshold = res->threshold;
    if (cfg->out_path && res->best_epoch == 0 &&
        (rc = encoder_save(enc, cfg->out_path, errbuf)))
        goto done;
    *out = enc;
    enc = NULL;
done:
    encoder_destroy(enc);
    free(best);
    batch_free(&batch);
    for (size_t k = 0; k < n_train + n_val; k++)
        set_free(&sets[k]);
    free(sets);
    return rc;
}

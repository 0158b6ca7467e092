/* lstm_method.c - the learned correlation method; see lstm_method.h. */
#include "lstm_method.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "correlator.h"
#include "hopscore.h"
#include "status.h"

/* One (connection, grid window) to embed. */
typedef struct win_key {
    uint32_t conn;
    int64_t g;
} win_key;

static int key_cmp(const void *a, const void *b)
{
    const win_key *x = a, *y = b;
    if (x->conn != y->conn)
        return x->conn < y->conn ? -1 : 1;
    return (x->g > y->g) - (x->g < y->g);
}

static size_t key_find(const win_key *keys, size_t n, uint32_t conn, int64_t g)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid].conn < conn || (keys[mid].conn == conn && keys[mid].g < g))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int lstm_method_score_pairs(const encoder *enc, const connset *set,
                            const candidates_pair *pairs, size_t n, double *scores,
                            char *errbuf)
{
    return lstm_method_score_pairs_stats(enc, set, pairs, n, scores, NULL, errbuf);
}

int lstm_method_score_pairs_stats(const encoder *enc, const connset *set,
                                  const candidates_pair *pairs, size_t n, double *scores,
                                  lstm_method_stats *st, char *errbuf)
{
    double *sum = malloc(sizeof(*sum) * (n ? n : 1));
    int *used = malloc(sizeof(*used) * (n ? n : 1));
    int rc = sum && used ? lstm_method_pair_evidence(enc, set, pairs, n, sum, used, st, errbuf)
                         : ss_errf(errbuf, SS_ERR_NOMEM, "lstm: out of memory for %zu pairs", n);
    for (size_t i = 0; rc == SS_OK && i < n; i++)
        scores[i] = hopscore_score(enc, sum[i], used[i]);
    free(sum);
    free(used);
    return rc;
}

int lstm_method_pair_evidence(const encoder *enc, const connset *set,
                              const candidates_pair *pairs, size_t n, double *sums, int *useds,
                              lstm_method_stats *st, char *errbuf)
{
    double t_start = st ? now_s() : 0;
    if (st)
        memset(st, 0, sizeof(*st));
    const connfeat_config *f = &enc->cfg.feat;
    const int E = enc->cfg.dim;
    size_t cap = n * 2 * (size_t)f->max_windows, nk = 0;
    if (n == 0)
        return SS_OK;
    win_key *keys = malloc(sizeof(*keys) * cap);
    const conntab_record **recs = NULL;
    int64_t *w0 = NULL;
    float *emb = NULL;
    int *nd = NULL;
    int rc = SS_OK;
    if (!keys) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "lstm: out of memory for %zu windows", cap);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const conntab_record *in = connset_get(set, pairs[i].in);
        const conntab_record *out = connset_get(set, pairs[i].out);
        int64_t g0;
        int k = hopscore_windows(f, in, out, &g0);
        for (int j = 0; j < k; j++) {
            keys[nk++] = (win_key){pairs[i].in, g0 + j};
            keys[nk++] = (win_key){pairs[i].out, g0 + j};
        }
    }
    qsort(keys, nk, sizeof(*keys), key_cmp);
    size_t u = 0;
    for (size_t k = 0; k < nk; k++)
        if (u == 0 || key_cmp(&keys[u - 1], &keys[k]) != 0)
            keys[u++] = keys[k];
    nk = u;
    recs = malloc(sizeof(*recs) * (nk ? nk : 1));
    w0 = malloc(sizeof(*w0) * (nk ? nk : 1));
    emb = malloc(sizeof(*emb) * (nk ? nk : 1) * (size_t)E);
    nd = malloc(sizeof(*nd) * (nk ? nk : 1));
    if (!recs || !w0 || !emb || !nd) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "lstm: out of memory for %zu windows", nk);
        goto done;
    }
    for (size_t k = 0; k < nk; k++) {
        recs[k] = connset_get(set, keys[k].conn);
        w0[k] = connfeat_window_start(f, keys[k].g);
    }
    double t_embed = st ? now_s() : 0;
    if ((rc = encoder_embed_windows(emb, nd, enc, recs, w0, nk, errbuf)))
        goto done;
    if (st) {
        st->embed_s = now_s() - t_embed;
        st->windows = nk;
    }
    for (size_t i = 0; i < n; i++) {
        const conntab_record *in = connset_get(set, pairs[i].in);
        const conntab_record *out = connset_get(set, pairs[i].out);
        int64_t g0;
        int k = hopscore_windows(f, in, out, &g0);
        double sum = 0;
        int used = 0;
        for (int j = 0; j < k; j++) {
            size_t a = key_find(keys, nk, pairs[i].in, g0 + j);
            size_t b = key_find(keys, nk, pairs[i].out, g0 + j);
            if (nd[a] == 0 && nd[b] == 0)
                continue;
            sum += cblas_sdot(E, emb + a * E, 1, emb + b * E, 1);
            used++;
        }
        sums[i] = sum;
        useds[i] = used;
    }
    if (st) {
        st->pairs = n;
        st->total_s = now_s() - t_start;
    }
done:
    free(keys);
    free(recs);
    free(w0);
    free(emb);
    free(nd);
    return rc;
}

/* The method's context: its encoder and, for lstm_method_use_files, the
 * captures to stream. */
typedef struct lstm_ctx {
    encoder *enc;
    char **paths;
    size_t n_paths;
    candidates_config cand;
} lstm_ctx;

/* One streamed score, by conntab serials. */
typedef struct serial_score {
    uint64_t in, out;
    double score;
} serial_score;

typedef struct stream_col {
    serial_score *v;
    size_t n, cap;
} stream_col;

static int stream_emit(void *ctx, const correlator_group *g, char *errbuf)
{
    stream_col *col = ctx;
    for (size_t i = 0; i < g->n; i++) {
        if (col->n == col->cap) {
            size_t nc = col->cap ? col->cap * 2 : 1024;
            serial_score *v = realloc(col->v, nc * sizeof(*v));
            if (!v)
                return ss_errf(errbuf, SS_ERR_NOMEM, "lstm: out of memory for %zu scores", nc);
            col->v = v;
            col->cap = nc;
        }
        col->v[col->n++] = (serial_score){g->in[i]->serial, g->out->serial, g->score[i]};
    }
    return SS_OK;
}

static int serial_cmp(const void *pa, const void *pb)
{
    const serial_score *a = pa, *b = pb;
    if (a->out != b->out)
        return a->out < b->out ? -1 : 1;
    return (a->in > b->in) - (a->in < b->in);
}

static void eval_warn(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg; /* the batch read of the same files has reported it */
}

static int score_streamed(lstm_ctx *lc, const connset *set, const candidates_pair *pairs,
                          size_t n, double *scores, char *errbuf)
{
    stream_col col = {NULL, 0, 0};
    correlator *c = NULL;
    int rc = correlator_create(&c, lc->enc, &lc->cand, stream_emit, &col, errbuf);
    if (rc == 0)
        rc = correlator_read_files(c, (const char *const *)lc->paths, lc->n_paths, NULL,
                                   eval_warn, NULL, errbuf);
    correlator_destroy(c);
    if (rc < 0) {
        free(col.v);
        return rc;
    }
    qsort(col.v, col.n, sizeof(*col.v), serial_cmp);
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        serial_score key = {connset_get(set, pairs[i].in)->serial,
                            connset_get(set, pairs[i].out)->serial, 0};
        serial_score *hit = col.n ? bsearch(&key, col.v, col.n, sizeof(*col.v), serial_cmp)
                                  : NULL;
        scores[i] = hit ? hit->score : 0.0;
        missing += !hit;
    }
    free(col.v);
    if (missing)
        return ss_errf(errbuf, SS_ERR_INTERNAL,
                       "lstm: %zu of %zu candidate pairs not found when streaming the captures "
                       "(were they read with other connection settings?)", missing, n);
    return SS_OK;
}

static int lstm_score(void *ctx, const connset *set, const candidates_pair *pairs, size_t n,
                      double *scores, char *errbuf)
{
    lstm_ctx *lc = ctx;
    if (lc->n_paths)
        return score_streamed(lc, set, pairs, n, scores, errbuf);
    return lstm_method_score_pairs(lc->enc, set, pairs, n, scores, errbuf);
}

static void lstm_destroy(void *ctx)
{
    lstm_ctx *lc = ctx;
    if (!lc)
        return;
    for (size_t i = 0; i < lc->n_paths; i++)
        free(lc->paths[i]);
    free(lc->paths);
    encoder_destroy(lc->enc);
    free(lc);
}

int lstm_method_init(method *m, const char *arg, char *errbuf)
{
    lstm_ctx *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return ss_errf(errbuf, SS_ERR_NOMEM, "lstm: out of memory");
    int rc = encoder_open(&lc->enc, arg, errbuf);
    if (rc) {
        free(lc);
        return rc;
    }
    m->threshold = lc->enc->threshold;
    m->score = lstm_score;
    m->ctx = lc;
    m->destroy = lstm_destroy;
    return SS_OK;
}

int lstm_method_use_files(method *m, const char *const *paths, size_t n,
                          const candidates_config *cand, char *errbuf)
{
    if (m->score != lstm_score)
        return ss_errf(errbuf, SS_ERR_ARG, "%s: not the lstm method", m->name);
    lstm_ctx *lc = m->ctx;
    char **p = calloc(n ? n : 1, sizeof(*p));
    if (!p)
        return ss_errf(errbuf, SS_ERR_NOMEM, "lstm: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] = strdup(paths[i]))) {
            for (size_t k = 0; k < i; k++)
                free(p[k]);
            free(p);
            return ss_errf(errbuf, SS_ERR_NOMEM, "lstm: out of memory");
        }
    }
    for (size_t i = 0; i < lc->n_paths; i++)
        free(lc->paths[i]);
    free(lc->paths);
    lc->paths = p;
    lc->n_paths = n;
    if (cand)
        lc->cand = *cand;
    else
        candidates_config_default(&lc->cand);
    return SS_OK;
}

/* sessvocab.c - state keys, vocabulary, size classes, input rows (see sessvocab.h). */
#include "sessvocab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "status.h"

int session_outcome(int conn_state)
{
    switch (conn_state) {
    case CONNTAB_STATE_SF:
    case CONNTAB_STATE_S1:
    case CONNTAB_STATE_S2:
    case CONNTAB_STATE_S3:
        return SESSION_OUTCOME_OK;
    case CONNTAB_STATE_RSTO:
    case CONNTAB_STATE_RSTR:
        return SESSION_OUTCOME_RESET;
    case CONNTAB_STATE_REJ:
        return SESSION_OUTCOME_REJECTED;
    default:
        return SESSION_OUTCOME_UNANSWERED;
    }
}

static uint32_t proto_class(uint8_t proto)
{
    switch (proto) {
    case 6: return 0;
    case 17: return 1;
    case 1:
    case 58: return 2;
    default: return 3;
    }
}

uint32_t session_state_key(const conntab_record *rec, int outbound, int repeat, int spread)
{
    uint32_t pc = proto_class(rec->proto), port = rec->resp_p;
    if (pc == 2) /* ICMP, ICMPv6: the type */
        port = rec->orig_p;
    else if (pc == 3) /* another protocol: its number */
        port = rec->proto;
    uint32_t rb = repeat <= 0 ? 0 : repeat == 1 ? 1 : repeat <= 3 ? 2 : 3;
    uint32_t sb = spread <= 0 ? 0 : spread <= 2 ? 1 : 2;
    return pc << 24 | (uint32_t)session_outcome(rec->state) << 22 |
           (uint32_t)(outbound ? 1 : 0) << 21 | sb << 18 | rb << 16 | (port & 0xffff);
}

uint32_t session_state_class_key(uint32_t key)
{
    if (key & SESSION_KEY_CLASS_BIT)
        return key;
    uint32_t port = key & 0xffff, pc = key >> 24;
    uint32_t cls = pc >= 2 ? 0 : port < 1024 ? 0 : port < 49152 ? 1 : 2;
    return (key & ~UINT32_C(0xffff)) | SESSION_KEY_CLASS_BIT | cls;
}

/* What a host did with one peer before: connections in one state (rep) and the
 * other server ports (ports[0..*spread), at most 3 kept). */
typedef struct peer_tally {
    const uint8_t *peer;
    uint32_t base;
    int rep, spread;
    uint32_t ports[3];
} peer_tally;

static void tally_add(peer_tally *pt, const session_list *l, const conntab_record *const *recs,
                      size_t kj)
{
    const conntab_record *q = recs[l->conn[kj]];
    if (memcmp(pt->peer, l->outbound[kj] ? q->resp_h : q->orig_h, 16))
        return;
    uint32_t qb = session_state_key(q, l->outbound[kj], 0, 0);
    if (qb == pt->base) {
        pt->rep++;
        return;
    }
    uint32_t qp = qb & 0xffff;
    if (qp == (pt->base & 0xffff) || pt->spread >= 3)
        return;
    for (int i = 0; i < pt->spread; i++)
        if (pt->ports[i] == qp)
            return;
    pt->ports[pt->spread++] = qp;
}

static int cmp_span_idx(const void *a, const void *b, void *ctx)
{
    const session_span *sp = ctx, *x = &sp[*(const size_t *)a], *y = &sp[*(const size_t *)b];
    int c = session_host_cmp(x->family, x->host, y->family, y->host);
    if (c)
        return c;
    if (x->start_us != y->start_us)
        return x->start_us < y->start_us ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

int session_list_keys(uint32_t *keys, const session_list *l, const conntab_record *const *recs,
                      char *errbuf)
{
    size_t ns = l->n_spans;
    size_t *order = malloc((ns ? ns : 1) * sizeof(size_t));
    size_t *prev = malloc((ns ? ns : 1) * sizeof(size_t)); /* the host's session before */
    if (!order || !prev) {
        free(order);
        free(prev);
        return ss_errf(errbuf, SS_ERR_NOMEM, "session keys: out of memory");
    }
    for (size_t s = 0; s < ns; s++)
        order[s] = s;
    qsort_r(order, ns, sizeof(size_t), cmp_span_idx, l->spans);
    for (size_t i = 0; i < ns; i++) {
        const session_span *a = &l->spans[order[i]];
        prev[order[i]] = i && !session_host_cmp(a->family, a->host, l->spans[order[i - 1]].family,
                                        l->spans[order[i - 1]].host) ? order[i - 1] : SIZE_MAX;
    }
    for (size_t s = 0; s < ns; s++) {
        const session_span *sp = &l->spans[s];
        for (int t = 0; t < sp->n; t++) {
            size_t k = sp->first + (size_t)t;
            const conntab_record *r = recs[l->conn[k]];
            peer_tally pt = {.peer = l->outbound[k] ? r->resp_h : r->orig_h,
                             .base = session_state_key(r, l->outbound[k], 0, 0)};
            for (int j = 0; j < t; j++)
                tally_add(&pt, l, recs, sp->first + (size_t)j);
            /* the host's earlier sessions: connections started in the last minute */
            int64_t since = r->start_us - SESSION_HISTORY_US;
            for (size_t p = prev[s]; p != SIZE_MAX && l->spans[p].end_us >= since; p = prev[p])
                for (int j = 0; j < l->spans[p].n; j++) {
                    size_t kj = l->spans[p].first + (size_t)j;
                    if (recs[l->conn[kj]]->start_us >= since)
                        tally_add(&pt, l, recs, kj);
                }
            keys[k] = session_state_key(r, l->outbound[k], pt.rep, pt.spread);
        }
    }
    free(order);
    free(prev);
    return SS_OK;
}

void session_state_key_string(uint32_t key, char *buf, size_t n)
{
    static const char *const protos[] = {"tcp", "udp", "icmp", "ip"};
    static const char *const outcomes[] = {"ok", "reset", "rej", "noans"};
    static const char *const classes[] = {"wk", "reg", "dyn", "?"};
    static const char *const repeats[] = {"", " x2", " x3-4", " x5+"};
    static const char *const spreads[] = {"", " +1-2ports", " +3ports", " ?"};
    unsigned pc = key >> 24 & 3, port = key & 0xffff;
    const char *dir = key >> 21 & 1 ? "out" : "in";
    const char *oc = outcomes[key >> 22 & 3], *rep = repeats[key >> 16 & 3];
    const char *spr = spreads[key >> 18 & 3];
    if (key & SESSION_KEY_CLASS_BIT)
        snprintf(buf, n, "%s/%s %s %s%s%s", protos[pc], classes[port & 3], dir, oc, rep, spr);
    else
        snprintf(buf, n, "%s/%u %s %s%s%s", protos[pc], port, dir, oc, rep, spr);
}

typedef struct key_count {
    uint32_t key;
    size_t count;
} key_count;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_key_count(const void *a, const void *b)
{
    const key_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

int session_vocab_build(session_vocab *v, const uint32_t *keys, size_t n, int max_states,
                        int min_count, char *errbuf)
{
    memset(v, 0, sizeof(*v));
    if (max_states < 1 || max_states > 4096)
        return ss_errf(errbuf, SS_ERR_ARG, "vocabulary size must be 1..4096, got %d", max_states);
    if (n == 0)
        return ss_errf(errbuf, SS_ERR_EMPTY, "no connections to build a vocabulary from");
    uint32_t *ks = malloc(n * sizeof(*ks));
    key_count *kc = malloc(2 * n * sizeof(*kc)); /* counts, then class counts */
    v->state_keys = malloc((size_t)max_states * sizeof(uint32_t));
    if (!ks || !kc || !v->state_keys) {
        free(ks);
        free(kc);
        session_vocab_free(v);
        return ss_errf(errbuf, SS_ERR_NOMEM, "vocabulary: out of memory");
    }
    memcpy(ks, keys, n * sizeof(*ks));
    qsort(ks, n, sizeof(*ks), cmp_u32);
    size_t nk = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ks[j] == ks[i])
            j++;
        kc[nk++] = (key_count){ks[i], j - i};
        i = j;
    }
    qsort(kc, nk, sizeof(*kc), cmp_key_count);
    /* Exact states seen min_count times, most frequent first; the observations of the
     * others are counted under their port-class state, and the class states seen
     * min_count times take the places of the least frequent exact ones. */
    size_t mc = (size_t)(min_count > 0 ? min_count : 1), cap = (size_t)max_states - 1;
    size_t n_exact = 0;
    while (n_exact < nk && n_exact < cap && kc[n_exact].count >= mc)
        n_exact++;
    size_t n_cls = 0;
    for (int round = 0; round < 2; round++) {
        /* class counts of the observations not kept exact: kc[nk..2nk) as scratch */
        key_count *cc = kc + nk;
        n_cls = 0;
        for (size_t i = n_exact; i < nk; i++) {
            uint32_t ck = session_state_class_key(kc[i].key);
            size_t j = 0;
            while (j < n_cls && cc[j].key != ck)
                j++;
            if (j == n_cls)
                cc[n_cls++] = (key_count){ck, 0};
            cc[j].count += kc[i].count;
        }
        qsort(cc, n_cls, sizeof(*cc), cmp_key_count);
        while (n_cls && cc[n_cls - 1].count < mc)
            n_cls--;
        if (n_exact + n_cls <= cap || round == 1)
            break;
        n_exact = cap > n_cls ? cap - n_cls : 0;
    }
    if (n_exact + n_cls > cap)
        n_cls = cap - n_exact;
    v->n_states = 1;
    for (size_t i = 0; i < n_exact; i++)
        v->state_keys[v->n_states++ - 1] = kc[i].key;
    for (size_t i = 0; i < n_cls; i++)
        v->state_keys[v->n_states++ - 1] = kc[nk + i].key;
    v->state_types = calloc((size_t)v->n_states, sizeof(float));
    if (!v->state_types) {
        free(ks);
        free(kc);
        session_vocab_free(v);
        return ss_errf(errbuf, SS_ERR_NOMEM, "vocabulary: out of memory");
    }
    v->state_types[0] = 1.0f; /* "other" also stands for the states never seen */
    for (size_t i = 0; i < nk; i++)
        v->state_types[session_vocab_state(v, kc[i].key)] += 1.0f;
    for (int k = 0; k < v->n_states; k++)
        if (v->state_types[k] < 1.0f)
            v->state_types[k] = 1.0f;
    free(ks);
    free(kc);
    return SS_OK;
}

double session_vocab_state_prob(const session_vocab *v, int id, double p)
{
    if (!v->state_types || id < 0 || id >= v->n_states)
        return p;
    return p / (double)v->state_types[id];
}

void session_vocab_free(session_vocab *v)
{
    if (!v)
        return;
    free(v->state_keys);
    free(v->state_types);
    free(v->service_keys);
    free(v->size_edges);
    free(v->size_tails);
    memset(v, 0, sizeof(*v));
}

int session_vocab_state(const session_vocab *v, uint32_t key)
{
    for (int k = 0; k + 1 < v->n_states; k++)
        if (v->state_keys[k] == key)
            return k + 1;
    uint32_t ck = session_state_class_key(key);
    for (int k = 0; k + 1 < v->n_states; k++)
        if (v->state_keys[k] == ck)
            return k + 1;
    return 0;
}

uint32_t session_service_key(uint32_t key)
{
    return key & ~(UINT32_C(0xf) << 16);
}

int session_vocab_service(const session_vocab *v, uint32_t key)
{
    uint32_t sk = session_service_key(key), ck = session_service_key(session_state_class_key(key));
    for (int k = 0; k + 1 < v->n_services; k++)
        if (v->service_keys[k] == sk)
            return k + 1;
    for (int k = 0; k + 1 < v->n_services; k++)
        if (v->service_keys[k] == ck)
            return k + 1;
    return 0;
}

/* Class of x among C-1 edges: 0 below e[0] (the low tail), then one more for
 * each further edge that x exceeds (the last: the high tail). */
static int edge_class(const float *e, int C, float x)
{
    int c = x >= e[0];
    for (int j = 1; j < C - 1; j++)
        c += e[j] < x;
    return c;
}

int session_vocab_size(const session_vocab *v, uint32_t key, uint64_t orig, uint64_t resp,
                       int64_t dur_us)
{
    int C = v->byte_classes;
    if (C < 3 || !v->size_edges)
        return 0;
    const float *e = v->size_edges + (size_t)session_vocab_service(v, key) *
                                         SESSION_SIZE_EDGES(C);
    int co = edge_class(e, C, (float)orig), cr = edge_class(e + C - 1, C, (float)resp);
    int lng = (float)((double)dur_us / 1e6) > e[2 * (C - 1)];
    return (co * C + cr) * 2 + lng;
}

/* Offset of the log-excess of axis a (0, 1: bytes, 2: seconds). */
static double tail_offset(int a)
{
    return a == 2 ? 1e-3 : 1.0;
}

double session_vocab_tail(const session_vocab *v, uint32_t key, uint64_t orig, uint64_t resp,
                          int64_t dur_us)
{
    int C = v->byte_classes;
    if (C < 3 || !v->size_edges || !v->size_tails)
        return 0.0;
    int s = session_vocab_service(v, key);
    const float *e = v->size_edges + (size_t)s * SESSION_SIZE_EDGES(C);
    const float *b = v->size_tails + (size_t)s * 3;
    double x[3] = {(double)orig, (double)resp, (double)dur_us / 1e6};
    double edge[3] = {e[C - 2], e[2 * (C - 1) - 1], e[2 * (C - 1)]};
    double nats = 0.0;
    for (int a = 0; a < 3; a++)
        if (x[a] > edge[a])
            nats += log((x[a] + tail_offset(a)) / (edge[a] + tail_offset(a))) / b[a];
    return nats;
}

/* Quantile p of sorted v[0..n): the order statistic nearest p (n - 1). */
static double order_stat(const double *v, size_t n, double p)
{
    return v[(size_t)llround(p * (double)(n - 1))];
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Tail scale of sorted values tmp[0..m) above edge: their mean log-excess,
 * shrunk towards prior (SESSION_TAIL_PRIOR pseudo-observations). */
static float tail_scale(const double *tmp, size_t m, double edge, int axis, double prior)
{
    double sum = 0.0, o = tail_offset(axis);
    size_t k = 0;
    for (size_t i = m; i-- > 0 && tmp[i] > edge; k++)
        sum += log((tmp[i] + o) / (edge + o));
    double b = (sum + SESSION_TAIL_PRIOR * prior) / ((double)k + SESSION_TAIL_PRIOR);
    return (float)(b > SESSION_TAIL_MIN_SCALE ? b : SESSION_TAIL_MIN_SCALE);
}

/* Edges and tail scales of one service from the observations sel[0..m); prior:
 * the three tail scales to shrink towards (NULL: 1 each, for service 0). */
static void service_edges(float *e, float *tails, const float *prior, int C, const size_t *sel,
                          size_t m, const uint64_t *orig, const uint64_t *resp,
                          const int64_t *dur_us, double *tmp)
{
    for (int dir = 0; dir < 3; dir++) {
        for (size_t i = 0; i < m; i++)
            tmp[i] = dir == 0 ? (double)orig[sel[i]] : dir == 1 ? (double)resp[sel[i]]
                                                                : (double)dur_us[sel[i]] / 1e6;
        qsort(tmp, m, sizeof(*tmp), cmp_dbl);
        if (dir == 2) {
            e[2 * (C - 1)] = (float)order_stat(tmp, m, 1.0 - SESSION_SIZE_TAIL);
            tails[2] = tail_scale(tmp, m, e[2 * (C - 1)], 2, prior ? prior[2] : 1.0);
            break;
        }
        float *d = e + dir * (C - 1);
        d[0] = (float)order_stat(tmp, m, SESSION_SIZE_TAIL);
        for (int j = 1; j < C - 2; j++)
            d[j] = (float)order_stat(tmp, m, (double)j / (C - 2));
        d[C - 2] = (float)order_stat(tmp, m, 1.0 - SESSION_SIZE_TAIL);
        for (int j = 1; j < C - 1; j++) /* float rounding must not reorder them */
            if (d[j] < d[j - 1])
                d[j] = d[j - 1];
        tails[dir] = tail_scale(tmp, m, d[C - 2], dir, prior ? prior[dir] : 1.0);
    }
}

typedef struct svc_obs {
    uint32_t key;
    size_t i;
} svc_obs;

static int cmp_svc_obs(const void *a, const void *b)
{
    const svc_obs *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int session_vocab_build_sizes(session_vocab *v, const uint32_t *keys, const uint64_t *orig,
                              const uint64_t *resp, const int64_t *dur_us, size_t n,
                              int byte_classes, char *errbuf)
{
    int C = byte_classes;
    if (C < 3 || C > 8)
        return ss_errf(errbuf, SS_ERR_ARG, "byte classes must be 3..8, got %d", C);
    if (n == 0)
        return ss_errf(errbuf, SS_ERR_EMPTY, "no connections to build size classes from");
    int W = SESSION_SIZE_EDGES(C);
    svc_obs *ob = malloc(n * sizeof(*ob));
    size_t *sel = malloc(n * sizeof(*sel));
    double *tmp = malloc(n * sizeof(*tmp));
    uint32_t *sk = malloc(SESSION_SIZE_MAX_SERVICES * sizeof(*sk));
    float *edges = malloc((size_t)SESSION_SIZE_MAX_SERVICES * (size_t)W * sizeof(*edges));
    float *tails = malloc((size_t)SESSION_SIZE_MAX_SERVICES * 3 * sizeof(*tails));
    if (!ob || !sel || !tmp || !sk || !edges || !tails) {
        free(ob);
        free(sel);
        free(tmp);
        free(sk);
        free(edges);
        free(tails);
        return ss_errf(errbuf, SS_ERR_NOMEM, "size classes: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        sel[i] = i;
    service_edges(edges, tails, NULL, C, sel, n, orig, resp, dur_us, tmp);
    int ns = 1;
    /* exact services first, then port-class services of the observations left */
    for (int pass = 0; pass < 2; pass++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t k = session_service_key(keys[i]);
            int have = 0;
            for (int s = 0; s + 1 < ns && !have; s++)
                have = sk[s] == k;
            if (pass == 1 && !have)
                k = session_service_key(session_state_class_key(keys[i]));
            else if (pass == 1)
                continue;
            ob[m++] = (svc_obs){k, i};
        }
        qsort(ob, m, sizeof(*ob), cmp_svc_obs);
        for (size_t i = 0; i < m && ns < SESSION_SIZE_MAX_SERVICES;) {
            size_t j = i;
            while (j < m && ob[j].key == ob[i].key)
                j++;
            int dup = 0;
            for (int s = 0; s + 1 < ns && !dup; s++)
                dup = sk[s] == ob[i].key;
            if (j - i >= SESSION_SIZE_MIN_OBS && !dup) {
                for (size_t t = i; t < j; t++)
                    sel[t - i] = ob[t].i;
                sk[ns - 1] = ob[i].key;
                service_edges(edges + (size_t)ns * W, tails + (size_t)ns * 3, tails, C, sel,
                              j - i, orig, resp, dur_us, tmp);
                ns++;
            }
            i = j;
        }
    }
    free(ob);
    free(sel);
    free(tmp);
    free(v->service_keys);
    free(v->size_edges);
    free(v->size_tails);
    v->service_keys = sk;
    v->size_edges = edges;
    v->size_tails = tails;
    v->n_services = ns;
    v->byte_classes = C;
    v->n_sizes = 2 * C * C;
    return SS_OK;
}

int session_input_size(const session_vocab *v, int enc_dim)
{
    return v->n_states + v->n_sizes + SESSION_N_OUTCOMES + SESSION_N_EXTRA + enc_dim;
}

/* Fills d's input rows, states and sizes from its list and keys; the encoder
 * vector of member k is row d->list.conn[k] - vec_base of vecs. */
static void fill_inputs(session_data *d, const session_vocab *v, const conntab_record *const *recs,
                        const float *vecs, int enc_dim, size_t vec_base)
{
    int In = d->input_size;
    for (size_t s = 0; s < d->list.n_spans; s++) {
        const session_span *sp = &d->list.spans[s];
        int64_t prev = 0;
        for (int j = 0; j < sp->n; j++) {
            size_t k = sp->first + (size_t)j;
            const conntab_record *r = recs[d->list.conn[k]];
            int st = session_vocab_state(v, d->key[k]);
            int sz = session_vocab_size(v, d->key[k], r->orig_bytes, r->resp_bytes,
                                        r->end_us - r->start_us);
            d->state[k] = st;
            d->size[k] = sz;
            d->tail[k] = (float)session_vocab_tail(v, d->key[k], r->orig_bytes, r->resp_bytes,
                                                   r->end_us - r->start_us);
            float *x = d->x + k * (size_t)In;
            x[st] = 1.0f;
            x[v->n_states + sz] = 1.0f;
            if (r->state < SESSION_N_OUTCOMES)
                x[v->n_states + v->n_sizes + r->state] = 1.0f;
            float *ex = x + v->n_states + v->n_sizes + SESSION_N_OUTCOMES;
            double gap = j ? (double)(r->start_us - prev) / 1e6 : 0.0;
            double dur = (double)(r->end_us - r->start_us) / 1e6;
            ex[0] = (float)log1p(gap > 0 ? gap : 0.0);
            ex[1] = (float)log1p(dur > 0 ? dur : 0.0);
            if (enc_dim)
                memcpy(ex + SESSION_N_EXTRA,
                       vecs + (d->list.conn[k] - vec_base) * (size_t)enc_dim,
                       (size_t)enc_dim * sizeof(float));
            prev = r->start_us;
        }
    }
}

int session_data_build(session_data *d, const session_vocab *v, const conntab_record *const *recs,
                       size_t n, const float *vecs, int enc_dim, const session_config *cfg,
                       const int64_t *starts, size_t n_starts, char *errbuf)
{
    memset(d, 0, sizeof(*d));
    if (enc_dim < 0 || (enc_dim > 0 && !vecs))
        return ss_errf(errbuf, SS_ERR_ARG, "sessions: encoder vectors of dimension %d missing",
                       enc_dim);
    int rc = session_list_build(&d->list, recs, n, cfg, starts, n_starts, errbuf);
    if (rc)
        return rc;
    int In = session_input_size(v, enc_dim);
    size_t nm = d->list.n_members;
    d->input_size = In;
    d->x = calloc(nm ? nm * (size_t)In : 1, sizeof(float));
    d->state = malloc((nm ? nm : 1) * sizeof(int));
    d->key = malloc((nm ? nm : 1) * sizeof(uint32_t));
    d->size = malloc((nm ? nm : 1) * sizeof(int));
    d->tail = malloc((nm ? nm : 1) * sizeof(float));
    if (!d->x || !d->state || !d->size || !d->key || !d->tail) {
        session_data_free(d);
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    }
    if ((rc = session_list_keys(d->key, &d->list, recs, errbuf))) {
        session_data_free(d);
        return rc;
    }
    fill_inputs(d, v, recs, vecs, enc_dim, 0);
    return SS_OK;
}

int session_data_build_host(session_data *d, const session_vocab *v,
                            const conntab_record *const *recs, const uint8_t *outbound,
                            const size_t *span_n, size_t n_spans, const float *vecs, int enc_dim,
                            char *errbuf)
{
    memset(d, 0, sizeof(*d));
    if (enc_dim < 0 || (enc_dim > 0 && !vecs))
        return ss_errf(errbuf, SS_ERR_ARG, "sessions: encoder vectors of dimension %d missing",
                       enc_dim);
    if (n_spans == 0 || span_n[n_spans - 1] == 0)
        return ss_errf(errbuf, SS_ERR_ARG, "sessions: no session to build");
    size_t total = 0;
    for (size_t i = 0; i < n_spans; i++)
        total += span_n[i];
    size_t last = total - span_n[n_spans - 1], n = span_n[n_spans - 1];
    /* the whole list (history first) for the keys, then the last span alone */
    session_list all;
    memset(&all, 0, sizeof(all));
    all.spans = malloc(n_spans * sizeof(*all.spans));
    all.conn = malloc(total * sizeof(*all.conn));
    all.outbound = malloc(total);
    uint32_t *keys = malloc(total * sizeof(*keys));
    d->list.spans = malloc(sizeof(*d->list.spans));
    d->list.conn = malloc(n * sizeof(*d->list.conn));
    d->list.outbound = malloc(n);
    int In = session_input_size(v, enc_dim);
    d->input_size = In;
    d->x = calloc(n * (size_t)In, sizeof(float));
    d->state = malloc(n * sizeof(int));
    d->key = malloc(n * sizeof(uint32_t));
    d->size = malloc(n * sizeof(int));
    d->tail = malloc(n * sizeof(float));
    int rc = SS_OK;
    if (!all.spans || !all.conn || !all.outbound || !keys || !d->list.spans || !d->list.conn ||
        !d->list.outbound || !d->x || !d->state || !d->key || !d->size || !d->tail) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_spans; i++) {
        session_span *sp = &all.spans[i];
        const conntab_record *r0 = recs[k];
        sp->family = r0->family;
        memset(sp->host, 0, 16);
        memcpy(sp->host, outbound[k] ? r0->orig_h : r0->resp_h, (size_t)session_addr_len(r0->family));
        sp->start_us = r0->start_us;
        sp->end_us = r0->end_us;
        sp->first = k;
        sp->n = (int)span_n[i];
        for (size_t j = 0; j < span_n[i]; j++, k++) {
            all.conn[k] = k;
            all.outbound[k] = outbound[k];
            if (recs[k]->end_us > sp->end_us)
                sp->end_us = recs[k]->end_us;
        }
    }
    all.n_spans = n_spans;
    all.n_members = total;
    if ((rc = session_list_keys(keys, &all, recs, errbuf)))
        goto done;
    d->list.spans[0] = all.spans[n_spans - 1];
    d->list.spans[0].first = 0;
    d->list.n_spans = 1;
    d->list.n_members = n;
    for (size_t j = 0; j < n; j++) {
        d->list.conn[j] = last + j;
        d->list.outbound[j] = outbound[last + j];
        d->key[j] = keys[last + j];
    }
    fill_inputs(d, v, recs, vecs, enc_dim, last);
done:
    session_list_free(&all);
    free(keys);
    if (rc)
        session_data_free(d);
    return rc;
}

void session_data_free(session_data *d)
{
    if (!d)
        return;
    session_list_free(&d->list);
    free(d->x);
    free(d->state);
    free(d->size);
    free(d->tail);
    free(d->key);
    memset(d, 0, sizeof(*d));
}

int session_encoder_vectors(float *vecs, const struct encoder *enc,
                            const conntab_record *const *recs, size_t n, char *errbuf)
{
    if (n == 0)
        return SS_OK;
    int64_t *w0 = malloc(n * sizeof(*w0));
    if (!w0)
        return ss_errf(errbuf, SS_ERR_NOMEM, "encoder vectors: out of memory");
    for (size_t i = 0; i < n; i++)
        w0[i] = connfeat_window_start(&enc->cfg.feat,
                                      connfeat_first_window(&enc->cfg.feat, recs[i]->start_us));
    int rc = encoder_embed_windows(vecs, NULL, enc, recs, w0, n, errbuf);
    free(w0);
    return rc;
}

/* session.c - host sessions, tokens, the session network and model (see session.h). */
#include "session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dense.h"
#include "encoder.h"
#include "rng.h"
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

/* ---- sessionisation ---- */

void session_config_default(session_config *cfg)
{
    cfg->gap_us = SESSION_DEFAULT_GAP_US;
    cfg->max_conns = SESSION_DEFAULT_MAX_CONNS;
}

int session_config_check(const session_config *cfg, char *errbuf)
{
    if (cfg->gap_us <= 0)
        return ss_errf(errbuf, SS_ERR_ARG, "session gap must be positive");
    if (cfg->max_conns < 1 || cfg->max_conns > 4096)
        return ss_errf(errbuf, SS_ERR_ARG, "session max connections must be 1..4096, got %d",
                       cfg->max_conns);
    return SS_OK;
}

/* One (host, connection) pair before grouping. */
typedef struct member {
    uint8_t family;
    uint8_t host[16];
    uint8_t outbound;
    int64_t start_us;
    uint64_t serial;
    size_t rec;
} member;

static int addr_len(uint8_t family)
{
    return family == 6 ? 16 : 4;
}

static int cmp_host(uint8_t fa, const uint8_t *ha, uint8_t fb, const uint8_t *hb)
{
    if (fa != fb)
        return fa < fb ? -1 : 1;
    return memcmp(ha, hb, 16);
}

static int cmp_member(const void *pa, const void *pb)
{
    const member *a = pa, *b = pb;
    int c = cmp_host(a->family, a->host, b->family, b->host);
    if (c)
        return c;
    if (a->start_us != b->start_us)
        return a->start_us < b->start_us ? -1 : 1;
    if (a->serial != b->serial)
        return a->serial < b->serial ? -1 : 1;
    if (a->rec != b->rec)
        return a->rec < b->rec ? -1 : 1;
    return (int)a->outbound - (int)b->outbound;
}

static int cmp_span(const void *pa, const void *pb)
{
    const session_span *a = pa, *b = pb;
    if (a->start_us != b->start_us)
        return a->start_us < b->start_us ? -1 : 1;
    int c = cmp_host(a->family, a->host, b->family, b->host);
    if (c)
        return c;
    return a->first < b->first ? -1 : a->first > b->first;
}

int session_near_start(int64_t t_us, const int64_t *starts, size_t n_starts)
{
    if (n_starts == 0 || t_us < starts[0])
        return 0;
    size_t lo = 0, hi = n_starts; /* the latest beginning at or before t_us */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (starts[mid] <= t_us)
            lo = mid;
        else
            hi = mid;
    }
    return t_us - starts[lo] < SESSION_EDGE_US;
}

int session_partial_at_start(const conntab_record *rec, const int64_t *starts, size_t n_starts)
{
    if (rec->proto != IPPROTO_TCP || !session_near_start(rec->start_us, starts, n_starts))
        return 0;
    return rec->state == CONNTAB_STATE_OTH || rec->state == CONNTAB_STATE_SH ||
           rec->state == CONNTAB_STATE_SHR || rec->state == CONNTAB_STATE_RSTRH;
}

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

void session_starts_sort(int64_t *starts, size_t n)
{
    if (n > 1)
        qsort(starts, n, sizeof(*starts), cmp_i64);
}

int session_is_host(uint8_t family, const uint8_t *addr)
{
    static const uint8_t zero[16];
    if (family == 6)
        return addr[0] != 0xff && memcmp(addr, zero, 16) != 0;
    static const uint8_t bcast[4] = {255, 255, 255, 255};
    return (addr[0] & 0xf0) != 0xe0 && memcmp(addr, bcast, 4) != 0 && memcmp(addr, zero, 4) != 0;
}

int session_list_build(session_list *out, const conntab_record *const *recs, size_t n,
                       const session_config *cfg, const int64_t *starts, size_t n_starts,
                       char *errbuf)
{
    memset(out, 0, sizeof(*out));
    int rc = session_config_check(cfg, errbuf);
    if (rc)
        return rc;
    member *mem = n ? malloc(2 * n * sizeof(*mem)) : NULL;
    if (n && !mem)
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    size_t nm = 0;
    int64_t t0 = INT64_MAX;
    for (size_t i = 0; i < n; i++)
        t0 = recs[i]->start_us < t0 ? recs[i]->start_us : t0;
    if (n_starts == 0 || !starts) { /* one capture, begun at its earliest record */
        starts = &t0;
        n_starts = 1;
    }
    for (size_t i = 0; i < n; i++) {
        const conntab_record *r = recs[i];
        if (session_partial_at_start(r, starts, n_starts))
            continue;
        int al = addr_len(r->family);
        for (int side = 0; side < 2; side++) {
            const uint8_t *h = side == 0 ? r->orig_h : r->resp_h;
            if (side == 1 && !memcmp(r->orig_h, r->resp_h, (size_t)al))
                break; /* a host talking to itself: one member */
            if (!session_is_host(r->family, h))
                continue;
            member *m = &mem[nm++];
            memset(m->host, 0, 16);
            memcpy(m->host, h, (size_t)al);
            m->family = r->family;
            m->outbound = side == 0;
            m->start_us = r->start_us;
            m->serial = r->serial;
            m->rec = i;
        }
    }
    if (nm)
        qsort(mem, nm, sizeof(*mem), cmp_member);
    session_span *spans = nm ? malloc(nm * sizeof(*spans)) : NULL;
    size_t *conn = nm ? malloc(nm * sizeof(*conn)) : NULL;
    uint8_t *outb = nm ? malloc(nm) : NULL;
    if (nm && (!spans || !conn || !outb)) {
        free(mem);
        free(spans);
        free(conn);
        free(outb);
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    }
    size_t ns = 0;
    for (size_t k = 0; k < nm; k++) {
        const member *m = &mem[k];
        const conntab_record *r = recs[m->rec];
        session_span *cur = ns ? &spans[ns - 1] : NULL;
        /* idle time: from the end of the session's latest connection (0 if one is open) */
        int join = cur && !cmp_host(cur->family, cur->host, m->family, m->host) &&
                   m->start_us - cur->end_us < cfg->gap_us && cur->n < cfg->max_conns;
        if (!join) {
            cur = &spans[ns++];
            cur->family = m->family;
            memcpy(cur->host, m->host, 16);
            cur->start_us = r->start_us;
            cur->end_us = r->end_us;
            cur->first = k;
            cur->n = 0;
        }
        cur->n++;
        if (r->end_us > cur->end_us)
            cur->end_us = r->end_us;
    }
    if (ns)
        qsort(spans, ns, sizeof(*spans), cmp_span);
    size_t w = 0;
    for (size_t s = 0; s < ns; s++) {
        size_t f = spans[s].first;
        spans[s].first = w;
        for (int j = 0; j < spans[s].n; j++, w++) {
            conn[w] = mem[f + (size_t)j].rec;
            outb[w] = mem[f + (size_t)j].outbound;
        }
    }
    free(mem);
    out->spans = spans;
    out->n_spans = ns;
    out->conn = conn;
    out->outbound = outb;
    out->n_members = nm;
    return SS_OK;
}

void session_list_free(session_list *l)
{
    if (!l)
        return;
    free(l->spans);
    free(l->conn);
    free(l->outbound);
    memset(l, 0, sizeof(*l));
}

void session_host_string(uint8_t family, const uint8_t *host, char *buf, size_t n)
{
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, host, buf, (socklen_t)n) && n)
        snprintf(buf, n, "?");
}

/* ---- tokens ---- */

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
    int c = cmp_host(x->family, x->host, y->family, y->host);
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
        prev[order[i]] = i && !cmp_host(a->family, a->host, l->spans[order[i - 1]].family,
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
        memcpy(sp->host, outbound[k] ? r0->orig_h : r0->resp_h, (size_t)addr_len(r0->family));
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

/* ---- network ---- */

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

static void softmax_rows(float *p, const float *logits, size_t N, int C)
{
    for (size_t n = 0; n < N; n++) {
        const float *l = logits + n * (size_t)C;
        float *q = p + n * (size_t)C;
        float mx = l[0];
        for (int c = 1; c < C; c++)
            mx = l[c] > mx ? l[c] : mx;
        float sum = 0.0f;
        for (int c = 0; c < C; c++) {
            q[c] = expf(l[c] - mx);
            sum += q[c];
        }
        for (int c = 0; c < C; c++)
            q[c] /= sum;
    }
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

/* Mean -log p of the target of each row with a target >= 0; *count rows. */
/* Cross-entropy against the target smoothed by eps: (1 - eps) on it, eps / C on
 * every class. */
static double nll(const float *p, const int *tgt, size_t N, int C, float eps, size_t *count)
{
    double s = 0.0;
    size_t c = 0;
    for (size_t n = 0; n < N; n++)
        if (tgt[n] >= 0 && tgt[n] < C) {
            const float *row = p + n * (size_t)C;
            float q = row[tgt[n]];
            s -= (1.0 - eps) * log(q > 1e-30f ? q : 1e-30f);
            if (eps > 0.0f) {
                double all = 0.0;
                for (int k = 0; k < C; k++)
                    all += log(row[k] > 1e-30f ? row[k] : 1e-30f);
                s -= eps / C * all;
            }
            c++;
        }
    *count = c;
    return c ? s / (double)c : 0.0;
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
    softmax_rows(acts + L.ps, acts + L.ls, N, c->n_states);
    softmax_rows(acts + L.pz, acts + L.lz, N, c->n_sizes);
    if (loss && state_tgt && size_tgt) {
        size_t cs, cz;
        *loss = (float)(nll(acts + L.ps, state_tgt, N, c->n_states, net->smoothing, &cs) +
                        nll(acts + L.pz, size_tgt, N, c->n_sizes, net->smoothing, &cz));
    }
    return SS_OK;
}

void session_net_probs(const float **p_state, const float **p_size, const float *acts,
                       const session_net *net, int B, int T)
{
    net_layout L = acts_layout(net, B, T);
    *p_state = acts + L.ps;
    *p_size = acts + L.pz;
}

/* dlogits = (p - onehot(target)) / count for rows with a target, else 0. */
static void ce_grad(float *dl, const float *p, const int *tgt, size_t N, int C, float eps)
{
    size_t cnt = 0;
    for (size_t n = 0; n < N; n++)
        cnt += tgt[n] >= 0 && tgt[n] < C;
    float inv = cnt ? 1.0f / (float)cnt : 0.0f;
    for (size_t n = 0; n < N; n++) {
        float *d = dl + n * (size_t)C;
        const float *q = p + n * (size_t)C;
        if (tgt[n] < 0 || tgt[n] >= C) {
            memset(d, 0, (size_t)C * sizeof(float));
            continue;
        }
        for (int k = 0; k < C; k++)
            d[k] = (q[k] - eps / (float)C) * inv;
        d[tgt[n]] -= (1.0f - eps) * inv;
    }
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
    ce_grad(dls, acts + L.ps, state_tgt, N, c->n_states, net->smoothing);
    ce_grad(dlz, acts + L.pz, size_tgt, N, c->n_sizes, net->smoothing);
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

#define SCORE_BATCH 64

static double row_entropy(const float *p, int C)
{
    double h = 0.0;
    for (int c = 0; c < C; c++)
        if (p[c] > 0.0f)
            h -= (double)p[c] * log((double)p[c]);
    return h;
}

int session_key_size_implied(uint32_t key)
{
    uint32_t outcome = key >> 22 & 3, pc = key >> 24; /* layout: session_state_key */
    return pc == 0 &&
           (outcome == SESSION_OUTCOME_REJECTED || outcome == SESSION_OUTCOME_UNANSWERED);
}

int session_model_likelihoods(double *lik, double *ent, const session_model *m, int method,
                              const session_data *d, char *errbuf)
{
    const session_list *sl = &d->list;
    if (method == SESSION_METHOD_MARKOV) {
        if (!m->markov)
            return ss_errf(errbuf, SS_ERR_ARG, "session model has no Markov chain");
        for (size_t s = 0; s < sl->n_spans; s++) {
            const session_span *sp = &sl->spans[s];
            markov_score(m->markov, d->state + sp->first, sp->n, lik + sp->first);
            for (int t = 0; t < sp->n; t++) {
                size_t k = sp->first + (size_t)t;
                lik[k] = session_vocab_state_prob(&m->vocab, d->state[k], lik[k]);
            }
            for (int t = 0; ent && t < sp->n; t++)
                ent[sp->first + (size_t)t] =
                    markov_entropy(m->markov, t ? d->state[sp->first + (size_t)t - 1] : -1);
        }
        return SS_OK;
    }
    if (method != SESSION_METHOD_BILSTM && method != SESSION_METHOD_LSTM1)
        return ss_errf(errbuf, SS_ERR_ARG, "unknown scoring method %d", method);
    const session_net *net = m->net[method];
    if (!net)
        return ss_errf(errbuf, SS_ERR_ARG, "session model has no %s network",
                       session_method_to_string(method));
    int In = net->cfg.input_size;
    if (In != d->input_size)
        return ss_errf(errbuf, SS_ERR_SHAPE, "session data has %d inputs, the model %d",
                       d->input_size, In);
    int T = 1;
    for (size_t s = 0; s < sl->n_spans; s++)
        T = sl->spans[s].n > T ? sl->spans[s].n : T;
    int B = SCORE_BATCH;
    float *acts = malloc(session_net_acts_size(net, B, T) * sizeof(float));
    float *x = malloc((size_t)B * T * In * sizeof(float));
    int lengths[SCORE_BATCH];
    if (!acts || !x) {
        free(acts);
        free(x);
        return ss_errf(errbuf, SS_ERR_NOMEM, "scoring: out of memory");
    }
    int rc = SS_OK;
    for (size_t s0 = 0; s0 < sl->n_spans && !rc; s0 += (size_t)B) {
        int nb = (int)(sl->n_spans - s0 < (size_t)B ? sl->n_spans - s0 : (size_t)B);
        memset(x, 0, (size_t)nb * T * In * sizeof(float));
        for (int b = 0; b < nb; b++) {
            const session_span *sp = &sl->spans[s0 + (size_t)b];
            lengths[b] = sp->n;
            memcpy(x + (size_t)b * T * In, d->x + sp->first * (size_t)In,
                   (size_t)sp->n * In * sizeof(float));
        }
        if ((rc = session_net_forward(NULL, acts, x, lengths, NULL, NULL, net, nb, T, errbuf)))
            break;
        const float *ps, *pz;
        session_net_probs(&ps, &pz, acts, net, nb, T);
        for (int b = 0; b < nb; b++) {
            const session_span *sp = &sl->spans[s0 + (size_t)b];
            for (int t = 0; t < sp->n; t++) {
                size_t k = sp->first + (size_t)t, row = (size_t)b * T + t;
                const float *rs = ps + row * net->cfg.n_states, *rz = pz + row * net->cfg.n_sizes;
                double p_st = session_vocab_state_prob(&m->vocab, d->state[k], rs[d->state[k]]);
                double p_sz = rz[d->size[k]] * exp(-(double)d->tail[k]);
                /* no payload: both heads judge one event, the less likely one counts */
                lik[k] = session_key_size_implied(d->key[k]) ? fmin(p_st, p_sz)
                                                             : sqrt(p_st * p_sz);
                if (ent)
                    ent[k] = 0.5 * (row_entropy(rs, net->cfg.n_states) +
                                    row_entropy(rz, net->cfg.n_sizes));
            }
        }
    }
    free(acts);
    free(x);
    return rc;
}

int session_length_class(int n)
{
    return n <= 1 ? 0 : n <= 5 ? 1 : 2;
}

double session_model_threshold(const session_model *m, int method, uint8_t family,
                               const uint8_t *host, int n)
{
    const session_thresholds *t = &m->thr[method];
    int lc = session_length_class(n);
    size_t lo = 0, hi = t->n_hosts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_host(t->hosts[mid].family, t->hosts[mid].host, family, host);
        if (!c) { /* a host's own threshold can raise the global one, not lower it,
                     and raise it by host_factor at most */
            double h = t->hosts[mid].threshold[lc], g = t->global[lc];
            if (m->host_factor > 0.0 && h > m->host_factor * g)
                h = m->host_factor * g;
            return isnan(h) || h < g ? g : h;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return t->global[lc];
}

void session_model_results(session_result *res, const session_model *m, int method,
                           const session_data *d, const double *lik)
{
    int k = m->score_top < SESSION_SCORE_TOP_MAX ? m->score_top : SESSION_SCORE_TOP_MAX;
    for (size_t s = 0; s < d->list.n_spans; s++) {
        const session_span *sp = &d->list.spans[s];
        double sum = 0.0, least = 2.0, top[SESSION_SCORE_TOP_MAX]; /* descending */
        int li = 0, nt = 0;
        for (int t = 0; t < sp->n; t++) {
            double l = lik[sp->first + (size_t)t];
            double x = -log(l > SESSION_MIN_LIKELIHOOD ? l : SESSION_MIN_LIKELIHOOD);
            sum += x;
            if (l < least) {
                least = l;
                li = t;
            }
            if (k > 0 && (nt < k || x > top[k - 1])) { /* insert into the k largest */
                int j = nt < k ? nt++ : k - 1;
                for (; j > 0 && top[j - 1] < x; j--)
                    top[j] = top[j - 1];
                top[j] = x;
            }
        }
        res[s].score = sum / sqrt((double)sp->n);
        if (m->score_rule == SESSION_SCORE_MEAN_LIK) {
            double mean = 0.0;
            for (int t = 0; t < sp->n; t++)
                mean += lik[sp->first + (size_t)t];
            res[s].score = 1.0 - mean / (double)sp->n;
        } else if (k > 0 && sp->n > k) { /* the burst part: the k most surprising connections */
            double burst = 0.0;
            for (int j = 0; j < k; j++)
                burst += top[j];
            burst /= sqrt((double)k);
            if (burst > res[s].score)
                res[s].score = burst;
        }
        res[s].threshold = session_model_threshold(m, method, sp->family, sp->host, sp->n);
        res[s].flagged = res[s].score > res[s].threshold + SESSION_THRESHOLD_SLACK;
        res[s].least = li;
        res[s].least_lik = least;
    }
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
            return ss_errf(errbuf, SS_ERR_FORMAT, "session model: %s is not a number", k);
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
        if (h && cmp_host(t->hosts[h - 1].family, t->hosts[h - 1].host, ht->family,
                          ht->host) >= 0)
            return ss_errf(errbuf, SS_ERR_FORMAT, "session model: hosts of %s not sorted", k);
    }
    return SS_OK;
}

int session_model_from_file(session_model **out, const modelfile_t *mf, uint64_t id,
                            char *errbuf)
{
    *out = NULL;
    int rc = modelfile_expect_kind(mf, SESSION_MODEL_KIND, errbuf);
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
    if ((rule = session_score_rule_from_string(rule_s)) < 0)
        return ss_errf(errbuf, SS_ERR_FORMAT, "session model: unknown score_rule '%.32s'",
                       rule_s);
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

int session_model_load_buffer(session_model **out, const void *buf, size_t len, char *errbuf)
{
    *out = NULL;
    modelfile_t *mf;
    int rc = modelfile_load_buffer(&mf, buf, len, errbuf);
    if (rc)
        return rc;
    rc = session_model_from_file(out, mf, modelfile_fnv1a64(buf, len), errbuf);
    modelfile_destroy(mf);
    return rc;
}

int session_model_load(session_model **out, const char *path, char *errbuf)
{
    *out = NULL;
    unsigned char *buf;
    size_t len;
    int rc = modelfile_read_file(path, (size_t)1 << 30, &buf, &len, errbuf);
    if (rc)
        return rc;
    char e[SS_ERRBUF_SIZE];
    rc = session_model_load_buffer(out, buf, len, e);
    if (rc)
        ss_errf(errbuf, rc, "%s: %s", path, e);
    free(buf);
    return rc;
}

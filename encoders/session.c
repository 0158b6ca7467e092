/* session.c - host sessions of connections (see session.h). */
#include "session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

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

int session_addr_len(uint8_t family)
{
    return family == 6 ? 16 : 4;
}

int session_host_cmp(uint8_t fa, const uint8_t *ha, uint8_t fb, const uint8_t *hb)
{
    if (fa != fb)
        return fa < fb ? -1 : 1;
    return memcmp(ha, hb, 16);
}

static int cmp_member(const void *pa, const void *pb)
{
    const member *a = pa, *b = pb;
    int c = session_host_cmp(a->family, a->host, b->family, b->host);
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
    int c = session_host_cmp(a->family, a->host, b->family, b->host);
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
        int al = session_addr_len(r->family);
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
        int join = cur && !session_host_cmp(cur->family, cur->host, m->family, m->host) &&
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

/* sessionfeed.c - host sessions while the capture is read; see sessionfeed.h. */
#include "sessionfeed.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "connset.h"
#include "growbuf.h"
#include "hash.h"
#include "packet.h"
#include "ptrmap.h"
#include "sessvocab.h"
#include "status.h"

typedef struct fhost fhost;

/* A connection, shared by the sessions of its two hosts. */
typedef struct mrec {
    conntab_record rec;   /* latest record; final once closed (pkts: own copy) */
    conntab_pkt *pkts;    /* owned copy of the final record's packets */
    int closed;
    int handshake;        /* bit 0: SYN from the originator, bit 1: SYN-ACK back */
    int refs;             /* host lists holding it, + 1 while open */
    fhost *hosts[2];      /* the hosts whose lists hold it (or NULL) */
} mrec;

typedef struct sess {
    mrec **m;
    uint32_t n;
} sess;

struct fhost {
    uint64_t hash;
    uint8_t family;
    uint8_t addr[16];
    mrec **cur;           /* the current session's members */
    uint32_t n_cur;
    size_t cap_cur;
    mrec **und;           /* members not yet placed, in start order: und[head..n) */
    uint32_t und_head, n_und;
    size_t cap_und;
    sess *sealed;         /* complete in membership, waiting for members to end */
    uint32_t n_sealed;
    size_t cap_sealed;
    sess *hist;           /* sessions handed on that later keys may still read,
                             in start order */
    uint32_t n_hist;
    size_t cap_hist;
    int idle;             /* on the idle list: everything ended, waiting for the gap */
};


struct sessionfeed {
    session_config cfg;
    sessionfeed_emit_fn emit;
    void *ctx;
    ptrmap recs;            /* open connections by serial */
    ptrmap hosts;
    fhost **idle;
    size_t n_idle, cap_idle;
    int have_t0;
    int64_t t0, now, last_sweep;
    int64_t *starts;        /* beginnings of the input captures, ascending
                               (sessionfeed_set_starts); none: t0 alone */
    size_t n_starts;
    const conntab_record **e_recs;
    uint8_t *e_out;
    sessionfeed_session *e_hist;
    sessionfeed_stats st;
};

/* ---- small helpers ------------------------------------------------------ */

static int addr_len(uint8_t family)
{
    return family == 6 ? 16 : 4;
}



static int rec_eq(const void *val, const void *key)
{
    return ((const mrec *)val)->rec.serial == *(const uint64_t *)key;
}

static uint64_t serial_hash(uint64_t serial)
{
    return hash_mix64(serial + 0x9e3779b97f4a7c15ULL);
}

typedef struct host_key {
    uint8_t family;
    const uint8_t *addr;
} host_key;

static int host_eq(const void *val, const void *key)
{
    const fhost *h = val;
    const host_key *k = key;
    return h->family == k->family && !memcmp(h->addr, k->addr, 16);
}

static uint64_t host_hash(uint8_t family, const uint8_t *addr16)
{
    static const uint8_t zero[16];
    return hash_mix64(hash_addrs(family, addr16, zero));
}

/* ---- records ------------------------------------------------------------ */

static void mrec_unref(sessionfeed *f, mrec *r)
{
    if (--r->refs > 0)
        return;
    free(r->pkts);
    free(r);
    f->st.held--;
}

/* 1 when r is certainly not left out as under way at the capture's start
 * (session_partial_at_start), 0 when it certainly is, -1 while unknown. */
static int mrec_counts(const sessionfeed *f, const mrec *r)
{
    const int64_t *st = f->n_starts ? f->starts : &f->t0;
    size_t ns = f->n_starts ? f->n_starts : 1;
    if (r->rec.proto != IPPROTO_TCP || !session_near_start(r->rec.start_us, st, ns))
        return 1;
    if (r->closed)
        return !session_partial_at_start(&r->rec, st, ns);
    /* a handshake seen excludes OTH, SH, SHR and RSTRH */
    return r->handshake == 3 ? 1 : -1;
}

static int64_t mrec_end(const mrec *r)
{
    return r->rec.end_us; /* final once closed; the latest packet so far before */
}

/* ---- hosts -------------------------------------------------------------- */

static fhost *host_get(sessionfeed *f, uint8_t family, const uint8_t *addr)
{
    uint8_t a[16] = {0};
    memcpy(a, addr, (size_t)addr_len(family));
    host_key k = {family, a};
    uint64_t h = host_hash(family, a);
    size_t j = ptrmap_find(&f->hosts, h, host_eq, &k);
    if (f->hosts.val[j])
        return f->hosts.val[j];
    fhost *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->hash = h;
    x->family = family;
    memcpy(x->addr, a, 16);
    if (ptrmap_put(&f->hosts, h, x) < 0) {
        free(x);
        return NULL;
    }
    return x;
}

static void host_release(fhost *h)
{
    free(h->cur);
    free(h->und);
    for (uint32_t i = 0; i < h->n_sealed; i++)
        free(h->sealed[i].m);
    free(h->sealed);
    for (uint32_t i = 0; i < h->n_hist; i++)
        free(h->hist[i].m);
    free(h->hist);
    free(h);
}

static void host_maybe_free(sessionfeed *f, fhost *h)
{
    if (h->n_cur || h->und_head < h->n_und || h->n_sealed || h->n_hist || h->idle)
        return;
    host_key k = {h->family, h->addr};
    size_t j = ptrmap_find(&f->hosts, h->hash, host_eq, &k);
    if (f->hosts.val[j] == h)
        ptrmap_del(&f->hosts, j);
    host_release(h);
}

static int member_cmp(const void *pa, const void *pb)
{
    const conntab_record *a = &(*(mrec *const *)pa)->rec, *b = &(*(mrec *const *)pb)->rec;
    if (a->start_us != b->start_us)
        return a->start_us < b->start_us ? -1 : 1;
    return (a->serial > b->serial) - (a->serial < b->serial);
}

/* Moves the current session to the sealed list (members in start order). */
static int host_seal(fhost *h)
{
    if (h->n_cur == 0)
        return 0;
    if (growbuf_reserve((void **)&h->sealed, &h->cap_sealed, (size_t)h->n_sealed + 1, sizeof(*h->sealed)) < 0)
        return -1;
    sess *s = &h->sealed[h->n_sealed++];
    s->m = h->cur;
    s->n = h->n_cur;
    qsort(s->m, s->n, sizeof(*s->m), member_cmp);
    h->cur = NULL;
    h->n_cur = h->cap_cur = 0;
    return 0;
}

static int cur_push(fhost *h, mrec *r)
{
    if (growbuf_reserve((void **)&h->cur, &h->cap_cur, (size_t)h->n_cur + 1, sizeof(*h->cur)) < 0)
        return -1;
    h->cur[h->n_cur++] = r;
    return 0;
}


/* Start of a session's first and last members (members in start order). */
static int64_t sess_first(const sess *s)
{
    return s->m[0]->rec.start_us;
}

static int64_t sess_last(const sess *s)
{
    return s->m[s->n - 1]->rec.start_us;
}

/* 1 when e (handed on) can feed the keys of a session u not handed on yet
 * whose first member starts at u_first: the keys of a connection count the
 * host's connections of earlier sessions that started in the
 * SESSION_HISTORY_US before it (session_list_keys; an earlier session whose
 * members all started before that contributes nothing and cannot hide one
 * that does, since a host's sessions partition its connections in start
 * order). */
static int hist_feeds(const sess *e, int64_t u_first)
{
    return sess_first(e) < u_first && sess_last(e) >= u_first - SESSION_HISTORY_US;
}

/* Keeps only the history some session can still read: one not handed on
 * yet (sealed, current or not placed), or one starting from now on. */
static void hist_keep(sessionfeed *f, fhost *h, int final)
{
    uint32_t keep = 0;
    for (uint32_t i = 0; i < h->n_hist; i++) {
        sess *e = &h->hist[i];
        int need = 0;
        if (!final) {
            need = sess_last(e) >= f->now - SESSION_HISTORY_US;
            for (uint32_t k = 0; k < h->n_sealed && !need; k++)
                need = hist_feeds(e, sess_first(&h->sealed[k]));
            if (!need && h->n_cur)
                need = hist_feeds(e, h->cur[0]->rec.start_us);
            if (!need && h->und_head < h->n_und)
                need = hist_feeds(e, h->und[h->und_head]->rec.start_us);
        }
        if (need) {
            h->hist[keep++] = *e;
            continue;
        }
        for (uint32_t j = 0; j < e->n; j++)
            mrec_unref(f, e->m[j]);
        free(e->m);
    }
    h->n_hist = keep;
}

/* Fills a callback view of s (arrays from *at on in f's scratch). */
static void view_of(sessionfeed *f, const fhost *h, const sess *s, size_t at,
                    sessionfeed_session *out)
{
    int al = addr_len(h->family);
    for (uint32_t i = 0; i < s->n; i++) {
        f->e_recs[at + i] = &s->m[i]->rec;
        f->e_out[at + i] = !memcmp(s->m[i]->rec.orig_h, h->addr, (size_t)al);
    }
    out->family = h->family;
    out->host = h->addr;
    out->n = s->n;
    out->recs = f->e_recs + at;
    out->outbound = f->e_out + at;
}

static int sess_ptr_cmp(const void *pa, const void *pb)
{
    int64_t a = sess_first(*(sess *const *)pa), b = sess_first(*(sess *const *)pb);
    return (a > b) - (a < b);
}

/* Hands s on with the history its keys read (handed-on sessions and the
 * earlier sessions still waiting, waiting[0..n_waiting), that feed it), then
 * files it into the history (in start order). */
static int emit_session(sessionfeed *f, fhost *h, sess *s, const sess *waiting,
                        uint32_t n_waiting, char *errbuf)
{
    int64_t first = sess_first(s);
    size_t total = s->n, nv = 0;
    /* room for s in the history first: src points into it */
    if (growbuf_reserve((void **)&h->hist, &h->cap_hist, (size_t)h->n_hist + 1, sizeof(*h->hist)) < 0)
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    const sess **src = malloc(((size_t)h->n_hist + n_waiting + 1) * sizeof(*src));
    if (!src)
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    for (uint32_t i = 0; i < h->n_hist; i++)
        if (hist_feeds(&h->hist[i], first))
            src[nv++] = &h->hist[i];
    for (uint32_t i = 0; i < n_waiting; i++)
        if (hist_feeds(&waiting[i], first))
            src[nv++] = &waiting[i];
    qsort(src, nv, sizeof(*src), sess_ptr_cmp);
    for (size_t i = 0; i < nv; i++)
        total += src[i]->n;
    const conntab_record **recs = realloc(f->e_recs, total * sizeof(*recs));
    if (recs)
        f->e_recs = recs;
    uint8_t *out = realloc(f->e_out, total);
    if (out)
        f->e_out = out;
    sessionfeed_session *views = realloc(f->e_hist, (nv + 1) * sizeof(*views));
    if (views)
        f->e_hist = views;
    if (!recs || !out || !views) {
        free(src);
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    }
    size_t at = 0;
    for (size_t i = 0; i < nv; i++) {
        view_of(f, h, src[i], at, &views[i]);
        at += src[i]->n;
    }
    free(src);
    sessionfeed_session fs;
    view_of(f, h, s, at, &fs);
    f->st.sessions++;
    int rc = f->emit ? f->emit(f->ctx, &fs, views, nv, errbuf) : SS_OK;
    /* the session becomes history (its members stay held) */
    uint32_t pos = h->n_hist;
    while (pos > 0 && sess_first(&h->hist[pos - 1]) > first)
        pos--;
    memmove(h->hist + pos + 1, h->hist + pos, (h->n_hist - pos) * sizeof(*h->hist));
    h->hist[pos] = *s;
    h->n_hist++;
    s->m = NULL;
    s->n = 0;
    return rc;
}

static int idle_add(sessionfeed *f, fhost *h)
{
    if (h->idle)
        return 0;
    if (growbuf_reserve((void **)&f->idle, &f->cap_idle, f->n_idle + 1, sizeof(*f->idle)) < 0)
        return -1;
    f->idle[f->n_idle++] = h;
    h->idle = 1;
    return 0;
}

/* Places what can be placed, seals and emits what is complete. final: the
 * input has ended (nothing can join any more). */
static int host_step(sessionfeed *f, fhost *h, int final, char *errbuf)
{
    const session_config *cfg = &f->cfg;
    while (h->und_head < h->n_und) {
        mrec *r = h->und[h->und_head];
        int counts = mrec_counts(f, r);
        if (counts < 0)
            break;
        if (counts == 0) { /* under way when the capture began: left out */
            h->und_head++;
            mrec_unref(f, r);
            continue;
        }
        int join = 0, wait = 0;
        if (h->n_cur > 0 && h->n_cur < (uint32_t)cfg->max_conns) {
            int64_t end = INT64_MIN;
            int open = 0;
            for (uint32_t i = 0; i < h->n_cur; i++) {
                int64_t e = mrec_end(h->cur[i]);
                end = e > end ? e : end;
                open |= !h->cur[i]->closed;
            }
            if (r->rec.start_us - end < cfg->gap_us)
                join = 1; /* ends only grow: certain */
            else if (open)
                wait = 1; /* an open member may still end later */
        }
        if (wait)
            break;
        if (!join && host_seal(h) < 0)
            goto nomem;
        if (cur_push(h, r) < 0)
            goto nomem;
        h->und_head++;
    }
    if (h->und_head == h->n_und) {
        h->und_head = h->n_und = 0;
        /* nothing waits to join: the current session is complete once all its
         * members ended and the gap has passed */
        if (h->n_cur > 0) {
            int64_t end = INT64_MIN;
            int open = 0;
            for (uint32_t i = 0; i < h->n_cur; i++) {
                end = mrec_end(h->cur[i]) > end ? mrec_end(h->cur[i]) : end;
                open |= !h->cur[i]->closed;
            }
            if (!open && (final || f->now - end >= cfg->gap_us)) {
                if (host_seal(h) < 0)
                    goto nomem;
            } else if (!open && idle_add(f, h) < 0) {
                goto nomem;
            }
        }
    } else if (h->und_head > 64 && h->und_head * 2 > h->n_und) {
        memmove(h->und, h->und + h->und_head, (h->n_und - h->und_head) * sizeof(*h->und));
        h->n_und -= h->und_head;
        h->und_head = 0;
    }
    /* sealed sessions whose members all ended. A session waits for an
     * earlier one still open only while that one has an open connection
     * that started in the SESSION_HISTORY_US before it (its keys would read
     * that connection's final state); the earlier one's ended connections
     * are read as they are. */
    uint32_t keep = 0;
    for (uint32_t i = 0; i < h->n_sealed; i++) {
        sess *s = &h->sealed[i];
        int ready = 1;
        for (uint32_t k = 0; k < s->n && ready; k++)
            ready = s->m[k]->closed;
        for (uint32_t j = 0; j < keep && ready; j++) { /* the earlier ones still waiting */
            const sess *w = &h->sealed[j];
            for (uint32_t k = 0; k < w->n && ready; k++)
                ready = w->m[k]->closed ||
                        w->m[k]->rec.start_us < sess_first(s) - SESSION_HISTORY_US;
        }
        if (!ready) {
            h->sealed[keep++] = *s;
            continue;
        }
        f->st.early += keep > 0;
        int rc = emit_session(f, h, s, h->sealed, keep, errbuf);
        if (rc < 0) {
            for (uint32_t j = i + 1; j < h->n_sealed; j++)
                h->sealed[keep++] = h->sealed[j];
            h->n_sealed = keep;
            return rc;
        }
    }
    h->n_sealed = keep;
    hist_keep(f, h, final && !keep && !h->n_cur && h->und_head == h->n_und);
    if (h->n_hist && !final && idle_add(f, h) < 0)
        goto nomem;
    return SS_OK;
nomem:
    return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
}

/* host_step, then frees the host if nothing is left in it. */
static int host_settle(sessionfeed *f, fhost *h, char *errbuf)
{
    int rc = host_step(f, h, 0, errbuf);
    if (rc == 0)
        host_maybe_free(f, h);
    return rc;
}

/* Every second of capture time: the idle hosts whose gap has passed. */
static int sweep(sessionfeed *f, char *errbuf)
{
    size_t n = f->n_idle, keep = 0;
    for (size_t i = 0; i < n; i++) {
        fhost *h = f->idle[i];
        h->idle = 0;
        int rc = host_step(f, h, 0, errbuf);
        if (rc < 0)
            return rc;
        if (h->idle) /* still waiting (host_step listed it again, past n) */
            f->idle[keep++] = h;
        else
            host_maybe_free(f, h);
    }
    f->n_idle = keep; /* drops the copies host_step appended */
    return SS_OK;
}

/* ---- public ------------------------------------------------------------- */

int sessionfeed_create(sessionfeed **out, const session_config *cfg, sessionfeed_emit_fn emit,
                       void *ctx, char *errbuf)
{
    *out = NULL;
    int rc = session_config_check(cfg, errbuf);
    if (rc)
        return rc;
    sessionfeed *f = calloc(1, sizeof(*f));
    if (!f)
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    f->cfg = *cfg;
    f->emit = emit;
    f->ctx = ctx;
    if (ptrmap_init(&f->recs, 1024) < 0 || ptrmap_init(&f->hosts, 1024) < 0) {
        sessionfeed_destroy(f);
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    }
    *out = f;
    return SS_OK;
}

int sessionfeed_set_starts(sessionfeed *f, const int64_t *starts, size_t n, char *errbuf)
{
    if (f->have_t0)
        return ss_errf(errbuf, SS_ERR_ARG, "sessions: input beginnings set after the first packet");
    int64_t *c = n ? malloc(n * sizeof(*c)) : NULL;
    if (n && !c)
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    if (n)
        memcpy(c, starts, n * sizeof(*c));
    session_starts_sort(c, n);
    free(f->starts);
    f->starts = c;
    f->n_starts = n;
    return SS_OK;
}

static int add_member(sessionfeed *f, mrec *r, int side, char *errbuf)
{
    const uint8_t *a = side == 0 ? r->rec.orig_h : r->rec.resp_h;
    fhost *h = host_get(f, r->rec.family, a);
    if (!h || growbuf_reserve((void **)&h->und, &h->cap_und, (size_t)h->n_und + 1, sizeof(*h->und)) < 0)
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    h->und[h->n_und++] = r;
    r->refs++;
    r->hosts[side] = h;
    return host_step(f, h, 0, errbuf);
}

int sessionfeed_watch(void *ctx, const conntab_record *rec, const conntab_pkt *pkt, int created,
                      char *errbuf)
{
    sessionfeed *f = ctx;
    int64_t t = rec->start_us + pkt->dt_us;
    if (!f->have_t0) {
        f->have_t0 = 1;
        f->t0 = rec->start_us;
        f->now = t;
        f->last_sweep = t;
    }
    if (t > f->now)
        f->now = t;
    int rc;
    if (f->now - f->last_sweep >= 1000000) {
        f->last_sweep = f->now;
        if ((rc = sweep(f, errbuf)) < 0)
            return rc;
    }
    mrec *r;
    if (created) {
        r = calloc(1, sizeof(*r));
        if (!r || ptrmap_put(&f->recs, serial_hash(rec->serial), r) < 0) {
            free(r);
            return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
        }
        r->rec = *rec;
        r->rec.pkts = NULL;
        r->rec.n_pkts = 0;
        r->refs = 1; /* open */
        f->st.conns++;
        if (++f->st.held > f->st.peak_held)
            f->st.peak_held = f->st.held;
    } else {
        size_t j = ptrmap_find(&f->recs, serial_hash(rec->serial), rec_eq, &rec->serial);
        r = f->recs.val[j];
        if (!r)
            return SS_OK;
        r->rec.end_us = rec->end_us;
    }
    if (pkt->tcp_flags & PACKET_TCP_SYN)
        r->handshake |= pkt->dir == CONNTAB_DIR_ORIG && !(pkt->tcp_flags & PACKET_TCP_ACK) ? 1
                       : pkt->dir == CONNTAB_DIR_RESP && (pkt->tcp_flags & PACKET_TCP_ACK) ? 2
                                                                                           : 0;
    if (created) {
        if (session_is_host(rec->family, rec->orig_h) && (rc = add_member(f, r, 0, errbuf)) < 0)
            return rc;
        if (memcmp(rec->orig_h, rec->resp_h, (size_t)addr_len(rec->family)) &&
            session_is_host(rec->family, rec->resp_h) && (rc = add_member(f, r, 1, errbuf)) < 0)
            return rc;
        return SS_OK;
    }
    /* a later end or a handshake may settle a waiting placement */
    for (int side = 0; side < 2; side++) {
        fhost *h = r->hosts[side];
        if (h && h->und_head < h->n_und && (rc = host_settle(f, h, errbuf)) < 0)
            return rc;
    }
    return SS_OK;
}

int sessionfeed_conn_end(sessionfeed *f, const conntab_record *rec, char *errbuf)
{
    size_t j = ptrmap_find(&f->recs, serial_hash(rec->serial), rec_eq, &rec->serial);
    mrec *r = f->recs.val[j];
    if (!r)
        return SS_OK;
    ptrmap_del(&f->recs, j);
    if (rec->n_pkts) {
        r->pkts = malloc(rec->n_pkts * sizeof(*r->pkts));
        if (!r->pkts)
            return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory for packets");
        memcpy(r->pkts, rec->pkts, rec->n_pkts * sizeof(*r->pkts));
    }
    fhost *hs[2] = {r->hosts[0], r->hosts[1]};
    r->rec = *rec;
    r->rec.pkts = r->pkts;
    r->closed = 1;
    r->refs++; /* held through the steps below */
    mrec_unref(f, r); /* no longer open */
    int rc = SS_OK;
    for (int side = 0; side < 2 && rc == 0; side++)
        if (hs[side])
            rc = host_settle(f, hs[side], errbuf);
    mrec_unref(f, r);
    return rc;
}

int sessionfeed_finish(sessionfeed *f, char *errbuf)
{
    for (size_t i = 0; i < f->n_idle; i++)
        f->idle[i]->idle = 0;
    f->n_idle = 0;
    for (size_t i = 0; i < f->hosts.cap; i++) {
        fhost *h = f->hosts.val[i];
        if (!h)
            continue;
        int rc = host_step(f, h, 1, errbuf);
        if (rc < 0)
            return rc;
        if (h->und_head < h->n_und || h->n_cur || h->n_sealed || h->n_hist)
            return ss_errf(errbuf, SS_ERR_INTERNAL,
                           "sessions: a host still has open sessions at the end of input");
    }
    /* every host is empty now */
    for (size_t i = 0; i < f->hosts.cap; i++) {
        if (f->hosts.val[i]) {
            host_release(f->hosts.val[i]);
            f->hosts.val[i] = NULL;
        }
    }
    f->hosts.n = 0;
    return SS_OK;
}

/* conntab_emit_fn: ctx is the sessionfeed. */
static int read_emit(void *ctx, const conntab_record *rec, char *errbuf)
{
    return sessionfeed_conn_end(ctx, rec, errbuf);
}

int sessionfeed_read_files(sessionfeed *f, const char *const *paths, size_t n,
                           const conntab_config *tab, pcapsrc_warn_fn warn, void *warn_ctx,
                           char *errbuf)
{
    conntab_config tc;
    if (tab) {
        tc = *tab;
    } else {
        conntab_config_default(&tc);
        tc.max_pkts = CONNSET_SCORE_MAX_PKTS;
    }
    tc.watch = sessionfeed_watch;
    tc.watch_ctx = f;
    pcapsrc *src = NULL;
    conntab *t = NULL;
    int64_t *starts = malloc((n ? n : 1) * sizeof(*starts)), last;
    size_t ns = 0;
    int rc = starts ? pcapsrc_open(&src, paths, n, warn, warn_ctx, errbuf)
                    : ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    /* the merge holds each file's first frame from the open on */
    for (size_t i = 0; rc == 0 && i < n; i++)
        ns += pcapsrc_file_span(src, i, &starts[ns], &last);
    if (rc == 0)
        rc = sessionfeed_set_starts(f, starts, ns, errbuf);
    if (rc == 0)
        rc = conntab_create(&t, &tc, read_emit, f, errbuf);
    if (rc == 0)
        rc = conntab_read(t, src, errbuf);
    conntab_destroy(t);
    pcapsrc_close(src);
    free(starts);
    return rc < 0 ? rc : sessionfeed_finish(f, errbuf);
}

int sessionfeed_layout_make(sessionfeed_layout *l, const sessionfeed_session *s,
                            const sessionfeed_session *hist, size_t n_hist, char *errbuf)
{
    memset(l, 0, sizeof(*l));
    size_t total = s->n;
    for (size_t i = 0; i < n_hist; i++)
        total += hist[i].n;
    l->recs = malloc((total ? total : 1) * sizeof(*l->recs));
    l->outbound = malloc(total ? total : 1);
    l->span_n = malloc((n_hist + 1) * sizeof(*l->span_n));
    if (!l->recs || !l->outbound || !l->span_n) {
        sessionfeed_layout_free(l);
        return ss_errf(errbuf, SS_ERR_NOMEM, "sessions: out of memory");
    }
    for (size_t i = 0; i <= n_hist; i++) {
        const sessionfeed_session *x = i < n_hist ? &hist[i] : s;
        l->span_n[i] = x->n;
        for (size_t j = 0; j < x->n; j++, l->n++) {
            l->recs[l->n] = x->recs[j];
            l->outbound[l->n] = x->outbound[j];
        }
    }
    l->n_spans = n_hist + 1;
    return SS_OK;
}

void sessionfeed_layout_free(sessionfeed_layout *l)
{
    if (!l)
        return;
    free(l->recs);
    free(l->outbound);
    free(l->span_n);
    memset(l, 0, sizeof(*l));
}

void sessionfeed_get_stats(const sessionfeed *f, sessionfeed_stats *st)
{
    *st = f->st;
}

void sessionfeed_destroy(sessionfeed *f)
{
    if (!f)
        return;
    /* drop every host's references; records go when their last one does */
    for (size_t i = 0; i < f->hosts.cap; i++) {
        fhost *h = f->hosts.val ? f->hosts.val[i] : NULL;
        if (!h)
            continue;
        for (uint32_t k = 0; k < h->n_cur; k++)
            mrec_unref(f, h->cur[k]);
        for (uint32_t k = h->und_head; k < h->n_und; k++)
            mrec_unref(f, h->und[k]);
        for (uint32_t s = 0; s < h->n_sealed; s++)
            for (uint32_t k = 0; k < h->sealed[s].n; k++)
                mrec_unref(f, h->sealed[s].m[k]);
        for (uint32_t s = 0; s < h->n_hist; s++)
            for (uint32_t k = 0; k < h->hist[s].n; k++)
                mrec_unref(f, h->hist[s].m[k]);
        host_release(h);
    }
    for (size_t i = 0; i < f->recs.cap; i++) {
        mrec *r = f->recs.val ? f->recs.val[i] : NULL;
        if (r)
            mrec_unref(f, r); /* the open reference */
    }
    ptrmap_free(&f->recs);
    ptrmap_free(&f->hosts);
    free(f->idle);
    free(f->e_recs);
    free(f->e_out);
    free(f->e_hist);
    free(f->starts);
    free(f);
}

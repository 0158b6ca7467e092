/* correlator.c - the streaming relay-hop correlator; see correlator.h. */
#include "correlator.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "connlog.h"
#include "growbuf.h"
#include "hash.h"
#include "hopscore.h"
#include "packet.h"
#include "ptrmap.h"
#include "status.h"

/* Windows embedded per encoder call (64: the LSTM's fused step kernel covers
 * it and its activations stay small; 256 took 40 MB more and ran slower),
 * and how many grid strides a queued window may wait for the batch to fill
 * (it delays scoring by that much capture time). */
#define CORRELATOR_BATCH 64
#define CORRELATOR_MAX_WAIT 8

/* Hops scored together when several are handed on at once, and candidates
 * per step: a busy host's hops share most of their inbound legs, whose
 * window vectors then stay in cache across the block (at 6000 x 6000
 * candidate pairs, 2.3x faster than one hop after the other). */
#define CORRELATOR_EMIT_BLOCK 32
#define CORRELATOR_CAND_STEP 128

typedef struct obs obs;
typedef struct host host;

/* One candidate's evidence: windows with payload and their similarities' sum. */
typedef struct evid {
    double sum;
    int used;
} evid;

/* How often a pending hop's candidates name one window start g0: a
 * connection's references, counted by g0 (sorted), so the earliest window a
 * pending hop may still read is the first entry. */
typedef struct gref {
    int64_t g0;
    uint32_t n;
} gref;

/* What the correlator keeps of one TCP connection. */
typedef struct cstate {
    conntab_record rec;          /* latest record; pkts/n_pkts view the ring */
    conntab_pkt *ring;           /* packets of the open windows, in time order */
    uint32_t n_ring;
    size_t cap_ring;
    int64_t ring_g;              /* newest window the ring was counted for */
    uint32_t ring_count;         /* ring packets in that window */
    int64_t *wg;                 /* embedded windows: grid indices, ascending */
    int *wnd;                    /* their payload packet counts */
    float *wemb;                 /* their vectors, n_win x E */
    uint32_t n_win, cap_win;
    gref *refs;                  /* pending hops it is an inbound candidate of,
                                    counted by their first window */
    uint32_t n_refs;             /* entries of refs */
    size_t cap_refs;
    uint32_t n_cand_of;          /* pending hops it is a candidate of (the sum) */
    uint32_t id;                 /* its index in the correlator's slots */
    obs *own;                    /* its pending hop as an outbound leg */
    host *in_host;               /* host whose inbound list holds it */
    uint32_t in_pos;
    int closed;                  /* conntab emitted it */
    uint32_t n_buffered;         /* its windows waiting in the encoder batch */
    uint64_t need_round;         /* embed_needed round need_bits belong to */
    uint64_t need_bits;          /* windows need_hi - i already looked at in it */
    int unpaired;                /* no payload yet: in no role, no window embedded */
} cstate;

/* A candidate's state: pending; final (scored when its group is emitted, on
 * its first k windows); dropped; or final with its evidence frozen in the
 * hop's frz list (its inbound leg changed roles before the group was
 * emitted, and lost its window vectors). */
enum { CAND_PENDING = 0, CAND_FINAL, CAND_DROPPED, CAND_FROZEN };

/* One candidate inbound leg of a pending hop: 8 bytes. The score is not
 * kept: the windows it rests on stay held while the hop is pending, and
 * emit_group computes it. */
typedef struct cand {
    uint32_t id;   /* the leg: index into the correlator's slots */
    uint8_t state; /* CAND_* */
    uint8_t spare;
    uint16_t k;    /* CAND_FINAL: grid windows scored, from the hop's first */
} cand;

/* The evidence of a frozen candidate (cands[at]). */
typedef struct frozen {
    uint32_t at;
    int used;
    double sum;
} frozen;

/* A pending hop: an outbound connection and its candidate inbound legs. */
struct obs {
    cstate *o;
    host *h;         /* the relay: o's originator */
    uint32_t h_pos;  /* index in h->ob */
    size_t p_pos;    /* index in the correlator's pending list */
    int64_t g0;      /* first window: the one holding o's start */
    int capped;      /* candidates were left out (max_cands) */
    int64_t need_g;  /* embed_needed looked at the candidates' windows up to
                        need_g for cands[0..need_n), the outbound's up to own_g */
    uint32_t need_n;
    int64_t own_g;
    uint32_t n_closed;   /* resolve: pending candidates whose leg had closed */
    uint64_t seen_close; /* resolve: h->close_seq when it last looked */
    cand *cands;
    uint32_t n, n_pending;
    size_t cap;
    frozen *frz;     /* evidence of CAND_FROZEN candidates */
    uint32_t n_frz;
    size_t cap_frz;
};

struct host {
    uint64_t hash;
    uint8_t family;
    uint8_t addr[16];
    cstate **in;     /* open inbound connections (host is the responder) */
    uint32_t n_in;
    size_t cap_in;
    obs **ob;        /* pending hops of its outbound connections */
    uint32_t n_ob;
    size_t cap_ob;
    int warned;      /* the candidate limit was reported for it */
    uint64_t close_seq; /* inbound connections that closed (a candidate of
                           its pending hops may be decided) */
};


struct correlator {
    const encoder *enc;
    candidates_config cand;
    correlator_emit_fn emit;
    void *ctx;
    int64_t W, S;
    int K, cap_per_window, E;
    ptrmap conns, hosts;
    cstate **slots;  /* every connection state held, by id (NULL: free) */
    size_t n_slots, cap_slots;
    uint32_t *free_ids;
    size_t n_free, cap_free;
    size_t max_cands; /* candidates per pending hop (0: no limit) */
    pcapsrc_warn_fn warn;
    void *warn_ctx;
    cstate **pick;   /* scratch: the inbound legs a capped hop keeps */
    size_t cap_pick;
    obs **ready;     /* scratch: hops resolve hands on */
    size_t cap_ready;
    evid *ev;        /* scratch: their candidates' evidence */
    size_t cap_ev;
    obs **pending;
    size_t n_pending, cap_pending;
    int have_now;
    int late;        /* a hop started in a window already closed */
    int64_t now, g_done;
    /* scratch */
    struct need_ent *need;
    size_t n_need, cap_need;
    uint64_t need_round;
    int64_t need_hi;
    /* windows waiting to be embedded together (one encoder batch) */
    float *b_inp;    /* CORRELATOR_BATCH x T x C standardised inputs */
    int *b_len, *b_nd;
    cstate **b_cs;
    int64_t *b_g;
    float *b_emb, *b_acts;
    size_t b_n;
    int64_t b_since; /* g_done when the oldest waiting window was added */
    const conntab_record **g_in;
    double *g_score;
    size_t cap_g;
    correlator_stats st;
    uint64_t windows_held;
};

/* ---- small helpers ------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int addr_len(uint8_t family)
{
    return family == 6 ? 16 : 4;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* ---- maps --------------------------------------------------------------- */

static int conn_eq(const void *val, const void *key)
{
    return ((const cstate *)val)->rec.serial == *(const uint64_t *)key;
}

typedef struct host_key {
    uint8_t family;
    const uint8_t *addr;
} host_key;

static int host_eq(const void *val, const void *key)
{
    const host *h = val;
    const host_key *k = key;
    return h->family == k->family && !memcmp(h->addr, k->addr, (size_t)addr_len(k->family));
}

static uint64_t host_hash(uint8_t family, const uint8_t *addr)
{
    uint8_t a[16] = {0}, zero[16] = {0};
    memcpy(a, addr, (size_t)addr_len(family));
    return hash_mix64(hash_addrs(family, a, zero));
}

/* ---- hosts -------------------------------------------------------------- */

static host *host_get(correlator *c, uint8_t family, const uint8_t *addr)
{
    host_key k = {family, addr};
    uint64_t h = host_hash(family, addr);
    size_t j = ptrmap_find(&c->hosts, h, host_eq, &k);
    if (c->hosts.val[j])
        return c->hosts.val[j];
    host *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->hash = h;
    x->family = family;
    memcpy(x->addr, addr, (size_t)addr_len(family));
    if (ptrmap_put(&c->hosts, h, x) < 0) {
        free(x);
        return NULL;
    }
    return x;
}

static void host_maybe_free(correlator *c, host *x)
{
    if (!x || x->n_in || x->n_ob)
        return;
    host_key k = {x->family, x->addr};
    size_t j = ptrmap_find(&c->hosts, x->hash, host_eq, &k);
    if (c->hosts.val[j] == x)
        ptrmap_del(&c->hosts, j);
    free(x->in);
    free(x->ob);
    free(x);
}

/* ---- connection states -------------------------------------------------- */

static void cs_release(cstate *s);

static void cs_clear_windows(correlator *c, cstate *s)
{
    c->windows_held -= s->n_win;
    s->n_win = 0;
}

static void cs_maybe_free(correlator *c, cstate *s)
{
    if (!s->closed || s->own || s->n_cand_of || s->in_host || s->n_buffered)
        return;
    cs_clear_windows(c, s);
    c->st.live--;
    c->slots[s->id] = NULL;
    c->free_ids[c->n_free++] = s->id; /* room reserved by cs_new */
    cs_release(s);
}

static long cs_win_find(const cstate *s, int64_t g)
{
    uint32_t lo = 0, hi = s->n_win;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->wg[mid] < g)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_win && s->wg[lo] == g ? (long)lo : -(long)lo - 1;
}

static int cs_win_insert(correlator *c, cstate *s, int64_t g, int nd, const float *emb)
{
    long at = cs_win_find(s, g);
    if (at >= 0)
        return 0;
    uint32_t pos = (uint32_t)(-at - 1);
    if (s->n_win == s->cap_win) {
        uint32_t nc = s->cap_win ? s->cap_win * 2 : 8;
        int64_t *wg = realloc(s->wg, nc * sizeof(*wg));
        if (wg)
            s->wg = wg;
        int *wnd = realloc(s->wnd, nc * sizeof(*wnd));
        if (wnd)
            s->wnd = wnd;
        float *we = realloc(s->wemb, (size_t)nc * c->E * sizeof(*we));
        if (we)
            s->wemb = we;
        if (!wg || !wnd || !we)
            return -1;
        s->cap_win = nc;
    }
    uint32_t tail = s->n_win - pos;
    memmove(s->wg + pos + 1, s->wg + pos, tail * sizeof(*s->wg));
    memmove(s->wnd + pos + 1, s->wnd + pos, tail * sizeof(*s->wnd));
    memmove(s->wemb + (size_t)(pos + 1) * c->E, s->wemb + (size_t)pos * c->E,
            (size_t)tail * c->E * sizeof(float));
    s->wg[pos] = g;
    s->wnd[pos] = nd;
    memcpy(s->wemb + (size_t)pos * c->E, emb, sizeof(float) * (size_t)c->E);
    s->n_win++;
    c->windows_held++;
    if (c->windows_held > c->st.peak_windows)
        c->st.peak_windows = c->windows_held;
    return 0;
}

/* Drops the window vectors no pending hop of s needs any more: those before
 * the first window of every hop s is a leg of. */
static void cs_prune_windows(correlator *c, cstate *s)
{
    int64_t lo = INT64_MAX;
    if (s->own)
        lo = s->own->g0;
    if (s->n_refs && s->refs[0].g0 < lo)
        lo = s->refs[0].g0;
    uint32_t k = 0;
    while (k < s->n_win && s->wg[k] < lo)
        k++;
    if (k == 0)
        return;
    uint32_t rest = s->n_win - k;
    memmove(s->wg, s->wg + k, rest * sizeof(*s->wg));
    memmove(s->wnd, s->wnd + k, rest * sizeof(*s->wnd));
    memmove(s->wemb, s->wemb + (size_t)k * c->E, (size_t)rest * c->E * sizeof(float));
    s->n_win = rest;
    c->windows_held -= k;
}

/* Index of g0's entry in s->refs, or where it goes. Hops arrive in time
 * order, so the search starts from the end. */
static uint32_t ref_find(const cstate *s, int64_t g0)
{
    if (s->n_refs == 0 || s->refs[s->n_refs - 1].g0 < g0)
        return s->n_refs;
    uint32_t lo = 0, hi = s->n_refs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->refs[mid].g0 < g0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Counts a pending hop with first window g0 among s's; -1 when out of memory. */
static int ref_add(cstate *s, int64_t g0)
{
    uint32_t i = ref_find(s, g0);
    if (i == s->n_refs || s->refs[i].g0 != g0) {
        if (growbuf_reserve((void **)&s->refs, &s->cap_refs, (size_t)s->n_refs + 1,
                            sizeof(*s->refs)) < 0)
            return -1;
        memmove(s->refs + i + 1, s->refs + i, (s->n_refs - i) * sizeof(*s->refs));
        s->refs[i] = (gref){g0, 0};
        s->n_refs++;
    }
    s->refs[i].n++;
    s->n_cand_of++;
    return 0;
}

/* Uncounts a pending hop with first window g0 (ref_add counted it). */
static void ref_del(cstate *s, int64_t g0)
{
    uint32_t i = ref_find(s, g0);
    if (i == s->n_refs || s->refs[i].g0 != g0)
        return; /* not counted: cannot happen */
    s->n_cand_of--;
    if (--s->refs[i].n == 0) {
        memmove(s->refs + i, s->refs + i + 1, (s->n_refs - i - 1) * sizeof(*s->refs));
        s->n_refs--;
    }
}

static void in_list_remove(correlator *c, cstate *s)
{
    host *h = s->in_host;
    if (!h)
        return;
    uint32_t i = s->in_pos;
    h->in[i] = h->in[--h->n_in];
    if (i < h->n_in)
        h->in[i]->in_pos = i;
    s->in_host = NULL;
    host_maybe_free(c, h);
}

/* ---- pending hops ------------------------------------------------------- */

static int add_cand(correlator *c, obs *b, cstate *x)
{
    if (growbuf_reserve((void **)&b->cands, &b->cap, (size_t)b->n + 1, sizeof(*b->cands)) < 0 ||
        ref_add(x, b->g0) < 0)
        return -1;
    b->cands[b->n++] = (cand){x->id, CAND_PENDING, 0, 0};
    b->n_pending++;
    c->st.cand_ops++;
    if (b->n > c->st.max_cands)
        c->st.max_cands = b->n;
    return 0;
}

/* Unlinks b from its host, the pending list and its legs, and frees it;
 * legs no longer needed are freed. */
static void obs_free(correlator *c, obs *b)
{
    host *h = b->h;
    uint32_t i = b->h_pos;
    h->ob[i] = h->ob[--h->n_ob];
    if (i < h->n_ob)
        h->ob[i]->h_pos = i;
    size_t p = b->p_pos;
    c->pending[p] = c->pending[--c->n_pending];
    if (p < c->n_pending)
        c->pending[p]->p_pos = p;
    for (uint32_t k = 0; k < b->n; k++) {
        cstate *x = c->slots[b->cands[k].id];
        ref_del(x, b->g0);
        cs_prune_windows(c, x);
        cs_maybe_free(c, x);
    }
    c->st.cand_ops += b->n;
    cstate *o = b->o;
    o->own = NULL;
    free(b->cands);
    free(b->frz);
    free(b);
    cs_prune_windows(c, o);
    host_maybe_free(c, h);
    cs_maybe_free(c, o);
}

static int same_addr(uint8_t family, const uint8_t *a, const uint8_t *b)
{
    return !memcmp(a, b, (size_t)addr_len(family));
}

/* Latest start first, then the higher serial. */
static int pick_cmp(const void *pa, const void *pb)
{
    const conntab_record *a = &(*(cstate *const *)pa)->rec, *b = &(*(cstate *const *)pb)->rec;
    if (a->start_us != b->start_us)
        return a->start_us > b->start_us ? -1 : 1;
    return (a->serial < b->serial) - (a->serial > b->serial);
}

/* Counts b as a hop whose candidates were cut at max_cands, and warns once
 * per host. */
static void note_capped(correlator *c, obs *b)
{
    if (b->capped)
        return;
    b->capped = 1;
    c->st.capped++;
    if (b->h->warned || !c->warn)
        return;
    b->h->warned = 1;
    char a[CONNLOG_ADDR_SIZE], d[CONNLOG_ADDR_SIZE], msg[512];
    const conntab_record *r = &b->o->rec;
    connlog_format_addr(a, r->family, r->orig_h);
    connlog_format_addr(d, r->family, r->resp_h);
    snprintf(msg, sizeof(msg),
             "host %s: outbound connection %s:%u -> %s:%u has more than %zu candidate inbound "
             "connections (a busy relay, bastion or proxy); it and the host's other outbound "
             "connections over the limit are scored on the %zu inbound that started last before "
             "them", a, a, r->orig_p, d, r->resp_p, c->max_cands, c->max_cands);
    c->warn(c->warn_ctx, msg);
}

/* Enters s in its roles: inbound leg of its responder, outbound leg (a new
 * pending hop) of its originator. */
static int cs_register(correlator *c, cstate *s, char *errbuf)
{
    const conntab_record *r = &s->rec;
    host *hi = host_get(c, r->family, r->resp_h);
    if (!hi || growbuf_reserve((void **)&hi->in, &hi->cap_in, (size_t)hi->n_in + 1, sizeof(*hi->in)) < 0)
        goto nomem;
    s->in_host = hi;
    s->in_pos = hi->n_in;
    hi->in[hi->n_in++] = s;
    for (uint32_t i = 0; i < hi->n_ob; i++) {
        obs *b = hi->ob[i];
        const conntab_record *ro = &b->o->rec;
        if (b->o == s || r->start_us > ro->start_us + c->cand.max_lead_us ||
            same_addr(r->family, ro->resp_h, r->orig_h))
            continue;
        if (c->max_cands && b->n >= c->max_cands) {
            note_capped(c, b);
            continue;
        }
        if (add_cand(c, b, s) < 0)
            goto nomem;
    }

    host *ho = host_get(c, r->family, r->orig_h);
    obs *b = calloc(1, sizeof(*b));
    if (!ho || !b ||
        growbuf_reserve((void **)&ho->ob, &ho->cap_ob, (size_t)ho->n_ob + 1, sizeof(*ho->ob)) < 0 ||
        growbuf_reserve((void **)&c->pending, &c->cap_pending, c->n_pending + 1, sizeof(*c->pending)) < 0) {
        free(b);
        host_maybe_free(c, ho);
        goto nomem;
    }
    b->o = s;
    b->h = ho;
    b->g0 = connfeat_first_window(&c->enc->cfg.feat, r->start_us);
    b->need_g = b->own_g = b->g0 - 1;
    b->seen_close = ho->close_seq - 1; /* looked at in full the first time */
    if (c->have_now && b->g0 <= c->g_done)
        c->late = 1;
    b->h_pos = ho->n_ob;
    ho->ob[ho->n_ob++] = b;
    b->p_pos = c->n_pending;
    c->pending[c->n_pending++] = b;
    if (c->n_pending > c->st.peak_pending)
        c->st.peak_pending = c->n_pending;
    s->own = b;
    size_t n_pick = 0;
    for (uint32_t i = 0; i < ho->n_in; i++) {
        cstate *x = ho->in[i];
        if (x == s || same_addr(r->family, r->resp_h, x->rec.orig_h))
            continue;
        if (growbuf_reserve((void **)&c->pick, &c->cap_pick, n_pick + 1, sizeof(*c->pick)) < 0)
            goto nomem;
        c->pick[n_pick++] = x;
    }
    if (c->max_cands && n_pick > c->max_cands) {
        /* over the limit: the inbound legs that started last before it */
        qsort(c->pick, n_pick, sizeof(*c->pick), pick_cmp);
        n_pick = c->max_cands;
        note_capped(c, b);
    }
    if (n_pick) {
        /* the exact size (a busy host's hops hold most of the memory) */
        if (!(b->cands = malloc(n_pick * sizeof(*b->cands))))
            goto nomem;
        b->cap = n_pick;
    }
    for (size_t i = 0; i < n_pick; i++)
        if (add_cand(c, b, c->pick[i]) < 0)
            goto nomem;
    return SS_OK;
nomem:
    return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory");
}

static void cand_evidence(const correlator *c, const obs *b, const cstate *x, int k, double *sum,
                          int *used);

/* Takes s out of every role: its pending hop is dropped, its pending
 * candidacies too; its final ones keep their evidence, computed now (its
 * windows go). The entries stay (counted in s's refs) until their hops are
 * freed. A role change is rare (a SYN from the side first taken for the
 * responder): finding s's candidacies scans the pending hops of its
 * responder. Returns 0 or SS_ERR_NOMEM. */
static int cs_unregister(correlator *c, cstate *s, char *errbuf)
{
    host *h = s->in_host;
    for (uint32_t i = 0; h && s->n_cand_of && i < h->n_ob; i++) {
        obs *b = h->ob[i];
        c->st.cand_ops += b->n;
        for (uint32_t k = 0; k < b->n; k++) {
            cand *d = &b->cands[k];
            if (d->id != s->id)
                continue;
            if (d->state == CAND_PENDING) {
                d->state = CAND_DROPPED;
                b->n_pending--;
            } else if (d->state == CAND_FINAL) {
                if (growbuf_reserve((void **)&b->frz, &b->cap_frz, (size_t)b->n_frz + 1,
                                    sizeof(*b->frz)) < 0)
                    return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory");
                frozen *z = &b->frz[b->n_frz++];
                z->at = k;
                cand_evidence(c, b, s, d->k, &z->sum, &z->used);
                d->state = CAND_FROZEN;
            }
        }
    }
    in_list_remove(c, s);
    if (s->own) {
        obs_free(c, s->own); /* s is open, so it stays */
    }
    cs_clear_windows(c, s);
    return SS_OK;
}

/* ---- windows and scores ------------------------------------------------- */

typedef struct need_ent {
    cstate *c;
    int64_t g;
} need_ent;

static int need_push(correlator *c, cstate *x, int64_t g)
{
    /* many pending hops name the same window of a busy host's leg: each
     * (leg, window) goes in once per round (the 64 windows up to need_hi are
     * marked; older ones are deduplicated after sorting) */
    uint64_t d = (uint64_t)(c->need_hi - g);
    if (d < 64) {
        if (x->need_round != c->need_round) {
            x->need_round = c->need_round;
            x->need_bits = 0;
        }
        if (x->need_bits >> d & 1)
            return 0;
        x->need_bits |= 1ULL << d;
    }
    if (cs_win_find(x, g) >= 0)
        return 0;
    if (growbuf_reserve((void **)&c->need, &c->cap_need, c->n_need + 1, sizeof(*c->need)) < 0)
        return -1;
    c->need[c->n_need++] = (need_ent){x, g};
    return 0;
}

static int need_cmp(const void *pa, const void *pb)
{
    const need_ent *a = pa, *b = pb;
    if (a->c->rec.serial != b->c->rec.serial)
        return a->c->rec.serial < b->c->rec.serial ? -1 : 1;
    return (a->g > b->g) - (a->g < b->g);
}

/* Runs the encoder on the waiting windows and fills their placeholders. */
static int flush_batch(correlator *c, char *errbuf)
{
    if (c->b_n == 0)
        return SS_OK;
    double t0 = now_s();
    int rc = encoder_forward(c->b_emb, c->b_acts, c->b_inp, c->b_len, c->enc, (int)c->b_n,
                             errbuf);
    c->st.embed_s += now_s() - t0;
    if (rc < 0)
        return rc;
    c->st.windows += c->b_n;
    for (size_t i = 0; i < c->b_n; i++) {
        cstate *x = c->b_cs[i];
        long a = cs_win_find(x, c->b_g[i]);
        if (a >= 0 && x->wnd[a] < 0) {
            x->wnd[a] = c->b_nd[i];
            memcpy(x->wemb + (size_t)a * c->E, c->b_emb + i * (size_t)c->E,
                   sizeof(float) * (size_t)c->E);
        }
        /* its last waiting window: it may go now (no later entry names it) */
        if (--x->n_buffered == 0)
            cs_maybe_free(c, x);
    }
    c->b_n = 0;
    return SS_OK;
}

/* Queues for embedding every window up to g_upto that a pending hop needs
 * and lacks (the encoder runs when CORRELATOR_BATCH are waiting). */
static int embed_needed(correlator *c, int64_t g_upto, char *errbuf)
{
    c->n_need = 0;
    c->need_round++;
    c->need_hi = g_upto;
    for (size_t p = 0; p < c->n_pending; p++) {
        obs *b = c->pending[p];
        int64_t hi = b->g0 + c->K - 1;
        if (hi > g_upto)
            hi = g_upto;
        /* the outbound's own windows while a candidate may need them (one
         * may still join until max_lead has passed: its ring is gone then) */
        int own = b->n_pending > 0 || c->now < b->o->rec.start_us + c->cand.max_lead_us;
        const connfeat_config *f = &c->enc->cfg.feat;
        /* what an earlier round looked at is queued or embedded, or will
         * never be needed (the conditions below only become true): each
         * (candidate, window) is looked at once */
        int64_t g_from = b->need_n < b->n ? b->g0 : b->need_g + 1;
        if (own && b->own_g + 1 < g_from)
            g_from = b->own_g + 1;
        for (int64_t g = g_from; g <= hi; g++) {
            /* a hop is scored on its first window, then on those starting
             * before either leg's last packet: none past a closed leg's end */
            int64_t w0 = connfeat_window_start(f, g);
            if (g > b->g0 && b->o->closed && b->o->rec.end_us < w0)
                break;
            if (own && g > b->own_g && need_push(c, b->o, g) < 0)
                goto nomem;
            uint32_t k0 = g > b->need_g ? 0 : b->need_n;
            c->st.cand_ops += b->n - k0;
            for (uint32_t k = k0; k < b->n; k++) {
                const cand *d = &b->cands[k];
                if (d->state != CAND_PENDING)
                    continue;
                cstate *x = c->slots[d->id];
                if (g > b->g0 && x->closed && x->rec.end_us < w0)
                    continue;
                if (need_push(c, x, g) < 0)
                    goto nomem;
            }
        }
        if (hi > b->need_g)
            b->need_g = hi;
        b->need_n = b->n;
        if (own && hi > b->own_g)
            b->own_g = hi;
    }
    if (c->n_need == 0)
        return SS_OK;
    need_ent *ne = c->need;
    qsort(ne, c->n_need, sizeof(*ne), need_cmp);
    size_t u = 0;
    for (size_t i = 0; i < c->n_need; i++)
        if (u == 0 || ne[u - 1].c != ne[i].c || ne[u - 1].g != ne[i].g)
            ne[u++] = ne[i];
    const int T = c->enc->cfg.feat.steps, C = CONNFEAT_CHANNELS;
    for (size_t i = 0; i < u; i++) {
        cstate *x = ne[i].c;
        x->rec.pkts = x->ring;
        x->rec.n_pkts = x->n_ring;
        size_t k = c->b_n;
        float *inp = c->b_inp + k * (size_t)T * C;
        c->b_len[k] = encoder_window_input(inp, &c->b_nd[k], c->enc, &x->rec,
                                           connfeat_window_start(&c->enc->cfg.feat, ne[i].g));
        c->b_cs[k] = x;
        c->b_g[k] = ne[i].g;
        /* a placeholder (n_data -1) until the batch runs */
        if (cs_win_insert(c, x, ne[i].g, -1, c->b_emb) < 0)
            goto nomem;
        x->n_buffered++;
        if (c->b_n++ == 0)
            c->b_since = c->g_done;
        if (c->b_n == CORRELATOR_BATCH) {
            int rc = flush_batch(c, errbuf);
            if (rc < 0)
                return rc;
        }
    }
    return SS_OK;
nomem:
    return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory for window vectors");
}

/* Decides candidate d of b: final (on how many windows) or dropped; leaves
 * it pending when something it depends on is not known yet. */
static void try_final(correlator *c, obs *b, cand *d)
{
    const cstate *o = b->o, *x = c->slots[d->id];
    const conntab_record *ro = &o->rec, *ri = &x->rec;
    const connfeat_config *f = &c->enc->cfg.feat;
    uint64_t po = ro->orig_pkts + ro->resp_pkts, pi = ri->orig_pkts + ri->resp_pkts;
    if ((po < c->cand.min_pkts && !o->closed) || (pi < c->cand.min_pkts && !x->closed))
        return;
    if (po < c->cand.min_pkts || pi < c->cand.min_pkts)
        goto drop;
    int64_t beg = ri->start_us > ro->start_us ? ri->start_us : ro->start_us;
    int64_t w_last = connfeat_window_start(f, b->g0 + c->K - 1);
    int64_t need_t = beg + c->cand.min_overlap_us > w_last ? beg + c->cand.min_overlap_us
                                                           : w_last;
    int64_t m = ri->end_us < ro->end_us ? ri->end_us : ro->end_us;
    int beyond = m >= need_t; /* both legs sent past everything the pair depends on */
    if (!beyond && !((ri->end_us == m && x->closed) || (ro->end_us == m && o->closed)))
        return;
    if (!beyond && m - beg < c->cand.min_overlap_us)
        goto drop;
    int k = 1;
    while (k < c->K && (beyond || connfeat_window_start(f, b->g0 + k) <= m))
        k++;
    if (b->g0 + k - 1 > c->g_done)
        return;
    /* windows are sorted and distinct: g0 + j is j places after g0 */
    long a0 = cs_win_find(x, b->g0), e0 = cs_win_find(o, b->g0);
    if (a0 < 0 || e0 < 0)
        return; /* queued at the next window's close */
    for (int j = 0; j < k; j++) {
        uint32_t a = (uint32_t)a0 + (uint32_t)j, e = (uint32_t)e0 + (uint32_t)j;
        if (a >= x->n_win || e >= o->n_win || x->wg[a] != b->g0 + j || o->wg[e] != b->g0 + j ||
            x->wnd[a] < 0 || o->wnd[e] < 0)
            return; /* queued at the next window's close, or waiting in the batch */
    }
    /* its windows stay held while b is pending: emit_group scores it */
    d->k = (uint16_t)k;
    d->state = CAND_FINAL;
    b->n_pending--;
    return;
drop:
    d->state = CAND_DROPPED;
    b->n_pending--;
}

/* The evidence of the hop (x, b->o) on its first k windows: the windows
 * where either leg sent payload (*used) and their similarities' sum (*sum). */
static void cand_evidence(const correlator *c, const obs *b, const cstate *x, int k, double *sum,
                          int *used)
{
    const cstate *o = b->o;
    double s = 0;
    int u = 0;
    /* try_final saw windows g0 .. g0 + k - 1 held, one after the other */
    size_t a0 = (size_t)cs_win_find(x, b->g0), e0 = (size_t)cs_win_find(o, b->g0);
    for (int j = 0; j < k; j++) {
        size_t a = a0 + (size_t)j, e = e0 + (size_t)j;
        if (x->wnd[a] == 0 && o->wnd[e] == 0)
            continue;
        s += cblas_sdot(c->E, x->wemb + (size_t)a * c->E, 1, o->wemb + (size_t)e * c->E, 1);
        u++;
    }
    *sum = s;
    *used = u;
}

typedef struct gent {
    const conntab_record *r;
    double s;
} gent;

static int gent_cmp(const void *pa, const void *pb)
{
    const conntab_record *a = ((const gent *)pa)->r, *b = ((const gent *)pb)->r;
    if (a->start_us != b->start_us)
        return a->start_us < b->start_us ? -1 : 1;
    return (a->serial > b->serial) - (a->serial < b->serial);
}

/* Hands b's final candidates on (ev[k]: cands[k]'s evidence) and frees b. */
static int emit_group(correlator *c, obs *b, const evid *ev, char *errbuf)
{
    size_t n = 0;
    gent *ge = malloc(((size_t)b->n + 1) * sizeof(*ge));
    if (!ge)
        return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory");
    for (uint32_t k = 0; k < b->n; k++) {
        if (b->cands[k].state != CAND_FINAL)
            continue;
        cstate *x = c->slots[b->cands[k].id];
        x->rec.pkts = NULL;
        x->rec.n_pkts = 0;
        ge[n++] = (gent){&x->rec, hopscore_score(c->enc, ev[k].sum, ev[k].used)};
    }
    for (uint32_t i = 0; i < b->n_frz; i++) {
        cstate *x = c->slots[b->cands[b->frz[i].at].id];
        x->rec.pkts = NULL;
        x->rec.n_pkts = 0;
        ge[n++] = (gent){&x->rec, hopscore_score(c->enc, b->frz[i].sum, b->frz[i].used)};
    }
    qsort(ge, n, sizeof(*ge), gent_cmp);
    size_t cap = c->cap_g;
    if (growbuf_reserve((void **)&c->g_in, &cap, n + 1, sizeof(*c->g_in)) < 0) {
        free(ge);
        return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory");
    }
    double *sc = realloc(c->g_score, cap * sizeof(*sc));
    if (!sc) {
        free(ge);
        return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory");
    }
    c->g_score = sc;
    c->cap_g = cap;
    for (size_t i = 0; i < n; i++) {
        c->g_in[i] = ge[i].r;
        c->g_score[i] = ge[i].s;
    }
    free(ge);
    b->o->rec.pkts = NULL;
    b->o->rec.n_pkts = 0;
    correlator_group g = {&b->o->rec, n, c->g_in, c->g_score};
    c->st.outbound++;
    c->st.pairs += n;
    int rc = c->emit ? c->emit(c->ctx, &g, errbuf) : SS_OK;
    obs_free(c, b);
    return rc;
}

/* Computes the evidence of the final candidates of the hops bs[0..m) into
 * c->ev (hop i's candidate k at off[i] + k), stepping through the
 * candidates of all m hops together. */
static void block_evidence(correlator *c, obs *const *bs, size_t m, const size_t *off)
{
    uint32_t most = 0;
    for (size_t i = 0; i < m; i++)
        if (bs[i]->n > most)
            most = bs[i]->n;
    for (uint32_t k0 = 0; k0 < most; k0 += CORRELATOR_CAND_STEP) {
        for (size_t i = 0; i < m; i++) {
            const obs *b = bs[i];
            if (k0 >= b->n)
                continue;
            uint32_t k1 = b->n - k0 < CORRELATOR_CAND_STEP ? b->n : k0 + CORRELATOR_CAND_STEP;
            evid *ev = c->ev + off[i];
            for (uint32_t k = k0; k < k1; k++)
                if (b->cands[k].state == CAND_FINAL)
                    cand_evidence(c, b, c->slots[b->cands[k].id], b->cands[k].k, &ev[k].sum,
                                  &ev[k].used);
        }
    }
}

/* 1 when try_final would leave every pending candidate of b pending: its
 * outbound leg is open, no candidate's leg has closed (none was closed and
 * pending when b was last looked at, and no inbound leg of the host closed
 * since), so a candidate can only become final on both legs' windows up to
 * the last one (its first K), which have not all passed or closed yet. */
static int nothing_to_decide(const correlator *c, const obs *b)
{
    const cstate *o = b->o;
    if (o->closed || b->n_closed || b->seen_close != b->h->close_seq)
        return 0;
    const conntab_record *ro = &o->rec;
    int64_t g_last = b->g0 + c->K - 1;
    return ro->orig_pkts + ro->resp_pkts < c->cand.min_pkts ||
           ro->end_us < connfeat_window_start(&c->enc->cfg.feat, g_last) || g_last > c->g_done;
}

/* Scores what can be scored and emits the hops whose candidates are all final. */
static int resolve(correlator *c, int finishing, char *errbuf)
{
    size_t n_ready = 0;
    for (size_t p = c->n_pending; p-- > 0;) {
        obs *b = c->pending[p];
        if (!finishing && c->now < b->o->rec.start_us + c->cand.max_lead_us)
            continue;
        if (b->n_pending > 0 && nothing_to_decide(c, b))
            continue;
        uint32_t n_closed = 0;
        c->st.cand_ops += b->n;
        for (uint32_t k = 0; k < b->n; k++) {
            cand *d = &b->cands[k];
            if (d->state != CAND_PENDING)
                continue;
            try_final(c, b, d);
            n_closed += d->state == CAND_PENDING && c->slots[d->id]->closed;
        }
        b->n_closed = n_closed;
        b->seen_close = b->h->close_seq;
        if (b->n_pending == 0) {
            if (growbuf_reserve((void **)&c->ready, &c->cap_ready, n_ready + 1,
                                sizeof(*c->ready)) < 0)
                return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory");
            c->ready[n_ready++] = b;
        }
    }
    /* handed on in the order found, a block at a time */
    for (size_t i0 = 0; i0 < n_ready; i0 += CORRELATOR_EMIT_BLOCK) {
        size_t m = n_ready - i0 < CORRELATOR_EMIT_BLOCK ? n_ready - i0 : CORRELATOR_EMIT_BLOCK;
        size_t off[CORRELATOR_EMIT_BLOCK + 1] = {0};
        for (size_t i = 0; i < m; i++)
            off[i + 1] = off[i] + c->ready[i0 + i]->n;
        if (growbuf_reserve((void **)&c->ev, &c->cap_ev, off[m] + 1, sizeof(*c->ev)) < 0)
            return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory");
        block_evidence(c, c->ready + i0, m, off);
        for (size_t i = 0; i < m; i++) {
            int rc = emit_group(c, c->ready[i0 + i], c->ev + off[i], errbuf);
            if (rc < 0)
                return rc;
        }
    }
    return SS_OK;
}

/* Moves the clock to t: embeds the windows that closed, then resolves. */
static int advance(correlator *c, int64_t t, char *errbuf)
{
    const int64_t W = c->W, S = c->S;
    if (!c->have_now) {
        c->have_now = 1;
        c->now = t;
        c->g_done = floor_div(t - W, S);
        return SS_OK;
    }
    if (t > c->now)
        c->now = t;
    int changed = 0;
    int64_t target = floor_div(c->now - W, S); /* the last window now closed */
    while (c->g_done < target) {
        /* past the last window a pending hop needs, nothing is left to
         * embed: jump (a capture's clock may leap by years) */
        int64_t last = INT64_MIN;
        for (size_t p = 0; p < c->n_pending; p++)
            if (c->pending[p]->g0 + c->K - 1 > last)
                last = c->pending[p]->g0 + c->K - 1;
        if (c->g_done >= last) {
            c->g_done = target;
            changed = 1;
            break;
        }
        int rc = embed_needed(c, c->g_done + 1, errbuf);
        if (rc < 0)
            return rc;
        c->g_done++;
        changed = 1;
    }
    if (c->b_n > 0 && c->g_done - c->b_since >= CORRELATOR_MAX_WAIT) {
        int rc = flush_batch(c, errbuf);
        if (rc < 0)
            return rc;
        changed = 1;
    }
    if (c->late) {
        /* hops that started in windows already closed (the clock went back,
         * or leapt ahead before): embed what they can have now */
        c->late = 0;
        int rc = embed_needed(c, c->g_done, errbuf);
        if (rc < 0)
            return rc;
        changed = 1;
    }
    return changed ? resolve(c, 0, errbuf) : SS_OK;
}

/* ---- public ------------------------------------------------------------- */

int correlator_create(correlator **out, const encoder *enc, const candidates_config *cand_cfg,
                      correlator_emit_fn emit, void *ctx, char *errbuf)
{
    *out = NULL;
    correlator *c = calloc(1, sizeof(*c));
    if (!c)
        return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory");
    if (cand_cfg)
        c->cand = *cand_cfg;
    else
        candidates_config_default(&c->cand);
    if (c->cand.min_overlap_us < 0 || c->cand.max_lead_us < 0) {
        free(c);
        return ss_errf(errbuf, SS_ERR_ARG, "minimum overlap and maximum lead must not be negative");
    }
    const connfeat_config *f = &enc->cfg.feat;
    c->enc = enc;
    c->emit = emit;
    c->ctx = ctx;
    c->W = f->window_us;
    c->S = f->stride_us;
    c->K = f->max_windows;
    c->E = enc->cfg.dim;
    c->cap_per_window = f->kind == CONNFEAT_KIND_SEQ ? f->steps : 1 << 16;
    const size_t B = CORRELATOR_BATCH, T = (size_t)f->steps;
    c->b_inp = malloc(B * T * CONNFEAT_CHANNELS * sizeof(float));
    c->b_len = malloc(B * sizeof(int));
    c->b_nd = malloc(B * sizeof(int));
    c->b_cs = malloc(B * sizeof(cstate *));
    c->b_g = malloc(B * sizeof(int64_t));
    c->b_emb = malloc(B * (size_t)c->E * sizeof(float));
    c->b_acts = malloc(encoder_acts_size(enc, (int)B) * sizeof(float));
    if (!c->b_inp || !c->b_len || !c->b_nd || !c->b_cs || !c->b_g || !c->b_emb || !c->b_acts ||
        ptrmap_init(&c->conns, 1024) < 0 || ptrmap_init(&c->hosts, 1024) < 0) {
        correlator_destroy(c);
        return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory");
    }
    *out = c;
    return SS_OK;
}

/* A new connection state with a free slot; NULL when out of memory. */
static cstate *cs_new(correlator *c)
{
    if (c->n_free == 0 &&
        (growbuf_reserve((void **)&c->slots, &c->cap_slots, c->n_slots + 1, sizeof(*c->slots)) < 0 ||
         growbuf_reserve((void **)&c->free_ids, &c->cap_free, c->n_slots + 1,
                         sizeof(*c->free_ids)) < 0 ||
         c->n_slots >= UINT32_MAX))
        return NULL;
    cstate *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->id = c->n_free ? c->free_ids[--c->n_free] : (uint32_t)c->n_slots++;
    c->slots[s->id] = s;
    return s;
}

static uint64_t serial_hash(uint64_t serial)
{
    return hash_mix64(serial + 0x9e3779b97f4a7c15ULL);
}

/* Keeps pkt in s's ring when a window still open may read it. */
static int ring_append(correlator *c, cstate *s, const conntab_pkt *pkt)
{
    const connfeat_config *f = &c->enc->cfg.feat;
    int control = (pkt->tcp_flags & (PACKET_TCP_SYN | PACKET_TCP_FIN | PACKET_TCP_RST)) != 0;
    if (pkt->retrans || (pkt->payload_len == 0 && !control))
        return 0;
    int64_t t = s->rec.start_us + pkt->dt_us;
    int64_t gq = connfeat_first_window(f, t); /* the newest window holding t */
    if (s->n_ring == 0 || gq != s->ring_g) {
        /* once per stride: drop what only embedded windows could read, and
         * count what the newest window already holds */
        int64_t keep_from = connfeat_window_start(f, c->g_done + 1) - s->rec.start_us;
        /* unpaired: its closed windows are read when it pairs (up to what
         * K windows hold, so SYNs without payload cannot pile up) */
        if (s->unpaired && s->n_ring < (uint32_t)c->K * (uint32_t)c->cap_per_window)
            keep_from = INT64_MIN;
        uint32_t k = 0;
        while (k < s->n_ring && s->ring[k].dt_us < keep_from)
            k++;
        if (k) {
            memmove(s->ring, s->ring + k, (s->n_ring - k) * sizeof(*s->ring));
            s->n_ring -= k;
        }
        int64_t newest = connfeat_window_start(f, gq) - s->rec.start_us;
        uint32_t from = s->n_ring;
        while (from > 0 && s->ring[from - 1].dt_us >= newest)
            from--;
        s->ring_g = gq;
        s->ring_count = s->n_ring - from;
    }
    /* at most cap_per_window packets of the newest window: the encoder reads
     * no more of a window (older windows hold these and earlier ones) */
    if (s->ring_count >= (uint32_t)c->cap_per_window)
        return 0;
    if (growbuf_reserve((void **)&s->ring, &s->cap_ring, (size_t)s->n_ring + 1, sizeof(*s->ring)) < 0)
        return -1;
    s->ring[s->n_ring++] = *pkt;
    s->ring_count++;
    return 0;
}

static void copy_rec(cstate *s, const conntab_record *rec)
{
    s->rec = *rec;
    s->rec.pkts = s->ring;
    s->rec.n_pkts = s->n_ring;
}

int correlator_watch(void *ctx, const conntab_record *rec, const conntab_pkt *pkt, int created,
                     char *errbuf)
{
    correlator *c = ctx;
    if (rec->proto != 6)
        return SS_OK;
    int rc = advance(c, rec->start_us + pkt->dt_us, errbuf);
    if (rc < 0)
        return rc;
    cstate *s;
    if (created) {
        s = cs_new(c);
        if (!s || ptrmap_put(&c->conns, serial_hash(rec->serial), s) < 0) {
            if (s) {
                c->slots[s->id] = NULL;
                c->free_ids[c->n_free++] = s->id;
                free(s);
            }
            return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory");
        }
        copy_rec(s, rec);
        c->st.conns++;
        if (++c->st.live > c->st.peak_live)
            c->st.peak_live = c->st.live;
        s->unpaired = 1;
    } else {
        size_t j = ptrmap_find(&c->conns, serial_hash(rec->serial), conn_eq, &rec->serial);
        s = c->conns.val[j];
        if (!s)
            return SS_OK;
        int flipped = rec->orig_p != s->rec.orig_p ||
                      !same_addr(rec->family, rec->orig_h, s->rec.orig_h);
        if (flipped && s->unpaired) {
            for (uint32_t i = 0; i < s->n_ring; i++)
                s->ring[i].dir ^= 1;
            copy_rec(s, rec);
        } else if (flipped) {
            if ((rc = cs_unregister(c, s, errbuf)) < 0)
                return rc;
            for (uint32_t i = 0; i < s->n_ring; i++)
                s->ring[i].dir ^= 1;
            copy_rec(s, rec);
            if ((rc = cs_register(c, s, errbuf)) < 0)
                return rc;
        } else {
            copy_rec(s, rec);
        }
    }
    /* A connection is paired (takes its roles: inbound candidate, pending
     * hop) from its first payload byte: attempts and floods of SYNs are
     * never paired nor embedded. Windows holding its start that already
     * closed are embedded now, from its ring (kept whole until then). */
    if (s->unpaired && rec->orig_bytes + rec->resp_bytes > 0) {
        s->unpaired = 0;
        if ((rc = cs_register(c, s, errbuf)) < 0)
            return rc;
        if (c->have_now && c->g_done >= floor_div(rec->start_us - c->W, c->S) + 1 &&
            (rc = embed_needed(c, c->g_done, errbuf)) < 0)
            return rc;
    }
    if (ring_append(c, s, pkt) < 0)
        return ss_errf(errbuf, SS_ERR_NOMEM, "correlator: out of memory for packets");
    s->rec.n_pkts = s->n_ring;
    s->rec.pkts = s->ring;
    return SS_OK;
}

int correlator_conn_end(correlator *c, const conntab_record *rec, char *errbuf)
{
    (void)errbuf;
    if (rec->proto != 6)
        return SS_OK;
    size_t j = ptrmap_find(&c->conns, serial_hash(rec->serial), conn_eq, &rec->serial);
    cstate *s = c->conns.val[j];
    if (!s)
        return SS_OK;
    ptrmap_del(&c->conns, j);
    copy_rec(s, rec);
    s->closed = 1;
    if (s->in_host)
        s->in_host->close_seq++;
    in_list_remove(c, s);
    cs_maybe_free(c, s);
    return SS_OK;
}

int correlator_finish(correlator *c, char *errbuf)
{
    /* windows queued for hops already decided (a candidate dropped, say)
     * still hold their connections */
    int rc0 = flush_batch(c, errbuf);
    if (rc0 < 0)
        return rc0;
    while (c->n_pending > 0) {
        int rc = embed_needed(c, c->g_done, errbuf);
        if (rc < 0 || (rc = flush_batch(c, errbuf)) < 0)
            return rc;
        if ((rc = resolve(c, 1, errbuf)) < 0)
            return rc;
        if (c->n_pending == 0)
            break;
        int64_t last = INT64_MIN;
        for (size_t p = 0; p < c->n_pending; p++)
            if (c->pending[p]->g0 + c->K > last)
                last = c->pending[p]->g0 + c->K;
        if (c->g_done > last)
            return ss_errf(errbuf, SS_ERR_INTERNAL,
                           "correlator: %zu hops still pending at the end of input",
                           c->n_pending);
        c->g_done++;
    }
    return SS_OK;
}

/* conntab_emit_fn: ctx is the correlator. */
static int read_emit(void *ctx, const conntab_record *rec, char *errbuf)
{
    return correlator_conn_end(ctx, rec, errbuf);
}

int correlator_read_files(correlator *c, const char *const *paths, size_t n,
                          const conntab_config *tab, pcapsrc_warn_fn warn, void *warn_ctx,
                          char *errbuf)
{
    conntab_config tc;
    if (tab)
        tc = *tab;
    else
        conntab_config_default(&tc);
    tc.max_pkts = 0;
    tc.watch = correlator_watch;
    tc.watch_ctx = c;
    int rc = conntab_read_files(paths, n, &tc, read_emit, c, warn, warn_ctx, NULL, errbuf);
    return rc < 0 ? rc : correlator_finish(c, errbuf);
}

void correlator_set_max_candidates(correlator *c, size_t max, pcapsrc_warn_fn warn,
                                   void *warn_ctx)
{
    c->max_cands = max;
    c->warn = warn;
    c->warn_ctx = warn_ctx;
}

void correlator_get_stats(const correlator *c, correlator_stats *st)
{
    *st = c->st;
}

static void cs_release(cstate *s)
{
    free(s->ring);
    free(s->wg);
    free(s->wnd);
    free(s->wemb);
    free(s->refs);
    free(s);
}

void correlator_destroy(correlator *c)
{
    if (!c)
        return;
    /* every state held has a slot */
    for (size_t i = 0; i < c->n_slots; i++)
        if (c->slots[i])
            cs_release(c->slots[i]);
    free(c->slots);
    free(c->free_ids);
    free(c->pick);
    free(c->ready);
    free(c->ev);
    for (size_t p = 0; p < c->n_pending; p++) {
        free(c->pending[p]->cands);
        free(c->pending[p]->frz);
        free(c->pending[p]);
    }
    for (size_t i = 0; i < c->hosts.cap; i++) {
        host *h = c->hosts.val ? c->hosts.val[i] : NULL;
        if (!h)
            continue;
        free(h->in);
        free(h->ob);
        free(h);
    }
    ptrmap_free(&c->conns);
    ptrmap_free(&c->hosts);
    free(c->pending);
    free(c->need);
    free(c->b_inp);
    free(c->b_len);
    free(c->b_nd);
    free(c->b_cs);
    free(c->b_g);
    free(c->b_emb);
    free(c->b_acts);
    free(c->g_in);
    free(c->g_score);
    free(c);
}

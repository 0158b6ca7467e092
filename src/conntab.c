/* conntab.c - the connection table (see conntab.h). */
#include "conntab.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "status.h"

/* TCP endpoint states, as in Zeek's TCP analyzer. */
enum ep_state {
    EP_INACTIVE = 0,
    EP_SYN_SENT,
    EP_SYN_ACK_SENT,
    EP_PARTIAL,
    EP_ESTABLISHED,
    EP_CLOSED,
    EP_RESET
};

/* Timer lists: one per idle timeout class, one for closed connections
 * lingering, one ordered by creation for the active timeout. */
enum tlist {
    TLIST_TCP = 0,
    TLIST_UDP,
    TLIST_ICMP,
    TLIST_LINGER,
    TLIST_ACTIVE,
    TLIST_ATTEMPT,   /* TCP attempts by creation: evicted first (not a timer) */
    TLIST_COUNT
};

#define SEQ_MAX_HOLES 8

/* Gaps in the sequence bytes seen: only read when a segment does not
 * simply extend what was seen, so they are kept apart from the hot fields. */
typedef struct seqholes {
    int64_t lo[SEQ_MAX_HOLES];
    int64_t hi[SEQ_MAX_HOLES];
} seqholes;

/* Which payload sequence bytes of one direction were seen: [lo, hi) minus
 * up to SEQ_MAX_HOLES gaps. Sequence numbers are unwrapped to 64 bits
 * relative to the first one seen (which maps to 2^32). */
typedef struct seqtrack {
    uint8_t init;
    uint8_t have;
    uint8_t n_holes;
    uint32_t ref32;
    int64_t ref_rel;
    int64_t lo, hi;
    seqholes *holes;   /* in the same conn (its cold part) */
} seqtrack;

typedef struct endpoint {
    uint8_t state, prev_state;
    uint8_t fin_seen, fin_acked;
    uint8_t syn_seen;
    uint8_t spoke;     /* sent a packet other than an RST */
    uint32_t fin_next; /* sequence number one past the FIN */
    seqtrack seq;
} endpoint;

typedef struct conn conn;

typedef struct tnode {
    conn *prev, *next;
} tnode;

/* A connection. Allocated on a cache-line boundary; the fields every packet
 * touches come first (CONN_HOT_BYTES of them, prefetched together by
 * conntab_add_batch), the rarely used ones last. */
struct conn {
    /* normalized key: side a is the smaller (address, port); its hash is
     * kept in the slot, not here (conn_hash recomputes it) */
    uint8_t a[16], b[16];
    uint16_t ap, bp;
    uint8_t family, proto;
    uint8_t orig_is_a;       /* 1 if the originator is side a */
    uint8_t idle_list;       /* which TLIST_* idle list holds it */
    uint8_t closing;         /* TCP close seen: on the linger list */
    uint8_t rstos0;          /* history still matches ^S[^HAFGIQ]*R */
    uint8_t orig_rst;        /* originator has sent an RST */
    uint8_t attempt;         /* on the TLIST_ATTEMPT list */
    uint32_t pkts_cap;
    int64_t idle_deadline;   /* deadline it was queued with (<= the real one) */
    int64_t last_now;        /* table clock at its last packet */
    int64_t active_deadline;
    tnode idle, active;      /* timer list links */
    conntab_pkt *pkts;
    endpoint ep[2];          /* indexed by conntab_dir */
    conntab_record rec;
    /* cold */
    seqholes holes[2];       /* ep[k].seq.holes points to one of them */
    tnode att;               /* TLIST_ATTEMPT links */
};

#define CONN_ALIGN 64
#define CONN_HOT_BYTES offsetof(struct conn, holes)

/* One slot of the open-addressing hash table: the full hash beside the
 * pointer, so a probe only follows the pointer of a likely match. */
typedef struct hslot {
    uint64_t hash;
    conn *c;                 /* NULL: empty */
} hslot;

typedef struct tlist_head {
    conn *head, *tail;
} tlist_head;

struct conntab {
    conntab_config cfg;
    conntab_emit_fn emit;
    void *ctx;
    hslot *slots;            /* linear probing, at most half full */
    size_t nslots;           /* power of two */
    tlist_head lists[TLIST_COUNT];
    int64_t now;             /* clock: largest timestamp seen */
    int have_now;
    uint64_t next_serial;
    conntab_stats st;
};

/* ---- names ---------------------------------------------------------- */

const char *conntab_state_to_string(int state)
{
    static const char *const names[CONNTAB_STATE_COUNT] = {
        "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR",
        "RSTOS0", "RSTRH", "SH", "SHR", "OTH"
    };
    if (state < 0 || state >= CONNTAB_STATE_COUNT)
        return "?";
    return names[state];
}

const char *conntab_end_to_string(int end)
{
    static const char *const names[CONNTAB_END_COUNT] = {
        "closed", "idle", "active", "reuse", "eof", "evicted"
    };
    if (end < 0 || end >= CONNTAB_END_COUNT)
        return "?";
    return names[end];
}

void conntab_config_default(conntab_config *cfg)
{
    cfg->tcp_timeout_us = 300LL * 1000000;
    cfg->udp_timeout_us = 60LL * 1000000;
    cfg->icmp_timeout_us = 60LL * 1000000;
    cfg->active_timeout_us = 3600LL * 1000000;
    cfg->linger_us = 5LL * 1000000;
    cfg->max_pkts = CONNTAB_LOG_MAX_PKTS;
    cfg->keep_us = 0;
    cfg->max_open = CONNTAB_DEFAULT_MAX_OPEN;
    cfg->stats_out = NULL;
    cfg->watch = NULL;
    cfg->watch_ctx = NULL;
}

/* ---- lifecycle ------------------------------------------------------ */

int conntab_create(conntab **out, const conntab_config *cfg,
                   conntab_emit_fn emit, void *ctx, char *errbuf)
{
    *out = NULL;
    conntab_config c;
    if (cfg)
        c = *cfg;
    else
        conntab_config_default(&c);
    if (c.tcp_timeout_us <= 0 || c.udp_timeout_us <= 0 || c.icmp_timeout_us <= 0 ||
        c.active_timeout_us <= 0 || c.linger_us < 0)
        return ss_errf(errbuf, SS_ERR_ARG, "conntab: timeouts must be positive");
    if (!emit)
        return ss_errf(errbuf, SS_ERR_ARG, "conntab: no emit callback");
    conntab *t = calloc(1, sizeof(*t));
    if (!t)
        return ss_errf(errbuf, SS_ERR_NOMEM, "conntab: out of memory");
    t->nslots = 2048;
    t->slots = calloc(t->nslots, sizeof(*t->slots));
    if (!t->slots) {
        free(t);
        return ss_errf(errbuf, SS_ERR_NOMEM, "conntab: out of memory");
    }
    t->cfg = c;
    t->emit = emit;
    t->ctx = ctx;
    t->st.buckets = t->nslots;
    *out = t;
    return SS_OK;
}

/* Allocates a zeroed connection on a cache-line boundary; NULL when out of
 * memory. */
static conn *conn_alloc(void)
{
    size_t size = (sizeof(conn) + CONN_ALIGN - 1) / CONN_ALIGN * CONN_ALIGN;
    conn *c = aligned_alloc(CONN_ALIGN, size);
    if (!c)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->ep[0].seq.holes = &c->holes[0];
    c->ep[1].seq.holes = &c->holes[1];
    return c;
}

static void conn_free(conn *c)
{
    if (!c)
        return;
    free(c->pkts);
    free(c);
}

void conntab_destroy(conntab *t)
{
    if (!t)
        return;
    if (t->cfg.stats_out)
        *t->cfg.stats_out = t->st;
    conn *c = t->lists[TLIST_ACTIVE].head;
    while (c) {
        conn *next = c->active.next;
        conn_free(c);
        c = next;
    }
    free(t->slots);
    free(t);
}

void conntab_get_stats(const conntab *t, conntab_stats *st)
{
    *st = t->st;
}

/* ---- timer lists ---------------------------------------------------- */

static tnode *node_of(conn *c, int which)
{
    return which == TLIST_ACTIVE ? &c->active : which == TLIST_ATTEMPT ? &c->att : &c->idle;
}

static void tlist_remove(conntab *t, int which, conn *c)
{
    tnode *n = node_of(c, which);
    tlist_head *h = &t->lists[which];
    if (n->prev)
        node_of(n->prev, which)->next = n->next;
    else
        h->head = n->next;
    if (n->next)
        node_of(n->next, which)->prev = n->prev;
    else
        h->tail = n->prev;
    n->prev = n->next = NULL;
}

static void tlist_append(conntab *t, int which, conn *c)
{
    tnode *n = node_of(c, which);
    tlist_head *h = &t->lists[which];
    n->next = NULL;
    n->prev = h->tail;
    if (h->tail)
        node_of(h->tail, which)->next = c;
    else
        h->head = c;
    h->tail = c;
}

static int64_t idle_timeout(const conntab *t, int which)
{
    switch (which) {
    case TLIST_TCP: return t->cfg.tcp_timeout_us;
    case TLIST_UDP: return t->cfg.udp_timeout_us;
    case TLIST_ICMP: return t->cfg.icmp_timeout_us;
    default: return t->cfg.linger_us;
    }
}

/* Records activity on c. Lists are lazy: c stays where it is (its queued
 * deadline becomes an underestimate) and is requeued only when it reaches
 * the head of its list (requeue_heads), so a packet does not touch the list
 * neighbours. It moves at once only when it changes list (TCP close). */
static void touch_idle(conntab *t, conn *c, int which)
{
    c->last_now = t->now;
    if (which == c->idle_list)
        return;
    tlist_remove(t, c->idle_list, c);
    c->idle_list = (uint8_t)which;
    c->idle_deadline = t->now + idle_timeout(t, which);
    tlist_append(t, which, c);
}

/* Real idle deadline of c: last activity plus its list's timeout. */
static int64_t real_deadline(const conntab *t, const conn *c)
{
    return c->last_now + idle_timeout(t, c->idle_list);
}

/* Moves heads of the idle lists whose queued deadline passed but whose real
 * one did not to the tail (with the real deadline, which is >= every queued
 * one as the clock never goes back), so each head is either not due or truly
 * expired. */
static void requeue_heads(conntab *t)
{
    for (int w = 0; w < TLIST_ACTIVE; w++) {
        conn *c;
        while ((c = t->lists[w].head) && c->idle_deadline < t->now) {
            int64_t d = real_deadline(t, c);
            if (d < t->now)
                break;
            tlist_remove(t, w, c);
            c->idle_deadline = d;
            tlist_append(t, w, c);
        }
    }
}

/* ---- hashing -------------------------------------------------------- */

/* Whether two 16-byte addresses are equal (inline, no library call). */
static int key16_eq(const uint8_t *x, const uint8_t *y)
{
    return ((hash_load64(x) ^ hash_load64(y)) | (hash_load64(x + 8) ^ hash_load64(y + 8))) == 0;
}

static uint64_t key_hash(const uint8_t *a, const uint8_t *b, uint16_t ap, uint16_t bp,
                         uint8_t family, uint8_t proto)
{
    uint64_t h = ((uint64_t)family << 56) ^ ((uint64_t)proto << 48) ^
                 ((uint64_t)ap << 16) ^ bp;
    return hash_addrs(h, a, b);
}

/* Doubles the slot array. Returns 0, or -1 when out of memory (the table
 * keeps its size). */
static int grow_slots(conntab *t)
{
    size_t n = t->nslots * 2, mask = n - 1;
    hslot *ns = calloc(n, sizeof(*ns));
    if (!ns)
        return -1;
    for (size_t i = 0; i < t->nslots; i++) {
        if (!t->slots[i].c)
            continue;
        size_t j = (size_t)t->slots[i].hash & mask;
        while (ns[j].c)
            j = (j + 1) & mask;
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->nslots = n;
    t->st.buckets = n;
    return 0;
}

/* Hash of c's key (key_hash). */
static uint64_t conn_hash(const conn *c)
{
    return key_hash(c->a, c->b, c->ap, c->bp, c->family, c->proto);
}

/* Inserts c, whose key hashes to h (not in the table; there is a free slot). */
static void hash_insert(conntab *t, conn *c, uint64_t h)
{
    size_t mask = t->nslots - 1, j = (size_t)h & mask;
    while (t->slots[j].c)
        j = (j + 1) & mask;
    t->slots[j].hash = h;
    t->slots[j].c = c;
}

/* Removes c, shifting back the entries after it so that every probe
 * sequence stays unbroken (no tombstones). */
static void hash_remove(conntab *t, conn *c)
{
    size_t mask = t->nslots - 1, j = (size_t)conn_hash(c) & mask;
    while (t->slots[j].c && t->slots[j].c != c)
        j = (j + 1) & mask;
    if (!t->slots[j].c)
        return;
    size_t hole = j;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j].c)
            break;
        size_t home = (size_t)t->slots[j].hash & mask;
        /* the entry at j may move to the hole if its home is not in (hole, j] */
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].c = NULL;
    t->slots[hole].hash = 0;
}

/* ---- ICMP message kinds ---------------------------------------------- */

/* Counterpart of an ICMP type (request <-> reply), or -1 if it has none. */
static int icmp_counterpart(int proto, int type)
{
    if (proto == IPPROTO_ICMP) {
        switch (type) {
        case 8: return 0;   case 0: return 8;   /* echo */
        case 13: return 14; case 14: return 13; /* timestamp */
        case 15: return 16; case 16: return 15; /* information */
        case 17: return 18; case 18: return 17; /* address mask */
        case 10: return 9;  case 9: return 10;  /* router solicitation/advert */
        default: return -1;
        }
    }
    switch (type) {
    case 128: return 129; case 129: return 128; /* echo */
    case 133: return 134; case 134: return 133; /* router sol./adv. */
    case 135: return 136; case 136: return 135; /* neighbor sol./adv. */
    case 139: return 140; case 140: return 139; /* node information */
    default: return -1;
    }
}

/* Key "port" of an ICMP message: the smaller type of a request/reply pair,
 * so both directions share one connection; the type itself otherwise. */
static uint16_t icmp_kind(int proto, int type)
{
    int other = icmp_counterpart(proto, type);
    return (uint16_t)(other >= 0 && other < type ? other : type);
}

/* ---- uids ----------------------------------------------------------- */

static void make_uid(char *uid, uint64_t serial)
{
    static const char digits[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    /* hash_mix64 is a bijection, so distinct serials give distinct uids */
    uint64_t v = hash_mix64(serial + 0x9e3779b97f4a7c15ULL);
    uid[0] = 'C';
    for (int i = 11; i >= 1; i--) {
        uid[i] = digits[v % 62];
        v /= 62;
    }
    memset(uid + 12, 0, CONNTAB_UID_SIZE - 12);
}

/* ---- sequence tracking ---------------------------------------------- */

static int64_t seq_rel(seqtrack *s, uint32_t seq)
{
    if (!s->init) {
        s->init = 1;
        s->ref32 = seq;
        s->ref_rel = (int64_t)1 << 32;
        return s->ref_rel;
    }
    int64_t r = s->ref_rel + (int32_t)(seq - s->ref32);
    if (r > s->ref_rel) {
        s->ref32 = seq;
        s->ref_rel = r;
    }
    return r;
}

static void hole_drop(seqtrack *s, int i)
{
    for (int j = i + 1; j < s->n_holes; j++) {
        s->holes->lo[j - 1] = s->holes->lo[j];
        s->holes->hi[j - 1] = s->holes->hi[j];
    }
    s->n_holes--;
}

static void hole_add(seqtrack *s, int64_t lo, int64_t hi)
{
    if (s->n_holes == SEQ_MAX_HOLES)
        hole_drop(s, 0); /* forget the oldest gap: its bytes count as seen */
    s->holes->lo[s->n_holes] = lo;
    s->holes->hi[s->n_holes] = hi;
    s->n_holes++;
}

/* Records payload bytes [lo, hi); returns how many were not seen before. */
static uint64_t seq_add(seqtrack *s, int64_t lo, int64_t hi)
{
    if (!s->have) {
        s->have = 1;
        s->lo = lo;
        s->hi = hi;
        return (uint64_t)(hi - lo);
    }
    if (lo >= s->hi) {
        if (lo > s->hi)
            hole_add(s, s->hi, lo);
        s->hi = hi;
        return (uint64_t)(hi - lo);
    }
    uint64_t fresh = 0;
    for (int i = 0; i < s->n_holes; i++) {
        int64_t olo = lo > s->holes->lo[i] ? lo : s->holes->lo[i];
        int64_t ohi = hi < s->holes->hi[i] ? hi : s->holes->hi[i];
        if (olo >= ohi)
            continue;
        fresh += (uint64_t)(ohi - olo);
        if (olo == s->holes->lo[i] && ohi == s->holes->hi[i]) {
            hole_drop(s, i);
            i--;
        } else if (olo == s->holes->lo[i]) {
            s->holes->lo[i] = ohi;
        } else if (ohi == s->holes->hi[i]) {
            s->holes->hi[i] = olo;
        } else {
            int64_t tail_lo = ohi, tail_hi = s->holes->hi[i];
            s->holes->hi[i] = olo;
            if (s->n_holes < SEQ_MAX_HOLES) {
                s->holes->lo[s->n_holes] = tail_lo;
                s->holes->hi[s->n_holes] = tail_hi;
                s->n_holes++;
            }
        }
    }
    if (hi > s->hi) {
        fresh += (uint64_t)(hi - s->hi);
        s->hi = hi;
    }
    if (lo < s->lo) {
        int64_t top = hi < s->lo ? hi : s->lo;
        fresh += (uint64_t)(top - lo);
        if (hi < s->lo)
            hole_add(s, hi, s->lo);
        s->lo = lo;
    }
    return fresh;
}

/* ---- TCP state ------------------------------------------------------ */

static void ep_set(endpoint *e, int state)
{
    e->prev_state = e->state;
    e->state = (uint8_t)state;
}

/* Endpoint state machine after Zeek's TCP analyzer (the transitions that
 * decide conn_state). */
static void tcp_state_update(conn *c, int dir, uint8_t fl, uint32_t len)
{
    endpoint *e = &c->ep[dir], *peer = &c->ep[!dir];
    int syn = fl & PACKET_TCP_SYN, ack = fl & PACKET_TCP_ACK;
    int fin = fl & PACKET_TCP_FIN, rst = fl & PACKET_TCP_RST;

    switch (e->state) {
    case EP_INACTIVE:
        if (syn) {
            if (dir == CONNTAB_DIR_ORIG) {
                ep_set(e, ack ? EP_SYN_ACK_SENT : EP_SYN_SENT);
            } else {
                if (peer->state == EP_SYN_SENT)
                    ep_set(peer, EP_ESTABLISHED);
                ep_set(e, EP_ESTABLISHED);
            }
        }
        if (fin)
            ep_set(e, EP_CLOSED);
        if (rst)
            ep_set(e, EP_RESET);
        if (e->state == EP_INACTIVE) {
            if (dir == CONNTAB_DIR_RESP && len == 0 &&
                c->ep[CONNTAB_DIR_ORIG].state == EP_SYN_SENT)
                ; /* an ACK of the SYN before the SYN-ACK: not a partial conn */
            else if (ack && peer->state == EP_ESTABLISHED)
                ep_set(e, EP_ESTABLISHED); /* missed the SYN, saw the SYN-ACK */
            else
                ep_set(e, EP_PARTIAL);
        }
        break;
    case EP_SYN_SENT:
    case EP_SYN_ACK_SENT:
        if (fin)
            ep_set(e, EP_CLOSED);
        if (rst)
            ep_set(e, EP_RESET);
        break;
    case EP_PARTIAL:
    case EP_ESTABLISHED:
        if (syn && e->state == EP_PARTIAL && peer->state == EP_INACTIVE && !ack)
            ep_set(e, EP_SYN_SENT);
        if (fin && !rst) {
            ep_set(e, EP_CLOSED);
            if (peer->state == EP_RESET && peer->prev_state == EP_CLOSED)
                ep_set(peer, EP_CLOSED); /* FIN then RST: a normal close */
        }
        if (rst)
            ep_set(e, EP_RESET);
        break;
    case EP_CLOSED:
        if (rst && peer->state != EP_CLOSED)
            ep_set(e, EP_RESET);
        break;
    default:
        break;
    }
}

/* Zeek's conn_state from the two endpoint states. */
static int tcp_conn_state(const conn *c)
{
    int os = c->ep[CONNTAB_DIR_ORIG].state, rs = c->ep[CONNTAB_DIR_RESP].state;
    int o_inactive = os == EP_INACTIVE || os == EP_PARTIAL;
    int r_inactive = rs == EP_INACTIVE || rs == EP_PARTIAL;

    if (rs == EP_RESET) {
        if (os == EP_SYN_SENT || os == EP_SYN_ACK_SENT ||
            (os == EP_RESET && c->rec.orig_bytes == 0 && c->rec.resp_bytes == 0))
            return CONNTAB_STATE_REJ;
        return o_inactive ? CONNTAB_STATE_RSTRH : CONNTAB_STATE_RSTR;
    }
    if (os == EP_RESET) {
        if (r_inactive)
            return c->rstos0 ? CONNTAB_STATE_RSTOS0 : CONNTAB_STATE_OTH;
        return CONNTAB_STATE_RSTO;
    }
    if (rs == EP_CLOSED && os == EP_CLOSED)
        return CONNTAB_STATE_SF;
    if (os == EP_CLOSED)
        return r_inactive ? CONNTAB_STATE_SH : CONNTAB_STATE_S2;
    if (rs == EP_CLOSED)
        return o_inactive ? CONNTAB_STATE_SHR : CONNTAB_STATE_S3;
    if (os == EP_SYN_SENT && rs == EP_INACTIVE)
        return CONNTAB_STATE_S0;
    if (os == EP_ESTABLISHED && rs == EP_ESTABLISHED)
        return CONNTAB_STATE_S1;
    return CONNTAB_STATE_OTH;
}

static int conn_state(const conn *c)
{
    if (c->proto == IPPROTO_TCP)
        return tcp_conn_state(c);
    /* UDP, ICMP: the originator is always active (Zeek: S0 or SF) */
    return c->rec.resp_pkts ? CONNTAB_STATE_SF : CONNTAB_STATE_S0;
}

/* ---- emission ------------------------------------------------------- */

/* Unlinks c from every structure, emits it with reason and frees it. */
static int conn_finish(conntab *t, conn *c, int reason, char *errbuf)
{
    hash_remove(t, c);
    tlist_remove(t, c->idle_list, c);
    tlist_remove(t, TLIST_ACTIVE, c);
    if (c->attempt)
        tlist_remove(t, TLIST_ATTEMPT, c);
    t->st.live--;
    if (reason == CONNTAB_END_EVICTED)
        t->st.evicted++;
    c->rec.state = (uint8_t)conn_state(c);
    c->rec.end_reason = (uint8_t)reason;
    c->rec.pkts = c->pkts;
    t->st.emitted++;
    int rc = t->emit(t->ctx, &c->rec, errbuf);
    conn_free(c);
    return rc;
}

int conntab_expire(conntab *t, int64_t now_us, char *errbuf)
{
    if (!t->have_now || now_us > t->now) {
        t->now = now_us;
        t->have_now = 1;
    }
    for (;;) {
        requeue_heads(t);
        conn *best = NULL;
        int best_list = -1;
        int64_t best_deadline = 0;
        for (int w = 0; w <= TLIST_ACTIVE; w++) {
            conn *c = t->lists[w].head;
            if (!c)
                continue;
            int64_t d = w == TLIST_ACTIVE ? c->active_deadline : real_deadline(t, c);
            if (d >= t->now)
                continue;
            if (!best || d < best_deadline ||
                (d == best_deadline && c->rec.serial < best->rec.serial)) {
                best = c;
                best_list = w;
                best_deadline = d;
            }
        }
        if (!best)
            return SS_OK;
        int reason = best_list == TLIST_ACTIVE ? CONNTAB_END_ACTIVE
                   : best_list == TLIST_LINGER ? CONNTAB_END_CLOSED
                                               : CONNTAB_END_IDLE;
        int rc = conn_finish(t, best, reason, errbuf);
        if (rc < 0)
            return rc;
    }
}

static int cmp_start(const void *pa, const void *pb)
{
    const conn *a = *(conn *const *)pa, *b = *(conn *const *)pb;
    if (a->rec.start_us != b->rec.start_us)
        return a->rec.start_us < b->rec.start_us ? -1 : 1;
    return a->rec.serial < b->rec.serial ? -1 : a->rec.serial > b->rec.serial;
}

int conntab_flush(conntab *t, char *errbuf)
{
    size_t n = (size_t)t->st.live;
    if (n == 0)
        return SS_OK;
    conn **all = malloc(n * sizeof(*all));
    if (!all)
        return ss_errf(errbuf, SS_ERR_NOMEM, "conntab: out of memory sorting %zu connections", n);
    size_t k = 0;
    for (conn *c = t->lists[TLIST_ACTIVE].head; c && k < n; c = c->active.next)
        all[k++] = c;
    qsort(all, k, sizeof(*all), cmp_start);
    int rc = SS_OK;
    for (size_t i = 0; i < k; i++) {
        if (rc < 0) {
            /* the consumer failed: free the rest without emitting */
            hash_remove(t, all[i]);
            tlist_remove(t, all[i]->idle_list, all[i]);
            tlist_remove(t, TLIST_ACTIVE, all[i]);
            if (all[i]->attempt)
                tlist_remove(t, TLIST_ATTEMPT, all[i]);
            t->st.live--;
            conn_free(all[i]);
            continue;
        }
        rc = conn_finish(t, all[i], CONNTAB_END_EOF, errbuf);
    }
    free(all);
    return rc;
}

/* ---- adding packets ------------------------------------------------- */

static int tracked_proto(const packet_t *p)
{
    return p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP ||
           p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6;
}

static int idle_list_for(int proto)
{
    return proto == IPPROTO_TCP ? TLIST_TCP : proto == IPPROTO_UDP ? TLIST_UDP : TLIST_ICMP;
}

/* Swaps the roles of originator and responder (SYN seen from the side that
 * was taken for the responder). */
static void conn_flip(conn *c)
{
    conntab_record *r = &c->rec;
    uint8_t tmp[16];
    memcpy(tmp, r->orig_h, 16);
    memcpy(r->orig_h, r->resp_h, 16);
    memcpy(r->resp_h, tmp, 16);
    uint16_t p = r->orig_p;
    r->orig_p = r->resp_p;
    r->resp_p = p;
    uint64_t v;
    v = r->orig_pkts; r->orig_pkts = r->resp_pkts; r->resp_pkts = v;
    v = r->orig_bytes; r->orig_bytes = r->resp_bytes; r->resp_bytes = v;
    v = r->orig_retrans; r->orig_retrans = r->resp_retrans; r->resp_retrans = v;
    endpoint e = c->ep[0];
    c->ep[0] = c->ep[1];
    c->ep[1] = e;
    c->orig_is_a ^= 1;
    c->rstos0 = 0;
    c->orig_rst = c->ep[0].state == EP_RESET;
    for (uint32_t i = 0; i < r->n_pkts; i++)
        c->pkts[i].dir ^= 1;
}

/* Makes room for one connection (the table holds cfg.max_open): emits the
 * oldest TCP attempt (no payload, no reply but RSTs), else the connection
 * whose inactivity timer runs out first (each idle list's head, requeued
 * until its queued deadline is its real one), as CONNTAB_END_EVICTED. */
static int evict_one(conntab *t, char *errbuf)
{
    conn *victim = t->lists[TLIST_ATTEMPT].head;
    if (!victim) {
        int64_t best = 0;
        for (int w = 0; w < TLIST_ACTIVE; w++) {
            conn *c;
            while ((c = t->lists[w].head) && real_deadline(t, c) > c->idle_deadline &&
                   c != t->lists[w].tail) {
                tlist_remove(t, w, c);
                c->idle_deadline = real_deadline(t, c);
                tlist_append(t, w, c);
            }
            if (!c)
                continue;
            int64_t d = real_deadline(t, c);
            if (!victim || d < best || (d == best && c->rec.serial < victim->rec.serial)) {
                victim = c;
                best = d;
            }
        }
    }
    if (!victim)
        return SS_OK;
    return conn_finish(t, victim, CONNTAB_END_EVICTED, errbuf);
}

static int conn_new(conntab *t, conn **out, const packet_t *p, const uint8_t *a,
                    const uint8_t *b, uint16_t ap, uint16_t bp, int src_is_a,
                    uint64_t h, char *errbuf)
{
    if (t->cfg.max_open && t->st.live >= t->cfg.max_open) {
        int rc = evict_one(t, errbuf);
        if (rc < 0)
            return rc;
    }
    if ((t->st.live + 1) * 2 > t->nslots && grow_slots(t) < 0 &&
        (t->st.live + 1) * 4 > t->nslots * 3)
        return ss_errf(errbuf, SS_ERR_NOMEM, "conntab: out of memory for the hash table");
    conn *c = conn_alloc();
    if (!c)
        return ss_errf(errbuf, SS_ERR_NOMEM, "conntab: out of memory for a connection");
    memcpy(c->a, a, 16);
    memcpy(c->b, b, 16);
    c->ap = ap;
    c->bp = bp;
    c->family = p->family;
    c->proto = p->proto;

    /* a SYN-ACK seen first answers its receiver's SYN */
    int syn_ack = p->proto == IPPROTO_TCP &&
                  (p->tcp_flags & (PACKET_TCP_SYN | PACKET_TCP_ACK)) ==
                      (PACKET_TCP_SYN | PACKET_TCP_ACK);
    int src_is_orig = !syn_ack;
    /* No handshake seen (TCP picked up midstream, UDP): as Zeek does, a
     * packet from a well-known port to an ephemeral one is the server
     * talking, so its receiver is taken for the originator. */
    int syn = p->proto == IPPROTO_TCP && (p->tcp_flags & PACKET_TCP_SYN);
    if (!syn && (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) &&
        p->sport < 1024 && p->dport >= 1024)
        src_is_orig = 0;
    c->orig_is_a = (uint8_t)(src_is_orig ? src_is_a : !src_is_a);

    conntab_record *r = &c->rec;
    r->serial = t->next_serial++;
    make_uid(r->uid, r->serial);
    r->family = p->family;
    r->proto = p->proto;
    memcpy(r->orig_h, src_is_orig ? p->src : p->dst, 16);
    memcpy(r->resp_h, src_is_orig ? p->dst : p->src, 16);
    if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
        int other = icmp_counterpart(p->proto, p->sport);
        r->orig_p = p->sport;
        r->resp_p = (uint16_t)(other >= 0 ? other : p->dport);
    } else {
        r->orig_p = src_is_orig ? p->sport : p->dport;
        r->resp_p = src_is_orig ? p->dport : p->sport;
    }
    r->start_us = p->ts_us;
    r->end_us = p->ts_us;
    c->rstos0 = p->proto == IPPROTO_TCP && !syn_ack &&
                (p->tcp_flags & (PACKET_TCP_SYN | PACKET_TCP_FIN | PACKET_TCP_RST |
                                 PACKET_TCP_ACK)) == PACKET_TCP_SYN;

    hash_insert(t, c, h);
    c->idle_list = (uint8_t)idle_list_for(p->proto);
    c->idle_deadline = t->now + idle_timeout(t, c->idle_list);
    c->last_now = t->now;
    tlist_append(t, c->idle_list, c);
    c->active_deadline = t->now + t->cfg.active_timeout_us;
    tlist_append(t, TLIST_ACTIVE, c);
    if (p->proto == IPPROTO_TCP) {
        c->attempt = 1;
        tlist_append(t, TLIST_ATTEMPT, c);
    }

    t->st.created++;
    t->st.live++;
    if (t->st.live > t->st.peak_live)
        t->st.peak_live = t->st.live;
    *out = c;
    return SS_OK;
}

static int record_packet(conn *c, const conntab_config *cfg, const packet_t *p,
                         int dir, int retrans, char *errbuf)
{
    conntab_record *r = &c->rec;
    if (r->n_pkts >= cfg->max_pkts ||
        (cfg->keep_us > 0 && p->ts_us - r->start_us >= cfg->keep_us))
        return SS_OK;
    if (r->n_pkts == c->pkts_cap) {
        uint32_t cap = c->pkts_cap ? c->pkts_cap * 2 : 8;
        if (cap > cfg->max_pkts)
            cap = cfg->max_pkts;
        conntab_pkt *np = realloc(c->pkts, (size_t)cap * sizeof(*np));
        if (!np)
            return ss_errf(errbuf, SS_ERR_NOMEM, "conntab: out of memory for a packet record");
        c->pkts = np;
        c->pkts_cap = cap;
    }
    conntab_pkt *k = &c->pkts[r->n_pkts++];
    k->dt_us = p->ts_us - r->start_us;
    k->payload_len = p->payload_len;
    k->dir = (uint8_t)dir;
    k->tcp_flags = p->proto == IPPROTO_TCP ? p->tcp_flags : 0;
    k->retrans = (uint8_t)retrans;
    k->pad_ = 0;
    return SS_OK;
}

/* TCP part of a packet: bytes, retransmissions, state, close. Returns 1 if
 * the payload was already fully seen. */
static int tcp_update(conn *c, const packet_t *p, int dir)
{
    endpoint *e = &c->ep[dir], *peer = &c->ep[!dir];
    uint8_t fl = p->tcp_flags;
    int syn = fl & PACKET_TCP_SYN, rst = fl & PACKET_TCP_RST;
    int fin = fl & PACKET_TCP_FIN, ack = fl & PACKET_TCP_ACK;
    int retrans = 0;
    uint64_t *bytes = dir == CONNTAB_DIR_ORIG ? &c->rec.orig_bytes : &c->rec.resp_bytes;

    if (p->payload_len > 0 && !rst) {
        int64_t lo = seq_rel(&e->seq, p->seq) + (syn ? 1 : 0);
        uint64_t fresh = seq_add(&e->seq, lo, lo + p->payload_len);
        *bytes += fresh;
        retrans = fresh == 0;
    }
    if (retrans) {
        if (dir == CONNTAB_DIR_ORIG)
            c->rec.orig_retrans++;
        else
            c->rec.resp_retrans++;
    }

    /* Zeek's history check for RSTOS0: ^S[^HAFGIQ]*R on the originator */
    if (dir == CONNTAB_DIR_ORIG && !c->orig_rst) {
        int nbits = !!syn + !!fin + !!rst;
        if (nbits > 1 || (syn && ack) || fin ||
            (nbits == 0 && ack && p->payload_len == 0))
            c->rstos0 = 0;
        if (rst)
            c->orig_rst = 1;
    }
    if (syn)
        e->syn_seen = 1;
    if (!rst)
        e->spoke = 1;

    tcp_state_update(c, dir, fl, p->payload_len);

    if (fin && !e->fin_seen) {
        e->fin_seen = 1;
        e->fin_next = p->seq + p->payload_len + (syn ? 1u : 0u) + 1u;
    }
    if (ack && !rst && peer->fin_seen && !peer->fin_acked &&
        (int32_t)(p->ack - peer->fin_next) >= 0)
        peer->fin_acked = 1;
    if (!c->closing && (rst || (e->fin_acked && peer->fin_acked)))
        c->closing = 1;
    return retrans;
}

/* A packet's normalized key: side a is the smaller (address, port). */
typedef struct pkey {
    uint8_t a[16], b[16];
    uint16_t ap, bp;
    int src_is_a;
    int icmp;
    uint64_t hash;
} pkey;

static void pkey_make(pkey *k, const packet_t *p)
{
    k->icmp = p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6;
    uint16_t sp = k->icmp ? icmp_kind(p->proto, p->sport) : p->sport;
    uint16_t dp = k->icmp ? sp : p->dport;
    uint8_t src[16], dst[16];
    memset(src, 0, 16);
    memset(dst, 0, 16);
    memcpy(src, p->src, p->family == 4 ? 4 : 16);
    memcpy(dst, p->dst, p->family == 4 ? 4 : 16);
    int cmp = memcmp(src, dst, 16);
    k->src_is_a = cmp < 0 || (cmp == 0 && sp <= dp);
    memcpy(k->a, k->src_is_a ? src : dst, 16);
    memcpy(k->b, k->src_is_a ? dst : src, 16);
    k->ap = k->src_is_a ? sp : dp;
    k->bp = k->src_is_a ? dp : sp;
    k->hash = key_hash(k->a, k->b, k->ap, k->bp, p->family, p->proto);
}

static int add_keyed(conntab *t, const packet_t *p, const pkey *k, char *errbuf);

int conntab_add(conntab *t, const packet_t *p, char *errbuf)
{
    pkey k;
    pkey_make(&k, p);
    return add_keyed(t, p, &k, errbuf);
}

int conntab_read(conntab *t, pcapsrc *src, char *errbuf)
{
    packet_t batch[CONNTAB_BATCH];
    size_t nb = 0;
    for (;;) {
        int got = pcapsrc_next_packet(src, &batch[nb], NULL, errbuf);
        if (got > 0)
            nb++;
        if (nb == CONNTAB_BATCH || (got <= 0 && nb > 0)) {
            int rc = conntab_add_batch(t, batch, nb, errbuf);
            if (rc < 0)
                return rc;
            nb = 0;
        }
        if (got < 0)
            return got;
        if (got == 0)
            break;
    }
    return conntab_flush(t, errbuf);
}

int conntab_read_files(const char *const *paths, size_t n, const conntab_config *cfg,
                       conntab_emit_fn emit, void *ctx, pcapsrc_warn_fn warn, void *warn_ctx,
                       int64_t *spans, char *errbuf)
{
    pcapsrc *src = NULL;
    conntab *t = NULL;
    int rc = pcapsrc_open(&src, paths, n, warn, warn_ctx, errbuf);
    if (rc == 0)
        rc = conntab_create(&t, cfg, emit, ctx, errbuf);
    if (rc == 0)
        rc = conntab_read(t, src, errbuf);
    for (size_t i = 0; spans && i < n; i++)
        if (!pcapsrc_file_span(src, i, &spans[2 * i], &spans[2 * i + 1])) {
            spans[2 * i] = INT64_MAX;
            spans[2 * i + 1] = INT64_MIN;
        }
    conntab_destroy(t);
    pcapsrc_close(src);
    return rc;
}

int conntab_add_batch(conntab *t, const packet_t *pkts, size_t n, char *errbuf)
{
    pkey k[CONNTAB_BATCH];
    while (n > 0) {
        size_t m = n < CONNTAB_BATCH ? n : CONNTAB_BATCH;
        /* start the memory loads of every lookup before using any: the
         * table is much larger than the caches */
        size_t mask = t->nslots - 1;
        for (size_t i = 0; i < m; i++) {
            pkey_make(&k[i], &pkts[i]);
            __builtin_prefetch(&t->slots[(size_t)k[i].hash & mask]);
        }
        /* then the hot part of each likely connection (a hint only: the
         * packets before it may still create or end connections) */
        conn *hint[CONNTAB_BATCH];
        for (size_t i = 0; i < m; i++) {
            hint[i] = NULL;
            for (size_t j = (size_t)k[i].hash & mask; t->slots[j].c; j = (j + 1) & mask) {
                if (t->slots[j].hash == k[i].hash) {
                    hint[i] = t->slots[j].c;
                    for (size_t off = 0; off < CONN_HOT_BYTES; off += CONN_ALIGN)
                        __builtin_prefetch((const char *)hint[i] + off);
                    break;
                }
            }
        }
        /* and where each one's next packet record goes */
        for (size_t i = 0; i < m; i++) {
            conn *c = hint[i];
            if (c && c->pkts && c->rec.n_pkts < c->pkts_cap)
                __builtin_prefetch(&c->pkts[c->rec.n_pkts], 1);
        }
        for (size_t i = 0; i < m; i++) {
            int rc = add_keyed(t, &pkts[i], &k[i], errbuf);
            if (rc < 0)
                return rc;
        }
        pkts += m;
        n -= m;
    }
    return SS_OK;
}

static int add_keyed(conntab *t, const packet_t *p, const pkey *k, char *errbuf)
{
    t->st.packets++;
    if (!tracked_proto(p) || (p->family != 4 && p->family != 6)) {
        t->st.ignored++;
        return SS_OK;
    }
    int rc = conntab_expire(t, p->ts_us, errbuf);
    if (rc < 0)
        return rc;

    int icmp = k->icmp, src_is_a = k->src_is_a;
    const uint8_t *a = k->a, *b = k->b;
    uint16_t ap = k->ap, bp = k->bp;
    uint64_t h = k->hash;

    conn *c = NULL;
    size_t mask = t->nslots - 1;
    for (size_t j = (size_t)h & mask; t->slots[j].c; j = (j + 1) & mask) {
        conn *x = t->slots[j].c;
        if (t->slots[j].hash == h && x->ap == ap && x->bp == bp && x->family == p->family &&
            x->proto == p->proto && key16_eq(x->a, a) && key16_eq(x->b, b)) {
            c = x;
            break;
        }
    }

    int pure_syn = p->proto == IPPROTO_TCP &&
                   (p->tcp_flags & (PACKET_TCP_SYN | PACKET_TCP_ACK | PACKET_TCP_RST)) ==
                       PACKET_TCP_SYN;
    if (c && (real_deadline(t, c) < t->now || c->active_deadline < t->now)) {
        /* due but not emitted yet (lazy lists): this packet starts anew */
        int reason = c->active_deadline < t->now ? CONNTAB_END_ACTIVE
                   : c->idle_list == TLIST_LINGER ? CONNTAB_END_CLOSED
                                                  : CONNTAB_END_IDLE;
        rc = conn_finish(t, c, reason, errbuf);
        if (rc < 0)
            return rc;
        c = NULL;
    }
    if (c && pure_syn && c->closing) {
        rc = conn_finish(t, c, CONNTAB_END_REUSE, errbuf);
        if (rc < 0)
            return rc;
        c = NULL;
    }
    int created = 0;
    if (!c) {
        rc = conn_new(t, &c, p, a, b, ap, bp, src_is_a, h, errbuf);
        if (rc < 0)
            return rc;
        created = 1;
    }

    int dir = (src_is_a == c->orig_is_a) ? CONNTAB_DIR_ORIG : CONNTAB_DIR_RESP;
    if (icmp && icmp_counterpart(p->proto, p->sport) >= 0) /* request or reply */
        dir = p->sport == c->rec.orig_p ? CONNTAB_DIR_ORIG : CONNTAB_DIR_RESP;
    if (p->proto == IPPROTO_TCP && pure_syn && dir == CONNTAB_DIR_RESP &&
        !c->ep[0].syn_seen && !c->ep[1].syn_seen) {
        conn_flip(c);
        dir = CONNTAB_DIR_ORIG;
    }

    conntab_record *r = &c->rec;
    if (p->ts_us > r->end_us)
        r->end_us = p->ts_us;
    int retrans = 0;
    if (dir == CONNTAB_DIR_ORIG)
        r->orig_pkts++;
    else
        r->resp_pkts++;
    if (p->proto == IPPROTO_TCP) {
        retrans = tcp_update(c, p, dir);
        /* an attempt no more once a byte of payload or a reply is seen */
        if (c->attempt && (r->orig_bytes + r->resp_bytes > 0 ||
                           (c->ep[0].spoke && c->ep[1].spoke))) {
            tlist_remove(t, TLIST_ATTEMPT, c);
            c->attempt = 0;
        }
    } else if (dir == CONNTAB_DIR_ORIG) {
        r->orig_bytes += p->payload_len;
    } else {
        r->resp_bytes += p->payload_len;
    }
    rc = record_packet(c, &t->cfg, p, dir, retrans, errbuf);
    if (rc < 0)
        return rc;
    touch_idle(t, c, c->closing ? TLIST_LINGER : idle_list_for(p->proto));
    if (t->cfg.watch) {
        conntab_pkt kp;
        kp.dt_us = p->ts_us - r->start_us;
        kp.payload_len = p->payload_len;
        kp.dir = (uint8_t)dir;
        kp.tcp_flags = p->proto == IPPROTO_TCP ? p->tcp_flags : 0;
        kp.retrans = (uint8_t)retrans;
        kp.pad_ = 0;
        r->pkts = NULL;
        rc = t->cfg.watch(t->cfg.watch_ctx, r, &kp, created, errbuf);
        if (rc < 0)
            return rc;
    }
    return SS_OK;
}

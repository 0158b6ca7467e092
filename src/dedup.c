/* dedup.c - drops the second copy of a packet captured by two sensors.
 *
 * A FIFO ring of the signatures remembered, in arrival (time) order, says
 * which to forget next; an open-addressing hash table (linear probing, at
 * most half full, backward-shift deletion) finds a signature. The table
 * holds one entry per signature: the time and source of the copy that was
 * counted last. The ring may hold older records of a signature whose entry
 * was refreshed since; those are recognized by their time and source and
 * do not remove the entry.
 */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "status.h"

typedef struct dedup_rec {
    uint64_t sig;
    int64_t ts_us;
    uint32_t src1; /* source + 1; 0: empty slot */
    uint32_t pad_;
} dedup_rec;

struct dedup {
    int64_t window_us;
    size_t max_entries;
    dedup_rec *slots;    /* hash table */
    size_t nslots;       /* power of two */
    size_t used;         /* entries in the table */
    dedup_rec *ring;     /* FIFO of remembered signatures */
    size_t ring_cap;     /* power of two */
    size_t ring_head, ring_len;
    uint64_t dropped;
};

uint64_t dedup_signature(const packet_t *p)
{
    uint64_t h = ((uint64_t)p->family << 56) ^ ((uint64_t)p->proto << 48) ^
                 ((uint64_t)p->tcp_flags << 40) ^ ((uint64_t)p->ip_id << 24) ^
                 ((uint64_t)p->sport << 8) ^ 0x5bd1e995u;
    h = hash_addrs(h, p->src, p->dst);
    h = hash_mix64(h ^ (((uint64_t)p->dport << 32) | p->payload_len));
    h = hash_mix64(h ^ (((uint64_t)p->seq << 32) | p->ack));
    return h;
}

int dedup_create(dedup **out, int64_t window_us, size_t max_entries, char *errbuf)
{
    if (!out)
        return ss_errf(errbuf, SS_ERR_ARG, "dedup_create: no output pointer");
    *out = NULL;
    if (window_us <= 0)
        return ss_errf(errbuf, SS_ERR_ARG, "dedup: the window must be positive");
    if (max_entries == 0)
        max_entries = DEDUP_DEFAULT_MAX_ENTRIES;
    if (max_entries < 16 || max_entries > ((size_t)1 << 40))
        return ss_errf(errbuf, SS_ERR_ARG, "dedup: max_entries out of range");
    dedup *d = calloc(1, sizeof(*d));
    if (!d)
        return ss_errf(errbuf, SS_ERR_NOMEM, "dedup: out of memory");
    d->window_us = window_us;
    d->max_entries = max_entries;
    d->nslots = 64;
    d->ring_cap = 32;
    d->slots = calloc(d->nslots, sizeof(*d->slots));
    d->ring = calloc(d->ring_cap, sizeof(*d->ring));
    if (!d->slots || !d->ring) {
        dedup_destroy(d);
        return ss_errf(errbuf, SS_ERR_NOMEM, "dedup: out of memory");
    }
    *out = d;
    return SS_OK;
}

void dedup_destroy(dedup *d)
{
    if (!d)
        return;
    free(d->slots);
    free(d->ring);
    free(d);
}

uint64_t dedup_dropped(const dedup *d)
{
    return d ? d->dropped : 0;
}

/* Slot holding sig, or the empty slot where it would go. */
static size_t dedup_find(const dedup *d, uint64_t sig)
{
    size_t mask = d->nslots - 1, j = (size_t)sig & mask;
    while (d->slots[j].src1 && d->slots[j].sig != sig)
        j = (j + 1) & mask;
    return j;
}

static void dedup_remove_at(dedup *d, size_t hole)
{
    size_t mask = d->nslots - 1, j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (!d->slots[j].src1)
            break;
        size_t home = (size_t)d->slots[j].sig & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            d->slots[hole] = d->slots[j];
            hole = j;
        }
    }
    memset(&d->slots[hole], 0, sizeof(d->slots[hole]));
    d->used--;
}

/* Forgets the oldest ring record (and its table entry if not refreshed). */
static void dedup_pop(dedup *d)
{
    const dedup_rec *r = &d->ring[d->ring_head];
    size_t j = dedup_find(d, r->sig);
    if (d->slots[j].src1 && d->slots[j].ts_us == r->ts_us && d->slots[j].src1 == r->src1)
        dedup_remove_at(d, j);
    d->ring_head = (d->ring_head + 1) & (d->ring_cap - 1);
    d->ring_len--;
}

static int dedup_grow_slots(dedup *d)
{
    size_t n = d->nslots * 2, mask = n - 1;
    dedup_rec *ns = calloc(n, sizeof(*ns));
    if (!ns)
        return -1;
    for (size_t i = 0; i < d->nslots; i++) {
        if (!d->slots[i].src1)
            continue;
        size_t j = (size_t)d->slots[i].sig & mask;
        while (ns[j].src1)
            j = (j + 1) & mask;
        ns[j] = d->slots[i];
    }
    free(d->slots);
    d->slots = ns;
    d->nslots = n;
    return 0;
}

static int dedup_grow_ring(dedup *d)
{
    size_t n = d->ring_cap * 2;
    dedup_rec *nr = malloc(n * sizeof(*nr));
    if (!nr)
        return -1;
    for (size_t i = 0; i < d->ring_len; i++)
        nr[i] = d->ring[(d->ring_head + i) & (d->ring_cap - 1)];
    free(d->ring);
    d->ring = nr;
    d->ring_cap = n;
    d->ring_head = 0;
    return 0;
}

int dedup_check(dedup *d, const packet_t *pkt, size_t source, char *errbuf)
{
    int64_t t = pkt->ts_us;
    uint32_t src1 = (uint32_t)source + 1;
    while (d->ring_len > 0 && (d->ring[d->ring_head].ts_us < t - d->window_us ||
                               d->ring_len >= d->max_entries))
        dedup_pop(d);

    uint64_t sig = dedup_signature(pkt);
    size_t j = dedup_find(d, sig);
    dedup_rec *e = &d->slots[j];
    if (e->src1) {
        int64_t age = t - e->ts_us;
        if (age < 0)
            age = -age;
        if (age <= d->window_us && e->src1 != src1) {
            d->dropped++;
            return 1;
        }
    }
    /* remember it: a new entry, or a refresh by the same (or a late) source */
    if (d->ring_len == d->ring_cap && dedup_grow_ring(d) < 0)
        return ss_errf(errbuf, SS_ERR_NOMEM, "dedup: out of memory");
    if (!e->src1) {
        if ((d->used + 1) * 2 > d->nslots) {
            if (dedup_grow_slots(d) < 0)
                return ss_errf(errbuf, SS_ERR_NOMEM, "dedup: out of memory");
            j = dedup_find(d, sig);
            e = &d->slots[j];
        }
        d->used++;
    }
    e->sig = sig;
    e->ts_us = t;
    e->src1 = src1;
    dedup_rec *r = &d->ring[(d->ring_head + d->ring_len) & (d->ring_cap - 1)];
    *r = *e;
    d->ring_len++;
    return 0;
}

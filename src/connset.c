/* connset.c - an owned, indexed set of connection records. */
#include "connset.h"

#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "status.h"

struct connset {
    conntab_record *recs; /* pkts of each points to its own malloc'd copy */
    size_t n, cap;
};

void connset_config_default(connset_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    conntab_config_default(&cfg->tab);
    cfg->tab.max_pkts = CONNSET_SCORE_MAX_PKTS;
}

int connset_create(connset **out, char *errbuf)
{
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for a connection set");
    return SS_OK;
}

int connset_add(connset *set, const conntab_record *rec, char *errbuf)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 256;
        conntab_record *r = realloc(set->recs, cap * sizeof(*r));
        if (!r)
            return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu connections", cap);
        set->recs = r;
        set->cap = cap;
    }
    conntab_record *dst = &set->recs[set->n];
    *dst = *rec;
    dst->pkts = NULL;
    if (rec->n_pkts) {
        conntab_pkt *p = malloc((size_t)rec->n_pkts * sizeof(*p));
        if (!p)
            return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %u packets",
                           (unsigned)rec->n_pkts);
        memcpy(p, rec->pkts, (size_t)rec->n_pkts * sizeof(*p));
        dst->pkts = p;
    } else {
        dst->n_pkts = 0;
    }
    set->n++;
    return SS_OK;
}

static int rec_cmp(const void *a, const void *b)
{
    const conntab_record *x = a, *y = b;
    if (x->start_us != y->start_us)
        return x->start_us < y->start_us ? -1 : 1;
    return (x->serial > y->serial) - (x->serial < y->serial);
}

void connset_sort(connset *set)
{
    if (set->n > 1)
        qsort(set->recs, set->n, sizeof(*set->recs), rec_cmp);
}

typedef struct load_ctx {
    connset *set;
    int tcp_only;
} load_ctx;

static int load_emit(void *ctx, const conntab_record *rec, char *errbuf)
{
    load_ctx *lc = ctx;
    if (lc->tcp_only && rec->proto != 6)
        return SS_OK;
    return connset_add(lc->set, rec, errbuf);
}

int connset_load(connset **out, const char *const *paths, size_t n,
                 const connset_config *cfg, char *errbuf)
{
    connset_config def;
    if (!cfg) {
        connset_config_default(&def);
        cfg = &def;
    }
    *out = NULL;
    connset *set = NULL;
    int rc = connset_create(&set, errbuf);
    if (rc < 0)
        return rc;
    load_ctx lc = {set, cfg->tcp_only};
    rc = conntab_read_files(paths, n, &cfg->tab, load_emit, &lc, cfg->warn, cfg->warn_ctx,
                            cfg->file_spans, errbuf);
    if (rc < 0) {
        connset_free(set);
        return rc;
    }
    connset_sort(set);
    *out = set;
    return SS_OK;
}

size_t connset_count(const connset *set)
{
    return set ? set->n : 0;
}

const conntab_record *connset_get(const connset *set, size_t i)
{
    return i < set->n ? &set->recs[i] : NULL;
}

static int ends_match(const uint8_t *x, uint16_t xp, const uint8_t *a, uint16_t ap,
                      size_t alen)
{
    return xp == ap && !memcmp(x, a, alen);
}

long connset_find(const connset *set, uint8_t proto, uint8_t family,
                  const uint8_t *a, uint16_t aport, const uint8_t *b,
                  uint16_t bport, int64_t t0_us, int64_t t1_us)
{
    size_t alen = family == 6 ? 16 : 4;
    long best = -1;
    int64_t best_ov = INT64_MIN;
    for (size_t i = 0; i < set->n; i++) {
        const conntab_record *r = &set->recs[i];
        if (r->proto != proto || r->family != family)
            continue;
        int fwd = ends_match(r->orig_h, r->orig_p, a, aport, alen) &&
                  ends_match(r->resp_h, r->resp_p, b, bport, alen);
        int rev = ends_match(r->orig_h, r->orig_p, b, bport, alen) &&
                  ends_match(r->resp_h, r->resp_p, a, aport, alen);
        if (!fwd && !rev)
            continue;
        if (t0_us > t1_us)
            return (long)i;
        int64_t lo = r->start_us > t0_us ? r->start_us : t0_us;
        int64_t hi = r->end_us < t1_us ? r->end_us : t1_us;
        int64_t ov = hi - lo;
        if (ov > best_ov) {
            best_ov = ov;
            best = (long)i;
        }
    }
    return best;
}

void connset_free(connset *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        free((void *)set->recs[i].pkts);
    free(set->recs);
    free(set);
}

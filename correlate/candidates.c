/* candidates.c - candidate relay hops by a per-host sweep over time. */
#include "candidates.h"

#include <stdlib.h>
#include <string.h>

#include "status.h"

/* One leg seen from its host: the host address, the leg's kind and times. */
typedef struct leg {
    uint8_t family;
    uint8_t host[16];
    uint8_t outbound; /* 0: host is the responder (inbound), 1: originator */
    uint32_t idx;
    int64_t key;      /* sweep order: start, + max_lead for outbound legs */
    int64_t start_us, end_us;
} leg;

void candidates_config_default(candidates_config *cfg)
{
    cfg->min_overlap_us = 0;
    cfg->min_pkts = 1;
    cfg->max_lead_us = 5000000; /* netcat pipelines connect onward first */
}

/* Groups legs by host, then by start time; inbound before outbound at the
 * same start so an outbound starting with its inbound sees it. */
static int leg_cmp(const void *pa, const void *pb)
{
    const leg *a = pa, *b = pb;
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    int c = memcmp(a->host, b->host, 16);
    if (c)
        return c;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->outbound != b->outbound)
        return a->outbound < b->outbound ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int pair_cmp(const void *pa, const void *pb)
{
    const candidates_pair *a = pa, *b = pb;
    if (a->out != b->out)
        return a->out < b->out ? -1 : 1;
    return (a->in > b->in) - (a->in < b->in);
}

static int same_host(const leg *a, const leg *b)
{
    return a->family == b->family && !memcmp(a->host, b->host, 16);
}

int candidates_find(candidates_pair **out, size_t *n, const connset *set,
                    const candidates_config *cfg, char *errbuf)
{
    candidates_config def;
    if (!cfg) {
        candidates_config_default(&def);
        cfg = &def;
    }
    *out = NULL;
    *n = 0;
    if (cfg->min_overlap_us < 0 || cfg->max_lead_us < 0)
        return ss_errf(errbuf, SS_ERR_ARG, "minimum overlap and maximum lead must not be negative");
    size_t nc = connset_count(set);
    if (nc > UINT32_MAX)
        return ss_errf(errbuf, SS_ERR_ARG, "too many connections (%zu)", nc);
    leg *legs = malloc((nc ? nc : 1) * 2 * sizeof(*legs));
    uint32_t *active = malloc((nc ? nc : 1) * sizeof(*active));
    candidates_pair *pairs = NULL;
    size_t np = 0, cap = 0;
    int rc = SS_OK;
    if (!legs || !active) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu connections", nc);
        goto done;
    }
    size_t nl = 0;
    for (size_t i = 0; i < nc; i++) {
        const conntab_record *r = connset_get(set, i);
        if (r->proto != 6 || r->orig_pkts + r->resp_pkts < cfg->min_pkts)
            continue;
        for (int o = 0; o < 2; o++) {
            leg *l = &legs[nl++];
            memset(l, 0, sizeof(*l));
            l->family = r->family;
            memcpy(l->host, o ? r->orig_h : r->resp_h, r->family == 6 ? 16 : 4);
            l->outbound = (uint8_t)o;
            l->idx = (uint32_t)i;
            l->start_us = r->start_us;
            l->end_us = r->end_us;
            l->key = r->start_us + (o ? cfg->max_lead_us : 0);
        }
    }
    qsort(legs, nl, sizeof(*legs), leg_cmp);

    /* Sweep each host's legs by key: `active` holds the inbound legs
     * (positions in legs[]) that started early enough and may still overlap. */
    for (size_t h = 0; h < nl;) {
        size_t e = h;
        while (e < nl && same_host(&legs[h], &legs[e]))
            e++;
        size_t na = 0;
        for (size_t k = h; k < e; k++) {
            const leg *l = &legs[k];
            if (!l->outbound) {
                active[na++] = (uint32_t)k;
                continue;
            }
            const conntab_record *ro = connset_get(set, l->idx);
            size_t keep = 0;
            for (size_t a = 0; a < na; a++) {
                const leg *in = &legs[active[a]];
                /* An inbound that ended before this outbound started can
                 * overlap no later outbound either (later keys, later starts). */
                if (in->end_us < l->start_us)
                    continue;
                active[keep++] = active[a];
                if (in->idx == l->idx)
                    continue;
                int64_t end = in->end_us < l->end_us ? in->end_us : l->end_us;
                int64_t beg = in->start_us > l->start_us ? in->start_us : l->start_us;
                if (end - beg < cfg->min_overlap_us)
                    continue;
                const conntab_record *ri = connset_get(set, in->idx);
                if (!memcmp(ro->resp_h, ri->orig_h, ro->family == 6 ? 16 : 4))
                    continue; /* the reverse leg */
                if (np == cap) {
                    size_t nc2 = cap ? cap * 2 : 256;
                    candidates_pair *p = realloc(pairs, nc2 * sizeof(*p));
                    if (!p) {
                        rc = ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu candidates",
                                     nc2);
                        goto done;
                    }
                    pairs = p;
                    cap = nc2;
                }
                pairs[np].in = in->idx;
                pairs[np].out = l->idx;
                np++;
            }
            na = keep;
        }
        h = e;
    }
    if (np > 1)
        qsort(pairs, np, sizeof(*pairs), pair_cmp);
    *out = pairs;
    *n = np;
    pairs = NULL;
done:
    free(pairs);
    free(legs);
    free(active);
    return rc;
}

void candidates_free(candidates_pair *pairs)
{
    free(pairs);
}

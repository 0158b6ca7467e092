/* chains.c - links scored candidate hops into relay chains. */
#include "chains.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

static int hop_cmp(const void *pa, const void *pb)
{
    const chains_hop *a = pa, *b = pb;
    if (a->out != b->out)
        return a->out < b->out ? -1 : 1;
    return (a->in > b->in) - (a->in < b->in);
}

/* A candidate while matching: its pair and its position in the input. */
typedef struct cand {
    uint32_t out, in;
    size_t i;
} cand;

static int cand_cmp(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->out != b->out)
        return a->out < b->out ? -1 : 1;
    if (a->in != b->in)
        return a->in < b->in ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

long chains_pick(const double *scores, size_t n, double threshold)
{
    long best = -1;
    for (size_t i = 0; i < n; i++)
        if (scores[i] >= threshold && (best < 0 || scores[i] > scores[best]))
            best = (long)i;
    return best;
}

void chains_free(chains_result *res)
{
    if (!res)
        return;
    free(res->hops);
    free(res->chains);
    free(res->conns);
    free(res->loose);
    memset(res, 0, sizeof(*res));
}

/* Growable output arrays while walking the forest. */
typedef struct walker {
    chains_result *res;
    size_t cap_chains, cap_conns;
    const size_t *child_first; /* hops feeding from a connection: hop indices */
    const size_t *child_count;
    const uint32_t *child_hops; /* hop indices sorted by (in, out) */
    uint32_t *path;             /* connection indices from the root */
    double *path_score;         /* min hop score along path[0..k] */
    unsigned char *on_path;
    size_t *kids;               /* children followed at each depth */
} walker;

static int emit_chain(walker *w, size_t len, double score, char *errbuf)
{
    chains_result *r = w->res;
    if (r->n_chains == w->cap_chains) {
        size_t cap = w->cap_chains ? w->cap_chains * 2 : 64;
        chains_chain *c = realloc(r->chains, cap * sizeof(*c));
        if (!c)
            return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for chains");
        r->chains = c;
        w->cap_chains = cap;
    }
    while (r->n_conns_total + len > w->cap_conns) {
        size_t cap = w->cap_conns ? w->cap_conns * 2 : 256;
        uint32_t *c = realloc(r->conns, cap * sizeof(*c));
        if (!c)
            return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for chains");
        r->conns = c;
        w->cap_conns = cap;
    }
    chains_chain *ch = &r->chains[r->n_chains++];
    ch->first = r->n_conns_total;
    ch->n_conns = len;
    ch->score = score;
    memcpy(r->conns + r->n_conns_total, w->path, len * sizeof(*w->path));
    r->n_conns_total += len;
    return SS_OK;
}

/* Depth-first from the root path[0], iteratively (a chain may be as long
 * as the capture allows): iter[k] is the next child hop to try at depth k.
 * A connection already on the path ends the walk (a cycle can only come
 * from equal start times; it is cut, not followed). */
static int walk(walker *w, size_t *iter, char *errbuf)
{
    size_t len = 1;
    iter[0] = 0;
    w->kids[0] = 0;
    while (len > 0) {
        uint32_t c = w->path[len - 1];
        if (iter[len - 1] < w->child_count[c]) {
            const chains_hop *h =
                &w->res->hops[w->child_hops[w->child_first[c] + iter[len - 1]++]];
            if (w->on_path[h->out])
                continue;
            w->kids[len - 1]++;
            w->path[len] = h->out;
            w->path_score[len] = w->path_score[len - 1] < h->score ? w->path_score[len - 1]
                                                                   : h->score;
            w->on_path[h->out] = 1;
            iter[len] = 0;
            w->kids[len] = 0;
            len++;
            continue;
        }
        if (!w->kids[len - 1] && len >= 2) {
            int rc = emit_chain(w, len, w->path_score[len - 1], errbuf);
            if (rc < 0)
                return rc;
        }
        w->on_path[c] = 0;
        len--;
    }
    return SS_OK;
}

/* Lists in res->loose the hops on no chain (a cycle has no root; a hop back
 * onto its own path is not followed): those whose out connection is not a
 * non-first connection of a chain. used (n_conns bytes, zeroed) is scratch. */
static int collect_loose(chains_result *res, unsigned char *used, size_t n_conns, char *errbuf)
{
    memset(used, 0, n_conns ? n_conns : 1);
    for (size_t c = 0; c < res->n_chains; c++)
        for (size_t k = 1; k < res->chains[c].n_conns; k++)
            used[res->conns[res->chains[c].first + k]] = 1;
    size_t n = 0;
    for (size_t h = 0; h < res->n_hops; h++)
        n += !used[res->hops[h].out];
    res->loose = malloc((n ? n : 1) * sizeof(*res->loose));
    if (!res->loose)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu hops", n);
    for (size_t h = 0; h < res->n_hops; h++)
        if (!used[res->hops[h].out])
            res->loose[res->n_loose++] = (uint32_t)h;
    return SS_OK;
}

/* Sorts hop indices by (in, out): a stable counting sort by in of hops
 * already ordered by out. */
static void sort_by_in(uint32_t *idx, const chains_hop *hops, size_t n, size_t *first,
                       size_t *count, size_t n_conns)
{
    memset(count, 0, n_conns * sizeof(*count));
    for (size_t i = 0; i < n; i++)
        count[hops[i].in]++;
    size_t s = 0;
    for (size_t c = 0; c < n_conns; c++) {
        first[c] = s;
        s += count[c];
    }
    size_t *fill = first; /* reuse: advance, then restore below */
    for (size_t i = 0; i < n; i++)
        idx[fill[hops[i].in]++] = (uint32_t)i;
    for (size_t c = 0; c < n_conns; c++)
        first[c] -= count[c];
}

int chains_link(chains_result *res, const candidates_pair *pairs, const double *scores,
                size_t n, size_t n_conns, double threshold, char *errbuf)
{
    memset(res, 0, sizeof(*res));
    for (size_t i = 0; i < n; i++) {
        if (pairs[i].in >= n_conns || pairs[i].out >= n_conns)
            return ss_errf(errbuf, SS_ERR_ARG, "candidate %zu refers to connection %u of %zu", i,
                           (unsigned)(pairs[i].in > pairs[i].out ? pairs[i].in : pairs[i].out),
                           n_conns);
        if (isnan(scores[i]))
            return ss_errf(errbuf, SS_ERR_ARG, "candidate %zu has a NaN score", i);
    }
    /* Matching: chains_pick over each outbound's candidates in inbound order. */
    long *best = malloc((n_conns ? n_conns : 1) * sizeof(*best));
    cand *cs = malloc((n ? n : 1) * sizeof(*cs));
    double *group = malloc((n ? n : 1) * sizeof(*group));
    if (!best || !cs || !group) {
        free(best);
        free(cs);
        free(group);
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu connections", n_conns);
    }
    for (size_t c = 0; c < n_conns; c++)
        best[c] = -1;
    size_t nc = 0;
    for (size_t i = 0; i < n; i++)
        if (pairs[i].in != pairs[i].out)
            cs[nc++] = (cand){pairs[i].out, pairs[i].in, i};
    qsort(cs, nc, sizeof(*cs), cand_cmp);
    for (size_t a = 0, b; a < nc; a = b) {
        for (b = a; b < nc && cs[b].out == cs[a].out; b++)
            group[b - a] = scores[cs[b].i];
        long k = chains_pick(group, b - a, threshold);
        if (k >= 0)
            best[cs[a].out] = (long)cs[a + (size_t)k].i;
    }
    free(cs);
    free(group);
    size_t nh = 0;
    for (size_t c = 0; c < n_conns; c++)
        nh += best[c] >= 0;
    int rc = SS_OK;
    size_t *first = NULL, *count = NULL;
    uint32_t *idx = NULL, *path = NULL;
    double *pscore = NULL;
    size_t *iter = NULL, *kids = NULL;
    unsigned char *on_path = NULL, *has_up = NULL;
    res->hops = malloc((nh ? nh : 1) * sizeof(*res->hops));
    first = malloc((n_conns ? n_conns : 1) * sizeof(*first));
    count = malloc((n_conns ? n_conns : 1) * sizeof(*count));
    idx = malloc((nh ? nh : 1) * sizeof(*idx));
    path = malloc((n_conns + 1) * sizeof(*path));
    pscore = malloc((n_conns + 1) * sizeof(*pscore));
    on_path = calloc(n_conns ? n_conns : 1, 1);
    iter = malloc((n_conns + 1) * sizeof(*iter));
    kids = malloc((n_conns + 1) * sizeof(*kids));
    has_up = calloc(n_conns ? n_conns : 1, 1);
    if (!res->hops || !first || !count || !idx || !path || !pscore || !on_path || !has_up ||
        !iter || !kids) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu hops", nh);
        goto done;
    }
    for (size_t c = 0; c < n_conns; c++) {
        if (best[c] < 0)
            continue;
        chains_hop *h = &res->hops[res->n_hops++];
        h->in = pairs[best[c]].in;
        h->out = (uint32_t)c;
        h->score = scores[best[c]];
        has_up[c] = 1;
    }
    qsort(res->hops, res->n_hops, sizeof(*res->hops), hop_cmp); /* already ordered */
    sort_by_in(idx, res->hops, res->n_hops, first, count, n_conns);

    walker w = {res, 0, 0, first, count, idx, path, pscore, on_path, kids};
    /* Roots: connections feeding a hop without an upstream of their own,
     * in index order. */
    for (size_t c = 0; c < n_conns; c++) {
        if (has_up[c] || !count[c])
            continue;
        path[0] = (uint32_t)c;
        pscore[0] = INFINITY;
        on_path[c] = 1;
        rc = walk(&w, iter, errbuf);
        if (rc < 0)
            goto done;
    }
    rc = collect_loose(res, has_up, n_conns, errbuf);
done:
    free(best);
    free(first);
    free(count);
    free(idx);
    free(path);
    free(pscore);
    free(on_path);
    free(has_up);
    free(iter);
    free(kids);
    if (rc < 0)
        chains_free(res);
    return rc;
}

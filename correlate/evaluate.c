/* evaluate.c - scores correlation methods against labelled relay hops. */
#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "roc.h"
#include "status.h"

static int pair_cmp(const void *pa, const void *pb)
{
    const candidates_pair *a = pa, *b = pb;
    if (a->out != b->out)
        return a->out < b->out ? -1 : 1;
    return (a->in > b->in) - (a->in < b->in);
}

/* A resolved hop with its chain, for sorting. */
typedef struct thop {
    candidates_pair p;
    uint32_t chain;
} thop;

static int thop_cmp(const void *pa, const void *pb)
{
    const thop *a = pa, *b = pb;
    int c = pair_cmp(&a->p, &b->p);
    if (c)
        return c;
    return (a->chain > b->chain) - (a->chain < b->chain);
}

static int thop_chain_cmp(const void *pa, const void *pb)
{
    const thop *a = pa, *b = pb;
    if (a->chain != b->chain)
        return a->chain < b->chain ? -1 : 1;
    if (a->p.in != b->p.in)
        return a->p.in < b->p.in ? -1 : 1;
    return (a->p.out > b->p.out) - (a->p.out < b->p.out);
}

void evaluate_truth_free(evaluate_truth *t)
{
    if (!t)
        return;
    free(t->hops);
    free(t->chain_of);
    free(t->chain_conns);
    free(t->chain_first);
    free(t->chain_len);
    memset(t, 0, sizeof(*t));
}

int evaluate_truth_build(evaluate_truth *t, const labels *lab, const connset *set,
                         char *errbuf)
{
    memset(t, 0, sizeof(*t));
    size_t nr = lab->n;
    t->n_rows = nr;
    thop *th = malloc((nr ? nr : 1) * sizeof(*th));
    int rc = SS_OK;
    if (!th)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu labels", nr);
    size_t k = 0;
    for (size_t i = 0; i < nr; i++) {
        const labels_hop *h = &lab->hops[i];
        long in = connset_find(set, 6, h->in_src.family, h->in_src.addr, h->in_src.port,
                               h->in_dst.addr, h->in_dst.port, h->start_us, h->end_us);
        long out = connset_find(set, 6, h->out_src.family, h->out_src.addr, h->out_src.port,
                                h->out_dst.addr, h->out_dst.port, h->start_us, h->end_us);
        if (in < 0 || out < 0 || in == out) {
            t->n_unresolved++;
            continue;
        }
        th[k].p.in = (uint32_t)in;
        th[k].p.out = (uint32_t)out;
        th[k].chain = h->chain_id;
        k++;
    }
    /* distinct chain ids over all rows */
    uint32_t *ids = malloc((nr ? nr : 1) * sizeof(*ids));
    if (!ids) {
        free(th);
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu labels", nr);
    }
    for (size_t i = 0; i < nr; i++)
        ids[i] = lab->hops[i].chain_id;
    for (size_t i = 1; i < nr; i++) /* insertion sort: label files are small */
        for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            uint32_t x = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = x;
        }
    for (size_t i = 0; i < nr; i++)
        t->n_chains += i == 0 || ids[i] != ids[i - 1];

    /* chains: group resolved hops by chain, link them in order */
    qsort(th, k, sizeof(*th), thop_chain_cmp);
    t->chain_conns = malloc((2 * k + 1) * sizeof(*t->chain_conns));
    t->chain_first = malloc((k + 1) * sizeof(*t->chain_first));
    t->chain_len = malloc((k + 1) * sizeof(*t->chain_len));
    if (!t->chain_conns || !t->chain_first || !t->chain_len) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for labelled chains");
        goto done;
    }
    size_t used = 0;
    for (size_t a = 0; a < k;) {
        size_t b = a;
        while (b < k && th[b].chain == th[a].chain)
            b++;
        /* rows of this chain that all resolved? */
        size_t rows = 0;
        for (size_t i = 0; i < nr; i++)
            rows += lab->hops[i].chain_id == th[a].chain;
        /* order: start at the hop whose in is no other hop's out */
        size_t len = 0, cur = SIZE_MAX;
        for (size_t i = a; i < b && cur == SIZE_MAX; i++) {
            int is_out = 0;
            for (size_t j = a; j < b; j++)
                is_out |= th[j].p.out == th[i].p.in;
            if (!is_out)
                cur = i;
        }
        int ok = rows == b - a && cur != SIZE_MAX;
        if (ok) {
            uint32_t *dst = t->chain_conns + used;
            dst[len++] = th[cur].p.in;
            for (size_t step = 0; step < b - a && ok; step++) {
                dst[len++] = th[cur].p.out;
                if (step + 1 == b - a)
                    break;
                size_t nxt = SIZE_MAX;
                for (size_t j = a; j < b; j++)
                    if (th[j].p.in == th[cur].p.out)
                        nxt = j;
                if (nxt == SIZE_MAX)
                    ok = 0;
                cur = nxt;
            }
        }
        if (ok) {
            t->chain_first[t->n_listed] = used;
            t->chain_len[t->n_listed] = len;
            t->n_listed++;
            used += len;
        }
        a = b;
    }

    /* hops: by (out, in), one entry per distinct pair */
    qsort(th, k, sizeof(*th), thop_cmp);
    t->hops = malloc((k ? k : 1) * sizeof(*t->hops));
    t->chain_of = malloc((k ? k : 1) * sizeof(*t->chain_of));
    if (!t->hops || !t->chain_of) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for labelled hops");
        goto done;
    }
    for (size_t i = 0; i < k; i++) {
        if (t->n_hops && !pair_cmp(&t->hops[t->n_hops - 1], &th[i].p))
            continue;
        t->hops[t->n_hops] = th[i].p;
        t->chain_of[t->n_hops] = th[i].chain;
        t->n_hops++;
    }
done:
    free(th);
    free(ids);
    if (rc < 0)
        evaluate_truth_free(t);
    return rc;
}

static int truth_has(const evaluate_truth *t, uint32_t in, uint32_t out)
{
    candidates_pair key = {in, out};
    return bsearch(&key, t->hops, t->n_hops, sizeof(*t->hops), pair_cmp) != NULL;
}

size_t evaluate_mark(int *is_pos, const evaluate_truth *t, const candidates_pair *pairs,
                     size_t n)
{
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        is_pos[i] = truth_has(t, pairs[i].in, pairs[i].out);
        np += (size_t)is_pos[i];
    }
    return np;
}

int evaluate_scores(evaluate_result *r, const char *name, double threshold,
                    const connset *set, const candidates_pair *pairs, size_t n,
                    const evaluate_truth *t, const double *scores, char *errbuf)
{
    static const double fprs[EVALUATE_NFPR] = {1e-2, 1e-3, 1e-4};
    memset(r, 0, sizeof(*r));
    snprintf(r->method, sizeof(r->method), "%s", name);
    r->threshold = threshold;
    r->n_candidates = n;
    r->n_labelled = t->n_hops + t->n_unresolved;
    r->chains_labelled = t->n_chains;
    int *is_pos = malloc((n ? n : 1) * sizeof(*is_pos));
    if (!is_pos)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu candidates", n);
    r->n_positives = evaluate_mark(is_pos, t, pairs, n);
    r->n_missed = r->n_labelled - r->n_positives;
    char tmp[SS_ERRBUF_SIZE];
    if (r->n_positives && r->n_positives < n) {
        if (roc_auc(&r->auc, scores, is_pos, n, tmp) == 0)
            r->have_auc = 1;
        for (int k = 0; k < EVALUATE_NFPR; k++) {
            r->fpr[k] = fprs[k];
            if (roc_tpr_at_fpr(&r->tpr[k], &r->tpr_meaningful[k], scores, is_pos, n, fprs[k],
                               tmp) < 0)
                r->tpr[k] = NAN;
        }
    } else {
        for (int k = 0; k < EVALUATE_NFPR; k++) {
            r->fpr[k] = fprs[k];
            r->tpr[k] = NAN;
        }
    }
    free(is_pos);

    chains_result ch;
    int rc = chains_link(&ch, pairs, scores, n, connset_count(set), threshold, errbuf);
    if (rc < 0)
        return rc;
    r->hops_reported = ch.n_hops;
    for (size_t i = 0; i < ch.n_hops; i++)
        r->hops_true += (size_t)truth_has(t, ch.hops[i].in, ch.hops[i].out);
    r->hops_false = r->hops_reported - r->hops_true;
    r->precision = r->hops_reported ? (double)r->hops_true / (double)r->hops_reported : NAN;
    r->recall = r->n_labelled ? (double)r->hops_true / (double)r->n_labelled : NAN;
    r->chains_reported = ch.n_chains;
    for (size_t c = 0; c < t->n_listed; c++) {
        const uint32_t *want = t->chain_conns + t->chain_first[c];
        size_t len = t->chain_len[c];
        for (size_t j = 0; j < ch.n_chains; j++) {
            if (ch.chains[j].n_conns == len &&
                !memcmp(ch.conns + ch.chains[j].first, want, len * sizeof(*want))) {
                r->chains_reconstructed++;
                break;
            }
        }
    }
    chains_free(&ch);
    return SS_OK;
}

int evaluate_method(evaluate_result *r, const method *m, const connset *set,
                    const candidates_pair *pairs, size_t n, const evaluate_truth *t,
                    double *scores, char *errbuf)
{
    int rc = method_score(m, set, pairs, n, scores, errbuf);
    if (rc < 0)
        return rc;
    return evaluate_scores(r, m->name, m->threshold, set, pairs, n, t, scores, errbuf);
}

int evaluate_write_roc(FILE *f, const char *name, const double *scores, const int *is_pos,
                       size_t n, char *errbuf)
{
    roc_point *pts = malloc((n + 1) * sizeof(*pts));
    if (!pts)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for a ROC curve of %zu points",
                       n + 1);
    size_t np = 0;
    int rc = roc_curve(pts, &np, scores, is_pos, n, errbuf);
    if (rc == 0) {
        for (size_t i = 0; i < np; i++)
            if (fprintf(f, "%s,%.9g,%.9g,%.9g\n", name, pts[i].thr, pts[i].fpr, pts[i].tpr) < 0) {
                rc = ss_errf(errbuf, SS_ERR_IO, "cannot write the ROC curve");
                break;
            }
    }
    free(pts);
    return rc;
}

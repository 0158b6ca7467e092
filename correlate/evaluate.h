/* evaluate.h - scores correlation methods against labelled relay hops.
 *
 * The ground truth (correlate/labels.h) names each labelled hop by the
 * 5-tuples of its two legs; evaluate_truth_build resolves them to connection
 * indices of a connset. evaluate_method then runs one method on the
 * candidate pairs (candidates.h) and measures:
 *   - positives: candidate pairs that are labelled hops; missed: labelled
 *     hops that are not candidates at all (or whose legs are not in the
 *     capture), which no method can find;
 *   - ROC AUC and TPR at FPR 1e-2, 1e-3, 1e-4 over the candidates, with
 *     roc_tpr_at_fpr's flag saying when there are too few negatives for a
 *     point to mean anything;
 *   - at the method's threshold, the hops chains_link reports (the best
 *     inbound per outbound): true hops, false hops, precision =
 *     true / reported, recall = true / all labelled hops (missed included);
 *   - chains: a labelled chain is reconstructed when chains_link reports a
 *     chain with exactly its connections, in order.
 *
 * Ownership: an evaluate_truth owns its arrays (evaluate_truth_free).
 */
#ifndef STEPSTONE_EVALUATE_H
#define STEPSTONE_EVALUATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "candidates.h"
#include "connset.h"
#include "labels.h"
#include "method.h"

#define EVALUATE_NFPR 3 /* FPR points: 1e-2, 1e-3, 1e-4 */

/* The labelled hops resolved to connection indices. */
typedef struct evaluate_truth {
    candidates_pair *hops;  /* resolved hops (in, out), sorted, no duplicates */
    uint32_t *chain_of;     /* chain id of each resolved hop */
    size_t n_hops;
    size_t n_rows;          /* label rows read */
    size_t n_unresolved;    /* rows whose legs are not both in the set */
    size_t n_chains;        /* distinct chain ids */
    uint32_t *chain_conns;  /* each labelled chain's connections, back to back
                               (only fully resolved, linked chains) */
    size_t *chain_first, *chain_len; /* per listed chain: offset, length */
    size_t n_listed;        /* chains listed in chain_conns */
} evaluate_truth;

/* What evaluate_method measured for one method. */
typedef struct evaluate_result {
    char method[METHOD_NAME_SIZE];
    size_t n_candidates;        /* candidate pairs scored */
    size_t n_positives;         /* of them, labelled hops */
    size_t n_labelled;          /* labelled hops (label rows, deduplicated by legs) */
    size_t n_missed;            /* labelled hops that are not candidates */
    int have_auc;               /* 0: no positives or no negatives */
    double auc;
    double fpr[EVALUATE_NFPR];  /* 1e-2, 1e-3, 1e-4 */
    double tpr[EVALUATE_NFPR];
    int tpr_meaningful[EVALUATE_NFPR]; /* 0: fewer than 1/fpr negatives */
    double threshold;           /* the method's operating threshold */
    size_t hops_reported;       /* hops chains_link reports at threshold */
    size_t hops_true;           /* of them, labelled */
    size_t hops_false;          /* of them, not labelled */
    double precision, recall;   /* NAN when undefined (nothing reported) */
    size_t chains_labelled;     /* labelled chains */
    size_t chains_reconstructed;
    size_t chains_reported;
} evaluate_result;

/* Resolves the rows of lab against set (TCP connections; a 5-tuple reused
 * by several connections picks the one overlapping the row's times most).
 * Returns 0 or SS_ERR_NOMEM. */
int evaluate_truth_build(evaluate_truth *t, const labels *lab, const connset *set,
                         char *errbuf);

/* Frees t's arrays; NULL is a no-op. */
void evaluate_truth_free(evaluate_truth *t);

/* Sets is_pos[i] to 1 when pairs[i] is a labelled hop, else 0; returns the
 * number of positives. */
size_t evaluate_mark(int *is_pos, const evaluate_truth *t, const candidates_pair *pairs,
                     size_t n);

/* Scores pairs[0..n) with m into scores (caller-owned, n values) and fills
 * *r (see above). Returns 0 or a negative ss_status. */
int evaluate_method(evaluate_result *r, const method *m, const connset *set,
                    const candidates_pair *pairs, size_t n, const evaluate_truth *t,
                    double *scores, char *errbuf);

/* Same measures from given scores (no method run): name and threshold
 * describe them. */
int evaluate_scores(evaluate_result *r, const char *name, double threshold,
                    const connset *set, const candidates_pair *pairs, size_t n,
                    const evaluate_truth *t, const double *scores, char *errbuf);

/* Appends the ROC curve of scores as CSV rows "method,thr,fpr,tpr" (no
 * header) to f. Returns 0, SS_ERR_EMPTY (no positives or negatives: nothing
 * written), SS_ERR_NOMEM or SS_ERR_IO. */
int evaluate_write_roc(FILE *f, const char *name, const double *scores, const int *is_pos,
                       size_t n, char *errbuf);

#endif

/* roc.h - ROC analysis of scored candidates against ground truth.
 *
 * Used by `stepstone eval` to compare correlation methods on the same
 * candidate pairs: area under the curve, true-positive rate at a fixed
 * false-positive rate, and the curve itself for plotting.
 */
#ifndef STEPSTONE_ROC_H
#define STEPSTONE_ROC_H

#include <stddef.h>

/* One point of a ROC curve: at threshold `thr`, candidates scoring >= thr
 * are called positive. */
typedef struct roc_point {
    double thr;
    double fpr;
    double tpr;
} roc_point;

/* Area under the ROC curve of scores[i] with labels[i] (nonzero = positive),
 * ties counted as half (the Mann-Whitney statistic). Returns 0 and *auc, or
 * SS_ERR_EMPTY when there are no positives or no negatives. */
int roc_auc(double *auc, const double *scores, const int *labels, size_t n,
            char *errbuf);

/* Highest TPR among thresholds whose FPR <= max_fpr (a step curve: no
 * interpolation between thresholds, the honest reading at low FPR).
 * *meaningful is set to 0 when there are fewer than 1/max_fpr negatives, so
 * a single false positive would already exceed max_fpr and the figure
 * says little. Returns 0, or SS_ERR_EMPTY as roc_auc. */
int roc_tpr_at_fpr(double *tpr, int *meaningful, const double *scores,
                   const int *labels, size_t n, double max_fpr, char *errbuf);

/* Sorts the scores v[0..n) from the highest down (for roc_threshold_at_fpr). */
void roc_sort_desc(double *v, size_t n);

/* The threshold that keeps at most max_fpr of the negative scores desc[0..n)
 * (sorted from the highest down, n > 0) at or above it: just above the
 * (floor(max_fpr n) + 1)-th highest, or the lowest score when max_fpr n >= n.
 * How thresholds are calibrated for a target false-positive rate. */
double roc_threshold_at_fpr(const double *desc, size_t n, double max_fpr);

/* Writes the curve (one point per distinct score, from the highest
 * threshold down, plus the (0,0) start) into pts, which must hold n + 1
 * points; *npts receives the count. Returns 0, or SS_ERR_EMPTY / SS_ERR_NOMEM. */
int roc_curve(roc_point *pts, size_t *npts, const double *scores,
              const int *labels, size_t n, char *errbuf);

#endif

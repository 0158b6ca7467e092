/* hopscore.h - which grid windows a candidate hop is judged on, and the hop
 * score from its windows' similarities.
 *
 * Shared by the batch scorer (lstm_method.h), the streaming correlator
 * (correlator.h) and training (train_correlate.h), so the three judge a pair
 * on the same windows with the same formula. A hop (in, out) is judged on
 * the grid windows (connfeat.h) from the one holding out's start onward,
 * while both legs are open and their stored packets cover the window, at
 * most max_windows of them. Windows where neither leg sent payload are
 * skipped; over the k remaining windows the plain score is
 * (sum of similarities / (k + 1) + 1) / 2 in [0,1] (0 when k = 0): the mean
 * with one extra window of similarity 0, a prior that keeps a pair seen on
 * few windows from scoring high (one window: at most 0.75).
 *
 * A model calibrated per window count (encoder.h, hop_thr) holds, for each
 * k, the plain score t_k that at most the target share of unrelated pairs
 * judged on k windows reach. The hop score then maps t_k to the model's
 * threshold T, linearly on each side ([0, t_k] -> [0, T], [t_k, 1] -> [T, 1]),
 * so one threshold T judges a one-window hop against one-window negatives
 * and a six-window hop against six-window ones. The order of scores within
 * one window count is kept.
 * No state, no allocation.
 */
#ifndef STEPSTONE_HOPSCORE_H
#define STEPSTONE_HOPSCORE_H

#include <stddef.h>
#include <stdint.h>

#include "connfeat.h"
#include "conntab.h"
#include "encoder.h"

/* Number of grid windows (at most max_windows) the pair (in, out) is scored
 * on; *g0 receives the first one's grid index (the window holding out's
 * start). Training samples its windows the same way. */
int hopscore_windows(const connfeat_config *f, const conntab_record *in,
                     const conntab_record *out, int64_t *g0);

/* The plain hop score from the sum of a pair's window similarities over the
 * used windows (those where a leg sent payload): the formula above, clamped
 * to [0,1]. */
double hopscore_plain(double sum, int used);

/* The hop score enc reports: the plain score, mapped through enc's
 * per-window-count calibration when it has one. */
double hopscore_score(const encoder *enc, double sum, int used);

/* Fills thr[0..k_max) with the plain-score threshold of each window count
 * k = 1..k_max from unrelated pairs' (sum[i], used[i]), i < n: the lowest
 * score above which at most target_fpr of the pairs judged on k windows lie
 * (their highest when there are fewer than 1/target_fpr of them), as a mean
 * similarity never above that of a smaller k (more windows, more evidence);
 * a count with no pair takes the next larger count's, and the largest the
 * plain threshold global (the one over all pairs). Every value is kept in
 * (0,1). Returns 0, or SS_ERR_NOMEM. */
int hopscore_calibrate(float *thr, int k_max, const double *sum, const int *used, size_t n,
                       double target_fpr, double global, char *errbuf);

#endif

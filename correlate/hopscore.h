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
 * k and each of a few false-positive rates (the target FPR x 1000, 100, 10
 * and 1), the plain score t_kj that that share of unrelated pairs judged
 * on k windows pass, and the plain score y_j all unrelated pairs pass at
 * that rate (y at the target is the model's threshold T). The hop score
 * maps t_kj to y_j, linearly in between ((0,0) and (1,1) at the ends), so
 * a one-window hop is judged against one-window negatives and a six-window
 * hop against six-window ones: one threshold T keeps the target rate for
 * every window count, and below it scores of different counts are ranked
 * by how rare they are among their own count's negatives. The order of
 * scores within one window count is kept.
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

/* Calibrates from unrelated pairs' (sum[i], used[i]), i < n: *threshold is
 * the plain score that at most target_fpr of all of them pass (roc.h's rule,
 * at most 1; 0.5 when n is 0), the model's threshold T; level[j] the same at
 * fpr_j = target_fpr x 10^(L-1-j) (L = ENCODER_HOP_LEVELS; the last is T);
 * thr[k-1][j] the same for those judged on k windows (k = 1..k_max; a count
 * above k_max counts as k_max; when there are fewer than 1/fpr_j of them,
 * their highest but never below what level[j] asks of k windows), as a mean
 * similarity never above that of a smaller k (more windows, more evidence);
 * a count with no pair takes the next larger count's, and the largest the
 * level. Every value is kept in (0,1), each row and the levels increasing.
 * Returns 0, or SS_ERR_NOMEM. */
int hopscore_calibrate(float (*thr)[ENCODER_HOP_LEVELS], float *level, double *threshold,
                       int k_max, const double *sum, const int *used, size_t n,
                       double target_fpr, char *errbuf);

#endif

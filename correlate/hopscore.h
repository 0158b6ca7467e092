/* hopscore.h - which grid windows a candidate hop is judged on, and the hop
 * score from its windows' similarities.
 *
 * Shared by the batch scorer (lstm_method.h), the streaming correlator
 * (correlator.h) and training (train_correlate.h), so the three judge a pair
 * on the same windows with the same formula. A hop (in, out) is scored on
 * the grid windows (connfeat.h) from the one holding out's start onward,
 * while both legs are open and their stored packets cover the window, at
 * most max_windows of them. Windows where neither leg sent payload are
 * skipped; over the k remaining windows the score is
 * (sum of similarities / (k + 1) + 1) / 2 in [0,1] (0 when k = 0): the mean
 * with one extra window of similarity 0, a prior that keeps a pair seen on
 * few windows from scoring high (one window: at most 0.75).
 * No state, no allocation.
 */
#ifndef STEPSTONE_HOPSCORE_H
#define STEPSTONE_HOPSCORE_H

#include <stdint.h>

#include "connfeat.h"
#include "conntab.h"

/* Number of grid windows (at most max_windows) the pair (in, out) is scored
 * on; *g0 receives the first one's grid index (the window holding out's
 * start). Training samples its windows the same way. */
int hopscore_windows(const connfeat_config *f, const conntab_record *in,
                     const conntab_record *out, int64_t *g0);

/* The hop score from the sum of a pair's window similarities over the used
 * windows (those where a leg sent payload): the formula above, clamped to
 * [0,1]. */
double hopscore_score(double sum, int used);

#endif

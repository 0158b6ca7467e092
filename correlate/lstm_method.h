/* lstm_method.h - the learned correlation method ("lstm" in the registry).
 *
 * A candidate hop (in, out) is scored on the grid windows (connfeat.h) from
 * the one holding out's start onward, while both legs are open and their
 * stored packets cover the window, at most max_windows of them. Each leg is
 * embedded once per (connection, window) by the encoder (encoder.h), however
 * many pairs use it, so the cost is linear in connections and windows; a
 * pair's window similarity is the dot product of its two unit vectors. Windows
 * where neither leg sent payload are skipped; over the k remaining windows
 * the score is (sum of similarities / (k + 1) + 1) / 2 in [0,1] (0 when
 * k = 0): the mean with one extra window of similarity 0, a prior that keeps
 * a pair seen on few windows from scoring high (one window: at most 0.75).
 * Averaging over windows drives the false positives down: an unrelated
 * connection may match one window by chance, rarely all of them; in busy
 * captures the highest-scoring negatives were short connections (one window)
 * beside a long session, which the prior pushes below the real hops.
 *
 * Ownership: a method context owns its encoder; lstm_method_score_pairs
 * borrows enc and allocates only its own scratch.
 */
#ifndef STEPSTONE_LSTM_METHOD_H
#define STEPSTONE_LSTM_METHOD_H

#include <stddef.h>

#include "candidates.h"
#include "connset.h"
#include "encoder.h"
#include "method.h"

/* Scores pairs[0..n) of set with enc into scores[0..n) (see above).
 * Returns 0 or a negative status. */
int lstm_method_score_pairs(const encoder *enc, const connset *set,
                            const candidates_pair *pairs, size_t n, double *scores,
                            char *errbuf);

/* What one scoring call measured (for `stepstone chains --stats` and the
 * benchmark): windows embedded, pairs scored, and wall-clock seconds spent
 * embedding and in the whole call. */
typedef struct lstm_method_stats {
    size_t windows;   /* distinct (connection, window) embeddings computed */
    size_t pairs;     /* candidate pairs scored */
    double embed_s;   /* seconds in the encoder */
    double total_s;   /* seconds in the whole call (window keys, encoder, dots) */
} lstm_method_stats;

/* As lstm_method_score_pairs, and fills *st (when not NULL) with its counts
 * and times, so the cost per embedding and per pair can be reported. */
int lstm_method_score_pairs_stats(const encoder *enc, const connset *set,
                                  const candidates_pair *pairs, size_t n, double *scores,
                                  lstm_method_stats *st, char *errbuf);

/* What the scores of lstm_method_score_pairs_stats rest on: per pair, the
 * number of windows with payload (used[i]) and their similarities' sum
 * (sum[i]); hopscore.h turns them into a score. Calibration reads them. */
int lstm_method_pair_evidence(const encoder *enc, const connset *set,
                              const candidates_pair *pairs, size_t n, double *sum, int *used,
                              lstm_method_stats *st, char *errbuf);

/* Registry entry: arg is a model file (NULL: the compiled-in model); the
 * threshold is the model's calibrated one. */
int lstm_method_init(method *m, const char *arg, char *errbuf);

/* Makes the lstm method m score by reading paths[0..n) again through the
 * streaming correlator (correlator.h) with candidate rule cand, as `stepstone
 * chains` does, instead of from the set's stored packets (which stop at the
 * set's max_pkts per connection). The set given to the score call must have
 * been read from the same files with the same connection table settings:
 * pairs are matched by conntab serial. paths are copied. Returns 0,
 * SS_ERR_ARG (m is not the lstm method) or SS_ERR_NOMEM. */
int lstm_method_use_files(method *m, const char *const *paths, size_t n,
                          const candidates_config *cand, char *errbuf);

#endif

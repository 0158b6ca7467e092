/* train_correlate.h - trains the correlator (encoder.h) on labelled captures.
 *
 * Data: sets of captures, each with its labels.csv (datasets/README.md). A
 * set is read into a connset, its candidate hops found (candidates.h) and
 * each candidate labelled from the labels (both legs found by 5-tuple and
 * time). The validation sets are whole captures, never mixed with training.
 *
 * Objective, per batch of B labelled hops, each at one of its scored
 * windows (hopscore_windows, random grid phase):
 *   - InfoNCE with in-batch negatives (symmetric): the out leg's window
 *     embedding must pick its own in leg's among the batch's;
 *   - plus triplet_weight * a triplet loss on a hard negative: a candidate
 *     sharing one leg with the hop (another connection of the same relay
 *     host, overlapping in time), embedded on the same window;
 *   - plus neg_weight * the mean of max(0, similarity - neg_margin) over
 *     neg_pairs candidate pairs that are not hops (both legs unrelated
 *     connections of one host, as most pairs `stepstone chains` scores), each
 *     at one of its scored windows: the pairs the score must keep low.
 * A share first_window of the hops is taken at its first scored window (the
 * one holding the outbound start), the only one a short or soon idle hop
 * has; the others at any scored window.
 * AdamW, gradient clipping at 1. After each epoch the validation candidates
 * are scored exactly as `stepstone chains` scores them (lstm_method.h); the
 * best epoch by TPR at FPR 1e-3 (then AUC) is checkpointed to the output
 * path (temporary file, then rename) with its threshold calibrated for a
 * per-pair FPR of 1e-4 on the validation negatives; training stops after
 * `patience` epochs without improvement. Same data, config and seed (and
 * thread count): same model.
 *
 * Ownership: the caller owns every argument; the result holds numbers only.
 */
#ifndef STEPSTONE_TRAIN_CORRELATE_H
#define STEPSTONE_TRAIN_CORRELATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "candidates.h"
#include "connset.h"
#include "encoder.h"

/* One labelled capture set (several files merged into one timeline). */
typedef struct train_correlate_data {
    const char *const *pcaps; /* capture paths */
    size_t n_pcaps;
    const char *labels;       /* labels.csv path */
} train_correlate_data;

/* Options; fill with train_correlate_config_default. */
typedef struct train_correlate_config {
    encoder_config enc;     /* architecture and window geometry */
    int epochs;             /* most epochs (default 30) */
    int steps;              /* batches per epoch (default 40) */
    int batch;              /* hops per batch (default 64) */
    int patience;           /* epochs without improvement before stopping (5) */
    float lr;               /* AdamW learning rate (2e-3) */
    float temperature;      /* InfoNCE temperature (0.1) */
    float margin;           /* triplet margin on cosine distance (0.3) */
    float triplet_weight;   /* weight of the hard-negative loss (1) */
    int neg_pairs;          /* candidate pairs that are not hops, per batch (32; 0: none) */
    float neg_weight;       /* weight of their similarity hinge, see above (8) */
    float neg_margin;       /* similarity below which such a pair costs nothing (0) */
    float first_window;     /* share of hops sampled at their first scored window (0.25) */
    double target_fpr;      /* FPR the stored threshold is calibrated for (1e-4) */
    uint64_t seed;          /* initialisation and sampling (1) */
    const char *out_path;   /* checkpoint path (NULL: no file written) */
    FILE *progress;         /* one line per epoch (NULL: quiet) */
} train_correlate_config;

/* What a run measured. */
typedef struct train_correlate_result {
    int epochs_run;
    int best_epoch;          /* 0: the untrained model was never beaten */
    double first_loss;       /* mean training loss of epoch 1 */
    double last_loss;        /* mean training loss of the last epoch */
    double initial_val_tpr;  /* validation TPR at FPR 1e-3 before training */
    double initial_val_auc;
    double best_val_tpr;     /* of the best epoch */
    double best_val_auc;
    double threshold;        /* calibrated threshold stored in the model */
    size_t train_hops, val_hops, val_pairs;
} train_correlate_result;

/* Fills cfg with the defaults listed above (features "bins"). */
void train_correlate_config_default(train_correlate_config *cfg);

/* Labels the candidate pairs[0..n) of set from the labels file at path:
 * is_hop[i] = 1 for a labelled hop. *n_labelled receives the number of
 * label rows whose two legs were both found in set. */
int train_correlate_label_pairs(int *is_hop, size_t *n_labelled, const connset *set,
                                const candidates_pair *pairs, size_t n, const char *path,
                                char *errbuf);

/* Trains a new encoder on train[0..n_train) with validation on
 * val[0..n_val) (n_val 0: the training sets are used, with a warning on
 * cfg->progress). On success *out is the best encoder (caller destroys it)
 * and res is filled. */
int train_correlate_run(encoder **out, train_correlate_result *res,
                        const train_correlate_config *cfg, const train_correlate_data *train,
                        size_t n_train, const train_correlate_data *val, size_t n_val,
                        char *errbuf);

/* Threshold above which at most target_fpr of the negative scores
 * neg[0..n) lie (the smallest such score boundary); sorts neg in place. */
double train_correlate_calibrate(double *neg, size_t n, double target_fpr);

/* Sets enc->threshold (the plain score's) and enc->hop_thr (one per window
 * count, hopscore.h) for a per-pair FPR of target_fpr on the negatives
 * (candidate pairs that are not labelled hops) of data[0..n), each set
 * loaded, scored as `stepstone chains` scores and freed in turn, so the
 * negatives can come from many large captures (FPR 1e-4 needs >= 10^4 of
 * them). *n_neg and *n_pos receive the numbers of negatives and hops seen;
 * *tpr (may be NULL) the fraction of those hops whose (calibrated) score is
 * at or above the threshold. */
int train_correlate_recalibrate(encoder *enc, size_t *n_neg, size_t *n_pos, double *tpr,
                                const train_correlate_data *data, size_t n, double target_fpr,
                                char *errbuf);

#endif

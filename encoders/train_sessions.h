/* train_sessions.h - trains the session anomaly model (session.h) on benign
 * connections: vocabulary, the BiLSTM network, the one-layer forward LSTM
 * baseline, the Markov baseline, and the per-host thresholds.
 *
 * Training: sessions are split at random (seeded) into a training part and
 * a validation part (val_frac); each network is trained with AdamW on the
 * training part, minimising the state and size cross-entropies, one epoch at
 * a time; after each epoch the validation loss is measured and the best
 * parameters kept; training stops after `patience` epochs without a better
 * validation loss (or after `epochs`). Same data and seed, same model.
 *
 * Thresholds: the validation sessions (which no network was trained on and
 * the Markov chain did not count) are scored with each method; the global
 * threshold is the `quantile` (0.999) of those scores (linear
 * interpolation), and a host with at least min_host_sessions of them gets
 * the quantile of its own scores. Without a validation part (fewer than 5
 * sessions) every session is used.
 *
 * Ownership: records and vectors are read during the call only; the model
 * returned is the caller's (session_model_destroy).
 */
#ifndef STEPSTONE_TRAIN_SESSIONS_H
#define STEPSTONE_TRAIN_SESSIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conntab.h"
#include "session.h"

/* Training options; fill with train_sessions_config_default. */
typedef struct train_sessions_config {
    session_config sess;    /* sessionisation (8 s gap, 25 connections) */
    int max_states;         /* vocabulary size with "other" (64) */
    int min_count;          /* occurrences for a state to enter it (3) */
    int size_classes;       /* size classes at most (8) */
    int hidden;             /* LSTM units per direction (32) */
    int layers;             /* layers of each BiLSTM stack (2) */
    int dense;              /* dense layer width (32) */
    int epochs;             /* most epochs (60) */
    int batch;              /* sessions per step (32) */
    float lr;               /* AdamW learning rate (3e-3) */
    float weight_decay;     /* AdamW decoupled decay (0.01) */
    float val_frac;         /* validation share of the sessions (0.2) */
    int patience;           /* epochs without improvement before stopping (8) */
    uint64_t seed;          /* split, order and initialisation (1) */
    double quantile;        /* threshold quantile of benign scores (0.999) */
    int min_host_sessions;  /* sessions for a host threshold of its own (1000: with
                               fewer, the 0.999 quantile of a host is its maximum and
                               about 1/(n+1) of its new benign sessions exceed it) */
    double markov_alpha;    /* Markov smoothing (0.1) */
    float label_smoothing;  /* training targets: 1 - e on the observed class, e / C on
                               each (0: off; see docs/sessions.md for what 0.1 did) */
    FILE *log;              /* one line per epoch (NULL: quiet) */
} train_sessions_config;

/* Fills cfg with the defaults listed in train_sessions_config. */
void train_sessions_config_default(train_sessions_config *cfg);

/* Mean loss (state CE + size CE) of net over the sessions idx[0..n) of d,
 * into *loss. Returns 0 or a negative status. */
int train_sessions_eval_loss(float *loss, const session_net *net, const session_data *d,
                             const size_t *idx, size_t n, int batch, char *errbuf);

/* Trains net on the sessions train[0..n_train) of d with early stopping on
 * val[0..n_val) (n_val may be 0: all epochs run, the last parameters kept).
 * *best_val (may be NULL) receives the best validation loss. */
int train_sessions_net(session_net *net, const session_data *d, const size_t *train,
                       size_t n_train, const size_t *val, size_t n_val,
                       const train_sessions_config *cfg, double *best_val, char *errbuf);

/* Fills m->thr[method] from the scores of the sessions sel[0..n_sel) of d
 * (sel NULL: every session). */
int train_sessions_thresholds(session_model *m, int method, const session_data *d,
                              const size_t *sel, size_t n_sel, double quantile,
                              int min_host_sessions, char *errbuf);

/* Sets every method's thresholds (global and per host, as in training) from
 * all the sessions of recs[0..n): benign captures the model was not trained
 * on, e.g. other captures of other networks or days, so the thresholds
 * reflect how new benign traffic scores rather than the training captures'
 * own sessions. vecs as for train_sessions_run (NULL when enc_dim is 0). */
int train_sessions_calibrate(session_model *m, const conntab_record *const *recs, size_t n,
                             const float *vecs, int enc_dim, const train_sessions_config *cfg,
                             char *errbuf);

/* Trains a whole model on recs[0..n) (benign). vecs (n, enc_dim) are the
 * encoder vectors of the records (NULL when enc_dim is 0). */
int train_sessions_run(session_model **out, const conntab_record *const *recs, size_t n,
                       const float *vecs, int enc_dim, const train_sessions_config *cfg,
                       char *errbuf);

#endif

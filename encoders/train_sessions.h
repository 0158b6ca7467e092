/* train_sessions.h - trains the session anomaly model (sessmodel.h) on benign
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
 * Thresholds, per method and session length class (1, 2-5, 6+ connections):
 * the validation sessions (which no network was trained on and the Markov
 * chain did not count), or with train_sessions_calibrate the sessions of
 * benign calibration captures, are scored. A host with at least
 * min_host_sessions (20) of them in a class gets its own threshold there: the
 * `quantile` (0.999) estimated from its scores; the global threshold of the
 * class is that quantile of the other hosts' sessions (busy servers, whose long
 * sessions score higher, do not set the bar for every other host). A quantile
 * is the empirical one (linear interpolation) when n (1 - q) >= 2, else an
 * exponential tail fitted above the median (never below the largest score).
 * Then every session of the training captures raises, per host and class, the
 * host's threshold to the quantile (fewer than min_host_sessions: the
 * largest) of its scores; a lookup takes the larger of the host's and the
 * global threshold, the host's bounded by host_factor times the global one
 * (session_model_threshold). Without a validation part (fewer than 5 sessions)
 * every session is used. Every score here is the model's (score_top included).
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
#include "sessmodel.h"
#include "sessvocab.h"

/* Training options; fill with train_sessions_config_default. */
typedef struct train_sessions_config {
    session_config sess;    /* sessionisation (8 s gap, 25 connections) */
    int max_states;         /* vocabulary size with "other" (64) */
    int min_count;          /* occurrences for a state to enter it (3) */
    int byte_classes;       /* classes of each direction's bytes, tails included (4;
                               3..8): 2 C^2 size classes (sessvocab.h) */
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
    int min_host_sessions;  /* sessions of a length class for a host threshold of its
                               own, estimated from them (20) */
    int score_top;          /* k of the score's burst part: the k largest surprisals
                               / sqrt(k) when higher than the whole session's (5; 0: off) */
    int score_rule;         /* enum session_score_rule (SESSION_SCORE_SURPRISAL) */
    double host_factor;     /* a host's threshold is at most this times the global one
                               (1.1; 0: unbounded) */
    double markov_alpha;    /* Markov smoothing (0.1) */
    float label_smoothing;  /* training targets: 1 - e on the observed class, e / C on
                               each (0: off; see docs/sessions.md for what 0.1 did) */
    float input_dropout;    /* share of connections whose inputs are zeroed in each
                               training batch, targets kept (0.2; 0: off) */
    FILE *log;              /* one line per epoch (NULL: quiet) */
    const int64_t *starts;  /* beginnings of the input captures, ascending, for
                               session_list_build (NULL: one capture); not stored */
    size_t n_starts;
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

/* Estimate of the quantile q of the distribution the scores v[0..n) (n > 0,
 * sorted in place) were drawn from: the threshold estimator (docs/sessions.md,
 * "Thresholds"): the empirical quantile when n (1 - q) >= 2 or the rule is
 * SESSION_SCORE_MEAN_LIK, else an exponential tail fitted above the median,
 * never below the largest score. */
double train_sessions_tail_quantile(double *v, size_t n, double q, int rule);

/* Fills m->thr[method] from the scores of the sessions sel[0..n_sel) of d
 * (sel NULL: every session). */
int train_sessions_thresholds(session_model *m, int method, const session_data *d,
                              const size_t *sel, size_t n_sel, double quantile,
                              int min_host_sessions, char *errbuf);

/* Merges into m->thr[method]'s host thresholds the quantile q of the scores of
 * every session of d per host and length class (the larger one wins where a
 * host already has one): a host whose benign sessions score high keeps them
 * unflagged. */
int train_sessions_host_thresholds(session_model *m, int method, const session_data *d,
                                   double q, int min_host_sessions, char *errbuf);

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

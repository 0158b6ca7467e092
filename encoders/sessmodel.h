/* sessmodel.h - the session anomaly model: the sessionisation it was trained
 * with, the vocabulary, the two networks, the Markov baseline, each method's
 * thresholds and the score settings; its model files (kind "session",
 * modelfile.h) and the compiled-in default.
 *
 * Scoring with a model: sessscore.h. Training one: train_sessions.h.
 *
 * Ownership: a session_model owns everything in it (vocabulary, networks,
 * chain, threshold arrays), freed by session_model_destroy, which accepts
 * NULL. The loaders hand over a new model; session_model_to_file hands over a
 * new modelfile_t and params_t, which the caller frees.
 */
#ifndef STEPSTONE_SESSMODEL_H
#define STEPSTONE_SESSMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "markov.h"
#include "modelfile.h"
#include "params.h"
#include "session.h"
#include "sessnet.h"
#include "sessvocab.h"

#define SESSION_MODEL_KIND "session"
#define SESSION_SCORE_TOP_MAX 64      /* largest score_top */

/* Scoring methods: the model and its two baselines. */
enum session_method {
    SESSION_METHOD_BILSTM = 0, /* both-sides context, 2-layer stacks */
    SESSION_METHOD_LSTM1 = 1,  /* 1-layer forward LSTM predicting the next connection */
    SESSION_METHOD_MARKOV = 2, /* first-order Markov chain over states */
    SESSION_METHOD_COUNT
};

/* Session score rules (docs/sessions.md, "Score"). */
enum session_score_rule {
    SESSION_SCORE_SURPRISAL = 0, /* summed surprisal / sqrt(n), or the burst part (default) */
    SESSION_SCORE_MEAN_LIK = 1,  /* 1 - mean likelihood of the connections (the first
                                    definition, kept to compare; bounded by 1) */
    SESSION_SCORE_RULE_COUNT
};

/* "surprisal", "mean-likelihood"; "?" when out of range. */
const char *session_score_rule_to_string(int rule);

/* Parses a score rule name; the session_score_rule or -1. */
int session_score_rule_from_string(const char *s);

/* "bilstm", "lstm1", "markov"; "?" when out of range. */
const char *session_method_to_string(int method);

/* Parses a method name; the session_method or -1. */
int session_method_from_string(const char *s);

/* Thresholds depend on a session's length class: 1 connection, 2-5, 6 or more.
 * Scores of sessions of different lengths are not alike (a one-connection
 * session is one draw, a long one an average), so each class is compared with
 * benign sessions of its own class. */
#define SESSION_LEN_CLASSES 3

/* Threshold of one host seen in training. */
typedef struct session_host_threshold {
    uint8_t family;
    uint8_t host[16];
    double threshold[SESSION_LEN_CLASSES]; /* NAN: too few sessions, the global one applies */
} session_host_threshold;

/* Thresholds of one method: per host and length class, and global fallbacks. */
typedef struct session_thresholds {
    double global[SESSION_LEN_CLASSES]; /* quantile of the benign scores of each class */
    session_host_threshold *hosts;      /* n_hosts, sorted by (family, host) */
    size_t n_hosts;
} session_thresholds;

typedef struct session_model {
    session_config sess;       /* sessionisation used in training */
    session_vocab vocab;
    int enc_dim;               /* E: encoder vector floats per connection (0: none) */
    uint64_t encoder_id;       /* id (checksum) of that encoder's model (0: none) */
    session_net *net[2];       /* [SESSION_METHOD_BILSTM], [SESSION_METHOD_LSTM1] */
    markov_t *markov;          /* the Markov baseline over state ids */
    session_thresholds thr[SESSION_METHOD_COUNT];
    double quantile;           /* quantile the thresholds were taken at */
    int score_top;             /* k of the score's burst part (0: whole session only) */
    int score_rule;            /* enum session_score_rule */
    double host_factor;        /* a host's own threshold is at most this times the
                                  global one of its class (0: unbounded) */
    uint64_t id;               /* checksum of the file it was loaded from (0: new) */
} session_model;

/* Frees the model and everything in it; NULL is a no-op. */
void session_model_destroy(session_model *m);
/* Describes m in a new model file (kind "session"); *params receives a new
 * parameter set holding both networks' tensors ("bilstm." / "lstm1."
 * prefixes), to pass to modelfile_save and then free with params_destroy. */
int session_model_to_file(modelfile_t **out, params_t **params, const session_model *m,
                          char *errbuf);

/* Writes m to path (temporary file then rename). */
int session_model_save(const session_model *m, const char *path, char *errbuf);

/* Builds a model from a loaded model file, checking kind, config and every
 * tensor; id is kept in m->id. */
int session_model_from_file(session_model **out, const modelfile_t *mf, uint64_t id,
                            char *errbuf);

/* Loads a model from a buffer (e.g. the compiled-in default). */
int session_model_load_buffer(session_model **out, const void *buf, size_t len, char *errbuf);

/* Loads a model file through modelfile_load (size cap MODELFILE_MAX_BYTES; errors
 * name the file). */
int session_model_load(session_model **out, const char *path, char *errbuf);

/* The compiled-in default session model (encoders/default_session_model.c). */
extern const unsigned char session_default_model[];
extern const size_t session_default_model_len;

#endif

/* encoder.h - the connection encoder: window features -> LSTM -> dense ->
 * unit-length vector.
 *
 *   inp    (B,T,C)  standardised features (connfeat.h), C = CONNFEAT_CHANNELS
 *   hlast  (B,D*H)  last hidden state of the LSTM stack
 *   z      (B,E)    head: hlast W^T + b (W is (E,D*H))
 *   emb    (B,E)    z / |z|: cosine similarity is a dot product
 *
 * Two legs of a relay hop seen over the same window should embed close
 * together; the correlator (correlate/lstm_method.h) scores a hop by the dot
 * products of its legs' window embeddings.
 *
 * Parameters live in one params_t (enc->params): the LSTM tensors (PyTorch
 * names, adjacent, see lstm.h) then "head.weight" (E,D*H) and "head.bias" (E).
 * Gradients accumulate into enc->params->grad; zero them explicitly.
 *
 * Ownership: an encoder owns its params and normalisation constants; every
 * buffer passed to forward/backward is the caller's (sizes from
 * encoder_acts_size / encoder_workspace_size); forward/backward never
 * allocate. encoder_embed_windows allocates its own scratch.
 */
#ifndef STEPSTONE_ENCODER_H
#define STEPSTONE_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "conntab.h"
#include "connfeat.h"
#include "lstm.h"
#include "modelfile.h"
#include "params.h"

#define ENCODER_MODEL_KIND "correlator"

/* Hop-score calibration (correlate/hopscore.h): thresholds kept per number
 * of windows a score rests on, 1..16 (a score on more windows uses the
 * last), at each of 4 false-positive rates (the target x 1000, 100, 10, 1). */
#define ENCODER_HOP_CLASSES 16
#define ENCODER_HOP_LEVELS 4

/* Architecture; fill with encoder_config_default. */
typedef struct encoder_config {
    connfeat_config feat;
    int hidden;        /* LSTM units per direction */
    int layers;        /* stacked LSTM layers */
    int bidirectional; /* 0 or 1 */
    int dim;           /* E: embedding size */
} encoder_config;

typedef struct encoder {
    encoder_config cfg;
    lstm_config lstm;
    params_t *params;                 /* owned */
    int k_lstm, k_head_w, k_head_b;   /* tensor indices in params */
    float mean[CONNFEAT_CHANNELS];    /* feature standardisation */
    float std[CONNFEAT_CHANNELS];
    double threshold;                 /* default hop-score threshold */
    int n_hop_thr;                    /* 0: hop scores are the plain formula;
                                         else hop_thr[0..n) are calibrated */
    float hop_thr[ENCODER_HOP_CLASSES][ENCODER_HOP_LEVELS];
                                      /* [k - 1][j]: the plain score
                                         (correlate/hopscore.h) that unrelated
                                         pairs on k windows pass at FPR level j,
                                         increasing in j ("hop_thresholds") */
    float hop_level[ENCODER_HOP_LEVELS]; /* the score each level maps to,
                                         increasing, the last = threshold
                                         ("hop_levels") */
    uint64_t id;                      /* checksum of the model it was loaded from,
                                         without its hop_thresholds (0 for a new,
                                         unsaved encoder): what the vectors and
                                         the global threshold depend on */
} encoder;

/* Fills cfg with the defaults for a feature kind: hidden 48, 1 layer,
 * bidirectional, 64-dimensional embeddings. */
void encoder_config_default(encoder_config *cfg, int feature_kind);

/* Creates an encoder with fresh parameters (PyTorch-style init from seed),
 * identity normalisation and threshold 0.5. Returns 0 or a negative status. */
int encoder_create(encoder **out, const encoder_config *cfg, uint64_t seed, char *errbuf);

/* Frees enc; NULL is a no-op. */
void encoder_destroy(encoder *enc);

/* Floats of activations encoder_forward writes for a batch of B. */
size_t encoder_acts_size(const encoder *enc, int B);

/* Floats of scratch encoder_backward needs for a batch of B. */
size_t encoder_workspace_size(const encoder *enc, int B);

/* Embeds B windows: emb (B,E) from inp (B,T,C) with lengths[B] in 1..T;
 * acts (encoder_acts_size) keeps what backward needs. */
int encoder_forward(float *emb, float *acts, const float *inp, const int *lengths,
                    const encoder *enc, int B, char *errbuf);

/* Backward of the last forward with the same arguments: dinp (B,T,C) is
 * assigned (NULL: not computed); the parameter gradients accumulate into
 * enc->params->grad; demb (B,E) is the loss gradient w.r.t. emb; ws has
 * encoder_workspace_size floats. */
int encoder_backward(float *dinp, const float *demb, const float *acts, float *ws,
                     const float *inp, const int *lengths, encoder *enc, int B,
                     char *errbuf);

/* Standardised input of one window of rec into x (T,C); returns the length
 * and *n_data as connfeat_window. */
int encoder_window_input(float *x, int *n_data, const encoder *enc,
                         const conntab_record *rec, int64_t w0_us);

/* Embeds n (record, window start) pairs into emb (n,E), in batches; n_data
 * (n ints, may be NULL) receives each window's payload packet count. Allocates
 * and frees its own scratch. Returns 0 or a negative status. */
int encoder_embed_windows(float *emb, int *n_data, const encoder *enc,
                          const conntab_record *const *recs, const int64_t *w0_us, size_t n,
                          char *errbuf);

/* Describes enc in a new model file (kind "correlator": config, "mean" and
 * "std" arrays, threshold); the tensors come from enc->params at save time:
 * modelfile_save(*out, enc->params, path). */
int encoder_to_model(modelfile_t **out, const encoder *enc, char *errbuf);

/* Writes enc to path (temporary file then rename) and sets enc->id. */
int encoder_save(encoder *enc, const char *path, char *errbuf);

/* Builds an encoder from a loaded model, checking kind, config and every
 * tensor's name and shape. id is stored as enc->id. The calibration
 * arrays "hop_thresholds" (n x ENCODER_HOP_LEVELS, n at most
 * ENCODER_HOP_CLASSES) and "hop_levels" are optional (older models have
 * none), together; every value in (0,1), each row increasing. */
int encoder_from_model(encoder **out, const modelfile_t *mf, uint64_t id, char *errbuf);

/* Loads an encoder from a model file through modelfile_load (size cap
 * MODELFILE_MAX_BYTES; errors name the file). */
int encoder_load(encoder **out, const char *path, char *errbuf);

/* Loads an encoder from a model held in memory (e.g. the compiled-in one). */
int encoder_load_buffer(encoder **out, const void *buf, size_t len, char *errbuf);

/* Loads the correlator every command uses: the model file at path, or the
 * compiled-in default model (default_model.h) when path is NULL or empty. */
int encoder_open(encoder **out, const char *path, char *errbuf);

#endif

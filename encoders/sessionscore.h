/* sessionscore.h - scoring host sessions as they complete: the session model
 * and its encoder loaded and checked together, and one session scored under
 * one or several methods (sessscore.h). `stepstone score` prints what it
 * returns; `stepstone eval sessions` counts it, so both score alike.
 *
 * One session is scored as follows: the session and its host's history
 * (sessionfeed.h) are laid out back to back (sessionfeed_layout_make), its
 * members get the encoder's vectors (session_encoder_vectors, when the
 * model takes them), its tokens and input rows are built
 * (session_data_build_host), then each method's likelihoods and result
 * (session_model_likelihoods, session_model_results).
 *
 * Ownership: sessionscore_load hands over a new model and encoder, freed by
 * the caller (session_model_destroy, encoder_destroy). A sessionscore_row
 * points into the session's records: valid only as long as they are (during
 * the sessionfeed callback that received them).
 */
#ifndef STEPSTONE_SESSIONSCORE_H
#define STEPSTONE_SESSIONSCORE_H

#include <stddef.h>
#include <stdint.h>

#include "conntab.h"
#include "sessionfeed.h"
#include "sessmodel.h"
#include "sessscore.h"

struct encoder;

/* Loads the session model from model_path (NULL: the compiled-in one) and, when
 * the model takes encoder vectors, the connection encoder it was trained with:
 * enc_path, or (NULL) the compiled-in encoder, which must be the one whose id
 * the model stores. *model receives the model, *enc the encoder (NULL when the
 * model takes none); on failure both are NULL and errbuf holds the one-line
 * reason (a model that cannot be read, --encoder given to a model without
 * encoder vectors, an encoder that is not the model's). Returns 0 or a
 * negative status. */
int sessionscore_load(session_model **model, struct encoder **enc, const char *model_path,
                      const char *enc_path, char *errbuf);

/* Fills *tc with the connection table settings for scoring with enc (NULL: no
 * encoder): the defaults, keeping packets only for the encoder, and only those
 * its vector reads (the connection's first window starts at or before the
 * connection, so they are all less than one window length after its start). */
void sessionscore_conntab_config(conntab_config *tc, const struct encoder *enc);

/* One session scored under one method: what `stepstone score` prints. */
typedef struct sessionscore_row {
    uint8_t family;              /* the host's address family, 4 or 6 */
    uint8_t host[16];            /* its address (IPv4: first 4 bytes) */
    int64_t start_us, end_us;    /* start of the first connection, latest end */
    int n;                       /* connections */
    session_result res;          /* score, threshold, flagged, least expected member */
    const conntab_record *least; /* the least expected connection (see Ownership) */
    uint32_t least_key;          /* its state key (session_state_key_string) */
    int least_size;              /* its size class */
} sessionscore_row;

/* Scores session s of a host, with hist[0..n_hist) its earlier sessions as
 * sessionfeed hands them on, under each of methods[0..n_methods) (enum
 * session_method) with model m and encoder enc (NULL when m->enc_dim is 0):
 * rows[i] receives the result of methods[i]. The session is laid out, encoded
 * and tokenised once for all methods. Returns 0 or a negative status. */
int sessionscore_session(sessionscore_row *rows, const int *methods, size_t n_methods,
                         const session_model *m, const struct encoder *enc,
                         const sessionfeed_session *s, const sessionfeed_session *hist,
                         size_t n_hist, char *errbuf);

#endif

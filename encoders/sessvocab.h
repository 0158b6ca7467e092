/* sessvocab.h - tokens of host sessions: state keys, the state vocabulary,
 * size classes, and the input rows of the session network.
 *
 * Tokens. Each connection of a session becomes:
 *   state       (protocol, server port, direction relative to the host,
 *               outcome: answered, reset, refused, unanswered; and, with the
 *               same peer earlier in the session, how many connections in
 *               the same state (0, 1, 2-3, 4+) and how many other server
 *               ports (0, 1-2, 3+)): the most
 *               frequent states of the training data form a vocabulary
 *               (id 1..V-1), with port-class states (well-known, registered,
 *               dynamic) for the rare ports; every other state is id 0;
 *   size class  where the connection's originator bytes, responder bytes and
 *               duration lie among those of its service (protocol, server
 *               port, direction, outcome) in the training data, tails apart
 *               (see "Size classes" below; K classes);
 *   inputs      one row of In floats: one-hot state, one-hot size class,
 *               one-hot Zeek conn_state, log1p(seconds since the previous
 *               connection of the session), log1p(duration in seconds), then
 *               the E floats of the connection encoder's vector (E may be 0).
 *
 * Ownership: session_vocab and session_data own their arrays (freed by
 * session_vocab_free / session_data_free, which accept NULL). Functions taking
 * records or vectors read them only during the call.
 */
#ifndef STEPSTONE_SESSVOCAB_H
#define STEPSTONE_SESSVOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "conntab.h"
#include "session.h"

#define SESSION_N_OUTCOMES CONNTAB_STATE_COUNT /* Zeek conn_state one-hot width */
#define SESSION_N_EXTRA 2                      /* gap and duration inputs */

/* Outcome of a connection, the part of its Zeek conn_state a state keeps. */
enum session_outcome {
    SESSION_OUTCOME_OK = 0,         /* established: SF, S1, S2, S3 */
    SESSION_OUTCOME_RESET = 1,      /* established, then aborted: RSTO, RSTR */
    SESSION_OUTCOME_REJECTED = 2,   /* refused: REJ */
    SESSION_OUTCOME_UNANSWERED = 3  /* no handshake seen: S0, SH, SHR, RSTOS0, RSTRH, OTH
                                       (UDP/ICMP without a reply: S0) */
};

/* Outcome (enum session_outcome) of a conntab_state. */
int session_outcome(int conn_state);

/* Layout of state keys; stored in model files, which are refused when it differs. */
#define SESSION_STATE_LAYOUT 6
#define SESSION_HISTORY_US INT64_C(60000000) /* repeat/spread look back across sessions */
#define SESSION_KEY_CLASS_BIT (UINT32_C(1) << 20)

/* State key of a connection seen from one of its hosts, given what this host
 * did with the same peer earlier in the session: repeat = connections in the
 * same state (same port, outcome, direction), spread = distinct other server
 * ports. Layout: protocol class << 24 (tcp 0, udp 1, icmp/icmp6 2, other 3) |
 * outcome << 22 | outbound << 21 | port-class flag (bit 20) | spread class << 18
 * (0: none, 1: 1-2, 2: 3 or more) | repeat class << 16 (0: first, 1: second,
 * 2: third or fourth, 3: fifth and later) | server port (TCP/UDP: resp_p, ICMP:
 * the type, other: the protocol number). The repeat class tells a few logins
 * to one server from dozens in a row (brute force), the spread class one or
 * two services of a peer from many of its ports (a scan). */
uint32_t session_state_key(const conntab_record *rec, int outbound, int repeat, int spread);

/* State keys of every member of l into keys (l->n_members); recs are the
 * records l was built from. A member's repeat and spread classes count the
 * host's connections with the same peer earlier in its session and, across
 * session boundaries, those that started in the SESSION_HISTORY_US before it
 * (so a cut at max_conns in a busy server's traffic does not reset the count
 * of a guesser's attempts). Returns 0 or SS_ERR_NOMEM. */
int session_list_keys(uint32_t *keys, const session_list *l, const conntab_record *const *recs,
                      char *errbuf);

/* Port-class key of a state key: the same protocol, outcome and direction with the port
 * replaced by its class (0: below 1024 or ICMP/other, 1: 1024..49151, 2: 49152 and up)
 * and SESSION_KEY_CLASS_BIT set. States too rare to be in the vocabulary fall back to
 * it, so an unknown port still says what happened (a refused connection to some low
 * port is not an answered one to some high port). A class key maps to itself. */
uint32_t session_state_class_key(uint32_t key);

/* Formats a state key as "tcp/22 out ok", "tcp/22 in ok x5+" or "tcp/wk in rej" into buf
 * (size n). */
void session_state_key_string(uint32_t key, char *buf, size_t n);

/* Size classes. A connection's size class says where its bytes and duration lie
 * in the training distribution of its *service*: the state key without its
 * repeat and spread classes (session_service_key), e.g. "tcp/80 out ok". For the
 * originator's payload bytes and for the responder's, C byte classes (C =
 * byte_classes, 3..8): below the SESSION_SIZE_TAIL quantile of the service's
 * training values, C-2 classes between that and the 1 - SESSION_SIZE_TAIL
 * quantile (split at the quantiles i/(C-2)), above it; and a duration flag (above
 * the service's 1 - SESSION_SIZE_TAIL quantile). Class = (orig * C + resp) * 2 +
 * long: K = 2 C^2 classes. A service needs SESSION_SIZE_MIN_OBS training
 * connections for edges of its own, else it uses its port class's service
 * (session_state_class_key), else the edges of every connection (service 0).
 * So a 600-byte request to a web server whose requests are 80-150 bytes, or a
 * connection held open 5 s where that service's last 0.1 s, is in a class its
 * service rarely shows, whatever the absolute size. */
#define SESSION_SIZE_TAIL 0.01
/* Beyond a service's upper edges, how far beyond counts too (session_vocab_tail):
 * the log-excess log((x + o) / (edge + o)) of a value above its edge has, in
 * the service's training tail, an exponential law whose scale b is its mean
 * there, shrunk towards the all-connection (service 0) scale with
 * SESSION_TAIL_PRIOR pseudo-observations and at least SESSION_TAIL_MIN_SCALE;
 * o is 1 byte or 1 ms. */
#define SESSION_TAIL_PRIOR 5.0
#define SESSION_TAIL_MIN_SCALE 0.05
#define SESSION_SIZE_MIN_OBS 100
#define SESSION_SIZE_MAX_SERVICES 256
#define SESSION_BYTE_CLASSES_DEFAULT 4

/* The vocabulary of states and the size-class edges, built from training data. */
typedef struct session_vocab {
    int n_states;          /* V: ids 0 ("other") .. V-1 */
    uint32_t *state_keys;  /* V-1 keys, of ids 1..V-1 (most frequent first) */
    float *state_types;    /* V: distinct training states each id stands for (1 for an
                              exact state; a port class or "other": the states counted
                              under it, "other" one more for the states never seen);
                              NULL: 1 each */
    int byte_classes;      /* C: classes of each direction's bytes */
    int n_sizes;           /* K = 2 C^2 size classes */
    int n_services;        /* S: service 0 (every connection) and S-1 with edges of their own */
    uint32_t *service_keys;/* S-1 service keys, of services 1..S-1 */
    float *size_edges;     /* (S, 2 (C-1) + 1): orig byte edges, resp byte edges (ascending),
                              duration edge in seconds */
    float *size_tails;     /* (S, 3): tail scales b of the orig bytes, resp bytes and
                              duration above their upper edges (SESSION_TAIL_PRIOR) */
} session_vocab;

/* Floats of size edges per service for C byte classes. */
#define SESSION_SIZE_EDGES(C) (2 * ((C) - 1) + 1)

/* Probability of one state of id from p, the probability of its id: p divided
 * among the state_types states the id stands for, so that 25 probes of 25
 * ports, each a state never seen, are not as likely as 25 times the same
 * "other". */
double session_vocab_state_prob(const session_vocab *v, int id, double p);

/* Builds the state vocabulary from n state keys: the states seen at least
 * min_count times, most frequent first (ties: lower key), then the port-class
 * states (session_state_class_key) of the other observations seen at least
 * min_count times, which take the places of the least frequent exact states
 * when there are more than max_states - 1 in all, and each id's state_types.
 * The size edges are left empty (session_vocab_build_sizes). Returns 0 or a
 * negative status. */
int session_vocab_build(session_vocab *v, const uint32_t *keys, size_t n, int max_states,
                        int min_count, char *errbuf);

/* Sets the size-class edges of v (see "Size classes" above) from n training
 * connections: state keys, originator and responder payload bytes, durations
 * (microseconds). Returns 0 or a negative status. */
int session_vocab_build_sizes(session_vocab *v, const uint32_t *keys, const uint64_t *orig,
                              const uint64_t *resp, const int64_t *dur_us, size_t n,
                              int byte_classes, char *errbuf);

/* Frees the arrays of v and zeroes it; NULL is a no-op. */
void session_vocab_free(session_vocab *v);

/* Service key of a state key: the key with its repeat and spread classes cleared. */
uint32_t session_service_key(uint32_t key);

/* Index of the service whose size edges a state key uses (0: the global ones). */
int session_vocab_service(const session_vocab *v, uint32_t key);

/* Token id of a state key: its own, else its port class's, else 0 ("other"). */
int session_vocab_state(const session_vocab *v, uint32_t key);

/* Size class (0..K-1) of a connection in state key with these payload bytes and
 * duration (see "Size classes" above). */
int session_vocab_size(const session_vocab *v, uint32_t key, uint64_t orig, uint64_t resp,
                       int64_t dur_us);

/* Surprisal (nats) of how far beyond its service's upper edges a connection's
 * bytes and duration lie: the sum over the three of log-excess / b (0 when
 * none is above its edge). A size class's upper tail holds 1% of the service's
 * connections whether a value is just past the edge or ten times past it; a
 * request of four times the largest the service sent in training is less
 * likely than one just past the edge, and the exponential tail says by how
 * much from the service's own tail. */
double session_vocab_tail(const session_vocab *v, uint32_t key, uint64_t orig, uint64_t resp,
                          int64_t dur_us);

/* Floats per input row for this vocabulary and encoder dimension E. */
int session_input_size(const session_vocab *v, int enc_dim);

/* Tokens and input rows of every session of a set of records. */
typedef struct session_data {
    session_list list;   /* the sessions (owned) */
    int input_size;      /* In */
    float *x;            /* (n_members, In) input rows, members in list order */
    uint32_t *key;       /* (n_members) state keys (session_list_keys) */
    int *state;          /* (n_members) state ids */
    int *size;           /* (n_members) size classes */
    float *tail;         /* (n_members) session_vocab_tail of each member (nats) */
} session_data;

/* Sessionises recs[0..n) with cfg (input beginnings starts[0..n_starts) as for
 * session_list_build) and encodes every member with vocab v.
 * vecs (n, enc_dim), row i for recs[i], may be NULL when enc_dim is 0.
 * Returns 0 or a negative status; *d is filled (free with session_data_free). */
int session_data_build(session_data *d, const session_vocab *v, const conntab_record *const *recs,
                       size_t n, const float *vecs, int enc_dim, const session_config *cfg,
                       const int64_t *starts, size_t n_starts, char *errbuf);

/* As session_data_build for one session of one host that is already formed
 * (the streaming path, sessionfeed.h): recs[0..) holds n_spans sessions of
 * the host back to back, span_n[i] members each (oldest first, members in
 * (start, serial) order), outbound[] per member; the earlier sessions only
 * feed the state keys' history, *d holds the last one alone (its list's conn
 * indices point into recs). vecs (span_n[n_spans - 1], enc_dim) holds its
 * members' encoder vectors. Returns 0 or a negative status. */
int session_data_build_host(session_data *d, const session_vocab *v,
                            const conntab_record *const *recs, const uint8_t *outbound,
                            const size_t *span_n, size_t n_spans, const float *vecs, int enc_dim,
                            char *errbuf);

/* Frees what d owns and zeroes it; NULL is a no-op. */
void session_data_free(session_data *d);

struct encoder;

/* Encoder vectors of recs[0..n): vecs (n, E) receives the embedding of each
 * record's first window (the encoder's grid window holding its start).
 * Returns 0 or a negative status. */
int session_encoder_vectors(float *vecs, const struct encoder *enc,
                            const conntab_record *const *recs, size_t n, char *errbuf);

#endif

/* session.h - host sessions of connections and the session anomaly model.
 *
 * Sessions. For every host (address), that host's connections, inbound and
 * outbound, in time order (start_us, then serial). A connection joins the
 * host's current session when it starts less than gap_us after the end of
 * the session's latest connection (idle time; a connection still open keeps
 * the host active); a session is cut after max_conns connections. A connection between
 * two hosts belongs to one session of each (outbound for its originator,
 * inbound for its responder).
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
 * Network (session_net). Two stacks of unidirectional LSTM layers: "fwd" runs
 * over the session in time order, "bwd" over the session reversed. The
 * context of position t is [fwd output at t-1 ; bwd output at t+1] (zeros
 * past either end), then a tanh dense layer, then two softmax heads: the
 * state and the size class of connection t. Connection t's own inputs reach
 * neither half of its context, so it cannot see itself. This is why the two
 * directions are separate stacks: in a stacked bidirectional LSTM (PyTorch's
 * layout) the second layer's forward cell at t-1 reads the first layer's
 * backward output at t-1, which has seen x[t], so shifting the top layer's
 * outputs would still leak token t into its own prediction.
 * With bidirectional = 0 the net is the "predict next" baseline: context =
 * fwd output at t-1 only.
 *
 * Likelihood of connection t = sqrt(p_state[t](observed state) *
 * p_size[t](observed size class)) (Markov: P(state t | state t-1)), or the
 * smaller of the two for a TCP connection refused or never answered, whose size
 * (no payload) follows from its state (session_key_size_implied); its
 * surprisal is -ln(likelihood) (floored at SESSION_MIN_LIKELIHOOD). Score of a
 * session of n connections = the larger of
 *   whole: sum over t of surprisal[t] / sqrt(n) = sqrt(n) * (-ln of the
 *          geometric mean likelihood), and
 *   burst: the sum of its k largest surprisals / sqrt(k), k = score_top (5),
 *          when n > k,
 * compared with thresholds of sessions of the same length class (1, 2-5, 6+
 * connections): a one-connection session is one draw, a long one an average.
 * The burst part is there for a few very unlikely connections among ordinary
 * ones (failed logins in a busy server's session), which the whole-session
 * average dilutes.
 * No expected surprisal (entropy of the prediction) is subtracted: on traffic
 * unlike any training session (a scan) a network's predictions spread out, and
 * an entropy term then cancelled the very surprise that should flag it. The
 * connection with the lowest likelihood is the least expected one.
 *
 * Ownership: session_list, session_vocab, session_data and session_model own
 * their arrays (freed by their _free/_destroy, which accept NULL). Functions
 * taking records read them only during the call. Forward/backward of the net
 * never allocate: the caller passes buffers sized by session_net_acts_size /
 * session_net_workspace_size.
 */
#ifndef STEPSTONE_SESSION_H
#define STEPSTONE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "conntab.h"
#include "lstm.h"
#include "markov.h"
#include "modelfile.h"
#include "params.h"

#define SESSION_MODEL_KIND "session"
#define SESSION_DEFAULT_GAP_US INT64_C(8000000)
#define SESSION_DEFAULT_MAX_CONNS 25
#define SESSION_N_OUTCOMES CONNTAB_STATE_COUNT /* Zeek conn_state one-hot width */
#define SESSION_N_EXTRA 2                      /* gap and duration inputs */
#define SESSION_MIN_LIKELIHOOD 1e-12 /* floor of a likelihood in scores (27.6 nats) */
#define SESSION_SCORE_TOP_MAX 64      /* largest score_top */
#define SESSION_THRESHOLD_SLACK 1e-6 /* flagged: score > threshold + slack, so sums in
                                        another thread count's order do not flip ties */

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

/* ---- sessionisation ---- */

/* Session rules; fill with session_config_default. */
typedef struct session_config {
    int64_t gap_us; /* a connection starting this long after the end of the
                       session's latest one opens a new session (default 8 s) */
    int max_conns;  /* connections per session at most (default 25) */
} session_config;

/* Fills cfg with the defaults (8 s gap, 25 connections). */
void session_config_default(session_config *cfg);

/* Checks a config (gap > 0, 1 <= max_conns <= 4096); 0 or SS_ERR_ARG. */
int session_config_check(const session_config *cfg, char *errbuf);

/* One session of one host. */
typedef struct session_span {
    uint8_t family;      /* 4 or 6 */
    uint8_t host[16];    /* the host's address (IPv4: first 4 bytes, rest 0) */
    int64_t start_us;    /* start of its first connection */
    int64_t end_us;      /* latest end of its connections */
    size_t first;        /* index of its first member in session_list.conn */
    int n;               /* members (1..max_conns) */
} session_span;

/* Every session of a set of records. */
typedef struct session_list {
    session_span *spans; /* n_spans, sorted by (start_us, family, host) */
    size_t n_spans;
    size_t *conn;        /* record index of each member, spans' members adjacent */
    uint8_t *outbound;   /* per member: 1 if the host originated the connection */
    size_t n_members;
} session_list;

/* A capture starts in the middle of connections: a TCP connection that starts
 * within SESSION_EDGE_US after the beginning of an input capture and shows no
 * opening handshake (OTH, SH, SHR, RSTRH) was under way before that capture
 * began. Its beginning is missing, so it says nothing of what its hosts did and
 * session_list_build leaves it out. starts[0..n_starts), ascending, are the
 * beginnings: the first frame time of each capture merged into the timeline
 * (several captures of other times each begin in the middle of connections).
 * 1 for such a record, else 0. */
#define SESSION_EDGE_US INT64_C(1000000)
int session_partial_at_start(const conntab_record *rec, const int64_t *starts, size_t n_starts);

/* 1 if t_us is less than SESSION_EDGE_US after one of starts[0..n_starts)
 * (ascending), the window session_partial_at_start looks at, else 0. */
int session_near_start(int64_t t_us, const int64_t *starts, size_t n_starts);

/* Sorts starts[0..n) ascending in place, the order session_partial_at_start reads. */
void session_starts_sort(int64_t *starts, size_t n);

/* Splits recs[0..n) into host sessions (see the top of this file), leaving out
 * the connections under way when an input capture began (session_partial_at_start
 * with starts[0..n_starts), ascending; with none, the input is one capture that
 * began at its earliest record). *out is filled (free with session_list_free).
 * Returns 0, SS_ERR_ARG or SS_ERR_NOMEM. */
int session_list_build(session_list *out, const conntab_record *const *recs, size_t n,
                       const session_config *cfg, const int64_t *starts, size_t n_starts,
                       char *errbuf);

/* Frees the arrays of l and zeroes it; NULL is a no-op. */
void session_list_free(session_list *l);

/* 1 if addr (family 4 or 6) can be a host with sessions: not a multicast group
 * (224.0.0.0/4, ff00::/8), the limited broadcast 255.255.255.255 or the
 * unspecified address. Traffic to a group is the sender's, not a session of a
 * host named by the group: mDNS, LLMNR or SSDP announcements would otherwise
 * make one pseudo-host of every group, holding every sender's connections. */
int session_is_host(uint8_t family, const uint8_t *addr);

/* Formats a host address ("198.18.0.11", "2001:db8::1") into buf (size n). */
void session_host_string(uint8_t family, const uint8_t *host, char *buf, size_t n);

/* ---- tokens ---- */

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

/* ---- network ---- */

/* Architecture of one network. */
typedef struct session_net_config {
    int input_size;    /* In */
    int n_states;      /* V */
    int n_sizes;       /* K */
    int hidden;        /* H per direction */
    int layers;        /* LSTM layers per stack */
    int bidirectional; /* 1: both-sides context; 0: previous connections only */
    int dense;         /* width of the tanh dense layer */
} session_net_config;

typedef struct session_net {
    session_net_config cfg;
    lstm_config lstm;   /* each stack: unidirectional, In -> H, cfg.layers */
    params_t *params;   /* owned: fwd.*, bwd.* (if bidirectional), dense.*,
                           state_head.*, size_head.* */
    int k_fwd, k_bwd;   /* first tensor of each stack (k_bwd -1 if absent) */
    int k_dense_w, k_dense_b, k_state_w, k_state_b, k_size_w, k_size_b;
    float smoothing;    /* label smoothing of the training loss (0 when created or
                           loaded; set by the trainer, not stored in model files) */
} session_net;

/* Creates a network with fresh parameters (PyTorch-style uniform init,
 * deterministic for seed). Returns 0 or a negative status. */
int session_net_create(session_net **out, const session_net_config *cfg, uint64_t seed,
                       char *errbuf);

/* Frees net; NULL is a no-op. */
void session_net_destroy(session_net *net);

/* Width of the context vector: 2H if bidirectional, else H. */
int session_net_context_size(const session_net *net);

/* Floats of activations session_net_forward writes for a (B,T) batch. */
size_t session_net_acts_size(const session_net *net, int B, int T);

/* Floats of scratch session_net_backward needs for a (B,T) batch. */
size_t session_net_workspace_size(const session_net *net, int B, int T);

/* Runs the net over B sessions: inp (B,T,In), lengths[B] in 1..T. acts
 * (session_net_acts_size) receives everything backward needs, including the
 * probabilities: see session_net_probs. With targets (state_tgt, size_tgt
 * (B*T), -1 at padded positions) *loss receives mean state CE + mean size
 * CE, against targets smoothed by net->smoothing; loss, state_tgt and size_tgt
 * may be NULL. Returns 0 or SS_ERR_ARG. */
int session_net_forward(float *loss, float *acts, const float *inp, const int *lengths,
                        const int *state_tgt, const int *size_tgt, const session_net *net,
                        int B, int T, char *errbuf);

/* Pointers to the probabilities inside acts after a forward:
 * *p_state (B*T, V) and *p_size (B*T, K); rows of padded steps are garbage. */
void session_net_probs(const float **p_state, const float **p_size, const float *acts,
                       const session_net *net, int B, int T);

/* Backward of the loss of the last forward (same arguments, targets
 * required): parameter gradients accumulate into net->params->grad; ws is
 * session_net_workspace_size floats. Returns 0 or SS_ERR_ARG. */
int session_net_backward(float *ws, const float *acts, const float *inp, const int *lengths,
                         const int *state_tgt, const int *size_tgt, session_net *net, int B,
                         int T, char *errbuf);

/* ---- the model: vocabulary, networks, baseline, thresholds ---- */

/* Thresholds depend on a session's length class: 1 connection, 2-5, 6 or more.
 * Scores of sessions of different lengths are not alike (a one-connection
 * session is one draw, a long one an average), so each class is compared with
 * benign sessions of its own class. */
#define SESSION_LEN_CLASSES 3

/* Length class (0..SESSION_LEN_CLASSES-1) of a session of n connections. */
int session_length_class(int n);

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

/* Scores of one session. */
typedef struct session_result {
    double score;      /* surprisal (nats) summed over the connections / sqrt(connections),
                          or over the score_top largest / sqrt(score_top) if higher */
    double threshold;  /* the threshold of its host and length class */
    int flagged;       /* score > threshold + SESSION_THRESHOLD_SLACK */
    int least;         /* member index (0..n-1) of the least expected connection */
    double least_lik;  /* its likelihood */
} session_result;

/* 1 if a connection in state key has a size class that follows from its state:
 * a TCP connection refused or never answered carries no payload. Its state and
 * size predictions then judge one event, and the mean of their surprisals
 * would halve the surprise of the more surprised head; its likelihood is the
 * smaller of the two probabilities. */
int session_key_size_implied(uint32_t key);

/* Likelihood of every member of d under method: lik (d->list.n_members)
 * receives, for each connection, the geometric mean of the probabilities of
 * its state and size class, or the smaller of the two where
 * session_key_size_implied (Markov: of its state given the previous one),
 * and ent (may be NULL) the expected surprisal of that prediction (nats: the
 * mean entropy of the two predicted distributions; reported, not scored). */
int session_model_likelihoods(double *lik, double *ent, const session_model *m, int method,
                              const session_data *d, char *errbuf);

/* Threshold of a session of n connections of a host for a method: the global one
 * of its length class, or the host's own for that class where it is higher (a
 * host whose benign sessions score high keeps them unflagged; no host gets a
 * threshold below the global one), but at most host_factor times the global one
 * (a busy server's threshold, estimated from a few dozen of its sessions, does
 * not hide an attack on it). */
double session_model_threshold(const session_model *m, int method, uint8_t family,
                               const uint8_t *host, int n);

/* Scores every session of d: res (d->list.n_spans) from the likelihoods lik
 * (d->list.n_members) of session_model_likelihoods. */
void session_model_results(session_result *res, const session_model *m, int method,
                           const session_data *d, const double *lik);

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

/* Loads a model file (errors name the file). */
int session_model_load(session_model **out, const char *path, char *errbuf);

/* The compiled-in default session model (encoders/default_session_model.c). */
extern const unsigned char session_default_model[];
extern const size_t session_default_model_len;

#endif

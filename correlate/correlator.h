/* correlator.h - the streaming relay-hop correlator: packets in, scored
 * candidate hops out, with memory bounded by the connections alive at a time.
 *
 * It computes what candidates_find + lstm_method_score_pairs compute on a
 * whole capture (same candidate rule, same grid windows, same hop score;
 * tests/check_correlator.c compares the two), but while reading:
 *
 *   - conntab hands it every packet (conntab_config.watch = correlator_watch)
 *     and every finished connection (correlator_conn_end). Of each open TCP
 *     connection it keeps only the packets of the grid windows still open
 *     (at most `steps` per window: what the encoder reads), not its history.
 *   - When an outbound connection of host B starts, it becomes a pending hop
 *     whose candidates are B's open inbound connections and those B accepts
 *     up to max_lead after it (candidates.h gives the rule).
 *   - When a grid window closes (the capture clock passes its end), the
 *     windows pending hops need (the outbound's first K windows, the same
 *     windows of its candidates) are embedded in one batch; only the vectors
 *     are kept, and only while a pending hop needs them.
 *   - A hop candidate is final once the windows it is scored on are embedded
 *     and its legs' ends are known well enough to count its windows and check
 *     the overlap (a leg has sent past the last window, or has closed). Once
 *     all candidates of an outbound connection are final (and max_lead has
 *     passed), they are scored (one dot product per window, as the batch path
 *     does), handed to the caller as one group, and everything only they
 *     needed is freed.
 * Nothing depends on how many connections came before, so a capture of any
 * size runs in the memory its busiest moment needs.
 *
 * Cost on a busy host (a bastion or proxy with many connections open at
 * once): a candidate pair holds 8 bytes (its inbound leg's index, its state
 * and window count) until its group is emitted; a connection counts the
 * pending hops it is a candidate of by their first window, not one link per
 * pair, so freeing a hop is O(its candidates) and the work of the whole run
 * is O(candidate pairs x windows) (correlator_stats.cand_ops counts it).
 * correlator_set_max_candidates bounds the pairs of one outbound connection.
 *
 * Differences from the batch path: a connection is not limited to its first
 * packets (connset keeps 4096), so windows of long connections are seen; a
 * connection whose originator conntab flips after its first packet (a SYN from
 * the side first taken for the responder) is re-registered in its new roles
 * from that packet on; with "bins" features, a bin's "alive" flag uses the
 * connection's last packet so far, not its final one.
 *
 * Ownership: the correlator borrows enc (which must outlive it); records in
 * a correlator_group are valid only during the callback.
 */
#ifndef STEPSTONE_CORRELATOR_H
#define STEPSTONE_CORRELATOR_H

#include <stddef.h>
#include <stdint.h>

#include "candidates.h"
#include "conntab.h"
#include "encoder.h"
#include "pcapsrc.h"

typedef struct correlator correlator; /* opaque */

/* One outbound connection and its final candidate hops. */
typedef struct correlator_group {
    const conntab_record *out;       /* the outbound leg (relay = out->orig_h);
                                        end_us and counts may be a lower bound
                                        when it is still open */
    size_t n;                        /* candidates (may be 0) */
    const conntab_record *const *in; /* candidate inbound legs, by (start_us, serial) */
    const double *score;             /* their hop scores in [0,1] */
} correlator_group;

/* Receives each group; returns 0 or a negative ss_status that stops the run. */
typedef int (*correlator_emit_fn)(void *ctx, const correlator_group *g, char *errbuf);

/* Counters over the life of a correlator. */
typedef struct correlator_stats {
    uint64_t conns;        /* TCP connections followed */
    uint64_t outbound;     /* groups emitted (outbound connections) */
    uint64_t pairs;        /* candidate hops scored */
    uint64_t windows;      /* (connection, window) embeddings computed */
    uint64_t live;         /* connection states held now */
    uint64_t peak_live;    /* most connection states held at once */
    uint64_t peak_pending; /* most outbound connections waiting at once */
    uint64_t peak_windows; /* most window vectors held at once */
    uint64_t max_cands;    /* most candidates of one outbound connection */
    uint64_t capped;       /* outbound connections with candidates left out
                              (correlator_set_max_candidates) */
    uint64_t cand_ops;     /* candidate-list entries added, removed or visited
                              to keep the lists (not to score): linear in the
                              candidate pairs */
    double embed_s;        /* wall-clock seconds in the encoder */
} correlator_stats;

/* Creates a correlator scoring with enc; cand may be NULL (defaults).
 * Returns 0, SS_ERR_ARG (a negative lead or overlap) or SS_ERR_NOMEM. */
int correlator_create(correlator **out, const encoder *enc, const candidates_config *cand,
                      correlator_emit_fn emit, void *ctx, char *errbuf);

/* conntab_watch_fn: follows one packet (ctx is the correlator). Windows whose
 * end the packet's time passes are embedded first, and groups that became
 * final are emitted. */
int correlator_watch(void *ctx, const conntab_record *rec, const conntab_pkt *pkt, int created,
                     char *errbuf);

/* Tells the correlator that conntab emitted rec (its final record). */
int correlator_conn_end(correlator *c, const conntab_record *rec, char *errbuf);

/* End of input (after conntab_flush): embeds the windows still needed and
 * emits every remaining group. */
int correlator_finish(correlator *c, char *errbuf);

/* Reads paths[0..n) (one merged timeline) through pcapsrc and conntab into c
 * and finishes it. tab may be NULL (defaults; its watch, max_pkts are set
 * here); warn receives capture warnings (may be NULL). Returns 0 or a
 * negative status with errbuf naming the problem. */
int correlator_read_files(correlator *c, const char *const *paths, size_t n,
                          const conntab_config *tab, pcapsrc_warn_fn warn, void *warn_ctx,
                          char *errbuf);

/* Limits the candidates of one outbound connection to max (0: no limit, the
 * default). An outbound connection with more candidate inbound connections
 * keeps the max that started last before it (those open when it starts;
 * later ones join while there is room); each host over the limit is named
 * once through warn (may be NULL). Call before the first packet. */
void correlator_set_max_candidates(correlator *c, size_t max, pcapsrc_warn_fn warn,
                                   void *warn_ctx);

/* Copies the counters into *st. */
void correlator_get_stats(const correlator *c, correlator_stats *st);

/* Frees c and everything it holds, without emitting; NULL is a no-op. */
void correlator_destroy(correlator *c);

#endif

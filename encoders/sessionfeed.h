/* sessionfeed.h - host sessions while the capture is read: conntab in,
 * complete sessions out, memory bounded by the connections open at a time.
 *
 * It forms the sessions session_list_build forms on a whole capture (same
 * rule, session.h: per host, connections in (start, serial) order; one joins
 * the current session when it starts less than gap_us after the latest end
 * of the session's connections and the session has fewer than max_conns;
 * connections under way when an input capture began are left out;
 * tests/check_sessionfeed.c compares the two), but hands each session on as
 * soon as it is complete:
 *   - a session is complete when all its connections have ended (conntab
 *     emitted them: their records, sizes and states are final) and no later
 *     connection can join it: the host's next connection did not join, or
 *     the capture clock is gap_us past the session's latest end;
 *   - whether a connection joins is decided as soon as it is certain: the
 *     session's latest end is only known once its open connections end, but
 *     a connection starting less than gap_us after the latest packet seen so
 *     far joins whatever comes later, and one starting later waits until the
 *     open connections send again or end.
 * Each session comes with the host's earlier sessions its state keys read
 * (connections started in the SESSION_HISTORY_US before). A session waits
 * for an earlier one of its host that still holds an open connection only
 * when that one has such connections; otherwise it goes first, so a long
 * connection does not hold back its host's later sessions.
 * It keeps the open connections, the ended ones whose sessions are not
 * complete or handed on yet (with their first packets, for the encoder), and
 * each host's sessions of the last SESSION_HISTORY_US; nothing else.
 *
 * Ownership: records passed to the callback are valid only during the call.
 */
#ifndef STEPSTONE_SESSIONFEED_H
#define STEPSTONE_SESSIONFEED_H

#include <stddef.h>
#include <stdint.h>

#include "conntab.h"
#include "pcapsrc.h"
#include "session.h"

typedef struct sessionfeed sessionfeed; /* opaque */

/* One complete session of one host. */
typedef struct sessionfeed_session {
    uint8_t family;                    /* 4 or 6 */
    const uint8_t *host;               /* 16 bytes (IPv4: first 4, rest 0) */
    size_t n;                          /* members, 1..max_conns */
    const conntab_record *const *recs; /* final records, by (start_us, serial) */
    const uint8_t *outbound;           /* per member: 1 if the host originated it */
} sessionfeed_session;

/* Receives each complete session s, and hist[0..n_hist), the same host's
 * earlier sessions (in start order) holding a connection that started in the
 * SESSION_HISTORY_US before s's first one: all the state keys' history can
 * read (session_list_keys).
 * Returns 0 or a negative ss_status that stops the run. */
typedef int (*sessionfeed_emit_fn)(void *ctx, const sessionfeed_session *s,
                                   const sessionfeed_session *hist, size_t n_hist, char *errbuf);

/* Counters over the life of a feed. */
typedef struct sessionfeed_stats {
    uint64_t conns;         /* connections seen */
    uint64_t sessions;      /* sessions emitted */
    uint64_t early;         /* of which handed on before an earlier session of
                               their host that still had an open connection */
    uint64_t held;          /* connection records held now */
    uint64_t peak_held;     /* most held at once */
} sessionfeed_stats;

/* Creates a feed with cfg's gap and size (checked as session_config_check).
 * Returns 0, SS_ERR_ARG or SS_ERR_NOMEM. */
int sessionfeed_create(sessionfeed **out, const session_config *cfg, sessionfeed_emit_fn emit,
                       void *ctx, char *errbuf);

/* Tells f where its input captures began (starts[0..n), any order: the first
 * frame time of each capture merged into the timeline), so that connections
 * under way at the beginning of each one are left out (session_partial_at_start),
 * not only at the first packet's. Without it the feed's input is one capture
 * that began at its first packet. Call before the first packet;
 * sessionfeed_read_files does. Returns 0, SS_ERR_ARG (too late) or SS_ERR_NOMEM. */
int sessionfeed_set_starts(sessionfeed *f, const int64_t *starts, size_t n, char *errbuf);

/* conntab_watch_fn (ctx is the feed): follows connection starts and packets. */
int sessionfeed_watch(void *ctx, const conntab_record *rec, const conntab_pkt *pkt, int created,
                      char *errbuf);

/* Takes conntab's final record of a connection (copied, with its packets). */
int sessionfeed_conn_end(sessionfeed *f, const conntab_record *rec, char *errbuf);

/* End of input (after conntab_flush): emits every remaining session. */
int sessionfeed_finish(sessionfeed *f, char *errbuf);

/* Reads paths[0..n) (one merged timeline) through pcapsrc and conntab into f
 * and finishes it. tab may be NULL (defaults, with max_pkts as connset_load
 * keeps: CONNSET_SCORE_MAX_PKTS); its watch is set here. Returns 0 or a
 * negative status with errbuf naming the problem. */
int sessionfeed_read_files(sessionfeed *f, const char *const *paths, size_t n,
                           const conntab_config *tab, pcapsrc_warn_fn warn, void *warn_ctx,
                           char *errbuf);

/* A session and its host's earlier sessions laid out back to back, as
 * session_data_build_host takes them. */
typedef struct sessionfeed_layout {
    const conntab_record **recs; /* n members: hist[0]'s, ..., then the session's */
    uint8_t *outbound;           /* n: 1 where the host originated the connection */
    size_t *span_n;              /* n_spans (n_hist + 1): members of each */
    size_t n, n_spans;
} sessionfeed_layout;

/* Lays hist[0..n_hist) then s out into *l, so that scoring a session and
 * checking its keys build it alike; free with sessionfeed_layout_free.
 * Returns 0 or SS_ERR_NOMEM (l then holds nothing). */
int sessionfeed_layout_make(sessionfeed_layout *l, const sessionfeed_session *s,
                            const sessionfeed_session *hist, size_t n_hist, char *errbuf);

/* Frees what sessionfeed_layout_make allocated; NULL is a no-op. */
void sessionfeed_layout_free(sessionfeed_layout *l);

/* Copies the counters into *st. */
void sessionfeed_get_stats(const sessionfeed *f, sessionfeed_stats *st);

/* Frees f and everything it holds, without emitting; NULL is a no-op. */
void sessionfeed_destroy(sessionfeed *f);

#endif

/* session.h - host sessions: a host's connections grouped into sessions.
 *
 * Sessions. For every host (address), that host's connections, inbound and
 * outbound, in time order (start_us, then serial). A connection joins the
 * host's current session when it starts less than gap_us after the end of
 * the session's latest connection (idle time; a connection still open keeps
 * the host active); a session is cut after max_conns connections. A connection between
 * two hosts belongs to one session of each (outbound for its originator,
 * inbound for its responder).
 *
 * Above it: sessvocab.h (tokens and input rows), sessnet.h (the network),
 * sessmodel.h (the model and its files), sessscore.h (likelihoods, scores,
 * thresholds).
 *
 * Ownership: a session_list owns its arrays (freed by session_list_free,
 * which accepts NULL); it names its connections by their index in the
 * records it was built from. Functions taking records read them only during
 * the call.
 */
#ifndef STEPSTONE_SESSION_H
#define STEPSTONE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "conntab.h"

#define SESSION_DEFAULT_GAP_US INT64_C(8000000)
#define SESSION_DEFAULT_MAX_CONNS 25

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

/* Orders hosts by family, then their 16 address bytes: the order sessions are
 * grouped in and per-host thresholds are stored in; <0, 0 or >0. */
int session_host_cmp(uint8_t fa, const uint8_t *ha, uint8_t fb, const uint8_t *hb);

/* Address bytes of a family (6: 16, else 4), the ones a host[16] uses. */
int session_addr_len(uint8_t family);

#endif

/* conntab.h - the connection table: packets in, bidirectional connections out.
 *
 * conntab_add() takes decoded packets (packet_t, in capture time order) and
 * groups them into bidirectional connections keyed by the 5-tuple (family,
 * protocol, the two addresses, the two ports). The table emits each finished
 * connection once, as a conntab_record passed to the caller's conntab_emit_fn,
 * and frees it at once, so memory is bounded by the connections alive at a
 * time, not by the size of the capture.
 *
 * Originator: for TCP the sender of a SYN without ACK (a SYN-ACK seen first
 * makes its receiver the originator; a pure SYN from the responder side of a
 * connection where no SYN was seen yet flips the roles); otherwise the sender
 * of the first packet, except that a first TCP/UDP packet without SYN from a
 * well-known port (< 1024) to an ephemeral one (>= 1024) is the server
 * talking, so its receiver is the originator (as Zeek reads midstream
 * traffic).
 *
 * ICMP / ICMPv6: keyed by addresses, protocol and message kind. A request and
 * its reply (echo, timestamp, information, address mask, ICMPv6 echo, node
 * information) share one connection; other types are keyed by their type.
 * Like Zeek, orig_p holds the ICMP type of the originator's first message and
 * resp_p the counterpart type (echo request 8 -> 0) or, without one, its code.
 *
 * A connection ends (is emitted and freed) when:
 *   - TCP closed: both FINs acknowledged, or an RST: emitted after a linger
 *     (default 5 s) so the last ACKs and retransmitted FINs still count;
 *   - it is idle longer than its protocol's inactivity timeout (TCP 5 min,
 *     UDP 1 min, ICMP 1 min by default, like Zeek);
 *   - it lasted longer than the active timeout (default 1 h): it is emitted
 *     and the next packet of the same 5-tuple starts a new connection;
 *   - a pure SYN arrives on a closed TCP connection (port reuse);
 *   - the table holds cfg.max_open connections and a packet opens another
 *     (a flood): one is evicted first, as Zeek's attempt timeouts would
 *     have ended it: the oldest TCP attempt (no payload yet and not both
 *     sides have sent a packet other than an RST: S0, REJ, RSTOS0, SH, SHR,
 *     OTH scans), or, with none, the connection whose inactivity timer runs
 *     out first. It is emitted like any other (state as it stands, end
 *     reason "evicted"), not dropped: emitting costs no memory;
 *   - conntab_flush() at the end of input.
 * Expiry is cheap: each connection sits on a list for its idle deadline and
 * on one for its active deadline; only list heads are examined. The idle
 * lists are lazy (a packet does not move its connection; a head that turns
 * out to be still active is requeued), so an idle connection may be emitted
 * up to one timeout after its deadline; a packet that arrives after the
 * deadline still starts a new connection, so records do not depend on it.
 *
 * Emission order (deterministic for a given input): connections that expire
 * while reading come out as packets advance the clock, earliest deadline
 * among the list heads first (ties: creation order); conntab_flush() emits
 * the rest sorted by start time, then creation order.
 */
#ifndef STEPSTONE_CONNTAB_H
#define STEPSTONE_CONNTAB_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"
#include "pcapsrc.h"

#define CONNTAB_UID_SIZE 16        /* "C" + 11 base62 digits + NUL, padded */
/* First packets a record keeps by default (conntab_config.max_pkts): what
 * the conn log lists (`stepstone conns --json --packets`; conns --max-pkts
 * changes it). Scoring keeps more: CONNSET_SCORE_MAX_PKTS (connset.h). */
#define CONNTAB_LOG_MAX_PKTS 64
/* Connections open at once by default (conntab_config.max_open; the
 * --max-open option of conns, chains, score, embed): about 1.1 kB per open
 * connection in `conns`, 1.8 kB in `chains`: under 512 MB at the bound
 * (docs/design.md, "Floods"). */
#define CONNTAB_DEFAULT_MAX_OPEN 250000

/* Zeek conn.log conn_state values (see docs/formats.md for each meaning). */
enum conntab_state {
    CONNTAB_STATE_S0 = 0, /* attempt seen, no reply */
    CONNTAB_STATE_S1,     /* established, not terminated */
    CONNTAB_STATE_SF,     /* established and closed normally */
    CONNTAB_STATE_REJ,    /* attempt rejected */
    CONNTAB_STATE_S2,     /* established, originator closed, no reply */
    CONNTAB_STATE_S3,     /* established, responder closed, no reply */
    CONNTAB_STATE_RSTO,   /* established, originator aborted (RST) */
    CONNTAB_STATE_RSTR,   /* responder sent RST */
    CONNTAB_STATE_RSTOS0, /* originator sent SYN then RST, no SYN-ACK */
    CONNTAB_STATE_RSTRH,  /* responder sent SYN-ACK then RST, no SYN seen */
    CONNTAB_STATE_SH,     /* originator sent SYN then FIN, no SYN-ACK */
    CONNTAB_STATE_SHR,    /* responder sent SYN-ACK then FIN, no SYN seen */
    CONNTAB_STATE_OTH,    /* no SYN seen: midstream traffic */
    CONNTAB_STATE_COUNT
};

/* Why a connection was emitted. */
enum conntab_end {
    CONNTAB_END_CLOSED = 0, /* TCP FIN/RST close (after the linger) */
    CONNTAB_END_IDLE,       /* inactivity timeout */
    CONNTAB_END_ACTIVE,     /* active timeout: lasted too long */
    CONNTAB_END_REUSE,      /* a new SYN reused the 5-tuple of a closed connection */
    CONNTAB_END_EOF,        /* still open at the end of input */
    CONNTAB_END_EVICTED,    /* pushed out: the table held max_open connections */
    CONNTAB_END_COUNT
};

/* Packet record directions. */
enum conntab_dir {
    CONNTAB_DIR_ORIG = 0, /* originator -> responder */
    CONNTAB_DIR_RESP = 1  /* responder -> originator */
};

/* One packet of a connection's first-N record (the input of the encoders). */
typedef struct conntab_pkt {
    int64_t dt_us;        /* time since the connection's first packet, us */
    uint32_t payload_len; /* L4 payload bytes (packet_t.payload_len) */
    uint8_t dir;          /* enum conntab_dir */
    uint8_t tcp_flags;    /* packet_tcp_flag bits (0 for UDP/ICMP) */
    uint8_t retrans;      /* 1: TCP payload already fully seen (retransmission) */
    uint8_t pad_;
} conntab_pkt;

/* One finished connection: the data passed from connections to embeddings
 * (documented in docs/formats.md, "Connection records"). */
typedef struct conntab_record {
    char uid[CONNTAB_UID_SIZE]; /* "C" + 11 base62 digits, unique per run */
    uint64_t serial;            /* creation order, from 0 */
    uint8_t family;             /* 4 or 6 */
    uint8_t proto;              /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 */
    uint8_t state;              /* enum conntab_state */
    uint8_t end_reason;         /* enum conntab_end */
    uint8_t orig_h[16];         /* originator address (IPv4: first 4 bytes) */
    uint8_t resp_h[16];         /* responder address */
    uint16_t orig_p;            /* originator port (ICMP: type) */
    uint16_t resp_p;            /* responder port (ICMP: counterpart type or code) */
    int64_t start_us;           /* first packet, us since the epoch */
    int64_t end_us;             /* last packet */
    uint64_t orig_pkts, resp_pkts;       /* packets per direction */
    uint64_t orig_bytes, resp_bytes;     /* payload bytes, each byte once (TCP:
                                            distinct sequence bytes seen) */
    uint64_t orig_retrans, resp_retrans; /* TCP retransmitted segments */
    uint32_t n_pkts;            /* entries in pkts (<= max_pkts) */
    const conntab_pkt *pkts;    /* first n_pkts packets, owned by the table,
                                   valid only during the emit callback */
} conntab_record;

/* Receives each finished connection. rec and rec->pkts are valid only during
 * the call. Returns 0, or a negative ss_status (with errbuf filled) that stops
 * the table and is returned by the conntab call that emitted. */
typedef int (*conntab_emit_fn)(void *ctx, const conntab_record *rec, char *errbuf);

/* Sees every packet of a tracked protocol once it has been applied to its
 * connection: rec is the live record (counts and end_us up to date, pkts not
 * set), pkt the packet as a record entry (dt_us from rec->start_us, dir in the
 * record's current orientation, retrans), created 1 when the packet opened
 * the connection. Lets a later stage follow connections while they are open
 * (e.g. the streaming correlator) instead of keeping their packets. Returns 0,
 * or a negative ss_status (with errbuf filled) that stops the table. */
typedef int (*conntab_watch_fn)(void *ctx, const conntab_record *rec, const conntab_pkt *pkt,
                                int created, char *errbuf);

/* Counters over the life of a table. */
typedef struct conntab_stats {
    uint64_t packets;    /* packets given to conntab_add */
    uint64_t ignored;    /* packets of a protocol the table does not track */
    uint64_t created;    /* connections created */
    uint64_t emitted;    /* connections emitted */
    uint64_t live;       /* connections in the table now */
    uint64_t peak_live;  /* largest number alive at once */
    uint64_t evicted;    /* connections emitted as CONNTAB_END_EVICTED */
    uint64_t buckets;    /* hash buckets now */
} conntab_stats;

/* Tunables; fill with conntab_config_default() then change fields. */
typedef struct conntab_config {
    int64_t tcp_timeout_us;    /* TCP inactivity timeout (default 300 s) */
    int64_t udp_timeout_us;    /* UDP inactivity timeout (default 60 s) */
    int64_t icmp_timeout_us;   /* ICMP inactivity timeout (default 60 s) */
    int64_t active_timeout_us; /* maximum connection length (default 3600 s) */
    int64_t linger_us;         /* wait after a TCP close (default 5 s) */
    uint32_t max_pkts;         /* packets kept in the record (default
                                  CONNTAB_LOG_MAX_PKTS, may be 0) */
    int64_t keep_us;           /* keep only packets less than this after the connection's
                                  start (default 0: no limit) */
    uint64_t max_open;         /* most connections open at once (default
                                  CONNTAB_DEFAULT_MAX_OPEN; 0: no bound) */
    conntab_stats *stats_out;  /* where conntab_destroy leaves the final counters
                                  (default NULL: nowhere); owned by the caller,
                                  lets callers of a stage that makes its own
                                  table (correlator, sessionfeed) read them */
    conntab_watch_fn watch;    /* per-packet observer (default NULL: none) */
    void *watch_ctx;           /* its context */
} conntab_config;

typedef struct conntab conntab; /* opaque */

/* Fills cfg with the defaults listed in conntab_config. */
void conntab_config_default(conntab_config *cfg);

/* Creates an empty table. cfg is copied (NULL: defaults); emit is called for
 * each finished connection with ctx. Returns 0 or a negative ss_status
 * (SS_ERR_ARG for non-positive timeouts, SS_ERR_NOMEM). */
int conntab_create(conntab **out, const conntab_config *cfg,
                   conntab_emit_fn emit, void *ctx, char *errbuf);

/* Adds one packet: first emits the connections whose deadline passed before
 * pkt->ts_us, then updates (or creates) the packet's connection. Packets of
 * other protocols are counted as ignored. Returns 0 or the negative status of
 * a failed allocation or emit callback. */
int conntab_add(conntab *t, const packet_t *pkt, char *errbuf);

#define CONNTAB_BATCH 32 /* packets conntab_add_batch looks up together */

/* Same as conntab_add on pkts[0..n) in order, faster: the hash lookups of
 * CONNTAB_BATCH packets are started together so their cache misses overlap.
 * Stops at the first error and returns it. */
int conntab_add_batch(conntab *t, const packet_t *pkts, size_t n, char *errbuf);

/* Adds every remaining packet of src (in its order, in batches), then
 * conntab_flush(): a whole capture through the table. Returns 0 or the
 * negative status of the read, an allocation or an emit callback. */
int conntab_read(conntab *t, pcapsrc *src, char *errbuf);

/* Reads the captures paths[0..n) (one merged timeline, pcapsrc.h) through a
 * new table made with cfg (NULL: defaults), emit and ctx, flushes it and
 * frees it: the connections stage over whole files. warn receives capture
 * warnings (may be NULL). spans (may be NULL; 2 n entries) receives each
 * capture's first and last frame time (pcapsrc_file_span; INT64_MAX,
 * INT64_MIN for a capture without a frame). Returns 0 or a negative status. */
int conntab_read_files(const char *const *paths, size_t n, const conntab_config *cfg,
                       conntab_emit_fn emit, void *ctx, pcapsrc_warn_fn warn, void *warn_ctx,
                       int64_t *spans, char *errbuf);

/* Emits every connection whose idle, linger or active deadline is before
 * now_us (the table's clock never goes back). Returns 0 or a negative status. */
int conntab_expire(conntab *t, int64_t now_us, char *errbuf);

/* End of input: emits every remaining connection, sorted by start time then
 * creation order, and empties the table. Returns 0 or a negative status. */
int conntab_flush(conntab *t, char *errbuf);

/* Copies the table's counters into *st. */
void conntab_get_stats(const conntab *t, conntab_stats *st);

/* Frees the table and every connection still in it, without emitting
 * (first copying its counters to cfg.stats_out when set); NULL is a no-op. */
void conntab_destroy(conntab *t);

/* Zeek name of a conntab_state ("SF", ...); "?" when out of range. */
const char *conntab_state_to_string(int state);

/* Name of a conntab_end ("closed", "idle", ...); "?" when out of range. */
const char *conntab_end_to_string(int end);

#endif

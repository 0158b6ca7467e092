/* synth.h - synthetic generator of labelled relay (stepping-stone) traffic.
 *
 * synth_generate() simulates interactive relay chains (A -> B -> C ..., each
 * hop its own TCP connection) among background traffic and writes a real
 * pcap (Ethernet, IPv4, TCP with handshakes, correct seq/ack, delayed ACKs,
 * FIN teardown) plus a labels.csv (correlate/labels.h) naming every relay hop.
 *
 * The simulation is a discrete-event one: sessions (typing users, bulk
 * transfers, web clients) push packet events into a min-heap ordered by time,
 * packets are written as they are popped, so memory is bounded by the events
 * in flight, not by the capture size. The output depends only on the config:
 * same config, same bytes (the generator owns its RNG; it never reads the
 * clock). Addresses come from 198.18.0.0/15 (RFC 2544 benchmarking space).
 * The model is described in datasets/README.md.
 */
#ifndef STEPSTONE_SYNTH_H
#define STEPSTONE_SYNTH_H

#include <stdint.h>

#define SYNTH_MAX_HOPS 8          /* connections per chain */
#define SYNTH_MAX_BUSY_HOSTS 100  /* cap on synth_config.busy_hosts */

/* What the relays of the chains are. */
enum synth_kind {
    SYNTH_KIND_SSH = 0, /* every relay runs ssh onward: each hop re-encrypts */
    SYNTH_KIND_PLAIN,   /* socat/nc forwarders carrying plain text */
    SYNTH_KIND_MIX      /* each relay ssh, socat or nc; first hop ssh or plain */
};

/* Options of a run; fill with synth_config_default, then change fields. */
typedef struct synth_config {
    uint64_t seed;
    double duration_s;      /* sessions start and end within this span */
    unsigned chains;        /* relay chains (each one labelled) */
    unsigned hops_min;      /* connections per chain: at least 2 */
    unsigned hops_max;      /* at most SYNTH_MAX_HOPS */
    double chaff;           /* chaff packets per real data packet on chain legs */
    double jitter_s;        /* extra uniform [0, jitter] delay per forwarded chunk */
    double delay_s;         /* median one-way network delay of a connection */
    unsigned background;    /* unrelated sessions (interactive, bulk, web) */
    int kind;               /* enum synth_kind */
    int64_t start_us;       /* capture start, us since the epoch */
    unsigned snaplen;       /* bytes of each frame stored (headers always kept) */
    double max_output;      /* cap on one transfer (command output, bulk file, web response), bytes */
    /* The options below are off (0) by default; off, they draw nothing from
     * the RNG, so a run without them has the same bytes as before they existed. */
    unsigned short_chains;  /* extra labelled chains with a short outbound leg (1-8 s): one
                             * command run through `ssh C` inside a 30-45 s login on the relay,
                             * `ssh -J B C cmd` one-shots, one-shot socat/nc forwards */
    unsigned busy;          /* unrelated interactive sessions kept open on each busy host */
    unsigned busy_hosts;    /* relay hosts made busy when busy > 0 (0 means 1) */
    unsigned decoys;        /* unlabelled pairs: a login into a relay host, and a one-shot
                             * ssh leaving that host 0.5-4 s after the login's SYN */
    double wan_s;           /* > 0: each host draws a one-way access delay uniform in
                             * [1 ms, wan_s], added (half each end) to its connections */
} synth_config;

/* Counts of what a run wrote. */
typedef struct synth_stats {
    uint64_t packets;
    uint64_t wire_bytes;    /* frame bytes on the wire */
    uint64_t connections;
    uint64_t labelled_hops; /* rows of labels.csv */
    uint64_t max_events;    /* largest number of events in flight */
    int64_t end_us;         /* time of the last packet, us since the epoch */
} synth_stats;

/* Fills *cfg with the defaults (seed 1, 300 s, 3 chains of 2-4 hops, no
 * chaff, no extra jitter, 4 ms median delay, 10 background sessions, ssh,
 * start 1700000000; no short chains, busy hosts, decoys or WAN delays). */
void synth_config_default(synth_config *cfg);

/* Checks a config; returns 0 or SS_ERR_ARG with the reason in errbuf. */
int synth_config_check(const synth_config *cfg, char *errbuf);

/* Name of a synth_kind ("ssh", "plain", "mix"), or NULL if out of range. */
const char *synth_kind_to_string(int kind);

/* Parses "ssh", "plain" or "mix"; returns the synth_kind or -1. */
int synth_kind_from_string(const char *s);

/* Runs the simulation and writes pcap_path and labels_path (each through a
 * temporary file renamed into place; on failure neither is left behind).
 * stats may be NULL. Returns 0 or a negative ss_status with errbuf set. */
int synth_generate(const synth_config *cfg, const char *pcap_path,
                   const char *labels_path, synth_stats *stats, char *errbuf);

#endif

/* candidates.h - candidate relay hops: (inbound, outbound) pairs per host.
 *
 * A relay host B is reached by an inbound connection (B is its responder)
 * and opens an outbound one (B is its originator) while the inbound is still
 * open. For every host, candidates_find pairs each TCP outbound connection
 * `out` with each TCP inbound `in` of the same host such that
 *   - in.start_us <= out.start_us + max_lead_us (a relay connects onward
 *     after it is reached; max_lead_us, default 5 s, admits relays that open
 *     their onward connection first, like a `nc -l | nc` pipeline),
 *   - they overlap for at least min_overlap_us:
 *     min(in.end_us, out.end_us) - max(in.start_us, out.start_us)
 *     >= min_overlap_us,
 *   - out is not the reverse leg: out's responder is not in's originator
 *     (the same address),
 *   - both legs have at least min_pkts packets (orig_pkts + resp_pkts).
 * Pairs are found by a sweep over start and end times sorted per host, so
 * the cost follows the number of overlapping pairs, not all pairs.
 *
 * Order (deterministic): by out index, then in index (indices into the
 * connset). Every method scores the same list; chains_link relies on the
 * grouping by out.
 */
#ifndef STEPSTONE_CANDIDATES_H
#define STEPSTONE_CANDIDATES_H

#include <stddef.h>
#include <stdint.h>

#include "connset.h"

/* One candidate hop: connection indices into a connset. */
typedef struct candidates_pair {
    uint32_t in;  /* inbound leg: upstream -> relay (relay is the responder) */
    uint32_t out; /* outbound leg: relay -> downstream (relay is the originator) */
} candidates_pair;

/* Options; fill with candidates_config_default(). */
typedef struct candidates_config {
    int64_t min_overlap_us; /* default 0: any overlap (touching counts) */
    uint32_t min_pkts;      /* packets per leg, both directions; default 1 */
    int64_t max_lead_us;    /* how long out may start before in; default 5 s */
} candidates_config;

/* Fills cfg with the defaults listed in candidates_config. */
void candidates_config_default(candidates_config *cfg);

/* Finds the candidate pairs of set. cfg may be NULL (defaults). *out
 * receives a malloc'd array (the caller frees it with candidates_free; NULL
 * when *n is 0). Returns 0, SS_ERR_ARG (a negative time) or SS_ERR_NOMEM. */
int candidates_find(candidates_pair **out, size_t *n, const connset *set,
                    const candidates_config *cfg, char *errbuf);

/* Frees an array from candidates_find; NULL is a no-op. */
void candidates_free(candidates_pair *pairs);

#endif

/* chains.h - links scored candidate hops into relay chains A -> B -> C -> D.
 *
 * Matching: among the candidates scoring >= threshold, each outbound
 * connection keeps at most one upstream, its best-scoring inbound (ties: the
 * lowest in index); an inbound may feed several outbounds. These are the
 * matched hops.
 *
 * Linking: a hop's out connection is the in connection of the next hop when
 * it is the same connection index (B's outbound leg is C's inbound leg). The
 * matched hops form a forest (each connection has at most one upstream);
 * every path from a root (a connection with no upstream) to a leaf (one
 * feeding no further hop) is one chain, so an inbound feeding two outbounds
 * gives two chains sharing their first connections.
 *
 * Hops that form a cycle (two interactive sessions in opposite directions
 * can be each other's candidates: an outbound leg may start before its
 * inbound one) have no root and lie on no chain; neither does a hop leading
 * back onto its own path, which the walk cuts. Every matched hop is either
 * on a chain or listed in loose, so a caller can report them all.
 *
 * A chain's score is the minimum of its hop scores: a chain is only as
 * believable as its weakest hop.
 *
 * Order (deterministic): hops by out index; chains by root connection index,
 * then depth-first with the lower out index first; loose hops by out index.
 *
 * Ownership: a chains_result owns its arrays; chains_free releases them.
 */
#ifndef STEPSTONE_CHAINS_H
#define STEPSTONE_CHAINS_H

#include <stddef.h>
#include <stdint.h>

#include "candidates.h"

/* One matched hop. */
typedef struct chains_hop {
    uint32_t in, out; /* connection indices */
    double score;
} chains_hop;

/* One chain: conns[first .. first + n_conns) of its chains_result, from the
 * first connection (the origin's) to the last; n_conns >= 2. */
typedef struct chains_chain {
    size_t first;
    size_t n_conns;
    double score; /* minimum hop score */
} chains_chain;

typedef struct chains_result {
    chains_hop *hops;     /* matched hops, by out index */
    size_t n_hops;
    chains_chain *chains;
    size_t n_chains;
    uint32_t *conns;      /* connection indices of every chain, back to back */
    size_t n_conns_total;
    uint32_t *loose;      /* indices into hops of the hops on no chain */
    size_t n_loose;
} chains_result;

/* The matching rule for one outbound connection: among its candidates
 * scores[0..n), given in inbound index order, the one scoring highest at or
 * above threshold, the first on ties. Returns its position, or -1 when none
 * reaches the threshold. chains_link matches with it; a streaming caller
 * that sees one outbound's candidates at a time (correlator_group) uses it to
 * keep only the matched hop. */
long chains_pick(const double *scores, size_t n, double threshold);

/* Matches and links pairs[0..n) with scores[0..n) (any order of pairs) at
 * threshold. n_conns bounds the connection indices (connset_count). res is
 * overwritten (call chains_free on a previous result first). Returns 0,
 * SS_ERR_ARG (an index >= n_conns, a NaN score) or SS_ERR_NOMEM; on failure
 * res is empty. */
int chains_link(chains_result *res, const candidates_pair *pairs, const double *scores,
                size_t n, size_t n_conns, double threshold, char *errbuf);

/* Frees res's arrays and empties it; NULL is a no-op. */
void chains_free(chains_result *res);

#endif

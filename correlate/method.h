/* method.h - one interface for every correlation method, and their registry.
 *
 * A method scores candidate hops (candidates.h) in a batch: the learned
 * method embeds every connection once and scores pairs by dot products; the
 * classic baselines score each pair alone. Higher score = more likely a relay
 * hop. Each method has a default operating threshold: a pair scoring
 * >= threshold is called a hop (by chains_link and `stepstone eval`).
 *
 * Directions. For a pair (in, out) at relay host B:
 *   in  leg: CONNTAB_DIR_ORIG = upstream -> B,   CONNTAB_DIR_RESP = B -> upstream
 *   out leg: CONNTAB_DIR_ORIG = B -> downstream, CONNTAB_DIR_RESP = downstream -> B
 * so the keystrokes flow in.ORIG then out.ORIG, and the echoes and outputs
 * flow out.RESP then in.RESP.
 *
 * Registry: method_create() looks a name up in the table in method.c; adding
 * a method is one line there ({name, summary, init function}). An init
 * function fills a method struct; `arg` is a method-specific option string
 * (e.g. the learned method's model file), NULL for its default.
 *
 * Ownership: a method owns its ctx; method_free releases it.
 */
#ifndef STEPSTONE_METHOD_H
#define STEPSTONE_METHOD_H

#include <stddef.h>
#include <stdint.h>

#include "candidates.h"
#include "connset.h"

#define METHOD_NAME_SIZE 32

/* Scores pairs[0..n) of set into scores[0..n) (caller-owned). Returns 0 or
 * a negative ss_status with errbuf filled. Must be deterministic. */
typedef int (*method_score_fn)(void *ctx, const connset *set,
                               const candidates_pair *pairs, size_t n,
                               double *scores, char *errbuf);

typedef struct method {
    char name[METHOD_NAME_SIZE]; /* registry name, e.g. "zhang-paxson" */
    double threshold;            /* default operating threshold */
    method_score_fn score;
    void *ctx;                   /* owned; released by destroy (may be NULL) */
    void (*destroy)(void *ctx);  /* may be NULL */
} method;

/* Fills *m for a method; arg is a method-specific option (NULL: default).
 * Returns 0 or a negative ss_status. */
typedef int (*method_init_fn)(method *m, const char *arg, char *errbuf);

/* Scores with m (checks the arguments, then calls m->score). */
int method_score(const method *m, const connset *set, const candidates_pair *pairs,
                 size_t n, double *scores, char *errbuf);

/* Releases m's context and zeroes *m; NULL or a zeroed method is a no-op. */
void method_free(method *m);

/* Helper for methods: absolute times (us since the epoch) of the packets of
 * rec in direction dir (enum conntab_dir) carrying payload (payload_len > 0,
 * retransmissions skipped), in order, into ts[0..cap) and, if lens is not
 * NULL, their payload lengths into lens. Returns the number found (at most
 * cap). */
size_t method_leg_times(const conntab_record *rec, int dir, int64_t *ts,
                        uint32_t *lens, size_t cap);

/* Helper for methods: the time window in which both legs of a pair are
 * observed: from out's start to the earliest of the two connections' ends
 * and of the last packet kept in either record (records hold only the first
 * max_pkts packets). Returns 0 with [*t0, *t1], or -1 when it is empty. */
int method_pair_window(const conntab_record *in, const conntab_record *out,
                       int64_t *t0, int64_t *t1);

/* Scores one pair with the method's configuration cfg, using the workspace
 * ws of 2 * (in->n_pkts + out->n_pkts) int64_t. */
typedef double (*method_pair_fn)(const void *cfg, const conntab_record *in,
                                 const conntab_record *out, int64_t *ws);

/* Helper for methods that score each pair alone from packet times: fills
 * scores[0..n) with pair(cfg, in, out, ws), one workspace sized for the
 * largest record of set being allocated once for the batch. name labels the
 * out-of-memory message. Returns 0 or SS_ERR_NOMEM with errbuf filled. */
int method_score_each(const void *cfg, method_pair_fn pair, const char *name,
                      const connset *set, const candidates_pair *pairs, size_t n,
                      double *scores, char *errbuf);

/* As method_pair_fn, for a method whose workspace ws holds more than packet
 * times: ws is ws_per_pkt bytes for each of 2 * (in->n_pkts + out->n_pkts)
 * packets, aligned for int64_t and double. */
typedef double (*method_pair_ws_fn)(const void *cfg, const conntab_record *in,
                                    const conntab_record *out, void *ws);

/* As method_score_each, with a workspace of ws_per_pkt bytes per packet
 * (method_score_each uses 2 * sizeof(int64_t)), so a method that keeps
 * lengths or curves beside its times shares the same batch loop. */
int method_score_each_ws(const void *cfg, method_pair_ws_fn pair, size_t ws_per_pkt,
                         const char *name, const connset *set, const candidates_pair *pairs,
                         size_t n, double *scores, char *errbuf);

#endif

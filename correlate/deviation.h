/* deviation.h - delay-shifted deviation of cumulative bytes (Yoda & Etoh 2000).
 *
 * K. Yoda and H. Etoh, "Finding a Connection Chain for Tracing Intruders",
 * ESORICS 2000. Plot each connection's sequence number (bytes sent) against
 * time: the legs of a relay draw the same staircase, the relayed one shifted
 * by the relay's delay. The deviation of two connections is the smallest,
 * over time shifts, of the average gap between the two curves.
 *
 * Per direction of flow (keystrokes: in.ORIG -> out.ORIG; answers:
 * out.RESP -> in.RESP), over the window [t0, t1] in which both legs are
 * observed (method_pair_window), data packets only (retransmissions
 * skipped): F(t) = payload bytes of the first leg sent in [t0, t] and G(t)
 * those of the relayed leg, each divided by its total in the window, so
 * re-encryption that changes every size by a similar factor (an ssh relay)
 * does not count as deviation (the paper compares raw sequence numbers).
 *   D = min over shifts tau of mean over `samples` times t evenly spaced in
 *       [t0, t1 - tau] of |F(t) - G(t + tau)|
 * with tau in {0} and `shifts` values spaced geometrically from 1 ms to
 * max_shift_us. Score: 1 - D averaged over the directions that carry data
 * in both legs (0..1, 1 = the same curve); a pair with none scores 0.
 * Defaults: 128 samples, 48 shifts up to 2 s, threshold 0.9.
 */
#ifndef STEPSTONE_DEVIATION_H
#define STEPSTONE_DEVIATION_H

#include <stdint.h>

#include "method.h"

typedef struct deviation_config {
    unsigned samples;     /* time samples per curve comparison: 128 */
    unsigned shifts;      /* nonzero shifts tried: 48 */
    int64_t max_shift_us; /* largest shift: 2000000 */
    double threshold;     /* operating threshold: 0.9 */
} deviation_config;

/* Fills cfg with the defaults listed above. */
void deviation_config_default(deviation_config *cfg);

/* Scores one pair (see above); with m = in->n_pkts + out->n_pkts, the
 * workspaces hold 2 * m values each: ws (times), lws (lengths), dws
 * (cumulative fractions). */
double deviation_score_pair(const deviation_config *cfg, const conntab_record *in,
                            const conntab_record *out, int64_t *ws, uint32_t *lws,
                            double *dws);

/* Registry entry: fills m with the defaults (arg is unused). */
int deviation_method_init(method *m, const char *arg, char *errbuf);

#endif

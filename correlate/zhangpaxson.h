/* zhangpaxson.h - ON/OFF period coincidence (Zhang & Paxson 2000).
 *
 * Y. Zhang and V. Paxson, "Detecting Stepping Stones", 9th USENIX Security
 * Symposium, 2000. Interactive traffic alternates between bursts (ON) and
 * silences (OFF); a relay forwards a burst soon after it arrives, so the OFF
 * periods of its two legs end at nearly the same times.
 *
 * Per direction of flow (keystrokes: in.ORIG -> out.ORIG; echoes and
 * outputs: out.RESP -> in.RESP), over the window in which both legs are
 * observed (method_pair_window), with data packets only:
 *   - an OFF period ends at a packet that follows more than idle_us of
 *     silence in its direction (paper: T_idle = 0.5 s);
 *   - an OFF end of one leg coincides with one of the other leg when they
 *     are within delta_us (paper: delta = 80 ms);
 *   - ratio = coincidences / min(OFF ends of leg 1, OFF ends of leg 2),
 *     summed over both directions (paper: a stepping stone when the ratio
 *     >= gamma = 0.3);
 *   - the paper's consecutive-coincidence refinement: the pair must also
 *     show min_consecutive coincident OFF ends in a row (we use 2).
 * Score: the ratio (0..1) when the consecutive rule holds, ratio - 1
 * (-1..0) when it does not, so every pair that passes ranks above every
 * pair that fails and the ROC still orders each group; a pair without any
 * OFF end scores -1. Default threshold: gamma = 0.3.
 */
#ifndef STEPSTONE_ZHANGPAXSON_H
#define STEPSTONE_ZHANGPAXSON_H

#include <stdint.h>

#include "method.h"

typedef struct zhangpaxson_config {
    int64_t idle_us;          /* silence that makes an OFF period: 500000 */
    int64_t delta_us;         /* coincidence window: 80000 */
    double gamma;             /* ratio threshold: 0.3 */
    unsigned min_consecutive; /* coincidences in a row required: 2 */
} zhangpaxson_config;

/* Fills cfg with the paper's defaults listed above. */
void zhangpaxson_config_default(zhangpaxson_config *cfg);

/* Scores one pair (see above) from the two records; the workspace ws must
 * hold 2 * (in->n_pkts + out->n_pkts) int64_t. */
double zhangpaxson_score_pair(const zhangpaxson_config *cfg, const conntab_record *in,
                              const conntab_record *out, int64_t *ws);

/* Registry entry: fills m with the defaults (arg is unused). */
int zhangpaxson_method_init(method *m, const char *arg, char *errbuf);

#endif

/* ipd.h - inter-packet-delay correlation (Wang, Reeves & Wu 2002).
 *
 * X. Wang, D. S. Reeves and S. F. Wu, "Inter-Packet Delay Based Correlation
 * for Tracing Encrypted Connections through Stepping Stones", ESORICS 2002.
 * A relay keeps the timing of what it forwards: the inter-packet delays
 * (IPDs) of the two legs match over a window of consecutive packets, whatever
 * the encryption does to the contents.
 *
 * Per direction of flow (keystrokes: in.ORIG -> out.ORIG; answers:
 * out.RESP -> in.RESP), with data packets only: the IPD sequences X (first
 * leg) and Y (relayed leg). Each correlation window is `window` consecutive
 * IPDs of X starting at j (non-overlapping windows, starting inside the
 * window where both legs are observed, method_pair_window); its partner in Y
 * starts at the first packet of Y sent at or after X's packet j, shifted by
 * an offset k in [-max_back, +max_ahead] packets (the paper's correlation
 * offset). The correlation point function is the paper's Min/Max Sum Ratio
 *   MMS(j, k) = sum_i min(x_{j+i}, y_{j'+k+i}) / sum_i max(x_{j+i}, y_{j'+k+i})
 * (1 for identical IPDs); a window's value is its best offset.
 * Score: the mean of the windows' values over both directions (0..1);
 * windows without a partner in Y count 0; a pair with no window scores 0.
 * Defaults: window 10 IPDs, offsets -2..+8, threshold 0.7.
 */
#ifndef STEPSTONE_IPD_H
#define STEPSTONE_IPD_H

#include <stdint.h>

#include "method.h"

typedef struct ipd_config {
    unsigned window;    /* IPDs per correlation window: 10 */
    unsigned max_back;  /* offsets tried before the time-aligned packet: 2 */
    unsigned max_ahead; /* offsets tried after it: 8 */
    double threshold;   /* operating threshold: 0.7 */
} ipd_config;

/* Fills cfg with the defaults listed above. */
void ipd_config_default(ipd_config *cfg);

/* Scores one pair (see above); ws must hold 2 * (in->n_pkts + out->n_pkts)
 * int64_t. */
double ipd_score_pair(const ipd_config *cfg, const conntab_record *in,
                      const conntab_record *out, int64_t *ws);

/* Registry entry: fills m with the defaults (arg is unused). */
int ipd_method_init(method *m, const char *arg, char *errbuf);

#endif

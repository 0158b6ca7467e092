/* connfeat.h - model input from a connection record and a time window
 * (named connfeat, not features, so it never shadows glibc's <features.h>).
 *
 * The correlator looks at a connection over an absolute time window
 * [w0, w0 + W): the same window on the two legs of a candidate hop, so both
 * are seen over the same time span. Windows sit on a global grid of stride S
 * (w0 = g * S), so each (connection, window) is computed once whatever pair
 * it is scored in; a hop is scored on the grid windows from the one holding
 * the outbound connection's start onward (connfeat_first_window).
 *
 * Directions are the connection's own (CONNTAB_DIR_ORIG / _RESP). Relative to
 * the relay of a candidate hop that is "downstream" (in-leg: into the relay,
 * out-leg: out of it) and "upstream", so the two legs are comparable with
 * one shared encoder (see correlate/method.h, "Directions").
 *
 * Two kinds of input (docs/encoder.md compares them):
 *   CONNFEAT_KIND_SEQ  one step per packet in the window (payload, or SYN,
 *                      FIN, RST; pure ACKs and retransmissions skipped), at
 *                      most max_steps: [dir (+1 down, -1 up), log1p(payload),
 *                      log1p(gap to previous step, ms), position in window
 *                      (0..1), control flag (SYN/FIN/RST), empty-window flag]
 *   CONNFEAT_KIND_BINS one step per time bin (W / bins): [log1p(data packets
 *                      down), log1p(bytes down), log1p(data packets up),
 *                      log1p(bytes up), control packets, connection alive]
 * Both give CONNFEAT_CHANNELS floats per step. The raw values are then
 * standardised with per-channel constants stored in the model
 * (connfeat_normalise).
 *
 * Ownership: every buffer is the caller's; nothing here allocates.
 */
#ifndef STEPSTONE_CONNFEAT_H
#define STEPSTONE_CONNFEAT_H

#include <stddef.h>
#include <stdint.h>

#include "conntab.h"

#define CONNFEAT_CHANNELS 6

enum connfeat_kind {
    CONNFEAT_KIND_SEQ = 0,
    CONNFEAT_KIND_BINS = 1
};

/* Window geometry and input kind; fill with connfeat_config_default. */
typedef struct connfeat_config {
    int kind;            /* enum connfeat_kind */
    int64_t window_us;   /* W: window length */
    int64_t stride_us;   /* S: grid stride (0 < S <= W) */
    int steps;           /* T: bins (BINS) or most packets (SEQ) per window */
    int max_windows;     /* K: grid windows scored per hop, from the first */
} connfeat_config;

/* Fills cfg with the defaults for kind: W 8 s, S 4 s, K 6, T 128 bins
 * (62.5 ms) or 96 packets. */
void connfeat_config_default(connfeat_config *cfg, int kind);

/* Checks a config; 0 or SS_ERR_ARG with the reason in errbuf. */
int connfeat_config_check(const connfeat_config *cfg, char *errbuf);

/* "seq" or "bins"; NULL when out of range. */
const char *connfeat_kind_to_string(int kind);

/* Parses "seq" or "bins"; the connfeat_kind or -1. */
int connfeat_kind_from_string(const char *s);

/* Start (us since the epoch) of grid window g. */
int64_t connfeat_window_start(const connfeat_config *cfg, int64_t g);

/* Grid index of the window holding time t_us: the first window of a hop
 * whose outbound connection starts at t_us. */
int64_t connfeat_first_window(const connfeat_config *cfg, int64_t t_us);

/* Writes the raw features of rec over [w0_us, w0_us + W) into x (T, C)
 * (steps past the length are zeroed). Returns the sequence length (1..T);
 * *n_data (may be NULL) receives the number of payload packets of rec in
 * the window (0: nothing was sent in it). */
int connfeat_window(float *x, int *n_data, const conntab_record *rec, int64_t w0_us,
                    const connfeat_config *cfg);

/* 1 when rec's stored packets cover [w0_us, w0_us + W): the record holds
 * all its packets, or its last stored packet is past the window's end.
 * Windows of a truncated record beyond that are unknown, not empty. */
int connfeat_window_known(const conntab_record *rec, int64_t w0_us,
                          const connfeat_config *cfg);

/* Standardises the first len steps of x (T, C) in place:
 * (x - mean[c]) / std[c]. */
void connfeat_normalise(float *x, int len, const float *mean, const float *std);

#endif

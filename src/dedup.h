/* dedup.h - drops the second copy of a packet captured by two sensors.
 *
 * When several files come from several sensors on one path, the same packet
 * may be in more than one of them. dedup keeps a time-windowed set of the
 * signatures of recent packets: the 5-tuple, the IPv4 identification, the
 * TCP sequence and acknowledgement numbers and flags, and the payload
 * length (hashed to 64 bits). A packet whose signature was seen within the
 * window, from a *different* source (file), is a duplicate. Copies within
 * one file are never dropped: a sensor that saw a packet twice saw a
 * retransmission (in IPv4 the IP id differs anyway; in IPv6 an identical
 * retransmission within the window from one sensor is kept, and its copy
 * from another sensor is dropped, so it still counts once).
 *
 * Limits: the sensors' clocks must agree within the window (default 50 ms):
 * a copy stamped later than the window after the first one counts again.
 * Packets must come in time order (as pcapsrc merges them). Two distinct
 * packets with the same signature from two sensors within the window (an
 * IPv6 retransmission seen by only one sensor each time, or a 64-bit hash
 * collision) are counted once. The set holds at most max_entries
 * signatures (the oldest are forgotten first), so memory is bounded.
 */
#ifndef STEPSTONE_DEDUP_H
#define STEPSTONE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

#define DEDUP_DEFAULT_WINDOW_US 50000       /* 50 ms */
#define DEDUP_DEFAULT_MAX_ENTRIES (1u << 20) /* about 24 MB at most */

typedef struct dedup dedup; /* opaque */

/* Creates an empty set. window_us > 0; max_entries >= 16 (0: the default).
 * Returns 0, SS_ERR_ARG or SS_ERR_NOMEM. */
int dedup_create(dedup **out, int64_t window_us, size_t max_entries, char *errbuf);

/* Checks pkt, seen in source `source` (e.g. a file index): returns 1 if it
 * is a copy of a packet seen from another source within the window (drop
 * it), 0 if not (it is remembered), or SS_ERR_NOMEM. */
int dedup_check(dedup *d, const packet_t *pkt, size_t source, char *errbuf);

/* 64-bit signature of a packet (the fields listed above), for tests. */
uint64_t dedup_signature(const packet_t *pkt);

/* Packets found to be duplicates so far. */
uint64_t dedup_dropped(const dedup *d);

/* Frees d; NULL is a no-op. */
void dedup_destroy(dedup *d);

#endif

/* connset.h - an owned, indexed set of connection records.
 *
 * The correlation stage needs every connection of a capture at once (with
 * its first packets), while conntab hands each record to a callback and
 * frees it. A connset copies each record and its packet list into storage
 * it owns, then sorts them by (start_us, serial), so index i names the same
 * connection for every method, candidate list and chain built on the set.
 *
 * Ownership: the set owns every record and packet array; a pointer returned
 * by connset_get stays valid until connset_add or connset_free on that set.
 */
#ifndef STEPSTONE_CONNSET_H
#define STEPSTONE_CONNSET_H

#include <stddef.h>
#include <stdint.h>

#include "conntab.h"
#include "pcapsrc.h"

/* First packets a record keeps for scoring: connset_load's default, and what
 * every reader that scores connections (the correlators, `stepstone embed`,
 * the session feed and scorer) keeps, so all of them see the same packets of
 * a connection. The conn log keeps fewer: CONNTAB_LOG_MAX_PKTS (conntab.h). */
#define CONNSET_SCORE_MAX_PKTS 4096

typedef struct connset connset; /* opaque */

/* How connset_load reads captures. Fill with connset_config_default(). */
typedef struct connset_config {
    conntab_config tab;    /* connection table tunables; tab.max_pkts defaults to
                              CONNSET_SCORE_MAX_PKTS (first packets per record) */
    int tcp_only;          /* 1: keep only TCP connections (default 0) */
    pcapsrc_warn_fn warn;  /* receives capture warnings (may be NULL) */
    void *warn_ctx;
    int64_t *file_spans;   /* receives each capture's first and last frame time, 2 per
                              capture (conntab_read_files; default NULL: not wanted) */
} connset_config;

/* Fills cfg with the defaults listed in connset_config. */
void connset_config_default(connset_config *cfg);

/* Makes an empty set (for records from another source, e.g. tests).
 * Returns 0 or SS_ERR_NOMEM. */
int connset_create(connset **out, char *errbuf);

/* Appends a copy of *rec and of rec->pkts[0..n_pkts). The set is no longer
 * sorted until connset_sort. Returns 0 or SS_ERR_NOMEM. */
int connset_add(connset *set, const conntab_record *rec, char *errbuf);

/* Sorts the records by (start_us, serial): the order connset_load gives. */
void connset_sort(connset *set);

/* Reads paths[0..n) (merged into one timeline) into a new sorted set.
 * cfg may be NULL (defaults). Returns 0, or a negative ss_status with errbuf
 * naming the problem (unreadable capture, ...); on failure *out is NULL. */
int connset_load(connset **out, const char *const *paths, size_t n,
                 const connset_config *cfg, char *errbuf);

/* Number of connections in the set. */
size_t connset_count(const connset *set);

/* The i-th record (i < connset_count); rec->pkts is owned by the set. */
const conntab_record *connset_get(const connset *set, size_t i);

/* Index of the connection with protocol proto between (a, aport) and
 * (b, bport), in either direction (family 4 or 6, addresses as in packet_t).
 * When several connections share the 5-tuple (port reuse), the one that
 * overlaps [t0_us, t1_us] the most is chosen (ties: lowest index); pass
 * t0_us > t1_us to take the first. Returns the index, or -1 when none. */
long connset_find(const connset *set, uint8_t proto, uint8_t family,
                  const uint8_t *a, uint16_t aport, const uint8_t *b,
                  uint16_t bport, int64_t t0_us, int64_t t1_us);

/* Frees the set and everything in it; NULL is a no-op. */
void connset_free(connset *set);

#endif

/* pcapsrc.h - reads one or more pcap/pcapng files as one timeline.
 *
 * Several files (e.g. from several sensors) are merged in timestamp order by
 * a k-way merge, holding one pending frame per file, so memory does not grow
 * with capture size. A file that is damaged part-way (truncated, corrupt) is
 * read up to the damage; the damage is reported as a warning and that file
 * ends, the others go on. A file that cannot be opened at all, is not a
 * capture, is empty (0 bytes), or has a link type decode cannot read is a
 * fatal error from pcapsrc_open. A capture holding only its header is valid
 * and empty: a warning, not an error. Timestamps are microseconds.
 *
 * Several sensors: when more than one file is open, pcapsrc_next_packet
 * drops a packet that another file already gave within a time window
 * (default 50 ms; see dedup.h for the signature and the clock-skew limits),
 * so the same packet seen by two sensors counts once. pcapsrc_next (raw
 * frames) does not.
 */
#ifndef STEPSTONE_PCAPSRC_H
#define STEPSTONE_PCAPSRC_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "packet.h"

typedef struct pcapsrc pcapsrc; /* opaque */

/* Called for each non-fatal problem (damaged file, ...); msg names the file. */
typedef void (*pcapsrc_warn_fn)(void *ctx, const char *msg);

/* One frame as read from a file. data points into pcapsrc's buffers and is
 * valid until the next pcapsrc_next call. */
typedef struct pcapsrc_frame {
    int64_t ts_us;        /* capture time, microseconds since the epoch */
    const uint8_t *data;  /* captured bytes */
    uint32_t caplen;      /* captured length */
    uint32_t wire_len;    /* original length on the wire */
    int linktype;         /* DLT_ value of the file it came from */
    size_t file_index;    /* index into the paths given to pcapsrc_open */
} pcapsrc_frame;

/* Opens paths[0..n) for reading. The paths are copied. warn (may be NULL:
 * warnings are then dropped; pcapsrc_damaged_files still counts) receives
 * warnings. Returns 0, or a negative ss_status with errbuf naming the
 * file and the problem; on failure *out is NULL. */
int pcapsrc_open(pcapsrc **out, const char *const *paths, size_t n,
                 pcapsrc_warn_fn warn, void *warn_ctx, char *errbuf);

/* Gets the next frame in time order across all files. Returns 1 with *frame
 * filled, 0 when every file is exhausted, negative ss_status on a fatal error. */
int pcapsrc_next(pcapsrc *src, pcapsrc_frame *frame, char *errbuf);

/* Gets the next frame that decodes to an IP packet, counting the others in
 * stats (may be NULL) and skipping copies of a packet from another file
 * (not counted in stats; see pcapsrc_duplicates). Returns 1 with *pkt
 * filled, 0 at the end, negative on a fatal error. */
int pcapsrc_next_packet(pcapsrc *src, packet_t *pkt, decode_stats *stats,
                        char *errbuf);

/* Sets the window of duplicate suppression across files, microseconds (0
 * turns it off), so sensors with a larger clock skew can be merged. Call
 * before reading. Returns 0 or SS_ERR_ARG. */
int pcapsrc_set_dedup_window(pcapsrc *src, int64_t window_us, char *errbuf);

/* Packets dropped so far as copies seen by another file. */
uint64_t pcapsrc_duplicates(const pcapsrc *src);

/* Frames read so far, over all files. */
uint64_t pcapsrc_frames(const pcapsrc *src);

/* Earliest and latest frame times read so far from the capture paths[i]: 1
 * with them in *first_us, *last_us, 0 when none was read. Tells whether
 * captures merged into one timeline overlap in time. */
int pcapsrc_file_span(const pcapsrc *src, size_t i, int64_t *first_us, int64_t *last_us);

/* Number of files that ended early because of damage. */
size_t pcapsrc_damaged_files(const pcapsrc *src);

/* Closes every file and frees src; NULL is a no-op. */
void pcapsrc_close(pcapsrc *src);

#endif

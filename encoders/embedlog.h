/* embedlog.h - writes connections' window embeddings: the msgpack file of
 * docs/formats.md ("Embeddings") or JSON lines (a "model" line, then one
 * "window" line per window), as src/connlog.h writes connection records.
 *
 * The writer streams: connections are announced (embedlog_add_conn) and
 * their windows written (embedlog_add_windows) as they come. The msgpack map
 * needs its counts before its arrays, so its three growing parts (connection
 * maps, window entries, vectors) go to unlinked temporary files beside the
 * output and are copied behind the header by embedlog_finish; JSON lines are
 * written as they come.
 *
 * Ownership: the caller owns the output FILE (it stays open and is not
 * closed here), the path string and the encoder, all of which must outlive
 * the embedlog; the embedlog owns its parts and frees them in
 * embedlog_destroy.
 */
#ifndef STEPSTONE_EMBEDLOG_H
#define STEPSTONE_EMBEDLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conntab.h"
#include "encoder.h"

#define EMBEDLOG_FORMAT_NAME "stepstone-embeddings"
#define EMBEDLOG_VERSION 2

enum embedlog_format {
    EMBEDLOG_FORMAT_MSGPACK = 0,
    EMBEDLOG_FORMAT_JSONL = 1
};

typedef struct embedlog embedlog; /* opaque */

/* Totals written so far. */
typedef struct embedlog_stats {
    size_t conns;   /* connections announced */
    size_t windows; /* windows written */
} embedlog_stats;

/* Starts a log of enc's embeddings onto f in format (enum embedlog_format).
 * path names the output in messages and, for msgpack, where the temporary
 * parts go. JSON lines: writes the "model" line now. Returns 0, or
 * SS_ERR_IO / SS_ERR_NOMEM with errbuf naming path; *out is then NULL. */
int embedlog_create(embedlog **out, FILE *f, const char *path, int format, const encoder *enc,
                    char *errbuf);

/* Announces connection c (its 5-tuple and times; pkts are not read) whose
 * n_windows windows follow in later embedlog_add_windows calls; *conn
 * receives its index in the output. Returns 0, SS_ERR_ARG (more than
 * UINT32_MAX connections) or SS_ERR_IO. */
int embedlog_add_conn(embedlog *l, const conntab_record *c, size_t n_windows, uint32_t *conn,
                      char *errbuf);

/* Writes n windows in announcement order: window k belongs to connection
 * conn[k] (its record hdr[k]), starts at w0[k] (us), holds n_data[k] data
 * packets, and its embedding is emb[k*E .. k*E+E) (E = enc's dim; the
 * floats may be byte-swapped in place to little-endian). Returns 0 or
 * SS_ERR_IO. */
int embedlog_add_windows(embedlog *l, const conntab_record *hdr, const uint32_t *conn,
                         const int64_t *w0, const int *n_data, float *emb, int n, char *errbuf);

/* Completes the output (msgpack: the header with the final counts, then the
 * parts); f is left open for the caller to commit. Returns 0, SS_ERR_ARG (too
 * many windows for one msgpack file) or SS_ERR_IO. */
int embedlog_finish(embedlog *l, char *errbuf);

/* Fills st with the totals written so far. */
void embedlog_get_stats(const embedlog *l, embedlog_stats *st);

/* The model's identity as written: 16 hex digits of enc->id. */
const char *embedlog_model_id(const embedlog *l);

/* Frees l and its parts (f is not closed); NULL is a no-op. */
void embedlog_destroy(embedlog *l);

#endif

/* embedding.h - lookup table: row ids[n] of a (V,C) table for each of N ids.
 *
 * A negative id is padding: its output row is zero and it gets no gradient.
 * An id >= V is an error reported by embedding_check_ids (call it once on
 * untrusted input); forward/backward skip such ids rather than read outside
 * the table. Arrays are owned by the caller; the table gradient accumulates.
 */
#ifndef STEPSTONE_EMBEDDING_H
#define STEPSTONE_EMBEDDING_H

/* Checks that every id is < V, so bad input is refused with a message
 * (naming the position) instead of being skipped silently. Returns 0 or
 * SS_ERR_ARG. ids is (N). */
int embedding_check_ids(const int *ids, int N, int V, char *errbuf);

/* out is (N,C), ids is (N), table is (V,C). */
void embedding_forward(float *out, const int *ids, const float *table,
                       int N, int V, int C);

/* dtable (V,C) += the rows of dout (N,C) at ids (N). */
void embedding_backward(float *dtable, const float *dout, const int *ids,
                        int N, int V, int C);

#endif

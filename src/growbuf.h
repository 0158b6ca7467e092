/* growbuf.h - amortised growth of a caller's array (capacity doubling), for
 * the streaming stages' many small per-connection and per-host lists.
 *
 * Ownership: the array and its capacity belong to the caller, who frees the
 * array with free().
 */
#ifndef STEPSTONE_GROWBUF_H
#define STEPSTONE_GROWBUF_H

#include <stddef.h>

/* Makes *arr (elements of elem bytes, *cap of them allocated) hold at least
 * need, doubling the capacity (from 4); 0, or -1 when out of memory (*arr and
 * *cap then unchanged). */
int growbuf_reserve(void **arr, size_t *cap, size_t need, size_t elem);

#endif

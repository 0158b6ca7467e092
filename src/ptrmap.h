/* ptrmap.h - a hash map of pointers under 64-bit hashes (open addressing,
 * linear probing, backward-shift deletion), for the streaming stages' tables
 * of connections and hosts. The caller hashes its keys and says how a stored
 * value matches a key; the map never looks inside the values.
 *
 * Ownership: the caller owns the ptrmap struct and the values; the map owns
 * its two arrays (ptrmap_free releases them). A slot index from ptrmap_find
 * is valid until the next put or delete.
 */
#ifndef STEPSTONE_PTRMAP_H
#define STEPSTONE_PTRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ptrmap {
    uint64_t *hash; /* per slot: the stored value's hash */
    void **val;     /* per slot: the value, NULL when empty */
    size_t cap;     /* slots, a power of two; at most half are used */
    size_t n;       /* values stored */
} ptrmap;

/* 1 when the stored value val has the key key. */
typedef int (*ptrmap_eq_fn)(const void *val, const void *key);

/* Makes an empty map of cap slots (a power of two). Returns 0 or -1 (out of
 * memory; *m is then safe to ptrmap_free). */
int ptrmap_init(ptrmap *m, size_t cap);

/* Frees the map's arrays and zeroes it (not the values); safe on a zeroed map. */
void ptrmap_free(ptrmap *m);

/* The slot holding the value with key (m->val[slot] != NULL), or the empty
 * slot where it would go (m->val[slot] == NULL). */
size_t ptrmap_find(const ptrmap *m, uint64_t h, ptrmap_eq_fn eq, const void *key);

/* Stores val (non-NULL, not already in the map) under hash h, growing the map
 * to keep it at most half full. Returns 0 or -1 (out of memory). */
int ptrmap_put(ptrmap *m, uint64_t h, void *val);

/* Removes the value in slot (from ptrmap_find). */
void ptrmap_del(ptrmap *m, size_t slot);

#endif

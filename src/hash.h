/* hash.h - the 64-bit hash mixers shared by the connection table, the
 * duplicate filter, the correlator and the session feed.
 *
 * Header-only (static inline) because they sit in the connection table's
 * hottest loop: the compiler must be able to inline them without LTO. The
 * module has no state and owns no memory.
 */
#ifndef STEPSTONE_HASH_H
#define STEPSTONE_HASH_H

#include <stdint.h>
#include <string.h>

/* The 64-bit mixing step (splitmix64's finalizer, a bijection): distinct
 * inputs give distinct outputs, so mixed serials make distinct uids. */
static inline uint64_t hash_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* The 8 bytes at p as an integer in host order (any alignment). */
static inline uint64_t hash_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Mixes two 16-byte addresses a then b (as in packet_t) into the hash h:
 * the address part of both the connection key and the packet signature. */
static inline uint64_t hash_addrs(uint64_t h, const uint8_t *a, const uint8_t *b)
{
    h = hash_mix64(h ^ hash_load64(a));
    h = hash_mix64(h ^ hash_load64(a + 8));
    h = hash_mix64(h ^ hash_load64(b));
    return hash_mix64(h ^ hash_load64(b + 8));
}

#endif

/* rng.h - a small deterministic random number generator, state passed explicitly.
 *
 * xoshiro256** seeded through splitmix64. There is no global state: each user
 * owns an rng_t (a plain struct, copyable, no allocation), so results depend
 * only on the seed and the order of calls. Same seed, same numbers, on every
 * platform (integer arithmetic; float conversion from the top 24 bits).
 */
#ifndef STEPSTONE_RNG_H
#define STEPSTONE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rng {
    uint64_t s[4];      /* xoshiro256** state; never all zero after rng_seed */
    float spare;        /* second value of the last Box-Muller pair */
    int has_spare;      /* 1 if spare is valid */
} rng_t;

/* Seeds the generator from one 64-bit value (expanded with splitmix64), so
 * runs are reproducible from a single number. */
void rng_seed(rng_t *r, uint64_t seed);

/* One splitmix64 step: advances *x and returns its mixed value; seeds the
 * generator and serves callers that need a stateless keyed stream. */
uint64_t rng_splitmix64(uint64_t *x);

/* Next raw 64-bit value; the base of every other draw. */
uint64_t rng_next_u64(rng_t *r);

/* Uniform integer in [0, n) (n > 0), without modulo bias, for sampling indices. */
uint64_t rng_below(rng_t *r, uint64_t n);

/* Uniform float in [0, 1) with 24 random bits, for dropout masks and sampling. */
float rng_uniform(rng_t *r);

/* Uniform float in [lo, hi), for weight initialisation. */
float rng_uniform_range(rng_t *r, float lo, float hi);

/* Standard normal float (Box-Muller), for weight initialisation and noise. */
float rng_normal(rng_t *r);

/* Fills x[0..n) with uniform values in [lo, hi): initialises a tensor in one call. */
void rng_fill_uniform(rng_t *r, float *x, size_t n, float lo, float hi);

/* Fills x[0..n) with normal values of mean 0 and standard deviation std. */
void rng_fill_normal(rng_t *r, float *x, size_t n, float std);

/* Shuffles idx[0..n) in place (Fisher-Yates), for minibatch order. */
void rng_shuffle(rng_t *r, size_t *idx, size_t n);

#endif

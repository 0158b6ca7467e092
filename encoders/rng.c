/* rng.c - xoshiro256** seeded by splitmix64; see rng.h. */
#include "rng.h"

#include <math.h>

uint64_t rng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rng_seed(rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int k = 0; k < 4; k++)
        r->s[k] = rng_splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
    r->spare = 0.0f;
    r->has_spare = 0;
}

uint64_t rng_next_u64(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(rng_t *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t v;
    do
        v = rng_next_u64(r);
    while (v >= limit);
    return v % n;
}

float rng_uniform(rng_t *r)
{
    return (float)(rng_next_u64(r) >> 40) * (1.0f / 16777216.0f);
}

float rng_uniform_range(rng_t *r, float lo, float hi)
{
    float v = lo + (hi - lo) * rng_uniform(r);
    return v < hi ? v : lo; /* rounding could reach hi */
}

float rng_normal(rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1, u2;
    do
        u1 = (double)(rng_next_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    while (u1 <= 0.0);
    u2 = (double)(rng_next_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586 * u2;
    r->spare = (float)(rad * sin(th));
    r->has_spare = 1;
    return (float)(rad * cos(th));
}

void rng_fill_uniform(rng_t *r, float *x, size_t n, float lo, float hi)
{
    for (size_t k = 0; k < n; k++)
        x[k] = rng_uniform_range(r, lo, hi);
}

void rng_fill_normal(rng_t *r, float *x, size_t n, float std)
{
    for (size_t k = 0; k < n; k++)
        x[k] = std * rng_normal(r);
}

void rng_shuffle(rng_t *r, size_t *idx, size_t n)
{
    for (size_t k = n; k > 1; k--) {
        size_t j = (size_t)rng_below(r, k);
        size_t t = idx[k - 1];
        idx[k - 1] = idx[j];
        idx[j] = t;
    }
}

/* act.c - vectorizable sigmoid and tanh (see act.h). */
#include "act.h"

#include <stdint.h>
#include <string.h>

/* The default build is -O2, whose cost model leaves these loops scalar. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif

/* Each public function is compiled for AVX-512, AVX2+FMA and baseline x86-64;
 * the dynamic loader picks the best for the running CPU (GCC ifunc). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ACT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ACT_CLONES
#endif

#define ACT_EXP_HI 88.3f
#define ACT_EXP_LO -87.3f

/* exp(x) for x already in [ACT_EXP_LO, ACT_EXP_HI]. Inlined into the loops
 * below; no branches, no libm calls, so the loops vectorize. */
static inline float exp_core(float x)
{
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f;
    const float ln2_lo = -2.12194440e-4f;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adds round-to-nearest */
    float n = (x * log2e + round_magic) - round_magic;
    float r = x - n * ln2_hi;
    r = r - n * ln2_lo;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

static inline float clampf(float x, float lo, float hi)
{
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}

ACT_CLONES
void act_exp(float *y, const float *x, int n)
{
    for (int k = 0; k < n; k++)
        y[k] = exp_core(clampf(x[k], ACT_EXP_LO, ACT_EXP_HI));
}

ACT_CLONES
void act_sigmoid(float *y, const float *x, int n)
{
    for (int k = 0; k < n; k++) {
        float e = exp_core(clampf(-x[k], ACT_EXP_LO, ACT_EXP_HI));
        y[k] = 1.0f / (1.0f + e);
    }
}

ACT_CLONES
void act_tanh(float *y, const float *x, int n)
{
    for (int k = 0; k < n; k++) {
        float v = x[k];
        float a = v < 0.0f ? -v : v;
        /* small |x|: odd polynomial (Cephes tanhf), accurate near 0 */
        float z = v * v;
        float p = -5.70498872745e-3f;
        p = p * z + 2.06390887954e-2f;
        p = p * z - 5.37397155531e-2f;
        p = p * z + 1.33314422036e-1f;
        p = p * z - 3.33332819422e-1f;
        float small = p * z * v + v;
        /* large |x|: (1 - e^-2|x|) / (1 + e^-2|x|), |x| clamped where tanh == 1 */
        float e = exp_core(-2.0f * (a > 9.0f ? 9.0f : a));
        float big = (1.0f - e) / (1.0f + e);
        big = v < 0.0f ? -big : big;
        y[k] = a < 0.625f ? small : big;
    }
}

/* act.h - vectorizable activation functions (sigmoid, tanh) over float arrays.
 *
 * The LSTM spends its elementwise time in sigmoid and tanh; a scalar expf()
 * call per element keeps the loop from vectorizing and is 3-4x slower. These
 * use a Cephes-style exp approximation (range reduction to [-ln2/2, ln2/2],
 * degree-6 polynomial, exponent built from bits) written as straight-line
 * code so GCC vectorizes the loops (check: -fopt-info-vec). Relative error
 * is about 1e-7 (sigmoid) and 2e-7 (tanh) over the whole float range; see
 * tests/check_lstm.c for the measured bound against libm.
 *
 * Arrays are owned by the caller; y may equal x (in place), otherwise they
 * must not overlap.
 */
#ifndef STEPSTONE_ACT_H
#define STEPSTONE_ACT_H

#include <stdint.h>
#include <string.h>

#define ACT_EXP_HI 88.3f
#define ACT_EXP_LO -87.3f

/* exp(x) for x already in [ACT_EXP_LO, ACT_EXP_HI]: no branches, no libm
 * calls, so loops calling it vectorize. */
static inline float act_exp_core(float x)
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

/* x clamped to [lo, hi], branch-free. */
static inline float act_clampf(float x, float lo, float hi)
{
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}


/* Scalar sigmoid, inlined into another module's loop so that loop vectorizes
 * (same results as act_sigmoid). */
static inline float act_sigmoid_inline(float x)
{
    float e = act_exp_core(act_clampf(-x, ACT_EXP_LO, ACT_EXP_HI));
    return 1.0f / (1.0f + e);
}

/* Scalar tanh, inlined into another module's loop (same results as act_tanh):
 * an odd polynomial (Cephes tanhf) for |x| < 0.625, accurate near 0, else
 * (1 - e^-2|x|) / (1 + e^-2|x|) with |x| clamped at 9 where tanh == 1f. */
static inline float act_tanh_inline(float v)
{
    float a = v < 0.0f ? -v : v;
    float z = v * v;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * v + v;
    float e = act_exp_core(-2.0f * (a > 9.0f ? 9.0f : a));
    float big = (1.0f - e) / (1.0f + e);
    big = v < 0.0f ? -big : big;
    return a < 0.625f ? small : big;
}


/* y[k] = exp(x[k]) for k < n; inputs are clamped to [-87.3, 88.3] so the
 * result stays a normal float (used by the activations below and losses). */
void act_exp(float *y, const float *x, int n);

/* y[k] = 1 / (1 + exp(-x[k])) for k < n: the LSTM's i, f, o gates. */
void act_sigmoid(float *y, const float *x, int n);

/* y[k] = tanh(x[k]) for k < n: the LSTM's g gate and cell output. */
void act_tanh(float *y, const float *x, int n);

#endif

/* act.c - vectorizable sigmoid and tanh (see act.h). */
#include "act.h"


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

ACT_CLONES
void act_exp(float *y, const float *x, int n)
{
    for (int k = 0; k < n; k++)
        y[k] = act_exp_core(act_clampf(x[k], ACT_EXP_LO, ACT_EXP_HI));
}

ACT_CLONES
void act_sigmoid(float *y, const float *x, int n)
{
    for (int k = 0; k < n; k++)
        y[k] = act_sigmoid_inline(x[k]);
}

ACT_CLONES
void act_tanh(float *y, const float *x, int n)
{
    for (int k = 0; k < n; k++)
        y[k] = act_tanh_inline(x[k]);
}

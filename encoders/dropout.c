/* dropout.c - inverted dropout; see dropout.h. */
#include "dropout.h"

#include "status.h"

int dropout_mask_fill(float *mask, size_t n, float p, rng_t *r, char *errbuf)
{
    if (!(p >= 0.0f && p < 1.0f))
        return ss_errf(errbuf, SS_ERR_ARG, "dropout: probability %g is outside [0,1)",
                       (double)p);
    float keep = 1.0f / (1.0f - p);
    for (size_t k = 0; k < n; k++)
        mask[k] = rng_uniform(r) < p ? 0.0f : keep;
    return SS_OK;
}

void dropout_forward(float *out, const float *inp, const float *mask, size_t n)
{
    for (size_t k = 0; k < n; k++)
        out[k] = inp[k] * mask[k];
}

void dropout_backward(float *dinp, const float *dout, const float *mask, size_t n)
{
    for (size_t k = 0; k < n; k++)
        dinp[k] = dout[k] * mask[k];
}

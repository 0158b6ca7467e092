/* dropout.h - inverted dropout with an explicit, reusable mask.
 *
 * dropout_mask_fill draws the mask (0 or 1/(1-p) per element) from a caller's
 * rng_t; forward and backward multiply by it, so the backward pass uses the
 * same mask and a test can fix the mask. At inference skip the layer (or fill
 * the mask with p = 0, which gives all ones). Arrays are owned by the caller.
 */
#ifndef STEPSTONE_DROPOUT_H
#define STEPSTONE_DROPOUT_H

#include <stddef.h>

#include "rng.h"

/* Fills mask (n) with 0 (probability p) or 1/(1-p); p must be in [0,1).
 * Returns 0, or SS_ERR_ARG for a p outside that range. */
int dropout_mask_fill(float *mask, size_t n, float p, rng_t *r, char *errbuf);

/* out (n) = inp (n) * mask (n); out may equal inp. */
void dropout_forward(float *out, const float *inp, const float *mask, size_t n);

/* dinp (n) = dout (n) * mask (n); assigned; dinp may equal dout. */
void dropout_backward(float *dinp, const float *dout, const float *mask, size_t n);

#endif

/* layernorm.h - layer normalisation over the last dimension (C) of N rows.
 *
 * out = (inp - mean) * rstd * weight + bias, with rstd = 1/sqrt(var + eps)
 * and the biased variance, as torch.nn.LayerNorm. The forward pass saves
 * mean and rstd for the backward pass. Arrays are owned by the caller;
 * dweight/dbias accumulate, dinp is assigned.
 */
#ifndef STEPSTONE_LAYERNORM_H
#define STEPSTONE_LAYERNORM_H

/* out is (N,C), mean and rstd are (N), inp is (N,C), weight and bias are (C). */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias,
                       int N, int C, float eps);

/* dinp (N,C) assigned; dweight, dbias (C) accumulated; dout, inp (N,C);
 * mean, rstd (N) from layernorm_forward. */
void layernorm_backward(float *dinp, float *dweight, float *dbias,
                        const float *dout, const float *inp, const float *weight,
                        const float *mean, const float *rstd, int N, int C);

#endif

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

/* y[k] = exp(x[k]) for k < n; inputs are clamped to [-87.3, 88.3] so the
 * result stays a normal float (used by the activations below and losses). */
void act_exp(float *y, const float *x, int n);

/* y[k] = 1 / (1 + exp(-x[k])) for k < n: the LSTM's i, f, o gates. */
void act_sigmoid(float *y, const float *x, int n);

/* y[k] = tanh(x[k]) for k < n: the LSTM's g gate and cell output. */
void act_tanh(float *y, const float *x, int n);

#endif

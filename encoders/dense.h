/* dense.h - affine layer with an optional ReLU or tanh: out = act(inp W^T + b).
 *
 * The weight is (OC,IC) like torch.nn.Linear, so reference tensors copy over
 * as they are. Forward/backward use cblas_sgemm; neither allocates. Parameter
 * gradients accumulate (+=); the input gradient is assigned. All arrays are
 * owned by the caller, float32, row-major.
 */
#ifndef STEPSTONE_DENSE_H
#define STEPSTONE_DENSE_H

#include <stddef.h>

enum dense_act {
    DENSE_ACT_NONE = 0,
    DENSE_ACT_RELU = 1,
    DENSE_ACT_TANH = 2
};

/* Floats of scratch dense_backward needs (0 for DENSE_ACT_NONE), so the
 * caller can allocate it once. */
size_t dense_workspace_size(int act, int N, int OC);

/* Forward pass over N rows: the affine map then the activation.
 * out is (N,OC), inp is (N,IC), weight is (OC,IC), bias is (OC) or NULL. */
void dense_forward(float *out, const float *inp, const float *weight,
                   const float *bias, int act, int N, int IC, int OC);

/* Backward pass: dinp (N,IC) is assigned (may be NULL when not needed),
 * dweight (OC,IC) and dbias (OC, may be NULL) are accumulated. out (N,OC) is
 * the forward output (the activation's derivative is taken from it); dout is
 * (N,OC); workspace has dense_workspace_size(act, N, OC) floats. */
void dense_backward(float *dinp, float *dweight, float *dbias,
                    const float *dout, const float *inp, const float *weight,
                    const float *out, int act, float *workspace,
                    int N, int IC, int OC);

#endif

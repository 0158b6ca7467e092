/* dense.c - affine layer with optional activation; see dense.h. */
#include "dense.h"

#include <cblas.h>

#include "act.h"

size_t dense_workspace_size(int act, int N, int OC)
{
    return act == DENSE_ACT_NONE ? 0 : (size_t)N * (size_t)OC;
}

void dense_forward(float *out, const float *inp, const float *weight,
                   const float *bias, int act, int N, int IC, int OC)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC,
                1.0f, inp, IC, weight, IC, 0.0f, out, OC);
    for (int n = 0; n < N; n++) {
        float *row = out + (size_t)n * OC;
        if (bias)
            for (int o = 0; o < OC; o++)
                row[o] += bias[o];
        if (act == DENSE_ACT_RELU) {
            for (int o = 0; o < OC; o++)
                row[o] = row[o] > 0.0f ? row[o] : 0.0f;
        } else if (act == DENSE_ACT_TANH) {
            act_tanh(row, row, OC); /* vectorized, in place */
        }
    }
}

void dense_backward(float *dinp, float *dweight, float *dbias,
                    const float *dout, const float *inp, const float *weight,
                    const float *out, int act, float *workspace,
                    int N, int IC, int OC)
{
    const float *dpre = dout; /* gradient before the activation, (N,OC) */
    size_t total = (size_t)N * (size_t)OC;
    if (act == DENSE_ACT_RELU) {
        for (size_t k = 0; k < total; k++)
            workspace[k] = out[k] > 0.0f ? dout[k] : 0.0f;
        dpre = workspace;
    } else if (act == DENSE_ACT_TANH) {
        for (size_t k = 0; k < total; k++)
            workspace[k] = dout[k] * (1.0f - out[k] * out[k]);
        dpre = workspace;
    }
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC,
                    1.0f, dpre, OC, weight, IC, 0.0f, dinp, IC);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N,
                1.0f, dpre, OC, inp, IC, 1.0f, dweight, IC);
    if (dbias)
        for (int n = 0; n < N; n++) {
            const float *row = dpre + (size_t)n * OC;
            for (int o = 0; o < OC; o++)
                dbias[o] += row[o];
        }
}

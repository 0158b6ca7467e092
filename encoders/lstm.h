/* lstm.h - a stack of LSTM layers (optionally bidirectional) with forward and
 * backward (backprop through time) passes, PyTorch nn.LSTM semantics.
 *
 * Shapes (float32, row-major), D = 2 if bidirectional else 1, H = hidden:
 *   inp    (B,T,In)        batch-first input; only steps t < lengths[b] are read
 *   out    (B,T,D*H)       every step's output of the top layer; padded steps
 *                          (t >= lengths[b]) are 0, as pad_packed_sequence gives
 *   hlast  (B,D*H)         last hidden state of the top layer: forward state at
 *                          step lengths[b]-1, backward state at step 0
 *   lengths[B]             1 <= lengths[b] <= T, any order; sorted by
 *                          decreasing length, the per-step GEMMs skip the
 *                          finished sequences (as packed sequences do)
 * The reverse direction of a sequence of length L starts at step L-1 from a
 * zero state, as PyTorch's packed sequences do. Initial states are zero.
 *
 * Parameters: one flat float buffer, carved by lstm_param_tensors(). For
 * layer l (input size In_l = In for l = 0, D*H above), in this order:
 *   weight_ih  (D, 4H, In_l)   both directions adjacent (one input GEMM)
 *   weight_hh  (D, 4H, H)
 *   bias_ih    (D, 4H)
 *   bias_hh    (D, 4H)
 * Gate order inside the 4H rows is PyTorch's: i, f, g, o. Direction 0 of
 * each tensor is PyTorch's `weight_ih_l{l}`, direction 1 `..._l{l}_reverse`;
 * both biases are kept so PyTorch state dicts copy over unchanged.
 * Gradients (and an optimizer's state) use the same layout. The stack's
 * tensors must stay adjacent in this order (offsets are relative to the
 * first), e.g. added in this order to a params_t.
 *
 * Ownership: every buffer is owned by the caller; no function here allocates
 * or keeps a pointer after it returns. Forward writes the activations needed
 * by backward into `acts` (lstm_acts_size floats); backward needs `ws`
 * (lstm_workspace_size floats) as scratch; both are read-only for backward
 * except ws. Parameter gradients ACCUMULATE (+=): zero them explicitly.
 * The input gradient is assigned.
 *
 * Speed: the input projection of all steps is one cblas_sgemm. The
 * recurrent step is one cblas_sgemm per step over the batch, except on CPUs
 * with AVX-512 and FMA for batches up to 64, where a fused kernel does the
 * step's GEMM and the gate activations together on a copy of W_hh packed
 * once per forward (kept at the end of `acts`).
 *
 * Threads: this module never starts threads. OpenBLAS's own pool (sized once
 * by threads_apply(), see threads.h) is the only pool in the process; see
 * docs/design.md "Threads".
 */
#ifndef STEPSTONE_LSTM_H
#define STEPSTONE_LSTM_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "status.h"

/* Describes an LSTM stack; all fields > 0 except bidirectional (0 or 1). */
typedef struct lstm_config {
    int input_size;    /* In: features per input step */
    int hidden_size;   /* H: units per direction */
    int num_layers;    /* stacked layers */
    int bidirectional; /* 1: a reverse direction too, outputs concatenated */
} lstm_config;

/* Kinds of parameter tensors (per layer, all directions together). */
enum lstm_tensor_kind {
    LSTM_TENSOR_WEIGHT_IH = 0,
    LSTM_TENSOR_WEIGHT_HH = 1,
    LSTM_TENSOR_BIAS_IH = 2,
    LSTM_TENSOR_BIAS_HH = 3
};

/* One named parameter tensor (one layer, one direction) in the flat buffer. */
typedef struct lstm_tensor {
    char name[32]; /* PyTorch's name: "weight_ih_l0", "bias_hh_l1_reverse", ... */
    size_t offset; /* in floats from the start of the parameter buffer */
    size_t count;  /* rows * cols */
    int rows;      /* 4H */
    int cols;      /* In_l, H, or 1 for biases */
    int layer;
    int direction; /* 0 forward, 1 reverse */
    int kind;      /* enum lstm_tensor_kind */
} lstm_tensor;


/* Checks a config (sizes positive and sane); 0 or SS_ERR_ARG with a message. */
int lstm_config_check(const lstm_config *cfg, char *errbuf);

/* Number of directions: 2 if bidirectional, else 1. */
int lstm_num_directions(const lstm_config *cfg);

/* Width of one output step and of hlast: D*H. */
int lstm_output_size(const lstm_config *cfg);

/* Total number of parameter floats (size of params, grads, Adam m and v). */
size_t lstm_num_params(const lstm_config *cfg);

/* Number of tensors lstm_param_tensors() describes: num_layers * D * 4. */
int lstm_num_tensors(const lstm_config *cfg);

/* Fills tensors[0..lstm_num_tensors-1] with the name, offset and shape of each
 * parameter tensor so other modules (model files, optimizers) can carve them
 * out of one flat buffer. n is the capacity of tensors. */
int lstm_param_tensors(lstm_tensor *tensors, int n, const lstm_config *cfg, char *errbuf);

/* Initialises every parameter uniform(-1/sqrt(H), 1/sqrt(H)) as PyTorch does,
 * deterministic for a given rng state. params has lstm_num_params floats. */
void lstm_init_params(float *params, const lstm_config *cfg, rng_t *rng);

/* Floats of the activation buffer forward fills and backward reads (it also
 * holds forward's packed copy of the recurrent weights). */
size_t lstm_acts_size(const lstm_config *cfg, int B, int T);

/* Floats of scratch backward needs. */
size_t lstm_workspace_size(const lstm_config *cfg, int B, int T);

/* Runs the stack over a batch of ragged sequences.
 * out is (B,T,D*H) or NULL; hlast is (B,D*H) or NULL; acts is
 * lstm_acts_size floats; inp is (B,T,In); lengths[B] in 1..T; params is
 * lstm_num_params floats. Returns 0, or SS_ERR_ARG for bad lengths/sizes. */
int lstm_forward(float *out, float *hlast, float *acts,
                 const float *inp, const int *lengths, const float *params,
                 const lstm_config *cfg, int B, int T, char *errbuf);

/* Backprop through time of the last lstm_forward with these same arguments.
 * dinp (B,T,In) is assigned (NULL: not computed); dparams (lstm_num_params)
 * accumulates; dout (B,T,D*H) and dhlast (B,D*H) are the loss gradients with
 * respect to out and hlast (either may be NULL for zero). acts is what
 * forward wrote (it holds its own copy of inp, which must be unchanged
 * anyway for the gradients to mean anything); ws is lstm_workspace_size
 * floats of scratch. acts is not modified, so backward may be repeated. */
int lstm_backward(float *dinp, float *dparams, const float *dout, const float *dhlast,
                  const float *acts, float *ws, const float *inp, const int *lengths,
                  const float *params, const lstm_config *cfg, int B, int T,
                  char *errbuf);

#endif

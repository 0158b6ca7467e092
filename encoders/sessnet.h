/* sessnet.h - the session network: LSTM stacks, a dense layer and two softmax
 * heads predicting each connection of a session from its context.
 *
 * Network (session_net). Two stacks of unidirectional LSTM layers: "fwd" runs
 * over the session in time order, "bwd" over the session reversed. The
 * context of position t is [fwd output at t-1 ; bwd output at t+1] (zeros
 * past either end), then a tanh dense layer, then two softmax heads: the
 * state and the size class of connection t. Connection t's own inputs reach
 * neither half of its context, so it cannot see itself. This is why the two
 * directions are separate stacks: in a stacked bidirectional LSTM (PyTorch's
 * layout) the second layer's forward cell at t-1 reads the first layer's
 * backward output at t-1, which has seen x[t], so shifting the top layer's
 * outputs would still leak token t into its own prediction.
 * With bidirectional = 0 the net is the "predict next" baseline: context =
 * fwd output at t-1 only.
 *
 * Training loss: the mean softmax cross-entropy of each head (loss.h), against
 * targets smoothed by net->smoothing.
 *
 * Ownership: a session_net owns its params (freed by session_net_destroy,
 * which accepts NULL). Forward and backward never allocate: the caller passes
 * buffers of session_net_acts_size / session_net_workspace_size floats, and
 * owns the inputs, targets and lengths, read during the call only.
 */
#ifndef STEPSTONE_SESSNET_H
#define STEPSTONE_SESSNET_H

#include <stddef.h>
#include <stdint.h>

#include "lstm.h"
#include "params.h"

/* Architecture of one network. */
typedef struct session_net_config {
    int input_size;    /* In */
    int n_states;      /* V */
    int n_sizes;       /* K */
    int hidden;        /* H per direction */
    int layers;        /* LSTM layers per stack */
    int bidirectional; /* 1: both-sides context; 0: previous connections only */
    int dense;         /* width of the tanh dense layer */
} session_net_config;

typedef struct session_net {
    session_net_config cfg;
    lstm_config lstm;   /* each stack: unidirectional, In -> H, cfg.layers */
    params_t *params;   /* owned: fwd.*, bwd.* (if bidirectional), dense.*,
                           state_head.*, size_head.* */
    int k_fwd, k_bwd;   /* first tensor of each stack (k_bwd -1 if absent) */
    int k_dense_w, k_dense_b, k_state_w, k_state_b, k_size_w, k_size_b;
    float smoothing;    /* label smoothing of the training loss (0 when created or
                           loaded; set by the trainer, not stored in model files) */
} session_net;

/* Creates a network with fresh parameters (PyTorch-style uniform init,
 * deterministic for seed). Returns 0 or a negative status. */
int session_net_create(session_net **out, const session_net_config *cfg, uint64_t seed,
                       char *errbuf);

/* Frees net; NULL is a no-op. */
void session_net_destroy(session_net *net);

/* Width of the context vector: 2H if bidirectional, else H. */
int session_net_context_size(const session_net *net);

/* Floats of activations session_net_forward writes for a (B,T) batch. */
size_t session_net_acts_size(const session_net *net, int B, int T);

/* Floats of scratch session_net_backward needs for a (B,T) batch. */
size_t session_net_workspace_size(const session_net *net, int B, int T);

/* Runs the net over B sessions: inp (B,T,In), lengths[B] in 1..T. acts
 * (session_net_acts_size) receives everything backward needs, including the
 * probabilities: see session_net_probs. With targets (state_tgt, size_tgt
 * (B*T), -1 at padded positions) *loss receives mean state CE + mean size
 * CE, against targets smoothed by net->smoothing (loss_softmax_ce_smooth_forward);
 * loss, state_tgt and size_tgt may be NULL. Returns 0 or SS_ERR_ARG (also for
 * a target outside the head's classes that is not -1). */
int session_net_forward(float *loss, float *acts, const float *inp, const int *lengths,
                        const int *state_tgt, const int *size_tgt, const session_net *net,
                        int B, int T, char *errbuf);

/* Pointers to the probabilities inside acts after a forward:
 * *p_state (B*T, V) and *p_size (B*T, K); rows of padded steps are garbage. */
void session_net_probs(const float **p_state, const float **p_size, const float *acts,
                       const session_net *net, int B, int T);

/* Backward of the loss of the last forward (same arguments, targets
 * required): parameter gradients accumulate into net->params->grad; ws is
 * session_net_workspace_size floats. Returns 0 or SS_ERR_ARG. */
int session_net_backward(float *ws, const float *acts, const float *inp, const int *lengths,
                         const int *state_tgt, const int *size_tgt, session_net *net, int B,
                         int T, char *errbuf);

#endif

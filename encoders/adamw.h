/* adamw.h - the AdamW optimizer with gradient clipping by global norm.
 *
 * Decoupled weight decay (Loshchilov & Hutter): each step first shrinks a
 * parameter by lr * weight_decay * decay_mask, then applies the bias-corrected
 * Adam update; this matches torch.optim.AdamW. The update is one flat loop
 * over the parameter, gradient and moment buffers (the params_t layout).
 */
#ifndef STEPSTONE_ADAMW_H
#define STEPSTONE_ADAMW_H

#include <stddef.h>

#include "params.h"

typedef struct adamw_config {
    float lr;            /* learning rate */
    float beta1;         /* first-moment decay, 0.9 */
    float beta2;         /* second-moment decay, 0.999 */
    float eps;           /* denominator guard, 1e-8 */
    float weight_decay;  /* decoupled decay, 0.01 */
    float clip_norm;     /* clip gradients to this global L2 norm; <= 0: no clipping */
} adamw_config;

/* Fills cfg with torch's AdamW defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8,
 * weight decay 0.01) and clipping at norm 1. */
void adamw_config_default(adamw_config *cfg);

/* Global L2 norm of grad (n), accumulated in double. */
float adamw_grad_norm(const float *grad, size_t n);

/* Scales grad (n) so that its global norm is at most max_norm (no-op if
 * max_norm <= 0 or the norm is already below it). Returns the norm before
 * clipping, for logging. */
float adamw_clip_grad_norm(float *grad, size_t n, float max_norm);

/* One AdamW update of param (n) from grad (n), updating the moments m and v (n).
 * t is the 1-based step number (for bias correction). decay_mask (n) scales the
 * weight decay per float (1 or 0); NULL decays every float. */
void adamw_update(float *restrict param, const float *restrict grad,
                  float *restrict m, float *restrict v,
                  const float *restrict decay_mask, size_t n, const adamw_config *cfg,
                  long t);

/* One optimizer step on a parameter set: clips p->grad by cfg->clip_norm,
 * increments p->step and applies adamw_update with p's decay mask. Returns
 * the gradient norm before clipping. The gradients are left as clipped; zero
 * them before the next backward pass. */
float adamw_step(params_t *p, const adamw_config *cfg);

#endif

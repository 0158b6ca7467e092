/* adamw.c - AdamW with global-norm clipping; see adamw.h. */
#include "adamw.h"

#include <math.h>

void adamw_config_default(adamw_config *cfg)
{
    cfg->lr = 1e-3f;
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
    cfg->weight_decay = 0.01f;
    cfg->clip_norm = 1.0f;
}

float adamw_grad_norm(const float *grad, size_t n)
{
    double s = 0.0;
    for (size_t k = 0; k < n; k++)
        s += (double)grad[k] * grad[k];
    return (float)sqrt(s);
}

float adamw_clip_grad_norm(float *grad, size_t n, float max_norm)
{
    float norm = adamw_grad_norm(grad, n);
    if (max_norm > 0.0f && norm > max_norm) {
        float scale = max_norm / (norm + 1e-6f);
        for (size_t k = 0; k < n; k++)
            grad[k] *= scale;
    }
    return norm;
}

/* The buffers never overlap (restrict). At -O2 the loop stays scalar only
 * because sqrtf may set errno; with -fno-math-errno it vectorizes. It is
 * O(parameters) per step, small next to the layers' GEMMs. */
void adamw_update(float *restrict param, const float *restrict grad,
                  float *restrict m, float *restrict v,
                  const float *restrict decay_mask, size_t n, const adamw_config *cfg,
                  long t)
{
    float b1 = cfg->beta1, b2 = cfg->beta2, lr = cfg->lr, eps = cfg->eps;
    float bc1 = 1.0f - (float)pow(b1, (double)t);
    float bc2 = 1.0f - (float)pow(b2, (double)t);
    float lr_wd = lr * cfg->weight_decay;
    float inv_bc1 = 1.0f / bc1, inv_bc2 = 1.0f / bc2;
    for (size_t k = 0; k < n; k++) {
        float g = grad[k];
        float mk = b1 * m[k] + (1.0f - b1) * g;
        float vk = b2 * v[k] + (1.0f - b2) * g * g;
        m[k] = mk;
        v[k] = vk;
        float mhat = mk * inv_bc1;
        float vhat = vk * inv_bc2;
        float decay = decay_mask ? decay_mask[k] : 1.0f;
        float x = param[k] * (1.0f - lr_wd * decay);
        param[k] = x - lr * mhat / (sqrtf(vhat) + eps);
    }
}

float adamw_step(params_t *p, const adamw_config *cfg)
{
    float norm = adamw_clip_grad_norm(p->grad, p->total, cfg->clip_norm);
    p->step++;
    adamw_update(p->data, p->grad, p->m, p->v, p->decay, p->total, cfg, p->step);
    return norm;
}

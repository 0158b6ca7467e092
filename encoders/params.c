/* params.c - one flat parameter buffer with a table of named tensors. */
#include "params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

int params_create(params_t **out, char *errbuf)
{
    *out = calloc(1, sizeof(params_t));
    if (!*out)
        return ss_errf(errbuf, SS_ERR_NOMEM, "params: out of memory");
    return SS_OK;
}

void params_destroy(params_t *p)
{
    if (!p)
        return;
    free(p->tensors);
    free(p->data);
    free(p->grad);
    free(p->m);
    free(p->v);
    free(p->decay);
    free(p);
}

int params_find(const params_t *p, const char *name)
{
    for (size_t k = 0; k < p->n_tensors; k++)
        if (!strcmp(p->tensors[k].name, name))
            return (int)k;
    return -1;
}

int params_add(params_t *p, const char *name, int ndim, const size_t *shape,
               int flags, char *errbuf)
{
    if (p->data)
        return ss_errf(errbuf, SS_ERR_ARG, "params: cannot add tensor '%s' after allocation",
                       name);
    if (!name || !*name || strlen(name) >= PARAMS_NAME_MAX)
        return ss_errf(errbuf, SS_ERR_ARG, "params: tensor name empty or longer than %d",
                       PARAMS_NAME_MAX - 1);
    if (ndim < 1 || ndim > PARAMS_MAX_DIMS)
        return ss_errf(errbuf, SS_ERR_ARG, "params: tensor '%s' has %d dimensions (1..%d)",
                       name, ndim, PARAMS_MAX_DIMS);
    if (params_find(p, name) >= 0)
        return ss_errf(errbuf, SS_ERR_ARG, "params: duplicate tensor '%s'", name);
    if (p->n_tensors > (size_t)0x7fffffff - 1)
        return ss_errf(errbuf, SS_ERR_ARG, "params: too many tensors");
    size_t size = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 0 || shape[d] > ((size_t)1 << 31) || size > ((size_t)1 << 40) / shape[d])
            return ss_errf(errbuf, SS_ERR_ARG, "params: tensor '%s' has a bad dimension %zu",
                           name, shape[d]);
        size *= shape[d];
    }
    if (p->n_tensors == p->cap_tensors) {
        size_t cap = p->cap_tensors ? 2 * p->cap_tensors : 16;
        params_tensor *t = realloc(p->tensors, cap * sizeof(*t));
        if (!t)
            return ss_errf(errbuf, SS_ERR_NOMEM, "params: out of memory");
        p->tensors = t;
        p->cap_tensors = cap;
    }
    params_tensor *t = &p->tensors[p->n_tensors];
    memset(t, 0, sizeof(*t));
    memcpy(t->name, name, strlen(name) + 1);
    t->ndim = ndim;
    for (int d = 0; d < PARAMS_MAX_DIMS; d++)
        t->shape[d] = d < ndim ? shape[d] : 1;
    t->offset = p->total;
    t->size = size;
    t->flags = flags;
    p->total += size;
    return (int)p->n_tensors++;
}

int params_alloc(params_t *p, char *errbuf)
{
    if (p->data)
        return ss_errf(errbuf, SS_ERR_ARG, "params: already allocated");
    if (p->total == 0)
        return ss_errf(errbuf, SS_ERR_EMPTY, "params: no tensors declared");
    size_t n = p->total;
    p->data = calloc(n, sizeof(float));
    p->grad = calloc(n, sizeof(float));
    p->m = calloc(n, sizeof(float));
    p->v = calloc(n, sizeof(float));
    p->decay = malloc(n * sizeof(float));
    if (!p->data || !p->grad || !p->m || !p->v || !p->decay) {
        free(p->data); free(p->grad); free(p->m); free(p->v); free(p->decay);
        p->data = p->grad = p->m = p->v = p->decay = NULL;
        return ss_errf(errbuf, SS_ERR_NOMEM, "params: out of memory for %zu floats", n);
    }
    for (size_t k = 0; k < p->n_tensors; k++) {
        const params_tensor *t = &p->tensors[k];
        float f = (t->flags & PARAMS_NO_DECAY) ? 0.0f : 1.0f;
        for (size_t j = 0; j < t->size; j++)
            p->decay[t->offset + j] = f;
    }
    p->step = 0;
    return SS_OK;
}

float *params_data(const params_t *p, int k)
{
    if (!p->data || k < 0 || (size_t)k >= p->n_tensors)
        return NULL;
    return p->data + p->tensors[k].offset;
}

float *params_grad(const params_t *p, int k)
{
    if (!p->grad || k < 0 || (size_t)k >= p->n_tensors)
        return NULL;
    return p->grad + p->tensors[k].offset;
}

void params_zero_grad(params_t *p)
{
    if (p->grad)
        memset(p->grad, 0, p->total * sizeof(float));
}

void params_shape_string(const params_tensor *t, char *buf, size_t n)
{
    size_t used = 0;
    if (n == 0)
        return;
    buf[0] = '\0';
    for (int d = 0; d < t->ndim && used < n; d++) {
        int w = snprintf(buf + used, n - used, "%s%zu", d ? "," : "(", t->shape[d]);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (used < n)
        snprintf(buf + used, n - used, ")");
}

static int same_shape(const params_tensor *a, const params_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return 1;
}

int params_copy_values(params_t *dst, const params_t *src, char *errbuf)
{
    if (!dst->data || !src->data)
        return ss_errf(errbuf, SS_ERR_ARG, "params: copy between unallocated sets");
    for (size_t k = 0; k < dst->n_tensors; k++) {
        const params_tensor *t = &dst->tensors[k];
        int j = params_find(src, t->name);
        if (j < 0)
            return ss_errf(errbuf, SS_ERR_SHAPE, "tensor '%s' missing from the model", t->name);
        const params_tensor *s = &src->tensors[j];
        if (!same_shape(t, s)) {
            char want[96], got[96];
            params_shape_string(t, want, sizeof(want));
            params_shape_string(s, got, sizeof(got));
            return ss_errf(errbuf, SS_ERR_SHAPE, "tensor '%s': expected shape %s, found %s",
                           t->name, want, got);
        }
    }
    for (size_t j = 0; j < src->n_tensors; j++)
        if (params_find(dst, src->tensors[j].name) < 0)
            return ss_errf(errbuf, SS_ERR_SHAPE,
                           "tensor '%s' in the model is not part of this configuration",
                           src->tensors[j].name);
    for (size_t k = 0; k < dst->n_tensors; k++) {
        const params_tensor *t = &dst->tensors[k];
        const params_tensor *s = &src->tensors[params_find(src, t->name)];
        memcpy(dst->data + t->offset, src->data + s->offset, t->size * sizeof(float));
    }
    return SS_OK;
}

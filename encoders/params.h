/* params.h - a parameter set: one flat float buffer carved into named tensors.
 *
 * A model declares its tensors (name and shape) with params_add, then calls
 * params_alloc once. Values, gradients and the optimizer's first and second
 * moments (m, v) are four flat buffers with the same layout, so the optimizer
 * is one flat loop over params->total floats and a checkpoint is one blob.
 * All four buffers are zeroed by params_alloc.
 *
 * Ownership: params_t owns every buffer; pointers returned by params_data /
 * params_grad stay valid until params_destroy. Tensor names are copied.
 * The struct fields are readable by callers (the flat loops need them); change
 * them only through these functions.
 */
#ifndef STEPSTONE_PARAMS_H
#define STEPSTONE_PARAMS_H

#include <stddef.h>

#define PARAMS_NAME_MAX 64   /* longest tensor name, including the NUL */
#define PARAMS_MAX_DIMS 4    /* most dimensions of one tensor */

/* Flags for params_add. */
enum params_flag {
    PARAMS_DECAY = 0,        /* weight decay applies (matrices) */
    PARAMS_NO_DECAY = 1      /* no weight decay (biases, norms, gains) */
};

/* One named tensor inside the flat buffers. */
typedef struct params_tensor {
    char name[PARAMS_NAME_MAX];
    int ndim;                        /* 1..PARAMS_MAX_DIMS */
    size_t shape[PARAMS_MAX_DIMS];   /* unused dimensions are 1 */
    size_t offset;                   /* first float, in every flat buffer */
    size_t size;                     /* product of the shape */
    int flags;                       /* params_flag bits */
} params_tensor;

typedef struct params {
    params_tensor *tensors;   /* n_tensors entries, in declaration order */
    size_t n_tensors;
    size_t cap_tensors;
    size_t total;             /* floats in each flat buffer */
    float *data;              /* values, (total); NULL before params_alloc */
    float *grad;              /* gradients, (total) */
    float *m;                 /* AdamW first moment, (total) */
    float *v;                 /* AdamW second moment, (total) */
    float *decay;             /* per-float weight-decay factor 1 or 0, (total) */
    long step;                /* optimizer steps taken (AdamW's t) */
} params_t;

/* Creates an empty parameter set with no tensors. Returns 0 or SS_ERR_NOMEM. */
int params_create(params_t **out, char *errbuf);

/* Frees the set and all its buffers; NULL is a no-op. */
void params_destroy(params_t *p);

/* Declares a tensor before params_alloc: name must be unique and shorter than
 * PARAMS_NAME_MAX, every dimension > 0. Returns its index (>= 0) or a negative
 * ss_status (duplicate name, bad shape, already allocated, no memory). */
int params_add(params_t *p, const char *name, int ndim, const size_t *shape,
               int flags, char *errbuf);

/* Allocates the four flat buffers (zeroed) once all tensors are declared. */
int params_alloc(params_t *p, char *errbuf);

/* Index of the tensor called name, or -1: lets loaders find tensors by name. */
int params_find(const params_t *p, const char *name);

/* Values of tensor index k (inside p->data); NULL if k is out of range or the
 * set is not allocated. */
float *params_data(const params_t *p, int k);

/* Gradient of tensor index k (inside p->grad); NULL as for params_data. */
float *params_grad(const params_t *p, int k);

/* Sets every gradient to zero: the explicit step before a backward pass,
 * since layers accumulate parameter gradients. */
void params_zero_grad(params_t *p);

/* Formats a tensor's shape as "(a,b,c)" into buf (size n), for messages. */
void params_shape_string(const params_tensor *t, char *buf, size_t n);

/* Copies the values of every tensor of src into the tensor of the same name
 * in dst, checking names and shapes: fails with SS_ERR_SHAPE naming the
 * tensor ("expected (a,b), found (c,d)") or the missing/extra tensor. */
int params_copy_values(params_t *dst, const params_t *src, char *errbuf);

#endif

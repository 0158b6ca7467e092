/* ptrmap.c - hash map of pointers; see ptrmap.h. */
#include "ptrmap.h"

#include <stdlib.h>
#include <string.h>

int ptrmap_init(ptrmap *m, size_t cap)
{
    m->hash = calloc(cap, sizeof(*m->hash));
    m->val = calloc(cap, sizeof(*m->val));
    m->cap = cap;
    m->n = 0;
    return m->hash && m->val ? 0 : -1;
}

void ptrmap_free(ptrmap *m)
{
    free(m->hash);
    free(m->val);
    memset(m, 0, sizeof(*m));
}

size_t ptrmap_find(const ptrmap *m, uint64_t h, ptrmap_eq_fn eq, const void *key)
{
    size_t mask = m->cap - 1, j = (size_t)h & mask;
    while (m->val[j] && !(m->hash[j] == h && eq(m->val[j], key)))
        j = (j + 1) & mask;
    return j;
}

int ptrmap_put(ptrmap *m, uint64_t h, void *val)
{
    if ((m->n + 1) * 2 > m->cap) {
        ptrmap big;
        if (ptrmap_init(&big, m->cap * 2) < 0) {
            ptrmap_free(&big);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->val[i])
                continue;
            size_t j = (size_t)m->hash[i] & (big.cap - 1);
            while (big.val[j])
                j = (j + 1) & (big.cap - 1);
            big.hash[j] = m->hash[i];
            big.val[j] = m->val[i];
        }
        big.n = m->n;
        ptrmap_free(m);
        *m = big;
    }
    size_t mask = m->cap - 1, j = (size_t)h & mask;
    while (m->val[j])
        j = (j + 1) & mask;
    m->hash[j] = h;
    m->val[j] = val;
    m->n++;
    return 0;
}

void ptrmap_del(ptrmap *m, size_t i)
{
    size_t mask = m->cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->val[j])
            break;
        size_t k = (size_t)m->hash[j] & mask;
        /* j stays unless its home slot k lies cyclically outside (i, j] */
        int stay = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stay)
            continue;
        m->hash[i] = m->hash[j];
        m->val[i] = m->val[j];
        i = j;
    }
    m->val[i] = NULL;
    m->n--;
}

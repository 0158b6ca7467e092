/* embedding.c - lookup table layer; see embedding.h. */
#include "embedding.h"

#include <string.h>

#include "status.h"

int embedding_check_ids(const int *ids, int N, int V, char *errbuf)
{
    for (int n = 0; n < N; n++)
        if (ids[n] >= V)
            return ss_errf(errbuf, SS_ERR_ARG,
                           "embedding: id %d at position %d is outside the table of %d rows",
                           ids[n], n, V);
    return SS_OK;
}

void embedding_forward(float *out, const int *ids, const float *table,
                       int N, int V, int C)
{
    for (int n = 0; n < N; n++) {
        float *row = out + (size_t)n * C;
        if (ids[n] < 0 || ids[n] >= V)
            memset(row, 0, (size_t)C * sizeof(float));
        else
            memcpy(row, table + (size_t)ids[n] * C, (size_t)C * sizeof(float));
    }
}

void embedding_backward(float *dtable, const float *dout, const int *ids,
                        int N, int V, int C)
{
    for (int n = 0; n < N; n++) {
        if (ids[n] < 0 || ids[n] >= V)
            continue;
        float *drow = dtable + (size_t)ids[n] * C;
        const float *g = dout + (size_t)n * C;
        for (int c = 0; c < C; c++)
            drow[c] += g[c];
    }
}

/* markov.c - first-order Markov chain baseline (see markov.h). */
#include "markov.h"

#include <math.h>
#include <stdlib.h>

#include "status.h"

size_t markov_counts_size(int n_states)
{
    return n_states > 0 ? (size_t)(n_states + 1) * (size_t)n_states : 0;
}

int markov_create(markov_t **out, int n_states, double alpha, char *errbuf)
{
    *out = NULL;
    if (n_states < 1 || n_states > 1 << 16)
        return ss_errf(errbuf, SS_ERR_ARG, "markov: %d states (1..65536)", n_states);
    if (!(alpha > 0))
        return ss_errf(errbuf, SS_ERR_ARG, "markov: smoothing must be positive");
    markov_t *mk = calloc(1, sizeof(*mk));
    if (!mk)
        return ss_errf(errbuf, SS_ERR_NOMEM, "markov: out of memory");
    mk->counts = calloc(markov_counts_size(n_states), sizeof(float));
    if (!mk->counts) {
        free(mk);
        return ss_errf(errbuf, SS_ERR_NOMEM, "markov: out of memory");
    }
    mk->n_states = n_states;
    mk->alpha = alpha;
    *out = mk;
    return SS_OK;
}

void markov_destroy(markov_t *mk)
{
    if (!mk)
        return;
    free(mk->counts);
    free(mk);
}

void markov_observe(markov_t *mk, const int *states, int n)
{
    int prev = -1;
    for (int t = 0; t < n; t++) {
        int s = states[t];
        if (s < 0 || s >= mk->n_states)
            continue;
        mk->counts[(size_t)(prev + 1) * mk->n_states + s] += 1.0f;
        prev = s;
    }
}

double markov_prob(const markov_t *mk, int prev, int next)
{
    if (next < 0 || next >= mk->n_states || prev < -1 || prev >= mk->n_states)
        return 0.0;
    const float *row = mk->counts + (size_t)(prev + 1) * mk->n_states;
    double total = 0.0;
    for (int s = 0; s < mk->n_states; s++)
        total += row[s];
    return (row[next] + mk->alpha) / (total + mk->alpha * mk->n_states);
}

double markov_entropy(const markov_t *mk, int prev)
{
    if (prev < -1 || prev >= mk->n_states)
        return 0.0;
    const float *row = mk->counts + (size_t)(prev + 1) * mk->n_states;
    double total = 0.0, h = 0.0;
    for (int s = 0; s < mk->n_states; s++)
        total += row[s];
    double den = total + mk->alpha * mk->n_states;
    for (int s = 0; s < mk->n_states; s++) {
        double p = (row[s] + mk->alpha) / den;
        h -= p * log(p);
    }
    return h;
}

double markov_score(const markov_t *mk, const int *states, int n, double *lik)
{
    if (n <= 0)
        return 0.0;
    double sum = 0.0;
    int prev = -1;
    for (int t = 0; t < n; t++) {
        double p = markov_prob(mk, prev, states[t]);
        if (lik)
            lik[t] = p;
        sum += p;
        prev = states[t];
    }
    return 1.0 - sum / n;
}

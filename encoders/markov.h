/* markov.h - a first-order Markov chain over small integer states: the
 * baseline of the session anomaly model (encoders/sessmodel.h).
 *
 * The chain counts transitions prev -> next over training sequences, plus
 * the first state of each sequence ("start" row). Probabilities are
 * additively smoothed: P(next | prev) = (count + alpha) / (row total +
 * alpha * n_states), so an unseen transition has a small, non-zero
 * probability. A sequence's score is 1 - the mean likelihood of its states
 * (the first under the start row, every other given the one before).
 *
 * Ownership: a markov_t owns its counts (markov_destroy frees them,
 * NULL is a no-op); counts are float so a model file stores them as a
 * plain float array.
 */
#ifndef STEPSTONE_MARKOV_H
#define STEPSTONE_MARKOV_H

#include <stddef.h>

typedef struct markov {
    int n_states;   /* states are 0..n_states-1 */
    double alpha;   /* additive smoothing */
    float *counts;  /* (n_states + 1, n_states): row 0 start, row 1 + s after state s */
} markov_t;

/* Creates a chain with zero counts; n_states >= 1, alpha > 0.
 * Returns 0, SS_ERR_ARG or SS_ERR_NOMEM. */
int markov_create(markov_t **out, int n_states, double alpha, char *errbuf);

/* Frees the chain; NULL is a no-op. */
void markov_destroy(markov_t *mk);

/* Number of floats of mk->counts: (n_states + 1) * n_states. */
size_t markov_counts_size(int n_states);

/* Counts the transitions of one sequence states[0..n) (each in range). */
void markov_observe(markov_t *mk, const int *states, int n);

/* Smoothed probability of next after prev (prev = -1: first state). */
double markov_prob(const markov_t *mk, int prev, int next);

/* Entropy (nats) of the next state after prev (-1: of the first state): the
 * surprisal expected from the chain itself, which session scores subtract. */
double markov_entropy(const markov_t *mk, int prev);

/* Likelihood of each state of states[0..n) into lik[0..n) (may be NULL);
 * returns the score 1 - mean likelihood (0 for n == 0). */
double markov_score(const markov_t *mk, const int *states, int n, double *lik);

#endif

/* sessscore.h - likelihoods and scores of host sessions under a session
 * model, and the thresholds they are compared with. (sessionscore.h runs this
 * over the sessions of a capture as they complete.)
 *
 * Likelihood of connection t = sqrt(p_state[t](observed state) *
 * p_size[t](observed size class)) (Markov: P(state t | state t-1)), or the
 * smaller of the two for a TCP connection refused or never answered, whose size
 * (no payload) follows from its state (session_key_size_implied); its
 * surprisal is -ln(likelihood) (floored at SESSION_MIN_LIKELIHOOD). Score of a
 * session of n connections = the larger of
 *   whole: sum over t of surprisal[t] / sqrt(n) = sqrt(n) * (-ln of the
 *          geometric mean likelihood), and
 *   burst: the sum of its k largest surprisals / sqrt(k), k = score_top (5),
 *          when n > k,
 * compared with thresholds of sessions of the same length class (1, 2-5, 6+
 * connections): a one-connection session is one draw, a long one an average.
 * The burst part is there for a few very unlikely connections among ordinary
 * ones (failed logins in a busy server's session), which the whole-session
 * average dilutes.
 * No expected surprisal (entropy of the prediction) is subtracted: on traffic
 * unlike any training session (a scan) a network's predictions spread out, and
 * an entropy term then cancelled the very surprise that should flag it. The
 * connection with the lowest likelihood is the least expected one.
 *
 * Ownership: the caller owns every array passed (likelihoods, results), sized
 * as each function says; the model and data are read during the call only.
 */
#ifndef STEPSTONE_SESSSCORE_H
#define STEPSTONE_SESSSCORE_H

#include <stddef.h>
#include <stdint.h>

#include "sessmodel.h"
#include "sessvocab.h"

#define SESSION_MIN_LIKELIHOOD 1e-12 /* floor of a likelihood in scores (27.6 nats) */
#define SESSION_THRESHOLD_SLACK 1e-6 /* flagged: score > threshold + slack, so sums in
                                        another thread count's order do not flip ties */

/* Length class (0..SESSION_LEN_CLASSES-1) of a session of n connections. */
int session_length_class(int n);

/* Scores of one session. */
typedef struct session_result {
    double score;      /* surprisal (nats) summed over the connections / sqrt(connections),
                          or over the score_top largest / sqrt(score_top) if higher */
    double threshold;  /* the threshold of its host and length class */
    int flagged;       /* score > threshold + SESSION_THRESHOLD_SLACK */
    int least;         /* member index (0..n-1) of the least expected connection */
    double least_lik;  /* its likelihood */
} session_result;

/* 1 if a connection in state key has a size class that follows from its state:
 * a TCP connection refused or never answered carries no payload. Its state and
 * size predictions then judge one event, and the mean of their surprisals
 * would halve the surprise of the more surprised head; its likelihood is the
 * smaller of the two probabilities. */
int session_key_size_implied(uint32_t key);

/* Likelihood of every member of d under method: lik (d->list.n_members)
 * receives, for each connection, the geometric mean of the probabilities of
 * its state and size class, or the smaller of the two where
 * session_key_size_implied (Markov: of its state given the previous one),
 * and ent (may be NULL) the expected surprisal of that prediction (nats: the
 * mean entropy of the two predicted distributions; reported, not scored). */
int session_model_likelihoods(double *lik, double *ent, const session_model *m, int method,
                              const session_data *d, char *errbuf);

/* Threshold of a session of n connections of a host for a method: the global one
 * of its length class, or the host's own for that class where it is higher (a
 * host whose benign sessions score high keeps them unflagged; no host gets a
 * threshold below the global one), but at most host_factor times the global one
 * (a busy server's threshold, estimated from a few dozen of its sessions, does
 * not hide an attack on it). */
double session_model_threshold(const session_model *m, int method, uint8_t family,
                               const uint8_t *host, int n);

/* Scores every session of d: res (d->list.n_spans) from the likelihoods lik
 * (d->list.n_members) of session_model_likelihoods. */
void session_model_results(session_result *res, const session_model *m, int method,
                           const session_data *d, const double *lik);

#endif

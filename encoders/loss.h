/* loss.h - training losses: softmax cross-entropy and contrastive losses.
 *
 * Each loss is a forward function returning the scalar loss (a mean) and a
 * backward function assigning the input gradients, scaled by dloss (the
 * gradient of the final objective with respect to this loss, usually 1).
 * Nothing allocates: where state is kept between the passes, the caller
 * passes a buffer of *_workspace_size() floats. Arrays are owned by the
 * caller, float32, row-major.
 *
 * Contrastive losses compare embeddings by cosine similarity; a norm is
 * clamped below at LOSS_NORM_EPS (as torch's cosine_similarity does), so a
 * zero embedding gives finite values.
 */
#ifndef STEPSTONE_LOSS_H
#define STEPSTONE_LOSS_H

#include <stddef.h>

#define LOSS_NORM_EPS 1e-8f

/* ---- softmax cross-entropy ---- */

/* Softmax of N rows of C logits into probs (N,C), which must not overlap them:
 * exp(z - max z) divided by the row's sum (a division per element, not a
 * product with the reciprocal, so the probabilities are correctly rounded
 * quotients). The probabilities every cross-entropy below computes. */
void loss_softmax_forward(float *probs, const float *logits, int N, int C);

/* Mean cross-entropy of N rows of C logits against integer targets.
 * Row n counts with weight weights[n] (weights may be NULL: all 1; a 0/1 mask
 * is the usual use) and not at all when targets[n] == ignore_index. The loss is
 * the weighted sum divided by the sum of the counted weights (0 if none).
 * probs (N,C) receives the softmax for the backward pass; logits is (N,C);
 * targets and weights are (N). *loss receives the mean. Returns 0, or
 * SS_ERR_ARG (message names the row) for a target outside [0,C) that is not
 * ignore_index, or a negative weight. */
int loss_softmax_ce_forward(float *loss, float *probs, const float *logits,
                            const int *targets, const float *weights,
                            int ignore_index, int N, int C, char *errbuf);

/* dlogits (N,C) = dloss * w_n / sum(w) * (probs - onehot(target)), zero for
 * ignored rows. Same targets, weights and ignore_index as the forward. */
void loss_softmax_ce_backward(float *dlogits, const float *probs,
                              const int *targets, const float *weights,
                              int ignore_index, float dloss, int N, int C);

/* As loss_softmax_ce_forward against targets smoothed by eps (label
 * smoothing, 0 <= eps < 1): 1 - eps + eps / C on the target class, eps / C on
 * each other class. A row's loss is logsumexp(z) - (1 - eps) z[target] - eps
 * mean(z), computed from the logits (finite however small a probability);
 * eps 0 is loss_softmax_ce_forward. SS_ERR_ARG also for eps outside [0,1). */
int loss_softmax_ce_smooth_forward(float *loss, float *probs, const float *logits,
                                   const int *targets, const float *weights,
                                   int ignore_index, float eps, int N, int C,
                                   char *errbuf);

/* dlogits (N,C) = dloss * w_n / sum(w) * (probs - (1 - eps) onehot(target) -
 * eps / C), zero for ignored rows; the gradient of the smoothed forward. */
void loss_softmax_ce_smooth_backward(float *dlogits, const float *probs,
                                     const int *targets, const float *weights,
                                     int ignore_index, float eps, float dloss, int N,
                                     int C);

/* ---- InfoNCE with in-batch negatives ---- */

/* Floats of workspace for loss_infonce_forward/backward with B pairs of
 * D-dimensional embeddings. */
size_t loss_infonce_workspace_size(int B, int D);

/* InfoNCE: row i of anchors (B,D) should match row i of positives (B,D)
 * against every other row of the batch. Logits are cos(a_i, p_j) / temperature;
 * the loss is the mean cross-entropy with target i. With symmetric != 0 it is
 * the mean of that and the same loss with positives as anchors (CLIP style).
 * ws holds loss_infonce_workspace_size(B, D) floats, kept for the backward. */
float loss_infonce_forward(float *ws, const float *anchors,
                           const float *positives, float temperature,
                           int symmetric, int B, int D);

/* danchors and dpositives (B,D) are assigned; ws as left by the forward with
 * the same inputs; dloss scales the gradients. */
void loss_infonce_backward(float *danchors, float *dpositives, const float *ws,
                           const float *anchors, const float *positives,
                           float temperature, int symmetric, float dloss,
                           int B, int D);

/* ---- triplet margin loss on cosine distance ---- */

/* Mean over B triplets of max(0, d(a,p) - d(a,n) + margin) with the cosine
 * distance d(x,y) = 1 - cos(x,y); anchors, positives, negatives are (B,D). */
float loss_triplet_forward(const float *anchors, const float *positives,
                           const float *negatives, float margin, int B, int D);

/* danchors, dpositives, dnegatives (B,D) are assigned (zero for triplets
 * already satisfying the margin); dloss scales them. */
void loss_triplet_backward(float *danchors, float *dpositives, float *dnegatives,
                           const float *anchors, const float *positives,
                           const float *negatives, float margin, float dloss,
                           int B, int D);

#endif

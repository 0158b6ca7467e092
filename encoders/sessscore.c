/* sessscore.c - likelihoods, scores and thresholds of sessions (see sessscore.h). */
#include "sessscore.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

#define SCORE_BATCH 64

static double row_entropy(const float *p, int C)
{
    double h = 0.0;
    for (int c = 0; c < C; c++)
        if (p[c] > 0.0f)
            h -= (double)p[c] * log((double)p[c]);
    return h;
}

int session_key_size_implied(uint32_t key)
{
    uint32_t outcome = key >> 22 & 3, pc = key >> 24; /* layout: session_state_key */
    return pc == 0 &&
           (outcome == SESSION_OUTCOME_REJECTED || outcome == SESSION_OUTCOME_UNANSWERED);
}

int session_model_likelihoods(double *lik, double *ent, const session_model *m, int method,
                              const session_data *d, char *errbuf)
{
    const session_list *sl = &d->list;
    if (method == SESSION_METHOD_MARKOV) {
        if (!m->markov)
            return ss_errf(errbuf, SS_ERR_ARG, "session model has no Markov chain");
        for (size_t s = 0; s < sl->n_spans; s++) {
            const session_span *sp = &sl->spans[s];
            markov_score(m->markov, d->state + sp->first, sp->n, lik + sp->first);
            for (int t = 0; t < sp->n; t++) {
                size_t k = sp->first + (size_t)t;
                lik[k] = session_vocab_state_prob(&m->vocab, d->state[k], lik[k]);
            }
            for (int t = 0; ent && t < sp->n; t++)
                ent[sp->first + (size_t)t] =
                    markov_entropy(m->markov, t ? d->state[sp->first + (size_t)t - 1] : -1);
        }
        return SS_OK;
    }
    if (method != SESSION_METHOD_BILSTM && method != SESSION_METHOD_LSTM1)
        return ss_errf(errbuf, SS_ERR_ARG, "unknown scoring method %d", method);
    const session_net *net = m->net[method];
    if (!net)
        return ss_errf(errbuf, SS_ERR_ARG, "session model has no %s network",
                       session_method_to_string(method));
    int In = net->cfg.input_size;
    if (In != d->input_size)
        return ss_errf(errbuf, SS_ERR_SHAPE, "session data has %d inputs, the model %d",
                       d->input_size, In);
    int T = 1;
    for (size_t s = 0; s < sl->n_spans; s++)
        T = sl->spans[s].n > T ? sl->spans[s].n : T;
    int B = SCORE_BATCH;
    float *acts = malloc(session_net_acts_size(net, B, T) * sizeof(float));
    float *x = malloc((size_t)B * T * In * sizeof(float));
    int lengths[SCORE_BATCH];
    if (!acts || !x) {
        free(acts);
        free(x);
        return ss_errf(errbuf, SS_ERR_NOMEM, "scoring: out of memory");
    }
    int rc = SS_OK;
    for (size_t s0 = 0; s0 < sl->n_spans && !rc; s0 += (size_t)B) {
        int nb = (int)(sl->n_spans - s0 < (size_t)B ? sl->n_spans - s0 : (size_t)B);
        memset(x, 0, (size_t)nb * T * In * sizeof(float));
        for (int b = 0; b < nb; b++) {
            const session_span *sp = &sl->spans[s0 + (size_t)b];
            lengths[b] = sp->n;
            memcpy(x + (size_t)b * T * In, d->x + sp->first * (size_t)In,
                   (size_t)sp->n * In * sizeof(float));
        }
        if ((rc = session_net_forward(NULL, acts, x, lengths, NULL, NULL, net, nb, T, errbuf)))
            break;
        const float *ps, *pz;
        session_net_probs(&ps, &pz, acts, net, nb, T);
        for (int b = 0; b < nb; b++) {
            const session_span *sp = &sl->spans[s0 + (size_t)b];
            for (int t = 0; t < sp->n; t++) {
                size_t k = sp->first + (size_t)t, row = (size_t)b * T + t;
                const float *rs = ps + row * net->cfg.n_states, *rz = pz + row * net->cfg.n_sizes;
                double p_st = session_vocab_state_prob(&m->vocab, d->state[k], rs[d->state[k]]);
                double p_sz = rz[d->size[k]] * exp(-(double)d->tail[k]);
                /* no payload: both heads judge one event, the less likely one counts */
                lik[k] = session_key_size_implied(d->key[k]) ? fmin(p_st, p_sz)
                                                             : sqrt(p_st * p_sz);
                if (ent)
                    ent[k] = 0.5 * (row_entropy(rs, net->cfg.n_states) +
                                    row_entropy(rz, net->cfg.n_sizes));
            }
        }
    }
    free(acts);
    free(x);
    return rc;
}

int session_length_class(int n)
{
    return n <= 1 ? 0 : n <= 5 ? 1 : 2;
}

double session_model_threshold(const session_model *m, int method, uint8_t family,
                               const uint8_t *host, int n)
{
    const session_thresholds *t = &m->thr[method];
    int lc = session_length_class(n);
    size_t lo = 0, hi = t->n_hosts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = session_host_cmp(t->hosts[mid].family, t->hosts[mid].host, family, host);
        if (!c) { /* a host's own threshold can raise the global one, not lower it,
                     and raise it by host_factor at most */
            double h = t->hosts[mid].threshold[lc], g = t->global[lc];
            if (m->host_factor > 0.0 && h > m->host_factor * g)
                h = m->host_factor * g;
            return isnan(h) || h < g ? g : h;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return t->global[lc];
}

void session_model_results(session_result *res, const session_model *m, int method,
                           const session_data *d, const double *lik)
{
    int k = m->score_top < SESSION_SCORE_TOP_MAX ? m->score_top : SESSION_SCORE_TOP_MAX;
    for (size_t s = 0; s < d->list.n_spans; s++) {
        const session_span *sp = &d->list.spans[s];
        double sum = 0.0, least = 2.0, top[SESSION_SCORE_TOP_MAX]; /* descending */
        int li = 0, nt = 0;
        for (int t = 0; t < sp->n; t++) {
            double l = lik[sp->first + (size_t)t];
            double x = -log(l > SESSION_MIN_LIKELIHOOD ? l : SESSION_MIN_LIKELIHOOD);
            sum += x;
            if (l < least) {
                least = l;
                li = t;
            }
            if (k > 0 && (nt < k || x > top[k - 1])) { /* insert into the k largest */
                int j = nt < k ? nt++ : k - 1;
                for (; j > 0 && top[j - 1] < x; j--)
                    top[j] = top[j - 1];
                top[j] = x;
            }
        }
        res[s].score = sum / sqrt((double)sp->n);
        if (m->score_rule == SESSION_SCORE_MEAN_LIK) {
            double mean = 0.0;
            for (int t = 0; t < sp->n; t++)
                mean += lik[sp->first + (size_t)t];
            res[s].score = 1.0 - mean / (double)sp->n;
        } else if (k > 0 && sp->n > k) { /* the burst part: the k most surprising connections */
            double burst = 0.0;
            for (int j = 0; j < k; j++)
                burst += top[j];
            burst /= sqrt((double)k);
            if (burst > res[s].score)
                res[s].score = burst;
        }
        res[s].threshold = session_model_threshold(m, method, sp->family, sp->host, sp->n);
        res[s].flagged = res[s].score > res[s].threshold + SESSION_THRESHOLD_SLACK;
        res[s].least = li;
        res[s].least_lik = least;
    }
}

/* sessionscore.c - loading the session scorer and scoring one session
 * (sessionscore.h). */
#include "sessionscore.h"

#include <stdlib.h>
#include <string.h>

#include "connset.h"
#include "encoder.h"
#include "sessvocab.h"
#include "status.h"

int sessionscore_load(session_model **model, struct encoder **enc, const char *model_path,
                      const char *enc_path, char *errbuf)
{
    *model = NULL;
    *enc = NULL;
    session_model *m = NULL;
    encoder *e = NULL;
    int rc;
    if (model_path) {
        rc = session_model_load(&m, model_path, errbuf);
    } else {
        char sub[SS_ERRBUF_SIZE];
        rc = session_model_load_buffer(&m, session_default_model, session_default_model_len,
                                       sub);
        if (rc)
            ss_errf(errbuf, rc, "default model: %s", sub);
    }
    if (rc)
        return rc;
    if (enc_path && m->enc_dim == 0) {
        rc = ss_errf(errbuf, SS_ERR_ARG, "the model takes no encoder vectors: drop --encoder");
        goto fail;
    }
    if (m->enc_dim > 0) {
        if ((rc = encoder_open(&e, enc_path, errbuf)))
            goto fail;
        if (e->cfg.dim != m->enc_dim || (m->encoder_id && e->id != m->encoder_id)) {
            if (enc_path)
                rc = ss_errf(errbuf, SS_ERR_SHAPE,
                             "%s is not the encoder the model was trained with", enc_path);
            else
                rc = ss_errf(errbuf, SS_ERR_SHAPE,
                             "the model was trained with another encoder than the "
                             "compiled-in one: give it with --encoder");
            goto fail;
        }
    }
    *model = m;
    *enc = e;
    return SS_OK;
fail:
    encoder_destroy(e);
    session_model_destroy(m);
    return rc;
}

void sessionscore_conntab_config(conntab_config *tc, const struct encoder *enc)
{
    conntab_config_default(tc);
    tc->max_pkts = enc ? CONNSET_SCORE_MAX_PKTS : 0;
    tc->keep_us = enc ? enc->cfg.feat.window_us : 0;
}

int sessionscore_session(sessionscore_row *rows, const int *methods, size_t n_methods,
                         const session_model *m, const struct encoder *enc,
                         const sessionfeed_session *s, const sessionfeed_session *hist,
                         size_t n_hist, char *errbuf)
{
    sessionfeed_layout lay;
    int rc = sessionfeed_layout_make(&lay, s, hist, n_hist, errbuf);
    if (rc)
        return rc;
    float *vecs = m->enc_dim ? malloc(s->n * (size_t)m->enc_dim * sizeof(float)) : NULL;
    double *lik = malloc(2 * s->n * sizeof(double));
    session_data d;
    memset(&d, 0, sizeof(d));
    if (!lik || (m->enc_dim && !vecs)) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (enc && (rc = session_encoder_vectors(vecs, enc, s->recs, s->n, errbuf)))
        goto done;
    if ((rc = session_data_build_host(&d, &m->vocab, lay.recs, lay.outbound, lay.span_n,
                                      lay.n_spans, vecs, m->enc_dim, errbuf)))
        goto done;
    if (d.list.n_spans != 1) {
        rc = ss_errf(errbuf, SS_ERR_INTERNAL, "one session expected, %zu built",
                     d.list.n_spans);
        goto done;
    }
    const session_span *sp = &d.list.spans[0];
    for (size_t i = 0; i < n_methods; i++) {
        if ((rc = session_model_likelihoods(lik, lik + s->n, m, methods[i], &d, errbuf)))
            goto done;
        sessionscore_row *r = &rows[i];
        session_model_results(&r->res, m, methods[i], &d, lik);
        size_t k = sp->first + (size_t)r->res.least;
        r->family = sp->family;
        memcpy(r->host, sp->host, sizeof(r->host));
        r->start_us = sp->start_us;
        r->end_us = sp->end_us;
        r->n = sp->n;
        r->least = lay.recs[d.list.conn[k]];
        r->least_key = d.key[k];
        r->least_size = d.size[k];
    }
done:
    session_data_free(&d);
    sessionfeed_layout_free(&lay);
    free(vecs);
    free(lik);
    return rc;
}

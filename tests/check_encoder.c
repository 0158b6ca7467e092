/* check_encoder.c - tests for connfeat.c and encoder.c: window features on
 * hand-made records, a finite-difference gradient check through
 * features -> LSTM -> dense -> normalise, unit-length embeddings, and the
 * model round trip through modelfile (including refusal of bad files). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connfeat.h"
#include "encoder.h"
#include "modelfile.h"
#include "packet.h"
#include "rng.h"
#include "status.h"

#define T0 1700000000000000LL /* a window-aligned start time, us */

/* A record starting at start_us with n packets (dt, dir, len, flags). */
static conntab_record make_rec(conntab_pkt *pk, int n, int64_t start_us)
{
    conntab_record r;
    memset(&r, 0, sizeof(r));
    r.family = 4;
    r.proto = 6;
    r.start_us = start_us;
    r.end_us = start_us + (n ? pk[n - 1].dt_us : 0);
    r.n_pkts = (uint32_t)n;
    r.pkts = pk;
    for (int k = 0; k < n; k++) {
        if (pk[k].dir == CONNTAB_DIR_ORIG)
            r.orig_pkts++;
        else
            r.resp_pkts++;
    }
    return r;
}

START_TEST(test_bins)
{
    conntab_pkt pk[5] = {
        {.dt_us = 0, .dir = 0, .tcp_flags = PACKET_TCP_SYN},
        {.dt_us = 10000, .dir = 0, .payload_len = 100},
        {.dt_us = 20000, .dir = 0, .payload_len = 100},
        {.dt_us = 70000, .dir = 1, .payload_len = 30},
        {.dt_us = 9000000, .dir = 1, .payload_len = 5}, /* outside the window */
    };
    conntab_record r = make_rec(pk, 5, T0);
    connfeat_config cfg;
    connfeat_config_default(&cfg, CONNFEAT_KIND_BINS);
    ck_assert_int_eq(connfeat_config_check(&cfg, NULL), 0);
    float *x = calloc((size_t)cfg.steps * CONNFEAT_CHANNELS, sizeof(float));
    int nd = -1;
    int len = connfeat_window(x, &nd, &r, T0, &cfg);
    ck_assert_int_eq(len, cfg.steps);
    ck_assert_int_eq(nd, 3);
    /* bin 0 (62.5 ms): 2 packets / 200 bytes down, the SYN */
    ck_assert_float_eq_tol(x[0], log1pf(2.0f), 1e-6f);
    ck_assert_float_eq_tol(x[1], log1pf(200.0f), 1e-5f);
    ck_assert_float_eq_tol(x[2], 0.0f, 1e-6f);
    ck_assert_float_eq_tol(x[4], log1pf(1.0f), 1e-6f);
    ck_assert_float_eq(x[5], 1.0f);
    /* bin 1: 1 packet / 30 bytes up */
    const float *b1 = x + CONNFEAT_CHANNELS;
    ck_assert_float_eq_tol(b1[2], log1pf(1.0f), 1e-6f);
    ck_assert_float_eq_tol(b1[3], log1pf(30.0f), 1e-5f);
    ck_assert_float_eq(b1[0], 0.0f);
    /* connection ended at 9 s: the last bins of the window are alive, a
     * window before the start is all dead and empty */
    ck_assert_float_eq(x[(size_t)(cfg.steps - 1) * CONNFEAT_CHANNELS + 5], 1.0f);
    len = connfeat_window(x, &nd, &r, T0 - cfg.window_us, &cfg);
    ck_assert_int_eq(nd, 0);
    for (int t = 0; t < cfg.steps; t++)
        ck_assert_float_eq(x[(size_t)t * CONNFEAT_CHANNELS + 5], 0.0f);
    /* the second grid window holds the late packet */
    len = connfeat_window(x, &nd, &r, T0 + cfg.stride_us, &cfg);
    ck_assert_int_eq(nd, 1);
    free(x);
}
END_TEST

START_TEST(test_seq)
{
    conntab_pkt pk[5] = {
        {.dt_us = 0, .dir = 0, .tcp_flags = PACKET_TCP_SYN},
        {.dt_us = 100, .dir = 1, .tcp_flags = PACKET_TCP_ACK}, /* pure ACK: skipped */
        {.dt_us = 2000, .dir = 0, .payload_len = 36},
        {.dt_us = 3000, .dir = 0, .payload_len = 36, .retrans = 1}, /* skipped */
        {.dt_us = 4000000, .dir = 1, .payload_len = 1000},
    };
    conntab_record r = make_rec(pk, 5, T0);
    connfeat_config cfg;
    connfeat_config_default(&cfg, CONNFEAT_KIND_SEQ);
    float *x = calloc((size_t)cfg.steps * CONNFEAT_CHANNELS, sizeof(float));
    int nd;
    int len = connfeat_window(x, &nd, &r, T0, &cfg);
    ck_assert_int_eq(len, 3);
    ck_assert_int_eq(nd, 2);
    ck_assert_float_eq(x[0], 1.0f);  /* SYN: down */
    ck_assert_float_eq(x[4], 1.0f);  /* control */
    const float *s1 = x + CONNFEAT_CHANNELS, *s2 = x + 2 * CONNFEAT_CHANNELS;
    ck_assert_float_eq_tol(s1[1], log1pf(36.0f), 1e-5f);
    ck_assert_float_eq_tol(s1[2], log1pf(2.0f), 1e-5f); /* 2 ms after the SYN */
    ck_assert_float_eq(s2[0], -1.0f);
    ck_assert_float_eq_tol(s2[3], 0.5f, 1e-6f);          /* 4 s into 8 s */
    /* an empty window is one "nothing here" step */
    len = connfeat_window(x, &nd, &r, T0 + 100 * cfg.window_us, &cfg);
    ck_assert_int_eq(len, 1);
    ck_assert_int_eq(nd, 0);
    ck_assert_float_eq(x[5], 1.0f);
    /* a truncated record does not know windows past its last stored packet */
    r.orig_pkts += 100;
    ck_assert_int_eq(connfeat_window_known(&r, T0, &cfg), 0);
    ck_assert_int_eq(connfeat_window_known(&r, T0 - cfg.window_us, &cfg), 1);
    r.orig_pkts -= 100;
    ck_assert_int_eq(connfeat_window_known(&r, T0 + 50 * cfg.window_us, &cfg), 1);
    ck_assert_int_eq(connfeat_first_window(&cfg, T0 + cfg.stride_us + 5),
                     T0 / cfg.stride_us + 1);
    free(x);
}
END_TEST

/* A small encoder over real-looking inputs. */
static encoder *small_encoder(int kind, int bidir)
{
    char err[SS_ERRBUF_SIZE];
    encoder_config cfg;
    encoder_config_default(&cfg, kind);
    cfg.feat.steps = 8;
    cfg.feat.window_us = 800000;
    cfg.feat.stride_us = 400000;
    cfg.hidden = 5;
    cfg.dim = 4;
    cfg.bidirectional = bidir;
    encoder *enc = NULL;
    ck_assert_msg(encoder_create(&enc, &cfg, 7, err) == 0, "%s", err);
    return enc;
}

/* Fills inp (B,T,C) with the standardised windows of a random record. */
static void fill_input(float *inp, int *lengths, const encoder *enc, int B, uint64_t seed)
{
    rng_t r;
    rng_seed(&r, seed);
    conntab_pkt pk[40];
    int64_t t = 0;
    for (int k = 0; k < 40; k++) {
        t += 1000 + (int64_t)rng_below(&r, 60000);
        pk[k] = (conntab_pkt){.dt_us = t, .dir = (uint8_t)rng_below(&r, 2),
                              .payload_len = (uint32_t)rng_below(&r, 1500)};
    }
    conntab_record rec = make_rec(pk, 40, T0);
    const int T = enc->cfg.feat.steps;
    for (int b = 0; b < B; b++)
        lengths[b] = encoder_window_input(inp + (size_t)b * T * CONNFEAT_CHANNELS, NULL, enc,
                                          &rec, T0 + b * 200000);
}

/* loss = sum(w * emb) */
static double probe_loss(encoder *enc, const float *inp, const int *lengths, const float *w,
                         float *emb, float *acts, int B)
{
    char err[SS_ERRBUF_SIZE];
    ck_assert_msg(encoder_forward(emb, acts, inp, lengths, enc, B, err) == 0, "%s", err);
    double s = 0;
    for (int k = 0; k < B * enc->cfg.dim; k++)
        s += (double)w[k] * emb[k];
    return s;
}

static void gradcheck(int kind, int bidir)
{
    char err[SS_ERRBUF_SIZE];
    encoder *enc = small_encoder(kind, bidir);
    const int B = 3, T = enc->cfg.feat.steps, C = CONNFEAT_CHANNELS, E = enc->cfg.dim;
    float *inp = calloc((size_t)B * T * C, sizeof(float));
    float *dinp = calloc((size_t)B * T * C, sizeof(float));
    int lengths[3];
    float *emb = calloc((size_t)B * E, sizeof(float));
    float *w = calloc((size_t)B * E, sizeof(float));
    float *acts = calloc(encoder_acts_size(enc, B), sizeof(float));
    float *ws = calloc(encoder_workspace_size(enc, B), sizeof(float));
    fill_input(inp, lengths, enc, B, 11);
    rng_t r;
    rng_seed(&r, 5);
    rng_fill_normal(&r, w, (size_t)B * E, 1.0f);

    probe_loss(enc, inp, lengths, w, emb, acts, B);
    for (int b = 0; b < B; b++) { /* unit length */
        double n2 = 0;
        for (int e = 0; e < E; e++)
            n2 += (double)emb[b * E + e] * emb[b * E + e];
        ck_assert_double_eq_tol(n2, 1.0, 1e-5);
    }
    params_zero_grad(enc->params);
    ck_assert_msg(encoder_backward(dinp, w, acts, ws, inp, lengths, enc, B, err) == 0, "%s",
                  err);

    const float h = 1e-2f;
    double worst = 0;
    /* every parameter */
    for (size_t k = 0; k < enc->params->total; k++) {
        float keep = enc->params->data[k];
        enc->params->data[k] = keep + h;
        double lp = probe_loss(enc, inp, lengths, w, emb, acts, B);
        enc->params->data[k] = keep - h;
        double lm = probe_loss(enc, inp, lengths, w, emb, acts, B);
        enc->params->data[k] = keep;
        double num = (lp - lm) / (2 * h), ana = enc->params->grad[k];
        double d = fabs(num - ana) / fmax(1e-2, fabs(num) + fabs(ana));
        if (d > worst)
            worst = d;
    }
    /* every input feature read by the model */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lengths[b]; t++)
            for (int c = 0; c < C; c++) {
                size_t k = ((size_t)b * T + t) * C + c;
                float keep = inp[k];
                inp[k] = keep + h;
                double lp = probe_loss(enc, inp, lengths, w, emb, acts, B);
                inp[k] = keep - h;
                double lm = probe_loss(enc, inp, lengths, w, emb, acts, B);
                inp[k] = keep;
                double num = (lp - lm) / (2 * h), ana = dinp[k];
                double d = fabs(num - ana) / fmax(1e-2, fabs(num) + fabs(ana));
                if (d > worst)
                    worst = d;
            }
    ck_assert_msg(worst < 2e-2, "largest relative gradient error %g (kind %d)", worst, kind);
    free(inp);
    free(dinp);
    free(emb);
    free(w);
    free(acts);
    free(ws);
    encoder_destroy(enc);
}

START_TEST(test_gradcheck_bins)
{
    gradcheck(CONNFEAT_KIND_BINS, 1);
}
END_TEST

START_TEST(test_gradcheck_seq)
{
    gradcheck(CONNFEAT_KIND_SEQ, 0);
}
END_TEST

START_TEST(test_roundtrip)
{
    char err[SS_ERRBUF_SIZE];
    encoder *enc = small_encoder(CONNFEAT_KIND_BINS, 1);
    enc->threshold = 0.8125;
    for (int c = 0; c < CONNFEAT_CHANNELS; c++) {
        enc->mean[c] = 0.25f * (float)c;
        enc->std[c] = 1.0f + (float)c;
    }
    char path[] = "/tmp/check_encoder.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_msg(encoder_save(enc, path, err) == 0, "%s", err);
    ck_assert_uint_ne(enc->id, 0);
    encoder *back = NULL;
    ck_assert_msg(encoder_load(&back, path, err) == 0, "%s", err);
    ck_assert_uint_eq(back->id, enc->id);
    ck_assert_double_eq(back->threshold, 0.8125);
    ck_assert_int_eq(back->cfg.feat.kind, CONNFEAT_KIND_BINS);
    ck_assert_int_eq(back->cfg.hidden, 5);
    ck_assert_int_eq(memcmp(back->mean, enc->mean, sizeof(enc->mean)), 0);
    ck_assert_int_eq(memcmp(back->std, enc->std, sizeof(enc->std)), 0);
    ck_assert_uint_eq(back->params->total, enc->params->total);
    ck_assert_int_eq(memcmp(back->params->data, enc->params->data,
                            enc->params->total * sizeof(float)), 0);

    /* same embeddings from both */
    const int B = 2, T = enc->cfg.feat.steps;
    float inp[2 * 8 * CONNFEAT_CHANNELS];
    int lengths[2];
    fill_input(inp, lengths, enc, B, 3);
    float e1[8], e2[8];
    float *acts = calloc(encoder_acts_size(enc, B), sizeof(float));
    ck_assert_int_eq(T, 8);
    ck_assert_int_eq(encoder_forward(e1, acts, inp, lengths, enc, B, err), 0);
    ck_assert_int_eq(encoder_forward(e2, acts, inp, lengths, back, B, err), 0);
    ck_assert_int_eq(memcmp(e1, e2, sizeof(e1)), 0);
    free(acts);

    /* a session model is refused as a correlator */
    modelfile_t *mf = NULL;
    ck_assert_int_eq(modelfile_load(&mf, path, err), 0);
    ck_assert_int_eq(modelfile_set_int(mf, "dim", 5, err), 0);
    ck_assert_int_eq(modelfile_save(mf, mf->params, path, err), 0);
    encoder *bad = NULL;
    ck_assert_int_lt(encoder_load(&bad, path, err), 0);
    ck_assert_ptr_null(bad);
    ck_assert_msg(strstr(err, "head.weight") != NULL, "message: %s", err);
    memcpy(mf->kind, "session", 8);
    ck_assert_int_eq(modelfile_save(mf, mf->params, path, err), 0);
    ck_assert_int_lt(encoder_load(&bad, path, err), 0);
    ck_assert_msg(strstr(err, "session") != NULL, "message: %s", err);
    modelfile_destroy(mf);

    /* not a model at all, and a missing file */
    FILE *f = fopen(path, "w");
    fputs("hello\n", f);
    fclose(f);
    ck_assert_int_lt(encoder_load(&bad, path, err), 0);
    ck_assert_msg(strstr(err, path) != NULL, "message: %s", err);
    unlink(path);
    ck_assert_int_eq(encoder_load(&bad, path, err), SS_ERR_IO);
    encoder_destroy(back);
    encoder_destroy(enc);
    encoder_destroy(NULL);
}
END_TEST

Suite *encoder_suite(void)
{
    Suite *s = suite_create("encoder");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bins);
    tcase_add_test(tc, test_seq);
    tcase_add_test(tc, test_gradcheck_bins);
    tcase_add_test(tc, test_gradcheck_seq);
    tcase_add_test(tc, test_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}

/* cmd_score.c - `stepstone score`: scores every host session of captures
 * with the session anomaly model (encoders/sessmodel.h, sessscore.h). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cliutil.h"
#include "conntab.h"
#include "encoder.h"
#include "session.h"
#include "sessionfeed.h"
#include "sessionscore.h"
#include "sessmodel.h"
#include "sessvocab.h"
#include "status.h"
#include "threads.h"

int cmd_score(int argc, char **argv);

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone score [OPTIONS] FILE...\n"
            "\n"
            "Reads captures (pcap/pcapng, merged into one timeline), splits each host's\n"
            "connections into sessions and scores every session (docs/sessions.md):\n"
            "score = the surprisal (nats) of its connections' states and size classes\n"
            "(and of how far past their service's usual bytes and duration they lie),\n"
            "summed, / sqrt(connections), or that of its k most surprising connections\n"
            "when higher (k: the model's, 5 by default; a model trained with\n"
            "--score-rule mean-likelihood: 1 - the mean likelihood). A session is\n"
            "flagged when its score is above\n"
            "the threshold of its length class (1, 2-5, 6+ connections) for its host\n"
            "(or the global one). One line per session, printed as soon as the session\n"
            "is complete (all its connections ended; a host's sessions in start order),\n"
            "as tab-separated values after a '#fields' line:\n"
            "  host start end conns score threshold flagged least_uid least_state\n"
            "  least_bytes least_likelihood\n"
            "(least_*: the connection the model expected least) or as JSON lines.\n"
            "\n"
            "Options:\n"
            "  --model FILE           session model (default: the compiled-in one)\n"
            "  --method M             bilstm (default), lstm1 (one-layer LSTM predicting\n"
            "                         the next connection) or markov (first-order chain)\n"
            "  --encoder MODEL        the connection encoder the model was trained with\n"
            "                         (default: the compiled-in one)\n"
            "  --gap S                override the model's session gap (seconds)\n"
            "  --max-conns N          override the model's session length cut\n"
            "  --max-open N           most connections open at once (default %d; 0: no\n"
            "                         bound); past it the oldest TCP attempt (no payload,\n"
            "                         no reply), else the next to time out, ends early\n"
            "  --flagged              print flagged sessions only\n"
            "  --json                 JSON lines\n"
            "  --threads N            OpenBLAS threads (1-1024, default auto: all cores)\n"
            "  -o, --output FILE      write to FILE (atomically) instead of stdout\n"
            "  -h, --help             this help\n"
            "\n"
            "Exit status: 0 ok, 1 failure (unreadable capture or model), 2 usage.\n",
            CONNTAB_DEFAULT_MAX_OPEN);
}

static void print_session(FILE *f, int json, const sessionscore_row *r)
{
    char host[64], state[48];
    session_host_string(r->family, r->host, host, sizeof(host));
    const conntab_record *lr = r->least;
    session_state_key_string(r->least_key, state, sizeof(state));
    unsigned long long bytes = (unsigned long long)(lr->orig_bytes + lr->resp_bytes);
    if (json)
        fprintf(f, "{\"host\":\"%s\",\"start\":%.6f,\"end\":%.6f,\"connections\":%d,"
                "\"score\":%.6f,\"threshold\":%.6f,\"flagged\":%s,\"least_expected\":"
                "{\"uid\":\"%s\",\"state\":\"%s\",\"size_class\":%d,\"bytes\":%llu,"
                "\"likelihood\":%.6f}}\n",
                host, r->start_us / 1e6, r->end_us / 1e6, r->n, r->res.score, r->res.threshold,
                r->res.flagged ? "true" : "false", lr->uid, state, r->least_size, bytes,
                r->res.least_lik);
    else
        fprintf(f, "%s\t%.6f\t%.6f\t%d\t%.6f\t%.6f\t%d\t%s\t%s\t%llu\t%.6f\n", host,
                r->start_us / 1e6, r->end_us / 1e6, r->n, r->res.score, r->res.threshold,
                r->res.flagged, lr->uid, state, bytes, r->res.least_lik);
}

/* What score_session needs, and its counts. */
typedef struct score_ctx {
    const session_model *m;
    const encoder *enc;
    int method, json, only_flagged;
    FILE *f;
    size_t sessions, flagged;
} score_ctx;

/* Scores one complete session as the feed hands it on, and prints it. */
static int score_session(void *ctx, const sessionfeed_session *s, const sessionfeed_session *hist,
                         size_t n_hist, char *errbuf)
{
    score_ctx *sx = ctx;
    sessionscore_row row;
    int rc = sessionscore_session(&row, &sx->method, 1, sx->m, sx->enc, s, hist, n_hist, errbuf);
    if (rc)
        return rc;
    sx->sessions++;
    sx->flagged += row.res.flagged != 0;
    if (!sx->only_flagged || row.res.flagged)
        print_session(sx->f, sx->json, &row);
    return SS_OK;
}

int cmd_score(int argc, char **argv)
{
    enum { O_MODEL = 256, O_METHOD, O_ENC, O_GAP, O_MAXC, O_FLAGGED, O_JSON, O_THREADS,
           O_MAXOPEN };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"method", required_argument, NULL, O_METHOD},
        {"encoder", required_argument, NULL, O_ENC},
        {"gap", required_argument, NULL, O_GAP},
        {"max-conns", required_argument, NULL, O_MAXC},
        {"max-open", required_argument, NULL, O_MAXOPEN},
        {"flagged", no_argument, NULL, O_FLAGGED},
        {"json", no_argument, NULL, O_JSON},
        {"threads", required_argument, NULL, O_THREADS},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    const char *model_path = NULL, *enc_path = NULL, *out_path = NULL;
    int meth = SESSION_METHOD_BILSTM, json = 0, only_flagged = 0, threads = 0;
    int64_t gap_us = 0;
    int maxc = 0;
    uint64_t max_open = CONNTAB_DEFAULT_MAX_OPEN;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_MODEL: model_path = optarg; break;
        case O_METHOD:
            meth = session_method_from_string(optarg);
            if (meth < 0) {
                fprintf(stderr, "stepstone score: --method needs bilstm, lstm1 or markov, "
                        "got '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case O_ENC: enc_path = optarg; break;
        case O_GAP:
            if (cliutil_parse_seconds("score", "--gap", optarg, 0, 1e6, &gap_us) < 0)
                return CLI_EXIT_USAGE;
            break;
        case O_MAXC:
            if (cliutil_parse_int("score", "--max-conns", optarg, 1, 4096, &maxc) < 0)
                return CLI_EXIT_USAGE;
            break;
        case O_MAXOPEN:
            if (cliutil_parse_u64("score", "--max-open", optarg, UINT32_MAX, &max_open) < 0)
                return CLI_EXIT_USAGE;
            break;
        case O_FLAGGED: only_flagged = 1; break;
        case O_JSON: json = 1; break;
        case O_THREADS:
            if (cliutil_parse_threads("score", optarg, &threads) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'o': out_path = optarg; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default:
            return cliutil_bad_option("score", "score", ch, argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "stepstone score: no capture given\n");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    char err[SS_ERRBUF_SIZE];
    if (threads_apply(threads, err) < 0) {
        fprintf(stderr, "stepstone score: %s\n", err);
        return CLI_EXIT_USAGE;
    }
    int status = CLI_EXIT_FAILURE;
    session_model *m = NULL;
    encoder *enc = NULL;
    sessionfeed *feed = NULL;
    cliutil_out out;
    memset(&out, 0, sizeof(out));
    if (sessionscore_load(&m, &enc, model_path, enc_path, err)) {
        fprintf(stderr, "stepstone score: %s\n", err);
        goto done;
    }
    session_config sc = m->sess;
    if (gap_us > 0)
        sc.gap_us = gap_us;
    if (maxc > 0)
        sc.max_conns = maxc;
    if (cliutil_out_open(&out, "score", out_path) < 0)
        goto done;
    FILE *f = out.f;
    if (!json)
        fprintf(f, "#fields\thost\tstart\tend\tconns\tscore\tthreshold\tflagged\tleast_uid\t"
                "least_state\tleast_bytes\tleast_likelihood\n");
    score_ctx sx = {m, enc, meth, json, only_flagged, f, 0, 0};
    conntab_config tc;
    sessionscore_conntab_config(&tc, enc);
    conntab_stats ts;
    memset(&ts, 0, sizeof(ts));
    tc.max_open = max_open;
    tc.stats_out = &ts;
    if (sessionfeed_create(&feed, &sc, score_session, &sx, err) ||
        sessionfeed_read_files(feed, (const char *const *)(argv + optind),
                               (size_t)(argc - optind), &tc, cliutil_warn, "score", err)) {
        fprintf(stderr, "stepstone score: %s\n", err);
        goto done;
    }
    sessionfeed_stats fst;
    sessionfeed_get_stats(feed, &fst);
    if (cliutil_out_close(&out, 1) < 0)
        goto done;
    fprintf(stderr, "stepstone score: %llu connections, %zu sessions, %zu flagged (%s), "
            "%llu connections evicted\n", (unsigned long long)fst.conns, sx.sessions, sx.flagged,
            session_method_to_string(meth), (unsigned long long)ts.evicted);
    status = CLI_EXIT_OK;
done:
    cliutil_out_close(&out, 0);
    sessionfeed_destroy(feed);
    encoder_destroy(enc);
    session_model_destroy(m);
    return status;
}

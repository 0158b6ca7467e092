/* cmd_embed.c - `stepstone embed`: every connection's window embeddings, to
 * a msgpack file (docs/formats.md, "Embeddings") or JSON lines.
 *
 * Streams: packets go through pcapsrc -> conntab, and each TCP connection is
 * handled when conntab emits it: its windows' model inputs are computed at
 * once (encoder_window_input) into a batch of EMBED_BATCH windows, which is
 * embedded (encoder_forward) and written out (encoders/embedlog.h) whenever
 * it fills. Nothing of a connection is kept after its emit callback but those
 * inputs and its metadata, so memory is the table's open connections plus
 * one batch, whatever the capture's size. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "embedlog.h"
#include "connset.h"
#include "conntab.h"
#include "encoder.h"
#include "pcapsrc.h"
#include "status.h"
#include "threads.h"

int cmd_embed(int argc, char **argv);

#define EMBED_BATCH 64 /* windows per encoder_forward call: the LSTM's fused kernel covers
                           it and the activations stay ~17 MB (256 took ~67 MB and ran
                           no faster in the correlator) */

static void embed_usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone embed -o OUT [OPTIONS] FILE...\n"
            "\n"
            "Reads pcap/pcapng files (merged into one timeline) and writes, for every TCP\n"
            "connection, the correlator's embedding of each grid window it spans (window\n"
            "length and stride come from the model), with the connection's 5-tuple and\n"
            "times, the window bounds, and the model's identity (checksum) and dimension.\n"
            "Connections are written as they end (the connection table's emission\n"
            "order), so memory follows the open connections, not the capture's size.\n"
            "The msgpack schema is in docs/formats.md (\"Embeddings\"); the output is\n"
            "written to a temporary file and renamed into place.\n"
            "\n"
            "Options:\n"
            "  -o, --output FILE       file to write (required)\n"
            "  --format msgpack|jsonl  msgpack (default) or JSON lines (one per window,\n"
            "                          after a first \"model\" line)\n"
            "  --model FILE            correlator model (default: the one compiled in)\n"
            "  --max-windows N         windows per connection, from its start (default 64)\n"
            "  --threads N             OpenBLAS threads (1-1024, default auto: all cores)\n"
            "  --max-open N            most connections open at once (default %d; 0: no\n"
            "                          bound); past it the oldest TCP attempt (no payload,\n"
            "                          no reply), else the next to time out, ends early\n"
            "  -h, --help              this help\n"
            "\n"
            "Exit status: 0 ok, 1 input/output error or bad model file, 2 bad usage.\n",
            CONNTAB_DEFAULT_MAX_OPEN);
}

/* The run: options, the output and the pending batch. */
typedef struct embed_run {
    const encoder *enc;
    int max_windows;
    uint64_t max_open;               /* conntab_config.max_open */
    embedlog *log;
    /* the batch: n_batch windows of at most EMBED_BATCH */
    int n_batch;
    float *inp;                      /* (EMBED_BATCH, T, C) standardised inputs */
    int *lengths, *n_data;           /* (EMBED_BATCH) */
    float *emb;                      /* (EMBED_BATCH, E) */
    float *acts;                     /* encoder_acts_size(enc, EMBED_BATCH) */
    conntab_record *hdr;             /* (EMBED_BATCH) each window's connection, pkts NULL */
    uint32_t *conn;                  /* (EMBED_BATCH) its index in the output */
    int64_t *w0;                     /* (EMBED_BATCH) window start, us */
} embed_run;

/* Allocates the batch buffers. Returns 0 or SS_ERR_NOMEM. */
static int run_alloc(embed_run *r, char *errbuf)
{
    const size_t B = EMBED_BATCH, T = (size_t)r->enc->cfg.feat.steps;
    r->inp = malloc(sizeof(float) * B * T * CONNFEAT_CHANNELS);
    r->lengths = malloc(sizeof(int) * B);
    r->n_data = malloc(sizeof(int) * B);
    r->emb = malloc(sizeof(float) * B * (size_t)r->enc->cfg.dim);
    r->acts = malloc(sizeof(float) * encoder_acts_size(r->enc, EMBED_BATCH));
    r->hdr = malloc(sizeof(conntab_record) * B);
    r->conn = malloc(sizeof(uint32_t) * B);
    r->w0 = malloc(sizeof(int64_t) * B);
    if (!r->inp || !r->lengths || !r->n_data || !r->emb || !r->acts || !r->hdr || !r->conn ||
        !r->w0)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for a batch of %d windows",
                       EMBED_BATCH);
    return SS_OK;
}

/* Frees the batch buffers (NULL ones too). */
static void run_free(embed_run *r)
{
    free(r->inp);
    free(r->lengths);
    free(r->n_data);
    free(r->emb);
    free(r->acts);
    free(r->hdr);
    free(r->conn);
    free(r->w0);
}

/* Embeds the batch's windows, writes them and empties the batch. */
static int run_flush(embed_run *r, char *errbuf)
{
    if (r->n_batch == 0)
        return SS_OK;
    int rc = encoder_forward(r->emb, r->acts, r->inp, r->lengths, r->enc, r->n_batch, errbuf);
    if (rc == SS_OK)
        rc = embedlog_add_windows(r->log, r->hdr, r->conn, r->w0, r->n_data, r->emb, r->n_batch,
                                  errbuf);
    r->n_batch = 0;
    return rc;
}

/* conntab emit callback: adds a TCP connection's windows (from the one
 * holding its start to the one holding its end, at most max_windows, while
 * its stored packets cover them) to the batch, embedding each full batch. */
static int embed_emit(void *ctx, const conntab_record *c, char *errbuf)
{
    embed_run *r = ctx;
    if (c->proto != 6)
        return SS_OK;
    const connfeat_config *fc = &r->enc->cfg.feat;
    int64_t g0 = connfeat_first_window(fc, c->start_us);
    int64_t g1 = connfeat_first_window(fc, c->end_us);
    size_t nwin = 0;
    for (int64_t g = g0; g <= g1 && g - g0 < r->max_windows; g++) {
        if (!connfeat_window_known(c, connfeat_window_start(fc, g), fc))
            break;
        nwin++;
    }
    uint32_t conn;
    int rc = embedlog_add_conn(r->log, c, nwin, &conn, errbuf);
    if (rc < 0)
        return rc;
    const size_t TC = (size_t)fc->steps * CONNFEAT_CHANNELS;
    for (size_t k = 0; k < nwin; k++) {
        int b = r->n_batch;
        r->w0[b] = connfeat_window_start(fc, g0 + (int64_t)k);
        r->lengths[b] = encoder_window_input(r->inp + (size_t)b * TC, &r->n_data[b], r->enc, c,
                                             r->w0[b]);
        r->hdr[b] = *c;
        r->hdr[b].pkts = NULL;
        r->conn[b] = conn;
        if (++r->n_batch == EMBED_BATCH && (rc = run_flush(r, errbuf)) < 0)
            return rc;
    }
    return SS_OK;
}

/* Reads the captures through the connection table into r. */
static int run_stream(embed_run *r, pcapsrc *src, conntab_stats *st, char *errbuf)
{
    conntab_config tc;
    conntab_config_default(&tc);
    tc.max_pkts = CONNSET_SCORE_MAX_PKTS; /* as connset_load: first packets per record */
    tc.max_open = r->max_open;
    conntab *tab = NULL;
    int rc = conntab_create(&tab, &tc, embed_emit, r, errbuf);
    if (rc < 0)
        return rc;
    if ((rc = conntab_read(tab, src, errbuf)) < 0)
        goto done;
    rc = run_flush(r, errbuf);
done:
    conntab_get_stats(tab, st);
    conntab_destroy(tab);
    return rc;
}

/* `stepstone embed`: streams the captures' TCP connections into window
 * embeddings (msgpack or JSON lines); returns a cli_exit status. */
int cmd_embed(int argc, char **argv)
{
    enum { O_MODEL = 256, O_FORMAT, O_MAXW, O_THREADS, O_MAXOPEN };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"format", required_argument, NULL, O_FORMAT},
        {"max-windows", required_argument, NULL, O_MAXW},
        {"threads", required_argument, NULL, O_THREADS},
        {"max-open", required_argument, NULL, O_MAXOPEN},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    const char *model = NULL, *outpath = NULL;
    int jsonl = 0, threads = 0;
    int maxw = 64;
    uint64_t max_open = CONNTAB_DEFAULT_MAX_OPEN;
    char err[SS_ERRBUF_SIZE];

    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_MODEL: model = optarg; break;
        case O_FORMAT:
            if (!strcmp(optarg, "jsonl"))
                jsonl = 1;
            else if (!strcmp(optarg, "msgpack"))
                jsonl = 0;
            else {
                fprintf(stderr, "stepstone embed: --format is msgpack or jsonl, got '%s'\n",
                        optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case O_MAXW:
            if (cliutil_parse_int("embed", "--max-windows", optarg, 1, 1000000, &maxw) < 0)
                return CLI_EXIT_USAGE;
            break;
        case O_THREADS:
            if (cliutil_parse_threads("embed", optarg, &threads) < 0)
                return CLI_EXIT_USAGE;
            break;
        case O_MAXOPEN:
            if (cliutil_parse_u64("embed", "--max-open", optarg, UINT32_MAX, &max_open) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'o': outpath = optarg; break;
        case 'h': embed_usage(stdout); return CLI_EXIT_OK;
        default:
            return cliutil_bad_option("embed", "embed", ch, argv[optind - 1]);
        }
    }
    if (!outpath) {
        fprintf(stderr, "stepstone embed: -o OUT is required; see 'stepstone embed --help'\n");
        return CLI_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "stepstone embed: no capture file given; see 'stepstone embed --help'\n");
        return CLI_EXIT_USAGE;
    }
    if (threads_apply(threads, err) < 0) {
        fprintf(stderr, "stepstone embed: %s\n", err);
        return CLI_EXIT_USAGE;
    }

    int status = CLI_EXIT_FAILURE;
    encoder *enc = NULL;
    pcapsrc *src = NULL;
    cliutil_out out;
    memset(&out, 0, sizeof(out));
    embed_run r;
    memset(&r, 0, sizeof(r));
    r.max_windows = maxw;
    r.max_open = max_open;

    /* model and captures first: a bad one fails before the output is touched */
    if (encoder_open(&enc, model, err) < 0 ||
        pcapsrc_open(&src, (const char *const *)(argv + optind), (size_t)(argc - optind),
                     cliutil_warn, "embed", err) < 0) {
        fprintf(stderr, "stepstone embed: %s\n", err);
        goto done;
    }
    r.enc = enc;
    if (cliutil_out_open(&out, "embed", outpath) < 0)
        goto done;
    conntab_stats st;
    memset(&st, 0, sizeof(st));
    if (embedlog_create(&r.log, out.f, outpath,
                        jsonl ? EMBEDLOG_FORMAT_JSONL : EMBEDLOG_FORMAT_MSGPACK, enc, err) < 0 ||
        run_alloc(&r, err) < 0 || run_stream(&r, src, &st, err) < 0 ||
        embedlog_finish(r.log, err) < 0) {
        fprintf(stderr, "stepstone embed: %s\n", err);
        goto done;
    }
    if (cliutil_out_close(&out, 1) < 0)
        goto done;
    embedlog_stats es;
    embedlog_get_stats(r.log, &es);
    fprintf(stderr,
            "stepstone embed: %zu connections, %zu windows of %d floats, model %s "
            "(at most %llu connections open at once, %llu evicted)\n",
            es.conns, es.windows, enc->cfg.dim, embedlog_model_id(r.log),
            (unsigned long long)st.peak_live, (unsigned long long)st.evicted);
    status = CLI_EXIT_OK;
done:
    cliutil_out_close(&out, 0);
    embedlog_destroy(r.log);
    run_free(&r);
    pcapsrc_close(src);
    encoder_destroy(enc);
    return status;
}

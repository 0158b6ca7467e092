/* cmd_embed.c - `stepstone embed`: every connection's window embeddings, to
 * a msgpack file (docs/formats.md, "Embeddings") or JSON lines.
 *
 * Streams: packets go through pcapsrc -> conntab, and each TCP connection is
 * handled when conntab emits it: its windows' model inputs are computed at
 * once (encoder_window_input) into a batch of EMBED_BATCH windows, which is
 * embedded (encoder_forward) and written out whenever it fills. Nothing of a
 * connection is kept after its emit callback but those inputs and its
 * metadata, so memory is the table's open connections plus one batch,
 * whatever the capture's size. The msgpack map needs its counts before its
 * arrays: its three growing parts (connection maps, window entries, vectors)
 * go to unlinked temporary files beside the output and are copied behind the
 * header at the end. */
#include <errno.h>
#include <getopt.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cliutil.h"
#include "connset.h"
#include "conntab.h"
#include "encoder.h"
#include "pcapsrc.h"
#include "status.h"
#include "threads.h"

int cmd_embed(int argc, char **argv);

#define EMBED_FORMAT_NAME "stepstone-embeddings"
#define EMBED_VERSION 2
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
            "  --threads N             OpenBLAS threads (default: all cores)\n"
            "  -h, --help              this help\n"
            "\n"
            "Exit status: 0 ok, 1 input/output error or bad model file, 2 bad usage.\n");
}

/* pcapsrc warning callback: one line on stderr. */
static void warn_cb(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "stepstone embed: warning: %s\n", msg);
}

/* Packs a C string as a msgpack str; nonzero on a write error. */
static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

/* msgpack write callback onto a FILE. */
static int file_write(void *data, const char *buf, size_t len)
{
    return fwrite(buf, 1, len, (FILE *)data) == len ? 0 : -1;
}

/* 1 on a little-endian host (the vectors are stored little-endian). */
static int host_is_le(void)
{
    const uint16_t x = 1;
    return *(const uint8_t *)&x == 1;
}

/* The run: options, output streams, totals and the pending batch. */
typedef struct embed_run {
    const encoder *enc;
    long max_windows;
    int jsonl;
    const char *outpath;
    char idhex[17];
    FILE *out;                       /* the final temporary file (jsonl: written as we go) */
    FILE *conns, *wins, *vecs;       /* msgpack parts (unlinked temporary files) */
    msgpack_packer pk_conns, pk_wins;
    size_t n_conns, n_wins;          /* totals written so far */
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

/* Reports a failed write to the output or a part of it. */
static int write_fail(const embed_run *r, char *errbuf)
{
    return ss_errf(errbuf, SS_ERR_IO, "cannot write %s: %s", r->outpath,
                   errno ? strerror(errno) : "write error");
}

/* Writes the batch's windows as JSON lines. */
static int flush_jsonl(embed_run *r, char *errbuf)
{
    const int E = r->enc->cfg.dim;
    const double W = (double)r->enc->cfg.feat.window_us / 1e6;
    char a[64], b[64];
    for (int k = 0; k < r->n_batch; k++) {
        const conntab_record *c = &r->hdr[k];
        cliutil_format_addr(a, sizeof(a), c->family, c->orig_h);
        cliutil_format_addr(b, sizeof(b), c->family, c->resp_h);
        fprintf(r->out, "{\"type\":\"window\",\"conn\":%u,\"uid\":\"%s\",\"orig_h\":\"%s\","
                        "\"orig_p\":%u,\"resp_h\":\"%s\",\"resp_p\":%u,\"proto\":%u,"
                        "\"start\":%.6f,\"end\":%.6f,\"window_start\":%.6f,\"window_end\":%.6f,"
                        "\"n_data\":%d,\"vector\":[",
                r->conn[k], c->uid, a, c->orig_p, b, c->resp_p, c->proto,
                (double)c->start_us / 1e6, (double)c->end_us / 1e6, (double)r->w0[k] / 1e6,
                (double)r->w0[k] / 1e6 + W, r->n_data[k]);
        for (int e = 0; e < E; e++)
            fprintf(r->out, "%s%.7g", e ? "," : "", r->emb[k * E + e]);
        if (fputs("]}\n", r->out) == EOF)
            return write_fail(r, errbuf);
    }
    return ferror(r->out) ? write_fail(r, errbuf) : SS_OK;
}

/* Appends the batch's window entries and vectors to the msgpack parts. */
static int flush_msgpack(embed_run *r, char *errbuf)
{
    const int E = r->enc->cfg.dim;
    const double W = (double)r->enc->cfg.feat.window_us / 1e6;
    int rc = 0;
    for (int k = 0; k < r->n_batch && !rc; k++) {
        rc |= msgpack_pack_array(&r->pk_wins, 4);
        rc |= msgpack_pack_uint32(&r->pk_wins, r->conn[k]);
        rc |= msgpack_pack_double(&r->pk_wins, (double)r->w0[k] / 1e6);
        rc |= msgpack_pack_double(&r->pk_wins, (double)r->w0[k] / 1e6 + W);
        rc |= msgpack_pack_int(&r->pk_wins, r->n_data[k]);
    }
    /* vectors: float32 little-endian, row k = window k */
    size_t nf = (size_t)r->n_batch * (size_t)E;
    if (!host_is_le())
        for (size_t k = 0; k < nf; k++) {
            uint32_t u;
            memcpy(&u, &r->emb[k], 4);
            u = __builtin_bswap32(u);
            memcpy(&r->emb[k], &u, 4);
        }
    if (rc || fwrite(r->emb, sizeof(float), nf, r->vecs) != nf)
        return write_fail(r, errbuf);
    return SS_OK;
}

/* Embeds the batch's windows, writes them and empties the batch. */
static int run_flush(embed_run *r, char *errbuf)
{
    if (r->n_batch == 0)
        return SS_OK;
    int rc = encoder_forward(r->emb, r->acts, r->inp, r->lengths, r->enc, r->n_batch, errbuf);
    if (rc == SS_OK)
        rc = r->jsonl ? flush_jsonl(r, errbuf) : flush_msgpack(r, errbuf);
    r->n_wins += (size_t)r->n_batch;
    r->n_batch = 0;
    return rc;
}

/* Writes one connection's map (msgpack) to the connections part. */
static int write_conn(embed_run *r, const conntab_record *c, size_t nwin, char *errbuf)
{
    char a[64], b[64];
    msgpack_packer *pk = &r->pk_conns;
    cliutil_format_addr(a, sizeof(a), c->family, c->orig_h);
    cliutil_format_addr(b, sizeof(b), c->family, c->resp_h);
    int rc = msgpack_pack_map(pk, 10);
    rc |= pack_str(pk, "uid") | pack_str(pk, c->uid);
    rc |= pack_str(pk, "proto") | msgpack_pack_int(pk, c->proto);
    rc |= pack_str(pk, "orig_h") | pack_str(pk, a);
    rc |= pack_str(pk, "orig_p") | msgpack_pack_int(pk, c->orig_p);
    rc |= pack_str(pk, "resp_h") | pack_str(pk, b);
    rc |= pack_str(pk, "resp_p") | msgpack_pack_int(pk, c->resp_p);
    rc |= pack_str(pk, "start") | msgpack_pack_double(pk, (double)c->start_us / 1e6);
    rc |= pack_str(pk, "end") | msgpack_pack_double(pk, (double)c->end_us / 1e6);
    rc |= pack_str(pk, "first_window") | msgpack_pack_uint64(pk, r->n_wins + (size_t)r->n_batch);
    rc |= pack_str(pk, "n_windows") | msgpack_pack_uint64(pk, nwin);
    return rc ? write_fail(r, errbuf) : SS_OK;
}

/* conntab emit callback: adds a TCP connection's windows (from the one
 * holding its start to the one holding its end, at most max_windows, while
 * its stored packets cover them) to the batch, embedding each full batch. */
static int embed_emit(void *ctx, const conntab_record *c, char *errbuf)
{
    embed_run *r = ctx;
    if (c->proto != 6)
        return SS_OK;
    if (r->n_conns >= UINT32_MAX)
        return ss_errf(errbuf, SS_ERR_ARG, "more than %u connections", (unsigned)UINT32_MAX);
    const connfeat_config *fc = &r->enc->cfg.feat;
    int64_t g0 = connfeat_first_window(fc, c->start_us);
    int64_t g1 = connfeat_first_window(fc, c->end_us);
    size_t nwin = 0;
    for (int64_t g = g0; g <= g1 && g - g0 < r->max_windows; g++) {
        if (!connfeat_window_known(c, connfeat_window_start(fc, g), fc))
            break;
        nwin++;
    }
    int rc = r->jsonl ? SS_OK : write_conn(r, c, nwin, errbuf);
    if (rc < 0)
        return rc;
    uint32_t conn = (uint32_t)r->n_conns++;
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

/* Creates an unlinked temporary file beside path (removed by the system when
 * closed, whatever happens). */
static FILE *temp_part(const char *path, char *errbuf)
{
    size_t tl = strlen(path) + 16;
    char *tmp = malloc(tl);
    if (!tmp) {
        ss_errf(errbuf, SS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(tmp, tl, "%s.part.XXXXXX", path);
    FILE *f = NULL;
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        unlink(tmp);
        f = fdopen(fd, "w+");
        if (!f)
            close(fd);
    }
    if (!f)
        ss_errf(errbuf, SS_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    free(tmp);
    return f;
}

/* Appends the whole of part to out. */
static int copy_part(FILE *out, FILE *part)
{
    char buf[1 << 16];
    if (fflush(part) != 0 || ferror(part) || fseek(part, 0, SEEK_SET) != 0)
        return -1;
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), part)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            return -1;
    return ferror(part) ? -1 : 0;
}

/* Writes the msgpack map into r->out: header, then each part behind its
 * array/bin header with the final counts. */
static int assemble_msgpack(embed_run *r, char *errbuf)
{
    const connfeat_config *fc = &r->enc->cfg.feat;
    const int E = r->enc->cfg.dim;
    size_t bytes = r->n_wins * (size_t)E * 4;
    if (r->n_wins > UINT32_MAX || bytes > UINT32_MAX)
        return ss_errf(errbuf, SS_ERR_ARG,
                       "%zu windows do not fit one msgpack file (4 GiB of vectors at most); "
                       "use --format jsonl or --max-windows", r->n_wins);
    msgpack_packer pk;
    msgpack_packer_init(&pk, r->out, file_write);
    int rc = msgpack_pack_map(&pk, 7);
    rc |= pack_str(&pk, "format") | pack_str(&pk, EMBED_FORMAT_NAME);
    rc |= pack_str(&pk, "version") | msgpack_pack_int(&pk, EMBED_VERSION);
    rc |= pack_str(&pk, "model") | msgpack_pack_map(&pk, 5);
    rc |= pack_str(&pk, "id") | pack_str(&pk, r->idhex);
    rc |= pack_str(&pk, "features") | pack_str(&pk, connfeat_kind_to_string(fc->kind));
    rc |= pack_str(&pk, "window") | msgpack_pack_double(&pk, (double)fc->window_us / 1e6);
    rc |= pack_str(&pk, "stride") | msgpack_pack_double(&pk, (double)fc->stride_us / 1e6);
    rc |= pack_str(&pk, "threshold") | msgpack_pack_double(&pk, r->enc->threshold);
    rc |= pack_str(&pk, "dim") | msgpack_pack_int(&pk, E);
    rc |= pack_str(&pk, "connections") | msgpack_pack_array(&pk, r->n_conns);
    if (rc || copy_part(r->out, r->conns))
        return write_fail(r, errbuf);
    rc = pack_str(&pk, "windows") | msgpack_pack_array(&pk, r->n_wins);
    if (rc || copy_part(r->out, r->wins))
        return write_fail(r, errbuf);
    rc = pack_str(&pk, "vectors") | msgpack_pack_bin(&pk, bytes);
    if (rc || copy_part(r->out, r->vecs))
        return write_fail(r, errbuf);
    return SS_OK;
}

/* Reads the captures through the connection table into r. */
static int run_stream(embed_run *r, pcapsrc *src, conntab_stats *st, char *errbuf)
{
    conntab_config tc;
    conntab_config_default(&tc);
    tc.max_pkts = CONNSET_DEFAULT_MAX_PKTS; /* as connset_load: first packets per record */
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
    enum { O_MODEL = 256, O_FORMAT, O_MAXW, O_THREADS };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"format", required_argument, NULL, O_FORMAT},
        {"max-windows", required_argument, NULL, O_MAXW},
        {"threads", required_argument, NULL, O_THREADS},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    const char *model = NULL, *outpath = NULL;
    int jsonl = 0, threads = 0;
    long maxw = 64;
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
        case O_MAXW: {
            char *end;
            errno = 0;
            maxw = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || maxw < 1 || maxw > 1000000) {
                fprintf(stderr, "stepstone embed: --max-windows needs an integer from 1 to "
                                "1000000, got '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        }
        case O_THREADS:
            if (cliutil_parse_threads("embed", optarg, &threads) < 0)
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
    char *tmp = NULL;
    embed_run r;
    memset(&r, 0, sizeof(r));
    r.max_windows = maxw;
    r.jsonl = jsonl;
    r.outpath = outpath;

    /* model and captures first: a bad one fails before the output is touched */
    if (encoder_open(&enc, model, err) < 0 ||
        pcapsrc_open(&src, (const char *const *)(argv + optind), (size_t)(argc - optind),
                     warn_cb, NULL, err) < 0) {
        fprintf(stderr, "stepstone embed: %s\n", err);
        goto done;
    }
    r.enc = enc;
    snprintf(r.idhex, sizeof(r.idhex), "%016llx", (unsigned long long)enc->id);
    const connfeat_config *fc = &enc->cfg.feat;
    const int E = enc->cfg.dim;

    size_t tl = strlen(outpath) + 16;
    tmp = malloc(tl);
    if (!tmp) {
        fprintf(stderr, "stepstone embed: out of memory\n");
        goto done;
    }
    snprintf(tmp, tl, "%s.tmp.XXXXXX", outpath);
    int fd = mkstemp(tmp);
    if (fd < 0 || !(r.out = fdopen(fd, "w"))) {
        fprintf(stderr, "stepstone embed: cannot create %s: %s\n", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        tmp = NULL;
        goto done;
    }
    if (jsonl) {
        fprintf(r.out, "{\"type\":\"model\",\"format\":\"%s\",\"version\":%d,\"model_id\":\"%s\","
                       "\"dim\":%d,\"features\":\"%s\",\"window\":%.6f,\"stride\":%.6f}\n",
                EMBED_FORMAT_NAME, EMBED_VERSION, r.idhex, E, connfeat_kind_to_string(fc->kind),
                (double)fc->window_us / 1e6, (double)fc->stride_us / 1e6);
    } else {
        if (!(r.conns = temp_part(outpath, err)) || !(r.wins = temp_part(outpath, err)) ||
            !(r.vecs = temp_part(outpath, err))) {
            fprintf(stderr, "stepstone embed: %s\n", err);
            goto done;
        }
        msgpack_packer_init(&r.pk_conns, r.conns, file_write);
        msgpack_packer_init(&r.pk_wins, r.wins, file_write);
    }

    conntab_stats st;
    memset(&st, 0, sizeof(st));
    if (run_alloc(&r, err) < 0 || run_stream(&r, src, &st, err) < 0 || (!jsonl && assemble_msgpack(&r, err) < 0)) {
        fprintf(stderr, "stepstone embed: %s\n", err);
        goto done;
    }
    errno = 0;
    if (fflush(r.out) != 0 || ferror(r.out)) {
        fprintf(stderr, "stepstone embed: cannot write %s: %s\n", tmp,
                errno ? strerror(errno) : "write error");
        goto done;
    }
    int cerr = fclose(r.out);
    r.out = NULL;
    if (cerr != 0 || rename(tmp, outpath) != 0) {
        fprintf(stderr, "stepstone embed: cannot write %s: %s\n", outpath, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
    fprintf(stderr,
            "stepstone embed: %zu connections, %zu windows of %d floats, model %s "
            "(at most %llu connections open at once)\n",
            r.n_conns, r.n_wins, E, r.idhex, (unsigned long long)st.peak_live);
    status = CLI_EXIT_OK;
done:
    if (r.out)
        fclose(r.out);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    if (r.conns)
        fclose(r.conns);
    if (r.wins)
        fclose(r.wins);
    if (r.vecs)
        fclose(r.vecs);
    run_free(&r);
    pcapsrc_close(src);
    encoder_destroy(enc);
    return status;
}

/* cmd_embed.c - `stepstone embed`: every connection's window embeddings, to
 * a msgpack file (docs/formats.md, "Embeddings") or JSON lines. */
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
#include "encoder.h"
#include "lstm_method.h"
#include "status.h"
#include "threads.h"

int cmd_embed(int argc, char **argv);

#define EMBED_FORMAT_NAME "stepstone-embeddings"
#define EMBED_VERSION 1

static void embed_usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone embed -o OUT [OPTIONS] FILE...\n"
            "\n"
            "Reads pcap/pcapng files (merged into one timeline) and writes, for every TCP\n"
            "connection, the correlator's embedding of each grid window it spans (window\n"
            "length and stride come from the model), with the connection's 5-tuple and\n"
            "times, the window bounds, and the model's identity (checksum) and dimension.\n"
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

static void warn_cb(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "stepstone embed: warning: %s\n", msg);
}

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

static int host_is_le(void)
{
    const uint16_t x = 1;
    return *(const uint8_t *)&x == 1;
}

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
    connset *set = NULL;
    size_t nw = 0, cap = 0;
    uint32_t *wconn = NULL;
    int64_t *w0 = NULL;
    const conntab_record **recs = NULL;
    float *emb = NULL;
    int *nd = NULL;
    size_t *first = NULL;
    char *tmp = NULL;
    FILE *f = NULL;

    if (lstm_method_load_encoder(&enc, model, err) < 0) {
        fprintf(stderr, "stepstone embed: %s\n", err);
        goto done;
    }
    connset_config cc;
    connset_config_default(&cc);
    cc.tcp_only = 1;
    cc.warn = warn_cb;
    if (connset_load(&set, (const char *const *)(argv + optind), (size_t)(argc - optind), &cc,
                     err) < 0) {
        fprintf(stderr, "stepstone embed: %s\n", err);
        goto done;
    }
    const connfeat_config *fc = &enc->cfg.feat;
    const int E = enc->cfg.dim;
    size_t nc = connset_count(set);
    first = malloc(sizeof(size_t) * (nc + 1));
    if (!first)
        goto nomem;
    /* the windows: grid windows from the one holding the start to the one
     * holding the end, while the stored packets cover them */
    for (size_t c = 0; c < nc; c++) {
        const conntab_record *r = connset_get(set, c);
        first[c] = nw;
        int64_t g0 = connfeat_first_window(fc, r->start_us);
        int64_t g1 = connfeat_first_window(fc, r->end_us);
        for (int64_t g = g0; g <= g1 && g - g0 < maxw; g++) {
            int64_t s = connfeat_window_start(fc, g);
            if (!connfeat_window_known(r, s, fc))
                break;
            if (nw == cap) {
                size_t ncap = cap ? cap * 2 : 1024;
                uint32_t *a = realloc(wconn, sizeof(*a) * ncap);
                if (a)
                    wconn = a;
                int64_t *b = realloc(w0, sizeof(*b) * ncap);
                if (b)
                    w0 = b;
                const conntab_record **d = realloc(recs, sizeof(*d) * ncap);
                if (d)
                    recs = d;
                if (!a || !b || !d)
                    goto nomem;
                cap = ncap;
            }
            wconn[nw] = (uint32_t)c;
            w0[nw] = s;
            recs[nw] = r;
            nw++;
        }
    }
    first[nc] = nw;
    emb = malloc(sizeof(float) * (nw ? nw : 1) * (size_t)E);
    nd = malloc(sizeof(int) * (nw ? nw : 1));
    if (!emb || !nd)
        goto nomem;
    if (encoder_embed_windows(emb, nd, enc, recs, w0, nw, err) < 0) {
        fprintf(stderr, "stepstone embed: %s\n", err);
        goto done;
    }

    size_t tl = strlen(outpath) + 16;
    tmp = malloc(tl);
    if (!tmp)
        goto nomem;
    snprintf(tmp, tl, "%s.tmp.XXXXXX", outpath);
    int fd = mkstemp(tmp);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        fprintf(stderr, "stepstone embed: cannot create %s: %s\n", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        tmp = NULL;
        goto done;
    }
    char idhex[17], a[64], b[64];
    snprintf(idhex, sizeof(idhex), "%016llx", (unsigned long long)enc->id);
    const double W = (double)fc->window_us / 1e6;
    if (jsonl) {
        fprintf(f, "{\"type\":\"model\",\"format\":\"%s\",\"version\":%d,\"model_id\":\"%s\","
                   "\"dim\":%d,\"features\":\"%s\",\"window\":%.6f,\"stride\":%.6f}\n",
                EMBED_FORMAT_NAME, EMBED_VERSION, idhex, E, connfeat_kind_to_string(fc->kind), W,
                (double)fc->stride_us / 1e6);
        for (size_t k = 0; k < nw; k++) {
            const conntab_record *r = recs[k];
            cliutil_format_addr(a, sizeof(a), r->family, r->orig_h);
            cliutil_format_addr(b, sizeof(b), r->family, r->resp_h);
            fprintf(f, "{\"type\":\"window\",\"conn\":%u,\"uid\":\"%s\",\"orig_h\":\"%s\","
                       "\"orig_p\":%u,\"resp_h\":\"%s\",\"resp_p\":%u,\"proto\":%u,"
                       "\"start\":%.6f,\"end\":%.6f,\"window_start\":%.6f,\"window_end\":%.6f,"
                       "\"n_data\":%d,\"vector\":[",
                    wconn[k], r->uid, a, r->orig_p, b, r->resp_p, r->proto,
                    (double)r->start_us / 1e6, (double)r->end_us / 1e6, (double)w0[k] / 1e6,
                    (double)w0[k] / 1e6 + W, nd[k]);
            for (int e = 0; e < E; e++)
                fprintf(f, "%s%.7g", e ? "," : "", emb[k * E + e]);
            fprintf(f, "]}\n");
        }
    } else {
        msgpack_packer pk;
        msgpack_packer_init(&pk, f, file_write);
        int rc = msgpack_pack_map(&pk, 7);
        rc |= pack_str(&pk, "format") | pack_str(&pk, EMBED_FORMAT_NAME);
        rc |= pack_str(&pk, "version") | msgpack_pack_int(&pk, EMBED_VERSION);
        rc |= pack_str(&pk, "model") | msgpack_pack_map(&pk, 5);
        rc |= pack_str(&pk, "id") | pack_str(&pk, idhex);
        rc |= pack_str(&pk, "features") | pack_str(&pk, connfeat_kind_to_string(fc->kind));
        rc |= pack_str(&pk, "window") | msgpack_pack_double(&pk, W);
        rc |= pack_str(&pk, "stride") | msgpack_pack_double(&pk, (double)fc->stride_us / 1e6);
        rc |= pack_str(&pk, "threshold") | msgpack_pack_double(&pk, enc->threshold);
        rc |= pack_str(&pk, "dim") | msgpack_pack_int(&pk, E);
        rc |= pack_str(&pk, "connections") | msgpack_pack_array(&pk, nc);
        for (size_t c = 0; c < nc && !rc; c++) {
            const conntab_record *r = connset_get(set, c);
            cliutil_format_addr(a, sizeof(a), r->family, r->orig_h);
            cliutil_format_addr(b, sizeof(b), r->family, r->resp_h);
            rc |= msgpack_pack_map(&pk, 10);
            rc |= pack_str(&pk, "uid") | pack_str(&pk, r->uid);
            rc |= pack_str(&pk, "proto") | msgpack_pack_int(&pk, r->proto);
            rc |= pack_str(&pk, "orig_h") | pack_str(&pk, a);
            rc |= pack_str(&pk, "orig_p") | msgpack_pack_int(&pk, r->orig_p);
            rc |= pack_str(&pk, "resp_h") | pack_str(&pk, b);
            rc |= pack_str(&pk, "resp_p") | msgpack_pack_int(&pk, r->resp_p);
            rc |= pack_str(&pk, "start") | msgpack_pack_double(&pk, (double)r->start_us / 1e6);
            rc |= pack_str(&pk, "end") | msgpack_pack_double(&pk, (double)r->end_us / 1e6);
            rc |= pack_str(&pk, "first_window") | msgpack_pack_uint64(&pk, first[c]);
            rc |= pack_str(&pk, "n_windows") | msgpack_pack_uint64(&pk, first[c + 1] - first[c]);
        }
        rc |= pack_str(&pk, "windows") | msgpack_pack_array(&pk, nw);
        for (size_t k = 0; k < nw && !rc; k++) {
            rc |= msgpack_pack_array(&pk, 4);
            rc |= msgpack_pack_uint32(&pk, wconn[k]);
            rc |= msgpack_pack_double(&pk, (double)w0[k] / 1e6);
            rc |= msgpack_pack_double(&pk, (double)w0[k] / 1e6 + W);
            rc |= msgpack_pack_int(&pk, nd[k]);
        }
        /* vectors: (n_windows, dim) float32 little-endian, row k = windows[k] */
        size_t bytes = nw * (size_t)E * 4;
        rc |= pack_str(&pk, "vectors") | msgpack_pack_bin(&pk, bytes);
        if (!rc && bytes) {
            if (!host_is_le())
                for (size_t k = 0; k < nw * (size_t)E; k++) {
                    uint32_t u;
                    memcpy(&u, &emb[k], 4);
                    u = __builtin_bswap32(u);
                    memcpy(&emb[k], &u, 4);
                }
            rc |= msgpack_pack_bin_body(&pk, emb, bytes);
        }
        if (rc) {
            fprintf(stderr, "stepstone embed: cannot write %s: %s\n", tmp, strerror(errno));
            goto done;
        }
    }
    if (fflush(f) != 0 || ferror(f)) {
        fprintf(stderr, "stepstone embed: cannot write %s: %s\n", tmp, strerror(errno));
        goto done;
    }
    int cerr = fclose(f);
    f = NULL;
    if (cerr != 0 || rename(tmp, outpath) != 0) {
        fprintf(stderr, "stepstone embed: cannot write %s: %s\n", outpath, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
    fprintf(stderr, "stepstone embed: %zu connections, %zu windows of %d floats, model %s\n", nc,
            nw, E, idhex);
    status = CLI_EXIT_OK;
    goto done;
nomem:
    fprintf(stderr, "stepstone embed: out of memory\n");
done:
    if (f)
        fclose(f);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(wconn);
    free(w0);
    free(recs);
    free(emb);
    free(nd);
    free(first);
    connset_free(set);
    encoder_destroy(enc);
    return status;
}

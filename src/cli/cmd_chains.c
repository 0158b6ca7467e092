/* cmd_chains.c - `stepstone chains`: finds relay chains in captures with the
 * learned correlator. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "candidates.h"
#include "chains.h"
#include "cli.h"
#include "cliutil.h"
#include "connlog.h"
#include "conntab.h"
#include "connset.h"
#include "correlator.h"
#include "encoder.h"
#include "status.h"
#include "threads.h"

int cmd_chains(int argc, char **argv);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void chains_usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone chains [OPTIONS] FILE...\n"
            "\n"
            "Reads pcap/pcapng files (merged into one timeline), pairs each host's inbound\n"
            "and outbound TCP connections that overlap in time (as 'stepstone eval' does),\n"
            "scores every pair with the learned correlator (docs/encoder.md), keeps for each\n"
            "outbound connection its best inbound scoring at least the threshold, and links\n"
            "these hops across hosts into chains A -> B -> C ...\n"
            "It streams: connections are scored while the capture is read and forgotten once\n"
            "scored, so memory follows the connections open at a time, not the capture size.\n"
            "\n"
            "Text output: one block per chain: its hosts in order and score (its weakest\n"
            "hop), then per hop the relay, the two connections (addresses, ports, start\n"
            "times) and the hop's score (0..1). Then one block per hop on no chain\n"
            "('hop N outside the chains': hops that form a cycle, e.g. two sessions in\n"
            "opposite directions, or hang off one), so every hop at or above the\n"
            "threshold is printed, whatever shape the hops form.\n"
            "\n"
            "Options:\n"
            "  --model FILE      correlator model (default: the one compiled in)\n"
            "  --threshold X     hop score threshold in [0,1] (default: the model's,\n"
            "                    calibrated for a per-pair false-positive rate of 1e-4)\n"
            "  --json            JSON lines: a \"hop\" object per hop, then a \"chain\" object,\n"
            "                    per chain; then a \"hop\" object with \"chain\":null per hop\n"
            "                    on no chain (docs/formats.md, \"Chains\")\n"
            "  --dot FILE        also write the chains (and, dashed, the hops on no chain)\n"
            "                    as a Graphviz graph\n"
            "  --threads N       OpenBLAS threads (1-1024, default auto: all cores)\n"
            "  --max-open N      most connections open at once (default %d; 0: no bound);\n"
            "                    past it the oldest TCP attempt (no payload, no reply),\n"
            "                    else the next to time out, ends early (\"evicted\")\n"
            "  --max-candidates N\n"
            "                    candidate inbound connections scored per outbound\n"
            "                    connection (1-100000000, 0: no limit; default 10000):\n"
            "                    a busy relay host (bastion, proxy) with more keeps the N\n"
            "                    that started last before the outbound one, and a warning\n"
            "                    names the host; its cost is N x outbound, not inbound x\n"
            "                    outbound\n"
            "  --stats           also print on stderr the time of reading and scoring (one\n"
            "                    streaming stage), of embedding in it, of linking, the rates,\n"
            "                    and the most connections, hops and vectors held at once\n"
            "  -o, --output FILE write to FILE (atomically) instead of stdout\n"
            "  -h, --help        this help\n"
            "\n"
            "Exit status: 0 ok (also when no chain is found), 1 input/output error or bad\n"
            "model file, 2 bad usage.\n", CONNTAB_DEFAULT_MAX_OPEN);
}

static void fmt_time(char *buf, size_t n, int64_t us)
{
    int64_t s = us / 1000000, f = us % 1000000;
    if (f < 0) {
        f += 1000000;
        s--;
    }
    snprintf(buf, n, "%lld.%06lld", (long long)s, (long long)f);
}

static void json_leg(FILE *f, const conntab_record *r)
{
    char a[64], b[64], t[32];
    connlog_format_addr(a, r->family, r->orig_h);
    connlog_format_addr(b, r->family, r->resp_h);
    fmt_time(t, sizeof(t), r->start_us);
    fprintf(f, "{\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u,\"start\":%s}", a,
            r->orig_p, b, r->resp_p, t);
}

static void text_leg(FILE *f, const char *what, const conntab_record *r)
{
    char a[64], b[64], t[32];
    connlog_format_addr(a, r->family, r->orig_h);
    connlog_format_addr(b, r->family, r->resp_h);
    fmt_time(t, sizeof(t), r->start_us);
    fprintf(f, "    %-3s %s:%u -> %s:%u  start %s\n", what, a, r->orig_p, b, r->resp_p, t);
}

/* Writes the hosts of a chain of connections conns[0..n): the first's
 * origin with fmt_first, then each one's responder with fmt_next. */
static void write_hosts(FILE *f, const connset *set, const uint32_t *conns, size_t n,
                        const char *fmt_first, const char *fmt_next)
{
    char h[CONNLOG_ADDR_SIZE];
    const conntab_record *first = connset_get(set, conns[0]);
    connlog_format_addr(h, first->family, first->orig_h);
    fprintf(f, fmt_first, h);
    for (size_t k = 0; k < n; k++) {
        const conntab_record *r = connset_get(set, conns[k]);
        connlog_format_addr(h, r->family, r->resp_h);
        fprintf(f, fmt_next, h);
    }
}

/* Writes the result in the chosen format: the chains, then every hop on no
 * chain; hop_of[c] is the hop whose out is connection c (or -1). */
static void write_chains(FILE *f, int json, const connset *set, const chains_result *res,
                         const long *hop_of)
{
    char h[64];
    for (size_t c = 0; c < res->n_chains; c++) {
        const chains_chain *ch = &res->chains[c];
        const uint32_t *conns = res->conns + ch->first;
        if (!json) {
            fprintf(f, "chain %zu: ", c + 1);
            write_hosts(f, set, conns, ch->n_conns, "%s", " -> %s");
            fprintf(f, "  score %.4f\n", ch->score);
        }
        for (size_t k = 0; k + 1 < ch->n_conns; k++) {
            const conntab_record *in = connset_get(set, conns[k]);
            const conntab_record *out = connset_get(set, conns[k + 1]);
            long hi = hop_of[conns[k + 1]];
            double score = hi >= 0 ? res->hops[hi].score : NAN;
            connlog_format_addr(h, out->family, out->orig_h);
            if (json) {
                fprintf(f, "{\"type\":\"hop\",\"chain\":%zu,\"relay\":\"%s\",\"in\":", c + 1, h);
                json_leg(f, in);
                fprintf(f, ",\"out\":");
                json_leg(f, out);
                fprintf(f, ",\"score\":%.6f}\n", score);
            } else {
                fprintf(f, "  hop %zu via %s  score %.4f\n", k + 1, h, score);
                text_leg(f, "in", in);
                text_leg(f, "out", out);
            }
        }
        if (json) {
            fprintf(f, "{\"type\":\"chain\",\"chain\":%zu,\"hosts\":[", c + 1);
            write_hosts(f, set, conns, ch->n_conns, "\"%s\"", ",\"%s\"");
            fprintf(f, "],\"score\":%.6f}\n", ch->score);
        } else {
            fputc('\n', f);
        }
    }
    /* the hops on no chain (a cycle, ...): each on its own */
    for (size_t k = 0; k < res->n_loose; k++) {
        const chains_hop *hp = &res->hops[res->loose[k]];
        const conntab_record *in = connset_get(set, hp->in);
        const conntab_record *out = connset_get(set, hp->out);
        connlog_format_addr(h, out->family, out->orig_h);
        if (json) {
            fprintf(f, "{\"type\":\"hop\",\"chain\":null,\"relay\":\"%s\",\"in\":", h);
            json_leg(f, in);
            fprintf(f, ",\"out\":");
            json_leg(f, out);
            fprintf(f, ",\"score\":%.6f}\n", hp->score);
        } else {
            const uint32_t legs[2] = {hp->in, hp->out};
            fprintf(f, "hop %zu outside the chains: ", k + 1);
            write_hosts(f, set, legs, 2, "%s", " -> %s");
            fprintf(f, "  score %.4f\n", hp->score);
            text_leg(f, "in", in);
            text_leg(f, "out", out);
            fputc('\n', f);
        }
    }
}

static void write_dot(FILE *f, const connset *set, const chains_result *res, const long *hop_of)
{
    char a[64], b[64];
    fprintf(f, "digraph chains {\n  rankdir=LR;\n  node [shape=box];\n");
    for (size_t c = 0; c < res->n_chains; c++) {
        const chains_chain *ch = &res->chains[c];
        const uint32_t *conns = res->conns + ch->first;
        for (size_t k = 0; k < ch->n_conns; k++) {
            const conntab_record *r = connset_get(set, conns[k]);
            connlog_format_addr(a, r->family, r->orig_h);
            connlog_format_addr(b, r->family, r->resp_h);
            long hi = hop_of[conns[k]];
            if (hi >= 0)
                fprintf(f, "  \"%s\" -> \"%s\" [label=\"chain %zu: %u -> %u\\nscore %.3f\"];\n",
                        a, b, c + 1, r->orig_p, r->resp_p, res->hops[hi].score);
            else
                fprintf(f, "  \"%s\" -> \"%s\" [label=\"chain %zu: %u -> %u\"];\n", a, b, c + 1,
                        r->orig_p, r->resp_p);
        }
    }
    /* a hop on no chain: its two connections, dashed */
    for (size_t k = 0; k < res->n_loose; k++) {
        const chains_hop *hp = &res->hops[res->loose[k]];
        const conntab_record *in = connset_get(set, hp->in);
        const conntab_record *out = connset_get(set, hp->out);
        connlog_format_addr(a, in->family, in->orig_h);
        connlog_format_addr(b, in->family, in->resp_h);
        fprintf(f, "  \"%s\" -> \"%s\" [style=dashed, label=\"hop %zu: %u -> %u\"];\n", a, b,
                k + 1, in->orig_p, in->resp_p);
        connlog_format_addr(a, out->family, out->orig_h);
        connlog_format_addr(b, out->family, out->resp_h);
        fprintf(f, "  \"%s\" -> \"%s\" [style=dashed, label=\"hop %zu: %u -> %u\\nscore %.3f\"];\n",
                a, b, k + 1, out->orig_p, out->resp_p, hp->score);
    }
    fprintf(f, "}\n");
}

/* Collects the matched hops while the correlator streams: for each outbound
 * connection the candidate chains_pick matches (the group's inbound legs come
 * in connection order), with copies of both legs' records. */
typedef struct hopcol {
    double threshold;
    conntab_record *legs; /* 2 per hop: in, out */
    double *score;
    size_t n, cap;
    int progress;
    double last_report;
    const correlator *corr;
} hopcol;

static int hopcol_emit(void *ctx, const correlator_group *g, char *errbuf)
{
    hopcol *h = ctx;
    if (h->progress) {
        double t = now_s();
        if (t - h->last_report >= 2.0) {
            correlator_stats st;
            correlator_get_stats(h->corr, &st);
            fprintf(stderr, "\rstepstone chains: %llu connections, %llu candidate hops scored, "
                            "%zu hops...", (unsigned long long)st.conns,
                    (unsigned long long)st.pairs, h->n);
            h->last_report = t;
        }
    }
    long best = chains_pick(g->score, g->n, h->threshold);
    if (best < 0)
        return SS_OK;
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        conntab_record *l = realloc(h->legs, nc * 2 * sizeof(*l));
        if (l)
            h->legs = l;
        double *sc = realloc(h->score, nc * sizeof(*sc));
        if (sc)
            h->score = sc;
        if (!l || !sc)
            return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu hops", nc);
        h->cap = nc;
    }
    h->legs[2 * h->n] = *g->in[best];
    h->legs[2 * h->n + 1] = *g->out;
    h->legs[2 * h->n].pkts = h->legs[2 * h->n + 1].pkts = NULL;
    h->legs[2 * h->n].n_pkts = h->legs[2 * h->n + 1].n_pkts = 0;
    h->score[h->n++] = g->score[best];
    return SS_OK;
}

static int rec_cmp(const void *pa, const void *pb)
{
    const conntab_record *a = pa, *b = pb;
    if (a->start_us != b->start_us)
        return a->start_us < b->start_us ? -1 : 1;
    return (a->serial > b->serial) - (a->serial < b->serial);
}

/* Index of the record with r's (start, serial) in the sorted set. */
static uint32_t set_index(const connset *set, const conntab_record *r)
{
    size_t lo = 0, hi = connset_count(set);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rec_cmp(connset_get(set, mid), r) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

/* Builds the set of the hop legs (each connection once, in connset order)
 * and the hops as pairs into it. */
static int hopcol_to_set(const hopcol *h, connset **set, candidates_pair *pairs, char *errbuf)
{
    conntab_record *u = malloc((2 * h->n + 1) * sizeof(*u));
    if (!u)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory for %zu hops", h->n);
    if (h->n)
        memcpy(u, h->legs, 2 * h->n * sizeof(*u));
    qsort(u, 2 * h->n, sizeof(*u), rec_cmp);
    int rc = connset_create(set, errbuf);
    for (size_t i = 0; rc == 0 && i < 2 * h->n; i++)
        if (i == 0 || u[i].serial != u[i - 1].serial || u[i].start_us != u[i - 1].start_us)
            rc = connset_add(*set, &u[i], errbuf);
    free(u);
    if (rc < 0)
        return rc;
    connset_sort(*set);
    for (size_t k = 0; k < h->n; k++) {
        pairs[k].in = set_index(*set, &h->legs[2 * k]);
        pairs[k].out = set_index(*set, &h->legs[2 * k + 1]);
    }
    return SS_OK;
}

int cmd_chains(int argc, char **argv)
{
    enum { O_MODEL = 256, O_THR, O_JSON, O_DOT, O_THREADS, O_STATS, O_MAXOPEN, O_MAXCAND };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"threshold", required_argument, NULL, O_THR},
        {"json", no_argument, NULL, O_JSON},
        {"dot", required_argument, NULL, O_DOT},
        {"threads", required_argument, NULL, O_THREADS},
        {"stats", no_argument, NULL, O_STATS},
        {"max-open", required_argument, NULL, O_MAXOPEN},
        {"max-candidates", required_argument, NULL, O_MAXCAND},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    const char *model = NULL, *dot = NULL, *outpath = NULL;
    double threshold = NAN;
    int json = 0, threads = 0, stats = 0, max_cand = 10000;
    char err[SS_ERRBUF_SIZE];
    conntab_stats ts;
    memset(&ts, 0, sizeof(ts));
    conntab_config tc;
    conntab_config_default(&tc);
    tc.stats_out = &ts;

    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_MODEL: model = optarg; break;
        case O_THR:
            if (cliutil_parse_num("chains", "--threshold", optarg, 0, 1, &threshold) < 0)
                return CLI_EXIT_USAGE;
            break;
        case O_JSON: json = 1; break;
        case O_DOT: dot = optarg; break;
        case O_STATS: stats = 1; break;
        case O_MAXCAND:
            if (cliutil_parse_int("chains", "--max-candidates", optarg, 0, 100000000, &max_cand) < 0)
                return CLI_EXIT_USAGE;
            break;
        case O_THREADS:
            if (cliutil_parse_threads("chains", optarg, &threads) < 0)
                return CLI_EXIT_USAGE;
            break;
        case O_MAXOPEN:
            if (cliutil_parse_u64("chains", "--max-open", optarg, UINT32_MAX, &tc.max_open) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'o': outpath = optarg; break;
        case 'h': chains_usage(stdout); return CLI_EXIT_OK;
        default:
            return cliutil_bad_option("chains", "chains", ch, argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "stepstone chains: no capture file given; see 'stepstone chains --help'\n");
        return CLI_EXIT_USAGE;
    }

    int status = CLI_EXIT_FAILURE;
    encoder *enc = NULL;
    correlator *corr = NULL;
    connset *set = NULL;
    candidates_pair *pairs = NULL;
    long *hop_of = NULL;
    hopcol hc;
    memset(&hc, 0, sizeof(hc));
    chains_result res;
    memset(&res, 0, sizeof(res));
    int progress = isatty(STDERR_FILENO);

    if (threads_apply(threads, err) < 0) {
        fprintf(stderr, "stepstone chains: %s\n", err);
        return CLI_EXIT_USAGE;
    }
    if (encoder_open(&enc, model, err) < 0) {
        fprintf(stderr, "stepstone chains: %s\n", err);
        goto done;
    }
    if (isnan(threshold))
        threshold = enc->threshold;
    hc.threshold = threshold;
    hc.progress = progress;
    if (progress)
        fprintf(stderr, "stepstone chains: reading %d capture file%s...\n", argc - optind,
                argc - optind == 1 ? "" : "s");
    double t0 = now_s(), t_read = 0, t_link = 0;
    correlator_stats st;
    if (correlator_create(&corr, enc, NULL, hopcol_emit, &hc, err) < 0) {
        fprintf(stderr, "stepstone chains: %s\n", err);
        goto done;
    }
    hc.corr = corr;
    correlator_set_max_candidates(corr, (size_t)max_cand, cliutil_warn, "chains");
    hc.last_report = t0;
    if (correlator_read_files(corr, (const char *const *)(argv + optind),
                              (size_t)(argc - optind), &tc, cliutil_warn, "chains", err) < 0) {
        if (progress)
            fputc('\n', stderr);
        fprintf(stderr, "stepstone chains: %s\n", err);
        goto done;
    }
    if (progress && now_s() - t0 >= 2.0)
        fputc('\n', stderr);
    correlator_get_stats(corr, &st);
    t_read = now_s();
    pairs = malloc(sizeof(*pairs) * (hc.n ? hc.n : 1));
    if (!pairs) {
        fprintf(stderr, "stepstone chains: out of memory\n");
        goto done;
    }
    if (hopcol_to_set(&hc, &set, pairs, err) < 0 ||
        (t_link = now_s()) < 0 ||
        chains_link(&res, pairs, hc.score, hc.n, connset_count(set), threshold, err) < 0) {
        fprintf(stderr, "stepstone chains: %s\n", err);
        goto done;
    }
    size_t nc = connset_count(set);
    hop_of = malloc(sizeof(long) * (nc ? nc : 1));
    if (!hop_of) {
        fprintf(stderr, "stepstone chains: out of memory\n");
        goto done;
    }
    for (size_t k = 0; k < nc; k++)
        hop_of[k] = -1;
    for (size_t k = 0; k < res.n_hops; k++)
        hop_of[res.hops[k].out] = (long)k;

    cliutil_out of;
    if (cliutil_out_open(&of, "chains", outpath) < 0)
        goto done;
    write_chains(of.f, json, set, &res, hop_of);
    if (cliutil_out_close(&of, 1) < 0)
        goto done;
    if (dot) {
        if (cliutil_out_open(&of, "chains", dot) < 0)
            goto done;
        write_dot(of.f, set, &res, hop_of);
        if (cliutil_out_close(&of, 1) < 0)
            goto done;
    }
    fprintf(stderr, "stepstone chains: %llu TCP connections, %llu candidate hops, %zu hops at "
                    "threshold %.4f, %zu chains", (unsigned long long)st.conns,
            (unsigned long long)st.pairs, res.n_hops, threshold, res.n_chains);
    if (res.n_loose)
        fprintf(stderr, ", %zu hop%s outside them", res.n_loose, res.n_loose == 1 ? "" : "s");
    fprintf(stderr, "; %llu connections evicted\n", (unsigned long long)ts.evicted);
    if (st.capped)
        fprintf(stderr, "stepstone chains: %llu outbound connection%s scored on at most %d "
                        "candidates each (--max-candidates)\n", (unsigned long long)st.capped,
                st.capped == 1 ? "" : "s", max_cand);
    if (stats) {
        double t_end = now_s();
        fprintf(stderr, "stepstone chains: stats: read and score %.3f s, embedding %.3f s "
                        "(%llu windows, %.0f/s), pairs (%llu pairs, %.0f/s with reading and "
                        "embedding), linking and output %.3f s, total %.3f s; at most %llu "
                        "connections followed, %llu outbound waiting, %llu window vectors "
                        "held at once; at most %llu candidates of one outbound connection\n",
                t_read - t0, st.embed_s, (unsigned long long)st.windows,
                st.embed_s > 0 ? (double)st.windows / st.embed_s : 0.0,
                (unsigned long long)st.pairs, t_read > t0 ? (double)st.pairs / (t_read - t0) : 0.0,
                t_end - t_link, t_end - t0, (unsigned long long)st.peak_live,
                (unsigned long long)st.peak_pending, (unsigned long long)st.peak_windows,
                (unsigned long long)st.max_cands);
    }
    status = CLI_EXIT_OK;
done:
    chains_free(&res);
    free(hop_of);
    free(pairs);
    free(hc.legs);
    free(hc.score);
    connset_free(set);
    correlator_destroy(corr);
    encoder_destroy(enc);
    return status;
}

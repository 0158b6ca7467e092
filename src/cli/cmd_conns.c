/* cmd_conns.c - `stepstone conns`: captures in, one line per connection out. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cliutil.h"
#include "connlog.h"
#include "conntab.h"
#include "decode.h"
#include "dedup.h"
#include "pcapsrc.h"
#include "status.h"

int cmd_conns(int argc, char **argv);

#define CONNS_OUTBUF_SIZE (256 * 1024)

static void conns_usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone conns [OPTIONS] FILE...\n"
            "\n"
            "Reads pcap/pcapng files (merged into one timeline) and prints one line per\n"
            "bidirectional connection, like Zeek's conn.log:\n"
            "  ts uid orig_h orig_p resp_h resp_p proto duration orig_bytes resp_bytes\n"
            "  conn_state orig_pkts resp_pkts\n"
            "as tab-separated values after a '#fields' line, or as JSON lines. A summary\n"
            "(frames, IP packets, connections, skipped frames by reason) goes to stderr.\n"
            "\n"
            "Options:\n"
            "  --json                 JSON lines (adds orig_retrans, resp_retrans, end_reason)\n"
            "  --packets              with --json: add each connection's first packets\n"
            "                         as [dt_us, dir, payload_len, tcp_flags, retrans]\n"
            "  --tcp-timeout S        TCP inactivity timeout in seconds (default 300)\n"
            "  --udp-timeout S        UDP inactivity timeout in seconds (default 60)\n"
            "  --icmp-timeout S       ICMP inactivity timeout in seconds (default 60)\n"
            "  --active-timeout S     longest connection before it is cut (default 3600)\n"
            "  --max-pkts N           packets kept per connection record (default %d)\n"
            "  --max-open N           most connections open at once (default %d; 0: no\n"
            "                         bound); past it the oldest TCP attempt (no payload,\n"
            "                         no reply), else the next to time out, is emitted\n"
            "                         early with end_reason \"evicted\"\n"
            "  --dedup-window S       several files (sensors): a packet another file gave\n"
            "                         less than S seconds before is a copy and counts once\n"
            "                         (default 0.05; 0 keeps every copy). The sensors'\n"
            "                         clocks must agree within S.\n"
            "  -o, --output FILE      write to FILE (atomically) instead of stdout\n"
            "  -h, --help             this help\n"
            "\n"
            "Exit status: 0 ok (warnings, e.g. a damaged file, are printed), 1 fatal\n"
            "input or output error, 2 bad usage.\n",
            CONNTAB_LOG_MAX_PKTS, CONNTAB_DEFAULT_MAX_OPEN);
}

typedef struct conns_out {
    FILE *f;
    int format;
    unsigned flags;
} conns_out;

static int conns_emit(void *ctx, const conntab_record *rec, char *errbuf)
{
    const conns_out *o = ctx;
    return connlog_write_record(o->f, rec, o->format, o->flags, errbuf);
}

static void print_summary(const pcapsrc *src, const decode_stats *ds, const conntab_stats *cs)
{
    uint64_t frames = src ? pcapsrc_frames(src) : 0;
    fprintf(stderr,
            "stepstone conns: %llu frames, %llu IP packets, %llu connections (peak %llu open, "
            "%llu evicted)",
            (unsigned long long)frames, (unsigned long long)ds->count[DECODE_OK],
            (unsigned long long)cs->emitted, (unsigned long long)cs->peak_live,
            (unsigned long long)cs->evicted);
    int any = 0;
    for (int r = 1; r < DECODE_RESULT_COUNT; r++) {
        if (!ds->count[r])
            continue;
        fprintf(stderr, "%s%s %llu", any ? ", " : "; skipped: ", decode_result_to_string(r),
                (unsigned long long)ds->count[r]);
        any = 1;
    }
    if (cs->ignored)
        fprintf(stderr, "%s untracked-proto %llu", any ? "," : "; skipped:",
                (unsigned long long)cs->ignored);
    size_t damaged = src ? pcapsrc_damaged_files(src) : 0;
    uint64_t dups = src ? pcapsrc_duplicates(src) : 0;
    if (dups)
        fprintf(stderr, "; %llu duplicate%s from another file dropped",
                (unsigned long long)dups, dups == 1 ? "" : "s");
    fprintf(stderr, "; %zu damaged file%s\n", damaged, damaged == 1 ? "" : "s");
}

int cmd_conns(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_PACKETS, OPT_TCP, OPT_UDP, OPT_ICMP, OPT_ACTIVE, OPT_MAXPKTS,
           OPT_DEDUP, OPT_MAXOPEN };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"packets", no_argument, NULL, OPT_PACKETS},
        {"tcp-timeout", required_argument, NULL, OPT_TCP},
        {"udp-timeout", required_argument, NULL, OPT_UDP},
        {"icmp-timeout", required_argument, NULL, OPT_ICMP},
        {"active-timeout", required_argument, NULL, OPT_ACTIVE},
        {"max-pkts", required_argument, NULL, OPT_MAXPKTS},
        {"dedup-window", required_argument, NULL, OPT_DEDUP},
        {"max-open", required_argument, NULL, OPT_MAXOPEN},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    conntab_config cfg;
    conntab_config_default(&cfg);
    conns_out out = {stdout, CONNLOG_FORMAT_TSV, 0};
    const char *outpath = NULL;
    int packets = 0, maxp;
    int64_t dedup_us = DEDUP_DEFAULT_WINDOW_US;

    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_JSON: out.format = CONNLOG_FORMAT_JSON; break;
        case OPT_PACKETS: packets = 1; break;
        case OPT_TCP:
        case OPT_UDP:
        case OPT_ICMP:
        case OPT_ACTIVE: {
            int64_t *t = ch == OPT_TCP    ? &cfg.tcp_timeout_us
                         : ch == OPT_UDP  ? &cfg.udp_timeout_us
                         : ch == OPT_ICMP ? &cfg.icmp_timeout_us
                                          : &cfg.active_timeout_us;
            const char *opt = ch == OPT_TCP    ? "--tcp-timeout"
                              : ch == OPT_UDP  ? "--udp-timeout"
                              : ch == OPT_ICMP ? "--icmp-timeout"
                                               : "--active-timeout";
            if (cliutil_parse_seconds("conns", opt, optarg, 0, 1e9, t) < 0)
                return CLI_EXIT_USAGE;
            break;
        }
        case OPT_MAXPKTS:
            if (cliutil_parse_int("conns", "--max-pkts", optarg, 0, 1000000, &maxp) < 0)
                return CLI_EXIT_USAGE;
            cfg.max_pkts = (uint32_t)maxp;
            break;
        case OPT_DEDUP:
            if (cliutil_parse_seconds("conns", "--dedup-window", optarg, 1, 3600, &dedup_us) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAXOPEN:
            if (cliutil_parse_u64("conns", "--max-open", optarg, UINT32_MAX, &cfg.max_open) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'o': outpath = optarg; break;
        case 'h': conns_usage(stdout); return CLI_EXIT_OK;
        default:
            return cliutil_bad_option("conns", "conns", ch, argv[optind - 1]);
        }
    }
    if (packets && out.format != CONNLOG_FORMAT_JSON) {
        fprintf(stderr, "stepstone conns: --packets needs --json\n");
        return CLI_EXIT_USAGE;
    }
    if (packets)
        out.flags |= CONNLOG_PACKETS;
    if (optind >= argc) {
        fprintf(stderr, "stepstone conns: no capture file given; see 'stepstone conns --help'\n");
        return CLI_EXIT_USAGE;
    }

    char err[SS_ERRBUF_SIZE];
    pcapsrc *src = NULL;
    conntab *tab = NULL;
    char *outbuf = NULL;
    cliutil_out of;
    memset(&of, 0, sizeof(of));
    int status = CLI_EXIT_FAILURE;
    decode_stats ds;
    memset(&ds, 0, sizeof(ds));

    if (pcapsrc_open(&src, (const char *const *)(argv + optind), (size_t)(argc - optind),
                     cliutil_warn, "conns", err) < 0) {
        fprintf(stderr, "stepstone conns: %s\n", err);
        return CLI_EXIT_FAILURE;
    }
    if (pcapsrc_set_dedup_window(src, dedup_us, err) < 0) {
        fprintf(stderr, "stepstone conns: %s\n", err);
        pcapsrc_close(src);
        return CLI_EXIT_FAILURE;
    }
    if (cliutil_out_open(&of, "conns", outpath) < 0)
        goto done;
    out.f = of.f;
    /* one write per 256 kB of output rather than per 4 kB; the buffer is
     * freed once the output is closed */
    outbuf = out.f != stdout ? malloc(CONNS_OUTBUF_SIZE) : NULL;
    if (outbuf && setvbuf(out.f, outbuf, _IOFBF, CONNS_OUTBUF_SIZE) != 0) {
        free(outbuf);
        outbuf = NULL;
    }
    if (conntab_create(&tab, &cfg, conns_emit, &out, err) < 0 ||
        connlog_write_header(out.f, out.format, err) < 0) {
        fprintf(stderr, "stepstone conns: %s\n", err);
        goto done;
    }

    int progress = isatty(STDERR_FILENO);
    uint64_t n = 0;
    packet_t batch[CONNTAB_BATCH];
    size_t nb = 0;
    int rc;
    for (;;) {
        rc = pcapsrc_next_packet(src, &batch[nb], &ds, err);
        if (rc > 0)
            nb++;
        if (nb == CONNTAB_BATCH || (rc <= 0 && nb > 0)) {
            if (conntab_add_batch(tab, batch, nb, err) < 0) {
                fprintf(stderr, "stepstone conns: %s\n", err);
                goto done;
            }
            nb = 0;
        }
        if (rc <= 0)
            break;
        if (progress && (++n & 0xfffff) == 0)
            fprintf(stderr, "\rstepstone conns: %llu packets...", (unsigned long long)n);
    }
    if (progress && n >= 0x100000)
        fputc('\n', stderr);
    if (rc < 0) {
        fprintf(stderr, "stepstone conns: %s\n", err);
        goto done;
    }
    if (conntab_flush(tab, err) < 0) {
        fprintf(stderr, "stepstone conns: %s\n", err);
        goto done;
    }
    if (cliutil_out_close(&of, 1) < 0) /* before the summary: stdout comes first */
        goto done;
    status = CLI_EXIT_OK;

done:
    if (tab) {
        conntab_stats cs;
        conntab_get_stats(tab, &cs);
        print_summary(src, &ds, &cs);
    }
    cliutil_out_close(&of, 0);
    free(outbuf); /* after the FILE using it was closed */
    conntab_destroy(tab);
    pcapsrc_close(src);
    return status;
}

/* cmd_conns.c - `stepstone conns`: captures in, one line per connection out. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
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
            "  --max-pkts N           packets kept per connection record (default 64)\n"
            "  --dedup-window S       several files (sensors): a packet another file gave\n"
            "                         less than S seconds before is a copy and counts once\n"
            "                         (default 0.05; 0 keeps every copy). The sensors'\n"
            "                         clocks must agree within S.\n"
            "  -o, --output FILE      write to FILE (atomically) instead of stdout\n"
            "  -h, --help             this help\n"
            "\n"
            "Exit status: 0 ok (warnings, e.g. a damaged file, are printed), 1 fatal\n"
            "input or output error, 2 bad usage.\n");
}

/* Parses a positive number of seconds into microseconds. */
static int parse_seconds(const char *opt, const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v <= 0 || v > 1e9) {
        fprintf(stderr, "stepstone conns: %s needs a positive number of seconds, got '%s'\n",
                opt, s);
        return -1;
    }
    *out = (int64_t)llround(v * 1e6);
    if (*out < 1)
        *out = 1;
    return 0;
}

/* Parses a number of seconds that may be 0 (off), at most an hour. */
static int parse_window(const char *opt, const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < 0 || v > 3600) {
        fprintf(stderr, "stepstone conns: %s needs a number of seconds from 0 to 3600, got '%s'\n",
                opt, s);
        return -1;
    }
    *out = (int64_t)llround(v * 1e6);
    if (*out < 1 && v > 0)
        *out = 1;
    return 0;
}

static int parse_count(const char *opt, const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < 0 || v > (long long)max) {
        fprintf(stderr, "stepstone conns: %s needs an integer from 0 to %u, got '%s'\n",
                opt, max, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
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

static void conns_warn(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "stepstone conns: warning: %s\n", msg);
}

static void print_summary(const pcapsrc *src, const decode_stats *ds, const conntab_stats *cs)
{
    uint64_t frames = src ? pcapsrc_frames(src) : 0;
    fprintf(stderr,
            "stepstone conns: %llu frames, %llu IP packets, %llu connections (peak %llu open)",
            (unsigned long long)frames, (unsigned long long)ds->count[DECODE_OK],
            (unsigned long long)cs->emitted, (unsigned long long)cs->peak_live);
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
           OPT_DEDUP };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"packets", no_argument, NULL, OPT_PACKETS},
        {"tcp-timeout", required_argument, NULL, OPT_TCP},
        {"udp-timeout", required_argument, NULL, OPT_UDP},
        {"icmp-timeout", required_argument, NULL, OPT_ICMP},
        {"active-timeout", required_argument, NULL, OPT_ACTIVE},
        {"max-pkts", required_argument, NULL, OPT_MAXPKTS},
        {"dedup-window", required_argument, NULL, OPT_DEDUP},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    conntab_config cfg;
    conntab_config_default(&cfg);
    conns_out out = {stdout, CONNLOG_FORMAT_TSV, 0};
    const char *outpath = NULL;
    int packets = 0;
    int64_t dedup_us = DEDUP_DEFAULT_WINDOW_US;

    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_JSON: out.format = CONNLOG_FORMAT_JSON; break;
        case OPT_PACKETS: packets = 1; break;
        case OPT_TCP:
            if (parse_seconds("--tcp-timeout", optarg, &cfg.tcp_timeout_us) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_UDP:
            if (parse_seconds("--udp-timeout", optarg, &cfg.udp_timeout_us) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_ICMP:
            if (parse_seconds("--icmp-timeout", optarg, &cfg.icmp_timeout_us) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_ACTIVE:
            if (parse_seconds("--active-timeout", optarg, &cfg.active_timeout_us) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAXPKTS:
            if (parse_count("--max-pkts", optarg, 1000000, &cfg.max_pkts) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_DEDUP:
            if (parse_window("--dedup-window", optarg, &dedup_us) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'o': outpath = optarg; break;
        case 'h': conns_usage(stdout); return CLI_EXIT_OK;
        case ':':
            fprintf(stderr, "stepstone conns: option '%s' needs a value\n", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        default:
            fprintf(stderr, "stepstone conns: unknown option '%s'; see 'stepstone conns --help'\n",
                    argv[optind - 1]);
            return CLI_EXIT_USAGE;
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
    char *tmppath = NULL;
    char *outbuf = NULL;
    int own_stdout = 0;
    int status = CLI_EXIT_FAILURE;
    decode_stats ds;
    memset(&ds, 0, sizeof(ds));

    if (pcapsrc_open(&src, (const char *const *)(argv + optind), (size_t)(argc - optind),
                     conns_warn, NULL, err) < 0) {
        fprintf(stderr, "stepstone conns: %s\n", err);
        return CLI_EXIT_FAILURE;
    }
    if (pcapsrc_set_dedup_window(src, dedup_us, err) < 0) {
        fprintf(stderr, "stepstone conns: %s\n", err);
        pcapsrc_close(src);
        return CLI_EXIT_FAILURE;
    }
    if (outpath) {
        size_t n = strlen(outpath) + 16;
        tmppath = malloc(n);
        if (!tmppath) {
            fprintf(stderr, "stepstone conns: out of memory\n");
            goto done;
        }
        snprintf(tmppath, n, "%s.tmp.XXXXXX", outpath);
        int fd = mkstemp(tmppath);
        if (fd < 0 || !(out.f = fdopen(fd, "w"))) {
            fprintf(stderr, "stepstone conns: cannot create %s: %s\n", tmppath, strerror(errno));
            if (fd >= 0) {
                close(fd);
                unlink(tmppath);
            }
            free(tmppath);
            tmppath = NULL;
            out.f = NULL;
            goto done;
        }
    }

    /* one write per 256 kB of output rather than per 4 kB: stdout is
     * written through a FILE of our own on a copy of its descriptor, so
     * the buffer can be freed once that FILE is closed */
    if (!outpath) {
        int fd = dup(STDOUT_FILENO);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f) {
            out.f = f;
            own_stdout = 1;
        } else if (fd >= 0) {
            close(fd);
        }
    }
    outbuf = malloc(CONNS_OUTBUF_SIZE);
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
    if (fflush(out.f) != 0 || ferror(out.f)) {
        fprintf(stderr, "stepstone conns: cannot write the output: %s\n", strerror(errno));
        goto done;
    }
    status = CLI_EXIT_OK;

done:
    if (tab) {
        conntab_stats cs;
        conntab_get_stats(tab, &cs);
        print_summary(src, &ds, &cs);
    }
    if (tmppath) {
        if (fclose(out.f) != 0 && status == CLI_EXIT_OK) {
            fprintf(stderr, "stepstone conns: cannot write %s: %s\n", tmppath, strerror(errno));
            status = CLI_EXIT_FAILURE;
        }
        if (status == CLI_EXIT_OK && rename(tmppath, outpath) != 0) {
            fprintf(stderr, "stepstone conns: cannot rename %s to %s: %s\n", tmppath, outpath,
                    strerror(errno));
            status = CLI_EXIT_FAILURE;
        }
        if (status != CLI_EXIT_OK)
            unlink(tmppath);
        free(tmppath);
    }
    if (own_stdout && fclose(out.f) != 0 && status == CLI_EXIT_OK) {
        fprintf(stderr, "stepstone conns: cannot write the output: %s\n", strerror(errno));
        status = CLI_EXIT_FAILURE;
    }
    free(outbuf); /* after the FILE using it was closed */
    conntab_destroy(tab);
    pcapsrc_close(src);
    return status;
}

/* cmd_synth.c - `stepstone synth`: writes a synthetic labelled relay capture. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "status.h"
#include "synth.h"

int cmd_synth(int argc, char **argv);

static void usage(FILE *f, const synth_config *d)
{
    fprintf(f,
            "usage: stepstone synth -o OUT.pcap --labels OUT.csv [OPTIONS]\n"
            "\n"
            "Simulates interactive relay chains (A -> B -> C ..., each hop its own TCP\n"
            "connection) among background traffic, and writes a pcap (Ethernet/IPv4/TCP)\n"
            "and a labels.csv with one row per relay hop pair (datasets/README.md).\n"
            "The same seed and options always give the same bytes.\n"
            "\n"
            "  -o, --output FILE     pcap to write (required)\n"
            "  -l, --labels FILE     labels CSV to write (required)\n"
            "  -s, --seed N          random seed (default %" PRIu64 ")\n"
            "  -d, --duration S      seconds of traffic (default %g)\n"
            "  -c, --chains N        relay chains (default %u)\n"
            "      --hops MIN-MAX    connections per chain, 2..%d (default %u-%u)\n"
            "      --chaff R         chaff packets per real packet on chain legs (default %g)\n"
            "      --jitter S        extra random delay up to S seconds per forwarded\n"
            "                        chunk on relays (default %g)\n"
            "      --delay S         median one-way network delay of a connection; each\n"
            "                        draws its own, log-normal (default %g)\n"
            "  -b, --background N    unrelated sessions: logins into and out of relay hosts\n"
            "                        and others, bulk transfers, web clients (default %u)\n"
            "  -k, --kind K          ssh (relays re-encrypt), plain (socat/nc forwarders)\n"
            "                        or mix (default %s)\n"
            "      --start EPOCH     capture start, seconds since the epoch (default %" PRId64 ")\n"
            "      --snaplen N       bytes kept per frame (default %u)\n"
            "      --max-output N    cap in bytes on one transfer: a command's output, a\n"
            "                        bulk file, a web response (default %.0f)\n"
            "      --short N         N more chains whose last leg is short (1-8 s): one\n"
            "                        command via `ssh C` inside a 30-45 s login on the\n"
            "                        relay, `ssh -J B C cmd`, a request through socat/nc\n"
            "      --busy N          N unrelated logins kept open into and out of each\n"
            "                        busy relay host (default 0)\n"
            "      --busy-hosts N    relay hosts made busy by --busy (default 1)\n"
            "      --decoys N        N unlabelled one-shot ssh sessions leaving a relay\n"
            "                        host 0.5-4 s after an unrelated login into it\n"
            "      --wan S           each host draws a one-way access delay uniform in\n"
            "                        [1 ms, S] (e.g. 0.15: RTTs up to ~300 ms; default off)\n"
            "  -q, --quiet           no summary on stderr\n"
            "  -h, --help            this help\n",
            d->seed, d->duration_s, d->chains, SYNTH_MAX_HOPS, d->hops_min, d->hops_max,
            d->chaff, d->jitter_s, d->delay_s, d->background, synth_kind_to_string(d->kind),
            d->start_us / 1000000, d->snaplen, d->max_output);
}

/* Parses a non-negative number (seconds, a ratio, bytes); synth_config_check
 * judges the range. */
static int parse_real(const char *opt, const char *s, double *out)
{
    return cliutil_parse_num("synth", opt, s, 0, 1e12, out) < 0 ? -1 : 0;
}

/* Parses a count (chains, background sessions, bytes); synth_config_check
 * judges the range. */
static int parse_count(const char *opt, const char *s, unsigned *out)
{
    int v;
    if (cliutil_parse_int("synth", opt, s, 0, INT_MAX, &v) < 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Parses --hops MIN-MAX, or N for exactly N. */
static int parse_hops(const char *s, unsigned *lo, unsigned *hi)
{
    char buf[32];
    if (strlen(s) >= sizeof buf || !strchr("0123456789", *s) || !*s) {
        fprintf(stderr, "stepstone synth: --hops needs MIN-MAX or N, got '%s'\n", s);
        return -1;
    }
    strcpy(buf, s);
    char *dash = strchr(buf, '-');
    if (!dash) /* a single number: exactly that many */
        return parse_count("--hops", buf, lo) || (*hi = *lo, 0);
    *dash = '\0';
    return parse_count("--hops", buf, lo) || parse_count("--hops", dash + 1, hi);
}

int cmd_synth(int argc, char **argv)
{
    enum { OPT_HOPS = 256, OPT_CHAFF, OPT_JITTER, OPT_DELAY, OPT_START, OPT_SNAPLEN, OPT_MAXOUT,
           OPT_SHORT, OPT_BUSY, OPT_BUSY_HOSTS, OPT_DECOYS, OPT_WAN };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"labels", required_argument, NULL, 'l'},
        {"seed", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"chains", required_argument, NULL, 'c'},
        {"hops", required_argument, NULL, OPT_HOPS},
        {"chaff", required_argument, NULL, OPT_CHAFF},
        {"jitter", required_argument, NULL, OPT_JITTER},
        {"delay", required_argument, NULL, OPT_DELAY},
        {"background", required_argument, NULL, 'b'},
        {"kind", required_argument, NULL, 'k'},
        {"start", required_argument, NULL, OPT_START},
        {"snaplen", required_argument, NULL, OPT_SNAPLEN},
        {"max-output", required_argument, NULL, OPT_MAXOUT},
        {"short", required_argument, NULL, OPT_SHORT},
        {"busy", required_argument, NULL, OPT_BUSY},
        {"busy-hosts", required_argument, NULL, OPT_BUSY_HOSTS},
        {"decoys", required_argument, NULL, OPT_DECOYS},
        {"wan", required_argument, NULL, OPT_WAN},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    synth_config cfg, defaults;
    synth_config_default(&cfg);
    defaults = cfg;
    const char *out = NULL, *lab = NULL;
    int quiet = 0;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:l:s:d:c:b:k:qh", opts, NULL)) != -1) {
        /* values are checked for form here, for range by synth_config_check */
        int bad = 0;
        uint64_t u;
        switch (ch) {
        case 'o': out = optarg; break;
        case 'l': lab = optarg; break;
        case 's': bad = cliutil_parse_u64("synth", "--seed", optarg, UINT64_MAX, &cfg.seed); break;
        case 'd': bad = parse_real("--duration", optarg, &cfg.duration_s); break;
        case 'c': bad = parse_count("--chains", optarg, &cfg.chains); break;
        case 'b': bad = parse_count("--background", optarg, &cfg.background); break;
        case OPT_HOPS: bad = parse_hops(optarg, &cfg.hops_min, &cfg.hops_max); break;
        case OPT_CHAFF: bad = parse_real("--chaff", optarg, &cfg.chaff); break;
        case OPT_JITTER: bad = parse_real("--jitter", optarg, &cfg.jitter_s); break;
        case OPT_DELAY: bad = parse_real("--delay", optarg, &cfg.delay_s); break;
        case OPT_SNAPLEN: bad = parse_count("--snaplen", optarg, &cfg.snaplen); break;
        case OPT_MAXOUT: bad = parse_real("--max-output", optarg, &cfg.max_output); break;
        case OPT_SHORT: bad = parse_count("--short", optarg, &cfg.short_chains); break;
        case OPT_BUSY: bad = parse_count("--busy", optarg, &cfg.busy); break;
        case OPT_BUSY_HOSTS: bad = parse_count("--busy-hosts", optarg, &cfg.busy_hosts); break;
        case OPT_DECOYS: bad = parse_count("--decoys", optarg, &cfg.decoys); break;
        case OPT_WAN: bad = parse_real("--wan", optarg, &cfg.wan_s); break;
        case OPT_START:
            bad = cliutil_parse_u64("synth", "--start", optarg, 4000000000ULL, &u);
            if (!bad)
                cfg.start_us = (int64_t)u * 1000000;
            break;
        case 'k':
            cfg.kind = synth_kind_from_string(optarg);
            if (cfg.kind < 0) {
                fprintf(stderr, "stepstone synth: --kind is ssh, plain or mix, got '%s'\n",
                        optarg);
                bad = 1;
            }
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout, &defaults); return CLI_EXIT_OK;
        default:
            return cliutil_bad_option("synth", "synth", ch, argv[optind - 1]);
        }
        if (bad)
            return CLI_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "stepstone synth: unexpected argument '%s'\n", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (!out || !lab) {
        fprintf(stderr, "stepstone synth: -o OUT.pcap and --labels OUT.csv are required\n");
        return CLI_EXIT_USAGE;
    }
    char errbuf[SS_ERRBUF_SIZE];
    if (synth_config_check(&cfg, errbuf)) {
        fprintf(stderr, "stepstone synth: %s\n", errbuf);
        return CLI_EXIT_USAGE;
    }
    synth_stats st;
    int rc = synth_generate(&cfg, out, lab, &st, errbuf);
    if (rc) {
        fprintf(stderr, "stepstone synth: %s\n", errbuf);
        return rc == SS_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    }
    if (!quiet)
        fprintf(stderr,
                "stepstone synth: %s: %" PRIu64 " packets, %" PRIu64 " bytes, %" PRIu64
                " connections; %s: %" PRIu64 " relay hops\n",
                out, st.packets, st.wire_bytes, st.connections, lab, st.labelled_hops);
    return CLI_EXIT_OK;
}

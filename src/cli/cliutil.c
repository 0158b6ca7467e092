/* cliutil.c - option parsing shared by the subcommands; see cliutil.h. */
#include "cliutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "cli.h"
#include "status.h"
#include "threads.h"

int cliutil_parse_num(const char *cmd, const char *opt, const char *s, double lo, double hi,
                      double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "stepstone %s: %s needs a number from %g to %g, got '%s'\n", cmd, opt,
                lo, hi, s);
        return SS_ERR_ARG;
    }
    *out = v;
    return SS_OK;
}

int cliutil_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
                      int *out)
{
    double v;
    if (cliutil_parse_num(cmd, opt, s, (double)lo, (double)hi, &v) < 0)
        return SS_ERR_ARG;
    if (v != floor(v)) {
        fprintf(stderr, "stepstone %s: %s needs an integer, got '%s'\n", cmd, opt, s);
        return SS_ERR_ARG;
    }
    *out = (int)v;
    return SS_OK;
}

int cliutil_bad_option(const char *cmd, const char *help_cmd, int c, const char *arg)
{
    if (c == ':')
        fprintf(stderr, "stepstone %s: option '%s' needs a value\n", cmd, arg);
    else
        fprintf(stderr, "stepstone %s: unknown option '%s'; see 'stepstone %s --help'\n", cmd,
                arg, help_cmd);
    return CLI_EXIT_USAGE;
}

int cliutil_parse_threads(const char *cmd, const char *s, int *threads)
{
    char err[SS_ERRBUF_SIZE];
    if (threads_parse(s, threads, err) < 0) {
        fprintf(stderr, "stepstone %s: %s\n", cmd, err);
        return SS_ERR_ARG;
    }
    return SS_OK;
}

void cliutil_format_addr(char *buf, size_t n, int family, const uint8_t *a)
{
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)n))
        snprintf(buf, n, "?");
}

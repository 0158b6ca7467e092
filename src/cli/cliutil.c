/* cliutil.c - outputs, warnings and option parsing shared by the
 * subcommands; see cliutil.h. */
#include "cliutil.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "status.h"
#include "threads.h"

int cliutil_out_open(cliutil_out *o, const char *cmd, const char *path)
{
    memset(o, 0, sizeof(*o));
    o->cmd = cmd;
    if (path) {
        char err[SS_ERRBUF_SIZE];
        int rc = outfile_open(&o->file, path, err);
        if (rc < 0) {
            fprintf(stderr, "stepstone %s: %s\n", cmd, err);
            return rc;
        }
        o->f = o->file.f;
        return SS_OK;
    }
    int fd = dup(STDOUT_FILENO);
    o->f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!o->f) {
        if (fd >= 0)
            close(fd);
        o->f = stdout; /* no descriptor to spare: stdout itself */
    }
    return SS_OK;
}

int cliutil_out_close(cliutil_out *o, int ok)
{
    if (!o->f)
        return ok ? SS_OK : SS_ERR_IO;
    if (o->file.f) {
        o->f = NULL;
        if (!ok) {
            outfile_abort(&o->file);
            return SS_ERR_IO;
        }
        char err[SS_ERRBUF_SIZE];
        int rc = outfile_commit(&o->file, err);
        if (rc < 0)
            fprintf(stderr, "stepstone %s: %s\n", o->cmd, err);
        return rc;
    }
    errno = 0;
    int bad = fflush(o->f) != 0 || ferror(o->f);
    int e = errno;
    if (o->f != stdout && fclose(o->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    o->f = NULL;
    if (!ok)
        return SS_ERR_IO;
    if (bad) {
        fprintf(stderr, "stepstone %s: cannot write the output: %s\n", o->cmd,
                e ? strerror(e) : "write error");
        return SS_ERR_IO;
    }
    return SS_OK;
}

void cliutil_warn(void *ctx, const char *msg)
{
    fprintf(stderr, "stepstone %s: warning: %s\n", ctx ? (const char *)ctx : "", msg);
}

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
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "stepstone %s: %s needs an integer from %ld to %ld, got '%s'\n", cmd,
                opt, lo, hi, s);
        return SS_ERR_ARG;
    }
    *out = (int)v;
    return SS_OK;
}

int cliutil_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t max,
                      uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[strspn(s, " \t")] == '-' || s[strspn(s, " \t")] == '+' || end == s || *end ||
        errno || v > max) {
        fprintf(stderr, "stepstone %s: %s needs a non-negative integer, got '%s'\n", cmd, opt,
                s);
        return SS_ERR_ARG;
    }
    *out = (uint64_t)v;
    return SS_OK;
}

int cliutil_parse_seconds(const char *cmd, const char *opt, const char *s, int allow_zero,
                          double max_s, int64_t *us)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < 0 || (v == 0 && !allow_zero) ||
        v > max_s) {
        if (allow_zero)
            fprintf(stderr, "stepstone %s: %s needs a number of seconds from 0 to %g, got '%s'\n",
                    cmd, opt, max_s, s);
        else
            fprintf(stderr, "stepstone %s: %s needs a positive number of seconds, got '%s'\n",
                    cmd, opt, s);
        return SS_ERR_ARG;
    }
    *us = (int64_t)llround(v * 1e6);
    if (*us < 1 && v > 0)
        *us = 1;
    return SS_OK;
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

int cliutil_bad_option(const char *cmd, const char *help_cmd, int c, const char *arg)
{
    if (c == ':')
        fprintf(stderr, "stepstone %s: option '%s' needs a value\n", cmd, arg);
    else
        fprintf(stderr, "stepstone %s: unknown option '%s'; see 'stepstone %s --help'\n", cmd,
                arg, help_cmd);
    return CLI_EXIT_USAGE;
}

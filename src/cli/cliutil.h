/* cliutil.h - what the subcommands (see cli.h) share: their outputs, their
 * warning callback and the parsing of option values.
 *
 * Each helper reports a problem on stderr in one line, prefixed with
 * "stepstone CMD: " where cmd is the subcommand's name as the user typed it
 * ("train", "train sessions", ...), so every subcommand words its errors
 * alike. No state; the strings stay owned by the caller.
 */
#ifndef STEPSTONE_CLIUTIL_H
#define STEPSTONE_CLIUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "outfile.h"

/* One output of a subcommand (-o, --dot, --roc, ...): stdout, through a
 * descriptor of its own so that closing it reports every write error, or a
 * file written atomically (src/outfile.h: kept mode, FIFOs and devices
 * written directly, nothing left behind on failure). */
typedef struct cliutil_out {
    FILE *f;          /* write here */
    outfile file;     /* the file (file.f == NULL for stdout) */
    const char *cmd;  /* for messages */
} cliutil_out;

/* Opens o on path (NULL: stdout) for command cmd. Returns 0, or a negative
 * ss_status after printing why (o is then closed). */
int cliutil_out_open(cliutil_out *o, const char *cmd, const char *path);

/* Closes o: when ok, commits the file (or flushes stdout) and returns 0, or
 * a negative ss_status after printing why; when !ok, abandons the file
 * (nothing replaced) and returns SS_ERR_IO. Safe on a closed or zeroed o. */
int cliutil_out_close(cliutil_out *o, int ok);

/* Warning callback (pcapsrc_warn_fn) of every subcommand: prints
 * "stepstone CTX: warning: MSG"; ctx is the command name (const char *). */
void cliutil_warn(void *ctx, const char *msg);

/* Parses s, the value of option opt, as a finite number in [lo, hi] into
 * *out. Returns 0, or SS_ERR_ARG after printing why (and leaves *out). */
int cliutil_parse_num(const char *cmd, const char *opt, const char *s, double lo, double hi,
                      double *out);

/* As cliutil_parse_num, for a decimal integer in [lo, hi] stored in *out. */
int cliutil_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
                      int *out);

/* Parses s as a non-negative decimal integer of 64 bits (a seed, a time in
 * seconds) at most max into *out; SS_ERR_ARG after printing why. */
int cliutil_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t max,
                      uint64_t *out);

/* Parses s as a duration in seconds, at most max_s, into microseconds in
 * *us (rounded; at least 1 us when s is above 0). allow_zero: 0 is allowed
 * (an option that 0 turns off), else the duration must be positive.
 * Returns 0, or SS_ERR_ARG after printing why. */
int cliutil_parse_seconds(const char *cmd, const char *opt, const char *s, int allow_zero,
                          double max_s, int64_t *us);

/* Parses a --threads value, N (1..1024) or 'auto' (all cores: 0), into
 * *threads (threads_parse). Returns 0, or SS_ERR_ARG after printing why. */
int cliutil_parse_threads(const char *cmd, const char *s, int *threads);

/* Reports getopt_long's error c (':' a missing value, anything else an
 * unknown option) about option arg (argv[optind - 1]), pointing to
 * `stepstone HELP_CMD --help`; returns CLI_EXIT_USAGE. */
int cliutil_bad_option(const char *cmd, const char *help_cmd, int c, const char *arg);

#endif

/* cliutil.h - option parsing shared by the subcommands (see cli.h).
 *
 * Each helper reports a bad value on stderr in one line, prefixed with
 * "stepstone CMD: " where cmd is the subcommand's name as the user typed it
 * ("train", "train sessions", ...), so every subcommand words its usage
 * errors alike. No state; the strings stay owned by the caller.
 */
#ifndef STEPSTONE_CLIUTIL_H
#define STEPSTONE_CLIUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Parses s, the value of option opt, as a finite number in [lo, hi] into
 * *out. Returns 0, or SS_ERR_ARG after printing why (and leaves *out). */
int cliutil_parse_num(const char *cmd, const char *opt, const char *s, double lo, double hi,
                      double *out);

/* As cliutil_parse_num, for an integer in [lo, hi] stored in *out. */
int cliutil_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
                      int *out);

/* Reports getopt_long's error c (':' a missing value, anything else an
 * unknown option) about option arg (argv[optind - 1]), pointing to
 * `stepstone HELP_CMD --help`; returns CLI_EXIT_USAGE. */
int cliutil_bad_option(const char *cmd, const char *help_cmd, int c, const char *arg);

/* Parses a --threads value into *threads (threads_parse). Returns 0, or
 * SS_ERR_ARG after printing the reason. */
int cliutil_parse_threads(const char *cmd, const char *s, int *threads);

/* Writes address a (16 bytes as in packet_t; family 4 or 6) as text into
 * buf[0..n) for the subcommands' outputs; "?" when it does not fit. */
void cliutil_format_addr(char *buf, size_t n, int family, const uint8_t *a);

#endif

/* status.h - error codes and messages shared by every module.
 *
 * Functions that can fail return int: 0 (SS_OK) on success, a negative
 * ss_status code on failure. Those that take `char *errbuf` write a one-line,
 * human-readable message into it (SS_ERRBUF_SIZE bytes, owned by the caller).
 */
#ifndef STEPSTONE_STATUS_H
#define STEPSTONE_STATUS_H

#define SS_ERRBUF_SIZE 512

enum ss_status {
    SS_OK = 0,
    SS_ERR_NOMEM = -1,       /* allocation failed */
    SS_ERR_IO = -2,          /* cannot open, read or write a file */
    SS_ERR_FORMAT = -3,      /* input is not in the expected format / corrupt */
    SS_ERR_ARG = -4,         /* invalid argument or option */
    SS_ERR_TRUNCATED = -5,   /* input ends early */
    SS_ERR_UNSUPPORTED = -6, /* valid but not supported (e.g. link type) */
    SS_ERR_EMPTY = -7,       /* input holds nothing to work on */
    SS_ERR_VERSION = -8,     /* wrong format version */
    SS_ERR_CHECKSUM = -9,    /* checksum mismatch */
    SS_ERR_SHAPE = -10,      /* tensor/config shapes disagree */
    SS_ERR_INTERNAL = -11    /* a bug: should not happen */
};

/* Short text for a status code, for messages; never NULL. */
const char *ss_status_to_string(int code);

/* Formats a message into errbuf (if not NULL) and returns code, so a
 * failure is reported in one line: `return ss_errf(errbuf, SS_ERR_IO, ...)`. */
int ss_errf(char *errbuf, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

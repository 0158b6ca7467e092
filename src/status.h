/* status.h - error codes and messages shared by every module.
 *
 * Functions that can fail return int: 0 (SS_OK) on success, a negative
 * ss_status code on failure. Those that take `char *errbuf` write a one-line,
 * human-readable message into it (SS_ERRBUF_SIZE bytes, owned by the caller).
 */
#ifndef STEPSTONE_STATUS_H
#define STEPSTONE_STATUS_H

#include <stddef.h>

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

/* Room for ss_escape's output of a short piece of input text (a field, a
 * key): up to 64 input bytes, each at most 4 characters, and the NUL. */
#define SS_ESCAPE_SIZE (4 * 64 + 4)

/* Copies the n bytes of src into dst (size bytes, NUL-terminated) so they are
 * safe to print on a terminal: control bytes (0x00-0x1f, 0x7f), C1 controls
 * (U+0080-U+009F), bytes that are not valid UTF-8 and the backslash become
 * \xNN (\\ for a backslash); valid printable UTF-8 is kept. What does not fit
 * is cut at a character boundary and "..." ends dst. Every message that
 * quotes input text (a labels field, a model key, a capture name) passes it
 * through here. Returns dst. */
const char *ss_escape(char *dst, size_t size, const char *src, size_t n);

#endif

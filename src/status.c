/* status.c - error codes and messages shared by every module. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

const char *ss_status_to_string(int code)
{
    switch (code) {
    case SS_OK: return "ok";
    case SS_ERR_NOMEM: return "out of memory";
    case SS_ERR_IO: return "I/O error";
    case SS_ERR_FORMAT: return "bad format";
    case SS_ERR_ARG: return "invalid argument";
    case SS_ERR_TRUNCATED: return "truncated input";
    case SS_ERR_UNSUPPORTED: return "unsupported";
    case SS_ERR_EMPTY: return "empty input";
    case SS_ERR_VERSION: return "wrong version";
    case SS_ERR_CHECKSUM: return "checksum mismatch";
    case SS_ERR_SHAPE: return "shape mismatch";
    case SS_ERR_INTERNAL: return "internal error";
    default: return "unknown error";
    }
}

int ss_errf(char *errbuf, int code, const char *fmt, ...)
{
    if (errbuf) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, SS_ERRBUF_SIZE, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* status.c - error codes and messages shared by every module. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* Length of the valid UTF-8 sequence at s (n bytes left) that is not a
 * control character, or 0. Overlong forms, surrogates and values above
 * U+10FFFF are invalid; U+0080-U+009F are C1 controls. */
static size_t utf8_printable(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c >= 0x20 && c < 0x7f)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return len;
}

/* The escaped form of the character at s (n bytes left) into piece (4
 * bytes, not NUL-terminated): its length, and *used the input bytes it covers. */
static size_t escape_piece(char *piece, const unsigned char *s, size_t n, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = utf8_printable(s, n);
    if (len == 1 && s[0] == '\\') {
        piece[0] = piece[1] = '\\';
        *used = 1;
        return 2;
    }
    if (len) {
        memcpy(piece, s, len);
        *used = len;
        return len;
    }
    piece[0] = '\\';
    piece[1] = 'x';
    piece[2] = hex[s[0] >> 4];
    piece[3] = hex[s[0] & 15];
    *used = 1;
    return 4;
}

const char *ss_escape(char *dst, size_t size, const char *src, size_t n)
{
    if (size == 0)
        return dst;
    const unsigned char *s = (const unsigned char *)src;
    char piece[4];
    size_t used, total = 0;
    for (size_t k = 0; k < n && total < size; k += used)
        total += escape_piece(piece, s + k, n - k, &used);
    /* all of it, or what fits with "..." after it */
    size_t room = total < size ? size - 1 : (size > 4 ? size - 4 : 0);
    size_t o = 0;
    for (size_t k = 0; k < n; k += used) {
        size_t plen = escape_piece(piece, s + k, n - k, &used);
        if (o + plen > room)
            break;
        memcpy(dst + o, piece, plen);
        o += plen;
    }
    if (total >= size && size >= 4) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
    return dst;
}

/* labels.c - relay ground truth: reading and writing labels.csv. */
#include "labels.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "infile.h"
#include "outfile.h"
#include "status.h"

#define LABELS_NFIELDS 13

void labels_init(labels *set)
{
    set->hops = NULL;
    set->n = 0;
    set->cap = 0;
}

void labels_free(labels *set)
{
    if (!set)
        return;
    free(set->hops);
    labels_init(set);
}

int labels_append(labels *set, const labels_hop *hop, char *errbuf)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        labels_hop *h = realloc(set->hops, cap * sizeof *h);
        if (!h)
            return ss_errf(errbuf, SS_ERR_NOMEM, "labels: out of memory for %zu rows", cap);
        set->hops = h;
        set->cap = cap;
    }
    set->hops[set->n++] = *hop;
    return SS_OK;
}

/* Parses an IPv4 or IPv6 address; returns 0 or -1. */
static int parse_addr(const char *s, uint8_t *family, uint8_t *addr)
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        *family = 6;
        return 0;
    }
    return -1;
}

static int parse_port(const char *s, uint16_t *port)
{
    if (!*s || strlen(s) > 5)
        return -1;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    if (!*s || strlen(s) > 10)
        return -1;
    unsigned long long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (unsigned long long)(*p - '0');
    }
    if (v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Parses "SECONDS[.FRACTION]" (up to 6 fraction digits) exactly into us. */
static int parse_time(const char *s, int64_t *us)
{
    int64_t sec = 0, frac = 0;
    int nint = 0, nfrac = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++, nint++) {
        if (nint >= 12)
            return -1;
        sec = sec * 10 + (*p - '0');
    }
    if (nint == 0)
        return -1;
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, nfrac++) {
            if (nfrac >= 6)
                return -1;
            frac = frac * 10 + (*p - '0');
        }
        if (nfrac == 0)
            return -1;
    }
    if (*p)
        return -1;
    for (int k = nfrac; k < 6; k++)
        frac *= 10;
    *us = sec * 1000000 + frac;
    return 0;
}

static int parse_kind(const char *s, char *kind)
{
    size_t n = strlen(s);
    if (n == 0 || n >= LABELS_KIND_SIZE)
        return -1;
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)s[k];
        if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
            return -1;
    }
    memcpy(kind, s, n + 1);
    return 0;
}

/* Parses the endpoint in fields ip and port; returns the index of the bad
 * field or -1 when both are fine. */
static int parse_endpoint(char **f, int ip, int port, labels_endpoint *ep)
{
    if (parse_addr(f[ip], &ep->family, ep->addr))
        return ip;
    if (parse_port(f[port], &ep->port))
        return port;
    return -1;
}

static const char *const field_names[LABELS_NFIELDS] = {
    "chain_id", "kind", "relay_host_ip", "in_src_ip", "in_src_port", "in_dst_ip",
    "in_dst_port", "out_src_ip", "out_src_port", "out_dst_ip", "out_dst_port",
    "start_time", "end_time"
};

/* Parses one data line (already stripped of its newline). */
static int parse_line(char *line, labels_hop *hop, const char *name, size_t lineno,
                      char *errbuf)
{
    char *f[LABELS_NFIELDS];
    int nf = 0;
    char *p = line;
    for (;;) {
        if (nf == LABELS_NFIELDS)
            return ss_errf(errbuf, SS_ERR_FORMAT,
                           "%s:%zu: more than %d fields", name, lineno, LABELS_NFIELDS);
        f[nf++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    if (nf != LABELS_NFIELDS)
        return ss_errf(errbuf, SS_ERR_FORMAT, "%s:%zu: %d fields, expected %d",
                       name, lineno, nf, LABELS_NFIELDS);
    memset(hop, 0, sizeof *hop);
    int bad = -1;
    if (parse_u32(f[0], &hop->chain_id))
        bad = 0;
    else if (parse_kind(f[1], hop->kind))
        bad = 1;
    else if (parse_addr(f[2], &hop->relay_family, hop->relay_addr))
        bad = 2;
    else if ((bad = parse_endpoint(f, 3, 4, &hop->in_src)) >= 0)
        ;
    else if ((bad = parse_endpoint(f, 5, 6, &hop->in_dst)) >= 0)
        ;
    else if ((bad = parse_endpoint(f, 7, 8, &hop->out_src)) >= 0)
        ;
    else if ((bad = parse_endpoint(f, 9, 10, &hop->out_dst)) >= 0)
        ;
    else if (parse_time(f[11], &hop->start_us))
        bad = 11;
    else if (parse_time(f[12], &hop->end_us))
        bad = 12;
    if (bad >= 0) {
        char esc[SS_ESCAPE_SIZE]; /* the field's bytes, safe for a terminal */
        return ss_errf(errbuf, SS_ERR_FORMAT, "%s:%zu: bad %s '%s'", name, lineno,
                       field_names[bad], ss_escape(esc, sizeof(esc), f[bad], strlen(f[bad])));
    }
    if (hop->end_us < hop->start_us)
        return ss_errf(errbuf, SS_ERR_FORMAT, "%s:%zu: end_time before start_time",
                       name, lineno);
    return SS_OK;
}

int labels_read_stream(labels *set, FILE *f, const char *name, char *errbuf)
{
    size_t first = set->n;
    char *line = NULL;
    size_t cap = 0;
    size_t lineno = 0;
    int rc = SS_OK;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (lineno == 1) {
            if (strcmp(line, LABELS_HEADER)) {
                rc = ss_errf(errbuf, SS_ERR_FORMAT,
                             "%s:1: not a labels file (expected the header '%.40s...')",
                             name, LABELS_HEADER);
                break;
            }
            continue;
        }
        if (len == 0) {
            rc = ss_errf(errbuf, SS_ERR_FORMAT, "%s:%zu: empty line", name, lineno);
            break;
        }
        if ((size_t)len != strlen(line)) {
            rc = ss_errf(errbuf, SS_ERR_FORMAT, "%s:%zu: NUL byte in line", name, lineno);
            break;
        }
        labels_hop hop;
        rc = parse_line(line, &hop, name, lineno, errbuf);
        if (rc)
            break;
        rc = labels_append(set, &hop, errbuf);
        if (rc)
            break;
    }
    free(line);
    if (!rc && ferror(f))
        rc = ss_errf(errbuf, SS_ERR_IO, "%s: read error: %s", name, strerror(errno));
    if (!rc && lineno == 0)
        rc = ss_errf(errbuf, SS_ERR_EMPTY, "%s: empty file (no header line)", name);
    if (rc)
        set->n = first;
    return rc;
}

int labels_read(labels *set, const char *path, char *errbuf)
{
    FILE *f;
    int rc = infile_open(&f, path, NULL, 0, errbuf); /* a FIFO with no writer: refused */
    if (rc)
        return rc;
    rc = labels_read_stream(set, f, path, errbuf);
    fclose(f);
    return rc;
}

static void format_addr(uint8_t family, const uint8_t *addr, char *out, size_t len)
{
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, out, (socklen_t)len))
        snprintf(out, len, "?");
}

int labels_format_hop(const labels_hop *hop, char *buf, size_t len)
{
    char relay[INET6_ADDRSTRLEN], is[INET6_ADDRSTRLEN], id[INET6_ADDRSTRLEN];
    char os[INET6_ADDRSTRLEN], od[INET6_ADDRSTRLEN];
    format_addr(hop->relay_family, hop->relay_addr, relay, sizeof relay);
    format_addr(hop->in_src.family, hop->in_src.addr, is, sizeof is);
    format_addr(hop->in_dst.family, hop->in_dst.addr, id, sizeof id);
    format_addr(hop->out_src.family, hop->out_src.addr, os, sizeof os);
    format_addr(hop->out_dst.family, hop->out_dst.addr, od, sizeof od);
    return snprintf(buf, len,
                    "%u,%s,%s,%s,%u,%s,%u,%s,%u,%s,%u,%lld.%06lld,%lld.%06lld",
                    hop->chain_id, hop->kind, relay, is, hop->in_src.port, id,
                    hop->in_dst.port, os, hop->out_src.port, od, hop->out_dst.port,
                    (long long)(hop->start_us / 1000000), (long long)(hop->start_us % 1000000),
                    (long long)(hop->end_us / 1000000), (long long)(hop->end_us % 1000000));
}

int labels_write_stream(const labels *set, FILE *f, char *errbuf)
{
    char row[512];
    if (fprintf(f, "%s\n", LABELS_HEADER) < 0)
        return ss_errf(errbuf, SS_ERR_IO, "labels: write error: %s", strerror(errno));
    for (size_t k = 0; k < set->n; k++) {
        if (set->hops[k].start_us < 0 || set->hops[k].end_us < 0)
            return ss_errf(errbuf, SS_ERR_ARG, "labels: row %zu has a negative time", k + 1);
        labels_format_hop(&set->hops[k], row, sizeof row);
        if (fprintf(f, "%s\n", row) < 0)
            return ss_errf(errbuf, SS_ERR_IO, "labels: write error: %s", strerror(errno));
    }
    return SS_OK;
}

int labels_write(const labels *set, const char *path, char *errbuf)
{
    outfile o; /* a temporary renamed into place, removed on a signal */
    int rc = outfile_open(&o, path, errbuf);
    if (rc)
        return rc;
    if ((rc = labels_write_stream(set, o.f, errbuf))) {
        outfile_abort(&o);
        return rc;
    }
    return outfile_commit(&o, errbuf);
}

static int endpoint_is(const labels_endpoint *ep, uint8_t family, const uint8_t *addr,
                       uint16_t port)
{
    size_t alen = family == 6 ? 16 : 4;
    return ep->family == family && ep->port == port && !memcmp(ep->addr, addr, alen);
}

static int conn_is(const labels_endpoint *s, const labels_endpoint *d, uint8_t family,
                   const uint8_t *a, uint16_t aport, const uint8_t *b, uint16_t bport)
{
    return (endpoint_is(s, family, a, aport) && endpoint_is(d, family, b, bport)) ||
           (endpoint_is(s, family, b, bport) && endpoint_is(d, family, a, aport));
}

int labels_conn_role(const labels *set, uint8_t family, const uint8_t *a,
                     uint16_t aport, const uint8_t *b, uint16_t bport)
{
    int role = LABELS_ROLE_NONE;
    for (size_t k = 0; k < set->n; k++) {
        const labels_hop *h = &set->hops[k];
        if (conn_is(&h->in_src, &h->in_dst, family, a, aport, b, bport))
            role |= LABELS_ROLE_IN;
        if (conn_is(&h->out_src, &h->out_dst, family, a, aport, b, bport))
            role |= LABELS_ROLE_OUT;
    }
    return role;
}

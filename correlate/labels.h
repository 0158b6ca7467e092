/* labels.h - relay ground truth: reading and writing labels.csv.
 *
 * A labels file lists the relay hops of a capture, one row per relay host:
 * the connection coming into the relay (in_*) and the connection going out of
 * it (out_*). Every connection of the capture that is not in a row is a
 * negative. The format is documented in datasets/README.md:
 *
 *   chain_id,kind,relay_host_ip,in_src_ip,in_src_port,in_dst_ip,in_dst_port,
 *   out_src_ip,out_src_port,out_dst_ip,out_dst_port,start_time,end_time
 *
 * with a header line, IPv4 or IPv6 addresses in text form, ports in decimal
 * and times in epoch seconds with six decimals (microseconds).
 *
 * Ownership: a labels set owns its rows (set->hops); a pointer into them is
 * valid until the next labels_append, labels_read or labels_free on that set.
 */
#ifndef STEPSTONE_LABELS_H
#define STEPSTONE_LABELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LABELS_KIND_SIZE 16 /* kind text including its NUL */

/* The header line of labels.csv, without the newline. */
#define LABELS_HEADER "chain_id,kind,relay_host_ip,in_src_ip,in_src_port,in_dst_ip," \
    "in_dst_port,out_src_ip,out_src_port,out_dst_ip,out_dst_port,start_time,end_time"

/* One endpoint of a connection; IPv4 uses addr[0..4), like packet_t. */
typedef struct labels_endpoint {
    uint8_t family;     /* 4 or 6 */
    uint8_t addr[16];
    uint16_t port;
} labels_endpoint;

/* One relay hop pair: the connection into a relay host and the one out. */
typedef struct labels_hop {
    uint32_t chain_id;              /* hops of one chain share it */
    char kind[LABELS_KIND_SIZE];    /* relay program: "ssh", "socat", "nc", ... */
    uint8_t relay_family;           /* 4 or 6 */
    uint8_t relay_addr[16];         /* the relay host */
    labels_endpoint in_src, in_dst; /* connection from upstream to the relay */
    labels_endpoint out_src, out_dst; /* connection from the relay downstream */
    int64_t start_us;               /* first packet of either leg, us since the epoch */
    int64_t end_us;                 /* last packet of either leg, us since the epoch */
} labels_hop;

/* A growable list of hops. Zero-initialise it or call labels_init. */
typedef struct labels {
    labels_hop *hops;
    size_t n;
    size_t cap;
} labels;

/* Role of a connection in a labels set (see labels_conn_role). */
enum labels_role {
    LABELS_ROLE_NONE = 0, /* not labelled: a negative */
    LABELS_ROLE_IN = 1,   /* the incoming leg of at least one hop */
    LABELS_ROLE_OUT = 2,  /* the outgoing leg of at least one hop */
    LABELS_ROLE_BOTH = 3  /* middle legs of 3+-hop chains are both */
};

/* Makes an empty set. */
void labels_init(labels *set);

/* Frees the rows of set and empties it; NULL is a no-op. */
void labels_free(labels *set);

/* Appends a copy of *hop. Returns 0 or SS_ERR_NOMEM. */
int labels_append(labels *set, const labels_hop *hop, char *errbuf);

/* Reads a labels file into set (which must be empty or initialised; rows are
 * appended). Refuses a missing or wrong header, a wrong number of fields,
 * bad addresses, ports, times or an end before the start, with the file name
 * and line number in errbuf. Returns 0 or a negative ss_status; on failure
 * set holds no rows read from this file. */
int labels_read(labels *set, const char *path, char *errbuf);

/* Same as labels_read on an open stream; name is used in messages. */
int labels_read_stream(labels *set, FILE *f, const char *name, char *errbuf);

/* Writes the header and every row to f. Returns 0 or SS_ERR_IO. */
int labels_write_stream(const labels *set, FILE *f, char *errbuf);

/* Writes set to path through a temporary file renamed into place (an
 * outfile, src/outfile.h), so a reader never sees half a file. Returns 0 or
 * a negative ss_status. */
int labels_write(const labels *set, const char *path, char *errbuf);

/* Formats one row (no newline) into buf of size len; returns what snprintf
 * returns. */
int labels_format_hop(const labels_hop *hop, char *buf, size_t len);

/* Says whether the connection between (a, aport) and (b, bport), in either
 * direction, is a labelled leg: a labels_role. family is 4 or 6; addresses are
 * 4 or 16 bytes as in packet_t. */
int labels_conn_role(const labels *set, uint8_t family, const uint8_t *a,
                     uint16_t aport, const uint8_t *b, uint16_t bport);

#endif

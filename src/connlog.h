/* connlog.h - writes connection records as a Zeek-like conn log.
 *
 * Two formats (described in docs/formats.md):
 *   - TSV: one "#fields" header line, then one line per connection with
 *     ts uid orig_h orig_p resp_h resp_p proto duration orig_bytes
 *     resp_bytes conn_state orig_pkts resp_pkts (tab separated);
 *   - JSON lines: one object per connection with the same fields (Zeek's
 *     names: "id.orig_h", ...) plus orig_retrans, resp_retrans, end_reason
 *     and, with CONNLOG_PACKETS, the packet record.
 * Times are printed from integer microseconds, so the text is the same on
 * every machine. The caller owns the FILE and checks ferror() at the end.
 */
#ifndef STEPSTONE_CONNLOG_H
#define STEPSTONE_CONNLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conntab.h"

enum connlog_format {
    CONNLOG_FORMAT_TSV = 0,
    CONNLOG_FORMAT_JSON = 1
};

/* Flags for connlog_write_record. */
enum connlog_flag {
    CONNLOG_PACKETS = 1 /* JSON: add "packets":[[dt_us,dir,len,flags,retrans],...] */
};

#define CONNLOG_ADDR_SIZE 48 /* enough for any IPv6 text address */

/* Writes the header for a format (TSV: the "#fields" line; JSON: nothing).
 * Returns 0 or SS_ERR_IO. */
int connlog_write_header(FILE *f, int format, char *errbuf);

/* Writes one connection as one line. flags: connlog_flag bits. Returns 0 or
 * SS_ERR_IO. */
int connlog_write_record(FILE *f, const conntab_record *r, int format,
                         unsigned flags, char *errbuf);

/* Text of an address (inet_ntop) into buf[CONNLOG_ADDR_SIZE]. */
void connlog_format_addr(char *buf, int family, const uint8_t *addr);

/* Zeek's name of a transport protocol: "tcp", "udp", "icmp" (ICMPv6 too),
 * "unknown_transport" otherwise. */
const char *connlog_proto_name(int proto);

#endif

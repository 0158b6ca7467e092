/* connlog.c - TSV and JSON-lines conn log writers (see connlog.h). */
#include "connlog.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>

#include "status.h"

static const char *const fields_line =
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration"
    "\torig_bytes\tresp_bytes\tconn_state\torig_pkts\tresp_pkts\n";

void connlog_format_addr(char *buf, int family, const uint8_t *addr)
{
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, CONNLOG_ADDR_SIZE))
        strcpy(buf, "-");
}

const char *connlog_proto_name(int proto)
{
    switch (proto) {
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6: return "icmp";
    default: return "unknown_transport";
    }
}

/* Microseconds as seconds with 6 decimals, exactly. */
static void format_us(char *buf, size_t n, int64_t us)
{
    const char *sign = "";
    uint64_t u = (uint64_t)us;
    if (us < 0) {
        sign = "-";
        u = (uint64_t)0 - (uint64_t)us;
    }
    snprintf(buf, n, "%s%" PRIu64 ".%06" PRIu64, sign, u / 1000000, u % 1000000);
}

int connlog_write_header(FILE *f, int format, char *errbuf)
{
    if (format == CONNLOG_FORMAT_TSV && fputs(fields_line, f) < 0)
        return ss_errf(errbuf, SS_ERR_IO, "cannot write the conn log header");
    return SS_OK;
}

static int write_packets(FILE *f, const conntab_record *r)
{
    if (fputs(",\"packets\":[", f) < 0)
        return -1;
    for (uint32_t i = 0; i < r->n_pkts; i++) {
        const conntab_pkt *k = &r->pkts[i];
        if (fprintf(f, "%s[%" PRId64 ",%u,%" PRIu32 ",%u,%u]", i ? "," : "", k->dt_us,
                    k->dir, k->payload_len, k->tcp_flags, k->retrans) < 0)
            return -1;
    }
    return fputc(']', f) < 0 ? -1 : 0;
}

int connlog_write_record(FILE *f, const conntab_record *r, int format,
                         unsigned flags, char *errbuf)
{
    char oh[CONNLOG_ADDR_SIZE], rh[CONNLOG_ADDR_SIZE], ts[32], dur[32];
    connlog_format_addr(oh, r->family, r->orig_h);
    connlog_format_addr(rh, r->family, r->resp_h);
    format_us(ts, sizeof(ts), r->start_us);
    format_us(dur, sizeof(dur), r->end_us - r->start_us);
    const char *proto = connlog_proto_name(r->proto);
    const char *state = conntab_state_to_string(r->state);
    int bad;
    if (format == CONNLOG_FORMAT_TSV) {
        bad = fprintf(f,
                      "%s\t%s\t%s\t%u\t%s\t%u\t%s\t%s\t%" PRIu64 "\t%" PRIu64
                      "\t%s\t%" PRIu64 "\t%" PRIu64 "\n",
                      ts, r->uid, oh, r->orig_p, rh, r->resp_p, proto, dur, r->orig_bytes,
                      r->resp_bytes, state, r->orig_pkts, r->resp_pkts) < 0;
    } else {
        bad = fprintf(f,
                      "{\"ts\":%s,\"uid\":\"%s\",\"id.orig_h\":\"%s\",\"id.orig_p\":%u,"
                      "\"id.resp_h\":\"%s\",\"id.resp_p\":%u,\"proto\":\"%s\","
                      "\"duration\":%s,\"orig_bytes\":%" PRIu64 ",\"resp_bytes\":%" PRIu64
                      ",\"conn_state\":\"%s\",\"orig_pkts\":%" PRIu64 ",\"resp_pkts\":%" PRIu64
                      ",\"orig_retrans\":%" PRIu64 ",\"resp_retrans\":%" PRIu64
                      ",\"end_reason\":\"%s\"",
                      ts, r->uid, oh, r->orig_p, rh, r->resp_p, proto, dur, r->orig_bytes,
                      r->resp_bytes, state, r->orig_pkts, r->resp_pkts, r->orig_retrans,
                      r->resp_retrans, conntab_end_to_string(r->end_reason)) < 0;
        if (!bad && (flags & CONNLOG_PACKETS))
            bad = write_packets(f, r) < 0;
        if (!bad)
            bad = fputs("}\n", f) < 0;
    }
    if (bad)
        return ss_errf(errbuf, SS_ERR_IO, "cannot write a conn log line");
    return SS_OK;
}

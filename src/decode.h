/* decode.h - link, network and transport decoding of one captured frame.
 *
 * decode_frame() turns the bytes of one frame (as libpcap gives them, with its
 * DLT_ link type) into a packet_t. Frames that are not IPv4/IPv6 TCP, UDP,
 * ICMP or ICMPv6, fragments, and malformed frames are not errors: they come
 * back as a decode_result other than DECODE_OK and the caller counts them
 * (decode_stats) and moves on. decode_frame never reads past caplen.
 *
 * Link types: Ethernet (with 802.1Q, QinQ 0x88a8/0x9100, MPLS, PPPoE, SNAP),
 * Linux cooked v1/v2, raw IP (12, 14, 101, DLT_IPV4, DLT_IPV6), BSD
 * NULL/LOOP (either byte order), NFLOG. payload_len is taken from the IP
 * lengths; when they claim more than was captured, ip_len_trunc is set.
 * IPv6 atomic fragments (offset 0, M=0) decode as whole packets; other
 * fragments are DECODE_FRAGMENT. Only the fixed transport header must be
 * captured (TCP options may be cut). Checksums are not verified.
 */
#ifndef STEPSTONE_DECODE_H
#define STEPSTONE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

enum decode_result {
    DECODE_OK = 0,
    DECODE_NOT_IP,           /* ARP, LLDP, STP, ...: not an IP packet */
    DECODE_FRAGMENT,         /* IPv4/IPv6 fragment */
    DECODE_OTHER_PROTO,      /* IP, but not TCP/UDP/ICMP/ICMPv6 */
    DECODE_TRUNCATED,        /* capture cut the frame before the headers ended */
    DECODE_MALFORMED,        /* headers inconsistent (bad lengths, versions) */
    DECODE_UNKNOWN_LINKTYPE, /* DLT_ value we do not decode */
    DECODE_RESULT_COUNT
};

/* Counts of frames per decode_result; the caller owns and zeroes it. */
typedef struct decode_stats {
    uint64_t count[DECODE_RESULT_COUNT];
} decode_stats;

/* Short name of a decode_result ("fragment", ...), for summaries; never NULL. */
const char *decode_result_to_string(int result);

/* Whether a DLT_ link type is one decode_frame understands, so a reader can
 * refuse a capture up front instead of skipping every frame. */
int decode_linktype_supported(int linktype);

/* Decodes one frame of the given DLT_ link type into *out, filling ts_us from
 * ts_us and wire_len from wire_len. Returns a decode_result; *out is valid
 * only for DECODE_OK. */
int decode_frame(packet_t *out, int linktype, const uint8_t *data,
                 size_t caplen, uint32_t wire_len, int64_t ts_us);

#endif

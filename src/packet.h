/* packet.h - one decoded packet: the data passed from capture to connections.
 *
 * The capture stage (pcapsrc + decode) produces these; the connection table
 * (conntab) consumes them. A packet_t holds no pointers into capture buffers,
 * so it can be copied, queued or sent to another process as it is.
 */
#ifndef STEPSTONE_PACKET_H
#define STEPSTONE_PACKET_H

#include <stdint.h>

/* TCP flag bits as in the TCP header. */
enum packet_tcp_flag {
    PACKET_TCP_FIN = 0x01,
    PACKET_TCP_SYN = 0x02,
    PACKET_TCP_RST = 0x04,
    PACKET_TCP_PSH = 0x08,
    PACKET_TCP_ACK = 0x10,
    PACKET_TCP_URG = 0x20,
    PACKET_TCP_ECE = 0x40,
    PACKET_TCP_CWR = 0x80
};

typedef struct packet {
    int64_t ts_us;          /* capture time, microseconds since the epoch */
    uint8_t family;         /* 4 or 6 */
    uint8_t proto;          /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
    uint8_t tcp_flags;      /* packet_tcp_flag bits (TCP only) */
    uint8_t pad_;
    uint8_t src[16];        /* source address; IPv4 uses the first 4 bytes */
    uint8_t dst[16];        /* destination address; IPv4 uses the first 4 bytes */
    uint16_t sport;         /* source port (ICMP: type) */
    uint16_t dport;         /* destination port (ICMP: code) */
    uint32_t payload_len;   /* L4 payload bytes as sent (from the IP length, not the snaplen) */
    uint32_t seq;           /* TCP sequence number */
    uint32_t ack;           /* TCP acknowledgement number */
    uint16_t win;           /* TCP window */
    uint16_t ip_len_trunc;  /* 1 if the capture cut the packet before the end of its payload */
    uint32_t wire_len;      /* bytes of the frame on the wire */
    uint16_t ip_id;         /* IPv4 identification (0 for IPv6); tells copies of
                               one packet from retransmissions (see dedup.h) */
    uint16_t pad2_;
} packet_t;

#endif

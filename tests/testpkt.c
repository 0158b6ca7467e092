/* testpkt.c - packets for the Check suites (testpkt.h). */
#include "testpkt.h"

#include <check.h>
#include <string.h>

#include "packet.h"
#include "status.h"

void testpkt_add(conntab *tab, int64_t t, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp,
                 uint8_t flags, uint32_t len, uint32_t seq)
{
    packet_t p;
    memset(&p, 0, sizeof(p));
    p.ts_us = t;
    p.family = 4;
    p.proto = 6;
    p.tcp_flags = flags;
    memcpy(p.src, &src, 4);
    memcpy(p.dst, &dst, 4);
    p.sport = sp;
    p.dport = dp;
    p.payload_len = len;
    p.seq = seq;
    char err[SS_ERRBUF_SIZE];
    ck_assert_msg(conntab_add(tab, &p, err) == 0, "%s", err);
}

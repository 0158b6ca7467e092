/* testpkt.h - packets for the Check suites that drive a connection table
 * packet by packet (the streaming correlator and session feed tests), built
 * one way so the suites cannot drift apart. */
#ifndef STEPSTONE_TESTPKT_H
#define STEPSTONE_TESTPKT_H

#include <stdint.h>

#include "conntab.h"

/* Adds one IPv4 TCP packet at t (us) from src:sp to dst:dp (addresses as they
 * lie in memory) with the TCP flags, payload length and sequence number to
 * tab; fails the running test if the table refuses it. */
void testpkt_add(conntab *tab, int64_t t, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp,
                 uint8_t flags, uint32_t len, uint32_t seq);

#endif

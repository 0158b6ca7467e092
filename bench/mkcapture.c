/* mkcapture.c - writes a large synthetic Ethernet/IPv4 capture for benchmarks.
 *
 * usage: mkcapture OUT.pcap SIZE_MB [CONCURRENT [GAP_US]]
 *
 * Simulates CONCURRENT (default 10000) TCP connections open at once, each a
 * handshake, 1-8 request/response exchanges (requests 100-600 bytes,
 * responses of 2 kB to 2 MB in 1448-byte segments, an ACK every two
 * segments, about 1% of segments retransmitted) and a FIN close (5% end with
 * an RST); a finished connection is replaced by a new one. About 5% of the
 * packets are DNS-like UDP exchanges. Packets are written in full (realistic
 * sizes), one every GAP_US (default 100) microseconds on average, with a fixed PRNG seed, so the same
 * arguments give the same file. Stops after SIZE_MB megabytes.
 */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSS 1448

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(rng_next(r) % n);
}

enum phase { PH_SYN, PH_SYNACK, PH_ACK, PH_REQ, PH_RESP, PH_FIN1, PH_FIN2, PH_LASTACK, PH_DONE };

typedef struct flow {
    uint32_t cli, srv;
    uint16_t cport, sport;
    uint32_t cseq, sseq;
    int phase;
    int exchanges;
    uint32_t resp_left;
    uint32_t segs_since_ack;
    int rst_end;
} flow;

typedef struct writer {
    pcap_dumper_t *d;
    uint8_t buf[14 + 20 + 20 + MSS];
    int64_t ts_us;
    uint32_t gap2; /* twice the mean gap between packets, us */
    uint64_t bytes, packets;
} writer;

static void put16(uint8_t *p, uint16_t v) { v = htons(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }

static void emit(writer *w, rng *r, uint8_t proto, uint32_t src, uint32_t dst, uint16_t sp,
                 uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t len)
{
    uint8_t *b = w->buf;
    memset(b, 0, 14);
    b[0] = 0x02; b[6] = 0x04;
    b[12] = 0x08; b[13] = 0x00;
    uint8_t *ip = b + 14;
    uint32_t l4 = proto == 6 ? 20 : 8;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + l4 + len));
    ip[8] = 64;
    ip[9] = proto;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    uint8_t *th = ip + 20;
    memset(th, 0, l4);
    put16(th, sp);
    put16(th + 2, dp);
    if (proto == 6) {
        put32(th + 4, seq);
        put32(th + 8, ack);
        th[12] = 0x50;
        th[13] = flags;
        put16(th + 14, 65535);
    } else {
        put16(th + 4, (uint16_t)(8 + len));
    }
    memset(th + l4, 'x', len);
    struct pcap_pkthdr h;
    w->ts_us += 1 + rng_below(r, w->gap2);
    h.ts.tv_sec = (time_t)(w->ts_us / 1000000);
    h.ts.tv_usec = (suseconds_t)(w->ts_us % 1000000);
    h.caplen = h.len = 14 + 20 + l4 + len;
    pcap_dump((u_char *)w->d, &h, w->buf);
    w->bytes += 16 + h.caplen;
    w->packets++;
}

static uint32_t resp_size(rng *r)
{
    uint32_t x = rng_below(r, 100);
    if (x < 50) return 2000 + rng_below(r, 2000);
    if (x < 80) return 20000 + rng_below(r, 20000);
    if (x < 95) return 200000 + rng_below(r, 100000);
    return 2000000 + rng_below(r, 500000);
}

static void flow_new(flow *f, rng *r, uint32_t *next_client)
{
    memset(f, 0, sizeof(*f));
    uint32_t c = (*next_client)++;
    f->cli = 0x0a000000u | ((c % 65000) + 256);                 /* 10.0.x.y */
    f->srv = 0xc0a80000u | (1 + rng_below(r, 200));            /* 192.168.0.x */
    f->cport = (uint16_t)(1024 + (c / 65000 * 7919 + c) % 60000);
    f->sport = rng_below(r, 4) ? 443 : 22;
    f->cseq = (uint32_t)rng_next(r);
    f->sseq = (uint32_t)rng_next(r);
    f->exchanges = 1 + (int)rng_below(r, 8);
    f->rst_end = rng_below(r, 20) == 0;
    f->phase = PH_SYN;
}

/* Writes the next packet of flow f; returns 1 when the flow is finished. */
static int flow_step(flow *f, writer *w, rng *r)
{
    const uint8_t S = 0x02, A = 0x10, F = 0x01, R = 0x04, P = 0x08;
    switch (f->phase) {
    case PH_SYN:
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, 0, S, 0);
        f->cseq++;
        f->phase = PH_SYNACK;
        return 0;
    case PH_SYNACK:
        emit(w, r, 6, f->srv, f->cli, f->sport, f->cport, f->sseq, f->cseq, S | A, 0);
        f->sseq++;
        f->phase = PH_ACK;
        return 0;
    case PH_ACK:
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, A, 0);
        f->phase = PH_REQ;
        return 0;
    case PH_REQ: {
        uint32_t len = 100 + rng_below(r, 500);
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, P | A, len);
        f->cseq += len;
        f->resp_left = resp_size(r);
        f->phase = PH_RESP;
        return 0;
    }
    case PH_RESP:
        if (f->segs_since_ack >= 2) {
            emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, A, 0);
            f->segs_since_ack = 0;
            return 0;
        }
        if (rng_below(r, 100) == 0 && f->sseq > 1448) { /* retransmit the last segment */
            emit(w, r, 6, f->srv, f->cli, f->sport, f->cport, f->sseq - MSS, f->cseq, A, MSS);
            return 0;
        }
        {
            uint32_t len = f->resp_left < MSS ? f->resp_left : MSS;
            emit(w, r, 6, f->srv, f->cli, f->sport, f->cport, f->sseq, f->cseq, A, len);
            f->sseq += len;
            f->resp_left -= len;
            f->segs_since_ack++;
        }
        if (f->resp_left == 0) {
            f->segs_since_ack = 2; /* final ACK next */
            if (--f->exchanges > 0)
                f->phase = PH_REQ;
            else
                f->phase = PH_FIN1;
        }
        return 0;
    case PH_FIN1:
        if (f->rst_end) {
            emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, R | A, 0);
            return 1;
        }
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, F | A, 0);
        f->cseq++;
        f->phase = PH_FIN2;
        return 0;
    case PH_FIN2:
        emit(w, r, 6, f->srv, f->cli, f->sport, f->cport, f->sseq, f->cseq, F | A, 0);
        f->sseq++;
        f->phase = PH_LASTACK;
        return 0;
    default:
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, A, 0);
        return 1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: mkcapture OUT.pcap SIZE_MB [CONCURRENT [GAP_US]]\n");
        return 2;
    }
    char *end;
    double mb = strtod(argv[2], &end);
    long conc = argc >= 4 ? strtol(argv[3], NULL, 10) : 10000;
    long gap = argc >= 5 ? strtol(argv[4], NULL, 10) : 100;
    if (*end || mb <= 0 || conc < 1 || conc > 10000000 || gap < 1 || gap > 100000000) {
        fprintf(stderr, "mkcapture: bad SIZE_MB, CONCURRENT or GAP_US\n");
        return 2;
    }
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    if (!dead) {
        fprintf(stderr, "mkcapture: pcap_open_dead failed\n");
        return 1;
    }
    writer w;
    memset(&w, 0, sizeof(w));
    w.d = pcap_dump_open(dead, argv[1]);
    if (!w.d) {
        fprintf(stderr, "mkcapture: %s\n", pcap_geterr(dead));
        pcap_close(dead);
        return 1;
    }
    w.ts_us = 1700000000LL * 1000000;
    w.gap2 = (uint32_t)(2 * gap - 1);
    flow *flows = calloc((size_t)conc, sizeof(*flows));
    if (!flows) {
        fprintf(stderr, "mkcapture: out of memory\n");
        return 1;
    }
    rng r = {0x243f6a8885a308d3ULL};
    uint32_t next_client = 0;
    for (long i = 0; i < conc; i++)
        flow_new(&flows[i], &r, &next_client);
    uint64_t limit = (uint64_t)(mb * 1024 * 1024);
    uint64_t conns = (uint64_t)conc;
    while (w.bytes < limit) {
        if (rng_below(&r, 20) == 0) { /* DNS-like query and answer */
            uint32_t cli = 0x0a000000u | (1 + rng_below(&r, 65000));
            uint16_t port = (uint16_t)(1024 + rng_below(&r, 60000));
            emit(&w, &r, 17, cli, 0xc0a80035u, port, 53, 0, 0, 0, 40 + rng_below(&r, 30));
            emit(&w, &r, 17, 0xc0a80035u, cli, 53, port, 0, 0, 0, 80 + rng_below(&r, 200));
            continue;
        }
        long i = (long)rng_below(&r, (uint32_t)conc);
        if (flow_step(&flows[i], &w, &r)) {
            flow_new(&flows[i], &r, &next_client);
            conns++;
        }
    }
    free(flows);
    pcap_dump_close(w.d);
    pcap_close(dead);
    fprintf(stderr, "mkcapture: %s: %llu packets, %.1f MB, %llu TCP connections started\n",
            argv[1], (unsigned long long)w.packets, (double)w.bytes / 1048576.0,
            (unsigned long long)conns);
    return 0;
}

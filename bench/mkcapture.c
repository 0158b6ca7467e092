/* mkcapture.c - writes a large synthetic Ethernet/IPv4 capture for benchmarks.
 *
 * usage: mkcapture OUT.pcap SIZE_MB [CONCURRENT [GAP_US]]     (dense mode)
 *        mkcapture -t OUT.pcap SIZE_MB [CONN_RATE]            (timed mode)
 *
 * Timed mode models a link over a realistic time span: new TCP connections
 * arrive at a steady rate (Poisson, CONN_RATE per second, default 12), each
 * with its own round-trip time (2-80 ms). 90% are interactive (3-40 small
 * request/response exchanges separated by think times of 3 s on average, so
 * they last seconds to minutes), 10% are bulk (1-3 requests answered with
 * 2 kB to 2 MB, paced at 50 kB/s to 2 MB/s). 85% close with FINs, 5% with
 * an RST, 10% just go silent (they end by the idle timeout). DNS-like UDP
 * exchanges arrive at 5 per second. 1 GB spans about an hour (at 12/s),
 * and the number of open connections is the same all along (after the
 * first minutes), so memory use of a reader should not grow with the size.
 *
 * Dense mode simulates CONCURRENT (default 10000) TCP connections open at once, each a
 * handshake, 1-8 request/response exchanges (requests 100-600 bytes,
 * responses of 2 kB to 2 MB in 1448-byte segments, an ACK every two
 * segments, about 1% of segments retransmitted) and a FIN close (5% end with
 * an RST); a finished connection is replaced by a new one. About 5% of the
 * packets are DNS-like UDP exchanges. Packets are written in full (realistic
 * sizes), one every GAP_US (default 100) microseconds on average, with a fixed PRNG seed, so the same
 * arguments give the same file. Stops after SIZE_MB megabytes.
 */
#include <arpa/inet.h>
#include <math.h>
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
    if (w->gap2) /* dense mode: the clock advances by itself */
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

/* ---- timed mode ------------------------------------------------------ */

enum tphase { TP_SYN, TP_SYNACK, TP_ACK, TP_REQ, TP_RESP, TP_LASTACK, TP_FIN1, TP_FIN2,
              TP_FINACK };

typedef struct tflow {
    int64_t next_us;        /* time of its next packet */
    uint32_t cli, srv;
    uint16_t cport, sport;
    uint32_t cseq, sseq;
    int phase;
    int exchanges;          /* left, after the current one */
    int bulk;
    int end_kind;           /* 0 FIN, 1 RST, 2 silent */
    uint32_t resp_left;
    uint32_t segs_since_ack;
    uint32_t rtt_us;
    uint32_t seg_gap_us;    /* between response segments */
} tflow;

/* Exponential variate with the given mean, in microseconds. */
static int64_t rng_exp_us(rng *r, double mean_us)
{
    double u = ((double)(rng_next(r) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double x = -log(u) * mean_us;
    return x > 1e12 ? (int64_t)1e12 : (int64_t)x + 1;
}

static void tflow_new(tflow *f, rng *r, uint32_t *next_client, int64_t now)
{
    memset(f, 0, sizeof(*f));
    uint32_t c = (*next_client)++;
    f->cli = 0x0a000000u | ((c % 65000) + 256);
    f->srv = 0xc0a80000u | (1 + rng_below(r, 200));
    f->cport = (uint16_t)(1024 + (c / 65000 * 7919 + c) % 60000);
    f->bulk = rng_below(r, 10) == 0;
    f->sport = f->bulk ? 443 : 22;
    f->cseq = (uint32_t)rng_next(r);
    f->sseq = (uint32_t)rng_next(r);
    f->exchanges = f->bulk ? (int)rng_below(r, 3) : 2 + (int)rng_below(r, 38);
    uint32_t k = rng_below(r, 100);
    f->end_kind = k < 85 ? 0 : k < 90 ? 1 : 2;
    f->rtt_us = 2000 + rng_below(r, 78000);
    /* 50 kB/s to 2 MB/s: 724 us to 29 ms per 1448-byte segment */
    f->seg_gap_us = 724 + rng_below(r, 28236);
    f->phase = TP_SYN;
    f->next_us = now;
}

static uint32_t tresp_size(rng *r, int bulk)
{
    if (!bulk)
        return 20 + rng_below(r, 480);
    uint32_t x = rng_below(r, 100);
    if (x < 55) return 2000 + rng_below(r, 2000);
    if (x < 85) return 20000 + rng_below(r, 20000);
    if (x < 99) return 200000 + rng_below(r, 100000);
    return 2000000 + rng_below(r, 500000);
}

/* Writes the next packet of f at f->next_us and schedules the one after.
 * Returns 1 when the flow is finished. */
static int tflow_step(tflow *f, writer *w, rng *r)
{
    const uint8_t S = 0x02, A = 0x10, F = 0x01, R = 0x04, P = 0x08;
    int64_t half = f->rtt_us / 2;
    w->ts_us = f->next_us;
    switch (f->phase) {
    case TP_SYN:
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, 0, S, 0);
        f->cseq++;
        f->phase = TP_SYNACK;
        f->next_us += half;
        return 0;
    case TP_SYNACK:
        emit(w, r, 6, f->srv, f->cli, f->sport, f->cport, f->sseq, f->cseq, S | A, 0);
        f->sseq++;
        f->phase = TP_ACK;
        f->next_us += half;
        return 0;
    case TP_ACK:
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, A, 0);
        f->phase = TP_REQ;
        f->next_us += 1 + rng_below(r, 2000);
        return 0;
    case TP_REQ: {
        uint32_t len = f->bulk ? 100 + rng_below(r, 500) : 1 + rng_below(r, 120);
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, P | A, len);
        f->cseq += len;
        f->resp_left = tresp_size(r, f->bulk);
        f->segs_since_ack = 0;
        f->phase = TP_RESP;
        f->next_us += half + rng_below(r, 20000);
        return 0;
    }
    case TP_RESP:
        if (f->segs_since_ack >= 2) {
            emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, A, 0);
            f->segs_since_ack = 0;
            f->next_us += 1 + f->seg_gap_us / 2;
            return 0;
        }
        if (rng_below(r, 100) == 0 && f->resp_left > MSS) { /* retransmit the last segment */
            emit(w, r, 6, f->srv, f->cli, f->sport, f->cport, f->sseq - MSS, f->cseq, A, MSS);
        } else {
            uint32_t len = f->resp_left < MSS ? f->resp_left : MSS;
            emit(w, r, 6, f->srv, f->cli, f->sport, f->cport, f->sseq, f->cseq, P | A, len);
            f->sseq += len;
            f->resp_left -= len;
            f->segs_since_ack++;
        }
        if (f->resp_left == 0) {
            f->phase = TP_LASTACK;
            f->next_us += half;
        } else {
            f->next_us += f->seg_gap_us;
        }
        return 0;
    case TP_LASTACK:
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, A, 0);
        if (f->exchanges > 0) {
            f->exchanges--;
            f->phase = TP_REQ;
            f->next_us += rng_exp_us(r, f->bulk ? 500000.0 : 3000000.0); /* think */
            return 0;
        }
        if (f->end_kind == 2)
            return 1; /* goes silent: left to the idle timeout */
        f->phase = TP_FIN1;
        f->next_us += rng_exp_us(r, 1000000.0);
        return 0;
    case TP_FIN1:
        if (f->end_kind == 1) {
            emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, R | A, 0);
            return 1;
        }
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, F | A, 0);
        f->cseq++;
        f->phase = TP_FIN2;
        f->next_us += half;
        return 0;
    case TP_FIN2:
        emit(w, r, 6, f->srv, f->cli, f->sport, f->cport, f->sseq, f->cseq, F | A, 0);
        f->sseq++;
        f->phase = TP_FINACK;
        f->next_us += half;
        return 0;
    default:
        emit(w, r, 6, f->cli, f->srv, f->cport, f->sport, f->cseq, f->sseq, A, 0);
        return 1;
    }
}

/* Min-heap of flows by next_us. */
typedef struct theap {
    tflow **v;
    size_t n, cap;
} theap;

static int theap_push(theap *h, tflow *f)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        tflow **nv = realloc(h->v, cap * sizeof(*nv));
        if (!nv)
            return -1;
        h->v = nv;
        h->cap = cap;
    }
    size_t at = h->n++;
    while (at > 0 && h->v[(at - 1) / 2]->next_us > f->next_us) {
        h->v[at] = h->v[(at - 1) / 2];
        at = (at - 1) / 2;
    }
    h->v[at] = f;
    return 0;
}

/* Restores the heap after the top's next_us grew (or the top was replaced). */
static void theap_down(theap *h)
{
    size_t at = 0;
    tflow *f = h->v[0];
    for (;;) {
        size_t l = 2 * at + 1, m = at;
        int64_t best = f->next_us;
        if (l < h->n && h->v[l]->next_us < best) {
            m = l;
            best = h->v[l]->next_us;
        }
        if (l + 1 < h->n && h->v[l + 1]->next_us < best)
            m = l + 1;
        if (m == at)
            break;
        h->v[at] = h->v[m];
        at = m;
    }
    h->v[at] = f;
}

static int run_timed(writer *w, double rate, uint64_t limit)
{
    rng r = {0x13198a2e03707344ULL};
    theap h = {NULL, 0, 0};
    uint32_t next_client = 0;
    uint64_t conns = 0, peak = 0;
    int64_t t0 = w->ts_us;
    int64_t next_conn = t0, next_dns = t0;
    int64_t dns_answer = INT64_MAX; /* pending answer to the last query */
    uint32_t dns_cli = 0;
    uint16_t dns_port = 0;
    while (w->bytes < limit) {
        int64_t tf = h.n ? h.v[0]->next_us : INT64_MAX;
        if (dns_answer <= tf && dns_answer <= next_conn) {
            w->ts_us = dns_answer;
            emit(w, &r, 17, 0xc0a80035u, dns_cli, 53, dns_port, 0, 0, 0,
                 80 + rng_below(&r, 200));
            dns_answer = INT64_MAX;
            continue;
        }
        if (next_conn <= tf && (next_conn <= next_dns || dns_answer != INT64_MAX)) {
            tflow *f = malloc(sizeof(*f));
            if (f)
                tflow_new(f, &r, &next_client, next_conn);
            if (!f || theap_push(&h, f) < 0) {
                free(f);
                fprintf(stderr, "mkcapture: out of memory\n");
                return -1;
            }
            conns++;
            if (h.n > peak)
                peak = h.n;
            next_conn += rng_exp_us(&r, 1e6 / rate);
            continue;
        }
        if (next_dns <= tf && dns_answer == INT64_MAX) {
            w->ts_us = next_dns;
            dns_cli = 0x0a000000u | (1 + rng_below(&r, 65000));
            dns_port = (uint16_t)(1024 + rng_below(&r, 60000));
            emit(w, &r, 17, dns_cli, 0xc0a80035u, dns_port, 53, 0, 0, 0, 40 + rng_below(&r, 30));
            dns_answer = next_dns + 500 + rng_below(&r, 30000);
            next_dns += rng_exp_us(&r, 200000.0);
            continue;
        }
        tflow *f = h.v[0];
        if (tflow_step(f, w, &r)) {
            free(f);
            h.v[0] = h.v[--h.n];
            if (h.n)
                theap_down(&h);
        } else {
            theap_down(&h);
        }
    }
    for (size_t i = 0; i < h.n; i++)
        free(h.v[i]);
    free(h.v);
    fprintf(stderr, "mkcapture: %llu packets, %.1f MB over %.0f s, %llu TCP connections started "
            "(%.1f/s), at most %llu open at once in the generator\n",
            (unsigned long long)w->packets, (double)w->bytes / 1048576.0,
            (double)(w->ts_us - t0) / 1e6, (unsigned long long)conns,
            (double)conns / ((double)(w->ts_us - t0) / 1e6 + 1e-9), (unsigned long long)peak);
    return 0;
}

static int main_timed(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: mkcapture -t OUT.pcap SIZE_MB [CONN_RATE]\n");
        return 2;
    }
    char *end, *end2 = (char *)"";
    double mb = strtod(argv[2], &end);
    double rate = argc >= 4 ? strtod(argv[3], &end2) : 12.0;
    if (*end || *end2 || !(mb > 0) || !(rate > 0) || rate > 1e6) {
        fprintf(stderr, "mkcapture: bad SIZE_MB or CONN_RATE\n");
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
    int rc = run_timed(&w, rate, (uint64_t)(mb * 1024 * 1024));
    pcap_dump_close(w.d);
    pcap_close(dead);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "-t"))
        return main_timed(argc - 1, argv + 1);
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: mkcapture OUT.pcap SIZE_MB [CONCURRENT [GAP_US]]\n"
                        "       mkcapture -t OUT.pcap SIZE_MB [CONN_RATE]\n");
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

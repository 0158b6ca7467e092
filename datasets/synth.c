/* synth.c - synthetic generator of labelled relay traffic (see synth.h).
 *
 * Layout of the simulation:
 *   - hosts: an address in 198.18.0.0/15, a MAC, a TTL, an IP id counter and
 *     an ephemeral port counter;
 *   - conns: one TCP connection (client side = direction 0), with sequence
 *     numbers, what each side has received, delayed-ACK state, one-way delay,
 *     bandwidth and the time the last data was queued in each direction;
 *   - sessions: a typing user over a path of 1..SYNTH_MAX_HOPS connections
 *     (relay chains and background logins), a bulk transfer or a web client;
 *   - events: packets to write, arrivals (which drive ACKs), delayed-ACK
 *     timers and session steps, in a min-heap keyed by (time, push order).
 * Sequence and ACK numbers are assigned when a packet is written, so the
 * capture is always consistent whatever the scheduled delays.
 */
#include "synth.h"

#include <errno.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "labels.h"
#include "packet.h"
#include "rng.h"
#include "status.h"

/* ---------------------------------------------------------------- RNG */

/* The generator's only randomness is rng.h (xoshiro256**) and, for payload
 * bytes, rng_splitmix64. */

/* Uniform in [0, 1). */
static double rng_unif(rng_t *r)
{
    return (double)(rng_next_u64(r) >> 11) * 0x1p-53;
}

/* Uniform integer in [lo, hi]. */
static uint32_t rng_range(rng_t *r, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(rng_next_u64(r) % ((uint64_t)hi - lo + 1));
}

static double rng_gauss(rng_t *r)
{
    double u1 = 1.0 - rng_unif(r); /* (0, 1] */
    double u2 = rng_unif(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Log-normal with the given median and log-space sigma. */
static double rng_lognormal(rng_t *r, double median, double sigma)
{
    return median * exp(sigma * rng_gauss(r));
}

static double rng_exp(rng_t *r, double mean)
{
    return -mean * log(1.0 - rng_unif(r));
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Seconds to microseconds, at least 1. */
static int64_t us_of(double seconds)
{
    int64_t v = (int64_t)llround(seconds * 1e6);
    return v < 1 ? 1 : v;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* ------------------------------------------------------------ model data */

/* RK_JUMP: sshd on a jump host (`ssh -J B C`): it forwards the bytes of the
 * end-to-end SSH connection unchanged (direct-tcpip), inside its own SSH
 * connection with the client. */
enum relay_kind { RK_END = 0, RK_SSH, RK_SOCAT, RK_NC, RK_JUMP };

static const char *const relay_kind_names[] = {"end", "ssh", "socat", "nc", "ssh-jump"};

/* A relay that copies bytes onward without a shell of its own. */
static int is_forwarder(int kind)
{
    return kind == RK_SOCAT || kind == RK_NC || kind == RK_JUMP;
}

typedef struct host {
    uint32_t ip;        /* host byte order */
    uint16_t next_port; /* next ephemeral port */
    uint16_t ip_id;
    uint8_t ttl;
    int64_t wan_us;     /* one-way access delay (--wan), us; 0 without */
} host;

typedef struct conn {
    uint32_t host[2];       /* [0] client, [1] server */
    uint16_t port[2];
    uint32_t isn[2];
    uint32_t snd_nxt[2];    /* next sequence number sent in direction d */
    uint32_t rcv_nxt[2];    /* what the sender of direction d has received */
    uint16_t win[2];
    uint16_t mss;
    uint16_t unacked[2];    /* data segments received by that side, not yet acked */
    uint8_t ack_pending[2]; /* a delayed-ACK timer is running */
    uint8_t fin_sent[2];
    uint8_t closed;
    uint8_t chain_leg;      /* part of a labelled chain: gets chaff */
    uint8_t cipher;         /* framing: an ssh_cipher */
    uint8_t quick_left[2];  /* segments that side still ACKs at once (quick-ACK mode at start) */
    uint8_t rcv_init[2];    /* rcv_nxt[d] holds a value */
    int64_t close_at;       /* time of the client's FIN once scheduled, else 0 */
    int64_t owd;            /* one-way delay, us */
    int64_t jit_mean;       /* mean of the exponential per-packet jitter, us */
    double bw;              /* bytes per us */
    int64_t last_real[2];   /* time the last real data was queued in direction d */
    int64_t last_arrive[2]; /* latest arrival at the peer of direction d */
    int64_t t_first, t_last;
} conn;

enum ev_type { EV_PKT = 0, EV_ARRIVE, EV_DACK, EV_SESSION };

typedef struct event {
    int64_t t;
    uint64_t order;  /* push counter: ties keep push order, so runs are reproducible */
    int64_t arrive;  /* EV_PKT: arrival time at the peer */
    uint32_t conn;   /* EV_SESSION: session index */
    uint32_t val;    /* EV_PKT: payload bytes; EV_ARRIVE: sequence received up to */
    uint8_t type;
    uint8_t dir;     /* EV_PKT: direction sent; EV_ARRIVE/EV_DACK: direction the receiver sends */
    uint8_t flags;   /* TCP flags (EV_PKT), data flag (EV_ARRIVE) */
    uint8_t chaff;   /* EV_PKT: a chaff packet (does not beget chaff) */
    uint8_t final;   /* EV_PKT: a pkt_role */
} event;

/* What a scheduled packet is besides its flags. */
enum pkt_role {
    PKT_PLAIN = 0,        /* sent as scheduled */
    PKT_LAST = 1,         /* the last packet of the connection */
    PKT_ACK_IF_NEEDED = 2 /* a pure ACK, dropped if nothing is left to acknowledge */
};

enum sess_mode { SM_INTERACTIVE = 0, SM_BULK, SM_WEB, SM_ONESHOT };

/* Short relay chains (--short) and one-shot sessions. */
enum short_style {
    SHORT_NONE = 0,
    SHORT_INNER_EXEC, /* a login into the relay; there `ssh C cmd` */
    SHORT_INNER_ONE,  /* a login into the relay; there `ssh C`, one command, `exit` */
    SHORT_JUMP,       /* `ssh -J B C cmd`: both legs short, nearly simultaneous */
    SHORT_FWD,        /* one request through a socat/nc forwarder */
    SHORT_DECOY       /* an unlabelled one-shot `ssh Y cmd` (--decoys) */
};
enum sess_cmd { CMD_NORMAL = 0, CMD_EXTEND, CMD_EXIT };
enum sess_phase { PH_START = 0, PH_TYPE, PH_BULK, PH_DONE };

typedef struct session {
    uint8_t mode, phase, cmd, typo_pending, returning, labelled;
    int nlegs;
    int open;                              /* legs opened: the shell is on hosts[open] */
    uint32_t hosts[SYNTH_MAX_HOPS + 1];
    uint8_t relay_kind[SYNTH_MAX_HOPS + 1]; /* per host; RK_END for both ends */
    uint8_t leg_cipher[SYNTH_MAX_HOPS];       /* framing of each leg */
    uint16_t server_port[SYNTH_MAX_HOPS];
    uint32_t conn[SYNTH_MAX_HOPS];
    int chars_left, cmds_here;
    int64_t t_end;
    uint32_t chain_id;
    uint64_t bulk_left;                    /* SM_BULK: plaintext bytes left */
    int bulk_dir;                          /* SM_BULK: 0 upload, 1 download */
    int web_left;                          /* SM_WEB: requests left */
    uint8_t short_style;                   /* enum short_style */
    uint8_t wrap[SYNTH_MAX_HOPS];          /* outer SSH cipher around a leg's bytes (-J), or 0 */
    int64_t t_extend;                      /* SHORT_INNER_*: the short leg opens after this */
    int64_t short_dur;                     /* target length of the short leg, us */
    int64_t leg_deadline;                  /* SHORT_INNER_ONE: the short leg should end by then */
} session;

typedef struct sim {
    const synth_config *cfg;
    rng_t rng;       /* the model: sessions, sizes, delays */
    rng_t ack_rng;   /* ACK timing, so chaff does not shift the model */
    rng_t chaff_rng; /* chaff, so the real traffic is the same with or without */
    rng_t wan_rng;   /* per-host WAN delays, so --wan leaves the sessions alone */
    host *hosts;
    size_t nhosts, cap_hosts;
    uint8_t *used_ip;                      /* bitmap over the 2^17 addresses */
    conn *conns;
    size_t nconns, cap_conns;
    session *sess;
    size_t nsess, cap_sess;
    event *heap;
    size_t nheap, cap_heap;
    uint64_t order;
    int64_t now;
    pcap_dumper_t *dumper;
    uint8_t *frame;
    synth_stats stats;
    int err;                               /* first failure (out of memory) */
    char *errbuf;
} sim;

/* ------------------------------------------------------------ the heap */

static int ev_less(const event *a, const event *b)
{
    return a->t < b->t || (a->t == b->t && a->order < b->order);
}

static void push(sim *s, event e)
{
    if (s->err)
        return;
    if (e.t < s->now)
        e.t = s->now; /* never schedule into the past: the output stays in time order */
    if (s->nheap == s->cap_heap) {
        size_t cap = s->cap_heap ? s->cap_heap * 2 : 1024;
        event *h = realloc(s->heap, cap * sizeof *h);
        if (!h) {
            s->err = ss_errf(s->errbuf, SS_ERR_NOMEM, "synth: out of memory for %zu events",
                             cap);
            return;
        }
        s->heap = h;
        s->cap_heap = cap;
    }
    e.order = s->order++;
    size_t k = s->nheap++;
    while (k > 0) {
        size_t parent = (k - 1) / 2;
        if (!ev_less(&e, &s->heap[parent]))
            break;
        s->heap[k] = s->heap[parent];
        k = parent;
    }
    s->heap[k] = e;
    if (s->nheap > s->stats.max_events)
        s->stats.max_events = s->nheap;
}

static event pop(sim *s)
{
    event top = s->heap[0];
    event last = s->heap[--s->nheap];
    size_t k = 0, n = s->nheap;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ev_less(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!ev_less(&s->heap[c], &last))
            break;
        s->heap[k] = s->heap[c];
        k = c;
    }
    if (n > 0)
        s->heap[k] = last;
    return top;
}

/* ------------------------------------------------------- hosts and conns */

#define SYNTH_NET_BASE 0xC6120000u /* 198.18.0.0 */
#define SYNTH_NET_SIZE (1u << 17)  /* /15 */

static int new_host(sim *s, uint32_t *out)
{
    if (s->nhosts == s->cap_hosts) {
        size_t cap = s->cap_hosts ? s->cap_hosts * 2 : 64;
        host *h = realloc(s->hosts, cap * sizeof *h);
        if (!h)
            return s->err = ss_errf(s->errbuf, SS_ERR_NOMEM, "synth: out of memory for hosts");
        s->hosts = h;
        s->cap_hosts = cap;
    }
    if (s->nhosts >= SYNTH_NET_SIZE / 2)
        return s->err = ss_errf(s->errbuf, SS_ERR_ARG, "synth: too many hosts for 198.18.0.0/15");
    uint32_t off;
    for (;;) {
        off = (uint32_t)(rng_next_u64(&s->rng) % SYNTH_NET_SIZE);
        uint32_t last = off & 0xff;
        if (last == 0 || last == 255 || (s->used_ip[off / 8] & (1u << (off % 8))))
            continue;
        break;
    }
    s->used_ip[off / 8] |= (uint8_t)(1u << (off % 8));
    host *h = &s->hosts[s->nhosts];
    static const uint8_t ttls[] = {64, 64, 64, 63, 62, 128, 127};
    h->ip = SYNTH_NET_BASE + off;
    h->next_port = (uint16_t)rng_range(&s->rng, 32768, 60999);
    h->ip_id = (uint16_t)rng_next_u64(&s->rng);
    h->ttl = ttls[rng_range(&s->rng, 0, sizeof ttls - 1)];
    h->wan_us = 0;
    if (s->cfg->wan_s > 0)
        h->wan_us = us_of(0.001 + rng_unif(&s->wan_rng) * (s->cfg->wan_s - 0.001));
    *out = (uint32_t)s->nhosts++;
    return 0;
}

static uint16_t ephemeral_port(sim *s, uint32_t h)
{
    uint16_t p = s->hosts[h].next_port;
    s->hosts[h].next_port = p >= 60999 ? 32768 : (uint16_t)(p + 1);
    return p;
}

/* Makes a connection from client host a to server host b:bport. */
static int new_conn(sim *s, uint32_t a, uint32_t b, uint16_t bport, uint8_t cipher,
                    int chain_leg, uint32_t *out)
{
    if (s->nconns == s->cap_conns) {
        size_t cap = s->cap_conns ? s->cap_conns * 2 : 64;
        conn *c = realloc(s->conns, cap * sizeof *c);
        if (!c)
            return s->err = ss_errf(s->errbuf, SS_ERR_NOMEM, "synth: out of memory for conns");
        s->conns = c;
        s->cap_conns = cap;
    }
    conn *c = &s->conns[s->nconns];
    memset(c, 0, sizeof *c);
    rng_t *r = &s->rng;
    c->host[0] = a;
    c->host[1] = b;
    c->port[0] = ephemeral_port(s, a);
    c->port[1] = bport;
    for (int d = 0; d < 2; d++) {
        c->isn[d] = (uint32_t)rng_next_u64(r);
        c->snd_nxt[d] = c->isn[d];
        c->win[d] = (uint16_t)rng_range(r, 250, 2000);
        c->last_real[d] = 0;
        c->last_arrive[d] = 0;
    }
    static const uint16_t msses[] = {1460, 1460, 1460, 1448, 1440, 1400};
    c->mss = msses[rng_range(r, 0, sizeof msses / sizeof msses[0] - 1)];
    c->cipher = cipher;
    c->chain_leg = (uint8_t)chain_leg;
    c->quick_left[0] = (uint8_t)rng_range(r, 2, 16);
    c->quick_left[1] = (uint8_t)rng_range(r, 2, 16);
    /* LAN to WAN one-way delays, a few hundred us to tens of ms. */
    c->owd = us_of(clampd(rng_lognormal(r, s->cfg->delay_s, 1.2), s->cfg->delay_s / 40,
                          s->cfg->delay_s * 40));
    c->owd += (s->hosts[a].wan_us + s->hosts[b].wan_us) / 2; /* 0 without --wan */
    c->jit_mean = c->owd / 20 + 10;
    static const double bws[] = {1.25, 12.5, 12.5, 125.0}; /* 10M, 100M, 1G in bytes/us */
    c->bw = bws[rng_range(r, 0, 3)];
    c->t_first = -1;
    *out = (uint32_t)s->nconns++;
    s->stats.connections++;
    return 0;
}

/* Framing of a leg: plain, or SSH with one of OpenSSH's usual ciphers. */
enum ssh_cipher {
    SSH_NONE = 0,   /* plain: socat/nc, telnet-like */
    SSH_CHACHA,     /* chacha20-poly1305: 8-byte blocks, 16-byte tag (OpenSSH's default) */
    SSH_GCM,        /* aes256-gcm: 16-byte blocks, 16-byte tag */
    SSH_ETM         /* aes128-ctr + hmac-sha2-256-etm: 16-byte blocks, 32-byte MAC */
};

/* Draws an SSH cipher with OpenSSH-like frequencies. */
static uint8_t draw_cipher(rng_t *r)
{
    double u = rng_unif(r);
    return u < 0.6 ? SSH_CHACHA : u < 0.8 ? SSH_GCM : SSH_ETM;
}

/* Wire bytes of plain bytes of channel data: SSH binary packet (4-byte
 * length, then padding length, SSH_MSG_CHANNEL_DATA header of 9 bytes, the
 * data and at least 4 bytes of padding, rounded to the cipher block; the
 * length field is outside the rounding with AEAD and ETM modes) plus the tag
 * or MAC. A keystroke is 36 bytes (chacha20, GCM) or 52 (ETM). A plain leg
 * carries the bytes as they are. */
static uint32_t frame_size(uint8_t cipher, uint32_t plain)
{
    if (cipher == SSH_NONE)
        return plain;
    uint32_t block = cipher == SSH_CHACHA ? 8 : 16;
    uint32_t body = 1 + 9 + plain + 4;
    body = (body + block - 1) / block * block;
    return 4 + body + (cipher == SSH_ETM ? 32 : 16);
}

/* ----------------------------------------------------- sending data */

/* Queues bytes of data in direction dir of conn ci from time t on, cut into
 * MSS segments at the link's rate after what is already queued (a TCP stream
 * is FIFO). Returns the arrival time of the last byte at the peer. */
static int64_t send_stream(sim *s, uint32_t ci, int dir, int64_t t, uint32_t bytes)
{
    conn *c = &s->conns[ci];
    int64_t ts = max64(t, c->last_real[dir] + 1);
    int64_t arr_max = ts + c->owd;
    while (bytes > 0) {
        uint32_t seg = bytes < c->mss ? bytes : c->mss;
        bytes -= seg;
        event e = {0};
        e.type = EV_PKT;
        e.t = ts;
        e.conn = ci;
        e.dir = (uint8_t)dir;
        e.val = seg;
        e.flags = PACKET_TCP_ACK | (bytes == 0 ? PACKET_TCP_PSH : 0);
        e.arrive = ts + c->owd + (int64_t)rng_exp(&s->rng, (double)c->jit_mean);
        if (e.arrive <= c->last_arrive[dir])
            e.arrive = c->last_arrive[dir] + 1; /* the path does not reorder */
        c->last_arrive[dir] = e.arrive;
        push(s, e);
        if (e.arrive > arr_max)
            arr_max = e.arrive;
        int64_t ser = (int64_t)((double)(seg + 54) / c->bw);
        ts += ser < 1 ? 1 : ser;
    }
    c->last_real[dir] = ts - 1;
    if (arr_max > c->last_arrive[dir])
        c->last_arrive[dir] = arr_max;
    return arr_max;
}

/* Processing delay of a relay between receiving a chunk and sending it on. */
static int64_t relay_delay(sim *s, int kind)
{
    double med = kind == RK_SSH ? 0.00008 : kind == RK_SOCAT ? 0.00005 : 0.00004;
    double d = rng_lognormal(&s->rng, med, 0.5);
    if (s->cfg->jitter_s > 0)
        d += rng_unif(&s->rng) * s->cfg->jitter_s;
    return us_of(d);
}

/* Sends a message from path position from to position to of session p,
 * leaving at time t: plain bytes of application data framed per leg, or raw
 * wire bytes on every leg when raw > 0. Each relay forwards it after its
 * processing delay. Returns the arrival time at the destination. */
static int64_t send_msg(sim *s, session *p, int from, int to, int64_t t, uint32_t plain,
                        uint32_t raw)
{
    int fwd = to > from;
    int n = fwd ? to - from : from - to;
    for (int k = 0; k < n; k++) {
        int leg = fwd ? from + k : from - 1 - k;
        uint32_t ci = p->conn[leg];
        uint32_t wire = raw ? raw : frame_size(s->conns[ci].cipher, plain);
        if (p->wrap[leg]) /* inside the jump host's own SSH channel */
            wire = frame_size(p->wrap[leg], wire);
        t = send_stream(s, ci, fwd ? 0 : 1, t, wire);
        if (k + 1 < n) {
            int relay = fwd ? leg + 1 : leg;
            t += relay_delay(s, p->relay_kind[relay]);
        }
    }
    return t;
}

/* Sends an output of plain bytes from position from to position to in
 * terminal-sized chunks, with a prompt at its end when asked (read from the
 * pty together with the output's tail). Returns the arrival of the end. */
static int64_t send_output(sim *s, session *p, int from, int to, int64_t t, uint64_t plain,
                           int prompt)
{
    int64_t end = t;
    if (prompt)
        plain += rng_range(&s->rng, 14, 40);
    while (plain > 0) {
        uint32_t chunk = plain > 4096 ? 4096 : (uint32_t)plain;
        plain -= chunk;
        end = max64(end, send_msg(s, p, from, to, t, chunk, 0));
        t += 1;
    }
    return end;
}

/* ------------------------------------------------ connection lifecycle */

static void push_pkt(sim *s, uint32_t ci, int dir, int64_t t, uint8_t flags, int final)
{
    event e = {0};
    e.type = EV_PKT;
    e.t = t;
    e.conn = ci;
    e.dir = (uint8_t)dir;
    e.flags = flags;
    e.final = (uint8_t)final;
    e.arrive = t + s->conns[ci].owd;
    push(s, e);
}

/* Three-way handshake from time t; returns when the client may send data. */
static int64_t tcp_open(sim *s, uint32_t ci, int64_t t)
{
    conn *c = &s->conns[ci];
    int64_t d1 = us_of(rng_lognormal(&s->rng, 0.00005, 0.5));
    int64_t d2 = us_of(rng_lognormal(&s->rng, 0.00003, 0.5));
    int64_t synack = t + c->owd + d1;
    int64_t ack = synack + c->owd + d2;
    push_pkt(s, ci, 0, t, PACKET_TCP_SYN, 0);
    push_pkt(s, ci, 1, synack, PACKET_TCP_SYN | PACKET_TCP_ACK, 0);
    push_pkt(s, ci, 0, ack, PACKET_TCP_ACK, 0);
    c->last_real[0] = ack;
    c->last_real[1] = synack;
    c->last_arrive[0] = ack + c->owd;
    c->last_arrive[1] = synack + c->owd;
    return ack;
}

/* FIN teardown started by the client once both directions are quiet;
 * returns when the client's FIN reaches the server. */
static int64_t tcp_close(sim *s, uint32_t ci, int64_t t)
{
    conn *c = &s->conns[ci];
    int64_t t0 = t;
    for (int d = 0; d < 2; d++) {
        t0 = max64(t0, c->last_real[d] + 1);
        t0 = max64(t0, c->last_arrive[d] + 1);
    }
    int64_t d1 = us_of(rng_lognormal(&s->rng, 0.0001, 0.7));
    int64_t d2 = us_of(rng_lognormal(&s->rng, 0.00003, 0.5));
    c->close_at = t0;
    push_pkt(s, ci, 0, t0, PACKET_TCP_FIN | PACKET_TCP_ACK, 0);
    int64_t fin2 = t0 + c->owd + d1;
    push_pkt(s, ci, 1, fin2, PACKET_TCP_FIN | PACKET_TCP_ACK, 0);
    push_pkt(s, ci, 0, fin2 + c->owd + d2, PACKET_TCP_ACK, 1);
    c->last_real[0] = c->last_real[1] = fin2 + c->owd + d2;
    return t0 + c->owd;
}

/* SSH handshake steps: direction (0 client to server, 1 back), size range,
 * whether the size is channel-style encrypted (frame_size of it). */
typedef struct ssh_step {
    uint8_t dir;
    uint16_t lo, hi;
    uint8_t enc;
} ssh_step;

static const ssh_step ssh_steps[] = {
    {1, 32, 44, 0},     /* server banner */
    {0, 21, 40, 0},     /* client banner */
    {0, 1400, 1600, 0}, /* client KEXINIT */
    {1, 1000, 1200, 0}, /* server KEXINIT */
    {0, 44, 48, 0},     /* KEX_ECDH_INIT (or the PQ hybrid, see below) */
    {1, 500, 700, 0},   /* KEX_ECDH_REPLY + NEWKEYS */
    {0, 16, 16, 0},     /* NEWKEYS */
    {0, 8, 24, 1},      /* SERVICE_REQUEST */
    {1, 8, 24, 1},      /* SERVICE_ACCEPT */
    {0, 300, 500, 1},   /* USERAUTH_REQUEST publickey query */
    {1, 300, 450, 1},   /* USERAUTH_PK_OK */
    {0, 550, 700, 1},   /* USERAUTH_REQUEST with signature */
    {1, 1, 1, 1},       /* USERAUTH_SUCCESS */
    {1, 400, 700, 1},   /* hostkeys-00@openssh.com */
    {0, 20, 40, 1},     /* CHANNEL_OPEN */
    {1, 10, 20, 1},     /* OPEN_CONFIRMATION */
    {0, 150, 300, 1},   /* pty-req, env, shell */
    {1, 20, 60, 1},     /* WINDOW_ADJUST, SUCCESS */
};

/* Runs an SSH handshake from path position a (the client) to position end
 * (the server) of session p, framed with cipher, from time now when the last
 * leg is up; its last step is the pty/shell (or exec) request. Returns the
 * server's time when it is done. */
static int64_t ssh_handshake(sim *s, session *p, int a, int end, int64_t now, uint8_t cipher)
{
    int prev_dir = 1;
    int pq = rng_unif(&s->rng) < 0.5;
    /* the server speaks first once the last leg is up */
    int64_t at_server = now + s->conns[p->conn[end - 1]].owd;
    int64_t t_side[2] = {now, at_server};
    for (size_t k = 0; k < sizeof ssh_steps / sizeof ssh_steps[0]; k++) {
        const ssh_step *st = &ssh_steps[k];
        uint32_t v = rng_range(&s->rng, st->lo, st->hi);
        if (k == 4 && pq)
            v = 1224;
        if (k == 5 && pq)
            v = rng_range(&s->rng, 1550, 1700);
        uint32_t wire = st->enc ? frame_size(cipher, v) : v;
        int from = st->dir ? end : a, to = st->dir ? a : end;
        int64_t dep = t_side[st->dir];
        if (st->dir != prev_dir)
            dep += us_of(rng_lognormal(&s->rng, 0.0005, 0.8)); /* crypto, auth */
        int64_t arr = send_msg(s, p, from, to, dep, 0, wire);
        t_side[st->dir] = dep;
        t_side[!st->dir] = max64(t_side[!st->dir], arr);
        prev_dir = st->dir;
    }
    return t_side[1];
}

/* Opens the segment of session p starting at leg a (the legs up to the next
 * ssh relay or the end, joined by forwarders), runs the SSH handshake over it
 * when it carries SSH, and sends a login banner and prompt back to the user.
 * Returns the time the prompt reaches the user; with exec (a one-shot
 * command: no pty, no banner) the time the far end may start the command. */
static int64_t open_segment(sim *s, session *p, int a, int64_t t, int exec)
{
    int b = a;
    while (b + 1 < p->nlegs && is_forwarder(p->relay_kind[b + 1]))
        b++;
    int64_t ready = t;
    for (int k = a; k <= b; k++) {
        uint32_t ci;
        if (new_conn(s, p->hosts[k], p->hosts[k + 1], p->server_port[k], p->leg_cipher[k],
                     p->labelled, &ci))
            return t;
        p->conn[k] = ci;
        ready = tcp_open(s, ci, t);
        /* a forwarder connects onward once it has accepted */
        t = ready + s->conns[ci].owd + relay_delay(s, p->relay_kind[k + 1]);
    }
    p->open = b + 1;
    int64_t now = ready;
    uint8_t cipher = p->leg_cipher[a];
    if (cipher)
        now = ssh_handshake(s, p, a, b + 1, now, cipher);
    else if (!exec)
        now += us_of(rng_lognormal(&s->rng, 0.002, 0.8));
    if (exec)
        return now;
    /* motd and prompt, from the new shell back to the user */
    uint64_t motd = cipher ? rng_range(&s->rng, 100, 900) : rng_range(&s->rng, 10, 120);
    return send_output(s, p, b + 1, 0, now, motd, 1);
}

/* Closes the innermost open segment of p after the user's "exit" reached its
 * shell at time t; returns when the next prompt (or the last FIN) is done. */
static int64_t close_segment(sim *s, session *p, int64_t t, int quiet)
{
    int b = p->open - 1;
    int a = b;
    while (a > 0 && is_forwarder(p->relay_kind[a]))
        a--;
    int64_t now = t;
    if (!quiet)
        now = send_output(s, p, b + 1, 0, now, rng_range(&s->rng, 8, 12), 0);
    uint8_t cipher = p->leg_cipher[a];
    int64_t at_client = now;
    if (cipher) {
        /* exit-status, EOF and CLOSE from the server, CLOSE back */
        int64_t dep = t + us_of(rng_lognormal(&s->rng, 0.0003, 0.5));
        int64_t arr = send_msg(s, p, b + 1, a, dep, 0, frame_size(cipher, 30));
        arr = max64(arr, send_msg(s, p, b + 1, a, dep, 0, frame_size(cipher, 6)));
        arr = max64(arr, send_msg(s, p, b + 1, a, dep, 0, frame_size(cipher, 6)));
        at_client = send_msg(s, p, a, b + 1, arr + us_of(rng_lognormal(&s->rng, 0.0002, 0.5)),
                             0, frame_size(cipher, 6));
        at_client = max64(at_client, arr);
    }
    int64_t tf = at_client + us_of(rng_lognormal(&s->rng, 0.0003, 0.5));
    for (int k = a; k <= b; k++) {
        int64_t arr = tcp_close(s, p->conn[k], tf);
        tf = arr + relay_delay(s, p->relay_kind[k + 1]);
    }
    p->open = a;
    if (a > 0 && !quiet) /* "Connection to X closed." and the relay's prompt */
        return send_output(s, p, a, 0, tf, rng_range(&s->rng, 24, 48), 1);
    return tf;
}

/* ------------------------------------------------------ typing sessions */

static int64_t think_time(sim *s)
{
    return us_of(clampd(rng_lognormal(&s->rng, 2.5, 1.0), 0.3, 120.0));
}

static int64_t key_delay(sim *s)
{
    return us_of(clampd(rng_lognormal(&s->rng, 0.14, 0.6), 0.025, 3.0));
}

/* Size of a command's output: mostly small, some pages, a few bulk. */
static uint64_t output_size(sim *s)
{
    double u = rng_unif(&s->rng), v;
    if (u < 0.35)
        v = rng_lognormal(&s->rng, 20, 0.8);
    else if (u < 0.75)
        v = rng_lognormal(&s->rng, 400, 0.8);
    else if (u < 0.95)
        v = rng_lognormal(&s->rng, 5000, 0.9);
    else
        v = rng_lognormal(&s->rng, 50000, 1.0);
    return (uint64_t)clampd(v, 1, s->cfg->max_output);
}

/* Picks the next command of an interactive session. */
static void next_command(sim *s, session *p, int64_t t)
{
    int on_short = p->short_style && p->open == p->nlegs;
    if (p->short_style) {
        /* a short chain: commands on the relay until t_extend, the short
         * leg (one command, then exit), commands until t_end, exit */
        if (on_short) {
            p->cmd = p->cmds_here > 0 ? CMD_NORMAL : CMD_EXIT;
            if (p->cmds_here > 0)
                p->cmds_here--;
        } else if (!p->returning && p->open < p->nlegs - 1) {
            p->cmd = p->cmds_here > 0 ? CMD_NORMAL : CMD_EXTEND;
            if (p->cmds_here > 0)
                p->cmds_here--;
        } else if (!p->returning) {
            p->cmd = t < p->t_extend ? CMD_NORMAL : CMD_EXTEND;
        } else {
            p->cmd = t < p->t_end ? CMD_NORMAL : CMD_EXIT;
        }
    } else if (!p->returning && p->open < p->nlegs) {
        if (p->cmds_here > 0) {
            p->cmds_here--;
            p->cmd = CMD_NORMAL;
        } else {
            p->cmd = CMD_EXTEND;
        }
    } else if (!p->returning && t < p->t_end) {
        p->cmd = CMD_NORMAL;
    } else if (p->returning && p->cmds_here > 0) {
        p->cmds_here--;
        p->cmd = CMD_NORMAL;
    } else {
        p->cmd = CMD_EXIT;
    }
    if (p->cmd == CMD_NORMAL)
        p->chars_left = (int)clampd(rng_lognormal(&s->rng, 8, 0.6), 1, on_short ? 10 : 80);
    else if (p->cmd == CMD_EXTEND)
        p->chars_left = (int)rng_range(&s->rng, 8, 24);
    else
        p->chars_left = 4;
}

static void schedule_session(sim *s, uint32_t si, int64_t t)
{
    event e = {0};
    e.type = EV_SESSION;
    e.t = t;
    e.conn = si;
    push(s, e);
}

/* The user's pause before the next command: think_time (at most 12 s in a
 * short chain), but on the short leg of a SHORT_INNER_ONE chain paced so
 * that the leg ends near its deadline. */
static int64_t next_think(sim *s, session *p, int64_t done)
{
    if (!(p->short_style == SHORT_INNER_ONE && p->open == p->nlegs)) {
        int64_t th = think_time(s);
        if (p->short_style && th > 12000000)
            th = 12000000; /* keeps a short chain's login within about 45 s */
        return th;
    }
    int64_t slack = p->leg_deadline - done;
    int64_t owd = s->conns[p->conn[p->nlegs - 1]].owd;
    int64_t th;
    if (p->cmd == CMD_NORMAL) /* the one command: a short look at the prompt */
        th = (int64_t)clampd(0.15 * (double)slack, 200000, 1000000);
    else /* exit: typing it (~0.8 s) and the teardown end near the deadline */
        th = max64(200000, slack - 1800000 - 4 * owd);
    return th;
}

/* Delay to the next keystroke: key_delay, at most 350 ms on a short leg. */
static int64_t key_delay_in(sim *s, const session *p)
{
    int64_t d = key_delay(s);
    if (p->short_style && p->open == p->nlegs && d > 350000)
        d = 350000;
    return d;
}

/* One-shot command from path position a of session p to the end of its
 * path, starting at t (`ssh C cmd` typed on a relay, `ssh -J B C cmd`, a
 * request through a forwarder, a decoy): opens the segment without pty or
 * banner, runs the command so that the segment lasts about dur, streams the
 * output back to the user (position 0) in 1-4 pieces over the run, closes.
 * Returns when the client's FIN reaches the server. */
static int64_t oneshot(sim *s, session *p, int a, int64_t t, int64_t dur)
{
    rng_t *r = &s->rng;
    int64_t now;
    uint8_t cipher = p->leg_cipher[a];
    if (p->relay_kind[a + 1] == RK_JUMP) {
        /* the client logs into the jump host with its own SSH connection
         * (framed with wrap[a]) and opens a direct-tcpip channel; the jump
         * host connects onward; the end-to-end SSH runs inside the channel */
        uint8_t outer = p->wrap[a];
        uint32_t ci;
        if (new_conn(s, p->hosts[a], p->hosts[a + 1], p->server_port[a], cipher, p->labelled,
                     &ci))
            return t;
        p->conn[a] = ci;
        p->wrap[a] = 0;
        p->open = a + 1;
        now = ssh_handshake(s, p, a, a + 1, tcp_open(s, ci, t), outer);
        p->wrap[a] = outer;
        if (new_conn(s, p->hosts[a + 1], p->hosts[a + 2], p->server_port[a + 1], cipher,
                     p->labelled, &ci))
            return t;
        p->conn[a + 1] = ci;
        p->open = a + 2;
        int64_t up = tcp_open(s, ci, now + relay_delay(s, RK_JUMP));
        now = ssh_handshake(s, p, a, a + 2, up, cipher);
    } else {
        now = open_segment(s, p, a, t, 1);
        if (!cipher) /* the request as a line of text */
            now = send_msg(s, p, a, p->open, now, rng_range(r, 8, 60), 0);
    }
    int end = p->open;
    int64_t path_owd = 0;
    for (int k = a; k < end; k++)
        path_owd += s->conns[p->conn[k]].owd;
    int64_t run = max64(50000, t + dur - now - 4 * path_owd);
    uint64_t out = output_size(s);
    int pieces = (int)rng_range(r, 1, 4);
    for (int k = 0; k < pieces; k++) {
        uint64_t part = out / (uint64_t)pieces + (k == pieces - 1 ? out % (uint64_t)pieces : 0);
        send_output(s, p, end, 0, now + run * (k + 1) / pieces, part ? part : 1, 0);
    }
    return close_segment(s, p, now + run, 1);
}

/* A one-shot session (SHORT_JUMP, SHORT_FWD, SHORT_DECOY): runs at once. */
static void step_oneshot(sim *s, uint32_t si, int64_t t)
{
    session *p = &s->sess[si];
    oneshot(s, p, 0, t, p->short_dur);
    p->phase = PH_DONE;
}

/* One keystroke (or the session's start) of an interactive session. */
static void step_interactive(sim *s, uint32_t si, int64_t t)
{
    session *p = &s->sess[si];
    if (p->phase == PH_START) {
        int64_t ready = open_segment(s, p, 0, t, 0);
        p->cmds_here = p->open < p->nlegs ? (int)rng_range(&s->rng, 0, 2) : 0;
        p->phase = PH_TYPE;
        next_command(s, p, ready);
        schedule_session(s, si, ready + next_think(s, p, ready));
        return;
    }
    int end = p->open;
    int64_t echo_delay = us_of(rng_lognormal(&s->rng, 0.00015, 0.5));
    if (p->typo_pending) { /* backspace, echoed as "\b \b" */
        int64_t arr = send_msg(s, p, 0, end, t, 1, 0);
        send_msg(s, p, end, 0, arr + echo_delay, 3, 0);
        p->typo_pending = 0;
        schedule_session(s, si, t + key_delay_in(s, p));
        return;
    }
    if (p->chars_left > 0) {
        int64_t arr = send_msg(s, p, 0, end, t, 1, 0);
        send_msg(s, p, end, 0, arr + echo_delay, 1, 0);
        if (rng_unif(&s->rng) < 0.04)
            p->typo_pending = 1; /* a wrong key: it will be erased and retyped */
        else
            p->chars_left--;
        int64_t next = t + key_delay_in(s, p);
        if (p->typo_pending)
            next += us_of(rng_lognormal(&s->rng, 0.25, 0.5)); /* noticing the typo */
        schedule_session(s, si, next);
        return;
    }
    /* Enter: echoed as "\r\n", then the command runs */
    int64_t arr = send_msg(s, p, 0, end, t, 1, 0);
    int64_t done = send_msg(s, p, end, 0, arr + echo_delay, 2, 0);
    int64_t run = arr + us_of(clampd(rng_lognormal(&s->rng, 0.002, 1.5), 0.00005, 2.0));
    if (p->cmd == CMD_NORMAL) {
        done = max64(done, send_output(s, p, end, 0, run, output_size(s), 1));
    } else if (p->cmd == CMD_EXTEND && p->short_style == SHORT_INNER_EXEC &&
               p->open == p->nlegs - 1) {
        /* `ssh C cmd`: the short leg comes and goes, then the relay's prompt */
        int a = p->open;
        int64_t closed = oneshot(s, p, a, run, p->short_dur);
        done = max64(done, send_output(s, p, a, 0, closed, 0, 1));
        p->returning = 1;
    } else if (p->cmd == CMD_EXTEND) {
        done = max64(done, open_segment(s, p, p->open, run, 0));
        p->cmds_here = p->open < p->nlegs ? (int)rng_range(&s->rng, 0, 2) : 0;
        if (p->short_style == SHORT_INNER_ONE && p->open == p->nlegs) {
            p->cmds_here = 1; /* one command on the short leg, then exit */
            p->leg_deadline = run + p->short_dur;
        }
    } else {
        done = max64(done, close_segment(s, p, run, 0));
        if (p->open == 0) {
            p->phase = PH_DONE;
            return;
        }
        p->returning = 1;
        p->cmds_here = rng_unif(&s->rng) < 0.3 ? 1 : 0;
    }
    next_command(s, p, done);
    schedule_session(s, si, done + next_think(s, p, done));
}

/* A bulk transfer (scp-like): login, then blocks of data one way, then close. */
static void step_bulk(sim *s, uint32_t si, int64_t t)
{
    session *p = &s->sess[si];
    if (p->phase == PH_START) {
        int64_t ready = open_segment(s, p, 0, t, 0);
        p->phase = PH_BULK;
        schedule_session(s, si, ready + us_of(rng_lognormal(&s->rng, 0.05, 0.5)));
        return;
    }
    if (p->bulk_left == 0) {
        close_segment(s, p, t, 1);
        p->phase = PH_DONE;
        return;
    }
    /* one block of up to 256 KiB; the next block follows it */
    uint64_t block = p->bulk_left < 262144 ? p->bulk_left : 262144;
    p->bulk_left -= block;
    int from = p->bulk_dir ? 1 : 0, to = p->bulk_dir ? 0 : 1;
    while (block > 0) {
        uint32_t chunk = block > 16384 ? 16384 : (uint32_t)block;
        block -= chunk;
        send_msg(s, p, from, to, t, chunk, 0);
    }
    conn *c = &s->conns[p->conn[0]];
    schedule_session(s, si, c->last_real[p->bulk_dir] + 1);
}

/* A web client: a series of short connections, request then response. */
static void step_web(sim *s, uint32_t si, int64_t t)
{
    session *p = &s->sess[si];
    rng_t *r = &s->rng;
    int tls = p->server_port[0] == 443;
    uint32_t ci;
    if (new_conn(s, p->hosts[0], p->hosts[1], p->server_port[0], 0, 0, &ci))
        return;
    p->conn[0] = ci;
    p->open = 1;
    int64_t now = tcp_open(s, ci, t);
    if (tls) {
        int64_t arr = send_msg(s, p, 0, 1, now, 0, rng_range(r, 250, 600));       /* ClientHello */
        arr = send_msg(s, p, 1, 0, arr + us_of(rng_lognormal(r, 0.001, 0.7)), 0,
                       rng_range(r, 1200, 5000));                                /* ServerHello..Finished */
        now = send_msg(s, p, 0, 1, arr + us_of(rng_lognormal(r, 0.0005, 0.7)), 0,
                       rng_range(r, 64, 130));                                   /* Finished */
        now -= s->conns[ci].owd;
    }
    int requests = (int)rng_range(r, 1, 4);
    for (int k = 0; k < requests; k++) {
        int64_t arr = send_msg(s, p, 0, 1, now, 0, rng_range(r, 300, 900) + (tls ? 22 : 0));
        uint32_t resp = (uint32_t)clampd(rng_lognormal(r, 6000, 1.4), 120,
                                        s->cfg->max_output < 120 ? 120 : s->cfg->max_output);
        now = send_msg(s, p, 1, 0, arr + us_of(clampd(rng_lognormal(r, 0.01, 1.0), 0.0002, 2.0)),
                       0, resp + (tls ? 22 * (resp / 16384 + 1) : 0));
        now += us_of(rng_lognormal(r, 0.05, 1.0));
    }
    int64_t end = tcp_close(s, ci, now + us_of(rng_lognormal(r, 0.5, 1.0)));
    p->open = 0;
    if (--p->web_left > 0)
        schedule_session(s, si, end + us_of(clampd(rng_lognormal(r, 3.0, 1.2), 0.05, 60.0)));
    else
        p->phase = PH_DONE;
}

/* ------------------------------------------------------ writing packets */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    while (n > 1) {
        sum += (uint32_t)p[0] << 8 | p[1];
        p += 2;
        n -= 2;
    }
    if (n)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_mac(uint8_t *p, uint32_t ip)
{
    p[0] = 0x02; /* locally administered */
    p[1] = 0x00;
    put32(p + 2, ip);
}

/* Payload bytes: random-looking for SSH legs, printable for plain ones. Drawn
 * from a generator of their own, so payloads do not shift the model's RNG. */
static void fill_payload(uint8_t *p, uint32_t n, uint64_t key, int printable)
{
    uint64_t x = key;
    uint32_t k = 0;
    while (k < n) {
        uint64_t v = rng_splitmix64(&x);
        for (int b = 0; b < 8 && k < n; b++, k++) {
            uint8_t byte = (uint8_t)(v >> (8 * b));
            p[k] = printable ? (uint8_t)(0x20 + byte % 95) : byte;
        }
    }
}

/* Writes one TCP packet of conn ci in direction dir. */
static void write_packet(sim *s, uint32_t ci, int dir, int64_t t, uint8_t flags, uint32_t len,
                         uint32_t seq, uint32_t ack)
{
    conn *c = &s->conns[ci];
    host *src = &s->hosts[c->host[dir]], *dst = &s->hosts[c->host[!dir]];
    uint8_t *f = s->frame;
    int syn = (flags & PACKET_TCP_SYN) != 0;
    uint32_t tcp_hlen = syn ? 32 : 20;
    uint32_t ip_len = 20 + tcp_hlen + len;
    /* Ethernet */
    put_mac(f, dst->ip);
    put_mac(f + 6, src->ip);
    put16(f + 12, 0x0800);
    /* IPv4 */
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, ip_len);
    put16(ip + 4, src->ip_id++);
    put16(ip + 6, 0x4000); /* DF */
    ip[8] = src->ttl;
    ip[9] = 6;
    put16(ip + 10, 0);
    put32(ip + 12, src->ip);
    put32(ip + 16, dst->ip);
    put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
    /* TCP */
    uint8_t *tcp = ip + 20;
    put16(tcp, c->port[dir]);
    put16(tcp + 2, c->port[!dir]);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = (uint8_t)((tcp_hlen / 4) << 4);
    tcp[13] = flags;
    put16(tcp + 14, syn ? 64240 : c->win[dir]);
    put16(tcp + 16, 0);
    put16(tcp + 18, 0);
    if (syn) { /* MSS, SACK permitted, NOP, window scale 7, NOP, NOP */
        uint8_t *o = tcp + 20;
        o[0] = 2; o[1] = 4; put16(o + 2, c->mss);
        o[4] = 4; o[5] = 2;
        o[6] = 1;
        o[7] = 3; o[8] = 3; o[9] = 7;
        o[10] = 1; o[11] = 1;
    }
    uint8_t *payload = tcp + tcp_hlen;
    if (len)
        fill_payload(payload, len, ((uint64_t)ci << 33) ^ ((uint64_t)dir << 32) ^ seq,
                     c->cipher == 0);
    uint8_t pseudo[12];
    put32(pseudo, src->ip);
    put32(pseudo + 4, dst->ip);
    pseudo[8] = 0;
    pseudo[9] = 6;
    put16(pseudo + 10, tcp_hlen + len);
    uint32_t sum = csum_add(0, pseudo, 12);
    sum = csum_add(sum, tcp, tcp_hlen + len);
    put16(tcp + 16, csum_fold(sum));

    uint32_t wire = 14 + ip_len;
    struct pcap_pkthdr h;
    int64_t abs_us = s->cfg->start_us + t;
    h.ts.tv_sec = (time_t)(abs_us / 1000000);
    h.ts.tv_usec = (suseconds_t)(abs_us % 1000000);
    h.len = wire;
    h.caplen = wire < s->cfg->snaplen ? wire : s->cfg->snaplen;
    if (h.caplen < 14 + 20 + tcp_hlen)
        h.caplen = 14 + 20 + tcp_hlen < wire ? 14 + 20 + tcp_hlen : wire;
    pcap_dump((u_char *)s->dumper, &h, f);
    s->stats.packets++;
    s->stats.wire_bytes += wire;
    s->stats.end_us = abs_us;
    if (c->t_first < 0)
        c->t_first = t;
    c->t_last = t;
}

/* Chaff: dummy packets, sized like keystrokes and small outputs, sent on a
 * relay leg after a real one; the next host drops them. */
static void add_chaff(sim *s, uint32_t ci, int dir, int64_t t)
{
    double r = s->cfg->chaff;
    int n = (int)r + (rng_unif(&s->chaff_rng) < r - floor(r));
    conn *c = &s->conns[ci];
    for (int k = 0; k < n; k++) {
        uint32_t plain = rng_unif(&s->chaff_rng) < 0.7 ? rng_range(&s->chaff_rng, 1, 3)
                                                  : rng_range(&s->chaff_rng, 4, 200);
        event e = {0};
        e.type = EV_PKT;
        e.t = t + us_of(rng_unif(&s->chaff_rng) * 0.3);
        e.conn = ci;
        e.dir = (uint8_t)dir;
        e.val = frame_size(c->cipher, plain);
        e.flags = PACKET_TCP_ACK | PACKET_TCP_PSH;
        e.chaff = 1;
        e.arrive = e.t + c->owd + (int64_t)rng_exp(&s->chaff_rng, (double)c->jit_mean);
        /* chaff leaves the real packets' timing alone: it neither delays
         * them nor holds back the teardown */
        if (c->close_at && e.arrive + 1 >= c->close_at)
            continue;
        push(s, e);
    }
}

static int seq_after(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/* Handles a packet event: assigns seq/ack, writes it, schedules its arrival. */
static void do_packet(sim *s, const event *e)
{
    conn *c = &s->conns[e->conn];
    int d = e->dir;
    if (c->closed)
        return;
    if ((e->val > 0 || (e->flags & PACKET_TCP_FIN)) && c->fin_sent[d])
        return; /* chaff (or a late duplicate) after this side closed */
    if (e->chaff && (c->fin_sent[!d] || (c->close_at && e->arrive + 1 >= c->close_at)))
        return;
    if (e->final == PKT_ACK_IF_NEEDED && c->unacked[d] == 0)
        return; /* a data packet or another ACK has carried it already */
    uint32_t seq;
    if (e->flags & PACKET_TCP_SYN) {
        seq = c->isn[d];
        c->snd_nxt[d] = c->isn[d] + 1;
    } else {
        seq = c->snd_nxt[d];
        c->snd_nxt[d] += e->val;
        if (e->flags & PACKET_TCP_FIN) {
            c->snd_nxt[d]++;
            c->fin_sent[d] = 1;
        }
    }
    uint32_t ack = 0;
    if (e->flags & PACKET_TCP_ACK) {
        ack = c->rcv_nxt[d];
        c->unacked[d] = 0;
    }
    write_packet(s, e->conn, d, e->t, e->flags, e->val, seq, ack);
    if (e->final == PKT_LAST) {
        c->closed = 1;
        return;
    }
    if (e->val > 0 || (e->flags & (PACKET_TCP_SYN | PACKET_TCP_FIN))) {
        event a = {0};
        a.type = EV_ARRIVE;
        a.t = e->arrive;
        a.conn = e->conn;
        a.dir = (uint8_t)!d;
        a.val = c->snd_nxt[d];
        a.flags = e->val > 0;
        push(s, a);
    }
    if (e->val > 0 && !e->chaff && c->chain_leg && s->cfg->chaff > 0)
        add_chaff(s, e->conn, d, e->t);
}

/* Data reached the other side (which sends in direction e->dir): it ACKs
 * every second segment at once, a lone one after the delayed-ACK timer. */
static void do_arrive(sim *s, const event *e)
{
    conn *c = &s->conns[e->conn];
    int d = e->dir;
    if (c->closed)
        return;
    int advanced = !c->rcv_init[d] || seq_after(e->val, c->rcv_nxt[d]);
    if (advanced)
        c->rcv_nxt[d] = e->val;
    c->rcv_init[d] = 1;
    if (!e->flags || !advanced)
        return; /* SYN and FIN are answered by the handshake and teardown */
    c->unacked[d]++;
    if (c->unacked[d] >= 2 || c->quick_left[d] > 0) {
        if (c->quick_left[d] > 0)
            c->quick_left[d]--;
        push_pkt(s, e->conn, d, e->t + us_of(rng_lognormal(&s->ack_rng, 0.00003, 0.5)),
                 PACKET_TCP_ACK, PKT_ACK_IF_NEEDED);
    } else if (!c->ack_pending[d]) {
        c->ack_pending[d] = 1;
        event t = {0};
        t.type = EV_DACK;
        t.t = e->t + 40000;
        t.conn = e->conn;
        t.dir = (uint8_t)d;
        push(s, t);
    }
}

static void do_dack(sim *s, const event *e)
{
    conn *c = &s->conns[e->conn];
    int d = e->dir;
    c->ack_pending[d] = 0;
    if (c->closed || c->unacked[d] == 0)
        return;
    push_pkt(s, e->conn, d, e->t, PACKET_TCP_ACK, PKT_ACK_IF_NEEDED);
}

/* ------------------------------------------------------ building the run */

static void pick_relay_kinds(sim *s, session *p, int kind)
{
    rng_t *r = &s->rng;
    if (p->nlegs < 1 || p->nlegs > SYNTH_MAX_HOPS)
        return;
    for (int k = 1; k < p->nlegs; k++) {
        if (kind == SYNTH_KIND_SSH) {
            p->relay_kind[k] = RK_SSH;
        } else if (kind == SYNTH_KIND_PLAIN) {
            p->relay_kind[k] = rng_unif(r) < 0.5 ? RK_SOCAT : RK_NC;
        } else {
            double u = rng_unif(r);
            p->relay_kind[k] = u < 0.5 ? RK_SSH : u < 0.75 ? RK_SOCAT : RK_NC;
        }
    }
    p->relay_kind[0] = p->relay_kind[p->nlegs] = RK_END;
    /* framing: the first segment's by the kind; after an ssh relay, SSH */
    uint8_t cipher = 0;
    for (int k = 0; k < p->nlegs; k++) {
        if (k == 0 || p->relay_kind[k] == RK_SSH) {
            int ssh = kind == SYNTH_KIND_SSH || (kind == SYNTH_KIND_MIX && (k > 0 || rng_unif(r) < 0.6));
            cipher = ssh ? draw_cipher(r) : SSH_NONE;
        }
        p->leg_cipher[k] = cipher;
    }
    /* server ports: a forwarder's listening port, else 22 for SSH or a
     * telnet/nc-style port for plain */
    static const uint16_t fwd_ports[] = {1080, 2222, 4444, 8080, 9000, 0};
    for (int k = 0; k < p->nlegs; k++) {
        int next = p->relay_kind[k + 1];
        uint16_t port;
        if (next == RK_SOCAT || next == RK_NC) {
            port = fwd_ports[rng_range(r, 0, 5)];
            if (!port)
                port = (uint16_t)rng_range(r, 1024, 30000);
        } else if (p->leg_cipher[k]) {
            port = 22;
        } else {
            port = rng_unif(r) < 0.5 ? 23 : (uint16_t)rng_range(r, 1024, 30000);
        }
        p->server_port[k] = port;
    }
}

/* Start and end of a session within the run's duration, in us. */
static void place(sim *s, session *p, double lo_frac, double hi_frac, int64_t *start)
{
    double dur = s->cfg->duration_s;
    double st = rng_unif(&s->rng) * lo_frac * dur;
    double len = (dur - st) * (hi_frac + rng_unif(&s->rng) * (0.95 - hi_frac));
    *start = us_of(st);
    p->t_end = us_of(st + len);
}

/* Session n, zeroed, growing the array when needed (busy hosts); NULL when
 * out of memory (s->err set). The pointer is valid until the next call. */
static session *session_at(sim *s, size_t n)
{
    if (n >= s->cap_sess) {
        size_t cap = s->cap_sess * 2 > n + 64 ? s->cap_sess * 2 : n + 64;
        session *q = realloc(s->sess, cap * sizeof *q);
        if (!q) {
            s->err = ss_errf(s->errbuf, SS_ERR_NOMEM, "synth: out of memory for sessions");
            return NULL;
        }
        s->sess = q;
        s->cap_sess = cap;
    }
    memset(&s->sess[n], 0, sizeof s->sess[n]);
    return &s->sess[n];
}

/* Uniform in [lo, hi] seconds, as us. */
static int64_t us_between(rng_t *r, double lo, double hi)
{
    return us_of(lo + rng_unif(r) * (hi - lo));
}

/* Sets up short chain p (--short) of style SHORT_* over hosts already drawn,
 * and returns its start time. */
static int64_t setup_short_chain(sim *s, session *p, int style)
{
    const synth_config *cfg = s->cfg;
    rng_t *r = &s->rng;
    double dur = cfg->duration_s;
    p->short_style = (uint8_t)style;
    if (style == SHORT_INNER_EXEC || style == SHORT_INNER_ONE) {
        /* relays as for the kind, the last one an ssh the user types `ssh C` in */
        pick_relay_kinds(s, p, cfg->kind);
        int last = p->nlegs - 1;
        p->relay_kind[last] = RK_SSH;
        p->leg_cipher[last] = draw_cipher(r);
        p->server_port[last] = 22;
        p->server_port[last - 1] = p->leg_cipher[last - 1] ? 22 : 23;
        /* a 30-45 s login into the first relay; the short leg in its middle */
        double len = 30 + rng_unif(r) * 15;
        if (len > 0.9 * dur)
            len = 0.9 * dur;
        double st = rng_unif(r) * (dur - len - 5 > 0 ? dur - len - 5 : 0);
        p->t_extend = us_of(st + len * (0.3 + 0.3 * rng_unif(r)));
        p->t_end = us_of(st + len - 3);
        p->short_dur = style == SHORT_INNER_EXEC ? us_between(r, 1.2, 7.0)
                                                 : us_between(r, 3.0, 8.0);
        return us_of(st);
    }
    p->mode = SM_ONESHOT;
    p->relay_kind[0] = p->relay_kind[2] = RK_END;
    if (style == SHORT_JUMP) {
        p->relay_kind[1] = RK_JUMP;
        p->leg_cipher[0] = p->leg_cipher[1] = draw_cipher(r);
        p->wrap[0] = draw_cipher(r);
        p->server_port[0] = p->server_port[1] = 22;
    } else {
        p->relay_kind[1] = rng_unif(r) < 0.5 ? RK_SOCAT : RK_NC;
        uint8_t cipher = cfg->kind == SYNTH_KIND_MIX && rng_unif(r) < 0.5 ? draw_cipher(r)
                                                                          : SSH_NONE;
        p->leg_cipher[0] = p->leg_cipher[1] = cipher;
        static const uint16_t fwd_ports[] = {1080, 2222, 4444, 8080, 9000};
        p->server_port[0] = fwd_ports[rng_range(r, 0, 4)];
        p->server_port[1] = cipher ? 22 : (uint16_t)rng_range(r, 1024, 30000);
    }
    p->short_dur = us_between(r, 1.2, 7.0);
    return us_of(rng_unif(r) * (dur > 10 ? dur - 10 : 0));
}

/* An unrelated single-leg interactive login from host a to host b, from start
 * until about end (seconds), appended as session n. */
static void add_login(sim *s, size_t n, uint32_t a, uint32_t b, double start, double end)
{
    session *p = session_at(s, n);
    if (!p)
        return;
    p->mode = SM_INTERACTIVE;
    p->nlegs = 1;
    p->hosts[0] = a;
    p->hosts[1] = b;
    p->leg_cipher[0] = rng_unif(&s->rng) < 0.9 ? draw_cipher(&s->rng) : SSH_NONE;
    p->server_port[0] = p->leg_cipher[0] ? 22 : 23;
    p->t_end = us_of(end);
    schedule_session(s, (uint32_t)n, us_of(start));
}

/* Busy hosts (--busy) and decoys (--decoys), appended from session *n on. */
static int build_busy_and_decoys(sim *s, const uint32_t *relays, size_t nrelays, size_t *n)
{
    const synth_config *cfg = s->cfg;
    rng_t *r = &s->rng;
    double dur = cfg->duration_s, stop = 0.97 * dur;
    unsigned nbusy = cfg->busy ? (cfg->busy_hosts ? cfg->busy_hosts : 1) : 0;
    uint32_t busy_host[SYNTH_MAX_BUSY_HOSTS];
    for (unsigned h = 0; h < nbusy; h++) {
        if (h < nrelays)
            busy_host[h] = relays[h];
        else if (new_host(s, &busy_host[h]))
            return s->err;
        /* busy slots: back-to-back logins, half into the host, half out of it;
         * the next starts when the one before reaches its end time */
        for (unsigned slot = 0; slot < cfg->busy; slot++) {
            double t = rng_unif(r) * 2.0;
            do {
                uint32_t other;
                if (new_host(s, &other))
                    return s->err;
                double end = t + clampd(rng_lognormal(r, 60, 0.8), 10, 600);
                if (end > stop || stop - end < 10)
                    end = stop > t + 5 ? stop : t + 5;
                if (slot % 2 == 0)
                    add_login(s, (*n)++, other, busy_host[h], t, end);
                else
                    add_login(s, (*n)++, busy_host[h], other, t, end);
                if (s->err)
                    return s->err;
                t = end;
            } while (t < stop);
        }
    }
    for (unsigned k = 0; k < cfg->decoys; k++) {
        uint32_t relay, x, y;
        if (nbusy)
            relay = busy_host[k % nbusy];
        else if (nrelays) /* spread over the relays, in turn */
            relay = relays[k % nrelays];
        else if (new_host(s, &relay))
            return s->err;
        if (new_host(s, &x) || new_host(s, &y))
            return s->err;
        double t0 = rng_unif(r) * (dur > 15 ? dur - 15 : 0);
        add_login(s, (*n)++, x, relay, t0, t0 + clampd(rng_lognormal(r, 40, 0.7), 8, 400));
        session *p = session_at(s, *n);
        if (!p)
            return s->err;
        p->mode = SM_ONESHOT;
        p->short_style = SHORT_DECOY;
        p->nlegs = 1;
        p->hosts[0] = relay;
        p->hosts[1] = y;
        p->leg_cipher[0] = draw_cipher(r);
        p->server_port[0] = 22;
        p->short_dur = us_between(r, 1.0, 6.0);
        schedule_session(s, (uint32_t)*n, us_of(t0) + us_between(r, 0.5, 4.0));
        (*n)++;
    }
    return 0;
}

static int build_sessions(sim *s, uint32_t *relays, size_t *nrelays)
{
    const synth_config *cfg = s->cfg;
    rng_t *r = &s->rng;
    size_t n = 0;
    *nrelays = 0;
    for (unsigned ch = 0; ch < cfg->chains; ch++) {
        session *p = &s->sess[n];
        memset(p, 0, sizeof *p);
        p->mode = SM_INTERACTIVE;
        p->labelled = 1;
        p->chain_id = ch + 1;
        p->nlegs = (int)rng_range(r, cfg->hops_min, cfg->hops_max);
        for (int k = 0; k <= p->nlegs; k++)
            if (new_host(s, &p->hosts[k]))
                return s->err;
        for (int k = 1; k < p->nlegs; k++)
            relays[(*nrelays)++] = p->hosts[k];
        pick_relay_kinds(s, p, cfg->kind);
        int64_t start;
        place(s, p, 0.2, 0.5, &start);
        schedule_session(s, (uint32_t)n, start);
        n++;
    }
    for (unsigned k = 0; k < cfg->short_chains; k++) {
        session *p = &s->sess[n];
        memset(p, 0, sizeof *p);
        p->mode = SM_INTERACTIVE;
        p->labelled = 1;
        p->chain_id = cfg->chains + k + 1;
        double u = rng_unif(r);
        int style;
        if (cfg->kind == SYNTH_KIND_PLAIN)
            style = SHORT_FWD;
        else if (cfg->kind == SYNTH_KIND_SSH)
            style = u < 0.3 ? SHORT_INNER_EXEC : u < 0.6 ? SHORT_INNER_ONE : SHORT_JUMP;
        else
            style = u < 0.2 ? SHORT_INNER_EXEC : u < 0.4 ? SHORT_INNER_ONE
                  : u < 0.7 ? SHORT_JUMP : SHORT_FWD;
        p->nlegs = 2;
        if (style == SHORT_INNER_EXEC || style == SHORT_INNER_ONE) {
            uint32_t lo = cfg->hops_min < 3 ? cfg->hops_min : 3;
            uint32_t hi = cfg->hops_max < 3 ? cfg->hops_max : 3;
            p->nlegs = (int)rng_range(r, lo, hi);
        }
        for (int h = 0; h <= p->nlegs; h++)
            if (new_host(s, &p->hosts[h]))
                return s->err;
        for (int h = 1; h < p->nlegs; h++)
            relays[(*nrelays)++] = p->hosts[h];
        schedule_session(s, (uint32_t)n, setup_short_chain(s, p, style));
        n++;
    }
    uint32_t web_servers[4];
    for (int k = 0; k < 4; k++)
        if (new_host(s, &web_servers[k]))
            return s->err;
    for (unsigned b = 0; b < cfg->background; b++) {
        session *p = &s->sess[n];
        memset(p, 0, sizeof *p);
        p->nlegs = 1;
        double u = rng_unif(r);
        int touch_relay = *nrelays > 0 && rng_unif(r) < 0.6;
        uint32_t relay = touch_relay ? relays[rng_range(r, 0, (uint32_t)*nrelays - 1)] : 0;
        uint32_t other;
        if (new_host(s, &other))
            return s->err;
        int relay_is_client = rng_unif(r) < 0.5;
        if (u < 0.6) { /* interactive login: the hard negatives */
            p->mode = SM_INTERACTIVE;
        } else if (u < 0.8) {
            p->mode = SM_BULK;
            p->bulk_left = (uint64_t)clampd(rng_lognormal(r, 200000, 1.5), 1000,
                                            cfg->max_output < 1000 ? 1000 : cfg->max_output);
            p->bulk_dir = rng_unif(r) < 0.5;
        } else {
            p->mode = SM_WEB;
            p->web_left = (int)rng_range(r, 2, 12);
            touch_relay = touch_relay && relay_is_client; /* relays browse, they do not serve */
        }
        if (p->mode == SM_WEB) {
            p->hosts[0] = touch_relay ? relay : other;
            p->hosts[1] = web_servers[rng_range(r, 0, 3)];
            p->server_port[0] = rng_unif(r) < 0.7 ? 443 : 80;
        } else {
            if (touch_relay) {
                p->hosts[0] = relay_is_client ? relay : other;
                p->hosts[1] = relay_is_client ? other : relay;
            } else {
                uint32_t third;
                if (new_host(s, &third))
                    return s->err;
                p->hosts[0] = other;
                p->hosts[1] = third;
            }
            p->leg_cipher[0] = p->mode == SM_BULK || rng_unif(r) < 0.85 ? draw_cipher(r) : SSH_NONE;
            p->server_port[0] = p->leg_cipher[0] ? 22 : 23;
        }
        int64_t start;
        place(s, p, 0.6, 0.2, &start);
        schedule_session(s, (uint32_t)n, start);
        n++;
    }
    int rc = build_busy_and_decoys(s, relays, *nrelays, &n);
    s->nsess = n;
    return rc;
}

static void make_labels(sim *s, labels *out, char *errbuf)
{
    for (size_t k = 0; k < s->nsess && !s->err; k++) {
        session *p = &s->sess[k];
        if (!p->labelled)
            continue;
        for (int h = 1; h < p->nlegs; h++) {
            conn *in = &s->conns[p->conn[h - 1]], *o = &s->conns[p->conn[h]];
            labels_hop hop;
            memset(&hop, 0, sizeof hop);
            hop.chain_id = p->chain_id;
            snprintf(hop.kind, sizeof hop.kind, "%s", relay_kind_names[p->relay_kind[h]]);
            hop.relay_family = 4;
            put32(hop.relay_addr, s->hosts[p->hosts[h]].ip);
            labels_endpoint *eps[4] = {&hop.in_src, &hop.in_dst, &hop.out_src, &hop.out_dst};
            conn *cs[4] = {in, in, o, o};
            for (int q = 0; q < 4; q++) {
                eps[q]->family = 4;
                put32(eps[q]->addr, s->hosts[cs[q]->host[q % 2]].ip);
                eps[q]->port = cs[q]->port[q % 2];
            }
            int64_t st = in->t_first < o->t_first ? in->t_first : o->t_first;
            int64_t en = in->t_last > o->t_last ? in->t_last : o->t_last;
            hop.start_us = s->cfg->start_us + st;
            hop.end_us = s->cfg->start_us + en;
            if (labels_append(out, &hop, errbuf))
                s->err = SS_ERR_NOMEM;
            s->stats.labelled_hops++;
        }
    }
}

/* ------------------------------------------------------ public functions */

void synth_config_default(synth_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->duration_s = 300;
    cfg->chains = 3;
    cfg->hops_min = 2;
    cfg->hops_max = 4;
    cfg->chaff = 0;
    cfg->jitter_s = 0;
    cfg->delay_s = 0.004;
    cfg->background = 10;
    cfg->kind = SYNTH_KIND_SSH;
    cfg->start_us = 1700000000LL * 1000000;
    cfg->snaplen = 65535;
    cfg->max_output = 2e6;
}

const char *synth_kind_to_string(int kind)
{
    switch (kind) {
    case SYNTH_KIND_SSH: return "ssh";
    case SYNTH_KIND_PLAIN: return "plain";
    case SYNTH_KIND_MIX: return "mix";
    default: return NULL;
    }
}

int synth_kind_from_string(const char *str)
{
    for (int k = SYNTH_KIND_SSH; k <= SYNTH_KIND_MIX; k++)
        if (!strcmp(str, synth_kind_to_string(k)))
            return k;
    return -1;
}

int synth_config_check(const synth_config *cfg, char *errbuf)
{
    if (!(cfg->duration_s >= 1 && cfg->duration_s <= 30 * 86400.0))
        return ss_errf(errbuf, SS_ERR_ARG, "duration must be 1 s to 30 days, got %g",
                       cfg->duration_s);
    if (cfg->hops_min < 2)
        return ss_errf(errbuf, SS_ERR_ARG,
                       "a chain needs at least 2 hops (A -> B -> C), got %u", cfg->hops_min);
    if (cfg->hops_max > SYNTH_MAX_HOPS || cfg->hops_max < cfg->hops_min)
        return ss_errf(errbuf, SS_ERR_ARG, "hops must be MIN-MAX with 2 <= MIN <= MAX <= %d",
                       SYNTH_MAX_HOPS);
    if (cfg->chains > 10000)
        return ss_errf(errbuf, SS_ERR_ARG, "at most 10000 chains, got %u", cfg->chains);
    if (cfg->background > 100000)
        return ss_errf(errbuf, SS_ERR_ARG, "at most 100000 background sessions, got %u",
                       cfg->background);
    if (cfg->short_chains > 10000)
        return ss_errf(errbuf, SS_ERR_ARG, "at most 10000 short chains, got %u",
                       cfg->short_chains);
    if (cfg->busy > 1000)
        return ss_errf(errbuf, SS_ERR_ARG, "at most 1000 sessions per busy host, got %u",
                       cfg->busy);
    if (cfg->busy_hosts > SYNTH_MAX_BUSY_HOSTS)
        return ss_errf(errbuf, SS_ERR_ARG, "at most %d busy hosts, got %u",
                       SYNTH_MAX_BUSY_HOSTS, cfg->busy_hosts);
    if (cfg->decoys > 100000)
        return ss_errf(errbuf, SS_ERR_ARG, "at most 100000 decoys, got %u", cfg->decoys);
    if (cfg->chains == 0 && cfg->short_chains == 0 && cfg->background == 0 && cfg->busy == 0 &&
        cfg->decoys == 0)
        return ss_errf(errbuf, SS_ERR_ARG, "nothing to generate: no chains, no background");
    if (!(cfg->chaff >= 0 && cfg->chaff <= 100))
        return ss_errf(errbuf, SS_ERR_ARG, "chaff ratio must be 0 to 100, got %g", cfg->chaff);
    if (!(cfg->jitter_s >= 0 && cfg->jitter_s <= 10))
        return ss_errf(errbuf, SS_ERR_ARG, "jitter must be 0 to 10 s, got %g", cfg->jitter_s);
    if (!(cfg->delay_s >= 0.00001 && cfg->delay_s <= 1))
        return ss_errf(errbuf, SS_ERR_ARG, "delay must be 10 us to 1 s, got %g", cfg->delay_s);
    if (!synth_kind_to_string(cfg->kind))
        return ss_errf(errbuf, SS_ERR_ARG, "unknown kind %d", cfg->kind);
    if (cfg->start_us < 0 || cfg->start_us > 4000000000LL * 1000000)
        return ss_errf(errbuf, SS_ERR_ARG, "start time out of range");
    if (cfg->snaplen < 64 || cfg->snaplen > 262144)
        return ss_errf(errbuf, SS_ERR_ARG, "snaplen must be 64 to 262144, got %u", cfg->snaplen);
    if (!(cfg->max_output >= 1 && cfg->max_output <= 1e9))
        return ss_errf(errbuf, SS_ERR_ARG, "max output must be 1 byte to 1 GB");
    if (!(cfg->wan_s == 0 || (cfg->wan_s >= 0.002 && cfg->wan_s <= 1)))
        return ss_errf(errbuf, SS_ERR_ARG, "WAN delay must be 0 (off) or 2 ms to 1 s, got %g",
                       cfg->wan_s);
    return SS_OK;
}

/* Makes "PATH.tmp.XXXXXX", opens it; returns the stream or NULL. */
static FILE *open_temp(const char *path, char **tmp_out, char *errbuf)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        ss_errf(errbuf, SS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        ss_errf(errbuf, SS_ERR_IO, "%s: cannot create a temporary file: %s", path,
                strerror(errno));
        free(tmp);
        return NULL;
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; outputs are ordinary files */
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        ss_errf(errbuf, SS_ERR_IO, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return NULL;
    }
    *tmp_out = tmp;
    return f;
}

static int run(sim *s)
{
    while (s->nheap > 0 && !s->err) {
        event e = pop(s);
        s->now = e.t;
        switch (e.type) {
        case EV_PKT: do_packet(s, &e); break;
        case EV_ARRIVE: do_arrive(s, &e); break;
        case EV_DACK: do_dack(s, &e); break;
        case EV_SESSION: {
            session *p = &s->sess[e.conn];
            if (p->mode == SM_INTERACTIVE)
                step_interactive(s, e.conn, e.t);
            else if (p->mode == SM_BULK)
                step_bulk(s, e.conn, e.t);
            else if (p->mode == SM_ONESHOT)
                step_oneshot(s, e.conn, e.t);
            else
                step_web(s, e.conn, e.t);
            break;
        }
        default: break;
        }
    }
    return s->err;
}

int synth_generate(const synth_config *cfg, const char *pcap_path, const char *labels_path,
                   synth_stats *stats, char *errbuf)
{
    int rc = synth_config_check(cfg, errbuf);
    if (rc)
        return rc;
    sim s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.errbuf = errbuf;
    rng_seed(&s.rng, cfg->seed);
    rng_seed(&s.ack_rng, cfg->seed ^ 0x61636b61636b6163ULL);
    rng_seed(&s.chaff_rng, cfg->seed ^ 0x6368616666636866ULL);
    rng_seed(&s.wan_rng, cfg->seed ^ 0x77616e77616e7761ULL);
    labels lab;
    labels_init(&lab);
    pcap_t *pd = NULL;
    FILE *f = NULL;
    char *tmp = NULL;
    uint32_t *relays = NULL;
    size_t nrelays = 0;

    s.used_ip = calloc(SYNTH_NET_SIZE / 8, 1);
    s.cap_sess = (size_t)cfg->chains + cfg->short_chains + cfg->background + 2 * (size_t)cfg->decoys;
    s.sess = calloc(s.cap_sess ? s.cap_sess : 1, sizeof *s.sess);
    s.frame = malloc(14 + 20 + 32 + 65536);
    relays = calloc(((size_t)cfg->chains + cfg->short_chains) * SYNTH_MAX_HOPS + 1,
                    sizeof *relays);
    if (!s.used_ip || !s.sess || !s.frame || !relays) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "synth: out of memory");
        goto done;
    }
    pd = pcap_open_dead(DLT_EN10MB, (int)cfg->snaplen);
    if (!pd) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "synth: pcap_open_dead failed");
        goto done;
    }
    f = open_temp(pcap_path, &tmp, errbuf);
    if (!f) {
        rc = SS_ERR_IO;
        goto done;
    }
    s.dumper = pcap_dump_fopen(pd, f);
    if (!s.dumper) {
        rc = ss_errf(errbuf, SS_ERR_IO, "%s: %s", pcap_path, pcap_geterr(pd));
        fclose(f);
        goto done;
    }
    rc = build_sessions(&s, relays, &nrelays);
    if (!rc)
        rc = run(&s);
    if (!rc) {
        make_labels(&s, &lab, errbuf);
        rc = s.err;
    }
    if (pcap_dump_flush(s.dumper) != 0 && !rc)
        rc = ss_errf(errbuf, SS_ERR_IO, "%s: write error: %s", pcap_path, strerror(errno));
    if (ferror(pcap_dump_file(s.dumper)) && !rc)
        rc = ss_errf(errbuf, SS_ERR_IO, "%s: write error", pcap_path);
    pcap_dump_close(s.dumper); /* closes f */
    if (!rc)
        rc = labels_write(&lab, labels_path, errbuf);
    if (!rc && rename(tmp, pcap_path) != 0) {
        rc = ss_errf(errbuf, SS_ERR_IO, "%s: cannot rename into place: %s", pcap_path,
                     strerror(errno));
        unlink(labels_path);
    }
done:
    if (tmp) {
        if (rc)
            unlink(tmp);
        free(tmp);
    }
    if (pd)
        pcap_close(pd);
    if (stats)
        *stats = s.stats;
    labels_free(&lab);
    free(relays);
    free(s.used_ip);
    free(s.sess);
    free(s.frame);
    free(s.heap);
    free(s.conns);
    free(s.hosts);
    return rc;
}

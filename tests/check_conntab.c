/* check_conntab.c - tests for conntab.c: connection states, originator,
 * retransmissions, timeouts, growth, ordering. Packets are built by hand. */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conntab.h"
#include "status.h"

#define S PACKET_TCP_SYN
#define A PACKET_TCP_ACK
#define F PACKET_TCP_FIN
#define R PACKET_TCP_RST
#define P PACKET_TCP_PSH

/* Records collected by the emit callback (deep copies). */
typedef struct collected {
    conntab_record *recs;
    conntab_pkt **pkts;
    size_t n, cap;
    int fail_after; /* emit fails once n reaches it (-1: never) */
} collected;

static int collect(void *ctx, const conntab_record *rec, char *errbuf)
{
    collected *col = ctx;
    if (col->fail_after >= 0 && (int)col->n >= col->fail_after)
        return ss_errf(errbuf, SS_ERR_IO, "test: emit refused");
    if (col->n == col->cap) {
        col->cap = col->cap ? col->cap * 2 : 16;
        col->recs = realloc(col->recs, col->cap * sizeof(*col->recs));
        col->pkts = realloc(col->pkts, col->cap * sizeof(*col->pkts));
        ck_assert_ptr_nonnull(col->recs);
        ck_assert_ptr_nonnull(col->pkts);
    }
    col->recs[col->n] = *rec;
    col->pkts[col->n] = NULL;
    if (rec->n_pkts) {
        col->pkts[col->n] = malloc(rec->n_pkts * sizeof(conntab_pkt));
        ck_assert_ptr_nonnull(col->pkts[col->n]);
        memcpy(col->pkts[col->n], rec->pkts, rec->n_pkts * sizeof(conntab_pkt));
    }
    col->recs[col->n].pkts = col->pkts[col->n];
    col->n++;
    return SS_OK;
}

static void collected_free(collected *col)
{
    for (size_t i = 0; i < col->n; i++)
        free(col->pkts[i]);
    free(col->pkts);
    free(col->recs);
    memset(col, 0, sizeof(*col));
}

/* Host addresses 10.0.0.x and ports; ts in milliseconds. */
static packet_t tcp(int64_t ts_ms, int src, uint16_t sport, int dst, uint16_t dport,
                    uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
    packet_t p;
    memset(&p, 0, sizeof(p));
    p.ts_us = 1700000000000000LL + ts_ms * 1000;
    p.family = 4;
    p.proto = IPPROTO_TCP;
    p.tcp_flags = flags;
    p.src[0] = 10; p.src[3] = (uint8_t)src;
    p.dst[0] = 10; p.dst[3] = (uint8_t)dst;
    p.sport = sport;
    p.dport = dport;
    p.seq = seq;
    p.ack = ack;
    p.payload_len = len;
    p.wire_len = 54 + len;
    return p;
}

static packet_t udp(int64_t ts_ms, int src, uint16_t sport, int dst, uint16_t dport, uint32_t len)
{
    packet_t p = tcp(ts_ms, src, sport, dst, dport, 0, 0, 0, len);
    p.proto = IPPROTO_UDP;
    return p;
}

typedef struct fixture {
    conntab *t;
    collected col;
    char err[SS_ERRBUF_SIZE];
} fixture;

static void fx_init(fixture *fx, const conntab_config *cfg)
{
    memset(fx, 0, sizeof(*fx));
    fx->col.fail_after = -1;
    ck_assert_int_eq(conntab_create(&fx->t, cfg, collect, &fx->col, fx->err), 0);
}

static void fx_add(fixture *fx, packet_t p)
{
    ck_assert_msg(conntab_add(fx->t, &p, fx->err) == 0, "%s", fx->err);
}

static void fx_done(fixture *fx)
{
    conntab_destroy(fx->t);
    collected_free(&fx->col);
}

/* Runs a packet sequence through a fresh table, flushes it and returns the
 * conn_state of the single resulting connection. */
static int state_of(const packet_t *pk, size_t n)
{
    fixture fx;
    fx_init(&fx, NULL);
    for (size_t i = 0; i < n; i++)
        fx_add(&fx, pk[i]);
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 1);
    int st = fx.col.recs[0].state;
    fx_done(&fx);
    return st;
}

#define STATE_OF(arr) state_of(arr, sizeof(arr) / sizeof(arr[0]))

/* A full connection 1:1000 -> 2:80: handshake, 100 bytes each way, FINs. */
static size_t full_conn(packet_t *pk, int64_t t0)
{
    size_t n = 0;
    pk[n++] = tcp(t0 + 0, 1, 1000, 2, 80, S, 100, 0, 0);
    pk[n++] = tcp(t0 + 1, 2, 80, 1, 1000, S | A, 500, 101, 0);
    pk[n++] = tcp(t0 + 2, 1, 1000, 2, 80, A, 101, 501, 0);
    pk[n++] = tcp(t0 + 3, 1, 1000, 2, 80, P | A, 101, 501, 100);
    pk[n++] = tcp(t0 + 4, 2, 80, 1, 1000, P | A, 501, 201, 100);
    pk[n++] = tcp(t0 + 5, 1, 1000, 2, 80, F | A, 201, 601, 0);
    pk[n++] = tcp(t0 + 6, 2, 80, 1, 1000, F | A, 601, 202, 0);
    pk[n++] = tcp(t0 + 7, 1, 1000, 2, 80, A, 202, 602, 0);
    return n;
}

START_TEST(test_state_sf_counts)
{
    packet_t pk[8];
    size_t n = full_conn(pk, 0);
    fixture fx;
    fx_init(&fx, NULL);
    for (size_t i = 0; i < n; i++)
        fx_add(&fx, pk[i]);
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 1);
    const conntab_record *r = &fx.col.recs[0];
    ck_assert_str_eq(conntab_state_to_string(r->state), "SF");
    ck_assert_uint_eq(r->orig_pkts, 5);
    ck_assert_uint_eq(r->resp_pkts, 3);
    ck_assert_uint_eq(r->orig_bytes, 100);
    ck_assert_uint_eq(r->resp_bytes, 100);
    ck_assert_uint_eq(r->orig_p, 1000);
    ck_assert_uint_eq(r->resp_p, 80);
    ck_assert_int_eq(r->orig_h[3], 1);
    ck_assert_int_eq(r->resp_h[3], 2);
    ck_assert_int_eq(r->end_us - r->start_us, 7000);
    ck_assert_uint_eq(r->n_pkts, 8);
    ck_assert_int_eq(r->pkts[1].dir, CONNTAB_DIR_RESP);
    ck_assert_int_eq(r->pkts[1].tcp_flags, S | A);
    ck_assert_int_eq(r->pkts[3].payload_len, 100);
    ck_assert_int_eq(r->pkts[7].dt_us, 7000);
    ck_assert_int_eq(r->uid[0], 'C');
    ck_assert_uint_eq(strlen(r->uid), 12);
    fx_done(&fx);
}
END_TEST

START_TEST(test_states_each)
{
    /* S0: SYN only */
    packet_t s0[] = {tcp(0, 1, 1000, 2, 80, S, 100, 0, 0),
                     tcp(1000, 1, 1000, 2, 80, S, 100, 0, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(s0)), "S0");
    /* REJ: SYN answered by RST */
    packet_t rej[] = {tcp(0, 1, 1000, 2, 80, S, 100, 0, 0),
                      tcp(1, 2, 80, 1, 1000, R | A, 0, 101, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(rej)), "REJ");
    /* S1: established, data, no close */
    packet_t s1[] = {tcp(0, 1, 1000, 2, 80, S, 100, 0, 0),
                     tcp(1, 2, 80, 1, 1000, S | A, 500, 101, 0),
                     tcp(2, 1, 1000, 2, 80, A, 101, 501, 0),
                     tcp(3, 1, 1000, 2, 80, P | A, 101, 501, 10)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(s1)), "S1");
    /* S2: originator closes, no answer */
    packet_t s2[] = {tcp(0, 1, 1000, 2, 80, S, 100, 0, 0),
                     tcp(1, 2, 80, 1, 1000, S | A, 500, 101, 0),
                     tcp(2, 1, 1000, 2, 80, A, 101, 501, 0),
                     tcp(3, 1, 1000, 2, 80, F | A, 101, 501, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(s2)), "S2");
    /* S3: responder closes, no answer */
    packet_t s3[] = {tcp(0, 1, 1000, 2, 80, S, 100, 0, 0),
                     tcp(1, 2, 80, 1, 1000, S | A, 500, 101, 0),
                     tcp(2, 1, 1000, 2, 80, A, 101, 501, 0),
                     tcp(3, 2, 80, 1, 1000, F | A, 501, 101, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(s3)), "S3");
    /* RSTO: established, originator resets */
    packet_t rsto[] = {tcp(0, 1, 1000, 2, 80, S, 100, 0, 0),
                       tcp(1, 2, 80, 1, 1000, S | A, 500, 101, 0),
                       tcp(2, 1, 1000, 2, 80, A, 101, 501, 0),
                       tcp(3, 1, 1000, 2, 80, R | A, 101, 501, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(rsto)), "RSTO");
    /* RSTR: established, responder resets */
    packet_t rstr[] = {tcp(0, 1, 1000, 2, 80, S, 100, 0, 0),
                       tcp(1, 2, 80, 1, 1000, S | A, 500, 101, 0),
                       tcp(2, 1, 1000, 2, 80, A, 101, 501, 0),
                       tcp(3, 1, 1000, 2, 80, P | A, 101, 501, 5),
                       tcp(4, 2, 80, 1, 1000, R | A, 501, 106, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(rstr)), "RSTR");
    /* RSTOS0: SYN then RST from the originator, no SYN-ACK */
    packet_t rstos0[] = {tcp(0, 1, 1000, 2, 80, S, 100, 0, 0),
                         tcp(1, 1, 1000, 2, 80, R, 101, 0, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(rstos0)), "RSTOS0");
    /* RSTRH: SYN-ACK (SYN missed) then RST from the responder */
    packet_t rstrh[] = {tcp(0, 2, 80, 1, 1000, S | A, 500, 101, 0),
                        tcp(1, 2, 80, 1, 1000, R, 501, 0, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(rstrh)), "RSTRH");
    /* SH: SYN then FIN from the originator */
    packet_t sh[] = {tcp(0, 1, 1000, 2, 80, S, 100, 0, 0),
                     tcp(1, 1, 1000, 2, 80, F, 101, 0, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(sh)), "SH");
    /* SHR: SYN-ACK (SYN missed) then FIN from the responder */
    packet_t shr[] = {tcp(0, 2, 80, 1, 1000, S | A, 500, 101, 0),
                      tcp(1, 2, 80, 1, 1000, F | A, 501, 101, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(shr)), "SHR");
    /* OTH: midstream */
    packet_t oth[] = {tcp(0, 1, 1000, 2, 80, P | A, 7000, 9000, 10),
                      tcp(1, 2, 80, 1, 1000, A, 9000, 7010, 0)};
    ck_assert_str_eq(conntab_state_to_string(STATE_OF(oth)), "OTH");
}
END_TEST

START_TEST(test_originator_without_syn)
{
    fixture fx;
    fx_init(&fx, NULL);
    /* midstream, first packet 2:22 -> 1:5000: the server (well-known port)
     * talks first, so its receiver 1 is the originator (as Zeek reads it) */
    fx_add(&fx, tcp(0, 2, 22, 1, 5000, P | A, 1, 1, 50));
    fx_add(&fx, tcp(1, 1, 5000, 2, 22, A, 1, 51, 0));
    fx_add(&fx, tcp(2, 2, 22, 1, 5000, P | A, 51, 1, 50));
    /* a SYN-ACK first: its receiver (3) is the originator */
    fx_add(&fx, tcp(10, 4, 443, 3, 6000, S | A, 10, 21, 0));
    fx_add(&fx, tcp(11, 3, 6000, 4, 443, A, 21, 11, 0));
    /* midstream between two high ports: the first sender (5) originates */
    fx_add(&fx, tcp(20, 5, 7000, 6, 8000, P | A, 1, 1, 10));
    fx_add(&fx, tcp(21, 6, 8000, 5, 7000, A, 1, 11, 0));
    /* UDP reply first (53 -> 40000): the querier (7) originates */
    fx_add(&fx, udp(30, 8, 53, 7, 40000, 60));
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 4);
    const conntab_record *r = &fx.col.recs[0];
    ck_assert_int_eq(r->orig_h[3], 1);
    ck_assert_uint_eq(r->orig_p, 5000);
    ck_assert_uint_eq(r->resp_p, 22);
    ck_assert_uint_eq(r->orig_pkts, 1);
    ck_assert_uint_eq(r->resp_pkts, 2);
    ck_assert_uint_eq(r->resp_bytes, 100);
    ck_assert_int_eq(r->pkts[0].dir, CONNTAB_DIR_RESP);
    r = &fx.col.recs[1];
    ck_assert_int_eq(r->orig_h[3], 3);
    ck_assert_uint_eq(r->orig_p, 6000);
    ck_assert_uint_eq(r->resp_p, 443);
    ck_assert_uint_eq(r->orig_pkts, 1);
    ck_assert_uint_eq(r->resp_pkts, 1);
    ck_assert_int_eq(r->pkts[0].dir, CONNTAB_DIR_RESP);
    ck_assert_str_eq(conntab_state_to_string(r->state), "S1");
    r = &fx.col.recs[2];
    ck_assert_int_eq(r->orig_h[3], 5);
    ck_assert_uint_eq(r->orig_p, 7000);
    r = &fx.col.recs[3];
    ck_assert_int_eq(r->orig_h[3], 7);
    ck_assert_uint_eq(r->orig_p, 40000);
    ck_assert_uint_eq(r->resp_p, 53);
    ck_assert_uint_eq(r->resp_pkts, 1);
    fx_done(&fx);
}
END_TEST

START_TEST(test_syn_from_responder_flips)
{
    fixture fx;
    fx_init(&fx, NULL);
    /* a stray ACK 2 -> 1 first, then 1 opens the connection with a SYN */
    fx_add(&fx, tcp(0, 2, 80, 1, 1000, A, 1, 1, 0));
    fx_add(&fx, tcp(1, 1, 1000, 2, 80, S, 100, 0, 0));
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 1);
    const conntab_record *r = &fx.col.recs[0];
    ck_assert_int_eq(r->orig_h[3], 1);
    ck_assert_uint_eq(r->orig_pkts, 1);
    ck_assert_uint_eq(r->resp_pkts, 1);
    ck_assert_int_eq(r->pkts[0].dir, CONNTAB_DIR_RESP);
    ck_assert_int_eq(r->pkts[1].dir, CONNTAB_DIR_ORIG);
    fx_done(&fx);
}
END_TEST

START_TEST(test_retransmission)
{
    fixture fx;
    fx_init(&fx, NULL);
    fx_add(&fx, tcp(0, 1, 1000, 2, 80, S, 100, 0, 0));
    fx_add(&fx, tcp(1, 2, 80, 1, 1000, S | A, 500, 101, 0));
    fx_add(&fx, tcp(2, 1, 1000, 2, 80, A, 101, 501, 0));
    fx_add(&fx, tcp(3, 1, 1000, 2, 80, P | A, 101, 501, 100)); /* [101,201) */
    fx_add(&fx, tcp(4, 1, 1000, 2, 80, P | A, 301, 501, 100)); /* [301,401): gap */
    fx_add(&fx, tcp(5, 1, 1000, 2, 80, P | A, 101, 501, 100)); /* retransmission */
    fx_add(&fx, tcp(6, 1, 1000, 2, 80, P | A, 201, 501, 100)); /* fills the gap */
    fx_add(&fx, tcp(7, 1, 1000, 2, 80, P | A, 251, 501, 50));  /* inside: retrans */
    fx_add(&fx, tcp(8, 1, 1000, 2, 80, P | A, 351, 501, 100)); /* half new */
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    const conntab_record *r = &fx.col.recs[0];
    ck_assert_uint_eq(r->orig_bytes, 350);
    ck_assert_uint_eq(r->orig_retrans, 2);
    ck_assert_uint_eq(r->resp_retrans, 0);
    ck_assert_int_eq(r->pkts[3].retrans, 0);
    ck_assert_int_eq(r->pkts[4].retrans, 0);
    ck_assert_int_eq(r->pkts[5].retrans, 1);
    ck_assert_int_eq(r->pkts[6].retrans, 0);
    ck_assert_int_eq(r->pkts[7].retrans, 1);
    ck_assert_int_eq(r->pkts[8].retrans, 0);
    fx_done(&fx);
}
END_TEST

START_TEST(test_sequence_wrap)
{
    fixture fx;
    fx_init(&fx, NULL);
    uint32_t isn = 0xffffff00u;
    fx_add(&fx, tcp(0, 1, 1000, 2, 80, S, isn, 0, 0));
    fx_add(&fx, tcp(1, 2, 80, 1, 1000, S | A, 500, isn + 1, 0));
    fx_add(&fx, tcp(2, 1, 1000, 2, 80, P | A, isn + 1, 501, 1000)); /* wraps */
    fx_add(&fx, tcp(3, 1, 1000, 2, 80, P | A, isn + 1001, 501, 1000));
    fx_add(&fx, tcp(4, 1, 1000, 2, 80, P | A, isn + 1001, 501, 1000)); /* again */
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.recs[0].orig_bytes, 2000);
    ck_assert_uint_eq(fx.col.recs[0].orig_retrans, 1);
    fx_done(&fx);
}
END_TEST

START_TEST(test_close_lingers_then_emits)
{
    packet_t pk[8];
    size_t n = full_conn(pk, 0);
    fixture fx;
    fx_init(&fx, NULL);
    for (size_t i = 0; i < n; i++)
        fx_add(&fx, pk[i]);
    ck_assert_uint_eq(fx.col.n, 0);
    ck_assert_int_eq(conntab_expire(fx.t, pk[n - 1].ts_us + 4000000, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 0); /* still lingering */
    ck_assert_int_eq(conntab_expire(fx.t, pk[n - 1].ts_us + 5000001, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 1);
    ck_assert_int_eq(fx.col.recs[0].end_reason, CONNTAB_END_CLOSED);
    ck_assert_str_eq(conntab_state_to_string(fx.col.recs[0].state), "SF");
    conntab_stats st;
    conntab_get_stats(fx.t, &st);
    ck_assert_uint_eq(st.live, 0);
    fx_done(&fx);
}
END_TEST

START_TEST(test_port_reuse_new_connection)
{
    packet_t pk[16];
    size_t n = full_conn(pk, 0);
    n += full_conn(pk + n, 100); /* same 5-tuple 100 ms later */
    fixture fx;
    fx_init(&fx, NULL);
    for (size_t i = 0; i < n; i++)
        fx_add(&fx, pk[i]);
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 2);
    ck_assert_int_eq(fx.col.recs[0].end_reason, CONNTAB_END_REUSE);
    ck_assert_int_eq(fx.col.recs[1].end_reason, CONNTAB_END_EOF);
    ck_assert_uint_eq(fx.col.recs[0].orig_pkts + fx.col.recs[0].resp_pkts, 8);
    ck_assert_uint_eq(fx.col.recs[1].orig_pkts + fx.col.recs[1].resp_pkts, 8);
    ck_assert_str_ne(fx.col.recs[0].uid, fx.col.recs[1].uid);
    fx_done(&fx);
}
END_TEST

START_TEST(test_idle_timeouts)
{
    conntab_config cfg;
    conntab_config_default(&cfg);
    cfg.tcp_timeout_us = 10LL * 1000000;
    fixture fx;
    fx_init(&fx, &cfg);
    fx_add(&fx, udp(0, 1, 53000, 2, 53, 40));
    fx_add(&fx, udp(5, 2, 53, 1, 53000, 80));
    fx_add(&fx, tcp(10, 3, 1000, 4, 22, S, 1, 0, 0));
    fx_add(&fx, udp(59000, 5, 1, 6, 2, 1)); /* keeps the clock moving */
    ck_assert_uint_eq(fx.col.n, 1);         /* the TCP attempt: idle > 10 s */
    ck_assert_int_eq(fx.col.recs[0].proto, IPPROTO_TCP);
    ck_assert_int_eq(fx.col.recs[0].end_reason, CONNTAB_END_IDLE);
    fx_add(&fx, udp(60006, 5, 1, 6, 2, 1));
    ck_assert_uint_eq(fx.col.n, 2); /* the DNS exchange: idle > 60 s */
    const conntab_record *r = &fx.col.recs[1];
    ck_assert_int_eq(r->proto, IPPROTO_UDP);
    ck_assert_str_eq(conntab_state_to_string(r->state), "SF");
    ck_assert_uint_eq(r->orig_bytes, 40);
    ck_assert_uint_eq(r->resp_bytes, 80);
    /* the same 5-tuple later is a new connection */
    fx_add(&fx, udp(70000, 1, 53000, 2, 53, 40));
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 4);
    /* flush order: by start time */
    ck_assert_int_eq(fx.col.recs[2].orig_h[3], 5);
    ck_assert_int_eq(fx.col.recs[3].orig_h[3], 1);
    ck_assert_str_eq(conntab_state_to_string(fx.col.recs[3].state), "S0");
    fx_done(&fx);
}
END_TEST

START_TEST(test_active_timeout)
{
    conntab_config cfg;
    conntab_config_default(&cfg);
    cfg.active_timeout_us = 100LL * 1000000;
    cfg.udp_timeout_us = 1000LL * 1000000;
    fixture fx;
    fx_init(&fx, &cfg);
    for (int i = 0; i < 30; i++) /* every 10 s for 300 s */
        fx_add(&fx, udp(i * 10000LL, 1, 4000, 2, 4000, 10));
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 3);
    uint64_t total = 0;
    for (size_t i = 0; i < fx.col.n; i++) {
        total += fx.col.recs[i].orig_pkts;
        ck_assert_int_le(fx.col.recs[i].end_us - fx.col.recs[i].start_us, 100LL * 1000000);
    }
    ck_assert_uint_eq(total, 30);
    ck_assert_int_eq(fx.col.recs[0].end_reason, CONNTAB_END_ACTIVE);
    ck_assert_int_eq(fx.col.recs[2].end_reason, CONNTAB_END_EOF);
    fx_done(&fx);
}
END_TEST

START_TEST(test_growth_many_connections)
{
    fixture fx;
    fx_init(&fx, NULL);
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        packet_t p = udp(i / 100, 1, (uint16_t)(i & 0xffff), 2, 53, 1);
        p.src[2] = (uint8_t)(i >> 16);
        fx_add(&fx, p);
    }
    for (int i = 0; i < n; i += 7) { /* replies find their connection */
        packet_t p = udp(1000, 2, 53, 1, (uint16_t)(i & 0xffff), 2);
        p.dst[2] = (uint8_t)(i >> 16);
        fx_add(&fx, p);
    }
    conntab_stats st;
    conntab_get_stats(fx.t, &st);
    ck_assert_uint_eq(st.live, (uint64_t)n);
    ck_assert_uint_ge(st.buckets, (uint64_t)n);
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, (size_t)n);
    size_t replied = 0;
    for (size_t i = 0; i < fx.col.n; i++)
        replied += fx.col.recs[i].resp_pkts;
    ck_assert_uint_eq(replied, (size_t)((n + 6) / 7));
    conntab_get_stats(fx.t, &st);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.peak_live, (uint64_t)n);
    ck_assert_uint_eq(st.emitted, (uint64_t)n);
    fx_done(&fx);
}
END_TEST

START_TEST(test_expiry_bounds_live)
{
    /* 50k short UDP exchanges over 5000 s: with a 60 s timeout only about
     * 600 are alive at once, and all are emitted and freed. */
    fixture fx;
    fx_init(&fx, NULL);
    for (int i = 0; i < 50000; i++) {
        packet_t p = udp(i * 100LL, 1, (uint16_t)(i & 0xffff), 2, 53, 1);
        p.src[2] = (uint8_t)(i >> 16);
        fx_add(&fx, p);
    }
    conntab_stats st;
    conntab_get_stats(fx.t, &st);
    ck_assert_uint_le(st.peak_live, 700);
    ck_assert_uint_ge(fx.col.n, 49000);
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 50000);
    fx_done(&fx);
}
END_TEST

/* A SYN from 10.1.x.y:port to 10.0.0.2:80, never answered: connection i of
 * a flood (distinct 5-tuples). */
static packet_t flood_syn(int64_t ts_ms, int i)
{
    packet_t p = tcp(ts_ms, 0, (uint16_t)(1024 + i % 60000), 2, 80, S, (uint32_t)i, 0, 0);
    p.src[1] = 1;
    p.src[2] = (uint8_t)(i >> 8);
    p.src[3] = (uint8_t)i;
    return p;
}

/* A fresh table with the default configuration but a bound of max_open. */
static void fx_init_bounded(fixture *fx, uint64_t max_open)
{
    conntab_config cfg;
    conntab_config_default(&cfg);
    cfg.max_open = max_open;
    fx_init(fx, &cfg);
}

START_TEST(test_max_open_evicts_attempts_first)
{
    /* An established session (handshake and payload, still open), then
     * 5000 SYN-only attempts in 5 s through a table of at most 1000: it
     * holds 1000, the 4001 oldest attempts are emitted as evicted S0 in
     * creation order, the session survives to the end. */
    conntab_config cfg;
    conntab_config_default(&cfg);
    cfg.max_open = 1000;
    conntab_stats out;
    memset(&out, 0, sizeof(out));
    cfg.stats_out = &out;
    fixture fx;
    fx_init(&fx, &cfg);
    fx_add(&fx, tcp(0, 1, 1000, 2, 22, S, 100, 0, 0));
    fx_add(&fx, tcp(1, 2, 22, 1, 1000, S | A, 500, 101, 0));
    fx_add(&fx, tcp(2, 1, 1000, 2, 22, A, 101, 501, 0));
    fx_add(&fx, tcp(3, 1, 1000, 2, 22, P | A, 101, 501, 10));
    for (int i = 0; i < 5000; i++) {
        fx_add(&fx, flood_syn(10 + i, i));
        conntab_stats st;
        conntab_get_stats(fx.t, &st);
        ck_assert_uint_le(st.live, 1000);
    }
    conntab_stats st;
    conntab_get_stats(fx.t, &st);
    ck_assert_uint_eq(st.live, 1000);
    ck_assert_uint_eq(st.peak_live, 1000);
    ck_assert_uint_eq(st.evicted, 4001);
    ck_assert_uint_eq(fx.col.n, 4001);
    for (size_t k = 0; k < fx.col.n; k++) {
        const conntab_record *r = &fx.col.recs[k];
        ck_assert_int_eq(r->end_reason, CONNTAB_END_EVICTED);
        ck_assert_int_eq(r->state, CONNTAB_STATE_S0);
        ck_assert_uint_eq(r->serial, k + 1); /* the oldest attempt first */
    }
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 5001);
    ck_assert_uint_eq(fx.col.recs[4001].serial, 0); /* the session, at the end */
    ck_assert_int_eq(fx.col.recs[4001].end_reason, CONNTAB_END_EOF);
    ck_assert_int_eq(fx.col.recs[4001].state, CONNTAB_STATE_S1);
    ck_assert_uint_eq(fx.col.recs[4001].orig_bytes, 10);
    conntab_destroy(fx.t);
    fx.t = NULL;
    ck_assert_uint_eq(out.evicted, 4001); /* stats_out: the final counters */
    ck_assert_uint_eq(out.emitted, 5001);
    collected_free(&fx.col);
}
END_TEST

START_TEST(test_max_open_rejected_and_idle)
{
    /* A rejected attempt (SYN, RST) is still an attempt and goes before
     * established connections; with no attempt left, the connection whose
     * inactivity timer runs out first goes (a UDP one idle since 0 s with a
     * 60 s timeout before TCP ones active at 1 s, 300 s). */
    fixture fx;
    fx_init_bounded(&fx, 3);
    fx_add(&fx, udp(0, 1, 5353, 2, 53, 20));
    fx_add(&fx, udp(1, 2, 53, 1, 5353, 40));
    fx_add(&fx, tcp(500, 1, 1000, 2, 22, S, 100, 0, 0));
    fx_add(&fx, tcp(501, 2, 22, 1, 1000, S | A, 500, 101, 0));
    fx_add(&fx, tcp(1000, 1, 1001, 3, 23, S, 100, 0, 0));
    fx_add(&fx, tcp(1001, 3, 23, 1, 1001, R | A, 0, 101, 0));
    /* full: the next connection evicts the rejected attempt */
    fx_add(&fx, tcp(2000, 1, 1002, 4, 22, S, 100, 0, 0));
    fx_add(&fx, tcp(2001, 4, 22, 1, 1002, S | A, 500, 101, 0));
    ck_assert_uint_eq(fx.col.n, 1);
    ck_assert_int_eq(fx.col.recs[0].end_reason, CONNTAB_END_EVICTED);
    ck_assert_int_eq(fx.col.recs[0].state, CONNTAB_STATE_REJ);
    ck_assert_uint_eq(fx.col.recs[0].resp_p, 23);
    /* no attempt left: the UDP exchange (deadline 60 s) goes */
    fx_add(&fx, tcp(3000, 1, 1003, 5, 22, S, 100, 0, 0));
    ck_assert_uint_eq(fx.col.n, 2);
    ck_assert_int_eq(fx.col.recs[1].end_reason, CONNTAB_END_EVICTED);
    ck_assert_int_eq(fx.col.recs[1].proto, IPPROTO_UDP);
    ck_assert_int_eq(fx.col.recs[1].state, CONNTAB_STATE_SF);
    /* the new SYN is an attempt now: it goes before the established ones */
    fx_add(&fx, tcp(4000, 1, 1004, 6, 22, S, 100, 0, 0));
    ck_assert_uint_eq(fx.col.n, 3);
    ck_assert_uint_eq(fx.col.recs[2].resp_p, 22);
    ck_assert_int_eq(fx.col.recs[2].state, CONNTAB_STATE_S0);
    ck_assert_int_eq(fx.col.recs[2].resp_h[3], 5);
    conntab_stats st;
    conntab_get_stats(fx.t, &st);
    ck_assert_uint_eq(st.evicted, 3);
    ck_assert_uint_eq(st.live, 3);
    fx_done(&fx);
}
END_TEST

START_TEST(test_max_open_zero_unbounded)
{
    conntab_config cfg;
    conntab_config_default(&cfg);
    ck_assert_uint_eq(cfg.max_open, CONNTAB_DEFAULT_MAX_OPEN);
    fixture fx;
    fx_init_bounded(&fx, 0);
    for (int i = 0; i < 3000; i++)
        fx_add(&fx, flood_syn(i, i));
    conntab_stats st;
    conntab_get_stats(fx.t, &st);
    ck_assert_uint_eq(st.live, 3000);
    ck_assert_uint_eq(st.evicted, 0);
    ck_assert_str_eq(conntab_end_to_string(CONNTAB_END_EVICTED), "evicted");
    fx_done(&fx);
}
END_TEST

START_TEST(test_unique_deterministic_uids)
{
    char first[3][CONNTAB_UID_SIZE];
    for (int run = 0; run < 2; run++) {
        fixture fx;
        fx_init(&fx, NULL);
        for (int i = 0; i < 1000; i++)
            fx_add(&fx, udp(i, 1, (uint16_t)(1000 + i), 2, 53, 1));
        ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
        for (size_t i = 0; i < fx.col.n; i++)
            for (size_t j = i + 1; j < fx.col.n && j < i + 50; j++)
                ck_assert_str_ne(fx.col.recs[i].uid, fx.col.recs[j].uid);
        for (int k = 0; k < 3; k++) {
            if (run == 0)
                strcpy(first[k], fx.col.recs[k].uid);
            else
                ck_assert_str_eq(first[k], fx.col.recs[k].uid);
        }
        fx_done(&fx);
    }
}
END_TEST

START_TEST(test_icmp_echo_pairs)
{
    fixture fx;
    fx_init(&fx, NULL);
    packet_t req = udp(0, 1, 8, 2, 0, 56);
    req.proto = IPPROTO_ICMP;
    packet_t rep = udp(1, 2, 0, 1, 0, 56);
    rep.proto = IPPROTO_ICMP;
    packet_t unr = udp(2, 3, 3, 1, 1, 28); /* host unreachable from 3 */
    unr.proto = IPPROTO_ICMP;
    packet_t self_req = udp(3, 9, 8, 9, 0, 56); /* ping to itself */
    self_req.proto = IPPROTO_ICMP;
    packet_t self_rep = udp(4, 9, 0, 9, 0, 56);
    self_rep.proto = IPPROTO_ICMP;
    fx_add(&fx, req);
    fx_add(&fx, rep);
    fx_add(&fx, unr);
    fx_add(&fx, self_req);
    fx_add(&fx, self_rep);
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.n, 3);
    ck_assert_uint_eq(fx.col.recs[2].orig_pkts, 1);
    ck_assert_uint_eq(fx.col.recs[2].resp_pkts, 1);
    ck_assert_uint_eq(fx.col.recs[0].orig_p, 8);
    ck_assert_uint_eq(fx.col.recs[0].resp_p, 0);
    ck_assert_uint_eq(fx.col.recs[0].orig_pkts, 1);
    ck_assert_uint_eq(fx.col.recs[0].resp_pkts, 1);
    ck_assert_str_eq(conntab_state_to_string(fx.col.recs[0].state), "SF");
    ck_assert_uint_eq(fx.col.recs[1].orig_p, 3);
    ck_assert_uint_eq(fx.col.recs[1].resp_p, 1);
    fx_done(&fx);
}
END_TEST

START_TEST(test_max_pkts_bound)
{
    conntab_config cfg;
    conntab_config_default(&cfg);
    cfg.max_pkts = 5;
    fixture fx;
    fx_init(&fx, &cfg);
    for (int i = 0; i < 20; i++)
        fx_add(&fx, udp(i, 1, 5, 2, 6, (uint32_t)i));
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.recs[0].n_pkts, 5);
    ck_assert_uint_eq(fx.col.recs[0].orig_pkts, 20);
    ck_assert_int_eq(fx.col.pkts[0][4].payload_len, 4);
    fx_done(&fx);
}
END_TEST

/* keep_us keeps a connection's packets of its first keep_us only; the counts
 * still cover every packet. */
START_TEST(test_keep_us_bound)
{
    conntab_config cfg;
    conntab_config_default(&cfg);
    cfg.keep_us = 8000; /* 8 ms: packets at 0..7 ms of the start */
    fixture fx;
    fx_init(&fx, &cfg);
    for (int i = 0; i < 20; i++)
        fx_add(&fx, udp(100 + i, 1, 5, 2, 6, (uint32_t)i + 1));
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), 0);
    ck_assert_uint_eq(fx.col.recs[0].n_pkts, 8);
    ck_assert_uint_eq(fx.col.recs[0].orig_pkts, 20);
    ck_assert_int_eq(fx.col.pkts[0][7].payload_len, 8);
    ck_assert_int_eq(fx.col.pkts[0][7].dt_us, 7000);
    fx_done(&fx);
}
END_TEST

START_TEST(test_bad_config_and_emit_failure)
{
    conntab *t = NULL;
    char err[SS_ERRBUF_SIZE];
    conntab_config cfg;
    conntab_config_default(&cfg);
    cfg.udp_timeout_us = 0;
    collected col = {0};
    ck_assert_int_eq(conntab_create(&t, &cfg, collect, &col, err), SS_ERR_ARG);
    ck_assert_ptr_null(t);
    conntab_destroy(NULL);

    /* an emit failure is returned by the call that emitted */
    fixture fx;
    fx_init(&fx, NULL);
    fx.col.fail_after = 1;
    fx_add(&fx, udp(0, 1, 1, 2, 2, 1));
    fx_add(&fx, udp(1, 1, 1, 3, 2, 1));
    ck_assert_int_eq(conntab_flush(fx.t, fx.err), SS_ERR_IO);
    ck_assert_str_eq(fx.err, "test: emit refused");
    conntab_stats st;
    conntab_get_stats(fx.t, &st);
    ck_assert_uint_eq(st.live, 0);
    fx_done(&fx);
}
END_TEST

START_TEST(test_destroy_with_live_connections)
{
    fixture fx;
    fx_init(&fx, NULL);
    for (int i = 0; i < 5000; i++)
        fx_add(&fx, tcp(i, 1, (uint16_t)i, 2, 80, P | A, (uint32_t)i, 1, 100));
    fx_done(&fx); /* frees everything without emitting (checked by valgrind) */
    ck_assert_uint_eq(fx.col.n, 0);
}
END_TEST

Suite *conntab_suite(void)
{
    Suite *s = suite_create("conntab");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_state_sf_counts);
    tcase_add_test(tc, test_states_each);
    tcase_add_test(tc, test_originator_without_syn);
    tcase_add_test(tc, test_syn_from_responder_flips);
    tcase_add_test(tc, test_retransmission);
    tcase_add_test(tc, test_sequence_wrap);
    tcase_add_test(tc, test_close_lingers_then_emits);
    tcase_add_test(tc, test_port_reuse_new_connection);
    tcase_add_test(tc, test_idle_timeouts);
    tcase_add_test(tc, test_active_timeout);
    tcase_add_test(tc, test_growth_many_connections);
    tcase_add_test(tc, test_expiry_bounds_live);
    tcase_add_test(tc, test_max_open_evicts_attempts_first);
    tcase_add_test(tc, test_max_open_rejected_and_idle);
    tcase_add_test(tc, test_max_open_zero_unbounded);
    tcase_add_test(tc, test_unique_deterministic_uids);
    tcase_add_test(tc, test_icmp_echo_pairs);
    tcase_add_test(tc, test_max_pkts_bound);
    tcase_add_test(tc, test_keep_us_bound);
    tcase_add_test(tc, test_bad_config_and_emit_failure);
    tcase_add_test(tc, test_destroy_with_live_connections);
    suite_add_tcase(s, tc);
    return s;
}

/* check_sessionfeed.c - tests for encoders/sessionfeed.c: the streaming
 * sessions are session_list_build's, and memory follows open connections. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "connset.h"
#include "conntab.h"
#include "packet.h"
#include "testpkt.h"
#include "session.h"
#include "sessionfeed.h"
#include "sessmodel.h"
#include "sessvocab.h"
#include "status.h"

/* Sessions as comparable lines: host, then member serials. */
typedef struct sigs {
    char **v;
    size_t n, cap;
} sigs;

static void sigs_add(sigs *g, uint8_t family, const uint8_t *host, const uint64_t *serials,
                     size_t n)
{
    char buf[65536], h[64];
    session_host_string(family, host, h, sizeof(h));
    int k = snprintf(buf, sizeof(buf), "%s:", h);
    for (size_t i = 0; i < n && k < (int)sizeof(buf) - 32; i++)
        k += snprintf(buf + k, sizeof(buf) - (size_t)k, " %llu", (unsigned long long)serials[i]);
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 256;
        g->v = realloc(g->v, g->cap * sizeof(*g->v));
        ck_assert_ptr_nonnull(g->v);
    }
    g->v[g->n] = strdup(buf);
    ck_assert_ptr_nonnull(g->v[g->n]);
    g->n++;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sigs_free(sigs *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i]);
    free(g->v);
}

static int feed_emit(void *ctx, const sessionfeed_session *s, const sessionfeed_session *hist,
                     size_t n_hist, char *errbuf)
{
    (void)errbuf;
    /* the history: the same host's earlier sessions, oldest first */
    for (size_t i = 0; i < n_hist; i++) {
        ck_assert_int_eq(hist[i].family, s->family);
        ck_assert_mem_eq(hist[i].host, s->host, 16);
        ck_assert_int_le(hist[i].recs[0]->start_us, s->recs[0]->start_us);
        if (i)
            ck_assert_int_le(hist[i - 1].recs[0]->start_us, hist[i].recs[0]->start_us);
    }
    uint64_t serials[4096];
    for (size_t i = 0; i < s->n; i++) {
        serials[i] = s->recs[i]->serial;
        /* outbound flags agree with the record */
        int out = !memcmp(s->recs[i]->orig_h, s->host, s->family == 6 ? 16 : 4);
        ck_assert_int_eq(s->outbound[i], out);
        ck_assert_ptr_nonnull(s->recs[i]->pkts);
    }
    sigs_add(ctx, s->family, s->host, serials, s->n);
    return SS_OK;
}

/* Sessions of path both ways; returns the number compared (0: file missing). */
/* Sessions of paths[0..np) (one timeline) formed by the feed and by
 * session_list_build given each capture's beginning; their number (0 when a
 * capture is missing). */
static size_t compare_files(const char *const *paths, size_t np)
{
    for (size_t i = 0; i < np; i++) {
        FILE *probe = fopen(paths[i], "rb");
        if (!probe)
            return 0;
        fclose(probe);
    }
    const char *path = paths[np - 1];
    char err[SS_ERRBUF_SIZE];
    session_config cfg;
    session_config_default(&cfg);

    connset *set = NULL;
    connset_config cc;
    connset_config_default(&cc);
    int64_t spans[8], starts[4];
    ck_assert_uint_le(np, 4);
    cc.file_spans = spans;
    ck_assert_msg(connset_load(&set, paths, np, &cc, err) == 0, "%s", err);
    size_t ns = 0;
    for (size_t i = 0; i < np; i++)
        if (spans[2 * i] <= spans[2 * i + 1])
            starts[ns++] = spans[2 * i];
    session_starts_sort(starts, ns);
    size_t n = connset_count(set);
    const conntab_record **recs = malloc((n ? n : 1) * sizeof(*recs));
    ck_assert_ptr_nonnull(recs);
    for (size_t i = 0; i < n; i++)
        recs[i] = connset_get(set, i);
    session_list l;
    ck_assert_int_eq(session_list_build(&l, recs, n, &cfg, starts, ns, err), 0);
    sigs batch = {0};
    uint64_t *ser = malloc(4096 * sizeof(*ser));
    ck_assert_ptr_nonnull(ser);
    for (size_t s = 0; s < l.n_spans; s++) {
        const session_span *sp = &l.spans[s];
        for (int k = 0; k < sp->n; k++)
            ser[k] = recs[l.conn[sp->first + (size_t)k]]->serial;
        sigs_add(&batch, sp->family, sp->host, ser, (size_t)sp->n);
    }

    sigs stream = {0};
    sessionfeed *f = NULL;
    ck_assert_int_eq(sessionfeed_create(&f, &cfg, feed_emit, &stream, err), 0);
    ck_assert_msg(sessionfeed_read_files(f, paths, np, NULL, NULL, NULL, err) == 0, "%s", err);
    sessionfeed_stats st;
    sessionfeed_get_stats(f, &st);
    ck_assert_uint_eq(st.held, 0);

    qsort(batch.v, batch.n, sizeof(char *), str_cmp);
    qsort(stream.v, stream.n, sizeof(char *), str_cmp);
    printf("sessionfeed %s: %zu sessions (batch %zu, %llu handed on early), %llu connections, "
           "at most %llu held\n",
           strrchr(path, '/') ? strrchr(path, '/') + 1 : path, stream.n, batch.n,
           (unsigned long long)st.early, (unsigned long long)st.conns,
           (unsigned long long)st.peak_held);
    ck_assert_uint_eq(stream.n, batch.n);
    for (size_t i = 0; i < batch.n; i++)
        ck_assert_str_eq(stream.v[i], batch.v[i]);
    size_t got = batch.n;
    sessionfeed_destroy(f);
    sigs_free(&batch);
    sigs_free(&stream);
    free(ser);
    session_list_free(&l);
    free(recs);
    connset_free(set);
    return got;
}

static size_t compare_file(const char *path)
{
    const char *paths[1] = {path};
    return compare_files(paths, 1);
}

START_TEST(test_same_as_batch)
{
    const char *top = getenv("top_srcdir");
    const char *names[] = {"synth-small.pcap", "synth-chaff.pcap", "netns-small.pcap",
                           "netns-full.pcap"};
    char path[4096];
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        snprintf(path, sizeof(path), "%s/datasets/samples/%s", top ? top : ".", names[i]);
        ck_assert_msg(compare_file(path) > 0, "%s: no sessions (set top_srcdir)", path);
    }
}
END_TEST

/* Real captures with midstream starts, scans, UDP and ICMP. */
START_TEST(test_same_as_batch_real)
{
    const char *root = getenv("REALDATA");
    if (!root || access(root, R_OK) != 0) { /* make check always sets it */
        printf("sessionfeed: real captures not found (REALDATA), skipped\n");
        return;
    }
    const char *names[] = {"zeek-ssh-mixed.pcap", "zeek-sshguess.pcap", "ndpi-synscan.pcap",
                           "zeek-nmap-vsn.pcap", "detgen-nginx-server.pcap",
                           "zeek-wikipedia.pcap", "zeek-ftp-bruteforce.pcap",
                           "cicids2017-sqli-slice.pcap"};
    char path[4096];
    size_t total = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        snprintf(path, sizeof(path), "%s/%s", root, names[i]);
        total += compare_file(path);
    }
    printf("sessionfeed: %zu sessions of real captures compared\n", total);
    /* two captures of other times in one timeline: both begin in the middle of
     * connections; the sessions are those of each alone (other hosts) */
    char p2[4096];
    snprintf(path, sizeof(path), "%s/zeek-wikipedia.pcap", root);
    snprintf(p2, sizeof(p2), "%s/zeek-sshguess.pcap", root);
    const char *pair[2] = {p2, path};
    size_t both = compare_files(pair, 2);
    ck_assert_uint_gt(both, 0);
    ck_assert_uint_eq(both, compare_file(path) + compare_file(p2));
}
END_TEST


typedef struct feed {
    conntab *tab;
    sessionfeed *f;
    sigs out;
} feed;

static int feed_end(void *ctx, const conntab_record *rec, char *errbuf)
{
    return sessionfeed_conn_end(((feed *)ctx)->f, rec, errbuf);
}

static void pkt(feed *fd, int64_t t, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp,
                uint8_t flags, uint32_t len, uint32_t seq)
{
    testpkt_add(fd->tab, t, src, sp, dst, dp, flags, len, seq);
}

/* Opens fd: a feed with the default session rules (told the input beginnings
 * starts[0..n) when n > 0) watching a conntab that hands it every record. */
static void feed_open(feed *fd, const int64_t *starts, size_t n)
{
    char err[SS_ERRBUF_SIZE];
    session_config cfg;
    session_config_default(&cfg);
    memset(fd, 0, sizeof(*fd));
    ck_assert_int_eq(sessionfeed_create(&fd->f, &cfg, feed_emit, &fd->out, err), 0);
    if (n)
        ck_assert_int_eq(sessionfeed_set_starts(fd->f, starts, n, err), 0);
    conntab_config tc;
    conntab_config_default(&tc);
    tc.watch = sessionfeed_watch;
    tc.watch_ctx = fd->f;
    ck_assert_int_eq(conntab_create(&fd->tab, &tc, feed_end, fd, err), 0);
}

/* One web fetch at t from a:port to s:80 (handshake, request, response, reset). */
static void web_fetch(feed *fd, int64_t t, uint32_t a, uint16_t port, uint32_t s)
{
    pkt(fd, t, a, port, s, 80, PACKET_TCP_SYN, 0, 99);
    pkt(fd, t + 200, s, 80, a, port, PACKET_TCP_SYN | PACKET_TCP_ACK, 0, 499);
    pkt(fd, t + 400, a, port, s, 80, PACKET_TCP_ACK | PACKET_TCP_PSH, 300, 100);
    pkt(fd, t + 9000, s, 80, a, port, PACKET_TCP_ACK | PACKET_TCP_PSH, 5000, 500);
    pkt(fd, t + 9500, a, port, s, 80, PACKET_TCP_RST, 0, 400);
}

/* 2000 bursts of 5 web fetches by one client, 30 s apart: sessions come out
 * as they complete and the feed never holds more than a few records. */
START_TEST(test_bounded_by_live)
{
    char err[SS_ERRBUF_SIZE];
    feed fd;
    feed_open(&fd, NULL, 0);
    const uint32_t A = 0x010012c6, S = 0x020012c6;
    int64_t t = 1700000000000000LL;
    for (int b = 0; b < 2000; b++) {
        for (int k = 0; k < 5; k++)
            web_fetch(&fd, t + k * 500000, A, (uint16_t)(10000 + (b * 5 + k) % 50000), S);
        t += 30000000;
    }
    sessionfeed_stats mid;
    sessionfeed_get_stats(fd.f, &mid);
    ck_assert_uint_ge(mid.sessions, 2 * 1990); /* emitted while reading */
    ck_assert_msg(conntab_flush(fd.tab, err) == 0, "%s", err);
    ck_assert_msg(sessionfeed_finish(fd.f, err) == 0, "%s", err);
    sessionfeed_stats st;
    sessionfeed_get_stats(fd.f, &st);
    printf("sessionfeed bounded: %llu connections, %llu sessions, at most %llu held\n",
           (unsigned long long)st.conns, (unsigned long long)st.sessions,
           (unsigned long long)st.peak_held);
    ck_assert_uint_eq(st.conns, 10000);
    ck_assert_uint_eq(st.sessions, 4000); /* one per burst for each of the two hosts */
    ck_assert_uint_le(st.peak_held, 20);
    ck_assert_uint_eq(st.held, 0);
    conntab_destroy(fd.tab);
    sessionfeed_destroy(fd.f);
    sigs_free(&fd.out);
}
END_TEST

/* Runs one feed over two "captures": the first begins at t0 with a web fetch
 * (handshake seen), the second 1000 s later in the middle of an ssh
 * connection (no handshake) followed by a fetch. With the beginnings given,
 * the ssh fragment is left out like one at the first capture's start; without,
 * only the first capture's start counts and the fragment is a session member. */
static uint64_t two_captures_members(int give_starts)
{
    char err[SS_ERRBUF_SIZE];
    const int64_t t0 = 1700000000000000LL, t1 = t0 + 1000000000LL;
    const int64_t starts[2] = {t1, t0}; /* any order */
    feed fd;
    feed_open(&fd, starts, give_starts ? 2 : 0);
    const uint32_t A = 0x010012c6, S = 0x020012c6, B = 0x030012c6;
    web_fetch(&fd, t0, A, 20000, S);
    web_fetch(&fd, t1 + 300000, A, 20001, S);
    /* the second capture's first packets: an ssh connection under way */
    for (int k = 0; k < 4; k++) {
        int64_t t = t1 + k * 100000;
        pkt(&fd, t, B, 41000, S, 22, PACKET_TCP_ACK | PACKET_TCP_PSH, 48, 1000 + 48 * k);
        pkt(&fd, t + 300, S, 22, B, 41000, PACKET_TCP_ACK | PACKET_TCP_PSH, 96, 7000 + 96 * k);
    }
    ck_assert_msg(conntab_flush(fd.tab, err) == 0, "%s", err);
    ck_assert_msg(sessionfeed_finish(fd.f, err) == 0, "%s", err);
    /* too late once packets have been seen */
    ck_assert_int_eq(sessionfeed_set_starts(fd.f, starts, 2, err), SS_ERR_ARG);
    sessionfeed_stats st;
    sessionfeed_get_stats(fd.f, &st);
    ck_assert_uint_eq(st.conns, 3);
    uint64_t members = 0;
    for (size_t i = 0; i < fd.out.n; i++) /* "host: serial serial ..." */
        for (const char *q = strchr(fd.out.v[i], ':'); (q = strchr(q + 1, ' '));)
            members++;
    conntab_destroy(fd.tab);
    sessionfeed_destroy(fd.f);
    sigs_free(&fd.out);
    return members;
}

START_TEST(test_partial_at_each_start)
{
    /* 2 fetches, each a member of A's and of S's sessions; the fragment adds 2 */
    ck_assert_uint_eq(two_captures_members(1), 4);
    ck_assert_uint_eq(two_captures_members(0), 6);
}
END_TEST

/* Keys by (host, serial) from the batch path, to check the streamed ones. */
typedef struct keyed {
    uint8_t host[16];
    uint64_t serial;
    uint32_t key;
} keyed;

typedef struct key_check {
    const session_model *m;
    keyed *want;
    size_t n_want;
    size_t checked;
} key_check;

static int keyed_cmp(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    int c = memcmp(a->host, b->host, 16);
    if (c)
        return c;
    return (a->serial > b->serial) - (a->serial < b->serial);
}

/* Builds the streamed session as score does and compares its state keys
 * (which read the host's earlier sessions) with the batch ones. */
static int key_emit(void *ctx, const sessionfeed_session *s, const sessionfeed_session *hist,
                    size_t n_hist, char *errbuf)
{
    key_check *kc = ctx;
    sessionfeed_layout lay;
    ck_assert_msg(sessionfeed_layout_make(&lay, s, hist, n_hist, errbuf) == 0, "%s", errbuf);
    session_data d;
    ck_assert_msg(session_data_build_host(&d, &kc->m->vocab, lay.recs, lay.outbound, lay.span_n,
                                          lay.n_spans, NULL, 0, errbuf) == 0, "%s", errbuf);
    for (size_t j = 0; j < s->n; j++) {
        keyed q;
        memcpy(q.host, s->host, 16);
        q.serial = s->recs[j]->serial;
        keyed *w = bsearch(&q, kc->want, kc->n_want, sizeof(*w), keyed_cmp);
        ck_assert_ptr_nonnull(w);
        ck_assert_uint_eq(d.key[j], w->key);
        kc->checked++;
    }
    session_data_free(&d);
    sessionfeed_layout_free(&lay);
    return SS_OK;
}

/* A host keeps one connection open for 20 minutes while it fetches pages
 * every 30 s: its first session (which holds the long connection) stays open
 * the whole time, and the later sessions must neither wait for it (memory)
 * nor lose the history their state keys read (the batch keys are compared). */
START_TEST(test_long_connection)
{
    char err[SS_ERRBUF_SIZE];
    session_model *m = NULL;
    ck_assert_msg(session_model_load_buffer(&m, session_default_model,
                                            session_default_model_len, err) == 0, "%s", err);
    session_config cfg;
    session_config_default(&cfg);
    const char *path_env = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/check-sessionfeed-%d.pcap", path_env ? path_env : "/tmp",
             (int)getpid());

    /* write the capture: connections through a conntab-free pcap writer */
    FILE *pf = fopen(path, "wb");
    ck_assert_ptr_nonnull(pf);
    const uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 101}; /* raw IPv4 */
    fwrite(hdr, sizeof(hdr), 1, pf);
    uint8_t frame[60];
    int64_t t0 = 1700000000000000LL;
#define PKT(T, SRC, SP, DST, DP, FL, SEQ) do { \
        memset(frame, 0, sizeof(frame)); \
        frame[0] = 0x45; frame[3] = 40; frame[8] = 64; frame[9] = 6; \
        uint32_t s_ = (SRC), d_ = (DST); memcpy(frame + 12, &s_, 4); memcpy(frame + 16, &d_, 4); \
        frame[20] = (uint8_t)((SP) >> 8); frame[21] = (uint8_t)(SP); \
        frame[22] = (uint8_t)((DP) >> 8); frame[23] = (uint8_t)(DP); \
        uint32_t q_ = htonl(SEQ); memcpy(frame + 24, &q_, 4); \
        frame[32] = 0x50; frame[33] = (uint8_t)(FL); frame[34] = 0xff; \
        uint32_t rh_[4] = {(uint32_t)((T) / 1000000), (uint32_t)((T) % 1000000), 40, 40}; \
        fwrite(rh_, sizeof(rh_), 1, pf); fwrite(frame, 40, 1, pf); \
    } while (0)
    const uint32_t A = 0x010012c6, S0 = 0x020012c6;
    /* packets must be written in time order: build the timeline per 30 s */
    uint32_t lseq = 1;
    PKT(t0, A, 40000, S0, 22, 0x02, 0);
    PKT(t0 + 300, S0, 22, A, 40000, 0x12, 0);
    for (int b = 0; b < 40; b++) {
        int64_t tb = t0 + 1000000 + (int64_t)b * 30000000;
        for (int k = 0; k < 3; k++) {
            int64_t tk = tb + k * 300000;
            uint32_t srv = 0x030012c6 + ((uint32_t)((b + k) % 4) << 24);
            uint16_t port = (uint16_t)(50000 + b * 3 + k);
            PKT(tk, A, port, srv, 80, 0x02, 0);
            PKT(tk + 200, srv, 80, A, port, 0x12, 0);
            PKT(tk + 400, A, port, srv, 80, 0x10, 1);
            PKT(tk + 100000, A, port, srv, 80, 0x04, 1);
        }
        /* the long connection keeps talking, every 2 s */
        for (int j = 0; j < 15; j++)
            PKT(tb + 2000000 + (int64_t)j * 2000000, A, 40000, S0, 22, 0x10, lseq++);
    }
    PKT(t0 + 1300000000, A, 40000, S0, 22, 0x04, lseq);
#undef PKT
    fclose(pf);
    const char *paths[1] = {path};

    /* the batch keys */
    connset *set = NULL;
    ck_assert_msg(connset_load(&set, paths, 1, NULL, err) == 0, "%s", err);
    size_t n = connset_count(set);
    const conntab_record **recs = malloc(n * sizeof(*recs));
    ck_assert_ptr_nonnull(recs);
    for (size_t i = 0; i < n; i++)
        recs[i] = connset_get(set, i);
    session_data db;
    ck_assert_int_eq(session_data_build(&db, &m->vocab, recs, n, NULL, 0, &cfg, NULL, 0, err), 0);
    key_check kc = {m, malloc(db.list.n_members * sizeof(keyed)), db.list.n_members, 0};
    ck_assert_ptr_nonnull(kc.want);
    for (size_t sp = 0; sp < db.list.n_spans; sp++)
        for (int j = 0; j < db.list.spans[sp].n; j++) {
            size_t k = db.list.spans[sp].first + (size_t)j;
            memcpy(kc.want[k].host, db.list.spans[sp].host, 16);
            kc.want[k].serial = recs[db.list.conn[k]]->serial;
            kc.want[k].key = db.key[k];
        }
    qsort(kc.want, kc.n_want, sizeof(keyed), keyed_cmp);

    sessionfeed *f = NULL;
    ck_assert_int_eq(sessionfeed_create(&f, &cfg, key_emit, &kc, err), 0);
    ck_assert_msg(sessionfeed_read_files(f, paths, 1, NULL, NULL, NULL, err) == 0, "%s", err);
    sessionfeed_stats st;
    sessionfeed_get_stats(f, &st);
    printf("sessionfeed long connection: %llu connections, %llu sessions (%llu handed on early, "
           "batch %zu), %zu keys checked, at most %llu records held\n",
           (unsigned long long)st.conns, (unsigned long long)st.sessions,
           (unsigned long long)st.early, db.list.n_spans, kc.checked,
           (unsigned long long)st.peak_held);
    ck_assert_uint_eq(st.sessions, db.list.n_spans);
    ck_assert_uint_eq(kc.checked, db.list.n_members);
    ck_assert_uint_gt(st.early, 20);
    ck_assert_uint_le(st.peak_held, 60); /* 121 connections in all */
    sessionfeed_destroy(f);
    free(kc.want);
    session_data_free(&db);
    free(recs);
    connset_free(set);
    session_model_destroy(m);
    unlink(path);
}
END_TEST

START_TEST(test_bad_config)
{
    session_config cfg;
    session_config_default(&cfg);
    cfg.gap_us = 0;
    sessionfeed *f = NULL;
    char err[SS_ERRBUF_SIZE] = "";
    ck_assert_int_eq(sessionfeed_create(&f, &cfg, NULL, NULL, err), SS_ERR_ARG);
    ck_assert_ptr_null(f);
    ck_assert_str_ne(err, "");
    sessionfeed_destroy(NULL);
}
END_TEST

Suite *sessionfeed_suite(void)
{
    Suite *s = suite_create("sessionfeed");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_same_as_batch);
    tcase_add_test(tc, test_same_as_batch_real);
    tcase_add_test(tc, test_partial_at_each_start);
    tcase_add_test(tc, test_bounded_by_live);
    tcase_add_test(tc, test_long_connection);
    tcase_add_test(tc, test_bad_config);
    suite_add_tcase(s, tc);
    return s;
}

/* check_pcapsrc.c - tests for pcapsrc.c: k-way merge order over generated
 * captures, damaged and bad files, pcapng, and every real capture in
 * $REALDATA (skipped when absent). */
#include <check.h>
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcapsrc.h"
#include "status.h"

/* A temporary folder per test, removed at the end. */
typedef struct tmpdir {
    char path[256];
} tmpdir;

static void tmpdir_make(tmpdir *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->path, sizeof t->path, "%s/pcapsrc-test.XXXXXX", base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(t->path));
}

static void tmpdir_remove(tmpdir *t)
{
    DIR *d = opendir(t->path);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", t->path, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(t->path);
}

static void tmp_file(char *out, size_t size, const tmpdir *t, const char *name)
{
    snprintf(out, size, "%s/%s", t->path, name);
}

/* Ethernet + IPv4 + TCP frame whose sequence number is `tag`, with
 * payload_len payload bytes (frame length 54 + payload_len). */
static size_t make_frame(uint8_t *b, uint32_t tag, unsigned payload_len)
{
    memset(b, 0, 54 + payload_len);
    b[12] = 0x08;
    b[14] = 0x45;
    unsigned tot = 40 + payload_len;
    b[16] = (uint8_t)(tot >> 8);
    b[17] = (uint8_t)tot;
    b[22] = 64;
    b[23] = 6;
    b[26] = 10, b[29] = 1;
    b[30] = 10, b[33] = 2;
    b[34] = 0x04, b[35] = 0xd2; /* sport 1234 */
    b[36] = 0x00, b[37] = 0x16; /* dport 22 */
    b[38] = (uint8_t)(tag >> 24), b[39] = (uint8_t)(tag >> 16);
    b[40] = (uint8_t)(tag >> 8), b[41] = (uint8_t)tag;
    b[46] = 0x50;
    b[47] = 0x10;
    return 54 + payload_len;
}

/* Writes a pcap of the given link type with n frames: frame k has
 * timestamp ts_us[k] and tag tags[k] (Ethernet frames as make_frame; other
 * link types get 8 zero bytes). */
static void write_pcap(const char *path, int linktype, const int64_t *ts_us,
                       const uint32_t *tags, size_t n)
{
    pcap_t *p = pcap_open_dead(linktype, 65535);
    ck_assert_ptr_nonnull(p);
    pcap_dumper_t *d = pcap_dump_open(p, path);
    ck_assert_msg(d != NULL, "pcap_dump_open %s: %s", path, pcap_geterr(p));
    for (size_t k = 0; k < n; k++) {
        uint8_t b[128];
        struct pcap_pkthdr h;
        size_t len = linktype == DLT_EN10MB ? make_frame(b, tags[k], (unsigned)(k % 5)) : 8;
        if (linktype != DLT_EN10MB)
            memset(b, 0, len);
        h.ts.tv_sec = ts_us[k] / 1000000;
        h.ts.tv_usec = ts_us[k] % 1000000;
        h.caplen = h.len = (bpf_u_int32)len;
        pcap_dump((u_char *)d, &h, b);
    }
    pcap_dump_close(d);
    pcap_close(p);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (n)
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static long file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (long)st.st_size;
}

/* Collects warnings for the tests to inspect. */
typedef struct warnings {
    int count;
    char last[SS_ERRBUF_SIZE];
} warnings;

static void collect_warning(void *ctx, const char *msg)
{
    warnings *w = ctx;
    w->count++;
    snprintf(w->last, sizeof w->last, "%s", msg);
}

static uint32_t frame_tag(const pcapsrc_frame *fr)
{
    ck_assert_uint_ge(fr->caplen, 42);
    const uint8_t *b = fr->data;
    return ((uint32_t)b[38] << 24) | ((uint32_t)b[39] << 16) | ((uint32_t)b[40] << 8) | b[41];
}

START_TEST(test_merge_three_files)
{
    tmpdir t;
    tmpdir_make(&t);
    char p[3][300];
    /* Interleaved times with ties across files (at 5000 and 9000); tag =
     * file * 1000 + frame index. */
    static const int64_t ts[3][6] = {
        {1000, 5000, 9000, 20000, 20001, 1700000000123456LL},
        {2000, 5000, 6000, 9000, 30000, 1700000000123455LL},
        {500, 5000, 5000, 7000, 9000, 1700000000123457LL},
    };
    for (int f = 0; f < 3; f++) {
        uint32_t tags[6];
        for (int k = 0; k < 6; k++)
            tags[k] = (uint32_t)(f * 1000 + k);
        char name[32];
        snprintf(name, sizeof name, "in%d.pcap", f);
        tmp_file(p[f], sizeof p[f], &t, name);
        write_pcap(p[f], DLT_EN10MB, ts[f], tags, 6);
    }
    const char *paths[3] = {p[0], p[1], p[2]};
    pcapsrc *src;
    char err[SS_ERRBUF_SIZE];
    warnings w = {0, ""};
    ck_assert_int_eq(pcapsrc_open(&src, paths, 3, collect_warning, &w, err), 0);
    pcapsrc_frame fr;
    int64_t prev_ts = INT64_MIN;
    size_t prev_file = 0;
    int next_k[3] = {0, 0, 0};
    int n = 0, rc;
    while ((rc = pcapsrc_next(src, &fr, err)) == 1) {
        uint32_t tag = frame_tag(&fr);
        size_t file = tag / 1000;
        int k = (int)(tag % 1000);
        ck_assert_uint_eq(fr.file_index, file);
        ck_assert_int_eq(fr.linktype, DLT_EN10MB);
        ck_assert_int_eq(k, next_k[file]); /* a file's frames keep their order */
        next_k[file]++;
        ck_assert_int_eq(fr.ts_us, ts[file][k]);
        ck_assert_uint_eq(fr.caplen, 54 + k % 5);
        ck_assert_uint_eq(fr.wire_len, 54 + k % 5);
        ck_assert_int_ge(fr.ts_us, prev_ts);
        if (fr.ts_us == prev_ts)
            ck_assert_uint_ge(file, prev_file); /* ties: the file given first */
        prev_ts = fr.ts_us;
        prev_file = file;
        n++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(n, 18);
    ck_assert_uint_eq(pcapsrc_frames(src), 18);
    ck_assert_uint_eq(pcapsrc_damaged_files(src), 0);
    ck_assert_int_eq(w.count, 0);
    ck_assert_int_eq(pcapsrc_next(src, &fr, err), 0); /* stays at the end */
    for (int f = 0; f < 3; f++) { /* each file's earliest and latest frame */
        int64_t lo, hi;
        ck_assert_int_eq(pcapsrc_file_span(src, (size_t)f, &lo, &hi), 1);
        ck_assert_int_eq(lo, ts[f][0]);
        ck_assert_int_eq(hi, ts[f][5]);
    }
    int64_t lo = 0, hi = 0;
    ck_assert_int_eq(pcapsrc_file_span(src, 3, &lo, &hi), 0);
    pcapsrc_close(src);
    tmpdir_remove(&t);
}
END_TEST

START_TEST(test_next_packet_counts)
{
    tmpdir t;
    tmpdir_make(&t);
    char path[300];
    tmp_file(path, sizeof path, &t, "mixed.pcap");
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = pcap_dump_open(p, path);
    ck_assert_ptr_nonnull(d);
    uint8_t b[128];
    struct pcap_pkthdr h = {.ts = {1, 0}};
    for (int k = 0; k < 4; k++) {
        size_t len = make_frame(b, (uint32_t)k, 3);
        if (k == 1) {
            b[12] = 0x08, b[13] = 0x06; /* ARP */
        } else if (k == 2) {
            b[20] = 0x20; /* IPv4 more-fragments */
        }
        h.caplen = h.len = (bpf_u_int32)len;
        h.ts.tv_usec = k;
        pcap_dump((u_char *)d, &h, b);
    }
    pcap_dump_close(d);
    pcap_close(p);

    const char *paths[1] = {path};
    pcapsrc *src;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(pcapsrc_open(&src, paths, 1, NULL, NULL, err), 0);
    decode_stats st;
    memset(&st, 0, sizeof st);
    packet_t pkt;
    ck_assert_int_eq(pcapsrc_next_packet(src, &pkt, &st, err), 1);
    ck_assert_uint_eq(pkt.seq, 0);
    ck_assert_int_eq(pkt.ts_us, 1000000);
    ck_assert_uint_eq(pkt.payload_len, 3);
    ck_assert_int_eq(pcapsrc_next_packet(src, &pkt, &st, err), 1);
    ck_assert_uint_eq(pkt.seq, 3);
    ck_assert_int_eq(pkt.ts_us, 1000003);
    ck_assert_int_eq(pcapsrc_next_packet(src, &pkt, NULL, err), 0);
    ck_assert_uint_eq(st.count[DECODE_OK], 2);
    ck_assert_uint_eq(st.count[DECODE_NOT_IP], 1);
    ck_assert_uint_eq(st.count[DECODE_FRAGMENT], 1);
    ck_assert_uint_eq(pcapsrc_frames(src), 4);
    pcapsrc_close(src);
    tmpdir_remove(&t);
}
END_TEST

START_TEST(test_truncated_file_warns_and_others_go_on)
{
    tmpdir t;
    tmpdir_make(&t);
    char cut[300], good[300];
    tmp_file(cut, sizeof cut, &t, "cut.pcap");
    tmp_file(good, sizeof good, &t, "good.pcap");
    int64_t ts[5] = {10, 20, 30, 40, 50};
    uint32_t tags[5] = {0, 1, 2, 3, 4};
    write_pcap(cut, DLT_EN10MB, ts, tags, 5);
    ck_assert_int_eq(truncate(cut, file_size(cut) - 10), 0); /* mid last frame */
    uint32_t tags2[5] = {1000, 1001, 1002, 1003, 1004};
    write_pcap(good, DLT_EN10MB, ts, tags2, 5);

    const char *paths[2] = {cut, good};
    pcapsrc *src;
    char err[SS_ERRBUF_SIZE];
    warnings w = {0, ""};
    ck_assert_int_eq(pcapsrc_open(&src, paths, 2, collect_warning, &w, err), 0);
    pcapsrc_frame fr;
    int from_cut = 0, from_good = 0, rc;
    while ((rc = pcapsrc_next(src, &fr, err)) == 1)
        *(fr.file_index == 0 ? &from_cut : &from_good) += 1;
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(from_cut, 4);
    ck_assert_int_eq(from_good, 5);
    ck_assert_int_eq(w.count, 1);
    ck_assert_ptr_nonnull(strstr(w.last, cut));
    ck_assert_ptr_nonnull(strstr(w.last, "truncated after 4 frames"));
    ck_assert_ptr_null(strchr(w.last, '\n'));
    ck_assert_uint_eq(pcapsrc_damaged_files(src), 1);
    pcapsrc_close(src);

    /* Cut inside a record header: also a warning, 4 frames kept. */
    write_pcap(cut, DLT_EN10MB, ts, tags, 5);
    ck_assert_int_eq(truncate(cut, file_size(cut) - (16 + 54 + 4) + 6), 0);
    w.count = 0;
    ck_assert_int_eq(pcapsrc_open(&src, paths, 1, collect_warning, &w, err), 0);
    int n = 0;
    while (pcapsrc_next(src, &fr, err) == 1)
        n++;
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(w.count, 1);
    ck_assert_ptr_nonnull(strstr(w.last, "truncated after 4 frames"));
    pcapsrc_close(src);

    /* A corrupt record (captured length 2^31) after two good ones. */
    write_pcap(cut, DLT_EN10MB, ts, tags, 5);
    FILE *f = fopen(cut, "r+b");
    ck_assert_ptr_nonnull(f);
    static const uint8_t huge[4] = {0, 0, 0, 0x80};
    ck_assert_int_eq(fseek(f, 24 + (16 + 54) + (16 + 55) + 8, SEEK_SET), 0);
    ck_assert_uint_eq(fwrite(huge, 1, 4, f), 4);
    ck_assert_int_eq(fclose(f), 0);
    w.count = 0;
    ck_assert_int_eq(pcapsrc_open(&src, paths, 1, collect_warning, &w, err), 0);
    n = 0;
    while (pcapsrc_next(src, &fr, err) == 1)
        n++;
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(w.count, 1);
    ck_assert_ptr_nonnull(strstr(w.last, cut));
    ck_assert_ptr_nonnull(strstr(w.last, "damaged after 2 frames"));
    ck_assert_uint_eq(pcapsrc_damaged_files(src), 1);
    pcapsrc_close(src);
    tmpdir_remove(&t);
}
END_TEST

/* Opens a single path, expecting failure code `want` and a message that
 * names the file. */
static void expect_open_error(const char *path, int want)
{
    const char *paths[1] = {path};
    pcapsrc *src = (pcapsrc *)&src; /* must be reset to NULL */
    char err[SS_ERRBUF_SIZE] = "";
    int rc = pcapsrc_open(&src, paths, 1, NULL, NULL, err);
    ck_assert_msg(rc == want, "%s: got %d (%s), want %d", path, rc, err, want);
    ck_assert_ptr_null(src);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_null(strchr(err, '\n'));
}

START_TEST(test_bad_files)
{
    tmpdir t;
    tmpdir_make(&t);
    char path[300];

    tmp_file(path, sizeof path, &t, "missing.pcap");
    expect_open_error(path, SS_ERR_IO);
    expect_open_error(t.path, SS_ERR_IO); /* a directory */

    tmp_file(path, sizeof path, &t, "empty.pcap");
    write_bytes(path, "", 0);
    expect_open_error(path, SS_ERR_EMPTY);

    tmp_file(path, sizeof path, &t, "text.pcap");
    const char *text = "this is not a capture file at all\n";
    write_bytes(path, text, strlen(text));
    expect_open_error(path, SS_ERR_FORMAT);

    tmp_file(path, sizeof path, &t, "tiny.pcap");
    write_bytes(path, "\xd4\xc3", 2);
    expect_open_error(path, SS_ERR_FORMAT);

    /* A pcap magic and half a file header. */
    tmp_file(path, sizeof path, &t, "halfheader.pcap");
    static const uint8_t half[10] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0};
    write_bytes(path, half, sizeof half);
    expect_open_error(path, SS_ERR_FORMAT);

    /* A link type decode does not read (802.11). */
    tmp_file(path, sizeof path, &t, "wifi.pcap");
    int64_t ts[1] = {1};
    uint32_t tags[1] = {0};
    write_pcap(path, DLT_IEEE802_11, ts, tags, 1);
    expect_open_error(path, SS_ERR_UNSUPPORTED);

    /* One bad file among good ones fails the whole open. */
    char good[300];
    tmp_file(good, sizeof good, &t, "good.pcap");
    write_pcap(good, DLT_EN10MB, ts, tags, 1);
    const char *paths[2] = {good, path};
    pcapsrc *src;
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(pcapsrc_open(&src, paths, 2, NULL, NULL, err), SS_ERR_UNSUPPORTED);
    ck_assert_ptr_null(src);
    ck_assert_int_eq(pcapsrc_open(&src, paths, 0, NULL, NULL, err), SS_ERR_ARG);

    pcapsrc_close(NULL);
    ck_assert_uint_eq(pcapsrc_frames(NULL), 0);
    tmpdir_remove(&t);
}
END_TEST

START_TEST(test_header_only_is_empty_capture)
{
    tmpdir t;
    tmpdir_make(&t);
    char path[300];
    tmp_file(path, sizeof path, &t, "headeronly.pcap");
    write_pcap(path, DLT_EN10MB, NULL, NULL, 0);
    ck_assert_int_eq(file_size(path), 24);
    const char *paths[1] = {path};
    pcapsrc *src;
    char err[SS_ERRBUF_SIZE];
    warnings w = {0, ""};
    ck_assert_int_eq(pcapsrc_open(&src, paths, 1, collect_warning, &w, err), 0);
    ck_assert_int_eq(w.count, 1);
    ck_assert_ptr_nonnull(strstr(w.last, path));
    ck_assert_ptr_nonnull(strstr(w.last, "no frames"));
    pcapsrc_frame fr;
    ck_assert_int_eq(pcapsrc_next(src, &fr, err), 0);
    ck_assert_uint_eq(pcapsrc_damaged_files(src), 0);
    pcapsrc_close(src);
    tmpdir_remove(&t);
}
END_TEST

/* pcapng: section header, interface description (Ethernet), and two
 * enhanced packet blocks, written by hand (little-endian). */
static void put_le32(uint8_t **p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        *(*p)++ = (uint8_t)(v >> (8 * k));
}

START_TEST(test_pcapng)
{
    tmpdir t;
    tmpdir_make(&t);
    char path[300];
    tmp_file(path, sizeof path, &t, "two.pcapng");
    uint8_t file[512], *p = file;
    put_le32(&p, 0x0a0d0d0a); /* SHB */
    put_le32(&p, 28);
    put_le32(&p, 0x1a2b3c4d);
    put_le32(&p, 1);          /* version 1.0 */
    put_le32(&p, 0xffffffff); /* section length unknown */
    put_le32(&p, 0xffffffff);
    put_le32(&p, 28);
    put_le32(&p, 1); /* IDB */
    put_le32(&p, 20);
    put_le32(&p, DLT_EN10MB); /* link type, reserved */
    put_le32(&p, 0);          /* snaplen */
    put_le32(&p, 20);
    for (uint32_t k = 0; k < 2; k++) {
        uint8_t frame[64];
        size_t len = make_frame(frame, 7 + k, 2); /* 56 bytes */
        uint64_t ts = 1600000000000000ULL + k * 250;
        uint32_t blen = 32 + (uint32_t)len;
        put_le32(&p, 6); /* EPB */
        put_le32(&p, blen);
        put_le32(&p, 0);
        put_le32(&p, (uint32_t)(ts >> 32));
        put_le32(&p, (uint32_t)ts);
        put_le32(&p, (uint32_t)len);
        put_le32(&p, (uint32_t)len);
        memcpy(p, frame, len);
        p += len;
        put_le32(&p, blen);
    }
    write_bytes(path, file, (size_t)(p - file));
    const char *paths[1] = {path};
    pcapsrc *src;
    char err[SS_ERRBUF_SIZE];
    ck_assert_msg(pcapsrc_open(&src, paths, 1, NULL, NULL, err) == 0, "%s", err);
    packet_t pkt;
    ck_assert_int_eq(pcapsrc_next_packet(src, &pkt, NULL, err), 1);
    ck_assert_uint_eq(pkt.seq, 7);
    ck_assert_int_eq(pkt.ts_us, 1600000000000000LL);
    ck_assert_uint_eq(pkt.payload_len, 2);
    ck_assert_int_eq(pcapsrc_next_packet(src, &pkt, NULL, err), 1);
    ck_assert_uint_eq(pkt.seq, 8);
    ck_assert_int_eq(pkt.ts_us, 1600000000000250LL);
    ck_assert_int_eq(pcapsrc_next_packet(src, &pkt, NULL, err), 0);
    pcapsrc_close(src);
    tmpdir_remove(&t);
}
END_TEST

/* Reads one real capture; returns the stats and the number of packets with
 * ip_len_trunc set. */
static void read_real(const char *path, decode_stats *st, uint64_t *frames, uint64_t *trunc)
{
    const char *paths[1] = {path};
    pcapsrc *src;
    char err[SS_ERRBUF_SIZE];
    warnings w = {0, ""};
    ck_assert_msg(pcapsrc_open(&src, paths, 1, collect_warning, &w, err) == 0, "%s", err);
    memset(st, 0, sizeof *st);
    *trunc = 0;
    packet_t pkt;
    int rc;
    while ((rc = pcapsrc_next_packet(src, &pkt, st, err)) == 1) {
        ck_assert(pkt.family == 4 || pkt.family == 6);
        ck_assert_int_gt(pkt.ts_us, 0);
        *trunc += pkt.ip_len_trunc;
    }
    ck_assert_msg(rc == 0, "%s: %s", path, err);
    ck_assert_msg(w.count == 0, "%s: unexpected warning: %s", path, w.last);
    ck_assert_uint_eq(pcapsrc_damaged_files(src), 0);
    *frames = pcapsrc_frames(src);
    uint64_t sum = 0;
    for (int k = 0; k < DECODE_RESULT_COUNT; k++)
        sum += st->count[k];
    ck_assert_uint_eq(sum, *frames);
    ck_assert_uint_gt(*frames, 0);
    pcapsrc_close(src);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Decode results of the link-type captures, as counted independently with
 * tshark (display filters "(tcp or udp or icmp or icmpv6) and not
 * (ip.flags.mf==1 or ip.frag_offset>0)" and "not ip and not ipv6"). */
static const struct {
    const char *name;
    uint64_t ok, not_ip, fragment;
} realdata_expected[] = {
    {"zeek-ftp-ipv6.pcap", 136, 0, 0},
    {"zeek-http-qinq.pcap", 14, 0, 0},
    {"zeek-http-vlan.pcap", 14, 0, 0},
    {"zeek-icmp6-trunc.pcap", 1, 0, 0}, /* the cut is inside the quoted packet */
    {"zeek-ip4-tcp-bad-chksum.pcap", 1, 0, 0},
    {"zeek-ipv4-fragmented.pcap", 0, 0, 5},
    {"zeek-ipv6-hbh-routing0.pcap", 1, 0, 0},
    {"zeek-mixed-vlan-mpls.pcap", 47, 0, 0},
    {"zeek-nflog-http.pcap", 13, 0, 0},
    {"zeek-sll-arp.pcap", 0, 12, 0},
    {"zeek-sll2.pcap", 4, 2, 0},
};

START_TEST(test_realdata)
{
    const char *root = getenv("REALDATA");
    char dirs[2][512];
    if (!root || access(root, R_OK) != 0) {
        fprintf(stderr, "SKIP pcapsrc realdata: real captures not found (set REALDATA)\n");
        return;
    }
    snprintf(dirs[0], sizeof dirs[0], "%s", root);
    snprintf(dirs[1], sizeof dirs[1], "%s/linktypes", root);
    int files = 0;
    for (int dk = 0; dk < 2; dk++) {
        DIR *d = opendir(dirs[dk]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!ends_with(e->d_name, ".pcap") && !ends_with(e->d_name, ".pcapng"))
                continue;
            char path[1024 + sizeof e->d_name];
            snprintf(path, sizeof path, "%s/%s", dirs[dk], e->d_name);
            decode_stats st;
            uint64_t frames, trunc;
            read_real(path, &st, &frames, &trunc);
            files++;
            ck_assert_uint_eq(st.count[DECODE_UNKNOWN_LINKTYPE], 0);
            ck_assert_uint_eq(st.count[DECODE_MALFORMED], 0);
            if (strstr(e->d_name, "fragmented")) {
                /* Every frame is an IPv4 fragment. */
                ck_assert_uint_eq(st.count[DECODE_FRAGMENT], frames);
            } else if (strstr(e->d_name, "sll-arp")) {
                /* Linux cooked capture of ARP only: decoded, and not IP. */
                ck_assert_uint_eq(st.count[DECODE_NOT_IP], frames);
            } else {
                ck_assert_msg(st.count[DECODE_OK] > 0, "%s: no packet decoded", path);
                ck_assert_uint_eq(st.count[DECODE_FRAGMENT], 0);
            }
            for (size_t k = 0; k < sizeof realdata_expected / sizeof realdata_expected[0]; k++) {
                if (strcmp(e->d_name, realdata_expected[k].name))
                    continue;
                ck_assert_uint_eq(st.count[DECODE_OK], realdata_expected[k].ok);
                ck_assert_uint_eq(st.count[DECODE_NOT_IP], realdata_expected[k].not_ip);
                ck_assert_uint_eq(st.count[DECODE_FRAGMENT], realdata_expected[k].fragment);
            }
            if (!strcmp(e->d_name, "ndpi-telnet.pcap")) {
                /* Its IP lengths claim more than some frames hold. */
                ck_assert_uint_gt(trunc, 0);
            }
        }
        closedir(d);
    }
    ck_assert_int_gt(files, 10);
}
END_TEST

Suite *pcapsrc_suite(void)
{
    Suite *s = suite_create("pcapsrc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_merge_three_files);
    tcase_add_test(tc, test_next_packet_counts);
    tcase_add_test(tc, test_truncated_file_warns_and_others_go_on);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_header_only_is_empty_capture);
    tcase_add_test(tc, test_pcapng);
    tcase_add_test(tc, test_realdata);
    suite_add_tcase(s, tc);
    return s;
}

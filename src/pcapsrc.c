/* pcapsrc.c - reads one or more pcap/pcapng files as one timeline.
 *
 * Each file keeps one pending frame, left in libpcap's buffer: the data
 * pcap_next_ex returns stays valid until the next pcap_next_ex call on the
 * same handle, and a file's handle is only called again once its pending
 * frame has been handed out and the caller has come back for the next one,
 * so no frame is ever copied. Each file is read through a large stdio
 * buffer (PCAPSRC_IOBUF_SIZE), so reading costs few system calls. A binary
 * min-heap of the files with a pending frame, keyed by
 * (timestamp, file index), gives the next frame in time order; ties go to
 * the file given first, and frames of one file keep their order. The frame
 * handed out stays at the top of the heap, and its file is only advanced on
 * the next call, so the caller's pointer stays valid until then.
 */
#include "pcapsrc.h"

#include <errno.h>
#include <stdarg.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dedup.h"
#include "infile.h"
#include "status.h"

/* stdio buffer of each open file: the default (the file system block size,
 * often 4 kB) costs one read system call per few frames. */
#define PCAPSRC_IOBUF_SIZE (256 * 1024)

typedef struct pcapsrc_file {
    char *path;
    pcap_t *pcap;
    int linktype;
    uint64_t frames;   /* frames read from this file */
    int64_t first_us;  /* earliest and latest frame times read from it */
    int64_t last_us;
    int64_t ts_us;     /* pending frame */
    uint32_t caplen;
    uint32_t wire_len;
    const uint8_t *data; /* pending frame's bytes, in libpcap's buffer */
    char *iobuf;       /* stdio buffer of the file (PCAPSRC_IOBUF_SIZE) */
} pcapsrc_file;

struct pcapsrc {
    pcapsrc_file *files;
    size_t n_files;
    size_t *heap;       /* indices of files with a pending frame */
    size_t heap_len;
    int top_handed_out; /* heap[0]'s frame was returned: advance it first */
    uint64_t frames;
    size_t damaged;
    pcapsrc_warn_fn warn;
    void *warn_ctx;
    int64_t dedup_window_us; /* 0: no duplicate suppression */
    dedup *dd;               /* created at the first packet, several files only */
};

static void pcapsrc_warnf(pcapsrc *src, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pcapsrc_warnf(pcapsrc *src, const char *fmt, ...)
{
    if (!src->warn)
        return;
    char msg[SS_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    src->warn(src->warn_ctx, msg);
}

/* Whether the first bytes are a pcap or pcapng magic number. */
static int pcapsrc_magic_known(const uint8_t *m)
{
    static const uint8_t magics[][4] = {
        {0xa1, 0xb2, 0xc3, 0xd4}, {0xd4, 0xc3, 0xb2, 0xa1}, /* pcap, microseconds */
        {0xa1, 0xb2, 0x3c, 0x4d}, {0x4d, 0x3c, 0xb2, 0xa1}, /* pcap, nanoseconds */
        {0xa1, 0xb2, 0xcd, 0x34}, {0x34, 0xcd, 0xb2, 0xa1}, /* Kuznetzov's modified pcap */
        {0x0a, 0x0d, 0x0d, 0x0a},                           /* pcapng section header */
    };
    for (size_t k = 0; k < sizeof magics / sizeof magics[0]; k++)
        if (!memcmp(m, magics[k], 4))
            return 1;
    return 0;
}

/* Opens one file, checking it before libpcap does so that the message says
 * what is wrong. On success f->pcap is set. */
static int pcapsrc_file_open(pcapsrc_file *f, char *errbuf)
{
    struct stat st;
    if (stat(f->path, &st) != 0)
        return ss_errf(errbuf, SS_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return ss_errf(errbuf, SS_ERR_IO, "%s: is a directory, not a capture file", f->path);
    f->iobuf = malloc(PCAPSRC_IOBUF_SIZE);
    if (!f->iobuf)
        return ss_errf(errbuf, SS_ERR_NOMEM, "%s: out of memory for a read buffer", f->path);
    /* a FIFO with no writer is refused rather than waited for (infile.h) */
    FILE *fp;
    int orc = infile_open(&fp, f->path, f->iobuf, PCAPSRC_IOBUF_SIZE, errbuf);
    if (orc) {
        free(f->iobuf);
        f->iobuf = NULL;
        return orc;
    }
    uint8_t magic[4];
    size_t got = fread(magic, 1, sizeof magic, fp);
    if (got == 0 && ferror(fp)) {
        int e = errno;
        fclose(fp);
        return ss_errf(errbuf, SS_ERR_IO, "%s: cannot read: %s", f->path, strerror(e));
    }
    if (got == 0) {
        fclose(fp);
        return ss_errf(errbuf, SS_ERR_EMPTY, "%s: empty file (0 bytes), not a capture", f->path);
    }
    if (got < sizeof magic || !pcapsrc_magic_known(magic)) {
        fclose(fp);
        return ss_errf(errbuf, SS_ERR_FORMAT,
                       "%s: not a pcap or pcapng capture (unknown magic number)", f->path);
    }
    if (fseek(fp, 0, SEEK_SET) != 0) {
        int e = errno;
        fclose(fp);
        return ss_errf(errbuf, SS_ERR_IO, "%s: cannot seek: %s", f->path, strerror(e));
    }
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO,
                                                         pcap_err);
    if (!p) {
        fclose(fp); /* libpcap leaves fp to the caller when it fails */
        return ss_errf(errbuf, SS_ERR_FORMAT, "%s: cannot read capture header: %s", f->path,
                       pcap_err);
    }
    int lt = pcap_datalink(p);
    if (!decode_linktype_supported(lt)) {
        const char *name = pcap_datalink_val_to_name(lt);
        pcap_close(p);
        return ss_errf(errbuf, SS_ERR_UNSUPPORTED, "%s: unsupported link type %d (%s)", f->path,
                       lt, name ? name : "unknown");
    }
    f->pcap = p;
    f->linktype = lt;
    return SS_OK;
}

/* Reads f's next frame (left in libpcap's buffer). Returns 1 with a pending
 * frame, 0 when the file ends (cleanly or because of damage: then warned). */
static int pcapsrc_file_advance(pcapsrc *src, pcapsrc_file *f, char *errbuf)
{
    if (!f->pcap)
        return 0;
    struct pcap_pkthdr *hdr;
    const u_char *data;
    int rc = pcap_next_ex(f->pcap, &hdr, &data);
    if (rc == 1) {
        f->data = data;
        f->caplen = hdr->caplen;
        f->wire_len = hdr->len;
        f->ts_us = (int64_t)hdr->ts.tv_sec * 1000000 + (int64_t)hdr->ts.tv_usec;
        if (f->frames == 0 || f->ts_us < f->first_us)
            f->first_us = f->ts_us;
        if (f->frames == 0 || f->ts_us > f->last_us)
            f->last_us = f->ts_us;
        f->frames++;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK) {
        if (f->frames == 0)
            pcapsrc_warnf(src, "%s: capture holds no frames", f->path);
    } else {
        /* libpcap says "truncated dump file; ..." when the file ends
         * mid-record; other errors are corrupt records. */
        const char *why = pcap_geterr(f->pcap);
        src->damaged++;
        pcapsrc_warnf(src, "%s: %s after %llu frames (%s); the rest of this file is skipped",
                      f->path, strstr(why, "truncated") ? "truncated" : "damaged",
                      (unsigned long long)f->frames, why);
    }
    pcap_close(f->pcap);
    f->pcap = NULL;
    f->data = NULL;
    return 0;
}

static int pcapsrc_less(const pcapsrc *src, size_t a, size_t b)
{
    const pcapsrc_file *fa = &src->files[a], *fb = &src->files[b];
    if (fa->ts_us != fb->ts_us)
        return fa->ts_us < fb->ts_us;
    return a < b;
}

static void pcapsrc_sift_down(pcapsrc *src, size_t at)
{
    size_t *h = src->heap;
    for (;;) {
        size_t l = 2 * at + 1, r = l + 1, m = at;
        if (l < src->heap_len && pcapsrc_less(src, h[l], h[m]))
            m = l;
        if (r < src->heap_len && pcapsrc_less(src, h[r], h[m]))
            m = r;
        if (m == at)
            return;
        size_t t = h[at];
        h[at] = h[m];
        h[m] = t;
        at = m;
    }
}

static void pcapsrc_sift_up(pcapsrc *src, size_t at)
{
    size_t *h = src->heap;
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (!pcapsrc_less(src, h[at], h[parent]))
            return;
        size_t t = h[at];
        h[at] = h[parent];
        h[parent] = t;
        at = parent;
    }
}

int pcapsrc_open(pcapsrc **out, const char *const *paths, size_t n,
                 pcapsrc_warn_fn warn, void *warn_ctx, char *errbuf)
{
    if (!out)
        return ss_errf(errbuf, SS_ERR_ARG, "pcapsrc_open: no output pointer");
    *out = NULL;
    if (!paths || n == 0)
        return ss_errf(errbuf, SS_ERR_ARG, "no capture file given");
    pcapsrc *src = calloc(1, sizeof *src);
    if (!src)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory opening captures");
    src->warn = warn;
    src->warn_ctx = warn_ctx;
    src->dedup_window_us = DEDUP_DEFAULT_WINDOW_US;
    src->files = calloc(n, sizeof *src->files);
    src->heap = calloc(n, sizeof *src->heap);
    if (!src->files || !src->heap) {
        pcapsrc_close(src);
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory opening %zu captures", n);
    }
    src->n_files = n;
    for (size_t k = 0; k < n; k++) {
        if (!paths[k]) {
            pcapsrc_close(src);
            return ss_errf(errbuf, SS_ERR_ARG, "capture path %zu is missing", k);
        }
        src->files[k].path = strdup(paths[k]);
        if (!src->files[k].path) {
            pcapsrc_close(src);
            return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory opening %s", paths[k]);
        }
        int rc = pcapsrc_file_open(&src->files[k], errbuf);
        if (rc < 0) {
            pcapsrc_close(src);
            return rc;
        }
    }
    /* Prime the merge with each file's first frame. */
    for (size_t k = 0; k < n; k++) {
        int rc = pcapsrc_file_advance(src, &src->files[k], errbuf);
        if (rc < 0) {
            pcapsrc_close(src);
            return rc;
        }
        if (rc == 1) {
            src->heap[src->heap_len++] = k;
            pcapsrc_sift_up(src, src->heap_len - 1);
        }
    }
    *out = src;
    return SS_OK;
}

int pcapsrc_next(pcapsrc *src, pcapsrc_frame *frame, char *errbuf)
{
    if (!src || !frame)
        return ss_errf(errbuf, SS_ERR_ARG, "pcapsrc_next: NULL argument");
    if (src->top_handed_out && src->heap_len > 0) {
        src->top_handed_out = 0;
        size_t k = src->heap[0];
        int rc = pcapsrc_file_advance(src, &src->files[k], errbuf);
        if (rc < 0)
            return rc;
        if (rc == 0)
            src->heap[0] = src->heap[--src->heap_len];
        if (src->heap_len > 0)
            pcapsrc_sift_down(src, 0);
    }
    if (src->heap_len == 0)
        return 0;
    size_t k = src->heap[0];
    const pcapsrc_file *f = &src->files[k];
    frame->ts_us = f->ts_us;
    frame->data = f->data;
    frame->caplen = f->caplen;
    frame->wire_len = f->wire_len;
    frame->linktype = f->linktype;
    frame->file_index = k;
    src->top_handed_out = 1;
    src->frames++;
    return 1;
}

int pcapsrc_set_dedup_window(pcapsrc *src, int64_t window_us, char *errbuf)
{
    if (!src || window_us < 0)
        return ss_errf(errbuf, SS_ERR_ARG, "the duplicate window must be 0 or positive");
    if (src->frames > 0)
        return ss_errf(errbuf, SS_ERR_ARG, "the duplicate window must be set before reading");
    src->dedup_window_us = window_us;
    return SS_OK;
}

int pcapsrc_next_packet(pcapsrc *src, packet_t *pkt, decode_stats *stats, char *errbuf)
{
    if (!pkt)
        return ss_errf(errbuf, SS_ERR_ARG, "pcapsrc_next_packet: NULL packet");
    if (src && !src->dd && src->n_files > 1 && src->dedup_window_us > 0) {
        int rc = dedup_create(&src->dd, src->dedup_window_us, 0, errbuf);
        if (rc < 0)
            return rc;
    }
    for (;;) {
        pcapsrc_frame fr;
        int rc = pcapsrc_next(src, &fr, errbuf);
        if (rc <= 0)
            return rc;
        int res = decode_frame(pkt, fr.linktype, fr.data, fr.caplen, fr.wire_len, fr.ts_us);
        if (res == DECODE_OK && src->dd) {
            int dup = dedup_check(src->dd, pkt, fr.file_index, errbuf);
            if (dup < 0)
                return dup;
            if (dup)
                continue; /* counted once, from the file that saw it first */
        }
        if (stats && res >= 0 && res < DECODE_RESULT_COUNT)
            stats->count[res]++;
        if (res == DECODE_OK)
            return 1;
    }
}

uint64_t pcapsrc_duplicates(const pcapsrc *src)
{
    return src ? dedup_dropped(src->dd) : 0;
}

uint64_t pcapsrc_frames(const pcapsrc *src)
{
    return src ? src->frames : 0;
}

int pcapsrc_file_span(const pcapsrc *src, size_t i, int64_t *first_us, int64_t *last_us)
{
    if (!src || i >= src->n_files || src->files[i].frames == 0)
        return 0;
    *first_us = src->files[i].first_us;
    *last_us = src->files[i].last_us;
    return 1;
}

size_t pcapsrc_damaged_files(const pcapsrc *src)
{
    return src ? src->damaged : 0;
}

void pcapsrc_close(pcapsrc *src)
{
    if (!src)
        return;
    if (src->files) {
        for (size_t k = 0; k < src->n_files; k++) {
            if (src->files[k].pcap)
                pcap_close(src->files[k].pcap);
            free(src->files[k].iobuf); /* after pcap_close closed its FILE */
            free(src->files[k].path);
        }
    }
    free(src->files);
    free(src->heap);
    dedup_destroy(src->dd);
    free(src);
}

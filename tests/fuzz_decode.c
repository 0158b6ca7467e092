/* fuzz_decode.c - libFuzzer targets for the capture stage.
 *
 * Built twice (only with ./configure --enable-fuzz CC=clang):
 *  - tests/fuzz_decode: the first input byte picks a link type, the rest is
 *    one frame given to decode_frame (from an exactly-sized buffer, so any
 *    read past caplen is caught by AddressSanitizer);
 *  - tests/fuzz_pcapsrc (FUZZ_PCAPSRC defined): the input is a whole pcap or
 *    pcapng file, written to a temporary file and read through pcapsrc twice
 *    at once (two handles merged), decoding every frame.
 * Each also checks invariants of the results and traps when one breaks.
 * How to build and run: see the comment beside these targets in
 * src/local.mk.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "pcapsrc.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded packet must be self-consistent. */
static void fuzz_check_packet(int r, const packet_t *p)
{
    if (r < 0 || r >= DECODE_RESULT_COUNT)
        __builtin_trap();
    if (r != DECODE_OK)
        return;
    if (p->family != 4 && p->family != 6)
        __builtin_trap();
    if (p->proto != 6 && p->proto != 17 && p->proto != 1 && p->proto != 58)
        __builtin_trap();
    if (p->payload_len > 65535 + 65535u) /* an IP length, never more */
        __builtin_trap();
}

#ifndef FUZZ_PCAPSRC

/* Link types tried: every supported one and one that is not. */
static const int fuzz_linktypes[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 239, 276, 105};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int lt = fuzz_linktypes[data[0] % (sizeof fuzz_linktypes / sizeof fuzz_linktypes[0])];
    size_t len = size - 1;
    uint8_t *frame = malloc(len ? len : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 1, len);
    packet_t p;
    int r = decode_frame(&p, lt, frame, len, (uint32_t)len, 1);
    fuzz_check_packet(r, &p);
    if (r == DECODE_OK && !decode_linktype_supported(lt))
        __builtin_trap();
    if (r == DECODE_UNKNOWN_LINKTYPE && decode_linktype_supported(lt))
        __builtin_trap();
    free(frame);
    return 0;
}

#else

static char fuzz_path[64];

static void fuzz_remove_tmp(void)
{
    if (fuzz_path[0])
        unlink(fuzz_path);
}

static void fuzz_ignore_warning(void *ctx, const char *msg)
{
    (void)ctx;
    if (!strchr(msg, ':')) /* every message names the file */
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_path[0]) {
        snprintf(fuzz_path, sizeof fuzz_path, "/tmp/fuzz_pcapsrc.%ld.pcap", (long)getpid());
        atexit(fuzz_remove_tmp);
    }
    FILE *f = fopen(fuzz_path, "wb");
    if (!f)
        return 0;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);
    const char *paths[2] = {fuzz_path, fuzz_path};
    pcapsrc *src;
    char err[SS_ERRBUF_SIZE];
    int rc = pcapsrc_open(&src, paths, 2, fuzz_ignore_warning, NULL, err);
    if (rc < 0) {
        if (src != NULL || !strstr(err, fuzz_path))
            __builtin_trap();
        return 0;
    }
    packet_t p;
    decode_stats st;
    memset(&st, 0, sizeof st);
    uint64_t ok = 0;
    while ((rc = pcapsrc_next_packet(src, &p, &st, err)) == 1) {
        fuzz_check_packet(DECODE_OK, &p);
        ok++;
    }
    if (rc < 0 && rc != SS_ERR_NOMEM)
        __builtin_trap();
    uint64_t sum = 0;
    for (int k = 0; k < DECODE_RESULT_COUNT; k++)
        sum += st.count[k];
    /* copies the duplicate filter drops (the same file read twice) are
     * frames read but not counted in the decode stats */
    if (sum + pcapsrc_duplicates(src) != pcapsrc_frames(src) || st.count[DECODE_OK] != ok)
        __builtin_trap();
    pcapsrc_close(src);
    return 0;
}

#endif

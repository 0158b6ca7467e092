/* fuzz_labels.c - libFuzzer target of the labels reader
 * (correlate/labels.c, labels_read_stream): the input is a whole labels.csv,
 * read from memory. Invariants: every error message is one line without
 * control bytes (input text is escaped); every row read has families 4 or 6
 * and an end not before its start, and formats back into a row that reads the
 * same. Built only with ./configure --enable-fuzz CC=clang; seeds: the
 * bundled sample labels, datasets/samples/ (see tests/local.mk, fuzz-smoke).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "labels.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > (1u << 20))
        return 0;
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    labels set;
    labels_init(&set);
    char err[SS_ERRBUF_SIZE];
    int rc = labels_read_stream(&set, f, "fuzz.csv", err);
    fclose(f);
    if (rc) {
        for (const unsigned char *p = (const unsigned char *)err; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                __builtin_trap();
        if (set.n)
            __builtin_trap(); /* a failed read keeps no rows */
    }
    for (size_t k = 0; k < set.n; k++) {
        const labels_hop *h = &set.hops[k];
        if ((h->relay_family != 4 && h->relay_family != 6) || h->end_us < h->start_us)
            __builtin_trap();
        /* a row formats into one that reads back the same */
        char row[512], text[1024];
        labels_format_hop(h, row, sizeof(row));
        snprintf(text, sizeof(text), "%s\n%s\n", LABELS_HEADER, row);
        FILE *g = fmemopen(text, strlen(text), "r");
        if (!g)
            continue;
        labels back;
        labels_init(&back);
        if (labels_read_stream(&back, g, "row", err) || back.n != 1 ||
            memcmp(&back.hops[0], h, sizeof(*h)))
            __builtin_trap();
        fclose(g);
        labels_free(&back);
    }
    labels_free(&set);
    return 0;
}

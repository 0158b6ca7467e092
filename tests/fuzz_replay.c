/* fuzz_replay.c - runs a fuzz target's LLVMFuzzerTestOneInput on the files
 * named on the command line, without libFuzzer: `make check` builds the
 * capture-reader target this way from the capture layer's sources alone
 * (src/local.mk, CAPTURE_SOURCES), so the reader keeps linking without any
 * higher layer, and replays real captures through the target's checks.
 * Exit status: 0 when every file ran (the target traps on a broken
 * invariant), 1 when a file cannot be read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        size_t cap = 1 << 16, n = 0;
        uint8_t *buf = malloc(cap);
        size_t got;
        while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
            n += got;
            if (n == cap) {
                uint8_t *b2 = realloc(buf, cap *= 2);
                if (!b2) {
                    free(buf);
                    buf = NULL;
                }
                buf = b2;
            }
        }
        fclose(f);
        if (!buf) {
            fprintf(stderr, "%s: out of memory\n", argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        printf("%s: %zu bytes replayed\n", argv[i], n);
    }
    return 0;
}

/* fuzz_model.c - libFuzzer target of the model file reader
 * (encoders/modelfile.c) and the two model loaders on top of it
 * (encoder_from_model, session_model_from_file).
 *
 * Each input is read twice: as a whole file (so the checksum, the tail and
 * the stray-byte checks are fuzzed too), and as a model body with its correct
 * checksum appended by the target, so the fuzzer gets past the FNV-1a check
 * into the parsing and the value checks. Invariants: every error message is
 * one line without control bytes (input text is escaped); a loaded correlator
 * has a threshold in [0,1] and finite positive std. Built only with
 * ./configure --enable-fuzz CC=clang; seeds: the compiled-in models, written
 * to $FUZZ_SEED_DIR when that is set (see tests/local.mk, fuzz-smoke).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "default_model.h"
#include "encoder.h"
#include "modelfile.h"
#include "sessmodel.h"
#include "status.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An error message must be one line of printable text. */
static void check_message(const char *err)
{
    for (const unsigned char *p = (const unsigned char *)err; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            __builtin_trap();
}

/* Writes the body of a model (without its 9-byte checksum) as a seed. */
static void write_seed(const char *dir, const char *name, const unsigned char *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(buf, 1, len > 9 ? len - 9 : len, f);
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("FUZZ_SEED_DIR");
    if (dir && *dir) {
        write_seed(dir, "seed-correlator", default_model_data, default_model_size);
        write_seed(dir, "seed-session", session_default_model, session_default_model_len);
    }
    return 0;
}

static void try_model(const unsigned char *buf, size_t len)
{
    char err[SS_ERRBUF_SIZE];
    modelfile_t *mf = NULL;
    if (modelfile_load_buffer(&mf, buf, len, err)) {
        check_message(err);
        return;
    }
    encoder *enc = NULL;
    if (encoder_from_model(&enc, mf, mf->id, err) == SS_OK) {
        if (!(enc->threshold >= 0 && enc->threshold <= 1))
            __builtin_trap();
        for (int c = 0; c < CONNFEAT_CHANNELS; c++)
            if (!(isfinite(enc->std[c]) && enc->std[c] > 0) || !isfinite(enc->mean[c]))
                __builtin_trap();
        encoder_destroy(enc);
    } else {
        check_message(err);
    }
    session_model *sm = NULL;
    if (session_model_from_file(&sm, mf, mf->id, err) == SS_OK)
        session_model_destroy(sm);
    else
        check_message(err);
    modelfile_destroy(mf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    try_model(data, size);
    /* the input as a body, sealed with its checksum (msgpack uint64) */
    unsigned char *sealed = malloc(size + 9);
    if (!sealed)
        return 0;
    memcpy(sealed, data, size);
    uint64_t h = modelfile_fnv1a64(data, size);
    sealed[size] = 0xcf;
    for (int k = 0; k < 8; k++)
        sealed[size + 1 + k] = (unsigned char)(h >> (56 - 8 * k));
    try_model(sealed, size + 9);
    free(sealed);
    return 0;
}

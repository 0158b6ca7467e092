/* check_modelfile.c - tests for modelfile.c: round trip, the id of a loaded
 * model, and refusal of truncated, corrupt, wrong-version, wrong-magic,
 * wrong-shape, empty, non-msgpack and too large files; of hostile files
 * (impossible sizes, 200,000 keys, unknown keys, names with control bytes);
 * and the value checks of the correlator and session model loaders. */
#include <check.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <math.h>

#include "default_model.h"
#include "encoder.h"
#include "modelfile.h"
#include "params.h"
#include "sessmodel.h"
#include "rng.h"
#include "status.h"

/* A small model: kind "correlator", three config values, two arrays, three tensors. */
static void make_model(modelfile_t **mf, params_t **p)
{
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(modelfile_create(mf, "correlator", err), 0);
    ck_assert_int_eq(modelfile_set_int(*mf, "hidden", 12, err), 0);
    ck_assert_int_eq(modelfile_set_int(*mf, "offset", -7, err), 0);
    ck_assert_int_eq(modelfile_set_float(*mf, "dropout", 0.125, err), 0);
    ck_assert_int_eq(modelfile_set_str(*mf, "cell", "lstm", err), 0);
    float mean[3] = {1.5f, -2.0f, 3e-7f}, sd[2] = {0.5f, 4.0f};
    ck_assert_int_eq(modelfile_set_norm(*mf, "feat_mean", mean, 3, err), 0);
    ck_assert_int_eq(modelfile_set_norm(*mf, "feat_std", sd, 2, err), 0);
    ck_assert_int_eq(params_create(p, err), 0);
    size_t w[2] = {3, 4}, b[1] = {4}, e[3] = {2, 3, 2};
    ck_assert_int_eq(params_add(*p, "w", 2, w, 0, err), 0);
    ck_assert_int_eq(params_add(*p, "b", 1, b, PARAMS_NO_DECAY, err), 1);
    ck_assert_int_eq(params_add(*p, "emb", 3, e, 0, err), 2);
    ck_assert_int_eq(params_alloc(*p, err), 0);
    rng_t r;
    rng_seed(&r, 99);
    rng_fill_normal(&r, (*p)->data, (*p)->total, 1.0f);
    (*p)->data[0] = -0.0f;
    (*p)->data[1] = 1e-40f; /* subnormal survives */
}

static void make_buffer(unsigned char **buf, size_t *len)
{
    modelfile_t *mf;
    params_t *p;
    char err[SS_ERRBUF_SIZE];
    make_model(&mf, &p);
    void *b;
    ck_assert_int_eq(modelfile_save_buffer(mf, p, &b, len, err), 0);
    *buf = b;
    modelfile_destroy(mf);
    params_destroy(p);
}

/* Length of the body (the first msgpack object) of a model buffer. */
static size_t body_length(const unsigned char *buf, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&u, (const char *)buf, len, &off);
    ck_assert(ur == MSGPACK_UNPACK_SUCCESS || ur == MSGPACK_UNPACK_EXTRA_BYTES);
    ck_assert_uint_lt(off, len);
    msgpack_unpacked_destroy(&u);
    return off;
}

/* Rewrites the checksum after the body was patched; returns the new length. */
static size_t reseal(unsigned char *buf, size_t len, size_t cap)
{
    size_t body = body_length(buf, len);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_uint64(&pk, modelfile_fnv1a64(buf, body));
    ck_assert_uint_le(body + sb.size, cap);
    memcpy(buf + body, sb.data, sb.size);
    size_t n = body + sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

static unsigned char *find_bytes(unsigned char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t k = 0; k + m <= n; k++)
        if (!memcmp(hay + k, needle, m))
            return hay + k;
    return NULL;
}

START_TEST(test_roundtrip_exact)
{
    modelfile_t *mf, *back;
    params_t *p;
    char err[SS_ERRBUF_SIZE], dir[] = "/tmp/stepstone-mf.XXXXXX", path[64];
    make_model(&mf, &p);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/m.model", dir);
    ck_assert_int_eq(modelfile_save(mf, p, path, err), 0);
    ck_assert_int_eq(modelfile_save(mf, p, path, err), 0); /* replacing works */
    ck_assert_int_eq(modelfile_load(&back, path, err), 0);
    ck_assert_str_eq(back->kind, "correlator");
    ck_assert_ptr_nonnull(back->params);
    ck_assert_uint_eq(back->params->total, p->total);
    ck_assert_int_eq(memcmp(back->params->data, p->data, p->total * sizeof(float)), 0);
    ck_assert_uint_eq(back->params->n_tensors, 3);
    ck_assert_str_eq(back->params->tensors[2].name, "emb");
    ck_assert_int_eq(back->params->tensors[2].ndim, 3);
    ck_assert_uint_eq(back->params->tensors[2].shape[1], 3);
    int64_t h;
    double f;
    const char *s;
    ck_assert_int_eq(modelfile_get_int(back, "hidden", &h, err), 0);
    ck_assert_int_eq(h, 12);
    ck_assert_int_eq(modelfile_get_int(back, "offset", &h, err), 0);
    ck_assert_int_eq(h, -7);
    ck_assert_int_eq(modelfile_get_float(back, "dropout", &f, err), 0);
    ck_assert_double_eq(f, 0.125);
    ck_assert_int_eq(modelfile_get_float(back, "hidden", &f, err), 0);
    ck_assert_double_eq(f, 12.0);
    ck_assert_int_eq(modelfile_get_str(back, "cell", &s, err), 0);
    ck_assert_str_eq(s, "lstm");
    ck_assert_int_eq(modelfile_get_int(back, "cell", &h, err), SS_ERR_FORMAT);
    ck_assert_int_eq(modelfile_get_int(back, "nope", &h, err), SS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err, "'nope'"));
    const float *v;
    size_t n;
    ck_assert_int_eq(modelfile_get_norm(back, "feat_mean", &v, &n, 3, err), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_float_eq(v[2], 3e-7f);
    ck_assert_int_eq(modelfile_get_norm(back, "feat_std", &v, &n, 5, err), SS_ERR_SHAPE);
    ck_assert_int_eq(modelfile_expect_kind(back, "correlator", err), 0);
    ck_assert_int_eq(modelfile_expect_kind(back, "session", err), SS_ERR_FORMAT);
    /* a params set of the same configuration receives the values */
    params_t *q;
    ck_assert_int_eq(params_create(&q, err), 0);
    size_t w[2] = {3, 4}, b[1] = {4}, e[3] = {2, 3, 2};
    params_add(q, "emb", 3, e, 0, err); /* other order: matched by name */
    params_add(q, "w", 2, w, 0, err);
    params_add(q, "b", 1, b, 0, err);
    ck_assert_int_eq(params_alloc(q, err), 0);
    ck_assert_int_eq(params_copy_values(q, back->params, err), 0);
    ck_assert_int_eq(memcmp(params_data(q, 1), p->data, 12 * sizeof(float)), 0);
    params_destroy(q);
    /* buffer round trip gives the same bytes again */
    void *b1, *b2;
    size_t l1, l2;
    ck_assert_int_eq(modelfile_save_buffer(mf, p, &b1, &l1, err), 0);
    ck_assert_int_eq(modelfile_save_buffer(back, back->params, &b2, &l2, err), 0);
    ck_assert_uint_eq(l1, l2);
    ck_assert_int_eq(memcmp(b1, b2, l1), 0);
    free(b1);
    free(b2);
    modelfile_destroy(back);
    /* saving into a missing folder fails cleanly */
    char bad[96];
    snprintf(bad, sizeof(bad), "%s/no/such/m.model", dir);
    ck_assert_int_eq(modelfile_save(mf, p, bad, err), SS_ERR_IO);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0); /* no temp file left behind */
    modelfile_destroy(mf);
    params_destroy(p);
    modelfile_destroy(NULL);
}
END_TEST

START_TEST(test_every_truncation_refused)
{
    unsigned char *buf;
    size_t len;
    char err[SS_ERRBUF_SIZE];
    make_buffer(&buf, &len);
    modelfile_t *mf;
    ck_assert_int_eq(modelfile_load_buffer(&mf, buf, len, err), 0);
    modelfile_destroy(mf);
    for (size_t n = 0; n < len; n++) {
        /* a fresh heap copy of exactly n bytes, so reading past it is caught by tools */
        unsigned char *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        mf = (modelfile_t *)1;
        int rc = modelfile_load_buffer(&mf, cut, n, err);
        ck_assert_ptr_null(mf);
        if (n == 0) {
            ck_assert_int_eq(rc, SS_ERR_EMPTY);
        } else {
            ck_assert_msg(rc == SS_ERR_TRUNCATED, "length %zu of %zu: %d %s", n, len, rc, err);
            ck_assert_ptr_nonnull(strstr(err, "truncated"));
        }
        free(cut);
    }
    free(buf);
}
END_TEST

START_TEST(test_flipped_bytes_refused)
{
    unsigned char *buf;
    size_t len;
    char err[SS_ERRBUF_SIZE];
    make_buffer(&buf, &len);
    modelfile_t *mf;
    /* one bit in the middle of a tensor's data: checksum mismatch */
    unsigned char *data = find_bytes(buf, len, "\xa4" "data", 5);
    ck_assert_ptr_nonnull(data);
    size_t at = (size_t)(data - buf) + 5 + 2 + 10; /* past "data", the bin header, into values */
    buf[at] ^= 0x10;
    ck_assert_int_eq(modelfile_load_buffer(&mf, buf, len, err), SS_ERR_CHECKSUM);
    ck_assert_ptr_nonnull(strstr(err, "checksum mismatch"));
    buf[at] ^= 0x10;
    /* the checksum itself */
    buf[len - 1] ^= 0x01;
    ck_assert_int_eq(modelfile_load_buffer(&mf, buf, len, err), SS_ERR_CHECKSUM);
    buf[len - 1] ^= 0x01;
    /* every byte, every way: refused, never a crash */
    for (size_t k = 0; k < len; k++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[k] ^= (unsigned char)(1u << bit);
            int rc = modelfile_load_buffer(&mf, buf, len, err);
            ck_assert_msg(rc < 0, "flip at byte %zu bit %d accepted", k, bit);
            ck_assert_ptr_null(mf);
            buf[k] ^= (unsigned char)(1u << bit);
        }
    }
    ck_assert_int_eq(modelfile_load_buffer(&mf, buf, len, err), 0);
    modelfile_destroy(mf);
    free(buf);
}
END_TEST

START_TEST(test_wrong_version_and_magic)
{
    unsigned char *buf;
    size_t len;
    char err[SS_ERRBUF_SIZE];
    make_buffer(&buf, &len);
    unsigned char *big = malloc(len + 16);
    memcpy(big, buf, len);
    modelfile_t *mf;
    unsigned char *ver = find_bytes(big, len, "\xa7" "version" "\x01", 9);
    ck_assert_ptr_nonnull(ver);
    ver[8] = 3;
    size_t n = reseal(big, len, len + 16);
    ck_assert_int_eq(modelfile_load_buffer(&mf, big, n, err), SS_ERR_VERSION);
    ck_assert_str_eq(err, "model file is version 3, this build reads version 1");
    /* the same file unsealed is still reported as the wrong version first */
    memcpy(big, buf, len);
    find_bytes(big, len, "\xa7" "version" "\x01", 9)[8] = 3;
    ck_assert_int_eq(modelfile_load_buffer(&mf, big, len, err), SS_ERR_VERSION);
    /* wrong magic, resealed */
    memcpy(big, buf, len);
    unsigned char *mg = find_bytes(big, len, MODELFILE_MAGIC, strlen(MODELFILE_MAGIC));
    mg[strlen(MODELFILE_MAGIC) - 1] = 'x';
    n = reseal(big, len, len + 16);
    ck_assert_int_eq(modelfile_load_buffer(&mf, big, n, err), SS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err, "not a stepstone model"));
    /* stray bytes after the checksum */
    memcpy(big, buf, len);
    big[len] = 0;
    ck_assert_int_eq(modelfile_load_buffer(&mf, big, len + 1, err), SS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err, "stray"));
    free(big);
    free(buf);
}
END_TEST

START_TEST(test_wrong_shape)
{
    char err[SS_ERRBUF_SIZE];
    unsigned char *buf;
    size_t len;
    make_buffer(&buf, &len);
    modelfile_t *mf;
    ck_assert_int_eq(modelfile_load_buffer(&mf, buf, len, err), 0);
    /* the configuration expects w to be (4,4) */
    params_t *q;
    ck_assert_int_eq(params_create(&q, err), 0);
    size_t w[2] = {4, 4}, b[1] = {4}, e[3] = {2, 3, 2};
    params_add(q, "w", 2, w, 0, err);
    params_add(q, "b", 1, b, 0, err);
    params_add(q, "emb", 3, e, 0, err);
    ck_assert_int_eq(params_alloc(q, err), 0);
    ck_assert_int_eq(params_copy_values(q, mf->params, err), SS_ERR_SHAPE);
    ck_assert_str_eq(err, "tensor 'w': expected shape (4,4), found (3,4)");
    params_destroy(q);
    /* a configuration with a tensor the file lacks, and one without "emb" */
    ck_assert_int_eq(params_create(&q, err), 0);
    size_t w34[2] = {3, 4};
    params_add(q, "w", 2, w34, 0, err);
    params_add(q, "b", 1, b, 0, err);
    ck_assert_int_eq(params_alloc(q, err), 0);
    ck_assert_int_eq(params_copy_values(q, mf->params, err), SS_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err, "'emb'"));
    params_destroy(q);
    modelfile_destroy(mf);
    /* inside the file: shape (3,4) with its dimension patched to 5, resealed:
     * the data no longer fits the shape */
    unsigned char *big = malloc(len + 16);
    memcpy(big, buf, len);
    unsigned char *sh = find_bytes(big, len, "\xa5" "shape" "\x92\x03\x04", 9);
    ck_assert_ptr_nonnull(sh);
    sh[7] = 5;
    size_t n = reseal(big, len, len + 16);
    ck_assert_int_eq(modelfile_load_buffer(&mf, big, n, err), SS_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err, "tensor 'w'"));
    ck_assert_ptr_nonnull(strstr(err, "(5,4)"));
    free(big);
    free(buf);
}
END_TEST

START_TEST(test_empty_and_not_msgpack)
{
    char err[SS_ERRBUF_SIZE], dir[] = "/tmp/stepstone-mf.XXXXXX", path[64];
    modelfile_t *mf;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/x.model", dir);
    FILE *f = fopen(path, "wb");
    fclose(f);
    ck_assert_int_eq(modelfile_load(&mf, path, err), SS_ERR_EMPTY);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    f = fopen(path, "wb");
    fputs("hello, this is text\n", f);
    fclose(f);
    ck_assert_int_eq(modelfile_load(&mf, path, err), SS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err, "not a stepstone model"));
    unlink(path);
    ck_assert_int_eq(modelfile_load(&mf, path, err), SS_ERR_IO);
    ck_assert_int_eq(modelfile_load(&mf, dir, err), SS_ERR_IO); /* a folder */
    rmdir(dir);
    /* valid msgpack that is not a model: {"a": 1}, and a map with another first key */
    const unsigned char other[] = {0x81, 0xa1, 'a', 0x01};
    ck_assert_int_eq(modelfile_load_buffer(&mf, other, sizeof(other), err), SS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err, "not a stepstone model"));
    const unsigned char arr[] = {0x93, 0x01, 0x02, 0x03};
    ck_assert_int_eq(modelfile_load_buffer(&mf, arr, sizeof(arr), err), SS_ERR_FORMAT);
    ck_assert_ptr_null(mf);
}
END_TEST

START_TEST(test_bad_arguments)
{
    char err[SS_ERRBUF_SIZE];
    modelfile_t *mf;
    ck_assert_int_eq(modelfile_create(&mf, "", err), SS_ERR_ARG);
    ck_assert_ptr_null(mf);
    ck_assert_int_eq(modelfile_create(&mf, "session", err), 0);
    params_t *p;
    ck_assert_int_eq(params_create(&p, err), 0);
    void *b;
    size_t n;
    ck_assert_int_eq(modelfile_save_buffer(mf, p, &b, &n, err), SS_ERR_ARG); /* unallocated */
    ck_assert_int_eq(modelfile_set_int(mf, "k", 1, err), 0);
    ck_assert_int_eq(modelfile_set_str(mf, "k", "now a string", err), 0); /* replaces */
    ck_assert_uint_eq(mf->n_config, 1);
    const char *s;
    ck_assert_int_eq(modelfile_get_str(mf, "k", &s, err), 0);
    ck_assert_str_eq(s, "now a string");
    params_destroy(p);
    modelfile_destroy(mf);
    /* FNV-1a-64 reference values */
    ck_assert_uint_eq(modelfile_fnv1a64("", 0), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(modelfile_fnv1a64("a", 1), 0xaf63dc4c8601ec8cULL);
}
END_TEST

/* A loaded model's id is the FNV-1a-64 of the file's bytes; a file larger than
 * MODELFILE_MAX_BYTES is refused, naming the file, without being read. */
START_TEST(test_id_and_size_cap)
{
    modelfile_t *mf, *back;
    params_t *p;
    char err[SS_ERRBUF_SIZE], dir[] = "/tmp/stepstone-mf.XXXXXX", path[64], big[64];
    make_model(&mf, &p);
    ck_assert_uint_eq(mf->id, 0);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/m.model", dir);
    ck_assert_int_eq(modelfile_save(mf, p, path, err), 0);
    void *buf;
    size_t len;
    ck_assert_int_eq(modelfile_save_buffer(mf, p, &buf, &len, err), 0);
    ck_assert_int_eq(modelfile_load(&back, path, err), 0);
    ck_assert_uint_eq(back->id, modelfile_fnv1a64(buf, len));
    ck_assert_uint_ne(back->id, 0);
    modelfile_destroy(back);
    ck_assert_int_eq(modelfile_load_buffer(&back, buf, len, err), 0);
    ck_assert_uint_eq(back->id, modelfile_fnv1a64(buf, len));
    modelfile_destroy(back);
    free(buf);
    snprintf(big, sizeof(big), "%s/big.model", dir);
    FILE *f = fopen(big, "wb");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(truncate(big, (off_t)MODELFILE_MAX_BYTES + 1), 0); /* sparse */
    ck_assert_int_eq(modelfile_load(&back, big, err), SS_ERR_FORMAT);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(err, big));
    ck_assert_ptr_nonnull(strstr(err, "too large"));
    unlink(big);
    unlink(path);
    rmdir(dir);
    modelfile_destroy(mf);
    params_destroy(p);
}
END_TEST

/* Packs "key": str */
static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* A model body by hand: n_keys int config keys "kNNNNNN" (plus a repeat of
 * the first when repeat), an extra top-level key when extra_root, an extra
 * tensor key when extra_tensor, then the checksum. Returns the malloc'ed
 * bytes and their length. */
static unsigned char *hand_model(size_t n_keys, int repeat, const char *key0, int extra_root,
                                 int extra_tensor, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6 + (extra_root != 0));
    pack_str(&pk, "magic");
    pack_str(&pk, MODELFILE_MAGIC);
    pack_str(&pk, "version");
    msgpack_pack_uint8(&pk, MODELFILE_VERSION);
    pack_str(&pk, "kind");
    pack_str(&pk, "test");
    pack_str(&pk, "config");
    msgpack_pack_map(&pk, n_keys + (repeat != 0));
    for (size_t k = 0; k < n_keys + (repeat != 0); k++) {
        char key[16];
        snprintf(key, sizeof(key), "k%06zu", k < n_keys ? k : 0);
        pack_str(&pk, k == 0 && key0 ? key0 : key);
        msgpack_pack_int(&pk, (int)k);
    }
    pack_str(&pk, "norm");
    msgpack_pack_map(&pk, 0);
    pack_str(&pk, "tensors");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3 + (extra_tensor != 0));
    pack_str(&pk, "name");
    pack_str(&pk, "w");
    pack_str(&pk, "shape");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint8(&pk, 1);
    pack_str(&pk, "data");
    float one = 1.0f;
    msgpack_pack_bin(&pk, 4);
    msgpack_pack_bin_body(&pk, &one, 4);
    if (extra_tensor) {
        pack_str(&pk, "grad");
        msgpack_pack_int(&pk, 0);
    }
    if (extra_root) {
        pack_str(&pk, "extra");
        msgpack_pack_int(&pk, 0);
    }
    msgpack_pack_uint64(&pk, modelfile_fnv1a64(sb.data, sb.size));
    *len = sb.size;
    return (unsigned char *)sb.data;
}

/* Whether s holds a byte a terminal acts on (C0 control or DEL). */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Sizes are checked against the bytes there are before anything is allocated:
 * 5 bytes declaring a map of 2^32 - 1 pairs, a valid start whose config map
 * claims 2^32 - 1 pairs, a 4 GiB bin, containers nested too deep. */
START_TEST(test_impossible_sizes)
{
    char err[SS_ERRBUF_SIZE];
    modelfile_t *mf;
    const unsigned char huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    ck_assert_int_eq(modelfile_load_buffer(&mf, huge, sizeof(huge), err), SS_ERR_TRUNCATED);
    ck_assert_ptr_nonnull(strstr(err, "a map of 4294967295 entries"));
    ck_assert_ptr_null(mf);
    /* a real start, then "config": map32 of 2^32 - 1 pairs in a few bytes */
    unsigned char *buf;
    size_t len;
    make_buffer(&buf, &len);
    unsigned char *cfg = find_bytes(buf, len, "\xa6" "config", 7);
    ck_assert_ptr_nonnull(cfg);
    size_t at = (size_t)(cfg - buf) + 7;
    unsigned char *bad = malloc(at + 5 + 8);
    memcpy(bad, buf, at);
    memcpy(bad + at, "\xdf\xff\xff\xff\xff" "abcdefgh", 13);
    ck_assert_int_eq(modelfile_load_buffer(&mf, bad, at + 13, err), SS_ERR_TRUNCATED);
    ck_assert_ptr_nonnull(strstr(err, "map of 4294967295 entries"));
    /* a bin32 of 4 GiB - 1 */
    memcpy(bad + at, "\xc6\xff\xff\xff\xff" "abcdefgh", 13);
    ck_assert_int_eq(modelfile_load_buffer(&mf, bad, at + 13, err), SS_ERR_TRUNCATED);
    ck_assert_ptr_nonnull(strstr(err, "4294967295 bytes declared"));
    free(bad);
    free(buf);
    /* arrays nested 100 deep (inside a map that looks like a model) */
    unsigned char deep[23 + 99 + 2]; /* {"magic": ..., [[[...[1]...]]]: 1} */
    memcpy(deep, "\x82\xa5" "magic" "\xaf" MODELFILE_MAGIC, 23);
    memset(deep + 23, 0x91, 99);
    deep[122] = 0x01;
    deep[123] = 0x01;
    ck_assert_int_eq(modelfile_load_buffer(&mf, deep, sizeof(deep), err), SS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err, "nested"));
}
END_TEST

/* Loads buf (len bytes, then freed): refused with SS_ERR_FORMAT and a
 * message that holds want, with no control byte in it. */
static void expect_refused(unsigned char *buf, size_t len, const char *want)
{
    char err[SS_ERRBUF_SIZE];
    modelfile_t *mf = (modelfile_t *)1;
    ck_assert_int_eq(modelfile_load_buffer(&mf, buf, len, err), SS_ERR_FORMAT);
    ck_assert_ptr_null(mf);
    ck_assert_msg(strstr(err, want) != NULL, "want '%s', got '%s'", want, err);
    ck_assert(!has_control(err));
    free(buf);
}

/* 200,000 keys: refused by the key count, whatever the time it would take.
 * At the limit a file loads; a repeated key is found (by sorting). */
START_TEST(test_key_count)
{
    char err[SS_ERRBUF_SIZE];
    modelfile_t *mf;
    size_t len;
    unsigned char *buf = hand_model(200000, 0, NULL, 0, 0, &len);
    expect_refused(buf, len, "model: 200000 config keys, at most 256");
    buf = hand_model(256, 0, NULL, 0, 0, &len);
    ck_assert_int_eq(modelfile_load_buffer(&mf, buf, len, err), 0);
    ck_assert_uint_eq(mf->n_config, 256);
    int64_t v;
    ck_assert_int_eq(modelfile_get_int(mf, "k000255", &v, err), 0);
    ck_assert_int_eq(v, 255);
    modelfile_destroy(mf);
    free(buf);
    buf = hand_model(257, 0, NULL, 0, 0, &len);
    expect_refused(buf, len, "model: 257 config keys, at most 256");
    buf = hand_model(200, 1, NULL, 0, 0, &len);
    expect_refused(buf, len, "model: config key 'k000000' repeated");
}
END_TEST

/* Unknown keys in the top map or a tensor map are refused; a name with
 * control bytes or invalid UTF-8 is refused and quoted escaped. */
START_TEST(test_unknown_and_bad_names)
{
    size_t len;
    unsigned char *buf = hand_model(3, 0, NULL, 1, 0, &len);
    expect_refused(buf, len, "model: unknown key 'extra' in the model's top map");
    buf = hand_model(3, 0, NULL, 0, 1, &len);
    expect_refused(buf, len, "model: unknown key 'grad' in tensor 0");
    buf = hand_model(3, 0, "\x1b]0;title\x07", 0, 0, &len);
    expect_refused(buf, len, "config key '\\x1b]0;title\\x07' is not a name");
    buf = hand_model(3, 0, "caf\xc3\xa9\xff", 0, 0, &len);
    expect_refused(buf, len, "'caf\xc3\xa9\\xff'");
}
END_TEST

/* The compiled-in correlator with one change, resaved: what encoder_load_buffer says. */
static int encoder_with(void (*change)(modelfile_t *, double), double v, char *err)
{
    modelfile_t *mf;
    char e[SS_ERRBUF_SIZE];
    ck_assert_int_eq(modelfile_load_buffer(&mf, default_model_data, default_model_size, e), 0);
    change(mf, v);
    void *buf;
    size_t len;
    ck_assert_int_eq(modelfile_save_buffer(mf, mf->params, &buf, &len, e), 0);
    modelfile_destroy(mf);
    encoder *enc = NULL;
    int rc = encoder_load_buffer(&enc, buf, len, err);
    encoder_destroy(enc);
    free(buf);
    return rc;
}

static void set_threshold(modelfile_t *mf, double v)
{
    ck_assert_int_eq(modelfile_set_float(mf, "threshold", v, NULL), 0);
}

/* Sets element at of the compiled-in correlator's array name to v. */
static void set_array_value(modelfile_t *mf, const char *name, size_t at, double v)
{
    const float *x;
    size_t n;
    ck_assert_int_eq(modelfile_get_norm(mf, name, &x, &n, 0, NULL), 0);
    float c[64];
    ck_assert_uint_lt(at, n);
    memcpy(c, x, n * sizeof(float));
    c[at] = (float)v;
    ck_assert_int_eq(modelfile_set_norm(mf, name, c, n, NULL), 0);
}

static void set_std2(modelfile_t *mf, double v)
{
    set_array_value(mf, "std", 2, v);
}

static void set_mean0(modelfile_t *mf, double v)
{
    set_array_value(mf, "mean", 0, v);
}

static void add_key(modelfile_t *mf, double v)
{
    ck_assert_int_eq(modelfile_set_float(mf, "dropout", v, NULL), 0);
}

static void add_array(modelfile_t *mf, double v)
{
    float x = (float)v;
    ck_assert_int_eq(modelfile_set_norm(mf, "feat_mean", &x, 1, NULL), 0);
}

static void no_change(modelfile_t *mf, double v)
{
    (void)mf;
    (void)v;
}

START_TEST(test_encoder_values)
{
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(encoder_with(no_change, 0, err), 0);
    ck_assert_int_eq(encoder_with(set_threshold, 0, err), 0);
    ck_assert_int_eq(encoder_with(set_threshold, 1, err), 0);
    const double bad_thr[] = {-1, 1.5, 2147483648.0, NAN, INFINITY, -0.001};
    for (size_t k = 0; k < sizeof(bad_thr) / sizeof(bad_thr[0]); k++) {
        ck_assert_int_eq(encoder_with(set_threshold, bad_thr[k], err), SS_ERR_FORMAT);
        ck_assert_msg(strstr(err, "model: threshold = ") && strstr(err, "out of range (0 to 1)"),
                      "%g: %s", bad_thr[k], err);
    }
    const double bad_std[] = {NAN, INFINITY, 0, -1};
    for (size_t k = 0; k < sizeof(bad_std) / sizeof(bad_std[0]); k++) {
        ck_assert_int_eq(encoder_with(set_std2, bad_std[k], err), SS_ERR_FORMAT);
        ck_assert_msg(strstr(err, "model: std[2] = ") != NULL, "%g: %s", bad_std[k], err);
    }
    ck_assert_int_eq(encoder_with(set_mean0, NAN, err), SS_ERR_FORMAT);
    ck_assert_str_eq(err, "model: mean[0] = nan is not a finite number");
    ck_assert_int_eq(encoder_with(set_mean0, -INFINITY, err), SS_ERR_FORMAT);
    ck_assert_int_eq(encoder_with(add_key, 0.5, err), SS_ERR_FORMAT);
    ck_assert_str_eq(err, "model: unknown config key 'dropout' (a 'correlator' model has no "
                          "such key)");
    ck_assert_int_eq(encoder_with(add_array, 0.5, err), SS_ERR_FORMAT);
    ck_assert_str_eq(err, "model: unknown array 'feat_mean' (a 'correlator' model has no "
                          "such array)");
}
END_TEST

/* The compiled-in session model with one change, resaved. */
static int session_with(const char *key, double v, int array, char *err)
{
    modelfile_t *mf;
    char e[SS_ERRBUF_SIZE];
    ck_assert_int_eq(modelfile_load_buffer(&mf, session_default_model,
                                           session_default_model_len, e), 0);
    if (array) {
        const float *x;
        size_t n;
        float c[16];
        if (modelfile_get_norm(mf, key, &x, &n, 0, e) == 0) {
            ck_assert_uint_le(n, 16);
            memcpy(c, x, n * sizeof(float));
        } else {
            n = 3;
            memset(c, 0, sizeof(c));
        }
        c[0] = (float)v;
        ck_assert_int_eq(modelfile_set_norm(mf, key, c, n, e), 0);
    } else if (key) {
        ck_assert_int_eq(modelfile_set_float(mf, key, v, e), 0);
    }
    void *buf;
    size_t len;
    ck_assert_int_eq(modelfile_save_buffer(mf, mf->params, &buf, &len, e), 0);
    modelfile_destroy(mf);
    session_model *m = NULL;
    int rc = session_model_load_buffer(&m, buf, len, err);
    session_model_destroy(m);
    free(buf);
    return rc;
}

START_TEST(test_session_values)
{
    char err[SS_ERRBUF_SIZE];
    ck_assert_int_eq(session_with(NULL, 0, 0, err), 0);
    ck_assert_int_eq(session_with("quantile", NAN, 0, err), SS_ERR_FORMAT);
    ck_assert_str_eq(err, "session model: quantile = nan is out of range (0 to 1)");
    ck_assert_int_eq(session_with("quantile", INFINITY, 0, err), SS_ERR_FORMAT);
    ck_assert_int_eq(session_with("quantile", 1.5, 0, err), SS_ERR_FORMAT);
    ck_assert_int_eq(session_with("markov.alpha", INFINITY, 0, err), SS_ERR_FORMAT);
    ck_assert_str_eq(err, "session model: markov.alpha = inf is not a finite positive number");
    ck_assert_int_eq(session_with("thr.bilstm.global", NAN, 1, err), SS_ERR_FORMAT);
    ck_assert_str_eq(err, "session model: thr.bilstm.global[0] = nan is not a finite number");
    ck_assert_int_eq(session_with("thr.markov.global", INFINITY, 1, err), SS_ERR_FORMAT);
    ck_assert_int_eq(session_with("host_factor", NAN, 0, err), SS_ERR_FORMAT);
    ck_assert_int_eq(session_with("bilstm.dropout", 0.1, 0, err), SS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err, "unknown config key 'bilstm.dropout'"));
    ck_assert_int_eq(session_with("thr.other.global", 0.1, 1, err), SS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err, "unknown array 'thr.other.global'"));
}
END_TEST

Suite *modelfile_suite(void)
{
    Suite *s = suite_create("modelfile");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_roundtrip_exact);
    tcase_add_test(tc, test_every_truncation_refused);
    tcase_add_test(tc, test_flipped_bytes_refused);
    tcase_add_test(tc, test_wrong_version_and_magic);
    tcase_add_test(tc, test_wrong_shape);
    tcase_add_test(tc, test_empty_and_not_msgpack);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_id_and_size_cap);
    tcase_add_test(tc, test_impossible_sizes);
    tcase_add_test(tc, test_key_count);
    tcase_add_test(tc, test_unknown_and_bad_names);
    tcase_add_test(tc, test_encoder_values);
    tcase_add_test(tc, test_session_values);
    suite_add_tcase(s, tc);
    return s;
}

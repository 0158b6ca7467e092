/* modelfile.c - one msgpack file per model; see modelfile.h and
 * docs/formats.md ("Model files"). */
#include "modelfile.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infile.h"
#include "outfile.h"
#include "status.h"

uint64_t modelfile_fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t k = 0; k < n; k++) {
        h ^= p[k];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- building ---- */

/* Whether the n bytes at s make a name: 1 to MODELFILE_NAME_MAX - 1 of
 * A-Z a-z 0-9 . _ - (so a name is safe to print and to quote). */
static int is_name(const char *s, size_t n)
{
    if (n == 0 || n >= MODELFILE_NAME_MAX)
        return 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int name_ok(const char *what, const char *name, char *errbuf)
{
    if (!name || !is_name(name, strlen(name)))
        return ss_errf(errbuf, SS_ERR_ARG, "model %s name empty, longer than %d bytes or not "
                       "of A-Z a-z 0-9 . _ -", what, MODELFILE_NAME_MAX - 1);
    return SS_OK;
}

int modelfile_create(modelfile_t **out, const char *kind, char *errbuf)
{
    *out = NULL;
    int rc = name_ok("kind", kind, errbuf);
    if (rc)
        return rc;
    modelfile_t *mf = calloc(1, sizeof(*mf));
    if (!mf)
        return ss_errf(errbuf, SS_ERR_NOMEM, "model: out of memory");
    memcpy(mf->kind, kind, strlen(kind) + 1);
    *out = mf;
    return SS_OK;
}

void modelfile_destroy(modelfile_t *mf)
{
    if (!mf)
        return;
    for (size_t k = 0; k < mf->n_config; k++)
        free(mf->config[k].s);
    free(mf->config);
    for (size_t k = 0; k < mf->n_norm; k++)
        free(mf->norm[k].values);
    free(mf->norm);
    params_destroy(mf->params);
    free(mf);
}

static const modelfile_entry *find_entry(const modelfile_t *mf, const char *key)
{
    for (size_t k = 0; k < mf->n_config; k++)
        if (!strcmp(mf->config[k].key, key))
            return &mf->config[k];
    return NULL;
}

/* Returns the entry for key, created (type INT, 0) if missing; NULL on no
 * memory. With lookup 0 the key is known to be new (a load, whose keys were
 * checked for repeats at once) and is appended without a search. */
static modelfile_entry *entry_slot(modelfile_t *mf, const char *key, int lookup)
{
    modelfile_entry *e = lookup ? (modelfile_entry *)find_entry(mf, key) : NULL;
    if (e) {
        free(e->s);
        e->s = NULL;
        return e;
    }
    if (mf->n_config == mf->cap_config) {
        size_t cap = mf->cap_config ? 2 * mf->cap_config : 8;
        modelfile_entry *c = realloc(mf->config, cap * sizeof(*c));
        if (!c)
            return NULL;
        mf->config = c;
        mf->cap_config = cap;
    }
    e = &mf->config[mf->n_config++];
    memset(e, 0, sizeof(*e));
    memcpy(e->key, key, strlen(key) + 1);
    return e;
}

int modelfile_set_int(modelfile_t *mf, const char *key, int64_t value, char *errbuf)
{
    int rc = name_ok("config key", key, errbuf);
    if (rc)
        return rc;
    modelfile_entry *e = entry_slot(mf, key, 1);
    if (!e)
        return ss_errf(errbuf, SS_ERR_NOMEM, "model: out of memory");
    e->type = MODELFILE_INT;
    e->i = value;
    return SS_OK;
}

int modelfile_set_float(modelfile_t *mf, const char *key, double value, char *errbuf)
{
    int rc = name_ok("config key", key, errbuf);
    if (rc)
        return rc;
    modelfile_entry *e = entry_slot(mf, key, 1);
    if (!e)
        return ss_errf(errbuf, SS_ERR_NOMEM, "model: out of memory");
    e->type = MODELFILE_FLOAT;
    e->f = value;
    return SS_OK;
}

static int set_str_n(modelfile_t *mf, const char *key, const char *value, size_t n,
                     int lookup, char *errbuf)
{
    int rc = name_ok("config key", key, errbuf);
    if (rc)
        return rc;
    char *copy = malloc(n + 1);
    if (!copy)
        return ss_errf(errbuf, SS_ERR_NOMEM, "model: out of memory");
    memcpy(copy, value, n);
    copy[n] = '\0';
    modelfile_entry *e = entry_slot(mf, key, lookup);
    if (!e) {
        free(copy);
        return ss_errf(errbuf, SS_ERR_NOMEM, "model: out of memory");
    }
    e->type = MODELFILE_STR;
    e->s = copy;
    return SS_OK;
}

int modelfile_set_str(modelfile_t *mf, const char *key, const char *value, char *errbuf)
{
    return set_str_n(mf, key, value, strlen(value), 1, errbuf);
}

/* modelfile_set_norm; with lookup 0 the name is known to be new (a load). */
static int set_norm(modelfile_t *mf, const char *name, const float *values, size_t n,
                    int lookup, char *errbuf)
{
    int rc = name_ok("array", name, errbuf);
    if (rc)
        return rc;
    float *copy = malloc(n ? n * sizeof(float) : 1);
    if (!copy)
        return ss_errf(errbuf, SS_ERR_NOMEM, "model: out of memory");
    if (n)
        memcpy(copy, values, n * sizeof(float));
    modelfile_array *a = NULL;
    for (size_t k = 0; lookup && k < mf->n_norm; k++)
        if (!strcmp(mf->norm[k].name, name))
            a = &mf->norm[k];
    if (!a) {
        if (mf->n_norm == mf->cap_norm) {
            size_t cap = mf->cap_norm ? 2 * mf->cap_norm : 4;
            modelfile_array *na = realloc(mf->norm, cap * sizeof(*na));
            if (!na) {
                free(copy);
                return ss_errf(errbuf, SS_ERR_NOMEM, "model: out of memory");
            }
            mf->norm = na;
            mf->cap_norm = cap;
        }
        a = &mf->norm[mf->n_norm++];
        memset(a, 0, sizeof(*a));
        memcpy(a->name, name, strlen(name) + 1);
    }
    free(a->values);
    a->values = copy;
    a->n = n;
    return SS_OK;
}

int modelfile_set_norm(modelfile_t *mf, const char *name, const float *values,
                       size_t n, char *errbuf)
{
    return set_norm(mf, name, values, n, 1, errbuf);
}

/* ---- getters ---- */

int modelfile_get_int(const modelfile_t *mf, const char *key, int64_t *value, char *errbuf)
{
    const modelfile_entry *e = find_entry(mf, key);
    if (!e)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model config has no '%s'", key);
    if (e->type != MODELFILE_INT)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model config '%s' is not an integer", key);
    *value = e->i;
    return SS_OK;
}

int modelfile_get_float(const modelfile_t *mf, const char *key, double *value, char *errbuf)
{
    const modelfile_entry *e = find_entry(mf, key);
    if (!e)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model config has no '%s'", key);
    if (e->type == MODELFILE_INT)
        *value = (double)e->i;
    else if (e->type == MODELFILE_FLOAT)
        *value = e->f;
    else
        return ss_errf(errbuf, SS_ERR_FORMAT, "model config '%s' is not a number", key);
    return SS_OK;
}

int modelfile_get_str(const modelfile_t *mf, const char *key, const char **value,
                      char *errbuf)
{
    const modelfile_entry *e = find_entry(mf, key);
    if (!e)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model config has no '%s'", key);
    if (e->type != MODELFILE_STR)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model config '%s' is not a string", key);
    *value = e->s;
    return SS_OK;
}

int modelfile_get_norm(const modelfile_t *mf, const char *name, const float **values,
                       size_t *n, size_t expected_n, char *errbuf)
{
    for (size_t k = 0; k < mf->n_norm; k++) {
        const modelfile_array *a = &mf->norm[k];
        if (strcmp(a->name, name))
            continue;
        if (expected_n && a->n != expected_n)
            return ss_errf(errbuf, SS_ERR_SHAPE,
                           "model array '%s': expected %zu values, found %zu", name,
                           expected_n, a->n);
        *values = a->values;
        *n = a->n;
        return SS_OK;
    }
    return ss_errf(errbuf, SS_ERR_FORMAT, "model has no array '%s'", name);
}

int modelfile_expect_kind(const modelfile_t *mf, const char *kind, char *errbuf)
{
    if (strcmp(mf->kind, kind))
        return ss_errf(errbuf, SS_ERR_FORMAT, "model is a '%s' model, expected '%s'",
                       mf->kind, kind);
    return SS_OK;
}

/* Whether name is one of the NULL-terminated list. */
static int listed(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(name, *list))
            return 1;
    return 0;
}

int modelfile_check_keys(const modelfile_t *mf, const char *const *config_keys,
                         const char *const *array_names, char *errbuf)
{
    /* names of a loaded model are of A-Z a-z 0-9 . _ - only: safe to quote */
    for (size_t k = 0; k < mf->n_config; k++)
        if (!listed(mf->config[k].key, config_keys))
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: unknown config key '%s' (a '%s' "
                           "model has no such key)", mf->config[k].key, mf->kind);
    for (size_t k = 0; k < mf->n_norm; k++)
        if (!listed(mf->norm[k].name, array_names))
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: unknown array '%s' (a '%s' model "
                           "has no such array)", mf->norm[k].name, mf->kind);
    return SS_OK;
}

/* ---- saving ---- */

static int host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

/* Packs n floats as little-endian float32 bytes in one bin. */
static int pack_f32_bin(msgpack_packer *pk, const float *x, size_t n)
{
    int rc = msgpack_pack_bin(pk, n * 4);
    if (host_is_le())
        return rc | msgpack_pack_bin_body(pk, x, n * 4);
    unsigned char chunk[1024];
    for (size_t k = 0; k < n; k += sizeof(chunk) / 4) {
        size_t m = n - k < sizeof(chunk) / 4 ? n - k : sizeof(chunk) / 4;
        for (size_t j = 0; j < m; j++) {
            uint32_t u;
            memcpy(&u, &x[k + j], 4);
            for (int b = 0; b < 4; b++)
                chunk[4 * j + b] = (unsigned char)(u >> (8 * b));
        }
        rc |= msgpack_pack_bin_body(pk, chunk, m * 4);
    }
    return rc;
}

int modelfile_save_buffer(const modelfile_t *mf, const params_t *p, void **buf,
                          size_t *len, char *errbuf)
{
    *buf = NULL;
    *len = 0;
    if (!p || !p->data)
        return ss_errf(errbuf, SS_ERR_ARG, "model save: parameters not allocated");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 6);
    rc |= pack_cstr(&pk, "magic") | pack_cstr(&pk, MODELFILE_MAGIC);
    rc |= pack_cstr(&pk, "version") | msgpack_pack_uint32(&pk, MODELFILE_VERSION);
    rc |= pack_cstr(&pk, "kind") | pack_cstr(&pk, mf->kind);
    rc |= pack_cstr(&pk, "config") | msgpack_pack_map(&pk, mf->n_config);
    for (size_t k = 0; k < mf->n_config; k++) {
        const modelfile_entry *e = &mf->config[k];
        rc |= pack_cstr(&pk, e->key);
        if (e->type == MODELFILE_INT)
            rc |= msgpack_pack_int64(&pk, e->i);
        else if (e->type == MODELFILE_FLOAT)
            rc |= msgpack_pack_double(&pk, e->f);
        else
            rc |= pack_cstr(&pk, e->s);
    }
    rc |= pack_cstr(&pk, "norm") | msgpack_pack_map(&pk, mf->n_norm);
    for (size_t k = 0; k < mf->n_norm; k++) {
        const modelfile_array *a = &mf->norm[k];
        rc |= pack_cstr(&pk, a->name) | msgpack_pack_array(&pk, a->n);
        for (size_t j = 0; j < a->n; j++)
            rc |= msgpack_pack_float(&pk, a->values[j]);
    }
    rc |= pack_cstr(&pk, "tensors") | msgpack_pack_array(&pk, p->n_tensors);
    for (size_t k = 0; k < p->n_tensors; k++) {
        const params_tensor *t = &p->tensors[k];
        rc |= msgpack_pack_map(&pk, 3);
        rc |= pack_cstr(&pk, "name") | pack_cstr(&pk, t->name);
        rc |= pack_cstr(&pk, "shape") | msgpack_pack_array(&pk, t->ndim);
        for (int d = 0; d < t->ndim; d++)
            rc |= msgpack_pack_uint64(&pk, t->shape[d]);
        rc |= pack_cstr(&pk, "data") | pack_f32_bin(&pk, p->data + t->offset, t->size);
    }
    if (!rc)
        rc |= msgpack_pack_uint64(&pk, modelfile_fnv1a64(sb.data, sb.size));
    if (rc) {
        msgpack_sbuffer_destroy(&sb);
        return ss_errf(errbuf, SS_ERR_NOMEM, "model save: out of memory");
    }
    *buf = sb.data; /* sbuffer memory is malloc'ed: the caller frees it */
    *len = sb.size;
    return SS_OK;
}

int modelfile_save(const modelfile_t *mf, const params_t *p, const char *path,
                   char *errbuf)
{
    void *buf;
    size_t len;
    int rc = modelfile_save_buffer(mf, p, &buf, &len, errbuf);
    if (rc)
        return rc;
    outfile o;
    rc = outfile_open(&o, path, errbuf);
    if (rc == SS_OK) {
        if (fwrite(buf, 1, len, o.f) != len) {
            rc = ss_errf(errbuf, SS_ERR_IO, "cannot write %s: %s", path, strerror(errno));
            outfile_abort(&o);
        } else {
            rc = outfile_commit(&o, errbuf);
        }
    }
    free(buf);
    return rc;
}

/* ---- loading ---- */

static int str_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           !memcmp(o->via.str.ptr, s, n);
}

/* The value of key in map, or NULL. Only maps whose keys were checked with
 * check_fixed_keys are searched (a handful of keys, each once). */
static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
    for (uint32_t k = 0; k < map->via.map.size; k++)
        if (str_eq(&map->via.map.ptr[k].key, key))
            return &map->via.map.ptr[k].val;
    return NULL;
}

/* Copies the name o into dst, or refuses it (SS_ERR_FORMAT): a name is a
 * string of 1-63 of A-Z a-z 0-9 . _ -, quoted escaped in the message. what
 * says where it was ("config key"). */
static int take_name(char *dst, const msgpack_object *o, const char *what, char *errbuf)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: a %s is not a string", what);
    if (!is_name(o->via.str.ptr, o->via.str.size)) {
        char esc[SS_ESCAPE_SIZE];
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: %s '%s' is not a name (1-%d of A-Z a-z "
                       "0-9 . _ -)", what, ss_escape(esc, sizeof(esc), o->via.str.ptr,
                                                     o->via.str.size < 64 ? o->via.str.size : 64),
                       MODELFILE_NAME_MAX - 1);
    }
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return SS_OK;
}

/* Refuses a key of map that is not one of known[0..n) (n <= 8) or comes
 * twice; where names the map in the message. */
static int check_fixed_keys(const msgpack_object *map, const char *const *known, size_t n,
                            const char *where, char *errbuf)
{
    unsigned seen = 0;
    for (uint32_t k = 0; k < map->via.map.size; k++) {
        const msgpack_object *key = &map->via.map.ptr[k].key;
        size_t j = 0;
        while (j < n && !str_eq(key, known[j]))
            j++;
        if (j == n) {
            char esc[SS_ESCAPE_SIZE];
            if (key->type != MSGPACK_OBJECT_STR)
                return ss_errf(errbuf, SS_ERR_FORMAT, "model: %s has a key that is not a "
                               "string", where);
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: unknown key '%s' in %s",
                           ss_escape(esc, sizeof(esc), key->via.str.ptr,
                                     key->via.str.size < 64 ? key->via.str.size : 64),
                           where);
        }
        if (seen & 1u << j)
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: key '%s' repeated in %s", known[j],
                           where);
        seen |= 1u << j;
    }
    return SS_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Refuses a name that comes twice among names[0..n) (sorted in place): n log n. */
static int check_repeats(const char **names, size_t n, const char *what, char *errbuf)
{
    qsort(names, n, sizeof(*names), cmp_names);
    for (size_t k = 1; k < n; k++)
        if (!strcmp(names[k - 1], names[k]))
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: %s '%s' repeated", what, names[k]);
    return SS_OK;
}

/* The bytes every version-1 file starts with after its map header. */
static const char mf_prefix[] = "\xa5" "magic" "\xaf" MODELFILE_MAGIC;

/* Whether buf (len bytes) could be the start of a model file, judged from as
 * many bytes as there are: a map header followed by the magic pair. */
static int looks_like_model(const unsigned char *buf, size_t len)
{
    if (len == 0)
        return 0;
    size_t hdr;
    if (buf[0] >= 0x80 && buf[0] <= 0x8f)
        hdr = 1;
    else if (buf[0] == 0xde)
        hdr = 3;
    else if (buf[0] == 0xdf)
        hdr = 5;
    else
        return 0;
    size_t plen = sizeof(mf_prefix) - 1;
    if (len <= hdr)
        return 1;
    size_t m = len - hdr < plen ? len - hdr : plen;
    return !memcmp(buf + hdr, mf_prefix, m);
}

static uint64_t be_uint(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int k = 0; k < n; k++)
        v = v << 8 | p[k];
    return v;
}

/* Walks the msgpack object at d (len bytes) without building it, so that the
 * sizes it declares are checked against the bytes there are before msgpack-c
 * allocates anything: a container of n entries needs at least n bytes (a map
 * 2n), a string or bin of n bytes needs n, nesting is at most
 * MODELFILE_MAX_DEPTH. On success *end is the offset just past the object.
 * Returns 0, SS_ERR_TRUNCATED (the bytes end first) or SS_ERR_FORMAT. */
static int check_sizes(const unsigned char *d, size_t len, size_t *end, char *errbuf)
{
    uint64_t left[MODELFILE_MAX_DEPTH + 1]; /* objects still to read at each level */
    int depth = 0;
    size_t at = 0;
    left[0] = 1;
    for (;;) {
        while (depth >= 0 && left[depth] == 0)
            depth--;
        if (depth < 0)
            break;
        left[depth]--;
        if (at >= len)
            return ss_errf(errbuf, SS_ERR_TRUNCATED, "truncated model file (%zu bytes)", len);
        unsigned c = d[at++];
        uint64_t body = 0, items = 0; /* bytes of payload; child objects */
        int hdr = 0, mult = 1;        /* bytes of length field; 2 for a map */
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
            ;
        else if (c >= 0x80 && c <= 0x8f) {
            items = c & 0x0f;
            mult = 2;
        } else if (c >= 0x90 && c <= 0x9f)
            items = c & 0x0f;
        else if (c >= 0xa0 && c <= 0xbf)
            body = c & 0x1f;
        else if (c == 0xc1)
            return ss_errf(errbuf, SS_ERR_FORMAT, "not a stepstone model (byte 0xc1 at %zu)",
                           at - 1);
        else if (c == 0xc4 || c == 0xd9)
            hdr = 1;
        else if (c == 0xc5 || c == 0xda)
            hdr = 2;
        else if (c == 0xc6 || c == 0xdb)
            hdr = 4;
        else if (c >= 0xc7 && c <= 0xc9) { /* ext 8/16/32: length, type byte, data */
            hdr = 1 << (c - 0xc7);
            body = 1;
        } else if (c == 0xca)
            body = 4;
        else if (c == 0xcb)
            body = 8;
        else if (c >= 0xcc && c <= 0xcf)
            body = 1u << (c - 0xcc);
        else if (c >= 0xd0 && c <= 0xd3)
            body = 1u << (c - 0xd0);
        else if (c >= 0xd4 && c <= 0xd8) /* fixext: type byte and 1..16 bytes */
            body = 1 + (1u << (c - 0xd4));
        else if (c == 0xdc || c == 0xde) {
            hdr = 2;
            mult = c == 0xde ? 2 : 1;
        } else { /* 0xdd, 0xdf */
            hdr = 4;
            mult = c == 0xdf ? 2 : 1;
        }
        if (len - at < (size_t)hdr)
            return ss_errf(errbuf, SS_ERR_TRUNCATED, "truncated model file (%zu bytes)", len);
        uint64_t n = be_uint(d + at, hdr);
        at += (size_t)hdr;
        if (c >= 0xdc && c <= 0xdf)
            items = n;
        else if (hdr)
            body += n;
        if (body > len - at)
            return ss_errf(errbuf, SS_ERR_TRUNCATED, "truncated model file: %llu bytes "
                           "declared at offset %zu, %zu left", (unsigned long long)body,
                           at, len - at);
        at += (size_t)body;
        if (items == 0)
            continue;
        if (items * mult > len - at)
            return ss_errf(errbuf, SS_ERR_TRUNCATED, "truncated model file: a %s of %llu "
                           "entries at offset %zu, %zu bytes left", mult == 2 ? "map" : "array",
                           (unsigned long long)items, at, len - at);
        if (depth == MODELFILE_MAX_DEPTH)
            return ss_errf(errbuf, SS_ERR_FORMAT, "model file nested more than %d deep",
                           MODELFILE_MAX_DEPTH);
        left[++depth] = items * mult;
    }
    *end = at;
    return SS_OK;
}

static int parse_config(modelfile_t *mf, const msgpack_object *cfg, char *errbuf)
{
    if (!cfg || cfg->type != MSGPACK_OBJECT_MAP)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: 'config' missing or not a map");
    uint32_t n = cfg->via.map.size;
    if (n > MODELFILE_MAX_KEYS)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: %u config keys, at most %d", n,
                       MODELFILE_MAX_KEYS);
    for (uint32_t k = 0; k < n; k++) {
        const msgpack_object *val = &cfg->via.map.ptr[k].val;
        char name[MODELFILE_NAME_MAX];
        int rc = take_name(name, &cfg->via.map.ptr[k].key, "config key", errbuf);
        if (rc)
            return rc;
        if (val->type == MSGPACK_OBJECT_STR) {
            if (memchr(val->via.str.ptr, 0, val->via.str.size))
                return ss_errf(errbuf, SS_ERR_FORMAT, "model: config '%s' holds a NUL", name);
            if ((rc = set_str_n(mf, name, val->via.str.ptr, val->via.str.size, 0, errbuf)))
                return rc;
            continue;
        }
        if (val->type == MSGPACK_OBJECT_POSITIVE_INTEGER && val->via.u64 > (uint64_t)INT64_MAX)
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: config '%s' out of range", name);
        if (val->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
            val->type != MSGPACK_OBJECT_NEGATIVE_INTEGER && val->type != MSGPACK_OBJECT_FLOAT32 &&
            val->type != MSGPACK_OBJECT_FLOAT64)
            return ss_errf(errbuf, SS_ERR_FORMAT,
                           "model: config '%s' is not an int, float or string", name);
        modelfile_entry *e = entry_slot(mf, name, 0);
        if (!e)
            return ss_errf(errbuf, SS_ERR_NOMEM, "model: out of memory");
        if (val->type == MSGPACK_OBJECT_FLOAT32 || val->type == MSGPACK_OBJECT_FLOAT64) {
            e->type = MODELFILE_FLOAT;
            e->f = val->via.f64;
        } else {
            e->type = MODELFILE_INT;
            e->i = val->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)val->via.u64
                                                                : val->via.i64;
        }
    }
    const char *names[MODELFILE_MAX_KEYS];
    for (size_t k = 0; k < mf->n_config; k++)
        names[k] = mf->config[k].key;
    return check_repeats(names, mf->n_config, "config key", errbuf);
}

static int parse_norm(modelfile_t *mf, const msgpack_object *norm, char *errbuf)
{
    if (!norm || norm->type != MSGPACK_OBJECT_MAP)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: 'norm' missing or not a map");
    uint32_t n = norm->via.map.size;
    if (n > MODELFILE_MAX_KEYS)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: %u normalisation arrays, at most %d", n,
                       MODELFILE_MAX_KEYS);
    for (uint32_t k = 0; k < n; k++) {
        const msgpack_object *val = &norm->via.map.ptr[k].val;
        char name[MODELFILE_NAME_MAX];
        int rc = take_name(name, &norm->via.map.ptr[k].key, "normalisation array name", errbuf);
        if (rc)
            return rc;
        if (val->type != MSGPACK_OBJECT_ARRAY)
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: array '%s' is not an array", name);
        size_t m = val->via.array.size;
        float *tmp = malloc(m ? m * sizeof(float) : 1);
        if (!tmp)
            return ss_errf(errbuf, SS_ERR_NOMEM, "model: out of memory");
        for (size_t j = 0; j < m; j++) {
            const msgpack_object *x = &val->via.array.ptr[j];
            if (x->type != MSGPACK_OBJECT_FLOAT32 && x->type != MSGPACK_OBJECT_FLOAT64) {
                free(tmp);
                return ss_errf(errbuf, SS_ERR_FORMAT, "model: array '%s' holds a non-float",
                               name);
            }
            tmp[j] = (float)x->via.f64;
        }
        rc = set_norm(mf, name, tmp, m, 0, errbuf);
        free(tmp);
        if (rc)
            return rc;
    }
    const char *names[MODELFILE_MAX_KEYS];
    for (size_t k = 0; k < mf->n_norm; k++)
        names[k] = mf->norm[k].name;
    return check_repeats(names, mf->n_norm, "array", errbuf);
}

static const char *const tensor_keys[] = {"name", "shape", "data"};

static int parse_tensors(modelfile_t *mf, const msgpack_object *ts, char *errbuf)
{
    if (!ts || ts->type != MSGPACK_OBJECT_ARRAY)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: 'tensors' missing or not an array");
    if (ts->via.array.size == 0)
        return ss_errf(errbuf, SS_ERR_EMPTY, "model: no tensors");
    if (ts->via.array.size > MODELFILE_MAX_KEYS)
        return ss_errf(errbuf, SS_ERR_FORMAT, "model: %u tensors, at most %d",
                       ts->via.array.size, MODELFILE_MAX_KEYS);
    int rc = params_create(&mf->params, errbuf);
    if (rc)
        return rc;
    /* pass 1: declare names and shapes, checking the data length */
    for (uint32_t k = 0; k < ts->via.array.size; k++) {
        const msgpack_object *t = &ts->via.array.ptr[k];
        if (t->type != MSGPACK_OBJECT_MAP)
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: tensor %u is not a map", k);
        char where[32];
        snprintf(where, sizeof(where), "tensor %u", k);
        if ((rc = check_fixed_keys(t, tensor_keys, 3, where, errbuf)))
            return rc;
        const msgpack_object *nm = map_get(t, "name"), *sh = map_get(t, "shape");
        const msgpack_object *da = map_get(t, "data");
        char name[PARAMS_NAME_MAX];
        if (!nm)
            return ss_errf(errbuf, SS_ERR_FORMAT, "model: tensor %u has no name", k);
        if ((rc = take_name(name, nm, "tensor name", errbuf)))
            return rc;
        if (!sh || sh->type != MSGPACK_OBJECT_ARRAY || sh->via.array.size < 1 ||
            sh->via.array.size > PARAMS_MAX_DIMS)
            return ss_errf(errbuf, SS_ERR_SHAPE, "model: tensor '%s' has a bad shape", name);
        size_t shape[PARAMS_MAX_DIMS];
        for (uint32_t d = 0; d < sh->via.array.size; d++) {
            const msgpack_object *x = &sh->via.array.ptr[d];
            if (x->type != MSGPACK_OBJECT_POSITIVE_INTEGER || x->via.u64 == 0 ||
                x->via.u64 > ((uint64_t)1 << 31))
                return ss_errf(errbuf, SS_ERR_SHAPE, "model: tensor '%s' has a bad dimension",
                               name);
            shape[d] = (size_t)x->via.u64;
        }
        rc = params_add(mf->params, name, (int)sh->via.array.size, shape, 0, errbuf);
        if (rc < 0)
            return ss_errf(errbuf, rc == SS_ERR_NOMEM ? rc : SS_ERR_FORMAT,
                           "model: tensor '%s': %s", name,
                           rc == SS_ERR_NOMEM ? "out of memory" : "duplicate or bad shape");
        const params_tensor *pt = &mf->params->tensors[rc];
        if (!da || da->type != MSGPACK_OBJECT_BIN || da->via.bin.size != pt->size * 4) {
            char s[96];
            params_shape_string(pt, s, sizeof(s));
            return ss_errf(errbuf, SS_ERR_SHAPE,
                           "model: tensor '%s' of shape %s needs %zu data bytes, found %zu",
                           name, s, pt->size * 4,
                           da && da->type == MSGPACK_OBJECT_BIN ? (size_t)da->via.bin.size
                                                                 : (size_t)0);
        }
    }
    rc = params_alloc(mf->params, errbuf);
    if (rc)
        return rc;
    /* pass 2: the values, little-endian float32 */
    int le = host_is_le();
    for (uint32_t k = 0; k < ts->via.array.size; k++) {
        const params_tensor *pt = &mf->params->tensors[k];
        const unsigned char *src = (const unsigned char *)map_get(&ts->via.array.ptr[k],
                                                                  "data")->via.bin.ptr;
        float *dst = mf->params->data + pt->offset;
        if (le) {
            memcpy(dst, src, pt->size * 4);
        } else {
            for (size_t j = 0; j < pt->size; j++) {
                uint32_t u = (uint32_t)src[4 * j] | (uint32_t)src[4 * j + 1] << 8 |
                             (uint32_t)src[4 * j + 2] << 16 | (uint32_t)src[4 * j + 3] << 24;
                memcpy(&dst[j], &u, 4);
            }
        }
    }
    return SS_OK;
}

static const char *const body_keys[] = {"magic", "version", "kind", "config", "norm",
                                        "tensors"};

int modelfile_load_buffer(modelfile_t **out, const void *buf, size_t len, char *errbuf)
{
    *out = NULL;
    const char *data = buf;
    if (len == 0)
        return ss_errf(errbuf, SS_ERR_EMPTY, "empty file: not a stepstone model");
    if (!looks_like_model((const unsigned char *)data, len))
        return ss_errf(errbuf, SS_ERR_FORMAT, "not a stepstone model (no '%s' header)",
                       MODELFILE_MAGIC);
    msgpack_unpacked body, tail;
    msgpack_unpacked_init(&body);
    msgpack_unpacked_init(&tail);
    modelfile_t *mf = NULL;
    size_t off = 0, end = 0;
    int rc;
    /* every size the body declares is checked before msgpack-c allocates */
    if ((rc = check_sizes((const unsigned char *)data, len, &end, errbuf)))
        goto done;
    msgpack_unpack_return ur = msgpack_unpack_next(&body, data, len, &off);
    if (ur == MSGPACK_UNPACK_CONTINUE) {
        rc = ss_errf(errbuf, SS_ERR_TRUNCATED, "truncated model file (%zu bytes)", len);
        goto done;
    }
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        rc = ss_errf(errbuf, SS_ERR_NOMEM, "model file: out of memory");
        goto done;
    }
    if (ur < 0 || body.data.type != MSGPACK_OBJECT_MAP || off != end) {
        rc = ss_errf(errbuf, SS_ERR_FORMAT, "not a stepstone model (not msgpack)");
        goto done;
    }
    const msgpack_object *root = &body.data;
    const msgpack_object *magic = map_get(root, "magic");
    if (!magic || !str_eq(magic, MODELFILE_MAGIC)) {
        rc = ss_errf(errbuf, SS_ERR_FORMAT, "not a stepstone model (bad magic)");
        goto done;
    }
    const msgpack_object *ver = map_get(root, "version");
    if (!ver || ver->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        rc = ss_errf(errbuf, SS_ERR_FORMAT, "model file has no format version");
        goto done;
    }
    if (ver->via.u64 != MODELFILE_VERSION) {
        rc = ss_errf(errbuf, SS_ERR_VERSION, "model file is version %llu, this build reads version %d",
                     (unsigned long long)ver->via.u64, MODELFILE_VERSION);
        goto done;
    }
    size_t body_len = off;
    if (off == len) {
        rc = ss_errf(errbuf, SS_ERR_TRUNCATED, "truncated model file (checksum missing)");
        goto done;
    }
    /* the checksum: a positive int of at most 9 bytes, so nothing to allocate */
    unsigned char t0 = (unsigned char)data[off];
    if (!(t0 <= 0x7f || (t0 >= 0xcc && t0 <= 0xcf))) {
        rc = ss_errf(errbuf, SS_ERR_FORMAT, "model file: bad checksum field");
        goto done;
    }
    ur = msgpack_unpack_next(&tail, data, len, &off);
    if (ur == MSGPACK_UNPACK_CONTINUE) {
        rc = ss_errf(errbuf, SS_ERR_TRUNCATED, "truncated model file (checksum cut)");
        goto done;
    }
    if (ur < 0 || tail.data.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        rc = ss_errf(errbuf, SS_ERR_FORMAT, "model file: bad checksum field");
        goto done;
    }
    if (off != len) {
        rc = ss_errf(errbuf, SS_ERR_FORMAT, "model file: %zu stray bytes after the checksum",
                     len - off);
        goto done;
    }
    uint64_t want = tail.data.via.u64, got = modelfile_fnv1a64(data, body_len);
    if (want != got) {
        rc = ss_errf(errbuf, SS_ERR_CHECKSUM,
                     "model file checksum mismatch (stored %016llx, computed %016llx): corrupt",
                     (unsigned long long)want, (unsigned long long)got);
        goto done;
    }
    if ((rc = check_fixed_keys(root, body_keys, 6, "the model's top map", errbuf)))
        goto done;
    const msgpack_object *kind = map_get(root, "kind");
    char kbuf[MODELFILE_NAME_MAX];
    if (!kind) {
        rc = ss_errf(errbuf, SS_ERR_FORMAT, "model file: 'kind' missing");
        goto done;
    }
    if ((rc = take_name(kbuf, kind, "kind", errbuf)))
        goto done;
    rc = modelfile_create(&mf, kbuf, errbuf);
    if (rc)
        goto done;
    rc = parse_config(mf, map_get(root, "config"), errbuf);
    if (!rc)
        rc = parse_norm(mf, map_get(root, "norm"), errbuf);
    if (!rc)
        rc = parse_tensors(mf, map_get(root, "tensors"), errbuf);
done:
    msgpack_unpacked_destroy(&body);
    msgpack_unpacked_destroy(&tail);
    if (rc) {
        modelfile_destroy(mf);
        return rc;
    }
    *out = mf;
    mf->id = modelfile_fnv1a64(buf, len);
    return SS_OK;
}

/* Reads the whole file at path, at most MODELFILE_MAX_BYTES, into a new buffer
 * *out of *out_len bytes (the caller frees it). Returns 0, or SS_ERR_IO,
 * SS_ERR_NOMEM or SS_ERR_FORMAT (too large) with "PATH: why" in errbuf. A
 * FIFO with no writer is refused, not waited for (src/infile.h). */
static int read_file(const char *path, unsigned char **out, size_t *out_len, char *errbuf)
{
    *out = NULL;
    *out_len = 0;
    FILE *f;
    int orc = infile_open(&f, path, NULL, 0, errbuf);
    if (orc)
        return orc;
    struct stat st;
    int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (regular && (uintmax_t)st.st_size > (uintmax_t)MODELFILE_MAX_BYTES) {
        fclose(f);
        return ss_errf(errbuf, SS_ERR_FORMAT, "%s: too large for a model file (%jd bytes, at "
                       "most %zu)", path, (intmax_t)st.st_size, MODELFILE_MAX_BYTES);
    }
    /* a regular file in one read; anything else (a pipe) grows the buffer up to
     * one byte past the cap, which a file too large fills */
    size_t cap = regular ? (size_t)st.st_size + 1 : (size_t)1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    int rc = SS_OK;
    if (!buf) {
        fclose(f);
        return ss_errf(errbuf, SS_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (len == cap) {
            if (cap > MODELFILE_MAX_BYTES) {
                rc = ss_errf(errbuf, SS_ERR_FORMAT, "%s: too large for a model file (more "
                             "than %zu bytes)", path, MODELFILE_MAX_BYTES);
                break;
            }
            size_t ncap = cap > MODELFILE_MAX_BYTES / 2 ? MODELFILE_MAX_BYTES + 1 : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = ss_errf(errbuf, SS_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) {
            if (ferror(f))
                rc = ss_errf(errbuf, SS_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return SS_OK;
}

int modelfile_load(modelfile_t **out, const char *path, char *errbuf)
{
    *out = NULL;
    unsigned char *buf;
    size_t len;
    int rc = read_file(path, &buf, &len, errbuf);
    if (rc)
        return rc;
    char msg[SS_ERRBUF_SIZE];
    rc = modelfile_load_buffer(out, buf, len, msg);
    if (rc)
        ss_errf(errbuf, rc, "%s: %s", path, msg);
    free(buf);
    return rc;
}

int modelfile_build(void *out, modelfile_build_fn build, const char *path, const void *buf,
                    size_t len, char *errbuf)
{
    modelfile_t *mf;
    int rc = path ? modelfile_load(&mf, path, errbuf)
                  : modelfile_load_buffer(&mf, buf, len, errbuf);
    if (rc)
        return rc;
    char sub[SS_ERRBUF_SIZE];
    if ((rc = build(out, mf, path ? sub : errbuf)) && path)
        ss_errf(errbuf, rc, "%s: %s", path, sub);
    modelfile_destroy(mf);
    return rc;
}

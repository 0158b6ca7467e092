/* embedlog.c - writes connections' window embeddings; see embedlog.h. */
#include "embedlog.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connlog.h"
#include "status.h"

struct embedlog {
    FILE *out;                  /* the caller's output */
    const char *path;           /* its name, for messages and the parts */
    int jsonl;
    const encoder *enc;
    char idhex[17];
    FILE *conns, *wins, *vecs;  /* msgpack parts (unlinked temporary files) */
    msgpack_packer pk_conns, pk_wins;
    size_t n_conns;             /* connections announced */
    size_t n_announced;         /* windows announced with them */
    size_t n_wins;              /* windows written */
};

/* Packs a C string as a msgpack str; nonzero on a write error. */
static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

/* msgpack write callback onto a FILE. */
static int file_write(void *data, const char *buf, size_t len)
{
    return fwrite(buf, 1, len, (FILE *)data) == len ? 0 : -1;
}

/* 1 on a little-endian host (the vectors are stored little-endian). */
static int host_is_le(void)
{
    const uint16_t x = 1;
    return *(const uint8_t *)&x == 1;
}

/* Reports a failed write to the output or a part of it. */
static int write_fail(const embedlog *l, char *errbuf)
{
    return ss_errf(errbuf, SS_ERR_IO, "cannot write %s: %s", l->path,
                   errno ? strerror(errno) : "write error");
}

/* Creates an unlinked temporary file beside path (removed by the system when
 * closed, whatever happens). */
static FILE *temp_part(const char *path, char *errbuf)
{
    size_t tl = strlen(path) + 16;
    char *tmp = malloc(tl);
    if (!tmp) {
        ss_errf(errbuf, SS_ERR_NOMEM, "cannot create %s: out of memory", path);
        return NULL;
    }
    snprintf(tmp, tl, "%s.part.XXXXXX", path);
    FILE *f = NULL;
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        unlink(tmp);
        f = fdopen(fd, "w+");
        if (!f)
            close(fd);
    }
    if (!f)
        ss_errf(errbuf, SS_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    free(tmp);
    return f;
}

/* Appends the whole of part to out. */
static int copy_part(FILE *out, FILE *part)
{
    char buf[1 << 16];
    if (fflush(part) != 0 || ferror(part) || fseek(part, 0, SEEK_SET) != 0)
        return -1;
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), part)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            return -1;
    return ferror(part) ? -1 : 0;
}

int embedlog_create(embedlog **out, FILE *f, const char *path, int format, const encoder *enc,
                    char *errbuf)
{
    *out = NULL;
    embedlog *l = calloc(1, sizeof(*l));
    if (!l)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory");
    l->out = f;
    l->path = path;
    l->jsonl = format == EMBEDLOG_FORMAT_JSONL;
    l->enc = enc;
    snprintf(l->idhex, sizeof(l->idhex), "%016llx", (unsigned long long)enc->id);
    const connfeat_config *fc = &enc->cfg.feat;
    if (l->jsonl) {
        fprintf(f, "{\"type\":\"model\",\"format\":\"%s\",\"version\":%d,\"model_id\":\"%s\","
                   "\"dim\":%d,\"features\":\"%s\",\"window\":%.6f,\"stride\":%.6f}\n",
                EMBEDLOG_FORMAT_NAME, EMBEDLOG_VERSION, l->idhex, enc->cfg.dim,
                connfeat_kind_to_string(fc->kind), (double)fc->window_us / 1e6,
                (double)fc->stride_us / 1e6);
    } else {
        if (!(l->conns = temp_part(path, errbuf)) || !(l->wins = temp_part(path, errbuf)) ||
            !(l->vecs = temp_part(path, errbuf))) {
            embedlog_destroy(l);
            return SS_ERR_IO;
        }
        msgpack_packer_init(&l->pk_conns, l->conns, file_write);
        msgpack_packer_init(&l->pk_wins, l->wins, file_write);
    }
    *out = l;
    return SS_OK;
}

int embedlog_add_conn(embedlog *l, const conntab_record *c, size_t n_windows, uint32_t *conn,
                      char *errbuf)
{
    if (l->n_conns >= UINT32_MAX)
        return ss_errf(errbuf, SS_ERR_ARG, "more than %u connections", (unsigned)UINT32_MAX);
    if (!l->jsonl) {
        char a[CONNLOG_ADDR_SIZE], b[CONNLOG_ADDR_SIZE];
        msgpack_packer *pk = &l->pk_conns;
        connlog_format_addr(a, c->family, c->orig_h);
        connlog_format_addr(b, c->family, c->resp_h);
        int rc = msgpack_pack_map(pk, 10);
        rc |= pack_str(pk, "uid") | pack_str(pk, c->uid);
        rc |= pack_str(pk, "proto") | msgpack_pack_int(pk, c->proto);
        rc |= pack_str(pk, "orig_h") | pack_str(pk, a);
        rc |= pack_str(pk, "orig_p") | msgpack_pack_int(pk, c->orig_p);
        rc |= pack_str(pk, "resp_h") | pack_str(pk, b);
        rc |= pack_str(pk, "resp_p") | msgpack_pack_int(pk, c->resp_p);
        rc |= pack_str(pk, "start") | msgpack_pack_double(pk, (double)c->start_us / 1e6);
        rc |= pack_str(pk, "end") | msgpack_pack_double(pk, (double)c->end_us / 1e6);
        rc |= pack_str(pk, "first_window") | msgpack_pack_uint64(pk, l->n_announced);
        rc |= pack_str(pk, "n_windows") | msgpack_pack_uint64(pk, n_windows);
        if (rc)
            return write_fail(l, errbuf);
    }
    l->n_announced += n_windows;
    *conn = (uint32_t)l->n_conns++;
    return SS_OK;
}

/* Writes windows as JSON lines. */
static int add_jsonl(embedlog *l, const conntab_record *hdr, const uint32_t *conn,
                     const int64_t *w0, const int *n_data, const float *emb, int n,
                     char *errbuf)
{
    const int E = l->enc->cfg.dim;
    const double W = (double)l->enc->cfg.feat.window_us / 1e6;
    char a[CONNLOG_ADDR_SIZE], b[CONNLOG_ADDR_SIZE];
    for (int k = 0; k < n; k++) {
        const conntab_record *c = &hdr[k];
        connlog_format_addr(a, c->family, c->orig_h);
        connlog_format_addr(b, c->family, c->resp_h);
        fprintf(l->out, "{\"type\":\"window\",\"conn\":%u,\"uid\":\"%s\",\"orig_h\":\"%s\","
                        "\"orig_p\":%u,\"resp_h\":\"%s\",\"resp_p\":%u,\"proto\":%u,"
                        "\"start\":%.6f,\"end\":%.6f,\"window_start\":%.6f,\"window_end\":%.6f,"
                        "\"n_data\":%d,\"vector\":[",
                conn[k], c->uid, a, c->orig_p, b, c->resp_p, c->proto,
                (double)c->start_us / 1e6, (double)c->end_us / 1e6, (double)w0[k] / 1e6,
                (double)w0[k] / 1e6 + W, n_data[k]);
        for (int e = 0; e < E; e++)
            fprintf(l->out, "%s%.7g", e ? "," : "", emb[k * E + e]);
        if (fputs("]}\n", l->out) == EOF)
            return write_fail(l, errbuf);
    }
    return ferror(l->out) ? write_fail(l, errbuf) : SS_OK;
}

/* Appends window entries and vectors to the msgpack parts. */
static int add_msgpack(embedlog *l, const uint32_t *conn, const int64_t *w0, const int *n_data,
                       float *emb, int n, char *errbuf)
{
    const int E = l->enc->cfg.dim;
    const double W = (double)l->enc->cfg.feat.window_us / 1e6;
    int rc = 0;
    for (int k = 0; k < n && !rc; k++) {
        rc |= msgpack_pack_array(&l->pk_wins, 4);
        rc |= msgpack_pack_uint32(&l->pk_wins, conn[k]);
        rc |= msgpack_pack_double(&l->pk_wins, (double)w0[k] / 1e6);
        rc |= msgpack_pack_double(&l->pk_wins, (double)w0[k] / 1e6 + W);
        rc |= msgpack_pack_int(&l->pk_wins, n_data[k]);
    }
    /* vectors: float32 little-endian, row k = window k */
    size_t nf = (size_t)n * (size_t)E;
    if (!host_is_le())
        for (size_t k = 0; k < nf; k++) {
            uint32_t u;
            memcpy(&u, &emb[k], 4);
            u = __builtin_bswap32(u);
            memcpy(&emb[k], &u, 4);
        }
    if (rc || fwrite(emb, sizeof(float), nf, l->vecs) != nf)
        return write_fail(l, errbuf);
    return SS_OK;
}

int embedlog_add_windows(embedlog *l, const conntab_record *hdr, const uint32_t *conn,
                         const int64_t *w0, const int *n_data, float *emb, int n, char *errbuf)
{
    int rc = l->jsonl ? add_jsonl(l, hdr, conn, w0, n_data, emb, n, errbuf)
                      : add_msgpack(l, conn, w0, n_data, emb, n, errbuf);
    l->n_wins += (size_t)n;
    return rc;
}

int embedlog_finish(embedlog *l, char *errbuf)
{
    if (l->jsonl)
        return SS_OK;
    const connfeat_config *fc = &l->enc->cfg.feat;
    const int E = l->enc->cfg.dim;
    size_t bytes = l->n_wins * (size_t)E * 4;
    if (l->n_wins > UINT32_MAX || bytes > UINT32_MAX)
        return ss_errf(errbuf, SS_ERR_ARG,
                       "%zu windows do not fit one msgpack file (4 GiB of vectors at most); "
                       "use --format jsonl or --max-windows", l->n_wins);
    msgpack_packer pk;
    msgpack_packer_init(&pk, l->out, file_write);
    int rc = msgpack_pack_map(&pk, 7);
    rc |= pack_str(&pk, "format") | pack_str(&pk, EMBEDLOG_FORMAT_NAME);
    rc |= pack_str(&pk, "version") | msgpack_pack_int(&pk, EMBEDLOG_VERSION);
    rc |= pack_str(&pk, "model") | msgpack_pack_map(&pk, 5);
    rc |= pack_str(&pk, "id") | pack_str(&pk, l->idhex);
    rc |= pack_str(&pk, "features") | pack_str(&pk, connfeat_kind_to_string(fc->kind));
    rc |= pack_str(&pk, "window") | msgpack_pack_double(&pk, (double)fc->window_us / 1e6);
    rc |= pack_str(&pk, "stride") | msgpack_pack_double(&pk, (double)fc->stride_us / 1e6);
    rc |= pack_str(&pk, "threshold") | msgpack_pack_double(&pk, l->enc->threshold);
    rc |= pack_str(&pk, "dim") | msgpack_pack_int(&pk, E);
    rc |= pack_str(&pk, "connections") | msgpack_pack_array(&pk, l->n_conns);
    if (rc || copy_part(l->out, l->conns))
        return write_fail(l, errbuf);
    rc = pack_str(&pk, "windows") | msgpack_pack_array(&pk, l->n_wins);
    if (rc || copy_part(l->out, l->wins))
        return write_fail(l, errbuf);
    rc = pack_str(&pk, "vectors") | msgpack_pack_bin(&pk, bytes);
    if (rc || copy_part(l->out, l->vecs))
        return write_fail(l, errbuf);
    return SS_OK;
}

void embedlog_get_stats(const embedlog *l, embedlog_stats *st)
{
    st->conns = l->n_conns;
    st->windows = l->n_wins;
}

const char *embedlog_model_id(const embedlog *l)
{
    return l->idhex;
}

void embedlog_destroy(embedlog *l)
{
    if (!l)
        return;
    if (l->conns)
        fclose(l->conns);
    if (l->wins)
        fclose(l->wins);
    if (l->vecs)
        fclose(l->vecs);
    free(l);
}

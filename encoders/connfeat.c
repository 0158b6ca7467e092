/* connfeat.c - model input from a connection record and a time window; see
 * connfeat.h. */
#include "connfeat.h"

#include <math.h>
#include <string.h>

#include "packet.h"
#include "status.h"

void connfeat_config_default(connfeat_config *cfg, int kind)
{
    cfg->kind = kind;
    cfg->window_us = 8000000;
    cfg->stride_us = 4000000;
    cfg->steps = kind == CONNFEAT_KIND_BINS ? 128 : 96;
    cfg->max_windows = 6;
}

int connfeat_config_check(const connfeat_config *cfg, char *errbuf)
{
    if (cfg->kind != CONNFEAT_KIND_SEQ && cfg->kind != CONNFEAT_KIND_BINS)
        return ss_errf(errbuf, SS_ERR_ARG, "features: unknown kind %d", cfg->kind);
    if (cfg->window_us <= 0 || cfg->stride_us <= 0 || cfg->stride_us > cfg->window_us)
        return ss_errf(errbuf, SS_ERR_ARG,
                       "features: window %lld us and stride %lld us must satisfy 0 < S <= W",
                       (long long)cfg->window_us, (long long)cfg->stride_us);
    if (cfg->steps < 1 || cfg->steps > 4096)
        return ss_errf(errbuf, SS_ERR_ARG, "features: %d steps per window (1..4096)", cfg->steps);
    if (cfg->kind == CONNFEAT_KIND_BINS && cfg->window_us % cfg->steps)
        return ss_errf(errbuf, SS_ERR_ARG, "features: window %lld us is not a multiple of %d bins",
                       (long long)cfg->window_us, cfg->steps);
    if (cfg->max_windows < 1 || cfg->max_windows > 1024)
        return ss_errf(errbuf, SS_ERR_ARG, "features: %d windows per hop (1..1024)",
                       cfg->max_windows);
    return SS_OK;
}

const char *connfeat_kind_to_string(int kind)
{
    switch (kind) {
    case CONNFEAT_KIND_SEQ: return "seq";
    case CONNFEAT_KIND_BINS: return "bins";
    default: return NULL;
    }
}

int connfeat_kind_from_string(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "seq"))
        return CONNFEAT_KIND_SEQ;
    if (!strcmp(s, "bins"))
        return CONNFEAT_KIND_BINS;
    return -1;
}

int64_t connfeat_window_start(const connfeat_config *cfg, int64_t g)
{
    return g * cfg->stride_us;
}

int64_t connfeat_first_window(const connfeat_config *cfg, int64_t t_us)
{
    int64_t g = t_us / cfg->stride_us;
    if (t_us < 0 && g * cfg->stride_us != t_us)
        g--;
    return g;
}

/* Index of the first stored packet at or after absolute time t_us. */
static uint32_t first_at(const conntab_record *rec, int64_t t_us)
{
    int64_t rel = t_us - rec->start_us;
    uint32_t lo = 0, hi = rec->n_pkts;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (rec->pkts[mid].dt_us < rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int is_control(const conntab_pkt *p)
{
    return (p->tcp_flags & (PACKET_TCP_SYN | PACKET_TCP_FIN | PACKET_TCP_RST)) != 0;
}

int connfeat_window(float *x, int *n_data, const conntab_record *rec, int64_t w0_us,
                    const connfeat_config *cfg)
{
    const int T = cfg->steps, C = CONNFEAT_CHANNELS;
    memset(x, 0, sizeof(float) * (size_t)T * C);
    const int64_t w1_us = w0_us + cfg->window_us;
    int nd = 0;
    uint32_t k = first_at(rec, w0_us);

    if (cfg->kind == CONNFEAT_KIND_BINS) {
        const int64_t bin_us = cfg->window_us / T;
        float *cnt = x; /* counts accumulated raw in place, then log1p */
        for (; k < rec->n_pkts; k++) {
            const conntab_pkt *p = &rec->pkts[k];
            int64_t t = rec->start_us + p->dt_us;
            if (t >= w1_us)
                break;
            if (p->retrans)
                continue;
            int b = (int)((t - w0_us) / bin_us);
            float *row = cnt + (size_t)b * C;
            if (p->payload_len > 0) {
                int up = p->dir == CONNTAB_DIR_RESP;
                row[2 * up] += 1.0f;
                row[2 * up + 1] += (float)p->payload_len;
                nd++;
            }
            if (is_control(p))
                row[4] += 1.0f;
        }
        for (int b = 0; b < T; b++) {
            float *row = x + (size_t)b * C;
            for (int c = 0; c < 5; c++)
                row[c] = log1pf(row[c]);
            int64_t b0 = w0_us + b * bin_us, b1 = b0 + bin_us;
            row[5] = (b1 > rec->start_us && b0 <= rec->end_us) ? 1.0f : 0.0f;
        }
        if (n_data)
            *n_data = nd;
        return T;
    }

    int len = 0;
    int64_t prev = w0_us;
    for (; k < rec->n_pkts && len < T; k++) {
        const conntab_pkt *p = &rec->pkts[k];
        int64_t t = rec->start_us + p->dt_us;
        if (t >= w1_us)
            break;
        if (p->retrans || (p->payload_len == 0 && !is_control(p)))
            continue;
        float *row = x + (size_t)len * C;
        row[0] = p->dir == CONNTAB_DIR_RESP ? -1.0f : 1.0f;
        row[1] = log1pf((float)p->payload_len);
        row[2] = log1pf((float)(t - prev) * 1e-3f);
        row[3] = (float)(t - w0_us) / (float)cfg->window_us;
        row[4] = is_control(p) ? 1.0f : 0.0f;
        prev = t;
        if (p->payload_len > 0)
            nd++;
        len++;
    }
    if (len == 0) {
        x[5] = 1.0f; /* one step saying "nothing here" */
        len = 1;
    }
    if (n_data)
        *n_data = nd;
    return len;
}

int connfeat_window_known(const conntab_record *rec, int64_t w0_us,
                          const connfeat_config *cfg)
{
    if ((uint64_t)rec->n_pkts >= rec->orig_pkts + rec->resp_pkts)
        return 1;
    if (rec->n_pkts == 0)
        return 0;
    int64_t last = rec->start_us + rec->pkts[rec->n_pkts - 1].dt_us;
    return last >= w0_us + cfg->window_us;
}

void connfeat_normalise(float *x, int len, const float *mean, const float *std)
{
    const int C = CONNFEAT_CHANNELS;
    float inv[CONNFEAT_CHANNELS];
    for (int c = 0; c < C; c++)
        inv[c] = std[c] > 1e-6f ? 1.0f / std[c] : 1.0f;
    for (int t = 0; t < len; t++)
        for (int c = 0; c < C; c++)
            x[(size_t)t * C + c] = (x[(size_t)t * C + c] - mean[c]) * inv[c];
}

/* registry.c - the correlation methods by name; see registry.h. */
#include "registry.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "deviation.h"
#include "ipd.h"
#include "lstm_method.h"
#include "status.h"
#include "zhangpaxson.h"

static int random_method_init(method *m, const char *arg, char *errbuf);

/* Adding a method: one line here. */
static const registry_entry registry[] = {
    {"zhang-paxson", "ON/OFF period coincidence (Zhang & Paxson 2000)", zhangpaxson_method_init},
    {"ipd", "inter-packet-delay correlation, min/max sum ratio (Wang, Reeves & Wu 2002)",
     ipd_method_init},
    {"deviation", "delay-shifted deviation of cumulative bytes (Yoda & Etoh 2000)",
     deviation_method_init},
    {"lstm", "learned LSTM window embeddings, dot products (docs/encoder.md)", lstm_method_init},
    {"random", "a random score per pair (the chance floor, for reference)", random_method_init},
    {NULL, NULL, NULL}
};

const registry_entry *registry_methods(void)
{
    return registry;
}

int registry_create(method *m, const char *name, const char *arg, char *errbuf)
{
    memset(m, 0, sizeof(*m));
    for (const registry_entry *r = registry; r->name; r++) {
        if (strcmp(r->name, name))
            continue;
        int rc = r->init(m, arg, errbuf);
        if (rc < 0) {
            memset(m, 0, sizeof(*m));
            return rc;
        }
        snprintf(m->name, sizeof(m->name), "%s", r->name);
        return SS_OK;
    }
    char known[256] = "";
    size_t len = 0;
    for (const registry_entry *r = registry; r->name && len < sizeof(known); r++) {
        int w = snprintf(known + len, sizeof(known) - len, "%s%s", len ? ", " : "", r->name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return ss_errf(errbuf, SS_ERR_ARG, "unknown method '%s' (known: %s)", name, known);
}

/* random: a fixed hash of the two connections' uids, uniform in [0, 1). */
static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int random_score(void *ctx, const connset *set, const candidates_pair *pairs,
                        size_t n, double *scores, char *errbuf)
{
    (void)ctx;
    (void)errbuf;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = fnv1a(0xcbf29ce484222325ULL, connset_get(set, pairs[i].in)->uid);
        h = fnv1a(h ^ 0x9e3779b97f4a7c15ULL, connset_get(set, pairs[i].out)->uid);
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        scores[i] = (double)(h >> 11) / 9007199254740992.0;
    }
    return SS_OK;
}

static int random_method_init(method *m, const char *arg, char *errbuf)
{
    (void)arg;
    (void)errbuf;
    m->threshold = 0.5;
    m->score = random_score;
    return SS_OK;
}

/* registry.h - the correlation methods by name (`stepstone eval --method`).
 *
 * Each method lives in its own file behind one init function (method.h);
 * this module is the only one that knows them all, so a baseline never
 * includes the registry and the registry is the one place to add a method.
 * The registry is static, read-only data.
 */
#ifndef STEPSTONE_REGISTRY_H
#define STEPSTONE_REGISTRY_H

#include "method.h"

/* One registry entry. */
typedef struct registry_entry {
    const char *name;
    const char *summary;   /* one line for --help */
    method_init_fn init;
} registry_entry;

/* The registry, terminated by an entry with a NULL name. */
const registry_entry *registry_methods(void);

/* Creates the method called name (see registry_methods). Returns 0, or
 * SS_ERR_ARG for an unknown name (the message lists the known ones), or the
 * init function's status. On failure *m is zeroed. */
int registry_create(method *m, const char *name, const char *arg, char *errbuf);

#endif

/* threads.c - the thread policy (see threads.h). */
#include "threads.h"

#include <cblas.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS_MAX 1024

int threads_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > THREADS_MAX ? THREADS_MAX : (int)n;
}

int threads_parse(const char *arg, int *n, char *errbuf)
{
    if (!arg || !*arg)
        return ss_errf(errbuf, SS_ERR_ARG, "--threads: missing value");
    if (!strcmp(arg, "auto")) {
        *n = 0;
        return SS_OK;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > THREADS_MAX)
        return ss_errf(errbuf, SS_ERR_ARG, "--threads needs an integer from 1 to %d, got '%s'",
                       THREADS_MAX, arg);
    *n = (int)v;
    return SS_OK;
}

int threads_apply(int n, char *errbuf)
{
    if (n < 0 || n > THREADS_MAX)
        return ss_errf(errbuf, SS_ERR_ARG, "threads: %d not in 0..%d", n, THREADS_MAX);
    openblas_set_num_threads(n ? n : threads_default());
    return SS_OK;
}

int threads_for_batch(int max_threads, int B)
{
    if (max_threads < 1)
        max_threads = threads_default();
    return B <= 1 ? 1 : max_threads;
}

int threads_current(void)
{
    return openblas_get_num_threads();
}

/* threads.h - the process's one thread policy.
 *
 * Policy: stepstone never starts compute threads of its own. The only
 * parallelism is OpenBLAS's own thread pool inside cblas_sgemm, sized once
 * by threads_apply() from the `--threads N` option (default: the number of
 * online cores). Two pools (ours plus OpenBLAS's) on a 2-core machine
 * oversubscribe the cores and made a peer 3-90x slower; one pool cannot.
 * Small GEMMs (batch 1) run faster on one thread: threads_for_batch() says
 * how many to use for a given batch, from measurements in
 * docs/results/lstm-bench.md. See docs/design.md, "Threads".
 *
 * No state is kept here: the thread count lives in OpenBLAS.
 */
#ifndef STEPSTONE_THREADS_H
#define STEPSTONE_THREADS_H

#include "status.h"

/* Number of online cores (at least 1): the default for --threads. */
int threads_default(void);

/* Parses the value of --threads, 1..1024 or "auto" (the default: *n = 0),
 * into *n; SS_ERR_ARG with a message for anything else (0 too: every
 * subcommand takes the same values). */
int threads_parse(const char *arg, int *n, char *errbuf);

/* Sets OpenBLAS's pool to n threads (0: threads_default()); call once at
 * start-up before any GEMM. SS_ERR_ARG if n is out of range. */
int threads_apply(int n, char *errbuf);

/* Threads worth using for LSTM work on a batch of B sequences when the
 * user allowed max_threads: 1 for batch 1 (measured faster), else max. */
int threads_for_batch(int max_threads, int B);

/* Threads OpenBLAS currently uses (to report in logs and benches). */
int threads_current(void);

#endif

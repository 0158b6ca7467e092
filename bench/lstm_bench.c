/* lstm_bench.c - speed of encoders/lstm.c (run by hand through lstm_bench.sh).
 *
 * usage: lstm_bench THREADS [MIN_SECONDS]
 *
 * For a one-layer, one-direction LSTM with input size = hidden size H, over
 * H in {64,128}, T in {64,128}, batch B in {1,32,256} (every sequence of
 * full length T), measures sequences per second of the forward pass and of
 * a training step (forward + backward with input gradients), and the
 * GFLOP/s of cblas_sgemm itself on one (B*T, In+H) x (In+H, 4H) product:
 * the same FLOPs as the LSTM's GEMMs done as one large GEMM, i.e. the best
 * the LSTM could reach. Prints one tab-separated line per shape:
 *   c THREADS H T B fwd_seq_per_s train_seq_per_s fwd_gflops sgemm_gflops
 * Forward FLOPs counted: 2*B*T*4H*(In+H) (the GEMMs only). Each figure is
 * from the fastest of the calls made within MIN_SECONDS (default 0.3).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lstm.h"
#include "rng.h"
#include "threads.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_floats(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "lstm_bench: out of memory (%zu floats)\n", n);
        exit(1);
    }
    return p;
}

/* Everything one shape needs. */
typedef struct bench {
    lstm_config cfg;
    int B, T;
    int *lengths;
    float *params, *dparams, *acts, *ws, *inp, *dinp, *out, *dout;
} bench;

static void bench_run_forward(bench *b)
{
    char err[SS_ERRBUF_SIZE];
    if (lstm_forward(b->out, NULL, b->acts, b->inp, b->lengths, b->params, &b->cfg, b->B, b->T,
                     err)) {
        fprintf(stderr, "lstm_bench: %s\n", err);
        exit(1);
    }
}

static void bench_run_train(bench *b)
{
    char err[SS_ERRBUF_SIZE];
    bench_run_forward(b);
    if (lstm_backward(b->dinp, b->dparams, b->dout, NULL, b->acts, b->ws, b->inp, b->lengths,
                      b->params, &b->cfg, b->B, b->T, err)) {
        fprintf(stderr, "lstm_bench: %s\n", err);
        exit(1);
    }
}

/* Seconds of the fastest call of fn among repeats lasting min_s (after one
 * warm-up call): the best case is the least disturbed by other work on a
 * shared machine. */
static double time_per_call(void (*fn)(bench *), bench *b, double min_s)
{
    fn(b);
    int n = 0;
    double best = 1e30, start = now(), t0, t;
    do {
        t0 = now();
        fn(b);
        t = now() - t0;
        best = t < best ? t : best;
        n++;
    } while (now() - start < min_s || n < 3);
    return best;
}

static double sgemm_gflops(int M, int N, int K, double min_s)
{
    float *a = alloc_floats((size_t)M * K), *w = alloc_floats((size_t)N * K);
    float *c = alloc_floats((size_t)M * N);
    for (size_t k = 0; k < (size_t)M * K; k++)
        a[k] = (float)(k % 7) * 0.1f;
    for (size_t k = 0; k < (size_t)N * K; k++)
        w[k] = (float)(k % 5) * 0.1f;
    /* the LSTM's layout: activations row-major, weights (N,K) read transposed */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, w, K, 1.0f, c, N);
    int n = 0;
    double best = 1e30, start = now(), t0, t;
    do {
        t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, w, K, 1.0f, c,
                    N);
        t = now() - t0;
        best = t < best ? t : best;
        n++;
    } while (now() - start < min_s || n < 3);
    free(a);
    free(w);
    free(c);
    return 2.0 * M * N * K / best / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: lstm_bench THREADS [MIN_SECONDS]\n");
        return 2;
    }
    char err[SS_ERRBUF_SIZE];
    int threads;
    if (threads_parse(argv[1], &threads, err) || threads_apply(threads, err)) {
        fprintf(stderr, "lstm_bench: %s\n", err);
        return 2;
    }
    double min_s = argc > 2 ? atof(argv[2]) : 0.3;
    if (!(min_s > 0 && min_s < 100)) {
        fprintf(stderr, "lstm_bench: MIN_SECONDS must be in (0, 100)\n");
        return 2;
    }
    static const int Hs[] = {64, 128}, Ts[] = {64, 128}, Bs[] = {1, 32, 256};
    printf("# impl\tthreads\tH\tT\tB\tfwd_seq_s\ttrain_seq_s\tfwd_gflops\tsgemm_gflops\n");
    for (int hi = 0; hi < 2; hi++)
        for (int ti = 0; ti < 2; ti++)
            for (int bi = 0; bi < 3; bi++) {
                int H = Hs[hi], T = Ts[ti], B = Bs[bi];
                bench b = {.cfg = {H, H, 1, 0}, .B = B, .T = T};
                rng_t g;
                rng_seed(&g, 1);
                size_t np = lstm_num_params(&b.cfg), nx = (size_t)B * T * H;
                b.lengths = calloc((size_t)B, sizeof(int));
                if (!b.lengths) {
                    fprintf(stderr, "lstm_bench: out of memory\n");
                    return 1;
                }
                for (int k = 0; k < B; k++)
                    b.lengths[k] = T;
                b.params = alloc_floats(np);
                b.dparams = alloc_floats(np);
                b.acts = alloc_floats(lstm_acts_size(&b.cfg, B, T));
                b.ws = alloc_floats(lstm_workspace_size(&b.cfg, B, T));
                b.inp = alloc_floats(nx);
                b.dinp = alloc_floats(nx);
                b.out = alloc_floats(nx);
                b.dout = alloc_floats(nx);
                lstm_init_params(b.params, &b.cfg, &g);
                rng_fill_uniform(&g, b.inp, nx, -1.0f, 1.0f);
                rng_fill_uniform(&g, b.dout, nx, -1.0f, 1.0f);
                double tf = time_per_call(bench_run_forward, &b, min_s);
                double tt = time_per_call(bench_run_train, &b, min_s);
                double flops = 2.0 * B * T * 4.0 * H * (H + H);
                double peak = sgemm_gflops(B * T, 4 * H, 2 * H, min_s);
                printf("c\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.2f\t%.2f\n", threads_current(), H, T, B,
                       B / tf, B / tt, flops / tf / 1e9, peak);
                fflush(stdout);
                free(b.lengths);
                free(b.params);
                free(b.dparams);
                free(b.acts);
                free(b.ws);
                free(b.inp);
                free(b.dinp);
                free(b.out);
                free(b.dout);
            }
    return 0;
}

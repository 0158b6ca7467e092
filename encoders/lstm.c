/* lstm.c - LSTM stack forward and backward (see lstm.h).
 *
 * Per layer: the input projection of all steps and both directions is one
 * sgemm, (B*T, In) x (In, D*4H), onto a pre-broadcast bias (beta = 1). Each
 * step then adds h_prev x W_hh^T with one sgemm per direction over the whole
 * batch and applies the gates with vectorized activations. On AVX-512 CPUs
 * and batches up to 64, a fused kernel (step_fused_avx512) does both instead,
 * against W_hh packed once per forward at the end of acts: OpenBLAS repacks
 * W_hh on every small per-step GEMM.
 *
 * Internally every buffer is time-major (T,B,.), so each step's slice is
 * contiguous: per-step GEMMs over batch-major slices (row stride T*4H, a
 * multiple of 4 KiB) hit cache-set conflicts and measured 25-45% slower.
 * The input is copied time-major once and the output copied back
 * batch-major (B*T*(In + D*H) floats, small next to the GEMMs).
 *
 * acts: Xt (T,B,In), the input time-major, then for each layer l:
 *   G  (T,B,D*4H)  gate values after activation (i, f, g, o)
 *   C  (T,B,D*H)   cell state
 *   TC (T,B,D*H)   tanh(cell state)
 *   Y  (T,B,D*H)   hidden output (input of layer l+1)
 * Padded steps hold zeros everywhere.
 */
#include "lstm.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "act.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LSTM_HAVE_AVX512 1
#endif

/* The default build is -O2, whose cost model leaves the gate loops scalar. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif

/* The gate loops are also compiled for AVX-512 and AVX2+FMA; the loader
 * picks the best for the running CPU (GCC ifunc). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LSTM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LSTM_CLONES
#endif

#define LSTM_MAX_SIZE (1 << 20)

int lstm_config_check(const lstm_config *cfg, char *errbuf)
{
    if (!cfg)
        return ss_errf(errbuf, SS_ERR_ARG, "lstm: no config");
    if (cfg->input_size <= 0 || cfg->input_size > LSTM_MAX_SIZE)
        return ss_errf(errbuf, SS_ERR_ARG, "lstm: input size %d out of range 1..%d",
                       cfg->input_size, LSTM_MAX_SIZE);
    if (cfg->hidden_size <= 0 || cfg->hidden_size > LSTM_MAX_SIZE)
        return ss_errf(errbuf, SS_ERR_ARG, "lstm: hidden size %d out of range 1..%d",
                       cfg->hidden_size, LSTM_MAX_SIZE);
    if (cfg->num_layers <= 0 || cfg->num_layers > 64)
        return ss_errf(errbuf, SS_ERR_ARG, "lstm: %d layers, expected 1..64", cfg->num_layers);
    if (cfg->bidirectional != 0 && cfg->bidirectional != 1)
        return ss_errf(errbuf, SS_ERR_ARG, "lstm: bidirectional must be 0 or 1, not %d",
                       cfg->bidirectional);
    return SS_OK;
}

int lstm_num_directions(const lstm_config *cfg)
{
    return cfg->bidirectional ? 2 : 1;
}

int lstm_output_size(const lstm_config *cfg)
{
    return lstm_num_directions(cfg) * cfg->hidden_size;
}

static int layer_input_size(const lstm_config *cfg, int l)
{
    return l == 0 ? cfg->input_size : lstm_output_size(cfg);
}

/* Floats of layer l's parameters (all directions). */
static size_t layer_params(const lstm_config *cfg, int l)
{
    size_t D = (size_t)lstm_num_directions(cfg), H = (size_t)cfg->hidden_size;
    size_t in = (size_t)layer_input_size(cfg, l);
    return D * 4 * H * (in + H + 2);
}

/* Pointers to layer l's tensors inside a flat parameter (or gradient) buffer. */
typedef struct layer_view {
    float *wih; /* (D,4H,In_l) */
    float *whh; /* (D,4H,H) */
    float *bih; /* (D,4H) */
    float *bhh; /* (D,4H) */
} layer_view;

static layer_view layer_at(float *base, const lstm_config *cfg, int l)
{
    size_t off = 0;
    for (int k = 0; k < l; k++)
        off += layer_params(cfg, k);
    size_t D = (size_t)lstm_num_directions(cfg), H = (size_t)cfg->hidden_size;
    size_t in = (size_t)layer_input_size(cfg, l);
    layer_view v;
    v.wih = base + off;
    v.whh = v.wih + D * 4 * H * in;
    v.bih = v.whh + D * 4 * H * H;
    v.bhh = v.bih + D * 4 * H;
    return v;
}

size_t lstm_num_params(const lstm_config *cfg)
{
    size_t n = 0;
    for (int l = 0; l < cfg->num_layers; l++)
        n += layer_params(cfg, l);
    return n;
}

int lstm_num_tensors(const lstm_config *cfg)
{
    return cfg->num_layers * lstm_num_directions(cfg) * 4;
}

int lstm_param_tensors(lstm_tensor *tensors, int n, const lstm_config *cfg, char *errbuf)
{
    int rc = lstm_config_check(cfg, errbuf);
    if (rc)
        return rc;
    int need = lstm_num_tensors(cfg);
    if (!tensors || n < need)
        return ss_errf(errbuf, SS_ERR_ARG, "lstm: %d tensors needed, room for %d", need, n);
    static const char *const kind_names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    int D = lstm_num_directions(cfg), H = cfg->hidden_size;
    size_t off = 0;
    int k = 0;
    for (int l = 0; l < cfg->num_layers; l++) {
        int cols[4] = {layer_input_size(cfg, l), H, 1, 1};
        for (int kind = 0; kind < 4; kind++) {
            for (int d = 0; d < D; d++) {
                lstm_tensor *t = &tensors[k++];
                snprintf(t->name, sizeof t->name, "%s_l%d%s", kind_names[kind], l,
                         d ? "_reverse" : "");
                t->rows = 4 * H;
                t->cols = cols[kind];
                t->count = (size_t)t->rows * (size_t)t->cols;
                t->offset = off;
                t->layer = l;
                t->direction = d;
                t->kind = kind;
                off += t->count;
            }
        }
    }
    return SS_OK;
}

void lstm_init_params(float *params, const lstm_config *cfg, rng_t *rng)
{
    float bound = 1.0f / sqrtf((float)cfg->hidden_size);
    size_t n = lstm_num_params(cfg);
    rng_fill_uniform(rng, params, n, -bound, bound);
}

/* Floats of one layer's activations. */
static size_t layer_acts(const lstm_config *cfg, int B, int T)
{
    size_t D = (size_t)lstm_num_directions(cfg), H = (size_t)cfg->hidden_size;
    return (size_t)B * (size_t)T * D * H * 7;
}

/* Floats of one layer's W_hh packed for the step kernel (all directions):
 * per direction, ceil(H/16) panels of H rows of 64 floats; acts has 16
 * floats more, to align it to 64 bytes. */
static size_t packed_whh_size(const lstm_config *cfg)
{
    size_t D = (size_t)lstm_num_directions(cfg), H = (size_t)cfg->hidden_size;
    return D * ((H + 15) / 16) * H * 64;
}

size_t lstm_acts_size(const lstm_config *cfg, int B, int T)
{
    return (size_t)B * (size_t)T * (size_t)cfg->input_size +
           layer_acts(cfg, B, T) * (size_t)cfg->num_layers + packed_whh_size(cfg) + 16;
}

size_t lstm_workspace_size(const lstm_config *cfg, int B, int T)
{
    size_t D = (size_t)lstm_num_directions(cfg), H = (size_t)cfg->hidden_size;
    size_t BT = (size_t)B * (size_t)T;
    /* dG (T,B,D*4H) + two dY buffers (T,B,D*H) + dXt (T,B,In) + dh, dc
     * carries (B,H) + bias sums (D*4H) */
    return BT * D * 4 * H + 2 * BT * D * H + BT * (size_t)cfg->input_size +
           2 * (size_t)B * H + D * 4 * H;
}

/* Views of layer l's activations. */
typedef struct acts_view {
    float *g, *c, *tc, *y;
} acts_view;

static acts_view acts_at(float *acts, const lstm_config *cfg, int B, int T, int l)
{
    size_t D = (size_t)lstm_num_directions(cfg), H = (size_t)cfg->hidden_size;
    size_t BT = (size_t)B * (size_t)T;
    acts_view v;
    v.g = acts + BT * (size_t)cfg->input_size + layer_acts(cfg, B, T) * (size_t)l;
    v.c = v.g + BT * D * 4 * H;
    v.tc = v.c + BT * D * H;
    v.y = v.tc + BT * D * H;
    return v;
}

static int check_call(const lstm_config *cfg, int B, int T, const int *lengths, char *errbuf)
{
    int rc = lstm_config_check(cfg, errbuf);
    if (rc)
        return rc;
    if (B <= 0 || T <= 0)
        return ss_errf(errbuf, SS_ERR_ARG, "lstm: batch %d x steps %d, both must be > 0", B, T);
    /* GEMM sizes and leading dimensions are ints */
    size_t widest = (size_t)lstm_num_directions(cfg) * 4 * (size_t)cfg->hidden_size;
    if ((size_t)cfg->input_size > widest)
        widest = (size_t)cfg->input_size;
    if ((size_t)B * (size_t)T > (size_t)INT_MAX / widest)
        return ss_errf(errbuf, SS_ERR_ARG, "lstm: batch %d x steps %d too large for one call",
                       B, T);
    if (!lengths)
        return ss_errf(errbuf, SS_ERR_ARG, "lstm: no lengths");
    for (int b = 0; b < B; b++)
        if (lengths[b] < 1 || lengths[b] > T)
            return ss_errf(errbuf, SS_ERR_ARG, "lstm: length %d of sequence %d not in 1..%d",
                           lengths[b], b, T);
    return SS_OK;
}

/* Rows of the batch the step-t GEMMs must cover: up to the last sequence
 * still running at step t (longer than t). Rows after it are padding; a
 * batch sorted by decreasing length so skips all its padding, as PyTorch's
 * packed sequences do. */
static int active_rows(const int *lengths, int B, int t)
{
    int m = B;
    while (m > 0 && lengths[m - 1] <= t)
        m--;
    return m;
}

/* One step of one direction for the first m rows of the batch: g (rows of
 * stride gs) holds the 4H pre-activations and gets the gates; writes c,
 * tanh(c) and h (rows of stride hs). cprev NULL means a zero previous cell
 * state. One call per step, activations inlined: the loops vectorize. */
LSTM_CLONES
static void step_forward(float *restrict g, float *restrict c, float *restrict tc,
                         float *restrict h, const float *restrict cprev, int m, int H,
                         size_t gs, size_t hs)
{
    for (int b = 0; b < m; b++) {
        float *restrict gr = g + (size_t)b * gs;
        float *restrict cr = c + (size_t)b * hs;
        float *restrict tcr = tc + (size_t)b * hs;
        float *restrict hr = h + (size_t)b * hs;
        for (int k = 0; k < 2 * H; k++)
            gr[k] = act_sigmoid_inline(gr[k]);
        for (int k = 2 * H; k < 3 * H; k++)
            gr[k] = act_tanh_inline(gr[k]);
        for (int k = 3 * H; k < 4 * H; k++)
            gr[k] = act_sigmoid_inline(gr[k]);
        const float *ig = gr, *fg = gr + H, *gg = gr + 2 * H, *og = gr + 3 * H;
        if (cprev) {
            const float *restrict cp = cprev + (size_t)b * hs;
            for (int j = 0; j < H; j++)
                cr[j] = fg[j] * cp[j] + ig[j] * gg[j];
        } else {
            for (int j = 0; j < H; j++)
                cr[j] = ig[j] * gg[j];
        }
        for (int j = 0; j < H; j++) {
            float t = act_tanh_inline(cr[j]);
            tcr[j] = t;
            hr[j] = og[j] * t;
        }
    }
}

/* W_hh of one direction (4H,H) packed for the step kernel: panel jb holds
 * hidden units jb*16 .. jb*16+15; its row k is 64 floats, the four gates'
 * weights of input unit k for those 16 units (i, f, g, o; zero past H).
 * One panel row is one k-step of a (rows x 64) block of the step's GEMM. */
static void pack_whh(float *wp, const float *whh, int H)
{
    int nb = (H + 15) / 16;
    for (int jb = 0; jb < nb; jb++)
        for (int k = 0; k < H; k++) {
            float *row = wp + ((size_t)jb * H + (size_t)k) * 64;
            for (int q = 0; q < 4; q++)
                for (int lane = 0; lane < 16; lane++) {
                    int j = jb * 16 + lane;
                    row[q * 16 + lane] = j < H ? whh[((size_t)q * H + (size_t)j) * H + (size_t)k]
                                               : 0.0f;
                }
        }
}

#ifdef LSTM_HAVE_AVX512
#define LSTM_AVX512 __attribute__((target("avx512f,fma")))
#define LSTM_AVX512_INLINE __attribute__((target("avx512f,fma"), always_inline)) static inline

/* act_exp_core on 16 lanes (same steps, same constants). */
LSTM_AVX512_INLINE __m512 v_exp_core(__m512 x)
{
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), magic),
                             magic);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 e = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(e, _mm512_castsi512_ps(bits));
}

/* act_sigmoid_inline on 16 lanes. */
LSTM_AVX512_INLINE __m512 v_sigmoid(__m512 x)
{
    __m512 a = _mm512_min_ps(_mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), x),
                                           _mm512_set1_ps(ACT_EXP_LO)),
                             _mm512_set1_ps(ACT_EXP_HI));
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, v_exp_core(a)));
}

/* act_tanh_inline on 16 lanes. */
LSTM_AVX512_INLINE __m512 v_tanh(__m512 v)
{
    const __m512i signbit = _mm512_set1_epi32((int)0x80000000u);
    __m512i vi = _mm512_castps_si512(v);
    __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(signbit, vi));
    __m512 z = _mm512_mul_ps(v, v);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), v, v);
    __m512 e = v_exp_core(_mm512_mul_ps(_mm512_set1_ps(-2.0f),
                                        _mm512_min_ps(a, _mm512_set1_ps(9.0f))));
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 big = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
    big = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(big), _mm512_and_si512(signbit, vi)));
    __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(is_small, big, small);
}

/* The gates and cell update of R rows x 16 units whose pre-activations are
 * in g (still in L1). Not inlined into step_block, so the activations'
 * constants do not take registers from its accumulators. */
LSTM_AVX512 __attribute__((noinline))
static void step_epilogue(int R, float *g, float *c, float *tc, float *h, const float *cprev,
                          int H, size_t gs, size_t hs, __mmask16 mask)
{
    for (int r = 0; r < R; r++) {
        float *gr = g + (size_t)r * gs;
        __m512 ig = v_sigmoid(_mm512_maskz_loadu_ps(mask, gr));
        __m512 fg = v_sigmoid(_mm512_maskz_loadu_ps(mask, gr + H));
        __m512 gg = v_tanh(_mm512_maskz_loadu_ps(mask, gr + 2 * (size_t)H));
        __m512 og = v_sigmoid(_mm512_maskz_loadu_ps(mask, gr + 3 * (size_t)H));
        _mm512_mask_storeu_ps(gr, mask, ig);
        _mm512_mask_storeu_ps(gr + H, mask, fg);
        _mm512_mask_storeu_ps(gr + 2 * (size_t)H, mask, gg);
        _mm512_mask_storeu_ps(gr + 3 * (size_t)H, mask, og);
        __m512 cv = _mm512_mul_ps(ig, gg);
        if (cprev)
            cv = _mm512_fmadd_ps(fg, _mm512_maskz_loadu_ps(mask, cprev + (size_t)r * hs), cv);
        __m512 tv = v_tanh(cv);
        _mm512_mask_storeu_ps(c + (size_t)r * hs, mask, cv);
        _mm512_mask_storeu_ps(tc + (size_t)r * hs, mask, tv);
        _mm512_mask_storeu_ps(h + (size_t)r * hs, mask, _mm512_mul_ps(og, tv));
    }
}

/* R rows (R <= 6, a constant after inlining) x 16 hidden units of one step:
 * gates = g (input projection + biases) + hprev x W_hh^T, accumulated in
 * registers (4 per row), stored back and at once (from L1) turned into the
 * gates and cell update by step_epilogue. hprev NULL: zero state (no GEMM);
 * cprev NULL: zero cell. mask selects the units < H of the last panel. */
LSTM_AVX512_INLINE void step_block(int R, float *g, float *c, float *tc, float *h,
                                   const float *hprev, const float *cprev, const float *panel,
                                   int H, size_t gs, size_t hs, __mmask16 mask)
{
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++)
            acc[r][q] = _mm512_maskz_loadu_ps(mask, g + (size_t)r * gs + (size_t)q * H);
    if (hprev) {
        for (int k = 0; k < H; k++) {
            const float *w = panel + (size_t)k * 64;
            __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16);
            __m512 w2 = _mm512_load_ps(w + 32), w3 = _mm512_load_ps(w + 48);
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) {
                __m512 hb = _mm512_set1_ps(hprev[(size_t)r * hs + (size_t)k]);
                acc[r][0] = _mm512_fmadd_ps(hb, w0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(hb, w1, acc[r][1]);
                acc[r][2] = _mm512_fmadd_ps(hb, w2, acc[r][2]);
                acc[r][3] = _mm512_fmadd_ps(hb, w3, acc[r][3]);
            }
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++)
            _mm512_mask_storeu_ps(g + (size_t)r * gs + (size_t)q * H, mask, acc[r][q]);
    step_epilogue(R, g, c, tc, h, cprev, H, gs, hs, mask);
}

/* One step of one direction for the first m rows: the recurrent GEMM
 * against the packed W_hh (wp) fused with step_forward's work. Arguments
 * as step_forward's, plus hprev (rows of stride hs, NULL at the first step). */
LSTM_AVX512
static void step_fused_avx512(float *g, float *c, float *tc, float *h, const float *hprev,
                              const float *cprev, const float *wp, int m, int H, size_t gs,
                              size_t hs)
{
    int nb = (H + 15) / 16;
    /* chunks of 48 rows: one panel (64H floats) is reused by 8 row blocks
     * from L1, and a chunk's previous states (48H floats) stay near too */
    for (int c0 = 0; c0 < m; c0 += 48) {
        int c1 = m - c0 < 48 ? m : c0 + 48;
        for (int jb = 0; jb < nb; jb++) {
            int left = H - jb * 16;
            __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            const float *panel = wp + (size_t)jb * H * 64;
            size_t u = (size_t)jb * 16;
            for (int r0 = c0; r0 < c1; r0 += 6) {
                size_t og = (size_t)r0 * gs + u, oh = (size_t)r0 * hs + u;
                const float *hp = hprev ? hprev + (size_t)r0 * hs : NULL;
                const float *cp = cprev ? cprev + oh : NULL;
#define LSTM_BLOCK(R) \
    step_block(R, g + og, c + oh, tc + oh, h + oh, hp, cp, panel, H, gs, hs, mask)
                switch (c1 - r0 < 6 ? c1 - r0 : 6) {
                case 1: LSTM_BLOCK(1); break;
                case 2: LSTM_BLOCK(2); break;
                case 3: LSTM_BLOCK(3); break;
                case 4: LSTM_BLOCK(4); break;
                case 5: LSTM_BLOCK(5); break;
                default: LSTM_BLOCK(6); break;
                }
#undef LSTM_BLOCK
            }
        }
    }
}
#endif

/* 1 if this CPU runs the fused AVX-512 step kernel. */
static int have_fused_step(void)
{
#ifdef LSTM_HAVE_AVX512
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* Runs one direction d of one layer over all steps; av.g already holds the
 * input projection plus biases. wp: this direction's W_hh packed by
 * pack_whh for the fused AVX-512 kernel, or NULL for sgemm + step_forward. */
static void direction_forward(acts_view av, const float *whh, const float *wp,
                              const int *lengths, int d, int D, int H, int B, int T)
{
    size_t G4 = (size_t)D * 4 * H, DH = (size_t)D * H;
    for (int s = 0; s < T; s++) {
        int t = d ? T - 1 - s : s;
        int tp = d ? t + 1 : t - 1; /* previous step in processing order */
        int m = active_rows(lengths, B, t);
        size_t off_g = (size_t)t * B * G4 + (size_t)d * 4 * H;
        size_t off_h = (size_t)t * B * DH + (size_t)d * H;
        const float *cprev = s > 0 ? av.c + (size_t)tp * B * DH + (size_t)d * H : NULL;
#ifdef LSTM_HAVE_AVX512
        if (wp) {
            const float *hprev = s > 0 ? av.y + (size_t)tp * B * DH + (size_t)d * H : NULL;
            step_fused_avx512(av.g + off_g, av.c + off_h, av.tc + off_h, av.y + off_h, hprev,
                              cprev, wp, m, H, G4, DH);
        } else
#endif
        {
            if (s > 0 && m > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, 4 * H, H, 1.0f,
                            av.y + (size_t)tp * B * DH + (size_t)d * H, (int)DH, whh, H,
                            1.0f, av.g + off_g, (int)G4);
            step_forward(av.g + off_g, av.c + off_h, av.tc + off_h, av.y + off_h, cprev, m, H,
                         G4, DH);
        }
        /* the previous state is zero at the start of the sequence; for the
         * reverse direction, steps t+1 >= length are padding and hold zeros */
        for (int b = 0; b < B; b++) {
            if (t < lengths[b])
                continue;
            size_t row = (size_t)t * B + (size_t)b;
            memset(av.g + row * G4 + (size_t)d * 4 * H, 0, sizeof(float) * 4 * (size_t)H);
            memset(av.c + row * DH + (size_t)d * H, 0, sizeof(float) * (size_t)H);
            memset(av.tc + row * DH + (size_t)d * H, 0, sizeof(float) * (size_t)H);
            memset(av.y + row * DH + (size_t)d * H, 0, sizeof(float) * (size_t)H);
        }
    }
}

int lstm_forward(float *out, float *hlast, float *acts,
                 const float *inp, const int *lengths, const float *params,
                 const lstm_config *cfg, int B, int T, char *errbuf)
{
    int rc = check_call(cfg, B, T, lengths, errbuf);
    if (rc)
        return rc;
    if (!acts || !inp || !params)
        return ss_errf(errbuf, SS_ERR_ARG, "lstm: forward needs acts, inp and params");
    int D = lstm_num_directions(cfg), H = cfg->hidden_size;
    size_t BT = (size_t)B * (size_t)T, G4 = (size_t)D * 4 * H, DH = (size_t)D * H;
    /* the input, time-major */
    float *xt = acts;
    int in0 = cfg->input_size;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            memcpy(xt + ((size_t)t * B + (size_t)b) * in0, inp + ((size_t)b * T + (size_t)t) * in0,
                   sizeof(float) * (size_t)in0);
    const float *x = xt;
    /* packed W_hh for the fused step kernel: the end of acts, 64-byte aligned.
     * Above 64 rows OpenBLAS's per-step GEMM measured faster (batch 256:
     * 2-10%, bench/lstm_bench); at batch 32 the fused kernel is 11-17% faster. */
    float *wp = NULL;
    if (B <= 64 && have_fused_step()) {
        uintptr_t a = (uintptr_t)(acts + lstm_acts_size(cfg, B, T) - packed_whh_size(cfg) - 16);
        wp = (float *)((a + 63) & ~(uintptr_t)63);
    }
    acts_view av = {0};
    for (int l = 0; l < cfg->num_layers; l++) {
        int in = layer_input_size(cfg, l);
        layer_view pv = layer_at((float *)params, cfg, l);
        av = acts_at(acts, cfg, B, T, l);
        /* bias broadcast, then all steps' input projections in one GEMM */
        for (size_t r = 0; r < BT; r++) {
            float *row = av.g + r * G4;
            for (size_t k = 0; k < G4; k++)
                row[k] = pv.bih[k] + pv.bhh[k];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)BT, (int)G4, in, 1.0f,
                    x, in, pv.wih, in, 1.0f, av.g, (int)G4);
        for (int d = 0; d < D; d++) {
            const float *whh = pv.whh + (size_t)d * 4 * H * H;
            float *wpd = NULL;
            if (wp) {
                wpd = wp + (size_t)d * (size_t)((H + 15) / 16) * (size_t)H * 64;
                pack_whh(wpd, whh, H);
            }
            direction_forward(av, whh, wpd, lengths, d, D, H, B, T);
        }
        x = av.y;
    }
    if (out)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                memcpy(out + ((size_t)b * T + (size_t)t) * DH,
                       av.y + ((size_t)t * B + (size_t)b) * DH, sizeof(float) * DH);
    if (hlast) {
        for (int b = 0; b < B; b++) {
            size_t last = (size_t)(lengths[b] - 1) * B + (size_t)b;
            memcpy(hlast + (size_t)b * DH, av.y + last * DH, sizeof(float) * (size_t)H);
            if (D == 2)
                memcpy(hlast + (size_t)b * DH + H, av.y + (size_t)b * DH + H,
                       sizeof(float) * (size_t)H);
        }
    }
    return SS_OK;
}

/* Backward of one step of one row. dy: gradient reaching h from above; dh:
 * from the next step (recurrent GEMM); dcar: carried cell gradient, updated
 * in place; writes the 4H pre-activation gradients into dg. */
LSTM_CLONES
static void cell_backward(float *restrict dg, float *restrict dcar, const float *restrict dy,
                          const float *restrict dh, const float *restrict g,
                          const float *restrict tc, const float *restrict cprev, int H)
{
    const float *ig = g, *fg = g + H, *gg = g + 2 * H, *og = g + 3 * H;
    float *di = dg, *df = dg + H, *dgg = dg + 2 * H, *dout = dg + 3 * H;
    for (int j = 0; j < H; j++) {
        float dhj = dy[j] + dh[j];
        float t = tc[j], o = og[j], i = ig[j], f = fg[j], gv = gg[j];
        float dc = dcar[j] + dhj * o * (1.0f - t * t);
        dout[j] = dhj * t * o * (1.0f - o);
        di[j] = dc * gv * i * (1.0f - i);
        dgg[j] = dc * i * (1.0f - gv * gv);
        df[j] = dc * f * (1.0f - f); /* times c_prev below */
        dcar[j] = dc * f;
    }
    if (cprev) {
        for (int j = 0; j < H; j++)
            df[j] *= cprev[j];
    } else {
        memset(df, 0, sizeof(float) * (size_t)H);
    }
}

/* BPTT of direction d of one layer: fills its columns of dG (T,B,D*4H) from
 * dY (T,B,D*H) and adds its recurrent weight gradient to dwhh (4H,H). */
static void direction_backward(float *dG, float *dwhh, float *dh, float *dcar,
                               const float *dY, acts_view av, const float *whh,
                               const int *lengths, int d, int D, int H, int B, int T)
{
    size_t G4 = (size_t)D * 4 * H, DH = (size_t)D * H;
    memset(dh, 0, sizeof(float) * (size_t)B * H);
    memset(dcar, 0, sizeof(float) * (size_t)B * H);
    for (int s = T - 1; s >= 0; s--) {
        int t = d ? T - 1 - s : s;
        int tp = d ? t + 1 : t - 1;
        for (int b = 0; b < B; b++) {
            size_t row = (size_t)t * B + (size_t)b;
            float *dg = dG + row * G4 + (size_t)d * 4 * H;
            float *dc = dcar + (size_t)b * H;
            if (t >= lengths[b]) {
                memset(dg, 0, sizeof(float) * 4 * (size_t)H);
                memset(dc, 0, sizeof(float) * (size_t)H);
                continue;
            }
            const float *cprev = NULL;
            if (s > 0 && !(d && tp >= lengths[b]))
                cprev = av.c + ((size_t)tp * B + (size_t)b) * DH + (size_t)d * H;
            cell_backward(dg, dc, dY + row * DH + (size_t)d * H, dh + (size_t)b * H,
                          av.g + row * G4 + (size_t)d * 4 * H,
                          av.tc + row * DH + (size_t)d * H, cprev, H);
        }
        if (s > 0) {
            /* rows after the last one running at t have zero dG: zero dh */
            int m = active_rows(lengths, B, t);
            if (m > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, H, 4 * H, 1.0f,
                            dG + (size_t)t * B * G4 + (size_t)d * 4 * H, (int)G4,
                            whh, H, 0.0f, dh, H);
            memset(dh + (size_t)m * H, 0, sizeof(float) * (size_t)(B - m) * H);
        }
    }
    /* dW_hh += sum over (t,b) of dG[t,b]^T h[tp,b]: time-major rows of step t
     * pair with the rows B before (forward) or after (reverse) them, so this
     * is one GEMM over (T-1)*B rows; the first step's previous state is 0. */
    if (T < 2)
        return;
    const float *dg0 = dG + (size_t)d * 4 * H;
    const float *y0 = av.y + (size_t)d * H;
    int K = (T - 1) * B;
    size_t shift = (size_t)B;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 4 * H, H, K, 1.0f,
                d ? dg0 : dg0 + shift * G4, (int)G4, d ? y0 + shift * DH : y0, (int)DH, 1.0f,
                dwhh, H);
}

int lstm_backward(float *dinp, float *dparams, const float *dout, const float *dhlast,
                  const float *acts, float *ws, const float *inp, const int *lengths,
                  const float *params, const lstm_config *cfg, int B, int T,
                  char *errbuf)
{
    int rc = check_call(cfg, B, T, lengths, errbuf);
    if (rc)
        return rc;
    if (!acts || !ws || !inp || !params || !dparams)
        return ss_errf(errbuf, SS_ERR_ARG,
                       "lstm: backward needs acts, ws, inp, params and dparams");
    int D = lstm_num_directions(cfg), H = cfg->hidden_size;
    size_t BT = (size_t)B * (size_t)T, G4 = (size_t)D * 4 * H, DH = (size_t)D * H;
    float *dG = ws;
    float *dYa = dG + BT * G4;
    float *dYb = dYa + BT * DH;
    float *dxt = dYb + BT * DH;
    float *dh = dxt + BT * (size_t)cfg->input_size;
    float *dcar = dh + (size_t)B * H;
    float *bsum = dcar + (size_t)B * H;

    /* gradient reaching the top layer's outputs (time-major): dout plus
     * dhlast at the steps hlast was read from */
    if (dout)
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++)
                memcpy(dYa + ((size_t)t * B + (size_t)b) * DH,
                       dout + ((size_t)b * T + (size_t)t) * DH, sizeof(float) * DH);
    else
        memset(dYa, 0, sizeof(float) * BT * DH);
    if (dhlast) {
        for (int b = 0; b < B; b++) {
            float *yl = dYa + ((size_t)(lengths[b] - 1) * B + (size_t)b) * DH;
            const float *src = dhlast + (size_t)b * DH;
            for (int j = 0; j < H; j++)
                yl[j] += src[j];
            if (D == 2) {
                float *y0 = dYa + (size_t)b * DH + H;
                for (int j = 0; j < H; j++)
                    y0[j] += src[H + j];
            }
        }
    }

    float *dY = dYa, *dYnext = dYb;
    for (int l = cfg->num_layers - 1; l >= 0; l--) {
        int in = layer_input_size(cfg, l);
        acts_view av = acts_at((float *)acts, cfg, B, T, l);
        layer_view pv = layer_at((float *)params, cfg, l);
        layer_view gv = layer_at(dparams, cfg, l);
        const float *x = l ? acts_at((float *)acts, cfg, B, T, l - 1).y : acts;
        for (int d = 0; d < D; d++)
            direction_backward(dG, gv.whh + (size_t)d * 4 * H * H, dh, dcar, dY, av,
                               pv.whh + (size_t)d * 4 * H * H, lengths, d, D, H, B, T);
        /* biases: column sums of dG, added to both */
        memset(bsum, 0, sizeof(float) * G4);
        for (size_t r = 0; r < BT; r++) {
            const float *row = dG + r * G4;
            for (size_t k = 0; k < G4; k++)
                bsum[k] += row[k];
        }
        for (size_t k = 0; k < G4; k++) {
            gv.bih[k] += bsum[k];
            gv.bhh[k] += bsum[k];
        }
        /* dW_ih (D*4H, In) += dG^T x */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G4, in, (int)BT, 1.0f,
                    dG, (int)G4, x, in, 1.0f, gv.wih, in);
        /* dx (T*B, In) = dG W_ih: the layer below's output gradient, or dinp
         * (copied back batch-major) */
        float *dx = l ? dYnext : dxt;
        if (l || dinp)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)BT, in, (int)G4, 1.0f,
                        dG, (int)G4, pv.wih, in, 0.0f, dx, in);
        if (!l && dinp)
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++)
                    memcpy(dinp + ((size_t)b * T + (size_t)t) * in,
                           dxt + ((size_t)t * B + (size_t)b) * in, sizeof(float) * (size_t)in);
        float *tmp = dY;
        dY = dYnext;
        dYnext = tmp;
    }
    return SS_OK;
}

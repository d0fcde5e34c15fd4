/* Convolutions and pools over NCHW float32, and their gradients.
 *
 * How a convolution is computed, per image and group (Cg input and Og output channels, a
 * kh×kw kernel, P = OH·OW output positions, K = Cg·kh·kw):
 *   - 1×1, stride 1, no padding: the image already is the [Cg, P] matrix the GEMM needs, so
 *     out = W[Og, Cg] · x[Cg, P] runs straight on it (ResNet's downsample path is 1×1 but
 *     strided, and takes the next form);
 *   - one input channel per group (depthwise) or no room for the lowered input: the direct
 *     kernel, a loop over kernel taps that adds a shifted input row to each output row
 *     (K multiply-adds per output and no copy, where a GEMM of inner size kh·kw would
 *     spend more on lowering than on arithmetic);
 *   - 3×3, stride 1, one group, enough output tiles (winograd_form): Winograd, transformed
 *     tiles and weights multiplied by one GEMM per tile position;
 *   - otherwise im2col: the input lowered to [K, P] (each row one kernel tap of one channel,
 *     zeros where the window hangs over the padding) and one GEMM W[Og, K] · col.
 * The gradients are the same products turned around: d/dx = Wᵀ·g scattered back (col2im),
 * d/dW = g·colᵀ summed over images. The lowered input lives in a per-thread buffer that grows
 * to the largest layer and is kept, so a plan's runs do not allocate. */
#include "conv.h"
#include "sgemm.h"
#include "kernels.h"
#include "pool.h"
#include "program.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* ---- the per-thread lowering buffer --------------------------------------------------------- */

typedef struct scratch {
    float *data;
    size_t cap; /* floats */
} scratch;

static _Thread_local scratch lowered;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void free_scratch(void *p)
{
    scratch *s = p;
    hb_aligned_free(s->data);
    s->data = NULL, s->cap = 0;
}

static void make_scratch_key(void) { pthread_key_create(&scratch_key, free_scratch); }

/* Room for n floats, or NULL (the callers then take the direct kernel, which needs none). */
static float *scratch_get(size_t n)
{
    if (lowered.cap >= n)
        return lowered.data;
    pthread_once(&scratch_once, make_scratch_key);
    float *grown = hb_aligned_alloc(sizeof(float) * n);
    if (!grown)
        return NULL;
    hb_aligned_free(lowered.data);
    lowered = (scratch){grown, n};
    pthread_setspecific(scratch_key, &lowered); /* frees it when the thread exits */
    return grown;
}

/* ---- geometry ------------------------------------------------------------------------------ */

typedef struct geom {
    int64_t n, c, h, w;    /* input */
    int64_t o, oh, ow;     /* output channels and size */
    int64_t kh, kw;
    int64_t groups, cg, og; /* channels per group, in and out */
    int sh, sw, ph, pw, dh, dw;
} geom;

static geom geometry(const hb_shape *x, const hb_shape *w, const hb_shape *y, const hb_window *win)
{
    geom g = {x->dim[0], x->dim[1], x->dim[2], x->dim[3], y->dim[1], y->dim[2], y->dim[3],
              w->dim[2], w->dim[3], win->groups, x->dim[1] / win->groups, y->dim[1] / win->groups,
              win->stride[0], win->stride[1], win->pad[0], win->pad[1], win->dilation[0],
              win->dilation[1]};
    return g;
}

static bool pointwise(const geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* The output columns [lo, hi) whose input column ow·s − p + off lies inside [0, w). */
static void valid_cols(int64_t ow, int s, int64_t start, int64_t w, int64_t *lo, int64_t *hi)
{
    /* ow·s + start >= 0  and  ow·s + start < w */
    int64_t a = start >= 0 ? 0 : (-start + s - 1) / s;
    int64_t b = w - start <= 0 ? 0 : (w - start + s - 1) / s;
    *lo = a < ow ? a : ow;
    *hi = b < ow ? b : ow;
    if (*hi < *lo)
        *hi = *lo;
}

/* ---- lowering ------------------------------------------------------------------------------ */

/* Output rows [oh0, oh1) of col[K, P] from one group's channels x[Cg, H, W], as a
 * [K, (oh1 − oh0)·OW] matrix: the rows of channels [c0, c1). */
static void im2col_channels(const geom *g, const float *x, float *col, int64_t oh0, int64_t oh1,
                            int64_t c0, int64_t c1)
{
    int64_t p = (oh1 - oh0) * g->ow;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                float *row = col + ((c * g->kh + ki) * g->kw + kj) * p - oh0 * g->ow;
                int64_t start = kj * g->dw - g->pw, lo, hi;
                valid_cols(g->ow, g->sw, start, g->w, &lo, &hi);
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    float *r = row + oh * g->ow;
                    int64_t ih = oh * g->sh - g->ph + ki * g->dh;
                    if (ih < 0 || ih >= g->h) {
                        memset(r, 0, sizeof(float) * (size_t)g->ow);
                        continue;
                    }
                    const float *src = x + (c * g->h + ih) * g->w; /* column start + ow·sw */
                    for (int64_t ow = 0; ow < lo; ow++)
                        r[ow] = 0.0f;
                    if (g->sw == 1)
                        memcpy(r + lo, src + start + lo, sizeof(float) * (size_t)(hi - lo));
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            r[ow] = src[start + ow * g->sw];
                    for (int64_t ow = hi; ow < g->ow; ow++)
                        r[ow] = 0.0f;
                }
            }
}

static void im2col(const geom *g, const float *x, float *col, int64_t oh0, int64_t oh1)
{
    im2col_channels(g, x, col, oh0, oh1, 0, g->cg);
}

/* x[Cg, H, W] += the columns of col (output rows [oh0, oh1) of [K, P]) where they came from
 * (padding dropped). */
static void col2im(const geom *g, const float *col, float *x, int64_t oh0, int64_t oh1)
{
    int64_t p = (oh1 - oh0) * g->ow;
    for (int64_t c = 0; c < g->cg; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                const float *row = col + ((c * g->kh + ki) * g->kw + kj) * p - oh0 * g->ow;
                int64_t start = kj * g->dw - g->pw, lo, hi;
                valid_cols(g->ow, g->sw, start, g->w, &lo, &hi);
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    int64_t ih = oh * g->sh - g->ph + ki * g->dh;
                    if (ih < 0 || ih >= g->h)
                        continue;
                    float *dst = x + (c * g->h + ih) * g->w;
                    const float *r = row + oh * g->ow;
                    for (int64_t ow = lo; ow < hi; ow++)
                        dst[start + ow * g->sw] += r[ow];
                }
            }
}

static void sgemm_packed2(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a,
                          int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                          int64_t ldc, const float *packed_a, const float *packed_b)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0) { /* BLAS may leave c alone: the sum of nothing is zero */
        for (int64_t i = 0; beta == 0.0f && i < m; i++)
            memset(c + i * ldc, 0, sizeof(float) * (size_t)n);
        return;
    }
    hb_sgemm_any(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, packed_a, packed_b);
}

static void sgemm_packed(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a,
                         int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                         int64_t ldc, const float *packed_a)
{
    sgemm_packed2(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, packed_a, NULL);
}

static void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                  const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    sgemm_packed(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, NULL);
}

/* A large lowered input is made a band of output rows at a time, small enough to stay in
 * the level-2 cache while BLAS packs it (ResNet-18's first layers lower 7 MB per image). Each
 * band is one more GEMM, which packs the weights again: bands are taken only where that costs
 * under an eighth of the lowered input's size (early layers: many positions, few weights).
 * build/bench_conv times ResNet-18's layers both ways: banded, its 7×7 stem ran 1.36× and
 * its first 3×3 layers 1.06× faster; with a quarter, 128-channel 28×28 layers took two bands
 * and ran 0.94×. */
int64_t hb_conv_band = 1 << 19; /* floats: 2 MB, this Xeon's level-2 cache per core */

static int64_t band_rows(const geom *g)
{
    int64_t k = g->cg * g->kh * g->kw, whole = k * g->oh * g->ow, row = k * g->ow;
    int64_t size = hb_conv_band < 0 ? -hb_conv_band : hb_conv_band;
    if (size == 0 || row == 0)
        return g->oh;
    int64_t bands = (whole + size - 1) / size;
    if (hb_conv_band > 0 && (bands <= 1 || 8 * (bands - 1) * g->og * k > whole))
        return g->oh;
    int64_t rows = size / row;
    return rows < 1 ? 1 : rows > g->oh ? g->oh : rows;
}

/* The buffer for one band of the lowered input, or NULL where none is needed (the direct
 * kernel, pointwise convolutions) or none could be had (then *direct: the direct kernel,
 * slower, the same result to rounding). */
static float *lowering(const geom *g, bool *direct, int parts)
{
    *direct = g->cg == 1;
    if (*direct || pointwise(g))
        return NULL;
    float *col = scratch_get((size_t)(parts * g->cg * g->kh * g->kw * band_rows(g) * g->ow));
    *direct = !col;
    return col;
}

/* How many of hybrid's threads a convolution of g takes: all it was given once its products
 * are big enough to split (the GEMMs' own threshold), else one. */
static int conv_threads(const geom *g)
{
    int threads = hb_threads_wanted();
    int64_t macs = g->n * g->o * g->oh * g->ow * g->cg * g->kh * g->kw;
    return threads > 1 && macs >= HB_BLAS_PARALLEL_MIN ? threads : 1;
}

/* ---- the direct kernels ------------------------------------------------------------------- */

/* For output channel o of one image: y[OH, OW] += Σ taps w · x shifted (its group's inputs). */
static void direct_channel(const geom *g, const float *x, const float *w, int64_t o, float *y)
{
    int64_t grp = o / g->og;
    for (int64_t c = 0; c < g->cg; c++) {
        const float *xc = x + (grp * g->cg + c) * g->h * g->w;
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                float wv = w[((o * g->cg + c) * g->kh + ki) * g->kw + kj];
                int64_t start = kj * g->dw - g->pw, lo, hi;
                valid_cols(g->ow, g->sw, start, g->w, &lo, &hi);
                for (int64_t oh = 0; oh < g->oh; oh++) {
                    int64_t ih = oh * g->sh - g->ph + ki * g->dh;
                    if (ih < 0 || ih >= g->h)
                        continue;
                    const float *src = xc + ih * g->w;
                    float *dst = y + oh * g->ow;
                    if (g->sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++)
                            dst[ow] += wv * src[start + ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            dst[ow] += wv * src[start + ow * g->sw];
                }
            }
    }
}

/* ---- Winograd F(m×m, 3×3) ----------------------------------------------------------------- */

/* A 3×3, stride-1 convolution computes each m×m block of outputs from an (m+2)² block of
 * inputs with (m+2)² multiplies per channel pair instead of 9m² (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016): the input tiles and the weights are
 * transformed (V = Bᵀ d B, U = G g Gᵀ), the products become (m+2)² GEMMs, one per tile
 * position ξ, M[ξ] = U[ξ][O, C] · V[ξ][C, T] over the T tiles, and Y = Aᵀ M A gives the
 * outputs. F(2×2) saves 2.25× the multiplies, F(4×4) 4× at the price of transforms four
 * times as dense and weights 4 times their size (6×6 against 3×3): it pays where there are
 * tiles enough to share each transformed weight, and where a frozen plan has transformed the
 * weights once at lowering (hb_conv_pack_weights). Rounding differs from im2col's by a few
 * ulps in F(2×2), by up to about ten in F(4×4) (its points 0, ±1, ±2 keep the transforms'
 * coefficients small); eager, compiled and frozen runs take the same form, so they give the
 * same bits. Which form each layer takes, and the measurements behind it: winograd_form. */

typedef struct wino_form {
    int m, a;                  /* output tile side; input tile side a = m + 2 */
    const float *bt, *g, *at; /* Bᵀ [a, a], G [a, 3], Aᵀ [m, a], row-major */
} wino_form;

enum { WINO_MAX_A = 6, WINO_MAX_M = 4 };

/* The transforms are vector loops over rows of tiles and blocks of kernels: compiled for
 * AVX-512 and AVX2 as well as baseline x86-64 (the library's own flags), chosen when the
 * library loads (as the interpreter's step). Built for baseline SSE2 alone, they took more
 * time than F(4×4)'s products. */
#if defined(__x86_64__)
#define WINO_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WINO_CLONES
#endif

static const float bt2[] = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1};
static const float g2[] = {1, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0, 0, 1};
static const float at2[] = {1, 1, 1, 0, 0, 1, -1, -1};
static const float bt4[] = {4, 0, -5, 0,  1, 0, 0, -4, -4, 1,  1, 0, 0, 4, -4, -1, 1, 0,
                            0, -2, -1, 2, 1, 0, 0, 2,  -1, -2, 1, 0, 0, 4, 0,  -5, 0, 1};
static const float g4[] = {1.0f / 4,  0,         0,         -1.0f / 6, -1.0f / 6, -1.0f / 6,
                           -1.0f / 6, 1.0f / 6,  -1.0f / 6, 1.0f / 24, 1.0f / 12, 1.0f / 6,
                           1.0f / 24, -1.0f / 12, 1.0f / 6, 0,         0,         1};
static const float at4[] = {1, 1, 1, 1, 1, 0, 0, 1, -1, 2, -2, 0,
                            0, 1, 1, 4, 4, 0, 0, 1, -1, 8, -8, 1};
static const wino_form wino_f2 = {2, 4, bt2, g2, at2}, wino_f4 = {4, 6, bt4, g4, at4};

static int64_t wino_tiles_across(const wino_form *f, const geom *g)
{
    return (g->ow + f->m - 1) / f->m;
}

static int64_t wino_tiles(const wino_form *f, const geom *g)
{
    return ((g->oh + f->m - 1) / f->m) * wino_tiles_across(f, g);
}

/* V's and M's rows (one channel's tiles) are padded to whole vectors, for the transforms'
 * vector loops; the GEMMs read and write the first t columns of each. */
enum { WINO_LANES = 16 };

static int64_t wino_ld(const wino_form *f, const geom *g)
{
    return (wino_tiles(f, g) + WINO_LANES - 1) / WINO_LANES * WINO_LANES;
}

int64_t hb_conv_winograd_tiles = -1;
int hb_conv_winograd_m = 0;

/* The form a convolution of g takes, or NULL for none. build/bench_conv on Zen 5, one thread,
 * frozen weights (im2col → Winograd, ms): 64 channels at 56×56 1.85 → F(4×4) 0.78 (F(2×2)
 * per call 1.36); 128 at 28×28 (49 tiles of 4×4) 1.60 → F(4×4) 0.73; 256 at 14×14 (16 tiles
 * of 4×4, 49 of 2×2) 1.9 → F(2×2) 1.0, F(4×4) 1.4-1.7; 512 at 7×7 (16 tiles of 2×2) 2.1-2.5
 * against F(2×2) 2.3-2.4 and F(4×4) 5.1: with so few tiles the transformed weights, 16/9 or
 * 4 times the size, cost more to read than the multiplies saved, and the products are too
 * narrow for the kernels (the forced-form frozen figures from a one-off harness calling
 * hb_kernel_conv2d with hb_conv_pack_weights' output; bench_conv times the forms per call
 * and the chosen one frozen). Hence each form from 49 of its tiles, F(4×4) first; and 16
 * channels in and out at least, where the products are more than the transforms. */
static const wino_form *winograd_form(const geom *g)
{
    if (hb_conv_winograd_tiles == 0 || g->kh != 3 || g->kw != 3 || g->sh != 1 || g->sw != 1 ||
        g->dh != 1 || g->dw != 1 || g->groups != 1)
        return NULL;
    const wino_form *f = hb_conv_winograd_m == 2 ? &wino_f2 : &wino_f4;
    if (hb_conv_winograd_tiles > 0) /* forced from that many tiles (tests, bench_conv) */
        return wino_tiles(f, g) >= hb_conv_winograd_tiles ? f : NULL;
    if (g->c < 16 || g->o < 16)
        return NULL;
    return wino_tiles(&wino_f4, g) >= 49 ? &wino_f4 : wino_tiles(&wino_f2, g) >= 49 ? &wino_f2 : NULL;
}

/* A padded input row: the tiles' span (m·tw + 2) or the image's, the longer. */
static int64_t wino_row_len(const wino_form *f, const geom *g)
{
    int64_t span = f->m * wino_tiles_across(f, g) + 2, len = span > g->w + g->pw ? span : g->w + g->pw;
    return (len + WINO_LANES - 1) / WINO_LANES * WINO_LANES;
}

/* One part's rows: a padded input rows, and for each row of tiles their a combinations, then
 * the a² de-interleaved rows of all tiles (inputs); or m·a rows of Aᵀ M and m of their
 * combinations, all tiles long (outputs). */
static int64_t winograd_rows(const wino_form *f, const geom *g)
{
    int64_t th = wino_tiles(f, g) / wino_tiles_across(f, g), len = wino_row_len(f, g);
    int64_t ld = wino_ld(f, g);
    int64_t inputs = (1 + th) * f->a * len + f->a * f->a * ld, outputs = (f->m * f->a + f->m) * ld;
    return inputs > outputs ? inputs : outputs;
}

/* The work space: V, M and U (U not where the plan transformed the weights), then each
 * part's rows. */
static size_t winograd_floats(const wino_form *f, const geom *g, int parts, bool own_u)
{
    int64_t ld = wino_ld(f, g), aa = f->a * f->a;
    return (size_t)(aa * (g->c * ld + g->o * ld + (own_u ? g->o * g->c : 0)) +
                    parts * winograd_rows(f, g));
}

/* GCC's generic vectors: AVX-512 registers in the x86-64-v4 clones, pairs of AVX2 ones in
 * v3, four SSE ones in the baseline. Loads and stores through memcpy (unaligned, no
 * aliasing assumed). */
typedef float wino_vec __attribute__((vector_size(WINO_LANES * sizeof(float))));

/* out[r][k] = Σi t[r][i] · in[i][k] for r < rows, k < len rounded up to whole vectors (the
 * rows are that long): each vector of the inputs loaded once for all rows of out, their
 * zero coefficients skipped. One pass per coefficient instead, the stores of the partial
 * sums bounded the transforms. Inlined into each form's transforms (wino_inputs_f4, ...),
 * where t is a constant table the compiler can fold (specializing them per form took the
 * 64-channel 56×56 layer from about 1.2 to 0.7 ms; the generated code was not inspected). */
static inline __attribute__((always_inline)) void combine(const float *t, int rows, int cols,
                                                          float *const *in, float *const *out,
                                                          int64_t len)
{
    for (int64_t k = 0; k < len; k += WINO_LANES) {
        wino_vec x[WINO_MAX_A];
#pragma GCC unroll 6
        for (int i = 0; i < cols; i++)
            memcpy(&x[i], in[i] + k, sizeof x[i]);
#pragma GCC unroll 6
        for (int r = 0; r < rows; r++) {
            wino_vec acc = {0};
#pragma GCC unroll 6
            for (int i = 0, first = 1; i < cols; i++) {
                float c = t[r * cols + i];
                if (c != 0.0f)
                    acc = first ? c * x[i] : acc + c * x[i], first = 0;
            }
            memcpy(out[r] + k, &acc, sizeof acc);
        }
    }
}

/* U[a²][O][C] = G g Gᵀ for 3×3 kernels [i0, i1) of w (of O·C), WINO_BLOCK kernels at a
 * time: their taps gathered into rows, so that each step below is a vector loop over the
 * block and each of U's a² rows is written contiguously (kernel by kernel, the writes
 * scattered over a² rows took longer than the products of a 512-channel layer). */
enum { WINO_BLOCK = 64 };

WINO_CLONES static void winograd_weights(const wino_form *f, const geom *g, const float *w,
                                         float *u, int64_t from, int64_t to)
{
    int64_t oc = g->o * g->c;
    int a = f->a;
    float k[9][WINO_BLOCK], t[WINO_MAX_A][3][WINO_BLOCK]; /* the taps; G g */
    for (int64_t i0 = from; i0 < to; i0 += WINO_BLOCK) {
        int64_t nb = to - i0 < WINO_BLOCK ? to - i0 : WINO_BLOCK;
        for (int64_t i = 0; i < nb; i++)
            for (int j = 0; j < 9; j++)
                k[j][i] = w[(i0 + i) * 9 + j];
        for (int r = 0; r < a; r++)
            for (int j = 0; j < 3; j++) {
                float g0 = f->g[r * 3], g1 = f->g[r * 3 + 1], g2 = f->g[r * 3 + 2];
                for (int64_t i = 0; i < nb; i++)
                    t[r][j][i] = g0 * k[j][i] + g1 * k[3 + j][i] + g2 * k[6 + j][i];
            }
        for (int r = 0; r < a; r++) /* (G g) Gᵀ */
            for (int s = 0; s < a; s++) {
                float g0 = f->g[s * 3], g1 = f->g[s * 3 + 1], g2 = f->g[s * 3 + 2];
                float *dst = u + (r * a + s) * oc + i0;
                for (int64_t i = 0; i < nb; i++)
                    dst[i] = t[r][0][i] * g0 + t[r][1][i] * g1 + t[r][2][i] * g2;
            }
    }
}

/* V[a²][C][T] = Bᵀ d B for channels [c0, c1)'s input tiles (zeros outside the image), a
 * channel at a time: for each row of tiles, the a input rows, zero-padded, are combined down
 * the tile (Bᵀ d, whole rows); each combined row is split into the a columns of each of its
 * tiles (e[r·a + j][t] = the row's value at m·tx + j for tile t = ty·tw + tx); then those
 * are combined across (· B) over all the channel's tiles at once, written straight into V,
 * where each position's values are contiguous (V's layout is the GEMMs'). Whole rows of
 * tiles a step, the loops ran tw long (14 on a 56×56 image), under a vector's width of
 * AVX-512 and mostly in scalar remainders. */
static inline __attribute__((always_inline)) void
winograd_inputs(const wino_form *f, const geom *g, const float *x, float *v,
                            float *rows, int64_t c0, int64_t c1)
{
    int m = f->m, a = f->a;
    int64_t tw = wino_tiles_across(f, g), th = wino_tiles(f, g) / tw, ld = wino_ld(f, g);
    int64_t len = wino_row_len(f, g), span = m * tw + 2, cld = g->c * ld;
    float *d[WINO_MAX_A], *b[WINO_MAX_A], *e[WINO_MAX_A * WINO_MAX_A], *out[WINO_MAX_A];
    for (int i = 0; i < a; i++)
        d[i] = rows + i * len;
    float *combined = rows + a * len, *split = combined + th * a * len;
    for (int i = 0; i < a * a; i++)
        e[i] = split + i * ld;
    for (int64_t c = c0; c < c1; c++) {
        const float *xc = x + c * g->h * g->w;
        for (int64_t ty = 0; ty < th; ty++) {
            for (int i = 0; i < a; i++) { /* d[i][k]: input row m·ty − ph + i, column k − pw */
                int64_t y = m * ty - g->ph + i;
                memset(d[i], 0, sizeof(float) * (size_t)len);
                if (y >= 0 && y < g->h) {
                    int64_t n = g->w < len - g->pw ? g->w : len - g->pw;
                    memcpy(d[i] + g->pw, xc + y * g->w, sizeof(float) * (size_t)n);
                }
            }
            for (int r = 0; r < a; r++)
                b[r] = combined + (ty * a + r) * len;
            combine(f->bt, a, a, d, b, span); /* Bᵀ d */
            for (int r = 0; r < a; r++)
                for (int j = 0; j < a; j++) {
                    float *dst = e[r * a + j] + ty * tw;
                    for (int64_t tx = 0; tx < tw; tx++)
                        dst[tx] = b[r][m * tx + j];
                }
        }
        for (int r = 0; r < a; r++) { /* (Bᵀ d) B */
            for (int s = 0; s < a; s++)
                out[s] = v + (r * a + s) * cld + c * ld;
            combine(f->bt, a, a, e + r * a, out, ld);
        }
    }
}

/* y[O, OH, OW] = Aᵀ M A for output channels [o0, o1)'s tiles, a channel at a time over all
 * its tiles (each position's values are contiguous in M), each tile's m×m outputs then
 * written to their place, clipped at the image's edge. */
static inline __attribute__((always_inline)) void
winograd_outputs(const wino_form *f, const geom *g, const float *mm, float *y,
                             float *rows, int64_t o0, int64_t o1)
{
    int m = f->m, a = f->a;
    int64_t tw = wino_tiles_across(f, g), th = wino_tiles(f, g) / tw, ld = wino_ld(f, g);
    int64_t old = g->o * ld;
    float *am[WINO_MAX_M * WINO_MAX_A], *z[WINO_MAX_M]; /* (Aᵀ M)[i][j], a row of it · A */
    for (int i = 0; i < m * a; i++)
        am[i] = rows + i * ld;
    for (int i = 0; i < m; i++)
        z[i] = rows + (m * a + i) * ld;
    for (int64_t o = o0; o < o1; o++) {
        float *yo = y + o * g->oh * g->ow;
        for (int j = 0; j < a; j++) { /* Aᵀ M, column j of every tile */
            float *in[WINO_MAX_A], *out[WINO_MAX_M];
            for (int i = 0; i < a; i++)
                in[i] = (float *)mm + (i * a + j) * old + o * ld; /* read only */
            for (int i = 0; i < m; i++)
                out[i] = am[i * a + j];
            combine(f->at, m, a, in, out, ld);
        }
        for (int i = 0; i < m; i++) { /* (Aᵀ M) A: output row i of every tile */
            combine(f->at, m, a, am + i * a, z, ld);
            for (int64_t ty = 0; ty < th && m * ty + i < g->oh; ty++) {
                float *line = yo + (m * ty + i) * g->ow;
                for (int64_t tx = 0; tx < tw; tx++)
                    for (int j = 0; j < m && m * tx + j < g->ow; j++)
                        line[m * tx + j] = z[j][ty * tw + tx];
            }
        }
    }
}

/* The transforms of each form, its tables constants. */
#define WINO_FORM_TRANSFORMS(F)                                                               \
    WINO_CLONES static void wino_inputs_##F(const geom *g, const float *x, float *v,          \
                                            float *rows, int64_t c0, int64_t c1)              \
    {                                                                                         \
        winograd_inputs(&wino_##F, g, x, v, rows, c0, c1);                                    \
    }                                                                                         \
    WINO_CLONES static void wino_outputs_##F(const geom *g, const float *mm, float *y,        \
                                             float *rows, int64_t o0, int64_t o1)             \
    {                                                                                         \
        winograd_outputs(&wino_##F, g, mm, y, rows, o0, o1);                                  \
    }
WINO_FORM_TRANSFORMS(f2)
WINO_FORM_TRANSFORMS(f4)

/* Winograd's steps, each split into parts: the weights' transform by kernels (per call, where
 * no plan transformed them), then for each image the input transform by channels, the a²
 * products, the output transform by output channels. */
typedef enum { WINO_WEIGHTS, WINO_INPUTS, WINO_PRODUCTS, WINO_OUTPUTS } wino_step;

typedef struct wino_job {
    const wino_form *f;
    const geom *g;
    const float *x, *w, *u, *packed_u; /* packed_u: U[ξ] in the kernels' strips, or NULL */
    float *y, *v, *m, *rows;
    wino_step step;
} wino_job;

/* U[ξ] of O·C floats at u, or (packed) each ξ's strips, hb_sgemm_pack_a_floats apart. */
static size_t wino_u_stride(const geom *g, bool packed)
{
    return packed ? hb_sgemm_pack_a_floats(hb_isa_active(), g->o, g->c) : (size_t)(g->o * g->c);
}

static void winograd_part(void *ctx, int part, int parts)
{
    const wino_job *j = ctx;
    const wino_form *f = j->f;
    const geom *g = j->g;
    int64_t t = wino_tiles(f, g), ld = wino_ld(f, g);
    int64_t count = j->step == WINO_INPUTS ? g->c : j->step == WINO_WEIGHTS ? g->o * g->c : g->o;
    int64_t per = (count + parts - 1) / parts;
    if (j->step == WINO_WEIGHTS) /* whole blocks of kernels */
        per = (per + WINO_BLOCK - 1) / WINO_BLOCK * WINO_BLOCK;
    int64_t from = part * per, to = from + per < count ? from + per : count;
    float *rows = j->rows + part * winograd_rows(f, g);
    if (j->step == WINO_WEIGHTS && from < to)
        winograd_weights(f, g, j->w, (float *)j->u, from, to);
    else if (j->step == WINO_INPUTS && from < to)
        (f->m == 4 ? wino_inputs_f4 : wino_inputs_f2)(g, j->x, j->v, rows, from, to);
    else if (j->step == WINO_OUTPUTS && from < to)
        (f->m == 4 ? wino_outputs_f4 : wino_outputs_f2)(g, j->m, j->y, rows, from, to);
    else if (j->step == WINO_PRODUCTS) {
        size_t us = wino_u_stride(g, j->packed_u != NULL);
        for (int xi = part; xi < f->a * f->a; xi += parts) {
            const float *u = (j->packed_u ? j->packed_u : j->u) + xi * us;
            /* packed: the strips are read, never a (given them as a valid pointer) */
            sgemm_packed(false, false, g->o, t, g->c, u, g->c, j->v + xi * g->c * ld, ld, 0.0f,
                         j->m + xi * g->o * ld, ld, j->packed_u ? u : NULL);
        }
    }
}

/* U transformed (and packed) at lowering, or NULL: transformed here, per call. A plan's
 * transformed weights are packed into strips only where hybrid's kernels run the products
 * (else they are plain U, for OpenBLAS). */
static void winograd_forward(const wino_form *f, const geom *g, const float *x, const float *w,
                             float *y, float *work, int threads, const float *planned_u)
{
    int64_t t = wino_tiles(f, g), ld = wino_ld(f, g), aa = f->a * f->a;
    float *v = work, *m = v + aa * g->c * ld, *u = m + aa * g->o * ld;
    float *rows = u + (planned_u ? 0 : aa * g->o * g->c);
    bool packed = planned_u && hb_sgemm_takes(g->o, t);
    wino_job j = {.f = f, .g = g, .w = w, .u = planned_u ? planned_u : u,
                  .packed_u = packed ? planned_u : NULL, .v = v, .m = m, .rows = rows};
    if (!planned_u) {
        j.step = WINO_WEIGHTS;
        hb_pool_run(threads, threads, winograd_part, &j);
    }
    for (int64_t n = 0; n < g->n; n++) {
        j.x = x + n * g->c * g->h * g->w, j.y = y + n * g->o * g->oh * g->ow;
        for (int step = WINO_INPUTS; step <= WINO_OUTPUTS; step++) {
            j.step = (wino_step)step;
            hb_pool_run(threads, threads, winograd_part, &j);
        }
    }
}

/* One convolution's work split over hybrid's threads: the parts of a job. */
typedef struct conv_job {
    const geom *g;
    const float *x, *w;
    float *y;
    float *col; /* im2col: one band's buffer per part, side by side */
    const float *packed_w; /* the weights in the GEMM kernels' strips (one group), or NULL */
} conv_job;

/* ---- forward ------------------------------------------------------------------------------ */

/* Part p's output channels of every image, by the direct kernel. */
static void direct_part(void *ctx, int part, int parts)
{
    const conv_job *j = ctx;
    const geom *g = j->g;
    int64_t p = g->oh * g->ow, step = (g->o + parts - 1) / parts;
    int64_t o0 = part * step, o1 = o0 + step < g->o ? o0 + step : g->o;
    for (int64_t n = 0; n < g->n; n++) {
        const float *xn = j->x + n * g->c * g->h * g->w;
        float *yn = j->y + n * g->o * p;
        if (o1 > o0)
            memset(yn + o0 * p, 0, sizeof(float) * (size_t)((o1 - o0) * p));
        for (int64_t o = o0; o < o1; o++)
            direct_channel(g, xn, j->w, o, yn + o * p);
    }
}

/* Part p's output rows of every image and group, lowered a band at a time into its own part
 * of the buffer: each output is the same sum, whichever part computes it. */
static void rows_part(void *ctx, int part, int parts)
{
    const conv_job *j = ctx;
    const geom *g = j->g;
    int64_t p = g->oh * g->ow, k = g->cg * g->kh * g->kw, band = band_rows(g);
    int64_t step = (g->oh + parts - 1) / parts;
    int64_t oh0 = part * step, oh1 = oh0 + step < g->oh ? oh0 + step : g->oh;
    float *col = j->col + part * k * band * g->ow;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t grp = 0; grp < g->groups; grp++) {
            const float *xg = j->x + (n * g->c + grp * g->cg) * g->h * g->w;
            const float *wg = j->w + grp * g->og * k;
            float *yg = j->y + (n * g->o + grp * g->og) * p;
            for (int64_t oh = oh0; oh < oh1; oh += band) {
                int64_t rows = oh + band > oh1 ? oh1 - oh : band, cols = rows * g->ow;
                im2col(g, xg, col, oh, oh + rows);
                sgemm_packed(false, false, g->og, cols, k, wg, k, col, cols, 0.0f,
                             yg + oh * g->ow, p, j->packed_w);
            }
        }
}

/* Parts of an im2col convolution split by output rows: one per thread while each part's
 * product keeps ROW_SPLIT_COLS columns or more; else one part, whose product splits itself
 * over the threads by rows of weights. ResNet-18's last layers (7×7 outputs) split by rows
 * gave products 28 and 21 columns wide, under a tile of hybrid's kernels, which OpenBLAS ran
 * with its own threads spinning against hybrid's (two threads ran slower than one). */
enum { ROW_SPLIT_COLS = 256 };

static int row_parts(const geom *g, int threads)
{
    int parts = threads < g->oh ? threads : (int)g->oh;
    int64_t rows = (g->oh + parts - 1) / parts;
    return rows * g->ow >= ROW_SPLIT_COLS ? parts : 1;
}

/* A convolution with few output positions P (ResNet-18's 7×7 and 14×14 layers) runs its
 * product turned around, yᵀ[P, O] = colᵀ · Wᵀ, and yᵀ is transposed into place: the kernels'
 * tiles are 32 columns wide, and P = 49 columns filled 49 of 64 (196: of 224), where the O
 * output channels, a multiple of 32 in most networks, fill them all and the P rows fill the
 * strips to the row (the kernels compute only an edge strip's rows). Taken where the turned
 * product wastes less of its tiles by a margin, the image is lowered in one band, and the
 * product is one for hybrid's kernels. */
static bool turned(const geom *g)
{
    int64_t p = g->oh * g->ow, nr = hb_sgemm_tile_cols();
    if (g->groups != 1 || g->cg == 1 || band_rows(g) != g->oh || !hb_sgemm_takes(p, g->o))
        return false;
    double waste = (double)((p + nr - 1) / nr * nr) / (double)p;
    double waste_turned = (double)((g->o + nr - 1) / nr * nr) / (double)g->o;
    return waste_turned + 0.05 < waste;
}

/* The turned product's steps around its GEMM, split over the threads: the lowering by
 * channels, the transposition into place by output channels (on one thread, the lowering of
 * a 28×28 image at stride 2 took a third of the layer's time, the other thread waiting). */
typedef struct turn_job {
    const geom *g;
    const float *x;
    float *col, *yt, *y;
    bool lowering; /* else transposing */
} turn_job;

static void turn_part(void *ctx, int part, int parts)
{
    const turn_job *j = ctx;
    const geom *g = j->g;
    int64_t p = g->oh * g->ow, count = j->lowering ? g->c : g->o;
    int64_t per = (count + parts - 1) / parts, from = part * per;
    int64_t to = from + per < count ? from + per : count;
    if (j->lowering)
        im2col_channels(g, j->x, j->col, 0, g->oh, from, to);
    else
        for (int64_t o = from; o < to; o++)
            for (int64_t i = 0; i < p; i++)
                j->y[o * p + i] = j->yt[i * g->o + o];
}

/* y = (colᵀ · Wᵀ)ᵀ image by image, the product over the threads (it splits itself), Wᵀ's
 * panels packed at lowering (planned_b) or per call. */
static void turned_forward(const geom *g, const float *x, const float *w, float *y,
                           float *work, const float *planned_b, int threads)
{
    int64_t p = g->oh * g->ow, k = g->c * g->kh * g->kw;
    bool flat = pointwise(g);
    turn_job j = {.g = g, .col = work, .yt = work + (flat ? 0 : k * p)};
    for (int64_t n = 0; n < g->n; n++) {
        j.x = x + n * g->c * g->h * g->w, j.y = y + n * g->o * p;
        j.lowering = true;
        if (!flat)
            hb_pool_run(threads, threads, turn_part, &j);
        sgemm_packed2(true, true, p, g->o, k, flat ? j.x : j.col, p, w, k, 0.0f, j.yt, g->o,
                      NULL, planned_b);
        j.lowering = false;
        hb_pool_run(threads, threads, turn_part, &j);
    }
}

/* y[N, O, OH, OW] = conv(x, w), no bias; on hybrid's threads when it is big enough, split by
 * output rows (im2col), channels (direct) or Winograd's 16 products. */
static void conv_forward(const geom *g, const float *x, const float *w, float *y,
                         const float *packed_w)
{
    int threads = conv_threads(g);
    const wino_form *f = winograd_form(g);
    float *work = f ? scratch_get(winograd_floats(f, g, threads, !packed_w)) : NULL;
    if (work) {
        winograd_forward(f, g, x, w, y, work, threads, packed_w);
        return;
    }
    if (f) /* no room for Winograd: im2col, and the plan's weights are not its strips */
        packed_w = NULL;
    if (!f && turned(g)) {
        int64_t p = g->oh * g->ow, k = g->c * g->kh * g->kw;
        float *turn = scratch_get((size_t)((pointwise(g) ? 0 : k * p) + p * g->o));
        if (turn) {
            turned_forward(g, x, w, y, turn, packed_w, threads);
            return;
        }
        packed_w = NULL; /* Wᵀ's panels, not W's strips */
    }
    int parts = row_parts(g, threads);
    bool direct;
    float *col = lowering(g, &direct, parts);
    conv_job j = {.g = g, .x = x, .w = w, .y = y, .col = col, .packed_w = packed_w};
    if (direct) {
        hb_pool_run(threads, threads, direct_part, &j);
        return;
    }
    if (col && parts > 1) {
        hb_pool_run(threads, parts, rows_part, &j);
        return;
    }
    if (col) { /* not from the pool: the product takes the threads */
        rows_part(&j, 0, 1);
        return;
    }
    int64_t p = g->oh * g->ow, k = g->cg * g->kh * g->kw;
    for (int64_t n = 0; n < g->n; n++) /* pointwise: the image is the matrix */
        for (int64_t grp = 0; grp < g->groups; grp++)
            sgemm_packed(false, false, g->og, p, k, w + grp * g->og * k, k,
                         x + (n * g->c + grp * g->cg) * g->h * g->w, p, 0.0f,
                         y + (n * g->o + grp * g->og) * p, p, packed_w);
}

float *hb_conv_pack_weights(const hb_shape *x, const hb_shape *w, const hb_shape *y,
                            const hb_window *win, const float *wdata)
{
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4 || win->groups != 1)
        return NULL;
    geom g = geometry(x, w, y, win);
    int64_t k = g.c * g.kh * g.kw;
    hb_isa isa = hb_isa_active();
    const wino_form *f = winograd_form(&g);
    if (f) { /* U = G g Gᵀ, then each ξ's matrix into strips where hybrid's kernels take it */
        size_t aa = (size_t)(f->a * f->a), oc = (size_t)(g.o * g.c);
        float *u = hb_aligned_alloc(sizeof(float) * aa * oc);
        if (!u || !hb_sgemm_takes(g.o, wino_tiles(f, &g)))
            return u ? (winograd_weights(f, &g, wdata, u, 0, (int64_t)oc), u) : NULL;
        size_t stride = wino_u_stride(&g, true);
        float *packed = hb_aligned_alloc(sizeof(float) * aa * stride);
        winograd_weights(f, &g, wdata, u, 0, (int64_t)oc);
        for (size_t xi = 0; packed && xi < aa; xi++)
            hb_sgemm_pack_a(isa, false, g.o, g.c, u + xi * oc, g.c, packed + xi * stride);
        hb_aligned_free(u);
        return packed;
    }
    if (g.cg == 1 || k == 0)
        return NULL;
    if (turned(&g)) { /* Wᵀ as the product's B: its panels */
        float *panels = hb_aligned_alloc(sizeof(float) * hb_sgemm_pack_floats(isa, g.o, k));
        if (panels)
            hb_sgemm_pack(isa, true, g.o, k, wdata, k, panels);
        return panels;
    }
    if (!hb_sgemm_takes(g.o, INT64_MAX))
        return NULL;
    float *packed = hb_aligned_alloc(sizeof(float) * hb_sgemm_pack_a_floats(isa, g.o, k));
    if (packed)
        hb_sgemm_pack_a(isa, false, g.o, k, wdata, k, packed);
    return packed;
}

const char *hb_conv_method(const hb_shape *x, const hb_shape *w, const hb_shape *y,
                           const hb_window *win)
{
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4)
        return "direct";
    geom g = geometry(x, w, y, win);
    const wino_form *f = winograd_form(&g);
    if (f)
        return f->m == 4 ? "Winograd F(4×4, 3×3)" : "Winograd F(2×2, 3×3)";
    if (g.cg == 1)
        return "direct";
    if (turned(&g))
        return pointwise(&g) ? "pointwise GEMM turned (yᵀ = xᵀ·Wᵀ)" : "im2col GEMM turned (yᵀ = colᵀ·Wᵀ)";
    return pointwise(&g) ? "pointwise GEMM" : "im2col GEMM";
}

static void add_bias(const geom *g, const float *b, float *y)
{
    int64_t p = g->oh * g->ow;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->o; o++) {
            float *r = y + (n * g->o + o) * p, bv = b[o];
            for (int64_t i = 0; i < p; i++)
                r[i] += bv;
        }
}

void hb_kernel_conv2d(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    geom g = geometry(&in[0].shape, &in[1].shape, &out->shape, &at->win);
    conv_forward(&g, in[0].data, in[1].data, out->data, at->packed);
    if (n == 3)
        add_bias(&g, in[2].data, out->data);
}

/* The convolution, then the epilogue over each channel's plane of each image: per-channel
 * inputs are one value there and whole ones the plane's part, so every program runs as one
 * flat pass (run as [O, 1] columns against [O, P], the interpreter spread the columns chunk
 * by chunk: ResNet-18's live plan took 42.5 ms, against 41.0 ms this way); the planes are
 * split over hybrid's threads. */
typedef struct epilogue_job {
    const geom *g;
    const hb_operand *in, *out;
    int n;
    const hb_program *prog;
} epilogue_job;

/* Part p's planes (image, channel) of the epilogue. */
static void epilogue_part(void *ctx, int part, int parts)
{
    const epilogue_job *j = ctx;
    const geom *g = j->g;
    int64_t p = g->oh * g->ow, planes = g->n * g->o, step = (planes + parts - 1) / parts;
    hb_shape plane = {.ndim = 1, .dim = {p}}, one = {.ndim = 0};
    for (int64_t q = part * step; q < (part + 1) * step && q < planes; q++) {
        int64_t o = q % g->o;
        hb_operand ops[HB_PROG_MAX_REGS], y = {j->out->data + q * p, plane, HB_F32};
        ops[0] = y;
        for (int i = 2; i < j->n; i++) {
            int64_t numel = hb_shape_numel(&j->in[i].shape);
            if (numel == 1)
                ops[i - 1] = (hb_operand){j->in[i].data, one, HB_F32};
            else if (numel == g->o)
                ops[i - 1] = (hb_operand){j->in[i].data + o, one, HB_F32};
            else
                ops[i - 1] = (hb_operand){j->in[i].data + q * p, plane, HB_F32};
        }
        hb_program_run(j->prog, ops, &y);
    }
}

void hb_kernel_fused_conv(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    geom g = geometry(&in[0].shape, &in[1].shape, &out->shape, &at->win);
    conv_forward(&g, in[0].data, in[1].data, out->data, at->packed);
    if (at->prog->nins == 1 && at->prog->ins[0].op == HB_OP_COPY)
        return;
    epilogue_job j = {&g, in, out, n, at->prog};
    int threads = conv_threads(&g);
    hb_pool_run(threads, threads, epilogue_part, &j);
}

/* ---- gradients ---------------------------------------------------------------------------- */

/* The transposed convolution, which is also the convolution's input gradient: dx[N, C, H, W]
 * from g[N, O, OH, OW] and w; inputs (g, w), attrs.shape = x's shape. */
void hb_kernel_conv_transpose2d(const hb_operand *in, int n, const hb_operand *out,
                                const hb_attrs *at)
{
    (void)n;
    geom g = geometry(&out->shape, &in[1].shape, &in[0].shape, &at->win);
    const float *gy = in[0].data, *w = in[1].data;
    float *dx = out->data;
    int64_t p = g.oh * g.ow, k = g.cg * g.kh * g.kw, plane = g.h * g.w, band = band_rows(&g);
    bool direct;
    float *col = lowering(&g, &direct, 1);
    for (int64_t i = 0; i < g.n; i++) {
        const float *gi = gy + i * g.o * p;
        float *dxi = dx + i * g.c * plane;
        if (direct || col)
            memset(dxi, 0, sizeof(float) * (size_t)(g.c * plane));
        for (int64_t grp = 0; grp < g.groups; grp++) {
            const float *wg = w + grp * g.og * k, *gg = gi + grp * g.og * p;
            float *dxg = dxi + grp * g.cg * plane;
            if (direct) { /* each output tap sends g·w back to its input */
                for (int64_t o = grp * g.og; o < (grp + 1) * g.og; o++)
                    for (int64_t ki = 0; ki < g.kh; ki++)
                        for (int64_t kj = 0; kj < g.kw; kj++) {
                            int64_t start = kj * g.dw - g.pw, lo, hi;
                            valid_cols(g.ow, g.sw, start, g.w, &lo, &hi);
                            for (int64_t c = 0; c < g.cg; c++) {
                                float wv = w[((o * g.cg + c) * g.kh + ki) * g.kw + kj];
                                for (int64_t oh = 0; oh < g.oh; oh++) {
                                    int64_t ih = oh * g.sh - g.ph + ki * g.dh;
                                    if (ih < 0 || ih >= g.h)
                                        continue;
                                    float *dst = dxg + c * plane + ih * g.w;
                                    const float *src = gi + o * p + oh * g.ow;
                                    for (int64_t ow = lo; ow < hi; ow++)
                                        dst[start + ow * g.sw] += wv * src[ow];
                                }
                            }
                        }
                continue;
            }
            if (!col) { /* pointwise: dx = Wᵀ[Cg, Og] · g[Og, P] itself */
                sgemm(true, false, k, p, g.og, wg, k, gg, p, 0.0f, dxg, p);
                continue;
            }
            for (int64_t oh = 0; oh < g.oh; oh += band) { /* col = Wᵀ · g, band by band */
                int64_t rows = oh + band > g.oh ? g.oh - oh : band, cols = rows * g.ow;
                sgemm(true, false, k, cols, g.og, wg, k, gg + oh * g.ow, p, 0.0f, col, cols);
                col2im(&g, col, dxg, oh, oh + rows);
            }
        }
    }
}

/* dw[O, Cg, kh, kw] from g[N, O, OH, OW] and x: inputs (g, x), attrs.shape = w's shape. */
void hb_kernel_conv2d_grad_w(const hb_operand *in, int n, const hb_operand *out,
                             const hb_attrs *at)
{
    (void)n;
    geom g = geometry(&in[1].shape, &out->shape, &in[0].shape, &at->win);
    const float *gy = in[0].data, *x = in[1].data;
    float *dw = out->data;
    int64_t p = g.oh * g.ow, k = g.cg * g.kh * g.kw, plane = g.h * g.w, band = band_rows(&g);
    bool direct;
    float *col = lowering(&g, &direct, 1);
    memset(dw, 0, sizeof(float) * (size_t)hb_shape_numel(&out->shape));
    for (int64_t i = 0; i < g.n; i++) {
        const float *gi = gy + i * g.o * p, *xi = x + i * g.c * plane;
        for (int64_t grp = 0; grp < g.groups; grp++) {
            const float *gg = gi + grp * g.og * p, *xg = xi + grp * g.cg * plane;
            float *dwg = dw + grp * g.og * k;
            if (direct) {
                for (int64_t o = 0; o < g.og; o++)
                    for (int64_t c = 0; c < g.cg; c++)
                        for (int64_t ki = 0; ki < g.kh; ki++)
                            for (int64_t kj = 0; kj < g.kw; kj++) {
                                int64_t start = kj * g.dw - g.pw, lo, hi;
                                valid_cols(g.ow, g.sw, start, g.w, &lo, &hi);
                                double acc = 0.0;
                                for (int64_t oh = 0; oh < g.oh; oh++) {
                                    int64_t ih = oh * g.sh - g.ph + ki * g.dh;
                                    if (ih < 0 || ih >= g.h)
                                        continue;
                                    const float *src = xg + c * plane + ih * g.w;
                                    const float *gr = gg + o * p + oh * g.ow;
                                    for (int64_t ow = lo; ow < hi; ow++)
                                        acc += (double)gr[ow] * src[start + ow * g.sw];
                                }
                                dwg[((o * g.cg + c) * g.kh + ki) * g.kw + kj] += (float)acc;
                            }
                continue;
            }
            if (!col) { /* pointwise: dW[Og, Cg] += g[Og, P] · xᵀ[P, Cg] */
                sgemm(false, true, g.og, k, p, gg, p, xg, p, 1.0f, dwg, k);
                continue;
            }
            for (int64_t oh = 0; oh < g.oh; oh += band) { /* dW += g · colᵀ, band by band */
                int64_t rows = oh + band > g.oh ? g.oh - oh : band, cols = rows * g.ow;
                im2col(&g, xg, col, oh, oh + rows);
                sgemm(false, true, g.og, k, cols, gg + oh * g.ow, p, col, cols, 1.0f, dwg, k);
            }
        }
    }
}

/* ---- pools -------------------------------------------------------------------------------- */

typedef struct pgeom {
    int64_t planes, h, w, oh, ow;
    int kh, kw, sh, sw, ph, pw;
    bool exclude_pad;
} pgeom;

static pgeom pool_geometry(const hb_shape *x, const hb_shape *y, const hb_window *win)
{
    return (pgeom){x->dim[0] * x->dim[1], x->dim[2], x->dim[3], y->dim[2], y->dim[3],
                   win->kernel[0], win->kernel[1], win->stride[0], win->stride[1], win->pad[0],
                   win->pad[1], win->exclude_pad};
}

/* What average-pool window (oh, ow) divides by, as PyTorch: the window clipped to the padded
 * input (a ceil-mode window's overhang past the padding never counts), or, excluding padding,
 * to the input itself. */
static float avg_divisor(const pgeom *g, int64_t oh, int64_t ow)
{
    int64_t h0 = oh * g->sh - g->ph, w0 = ow * g->sw - g->pw;
    int64_t h1 = h0 + g->kh, w1 = w0 + g->kw;
    h1 = h1 < g->h + g->ph ? h1 : g->h + g->ph, w1 = w1 < g->w + g->pw ? w1 : g->w + g->pw;
    if (g->exclude_pad) {
        h0 = h0 > 0 ? h0 : 0, w0 = w0 > 0 ? w0 : 0;
        h1 = h1 < g->h ? h1 : g->h, w1 = w1 < g->w ? w1 : g->w;
    }
    return (float)((h1 - h0) * (w1 - w0));
}

/* The index in the plane of window (oh, ow)'s first maximum (a NaN wins, as in PyTorch). */
static int64_t window_argmax(const pgeom *g, const float *x, int64_t oh, int64_t ow)
{
    int64_t best = -1;
    float m = -INFINITY;
    for (int ki = 0; ki < g->kh; ki++) {
        int64_t ih = oh * g->sh - g->ph + ki;
        if (ih < 0 || ih >= g->h)
            continue;
        for (int kj = 0; kj < g->kw; kj++) {
            int64_t iw = ow * g->sw - g->pw + kj;
            if (iw < 0 || iw >= g->w)
                continue;
            float v = x[ih * g->w + iw];
            if (best < 0 || v > m || (isnan(v) && !isnan(m)))
                m = v, best = ih * g->w + iw;
        }
    }
    return best; /* padding is at most half the kernel: every window holds an input */
}

/* The larger of a and b, NaN if either is (PyTorch's max pool propagates NaN). */
static inline float max_nan(float a, float b) { return a > b || a != a ? a : b; }

enum { POOL_ROW_MAX = 4096 }; /* the fast path's row buffer, on the stack */

/* Each output row: the maximum over the window's input rows first (contiguous, vectorized),
 * then over each window's columns of that row: the same maximum as window by window. */
void hb_kernel_max_pool2d(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    pgeom g = pool_geometry(&in[0].shape, &out->shape, &at->win);
    float rowmax[POOL_ROW_MAX];
    for (int64_t pl = 0; pl < g.planes; pl++) {
        const float *x = in[0].data + pl * g.h * g.w;
        float *y = out->data + pl * g.oh * g.ow;
        for (int64_t oh = 0; oh < g.oh; oh++) {
            if (g.w > POOL_ROW_MAX) {
                for (int64_t ow = 0; ow < g.ow; ow++)
                    y[oh * g.ow + ow] = x[window_argmax(&g, x, oh, ow)];
                continue;
            }
            int64_t i0 = oh * g.sh - g.ph, i1 = i0 + g.kh;
            i0 = i0 < 0 ? 0 : i0, i1 = i1 > g.h ? g.h : i1; /* never empty: pad <= kernel/2 */
            memcpy(rowmax, x + i0 * g.w, sizeof(float) * (size_t)g.w);
            for (int64_t ih = i0 + 1; ih < i1; ih++) {
                const float *xr = x + ih * g.w;
                for (int64_t iw = 0; iw < g.w; iw++) { /* max_nan, written to vectorize */
                    float v = xr[iw], r = rowmax[iw];
                    rowmax[iw] = ((v > r) | (v != v)) ? v : r;
                }
            }
            /* windows wholly inside the row: tap by tap over all of them (vectorized) */
            int64_t lo = (g.pw + g.sw - 1) / g.sw, hi = g.w - g.kw + g.pw >= 0
                                                            ? (g.w - g.kw + g.pw) / g.sw + 1 : 0;
            hi = hi > g.ow ? g.ow : hi, lo = lo > hi ? hi : lo;
            float *yr = y + oh * g.ow;
            for (int64_t ow = lo; ow < hi; ow++)
                yr[ow] = rowmax[ow * g.sw - g.pw];
            for (int kj = 1; kj < g.kw; kj++)
                for (int64_t ow = lo; ow < hi; ow++) {
                    float v = rowmax[ow * g.sw - g.pw + kj], r = yr[ow];
                    yr[ow] = ((v > r) | (v != v)) ? v : r;
                }
            for (int64_t ow = 0; ow < g.ow; ow++) { /* the edges, clipped */
                if (ow == lo && hi > lo)
                    ow = hi;
                if (ow >= g.ow)
                    break;
                int64_t j0 = ow * g.sw - g.pw, j1 = j0 + g.kw;
                j0 = j0 < 0 ? 0 : j0, j1 = j1 > g.w ? g.w : j1;
                float m = rowmax[j0];
                for (int64_t j = j0 + 1; j < j1; j++)
                    m = max_nan(rowmax[j], m);
                yr[ow] = m;
            }
        }
    }
}

/* Inputs (g, x): each window's g goes to its first maximum. */
void hb_kernel_max_pool2d_grad(const hb_operand *in, int n, const hb_operand *out,
                               const hb_attrs *at)
{
    (void)n;
    pgeom g = pool_geometry(&in[1].shape, &in[0].shape, &at->win);
    memset(out->data, 0, sizeof(float) * (size_t)hb_shape_numel(&out->shape));
    for (int64_t pl = 0; pl < g.planes; pl++) {
        const float *x = in[1].data + pl * g.h * g.w, *gy = in[0].data + pl * g.oh * g.ow;
        float *dx = out->data + pl * g.h * g.w;
        for (int64_t oh = 0; oh < g.oh; oh++)
            for (int64_t ow = 0; ow < g.ow; ow++)
                dx[window_argmax(&g, x, oh, ow)] += gy[oh * g.ow + ow];
    }
}

/* The average over the window: padding counted as zeros (PyTorch's count_include_pad) or
 * left out (exclude_pad). */
void hb_kernel_avg_pool2d(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    pgeom g = pool_geometry(&in[0].shape, &out->shape, &at->win);
    for (int64_t pl = 0; pl < g.planes; pl++) {
        const float *x = in[0].data + pl * g.h * g.w;
        float *y = out->data + pl * g.oh * g.ow;
        for (int64_t oh = 0; oh < g.oh; oh++)
            for (int64_t ow = 0; ow < g.ow; ow++) {
                float s = 0.0f;
                for (int ki = 0; ki < g.kh; ki++) {
                    int64_t ih = oh * g.sh - g.ph + ki;
                    for (int kj = 0; ih >= 0 && ih < g.h && kj < g.kw; kj++) {
                        int64_t iw = ow * g.sw - g.pw + kj;
                        if (iw >= 0 && iw < g.w)
                            s += x[ih * g.w + iw];
                    }
                }
                y[oh * g.ow + ow] = s / avg_divisor(&g, oh, ow);
            }
    }
}

/* Input g; attrs.shape is x's: each window's g over its divisor to every input it covers. */
void hb_kernel_avg_pool2d_grad(const hb_operand *in, int n, const hb_operand *out,
                               const hb_attrs *at)
{
    (void)n;
    pgeom g = pool_geometry(&out->shape, &in[0].shape, &at->win);
    memset(out->data, 0, sizeof(float) * (size_t)hb_shape_numel(&out->shape));
    for (int64_t pl = 0; pl < g.planes; pl++) {
        const float *gy = in[0].data + pl * g.oh * g.ow;
        float *dx = out->data + pl * g.h * g.w;
        for (int64_t oh = 0; oh < g.oh; oh++)
            for (int64_t ow = 0; ow < g.ow; ow++) {
                float v = gy[oh * g.ow + ow] / avg_divisor(&g, oh, ow);
                for (int ki = 0; ki < g.kh; ki++) {
                    int64_t ih = oh * g.sh - g.ph + ki;
                    for (int kj = 0; ih >= 0 && ih < g.h && kj < g.kw; kj++) {
                        int64_t iw = ow * g.sw - g.pw + kj;
                        if (iw >= 0 && iw < g.w)
                            dx[ih * g.w + iw] += v;
                    }
                }
            }
    }
}

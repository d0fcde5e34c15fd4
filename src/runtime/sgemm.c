/* hybrid's own SGEMM, BLIS's way. The product is cut into blocks that fit the caches: KC
 * values of k at a time, B's block packed into panels NR columns wide (each k-step of a panel
 * one contiguous row of NR values), A's block into panels MR rows tall (each k-step MR values),
 * zeros padding the edges. A microkernel keeps one MR×NR tile of C in registers over a whole
 * KC step: each k-step loads one row of the B panel (NR/16 or NR/8 vectors) and multiplies it
 * by each of MR values of A, broadcast — MR·NR/lanes fused multiply-adds per k-step against
 * NR/lanes loads and MR broadcasts.
 *
 *   avx512: 12×32, 24 of 32 zmm accumulating (MLAS's AVX-512 tile)
 *   avx2:    6×16, 12 of 16 ymm accumulating (BLIS's Haswell tile)
 *   generic:  4×8, plain C the compiler vectorizes for the baseline ISA (SSE2: 8 of 16 xmm)
 *
 * Debian's OpenBLAS picks its kernels by CPU model and falls back to old ones on CPUs newer
 * than it (Prescott SSE3 on a Sapphire Rapids Xeon, Haswell AVX2 on Zen 5); these are chosen
 * by the features the CPU reports. */
#include "sgemm.h"

#include "../common.h"
#include "kernels.h"
#include "pool.h"

#include <cblas.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

enum { KC = 256, MC = 96, NC = 4096, MAX_MR = 12, MAX_NR = 32 }; /* MC: a multiple of each MR */

typedef void (*micro_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                         bool add);

/* ---- the microkernels: c (+)= Σp a[p·MR + i]·b[p·NR + j] over one tile ------------------ */

static void micro_generic(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                          bool add)
{
    float acc[4][8] = {{0}}; /* 8 vectors of SSE2's 4 lanes: baseline x86-64 has 16 registers */
    for (int64_t p = 0; p < kc; p++) {
        const float *bp = b + p * 8;
        for (int i = 0; i < 4; i++) {
            float ai = a[p * 4 + i];
            for (int j = 0; j < 8; j++)
                acc[i][j] += ai * bp[j];
        }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            c[i * ldc + j] = add ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#ifdef HAVE_X86
/* The tiles as named variables, row by row: GCC keeps an array of vectors in memory (a store
 * of every accumulator each k-step), named ones in registers. FOR_ROWS_n(X) is X(0) ... X(n-1). */
#define FOR_ROWS_1(X) X(0)
#define FOR_ROWS_2(X) FOR_ROWS_1(X) X(1)
#define FOR_ROWS_3(X) FOR_ROWS_2(X) X(2)
#define FOR_ROWS_4(X) FOR_ROWS_3(X) X(3)
#define FOR_ROWS_5(X) FOR_ROWS_4(X) X(4)
#define FOR_ROWS_6(X) FOR_ROWS_5(X) X(5)
#define FOR_ROWS_7(X) FOR_ROWS_6(X) X(6)
#define FOR_ROWS_8(X) FOR_ROWS_7(X) X(7)
#define FOR_ROWS_9(X) FOR_ROWS_8(X) X(8)
#define FOR_ROWS_10(X) FOR_ROWS_9(X) X(9)
#define FOR_ROWS_11(X) FOR_ROWS_10(X) X(10)
#define FOR_ROWS_12(X) FOR_ROWS_11(X) X(11)

#define AVX2_ZERO(i) __m256 c##i##a = _mm256_setzero_ps(), c##i##b = _mm256_setzero_ps();
#define AVX2_STEP(i)                                                                              \
    {                                                                                             \
        __m256 ai = _mm256_broadcast_ss(a + p * 6 + i);                                           \
        c##i##a = _mm256_fmadd_ps(ai, b0, c##i##a), c##i##b = _mm256_fmadd_ps(ai, b1, c##i##b);  \
    }
#define AVX2_STORE(i)                                                                             \
    {                                                                                             \
        float *ci = c + i * ldc;                                                                  \
        if (add)                                                                                  \
            c##i##a = _mm256_add_ps(c##i##a, _mm256_loadu_ps(ci)),                                \
            c##i##b = _mm256_add_ps(c##i##b, _mm256_loadu_ps(ci + 8));                            \
        _mm256_storeu_ps(ci, c##i##a), _mm256_storeu_ps(ci + 8, c##i##b);                         \
    }

/* ISA_R (micro_avx2_3, ...): a tile's first R rows (R = MR: the whole tile) over kc steps,
 * each loading one row of the B panel (LOAD_B: b0, b1) and broadcasting R values of A; the
 * rows below an edge strip's last are not computed (on a 64-row product, 6-row strips
 * computed 66). */
#define MICRO(ISA, TARGET, PREFIX, R, LOAD_B)                                                     \
    __attribute__((target(TARGET))) static void ISA##_##R(                                        \
        int64_t kc, const float *a, const float *b, float *c, int64_t ldc, bool add)             \
    {                                                                                             \
        FOR_ROWS_##R(PREFIX##_ZERO) for (int64_t p = 0; p < kc; p++)                              \
        {                                                                                         \
            LOAD_B                                                                                \
            FOR_ROWS_##R(PREFIX##_STEP)                                                           \
        }                                                                                         \
        FOR_ROWS_##R(PREFIX##_STORE)                                                              \
    }
#define AVX2_LOAD_B __m256 b0 = _mm256_load_ps(b + p * 16), b1 = _mm256_load_ps(b + p * 16 + 8);
#define AVX2_MICRO(R) MICRO(micro_avx2, "avx2,fma", AVX2, R, AVX2_LOAD_B)
AVX2_MICRO(1)
AVX2_MICRO(2)
AVX2_MICRO(3)
AVX2_MICRO(4)
AVX2_MICRO(5)
AVX2_MICRO(6)

#define AVX512_ZERO(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
#define AVX512_STEP(i)                                                                            \
    {                                                                                             \
        __m512 ai = _mm512_set1_ps(a[p * 12 + i]);                                                \
        c##i##a = _mm512_fmadd_ps(ai, b0, c##i##a), c##i##b = _mm512_fmadd_ps(ai, b1, c##i##b);  \
    }
#define AVX512_STORE(i)                                                                           \
    {                                                                                             \
        float *ci = c + i * ldc;                                                                  \
        if (add)                                                                                  \
            c##i##a = _mm512_add_ps(c##i##a, _mm512_loadu_ps(ci)),                                \
            c##i##b = _mm512_add_ps(c##i##b, _mm512_loadu_ps(ci + 16));                           \
        _mm512_storeu_ps(ci, c##i##a), _mm512_storeu_ps(ci + 16, c##i##b);                        \
    }

#define AVX512_LOAD_B __m512 b0 = _mm512_load_ps(b + p * 32), b1 = _mm512_load_ps(b + p * 32 + 16);
#define AVX512_MICRO(R) MICRO(micro_avx512, "avx512f", AVX512, R, AVX512_LOAD_B)
AVX512_MICRO(1)
AVX512_MICRO(2)
AVX512_MICRO(3)
AVX512_MICRO(4)
AVX512_MICRO(5)
AVX512_MICRO(6)
AVX512_MICRO(7)
AVX512_MICRO(8)
AVX512_MICRO(9)
AVX512_MICRO(10)
AVX512_MICRO(11)
AVX512_MICRO(12)
#endif

/* rows[h]: the microkernel of the tile's first h rows (rows[mr], the whole tile); NULL where
 * the kernel has none (generic: the whole tile, its edge rows computed for nothing). */
typedef struct kernel {
    int mr, nr;
    micro_fn rows[MAX_MR + 1];
} kernel;

static const kernel kernels[HB_ISA_COUNT] = {
    [HB_ISA_GENERIC] = {4, 8, {[4] = micro_generic}},
#ifdef HAVE_X86
    [HB_ISA_AVX2] = {6, 16, {NULL, micro_avx2_1, micro_avx2_2, micro_avx2_3, micro_avx2_4,
                             micro_avx2_5, micro_avx2_6}},
    [HB_ISA_AVX512] = {12, 32, {NULL, micro_avx512_1, micro_avx512_2, micro_avx512_3,
                                micro_avx512_4, micro_avx512_5, micro_avx512_6, micro_avx512_7,
                                micro_avx512_8, micro_avx512_9, micro_avx512_10,
                                micro_avx512_11, micro_avx512_12}},
#else
    [HB_ISA_AVX2] = {4, 8, {[4] = micro_generic}},
    [HB_ISA_AVX512] = {4, 8, {[4] = micro_generic}},
#endif
};

/* ---- choosing ------------------------------------------------------------------------------ */

static const char *const isa_names[HB_ISA_COUNT] = {"generic", "avx2", "avx512"};

const char *hb_isa_name(hb_isa isa)
{
    return (unsigned)isa < HB_ISA_COUNT ? isa_names[isa] : "?";
}

hb_isa hb_isa_host(void)
{
#ifdef HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return HB_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return HB_ISA_AVX2;
#endif
    return HB_ISA_GENERIC;
}

static hb_isa active;
static bool use_own = true;
static char note[96], gemm_note[384];
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

static void choose(void)
{
    hb_isa host = hb_isa_host();
    const char *want = getenv("HB_ISA");
    active = host;
    snprintf(note, sizeof note, "%s (the host's)", isa_names[host]);
    for (int i = 0; want && *want && i < HB_ISA_COUNT; i++)
        if (strcmp(want, isa_names[i]) == 0) {
            active = (hb_isa)i <= host ? (hb_isa)i : host;
            snprintf(note, sizeof note, (hb_isa)i <= host ? "%s (HB_ISA=%s)"
                                                          : "%s (HB_ISA=%s, which this CPU lacks)",
                     isa_names[active], want);
        }
    const char *gemm = getenv("HB_GEMM");
    use_own = !(gemm && strcmp(gemm, "openblas") == 0);
    if (use_own)
        snprintf(gemm_note, sizeof gemm_note, "hybrid's %s kernels (%d×%d tiles) for products "
                 "of a tile or more, big ones split over hybrid's threads; fewer rows or "
                 "columns: the small-GEMM loops where they fit, else OpenBLAS (its %s kernels)",
                 note, kernels[active].mr, kernels[active].nr, openblas_get_corename());
    else
        snprintf(gemm_note, sizeof gemm_note, "OpenBLAS's %s kernels (HB_GEMM=openblas)",
                 openblas_get_corename());
}

const char *hb_gemm_note(void)
{
    pthread_once(&chosen, choose);
    return gemm_note;
}

hb_isa hb_isa_active(void)
{
    pthread_once(&chosen, choose);
    return active;
}

bool hb_sgemm_enabled(void)
{
    pthread_once(&chosen, choose);
    return use_own;
}

/* ---- packing ------------------------------------------------------------------------------ */

/* The packed blocks of this thread, kept between calls (a plan's GEMMs all use them). */
typedef struct pack_buffers {
    float *a, *b;
    size_t a_cap, b_cap; /* floats */
} pack_buffers;

static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;
static _Thread_local pack_buffers buffers;

static void drop_buffers(void *p)
{
    pack_buffers *bf = p;
    hb_aligned_free(bf->a), hb_aligned_free(bf->b);
    *bf = (pack_buffers){0};
}

static void make_buffers_key(void) { pthread_key_create(&buffers_key, drop_buffers); }

static float *room(float **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return *buf;
    pthread_once(&buffers_once, make_buffers_key);
    pthread_setspecific(buffers_key, &buffers); /* freed when the thread ends */
    hb_aligned_free(*buf);
    *buf = hb_aligned_alloc(sizeof(float) * need);
    *cap = *buf ? need : 0;
    return *buf;
}

#ifdef HAVE_X86
/* d[p·ld + t] = r[t][p] for t < 8, p < 8: eight rows of eight read, transposed in registers. */
__attribute__((target("avx2"))) static void transpose8(const float *const *r, float *d,
                                                       int64_t ld)
{
    __m256 x[8], y[8];
    for (int t = 0; t < 8; t++)
        x[t] = _mm256_loadu_ps(r[t]);
    for (int t = 0; t < 8; t += 2) { /* pairs of rows interleaved */
        y[t] = _mm256_unpacklo_ps(x[t], x[t + 1]);
        y[t + 1] = _mm256_unpackhi_ps(x[t], x[t + 1]);
    }
    for (int t = 0; t < 8; t += 4) { /* then pairs of pairs */
        x[t] = _mm256_shuffle_ps(y[t], y[t + 2], 0x44);
        x[t + 1] = _mm256_shuffle_ps(y[t], y[t + 2], 0xee);
        x[t + 2] = _mm256_shuffle_ps(y[t + 1], y[t + 3], 0x44);
        x[t + 3] = _mm256_shuffle_ps(y[t + 1], y[t + 3], 0xee);
    }
    for (int t = 0; t < 4; t++) { /* then the two halves of the eight rows */
        _mm256_storeu_ps(d + t * ld, _mm256_permute2f128_ps(x[t], x[t + 4], 0x20));
        _mm256_storeu_ps(d + (t + 4) * ld, _mm256_permute2f128_ps(x[t], x[t + 4], 0x31));
    }
}
#endif

/* B[p0 + p][j0 + j] for p < kc, j < nc into ceil(nc / nr) panels of kc rows of nr. */
static void pack_b(const float *b, int64_t ldb, bool trans, int64_t p0, int64_t j0, int64_t kc,
                   int64_t nc, int nr, float *dst)
{
    for (int64_t jp = 0; jp < nc; jp += nr, dst += kc * nr) {
        int64_t w = nc - jp < nr ? nc - jp : nr;
        if (!trans) { /* rows of B are contiguous: copy nr of each */
            for (int64_t p = 0; p < kc; p++) {
                const float *src = b + (p0 + p) * ldb + j0 + jp;
                float *row = dst + p * nr;
                memcpy(row, src, sizeof(float) * (size_t)w);
                for (int64_t j = w; j < nr; j++)
                    row[j] = 0.0f;
            }
        } else { /* B's columns are rows of b (a linear's weight): eight rows at a time, each
                  * read along k, eight values written side by side (past the edge, zeros) */
            static const float zeros[KC];
            bool avx2 = hb_isa_active() >= HB_ISA_AVX2;
            for (int64_t j8 = 0; j8 < nr; j8 += 8) {
                const float *r[8];
                for (int t = 0; t < 8; t++)
                    r[t] = j8 + t < w ? b + (j0 + jp + j8 + t) * ldb + p0 : zeros;
                int64_t p = 0;
                (void)avx2;
#ifdef HAVE_X86
                /* eight by eight in registers where the CPU has AVX2 (a 512-channel layer's
                 * Wᵀ, packed per call value by value, was 10% of a perf profile of `hybrid
                 * bench resnet18`, eager and compiled calls together) */
                for (; avx2 && p + 8 <= kc; p += 8) {
                    const float *q[8];
                    for (int t = 0; t < 8; t++)
                        q[t] = r[t] + p;
                    transpose8(q, dst + p * nr + j8, nr);
                }
#endif
                for (; p < kc; p++) {
                    float *d = dst + p * nr + j8;
                    d[0] = r[0][p], d[1] = r[1][p], d[2] = r[2][p], d[3] = r[3][p];
                    d[4] = r[4][p], d[5] = r[5][p], d[6] = r[6][p], d[7] = r[7][p];
                }
            }
        }
    }
}

/* A[i0 + i][p0 + p] for i < mc, p < kc into ceil(mc / mr) panels of kc columns of mr. */
static void pack_a(const float *a, int64_t lda, bool trans, int64_t i0, int64_t p0, int64_t mc,
                   int64_t kc, int mr, float *dst)
{
    for (int64_t ip = 0; ip < mc; ip += mr, dst += kc * mr) {
        int64_t h = mc - ip < mr ? mc - ip : mr;
        if (!trans) { /* mr rows read along k side by side, each strip column written whole
                       * (row by row, the writes strode mr floats; the gain was not measured
                       * apart from the run's noise) */
            static const float zeros[KC];
            const float *r[MAX_MR];
            for (int64_t i = 0; i < mr; i++)
                r[i] = i < h ? a + (i0 + ip + i) * lda + p0 : zeros;
            for (int64_t p = 0; p < kc; p++)
                for (int64_t i = 0; i < mr; i++)
                    dst[p * mr + i] = r[i][p];
        } else { /* rows of aᵀ's storage run along m */
            for (int64_t p = 0; p < kc; p++) {
                const float *src = a + (p0 + p) * lda + i0 + ip;
                float *col = dst + p * mr;
                memcpy(col, src, sizeof(float) * (size_t)h);
                for (int64_t i = h; i < mr; i++)
                    col[i] = 0.0f;
            }
        }
    }
}

/* ---- B packed once ------------------------------------------------------------------------ */

/* For each KC block of k, all of n's panels in order: what the product packs per call, laid
 * out so that any column range starting at a panel's edge reads its own panels. */
static int64_t panels_of(int64_t n, int nr) { return (n + nr - 1) / nr; }

size_t hb_sgemm_pack_floats(hb_isa isa, int64_t n, int64_t k)
{
    int nr = kernels[(unsigned)isa < HB_ISA_COUNT ? isa : HB_ISA_GENERIC].nr;
    return (size_t)(panels_of(n, nr) * nr * k);
}

void hb_sgemm_pack(hb_isa isa, bool trans_b, int64_t n, int64_t k, const float *b, int64_t ldb,
                   float *dst)
{
    int nr = kernels[(unsigned)isa < HB_ISA_COUNT ? isa : HB_ISA_GENERIC].nr;
    for (int64_t pc = 0; pc < k; pc += KC)
        pack_b(b, ldb, trans_b, pc, 0, k - pc < KC ? k - pc : KC, n, nr,
               dst + pc * panels_of(n, nr) * nr);
}

size_t hb_sgemm_pack_a_floats(hb_isa isa, int64_t m, int64_t k)
{
    int mr = kernels[(unsigned)isa < HB_ISA_COUNT ? isa : HB_ISA_GENERIC].mr;
    return (size_t)(panels_of(m, mr) * mr * k);
}

/* For each KC block of k, all of m's strips in order: any row range starting at a strip's
 * edge reads its own strips, as MC blocks or a thread's share of the rows. */
void hb_sgemm_pack_a(hb_isa isa, bool trans_a, int64_t m, int64_t k, const float *a,
                     int64_t lda, float *dst)
{
    int mr = kernels[(unsigned)isa < HB_ISA_COUNT ? isa : HB_ISA_GENERIC].mr;
    for (int64_t pc = 0; pc < k; pc += KC)
        pack_a(a, lda, trans_a, 0, pc, m, k - pc < KC ? k - pc : KC, mr,
               dst + pc * panels_of(m, mr) * mr);
}

/* ---- the blocked product ------------------------------------------------------------------ */

/* B already packed (hb_sgemm_pack) for a product of pn columns, of which this one computes
 * those from col0 (a panel's edge) on; and/or A (hb_sgemm_pack_a) for pm rows, of which this
 * one computes those from row0 (a strip's edge) on. NULL data: that operand packed per call. */
typedef struct prepacked {
    const float *data;
    int64_t pn, col0;
    const float *adata;
    int64_t pm, row0;
} prepacked;

static void blocked(hb_isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                    float *c, int64_t ldc, const prepacked *pre)
{
    if (m <= 0 || n <= 0)
        return;
    if (beta != 0.0f && beta != 1.0f) /* scaled once, then every block adds */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] *= beta;
    if (k <= 0) {
        for (int64_t i = 0; beta == 0.0f && i < m; i++)
            memset(c + i * ldc, 0, sizeof(float) * (size_t)n);
        return;
    }
    const kernel *kn = &kernels[(unsigned)isa < HB_ISA_COUNT ? isa : HB_ISA_GENERIC];
    int mr = kn->mr, nr = kn->nr;
    int64_t ncap = n < NC ? n : NC, kcap = k < KC ? k : KC;
    bool pre_b = pre && pre->data, pre_a = pre && pre->adata;
    float *bp = pre_b ? NULL
                      : room(&buffers.b, &buffers.b_cap, (size_t)(kcap * ((ncap + nr - 1) / nr * nr)));
    float *ap = pre_a ? NULL : room(&buffers.a, &buffers.a_cap, (size_t)(kcap * MC));
    if ((!pre_b && !bp) || (!pre_a && !ap)) { /* no memory for panels: the same product, unblocked */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                float s = 0.0f;
                for (int64_t p = 0; p < k; p++)
                    s += (trans_a ? a[p * lda + i] : a[i * lda + p]) *
                         (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
                c[i * ldc + j] = beta == 0.0f ? s : c[i * ldc + j] + s;
            }
        return;
    }
    _Alignas(64) float edge[MAX_MR * MAX_NR];
    for (int64_t jc = 0; jc < n; jc += NC) {
        int64_t nc = n - jc < NC ? n - jc : NC;
        for (int64_t pc = 0; pc < k; pc += KC) {
            int64_t kc = k - pc < KC ? k - pc : KC;
            bool add = pc > 0 || beta != 0.0f;
            if (pre_b)
                bp = (float *)pre->data + pc * panels_of(pre->pn, nr) * nr +
                     (pre->col0 + jc) / nr * kc * nr;
            else
                pack_b(b, ldb, trans_b, pc, jc, kc, nc, nr, bp);
            for (int64_t ic = 0; ic < m; ic += MC) {
                int64_t mc = m - ic < MC ? m - ic : MC;
                if (pre_a) /* strips of earlier k blocks (KC deep each), then this block's */
                    ap = (float *)pre->adata + pc * panels_of(pre->pm, mr) * mr + (pre->row0 + ic) * kc;
                else
                    pack_a(a, lda, trans_a, ic, pc, mc, kc, mr, ap);
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int64_t w = nc - jr < nr ? nc - jr : nr;
                    const float *bpanel = bp + (jr / nr) * kc * nr;
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int64_t h = mc - ir < mr ? mc - ir : mr;
                        const float *apanel = ap + (ir / mr) * kc * mr;
                        float *ct = c + (ic + ir) * ldc + jc + jr;
                        micro_fn rows = kn->rows[h] ? kn->rows[h] : kn->rows[mr];
                        if (w == nr && kn->rows[h]) { /* whole tile, or its first h rows */
                            rows(kc, apanel, bpanel, ct, ldc, add);
                            continue;
                        }
                        /* a tile cut by n's edge: its h rows into edge, their part onto c */
                        rows(kc, apanel, bpanel, edge, nr, false);
                        for (int64_t i = 0; i < h; i++)
                            for (int64_t j = 0; j < w; j++)
                                ct[i * ldc + j] = add ? ct[i * ldc + j] + edge[i * nr + j]
                                                      : edge[i * nr + j];
                    }
                }
            }
        }
    }
}

void hb_sgemm(hb_isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc)
{
    blocked(isa, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, NULL);
}

/* ---- on several threads ------------------------------------------------------------------ */

typedef struct split {
    hb_isa isa;
    bool trans_a, trans_b, by_columns;
    int64_t m, n, k, lda, ldb, ldc, step; /* step: the rows or columns of a part, a tile's multiple */
    const float *a, *b, *packed, *packed_a; /* as hb_sgemm_pack(_a) left them, or NULL */
    float beta, *c;
} split;

/* Part p: its columns of C (B's packed by this thread alone) or its rows (A's). Each element
 * is the same sum in the same order whichever part holds it: the result does not depend on
 * the thread count. */
static void run_part(void *ctx, int part, int parts)
{
    (void)parts;
    const split *s = ctx;
    int64_t from = part * s->step, total = s->by_columns ? s->n : s->m;
    if (from >= total)
        return;
    int64_t len = total - from < s->step ? total - from : s->step;
    prepacked pre = {s->packed, s->n, s->by_columns ? from : 0,
                     s->packed_a, s->m, s->by_columns ? 0 : from};
    const prepacked *use = s->packed || s->packed_a ? &pre : NULL;
    if (s->by_columns)
        blocked(s->isa, s->trans_a, s->trans_b, s->m, len, s->k, s->a, s->lda,
                s->b + (s->trans_b ? from * s->ldb : from), s->ldb, s->beta, s->c + from,
                s->ldc, use);
    else
        blocked(s->isa, s->trans_a, s->trans_b, len, s->n, s->k,
                s->a + (s->trans_a ? from : from * s->lda), s->lda, s->b, s->ldb, s->beta,
                s->c + from * s->ldc, s->ldc, use);
}

static void threads_packed(int threads, hb_isa isa, bool trans_a, bool trans_b, int64_t m,
                           int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                           int64_t ldb, float beta, float *c, int64_t ldc, const float *packed_a,
                           const float *packed)
{
    const kernel *kn = &kernels[(unsigned)isa < HB_ISA_COUNT ? isa : HB_ISA_GENERIC];
    /* Every thread packs all of the operand it does not split: split the other one, by
     * columns of C where A is the smaller (m <= n), else by rows, when each thread gets a
     * tile's worth of it; one part per thread. */
    bool by_columns = (m <= n && n >= (int64_t)threads * kn->nr) || m < (int64_t)threads * kn->mr;
    int64_t total = by_columns ? n : m, unit = by_columns ? kn->nr : kn->mr;
    int64_t step = (total + threads - 1) / threads;
    step = (step + unit - 1) / unit * unit;
    split s = {isa, trans_a, trans_b, by_columns, m,        n,    k, lda, ldb,
               ldc, step,    a,       b,          packed,   packed_a, beta, c};
    hb_pool_run(threads, (int)((total + step - 1) / step), run_part, &s);
}

void hb_sgemm_threads(int threads, hb_isa isa, bool trans_a, bool trans_b, int64_t m,
                      int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                      int64_t ldb, float beta, float *c, int64_t ldc)
{
    threads_packed(threads, isa, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, NULL,
                   NULL);
}

int hb_sgemm_tile_cols(void) { return kernels[hb_isa_active()].nr; }

bool hb_sgemm_takes(int64_t m, int64_t n)
{
    const kernel *kn = &kernels[hb_isa_active()];
    return hb_sgemm_enabled() && m >= kn->mr && n >= kn->nr;
}

void hb_sgemm_any(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
                  const float *packed_a, const float *packed)
{
    hb_isa isa = hb_isa_active();
    /* Fewer rows or columns than a tile: the tile's others are computed for nothing, and
     * OpenBLAS's skinny kernels win (AVX-512, one thread: 4×1000×512 took 1.27× OpenBLAS's
     * time, 12×512×512 0.84×; 64×10×256 2.3×, 100×32×300 1.1×) */
    if (hb_sgemm_takes(m, n)) {
        int threads = hb_threads_wanted();
        prepacked pre = {packed, n, 0, packed_a, m, 0};
        if (threads > 1 && m * n * k >= HB_BLAS_PARALLEL_MIN)
            threads_packed(threads, isa, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c,
                           ldc, packed_a, packed);
        else
            blocked(isa, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc,
                    packed || packed_a ? &pre : NULL);
        return;
    }
    bool parallel = hb_blas_parallel_begin(m, n, k);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a, (int)lda,
                b, (int)ldb, beta, c, (int)ldc);
    hb_blas_parallel_end(parallel);
}

/* GEMMs too small for OpenBLAS: at a few rows its call, threading checks and packing cost
 * several times the arithmetic (2×20 · 20×256 is 10k multiply-adds). Two forms:
 *   nt: c[i][j] (+)= a[i,:] · b[j,:]   (linear: x · Wᵀ, W stored [out, in])
 *   nn: c[i][:] (+)= Σp a[i][p] · b[p,:] (matmul against a [k, n] matrix)
 * The nt form works on two rows of a and four of b at a time, keeping one 8-lane sum per
 * pair, so each result is summed in a fixed order: lanes, a pairwise tree, then the tail. An AVX2+FMA version is
 * chosen at run time where the CPU has it; the portable loops are the reference. */
#include "gemm_small.h"

#include <cblas.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

/* c[i][j] (+)= Σp a[i][p] · b[j·sj + p·sp]: b as stored (sj = k, sp = 1) or transposed
 * (sj = 1, sp = n), in the order of the vector version: 8 lanes (a half-vector step for four
 * more), a pairwise tree, then the tail. */
static void nt_strided(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                       int64_t sj, int64_t sp, bool accumulate, float *c)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            const float *bj = b + j * sj;
            float lane[8] = {0};
            int64_t p = 0;
            for (; p + 8 <= k; p += 8)
                for (int l = 0; l < 8; l++)
                    lane[l] += a[i * k + p + l] * bj[(p + l) * sp];
            if (p + 4 <= k) {
                for (int l = 0; l < 4; l++)
                    lane[l] += a[i * k + p + l] * bj[(p + l) * sp];
                p += 4;
            }
            float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                        ((lane[4] + lane[5]) + (lane[6] + lane[7]));
            for (; p < k; p++)
                sum += a[i * k + p] * bj[p * sp];
            c[i * n + j] = accumulate ? c[i * n + j] + sum : sum;
        }
}

static void nt_portable(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                        bool accumulate, float *c)
{
    nt_strided(m, n, k, a, b, k, 1, accumulate, c);
}

static void nt_t_portable(int64_t m, int64_t n, int64_t k, const float *a, const float *bt,
                          bool accumulate, float *c)
{
    nt_strided(m, n, k, a, bt, 1, n, accumulate, c);
}

/* Each c[i][j] summed over p in order, as the vector version does column by column. */
static void nn_portable(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                        bool accumulate, float *c)
{
    for (int64_t i = 0; i < m; i++) {
        float *cr = c + i * n;
        if (!accumulate)
            memset(cr, 0, sizeof(float) * (size_t)n);
        for (int64_t p = 0; p < k; p++) {
            const float av = a[i * k + p], *br = b + p * n;
            for (int64_t j = 0; j < n; j++)
                cr[j] += av * br[j];
        }
    }
}

#ifdef HAVE_X86
#define AVX2 __attribute__((target("avx2,fma")))

/* Eight 8-lane sums reduced to one vector of eight totals. */
AVX2 static inline __m256 reduce8(__m256 s0, __m256 s1, __m256 s2, __m256 s3, __m256 s4,
                                  __m256 s5, __m256 s6, __m256 s7)
{
    __m256 s01 = _mm256_hadd_ps(s0, s1), s23 = _mm256_hadd_ps(s2, s3);
    __m256 s45 = _mm256_hadd_ps(s4, s5), s67 = _mm256_hadd_ps(s6, s7);
    __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20),
                         _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

/* Two rows of a against four rows of b: eight dot products at once, sharing every load. The
 * k % 8 tail is summed as scalars after the vector part. */
AVX2 static inline void nt_2x4(int64_t k, const float *a0, const float *a1, const float *b0,
                        int64_t ldb, float out[8])
{
    const float *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
    __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s03 = s00;
    __m256 s10 = s00, s11 = s00, s12 = s00, s13 = s00;
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 x0 = _mm256_loadu_ps(a0 + p), x1 = _mm256_loadu_ps(a1 + p);
        __m256 w = _mm256_loadu_ps(b0 + p);
        s00 = _mm256_fmadd_ps(x0, w, s00), s10 = _mm256_fmadd_ps(x1, w, s10);
        w = _mm256_loadu_ps(b1 + p);
        s01 = _mm256_fmadd_ps(x0, w, s01), s11 = _mm256_fmadd_ps(x1, w, s11);
        w = _mm256_loadu_ps(b2 + p);
        s02 = _mm256_fmadd_ps(x0, w, s02), s12 = _mm256_fmadd_ps(x1, w, s12);
        w = _mm256_loadu_ps(b3 + p);
        s03 = _mm256_fmadd_ps(x0, w, s03), s13 = _mm256_fmadd_ps(x1, w, s13);
    }
    if (p + 4 <= k) { /* four more as a half vector, the upper lanes zero */
        __m256 x0 = _mm256_zextps128_ps256(_mm_loadu_ps(a0 + p));
        __m256 x1 = _mm256_zextps128_ps256(_mm_loadu_ps(a1 + p));
        __m256 w = _mm256_zextps128_ps256(_mm_loadu_ps(b0 + p));
        s00 = _mm256_fmadd_ps(x0, w, s00), s10 = _mm256_fmadd_ps(x1, w, s10);
        w = _mm256_zextps128_ps256(_mm_loadu_ps(b1 + p));
        s01 = _mm256_fmadd_ps(x0, w, s01), s11 = _mm256_fmadd_ps(x1, w, s11);
        w = _mm256_zextps128_ps256(_mm_loadu_ps(b2 + p));
        s02 = _mm256_fmadd_ps(x0, w, s02), s12 = _mm256_fmadd_ps(x1, w, s12);
        w = _mm256_zextps128_ps256(_mm_loadu_ps(b3 + p));
        s03 = _mm256_fmadd_ps(x0, w, s03), s13 = _mm256_fmadd_ps(x1, w, s13);
        p += 4;
    }
    _mm256_storeu_ps(out, reduce8(s00, s01, s02, s03, s10, s11, s12, s13));
    for (; p < k; p++) {
        out[0] += a0[p] * b0[p], out[1] += a0[p] * b1[p];
        out[2] += a0[p] * b2[p], out[3] += a0[p] * b3[p];
        out[4] += a1[p] * b0[p], out[5] += a1[p] * b1[p];
        out[6] += a1[p] * b2[p], out[7] += a1[p] * b3[p];
    }
}

/* start + a·b over k: 8 lanes, a half-vector step, the pairwise tree, the scalar tail — the
 * order nt_2x4 and nt_portable use. */
AVX2 static float dot_avx2(int64_t k, const float *a, const float *b, float start)
{
    __m256 s = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 8 <= k; p += 8)
        s = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(b + p), s);
    if (p + 4 <= k) {
        s = _mm256_fmadd_ps(_mm256_zextps128_ps256(_mm_loadu_ps(a + p)),
                            _mm256_zextps128_ps256(_mm_loadu_ps(b + p)), s);
        p += 4;
    }
    float lane[8];
    _mm256_storeu_ps(lane, s);
    float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (; p < k; p++)
        sum += a[p] * b[p];
    return start + sum;
}

AVX2 static void nt_avx2(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                         bool accumulate, float *c)
{
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) {
        int64_t j = 0;
        for (; j + 4 <= n; j += 4) {
            float t[8];
            nt_2x4(k, a + i * k, a + (i + 1) * k, b + j * k, k, t);
            for (int r = 0; r < 4; r++) {
                c[i * n + j + r] = accumulate ? c[i * n + j + r] + t[r] : t[r];
                c[(i + 1) * n + j + r] = accumulate ? c[(i + 1) * n + j + r] + t[4 + r] : t[4 + r];
            }
        }
        for (; j < n; j++) /* the last n % 4 columns, one dot product each */
            for (int64_t r = i; r < i + 2; r++)
                c[r * n + j] = dot_avx2(k, a + r * k, b + j * k, accumulate ? c[r * n + j] : 0);
    }
    for (; i < m; i++) /* an odd last row */
        for (int64_t j = 0; j < n; j++)
            c[i * n + j] = dot_avx2(k, a + i * k, b + j * k, accumulate ? c[i * n + j] : 0);
}

/* nt's sums over Bᵀ ([k, n] rows, as a plan keeps a live weight transposed): eight columns
 * at once, each of nt's eight lanes a vector of columns here, combined in its pairwise tree,
 * then its tail — the bits of nt_avx2, without a horizontal reduction per result. */
AVX2 static __m256 nt_cols8(int64_t k, int64_t n, const float *a, const float *bt)
{
    __m256 l[8];
    for (int q = 0; q < 8; q++)
        l[q] = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 8 <= k; p += 8)
        for (int q = 0; q < 8; q++)
            l[q] = _mm256_fmadd_ps(_mm256_set1_ps(a[p + q]), _mm256_loadu_ps(bt + (p + q) * n), l[q]);
    if (p + 4 <= k) { /* the half-vector step: lanes 4..7 add 0·0 */
        for (int q = 0; q < 4; q++)
            l[q] = _mm256_fmadd_ps(_mm256_set1_ps(a[p + q]), _mm256_loadu_ps(bt + (p + q) * n), l[q]);
        p += 4;
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(l[0], l[1]), _mm256_add_ps(l[2], l[3])),
                             _mm256_add_ps(_mm256_add_ps(l[4], l[5]), _mm256_add_ps(l[6], l[7])));
    for (; p < k; p++) /* as nt's scalar tail is written: contracted to an FMA as it is */
        s += _mm256_set1_ps(a[p]) * _mm256_loadu_ps(bt + p * n);
    return s;
}

/* One column of the same, for the last n % 8. */
AVX2 static float nt_col(int64_t k, int64_t n, const float *a, const float *bt)
{
    float l[8] = {0};
    int64_t p = 0;
    for (; p + 8 <= k; p += 8)
        for (int q = 0; q < 8; q++)
            l[q] = __builtin_fmaf(a[p + q], bt[(p + q) * n], l[q]);
    if (p + 4 <= k) {
        for (int q = 0; q < 4; q++)
            l[q] = __builtin_fmaf(a[p + q], bt[(p + q) * n], l[q]);
        p += 4;
    }
    float s = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    for (; p < k; p++)
        s += a[p] * bt[p * n];
    return s;
}

/* c (+)= a·b from bt = bᵀ, as nt_avx2 sums: its 2×4 blocks store the sum (or add it to c), its
 * dot products for the columns past n / 4 · 4 and an odd last row add it to c or to 0. */
AVX2 static void nt_t_avx2(int64_t m, int64_t n, int64_t k, const float *a, const float *bt,
                           bool accumulate, float *c)
{
    int64_t blocks = m / 2 * 2; /* rows nt_avx2 takes in pairs */
    for (int64_t i = 0; i < m; i++) {
        const float *ar = a + i * k;
        float *cr = c + i * n;
        int64_t paired = i < blocks ? n / 4 * 4 : 0, j = 0;
        for (; j + 8 <= paired; j += 8) {
            __m256 s = nt_cols8(k, n, ar, bt + j);
            _mm256_storeu_ps(cr + j, accumulate ? _mm256_add_ps(_mm256_loadu_ps(cr + j), s) : s);
        }
        for (; j < paired; j++) {
            float s = nt_col(k, n, ar, bt + j);
            cr[j] = accumulate ? cr[j] + s : s;
        }
        for (; j < n; j++)
            cr[j] = (accumulate ? cr[j] : 0.0f) + nt_col(k, n, ar, bt + j);
    }
}

/* Two rows of a at once against 32 columns of b: eight independent sums (hiding the FMA
 * latency), each row of b loaded once for both rows of a. */
AVX2 static inline void nn_2x32(int64_t k, int64_t n, const float *a0, const float *a1,
                                const float *b, bool accumulate, float *c0, float *c1)
{
    __m256 s[8];
    for (int q = 0; q < 4; q++) {
        s[q] = accumulate ? _mm256_loadu_ps(c0 + 8 * q) : _mm256_setzero_ps();
        s[4 + q] = accumulate ? _mm256_loadu_ps(c1 + 8 * q) : _mm256_setzero_ps();
    }
    for (int64_t p = 0; p < k; p++) {
        __m256 x0 = _mm256_set1_ps(a0[p]), x1 = _mm256_set1_ps(a1[p]);
        const float *br = b + p * n;
        for (int q = 0; q < 4; q++) {
            __m256 w = _mm256_loadu_ps(br + 8 * q);
            s[q] = _mm256_fmadd_ps(x0, w, s[q]);
            s[4 + q] = _mm256_fmadd_ps(x1, w, s[4 + q]);
        }
    }
    for (int q = 0; q < 4; q++) {
        _mm256_storeu_ps(c0 + 8 * q, s[q]);
        _mm256_storeu_ps(c1 + 8 * q, s[4 + q]);
    }
}

AVX2 static void nn_avx2(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                         bool accumulate, float *c)
{
    for (int64_t i = 0; i < m; i++) {
        float *cr = c + i * n;
        int64_t j = 0;
        if (i + 1 < m && i % 2 == 0) /* pairs of rows share their loads of b */
            for (; j + 32 <= n; j += 32)
                nn_2x32(k, n, a + i * k, a + (i + 1) * k, b + j, accumulate, cr + j, cr + n + j);
        else if (i % 2 == 1 && i > 0)
            j = n / 32 * 32; /* done with the row before */
        for (; j + 8 <= n; j += 8) { /* eight columns: a row of b at a time, in a register */
            __m256 acc = accumulate ? _mm256_loadu_ps(cr + j) : _mm256_setzero_ps();
            for (int64_t p = 0; p < k; p++)
                acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i * k + p]),
                                      _mm256_loadu_ps(b + p * n + j), acc);
            _mm256_storeu_ps(cr + j, acc);
        }
        for (; j < n; j++) {
            float acc = accumulate ? cr[j] : 0.0f;
            for (int64_t p = 0; p < k; p++)
                acc += a[i * k + p] * b[p * n + j];
            cr[j] = acc;
        }
    }
}
#endif

typedef void (*gemm_fn)(int64_t, int64_t, int64_t, const float *, const float *, bool, float *);

enum { FORM_NN, FORM_NT, FORM_NT_T };

static gemm_fn pick(int form)
{
#ifdef HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return form == FORM_NN ? nn_avx2 : form == FORM_NT ? nt_avx2 : nt_t_avx2;
#endif
    return form == FORM_NN ? nn_portable : form == FORM_NT ? nt_portable : nt_t_portable;
}

static void run(int form, int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                bool accumulate, float *c)
{
    /* Chosen once; a race only picks the same function twice. */
    static gemm_fn fn[3];
    if (!fn[form])
        fn[form] = pick(form);
    fn[form](m, n, k, a, b, accumulate, c);
}

void hb_gemm_small(bool trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                   const float *b, bool accumulate, float *c)
{
    run(trans_b ? FORM_NT : FORM_NN, m, n, k, a, b, accumulate, c);
}

void hb_gemm_small_nt_t(int64_t m, int64_t n, int64_t k, const float *a, const float *bt,
                        bool accumulate, float *c)
{
    run(FORM_NT_T, m, n, k, a, bt, accumulate, c);
}

/* Whether OpenBLAS runs its AVX-512 kernels here (SkylakeX, Cooperlake, SapphireRapids),
 * whose small-matrix paths leave little to the loops above: what it runs, not what the CPU
 * has (Debian's 0.3.21 runs its Haswell kernels on Zen 5, and there the AVX2 rule below held:
 * the seed MLP's 2×256 · (10×256)ᵀ went to OpenBLAS and took most of a compiled call). Read
 * once; a race reads the same answer twice. */
static bool avx512(void)
{
    static int known = -1;
    if (known < 0) {
        const char *core = openblas_get_corename();
        known = core && (strstr(core, "Skylake") || strstr(core, "Cooperlake") ||
                         strstr(core, "SapphireRapids"));
    }
    return known;
}

/* Measured with build/bench_gemm_crossover (bench/RESULTS.md), on two machines. With AVX2
 * only (Zen 1): the loops win while the rows are few for their inner size — their cost per
 * output is a reduction plus k/8 multiply-adds, OpenBLAS's a packing of the weight — up to 4
 * rows for k < 64, 8 for k < 256, 64 beyond; but a weight larger than the L2 cache (512 KB
 * there) streams from L3 for every pair of rows, and then only up to 4 rows pay. With AVX-512
 * (a Xeon), OpenBLAS's small-matrix kernels win from an inner size of 64 on (256×10 at one
 * row: the loops take 2.2× as long); the loops keep short inner sizes up to 8 rows (20×256:
 * 3.2× at 2 rows, 1.1× at 8) and a few rows against a weight of a million elements or more
 * (1024×1024: 2.8× at 1 row, 1.5× at 4), where OpenBLAS packs the whole weight for a row. */
bool hb_gemm_small_fits(int64_t m, int64_t n, int64_t k)
{
    if (avx512())
        return (k < 64 && m <= 8) || (m <= 4 && k * n >= (int64_t)1 << 20);
    int64_t rows = k >= 256 ? 64 : k >= 64 ? 8 : 4;
    if (k * n * (int64_t)sizeof(float) > 512 * 1024)
        rows = 4;
    return m <= rows;
}

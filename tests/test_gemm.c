/* The "gemm" suite: hybrid's own SGEMM (src/runtime/sgemm.c) against a double-precision
 * reference, on every instruction set this CPU has (the generic one always): shapes around
 * each tile's edges and the cache blocks' (k past KC, n past NC), both transposes, beta 0, 1
 * and 0.5, strided operands; split over threads, the same bits; the choice of ISA and its override (HB_ISA, HB_GEMM) in a child
 * process, as a user sets them. */
#include "harness.h"
#include "../src/runtime/gemm_small.h"
#include "../src/runtime/sgemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static float value(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xffff) / 32768.0f - 1.0f;
}

/* One product on isa: c = a'·b' + beta·c over padded strides, against the reference, within
 * 1e-5 of Σ|a||b| (the float rounding of a k-term sum), and the padding untouched. */
static void check_product(hb_isa isa, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                          float beta)
{
    int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
    int64_t arows = ta ? k : m, brows = tb ? n : k;
    float *a = malloc(sizeof *a * (size_t)(arows * lda));
    float *b = malloc(sizeof *b * (size_t)(brows * ldb));
    float *c = malloc(sizeof *c * (size_t)(m * ldc));
    double *want = malloc(sizeof *want * (size_t)(m * n)), *scale = malloc(sizeof *scale * (size_t)(m * n));
    ck_assert(a && b && c && want && scale);
    uint64_t s = (uint64_t)(m * 131 + n * 17 + k) ^ (ta ? 7 : 0) ^ (tb ? 11 : 0);
    for (int64_t i = 0; i < arows * lda; i++)
        a[i] = value(&s);
    for (int64_t i = 0; i < brows * ldb; i++)
        b[i] = value(&s);
    for (int64_t i = 0; i < m * ldc; i++)
        c[i] = value(&s);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double sum = beta * (double)c[i * ldc + j], mag = fabs(sum);
            for (int64_t p = 0; p < k; p++) {
                double x = ta ? a[p * lda + i] : a[i * lda + p];
                double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                sum += x * y, mag += fabs(x * y);
            }
            want[i * n + j] = sum, scale[i * n + j] = mag;
        }
    float pad = c[n]; /* the first row's padding */
    hb_sgemm(isa, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double err = fabs(c[i * ldc + j] - want[i * n + j]);
            ck_assert_msg(err <= 1e-5 * (scale[i * n + j] + 1.0),
                          "%s %c%c %lldx%lldx%lld beta %g: c[%lld][%lld] = %g, want %g",
                          hb_isa_name(isa), ta ? 't' : 'n', tb ? 't' : 'n', (long long)m,
                          (long long)n, (long long)k, beta, (long long)i, (long long)j,
                          c[i * ldc + j], want[i * n + j]);
        }
    ck_assert_msg(c[n] == pad, "%s: the padding after row 0 was written", hb_isa_name(isa));
    free(a), free(b), free(c), free(want), free(scale);
}

/* m, n, k: one value, a tile's edges (12×32, 6×16, 4×8) and past them, several cache blocks
 * of k (KC 256) and of rows (MC 96). */
static const int64_t shapes[][3] = {
    {1, 1, 1},    {1, 7, 3},     {4, 8, 5},      {6, 16, 9},    {12, 32, 17},  {13, 33, 31},
    {5, 15, 64},  {11, 31, 2},   {25, 65, 300},  {97, 40, 513}, {200, 3, 70},  {3, 200, 257},
    {12, 96, 0},  {40, 48, 128},
};

START_TEST(products_match_the_reference)
{
    hb_isa isa = (hb_isa)_i;
    if (isa > hb_isa_host())
        return; /* this CPU cannot run it */
    const float betas[] = {0.0f, 1.0f, 0.5f};
    for (size_t s = 0; s < ARRAY_LEN(shapes); s++)
        for (int t = 0; t < 4; t++)
            check_product(isa, t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2],
                          betas[(s + (size_t)t) % 3]);
}
END_TEST

/* n past one block of columns (NC 4096): the column loop goes round twice. */
START_TEST(wide_products_match_the_reference)
{
    hb_isa isa = (hb_isa)_i;
    if (isa <= hb_isa_host()) {
        check_product(isa, false, true, 13, 4100, 20, 0.0f);
        check_product(isa, true, false, 7, 4099, 3, 1.0f);
    }
}
END_TEST

/* Each ISA gives the same bits whatever the rows around a row are: a row's sums do not
 * depend on the batch it came in (the same order of additions on every tile). */
START_TEST(rows_do_not_depend_on_the_batch)
{
    hb_isa isa = hb_isa_host();
    int64_t n = 45, k = 300;
    float *a = malloc(sizeof(float) * 50 * (size_t)k), *b = malloc(sizeof(float) * (size_t)(k * n));
    float *all = malloc(sizeof(float) * 50 * (size_t)n), *one = malloc(sizeof(float) * 13 * (size_t)n);
    uint64_t s = 5;
    for (int64_t i = 0; i < 50 * k; i++)
        a[i] = value(&s);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = value(&s);
    hb_sgemm(isa, false, false, 50, n, k, a, k, b, n, 0.0f, all, n);
    hb_sgemm(isa, false, false, 13, n, k, a + 30 * k, k, b, n, 0.0f, one, n);
    ck_assert(memcmp(all + 30 * n, one, sizeof(float) * 13 * (size_t)n) == 0);
    free(a), free(b), free(all), free(one);
}
END_TEST

/* Split over threads (the pool's), by columns or by rows, a product gives the bits one
 * thread gives; several jobs in turn reuse the pool. */
START_TEST(threads_give_the_same_bits)
{
    static const int64_t cases[][3] = {{200, 300, 70}, {500, 40, 33}, {30, 1000, 129},
                                       {13, 64, 300}};
    hb_isa isa = hb_isa_host();
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        for (int threads = 2; threads <= 5; threads += 3)
            for (int tb = 0; tb < 2; tb++) {
                int64_t m = cases[i][0], n = cases[i][1], k = cases[i][2];
                float *a = malloc(sizeof(float) * (size_t)(m * k));
                float *b = malloc(sizeof(float) * (size_t)(k * n));
                float *one = malloc(sizeof(float) * (size_t)(m * n));
                float *many = malloc(sizeof(float) * (size_t)(m * n));
                uint64_t s = (uint64_t)(i * 31 + (size_t)threads);
                for (int64_t e = 0; e < m * k; e++)
                    a[e] = value(&s);
                for (int64_t e = 0; e < k * n; e++)
                    b[e] = value(&s);
                for (int64_t e = 0; e < m * n; e++)
                    one[e] = many[e] = value(&s);
                hb_sgemm(isa, false, tb, m, n, k, a, k, b, tb ? k : n, 1.0f, one, n);
                hb_sgemm_threads(threads, isa, false, tb, m, n, k, a, k, b, tb ? k : n, 1.0f,
                                 many, n);
                ck_assert_msg(memcmp(one, many, sizeof(float) * (size_t)(m * n)) == 0,
                              "%lldx%lldx%lld on %d threads differs from one thread",
                              (long long)m, (long long)n, (long long)k, threads);
                free(a), free(b), free(one), free(many);
            }
}
END_TEST

/* A packed once (a frozen convolution's weights) gives the bits of A packed per call, alone
 * and with B packed once too: both transposes of A, rows past a strip's edge and more than
 * one k block, on one thread and on two, split by rows (m > n) and by columns (m < n). */
START_TEST(prepacked_a_gives_the_same_bits)
{
    hb_isa isa = hb_isa_active();
    const int64_t shapes[2][3] = {{301, 40, 600}, {40, 300, 600}}; /* past HB_BLAS_PARALLEL_MIN */
    int64_t m = shapes[_i][0], n = shapes[_i][1], k = shapes[_i][2];
    float *a = malloc(sizeof(float) * (size_t)(m * k)), *b = malloc(sizeof(float) * (size_t)(k * n));
    float *want = malloc(sizeof(float) * (size_t)(m * n)), *got = malloc(sizeof(float) * (size_t)(m * n));
    float *pa = aligned_alloc(64, (sizeof(float) * hb_sgemm_pack_a_floats(isa, m, k) + 63) / 64 * 64);
    float *pb = aligned_alloc(64, (sizeof(float) * hb_sgemm_pack_floats(isa, n, k) + 63) / 64 * 64);
    uint64_t s = 11;
    for (int64_t i = 0; i < m * k; i++)
        a[i] = value(&s);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = value(&s);
    ck_assert(hb_sgemm_takes(m, n));
    hb_sgemm_pack(isa, false, n, k, b, n, pb);
    for (int ta = 0; ta < 2; ta++) {
        int64_t lda = ta ? m : k;
        hb_sgemm_pack_a(isa, ta, m, k, a, lda, pa);
        for (int threads = 1; threads <= 2; threads++)
            for (int both = 0; both < 2; both++) {
                hb_set_num_threads(threads);
                hb_sgemm_any(ta, false, m, n, k, a, lda, b, n, 0.0f, want, n, NULL, NULL);
                hb_sgemm_any(ta, false, m, n, k, NULL, lda, both ? NULL : b, n, 0.0f, got, n, pa,
                             both ? pb : NULL);
                ck_assert_msg(memcmp(want, got, sizeof(float) * (size_t)(m * n)) == 0,
                              "%lldx%lldx%lld, trans_a %d, %d threads%s: A packed once differs",
                              (long long)m, (long long)n, (long long)k, ta, threads,
                              both ? ", B packed once too" : "");
            }
    }
    free(a), free(b), free(want), free(got), free(pa), free(pb);
}
END_TEST

/* B packed once (a frozen plan's weight) gives the bits of B packed per call, on one thread and
 * on two, both transposes, columns past a panel's edge. */
START_TEST(prepacked_b_gives_the_same_bits)
{
    hb_isa isa = hb_isa_active();
    int64_t m = 40, n = 300, k = 270;
    float *a = malloc(sizeof(float) * (size_t)(m * k)), *b = malloc(sizeof(float) * (size_t)(k * n));
    float *want = malloc(sizeof(float) * (size_t)(m * n)), *got = malloc(sizeof(float) * (size_t)(m * n));
    size_t bytes = (sizeof(float) * hb_sgemm_pack_floats(isa, n, k) + 63) / 64 * 64;
    float *packed = aligned_alloc(64, bytes); /* the kernels load whole aligned vectors */
    uint64_t s = 9;
    for (int64_t i = 0; i < m * k; i++)
        a[i] = value(&s);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = value(&s);
    ck_assert(hb_sgemm_takes(m, n));
    for (int tb = 0; tb < 2; tb++)
        for (int threads = 1; threads <= 2; threads++) {
            int64_t ldb = tb ? k : n;
            hb_set_num_threads(threads);
            hb_sgemm_pack(isa, tb, n, k, b, ldb, packed);
            hb_sgemm_any(false, tb, m, n, k, a, k, b, ldb, 0.0f, want, n, NULL, NULL);
            hb_sgemm_any(false, tb, m, n, k, a, k, NULL, ldb, 0.0f, got, n, NULL, packed);
            ck_assert_msg(memcmp(want, got, sizeof(float) * (size_t)(m * n)) == 0,
                          "trans_b %d, %d threads: packed once differs", tb, threads);
        }
    free(a), free(b), free(want), free(got), free(packed);
}
END_TEST

/* A frozen plan (weights constant, packed at lowering) gives the live plan's bits. */
START_TEST(frozen_plans_give_live_bits)
{
    hb_tensor *x = hb_randn(HB_SHAPE(64, 200), NULL);
    hb_tensor *y[2];
    for (int freeze = 0; freeze < 2; freeze++) {
        hb_rng_seed(hb_default_rng(), 4); /* the same weights both times */
        hb_block *net = hb_sequential_new();
        ck_assert_int_eq(hb_sequential_add(net, hb_linear_new(200, 300)), HB_OK);
        ck_assert_int_eq(hb_sequential_add(net, hb_relu_new()), HB_OK);
        ck_assert_int_eq(hb_sequential_add(net, hb_linear_new(300, 70)), HB_OK);
        ck_assert_int_eq(hb_hybridize_with(net, true, &(hb_hybrid_options){.freeze = freeze}),
                         HB_OK);
        hb_tensor_release(test_call_ok(net, x)); /* the trace */
        y[freeze] = test_call_ok(net, x);        /* the plan */
        hb_block_release(net);
    }
    ck_assert(test_same_bits(y[0], y[1]));
    hb_tensor_release(y[0]), hb_tensor_release(y[1]), hb_tensor_release(x);
}
END_TEST

/* What a user sets: HB_ISA picks a lower ISA (or is capped at the host's), HB_GEMM=openblas
 * hands every product to OpenBLAS; explain says which. Run as the command line, in a child. */
static char *explain_with(const char *env)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s explain mlp --batch 64 2>&1", env, getenv("HYBRID_EXE"));
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    static char out[16384];
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    return out;
}

/* The small-GEMM loops from a transposed weight (what a live plan keeps) give the bits of
 * the loops over the weight as stored: every k through the 8-lane steps, the half step and the
 * tail, rows in pairs and odd, columns past the vector blocks. */
START_TEST(transposed_small_weights_give_the_same_bits)
{
    const int64_t ks[] = {1, 3, 4, 7, 8, 12, 20, 31, 64, 77, 256};
    const int64_t ns[] = {1, 5, 8, 13, 32, 37, 256};
    hb_rng rng;
    hb_rng_seed(&rng, 41);
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (int64_t m = 1; m <= 5; m++)
                for (int acc = 0; acc < 2; acc++) {
                    int64_t k = ks[ki], n = ns[ni];
                    float *a = malloc(sizeof(float) * (size_t)(m * k));
                    float *b = malloc(sizeof(float) * (size_t)(n * k));
                    float *bt = malloc(sizeof(float) * (size_t)(n * k));
                    float *c1 = malloc(sizeof(float) * (size_t)(m * n));
                    float *c2 = malloc(sizeof(float) * (size_t)(m * n));
                    ck_assert(a && b && bt && c1 && c2);
                    for (int64_t i = 0; i < m * k; i++)
                        a[i] = hb_rng_normal(&rng);
                    for (int64_t j = 0; j < n; j++)
                        for (int64_t p = 0; p < k; p++)
                            b[j * k + p] = bt[p * n + j] = hb_rng_normal(&rng);
                    for (int64_t i = 0; i < m * n; i++)
                        c1[i] = c2[i] = hb_rng_normal(&rng);
                    hb_gemm_small(true, m, n, k, a, b, acc, c1);
                    hb_gemm_small_nt_t(m, n, k, a, bt, acc, c2);
                    ck_assert_msg(memcmp(c1, c2, sizeof(float) * (size_t)(m * n)) == 0,
                                  "%ldx%ldx%ld%s: transposed weights give other bits", (long)m,
                                  (long)n, (long)k, acc ? " accumulating" : "");
                    free(a), free(b), free(bt), free(c1), free(c2);
                }
}
END_TEST

START_TEST(the_isa_is_chosen_and_said)
{
    ck_assert_msg(getenv("HYBRID_EXE") != NULL, "HYBRID_EXE is not set");
    char host[64];
    snprintf(host, sizeof host, "gemm: hybrid's %s (the host's) kernels",
             hb_isa_name(hb_isa_host()));
    char *out = explain_with("env -u HB_ISA -u HB_GEMM");
    ck_assert_msg(strstr(out, host), "%s", out);
    out = explain_with("HB_ISA=generic");
    ck_assert_msg(strstr(out, "gemm: hybrid's generic (HB_ISA=generic) kernels (4×8 tiles)"),
                  "%s", out);
    if (hb_isa_host() < HB_ISA_AVX512) {
        out = explain_with("HB_ISA=avx512");
        ck_assert_msg(strstr(out, "(HB_ISA=avx512, which this CPU lacks)"), "%s", out);
    }
    out = explain_with("HB_GEMM=openblas");
    ck_assert_msg(strstr(out, "gemm: OpenBLAS's ") && strstr(out, "(HB_GEMM=openblas)"), "%s",
                  out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("sgemm");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, products_match_the_reference, 0, HB_ISA_COUNT);
    tcase_add_loop_test(tc, wide_products_match_the_reference, 0, HB_ISA_COUNT);
    tcase_add_test(tc, rows_do_not_depend_on_the_batch);
    tcase_add_test(tc, threads_give_the_same_bits);
    tcase_add_test(tc, prepacked_b_gives_the_same_bits);
    tcase_add_loop_test(tc, prepacked_a_gives_the_same_bits, 0, 2);
    tcase_add_test(tc, frozen_plans_give_live_bits);
    tcase_add_test(tc, transposed_small_weights_give_the_same_bits);
    tcase_add_test(tc, the_isa_is_chosen_and_said);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

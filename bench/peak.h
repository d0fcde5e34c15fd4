/* The CPU's vector peak, measured rather than taken from a BLAS: a loop of 12 independent FMA
 * chains per ISA (as many as keep two FMA units busy at a latency of 4–6), run at once on
 * each of the threads asked for. bench_gemm measures the kernels against it; bench_compare's
 * floor column divides a case's multiply-adds by it. */
#ifndef HYBRID_BENCH_PEAK_H
#define HYBRID_BENCH_PEAK_H

#include "timing.h"
#include "../src/runtime/sgemm.h"

#include <pthread.h>

#if defined(__x86_64__)
#include <immintrin.h>

/* one function per ISA, from one template */
#define FMA_LOOP(name, isa, vec, lanes, set1, fmadd, add, storeu)                                 \
    __attribute__((target(isa))) static double name(long n)                                     \
    {                                                                                             \
        vec s[12], x = set1(1e-7f), y = set1(0.999999f);                                          \
        for (int i = 0; i < 12; i++)                                                              \
            s[i] = set1((float)i);                                                                \
        for (long r = 0; r < n; r++)                                                              \
            _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++)                                 \
                s[i] = fmadd(s[i], y, x);                                                         \
        float out[lanes];                                                                         \
        vec t = s[0];                                                                             \
        for (int i = 1; i < 12; i++)                                                              \
            t = add(t, s[i]);                                                                     \
        storeu(out, t);                                                                           \
        return out[0];                                                                            \
    }
FMA_LOOP(fma_avx512, "avx512f", __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
         _mm512_storeu_ps)
FMA_LOOP(fma_avx2, "avx2,fma", __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
         _mm256_storeu_ps)
#endif

typedef struct peak_run {
    hb_isa isa;
    long n;
    double sink;
} peak_run;

static void *peak_thread(void *arg)
{
    peak_run *r = arg;
#if defined(__x86_64__)
    r->sink = r->isa == HB_ISA_AVX512 ? fma_avx512(r->n) : fma_avx2(r->n);
#endif
    return NULL;
}

/* GFLOP/s of isa's FMA loop on `threads` threads at once (a multiply-add is two flops); 0 for
 * the generic path or off x86. */
static inline double vector_peak(hb_isa isa, int threads)
{
#if defined(__x86_64__)
    if (isa == HB_ISA_GENERIC)
        return 0;
    enum { MAX = 64 };
    threads = threads < 1 ? 1 : threads > MAX ? MAX : threads;
    peak_run runs[MAX];
    pthread_t ids[MAX];
    long n = 20000000;
    double t = now_ns();
    for (int i = 0; i < threads; i++) {
        runs[i] = (peak_run){.isa = isa, .n = n};
        if (i > 0 && pthread_create(&ids[i], NULL, peak_thread, &runs[i]) != 0)
            return 0;
    }
    peak_thread(&runs[0]);
    for (int i = 1; i < threads; i++)
        pthread_join(ids[i], NULL);
    t = now_ns() - t;
    volatile double keep = runs[0].sink;
    (void)keep;
    return 2.0 * 12 * (isa == HB_ISA_AVX512 ? 16 : 8) * (double)n * threads / t;
#else
    (void)isa, (void)threads;
    return 0;
#endif
}

#endif

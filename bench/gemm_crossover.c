/* Where hybrid's small-GEMM loops stop beating OpenBLAS: x·Wᵀ (the linear form) for a range of
 * rows m, inner sizes k and outputs n, each timed both ways in one process (medians of
 * alternating rounds). hb_gemm_small_fits() in src/runtime/gemm_small.c encodes the result.
 * A second table times OpenBLAS itself on one thread and on two, for the sizes around
 * PARALLEL_MIN in src/runtime/threads.c (where hybrid starts handing GEMMs to two threads).
 * Run: build/bench_gemm_crossover */
#include "timing.h"
#include "../src/runtime/gemm_small.h"
#include "../src/runtime/kernels.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* x·Wᵀ for m×k by n×k on one OpenBLAS thread and on two, alternating, medians of 9 rounds. */
static void threads_table(float *a, float *w, float *c)
{
    const int shapes[][3] = {{64, 256, 20}, {128, 256, 64}, {128, 256, 128}, {256, 256, 256},
                             {512, 512, 512}};
    printf("\n%-16s %12s %12s %8s %s\n", "m x n x k", "1 thread us", "2 threads us", "ratio",
           "hybrid uses");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        int reps = (int)(4e7 / (2.0 * m * n * k)) + 1;
        double t[2][9];
        for (int r = 0; r < 9; r++)
            for (int th = 0; th < 2; th++) {
                openblas_set_num_threads(th + 1);
                double t0 = now_ns();
                for (int i = 0; i < reps; i++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, w, k,
                                0, c, n);
                t[th][r] = (now_ns() - t0) / reps / 1e3;
            }
        double one = median(t[0], 9), two = median(t[1], 9);
        char label[32];
        snprintf(label, sizeof label, "%dx%dx%d", m, n, k);
        printf("%-16s %12.1f %12.1f %7.2fx %s\n", label, one, two, one / two,
               (int64_t)m * n * k >= HB_BLAS_PARALLEL_MIN ? "2 threads" : "1 thread");
    }
    openblas_set_num_threads(1);
}

int main(void)
{
    const int ms[] = {1, 2, 4, 8, 16, 32, 64}, sizes[][2] = {{20, 256}, {256, 10}, {64, 64},
                                                           {256, 256}, {1024, 1024}};
    float *a = calloc(512 * 1024, sizeof(float)), *w = calloc(1024 * 1024, sizeof(float));
    float *c = calloc(512 * 1024, sizeof(float));
    for (int i = 0; i < 1024 * 1024; i++)
        w[i] = (float)(i % 17) * 0.01f;
    printf("%-16s %6s %12s %12s %8s %s\n", "k x n", "rows", "small ns", "openblas ns", "ratio",
           "fits");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int k = sizes[s][0], n = sizes[s][1];
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
            int m = ms[mi];
            double flops = 2.0 * m * n * k;
            int reps = (int)(2e7 / flops) + 1;
            double t[2][9];
            for (int r = 0; r < 9; r++) {
                double t0 = now_ns();
                for (int i = 0; i < reps; i++)
                    hb_gemm_small(true, m, n, k, a, w, false, c);
                double t1 = now_ns();
                for (int i = 0; i < reps; i++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, w, k,
                                0, c, n);
                double t2 = now_ns();
                t[0][r] = (t1 - t0) / reps, t[1][r] = (t2 - t1) / reps;
            }
            double small = median(t[0], 9), blas = median(t[1], 9);
            char label[32];
            snprintf(label, sizeof label, "%d x %d", k, n);
            printf("%-16s %6d %12.0f %12.0f %7.2fx %s\n", label, m, small, blas, blas / small,
                   hb_gemm_small_fits(m, n, k) ? "small" : "openblas");
        }
    }
    threads_table(a, w, c);
    free(a), free(w), free(c);
    return 0;
}

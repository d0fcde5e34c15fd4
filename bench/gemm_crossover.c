/* Where hybrid's small-GEMM loops stop beating OpenBLAS: x·Wᵀ (the linear form) for a range of
 * rows m, inner sizes k and outputs n, each timed both ways in one process (medians of
 * alternating rounds). hb_gemm_small_fits() in src/runtime/gemm_small.c encodes the result.
 * Run: build/bench_gemm_crossover */
#include "timing.h"
#include "../src/runtime/gemm_small.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>



int main(void)
{
    const int ms[] = {1, 2, 4, 8, 16, 32, 64}, sizes[][2] = {{20, 256}, {256, 10}, {64, 64},
                                                           {256, 256}, {1024, 1024}};
    float *a = calloc(64 * 1024, sizeof(float)), *w = calloc(1024 * 1024, sizeof(float));
    float *c = calloc(64 * 1024, sizeof(float));
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
    free(a), free(w), free(c);
    return 0;
}

/* hybrid's own SGEMM (src/runtime/sgemm.c) against OpenBLAS, in one process: GFLOP/s on the
 * products of the benchmark models (rows × columns × inner, x·Wᵀ as a linear stores W, and a
 * convolution's lowered form), each ISA this CPU has on one thread (medians of 7 alternating
 * rounds), and the host's on two threads against OpenBLAS on two (medians of 7 rounds each). First the CPU's vector
 * peak on one thread (a loop of independent FMAs of each ISA), which is what the kernels are
 * measured against, not the BLAS they replace.
 * Run: build/bench_gemm [--quick] */
#include "peak.h"
#include "timing.h"
#include "../src/runtime/kernels.h"
#include "../src/runtime/sgemm.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape {
    const char *what;
    int m, n, k;
    bool trans_b;
} shape;

static const shape shapes[] = {
    {"wide MLP layer", 256, 1024, 1024, true},
    {"deep MLP layer", 64, 256, 256, true},
    {"ResNet-18 stem 7x7", 64, 12544, 147, false},
    {"ResNet-18 3x3, 64 ch", 64, 3136, 576, false},
    {"ResNet-18 3x3, 128 ch", 128, 784, 1152, false},
    {"ResNet-18 3x3, 256 ch", 256, 196, 2304, false},
    {"ResNet-18 3x3, 512 ch", 512, 49, 4608, false},
    {"12 rows x 512", 12, 512, 512, true},
    {"square 1024", 1024, 1024, 1024, false},
};

enum { ROUNDS = 7 };

/* Microseconds of one product, by which: 0 OpenBLAS, 1 + isa hybrid, on threads. */
static double time_one(int which, int threads, const shape *s, const float *a, const float *b,
                       float *c, int reps)
{
    int ldb = s->trans_b ? s->k : s->n;
    double t = now_ns();
    for (int r = 0; r < reps; r++) {
        if (which == 0) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, s->trans_b ? CblasTrans : CblasNoTrans, s->m,
                        s->n, s->k, 1.0f, a, s->k, b, ldb, 0.0f, c, s->n);
        } else if (threads > 1) {
            hb_sgemm_threads(threads, (hb_isa)(which - 1), false, s->trans_b, s->m, s->n, s->k,
                             a, s->k, b, ldb, 0.0f, c, s->n);
        } else {
            hb_sgemm((hb_isa)(which - 1), false, s->trans_b, s->m, s->n, s->k, a, s->k, b, ldb,
                     0.0f, c, s->n);
        }
    }
    return (now_ns() - t) / 1e3 / reps;
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    hb_isa host = hb_isa_host();
    openblas_set_num_threads(1); /* its default is every core */
    printf("CPU's ISA: %s; OpenBLAS's kernels: %s\n", hb_isa_name(host), openblas_get_corename());
    for (hb_isa i = HB_ISA_AVX2; i <= host; i++)
        printf("vector peak, one thread, %s: %.1f GFLOP/s\n", hb_isa_name(i), vector_peak(i, 1));
    printf("\n%-24s %-17s %9s", "product", "m x n x k", "OpenBLAS");
    for (hb_isa i = HB_ISA_GENERIC; i <= host; i++)
        printf(" %9s", hb_isa_name(i));
    printf(" %12s %12s   GFLOP/s\n", "OpenBLAS x2", "hybrid x2");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] - (quick ? 1 : 0); s++) {
        const shape *sh = &shapes[s];
        size_t an = (size_t)sh->m * sh->k, bn = (size_t)sh->k * sh->n, cn = (size_t)sh->m * sh->n;
        float *a = malloc(sizeof(float) * an), *b = malloc(sizeof(float) * bn);
        float *c = malloc(sizeof(float) * cn);
        for (size_t i = 0; i < an; i++)
            a[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < bn; i++)
            b[i] = (float)(i % 5) * 0.1f;
        double flops = 2.0 * sh->m * sh->n * sh->k;
        int reps = (int)(4e8 / flops) + 1;
        int cols = 1 + (int)host + 1 + 2; /* OpenBLAS, each ISA, OpenBLAS x2, hybrid x2 */
        double t[8][ROUNDS];
        for (int r = 0; r < ROUNDS; r++) /* one thread: the columns alternate */
            for (int col = 0; col < cols - 2; col++)
                t[col][r] = time_one(col, 1, sh, a, b, c, reps);
        /* Two threads: hybrid's rounds, then OpenBLAS's, whose idle workers go on spinning
         * after each of its calls and would take the core from hybrid's between them. */
        for (int r = 0; r < ROUNDS; r++)
            t[cols - 1][r] = time_one(1 + (int)host, 2, sh, a, b, c, reps);
        openblas_set_num_threads(2);
        for (int r = 0; r < ROUNDS; r++)
            t[cols - 2][r] = time_one(0, 2, sh, a, b, c, reps);
        openblas_set_num_threads(1);
        char dims[32];
        snprintf(dims, sizeof dims, "%dx%dx%d%s", sh->m, sh->n, sh->k, sh->trans_b ? " (Wt)" : "");
        printf("%-24s %-17s", sh->what, dims);
        for (int col = 0; col < cols; col++)
            printf(col >= cols - 2 ? " %12.1f" : " %9.1f", flops / median(t[col], ROUNDS) / 1e3);
        printf("\n");
        free(a), free(b), free(c);
    }
    return 0;
}

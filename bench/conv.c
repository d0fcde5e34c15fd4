/* The convolutions of ResNet-18 at batch 1, 224×224, one by one: hybrid's kernel with the
 * lowered input made in bands of output rows (the default, hb_conv_band) and as one whole
 * image, alternating, medians of 9 rounds, GFLOP/s of each. conv.c's banding rule comes from
 * this table. OpenBLAS runs on the threads given (default 1).
 * Run: build/bench_conv [threads] */
#include "timing.h"
#include "../src/runtime/conv.h"

#include <cblas.h>
#include <hybrid.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    hb_set_num_threads(threads > 0 ? threads : 1);
    /* in, out, size, kernel, stride; how many of each ResNet-18 has */
    const int layers[][6] = {{3, 64, 224, 7, 2, 1},    {64, 64, 56, 3, 1, 4},
                             {64, 128, 56, 3, 2, 1},   {128, 128, 28, 3, 1, 3},
                             {64, 128, 56, 1, 2, 1},   {128, 256, 28, 3, 2, 1},
                             {256, 256, 14, 3, 1, 3},  {128, 256, 28, 1, 2, 1},
                             {256, 512, 14, 3, 2, 1},  {512, 512, 7, 3, 1, 3},
                             {256, 512, 14, 1, 2, 1}};
    const int64_t band = hb_conv_band;
    double total[2] = {0, 0};
    printf("%-24s %5s %12s %12s %8s %8s\n", "conv (in out size k/s)", "count", "banded ms",
           "whole ms", "GFLOP/s", "ratio");
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        const int *L = layers[l];
        int pad = L[3] / 2, oh = (L[2] + 2 * pad - L[3]) / L[4] + 1;
        hb_rng rng;
        hb_rng_seed(&rng, 1);
        hb_tensor *x = hb_rand(HB_SHAPE(1, L[0], L[2], L[2]), &rng);
        hb_tensor *w = hb_randn(HB_SHAPE(L[1], L[0], L[3], L[3]), &rng);
        hb_conv2d_options o = {.stride = {L[4], L[4]}, .padding = {pad, pad}};
        double t[2][9];
        for (int r = 0; r < 9; r++)
            for (int mode = 0; mode < 2; mode++) {
                hb_conv_band = mode == 0 ? band : 0;
                double t0 = now_ns();
                hb_tensor_release(hb_conv2d_nobias(x, w, &o));
                t[mode][r] = (now_ns() - t0) / 1e6;
            }
        double banded = median(t[0], 9), whole = median(t[1], 9);
        double gflop = 2.0 * L[1] * oh * oh * L[0] * L[3] * L[3] / 1e9;
        char label[48];
        snprintf(label, sizeof label, "%d %d %d %d/%d", L[0], L[1], L[2], L[3], L[4]);
        printf("%-24s %5d %12.3f %12.3f %8.1f %7.2fx\n", label, L[5], banded, whole,
               gflop / (banded / 1e3), whole / banded);
        total[0] += banded * L[5], total[1] += whole * L[5];
        hb_tensor_release(x), hb_tensor_release(w);
    }
    hb_conv_band = band;
    printf("%-24s %5s %12.3f %12.3f %8s %7.2fx\n", "all of ResNet-18's", "", total[0], total[1],
           "", total[1] / total[0]);
    return 0;
}

/* The convolutions of ResNet-18 at batch 1, 224×224, one by one, each way hybrid's kernel can
 * run it: im2col with the lowered input in bands of output rows (hb_conv_band), im2col of the
 * whole image, and Winograd F(2×2, 3×3) for the 3×3 stride-1 layers; alternating, medians of
 * 9 rounds. The banding rule and the Winograd threshold in conv.c come from this table; the
 * last line adds up the layers as conv.c chooses and as plain whole-image im2col.
 * OpenBLAS runs on the threads given (default 1).
 * Run: build/bench_conv [threads] */
#include "timing.h"
#include "../src/runtime/conv.h"

#include <cblas.h>
#include <hybrid.h>
#include <stdio.h>
#include <stdlib.h>

enum { BANDED, WHOLE, WINOGRAD, CHOSEN, MODES };

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
    const int64_t band = hb_conv_band, tiles = hb_conv_winograd_tiles;
    double total[MODES] = {0};
    printf("%-22s %5s %10s %10s %10s %10s %8s\n", "conv (in out size k/s)", "count",
           "banded ms", "whole ms", "winograd", "chosen ms", "GFLOP/s");
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        const int *L = layers[l];
        int pad = L[3] / 2, oh = (L[2] + 2 * pad - L[3]) / L[4] + 1;
        bool wino = L[3] == 3 && L[4] == 1;
        hb_rng rng;
        hb_rng_seed(&rng, 1);
        hb_tensor *x = hb_rand(HB_SHAPE(1, L[0], L[2], L[2]), &rng);
        hb_tensor *w = hb_randn(HB_SHAPE(L[1], L[0], L[3], L[3]), &rng);
        hb_conv2d_options o = {.stride = {L[4], L[4]}, .padding = {pad, pad}};
        double t[MODES][9];
        for (int r = 0; r < 9; r++)
            for (int mode = 0; mode < MODES; mode++) {
                if (mode == WINOGRAD && !wino)
                    continue;
                hb_conv_band = mode == WHOLE ? 0 : band;
                hb_conv_winograd_tiles = mode == WINOGRAD ? 1 : mode == CHOSEN ? tiles : 0;
                double t0 = now_ns();
                hb_tensor_release(hb_conv2d_nobias(x, w, &o));
                t[mode][r] = (now_ns() - t0) / 1e6;
            }
        double ms[MODES];
        for (int mode = 0; mode < MODES; mode++)
            ms[mode] = mode == WINOGRAD && !wino ? 0 : median(t[mode], 9);
        double gflop = 2.0 * L[1] * oh * oh * L[0] * L[3] * L[3] / 1e9;
        char label[48], wcell[16] = "-";
        snprintf(label, sizeof label, "%d %d %d %d/%d", L[0], L[1], L[2], L[3], L[4]);
        if (wino)
            snprintf(wcell, sizeof wcell, "%.3f", ms[WINOGRAD]);
        printf("%-22s %5d %10.3f %10.3f %10s %10.3f %8.1f\n", label, L[5], ms[BANDED],
               ms[WHOLE], wcell, ms[CHOSEN], gflop / (ms[CHOSEN] / 1e3));
        for (int mode = 0; mode < MODES; mode++)
            total[mode] += ms[mode] * L[5];
        hb_tensor_release(x), hb_tensor_release(w);
    }
    hb_conv_band = band, hb_conv_winograd_tiles = tiles;
    printf("ResNet-18's convolutions: %.2f ms as chosen, %.2f ms whole-image im2col (%.2fx)\n",
           total[CHOSEN], total[WHOLE], total[WHOLE] / total[CHOSEN]);
    return 0;
}

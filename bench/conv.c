/* The convolutions of ResNet-18 at batch 1, 224×224, one by one, each way hybrid's kernel can
 * run it: im2col with the lowered input in bands of output rows (hb_conv_band), im2col of the
 * whole image, and Winograd F(2×2, 3×3) and F(4×4, 3×3) for the 3×3 stride-1 layers; then as
 * conv.c chooses, with the weights as an eager call has them and as a frozen plan's lowering
 * leaves them (packed into the kernels' strips, or transformed for Winograd:
 * hb_conv_pack_weights). Every way but the last packs or transforms the weights per call.
 * Alternating, medians of 9 rounds. The banding rule and the Winograd rule in conv.c come from
 * this table; the last line adds up the layers as chosen and as plain whole-image im2col.
 * Run: build/bench_conv [threads [layer]] (layer: one row of the table, from 0) */
#include "timing.h"
#include "../src/runtime/conv.h"
#include "../src/common.h" /* hb_aligned_free */

#include <hybrid.h>
#include <stdio.h>
#include <stdlib.h>

enum { BANDED, WHOLE, WINO2, WINO4, CHOSEN, FROZEN, MODES };

static hb_shape shape_of(const hb_tensor *t)
{
    hb_shape s = {.ndim = hb_tensor_ndim(t)};
    for (int d = 0; d < s.ndim; d++)
        s.dim[d] = hb_tensor_shape(t)[d];
    return s;
}

/* One convolution through the kernel a plan calls, with the weights planned for it or not. */
static void run(hb_tensor *x, hb_tensor *w, hb_tensor *y, const hb_window *win,
                const float *planned)
{
    hb_operand in[2] = {{hb_tensor_data(x), shape_of(x), HB_F32},
                        {hb_tensor_data(w), shape_of(w), HB_F32}};
    hb_operand out = {hb_tensor_data(y), shape_of(y), HB_F32};
    hb_attrs at = {.win = *win, .packed = planned};
    hb_kernel_conv2d(in, 2, &out, &at);
}

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
    const int wino_m = hb_conv_winograd_m;
    double total[MODES] = {0};
    printf("%-20s %5s %8s %8s %8s %8s %8s %8s %8s\n", "conv (in out size k/s)", "count",
           "banded", "whole", "F(2x2)", "F(4x4)", "chosen", "frozen", "GFLOP/s");
    int only = argc > 2 ? atoi(argv[2]) : -1;
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        if (only >= 0 && (size_t)only != l)
            continue;
        const int *L = layers[l];
        int pad = L[3] / 2, oh = (L[2] + 2 * pad - L[3]) / L[4] + 1;
        bool wino = L[3] == 3 && L[4] == 1;
        hb_rng rng;
        hb_rng_seed(&rng, 1);
        hb_tensor *x = hb_rand(HB_SHAPE(1, L[0], L[2], L[2]), &rng);
        hb_tensor *w = hb_randn(HB_SHAPE(L[1], L[0], L[3], L[3]), &rng);
        hb_tensor *y = hb_zeros(HB_SHAPE(1, L[1], oh, oh));
        hb_window win = {.stride = {L[4], L[4]}, .pad = {pad, pad}, .dilation = {1, 1},
                         .groups = 1};
        hb_shape xs = shape_of(x), ws = shape_of(w), ys = shape_of(y);
        float *planned = hb_conv_pack_weights(&xs, &ws, &ys, &win, hb_tensor_cdata(w));
        int rounds = only >= 0 ? 99 : 9;
        double t[MODES][99];
        for (int r = 0; r < rounds; r++)
            for (int mode = 0; mode < MODES; mode++) {
                if ((mode == WINO2 || mode == WINO4) && !wino)
                    continue;
                hb_conv_band = mode == WHOLE ? 0 : band;
                hb_conv_winograd_tiles = mode == WINO2 || mode == WINO4 ? 1
                                         : mode >= CHOSEN                ? tiles
                                                                         : 0;
                hb_conv_winograd_m = mode == WINO2 ? 2 : mode == WINO4 ? 4 : wino_m;
                double t0 = now_ns();
                run(x, w, y, &win, mode == FROZEN ? planned : NULL);
                t[mode][r] = (now_ns() - t0) / 1e6;
            }
        double ms[MODES];
        char cell[MODES][16];
        for (int mode = 0; mode < MODES; mode++) {
            bool none = (mode == WINO2 || mode == WINO4) && !wino;
            ms[mode] = none ? 0 : median(t[mode], rounds);
            snprintf(cell[mode], sizeof cell[mode], none ? "-" : "%.3f", ms[mode]);
            total[mode] += ms[mode] * L[5];
        }
        double gflop = 2.0 * L[1] * oh * oh * L[0] * L[3] * L[3] / 1e9;
        char label[48];
        snprintf(label, sizeof label, "%d %d %d %d/%d", L[0], L[1], L[2], L[3], L[4]);
        printf("%-20s %5d %8s %8s %8s %8s %8s %8s %8.1f\n", label, L[5], cell[BANDED],
               cell[WHOLE], cell[WINO2], cell[WINO4], cell[CHOSEN], cell[FROZEN],
               gflop / (ms[FROZEN] / 1e3));
        hb_aligned_free(planned);
        hb_tensor_release(x), hb_tensor_release(w), hb_tensor_release(y);
    }
    hb_conv_band = band, hb_conv_winograd_tiles = tiles, hb_conv_winograd_m = wino_m;
    printf("ResNet-18's convolutions: %.2f ms frozen, %.2f ms eager as chosen, %.2f ms "
           "whole-image im2col (%.2fx frozen)\n(GFLOP/s: the direct product's multiply-adds "
           "over the frozen time)\n",
           total[FROZEN], total[CHOSEN], total[WHOLE], total[WHOLE] / total[FROZEN]);
    return 0;
}

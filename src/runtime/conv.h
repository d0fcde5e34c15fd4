/* Kernels of the convolution and pooling ops (conv.c), in the kernel signature of kernels.h. */
#ifndef HB_RUNTIME_CONV_H
#define HB_RUNTIME_CONV_H

#include "kernels.h"

#define HB_CONV_KERNEL(name)                                                                  \
    void name(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)

HB_CONV_KERNEL(hb_kernel_conv2d);
HB_CONV_KERNEL(hb_kernel_conv_transpose2d);
HB_CONV_KERNEL(hb_kernel_conv2d_grad_w);
HB_CONV_KERNEL(hb_kernel_fused_conv);
HB_CONV_KERNEL(hb_kernel_max_pool2d);
HB_CONV_KERNEL(hb_kernel_max_pool2d_grad);
HB_CONV_KERNEL(hb_kernel_avg_pool2d);
HB_CONV_KERNEL(hb_kernel_avg_pool2d_grad);

/* A frozen plan's convolution weights (w, [O, C, KH, KW] at wdata) packed once into the GEMM
 * kernels' strips for the products its kernel will run over them (im2col or pointwise, one
 * group, the active ISA; Wᵀ's B panels where the product runs turned), or for Winograd transformed (U = G w Gᵀ) and packed likewise for
 * its products, for attrs.packed; NULL where it runs none (depthwise, groups, fewer output
 * channels than a tile) or out of memory: then packed per call. */
float *hb_conv_pack_weights(const hb_shape *x, const hb_shape *w, const hb_shape *y,
                            const hb_window *win, const float *wdata);

/* How a convolution of these shapes runs: "im2col GEMM", "pointwise GEMM" (either with
 * " turned (...)" where the product runs as yᵀ), "direct", "Winograd F(4×4, 3×3)" or
 * "Winograd F(2×2, 3×3)" (for explain). */
const char *hb_conv_method(const hb_shape *x, const hb_shape *w, const hb_shape *y,
                           const hb_window *win);

/* Floats of lowered input per band of output rows (conv.c says when bands are taken); 0: one
 * band, the whole image; negative: bands of that many floats always (tests). A variable so
 * that build/bench_conv can time each way. */
extern int64_t hb_conv_band;
/* Which 3×3 stride-1 convolutions take the Winograd path (conv.c): negative, those the rule
 * in conv.c picks; 0, none; n > 0, every one with at least n output tiles per image, in the
 * form hb_conv_winograd_m says (output tiles 2×2 or 4×4; 0: 4×4). Variables for
 * build/bench_conv and the tests. */
extern int64_t hb_conv_winograd_tiles;
extern int hb_conv_winograd_m;

#endif

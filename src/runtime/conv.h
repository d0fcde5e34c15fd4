/* Kernels of the convolution and pooling ops (conv.c), in the kernel signature of kernels.h. */
#ifndef HB_RUNTIME_CONV_H
#define HB_RUNTIME_CONV_H

#include "kernels.h"

#define HB_CONV_KERNEL(name)                                                                  \
    void name(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)

HB_CONV_KERNEL(hb_kernel_conv2d);
HB_CONV_KERNEL(hb_kernel_conv2d_grad_x);
HB_CONV_KERNEL(hb_kernel_conv2d_grad_w);
HB_CONV_KERNEL(hb_kernel_fused_conv);
HB_CONV_KERNEL(hb_kernel_max_pool2d);
HB_CONV_KERNEL(hb_kernel_max_pool2d_grad);
HB_CONV_KERNEL(hb_kernel_avg_pool2d);
HB_CONV_KERNEL(hb_kernel_avg_pool2d_grad);

/* Floats of lowered input per band of output rows (conv.c says when bands are taken); 0: one
 * band, the whole image. A variable so that build/bench_conv can time both. */
extern int64_t hb_conv_band;

#endif

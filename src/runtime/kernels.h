/* Kernels: the functions that compute ops. Eager calls and plan instructions both call these,
 * so an eager result and a compiled one agree to the bit where nothing reorders arithmetic.
 * A kernel trusts its shapes: hb_op_infer() has checked them before. */
#ifndef HB_RUNTIME_KERNELS_H
#define HB_RUNTIME_KERNELS_H

#include "../ir/op.h"

/* data points at elements of dtype (float32 unless a dtype rule of ops.def says otherwise). */
typedef struct hb_operand {
    float *data;
    hb_shape shape;
    hb_dtype dtype;
} hb_operand;

typedef void (*hb_kernel_fn)(const hb_operand *in, int n, const hb_operand *out,
                             const hb_attrs *at);

extern const hb_kernel_fn hb_kernels[HB_OP_COUNT];

/* The kernels of typed.c: ops over any dtype, and an elementwise op of ops.def whose operands
 * are not float32. Those of HB_FAILS ops set the thread's error on an index out of range. */
void hb_kernel_typed_elementwise(hb_op op, const hb_operand *in, int n, const hb_operand *out,
                                 const hb_attrs *at);
void hb_kernel_typed_reduce(hb_op op, const hb_operand *in, const hb_operand *out,
                            const hb_attrs *at);
#define HB_TYPED_KERNEL(NAME)                                                                 \
    void hb_kernel_##NAME(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at);
HB_TYPED_KERNEL(EQUAL)
HB_TYPED_KERNEL(LESS)
HB_TYPED_KERNEL(GREATER)
HB_TYPED_KERNEL(LESS_EQUAL)
HB_TYPED_KERNEL(GREATER_EQUAL)
HB_TYPED_KERNEL(XOR)
HB_TYPED_KERNEL(MOD)
HB_TYPED_KERNEL(WHERE)
HB_TYPED_KERNEL(CAST)
HB_TYPED_KERNEL(GATHER)
HB_TYPED_KERNEL(GATHER_ELEMENTS)
HB_TYPED_KERNEL(GATHER_ND)
HB_TYPED_KERNEL(SCATTER_ND)
HB_TYPED_KERNEL(GATHER_GRAD)
HB_TYPED_KERNEL(GATHER_ELEMENTS_GRAD)
HB_TYPED_KERNEL(ARGMAX)
HB_TYPED_KERNEL(ARGMIN)
#undef HB_TYPED_KERNEL

/* One op on plain buffers, in the form passes take to compute constants (hb_pass_opts.eval):
 * folded values come from the same kernels as eager and compiled runs. n <= 64. */
void hb_kernel_eval(hb_op op, const hb_attrs *at, int n, float *const *in, const hb_shape *shapes,
                    float *out, const hb_shape *out_shape);

/* OpenBLAS runs on one thread except for GEMMs of m·n·k multiply-adds large enough to gain
 * from the caller's count (threads.c): begin before the call, end (with begin's answer)
 * after. From HB_BLAS_PARALLEL_MIN multiply-adds on, 2 threads measured faster than one
 * (the second table of build/bench_gemm_crossover). */
enum { HB_BLAS_PARALLEL_MIN = 1 << 22 };
bool hb_blas_parallel_begin(int64_t m, int64_t n, int64_t k);
/* Rows of a matrix view of s: every dim but the last (not numel / last, which may be 0). */
int64_t hb_matrix_rows(const hb_shape *s);
/* The thread count kernels may use: hb_set_num_threads's, else OpenBLAS's default. */
int hb_threads_wanted(void);
void hb_blas_parallel_end(bool began);

/* Runs an eager island: the frontend installs this (the runtime knows nothing of blocks). On
 * failure it sets the thread's error, which the executor checks after the instruction. */
extern void (*hb_island_hook)(void *callee, const hb_operand *in, const hb_operand *out);

#endif

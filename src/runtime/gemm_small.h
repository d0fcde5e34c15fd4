/* GEMMs with few rows, where a plain loop beats OpenBLAS's call overhead. */
#ifndef HB_RUNTIME_GEMM_SMALL_H
#define HB_RUNTIME_GEMM_SMALL_H

#include <stdbool.h>
#include <stdint.h>

/* c = a · (trans_b ? bᵀ : b), added onto c when accumulate. a is [m, k]; b is [n, k] when
 * trans_b, else [k, n]; c is [m, n]; all row-major and dense. */
void hb_gemm_small(bool trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                   const float *b, bool accumulate, float *c);
/* hb_gemm_small(true, ...) given bt = bᵀ ([k, n]) instead of b: the same sums, bit for bit,
 * vectorized across columns (a live plan's weight kept transposed, weights.c). */
void hb_gemm_small_nt_t(int64_t m, int64_t n, int64_t k, const float *a, const float *bt,
                        bool accumulate, float *c);
/* Whether the shapes are in the range where hb_gemm_small is the faster choice. */
bool hb_gemm_small_fits(int64_t m, int64_t n, int64_t k);

#endif

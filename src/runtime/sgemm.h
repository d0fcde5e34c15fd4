/* hybrid's own SGEMM (sgemm.c): packed panels and register-blocked microkernels, one per
 * instruction set, chosen by what the CPU has (CPUID), never by a BLAS's guess. */
#ifndef HB_RUNTIME_SGEMM_H
#define HB_RUNTIME_SGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum hb_isa { HB_ISA_GENERIC, HB_ISA_AVX2, HB_ISA_AVX512, HB_ISA_COUNT } hb_isa;

/* "generic", "avx2" (with FMA), "avx512" (AVX-512F). */
const char *hb_isa_name(hb_isa isa);
/* The best the CPU (and the OS, which must save the wider registers) supports. */
hb_isa hb_isa_host(void);
/* The one kernels use: HB_ISA from the environment (generic, avx2 or avx512, read once),
 * capped at the host's; else the host's. */
hb_isa hb_isa_active(void);

/* One line on which GEMM kernels run: hybrid's of which ISA and why, and where OpenBLAS (of
 * which core) still runs. */
const char *hb_gemm_note(void);

/* Whether GEMMs go through hb_sgemm (HB_GEMM=hybrid, the default) or OpenBLAS (HB_GEMM=openblas);
 * read once. */
bool hb_sgemm_enabled(void);

/* c = a'·b' + beta·c with a' = a or aᵀ ([m, k]), b' = b or bᵀ ([k, n]); lda, ldb and ldc are
 * the row strides of a, b and c as stored (row-major). Single-threaded; the microkernel of isa
 * (which the CPU must have). */
void hb_sgemm(hb_isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc);

/* hb_sgemm split over up to threads threads (the pool's), by columns or rows of C; the same
 * bits as one thread's. */
void hb_sgemm_threads(int threads, hb_isa isa, bool trans_a, bool trans_b, int64_t m,
                      int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                      int64_t ldb, float beta, float *c, int64_t ldc);

/* The GEMM the kernels call: hybrid's (the active ISA's microkernel) where it has at least a
 * tile's rows and columns, on the threads hb_set_num_threads gave when it is big enough
 * (HB_BLAS_PARALLEL_MIN), reading A from packed_a and B from packed where those are not NULL;
 * OpenBLAS where it has fewer, or where HB_GEMM=openblas says so. */
void hb_sgemm_any(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
                  const float *packed_a, const float *packed);
/* Whether hb_sgemm_any runs a product of m rows and n columns on hybrid's kernels (which
 * read packed). */
bool hb_sgemm_takes(int64_t m, int64_t n);
/* The columns of the active kernels' tile (their B panels' width). */
int hb_sgemm_tile_cols(void);

/* B ([k, n], or [n, k] when trans_b) packed for the active ISA's kernels once, for every call
 * of a product over it (a frozen plan's weight): hb_sgemm_pack_floats(isa, n, k) floats at
 * dst (64-byte aligned: the kernels load whole aligned vectors), handed to hb_sgemm_any as
 * packed. */
size_t hb_sgemm_pack_floats(hb_isa isa, int64_t n, int64_t k);
void hb_sgemm_pack(hb_isa isa, bool trans_b, int64_t n, int64_t k, const float *b, int64_t ldb,
                   float *dst);
/* The same for A ([m, k], or [k, m] when trans_a: a convolution's weights), into the kernels'
 * strips: hb_sgemm_pack_a_floats(isa, m, k) floats at dst (64-byte aligned), handed to
 * hb_sgemm_any as packed_a. */
size_t hb_sgemm_pack_a_floats(hb_isa isa, int64_t m, int64_t k);
void hb_sgemm_pack_a(hb_isa isa, bool trans_a, int64_t m, int64_t k, const float *a,
                     int64_t lda, float *dst);

#endif

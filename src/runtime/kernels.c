/* Eager and compiled kernels for every op of ops.def. GEMMs go to OpenBLAS; the rest are plain
 * loops the compiler can vectorize. Sums accumulate in double so that host decisions made on
 * them (the seed's `while sum(abs(x)) > 1`) do not hinge on float rounding order. */
#include "kernels.h"
#include "conv.h"
#include "fastmath.h"
#include "gemm_small.h"
#include "sgemm.h"
#include "plan.h"
#include "program.h"

#include <math.h>
#include <string.h>

/* ---- elementwise: one-instruction programs -------------------------------------------------- */

/* Every elementwise op runs through the program interpreter (program.c), the code fused nodes
 * use, so eager and fused results agree to the bit. */
static void elementwise(hb_op op, const hb_operand *in, int n, const hb_operand *out,
                        const hb_attrs *at)
{
    if (out->dtype != HB_F32 || in[0].dtype != HB_F32) { /* ids, masks: their dtype rule let them */
        hb_kernel_typed_elementwise(op, in, n, out, at);
        return;
    }
    hb_program p; /* only the fields a one-instruction program reads: no 300-byte clear */
    p.ninputs = n, p.nins = 1;
    p.ins[0] = (hb_prog_ins){.op = op, .a = 0, .b = (uint8_t)(n > 1), .scalar = at->scalar};
    hb_program_run(&p, in, out);
}

#define ELEMENTWISE(NAME)                                                                     \
    static void kernel_##NAME(const hb_operand *in, int n, const hb_operand *out,             \
                              const hb_attrs *at)                                             \
    {                                                                                         \
        elementwise(HB_OP_##NAME, in, n, out, at);                                            \
    }

#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad)
#define HB_EW_OP(NAME, name, inputs, flags, rule, attrs, grad, expr, llvm) ELEMENTWISE(NAME)
#include "../ir/ops.def"
#undef HB_OP
#undef HB_EW_OP

/* ---- GEMM --------------------------------------------------------------------------------- */

static void gemm_t(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                   const float *b, float beta, float *c, const hb_attrs *at)
{
    const float *packed = at ? at->packed : NULL;
    if (m == 0 || n == 0)
        return;
    if (k == 0) { /* BLAS may leave c alone when k is 0; the product of nothing is zero */
        if (beta == 0.0f)
            memset(c, 0, sizeof(float) * (size_t)(m * n));
        return;
    }
    /* hb_gemm_small_fits weighs the loops against OpenBLAS; a product of whole tiles goes to
     * hybrid's kernels, which beat both there (the deep MLP's 64×256·256ᵀ, Zen 5, one thread:
     * 2.3 ms a call in the loops, 0.96 ms in the AVX-512 tiles). */
    if (!trans_a && !hb_sgemm_takes(m, n) && hb_gemm_small_fits(m, n, k)) {
        if (trans_b && at && at->transposed) /* a live weight's kept Bᵀ (plan.c) */
            hb_gemm_small_nt_t(m, n, k, a, at->transposed, beta != 0.0f, c);
        else
            hb_gemm_small(trans_b, m, n, k, a, b, beta != 0.0f, c);
        return;
    }
    hb_sgemm_any(trans_a, trans_b, m, n, k, a, trans_a ? m : k, b, trans_b ? k : n, beta, c, n,
                 NULL, packed);
}

static void gemm(bool trans_b, int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                 float beta, float *c, const hb_attrs *at)
{
    gemm_t(false, trans_b, m, n, k, a, b, beta, c, at);
}

int64_t hb_matrix_rows(const hb_shape *s)
{
    int64_t rows = 1;
    for (int i = 0; i + 1 < s->ndim; i++)
        rows *= s->dim[i];
    return rows;
}

static void kernel_MATMUL(const hb_operand *in, int n_in, const hb_operand *out,
                          const hb_attrs *at)
{
    (void)n_in;
    const hb_shape *as = &in[0].shape, *bs = &in[1].shape, *os = &out->shape;
    int64_t m = as->dim[as->ndim - 2], k = as->dim[as->ndim - 1], n = bs->dim[bs->ndim - 1];
    if (bs->ndim == 2) { /* a plain weight: fold every batch dim of a into the rows */
        gemm(false, hb_matrix_rows(as), n, k, in[0].data, in[1].data, 0.0f, out->data, at);
        return;
    }
    hb_shape batch = {.ndim = os->ndim - 2}, ab = {.ndim = as->ndim - 2}, bb = {.ndim = bs->ndim - 2};
    memcpy(batch.dim, os->dim, sizeof(int64_t) * (size_t)batch.ndim);
    memcpy(ab.dim, as->dim, sizeof(int64_t) * (size_t)ab.ndim);
    memcpy(bb.dim, bs->dim, sizeof(int64_t) * (size_t)bb.ndim);
    int64_t sa[HB_MAX_DIMS], sb[HB_MAX_DIMS], idx[HB_MAX_DIMS] = {0};
    hb_program_broadcast_strides(&ab, &batch, sa);
    hb_program_broadcast_strides(&bb, &batch, sb);
    int64_t count = hb_shape_numel(&batch);
    for (int64_t t = 0; t < count; t++) {
        int64_t offa = 0, offb = 0;
        for (int d = 0; d < batch.ndim; d++) {
            offa += idx[d] * sa[d];
            offb += idx[d] * sb[d];
        }
        gemm(false, m, n, k, in[0].data + offa * m * k, in[1].data + offb * k * n, 0.0f,
             out->data + t * m * n, NULL);
        for (int d = batch.ndim - 1; d >= 0 && ++idx[d] == batch.dim[d]; d--)
            idx[d] = 0;
    }
}

static void kernel_LINEAR(const hb_operand *in, int n_in, const hb_operand *out,
                          const hb_attrs *at)
{
    const hb_shape *ws = &in[1].shape;
    int64_t o = ws->dim[0], k = ws->dim[1], rows = hb_matrix_rows(&in[0].shape);
    float beta = 0.0f;
    if (n_in == 3) { /* start every row at the bias and let the GEMM add onto it */
        for (int64_t r = 0; r < rows; r++)
            memcpy(out->data + r * o, in[2].data, sizeof(float) * (size_t)o);
        beta = 1.0f;
    }
    gemm(true, rows, o, k, in[0].data, in[1].data, beta, out->data, at);
}

/* ---- reductions and softmax --------------------------------------------------------------- */

/* Splits x around axis into outer × len × inner (all of x is 1 × numel × 1). */
static void split_axis(const hb_operand *x, const hb_attrs *at, int64_t *outer, int64_t *len,
                       int64_t *inner)
{
    if (at->all) {
        *outer = 1, *len = hb_shape_numel(&x->shape), *inner = 1;
        return;
    }
    *outer = 1, *inner = 1, *len = x->shape.dim[at->axis];
    for (int i = 0; i < at->axis; i++)
        *outer *= x->shape.dim[i];
    for (int i = at->axis + 1; i < x->shape.ndim; i++)
        *inner *= x->shape.dim[i];
}

/* Reductions add each output's values in order, in double. Along the last axis (inner 1) rows
 * go in groups, the loop over a row's values outside the loop over the group: the additions
 * of one row still come one after another, but the group's chains of additions overlap
 * instead of each waiting on the last's latency (a sum over rows of 10 ran at 2.6 ns a value).
 * Across rows (inner > 1, a bias's gradient) a block of columns at a time, row after row. */
enum { GROUP = 8, BLOCK = 256 };

static void reduce_sum(const hb_operand *in, const hb_operand *out, const hb_attrs *at,
                       bool mean)
{
    int64_t outer, len, inner;
    split_axis(&in[0], at, &outer, &len, &inner);
    double acc[BLOCK];
    int64_t width = inner > 1 ? BLOCK : GROUP;
    for (int64_t o = 0; o < outer; o += inner > 1 ? 1 : GROUP)
        for (int64_t i0 = 0; i0 < inner; i0 += width) {
            /* w outputs at once: columns i0.. of row block o, or rows o.. (inner 1) */
            int64_t w = inner > 1 ? (inner - i0 < BLOCK ? inner - i0 : BLOCK)
                                  : (outer - o < GROUP ? outer - o : GROUP);
            int64_t step = inner > 1 ? 1 : len; /* between neighbouring outputs' values */
            const float *p = in[0].data + o * len * inner + i0;
            for (int64_t i = 0; i < w; i++)
                acc[i] = 0.0;
            if (step == 1) /* separate loops: each with a constant stride, vectorized */
                for (int64_t j = 0; j < len; j++)
                    for (int64_t i = 0; i < w; i++)
                        acc[i] += p[j * inner + i];
            else
                for (int64_t j = 0; j < len; j++)
                    for (int64_t i = 0; i < w; i++)
                        acc[i] += p[j + i * step];
            float *dst = out->data + o * inner + i0;
            for (int64_t i = 0; i < w; i++)
                dst[i] = (float)(mean ? (len ? acc[i] / (double)len : NAN) : acc[i]);
        }
}

static void kernel_SUM(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    if (in[0].dtype != HB_F32) /* counts of a mask, sums of ids */
        hb_kernel_typed_reduce(HB_OP_SUM, in, out, at);
    else
        reduce_sum(in, out, at, false);
}

static void kernel_MEAN(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    reduce_sum(in, out, at, true);
}

static void kernel_MAX(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    if (in[0].dtype != HB_F32) {
        hb_kernel_typed_reduce(HB_OP_MAX, in, out, at);
        return;
    }
    int64_t outer, len, inner;
    split_axis(&in[0], at, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *p = in[0].data + o * len * inner + i;
            float m = p[0];
            for (int64_t j = 1; j < len && m == m; j++) /* NaN wins, as in PyTorch */
                if (p[j * inner] > m || p[j * inner] != p[j * inner])
                    m = p[j * inner];
            out->data[o * inner + i] = m;
        }
}

/* Exponentials in float (hb_fast_exp, within 1 ulp), their sum in double. Outputs go in
 * groups as in the reductions: g of them at a time, at distance step from each other (rows of
 * the last axis, or neighbouring columns), each one's values at distance stride. q must not
 * be p: the log pass reads p after q holds the exponentials (softmax is not marked in-place
 * in ops.def, so memory planning never makes them one). */
static inline __attribute__((always_inline)) void softmax_group(const float *p, float *q, int64_t g, int64_t step, int64_t len,
                                 int64_t stride, bool take_log)
{
    float m[GROUP];
    double total[GROUP];
    for (int64_t r = 0; r < g; r++)
        m[r] = -INFINITY, total[r] = 0.0;
    /* maxima and sums: chains of one output each, interleaved across the group */
    for (int64_t j = 0; j < len; j++)
        for (int64_t r = 0; r < g; r++)
            m[r] = p[r * step + j * stride] > m[r] ? p[r * step + j * stride] : m[r];
    for (int64_t r = 0; r < g; r++)
        if (m[r] == -INFINITY) /* all -inf: a finite shift avoids inf - inf; the row is 0/0,
                                * NaN, as in PyTorch */
            m[r] = 0.0f;
    /* elementwise passes along each output's values (contiguous for the last axis) */
    for (int64_t r = 0; r < g; r++)
        for (int64_t j = 0; j < len; j++)
            q[r * step + j * stride] = hb_fast_exp(p[r * step + j * stride] - m[r]);
    for (int64_t j = 0; j < len; j++)
        for (int64_t r = 0; r < g; r++)
            total[r] += q[r * step + j * stride];
    for (int64_t r = 0; r < g; r++) {
        float lse = take_log ? (float)log(total[r]) : 0.0f, inv = (float)(1.0 / total[r]);
        for (int64_t j = 0; j < len; j++) {
            int64_t at = r * step + j * stride;
            q[at] = take_log ? p[at] - m[r] - lse : q[at] * inv;
        }
    }
}

/* Compiled for AVX2+FMA and for baseline x86-64, as the interpreter's step (its exp is most
 * of the work). */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
softmax(const hb_operand *in, const hb_operand *out, const hb_attrs *at, bool take_log)
{
    int64_t outer, len, inner;
    split_axis(&in[0], at, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o += inner > 1 ? 1 : GROUP)
        for (int64_t i = 0; i < inner; i += GROUP) {
            int64_t g = inner > 1 ? (inner - i < GROUP ? inner - i : GROUP)
                                  : (outer - o < GROUP ? outer - o : GROUP);
            int64_t off = o * len * inner + i;
            if (inner == 1) /* the last axis: a literal stride, so the passes vectorize */
                softmax_group(in[0].data + off, out->data + off, g, len, len, 1, take_log);
            else
                softmax_group(in[0].data + off, out->data + off, g, 1, len, inner, take_log);
        }
}

static void kernel_SOFTMAX(const hb_operand *in, int n, const hb_operand *out,
                           const hb_attrs *at)
{
    (void)n;
    softmax(in, out, at, false);
}

static void kernel_LOG_SOFTMAX(const hb_operand *in, int n, const hb_operand *out,
                               const hb_attrs *at)
{
    (void)n;
    softmax(in, out, at, true);
}

/* ---- data movement ------------------------------------------------------------------------ */

static void kernel_RESHAPE(const hb_operand *in, int n, const hb_operand *out,
                           const hb_attrs *at)
{
    (void)n, (void)at;
    if (out->data != in[0].data)
        memcpy(out->data, in[0].data,
               hb_dtypes[in[0].dtype].size * (size_t)hb_shape_numel(&out->shape));
}

static void kernel_TRANSPOSE(const hb_operand *in, int n, const hb_operand *out,
                             const hb_attrs *at)
{
    (void)n;
    const hb_shape *os = &out->shape;
    int64_t count = hb_shape_numel(os);
    if (count == 0)
        return;
    int64_t in_stride[HB_MAX_DIMS], st = 1;
    for (int i = in[0].shape.ndim - 1; i >= 0; i--) {
        in_stride[i] = st;
        st *= in[0].shape.dim[i];
    }
    /* Output axis d walks input axis d, except the two swapped ones. */
    int64_t walk[HB_MAX_DIMS], idx[HB_MAX_DIMS] = {0};
    for (int d = 0; d < os->ndim; d++)
        walk[d] = in_stride[d == at->axis ? at->axis2 : d == at->axis2 ? at->axis : d];
    int64_t off = 0;
    size_t es = hb_dtypes[in[0].dtype].size; /* any dtype: elements moved by their bytes */
    for (int64_t i = 0; i < count; i++) {
        if (es == sizeof(float))
            out->data[i] = in[0].data[off];
        else
            memcpy((char *)out->data + es * (size_t)i, (const char *)in[0].data + es * (size_t)off,
                   es);
        for (int d = os->ndim - 1; d >= 0; d--) {
            off += walk[d];
            if (++idx[d] < os->dim[d])
                break;
            off -= walk[d] * os->dim[d];
            idx[d] = 0;
        }
    }
}

static void kernel_SLICE(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < at->axis; i++)
        outer *= in[0].shape.dim[i];
    for (int i = at->axis + 1; i < in[0].shape.ndim; i++)
        inner *= in[0].shape.dim[i];
    int64_t len = in[0].shape.dim[at->axis];
    size_t es = hb_dtypes[in[0].dtype].size;
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)out->data + es * (size_t)(o * at->length * inner),
               (const char *)in[0].data + es * (size_t)((o * len + at->start) * inner),
               es * (size_t)(at->length * inner));
}

/* The fill everywhere, then each row of the input that survives the crops, copied to where
 * the padding puts it (the last axis's rows are contiguous on both sides). */
static void kernel_PAD(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    const hb_shape *xs = &in[0].shape, *ys = &out->shape;
    int64_t total = hb_shape_numel(ys);
    for (int64_t i = 0; i < total; i++)
        out->data[i] = at->scalar;
    int nd = xs->ndim;
    if (nd == 0) {
        out->data[0] = in[0].data[0];
        return;
    }
    /* along axis d, input index i lands at i + before[d]: kept for i in [lo[d], hi[d]) */
    int64_t lo[HB_MAX_DIMS], hi[HB_MAX_DIMS], idx[HB_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        lo[d] = at->before.dim[d] < 0 ? -at->before.dim[d] : 0;
        hi[d] = xs->dim[d] + (at->after.dim[d] < 0 ? at->after.dim[d] : 0);
        if (hi[d] <= lo[d])
            return; /* nothing of the input survives */
        idx[d] = lo[d];
    }
    int64_t row = hi[nd - 1] - lo[nd - 1];
    for (;;) {
        int64_t src = 0, dst = 0;
        for (int d = 0; d < nd; d++) {
            src = src * xs->dim[d] + idx[d];
            dst = dst * ys->dim[d] + idx[d] + at->before.dim[d];
        }
        memcpy(out->data + dst, in[0].data + src, sizeof(float) * (size_t)row);
        int d = nd - 2;
        while (d >= 0 && ++idx[d] == hi[d])
            idx[d] = lo[d], d--;
        if (d < 0)
            return;
    }
}

static void kernel_CONCAT(const hb_operand *in, int n, const hb_operand *out,
                          const hb_attrs *at)
{
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < at->axis; i++)
        outer *= out->shape.dim[i];
    for (int i = at->axis + 1; i < out->shape.ndim; i++)
        inner *= out->shape.dim[i];
    size_t es = hb_dtypes[out->dtype].size;
    char *dst = (char *)out->data;
    for (int64_t o = 0; o < outer; o++)
        for (int t = 0; t < n; t++) {
            size_t chunk = es * (size_t)(in[t].shape.dim[at->axis] * inner);
            memcpy(dst, (const char *)in[t].data + o * chunk, chunk);
            dst += chunk;
        }
}

/* The value passes through; the executor compares it with the traced outcome. */
static void kernel_GUARD(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n, (void)at;
    memcpy(out->data, in[0].data, hb_dtype_size(in[0].dtype));
}

/* A loop's or scan's body outside a plan (plans run their lowered bodies directly): lowered
 * for one run; NULL with the error set. */
static hb_plan *lower_body(const hb_attrs *at, const char *op)
{
    char err[256];
    hb_plan *body = hb_plan_lower(at->body, err, sizeof err);
    if (!body)
        hb_error_set(HB_ERR_STATE, "%s: %s", op, err);
    return body;
}

static void kernel_LOOP(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    hb_plan *body = lower_body(at, "loop");
    if (body)
        hb_plan_loop_run(body, in, n, out);
    hb_plan_free(body);
}

static void kernel_SCAN(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    hb_plan *body = lower_body(at, "scan");
    if (body) {
        hb_plan_scan_scratch(body, &at->scan, in);
        hb_plan_scan_run(body, at, in, n, out);
    }
    hb_plan_free(body);
}

/* The one kernel that writes an input: the destination a training step updates in place. */
static void kernel_ASSIGN(const hb_operand *in, int n, const hb_operand *out,
                          const hb_attrs *at)
{
    (void)n, (void)out, (void)at;
    if (in[0].data != in[1].data) /* else the update was computed in place (memplan) */
        memcpy(in[0].data, in[1].data, sizeof(float) * (size_t)hb_shape_numel(&in[0].shape));
}

void (*hb_island_hook)(void *callee, const hb_operand *in, const hb_operand *out);

static void kernel_ISLAND(const hb_operand *in, int n, const hb_operand *out,
                          const hb_attrs *at)
{
    (void)n;
    hb_island_hook(at->callee, in, out);
}

/* ---- fused ops ------------------------------------------------------------------------------ */

static void kernel_FUSED(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    hb_program_run(at->prog, in, out);
}

static void kernel_FUSED_REDUCE(const hb_operand *in, int n, const hb_operand *out,
                                const hb_attrs *at)
{
    (void)n;
    hb_program_reduce(at->prog, in, out, at->reduce, at->all);
}

/* The product, then the epilogue program over it in place while it is still in cache: r0 is
 * the product, r1... the remaining inputs (rows or scalars, broadcast over the rows). */
static void kernel_GEMM(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    const hb_shape *bs = &in[1].shape;
    int64_t k = bs->dim[at->trans_b ? 1 : 0], cols = bs->dim[at->trans_b ? 0 : 1];
    int64_t rows = at->trans_a ? in[0].shape.dim[1] : hb_matrix_rows(&in[0].shape);
    gemm_t(at->trans_a, at->trans_b, rows, cols, k, in[0].data, in[1].data, 0.0f, out->data, at);
    if (at->prog->nins == 1 && at->prog->ins[0].op == HB_OP_COPY)
        return; /* no epilogue */
    hb_operand ops[HB_PROG_MAX_REGS];
    ops[0] = *out;
    for (int i = 2; i < n; i++)
        ops[i - 1] = in[i];
    hb_program_run(at->prog, ops, out);
}

/* ---- convolutions and pools (conv.c) ------------------------------------------------------ */

#define kernel_CONV2D hb_kernel_conv2d
#define kernel_CONV_TRANSPOSE2D hb_kernel_conv_transpose2d
#define kernel_CONV2D_GRAD_W hb_kernel_conv2d_grad_w
#define kernel_FUSED_CONV hb_kernel_fused_conv
#define kernel_MAX_POOL2D hb_kernel_max_pool2d
#define kernel_MAX_POOL2D_GRAD hb_kernel_max_pool2d_grad
#define kernel_AVG_POOL2D hb_kernel_avg_pool2d
#define kernel_AVG_POOL2D_GRAD hb_kernel_avg_pool2d_grad

/* ---- comparisons, selection, casts and indexing over any dtype (typed.c) ----------------- */

#define kernel_EQUAL hb_kernel_EQUAL
#define kernel_LESS hb_kernel_LESS
#define kernel_GREATER hb_kernel_GREATER
#define kernel_LESS_EQUAL hb_kernel_LESS_EQUAL
#define kernel_GREATER_EQUAL hb_kernel_GREATER_EQUAL
#define kernel_XOR hb_kernel_XOR
#define kernel_MOD hb_kernel_MOD
#define kernel_WHERE hb_kernel_WHERE
#define kernel_CAST hb_kernel_CAST
#define kernel_GATHER hb_kernel_GATHER
#define kernel_GATHER_ELEMENTS hb_kernel_GATHER_ELEMENTS
#define kernel_GATHER_ND hb_kernel_GATHER_ND
#define kernel_SCATTER_ND hb_kernel_SCATTER_ND
#define kernel_GATHER_GRAD hb_kernel_GATHER_GRAD
#define kernel_GATHER_ELEMENTS_GRAD hb_kernel_GATHER_ELEMENTS_GRAD
#define kernel_ARGMAX hb_kernel_ARGMAX
#define kernel_ARGMIN hb_kernel_ARGMIN

const hb_kernel_fn hb_kernels[HB_OP_COUNT] = {
#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad) [HB_OP_##NAME] = kernel_##NAME,
#include "../ir/ops.def"
#undef HB_OP
};

void hb_kernel_eval(hb_op op, const hb_attrs *at, int n, float *const *in, const hb_shape *shapes,
                    float *out, const hb_shape *out_shape)
{
    hb_operand ops[64];
    for (int i = 0; i < n && i < 64; i++)
        ops[i] = (hb_operand){in[i], shapes[i], HB_F32};
    hb_kernels[op](ops, n, &(hb_operand){out, *out_shape, HB_F32}, at);
}

/* The elementwise interpreter. A program runs over the output in chunks of up to CHUNK
 * elements: each input row is read where it lies (or a broadcast value is spread over a
 * scratch row), each instruction is one tight loop over the chunk, and the last writes the
 * output directly. Eager elementwise ops are one-instruction programs, so a fused chain and
 * the ops it replaced compute every element with the same expressions in the same order. */
#include "program.h"
#include "fastmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

enum { CHUNK = 256 };

/* One instruction over n elements: d = op(a, b), with each op's C expression from its row of
 * ops.def. d may equal a or b; b is a for one-input ops. Compiled for AVX2+FMA and for baseline
 * x86-64, chosen when the program loads. The switch names every op, without a default: the ops
 * that are not instructions (hb_program_valid refuses them) do nothing. */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
step(const hb_prog_ins *ins, float *d, const float *a_row, const float *b_row, int64_t n)
{
    const float s = ins->scalar;
    switch (ins->op) {
#define HB_EW_OP(NAME, name, inputs, flags, rule, attrs, grad, expr, llvm)                    \
    case HB_OP_##NAME:                                                                        \
        for (int64_t i = 0; i < n; i++) {                                                     \
            const float a = a_row[i], b = b_row[i];                                           \
            (void)b, (void)s;                                                                 \
            d[i] = (expr);                                                                    \
        }                                                                                     \
        break;
#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad)                                    \
    case HB_OP_##NAME:                                                                        \
        break;
#include "../ir/ops.def"
#undef HB_OP
#undef HB_EW_OP
    case HB_OP_COUNT:
        break;
    }
}

/* Runs p over one row of len elements; src[i] advances by stride[i]: 1, 0 (one value spread),
 * or -L (a column: one value for every L elements, a [rows, 1] input against [rows, L]). dst
 * NULL: the result is handed to sink chunk by chunk instead. */
typedef struct sink {
    void (*take)(struct sink *s, const float *v, int64_t n);
} sink;

/* Per-thread scratch rows: a 40 KB frame on the stack would be probed page by page on every
 * call, which costs more than a small op's arithmetic. The interpreter never re-enters. */
static _Thread_local float scratch[HB_PROG_MAX_REGS][CHUNK];

static void run_row(const hb_program *p, const float *const *src, const int64_t *stride,
                    float *dst, int64_t len, sink *out)
{
    const float *reg[HB_PROG_MAX_REGS];
    int n = p->ninputs;
    for (int64_t c0 = 0; c0 < len; c0 += CHUNK) {
        int64_t m = len - c0 < CHUNK ? len - c0 : CHUNK;
        for (int i = 0; i < n; i++) {
            if (stride[i] == 1) {
                reg[i] = src[i] + c0;
            } else if (stride[i] == 0) { /* a broadcast value: spread it over the chunk */
                for (int64_t j = 0; j < m; j++)
                    scratch[i][j] = src[i][0];
                reg[i] = scratch[i];
            } else { /* a column: each value spread over its row's L elements */
                int64_t row_len = -stride[i], r = c0 / row_len, k = c0 % row_len;
                for (int64_t j = 0; j < m; j++) {
                    scratch[i][j] = src[i][r];
                    if (++k == row_len)
                        k = 0, r++;
                }
                reg[i] = scratch[i];
            }
        }
        for (int k = 0; k < p->nins; k++) {
            const hb_prog_ins *ins = &p->ins[k];
            float *d = k == p->nins - 1 && dst ? dst + c0 : scratch[n + k];
            step(ins, d, reg[ins->a], reg[ins->b < n + k ? ins->b : ins->a], m);
            reg[n + k] = d;
        }
        if (!dst)
            out->take(out, reg[n + p->nins - 1], m);
    }
}

void hb_program_broadcast_strides(const hb_shape *s, const hb_shape *out, int64_t *stride)
{
    int64_t st = 1;
    for (int i = out->ndim - 1; i >= 0; i--) {
        int j = s->ndim - out->ndim + i;
        int64_t d = j >= 0 ? s->dim[j] : 1;
        stride[i] = d == 1 ? 0 : st;
        st *= d;
    }
}

/* Calls run_row for every row of shape (its last axis), with each input's row start. */
static void for_rows(const hb_program *p, const hb_operand *in, const hb_shape *shape,
                     float *dst, sink *out)
{
    int n = p->ninputs;
    int64_t count = hb_shape_numel(shape);
    if (count == 0)
        return;
    const float *src[HB_PROG_MAX_REGS];
    int64_t row_stride[HB_PROG_MAX_REGS];
    bool full = true; /* every input the output's shape, or one value spread over it */
    for (int i = 0; i < n; i++)
        full = full && (hb_shape_equal(&in[i].shape, shape) || hb_shape_numel(&in[i].shape) == 1);
    if (full || shape->ndim == 0) { /* one flat row */
        for (int i = 0; i < n; i++) {
            src[i] = in[i].data;
            row_stride[i] = hb_shape_numel(&in[i].shape) == count ? 1 : 0;
        }
        run_row(p, src, row_stride, dst, count, out);
        return;
    }
    /* Inputs of the output's shape, one value, or a column ([..., 1] against [..., L] with the
     * same leading dims): still one flat pass, the columns spread per chunk (short rows run
     * row by row cost a call per row and instruction). */
    bool flat = shape->ndim >= 2;
    for (int i = 0; i < n && flat; i++) {
        const hb_shape *s = &in[i].shape;
        bool column = s->ndim == shape->ndim && s->dim[s->ndim - 1] == 1;
        for (int d = 0; column && d + 1 < s->ndim; d++)
            column = s->dim[d] == shape->dim[d];
        flat = column || hb_shape_equal(s, shape) || hb_shape_numel(s) == 1;
    }
    if (flat) {
        int64_t len = shape->dim[shape->ndim - 1];
        for (int i = 0; i < n; i++) {
            int64_t numel = hb_shape_numel(&in[i].shape);
            src[i] = in[i].data;
            row_stride[i] = numel == count ? 1 : numel == 1 ? 0 : -len;
        }
        run_row(p, src, row_stride, dst, count, out);
        return;
    }
    int64_t strides[HB_PROG_MAX_REGS][HB_MAX_DIMS], idx[HB_MAX_DIMS] = {0};
    for (int i = 0; i < n; i++) {
        hb_program_broadcast_strides(&in[i].shape, shape, strides[i]);
        row_stride[i] = strides[i][shape->ndim - 1] ? 1 : 0;
    }
    int last = shape->ndim - 1;
    int64_t len = shape->dim[last], rows = count / len;
    for (int64_t r = 0; r < rows; r++) {
        for (int i = 0; i < n; i++) {
            int64_t off = 0;
            for (int d = 0; d < last; d++)
                off += idx[d] * strides[i][d];
            src[i] = in[i].data + off;
        }
        run_row(p, src, row_stride, dst ? dst + r * len : NULL, len, out);
        for (int d = last - 1; d >= 0 && ++idx[d] == shape->dim[d]; d--)
            idx[d] = 0;
    }
}

void hb_program_run(const hb_program *p, const hb_operand *in, const hb_operand *out)
{
    /* One instruction over inputs of the output's own shape (most eager ops): one loop, no
     * chunks — the same step, so the same results. */
    if (p->nins == 1) {
        int64_t count = hb_shape_numel(&out->shape);
        bool full = true;
        for (int i = 0; i < p->ninputs && full; i++)
            full = hb_shape_numel(&in[i].shape) == count &&
                   hb_shape_equal(&in[i].shape, &out->shape);
        if (full) {
            const hb_prog_ins *ins = &p->ins[0];
            step(ins, out->data, in[ins->a].data, in[ins->b < p->ninputs ? ins->b : ins->a].data,
                 count);
            return;
        }
    }
    for_rows(p, in, &out->shape, out->data, NULL);
}

/* ---- reductions of a program's result ----------------------------------------------------- */

typedef struct reducer {
    sink base;
    hb_op op;
    double sum;
    float max;
    int64_t seen, row_len; /* elements of the current row taken so far, and a row's length */
    float *out;            /* one result per row */
} reducer;

/* Sums in double and max with NaN winning, element by element in memory order: the same
 * arithmetic as the SUM, MEAN and MAX kernels. */
static void take(sink *s, const float *v, int64_t n)
{
    reducer *r = (reducer *)s;
    while (n > 0) {
        int64_t m = r->row_len - r->seen < n ? r->row_len - r->seen : n;
        if (r->op == HB_OP_MAX) {
            float mx = r->seen ? r->max : v[0];
            for (int64_t i = r->seen ? 0 : 1; i < m; i++)
                if (mx == mx && (v[i] > mx || v[i] != v[i]))
                    mx = v[i];
            r->max = mx;
        } else {
            double acc = r->sum;
            for (int64_t i = 0; i < m; i++)
                acc += v[i];
            r->sum = acc;
        }
        v += m, n -= m, r->seen += m;
        if (r->seen == r->row_len) {
            *r->out++ = r->op == HB_OP_MAX  ? r->max
                        : r->op == HB_OP_MEAN ? (float)(r->sum / (double)r->row_len)
                                              : (float)r->sum;
            r->sum = 0, r->seen = 0;
        }
    }
}

void hb_program_reduce(const hb_program *p, const hb_operand *in, const hb_operand *out,
                       hb_op reduce, bool all)
{
    hb_shape shape = in[0].shape; /* the program's result shape: every input broadcast */
    for (int i = 1; i < p->ninputs; i++)
        hb_shape_broadcast(&shape, &in[i].shape, &shape);
    int64_t count = hb_shape_numel(&shape);
    int64_t row = all ? count : shape.ndim ? shape.dim[shape.ndim - 1] : 1;
    if (row == 0) { /* nothing to reduce: sum 0, mean NaN (max of nothing is refused) */
        for (int64_t i = 0; i < hb_shape_numel(&out->shape); i++)
            out->data[i] = reduce == HB_OP_MEAN ? NAN : 0.0f;
        return;
    }
    reducer r = {.base.take = take, .op = reduce, .row_len = row, .out = out->data};
    for_rows(p, in, &shape, NULL, &r.base);
}

/* Shape rules, one per family of ops in ops.def. Each checks its inputs and writes the output
 * shape; a message says which op and which shapes did not fit. Also holds the op table. */
#include "program.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const hb_op_info hb_op_table[HB_OP_COUNT] = {
#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad)                                    \
    [HB_OP_##NAME] = {name, lo, hi, flags, HB_ATTRS_##attrs},
#include "ops.def"
#undef HB_OP
};

/* An elementwise op written as a plain HB_OP row would reach the interpreter and the JIT with
 * no expression to run: only fused ops, which carry their program, are elementwise without
 * one, and HB_PROG comes from HB_EW_OP alone. */
#define HB_EW_OP(NAME, name, inputs, flags, rule, attrs, grad, expr, llvm)
#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad)                                    \
    _Static_assert(!((flags) & HB_PROG) && (!((flags) & HB_EW) || ((flags) & HB_FUSED)),      \
                   #NAME ": an elementwise op is an HB_EW_OP row, with its expressions");
#include "ops.def"
#undef HB_OP
#undef HB_EW_OP

typedef struct rule_ctx {
    hb_op op;
    hb_attrs *at;
    int n;
    const hb_shape *in;
    hb_shape *out;
    char *err;
    size_t err_size;
} rule_ctx;

#define S(shape) hb_shape_fmt((shape), (char[96]){0}, 96)

static hb_status fail(rule_ctx *c, hb_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static hb_status fail(rule_ctx *c, hb_status st, const char *fmt, ...)
{
    int used = snprintf(c->err, c->err_size, "%s: ", hb_op_table[c->op].name);
    va_list ap;
    va_start(ap, fmt);
    if (used >= 0 && (size_t)used < c->err_size)
        vsnprintf(c->err + used, c->err_size - (size_t)used, fmt, ap);
    va_end(ap);
    return st;
}

/* Resolves a possibly negative axis against ndim; false if out of range. */
static bool norm_axis(int *axis, int ndim)
{
    if (*axis < -ndim || *axis >= ndim)
        return false;
    if (*axis < 0)
        *axis += ndim;
    return true;
}

bool hb_shape_broadcast(const hb_shape *a, const hb_shape *b, hb_shape *out)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    hb_shape r = {.ndim = nd};
    for (int i = 0; i < nd; i++) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        r.dim[i] = da == 1 ? db : da;
    }
    *out = r;
    return true;
}

static hb_status rule_same(rule_ctx *c)
{
    *c->out = c->in[0];
    return HB_OK;
}

static hb_status rule_broadcast(rule_ctx *c)
{
    if (!hb_shape_broadcast(&c->in[0], &c->in[1], c->out))
        return fail(c, HB_ERR_SHAPE, "shapes %s and %s do not broadcast", S(&c->in[0]),
                    S(&c->in[1]));
    return HB_OK;
}

/* BLAS takes int sizes: a matrix dim past INT_MAX cannot be passed on. */
static bool blas_sized(const hb_shape *s)
{
    for (int i = 0; i < s->ndim; i++)
        if (s->dim[i] > INT_MAX)
            return false;
    return true;
}

static hb_status rule_matmul(rule_ctx *c)
{
    const hb_shape *a = &c->in[0], *b = &c->in[1];
    if (!blas_sized(a) || !blas_sized(b))
        return fail(c, HB_ERR_UNSUPPORTED, "shapes %s and %s have a dim over %d", S(a), S(b),
                    INT_MAX);
    if (a->ndim < 2 || b->ndim < 2)
        return fail(c, HB_ERR_SHAPE, "needs at least 2-D operands, got %s and %s", S(a), S(b));
    int64_t k = a->dim[a->ndim - 1];
    if (b->dim[b->ndim - 2] != k)
        return fail(c, HB_ERR_SHAPE, "shapes %s and %s: inner dims %lld and %lld differ", S(a),
                    S(b), (long long)k, (long long)b->dim[b->ndim - 2]);
    hb_shape ba = {.ndim = a->ndim - 2}, bb = {.ndim = b->ndim - 2}, batch;
    memcpy(ba.dim, a->dim, sizeof(int64_t) * (size_t)ba.ndim);
    memcpy(bb.dim, b->dim, sizeof(int64_t) * (size_t)bb.ndim);
    if (!hb_shape_broadcast(&ba, &bb, &batch))
        return fail(c, HB_ERR_SHAPE, "shapes %s and %s: batch dims do not broadcast", S(a), S(b));
    *c->out = batch;
    c->out->dim[c->out->ndim++] = a->dim[a->ndim - 2];
    c->out->dim[c->out->ndim++] = b->dim[b->ndim - 1];
    return HB_OK;
}

static hb_status rule_linear(rule_ctx *c)
{
    const hb_shape *x = &c->in[0], *w = &c->in[1];
    if (x->ndim < 1 || w->ndim != 2)
        return fail(c, HB_ERR_SHAPE, "input %s and weight %s: needs an input of at least 1-D "
                    "and a 2-D weight", S(x), S(w));
    if (x->dim[x->ndim - 1] != w->dim[1])
        return fail(c, HB_ERR_SHAPE, "input %s has %lld features but weight %s takes %lld", S(x),
                    (long long)x->dim[x->ndim - 1], S(w), (long long)w->dim[1]);
    if (c->n == 3 && !(c->in[2].ndim == 1 && c->in[2].dim[0] == w->dim[0]))
        return fail(c, HB_ERR_SHAPE, "bias %s does not fit weight %s (needs [%lld])",
                    S(&c->in[2]), S(w), (long long)w->dim[0]);
    if (!blas_sized(w) || hb_shape_numel(x) / (w->dim[1] ? w->dim[1] : 1) > INT_MAX)
        return fail(c, HB_ERR_UNSUPPORTED, "input %s and weight %s have a size over %d", S(x),
                    S(w), INT_MAX);
    *c->out = *x;
    c->out->dim[x->ndim - 1] = w->dim[0];
    return HB_OK;
}

static hb_status rule_reduce(rule_ctx *c)
{
    const hb_shape *x = &c->in[0];
    /* max, argmax and argmin of nothing have no value */
    bool needs_one = c->op == HB_OP_MAX || c->op == HB_OP_ARGMAX || c->op == HB_OP_ARGMIN;
    if (c->at->all) {
        if (needs_one && hb_shape_numel(x) == 0)
            return fail(c, HB_ERR_SHAPE, "of an empty tensor %s has no value", S(x));
        *c->out = (hb_shape){.ndim = 0};
        return HB_OK;
    }
    if (!norm_axis(&c->at->axis, x->ndim))
        return fail(c, HB_ERR_ARG, "axis %d is out of range for shape %s", c->at->axis, S(x));
    if (needs_one && x->dim[c->at->axis] == 0)
        return fail(c, HB_ERR_SHAPE, "over axis %d of length 0 (shape %s)", c->at->axis, S(x));
    hb_shape r = {.ndim = 0};
    for (int i = 0; i < x->ndim; i++) {
        if (i != c->at->axis)
            r.dim[r.ndim++] = x->dim[i];
        else if (c->at->keepdim)
            r.dim[r.ndim++] = 1;
    }
    *c->out = r;
    return HB_OK;
}

static hb_status rule_axis(rule_ctx *c)
{
    if (!norm_axis(&c->at->axis, c->in[0].ndim))
        return fail(c, HB_ERR_ARG, "axis %d is out of range for shape %s", c->at->axis,
                    S(&c->in[0]));
    *c->out = c->in[0];
    return HB_OK;
}

static hb_status rule_reshape(rule_ctx *c)
{
    hb_shape *t = &c->at->shape;
    int64_t known = 1, numel = hb_shape_numel(&c->in[0]);
    int infer = -1;
    if (t->ndim < 0 || t->ndim > HB_MAX_DIMS)
        return fail(c, HB_ERR_ARG, "target has %d dims (at most %d)", t->ndim, HB_MAX_DIMS);
    for (int i = 0; i < t->ndim; i++) {
        if (t->dim[i] == -1 && infer < 0) {
            infer = i;
        } else if (t->dim[i] < 0 || !hb_mul_ok(known, t->dim[i], &known)) {
            return fail(c, HB_ERR_ARG, "bad target shape %s for input %s", S(t), S(&c->in[0]));
        }
    }
    if (infer >= 0) {
        if (known == 0 || numel % known != 0)
            return fail(c, HB_ERR_SHAPE, "cannot reshape %s into %s", S(&c->in[0]), S(t));
        t->dim[infer] = numel / known;
        known = numel;
    }
    if (known != numel)
        return fail(c, HB_ERR_SHAPE, "cannot reshape %s (%lld elements) into %s", S(&c->in[0]),
                    (long long)numel, S(t));
    *c->out = *t;
    return HB_OK;
}

static hb_status rule_transpose(rule_ctx *c)
{
    const hb_shape *x = &c->in[0];
    if (!norm_axis(&c->at->axis, x->ndim) || !norm_axis(&c->at->axis2, x->ndim))
        return fail(c, HB_ERR_ARG, "axes %d and %d are out of range for shape %s", c->at->axis,
                    c->at->axis2, S(x));
    *c->out = *x;
    c->out->dim[c->at->axis] = x->dim[c->at->axis2];
    c->out->dim[c->at->axis2] = x->dim[c->at->axis];
    return HB_OK;
}

static hb_status rule_slice(rule_ctx *c)
{
    const hb_shape *x = &c->in[0];
    if (!norm_axis(&c->at->axis, x->ndim))
        return fail(c, HB_ERR_ARG, "axis %d is out of range for shape %s", c->at->axis, S(x));
    int64_t dim = x->dim[c->at->axis];
    if (c->at->start < 0 || c->at->length < 0 || c->at->start > dim ||
        c->at->length > dim - c->at->start)
        return fail(c, HB_ERR_SHAPE, "[%lld, %lld) along axis %d is outside shape %s",
                    (long long)c->at->start, (long long)(c->at->start + c->at->length),
                    c->at->axis, S(x));
    *c->out = *x;
    c->out->dim[c->at->axis] = c->at->length;
    return HB_OK;
}

static hb_status rule_pad(rule_ctx *c)
{
    const hb_shape *x = &c->in[0], *b = &c->at->before, *a = &c->at->after;
    if (b->ndim != x->ndim || a->ndim != x->ndim)
        return fail(c, HB_ERR_ARG, "before %s and after %s need one count per axis of input %s",
                    S(b), S(a), S(x));
    *c->out = *x;
    for (int i = 0; i < x->ndim; i++) {
        /* counts stay far from overflow (|n| < 2^56); a crop removes at most the axis */
        int64_t lim = (int64_t)1 << 56;
        if (b->dim[i] <= -lim || b->dim[i] >= lim || a->dim[i] <= -lim || a->dim[i] >= lim)
            return fail(c, HB_ERR_SHAPE, "before %s and after %s: a count along axis %d is "
                        "beyond 2^56", S(b), S(a), i);
        if (x->dim[i] + b->dim[i] < 0 || x->dim[i] + a->dim[i] < 0 ||
            x->dim[i] + b->dim[i] + a->dim[i] < 0)
            return fail(c, HB_ERR_SHAPE, "before %s and after %s remove more than input %s "
                        "has along axis %d", S(b), S(a), S(x), i);
        c->out->dim[i] = x->dim[i] + b->dim[i] + a->dim[i];
    }
    return HB_OK;
}

static hb_status rule_concat(rule_ctx *c)
{
    const hb_shape *first = &c->in[0];
    if (!norm_axis(&c->at->axis, first->ndim))
        return fail(c, HB_ERR_ARG, "axis %d is out of range for shape %s", c->at->axis,
                    S(first));
    hb_shape r = *first;
    for (int i = 1; i < c->n; i++) {
        const hb_shape *s = &c->in[i];
        bool fits = s->ndim == first->ndim;
        for (int d = 0; fits && d < s->ndim; d++)
            fits = d == c->at->axis || s->dim[d] == first->dim[d];
        if (!fits)
            return fail(c, HB_ERR_SHAPE, "input %d has shape %s, which does not fit %s along "
                        "axis %d", i, S(s), S(first), c->at->axis);
        r.dim[c->at->axis] += s->dim[c->at->axis];
    }
    *c->out = r;
    return HB_OK;
}

static hb_status rule_guard(rule_ctx *c)
{
    if (hb_shape_numel(&c->in[0]) != 1)
        return fail(c, HB_ERR_SHAPE, "tests one value, not a tensor of shape %s", S(&c->in[0]));
    *c->out = c->in[0];
    return HB_OK;
}

static hb_status rule_loop(rule_ctx *c)
{
    if (!c->at->body)
        return fail(c, HB_ERR_ARG, "has no body");
    *c->out = c->in[0]; /* the carried value keeps its shape (the verifier checks the body) */
    return HB_OK;
}

/* One flat row: the stack of T step values, then the last state (the verifier checks the
 * body against the inputs). */
static hb_status rule_scan(rule_ctx *c)
{
    const hb_scan_attrs *s = &c->at->scan;
    if (!c->at->body)
        return fail(c, HB_ERR_ARG, "has no body");
    if (s->steps < 1 || s->carries < 1 || s->carries + s->seqs > c->n || s->length < 1)
        return fail(c, HB_ERR_ARG, "%lld steps over %lld carries and %lld sequences of %d "
                    "inputs, slices of %lld: steps, carries and the length must be positive",
                    (long long)s->steps, (long long)s->carries, (long long)s->seqs, c->n,
                    (long long)s->length);
    for (int64_t j = s->carries; j < s->carries + s->seqs; j++) {
        const hb_shape *q = &c->in[j];
        int64_t first = s->start, last = s->reverse ? s->start - (s->steps - 1) * s->length
                                                    : s->start + (s->steps - 1) * s->length;
        if (s->axis < 0 || s->axis >= q->ndim || (first < last ? first : last) < 0 ||
            (first > last ? first : last) + s->length > q->dim[s->axis])
            return fail(c, HB_ERR_SHAPE, "input %lld (%s): %lld slices of %lld from %lld%s along "
                        "axis %d do not fit", (long long)j, S(q), (long long)s->steps,
                        (long long)s->length, (long long)s->start, s->reverse ? " down" : "",
                        s->axis);
    }
    if (c->at->shape.ndim < 1 || s->stack < 0 || s->stack >= c->at->shape.ndim)
        return fail(c, HB_ERR_ARG, "stacks step values of shape %s along axis %d",
                    S(&c->at->shape), s->stack);
    int64_t n = s->steps * hb_shape_numel(&c->at->shape);
    for (int64_t j = 0; j < s->carries; j++)
        n += hb_shape_numel(&c->in[j]);
    if (n > HB_DIM_MAX)
        return fail(c, HB_ERR_SHAPE, "%lld values: too many", (long long)n);
    *c->out = (hb_shape){.ndim = 1, .dim = {n}};
    return HB_OK;
}

static hb_status rule_assign(rule_ctx *c)
{
    if (!hb_shape_equal(&c->in[0], &c->in[1]))
        return fail(c, HB_ERR_SHAPE, "writes %s over %s: the shapes differ", S(&c->in[1]),
                    S(&c->in[0]));
    *c->out = (hb_shape){.ndim = 1, .dim = {0}}; /* nothing: the effect is the write */
    return HB_OK;
}

static hb_status rule_island(rule_ctx *c)
{
    *c->out = c->at->shape; /* whatever the block returned when it was traced */
    return HB_OK;
}

/* The shape all inputs broadcast to (fused programs read each input broadcast). */
static hb_status broadcast_all(rule_ctx *c, hb_shape *out)
{
    *out = c->in[0];
    for (int i = 1; i < c->n; i++)
        if (!hb_shape_broadcast(out, &c->in[i], out))
            return fail(c, HB_ERR_SHAPE, "input %d %s does not broadcast with %s", i,
                        S(&c->in[i]), S(out));
    return HB_OK;
}

static hb_status rule_where(rule_ctx *c) { return broadcast_all(c, c->out); }

/* x[:axis] + indices + x[axis+1:] */
static hb_status rule_gather(rule_ctx *c)
{
    const hb_shape *x = &c->in[0], *idx = &c->in[1];
    if (!norm_axis(&c->at->axis, x->ndim))
        return fail(c, HB_ERR_ARG, "axis %d is out of range for data %s", c->at->axis, S(x));
    if (x->ndim - 1 + idx->ndim > HB_MAX_DIMS)
        return fail(c, HB_ERR_SHAPE, "data %s and indices %s give more than %d dims", S(x),
                    S(idx), HB_MAX_DIMS);
    if (x->dim[c->at->axis] == 0 && hb_shape_numel(idx) > 0)
        return fail(c, HB_ERR_SHAPE, "indices %s into axis %d of length 0 (data %s)", S(idx),
                    c->at->axis, S(x));
    hb_shape r = {.ndim = 0};
    for (int i = 0; i < c->at->axis; i++)
        r.dim[r.ndim++] = x->dim[i];
    for (int i = 0; i < idx->ndim; i++)
        r.dim[r.ndim++] = idx->dim[i];
    for (int i = c->at->axis + 1; i < x->ndim; i++)
        r.dim[r.ndim++] = x->dim[i];
    *c->out = r;
    return HB_OK;
}

static hb_status rule_gather_elements(rule_ctx *c)
{
    const hb_shape *x = &c->in[0], *idx = &c->in[1];
    if (!norm_axis(&c->at->axis, x->ndim))
        return fail(c, HB_ERR_ARG, "axis %d is out of range for data %s", c->at->axis, S(x));
    if (idx->ndim != x->ndim)
        return fail(c, HB_ERR_SHAPE, "indices %s must have the rank of data %s", S(idx), S(x));
    for (int i = 0; i < x->ndim; i++)
        if (i != c->at->axis && idx->dim[i] > x->dim[i])
            return fail(c, HB_ERR_SHAPE, "indices %s are larger than data %s on axis %d", S(idx),
                        S(x), i);
    if (x->dim[c->at->axis] == 0 && hb_shape_numel(idx) > 0)
        return fail(c, HB_ERR_SHAPE, "indices %s into axis %d of length 0 (data %s)", S(idx),
                    c->at->axis, S(x));
    *c->out = *idx;
    return HB_OK;
}

/* indices [..., k], k <= rank of data: the slices' shape indices[:-1] + data[k:] into *out */
static hb_status nd_slices(rule_ctx *c, const hb_shape *x, const hb_shape *idx, hb_shape *out)
{
    int64_t k = idx->ndim ? idx->dim[idx->ndim - 1] : -1;
    if (idx->ndim < 1 || k < 1 || k > x->ndim)
        return fail(c, HB_ERR_SHAPE, "indices %s must end in 1 to %d (data %s)", S(idx),
                    x->ndim, S(x));
    if (idx->ndim - 1 + x->ndim - k > HB_MAX_DIMS)
        return fail(c, HB_ERR_SHAPE, "indices %s into data %s give more than %d dims", S(idx),
                    S(x), HB_MAX_DIMS);
    *out = (hb_shape){.ndim = 0};
    for (int i = 0; i < idx->ndim - 1; i++)
        out->dim[out->ndim++] = idx->dim[i];
    for (int i = (int)k; i < x->ndim; i++)
        out->dim[out->ndim++] = x->dim[i];
    return HB_OK;
}

static hb_status rule_gather_nd(rule_ctx *c) { return nd_slices(c, &c->in[0], &c->in[1], c->out); }

static hb_status rule_scatter_nd(rule_ctx *c)
{
    hb_shape want;
    hb_status st = nd_slices(c, &c->in[0], &c->in[1], &want);
    if (st == HB_OK && !hb_shape_equal(&want, &c->in[2]))
        return fail(c, HB_ERR_SHAPE, "updates %s do not fit indices %s into data %s (want %s)",
                    S(&c->in[2]), S(&c->in[1]), S(&c->in[0]), S(&want));
    *c->out = c->in[0];
    return st;
}

/* (g, indices) back to attrs.shape, the data's: g must be what the gather gave */
static hb_status gather_grad(rule_ctx *c, hb_status (*forward)(rule_ctx *))
{
    hb_shape y;
    rule_ctx f = *c;
    f.in = (const hb_shape[]){c->at->shape, c->in[1]};
    f.out = &y;
    hb_status st = forward(&f);
    if (st != HB_OK)
        return st;
    if (!hb_shape_equal(&y, &c->in[0]))
        return fail(c, HB_ERR_SHAPE, "gradient %s does not match the gather's output %s",
                    S(&c->in[0]), S(&y));
    *c->out = c->at->shape;
    return HB_OK;
}

static hb_status rule_gather_grad(rule_ctx *c) { return gather_grad(c, rule_gather); }
static hb_status rule_gather_elements_grad(rule_ctx *c)
{
    return gather_grad(c, rule_gather_elements);
}

static hb_status check_program(rule_ctx *c, int ninputs)
{
    char why[160];
    if (!c->at->prog)
        return fail(c, HB_ERR_ARG, "has no program");
    if (c->at->prog->ninputs != ninputs)
        return fail(c, HB_ERR_ARG, "program reads %d inputs, the node has %d",
                    c->at->prog->ninputs, ninputs);
    if (!hb_program_valid(c->at->prog, why, sizeof why))
        return fail(c, HB_ERR_ARG, "%s", why);
    return HB_OK;
}

static hb_status rule_fused(rule_ctx *c)
{
    hb_status st = check_program(c, c->n);
    return st != HB_OK ? st : broadcast_all(c, c->out);
}

/* A program's result reduced over everything or its last axis. */
static hb_status rule_fused_reduce(rule_ctx *c)
{
    hb_shape whole;
    hb_status st = check_program(c, c->n);
    if (st == HB_OK)
        st = broadcast_all(c, &whole);
    if (st != HB_OK)
        return st;
    hb_op r = c->at->reduce;
    if (r != HB_OP_SUM && r != HB_OP_MEAN && r != HB_OP_MAX)
        return fail(c, HB_ERR_ARG, "reduces with op %d, not sum, mean or max", (int)r);
    if (!c->at->all && (whole.ndim == 0 || (c->at->axis != whole.ndim - 1 && c->at->axis != -1)))
        return fail(c, HB_ERR_ARG, "reduces axis %d of %s: only all or the last axis",
                    c->at->axis, S(&whole));
    int64_t len = c->at->all ? hb_shape_numel(&whole) : whole.dim[whole.ndim - 1];
    if (r == HB_OP_MAX && len == 0)
        return fail(c, HB_ERR_SHAPE, "max over nothing (shape %s)", S(&whole));
    *c->out = (hb_shape){.ndim = 0};
    if (!c->at->all) {
        c->at->axis = whole.ndim - 1;
        *c->out = whole;
        if (c->at->keepdim)
            c->out->dim[whole.ndim - 1] = 1;
        else
            c->out->ndim--;
    }
    return HB_OK;
}

/* a·b (or a·bᵀ) with a 2-D b, then the epilogue: inputs 2... vary along the last axis only. */
static hb_status rule_gemm(rule_ctx *c)
{
    const hb_shape *a = &c->in[0], *b = &c->in[1];
    if (a->ndim < 1 || b->ndim != 2 || (c->at->trans_a && a->ndim != 2))
        return fail(c, HB_ERR_SHAPE, "needs an input of at least 1-D (2-D if transposed) and a "
                    "2-D matrix, got %s and %s", S(a), S(b));
    int64_t k = b->dim[c->at->trans_b ? 1 : 0], n = b->dim[c->at->trans_b ? 0 : 1];
    if (a->dim[c->at->trans_a ? 0 : a->ndim - 1] != k)
        return fail(c, HB_ERR_SHAPE, "input %s%s does not fit %s%s", S(a),
                    c->at->trans_a ? " (transposed)" : "", S(b),
                    c->at->trans_b ? " (transposed)" : "");
    if (!blas_sized(a) || !blas_sized(b) || hb_shape_numel(a) / (k ? k : 1) > INT_MAX)
        return fail(c, HB_ERR_UNSUPPORTED, "shapes %s and %s have a size over %d", S(a), S(b),
                    INT_MAX);
    hb_status st = check_program(c, c->n - 1);
    if (st != HB_OK)
        return st;
    *c->out = *a;
    if (c->at->trans_a)
        c->out->dim[0] = a->dim[1];
    c->out->dim[a->ndim - 1] = n;
    for (int i = 2; i < c->n; i++) {
        const hb_shape *e = &c->in[i];
        bool row = e->ndim <= c->out->ndim &&
                   (e->ndim == 0 || e->dim[e->ndim - 1] == n || e->dim[e->ndim - 1] == 1);
        for (int d = 0; row && d + 1 < e->ndim; d++)
            row = e->dim[d] == 1;
        if (!row)
            return fail(c, HB_ERR_SHAPE, "epilogue input %s is not a row of %lld or a scalar",
                        S(e), (long long)n);
    }
    return HB_OK;
}

/* ---- convolutions and pools over [N, C, H, W] ---------------------------------------------- */

/* Output size along one spatial axis, or -1 if the (dilated) window does not fit. */
static int64_t window_out(int64_t in, int64_t k, int stride, int pad, int dil)
{
    int64_t span;
    if (k < 1 || !hb_mul_ok(dil, k - 1, &span) || span > INT64_MAX - 1 - 2 * (int64_t)INT_MAX)
        return -1; /* a window no input could hold */
    int64_t room = in + 2 * (int64_t)pad - (span + 1);
    return room < 0 ? -1 : room / stride + 1;
}

/* A pool's output size along one axis rounding up (ceil_mode), as PyTorch's
 * pooling_output_shape: ceil((in + 2·pad − k) / stride) + 1 windows, less the last if it
 * would start in the right padding. A kernel longer than the padded input still has its one
 * window then; -1 if there is none. */
static int64_t window_out_ceil(int64_t in, int64_t k, int stride, int pad)
{
    int64_t num = in + 2 * (int64_t)pad - k + stride - 1; /* no overflow: in < 2^56, k ints */
    if (num < 0)
        return -1;
    int64_t out = num / stride + 1;
    if ((out - 1) * stride >= in + pad)
        out--;
    return out >= 1 ? out : -1;
}

static bool check_window(rule_ctx *c, bool conv)
{
    const hb_window *w = &c->at->win;
    for (int i = 0; i < 2; i++) {
        if (w->stride[i] < 1 || w->pad[i] < 0 || (conv && w->dilation[i] < 1) ||
            (!conv && w->kernel[i] < 1)) {
            fail(c, HB_ERR_ARG, "needs kernel, stride and dilation >= 1 and padding >= 0, "
                 "got kernel [%d, %d], stride [%d, %d], padding [%d, %d], dilation [%d, %d]",
                 w->kernel[0], w->kernel[1], w->stride[0], w->stride[1], w->pad[0], w->pad[1],
                 w->dilation[0], w->dilation[1]);
            return false;
        }
        if (!conv && 2 * w->pad[i] > w->kernel[i]) {
            fail(c, HB_ERR_ARG, "padding [%d, %d] is more than half the kernel [%d, %d]",
                 w->pad[0], w->pad[1], w->kernel[0], w->kernel[1]);
            return false;
        }
    }
    if (conv && w->groups < 1) {
        fail(c, HB_ERR_ARG, "needs groups >= 1, got %d", w->groups);
        return false;
    }
    return true;
}

/* The convolution of x by weight shape ws: checks both and writes the output's shape. */
static hb_status conv_shape(rule_ctx *c, const hb_shape *x, const hb_shape *ws, hb_shape *out)
{
    if (!check_window(c, true))
        return HB_ERR_ARG;
    int groups = c->at->win.groups;
    if (x->ndim != 4 || ws->ndim != 4)
        return fail(c, HB_ERR_SHAPE, "needs an input [N, C, H, W] and a weight [O, C/groups, "
                    "kh, kw], got %s and %s", S(x), S(ws));
    int64_t channels; /* the weight's inputs over all groups: its dims come from anywhere */
    if (x->dim[1] % groups || ws->dim[0] % groups || !hb_mul_ok(ws->dim[1], groups, &channels) ||
        channels != x->dim[1])
        return fail(c, HB_ERR_SHAPE, "input %s and weight %s do not fit %d group%s: the weight "
                    "needs %lld input channels", S(x), S(ws), groups, groups == 1 ? "" : "s",
                    (long long)(x->dim[1] / groups));
    *out = *x;
    out->dim[1] = ws->dim[0];
    for (int i = 0; i < 2; i++) {
        out->dim[2 + i] = window_out(x->dim[2 + i], ws->dim[2 + i], c->at->win.stride[i],
                                     c->at->win.pad[i], c->at->win.dilation[i]);
        if (out->dim[2 + i] < 1)
            return fail(c, HB_ERR_SHAPE, "kernel %s (dilation [%d, %d]) is larger than input "
                        "%s with padding [%d, %d]", S(ws), c->at->win.dilation[0],
                        c->at->win.dilation[1], S(x), c->at->win.pad[0], c->at->win.pad[1]);
    }
    int64_t col = 1; /* one image's lowered input: (C/groups)·kh·kw rows of OH·OW */
    bool fits = blas_sized(x) && blas_sized(out);
    for (int i = 1; fits && i < 4; i++)
        fits = hb_mul_ok(col, ws->dim[i], &col);
    fits = fits && hb_mul_ok(col, out->dim[2], &col) && hb_mul_ok(col, out->dim[3], &col) &&
           col <= INT_MAX;
    if (!fits)
        return fail(c, HB_ERR_UNSUPPORTED, "input %s with weight %s is over %d values per image",
                    S(x), S(ws), INT_MAX);
    return HB_OK;
}

static hb_status rule_conv(rule_ctx *c)
{
    hb_status st = conv_shape(c, &c->in[0], &c->in[1], c->out);
    if (st == HB_OK && c->n == 3 &&
        (c->in[2].ndim != 1 || c->in[2].dim[0] != c->in[1].dim[0]))
        return fail(c, HB_ERR_SHAPE, "bias %s does not fit weight %s: needs [%lld]",
                    S(&c->in[2]), S(&c->in[1]), (long long)c->in[1].dim[0]);
    return st;
}

/* A gradient of the convolution: g must be what x and w (one of them attrs.shape) give. */
static hb_status conv_grad(rule_ctx *c, const hb_shape *x, const hb_shape *w)
{
    hb_shape y;
    hb_status st = conv_shape(c, x, w, &y);
    if (st != HB_OK)
        return st;
    if (!hb_shape_equal(&y, &c->in[0]))
        return c->op == HB_OP_CONV_TRANSPOSE2D
                   ? fail(c, HB_ERR_SHAPE, "input %s does not fit output %s: a convolution "
                          "with this window takes the output to %s", S(&c->in[0]),
                          S(&c->at->shape), S(&y))
                   : fail(c, HB_ERR_SHAPE, "gradient %s does not match the convolution's "
                          "output %s", S(&c->in[0]), S(&y));
    *c->out = c->at->shape;
    return HB_OK;
}

static hb_status rule_conv_transpose(rule_ctx *c)
{
    return conv_grad(c, &c->at->shape, &c->in[1]);
}
static hb_status rule_conv_grad_w(rule_ctx *c) { return conv_grad(c, &c->in[1], &c->at->shape); }

static hb_status pool_shape(rule_ctx *c, const hb_shape *x, hb_shape *out)
{
    if (!check_window(c, false))
        return HB_ERR_ARG;
    if (x->ndim != 4)
        return fail(c, HB_ERR_SHAPE, "needs an input [N, C, H, W], got %s", S(x));
    if (x->dim[2] == 0 || x->dim[3] == 0) /* a window over padding alone has no maximum */
        return fail(c, HB_ERR_SHAPE, "input %s has an empty plane", S(x));
    bool max = c->op == HB_OP_MAX_POOL2D || c->op == HB_OP_MAX_POOL2D_GRAD;
    if (max && c->at->win.exclude_pad)
        return fail(c, HB_ERR_ARG, "exclude_padding is an average pool's (a max pool never "
                    "counts the padding)");
    *out = *x;
    for (int i = 0; i < 2; i++) {
        const hb_window *w = &c->at->win;
        out->dim[2 + i] = w->ceil_mode
                              ? window_out_ceil(x->dim[2 + i], w->kernel[i], w->stride[i], w->pad[i])
                              : window_out(x->dim[2 + i], w->kernel[i], w->stride[i], w->pad[i], 1);
        if (out->dim[2 + i] < 1)
            return fail(c, HB_ERR_SHAPE, "kernel [%d, %d] is larger than input %s with "
                        "padding [%d, %d]", c->at->win.kernel[0], c->at->win.kernel[1], S(x),
                        c->at->win.pad[0], c->at->win.pad[1]);
    }
    return HB_OK;
}

static hb_status rule_pool(rule_ctx *c) { return pool_shape(c, &c->in[0], c->out); }

static hb_status pool_grad(rule_ctx *c, const hb_shape *x)
{
    hb_shape y;
    hb_status st = pool_shape(c, x, &y);
    if (st != HB_OK)
        return st;
    if (!hb_shape_equal(&y, &c->in[0]))
        return fail(c, HB_ERR_SHAPE, "gradient %s does not match the pool's output %s",
                    S(&c->in[0]), S(&y));
    *c->out = *x;
    return HB_OK;
}

static hb_status rule_max_pool_grad(rule_ctx *c) { return pool_grad(c, &c->in[1]); }
static hb_status rule_avg_pool_grad(rule_ctx *c) { return pool_grad(c, &c->at->shape); }

/* An epilogue input of a fused convolution with output out: a scalar, a per-channel value
 * ([C, 1, 1], [1, C, 1, 1], or [C]: the fused op reads a 1-D input per channel, as a bias)
 * or the output's own shape. */
bool hb_conv_epilogue_input(const hb_shape *e, const hb_shape *out)
{
    if (hb_shape_numel(e) == 1 && e->ndim <= out->ndim)
        return true;
    if (hb_shape_equal(e, out))
        return true;
    if (e->ndim == 1) /* a convolution's bias */
        return e->dim[0] == out->dim[1];
    if (e->ndim < 3 || e->ndim > 4 || (e->ndim == 4 && e->dim[0] != 1))
        return false;
    return e->dim[e->ndim - 3] == out->dim[1] && e->dim[e->ndim - 2] == 1 &&
           e->dim[e->ndim - 1] == 1;
}

static hb_status rule_fused_conv(rule_ctx *c)
{
    hb_status st = conv_shape(c, &c->in[0], &c->in[1], c->out);
    if (st == HB_OK)
        st = check_program(c, c->n - 1);
    for (int i = 2; st == HB_OK && i < c->n; i++)
        if (!hb_conv_epilogue_input(&c->in[i], c->out))
            return fail(c, HB_ERR_SHAPE, "epilogue input %s is not a scalar, a per-channel "
                        "[%lld, 1, 1] or [C] or the output's %s", S(&c->in[i]),
                        (long long)c->out->dim[1], S(c->out));
    return st;
}

typedef hb_status (*rule_fn)(rule_ctx *c);

static const rule_fn rules[HB_OP_COUNT] = {
#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad) [HB_OP_##NAME] = rule_##rule,
#include "ops.def"
#undef HB_OP
};

hb_status hb_op_infer(hb_op op, hb_attrs *attrs, int n, const hb_shape *in, hb_shape *out,
                      char *err, size_t err_size)
{
    rule_ctx c = {op, attrs, n, in, out, err, err_size};
    const hb_op_info *info = &hb_op_table[op];
    if (n < info->min_inputs || (info->max_inputs >= 0 && n > info->max_inputs)) {
        if (info->max_inputs < 0)
            return fail(&c, HB_ERR_ARG, "takes at least %d inputs, got %d", info->min_inputs, n);
        return fail(&c, HB_ERR_ARG, "takes %d to %d inputs, got %d", info->min_inputs,
                    info->max_inputs, n);
    }
    return rules[op](&c);
}

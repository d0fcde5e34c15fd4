/* Kernels over dtypes other than float32: the ops that compare, select, convert and index
 * (whatever their dtypes), and the elementwise ops of ops.def when their data is not float32
 * (integer ids, bool masks). Elements go through hb_dtype_get and hb_dtype_set: one loop per op
 * for every dtype, at a few nanoseconds an element, on data that is small next to the float
 * work around it. Integers compute in 64 bits and wrap as C's unsigned arithmetic does, so no
 * input is undefined behaviour: a division by zero gives 0, INT64_MIN / -1 gives INT64_MIN. */
#include "kernels.h"

#include <math.h>
#include <string.h>

/* ---- broadcasting ------------------------------------------------------------------------- */

/* Each input's element strides over the output's dims (0 where it is broadcast). */
typedef struct walk {
    int ndim, n;
    int64_t dim[HB_MAX_DIMS];
    int64_t stride[3][HB_MAX_DIMS];
} walk;

static void walk_init(walk *w, const hb_operand *in, int n, const hb_shape *out)
{
    w->ndim = out->ndim, w->n = n;
    for (int d = 0; d < out->ndim; d++)
        w->dim[d] = out->dim[d];
    for (int i = 0; i < n; i++) {
        const hb_shape *s = &in[i].shape;
        int64_t st = 1;
        for (int d = out->ndim - 1; d >= 0; d--) {
            int k = d - (out->ndim - s->ndim);
            int64_t len = k >= 0 ? s->dim[k] : 1;
            w->stride[i][d] = len == 1 ? 0 : st;
            st *= len;
        }
    }
}

/* The inputs' element indices for output element e. */
static void walk_at(const walk *w, int64_t e, int64_t *at)
{
    for (int i = 0; i < w->n; i++)
        at[i] = 0;
    for (int d = w->ndim - 1; d >= 0; d--) {
        int64_t c = e % w->dim[d];
        e /= w->dim[d];
        for (int i = 0; i < w->n; i++)
            at[i] += c * w->stride[i][d];
    }
}

/* ---- arithmetic, logic and comparisons -------------------------------------------------- */

static bool is_unsigned(hb_dtype d) { return hb_dtypes[d].kind == HB_KIND_UNSIGNED; }

static int64_t int_op(hb_op op, int64_t a, int64_t b, bool u)
{
    uint64_t x = (uint64_t)a, y = (uint64_t)b;
    switch (op) {
    case HB_OP_ADD: return (int64_t)(x + y);
    case HB_OP_SUB: return (int64_t)(x - y);
    case HB_OP_MUL: return (int64_t)(x * y);
    case HB_OP_DIV:
        if (b == 0)
            return 0;
        if (u)
            return (int64_t)(x / y);
        return a == INT64_MIN && b == -1 ? INT64_MIN : a / b;
    case HB_OP_MAXIMUM: return (u ? x > y : a > b) ? a : b;
    case HB_OP_MINIMUM: return (u ? x < y : a < b) ? a : b;
    case HB_OP_NEG: return (int64_t)(0 - x);
    case HB_OP_ABS: return a < 0 && !u ? (int64_t)(0 - x) : a;
    case HB_OP_AND: return a && b;
    case HB_OP_OR: return a || b;
    case HB_OP_XOR: return !a != !b;
    case HB_OP_NOT: return !a;
    default: return 0; /* the dtype rules let no other op here */
    }
}

static double float_op(hb_op op, double a, double b)
{
    switch (op) {
    case HB_OP_ADD: return a + b;
    case HB_OP_SUB: return a - b;
    case HB_OP_MUL: return a * b;
    case HB_OP_DIV: return a / b;
    case HB_OP_MAXIMUM: return a > b || a != a ? a : b;
    case HB_OP_MINIMUM: return a < b || a != a ? a : b;
    case HB_OP_NEG: return -a;
    case HB_OP_ABS: return fabs(a);
    case HB_OP_XOR: return (a != 0) != (b != 0);
    default: return 0;
    }
}

static bool compare(hb_op op, int c)
{
    switch (op) {
    case HB_OP_EQUAL: return c == 0;
    case HB_OP_LESS: return c < 0;
    case HB_OP_GREATER: return c > 0;
    case HB_OP_LESS_EQUAL: return c <= 0;
    case HB_OP_GREATER_EQUAL: return c >= 0;
    default: return false;
    }
}

/* -1, 0 or 1 as a < b, a == b, a > b; 2 if either is NaN (every comparison false but !=). */
static int order(hb_dtype d, const void *a, int64_t i, const void *b, int64_t j)
{
    if (hb_dtypes[d].kind == HB_KIND_FLOAT) {
        double x = hb_dtype_get(d, a, i), y = hb_dtype_get(d, b, j);
        return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
    }
    int64_t x = hb_dtype_get_int(d, a, i), y = hb_dtype_get_int(d, b, j);
    if (is_unsigned(d))
        return (uint64_t)x < (uint64_t)y ? -1 : (uint64_t)x > (uint64_t)y;
    return x < y ? -1 : x > y;
}

/* a mod b with the divisor's sign, or the dividend's (fmod) */
static int64_t int_mod(int64_t a, int64_t b, bool u, bool fmod)
{
    if (b == 0)
        return 0;
    if (u)
        return (int64_t)((uint64_t)a % (uint64_t)b);
    int64_t m = a == INT64_MIN && b == -1 ? 0 : a % b;
    return !fmod && m != 0 && (m < 0) != (b < 0) ? m + b : m;
}

static double float_mod(double a, double b, bool fmod_)
{
    double m = fmod(a, b);
    return !fmod_ && m != 0 && (m < 0) != (b < 0) ? m + b : m;
}

void hb_kernel_MOD(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    walk w;
    walk_init(&w, in, n, &out->shape);
    hb_dtype d = in[0].dtype;
    bool flt = hb_dtypes[d].kind == HB_KIND_FLOAT, u = is_unsigned(d);
    for (int64_t e = 0, total = hb_shape_numel(&out->shape); e < total; e++) {
        int64_t ix[2];
        walk_at(&w, e, ix);
        if (flt)
            hb_dtype_set(d, out->data, e, float_mod(hb_dtype_get(d, in[0].data, ix[0]),
                                                    hb_dtype_get(d, in[1].data, ix[1]), at->fmod));
        else
            hb_dtype_set_int(d, out->data, e, int_mod(hb_dtype_get_int(d, in[0].data, ix[0]),
                                                      hb_dtype_get_int(d, in[1].data, ix[1]), u,
                                                      at->fmod));
    }
}

/* An elementwise op of ops.def over data that is not all float32 (its dtype rule allowed it). */
void hb_kernel_typed_elementwise(hb_op op, const hb_operand *in, int n, const hb_operand *out,
                                 const hb_attrs *at)
{
    (void)at;
    hb_dtype d = in[0].dtype;
    int64_t total = hb_shape_numel(&out->shape);
    if (op == HB_OP_COPY) {
        memcpy(out->data, in[0].data, hb_dtypes[d].size * (size_t)total);
        return;
    }
    walk w;
    walk_init(&w, in, n, &out->shape);
    bool flt = hb_dtypes[d].kind == HB_KIND_FLOAT, u = is_unsigned(d);
    for (int64_t e = 0; e < total; e++) {
        int64_t ix[3];
        walk_at(&w, e, ix);
        const void *b = n > 1 ? in[1].data : in[0].data;
        int64_t jb = n > 1 ? ix[1] : ix[0];
        if (flt && out->dtype != HB_BOOL)
            hb_dtype_set(out->dtype, out->data, e,
                         float_op(op, hb_dtype_get(d, in[0].data, ix[0]), hb_dtype_get(d, b, jb)));
        else
            hb_dtype_set_int(out->dtype, out->data, e,
                             int_op(op, hb_dtype_get_int(d, in[0].data, ix[0]),
                                    hb_dtype_get_int(d, b, jb), u));
    }
}

static void kernel_compare(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at,
                           hb_op op)
{
    (void)at;
    walk w;
    walk_init(&w, in, n, &out->shape);
    uint8_t *r = (uint8_t *)out->data;
    for (int64_t e = 0, total = hb_shape_numel(&out->shape); e < total; e++) {
        int64_t ix[2];
        walk_at(&w, e, ix);
        int c = order(in[0].dtype, in[0].data, ix[0], in[1].data, ix[1]);
        r[e] = c != 2 && compare(op, c);
    }
}

#define COMPARE(NAME)                                                                         \
    void hb_kernel_##NAME(const hb_operand *in, int n, const hb_operand *out,                 \
                          const hb_attrs *at)                                                 \
    {                                                                                         \
        kernel_compare(in, n, out, at, HB_OP_##NAME);                                         \
    }
COMPARE(EQUAL)
COMPARE(LESS)
COMPARE(GREATER)
COMPARE(LESS_EQUAL)
COMPARE(GREATER_EQUAL)

void hb_kernel_XOR(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    hb_kernel_typed_elementwise(HB_OP_XOR, in, n, out, at);
}

void hb_kernel_WHERE(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)at;
    walk w;
    walk_init(&w, in, n, &out->shape);
    size_t es = hb_dtypes[out->dtype].size;
    const uint8_t *c = (const uint8_t *)in[0].data;
    for (int64_t e = 0, total = hb_shape_numel(&out->shape); e < total; e++) {
        int64_t ix[3];
        walk_at(&w, e, ix);
        const char *src = c[ix[0]] ? (const char *)in[1].data + es * (size_t)ix[1]
                                   : (const char *)in[2].data + es * (size_t)ix[2];
        memcpy((char *)out->data + es * (size_t)e, src, es);
    }
}

void hb_kernel_CAST(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n, (void)at;
    hb_dtype from = in[0].dtype, to = out->dtype;
    int64_t total = hb_shape_numel(&out->shape);
    if (from == to) {
        memcpy(out->data, in[0].data, hb_dtypes[to].size * (size_t)total);
        return;
    }
    bool exact_int = hb_dtypes[from].kind != HB_KIND_FLOAT && hb_dtypes[to].kind != HB_KIND_FLOAT;
    bool from_int = hb_dtypes[from].kind != HB_KIND_FLOAT;
    for (int64_t e = 0; e < total; e++) {
        if (exact_int)
            hb_dtype_set_int(to, out->data, e, hb_dtype_get_int(from, in[0].data, e));
        else if (from_int) /* through int64: a uint64 above 2^63 counts as its own value */
            hb_dtype_set(to, out->data, e,
                         is_unsigned(from) ? (double)(uint64_t)hb_dtype_get_int(from, in[0].data, e)
                                           : (double)hb_dtype_get_int(from, in[0].data, e));
        else
            hb_dtype_set(to, out->data, e, hb_dtype_get(from, in[0].data, e));
    }
}

/* ---- indexing ------------------------------------------------------------------------------ */

/* Index i into an axis of length len (negative from the end); false and the thread's error
 * set, naming the op, if it is outside. */
static bool index_ok(const char *op, int64_t *i, int64_t len, int axis)
{
    if (*i < -len || *i >= len) {
        hb_error_set(HB_ERR_ARG, "%s: index %lld is out of range for axis %d of length %lld", op,
                     (long long)*i, axis, (long long)len);
        return false;
    }
    if (*i < 0)
        *i += len;
    return true;
}

/* outer · len · inner of shape s around axis */
static void split(const hb_shape *s, int axis, int64_t *outer, int64_t *len, int64_t *inner)
{
    *outer = 1, *inner = 1, *len = s->dim[axis];
    for (int d = 0; d < axis; d++)
        *outer *= s->dim[d];
    for (int d = axis + 1; d < s->ndim; d++)
        *inner *= s->dim[d];
}

void hb_kernel_GATHER(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    int64_t outer, len, inner, count = hb_shape_numel(&in[1].shape);
    split(&in[0].shape, at->axis, &outer, &len, &inner);
    size_t es = hb_dtypes[in[0].dtype].size, row = es * (size_t)inner;
    char *dst = (char *)out->data;
    const char *src = (const char *)in[0].data;
    for (int64_t j = 0; j < count; j++) {
        int64_t i = hb_dtype_get_int(in[1].dtype, in[1].data, j);
        if (!index_ok("gather", &i, len, at->axis)) {
            memset(out->data, 0, es * (size_t)hb_shape_numel(&out->shape));
            return;
        }
        for (int64_t o = 0; o < outer; o++)
            memcpy(dst + row * (size_t)(o * count + j), src + row * (size_t)(o * len + i), row);
    }
}

void hb_kernel_GATHER_GRAD(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    int64_t outer, len, inner, count = hb_shape_numel(&in[1].shape);
    split(&out->shape, at->axis, &outer, &len, &inner);
    memset(out->data, 0, sizeof(float) * (size_t)hb_shape_numel(&out->shape));
    for (int64_t j = 0; j < count; j++) {
        int64_t i = hb_dtype_get_int(in[1].dtype, in[1].data, j);
        if (!index_ok("gather_grad", &i, len, at->axis))
            return;
        for (int64_t o = 0; o < outer; o++) {
            float *d = out->data + (o * len + i) * inner;
            const float *g = in[0].data + (o * count + j) * inner;
            for (int64_t k = 0; k < inner; k++)
                d[k] += g[k];
        }
    }
}

/* For element e of the indices (shape s), its offset in data of shape x with the index i at
 * axis in place of e's coordinate there. */
static int64_t element_offset(const hb_shape *s, const hb_shape *x, int axis, int64_t e, int64_t i)
{
    int64_t off = 0, st = 1;
    for (int d = s->ndim - 1; d >= 0; d--) {
        int64_t c = e % s->dim[d];
        e /= s->dim[d];
        off += (d == axis ? i : c) * st;
        st *= x->dim[d];
    }
    return off;
}

void hb_kernel_GATHER_ELEMENTS(const hb_operand *in, int n, const hb_operand *out,
                               const hb_attrs *at)
{
    (void)n;
    const hb_shape *x = &in[0].shape, *s = &in[1].shape;
    size_t es = hb_dtypes[in[0].dtype].size;
    for (int64_t e = 0, total = hb_shape_numel(s); e < total; e++) {
        int64_t i = hb_dtype_get_int(in[1].dtype, in[1].data, e);
        if (!index_ok("gather_elements", &i, x->dim[at->axis], at->axis)) {
            memset(out->data, 0, es * (size_t)total);
            return;
        }
        memcpy((char *)out->data + es * (size_t)e,
               (const char *)in[0].data + es * (size_t)element_offset(s, x, at->axis, e, i), es);
    }
}

void hb_kernel_GATHER_ELEMENTS_GRAD(const hb_operand *in, int n, const hb_operand *out,
                                    const hb_attrs *at)
{
    (void)n;
    const hb_shape *x = &out->shape, *s = &in[1].shape;
    memset(out->data, 0, sizeof(float) * (size_t)hb_shape_numel(x));
    for (int64_t e = 0, total = hb_shape_numel(s); e < total; e++) {
        int64_t i = hb_dtype_get_int(in[1].dtype, in[1].data, e);
        if (!index_ok("gather_elements_grad", &i, x->dim[at->axis], at->axis))
            return;
        out->data[element_offset(s, x, at->axis, e, i)] += in[0].data[e];
    }
}

/* Index tuple j of indices [..., k] into data x as the offset of its slice (elements of x
 * after the first k dims); -1 with the thread's error set if one is out of range. */
static int64_t nd_offset(const char *op, const hb_operand *x, const hb_operand *idx, int64_t j,
                         int64_t *slice)
{
    int64_t k = idx->shape.dim[idx->shape.ndim - 1], off = 0;
    *slice = 1;
    for (int d = (int)k; d < x->shape.ndim; d++)
        *slice *= x->shape.dim[d];
    for (int64_t d = 0; d < k; d++) {
        int64_t i = hb_dtype_get_int(idx->dtype, idx->data, j * k + d);
        if (!index_ok(op, &i, x->shape.dim[d], (int)d))
            return -1;
        off = off * x->shape.dim[d] + i;
    }
    return off * *slice;
}

void hb_kernel_GATHER_ND(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n, (void)at;
    size_t es = hb_dtypes[in[0].dtype].size;
    int64_t k = in[1].shape.dim[in[1].shape.ndim - 1], tuples = hb_shape_numel(&in[1].shape) / k;
    for (int64_t j = 0; j < tuples; j++) {
        int64_t slice, off = nd_offset("gather_nd", &in[0], &in[1], j, &slice);
        if (off < 0) {
            memset(out->data, 0, es * (size_t)hb_shape_numel(&out->shape));
            return;
        }
        memcpy((char *)out->data + es * (size_t)(j * slice),
               (const char *)in[0].data + es * (size_t)off, es * (size_t)slice);
    }
}

void hb_kernel_SCATTER_ND(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    hb_dtype d = in[0].dtype;
    size_t es = hb_dtypes[d].size;
    if (out->data != in[0].data)
        memcpy(out->data, in[0].data, es * (size_t)hb_shape_numel(&out->shape));
    int64_t k = in[1].shape.dim[in[1].shape.ndim - 1], tuples = hb_shape_numel(&in[1].shape) / k;
    for (int64_t j = 0; j < tuples; j++) {
        int64_t slice, off = nd_offset("scatter_nd", &in[0], &in[1], j, &slice);
        if (off < 0)
            return;
        if (!at->accumulate) {
            memcpy((char *)out->data + es * (size_t)off,
                   (const char *)in[2].data + es * (size_t)(j * slice), es * (size_t)slice);
            continue;
        }
        bool flt = hb_dtypes[d].kind == HB_KIND_FLOAT;
        for (int64_t e = 0; e < slice; e++) {
            int64_t o = off + e, u = j * slice + e;
            if (flt)
                hb_dtype_set(d, out->data, o, hb_dtype_get(d, out->data, o) +
                                                  hb_dtype_get(d, in[2].data, u));
            else
                hb_dtype_set_int(d, out->data, o, int_op(HB_OP_ADD, hb_dtype_get_int(d, out->data, o),
                                                          hb_dtype_get_int(d, in[2].data, u), false));
        }
    }
}

/* The first position of the extreme along the axis (over all, flattened), or the last with
 * attrs.last; NaN counts as the largest and the smallest, as in PyTorch (its first). */
static void arg_extreme(const hb_operand *in, const hb_operand *out, const hb_attrs *at, bool max)
{
    int64_t outer = 1, len = hb_shape_numel(&in[0].shape), inner = 1;
    if (!at->all)
        split(&in[0].shape, at->axis, &outer, &len, &inner);
    int64_t *r = (int64_t *)(void *)out->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            int64_t best = 0;
            double bv = hb_dtype_get(in[0].dtype, in[0].data, o * len * inner + k);
            for (int64_t i = 1; i < len && bv == bv; i++) {
                double v = hb_dtype_get(in[0].dtype, in[0].data, (o * len + i) * inner + k);
                if (v != v || (max ? v > bv : v < bv) || (at->last && v == bv))
                    best = i, bv = v;
            }
            r[o * inner + k] = best;
        }
}

void hb_kernel_ARGMAX(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    arg_extreme(in, out, at, true);
}

void hb_kernel_ARGMIN(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    arg_extreme(in, out, at, false);
}

/* sum and max of integers (wrapping) and of the other float widths (in double), over all or
 * one axis: a mask's count of tokens, the longest sequence */
void hb_kernel_typed_reduce(hb_op op, const hb_operand *in, const hb_operand *out,
                            const hb_attrs *at)
{
    int64_t outer = 1, len = hb_shape_numel(&in[0].shape), inner = 1;
    if (!at->all)
        split(&in[0].shape, at->axis, &outer, &len, &inner);
    hb_dtype d = in[0].dtype;
    bool flt = hb_dtypes[d].kind == HB_KIND_FLOAT, u = is_unsigned(d), max = op == HB_OP_MAX;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            /* a sum of nothing is 0 (a max of nothing is refused by its shape rule) */
            int64_t first = o * len * inner + k, r = 0;
            double f = 0;
            if (len > 0)
                r = hb_dtype_get_int(d, in[0].data, first), f = hb_dtype_get(d, in[0].data, first);
            for (int64_t i = 1; i < len; i++) {
                int64_t at_i = (o * len + i) * inner + k;
                if (flt)
                    f = float_op(max ? HB_OP_MAXIMUM : HB_OP_ADD, f, hb_dtype_get(d, in[0].data, at_i));
                else
                    r = int_op(max ? HB_OP_MAXIMUM : HB_OP_ADD, r, hb_dtype_get_int(d, in[0].data, at_i), u);
            }
            if (flt)
                hb_dtype_set(d, out->data, o * inner + k, f);
            else
                hb_dtype_set_int(d, out->data, o * inner + k, r);
        }
}

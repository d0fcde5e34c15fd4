/* Eager ops: every public op is one call of apply(), which checks shapes with the op's shape
 * rule, allocates the result, runs the op's kernel and hands the result to the current block
 * call. This single path is where the tracer records nodes and the tape records gradients. */
#include "../runtime/kernels.h"
#include "frontend.h"

#include <string.h>

enum { INLINE_INPUTS = 8 };

static hb_tensor *apply(hb_op op, hb_attrs at, int n, hb_tensor *const *in)
{
    if (n > 0 && !in)
        return hb_frame_fail(HB_ERR_ARG, "%s: the input array is NULL", hb_op_table[op].name), NULL;
    for (int i = 0; i < n; i++)
        if (!in[i]) { /* an earlier failure: keep its message, unless there is none */
            if (hb_last_status() == HB_OK)
                hb_frame_fail(HB_ERR_ARG, "%s: input %d is NULL", hb_op_table[op].name, i);
            return NULL;
        }
    hb_shape shapes_inline[INLINE_INPUTS], out_shape;
    hb_dtype dtypes_inline[INLINE_INPUTS], out_dtype;
    hb_operand ops_inline[INLINE_INPUTS];
    hb_shape *shapes = shapes_inline;
    hb_dtype *dtypes = dtypes_inline;
    hb_operand *operands = ops_inline;
    if (n > INLINE_INPUTS) {
        shapes = hb_malloc(sizeof *shapes * (size_t)n);
        dtypes = hb_malloc(sizeof *dtypes * (size_t)n);
        operands = hb_malloc(sizeof *operands * (size_t)n);
        if (!shapes || !dtypes || !operands) {
            hb_free(shapes), hb_free(dtypes), hb_free(operands);
            return hb_frame_fail(HB_ERR_NOMEM, "%s: out of memory", hb_op_table[op].name), NULL;
        }
    }
    for (int i = 0; i < n; i++) {
        shapes[i] = in[i]->shape;
        dtypes[i] = in[i]->dtype;
        operands[i] = (hb_operand){in[i]->data, in[i]->shape, in[i]->dtype};
    }
    char err[512];
    hb_tensor *out = NULL;
    hb_status st = hb_op_infer(op, &at, n, shapes, &out_shape, err, sizeof err);
    if (st == HB_OK)
        st = hb_op_dtype(op, &at, n, dtypes, &out_dtype, err, sizeof err);
    if (st != HB_OK)
        hb_frame_fail(st, "%s", err);
    else if (hb_tracing && hb_trace_symbolic()) { /* extending a graph: a node, no values */
        if ((out = hb_tensor_alloc_meta(&out_shape, out_dtype)))
            hb_trace_op(op, &at, n, in, out);
    } else if ((out = hb_tensor_alloc_typed(&out_shape, out_dtype))) {
        bool fails = hb_op_table[op].flags & HB_FAILS;
        hb_pending_error pending;
        if (fails) /* an earlier failure still fails the call; this op's is checked alone */
            hb_error_set_aside(&pending);
        hb_kernels[op](operands, n, &(hb_operand){out->data, out->shape, out->dtype}, &at);
        if (fails && hb_last_status() != HB_OK) { /* an index out of range: say where */
            snprintf(err, sizeof err, "%s", hb_last_error());
            hb_tensor_release(out), out = NULL;
            hb_frame_fail(hb_last_status(), "%s", err);
        } else if (fails) {
            hb_error_put_back(&pending);
        }
        if (out && hb_tracing)
            hb_trace_op(op, &at, n, in, out);
        if (out && hb_grad_on)
            hb_grad_record(op, &at, n, in, out);
    }
    if (n > INLINE_INPUTS)
        hb_free(shapes), hb_free(dtypes), hb_free(operands);
    return hb_frame_adopt(out);
}

static hb_tensor *apply1(hb_op op, hb_attrs at, hb_tensor *x) { return apply(op, at, 1, &x); }

static hb_tensor *apply2(hb_op op, hb_tensor *a, hb_tensor *b)
{
    return apply(op, (hb_attrs){0}, 2, (hb_tensor *[]){a, b});
}

hb_status hb_assign(hb_tensor *dst, hb_tensor *src)
{
    hb_tensor *r = apply2(HB_OP_ASSIGN, dst, src);
    if (hb_frame_depth() == 0)
        hb_tensor_release(r); /* else the call's frame owns it */
    return r ? HB_OK : hb_last_status();
}

hb_tensor *hb_matmul(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_MATMUL, a, b); }

hb_tensor *hb_tensor_copy(const hb_tensor *t)
{
    return apply1(HB_OP_COPY, (hb_attrs){0}, (hb_tensor *)t); /* reads t, never writes it */
}

hb_tensor *hb_linear(hb_tensor *x, hb_tensor *w, hb_tensor *b)
{
    return apply(HB_OP_LINEAR, (hb_attrs){0}, 3, (hb_tensor *[]){x, w, b});
}

hb_tensor *hb_linear_nobias(hb_tensor *x, hb_tensor *w) { return apply2(HB_OP_LINEAR, x, w); }

hb_tensor *hb_add(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_ADD, a, b); }
hb_tensor *hb_sub(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_SUB, a, b); }
hb_tensor *hb_mul(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_MUL, a, b); }
hb_tensor *hb_div(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_DIV, a, b); }
hb_tensor *hb_maximum(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_MAXIMUM, a, b); }
hb_tensor *hb_minimum(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_MINIMUM, a, b); }
hb_tensor *hb_pow(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_POW, a, b); }

#define SCALAR_OP(fn, OP)                                                                     \
    hb_tensor *fn(hb_tensor *a, float s) { return apply1(OP, (hb_attrs){.scalar = s}, a); }
SCALAR_OP(hb_add_scalar, HB_OP_ADD_SCALAR)
SCALAR_OP(hb_sub_scalar, HB_OP_SUB_SCALAR)
SCALAR_OP(hb_mul_scalar, HB_OP_MUL_SCALAR)
SCALAR_OP(hb_div_scalar, HB_OP_DIV_SCALAR)
SCALAR_OP(hb_rsub_scalar, HB_OP_RSUB_SCALAR)
SCALAR_OP(hb_rdiv_scalar, HB_OP_RDIV_SCALAR)
SCALAR_OP(hb_pow_scalar, HB_OP_POW_SCALAR)

#define UNARY_OP(fn, OP)                                                                      \
    hb_tensor *fn(hb_tensor *x) { return apply1(OP, (hb_attrs){0}, x); }
UNARY_OP(hb_relu, HB_OP_RELU)
UNARY_OP(hb_sigmoid, HB_OP_SIGMOID)
UNARY_OP(hb_tanh, HB_OP_TANH)
UNARY_OP(hb_exp, HB_OP_EXP)
UNARY_OP(hb_log, HB_OP_LOG)
UNARY_OP(hb_abs, HB_OP_ABS)
UNARY_OP(hb_neg, HB_OP_NEG)
UNARY_OP(hb_sqrt, HB_OP_SQRT)
UNARY_OP(hb_erf, HB_OP_ERF)
UNARY_OP(hb_sin, HB_OP_SIN)
UNARY_OP(hb_cos, HB_OP_COS)
UNARY_OP(hb_floor, HB_OP_FLOOR)
UNARY_OP(hb_ceil, HB_OP_CEIL)
UNARY_OP(hb_round, HB_OP_ROUND)
UNARY_OP(hb_sign, HB_OP_SIGN)

#define REDUCE_OP(fn, OP)                                                                     \
    hb_tensor *fn(hb_tensor *x) { return apply1(OP, (hb_attrs){.all = true}, x); }            \
    hb_tensor *fn##_axis(hb_tensor *x, int axis, bool keepdim)                                \
    {                                                                                         \
        return apply1(OP, (hb_attrs){.axis = axis, .keepdim = keepdim}, x);                   \
    }
REDUCE_OP(hb_sum, HB_OP_SUM)
REDUCE_OP(hb_mean, HB_OP_MEAN)
REDUCE_OP(hb_max, HB_OP_MAX)

SCALAR_OP(hb_gt, HB_OP_GT)
SCALAR_OP(hb_lt, HB_OP_LT)
SCALAR_OP(hb_ge, HB_OP_GE)
SCALAR_OP(hb_le, HB_OP_LE)
SCALAR_OP(hb_eq, HB_OP_EQ)
SCALAR_OP(hb_ne, HB_OP_NE)
UNARY_OP(hb_logical_not, HB_OP_NOT)
hb_tensor *hb_logical_and(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_AND, a, b); }
hb_tensor *hb_logical_or(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_OR, a, b); }

hb_tensor *hb_equal(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_EQUAL, a, b); }
hb_tensor *hb_less(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_LESS, a, b); }
hb_tensor *hb_greater(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_GREATER, a, b); }
hb_tensor *hb_less_equal(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_LESS_EQUAL, a, b); }
hb_tensor *hb_greater_equal(hb_tensor *a, hb_tensor *b)
{
    return apply2(HB_OP_GREATER_EQUAL, a, b);
}
hb_tensor *hb_logical_xor(hb_tensor *a, hb_tensor *b) { return apply2(HB_OP_XOR, a, b); }
hb_tensor *hb_mod(hb_tensor *a, hb_tensor *b)
{
    return apply(HB_OP_MOD, (hb_attrs){0}, 2, (hb_tensor *[]){a, b});
}
hb_tensor *hb_fmod(hb_tensor *a, hb_tensor *b)
{
    return apply(HB_OP_MOD, (hb_attrs){.fmod = true}, 2, (hb_tensor *[]){a, b});
}

hb_tensor *hb_where(hb_tensor *cond, hb_tensor *a, hb_tensor *b)
{
    return apply(HB_OP_WHERE, (hb_attrs){0}, 3, (hb_tensor *[]){cond, a, b});
}

hb_tensor *hb_cast(hb_tensor *x, hb_dtype dtype)
{
    return apply1(HB_OP_CAST, (hb_attrs){.dtype = dtype}, x);
}

hb_tensor *hb_gather(hb_tensor *x, hb_tensor *indices, int axis)
{
    return apply(HB_OP_GATHER, (hb_attrs){.axis = axis}, 2, (hb_tensor *[]){x, indices});
}

hb_tensor *hb_gather_elements(hb_tensor *x, hb_tensor *indices, int axis)
{
    return apply(HB_OP_GATHER_ELEMENTS, (hb_attrs){.axis = axis}, 2, (hb_tensor *[]){x, indices});
}

hb_tensor *hb_gather_nd(hb_tensor *x, hb_tensor *indices)
{
    return apply(HB_OP_GATHER_ND, (hb_attrs){0}, 2, (hb_tensor *[]){x, indices});
}

hb_tensor *hb_scatter_nd(hb_tensor *x, hb_tensor *indices, hb_tensor *updates, bool accumulate)
{
    return apply(HB_OP_SCATTER_ND, (hb_attrs){.accumulate = accumulate}, 3,
                 (hb_tensor *[]){x, indices, updates});
}

/* The gathers' gradients, for the rules: g added into zeros of x's shape where x was read. */
hb_tensor *hb_gather_grad(hb_op op, hb_tensor *g, hb_tensor *indices, int axis, const hb_shape *x)
{
    return apply(op == HB_OP_GATHER ? HB_OP_GATHER_GRAD : HB_OP_GATHER_ELEMENTS_GRAD,
                 (hb_attrs){.axis = axis, .shape = *x}, 2, (hb_tensor *[]){g, indices});
}

hb_tensor *hb_arg_extreme(hb_tensor *x, int axis, bool keepdim, bool max, bool last)
{
    return apply1(max ? HB_OP_ARGMAX : HB_OP_ARGMIN,
                  (hb_attrs){.axis = axis, .keepdim = keepdim, .last = last}, x);
}

hb_tensor *hb_argmax(hb_tensor *x, int axis, bool keepdim)
{
    return hb_arg_extreme(x, axis, keepdim, true, false);
}

hb_tensor *hb_argmin(hb_tensor *x, int axis, bool keepdim)
{
    return hb_arg_extreme(x, axis, keepdim, false, false);
}

hb_tensor *hb_softmax(hb_tensor *x, int axis)
{
    return apply1(HB_OP_SOFTMAX, (hb_attrs){.axis = axis}, x);
}

hb_tensor *hb_log_softmax(hb_tensor *x, int axis)
{
    return apply1(HB_OP_LOG_SOFTMAX, (hb_attrs){.axis = axis}, x);
}

hb_tensor *hb_reshape(hb_tensor *x, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > HB_MAX_DIMS || (ndim > 0 && !shape))
        return hb_frame_fail(HB_ERR_ARG, "reshape: target needs 0 to %d dims, got %d", HB_MAX_DIMS,
                             ndim), NULL;
    return apply1(HB_OP_RESHAPE, (hb_attrs){.shape = hb_shape_make(ndim, shape)}, x);
}

hb_tensor *hb_flatten(hb_tensor *x)
{
    if (x && x->shape.ndim == 0)
        return hb_frame_fail(HB_ERR_SHAPE, "flatten: needs at least 1 dim, got shape []"), NULL;
    if (!x) {
        if (hb_last_status() == HB_OK)
            hb_frame_fail(HB_ERR_ARG, "flatten: input 0 is NULL");
        return NULL;
    }
    int64_t rest = 1; /* not -1: a zero-size batch still has a known width */
    for (int i = 1; i < x->shape.ndim; i++)
        if (!hb_mul_ok(rest, x->shape.dim[i], &rest)) {
            char sb[96];
            return hb_frame_fail(HB_ERR_SHAPE, "flatten: shape %s is too large to flatten",
                                 hb_shape_fmt(&x->shape, sb, sizeof sb)), NULL;
        }
    return hb_reshape(x, HB_SHAPE(x->shape.dim[0], rest));
}

hb_tensor *hb_transpose(hb_tensor *x, int axis0, int axis1)
{
    return apply1(HB_OP_TRANSPOSE, (hb_attrs){.axis = axis0, .axis2 = axis1}, x);
}

hb_tensor *hb_slice(hb_tensor *x, int axis, int64_t start, int64_t length)
{
    return apply1(HB_OP_SLICE, (hb_attrs){.axis = axis, .start = start, .length = length}, x);
}

hb_tensor *hb_pad(hb_tensor *x, const int64_t *before, const int64_t *after, float value)
{
    hb_attrs at = {.scalar = value};
    int nd = x ? x->shape.ndim : 0;
    at.before.ndim = at.after.ndim = nd;
    for (int i = 0; i < nd; i++) {
        at.before.dim[i] = before ? before[i] : 0;
        at.after.dim[i] = after ? after[i] : 0;
    }
    return apply1(HB_OP_PAD, at, x);
}

hb_tensor *hb_concat(int n, hb_tensor *const *xs, int axis)
{
    return apply(HB_OP_CONCAT, (hb_attrs){.axis = axis}, n, xs);
}

/* ---- convolutions and pools ---------------------------------------------------------------- */

static hb_window conv_window(const hb_conv2d_options *o)
{
    hb_conv2d_options d = o ? *o : (hb_conv2d_options){0};
    hb_window w = {.groups = d.groups ? d.groups : 1};
    for (int i = 0; i < 2; i++) {
        w.stride[i] = d.stride[i] ? d.stride[i] : 1;
        w.pad[i] = d.padding[i];
        w.dilation[i] = d.dilation[i] ? d.dilation[i] : 1;
    }
    return w;
}

static hb_window pool_window(const hb_pool2d_options *o)
{
    hb_pool2d_options d = o ? *o : (hb_pool2d_options){0};
    hb_window w = {.groups = 1};
    for (int i = 0; i < 2; i++) {
        w.kernel[i] = d.kernel[i];
        w.stride[i] = d.stride[i] ? d.stride[i] : d.kernel[i];
        w.pad[i] = d.padding[i];
        w.dilation[i] = 1;
    }
    w.ceil_mode = d.ceil_mode, w.exclude_pad = d.exclude_padding;
    return w;
}

hb_tensor *hb_conv2d(hb_tensor *x, hb_tensor *weight, hb_tensor *bias, const hb_conv2d_options *o)
{
    return apply(HB_OP_CONV2D, (hb_attrs){.win = conv_window(o)}, 3,
                 (hb_tensor *[]){x, weight, bias});
}

hb_tensor *hb_conv2d_nobias(hb_tensor *x, hb_tensor *weight, const hb_conv2d_options *o)
{
    return apply(HB_OP_CONV2D, (hb_attrs){.win = conv_window(o)}, 2, (hb_tensor *[]){x, weight});
}

hb_tensor *hb_max_pool2d(hb_tensor *x, const hb_pool2d_options *o)
{
    return apply1(HB_OP_MAX_POOL2D, (hb_attrs){.win = pool_window(o)}, x);
}

hb_tensor *hb_avg_pool2d(hb_tensor *x, const hb_pool2d_options *o)
{
    return apply1(HB_OP_AVG_POOL2D, (hb_attrs){.win = pool_window(o)}, x);
}

/* The gradients' ops, for the rules (at: the forward op's attributes). */
hb_tensor *hb_conv2d_nobias_with(hb_tensor *x, hb_tensor *w, const hb_attrs *at)
{
    return apply(HB_OP_CONV2D, (hb_attrs){.win = at->win}, 2, (hb_tensor *[]){x, w});
}

hb_tensor *hb_conv2d_grad_x(hb_tensor *g, hb_tensor *w, const hb_attrs *at, const hb_shape *x)
{
    return apply(HB_OP_CONV_TRANSPOSE2D, (hb_attrs){.win = at->win, .shape = *x}, 2,
                 (hb_tensor *[]){g, w});
}

hb_tensor *hb_conv2d_grad_w(hb_tensor *g, hb_tensor *x, const hb_attrs *at, const hb_shape *w)
{
    return apply(HB_OP_CONV2D_GRAD_W, (hb_attrs){.win = at->win, .shape = *w}, 2,
                 (hb_tensor *[]){g, x});
}

hb_tensor *hb_max_pool2d_grad(hb_tensor *g, hb_tensor *x, const hb_attrs *at)
{
    return apply(HB_OP_MAX_POOL2D_GRAD, (hb_attrs){.win = at->win}, 2, (hb_tensor *[]){g, x});
}

hb_tensor *hb_avg_pool2d_grad(hb_tensor *g, const hb_attrs *at, const hb_shape *x)
{
    return apply1(HB_OP_AVG_POOL2D_GRAD, (hb_attrs){.win = at->win, .shape = *x}, g);
}

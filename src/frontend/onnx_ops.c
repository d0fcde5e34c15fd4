/* The ONNX ops hybrid reads, one row each in the table at the end: its opset, inputs, outputs
 * and attributes, the checks made as the file loads, and the builder that runs the node with
 * hybrid's eager ops when the model is called (the reader, onnx_import.c, walks the graph). */
#include "onnx_import.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- running nodes --------------------------------------------------------------------------- */

static hb_status call_fail(onnx_call *c, hb_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static hb_status call_fail(onnx_call *c, hb_status st, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return onnx_node_fail(c->m, c->n->p, st, "%s", what);
}

/* Input i of the running node as a float tensor (NULL: an earlier failure, or not a tensor). */
static hb_tensor *in_t(onnx_call *c, int i)
{
    int s = i < c->n->nin ? c->n->in[i] : -1;
    if (s < 0)
        return call_fail(c, HB_ERR_ARG, "input %d is missing", i), NULL;
    if (c->t[s])
        return c->t[s];
    const onnx_ints *v = onnx_slot_ints(c, s);
    /* integers from shapes and constants, as a tensor: the same on every call. Not kept in
     * c->t: it belongs to this node's frame, which ends before later nodes run. */
    if (v)
        return onnx_ints_tensor(v);
    return NULL; /* its producer failed: its message stands */
}

static bool holds_ints(const onnx_call *c, int i);

/* Inputs first .. first+n-1 as tensors into t: those holding host integers take the dtype of
 * the first that is a tensor when it holds integers of another width (int32 ids against an
 * int64 constant). False if one is missing. */
static bool tensors_alike(onnx_call *c, int first, int n, hb_tensor **t)
{
    const hb_tensor *like = NULL;
    for (int i = 0; i < n; i++)
        if (!like && !holds_ints(c, first + i))
            like = in_t(c, first + i);
    for (int i = 0; i < n; i++) {
        bool host = holds_ints(c, first + i);
        t[i] = in_t(c, first + i);
        if (t[i] && host && like && like->dtype != HB_I64 && like->dtype != HB_F32)
            t[i] = hb_cast(t[i], like->dtype);
        if (!t[i])
            return false;
    }
    return true;
}

/* Input i as integers (a constant or computed from shapes), or NULL with the error set. */
static const onnx_ints *in_ints(onnx_call *c, int i)
{
    int s = i < c->n->nin ? c->n->in[i] : -1;
    const onnx_ints *held = s >= 0 ? onnx_slot_ints(c, s) : NULL;
    if (held)
        return held;
    hb_tensor *t = s >= 0 ? c->t[s] : NULL;
    if (t && hb_dtype_is_int(t->dtype) && t->numel <= 1 << 16) {
        /* a shape or axes the call brings (a graph input): read on the host, which makes a
         * traced block run eagerly, as a value-dependent shape must */
        onnx_ints *r = &c->iv[s];
        const void *raw = hb_tensor_raw(t);
        r->shape = t->shape, r->n = t->numel;
        if (!(r->v = hb_malloc(sizeof(int64_t) * (size_t)r->n + 1)))
            return NULL;
        for (int64_t k = 0; k < r->n; k++)
            r->v[k] = hb_dtype_get_int(t->dtype, raw, k);
        return r;
    }
    call_fail(c, HB_ERR_UNSUPPORTED, "input %d must be integers (a constant, a shape or an "
              "integer input), not a %s tensor", i, t ? hb_dtype_name(t->dtype) : "computed");
    return NULL;
}

static bool has_in(const onnx_call *c, int i) { return i < c->n->nin && c->n->in[i] >= 0; }

/* Whether input i holds integers now (a host array: a constant, or computed from shapes). */
static bool holds_ints(const onnx_call *c, int i)
{
    return has_in(c, i) && onnx_slot_ints(c, c->n->in[i]) != NULL;
}

static bool set_t(onnx_call *c, int i, hb_tensor *t)
{
    if (!t)
        return false;
    c->t[c->n->out[i]] = t;
    return true;
}

static bool set_ints(onnx_call *c, int i, const hb_shape *shape, const int64_t *v)
{
    /* a Loop body's node sets its outputs on every round: the copy frees the last */
    onnx_ints from = {.shape = *shape, .n = hb_shape_numel(shape), .v = (int64_t *)v};
    return onnx_ints_copy(&c->iv[c->n->out[i]], &from);
}

/* A host array for output i of shape s, filled by the caller before it is read: NULL with the
 * error set if it would be too large (host arrays are shapes and indices, not data). */
enum { INTS_MAX = 1 << 16 };

static int64_t *new_ints(onnx_call *c, int i, const hb_shape *s)
{
    int64_t total = hb_shape_numel(s);
    if (total > INTS_MAX)
        return call_fail(c, HB_ERR_UNSUPPORTED, "%lld integers (at most %d on the host)",
                         (long long)total, INTS_MAX), NULL;
    onnx_ints *r = &c->iv[c->n->out[i]];
    hb_free(r->v); /* a Loop body's node sets its outputs on every round */
    *r = (onnx_ints){.shape = *s, .n = total};
    return r->v = hb_malloc(sizeof(int64_t) * (size_t)total + 1);
}

/* An axis of an ndim-dimensional tensor, negative counting from the end; -1 if out of range. */
static int axis_of(onnx_call *c, int64_t axis, int ndim)
{
    if (axis < -ndim || axis >= ndim) {
        call_fail(c, HB_ERR_ARG, "axis %lld is out of range for %d dims", (long long)axis, ndim);
        return -1;
    }
    return (int)(axis < 0 ? axis + ndim : axis);
}

/* An elementwise mapping: the row's eager op on the node's input. */
static bool run_unary(onnx_call *c) { return set_t(c, 0, c->n->op->unary(in_t(c, 0))); }

static hb_tensor *identity(hb_tensor *x) { return x ? hb_tensor_retain(x) : NULL; }

static bool run_identity(onnx_call *c)
{
    if (holds_ints(c, 0)) { /* integers pass through too */
        const onnx_ints *v = in_ints(c, 0);
        return v && set_ints(c, 0, &v->shape, v->v);
    }
    hb_tensor *x = in_t(c, 0);
    return set_t(c, 0, x ? hb_frame_adopt(identity(x)) : NULL);
}

/* The second operand of an elementwise op: before opset 7, with broadcast = 1 and an axis,
 * B lines up with A from that axis on (B [C] against A [N, C, H, W] at axis 1 is B [C, 1, 1]);
 * from opset 7 (and without an axis) NumPy's rules hold. */
static hb_tensor *operand_b(onnx_call *c)
{
    hb_tensor *a = in_t(c, 0), *b = in_t(c, 1);
    const Onnx__AttributeProto *ax = onnx_attr(c->n->p, "axis");
    if (!a || !b || c->m->opset >= 7 || !ax || onnx_attr_int(c->n->p, "broadcast", 0) == 0)
        return b;
    int nd = hb_tensor_ndim(a), nb = hb_tensor_ndim(b), axis = axis_of(c, ax->i, nd);
    if (axis < 0)
        return NULL;
    if (axis + nb > nd)
        return call_fail(c, HB_ERR_SHAPE, "B of %d dims from axis %d of a %d-dim A", nb, axis,
                         nd), NULL;
    int64_t dims[HB_MAX_DIMS];
    for (int i = 0; i < nd - axis; i++)
        dims[i] = i < nb ? hb_tensor_dim(b, i) : 1;
    return hb_reshape(b, nd - axis, dims);
}

/* x^y; x^s when load_pow read a one-element exponent that does not add dims to x. */
static bool run_pow(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (x && c->n->fill_rank >= 0 && c->n->fill_rank <= hb_tensor_ndim(x))
        return set_t(c, 0, hb_pow_scalar(x, c->n->fill));
    return set_t(c, 0, hb_pow(x, in_t(c, 1)));
}

/* An elementwise mapping of two inputs: the row's eager op, B broadcast as the opset says. */
static bool run_ints_elementwise(onnx_call *c);

static bool run_binary(onnx_call *c)
{
    if (c->n->op->int_fn && holds_ints(c, 0) && holds_ints(c, 1))
        return run_ints_elementwise(c);
    if (!c->n->op->binary)
        return call_fail(c, HB_ERR_UNSUPPORTED, "%s of tensors (only of integers known "
                         "when the call runs)", c->n->op->type), false;
    hb_tensor *ab[2];
    if (holds_ints(c, 0) || holds_ints(c, 1)) /* a tensor and integers known now */
        return tensors_alike(c, 0, 2, ab) && set_t(c, 0, c->n->op->binary(ab[0], ab[1]));
    return set_t(c, 0, c->n->op->binary(in_t(c, 0), operand_b(c)));
}

/* fmod 0 of integers known now on the host (shape arithmetic); else the mod op */
static bool run_mod(onnx_call *c)
{
    bool fmod_ = onnx_attr_int(c->n->p, "fmod", 0) != 0;
    if (!fmod_ && holds_ints(c, 0) && holds_ints(c, 1))
        return run_ints_elementwise(c);
    hb_tensor *ab[2];
    return tensors_alike(c, 0, 2, ab) &&
           set_t(c, 0, fmod_ ? hb_fmod(ab[0], ab[1]) : hb_mod(ab[0], ab[1]));
}

/* NumPy's matmul: a 1-D a is a row [1, K] and a 1-D b a column [K, 1], that axis dropped from
 * the result again. */
static bool run_matmul(onnx_call *c)
{
    hb_tensor *a = in_t(c, 0), *b = in_t(c, 1);
    if (!a || !b)
        return false;
    if (a->shape.ndim == 0 || b->shape.ndim == 0)
        return call_fail(c, HB_ERR_SHAPE, "a scalar operand (matmul needs at least 1 dim)"),
               false;
    bool row = a->shape.ndim == 1, col = b->shape.ndim == 1;
    if (row)
        a = hb_reshape(a, 2, (int64_t[]){1, a->shape.dim[0]});
    if (col)
        b = hb_reshape(b, 2, (int64_t[]){b->shape.dim[0], 1});
    hb_tensor *y = hb_matmul(a, b);
    if (y && (row || col)) {
        hb_shape s = y->shape;
        int drop = row ? s.ndim - 2 : s.ndim - 1; /* the row's axis, else the column's */
        if (row && col)
            s.ndim = s.ndim - 2;
        else {
            for (int d = drop; d + 1 < s.ndim; d++)
                s.dim[d] = s.dim[d + 1];
            s.ndim--;
        }
        y = hb_reshape(y, s.ndim, s.dim);
    }
    return set_t(c, 0, y);
}

/* alpha·A'·B' + beta·C, A' = Aᵀ if transA, B' = Bᵀ if transB. The common case, x·Wᵀ + b, is
 * one linear. */
static bool run_gemm(onnx_call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    float alpha = onnx_attr_float(p, "alpha", 1.0f), beta = onnx_attr_float(p, "beta", 1.0f);
    bool ta = onnx_attr_int(p, "transA", 0) != 0, tb = onnx_attr_int(p, "transB", 0) != 0;
    hb_tensor *a = in_t(c, 0), *b = in_t(c, 1), *bias = has_in(c, 2) ? in_t(c, 2) : NULL;
    if (!a || !b || (has_in(c, 2) && !bias))
        return false;
    if (ta)
        a = hb_transpose(a, 0, 1);
    hb_tensor *y;
    if (tb && alpha == 1.0f && beta == 1.0f && bias && hb_tensor_ndim(bias) == 1 &&
        hb_tensor_dim(bias, 0) == hb_tensor_dim(b, 0))
        y = hb_linear(a, b, bias);
    else {
        y = tb ? hb_linear_nobias(a, b) : hb_matmul(a, b);
        if (alpha != 1.0f)
            y = hb_mul_scalar(y, alpha);
        if (bias)
            y = hb_add(y, beta == 1.0f ? bias : hb_mul_scalar(bias, beta));
    }
    return set_t(c, 0, y);
}

/* kernel_shape, strides, dilations of a 2-D window, or of a 1-D one (dims 1) as a 2-D window
 * one row high (padding: see padding()); false (error set) if unsupported. */
static bool window(onnx_call *c, int dims, int *k, int *stride, int *dil)
{
    const Onnx__NodeProto *p = c->n->p;
    size_t nk, ns, np, nd;
    const int64_t *ks = onnx_attr_ints(p, "kernel_shape", &nk);
    const int64_t *ss = onnx_attr_ints(p, "strides", &ns);
    const int64_t *ps = onnx_attr_ints(p, "pads", &np), *ds = onnx_attr_ints(p, "dilations", &nd);
    if (dims != 1 && dims != 2)
        return call_fail(c, HB_ERR_UNSUPPORTED, "a %d-D window (only 1-D and 2-D)", dims), false;
    if ((ks && nk != (size_t)dims) || (ss && ns != (size_t)dims) ||
        (ps && np != 2 * (size_t)dims) || (ds && nd != (size_t)dims))
        return call_fail(c, HB_ERR_FORMAT, "kernel_shape, strides, pads or dilations of the "
                         "wrong length for a %d-D window", dims), false;
    for (int i = 0; i < 2; i++) {
        int j = i - (2 - dims); /* the attribute's index; a 1-D window's row: none */
        bool has = j >= 0;
        k[i] = !has ? 1 : ks && nk == (size_t)dims ? (int)ks[j] : 0;
        stride[i] = has && ss && ns == (size_t)dims ? (int)ss[j] : 1;
        dil[i] = has && ds && nd == (size_t)dims ? (int)ds[j] : 1;
    }
    return true;
}

/* The padding at the start (pb) and end (pe) of each axis of image x [N, C, H, W] for window
 * k, stride, dil: the pads attribute, or what auto_pad SAME_UPPER / SAME_LOWER asks for (an
 * output of ceil(in / stride), the odd one at the end or at the start); VALID and NOTSET
 * without pads: none. */
static void padding(onnx_call *c, int dims, const hb_tensor *x, const int *k, const int *stride,
                    const int *dil, int *pb, int *pe)
{
    const Onnx__NodeProto *p = c->n->p;
    size_t np;
    const int64_t *ps = onnx_attr_ints(p, "pads", &np);
    bool upper = onnx_attr_string_is(p, "auto_pad", "SAME_UPPER");
    bool same = upper || onnx_attr_string_is(p, "auto_pad", "SAME_LOWER");
    for (int i = 0; i < 2; i++) {
        int j = i - (2 - dims);
        pb[i] = pe[i] = 0;
        if (j < 0)
            continue;
        if (same) {
            int64_t in = hb_tensor_dim(x, 2 + i), out = (in + stride[i] - 1) / stride[i];
            int64_t total = (out - 1) * stride[i] + (int64_t)(k[i] - 1) * dil[i] + 1 - in;
            total = total > 0 ? total : 0;
            pb[i] = (int)(upper ? total / 2 : total - total / 2);
            pe[i] = (int)(total - pb[i]);
        } else if (ps && np == 2 * (size_t)dims) {
            pb[i] = (int)ps[j], pe[i] = (int)ps[j + dims];
        }
    }
}

/* x ready for a window with padding pb, pe: symmetric padding stays the window's (*pad) where
 * the op takes it (a pool's, up to half the kernel k; k NULL: any); otherwise x is padded here
 * with fill and the window gets none. */
static hb_tensor *padded(hb_tensor *x, const int *pb, const int *pe, const int *k, float fill,
                         int *pad)
{
    if (pb[0] == pe[0] && pb[1] == pe[1] && (!k || (2 * pb[0] <= k[0] && 2 * pb[1] <= k[1]))) {
        pad[0] = pb[0], pad[1] = pb[1];
        return x;
    }
    pad[0] = pad[1] = 0;
    return hb_pad(x, (int64_t[]){0, 0, pb[0], pb[1]}, (int64_t[]){0, 0, pe[0], pe[1]}, fill);
}

/* A 1-D input [N, C, L] as [N, C, 1, L] (dims 1), or the 2-D one as it is; NULL if neither. */
static hb_tensor *as_image(onnx_call *c, hb_tensor *x, int dims)
{
    if (!x)
        return NULL;
    if (hb_tensor_ndim(x) != dims + 2)
        return call_fail(c, HB_ERR_SHAPE, "a %d-D window over an input of %d dims", dims,
                         hb_tensor_ndim(x)), NULL;
    return dims == 2 ? x : hb_reshape(x, HB_SHAPE(hb_tensor_dim(x, 0), hb_tensor_dim(x, 1), 1,
                                                  hb_tensor_dim(x, 2)));
}

/* The window's dimensionality: from kernel_shape, or the weight's rank. */
static int window_dims(onnx_call *c, hb_tensor *w)
{
    size_t nk;
    onnx_attr_ints(c->n->p, "kernel_shape", &nk);
    return nk ? (int)nk : w ? hb_tensor_ndim(w) - 2 : 2;
}

/* A result of a 1-D window back to [N, C, L]. */
static hb_tensor *from_image(hb_tensor *y, int dims)
{
    return !y || dims == 2 ? y : hb_reshape(y, HB_SHAPE(hb_tensor_dim(y, 0), hb_tensor_dim(y, 1),
                                                        hb_tensor_dim(y, 3)));
}

/* A convolution's (or transposed one's) input, weight and optional bias, input and weight as
 * images (*dims: 1 or 2), and its window with the weight's kernel size; false with the error
 * set if they do not fit. */
static bool conv_operands(onnx_call *c, hb_tensor **x, hb_tensor **w, hb_tensor **b, int *dims,
                          int *k, int *stride, int *dil)
{
    *x = in_t(c, 0), *w = in_t(c, 1), *b = has_in(c, 2) ? in_t(c, 2) : NULL;
    *dims = window_dims(c, *w);
    if (!*x || !*w || (has_in(c, 2) && !*b) || !window(c, *dims, k, stride, dil) ||
        !(*x = as_image(c, *x, *dims)) || !(*w = as_image(c, *w, *dims)))
        return false;
    if (k[1] && (k[0] != hb_tensor_dim(*w, 2) || k[1] != hb_tensor_dim(*w, 3)))
        return call_fail(c, HB_ERR_SHAPE, "kernel_shape [%d, %d] but the weight is %lld×%lld",
                         k[0], k[1], (long long)hb_tensor_dim(*w, 2),
                         (long long)hb_tensor_dim(*w, 3)), false;
    k[0] = (int)hb_tensor_dim(*w, 2), k[1] = (int)hb_tensor_dim(*w, 3);
    return true;
}

static bool run_conv(onnx_call *c)
{
    int k[2], stride[2], pad[2], dil[2], pb[2], pe[2], dims;
    hb_tensor *x, *w, *b;
    if (!conv_operands(c, &x, &w, &b, &dims, k, stride, dil))
        return false;
    padding(c, dims, x, k, stride, dil, pb, pe);
    if (!(x = padded(x, pb, pe, NULL, 0.0f, pad)))
        return false;
    hb_conv2d_options o = {{stride[0], stride[1]}, {pad[0], pad[1]}, {dil[0], dil[1]},
                           (int)onnx_attr_int(c->n->p, "group", 1)};
    return set_t(c, 0, from_image(b ? hb_conv2d(x, w, b, &o) : hb_conv2d_nobias(x, w, &o), dims));
}

/* The full transposed convolution (no padding), then cut to what pads, output_shape or
 * auto_pad ask for (a negative cut adds zeros), then the bias: ONNX's ConvTranspose. */
static bool run_conv_transpose(onnx_call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    int k[2], stride[2], dil[2], dims;
    hb_tensor *x, *w, *b;
    if (!conv_operands(c, &x, &w, &b, &dims, k, stride, dil))
        return false;
    size_t nop, nos, np;
    const int64_t *op = onnx_attr_ints(p, "output_padding", &nop);
    const int64_t *os = onnx_attr_ints(p, "output_shape", &nos);
    const int64_t *ps = onnx_attr_ints(p, "pads", &np);
    if ((op && nop != (size_t)dims) || (os && nos != (size_t)dims) ||
        (ps && np != 2 * (size_t)dims))
        return call_fail(c, HB_ERR_FORMAT, "output_padding, output_shape or pads of the wrong "
                         "length for a %d-D window", dims), false;
    bool upper = onnx_attr_string_is(p, "auto_pad", "SAME_UPPER");
    bool same = upper || onnx_attr_string_is(p, "auto_pad", "SAME_LOWER");
    hb_conv_transpose2d_options o = {{stride[0], stride[1]}, {0, 0}, {0, 0}, {dil[0], dil[1]},
                                     (int)onnx_attr_int(p, "group", 1)};
    int64_t cut_b[4] = {0}, cut_e[4] = {0};
    for (int i = 0; i < 2; i++) {
        int j = i - (2 - dims);
        if (j < 0)
            continue;
        o.output_padding[i] = op ? (int)op[j] : 0;
        int64_t in = hb_tensor_dim(x, 2 + i), kk = hb_tensor_dim(w, 2 + i), grown, span;
        if (!hb_mul_ok(in - 1, stride[i], &grown) || !hb_mul_ok(kk - 1, dil[i], &span) ||
            grown > ((int64_t)1 << 56) || span > ((int64_t)1 << 56))
            return call_fail(c, HB_ERR_SHAPE, "strides and dilations make an output too "
                             "large"), false;
        int64_t full = grown + span + 1 + o.output_padding[i];
        if (os || same) { /* the total cut splits as auto_pad says (SAME_LOWER otherwise) */
            int64_t total = full - (os ? os[j] : in * stride[i]);
            int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2); /* rounded down */
            cut_b[2 + i] = upper ? half : total - half;
            cut_e[2 + i] = total - cut_b[2 + i];
        } else if (ps) {
            cut_b[2 + i] = ps[j], cut_e[2 + i] = ps[j + dims];
        }
    }
    /* even cuts are the op's own padding; the rest is a pad (or crop) of its own */
    bool even = cut_b[2] == cut_e[2] && cut_b[3] == cut_e[3] && cut_b[2] >= 0 &&
                cut_b[3] >= 0 && cut_b[2] <= INT_MAX && cut_b[3] <= INT_MAX;
    for (int i = 0; even && i < 2; i++)
        o.padding[i] = (int)cut_b[2 + i], cut_b[2 + i] = cut_e[2 + i] = 0;
    hb_tensor *y = hb_conv_transpose2d(x, w, NULL, &o);
    if (!even) {
        int64_t nb[4], ne[4];
        for (int i = 0; i < 4; i++)
            nb[i] = -cut_b[i], ne[i] = -cut_e[i];
        y = hb_pad(y, nb, ne, 0.0f);
    }
    if (b && y) {
        if (hb_tensor_ndim(b) != 1 || hb_tensor_dim(b, 0) != hb_tensor_dim(y, 1))
            return call_fail(c, HB_ERR_SHAPE, "bias of %lld values for %lld output channels",
                             (long long)hb_tensor_numel(b), (long long)hb_tensor_dim(y, 1)),
                   false;
        y = hb_add(y, hb_reshape(b, HB_SHAPE(-1, 1, 1)));
    }
    return set_t(c, 0, from_image(y, dims));
}

static bool run_pool(onnx_call *c, bool max)
{
    int k[2], stride[2], pad[2], dil[2], pb[2], pe[2];
    int dims = window_dims(c, NULL);
    hb_tensor *x = in_t(c, 0);
    if (!x || !window(c, dims, k, stride, dil) || !(x = as_image(c, x, dims)))
        return false;
    padding(c, dims, x, k, stride, dil, pb, pe);
    bool ceil = onnx_attr_int(c->n->p, "ceil_mode", 0) != 0;
    bool exclude = !max && onnx_attr_int(c->n->p, "count_include_pad", 0) == 0;
    /* padding the window cannot take: uneven, or more than half the kernel */
    bool uneven = pb[0] != pe[0] || pb[1] != pe[1] || 2 * pb[0] > k[0] || 2 * pb[1] > k[1];
    if (uneven && ceil) /* where a ceil-mode window may start depends on the padding */
        return call_fail(c, HB_ERR_UNSUPPORTED, "ceil_mode 1 with padding [%d, %d] at the "
                         "start and [%d, %d] at the end (only even padding, at most half the "
                         "kernel)", pb[0], pb[1], pe[0], pe[1]), false;
    hb_tensor *xp = padded(x, pb, pe, k, max ? -INFINITY : 0.0f, pad);
    /* ceil mode as PyTorch's: no window starts in the right padding; ONNX's average pool
     * leaves the padding out unless count_include_pad */
    hb_pool2d_options o = {{k[0], k[1]}, {stride[0], stride[1]}, {pad[0], pad[1]}, ceil,
                           exclude && !uneven};
    if (max)
        return set_t(c, 0, from_image(hb_max_pool2d(xp, &o), dims));
    hb_tensor *y = hb_avg_pool2d(xp, &o);
    if (exclude && uneven) { /* padded here, so counted: divide by each window's share of x */
        hb_tensor *ones = hb_full(hb_tensor_ndim(x), hb_tensor_shape(x), 1.0f);
        y = hb_div(y, hb_avg_pool2d(padded(ones, pb, pe, k, 0.0f, pad), &o));
    }
    return set_t(c, 0, from_image(y, dims));
}

/* Consecutive parts along axis: the split attribute (before opset 13) or input (after), or
 * as many equal parts as outputs (from opset 18 the last may be smaller). */
static bool run_split(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x), nout = c->n->nout;
    int64_t axis = onnx_attr_int(c->n->p, "axis", 0);
    if (axis < -nd || axis >= nd)
        return call_fail(c, HB_ERR_ARG, "axis %lld of an input of %d", (long long)axis, nd),
               false;
    axis = axis < 0 ? axis + nd : axis;
    int64_t dim = hb_tensor_dim(x, (int)axis), sizes[ONNX_MAX_OUTPUTS];
    size_t ns = 0;
    const int64_t *given = NULL;
    if (c->m->opset < 13) {
        given = onnx_attr_ints(c->n->p, "split", &ns);
    } else if (has_in(c, 1)) {
        const onnx_ints *v = in_ints(c, 1);
        if (!v)
            return false;
        given = v->v, ns = (size_t)v->n;
    }
    if (given && ns != (size_t)nout)
        return call_fail(c, HB_ERR_SHAPE, "%zu sizes for %d outputs", ns, nout), false;
    int64_t chunk = (dim + nout - 1) / nout, total = 0;
    if (!given && c->m->opset < 18 && dim % nout)
        return call_fail(c, HB_ERR_SHAPE, "%lld along axis %lld does not split into %d equal "
                         "parts", (long long)dim, (long long)axis, nout), false;
    for (int i = 0; i < nout; i++) {
        sizes[i] = given ? given[i] : i < nout - 1 ? chunk : dim - chunk * (nout - 1);
        if (sizes[i] < 0 || sizes[i] > dim - total)
            return call_fail(c, HB_ERR_SHAPE, "parts of the sizes asked for do not fit %lld "
                             "along axis %lld", (long long)dim, (long long)axis), false;
        total += sizes[i];
    }
    if (total != dim)
        return call_fail(c, HB_ERR_SHAPE, "parts of %lld in all for %lld along axis %lld",
                         (long long)total, (long long)dim, (long long)axis), false;
    for (int i = 0, start = 0; i < nout; start += (int)sizes[i], i++)
        if (c->n->out[i] >= 0 && !set_t(c, i, hb_slice(x, (int)axis, start, sizes[i])))
            return false;
    return true;
}

/* Constant mode: pads (an attribute before opset 11, integers after) along every axis, or along
 * the axes input (opset 18); the fill was read at load. */
static bool run_pad(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    const int64_t *pads;
    int64_t np;
    if (c->m->opset < 11) {
        size_t n;
        pads = onnx_attr_ints(c->n->p, "pads", &n);
        np = (int64_t)n;
    } else {
        const onnx_ints *v = in_ints(c, 1);
        if (!v)
            return false;
        pads = v->v, np = v->n;
    }
    int64_t axes[HB_MAX_DIMS], naxes = nd;
    for (int i = 0; i < nd; i++)
        axes[i] = i;
    if (has_in(c, 3)) {
        const onnx_ints *a = in_ints(c, 3);
        if (!a)
            return false;
        if (a->n > nd)
            return call_fail(c, HB_ERR_SHAPE, "%lld axes for an input of %d", (long long)a->n,
                             nd), false;
        naxes = a->n;
        for (int64_t i = 0; i < naxes; i++) {
            axes[i] = a->v[i] < 0 ? a->v[i] + nd : a->v[i];
            if (axes[i] < 0 || axes[i] >= nd)
                return call_fail(c, HB_ERR_ARG, "axis %lld of an input of %d",
                                 (long long)a->v[i], nd), false;
        }
    }
    if (!pads || np != 2 * naxes)
        return call_fail(c, HB_ERR_SHAPE, "%lld pads for %lld axes (two per axis)",
                         (long long)np, (long long)naxes), false;
    int64_t before[HB_MAX_DIMS] = {0}, after[HB_MAX_DIMS] = {0};
    for (int64_t i = 0; i < naxes; i++)
        before[axes[i]] = pads[i], after[axes[i]] = pads[i + naxes];
    return set_t(c, 0, hb_pad(x, before, after, c->n->fill));
}

static bool run_max_pool(onnx_call *c) { return run_pool(c, true); }
static bool run_avg_pool(onnx_call *c) { return run_pool(c, false); }

static bool run_global_avg_pool(onnx_call *c)
{
    return set_t(c, 0, hb_global_avg_pool2d(in_t(c, 0)));
}

/* The maximum over every axis after [N, C] (any number of them), kept as axes of 1. */
static bool run_global_max_pool(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    if (nd < 3)
        return call_fail(c, HB_ERR_SHAPE, "an input of %d dims (needs [N, C, ...])", nd), false;
    int64_t n = hb_tensor_dim(x, 0), ch = hb_tensor_dim(x, 1), dims[HB_MAX_DIMS] = {n, ch};
    for (int i = 2; i < nd; i++)
        dims[i] = 1;
    hb_tensor *m = hb_max_axis(hb_reshape(x, HB_SHAPE(n, ch, -1)), 2, false);
    return set_t(c, 0, hb_reshape(m, nd, dims));
}

static bool run_batch_norm(onnx_call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    /* inference: the running statistics are read, never moved (momentum plays no part) */
    return set_t(c, 0, hb_batch_norm(in_t(c, 0), in_t(c, 3), in_t(c, 4), in_t(c, 1), in_t(c, 2),
                                     false, 0.1f, onnx_attr_float(p, "epsilon", 1e-5f)));
}

/* x seen as 2-D: the axes before a, and those from a on (ONNX's Flatten, and the view older
 * opsets' Softmax and Hardmax work over). */
static hb_tensor *as_2d(hb_tensor *x, int a)
{
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < x->shape.ndim; i++)
        *(i < a ? &outer : &inner) *= x->shape.dim[i];
    return hb_reshape(x, HB_SHAPE(outer, inner));
}

/* [d0 · … · d(axis−1), d(axis) · … ] */
static bool run_flatten(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    int64_t axis = onnx_attr_int(c->n->p, "axis", 1);
    int a = axis == nd ? nd : axis_of(c, axis, nd);
    if (a < 0)
        return false;
    return set_t(c, 0, as_2d(x, a));
}

/* Softmax and LogSoftmax: from opset 13 over one axis (default −1); before, over everything
 * from axis on (default 1), the input seen as 2-D. */
static bool run_softmax_like(onnx_call *c, bool log)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    if (c->m->opset >= 13) {
        int a = axis_of(c, onnx_attr_int(c->n->p, "axis", -1), nd);
        return a >= 0 && set_t(c, 0, log ? hb_log_softmax(x, a) : hb_softmax(x, a));
    }
    int a = axis_of(c, onnx_attr_int(c->n->p, "axis", 1), nd);
    if (a < 0)
        return false;
    hb_tensor *flat = as_2d(x, a);
    hb_tensor *y = log ? hb_log_softmax(flat, 1) : hb_softmax(flat, 1);
    return set_t(c, 0, hb_reshape(y, nd, hb_tensor_shape(x)));
}

static bool run_softmax(onnx_call *c) { return run_softmax_like(c, false); }
static bool run_log_softmax(onnx_call *c) { return run_softmax_like(c, true); }

static bool run_concat(onnx_call *c)
{
    int n = c->n->nin;
    int64_t axis = onnx_attr_int(c->n->p, "axis", 0);
    bool integers = true;
    for (int i = 0; i < n && integers; i++)
        integers = holds_ints(c, i);
    if (integers) { /* shapes put together: 1-D arrays */
        int64_t total = 0, buf[64];
        for (int i = 0; i < n; i++) {
            const onnx_ints *v = in_ints(c, i);
            if (!v || v->shape.ndim != 1 || total + v->n > 64)
                return call_fail(c, HB_ERR_UNSUPPORTED, "integer inputs must be 1-D and short"),
                       false;
            memcpy(buf + total, v->v, sizeof(int64_t) * (size_t)v->n);
            total += v->n;
        }
        return set_ints(c, 0, &(hb_shape){.ndim = 1, .dim = {total}}, buf);
    }
    hb_tensor *xs[64];
    if (n > 64)
        return call_fail(c, HB_ERR_UNSUPPORTED, "%d inputs (at most 64)", n), false;
    for (int i = 0; i < n; i++)
        if (!(xs[i] = in_t(c, i)))
            return false;
    return set_t(c, 0, hb_concat(n, xs, (int)axis));
}

/* Reshape to a shape known when the call runs; 0 copies the input's dim (allowzero = 0). */
static bool run_reshape(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    const onnx_ints *s = x ? in_ints(c, 1) : NULL;
    if (!s)
        return false;
    if (s->n > HB_MAX_DIMS)
        return call_fail(c, HB_ERR_SHAPE, "a shape of %lld dims", (long long)s->n), false;
    int64_t dims[HB_MAX_DIMS];
    for (int64_t i = 0; i < s->n; i++)
        dims[i] = s->v[i] == 0 && i < hb_tensor_ndim(x) ? hb_tensor_dim(x, (int)i) : s->v[i];
    return set_t(c, 0, hb_reshape(x, (int)s->n, dims));
}

/* A permutation as a sequence of swaps of two axes. */
/* x with its axes permuted (output axis i shows input axis want[i]), as swaps of two axes;
 * NULL with the error set if want repeats an axis. */
static hb_tensor *permute(onnx_call *c, hb_tensor *x, const int *want, int nd)
{
    int at[HB_MAX_DIMS]; /* at[i]: the input axis now at position i */
    for (int i = 0; i < nd; i++)
        at[i] = i;
    for (int i = 0; i < nd && x; i++) {
        int j = i;
        while (j < nd && at[j] != want[i])
            j++;
        if (j == nd)
            return call_fail(c, HB_ERR_ARG, "perm repeats axis %d", want[i]), NULL;
        if (j != i) {
            x = hb_transpose(x, i, j);
            int t = at[i];
            at[i] = at[j], at[j] = t;
        }
    }
    return x;
}

static bool run_transpose(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    size_t np;
    const int64_t *perm = onnx_attr_ints(c->n->p, "perm", &np);
    int want[HB_MAX_DIMS]; /* want[i]: the input axis output axis i shows */
    if (perm && np != (size_t)nd)
        return call_fail(c, HB_ERR_SHAPE, "perm has %zu axes, the input %d", np, nd), false;
    for (int i = 0; i < nd; i++) {
        if (perm && (perm[i] < 0 || perm[i] >= nd))
            return call_fail(c, HB_ERR_ARG, "perm names axis %lld of %d", (long long)perm[i],
                             nd), false;
        want[i] = perm ? (int)perm[i] : nd - 1 - i;
    }
    hb_tensor *y = permute(c, x, want, nd);
    return set_t(c, 0, y == x ? hb_frame_adopt(identity(x)) : y);
}

/* Unsqueeze and Squeeze: a reshape (axes from the attribute, or from opset 13 the input). */
static bool run_squeeze_like(onnx_call *c, bool unsqueeze)
{
    bool integers = holds_ints(c, 0);
    const onnx_ints *iv = integers ? in_ints(c, 0) : NULL;
    hb_tensor *x = integers ? NULL : in_t(c, 0);
    if (!x && !iv)
        return false;
    hb_shape shape = x ? (hb_shape){.ndim = hb_tensor_ndim(x)} : iv->shape;
    for (int i = 0; x && i < shape.ndim; i++)
        shape.dim[i] = hb_tensor_dim(x, i);
    size_t na = 0;
    const int64_t *axes = onnx_attr_ints(c->n->p, "axes", &na);
    if (c->m->opset >= 13 && has_in(c, 1)) {
        const onnx_ints *a = in_ints(c, 1);
        if (!a)
            return false;
        axes = a->v, na = (size_t)a->n;
    }
    int nd = unsqueeze ? shape.ndim + (int)na : shape.ndim;
    bool mark[HB_MAX_DIMS] = {false};
    if (nd > HB_MAX_DIMS)
        return call_fail(c, HB_ERR_SHAPE, "more than %d dims", HB_MAX_DIMS), false;
    for (size_t i = 0; i < na; i++) {
        int a = axis_of(c, axes[i], nd);
        if (a < 0)
            return false;
        if (mark[a])
            return call_fail(c, HB_ERR_ARG, "axis %lld given twice", (long long)axes[i]), false;
        mark[a] = true;
    }
    hb_shape out = {.ndim = 0};
    for (int i = 0, j = 0; i < (unsqueeze ? nd : shape.ndim); i++) {
        if (unsqueeze) {
            out.dim[out.ndim++] = mark[i] ? 1 : shape.dim[j++];
        } else if (!(na ? mark[i] : shape.dim[i] == 1)) {
            out.dim[out.ndim++] = shape.dim[i];
        } else if (shape.dim[i] != 1) {
            return call_fail(c, HB_ERR_SHAPE, "axis %d has size %lld, not 1", i,
                             (long long)shape.dim[i]), false;
        }
    }
    if (iv)
        return set_ints(c, 0, &out, iv->v);
    return set_t(c, 0, hb_reshape(x, out.ndim, out.dim));
}

static bool run_unsqueeze(onnx_call *c) { return run_squeeze_like(c, true); }
static bool run_squeeze(onnx_call *c) { return run_squeeze_like(c, false); }

/* Reductions over the axes given (all by default), one axis at a time from the last. */
static hb_tensor *reduce(onnx_call *c, hb_tensor *x, hb_tensor *(*one)(hb_tensor *, int, bool),
                         hb_tensor *(*all)(hb_tensor *))
{
    if (!x)
        return NULL;
    bool keep = onnx_attr_int(c->n->p, "keepdims", 1) != 0;
    size_t na = 0;
    const int64_t *axes = onnx_attr_ints(c->n->p, "axes", &na);
    if (has_in(c, 1)) { /* ReduceSum from opset 13: the axes are an input */
        const onnx_ints *a = in_ints(c, 1);
        if (!a)
            return NULL;
        axes = a->v, na = (size_t)a->n;
    }
    int nd = hb_tensor_ndim(x);
    bool mark[HB_MAX_DIMS] = {false};
    for (size_t i = 0; i < na; i++) {
        int a = axis_of(c, axes[i], nd);
        if (a < 0)
            return NULL;
        mark[a] = true;
    }
    if (na == 0 && !keep)
        return all(x);
    for (int i = nd - 1; i >= 0; i--) /* the mean of equal groups' means is the mean */
        if (na == 0 || mark[i])
            x = one(x, i, keep);
    return x;
}

static hb_tensor *squared(hb_tensor *x) { return hb_mul(x, x); }

static bool run_reduce_sum(onnx_call *c)
{
    return set_t(c, 0, reduce(c, in_t(c, 0), hb_sum_axis, hb_sum));
}
static bool run_reduce_mean(onnx_call *c)
{
    return set_t(c, 0, reduce(c, in_t(c, 0), hb_mean_axis, hb_mean));
}
static bool run_reduce_max(onnx_call *c)
{
    return set_t(c, 0, reduce(c, in_t(c, 0), hb_max_axis, hb_max));
}
/* −max(−x): negation is exact, so this is the minimum bit for bit */
static bool run_reduce_min(onnx_call *c)
{
    return set_t(c, 0, hb_neg(reduce(c, hb_neg(in_t(c, 0)), hb_max_axis, hb_max)));
}
static bool run_reduce_sum_square(onnx_call *c)
{
    return set_t(c, 0, reduce(c, squared(in_t(c, 0)), hb_sum_axis, hb_sum));
}
static bool run_reduce_l1(onnx_call *c)
{
    return set_t(c, 0, reduce(c, hb_abs(in_t(c, 0)), hb_sum_axis, hb_sum));
}
static bool run_reduce_l2(onnx_call *c)
{
    return set_t(c, 0, hb_sqrt(reduce(c, squared(in_t(c, 0)), hb_sum_axis, hb_sum)));
}
static bool run_reduce_log_sum(onnx_call *c)
{
    return set_t(c, 0, hb_log(reduce(c, in_t(c, 0), hb_sum_axis, hb_sum)));
}
static bool run_reduce_log_sum_exp(onnx_call *c)
{
    return set_t(c, 0, hb_log(reduce(c, hb_exp(in_t(c, 0)), hb_sum_axis, hb_sum)));
}

/* ---- activations written with relu: exact where they are piecewise linear ------------------- */

/* relu(x) − a·relu(−x): x where x > 0, a·x elsewhere (LeakyRelu's alpha, PRelu's slope). */
static hb_tensor *leaky(hb_tensor *x, hb_tensor *slope, float alpha)
{
    hb_tensor *neg = hb_relu(hb_neg(x));
    return hb_sub(hb_relu(x), slope ? hb_mul(neg, slope) : hb_mul_scalar(neg, alpha));
}

static bool run_leaky_relu(onnx_call *c)
{
    return set_t(c, 0, leaky(in_t(c, 0), NULL, onnx_attr_float(c->n->p, "alpha", 0.01f)));
}

/* Before opset 7 a slope of one value per channel ([C]) goes along axis 1, as Caffe2's did. */
static bool run_prelu(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0), *slope = in_t(c, 1);
    if (x && slope && c->m->opset < 7 && hb_tensor_ndim(slope) == 1 && hb_tensor_ndim(x) > 2 &&
        hb_tensor_dim(slope, 0) == hb_tensor_dim(x, 1) && hb_tensor_dim(slope, 0) != 1) {
        int64_t dims[HB_MAX_DIMS] = {hb_tensor_dim(slope, 0)};
        for (int d = 1; d < hb_tensor_ndim(x) - 1; d++)
            dims[d] = 1;
        slope = hb_reshape(slope, hb_tensor_ndim(x) - 1, dims);
    }
    return set_t(c, 0, leaky(x, slope, 0));
}

/* gamma · (x where x > 0, alpha·(exp(x) − 1) elsewhere): Elu with gamma 1, and Selu. */
static hb_tensor *elu(hb_tensor *x, float alpha, float gamma)
{
    hb_tensor *below = hb_neg(hb_relu(hb_neg(x))); /* min(x, 0) */
    hb_tensor *y = hb_add(hb_relu(x), hb_mul_scalar(hb_sub_scalar(hb_exp(below), 1.0f), alpha));
    return gamma == 1.0f ? y : hb_mul_scalar(y, gamma);
}

static bool run_elu(onnx_call *c)
{
    return set_t(c, 0, elu(in_t(c, 0), onnx_attr_float(c->n->p, "alpha", 1.0f), 1.0f));
}

static bool run_selu(onnx_call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    return set_t(c, 0, elu(in_t(c, 0), onnx_attr_float(p, "alpha", 1.67326319217681884765625f),
                           onnx_attr_float(p, "gamma", 1.05070102214813232421875f)));
}

static hb_tensor *reciprocal(hb_tensor *x) { return hb_rdiv_scalar(x, 1.0f); }

/* Sum and Mean of any number of inputs (broadcast). */
static bool run_variadic(onnx_call *c, bool mean)
{
    hb_tensor *y = in_t(c, 0);
    for (int i = 1; y && i < c->n->nin; i++)
        y = hb_add(y, in_t(c, i));
    if (y && mean && c->n->nin > 1)
        y = hb_div_scalar(y, (float)c->n->nin);
    return set_t(c, 0, y == in_t(c, 0) ? hb_frame_adopt(identity(y)) : y);
}

static bool run_sum(onnx_call *c) { return run_variadic(c, false); }
static bool run_mean(onnx_call *c) { return run_variadic(c, true); }

/* Max and Min of any number of inputs: the row's binary op folded over them. */
static bool run_fold(onnx_call *c)
{
    hb_tensor *y = in_t(c, 0);
    for (int i = 1; y && i < c->n->nin; i++)
        y = c->n->op->binary(y, in_t(c, i));
    return set_t(c, 0, y == in_t(c, 0) ? hb_frame_adopt(identity(y)) : y);
}


/* x limited to [lo, hi]: the bounds are attributes before opset 11, optional inputs after. */
static bool run_clip(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    const Onnx__NodeProto *p = c->n->p;
    for (int side = 0; side < 2; side++) {
        hb_tensor *bound = NULL;
        if (c->m->opset >= 11 && has_in(c, 1 + side)) {
            if (!(bound = in_t(c, 1 + side)))
                return false;
        } else if (c->m->opset < 11 && onnx_attr(p, side ? "max" : "min")) {
            bound = hb_full(HB_SCALAR_SHAPE, onnx_attr_float(p, side ? "max" : "min", 0.0f));
        }
        if (bound)
            x = side ? hb_minimum(x, bound) : hb_maximum(x, bound);
    }
    return set_t(c, 0, x == in_t(c, 0) ? hb_frame_adopt(identity(x)) : x);
}

/* max(0, min(1, alpha·x + beta)) */
static hb_tensor *hard_sigmoid(hb_tensor *x, float alpha, float beta)
{
    hb_tensor *y = hb_add_scalar(hb_mul_scalar(x, alpha), beta);
    y = hb_minimum(y, hb_full(HB_SCALAR_SHAPE, 1.0f));
    return hb_maximum(y, hb_full(HB_SCALAR_SHAPE, 0.0f));
}

static bool run_hard_sigmoid(onnx_call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    return set_t(c, 0, hard_sigmoid(in_t(c, 0), onnx_attr_float(p, "alpha", 0.2f),
                                    onnx_attr_float(p, "beta", 0.5f)));
}

/* x · hard_sigmoid(x) with alpha 1/6, beta 1/2 (MobileNetV3's h-swish) */
static bool run_hard_swish(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    return set_t(c, 0, hb_mul(x, hard_sigmoid(x, 1.0f / 6.0f, 0.5f)));
}

/* x where x > alpha, else 0: a where, exact for every x */
static bool run_thresholded_relu(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    hb_tensor *alpha = hb_scalar(onnx_attr_float(c->n->p, "alpha", 1.0f));
    return set_t(c, 0, hb_where(hb_greater(x, alpha), x, hb_scalar(0.0f)));
}

/* x + bias where x < −lambd, x − bias where x > lambd, 0 between */
static bool run_shrink(onnx_call *c)
{
    float bias = onnx_attr_float(c->n->p, "bias", 0.0f);
    float lambd = onnx_attr_float(c->n->p, "lambd", 0.5f);
    hb_tensor *x = in_t(c, 0);
    hb_tensor *mid = hb_where(hb_greater(x, hb_scalar(lambd)), hb_sub_scalar(x, bias),
                              hb_scalar(0.0f));
    return set_t(c, 0, hb_where(hb_less(x, hb_scalar(-lambd)), hb_add_scalar(x, bias), mid));
}

/* x / (1 + |x|) */
static hb_tensor *softsign(hb_tensor *x) { return hb_div(x, hb_add_scalar(hb_abs(x), 1.0f)); }

/* log(1 + exp(x)) as relu(x) + log(1 + exp(−|x|)): no exp overflows */
static hb_tensor *softplus(hb_tensor *x)
{
    return hb_add(hb_relu(x), hb_log(hb_add_scalar(hb_exp(hb_neg(hb_abs(x))), 1.0f)));
}

/* max(0, x) + min(0, alpha·(exp(x / alpha) − 1)), written as
 * relu(x) + alpha·(exp(min(x, 0) / alpha) − 1) */
static bool run_celu(onnx_call *c)
{
    float alpha = onnx_attr_float(c->n->p, "alpha", 1.0f);
    hb_tensor *x = in_t(c, 0);
    hb_tensor *below = hb_neg(hb_relu(hb_neg(x))); /* min(x, 0) */
    hb_tensor *e = hb_sub_scalar(hb_exp(hb_div_scalar(below, alpha)), 1.0f);
    return set_t(c, 0, hb_add(hb_relu(x), hb_mul_scalar(e, alpha)));
}

static hb_status check_celu(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (onnx_attr_float(p, "alpha", 1.0f) == 0.0f)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "alpha 0");
    return HB_OK;
}

/* (x − mean) / sqrt(var + epsilon) · scale + B over each [n, c]'s spatial values, scale and B
 * per channel. */
static bool run_instance_norm(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0), *scale = in_t(c, 1), *bias = in_t(c, 2);
    if (!x || !scale || !bias)
        return false;
    int nd = x->shape.ndim;
    if (nd < 3)
        return call_fail(c, HB_ERR_SHAPE, "an input of %d dims (needs [N, C, ...])", nd), false;
    int64_t n = x->shape.dim[0], ch = x->shape.dim[1], per[HB_MAX_DIMS] = {ch};
    for (int d = 1; d < nd - 1; d++)
        per[d] = 1;
    float eps = onnx_attr_float(c->n->p, "epsilon", 1e-5f);
    /* a layer norm over each [n, c]'s values, without its weight and bias */
    hb_tensor *r = hb_layer_norm(hb_reshape(x, HB_SHAPE(n, ch, -1)), 2, NULL, NULL, eps);
    hb_tensor *y = hb_reshape(r, nd, x->shape.dim);
    y = hb_mul(y, hb_reshape(scale, nd - 1, per));
    return set_t(c, 0, hb_add(y, hb_reshape(bias, nd - 1, per)));
}

/* 0, 1, ..., n - 1 as int64 along axis of an nd-dimensional shape of ones elsewhere: what a
 * position is compared with to make a one-hot. */
static hb_tensor *positions_along(int64_t n, int axis, int nd)
{
    int64_t *v = hb_malloc(sizeof(int64_t) * (size_t)n + 1);
    hb_shape s = {.ndim = nd};
    for (int d = 0; d < nd; d++)
        s.dim[d] = d == axis ? n : 1;
    for (int64_t i = 0; v && i < n; i++)
        v[i] = i;
    hb_tensor *t = v ? hb_tensor_fill_typed(HB_I64, v, &s) : NULL;
    hb_free(v);
    return t;
}

/* 1 at the first largest value along the axis, 0 elsewhere: the argmax compared with the
 * positions along the axis (a constant). From opset 13 along one axis (default −1); before,
 * over the input seen as 2-D from axis on (default 1), as Softmax. */
static bool run_hardmax(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = x->shape.ndim;
    bool one_axis = c->m->opset >= 13;
    int a = axis_of(c, onnx_attr_int(c->n->p, "axis", one_axis ? -1 : 1), nd);
    if (a < 0)
        return false;
    hb_tensor *v = x;
    if (!one_axis)
        v = as_2d(x, a), a = 1;
    if (!v)
        return false;
    hb_tensor *at = positions_along(v->shape.dim[a], a, v->shape.ndim);
    hb_tensor *y = hb_cast(hb_equal(hb_arg_extreme(v, a, true, true, false), at), x->dtype);
    return set_t(c, 0, one_axis ? y : hb_reshape(y, nd, x->shape.dim));
}

/* (x − mean)/sqrt(var + eps)·scale + bias over the axes from `axis` on. */
static bool run_layer_norm(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0), *scale = in_t(c, 1), *bias = has_in(c, 2) ? in_t(c, 2) : NULL;
    if (!x || !scale || (has_in(c, 2) && !bias))
        return false;
    int a = axis_of(c, onnx_attr_int(c->n->p, "axis", -1), hb_tensor_ndim(x));
    float eps = onnx_attr_float(c->n->p, "epsilon", 1e-5f);
    if (a < 0 || !set_t(c, 0, hb_layer_norm(x, a, scale, bias, eps)))
        return false;
    bool stats = false;
    for (int i = 1; i < c->n->nout; i++)
        stats = stats || c->n->out[i] >= 0;
    if (!stats)
        return true;
    /* Mean and InvStdDev over the normalized axes, of shape x[:axis] + ones */
    hb_shape sh = x->shape, rows = {.ndim = 2, .dim = {1, 1}};
    for (int d = 0; d < sh.ndim; d++)
        rows.dim[d < a ? 0 : 1] *= sh.dim[d];
    for (int d = a; d < sh.ndim; d++)
        sh.dim[d] = 1;
    hb_tensor *r = hb_reshape(x, rows.ndim, rows.dim);
    hb_tensor *mean = hb_mean_axis(r, 1, true);
    hb_tensor *dev = hb_sub(r, mean);
    hb_tensor *inv = hb_pow_scalar(hb_add_scalar(hb_mean_axis(hb_mul(dev, dev), 1, true), eps),
                                   -0.5f);
    hb_tensor *outs[3] = {NULL, mean ? hb_reshape(mean, sh.ndim, sh.dim) : NULL,
                          inv ? hb_reshape(inv, sh.ndim, sh.dim) : NULL};
    for (int i = 1; i < c->n->nout; i++)
        if (c->n->out[i] >= 0 && !set_t(c, i, outs[i]))
            return false;
    return true;
}

/* ---- losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss ----------------------- */

/* -x[n, t[n, d...], d...] · w[t], with ignore_index's targets weighing 0 (and their index
 * replaced by 0, so no gather reads outside), reduced by mean (over the weights), sum or none.
 * x: [N, C, d...], t: [N, d...] of integers, w: [C] or NULL. */
static hb_tensor *nll(onnx_call *c, hb_tensor *x, hb_tensor *t, hb_tensor *w)
{
    const Onnx__NodeProto *p = c->n->p;
    if (!x || !t || (has_in(c, 2) && !w))
        return NULL;
    if (hb_tensor_ndim(x) < 2 || hb_tensor_ndim(t) != hb_tensor_ndim(x) - 1)
        return call_fail(c, HB_ERR_SHAPE, "input of %d dims and target of %d (target has one "
                         "dim fewer: no class axis)", hb_tensor_ndim(x), hb_tensor_ndim(t)), NULL;
    hb_tensor *keep = NULL;
    if (onnx_attr(p, "ignore_index")) {
        int64_t ignore = onnx_attr_int(p, "ignore_index", 0), zero = 0;
        hb_shape one = {.ndim = 0};
        hb_tensor *ig = hb_cast(hb_tensor_fill_typed(HB_I64, &ignore, &one), t->dtype);
        keep = hb_logical_not(hb_equal(t, ig));
        t = hb_where(keep, t, hb_cast(hb_tensor_fill_typed(HB_I64, &zero, &one), t->dtype));
    }
    hb_shape ts = t ? t->shape : (hb_shape){0}, t1 = ts;
    for (int d = t1.ndim; d > 1; d--)
        t1.dim[d] = t1.dim[d - 1];
    if (t1.ndim >= 1) /* [N, 1, d...]: gather_elements along the class axis */
        t1.dim[1] = 1, t1.ndim++;
    hb_tensor *picked = t ? hb_gather_elements(x, hb_reshape(t, t1.ndim, t1.dim), 1) : NULL;
    picked = picked ? hb_reshape(picked, ts.ndim, ts.dim) : NULL;
    hb_tensor *wt = w ? hb_gather(w, t, 0) : hb_ones(ts.ndim, ts.dim);
    if (keep)
        wt = hb_where(keep, wt, hb_scalar(0.0f));
    hb_tensor *loss = hb_neg(hb_mul(picked, wt));
    if (onnx_attr_string_is(p, "reduction", "none"))
        return loss;
    if (onnx_attr_string_is(p, "reduction", "sum"))
        return hb_sum(loss);
    return hb_div(hb_sum(loss), hb_sum(wt)); /* mean, the default */
}

static hb_status check_loss(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (!onnx_attr_string_is(p, "reduction", NULL) && !onnx_attr_string_is(p, "reduction", "mean") &&
        !onnx_attr_string_is(p, "reduction", "sum") && !onnx_attr_string_is(p, "reduction", "none"))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "reduction is none of mean, sum, none");
    return HB_OK;
}

static bool run_nll(onnx_call *c)
{
    return set_t(c, 0, nll(c, in_t(c, 0), in_t(c, 1), has_in(c, 2) ? in_t(c, 2) : NULL));
}

/* the loss of log_softmax(scores) over the class axis; output 1, if asked for, that log_prob */
static bool run_softmax_cross_entropy(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    hb_tensor *lp = x ? hb_log_softmax(x, 1) : NULL;
    if (!set_t(c, 0, nll(c, lp, in_t(c, 1), has_in(c, 2) ? in_t(c, 2) : NULL)))
        return false;
    return c->n->nout < 2 || c->n->out[1] < 0 || set_t(c, 1, lp);
}

/* Trilu: the upper (j - i >= k) or lower (j - i <= k) triangle of each matrix in the last two
 * dims, zeros elsewhere: a where over a mask made now (the shape is known). */
static bool run_trilu(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    const onnx_ints *kv = has_in(c, 1) ? in_ints(c, 1) : NULL;
    if (!x || (has_in(c, 1) && !kv))
        return false;
    if (hb_tensor_ndim(x) < 2)
        return call_fail(c, HB_ERR_SHAPE, "a tensor of %d dims (at least 2)", hb_tensor_ndim(x)),
               false;
    if (kv && kv->n != 1)
        return call_fail(c, HB_ERR_SHAPE, "k has %lld values, not 1", (long long)kv->n), false;
    int64_t k = kv ? kv->v[0] : 0, n = hb_tensor_dim(x, -2), m = hb_tensor_dim(x, -1);
    bool upper = onnx_attr_int(c->n->p, "upper", 1) != 0;
    uint8_t *mask = hb_malloc((size_t)(n * m) + 1);
    if (!mask)
        return call_fail(c, HB_ERR_NOMEM, "out of memory"), false;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++)
            mask[i * m + j] = upper ? j - i >= k : j - i <= k;
    hb_tensor *keep = hb_tensor_fill_typed(HB_BOOL, mask, &(hb_shape){.ndim = 2, .dim = {n, m}});
    hb_free(mask);
    hb_tensor *zero = hb_scalar(0.0f);
    if (zero && x->dtype != HB_F32)
        zero = hb_cast(zero, x->dtype);
    return set_t(c, 0, hb_where(keep, x, zero));
}

/* DepthToSpace (DCR: depth, column, row; or CRD) and SpaceToDepth on [N, C, H, W] with block
 * b: a reshape to 6 dims, a permutation and a reshape back. */
static bool run_depth_space(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int64_t b = onnx_attr_int(c->n->p, "blocksize", 0);
    bool to_space = !strcmp(c->n->op->type, "DepthToSpace");
    bool crd = onnx_attr_string_is(c->n->p, "mode", "CRD");
    const int64_t *d = x->shape.dim;
    if (x->shape.ndim != 4 || b < 1 || (to_space ? d[1] % (b * b) : d[2] % b || d[3] % b))
        return call_fail(c, HB_ERR_SHAPE, "blocksize %lld for an input of %d dims (it needs "
                         "[N, C, H, W] with %s divisible)", (long long)b, x->shape.ndim,
                         to_space ? "C by blocksize²" : "H and W by blocksize"), false;
    int64_t n = d[0], ch = d[1], h = d[2], w = d[3], cb = to_space ? ch / (b * b) : ch;
    int64_t six[6];
    int perm[6];
    if (to_space && !crd) {
        memcpy(six, (int64_t[]){n, b, b, cb, h, w}, sizeof six);
        memcpy(perm, (int[]){0, 3, 4, 1, 5, 2}, sizeof perm);
    } else if (to_space) {
        memcpy(six, (int64_t[]){n, cb, b, b, h, w}, sizeof six);
        memcpy(perm, (int[]){0, 1, 4, 2, 5, 3}, sizeof perm);
    } else {
        memcpy(six, (int64_t[]){n, ch, h / b, b, w / b, b}, sizeof six);
        memcpy(perm, (int[]){0, 3, 5, 1, 2, 4}, sizeof perm);
    }
    hb_tensor *y = permute(c, hb_reshape(x, 6, six), perm, 6);
    int64_t out[4] = {n, to_space ? cb : ch * b * b, to_space ? h * b : h / b,
                      to_space ? w * b : w / b};
    return set_t(c, 0, hb_reshape(y, 4, out));
}

static hb_status check_depth_space(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (onnx_attr(p, "mode") && !onnx_attr_string_is(p, "mode", "DCR") &&
        !onnx_attr_string_is(p, "mode", "CRD"))
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "a mode other than DCR and CRD");
    if (onnx_attr_int(p, "blocksize", 0) < 1)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "no positive blocksize");
    return HB_OK;
}

enum { TILE_MAX = 4096 }; /* copies along one axis: each is an input of a concat */

/* Tile by repeats known now (host integers): each axis a concat of that many copies. */
static bool run_tile(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    const onnx_ints *r = in_ints(c, 1);
    if (!x || !r)
        return false;
    if (r->n != x->shape.ndim)
        return call_fail(c, HB_ERR_SHAPE, "%lld repeats for an input of %d dims",
                         (long long)r->n, x->shape.ndim), false;
    hb_tensor *y = x, *copies[TILE_MAX];
    for (int d = 0; d < x->shape.ndim && y; d++) {
        if (r->v[d] < 0 || r->v[d] > TILE_MAX)
            return call_fail(c, HB_ERR_ARG, "repeats %lld on axis %d (0 to %d)",
                             (long long)r->v[d], d, TILE_MAX), false;
        if (r->v[d] == 1)
            continue;
        if (r->v[d] == 0) { /* an empty axis */
            y = hb_slice(y, d, 0, 0);
            continue;
        }
        for (int64_t k = 0; k < r->v[d]; k++)
            copies[k] = y;
        y = hb_concat((int)r->v[d], copies, d);
    }
    return set_t(c, 0, y == x ? hb_frame_adopt(identity(x)) : y);
}

enum { CUMSUM_MAX = 4096 }; /* CumSum's axis: the triangle of ones it multiplies by is n² */

/* CumSum along an axis as a product with a triangle of ones (T[i][j] = 1 where x_i counts in
 * y_j: i ≤ j, or i < j exclusive, or the other way reversed): one matmul, which traces, compiles
 * and has a gradient. Integers (a mask's running count: position ids) go through float32,
 * exact below 2^24. */
static bool run_cumsum(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    const onnx_ints *av = in_ints(c, 1);
    if (!x || !av)
        return false;
    if (av->n != 1)
        return call_fail(c, HB_ERR_SHAPE, "the axis has %lld values, not 1", (long long)av->n),
               false;
    int axis = axis_of(c, av->v[0], x->shape.ndim);
    if (axis < 0)
        return false;
    if (x->dtype != HB_F32 && !hb_dtype_is_int(x->dtype))
        return call_fail(c, HB_ERR_UNSUPPORTED, "a cumulative sum of %s (float32 or integers)",
                         hb_dtype_name(x->dtype)), false;
    int64_t n = x->shape.dim[axis];
    if (n > CUMSUM_MAX)
        return call_fail(c, HB_ERR_UNSUPPORTED, "an axis of %lld (at most %d)", (long long)n,
                         CUMSUM_MAX), false;
    bool exclusive = onnx_attr_int(c->n->p, "exclusive", 0) != 0;
    bool reverse = onnx_attr_int(c->n->p, "reverse", 0) != 0;
    float *tri = hb_malloc(sizeof(float) * (size_t)(n * n) + 1);
    if (!tri)
        return call_fail(c, HB_ERR_NOMEM, "out of memory"), false;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            tri[i * n + j] = reverse ? (exclusive ? i > j : i >= j) : (exclusive ? i < j : i <= j);
    hb_tensor *t = hb_tensor_fill_typed(HB_F32, tri, &(hb_shape){.ndim = 2, .dim = {n, n}});
    hb_free(tri);
    int last = x->shape.ndim - 1;
    hb_tensor *xf = x->dtype == HB_F32 ? x : hb_cast(x, HB_F32);
    hb_tensor *moved = axis == last ? xf : hb_transpose(xf, axis, last);
    hb_tensor *y = hb_matmul(moved, t);
    y = axis == last || !y ? y : hb_transpose(y, axis, last);
    return set_t(c, 0, x->dtype == HB_F32 || !y ? y : hb_cast(y, x->dtype));
}

/* Range(start, limit, delta): max(ceil((limit - start) / delta), 0) values. Of integers known
 * now, a host array (shape arithmetic); otherwise the three scalars are read on the host (a
 * traced block then runs eagerly: the length is a value) and the values are a tensor of their
 * dtype. */
static bool run_range(onnx_call *c)
{
    bool ints = holds_ints(c, 0) && holds_ints(c, 1) && holds_ints(c, 2);
    double v[3];
    hb_dtype d = HB_I64;
    for (int i = 0; i < 3; i++) {
        if (ints) {
            const onnx_ints *iv = in_ints(c, i);
            if (iv && iv->n != 1)
                call_fail(c, HB_ERR_SHAPE, "input %d is not a scalar", i);
            if (!iv || iv->n != 1)
                return false;
            v[i] = (double)iv->v[0];
            continue;
        }
        hb_tensor *t = in_t(c, i);
        if (t && hb_tensor_numel(t) != 1)
            call_fail(c, HB_ERR_SHAPE, "input %d is not a scalar", i);
        if (!t || hb_tensor_numel(t) != 1)
            return false;
        d = t->dtype;
        v[i] = hb_dtype_get(t->dtype, hb_tensor_raw(t), 0);
    }
    if (v[2] == 0)
        return call_fail(c, HB_ERR_ARG, "delta is 0"), false;
    double count = ceil((v[1] - v[0]) / v[2]);
    if (!(count <= INTS_MAX))
        return call_fail(c, HB_ERR_UNSUPPORTED, "%g values (at most %d)", count, INTS_MAX), false;
    hb_shape s = {.ndim = 1, .dim = {count > 0 ? (int64_t)count : 0}};
    if (ints) {
        int64_t *r = new_ints(c, 0, &s);
        for (int64_t i = 0; r && i < s.dim[0]; i++)
            r[i] = (int64_t)v[0] + i * (int64_t)v[2];
        return r != NULL;
    }
    void *buf = hb_malloc(hb_dtypes[d].size * (size_t)s.dim[0] + 1);
    if (!buf)
        return call_fail(c, HB_ERR_NOMEM, "out of memory"), false;
    for (int64_t i = 0; i < s.dim[0]; i++) /* start + i·delta, as the reference computes it */
        if (hb_dtype_is_int(d))
            hb_dtype_set_int(d, buf, i, (int64_t)v[0] + i * (int64_t)v[2]);
        else
            hb_dtype_set(d, buf, i, (float)v[0] + (float)i * (float)v[2]);
    hb_tensor *t = hb_tensor_fill_typed(d, buf, &s);
    hb_free(buf);
    return set_t(c, 0, t);
}

static bool run_size(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    int64_t n = x ? hb_tensor_numel(x) : 0;
    return x && set_ints(c, 0, &(hb_shape){.ndim = 0}, &n);
}

/* The input's shape as integers. */
static bool run_shape(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    /* opset 15's start and end: a slice of the dims, clamped as Slice's bounds */
    int64_t start = onnx_attr_int(c->n->p, "start", 0), end = onnx_attr_int(c->n->p, "end", nd);
    start = start < 0 ? start + nd : start, end = end < 0 ? end + nd : end;
    start = start < 0 ? 0 : start > nd ? nd : start;
    end = end < start ? start : end > nd ? nd : end;
    int64_t dims[HB_MAX_DIMS];
    for (int64_t i = start; i < end; i++)
        dims[i - start] = hb_tensor_dim(x, (int)i);
    return set_ints(c, 0, &(hb_shape){.ndim = 1, .dim = {end - start}}, dims);
}

/* ---- integers: host arrays that shape computations make ------------------------------- */

/* The NumPy broadcast of n shapes into out; false with the error set. */
static bool broadcast_shapes(onnx_call *c, int n, const hb_shape *const *in, hb_shape *out)
{
    *out = (hb_shape){.ndim = 0};
    for (int k = 0; k < n; k++)
        if (in[k]->ndim > out->ndim)
            out->ndim = in[k]->ndim;
    for (int d = 0; d < out->ndim; d++) {
        out->dim[d] = 1;
        for (int k = 0; k < n; k++) {
            int at = d - (out->ndim - in[k]->ndim);
            int64_t v = at < 0 ? 1 : in[k]->dim[at];
            if (v != 1 && out->dim[d] != 1 && v != out->dim[d])
                return call_fail(c, HB_ERR_SHAPE, "shapes do not broadcast: %lld against %lld "
                                 "at axis %d", (long long)v, (long long)out->dim[d], d), false;
            if (v != 1)
                out->dim[d] = v;
        }
    }
    return true;
}

/* Where in an array of shape s, broadcast to out, the element at out's flat index i is. */
static int64_t broadcast_index(const hb_shape *s, const hb_shape *out, int64_t i)
{
    int64_t at = 0, stride = 1;
    for (int d = out->ndim - 1; d >= 0; d--) {
        int64_t pos = i % out->dim[d];
        i /= out->dim[d];
        int k = d - (out->ndim - s->ndim);
        if (k >= 0) {
            at += (s->dim[k] == 1 ? 0 : pos) * stride;
            stride *= s->dim[k];
        }
    }
    return at;
}

/* An elementwise op over the node's inputs, all integers, broadcast; the row's int_fn gives
 * each element (false: undefined there, as a division by zero). */
static bool run_ints_elementwise(onnx_call *c)
{
    int n = c->n->nin;
    const onnx_ints *in[3];
    const hb_shape *shapes[3];
    for (int k = 0; k < n; k++) {
        if (!(in[k] = in_ints(c, k)))
            return false;
        shapes[k] = &in[k]->shape;
    }
    hb_shape out;
    if (!broadcast_shapes(c, n, shapes, &out))
        return false;
    int64_t *r = new_ints(c, 0, &out);
    for (int64_t i = 0; r && i < hb_shape_numel(&out); i++) {
        int64_t v[3] = {0, 0, 0};
        for (int k = 0; k < n; k++)
            v[k] = in[k]->v[broadcast_index(&in[k]->shape, &out, i)];
        if (!c->n->op->int_fn(v[0], v[1], v[2], &r[i]))
            return call_fail(c, HB_ERR_ARG, "undefined for integers %lld and %lld (a division "
                             "by zero)", (long long)v[0], (long long)v[1]), false;
    }
    return r != NULL;
}

static bool int_add(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = a + b; return true; }
static bool int_sub(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = a - b; return true; }
static bool int_mul(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = a * b; return true; }
static bool int_equal(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = a == b; return true; }
static bool int_less(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = a < b; return true; }
static bool int_greater(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = a > b; return true; }
static bool int_where(int64_t c, int64_t a, int64_t b, int64_t *r) { *r = c ? a : b; return true; }
static bool int_less_equal(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = a <= b; return true; }
static bool int_greater_equal(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = a >= b; return true; }
static bool int_and(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = a && b; return true; }
static bool int_or(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = a || b; return true; }
static bool int_xor(int64_t a, int64_t b, int64_t u, int64_t *r) { (void)u; *r = !a != !b; return true; }

/* ONNX's integer division truncates toward zero, as C's does. */
static bool int_div(int64_t a, int64_t b, int64_t u, int64_t *r)
{
    (void)u;
    if (b == 0 || (a == INT64_MIN && b == -1))
        return false;
    *r = a / b;
    return true;
}

/* Mod with fmod 0: the remainder takes the divisor's sign, as Python's % (PyTorch's
 * remainder) does. */
static bool int_mod(int64_t a, int64_t b, int64_t u, int64_t *r)
{
    (void)u;
    if (b == 0 || (a == INT64_MIN && b == -1))
        return false;
    int64_t m = a % b;
    *r = m != 0 && (m < 0) != (b < 0) ? m + b : m;
    return true;
}

/* Gather along an axis. Of integers: any indices into a 1-D array (a shape's entries). Of
 * floats, with indices known when the call runs (constants, or computed from shapes): one
 * slice per index, put together and shaped as ONNX says (the indices' shape in place of the
 * axis), so x[:, 0] and y[:, -1] are a slice and a reshape. */
static bool run_gather(onnx_call *c)
{
    if (!holds_ints(c, 1)) { /* indices computed when the call runs (token ids): the gather op */
        hb_tensor *x = in_t(c, 0), *idx = in_t(c, 1);
        return x && idx && set_t(c, 0, hb_gather(x, idx, (int)onnx_attr_int(c->n->p, "axis", 0)));
    }
    bool integers = holds_ints(c, 0);
    const onnx_ints *data = integers ? in_ints(c, 0) : NULL;
    hb_tensor *x = integers ? NULL : in_t(c, 0);
    const onnx_ints *idx = data || x ? in_ints(c, 1) : NULL;
    if (!idx)
        return false;
    hb_shape shape = x ? x->shape : data->shape;
    int axis = axis_of(c, onnx_attr_int(c->n->p, "axis", 0), shape.ndim);
    if (axis < 0)
        return false;
    int64_t dim = shape.dim[axis];
    if (shape.ndim - 1 + idx->shape.ndim > HB_MAX_DIMS)
        return call_fail(c, HB_ERR_SHAPE, "a result of more than %d dims", HB_MAX_DIMS), false;
    if (idx->n > (integers ? 64 : 4096))
        return call_fail(c, HB_ERR_UNSUPPORTED, "%lld indices (at most %d)", (long long)idx->n,
                         integers ? 64 : 4096), false;
    if (integers && shape.ndim != 1)
        return call_fail(c, HB_ERR_UNSUPPORTED, "Gather of integers from a 1-D array only"),
               false;
    int64_t out[64];
    hb_tensor *parts[4096];
    for (int64_t i = 0; i < idx->n; i++) {
        int64_t k = idx->v[i] < 0 ? idx->v[i] + dim : idx->v[i];
        if (k < 0 || k >= dim)
            return call_fail(c, HB_ERR_ARG, "index %lld out of range [%lld, %lld) along axis %d",
                             (long long)idx->v[i], (long long)-dim, (long long)dim, axis), false;
        if (integers)
            out[i] = data->v[k];
        else if (!(parts[i] = hb_slice(x, axis, k, 1)))
            return false;
    }
    if (integers)
        return set_ints(c, 0, &idx->shape, out);
    hb_shape to = {.ndim = 0};
    for (int d = 0; d < shape.ndim; d++) {
        if (d != axis) {
            to.dim[to.ndim++] = shape.dim[d];
            continue;
        }
        for (int j = 0; j < idx->shape.ndim; j++)
            to.dim[to.ndim++] = idx->shape.dim[j];
    }
    hb_tensor *y = idx->n == 1 ? parts[0] : hb_concat((int)idx->n, parts, axis);
    return set_t(c, 0, hb_reshape(y, to.ndim, to.dim));
}

/* Slice: per axis, the start and end clamped as NumPy does (negative counting from the end);
 * any step: a slice each for steps of 1, a gather of the indices for others. */
static bool run_slice(onnx_call *c)
{
    bool integers = holds_ints(c, 0);
    const onnx_ints *iv = integers ? in_ints(c, 0) : NULL;
    hb_tensor *x = integers ? NULL : in_t(c, 0);
    if (!x && !iv)
        return false;
    hb_shape shape = x ? x->shape : iv->shape;
    size_t n, ne, na = 0, nst = 0;
    const int64_t *starts, *ends, *axes = NULL, *steps = NULL;
    if (c->m->opset < 10) {
        starts = onnx_attr_ints(c->n->p, "starts", &n);
        ends = onnx_attr_ints(c->n->p, "ends", &ne);
        axes = onnx_attr_ints(c->n->p, "axes", &na);
    } else {
        const onnx_ints *s = in_ints(c, 1), *e = s ? in_ints(c, 2) : NULL;
        const onnx_ints *a = e && has_in(c, 3) ? in_ints(c, 3) : NULL;
        const onnx_ints *st = e && has_in(c, 4) ? in_ints(c, 4) : NULL;
        if (!e || (has_in(c, 3) && !a) || (has_in(c, 4) && !st))
            return false;
        starts = s->v, n = (size_t)s->n, ends = e->v, ne = (size_t)e->n;
        axes = a ? a->v : NULL, na = a ? (size_t)a->n : 0;
        steps = st ? st->v : NULL, nst = st ? (size_t)st->n : 0;
    }
    if (ne != n || (axes && na != n) || (steps && nst != n))
        return call_fail(c, HB_ERR_SHAPE, "%zu starts, %zu ends, %zu axes and %zu steps", n, ne,
                         na, nst), false;
    int64_t lo[HB_MAX_DIMS], step[HB_MAX_DIMS];
    hb_shape out = shape;
    bool seen[HB_MAX_DIMS] = {false};
    for (int d = 0; d < shape.ndim; d++)
        lo[d] = 0, step[d] = 1;
    for (size_t i = 0; i < n; i++) {
        int a = axis_of(c, axes ? axes[i] : (int64_t)i, shape.ndim);
        if (a < 0)
            return false;
        if (seen[a])
            return call_fail(c, HB_ERR_ARG, "axis %d sliced twice", a), false;
        seen[a] = true;
        int64_t st = steps ? steps[i] : 1, dim = shape.dim[a], b = starts[i], e = ends[i];
        if (st == 0)
            return call_fail(c, HB_ERR_ARG, "a step of 0 along axis %d", a), false;
        b = b < 0 ? (b < -dim ? -1 : b + dim) : b; /* -1: before the first element */
        e = e < 0 ? (e < -dim ? -1 : e + dim) : e;
        if (st > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            out.dim[a] = e > b ? (e - b + st - 1) / st : 0;
        } else {
            b = b > dim - 1 ? dim - 1 : b;
            e = e > dim - 1 ? dim - 1 : e;
            out.dim[a] = b > e ? (b - e - st - 1) / -st : 0;
        }
        lo[a] = b, step[a] = st;
    }
    if (x) {
        for (int d = 0; d < shape.ndim && x; d++) {
            if (step[d] != 1) { /* other steps (a reversal): a gather of those indices */
                int64_t *at = hb_malloc(sizeof(int64_t) * (size_t)out.dim[d] + 1);
                if (!at)
                    return call_fail(c, HB_ERR_NOMEM, "out of memory"), false;
                for (int64_t k = 0; k < out.dim[d]; k++)
                    at[k] = lo[d] + k * step[d];
                hb_tensor *idx = hb_tensor_fill_typed(HB_I64, at, &(hb_shape){1, {out.dim[d]}});
                hb_free(at);
                x = hb_gather(x, idx, d);
            } else if (out.dim[d] != shape.dim[d]) {
                x = hb_slice(x, d, lo[d], out.dim[d]);
            }
        }
        return set_t(c, 0, x == in_t(c, 0) ? hb_frame_adopt(identity(x)) : x);
    }
    int64_t *r = new_ints(c, 0, &out);
    for (int64_t i = 0; r && i < hb_shape_numel(&out); i++) {
        int64_t rest = i, at = 0, stride = 1;
        for (int d = out.ndim - 1; d >= 0; d--) {
            at += (lo[d] + rest % out.dim[d] * step[d]) * stride;
            rest /= out.dim[d], stride *= shape.dim[d];
        }
        r[i] = iv->v[at];
    }
    return r != NULL;
}

/* Input i as a shape: 1-D integers, each >= 0; false with the error set. */
static bool shape_input(onnx_call *c, int i, hb_shape *out)
{
    const onnx_ints *to = in_ints(c, i);
    if (!to)
        return false;
    if (to->shape.ndim != 1 || to->n > HB_MAX_DIMS)
        return call_fail(c, HB_ERR_SHAPE, "the shape must be 1-D, of at most %d dims",
                         HB_MAX_DIMS), false;
    *out = (hb_shape){.ndim = (int)to->n};
    for (int64_t k = 0; k < to->n; k++)
        if ((out->dim[k] = to->v[k]) < 0)
            return call_fail(c, HB_ERR_SHAPE, "dim %lld of the shape is %lld", (long long)k,
                             (long long)to->v[k]), false;
    return true;
}

/* Expand: the input broadcast with a shape (NumPy's rules, both ways). A float tensor is
 * multiplied by ones of the result's shape, which broadcasts it exactly (x·1 is x, for every
 * float) and passes the gradient back summed, as a broadcast's is. */
static bool run_expand(onnx_call *c)
{
    hb_shape want;
    if (!shape_input(c, 1, &want))
        return false;
    if (holds_ints(c, 0)) {
        const onnx_ints *iv = in_ints(c, 0);
        hb_shape out;
        if (!iv || !broadcast_shapes(c, 2, (const hb_shape *[]){&iv->shape, &want}, &out))
            return false;
        int64_t *r = new_ints(c, 0, &out);
        for (int64_t i = 0; r && i < hb_shape_numel(&out); i++)
            r[i] = iv->v[broadcast_index(&iv->shape, &out, i)];
        return r != NULL;
    }
    hb_tensor *x = in_t(c, 0);
    hb_shape out;
    if (!x || !broadcast_shapes(c, 2, (const hb_shape *[]){&x->shape, &want}, &out))
        return false;
    if (hb_shape_equal(&out, &x->shape))
        return set_t(c, 0, hb_frame_adopt(identity(x)));
    hb_tensor *ones = hb_ones(out.ndim, out.dim); /* the call's, as any op's result */
    if (x->dtype == HB_F32)
        return set_t(c, 0, hb_mul(x, ones));
    /* ids and masks: where(true, x, x) broadcast, exact for every dtype */
    return set_t(c, 0, hb_where(hb_cast(ones, HB_BOOL), x, x));
}

/* The value (one element; float 0 by default) everywhere in a tensor of the given shape. */
static bool run_constant_of_shape(onnx_call *c)
{
    hb_shape out;
    if (!shape_input(c, 0, &out))
        return false;
    bool ints = c->m->slots[c->n->out[0]].is_int;
    if (!ints && c->n->fill_dtype == HB_F32)
        return set_t(c, 0, hb_full(out.ndim, out.dim, c->n->fill));
    int64_t *r = new_ints(c, 0, &out);
    for (int64_t i = 0; r && i < hb_shape_numel(&out); i++)
        r[i] = c->n->fill_int;
    if (!r || ints)
        return r != NULL;
    hb_tensor *t = hb_tensor_fill_typed(HB_I64, r, &out); /* another integer dtype: a tensor */
    hb_free(c->iv[c->n->out[0]].v), c->iv[c->n->out[0]].v = NULL;
    return set_t(c, 0, t ? hb_cast(t, c->n->fill_dtype) : NULL);
}

/* Host integers cast to int32 or int64 stay host integers (shape arithmetic); anything else
 * is the cast op on a tensor. */
static bool cast_to(onnx_call *c, hb_dtype to)
{
    if (holds_ints(c, 0) && (to == HB_I64 || to == HB_I32 || to == HB_BOOL)) {
        /* stays on the host: a condition from shapes picks an If's branch with no guard */
        const onnx_ints *v = in_ints(c, 0);
        if (!v || !set_ints(c, 0, &v->shape, v->v))
            return false;
        onnx_ints *r = &c->iv[c->n->out[0]];
        for (int64_t i = 0; to == HB_BOOL && i < r->n; i++)
            r->v[i] = r->v[i] != 0;
        r->boolean = to == HB_BOOL;
        return true;
    }
    hb_tensor *x = in_t(c, 0);
    return x && set_t(c, 0, x->dtype == to ? hb_frame_adopt(identity(x)) : hb_cast(x, to));
}

static bool run_cast(onnx_call *c)
{
    hb_dtype to = HB_F32;
    hb_dtype_by_onnx((int32_t)onnx_attr_int(c->n->p, "to", 0), &to); /* load_cast checked it */
    return cast_to(c, to);
}

/* CastLike: to the dtype of input 1 (host integers are int64). */
static bool run_cast_like(onnx_call *c)
{
    hb_tensor *like = holds_ints(c, 1) ? NULL : in_t(c, 1);
    if (!like && !holds_ints(c, 1))
        return false;
    return cast_to(c, like ? like->dtype : HB_I64);
}

static bool run_constant(onnx_call *c)
{
    (void)c;
    return true; /* its value is a constant of the block (or a host array), set at load */
}

/* ---- Einsum ------------------------------------------------------------------------------- */

/* An einsum equation's terms: each operand's letters and the output's. */
typedef struct einsum_eq {
    char in[2][HB_MAX_DIMS + 1], out[HB_MAX_DIMS + 1];
    int nin;
} einsum_eq;

/* Parses "bij,bjk->bik" (or an implicit output: the letters seen once, in order), of one or two
 * operands of distinct lowercase or uppercase letters (no "...", no repeated letter: a
 * diagonal); false with why. */
static bool einsum_parse(const char *text, einsum_eq *e, char *why, size_t size)
{
    *e = (einsum_eq){0};
    const char *arrow = strstr(text, "->");
    size_t lhs = arrow ? (size_t)(arrow - text) : strlen(text);
    int len = 0;
    for (size_t i = 0; i <= lhs; i++) {
        char ch = i < lhs ? text[i] : ',';
        if (ch == ' ')
            continue;
        if (e->nin == 2) /* a third term's first letter or comma */
            return snprintf(why, size, "more than two operands"), false;
        if (ch == ',') {
            e->in[e->nin++][len] = '\0', len = 0;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return snprintf(why, size, "'%c' (only letters: no ellipsis)", ch), false;
        if (len == HB_MAX_DIMS || strchr(e->in[e->nin], ch))
            return snprintf(why, size, len == HB_MAX_DIMS ? "more than %d letters in a term"
                                                          : "a letter repeated in a term (a "
                                                            "diagonal)", HB_MAX_DIMS), false;
        e->in[e->nin][len++] = ch;
    }
    len = 0;
    if (arrow) {
        for (const char *q = arrow + 2; *q; q++)
            if (*q != ' ') {
                if (len == HB_MAX_DIMS || strchr(e->out, *q) ||
                    (!strchr(e->in[0], *q) && !strchr(e->in[1], *q)))
                    return snprintf(why, size, "output letter '%c' repeated or in no operand", *q),
                           false;
                e->out[len++] = *q;
            }
    } else { /* implicit: the letters that appear once, alphabetically */
        for (int ch = 'A'; ch <= 'z'; ch++) {
            bool letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
            int seen = (strchr(e->in[0], ch) != NULL) + (e->nin > 1 && strchr(e->in[1], ch));
            if (letter && seen == 1 && len < HB_MAX_DIMS)
                e->out[len++] = (char)ch;
        }
    }
    return true;
}

/* t (of letters `have`) summed over its letters not in keep, the rest in their order: *have
 * updated. */
static hb_tensor *einsum_reduce(hb_tensor *t, char *have, const char *keep1, const char *keep2)
{
    for (int i = (int)strlen(have) - 1; i >= 0 && t; i--)
        if (!strchr(keep1, have[i]) && !strchr(keep2, have[i])) {
            t = hb_sum_axis(t, i, false);
            memmove(have + i, have + i + 1, strlen(have + i));
        }
    return t;
}

/* t (letters have) permuted to the letters of order. */
static hb_tensor *einsum_order(onnx_call *c, hb_tensor *t, const char *have, const char *order)
{
    int want[HB_MAX_DIMS], nd = (int)strlen(order);
    for (int i = 0; i < nd; i++)
        want[i] = (int)(strchr(have, order[i]) - have);
    return t ? permute(c, t, want, nd) : NULL;
}

/* The equation as text (empty if absent). */
static const char *einsum_text(const Onnx__NodeProto *p, char *buf, size_t size)
{
    const Onnx__AttributeProto *a = onnx_attr(p, "equation");
    snprintf(buf, size, "%.*s", a && a->has_s ? (int)a->s.len : 0,
             a && a->has_s ? (const char *)a->s.data : "");
    return buf;
}

static hb_status check_einsum(const onnx_model *m, const Onnx__NodeProto *p)
{
    einsum_eq e;
    char text[256], why[128];
    if (!einsum_parse(einsum_text(p, text, sizeof text), &e, why, sizeof why))
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "equation \"%s\": %s", text, why);
    if (!*text || e.nin != (int)p->n_input)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "equation \"%s\": %d operands for %zu inputs",
                              text, e.nin, p->n_input);
    return HB_OK;
}

/* Einsum of one operand (sums, a permutation) or two: letters of both and the output are a
 * batch, of both only contracted, of one kept; as one batched matmul [B, M, K]·[B, K, N]. */
static bool run_einsum(onnx_call *c)
{
    einsum_eq e;
    char text[256], why[128];
    einsum_parse(einsum_text(c->n->p, text, sizeof text), &e, why, sizeof why); /* checked */
    hb_tensor *t[2] = {in_t(c, 0), e.nin > 1 ? in_t(c, 1) : NULL};
    for (int k = 0; k < e.nin; k++) {
        if (!t[k])
            return false;
        if (t[k]->shape.ndim != (int)strlen(e.in[k]))
            return call_fail(c, HB_ERR_SHAPE, "operand %d has %d dims; \"%s\" names %zu", k,
                             t[k]->shape.ndim, e.in[k], strlen(e.in[k])), false;
    }
    if (e.nin == 1) {
        hb_tensor *y = einsum_reduce(t[0], e.in[0], e.out, "");
        return set_t(c, 0, y == t[0] && !strcmp(e.in[0], e.out) ? hb_frame_adopt(identity(y))
                                                               : einsum_order(c, y, e.in[0], e.out));
    }
    /* letters one operand alone has and the output lacks are summed there first */
    t[0] = einsum_reduce(t[0], e.in[0], e.out, e.in[1]);
    t[1] = einsum_reduce(t[1], e.in[1], e.out, e.in[0]);
    char batch[HB_MAX_DIMS + 1] = "", con[HB_MAX_DIMS + 1] = "", left[HB_MAX_DIMS + 1] = "",
         right[HB_MAX_DIMS + 1] = "";
    int64_t nb = 1, nk = 1, nm = 1, nn = 1, size[128] = {0};
    for (int k = 0; k < 2; k++)
        for (int i = 0; t[k] && e.in[k][i]; i++) {
            unsigned char ch = (unsigned char)e.in[k][i];
            int64_t dim = t[k]->shape.dim[i];
            if (size[ch] && size[ch] != dim)
                return call_fail(c, HB_ERR_SHAPE, "letter '%c' is %lld and %lld long", ch,
                                 (long long)size[ch], (long long)dim), false;
            size[ch] = dim;
        }
    if (!t[0] || !t[1])
        return false;
    for (int i = 0; e.in[0][i]; i++) {
        char ch = e.in[0][i], s[2] = {ch, '\0'};
        bool both = strchr(e.in[1], ch) != NULL;
        strcat(both ? (strchr(e.out, ch) ? batch : con) : left, s);
    }
    for (int i = 0; e.in[1][i]; i++)
        if (!strchr(e.in[0], e.in[1][i]))
            strncat(right, &e.in[1][i], 1);
    for (const char *q = batch; *q; q++)
        nb *= size[(unsigned char)*q];
    for (const char *q = con; *q; q++)
        nk *= size[(unsigned char)*q];
    for (const char *q = left; *q; q++)
        nm *= size[(unsigned char)*q];
    for (const char *q = right; *q; q++)
        nn *= size[(unsigned char)*q];
    char oa[3 * HB_MAX_DIMS + 1], ob[3 * HB_MAX_DIMS + 1], oy[3 * HB_MAX_DIMS + 1];
    snprintf(oa, sizeof oa, "%s%s%s", batch, left, con);
    snprintf(ob, sizeof ob, "%s%s%s", batch, con, right);
    snprintf(oy, sizeof oy, "%s%s%s", batch, left, right);
    hb_tensor *am = hb_reshape(einsum_order(c, t[0], e.in[0], oa), 3, (int64_t[]){nb, nm, nk});
    hb_tensor *bm = hb_reshape(einsum_order(c, t[1], e.in[1], ob), 3, (int64_t[]){nb, nk, nn});
    hb_tensor *y = hb_matmul(am, bm);
    int64_t dims[HB_MAX_DIMS];
    int nd = (int)strlen(oy);
    for (int i = 0; i < nd; i++)
        dims[i] = size[(unsigned char)oy[i]];
    y = hb_reshape(y, nd, dims);
    return set_t(c, 0, einsum_order(c, y, oy, e.out));
}

/* ---- Resize and Upsample ------------------------------------------------------------------- */

/* Up to max values of input i as doubles into v, their count in *n: host integers, a constant's
 * values (fixed in any trace), or a tensor the call brings, read on the host (a traced block
 * then runs eagerly: its shape depends on a value). */
static bool host_values(onnx_call *c, int i, double *v, int max, int *n)
{
    *n = 0;
    if (!has_in(c, i))
        return true;
    int s = c->n->in[i];
    if (holds_ints(c, i) || (c->t[s] && hb_dtype_is_int(c->t[s]->dtype))) {
        const onnx_ints *iv = in_ints(c, i);
        if (!iv)
            return false;
        for (int64_t k = 0; k < iv->n && k < max; k++)
            v[k] = (double)iv->v[k];
        *n = (int)(iv->n < max ? iv->n : max);
        return iv->n <= max ? true : call_fail(c, HB_ERR_SHAPE, "input %d has %lld values (at "
                                               "most %d)", i, (long long)iv->n, max) == HB_OK;
    }
    hb_tensor *t = in_t(c, i);
    if (!t)
        return false;
    if (t->dtype != HB_F32 || t->numel > max)
        return call_fail(c, HB_ERR_UNSUPPORTED, "input %d is %s of %lld values (float32, at most "
                         "%d)", i, hb_dtype_name(t->dtype), (long long)t->numel, max) == HB_OK;
    const float *d = c->m->slots[s].kind == ONNX_SLOT_TENSOR ? t->data : hb_tensor_cdata(t);
    for (int64_t k = 0; k < t->numel; k++)
        v[k] = d[k];
    *n = (int)t->numel;
    return true;
}

typedef enum resize_mode { RESIZE_NEAREST, RESIZE_LINEAR, RESIZE_CUBIC } resize_mode;

typedef struct resize_opts {
    resize_mode mode;
    const char *coords, *nearest;
    double cubic_a, extrapolation;
    bool exclude_outside;
} resize_opts;

/* ONNX's coordinate_transformation_mode: where output position x lands in the input (out_w
 * the scaled width, unrounded, as the reference computes it); *outside for tf_crop_and_resize
 * beyond the input. */
static double source_coord(const resize_opts *o, double x, double scale, int64_t in,
                           double out_w, double roi0, double roi1, bool *outside)
{
    const char *m = o->coords;
    *outside = false;
    if (!strcmp(m, "align_corners"))
        return out_w == 1 ? 0.0 : x * (double)(in - 1) / (out_w - 1);
    if (!strcmp(m, "asymmetric"))
        return x / scale;
    if (!strcmp(m, "tf_half_pixel_for_nn"))
        return (x + 0.5) / scale;
    if (!strcmp(m, "pytorch_half_pixel"))
        return out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    if (!strcmp(m, "tf_crop_and_resize")) {
        double r = out_w == 1 ? (roi1 - roi0) * (double)(in - 1) / 2
                              : x * (roi1 - roi0) * (double)(in - 1) / (out_w - 1);
        r += roi0 * (double)(in - 1);
        *outside = r < 0 || r > (double)(in - 1);
        return r;
    }
    return (x + 0.5) / scale - 0.5; /* half_pixel */
}

/* The weight of each of n taps for the fraction r in (0, 1] past the left one (the reference's
 * get_coeffs): nearest picks one by nearest_mode. */
static void tap_weights(const resize_opts *o, double r, double *w)
{
    if (o->mode == RESIZE_LINEAR) {
        w[0] = 1 - r, w[1] = r;
    } else if (o->mode == RESIZE_CUBIC) {
        double a = o->cubic_a, s = 1 - r;
        w[0] = ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a;
        w[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
        w[2] = ((a + 2) * s - (a + 3)) * s * s + 1;
        w[3] = ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a;
    } else {
        const char *m = o->nearest;
        bool right = r == 1 || (!strcmp(m, "round_prefer_ceil") ? r >= 0.5
                                : !strcmp(m, "floor")          ? false
                                : !strcmp(m, "ceil")           ? true
                                                               : r > 0.5);
        w[0] = !right, w[1] = right;
    }
}

/* x resized along axis to out positions: for each, the taps around where it lands (clamped to
 * the edge, as the reference pads) gathered and weighted. Indices and weights are constants of
 * the call: the resize traces and compiles as gathers and elementwise ops. */
static hb_tensor *resize_axis(onnx_call *c, hb_tensor *x, int axis, int64_t out, double scale,
                              const resize_opts *o, double roi0, double roi1)
{
    int64_t in = x->shape.dim[axis];
    int n = o->mode == RESIZE_CUBIC ? 4 : 2;
    int64_t *idx = hb_malloc(sizeof(int64_t) * (size_t)(n * out) + 1);
    float *wt = hb_malloc(sizeof(float) * (size_t)(n * out) + 1), *keep = hb_malloc(sizeof(float) * (size_t)out + 1);
    bool any_outside = false;
    for (int64_t p = 0; idx && wt && keep && p < out; p++) {
        bool outside;
        double xo = source_coord(o, (double)p, scale, in, scale * (double)in, roi0, roi1, &outside);
        double f = floor(xo), r = xo == f ? 1.0 : xo - f;
        int64_t left = (int64_t)(r == 1.0 ? xo - 1 : f) - (n / 2 - 1); /* the first tap */
        double w[4], total = 0;
        tap_weights(o, r, w);
        for (int k = 0; k < n; k++) {
            int64_t t = left + k;
            if (o->exclude_outside && (t < 0 || t >= in))
                w[k] = 0;
            total += w[k];
            idx[p * n + k] = t < 0 ? 0 : t >= in ? in - 1 : t;
        }
        for (int k = 0; k < n; k++)
            wt[k * out + p] = (float)(o->exclude_outside && total != 0 ? w[k] / total : w[k]);
        keep[p] = !outside;
        any_outside |= outside;
    }
    hb_tensor *y = NULL;
    if (!idx || !wt || !keep) {
        call_fail(c, HB_ERR_NOMEM, "out of memory");
    } else if (o->mode == RESIZE_NEAREST) { /* one tap: the one of weight 1 */
        for (int64_t p = 0; p < out; p++)
            idx[p] = wt[out + p] != 0 ? idx[p * n + 1] : idx[p * n];
        y = hb_gather(x, hb_tensor_fill_typed(HB_I64, idx, &(hb_shape){1, {out}}), axis);
    } else {
        hb_shape ws = {.ndim = x->shape.ndim};
        for (int d = 0; d < ws.ndim; d++)
            ws.dim[d] = d == axis ? out : 1;
        int64_t *tap = hb_malloc(sizeof(int64_t) * (size_t)out + 1);
        for (int k = 0; tap && k < n; k++) {
            for (int64_t p = 0; p < out; p++)
                tap[p] = idx[p * n + k];
            hb_tensor *g = hb_gather(x, hb_tensor_fill_typed(HB_I64, tap, &(hb_shape){1, {out}}), axis);
            hb_tensor *term = hb_mul(g, hb_tensor_fill_typed(HB_F32, wt + k * out, &ws));
            y = k ? hb_add(y, term) : term;
        }
        if (!tap)
            call_fail(c, HB_ERR_NOMEM, "out of memory");
        hb_free(tap);
        if (y && any_outside) { /* tf_crop_and_resize: the extrapolation value there */
            hb_tensor *k = hb_tensor_fill_typed(HB_F32, keep, &ws);
            y = hb_add(hb_mul(y, k), hb_mul_scalar(hb_rsub_scalar(k, 1.0f), (float)o->extrapolation));
        }
    }
    hb_free(idx), hb_free(wt), hb_free(keep);
    return y;
}

/* Resize (opset 10: X, scales; 11 on: X, roi, scales, sizes) and Upsample (scales as an
 * attribute at opset 7, an input from 9): each axis whose size changes resized in turn. */
static bool run_resize(onnx_call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    bool upsample = !strcmp(c->n->op->type, "Upsample"), v10 = upsample || c->m->opset < 11;
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = x->shape.ndim, nscales = 0, nsizes = 0, nroi = 0;
    double scales[HB_MAX_DIMS], sizes[HB_MAX_DIMS], roi[2 * HB_MAX_DIMS];
    size_t nattr = 0;
    const float *fattr = NULL;
    const Onnx__AttributeProto *sa = onnx_attr(p, "scales");
    if (sa)
        fattr = sa->floats, nattr = sa->n_floats;
    for (size_t k = 0; k < nattr && k < HB_MAX_DIMS; k++)
        scales[k] = fattr[k];
    nscales = (int)(nattr < HB_MAX_DIMS ? nattr : HB_MAX_DIMS);
    if (!sa && (!host_values(c, v10 ? 1 : 2, scales, HB_MAX_DIMS, &nscales) ||
                (!v10 && !host_values(c, 3, sizes, HB_MAX_DIMS, &nsizes)) ||
                (!v10 && !host_values(c, 1, roi, 2 * HB_MAX_DIMS, &nroi))))
        return false;
    if ((nsizes && nsizes != nd) || (!nsizes && nscales != nd))
        return call_fail(c, HB_ERR_SHAPE, "%d %s for an input of %d dims", nsizes ? nsizes : nscales,
                         nsizes ? "sizes" : "scales", nd), false;
    resize_opts o = {RESIZE_NEAREST, v10 ? "asymmetric" : "half_pixel",
                     v10 ? "floor" : "round_prefer_floor",
                     onnx_attr_float(p, "cubic_coeff_a", -0.75f),
                     onnx_attr_float(p, "extrapolation_value", 0.0f),
                     onnx_attr_int(p, "exclude_outside", 0) != 0};
    const Onnx__AttributeProto *a = onnx_attr(p, "coordinate_transformation_mode");
    char coords[32] = "", nearest[32] = "";
    if (a && a->has_s) {
        snprintf(coords, sizeof coords, "%.*s", (int)a->s.len, (const char *)a->s.data);
        o.coords = coords;
    }
    if ((a = onnx_attr(p, "nearest_mode")) && a->has_s) {
        snprintf(nearest, sizeof nearest, "%.*s", (int)a->s.len, (const char *)a->s.data);
        o.nearest = nearest;
    }
    o.mode = onnx_attr_string_is(p, "mode", "linear") || onnx_attr_string_is(p, "mode", "bilinear")
                 ? RESIZE_LINEAR
             : onnx_attr_string_is(p, "mode", "cubic") ? RESIZE_CUBIC
                                                       : RESIZE_NEAREST;
    bool crop = !strcmp(o.coords, "tf_crop_and_resize");
    if (crop && nroi != 2 * nd)
        return call_fail(c, HB_ERR_SHAPE, "tf_crop_and_resize needs a roi of %d values, not %d",
                         2 * nd, nroi), false;
    hb_tensor *y = x;
    for (int d = 0; y && d < nd; d++) {
        int64_t in = x->shape.dim[d];
        double scale = nsizes ? sizes[d] / (double)in : scales[d];
        /* Checked as a double before the cast: a fuzzed scale of 1e30 must be an error, not a
         * float-to-integer overflow. */
        double want = nsizes ? (double)sizes[d] : floor(scale * (double)in);
        if (!(scale > 0) || !(want >= 1 && want <= (double)(1 << 24)))
            return call_fail(c, HB_ERR_ARG, "axis %d of %lld to %g (scale %g)", d,
                             (long long)in, want, scale), false;
        int64_t out = (int64_t)want;
        double r0 = crop ? roi[d] : 0, r1 = crop ? roi[nd + d] : 1;
        if (out != in || scale != 1 || (crop && (r0 != 0 || r1 != 1)))
            y = resize_axis(c, y, d, out, scale, &o, r0, r1);
    }
    return set_t(c, 0, y == x ? hb_frame_adopt(identity(x)) : y);
}

static hb_status check_resize(const onnx_model *m, const Onnx__NodeProto *p)
{
    static const char *const modes[] = {"nearest", "linear", "cubic", "bilinear"};
    static const char *const coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                         "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    struct { const char *attr; const char *const *ok; int n; } rules[] = {
        {"mode", modes, strcmp(p->op_type, "Upsample") == 0 ? 4 : 3}, /* bilinear: Upsample-7's */
        {"coordinate_transformation_mode", coords, 6},
        {"nearest_mode", nearest, 4}};
    for (size_t r = 0; r < HB_ARRAY_LEN(rules); r++) {
        if (!onnx_attr(p, rules[r].attr))
            continue;
        bool known = false;
        for (int k = 0; k < rules[r].n; k++)
            known |= onnx_attr_string_is(p, rules[r].attr, rules[r].ok[k]);
        char list[256] = "";
        for (int k = 0; k < rules[r].n; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "",
                     rules[r].ok[k]);
        if (!known)
            return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "%s is none of %s", rules[r].attr,
                                  list);
    }
    if (!strcmp(p->op_type, "Upsample") && m->opset < 9 && !onnx_attr(p, "scales"))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "no scales attribute (an input from opset 9)");
    if (!strcmp(p->op_type, "Resize") && m->opset < 11 && onnx_attr(p, "coordinate_transformation_mode"))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "coordinate_transformation_mode before opset 11");
    return HB_OK;
}

/* ---- control flow: If -------------------------------------------------------------------- */

/* Slot s as having no value: a branch's tensors belong to its node's frame, which ends when the
 * node returns, and host integers cached from a tensor (in_ints) would be stale on a Loop's
 * next round. */
static void forget_slot(onnx_call *c, int s)
{
    c->t[s] = NULL;
    hb_free(c->iv[s].v);
    c->iv[s] = (onnx_ints){0};
}

static void forget_branch(onnx_call *c, const onnx_branch *b)
{
    for (int j = 0; j < b->nin; j++)
        forget_slot(c, b->in[j]);
    for (int k = b->from; k < b->to; k++)
        for (int j = 0; j < c->m->nodes[k].nout; j++)
            if (c->m->nodes[k].out[j] >= 0)
                forget_slot(c, c->m->nodes[k].out[j]);
}

/* An If on a value the call computes is data-dependent control flow: its condition goes
 * through hb_test, so a traced call keeps a guard and each branch taken gets a plan of its
 * own. A condition of host integers (from shapes or constants) picks its branch unguarded. */
static bool run_if(onnx_call *c)
{
    int64_t numel;
    bool take_then;
    if (holds_ints(c, 0)) {
        const onnx_ints *v = in_ints(c, 0);
        if (!v)
            return false;
        numel = v->n, take_then = numel == 1 && v->v[0] != 0;
    } else {
        hb_tensor *cond = in_t(c, 0);
        if (!cond)
            return false;
        numel = cond->numel;
        take_then = numel == 1 && hb_test(cond);
    }
    if (numel != 1)
        return call_fail(c, HB_ERR_SHAPE, "the condition has %lld elements (it needs one)",
                         (long long)numel), false;
    const onnx_node *n = c->n;
    const onnx_branch *b = &n->branch[take_then ? 0 : 1];
    if (!onnx_run_nodes(c, b->from, b->to))
        return false;
    bool ok = true;
    for (int j = 0; ok && j < n->nout; j++) {
        int s = b->out[j];
        const onnx_ints *v = onnx_slot_ints(c, s);
        if (n->out[j] < 0)
            continue;
        if (v && c->m->slots[n->out[j]].is_int) {
            ok = onnx_ints_copy(&c->iv[n->out[j]], v);
        } else if (v) { /* the other branch makes a tensor here */
            ok = set_t(c, j, onnx_ints_tensor(v));
        } else if (c->t[s]) { /* the branch's own value, or one of the outer graph */
            ok = set_t(c, j, hb_frame_adopt(hb_tensor_retain(c->t[s])));
        } else {
            ok = call_fail(c, HB_ERR_STATE, "the %s branch made no output %d",
                           take_then ? "then" : "else", j) == HB_OK;
        }
    }
    forget_branch(c, b);
    return ok;
}

/* An output is host integers when both branches make integers there. */
static hb_status load_if(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    for (int k = 0; k < 2; k++)
        if (n->branch[k].nin || n->branch[k].nout != n->nout)
            return onnx_node_fail(m, n->p, HB_ERR_FORMAT, "its %s branch has %d inputs and %d "
                                  "outputs (none, and %d as the node)", k ? "else" : "then",
                                  n->branch[k].nin, n->branch[k].nout, n->nout);
    for (int j = 0; j < n->nout; j++) {
        bool ints = n->out[j] >= 0;
        for (int k = 0; k < 2 && ints; k++) {
            const onnx_slot *s = &m->slots[n->branch[k].out[j]];
            ints = s->kind == ONNX_SLOT_INTS || s->is_int;
        }
        if (ints)
            m->slots[n->out[j]].is_int = true;
    }
    return HB_OK;
}

/* ---- control flow: Loop ------------------------------------------------------------------ */

enum { LOOP_ROUNDS = 1 << 20 }; /* a Loop's rounds in one call: each is traced ops */

/* A value of a Loop's state between rounds: a tensor (of the Loop node's frame) or host
 * integers (owned here). */
typedef struct loop_value {
    hb_tensor *t;
    onnx_ints iv;
} loop_value;

/* Slot s's value into v (host integers copied); false if it has none. */
static bool take_value(onnx_call *c, int s, loop_value *v)
{
    const onnx_ints *iv = onnx_slot_ints(c, s);
    v->t = iv ? NULL : c->t[s];
    if (iv)
        return onnx_ints_copy(&v->iv, iv);
    hb_free(v->iv.v);
    v->iv = (onnx_ints){0};
    return v->t != NULL;
}

/* v as the value of slot s for the round about to run. */
static bool give_value(onnx_call *c, int s, const loop_value *v)
{
    forget_slot(c, s);
    if (v->t)
        return (c->t[s] = v->t) != NULL;
    return onnx_ints_copy(&c->iv[s], &v->iv);
}

/* Whether v holds true: host integers on the host; a tensor through hb_test, so that a
 * condition the body computes is a guard on each round (and rounds that repeat the same ops
 * are lifted into one loop node by the lift_loops pass). */
static bool value_true(onnx_call *c, const loop_value *v, bool *out)
{
    int64_t numel = v->t ? v->t->numel : v->iv.n;
    if (numel != 1)
        return call_fail(c, HB_ERR_SHAPE, "the loop's condition has %lld elements (it needs "
                         "one)", (long long)numel) == HB_OK;
    *out = v->t ? hb_test(v->t) : v->iv.v[0] != 0;
    return hb_last_status() == HB_OK;
}

/* ONNX's Loop (M, cond, v...) with body (iteration, cond, v...) -> (cond, v..., scans...):
 * run round by round while the iteration is below M and cond holds; the last v... are the
 * first outputs, each round's scans stacked along a new first axis the others. The rounds run
 * as traced ops: a plan is per trip count unless the rounds are a lifted loop. */
static bool run_loop(onnx_call *c)
{
    const onnx_node *n = c->n;
    const onnx_branch *b = &n->branch[0];
    int nv = n->nin - 2, nscan = b->nout - 1 - nv;
    int64_t trips = INT64_MAX;
    if (has_in(c, 0)) {
        const onnx_ints *m = in_ints(c, 0);
        if (!m)
            return false;
        if (m->n != 1)
            return call_fail(c, HB_ERR_SHAPE, "the trip count has %lld elements (it needs one)",
                             (long long)m->n) == HB_OK;
        trips = m->v[0];
    }
    loop_value state[ONNX_MAX_CARRIED + 1] = {{0}}; /* cond, then v... */
    hb_tensor **scans = hb_calloc((size_t)(nscan > 0 ? nscan : 1) * 64, sizeof *scans);
    int64_t cap = 64, rounds = 0;
    bool ok = scans != NULL;
    if (ok && has_in(c, 1)) {
        ok = take_value(c, n->in[1], &state[0]);
    } else if (ok) { /* no condition: true */
        state[0].iv = (onnx_ints){.v = hb_malloc(sizeof(int64_t)), .n = 1};
        if ((ok = state[0].iv.v != NULL))
            state[0].iv.v[0] = 1;
    }
    for (int j = 0; ok && j < nv; j++)
        ok = take_value(c, n->in[2 + j], &state[1 + j]);
    for (bool more; ok && rounds < trips && (ok = value_true(c, &state[0], &more)) && more;
         rounds++) {
        if (rounds == LOOP_ROUNDS) {
            ok = call_fail(c, HB_ERR_STATE, "%d rounds without the condition failing",
                           LOOP_ROUNDS) == HB_OK;
            break;
        }
        loop_value it = {.iv = {.v = &rounds, .n = 1}};
        ok = give_value(c, b->in[0], &it);
        for (int j = 0; ok && j < 1 + nv && 1 + j < b->nin; j++)
            ok = give_value(c, b->in[1 + j], &state[j]);
        ok = ok && onnx_run_nodes(c, b->from, b->to);
        for (int j = 0; ok && j < 1 + nv; j++)
            ok = take_value(c, b->out[j], &state[j]);
        if (ok && rounds == cap) {
            hb_tensor **grown = hb_realloc(scans, sizeof *scans * (size_t)(2 * cap * nscan + 1));
            ok = grown != NULL;
            scans = ok ? grown : scans;
            /* round r's scan k is at r·nscan + k: the layout stays when the array grows */
            cap *= 2;
        }
        for (int k = 0; ok && k < nscan; k++) {
            int s = b->out[1 + nv + k];
            const onnx_ints *iv = onnx_slot_ints(c, s);
            hb_tensor *t = iv ? onnx_ints_tensor(iv) : c->t[s];
            ok = t != NULL;
            hb_shape s1 = {.ndim = t ? t->shape.ndim + 1 : 1, .dim = {1}};
            for (int d = 0; t && d < t->shape.ndim && d + 1 < HB_MAX_DIMS; d++)
                s1.dim[d + 1] = t->shape.dim[d];
            if (ok) /* a new first axis of one */
                scans[rounds * nscan + k] = hb_reshape(t, s1.ndim, s1.dim);
            ok = ok && scans[rounds * nscan + k];
        }
    }
    for (int j = 0; ok && j < nv; j++) {
        const loop_value *v = &state[1 + j];
        if (n->out[j] < 0)
            continue;
        if (v->t)
            ok = set_t(c, j, hb_frame_adopt(hb_tensor_retain(v->t)));
        else if (c->m->slots[n->out[j]].is_int)
            ok = onnx_ints_copy(&c->iv[n->out[j]], &v->iv);
        else
            ok = set_t(c, j, onnx_ints_tensor(&v->iv));
    }
    if (ok && nscan && !rounds)
        ok = call_fail(c, HB_ERR_UNSUPPORTED, "no round ran, so its scan outputs have no "
                       "shape") == HB_OK;
    for (int k = 0; ok && k < nscan; k++) {
        hb_tensor **parts = hb_malloc(sizeof *parts * (size_t)rounds + 1);
        for (int64_t r = 0; parts && r < rounds; r++)
            parts[r] = scans[r * nscan + k];
        ok = parts && n->out[nv + k] >= 0 ? set_t(c, nv + k, hb_concat((int)rounds, parts, 0))
                                          : parts != NULL;
        hb_free(parts);
    }
    for (int j = 0; j < 1 + nv; j++)
        hb_free(state[j].iv.v);
    hb_free(scans);
    forget_branch(c, b);
    return ok;
}

/* The body takes the iteration number, the condition and each carried value, and gives the
 * condition, each carried value and the scans; a carried output is host integers when the
 * body's is. */
static hb_status load_loop(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    const onnx_branch *b = &n->branch[0];
    int nv = n->nin - 2;
    if (b->nin != n->nin || b->nout < 1 + nv || n->nout != b->nout - 1)
        return onnx_node_fail(m, n->p, HB_ERR_FORMAT, "its body has %d inputs and %d outputs; "
                              "%d carried values need %d inputs and at least %d outputs, and the "
                              "node %d outputs", b->nin, b->nout, nv, nv + 2, nv + 1, b->nout - 1);
    for (int j = 0; j < nv; j++)
        if (n->out[j] >= 0)
            m->slots[n->out[j]].is_int = m->slots[b->out[1 + j]].kind == ONNX_SLOT_INTS ||
                                         m->slots[b->out[1 + j]].is_int;
    return HB_OK;
}

/* ---- recurrent nets: LSTM and GRU, step by step over the sequence the call brings -------- */

/* Direction d's part of a [dirs, ...] weight, without the leading axis. */
static hb_tensor *dir_part(hb_tensor *w, int d)
{
    hb_tensor *p = w ? hb_slice(w, 0, d, 1) : NULL;
    return p ? hb_reshape(p, p->shape.ndim - 1, p->shape.dim + 1) : NULL;
}

/* Part k of the gates (each hidden wide) along axis 1. */
static hb_tensor *gate(hb_tensor *g, int k, int64_t hidden)
{
    return hb_slice(g, 1, k * hidden, hidden);
}

typedef struct rnn_dir {
    hb_tensor *xw;         /* [seq, batch, gates·hidden]: every step's input term, with W's bias */
    hb_tensor *r, *rb, *p; /* R [gates·hidden, hidden], R's bias (GRU), peepholes (LSTM) */
    hb_tensor *h, *cell;   /* the state */
} rnn_dir;

/* One LSTM step (ONNX's gate order i, o, f, c; default activations). */
static void lstm_step(rnn_dir *s, hb_tensor *xt, int64_t hidden)
{
    hb_tensor *g = hb_add(xt, hb_linear_nobias(s->h, s->r));
    hb_tensor *i = gate(g, 0, hidden), *o = gate(g, 1, hidden), *f = gate(g, 2, hidden);
    if (s->p) { /* peepholes: i and f see the old cell, o the new */
        i = hb_add(i, hb_mul(s->cell, hb_slice(s->p, 0, 0, hidden)));
        f = hb_add(f, hb_mul(s->cell, hb_slice(s->p, 0, 2 * hidden, hidden)));
    }
    hb_tensor *cand = hb_tanh(gate(g, 3, hidden));
    s->cell = hb_add(hb_mul(hb_sigmoid(f), s->cell), hb_mul(hb_sigmoid(i), cand));
    if (s->p)
        o = hb_add(o, hb_mul(s->cell, hb_slice(s->p, 0, hidden, hidden)));
    s->h = hb_mul(hb_sigmoid(o), hb_tanh(s->cell));
}

/* One step of ONNX's RNN (default activation): h = tanh(x·Wᵀ + Wb + h·Rᵀ + Rb). */
static void rnn_step(rnn_dir *s, hb_tensor *xt)
{
    s->h = hb_tanh(hb_add(xt, hb_linear_nobias(s->h, s->r)));
}

/* One GRU step (gate order z, r, h); linear_before_reset applies r after R's product, as
 * PyTorch's GRU does, else before it. */
static void gru_step(rnn_dir *s, hb_tensor *xt, int64_t hidden, bool before_reset)
{
    hb_tensor *hr = hb_linear_nobias(s->h, s->r); /* all three gates' R terms */
    hb_tensor *rb = s->rb;
    hb_tensor *hzr = hb_slice(hr, 1, 0, 2 * hidden);
    if (rb)
        hzr = hb_add(hzr, hb_slice(rb, 0, 0, 2 * hidden));
    hb_tensor *zr = hb_sigmoid(hb_add(hb_slice(xt, 1, 0, 2 * hidden), hzr));
    hb_tensor *z = gate(zr, 0, hidden), *r = gate(zr, 1, hidden), *hh;
    hb_tensor *rbh = rb ? hb_slice(rb, 0, 2 * hidden, hidden) : NULL;
    if (before_reset) {
        hh = gate(hr, 2, hidden);
        hh = hb_mul(r, rbh ? hb_add(hh, rbh) : hh);
    } else {
        hb_tensor *rh = hb_slice(s->r, 0, 2 * hidden, hidden);
        hh = hb_linear_nobias(hb_mul(r, s->h), rh);
        hh = rbh ? hb_add(hh, rbh) : hh;
    }
    hb_tensor *cand = hb_tanh(hb_add(gate(xt, 2, hidden), hh));
    /* (1 − z)·h̃ + z·h = h̃ + z·(h − h̃) */
    s->h = hb_add(cand, hb_mul(z, hb_sub(s->h, cand)));
}

typedef enum rnn_kind { RNN_TANH, RNN_GRU, RNN_LSTM } rnn_kind; /* 1, 3 and 4 gates */

/* RNN, LSTM and GRU: inputs X, W, R, B, sequence_lens, initial_h (and LSTM's initial_c, P);
 * outputs Y [seq, dirs, batch, hidden], Y_h (and LSTM's Y_c) [dirs, batch, hidden], with
 * layout 1 putting batch first in X, Y, Y_h and Y_c. Each step is hybrid's ops, so the trace
 * holds every step of the sequence the call brings, alike but for the slice of X each reads:
 * the lift_scans pass makes them one scan node per direction. */
static bool run_recurrent(onnx_call *c, rnn_kind kind)
{
    const Onnx__NodeProto *p = c->n->p;
    bool lstm = kind == RNN_LSTM;
    int gates = kind == RNN_LSTM ? 4 : kind == RNN_GRU ? 3 : 1;
    bool batch_first = onnx_attr_int(p, "layout", 0) != 0;
    int64_t hidden = onnx_attr_int(p, "hidden_size", 0);
    hb_tensor *x = in_t(c, 0), *w = x ? in_t(c, 1) : NULL, *r = w ? in_t(c, 2) : NULL;
    if (!r)
        return false;
    if (batch_first)
        x = hb_transpose(x, 0, 1);
    if (!x || hb_tensor_ndim(x) != 3 || hb_tensor_ndim(w) != 3 || hb_tensor_ndim(r) != 3)
        return call_fail(c, HB_ERR_SHAPE, "X, W and R must have 3 dims"), false;
    int64_t seq = hb_tensor_dim(x, 0), batch = hb_tensor_dim(x, 1), in = hb_tensor_dim(x, 2);
    int dirs = (int)hb_tensor_dim(w, 0);
    bool reverse = onnx_attr_string_is(p, "direction", "reverse");
    if (dirs != (onnx_attr_string_is(p, "direction", "bidirectional") ? 2 : 1) ||
        hb_tensor_dim(w, 1) != gates * hidden || hb_tensor_dim(w, 2) != in ||
        hb_tensor_dim(r, 0) != dirs || hb_tensor_dim(r, 1) != gates * hidden ||
        hb_tensor_dim(r, 2) != hidden)
        return call_fail(c, HB_ERR_SHAPE, "W [%lld, %lld, %lld] and R [%lld, %lld, %lld] do not "
                         "fit X's %lld features, hidden_size %lld and the direction",
                         (long long)hb_tensor_dim(w, 0), (long long)hb_tensor_dim(w, 1),
                         (long long)hb_tensor_dim(w, 2), (long long)hb_tensor_dim(r, 0),
                         (long long)hb_tensor_dim(r, 1), (long long)hb_tensor_dim(r, 2),
                         (long long)in, (long long)hidden), false;
    if (has_in(c, 4)) { /* sequence_lens: hybrid runs whole sequences */
        const onnx_ints *len = in_ints(c, 4);
        for (int64_t i = 0; len && i < len->n; i++)
            if (len->v[i] != seq)
                return call_fail(c, HB_ERR_UNSUPPORTED, "sequence_lens[%lld] is %lld, shorter "
                                 "than the sequence (%lld): only whole sequences",
                                 (long long)i, (long long)len->v[i], (long long)seq), false;
        if (!len)
            return false;
    }
    hb_tensor *b = has_in(c, 3) ? in_t(c, 3) : NULL;
    hb_tensor *h0 = has_in(c, 5) ? in_t(c, 5) : NULL;
    hb_tensor *c0 = lstm && has_in(c, 6) ? in_t(c, 6) : NULL;
    hb_tensor *peep = lstm && has_in(c, 7) ? in_t(c, 7) : NULL;
    if ((has_in(c, 3) && !b) || (has_in(c, 5) && !h0) || (lstm && has_in(c, 6) && !c0) ||
        (lstm && has_in(c, 7) && !peep))
        return false;
    if (batch_first && h0)
        h0 = hb_transpose(h0, 0, 1);
    if (batch_first && c0)
        c0 = hb_transpose(c0, 0, 1);
    hb_tensor *ys[2], *hs[2], *cs[2], *steps[4096];
    if (seq < 1 || seq > 4096)
        return call_fail(c, HB_ERR_UNSUPPORTED, "a sequence of %lld steps (1 to 4096)",
                         (long long)seq), false;
    bool before_reset = onnx_attr_int(p, "linear_before_reset", 0) != 0;
    hb_tensor *rows = hb_reshape(x, 2, (int64_t[]){seq * batch, in});
    for (int d = 0; d < dirs; d++) {
        rnn_dir s = {.r = dir_part(r, d), .p = peep ? dir_part(peep, d) : NULL};
        hb_tensor *bd = b ? dir_part(b, d) : NULL; /* [Wb, Rb], each gates·hidden */
        hb_tensor *wb = bd ? hb_slice(bd, 0, 0, gates * hidden) : NULL;
        hb_tensor *rb = bd ? hb_slice(bd, 0, gates * hidden, gates * hidden) : NULL;
        if (kind != RNN_GRU && bd) /* both biases add to every gate: one sum */
            wb = hb_add(wb, rb), rb = NULL;
        s.rb = rb;
        hb_tensor *xw = wb ? hb_linear(rows, dir_part(w, d), wb)
                           : hb_linear_nobias(rows, dir_part(w, d));
        s.xw = hb_reshape(xw, 3, (int64_t[]){seq, batch, gates * hidden});
        s.h = h0 ? dir_part(h0, d) : hb_zeros(2, (int64_t[]){batch, hidden});
        s.cell = lstm ? (c0 ? dir_part(c0, d) : hb_zeros(2, (int64_t[]){batch, hidden})) : NULL;
        bool back = reverse || d == 1;
        for (int64_t k = 0; k < seq; k++) {
            int64_t t = back ? seq - 1 - k : k;
            hb_tensor *xt = hb_reshape(hb_slice(s.xw, 0, t, 1), 2,
                                       (int64_t[]){batch, gates * hidden});
            if (kind == RNN_LSTM)
                lstm_step(&s, xt, hidden);
            else if (kind == RNN_GRU)
                gru_step(&s, xt, hidden, before_reset);
            else
                rnn_step(&s, xt);
            if (!s.h)
                return false;
            steps[t] = hb_reshape(s.h, 4, (int64_t[]){1, 1, batch, hidden});
        }
        ys[d] = hb_concat((int)seq, steps, 0);
        hs[d] = hb_reshape(s.h, 3, (int64_t[]){1, batch, hidden});
        cs[d] = lstm ? hb_reshape(s.cell, 3, (int64_t[]){1, batch, hidden}) : NULL;
    }
    hb_tensor *y = hb_concat(dirs, ys, 1), *yh = hb_concat(dirs, hs, 0);
    hb_tensor *yc = lstm ? hb_concat(dirs, cs, 0) : NULL;
    if (batch_first) { /* Y [batch, seq, dirs, hidden], Y_h and Y_c [batch, dirs, hidden] */
        y = hb_transpose(hb_transpose(y, 1, 2), 0, 1);
        yh = hb_transpose(yh, 0, 1);
        yc = lstm ? hb_transpose(yc, 0, 1) : NULL;
    }
    hb_tensor *outs[3] = {y, yh, yc};
    for (int i = 0; i < c->n->nout; i++)
        if (c->n->out[i] >= 0 && !set_t(c, i, outs[i]))
            return false;
    return true;
}

static bool run_rnn(onnx_call *c) { return run_recurrent(c, RNN_TANH); }
static bool run_lstm(onnx_call *c) { return run_recurrent(c, RNN_LSTM); }
static bool run_gru(onnx_call *c) { return run_recurrent(c, RNN_GRU); }

/* Where(condition, X, Y): of integers known now (shape computations) on the host, else the
 * where op (a host condition becomes a bool tensor). */
static bool run_where(onnx_call *c)
{
    if (holds_ints(c, 0) && holds_ints(c, 1) && holds_ints(c, 2))
        return run_ints_elementwise(c);
    hb_tensor *cond = in_t(c, 0);
    if (cond && holds_ints(c, 0))
        cond = hb_cast(cond, HB_BOOL);
    hb_tensor *ab[2];
    return cond && tensors_alike(c, 1, 2, ab) && set_t(c, 0, hb_where(cond, ab[0], ab[1]));
}

static bool run_not(onnx_call *c)
{
    if (holds_ints(c, 0)) {
        const onnx_ints *v = in_ints(c, 0);
        int64_t *r = v ? new_ints(c, 0, &v->shape) : NULL;
        for (int64_t i = 0; r && i < v->n; i++)
            r[i] = !v->v[i];
        return r != NULL;
    }
    return set_t(c, 0, hb_logical_not(in_t(c, 0)));
}

static bool run_gather_nd(onnx_call *c)
{
    return set_t(c, 0, hb_gather_nd(in_t(c, 0), in_t(c, 1)));
}

/* ScatterND: reduction none or add (opset 16); mul, max and min are not done here */
static bool run_scatter_nd(onnx_call *c)
{
    bool add = onnx_attr_string_is(c->n->p, "reduction", "add");
    hb_tensor *x = in_t(c, 0), *u = in_t(c, 2);
    if (u && x && holds_ints(c, 2) && x->dtype != u->dtype) /* host updates: the data's dtype */
        u = hb_cast(u, x->dtype);
    return set_t(c, 0, hb_scatter_nd(x, in_t(c, 1), u, add));
}

static hb_status check_scatter_nd(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (!onnx_attr_string_is(p, "reduction", NULL) && !onnx_attr_string_is(p, "reduction", "none") &&
        !onnx_attr_string_is(p, "reduction", "add"))
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "a reduction other than none or add");
    return HB_OK;
}

static hb_status check_batch_dims(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (onnx_attr_int(p, "batch_dims", 0) != 0)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "batch_dims %lld (only 0)",
                              (long long)onnx_attr_int(p, "batch_dims", 0));
    return HB_OK;
}

static bool run_gather_elements(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0), *idx = in_t(c, 1);
    return x && idx &&
           set_t(c, 0, hb_gather_elements(x, idx, (int)onnx_attr_int(c->n->p, "axis", 0)));
}

static bool run_arg(onnx_call *c, bool max)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int axis = axis_of(c, onnx_attr_int(c->n->p, "axis", 0), hb_tensor_ndim(x));
    bool keep = onnx_attr_int(c->n->p, "keepdims", 1) != 0;
    bool last = onnx_attr_int(c->n->p, "select_last_index", 0) != 0;
    return axis >= 0 && set_t(c, 0, hb_arg_extreme(x, axis, keep, max, last));
}

static bool run_argmax(onnx_call *c) { return run_arg(c, true); }

/* OneHot(indices, depth, [off, on]) with a new axis of depth: on where the position is the
 * index (negative ones count from the end), off elsewhere. */
static bool run_one_hot(onnx_call *c)
{
    hb_tensor *ids = in_t(c, 0), *values = in_t(c, 2);
    double depth[1];
    int nd = 0;
    if (!ids || !values || !host_values(c, 1, depth, 1, &nd))
        return false;
    if (nd != 1 || !(depth[0] >= 1) || values->numel != 2)
        return call_fail(c, HB_ERR_SHAPE, "depth must be one positive number and values two "
                         "(off, on)"), false;
    int rank = ids->shape.ndim + 1;
    int axis = axis_of(c, onnx_attr_int(c->n->p, "axis", -1), rank);
    if (axis < 0)
        return false;
    hb_shape s = {.ndim = rank};
    for (int d = 0, k = 0; d < rank; d++)
        s.dim[d] = d == axis ? 1 : ids->shape.dim[k++];
    hb_tensor *id = ids->dtype == HB_I64 ? ids : hb_cast(ids, HB_I64);
    id = hb_reshape(id, s.ndim, s.dim);
    hb_tensor *n = hb_cast(hb_scalar((float)depth[0]), HB_I64);
    /* a negative index counts from the end: where id < 0, id + depth */
    id = hb_where(hb_less(id, hb_cast(hb_scalar(0.0f), HB_I64)), hb_add(id, n), id);
    hb_tensor *hot = hb_equal(positions_along((int64_t)depth[0], axis, rank), id);
    hb_tensor *off = hb_slice(values, 0, 0, 1), *on = hb_slice(values, 0, 1, 1);
    return set_t(c, 0, hb_where(hot, hb_reshape(on, 0, NULL), hb_reshape(off, 0, NULL)));
}
static bool run_argmin(onnx_call *c) { return run_arg(c, false); }

/* ---- checks at load: attribute values hybrid does not implement, opset rules ------------- */

/* A convolution's or pool's window: auto_pad, the kernel's rank, and sizes that fit hybrid's
 * ints (kernel, strides, dilations >= 1, pads >= 0, group >= 1). */
static hb_status check_window(const onnx_model *m, const Onnx__NodeProto *p)
{
    static const char *const auto_pads[] = {"NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"};
    bool known_auto_pad = !onnx_attr(p, "auto_pad");
    for (size_t i = 0; i < HB_ARRAY_LEN(auto_pads); i++)
        known_auto_pad = known_auto_pad || onnx_attr_string_is(p, "auto_pad", auto_pads[i]);
    if (!known_auto_pad)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "auto_pad is none of NOTSET, VALID, "
                              "SAME_UPPER, SAME_LOWER");
    if (onnx_attr(p, "auto_pad") && !onnx_attr_string_is(p, "auto_pad", "NOTSET") &&
        onnx_attr(p, "pads"))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "auto_pad with pads");
    size_t n;
    if (onnx_attr_ints(p, "kernel_shape", &n) && n != 2 && n != 1)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "a %zu-D kernel (only 1-D and 2-D)", n);
    if (onnx_attr_int(p, "storage_order", 0) != 0)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "storage_order 1");
    static const struct { const char *name; int64_t lo; } ranges[] = {
        {"kernel_shape", 1}, {"strides", 1}, {"dilations", 1}, {"pads", 0},
        {"output_padding", 0}, {"output_shape", 1}};
    for (size_t r = 0; r < HB_ARRAY_LEN(ranges); r++) {
        size_t nv;
        const int64_t *v = onnx_attr_ints(p, ranges[r].name, &nv);
        for (size_t i = 0; v && i < nv; i++)
            if (v[i] < ranges[r].lo || v[i] > INT_MAX)
                return onnx_node_fail(m, p, HB_ERR_FORMAT, "%s value %lld out of range",
                                      ranges[r].name, (long long)v[i]);
    }
    int64_t group = onnx_attr_int(p, "group", 1);
    if (onnx_attr(p, "group") && (group < 1 || group > INT_MAX))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "group %lld", (long long)group);
    return HB_OK;
}

/* A pool's window as a convolution's, and a kernel no pad reaches across, without dilations. */
static hb_status check_pool(const onnx_model *m, const Onnx__NodeProto *p)
{
    hb_status st = check_window(m, p);
    if (st != HB_OK)
        return st;
    size_t n, np, nd;
    const int64_t *k = onnx_attr_ints(p, "kernel_shape", &n);
    if (!k)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "no kernel_shape");
    const int64_t *pads = onnx_attr_ints(p, "pads", &np);
    const int64_t *dil = onnx_attr_ints(p, "dilations", &nd);
    for (size_t i = 0; pads && i < np && np == 2 * n; i++)
        if (pads[i] >= k[i % n]) /* a window over padding alone */
            return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "padding %lld with a kernel of "
                                  "%lld (windows over padding alone)", (long long)pads[i],
                                  (long long)k[i % n]);
    for (size_t i = 0; dil && i < nd; i++)
        if (dil[i] != 1)
            return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "pool dilations (only 1)");
    return HB_OK;
}

/* Opset 6's broadcast and axis attributes (Gemm reads only broadcast): from opset 7 NumPy's
 * rules hold instead. */
static hb_status check_broadcast(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (m->opset >= 7 && (onnx_attr(p, "broadcast") || onnx_attr(p, "axis")))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "broadcast and axis attributes (opset 6 "
                              "and before)");
    return HB_OK;
}

/* Inference only: the running statistics are read, never updated. */
static hb_status check_batch_norm(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (!(onnx_attr_float(p, "epsilon", 1e-5f) > 0.0f))
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "epsilon %g (must be positive)",
                              onnx_attr_float(p, "epsilon", 1e-5f));
    if (onnx_attr_int(p, "training_mode", 0) != 0 || onnx_attr_int(p, "spatial", 1) != 1 ||
        p->n_output > 1)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "training mode (only inference, one "
                              "output)");
    if (onnx_attr_int(p, "is_test", 1) == 0)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "training mode (is_test 0)");
    return HB_OK;
}

static hb_status check_dropout(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (onnx_attr_int(p, "is_test", 1) == 0)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "training (is_test 0)");
    return HB_OK;
}

/* Whether slot s is a constant of one element equal to v. */
static bool constant_is(const onnx_model *m, int s, double v)
{
    const onnx_slot *sl = s >= 0 ? &m->slots[s] : NULL;
    return sl && ((sl->kind == ONNX_SLOT_TENSOR && sl->t->numel == 1 &&
                   hb_dtype_get(sl->t->dtype, sl->t->data, 0) == v) ||
                  (sl->kind == ONNX_SLOT_INTS && sl->iv.n == 1 && (double)sl->iv.v[0] == v));
}

/* training_mode (input 2, opset 12) must be a constant false — inference only — unless the
 * ratio is a constant 0, when training drops nothing either (torchvision's Swin exports so). */
static hb_status load_dropout(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    int s = n->nin > 2 ? n->in[2] : -1;
    if (s < 0 || (n->nin > 1 && constant_is(m, n->in[1], 0.0)))
        return HB_OK;
    const onnx_slot *sl = &m->slots[s];
    bool off = (sl->kind == ONNX_SLOT_TENSOR && sl->t->numel == 1 &&
                hb_dtype_get(sl->t->dtype, sl->t->data, 0) == 0) ||
               (sl->kind == ONNX_SLOT_INTS && sl->iv.n == 1 && sl->iv.v[0] == 0);
    return off ? HB_OK
               : onnx_node_fail(m, n->p, HB_ERR_UNSUPPORTED, "training_mode that is not a "
                                "constant false (only inference)");
}

/* Inference: the input itself, and a mask (if asked for) that keeps everything. */
static bool run_dropout(onnx_call *c)
{
    if (!run_identity(c))
        return false;
    if (c->n->nout < 2 || c->n->out[1] < 0)
        return true;
    hb_tensor *x = in_t(c, 0);
    hb_tensor *ones = x ? hb_ones(x->shape.ndim, x->shape.dim) : NULL;
    return set_t(c, 1, ones ? hb_cast(ones, HB_BOOL) : NULL);
}

static hb_status check_split(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (m->opset >= 13 && onnx_attr(p, "split"))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "a split attribute (an input from opset 13)");
    if (onnx_attr(p, "num_outputs") && onnx_attr_int(p, "num_outputs", 0) != (int64_t)p->n_output)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "num_outputs %lld but %zu outputs",
                              (long long)onnx_attr_int(p, "num_outputs", 0), p->n_output);
    return HB_OK;
}

/* Constant mode; pads and value are attributes before opset 11, inputs after; axes from 18. */
static hb_status check_pad(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (onnx_attr(p, "mode") && !onnx_attr_string_is(p, "mode", "constant"))
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "a mode other than constant");
    if (m->opset >= 11 && (onnx_attr(p, "pads") || onnx_attr(p, "value")))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "pads and value attributes (inputs from "
                              "opset 11)");
    if (m->opset < 11 && (p->n_input > 1 || !onnx_attr(p, "pads")))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "pads must be an attribute before opset 11");
    if (m->opset >= 11 && p->n_input < 2)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "no pads input");
    if (p->n_input > 3 && m->opset < 18)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "an axes input before opset 18");
    return HB_OK;
}

static hb_status check_clip(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (m->opset >= 11 && (onnx_attr(p, "min") || onnx_attr(p, "max")))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "min and max attributes (inputs from opset "
                              "11)");
    return HB_OK;
}

static hb_status check_layer_norm(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (onnx_attr_int(p, "stash_type", 1) != 1)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "stash_type other than float");
    return HB_OK;
}

/* The recurrent nets as hybrid runs them: default activations, no clip, no coupled input and
 * forget gates, and a hidden_size. */
static hb_status check_recurrent(const onnx_model *m, const Onnx__NodeProto *p, rnn_kind kind)
{
    static const char *const defaults[3][3] = {
        [RNN_TANH] = {"Tanh"}, [RNN_GRU] = {"Sigmoid", "Tanh"},
        [RNN_LSTM] = {"Sigmoid", "Tanh", "Tanh"}};
    static const size_t per_direction[3] = {[RNN_TANH] = 1, [RNN_GRU] = 2, [RNN_LSTM] = 3};
    const Onnx__AttributeProto *act = onnx_attr(p, "activations");
    for (size_t i = 0; act && i < act->n_strings; i++) {
        const char *want = defaults[kind][i % per_direction[kind]];
        if (act->strings[i].len != strlen(want) || memcmp(act->strings[i].data, want,
                                                          act->strings[i].len) != 0)
            return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "activation %zu is not %s (only "
                                  "the default activations)", i, want);
    }
    if (onnx_attr(p, "clip") || onnx_attr_int(p, "input_forget", 0) != 0 ||
        onnx_attr(p, "activation_alpha") || onnx_attr(p, "activation_beta"))
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "clip, input_forget and activation "
                              "parameters (only the default cell)");
    if (onnx_attr_int(p, "hidden_size", 0) < 1)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "hidden_size is missing or not positive");
    if (!onnx_attr_string_is(p, "direction", NULL) &&
        !onnx_attr_string_is(p, "direction", "forward") &&
        !onnx_attr_string_is(p, "direction", "reverse") &&
        !onnx_attr_string_is(p, "direction", "bidirectional"))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "direction is not forward, reverse or "
                              "bidirectional");
    return HB_OK;
}

static hb_status check_rnn(const onnx_model *m, const Onnx__NodeProto *p)
{
    return check_recurrent(m, p, RNN_TANH);
}

static hb_status check_lstm(const onnx_model *m, const Onnx__NodeProto *p)
{
    return check_recurrent(m, p, RNN_LSTM);
}

static hb_status check_gru(const onnx_model *m, const Onnx__NodeProto *p)
{
    return check_recurrent(m, p, RNN_GRU);
}


/* Before opset 10, starts and ends are attributes (and required); from 10, inputs. */
static hb_status check_slice(const onnx_model *m, const Onnx__NodeProto *p)
{
    bool attrs = m->opset < 10;
    if (attrs && (!onnx_attr(p, "starts") || !onnx_attr(p, "ends") || p->n_input != 1))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "before opset 10 Slice has one input and "
                              "the attributes starts and ends");
    if (!attrs && (onnx_attr(p, "starts") || onnx_attr(p, "ends") || onnx_attr(p, "axes") ||
                   p->n_input < 3))
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "from opset 10 Slice reads starts, ends, "
                              "axes and steps as inputs (at least 3)");
    return HB_OK;
}

static hb_status check_reshape(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (onnx_attr_int(p, "allowzero", 0) != 0)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "allowzero 1");
    return HB_OK;
}

/* Axes: an attribute before opset 13, an input from then on. */
static hb_status check_axes(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (m->opset >= 13 ? onnx_attr(p, "axes") != NULL : p->n_input > 1)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "axes as %s in opset %lld",
                              p->n_input > 1 ? "an input" : "an attribute", (long long)m->opset);
    return HB_OK;
}

static hb_status check_unsqueeze(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (m->opset >= 13 && p->n_input < 2)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "no axes input (opset 13 and later)");
    return check_axes(m, p);
}

static hb_status check_reduce_sum(const onnx_model *m, const Onnx__NodeProto *p)
{
    if (onnx_attr_int(p, "noop_with_empty_axes", 0) != 0)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "noop_with_empty_axes 1");
    return check_axes(m, p);
}

/* ---- loads: what needs the node's slots --------------------------------------------------- */

/* A Pad's constant value, read now: the value attribute, or a constant_value input that is a
 * one-element constant of the model (what a trace could not follow, a value that changes
 * from call to call, is refused rather than baked in). */
static hb_status load_pad(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    n->fill = m->opset < 11 ? onnx_attr_float(n->p, "value", 0.0f) : 0.0f;
    if (n->nin < 3 || n->in[2] < 0)
        return HB_OK;
    const onnx_slot *s = &m->slots[n->in[2]];
    if (s->kind != ONNX_SLOT_TENSOR || hb_tensor_numel(s->t) != 1)
        return onnx_node_fail(m, n->p, HB_ERR_UNSUPPORTED, "constant_value \"%s\" is not a "
                              "one-element constant of the model", s->name);
    n->fill = hb_tensor_cdata(s->t)[0];
    return HB_OK;
}

/* A Pow whose exponent is a one-element constant of the model (the x^2 of every LayerNorm
 * PyTorch exports): its value read now, so the node is a pow_scalar, whose x² is exact and
 * fast. */
static hb_status load_pow(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    const onnx_slot *s = &m->slots[n->in[1]];
    n->fill_rank = -1;
    if (s->kind == ONNX_SLOT_TENSOR && hb_tensor_numel(s->t) == 1)
        n->fill = hb_tensor_cdata(s->t)[0], n->fill_rank = hb_tensor_ndim(s->t);
    else if (s->kind == ONNX_SLOT_INTS && s->iv.n == 1)
        n->fill = (float)s->iv.v[0], n->fill_rank = s->iv.shape.ndim;
    return HB_OK;
}

/* The window's rank, known now if the weight is a constant or declared. */
static hb_status load_conv(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    int rank = onnx_declared_rank(m, n->in[1]);
    if (rank >= 0 && rank != 3 && rank != 4)
        return onnx_node_fail(m, n->p, HB_ERR_UNSUPPORTED, "a %d-D kernel (only 1-D and 2-D)",
                              rank - 2);
    return HB_OK;
}

/* A Constant node's value: a constant of the block (floats) or a host array (integers). */
static hb_status load_constant(hb_block *root, onnx_model *m, onnx_node *n)
{
    const Onnx__NodeProto *p = n->p;
    int s = n->out[0];
    const Onnx__AttributeProto *a = onnx_attr(p, "value");
    const Onnx__AttributeProto *vi = onnx_attr(p, "value_int"), *vis = onnx_attr(p, "value_ints");
    const Onnx__AttributeProto *vf = onnx_attr(p, "value_float");
    const Onnx__AttributeProto *vfs = onnx_attr(p, "value_floats");
    if (vi || vis) { /* integers: a host array, a scalar or 1-D */
        onnx_ints *iv = &m->slots[s].iv;
        iv->n = vi ? 1 : (int64_t)vis->n_ints;
        iv->shape = vi ? (hb_shape){.ndim = 0} : (hb_shape){.ndim = 1, .dim = {iv->n}};
        if (!(iv->v = hb_malloc(sizeof(int64_t) * (size_t)iv->n + 1)))
            return HB_ERR_NOMEM;
        for (int64_t k = 0; k < iv->n; k++)
            iv->v[k] = vi ? vi->i : vis->ints[k];
        m->slots[s].kind = ONNX_SLOT_INTS;
        return HB_OK;
    }
    if (vf || vfs) {
        int64_t count = vf ? 1 : (int64_t)vfs->n_floats;
        hb_tensor *v = hb_tensor_alloc(vf ? &(hb_shape){.ndim = 0}
                                          : &(hb_shape){.ndim = 1, .dim = {count}});
        for (int64_t k = 0; v && k < count; k++)
            v->data[k] = vf ? vf->f : vfs->floats[k];
        return v ? onnx_add_value(root, m, s, p->output[0], v, false) : hb_last_status();
    }
    if (!a || !a->t)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "a value other than a tensor or numbers");
    if (onnx_is_int_type(a->t->data_type)) {
        m->slots[s].kind = ONNX_SLOT_INTS;
        return onnx_int_values(m, a->t, &m->slots[s].iv) ? HB_OK : hb_last_status();
    }
    /* of its own dtype: a float64 constant belongs to a graph that computes in float64 */
    hb_tensor *v = onnx_typed_tensor(m, a->t, "constant");
    if (v && v->dtype == HB_BOOL && v->numel == 1)
        return onnx_host_bool(m, s, v);
    return v ? onnx_add_value(root, m, s, p->output[0], v, false) : hb_last_status();
}

/* Range of integers known at load is integers. */
static hb_status load_range(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    bool ints = true;
    for (int i = 0; i < 3; i++)
        ints = ints && (m->slots[n->in[i]].kind == ONNX_SLOT_INTS || m->slots[n->in[i]].is_int);
    m->slots[n->out[0]].is_int = ints;
    return HB_OK;
}

/* Where chooses integers when X is integers. */
static hb_status load_where(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    int x = n->in[1];
    m->slots[n->out[0]].is_int = m->slots[x].kind == ONNX_SLOT_INTS || m->slots[x].is_int;
    return HB_OK;
}

/* ConstantOfShape's value: one element, float (a tensor) or integer (a host array). */
static hb_status load_constant_of_shape(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    const Onnx__AttributeProto *a = onnx_attr(n->p, "value");
    n->fill = 0.0f;
    if (!a)
        return HB_OK;
    if (!a->t)
        return onnx_node_fail(m, n->p, HB_ERR_FORMAT, "value is not a tensor");
    if (onnx_is_int_type(a->t->data_type)) {
        onnx_ints v = {.v = NULL};
        bool ok = onnx_int_values(m, a->t, &v);
        bool one = ok && v.n == 1;
        n->fill_int = one ? v.v[0] : 0;
        hb_dtype_by_onnx(a->t->data_type, &n->fill_dtype);
        hb_free(v.v);
        if (!ok)
            return hb_last_status();
        if (!one)
            return onnx_node_fail(m, n->p, HB_ERR_FORMAT, "value has %lld elements, not 1",
                                  (long long)v.n);
        m->slots[n->out[0]].is_int = n->fill_dtype == HB_I64;
        return HB_OK;
    }
    if (a->t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return onnx_node_fail(m, n->p, HB_ERR_UNSUPPORTED, "a value of data type %d",
                              a->t->data_type);
    hb_tensor *v = onnx_typed_tensor(m, a->t, "value");
    if (!v)
        return hb_last_status();
    int64_t count = hb_tensor_numel(v);
    n->fill = count == 1 ? hb_tensor_cdata(v)[0] : 0.0f;
    hb_tensor_release(v);
    if (count != 1)
        return onnx_node_fail(m, n->p, HB_ERR_FORMAT, "value has %lld elements, not 1",
                              (long long)count);
    return HB_OK;
}

/* To any dtype hybrid has; host integers cast to int32 or int64 stay host integers. */
static hb_status load_cast(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    int64_t to = onnx_attr_int(n->p, "to", 0);
    hb_dtype d;
    if (!hb_dtype_by_onnx((int32_t)to, &d))
        return onnx_node_fail(m, n->p, HB_ERR_UNSUPPORTED, "a cast to data type %lld (hybrid "
                              "has numbers and bool, not strings or complex)", (long long)to);
    m->slots[n->out[0]].is_int = onnx_reads_ints(m, n) && (d == HB_I64 || d == HB_I32 || d == HB_BOOL);
    return HB_OK;
}



/* ---- the op table ------------------------------------------------------------------------ */

/* One row per ONNX op: type, since, inputs (min, max), max outputs, the attributes read, the
 * builder, then what it needs besides (onnx_import.h says when each part is used). Adding a
 * mapping is adding a row here, and its run_ function if none fits. */
#define KEEPS .ints = ONNX_INTS_KEEPS
#define UNARY(fn) .run = run_unary, .unary = fn
#define BINARY(fn) .run = run_binary, .binary = fn
static const onnx_op ops[] = {
    {"Identity", 1, 1, 1, 1, "", .run = run_identity, KEEPS},
    {"Dropout", 6, 1, 3, 2, "ratio seed is_test", .run = run_dropout, .check = check_dropout,
     .load = load_dropout},
    {"Relu", 6, 1, 1, 1, "", UNARY(hb_relu)},
    {"Sigmoid", 6, 1, 1, 1, "", UNARY(hb_sigmoid)},
    {"Tanh", 6, 1, 1, 1, "", UNARY(hb_tanh)},
    {"Exp", 6, 1, 1, 1, "", UNARY(hb_exp)},
    {"Log", 6, 1, 1, 1, "", UNARY(hb_log)},
    {"Abs", 6, 1, 1, 1, "", UNARY(hb_abs)},
    {"Neg", 6, 1, 1, 1, "", UNARY(hb_neg)},
    {"Sqrt", 6, 1, 1, 1, "", UNARY(hb_sqrt)},
    {"Erf", 9, 1, 1, 1, "", UNARY(hb_erf)},
    {"Sin", 7, 1, 1, 1, "", UNARY(hb_sin)},
    {"Cos", 7, 1, 1, 1, "", UNARY(hb_cos)},
    {"Floor", 6, 1, 1, 1, "", UNARY(hb_floor)},
    {"Ceil", 6, 1, 1, 1, "", UNARY(hb_ceil)},
    {"Round", 11, 1, 1, 1, "", UNARY(hb_round)},
    {"Sign", 9, 1, 1, 1, "", UNARY(hb_sign)},
    {"Pow", 7, 2, 2, 1, "", .run = run_pow, .load = load_pow},
    {"Add", 6, 2, 2, 1, "broadcast axis", BINARY(hb_add), .check = check_broadcast, KEEPS,
     .int_fn = int_add},
    {"Sub", 6, 2, 2, 1, "broadcast axis", BINARY(hb_sub), .check = check_broadcast, KEEPS,
     .int_fn = int_sub},
    {"Mul", 6, 2, 2, 1, "broadcast axis", BINARY(hb_mul), .check = check_broadcast, KEEPS,
     .int_fn = int_mul},
    {"Div", 6, 2, 2, 1, "broadcast axis", BINARY(hb_div), .check = check_broadcast, KEEPS,
     .int_fn = int_div},
    /* comparisons and logic: of integers known now on the host, else bool tensors */
    {"Equal", 7, 2, 2, 1, "", BINARY(hb_equal), .int_fn = int_equal, KEEPS},
    {"Less", 7, 2, 2, 1, "", BINARY(hb_less), .int_fn = int_less, KEEPS},
    {"Greater", 7, 2, 2, 1, "", BINARY(hb_greater), .int_fn = int_greater, KEEPS},
    {"LessOrEqual", 12, 2, 2, 1, "", BINARY(hb_less_equal), .int_fn = int_less_equal, KEEPS},
    {"GreaterOrEqual", 12, 2, 2, 1, "", BINARY(hb_greater_equal), .int_fn = int_greater_equal,
     KEEPS},
    {"And", 7, 2, 2, 1, "", BINARY(hb_logical_and), .int_fn = int_and, KEEPS},
    {"Or", 7, 2, 2, 1, "", BINARY(hb_logical_or), .int_fn = int_or, KEEPS},
    {"Xor", 7, 2, 2, 1, "", BINARY(hb_logical_xor), .int_fn = int_xor, KEEPS},
    {"Not", 1, 1, 1, 1, "", .run = run_not, KEEPS},
    {"Mod", 10, 2, 2, 1, "fmod", .run = run_mod, .int_fn = int_mod, KEEPS},
    {"Where", 9, 3, 3, 1, "", .run = run_where, .load = load_where, .int_fn = int_where},
    {"MatMul", 1, 2, 2, 1, "", .run = run_matmul},
    {"Gemm", 6, 2, 3, 1, "alpha beta broadcast transA transB", .run = run_gemm,
     .check = check_broadcast},
    {"Conv", 1, 2, 3, 1, "auto_pad dilations group kernel_shape pads strides",
     .run = run_conv, .check = check_window, .load = load_conv},
    {"ConvTranspose", 1, 2, 3, 1, "auto_pad dilations group kernel_shape output_padding "
     "output_shape pads strides", .run = run_conv_transpose, .check = check_window,
     .load = load_conv},
    {"MaxPool", 1, 1, 1, 1, "auto_pad ceil_mode dilations kernel_shape pads storage_order strides",
     .run = run_max_pool, .check = check_pool},
    {"AveragePool", 1, 1, 1, 1, "auto_pad ceil_mode count_include_pad kernel_shape pads strides",
     .run = run_avg_pool, .check = check_pool},
    {"GlobalAveragePool", 1, 1, 1, 1, "", .run = run_global_avg_pool},
    {"GlobalMaxPool", 1, 1, 1, 1, "", .run = run_global_max_pool},
    {"BatchNormalization", 6, 5, 5, 1, "epsilon is_test momentum spatial training_mode",
     .run = run_batch_norm, .check = check_batch_norm, .statistics = 1u << 3 | 1u << 4},
    {"Flatten", 1, 1, 1, 1, "axis", .run = run_flatten},
    {"Softmax", 1, 1, 1, 1, "axis", .run = run_softmax},
    {"LogSoftmax", 1, 1, 1, 1, "axis", .run = run_log_softmax},
    {"Concat", 4, 1, ONNX_VARIADIC, 1, "axis", .run = run_concat, KEEPS},
    {"Reshape", 5, 2, 2, 1, "allowzero", .run = run_reshape, .check = check_reshape},
    {"Transpose", 1, 1, 1, 1, "perm", .run = run_transpose},
    {"Unsqueeze", 1, 1, 2, 1, "axes", .run = run_unsqueeze, .check = check_unsqueeze, KEEPS},
    {"Squeeze", 1, 1, 2, 1, "axes", .run = run_squeeze, .check = check_axes, KEEPS},
    {"ReduceSum", 1, 1, 2, 1, "axes keepdims noop_with_empty_axes", .run = run_reduce_sum,
     .check = check_reduce_sum},
    {"ReduceMean", 1, 1, 1, 1, "axes keepdims", .run = run_reduce_mean},
    {"ReduceMax", 1, 1, 1, 1, "axes keepdims", .run = run_reduce_max},
    {"ReduceMin", 1, 1, 1, 1, "axes keepdims", .run = run_reduce_min},
    {"ReduceSumSquare", 1, 1, 1, 1, "axes keepdims", .run = run_reduce_sum_square},
    {"ReduceL1", 1, 1, 1, 1, "axes keepdims", .run = run_reduce_l1},
    {"ReduceL2", 1, 1, 1, 1, "axes keepdims", .run = run_reduce_l2},
    {"ReduceLogSum", 1, 1, 1, 1, "axes keepdims", .run = run_reduce_log_sum},
    {"ReduceLogSumExp", 1, 1, 1, 1, "axes keepdims", .run = run_reduce_log_sum_exp},
    {"LeakyRelu", 6, 1, 1, 1, "alpha", .run = run_leaky_relu},
    {"PRelu", 6, 2, 2, 1, "", .run = run_prelu},
    {"Elu", 6, 1, 1, 1, "alpha", .run = run_elu},
    {"Selu", 6, 1, 1, 1, "alpha gamma", .run = run_selu},
    {"Reciprocal", 6, 1, 1, 1, "", UNARY(reciprocal)},
    {"Sum", 6, 1, ONNX_VARIADIC, 1, "", .run = run_sum},
    {"Max", 6, 1, ONNX_VARIADIC, 1, "", .run = run_fold, .binary = hb_maximum},
    {"Min", 6, 1, ONNX_VARIADIC, 1, "", .run = run_fold, .binary = hb_minimum},
    {"Clip", 6, 1, 3, 1, "max min", .run = run_clip, .check = check_clip},
    {"Pad", 2, 1, 4, 1, "mode pads value", .run = run_pad, .check = check_pad, .load = load_pad},
    {"Split", 2, 1, 2, ONNX_MAX_OUTPUTS, "axis num_outputs split", .run = run_split,
     .check = check_split},
    {"HardSigmoid", 6, 1, 1, 1, "alpha beta", .run = run_hard_sigmoid},
    {"HardSwish", 14, 1, 1, 1, "", .run = run_hard_swish},
    {"ThresholdedRelu", 10, 1, 1, 1, "alpha", .run = run_thresholded_relu},
    {"Shrink", 9, 1, 1, 1, "bias lambd", .run = run_shrink},
    {"Softsign", 1, 1, 1, 1, "", UNARY(softsign)},
    {"Softplus", 1, 1, 1, 1, "", UNARY(softplus)},
    {"Celu", 12, 1, 1, 1, "alpha", .run = run_celu, .check = check_celu},
    {"InstanceNormalization", 6, 3, 3, 1, "epsilon", .run = run_instance_norm},
    {"Hardmax", 1, 1, 1, 1, "axis", .run = run_hardmax},
    {"Mean", 6, 1, ONNX_VARIADIC, 1, "", .run = run_mean},
    {"LayerNormalization", 17, 2, 3, 3, "axis epsilon stash_type", .run = run_layer_norm,
     .check = check_layer_norm},
    {"Shape", 1, 1, 1, 1, "end start", .run = run_shape, .ints = ONNX_INTS_MAKES},
    {"Size", 1, 1, 1, 1, "", .run = run_size, .ints = ONNX_INTS_MAKES},
    {"Trilu", 14, 1, 2, 1, "upper", .run = run_trilu},
    {"CumSum", 11, 2, 2, 1, "exclusive reverse", .run = run_cumsum},
    {"Tile", 6, 2, 2, 1, "", .run = run_tile},
    {"Einsum", 12, 1, 2, 1, "equation", .run = run_einsum, .check = check_einsum},
    {"OneHot", 9, 3, 3, 1, "axis", .run = run_one_hot},
    {"DepthToSpace", 1, 1, 1, 1, "blocksize mode", .run = run_depth_space,
     .check = check_depth_space},
    {"SpaceToDepth", 1, 1, 1, 1, "blocksize", .run = run_depth_space, .check = check_depth_space},
    {"Resize", 10, 1, 4, 1, "coordinate_transformation_mode cubic_coeff_a exclude_outside "
     "extrapolation_value mode nearest_mode", .run = run_resize, .check = check_resize},
    {"Upsample", 7, 1, 2, 1, "mode scales", .run = run_resize, .check = check_resize},
    {"Range", 11, 3, 3, 1, "", .run = run_range, .load = load_range},
    {"NegativeLogLikelihoodLoss", 12, 2, 3, 1, "ignore_index reduction", .run = run_nll,
     .check = check_loss},
    {"SoftmaxCrossEntropyLoss", 12, 2, 3, 2, "ignore_index reduction",
     .run = run_softmax_cross_entropy, .check = check_loss},
    {"Gather", 1, 2, 2, 1, "axis", .run = run_gather, KEEPS},
    {"Slice", 1, 1, 5, 1, "axes ends starts", .run = run_slice, .check = check_slice, KEEPS},
    {"Expand", 8, 2, 2, 1, "", .run = run_expand, KEEPS},
    {"RNN", 7, 3, 6, 2, "activation_alpha activation_beta activations clip direction "
     "hidden_size layout", .run = run_rnn, .check = check_rnn},
    {"LSTM", 7, 3, 8, 3, "activation_alpha activation_beta activations clip direction "
     "hidden_size input_forget layout", .run = run_lstm, .check = check_lstm},
    {"GRU", 7, 3, 6, 2, "activation_alpha activation_beta activations clip direction "
     "hidden_size layout linear_before_reset", .run = run_gru, .check = check_gru},
    {"ConstantOfShape", 9, 1, 1, 1, "value", .run = run_constant_of_shape,
     .load = load_constant_of_shape},
    {"Cast", 6, 1, 1, 1, "to", .run = run_cast, .load = load_cast},
    {"CastLike", 15, 2, 2, 1, "", .run = run_cast_like},
    {"GatherElements", 11, 2, 2, 1, "axis", .run = run_gather_elements},
    {"GatherND", 11, 2, 2, 1, "batch_dims", .run = run_gather_nd, .check = check_batch_dims},
    {"ScatterND", 11, 3, 3, 1, "reduction", .run = run_scatter_nd, .check = check_scatter_nd},
    {"ArgMax", 11, 1, 1, 1, "axis keepdims select_last_index", .run = run_argmax},
    {"ArgMin", 11, 1, 1, 1, "axis keepdims select_last_index", .run = run_argmin},
    {"Constant", 1, 0, 0, 1, "value value_float value_floats value_int value_ints",
     .run = run_constant, .load = load_constant},
    {"If", 1, 1, 1, ONNX_MAX_OUTPUTS, "else_branch then_branch", .run = run_if, .load = load_if,
     .graphs = "then_branch else_branch"},
    {"Loop", 1, 2, ONNX_MAX_CARRIED - 1, ONNX_MAX_OUTPUTS, "body", .run = run_loop,
     .load = load_loop, .graphs = "body"},
};
#undef KEEPS

const onnx_op *onnx_find_op(const char *op_type)
{
    for (size_t i = 0; i < HB_ARRAY_LEN(ops); i++)
        if (op_type && strcmp(ops[i].type, op_type) == 0)
            return &ops[i];
    return NULL;
}

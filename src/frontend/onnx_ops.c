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
    if (c->iv[s].v || c->m->slots[s].kind == ONNX_SLOT_INTS || c->m->slots[s].is_int)
        return call_fail(c, HB_ERR_UNSUPPORTED, "input %d (\"%s\") holds integers, which only "
                         "shape computations may use here", i, c->m->slots[s].name), NULL;
    return NULL; /* its producer failed: its message stands */
}

/* Input i as integers (a constant or computed from shapes), or NULL with the error set. */
static const onnx_ints *in_ints(onnx_call *c, int i)
{
    int s = i < c->n->nin ? c->n->in[i] : -1;
    if (s >= 0 && c->iv[s].v)
        return &c->iv[s];
    if (s >= 0 && c->m->slots[s].kind == ONNX_SLOT_INTS)
        return &c->m->slots[s].iv;
    call_fail(c, HB_ERR_UNSUPPORTED, "input %d must be integers known when the call runs (a "
              "constant or a shape), not a computed float tensor", i);
    return NULL;
}

static bool has_in(const onnx_call *c, int i) { return i < c->n->nin && c->n->in[i] >= 0; }

static bool set_t(onnx_call *c, int i, hb_tensor *t)
{
    if (!t)
        return false;
    c->t[c->n->out[i]] = t;
    return true;
}

static bool set_ints(onnx_call *c, int i, const hb_shape *shape, const int64_t *v)
{
    onnx_ints *r = &c->iv[c->n->out[i]];
    r->shape = *shape;
    r->n = hb_shape_numel(shape);
    r->v = hb_malloc(sizeof(int64_t) * (size_t)r->n + 1);
    if (!r->v)
        return false;
    if (r->n)
        memcpy(r->v, v, sizeof(int64_t) * (size_t)r->n);
    return true;
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
    int s = c->n->in[0];
    if (c->iv[s].v || c->m->slots[s].kind == ONNX_SLOT_INTS) { /* integers pass through too */
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
static bool run_binary(onnx_call *c)
{
    return set_t(c, 0, c->n->op->binary(in_t(c, 0), operand_b(c)));
}

static bool run_matmul(onnx_call *c)
{
    hb_tensor *a = in_t(c, 0), *b = in_t(c, 1);
    if (a && b && (hb_tensor_ndim(a) < 2 || hb_tensor_ndim(b) < 2))
        return call_fail(c, HB_ERR_UNSUPPORTED, "1-D operands are not supported"), false;
    return set_t(c, 0, hb_matmul(a, b));
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
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < nd; i++)
        *(i < a ? &outer : &inner) *= hb_tensor_dim(x, i);
    return set_t(c, 0, hb_reshape(x, HB_SHAPE(outer, inner)));
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
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < nd; i++)
        *(i < a ? &outer : &inner) *= hb_tensor_dim(x, i);
    hb_tensor *flat = hb_reshape(x, HB_SHAPE(outer, inner));
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
        integers = c->iv[c->n->in[i]].v || c->m->slots[c->n->in[i]].kind == ONNX_SLOT_INTS;
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
static bool run_transpose(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    size_t np;
    const int64_t *perm = onnx_attr_ints(c->n->p, "perm", &np);
    int want[HB_MAX_DIMS], at[HB_MAX_DIMS]; /* want[i]: the input axis output axis i shows */
    if (perm && np != (size_t)nd)
        return call_fail(c, HB_ERR_SHAPE, "perm has %zu axes, the input %d", np, nd), false;
    for (int i = 0; i < nd; i++) {
        if (perm && (perm[i] < 0 || perm[i] >= nd))
            return call_fail(c, HB_ERR_ARG, "perm names axis %lld of %d", (long long)perm[i],
                             nd), false;
        want[i] = perm ? (int)perm[i] : nd - 1 - i;
        at[i] = i; /* at[i]: the input axis now at position i */
    }
    for (int i = 0; i < nd; i++) {
        int j = i;
        while (j < nd && at[j] != want[i])
            j++;
        if (j == nd)
            return call_fail(c, HB_ERR_ARG, "perm repeats axis %d", want[i]), false;
        if (j != i) {
            x = hb_transpose(x, i, j);
            int t = at[i];
            at[i] = at[j], at[j] = t;
        }
    }
    return set_t(c, 0, x == in_t(c, 0) ? hb_frame_adopt(identity(x)) : x);
}

/* Unsqueeze and Squeeze: a reshape (axes from the attribute, or from opset 13 the input). */
static bool run_squeeze_like(onnx_call *c, bool unsqueeze)
{
    int s = c->n->in[0];
    bool integers = c->iv[s].v || c->m->slots[s].kind == ONNX_SLOT_INTS;
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

static bool run_prelu(onnx_call *c) { return set_t(c, 0, leaky(in_t(c, 0), in_t(c, 1), 0)); }

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
static bool run_hard_sigmoid(onnx_call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    hb_tensor *y = hb_add_scalar(hb_mul_scalar(in_t(c, 0), onnx_attr_float(p, "alpha", 0.2f)),
                                 onnx_attr_float(p, "beta", 0.5f));
    y = hb_minimum(y, hb_full(HB_SCALAR_SHAPE, 1.0f));
    return set_t(c, 0, hb_maximum(y, hb_full(HB_SCALAR_SHAPE, 0.0f)));
}

/* (x − mean)/sqrt(var + eps)·scale + bias over the axes from `axis` on. */
static bool run_layer_norm(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0), *scale = in_t(c, 1), *bias = has_in(c, 2) ? in_t(c, 2) : NULL;
    if (!x || !scale || (has_in(c, 2) && !bias))
        return false;
    int nd = hb_tensor_ndim(x), a = axis_of(c, onnx_attr_int(c->n->p, "axis", -1), nd);
    if (a < 0)
        return false;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < nd; i++)
        *(i < a ? &outer : &inner) *= hb_tensor_dim(x, i);
    hb_tensor *rows = hb_reshape(x, HB_SHAPE(outer, inner));
    hb_tensor *d = hb_sub(rows, hb_mean_axis(rows, 1, true));
    hb_tensor *var = hb_mean_axis(hb_mul(d, d), 1, true);
    float eps = onnx_attr_float(c->n->p, "epsilon", 1e-5f);
    hb_tensor *norm = hb_div(d, hb_sqrt(hb_add_scalar(var, eps)));
    hb_tensor *y = hb_mul(hb_reshape(norm, nd, hb_tensor_shape(x)), scale);
    return set_t(c, 0, bias ? hb_add(y, bias) : y);
}

/* The input's shape as integers. */
static bool run_shape(onnx_call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    int64_t dims[HB_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        dims[i] = hb_tensor_dim(x, i);
    return set_ints(c, 0, &(hb_shape){.ndim = 1, .dim = {nd}}, dims);
}

/* Gather on integers (a shape's entries); on float tensors, unsupported. */
static bool run_gather(onnx_call *c)
{
    int s = c->n->in[0];
    if (!c->iv[s].v && c->m->slots[s].kind != ONNX_SLOT_INTS)
        return call_fail(c, HB_ERR_UNSUPPORTED, "Gather of float tensors (only of shapes)"),
               false;
    const onnx_ints *data = in_ints(c, 0), *idx = data ? in_ints(c, 1) : NULL;
    if (!idx)
        return false;
    if (data->shape.ndim != 1 || onnx_attr_int(c->n->p, "axis", 0) != 0 || idx->n > 64)
        return call_fail(c, HB_ERR_UNSUPPORTED, "Gather of integers along axis 0 of a 1-D "
                         "array only"), false;
    int64_t out[64];
    for (int64_t i = 0; i < idx->n; i++) {
        int64_t k = idx->v[i] < 0 ? idx->v[i] + data->n : idx->v[i];
        if (k < 0 || k >= data->n)
            return call_fail(c, HB_ERR_ARG, "index %lld out of range [0, %lld)",
                             (long long)idx->v[i], (long long)data->n), false;
        out[i] = data->v[k];
    }
    return set_ints(c, 0, &idx->shape, out);
}

/* Cast between integer types leaves integers; to float only for tensors already float. */
static bool run_cast(onnx_call *c)
{
    int64_t to = onnx_attr_int(c->n->p, "to", 0);
    int s = c->n->in[0];
    bool integers = c->iv[s].v || c->m->slots[s].kind == ONNX_SLOT_INTS;
    if (integers && onnx_is_int_type((int32_t)to)) {
        const onnx_ints *v = in_ints(c, 0);
        return v && set_ints(c, 0, &v->shape, v->v);
    }
    if (!integers && to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return run_identity(c);
    return call_fail(c, HB_ERR_UNSUPPORTED, "Cast to type %lld of %s", (long long)to,
                     integers ? "integers" : "floats"), false;
}

static bool run_constant(onnx_call *c)
{
    (void)c;
    return true; /* its value is a constant of the block (or a host array), set at load */
}

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
    if (p->n_output > 1 || onnx_attr_int(p, "is_test", 1) == 0)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "training (a mask output, or is_test 0)");
    return HB_OK;
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
    if (!a || !a->t)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "a value other than a tensor");
    if (onnx_is_int_type(a->t->data_type)) {
        m->slots[s].kind = ONNX_SLOT_INTS;
        return onnx_int_values(m, a->t, &m->slots[s].iv) ? HB_OK : hb_last_status();
    }
    if (a->t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "a value of data type %d",
                              a->t->data_type);
    hb_tensor *v = onnx_float_tensor(m, a->t, "constant");
    return v ? onnx_add_value(root, m, s, p->output[0], v, false) : hb_last_status();
}

/* Integers stay integers, floats floats. */
static hb_status load_cast(hb_block *root, onnx_model *m, onnx_node *n)
{
    (void)root;
    bool from_ints = onnx_reads_ints(m, n);
    int64_t to = onnx_attr_int(n->p, "to", 0);
    if (from_ints ? !onnx_is_int_type((int32_t)to) : to != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return onnx_node_fail(m, n->p, HB_ERR_UNSUPPORTED, "a cast of %s to data type %lld",
                              from_ints ? "integers" : "floats", (long long)to);
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
    {"Dropout", 6, 1, 3, 1, "ratio seed is_test", .run = run_identity, /* inference: the input */
     .check = check_dropout},
    {"Relu", 6, 1, 1, 1, "", UNARY(hb_relu)},
    {"Sigmoid", 6, 1, 1, 1, "", UNARY(hb_sigmoid)},
    {"Tanh", 6, 1, 1, 1, "", UNARY(hb_tanh)},
    {"Exp", 6, 1, 1, 1, "", UNARY(hb_exp)},
    {"Log", 6, 1, 1, 1, "", UNARY(hb_log)},
    {"Abs", 6, 1, 1, 1, "", UNARY(hb_abs)},
    {"Neg", 6, 1, 1, 1, "", UNARY(hb_neg)},
    {"Sqrt", 6, 1, 1, 1, "", UNARY(hb_sqrt)},
    {"Erf", 9, 1, 1, 1, "", UNARY(hb_erf)},
    {"Pow", 7, 2, 2, 1, "", .run = run_pow, .load = load_pow},
    {"Add", 6, 2, 2, 1, "broadcast axis", BINARY(hb_add), .check = check_broadcast},
    {"Sub", 6, 2, 2, 1, "broadcast axis", BINARY(hb_sub), .check = check_broadcast},
    {"Mul", 6, 2, 2, 1, "broadcast axis", BINARY(hb_mul), .check = check_broadcast},
    {"Div", 6, 2, 2, 1, "broadcast axis", BINARY(hb_div), .check = check_broadcast},
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
    {"PRelu", 7, 2, 2, 1, "", .run = run_prelu},
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
    {"Mean", 6, 1, ONNX_VARIADIC, 1, "", .run = run_mean},
    {"LayerNormalization", 17, 2, 3, 1, "axis epsilon stash_type", .run = run_layer_norm,
     .check = check_layer_norm},
    {"Shape", 1, 1, 1, 1, "", .run = run_shape, .ints = ONNX_INTS_MAKES},
    {"Gather", 1, 2, 2, 1, "axis", .run = run_gather, KEEPS},
    {"Cast", 6, 1, 1, 1, "to", .run = run_cast, .load = load_cast, KEEPS},
    {"Constant", 1, 0, 0, 1, "value", .run = run_constant, .load = load_constant},
};
#undef KEEPS

const onnx_op *onnx_find_op(const char *op_type)
{
    for (size_t i = 0; i < HB_ARRAY_LEN(ops); i++)
        if (op_type && strcmp(ops[i].type, op_type) == 0)
            return &ops[i];
    return NULL;
}

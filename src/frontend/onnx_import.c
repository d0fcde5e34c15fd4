/* ONNX models as blocks. The file is read with the code protobuf-c generates from onnx.proto;
 * everything is checked when it loads — every node's op, opset, attributes and inputs — so
 * that an unsupported model fails there, naming the node, rather than on its first call.
 *
 * The block's forward runs the graph's nodes in order with hybrid's eager ops, so an imported
 * model is a block like any other: callable, hybridizable (the tracer records the ops the nodes
 * call), nestable, trainable. Float initializers are its parameters, named as in the file
 * ("layer1.0.conv1.weight" is parameter "weight" of child "layer1" / "0" / "conv1", so
 * PyTorch's state dicts load by name); those a BatchNormalization reads as running statistics
 * are constants. Integer tensors (shapes, axes) are never tensors of hybrid's: they are host
 * arrays the nodes compute with when the call runs — PyTorch's Shape → Gather → Concat →
 * Reshape idioms become constant shapes, which is exact because a plan is per input shape. */
#include "frontend.h"
#include "onnx.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MAX_FILE = 1 << 30 }; /* 1 GB: larger models store their weights outside, unsupported */

/* A host array of integers: a shape-like value (ONNX int64 tensors). */
typedef struct ints {
    hb_shape shape;
    int64_t *v;
    int64_t n;
} ints;

typedef enum slot_kind {
    SLOT_UNSET,  /* a name nothing defines (yet) */
    SLOT_INPUT,  /* the call's x, or an input bound with hb_onnx_bind */
    SLOT_TENSOR, /* a parameter or constant of the block (float initializer, Constant node) */
    SLOT_INTS,   /* an integer initializer or Constant: a host array */
    SLOT_NODE,   /* a node's output */
} slot_kind;

typedef struct slot {
    char *name;
    slot_kind kind;
    hb_tensor *t;    /* SLOT_TENSOR: retained; SLOT_INPUT (bound): retained */
    ints iv;         /* SLOT_INTS: owned */
    bool is_int;     /* SLOT_NODE: the node makes integers (Shape, Gather of integers, ...) */
} slot;

enum { MAX_OUTPUTS = 64 }; /* of one node (a Split's parts) */

typedef struct node {
    const Onnx__NodeProto *p;
    char *key; /* its part of block paths: the node's name, or "OpType_index" */
    const struct op_def *op;
    int *in, *out; /* slot ids; -1 for an input left empty ("") */
    int nin, nout;
    float fill; /* Pad: its constant value, read at load (the value attribute or input) */
} node;

typedef struct model {
    Onnx__ModelProto *proto;
    char *path;
    int64_t opset;
    slot *slots;
    int nslots, cap;
    node *nodes;
    int nnodes;
    int x;      /* the call's input slot */
    int output; /* the returned slot */
    hb_shape x_shape; /* as declared (symbolic dims 0) */
} model;

/* A call's values: float tensors (owned by the call's frame) and host integer arrays. */
typedef struct call {
    const model *m;
    hb_tensor **t;
    ints *iv;
    const node *n; /* the node running, for messages */
} call;

/* ---- messages ------------------------------------------------------------------------------ */

static const char *node_label(const model *m, const Onnx__NodeProto *p, char *buf, size_t size)
{
    int index = 0;
    for (int i = 0; i < (int)m->proto->graph->n_node; i++)
        if (m->proto->graph->node[i] == p)
            index = i;
    snprintf(buf, size, "node %d%s%s%s (%s, opset %lld)", index, p->name && *p->name ? " \"" : "",
             p->name && *p->name ? p->name : "", p->name && *p->name ? "\"" : "",
             p->op_type ? p->op_type : "?", (long long)m->opset);
    return buf;
}

static hb_status node_fail(const model *m, const Onnx__NodeProto *p, hb_status st,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static hb_status node_fail(const model *m, const Onnx__NodeProto *p, hb_status st,
                           const char *fmt, ...)
{
    char what[512], label[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return hb_fail(st, "%s: %s: %s", m->path, node_label(m, p, label, sizeof label), what);
}

/* ---- attributes ---------------------------------------------------------------------------- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *p, const char *name)
{
    for (size_t i = 0; i < p->n_attribute; i++)
        if (p->attribute[i]->name && strcmp(p->attribute[i]->name, name) == 0)
            return p->attribute[i];
    return NULL;
}

static int64_t attr_int(const Onnx__NodeProto *p, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = attr(p, name);
    return a && a->has_i ? a->i : def;
}

static float attr_float(const Onnx__NodeProto *p, const char *name, float def)
{
    const Onnx__AttributeProto *a = attr(p, name);
    return a && a->has_f ? a->f : def;
}

/* A list of ints (NULL and *n = 0 if absent). */
static const int64_t *attr_ints(const Onnx__NodeProto *p, const char *name, size_t *n)
{
    const Onnx__AttributeProto *a = attr(p, name);
    *n = a ? a->n_ints : 0;
    return a && a->n_ints ? a->ints : NULL;
}

static bool attr_string_is(const Onnx__NodeProto *p, const char *name, const char *value)
{
    const Onnx__AttributeProto *a = attr(p, name);
    if (!a || !a->has_s)
        return value == NULL;
    return value && a->s.len == strlen(value) && memcmp(a->s.data, value, a->s.len) == 0;
}

/* ---- tensors in the file ------------------------------------------------------------------- */

static bool dims_of(const Onnx__TensorProto *t, hb_shape *s)
{
    if (t->n_dims > HB_MAX_DIMS)
        return false;
    s->ndim = (int)t->n_dims;
    int64_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || !hb_mul_ok(n, t->dims[i], &n))
            return false;
        s->dim[i] = t->dims[i];
    }
    return true;
}

/* The float values of t into a new tensor, or NULL with the error set. */
static hb_tensor *float_tensor(const model *m, const Onnx__TensorProto *t, const char *what)
{
    hb_shape s;
    if (!dims_of(t, &s))
        return hb_fail(HB_ERR_FORMAT, "%s: %s \"%s\": bad or too many dims", m->path, what,
                       t->name ? t->name : ""), NULL;
    int64_t n = hb_shape_numel(&s);
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return hb_fail(HB_ERR_UNSUPPORTED, "%s: %s \"%s\" keeps its data in an external file",
                       m->path, what, t->name ? t->name : ""), NULL;
    const float *src = NULL;
    if (t->has_raw_data && t->raw_data.len == (size_t)n * 4)
        src = (const float *)t->raw_data.data;
    else if (!t->has_raw_data && t->n_float_data == (size_t)n)
        src = t->float_data;
    else
        return hb_fail(HB_ERR_FORMAT, "%s: %s \"%s\": %lld values declared, %zu bytes or %zu "
                       "floats stored", m->path, what, t->name ? t->name : "", (long long)n,
                       t->has_raw_data ? t->raw_data.len : 0, t->n_float_data), NULL;
    hb_tensor *r = hb_tensor_alloc(&s);
    if (r && n)
        memcpy(r->data, src, sizeof(float) * (size_t)n); /* raw data is little-endian: x86 */
    return r;
}

/* The integer values of t (INT64 or INT32) as a host array; false with the error set. */
static bool int_values(const model *m, const Onnx__TensorProto *t, ints *out)
{
    if (!dims_of(t, &out->shape))
        return hb_fail(HB_ERR_FORMAT, "%s: tensor \"%s\": bad or too many dims", m->path,
                       t->name ? t->name : ""), false;
    int64_t n = hb_shape_numel(&out->shape);
    bool i64 = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    size_t width = i64 ? 8 : 4;
    size_t stored = t->has_raw_data ? t->raw_data.len / width : i64 ? t->n_int64_data
                                                                        : t->n_int32_data;
    if (stored != (size_t)n || (t->has_raw_data && t->raw_data.len % width))
        return hb_fail(HB_ERR_FORMAT, "%s: tensor \"%s\": %lld values declared, %zu stored",
                       m->path, t->name ? t->name : "", (long long)n, stored), false;
    out->n = n;
    out->v = hb_malloc(sizeof(int64_t) * (size_t)n + 1);
    if (!out->v)
        return false;
    for (int64_t i = 0; i < n; i++) {
        if (t->has_raw_data) {
            if (i64) {
                memcpy(&out->v[i], t->raw_data.data + 8 * i, 8);
            } else {
                int32_t v;
                memcpy(&v, t->raw_data.data + 4 * i, 4);
                out->v[i] = v;
            }
        } else {
            out->v[i] = i64 ? t->int64_data[i] : t->int32_data[i];
        }
    }
    return true;
}

static bool is_int_type(int32_t type)
{
    return type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ||
           type == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
}

/* ---- slots ----------------------------------------------------------------------------------- */

static int slot_find(const model *m, const char *name)
{
    for (int i = 0; i < m->nslots; i++)
        if (strcmp(m->slots[i].name, name) == 0)
            return i;
    return -1;
}

static int slot_add(model *m, const char *name, slot_kind kind)
{
    if (m->nslots == m->cap) {
        int cap = m->cap ? 2 * m->cap : 64;
        slot *grown = hb_realloc(m->slots, sizeof *grown * (size_t)cap);
        if (!grown)
            return -1;
        m->slots = grown, m->cap = cap;
    }
    slot *s = &m->slots[m->nslots];
    *s = (slot){.name = hb_strdup(name), .kind = kind};
    return s->name ? m->nslots++ : -1;
}

/* protobuf-c allocates through these, so that allocation failures are the library's too. */
static void *pb_alloc(void *data, size_t size)
{
    (void)data;
    return hb_malloc(size ? size : 1);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    hb_free(p);
}

static ProtobufCAllocator allocator = {pb_alloc, pb_free, NULL};

static void model_free(void *p)
{
    model *m = p;
    if (!m)
        return;
    for (int i = 0; i < m->nslots; i++) {
        hb_free(m->slots[i].name);
        hb_tensor_release(m->slots[i].t);
        hb_free(m->slots[i].iv.v);
    }
    for (int i = 0; i < m->nnodes; i++)
        hb_free(m->nodes[i].in), hb_free(m->nodes[i].out), hb_free(m->nodes[i].key);
    hb_free(m->slots), hb_free(m->nodes), hb_free(m->path);
    if (m->proto)
        onnx__model_proto__free_unpacked(m->proto, &allocator);
    hb_free(m);
}

/* ---- running nodes --------------------------------------------------------------------------- */

static hb_status call_fail(call *c, hb_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static hb_status call_fail(call *c, hb_status st, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return node_fail(c->m, c->n->p, st, "%s", what);
}

/* Input i of the running node as a float tensor (NULL: an earlier failure, or not a tensor). */
static hb_tensor *in_t(call *c, int i)
{
    int s = i < c->n->nin ? c->n->in[i] : -1;
    if (s < 0)
        return call_fail(c, HB_ERR_ARG, "input %d is missing", i), NULL;
    if (c->t[s])
        return c->t[s];
    if (c->iv[s].v || c->m->slots[s].kind == SLOT_INTS || c->m->slots[s].is_int)
        return call_fail(c, HB_ERR_UNSUPPORTED, "input %d (\"%s\") holds integers, which only "
                         "shape computations may use here", i, c->m->slots[s].name), NULL;
    return NULL; /* its producer failed: its message stands */
}

/* Input i as integers (a constant or computed from shapes), or NULL with the error set. */
static const ints *in_ints(call *c, int i)
{
    int s = i < c->n->nin ? c->n->in[i] : -1;
    if (s >= 0 && c->iv[s].v)
        return &c->iv[s];
    if (s >= 0 && c->m->slots[s].kind == SLOT_INTS)
        return &c->m->slots[s].iv;
    call_fail(c, HB_ERR_UNSUPPORTED, "input %d must be integers known when the call runs (a "
              "constant or a shape), not a computed float tensor", i);
    return NULL;
}

static bool has_in(const call *c, int i) { return i < c->n->nin && c->n->in[i] >= 0; }

static bool set_t(call *c, int i, hb_tensor *t)
{
    if (!t)
        return false;
    c->t[c->n->out[i]] = t;
    return true;
}

static bool set_ints(call *c, int i, const hb_shape *shape, const int64_t *v)
{
    ints *r = &c->iv[c->n->out[i]];
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
static int axis_of(call *c, int64_t axis, int ndim)
{
    if (axis < -ndim || axis >= ndim) {
        call_fail(c, HB_ERR_ARG, "axis %lld is out of range for %d dims", (long long)axis, ndim);
        return -1;
    }
    return (int)(axis < 0 ? axis + ndim : axis);
}

typedef hb_tensor *(*unary_fn)(hb_tensor *);
typedef hb_tensor *(*binary_fn)(hb_tensor *, hb_tensor *);

static bool run_unary(call *c, unary_fn f) { return set_t(c, 0, f(in_t(c, 0))); }

#define UNARY(NAME, fn)                                                                       \
    static bool run_##NAME(call *c) { return run_unary(c, fn); }
UNARY(relu, hb_relu)
UNARY(sigmoid, hb_sigmoid)
UNARY(tanh, hb_tanh)
UNARY(exp, hb_exp)
UNARY(log, hb_log)
UNARY(abs, hb_abs)
UNARY(neg, hb_neg)
UNARY(sqrt, hb_sqrt)

static hb_tensor *identity(hb_tensor *x) { return x ? hb_tensor_retain(x) : NULL; }

static bool run_identity(call *c)
{
    int s = c->n->in[0];
    if (c->iv[s].v || c->m->slots[s].kind == SLOT_INTS) { /* integers pass through too */
        const ints *v = in_ints(c, 0);
        return v && set_ints(c, 0, &v->shape, v->v);
    }
    hb_tensor *x = in_t(c, 0);
    return set_t(c, 0, x ? hb_frame_adopt(identity(x)) : NULL);
}

/* The second operand of an elementwise op: before opset 7, with broadcast = 1 and an axis,
 * B lines up with A from that axis on (B [C] against A [N, C, H, W] at axis 1 is B [C, 1, 1]);
 * from opset 7 (and without an axis) NumPy's rules hold. */
static hb_tensor *operand_b(call *c)
{
    hb_tensor *a = in_t(c, 0), *b = in_t(c, 1);
    const Onnx__AttributeProto *ax = attr(c->n->p, "axis");
    if (!a || !b || c->m->opset >= 7 || !ax || attr_int(c->n->p, "broadcast", 0) == 0)
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

#define BINARY(NAME, fn)                                                                      \
    static bool run_##NAME(call *c) { return set_t(c, 0, fn(in_t(c, 0), operand_b(c))); }
BINARY(add, hb_add)
BINARY(sub, hb_sub)
BINARY(mul, hb_mul)
BINARY(div, hb_div)

static bool run_matmul(call *c)
{
    hb_tensor *a = in_t(c, 0), *b = in_t(c, 1);
    if (a && b && (hb_tensor_ndim(a) < 2 || hb_tensor_ndim(b) < 2))
        return call_fail(c, HB_ERR_UNSUPPORTED, "1-D operands are not supported"), false;
    return set_t(c, 0, hb_matmul(a, b));
}

/* alpha·A'·B' + beta·C, A' = Aᵀ if transA, B' = Bᵀ if transB. The common case, x·Wᵀ + b, is
 * one linear. */
static bool run_gemm(call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    float alpha = attr_float(p, "alpha", 1.0f), beta = attr_float(p, "beta", 1.0f);
    bool ta = attr_int(p, "transA", 0) != 0, tb = attr_int(p, "transB", 0) != 0;
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
static bool window(call *c, int dims, int *k, int *stride, int *dil)
{
    const Onnx__NodeProto *p = c->n->p;
    size_t nk, ns, np, nd;
    const int64_t *ks = attr_ints(p, "kernel_shape", &nk), *ss = attr_ints(p, "strides", &ns);
    const int64_t *ps = attr_ints(p, "pads", &np), *ds = attr_ints(p, "dilations", &nd);
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
static void padding(call *c, int dims, const hb_tensor *x, const int *k, const int *stride,
                    const int *dil, int *pb, int *pe)
{
    const Onnx__NodeProto *p = c->n->p;
    size_t np;
    const int64_t *ps = attr_ints(p, "pads", &np);
    bool upper = attr_string_is(p, "auto_pad", "SAME_UPPER");
    bool same = upper || attr_string_is(p, "auto_pad", "SAME_LOWER");
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
static hb_tensor *as_image(call *c, hb_tensor *x, int dims)
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
static int window_dims(call *c, hb_tensor *w)
{
    size_t nk;
    attr_ints(c->n->p, "kernel_shape", &nk);
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
static bool conv_operands(call *c, hb_tensor **x, hb_tensor **w, hb_tensor **b, int *dims,
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

static bool run_conv(call *c)
{
    int k[2], stride[2], pad[2], dil[2], pb[2], pe[2], dims;
    hb_tensor *x, *w, *b;
    if (!conv_operands(c, &x, &w, &b, &dims, k, stride, dil))
        return false;
    padding(c, dims, x, k, stride, dil, pb, pe);
    if (!(x = padded(x, pb, pe, NULL, 0.0f, pad)))
        return false;
    hb_conv2d_options o = {{stride[0], stride[1]}, {pad[0], pad[1]}, {dil[0], dil[1]},
                           (int)attr_int(c->n->p, "group", 1)};
    return set_t(c, 0, from_image(b ? hb_conv2d(x, w, b, &o) : hb_conv2d_nobias(x, w, &o), dims));
}

/* The full transposed convolution (no padding), then cut to what pads, output_shape or
 * auto_pad ask for (a negative cut adds zeros), then the bias: ONNX's ConvTranspose. */
static bool run_conv_transpose(call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    int k[2], stride[2], dil[2], dims;
    hb_tensor *x, *w, *b;
    if (!conv_operands(c, &x, &w, &b, &dims, k, stride, dil))
        return false;
    size_t nop, nos, np;
    const int64_t *op = attr_ints(p, "output_padding", &nop);
    const int64_t *os = attr_ints(p, "output_shape", &nos), *ps = attr_ints(p, "pads", &np);
    if ((op && nop != (size_t)dims) || (os && nos != (size_t)dims) ||
        (ps && np != 2 * (size_t)dims))
        return call_fail(c, HB_ERR_FORMAT, "output_padding, output_shape or pads of the wrong "
                         "length for a %d-D window", dims), false;
    bool upper = attr_string_is(p, "auto_pad", "SAME_UPPER");
    bool same = upper || attr_string_is(p, "auto_pad", "SAME_LOWER");
    hb_conv_transpose2d_options o = {{stride[0], stride[1]}, {0, 0}, {0, 0}, {dil[0], dil[1]},
                                     (int)attr_int(p, "group", 1)};
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

static bool run_pool(call *c, bool max)
{
    int k[2], stride[2], pad[2], dil[2], pb[2], pe[2];
    int dims = window_dims(c, NULL);
    hb_tensor *x = in_t(c, 0);
    if (!x || !window(c, dims, k, stride, dil) || !(x = as_image(c, x, dims)))
        return false;
    padding(c, dims, x, k, stride, dil, pb, pe);
    bool ceil = attr_int(c->n->p, "ceil_mode", 0) != 0;
    bool exclude = !max && attr_int(c->n->p, "count_include_pad", 0) == 0;
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
static bool run_split(call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x), nout = c->n->nout;
    int64_t axis = attr_int(c->n->p, "axis", 0);
    if (axis < -nd || axis >= nd)
        return call_fail(c, HB_ERR_ARG, "axis %lld of an input of %d", (long long)axis, nd),
               false;
    axis = axis < 0 ? axis + nd : axis;
    int64_t dim = hb_tensor_dim(x, (int)axis), sizes[MAX_OUTPUTS];
    size_t ns = 0;
    const int64_t *given = NULL;
    if (c->m->opset < 13) {
        given = attr_ints(c->n->p, "split", &ns);
    } else if (has_in(c, 1)) {
        const ints *v = in_ints(c, 1);
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
static bool run_pad(call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    const int64_t *pads;
    int64_t np;
    if (c->m->opset < 11) {
        size_t n;
        pads = attr_ints(c->n->p, "pads", &n);
        np = (int64_t)n;
    } else {
        const ints *v = in_ints(c, 1);
        if (!v)
            return false;
        pads = v->v, np = v->n;
    }
    int64_t axes[HB_MAX_DIMS], naxes = nd;
    for (int i = 0; i < nd; i++)
        axes[i] = i;
    if (has_in(c, 3)) {
        const ints *a = in_ints(c, 3);
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

static bool run_max_pool(call *c) { return run_pool(c, true); }
static bool run_avg_pool(call *c) { return run_pool(c, false); }

static bool run_global_avg_pool(call *c) { return set_t(c, 0, hb_global_avg_pool2d(in_t(c, 0))); }

/* The maximum over every axis after [N, C] (any number of them), kept as axes of 1. */
static bool run_global_max_pool(call *c)
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

static bool run_batch_norm(call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    /* inference: the running statistics are read, never moved (momentum plays no part) */
    return set_t(c, 0, hb_batch_norm(in_t(c, 0), in_t(c, 3), in_t(c, 4), in_t(c, 1), in_t(c, 2),
                                     false, 0.1f, attr_float(p, "epsilon", 1e-5f)));
}

/* [d0 · … · d(axis−1), d(axis) · … ] */
static bool run_flatten(call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    int64_t axis = attr_int(c->n->p, "axis", 1);
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
static bool run_softmax_like(call *c, bool log)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    if (c->m->opset >= 13) {
        int a = axis_of(c, attr_int(c->n->p, "axis", -1), nd);
        return a >= 0 && set_t(c, 0, log ? hb_log_softmax(x, a) : hb_softmax(x, a));
    }
    int a = axis_of(c, attr_int(c->n->p, "axis", 1), nd);
    if (a < 0)
        return false;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < nd; i++)
        *(i < a ? &outer : &inner) *= hb_tensor_dim(x, i);
    hb_tensor *flat = hb_reshape(x, HB_SHAPE(outer, inner));
    hb_tensor *y = log ? hb_log_softmax(flat, 1) : hb_softmax(flat, 1);
    return set_t(c, 0, hb_reshape(y, nd, hb_tensor_shape(x)));
}

static bool run_softmax(call *c) { return run_softmax_like(c, false); }
static bool run_log_softmax(call *c) { return run_softmax_like(c, true); }

static bool run_concat(call *c)
{
    int n = c->n->nin;
    int64_t axis = attr_int(c->n->p, "axis", 0);
    bool integers = true;
    for (int i = 0; i < n && integers; i++)
        integers = c->iv[c->n->in[i]].v || c->m->slots[c->n->in[i]].kind == SLOT_INTS;
    if (integers) { /* shapes put together: 1-D arrays */
        int64_t total = 0, buf[64];
        for (int i = 0; i < n; i++) {
            const ints *v = in_ints(c, i);
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
static bool run_reshape(call *c)
{
    hb_tensor *x = in_t(c, 0);
    const ints *s = x ? in_ints(c, 1) : NULL;
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
static bool run_transpose(call *c)
{
    hb_tensor *x = in_t(c, 0);
    if (!x)
        return false;
    int nd = hb_tensor_ndim(x);
    size_t np;
    const int64_t *perm = attr_ints(c->n->p, "perm", &np);
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
static bool run_squeeze_like(call *c, bool unsqueeze)
{
    int s = c->n->in[0];
    bool integers = c->iv[s].v || c->m->slots[s].kind == SLOT_INTS;
    const ints *iv = integers ? in_ints(c, 0) : NULL;
    hb_tensor *x = integers ? NULL : in_t(c, 0);
    if (!x && !iv)
        return false;
    hb_shape shape = x ? (hb_shape){.ndim = hb_tensor_ndim(x)} : iv->shape;
    for (int i = 0; x && i < shape.ndim; i++)
        shape.dim[i] = hb_tensor_dim(x, i);
    size_t na = 0;
    const int64_t *axes = attr_ints(c->n->p, "axes", &na);
    if (c->m->opset >= 13 && has_in(c, 1)) {
        const ints *a = in_ints(c, 1);
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

static bool run_unsqueeze(call *c) { return run_squeeze_like(c, true); }
static bool run_squeeze(call *c) { return run_squeeze_like(c, false); }

/* Reductions over the axes given (all by default), one axis at a time from the last. */
static hb_tensor *reduce(call *c, hb_tensor *x, hb_tensor *(*one)(hb_tensor *, int, bool),
                         hb_tensor *(*all)(hb_tensor *))
{
    if (!x)
        return NULL;
    bool keep = attr_int(c->n->p, "keepdims", 1) != 0;
    size_t na = 0;
    const int64_t *axes = attr_ints(c->n->p, "axes", &na);
    if (has_in(c, 1)) { /* ReduceSum from opset 13: the axes are an input */
        const ints *a = in_ints(c, 1);
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

static bool run_reduce_sum(call *c) { return set_t(c, 0, reduce(c, in_t(c, 0), hb_sum_axis, hb_sum)); }
static bool run_reduce_mean(call *c) { return set_t(c, 0, reduce(c, in_t(c, 0), hb_mean_axis, hb_mean)); }
static bool run_reduce_max(call *c) { return set_t(c, 0, reduce(c, in_t(c, 0), hb_max_axis, hb_max)); }
/* −max(−x): negation is exact, so this is the minimum bit for bit */
static bool run_reduce_min(call *c)
{
    return set_t(c, 0, hb_neg(reduce(c, hb_neg(in_t(c, 0)), hb_max_axis, hb_max)));
}
static bool run_reduce_sum_square(call *c)
{
    return set_t(c, 0, reduce(c, squared(in_t(c, 0)), hb_sum_axis, hb_sum));
}
static bool run_reduce_l1(call *c) { return set_t(c, 0, reduce(c, hb_abs(in_t(c, 0)), hb_sum_axis, hb_sum)); }
static bool run_reduce_l2(call *c)
{
    return set_t(c, 0, hb_sqrt(reduce(c, squared(in_t(c, 0)), hb_sum_axis, hb_sum)));
}
static bool run_reduce_log_sum(call *c)
{
    return set_t(c, 0, hb_log(reduce(c, in_t(c, 0), hb_sum_axis, hb_sum)));
}
static bool run_reduce_log_sum_exp(call *c)
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

static bool run_leaky_relu(call *c)
{
    return set_t(c, 0, leaky(in_t(c, 0), NULL, attr_float(c->n->p, "alpha", 0.01f)));
}

static bool run_prelu(call *c) { return set_t(c, 0, leaky(in_t(c, 0), in_t(c, 1), 0)); }

/* gamma · (x where x > 0, alpha·(exp(x) − 1) elsewhere): Elu with gamma 1, and Selu. */
static hb_tensor *elu(hb_tensor *x, float alpha, float gamma)
{
    hb_tensor *below = hb_neg(hb_relu(hb_neg(x))); /* min(x, 0) */
    hb_tensor *y = hb_add(hb_relu(x), hb_mul_scalar(hb_sub_scalar(hb_exp(below), 1.0f), alpha));
    return gamma == 1.0f ? y : hb_mul_scalar(y, gamma);
}

static bool run_elu(call *c)
{
    return set_t(c, 0, elu(in_t(c, 0), attr_float(c->n->p, "alpha", 1.0f), 1.0f));
}

static bool run_selu(call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    return set_t(c, 0, elu(in_t(c, 0), attr_float(p, "alpha", 1.67326319217681884765625f),
                           attr_float(p, "gamma", 1.05070102214813232421875f)));
}

static hb_tensor *reciprocal(hb_tensor *x) { return hb_rdiv_scalar(x, 1.0f); }
UNARY(reciprocal, reciprocal)

/* Sum and Mean of any number of inputs (broadcast). */
static bool run_variadic(call *c, bool mean)
{
    hb_tensor *y = in_t(c, 0);
    for (int i = 1; y && i < c->n->nin; i++)
        y = hb_add(y, in_t(c, i));
    if (y && mean && c->n->nin > 1)
        y = hb_div_scalar(y, (float)c->n->nin);
    return set_t(c, 0, y == in_t(c, 0) ? hb_frame_adopt(identity(y)) : y);
}

static bool run_sum(call *c) { return run_variadic(c, false); }
static bool run_mean(call *c) { return run_variadic(c, true); }

static bool run_extremum(call *c, binary_fn f)
{
    hb_tensor *y = in_t(c, 0);
    for (int i = 1; y && i < c->n->nin; i++)
        y = f(y, in_t(c, i));
    return set_t(c, 0, y == in_t(c, 0) ? hb_frame_adopt(identity(y)) : y);
}

static bool run_max(call *c) { return run_extremum(c, hb_maximum); }
static bool run_min(call *c) { return run_extremum(c, hb_minimum); }

/* x limited to [lo, hi]: the bounds are attributes before opset 11, optional inputs after. */
static bool run_clip(call *c)
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
        } else if (c->m->opset < 11 && attr(p, side ? "max" : "min")) {
            bound = hb_full(HB_SCALAR_SHAPE, attr_float(p, side ? "max" : "min", 0.0f));
        }
        if (bound)
            x = side ? hb_minimum(x, bound) : hb_maximum(x, bound);
    }
    return set_t(c, 0, x == in_t(c, 0) ? hb_frame_adopt(identity(x)) : x);
}

/* max(0, min(1, alpha·x + beta)) */
static bool run_hard_sigmoid(call *c)
{
    const Onnx__NodeProto *p = c->n->p;
    hb_tensor *y = hb_add_scalar(hb_mul_scalar(in_t(c, 0), attr_float(p, "alpha", 0.2f)),
                                 attr_float(p, "beta", 0.5f));
    y = hb_minimum(y, hb_full(HB_SCALAR_SHAPE, 1.0f));
    return set_t(c, 0, hb_maximum(y, hb_full(HB_SCALAR_SHAPE, 0.0f)));
}

/* (x − mean)/sqrt(var + eps)·scale + bias over the axes from `axis` on. */
static bool run_layer_norm(call *c)
{
    hb_tensor *x = in_t(c, 0), *scale = in_t(c, 1), *bias = has_in(c, 2) ? in_t(c, 2) : NULL;
    if (!x || !scale || (has_in(c, 2) && !bias))
        return false;
    int nd = hb_tensor_ndim(x), a = axis_of(c, attr_int(c->n->p, "axis", -1), nd);
    if (a < 0)
        return false;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < nd; i++)
        *(i < a ? &outer : &inner) *= hb_tensor_dim(x, i);
    hb_tensor *rows = hb_reshape(x, HB_SHAPE(outer, inner));
    hb_tensor *d = hb_sub(rows, hb_mean_axis(rows, 1, true));
    hb_tensor *var = hb_mean_axis(hb_mul(d, d), 1, true);
    hb_tensor *norm = hb_div(d, hb_sqrt(hb_add_scalar(var, attr_float(c->n->p, "epsilon",
                                                                       1e-5f))));
    hb_tensor *y = hb_mul(hb_reshape(norm, nd, hb_tensor_shape(x)), scale);
    return set_t(c, 0, bias ? hb_add(y, bias) : y);
}

/* The input's shape as integers. */
static bool run_shape(call *c)
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
static bool run_gather(call *c)
{
    int s = c->n->in[0];
    if (!c->iv[s].v && c->m->slots[s].kind != SLOT_INTS)
        return call_fail(c, HB_ERR_UNSUPPORTED, "Gather of float tensors (only of shapes)"),
               false;
    const ints *data = in_ints(c, 0), *idx = data ? in_ints(c, 1) : NULL;
    if (!idx)
        return false;
    if (data->shape.ndim != 1 || attr_int(c->n->p, "axis", 0) != 0 || idx->n > 64)
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
static bool run_cast(call *c)
{
    int64_t to = attr_int(c->n->p, "to", 0);
    int s = c->n->in[0];
    bool integers = c->iv[s].v || c->m->slots[s].kind == SLOT_INTS;
    if (integers && is_int_type((int32_t)to)) {
        const ints *v = in_ints(c, 0);
        return v && set_ints(c, 0, &v->shape, v->v);
    }
    if (!integers && to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return run_identity(c);
    return call_fail(c, HB_ERR_UNSUPPORTED, "Cast to type %lld of %s", (long long)to,
                     integers ? "integers" : "floats"), false;
}

static bool run_constant(call *c)
{
    (void)c;
    return true; /* its value is a constant of the block (or a host array), set at load */
}

/* ---- the op table ------------------------------------------------------------------------ */

/* name, the opset it is read from (inputs and attributes as of then), inputs (min, max), the
 * attributes hybrid reads — any other attribute with a value is an error at load — and how
 * the node runs. */
typedef struct op_def {
    const char *type;
    int since;
    int min_in, max_in;
    int max_out; /* outputs it can make (hybrid's blocks return one, but a node may feed many) */
    const char *attrs;
    bool (*run)(call *c);
} op_def;

static const op_def ops[] = {
    {"Identity", 1, 1, 1, 1, "", run_identity},
    {"Dropout", 6, 1, 3, 1, "ratio seed is_test", run_identity}, /* inference: the input */
    {"Relu", 6, 1, 1, 1, "", run_relu},
    {"Sigmoid", 6, 1, 1, 1, "", run_sigmoid},
    {"Tanh", 6, 1, 1, 1, "", run_tanh},
    {"Exp", 6, 1, 1, 1, "", run_exp},
    {"Log", 6, 1, 1, 1, "", run_log},
    {"Abs", 6, 1, 1, 1, "", run_abs},
    {"Neg", 6, 1, 1, 1, "", run_neg},
    {"Sqrt", 6, 1, 1, 1, "", run_sqrt},
    {"Add", 6, 2, 2, 1, "broadcast axis", run_add},
    {"Sub", 6, 2, 2, 1, "broadcast axis", run_sub},
    {"Mul", 6, 2, 2, 1, "broadcast axis", run_mul},
    {"Div", 6, 2, 2, 1, "broadcast axis", run_div},
    {"MatMul", 1, 2, 2, 1, "", run_matmul},
    {"Gemm", 6, 2, 3, 1, "alpha beta broadcast transA transB", run_gemm},
    {"Conv", 1, 2, 3, 1, "auto_pad dilations group kernel_shape pads strides", run_conv},
    {"ConvTranspose", 1, 2, 3, 1, "auto_pad dilations group kernel_shape output_padding "
     "output_shape pads strides", run_conv_transpose},
    {"MaxPool", 1, 1, 1, 1, "auto_pad ceil_mode dilations kernel_shape pads storage_order strides",
     run_max_pool},
    {"AveragePool", 1, 1, 1, 1, "auto_pad ceil_mode count_include_pad kernel_shape pads strides",
     run_avg_pool},
    {"GlobalAveragePool", 1, 1, 1, 1, "", run_global_avg_pool},
    {"GlobalMaxPool", 1, 1, 1, 1, "", run_global_max_pool},
    {"BatchNormalization", 6, 5, 5, 1, "epsilon is_test momentum spatial training_mode",
     run_batch_norm},
    {"Flatten", 1, 1, 1, 1, "axis", run_flatten},
    {"Softmax", 1, 1, 1, 1, "axis", run_softmax},
    {"LogSoftmax", 1, 1, 1, 1, "axis", run_log_softmax},
    {"Concat", 4, 1, 64, 1, "axis", run_concat},
    {"Reshape", 5, 2, 2, 1, "allowzero", run_reshape},
    {"Transpose", 1, 1, 1, 1, "perm", run_transpose},
    {"Unsqueeze", 1, 1, 2, 1, "axes", run_unsqueeze},
    {"Squeeze", 1, 1, 2, 1, "axes", run_squeeze},
    {"ReduceSum", 1, 1, 2, 1, "axes keepdims noop_with_empty_axes", run_reduce_sum},
    {"ReduceMean", 1, 1, 1, 1, "axes keepdims", run_reduce_mean},
    {"ReduceMax", 1, 1, 1, 1, "axes keepdims", run_reduce_max},
    {"ReduceMin", 1, 1, 1, 1, "axes keepdims", run_reduce_min},
    {"ReduceSumSquare", 1, 1, 1, 1, "axes keepdims", run_reduce_sum_square},
    {"ReduceL1", 1, 1, 1, 1, "axes keepdims", run_reduce_l1},
    {"ReduceL2", 1, 1, 1, 1, "axes keepdims", run_reduce_l2},
    {"ReduceLogSum", 1, 1, 1, 1, "axes keepdims", run_reduce_log_sum},
    {"ReduceLogSumExp", 1, 1, 1, 1, "axes keepdims", run_reduce_log_sum_exp},
    {"LeakyRelu", 6, 1, 1, 1, "alpha", run_leaky_relu},
    {"PRelu", 7, 2, 2, 1, "", run_prelu},
    {"Elu", 6, 1, 1, 1, "alpha", run_elu},
    {"Selu", 6, 1, 1, 1, "alpha gamma", run_selu},
    {"Reciprocal", 6, 1, 1, 1, "", run_reciprocal},
    {"Sum", 6, 1, 64, 1, "", run_sum},
    {"Max", 6, 1, 64, 1, "", run_max},
    {"Min", 6, 1, 64, 1, "", run_min},
    {"Clip", 6, 1, 3, 1, "max min", run_clip},
    {"Pad", 2, 1, 4, 1, "mode pads value", run_pad},
    {"Split", 2, 1, 2, MAX_OUTPUTS, "axis num_outputs split", run_split},
    {"HardSigmoid", 6, 1, 1, 1, "alpha beta", run_hard_sigmoid},
    {"Mean", 6, 1, 64, 1, "", run_mean},
    {"LayerNormalization", 17, 2, 3, 1, "axis epsilon stash_type", run_layer_norm},
    {"Shape", 1, 1, 1, 1, "", run_shape},
    {"Gather", 1, 2, 2, 1, "axis", run_gather},
    {"Cast", 6, 1, 1, 1, "to", run_cast},
    {"Constant", 1, 0, 0, 1, "value", run_constant},
};

static const op_def *find_op(const char *type)
{
    for (size_t i = 0; i < HB_ARRAY_LEN(ops); i++)
        if (type && strcmp(ops[i].type, type) == 0)
            return &ops[i];
    return NULL;
}

/* The rank of slot s if the model says it: a constant's, or a graph input's declared shape;
 * -1 if unknown. */
static int declared_rank(const model *m, int s)
{
    if (s < 0)
        return -1;
    if (m->slots[s].kind == SLOT_TENSOR)
        return hb_tensor_ndim(m->slots[s].t);
    const Onnx__GraphProto *g = m->proto->graph;
    for (size_t i = 0; m->slots[s].kind == SLOT_INPUT && i < g->n_input; i++) {
        const Onnx__TypeProto *tp = g->input[i]->type;
        if (g->input[i]->name && strcmp(g->input[i]->name, m->slots[s].name) == 0 && tp &&
            tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type->shape)
            return (int)tp->tensor_type->shape->n_dim;
    }
    return -1;
}

/* A Pad's constant value, read now: the value attribute, or a constant_value input that is a
 * one-element constant of the model (what a trace could not follow, a value that changes
 * from call to call, is refused rather than baked in). */
static hb_status pad_fill(const model *m, const Onnx__NodeProto *p, node *n)
{
    n->fill = m->opset < 11 ? attr_float(p, "value", 0.0f) : 0.0f;
    if (n->nin < 3 || n->in[2] < 0)
        return HB_OK;
    const slot *s = &m->slots[n->in[2]];
    if (s->kind != SLOT_TENSOR || hb_tensor_numel(s->t) != 1)
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "constant_value \"%s\" is not a "
                         "one-element constant of the model", s->name);
    n->fill = hb_tensor_cdata(s->t)[0];
    return HB_OK;
}

/* Attribute values hybrid does not implement, refused at load. */
static hb_status check_values(const model *m, const Onnx__NodeProto *p)
{
    const char *t = p->op_type;
    static const char *const auto_pads[] = {"NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"};
    bool known_auto_pad = !attr(p, "auto_pad");
    for (size_t i = 0; i < HB_ARRAY_LEN(auto_pads); i++)
        known_auto_pad = known_auto_pad || attr_string_is(p, "auto_pad", auto_pads[i]);
    if (!known_auto_pad)
        return node_fail(m, p, HB_ERR_FORMAT, "auto_pad is none of NOTSET, VALID, SAME_UPPER, "
                         "SAME_LOWER");
    if (attr(p, "auto_pad") && !attr_string_is(p, "auto_pad", "NOTSET") && attr(p, "pads"))
        return node_fail(m, p, HB_ERR_FORMAT, "auto_pad with pads");
    size_t n;
    const int64_t *k = attr_ints(p, "kernel_shape", &n);
    if (k && n != 2 && n != 1)
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "a %zu-D kernel (only 1-D and 2-D)", n);
    if (attr_int(p, "storage_order", 0) != 0)
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "storage_order 1");
    /* window sizes as hybrid's ints: kernel, strides, dilations >= 1, pads >= 0, group >= 1 */
    static const struct { const char *name; int64_t lo; } ranges[] = {
        {"kernel_shape", 1}, {"strides", 1}, {"dilations", 1}, {"pads", 0},
        {"output_padding", 0}, {"output_shape", 1}};
    for (size_t r = 0; strcmp(t, "Pad") != 0 && r < HB_ARRAY_LEN(ranges); r++) {
        size_t nv;
        const int64_t *v = attr_ints(p, ranges[r].name, &nv);
        for (size_t i = 0; v && i < nv; i++)
            if (v[i] < ranges[r].lo || v[i] > INT_MAX)
                return node_fail(m, p, HB_ERR_FORMAT, "%s value %lld out of range",
                                 ranges[r].name, (long long)v[i]);
    }
    if (attr(p, "group") && (attr_int(p, "group", 1) < 1 || attr_int(p, "group", 1) > INT_MAX))
        return node_fail(m, p, HB_ERR_FORMAT, "group %lld", (long long)attr_int(p, "group", 1));
    if (strcmp(t, "BatchNormalization") == 0 && !(attr_float(p, "epsilon", 1e-5f) > 0.0f))
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "epsilon %g (must be positive)",
                         attr_float(p, "epsilon", 1e-5f));
    if (strcmp(t, "Split") == 0 && m->opset >= 13 && attr(p, "split"))
        return node_fail(m, p, HB_ERR_FORMAT, "a split attribute (an input from opset 13)");
    if (strcmp(t, "Split") == 0 && attr(p, "num_outputs") &&
        attr_int(p, "num_outputs", 0) != (int64_t)p->n_output)
        return node_fail(m, p, HB_ERR_FORMAT, "num_outputs %lld but %zu outputs",
                         (long long)attr_int(p, "num_outputs", 0), p->n_output);
    if (strcmp(t, "Pad") == 0) {
        if (attr(p, "mode") && !attr_string_is(p, "mode", "constant"))
            return node_fail(m, p, HB_ERR_UNSUPPORTED, "a mode other than constant");
        if (m->opset >= 11 && (attr(p, "pads") || attr(p, "value")))
            return node_fail(m, p, HB_ERR_FORMAT, "pads and value attributes (inputs from "
                             "opset 11)");
        if (m->opset < 11 && (p->n_input > 1 || !attr(p, "pads")))
            return node_fail(m, p, HB_ERR_FORMAT, "pads must be an attribute before opset 11");
        if (m->opset >= 11 && p->n_input < 2)
            return node_fail(m, p, HB_ERR_FORMAT, "no pads input");
        if (p->n_input > 3 && m->opset < 18)
            return node_fail(m, p, HB_ERR_FORMAT, "an axes input before opset 18");
    }
    if (strcmp(t, "Unsqueeze") == 0 && m->opset >= 13 && p->n_input < 2)
        return node_fail(m, p, HB_ERR_FORMAT, "no axes input (opset 13 and later)");
    bool pool = strcmp(t, "MaxPool") == 0 || strcmp(t, "AveragePool") == 0;
    if (pool && !k)
        return node_fail(m, p, HB_ERR_FORMAT, "no kernel_shape");
    size_t np, nd;
    const int64_t *pads = attr_ints(p, "pads", &np), *dil = attr_ints(p, "dilations", &nd);
    for (size_t i = 0; pool && pads && k && i < np && np == 2 * n; i++)
        if (pads[i] >= k[i % n]) /* a window over padding alone */
            return node_fail(m, p, HB_ERR_UNSUPPORTED, "padding %lld with a kernel of %lld "
                             "(windows over padding alone)", (long long)pads[i],
                             (long long)k[i % n]);
    for (size_t i = 0; pool && dil && i < nd; i++)
        if (dil[i] != 1)
            return node_fail(m, p, HB_ERR_UNSUPPORTED, "pool dilations (only 1)");
    if (strcmp(t, "BatchNormalization") == 0 &&
        (attr_int(p, "training_mode", 0) != 0 || attr_int(p, "spatial", 1) != 1 ||
         p->n_output > 1))
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "training mode (only inference, one output)");
    if (strcmp(t, "Dropout") == 0 && (p->n_output > 1 || attr_int(p, "is_test", 1) == 0))
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "training (a mask output, or is_test 0)");
    if (strcmp(t, "BatchNormalization") == 0 && attr_int(p, "is_test", 1) == 0)
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "training mode (is_test 0)");
    if (m->opset >= 7 && (attr(p, "broadcast") || (attr(p, "axis") && (!strcmp(t, "Add") ||
                          !strcmp(t, "Sub") || !strcmp(t, "Mul") || !strcmp(t, "Div")))))
        return node_fail(m, p, HB_ERR_FORMAT, "broadcast and axis attributes (opset 6 and "
                         "before)");
    if (strcmp(t, "Clip") == 0 && m->opset >= 11 && (attr(p, "min") || attr(p, "max")))
        return node_fail(m, p, HB_ERR_FORMAT, "min and max attributes (inputs from opset 11)");
    if (strcmp(t, "LayerNormalization") == 0 && attr_int(p, "stash_type", 1) != 1)
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "stash_type other than float");
    if (strcmp(t, "Reshape") == 0 && attr_int(p, "allowzero", 0) != 0)
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "allowzero 1");
    if (strcmp(t, "ReduceSum") == 0 && attr_int(p, "noop_with_empty_axes", 0) != 0)
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "noop_with_empty_axes 1");
    bool squeeze = strcmp(t, "Unsqueeze") == 0 || strcmp(t, "Squeeze") == 0;
    if ((squeeze || strcmp(t, "ReduceSum") == 0) &&
        (m->opset >= 13 ? attr(p, "axes") != NULL : p->n_input > 1))
        return node_fail(m, p, HB_ERR_FORMAT, "axes as %s in opset %lld",
                         p->n_input > 1 ? "an input" : "an attribute", (long long)m->opset);
    return HB_OK;
}

/* ---- loading ----------------------------------------------------------------------------------- */

static hb_tensor *holder_forward(hb_block *self, hb_tensor *x)
{
    (void)x;
    return hb_fail(HB_ERR_STATE, "%s: holds an ONNX model's parameters; call the model",
                   hb_block_type(self)), NULL;
}

/* The block (root or a child made on the way) that holds the parameter called name
 * ("a.b.c": child a, its child b, parameter c) and the parameter's own name in it. */
static hb_block *holder_of(hb_block *root, const char *name, char *leaf, size_t size,
                           bool *nomem)
{
    *nomem = false;
    hb_block *b = root;
    const char *p = name;
    for (const char *dot; (dot = strchr(p, '.')); p = dot + 1) {
        char key[256];
        size_t len = (size_t)(dot - p);
        if (len == 0 || len >= sizeof key)
            return NULL;
        memcpy(key, p, len);
        key[len] = '\0';
        hb_block *next = NULL;
        for (int i = 0; i < hb_block_num_children(b) && !next; i++) {
            const char *k;
            hb_block *ch = hb_block_child_at(b, i, &k);
            if (strcmp(k, key) == 0)
                next = ch;
        }
        if (!next) {
            if (hb_block_find_param(b, key))
                return NULL; /* a parameter has the name: this one goes flat */
            next = hb_block_new("ONNXParameters", holder_forward);
            if (!next || hb_block_add_child(b, key, next) != HB_OK) {
                *nomem = true; /* the key is free and well formed: only memory can fail */
                return NULL;
            }
        }
        b = next;
    }
    if (!*p || strlen(p) >= size)
        return NULL;
    snprintf(leaf, size, "%s", p);
    return b;
}

/* Adds value under name (a parameter if trainable, else a constant), nested by its dots where
 * it can be, flat with '.' as '_' otherwise; the slot keeps a reference. */
static hb_status add_value(hb_block *root, model *m, int s, const char *name, hb_tensor *value,
                           bool trainable)
{
    char leaf[512];
    hb_status st = HB_ERR_NAME;
    bool nomem;
    hb_block *h = holder_of(root, name, leaf, sizeof leaf, &nomem);
    if (nomem) {
        hb_tensor_release(value);
        return hb_fail(HB_ERR_NOMEM, "%s: out of memory", m->path);
    }
    if (h && !hb_block_find_param(h, leaf)) {
        st = trainable ? hb_block_add_param(h, leaf, value->shape.ndim, value->shape.dim,
                                            HB_INIT_DEFAULT)
                       : hb_block_add_const(h, leaf, hb_tensor_retain(value));
        if (st == HB_OK && trainable)
            st = hb_param_assign(hb_block_find_param(h, leaf), value);
    }
    if (st != HB_OK && st != HB_ERR_NOMEM) { /* "a..b", or a name taken: flat, dots as _ */
        hb_clear_error();
        char flat[512];
        snprintf(flat, sizeof flat, "%s", name);
        for (char *q = flat; *q; q++)
            *q = *q == '.' ? '_' : *q;
        h = root;
        snprintf(leaf, sizeof leaf, "%s", flat);
        st = trainable ? hb_block_add_param(root, flat, value->shape.ndim, value->shape.dim,
                                            HB_INIT_DEFAULT)
                       : hb_block_add_const(root, flat, hb_tensor_retain(value));
        if (st == HB_OK && trainable)
            st = hb_param_assign(hb_block_find_param(root, flat), value);
    }
    hb_tensor_release(value);
    if (st != HB_OK)
        return hb_fail(st, "%s: initializer \"%s\": %s", m->path, name, hb_last_error());
    m->slots[s].kind = SLOT_TENSOR;
    m->slots[s].t = hb_tensor_retain(hb_block_param(h, leaf));
    return HB_OK;
}

/* Whether initializer name is a batch norm's running statistic (a constant, not trained). */
static bool is_statistic(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *p = g->node[i];
        if (p->op_type && strcmp(p->op_type, "BatchNormalization") == 0)
            for (size_t j = 3; j < p->n_input && j < 5; j++)
                if (strcmp(p->input[j], name) == 0)
                    return true;
    }
    return false;
}

static hb_status load_initializers(hb_block *root, model *m)
{
    const Onnx__GraphProto *g = m->proto->graph;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        if (!t->name || !*t->name)
            return hb_fail(HB_ERR_FORMAT, "%s: initializer %zu has no name", m->path, i);
        if (slot_find(m, t->name) >= 0)
            return hb_fail(HB_ERR_FORMAT, "%s: initializer \"%s\" twice", m->path, t->name);
        int s = slot_add(m, t->name, SLOT_UNSET);
        if (s < 0)
            return HB_ERR_NOMEM;
        if (is_int_type(t->data_type)) {
            if (!int_values(m, t, &m->slots[s].iv))
                return hb_last_status();
            m->slots[s].kind = SLOT_INTS;
            continue;
        }
        if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            return hb_fail(HB_ERR_UNSUPPORTED, "%s: initializer \"%s\" has data type %d (only "
                           "float, and integers for shapes)", m->path, t->name, t->data_type);
        hb_tensor *v = float_tensor(m, t, "initializer");
        hb_status st = v ? add_value(root, m, s, t->name, v, !is_statistic(g, t->name))
                         : hb_last_status();
        if (st != HB_OK)
            return st;
    }
    return HB_OK;
}

/* The graph's inputs that are not initializers: the first is x, the others bound later. */
static hb_status load_inputs(model *m)
{
    const Onnx__GraphProto *g = m->proto->graph;
    m->x = -1;
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *v = g->input[i];
        if (!v->name || slot_find(m, v->name) >= 0)
            continue; /* an initializer listed as an input too (older exports) */
        const Onnx__TypeProto *tp = v->type;
        if (tp && tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
            return hb_fail(HB_ERR_UNSUPPORTED, "%s: input \"%s\" is not a tensor (a sequence, "
                           "map or optional)", m->path, v->name);
        if (tp && tp->tensor_type->has_elem_type &&
            tp->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            return hb_fail(HB_ERR_UNSUPPORTED, "%s: input \"%s\" has element type %d (only "
                           "float)", m->path, v->name, tp->tensor_type->elem_type);
        int s = slot_add(m, v->name, SLOT_INPUT);
        if (s < 0)
            return HB_ERR_NOMEM;
        if (m->x >= 0)
            continue;
        m->x = s;
        const Onnx__TensorShapeProto *sh = tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
                                               ? tp->tensor_type->shape : NULL;
        if (sh && sh->n_dim <= HB_MAX_DIMS) {
            m->x_shape.ndim = (int)sh->n_dim;
            for (size_t d = 0; d < sh->n_dim; d++)
                m->x_shape.dim[d] = sh->dim[d]->value_case ==
                                                ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                                            sh->dim[d]->dim_value > 0
                                        ? sh->dim[d]->dim_value : 0; /* symbolic, or nonsense */
        }
    }
    if (m->x < 0)
        return hb_fail(HB_ERR_UNSUPPORTED, "%s: the graph has no input besides its "
                       "initializers", m->path);
    return HB_OK;
}

/* A Constant node's value: a constant of the block (floats) or a host array (integers). */
static hb_status load_constant(hb_block *root, model *m, const Onnx__NodeProto *p, int s)
{
    const Onnx__AttributeProto *a = attr(p, "value");
    if (!a || !a->t)
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "a value other than a tensor");
    if (is_int_type(a->t->data_type)) {
        m->slots[s].kind = SLOT_INTS;
        return int_values(m, a->t, &m->slots[s].iv) ? HB_OK : hb_last_status();
    }
    if (a->t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return node_fail(m, p, HB_ERR_UNSUPPORTED, "a value of data type %d", a->t->data_type);
    hb_tensor *v = float_tensor(m, a->t, "constant");
    return v ? add_value(root, m, s, p->output[0], v, false) : hb_last_status();
}

static hb_status load_nodes(hb_block *root, model *m)
{
    const Onnx__GraphProto *g = m->proto->graph;
    m->nodes = hb_calloc(g->n_node + 1, sizeof *m->nodes);
    if (!m->nodes)
        return HB_ERR_NOMEM;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *p = g->node[i];
        node *n = &m->nodes[m->nnodes++];
        n->p = p;
        if (!p->op_type)
            return node_fail(m, p, HB_ERR_FORMAT, "no op type");
        char key[200];
        const char *nm = p->name ? p->name : "";
        snprintf(key, sizeof key, "%s", nm + (*nm == '/')); /* PyTorch's: "/conv1/Conv" */
        if (!*key)
            snprintf(key, sizeof key, "%s_%zu", p->op_type, i);
        if (!(n->key = hb_strdup(key)))
            return HB_ERR_NOMEM;
        if (p->domain && *p->domain && strcmp(p->domain, "ai.onnx") != 0)
            return node_fail(m, p, HB_ERR_UNSUPPORTED, "domain \"%s\"", p->domain);
        if (!(n->op = find_op(p->op_type)))
            return node_fail(m, p, HB_ERR_UNSUPPORTED, "hybrid has no %s", p->op_type);
        if (m->opset < n->op->since)
            return node_fail(m, p, HB_ERR_UNSUPPORTED, "hybrid reads %s as of opset %d",
                             p->op_type, n->op->since);
        if ((int)p->n_input < n->op->min_in || (int)p->n_input > n->op->max_in)
            return node_fail(m, p, HB_ERR_FORMAT, "%zu inputs (%d to %d)", p->n_input,
                             n->op->min_in, n->op->max_in);
        if (p->n_output < 1)
            return node_fail(m, p, HB_ERR_FORMAT, "no outputs");
        for (size_t a = 0; a < p->n_attribute; a++) {
            const char *an = p->attribute[a]->name ? p->attribute[a]->name : "";
            const char *list = n->op->attrs;
            size_t len = strlen(an);
            bool known = false;
            for (const char *q = list; *q && !known; q += strcspn(q, " "), q += *q == ' ')
                known = len && strncmp(q, an, len) == 0 && (q[len] == ' ' || q[len] == '\0');
            if (!known)
                return node_fail(m, p, HB_ERR_UNSUPPORTED, "attribute \"%s\"", an);
        }
        hb_status st = check_values(m, p);
        if (st != HB_OK)
            return st;
        n->nin = (int)p->n_input, n->nout = (int)p->n_output;
        n->in = hb_malloc(sizeof(int) * (size_t)(n->nin + 1));
        n->out = hb_malloc(sizeof(int) * (size_t)(n->nout + 1));
        if (!n->in || !n->out)
            return HB_ERR_NOMEM;
        for (int j = 0; j < n->nin; j++) {
            const char *name = p->input[j];
            if (!*name) {
                /* an optional input left out; required ones, and a variadic op's, cannot be */
                if (j < n->op->min_in || n->op->max_in == 64)
                    return node_fail(m, p, HB_ERR_FORMAT, "input %d is empty", j);
                n->in[j] = -1;
                continue;
            }
            if ((n->in[j] = slot_find(m, name)) < 0)
                return node_fail(m, p, HB_ERR_FORMAT, "input \"%s\" is defined by no earlier "
                                 "node, initializer or graph input", name);
        }
        for (int j = 0; j < n->nout; j++) {
            if (!*p->output[j]) {
                if (j == 0)
                    return node_fail(m, p, HB_ERR_FORMAT, "output 0 is empty");
                n->out[j] = -1;
                continue;
            }
            if (slot_find(m, p->output[j]) >= 0)
                return node_fail(m, p, HB_ERR_FORMAT, "output \"%s\" is defined twice",
                                 p->output[j]);
            if ((n->out[j] = slot_add(m, p->output[j], SLOT_NODE)) < 0)
                return HB_ERR_NOMEM;
        }
        if (n->nout > n->op->max_out)
            return node_fail(m, p, HB_ERR_UNSUPPORTED, "%d outputs (only %d)", n->nout,
                             n->op->max_out);
        if (strcmp(p->op_type, "Pad") == 0 && (st = pad_fill(m, p, n)) != HB_OK)
            return st;
        bool conv = strcmp(p->op_type, "Conv") == 0 || strcmp(p->op_type, "ConvTranspose") == 0;
        if (conv) { /* the window's rank, known now if the weight is a constant or declared */
            int rank = declared_rank(m, n->in[1]);
            if (rank >= 0 && rank != 3 && rank != 4)
                return node_fail(m, p, HB_ERR_UNSUPPORTED, "a %d-D kernel (only 1-D and 2-D)",
                                 rank - 2);
        }
        if (strcmp(p->op_type, "Constant") == 0 && (st = load_constant(root, m, p, n->out[0])))
            return st;
        /* integers stay integers through the shape ops (known when the call runs) */
        bool from_ints = n->nin > 0 && n->in[0] >= 0 &&
                         (m->slots[n->in[0]].kind == SLOT_INTS || m->slots[n->in[0]].is_int);
        if (strcmp(p->op_type, "Cast") == 0) { /* integers stay integers, floats floats */
            int64_t to = attr_int(p, "to", 0);
            if (from_ints ? !is_int_type((int32_t)to) : to != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
                return node_fail(m, p, HB_ERR_UNSUPPORTED, "a cast of %s to data type %lld",
                                 from_ints ? "integers" : "floats", (long long)to);
        }
        if (strcmp(p->op_type, "Shape") == 0 ||
            (from_ints && (strcmp(p->op_type, "Gather") == 0 ||
                           strcmp(p->op_type, "Unsqueeze") == 0 ||
                           strcmp(p->op_type, "Squeeze") == 0 ||
                           strcmp(p->op_type, "Concat") == 0 ||
                           strcmp(p->op_type, "Identity") == 0 ||
                           strcmp(p->op_type, "Cast") == 0)))
            m->slots[n->out[0]].is_int = true;
    }
    return HB_OK;
}

static hb_status load_output(model *m)
{
    const Onnx__GraphProto *g = m->proto->graph;
    if (g->n_output != 1)
        return hb_fail(HB_ERR_UNSUPPORTED, "%s: the graph has %zu outputs (hybrid's blocks "
                       "return one)", m->path, g->n_output);
    const char *name = g->output[0]->name ? g->output[0]->name : "";
    const Onnx__TypeProto *tp = g->output[0]->type;
    if (tp && (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
               (tp->tensor_type->has_elem_type &&
                tp->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)))
        return hb_fail(HB_ERR_UNSUPPORTED, "%s: output \"%s\" is not a float tensor", m->path,
                       name);
    if ((m->output = slot_find(m, name)) < 0)
        return hb_fail(HB_ERR_FORMAT, "%s: output \"%s\" is defined by no node", m->path, name);
    if (m->slots[m->output].kind == SLOT_INTS || m->slots[m->output].is_int)
        return hb_fail(HB_ERR_UNSUPPORTED, "%s: output \"%s\" holds integers (only float "
                       "outputs)", m->path, name);
    return HB_OK;
}

static hb_tensor *onnx_forward(hb_block *self, hb_tensor *x)
{
    const model *m = hb_block_state(self);
    call c = {m, hb_calloc((size_t)m->nslots + 1, sizeof *c.t),
              hb_calloc((size_t)m->nslots + 1, sizeof *c.iv), NULL};
    hb_tensor *y = NULL;
    if (!c.t || !c.iv)
        goto done;
    for (int s = 0; s < m->nslots; s++)
        if (m->slots[s].kind == SLOT_TENSOR || m->slots[s].kind == SLOT_INPUT)
            c.t[s] = m->slots[s].t;
    c.t[m->x] = x;
    for (int s = 0; s < m->nslots; s++)
        if (m->slots[s].kind == SLOT_INPUT && !c.t[s]) {
            hb_fail(HB_ERR_STATE, "%s: graph input \"%s\" is not bound (hb_onnx_bind)", m->path,
                    m->slots[s].name);
            goto done;
        }
    /* Each node runs as a call of its own under the block ("torch_jit/Conv_12"): dumps and
     * messages say which node an op came from, and its intermediates go when it returns. */
    for (int i = 0; i < m->nnodes; i++) {
        c.n = &m->nodes[i];
        if (hb_frame_push(self, c.n->key) != HB_OK)
            goto done;
        bool ok = c.n->op->run(&c);
        hb_tensor *outs[MAX_OUTPUTS] = {NULL};
        for (int j = 0; ok && j < c.n->nout; j++)
            if (c.n->out[j] >= 0)
                outs[j] = hb_tensor_retain(c.t[c.n->out[j]]);
        hb_frame_pop();
        for (int j = 0; j < c.n->nout; j++)
            if (outs[j] && !hb_frame_adopt(outs[j])) /* the block's call owns them now */
                ok = false, c.t[c.n->out[j]] = NULL;
        if (!ok) {
            if (hb_last_status() == HB_OK)
                node_fail(m, c.n->p, HB_ERR_STATE, "failed");
            goto done;
        }
    }
    y = c.t[m->output];
    if (y && m->slots[m->output].kind != SLOT_NODE) /* the input or a weight: not itself */
        y = hb_tensor_copy(y);
done:
    for (int s = 0; c.iv && s < m->nslots; s++)
        hb_free(c.iv[s].v);
    hb_free(c.t), hb_free(c.iv);
    return y;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hb_fail(HB_ERR_IO, "%s: cannot open: %s", path, strerror(errno)), NULL;
    char *buf = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
        hb_fail(HB_ERR_IO, "%s: cannot read: not a regular file", path);
    else if (size > MAX_FILE)
        hb_fail(HB_ERR_UNSUPPORTED, "%s: %ld bytes (at most %d)", path, size, MAX_FILE);
    else if (!(buf = hb_malloc((size_t)size + 1)))
        hb_fail(HB_ERR_NOMEM, "%s: out of memory reading %ld bytes", path, size);
    else if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        hb_fail(HB_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        hb_free(buf), buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)size : 0;
    return buf;
}

hb_block *hb_onnx_load_buffer(const void *data, size_t len, const char *name)
{
    name = name ? name : "(buffer)";
    model *m = hb_calloc(1, sizeof *m);
    hb_block *b = m ? hb_block_new("ONNX", onnx_forward) : NULL;
    if (!b || !(m->path = hb_strdup(name))) {
        hb_block_release(b), hb_free(m);
        return hb_fail(HB_ERR_NOMEM, "%s: out of memory", name), NULL;
    }
    hb_block_set_state(b, m, model_free);
    hb_status st = HB_OK;
    m->proto = onnx__model_proto__unpack(&allocator, len, data);
    if (!m->proto)
        st = hb_fail(HB_ERR_FORMAT, "%s: not an ONNX model (%zu bytes that do not parse as a "
                     "ModelProto: truncated, or another kind of file)", name, len);
    else if (!m->proto->graph)
        st = hb_fail(HB_ERR_FORMAT, "%s: the model has no graph", name);
    if (st == HB_OK) {
        m->opset = -1;
        for (size_t i = 0; i < m->proto->n_opset_import; i++) {
            const Onnx__OperatorSetIdProto *o = m->proto->opset_import[i];
            if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0)
                m->opset = o->has_version ? o->version : -1;
        }
        if (m->opset < 6)
            st = hb_fail(HB_ERR_UNSUPPORTED, "%s: opset %lld of the default domain (hybrid "
                         "reads opset 6 and later)", name, (long long)m->opset);
    }
    if (st == HB_OK)
        st = load_initializers(b, m);
    if (st == HB_OK)
        st = load_inputs(m);
    if (st == HB_OK)
        st = load_nodes(b, m);
    if (st == HB_OK)
        st = load_output(m);
    if (st != HB_OK) {
        if (hb_last_status() == HB_OK || st == HB_ERR_NOMEM)
            hb_fail(st, "%s: %s", name, st == HB_ERR_NOMEM ? "out of memory" : hb_last_error());
        hb_block_release(b);
        return NULL;
    }
    if (m->proto->graph->name && *m->proto->graph->name)
        hb_block_set_name(b, m->proto->graph->name);
    return b;
}

hb_block *hb_onnx_load(const char *path)
{
    if (!path)
        return hb_fail(HB_ERR_ARG, "hb_onnx_load: path is NULL"), NULL;
    size_t len;
    char *buf = slurp(path, &len);
    if (!buf)
        return NULL;
    hb_block *b = hb_onnx_load_buffer(buf, len, path);
    hb_free(buf);
    return b;
}

static model *model_of(const hb_block *b)
{
    return b && strcmp(hb_block_type(b), "ONNX") == 0 ? hb_block_state(b) : NULL;
}

hb_status hb_onnx_bind(hb_block *b, const char *name, hb_tensor *t)
{
    model *m = model_of(b);
    if (!m || !name || !t)
        return hb_fail(HB_ERR_ARG, "hb_onnx_bind: needs an ONNX block, a name and a tensor");
    int s = slot_find(m, name);
    if (s < 0 || m->slots[s].kind != SLOT_INPUT || s == m->x)
        return hb_fail(HB_ERR_NAME, "%s: \"%s\" is not a graph input besides the first",
                       m->path, name);
    hb_tensor_release(m->slots[s].t);
    m->slots[s].t = hb_tensor_retain(t);
    hb_block_drop_plans(b); /* a plan read the old tensor */
    return HB_OK;
}

int hb_onnx_inputs(const hb_block *b, const char **names, int max)
{
    const model *m = model_of(b);
    int n = 0;
    for (int s = 0; m && s < m->nslots; s++)
        if (m->slots[s].kind == SLOT_INPUT) {
            if (names && n < max)
                names[n] = m->slots[s].name;
            n++;
        }
    return n;
}

int hb_onnx_input_shape(const hb_block *b, int64_t *shape)
{
    const model *m = model_of(b);
    if (!m)
        return -1;
    for (int i = 0; shape && i < m->x_shape.ndim; i++)
        shape[i] = m->x_shape.dim[i];
    return m->x_shape.ndim;
}

hb_tensor *hb_onnx_tensor_load(const char *path)
{
    if (!path)
        return hb_fail(HB_ERR_ARG, "hb_onnx_tensor_load: path is NULL"), NULL;
    size_t len;
    char *buf = slurp(path, &len);
    if (!buf)
        return NULL;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(&allocator, len, (const uint8_t *)buf);
    hb_free(buf);
    if (!t)
        return hb_fail(HB_ERR_FORMAT, "%s: not an ONNX TensorProto", path), NULL;
    hb_tensor *r = NULL;
    if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        hb_fail(HB_ERR_UNSUPPORTED, "%s: data type %d (only float)", path, t->data_type);
    else
        r = float_tensor(&(model){.path = (char *)path}, t, "tensor");
    onnx__tensor_proto__free_unpacked(t, &allocator);
    return r;
}

/* ONNX export: a block traced on an input, written as an ONNX model (opset 13) with its
 * parameters and constants as initializers under their state-dict names, so that ONNX Runtime
 * or Netron reads what hybrid traced. The graph is exported as traced, before any pass: each
 * IR op becomes the ONNX op (or the few ops) that computes the same thing, so fused ops never
 * appear. What ONNX cannot say the way hybrid means it — eager islands, guards, lifted loops,
 * in-place training updates, gradient ops — is refused with the node's block path. The shapes
 * are the traced ones (a plan is per shape; a reshape's target is fixed in the trace). */
#include "../ir/graph.h"
#include "frontend.h"
#include "onnx.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { OPSET = 13, IR_VERSION = 7 };

/* Everything the model's messages point at, freed together after packing. */
typedef struct writer {
    void **owned;
    int nowned, cap;
    bool failed;
    Onnx__NodeProto **nodes;
    size_t nnodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t ninits, cap_inits;
    const hb_graph *g;
    char **names; /* per value: its name in the ONNX graph */
    int counter;  /* for fresh names */
} writer;

static void *own(writer *w, void *p)
{
    if (!p) {
        w->failed = true;
        return NULL;
    }
    if (w->nowned == w->cap) {
        int cap = w->cap ? 2 * w->cap : 256;
        void **grown = hb_realloc(w->owned, sizeof *grown * (size_t)cap);
        if (!grown) {
            hb_free(p);
            w->failed = true;
            return NULL;
        }
        w->owned = grown, w->cap = cap;
    }
    w->owned[w->nowned++] = p;
    return p;
}

static void *alloc(writer *w, size_t n) { return own(w, hb_calloc(1, n ? n : 1)); }

static char *str(writer *w, const char *s) { return own(w, hb_strdup(s ? s : "")); }

static char *fresh(writer *w, const char *stem)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s_%d", stem, w->counter++);
    return str(w, buf);
}

static bool push(writer *w, void ***items, size_t *n, size_t *cap, void *item)
{
    if (!item)
        return false;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **grown = hb_realloc(*items, sizeof *grown * c);
        if (!grown)
            return w->failed = true, false;
        *items = grown, *cap = c;
    }
    (*items)[(*n)++] = item;
    return true;
}

/* ---- initializers -------------------------------------------------------------------------- */

static Onnx__TensorProto *tensor_proto(writer *w, const char *name, int32_t type, int ndim,
                                       const int64_t *dims, const void *data, size_t bytes)
{
    Onnx__TensorProto *t = alloc(w, sizeof *t);
    int64_t *d = alloc(w, sizeof(int64_t) * (size_t)(ndim + 1));
    uint8_t *raw = alloc(w, bytes);
    if (!t || !d || !raw)
        return NULL;
    onnx__tensor_proto__init(t);
    if (ndim)
        memcpy(d, dims, sizeof(int64_t) * (size_t)ndim);
    if (bytes)
        memcpy(raw, data, bytes);
    t->n_dims = (size_t)ndim, t->dims = d;
    t->has_data_type = true, t->data_type = type;
    t->name = str(w, name);
    t->has_raw_data = true, t->raw_data = (ProtobufCBinaryData){bytes, raw};
    return t;
}

static bool add_init(writer *w, Onnx__TensorProto *t)
{
    return t && push(w, (void ***)&w->inits, &w->ninits, &w->cap_inits, t);
}

/* A scalar float constant, its name. */
static char *scalar(writer *w, float v)
{
    char *name = fresh(w, "scalar");
    return add_init(w, tensor_proto(w, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL, &v,
                                    sizeof v)) ? name : NULL;
}

/* A scalar constant of dtype d, its name: ONNX's binary ops take both inputs of one type. */
static char *typed_scalar(writer *w, hb_dtype d, double v)
{
    char *name = fresh(w, "scalar");
    uint8_t bytes[8];
    hb_dtype_set(d, bytes, 0, v);
    return add_init(w, tensor_proto(w, name, hb_dtypes[d].onnx, 0, NULL, bytes,
                                    hb_dtypes[d].size)) ? name : NULL;
}

/* A 1-D int64 constant, its name. */
static char *int64s(writer *w, const char *stem, int n, const int64_t *v)
{
    char *name = fresh(w, stem);
    int64_t dim = n;
    return add_init(w, tensor_proto(w, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, &dim, v,
                                    sizeof(int64_t) * (size_t)n)) ? name : NULL;
}

/* ---- nodes ----------------------------------------------------------------------------------- */

typedef struct attr_spec {
    const char *name;
    int kind; /* 0 none, 1 int, 2 ints, 3 float */
    int64_t i;
    const int64_t *ints;
    int nints;
    float f;
} attr_spec;

/* A node op(inputs) -> out with attributes; false if out of memory. */
static bool node(writer *w, const char *op, const char *path, int nin, char *const *in,
                 const char *out, int nattr, const attr_spec *attrs)
{
    Onnx__NodeProto *n = alloc(w, sizeof *n);
    char **ins = alloc(w, sizeof(char *) * (size_t)(nin + 1));
    char **outs = alloc(w, sizeof(char *));
    Onnx__AttributeProto **as = alloc(w, sizeof *as * (size_t)(nattr + 1));
    if (!n || !ins || !outs || !as)
        return false;
    onnx__node_proto__init(n);
    for (int i = 0; i < nin; i++)
        if (!in[i] || !(ins[i] = str(w, in[i])))
            return false;
    outs[0] = str(w, out);
    n->n_input = (size_t)nin, n->input = ins;
    n->n_output = 1, n->output = outs;
    n->op_type = str(w, op);
    n->name = fresh(w, op);
    n->doc_string = str(w, path); /* the block path the node came from */
    for (int i = 0; i < nattr; i++) {
        Onnx__AttributeProto *a = alloc(w, sizeof *a);
        if (!a)
            return false;
        onnx__attribute_proto__init(a);
        a->name = str(w, attrs[i].name);
        a->has_type = true;
        switch (attrs[i].kind) {
        case 1:
            a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
            a->has_i = true, a->i = attrs[i].i;
            break;
        case 2: {
            int64_t *v = alloc(w, sizeof(int64_t) * (size_t)(attrs[i].nints + 1));
            if (!v)
                return false;
            memcpy(v, attrs[i].ints, sizeof(int64_t) * (size_t)attrs[i].nints);
            a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
            a->n_ints = (size_t)attrs[i].nints, a->ints = v;
            break;
        }
        default:
            a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
            a->has_f = true, a->f = attrs[i].f;
            break;
        }
        as[i] = a;
    }
    n->n_attribute = (size_t)nattr, n->attribute = as;
    return !w->failed && push(w, (void ***)&w->nodes, &w->nnodes, &w->cap_nodes, n);
}

#define NODE(op, out, ...)                                                                    \
    node(w, op, path, (int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)),                \
         (char *[]){__VA_ARGS__}, out, 0, NULL)
#define NODE_A(op, out, attrs, nattrs, ...)                                                   \
    node(w, op, path, (int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)),                \
         (char *[]){__VA_ARGS__}, out, nattrs, attrs)

static hb_status refuse(const hb_node *n, const char *why)
{
    return hb_frame_fail(HB_ERR_UNSUPPORTED, "onnx export: %s at %s: %s", hb_op_table[n->op].name,
                         n->path && *n->path ? n->path : "the graph", why);
}

/* x compared with s: the ONNX comparison (bool), as floats 1 / 0. */
static bool compare(writer *w, const char *path, const char *op, bool negate, char *x, float s,
                    const char *out)
{
    char *c = scalar(w, s), *b = fresh(w, "bool"), *b2 = negate ? fresh(w, "bool") : b;
    attr_spec to = {"to", 1, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, NULL, 0, 0};
    return NODE(op, b, x, c) && (!negate || NODE("Not", b2, b)) &&
           NODE_A("Cast", out, &to, 1, b2);
}

/* a AND/OR b on floats: as booleans (non-zero), back to floats. */
static bool logic(writer *w, const char *path, const char *op, int n, char *const *in,
                  const char *out)
{
    attr_spec to_bool = {"to", 1, ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, NULL, 0, 0};
    attr_spec to_float = {"to", 1, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, NULL, 0, 0};
    char *b[2], *r = fresh(w, "bool");
    for (int i = 0; i < n; i++)
        if (!(b[i] = fresh(w, "bool")) || !NODE_A("Cast", b[i], &to_bool, 1, in[i]))
            return false;
    return (n == 1 ? NODE(op, r, b[0]) : NODE(op, r, b[0], b[1])) &&
           NODE_A("Cast", out, &to_float, 1, r);
}

/* a < b and the like over bools: ONNX's Less, Greater and their OrEqual forms take numbers
 * only, so both go through int32 (false 0 < true 1, as hybrid orders them). */
static bool order_compare(writer *w, const hb_node *n, const char *path, const char *op,
                          char *const *in, const char *out)
{
    if (w->g->values[n->inputs[0]].dtype != HB_BOOL)
        return NODE(op, out, in[0], in[1]);
    attr_spec to = {"to", 1, ONNX__TENSOR_PROTO__DATA_TYPE__INT32, NULL, 0, 0};
    char *a = fresh(w, "int"), *b = fresh(w, "int");
    return NODE_A("Cast", a, &to, 1, in[0]) && NODE_A("Cast", b, &to, 1, in[1]) &&
           NODE(op, out, a, b);
}

/* hybrid's integer a / b and a mod b are 0 where b is 0; ONNX leaves that undefined (ONNX
 * Runtime refuses a zero divisor it can see, and traps on one it cannot). So: divide by 1
 * where b is 0, then give 0 there. */
static bool int_divide(writer *w, const char *path, const char *op, int nattr,
                       const attr_spec *attrs, hb_dtype d, char *const *in, const char *out)
{
    char *zero = fresh(w, "divisor_is_0"), *safe = fresh(w, "divisor"), *q = fresh(w, "quotient");
    return NODE("Equal", zero, in[1], typed_scalar(w, d, 0)) &&
           NODE("Where", safe, zero, typed_scalar(w, d, 1), in[1]) &&
           NODE_A(op, q, attrs, nattr, in[0], safe) &&
           NODE("Where", out, zero, typed_scalar(w, d, 0), q);
}

/* ONNX's Mod of floats must be fmod (the dividend's sign); hybrid's mod has the divisor's, as
 * Python's %: where the fmod m is not 0 and its sign is not b's, m + b. (b = 0: m is NaN,
 * kept.) Integers have both forms in ONNX, fmod = 0 being Python's. */
static bool export_mod(writer *w, const hb_node *n, const char *path, char *const *in,
                       const char *out)
{
    hb_dtype d = w->g->values[n->inputs[0]].dtype;
    attr_spec fmod = {"fmod", 1, 1, NULL, 0, 0};
    if (hb_dtypes[d].kind != HB_KIND_FLOAT) {
        fmod.i = n->attrs.fmod;
        return int_divide(w, path, "Mod", 1, &fmod, d, in, out);
    }
    if (n->attrs.fmod)
        return NODE_A("Mod", out, &fmod, 1, in[0], in[1]);
    char *m = fresh(w, "fmod"), *z = typed_scalar(w, d, 0), *nz = fresh(w, "bool"),
         *nonzero = fresh(w, "bool"), *mneg = fresh(w, "bool"), *bneg = fresh(w, "bool"),
         *differ = fresh(w, "bool"), *fix = fresh(w, "bool"), *shifted = fresh(w, "shifted");
    return NODE_A("Mod", m, &fmod, 1, in[0], in[1]) && NODE("Equal", nz, m, z) &&
           NODE("Not", nonzero, nz) && NODE("Less", mneg, m, z) && NODE("Less", bneg, in[1], z) &&
           NODE("Xor", differ, mneg, bneg) && NODE("And", fix, nonzero, differ) &&
           NODE("Add", shifted, m, in[1]) && NODE("Where", out, fix, shifted, m);
}

/* x · Wᵀ (+ b): a Gemm for a 2-D x, else a MatMul with the transposed weight and an Add. */
static bool export_linear(writer *w, const hb_node *n, const char *path, char *const *in,
                          const char *out)
{
    if (w->g->values[n->inputs[0]].shape.ndim == 2) {
        attr_spec tb = {"transB", 1, 1, NULL, 0, 0};
        return n->ninputs == 3 ? NODE_A("Gemm", out, &tb, 1, in[0], in[1], in[2])
                               : NODE_A("Gemm", out, &tb, 1, in[0], in[1]);
    }
    int64_t perm[2] = {1, 0};
    attr_spec p = {"perm", 2, 0, perm, 2, 0};
    char *wt = fresh(w, "weight_t"), *mm = n->ninputs == 3 ? fresh(w, "matmul") : (char *)out;
    return NODE_A("Transpose", wt, &p, 1, in[1]) && NODE("MatMul", mm, in[0], wt) &&
           (n->ninputs < 3 || NODE("Add", out, mm, in[2]));
}

static bool export_reduce(writer *w, const hb_node *n, const char *path, const char *op,
                          char *const *in, const char *out)
{
    const hb_attrs *at = &n->attrs;
    int64_t axis = at->axis;
    attr_spec a[2] = {{"keepdims", 1, at->all ? 0 : at->keepdim, NULL, 0, 0},
                      {"axes", 2, 0, &axis, 1, 0}};
    if (at->all)
        return NODE_A(op, out, a, 1, in[0]);
    if (n->op == HB_OP_SUM) /* from opset 13 ReduceSum takes its axes as an input */
        return NODE_A(op, out, a, 1, in[0], int64s(w, "axes", 1, &axis));
    return NODE_A(op, out, a, 2, in[0]);
}

/* hybrid's transpose swaps two axes: the permutation that does. */
static bool export_transpose(writer *w, const hb_node *n, const char *path, char *const *in,
                             const char *out)
{
    int ndim = w->g->values[n->inputs[0]].shape.ndim;
    int64_t perm[HB_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        perm[i] = i;
    perm[n->attrs.axis] = n->attrs.axis2, perm[n->attrs.axis2] = n->attrs.axis;
    attr_spec a = {"perm", 2, 0, perm, ndim, 0};
    return NODE_A("Transpose", out, &a, 1, in[0]);
}

static bool export_concat(writer *w, const hb_node *n, const char *path, const char *out)
{
    char **ins = alloc(w, sizeof(char *) * (size_t)n->ninputs);
    attr_spec a = {"axis", 1, n->attrs.axis, NULL, 0, 0};
    for (int i = 0; ins && i < n->ninputs; i++)
        ins[i] = w->names[n->inputs[i]];
    return ins && node(w, "Concat", path, n->ninputs, ins, out, 1, &a);
}

static bool export_slice(writer *w, const hb_node *n, const char *path, char *const *in,
                         const char *out)
{
    const hb_attrs *at = &n->attrs;
    int64_t s = at->start, e = at->start + at->length, a = at->axis;
    return NODE("Slice", out, in[0], int64s(w, "starts", 1, &s), int64s(w, "ends", 1, &e),
                int64s(w, "axes", 1, &a));
}

/* pads: every axis's start, then every axis's end */
static bool export_pad(writer *w, const hb_node *n, const char *path, char *const *in,
                       const char *out)
{
    int ndim = w->g->values[n->inputs[0]].shape.ndim;
    int64_t pads[2 * HB_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        pads[i] = n->attrs.before.dim[i], pads[ndim + i] = n->attrs.after.dim[i];
    return NODE("Pad", out, in[0], int64s(w, "pads", 2 * ndim, pads), scalar(w, n->attrs.scalar));
}

static bool export_conv(writer *w, const hb_node *n, const char *path, char *const *in,
                        const char *out)
{
    const hb_window *win = &n->attrs.win;
    const hb_shape *ws = &w->g->values[n->inputs[1]].shape;
    int64_t k[2] = {ws->dim[2], ws->dim[3]}, s[2] = {win->stride[0], win->stride[1]};
    int64_t p[4] = {win->pad[0], win->pad[1], win->pad[0], win->pad[1]};
    int64_t d[2] = {win->dilation[0], win->dilation[1]};
    attr_spec a[5] = {{"kernel_shape", 2, 0, k, 2, 0}, {"strides", 2, 0, s, 2, 0},
                      {"pads", 2, 0, p, 4, 0}, {"dilations", 2, 0, d, 2, 0},
                      {"group", 1, win->groups, NULL, 0, 0}};
    return n->ninputs == 3 ? NODE_A("Conv", out, a, 5, in[0], in[1], in[2])
                           : NODE_A("Conv", out, a, 5, in[0], in[1]);
}

/* the output size says the output padding */
static bool export_conv_transpose(writer *w, const hb_node *n, const char *path,
                                  char *const *in, const char *out)
{
    const hb_graph *g = w->g;
    const hb_window *win = &n->attrs.win;
    const hb_shape *x = &g->values[n->inputs[0]].shape, *y = &g->values[n->output].shape;
    const hb_shape *ws = &g->values[n->inputs[1]].shape;
    int64_t k[2] = {ws->dim[2], ws->dim[3]}, s[2] = {win->stride[0], win->stride[1]};
    int64_t p[4] = {win->pad[0], win->pad[1], win->pad[0], win->pad[1]};
    int64_t d[2] = {win->dilation[0], win->dilation[1]}, op[2];
    for (int i = 0; i < 2; i++)
        op[i] = y->dim[2 + i] - ((x->dim[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + 1);
    attr_spec a[6] = {{"kernel_shape", 2, 0, k, 2, 0}, {"strides", 2, 0, s, 2, 0},
                      {"pads", 2, 0, p, 4, 0}, {"dilations", 2, 0, d, 2, 0},
                      {"group", 1, win->groups, NULL, 0, 0},
                      {"output_padding", 2, 0, op, 2, 0}};
    return NODE_A("ConvTranspose", out, a, 6, in[0], in[1]);
}

static bool export_pool(writer *w, const hb_node *n, const char *path, char *const *in,
                        const char *out)
{
    const hb_window *win = &n->attrs.win;
    int64_t k[2] = {win->kernel[0], win->kernel[1]}, s[2] = {win->stride[0], win->stride[1]};
    int64_t p[4] = {win->pad[0], win->pad[1], win->pad[0], win->pad[1]};
    attr_spec a[5] = {{"kernel_shape", 2, 0, k, 2, 0}, {"strides", 2, 0, s, 2, 0},
                      {"pads", 2, 0, p, 4, 0}, {"ceil_mode", 1, win->ceil_mode, NULL, 0, 0},
                      {"count_include_pad", 1, !win->exclude_pad, NULL, 0, 0}};
    return n->op == HB_OP_MAX_POOL2D ? NODE_A("MaxPool", out, a, 4, in[0])
                                     : NODE_A("AveragePool", out, a, 5, in[0]);
}

/* Every op of ops.def, and no default: an op added there and not here fails to compile
 * (-Werror=switch), so each new op is given its ONNX form or its reason for having none. */
static hb_status export_node(writer *w, const hb_node *n)
{
    const float s = n->attrs.scalar;
    const char *path = n->path ? n->path : "";
    const char *out = w->names[n->output];
    char *in[3] = {NULL, NULL, NULL};
    for (int i = 0; i < n->ninputs && i < 3; i++)
        in[i] = w->names[n->inputs[i]];
    bool ok = true, bool_in = n->ninputs && w->g->values[n->inputs[0]].dtype == HB_BOOL;
    switch (n->op) {
    case HB_OP_MATMUL: ok = NODE("MatMul", out, in[0], in[1]); break;
    case HB_OP_LINEAR: ok = export_linear(w, n, path, in, out); break;
    case HB_OP_ADD: ok = NODE("Add", out, in[0], in[1]); break;
    case HB_OP_SUB: ok = NODE("Sub", out, in[0], in[1]); break;
    case HB_OP_MUL: ok = NODE("Mul", out, in[0], in[1]); break;
    case HB_OP_DIV: {
        hb_dtype d = w->g->values[n->inputs[0]].dtype;
        ok = hb_dtypes[d].kind == HB_KIND_FLOAT ? NODE("Div", out, in[0], in[1])
                                                : int_divide(w, path, "Div", 0, NULL, d, in, out);
        break;
    }
    case HB_OP_MAXIMUM: ok = NODE("Max", out, in[0], in[1]); break;
    case HB_OP_MINIMUM: ok = NODE("Min", out, in[0], in[1]); break;
    case HB_OP_ADD_SCALAR: ok = NODE("Add", out, in[0], scalar(w, s)); break;
    case HB_OP_SUB_SCALAR: ok = NODE("Sub", out, in[0], scalar(w, s)); break;
    case HB_OP_MUL_SCALAR: ok = NODE("Mul", out, in[0], scalar(w, s)); break;
    case HB_OP_DIV_SCALAR: ok = NODE("Div", out, in[0], scalar(w, s)); break;
    case HB_OP_RSUB_SCALAR: ok = NODE("Sub", out, scalar(w, s), in[0]); break;
    case HB_OP_RDIV_SCALAR: ok = NODE("Div", out, scalar(w, s), in[0]); break;
    case HB_OP_RELU: ok = NODE("Relu", out, in[0]); break;
    case HB_OP_SIGMOID: ok = NODE("Sigmoid", out, in[0]); break;
    case HB_OP_TANH: ok = NODE("Tanh", out, in[0]); break;
    case HB_OP_EXP: ok = NODE("Exp", out, in[0]); break;
    case HB_OP_LOG: ok = NODE("Log", out, in[0]); break;
    case HB_OP_ABS: ok = NODE("Abs", out, in[0]); break;
    case HB_OP_NEG: ok = NODE("Neg", out, in[0]); break;
    case HB_OP_SQRT: ok = NODE("Sqrt", out, in[0]); break;
    case HB_OP_ERF: ok = NODE("Erf", out, in[0]); break;
    case HB_OP_SIN: ok = NODE("Sin", out, in[0]); break;
    case HB_OP_COS: ok = NODE("Cos", out, in[0]); break;
    case HB_OP_FLOOR: ok = NODE("Floor", out, in[0]); break;
    case HB_OP_CEIL: ok = NODE("Ceil", out, in[0]); break;
    case HB_OP_ROUND: ok = NODE("Round", out, in[0]); break;
    case HB_OP_SIGN: ok = NODE("Sign", out, in[0]); break;
    case HB_OP_POW: ok = NODE("Pow", out, in[0], in[1]); break;
    case HB_OP_POW_SCALAR: ok = NODE("Pow", out, in[0], scalar(w, s)); break;
    case HB_OP_COPY: ok = NODE("Identity", out, in[0]); break;
    case HB_OP_GT: ok = compare(w, path, "Greater", false, in[0], s, out); break;
    case HB_OP_LT: ok = compare(w, path, "Less", false, in[0], s, out); break;
    case HB_OP_GE: ok = compare(w, path, "GreaterOrEqual", false, in[0], s, out); break;
    case HB_OP_LE: ok = compare(w, path, "LessOrEqual", false, in[0], s, out); break;
    case HB_OP_EQ: ok = compare(w, path, "Equal", false, in[0], s, out); break;
    case HB_OP_NE: ok = compare(w, path, "Equal", true, in[0], s, out); break;
    /* logic over float 0/1 goes through bool and back; over bool it is ONNX's own */
    case HB_OP_AND: ok = bool_in ? NODE("And", out, in[0], in[1]) : logic(w, path, "And", 2, in, out); break;
    case HB_OP_OR: ok = bool_in ? NODE("Or", out, in[0], in[1]) : logic(w, path, "Or", 2, in, out); break;
    case HB_OP_XOR: ok = bool_in ? NODE("Xor", out, in[0], in[1]) : logic(w, path, "Xor", 2, in, out); break;
    case HB_OP_NOT: ok = bool_in ? NODE("Not", out, in[0]) : logic(w, path, "Not", 1, in, out); break;
    case HB_OP_EQUAL: ok = NODE("Equal", out, in[0], in[1]); break;
    case HB_OP_LESS: ok = order_compare(w, n, path, "Less", in, out); break;
    case HB_OP_GREATER: ok = order_compare(w, n, path, "Greater", in, out); break;
    case HB_OP_LESS_EQUAL: ok = order_compare(w, n, path, "LessOrEqual", in, out); break;
    case HB_OP_GREATER_EQUAL: ok = order_compare(w, n, path, "GreaterOrEqual", in, out); break;
    case HB_OP_WHERE: ok = NODE("Where", out, in[0], in[1], in[2]); break;
    case HB_OP_MOD: ok = export_mod(w, n, path, in, out); break;
    case HB_OP_CAST: {
        attr_spec a = {"to", 1, hb_dtypes[n->attrs.dtype].onnx, NULL, 0, 0};
        ok = NODE_A("Cast", out, &a, 1, in[0]);
        break;
    }
    case HB_OP_GATHER:
    case HB_OP_GATHER_ELEMENTS: {
        attr_spec a = {"axis", 1, n->attrs.axis, NULL, 0, 0};
        ok = NODE_A(n->op == HB_OP_GATHER ? "Gather" : "GatherElements", out, &a, 1, in[0], in[1]);
        break;
    }
    case HB_OP_GATHER_ND: ok = NODE("GatherND", out, in[0], in[1]); break;
    case HB_OP_SCATTER_ND: {
        if (n->attrs.accumulate)
            return refuse(n, "a scatter that adds (ONNX's reduction attribute is opset 16; "
                             "export writes opset 13)");
        ok = NODE("ScatterND", out, in[0], in[1], in[2]);
        break;
    }
    case HB_OP_ARGMAX:
    case HB_OP_ARGMIN: {
        if (n->attrs.all)
            return refuse(n, "an argmax or argmin over all elements (ONNX's take one axis: "
                             "reshape to one dim first)");
        attr_spec a[3] = {{"axis", 1, n->attrs.axis, NULL, 0, 0},
                          {"keepdims", 1, n->attrs.keepdim, NULL, 0, 0},
                          {"select_last_index", 1, n->attrs.last, NULL, 0, 0}};
        ok = NODE_A(n->op == HB_OP_ARGMAX ? "ArgMax" : "ArgMin", out, a, 3, in[0]);
        break;
    }
    case HB_OP_SUM: ok = export_reduce(w, n, path, "ReduceSum", in, out); break;
    case HB_OP_MEAN: ok = export_reduce(w, n, path, "ReduceMean", in, out); break;
    case HB_OP_MAX: ok = export_reduce(w, n, path, "ReduceMax", in, out); break;
    case HB_OP_SOFTMAX:
    case HB_OP_LOG_SOFTMAX: {
        attr_spec a = {"axis", 1, n->attrs.axis, NULL, 0, 0};
        ok = NODE_A(n->op == HB_OP_SOFTMAX ? "Softmax" : "LogSoftmax", out, &a, 1, in[0]);
        break;
    }
    case HB_OP_RESHAPE: { /* the traced target, -1 resolved */
        const hb_shape *y = &w->g->values[n->output].shape;
        ok = NODE("Reshape", out, in[0], int64s(w, "shape", y->ndim, y->dim));
        break;
    }
    case HB_OP_TRANSPOSE: ok = export_transpose(w, n, path, in, out); break;
    case HB_OP_CONCAT: ok = export_concat(w, n, path, out); break;
    case HB_OP_SLICE: ok = export_slice(w, n, path, in, out); break;
    case HB_OP_PAD: ok = export_pad(w, n, path, in, out); break;
    case HB_OP_CONV2D: ok = export_conv(w, n, path, in, out); break;
    case HB_OP_CONV_TRANSPOSE2D: ok = export_conv_transpose(w, n, path, in, out); break;
    case HB_OP_MAX_POOL2D:
    case HB_OP_AVG_POOL2D: ok = export_pool(w, n, path, in, out); break;
    case HB_OP_ISLAND:
        return refuse(n, "a block that runs eagerly (it reads values on the host)");
    case HB_OP_GUARD:
    case HB_OP_LOOP:
        return refuse(n, "control flow on values (hb_test) is not exported");
    case HB_OP_SCAN: /* the export is of a forward trace: its rounds are there, unlifted */
        return refuse(n, "a lifted scan (made by a pass, never by a trace)");
    case HB_OP_ASSIGN:
        return refuse(n, "an in-place write (a training-mode batch norm? export in inference "
                         "mode: hb_block_set_training(b, false))");
    /* made by autodiff and the fusion passes, never by a forward trace (which is exported
     * before any pass) */
    case HB_OP_CONV2D_GRAD_W:
    case HB_OP_GATHER_GRAD:
    case HB_OP_GATHER_ELEMENTS_GRAD:
    case HB_OP_MAX_POOL2D_GRAD:
    case HB_OP_AVG_POOL2D_GRAD:
    case HB_OP_FUSED:
    case HB_OP_FUSED_REDUCE:
    case HB_OP_GEMM:
    case HB_OP_FUSED_CONV:
        return refuse(n, "no ONNX form (gradient and fused ops are not exported)");
    case HB_OP_COUNT: /* the count of ops, never a node's */
        return hb_frame_fail(HB_ERR_STATE, "onnx export: a node of op %d", (int)n->op);
    }
    return ok && !w->failed ? HB_OK : HB_ERR_NOMEM;
}

/* ---- the model ----------------------------------------------------------------------------- */

static Onnx__ValueInfoProto *value_info(writer *w, const char *name, const hb_value *val)
{
    const hb_shape *s = &val->shape;
    Onnx__ValueInfoProto *v = alloc(w, sizeof *v);
    Onnx__TypeProto *t = alloc(w, sizeof *t);
    Onnx__TypeProto__Tensor *tt = alloc(w, sizeof *tt);
    Onnx__TensorShapeProto *sh = alloc(w, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = alloc(w, sizeof *dims * (size_t)(s->ndim + 1));
    if (!v || !t || !tt || !sh || !dims)
        return NULL;
    onnx__value_info_proto__init(v), onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt), onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < s->ndim; i++) {
        if (!(dims[i] = alloc(w, sizeof *dims[i])))
            return NULL;
        onnx__tensor_shape_proto__dimension__init(dims[i]);
        dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dims[i]->dim_value = s->dim[i];
    }
    sh->n_dim = (size_t)s->ndim, sh->dim = dims;
    tt->has_elem_type = true, tt->elem_type = hb_dtypes[val->dtype].onnx;
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, t->tensor_type = tt;
    v->name = str(w, name), v->type = t;
    return v;
}

/* Each value's name: the input "x", leaves by their names (made unique), node results "vN". */
static bool name_values(writer *w)
{
    const hb_graph *g = w->g;
    w->names = alloc(w, sizeof(char *) * (size_t)(g->nvalues + 1));
    for (int i = 0; w->names && i < g->nvalues; i++) {
        const hb_value *v = &g->values[i];
        char buf[600];
        if (v->kind == HB_VAL_INPUT)
            snprintf(buf, sizeof buf, "x");
        else if (v->kind == HB_VAL_NODE)
            snprintf(buf, sizeof buf, "v%d", i);
        else
            snprintf(buf, sizeof buf, "%s", v->name && *v->name ? v->name : "constant");
        for (int j = 0; j < i; j++) /* a name twice (shared or odd): keep both apart */
            if (w->names[j] && strcmp(w->names[j], buf) == 0) {
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "_%d", i);
                break;
            }
        if (!(w->names[i] = str(w, buf)))
            return false;
    }
    return w->names != NULL;
}

hb_status hb_graph_write_onnx(const hb_graph *g, const char *path)
{
    writer w = {.g = g};
    hb_status st = HB_OK;
    bool *live = hb_graph_live_nodes(g);
    if (!live || !name_values(&w))
        st = HB_ERR_NOMEM;
    for (int i = 0; st == HB_OK && i < g->nvalues; i++) { /* leaves read by live nodes */
        const hb_value *v = &g->values[i];
        bool read = g->output == i;
        for (int k = 0; !read && k < g->nnodes; k++)
            for (int j = 0; live[k] && j < g->nodes[k].ninputs && !read; j++)
                read = g->nodes[k].inputs[j] == i;
        if (!read || v->kind == HB_VAL_NODE || v->kind == HB_VAL_INPUT)
            continue;
        if (!v->data && hb_shape_numel(&v->shape))
            st = hb_frame_fail(HB_ERR_STATE, "onnx export: \"%s\" has no values (a graph read from "
                               "text cannot be exported)", v->name ? v->name : "");
        else if (!add_init(&w, tensor_proto(&w, w.names[i], hb_dtypes[v->dtype].onnx,
                                            v->shape.ndim, v->shape.dim, v->data,
                                            hb_dtypes[v->dtype].size *
                                                (size_t)hb_shape_numel(&v->shape))))
            st = HB_ERR_NOMEM;
    }
    for (int i = 0; st == HB_OK && i < g->nnodes; i++)
        if (live[i])
            st = export_node(&w, &g->nodes[i]);
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__ValueInfoProto *ins[1], *outs[1];
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    if (st == HB_OK && (g->input < 0 || g->output < 0))
        st = hb_frame_fail(HB_ERR_STATE, "onnx export: the graph has no %s",
                           g->input < 0 ? "input" : "output");
    if (st == HB_OK) {
        ins[0] = value_info(&w, w.names[g->input], &g->values[g->input]);
        outs[0] = value_info(&w, w.names[g->output], &g->values[g->output]);
        if (!ins[0] || !outs[0])
            st = HB_ERR_NOMEM;
        /* a graph whose output is a leaf or the input: an Identity gives it a node */
        if (st == HB_OK && g->values[g->output].kind != HB_VAL_NODE) {
            char *y = str(&w, "y");
            if (!y || !node(&w, "Identity", "", 1, (char *[]){w.names[g->output]}, y, 0, NULL) ||
                !(outs[0] = value_info(&w, y, &g->values[g->output])))
                st = HB_ERR_NOMEM;
        }
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (st == HB_OK) {
        graph.n_node = w.nnodes, graph.node = w.nodes;
        graph.name = str(&w, g->name && *g->name ? g->name : "hybrid");
        graph.n_initializer = w.ninits, graph.initializer = w.inits;
        graph.n_input = 1, graph.input = ins;
        graph.n_output = 1, graph.output = outs;
        opset.domain = str(&w, ""), opset.has_version = true, opset.version = OPSET;
        model.has_ir_version = true, model.ir_version = IR_VERSION;
        model.producer_name = str(&w, "hybrid"), model.producer_version = str(&w, HB_VERSION);
        model.n_opset_import = 1, model.opset_import = opsets;
        model.graph = &graph;
        len = onnx__model_proto__get_packed_size(&model);
        if (w.failed || !(buf = hb_malloc(len + 1)))
            st = HB_ERR_NOMEM;
        else
            onnx__model_proto__pack(&model, buf);
    }
    if (st == HB_OK) {
        FILE *f = fopen(path, "wb");
        if (!f)
            st = hb_frame_fail(HB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        else {
            bool ok = fwrite(buf, 1, len, f) == len;
            ok = fclose(f) == 0 && ok;
            if (!ok) {
                st = hb_frame_fail(HB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
                remove(path); /* no partial file */
            }
        }
    }
    if (st == HB_ERR_NOMEM && hb_last_status() != HB_ERR_NOMEM)
        hb_frame_fail(HB_ERR_NOMEM, "onnx export: out of memory");
    hb_free(buf);
    for (int i = 0; i < w.nowned; i++)
        hb_free(w.owned[i]);
    hb_free(w.owned), hb_free(w.nodes), hb_free(w.inits), hb_free(live);
    return st;
}

hb_status hb_onnx_export(hb_block *b, hb_tensor *x, const char *path)
{
    if (!b || !x || !path)
        return hb_frame_fail(HB_ERR_ARG, "hb_onnx_export: block, input or path is NULL");
    hb_graph *g = hb_hybrid_trace(b, x);
    if (!g)
        return hb_last_status();
    hb_status st = hb_graph_write_onnx(g, path);
    hb_graph_free(g);
    return st;
}

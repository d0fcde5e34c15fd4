/* ONNX models as blocks: the reader. The file is read with the code protobuf-c generates from
 * onnx.proto; everything is checked when it loads — every node's op, opset, attributes and
 * inputs, as its row in the op table (onnx_ops.c) says — so that an unsupported model fails
 * there, naming the node, rather than on its first call.
 *
 * The block's forward runs the graph's nodes in order with hybrid's eager ops, so an imported
 * model is a block like any other: callable, hybridizable (the tracer records the ops the nodes
 * call), nestable, trainable. Float initializers are its parameters, named as in the file
 * ("layer1.0.conv1.weight" is parameter "weight" of child "layer1" / "0" / "conv1", so
 * PyTorch's state dicts load by name); those a BatchNormalization reads as running statistics
 * are constants. Integer tensors (shapes, axes) are never tensors of hybrid's: they are host
 * arrays the nodes compute with when the call runs — PyTorch's Shape → Gather → Concat →
 * Reshape idioms become constant shapes, which is exact because a plan is per input shape. */
#include "onnx_import.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MAX_FILE = 1 << 30 }; /* 1 GB: larger models store their weights outside, unsupported */

/* ---- messages ------------------------------------------------------------------------------ */

static const char *node_label(const onnx_model *m, const Onnx__NodeProto *p, char *buf, size_t size)
{
    int index = -1;
    for (int i = 0; i < (int)m->proto->graph->n_node; i++)
        if (m->proto->graph->node[i] == p)
            index = i;
    char where[48] = "a branch's node"; /* one nested in an If: its name says which */
    if (index >= 0)
        snprintf(where, sizeof where, "node %d", index);
    snprintf(buf, size, "%s%s%s%s (%s, opset %lld)", where, p->name && *p->name ? " \"" : "",
             p->name && *p->name ? p->name : "", p->name && *p->name ? "\"" : "",
             p->op_type ? p->op_type : "?", (long long)m->opset);
    return buf;
}

hb_status onnx_node_fail(const onnx_model *m, const Onnx__NodeProto *p, hb_status st,
                         const char *fmt, ...)
{
    char what[512], label[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return hb_frame_fail(st, "%s: %s: %s", m->path, node_label(m, p, label, sizeof label), what);
}

/* ---- attributes ---------------------------------------------------------------------------- */

const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *p, const char *name)
{
    for (size_t i = 0; i < p->n_attribute; i++)
        if (p->attribute[i]->name && strcmp(p->attribute[i]->name, name) == 0)
            return p->attribute[i];
    return NULL;
}

int64_t onnx_attr_int(const Onnx__NodeProto *p, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = onnx_attr(p, name);
    return a && a->has_i ? a->i : def;
}

float onnx_attr_float(const Onnx__NodeProto *p, const char *name, float def)
{
    const Onnx__AttributeProto *a = onnx_attr(p, name);
    return a && a->has_f ? a->f : def;
}

/* A list of ints (NULL and *n = 0 if absent). */
const int64_t *onnx_attr_ints(const Onnx__NodeProto *p, const char *name, size_t *n)
{
    const Onnx__AttributeProto *a = onnx_attr(p, name);
    *n = a ? a->n_ints : 0;
    return a && a->n_ints ? a->ints : NULL;
}

bool onnx_attr_string_is(const Onnx__NodeProto *p, const char *name, const char *value)
{
    const Onnx__AttributeProto *a = onnx_attr(p, name);
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

/* The values of t, of any dtype hybrid has, into a new tensor of that dtype; NULL with the
 * error set. Values are raw little-endian bytes, or in the typed field the format keeps them in
 * (int32_data for the narrow integers, bool and both 16-bit floats, as their bits). */
hb_tensor *onnx_typed_tensor(const onnx_model *m, const Onnx__TensorProto *t, const char *what)
{
    const char *name = t->name ? t->name : "";
    hb_shape s;
    hb_dtype d;
    if (!dims_of(t, &s))
        return hb_frame_fail(HB_ERR_FORMAT, "%s: %s \"%s\": bad or too many dims", m->path, what,
                             name), NULL;
    if (!hb_dtype_by_onnx(t->data_type, &d))
        return hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: %s \"%s\" has data type %d (hybrid has "
                             "numbers and bool, not strings or complex)", m->path, what, name,
                             t->data_type), NULL;
    int64_t n = hb_shape_numel(&s);
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: %s \"%s\" keeps its data in an external file",
                             m->path, what, name), NULL;
    size_t es = hb_dtypes[d].size, stored;
    switch (d) {
    case HB_F32: stored = t->n_float_data; break;
    case HB_F64: stored = t->n_double_data; break;
    case HB_I64: stored = t->n_int64_data; break;
    case HB_U32: case HB_U64: stored = t->n_uint64_data; break;
    default: stored = t->n_int32_data; break; /* bool, 8- and 16-bit, int32, float16, bfloat16 */
    }
    if (t->has_raw_data ? t->raw_data.len != (size_t)n * es : stored != (size_t)n)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: %s \"%s\": %lld values of %s declared, %zu bytes "
                             "or %zu values stored", m->path, what, name, (long long)n,
                             hb_dtypes[d].name, t->has_raw_data ? t->raw_data.len : 0, stored),
               NULL;
    hb_tensor *r = hb_tensor_alloc_typed(&s, d);
    if (!r || !n)
        return r;
    if (t->has_raw_data) {
        memcpy(r->data, t->raw_data.data, es * (size_t)n); /* little-endian, as x86 */
        return r;
    }
    for (int64_t i = 0; i < n; i++)
        switch (d) {
        case HB_F32: r->data[i] = t->float_data[i]; break;
        case HB_F64: ((double *)(void *)r->data)[i] = t->double_data[i]; break;
        case HB_I64: ((int64_t *)(void *)r->data)[i] = t->int64_data[i]; break;
        case HB_U32: case HB_U64: hb_dtype_set_int(d, r->data, i, (int64_t)t->uint64_data[i]); break;
        default: hb_dtype_set_int(d, r->data, i, t->int32_data[i]); break; /* the bits, for halves */
        }
    return r;
}

/* The integer values of t (INT64 or INT32) as a host array; false with the error set. */
bool onnx_int_values(const onnx_model *m, const Onnx__TensorProto *t, onnx_ints *out)
{
    if (!dims_of(t, &out->shape))
        return hb_frame_fail(HB_ERR_FORMAT, "%s: tensor \"%s\": bad or too many dims", m->path,
                             t->name ? t->name : ""), false;
    int64_t n = hb_shape_numel(&out->shape);
    bool i64 = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    size_t width = i64 ? 8 : 4;
    size_t stored = t->has_raw_data ? t->raw_data.len / width : i64 ? t->n_int64_data
                                                                        : t->n_int32_data;
    if (stored != (size_t)n || (t->has_raw_data && t->raw_data.len % width))
        return hb_frame_fail(HB_ERR_FORMAT, "%s: tensor \"%s\": %lld values declared, %zu stored",
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

const onnx_ints *onnx_slot_ints(const onnx_call *c, int s)
{
    return c->iv[s].v ? &c->iv[s]
           : c->m->slots[s].kind == ONNX_SLOT_INTS ? &c->m->slots[s].iv : NULL;
}

bool onnx_ints_copy(onnx_ints *dst, const onnx_ints *src)
{
    hb_free(dst->v);
    *dst = *src;
    if (!(dst->v = hb_malloc(sizeof(int64_t) * (size_t)src->n + 1)))
        return false;
    if (src->n)
        memcpy(dst->v, src->v, sizeof(int64_t) * (size_t)src->n);
    return true;
}

hb_tensor *onnx_ints_tensor(const onnx_ints *v)
{
    hb_tensor *t = hb_tensor_fill_typed(HB_I64, v->v, &v->shape);
    return v->boolean && t ? hb_cast(t, HB_BOOL) : t;
}

bool onnx_is_int_type(int32_t type)
{
    return type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ||
           type == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
}

/* ---- slots ----------------------------------------------------------------------------------- */

static int slot_find(const onnx_model *m, const char *name)
{
    for (int i = 0; i < m->nslots; i++)
        if (strcmp(m->slots[i].name, name) == 0)
            return i;
    return -1;
}

static int slot_add(onnx_model *m, const char *name, onnx_slot_kind kind)
{
    if (m->nslots == m->cap) {
        int cap = m->cap ? 2 * m->cap : 64;
        onnx_slot *grown = hb_realloc(m->slots, sizeof *grown * (size_t)cap);
        if (!grown)
            return -1;
        m->slots = grown, m->cap = cap;
    }
    onnx_slot *s = &m->slots[m->nslots];
    *s = (onnx_slot){.name = hb_strdup(name), .kind = kind};
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
    onnx_model *m = p;
    if (!m)
        return;
    for (int i = 0; i < m->nslots; i++) {
        hb_free(m->slots[i].name);
        hb_tensor_release(m->slots[i].t);
        hb_free(m->slots[i].iv.v);
    }
    for (int i = 0; i < m->nnodes; i++) {
        hb_free(m->nodes[i].in), hb_free(m->nodes[i].out), hb_free(m->nodes[i].key);
        for (int k = 0; k < m->nodes[i].nbranches; k++)
            hb_free(m->nodes[i].branch[k].in), hb_free(m->nodes[i].branch[k].out);
    }
    hb_free(m->slots), hb_free(m->nodes), hb_free(m->path);
    if (m->proto)
        onnx__model_proto__free_unpacked(m->proto, &allocator);
    hb_free(m);
}

/* The rank of slot s if the model says it: a constant's, or a graph input's declared shape;
 * -1 if unknown. */
int onnx_declared_rank(const onnx_model *m, int s)
{
    if (s < 0)
        return -1;
    if (m->slots[s].kind == ONNX_SLOT_TENSOR)
        return hb_tensor_ndim(m->slots[s].t);
    const Onnx__GraphProto *g = m->proto->graph;
    for (size_t i = 0; m->slots[s].kind == ONNX_SLOT_INPUT && i < g->n_input; i++) {
        const Onnx__TypeProto *tp = g->input[i]->type;
        if (g->input[i]->name && strcmp(g->input[i]->name, m->slots[s].name) == 0 && tp &&
            tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type->shape)
            return (int)tp->tensor_type->shape->n_dim;
    }
    return -1;
}

/* ---- loading ----------------------------------------------------------------------------------- */

static hb_tensor *holder_forward(hb_block *self, hb_tensor *x)
{
    (void)x;
    return hb_frame_fail(HB_ERR_STATE, "%s: holds an ONNX model's parameters; call the model",
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
hb_status onnx_add_value(hb_block *root, onnx_model *m, int s, const char *name,
                         hb_tensor *value, bool trainable)
{
    char leaf[512];
    hb_status st = HB_ERR_NAME;
    bool nomem;
    hb_block *h = holder_of(root, name, leaf, sizeof leaf, &nomem);
    if (nomem) {
        hb_tensor_release(value);
        return hb_frame_fail(HB_ERR_NOMEM, "%s: out of memory", m->path);
    }
    if (h && !hb_block_find_param(h, leaf)) {
        st = trainable ? hb_block_add_param(h, leaf, value->shape.ndim, value->shape.dim,
                                            HB_INIT_DEFAULT)
                       : hb_block_add_const(h, leaf, hb_tensor_retain(value));
        if (st == HB_OK && trainable)
            st = hb_block_param_assign(hb_block_find_param(h, leaf), value);
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
            st = hb_block_param_assign(hb_block_find_param(root, flat), value);
    }
    hb_tensor_release(value);
    if (st != HB_OK)
        return hb_frame_fail(st, "%s: initializer \"%s\": %s", m->path, name, hb_last_error());
    m->slots[s].kind = ONNX_SLOT_TENSOR;
    m->slots[s].t = hb_tensor_retain(hb_block_param(h, leaf));
    return HB_OK;
}

/* Whether initializer name is a running statistic (a batch norm's): a constant, not trained. */
static bool is_statistic(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *p = g->node[i];
        const onnx_op *op = onnx_find_op(p->op_type);
        for (size_t j = 0; op && j < p->n_input && j < 32; j++)
            if ((op->statistics >> j & 1) && strcmp(p->input[j], name) == 0)
                return true;
    }
    return false;
}

hb_status onnx_host_bool(onnx_model *m, int s, hb_tensor *v)
{
    onnx_ints *iv = &m->slots[s].iv;
    *iv = (onnx_ints){.shape = v->shape, .n = 1, .v = hb_malloc(sizeof(int64_t)),
                      .boolean = true};
    if (iv->v)
        iv->v[0] = hb_dtype_get(HB_BOOL, v->data, 0) != 0;
    hb_tensor_release(v);
    m->slots[s].kind = ONNX_SLOT_INTS;
    return iv->v ? HB_OK : HB_ERR_NOMEM;
}

static hb_status load_initializers(hb_block *root, onnx_model *m)
{
    const Onnx__GraphProto *g = m->proto->graph;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        if (!t->name || !*t->name)
            return hb_frame_fail(HB_ERR_FORMAT, "%s: initializer %zu has no name", m->path, i);
        if (slot_find(m, t->name) >= 0)
            return hb_frame_fail(HB_ERR_FORMAT, "%s: initializer \"%s\" twice", m->path, t->name);
        int s = slot_add(m, t->name, ONNX_SLOT_UNSET);
        if (s < 0)
            return HB_ERR_NOMEM;
        if (onnx_is_int_type(t->data_type)) {
            if (!onnx_int_values(m, t, &m->slots[s].iv))
                return hb_last_status();
            m->slots[s].kind = ONNX_SLOT_INTS;
            continue;
        }
        /* float32 ones are parameters; the others constants of their own dtype (bool masks,
         * a float64 graph's weights, which hybrid's float32 ops then refuse by name) */
        hb_tensor *v = onnx_typed_tensor(m, t, "initializer");
        if (v && v->dtype == HB_BOOL && v->numel == 1) {
            hb_status st = onnx_host_bool(m, s, v);
            if (st != HB_OK)
                return st;
            continue;
        }
        hb_status st = v ? onnx_add_value(root, m, s, t->name, v,
                                          v->dtype == HB_F32 && !is_statistic(g, t->name))
                         : hb_last_status();
        if (st != HB_OK)
            return st;
    }
    return HB_OK;
}

/* The graph's inputs that are not initializers: the first is x, the others bound later. */
static hb_status load_inputs(onnx_model *m)
{
    const Onnx__GraphProto *g = m->proto->graph;
    m->x = -1;
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *v = g->input[i];
        if (!v->name || slot_find(m, v->name) >= 0)
            continue; /* an initializer listed as an input too (older exports) */
        const Onnx__TypeProto *tp = v->type;
        if (tp && tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
            return hb_frame_fail(HB_ERR_UNSUPPORTED,
                                 "%s: input \"%s\" is not a tensor (a sequence, map or optional)",
                                 m->path, v->name);
        hb_dtype d = HB_F32;
        if (tp && tp->tensor_type->has_elem_type && !hb_dtype_by_onnx(tp->tensor_type->elem_type, &d))
            return hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: input \"%s\" has element type %d (hybrid "
                                 "has numbers and bool, not strings or complex)", m->path, v->name,
                                 tp->tensor_type->elem_type);
        if (d == HB_BF16) /* ONNX's own test data stores these as uint16: nobody agrees yet */
            return hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: input \"%s\" is bfloat16 (only weights "
                                 "load as bfloat16)", m->path, v->name);
        int s = slot_add(m, v->name, ONNX_SLOT_INPUT);
        if (s < 0)
            return HB_ERR_NOMEM;
        m->slots[s].dtype = d;
        const Onnx__TensorShapeProto *sh = tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
                                               ? tp->tensor_type->shape : NULL;
        hb_shape *decl = &m->slots[s].declared;
        if (sh && sh->n_dim <= HB_MAX_DIMS) {
            decl->ndim = (int)sh->n_dim;
            for (size_t k = 0; k < sh->n_dim; k++)
                decl->dim[k] = sh->dim[k]->value_case ==
                                           ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                                       sh->dim[k]->dim_value > 0
                                   ? sh->dim[k]->dim_value : 0; /* symbolic, or nonsense */
        }
        if (m->x < 0)
            m->x = s;
    }
    if (m->x < 0)
        return hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: the graph has no input besides its "
                             "initializers", m->path);
    return HB_OK;
}

/* Node p's part of block paths: its name (PyTorch's "/conv1/Conv" without the first '/'), or
 * "OpType_index" for a node without one. */
static char *node_key(const Onnx__NodeProto *p, size_t index)
{
    char key[200];
    const char *nm = p->name ? p->name : "";
    snprintf(key, sizeof key, "%s", nm + (*nm == '/'));
    if (!*key)
        snprintf(key, sizeof key, "%s_%zu", p->op_type, index);
    return hb_strdup(key);
}

/* Whether name is one of the space-separated words of list. */
static bool listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *q = list; *q; q += strcspn(q, " "), q += *q == ' ')
        if (len && strncmp(q, name, len) == 0 && (q[len] == ' ' || q[len] == '\0'))
            return true;
    return false;
}

/* What the op's row says of node p before its inputs are looked up: the opset it is read
 * from, its inputs and outputs, the attributes it reads and their values. */
static hb_status check_node(const onnx_model *m, const Onnx__NodeProto *p, const onnx_op *op)
{
    if (m->opset < op->since)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "hybrid reads %s as of opset %d",
                              p->op_type, op->since);
    if ((int)p->n_input < op->min_in || (int)p->n_input > op->max_in)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "%zu inputs (%d to %d)", p->n_input,
                              op->min_in, op->max_in);
    if (p->n_output < 1)
        return onnx_node_fail(m, p, HB_ERR_FORMAT, "no outputs");
    for (size_t a = 0; a < p->n_attribute; a++) {
        const char *an = p->attribute[a]->name ? p->attribute[a]->name : "";
        if (!listed(op->attrs, an))
            return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "attribute \"%s\"", an);
    }
    return op->check ? op->check(m, p) : HB_OK;
}

/* Node n's inputs as the slots that define them, and a new slot for each of its outputs. */
static hb_status wire_node(onnx_model *m, onnx_node *n)
{
    const Onnx__NodeProto *p = n->p;
    n->nin = (int)p->n_input, n->nout = (int)p->n_output;
    n->in = hb_malloc(sizeof(int) * (size_t)(n->nin + 1));
    n->out = hb_malloc(sizeof(int) * (size_t)(n->nout + 1));
    if (!n->in || !n->out)
        return HB_ERR_NOMEM;
    for (int j = 0; j < n->nin; j++) {
        const char *name = p->input[j];
        if (!*name) {
            /* an optional input left out; required ones, and a variadic op's, cannot be */
            if (j < n->op->min_in || n->op->max_in == ONNX_VARIADIC)
                return onnx_node_fail(m, p, HB_ERR_FORMAT, "input %d is empty", j);
            n->in[j] = -1;
            continue;
        }
        if ((n->in[j] = slot_find(m, name)) < 0)
            return onnx_node_fail(m, p, HB_ERR_FORMAT, "input \"%s\" is defined by no earlier "
                                  "node, initializer or graph input", name);
    }
    for (int j = 0; j < n->nout; j++) {
        if (!*p->output[j]) {
            if (j == 0 && n->op->max_out == 1) /* ops of several outputs may leave any out */
                return onnx_node_fail(m, p, HB_ERR_FORMAT, "output 0 is empty");
            n->out[j] = -1;
            continue;
        }
        if (slot_find(m, p->output[j]) >= 0)
            return onnx_node_fail(m, p, HB_ERR_FORMAT, "output \"%s\" is defined twice",
                                  p->output[j]);
        if ((n->out[j] = slot_add(m, p->output[j], ONNX_SLOT_NODE)) < 0)
            return HB_ERR_NOMEM;
    }
    if (n->nout > n->op->max_out)
        return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "%d outputs (only %d)", n->nout,
                              n->op->max_out);
    return HB_OK;
}

bool onnx_reads_ints(const onnx_model *m, const onnx_node *n)
{
    return n->nin > 0 && n->in[0] >= 0 &&
           (m->slots[n->in[0]].kind == ONNX_SLOT_INTS || m->slots[n->in[0]].is_int);
}

/* Nodes in g and in every graph nested in its nodes' attributes (an If's branches). */
static size_t count_nodes(const Onnx__GraphProto *g)
{
    size_t n = g->n_node;
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t a = 0; a < g->node[i]->n_attribute; a++)
            if (g->node[i]->attribute[a]->g)
                n += count_nodes(g->node[i]->attribute[a]->g);
    return n;
}

static hb_status load_graph(hb_block *root, onnx_model *m, const Onnx__GraphProto *g);

/* Graph attribute `name` of node n as its next branch: its nodes loaded after the node's (they
 * read the outer graph's values by name, as ONNX scopes them), its outputs looked up. */
static hb_status load_branch(hb_block *root, onnx_model *m, onnx_node *n, const char *name)
{
    const Onnx__AttributeProto *a = onnx_attr(n->p, name);
    if (!a || !a->g)
        return onnx_node_fail(m, n->p, HB_ERR_FORMAT, "no graph attribute \"%s\"", name);
    const Onnx__GraphProto *g = a->g;
    if (g->n_initializer)
        return onnx_node_fail(m, n->p, HB_ERR_UNSUPPORTED, "%s has initializers (only nodes, "
                              "inputs and outputs)", name);
    if (g->n_input > ONNX_MAX_CARRIED || g->n_output > ONNX_MAX_CARRIED)
        return onnx_node_fail(m, n->p, HB_ERR_UNSUPPORTED, "%s has %zu inputs and %zu outputs "
                              "(at most %d each)", name, g->n_input, g->n_output, ONNX_MAX_CARRIED);
    onnx_branch *b = &n->branch[n->nbranches++];
    b->in = hb_malloc(sizeof(int) * (g->n_input + 1));
    b->out = hb_malloc(sizeof(int) * (g->n_output + 1));
    if (!b->in || !b->out)
        return HB_ERR_NOMEM;
    /* A graph's inputs (a Loop body's: the iteration number, then one for each of the node's
     * inputs after the trip count) are values the node sets on each round: host integers where
     * what feeds them is, as the iteration number always is. */
    for (size_t j = 0; j < g->n_input; j++) {
        const char *in = g->input[j]->name ? g->input[j]->name : "";
        if (slot_find(m, in) >= 0)
            return onnx_node_fail(m, n->p, HB_ERR_FORMAT, "%s's input \"%s\" is defined twice",
                                  name, in);
        if ((b->in[j] = slot_add(m, in, ONNX_SLOT_NODE)) < 0)
            return HB_ERR_NOMEM;
        int feed = j >= 1 && (int)j < n->nin ? n->in[j] : -1;
        m->slots[b->in[j]].is_int = j == 0 || (feed >= 0 && (m->slots[feed].kind == ONNX_SLOT_INTS ||
                                                             m->slots[feed].is_int));
        b->nin++;
    }
    b->from = m->nnodes;
    hb_status st = load_graph(root, m, g);
    b->to = m->nnodes;
    if (st != HB_OK)
        return st;
    b->nout = (int)g->n_output;
    for (size_t j = 0; j < g->n_output; j++) {
        const char *out = g->output[j]->name ? g->output[j]->name : "";
        if ((b->out[j] = slot_find(m, out)) < 0)
            return onnx_node_fail(m, n->p, HB_ERR_FORMAT, "%s's output \"%s\" is defined by no "
                                  "node", name, out);
    }
    return HB_OK;
}

/* Each node of g checked and wired in order, its branches loaded, its op's load run; integers
 * stay integers through the shape ops (known when the call runs). */
static hb_status load_graph(hb_block *root, onnx_model *m, const Onnx__GraphProto *g)
{
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *p = g->node[i];
        onnx_node *n = &m->nodes[m->nnodes];
        n->p = p;
        if (!p->op_type)
            return onnx_node_fail(m, p, HB_ERR_FORMAT, "no op type");
        if (!(n->key = node_key(p, (size_t)m->nnodes++)))
            return HB_ERR_NOMEM;
        if (p->domain && *p->domain && strcmp(p->domain, "ai.onnx") != 0)
            return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "domain \"%s\"", p->domain);
        if (!(n->op = onnx_find_op(p->op_type)))
            return onnx_node_fail(m, p, HB_ERR_UNSUPPORTED, "hybrid has no %s", p->op_type);
        hb_status st = check_node(m, p, n->op);
        if (st == HB_OK)
            st = wire_node(m, n);
        for (const char *q = n->op->graphs ? n->op->graphs : ""; st == HB_OK && *q;) {
            char name[32];
            size_t len = strcspn(q, " ");
            snprintf(name, sizeof name, "%.*s", (int)len, q);
            st = load_branch(root, m, n, name);
            q += len, q += *q == ' ';
        }
        n->next = m->nnodes;
        if (st == HB_OK && n->op->load)
            st = n->op->load(root, m, n);
        if (st != HB_OK)
            return st;
        if (n->out[0] >= 0 && (n->op->ints == ONNX_INTS_MAKES ||
                               (n->op->ints == ONNX_INTS_KEEPS && onnx_reads_ints(m, n))))
            m->slots[n->out[0]].is_int = true;
    }
    return HB_OK;
}

static hb_status load_nodes(hb_block *root, onnx_model *m)
{
    m->nodes = hb_calloc(count_nodes(m->proto->graph) + 1, sizeof *m->nodes);
    return m->nodes ? load_graph(root, m, m->proto->graph) : HB_ERR_NOMEM;
}

/* Every graph output checked; the block returns the first until hb_onnx_select_output. */
static hb_status load_output(onnx_model *m)
{
    const Onnx__GraphProto *g = m->proto->graph;
    if (g->n_output == 0)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: the graph has no output", m->path);
    for (size_t k = g->n_output; k-- > 0;) {
        const char *name = g->output[k]->name ? g->output[k]->name : "";
        const Onnx__TypeProto *tp = g->output[k]->type;
        hb_dtype d;
        if (tp && (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
                   (tp->tensor_type->has_elem_type &&
                    !hb_dtype_by_onnx(tp->tensor_type->elem_type, &d))))
            return hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: output \"%s\" is not a tensor of "
                                 "numbers or bool", m->path, name);
        if (tp && tp->tensor_type->has_elem_type && d == HB_BF16)
            return hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: output \"%s\" is bfloat16 (only "
                                 "weights load as bfloat16)", m->path, name);
        if ((m->output = slot_find(m, name)) < 0)
            return hb_frame_fail(HB_ERR_FORMAT, "%s: output \"%s\" is defined by no node",
                                 m->path, name);
    }
    return HB_OK;
}

bool onnx_run_nodes(onnx_call *c, int from, int to)
{
    /* Each node runs as a call of its own under the block ("torch_jit/Conv_12", a branch's
     * "torch_jit/If_3/Relu_4"): dumps and messages say which node an op came from, and its
     * intermediates go when it returns. */
    const onnx_node *outer = c->n;
    for (int i = from; i < to; i = c->m->nodes[i].next) {
        const onnx_node *n = c->n = &c->m->nodes[i];
        if (hb_frame_push(c->self, n->key) != HB_OK)
            return false;
        bool ok = n->op->run(c);
        hb_tensor *outs[ONNX_MAX_OUTPUTS] = {NULL};
        for (int j = 0; ok && j < n->nout; j++)
            if (n->out[j] >= 0)
                outs[j] = hb_tensor_retain(c->t[n->out[j]]);
        hb_frame_pop();
        for (int j = 0; j < n->nout; j++)
            if (outs[j] && !hb_frame_adopt(outs[j])) /* the enclosing call owns them now */
                ok = false, c->t[n->out[j]] = NULL;
        if (!ok) {
            if (hb_last_status() == HB_OK)
                onnx_node_fail(c->m, n->p, HB_ERR_STATE, "failed");
            return false;
        }
    }
    c->n = outer;
    return true;
}

static hb_tensor *model_forward(hb_block *self, hb_tensor *x)
{
    const onnx_model *m = hb_block_state(self);
    onnx_call c = {self, m, hb_calloc((size_t)m->nslots + 1, sizeof *c.t),
              hb_calloc((size_t)m->nslots + 1, sizeof *c.iv), NULL};
    hb_tensor *y = NULL;
    if (!c.t || !c.iv)
        goto done;
    for (int s = 0; s < m->nslots; s++)
        if (m->slots[s].kind == ONNX_SLOT_TENSOR || m->slots[s].kind == ONNX_SLOT_INPUT)
            c.t[s] = m->slots[s].t;
    c.t[m->x] = x;
    for (int s = 0; s < m->nslots; s++)
        if (m->slots[s].kind == ONNX_SLOT_INPUT && !c.t[s]) {
            hb_frame_fail(HB_ERR_STATE, "%s: graph input \"%s\" is not bound (hb_onnx_bind)",
                          m->path, m->slots[s].name);
            goto done;
        } else if (m->slots[s].kind == ONNX_SLOT_INPUT && c.t[s]->dtype != m->slots[s].dtype) {
            hb_frame_fail(HB_ERR_ARG, "%s: graph input \"%s\" is %s; the model declares %s",
                          m->path, m->slots[s].name, hb_dtype_name(c.t[s]->dtype),
                          hb_dtype_name(m->slots[s].dtype));
            goto done;
        }
    if (!onnx_run_nodes(&c, 0, m->nnodes))
        goto done;
    y = c.t[m->output];
    if (y && m->slots[m->output].kind != ONNX_SLOT_NODE) /* the input or a weight: not itself */
        y = hb_tensor_copy(y);
    const onnx_ints *iv = onnx_slot_ints(&c, m->output);
    if (!y && iv) /* integers the graph computed from shapes: an int64 tensor */
        y = onnx_ints_tensor(iv);
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
        return hb_frame_fail(HB_ERR_IO, "%s: cannot open: %s", path, strerror(errno)), NULL;
    char *buf = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
        hb_frame_fail(HB_ERR_IO, "%s: cannot read: not a regular file", path);
    else if (size > MAX_FILE)
        hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: %ld bytes (at most %d)", path, size, MAX_FILE);
    else if (!(buf = hb_malloc((size_t)size + 1)))
        hb_frame_fail(HB_ERR_NOMEM, "%s: out of memory reading %ld bytes", path, size);
    else if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        hb_frame_fail(HB_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        hb_free(buf), buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)size : 0;
    return buf;
}

hb_block *hb_onnx_load_buffer(const void *data, size_t len, const char *name)
{
    name = name ? name : "(buffer)";
    onnx_model *m = hb_calloc(1, sizeof *m);
    hb_block *b = m ? hb_block_new("ONNX", model_forward) : NULL;
    if (!b || !(m->path = hb_strdup(name))) {
        hb_block_release(b), hb_free(m);
        return hb_frame_fail(HB_ERR_NOMEM, "%s: out of memory", name), NULL;
    }
    hb_block_set_state(b, m, model_free);
    hb_status st = HB_OK;
    m->proto = onnx__model_proto__unpack(&allocator, len, data);
    if (!m->proto)
        st = hb_frame_fail(HB_ERR_FORMAT, "%s: not an ONNX model (%zu bytes that do not parse as a "
                           "ModelProto: truncated, or another kind of file)", name, len);
    else if (!m->proto->graph)
        st = hb_frame_fail(HB_ERR_FORMAT, "%s: the model has no graph", name);
    if (st == HB_OK) {
        m->opset = -1;
        for (size_t i = 0; i < m->proto->n_opset_import; i++) {
            const Onnx__OperatorSetIdProto *o = m->proto->opset_import[i];
            if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0)
                m->opset = o->has_version ? o->version : -1;
        }
        if (m->opset < 6)
            st = hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: opset %lld of the default domain (hybrid "
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
            hb_frame_fail(st, "%s: %s", name,
                          st == HB_ERR_NOMEM ? "out of memory" : hb_last_error());
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
        return hb_frame_fail(HB_ERR_ARG, "hb_onnx_load: path is NULL"), NULL;
    size_t len;
    char *buf = slurp(path, &len);
    if (!buf)
        return NULL;
    hb_block *b = hb_onnx_load_buffer(buf, len, path);
    hb_free(buf);
    return b;
}

static onnx_model *model_of(const hb_block *b)
{
    return b && strcmp(hb_block_type(b), "ONNX") == 0 ? hb_block_state(b) : NULL;
}

hb_status hb_onnx_bind(hb_block *b, const char *name, hb_tensor *t)
{
    onnx_model *m = model_of(b);
    if (!m || !name || !t)
        return hb_frame_fail(HB_ERR_ARG, "hb_onnx_bind: needs an ONNX block, a name and a tensor");
    int s = slot_find(m, name);
    if (s < 0 || m->slots[s].kind != ONNX_SLOT_INPUT || s == m->x)
        return hb_frame_fail(HB_ERR_NAME, "%s: \"%s\" is not a graph input besides the first",
                             m->path, name);
    hb_tensor *old = m->slots[s].t;
    if (old && old->dtype == t->dtype && hb_shape_equal(&old->shape, &t->shape)) {
        /* the block's own copy takes the new values: plans read it live and stay (a recurrent
         * state fed back call after call compiles once) */
        memcpy(old->data, t->data, hb_dtypes[t->dtype].size * (size_t)t->numel);
        return HB_OK;
    }
    hb_tensor *copy = hb_tensor_alloc_typed(&t->shape, t->dtype);
    if (!copy)
        return hb_last_status();
    memcpy(copy->data, t->data, hb_dtypes[t->dtype].size * (size_t)t->numel);
    hb_tensor_release(old);
    m->slots[s].t = copy;
    hb_hybrid_drop_plans(b); /* a plan read the old tensor, or its shape */
    return HB_OK;
}

int hb_onnx_inputs(const hb_block *b, const char **names, int max)
{
    const onnx_model *m = model_of(b);
    int n = 0;
    for (int s = 0; m && s < m->nslots; s++)
        if (m->slots[s].kind == ONNX_SLOT_INPUT) {
            if (names && n < max)
                names[n] = m->slots[s].name;
            n++;
        }
    return n;
}

int hb_onnx_outputs(const hb_block *b, const char **names, int max)
{
    const onnx_model *m = model_of(b);
    if (!m)
        return -1;
    const Onnx__GraphProto *g = m->proto->graph;
    for (size_t k = 0; names && k < g->n_output && (int)k < max; k++)
        names[k] = g->output[k]->name ? g->output[k]->name : "";
    return (int)g->n_output;
}

hb_status hb_onnx_select_output(hb_block *b, const char *name)
{
    onnx_model *m = model_of(b);
    if (!m || !name)
        return hb_frame_fail(HB_ERR_ARG, "hb_onnx_select_output: needs an ONNX block and a name");
    const Onnx__GraphProto *g = m->proto->graph;
    for (size_t k = 0; k < g->n_output; k++)
        if (g->output[k]->name && strcmp(g->output[k]->name, name) == 0) {
            m->output = slot_find(m, name); /* load_output found every one */
            hb_hybrid_drop_plans(b);         /* they compute the old output */
            return HB_OK;
        }
    char list[512] = "";
    for (size_t k = 0; k < g->n_output; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "",
                 g->output[k]->name ? g->output[k]->name : "");
    return hb_frame_fail(HB_ERR_NAME, "%s: no graph output \"%s\" (its outputs: %s)", m->path,
                         name, list);
}

int hb_onnx_input_info(const hb_block *b, int i, hb_dtype *dtype, int64_t *shape)
{
    const onnx_model *m = model_of(b);
    for (int s = 0, n = 0; m && s < m->nslots; s++)
        if (m->slots[s].kind == ONNX_SLOT_INPUT && n++ == i) {
            const hb_shape *d = &m->slots[s].declared;
            if (dtype)
                *dtype = m->slots[s].dtype;
            for (int k = 0; shape && k < d->ndim; k++)
                shape[k] = d->dim[k];
            return d->ndim;
        }
    return -1;
}

int hb_onnx_input_shape(const hb_block *b, int64_t *shape)
{
    return hb_onnx_input_info(b, 0, NULL, shape); /* x is the first graph input */
}

hb_tensor *hb_onnx_tensor_load(const char *path)
{
    if (!path)
        return hb_frame_fail(HB_ERR_ARG, "hb_onnx_tensor_load: path is NULL"), NULL;
    size_t len;
    char *buf = slurp(path, &len);
    if (!buf)
        return NULL;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(&allocator, len, (const uint8_t *)buf);
    hb_free(buf);
    if (!t)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: not an ONNX TensorProto", path), NULL;
    hb_tensor *r = onnx_typed_tensor(&(onnx_model){.path = (char *)path}, t, "tensor");
    onnx__tensor_proto__free_unpacked(t, &allocator);
    return r;
}

/* Graph construction and the small queries passes share. */
#include "graph.h"

#include <string.h>

const char *const hb_value_kind_names[HB_VAL_NODE] = {
    [HB_VAL_INPUT] = "input", [HB_VAL_PARAM] = "param", [HB_VAL_CONST] = "const",
    [HB_VAL_EXTERN] = "extern",
};

hb_graph *hb_graph_new(const char *name)
{
    hb_graph *g = hb_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->input = g->output = g->cond = -1;
    if (!(g->name = hb_strdup(name ? name : "graph"))) {
        hb_free(g);
        return NULL;
    }
    return g;
}

static void drop_value(hb_value *v)
{
    if (v->drop)
        v->drop(v->keep);
    hb_free(v->name);
}

static void drop_node(hb_node *n)
{
    hb_free(n->inputs);
    hb_free(n->path);
    hb_free(n->reason);
    hb_free(n->prog);
    hb_graph_free(n->body);
}

void hb_graph_free(hb_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nvalues; i++)
        drop_value(&g->values[i]);
    for (int i = 0; i < g->nnodes; i++)
        drop_node(&g->nodes[i]);
    hb_free(g->values);
    hb_free(g->nodes);
    hb_free(g->name);
    hb_free(g);
}

static bool grow(void **items, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return true;
    int n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = hb_realloc(*items, size * (size_t)n);
    if (!p)
        return false;
    *items = p, *cap = n;
    return true;
}

int hb_graph_add_value(hb_graph *g, hb_value_kind kind, const hb_shape *shape,
                       const char *name)
{
    if (!grow((void **)&g->values, &g->cap_values, g->nvalues + 1, sizeof *g->values))
        return -1;
    char *copy = name ? hb_strdup(name) : NULL;
    if (name && !copy)
        return -1;
    g->values[g->nvalues] = (hb_value){.kind = kind, .dtype = HB_F32, .shape = *shape,
                                       .name = copy, .node = -1, .offset = -1,
                                       .alias = -1};
    return g->nvalues++;
}

static void drop_data(void *data) { hb_free(data); }

int hb_graph_add_const(hb_graph *g, const hb_shape *shape, float *data, const char *name)
{
    int v = hb_graph_add_value(g, HB_VAL_CONST, shape, name);
    if (v < 0) {
        hb_free(data);
        return -1;
    }
    g->values[v].data = data;
    g->values[v].keep = data;
    g->values[v].drop = drop_data;
    return v;
}

int hb_graph_add_node(hb_graph *g, hb_op op, const hb_attrs *attrs, int n, const int *inputs,
                      const hb_shape *out, const char *path)
{
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->nnodes + 1, sizeof *g->nodes))
        return -1;
    int *ins = hb_malloc(sizeof *ins * (size_t)(n ? n : 1));
    char *p = hb_strdup(path ? path : "");
    int v = ins && p ? hb_graph_add_value(g, HB_VAL_NODE, out, NULL) : -1;
    if (v < 0) {
        hb_free(ins), hb_free(p);
        return -1;
    }
    if (n)
        memcpy(ins, inputs, sizeof *ins * (size_t)n); /* inputs may be NULL when n is 0 */
    /* The result's dtype is its op's for its inputs' (float32 unless the op's dtype rule says
     * otherwise); a rule that refuses them leaves float32, for hb_graph_verify to report. */
    hb_dtype small[64], *din = n > 64 ? hb_malloc(sizeof *din * (size_t)n) : small, dout = HB_F32;
    char why[8];
    for (int i = 0; din && i < n; i++)
        din[i] = g->values[inputs[i]].dtype;
    if (!din || hb_op_dtype(op, attrs, n, din, &dout, why, sizeof why) != HB_OK)
        dout = HB_F32;
    if (din != small)
        hb_free(din);
    g->values[v].dtype = dout;
    g->values[v].node = g->nnodes;
    hb_node *node = &g->nodes[g->nnodes++];
    *node = (hb_node){.op = op, .attrs = *attrs, .inputs = ins, .ninputs = n, .output = v,
                      .path = p};
    node->attrs.prog = NULL;
    node->attrs.body = NULL; /* a body is handed over with hb_node_set_body */
    if (attrs->prog && hb_node_set_program(node, attrs->prog) != HB_OK) {
        g->nnodes--, g->nvalues--;
        drop_node(node);
        return -1;
    }
    return v;
}

void hb_graph_truncate(hb_graph *g, int first_node, int first_value)
{
    if (first_node < 0 || first_value < 0)
        return;
    for (int i = first_node; i < g->nnodes; i++)
        drop_node(&g->nodes[i]);
    for (int i = first_value; i < g->nvalues; i++)
        drop_value(&g->values[i]);
    g->nnodes = first_node < g->nnodes ? first_node : g->nnodes;
    g->nvalues = first_value < g->nvalues ? first_value : g->nvalues;
    if (g->output >= g->nvalues)
        g->output = -1;
}

hb_status hb_node_set_program(hb_node *n, const hb_program *prog)
{
    hb_program *copy = hb_malloc(sizeof *copy);
    if (!copy)
        return HB_ERR_NOMEM;
    *copy = *prog;
    hb_free(n->prog);
    n->prog = copy;
    n->attrs.prog = copy;
    return HB_OK;
}

void hb_graph_remove_nodes(hb_graph *g, const bool *remove)
{
    int kept = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (remove[i]) {
            drop_node(&g->nodes[i]);
            continue;
        }
        g->nodes[kept] = g->nodes[i];
        g->nodes[kept].attrs.prog = g->nodes[kept].prog;
        g->nodes[kept].attrs.body = g->nodes[kept].body;
        g->values[g->nodes[kept].output].node = kept;
        kept++;
    }
    g->nnodes = kept;
}

void hb_node_set_body(hb_node *n, hb_graph *body)
{
    hb_graph_free(n->body);
    n->body = body;
    n->attrs.body = body;
}

/* The value ids of body's inputs, in order (a loop's inputs map onto them one to one). */
int hb_graph_inputs(const hb_graph *g, int *ids, int max)
{
    int n = 0;
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].kind == HB_VAL_INPUT) {
            if (n < max)
                ids[n] = v;
            n++;
        }
    return n;
}

/* A loop node's body against the node: one body input per node input, of the same shapes; a
 * one-element cond; a result of the carried input's shape. */
static bool loop_fits(const hb_graph *g, const hb_node *n, char *err, size_t err_size)
{
    const hb_graph *b = n->body;
    int ins[64];
    if (!b || b->output < 0 || b->cond < 0 || b->cond >= b->nvalues ||
        hb_shape_numel(&b->values[b->cond].shape) != 1) {
        snprintf(err, err_size, "loop at %s: its body needs a result and a one-element cond",
                 n->path);
        return false;
    }
    if (hb_graph_inputs(b, ins, 64) != n->ninputs) {
        snprintf(err, err_size, "loop at %s: %d inputs, its body takes %d", n->path, n->ninputs,
                 hb_graph_inputs(b, ins, 64));
        return false;
    }
    for (int i = 0; i < n->ninputs && i < 64; i++)
        if (!hb_shape_equal(&b->values[ins[i]].shape, &g->values[n->inputs[i]].shape)) {
            snprintf(err, err_size, "loop at %s: input %d does not have its body input's shape",
                     n->path, i);
            return false;
        }
    if (!hb_shape_equal(&b->values[b->output].shape, &g->values[n->inputs[0]].shape)) {
        snprintf(err, err_size, "loop at %s: the body's result is not the carried shape",
                 n->path);
        return false;
    }
    return hb_graph_verify(b, err, err_size) == HB_OK;
}

/* A scan node's body against the node: one body input per node input, each of the input's
 * shape and dtype but the sequences', which are one round's slice of them; a result that is
 * the flat row [state, step value] of the node's dtype. */
static bool scan_fits(const hb_graph *g, const hb_node *n, char *err, size_t err_size)
{
    const hb_graph *b = n->body;
    const hb_scan_attrs *s = &n->attrs.scan;
    int ins[64];
    if (!b || b->output < 0 || b->output >= b->nvalues || b->cond >= 0) {
        snprintf(err, err_size, "scan at %s: its body needs a result and no test", n->path);
        return false;
    }
    if (hb_graph_inputs(b, ins, 64) != n->ninputs || n->ninputs > 64) {
        snprintf(err, err_size, "scan at %s: %d inputs, its body takes %d", n->path, n->ninputs,
                 hb_graph_inputs(b, ins, 64));
        return false;
    }
    int64_t row = hb_shape_numel(&n->attrs.shape);
    for (int i = 0; i < n->ninputs; i++) {
        hb_shape want = g->values[n->inputs[i]].shape;
        if (i >= s->carries && i < s->carries + s->seqs)
            want.dim[s->axis] = s->length;
        row += i < s->carries ? hb_shape_numel(&want) : 0;
        if (!hb_shape_equal(&b->values[ins[i]].shape, &want) ||
            b->values[ins[i]].dtype != g->values[n->inputs[i]].dtype) {
            snprintf(err, err_size, "scan at %s: input %d does not have its body input's shape "
                     "and dtype", n->path, i);
            return false;
        }
    }
    const hb_value *r = &b->values[b->output];
    if (r->shape.ndim != 1 || r->shape.dim[0] != row || r->dtype != g->values[n->output].dtype) {
        snprintf(err, err_size, "scan at %s: the body's result is not one row of %lld values "
                 "(the state, then the step value)", n->path, (long long)row);
        return false;
    }
    return hb_graph_verify(b, err, err_size) == HB_OK;
}

bool hb_graph_move_nodes(hb_graph *g, int first, int to)
{
    int count = g->nnodes - first;
    if (count <= 0 || to >= first || to < 0)
        return count <= 0 || to == first;
    hb_node *moved = hb_malloc(sizeof *moved * (size_t)count);
    if (!moved)
        return false;
    memcpy(moved, g->nodes + first, sizeof *moved * (size_t)count);
    memmove(g->nodes + to + count, g->nodes + to, sizeof *moved * (size_t)(first - to));
    memcpy(g->nodes + to, moved, sizeof *moved * (size_t)count);
    hb_free(moved);
    for (int i = to; i < g->nnodes; i++) { /* the nodes own their programs and bodies */
        g->nodes[i].attrs.prog = g->nodes[i].prog;
        g->nodes[i].attrs.body = g->nodes[i].body;
        g->values[g->nodes[i].output].node = i;
    }
    return true;
}

void hb_graph_replace_uses(hb_graph *g, int from, int to)
{
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].ninputs; j++)
            if (g->nodes[i].inputs[j] == from)
                g->nodes[i].inputs[j] = to;
    if (g->output == from)
        g->output = to;
}

bool *hb_graph_live_nodes(const hb_graph *g)
{
    bool *live_value = hb_calloc((size_t)g->nvalues + 1, sizeof *live_value);
    bool *live = hb_calloc((size_t)g->nnodes + 1, sizeof *live);
    if (!live_value || !live) {
        hb_free(live_value), hb_free(live);
        return NULL;
    }
    if (g->output >= 0 && g->output < g->nvalues)
        live_value[g->output] = true;
    if (g->cond >= 0 && g->cond < g->nvalues)
        live_value[g->cond] = true; /* a loop body's test is read by the loop */
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const hb_node *n = &g->nodes[i];
        live[i] = live_value[n->output] || (hb_op_table[n->op].flags & HB_OPAQUE);
        for (int j = 0; live[i] && j < n->ninputs; j++)
            live_value[n->inputs[j]] = true;
    }
    hb_free(live_value);
    return live;
}

int *hb_graph_use_counts(const hb_graph *g)
{
    int *uses = hb_calloc((size_t)g->nvalues + 1, sizeof *uses);
    bool *live = hb_graph_live_nodes(g);
    if (!uses || !live) {
        hb_free(uses), hb_free(live);
        return NULL;
    }
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; live[i] && j < g->nodes[i].ninputs; j++)
            if (g->nodes[i].inputs[j] >= 0 && g->nodes[i].inputs[j] < g->nvalues)
                uses[g->nodes[i].inputs[j]]++;
    if (g->output >= 0 && g->output < g->nvalues)
        uses[g->output]++; /* the caller reads it too */
    if (g->cond >= 0 && g->cond < g->nvalues)
        uses[g->cond]++; /* so does a loop, its body's test */
    hb_free(live);
    return uses;
}

/* hb_graph_verify with room for the inputs' shapes and dtypes of any node. */
static hb_status verify_nodes(const hb_graph *g, hb_shape *in, hb_dtype *din, char *err,
                              size_t err_size)
{
    char a[96], b[96];
    for (int i = 0; i < g->nnodes; i++) {
        const hb_node *n = &g->nodes[i];
        hb_shape out;
        hb_dtype dout;
        if ((unsigned)n->op >= HB_OP_COUNT || n->output < 0 || n->output >= g->nvalues) {
            snprintf(err, err_size, "node %d has op %d and output %%%d, out of range", i,
                     (int)n->op, n->output);
            return HB_ERR_FORMAT;
        }
        for (int j = 0; j < n->ninputs; j++) {
            int v = n->inputs[j];
            if (v < 0 || v >= g->nvalues ||
                (g->values[v].kind == HB_VAL_NODE &&
                 (g->values[v].node < 0 || g->values[v].node >= i))) {
                snprintf(err, err_size, "node %d (%s at %s): input %d is %%%d, not defined "
                         "before it", i, hb_op_table[n->op].name, n->path, j, v);
                return HB_ERR_FORMAT;
            }
            in[j] = g->values[v].shape;
            din[j] = g->values[v].dtype;
        }
        hb_attrs at = n->attrs;
        char why[256];
        if (hb_op_infer(n->op, &at, n->ninputs, in, &out, why, sizeof why) != HB_OK) {
            snprintf(err, err_size, "node %d at %s: %s", i, n->path, why);
            return HB_ERR_SHAPE;
        }
        if (hb_op_dtype(n->op, &at, n->ninputs, din, &dout, why, sizeof why) != HB_OK) {
            snprintf(err, err_size, "node %d at %s: %s", i, n->path, why);
            return HB_ERR_ARG;
        }
        if (dout != g->values[n->output].dtype) {
            snprintf(err, err_size, "node %d (%s at %s) records dtype %s, its op gives %s", i,
                     hb_op_table[n->op].name, n->path,
                     hb_dtype_name(g->values[n->output].dtype), hb_dtype_name(dout));
            return HB_ERR_ARG;
        }
        if (!hb_shape_equal(&out, &g->values[n->output].shape)) {
            snprintf(err, err_size, "node %d (%s at %s) records shape %s, its op gives %s", i,
                     hb_op_table[n->op].name, n->path,
                     hb_shape_fmt(&g->values[n->output].shape, a, sizeof a),
                     hb_shape_fmt(&out, b, sizeof b));
            return HB_ERR_SHAPE;
        }
        /* An assign replaces its destination's values: a later read would see the new ones
         * where the trace read the old (passes must keep every read before the write). */
        for (int k = i + 1; n->op == HB_OP_ASSIGN && k < g->nnodes; k++)
            for (int j = g->nodes[k].op == HB_OP_ASSIGN; j < g->nodes[k].ninputs; j++)
                if (g->nodes[k].inputs[j] == n->inputs[0]) {
                    snprintf(err, err_size, "node %d (%s at %s) reads %%%d after node %d "
                             "assigned it", k, hb_op_table[g->nodes[k].op].name,
                             g->nodes[k].path, n->inputs[0], i);
                    return HB_ERR_FORMAT;
                }
        if ((n->op == HB_OP_LOOP && !loop_fits(g, n, err, err_size)) ||
            (n->op == HB_OP_SCAN && !scan_fits(g, n, err, err_size)))
            return HB_ERR_FORMAT;
        if (g->values[n->output].node != i) {
            snprintf(err, err_size, "node %d's output %%%d says it comes from node %d", i,
                     n->output, g->values[n->output].node);
            return HB_ERR_FORMAT;
        }
    }
    if (g->output < 0 || g->output >= g->nvalues) {
        snprintf(err, err_size, "the graph returns no value");
        return HB_ERR_FORMAT;
    }
    return HB_OK;
}

hb_status hb_graph_verify(const hb_graph *g, char *err, size_t err_size)
{
    int most = 1; /* a concat of every step of a long sequence has thousands of inputs */
    for (int i = 0; i < g->nnodes; i++)
        most = g->nodes[i].ninputs > most ? g->nodes[i].ninputs : most;
    hb_shape *in = hb_malloc(sizeof *in * (size_t)most);
    hb_dtype *din = hb_malloc(sizeof *din * (size_t)most);
    hb_status st = in && din ? verify_nodes(g, in, din, err, err_size) : HB_ERR_NOMEM;
    if (st == HB_ERR_NOMEM)
        snprintf(err, err_size, "out of memory");
    hb_free(in), hb_free(din);
    return st;
}

/* The tracer: while a hybridized block's call runs eagerly, every op also appends a node to an
 * IR graph. Tensors made by recorded ops carry their value; any other tensor an op reads is
 * classified once per trace: a parameter or constant of the traced tree (by its state_dict
 * name), a constant the forward filled in itself, or an outside tensor read live.
 *
 * Host reads of values (hb_item, hb_tensor_data) mark the innermost block call: when that call
 * returns, its nodes give way to one island node, and the block runs eagerly from then on.
 * Data-dependent control flow is never baked into a graph. */
#include "../ir/graph.h"
#include "frontend.h"

#include <string.h>

typedef struct known {
    const hb_tensor *t;
    int value;
} known;

struct hb_trace {
    uint64_t id;
    hb_graph *g;
    hb_block *root;
    hb_trace *outer; /* the trace this one interrupted, resumed at the end */
    bool freeze;     /* trainable parameters are recorded as constants */
    bool failed;     /* out of memory while recording: the call still runs, no plan */
    bool symbolic;   /* attached to an existing graph: ops add nodes, run no kernels */
    const char *path; /* attached: the path every new node gets */
    int nfill, nextern;
    known *known;    /* tensors not made by this trace, and their values */
    int nknown, cap_known;
    /* Island cuts so far: values from cuts[i] on, made before cut i, no longer exist (their
     * numbers are reused). A tensor holding one escaped its block's call: no plan then. */
    int cuts[64];
    unsigned ncuts;
};

_Thread_local hb_trace *hb_tracing;

/* What tensor.c tells a trace (below), installed with the first trace. */
static const hb_tensor_hooks tensor_hooks;
static atomic_uint_fast64_t next_trace_id = 1;

static void drop_tensor(void *t) { hb_tensor_release(t); }

static bool remember(hb_trace *tr, const hb_tensor *t, int value)
{
    for (int i = 0; i < tr->nknown; i++)
        if (tr->known[i].t == t) {
            tr->known[i].value = value;
            return true;
        }
    if (tr->nknown == tr->cap_known) {
        int cap = tr->cap_known ? 2 * tr->cap_known : 16;
        known *grown = hb_realloc(tr->known, sizeof *grown * (size_t)cap);
        if (!grown)
            return false;
        tr->known = grown, tr->cap_known = cap;
    }
    tr->known[tr->nknown++] = (known){t, value};
    return true;
}

/* A value for data that lives in tensor t, which the graph keeps alive. */
static int data_value(hb_trace *tr, hb_tensor *t, hb_value_kind kind, const char *name)
{
    int v = hb_graph_add_value(tr->g, kind, &t->shape, name);
    if (v < 0)
        return -1;
    hb_value *val = &tr->g->values[v];
    val->dtype = t->dtype;
    val->data = t->data;
    val->keep = hb_tensor_retain(t);
    val->drop = drop_tensor;
    val->version = &t->version;
    return v;
}

/* A frozen parameter: a constant holding a copy of its values now, so that later updates of
 * the parameter are not seen by the plan at all (rather than by some of its instructions). */
static int snapshot_value(hb_trace *tr, hb_tensor *t, const char *name)
{
    size_t bytes = hb_dtypes[t->dtype].size * (size_t)t->numel;
    float *copy = hb_malloc(bytes + 1);
    int v = copy ? hb_graph_add_value(tr->g, HB_VAL_CONST, &t->shape, name) : -1;
    if (v < 0) {
        hb_free(copy);
        return -1;
    }
    memcpy(copy, t->data, bytes);
    hb_value *val = &tr->g->values[v];
    val->dtype = t->dtype;
    val->data = copy;
    val->keep = copy;
    val->drop = hb_free;
    return v;
}

/* The value of tensor t in this trace, classifying t on first sight; -1 if out of memory. */
static int value_of(hb_trace *tr, hb_tensor *t)
{
    if (t->trace_id == tr->id && t->trace_value >= 0) {
        for (unsigned c = t->trace_gen; c < tr->ncuts; c++)
            if (t->trace_value >= tr->cuts[c]) {
                tr->failed = true; /* a value from inside an island, kept past its call */
                return -1;
            }
        return t->trace_value;
    }
    for (int i = 0; i < tr->nknown; i++)
        if (tr->known[i].t == t)
            return tr->known[i].value;
    char name[512];
    bool trainable = false;
    int v;
    if (t->trace_id == tr->id) { /* filled in by the forward: a constant of this trace */
        snprintf(name, sizeof name, "c%d", tr->nfill++);
        v = data_value(tr, t, HB_VAL_CONST, name);
    } else if (tr->root && hb_block_find_tensor(tr->root, t, name, sizeof name, &trainable)) {
        v = trainable && tr->freeze ? snapshot_value(tr, t, name)
                                    : data_value(tr, t, trainable ? HB_VAL_PARAM : HB_VAL_CONST,
                                                 name);
    } else { /* from outside the tree: read live, never folded */
        snprintf(name, sizeof name, "e%d", tr->nextern++);
        v = data_value(tr, t, HB_VAL_EXTERN, name);
    }
    return v >= 0 && remember(tr, t, v) ? v : -1;
}

/* A constant the forward writes (a batch norm's running statistics in training mode) is not
 * constant: it becomes a value read live, the tensor's own memory, so that no pass folds what
 * the plan will overwrite and the write lands where the block keeps it (not in a frozen
 * snapshot). Nodes already reading it read it live too: passes run after the trace. */
static bool make_live(hb_trace *tr, int v, hb_tensor *t)
{
    hb_value *val = &tr->g->values[v];
    if (val->kind != HB_VAL_CONST)
        return true;
    if (val->keep != t) {
        if (val->drop)
            val->drop(val->keep);
        val->data = t->data;
        val->keep = hb_tensor_retain(t);
        val->drop = drop_tensor;
        val->version = &t->version;
    }
    val->kind = HB_VAL_EXTERN;
    return true;
}

hb_trace *hb_trace_begin(hb_block *root, hb_tensor *x, const char *name, bool freeze)
{
    hb_tensor_hook = &tensor_hooks;
    hb_trace *tr = hb_calloc(1, sizeof *tr);
    if (!tr)
        return NULL;
    tr->freeze = freeze;
    tr->id = atomic_fetch_add(&next_trace_id, 1);
    tr->root = root;
    tr->g = hb_graph_new(name);
    int v = tr->g ? hb_graph_add_value(tr->g, HB_VAL_INPUT, &x->shape, "x") : -1;
    if (v < 0 || !remember(tr, x, v)) {
        hb_graph_free(tr->g);
        hb_free(tr->known);
        hb_free(tr);
        return NULL;
    }
    tr->g->input = v;
    tr->g->values[v].dtype = x->dtype;
    tr->outer = hb_tracing;
    hb_tracing = tr;
    return tr;
}

hb_graph *hb_trace_end(hb_trace *tr, hb_tensor *y)
{
    hb_graph *g = tr->g;
    if (!tr->failed && y)
        g->output = value_of(tr, y);
    if (tr->failed || !y || g->output < 0) {
        hb_graph_free(g);
        g = NULL;
    }
    hb_tracing = tr->outer;
    hb_free(tr->known);
    hb_free(tr);
    return g;
}

void hb_trace_op(hb_op op, const hb_attrs *at, int n, hb_tensor *const *in, hb_tensor *out)
{
    hb_trace *tr = hb_tracing;
    if (!tr || tr->failed)
        return;
    int inline_ids[8] = {0}, *ids = n <= 8 ? inline_ids : hb_malloc(sizeof *ids * (size_t)n);
    char path[512];
    int v = -1;
    if (ids) {
        bool ok = true;
        for (int i = 0; i < n && ok; i++)
            ok = (ids[i] = value_of(tr, in[i])) >= 0;
        if (ok && op == HB_OP_ASSIGN)
            ok = make_live(tr, ids[0], in[0]);
        if (ok)
            v = hb_graph_add_node(tr->g, op, at, n, ids, &out->shape,
                                  tr->path ? tr->path : hb_frame_path(path, sizeof path));
    }
    if (ids != inline_ids)
        hb_free(ids);
    if (v < 0) {
        tr->failed = true;
        return;
    }
    out->trace_id = tr->id;
    out->trace_value = v;
    out->trace_gen = tr->ncuts;
}

/* Marks the innermost call as reading host data; the first reason is the one explained. */
static void mark_host(const char *fmt, const char *a, const char *op)
{
    hb_frame *f = hb_frame_top();
    if (!f || f->read_host)
        return;
    f->read_host = true;
    f->read_op = op;
    snprintf(f->reason, HB_REASON_SIZE, fmt, a, op);
}

static void created(hb_tensor *t, hb_origin origin, const char *fn)
{
    hb_trace *tr = hb_tracing;
    if (!tr || !t)
        return;
    t->trace_id = tr->id;
    t->trace_value = -1;
    if (origin == HB_ORIGIN_RANDOM)
        mark_host("%s draws new random numbers on every call%s", fn, "");
    else if (origin == HB_ORIGIN_HOST)
        mark_host("%s brings host data into the forward%s (fixed data belongs in "
                  "hb_block_add_const)", fn, "");
}

static void host_read(const hb_tensor *t, const char *fn)
{
    hb_trace *tr = hb_tracing;
    if (!tr || !t)
        return;
    const char *op = "input";
    if (t->trace_id == tr->id && t->trace_value >= 0) {
        const hb_value *v = &tr->g->values[t->trace_value];
        op = v->kind == HB_VAL_NODE ? hb_op_table[tr->g->nodes[v->node].op].name : "input";
    } else if (t->trace_id == tr->id) {
        op = "constant";
    } else {
        for (int i = 0; i < tr->nknown; i++)
            if (tr->known[i].t == t && tr->g->values[tr->known[i].value].kind != HB_VAL_INPUT)
                op = "parameter";
    }
    mark_host("%s reads the value of %s on the host, so control flow may depend on it", fn,
              op);
}

/* hb_test saw outcome for t: a guard node, so the plan checks the same path is taken. */
static void guard(const hb_tensor *t, bool outcome)
{
    hb_trace *tr = hb_tracing;
    if (!tr || tr->failed)
        return;
    char path[512];
    hb_attrs at = {.scalar = outcome ? 1.0f : 0.0f};
    int v = value_of(tr, (hb_tensor *)t); /* a tensor the trace reads, never writes */
    if (v < 0 || hb_graph_add_node(tr->g, HB_OP_GUARD, &at, 1, &v, &t->shape,
                                   hb_frame_path(path, sizeof path)) < 0)
        tr->failed = true;
}

static const hb_tensor_hooks tensor_hooks = {created, host_read, guard};

hb_trace_pos hb_trace_mark(void)
{
    hb_trace *tr = hb_tracing;
    return tr ? (hb_trace_pos){tr->g->nnodes, tr->g->nvalues} : (hb_trace_pos){0, 0};
}

void hb_trace_island(hb_block *b, hb_trace_pos start, hb_tensor *x, hb_tensor *y,
                     const char *reason, bool paused)
{
    hb_trace *tr = hb_tracing;
    if (!tr || tr->failed)
        return;
    if (!y) {
        tr->failed = true;
        return;
    }
    /* y was made inside the block's call if its value lies past the cut (or it is a constant
     * the block filled in): then it becomes the island's result. A y from before (the block
     * returned its input, or a parameter) keeps its value. */
    int cut = start.values;
    bool made_inside = y->trace_id == tr->id && (y->trace_value >= cut || y->trace_value < 0);
    if (paused) { /* made while the trace was paused: new unless the trace knows it already */
        made_inside = y != x && y->trace_id != tr->id;
        for (int i = 0; i < tr->nknown && made_inside; i++)
            made_inside = tr->known[i].t != y;
    }
    hb_graph_truncate(tr->g, start.nodes, start.values);
    if (tr->ncuts == HB_ARRAY_LEN(tr->cuts)) {
        tr->failed = true; /* more islands than are tracked: no plan, the call is right */
        return;
    }
    tr->cuts[tr->ncuts++] = start.values;
    /* Values past the cut are gone: forget the tensors that pointed at them. */
    int kept = 0;
    for (int i = 0; i < tr->nknown; i++)
        if (tr->known[i].value < tr->g->nvalues)
            tr->known[kept++] = tr->known[i];
    tr->nknown = kept;
    int xv = value_of(tr, x);
    char path[512];
    hb_attrs at = {.shape = y->shape, .callee = b};
    int v = xv < 0 ? -1 : hb_graph_add_node(tr->g, HB_OP_ISLAND, &at, 1, &xv, &y->shape,
                                            hb_frame_path(path, sizeof path));
    hb_node *node = v >= 0 ? &tr->g->nodes[tr->g->nnodes - 1] : NULL;
    if (!node || !(node->reason = hb_strdup(reason))) {
        tr->failed = true;
        return;
    }
    if (!made_inside)
        return;
    /* y was made by this thread during the call (perhaps by a child's own trace, with that
     * trace's id): it is the island's result from now on. Marking y itself, not remembering
     * its address, keeps a later tensor at a reused address from being taken for it. */
    for (int i = 0; i < tr->nknown; i++)
        if (tr->known[i].t == y)
            tr->known[i] = tr->known[--tr->nknown];
    y->trace_id = tr->id;
    y->trace_value = v;
    y->trace_gen = tr->ncuts;
}

hb_trace *hb_trace_pause(void)
{
    hb_trace *tr = hb_tracing;
    hb_tracing = NULL;
    return tr;
}

void hb_trace_resume(hb_trace *tr) { hb_tracing = tr; }

/* ---- extending a graph symbolically ---------------------------------------------------------- */

hb_trace *hb_trace_attach(hb_graph *g, const char *path)
{
    hb_tensor_hook = &tensor_hooks;
    hb_trace *tr = hb_calloc(1, sizeof *tr);
    if (!tr)
        return NULL;
    tr->id = atomic_fetch_add(&next_trace_id, 1);
    tr->g = g;
    tr->symbolic = true;
    tr->path = path;
    tr->nfill = g->nvalues; /* names of new constants ("cN") stay distinct from the trace's */
    /* The graph's leaves that a tensor keeps alive are known by that tensor. */
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].drop == drop_tensor && !remember(tr, g->values[v].keep, v)) {
            hb_free(tr->known);
            hb_free(tr);
            return NULL;
        }
    tr->outer = hb_tracing;
    hb_tracing = tr;
    return tr;
}

bool hb_trace_detach(hb_trace *tr)
{
    bool ok = !tr->failed;
    hb_tracing = tr->outer;
    hb_free(tr->known);
    hb_free(tr);
    return ok;
}

bool hb_trace_symbolic(void) { return hb_tracing && hb_tracing->symbolic; }

hb_tensor *hb_trace_value_tensor(hb_trace *tr, int v)
{
    hb_tensor *t = hb_tensor_alloc_meta(&tr->g->values[v].shape, tr->g->values[v].dtype);
    if (t) {
        t->trace_id = tr->id;
        t->trace_value = v;
        t->trace_gen = tr->ncuts;
    }
    return t;
}

bool hb_trace_leaf(hb_trace *tr, hb_tensor *t, const char *name, bool extern_)
{
    int v = extern_ ? data_value(tr, t, HB_VAL_EXTERN, name)
                    : hb_graph_add_value(tr->g, HB_VAL_INPUT, &t->shape, name); /* bound per run */
    if (v >= 0)
        tr->g->values[v].dtype = t->dtype;
    return v >= 0 && remember(tr, t, v);
}

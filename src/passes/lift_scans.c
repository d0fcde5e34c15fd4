/* Scan lifting. A loop over a sequence whose length is a shape (a recurrent net's steps
 * written in C, an ONNX LSTM, GRU or Loop) traces as T copies of one round: each reads its
 * slice of the sequence and the state the round before left, and one concat gathers the
 * rounds' step values. When every round repeats the first with the same flow of values — each
 * reads only its own results, values from before the loop (invariants), its slice (whose start
 * moves by one slice each round) and values at fixed places of the round before (the carried
 * state, any number of them: an LSTM's h and c) — the rounds become one scan node whose body
 * is one round:
 *
 *     h0 c0 | x_0 = slice(x, 0) ... h1 c1 y0 | x_1 = slice(x, 1) ... h2 c2 y1 | ... | concat(y...)
 *  →  h0 c0 | scan(h0, c0, x, invariants){one round} | y = reshape(slice(scan)) | h_T, c_T
 *
 * The IR gives a node one result, so the body's result and the scan's are flat rows: the body
 * gives [new state, step value]; the scan gives every round's step value, stacked as the
 * concat would have, then the last state, which reshapes after the node take apart for their
 * readers. Anything less regular stays as traced: the unrolled rounds are correct, only
 * longer to compile. */
#include "pass.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_CARRY = 16, MAX_SEQ = 8, MAX_INV = 32 };

/* Where a unit node's input comes from, the same in every round. */
typedef enum { FROM_UNIT, FROM_CARRY, FROM_OUTER } from_kind;

typedef struct scan_find {
    int start, len, n; /* the first round's first node, nodes per round, rounds */
    int concat;        /* the node gathering the rounds' step values */
    bool reverse;      /* round r's step value is the concat's input n-1-r */
    int *first_in;     /* per unit node: where its inputs start in kind/what */
    from_kind *kind;   /* per input of the first round: where it comes from */
    int *what;         /* ... its place in the round (FROM_UNIT, or the round before's) */
    int carry[MAX_CARRY], init[MAX_CARRY], ncarry; /* places in a round, values going in */
    int seq[MAX_SEQ], nseq;   /* the sliced sequences */
    int *seq_of;              /* per unit node: which sequence it slices, or -1 */
    int axis;                 /* the slices' */
    int64_t start0, length;   /* the first round's start, and each slice's length */
    int inv[MAX_INV], ninv;
} scan_find;

static int carry_index(const scan_find *f, int pos)
{
    for (int k = 0; k < f->ncarry; k++)
        if (f->carry[k] == pos)
            return k;
    return -1;
}

/* A slice whose start moves from round to round, reading a value from before the loop. */
static bool moves(const hb_node *a, const hb_node *b)
{
    return a->op == HB_OP_SLICE && b->op == HB_OP_SLICE && a->attrs.start != b->attrs.start;
}

static bool same_node(const hb_graph *g, const hb_node *a, const hb_node *b)
{
    hb_attrs at = b->attrs;
    if (moves(a, b))
        at.start = a->attrs.start;
    return a->op == b->op && a->ninputs == b->ninputs && !(hb_op_table[a->op].flags & HB_OPAQUE) &&
           strcmp(a->path, b->path) == 0 &&
           hb_shape_equal(&g->values[a->output].shape, &g->values[b->output].shape) &&
           g->values[a->output].dtype == g->values[b->output].dtype &&
           hb_attrs_equal(a->op, &a->attrs, &at);
}

/* Classifies the first round's inputs against the second's, then checks every later round
 * against the first: same nodes, same flow, slices moving by one slice per round. */
static bool regular(const hb_graph *g, scan_find *f)
{
    int s0 = f->start, len = f->len;
    f->ncarry = f->nseq = 0;
    for (int k = 1; k < f->n; k++) {
        int sk = s0 + k * len, sp = sk - len;
        for (int j = 0; j < len; j++) {
            const hb_node *a = &g->nodes[s0 + j], *b = &g->nodes[sk + j];
            if (!same_node(g, a, b))
                return false;
            if (moves(a, b) || f->seq_of[j] >= 0) { /* a round's slice of a sequence */
                int64_t d = b->attrs.start - a->attrs.start;
                if (f->seq_of[j] < 0) { /* first seen: the second round says which way */
                    bool down = d < 0;
                    if (k != 1 || (d != a->attrs.length && d != -a->attrs.length) ||
                        (f->nseq && (a->attrs.axis != f->axis || a->attrs.length != f->length ||
                                     a->attrs.start != f->start0 || down != f->reverse)) ||
                        (!f->nseq && down != f->reverse))
                        return false;
                    f->axis = a->attrs.axis, f->length = a->attrs.length;
                    f->start0 = a->attrs.start;
                    int q = 0;
                    while (q < f->nseq && f->seq[q] != a->inputs[0])
                        q++;
                    if (q == f->nseq) {
                        if (f->nseq == MAX_SEQ)
                            return false;
                        f->seq[f->nseq++] = a->inputs[0];
                    }
                    f->seq_of[j] = q;
                }
                if (d != (f->reverse ? -k : k) * f->length)
                    return false;
            }
            for (int t = 0; t < a->ninputs; t++) {
                int i = f->first_in[j] + t;
                int va = a->inputs[t], vb = b->inputs[t];
                int pa = hb_pass_place(g, va, s0, s0 + len), pb = hb_pass_place(g, vb, sk, sk + len);
                int prev = hb_pass_place(g, vb, sp, sp + len);
                from_kind kind = pb >= 0 ? FROM_UNIT : prev >= 0 ? FROM_CARRY : FROM_OUTER;
                if (k == 1) {
                    f->kind[i] = kind, f->what[i] = kind == FROM_UNIT ? pb : prev;
                    if (kind != FROM_UNIT && g->values[va].kind == HB_VAL_NODE &&
                        g->values[va].node >= s0)
                        return false; /* from the first round where later ones read outside */
                    if (kind == FROM_CARRY) {
                        int c = carry_index(f, prev);
                        if (c < 0) {
                            if (f->ncarry == MAX_CARRY)
                                return false;
                            c = f->ncarry++;
                            f->carry[c] = prev, f->init[c] = va;
                        }
                        const hb_value *x0 = &g->values[va], *x1 = &g->values[vb];
                        if (f->init[c] != va || !hb_shape_equal(&x0->shape, &x1->shape) ||
                            x0->dtype != x1->dtype)
                            return false;
                    }
                } else if (kind != f->kind[i] || (kind != FROM_OUTER && f->what[i] !=
                                                  (kind == FROM_UNIT ? pb : prev))) {
                    return false;
                }
                if ((kind == FROM_UNIT && pa != pb) || (kind == FROM_OUTER && va != vb))
                    return false;
                if (f->seq_of[j] >= 0 && (t != 0 || kind != FROM_OUTER))
                    return false; /* a sequence comes from before the loop */
            }
        }
    }
    return f->ncarry > 0;
}

/* Values of a round may be read after the rounds only by the concat (each round's step value,
 * already matched) and, of the last round, at the places of the state. */
static bool contained(const hb_graph *g, const scan_find *f)
{
    int end = f->start + f->n * f->len;
    for (int i = end; i < g->nnodes; i++) {
        const hb_node *m = &g->nodes[i];
        for (int t = 0; t < m->ninputs && i != f->concat; t++) {
            const hb_value *val = &g->values[m->inputs[t]];
            if (val->kind != HB_VAL_NODE || val->node < f->start || val->node >= end)
                continue;
            int round = (val->node - f->start) / f->len, pos = (val->node - f->start) % f->len;
            if (round != f->n - 1 || carry_index(f, pos) < 0)
                return false;
        }
    }
    const hb_value *out = &g->values[g->output];
    if (out->kind == HB_VAL_NODE && out->node >= f->start && out->node < end &&
        ((out->node - f->start) / f->len != f->n - 1 ||
         carry_index(f, (out->node - f->start) % f->len) < 0))
        return false;
    /* One row holds the state and the step value: one dtype. */
    hb_dtype d = g->values[g->nodes[f->start + f->len - 1].output].dtype;
    for (int k = 0; k < f->ncarry; k++)
        if (g->values[f->init[k]].dtype != d || d == HB_BOOL)
            return false;
    return true;
}

static int add_input(hb_graph *b, const hb_value *like, const hb_shape *shape)
{
    int v = hb_graph_add_value(b, HB_VAL_INPUT, shape, NULL);
    if (v >= 0)
        b->values[v].dtype = like->dtype;
    return v;
}

/* A flat view of value v: reshape(v) to [numel]. */
static int flat(hb_graph *g, int v, const char *path)
{
    hb_attrs at = {.shape = {.ndim = 1, .dim = {hb_shape_numel(&g->values[v].shape)}}};
    return hb_graph_add_node(g, HB_OP_RESHAPE, &at, 1, &v, &at.shape, path);
}

/* One round copied into a graph of its own: inputs the state, the sequences' slices and the
 * invariants; result the row [state, step value]. */
static hb_graph *body_of(const hb_graph *g, scan_find *f)
{
    hb_graph *b = hb_graph_new("body");
    int *map = hb_malloc(sizeof *map * (size_t)f->len);
    int cin[MAX_CARRY], sin[MAX_SEQ], iin[MAX_INV];
    bool ok = b && map;
    const hb_node *round0 = &g->nodes[f->start];
    for (int k = 0; ok && k < f->ncarry; k++)
        ok = (cin[k] = add_input(b, &g->values[f->init[k]], &g->values[f->init[k]].shape)) >= 0;
    if (ok)
        b->input = cin[0];
    for (int q = 0; ok && q < f->nseq; q++) {
        int j = 0;
        while (f->seq_of[j] != q)
            j++;
        ok = (sin[q] = add_input(b, &g->values[f->seq[q]], &g->values[round0[j].output].shape)) >= 0;
    }
    f->ninv = 0;
    for (int j = 0; ok && j < f->len; j++) {
        const hb_node *m = &round0[j];
        if (f->seq_of[j] >= 0) {
            map[j] = sin[f->seq_of[j]];
            continue;
        }
        int ins[64];
        ok = m->ninputs <= 64;
        for (int t = 0; ok && t < m->ninputs; t++) {
            int i = f->first_in[j] + t, v = m->inputs[t];
            if (f->kind[i] == FROM_UNIT) {
                ins[t] = map[f->what[i]];
            } else if (f->kind[i] == FROM_CARRY) {
                ins[t] = cin[carry_index(f, f->what[i])];
            } else { /* an invariant: a body input of its own, once */
                int k = 0;
                while (k < f->ninv && f->inv[k] != v)
                    k++;
                if (k == f->ninv && (ok = f->ninv < MAX_INV)) {
                    f->inv[f->ninv] = v;
                    ok = (iin[f->ninv++] = add_input(b, &g->values[v], &g->values[v].shape)) >= 0;
                }
                ins[t] = ok ? iin[k] : -1;
            }
        }
        ok = ok && (map[j] = hb_graph_add_node(b, m->op, &m->attrs, m->ninputs, ins,
                                               &g->values[m->output].shape, m->path)) >= 0;
        ok = ok && (!m->reason || (b->nodes[b->nnodes - 1].reason = hb_strdup(m->reason)));
    }
    /* The row: each carried value flat, then the step value. */
    int parts[MAX_CARRY + 1];
    int64_t row = 0;
    for (int k = 0; ok && k <= f->ncarry; k++) {
        int v = map[k < f->ncarry ? f->carry[k] : f->len - 1];
        ok = (parts[k] = flat(b, v, round0[f->len - 1].path)) >= 0;
        row += ok ? b->values[parts[k]].shape.dim[0] : 0;
    }
    hb_attrs cat = {.axis = 0};
    hb_shape rs = {.ndim = 1, .dim = {row}};
    ok = ok && (b->output = hb_graph_add_node(b, HB_OP_CONCAT, &cat, f->ncarry + 1, parts, &rs,
                                              round0[f->len - 1].path)) >= 0;
    hb_free(map);
    if (!ok) {
        hb_graph_free(b);
        return NULL;
    }
    return b;
}

/* reshape(slice(v, 0, start, numel(shape)), shape): a part of the scan's row, after it. The
 * shape is taken by value: adding nodes moves the graph's values. */
static int part_of(hb_graph *g, int v, int64_t start, hb_shape shape, const char *path)
{
    hb_attrs sl = {.axis = 0, .start = start, .length = hb_shape_numel(&shape)};
    hb_shape flat_shape = {.ndim = 1, .dim = {sl.length}};
    int s = hb_graph_add_node(g, HB_OP_SLICE, &sl, 1, &v, &flat_shape, path);
    hb_attrs rs = {.shape = shape};
    return s < 0 ? -1 : hb_graph_add_node(g, HB_OP_RESHAPE, &rs, 1, &s, &shape, path);
}

/* The rewrite once f holds: the scan node and its parts where the last round ended, every
 * round and the concat gone. */
static bool lift(hb_graph *g, const hb_pass_opts *opts, scan_find *f)
{
    hb_graph *body = body_of(g, f);
    hb_pass_stats sub[HB_PASS_COUNT];
    char err[256];
    /* The body gets the whole pipeline (this pass finds no rounds in one round). */
    if (!body || hb_passes_run(body, opts, sub, NULL, NULL, err, sizeof err) != HB_OK) {
        hb_graph_free(body);
        return false;
    }
    int end = f->start + f->n * f->len, first_new = g->nnodes, first_value = g->nvalues, nin = 0;
    const hb_node *last = &g->nodes[end - 1];
    int y = last->output;
    int ins[MAX_CARRY + MAX_SEQ + MAX_INV];
    for (int k = 0; k < f->ncarry; k++)
        ins[nin++] = f->init[k];
    for (int q = 0; q < f->nseq; q++)
        ins[nin++] = f->seq[q];
    for (int k = 0; k < f->ninv; k++)
        ins[nin++] = f->inv[k];
    hb_attrs at = {.shape = g->values[y].shape,
                   .scan = {.steps = f->n, .carries = f->ncarry, .seqs = f->nseq,
                            .start = f->start0, .length = f->length, .axis = f->axis,
                            .stack = g->nodes[f->concat].attrs.axis, .reverse = f->reverse}};
    if (!f->nseq)
        at.scan.length = 1;
    int64_t stacked = f->n * hb_shape_numel(&g->values[y].shape), state = 0;
    for (int k = 0; k < f->ncarry; k++)
        state += hb_shape_numel(&g->values[f->init[k]].shape);
    hb_shape row = {.ndim = 1, .dim = {stacked + state}};
    char *path = hb_strdup(g->nodes[f->concat].path);
    int scan = path ? hb_graph_add_node(g, HB_OP_SCAN, &at, nin, ins, &row, path) : -1;
    if (scan < 0) {
        hb_free(path), hb_graph_free(body);
        return false;
    }
    hb_node_set_body(&g->nodes[g->nnodes - 1], body);
    /* The parts after it: the rounds' values for the concat's readers, and each carried
     * value something reads after the rounds. */
    int cat = g->nodes[f->concat].output, parts[MAX_CARRY], was[MAX_CARRY];
    int ys = part_of(g, scan, 0, g->values[cat].shape, path);
    bool ok = ys >= 0;
    int64_t off = stacked;
    for (int k = 0; ok && k < f->ncarry; k++) {
        int v = was[k] = g->nodes[end - f->len + f->carry[k]].output;
        hb_shape s = g->values[v].shape;
        bool read = g->output == v;
        for (int i = end; i < first_new && !read; i++)
            for (int t = 0; t < g->nodes[i].ninputs; t++)
                read = read || (i != f->concat && g->nodes[i].inputs[t] == v);
        parts[k] = read ? part_of(g, scan, off, s, path) : -1;
        ok = !read || parts[k] >= 0;
        off += hb_shape_numel(&s);
    }
    hb_free(path);
    /* The new nodes go where the last round ended (they read only values from before the
     * rounds, and each other); then their readers read them, and the rounds and the concat
     * go. Out of memory before that, the graph is as it was. */
    int added = g->nnodes - first_new, concat = f->concat + added;
    if (!ok || !hb_graph_move_nodes(g, first_new, end)) {
        hb_graph_truncate(g, first_new, first_value);
        return false;
    }
    bool *remove = hb_calloc((size_t)g->nnodes + 1, sizeof *remove);
    if (!remove)
        return false; /* the rounds stay as they were; the new nodes unread */
    hb_graph_replace_uses(g, cat, ys);
    for (int k = 0; k < f->ncarry; k++)
        if (parts[k] >= 0)
            hb_graph_replace_uses(g, was[k], parts[k]);
    for (int i = f->start; i < end; i++)
        remove[i] = true;
    remove[concat] = true;
    hb_graph_remove_nodes(g, remove);
    hb_free(remove);
    return true;
}

/* Tries concat node c as the gathering of a scan's rounds. */
static bool try_lift(hb_graph *g, const hb_pass_opts *opts, int c, hb_pass_stats *stats)
{
    const hb_node *cat = &g->nodes[c];
    int n = cat->ninputs;
    if (n < 2)
        return false;
    int *at = hb_malloc(sizeof *at * (size_t)n);
    if (!at)
        return false;
    for (int i = 0; i < n; i++) {
        const hb_value *v = &g->values[cat->inputs[i]];
        at[i] = v->kind == HB_VAL_NODE ? v->node : -1;
    }
    scan_find f = {.n = n, .concat = c, .reverse = at[1] < at[0]};
    int p0 = f.reverse ? at[n - 1] : at[0]; /* round 0's step value */
    f.len = abs(at[1] - at[0]);
    f.start = p0 - f.len + 1;
    bool ok = f.len > 0 && f.start >= 0 && at[0] >= 0;
    for (int r = 0; ok && r < n; r++)
        ok = at[f.reverse ? n - 1 - r : r] == p0 + r * f.len;
    hb_free(at);
    if (!ok)
        return false;
    int inputs = 0;
    f.first_in = hb_malloc(sizeof *f.first_in * (size_t)f.len);
    f.seq_of = hb_malloc(sizeof *f.seq_of * (size_t)f.len);
    for (int j = 0; f.first_in && j < f.len; j++)
        f.first_in[j] = inputs, inputs += g->nodes[f.start + j].ninputs;
    f.kind = hb_malloc(sizeof *f.kind * (size_t)(inputs + 1));
    f.what = hb_malloc(sizeof *f.what * (size_t)(inputs + 1));
    ok = f.first_in && f.seq_of && f.kind && f.what;
    for (int j = 0; ok && j < f.len; j++)
        f.seq_of[j] = -1;
    ok = ok && regular(g, &f) && contained(g, &f) && lift(g, opts, &f);
    hb_free(f.first_in), hb_free(f.seq_of), hb_free(f.kind), hb_free(f.what);
    if (ok) {
        stats->rewrites++;
        stats->bytes += n; /* the rounds lifted, for the note */
    }
    return ok;
}

hb_status hb_pass_lift_scans(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    if (opts->train) {
        snprintf(stats->note, sizeof stats->note, "none lifted in a training step: the "
                 "backward reads every round's values");
        return HB_OK;
    }
    for (bool again = true; again;) {
        again = false;
        for (int i = 0; i < g->nnodes && !again; i++)
            if (g->nodes[i].op == HB_OP_CONCAT)
                again = try_lift(g, opts, i, stats);
    }
    snprintf(stats->note, sizeof stats->note, "%d scans lifted (%lld rounds into their bodies)",
             stats->rewrites, (long long)stats->bytes);
    stats->bytes = 0;
    return HB_OK;
}

/* Constant folding. Two rules, in node order:
 *   scalar motion:  (x·W)·s → x·(W·s)   (x·W)/s → x·(W/s)   with W (and a linear's bias)
 *                   constant and the product read only by the scale: the scale moves into
 *                   the weights, which fold, and the multiply disappears;
 *   folding:        a node whose inputs are all constants is computed now, once, and its
 *                   result becomes a constant.
 * Constants are a block's constants, and with freeze its parameters too. Moving the scale
 * changes the rounding of the product slightly (x·W·s is not x·(W·s) to the bit). */
#include "pass.h"

#include <math.h>
#include <string.h>

static bool is_const(const hb_graph *g, int v) { return g->values[v].kind == HB_VAL_CONST; }

/* Computes op over the constant inputs ids into a new constant; its id or -1. */
static int evaluate(hb_graph *g, const hb_pass_opts *opts, hb_op op, const hb_attrs *at, int n,
                    const int *ids, const hb_shape *out_shape, hb_pass_stats *stats)
{
    float *in[64];
    hb_shape shapes[64];
    hb_dtype dtypes[64] = {HB_F32}, dout;
    char why[8];
    if (n > 64 || !opts->eval)
        return -1;
    for (int i = 0; i < n; i++)
        dtypes[i] = g->values[ids[i]].dtype;
    /* float32 only: eval computes over float buffers (ids and masks are not worth folding) */
    if (hb_op_dtype(op, at, n, dtypes, &dout, why, sizeof why) != HB_OK || dout != HB_F32)
        return -1;
    for (int i = 0; i < n; i++) {
        if (dtypes[i] != HB_F32)
            return -1;
        in[i] = g->values[ids[i]].data;
        shapes[i] = g->values[ids[i]].shape;
        if (!in[i] && hb_shape_numel(&shapes[i]))
            return -1; /* a constant without data (a graph read from text) */
    }
    const hb_shape shape = *out_shape; /* may point into the value array, which may move */
    int64_t bytes = hb_shape_numel(&shape) * (int64_t)sizeof(float);
    float *out = hb_malloc((size_t)bytes + 1);
    if (!out)
        return -1;
    opts->eval(op, at, n, in, shapes, out, &shape);
    char name[32];
    snprintf(name, sizeof name, "f%d", stats->rewrites);
    int v = hb_graph_add_const(g, &shape, out, name);
    if (v >= 0) {
        stats->rewrites++;
        stats->bytes += bytes;
    }
    return v;
}

/* The constant op(c) for a one-input op with the node's scalar, e.g. W·s. */
static int scaled(hb_graph *g, const hb_pass_opts *opts, hb_op op, float s, int c,
                  hb_pass_stats *stats)
{
    hb_attrs at = {.scalar = s};
    return evaluate(g, opts, op, &at, 1, &c, &g->values[c].shape, stats);
}

static bool move_scale(hb_graph *g, const hb_pass_opts *opts, int i, const int *uses,
                       hb_pass_stats *stats)
{
    hb_node *n = &g->nodes[i];
    if (n->op != HB_OP_MUL_SCALAR && n->op != HB_OP_DIV_SCALAR)
        return false;
    int pv = n->inputs[0];
    const hb_node *pc = hb_pass_producer(g, pv);
    if (!pc || uses[pv] != 1 || (pc->op != HB_OP_MATMUL && pc->op != HB_OP_LINEAR))
        return false;
    hb_node *p = &g->nodes[g->values[pv].node];
    bool linear = p->op == HB_OP_LINEAR;
    if (!is_const(g, p->inputs[1]) || (!linear && g->values[p->inputs[1]].shape.ndim != 2) ||
        (linear && p->ninputs == 3 && !is_const(g, p->inputs[2])))
        return false;
    float s = n->attrs.scalar;
    if (!isfinite(s) || s == 0.0f)
        return false; /* (x·W)/0 is ±inf per element, x·(W/0) sums infinities into NaN */
    int w = scaled(g, opts, n->op, s, p->inputs[1], stats);
    int b = linear && p->ninputs == 3 ? scaled(g, opts, n->op, s, p->inputs[2], stats) : -2;
    if (w < 0 || b == -1)
        return false;
    p->inputs[1] = w;
    if (b >= 0)
        p->inputs[2] = b;
    hb_graph_replace_uses(g, n->output, pv);
    return true;
}

hb_status hb_pass_fold(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    int moved = 0;
    for (int i = 0; i < g->nnodes; i++) {
        /* Dead nodes (left by earlier rewrites) are not rewritten: a scale nothing reads must
         * not move into weights others read. */
        bool *live = hb_graph_live_nodes(g);
        int *uses = live ? hb_graph_use_counts(g) : NULL;
        if (!uses) {
            hb_free(live);
            return HB_ERR_NOMEM;
        }
        bool alive = live[i];
        bool did = alive && move_scale(g, opts, i, uses, stats);
        hb_free(uses), hb_free(live);
        if (!alive)
            continue;
        if (did) {
            moved++;
            continue;
        }
        hb_node *n = &g->nodes[i];
        bool all_const = n->ninputs > 0 && !(hb_op_table[n->op].flags & HB_OPAQUE);
        for (int j = 0; all_const && j < n->ninputs; j++)
            all_const = is_const(g, n->inputs[j]);
        if (!all_const)
            continue;
        hb_attrs at = n->attrs;
        int v = evaluate(g, opts, n->op, &at, n->ninputs, n->inputs,
                         &g->values[n->output].shape, stats);
        n = &g->nodes[i]; /* adding a value may have moved nothing here, but be exact */
        if (v >= 0)
            hb_graph_replace_uses(g, n->output, v);
    }
    snprintf(stats->note, sizeof stats->note, "%d constants computed (%lld bytes), %d scales "
             "moved into weights", stats->rewrites, (long long)stats->bytes, moved);
    return HB_OK;
}

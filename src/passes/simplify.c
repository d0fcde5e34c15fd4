/* Algebraic simplification: a list of small rules, each an exact identity of IEEE arithmetic
 * (the result is the same bits for every input, NaNs and signed zeros included). A rule
 * returns the value that can stand for the node's result, or -1; the driver points every use
 * there and leaves the node to dead-code elimination. */
#include "pass.h"

#include <string.h>

typedef int (*rule_fn)(const hb_graph *g, const hb_node *n);

static bool scalar_is(const hb_node *n, float v)
{
    return memcmp(&n->attrs.scalar, &v, sizeof v) == 0; /* bitwise: -0 is not 0 */
}

/* x·1 → x    x/1 → x    x+(−0) → x    x−0 → x
 * (x+0 is not x: −0 + 0 = +0, and 1/−0 ≠ 1/+0, so that one stays.) */
static int identity(const hb_graph *g, const hb_node *n)
{
    (void)g;
    switch (n->op) {
    case HB_OP_MUL_SCALAR:
    case HB_OP_DIV_SCALAR: return scalar_is(n, 1.0f) ? n->inputs[0] : -1;
    case HB_OP_ADD_SCALAR: return scalar_is(n, -0.0f) ? n->inputs[0] : -1;
    case HB_OP_SUB_SCALAR: return scalar_is(n, 0.0f) ? n->inputs[0] : -1;
    default: return -1;
    }
}

/* relu(relu(x)) → relu(x) */
static int relu_relu(const hb_graph *g, const hb_node *n)
{
    const hb_node *p = n->op == HB_OP_RELU ? hb_pass_producer(g, n->inputs[0]) : NULL;
    return p && p->op == HB_OP_RELU ? n->inputs[0] : -1;
}

/* −(−x) → x */
static int neg_neg(const hb_graph *g, const hb_node *n)
{
    const hb_node *p = n->op == HB_OP_NEG ? hb_pass_producer(g, n->inputs[0]) : NULL;
    return p && p->op == HB_OP_NEG ? p->inputs[0] : -1;
}

/* transpose(transpose(x, a, b), a, b) → x   (either order of a and b) */
static int transpose_transpose(const hb_graph *g, const hb_node *n)
{
    const hb_node *p = n->op == HB_OP_TRANSPOSE ? hb_pass_producer(g, n->inputs[0]) : NULL;
    if (!p || p->op != HB_OP_TRANSPOSE)
        return -1;
    int a = n->attrs.axis, b = n->attrs.axis2, c = p->attrs.axis, d = p->attrs.axis2;
    return (a == c && b == d) || (a == d && b == c) ? p->inputs[0] : -1;
}

/* reshape(x) to x's own shape → x    copy(x) → x (values in a graph never change) */
static int no_op(const hb_graph *g, const hb_node *n)
{
    if (n->op == HB_OP_COPY)
        return n->inputs[0];
    if (n->op == HB_OP_RESHAPE &&
        hb_shape_equal(&g->values[n->inputs[0]].shape, &g->values[n->output].shape))
        return n->inputs[0];
    return -1;
}

static const rule_fn rules[] = {identity, relu_relu, neg_neg, transpose_transpose, no_op};

/* reshape(reshape(x)) → reshape(x): the outer one reads x directly (it keeps its own target). */
static bool reshape_chain(hb_graph *g, hb_node *n)
{
    const hb_node *p = n->op == HB_OP_RESHAPE ? hb_pass_producer(g, n->inputs[0]) : NULL;
    if (!p || p->op != HB_OP_RESHAPE)
        return false;
    n->inputs[0] = p->inputs[0];
    return true;
}

hb_status hb_pass_simplify(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    (void)opts;
    for (int i = 0; i < g->nnodes; i++) {
        hb_node *n = &g->nodes[i];
        if (reshape_chain(g, n))
            stats->rewrites++;
        for (size_t r = 0; r < HB_ARRAY_LEN(rules); r++) {
            int v = rules[r](g, n);
            if (v >= 0 && v != n->output) {
                hb_graph_replace_uses(g, n->output, v);
                stats->rewrites++;
                break;
            }
        }
    }
    snprintf(stats->note, sizeof stats->note, "%d rules applied", stats->rewrites);
    return HB_OK;
}

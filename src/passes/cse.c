/* Common-subexpression elimination: a node computing what an earlier node already computes
 * (same op, same inputs, same attributes; either order for commutative ops) reads the earlier
 * result instead. Islands are never merged: they run blocks. */
#include "pass.h"

static bool same_inputs(const hb_node *a, const hb_node *b)
{
    if (a->ninputs != b->ninputs)
        return false;
    bool same = true;
    for (int j = 0; j < a->ninputs && same; j++)
        same = a->inputs[j] == b->inputs[j];
    if (!same && a->ninputs == 2 && (hb_op_table[a->op].flags & HB_COMM))
        same = a->inputs[0] == b->inputs[1] && a->inputs[1] == b->inputs[0];
    return same;
}

hb_status hb_pass_cse(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    (void)opts;
    for (int i = 0; i < g->nnodes; i++) {
        hb_node *n = &g->nodes[i];
        if (hb_op_table[n->op].flags & HB_OPAQUE)
            continue;
        for (int j = 0; j < i; j++) {
            const hb_node *m = &g->nodes[j];
            if (m->op == n->op && same_inputs(m, n) && hb_attrs_equal(n->op, &m->attrs, &n->attrs)) {
                hb_graph_replace_uses(g, n->output, m->output);
                stats->rewrites++;
                break;
            }
        }
    }
    snprintf(stats->note, sizeof stats->note, "%d nodes merged", stats->rewrites);
    return HB_OK;
}

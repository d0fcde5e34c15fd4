/* Guard hoisting: each guard moves up to just after the node computing what it tests. A plan
 * then leaves at a failed guard as early as it can — before running work (above all an eager
 * island, which may have effects) that the call will redo eagerly anyway. Guards read one
 * value and write nothing, so moving them earlier changes no result.
 *
 * In-place writes (assign: a training-mode batch norm's running statistics) go last, after
 * every guard: a call that leaves the plan is run again eagerly, and a write made before the
 * exit would be made twice. Nothing reads a destination after its assign (the verifier
 * refuses that), so writing later changes no result either. */
#include "pass.h"

#include <string.h>

hb_status hb_pass_hoist_guards(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    (void)opts;
    int *order = hb_malloc(sizeof *order * ((size_t)g->nnodes + 1));
    hb_node *moved = hb_malloc(sizeof *moved * ((size_t)g->nnodes + 1));
    if (!order || !moved) {
        hb_free(order), hb_free(moved);
        return HB_ERR_NOMEM;
    }
    int n = 0;
    /* Guards of leaves (an input, a parameter) first, then every node followed by its guards. */
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == HB_OP_GUARD && g->values[g->nodes[i].inputs[0]].kind != HB_VAL_NODE)
            order[n++] = i;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].op == HB_OP_GUARD || g->nodes[i].op == HB_OP_ASSIGN)
            continue;
        order[n++] = i;
        for (int j = i + 1; j < g->nnodes; j++)
            if (g->nodes[j].op == HB_OP_GUARD && g->nodes[j].inputs[0] == g->nodes[i].output)
                order[n++] = j;
    }
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == HB_OP_ASSIGN)
            order[n++] = i;
    for (int k = 0; k < n; k++) {
        moved[k] = g->nodes[order[k]];
        stats->rewrites += order[k] != k && moved[k].op == HB_OP_GUARD;
    }
    if (n) /* a graph without nodes (the input returned) has no node array at all */
        memcpy(g->nodes, moved, sizeof *moved * (size_t)n);
    for (int k = 0; k < n; k++) {
        g->values[g->nodes[k].output].node = k;
        g->nodes[k].attrs.prog = g->nodes[k].prog; /* still its own program, now here */
    }
    hb_free(order), hb_free(moved);
    snprintf(stats->note, sizeof stats->note, "%d guards moved up", stats->rewrites);
    return HB_OK;
}

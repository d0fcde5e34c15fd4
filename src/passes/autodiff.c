/* Reverse-mode differentiation of a training step's graph (only when the caller asks for a
 * training step: opts->train). The graph returns the loss. Walking the traced nodes from the
 * last to the first, each node whose result has a gradient and reads something that depends
 * on a parameter gets its op's gradient rule applied (the caller's vjp: the same rules as the
 * eager tape, appending nodes here); gradients of a value read twice add up. Then each
 * parameter's gradient goes to the caller's update (an optimizer step inside the plan).
 *
 * It runs first, on the graph as traced: the forward's activations are plain values the
 * backward reads, so the memory plan keeps each one exactly as long as the backward needs it.
 * Control flow was traced as guards on one path; the backward follows that path, and the
 * guards still send any call that would take another one out of the plan. The updates' writes
 * (assign nodes) go last, after every read of the values they replace. */
#include "pass.h"

#include <string.h>

/* Moves every assign after every other node (keeping both orders). Updates are appended one
 * parameter at a time, and a later parameter's update (or a fusion pass placing a group at
 * its last member) may read an earlier parameter: each write must come after every read of
 * the old values. Nothing reads an assign's (empty) result, so the order stays valid. */
static hb_status assigns_last(hb_graph *g)
{
    hb_node *order = hb_malloc(sizeof *order * ((size_t)g->nnodes + 1));
    if (!order)
        return HB_ERR_NOMEM;
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < g->nnodes; i++)
            if ((g->nodes[i].op == HB_OP_ASSIGN) == (pass == 1))
                order[k++] = g->nodes[i];
    memcpy(g->nodes, order, sizeof *order * (size_t)g->nnodes);
    for (int i = 0; i < g->nnodes; i++)
        g->values[g->nodes[i].output].node = i;
    hb_free(order);
    return HB_OK;
}

/* grad[v] += d, as a node (or d itself for the first contribution). */
static hb_status accumulate(hb_graph *g, int *grad, int v, int d, const char *path)
{
    if (grad[v] < 0) {
        grad[v] = d;
        return HB_OK;
    }
    hb_shape s = g->values[v].shape;
    int sum = hb_graph_add_node(g, HB_OP_ADD, &(hb_attrs){0}, 2, (int[]){grad[v], d}, &s, path);
    if (sum < 0)
        return HB_ERR_NOMEM;
    grad[v] = sum;
    return HB_OK;
}

hb_status hb_pass_autodiff(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    const hb_train_spec *train = opts->train;
    if (!train) {
        snprintf(stats->note, sizeof stats->note, "inference: nothing to differentiate");
        return HB_OK;
    }
    const hb_value *loss = &g->values[g->output];
    if (hb_shape_numel(&loss->shape) != 1) {
        char sb[96];
        return hb_error_set(HB_ERR_SHAPE, "autodiff: the loss must be one value, not %s",
                            hb_shape_fmt(&loss->shape, sb, sizeof sb));
    }
    int nvalues = g->nvalues, nnodes = g->nnodes, widest = 1;
    for (int i = 0; i < nnodes; i++)
        widest = g->nodes[i].ninputs > widest ? g->nodes[i].ninputs : widest;
    bool *wants = hb_calloc((size_t)nvalues, sizeof *wants);
    int *grad = hb_malloc(sizeof *grad * (size_t)nvalues);
    bool *in_wants = hb_malloc(sizeof *in_wants * (size_t)widest);
    int *in_grads = hb_malloc(sizeof *in_grads * (size_t)widest);
    float *one = hb_malloc(sizeof *one);
    hb_status st = wants && grad && in_wants && in_grads && one ? HB_OK : HB_ERR_NOMEM;
    /* Which values depend on a parameter: only they need gradients. */
    for (int v = 0; st == HB_OK && v < nvalues; v++) {
        wants[v] = g->values[v].kind == HB_VAL_PARAM;
        grad[v] = -1;
    }
    for (int i = 0; st == HB_OK && i < nnodes; i++) {
        const hb_node *n = &g->nodes[i];
        for (int j = 0; j < n->ninputs; j++)
            wants[n->output] = wants[n->output] || wants[n->inputs[j]];
    }
    /* d loss / d loss = 1 */
    if (st == HB_OK) {
        *one = 1.0f;
        hb_shape shape = loss->shape; /* adding a value may move g->values */
        grad[g->output] = hb_graph_add_const(g, &shape, one, "dloss");
        one = NULL; /* the graph has it (or freed it) */
        st = grad[g->output] < 0 ? HB_ERR_NOMEM : HB_OK;
    }
    int applied = 0;
    for (int i = nnodes - 1; i >= 0 && st == HB_OK; i--) {
        /* g->nodes moves as nodes are added: read the node afresh each time */
        int out = g->nodes[i].output, n = g->nodes[i].ninputs;
        if (grad[out] < 0 || !wants[out])
            continue;
        for (int j = 0; j < n; j++) {
            in_wants[j] = wants[g->nodes[i].inputs[j]];
            in_grads[j] = -1;
        }
        if ((st = train->vjp(train->ctx, g, i, grad[out], in_wants, in_grads)) != HB_OK)
            break;
        applied++;
        for (int j = 0; j < n && st == HB_OK; j++)
            if (in_wants[j] && in_grads[j] >= 0)
                st = accumulate(g, grad, g->nodes[i].inputs[j], in_grads[j], g->nodes[i].path);
    }
    int backward = g->nnodes - nnodes, params = 0, unreached = 0;
    for (int v = 0; v < nvalues && st == HB_OK; v++) {
        if (g->values[v].kind != HB_VAL_PARAM)
            continue;
        if (grad[v] < 0) {
            unreached++; /* no path to the loss: left alone, as torch.optim leaves it */
            continue;
        }
        params++;
        st = train->update(train->ctx, g, v, grad[v]);
    }
    if (st == HB_OK)
        st = assigns_last(g);
    if (st == HB_ERR_NOMEM && hb_last_status() == HB_OK)
        hb_error_set(st, "autodiff: out of memory");
    stats->rewrites = applied;
    snprintf(stats->note, sizeof stats->note,
             "%d rules applied: %d backward nodes; %d parameters updated by %d nodes%s",
             applied, backward, params, g->nnodes - nnodes - backward,
             unreached ? " (some parameters not reached by the loss)" : "");
    hb_free(wants), hb_free(grad), hb_free(in_wants), hb_free(in_grads), hb_free(one);
    return st;
}

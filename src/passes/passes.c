/* The pass manager: the one ordered list of passes, the loop that runs them, and the few
 * helpers several passes share. */
#include "pass.h"

#include <string.h>

const hb_pass hb_passes[] = {
    {"autodiff", hb_pass_autodiff,
     "training steps: the backward graph of the loss, and each parameter's update"},
    {"lift_loops", hb_pass_lift_loops, "repeating guarded iterations into one loop node"},
    {"simplify", hb_pass_simplify, "algebraic identities: x*1, x-0, relu(relu x), ..."},
    {"cse", hb_pass_cse, "one node for each distinct computation"},
    {"fold", hb_pass_fold, "compute what depends only on constants; scalars into weights"},
    {"fuse_gemm", hb_pass_fuse_gemm, "bias, scalars and activations into the GEMM's epilogue"},
    {"fuse_elementwise", hb_pass_fuse_elementwise,
     "chains of elementwise ops into one program, and into the reduction they feed"},
    {"dce", hb_pass_dce, "drop nodes whose results nothing returned depends on"},
    {"hoist_guards", hb_pass_hoist_guards, "test each guard as soon as its value is known"},
    {"memplan", hb_pass_memplan, "place intermediates in one arena by liveness, reusing buffers"},
};
const int hb_pass_count = (int)HB_ARRAY_LEN(hb_passes);

const hb_pass *hb_pass_find(const char *name)
{
    for (int i = 0; i < hb_pass_count; i++)
        if (strcmp(hb_passes[i].name, name) == 0)
            return &hb_passes[i];
    return NULL;
}

const char *hb_pass_names(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < hb_pass_count && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " " : "", hb_passes[i].name);
    return buf;
}

hb_status hb_passes_run(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats,
                        const char *dump_after, FILE *dump, char *err, size_t err_size)
{
    bool all = dump_after && strcmp(dump_after, "all") == 0;
    for (int i = 0; i < hb_pass_count; i++) {
        const hb_pass *p = &hb_passes[i];
        stats[i] = (hb_pass_stats){.nodes_before = g->nnodes};
        hb_status st = p->run(g, opts, &stats[i]);
        stats[i].nodes_after = g->nnodes;
        if (st != HB_OK) {
            snprintf(err, err_size, "pass %s failed: %s", p->name, hb_last_error());
            return st;
        }
        char why[400];
        if ((st = hb_graph_verify(g, why, sizeof why)) != HB_OK) {
            snprintf(err, err_size, "after pass %s the graph is inconsistent: %s", p->name, why);
            return st;
        }
        if (dump && (all || (dump_after && strcmp(dump_after, p->name) == 0))) {
            fprintf(dump, "# after %s: %s\n", p->name, stats[i].note);
            hb_graph_print(dump, g);
        }
    }
    return HB_OK;
}

const hb_node *hb_producer(const hb_graph *g, int value)
{
    const hb_value *v = &g->values[value];
    return v->kind == HB_VAL_NODE && v->node >= 0 ? &g->nodes[v->node] : NULL;
}

bool hb_attrs_equal(hb_op op, const hb_attrs *a, const hb_attrs *b)
{
    switch (hb_op_table[op].attrs) {
    case HB_ATTRS_NONE:
        return true;
    case HB_ATTRS_SCALAR: /* bitwise: 0.0 and -0.0 differ, two NaNs of one pattern agree */
        return memcmp(&a->scalar, &b->scalar, sizeof a->scalar) == 0;
    case HB_ATTRS_REDUCE:
        return a->all == b->all && (a->all || (a->axis == b->axis && a->keepdim == b->keepdim));
    case HB_ATTRS_AXIS:
        return a->axis == b->axis;
    case HB_ATTRS_SHAPE:
        return hb_shape_equal(&a->shape, &b->shape);
    case HB_ATTRS_SLICE:
        return a->axis == b->axis && a->start == b->start && a->length == b->length;
    case HB_ATTRS_AXES:
        return a->axis == b->axis && a->axis2 == b->axis2;
    case HB_ATTRS_REASON:
    case HB_ATTRS_EXPECT:
    case HB_ATTRS_BODY:
        return false; /* islands run blocks, guards decide: never merged */
    case HB_ATTRS_PROGRAM:
        return hb_program_equal(a->prog, b->prog);
    case HB_ATTRS_REDUCE_PROGRAM:
        return a->reduce == b->reduce && a->all == b->all &&
               (a->all || (a->axis == b->axis && a->keepdim == b->keepdim)) &&
               hb_program_equal(a->prog, b->prog);
    case HB_ATTRS_GEMM:
        return a->trans_a == b->trans_a && a->trans_b == b->trans_b &&
               hb_program_equal(a->prog, b->prog);
    case HB_ATTRS_CONV:
    case HB_ATTRS_POOL:
        return memcmp(&a->win, &b->win, sizeof a->win) == 0;
    case HB_ATTRS_CONV_GRAD:
    case HB_ATTRS_POOL_GRAD:
        return memcmp(&a->win, &b->win, sizeof a->win) == 0 &&
               hb_shape_equal(&a->shape, &b->shape);
    case HB_ATTRS_CONV_PROGRAM:
        return memcmp(&a->win, &b->win, sizeof a->win) == 0 &&
               hb_program_equal(a->prog, b->prog);
    }
    return false;
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

/* Elementwise fusion. A group of elementwise nodes whose intermediate results are read only
 * inside the group becomes one fused node: a program over the group's outside inputs, run in
 * one walk over memory instead of one per op. Groups grow backwards from their last node,
 * taking in producers all of whose readers are already in the group, and whose results have
 * as many elements as the root's: a program runs once per element of its output, so a
 * producer broadcast into it (Adam's bias correction, [1] against a weight) stays a node of
 * its own, computed once rather than once per element. Then a reduction over
 * everything or the last axis takes in the elementwise node (or group) it reads, if nothing
 * else reads that: sum(abs(x)) never writes abs(x) out. */
#include "pass.h"

#include <string.h>

enum { MAX_GROUP = HB_PROG_MAX_INS, MAX_INPUTS = 16 };

/* A node a program can hold: elementwise over float32 (programs compute in floats; ids and
 * masks keep their nodes, which typed.c runs). */
static bool elementwise(const hb_graph *g, const hb_node *n)
{
    unsigned f = hb_op_table[n->op].flags;
    if (!(f & HB_EW) || (f & HB_OPAQUE) || n->op == HB_OP_COPY ||
        g->values[n->output].dtype != HB_F32)
        return false;
    for (int i = 0; i < n->ninputs; i++)
        if (g->values[n->inputs[i]].dtype != HB_F32)
            return false;
    return true;
}

typedef struct group {
    int nodes[MAX_GROUP]; /* node indices, kept sorted */
    int n;
} group;

static bool in_group(const group *gr, int node)
{
    for (int i = 0; i < gr->n; i++)
        if (gr->nodes[i] == node)
            return true;
    return false;
}

/* How many reads of value v the group makes. */
static int reads_in_group(const hb_graph *g, const group *gr, int v)
{
    int count = 0;
    for (int i = 0; i < gr->n; i++) {
        const hb_node *m = &g->nodes[gr->nodes[i]];
        for (int j = 0; j < m->ninputs; j++)
            count += m->inputs[j] == v;
    }
    return count;
}

static void add_sorted(group *gr, int node)
{
    int i = gr->n++;
    while (i > 0 && gr->nodes[i - 1] > node) {
        gr->nodes[i] = gr->nodes[i - 1];
        i--;
    }
    gr->nodes[i] = node;
}

/* Grows the group rooted at node root as far as the rules allow. */
static void grow(const hb_graph *g, const int *uses, const bool *taken, group *gr, int root)
{
    int64_t size = hb_shape_numel(&g->values[g->nodes[root].output].shape);
    gr->n = 0;
    add_sorted(gr, root);
    for (bool changed = true; changed && gr->n < MAX_GROUP;) {
        changed = false;
        for (int i = 0; i < gr->n && gr->n < MAX_GROUP; i++) {
            const hb_node *m = &g->nodes[gr->nodes[i]];
            for (int j = 0; j < m->ninputs && gr->n < MAX_GROUP; j++) {
                int v = m->inputs[j];
                const hb_value *val = &g->values[v];
                if (val->kind != HB_VAL_NODE || taken[val->node] || in_group(gr, val->node) ||
                    !elementwise(g, &g->nodes[val->node]) || v == g->output ||
                    uses[v] != reads_in_group(g, gr, v) || hb_shape_numel(&val->shape) != size)
                    continue;
                add_sorted(gr, val->node);
                changed = true;
            }
        }
    }
}

/* The group's program; its outside inputs go to ins (returns their count, -1 if too many). */
static int build(const hb_graph *g, const group *gr, hb_program *p, int *ins)
{
    int nin = 0, reg_of_node[MAX_GROUP];
    /* Outside inputs first: registers 0..nin-1. */
    for (int i = 0; i < gr->n; i++) {
        const hb_node *m = &g->nodes[gr->nodes[i]];
        for (int j = 0; j < m->ninputs; j++) {
            int v = m->inputs[j];
            const hb_value *val = &g->values[v];
            if (val->kind == HB_VAL_NODE && in_group(gr, val->node))
                continue;
            bool seen = false;
            for (int k = 0; k < nin && !seen; k++)
                seen = ins[k] == v;
            if (!seen) {
                if (nin == MAX_INPUTS)
                    return -1;
                ins[nin++] = v;
            }
        }
    }
    *p = (hb_program){.ninputs = nin, .nins = gr->n};
    for (int i = 0; i < gr->n; i++) {
        const hb_node *m = &g->nodes[gr->nodes[i]];
        int r[2] = {0, 0};
        for (int j = 0; j < m->ninputs; j++) {
            int v = m->inputs[j];
            const hb_value *val = &g->values[v];
            if (val->kind == HB_VAL_NODE && in_group(gr, val->node)) {
                for (int k = 0; k < i; k++)
                    if (gr->nodes[k] == val->node)
                        r[j] = reg_of_node[k];
            } else {
                for (int k = 0; k < nin; k++)
                    if (ins[k] == v)
                        r[j] = k;
            }
        }
        reg_of_node[i] = nin + i;
        p->ins[i] = (hb_prog_ins){m->op, (uint8_t)r[0], (uint8_t)r[m->ninputs > 1], m->attrs.scalar};
    }
    return nin;
}

/* Turns node at into op with the given inputs, program and attributes. */
static bool rewrite(hb_graph *g, int at, hb_op op, const int *ins, int nin, const hb_program *p,
                    hb_attrs attrs)
{
    hb_node *t = &g->nodes[at];
    int *copy = hb_malloc(sizeof *copy * (size_t)nin);
    if (!copy || hb_node_set_program(t, p) != HB_OK) {
        hb_free(copy);
        return false;
    }
    memcpy(copy, ins, sizeof *copy * (size_t)nin);
    attrs.prog = t->prog;
    hb_free(t->inputs);
    t->op = op, t->attrs = attrs, t->inputs = copy, t->ninputs = nin;
    return true;
}

static hb_status fuse_groups(hb_graph *g, hb_pass_stats *stats)
{
    int *uses = hb_graph_use_counts(g);
    bool *taken = hb_calloc((size_t)g->nnodes + 1, sizeof *taken);
    bool *live = hb_graph_live_nodes(g);
    if (!uses || !taken || !live) {
        hb_free(uses), hb_free(taken), hb_free(live);
        return HB_ERR_NOMEM;
    }
    for (int i = g->nnodes - 1; i >= 0; i--) {
        if (taken[i] || !live[i] || !elementwise(g, &g->nodes[i]))
            continue;
        group gr;
        grow(g, uses, taken, &gr, i);
        if (gr.n < 2)
            continue;
        hb_program p;
        int ins[MAX_INPUTS];
        int nin = build(g, &gr, &p, ins);
        if (nin < 0 || !rewrite(g, i, HB_OP_FUSED, ins, nin, &p, (hb_attrs){0}))
            continue;
        for (int k = 0; k < gr.n; k++)
            taken[gr.nodes[k]] = true;
        stats->rewrites++;
    }
    hb_free(uses), hb_free(taken), hb_free(live);
    return HB_OK;
}

/* A reduction over all or the last axis takes in the elementwise node it alone reads. */
static hb_status fuse_reductions(hb_graph *g, int *fused)
{
    int *uses = hb_graph_use_counts(g);
    if (!uses)
        return HB_ERR_NOMEM;
    for (int i = 0; i < g->nnodes; i++) {
        hb_node *n = &g->nodes[i];
        if (n->op != HB_OP_SUM && n->op != HB_OP_MEAN && n->op != HB_OP_MAX)
            continue;
        int v = n->inputs[0];
        const hb_node *p = hb_pass_producer(g, v);
        const hb_shape *s = &g->values[v].shape;
        bool last_axis = n->attrs.all || n->attrs.axis == s->ndim - 1;
        if (!p || uses[v] != 1 || v == g->output || !last_axis ||
            (p->op != HB_OP_FUSED && !elementwise(g, p)))
            continue;
        hb_program prog;
        int ins[MAX_INPUTS], nin = p->ninputs;
        if (p->op == HB_OP_FUSED) {
            prog = *p->prog;
        } else {
            prog = (hb_program){.ninputs = p->ninputs, .nins = 1};
            prog.ins[0] = (hb_prog_ins){p->op, 0, (uint8_t)(p->ninputs > 1), p->attrs.scalar};
        }
        if (nin > MAX_INPUTS)
            continue;
        memcpy(ins, p->inputs, sizeof *ins * (size_t)nin);
        hb_attrs at = {.reduce = n->op, .all = n->attrs.all, .axis = n->attrs.axis,
                       .keepdim = n->attrs.keepdim};
        if (rewrite(g, i, HB_OP_FUSED_REDUCE, ins, nin, &prog, at))
            (*fused)++;
    }
    hb_free(uses);
    return HB_OK;
}

hb_status hb_pass_fuse_elementwise(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    (void)opts;
    int reductions = 0;
    hb_status st = fuse_groups(g, stats);
    if (st == HB_OK)
        st = fuse_reductions(g, &reductions);
    stats->rewrites += reductions;
    snprintf(stats->note, sizeof stats->note, "%d elementwise groups fused, %d into reductions",
             stats->rewrites - reductions, reductions);
    return st;
}

/* The pass manager: the table of the passes (in passes.def's order), the loop that runs them,
 * and the few helpers several passes share. */
#include "pass.h"

#include <string.h>

const hb_pass hb_passes[HB_PASS_COUNT] = {
#define HB_PASS(NAME, name, about) [HB_PASS_##NAME] = {#name, hb_pass_##name, about},
#include "passes.def"
#undef HB_PASS
};

const hb_pass *hb_pass_find(const char *name)
{
    for (int i = 0; i < HB_PASS_COUNT; i++)
        if (strcmp(hb_passes[i].name, name) == 0)
            return &hb_passes[i];
    return NULL;
}

const char *hb_pass_names(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < HB_PASS_COUNT && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " " : "", hb_passes[i].name);
    return buf;
}

hb_status hb_passes_run(hb_graph *g, const hb_pass_opts *opts,
                        hb_pass_stats stats[static HB_PASS_COUNT], const char *dump_after,
                        FILE *dump, char *err, size_t err_size)
{
    bool all = dump_after && strcmp(dump_after, "all") == 0;
    for (int i = 0; i < HB_PASS_COUNT; i++) {
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

const hb_node *hb_pass_producer(const hb_graph *g, int value)
{
    const hb_value *v = &g->values[value];
    return v->kind == HB_VAL_NODE && v->node >= 0 ? &g->nodes[v->node] : NULL;
}

/* ---- epilogues: elementwise chains after a product, as one program ------------------------ */

int hb_pass_user_of(const hb_graph *g, const bool *live, int value, int after)
{
    for (int i = after + 1; i < g->nnodes; i++)
        for (int j = 0; live[i] && j < g->nodes[i].ninputs; j++)
            if (g->nodes[i].inputs[j] == value)
                return i;
    return -1;
}

int hb_pass_epilogue_reg(hb_epilogue *e, int v)
{
    for (int i = 0; i < e->nextra; i++)
        if (e->extra[i] == v)
            return 1 + i;
    if (e->nextra + 1 >= 16)
        return -1;
    e->extra[e->nextra++] = v;
    return e->nextra;
}

bool hb_pass_epilogue_emit(hb_epilogue *e, hb_op op, int a, int b, float scalar)
{
    if (e->prog.nins == HB_PROG_MAX_INS)
        return false;
    e->prog.ins[e->prog.nins++] = (hb_prog_ins){op, (uint8_t)a, (uint8_t)b, scalar};
    return true;
}

/* Result registers are written as 200 + instruction index until the program is installed. */
int hb_pass_epilogue_result(const hb_epilogue *e) { return 200 + e->prog.nins - 1; }

int hb_pass_epilogue_absorb(hb_graph *g, int node, hb_epilogue *e, int chain,
                            bool (*fits)(const hb_graph *g, int v, const hb_shape *out,
                                         const void *arg),
                            const void *arg, int *last)
{
    int *uses = hb_graph_use_counts(g);
    bool *live = hb_graph_live_nodes(g);
    *last = node;
    if (!uses || !live || !live[node]) {
        hb_free(uses), hb_free(live);
        return -1;
    }
    const hb_shape out = g->values[g->nodes[node].output].shape;
    int cur = g->nodes[node].output, absorbed = 0;
    while (uses[cur] == 1 && cur != g->output && e->prog.nins < HB_PROG_MAX_INS) {
        int u = hb_pass_user_of(g, live, cur, *last);
        const hb_node *un = u >= 0 ? &g->nodes[u] : NULL;
        if (!un || !(hb_op_table[un->op].flags & HB_EW) || (hb_op_table[un->op].flags & HB_FUSED) ||
            !hb_shape_equal(&g->values[un->output].shape, &out))
            break;
        int a = chain, b = chain;
        if (un->ninputs == 2) {
            int other = un->inputs[0] == cur ? un->inputs[1] : un->inputs[0];
            int r = other == cur                ? chain
                    : fits(g, other, &out, arg) ? hb_pass_epilogue_reg(e, other)
                                                : -1;
            if (r < 0)
                break;
            a = un->inputs[0] == cur ? chain : r;
            b = un->inputs[1] == cur ? chain : r;
        }
        hb_pass_epilogue_emit(e, un->op, a, b, un->attrs.scalar);
        chain = hb_pass_epilogue_result(e);
        cur = un->output, *last = u, absorbed++;
    }
    hb_free(uses), hb_free(live);
    return absorbed;
}

bool hb_pass_epilogue_install(hb_graph *g, int node, int last, hb_op op, const hb_attrs *attrs,
                              int a, int b, hb_epilogue *e)
{
    if (e->prog.nins == 0)
        hb_pass_epilogue_emit(e, HB_OP_COPY, 0, 0, 0); /* no epilogue: the product as it is */
    /* results were numbered from 200: they follow the inputs, now that their count is known */
    e->prog.ninputs = 1 + e->nextra;
    for (int i = 0; i < e->prog.nins; i++) {
        hb_prog_ins *in = &e->prog.ins[i];
        if (in->a >= 200)
            in->a = (uint8_t)(e->prog.ninputs + (in->a - 200));
        if (in->b >= 200)
            in->b = (uint8_t)(e->prog.ninputs + (in->b - 200));
    }
    /* The last link becomes the fused node (its inputs are all defined before it), named
     * after the product's block. */
    int *ins = hb_malloc(sizeof *ins * (size_t)(2 + e->nextra));
    char *path = hb_strdup(g->nodes[node].path);
    hb_node *t = &g->nodes[last];
    if (!ins || !path || hb_node_set_program(t, &e->prog) != HB_OK) {
        hb_free(ins), hb_free(path);
        return false;
    }
    ins[0] = a, ins[1] = b;
    memcpy(ins + 2, e->extra, sizeof *ins * (size_t)e->nextra);
    hb_attrs at = *attrs;
    at.prog = t->prog;
    hb_free(t->inputs), hb_free(t->path);
    t->op = op, t->attrs = at, t->inputs = ins, t->ninputs = 2 + e->nextra;
    t->path = path;
    return true;
}

int hb_pass_place(const hb_graph *g, int v, int start, int end)
{
    const hb_value *val = &g->values[v];
    if (val->kind != HB_VAL_NODE || val->node < start || val->node >= end)
        return -1;
    return val->node - start;
}

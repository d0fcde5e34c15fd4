/* GEMM epilogue fusion: a linear or a matmul against a 2-D matrix, followed by a chain of
 * elementwise ops whose other operands are scalars or rows of the output's width (a bias, a
 * scale, an activation), becomes one gemm node: the product, then the chain as a program run
 * on the output while it is in cache. Each intermediate must be read only by the next link.
 *
 * A constant weight of a linear with few rows is stored transposed (packed once, here), so the
 * product runs as rows of the input times rows of the weight, the faster small-GEMM form.
 *
 * A matmul of a transposed matrix reads it in place (the backward's gᵀ·x and g·Wᵀ): the
 * transpose is never materialized, BLAS reads the other way along the rows. */
#include "pass.h"

#include <string.h>

enum { PACK_MAX_ROWS = 16, PACK_MIN_COLS = 32 }; /* where the packed form measured faster */

/* Reads the same along every row of an output whose last dim is cols. */
static bool row_like(const hb_shape *s, const hb_shape *out, int64_t cols)
{
    if (s->ndim > out->ndim)
        return false;
    if (s->ndim == 0)
        return true;
    for (int d = 0; d + 1 < s->ndim; d++)
        if (s->dim[d] != 1)
            return false;
    return s->dim[s->ndim - 1] == cols || s->dim[s->ndim - 1] == 1;
}

/* The first live node after `after` that reads value (dead ones, left by earlier rewrites,
 * may still name it). */
static int user_of(const hb_graph *g, const bool *live, int value, int after)
{
    for (int i = after + 1; i < g->nnodes; i++)
        for (int j = 0; live[i] && j < g->nodes[i].ninputs; j++)
            if (g->nodes[i].inputs[j] == value)
                return i;
    return -1;
}

typedef struct epilogue {
    hb_program prog;
    int extra[HB_PROG_MAX_REGS]; /* values read by the program besides the product */
    int nextra;
} epilogue;

/* The register of value v among the epilogue's inputs (adding it), or -1 if full. */
static int reg_of(epilogue *e, int v)
{
    for (int i = 0; i < e->nextra; i++)
        if (e->extra[i] == v)
            return 1 + i;
    if (e->nextra + 1 >= 16)
        return -1;
    e->extra[e->nextra++] = v;
    return e->nextra;
}

static bool emit(epilogue *e, hb_op op, int a, int b, float scalar)
{
    if (e->prog.nins == HB_PROG_MAX_INS)
        return false;
    e->prog.ins[e->prog.nins++] = (hb_prog_ins){op, (uint8_t)a, (uint8_t)b, scalar};
    return true;
}

/* Instructions are written with input registers 0..nextra and results numbered from 200
 * (result_reg): renumber results to follow the inputs now that their count is known. */
static void finish(epilogue *e)
{
    e->prog.ninputs = 1 + e->nextra;
    for (int i = 0; i < e->prog.nins; i++) {
        hb_prog_ins *in = &e->prog.ins[i];
        if (in->a >= 200)
            in->a = (uint8_t)(e->prog.ninputs + (in->a - 200));
        if (in->b >= 200)
            in->b = (uint8_t)(e->prog.ninputs + (in->b - 200));
    }
}

/* Result registers are written as 200 + instruction index until finish(). */
static int result_reg(const epilogue *e) { return 200 + e->prog.nins - 1; }

static bool fuse_at(hb_graph *g, const hb_pass_opts *opts, int i, hb_pass_stats *stats)
{
    const hb_node *n = &g->nodes[i];
    bool linear = n->op == HB_OP_LINEAR;
    if (!linear && n->op != HB_OP_MATMUL)
        return false;
    /* Copies: adding a constant below may move the value array. */
    const hb_shape xshape = g->values[n->inputs[0]].shape, wshape = g->values[n->inputs[1]].shape;
    const hb_shape *xs = &xshape, *ws = &wshape;
    if (!linear && !(ws->ndim == 2 && xs->ndim >= 2))
        return false;
    int a_in = n->inputs[0], b_in = n->inputs[1];
    bool ta = false, tb = false; /* 2-D transposes: axes 0 and 1 swapped */
    const hb_node *pa = linear ? NULL : hb_producer(g, a_in), *pb = hb_producer(g, b_in);
    if (pa && pa->op == HB_OP_TRANSPOSE && xs->ndim == 2 && pa->attrs.axis != pa->attrs.axis2)
        ta = true, a_in = pa->inputs[0];
    if (!linear && pb && pb->op == HB_OP_TRANSPOSE && pb->attrs.axis != pb->attrs.axis2)
        tb = true, b_in = pb->inputs[0];
    const hb_shape out = g->values[n->output].shape;
    int64_t cols = out.dim[out.ndim - 1], rows = hb_shape_numel(&out) / (cols ? cols : 1);
    epilogue e = {.prog.ninputs = 0};
    int chain = 0; /* r0: the product */
    if (linear && n->ninputs == 3) {
        int r = reg_of(&e, n->inputs[2]);
        emit(&e, HB_OP_ADD, chain, r, 0);
        chain = result_reg(&e);
    }
    int *uses = hb_graph_use_counts(g);
    bool *live = hb_graph_live_nodes(g);
    if (!uses || !live || !live[i]) {
        hb_free(uses), hb_free(live);
        return false;
    }
    int cur = n->output, last = i, absorbed = 0;
    while (uses[cur] == 1 && cur != g->output && e.prog.nins < HB_PROG_MAX_INS) {
        int u = user_of(g, live, cur, last);
        const hb_node *un = u >= 0 ? &g->nodes[u] : NULL;
        if (!un || !(hb_op_table[un->op].flags & HB_EW) || (hb_op_table[un->op].flags & HB_FUSED) ||
            !hb_shape_equal(&g->values[un->output].shape, &out))
            break;
        int a = chain, b = chain;
        if (un->ninputs == 2) {
            int other = un->inputs[0] == cur ? un->inputs[1] : un->inputs[0];
            int r = other == cur ? chain : row_like(&g->values[other].shape, &out, cols)
                                               ? reg_of(&e, other) : -1;
            if (r < 0)
                break;
            a = un->inputs[0] == cur ? chain : r;
            b = un->inputs[1] == cur ? chain : r;
        }
        emit(&e, un->op, a, b, un->attrs.scalar);
        chain = result_reg(&e);
        cur = un->output, last = u, absorbed++;
    }
    hb_free(uses), hb_free(live);
    bool pack = linear && rows <= PACK_MAX_ROWS && cols >= PACK_MIN_COLS &&
                g->values[n->inputs[1]].kind == HB_VAL_CONST && g->values[n->inputs[1]].data &&
                opts->eval;
    if (!absorbed && !pack && !ta && !tb)
        return false;
    if (e.prog.nins == 0)
        emit(&e, HB_OP_COPY, 0, 0, 0);
    finish(&e);
    int w = b_in;
    if (pack) { /* Wᵀ once, now: the product then reads rows of both operands */
        hb_attrs t = {.axis = 0, .axis2 = 1};
        hb_shape ts = {.ndim = 2, .dim = {ws->dim[1], ws->dim[0]}};
        float *data = hb_malloc(sizeof(float) * (size_t)hb_shape_numel(&ts) + 1);
        if (!data)
            return false;
        opts->eval(HB_OP_TRANSPOSE, &t, 1, &g->values[w].data, ws, data, &ts);
        char name[64];
        snprintf(name, sizeof name, "%s (packed)", g->values[w].name ? g->values[w].name : "w");
        if ((w = hb_graph_add_const(g, &ts, data, name)) < 0)
            return false;
        n = &g->nodes[i];
    }
    /* The last link becomes the gemm: its inputs are all defined before it. */
    int *ins = hb_malloc(sizeof *ins * (size_t)(2 + e.nextra));
    char *path = hb_strdup(n->path);
    if (!ins || !path) {
        hb_free(ins), hb_free(path);
        return false;
    }
    ins[0] = a_in, ins[1] = w;
    memcpy(ins + 2, e.extra, sizeof *ins * (size_t)e.nextra);
    hb_node *t = &g->nodes[last];
    hb_attrs at = {.trans_a = ta, .trans_b = (linear && !pack) || tb};
    if (hb_node_set_program(t, &e.prog) != HB_OK) {
        hb_free(ins), hb_free(path);
        return false;
    }
    at.prog = t->prog;
    hb_free(t->inputs), hb_free(t->path);
    t->op = HB_OP_GEMM, t->attrs = at, t->inputs = ins, t->ninputs = 2 + e.nextra;
    t->path = path;
    stats->rewrites++;
    stats->bytes += pack ? hb_shape_numel(ws) * 4 : 0;
    return true;
}

hb_status hb_pass_fuse_gemm(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    int packed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        int64_t before = stats->bytes;
        if (fuse_at(g, opts, i, stats) && stats->bytes > before)
            packed++;
    }
    snprintf(stats->note, sizeof stats->note, "%d GEMMs took their epilogue, %d weights packed",
             stats->rewrites, packed);
    return HB_OK;
}

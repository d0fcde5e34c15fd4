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

static bool row_fits(const hb_graph *g, int v, const hb_shape *out, const void *cols)
{
    return row_like(&g->values[v].shape, out, *(const int64_t *)cols);
}

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
    const hb_node *pa = linear ? NULL : hb_pass_producer(g, a_in), *pb = hb_pass_producer(g, b_in);
    if (pa && pa->op == HB_OP_TRANSPOSE && xs->ndim == 2 && pa->attrs.axis != pa->attrs.axis2)
        ta = true, a_in = pa->inputs[0];
    if (!linear && pb && pb->op == HB_OP_TRANSPOSE && pb->attrs.axis != pb->attrs.axis2)
        tb = true, b_in = pb->inputs[0];
    const hb_shape out = g->values[n->output].shape;
    int64_t cols = out.dim[out.ndim - 1], rows = hb_shape_numel(&out) / (cols ? cols : 1);
    hb_epilogue e = {.prog.ninputs = 0};
    int chain = 0; /* r0: the product */
    if (linear && n->ninputs == 3) {
        hb_pass_epilogue_emit(&e, HB_OP_ADD, chain, hb_pass_epilogue_reg(&e, n->inputs[2]), 0);
        chain = hb_pass_epilogue_result(&e);
    }
    int last;
    int absorbed = hb_pass_epilogue_absorb(g, i, &e, chain, row_fits, &cols, &last);
    if (absorbed < 0)
        return false;
    bool pack = linear && rows <= PACK_MAX_ROWS && cols >= PACK_MIN_COLS &&
                g->values[n->inputs[1]].kind == HB_VAL_CONST && g->values[n->inputs[1]].data &&
                opts->eval;
    if (!absorbed && !pack && !ta && !tb)
        return false;
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
    }
    hb_attrs at = {.trans_a = ta, .trans_b = (linear && !pack) || tb};
    if (!hb_pass_epilogue_install(g, i, last, HB_OP_GEMM, &at, a_in, w, &e))
        return false;
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

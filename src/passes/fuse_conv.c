/* Convolution epilogue fusion: a convolution followed by a chain of elementwise ops whose other
 * operands are per-channel values ([C, 1, 1]: a batch norm's scale and shift that were not
 * folded into the weights), scalars, or tensors of the output's shape (a residual branch)
 * becomes one fused_conv node: the convolution, then the chain as a program over each image's
 * output while it is in cache. ResNet's conv → batch norm → (+ shortcut) → ReLU is one node;
 * the convolution's own bias becomes the epilogue's first add. Each intermediate must be read
 * only by the next link. */
#include "pass.h"

/* What the fused kernel reads per image: a scalar, per channel, or the whole output. */
static bool epilogue_fits(const hb_graph *g, int v, const hb_shape *out, const void *arg)
{
    (void)arg;
    const hb_shape *s = &g->values[v].shape; /* a [C] is not per channel: NumPy reads it along W */
    return (hb_shape_numel(s) == 1 || s->ndim >= 3) && hb_conv_epilogue_input(s, out);
}

static bool fuse_at(hb_graph *g, int i, hb_pass_stats *stats)
{
    const hb_node *n = &g->nodes[i];
    if (n->op != HB_OP_CONV2D)
        return false;
    hb_epilogue e = {.prog.ninputs = 0};
    int chain = 0; /* r0: the convolution */
    if (n->ninputs == 3) { /* the bias, [C]: per channel by the fused op's rule */
        hb_pass_epilogue_emit(&e, HB_OP_ADD, chain, hb_pass_epilogue_reg(&e, n->inputs[2]), 0);
        chain = hb_pass_epilogue_result(&e);
    }
    int last;
    int absorbed = hb_pass_epilogue_absorb(g, i, &e, chain, epilogue_fits, NULL, &last);
    if (absorbed <= 0) /* a bias alone is added as fast by the convolution itself */
        return false;
    n = &g->nodes[i];
    hb_attrs at = {.win = n->attrs.win};
    if (!hb_pass_epilogue_install(g, i, last, HB_OP_FUSED_CONV, &at, n->inputs[0], n->inputs[1],
                                  &e))
        return false;
    stats->rewrites++;
    return true;
}

hb_status hb_pass_fuse_conv(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    (void)opts;
    for (int i = 0; i < g->nnodes; i++)
        fuse_at(g, i, stats);
    snprintf(stats->note, sizeof stats->note, "%d convolutions took their epilogue (bias, "
             "scale and shift, residual add, activation)", stats->rewrites);
    return HB_OK;
}

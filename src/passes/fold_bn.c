/* Batch-norm folding: a convolution with constant weights followed by multiplies and adds of
 * constant per-channel values (an inference batch norm is x·scale + shift, and its scale and
 * shift are constants once the fold pass has computed them from frozen weights) becomes one
 * convolution with new weights and bias:
 *     conv(x, W, b)·s + t  →  conv(x, W·s, b·s + t)      (s, t per output channel)
 * so the normalization costs nothing at run time. Each intermediate must be read only by the
 * next link, and the values must be finite (x·W·inf is not x·(W·inf) where x·W is 0). The
 * result differs from the unfolded one by float rounding only. */
#include "pass.h"

#include <math.h>
#include <string.h>

/* Per-channel data of constant v for a convolution output with c channels: a scalar, [c, 1, 1]
 * or [1, c, 1, 1]; *step is 0 for a scalar, 1 per channel. NULL if v is not such a constant. */
static const float *channel_const(const hb_graph *g, int v, int64_t c, int *step)
{
    const hb_value *val = &g->values[v];
    if (val->kind != HB_VAL_CONST || !val->data)
        return NULL;
    const hb_shape *s = &val->shape;
    int64_t n = hb_shape_numel(s);
    if (n == 1 && s->ndim <= 4) {
        *step = 0;
        return isfinite(val->data[0]) ? val->data : NULL;
    }
    bool chan = (s->ndim == 3 || (s->ndim == 4 && s->dim[0] == 1)) &&
                s->dim[s->ndim - 3] == c && s->dim[s->ndim - 2] == 1 && s->dim[s->ndim - 1] == 1;
    for (int64_t i = 0; chan && i < n; i++)
        chan = isfinite(val->data[i]);
    *step = 1;
    return chan ? val->data : NULL;
}

static bool fold_at(hb_graph *g, int i, const int *uses, const bool *live, hb_pass_stats *stats)
{
    const hb_node *n = &g->nodes[i];
    if (n->op != HB_OP_CONV2D || !live[i])
        return false;
    const hb_value *w = &g->values[n->inputs[1]];
    const hb_value *b = n->ninputs == 3 ? &g->values[n->inputs[2]] : NULL;
    if (w->kind != HB_VAL_CONST || !w->data || (b && (b->kind != HB_VAL_CONST || !b->data)))
        return false;
    const hb_shape out = g->values[n->output].shape;
    int64_t c = out.dim[1];
    if (c == 0)
        return false; /* no channels: nothing to fold */
    float *s = hb_malloc(sizeof(float) * (size_t)c * 2 + 1), *t = s ? s + c : NULL;
    if (!s)
        return false;
    for (int64_t o = 0; o < c; o++)
        s[o] = 1.0f, t[o] = 0.0f;
    int cur = n->output, last = i, absorbed = 0;
    while (uses[cur] == 1 && cur != g->output) {
        int u = hb_pass_user_of(g, live, cur, last);
        const hb_node *un = u >= 0 ? &g->nodes[u] : NULL;
        if (!un || (un->op != HB_OP_MUL && un->op != HB_OP_ADD) ||
            !hb_shape_equal(&g->values[un->output].shape, &out))
            break;
        int other = un->inputs[0] == cur ? un->inputs[1] : un->inputs[0], step;
        const float *v = other == cur ? NULL : channel_const(g, other, c, &step);
        if (!v)
            break;
        for (int64_t o = 0; o < c; o++) { /* (x·s + t)·m = x·(s·m) + t·m;  + a: t + a */
            if (un->op == HB_OP_MUL)
                s[o] *= v[o * step], t[o] *= v[o * step];
            else
                t[o] += v[o * step];
        }
        cur = un->output, last = u, absorbed++;
    }
    if (!absorbed) {
        hb_free(s);
        return false;
    }
    int64_t per = hb_shape_numel(&w->shape) / c;
    float *nw = hb_malloc(sizeof(float) * (size_t)(per * c) + 1);
    float *nb = hb_malloc(sizeof(float) * (size_t)c + 1);
    int *ins = hb_malloc(sizeof *ins * 3);
    if (!nw || !nb || !ins) {
        hb_free(s), hb_free(nw), hb_free(nb), hb_free(ins);
        return false;
    }
    for (int64_t o = 0; o < c; o++) {
        for (int64_t k = 0; k < per; k++)
            nw[o * per + k] = w->data[o * per + k] * s[o];
        nb[o] = (b ? b->data[o] * s[o] : 0.0f) + t[o];
    }
    hb_free(s);
    char wname[160], bname[160];
    snprintf(wname, sizeof wname, "%s (batch norm folded)", w->name ? w->name : "weight");
    /* a convolution without a bias gets one: named after its weight ("conv1.bias") */
    const char *wn = w->name ? w->name : "weight", *dot = strrchr(wn, '.');
    if (b && b->name)
        snprintf(bname, sizeof bname, "%s (batch norm folded)", b->name);
    else
        snprintf(bname, sizeof bname, "%.*sbias (batch norm folded)",
                 dot ? (int)(dot - wn + 1) : 0, wn);
    const hb_shape ws = w->shape, bs = {.ndim = 1, .dim = {c}};
    int vw = hb_graph_add_const(g, &ws, nw, wname); /* values may move from here on */
    int vb = vw >= 0 ? hb_graph_add_const(g, &bs, nb, bname) : (hb_free(nb), -1);
    if (vw < 0 || vb < 0) {
        hb_free(ins);
        return false;
    }
    hb_node *conv = &g->nodes[i];
    ins[0] = conv->inputs[0], ins[1] = vw, ins[2] = vb;
    hb_free(conv->inputs);
    conv->inputs = ins, conv->ninputs = 3;
    hb_graph_replace_uses(g, cur, conv->output);
    stats->rewrites++;
    stats->bytes += (per * c + c) * (int64_t)sizeof(float);
    return true;
}

hb_status hb_pass_fold_bn(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    (void)opts;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].op != HB_OP_CONV2D)
            continue;
        bool *live = hb_graph_live_nodes(g);
        int *uses = live ? hb_graph_use_counts(g) : NULL;
        if (!uses) {
            hb_free(live);
            return HB_ERR_NOMEM;
        }
        fold_at(g, i, uses, live, stats);
        hb_free(uses), hb_free(live);
    }
    snprintf(stats->note, sizeof stats->note, "%d convolutions took their per-channel scale "
             "and shift (batch norms) into weights and bias", stats->rewrites);
    return HB_OK;
}

/* Loop lifting. A loop written with hb_test traces as a run of guards from one block path,
 * true, true, ..., true, false, each after the same ops: one iteration computes the next value
 * of the loop's state and the test on it. When two or more iterations repeat the same ops
 * with the same flow of values — each reads only its own results, the values from before the
 * loop (invariants) and one value from the iteration before (the carried state) — they become
 * one loop node whose body is one iteration:
 *
 *     x0 ... cond(x0) guard(true) | x1 = f(x0) cond(x1) guard(true) | ... | xn = f(xn-1)
 *     cond(xn) guard(false) | uses of xn
 *  →  x0 ... cond(x0) guard(true) | loop(x0, invariants){xk+1 = f(xk); continue cond(xk+1)}
 *
 * and one plan serves every trip count of one or more (zero is another path: the first guard).
 * Anything less regular stays as traced: guards, one plan per path. */
#include "pass.h"

#include <string.h>

enum { MAX_UNIT = 256, MAX_INV = 16 };

typedef struct lift {
    int start, len, n; /* the first unit's first node, nodes per unit, units */
    int x0;            /* the carried value going in */
    int carry;         /* the carried value's position in a unit */
    int cond;          /* the tested value's position in a unit */
    int inv[MAX_INV], ninv;
} lift;

static bool same_node(const hb_node *a, const hb_node *b, const hb_graph *g)
{
    return a->op == b->op && a->ninputs == b->ninputs && strcmp(a->path, b->path) == 0 &&
           hb_shape_equal(&g->values[a->output].shape, &g->values[b->output].shape) &&
           (a->op == HB_OP_GUARD || hb_attrs_equal(a->op, &a->attrs, &b->attrs)) &&
           (a->op != HB_OP_ISLAND || a->attrs.callee == b->attrs.callee);
}

/* Checks units 1..n (each len nodes from start) repeat with one carried value; fills l. */
static bool regular(const hb_graph *g, lift *l)
{
    int s1 = l->start, len = l->len;
    l->x0 = -1, l->carry = -1, l->ninv = 0;
    for (int k = 1; k < l->n; k++) {
        int sk = s1 + k * len, sp = sk - len;
        for (int j = 0; j < len; j++) {
            const hb_node *a = &g->nodes[s1 + j], *b = &g->nodes[sk + j];
            if (!same_node(a, b, g))
                return false;
            for (int t = 0; t < a->ninputs; t++) {
                int va = a->inputs[t], vb = b->inputs[t];
                int pa = hb_pass_place(g, va, s1, s1 + len), pb = hb_pass_place(g, vb, sk, sk + len);
                if (pa >= 0 || pb >= 0) { /* made inside the unit: at the same place */
                    if (pa != pb)
                        return false;
                    continue;
                }
                int prev = hb_pass_place(g, vb, sp, sp + len);
                if (prev >= 0) { /* the carried value: the same place, from the same x0 */
                    if ((l->carry >= 0 && l->carry != prev) || (l->x0 >= 0 && l->x0 != va))
                        return false;
                    l->carry = prev, l->x0 = va;
                } else if (va != vb) {
                    return false; /* from before the loop, but not the same value */
                }
            }
        }
    }
    if (l->carry < 0)
        return false;
    /* x0 must reach the rounds only as the carried value: a round that also reads the first
     * state itself (beside the carried one) would get the carried value in the body. */
    for (int j = 0; j < len; j++) {
        const hb_node *a = &g->nodes[s1 + j], *b = &g->nodes[s1 + len + j];
        for (int t = 0; t < a->ninputs; t++)
            if (a->inputs[t] == l->x0 && hb_pass_place(g, b->inputs[t], s1, s1 + len) < 0)
                return false;
    }
    /* The one guard of a round is the one that closes it. */
    for (int j = 0; j + 1 < len; j++)
        if (g->nodes[s1 + j].op == HB_OP_GUARD)
            return false;
    return true;
}

/* Values made in a unit may be read later only by the next unit (the carried one), and after
 * the loop only the last unit's carried value. */
static bool contained(const hb_graph *g, const lift *l)
{
    int end = l->start + l->n * l->len;
    for (int i = l->start; i < g->nnodes; i++) {
        const hb_node *m = &g->nodes[i];
        for (int t = 0; t < m->ninputs; t++) {
            const hb_value *val = &g->values[m->inputs[t]];
            if (val->kind != HB_VAL_NODE || val->node < l->start || val->node >= end)
                continue;
            int unit = (val->node - l->start) / l->len, pos = (val->node - l->start) % l->len;
            int reader = i < end ? (i - l->start) / l->len : l->n;
            if (reader != unit && !(reader == unit + 1 && pos == l->carry))
                return false;
        }
    }
    const hb_value *out = &g->values[g->output];
    if (out->kind == HB_VAL_NODE && out->node >= l->start && out->node < end &&
        !(out->node == end - l->len + l->carry))
        return false;
    return true;
}

/* One unit copied into a graph of its own: inputs x0 and the invariants, the guard dropped,
 * result the carried value, cond the tested one. */
static hb_graph *body_of(const hb_graph *g, lift *l)
{
    hb_graph *b = hb_graph_new("body");
    int map[MAX_UNIT];
    if (!b)
        return NULL;
    int x = hb_graph_add_value(b, HB_VAL_INPUT, &g->values[l->x0].shape, NULL);
    if (x >= 0)
        b->values[x].dtype = g->values[l->x0].dtype;
    b->input = x;
    int invmap[MAX_INV];
    for (int j = 0; j < l->len && x >= 0; j++) {
        const hb_node *m = &g->nodes[l->start + j];
        int ins[64];
        if (m->op == HB_OP_GUARD || m->ninputs > 64) {
            map[j] = -1;
            continue;
        }
        for (int t = 0; t < m->ninputs; t++) {
            int v = m->inputs[t], p = hb_pass_place(g, v, l->start, l->start + l->len);
            if (p >= 0) {
                ins[t] = map[p];
            } else if (v == l->x0) {
                ins[t] = x;
            } else { /* an invariant: a body input of its own, once */
                int k = 0;
                while (k < l->ninv && l->inv[k] != v)
                    k++;
                if (k == l->ninv) {
                    if (l->ninv == MAX_INV) {
                        hb_graph_free(b);
                        return NULL;
                    }
                    l->inv[l->ninv] = v;
                    int iv = hb_graph_add_value(b, HB_VAL_INPUT, &g->values[v].shape,
                                                g->values[v].name);
                    if (iv >= 0)
                        b->values[iv].dtype = g->values[v].dtype;
                    invmap[l->ninv++] = iv;
                }
                ins[t] = invmap[k];
            }
            if (ins[t] < 0) {
                hb_graph_free(b);
                return NULL;
            }
        }
        map[j] = hb_graph_add_node(b, m->op, &m->attrs, m->ninputs, ins,
                                   &g->values[m->output].shape, m->path);
        if (map[j] < 0 || (m->reason && !(b->nodes[b->nnodes - 1].reason = hb_strdup(m->reason)))) {
            hb_graph_free(b);
            return NULL;
        }
    }
    b->output = map[l->carry];
    b->cond = map[l->cond];
    return b;
}

/* Tries a run of guards from one path, guards[0..count) in node order. */
static bool try_lift(hb_graph *g, const hb_pass_opts *opts, const int *guards, int count,
                     hb_pass_stats *stats)
{
    /* guards[0] tests x0; units run (guards[k-1], guards[k]] for k = 1..count-1. */
    lift l = {.start = guards[0] + 1, .len = guards[1] - guards[0], .n = count - 1};
    if (l.n < 2 || l.len > MAX_UNIT)
        return false;
    for (int k = 1; k < count; k++)
        if (guards[k] - guards[k - 1] != l.len)
            return false;
    int gpos = l.len - 1; /* the guard closes each unit */
    l.cond = hb_pass_place(g, g->nodes[l.start + gpos].inputs[0], l.start, l.start + l.len);
    if (l.cond < 0 || !regular(g, &l) || !contained(g, &l))
        return false;
    hb_graph *body = body_of(g, &l);
    if (!body)
        return false;
    /* The body gets the whole pipeline (this pass finds nothing in it: it has no guards). */
    hb_pass_stats sub[HB_PASS_COUNT];
    char err[256];
    if (hb_passes_run(body, opts, sub, NULL, NULL, err, sizeof err) != HB_OK) {
        hb_graph_free(body);
        return false;
    }
    int end = l.start + l.n * l.len, last = end - 1;
    int xn = g->nodes[end - l.len + l.carry].output; /* the last unit's carried value */
    int *ins = hb_malloc(sizeof *ins * (size_t)(1 + l.ninv));
    bool *remove = hb_calloc((size_t)g->nnodes + 1, sizeof *remove);
    if (!ins || !remove) {
        hb_free(ins), hb_free(remove), hb_graph_free(body);
        return false;
    }
    ins[0] = l.x0;
    memcpy(ins + 1, l.inv, sizeof *ins * (size_t)l.ninv);
    /* The last unit's guard becomes the loop; everything else in the units goes. */
    hb_node *t = &g->nodes[last];
    char *path = hb_strdup(g->nodes[l.start].path);
    if (!path) {
        hb_free(ins), hb_free(remove), hb_graph_free(body);
        return false;
    }
    hb_free(t->inputs), hb_free(t->path);
    t->op = HB_OP_LOOP, t->attrs = (hb_attrs){0}, t->inputs = ins, t->ninputs = 1 + l.ninv;
    t->path = path;
    hb_node_set_body(t, body);
    g->values[t->output].shape = g->values[xn].shape;
    g->values[t->output].dtype = g->values[xn].dtype;
    for (int i = end; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].ninputs; j++)
            if (g->nodes[i].inputs[j] == xn)
                g->nodes[i].inputs[j] = t->output;
    if (g->output == xn)
        g->output = t->output;
    for (int i = l.start; i < last; i++)
        remove[i] = true;
    hb_graph_remove_nodes(g, remove);
    hb_free(remove);
    stats->rewrites++;
    return true;
}

hb_status hb_pass_lift_loops(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    if (opts->train) {
        /* The backward went through the rounds the trace took, as many as it took: a loop
         * that ran another count forwards would leave the gradients wrong. The guards keep
         * the traced path instead (another count is another plan). */
        int guards = 0;
        for (int i = 0; i < g->nnodes; i++)
            guards += g->nodes[i].op == HB_OP_GUARD;
        snprintf(stats->note, sizeof stats->note, guards ? "none lifted in a training step: "
                 "the backward follows the traced path, which the %d guards keep" :
                 "no guards, no loops", guards);
        return HB_OK;
    }
    /* Runs of guards from one block path, with no other guard between: true ... true false. */
    for (bool again = true; again;) {
        again = false;
        int guards[1024], count = 0;
        for (int i = 0; i < g->nnodes && !again; i++) {
            const hb_node *m = &g->nodes[i];
            if (m->op != HB_OP_GUARD)
                continue;
            bool same = count > 0 && strcmp(g->nodes[guards[0]].path, m->path) == 0 &&
                        g->nodes[guards[count - 1]].attrs.scalar != 0.0f;
            if (!same)
                count = 0;
            if (count < (int)HB_ARRAY_LEN(guards))
                guards[count++] = i;
            if (m->attrs.scalar == 0.0f && count >= 3)
                again = try_lift(g, opts, guards, count, stats);
            if (m->attrs.scalar == 0.0f)
                count = 0;
        }
    }
    snprintf(stats->note, sizeof stats->note, "%d loops lifted", stats->rewrites);
    return HB_OK;
}

/* Memory planning by liveness (as ggml-alloc does): walking the nodes in order, each result
 * takes a block of the arena, and a block returns to the free list once its last reader has
 * run. An op marked in-place-able writes over its first input when that input dies at the op
 * and has exactly the output's size. The returned value is never in the arena: the plan
 * writes it straight into the caller's buffer, so outputs never alias anything.
 *
 * A training step's update — an elementwise node whose result an assign then copies over a
 * parameter or optimizer state — is written straight into that memory instead, when nothing
 * after the node reads the old values and no guard after it can still send the call back to
 * eager (the assign's copy is then a no-op). */
#include "pass.h"

#include <string.h>

enum { ALIGN = 64 };

typedef struct span {
    int64_t offset, size;
} span;

typedef struct arena {
    span *free;
    int nfree, cap;
    int64_t end; /* high-water mark: the arena's size */
} arena;

static int64_t aligned(int64_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

static int64_t bytes_of(const hb_value *v)
{
    return aligned(hb_shape_numel(&v->shape) * (int64_t)hb_dtypes[v->dtype].size);
}

/* Best fit among free spans, else grow the arena. */
static int64_t take(arena *a, int64_t size)
{
    int best = -1;
    for (int i = 0; i < a->nfree; i++)
        if (a->free[i].size >= size && (best < 0 || a->free[i].size < a->free[best].size))
            best = i;
    if (best < 0) {
        /* A free span at the end can be extended rather than left behind. */
        for (int i = 0; i < a->nfree; i++)
            if (a->free[i].offset + a->free[i].size == a->end) {
                int64_t off = a->free[i].offset;
                a->end = off + size;
                a->free[i] = a->free[--a->nfree];
                return off;
            }
        int64_t off = a->end;
        a->end += size;
        return off;
    }
    int64_t off = a->free[best].offset;
    a->free[best].offset += size;
    a->free[best].size -= size;
    if (a->free[best].size == 0)
        a->free[best] = a->free[--a->nfree];
    return off;
}

/* Returns a span, merging it with free neighbours. */
static bool give(arena *a, int64_t offset, int64_t size)
{
    for (int i = 0; i < a->nfree; i++) {
        span *f = &a->free[i];
        if (f->offset + f->size == offset || offset + size == f->offset) {
            int64_t lo = f->offset < offset ? f->offset : offset;
            size += f->size;
            offset = lo;
            a->free[i--] = a->free[--a->nfree]; /* merged: look again for the other side */
        }
    }
    if (a->nfree == a->cap) {
        int cap = a->cap ? 2 * a->cap : 16;
        span *grown = hb_realloc(a->free, sizeof *grown * (size_t)cap);
        if (!grown)
            return false;
        a->free = grown, a->cap = cap;
    }
    a->free[a->nfree++] = (span){offset, size};
    return true;
}

/* Marks the sources of assigns that can be computed in place (value.alias); their count. */
static int updates_in_place(hb_graph *g)
{
    int count = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const hb_node *a = &g->nodes[i];
        if (a->op != HB_OP_ASSIGN)
            continue;
        int dst = a->inputs[0], src = a->inputs[1];
        hb_value *sv = &g->values[src];
        if (g->values[dst].kind == HB_VAL_NODE || sv->kind != HB_VAL_NODE || sv->alias >= 0 ||
            src == g->output)
            continue;
        int n = sv->node;
        const hb_node *node = &g->nodes[n];
        /* elementwise over the destination's own shape: element k reads element k only */
        if (!(hb_op_table[node->op].flags & HB_EW) || node->op == HB_OP_COPY ||
            !hb_shape_equal(&sv->shape, &g->values[dst].shape))
            continue;
        bool ok = true;
        for (int j = 0; j < node->ninputs && ok; j++) /* a broadcast read of dst would see new */
            ok = node->inputs[j] != dst ||
                 hb_shape_equal(&g->values[dst].shape, &sv->shape);
        /* no later reader of the old values, and no guard after the write: a call a guard
         * sends back to eager must find them untouched (hoist_guards put assigns last) */
        for (int k = n + 1; k < g->nnodes && ok; k++) {
            ok = g->nodes[k].op != HB_OP_GUARD;
            for (int j = 0; j < g->nodes[k].ninputs && ok; j++)
                ok = g->nodes[k].inputs[j] != dst || k == i;
        }
        if (ok) {
            sv->alias = dst;
            count++;
        }
    }
    return count;
}

hb_status hb_pass_memplan(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    (void)opts;
    int *last = hb_malloc(sizeof *last * ((size_t)g->nvalues + 1));
    if (!last)
        return HB_ERR_NOMEM;
    for (int v = 0; v < g->nvalues; v++) {
        last[v] = -1;
        g->values[v].offset = -1;
        g->values[v].alias = -1;
    }
    int direct = updates_in_place(g);
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].ninputs; j++)
            last[g->nodes[i].inputs[j]] = i;
    if (g->cond >= 0) /* a loop body's cond is read after the last node: keep it to the end */
        last[g->cond] = g->nnodes;

    arena a = {0};
    int64_t unplanned = 0;
    int inplace = 0;
    hb_status st = HB_OK;
    for (int i = 0; i < g->nnodes && st == HB_OK; i++) {
        hb_node *n = &g->nodes[i];
        hb_value *out = &g->values[n->output];
        hb_value *in0 = n->ninputs ? &g->values[n->inputs[0]] : NULL;
        bool reuse = false;
        if (n->output != g->output && out->alias < 0) {
            int64_t size = bytes_of(out);
            unplanned += size;
            reuse = (hb_op_table[n->op].flags & HB_INPL) && in0 && in0->offset >= 0 &&
                    last[n->inputs[0]] == i && bytes_of(in0) == size &&
                    hb_shape_equal(&in0->shape, &out->shape);
            if (reuse) {
                out->offset = in0->offset; /* the input dies here: write over it */
                inplace++;
            } else {
                out->offset = take(&a, size);
            }
        }
        /* Inputs whose last reader this is go back to the pool (once, if read twice). */
        for (int j = 0; j < n->ninputs; j++) {
            int v = n->inputs[j];
            bool first = true;
            for (int k = 0; k < j; k++)
                first = first && n->inputs[k] != v;
            if (!first || last[v] != i || g->values[v].offset < 0 || (reuse && j == 0) ||
                g->values[v].kind != HB_VAL_NODE)
                continue;
            if (!give(&a, g->values[v].offset, bytes_of(&g->values[v])))
                st = HB_ERR_NOMEM;
        }
        /* A result nobody reads (an island kept for its effects) is free at once. */
        if (st == HB_OK && out->offset >= 0 && last[n->output] < 0 && !reuse)
            if (!give(&a, out->offset, bytes_of(out)))
                st = HB_ERR_NOMEM;
    }
    stats->bytes = a.end;
    stats->bytes2 = unplanned;
    snprintf(stats->note, sizeof stats->note,
             "arena %lld bytes (%lld without reuse), %d results written in place%s",
             (long long)a.end, (long long)unplanned, inplace, "");
    if (direct)
        snprintf(stats->note + strlen(stats->note), sizeof stats->note - strlen(stats->note),
                 ", %d updates into their parameter or state", direct);
    hb_free(a.free);
    hb_free(last);
    return st;
}

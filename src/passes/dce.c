/* Dead-code elimination: a node stays if the returned value depends on it, or if it is
 * opaque (an island runs a block, whose effects the graph cannot see). Values nothing uses
 * any more go too, and the survivors are renumbered in order. */
#include "pass.h"

#include <string.h>

hb_status hb_pass_dce(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats)
{
    (void)opts;
    bool *live = hb_calloc((size_t)g->nvalues + 1, sizeof *live);
    bool *keep = hb_graph_live_nodes(g);
    int *renum = hb_malloc(sizeof *renum * ((size_t)g->nvalues + 1));
    if (!live || !keep || !renum) {
        hb_free(live), hb_free(keep), hb_free(renum);
        return HB_ERR_NOMEM;
    }
    live[g->output] = true;
    if (g->cond >= 0)
        live[g->cond] = true;
    for (int v = 0; v < g->nvalues; v++) /* the signature keeps its inputs even if unused */
        live[v] = live[v] || g->values[v].kind == HB_VAL_INPUT;
    for (int i = 0; i < g->nnodes; i++)
        if (keep[i]) {
            live[g->nodes[i].output] = true;
            for (int j = 0; j < g->nodes[i].ninputs; j++)
                live[g->nodes[i].inputs[j]] = true;
        }
    /* Compact values, then nodes, keeping their order. */
    int nv = 0;
    for (int v = 0; v < g->nvalues; v++) {
        renum[v] = live[v] ? nv : -1;
        if (live[v])
            g->values[nv++] = g->values[v];
        else {
            if (g->values[v].drop)
                g->values[v].drop(g->values[v].keep);
            hb_free(g->values[v].name);
        }
    }
    int nn = 0, removed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        hb_node *n = &g->nodes[i];
        if (!keep[i]) {
            hb_free(n->inputs), hb_free(n->path), hb_free(n->reason), hb_free(n->prog);
            removed++;
            continue;
        }
        for (int j = 0; j < n->ninputs; j++)
            n->inputs[j] = renum[n->inputs[j]];
        n->output = renum[n->output];
        g->values[n->output].node = nn;
        g->nodes[nn++] = *n; /* attrs.prog still points at n->prog, which moves with it */
    }
    g->nvalues = nv, g->nnodes = nn;
    g->output = renum[g->output];
    g->cond = g->cond >= 0 ? renum[g->cond] : -1;
    g->input = g->input >= 0 ? renum[g->input] : -1;
    stats->rewrites = removed;
    snprintf(stats->note, sizeof stats->note, "%d nodes removed", removed);
    hb_free(live), hb_free(keep), hb_free(renum);
    return HB_OK;
}

/* The pass manager: the one ordered list of passes and the loop that runs them. */
#include "pass.h"

#include <string.h>

const hb_pass hb_passes[] = {
    {"dce", hb_pass_dce, "drop nodes whose results nothing returned depends on"},
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

hb_status hb_passes_run(hb_graph *g, hb_pass_stats *stats, const char *dump_after, FILE *dump,
                        char *err, size_t err_size)
{
    bool all = dump_after && strcmp(dump_after, "all") == 0;
    for (int i = 0; i < hb_pass_count; i++) {
        const hb_pass *p = &hb_passes[i];
        stats[i] = (hb_pass_stats){.nodes_before = g->nnodes};
        hb_status st = p->run(g, &stats[i]);
        stats[i].nodes_after = g->nnodes;
        if (st != HB_OK) {
            snprintf(err, err_size, "pass %s failed: %s", p->name, hb_last_error());
            return st;
        }
        char why[512];
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

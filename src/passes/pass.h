/* Passes: rewrites of a traced graph, run in one fixed order from the table in passes.c. Each
 * pass is one file with one entry point; it returns a status and fills its statistics. A pass
 * that cannot prove a rewrite safe leaves the graph alone. */
#ifndef HB_PASSES_PASS_H
#define HB_PASSES_PASS_H

#include "../ir/graph.h"

typedef struct hb_pass_stats {
    int nodes_before, nodes_after;
    int64_t bytes;   /* memplan: arena bytes */
    int64_t bytes2;  /* memplan: bytes of all intermediates without reuse */
    char note[160];  /* one line for explain */
} hb_pass_stats;

typedef hb_status (*hb_pass_fn)(hb_graph *g, hb_pass_stats *stats);

typedef struct hb_pass {
    const char *name;
    hb_pass_fn run;
    const char *about;
} hb_pass;

extern const hb_pass hb_passes[];
extern const int hb_pass_count;

/* The passes in order, in place. After each, the graph is verified; with dump set, the pass
 * named dump_after (or every pass, for "all") prints the graph to dump. stats has room for
 * hb_pass_count entries. */
hb_status hb_passes_run(hb_graph *g, hb_pass_stats *stats, const char *dump_after, FILE *dump,
                        char *err, size_t err_size);
const hb_pass *hb_pass_find(const char *name);

hb_status hb_pass_dce(hb_graph *g, hb_pass_stats *stats);
hb_status hb_pass_memplan(hb_graph *g, hb_pass_stats *stats);

#endif

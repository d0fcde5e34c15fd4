/* The one compile sequence of a traced graph (compile.c): verify, the passes, lowering to a
 * plan, the JIT; or, for a dump, the graph printed along the way instead of a plan. */
#ifndef HB_FRONTEND_COMPILE_H
#define HB_FRONTEND_COMPILE_H

#include "../passes/pass.h"
#include "../runtime/plan.h"
#include "../runtime/weights.h"

typedef struct hb_compile_opts {
    const hb_train_spec *train; /* a training step's backward and updates; NULL: inference */
    bool interpret;             /* fused groups stay interpreted (no JIT) */
    /* Dump instead of lowering: with dump_after NULL the graph as verified, else the passes'
     * dump (a pass's name, or "all": the graph as traced, then after every pass); dot: one
     * Graphviz picture of the graph at the end instead of text. */
    FILE *dump;
    const char *dump_after;
    bool dot;
} hb_compile_opts;

/* What compiling did, for explain. */
typedef struct hb_compile_stats {
    hb_pass_stats passes[HB_PASS_COUNT];
    char jit_note[200]; /* why fused groups run interpreted (empty: the JIT compiled them) */
} hb_compile_stats;

/* Compiles g in place (the graph after passes stays g) into *plan (NULL when dumping). On
 * failure returns the status with the message in err, and *plan NULL; the thread's error is
 * the caller's to set from err (a compile inside a call reports nothing to that call). */
hb_status hb_compile(hb_graph *g, const hb_compile_opts *opts, hb_compile_stats *stats,
                     hb_plan **plan, char *err, size_t err_size);

/* The explain line about p's native code (none for a plan without fused groups). */
void hb_compile_explain_jit(FILE *f, const hb_plan *p, const char *note);
/* The explain line on which GEMM kernels a plan's products and convolutions run, if it has any. */
/* How many of the plan's live weights are in each hb_live_state (weights.h): held, waiting,
 * open, nothing to pack. */
void hb_compile_live_weights(const hb_plan *p, int counts[4]);
void hb_compile_explain_gemm(FILE *f, const hb_plan *p);

#endif

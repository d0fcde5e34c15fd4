/* Passes: rewrites of a traced graph, run in one fixed order from the list in passes.def. Each
 * pass is one file with one entry point; it returns a status and fills its statistics. A pass
 * that cannot prove a rewrite safe leaves the graph alone. Rewrites that make a node's result
 * unused leave the node for dead-code elimination, which runs after them. */
#ifndef HB_PASSES_PASS_H
#define HB_PASSES_PASS_H

#include "../ir/graph.h"

typedef struct hb_pass_stats {
    int nodes_before, nodes_after;
    int rewrites;    /* rules applied, nodes merged, groups fused, nodes folded */
    int64_t bytes;   /* fold: bytes of constants computed; memplan: arena bytes */
    int64_t bytes2;  /* memplan: bytes of all intermediates without reuse */
    char note[160];  /* one line for explain */
} hb_pass_stats;

/* What the passes may assume, and how they compute constants. */
typedef struct hb_pass_opts {
    /* Computes one op on constant inputs (the runtime's kernels, given by the caller, so that
     * passes do not depend on the runtime). */
    void (*eval)(hb_op op, const hb_attrs *at, int n, float *const *in, const hb_shape *shapes,
                 float *out, const hb_shape *out_shape);
    /* A training step (NULL: inference): the autodiff pass differentiates the returned loss. */
    const struct hb_train_spec *train;
} hb_pass_opts;

/* What the autodiff pass needs from whoever asks for a training step: each op's gradient rule
 * and the update of a parameter from its gradient, both appending nodes to the graph. */
typedef struct hb_train_spec {
    void *ctx;
    /* Appends the nodes of node's gradient rule, given the gradient of its result (value
     * grad); for each input i with wants[i], sets in_grads[i] to its gradient's value, or -1
     * if it gets none. Fails (with the error set) for an op with no rule in graphs. */
    hb_status (*vjp)(void *ctx, hb_graph *g, int node, int grad, const bool *wants,
                     int *in_grads);
    /* Appends what a parameter (value param) does with its gradient (value grad): an
     * optimizer's in-place update, or adding into a gradient buffer. */
    hb_status (*update)(void *ctx, hb_graph *g, int param, int grad);
} hb_train_spec;

typedef hb_status (*hb_pass_fn)(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats);

/* The passes, in the order passes.def lists them: HB_PASS_COUNT sizes every array of their
 * statistics, so a pass added to the list cannot overflow one. */
typedef enum hb_pass_id {
#define HB_PASS(NAME, name, about) HB_PASS_##NAME,
#include "passes.def"
#undef HB_PASS
    HB_PASS_COUNT
} hb_pass_id;

/* Each pass's entry point, in its own file: hb_pass_cse is cse.c. */
#define HB_PASS(NAME, name, about) \
    hb_status hb_pass_##name(hb_graph *g, const hb_pass_opts *opts, hb_pass_stats *stats);
#include "passes.def"
#undef HB_PASS

typedef struct hb_pass {
    const char *name;
    hb_pass_fn run;
    const char *about;
} hb_pass;

extern const hb_pass hb_passes[HB_PASS_COUNT];

/* The passes in order, in place. After each, the graph is verified; with dump set, the pass
 * named dump_after (or every pass, for "all") prints the graph to dump. */
hb_status hb_passes_run(hb_graph *g, const hb_pass_opts *opts,
                        hb_pass_stats stats[static HB_PASS_COUNT], const char *dump_after,
                        FILE *dump, char *err, size_t err_size);
const hb_pass *hb_pass_find(const char *name);
/* The passes' names in order, space-separated, into buf (for messages). */
const char *hb_pass_names(char *buf, size_t size);

/* Helpers the passes share (passes.c). */
const hb_node *hb_pass_producer(const hb_graph *g, int value); /* NULL unless a node makes it */
/* The first live node after `after` that reads value (dead ones, left by earlier rewrites,
 * may still name it); -1 if none. */
int hb_pass_user_of(const hb_graph *g, const bool *live, int value, int after);
/* Where value v is made within the nodes [start, end) (a loop's round): its place from start,
 * or -1 if outside. */
int hb_pass_place(const hb_graph *g, int v, int start, int end);

/* An epilogue: the chain of elementwise ops after a product (a GEMM, a convolution), as one
 * program run over the product's output while it is in cache. r0 is the product, r1... the
 * values in extra; results are numbered from 200 until hb_pass_epilogue_install. */
typedef struct hb_epilogue {
    hb_program prog;
    int extra[HB_PROG_MAX_REGS]; /* values read by the program besides the product */
    int nextra;
} hb_epilogue;
/* The register of value v among the epilogue's inputs (adding it), or -1 if full. */
int hb_pass_epilogue_reg(hb_epilogue *e, int v);
bool hb_pass_epilogue_emit(hb_epilogue *e, hb_op op, int a, int b, float scalar);
int hb_pass_epilogue_result(const hb_epilogue *e); /* the last instruction's result register */
/* Takes in the chain of elementwise nodes after node (each intermediate read only by the
 * next; results of node's output shape; other operands those fits() accepts), the product
 * being register chain. Returns how many were taken (-1: out of memory), *last the last. */
int hb_pass_epilogue_absorb(hb_graph *g, int node, hb_epilogue *e, int chain,
                            bool (*fits)(const hb_graph *g, int v, const hb_shape *out,
                                         const void *arg),
                            const void *arg, int *last);
/* Node last becomes op(a, b, extra...) with the program and node's block path; the nodes
 * before it in the chain are left for dead-code elimination. */
bool hb_pass_epilogue_install(hb_graph *g, int node, int last, hb_op op, const hb_attrs *attrs,
                              int a, int b, hb_epilogue *e);


#endif

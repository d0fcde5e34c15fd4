/* Plans: a graph lowered to a flat array of kernel calls over one arena. A plan is immutable
 * once lowered; every thread that runs it brings its own context (the arena and the operands
 * resolved against it), so one plan serves many threads at once. */
#ifndef HB_RUNTIME_PLAN_H
#define HB_RUNTIME_PLAN_H

#include "../ir/graph.h"
#include "kernels.h"


/* Where an operand's data is: in the arena, at a fixed address (parameters, constants), or the
 * call's input or output buffer. */
typedef enum hb_slot_kind { HB_SLOT_ARENA, HB_SLOT_FIXED, HB_SLOT_INPUT, HB_SLOT_OUTPUT } hb_slot_kind;

typedef struct hb_slot {
    hb_slot_kind kind;
    int64_t offset; /* arena */
    float *data;    /* fixed */
    int input;      /* input: which of the call's inputs (a loop body has several) */
    hb_shape shape;
    hb_dtype dtype;
} hb_slot;

typedef struct hb_instr {
    hb_op op;
    hb_kernel_fn kernel;
    hb_attrs attrs;
    int first_operand; /* index into the plan's operand slots: inputs, then the output */
    int ninputs;
    struct hb_plan *body; /* loop, scan: its body, lowered (owned) */
    float *packed;        /* a product over a constant B: B packed once (owned; attrs.packed) */
    struct hb_live_weights *live; /* ... over a live one: kept packed by version (owned) */
} hb_instr;

typedef struct hb_plan_ctx hb_plan_ctx;

typedef struct hb_plan {
    hb_instr *instrs;
    int ninstrs;
    int *operand_slots; /* per instruction: its inputs' slots then its output's */
    int noperands;
    hb_slot *slots;
    int nslots;
    int64_t arena_bytes;
    hb_shape in_shape, out_shape;
    hb_dtype out_dtype;
    int nislands;
    uint64_t id; /* unique among all plans ever lowered: names it in per-thread caches */
    atomic_uint **bumps;    /* versions of the tensors each run writes in place (+2 a run) */
    int nbumps;
    int ninputs;            /* the call's inputs (more than one only for a loop body) */
    int64_t cond_offset;    /* a loop body: where its test lands in the arena; -1 if none */
    bool cond_is_output;    /* ... or it is the body's result itself (a one-element state) */
    hb_dtype cond_dtype;    /* the test's (a comparison of tensors gives bool) */
    /* A scan's body: each context keeps two result rows (this round's and the last, whose
     * state the round reads) and scratch for the rounds' slices of sequences that are not
     * contiguous (seq_bytes each, 64-byte aligned, in input order). */
    bool scan_body;
    int64_t seq_bytes[64], scratch_bytes;
    /* The JIT (jit.c): its code for this plan (NULL: all interpreted), how many fused
     * instructions there are and how many it compiled, and how long that took. */
    void *jit;
    int fused_groups, jit_groups;
    double jit_ms;
} hb_plan;

/* Lowers a graph whose values carry arena offsets (the memplan pass). The plan points into the
 * graph's parameter and constant data, so the graph must outlive it. */
hb_plan *hb_plan_lower(const hb_graph *g, char *err, size_t err_size);
void hb_plan_free(hb_plan *p);

hb_plan_ctx *hb_plan_ctx_new(const hb_plan *p);
void hb_plan_ctx_free(hb_plan_ctx *ctx);
/* Runs the plan: reads in (in_shape), writes out (out_shape); allocates nothing. */
hb_status hb_plan_run(const hb_plan *p, hb_plan_ctx *ctx, const float *in, float *out);
/* The same with several inputs (a loop's body: its carried state, then its invariants). */
hb_status hb_plan_run_n(const hb_plan *p, hb_plan_ctx *ctx, const float *const *ins, float *out);
/* Runs a loop: state = in[0]; do state = body(state, in[1]...) while the body's test holds;
 * the last state goes to out. HB_ERR_STATE if it goes round more than HB_LOOP_MAX times. */
enum { HB_LOOP_MAX = 1 << 24 };
hb_status hb_plan_loop_run(const hb_plan *body, const hb_operand *in, int n, const hb_operand *out);

/* Marks body as a scan's and sizes its scratch for the sequences among the node's inputs in
 * (their shapes and dtypes). */
void hb_plan_scan_scratch(hb_plan *body, const hb_scan_attrs *s, const hb_operand *in);
/* Runs a scan (attrs->scan): in holds the node's inputs, out its flat result. */
hb_status hb_plan_scan_run(const hb_plan *body, const hb_attrs *at, const hb_operand *in, int n,
                           const hb_operand *out);

/* A context for this thread: kept in a small per-thread cache between runs, so a block call
 * that runs a plan takes no lock and allocates nothing for it after the first time. */
hb_plan_ctx *hb_plan_acquire(const hb_plan *p);
void hb_plan_release(const hb_plan *p, hb_plan_ctx *ctx);

#endif

/* Compiling a traced graph, written once for hybridized calls, training steps and dumps:
 * verify, the passes in order, lowering to a plan, then the JIT over its fused groups. */
#include "compile.h"
#include "../runtime/conv.h"
#include "../runtime/sgemm.h"
#include "../runtime/jit.h"
#include "../runtime/weights.h"
#include "frontend.h"

#include <stdlib.h>
#include <string.h>

/* Compiles p's fused groups to native code unless told not to; why not goes to note. A JIT
 * failure is no compile failure: the interpreter runs those groups, and explain says why. */
static void jit(hb_plan *p, bool interpret, char *note, size_t note_size)
{
    note[0] = '\0';
    hb_pending_error pending;
    hb_error_set_aside(&pending);
    if (interpret)
        snprintf(note, note_size, "hybridized with interpret");
    else if (!hb_jit_enabled())
        snprintf(note, note_size, "%s", getenv("HB_JIT") ? "HB_JIT=0" : "built without LLVM");
    else if (hb_jit_plan(p, note, note_size) != HB_OK)
        hb_clear_error();
    hb_error_put_back(&pending);
}

/* The printers set the thread's error; a dump reports it through err like any failure. */
static hb_status printed(hb_status st, char *err, size_t err_size)
{
    if (st != HB_OK)
        snprintf(err, err_size, "%s", hb_last_error());
    return st;
}

hb_status hb_compile(hb_graph *g, const hb_compile_opts *opts, hb_compile_stats *stats,
                     hb_plan **plan, char *err, size_t err_size)
{
    *plan = NULL;
    stats->jit_note[0] = '\0';
    char why[400];
    hb_status st = hb_graph_verify(g, why, sizeof why);
    if (st != HB_OK) {
        snprintf(err, err_size, "the trace is inconsistent: %s", why);
        return st;
    }
    FILE *dump = opts->dump;
    const char *after = opts->dump_after;
    if (dump && !after)
        return printed(opts->dot ? hb_graph_print_dot(dump, g) : hb_graph_print(dump, g), err,
                       err_size);
    if (dump && !opts->dot && strcmp(after, "all") == 0) {
        fprintf(dump, "# as traced\n");
        if ((st = printed(hb_graph_print(dump, g), err, err_size)) != HB_OK)
            return st;
    }
    /* Passes compute constants with the same kernels as everything else. */
    hb_pass_opts pass_opts = {.eval = hb_kernel_eval, .train = opts->train};
    st = hb_passes_run(g, &pass_opts, stats->passes, after, opts->dot ? NULL : dump, err,
                       err_size);
    if (st != HB_OK)
        return st;
    if (dump)
        return opts->dot ? printed(hb_graph_print_dot(dump, g), err, err_size) : HB_OK;
    if (!(*plan = hb_plan_lower(g, err, err_size)))
        /* a verified graph fails to lower only for want of memory, or by a bug here */
        return hb_last_status() == HB_ERR_NOMEM ? HB_ERR_NOMEM : HB_ERR_STATE;
    jit(*plan, opts->interpret, stats->jit_note, sizeof stats->jit_note);
    return HB_OK;
}

void hb_compile_explain_jit(FILE *f, const hb_plan *p, const char *note)
{
    int fused = 0;
    for (int i = 0; i < p->ninstrs; i++)
        fused += p->instrs[i].op == HB_OP_FUSED || p->instrs[i].op == HB_OP_FUSED_REDUCE ||
                 p->instrs[i].op == HB_OP_GEMM || p->instrs[i].op == HB_OP_LINEAR;
    if (!fused)
        return;
    if (note[0])
        fprintf(f, "    jit: %d fused groups and GEMMs interpreted (%s)\n", fused, note);
    else
        fprintf(f,
                "    jit: %d of %d fused groups and GEMMs compiled to native code in %.1f ms%s\n",
                p->jit_groups, p->fused_groups, p->jit_ms,
                p->jit_groups < p->fused_groups ? " (the others: GEMMs with many rows or a "
                                                  "transposed operand, which BLAS runs, or "
                                                  "inputs broadcast in other ways)" : "");
}

/* How many of the plan's convolutions each method runs, in order of first appearance. */
enum { MAX_METHODS = 8 };

static int conv_methods(const hb_plan *p, const char **names, int *counts)
{
    int n = 0;
    for (int i = 0; i < p->ninstrs; i++) {
        const hb_instr *ins = &p->instrs[i];
        if ((ins->op != HB_OP_CONV2D && ins->op != HB_OP_FUSED_CONV) || ins->ninputs < 2)
            continue;
        const int *slot = p->operand_slots + ins->first_operand;
        const char *m = hb_conv_method(&p->slots[slot[0]].shape, &p->slots[slot[1]].shape,
                                       &p->slots[slot[ins->ninputs]].shape, &ins->attrs.win);
        int k = 0;
        while (k < n && strcmp(names[k], m) != 0)
            k++;
        if (k == n && n < MAX_METHODS)
            names[n] = m, counts[n++] = 0;
        counts[k < n ? k : n - 1]++;
    }
    return n;
}

void hb_compile_live_weights(const hb_plan *p, int counts[4])
{
    for (int k = 0; k < 4; k++)
        counts[k] = 0;
    for (int i = 0; i < p->ninstrs; i++)
        if (p->instrs[i].live)
            counts[hb_live_state_of(p->instrs[i].live)]++;
}

void hb_compile_explain_gemm(FILE *f, const hb_plan *p)
{
    int products = 0, packed = 0, convs = 0, live[4];
    hb_compile_live_weights(p, live);
    for (int i = 0; i < p->ninstrs; i++) {
        hb_op op = p->instrs[i].op;
        bool conv = op == HB_OP_CONV2D || op == HB_OP_FUSED_CONV || op == HB_OP_CONV_TRANSPOSE2D;
        products += conv || op == HB_OP_MATMUL || op == HB_OP_LINEAR || op == HB_OP_GEMM;
        packed += !conv && p->instrs[i].packed != NULL;
        convs += conv && p->instrs[i].packed != NULL;
    }
    if (!products)
        return;
    fprintf(f, "    gemm: %s\n", hb_gemm_note());
    const char *names[MAX_METHODS];
    int counts[MAX_METHODS], methods = conv_methods(p, names, counts);
    for (int k = 0; k < methods; k++)
        fprintf(f, "%s%d by %s%s", k == 0 ? "    conv: " : ", ", counts[k], names[k],
                k == methods - 1 ? "\n" : "");
    if (packed)
        fprintf(f, "    gemm: %d constant weight%s packed into the kernels' panels at lowering\n",
                packed, packed == 1 ? "" : "s");
    bool winograd = false;
    for (int k = 0; k < methods; k++)
        winograd = winograd || strncmp(names[k], "Winograd", 8) == 0;
    if (convs)
        fprintf(f, "    gemm: %d convolution%s weights packed into the kernels' strips at "
                   "lowering%s\n",
                convs, convs == 1 ? "'s" : "s'", winograd ? " (Winograd's transformed first)" : "");
    int kept = live[HB_LIVE_HELD] + live[HB_LIVE_WAITING] + live[HB_LIVE_OPEN];
    if (kept)
        fprintf(f, "    gemm: %d live weight%s kept packed while unchanged (by version): %d held, "
                   "%d waiting for a second call with the same values, %d open for writing "
                   "(hb_tensor_data without hb_tensor_written: packed per call)\n",
                kept, kept == 1 ? "" : "s", live[HB_LIVE_HELD], live[HB_LIVE_WAITING],
                live[HB_LIVE_OPEN]);
}

const char *hb_gemm_kernels(void) { return hb_gemm_note(); }

/* Lowering: one instruction per node, each naming the slots of its operands. Values the
 * memory plan placed in the arena get arena slots; parameters, constants and outside tensors
 * get their data's address; the input and the returned value are bound at run time. */
#include "plan.h"
#include "conv.h"
#include "gemm_small.h"
#include "jit.h"
#include "sgemm.h"
#include "weights.h"

#include <stdatomic.h>
#include <string.h>

/* Products and convolutions over a weight: packed now, once, when it is a constant (a frozen
 * plan's weight) — out of memory, it is packed per call as before —, or kept packed by its
 * version when it is read live (weights.c). */
static void pack_weights(const hb_graph *g, const hb_node *n, hb_instr *ins)
{
    if (n->ninputs < 2)
        return;
    const hb_value *a = &g->values[n->inputs[0]], *w = &g->values[n->inputs[1]];
    bool constant = w->kind == HB_VAL_CONST, live = !constant && w->version;
    if ((!constant && !live) || !w->data || w->dtype != HB_F32)
        return;
    if (n->op == HB_OP_CONV2D || n->op == HB_OP_FUSED_CONV) {
        const hb_shape *y = &g->values[n->output].shape;
        if (a->dtype != HB_F32)
            return;
        if (constant)
            ins->packed = hb_conv_pack_weights(&a->shape, &w->shape, y, &n->attrs.win, w->data);
        else
            ins->live = hb_live_conv(w->version, w->data, &a->shape, &w->shape, y, &n->attrs.win);
        ins->attrs.packed = ins->packed;
        return;
    }
    if ((n->op != HB_OP_LINEAR && n->op != HB_OP_MATMUL && n->op != HB_OP_GEMM) ||
        w->shape.ndim != 2)
        return;
    bool trans_b = n->op == HB_OP_LINEAR || (n->op == HB_OP_GEMM && n->attrs.trans_b);
    bool trans_a = n->op == HB_OP_GEMM && n->attrs.trans_a;
    int64_t m = trans_a ? a->shape.dim[1] : hb_matrix_rows(&a->shape);
    int64_t k = w->shape.dim[trans_b ? 1 : 0], cols = w->shape.dim[trans_b ? 0 : 1];
    if (live && trans_b && !trans_a && !hb_sgemm_takes(m, cols) &&
        hb_gemm_small_fits(m, cols, k)) { /* the loops' nt form, faster from Bᵀ (same bits) */
        ins->live = hb_live_transposed(w->version, w->data, cols, k);
        return;
    }
    if (!hb_sgemm_takes(m, cols) || k == 0)
        return;
    if (live) {
        ins->live = hb_live_gemm_b(w->version, w->data, trans_b, cols, k);
        return;
    }
    hb_isa isa = hb_isa_active();
    ins->packed = hb_aligned_alloc(sizeof(float) * hb_sgemm_pack_floats(isa, cols, k));
    if (ins->packed)
        hb_sgemm_pack(isa, trans_b, cols, k, w->data, trans_b ? k : cols, ins->packed);
    ins->attrs.packed = ins->packed;
}

/* A scan body's scratch: a round's slice of each sequence that is not one contiguous run of
 * its input (a slice along an axis after one longer than 1). */
void hb_plan_scan_scratch(hb_plan *body, const hb_scan_attrs *s, const hb_operand *in)
{
    body->scan_body = true;
    body->scratch_bytes = 0;
    for (int64_t j = s->carries; j < s->carries + s->seqs && j < 64; j++) {
        const hb_shape *q = &in[j].shape;
        int64_t outer = 1;
        for (int d = 0; d < s->axis; d++)
            outer *= q->dim[d];
        int64_t numel = hb_shape_numel(q) / q->dim[s->axis] * s->length;
        body->seq_bytes[j] = outer == 1 ? 0
                                        : (numel * (int64_t)hb_dtypes[in[j].dtype].size + 63) /
                                              64 * 64;
        body->scratch_bytes += body->seq_bytes[j];
    }
}

/* The same for a scan node of g. */
static void scan_scratch(const hb_graph *g, const hb_node *n, hb_plan *body)
{
    hb_operand in[64];
    for (int j = 0; j < n->ninputs && j < 64; j++)
        in[j] = (hb_operand){.shape = g->values[n->inputs[j]].shape,
                             .dtype = g->values[n->inputs[j]].dtype};
    hb_plan_scan_scratch(body, &n->attrs.scan, in);
}

/* The plan writes a tensor's values in place (a training step's update): each run says so to
 * the tensor's version, which the plans keeping its packed form read. */
static bool note_write(hb_plan *p, atomic_uint *version)
{
    atomic_uint **grown = hb_realloc(p->bumps, sizeof *grown * (size_t)(p->nbumps + 1));
    if (!grown)
        return false;
    p->bumps = grown;
    p->bumps[p->nbumps++] = version;
    return true;
}

hb_plan *hb_plan_lower(const hb_graph *g, char *err, size_t err_size)
{
    hb_plan *p = hb_calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_size, "out of memory lowering the plan");
        return NULL;
    }
    int extra = 1; /* a copy when the graph returns a value no node computes */
    int nops = 0;
    for (int i = 0; i < g->nnodes; i++)
        nops += g->nodes[i].ninputs + 1;
    p->slots = hb_calloc((size_t)g->nvalues + 1, sizeof *p->slots);
    p->instrs = hb_calloc((size_t)g->nnodes + (size_t)extra, sizeof *p->instrs);
    p->operand_slots = hb_malloc(sizeof *p->operand_slots * ((size_t)nops + 2));
    static atomic_uint_fast64_t next_id = 1;
    p->id = atomic_fetch_add(&next_id, 1);
    if (!p->slots || !p->instrs || !p->operand_slots) {
        hb_free(p->slots), hb_free(p->instrs), hb_free(p->operand_slots), hb_free(p);
        snprintf(err, err_size, "out of memory lowering the plan");
        return NULL;
    }
    p->nslots = g->nvalues + 1;
    for (int v = 0; v < g->nvalues; v++) {
        const hb_value *val = &g->values[v];
        hb_slot *s = &p->slots[v];
        s->shape = val->shape;
        s->dtype = val->dtype;
        if (v == g->output && val->kind == HB_VAL_NODE)
            s->kind = HB_SLOT_OUTPUT;
        else if (val->kind == HB_VAL_INPUT)
            s->kind = HB_SLOT_INPUT, s->input = p->ninputs++;
        else if (val->kind == HB_VAL_NODE && val->alias >= 0) { /* an update, in place */
            s->kind = HB_SLOT_FIXED, s->data = g->values[val->alias].data;
            if (g->values[val->alias].version && !note_write(p, g->values[val->alias].version)) {
                snprintf(err, err_size, "out of memory lowering the plan");
                hb_plan_free(p);
                return NULL;
            }
        }
        else if (val->kind == HB_VAL_NODE)
            s->kind = HB_SLOT_ARENA, s->offset = val->offset;
        else
            s->kind = HB_SLOT_FIXED, s->data = val->data;
        if ((s->kind == HB_SLOT_FIXED && !s->data && hb_shape_numel(&val->shape) > 0) ||
            (s->kind == HB_SLOT_ARENA && val->offset < 0)) {
            snprintf(err, err_size, "value %%%d (%s) has no %s", v, val->name ? val->name : "",
                     s->kind == HB_SLOT_FIXED ? "data (a graph read from text cannot run)"
                                              : "place in the arena (run memplan first)");
            hb_plan_free(p);
            return NULL;
        }
    }
    /* The returned value as the output of a copy, if no node writes it. */
    const hb_value *ret = &g->values[g->output];
    bool copy_out = ret->kind != HB_VAL_NODE;
    if (copy_out)
        p->slots[g->nvalues] = (hb_slot){.kind = HB_SLOT_OUTPUT, .shape = ret->shape,
                                          .dtype = ret->dtype};
    for (int i = 0; i < g->nnodes; i++) {
        const hb_node *n = &g->nodes[i];
        hb_instr *ins = &p->instrs[p->ninstrs++];
        *ins = (hb_instr){.op = n->op, .kernel = hb_kernels[n->op], .attrs = n->attrs,
                          .first_operand = p->noperands, .ninputs = n->ninputs};
        if ((n->op == HB_OP_LOOP || n->op == HB_OP_SCAN) &&
            !(ins->body = hb_plan_lower(n->body, err, err_size))) {
            hb_plan_free(p);
            return NULL;
        }
        if (n->op == HB_OP_SCAN)
            scan_scratch(g, n, ins->body);
        pack_weights(g, n, ins);
        for (int j = 0; j < n->ninputs; j++)
            p->operand_slots[p->noperands++] = n->inputs[j];
        p->operand_slots[p->noperands++] = n->output;
        p->nislands += n->op == HB_OP_ISLAND;
    }
    if (copy_out) {
        p->instrs[p->ninstrs++] = (hb_instr){.op = HB_OP_COPY, .kernel = hb_kernels[HB_OP_COPY],
                                             .first_operand = p->noperands, .ninputs = 1};
        p->operand_slots[p->noperands++] = g->output;
        p->operand_slots[p->noperands++] = g->nvalues;
    }
    p->arena_bytes = 0;
    for (int v = 0; v < g->nvalues; v++)
        if (p->slots[v].kind == HB_SLOT_ARENA) {
            int64_t end = p->slots[v].offset + hb_shape_numel(&p->slots[v].shape) *
                                                    (int64_t)hb_dtypes[p->slots[v].dtype].size;
            p->arena_bytes = end > p->arena_bytes ? end : p->arena_bytes;
        }
    p->cond_offset = -1;
    if (g->cond >= 0) {
        p->cond_is_output = g->cond == g->output;
        p->cond_dtype = g->values[g->cond].dtype;
        p->cond_offset = g->values[g->cond].offset;
        if (!p->cond_is_output && p->cond_offset < 0) {
            snprintf(err, err_size, "a loop body's test has no place in the arena");
            hb_plan_free(p);
            return NULL;
        }
    }
    p->in_shape = g->input >= 0 ? g->values[g->input].shape : (hb_shape){0};
    p->out_shape = ret->shape;
    p->out_dtype = ret->dtype;
    return p;
}

void hb_plan_free(hb_plan *p)
{
    if (!p)
        return;
    hb_jit_release(p); /* before the bodies: each holds its own code */
    for (int i = 0; i < p->ninstrs; i++) {
        hb_plan_free(p->instrs[i].body);
        hb_aligned_free(p->instrs[i].packed);
        hb_live_free(p->instrs[i].live);
    }
    hb_free(p->bumps);
    hb_free(p->slots);
    hb_free(p->instrs);
    hb_free(p->operand_slots);
    hb_free(p);
}

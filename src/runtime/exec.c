/* Running plans: a context holds one thread's arena and every instruction's operands resolved
 * against it, so a run only binds the call's input and output pointers and calls kernels. */
#include "plan.h"

#include <string.h>

struct hb_plan_ctx {
    float *arena;
    hb_operand *operands;     /* per plan operand, data resolved except input/output */
    int *bind_in, *bind_out;  /* operand indices to point at the call's buffers */
    int nbind_in, nbind_out;
};

hb_plan_ctx *hb_plan_ctx_new(const hb_plan *p)
{
    hb_plan_ctx *c = hb_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->arena = hb_aligned_alloc((size_t)p->arena_bytes);
    c->operands = hb_malloc(sizeof *c->operands * ((size_t)p->noperands + 1));
    c->bind_in = hb_malloc(sizeof *c->bind_in * ((size_t)p->noperands + 1));
    c->bind_out = hb_malloc(sizeof *c->bind_out * ((size_t)p->noperands + 1));
    if (!c->arena || !c->operands || !c->bind_in || !c->bind_out) {
        hb_plan_ctx_free(c);
        return NULL;
    }
    for (int i = 0; i < p->noperands; i++) {
        const hb_slot *s = &p->slots[p->operand_slots[i]];
        c->operands[i].shape = s->shape;
        switch (s->kind) {
        case HB_SLOT_ARENA: c->operands[i].data = (float *)((char *)c->arena + s->offset); break;
        case HB_SLOT_FIXED: c->operands[i].data = s->data; break;
        case HB_SLOT_INPUT: c->operands[i].data = NULL, c->bind_in[c->nbind_in++] = i; break;
        case HB_SLOT_OUTPUT: c->operands[i].data = NULL, c->bind_out[c->nbind_out++] = i; break;
        }
    }
    return c;
}

void hb_plan_ctx_free(hb_plan_ctx *c)
{
    if (!c)
        return;
    hb_aligned_free(c->arena);
    hb_free(c->operands);
    hb_free(c->bind_in);
    hb_free(c->bind_out);
    hb_free(c);
}

hb_status hb_plan_run(const hb_plan *p, hb_plan_ctx *c, const float *in, float *out)
{
    for (int i = 0; i < c->nbind_in; i++)
        c->operands[c->bind_in[i]].data = (float *)in; /* kernels never write their inputs */
    for (int i = 0; i < c->nbind_out; i++)
        c->operands[c->bind_out[i]].data = out;
    for (int i = 0; i < p->ninstrs; i++) {
        const hb_instr *ins = &p->instrs[i];
        hb_operand *ops = &c->operands[ins->first_operand];
        if (ins->op == HB_OP_ISLAND) {
            /* An eager block: the one instruction that can fail. */
            hb_clear_error();
            ins->kernel(ops, ins->ninputs, &ops[ins->ninputs], &ins->attrs);
            if (hb_last_status() != HB_OK)
                return hb_last_status();
            continue;
        }
        ins->kernel(ops, ins->ninputs, &ops[ins->ninputs], &ins->attrs);
    }
    return HB_OK;
}

hb_plan_ctx *hb_plan_acquire(hb_plan *p)
{
    hb_plan_ctx *c = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->nidle)
        c = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->lock);
    return c ? c : hb_plan_ctx_new(p);
}

void hb_plan_release(hb_plan *p, hb_plan_ctx *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->nidle == p->cap_idle) {
        int cap = p->cap_idle ? 2 * p->cap_idle : 4;
        hb_plan_ctx **grown = hb_realloc(p->idle, sizeof *grown * (size_t)cap);
        if (grown)
            p->idle = grown, p->cap_idle = cap;
    }
    bool kept = p->nidle < p->cap_idle;
    if (kept)
        p->idle[p->nidle++] = c;
    pthread_mutex_unlock(&p->lock);
    if (!kept)
        hb_plan_ctx_free(c);
}

/* Running plans: a context holds one thread's arena and every instruction's operands resolved
 * against it, so a run only binds the call's input and output pointers and calls kernels. */
#include "plan.h"

#include <pthread.h>
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
        if (ins->op == HB_OP_GUARD) {
            /* The path the trace took must be the path of this call. */
            if ((ops[0].data[0] != 0.0f) != (ins->attrs.scalar != 0.0f))
                return HB_ERR_GUARD;
            continue;
        }
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

/* Per-thread cache of contexts by plan id. A context only points at its own arena and at data
 * the plan's graph keeps, so one whose plan is gone is never used again: a later miss on its
 * slot frees it. Contexts in use (a plan running inside an island of another) are skipped. */
enum { CACHED = 8 };

typedef struct cached_ctx {
    uint64_t plan_id;
    hb_plan_ctx *ctx;
    bool busy;
} cached_ctx;

static _Thread_local cached_ctx cache[CACHED];
static _Thread_local unsigned next_victim;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void free_cache(void *unused)
{
    (void)unused;
    for (int i = 0; i < CACHED; i++) {
        hb_plan_ctx_free(cache[i].ctx);
        cache[i] = (cached_ctx){0};
    }
}

static void make_cache_key(void) { pthread_key_create(&cache_key, free_cache); }

hb_plan_ctx *hb_plan_acquire(const hb_plan *p)
{
    for (int i = 0; i < CACHED; i++)
        if (cache[i].plan_id == p->id && !cache[i].busy) {
            cache[i].busy = true;
            return cache[i].ctx;
        }
    return hb_plan_ctx_new(p);
}

void hb_plan_release(const hb_plan *p, hb_plan_ctx *c)
{
    if (!c)
        return;
    for (int i = 0; i < CACHED; i++)
        if (cache[i].ctx == c) {
            cache[i].busy = false;
            return;
        }
    /* A new context: take a free slot, else evict one that is not in use. */
    for (int tries = 0; tries < CACHED; tries++) {
        cached_ctx *slot = &cache[next_victim++ % CACHED];
        if (slot->busy)
            continue;
        if (!slot->ctx) {
            pthread_once(&cache_once, make_cache_key);
            pthread_setspecific(cache_key, cache);
        }
        hb_plan_ctx_free(slot->ctx);
        *slot = (cached_ctx){p->id, c, false};
        return;
    }
    hb_plan_ctx_free(c);
}

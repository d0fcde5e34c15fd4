/* Running plans: a context holds one thread's arena and every instruction's operands resolved
 * against it, so a run only binds the call's input and output pointers and calls kernels. */
#include "plan.h"

#include <pthread.h>
#include <string.h>

struct hb_plan_ctx {
    float *arena;
    hb_operand *operands;     /* per plan operand, data resolved except input/output */
    int *bind_in, *bind_out;  /* operand indices to point at the call's buffers */
    int *bind_which;          /* for each bind_in entry, which of the call's inputs */
    int nbind_in, nbind_out;
    float *carry[2];          /* a loop body's: its state this round and the next */
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
    c->bind_which = hb_malloc(sizeof *c->bind_which * ((size_t)p->noperands + 1));
    size_t carry = p->cond_offset >= 0 || p->cond_is_output
                       ? hb_dtypes[p->out_dtype].size * (size_t)hb_shape_numel(&p->out_shape)
                       : 0;
    if (carry) {
        c->carry[0] = hb_aligned_alloc(carry);
        c->carry[1] = hb_aligned_alloc(carry);
    }
    if (!c->arena || !c->operands || !c->bind_in || !c->bind_out || !c->bind_which ||
        (carry && (!c->carry[0] || !c->carry[1]))) {
        hb_plan_ctx_free(c);
        return NULL;
    }
    for (int i = 0; i < p->noperands; i++) {
        const hb_slot *s = &p->slots[p->operand_slots[i]];
        c->operands[i].shape = s->shape;
        c->operands[i].dtype = s->dtype;
        switch (s->kind) {
        case HB_SLOT_ARENA: c->operands[i].data = (float *)((char *)c->arena + s->offset); break;
        case HB_SLOT_FIXED: c->operands[i].data = s->data; break;
        case HB_SLOT_INPUT:
            c->operands[i].data = NULL;
            c->bind_which[c->nbind_in] = s->input;
            c->bind_in[c->nbind_in++] = i;
            break;
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
    hb_free(c->bind_which);
    hb_aligned_free(c->carry[0]);
    hb_aligned_free(c->carry[1]);
    hb_free(c->bind_out);
    hb_free(c);
}

hb_status hb_plan_run(const hb_plan *p, hb_plan_ctx *c, const float *in, float *out)
{
    return hb_plan_run_n(p, c, &in, out);
}

hb_status hb_plan_run_n(const hb_plan *p, hb_plan_ctx *c, const float *const *ins, float *out)
{
    for (int i = 0; i < c->nbind_in; i++) /* kernels never write their inputs */
        c->operands[c->bind_in[i]].data = (float *)ins[c->bind_which[i]];
    for (int i = 0; i < c->nbind_out; i++)
        c->operands[c->bind_out[i]].data = out;
    for (int i = 0; i < p->ninstrs; i++) {
        const hb_instr *ins = &p->instrs[i];
        hb_operand *ops = &c->operands[ins->first_operand];
        if (ins->op == HB_OP_GUARD) {
            /* The path the trace took must be the path of this call. */
            if ((hb_dtype_get(ops[0].dtype, ops[0].data, 0) != 0) != (ins->attrs.scalar != 0.0f))
                return HB_ERR_GUARD;
            continue;
        }
        if (ins->op == HB_OP_LOOP) {
            hb_status st = hb_plan_loop_run(ins->body, ops, ins->ninputs, &ops[ins->ninputs]);
            if (st != HB_OK)
                return st;
            continue;
        }
        if (hb_op_table[ins->op].flags & HB_FAILS) {
            /* An eager block, or an index that may be out of range: the instructions that can
             * fail. A failure already pending in an enclosing eager forward is kept: it still
             * fails that forward's call. */
            hb_pending_error pending;
            hb_error_set_aside(&pending);
            ins->kernel(ops, ins->ninputs, &ops[ins->ninputs], &ins->attrs);
            if (hb_last_status() != HB_OK)
                return hb_last_status();
            hb_error_put_back(&pending);
            continue;
        }
        ins->kernel(ops, ins->ninputs, &ops[ins->ninputs], &ins->attrs);
    }
    return HB_OK;
}

hb_status hb_plan_loop_run(const hb_plan *body, const hb_operand *in, int n, const hb_operand *out)
{
    hb_plan_ctx *c = hb_plan_acquire(body);
    if (!c)
        return HB_ERR_NOMEM;
    const float *ins[64];
    for (int i = 0; i < n && i < 64; i++)
        ins[i] = in[i].data;
    size_t bytes = hb_dtypes[out->dtype].size * (size_t)hb_shape_numel(&out->shape);
    hb_status st = HB_OK;
    int k = 0;
    for (long round = 0;; round++) {
        if (round == HB_LOOP_MAX) {
            st = hb_error_set(HB_ERR_STATE, "a loop went round %d times without its test failing",
                              HB_LOOP_MAX);
            break;
        }
        float *next = c->carry[k];
        if ((st = hb_plan_run_n(body, c, ins, next)) != HB_OK)
            break;
        ins[0] = next, k ^= 1; /* the new state is the next round's input */
        const void *test = body->cond_is_output ? (const void *)next
                                                : (const char *)c->arena + body->cond_offset;
        if (hb_dtype_get(body->cond_dtype, test, 0) == 0)
            break;
    }
    if (st == HB_OK)
        memcpy(out->data, ins[0], bytes);
    hb_plan_release(body, c);
    return st;
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

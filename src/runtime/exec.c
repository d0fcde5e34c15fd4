/* Running plans: a context holds one thread's arena and every instruction's operands resolved
 * against it, so a run only binds the call's input and output pointers and calls kernels. */
#include "plan.h"
#include "weights.h"

#include <pthread.h>
#include <string.h>

struct hb_plan_ctx {
    float *arena;
    hb_operand *operands;     /* per plan operand, data resolved except input/output */
    int *bind_in, *bind_out;  /* operand indices to point at the call's buffers */
    int *bind_which;          /* for each bind_in entry, which of the call's inputs */
    int nbind_in, nbind_out;
    float *carry[2];          /* a loop or scan body's: its state this round and the next */
    char *scratch;            /* a scan body's: the rounds' slices of strided sequences */
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
    size_t carry = p->cond_offset >= 0 || p->cond_is_output || p->scan_body
                       ? hb_dtypes[p->out_dtype].size * (size_t)hb_shape_numel(&p->out_shape)
                       : 0;
    if (carry) {
        c->carry[0] = hb_aligned_alloc(carry);
        c->carry[1] = hb_aligned_alloc(carry);
    }
    if (p->scratch_bytes)
        c->scratch = hb_aligned_alloc((size_t)p->scratch_bytes);
    if (!c->arena || !c->operands || !c->bind_in || !c->bind_out || !c->bind_which ||
        (carry && (!c->carry[0] || !c->carry[1])) || (p->scratch_bytes && !c->scratch)) {
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
    hb_aligned_free(c->scratch);
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
        if (ins->op == HB_OP_LOOP || ins->op == HB_OP_SCAN) {
            hb_status st = ins->op == HB_OP_LOOP
                               ? hb_plan_loop_run(ins->body, ops, ins->ninputs, &ops[ins->ninputs])
                               : hb_plan_scan_run(ins->body, &ins->attrs, ops, ins->ninputs,
                                                  &ops[ins->ninputs]);
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
        if (ins->live) { /* its weight's packed form, kept by the plan while it is current */
            hb_attrs at = ins->attrs;
            hb_live_take(ins->live, &at);
            ins->kernel(ops, ins->ninputs, &ops[ins->ninputs], &at);
            hb_live_give(ins->live, &at);
            continue;
        }
        ins->kernel(ops, ins->ninputs, &ops[ins->ninputs], &ins->attrs);
    }
    for (int i = 0; i < p->nbumps; i++)
        atomic_fetch_add(p->bumps[i], 2u);
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

/* Products of a shape's dims before axis (outer) and from it on (inner). */
static void split_at(const hb_shape *s, int axis, int64_t *outer, int64_t *inner)
{
    *outer = 1, *inner = 1;
    for (int d = 0; d < s->ndim; d++)
        *(d < axis ? outer : inner) *= s->dim[d];
}

/* Copies rows of `row` bytes, `rows` of them, from a stride of sstride to one of dstride. */
static void copy_rows(char *dst, int64_t dstride, const char *src, int64_t sstride, int64_t rows,
                      size_t row)
{
    for (int64_t o = 0; o < rows; o++)
        memcpy(dst + o * dstride, src + o * sstride, row);
}

/* Round r: each sequence's slice (in place where it is one run of memory, else gathered into
 * the scratch), the body over it and the last state, then the round's step value into its
 * place in the stack. The result row alternates between the context's two, so a round never
 * writes the state it reads. */
hb_status hb_plan_scan_run(const hb_plan *body, const hb_attrs *at, const hb_operand *in, int n,
                           const hb_operand *out)
{
    const hb_scan_attrs *s = &at->scan;
    if (n > 64)
        return hb_error_set(HB_ERR_ARG, "scan: %d inputs (at most 64)", n);
    hb_plan_ctx *c = hb_plan_acquire(body);
    if (!c)
        return HB_ERR_NOMEM;
    size_t es = hb_dtypes[out->dtype].size;
    const float *ins[64];
    for (int i = 0; i < n; i++)
        ins[i] = in[i].data;
    int64_t state = 0; /* the state's values, ahead of the step value in each result row */
    for (int64_t j = 0; j < s->carries; j++)
        state += hb_shape_numel(&in[j].shape);
    int64_t outer, inner, step = hb_shape_numel(&at->shape);
    split_at(&at->shape, s->stack, &outer, &inner);
    hb_status st = HB_OK;
    const char *row = NULL;
    for (int64_t r = 0; r < s->steps && st == HB_OK; r++) {
        int64_t start = s->start + (s->reverse ? -r : r) * s->length;
        char *scratch = c->scratch;
        for (int64_t j = s->carries; j < s->carries + s->seqs; j++) {
            const hb_operand *q = &in[j];
            size_t qs = hb_dtypes[q->dtype].size;
            int64_t qo, qi;
            split_at(&q->shape, s->axis, &qo, &qi);
            int64_t per = qi / q->shape.dim[s->axis]; /* values per index along the axis */
            const char *from = (const char *)q->data + (size_t)(start * per) * qs;
            if (!body->seq_bytes[j]) {
                ins[j] = (const float *)from;
                continue;
            }
            copy_rows(scratch, (int64_t)((size_t)(s->length * per) * qs), from,
                      (int64_t)((size_t)qi * qs), qo, (size_t)(s->length * per) * qs);
            ins[j] = (const float *)scratch;
            scratch += body->seq_bytes[j];
        }
        float *next = c->carry[r & 1];
        st = hb_plan_run_n(body, c, ins, next);
        row = (const char *)next;
        int64_t at_value = 0;
        for (int64_t j = 0; j < s->carries; j++) { /* the next round's state: this row */
            ins[j] = (const float *)(row + (size_t)at_value * es);
            at_value += hb_shape_numel(&in[j].shape);
        }
        int64_t place = s->reverse ? s->steps - 1 - r : r;
        copy_rows((char *)out->data + (size_t)(place * inner) * es,
                  (int64_t)((size_t)(s->steps * inner) * es), row + (size_t)state * es,
                  (int64_t)((size_t)inner * es), outer, (size_t)inner * es);
    }
    if (st == HB_OK)
        memcpy((char *)out->data + (size_t)(s->steps * step) * es, row, (size_t)state * es);
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

/* Training steps. Eager: the tape, hb_backward and the optimizer's loops. Compiled: the first
 * step for an input shape traces the forward and the loss (the target is a second input of the
 * graph), the autodiff pass appends the backward and the optimizer's update — both written
 * with the eager ops, applied symbolically — and the usual passes make one plan of it all.
 * Later steps bind x and the target and run that plan: it writes the parameters and the
 * optimizer's state in place and returns the loss. */
#include "compile.h"
#include "frontend.h"

#include <string.h>
#if defined(__x86_64__) || defined(__SSE__)
#include <xmmintrin.h>
#endif

enum { MAX_STEP_PLANS = 8 };

/* Without an optimizer, a plan writes each parameter's gradient into a buffer of its own,
 * which the step then adds into the parameter's grad. */
typedef struct grad_out {
    hb_tensor *param, *buf;
} grad_out;

typedef struct step_plan {
    hb_shape x_shape, target_shape;
    hb_graph *graph;
    hb_plan *plan;
    int nodes_traced;
    hb_compile_stats stats;
    grad_out *grads;
    int ngrads, cap_grads;
    long runs, side_exits;
} step_plan;

struct hb_trainer {
    hb_block *block; /* retained */
    hb_loss_kind loss;
    hb_optimizer *opt; /* or NULL: gradients only */
    bool compiled;
    step_plan *plans[MAX_STEP_PLANS];
    int nplans;
    char *eager_reason; /* why compiled steps run eagerly from now on (NULL: they do not) */
    long steps, plan_steps, traces, eager_steps;
    unsigned epoch; /* hb_hybrid_plans_epoch when the plans were made */
};

static const char *const loss_names[] = {"cross-entropy", "mse", "dot"};

static void plan_free(step_plan *e)
{
    if (!e)
        return;
    hb_plan_free(e->plan);
    hb_graph_free(e->graph);
    for (int i = 0; i < e->ngrads; i++)
        hb_tensor_release(e->grads[i].param), hb_tensor_release(e->grads[i].buf);
    hb_free(e->grads);
    hb_free(e);
}

hb_trainer *hb_trainer_new(hb_block *b, hb_loss_kind loss, hb_optimizer *opt, bool compiled)
{
    if (!b)
        return hb_frame_fail(HB_ERR_ARG, "trainer: the block is NULL"), NULL;
    if ((unsigned)loss > HB_LOSS_DOT)
        return hb_frame_fail(HB_ERR_ARG, "trainer: unknown loss kind %d", (int)loss), NULL;
    if (opt && hb_optimizer_block(opt) != b)
        return hb_frame_fail(HB_ERR_ARG, "trainer: the optimizer was made for another block (%s)",
                             hb_optimizer_block(opt)->type),
               NULL;
    hb_trainer *t = hb_calloc(1, sizeof *t);
    if (!t)
        return hb_frame_fail(HB_ERR_NOMEM, "trainer: out of memory"), NULL;
    *t = (hb_trainer){.block = hb_block_retain(b), .loss = loss, .opt = opt,
                      .compiled = compiled};
    hb_hybrid_hooks_install();
    return t;
}

void hb_trainer_free(hb_trainer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nplans; i++)
        plan_free(t->plans[i]);
    hb_free(t->eager_reason);
    hb_block_release(t->block);
    hb_free(t);
}

/* ---- the eager step ------------------------------------------------------------------------ */

static hb_status eager_step(hb_trainer *t, hb_tensor *x, hb_tensor *target, float *loss)
{
    t->eager_steps++;
    if (t->opt)
        hb_block_zero_grad(t->block);
    bool was_on = hb_grad_on;
    hb_grad_enable(true);
    hb_tensor *y = hb_block_call(t->block, x);
    hb_tensor *l = y ? hb_train_loss_of(t->loss, y, target) : NULL;
    hb_grad_enable(was_on);
    /* a loss that reads no trainable parameter has no gradients: the step is its value */
    hb_status st = !l ? hb_last_status() : l->requires_grad ? hb_backward(l, NULL) : HB_OK;
    if (!l || !l->requires_grad)
        hb_grad_clear();
    if (st == HB_OK)
        *loss = l->data[0];
    if (st == HB_OK && t->opt)
        st = hb_optimizer_step(t->opt);
    hb_tensor_release(y), hb_tensor_release(l);
    return st;
}

/* ---- compiling a step ---------------------------------------------------------------------- */

typedef struct compiling {
    hb_trainer *t;
    step_plan *e;
} compiling;

/* The autodiff pass's update: the optimizer's, or a write into a gradient buffer. */
static hb_status update(void *ctx, hb_graph *g, int param, int grad)
{
    compiling *c = ctx;
    /* g->values moves as the update adds values: copy what is needed of the parameter's */
    char name[256], path[300];
    snprintf(name, sizeof name, "%s", g->values[param].name ? g->values[param].name : "");
    snprintf(path, sizeof path, "update %s", name);
    hb_shape shape = g->values[param].shape;
    hb_tensor *p = g->values[param].keep; /* a parameter of the trace: its tensor */
    if (!p || p->data != g->values[param].data)
        return hb_frame_fail(HB_ERR_STATE, "parameter %s has no tensor in this graph", name);
    hb_trace *tr = hb_trace_attach(g, path);
    hb_tensor *gt = tr ? hb_trace_value_tensor(tr, grad) : NULL;
    hb_status st = gt ? HB_OK : HB_ERR_NOMEM;
    if (st == HB_OK && c->t->opt) {
        st = hb_optimizer_emit(c->t->opt, p, gt, name);
    } else if (st == HB_OK) {
        step_plan *e = c->e;
        hb_tensor *buf = hb_tensor_alloc(&shape);
        if (buf && e->ngrads == e->cap_grads) {
            int cap = e->cap_grads ? 2 * e->cap_grads : 8;
            grad_out *grown = hb_realloc(e->grads, sizeof *grown * (size_t)cap);
            if (grown)
                e->grads = grown, e->cap_grads = cap;
        }
        if (!buf || e->ngrads == e->cap_grads) {
            hb_tensor_release(buf);
            st = HB_ERR_NOMEM;
        } else {
            e->grads[e->ngrads++] = (grad_out){hb_tensor_retain(p), buf};
            char label[300];
            snprintf(label, sizeof label, "grad %s", name);
            st = hb_trace_leaf(tr, buf, label, true) ? hb_assign(buf, gt) : HB_ERR_NOMEM;
        }
    }
    hb_tensor_release(gt);
    if (tr && !hb_trace_detach(tr) && st == HB_OK)
        st = HB_ERR_NOMEM;
    if (st == HB_ERR_NOMEM && hb_last_status() == HB_OK)
        hb_frame_fail(st, "out of memory appending the update of %s", name);
    return st;
}

static hb_status count_trainable(void *ctx, const char *name, hb_block *owner, hb_param *p)
{
    (void)name, (void)owner;
    *(int *)ctx += p->trainable;
    return HB_OK;
}

/* An island holding trainable parameters: the graph has no values for them, so the backward
 * would leave them untrained. Writes why into err. */
static bool island_with_params(const hb_graph *g, char *err, size_t err_size)
{
    for (int i = 0; i < g->nnodes; i++) {
        const hb_node *n = &g->nodes[i];
        int trainable = 0;
        if (n->op == HB_OP_ISLAND && n->attrs.callee)
            hb_block_walk(n->attrs.callee, count_trainable, &trainable);
        if (trainable) {
            snprintf(err, err_size, "%s: no gradient through an eager island (%s): its %d "
                     "parameters are not in the graph", n->path, n->reason ? n->reason : "",
                     trainable);
            return true;
        }
    }
    return false;
}

/* Traces the forward and loss on x and target, then compiles it as a training step. NULL with
 * the error set (and in err, for explain); *ran false if the forward or the loss itself
 * failed (the caller's mistake, not the compiler's). */
static step_plan *compile_step(hb_trainer *t, hb_tensor *x, hb_tensor *target, const char *after,
                               FILE *dump, char *err, size_t err_size, bool *ran)
{
    *ran = false;
    hb_saved_consts consts;
    if (!hb_block_consts_save(t->block, &consts)) {
        snprintf(err, err_size, "out of memory starting a trace");
        hb_frame_fail(HB_ERR_NOMEM, "%s", err);
        return NULL;
    }
    step_plan *e = hb_calloc(1, sizeof *e);
    hb_trace *tr = e ? hb_trace_begin(t->block, x, t->block->name ? t->block->name
                                                                  : t->block->type, false)
                     : NULL;
    if (!tr || !hb_trace_leaf(tr, target, "target", false)) {
        if (tr)
            hb_graph_free(hb_trace_end(tr, NULL));
        hb_free(e);
        hb_block_consts_free(&consts);
        snprintf(err, err_size, "out of memory starting a trace");
        hb_frame_fail(HB_ERR_NOMEM, "%s", err);
        return NULL;
    }
    e->x_shape = x->shape, e->target_shape = target->shape;
    bool was_on = hb_grad_on; /* the traced forward is not the caller's to backpropagate */
    hb_grad_on = false;
    hb_tensor *y = hb_block_call_eager(t->block, x, NULL);
    hb_tensor *l = y ? hb_train_loss_of(t->loss, y, target) : NULL;
    hb_grad_on = was_on;
    e->graph = hb_trace_end(tr, l);
    hb_tensor_release(y), hb_tensor_release(l);
    hb_block_consts_restore(&consts);
    if (!e->graph) {
        hb_status st = l ? HB_ERR_NOMEM : hb_last_status();
        snprintf(err, err_size, "%s", l ? "out of memory while tracing" : hb_last_error());
        if (l)
            hb_frame_fail(st, "%s", err);
        plan_free(e);
        return NULL;
    }
    *ran = true;
    e->nodes_traced = e->graph->nnodes;
    compiling c = {t, e};
    hb_train_spec spec = {.ctx = &c, .vjp = hb_graph_vjp, .update = update};
    hb_compile_opts opts = {.train = &spec, .dump = dump, .dump_after = after};
    hb_status st = HB_ERR_UNSUPPORTED;
    if (!island_with_params(e->graph, err, err_size))
        st = hb_compile(e->graph, &opts, &e->stats, &e->plan, err, err_size);
    if (st != HB_OK || dump) {
        if (st != HB_OK)
            hb_frame_fail(st, "%s", err);
        plan_free(e);
        return NULL;
    }
    return e;
}

/* ---- running a step ------------------------------------------------------------------------ */

static hb_status run_plan(hb_trainer *t, step_plan *e, hb_tensor *x, hb_tensor *target,
                          float *loss)
{
    hb_plan_ctx *ctx = hb_plan_acquire(e->plan);
    hb_status st = ctx ? hb_frame_push(t->block, NULL) : HB_ERR_NOMEM;
    if (st == HB_OK) {
        st = hb_plan_run_n(e->plan, ctx, (const float *[]){x->data, target->data}, loss);
        hb_frame_pop();
    }
    hb_plan_release(e->plan, ctx);
    if (st == HB_ERR_GUARD) {
        e->side_exits++;
        return st;
    }
    if (st != HB_OK)
        return hb_last_status() != HB_OK ? hb_last_status()
                                         : hb_frame_fail(st,
                                                         "out of memory running a training step");
    e->runs++;
    t->plan_steps++;
    for (int i = 0; i < e->ngrads; i++) { /* gradients add up, as hb_backward's do */
        hb_tensor *p = e->grads[i].param, *buf = e->grads[i].buf;
        if (!p->grad) {
            if (!(p->grad = hb_tensor_alloc(&p->shape)))
                return hb_frame_fail(HB_ERR_NOMEM, "out of memory for a gradient");
            memcpy(p->grad->data, buf->data, sizeof(float) * (size_t)p->numel);
        } else {
            for (int64_t k = 0; k < p->numel; k++)
                p->grad->data[k] += buf->data[k];
        }
    }
    if (t->opt)
        hb_hybrid_params_updated(t->block); /* frozen inference plans folded the old values */
    return HB_OK;
}

static hb_status compiled_step(hb_trainer *t, hb_tensor *x, hb_tensor *target, float *loss)
{
    unsigned epoch = atomic_load(&hb_hybrid_plans_epoch);
    if (epoch != t->epoch) { /* weights loaded or a mode changed: the plans may be stale */
        for (int i = 0; i < t->nplans; i++)
            plan_free(t->plans[i]);
        t->nplans = 0;
        t->epoch = epoch;
    }
    for (int i = 0; i < t->nplans; i++) {
        step_plan *e = t->plans[i];
        if (!hb_shape_equal(&e->x_shape, &x->shape) ||
            !hb_shape_equal(&e->target_shape, &target->shape))
            continue;
        hb_status st = run_plan(t, e, x, target, loss);
        if (st != HB_ERR_GUARD)
            return st; /* guards come before any write: a side exit changed nothing */
    }
    if (t->nplans == MAX_STEP_PLANS) /* enough shapes and paths compiled: this one is eager */
        return eager_step(t, x, target, loss);
    char err[512];
    bool ran;
    t->traces++;
    step_plan *e = compile_step(t, x, target, NULL, NULL, err, sizeof err, &ran);
    if (!e) {
        /* The forward or the loss failed (the error an eager step gives), or memory ran out */
        if (!ran || hb_last_status() == HB_ERR_NOMEM)
            return hb_last_status();
        t->eager_reason = hb_strdup(err); /* a step that does not compile: eager for good */
        hb_clear_error();
        return eager_step(t, x, target, loss);
    }
    t->plans[t->nplans++] = e;
    hb_status st = run_plan(t, e, x, target, loss);
    /* A guard the plan decides otherwise than the traced eager call did (a test on a value
     * the compiled kernels round differently): this step runs eagerly; nothing was written. */
    return st == HB_ERR_GUARD ? eager_step(t, x, target, loss) : st;
}

/* Denormal numbers are flushed to zero during a step, eager or compiled alike, as
 * TensorFlow's CPU executor does: in training they come from momentum and second moments
 * decaying where gradients are zero (a dead ReLU's weights), carry nothing a float step can
 * use, and cost some hundred cycles each (the seed MLP's updates ran at a fifth of their speed
 * once its momentum buffers had decayed). The caller's setting is restored after the step. */
static unsigned flush_denormals(void)
{
#if defined(__x86_64__) || defined(__SSE__)
    unsigned saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040); /* FTZ: results, DAZ: inputs */
    return saved;
#else
    return 0;
#endif
}

static void restore_denormals(unsigned saved)
{
#if defined(__x86_64__) || defined(__SSE__)
    _mm_setcsr(saved);
#else
    (void)saved;
#endif
}

static hb_status step(hb_trainer *t, hb_tensor *x, hb_tensor *target, float *loss)
{
    t->steps++;
    if (!t->compiled || t->eager_reason)
        return eager_step(t, x, target, loss);
    return compiled_step(t, x, target, loss);
}

hb_status hb_train_step(hb_trainer *t, hb_tensor *x, hb_tensor *target, float *loss)
{
    if (!t || !x || !target || !loss)
        return hb_frame_fail(HB_ERR_ARG, "train_step: %s is NULL",
                             !t ? "the trainer" : !x ? "the input" : !target ? "the target"
                                                                             : "loss");
    if (hb_frame_depth() > 0)
        return hb_frame_fail(HB_ERR_STATE, "train_step: call it outside any block's forward");
    hb_clear_error();
    unsigned saved = flush_denormals();
    hb_status st = step(t, x, target, loss);
    restore_denormals(saved);
    return st;
}

/* ---- what happened ------------------------------------------------------------------------- */

hb_status hb_trainer_explain(hb_trainer *t, FILE *f)
{
    if (!t || !f)
        return hb_frame_fail(HB_ERR_ARG, "trainer_explain: trainer or file is NULL");
    fprintf(f, "training step of %s (%s loss, %s): %ld steps: %ld ran a plan, %ld traced, "
            "%ld ran eagerly\n", t->block->name ? t->block->name : t->block->type,
            loss_names[t->loss], t->opt ? "optimizer update in the step" : "gradients only",
            t->steps, t->plan_steps, t->traces, t->eager_steps);
    if (!t->compiled)
        fprintf(f, "  eager by request\n");
    if (t->eager_reason)
        fprintf(f, "  runs eagerly: %s\n", t->eager_reason);
    for (int i = 0; i < t->nplans; i++) {
        step_plan *e = t->plans[i];
        char xs[96], ts[96];
        int64_t unplanned = e->stats.passes[HB_PASS_MEMPLAN].bytes2;
        fprintf(f, "  plan for input %s, target %s: %d nodes traced (forward and loss), %d "
                "after passes, %d instructions, arena %lld bytes (%lld without reuse); %ld "
                "runs, %ld left at a guard\n", hb_shape_fmt(&e->x_shape, xs, sizeof xs),
                hb_shape_fmt(&e->target_shape, ts, sizeof ts), e->nodes_traced,
                e->graph->nnodes, e->plan->ninstrs, (long long)e->plan->arena_bytes,
                (long long)unplanned, e->runs, e->side_exits);
        for (int p = 0; p < HB_PASS_COUNT; p++)
            fprintf(f, "    pass %s: %s\n", hb_passes[p].name, e->stats.passes[p].note);
        hb_compile_explain_jit(f, e->plan, e->stats.jit_note);
    }
    return HB_OK;
}

hb_status hb_trainer_dump(hb_trainer *t, hb_tensor *x, hb_tensor *target, const char *after,
                          FILE *f)
{
    if (!t || !x || !target || !f)
        return hb_frame_fail(HB_ERR_ARG, "trainer_dump: trainer, input, target or file is NULL");
    if (hb_frame_depth() > 0)
        return hb_frame_fail(HB_ERR_STATE, "trainer_dump: call it outside any block's forward");
    hb_clear_error(); /* the status returned is this dump's */
    char known[256];
    if (after && strcmp(after, "all") != 0 && !hb_pass_find(after))
        return hb_frame_fail(HB_ERR_NAME, "no pass called \"%s\" (passes: %s, or all)", after,
                             hb_pass_names(known, sizeof known));
    char err[512];
    bool ran;
    compile_step(t, x, target, after, f, err, sizeof err, &ran);
    return hb_last_status();
}

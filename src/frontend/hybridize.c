/* Hybridization: a hybridized block's call runs its cached plan for the input's shape, or, on
 * a miss, runs eagerly while the tracer records the graph, then compiles that graph (passes,
 * lowering) into a plan for the next call. A block whose forward reads values on the host
 * runs eagerly for good; inside a parent's plan it is one island instruction. Also here:
 * explain and dump, which report what all this did. */
#include "compile.h"
#include "frontend.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Plans kept per block (across input shapes and paths), and paths compiled per shape. */
enum { MAX_PLANS = 16, MAX_VARIANTS = 8 };

/* One compiled signature: the graph after passes, its plan, and what it took. Counted, so a
 * thread still running a plan keeps it while another evicts it. */
typedef struct plan_entry {
    atomic_int refs;
    hb_shape sig;
    hb_dtype sig_dtype; /* the input's: an int64 input and a float32 one of one shape differ */
    hb_graph *graph;
    hb_plan *plan;
    int nodes_traced;
    hb_compile_stats stats;
    uint64_t last_used;
    atomic_long hits, side_exits; /* runs that finished, runs a guard sent away */
    char *path; /* the guards' expected outcomes in order ("110"): which path this plan is */
    unsigned epoch; /* hb_hybrid_plans_epoch when compiled: a later drop anywhere makes it stale */
} plan_entry;

struct hb_hybrid {
    atomic_bool active;
    bool freeze; /* parameters are constants in the trace: folded, packed, never re-read */
    bool interpret; /* no JIT for this block's plans */
    atomic_bool island;
    char *island_reason, *island_op;
    _Atomic(char *) compile_error; /* a trace that did not compile: the block stays eager */
    pthread_mutex_t lock;
    plan_entry *plans[MAX_PLANS];
    int nplans;
    uint64_t tick;
    atomic_long calls, plan_runs, traces;
    atomic_long side_exits; /* calls whose path no plan had (then traced, or run eagerly) */
    atomic_long over_bound; /* of those, calls run eagerly because MAX_VARIANTS were compiled */
    char last_miss[300];
};

static void entry_release(plan_entry *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1) {
        hb_plan_free(e->plan);
        hb_graph_free(e->graph);
        hb_free(e->path);
        hb_free(e);
    }
}

/* b's hybridization state, made on first need; two threads may race to make it (a block
 * marked as an island from two calls at once): one wins, the other's is freed. */
static hb_hybrid *hybrid_of(hb_block *b)
{
    hb_hybrid *h = __atomic_load_n(&b->hybrid, __ATOMIC_ACQUIRE);
    if (h)
        return h;
    h = hb_calloc(1, sizeof *h);
    if (!h || pthread_mutex_init(&h->lock, NULL)) {
        hb_free(h);
        return NULL;
    }
    hb_hybrid *expected = NULL;
    if (!__atomic_compare_exchange_n(&b->hybrid, &expected, h, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        pthread_mutex_destroy(&h->lock);
        hb_free(h);
        return expected;
    }
    return h;
}

static void hybrid_free(hb_hybrid *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->nplans; i++)
        entry_release(h->plans[i]);
    pthread_mutex_destroy(&h->lock);
    hb_free(h->island_reason), hb_free(h->island_op), hb_free(atomic_load(&h->compile_error));
    hb_free(h);
}

static bool is_island(const hb_block *b) { return b->hybrid && atomic_load(&b->hybrid->island); }

static const char *island_reason(const hb_block *b)
{
    return b->hybrid && b->hybrid->island_reason ? b->hybrid->island_reason : "";
}

/* b's forward read values while tracing: it runs eagerly for good; reason and op for explain. */
static void mark_island(hb_block *b, const char *reason, const char *op)
{
    hb_hybrid *h = hybrid_of(b);
    if (!h)
        return; /* out of memory: it will be found again on the next trace */
    pthread_mutex_lock(&h->lock);
    if (!h->island_reason) {
        h->island_reason = hb_strdup(reason);
        h->island_op = hb_strdup(op ? op : "");
    }
    atomic_store(&h->island, true);
    pthread_mutex_unlock(&h->lock);
}

static void drop_plans(hb_block *b, bool frozen_only)
{
    if (b->hybrid && (!frozen_only || b->hybrid->freeze)) {
        hb_hybrid *h = b->hybrid;
        pthread_mutex_lock(&h->lock);
        for (int i = 0; i < h->nplans; i++)
            entry_release(h->plans[i]);
        h->nplans = 0;
        pthread_mutex_unlock(&h->lock);
    }
    for (int i = 0; i < b->nchildren; i++)
        drop_plans(b->children[i].block, frozen_only);
}

atomic_uint hb_hybrid_plans_epoch;

void hb_hybrid_drop_plans(hb_block *b)
{
    atomic_fetch_add(&hb_hybrid_plans_epoch, 1);
    drop_plans(b, false);
}

static bool set_mode(hb_block *b, bool inference)
{
    bool changed = b->inference != inference;
    b->inference = inference;
    for (int i = 0; i < b->nchildren; i++)
        changed = set_mode(b->children[i].block, inference) || changed;
    return changed;
}

void hb_block_set_training(hb_block *b, bool training)
{
    if (b && set_mode(b, !training))
        hb_hybrid_drop_plans(b); /* traced in the other mode */
}

bool hb_block_is_training(const hb_block *b) { return b && !b->inference; }

/* Plans that read parameters as inputs see new values; frozen ones folded the old ones in. */
void hb_hybrid_params_updated(hb_block *b) { drop_plans(b, true); }

/* ---- islands: eager blocks called from a plan --------------------------------------------- */

/* The path from `from` down to `to` ("0/net/2"), so an island's errors name where it is. */
static bool path_to(const hb_block *from, const hb_block *to, char *buf, size_t size)
{
    for (int i = 0; i < from->nchildren; i++) {
        const hb_child *c = &from->children[i];
        size_t len = strlen(c->key);
        if (len + 2 > size)
            continue;
        memcpy(buf, c->key, len);
        buf[len] = '\0';
        if (c->block == to)
            return true;
        buf[len] = '/';
        if (path_to(c->block, to, buf + len + 1, size - len - 1))
            return true;
    }
    return false;
}

static void run_island(void *callee, const hb_operand *in, const hb_operand *out)
{
    hb_block *b = callee;
    atomic_fetch_add(&b->hybrid->calls, 1);
    hb_frame *top = hb_frame_top();
    char key[256];
    bool found = top && top->block && path_to(top->block, b, key, sizeof key);
    hb_tensor *x = hb_tensor_alloc_typed(&in[0].shape, in[0].dtype);
    if (!x)
        return;
    memcpy(x->data, in[0].data, hb_dtypes[x->dtype].size * (size_t)x->numel);
    hb_tensor *y = hb_block_call_eager(b, x, found ? key : NULL);
    if (y && y->dtype != out->dtype) {
        hb_frame_fail(HB_ERR_ARG, "%s returned %s, but %s when the plan was traced: an eager "
                      "block inside a plan must keep its output dtype", found ? key : b->type,
                      hb_dtype_name(y->dtype), hb_dtype_name(out->dtype));
    } else if (y && !hb_shape_equal(&y->shape, &out->shape)) {
        char a[96], c[96];
        hb_frame_fail(HB_ERR_SHAPE, "%s returned %s, but %s when the plan was traced: an eager "
                      "block inside a plan must keep its output shape", found ? key : b->type,
                      hb_shape_fmt(&y->shape, a, sizeof a), hb_shape_fmt(&out->shape, c, sizeof c));
    } else if (y) { /* a failure inside its forward would have made y NULL (block.c) */
        memcpy(out->data, y->data, hb_dtypes[y->dtype].size * (size_t)y->numel);
    }
    hb_tensor_release(x); /* y belongs to the frame of the plan's call */
}

static int count_guards(const hb_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->nnodes; i++)
        n += g->nodes[i].op == HB_OP_GUARD;
    return n;
}

/* ---- compiling a trace -------------------------------------------------------------------- */

static plan_entry *compile(hb_graph *g, int nodes_traced, bool interpret, char *err,
                           size_t err_size)
{
    plan_entry *e = hb_calloc(1, sizeof *e);
    if (!e) {
        hb_graph_free(g);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    atomic_init(&e->refs, 1);
    e->epoch = atomic_load(&hb_hybrid_plans_epoch);
    e->graph = g;
    e->sig = g->values[g->input].shape;
    e->sig_dtype = g->values[g->input].dtype;
    e->nodes_traced = nodes_traced;
    hb_compile(g, &(hb_compile_opts){.interpret = interpret}, &e->stats, &e->plan, err, err_size);
    int guards = e->plan ? count_guards(g) : 0;
    if (e->plan && (e->path = hb_malloc((size_t)guards + 1))) {
        int k = 0;
        for (int i = 0; i < g->nnodes; i++)
            if (g->nodes[i].op == HB_OP_GUARD)
                e->path[k++] = g->nodes[i].attrs.scalar != 0.0f ? '1' : '0';
        e->path[k] = '\0';
    }
    if (!e->plan || !e->path) {
        entry_release(e);
        return NULL;
    }
    return e;
}

/* Adds a plan (a new signature, or another path through guards for a known one); evicts the
 * least recently used when full. */
static void insert(hb_hybrid *h, plan_entry *e)
{
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < h->nplans; i++)
        if (hb_shape_equal(&h->plans[i]->sig, &e->sig) && h->plans[i]->sig_dtype == e->sig_dtype &&
            strcmp(h->plans[i]->path, e->path) == 0) {
            pthread_mutex_unlock(&h->lock); /* another thread traced this path first */
            entry_release(e);
            return;
        }
    if (h->nplans == MAX_PLANS) {
        int lru = 0;
        for (int i = 1; i < h->nplans; i++)
            if (h->plans[i]->last_used < h->plans[lru]->last_used)
                lru = i;
        entry_release(h->plans[lru]);
        h->plans[lru] = h->plans[--h->nplans];
    }
    e->last_used = ++h->tick;
    h->plans[h->nplans++] = e;
    pthread_mutex_unlock(&h->lock);
}

/* The plans for this input shape, most used first (retained); n is how many. On none,
 * records why the next trace happens. */
static int lookup(hb_hybrid *h, const hb_shape *sig, hb_dtype dtype, plan_entry **found)
{
    int n = 0;
    plan_entry *recent = NULL;
    unsigned epoch = atomic_load(&hb_hybrid_plans_epoch);
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < h->nplans; i++) {
        plan_entry *e = h->plans[i];
        /* Plans are dropped down the tree (a child's mode changed, its weights loaded, an
         * ONNX input rebound), and a parent traced with the child's old state must go too:
         * any drop since this plan was compiled makes it stale. */
        if (e->epoch != epoch) {
            entry_release(e);
            h->plans[i--] = h->plans[--h->nplans];
            continue;
        }
        if (hb_shape_equal(&e->sig, sig) && e->sig_dtype == dtype) {
            int k = n++;
            while (k > 0 && atomic_load(&found[k - 1]->hits) < atomic_load(&e->hits)) {
                found[k] = found[k - 1];
                k--;
            }
            found[k] = e;
            atomic_fetch_add(&e->refs, 1);
            e->last_used = ++h->tick; /* recently used: evicted last */
        }
        if (!recent || e->last_used > recent->last_used)
            recent = e;
    }
    char a[96], c[96];
    if (n == 0 && recent)
        snprintf(h->last_miss, sizeof h->last_miss, "input changed from %s to %s",
                 hb_shape_fmt(&recent->sig, a, sizeof a), hb_shape_fmt(sig, c, sizeof c));
    else if (n == 0)
        snprintf(h->last_miss, sizeof h->last_miss, "first call with input %s",
                 hb_shape_fmt(sig, c, sizeof c));
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* Runs plan e on x: the result, or NULL with *st set (HB_ERR_GUARD: the call took another
 * path than e's trace, and nothing is reported). */
static hb_tensor *run_plan(hb_block *b, plan_entry *e, hb_tensor *x, hb_status *st)
{
    hb_tensor *y = hb_tensor_alloc_typed(&e->plan->out_shape, e->plan->out_dtype);
    hb_plan_ctx *ctx = y ? hb_plan_acquire(e->plan) : NULL;
    *st = ctx ? hb_frame_push(b, NULL) : HB_ERR_NOMEM;
    if (*st == HB_OK) {
        *st = hb_plan_run(e->plan, ctx, x->data, y->data);
        hb_frame_pop();
    }
    hb_plan_release(e->plan, ctx);
    if (*st == HB_OK) {
        atomic_fetch_add(&e->hits, 1);
        atomic_fetch_add(&b->hybrid->plan_runs, 1);
        return hb_frame_adopt(y);
    }
    hb_tensor_release(y);
    if (*st == HB_ERR_GUARD)
        atomic_fetch_add(&e->side_exits, 1);
    else if (hb_last_status() == HB_OK)
        hb_frame_fail(*st, "out of memory running the plan of %s", b->type);
    return NULL;
}

/* Traces b on x (the call runs eagerly) and compiles what was recorded as a new plan. */
static hb_tensor *trace_and_compile(hb_block *b, hb_tensor *x)
{
    hb_hybrid *h = b->hybrid;
    atomic_fetch_add(&h->traces, 1);
    hb_trace *tr = hb_trace_begin(b, x, b->name ? b->name : b->type, h->freeze);
    hb_tensor *y = hb_block_call_eager(b, x, NULL);
    hb_graph *g = tr ? hb_trace_end(tr, y) : NULL;
    if (!y || !g || atomic_load(&h->island)) {
        hb_graph_free(g); /* the call's own result stands; no plan */
        return y;
    }
    char err[512];
    /* Compiling is not the call: its failures are reported by explain, not by this call. */
    hb_pending_error pending;
    hb_error_set_aside(&pending);
    plan_entry *made = compile(g, g->nnodes, h->interpret, err, sizeof err);
    bool out_of_memory = hb_last_status() == HB_ERR_NOMEM;
    hb_clear_error();
    hb_error_put_back(&pending);
    if (!made && out_of_memory)
        return y; /* a passing shortage: the next call traces again */
    if (!made) {
        pthread_mutex_lock(&h->lock);
        char *copy = hb_strdup(err), *none = NULL;
        if (copy && !atomic_compare_exchange_strong(&h->compile_error, &none, copy))
            hb_free(copy);
        pthread_mutex_unlock(&h->lock);
        return y;
    }
    insert(h, made);
    return y;
}

/* The call of a hybridized block outside any trace: plan, trace, or eager. */
static hb_tensor *hybrid_call(hb_block *b, hb_tensor *x)
{
    hb_hybrid *h = b->hybrid;
    atomic_fetch_add(&h->calls, 1);
    if (!atomic_load(&h->active) || atomic_load(&h->island) || atomic_load(&h->compile_error))
        return hb_block_call_eager(b, x, NULL);
    plan_entry *found[MAX_PLANS];
    int n = lookup(h, &x->shape, x->dtype, found);
    hb_tensor *y = NULL;
    hb_status st = HB_ERR_GUARD;
    for (int i = 0; i < n; i++) {
        if (st == HB_ERR_GUARD) /* each plan is one path through the guards: try the next */
            y = run_plan(b, found[i], x, &st);
        entry_release(found[i]);
    }
    if (st != HB_ERR_GUARD)
        return y; /* a plan ran, or failed for real */
    if (n == 0)
        return trace_and_compile(b, x);
    /* Every plan's guards went another way: this input takes a path not compiled yet. */
    atomic_fetch_add(&h->side_exits, 1);
    char c[96];
    pthread_mutex_lock(&h->lock);
    snprintf(h->last_miss, sizeof h->last_miss, "a guard went another way than in the %d "
             "plan%s for input %s", n, n > 1 ? "s" : "", hb_shape_fmt(&x->shape, c, sizeof c));
    pthread_mutex_unlock(&h->lock);
    if (n >= MAX_VARIANTS) {
        atomic_fetch_add(&h->over_bound, 1);
        return hb_block_call_eager(b, x, NULL); /* enough paths compiled: this one stays eager */
    }
    return trace_and_compile(b, x);
}

/* A call of b, which has hybridization state: what hb_block_call runs for it (block.c). */
static hb_tensor *block_call(hb_block *b, hb_tensor *x)
{
    if (hb_tracing && is_island(b)) {
        /* Known to read values: run it as it is, unrecorded, and record one island node. */
        hb_trace_pos first = hb_trace_mark();
        hb_trace *tr = hb_trace_pause();
        hb_tensor *y = hb_block_call_eager(b, x, NULL);
        hb_trace_resume(tr);
        hb_frame_push(b, NULL); /* so the island's path is b's own */
        hb_trace_island(b, first, x, y, island_reason(b), true);
        hb_frame_pop();
        return y;
    }
    if (!hb_tracing && !hb_grad_on) /* a plan records no gradients for hb_backward: eager */
        return hybrid_call(b, x);
    return hb_block_call_eager(b, x, NULL);
}

/* b's forward decided something from values while traced: it runs eagerly from now on, and
 * the trace calls it as one island instead of the nodes it just recorded. */
static void read_values(hb_block *b, const hb_frame *f, hb_tensor *x, hb_tensor *y)
{
    if (!hb_tracing)
        return;
    mark_island(b, f->reason, f->read_op);
    hb_trace_island(b, f->start, x, y, f->reason, false);
}

static const hb_block_hooks block_hooks = {block_call, hb_trace_mark, read_values, hybrid_free};

void hb_hybrid_hooks_install(void)
{
    hb_block_hook = &block_hooks;
    hb_island_hook = run_island;
}

/* ---- public API --------------------------------------------------------------------------- */

hb_status hb_hybridize_with(hb_block *b, bool active, const hb_hybrid_options *opts)
{
    if (!b)
        return hb_frame_fail(HB_ERR_ARG, "hb_hybridize: block is NULL");
    hb_hybrid_hooks_install();
    hb_hybrid *h = hybrid_of(b);
    if (!h)
        return hb_frame_fail(HB_ERR_NOMEM, "out of memory hybridizing %s", b->type);
    bool freeze = opts && opts->freeze, interpret = opts && opts->interpret;
    if (freeze != h->freeze || interpret != h->interpret) { /* plans made otherwise */
        hb_hybrid_drop_plans(b);
        h->freeze = freeze;
        h->interpret = interpret;
    }
    atomic_store(&h->active, active);
    for (int i = 0; i < b->nchildren; i++) {
        hb_status st = hb_hybridize_with(b->children[i].block, active, opts);
        if (st != HB_OK)
            return st;
    }
    return HB_OK;
}

hb_status hb_hybridize(hb_block *b, bool active)
{
    /* Keeps a block's settings: switching hybridization on and off is cheap. */
    hb_hybrid_options opts = {.freeze = b && b->hybrid && b->hybrid->freeze,
                              .interpret = b && b->hybrid && b->hybrid->interpret};
    return hb_hybridize_with(b, active, &opts);
}

static plan_entry *entry_for(hb_block *b, int ndim, const int64_t *shape)
{
    if (!b || !b->hybrid || ndim < 0 || ndim > HB_MAX_DIMS)
        return NULL;
    hb_shape sig = hb_shape_make(ndim, shape);
    plan_entry *e = NULL;
    pthread_mutex_lock(&b->hybrid->lock);
    for (int i = 0; i < b->hybrid->nplans && !e; i++)
        if (hb_shape_equal(&b->hybrid->plans[i]->sig, &sig))
            e = b->hybrid->plans[i];
    pthread_mutex_unlock(&b->hybrid->lock);
    return e;
}

hb_plan *hb_block_plan(hb_block *b, int ndim, const int64_t *shape)
{
    plan_entry *e = entry_for(b, ndim, shape);
    return e ? e->plan : NULL;
}

const hb_graph *hb_block_graph(hb_block *b, int ndim, const int64_t *shape)
{
    plan_entry *e = entry_for(b, ndim, shape);
    return e ? e->graph : NULL;
}

int hb_plan_num_instructions(const hb_plan *p) { return p ? p->ninstrs : -1; }
int64_t hb_plan_arena_bytes(const hb_plan *p) { return p ? p->arena_bytes : -1; }
int hb_graph_num_nodes(const hb_graph *g) { return g ? g->nnodes : -1; }

/* b's graph traced on x (a call that runs eagerly while it records, and leaves the block's
 * constants as they were: a dump or an export changes nothing), or NULL with the error. */
static hb_graph *trace(hb_block *b, hb_tensor *x, bool freeze)
{
    hb_saved_consts consts;
    if (!hb_block_consts_save(b, &consts))
        return hb_frame_fail(HB_ERR_NOMEM, "out of memory starting a trace"), NULL;
    hb_hybrid_hooks_install();
    hb_trace *tr = hb_trace_begin(b, x, b->name ? b->name : b->type, freeze);
    if (!tr) {
        hb_block_consts_free(&consts);
        return hb_frame_fail(HB_ERR_NOMEM, "out of memory starting a trace"), NULL;
    }
    hb_tensor *y = hb_block_call_eager(b, x, NULL);
    hb_graph *g = hb_trace_end(tr, y);
    hb_block_consts_restore(&consts);
    if (hb_frame_depth() == 0)
        hb_tensor_release(y); /* else the caller's frame owns it */
    if (!g && y)
        hb_frame_fail(HB_ERR_NOMEM, "out of memory while tracing");
    return g;
}

hb_graph *hb_hybrid_trace(hb_block *b, hb_tensor *x) { return trace(b, x, false); }

hb_status hb_block_dump(hb_block *b, hb_tensor *x, const char *after, bool dot, FILE *f)
{
    if (!b || !x || !f)
        return hb_frame_fail(HB_ERR_ARG, "hb_block_dump: block, input or file is NULL");
    char known[256];
    if (after && strcmp(after, "all") != 0 && !hb_pass_find(after))
        return hb_frame_fail(HB_ERR_NAME, "no pass called \"%s\" (passes: %s, or all)", after,
                             hb_pass_names(known, sizeof known));
    hb_graph *g = trace(b, x, b->hybrid && b->hybrid->freeze);
    if (!g)
        return hb_last_status();
    hb_compile_stats stats;
    hb_plan *plan; /* none: a dump stops before lowering */
    char err[512];
    hb_status st = hb_compile(g, &(hb_compile_opts){.dump = f, .dump_after = after, .dot = dot},
                              &stats, &plan, err, sizeof err);
    if (st != HB_OK)
        hb_frame_fail(st, "%s", err);
    hb_graph_free(g);
    return st;
}

/* ---- explain ------------------------------------------------------------------------------ */

/* Arena bytes the intermediates would take without reuse: the memory planner's figure. */
static int64_t unplanned_bytes(const plan_entry *e)
{
    return e->stats.passes[HB_PASS_MEMPLAN].bytes2;
}

static plan_entry *latest(hb_hybrid *h)
{
    plan_entry *e = NULL;
    for (int i = 0; h && i < h->nplans; i++)
        if (!e || h->plans[i]->last_used > e->last_used)
            e = h->plans[i];
    return e;
}

static void explain_text(FILE *f, hb_block *b, const char *path)
{
    hb_hybrid *h = b->hybrid;
    char sb[96], ob[96];
    if (h)
        pthread_mutex_lock(&h->lock); /* entries are not evicted while this reads them */
    if (h && (h->nplans || atomic_load(&h->island) || atomic_load(&h->compile_error))) {
        fprintf(f, "%s (%s): %ld calls, %ld traced, %ld ran a plan, %ld took a path no plan "
                "had%s\n", path, b->type, atomic_load(&h->calls), atomic_load(&h->traces),
                atomic_load(&h->plan_runs), atomic_load(&h->side_exits),
                atomic_load(&h->over_bound) ? " (some beyond the paths kept: eager)" : "");
        if (atomic_load(&h->island))
            fprintf(f, "  runs eagerly: %s\n", h->island_reason ? h->island_reason : "");
        if (atomic_load(&h->compile_error))
            fprintf(f, "  runs eagerly: its trace did not compile: %s\n",
                    atomic_load(&h->compile_error));
        for (int i = 0; i < h->nplans; i++) {
            plan_entry *e = h->plans[i];
            /* float32 goes unsaid, as in the text form's shapes; other dtypes are named */
            fprintf(f, "  plan for input %s%s -> %s%s: %d nodes traced, %d after passes, "
                    "%d instructions, arena %lld bytes (%lld without reuse)\n",
                    e->sig_dtype == HB_F32 ? "" : hb_dtypes[e->sig_dtype].text,
                    hb_shape_fmt(&e->sig, sb, sizeof sb),
                    e->plan->out_dtype == HB_F32 ? "" : hb_dtypes[e->plan->out_dtype].text,
                    hb_shape_fmt(&e->plan->out_shape, ob, sizeof ob), e->nodes_traced,
                    e->graph->nnodes, e->plan->ninstrs, (long long)e->plan->arena_bytes,
                    (long long)unplanned_bytes(e));
            int guards = count_guards(e->graph);
            if (guards)
                fprintf(f, "    %d guards (one path through hb_test outcomes, %s): %ld runs went "
                        "through, %ld left at a guard\n", guards, e->path,
                        atomic_load(&e->hits), atomic_load(&e->side_exits));
            for (int p = 0; p < HB_PASS_COUNT; p++)
                fprintf(f, "    pass %s: %s\n", hb_passes[p].name, e->stats.passes[p].note);
            hb_compile_explain_jit(f, e->plan, e->stats.jit_note);
            hb_compile_explain_gemm(f, e->plan);
            for (int n = 0; n < e->graph->nnodes; n++) {
                const hb_node *node = &e->graph->nodes[n];
                if (node->op != HB_OP_LOOP || !node->body)
                    continue;
                fprintf(f, "    lifted loop at %s: each round", node->path);
                for (int k = 0; k < node->body->nnodes; k++)
                    fprintf(f, "%s %s", k ? "," : "", hb_op_table[node->body->nodes[k].op].name);
                fprintf(f, "; goes round while its test holds (%d inputs)\n", node->ninputs);
            }
            for (int n = 0; n < e->graph->nnodes; n++) {
                const hb_node *node = &e->graph->nodes[n];
                if (node->op != HB_OP_SCAN || !node->body)
                    continue;
                const hb_scan_attrs *s = &node->attrs.scan;
                fprintf(f, "    lifted scan at %s: %lld rounds%s, %lld carried value%s, %lld "
                        "sequence%s sliced; each round", node->path, (long long)s->steps,
                        s->reverse ? " (last first)" : "", (long long)s->carries,
                        s->carries == 1 ? "" : "s", (long long)s->seqs, s->seqs == 1 ? "" : "s");
                for (int k = 0; k < node->body->nnodes; k++)
                    fprintf(f, "%s %s", k ? "," : "", hb_op_table[node->body->nodes[k].op].name);
                fputc('\n', f);
            }
            for (int n = 0; n < e->graph->nnodes; n++)
                if (e->graph->nodes[n].op == HB_OP_ISLAND)
                    fprintf(f, "    eager island %s: %s\n", e->graph->nodes[n].path,
                            e->graph->nodes[n].reason);
        }
        if (h->last_miss[0])
            fprintf(f, "  last trace: %s\n", h->last_miss);
    }
    if (h)
        pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < b->nchildren; i++) {
        char child[512];
        snprintf(child, sizeof child, "%s/%s", path, b->children[i].key);
        explain_text(f, b->children[i].block, child);
    }
}

static void add_island(cJSON *list, const char *block, hb_block *callee, const char *reason)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "block", block);
    cJSON_AddStringToObject(o, "op", callee && callee->hybrid && callee->hybrid->island_op
                                         ? callee->hybrid->island_op : "");
    cJSON_AddStringToObject(o, "reason", reason ? reason : "");
    cJSON_AddItemToArray(list, o);
}

static void plans_json(cJSON *list, hb_block *b, const char *path)
{
    hb_hybrid *h = b->hybrid;
    char sb[96];
    if (h)
        pthread_mutex_lock(&h->lock); /* entries are not evicted while this reads them */
    for (int i = 0; h && i < h->nplans; i++) {
        plan_entry *e = h->plans[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "block", path);
        cJSON_AddStringToObject(o, "input", hb_shape_fmt(&e->sig, sb, sizeof sb));
        cJSON_AddStringToObject(o, "input_dtype", hb_dtypes[e->sig_dtype].name);
        cJSON_AddStringToObject(o, "output_dtype", hb_dtypes[e->plan->out_dtype].name);
        cJSON_AddNumberToObject(o, "nodes_traced", e->nodes_traced);
        cJSON_AddNumberToObject(o, "nodes_after_passes", e->graph->nnodes);
        cJSON_AddNumberToObject(o, "plan_instructions", e->plan->ninstrs);
        cJSON_AddNumberToObject(o, "arena_bytes", (double)e->plan->arena_bytes);
        cJSON_AddNumberToObject(o, "guards", count_guards(e->graph));
        cJSON_AddStringToObject(o, "path", e->path); /* expected outcomes: 1 true, 0 false */
        cJSON_AddNumberToObject(o, "runs", (double)atomic_load(&e->hits));
        cJSON_AddNumberToObject(o, "side_exits", (double)atomic_load(&e->side_exits));
        cJSON_AddNumberToObject(o, "fused_groups", e->plan->fused_groups);
        cJSON_AddNumberToObject(o, "jit_groups", e->plan->jit_groups);
        cJSON_AddNumberToObject(o, "jit_ms", e->plan->jit_ms);
        cJSON_AddItemToArray(list, o);
    }
    if (h)
        pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < b->nchildren; i++) {
        char child[512];
        snprintf(child, sizeof child, "%s/%s", path, b->children[i].key);
        plans_json(list, b->children[i].block, child);
    }
}

static char *explain_json(hb_block *b, const char *root)
{
    hb_hybrid *h = b->hybrid;
    if (h)
        pthread_mutex_lock(&h->lock); /* entries are not evicted while this reads them */
    plan_entry *e = latest(h);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "nodes_traced", e ? e->nodes_traced : 0);
    cJSON_AddNumberToObject(o, "nodes_after_passes", e ? e->graph->nnodes : 0);
    cJSON_AddNumberToObject(o, "plan_instructions", e ? e->plan->ninstrs : 0);
    cJSON_AddNumberToObject(o, "arena_bytes", e ? (double)e->plan->arena_bytes : 0);
    cJSON_AddNumberToObject(o, "unplanned_bytes", e ? (double)unplanned_bytes(e) : 0);
    cJSON_AddBoolToObject(o, "compiled", e != NULL);
    cJSON_AddNumberToObject(o, "guards", e ? count_guards(e->graph) : 0);
    int loops = 0, scans = 0;
    for (int n = 0; e && n < e->graph->nnodes; n++) {
        loops += e->graph->nodes[n].op == HB_OP_LOOP;
        scans += e->graph->nodes[n].op == HB_OP_SCAN;
    }
    cJSON_AddNumberToObject(o, "lifted_loops", loops);
    cJSON_AddNumberToObject(o, "lifted_scans", scans);
    cJSON_AddNumberToObject(o, "side_exits", h ? (double)atomic_load(&h->side_exits) : 0);
    cJSON *islands = cJSON_AddArrayToObject(o, "eager_islands");
    if (h && atomic_load(&h->island))
        add_island(islands, root, b, h->island_reason);
    for (int n = 0; e && n < e->graph->nnodes; n++) {
        const hb_node *node = &e->graph->nodes[n];
        if (node->op == HB_OP_ISLAND)
            add_island(islands, node->path, node->attrs.callee, node->reason);
    }
    cJSON *passes = cJSON_AddArrayToObject(o, "passes");
    for (int i = 0; e && i < HB_PASS_COUNT; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "name", hb_passes[i].name);
        cJSON_AddNumberToObject(p, "nodes_before", e->stats.passes[i].nodes_before);
        cJSON_AddNumberToObject(p, "nodes_after", e->stats.passes[i].nodes_after);
        cJSON_AddNumberToObject(p, "rewrites", e->stats.passes[i].rewrites);
        cJSON_AddStringToObject(p, "note", e->stats.passes[i].note);
        cJSON_AddItemToArray(passes, p);
    }
    cJSON_AddBoolToObject(o, "frozen", h && h->freeze);
    cJSON_AddStringToObject(o, "gemm", hb_gemm_kernels());
    int live[4] = {0};
    if (e)
        hb_compile_live_weights(e->plan, live);
    cJSON *lw = cJSON_AddObjectToObject(o, "live_weights");
    cJSON_AddNumberToObject(lw, "held", live[HB_LIVE_HELD]);
    cJSON_AddNumberToObject(lw, "waiting", live[HB_LIVE_WAITING]);
    cJSON_AddNumberToObject(lw, "open", live[HB_LIVE_OPEN]);
    if (h)
        pthread_mutex_unlock(&h->lock);
    plans_json(cJSON_AddArrayToObject(o, "plans"), b, root);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

hb_status hb_block_explain(hb_block *b, FILE *f, bool json)
{
    if (!b || !f)
        return hb_frame_fail(HB_ERR_ARG, "hb_block_explain: block or file is NULL");
    const char *root = b->name ? b->name : b->type;
    if (!json) {
        explain_text(f, b, root);
        return HB_OK;
    }
    char *text = explain_json(b, root);
    if (!text)
        return hb_frame_fail(HB_ERR_NOMEM, "out of memory writing the explanation");
    fprintf(f, "%s\n", text);
    cJSON_free(text);
    return HB_OK;
}

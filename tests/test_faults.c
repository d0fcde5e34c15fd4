/* Allocation failures: hb_alloc_hook fails the Nth allocation, for every N until a run makes
 * fewer than N, across loading weights, tracing, compiling and running chimera (guards, a
 * loop, an eager-island-free plan) and a small ResNet (batch norm folded, fused convolutions),
 * and compiled training steps of the seed MLP and of a small convolutional net (batch norm
 * writing its running statistics). Each failure must come back
 * as a status with a message (never a crash or a wrong result), leave no tensor behind, and
 * leave the block usable: the same calls without the hook give the reference results. Under
 * ./dev check, ASan and LeakSanitizer watch the rest. The number of points swept is printed
 * (docs/RELIABILITY.md records it). The sweeps run interpreted: with the LLVM JIT every one
 * of the ~1,100 runs compiles its plans (100 s instead of 0.3 s, 4 minutes under ASan) for two
 * more allocation points; FAULTS_JIT=1 sweeps with it. FAULT_N=n starts at n and FAULT_BT=1
 * prints where the failed allocation was made (for finding what a failure broke). */
#include "harness.h"
#include "models.h"
#include "../src/common.h"

#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern atomic_long hb_tensors_live; /* the library's count of live tensors (frontend.h) */

static long fail_at, seen;

static bool failing_hook(size_t n)
{
    (void)n;
    bool ok = ++seen != fail_at;
    if (!ok && getenv("FAULT_BT")) { /* addr2line -f -e build/tests/test_faults ADDR */
        void *frames[30];
        backtrace_symbols_fd(frames, backtrace(frames, 30), 2);
    }
    return ok;
}

/* Where a sweep starts: 1, or FAULT_N. */
static long first_n(void)
{
    const char *e = getenv("FAULT_N");
    return e && atol(e) > 0 ? atol(e) : 1;
}

/* Runs work with the Nth allocation failing; returns whether the run reached N (false: the
 * sweep is past the last allocation point). */
static bool with_failure(long n, void (*work)(void *), void *ctx)
{
    fail_at = n, seen = 0;
    hb_alloc_hook = failing_hook;
    work(ctx);
    hb_alloc_hook = NULL;
    return seen >= n;
}

/* A result is the reference, or NULL with a status and a message. */
static void check_outcome(hb_tensor *y, const hb_tensor *want, const char *what, long n)
{
    if (y) {
        ck_assert_msg(test_same_result(y, want), "%s, allocation %ld failed: a wrong result",
                      what, n);
        return;
    }
    ck_assert_msg(hb_last_status() != HB_OK, "%s, allocation %ld failed: NULL without a status",
                  what, n);
    ck_assert_msg(hb_last_error()[0] != '\0', "%s, allocation %ld failed: no message", what, n);
}

/* ---- inference: load, trace, compile, run ------------------------------------------------- */

/* A small ResNet from the library's builder (every block kind, a downsample shortcut, batch
 * norm folded into fused convolutions), in inference mode, from a fixed seed. */
static hb_block *small_resnet(void)
{
    hb_seed(5);
    hb_resnet_config c = {{4, 4, 8, 8}, {1, 1, 1, 1}, 3, 3};
    hb_block *b = hb_resnet_new(&c);
    hb_block_set_training(b, false);
    return b;
}

static hb_block *chimera(void) { return example_model_new("chimera", 0); }

typedef struct sweep_model {
    const char *name;
    hb_block *(*make)(void);
    const char *weights; /* loaded in each run, or NULL */
    int64_t shape[4];
    int ndim;
} sweep_model;

static const sweep_model infer_models[] = {
    {"chimera", chimera, "chimera/weights.safetensors", {2, 20}, 2},
    {"small resnet", small_resnet, NULL, {1, 3, 16, 16}, 4},
};

typedef struct infer_run {
    const sweep_model *m;
    hb_block *net;
    hb_tensor *x, *want;
    long n;
} infer_run;

static void infer_work(void *p)
{
    infer_run *r = p;
    if (r->m->weights) {
        hb_status st = hb_block_load(r->net, data_path(r->m->weights));
        if (st != HB_OK) {
            ck_assert_msg(hb_last_error()[0] != '\0', "load failed without a message");
            return; /* the block keeps its old weights (the load is all or nothing) */
        }
    }
    if (hb_hybridize(r->net, true) != HB_OK)
        return;
    for (int call = 0; call < 3; call++) { /* traces and compiles, then runs the plan */
        hb_tensor *y = hb_block_call(r->net, r->x);
        check_outcome(y, r->want, r->m->name, r->n);
        hb_tensor_release(y);
    }
}

START_TEST(inference_every_allocation)
{
    const sweep_model *m = &infer_models[_i];
    hb_rng rng;
    hb_rng_seed(&rng, 9);
    hb_tensor *x = hb_randn(m->ndim, m->shape, &rng);
    hb_block *eager = m->make(); /* the reference: the same weights, eagerly */
    if (m->weights)
        ck_assert_int_eq(hb_block_load(eager, data_path(m->weights)), HB_OK);
    hb_tensor *want = test_call_ok(eager, x);
    hb_block_release(eager);
    long live = atomic_load(&hb_tensors_live), n = first_n();
    for (;; n++) {
        infer_run r = {m, m->make(), x, want, n};
        ck_assert_ptr_nonnull(r.net);
        bool reached = with_failure(n, infer_work, &r);
        /* still usable: load and call again, no failures */
        if (m->weights)
            ck_assert_int_eq(hb_block_load(r.net, data_path(m->weights)), HB_OK);
        ck_assert_int_eq(hb_hybridize(r.net, true), HB_OK); /* if the failed run never did */
        hb_tensor *y = test_call_ok(r.net, x), *y2 = test_call_ok(r.net, x);
        ck_assert_msg(test_same_result(y, want) && test_same_result(y2, want),
                      "%s: after allocation %ld failed, the block gives wrong results", m->name,
                      n);
        /* and compiles again: running out of memory once does not make it eager for good */
        ck_assert_msg(hb_block_plan(r.net, m->ndim, m->shape) != NULL,
                      "%s: after allocation %ld failed, the block no longer compiles", m->name,
                      n);
        hb_tensor_release(y), hb_tensor_release(y2);
        hb_block_release(r.net);
        ck_assert_msg(atomic_load(&hb_tensors_live) == live,
                      "%s: allocation %ld failed: %ld tensors left behind", m->name, n,
                      atomic_load(&hb_tensors_live) - live);
        if (!reached)
            break;
    }
    fprintf(stderr, "faults: %s (%strace, compile, run): %ld allocation points swept\n", m->name,
            m->weights ? "load, " : "", n - 1);
    ck_assert_int_gt(n, 50);
    hb_tensor_release(x), hb_tensor_release(want);
}
END_TEST

/* ---- a compiled training step ---------------------------------------------------------------- */

typedef struct train_run {
    hb_block *net;
    hb_optimizer *opt;
    hb_tensor *x, *target;
    long n;
} train_run;

static void train_work(void *p)
{
    train_run *r = p;
    hb_trainer *tr = hb_trainer_new(r->net, HB_LOSS_CROSS_ENTROPY, r->opt, true);
    float loss;
    for (int step = 0; tr && step < 2; step++) {
        hb_status st = hb_train_step(tr, r->x, r->target, &loss);
        ck_assert_msg(st == HB_OK || hb_last_error()[0] != '\0',
                      "a step failed without a message (allocation %ld)", r->n);
    }
    hb_trainer_free(tr);
}

/* A small convolutional net in training mode: convolution, batch norm (its running
 * statistics written by the step), ReLU, max pool, global pool, linear. */
static hb_block *small_cnn(void)
{
    hb_seed(6);
    hb_pool2d_options pool = {.kernel = {2, 2}};
    return hb_sequential_of(hb_conv2d_new(3, 4, 3, 3, &(hb_conv2d_options){.padding = {1, 1}}, true),
                            hb_batch_norm2d_new(4, 1e-5f, 0.1f), hb_relu_new(),
                            hb_max_pool2d_new(&pool), hb_global_avg_pool2d_new(),
                            hb_flatten_new(), hb_linear_new(4, 10));
}

static hb_block *mlp(void) { return test_model("mlp"); }

static const sweep_model train_models[] = {
    {"mlp", mlp, NULL, {2, 20}, 2},
    {"small cnn", small_cnn, NULL, {2, 3, 6, 6}, 4},
};

START_TEST(training_step_every_allocation)
{
    const sweep_model *m = &train_models[_i];
    hb_rng rng;
    hb_rng_seed(&rng, 10);
    hb_tensor *x = hb_randn(m->ndim, m->shape, &rng);
    hb_tensor *t = hb_one_hot((int64_t[]){3, 7}, 2, 10);
    long live = atomic_load(&hb_tensors_live), n = first_n();
    for (;; n++) {
        train_run r = {m->make(), NULL, x, t, n};
        hb_optim_options o = hb_optim_defaults(0.1f);
        o.momentum = 0.9f;
        r.opt = hb_optimizer_new(r.net, HB_OPTIM_SGD, &o);
        ck_assert_ptr_nonnull(r.opt);
        bool reached = with_failure(n, train_work, &r);
        /* still usable: a step without failures trains */
        hb_trainer *tr = hb_trainer_new(r.net, HB_LOSS_CROSS_ENTROPY, r.opt, true);
        float loss;
        ck_assert_msg(hb_train_step(tr, x, t, &loss) == HB_OK, "%s, after allocation %ld: %s",
                      m->name, n, hb_last_error());
        hb_trainer_free(tr);
        hb_optimizer_free(r.opt);
        hb_block_release(r.net);
        ck_assert_msg(atomic_load(&hb_tensors_live) == live,
                      "%s: allocation %ld failed: %ld tensors left behind", m->name, n,
                      atomic_load(&hb_tensors_live) - live);
        if (!reached)
            break;
    }
    fprintf(stderr, "faults: %s training step (trace, autodiff, compile, run): %ld allocation "
            "points swept\n", m->name, n - 1);
    ck_assert_int_gt(n, 50);
    hb_tensor_release(x), hb_tensor_release(t);
}
END_TEST

int main(void)
{
    if (!getenv("FAULTS_JIT"))
        setenv("HB_JIT", "0", 1);
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 1200);
    tcase_add_loop_test(tc, inference_every_allocation, 0, 2);
    tcase_add_loop_test(tc, training_step_every_allocation, 0, 2);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

/* Allocation failures: hb_alloc_hook fails the Nth allocation, for every N until a run makes
 * fewer than N, across loading weights, tracing, compiling and running chimera (guards, a
 * loop, an eager-island-free plan) and a compiled training step. Each failure must come back
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

/* ---- chimera: load, trace, compile, run ------------------------------------------------- */

typedef struct chimera_run {
    hb_block *net;
    hb_tensor *x, *want;
    long n;
} chimera_run;

static void chimera_work(void *p)
{
    chimera_run *r = p;
    hb_status st = hb_block_load(r->net, data_path("chimera/weights.safetensors"));
    if (st != HB_OK) {
        ck_assert_msg(hb_last_error()[0] != '\0', "load failed without a message");
        return; /* the block keeps its old weights (the load is all or nothing) */
    }
    if (hb_hybridize(r->net, true) != HB_OK)
        return;
    for (int call = 0; call < 3; call++) { /* traces and compiles, then runs the plan */
        hb_tensor *y = hb_block_call(r->net, r->x);
        check_outcome(y, r->want, "chimera", r->n);
        hb_tensor_release(y);
    }
}

START_TEST(chimera_every_allocation)
{
    hb_tensor *x = test_fixture("chimera", "input.npy");
    hb_block *eager = test_model("chimera"); /* the reference: the same weights, eagerly */
    hb_tensor *want = test_call_ok(eager, x);
    hb_block_release(eager);
    long live = atomic_load(&hb_tensors_live), n = first_n();
    for (;; n++) {
        chimera_run r = {example_model_new("chimera", 0), x, want, n};
        ck_assert_ptr_nonnull(r.net);
        bool reached = with_failure(n, chimera_work, &r);
        /* still usable: load and call again, no failures */
        ck_assert_int_eq(hb_block_load(r.net, data_path("chimera/weights.safetensors")), HB_OK);
        ck_assert_int_eq(hb_hybridize(r.net, true), HB_OK); /* if the failed run never did */
        hb_tensor *y = test_call_ok(r.net, x), *y2 = test_call_ok(r.net, x);
        ck_assert_msg(test_same_result(y, want) && test_same_result(y2, want),
                      "after allocation %ld failed, the block gives wrong results", n);
        /* and compiles again: running out of memory once does not make it eager for good */
        ck_assert_msg(hb_block_plan(r.net, 2, (int64_t[]){2, 20}) != NULL,
                      "after allocation %ld failed, the block no longer compiles", n);
        hb_tensor_release(y), hb_tensor_release(y2);
        hb_block_release(r.net);
        ck_assert_msg(atomic_load(&hb_tensors_live) == live,
                      "allocation %ld failed: %ld tensors left behind", n,
                      atomic_load(&hb_tensors_live) - live);
        if (!reached)
            break;
    }
    fprintf(stderr, "faults: chimera (load, trace, compile, run): %ld allocation points swept\n",
            n - 1);
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

START_TEST(training_step_every_allocation)
{
    hb_tensor *x = test_model_input("mlp");
    hb_tensor *t = hb_one_hot((int64_t[]){3, 7}, 2, 10);
    long live = atomic_load(&hb_tensors_live), n = first_n();
    for (;; n++) {
        train_run r = {test_model("mlp"), NULL, x, t, n};
        hb_optim_options o = hb_optim_defaults(0.1f);
        o.momentum = 0.9f;
        r.opt = hb_optimizer_new(r.net, HB_OPTIM_SGD, &o);
        ck_assert_ptr_nonnull(r.opt);
        bool reached = with_failure(n, train_work, &r);
        /* still usable: a step without failures trains */
        hb_trainer *tr = hb_trainer_new(r.net, HB_LOSS_CROSS_ENTROPY, r.opt, true);
        float loss;
        ck_assert_msg(hb_train_step(tr, x, t, &loss) == HB_OK, "after allocation %ld: %s", n,
                      hb_last_error());
        hb_trainer_free(tr);
        hb_optimizer_free(r.opt);
        hb_block_release(r.net);
        ck_assert_msg(atomic_load(&hb_tensors_live) == live,
                      "allocation %ld failed: %ld tensors left behind", n,
                      atomic_load(&hb_tensors_live) - live);
        if (!reached)
            break;
    }
    fprintf(stderr, "faults: training step (trace, autodiff, compile, run): %ld allocation "
            "points swept\n", n - 1);
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
    tcase_add_test(tc, chimera_every_allocation);
    tcase_add_test(tc, training_step_every_allocation);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

/* The LLVM JIT against the interpreter, in one process: the seed's elementwise chain on 4M
 * floats and the seed MLP at batch 2, each as two hybridized instances — one with
 * .interpret = true — called in alternating rounds (medians); and for every model, how long
 * compiling its plan's fused groups took. Run: build/bench_jit [rounds] */
#include "models.h"
#include "timing.h"
#include "../src/runtime/jit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hb_block *instance(const char *model, bool freeze, bool interpret)
{
    hb_block *net = example_model_new(model, 0);
    if (!net || hb_hybridize_with(net, true, &(hb_hybrid_options){.freeze = freeze,
                                                                   .interpret = interpret})) {
        fprintf(stderr, "bench_jit: %s\n", hb_last_error());
        exit(1);
    }
    return net;
}

/* Microseconds per bare plan run (hb_plan_run on the block's plan: no block call around it). */
static double time_plan(hb_block *net, hb_tensor *x, int calls)
{
    const hb_plan *p = hb_block_plan(net, hb_tensor_ndim(x), hb_tensor_shape(x));
    hb_plan_ctx *ctx = p ? hb_plan_ctx_new(p) : NULL;
    float *out = malloc(sizeof(float) * 4096);
    if (!ctx || !out)
        exit(1);
    double t0 = now_us();
    for (int i = 0; i < calls; i++)
        hb_plan_run(p, ctx, hb_tensor_cdata(x), out);
    double us = (now_us() - t0) / calls;
    hb_plan_ctx_free(ctx);
    free(out);
    return us;
}

/* Microseconds per call over calls calls. */
static double time_calls(hb_block *net, hb_tensor *x, int calls)
{
    double t0 = now_us();
    for (int i = 0; i < calls; i++)
        hb_tensor_release(hb_block_call(net, x));
    return (now_us() - t0) / calls;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 11;
    rounds = rounds < 1 ? 1 : rounds > 101 ? 101 : rounds;
    if (!hb_jit_enabled()) {
        fprintf(stderr, "bench_jit: no JIT here (%s)\n",
                getenv("HB_JIT") ? "HB_JIT=0" : "built without LLVM");
        return 1;
    }
    hb_rng rng;
    hb_rng_seed(&rng, 3);
    struct {
        const char *model;
        bool freeze;
        hb_tensor *x;
        int calls;
    } cases[] = {{"chain", false, hb_rand(HB_SHAPE(4194304), &rng), 1},
                 {"mlp", false, hb_rand(HB_SHAPE(2, 20), &rng), 20000},
                 {"mlp", true, hb_rand(HB_SHAPE(2, 20), &rng), 20000}};
    printf("%-18s %14s %14s %9s   (us, median of %d alternating rounds)\n", "model",
           "interpreted", "jit", "jit/int", rounds);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        hb_block *net[2] = {instance(cases[c].model, cases[c].freeze, true),
                            instance(cases[c].model, cases[c].freeze, false)};
        double *t[2] = {malloc(sizeof(double) * (size_t)rounds),
                        malloc(sizeof(double) * (size_t)rounds)};
        for (int k = 0; k < 2; k++)
            time_calls(net[k], cases[c].x, 2); /* trace, compile, warm */
        for (int bare = 0; bare < 2; bare++) { /* block calls, then bare plan runs */
            for (int r = 0; r < rounds; r++)
                for (int k = 0; k < 2; k++)
                    t[k][r] = bare ? time_plan(net[k], cases[c].x, cases[c].calls)
                                   : time_calls(net[k], cases[c].x, cases[c].calls);
            double a = median(t[0], rounds), b = median(t[1], rounds);
            char name[48];
            snprintf(name, sizeof name, "%s%s, %s", cases[c].model,
                     cases[c].freeze ? " frozen" : "", bare ? "plan run" : "call");
            printf("%-18s %14.2f %14.2f %8.2fx\n", name, a, b, b / a);
        }
        free(t[0]), free(t[1]);
        hb_block_release(net[0]), hb_block_release(net[1]);
        hb_tensor_release(cases[c].x);
    }
    /* compile time: every model's plan, from the first call */
    printf("\n%-14s %7s %8s %12s\n", "model", "fused", "compiled", "compile ms");
    for (int i = 0; i < example_model_count; i++) {
        const model_entry *e = &example_models[i];
        hb_block *net = instance(e->name, false, false);
        hb_tensor *x = example_input(e, 0, 0, &rng);
        int ndim = hb_tensor_ndim(x);
        const int64_t *shape = hb_tensor_shape(x);
        hb_tensor_release(hb_block_call(net, x));
        const hb_plan *p = hb_block_plan(net, ndim, shape);
        if (p)
            printf("%-14s %7d %8d %12.2f\n", e->name, p->fused_groups, p->jit_groups, p->jit_ms);
        else
            printf("%-14s %7s %8s %12s\n", e->name, "-", "-", "(no plan)");
        hb_tensor_release(x);
        hb_block_release(net);
    }
    return 0;
}

/* hybrid against the same models written directly in C, in one process, alternating rounds,
 * medians: the seed MLP (batch 2) and the wide MLP (256×1024→1024→1024) as cblas_sgemm calls
 * plus bias and ReLU loops, and the elementwise chain on 4M floats as one C loop over libm.
 * Also each model's own eager time. Run: build/bench_baselines [rounds] */
#include "bare.h"
#include "models.h"
#include "timing.h"

#include <stdio.h>

typedef struct bench_case {
    const char *model;
    int64_t batch, features;
    int calls;
} bench_case;

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 11;
    rounds = rounds < 1 ? 1 : rounds > 101 ? 101 : rounds;
    bare_threads_init(0); /* OpenBLAS's own count, before hybrid changes it */
    const bench_case cases[] = {{"mlp", 2, 20, 20000}, {"mlp-wide", 256, 1024, 5}, {"chain", 0, 4194304, 1}};
    printf("%-10s %12s %12s %12s %12s %10s %10s\n", "model", "eager us", "compiled", "frozen",
           "bare C", "eager/cmp", "bare/frz");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const bench_case *bc = &cases[c];
        hb_block *net = example_model_new(bc->model, 0);
        hb_block *frozen = example_model_new(bc->model, 0);
        hb_tensor *x = bc->batch ? hb_rand(HB_SHAPE(bc->batch, bc->features), NULL)
                                 : hb_rand(HB_SHAPE(bc->features), NULL);
        hb_hybridize(net, true);
        hb_hybridize_with(frozen, true, &(hb_hybrid_options){.freeze = true});
        hb_tensor_release(hb_block_call(net, x)); /* trace, compile, and set deferred sizes */
        hb_tensor_release(hb_block_call(frozen, x));
        bare_net m = {0};
        if (bc->batch && !bare_net_of(net, bc->batch, &m)) {
            fprintf(stderr, "bench_baselines: %s is not a Sequential of Linear and ReLU\n",
                    bc->model);
            return 1;
        }
        double t[4][101];
        volatile double sink = 0;
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < 4; k++) {
                double t0 = now_us();
                for (int i = 0; i < bc->calls; i++) {
                    if (k == 3) {
                        if (bc->batch)
                            sink += bare_net_run(&m, hb_tensor_cdata(x))[0];
                        else
                            sink += bare_chain(hb_tensor_cdata(x), bc->features);
                        continue;
                    }
                    hb_block *b = k == 2 ? frozen : net;
                    hb_hybridize(b, k != 0);
                    hb_tensor_release(hb_block_call(b, x));
                }
                t[k][r] = (now_us() - t0) / bc->calls;
            }
        }
        (void)sink;
        double med[4];
        for (int k = 0; k < 4; k++)
            med[k] = median(t[k], rounds);
        printf("%-10s %12.2f %12.2f %12.2f %12.2f %9.2fx %9.2fx\n", bc->model, med[0], med[1],
               med[2], med[3], med[0] / med[1], med[3] / med[2]);
        bare_net_free(&m);
        hb_tensor_release(x);
        hb_block_release(net), hb_block_release(frozen);
    }
    printf("(medians of %d alternating rounds; eager and compiled: one hybridized instance\n"
           "switched off and on; frozen: hb_hybridize_with(.freeze = true); bare C: cblas_sgemm\n"
           "and loops, or one libm loop for the chain)\n", rounds);
    return 0;
}

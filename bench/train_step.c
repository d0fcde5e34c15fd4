/* A training step of the seed MLP (Linear(20,256), ReLU, Linear(256,10); cross-entropy, batch
 * 64) run eagerly (tape, hb_backward, the optimizer's loops) and compiled (one plan: forward,
 * backward and the in-place update), for SGD with momentum and for Adam. Each model trains its
 * own copy on the same batches; rounds alternate eager and compiled so that drift on a shared
 * machine hits both alike; medians of rounds. Run: build/bench_train_step [rounds] [batch] */
#include "models.h"
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>

enum { STEPS_PER_ROUND = 200 };

/* Microseconds per step over STEPS_PER_ROUND steps cycling through nb batches. */
static double time_steps(hb_trainer *tr, hb_tensor **xs, hb_tensor **ts, int nb)
{
    float loss;
    double t0 = now_us();
    for (int i = 0; i < STEPS_PER_ROUND; i++)
        if (hb_train_step(tr, xs[i % nb], ts[i % nb], &loss) != HB_OK) {
            fprintf(stderr, "bench_train_step: %s\n", hb_last_error());
            exit(1);
        }
    return (now_us() - t0) / STEPS_PER_ROUND;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    int64_t batch = argc > 2 ? atoll(argv[2]) : 64;
    if (rounds < 1 || batch < 1) {
        fprintf(stderr, "usage: bench_train_step [rounds >= 1] [batch >= 1]\n");
        return 2;
    }
    enum { NB = 8 };
    hb_rng rng;
    hb_rng_seed(&rng, 5);
    hb_tensor *xs[NB], *ts[NB];
    for (int b = 0; b < NB; b++) {
        int64_t labels[4096];
        for (int64_t i = 0; i < batch && i < 4096; i++)
            labels[i] = (int64_t)(hb_rng_uniform(&rng) * 10);
        xs[b] = hb_rand(HB_SHAPE(batch, 20), &rng);
        ts[b] = hb_one_hot(labels, batch, 10);
    }
    printf("training step, seed MLP 20-256-10, cross-entropy, batch %lld: median us per step "
           "over %d rounds of %d steps\n", (long long)batch, rounds, STEPS_PER_ROUND);
    printf("%-22s %10s %10s %8s\n", "optimizer", "eager", "compiled", "ratio");
    const char *names[2] = {"sgd (momentum 0.9)", "adam"};
    for (int k = 0; k < 2; k++) {
        hb_block *net[2];
        hb_optimizer *opt[2];
        hb_trainer *tr[2];
        hb_optim_options o = hb_optim_defaults(k ? 1e-3f : 0.05f);
        o.momentum = k ? 0 : 0.9f;
        for (int m = 0; m < 2; m++) {
            net[m] = example_model_new("mlp", 0);
            hb_tensor_release(hb_block_call(net[m], xs[0])); /* deferred shapes */
            opt[m] = hb_optimizer_new(net[m], k ? HB_OPTIM_ADAM : HB_OPTIM_SGD, &o);
            tr[m] = hb_trainer_new(net[m], HB_LOSS_CROSS_ENTROPY, opt[m], m == 1);
            if (!opt[m] || !tr[m]) {
                fprintf(stderr, "bench_train_step: %s\n", hb_last_error());
                return 1;
            }
            time_steps(tr[m], xs, ts, NB); /* warm up: traces, caches */
        }
        double *t[2] = {malloc(sizeof(double) * (size_t)rounds),
                        malloc(sizeof(double) * (size_t)rounds)};
        for (int r = 0; r < rounds; r++)
            for (int m = 0; m < 2; m++)
                t[m][r] = time_steps(tr[m], xs, ts, NB);
        double eager = median(t[0], rounds), compiled = median(t[1], rounds);
        printf("%-22s %10.1f %10.1f %7.2fx\n", names[k], eager, compiled, eager / compiled);
        for (int m = 0; m < 2; m++) {
            free(t[m]);
            hb_trainer_free(tr[m]);
            hb_optimizer_free(opt[m]);
            hb_block_release(net[m]);
        }
    }
    for (int b = 0; b < NB; b++)
        hb_tensor_release(xs[b]), hb_tensor_release(ts[b]);
    return 0;
}

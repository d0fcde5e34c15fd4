/* Where a call's time goes: dispatch overhead of eager calls, compiled block calls and bare
 * plan runs on a one-op block, and the seed MLP's two GEMMs through hybrid's kernels (via a
 * plan) against the same GEMMs as direct cblas_sgemm calls plus plain bias/ReLU loops.
 * Medians of alternating rounds, one process. Run: OPENBLAS_NUM_THREADS=1 build/bench_dispatch */
#include "timing.h"
#include <hybrid.h>

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ROUNDS = 15 };




static hb_tensor *relu_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    return hb_relu(x);
}

typedef struct mlp_weights {
    const float *w1, *b1, *w2, *b2;
    float *h;
} mlp_weights;

/* The seed MLP as a C programmer would write it against BLAS. */
static void bare_mlp(const mlp_weights *m, const float *x, float *y)
{
    for (int r = 0; r < 2; r++)
        memcpy(m->h + r * 256, m->b1, 256 * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2, 256, 20, 1, x, 20, m->w1, 20, 1,
                m->h, 256);
    for (int i = 0; i < 512; i++)
        m->h[i] = m->h[i] > 0 ? m->h[i] : 0;
    for (int r = 0; r < 2; r++)
        memcpy(y + r * 10, m->b2, 10 * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2, 10, 256, 1, m->h, 256, m->w2, 256, 1,
                y, 10);
}

typedef enum how { CALL, PLAN, BARE } how;

/* Nanoseconds per call over n calls of one kind. */
static double per_call(how kind, hb_block *net, hb_tensor *x, hb_plan *plan, hb_plan_ctx *ctx,
                       const mlp_weights *m, int n)
{
    float out[40]; /* the larger of the two outputs: [2, 20] */
    double t0 = now_ns();
    for (int i = 0; i < n; i++) {
        if (kind == CALL)
            hb_tensor_release(hb_block_call(net, x));
        else if (kind == PLAN)
            hb_plan_run(plan, ctx, hb_tensor_cdata(x), out);
        else
            bare_mlp(m, hb_tensor_cdata(x), out);
    }
    return (now_ns() - t0) / n;
}

int main(void)
{
    hb_block *one = hb_block_new("ReLU", relu_forward);
    hb_block *mlp = hb_sequential_of(hb_linear_new(20, 256), hb_relu_new(), hb_linear_new(256, 10));
    hb_tensor *x = hb_rand(HB_SHAPE(2, 20), NULL);
    /* read-only pointers: hb_tensor_data's would mark the weights open for writing, and the
     * compiled plan would pack them on every call */
    mlp_weights m = {hb_tensor_cdata(hb_block_param(hb_block_child(mlp, "0"), "weight")),
                     hb_tensor_cdata(hb_block_param(hb_block_child(mlp, "0"), "bias")),
                     hb_tensor_cdata(hb_block_param(hb_block_child(mlp, "2"), "weight")),
                     hb_tensor_cdata(hb_block_param(hb_block_child(mlp, "2"), "bias")),
                     malloc(512 * sizeof(float))};
    hb_block *blocks[2] = {one, mlp};
    const char *names[2] = {"one relu [2, 20]", "seed MLP [2, 20]"};
    printf("%-18s %12s %12s %12s %12s\n", "ns per call", "eager", "compiled", "plan_run",
           "bare cblas");
    for (int b = 0; b < 2; b++) {
        hb_block *net = blocks[b];
        hb_hybridize(net, true);
        hb_tensor_release(hb_block_call(net, x));
        hb_plan *plan = hb_block_plan(net, HB_SHAPE(2, 20));
        hb_plan_ctx *ctx = hb_plan_ctx_new(plan);
        int n = b ? 20000 : 200000;
        double t[4][ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            hb_hybridize(net, false);
            t[0][r] = per_call(CALL, net, x, NULL, NULL, NULL, n);
            hb_hybridize(net, true);
            t[1][r] = per_call(CALL, net, x, NULL, NULL, NULL, n);
            t[2][r] = per_call(PLAN, net, x, plan, ctx, NULL, n);
            t[3][r] = b ? per_call(BARE, net, x, NULL, NULL, &m, n) : 0;
        }
        printf("%-18s %12.0f %12.0f %12.0f", names[b], median(t[0], ROUNDS),
               median(t[1], ROUNDS), median(t[2], ROUNDS));
        if (b)
            printf(" %12.0f\n", median(t[3], ROUNDS));
        else
            printf(" %12s\n", "-");
        hb_plan_ctx_free(ctx);
    }
    printf("(medians of %d alternating rounds; OPENBLAS_NUM_THREADS=%s)\n", ROUNDS,
           getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "unset");
    free(m.h);
    hb_tensor_release(x);
    hb_block_release(one);
    hb_block_release(mlp);
    return 0;
}

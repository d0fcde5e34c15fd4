/* hybrid against the same models written directly in C, in one process, alternating rounds,
 * medians: the seed MLP (batch 2) and the wide MLP (256×1024→1024→1024) as cblas_sgemm calls
 * plus bias and ReLU loops, and the elementwise chain on 4M floats as one C loop over libm.
 * Also each model's own eager time. Run: build/bench_baselines [rounds] */
#include "timing.h"
#include "models.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>



static const float *param(hb_block *net, const char *child, const char *name)
{
    return hb_tensor_cdata(hb_block_param(hb_block_child(net, child), name));
}

/* Sequential(Linear, ReLU, Linear) as BLAS calls and loops, the way it is written by hand. */
typedef struct bare_mlp {
    int64_t batch, in, hidden, out;
    const float *w1, *b1, *w2, *b2;
    float *h, *y;
} bare_mlp;

/* OpenBLAS's thread count as the process started: what a program calling cblas_sgemm gets.
 * hybrid lowers the count to one and raises it for large GEMMs only (src/runtime/threads.c),
 * so the bare code sets it back around its own calls, as if hybrid were not there. */
static int bare_threads;

static void run_bare_mlp(const bare_mlp *m, const float *x)
{
    openblas_set_num_threads(bare_threads);
    for (int64_t r = 0; r < m->batch; r++)
        memcpy(m->h + r * m->hidden, m->b1, sizeof(float) * (size_t)m->hidden);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m->batch, (int)m->hidden,
                (int)m->in, 1, x, (int)m->in, m->w1, (int)m->in, 1, m->h, (int)m->hidden);
    for (int64_t i = 0; i < m->batch * m->hidden; i++)
        m->h[i] = m->h[i] > 0 ? m->h[i] : 0;
    for (int64_t r = 0; r < m->batch; r++)
        memcpy(m->y + r * m->out, m->b2, sizeof(float) * (size_t)m->out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m->batch, (int)m->out,
                (int)m->hidden, 1, m->h, (int)m->hidden, m->w2, (int)m->hidden, 1, m->y,
                (int)m->out);
    openblas_set_num_threads(1);
}

static double run_bare_chain(const float *x, int64_t n)
{
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i], y = v * (1.0f / (1.0f + expf(-v)));
        y = 0.5f * y + 1.0f;
        y = y * tanhf(0.79788456f * (y + 0.044715f * y * y * y));
        total += fabsf(y);
    }
    return total;
}

typedef struct bench_case {
    const char *model;
    int64_t batch, features;
    int calls;
} bench_case;

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 11;
    rounds = rounds < 1 ? 1 : rounds > 101 ? 101 : rounds;
    bare_threads = openblas_get_num_threads(); /* before hybrid changes it */
    hb_set_num_threads(bare_threads);          /* hybrid's large GEMMs: the same count */
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
        bare_mlp m = {0};
        if (bc->batch) {
            hb_block *l0 = hb_block_child(net, "0"), *l2 = hb_block_child(net, "2");
            m = (bare_mlp){bc->batch, bc->features, hb_tensor_dim(hb_block_param(l0, "weight"), 0),
                           hb_tensor_dim(hb_block_param(l2, "weight"), 0),
                           param(net, "0", "weight"), param(net, "0", "bias"),
                           param(net, "2", "weight"), param(net, "2", "bias"), NULL, NULL};
            m.h = malloc(sizeof(float) * (size_t)(m.batch * m.hidden));
            m.y = malloc(sizeof(float) * (size_t)(m.batch * m.out));
        }
        double t[4][101];
        volatile double sink = 0;
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < 4; k++) {
                double t0 = now_us();
                for (int i = 0; i < bc->calls; i++) {
                    if (k == 3) {
                        if (bc->batch)
                            run_bare_mlp(&m, hb_tensor_cdata(x));
                        else
                            sink += run_bare_chain(hb_tensor_cdata(x), bc->features);
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
        free(m.h), free(m.y);
        hb_tensor_release(x);
        hb_block_release(net), hb_block_release(frozen);
    }
    printf("(medians of %d alternating rounds; eager and compiled: one hybridized instance\n"
           "switched off and on; frozen: hb_hybridize_with(.freeze = true); bare C: cblas_sgemm\n"
           "and loops, or one libm loop for the chain)\n", rounds);
    return 0;
}

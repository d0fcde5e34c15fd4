/* The benchmark models written directly in C, the way a program without hybrid computes them:
 * a Sequential of Linear and ReLU layers as cblas_sgemm calls (the bias copied into each
 * output row first) and ReLU loops, reading the hybrid model's own weights; the elementwise
 * chain as one loop over libm. Shared by the benchmarks that compare against bare C. */
#ifndef HYBRID_BENCH_BARE_H
#define HYBRID_BENCH_BARE_H

#include <hybrid.h>

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's thread count as a program without hybrid has it: hybrid keeps the process's count
 * at one between its large GEMMs (src/runtime/threads.c), so bare code sets this one around its
 * calls. Read it with bare_threads_init() before hybrid's first GEMM. */
static int bare_threads = 1;

static inline void bare_threads_init(int threads)
{
    bare_threads = threads > 0 ? threads : openblas_get_num_threads();
    hb_set_num_threads(bare_threads); /* hybrid's large GEMMs: the same count */
}

enum { BARE_MAX_LAYERS = 40 };

typedef struct bare_layer {
    const float *w, *b; /* [out, in], [out] */
    int64_t in, out;
    bool relu;          /* a ReLU follows */
} bare_layer;

typedef struct bare_net {
    bare_layer layer[BARE_MAX_LAYERS];
    int n;
    int64_t batch;
    float *buf[2];
} bare_net;

/* The layers of seq (a Sequential of Linear and ReLU, parameters initialized); false if it is
 * anything else. */
static inline bool bare_net_of(hb_block *seq, int64_t batch, bare_net *bn)
{
    *bn = (bare_net){.batch = batch};
    int64_t widest = 0;
    for (int i = 0; i < hb_block_num_children(seq); i++) {
        hb_block *c = hb_block_child_at(seq, i, NULL);
        if (strcmp(hb_block_type(c), "ReLU") == 0 && bn->n > 0) {
            bn->layer[bn->n - 1].relu = true;
            continue;
        }
        hb_tensor *w = hb_block_param(c, "weight"), *b = hb_block_param(c, "bias");
        if (strcmp(hb_block_type(c), "Linear") != 0 || !w || !b || bn->n == BARE_MAX_LAYERS)
            return false;
        bare_layer *l = &bn->layer[bn->n++];
        *l = (bare_layer){hb_tensor_cdata(w), hb_tensor_cdata(b), hb_tensor_dim(w, 1),
                          hb_tensor_dim(w, 0), false};
        widest = l->out > widest ? l->out : widest;
    }
    bn->buf[0] = malloc(sizeof(float) * (size_t)(batch * widest));
    bn->buf[1] = malloc(sizeof(float) * (size_t)(batch * widest));
    return bn->n > 0 && bn->buf[0] && bn->buf[1];
}

static inline void bare_net_free(bare_net *bn) { free(bn->buf[0]), free(bn->buf[1]); }

/* Runs the layers on x [batch, in]; the result [batch, out] (in bn's buffers). */
static inline const float *bare_net_run(bare_net *bn, const float *x)
{
    openblas_set_num_threads(bare_threads);
    const float *in = x;
    for (int k = 0; k < bn->n; k++) {
        const bare_layer *l = &bn->layer[k];
        float *out = bn->buf[k % 2];
        for (int64_t r = 0; r < bn->batch; r++)
            memcpy(out + r * l->out, l->b, sizeof(float) * (size_t)l->out);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bn->batch, (int)l->out,
                    (int)l->in, 1, in, (int)l->in, l->w, (int)l->in, 1, out, (int)l->out);
        for (int64_t i = 0; l->relu && i < bn->batch * l->out; i++)
            out[i] = out[i] > 0 ? out[i] : 0;
        in = out;
    }
    openblas_set_num_threads(1);
    return in;
}

/* The seed's chain, y = x·sigmoid(x); y = 0.5y + 1; y = y·tanh(0.79788456(y + 0.044715y³)),
 * summed as |y|, with libm. */
static inline double bare_chain(const float *x, int64_t n)
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

#endif

/* hybrid's side of `./dev bench` (bench/compare_torch.py is PyTorch's): the comparison cases,
 * each column timed in rounds that alternate between the columns so that drift on a shared
 * machine hits all alike, medians; plus the machine's limits (memory bandwidth, GEMM peak).
 * One JSON object per line goes to --json (appended: `./dev bench` runs this several times,
 * between PyTorch runs); a progress line per case goes to stderr.
 *
 * Columns: hybrid eager; hybrid compiled (the plan, with the LLVM JIT when built); the same
 * plan interpreted (.interpret); hybrid frozen (.freeze: weights folded and packed, as
 * torch.jit.freeze does; inference only); bare C (cblas_sgemm and loops over the same weights,
 * or one libm loop for the chain). Run: build/bench_compare [--rounds R] [--threads N] [--json F]
 * [--case KEY,...] (those cases only). */
#include "bare.h"
#include "models.h"
#include "peak.h"
#include "timing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_ROUNDS = 101, COLUMNS = 5, NETS = 4, FROZEN = 3, BARE = 4, ROUND_US = 20000 };

static const char *const column_names[COLUMNS] = {"hybrid eager", "hybrid compiled",
                                                  "hybrid interpreted", "hybrid frozen", "bare C"};

typedef struct bench_case {
    const char *key, *title, *model;
    int64_t shape[4];
    int ndim;
    bool train; /* a training step (SGD with momentum, cross-entropy) instead of a call */
} bench_case;

static const bench_case cases[] = {
    {"mlp", "seed MLP, batch 2", "mlp", {2, 20}, 2, false},
    {"mlp_wide", "MLP 256x1024-1024-1024", "mlp-wide", {256, 1024}, 2, false},
    {"mlp_deep", "16 x (Linear 256 + ReLU), batch 64", "mlp-deep", {64, 256}, 2, false},
    {"chain", "elementwise chain, 4M floats", "chain", {4194304}, 1, false},
    {"chimera", "chimera, batch 2", "chimera", {2, 20}, 2, false},
    {"resnet18", "ResNet-18, batch 1, 224x224", "resnet18", {1, 3, 224, 224}, 4, false},
    {"transformer", "transformer encoder (2 layers, width 32), ids [2, 16]",
     "transformer-classifier", {2, 16}, 2, false},
    {"train", "training step, seed MLP, batch 64", "mlp", {64, 20}, 2, true},
};

typedef struct runner {
    const bench_case *c;
    hb_block *net[NETS];   /* eager, compiled, interpreted, frozen */
    hb_optimizer *opt[3];  /* training: eager, compiled, interpreted */
    hb_trainer *tr[3];
    hb_tensor *x, *target;
    bare_net bare;
    bool has_bare;
    volatile double sink;
} runner;

static void die(const char *what)
{
    fprintf(stderr, "bench_compare: %s: %s\n", what, hb_last_error());
    exit(1);
}

static void setup(runner *r, const bench_case *c, hb_rng *rng)
{
    *r = (runner){.c = c};
    const model_entry *e = example_model_find(c->model);
    /* token ids for the sequence models (the last quarter of every other row padding) */
    r->x = e && e->vocab ? example_input(e, c->shape[0], c->shape[1], rng)
                         : hb_rand(c->ndim, c->shape, rng);
    for (int k = 0; k < NETS; k++) {
        if (!(r->net[k] = example_model_new(c->model, 0)))
            die(c->model);
        hb_tensor_release(hb_block_call(r->net[k], r->x)); /* deferred sizes */
        hb_hybrid_options o = {.interpret = k == 2, .freeze = k == FROZEN};
        if (k > 0 && !c->train && hb_hybridize_with(r->net[k], true, &o))
            die("hybridize");
    }
    if (c->train) {
        int64_t labels[64];
        for (int i = 0; i < 64; i++)
            labels[i] = (int64_t)(hb_rng_uniform(rng) * 10);
        r->target = hb_one_hot(labels, c->shape[0], 10);
        hb_optim_options o = hb_optim_defaults(0.05f);
        o.momentum = 0.9f;
        for (int k = 0; k < 3; k++) {
            r->opt[k] = hb_optimizer_new(r->net[k], HB_OPTIM_SGD, &o);
            r->tr[k] = r->opt[k] ? hb_trainer_new(r->net[k], HB_LOSS_CROSS_ENTROPY, r->opt[k],
                                                  k > 0)
                                 : NULL;
            if (!r->tr[k])
                die("trainer");
        }
        /* the first steps trace and compile: the interpreted trainer's without the JIT */
        float loss;
        for (int k = 1; k < 3; k++) {
            if (k == 2)
                setenv("HB_JIT", "0", 1);
            hb_status st = hb_train_step(r->tr[k], r->x, r->target, &loss);
            unsetenv("HB_JIT");
            if (st != HB_OK)
                die("train step");
        }
    }
    /* bare C: cblas and loops for the MLPs, one libm loop for the chain; none for ResNet */
    r->has_bare = !c->train && c->ndim <= 2 &&
                  (c->ndim == 1 || bare_net_of(r->net[0], c->shape[0], &r->bare));
}

/* One call (or step) of column k. */
/* Whether column k applies to the case. */
static bool has_column(const runner *r, int k)
{
    return k == BARE ? r->has_bare : k != FROZEN || !r->c->train;
}

static void run_once(runner *r, int k)
{
    float loss;
    if (k == BARE) {
        r->sink += r->c->ndim == 1 ? bare_chain(hb_tensor_cdata(r->x), r->c->shape[0])
                                   : bare_net_run(&r->bare, hb_tensor_cdata(r->x))[0];
        return;
    }
    if (r->c->train) {
        if (hb_train_step(r->tr[k], r->x, r->target, &loss) != HB_OK)
            die("train step");
        r->sink += loss;
        return;
    }
    hb_tensor *y = hb_block_call(r->net[k], r->x);
    if (!y)
        die(r->c->title);
    r->sink += hb_tensor_cdata(y)[0];
    hb_tensor_release(y);
}

static double time_calls(runner *r, int k, int calls)
{
    double t0 = now_us();
    for (int i = 0; i < calls; i++)
        run_once(r, k);
    return (now_us() - t0) / calls;
}

static void teardown(runner *r)
{
    for (int k = 0; k < 3; k++) /* trainers before their optimizers */
        hb_trainer_free(r->tr[k]), hb_optimizer_free(r->opt[k]);
    for (int k = 0; k < NETS; k++)
        hb_block_release(r->net[k]);
    if (r->has_bare && r->c->ndim == 2)
        bare_net_free(&r->bare);
    hb_tensor_release(r->x), hb_tensor_release(r->target);
}

/* Copy bandwidth over 256 MB (GB/s, read + write counted) and the CPU's vector peak (GFLOP/s
 * of the host ISA's FMA loop on the benchmark's threads, peak.h): what no column can beat.
 * OpenBLAS's 2048³ cblas_sgemm is measured too, as what the BLAS reaches, not as the floor. */
static void limits(FILE *json, int rounds)
{
    size_t n = (size_t)64 << 20;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    int64_t g = 2048;
    float *x = malloc(sizeof(float) * (size_t)(g * g)), *y = malloc(sizeof(float) * (size_t)(g * g)),
          *z = malloc(sizeof(float) * (size_t)(g * g));
    if (!a || !b || !x || !y || !z) {
        fprintf(stderr, "bench_compare: out of memory measuring the limits\n");
        exit(1);
    }
    memset(a, 1, n * sizeof(float)), memset(b, 0, n * sizeof(float));
    memset(x, 0, sizeof(float) * (size_t)(g * g)), memset(y, 0, sizeof(float) * (size_t)(g * g));
    double bw[MAX_ROUNDS], flops[MAX_ROUNDS];
    openblas_set_num_threads(bare_threads);
    for (int r = 0; r < rounds; r++) {
        double t0 = now_us();
        memcpy(b, a, n * sizeof(float));
        bw[r] = 2.0 * (double)(n * sizeof(float)) / ((now_us() - t0) * 1e3);
        t0 = now_us();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g, (int)g, (int)g, 1, x,
                    (int)g, y, (int)g, 0, z, (int)g);
        flops[r] = 2.0 * (double)g * (double)g * (double)g / ((now_us() - t0) * 1e3);
    }
    openblas_set_num_threads(1);
    double best_bw = 0, best_flops = 0, best_peak = 0; /* the best round, not the typical */
    for (int r = 0; r < rounds; r++) {
        best_bw = bw[r] > best_bw ? bw[r] : best_bw;
        best_flops = flops[r] > best_flops ? flops[r] : best_flops;
        double p = vector_peak(hb_isa_host(), bare_threads);
        best_peak = p > best_peak ? p : best_peak;
    }
    fprintf(json,
            "{\"limits\": {\"copy_gb_s\": %.2f, \"vector_peak_gflop_s\": %.1f, \"isa\": \"%s\", "
            "\"gemm_gflop_s\": %.1f, \"blas\": \"%s\", \"threads\": %d}}\n",
            best_bw, best_peak, hb_isa_name(hb_isa_host()), best_flops, openblas_get_corename(),
            bare_threads);
    fprintf(stderr,
            "  limits: copy %.1f GB/s, vector peak %.1f GFLOP/s (%s FMA loop), OpenBLAS GEMM "
            "%.1f GFLOP/s (its %s kernels), on %d thread(s)\n",
            best_bw, best_peak, hb_isa_name(hb_isa_host()), best_flops, openblas_get_corename(),
            bare_threads);
    free(a), free(b), free(x), free(y), free(z);
}

/* Whether key is one of the comma-separated list's. */
static bool listed(const char *list, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = list; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
        if (strncmp(p, key, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    int rounds = 7, threads = 1;
    const char *json_path = NULL, *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--json") == 0)
            json_path = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--case") == 0)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_compare [--rounds R] [--threads N] [--json FILE] [--case KEY,...]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || threads < 1) {
        fprintf(stderr, "bench_compare: rounds must be 1..%d and threads >= 1\n", MAX_ROUNDS);
        return 2;
    }
    FILE *json = json_path ? fopen(json_path, "a") : stdout;
    if (!json) {
        fprintf(stderr, "bench_compare: cannot open %s: %s\n", json_path, strerror(errno));
        return 1;
    }
    bare_threads_init(threads);
    hb_rng rng;
    hb_rng_seed(&rng, 11);
    limits(json, 5);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (only && !listed(only, cases[c].key))
            continue;
        runner r;
        setup(&r, &cases[c], &rng);
        int calls[COLUMNS];
        for (int k = 0; k < COLUMNS; k++) { /* warm (traces, compiles), then size a round */
            if (!has_column(&r, k))
                continue;
            time_calls(&r, k, 2);
            double once = time_calls(&r, k, 1);
            calls[k] = once >= ROUND_US ? 1 : (int)(ROUND_US / (once > 0.01 ? once : 0.01));
        }
        double t[COLUMNS][MAX_ROUNDS];
        for (int round = 0; round < rounds; round++)
            for (int k = 0; k < COLUMNS; k++)
                if (has_column(&r, k))
                    t[k][round] = time_calls(&r, k, calls[k]);
        fprintf(json, "{\"case\": \"%s\", \"title\": \"%s\", \"rounds\": %d, \"columns\": {",
                cases[c].key, cases[c].title, rounds);
        fprintf(stderr, "  %-36s", cases[c].title);
        for (int k = 0; k < COLUMNS; k++) {
            if (!has_column(&r, k))
                continue;
            double us = median(t[k], rounds);
            fprintf(json, "%s\"%s\": %.3f", k ? ", " : "", column_names[k], us);
            fprintf(stderr, "  %s %.2f us", column_names[k] + (k < BARE ? 7 : 0), us);
        }
        fprintf(json, "}}\n");
        fprintf(stderr, "\n");
        fflush(json);
        teardown(&r);
    }
    if (json != stdout)
        fclose(json);
    return 0;
}

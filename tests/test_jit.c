/* The LLVM JIT against the interpreter: every program instruction on ordinary and special
 * values (NaN, infinities, -0, denormals, overflow and underflow of exp), every way an input is
 * read (its own shape, one value, a column, a row) at sizes that are and are not multiples of
 * the vector width, reductions over everything and over rows, the models compiled both ways,
 * and what explain says in each case. Agreement: each element within 1e-6 of the interpreter's
 * (relative), NaN where it has NaN. In a build without LLVM the suite checks that plans say so
 * and run interpreted. */
#include "harness.h"
#include "models.h"
#include "hb_config.h"
#include "../src/ir/graph.h"
#include "../src/passes/pass.h"
#include "../src/runtime/jit.h"
#include "../src/runtime/plan.h"
#include "../src/runtime/sgemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const float special[] = {NAN,     INFINITY, -INFINITY, -0.0f,  0.0f, 1e-40f, -1e-40f, 88.5f,
                                -104.0f, 1e30f,    -1e30f,    0.625f, 9.5f, -9.5f,  1.0f,    -1.0f};

/* Values for an input: uniform in [-3, 3), with special values every few elements. */
static float *values(hb_rng *rng, int64_t n, bool specials)
{
    float *v = malloc(sizeof(float) * (size_t)n + 4);
    for (int64_t i = 0; i < n; i++)
        v[i] = specials && i % 5 == 3 ? special[(i / 5) % ARRAY_LEN(special)]
                                      : 6.0f * hb_rng_uniform(rng) - 3.0f;
    return v;
}

/* Element i of got agrees with want: both NaN, equal, or within 1e-6 relative — of the element
 * itself for elementwise programs, of the largest element for products (GEMMs add in another
 * order than BLAS; a sum that cancels has a large relative error of its own). */
static bool products; /* the comparison is over a product's outputs */

static void agree(const float *got, const float *want, int64_t n, const char *what)
{
    double scale = 0;
    for (int64_t i = 0; products && i < n; i++)
        scale = fmax(scale, isfinite(want[i]) ? fabs((double)want[i]) : 0);
    for (int64_t i = 0; i < n; i++) {
        float a = got[i], b = want[i];
        if (isnan(b)) {
            ck_assert_msg(isnan(a), "%s [%lld]: %.9g, the interpreter NaN", what, (long long)i,
                          (double)a);
            continue;
        }
        /* an infinity must be the same infinity; 1e-45 lets a denormal differ by one ulp */
        ck_assert_msg(a == b || (isfinite(b) && fabs((double)a - b) <=
                                                    1e-6 * (products ? scale : fabs((double)b)) +
                                                        1e-45),
                      "%s [%lld]: jit %.9g, interpreter %.9g", what, (long long)i, (double)a,
                      (double)b);
    }
}

/* The graph in text, its leaves after the input given data, planned; run interpreted and (if
 * built) compiled; the two outputs compared. Returns how many groups the JIT compiled. */
static int run_both(const char *text, float **leaf_data, const float *x, int64_t out_n,
                    const char *what)
{
    char err[512] = "";
    hb_graph *g = hb_graph_parse(text, err, sizeof err);
    ck_assert_msg(g != NULL, "%s: %s\n%s", what, err, text);
    for (int v = 0, k = 0; v < g->nvalues; v++)
        if (g->values[v].kind == HB_VAL_PARAM)
            g->values[v].data = leaf_data[k++];
    hb_pass_stats st = {0};
    ck_assert_int_eq(hb_pass_memplan(g, &(hb_pass_opts){0}, &st), HB_OK);
    hb_plan *plain = hb_plan_lower(g, err, sizeof err), *fast = hb_plan_lower(g, err, sizeof err);
    ck_assert_msg(plain && fast, "%s: %s", what, err);
#if HB_HAVE_JIT
    ck_assert_msg(hb_jit_plan(fast, err, sizeof err) == HB_OK, "%s: %s", what, err);
#else
    ck_assert_int_eq(hb_jit_plan(fast, err, sizeof err), HB_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err, "no JIT"));
#endif
    float *want = calloc((size_t)out_n + 1, sizeof(float)),
          *got = calloc((size_t)out_n + 1, sizeof(float));
    hb_plan_ctx *c0 = hb_plan_ctx_new(plain), *c1 = hb_plan_ctx_new(fast);
    ck_assert_int_eq(hb_plan_run(plain, c0, x, want), HB_OK);
    ck_assert_int_eq(hb_plan_run(fast, c1, x, got), HB_OK);
    agree(got, want, out_n, what);
    int compiled = fast->jit_groups;
    hb_plan_ctx_free(c0), hb_plan_ctx_free(c1);
    hb_plan_free(plain), hb_plan_free(fast);
    hb_graph_free(g);
    free(want), free(got);
    return compiled;
}

/* ---- every instruction ------------------------------------------------------------------- */

/* Every instruction the op table has (its HB_EW_OP rows), over r0 (the input) and r1 (a
 * second, full-size input), with a scalar where the op reads one; then a longer program. */
static int instruction_ops[HB_OP_COUNT], ninstruction_ops;

static void list_instructions(void)
{
    ninstruction_ops = 0;
    for (int op = 0; op < HB_OP_COUNT; op++)
        if (hb_op_table[op].flags & HB_PROG)
            instruction_ops[ninstruction_ops++] = op;
}

/* the seed's chain */
static const char chain[] =
    "sigmoid(r0), mul(r0, r1), mul_scalar(r2, 0.5), add_scalar(r3, 1), mul(r4, r4), "
    "mul(r5, r4), mul_scalar(r6, 0.044715), add(r4, r7), mul_scalar(r8, 0.797884583), "
    "tanh(r9), mul(r4, r10)";

static void run_program(const char *prog, int inputs, int seed)
{
    products = false;
    const int64_t rows = 3, len = 37; /* not a multiple of any vector width */
    char text[1024];
    snprintf(text, sizeof text,
             "graph t {\n  %%0 = input : f32[%lld, %lld]\n  %%1 = param \"b\" : f32[%lld, %lld]\n"
             "  %%2 = fused(%%0%s) {prog=[%s]} : f32[%lld, %lld]\n  return %%2\n}\n",
             (long long)rows, (long long)len, (long long)rows, (long long)len,
             inputs == 2 ? ", %1" : "", prog, (long long)rows, (long long)len);
    hb_rng rng;
    hb_rng_seed(&rng, 40 + (uint64_t)seed);
    float *x = values(&rng, rows * len, true), *b = values(&rng, rows * len, true);
    float *leaves[1] = {b};
    int compiled = run_both(text, leaves, x, rows * len, prog);
    ck_assert_int_eq(compiled, HB_HAVE_JIT ? 1 : 0);
    free(x), free(b);
}

START_TEST(every_instruction)
{
    list_instructions();
    ck_assert_int_ge(ninstruction_ops, 30); /* the table has its elementwise rows */
    ck_assert_int_lt(_i, ninstruction_ops);
    const hb_op_info *info = &hb_op_table[instruction_ops[_i]];
    char prog[96];
    /* the scalar 0.5 lies among the values (comparisons go both ways) */
    if (info->attrs == HB_ATTRS_SCALAR)
        snprintf(prog, sizeof prog, "%s(r0, 0.5)", info->name);
    else if (info->min_inputs == 2)
        snprintf(prog, sizeof prog, "%s(r%d, r%d)", info->name, _i % 2, 1 - _i % 2);
    else
        snprintf(prog, sizeof prog, "%s(r0)", info->name);
    run_program(prog, info->min_inputs, _i);
}
END_TEST

START_TEST(a_longer_program)
{
    run_program(chain, 1, 99);
}
END_TEST

/* ---- how inputs are read ---------------------------------------------------------------- */

START_TEST(every_way_of_reading)
{
    static const int64_t shapes[][2] = {{1, 1},   {1, 100}, {3, 37}, {5, 16},
                                        {64, 10}, {2, 1},   {7, 33}, {1, 4096}};
    const int64_t rows = shapes[_i][0], len = shapes[_i][1];
    products = false;
    char text[1024];
    /* input, one value, a column, a row, and a second full-size input */
    snprintf(text, sizeof text,
             "graph t {\n  %%0 = input : f32[%lld, %lld]\n  %%1 = param \"s\" : f32[1]\n"
             "  %%2 = param \"c\" : f32[%lld, 1]\n  %%3 = param \"r\" : f32[%lld]\n"
             "  %%4 = param \"f\" : f32[%lld, %lld]\n"
             "  %%5 = fused(%%0, %%1, %%2, %%3, %%4) {prog=[mul(r0, r1), add(r5, r2), sub(r6, r3), "
             "tanh(r7), mul(r8, r4), exp(r9)]} : f32[%lld, %lld]\n"
             "  %%6 = fused(%%5, %%2) {prog=[div(r0, r1)]} : f32[%lld, %lld]\n"
             "  return %%6\n}\n",
             (long long)rows, (long long)len, (long long)rows, (long long)len, (long long)rows,
             (long long)len, (long long)rows, (long long)len, (long long)rows, (long long)len);
    hb_rng rng;
    hb_rng_seed(&rng, 60 + (uint64_t)_i);
    float *x = values(&rng, rows * len, true), *s = values(&rng, 1, false);
    float *col = values(&rng, rows, false), *row = values(&rng, len, true);
    float *full = values(&rng, rows * len, false);
    float *leaves[4] = {s, col, row, full};
    int compiled = run_both(text, leaves, x, rows * len, "reads");
    ck_assert_int_eq(compiled, HB_HAVE_JIT ? 2 : 0);
    free(x), free(s), free(col), free(row), free(full);
}
END_TEST

/* ---- reductions ---------------------------------------------------------------------------- */

START_TEST(reductions)
{
    static const char *const reduce[] = {"sum", "mean", "max"};
    static const int64_t shapes[][2] = {{1, 5}, {3, 37}, {8, 16}, {2, 1000}, {33, 3}};
    const char *r = reduce[_i % 3];
    const int64_t rows = shapes[_i / 3 % 5][0], len = shapes[_i / 3 % 5][1];
    bool all = _i / 15 == 0, specials = _i % 2 == 0;
    products = false;
    char text[1024], out[32];
    snprintf(out, sizeof out, all ? "f32[]" : "f32[%lld]", (long long)rows);
    snprintf(text, sizeof text,
             "graph t {\n  %%0 = input : f32[%lld, %lld]\n  %%1 = param \"c\" : f32[%lld, 1]\n"
             "  %%2 = fused_reduce(%%0, %%1) {reduce=%s, %s, prog=[mul(r0, r1), sigmoid(r2)]} "
             ": %s\n  return %%2\n}\n",
             (long long)rows, (long long)len, (long long)rows, r, all ? "all" : "axis=1", out);
    hb_rng rng;
    hb_rng_seed(&rng, 80 + (uint64_t)_i);
    float *x = values(&rng, rows * len, specials), *c = values(&rng, rows, false);
    float *leaves[1] = {c};
    char what[64];
    snprintf(what, sizeof what, "%s %s over [%lld, %lld]", r, all ? "all" : "rows", (long long)rows,
             (long long)len);
    int compiled = run_both(text, leaves, x, all ? 1 : rows, what);
    ck_assert_int_eq(compiled, HB_HAVE_JIT ? 1 : 0);
    free(x), free(c);
}
END_TEST

/* ---- groups split over the pool ------------------------------------------------------------ */

/* Long rows (one of them a size no part or vector width divides) run in parts on the pool: the
 * seed's chain as a map and as every reduction, against the interpreter, and the same bits on
 * one thread and on three. */
START_TEST(split_groups)
{
    static const int64_t sizes[] = {1 << 16, 200003};
    static const char *const reduce[] = {NULL, "sum", "mean", "max"};
    const int64_t n = sizes[_i % 2];
    const char *r = reduce[_i / 2];
    products = false;
    char text[1024];
    if (r)
        snprintf(text, sizeof text,
                 "graph t {\n  %%0 = input : f32[%lld]\n  %%1 = fused_reduce(%%0) {reduce=%s, all, "
                 "prog=[%s, abs(r11)]} : f32[]\n  return %%1\n}\n",
                 (long long)n, r, chain);
    else
        snprintf(text, sizeof text,
                 "graph t {\n  %%0 = input : f32[%lld]\n  %%1 = fused(%%0) {prog=[%s]} : "
                 "f32[%lld]\n  return %%1\n}\n",
                 (long long)n, chain, (long long)n);
    hb_rng rng;
    hb_rng_seed(&rng, 120 + (uint64_t)_i);
    float *x = values(&rng, n, _i % 4 < 2);
    int64_t out_n = r ? 1 : n;
    char what[64];
    snprintf(what, sizeof what, "%s over %lld", r ? r : "map", (long long)n);
    hb_set_num_threads(3);
    ck_assert_int_eq(run_both(text, NULL, x, out_n, what), HB_HAVE_JIT ? 1 : 0);
#if HB_HAVE_JIT
    char err[512] = "";
    hb_graph *g = hb_graph_parse(text, err, sizeof err);
    hb_pass_stats st = {0};
    ck_assert_int_eq(hb_pass_memplan(g, &(hb_pass_opts){0}, &st), HB_OK);
    hb_plan *p = hb_plan_lower(g, err, sizeof err);
    ck_assert_int_eq(hb_jit_plan(p, err, sizeof err), HB_OK);
    ck_assert_msg(p->instrs[0].attrs.part != NULL, "%s: not split", what);
    hb_plan_ctx *c = hb_plan_ctx_new(p);
    float *one = calloc((size_t)out_n, sizeof(float)), *three = calloc((size_t)out_n, sizeof(float));
    hb_set_num_threads(1);
    ck_assert_int_eq(hb_plan_run(p, c, x, one), HB_OK);
    hb_set_num_threads(3);
    ck_assert_int_eq(hb_plan_run(p, c, x, three), HB_OK);
    ck_assert_msg(memcmp(one, three, sizeof(float) * (size_t)out_n) == 0,
                  "%s: three threads' bits differ from one's", what);
    free(one), free(three);
    hb_plan_ctx_free(c);
    hb_plan_free(p);
    hb_graph_free(g);
#endif
    free(x);
}
END_TEST

/* ---- small GEMMs with their epilogue ------------------------------------------------------ */

START_TEST(small_gemms)
{
    static const int64_t sizes[][3] = {{1, 1, 1},   {2, 20, 256}, {1, 256, 10}, {3, 37, 100},
                                       {8, 64, 16}, {5, 3, 33},   {2, 1, 17},   {9, 20, 256}};
    const int64_t m = sizes[_i][0], k = sizes[_i][1], n = sizes[_i][2];
    products = true;
    char text[1024];
    snprintf(text, sizeof text,
             "graph t {\n  %%0 = input : f32[%lld, %lld]\n  %%1 = param \"w\" : f32[%lld, %lld]\n"
             "  %%2 = param \"b\" : f32[%lld]\n  %%3 = param \"s\" : f32[]\n"
             "  %%4 = gemm(%%0, %%1, %%2, %%3) {prog=[add(r0, r1), mul(r3, r2), relu(r4)]} "
             ": f32[%lld, %lld]\n  return %%4\n}\n",
             (long long)m, (long long)k, (long long)k, (long long)n, (long long)n, (long long)m,
             (long long)n);
    hb_rng rng;
    hb_rng_seed(&rng, 120 + (uint64_t)_i);
    float *x = values(&rng, m * k, false), *w = values(&rng, k * n, false);
    float *b = values(&rng, n, false), s[1] = {0.75f};
    float *leaves[3] = {w, b, s};
    char what[64];
    snprintf(what, sizeof what, "gemm %lldx%lldx%lld", (long long)m, (long long)k, (long long)n);
    int compiled = run_both(text, leaves, x, m * n, what);
    /* more than 8 rows: BLAS, not the JIT */
    ck_assert_int_eq(compiled, HB_HAVE_JIT && m <= 8 ? 1 : 0);
    /* the same weights as [n, k]: a linear with its bias, and a gemm with trans_b */
    float *wt = malloc(sizeof(float) * (size_t)(k * n));
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = 0; j < n; j++)
            wt[j * k + p] = w[p * n + j];
    for (int form = 0; form < 2; form++) {
        snprintf(
            text, sizeof text,
            "graph t {\n  %%0 = input : f32[%lld, %lld]\n  %%1 = param \"w\" : f32[%lld, %lld]\n"
            "  %%2 = param \"b\" : f32[%lld]\n  %%3 = param \"s\" : f32[]\n"
            "  %%4 = %s : f32[%lld, %lld]\n  return %%4\n}\n",
            (long long)m, (long long)k, (long long)n, (long long)k, (long long)n,
            form ? "gemm(%0, %1, %2, %3) {trans_b, prog=[add(r0, r1), mul(r3, r2), relu(r4)]}"
                 : "linear(%0, %1, %2)",
            (long long)m, (long long)n);
        snprintf(what, sizeof what, "%s %lldx%lldx%lld", form ? "gemm trans_b" : "linear",
                 (long long)m, (long long)k, (long long)n);
        float *leaves_t[3] = {wt, b, s};
        compiled = run_both(text, leaves_t, x, m * n, what);
        /* few rows and k >= 32: dot products in the JIT; else the small-GEMM kernel or BLAS */
        ck_assert_int_eq(compiled, HB_HAVE_JIT && m <= 8 && k >= 32 ? 1 : 0);
    }
    free(x), free(w), free(wt), free(b);
}
END_TEST

/* ---- models, and what explain says ------------------------------------------------------- */

static hb_tensor *call_with(const char *model, bool freeze, bool interpret, hb_tensor *x,
                            char **explain)
{
    hb_block *net = example_model_new(model, 0);
    ck_assert_int_eq(hb_hybridize_with(
                         net, true, &(hb_hybrid_options){.freeze = freeze, .interpret = interpret}),
                     HB_OK);
    hb_tensor_release(test_call_ok(net, x)); /* traces */
    hb_tensor *y = test_call_ok(net, x);     /* the plan */
    size_t len = 0;
    FILE *f = open_memstream(explain, &len);
    hb_block_explain(net, f, false);
    fclose(f);
    hb_block_release(net);
    return y;
}

START_TEST(models_both_ways)
{
    static const char *const models[] = {"mlp",     "chimera",  "fixed-hidden", "parallel",
                                         "factory", "nest-mlp", "mlp-deep",     "chain"};
    const char *m = models[_i % 8];
    bool freeze = _i >= 8; /* frozen: weights packed, so the small GEMMs are the JIT's too */
    hb_rng rng;
    hb_rng_seed(&rng, 5);
    hb_tensor *x = strcmp(m, "chain") == 0      ? hb_randn(HB_SHAPE(1000), &rng)
                   : strcmp(m, "mlp-deep") == 0 ? hb_randn(HB_SHAPE(4, 256), &rng)
                                                : hb_randn(HB_SHAPE(2, 20), &rng);
    char *t0 = NULL, *t1 = NULL;
    hb_tensor *want = call_with(m, freeze, true, x, &t0),
              *got = call_with(m, freeze, false, x, &t1);
    /* HB_ISA=generic compiles without fused multiply-adds while the interpreter's x86-64-v3
     * clones contract them: one rounding apart per step, which fixed-hidden's halving loop and
     * sums carry to 1.3e-6 */
    double tol = hb_isa_active() == HB_ISA_GENERIC && hb_isa_host() != HB_ISA_GENERIC ? 1e-5 : 1e-6;
    ck_assert_msg(rel_error(got, want) <= tol, "%s%s: jit %g from the interpreter", m,
                  freeze ? " (frozen)" : "", rel_error(got, want));
    if (strstr(t0, "jit: ")) { /* the model has fused groups */
        ck_assert_msg(strstr(t0, "interpreted (hybridized with interpret)"), "%s", t0);
        const char *e = getenv("HB_JIT");
        bool jit = HB_HAVE_JIT && !(e && strcmp(e, "0") == 0);
        ck_assert_msg(strstr(t1, !HB_HAVE_JIT ? "interpreted (built without LLVM)"
                                 : !jit       ? "interpreted (HB_JIT=0)"
                                              : "compiled to native code in "),
                      "%s", t1);
        /* every model here but parallel has a group the JIT takes (parallel's two linears
         * have k = 20: the small-GEMM kernel's, not the JIT's) */
        ck_assert_msg(!jit || strcmp(m, "parallel") == 0 || !strstr(t1, "jit: 0 of "),
                      "%s: nothing compiled: %s", m, t1);
    }
    free(t0), free(t1);
    hb_tensor_release(want), hb_tensor_release(got), hb_tensor_release(x);
}
END_TEST

/* A small live product (k = 20: too short for the dot-product form) runs as native code over
 * its weight's kept transpose — the code a frozen plan runs over its weight transposed at
 * lowering, so the same bits as the frozen plan's on every call: a version's first calls (wᵀ
 * made for the call) and later ones (wᵀ kept). A write through hb_tensor_data is seen. */
START_TEST(small_live_products_over_their_kept_transpose)
{
    if (!hb_jit_enabled())
        return; /* the interpreter's loops: hybrid's live_weights tests */
    hb_seed(5);
    hb_block *live = hb_sequential_of(hb_linear_new(20, 256), hb_relu_new());
    hb_seed(5);
    hb_block *frozen = hb_sequential_of(hb_linear_new(20, 256), hb_relu_new());
    hb_rng rng;
    hb_rng_seed(&rng, 9);
    hb_tensor *x = hb_randn(HB_SHAPE(2, 20), &rng);
    ck_assert_int_eq(hb_hybridize(live, true), HB_OK);
    ck_assert_int_eq(hb_hybridize_with(frozen, true, &(hb_hybrid_options){.freeze = true}), HB_OK);
    hb_tensor_release(test_call_ok(live, x)), hb_tensor_release(test_call_ok(frozen, x));
    hb_tensor *want = test_call_ok(frozen, x);
    for (int call = 0; call < 4; call++) {
        hb_tensor *y = test_call_ok(live, x);
        ck_assert_msg(test_same_bits(y, want), "call %d: not the frozen plan's bits", call);
        hb_tensor_release(y);
    }
    const hb_plan *p = hb_block_plan(live, HB_SHAPE(2, 20));
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->fused_groups, 1);
    ck_assert_int_eq(p->jit_groups, 1);
    hb_tensor *w = hb_block_param(hb_block_child(live, "0"), "weight");
    for (int i = 0; i < 20; i++) /* open: wᵀ made for each call from the new values */
        hb_tensor_data(w)[i * 21] = 2.0f;
    hb_tensor *y = test_call_ok(live, x);
    hb_hybridize(live, false);
    hb_tensor *e = test_call_ok(live, x);
    products = true;
    agree(hb_tensor_cdata(y), hb_tensor_cdata(e), hb_tensor_numel(e), "after a write");
    ck_assert_msg(!test_same_bits(y, want), "the write changed nothing (the test is too weak)");
    hb_tensor_release(y), hb_tensor_release(e), hb_tensor_release(want), hb_tensor_release(x);
    hb_block_release(live), hb_block_release(frozen);
}
END_TEST

/* The seed's chain is one fused reduction: compiled whole, in under 50 ms. */
START_TEST(chain_compiles_whole)
{
    if (!hb_jit_enabled())
        return; /* HB_JIT=0 or no LLVM: models_both_ways checks what explain says */
    hb_block *net = example_model_new("chain", 0);
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    hb_tensor *x = hb_ones(HB_SHAPE(100));
    hb_tensor_release(test_call_ok(net, x));
    const hb_plan *p = hb_block_plan(net, 1, (int64_t[]){100});
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->fused_groups, 1);
    ck_assert_int_eq(p->jit_groups, 1);
    ck_assert_double_lt(p->jit_ms, 1000.0); /* bench_jit measures (~10 ms); this only bounds */
    hb_tensor_release(x);
    hb_block_release(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jit");
    TCase *tc = tcase_create("jit");
    list_instructions();
    tcase_add_loop_test(tc, every_instruction, 0, ninstruction_ops);
    tcase_add_test(tc, a_longer_program);
    tcase_add_loop_test(tc, every_way_of_reading, 0, 8);
    tcase_add_loop_test(tc, reductions, 0, 30);
    tcase_add_loop_test(tc, split_groups, 0, 8);
    tcase_add_loop_test(tc, small_gemms, 0, 8);
    tcase_add_loop_test(tc, models_both_ways, 0, 16);
    tcase_add_test(tc, chain_compiles_whole);
    tcase_add_test(tc, small_live_products_over_their_kept_transpose);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

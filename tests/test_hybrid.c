/* The "hybrid" suite: hybridized blocks against eager ones.
 *
 * - parity: every seed model, hybridized, called on the fixture input (traces), again (runs the
 *   plan), scaled inputs (the data-dependent loop's trip count changes) and a batch of 5 (a new
 *   signature: retrace) equals an eager instance and PyTorch's output;
 * - what compiles: plans for mlp and chimera, one eager island in chimera at chimera/2, none at
 *   fixed-hidden's root but one for its Linear;
 * - the IR: golden text dumps (tests/golden/NAME.ir), print -> parse -> print, DOT that renders;
 * - plans: a run allocates nothing, one plan serves many threads, parameters are read live and
 *   a load drops the plans;
 * - islands for custom blocks that branch on values, draw random numbers, bring host data or
 *   write into traced tensors; dead code, identity and parameter-returning forwards;
 * - explain (JSON and text), the retrace log, and errors. */
#include "harness.h"
#include "models.h"
#include "../src/ir/graph.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The fixture models and scaled-fixed, which has no fixture (its constant comes from seed 0). */
static const char *const parity_models[] = {"mlp", "mlp-class", "my-sequential", "fixed-hidden",
                                            "nest-mlp", "chimera", "parallel", "factory",
                                            "scaled-fixed"};

/* ---- helpers ----------------------------------------------------------------------------- */








static char *explain_to_string(hb_block *net, bool json) { return test_explain(net, json); }

static char *dump_to_string(hb_block *net, hb_tensor *x, bool dot)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    hb_status st = hb_block_dump(net, x, NULL, dot, f);
    fclose(f);
    ck_assert_msg(st == HB_OK, "dump: %s", hb_last_error());
    return buf;
}

static cJSON *explain_json(hb_block *net)
{
    char *text = explain_to_string(net, true);
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "explain is not JSON: %s", text);
    free(text);
    return j;
}

static double json_number(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "explain JSON: \"%s\" is missing or not a number", key);
    return v->valuedouble;
}

/* The eager_islands entry for block path, or NULL. */
static const cJSON *json_island(const cJSON *j, const char *block)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "eager_islands");
    ck_assert_msg(cJSON_IsArray(list), "explain JSON: no eager_islands array");
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "block");
        if (cJSON_IsString(b) && strcmp(b->valuestring, block) == 0)
            return it;
    }
    return NULL;
}


/* The first parameter or constant a graph's text declares but no node reads ("" if none). */
static void first_unused_leaf(const char *text, char *out, size_t size)
{
    out[0] = '\0';
    for (const char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        next = next ? next + 1 : NULL;
        int id;
        char kind[16];
        if (sscanf(line, " %%%d = %15s", &id, kind) != 2 ||
            (strcmp(kind, "param") != 0 && strcmp(kind, "const") != 0))
            continue;
        char use1[32], use2[32], use3[32];
        snprintf(use1, sizeof use1, "%%%d,", id);
        snprintf(use2, sizeof use2, "%%%d)", id);
        snprintf(use3, sizeof use3, "return %%%d\n", id);
        if (!strstr(text, use1) && !strstr(text, use2) && !strstr(text, use3)) {
            const char *eol = strchr(line, '\n');
            snprintf(out, size, "%.*s", eol ? (int)(eol - line) : (int)strlen(line), line);
            return;
        }
    }
}

/* print -> parse -> print of g gives the same text. */
static void check_round_trip(const hb_graph *g, const char *what)
{
    char *text = hb_graph_to_string(g);
    ck_assert_msg(text != NULL, "%s: to_string: %s", what, hb_last_error());
    char err[512] = "";
    hb_graph *p = hb_graph_parse(text, err, sizeof err);
    ck_assert_msg(p != NULL, "%s: parse: %s\n%s", what, err, text);
    char *again = hb_graph_to_string(p);
    ck_assert_ptr_nonnull(again);
    ck_assert_msg(strcmp(text, again) == 0, "%s: print -> parse -> print differs:\n%s\n---\n%s",
                  what, text, again);
    hb_free(again);
    hb_graph_free(p);
    hb_free(text);
}

/* ---- 1. parity ---------------------------------------------------------------------------- */

START_TEST(parity)
{
    const char *name = parity_models[_i];
    hb_block *hy = test_model(name), *ea = test_model(name);
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    hb_tensor *x = test_model_input(name);
    hb_tensor *want = test_has_fixture(name) ? test_fixture(name, "output.npy") : NULL;
    hb_rng rng;
    hb_rng_seed(&rng, 11);
    hb_tensor *inputs[] = {
        hb_tensor_retain(x),            /* traces */
        hb_tensor_retain(x),            /* runs the plan */
        hb_mul_scalar(x, 1e-3f),        /* fixed-hidden: fewer halvings */
        hb_mul_scalar(x, 10.0f),
        hb_mul_scalar(x, 1e4f),         /* many more */
        hb_randn(HB_SHAPE(5, 20), &rng), /* a new signature: retrace */
        hb_tensor_retain(x),            /* back to the first plan */
        hb_mul_scalar(x, -1.0f),
    };
    const bool is_fixture[] = {true, true, false, false, false, false, true, false};
    for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
        ck_assert_tensor_ok(inputs[i]);
        hb_tensor *y = hb_block_call(hy, inputs[i]);
        ck_assert_msg(y != NULL, "%s call %zu (hybrid): %s", name, i, hb_last_error());
        hb_tensor *e = hb_block_call(ea, inputs[i]);
        ck_assert_msg(e != NULL, "%s call %zu (eager): %s", name, i, hb_last_error());
        double err = rel_error(y, e);
        ck_assert_msg(err <= 1e-5, "%s call %zu: hybrid vs eager relative error %g", name, i,
                      err);
        if (want && is_fixture[i]) {
            err = rel_error(y, want);
            ck_assert_msg(err <= 1e-4, "%s call %zu: vs fixture relative error %g", name, i,
                          err);
        }
        hb_tensor_release(y), hb_tensor_release(e);
    }
    for (size_t i = 0; i < ARRAY_LEN(inputs); i++)
        hb_tensor_release(inputs[i]);
    hb_tensor_release(x), hb_tensor_release(want);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

/* The other fixtures: batch 5, width 33 (tests/data/extra). */
START_TEST(parity_extra)
{
    const char *name = test_fixture_models[_i];
    char rel[256];
    hb_block *hy = example_model_new(name, 0), *ea = example_model_new(name, 0);
    ck_assert_ptr_nonnull(hy);
    ck_assert_ptr_nonnull(ea);
    snprintf(rel, sizeof rel, "extra/%s/weights.safetensors", name);
    ck_assert_msg(hb_block_load(hy, data_path(rel)) == HB_OK, "%s", hb_last_error());
    ck_assert_msg(hb_block_load(ea, data_path(rel)) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    snprintf(rel, sizeof rel, "extra/%s", name);
    hb_tensor *x = test_fixture(rel, "input.npy"), *want = test_fixture(rel, "output.npy");
    ck_assert_int_eq(hb_tensor_dim(x, 0), 5); /* width 33, or 20 where the model fixes it */
    for (int i = 0; i < 4; i++) {
        hb_tensor *in = i < 2 ? hb_tensor_retain(x) : hb_mul_scalar(x, i == 2 ? 1e-3f : 1e4f);
        hb_tensor *y = hb_block_call(hy, in);
        ck_assert_msg(y != NULL, "%s call %d: %s", name, i, hb_last_error());
        hb_tensor *e = test_call_ok(ea, in);
        ck_assert_msg(rel_error(y, e) <= 1e-5, "%s call %d: vs eager %g", name, i,
                      rel_error(y, e));
        if (i < 2)
            ck_assert_msg(rel_error(y, want) <= 1e-4, "%s call %d: vs fixture %g", name, i,
                          rel_error(y, want));
        hb_tensor_release(y), hb_tensor_release(e), hb_tensor_release(in);
    }
    hb_tensor_release(x), hb_tensor_release(want);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

/* Hybridized before its first call: the deferred Linear(0, 256) takes its shape and values
 * while the first call is traced, and the plan reads them (not a snapshot). */
START_TEST(deferred_parameters_while_tracing)
{
    hb_tensor *x = test_fixture("mlp", "input.npy");
    hb_block *hy = example_model_new("mlp", 0);
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    hb_tensor *y1 = test_call_ok(hy, x);
    hb_block *ea = example_model_new("mlp", 0); /* the same random stream, drawn the same way */
    hb_tensor *e = test_call_ok(ea, x);
    ck_assert_msg(test_same_bits(y1, e), "first (traced) call differs from eager");
    hb_tensor *y2 = test_call_ok(hy, x);
    ck_assert_msg(test_same_result(y2, e), "plan run differs from eager");
    ck_assert_ptr_nonnull(hb_block_plan(hy, HB_SHAPE(2, 20)));
    cJSON *j = explain_json(hy);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "eager_islands")),
                     0);
    cJSON_Delete(j);
    hb_tensor_data(hb_block_param(hb_block_child(hy, "0"), "weight"))[3] += 1.0f;
    hb_tensor_data(hb_block_param(hb_block_child(ea, "0"), "weight"))[3] += 1.0f;
    hb_tensor *y3 = test_call_ok(hy, x), *e3 = test_call_ok(ea, x);
    ck_assert_msg(test_same_result(y3, e3), "the plan does not read the inferred weight live");
    hb_tensor_release(y1), hb_tensor_release(y2), hb_tensor_release(y3);
    hb_tensor_release(e), hb_tensor_release(e3), hb_tensor_release(x);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

/* ---- 2. what compiles --------------------------------------------------------------------- */

static hb_block *hybrid_model_called_twice(const char *name, hb_tensor **x_out)
{
    hb_block *net = test_model(name);
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    hb_tensor *x = test_model_input(name);
    for (int i = 0; i < 2; i++)
        hb_tensor_release(test_call_ok(net, x));
    if (x_out)
        *x_out = x;
    else
        hb_tensor_release(x);
    return net;
}

START_TEST(mlp_compiles)
{
    hb_block *net = hybrid_model_called_twice("mlp", NULL);
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20)));
    ck_assert_ptr_nonnull(hb_block_graph(net, HB_SHAPE(2, 20)));
    ck_assert_ptr_null(hb_block_plan(net, HB_SHAPE(3, 20))); /* never called with it */
    char *text = hb_graph_to_string(hb_block_graph(net, HB_SHAPE(2, 20)));
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(test_count_substr(text, "island("), 0);
    hb_free(text);
    hb_block_release(net);
}
END_TEST

/* FixedHiddenMLP's loop tests with hb_test: chimera compiles whole, its loop as guards. */
START_TEST(chimera_compiles_whole_with_guards)
{
    hb_block *net = hybrid_model_called_twice("chimera", NULL);
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20)));
    const hb_graph *g = hb_block_graph(net, HB_SHAPE(2, 20));
    ck_assert_ptr_nonnull(g);
    char *text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(test_count_substr(text, "island(") == 0, "want no island:\n%s", text);
    ck_assert_msg(test_count_substr(text, "guard(") >= 1, "want guards:\n%s", text);
    ck_assert_msg(strstr(text, "@chimera/2") != NULL, "FixedHiddenMLP is inlined:\n%s", text);
    hb_free(text);
    hb_block_release(net);
}
END_TEST

/* FixedHiddenMLP's loop is lifted: one guard (at least one round), then one loop node. */
START_TEST(fixed_hidden_compiles_with_guards)
{
    hb_block *net = hybrid_model_called_twice("fixed-hidden", NULL);
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20)));
    char *text = hb_graph_to_string(hb_block_graph(net, HB_SHAPE(2, 20)));
    ck_assert_msg(test_count_substr(text, "guard(") == 1 && test_count_substr(text, "loop(") == 1 &&
                      strstr(text, "continue %") && !strstr(text, "island("), "%s", text);
    hb_free(text);
    hb_block_release(net);
}
END_TEST

/* ---- 3. golden dumps and round trips ------------------------------------------------------ */

static const char *const golden_models[] = {"mlp", "nest-mlp", "chimera"};

START_TEST(golden_dump)
{
    const char *name = golden_models[_i];
    hb_block *net = test_model(name);
    hb_tensor *x = test_fixture(name, "input.npy");
    ck_assert_int_eq(hb_tensor_dim(x, 0), 2);
    ck_assert_int_eq(hb_tensor_dim(x, 1), 20);
    char *got = dump_to_string(net, x, false);
    char rel[256];
    snprintf(rel, sizeof rel, "../golden/%s.ir", name);
    char *want = test_slurp(data_path(rel));
    ck_assert_msg(want != NULL, "cannot read %s", data_path(rel));
    /* An island drops what its block's call brought into the trace, parameters included: the
     * text as traced does not depend on whether the island was known beforehand. */
    char unused[256];
    first_unused_leaf(got, unused, sizeof unused);
    ck_assert_msg(unused[0] == '\0', "%s: the traced graph declares a value nothing reads: %s",
                  name, unused);
    ck_assert_msg(strcmp(got, want) == 0, "%s: the dump differs from %s:\n%s\n--- want:\n%s",
                  name, rel, got, want);
    free(got), free(want);
    hb_tensor_release(x);
    hb_block_release(net);
}
END_TEST

/* The golden text parses, prints back as itself, and round-trips. */
START_TEST(golden_round_trip)
{
    char rel[256];
    snprintf(rel, sizeof rel, "../golden/%s.ir", golden_models[_i]);
    char *want = test_slurp(data_path(rel));
    ck_assert_msg(want != NULL, "cannot read %s", data_path(rel));
    char err[512] = "";
    hb_graph *g = hb_graph_parse(want, err, sizeof err);
    ck_assert_msg(g != NULL, "%s: %s", rel, err);
    char *again = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(again);
    ck_assert_msg(strcmp(again, want) == 0, "%s: parse -> print differs:\n%s", rel, again);
    check_round_trip(g, rel);
    hb_free(again);
    hb_graph_free(g);
    free(want);
}
END_TEST

/* The graph after passes of every compiled model (and fixed-hidden's Linear). */
START_TEST(compiled_graphs_round_trip)
{
    const char *name = test_fixture_models[_i];
    hb_block *net = hybrid_model_called_twice(name, NULL);
    const hb_graph *g = hb_block_graph(net, HB_SHAPE(2, 20));
    ck_assert_msg(g != NULL, "%s: no graph", name);
    check_round_trip(g, name);
    hb_block_release(net);
}
END_TEST

/* ---- 4. DOT ------------------------------------------------------------------------------- */

START_TEST(dot_renders)
{
    const char *name = golden_models[_i];
    hb_block *net = test_model(name);
    hb_tensor *x = test_fixture(name, "input.npy");
    char *dot = dump_to_string(net, x, true);
    ck_assert_msg(strstr(dot, "digraph") != NULL, "not DOT:\n%s", dot);
    if (access("/usr/bin/dot", X_OK) == 0) {
        char file[64];
        snprintf(file, sizeof file, "%s.dot", name);
        const char *path = temp_path(file);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(dot, f);
        fclose(f);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "/usr/bin/dot -Tsvg '%s' -o /dev/null", path);
        ck_assert_msg(system(cmd) == 0, "dot -Tsvg rejected:\n%s", dot);
        unlink(path);
    }
    free(dot);
    hb_tensor_release(x);
    hb_block_release(net);
}
END_TEST

/* ---- 5. a plan run allocates nothing ------------------------------------------------------ */

static atomic_long allocations;

static bool counting_hook(size_t n)
{
    (void)n;
    atomic_fetch_add(&allocations, 1);
    return true;
}

START_TEST(plan_run_allocates_nothing)
{
    hb_tensor *x = NULL;
    hb_block *net = hybrid_model_called_twice("mlp", &x);
    hb_tensor *y = test_call_ok(net, x); /* a plan run through the block */
    hb_plan *p = hb_block_plan(net, HB_SHAPE(2, 20));
    ck_assert_ptr_nonnull(p);
    ck_assert_int_gt(hb_plan_num_instructions(p), 0);
    hb_plan_ctx *ctx = hb_plan_ctx_new(p);
    ck_assert_ptr_nonnull(ctx);
    size_t n = (size_t)hb_tensor_numel(y);
    float *out = malloc(sizeof *out * n);
    ck_assert_ptr_nonnull(out);
    const float *in = hb_tensor_cdata(x);

    atomic_store(&allocations, 0);
    hb_alloc_hook = counting_hook;
    hb_status st = HB_OK;
    for (int i = 0; i < 1000 && st == HB_OK; i++) {
        memset(out, 0xff, sizeof *out * n);
        st = hb_plan_run(p, ctx, in, out);
    }
    hb_alloc_hook = NULL;
    long count = atomic_load(&allocations);

    ck_assert_msg(st == HB_OK, "hb_plan_run: %s", hb_last_error());
    ck_assert_msg(count == 0, "1000 plan runs made %ld allocations", count);
    ck_assert_msg(memcmp(out, hb_tensor_cdata(y), sizeof *out * n) == 0,
                  "hb_plan_run and hb_block_call differ");
    free(out);
    hb_plan_ctx_free(ctx);
    hb_tensor_release(y), hb_tensor_release(x);
    hb_block_release(net);
}
END_TEST

/* ---- 6. threads --------------------------------------------------------------------------- */

enum { PLAN_THREADS = 4, PLAN_RUNS = 2000 };

typedef struct plan_job {
    const hb_plan *plan;
    float in[2 * 20], out[2 * 10], want[2 * 10];
    int mismatches;
    hb_status status;
} plan_job;

static void *plan_worker(void *arg)
{
    plan_job *job = arg;
    hb_plan_ctx *ctx = hb_plan_ctx_new(job->plan);
    if (!ctx) {
        job->status = HB_ERR_NOMEM;
        return NULL;
    }
    for (int i = 0; i < PLAN_RUNS; i++) {
        hb_status st = hb_plan_run(job->plan, ctx, job->in, job->out);
        if (st != HB_OK)
            job->status = st;
        if (memcmp(job->out, job->want, sizeof job->out) != 0)
            job->mismatches++;
    }
    hb_plan_ctx_free(ctx);
    return NULL;
}

START_TEST(threads_share_one_plan)
{
    hb_block *net = hybrid_model_called_twice("mlp", NULL);
    const hb_plan *p = hb_block_plan(net, HB_SHAPE(2, 20));
    ck_assert_ptr_nonnull(p);
    static plan_job jobs[PLAN_THREADS];
    hb_rng rng;
    hb_rng_seed(&rng, 3);
    hb_plan_ctx *serial = hb_plan_ctx_new(p);
    ck_assert_ptr_nonnull(serial);
    for (int t = 0; t < PLAN_THREADS; t++) {
        jobs[t] = (plan_job){.plan = p};
        for (int i = 0; i < 40; i++)
            jobs[t].in[i] = 2.0f * hb_rng_normal(&rng);
        ck_assert_int_eq(hb_plan_run(p, serial, jobs[t].in, jobs[t].want), HB_OK);
    }
    hb_plan_ctx_free(serial);
    /* The inputs differ, so must the results (else the comparison proves little). */
    ck_assert(memcmp(jobs[0].want, jobs[1].want, sizeof jobs[0].want) != 0);
    pthread_t tid[PLAN_THREADS];
    for (int t = 0; t < PLAN_THREADS; t++)
        ck_assert_int_eq(pthread_create(&tid[t], NULL, plan_worker, &jobs[t]), 0);
    for (int t = 0; t < PLAN_THREADS; t++)
        pthread_join(tid[t], NULL);
    for (int t = 0; t < PLAN_THREADS; t++) {
        ck_assert_msg(jobs[t].status == HB_OK, "thread %d: status %d", t, jobs[t].status);
        ck_assert_msg(jobs[t].mismatches == 0, "thread %d: %d of %d runs differ from serial", t,
                      jobs[t].mismatches, PLAN_RUNS);
    }
    hb_block_release(net);
}
END_TEST

/* Two threads calling one hybridized chimera (plans, islands, retraces) at once. */
enum { CALL_THREADS = 2, CALL_ROUNDS = 60, CALL_INPUTS = 4 };

typedef struct call_job {
    hb_block *net;
    hb_tensor *in[CALL_INPUTS], *want[CALL_INPUTS];
    pthread_barrier_t *start;
    int mismatches, failures;
    char error[256];
} call_job;

static void *call_worker(void *arg)
{
    call_job *job = arg;
    pthread_barrier_wait(job->start);
    for (int r = 0; r < CALL_ROUNDS; r++)
        for (int i = 0; i < CALL_INPUTS; i++) {
            hb_tensor *y = hb_block_call(job->net, job->in[i]);
            if (!y) {
                if (!job->failures++)
                    snprintf(job->error, sizeof job->error, "%s", hb_last_error());
                continue;
            }
            if (!test_same_result(y, job->want[i]))
                job->mismatches++;
            hb_tensor_release(y);
        }
    return NULL;
}

/* The jobs on their threads at once; every call made and matching. */
static void run_call_jobs(call_job *jobs, pthread_barrier_t *start)
{
    pthread_t tid[CALL_THREADS];
    for (int t = 0; t < CALL_THREADS; t++)
        ck_assert_int_eq(pthread_create(&tid[t], NULL, call_worker, &jobs[t]), 0);
    for (int t = 0; t < CALL_THREADS; t++)
        pthread_join(tid[t], NULL);
    pthread_barrier_destroy(start);
    for (int t = 0; t < CALL_THREADS; t++) {
        ck_assert_msg(jobs[t].failures == 0, "thread %d: %d calls failed: %s", t,
                      jobs[t].failures, jobs[t].error);
        ck_assert_msg(jobs[t].mismatches == 0, "thread %d: %d of %d results differ", t,
                      jobs[t].mismatches, CALL_ROUNDS * CALL_INPUTS);
    }
}

static void run_chimera_threads(bool warm)
{
    hb_block *net = test_model("chimera");
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    hb_tensor *x = test_fixture("chimera", "input.npy");
    hb_rng rng;
    hb_rng_seed(&rng, 21);
    static call_job jobs[CALL_THREADS];
    pthread_barrier_t start;
    ck_assert_int_eq(pthread_barrier_init(&start, NULL, CALL_THREADS), 0);
    /* Serial references: an eager instance (a hybridized call gives the same bits, or with
     * the JIT's GEMMs the same within rounding: test_same_result). */
    hb_block *eager = test_model("chimera");
    for (int t = 0; t < CALL_THREADS; t++) {
        jobs[t] = (call_job){.net = net, .start = &start};
        /* Scales change the island's trip count; batch 3/4 are new signatures. */
        jobs[t].in[0] = hb_mul_scalar(x, t ? 1e3f : 1.0f);
        jobs[t].in[1] = hb_mul_scalar(x, t ? -0.5f : 1e-2f);
        jobs[t].in[2] = hb_randn(HB_SHAPE(3 + t, 20), &rng);
        jobs[t].in[3] = hb_mul_scalar(x, t ? 7.0f : -30.0f);
        for (int i = 0; i < CALL_INPUTS; i++) {
            ck_assert_tensor_ok(jobs[t].in[i]);
            jobs[t].want[i] = test_call_ok(eager, jobs[t].in[i]);
            if (warm) { /* plans made serially first: twice, so the second runs the plan */
                for (int k = 0; k < 2; k++) {
                    hb_tensor *y = test_call_ok(net, jobs[t].in[i]);
                    ck_assert_msg(test_same_result(y, jobs[t].want[i]),
                                  "serial hybrid call differs from eager (thread %d input %d)",
                                  t, i);
                    hb_tensor_release(y);
                }
            }
        }
    }
    if (warm) {
        ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20)));
        ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(3, 20)));
    }
    run_call_jobs(jobs, &start);
    /* Both signatures compiled, with the island. */
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20)));
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(4, 20)));
    for (int t = 0; t < CALL_THREADS; t++)
        for (int i = 0; i < CALL_INPUTS; i++)
            hb_tensor_release(jobs[t].in[i]), hb_tensor_release(jobs[t].want[i]);
    hb_tensor_release(x);
    hb_block_release(eager);
    hb_block_release(net);
}

START_TEST(threads_call_chimera_after_warmup)
{
    run_chimera_threads(true);
}
END_TEST

START_TEST(threads_call_chimera_from_cold)
{
    run_chimera_threads(false);
}
END_TEST

/* ---- 7. parameter updates and loads ------------------------------------------------------- */

START_TEST(parameter_updates_are_seen)
{
    hb_tensor *x = NULL;
    hb_block *net = hybrid_model_called_twice("mlp", &x);
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20)));
    hb_tensor *before = test_call_ok(net, x);

    /* In place, on both the hybridized net and a fresh eager one. */
    hb_block *eager = test_model("mlp");
    hb_tensor_data(hb_block_param(hb_block_child(net, "0"), "bias"))[0] += 1.0f;
    hb_tensor_data(hb_block_param(hb_block_child(eager, "0"), "bias"))[0] += 1.0f;
    hb_tensor *y = test_call_ok(net, x), *e = test_call_ok(eager, x);
    ck_assert_msg(rel_error(y, e) <= 1e-5, "after an in-place update: relative error %g",
                  rel_error(y, e));
    ck_assert_msg(!test_same_bits(y, before), "the update changed nothing (test is too weak)");
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20))); /* still the same plan */
    hb_tensor_release(y), hb_tensor_release(e), hb_tensor_release(before);

    /* Other weights from a file: the plans go, results follow. */
    hb_block *other = example_model_new("mlp", 1);
    ck_assert_ptr_nonnull(other);
    hb_tensor_release(test_call_ok(other, x)); /* materializes the deferred weight */
    const char *path = temp_path("mlp-other.safetensors");
    ck_assert_msg(hb_block_save(other, path) == HB_OK, "%s", hb_last_error());
    ck_assert_msg(hb_block_load(net, path) == HB_OK, "%s", hb_last_error());
    y = test_call_ok(net, x);
    e = test_call_ok(other, x);
    ck_assert_msg(rel_error(y, e) <= 1e-5, "after a load: relative error %g", rel_error(y, e));
    hb_tensor_release(y), hb_tensor_release(e);
    hb_block_release(net);
    net = hybrid_model_called_twice("mlp", NULL);
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20)));
    ck_assert_msg(hb_block_load(net, path) == HB_OK, "%s", hb_last_error());
    /* hybrid.h: "Loading new weights drops the plans". */
    ck_assert_msg(hb_block_plan(net, HB_SHAPE(2, 20)) == NULL,
                  "hb_block_load kept the plan compiled for the old weights");
    y = test_call_ok(net, x);
    e = test_call_ok(other, x);
    ck_assert_msg(rel_error(y, e) <= 1e-5, "after a load: relative error %g", rel_error(y, e));
    hb_tensor_release(y), hb_tensor_release(e);
    unlink(path);
    hb_tensor_release(x);
    hb_block_release(other), hb_block_release(eager), hb_block_release(net);
}
END_TEST

/* Live weights kept packed (weights.c): a plan packs a parameter's GEMM panels or a
 * convolution's Winograd-transformed weights once per version of its values, and every change
 * the library makes or hb_tensor_data allows is seen. Conv2d(16, 16, 3×3) at 28×28 takes
 * Winograd F(4×4) with 49 tiles; Linear(64, 64) at 16 rows is a whole tile of hybrid's GEMM. */
enum { LIVE_TILE, LIVE_CONV, LIVE_SMALL }; /* Linear(20, 256) at 2 rows: kept transposed */

static hb_block *live_net(int kind)
{
    hb_seed(17);
    hb_conv2d_options o = {.stride = {1, 1}, .padding = {1, 1}, .dilation = {1, 1}, .groups = 1};
    hb_block *layer = kind == LIVE_CONV   ? hb_conv2d_new(16, 16, 3, 3, &o, true)
                      : kind == LIVE_TILE ? hb_linear_new(64, 64)
                                          : hb_linear_new(20, 256);
    hb_block *net = hb_sequential_of(layer, hb_relu_new());
    ck_assert_ptr_nonnull(net);
    return net;
}

static hb_tensor *live_input(int kind)
{
    hb_rng rng;
    hb_rng_seed(&rng, 23);
    return kind == LIVE_CONV   ? hb_randn(HB_SHAPE(1, 16, 28, 28), &rng)
           : kind == LIVE_TILE ? hb_randn(HB_SHAPE(16, 64), &rng)
                               : hb_randn(HB_SHAPE(2, 20), &rng);
}

/* The live_weights counts of the plan explain shows last. */
static void live_counts(hb_block *net, int *held, int *waiting, int *open)
{
    cJSON *j = explain_json(net);
    const cJSON *lw = cJSON_GetObjectItemCaseSensitive(j, "live_weights");
    ck_assert_msg(cJSON_IsObject(lw), "explain JSON: no live_weights");
    *held = (int)json_number(lw, "held");
    *waiting = (int)json_number(lw, "waiting");
    *open = (int)json_number(lw, "open");
    cJSON_Delete(j);
}

/* net and eager called on x agree (what = the step before); returns net's result. */
static hb_tensor *live_agree(hb_block *net, hb_block *eager, hb_tensor *x, double tol,
                             const char *what)
{
    hb_tensor *y = test_call_ok(net, x), *e = test_call_ok(eager, x);
    ck_assert_msg(tol == 0 ? test_same_result(y, e) : rel_error(y, e) <= tol,
                  "%s: the plan's result differs from eager (relative error %g)", what,
                  rel_error(y, e));
    hb_tensor_release(e);
    return y;
}

static void expect_live(hb_block *net, int held, int waiting, int open, const char *what)
{
    int h, w, o;
    live_counts(net, &h, &w, &o);
    ck_assert_msg(h == held && w == waiting && o == open,
                  "%s: live weights %d held, %d waiting, %d open; expected %d, %d, %d", what, h,
                  w, o, held, waiting, open);
}

/* Two trainers' steps, one on each net, with the same target. */
static void live_train(hb_block *net, hb_block *eager, hb_tensor *x, bool compiled, int steps)
{
    hb_tensor *probe = test_call_ok(eager, x);
    hb_tensor *target = hb_zeros(hb_tensor_ndim(probe), hb_tensor_shape(probe));
    hb_optim_options oo = hb_optim_defaults(0.05f);
    hb_optimizer *o1 = hb_optimizer_new(net, HB_OPTIM_SGD, &oo), *o2 = hb_optimizer_new(eager, HB_OPTIM_SGD, &oo);
    hb_trainer *t1 = hb_trainer_new(net, HB_LOSS_MSE, o1, compiled);
    hb_trainer *t2 = hb_trainer_new(eager, HB_LOSS_MSE, o2, false);
    ck_assert(o1 && o2 && t1 && t2);
    for (int i = 0; i < steps; i++) {
        float l1, l2;
        ck_assert_msg(hb_train_step(t1, x, target, &l1) == HB_OK, "%s", hb_last_error());
        ck_assert_msg(hb_train_step(t2, x, target, &l2) == HB_OK, "%s", hb_last_error());
    }
    hb_trainer_free(t1), hb_trainer_free(t2);
    hb_optimizer_free(o1), hb_optimizer_free(o2);
    hb_tensor_release(target), hb_tensor_release(probe);
}

static void check_live_weights(int kind)
{
    hb_block *net = live_net(kind), *eager = live_net(kind);
    hb_tensor *x = live_input(kind);
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    hb_tensor *y = NULL;
    for (int call = 0; call < 4; call++) { /* traces, then a version seen once, then twice */
        hb_tensor_release(y);
        y = live_agree(net, eager, x, 0, "unchanged weights");
    }
    const hb_plan *plan = hb_block_plan(net, hb_tensor_ndim(x), hb_tensor_shape(x));
    ck_assert_ptr_nonnull(plan);
    expect_live(net, 1, 0, 0, "after four calls");

    /* Written through hb_tensor_data: open, packed per call until hb_tensor_written. */
    hb_tensor *w = hb_block_param(hb_block_child(net, "0"), "weight");
    hb_tensor *we = hb_block_param(hb_block_child(eager, "0"), "weight");
    hb_tensor_data(w)[0] += 0.5f, hb_tensor_data(we)[0] += 0.5f;
    for (int call = 0; call < 3; call++) {
        hb_tensor *z = live_agree(net, eager, x, 0, "written, still open");
        ck_assert_msg(!test_same_bits(z, y), "the write changed nothing (the test is too weak)");
        hb_tensor_release(z);
    }
    expect_live(net, 0, 0, 1, "open for writing");
    hb_tensor_written(w), hb_tensor_written(we);
    for (int call = 0; call < 3; call++)
        hb_tensor_release(live_agree(net, eager, x, 0, "after hb_tensor_written"));
    expect_live(net, 1, 0, 0, "after hb_tensor_written and three calls");
    /* Written again and closed at once: a new version, never the one packed. */
    hb_tensor_data(w)[1] -= 0.25f, hb_tensor_data(we)[1] -= 0.25f;
    hb_tensor_written(w), hb_tensor_written(we);
    for (int call = 0; call < 3; call++)
        hb_tensor_release(live_agree(net, eager, x, 0, "written and closed again"));
    expect_live(net, 1, 0, 0, "written and closed again, three calls");

    /* An optimizer step (eager trainer: hb_optimizer_step), then a compiled training step,
     * whose plan writes the weights in place. */
    live_train(net, eager, x, false, 1);
    expect_live(net, 0, 1, 0, "right after an optimizer step");
    hb_tensor_release(y);
    y = live_agree(net, eager, x, 0, "after an optimizer step");
    for (int call = 0; call < 2; call++)
        hb_tensor_release(live_agree(net, eager, x, 0, "after an optimizer step"));
    expect_live(net, 1, 0, 0, "after an optimizer step and three calls");
    live_train(net, eager, x, true, 3);
    for (int call = 0; call < 3; call++) {
        hb_tensor *z = live_agree(net, eager, x, 1e-5, "after compiled training steps");
        ck_assert_msg(!test_same_bits(z, y), "training changed nothing (the test is too weak)");
        hb_tensor_release(z);
    }
    ck_assert_msg(hb_block_plan(net, hb_tensor_ndim(x), hb_tensor_shape(x)) == plan,
                  "the plan was replaced: its kept weights were not what was tested");
    hb_tensor_release(y), hb_tensor_release(x);
    hb_block_release(net), hb_block_release(eager);
}

START_TEST(live_weights_kept_until_changed)
{
    check_live_weights(_i);
}
END_TEST

/* Threads calling one plan while another opens and closes the weight again and again (its
 * values unchanged: no data race, only new versions): every result stays the plan's. */
typedef struct toggle_job {
    hb_tensor *w;
    atomic_bool stop;
} toggle_job;

static void *toggle_worker(void *arg)
{
    toggle_job *j = arg;
    while (!atomic_load(&j->stop)) {
        (void)hb_tensor_data(j->w);
        hb_tensor_written(j->w);
    }
    return NULL;
}

START_TEST(live_weights_refresh_under_threads)
{
    int kind = _i;
    hb_block *net = live_net(kind), *eager = live_net(kind);
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    static call_job jobs[CALL_THREADS];
    pthread_barrier_t start;
    ck_assert_int_eq(pthread_barrier_init(&start, NULL, CALL_THREADS), 0);
    hb_tensor *x = live_input(kind);
    for (int t = 0; t < CALL_THREADS; t++) {
        jobs[t] = (call_job){.net = net, .start = &start};
        for (int i = 0; i < CALL_INPUTS; i++) {
            jobs[t].in[i] = hb_mul_scalar(x, 1.0f + 0.5f * (float)(t * CALL_INPUTS + i));
            jobs[t].want[i] = test_call_ok(eager, jobs[t].in[i]);
        }
    }
    hb_tensor_release(test_call_ok(net, x)); /* the trace */
    toggle_job toggle = {.w = hb_block_param(hb_block_child(net, "0"), "weight")};
    atomic_init(&toggle.stop, false);
    pthread_t tog;
    ck_assert_int_eq(pthread_create(&tog, NULL, toggle_worker, &toggle), 0);
    run_call_jobs(jobs, &start);
    atomic_store(&toggle.stop, true);
    pthread_join(tog, NULL);
    for (int t = 0; t < CALL_THREADS; t++) {
        for (int i = 0; i < CALL_INPUTS; i++)
            hb_tensor_release(jobs[t].in[i]), hb_tensor_release(jobs[t].want[i]);
    }
    hb_tensor_release(x);
    hb_block_release(net), hb_block_release(eager);
}
END_TEST

/* ---- 8. custom blocks --------------------------------------------------------------------- */

static hb_tensor *branch_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    if (hb_item(hb_sum(x)) > 0)
        return hb_relu(x);
    else
        return hb_neg(x);
}

static hb_tensor *rand_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    int64_t shape[HB_MAX_DIMS];
    memcpy(shape, hb_tensor_shape(x), sizeof(int64_t) * (size_t)hb_tensor_ndim(x));
    return hb_add(x, hb_mul_scalar(hb_rand(hb_tensor_ndim(x), shape, NULL), 0.5f));
}

static hb_tensor *host_data_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    static float bias[20];
    for (int i = 0; i < 20; i++)
        bias[i] = 0.25f * (float)(i % 5) - 0.5f;
    return hb_add(x, hb_tensor_from(bias, HB_SHAPE(20)));
}

static hb_tensor *write_data_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    hb_tensor *y = hb_mul_scalar(x, 2.0f);
    float *d = hb_tensor_data(y);
    if (d)
        d[0] = fabsf(d[0]) + 1.0f;
    return y;
}

typedef struct custom_kind {
    const char *name;
    hb_forward_fn forward;
    bool random; /* draws from the default generator: seed before each call */
} custom_kind;

static const custom_kind custom_kinds[] = {
    {"branch", branch_forward, false},
    {"rand", rand_forward, true},
    {"host-data", host_data_forward, false},
    {"write-data", write_data_forward, false},
};

/* Sequential(Tanh, custom, Linear(20, 4)) named after the kind: tanh keeps the sign of the sum,
 * so x and -x take the branch's two sides. Seeded, so two instances have the same weights. */
static hb_block *custom_net(const custom_kind *k)
{
    hb_seed(99);
    hb_block *net = hb_sequential_of(hb_tanh_new(), hb_block_new(k->name, k->forward),
                                     hb_linear_new(20, 4));
    ck_assert_ptr_nonnull(net);
    hb_block_set_name(net, k->name);
    return net;
}

START_TEST(custom_islands)
{
    const custom_kind *k = &custom_kinds[_i];
    hb_block *hy = custom_net(k), *ea = custom_net(k);
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    hb_tensor *x = test_fixture("mlp", "input.npy");
    hb_tensor *nx = hb_neg(x);
    hb_tensor *sum = hb_sum(x);
    bool positive = hb_item(sum) > 0;
    hb_tensor_release(sum);
    hb_tensor *pos = positive ? x : nx, *neg = positive ? nx : x;
    for (int i = 0; i < 12; i++) {
        hb_tensor *in = i % 2 ? neg : pos;
        if (k->random)
            hb_seed(1000 + (uint64_t)i);
        hb_tensor *y = hb_block_call(hy, in);
        ck_assert_msg(y != NULL, "%s call %d: %s", k->name, i, hb_last_error());
        if (k->random)
            hb_seed(1000 + (uint64_t)i);
        hb_tensor *e = test_call_ok(ea, in);
        ck_assert_msg(rel_error(y, e) <= 1e-5, "%s call %d: hybrid vs eager relative error %g",
                      k->name, i, rel_error(y, e));
        hb_tensor_release(y), hb_tensor_release(e);
    }
    /* The parent compiled around one island at NAME/1, which explain names. */
    ck_assert_ptr_nonnull(hb_block_plan(hy, HB_SHAPE(2, 20)));
    cJSON *j = explain_json(hy);
    char path[64];
    snprintf(path, sizeof path, "%s/1", k->name);
    const cJSON *island = json_island(j, path);
    char *text = cJSON_PrintUnformatted(j);
    ck_assert_msg(island != NULL, "%s: explain does not name the island:\n%s", path, text);
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(island, "reason");
    ck_assert_msg(cJSON_IsString(reason) && reason->valuestring[0], "no reason:\n%s", text);
    cJSON_free(text);
    cJSON_Delete(j);
    hb_tensor_release(x), hb_tensor_release(nx);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

/* The branching block as the root: it runs eagerly for good, never a stale branch. */
START_TEST(branch_root_alternates)
{
    hb_block *b = hb_block_new("Branch", branch_forward);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(hb_hybridize(b, true), HB_OK);
    hb_tensor *x = hb_full(HB_SHAPE(2, 3), 1.0f);
    hb_tensor_data(x)[1] = -2.0f; /* sum 3 */
    hb_tensor *nx = hb_neg(x);
    for (int i = 0; i < 10; i++) {
        hb_tensor *in = i % 2 ? nx : x;
        hb_tensor *y = test_call_ok(b, in);
        /* positive sum: relu(x); negative: -x */
        hb_tensor *want = i % 2 ? hb_neg(in) : hb_relu(in);
        ck_assert_msg(test_same_bits(y, want), "call %d took the wrong branch", i);
        hb_tensor_release(y), hb_tensor_release(want);
    }
    ck_assert_ptr_null(hb_block_plan(b, HB_SHAPE(2, 3)));
    cJSON *j = explain_json(b);
    ck_assert_ptr_nonnull(json_island(j, "Branch"));
    cJSON_Delete(j);
    hb_tensor_release(x), hb_tensor_release(nx);
    hb_block_release(b);
}
END_TEST

static hb_tensor *dead_code_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    hb_tensor *unused = hb_tanh(hb_mul_scalar(x, 3.0f));
    (void)unused;
    return hb_relu(hb_add_scalar(x, 0.5f));
}

START_TEST(dead_code_is_dropped)
{
    hb_block *b = hb_block_new("DeadCode", dead_code_forward);
    ck_assert_int_eq(hb_hybridize(b, true), HB_OK);
    hb_tensor *x = test_fixture("mlp", "input.npy");
    hb_tensor *shifted = hb_add_scalar(x, 0.5f), *want = hb_relu(shifted);
    hb_tensor_release(shifted);
    for (int i = 0; i < 3; i++) {
        hb_tensor *y = test_call_ok(b, x);
        ck_assert_msg(test_same_bits(y, want), "call %d: wrong result", i);
        hb_tensor_release(y);
    }
    ck_assert_ptr_nonnull(hb_block_plan(b, HB_SHAPE(2, 20)));
    cJSON *j = explain_json(b);
    double traced = json_number(j, "nodes_traced"), after = json_number(j, "nodes_after_passes");
    ck_assert_msg(traced > after, "nodes traced %g, after passes %g", traced, after);
    ck_assert_int_eq((int)after, hb_graph_num_nodes(hb_block_graph(b, HB_SHAPE(2, 20))));
    cJSON_Delete(j);
    hb_tensor_release(x), hb_tensor_release(want);
    hb_block_release(b);
}
END_TEST

static hb_tensor *identity_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    return x;
}

static hb_tensor *param_forward(hb_block *self, hb_tensor *x)
{
    (void)x;
    return hb_block_param(self, "p");
}

static hb_block *param_block(void)
{
    hb_block *b = hb_block_new("ParamOut", param_forward);
    ck_assert_int_eq(hb_block_add_param(b, "p", HB_SHAPE(2, 5),
                                        (hb_init){HB_INIT_UNIFORM, -1.0f, 1.0f, NULL}),
                     HB_OK);
    return b;
}

START_TEST(identity_block)
{
    hb_block *b = hb_block_new("Identity", identity_forward);
    /* Also inside a parent, between compiled layers. */
    hb_seed(4);
    hb_block *seq = hb_sequential_of(hb_block_new("Identity", identity_forward),
                                     hb_linear_new(20, 3),
                                     hb_block_new("Identity", identity_forward));
    hb_block *lin = hb_block_child(seq, "1");
    ck_assert_int_eq(hb_hybridize(b, true), HB_OK);
    ck_assert_int_eq(hb_hybridize(seq, true), HB_OK);
    hb_tensor *x = test_fixture("mlp", "input.npy");
    hb_tensor *want = hb_linear(x, hb_block_param(lin, "weight"), hb_block_param(lin, "bias"));
    for (int i = 0; i < 3; i++) {
        hb_tensor *y = test_call_ok(b, x);
        ck_assert_msg(test_same_bits(y, x), "identity call %d changed the values", i);
        hb_tensor_release(y);
        y = test_call_ok(seq, x);
        ck_assert_msg(rel_error(y, want) <= 1e-6, "sequential call %d: relative error %g", i,
                      rel_error(y, want));
        hb_tensor_release(y);
    }
    ck_assert_ptr_nonnull(hb_block_plan(b, HB_SHAPE(2, 20)));
    ck_assert_ptr_nonnull(hb_block_plan(seq, HB_SHAPE(2, 20)));
    /* The input tensor is the caller's: calls must not have written into it. */
    hb_tensor *x2 = test_fixture("mlp", "input.npy");
    ck_assert(test_same_bits(x, x2));
    hb_tensor_release(x2);
    hb_tensor_release(x), hb_tensor_release(want);
    hb_block_release(b), hb_block_release(seq);
}
END_TEST

START_TEST(parameter_returning_block)
{
    hb_block *b = param_block();
    ck_assert_int_eq(hb_hybridize(b, true), HB_OK);
    hb_tensor *x = test_fixture("mlp", "input.npy");
    hb_tensor *p = hb_block_param(b, "p");
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 4; i++) {
        if (i == 3) /* read live: an update after the plan is seen */
            hb_tensor_data(p)[7] += 2.0f;
        hb_tensor *y = test_call_ok(b, x);
        ck_assert_msg(test_same_bits(y, p), "call %d: not the parameter's values", i);
        hb_tensor_release(y);
    }
    ck_assert_ptr_nonnull(hb_block_plan(b, HB_SHAPE(2, 20)));
    /* The parameter itself is untouched by the calls' results being released. */
    ck_assert_int_eq(hb_tensor_numel(hb_block_param(b, "p")), 10);
    /* Inside a parent: Sequential(ParamOut, ReLU). */
    hb_block *seq = hb_sequential_of(param_block(), hb_relu_new());
    ck_assert_int_eq(hb_hybridize(seq, true), HB_OK);
    hb_tensor *want = hb_relu(hb_block_param(hb_block_child(seq, "0"), "p"));
    for (int i = 0; i < 3; i++) {
        hb_tensor *y = test_call_ok(seq, x);
        ck_assert_msg(test_same_bits(y, want), "sequential call %d: wrong values", i);
        hb_tensor_release(y);
    }
    hb_tensor_release(want), hb_tensor_release(x);
    hb_block_release(b), hb_block_release(seq);
}
END_TEST

/* ---- more: eviction, live outside tensors, islands that fail or change shape ------------- */

/* More signatures than the cache keeps (16): evicted plans are traced again, never mixed up. */
START_TEST(many_signatures_evict_cleanly)
{
    hb_block *hy = test_model("mlp"), *ea = test_model("mlp");
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    hb_rng rng;
    hb_rng_seed(&rng, 17);
    hb_tensor *xs[19];
    for (int b = 1; b <= 18; b++)
        xs[b] = hb_randn(HB_SHAPE(b, 20), &rng);
    for (int round = 0; round < 3; round++)
        for (int b = 1; b <= 18; b++)
            for (int k = 0; k < 2; k++) {
                hb_tensor *y = test_call_ok(hy, xs[b]), *e = test_call_ok(ea, xs[b]);
                ck_assert_msg(test_same_result(y, e), "round %d batch %d call %d differs from eager",
                              round, b, k);
                hb_tensor_release(y), hb_tensor_release(e);
            }
    int plans = 0;
    for (int b = 1; b <= 18; b++)
        plans += hb_block_plan(hy, HB_SHAPE(b, 20)) != NULL;
    ck_assert_int_eq(plans, 16);
    ck_assert_ptr_nonnull(hb_block_plan(hy, HB_SHAPE(18, 20))); /* the most recent stays */
    for (int b = 1; b <= 18; b++)
        hb_tensor_release(xs[b]);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

/* A tensor from outside the block tree is read live by the plan; one filled in the forward
 * (hb_full) is a constant of the trace; neither makes an island. */
static hb_tensor *outside;

static hb_tensor *outside_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    return hb_mul(hb_add(x, outside), hb_full(HB_SHAPE(20), 2.0f));
}

START_TEST(outside_tensors_are_read_live)
{
    outside = hb_zeros(HB_SHAPE(20));
    hb_block *b = hb_block_new("Outside", outside_forward);
    ck_assert_int_eq(hb_hybridize(b, true), HB_OK);
    hb_tensor *x = test_fixture("mlp", "input.npy");
    for (int i = 0; i < 5; i++) {
        hb_tensor_data(outside)[i % 20] = (float)i + 0.5f;
        hb_tensor *y = test_call_ok(b, x);
        hb_tensor *sum = hb_add(x, outside), *want = hb_mul_scalar(sum, 2.0f);
        ck_assert_msg(test_same_bits(y, want), "call %d does not see the outside tensor's update", i);
        hb_tensor_release(y), hb_tensor_release(sum), hb_tensor_release(want);
    }
    ck_assert_ptr_nonnull(hb_block_plan(b, HB_SHAPE(2, 20)));
    cJSON *j = explain_json(b);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "eager_islands")),
                     0);
    cJSON_Delete(j);
    hb_tensor_release(x);
    hb_tensor_release(outside);
    outside = NULL;
    hb_block_release(b);
}
END_TEST

/* An island that reads its input (hb_tensor_cdata): explain names the op that made the value
 * read, here the Linear before it, and the function in the reason. */
static hb_tensor *clamp_first_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    const float *d = hb_tensor_cdata(x);
    return d && d[0] > 0 ? hb_mul_scalar(x, 0.5f) : hb_add_scalar(x, 1.0f);
}

START_TEST(island_reading_its_input)
{
    hb_seed(5);
    hb_block *hy = hb_sequential_of(hb_linear_new(20, 6), hb_block_new("Clamp",
                                                                      clamp_first_forward));
    hb_seed(5);
    hb_block *ea = hb_sequential_of(hb_linear_new(20, 6), hb_block_new("Clamp",
                                                                      clamp_first_forward));
    hb_block_set_name(hy, "clamp");
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    hb_tensor *x = test_fixture("mlp", "input.npy");
    for (int i = 0; i < 8; i++) {
        hb_tensor *in = hb_mul_scalar(x, i % 2 ? -1.0f : 1.0f);
        hb_tensor *y = test_call_ok(hy, in), *e = test_call_ok(ea, in);
        ck_assert_msg(test_same_result(y, e), "call %d differs from eager", i);
        hb_tensor_release(y), hb_tensor_release(e), hb_tensor_release(in);
    }
    cJSON *j = explain_json(hy);
    const cJSON *island = json_island(j, "clamp/1");
    ck_assert_ptr_nonnull(island);
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(island, "op");
    ck_assert_msg(cJSON_IsString(op) && strcmp(op->valuestring, "linear") == 0, "op %s",
                  cJSON_IsString(op) ? op->valuestring : "?");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(island, "reason");
    ck_assert_msg(cJSON_IsString(reason) && strstr(reason->valuestring, "hb_tensor_cdata"),
                  "reason %s", cJSON_IsString(reason) ? reason->valuestring : "?");
    cJSON_Delete(j);
    hb_tensor_release(x);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

/* An island inside an island: Outer reads values and calls Branch, which reads values too. */
static hb_tensor *outer_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *y = hb_block_call(hb_block_child(self, "inner"), x);
    return hb_item(hb_max(y)) > 0.5f ? hb_mul_scalar(y, 0.5f) : hb_add_scalar(y, 0.25f);
}

static hb_block *outer_net(void)
{
    hb_seed(6);
    hb_block *outer = hb_block_new("Outer", outer_forward);
    hb_block_add_child(outer, "inner", hb_block_new("Branch", branch_forward));
    hb_block *net = hb_sequential_of(hb_tanh_new(), outer, hb_linear_new(20, 3));
    hb_block_set_name(net, "outer");
    return net;
}

START_TEST(nested_islands)
{
    hb_block *hy = outer_net(), *ea = outer_net();
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    hb_tensor *x = test_fixture("mlp", "input.npy");
    const float scales[] = {1, -1, 0.01f, -0.01f, 3, -3, 1, -1};
    for (size_t i = 0; i < ARRAY_LEN(scales); i++) {
        hb_tensor *in = hb_mul_scalar(x, scales[i]);
        hb_tensor *y = test_call_ok(hy, in), *e = test_call_ok(ea, in);
        ck_assert_msg(test_same_result(y, e), "call %zu (scale %g) differs from eager", i,
                      (double)scales[i]);
        hb_tensor_release(y), hb_tensor_release(e), hb_tensor_release(in);
    }
    const hb_graph *g = hb_block_graph(hy, HB_SHAPE(2, 20));
    ck_assert_ptr_nonnull(g);
    char *text = hb_graph_to_string(g);
    ck_assert_msg(test_count_substr(text, "island(") == 1 && strstr(text, "@outer/1\n"),
                  "want one island at outer/1:\n%s", text);
    hb_free(text);
    hb_tensor_release(x);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

/* An island that fails on some inputs: the call fails with the island's path, the next call
 * works, nothing leaks. */
static hb_tensor *picky_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    if (hb_item(hb_sum(x)) < 0)
        return hb_reshape(x, HB_SHAPE(7, -1)); /* 40 elements: fails */
    return hb_relu(x);
}

START_TEST(island_failure_is_an_error)
{
    hb_seed(7);
    hb_block *net = hb_sequential_of(hb_tanh_new(), hb_block_new("Picky", picky_forward),
                                     hb_linear_new(20, 3));
    hb_block_set_name(net, "picky");
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    hb_tensor *x = hb_full(HB_SHAPE(2, 20), 0.5f), *nx = hb_neg(x);
    hb_tensor *first = test_call_ok(net, x);
    for (int i = 0; i < 4; i++) {
        hb_tensor *y = hb_block_call(net, nx);
        ck_assert_msg(y == NULL, "call %d: the island's failure gave a result", i);
        ck_assert_msg(strstr(hb_last_error(), "picky/1") != NULL,
                      "the error does not name the island: %s", hb_last_error());
        y = test_call_ok(net, x);
        ck_assert_msg(test_same_bits(y, first), "call %d after a failure differs", i);
        hb_tensor_release(y);
    }
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20)));
    hb_tensor_release(first), hb_tensor_release(x), hb_tensor_release(nx);
    hb_block_release(net);
}
END_TEST

/* An island whose output shape depends on the data cannot sit in a plan compiled for another
 * shape: the call must fail (or be right), never return a wrong tensor. */
static hb_tensor *shape_shift_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    if (hb_item(hb_sum(x)) > 0)
        return hb_relu(x);
    return hb_sum_axis(x, 1, true); /* [2, 1] */
}

START_TEST(island_changing_shape_never_lies)
{
    hb_block *hy = hb_sequential_of(hb_tanh_new(), hb_block_new("Shift", shape_shift_forward));
    hb_block *ea = hb_sequential_of(hb_tanh_new(), hb_block_new("Shift", shape_shift_forward));
    hb_block_set_name(hy, "shift");
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    hb_tensor *x = hb_full(HB_SHAPE(2, 20), 0.5f), *nx = hb_neg(x);
    for (int i = 0; i < 6; i++) {
        hb_tensor *in = i % 2 ? nx : x;
        hb_tensor *y = hb_block_call(hy, in);
        char err[512];
        snprintf(err, sizeof err, "%s", hb_last_error());
        hb_tensor *e = test_call_ok(ea, in);
        if (y)
            ck_assert_msg(test_same_result(y, e), "call %d: a wrong result", i);
        else
            ck_assert_msg(strstr(err, "[2, 1]") && strstr(err, "[2, 20]"), "call %d: %s", i,
                          err);
        if (i % 2 == 0)
            ck_assert_msg(y != NULL, "call %d: %s", i, err);
        hb_tensor_release(y), hb_tensor_release(e);
    }
    hb_tensor_release(x), hb_tensor_release(nx);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

/* hb_hybridize(net, false) goes back to eager; true again uses the plans kept. */
START_TEST(hybridize_off_and_on)
{
    hb_tensor *x = NULL;
    hb_block *net = hybrid_model_called_twice("chimera", &x);
    hb_block *eager = test_model("chimera");
    hb_tensor *want = test_call_ok(eager, x);
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(hb_hybridize(net, round != 1), HB_OK);
        hb_tensor *y = test_call_ok(net, x);
        ck_assert_msg(test_same_result(y, want), "round %d differs", round);
        hb_tensor_release(y);
    }
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20)));
    hb_tensor_release(want), hb_tensor_release(x);
    hb_block_release(eager), hb_block_release(net);
}
END_TEST

/* Dumping a net that is already hybridized and compiled gives the same text as the golden. */
START_TEST(dump_of_compiled_chimera_matches_golden)
{
    hb_tensor *x = NULL;
    hb_block *net = hybrid_model_called_twice("chimera", &x);
    char *got = dump_to_string(net, x, false);
    char *want = test_slurp(data_path("../golden/chimera.ir"));
    ck_assert_ptr_nonnull(want);
    ck_assert_msg(strcmp(got, want) == 0, "dump after hybridizing:\n%s", got);
    /* And the net still runs its plan correctly afterwards. */
    hb_block *eager = test_model("chimera");
    hb_tensor *y = test_call_ok(net, x), *e = test_call_ok(eager, x);
    ck_assert(test_same_result(y, e));
    hb_tensor_release(y), hb_tensor_release(e);
    free(got), free(want);
    hb_tensor_release(x);
    hb_block_release(eager), hb_block_release(net);
}
END_TEST

/* ---- 9. explain --------------------------------------------------------------------------- */

START_TEST(explain_chimera)
{
    hb_block *net = hybrid_model_called_twice("chimera", NULL);
    cJSON *j = explain_json(net);
    char *text = cJSON_PrintUnformatted(j);
    double traced = json_number(j, "nodes_traced");
    double after = json_number(j, "nodes_after_passes");
    double instrs = json_number(j, "plan_instructions");
    double arena = json_number(j, "arena_bytes"), unplanned = json_number(j, "unplanned_bytes");
    ck_assert_msg(traced > 0 && after > 0 && instrs > 0, "%s", text);
    ck_assert_msg(after <= traced, "%s", text);
    ck_assert_msg(arena <= unplanned, "arena %g > unplanned %g", arena, unplanned);
    ck_assert_msg(unplanned > 0, "%s", text);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "eager_islands");
    ck_assert_msg(cJSON_IsArray(list) && cJSON_GetArraySize(list) == 0, "%s", text);
    ck_assert_msg(json_number(j, "guards") >= 1, "%s", text);
    hb_plan *p = hb_block_plan(net, HB_SHAPE(2, 20));
    ck_assert_int_eq((int)instrs, hb_plan_num_instructions(p));
    ck_assert_int_eq((long long)arena, hb_plan_arena_bytes(p));
    cJSON_free(text);
    cJSON_Delete(j);

    char *t = explain_to_string(net, false);
    ck_assert_msg(strstr(t, "guards (one path through hb_test outcomes, 1") != NULL, "%s", t);
    free(t);
    hb_block_release(net);
}
END_TEST

/* ---- 10. retrace log ---------------------------------------------------------------------- */

START_TEST(retrace_is_logged)
{
    hb_block *net = hybrid_model_called_twice("mlp", NULL);
    char *t = explain_to_string(net, false);
    ck_assert_msg(strstr(t, "first call with input [2, 20]") != NULL, "%s", t);
    free(t);
    hb_rng rng;
    hb_rng_seed(&rng, 8);
    hb_tensor *x5 = hb_randn(HB_SHAPE(5, 20), &rng);
    hb_tensor_release(test_call_ok(net, x5));
    t = explain_to_string(net, false);
    ck_assert_msg(strstr(t, "input changed from [2, 20] to [5, 20]") != NULL, "%s", t);
    free(t);
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 20)));
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(5, 20)));
    hb_tensor_release(x5);
    hb_block_release(net);
}
END_TEST

/* ---- 11. errors --------------------------------------------------------------------------- */

START_TEST(wrong_width_after_tracing)
{
    hb_tensor *x = NULL;
    hb_block *net = hybrid_model_called_twice("mlp", &x);
    hb_tensor *bad = hb_zeros(HB_SHAPE(2, 7));
    hb_tensor *y = hb_block_call(net, bad);
    ck_assert_ptr_null(y);
    const char *msg = hb_last_error();
    ck_assert_msg(strstr(msg, "[2, 7]") != NULL && strstr(msg, "[256, 20]") != NULL,
                  "the error does not name both shapes: %s", msg);
    ck_assert_msg(strstr(msg, "mlp/0") != NULL, "the error does not name the block: %s", msg);
    ck_assert_ptr_null(hb_block_plan(net, HB_SHAPE(2, 7)));
    /* Again: the same failure (nothing half-compiled was kept), not a stale result. */
    ck_assert_ptr_null(hb_block_call(net, bad));
    ck_assert_msg(strstr(hb_last_error(), "[2, 7]") != NULL, "%s", hb_last_error());
    /* A rank-1 input is valid for Linear (as in PyTorch): one more signature, eager-equal. */
    hb_block *eager1 = test_model("mlp");
    hb_tensor *flat = hb_full(HB_SHAPE(20), 0.25f);
    for (int i = 0; i < 2; i++) {
        hb_tensor *yf = test_call_ok(net, flat), *ef = test_call_ok(eager1, flat);
        ck_assert(test_same_bits(yf, ef));
        ck_assert_int_eq(hb_tensor_ndim(yf), 1);
        hb_tensor_release(yf), hb_tensor_release(ef);
    }
    ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(20)));
    hb_tensor_release(flat);
    hb_block_release(eager1);
    /* The net still works at its width. */
    hb_block *eager = test_model("mlp");
    y = test_call_ok(net, x);
    hb_tensor *e = test_call_ok(eager, x);
    ck_assert(rel_error(y, e) <= 1e-5);
    hb_tensor_release(y), hb_tensor_release(e), hb_tensor_release(bad), hb_tensor_release(x);
    hb_block_release(eager), hb_block_release(net);
}
END_TEST

START_TEST(hybridize_null)
{
    ck_assert_int_eq(hb_hybridize(NULL, true), HB_ERR_ARG);
    ck_assert_int_eq(hb_hybridize(NULL, false), HB_ERR_ARG);
    ck_assert_ptr_null(hb_block_plan(NULL, HB_SHAPE(2, 20)));
    ck_assert_ptr_null(hb_block_graph(NULL, HB_SHAPE(2, 20)));
}
END_TEST

/* ---- main --------------------------------------------------------------------------------- */


/* ---- 12. guards: hb_test keeps control flow compiled, one plan per path ------------------ */

static long long json_plans_for(cJSON *j, const char *block)
{
    long long n = 0;
    const cJSON *plans = cJSON_GetObjectItemCaseSensitive(j, "plans"), *p;
    cJSON_ArrayForEach(p, plans)
    {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(p, "block");
        n += cJSON_IsString(b) && strcmp(b->valuestring, block) == 0;
    }
    return n;
}

/* Inputs that send Branch's if/else one way, then the other, alternating: every result equals
 * eager; after both paths are compiled, no call traces again. */
START_TEST(branch_alternates_paths)
{
    hb_block *hy = test_model("branch"), *ea = test_model("branch");
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    hb_rng rng;
    hb_rng_seed(&rng, 23);
    hb_tensor *x = hb_randn(HB_SHAPE(2, 20), &rng), *nx = hb_mul_scalar(x, -1.0f);
    hb_tensor *xs[2] = {x, nx};
    for (int i = 0; i < 12; i++) {
        hb_tensor *y = test_call_ok(hy, xs[i % 2]), *e = test_call_ok(ea, xs[i % 2]);
        ck_assert_msg(test_same_result(y, e), "call %d differs from eager", i);
        hb_tensor_release(y), hb_tensor_release(e);
    }
    cJSON *j = explain_json(hy);
    char *text = cJSON_PrintUnformatted(j);
    ck_assert_msg(json_plans_for(j, "branch") == 2, "want one plan per path: %s", text);
    ck_assert_msg(json_number(j, "side_exits") >= 1, "%s", text);
    ck_assert_msg(json_number(j, "guards") == 1, "%s", text);
    cJSON_free(text);
    cJSON_Delete(j);
    char *t = explain_to_string(hy, false);
    ck_assert_msg(strstr(t, "2 traced") != NULL, "only two traces, one per path:\n%s", t);
    free(t);
    /* hb_plan_run on a plan whose path an input does not take says so. */
    hb_plan *p = hb_block_plan(hy, HB_SHAPE(2, 20));
    hb_plan_ctx *ctx = hb_plan_ctx_new(p);
    float out[16];
    hb_status a = hb_plan_run(p, ctx, hb_tensor_data(x), out);
    hb_status b = hb_plan_run(p, ctx, hb_tensor_data(nx), out);
    ck_assert_msg((a == HB_OK) != (b == HB_OK), "one input per path: %d %d", a, b);
    ck_assert_int_eq(a == HB_OK ? b : a, HB_ERR_GUARD);
    hb_plan_ctx_free(ctx);
    hb_tensor_release(x), hb_tensor_release(nx);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

/* FixedHiddenMLP's loop runs a different number of times for inputs scaled by 1e-3, 1, 10
 * and 1e4: the lifted loop serves every count from one trace, and every call equals eager. */
START_TEST(loop_counts_are_paths)
{
    const char *names[] = {"fixed-hidden", "chimera"};
    for (int m = 0; m < 2; m++) {
        hb_block *hy = test_model(names[m]), *ea = test_model(names[m]);
        ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
        hb_tensor *x = test_fixture(names[m], "input.npy");
        const float scales[] = {1e-3f, 1.0f, 10.0f, 1e4f};
        for (int round = 0; round < 3; round++)
            for (int k = 0; k < 4; k++) {
                hb_tensor *xs = hb_mul_scalar(x, scales[k]);
                hb_tensor *y = test_call_ok(hy, xs), *e = test_call_ok(ea, xs);
                ck_assert_msg(rel_error(y, e) <= 1e-5, "%s scale %g round %d: %g", names[m],
                              (double)scales[k], round, rel_error(y, e));
                hb_tensor_release(xs), hb_tensor_release(y), hb_tensor_release(e);
            }
        cJSON *j = explain_json(hy);
        char *text = cJSON_PrintUnformatted(j);
        long long plans = json_plans_for(j, names[m]);
        ck_assert_msg(plans == 1, "%s: one plan for every trip count: %s", names[m], text);
        char *t = explain_to_string(hy, false);
        ck_assert_msg(strstr(t, "1 traced") && strstr(t, "1 loops lifted"), "%s", t);
        free(t);
        ck_assert_msg(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "eager_islands")) ==
                          0, "%s", text);
        cJSON_free(text);
        cJSON_Delete(j);
        hb_tensor_release(x);
        hb_block_release(hy), hb_block_release(ea);
    }
}
END_TEST

/* A loop that runs k times for input k: paths for 0 and 1 rounds, and one lifted loop for
 * every count from 2 on; results right for all. */
static hb_tensor *countdown_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    hb_tensor *y = hb_mul_scalar(x, 1.0f);
    while (hb_test(hb_gt(hb_max(y), 0.5f)))
        y = hb_sub_scalar(y, 1.0f);
    return y;
}

START_TEST(lifted_loop_serves_every_count)
{
    hb_block *hy = hb_block_new("Countdown", countdown_forward);
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < 40; k++) {
            hb_tensor *x = hb_full(HB_SHAPE(3), (float)k);
            hb_tensor *y = test_call_ok(hy, x);
            for (int i = 0; i < 3; i++)
                ck_assert_float_eq(hb_tensor_data(y)[i], k > 0 ? 0.0f : (float)k);
            hb_tensor_release(x), hb_tensor_release(y);
        }
    char *t = explain_to_string(hy, false);
    ck_assert_msg(test_count_substr(t, "plan for input [3]") <= 3, "0, 1 and 2+ rounds:\n%s", t);
    ck_assert_msg(strstr(t, "1 loops lifted") != NULL, "%s", t);
    free(t);
    hb_block_release(hy);
}
END_TEST

/* A round that reads the loop's first state as well as the carried one is not lifted (the body
 * could not tell them apart); its paths still compile, and results stay right. */
static hb_tensor *reads_first_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    hb_tensor *y = x; /* the first state is x itself, which every round also reads */
    while (hb_test(hb_gt(hb_max(y), 0.5f)))
        y = hb_sub(hb_mul_scalar(y, 0.5f), hb_mul_scalar(x, 0.01f));
    return y;
}

START_TEST(loop_reading_its_first_state_is_not_lifted)
{
    hb_block *hy = hb_block_new("ReadsFirst", reads_first_forward);
    hb_block *ea = hb_block_new("ReadsFirst", reads_first_forward);
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    for (int k = 0; k < 12; k++) {
        hb_tensor *x = hb_full(HB_SHAPE(3), (float)(1 << (k % 6)));
        hb_tensor *y = test_call_ok(hy, x), *e = test_call_ok(ea, x);
        ck_assert_msg(test_same_result(y, e), "input %d differs from eager", k);
        hb_tensor_release(x), hb_tensor_release(y), hb_tensor_release(e);
    }
    char *t = explain_to_string(hy, false);
    ck_assert_msg(!strstr(t, "1 loops lifted") && strstr(t, "0 loops lifted"), "%s", t);
    free(t);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

/* Four independent tests give 16 paths: past the 8 kept, calls of new paths run eagerly, and
 * explain says so; results are right throughout. */
static hb_tensor *four_tests_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    hb_tensor *y = hb_mul_scalar(x, 1.0f);
    for (int i = 0; i < 4; i++) { /* bit i of the input: its dot with the constant e_i */
        char name[4] = {'e', (char)('0' + i), 0};
        hb_tensor *bit = hb_sum(hb_mul(x, hb_block_param(self, name)));
        y = hb_test(hb_gt(bit, 0.5f)) ? hb_add_scalar(y, (float)(1 << i)) : hb_sub_scalar(y, 1.0f);
    }
    return y;
}

START_TEST(paths_beyond_the_bound_run_eagerly)
{
    hb_block *hy = hb_block_new("FourTests", four_tests_forward);
    for (int i = 0; i < 4; i++) {
        float e[4] = {0};
        e[i] = 1.0f;
        char name[4] = {'e', (char)('0' + i), 0};
        ck_assert_int_eq(hb_block_add_const(hy, name, hb_tensor_from(e, HB_SHAPE(4))), HB_OK);
    }
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    for (int round = 0; round < 2; round++)
        for (int code = 0; code < 16; code++) {
            float v[4];
            for (int i = 0; i < 4; i++)
                v[i] = (code >> i) & 1 ? 1.0f : 0.0f;
            hb_tensor *x = hb_tensor_from(v, HB_SHAPE(4)), *y = test_call_ok(hy, x);
            float want = 0;
            for (int i = 0; i < 4; i++)
                want += (code >> i) & 1 ? (float)(1 << i) : -1.0f;
            for (int i = 0; i < 4; i++)
                ck_assert_float_eq(hb_tensor_data(y)[i], v[i] + want);
            hb_tensor_release(x), hb_tensor_release(y);
        }
    char *t = explain_to_string(hy, false);
    ck_assert_msg(strstr(t, "beyond the paths kept") != NULL, "%s", t);
    ck_assert_msg(test_count_substr(t, "plan for input [4]") == 8, "8 paths kept:\n%s", t);
    free(t);
    hb_block_release(hy);
}
END_TEST

START_TEST(test_needs_one_value)
{
    hb_tensor *two = hb_ones(HB_SHAPE(2));
    hb_clear_error();
    ck_assert(!hb_test(two));
    ck_assert_int_eq(hb_last_status(), HB_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "[2]"));
    hb_clear_error();
    ck_assert(!hb_test(NULL));
    ck_assert_int_eq(hb_last_status(), HB_ERR_ARG);
    hb_tensor *one = hb_scalar(-0.0f);
    ck_assert(!hb_test(one)); /* -0 is zero: false */
    hb_tensor_release(one), hb_tensor_release(two);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hybrid");
    TCase *tc = tcase_create("parity");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, parity, 0, (int)ARRAY_LEN(parity_models));
    tcase_add_loop_test(tc, parity_extra, 0, (int)test_fixture_model_count);
    tcase_add_test(tc, deferred_parameters_while_tracing);
    suite_add_tcase(s, tc);

    tc = tcase_create("compiles");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, mlp_compiles);
    tcase_add_test(tc, chimera_compiles_whole_with_guards);
    tcase_add_test(tc, fixed_hidden_compiles_with_guards);
    suite_add_tcase(s, tc);

    tc = tcase_create("ir");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, golden_dump, 0, (int)ARRAY_LEN(golden_models));
    tcase_add_loop_test(tc, golden_round_trip, 0, (int)ARRAY_LEN(golden_models));
    tcase_add_loop_test(tc, compiled_graphs_round_trip, 0, (int)test_fixture_model_count);
    tcase_add_loop_test(tc, dot_renders, 0, (int)ARRAY_LEN(golden_models));
    suite_add_tcase(s, tc);

    tc = tcase_create("plans");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, plan_run_allocates_nothing);
    tcase_add_test(tc, threads_share_one_plan);
    tcase_add_test(tc, threads_call_chimera_after_warmup);
    tcase_add_test(tc, threads_call_chimera_from_cold);
    tcase_add_test(tc, parameter_updates_are_seen);
    tcase_add_loop_test(tc, live_weights_kept_until_changed, 0, 3);
    tcase_add_loop_test(tc, live_weights_refresh_under_threads, 0, 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("custom");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, custom_islands, 0, (int)ARRAY_LEN(custom_kinds));
    tcase_add_test(tc, branch_root_alternates);
    tcase_add_test(tc, dead_code_is_dropped);
    tcase_add_test(tc, identity_block);
    tcase_add_test(tc, parameter_returning_block);
    suite_add_tcase(s, tc);

    tc = tcase_create("more");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, many_signatures_evict_cleanly);
    tcase_add_test(tc, outside_tensors_are_read_live);
    tcase_add_test(tc, island_reading_its_input);
    tcase_add_test(tc, nested_islands);
    tcase_add_test(tc, island_failure_is_an_error);
    tcase_add_test(tc, island_changing_shape_never_lies);
    tcase_add_test(tc, hybridize_off_and_on);
    tcase_add_test(tc, dump_of_compiled_chimera_matches_golden);
    suite_add_tcase(s, tc);

    tc = tcase_create("explain");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, explain_chimera);
    tcase_add_test(tc, retrace_is_logged);
    tcase_add_test(tc, wrong_width_after_tracing);
    tcase_add_test(tc, hybridize_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("guards");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, branch_alternates_paths);
    tcase_add_test(tc, loop_counts_are_paths);
    tcase_add_test(tc, lifted_loop_serves_every_count);
    tcase_add_test(tc, loop_reading_its_first_state_is_not_lifted);
    tcase_add_test(tc, paths_beyond_the_bound_run_eagerly);
    tcase_add_test(tc, test_needs_one_value);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

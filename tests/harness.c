/* Shared helpers of the Check suites. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models.h"
#include "hb_config.h"

const char *data_path(const char *rel)
{
    /* A ring of buffers, so one call can pass several paths. */
    static _Thread_local char bufs[8][2048];
    static _Thread_local int next;
    char *buf = bufs[next++ % 8];
    const char *root = getenv("HB_TEST_DATA");
    snprintf(buf, sizeof bufs[0], "%.1000s/%.1000s", root ? root : "tests/data", rel);
    return buf;
}

const char *temp_path(const char *name)
{
    static char dir[256];
    static _Thread_local char buf[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/hybrid-test-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

double rel_error(const hb_tensor *a, const hb_tensor *b)
{
    if (!a || !b || !hb_tensor_same_shape(a, b))
        return INFINITY;
    const float *x = hb_tensor_cdata(a), *y = hb_tensor_cdata(b);
    double worst = 0.0, scale = 0.0;
    for (int64_t i = 0; i < hb_tensor_numel(a); i++)
        scale = fmax(scale, fabs((double)y[i]));
    for (int64_t i = 0; i < hb_tensor_numel(a); i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (isnan(x[i]) != isnan(y[i]))
            return INFINITY;
        worst = fmax(worst, d / fmax(scale, 1e-6));
    }
    return worst;
}

double rel_error_buf(const float *a, const double *ref, int64_t n)
{
    double worst = 0.0, scale = 0.0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]) != isnan(ref[i]))
            return INFINITY;
        if (!isnan(ref[i]) && !(isinf(ref[i]) && a[i] == ref[i]))
            worst = fmax(worst, fabs((double)a[i] - ref[i]) / fmax(scale, 1e-6));
    }
    return worst;
}

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- the seed models and their fixtures (tests/data/NAME) --------------------------------- */

const char *const test_fixture_models[] = {"mlp", "mlp-class", "my-sequential", "fixed-hidden",
                                           "nest-mlp", "chimera", "parallel", "factory"};
const int test_fixture_model_count = (int)(sizeof test_fixture_models / sizeof *test_fixture_models);

bool test_has_fixture(const char *name)
{
    for (size_t i = 0; i < test_fixture_model_count; i++)
        if (strcmp(test_fixture_models[i], name) == 0)
            return true;
    return false;
}

/* The model built from seed 0 with the fixture's weights loaded (if it has a fixture). */
hb_block *test_model(const char *name)
{
    hb_block *net = example_model_new(name, 0);
    ck_assert_msg(net != NULL, "%s: %s", name, hb_last_error());
    if (test_has_fixture(name)) {
        char rel[256];
        snprintf(rel, sizeof rel, "%s/weights.safetensors", name);
        ck_assert_msg(hb_block_load(net, data_path(rel)) == HB_OK, "%s: %s", name,
                      hb_last_error());
    }
    return net;
}

hb_tensor *test_fixture(const char *name, const char *file)
{
    char rel[1024];
    snprintf(rel, sizeof rel, "%s/%s", name, file);
    hb_tensor *t = hb_npy_load(data_path(rel));
    ck_assert_msg(t != NULL, "%s: %s", rel, hb_last_error());
    return t;
}

/* The fixture input of name, or for scaled-fixed a seeded normal [2, 20]. */
hb_tensor *test_model_input(const char *name)
{
    if (test_has_fixture(name))
        return test_fixture(name, "input.npy");
    hb_rng rng;
    hb_rng_seed(&rng, 5);
    return hb_randn(HB_SHAPE(2, 20), &rng);
}

hb_tensor *test_call_ok(hb_block *net, hb_tensor *x)
{
    hb_tensor *y = hb_block_call(net, x);
    ck_assert_msg(y != NULL, "%s: %s", hb_block_name(net), hb_last_error());
    return y;
}

bool test_same_bits(const hb_tensor *a, const hb_tensor *b)
{
    return a && b && hb_tensor_same_shape(a, b) &&
           memcmp(hb_tensor_cdata(a), hb_tensor_cdata(b),
                  sizeof(float) * (size_t)hb_tensor_numel(a)) == 0;
}

/* A whole file as a string (free()), or NULL. */
char *test_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = 2 * (len + n + 1);
            char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    else
        buf[len] = '\0';
    return buf;
}

char *test_explain(hb_block *b, bool json)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(hb_block_explain(b, f, json), HB_OK);
    fclose(f);
    return text;
}

int test_count_substr(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub))
        n++;
    return n;
}

bool test_same_result(const hb_tensor *compiled, const hb_tensor *eager)
{
    if (test_same_bits(compiled, eager))
        return true;
    const char *e = getenv("HB_JIT");
    bool jit = HB_HAVE_JIT && !(e && strcmp(e, "0") == 0);
    return jit && compiled && eager && rel_error(compiled, eager) <= 1e-6;
}

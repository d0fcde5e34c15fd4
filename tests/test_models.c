/* The seed models against PyTorch: every model of docs/seed-models.md loads PyTorch's weights
 * by name and reproduces its output, at the fixtures' shapes (tests/data/NAME, copied from
 * shared/fixtures) and at another batch and input width (tests/data/extra/NAME, made by
 * tests/data/tools/make_extra.py). */
#include "harness.h"
#include "models.h"

#include <math.h>
#include <stdio.h>

static const char *const fixture_models[] = {"mlp", "mlp-class", "my-sequential", "fixed-hidden",
                                             "nest-mlp", "chimera", "parallel", "factory"};

static void check_model(const char *dir, const char *name, bool call_before_load)
{
    char rel[256];
    hb_block *net = example_model_new(name, 0);
    ck_assert_ptr_nonnull(net);
    snprintf(rel, sizeof rel, "%s%s/input.npy", dir, name);
    hb_tensor *x = hb_npy_load(data_path(rel));
    ck_assert_tensor_ok(x);
    if (call_before_load) { /* weights loaded over initialized parameters */
        hb_tensor *warm = hb_block_call(net, x);
        ck_assert_tensor_ok(warm);
        hb_tensor_release(warm);
    }
    snprintf(rel, sizeof rel, "%s%s/weights.safetensors", dir, name);
    ck_assert_msg(hb_block_load(net, data_path(rel)) == HB_OK, "%s", hb_last_error());
    snprintf(rel, sizeof rel, "%s%s/output.npy", dir, name);
    hb_tensor *want = hb_npy_load(data_path(rel));
    ck_assert_tensor_ok(want);
    hb_tensor *y = hb_block_call(net, x);
    ck_assert_msg(y != NULL, "%s: %s", name, hb_last_error());
    double err = rel_error(y, want);
    ck_assert_msg(err <= 1e-4, "%s%s: relative error %g", dir, name, err);
    hb_tensor_release(y), hb_tensor_release(want), hb_tensor_release(x);
    hb_block_release(net);
}

START_TEST(fixtures)
{
    check_model("", fixture_models[_i], false);
}
END_TEST

START_TEST(fixtures_after_a_call)
{
    check_model("", fixture_models[_i], true);
}
END_TEST

START_TEST(other_batch_and_width)
{
    check_model("extra/", fixture_models[_i], false);
}
END_TEST

/* relu(c · (x @ w)) computed directly from the constant w. */
START_TEST(scaled_fixed)
{
    hb_block *net = example_model_new("scaled-fixed", 0);
    hb_rng rng;
    hb_rng_seed(&rng, 5);
    hb_tensor *x = hb_randn(HB_SHAPE(3, 20), &rng);
    hb_tensor *y = hb_block_call(net, x);
    ck_assert_tensor_ok(y);
    const float *w = hb_tensor_data(hb_block_param(net, "w")), *xv = hb_tensor_data(x);
    double ref[3 * 8];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 8; j++) {
            double acc = 0;
            for (int k = 0; k < 20; k++)
                acc += (double)xv[i * 20 + k] * w[k * 8 + j];
            ref[i * 8 + j] = fmax(3.0 * acc, 0.0);
        }
    ck_assert_double_le(rel_error_buf(hb_tensor_data(y), ref, 24), 1e-5);
    hb_tensor_release(x), hb_tensor_release(y);
    hb_block_release(net);
}
END_TEST

/* The loop halves until sum(|x|) <= 1, however many times that takes: scaling the input
 * changes the trip count, and the result must stay below 1 in magnitude. */
START_TEST(fixed_hidden_loop_follows_the_data)
{
    hb_block *net = example_model_new("fixed-hidden", 0);
    ck_assert_int_eq(hb_block_load(net, data_path("fixed-hidden/weights.safetensors")), HB_OK);
    hb_tensor *x = hb_npy_load(data_path("fixed-hidden/input.npy"));
    for (float scale = 1; scale <= 1e6f; scale *= 100) {
        hb_tensor *xs = hb_mul_scalar(x, scale), *y = hb_block_call(net, xs);
        ck_assert_tensor_ok(y);
        ck_assert(fabsf(hb_item(y)) <= 1.0f);
        hb_tensor_release(xs), hb_tensor_release(y);
    }
    /* An infinite input must end, not loop forever. */
    hb_tensor *inf = hb_full(HB_SHAPE(2, 20), INFINITY), *y = hb_block_call(net, inf);
    ck_assert_tensor_ok(y);
    ck_assert(!isfinite(hb_item(y)));
    hb_tensor_release(inf), hb_tensor_release(y), hb_tensor_release(x);
    hb_block_release(net);
}
END_TEST

START_TEST(unknown_model)
{
    ck_assert_ptr_null(example_model_new("resnet-9000", 0));
    ck_assert_ptr_null(example_model_find("resnet-9000"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("models");
    int n = (int)(sizeof fixture_models / sizeof fixture_models[0]);
    tcase_add_loop_test(tc, fixtures, 0, n);
    tcase_add_loop_test(tc, fixtures_after_a_call, 0, n);
    tcase_add_loop_test(tc, other_batch_and_width, 0, n);
    tcase_add_test(tc, scaled_fixed);
    tcase_add_test(tc, fixed_hidden_loop_follows_the_data);
    tcase_add_test(tc, unknown_model);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

/* Blocks: forward calls, nesting and naming, sharing, deferred initialization, constants,
 * library blocks, the per-call release of intermediates, and errors that name the block path. */
#include "../src/frontend/frontend.h"
#include "harness.h"
#include "models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static hb_state_dict names_of(hb_block *b)
{
    hb_state_dict sd;
    ck_assert_int_eq(hb_block_state_dict(b, &sd), HB_OK);
    return sd;
}

static void assert_names(hb_block *b, const char *const *expected, int n)
{
    hb_state_dict sd = names_of(b);
    ck_assert_int_eq(sd.count, n);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(sd.items[i].name, expected[i]);
    hb_state_dict_free(&sd);
}

START_TEST(state_dict_names_match_pytorch)
{
    hb_block *chimera = chimera_new();
    const char *names[] = {"0.net.0.weight", "0.net.0.bias", "0.net.2.weight", "0.net.2.bias",
                           "0.linear.weight", "0.linear.bias", "1.weight", "1.bias",
                           "2.rand_weight", "2.linear.weight", "2.linear.bias"};
    assert_names(chimera, names, 11);
    hb_block_release(chimera);

    hb_block *factory = factory_new();
    const char *fnames[] = {"0.weight", "0.bias", "2.0.0.weight", "2.0.0.bias", "2.1.0.weight",
                            "2.1.0.bias", "2.2.0.weight", "2.2.0.bias", "2.3.0.weight",
                            "2.3.0.bias", "3.weight", "3.bias"};
    assert_names(factory, fnames, 12);
    hb_block_release(factory);

    hb_block *par = parallel_new();
    const char *pnames[] = {"net1.0.weight", "net1.0.bias", "net2.0.weight", "net2.0.bias"};
    assert_names(par, pnames, 4);
    hb_block_release(par);
}
END_TEST

START_TEST(deferred_init_learns_in_size)
{
    hb_block *lin = hb_linear_new(0, 4);
    ck_assert_ptr_null(hb_block_param(lin, "weight")); /* no values before the first call */
    ck_assert_int_eq(hb_last_status(), HB_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "[4, ?]"));
    hb_state_dict sd = names_of(lin);
    ck_assert_ptr_null(sd.items[0].value);
    ck_assert_int_eq(sd.items[0].shape[1], 0);
    hb_state_dict_free(&sd);

    hb_tensor *x = hb_rand(HB_SHAPE(3, 7), NULL);
    hb_tensor *y = hb_block_call(lin, x);
    ck_assert_tensor_ok(y);
    ck_assert_int_eq(hb_tensor_dim(y, 1), 4);
    hb_tensor *w = hb_block_param(lin, "weight"), *b = hb_block_param(lin, "bias");
    ck_assert_int_eq(hb_tensor_dim(w, 1), 7);
    /* PyTorch's default init: uniform in ±1/sqrt(in), the bias using the weight's fan-in. */
    float bound = 1.0f / sqrtf(7.0f);
    for (int i = 0; i < 28; i++)
        ck_assert(fabsf(hb_tensor_data(w)[i]) <= bound);
    for (int i = 0; i < 4; i++)
        ck_assert(fabsf(hb_tensor_data(b)[i]) <= bound);

    /* Once learned, the in-size is fixed: another width is an error naming both shapes. */
    hb_tensor *x2 = hb_rand(HB_SHAPE(3, 9), NULL);
    ck_assert_ptr_null(hb_block_call(lin, x2));
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "Linear: linear: input [3, 9]"));
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "[4, 7]"));
    hb_tensor_release(x), hb_tensor_release(x2), hb_tensor_release(y);
    hb_block_release(lin);
}
END_TEST

START_TEST(known_in_size_initializes_at_once)
{
    hb_seed(3);
    hb_block *a = hb_linear_new(5, 2);
    hb_seed(3);
    hb_block *b = hb_linear_new(0, 2);
    hb_rng rng;
    hb_rng_seed(&rng, 9);
    hb_tensor *x = hb_rand(HB_SHAPE(1, 5), &rng);
    hb_tensor *yb = hb_block_call(b, x); /* deferred init draws the same numbers later */
    ck_assert_ptr_nonnull(hb_block_param(a, "weight"));
    ck_assert(memcmp(hb_tensor_data(hb_block_param(a, "weight")),
                     hb_tensor_data(hb_block_param(b, "weight")), 10 * sizeof(float)) == 0);
    ck_assert(memcmp(hb_tensor_data(hb_block_param(a, "bias")),
                     hb_tensor_data(hb_block_param(b, "bias")), 2 * sizeof(float)) == 0);
    hb_tensor_release(x), hb_tensor_release(yb);
    hb_block_release(a), hb_block_release(b);
}
END_TEST

/* A block that calls its one child twice, as the chapter's FixedHiddenMLP does. */
static hb_tensor *twice_forward(hb_block *self, hb_tensor *x)
{
    hb_block *c = hb_block_child(self, "shared");
    return hb_block_call(c, hb_block_call(c, x));
}

START_TEST(shared_child_shares_parameters)
{
    hb_block *inner = hb_linear_new(3, 3);
    hb_block *twice = hb_block_new("Twice", twice_forward);
    hb_block_add_child(twice, "shared", hb_block_retain(inner));
    /* The same block under two names in a Sequential: both names list the same tensors. */
    hb_block *seq = hb_sequential_of(hb_block_retain(inner), hb_block_retain(inner));
    hb_state_dict sd = names_of(seq);
    ck_assert_int_eq(sd.count, 4);
    ck_assert_ptr_eq(sd.items[0].value, sd.items[2].value);
    hb_state_dict_free(&sd);

    float one = 1.0f;
    hb_tensor *x = hb_tensor_from((float[]){1, 2, 3}, HB_SHAPE(1, 3));
    hb_tensor *y1 = hb_block_call(twice, x), *y2 = hb_block_call(seq, x);
    ck_assert(memcmp(hb_tensor_data(y1), hb_tensor_data(y2), 3 * sizeof(float)) == 0);
    /* An update through one owner is seen through the other. */
    hb_tensor_data(hb_block_param(inner, "bias"))[0] += one;
    hb_tensor *y3 = hb_block_call(twice, x), *y4 = hb_block_call(seq, x);
    ck_assert(hb_tensor_data(y3)[0] != hb_tensor_data(y1)[0]);
    ck_assert(memcmp(hb_tensor_data(y3), hb_tensor_data(y4), 3 * sizeof(float)) == 0);
    hb_tensor_release(x), hb_tensor_release(y1), hb_tensor_release(y2);
    hb_tensor_release(y3), hb_tensor_release(y4);
    hb_block_release(twice), hb_block_release(seq), hb_block_release(inner);
}
END_TEST

static hb_tensor *busy_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    for (int i = 0; i < 10; i++)
        x = hb_add_scalar(hb_mul_scalar(x, 0.5f), 1.0f);
    hb_tensor *unused = hb_zeros(HB_SHAPE(100));
    (void)unused;
    return x;
}

START_TEST(calls_release_their_intermediates)
{
    hb_block *busy = hb_block_new("Busy", busy_forward);
    hb_block *outer = hb_sequential_of(hb_block_retain(busy), hb_block_retain(busy));
    hb_tensor *x = hb_ones(HB_SHAPE(4));
    long before = atomic_load(&hb_tensors_live);
    hb_tensor *y = hb_block_call(outer, x);
    ck_assert_tensor_ok(y);
    /* Only the result survives the call; the caller owns it. */
    ck_assert_int_eq(atomic_load(&hb_tensors_live), before + 1);
    hb_tensor_release(y);
    ck_assert_int_eq(atomic_load(&hb_tensors_live), before);
    /* A forward that returns its input hands back a new reference to it. */
    hb_block *id = hb_sequential_new();
    hb_tensor *same = hb_block_call(id, x);
    ck_assert_ptr_eq(same, x);
    hb_tensor_release(same);
    ck_assert_float_eq(hb_tensor_data(x)[0], 1.0f);
    hb_tensor_release(x);
    hb_block_release(id), hb_block_release(outer), hb_block_release(busy);
}
END_TEST

START_TEST(errors_name_the_block_path)
{
    hb_block *net = nest_mlp_new();
    hb_block_set_name(net, "nest");
    hb_tensor *x = hb_rand(HB_SHAPE(2, 20), NULL);
    hb_tensor *y = hb_block_call(net, x);
    hb_tensor_release(y);
    /* Now net.0 knows in = 20; a wider input fails inside nest/net/0. */
    hb_tensor *bad = hb_rand(HB_SHAPE(2, 21), NULL);
    ck_assert_ptr_null(hb_block_call(net, bad));
    ck_assert_int_eq(hb_last_status(), HB_ERR_SHAPE);
    ck_assert_msg(strncmp(hb_last_error(), "nest/net/0: ", 12) == 0, "%s", hb_last_error());
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "[2, 21]"));
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "[64, 20]"));
    hb_tensor_release(x), hb_tensor_release(bad);
    hb_block_release(net);
}
END_TEST

START_TEST(names_are_checked)
{
    hb_block *b = hb_sequential_new();
    ck_assert_int_eq(hb_block_add_child(b, "a", hb_relu_new()), HB_OK);
    ck_assert_int_eq(hb_block_add_child(b, "a", hb_relu_new()), HB_ERR_NAME);
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "\"a\""));
    ck_assert_int_eq(hb_block_add_child(b, "x.y", hb_relu_new()), HB_ERR_NAME);
    ck_assert_int_eq(hb_block_add_child(b, "", hb_relu_new()), HB_ERR_NAME);
    ck_assert_int_eq(hb_block_add_param(b, "a", HB_SHAPE(2), HB_INIT_DEFAULT), HB_ERR_NAME);
    ck_assert_int_eq(hb_block_add_const(b, "c", hb_ones(HB_SHAPE(2))), HB_OK);
    ck_assert_int_eq(hb_block_add_const(b, "c", hb_ones(HB_SHAPE(2))), HB_ERR_NAME);
    ck_assert_ptr_null(hb_block_param(b, "nope"));
    ck_assert_int_eq(hb_last_status(), HB_ERR_NAME);
    ck_assert_int_eq(hb_block_add_child(b, "me", hb_block_retain(b)), HB_ERR_ARG); /* a cycle */
    ck_assert_int_eq(hb_block_add_child(b, "null", NULL), HB_ERR_ARG);
    ck_assert_int_eq(hb_block_num_children(b), 1);
    hb_block_release(b);
}
END_TEST

START_TEST(constants_are_not_trainable)
{
    hb_block *f = fixed_hidden_new();
    hb_state_dict sd = names_of(f);
    ck_assert_str_eq(sd.items[0].name, "rand_weight");
    ck_assert(!sd.items[0].trainable);
    ck_assert(sd.items[1].trainable);
    hb_state_dict_free(&sd);
    hb_block_release(f);
}
END_TEST

START_TEST(initializers)
{
    hb_block *b = hb_sequential_new();
    hb_block_add_param(b, "c", HB_SHAPE(10), (hb_init){HB_INIT_CONSTANT, 0.25f, 0, NULL});
    hb_block_add_param(b, "u", HB_SHAPE(1000), (hb_init){HB_INIT_UNIFORM, -2, 3, NULL});
    hb_block_add_param(b, "n", HB_SHAPE(20000), (hb_init){HB_INIT_NORMAL, 1, 2, NULL});
    hb_block_add_param(b, "z", HB_SHAPE(3), (hb_init){HB_INIT_ZEROS, 0, 0, NULL});
    const float *c = hb_tensor_data(hb_block_param(b, "c")), *u = hb_tensor_data(hb_block_param(b, "u")),
                *n = hb_tensor_data(hb_block_param(b, "n")), *z = hb_tensor_data(hb_block_param(b, "z"));
    ck_assert_float_eq(c[9], 0.25f);
    ck_assert_float_eq(z[2], 0.0f);
    for (int i = 0; i < 1000; i++)
        ck_assert(u[i] >= -2 && u[i] < 3);
    double mean = 0, var = 0;
    for (int i = 0; i < 20000; i++)
        mean += n[i] / 20000.0;
    for (int i = 0; i < 20000; i++)
        var += (n[i] - mean) * (n[i] - mean) / 20000.0;
    ck_assert_double_eq_tol(mean, 1.0, 0.05);
    ck_assert_double_eq_tol(sqrt(var), 2.0, 0.05);
    /* infer on a known parameter checks the shape */
    ck_assert_ptr_nonnull(hb_block_param_infer(b, "c", HB_SHAPE(10)));
    ck_assert_ptr_null(hb_block_param_infer(b, "c", HB_SHAPE(11)));
    ck_assert_int_eq(hb_last_status(), HB_ERR_SHAPE);
    hb_block_release(b);
}
END_TEST

START_TEST(library_blocks)
{
    hb_tensor *x = hb_tensor_from((float[]){-1, 0, 2, -3, 4, 5}, HB_SHAPE(1, 2, 3));
    hb_block *blocks[] = {hb_relu_new(), hb_sigmoid_new(), hb_tanh_new(), hb_flatten_new()};
    hb_tensor *want[] = {hb_relu(x), hb_sigmoid(x), hb_tanh(x), hb_reshape(x, HB_SHAPE(1, 6))};
    for (int i = 0; i < 4; i++) {
        hb_tensor *y = hb_block_call(blocks[i], x);
        ck_assert_msg(rel_error(y, want[i]) == 0.0, "%s", hb_block_type(blocks[i]));
        hb_tensor_release(y), hb_tensor_release(want[i]);
        hb_block_release(blocks[i]);
    }
    /* Dense = Linear + activation, optionally without bias. */
    hb_block *dense = hb_dense_new(3, 2, HB_ACT_RELU, false);
    hb_state_dict sd = names_of(dense);
    ck_assert_int_eq(sd.count, 1);
    hb_state_dict_free(&sd);
    hb_tensor *y = hb_block_call(dense, x);
    hb_tensor *lin = hb_linear_nobias(x, hb_block_param(dense, "weight")), *ref = hb_relu(lin);
    ck_assert(rel_error(y, ref) == 0.0);
    hb_tensor_release(y), hb_tensor_release(ref), hb_tensor_release(lin);
    hb_block_release(dense);
    /* Parallel concatenates, Parallel with nothing inside is an error. */
    hb_block *par = hb_parallel_new(-1);
    hb_block_add_child(par, "a", hb_relu_new());
    hb_block_add_child(par, "b", hb_tanh_new());
    y = hb_block_call(par, x);
    ck_assert_int_eq(hb_tensor_dim(y, 2), 6);
    hb_tensor_release(y);
    hb_block_release(par);
    hb_block *empty = hb_parallel_new(0);
    ck_assert_ptr_null(hb_block_call(empty, x));
    ck_assert_int_eq(hb_last_status(), HB_ERR_STATE);
    hb_block_release(empty);
    ck_assert_ptr_null(hb_linear_new(3, 0));
    hb_tensor_release(x);
}
END_TEST

static int made;
static hb_block *make_counted(void *arg)
{
    made++;
    return hb_linear_new(*(int *)arg, 2);
}

START_TEST(factory_makes_fresh_instances)
{
    int in = 2;
    made = 0;
    hb_block *f = hb_block_factory(3, make_counted, &in);
    ck_assert_int_eq(made, 3);
    ck_assert_int_eq(hb_block_num_children(f), 3);
    const char *k;
    ck_assert_ptr_ne(hb_block_child_at(f, 0, &k), hb_block_child_at(f, 1, NULL));
    ck_assert_str_eq(k, "0");
    ck_assert_ptr_ne(hb_block_param(hb_block_child(f, "0"), "weight"),
                     hb_block_param(hb_block_child(f, "1"), "weight"));
    hb_block_release(f);
}
END_TEST

static hb_tensor *self_forward(hb_block *self, hb_tensor *x) { return hb_block_call(self, x); }

START_TEST(runaway_recursion_is_an_error)
{
    hb_block *b = hb_block_new("Loop", self_forward);
    hb_tensor *x = hb_ones(HB_SHAPE(1));
    ck_assert_ptr_null(hb_block_call(b, x));
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "nested more than"));
    hb_tensor_release(x);
    hb_block_release(b);
}
END_TEST

START_TEST(print_tree)
{
    hb_block *net = mlp_class_new();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    hb_block_print(f, net);
    fclose(f);
    ck_assert_str_eq(buf, "MLP\n"
                          "  hidden: Linear  weight [256, ?], bias [256]\n"
                          "  out: Linear  weight [10, 256], bias [10]\n"
                          "2570 values in parameters and constants, more after the first call\n");
    free(buf);
    hb_block_release(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("block");
    TCase *tc = tcase_create("block");
    tcase_add_test(tc, state_dict_names_match_pytorch);
    tcase_add_test(tc, deferred_init_learns_in_size);
    tcase_add_test(tc, known_in_size_initializes_at_once);
    tcase_add_test(tc, shared_child_shares_parameters);
    tcase_add_test(tc, calls_release_their_intermediates);
    tcase_add_test(tc, errors_name_the_block_path);
    tcase_add_test(tc, names_are_checked);
    tcase_add_test(tc, constants_are_not_trainable);
    tcase_add_test(tc, initializers);
    tcase_add_test(tc, library_blocks);
    tcase_add_test(tc, factory_makes_fresh_instances);
    tcase_add_test(tc, runaway_recursion_is_an_error);
    tcase_add_test(tc, print_tree);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

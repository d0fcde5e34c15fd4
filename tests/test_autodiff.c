/* Eager gradients: every seed model's parameter gradients against PyTorch's, every op's rule
 * against finite differences, sharing, constants, and the recording switch. */
#include "harness.h"
#include "models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* d sum(output·G) for every trainable parameter equals grads.safetensors within 1e-4. */
START_TEST(fixture_gradients)
{
    const char *name = test_fixture_models[_i];
    hb_block *net = test_model(name);
    hb_tensor *x = test_fixture(name, "input.npy"), *g = test_fixture(name, "grad_output.npy");
    hb_grad_enable(true);
    hb_tensor *y = test_call_ok(net, x);
    ck_assert_msg(hb_backward(y, g) == HB_OK, "%s", hb_last_error());
    hb_grad_enable(false);
    char rel[256];
    snprintf(rel, sizeof rel, "%s/grads.safetensors", name);
    hb_state_dict want, have;
    ck_assert_int_eq(hb_safetensors_load(data_path(rel), &want), HB_OK);
    ck_assert_int_eq(hb_block_state_dict(net, &have), HB_OK);
    int checked = 0;
    for (int i = 0; i < have.count; i++) {
        const hb_named_tensor *h = &have.items[i];
        const hb_named_tensor *w = NULL;
        for (int k = 0; k < want.count && !w; k++)
            if (strcmp(want.items[k].name, h->name) == 0)
                w = &want.items[k];
        if (!h->trainable) { /* constants get no gradient, and PyTorch lists none */
            ck_assert_ptr_null(hb_tensor_grad(h->value));
            ck_assert_ptr_null(w);
            continue;
        }
        ck_assert_msg(w != NULL, "%s: no reference gradient for %s", name, h->name);
        double err = rel_error(hb_tensor_grad(h->value), w->value);
        ck_assert_msg(err <= 1e-4, "%s %s: relative error %g", name, h->name, err);
        checked++;
    }
    ck_assert_int_eq(checked, want.count);
    hb_state_dict_free(&want), hb_state_dict_free(&have);
    hb_tensor_release(y), hb_tensor_release(g), hb_tensor_release(x);
    hb_block_release(net);
}
END_TEST

/* ---- every op against finite differences ------------------------------------------------- */

typedef hb_tensor *(*op_fn)(hb_tensor *const *in);

typedef struct shape {
    int ndim;
    int64_t dim[4];
} shape;

typedef struct fd_case {
    const char *name;
    op_fn f;
    int n;
    shape shapes[5];
    float lo, hi; /* inputs drawn from [lo, hi) (away from kinks and singularities) */
    bool distinct; /* values spread evenly, shuffled: no two within a step (max pools) */
} fd_case;

#define SH(...) {(int)(sizeof((int64_t[]){__VA_ARGS__}) / 8), {__VA_ARGS__}}
#define OP1(fn, expr) static hb_tensor *fn(hb_tensor *const *in) { hb_tensor *x = in[0]; return (expr); }
#define OP2(fn, expr) static hb_tensor *fn(hb_tensor *const *in) { hb_tensor *a = in[0], *b = in[1]; return (expr); }

OP2(f_matmul, hb_matmul(a, b))
static hb_tensor *f_linear(hb_tensor *const *in) { return hb_linear(in[0], in[1], in[2]); }
OP2(f_add, hb_add(a, b))
OP2(f_sub, hb_sub(a, b))
OP2(f_mul, hb_mul(a, b))
OP2(f_div, hb_div(a, b))
OP2(f_maximum, hb_maximum(a, b))
OP2(f_minimum, hb_minimum(a, b))
OP1(f_adds, hb_add_scalar(x, 0.3f))
OP1(f_subs, hb_sub_scalar(x, 0.3f))
OP1(f_muls, hb_mul_scalar(x, -1.7f))
OP1(f_divs, hb_div_scalar(x, 2.5f))
OP1(f_rsubs, hb_rsub_scalar(x, 2.0f))
OP1(f_rdivs, hb_rdiv_scalar(x, 2.0f))
OP1(f_relu, hb_relu(x))
OP1(f_sigmoid, hb_sigmoid(x))
OP1(f_tanh, hb_tanh(x))
OP1(f_exp, hb_exp(x))
OP1(f_log, hb_log(x))
OP1(f_abs, hb_abs(x))
OP1(f_neg, hb_neg(x))
OP1(f_sqrt, hb_sqrt(x))
OP1(f_erf, hb_erf(x))
OP1(f_sin, hb_sin(x))
OP1(f_cos, hb_cos(x))
OP2(f_pow, hb_pow(a, b))
OP1(f_pow2, hb_pow_scalar(x, 2.0f))
OP1(f_pow_rsqrt, hb_pow_scalar(x, -0.5f))
OP1(f_pow_frac, hb_pow_scalar(x, 1.7f))
OP1(f_sum, hb_sum(x))
OP1(f_sum1, hb_sum_axis(x, 1, false))
OP1(f_mean0k, hb_mean_axis(x, 0, true))
OP1(f_mean, hb_mean(x))
OP1(f_max, hb_max(x))
OP1(f_max1, hb_max_axis(x, -1, false))
OP1(f_softmax, hb_softmax(x, 1))
OP1(f_logsoftmax, hb_log_softmax(x, -1))
OP1(f_reshape, hb_reshape(x, HB_SHAPE(3, -1)))
OP1(f_transpose, hb_transpose(x, 0, -1))
OP1(f_slice, hb_slice(x, 1, 1, 2))
OP1(f_pad, hb_pad(x, (int64_t[]){1, -1}, (int64_t[]){-1, 2}, 0.25f))
OP1(f_copy, hb_tensor_copy(x))
static hb_tensor *f_concat(hb_tensor *const *in) { return hb_concat(2, in, 1); }
static hb_tensor *f_conv(hb_tensor *const *in)
{
    return hb_conv2d(in[0], in[1], in[2], &(hb_conv2d_options){.stride = {2, 1}, .padding = {1, 0},
                                                               .dilation = {1, 2}, .groups = 2});
}
static hb_tensor *f_conv_pad(hb_tensor *const *in)
{
    return hb_conv2d_nobias(in[0], in[1], &(hb_conv2d_options){.padding = {1, 1}});
}
static hb_tensor *f_conv_depthwise(hb_tensor *const *in)
{
    return hb_conv2d(in[0], in[1], in[2], &(hb_conv2d_options){.padding = {1, 1}, .groups = 3});
}
OP2(f_conv_1x1, hb_conv2d_nobias(a, b, NULL))
OP2(f_conv_1x1_s2, hb_conv2d_nobias(a, b, &(hb_conv2d_options){.stride = {2, 2}}))
OP2(f_conv_t, hb_conv_transpose2d(a, b, NULL, &(hb_conv_transpose2d_options){
                  .stride = {2, 1}, .padding = {1, 0}, .output_padding = {1, 0}, .groups = 2}))
OP1(f_max_pool, hb_max_pool2d(x, &(hb_pool2d_options){.kernel = {3, 3}, .stride = {2, 2},
                                                     .padding = {1, 1}}))
OP1(f_avg_pool, hb_avg_pool2d(x, &(hb_pool2d_options){.kernel = {3, 2}, .stride = {2, 1},
                                                     .padding = {1, 1}}))
OP1(f_avg_pool_ceil, hb_avg_pool2d(x, &(hb_pool2d_options){.kernel = {3, 2}, .stride = {2, 2},
                                                          .padding = {1, 1}, .ceil_mode = true,
                                                          .exclude_padding = true}))
OP1(f_gap, hb_global_avg_pool2d(x))
static hb_tensor *f_bn_train(hb_tensor *const *in)
{
    return hb_batch_norm(in[0], NULL, NULL, in[1], in[2], true, 0.1f, 1e-5f);
}
static hb_tensor *f_bn_eval(hb_tensor *const *in)
{
    return hb_batch_norm(in[0], in[3], in[4], in[1], in[2], false, 0.1f, 1e-5f);
}

static const fd_case cases[] = {
    {"matmul", f_matmul, 2, {SH(3, 4), SH(4, 5)}, -1, 1, false},
    {"matmul batched", f_matmul, 2, {SH(2, 3, 4), SH(4, 2)}, -1, 1, false},
    {"matmul broadcast", f_matmul, 2, {SH(2, 1, 3, 4), SH(3, 4, 2)}, -1, 1, false},
    {"linear", f_linear, 3, {SH(2, 3, 4), SH(5, 4), SH(5)}, -1, 1, false},
    {"add row", f_add, 2, {SH(3, 4), SH(4)}, -1, 1, false},
    {"sub column", f_sub, 2, {SH(3, 4), SH(3, 1)}, -1, 1, false},
    {"mul scalar tensor", f_mul, 2, {SH(3, 4), SH(1)}, -1, 1, false},
    {"div", f_div, 2, {SH(3, 4), SH(1, 4)}, 0.5f, 2, false},
    {"add_scalar", f_adds, 1, {SH(3, 4)}, -1, 1, false},
    {"sub_scalar", f_subs, 1, {SH(3, 4)}, -1, 1, false},
    {"mul_scalar", f_muls, 1, {SH(3, 4)}, -1, 1, false},
    {"div_scalar", f_divs, 1, {SH(3, 4)}, -1, 1, false},
    {"rsub_scalar", f_rsubs, 1, {SH(3, 4)}, -1, 1, false},
    {"rdiv_scalar", f_rdivs, 1, {SH(3, 4)}, 0.5f, 2, false},
    {"relu", f_relu, 1, {SH(3, 4)}, 0.1f, 1, false},
    {"relu negative", f_relu, 1, {SH(3, 4)}, -1, -0.1f, false},
    {"sigmoid", f_sigmoid, 1, {SH(3, 4)}, -2, 2, false},
    {"tanh", f_tanh, 1, {SH(3, 4)}, -2, 2, false},
    {"exp", f_exp, 1, {SH(3, 4)}, -1, 1, false},
    {"log", f_log, 1, {SH(3, 4)}, 0.5f, 2, false},
    {"abs", f_abs, 1, {SH(3, 4)}, 0.2f, 1, false},
    {"neg", f_neg, 1, {SH(3, 4)}, -1, 1, false},
    {"sqrt", f_sqrt, 1, {SH(3, 4)}, 0.5f, 2, false},
    {"erf", f_erf, 1, {SH(3, 4)}, -2, 2, false},
    {"sin", f_sin, 1, {SH(3, 4)}, -3, 3, false},
    {"cos", f_cos, 1, {SH(3, 4)}, -3, 3, false},
    {"pow", f_pow, 2, {SH(3, 4), SH(4)}, 0.5f, 2, false},
    {"pow_scalar 2", f_pow2, 1, {SH(3, 4)}, -2, 2, false},
    {"pow_scalar -0.5", f_pow_rsqrt, 1, {SH(3, 4)}, 0.5f, 2, false},
    {"pow_scalar 1.7", f_pow_frac, 1, {SH(3, 4)}, 0.5f, 2, false},
    {"sum", f_sum, 1, {SH(3, 4)}, -1, 1, false},
    {"sum axis", f_sum1, 1, {SH(3, 4, 2)}, -1, 1, false},
    {"mean axis keepdim", f_mean0k, 1, {SH(3, 4)}, -1, 1, false},
    {"mean", f_mean, 1, {SH(3, 4)}, -1, 1, false},
    {"max", f_max, 1, {SH(3, 4)}, -1, 1, false},
    {"max axis", f_max1, 1, {SH(3, 4)}, -1, 1, false},
    {"softmax", f_softmax, 1, {SH(3, 4)}, -2, 2, false},
    {"log_softmax", f_logsoftmax, 1, {SH(3, 4)}, -2, 2, false},
    {"reshape", f_reshape, 1, {SH(2, 3, 2)}, -1, 1, false},
    {"transpose", f_transpose, 1, {SH(2, 3, 4)}, -1, 1, false},
    {"slice", f_slice, 1, {SH(2, 4)}, -1, 1, false},
    {"pad (and crop)", f_pad, 1, {SH(3, 4)}, -1, 1, false},
    {"copy", f_copy, 1, {SH(2, 4)}, -1, 1, false},
    {"concat", f_concat, 2, {SH(2, 3), SH(2, 2)}, -1, 1, false},
    {"conv2d groups dilation stride", f_conv, 3, {SH(2, 4, 6, 5), SH(4, 2, 3, 2), SH(4)}, -1, 1, false},
    {"conv2d padded", f_conv_pad, 2, {SH(1, 2, 4, 4), SH(3, 2, 3, 3)}, -1, 1, false},
    {"conv2d depthwise", f_conv_depthwise, 3, {SH(2, 3, 4, 4), SH(3, 1, 3, 3), SH(3)}, -1, 1, false},
    {"conv2d 1x1", f_conv_1x1, 2, {SH(2, 3, 3, 3), SH(4, 3, 1, 1)}, -1, 1, false},
    {"conv2d 1x1 stride 2", f_conv_1x1_s2, 2, {SH(1, 3, 5, 5), SH(2, 3, 1, 1)}, -1, 1, false},
    {"conv_transpose2d", f_conv_t, 2, {SH(1, 4, 3, 3), SH(4, 1, 3, 2)}, -1, 1, false},
    {"max_pool2d", f_max_pool, 1, {SH(2, 2, 5, 6)}, -10, 10, true},
    {"avg_pool2d", f_avg_pool, 1, {SH(2, 2, 5, 4)}, -1, 1, false},
    {"avg_pool2d ceil, padding excluded", f_avg_pool_ceil, 1, {SH(1, 2, 6, 5)}, -1, 1, false},
    {"global_avg_pool2d", f_gap, 1, {SH(2, 3, 3, 2)}, -1, 1, false},
    {"batch_norm training", f_bn_train, 3, {SH(3, 2, 2, 3), SH(2), SH(2)}, 0.2f, 2, false},
    {"batch_norm inference", f_bn_eval, 5, {SH(2, 3, 2, 2), SH(3), SH(3), SH(3), SH(3)}, 0.5f, 2, false},
    /* (cases are seeded by their place in this list: new ones go at the end) */
    {"maximum", f_maximum, 2, {SH(3, 4), SH(1, 4)}, -10, 10, true},
    {"minimum", f_minimum, 2, {SH(3, 4), SH(3, 4)}, -10, 10, true},
};

/* L(x) = sum(f(x) · G), in double from float outputs. */
static double loss_of(const fd_case *c, hb_tensor *const *in, const hb_tensor *g)
{
    hb_tensor *y = c->f(in);
    ck_assert_msg(y != NULL, "%s: %s", c->name, hb_last_error());
    double l = 0;
    for (int64_t i = 0; i < hb_tensor_numel(y); i++)
        l += (double)hb_tensor_cdata(y)[i] * hb_tensor_cdata(g)[i];
    hb_tensor_release(y);
    return l;
}

START_TEST(finite_differences)
{
    const fd_case *c = &cases[_i];
    hb_rng rng;
    hb_rng_seed(&rng, 100 + (uint64_t)_i);
    hb_tensor *in[5];
    for (int k = 0; k < c->n; k++) {
        in[k] = hb_rand(c->shapes[k].ndim, c->shapes[k].dim, &rng);
        float *d = hb_tensor_data(in[k]);
        int64_t n = hb_tensor_numel(in[k]);
        for (int64_t i = 0; i < n; i++)
            d[i] = c->lo + (c->hi - c->lo) * (c->distinct ? (float)i / (float)n : d[i]);
        for (int64_t i = n - 1; c->distinct && i > 0; i--) { /* shuffled */
            int64_t j = (int64_t)(hb_rng_next(&rng) % (uint64_t)(i + 1));
            float t = d[i];
            d[i] = d[j], d[j] = t;
        }
        hb_tensor_set_requires_grad(in[k], true);
    }
    hb_grad_enable(true);
    hb_tensor *y = c->f(in);
    ck_assert_msg(y != NULL, "%s: %s", c->name, hb_last_error());
    hb_tensor *g = hb_randn(hb_tensor_ndim(y), hb_tensor_shape(y), &rng);
    ck_assert_msg(hb_backward(y, g) == HB_OK, "%s: %s", c->name, hb_last_error());
    hb_grad_enable(false);
    const float eps = 1e-2f;
    for (int k = 0; k < c->n; k++) {
        const hb_tensor *gr = hb_tensor_grad(in[k]);
        ck_assert_msg(gr != NULL, "%s: input %d got no gradient", c->name, k);
        float *d = hb_tensor_data(in[k]);
        for (int64_t i = 0; i < hb_tensor_numel(in[k]); i++) {
            float keep = d[i];
            d[i] = keep + eps;
            double up = loss_of(c, in, g);
            d[i] = keep - eps;
            double down = loss_of(c, in, g);
            d[i] = keep;
            double numeric = (up - down) / (2.0 * eps), analytic = hb_tensor_cdata(gr)[i];
            ck_assert_msg(fabs(numeric - analytic) <= 1e-2 * (1 + fabs(numeric)),
                          "%s: d/d in%d[%lld]: analytic %g, finite differences %g", c->name, k,
                          (long long)i, analytic, numeric);
        }
    }
    for (int k = 0; k < c->n; k++)
        hb_tensor_release(in[k]);
    hb_tensor_release(y), hb_tensor_release(g);
}
END_TEST

/* ---- the same rules in compiled steps ---------------------------------------------------- */

/* The case's op over the block's parameters p0, p1, p2 (the input is not read). */
static hb_tensor *case_forward(hb_block *self, hb_tensor *x)
{
    (void)x;
    const fd_case *c = hb_block_state(self);
    hb_tensor *in[5];
    const char *names[5] = {"p0", "p1", "p2", "p3", "p4"};
    for (int k = 0; k < c->n; k++)
        in[k] = hb_block_param(self, names[k]);
    return c->f(in);
}

/* A compiled step's gradients (the autodiff pass applying each rule to graph values) equal the
 * eager tape's, which finite_differences checks: so every rule holds in graphs too. */
START_TEST(compiled_rules_match_eager)
{
    const fd_case *c = &cases[_i];
    hb_block *b = hb_block_new("Op", case_forward);
    hb_block_set_state(b, (void *)c, NULL);
    const char *names[5] = {"p0", "p1", "p2", "p3", "p4"};
    hb_rng rng;
    hb_rng_seed(&rng, 200 + (uint64_t)_i);
    hb_tensor *p[5];
    for (int k = 0; k < c->n; k++) {
        ck_assert_int_eq(hb_block_add_param(b, names[k], c->shapes[k].ndim, c->shapes[k].dim,
                                            HB_INIT_DEFAULT), HB_OK);
        p[k] = hb_block_param(b, names[k]);
        float *d = hb_tensor_data(p[k]);
        for (int64_t i = 0; i < hb_tensor_numel(p[k]); i++)
            d[i] = c->lo + (c->hi - c->lo) * hb_rng_uniform(&rng);
    }
    hb_tensor *x = hb_zeros(HB_SHAPE(1));
    hb_grad_enable(true);
    hb_tensor *y = test_call_ok(b, x);
    hb_tensor *g = hb_randn(hb_tensor_ndim(y), hb_tensor_shape(y), &rng);
    ck_assert_int_eq(hb_backward(y, g), HB_OK);
    hb_grad_enable(false);
    hb_tensor *eager[5];
    for (int k = 0; k < c->n; k++) {
        ck_assert_ptr_nonnull(hb_tensor_grad(p[k]));
        eager[k] = hb_tensor_copy(hb_tensor_grad(p[k]));
    }
    hb_block_zero_grad(b);
    hb_trainer *tr = hb_trainer_new(b, HB_LOSS_DOT, NULL, true);
    float loss;
    ck_assert_msg(hb_train_step(tr, x, g, &loss) == HB_OK, "%s: %s", c->name, hb_last_error());
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    hb_trainer_explain(tr, f);
    fclose(f);
    ck_assert_msg(strstr(text, ": 1 steps: 1 ran a plan, 1 traced, 0 ran eagerly"),
                  "%s: not compiled: %s", c->name, text);
    for (int k = 0; k < c->n; k++) {
        double err = rel_error(hb_tensor_grad(p[k]), eager[k]);
        ck_assert_msg(err <= 1e-5, "%s: input %d: compiled gradient %g from the eager one",
                      c->name, k, err);
        hb_tensor_release(eager[k]);
    }
    free(text);
    hb_trainer_free(tr);
    hb_tensor_release(y), hb_tensor_release(g), hb_tensor_release(x);
    hb_block_release(b);
}
END_TEST

/* tanh applied `length` times to x·a: graphs of every size from a few values to a few dozen, so
 * that the autodiff pass meets its value array at every capacity (it grows by doubling). */
static hb_tensor *tanh_chain_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *y = hb_mul(x, hb_block_param(self, "a"));
    for (intptr_t i = 0; i < (intptr_t)hb_block_state(self); i++)
        y = hb_tanh(y);
    return y;
}

START_TEST(chains_of_every_length)
{
    hb_block *b = hb_block_new("Chain", tanh_chain_forward);
    hb_block_set_state(b, (void *)(intptr_t)(_i + 1), NULL);
    ck_assert_int_eq(hb_block_add_param(b, "a", 1, (int64_t[]){3}, HB_INIT_DEFAULT), HB_OK);
    hb_tensor *x = hb_ones(HB_SHAPE(2, 3)), *g = hb_full(HB_SHAPE(2, 3), 0.5f);
    hb_grad_enable(true);
    hb_tensor *y = test_call_ok(b, x);
    ck_assert_int_eq(hb_backward(y, g), HB_OK);
    hb_grad_enable(false);
    hb_tensor *a = hb_block_param(b, "a"), *eager = hb_tensor_copy(hb_tensor_grad(a));
    hb_block_zero_grad(b);
    hb_trainer *tr = hb_trainer_new(b, HB_LOSS_DOT, NULL, true);
    float loss;
    ck_assert_msg(hb_train_step(tr, x, g, &loss) == HB_OK, "%s", hb_last_error());
    ck_assert_double_le(rel_error(hb_tensor_grad(a), eager), 1e-5);
    hb_trainer_free(tr);
    hb_tensor_release(eager), hb_tensor_release(y), hb_tensor_release(g), hb_tensor_release(x);
    hb_block_release(b);
}
END_TEST

/* ---- bookkeeping -------------------------------------------------------------------------- */

static hb_tensor *twice_forward(hb_block *self, hb_tensor *x)
{
    hb_block *lin = hb_block_child(self, "lin");
    return hb_block_call(lin, hb_block_call(lin, x));
}

/* A layer used twice: its gradient is the sum of both uses' (against a manual split). */
START_TEST(shared_parameters_sum)
{
    hb_block *twice = hb_block_new("Twice", twice_forward);
    hb_block_add_child(twice, "lin", hb_linear_new(3, 3));
    hb_rng rng;
    hb_rng_seed(&rng, 4);
    hb_tensor *x = hb_randn(HB_SHAPE(2, 3), &rng);
    hb_grad_enable(true);
    hb_tensor *y = test_call_ok(twice, x);
    ck_assert_int_eq(hb_backward(y, NULL), HB_OK);
    hb_grad_enable(false);
    hb_block *lin = hb_block_child(twice, "lin");
    hb_tensor *gb = hb_tensor_copy(hb_tensor_grad(hb_block_param(lin, "bias")));
    /* d sum(W(Wx + b) + b)/db = Wᵀ·1 (first use) + 1·rows (second use) */
    const float *w = hb_tensor_cdata(hb_block_param(lin, "weight"));
    for (int j = 0; j < 3; j++) {
        double want = 2.0 * (1.0 + w[0 * 3 + j] + w[1 * 3 + j] + w[2 * 3 + j]);
        ck_assert_double_eq_tol(hb_tensor_cdata(gb)[j], want, 1e-5);
    }
    /* A second backward adds up; zero_grad clears. */
    hb_grad_enable(true);
    hb_tensor *y2 = test_call_ok(twice, x);
    ck_assert_int_eq(hb_backward(y2, NULL), HB_OK);
    hb_grad_enable(false);
    ck_assert_double_eq_tol(hb_tensor_cdata(hb_tensor_grad(hb_block_param(lin, "bias")))[0],
                            2.0 * hb_tensor_cdata(gb)[0], 1e-5);
    hb_block_zero_grad(twice);
    ck_assert_ptr_null(hb_tensor_grad(hb_block_param(lin, "bias")));
    hb_tensor_release(gb), hb_tensor_release(y), hb_tensor_release(y2), hb_tensor_release(x);
    hb_block_release(twice);
}
END_TEST

/* Off, nothing is recorded; a hybridized block computes its gradient eagerly (plans do not
 * record yet), the same as a plain one. */
START_TEST(recording_switch_and_hybrid)
{
    hb_block *a = test_model("mlp"), *b = test_model("mlp");
    hb_tensor *x = test_fixture("mlp", "input.npy");
    hb_tensor *y = test_call_ok(a, x);
    ck_assert_int_eq(hb_backward(y, NULL), HB_ERR_STATE); /* nothing recorded: an error */
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "not recorded"));
    ck_assert_ptr_null(hb_tensor_grad(hb_block_param(hb_block_child(a, "0"), "weight")));
    hb_tensor_release(y);
    hb_hybridize(b, true);
    hb_tensor_release(test_call_ok(b, x)), hb_tensor_release(test_call_ok(b, x));
    hb_grad_enable(true); /* one backward per forward: a backward clears what was recorded */
    hb_tensor *ya = test_call_ok(a, x);
    ck_assert_int_eq(hb_backward(ya, NULL), HB_OK);
    hb_tensor *yb = test_call_ok(b, x);
    ck_assert_int_eq(hb_backward(yb, NULL), HB_OK);
    hb_grad_enable(false);
    ck_assert(test_same_bits(hb_tensor_grad(hb_block_param(hb_block_child(a, "0"), "weight")),
                             hb_tensor_grad(hb_block_param(hb_block_child(b, "0"), "weight"))));
    hb_tensor *wrong = hb_ones(HB_SHAPE(3));
    ck_assert_int_eq(hb_backward(ya, wrong), HB_ERR_SHAPE);
    ck_assert_int_eq(hb_backward(NULL, NULL), HB_ERR_ARG);
    hb_tensor_release(wrong), hb_tensor_release(ya), hb_tensor_release(yb), hb_tensor_release(x);
    hb_block_release(a), hb_block_release(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("autodiff");
    TCase *tc = tcase_create("autodiff");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, fixture_gradients, 0, test_fixture_model_count);
    tcase_add_loop_test(tc, finite_differences, 0, (int)ARRAY_LEN(cases));
    tcase_add_loop_test(tc, compiled_rules_match_eager, 0, (int)ARRAY_LEN(cases));
    tcase_add_loop_test(tc, chains_of_every_length, 0, 40);
    tcase_add_test(tc, shared_parameters_sum);
    tcase_add_test(tc, recording_switch_and_hybrid);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

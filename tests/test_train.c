/* Losses and optimizers: three steps of the seed MLP against torch.optim (SGD with momentum and
 * weight decay on cross-entropy, Adam with weight decay on mean squared error), the losses'
 * gradients against their closed forms, and the errors a caller can make. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 3

static const char *const runs[] = {"sgd", "adam"};

/* The labels and targets gen_train.py uses: i % 10, and linspace(-1, 1) over [N, 10]. */
static hb_tensor *loss_of(int run, hb_tensor *y)
{
    int64_t n = hb_tensor_shape(y)[0];
    ck_assert_int_le(n, 64);
    if (run == 0) {
        int64_t labels[64];
        for (int64_t i = 0; i < n; i++)
            labels[i] = i % 10;
        return hb_cross_entropy(y, labels);
    }
    hb_tensor *t = hb_tensor_new(2, hb_tensor_shape(y));
    float *d = hb_tensor_data(t);
    for (int64_t i = 0; i < 10 * n; i++)
        d[i] = -1.0f + 2.0f * (float)i / (float)(10 * n - 1);
    hb_tensor *loss = hb_mse_loss(y, t);
    hb_tensor_release(t);
    return loss;
}

START_TEST(same_steps_as_torch_optim)
{
    const char *run = runs[_i];
    hb_block *net = test_model("mlp");
    hb_tensor *x = test_fixture("mlp", "input.npy");
    char rel[128];
    snprintf(rel, sizeof rel, "%s_losses.npy", run);
    hb_tensor *want_losses = test_fixture("train", rel);
    hb_optim_options o = hb_optim_defaults(_i ? 0.01f : 0.1f);
    o.weight_decay = 0.01f;
    if (_i == 0)
        o.momentum = 0.9f;
    hb_optimizer *opt = hb_optimizer_new(net, _i ? HB_OPTIM_ADAM : HB_OPTIM_SGD, &o);
    ck_assert_msg(opt != NULL, "%s", hb_last_error());
    ck_assert_int_eq(hb_optimizer_num_params(opt), 4);
    for (int step = 0; step < STEPS; step++) {
        hb_block_zero_grad(net);
        hb_grad_enable(true);
        hb_tensor *y = test_call_ok(net, x), *loss = loss_of(_i, y);
        ck_assert_tensor_ok(loss);
        ck_assert_int_eq(hb_tensor_numel(loss), 1);
        ck_assert_int_eq(hb_backward(loss, NULL), HB_OK);
        hb_grad_enable(false);
        float want = hb_tensor_cdata(want_losses)[step];
        ck_assert_msg(fabsf(hb_item(loss) - want) <= 1e-5f * fabsf(want), "%s step %d: loss %g, torch %g",
                      run, step, hb_item(loss), want);
        ck_assert_int_eq(hb_optimizer_step(opt), HB_OK);
        hb_tensor_release(loss), hb_tensor_release(y);
    }
    snprintf(rel, sizeof rel, "train/%s_weights.safetensors", run);
    hb_state_dict want, have;
    ck_assert_int_eq(hb_safetensors_load(data_path(rel), &want), HB_OK);
    ck_assert_int_eq(hb_block_state_dict(net, &have), HB_OK);
    ck_assert_int_eq(have.count, want.count);
    for (int i = 0; i < have.count; i++) {
        const hb_named_tensor *w = NULL;
        for (int k = 0; k < want.count && !w; k++)
            if (strcmp(want.items[k].name, have.items[i].name) == 0)
                w = &want.items[k];
        ck_assert_msg(w != NULL, "no reference for %s", have.items[i].name);
        double err = rel_error(have.items[i].value, w->value);
        ck_assert_msg(err <= 1e-5, "%s %s after %d steps: relative error %g", run,
                      have.items[i].name, STEPS, err);
    }
    hb_state_dict_free(&want), hb_state_dict_free(&have);
    hb_optimizer_free(opt);
    hb_tensor_release(want_losses), hb_tensor_release(x);
    hb_block_release(net);
}
END_TEST

/* d CE / d logits = (softmax − one-hot) / N; d MSE / d pred = 2 (pred − target) / numel. */
START_TEST(loss_gradients_closed_form)
{
    const float v[6] = {0.5f, -1.0f, 2.0f, 0.0f, 0.25f, -0.75f};
    const int64_t labels[2] = {2, 0};
    hb_tensor *z = hb_tensor_from(v, HB_SHAPE(2, 3)), *t = hb_zeros(HB_SHAPE(2, 3));
    hb_tensor_set_requires_grad(z, true);
    ck_assert_ptr_null(hb_mse_loss(z, NULL)); /* an earlier mistake does not fail the backward */
    hb_grad_enable(true);
    hb_tensor *ce = hb_cross_entropy(z, labels);
    ck_assert_int_eq(hb_backward(ce, NULL), HB_OK);
    double want_loss = 0;
    for (int r = 0; r < 2; r++) {
        double sum = 0;
        for (int c = 0; c < 3; c++)
            sum += exp(v[r * 3 + c]);
        want_loss -= (v[r * 3 + labels[r]] - log(sum)) / 2;
        for (int c = 0; c < 3; c++) {
            double want = (exp(v[r * 3 + c]) / sum - (c == labels[r])) / 2;
            ck_assert_double_eq_tol(hb_tensor_cdata(hb_tensor_grad(z))[r * 3 + c], want, 1e-6);
        }
    }
    ck_assert_double_eq_tol(hb_item(ce), want_loss, 1e-6);
    hb_tensor *p = hb_tensor_from(v, HB_SHAPE(2, 3));
    hb_tensor_set_requires_grad(p, true);
    hb_tensor *mse = hb_mse_loss(p, t);
    ck_assert_int_eq(hb_backward(mse, NULL), HB_OK);
    hb_grad_enable(false);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq_tol(hb_tensor_cdata(hb_tensor_grad(p))[i], 2.0 * v[i] / 6, 1e-6);
    hb_tensor_release(ce), hb_tensor_release(mse), hb_tensor_release(z), hb_tensor_release(p),
        hb_tensor_release(t);
}
END_TEST

/* After a step, a hybridized block's next call uses the new parameters, frozen or not. */
START_TEST(plans_see_updates)
{
    for (int frozen = 0; frozen < 2; frozen++) {
        hb_block *net = test_model("mlp");
        hb_tensor *x = test_fixture("mlp", "input.npy");
        ck_assert_int_eq(hb_hybridize_with(net, true, &(hb_hybrid_options){.freeze = frozen}), HB_OK);
        hb_tensor *before = test_call_ok(net, x);
        hb_tensor_release(test_call_ok(net, x)); /* the plan ran */
        hb_optim_options o = hb_optim_defaults(0.5f);
        hb_optimizer *opt = hb_optimizer_new(net, HB_OPTIM_SGD, &o);
        hb_grad_enable(true);
        hb_tensor *y = test_call_ok(net, x);
        hb_tensor *shifted = hb_add_scalar(before, 1.0f);
        hb_tensor *loss = hb_mse_loss(y, shifted);
        ck_assert_int_eq(hb_backward(loss, NULL), HB_OK);
        hb_grad_enable(false);
        ck_assert_int_eq(hb_optimizer_step(opt), HB_OK);
        hb_tensor *after = test_call_ok(net, x);
        hb_hybridize(net, false);
        hb_tensor *eager = test_call_ok(net, x);
        ck_assert_msg(rel_error(after, eager) <= 1e-5, "frozen=%d: plan %g from eager", frozen,
                      rel_error(after, eager));
        ck_assert_double_gt(rel_error(after, before), 1e-3); /* the step did change the output */
        hb_optimizer_free(opt);
        hb_tensor_release(before), hb_tensor_release(y),
            hb_tensor_release(shifted), hb_tensor_release(loss), hb_tensor_release(after),
            hb_tensor_release(eager), hb_tensor_release(x);
        hb_block_release(net);
    }
}
END_TEST

START_TEST(caller_mistakes)
{
    hb_tensor *z = hb_zeros(HB_SHAPE(2, 3)), *w = hb_zeros(HB_SHAPE(3, 2));
    const int64_t bad[2] = {0, 3};
    ck_assert_ptr_null(hb_cross_entropy(z, bad));
    ck_assert_int_eq(hb_last_status(), HB_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "label 3 of row 1"));
    ck_assert_ptr_null(hb_cross_entropy(w, NULL));
    ck_assert_ptr_null(hb_mse_loss(z, w));
    ck_assert_int_eq(hb_last_status(), HB_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "[2, 3]"));

    hb_block *lazy = hb_dense_new(0, 4, HB_ACT_NONE, true); /* in deferred until a first call */
    hb_optim_options o = hb_optim_defaults(0.1f);
    ck_assert_ptr_null(hb_optimizer_new(lazy, HB_OPTIM_SGD, &o));
    ck_assert_int_eq(hb_last_status(), HB_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "weight"));
    o.lr = 0;
    ck_assert_ptr_null(hb_optimizer_new(lazy, HB_OPTIM_SGD, &o));
    ck_assert_int_eq(hb_last_status(), HB_ERR_ARG);
    ck_assert_int_eq(hb_optimizer_step(NULL), HB_ERR_ARG);

    /* a parameter shared by two children is updated once per step: w − lr·(summed gradient) */
    hb_block *l = hb_linear_new(3, 3), *pair[2] = {l, hb_block_retain(l)};
    hb_block *seq = hb_sequential_from(2, pair);
    o.lr = 0.1f;
    hb_optimizer *opt = hb_optimizer_new(seq, HB_OPTIM_SGD, &o);
    ck_assert_ptr_nonnull(opt);
    ck_assert_int_eq(hb_optimizer_num_params(opt), 2);
    hb_tensor *weight = hb_block_param(l, "weight"), *x = hb_ones(HB_SHAPE(2, 3));
    float before[9];
    memcpy(before, hb_tensor_cdata(weight), sizeof before);
    hb_grad_enable(true);
    hb_tensor *y = test_call_ok(seq, x), *loss = hb_sum(y);
    ck_assert_int_eq(hb_backward(loss, NULL), HB_OK);
    hb_grad_enable(false);
    ck_assert_int_eq(hb_optimizer_step(opt), HB_OK);
    const float *g = hb_tensor_cdata(hb_tensor_grad(weight)), *after = hb_tensor_cdata(weight);
    for (int i = 0; i < 9; i++)
        ck_assert_float_eq_tol(after[i], before[i] - 0.1f * g[i], 1e-6f);
    hb_tensor_release(y), hb_tensor_release(loss), hb_tensor_release(x);
    hb_optimizer_free(opt);
    hb_block_release(seq), hb_block_release(lazy);
    hb_tensor_release(z), hb_tensor_release(w);
}
END_TEST

/* ---- compiled training steps --------------------------------------------------------------- */

typedef struct step_case {
    const char *model;
    hb_loss_kind loss;
    hb_optimizer_kind kind;
    float lr, momentum, weight_decay;
    int64_t batch;
} step_case;

static const step_case step_cases[] = {
    {"mlp", HB_LOSS_CROSS_ENTROPY, HB_OPTIM_SGD, 0.1f, 0.9f, 0.01f, 64},
    {"mlp", HB_LOSS_MSE, HB_OPTIM_ADAM, 0.01f, 0, 0.01f, 16},
    {"nest-mlp", HB_LOSS_CROSS_ENTROPY, HB_OPTIM_ADAM, 0.005f, 0, 0, 8},
    {"parallel", HB_LOSS_MSE, HB_OPTIM_SGD, 0.05f, 0, 0, 4},
    /* a shared layer and a data-dependent loop: guards pick the plan of each step's path */
    {"fixed-hidden", HB_LOSS_MSE, HB_OPTIM_SGD, 0.01f, 0.5f, 0, 2},
};

/* A target for step s: one-hot labels for cross-entropy, values in [-1, 1] otherwise. */
static hb_tensor *target_for(const step_case *c, hb_tensor *y, hb_rng *rng)
{
    if (c->loss == HB_LOSS_CROSS_ENTROPY) {
        int64_t n = hb_tensor_shape(y)[0], k = hb_tensor_shape(y)[1], labels[64];
        for (int64_t i = 0; i < n; i++)
            labels[i] = (int64_t)(hb_rng_uniform(rng) * (float)k);
        return hb_one_hot(labels, n, k);
    }
    hb_tensor *t = hb_rand(hb_tensor_ndim(y), hb_tensor_shape(y), rng);
    float *d = hb_tensor_data(t);
    for (int64_t i = 0; i < hb_tensor_numel(t); i++)
        d[i] = 2 * d[i] - 1;
    return t;
}

static char *explain_text(hb_trainer *tr)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(hb_trainer_explain(tr, f), HB_OK);
    fclose(f);
    return text;
}

/* The same net trained twice: side 0 eagerly, side 1 compiled — the compiled side must match. */
typedef struct side_by_side {
    hb_block *net[2];
    hb_optimizer *opt[2];
    hb_trainer *tr[2];
} side_by_side;

static void side_by_side_start(side_by_side *s, hb_loss_kind loss, hb_optimizer_kind kind,
                               const hb_optim_options *o)
{
    for (int m = 0; m < 2; m++) {
        ck_assert_ptr_nonnull(s->net[m]);
        s->opt[m] = hb_optimizer_new(s->net[m], kind, o);
        ck_assert_msg(s->opt[m] != NULL, "%s", hb_last_error());
        s->tr[m] = hb_trainer_new(s->net[m], loss, s->opt[m], m == 1);
        ck_assert_msg(s->tr[m] != NULL, "%s", hb_last_error());
    }
}

static void side_by_side_free(side_by_side *s)
{
    for (int m = 0; m < 2; m++) {
        hb_trainer_free(s->tr[m]);
        hb_optimizer_free(s->opt[m]);
        hb_block_release(s->net[m]);
    }
}

/* 20 steps compiled and 20 eager from the same weights on the same batches: the same losses
 * (1e-5 relative) step for step, and the same weights at the end. */
START_TEST(compiled_steps_match_eager)
{
    const step_case *c = &step_cases[_i];
    side_by_side s;
    hb_optim_options o = hb_optim_defaults(c->lr);
    o.momentum = c->momentum, o.weight_decay = c->weight_decay;
    for (int m = 0; m < 2; m++)
        s.net[m] = test_model(c->model);
    side_by_side_start(&s, c->loss, c->kind, &o);
    hb_rng rng;
    hb_rng_seed(&rng, 31 + (uint64_t)_i);
    for (int step = 0; step < 20; step++) {
        /* the last steps take a smaller batch: another shape, another plan */
        int64_t n = step < 16 ? c->batch : (c->batch + 1) / 2;
        hb_tensor *x = hb_rand(HB_SHAPE(n, 20), &rng);
        hb_tensor *y = test_call_ok(s.net[0], x), *t = target_for(c, y, &rng);
        float loss[2];
        for (int m = 0; m < 2; m++)
            ck_assert_msg(hb_train_step(s.tr[m], x, t, &loss[m]) == HB_OK, "%s step %d: %s",
                          c->model, step, hb_last_error());
        ck_assert_msg(fabsf(loss[1] - loss[0]) <= 1e-5f * fabsf(loss[0]),
                      "%s step %d: compiled loss %.9g, eager %.9g", c->model, step, loss[1],
                      loss[0]);
        hb_tensor_release(x), hb_tensor_release(y), hb_tensor_release(t);
    }
    hb_state_dict sd[2];
    for (int m = 0; m < 2; m++)
        ck_assert_int_eq(hb_block_state_dict(s.net[m], &sd[m]), HB_OK);
    for (int i = 0; i < sd[0].count; i++) {
        double err = rel_error(sd[1].items[i].value, sd[0].items[i].value);
        ck_assert_msg(err <= 1e-4, "%s %s: compiled weights %g from eager", c->model,
                      sd[0].items[i].name, err);
    }
    char *text = explain_text(s.tr[1]);
    ck_assert_msg(strstr(text, " 20 steps: 20 ran a plan, ") && strstr(text, ", 0 ran eagerly") &&
                  strstr(text, "pass autodiff"), "%s", text);
    free(text);
    hb_state_dict_free(&sd[0]), hb_state_dict_free(&sd[1]);
    side_by_side_free(&s);
}
END_TEST

/* A layer whose forward reads a value on the host: its gradient cannot be compiled, so the
 * trainer says why and runs its steps eagerly — with the eager steps' results. */
static hb_tensor *host_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *h = hb_block_call(hb_block_child(self, "lin"), x);
    float scale = hb_item(hb_max(h)) > 0 ? 0.5f : 2.0f; /* control flow on a value */
    return hb_mul_scalar(h, scale);
}

START_TEST(island_gradient_runs_eagerly)
{
    side_by_side s;
    hb_optim_options o = hb_optim_defaults(0.1f);
    for (int m = 0; m < 2; m++) {
        s.net[m] = hb_block_new("HostRead", host_forward);
        hb_block_add_child(s.net[m], "lin", hb_linear_new(4, 3));
        hb_tensor *w = hb_block_param(hb_block_child(s.net[m], "lin"), "weight");
        hb_tensor *b = hb_block_param(hb_block_child(s.net[m], "lin"), "bias");
        for (int i = 0; i < 12; i++)
            hb_tensor_data(w)[i] = 0.1f * (float)(i - 6);
        for (int i = 0; i < 3; i++)
            hb_tensor_data(b)[i] = 0.2f * (float)i;
    }
    side_by_side_start(&s, HB_LOSS_MSE, HB_OPTIM_SGD, &o);
    hb_tensor *x = hb_ones(HB_SHAPE(2, 4)), *t = hb_zeros(HB_SHAPE(2, 3));
    for (int step = 0; step < 3; step++) {
        float loss[2];
        for (int m = 0; m < 2; m++)
            ck_assert_msg(hb_train_step(s.tr[m], x, t, &loss[m]) == HB_OK, "%s", hb_last_error());
        ck_assert_float_eq(loss[0], loss[1]);
    }
    char *text = explain_text(s.tr[1]);
    ck_assert_msg(strstr(text, ", 3 ran eagerly") && strstr(text, "no gradient through an eager "
                  "island") && strstr(text, "HostRead"), "%s", text);
    free(text);
    hb_tensor_release(x), hb_tensor_release(t);
    side_by_side_free(&s);
}
END_TEST

/* Parameters whose gradients read other parameters (x·(a·b), x·(A·B)): every update must come
 * after every read of the values it replaces, fused or not — the weights after each step equal
 * the eager step's. */
static hb_tensor *scaled_forward(hb_block *self, hb_tensor *x)
{
    return hb_mul(x, hb_mul(hb_block_param(self, "a"), hb_block_param(self, "b")));
}

static hb_tensor *factored_forward(hb_block *self, hb_tensor *x)
{
    return hb_matmul(x, hb_matmul(hb_block_param(self, "A"), hb_block_param(self, "B")));
}

START_TEST(parameters_reading_parameters)
{
    const bool factored = _i == 1;
    side_by_side s;
    hb_optim_options o = hb_optim_defaults(0.2f);
    for (int m = 0; m < 2; m++) {
        s.net[m] = hb_block_new(factored ? "Factored" : "Scaled",
                              factored ? factored_forward : scaled_forward);
        const char *names[2] = {factored ? "A" : "a", factored ? "B" : "b"};
        int64_t shapes[2][2] = {{4, 3}, {3, 4}};
        hb_rng rng;
        hb_rng_seed(&rng, 9);
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(hb_block_add_param(s.net[m], names[k], factored ? 2 : 1,
                                                factored ? shapes[k] : (int64_t[]){4},
                                                HB_INIT_DEFAULT), HB_OK);
            hb_tensor *p = hb_block_param(s.net[m], names[k]);
            for (int64_t i = 0; i < hb_tensor_numel(p); i++)
                hb_tensor_data(p)[i] = hb_rng_uniform(&rng) - 0.5f;
        }
    }
    side_by_side_start(&s, HB_LOSS_MSE, HB_OPTIM_SGD, &o);
    hb_rng rng;
    hb_rng_seed(&rng, 10);
    hb_tensor *x = hb_rand(HB_SHAPE(2, 4), &rng), *t = hb_rand(HB_SHAPE(2, 4), &rng);
    for (int step = 0; step < 3; step++) {
        float loss[2];
        for (int m = 0; m < 2; m++)
            ck_assert_msg(hb_train_step(s.tr[m], x, t, &loss[m]) == HB_OK, "%s", hb_last_error());
        hb_state_dict sd[2];
        for (int m = 0; m < 2; m++)
            ck_assert_int_eq(hb_block_state_dict(s.net[m], &sd[m]), HB_OK);
        for (int i = 0; i < sd[0].count; i++) {
            double err = rel_error(sd[1].items[i].value, sd[0].items[i].value);
            ck_assert_msg(err <= 1e-5, "%s step %d: compiled %s %g from eager",
                          factored ? "x(AB)" : "x(ab)", step, sd[0].items[i].name, err);
        }
        hb_state_dict_free(&sd[0]), hb_state_dict_free(&sd[1]);
    }
    char *text = explain_text(s.tr[1]);
    ck_assert_msg(strstr(text, ": 3 steps: 3 ran a plan, 1 traced, 0 ran eagerly"), "%s", text);
    free(text);
    hb_tensor_release(x), hb_tensor_release(t);
    side_by_side_free(&s);
}
END_TEST

/* hb_trainer_dump inside a forward is refused (its tensors would belong to that call). */
static hb_trainer *dump_target;

static hb_tensor *dumping_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    hb_tensor *t = hb_zeros(HB_SHAPE(2, 10));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(hb_trainer_dump(dump_target, x, t, NULL, f), HB_ERR_STATE);
    fclose(f);
    free(text);
    hb_clear_error(); /* handled: else the failure fails this call (block.c) */
    return hb_relu(x);
}

START_TEST(trainer_mistakes)
{
    hb_block *net = test_model("mlp"), *other = test_model("mlp");
    hb_optim_options o = hb_optim_defaults(0.1f);
    hb_optimizer *opt = hb_optimizer_new(other, HB_OPTIM_SGD, &o);
    ck_assert_ptr_null(hb_trainer_new(net, HB_LOSS_MSE, opt, true));
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "another block"));
    ck_assert_ptr_null(hb_trainer_new(NULL, HB_LOSS_MSE, NULL, true));
    ck_assert_ptr_null(hb_trainer_new(net, (hb_loss_kind)7, NULL, true));
    ck_assert_ptr_null(hb_one_hot((int64_t[]){0, 4}, 2, 3));
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "label 4 of row 1"));
    for (int compiled = 0; compiled < 2; compiled++) {
        hb_trainer *tr = hb_trainer_new(net, HB_LOSS_CROSS_ENTROPY, NULL, compiled);
        hb_tensor *x = hb_ones(HB_SHAPE(2, 20)), *t = hb_zeros(HB_SHAPE(2, 7));
        float loss;
        ck_assert_int_eq(hb_train_step(tr, x, NULL, &loss), HB_ERR_ARG);
        ck_assert_int_eq(hb_train_step(tr, x, t, &loss), HB_ERR_SHAPE);
        ck_assert_msg(strstr(hb_last_error(), "[2, 7]") && strstr(hb_last_error(), "[2, 10]"),
                      "%s", hb_last_error());
        hb_tensor_release(t);
        t = hb_zeros(HB_SHAPE(2, 10));
        ck_assert_int_eq(hb_train_step(tr, x, t, &loss), HB_OK); /* still usable */
        hb_tensor_release(x), hb_tensor_release(t);
        hb_trainer_free(tr);
    }
    dump_target = hb_trainer_new(net, HB_LOSS_CROSS_ENTROPY, NULL, true);
    hb_block *dumper = hb_block_new("Dumper", dumping_forward);
    hb_tensor *x = hb_ones(HB_SHAPE(2, 20));
    hb_tensor *y = test_call_ok(dumper, x);
    hb_trainer_free(dump_target);
    hb_tensor_release(x), hb_tensor_release(y);
    hb_block_release(dumper);
    hb_optimizer_free(opt);
    hb_block_release(net), hb_block_release(other);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_add_loop_test(tc, same_steps_as_torch_optim, 0, 2);
    tcase_add_test(tc, loss_gradients_closed_form);
    tcase_add_test(tc, plans_see_updates);
    tcase_add_test(tc, caller_mistakes);
    tcase_add_loop_test(tc, compiled_steps_match_eager, 0,
                        (int)(sizeof step_cases / sizeof step_cases[0]));
    tcase_add_test(tc, island_gradient_runs_eagerly);
    tcase_add_loop_test(tc, parameters_reading_parameters, 0, 2);
    tcase_add_test(tc, trainer_mistakes);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

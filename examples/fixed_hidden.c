/* D2L 5.1.3: code in the forward — a constant weight that is never trained, a layer used twice
 * (sharing its parameters), and a loop whose trip count depends on the data. */
#include "models.h"

#include <math.h>

/* sum(|x|) > 1, as a test a hybridized block keeps compiling (each outcome is a guard in its
 * plan). Only while finite: an infinite sum would never halve below 1. */
static bool above_one(hb_tensor *x)
{
    hb_tensor *s = hb_sum(hb_abs(x));
    return hb_test(hb_logical_and(hb_gt(s, 1.0f), hb_lt(s, INFINITY)));
}

static hb_tensor *fixed_hidden_forward(hb_block *self, hb_tensor *x)
{
    hb_block *linear = hb_block_child(self, "linear");
    x = hb_block_call(linear, x);
    x = hb_relu(hb_add_scalar(hb_matmul(x, hb_block_param(self, "rand_weight")), 1.0f));
    x = hb_block_call(linear, x); /* the same layer again: shared parameters */
    while (above_one(x)) /* data-dependent control flow */
        x = hb_div_scalar(x, 2.0f);
    return hb_sum(x);
}

hb_block *fixed_hidden_new(void)
{
    hb_block *b = hb_block_new("FixedHiddenMLP", fixed_hidden_forward);
    hb_block_add_child(b, "linear", hb_linear_new(20, 20));
    hb_block_add_const(b, "rand_weight", hb_rand(HB_SHAPE(20, 20), NULL));
    return b;
}

/* The chapter's constant-parameter example f(x, w) = c · wᵀx, with a ReLU. */
static hb_tensor *scaled_fixed_forward(hb_block *self, hb_tensor *x)
{
    const float c = 3.0f;
    return hb_relu(hb_mul_scalar(hb_matmul(x, hb_block_param(self, "w")), c));
}

hb_block *scaled_fixed_new(void)
{
    hb_block *b = hb_block_new("ScaledFixed", scaled_fixed_forward);
    hb_block_add_const(b, "w", hb_randn(HB_SHAPE(20, 8), NULL));
    return b;
}

/* If/else on a value: the branch a call takes depends on its input. A hybridized Branch
 * compiles one plan per path it has seen (each guarded by the test's outcome) and runs the
 * input that goes the other way eagerly while compiling that path too. */
static hb_tensor *branch_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *h = hb_block_call(hb_block_child(self, "linear"), x);
    if (hb_test(hb_gt(hb_mean(h), 0.0f)))
        return hb_relu(h);
    return hb_mul_scalar(hb_tanh(h), -2.0f);
}

hb_block *branch_new(void)
{
    hb_block *b = hb_block_new("Branch", branch_forward);
    hb_block_add_child(b, "linear", hb_linear_new(20, 8));
    return b;
}

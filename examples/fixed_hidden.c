/* D2L 5.1.3: code in the forward — a constant weight that is never trained, a layer used twice
 * (sharing its parameters), and a loop whose trip count depends on the data. */
#include "models.h"

#include <math.h>

static hb_tensor *fixed_hidden_forward(hb_block *self, hb_tensor *x)
{
    hb_block *linear = hb_block_child(self, "linear");
    x = hb_block_call(linear, x);
    x = hb_relu(hb_add_scalar(hb_matmul(x, hb_block_param(self, "rand_weight")), 1.0f));
    x = hb_block_call(linear, x); /* the same layer again: shared parameters */
    /* Data-dependent control flow. An infinite sum would never halve below 1. */
    for (float s; x && (s = hb_item(hb_sum(hb_abs(x)))) > 1.0f && !isinf(s);)
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

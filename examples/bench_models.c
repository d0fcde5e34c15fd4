/* The benchmark models of docs/seed-models.md: a wide MLP, a deep one, and an elementwise chain
 * (a GELU-like activation after x·sigmoid(x)) that ends in a reduction. */
#include "models.h"

hb_block *mlp_wide_new(void)
{
    return hb_sequential_of(hb_linear_new(0, 1024), hb_relu_new(), hb_linear_new(1024, 1024));
}

hb_block *mlp_deep_new(void)
{
    hb_block *seq = hb_sequential_new();
    for (int i = 0; i < 16; i++) {
        hb_sequential_add(seq, hb_linear_new(i == 0 ? 0 : 256, 256));
        hb_sequential_add(seq, hb_relu_new());
    }
    return seq;
}

static hb_tensor *chain_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    hb_tensor *y = hb_mul(x, hb_sigmoid(x));
    y = hb_add_scalar(hb_mul_scalar(y, 0.5f), 1.0f);
    hb_tensor *cube = hb_mul(hb_mul(y, y), y);
    hb_tensor *inner = hb_mul_scalar(hb_add(y, hb_mul_scalar(cube, 0.044715f)), 0.79788456f);
    y = hb_mul(y, hb_tanh(inner));
    return hb_sum(hb_abs(y));
}

hb_block *chain_new(void) { return hb_block_new("Chain", chain_forward); }

/* D2L 5.1.3-5.1.4 and exercises 2-3: blocks inside blocks — nesting, mixing library and custom
 * blocks, running children side by side, and a factory that stamps out fresh instances. */
#include "models.h"

static hb_tensor *nest_mlp_forward(hb_block *self, hb_tensor *x)
{
    return hb_block_call(hb_block_child(self, "linear"),
                         hb_block_call(hb_block_child(self, "net"), x));
}

hb_block *nest_mlp_new(void)
{
    hb_block *b = hb_block_new("NestMLP", nest_mlp_forward);
    hb_block_add_child(b, "net", hb_sequential_of(hb_linear_new(0, 64), hb_relu_new(),
                                                  hb_linear_new(64, 32), hb_relu_new()));
    hb_block_add_child(b, "linear", hb_linear_new(32, 16));
    return b;
}

hb_block *chimera_new(void)
{
    return hb_sequential_of(nest_mlp_new(), hb_linear_new(16, 20), fixed_hidden_new());
}

hb_block *parallel_new(void)
{
    hb_block *b = hb_parallel_new(1);
    hb_block_add_child(b, "net1", hb_sequential_of(hb_linear_new(0, 64), hb_relu_new()));
    hb_block_add_child(b, "net2", hb_sequential_of(hb_linear_new(0, 32), hb_tanh_new()));
    return b;
}

static hb_block *linear_relu_32(void *arg)
{
    (void)arg;
    return hb_sequential_of(hb_linear_new(32, 32), hb_relu_new());
}

hb_block *factory_new(void)
{
    return hb_sequential_of(hb_linear_new(0, 32), hb_relu_new(),
                            hb_block_factory(4, linear_relu_32, NULL), hb_linear_new(32, 10));
}

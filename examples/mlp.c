/* D2L 5.1.1-5.1.2: the MLP three ways — a library Sequential, a custom block class, and a
 * Sequential written by hand. */
#include "models.h"

#include <stdio.h>

hb_block *mlp_new(void)
{
    return hb_sequential_of(hb_linear_new(0, 256), hb_relu_new(), hb_linear_new(256, 10));
}

/* The custom block: its children are found by name in the forward. */
static hb_tensor *mlp_class_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *h = hb_relu(hb_block_call(hb_block_child(self, "hidden"), x));
    return hb_block_call(hb_block_child(self, "out"), h);
}

hb_block *mlp_class_new(void)
{
    hb_block *b = hb_block_new("MLP", mlp_class_forward);
    hb_block_add_child(b, "hidden", hb_linear_new(0, 256));
    hb_block_add_child(b, "out", hb_linear_new(256, 10));
    return b;
}

/* MySequential: children keyed "0", "1", … by the order they were given; the forward runs
 * them in that order. */
static hb_tensor *my_sequential_forward(hb_block *self, hb_tensor *x)
{
    for (int i = 0; i < hb_block_num_children(self); i++)
        x = hb_block_call(hb_block_child_at(self, i, NULL), x);
    return x;
}

static hb_block *my_sequential_of(int n, hb_block **blocks)
{
    hb_block *b = hb_block_new("MySequential", my_sequential_forward);
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        hb_block_add_child(b, key, blocks[i]);
    }
    return b;
}

hb_block *my_sequential_new(void)
{
    return my_sequential_of(3, (hb_block *[]){hb_linear_new(0, 256), hb_relu_new(),
                                              hb_linear_new(256, 10)});
}

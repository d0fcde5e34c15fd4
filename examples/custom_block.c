/* The README's example, as a program: the seed's MLP as a custom block, run on a batch of 2.
 * Build it against an installed hybrid with: cc custom_block.c $(pkg-config --cflags --libs hybrid) */
#include <hybrid.h>

static hb_tensor *mlp_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *h = hb_relu(hb_block_call(hb_block_child(self, "hidden"), x));
    return hb_block_call(hb_block_child(self, "out"), h);
}

static hb_block *mlp_new(void)
{
    hb_block *b = hb_block_new("MLP", mlp_forward);
    hb_block_add_child(b, "hidden", hb_linear_new(0, 256)); /* in-size inferred on first call */
    hb_block_add_child(b, "out", hb_linear_new(256, 10));
    return b;
}

int main(void)
{
    hb_block *net = mlp_new();
    hb_tensor *x = hb_rand(HB_SHAPE(2, 20), NULL);
    hb_tensor *y = hb_block_call(net, x);
    if (!y) {
        fprintf(stderr, "error: %s\n", hb_last_error());
        return 1;
    }
    hb_tensor_print(stdout, y);
    hb_block_print(stdout, net);
    hb_tensor_release(y);
    hb_tensor_release(x);
    hb_block_release(net);
    return 0;
}

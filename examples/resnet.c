/* The ResNets of docs/seed-models.md, from the library's builder: the same factory makes the
 * small resnet-mini and ResNet-18, in inference mode (batch norm from running statistics). */
#include "models.h"

static hb_block *inference(hb_block *b)
{
    hb_block_set_training(b, false);
    return b;
}

hb_block *resnet_mini_new(void)
{
    hb_resnet_config c = {{16, 32, 64, 128}, {1, 1, 1, 1}, 10, 3};
    return inference(hb_resnet_new(&c));
}

hb_block *resnet18_new(void)
{
    hb_resnet_config c = {{64, 128, 256, 512}, {2, 2, 2, 2}, 1000, 3};
    return inference(hb_resnet_new(&c));
}

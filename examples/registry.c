/* The models by name, for the command line and the tests. */
#include "models.h"

#include <string.h>

const model_entry example_models[] = {
    {"mlp", mlp_new, 20, 2, true, "Sequential(Linear(i,256), ReLU, Linear(256,10))", 0},
    {"mlp-class", mlp_class_new, 20, 2, true, "custom block MLP: out(relu(hidden(x)))", 0},
    {"my-sequential", my_sequential_new, 20, 2, true,
     "a hand-written Sequential of the same layers", 0},
    {"fixed-hidden", fixed_hidden_new, 20, 2, true,
     "constant weight, shared Linear, while sum(|x|) > 1: x /= 2; returns sum(x)", 0},
    {"nest-mlp", nest_mlp_new, 20, 2, true, "linear(net(x)) with net a Sequential of 4 blocks", 0},
    {"chimera", chimera_new, 20, 2, true, "Sequential(NestMLP, Linear(16,20), FixedHiddenMLP)", 0},
    {"parallel", parallel_new, 20, 2, true, "concat(net1(x), net2(x)) along axis 1 -> [b, 96]", 0},
    {"factory", factory_new, 20, 2, true,
     "Linear, ReLU, 4 fresh Linear+ReLU from one factory, Linear", 0},
    {"scaled-fixed", scaled_fixed_new, 20, 2, true,
     "relu(c * (x @ w)), w a constant [20, 8], c = 3", 0},
    {"branch", branch_new, 20, 2, false,
     "if mean(linear(x)) > 0: relu(h) else -2*tanh(h) -- one plan per path taken", 0},
    {"resnet-mini", resnet_mini_new, 3, 2, true,
     "ResNet: 7x7/2 conv, BN, ReLU, max pool, 4 stages of BasicBlocks (16/32/64/128), "
     "global average pool, fc(10); inference mode", 32},
    {"resnet18", resnet18_new, 3, 1, false,
     "ResNet-18 (torchvision layout), 1000 classes, inference mode", 224},
    {"mlp-wide", mlp_wide_new, 1024, 256, false,
     "benchmark: Sequential(Linear(N,1024), ReLU, Linear(1024,1024))", 0},
    {"mlp-deep", mlp_deep_new, 256, 64, false, "benchmark: 16 x (Linear(., 256), ReLU)", 0},
    {"chain", chain_new, 4194304, 0, false,
     "benchmark: x*sigmoid(x), 0.5y+1, y*tanh(0.79788456(y+0.044715y^3)), sum(|y|)", 0},
};
const int example_model_count = (int)(sizeof example_models / sizeof example_models[0]);

const model_entry *example_model_find(const char *name)
{
    for (int i = 0; i < example_model_count; i++)
        if (strcmp(example_models[i].name, name) == 0)
            return &example_models[i];
    return NULL;
}

hb_block *example_model_new(const char *name, uint64_t seed)
{
    const model_entry *e = example_model_find(name);
    if (!e)
        return NULL;
    hb_seed(seed);
    hb_block *b = e->make();
    if (b)
        hb_block_set_name(b, name);
    return b;
}

hb_tensor *example_input(const model_entry *e, int64_t batch, int64_t features, hb_rng *rng)
{
    batch = batch ? batch : e->batch;
    features = features ? features : e->features;
    if (e->batch == 0)
        return hb_rand(HB_SHAPE(features), rng);
    if (e->image)
        return hb_rand(HB_SHAPE(batch, features, e->image, e->image), rng);
    return hb_rand(HB_SHAPE(batch, features), rng);
}

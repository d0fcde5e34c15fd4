/* The models by name, for the command line and the tests. */
#include "models.h"

#include <string.h>

const model_entry example_models[] = {
    {"mlp", mlp_new, 20, 2, true, "Sequential(Linear(i,256), ReLU, Linear(256,10))", 0, 0, false},
    {"mlp-class", mlp_class_new, 20, 2, true, "custom block MLP: out(relu(hidden(x)))", 0, 0, false},
    {"my-sequential", my_sequential_new, 20, 2, true,
     "a hand-written Sequential of the same layers", 0, 0, false},
    {"fixed-hidden", fixed_hidden_new, 20, 2, true,
     "constant weight, shared Linear, while sum(|x|) > 1: x /= 2; returns sum(x)", 0, 0, false},
    {"nest-mlp", nest_mlp_new, 20, 2, true, "linear(net(x)) with net a Sequential of 4 blocks", 0, 0, false},
    {"chimera", chimera_new, 20, 2, true, "Sequential(NestMLP, Linear(16,20), FixedHiddenMLP)", 0, 0, false},
    {"parallel", parallel_new, 20, 2, true, "concat(net1(x), net2(x)) along axis 1 -> [b, 96]", 0, 0, false},
    {"factory", factory_new, 20, 2, true,
     "Linear, ReLU, 4 fresh Linear+ReLU from one factory, Linear", 0, 0, false},
    {"scaled-fixed", scaled_fixed_new, 20, 2, true,
     "relu(c * (x @ w)), w a constant [20, 8], c = 3", 0, 0, false},
    {"branch", branch_new, 20, 2, false,
     "if mean(linear(x)) > 0: relu(h) else -2*tanh(h) -- one plan per path taken", 0, 0, false},
    {"resnet-mini", resnet_mini_new, 3, 2, true,
     "ResNet: 7x7/2 conv, BN, ReLU, max pool, 4 stages of BasicBlocks (16/32/64/128), "
     "global average pool, fc(10); inference mode", 32, 0, false},
    {"resnet18", resnet18_new, 3, 1, false,
     "ResNet-18 (torchvision layout), 1000 classes, inference mode", 224, 0, false},
    {"mlp-wide", mlp_wide_new, 1024, 256, false,
     "benchmark: Sequential(Linear(N,1024), ReLU, Linear(1024,1024))", 0, 0, false},
    {"mlp-deep", mlp_deep_new, 256, 64, false, "benchmark: 16 x (Linear(., 256), ReLU)", 0, 0, false},
    {"chain", chain_new, 4194304, 0, false,
     "benchmark: x*sigmoid(x), 0.5y+1, y*tanh(0.79788456(y+0.044715y^3)), sum(|y|)", 0, 0, false},
    {"transformer-classifier", transformer_classifier_new, 16, 2, false,
     "ids -> Embedding(100,32) + positions, TransformerEncoder(2 layers, 4 heads) ignoring "
     "padding, mean over tokens, Linear(32,2)", 0, 100, true},
    {"lstm-lm", lstm_lm_new, 16, 2, false,
     "ids -> Embedding(100,32), LSTM(32,64), Linear(64,100): next-token scores per step", 0, 100,
     true},
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
    if (e->vocab) {
        hb_tensor *ids = hb_tensor_new_typed(HB_I64, HB_SHAPE(batch, features));
        int64_t *v = ids ? hb_tensor_raw(ids) : NULL;
        for (int64_t r = 0; v && r < batch; r++)
            for (int64_t t = 0; t < features; t++)
                v[r * features + t] = r % 2 && t >= features - features / 4
                                          ? 0
                                          : 1 + (int64_t)(hb_rng_next(rng) % (uint64_t)(e->vocab - 1));
        return ids;
    }
    if (e->batch == 0)
        return hb_rand(HB_SHAPE(features), rng);
    if (e->image)
        return hb_rand(HB_SHAPE(batch, features, e->image, e->image), rng);
    return hb_rand(HB_SHAPE(batch, features), rng);
}

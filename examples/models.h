/* The seed chapter's models (docs/seed-models.md), written as a user of hybrid would write
 * them, and the table that makes them reachable by name from the command line. */
#ifndef HYBRID_EXAMPLES_MODELS_H
#define HYBRID_EXAMPLES_MODELS_H

#include <hybrid.h>

hb_block *mlp_new(void);           /* Sequential(Linear(i,256), ReLU, Linear(256,10)) */
hb_block *mlp_class_new(void);     /* custom block: out(relu(hidden(x))) */
hb_block *my_sequential_new(void); /* a user-written Sequential */
hb_block *fixed_hidden_new(void);  /* constant weight, shared layer, data-dependent loop */
hb_block *scaled_fixed_new(void);  /* relu(c * (x @ w)) with constant w and c */
hb_block *branch_new(void);        /* if mean(linear(x)) > 0: relu, else -2·tanh */
hb_block *nest_mlp_new(void);      /* linear(net(x)) */
hb_block *chimera_new(void);       /* Sequential(NestMLP, Linear(16,20), FixedHiddenMLP) */
hb_block *parallel_new(void);      /* concat(net1(x), net2(x)) along axis 1 */
hb_block *factory_new(void);       /* Sequential(Linear, ReLU, 4 made by one factory, Linear) */
hb_block *mlp_wide_new(void);      /* benchmark: Sequential(Linear(i,1024), ReLU, Linear(1024,1024)) */
hb_block *mlp_deep_new(void);      /* benchmark: 16 × (Linear(·,256), ReLU) */
hb_block *chain_new(void);         /* benchmark: an elementwise chain into sum(abs(y)) */
hb_block *resnet_mini_new(void);   /* ResNet, widths 16/32/64/128, one block per stage, 10 classes */
hb_block *resnet18_new(void);      /* ResNet-18: widths 64/128/256/512, two blocks each, 1000 classes */
hb_block *transformer_classifier_new(void); /* ids → embedding, TransformerEncoder, mean, head */
hb_block *lstm_lm_new(void);                /* ids → embedding, LSTM, next-token scores */

typedef struct model_entry {
    const char *name;
    hb_block *(*make)(void);
    int64_t features;  /* default input width (the length, for 1-D inputs) */
    int64_t batch;     /* default batch; 0: the input is 1-D, [features] */
    bool chapter;      /* one of the seed chapter's models (shown by `hybrid demo`) */
    const char *about; /* one line for `hybrid demo` and `hybrid models` */
    int64_t image;     /* images: the input is [batch, features (channels), image, image] */
    int64_t vocab;     /* token models: the input is int64 ids [batch, features (tokens)] */
    bool later;        /* one of D2L's later chapters (shown by `hybrid demo` after the seed's) */
} model_entry;

extern const model_entry example_models[];
extern const int example_model_count;

/* The model called name, built with parameters from seed (deferred ones are drawn on the first
 * call), its root named after it; NULL with an error if the name is unknown. */
hb_block *example_model_new(const char *name, uint64_t seed);
const model_entry *example_model_find(const char *name);
/* A uniform random input for e: [batch, features], [features] for 1-D models, or
 * [batch, features, image, image] for image models (batch and features 0: e's defaults); for
 * token models int64 ids in [1, vocab), every other row ending in a quarter of padding (0). */
hb_tensor *example_input(const model_entry *e, int64_t batch, int64_t features, hb_rng *rng);

#endif

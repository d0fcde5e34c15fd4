/* The sequence blocks (src/frontend/sequence.c) against PyTorch 1.13: each loads its PyTorch
 * module's state dict by PyTorch's names (tests/data/sequence, made by gen_blocks.py) and gives
 * its output eagerly, hybridized and frozen, with no eager island; gradients reach every
 * parameter; bad sizes and inputs are errors naming the block. The embedding takes int64 ids. */
#include "harness.h"
#include "models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hb_block *make(const char *name)
{
    hb_transformer_options small = {.feed_forward = 32};
    hb_transformer_options gelu_first = {.feed_forward = 32, .gelu = true, .norm_first = true};
    if (!strcmp(name, "gelu"))
        return hb_gelu_new(false);
    if (!strcmp(name, "gelu-tanh"))
        return hb_gelu_new(true);
    if (!strcmp(name, "layer-norm"))
        return hb_layer_norm_new(9, 1e-5f);
    if (!strcmp(name, "attention") || !strcmp(name, "attention-masked"))
        return hb_multihead_attention_new(16, 4);
    if (!strcmp(name, "encoder") || !strcmp(name, "encoder-masked"))
        return hb_transformer_encoder_new(2, 16, 4, &small);
    if (!strcmp(name, "encoder-gelu-norm-first"))
        return hb_transformer_encoder_new(2, 16, 4, &gelu_first);
    if (!strcmp(name, "lstm"))
        return hb_lstm_new(6, 8, 2, true);
    if (!strcmp(name, "gru"))
        return hb_gru_new(6, 8, 2, false);
    if (!strcmp(name, "embedding"))
        return hb_embedding_new(11, 5);
    return NULL;
}

static const char *const cases[] = {"gelu",    "gelu-tanh", "layer-norm", "attention",
                                    "encoder", "encoder-gelu-norm-first", "lstm", "gru",
                                    "embedding"};

static hb_tensor *file(const char *name, const char *f)
{
    char rel[256];
    snprintf(rel, sizeof rel, "sequence/%s/%s", name, f);
    hb_tensor *t = hb_npy_load(data_path(rel));
    ck_assert_msg(t != NULL, "%s: %s", rel, hb_last_error());
    return t;
}

static hb_block *loaded(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "sequence/%s/weights.safetensors", name);
    hb_block *b = make(name);
    ck_assert_msg(b != NULL, "%s: %s", name, hb_last_error());
    ck_assert_msg(hb_block_load(b, data_path(rel)) == HB_OK, "%s: %s", name, hb_last_error());
    return b;
}

/* b (released here) run in mode 0 (eager), 1 (hybridized) or 2 (frozen) on x twice gives want;
 * compiled, one trace and a plan ran, no island. */
static void assert_like_pytorch(hb_block *b, const char *name, int mode, hb_tensor *x,
                                const hb_tensor *want)
{
    if (mode > 0)
        hb_hybridize_with(b, true, &(hb_hybrid_options){.freeze = mode == 2});
    for (int call = 0; call < 2; call++) {
        hb_tensor *y = test_call_ok(b, x);
        ck_assert_msg(rel_error(y, want) <= 1e-4, "%s mode %d call %d: relative error %g",
                      name, mode, call, rel_error(y, want));
        hb_tensor_release(y);
    }
    if (mode > 0) {
        ck_assert_ptr_nonnull(hb_block_plan(b, hb_tensor_ndim(x), hb_tensor_shape(x)));
        char *text = test_explain(b, false);
        ck_assert_msg(!strstr(text, "island") && strstr(text, "1 traced, 1 ran a plan"), "%s: %s",
                      name, text);
        free(text);
    }
    hb_block_release(b);
}

START_TEST(blocks_match_pytorch)
{
    const char *name = cases[_i];
    hb_tensor *x = file(name, "input.npy"), *want = file(name, "output.npy");
    for (int mode = 0; mode < 3; mode++)
        assert_like_pytorch(loaded(name), name, mode, x, want);
    hb_tensor_release(x), hb_tensor_release(want);
}
END_TEST

/* A parent as a user writes one: its forward calls the attention block with masks it keeps
 * (bool constants). */
static hb_tensor *masked_forward(hb_block *self, hb_tensor *x)
{
    hb_attention_masks m = {hb_block_param(self, "key_padding"), hb_block_param(self, "attn")};
    return hb_attention_call(hb_block_child(self, "net"), x, &m);
}

/* MultiheadAttention and TransformerEncoder with PyTorch's key padding mask and a causal mask
 * (bool): PyTorch's output eagerly, hybridized and frozen (the masks traced in the parent's
 * plan, no island); with the masks left out, other values. */
START_TEST(masks_match_pytorch)
{
    const char *name = _i ? "encoder-masked" : "attention-masked";
    hb_tensor *x = file(name, "input.npy"), *want = file(name, "output.npy");
    for (int mode = 0; mode < 3; mode++) {
        char rel[256];
        snprintf(rel, sizeof rel, "sequence/%s/weights.safetensors", name);
        hb_block *net = make(name);
        ck_assert_int_eq(hb_block_load(net, data_path(rel)), HB_OK);
        hb_block *b = hb_block_new("Masked", masked_forward);
        ck_assert_int_eq(hb_block_add_child(b, "net", net), HB_OK);
        ck_assert_int_eq(hb_block_add_const(b, "key_padding", file(name, "key_padding.npy")), HB_OK);
        ck_assert_int_eq(hb_block_add_const(b, "attn", file(name, "attn.npy")), HB_OK);
        assert_like_pytorch(b, name, mode, x, want);
    }
    hb_block *plain = loaded(_i ? "encoder-masked" : "attention-masked");
    hb_tensor *y = test_call_ok(plain, x);
    ck_assert_msg(rel_error(y, want) > 1e-2, "%s: the masks change nothing", name);
    hb_tensor_release(y), hb_block_release(plain);
    hb_tensor_release(x), hb_tensor_release(want);
}
END_TEST

/* examples/sequence_models.c's models, as `hybrid models` names them, with the state dicts of
 * the same nets in PyTorch: its output eagerly, hybridized and frozen, no island. The padding
 * mask is traced from the ids: other padding of the same shape runs the same plan and still
 * matches eager. */
START_TEST(examples_match_pytorch)
{
    const char *name = _i ? "lstm-lm" : "transformer-classifier";
    char rel[256];
    snprintf(rel, sizeof rel, "sequence/%s/weights.safetensors", name);
    hb_tensor *ids = file(name, "input.npy"), *want = file(name, "output.npy");
    hb_tensor *other = hb_tensor_copy(ids);
    int64_t *v = hb_tensor_raw(other);
    v[0 * 16 + 15] = v[2 * 16 + 14] = v[2 * 16 + 15] = 0, v[1 * 16 + 13] = 7;
    hb_block *eager = example_model_new(name, 0);
    ck_assert_int_eq(hb_block_load(eager, data_path(rel)), HB_OK);
    hb_tensor *want_other = test_call_ok(eager, other);
    for (int mode = 0; mode < 3; mode++) {
        hb_block *b = example_model_new(name, 0);
        ck_assert_msg(hb_block_load(b, data_path(rel)) == HB_OK, "%s: %s", name, hb_last_error());
        if (mode > 0)
            hb_hybridize_with(b, true, &(hb_hybrid_options){.freeze = mode == 2});
        for (int call = 0; call < 4; call++) {
            hb_tensor *y = test_call_ok(b, call % 2 ? other : ids);
            double err = rel_error(y, call % 2 ? want_other : want);
            ck_assert_msg(err <= (call % 2 ? 1e-5 : 1e-4), "%s mode %d call %d: relative error %g",
                          name, mode, call, err);
            hb_tensor_release(y);
        }
        if (mode > 0) {
            char *text = test_explain(b, false);
            ck_assert_msg(!strstr(text, "island") && strstr(text, "4 calls, 1 traced, 3 ran a plan"),
                          "%s: %s", name, text);
            free(text);
        }
        hb_block_release(b);
    }
    hb_tensor_release(want_other), hb_block_release(eager);
    hb_tensor_release(ids), hb_tensor_release(other), hb_tensor_release(want);
}
END_TEST

/* Σ y through every block with parameters: each parameter gets a gradient, none of it NaN. */
START_TEST(gradients_reach_every_parameter)
{
    const char *name = cases[_i];
    hb_block *b = loaded(name);
    hb_tensor *x = file(name, "input.npy");
    hb_grad_enable(true);
    hb_tensor *y = test_call_ok(b, x), *loss = hb_sum(y);
    ck_assert_int_eq(hb_backward(loss, NULL), HB_OK);
    hb_grad_enable(false);
    hb_state_dict sd;
    ck_assert_int_eq(hb_block_state_dict(b, &sd), HB_OK);
    for (int i = 0; i < sd.count; i++) {
        const hb_tensor *g = hb_tensor_grad(sd.items[i].value);
        ck_assert_msg(g != NULL, "%s: no gradient for %s", name, sd.items[i].name);
        double total = 0;
        for (int64_t k = 0; k < hb_tensor_numel(g); k++)
            total += fabs(hb_tensor_cdata(g)[k]);
        ck_assert_msg(isfinite(total) && total > 0, "%s: gradient of %s is %g", name,
                      sd.items[i].name, total);
    }
    hb_state_dict_free(&sd);
    hb_tensor_release(loss), hb_tensor_release(y), hb_tensor_release(x);
    hb_block_release(b);
}
END_TEST

static void assert_error(const void *got, const char *w1, const char *w2)
{
    ck_assert_ptr_null(got);
    ck_assert_msg(strstr(hb_last_error(), w1) && strstr(hb_last_error(), w2),
                  "message \"%s\" lacks \"%s\" or \"%s\"", hb_last_error(), w1, w2);
    hb_clear_error();
}

START_TEST(bad_sizes_and_inputs_are_named)
{
    assert_error(hb_multihead_attention_new(10, 4), "MultiheadAttention(10, 4 heads)",
                 "split evenly");
    assert_error(hb_lstm_new(0, 8, 1, false), "LSTM(0, 8, 1 layers)", "positive");
    assert_error(hb_transformer_encoder_new(0, 16, 4, NULL), "TransformerEncoder", "0 layers");
    assert_error(hb_layer_norm_new(0, 1e-5f), "LayerNorm(0", "positive");
    hb_block *lstm = hb_lstm_new(6, 8, 1, false), *mha = hb_multihead_attention_new(16, 4);
    hb_tensor *x = hb_zeros(HB_SHAPE(2, 7, 5));
    assert_error(hb_block_call(lstm, x), "LSTM(6, 8): input [2, 7, 5]", "[batch, 1 to 4096 steps, 6]");
    assert_error(hb_block_call(mha, x), "MultiheadAttention(16): input [2, 7, 5]", "[batch, sequence, 16]");
    hb_block *emb = hb_embedding_new(11, 5);
    assert_error(hb_embedding_new(0, 5), "Embedding(0, 5)", "positive");
    assert_error(hb_block_call(emb, x), "Embedding: ids are float32", "int64 or int32");
    hb_tensor *ids = hb_tensor_from_typed(HB_I64, (const int64_t[]){3, 11}, HB_SHAPE(2));
    assert_error(hb_block_call(emb, ids), "Embedding", "index 11 is out of range for axis 0 of length 11");
    hb_tensor *q = hb_zeros(HB_SHAPE(2, 5, 16)), *pad = hb_tensor_new_typed(HB_BOOL, HB_SHAPE(2, 4));
    hb_tensor *wide = hb_tensor_new_typed(HB_I64, HB_SHAPE(5, 5));
    assert_error(hb_attention_call(mha, q, &(hb_attention_masks){.key_padding = pad}),
                 "the key padding mask is bool[2, 4]", "float32 [2, 5]");
    assert_error(hb_attention_call(mha, q, &(hb_attention_masks){.attn = wide}),
                 "the attention mask is int64[5, 5]", "bool or float32 [5, 5]");
    assert_error(hb_attention_call(emb, q, &(hb_attention_masks){.attn = wide}),
                 "hb_attention_call: Embedding is not", "TransformerEncoder");
    hb_tensor_release(q), hb_tensor_release(pad), hb_tensor_release(wide);
    hb_tensor_release(x), hb_tensor_release(ids);
    hb_block_release(lstm), hb_block_release(mha), hb_block_release(emb);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sequence");
    TCase *tc = tcase_create("core");
    int n = (int)(sizeof cases / sizeof cases[0]);
    tcase_add_loop_test(tc, blocks_match_pytorch, 0, n);
    tcase_add_loop_test(tc, gradients_reach_every_parameter, 2, n); /* GELU has no parameters */
    tcase_add_loop_test(tc, masks_match_pytorch, 0, 2);
    tcase_add_loop_test(tc, examples_match_pytorch, 0, 2);
    tcase_add_test(tc, bad_sizes_and_inputs_are_named);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

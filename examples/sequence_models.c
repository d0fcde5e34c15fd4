/* Two models of D2L's later chapters, written as a user of hybrid would write them, over token
 * ids (int64, 0 is padding):
 *
 *   transformer-classifier  embedding + learned positions, a 2-layer TransformerEncoder that
 *                           ignores the padding, the mean over the real tokens, a Linear head
 *                           (D2L ch. 11, a sentence classifier);
 *   lstm-lm                 embedding, an LSTM, a Linear decoder to every step's next-token
 *                           scores (D2L ch. 9, an RNN language model).
 *
 * Their parameter names are those of the PyTorch modules of the same layout
 * (tests/data/sequence/gen_blocks.py), so state dicts load. */
#include "models.h"

enum { VOCAB = 100, WIDTH = 32, MAX_LEN = 64, CLASSES = 2, HIDDEN = 64 };

/* ids [batch, seq] → class scores [batch, 2]. The padding mask is computed from the ids in the
 * forward, so a hybridized classifier traces it with the rest: one plan serves every padding. */
static hb_tensor *classifier_forward(hb_block *self, hb_tensor *ids)
{
    /* ids of another shape, or longer than the positions, fail in the ops below, named */
    int64_t batch = hb_tensor_shape(ids)[0], seq = hb_tensor_ndim(ids) > 1 ? hb_tensor_shape(ids)[1] : 0;
    hb_tensor *pad = hb_equal(ids, hb_cast(hb_scalar(0.0f), hb_tensor_dtype(ids)));
    hb_tensor *x = hb_block_call(hb_block_child(self, "embedding"), ids);
    x = hb_add(x, hb_slice(hb_block_param(self, "positions"), 0, 0, seq));
    hb_attention_masks masks = {.key_padding = pad};
    x = hb_attention_call(hb_block_child(self, "encoder"), x, &masks);
    /* the mean over the tokens that are not padding */
    hb_tensor *keep = hb_cast(hb_logical_not(pad), HB_F32);
    hb_tensor *keep3 = hb_reshape(keep, 3, (int64_t[]){batch, seq, 1});
    hb_tensor *pooled = hb_div(hb_sum_axis(hb_mul(x, keep3), 1, false),
                               hb_sum_axis(keep3, 1, false));
    return hb_block_call(hb_block_child(self, "head"), pooled);
}

hb_block *transformer_classifier_new(void)
{
    hb_transformer_options o = {.feed_forward = 2 * WIDTH};
    hb_block *b = hb_block_new("TransformerClassifier", classifier_forward);
    if (b && (hb_block_add_child(b, "embedding", hb_embedding_new(VOCAB, WIDTH)) != HB_OK ||
              hb_block_add_param(b, "positions", HB_SHAPE(MAX_LEN, WIDTH),
                                 (hb_init){HB_INIT_NORMAL, 0.0f, 0.02f, NULL}) != HB_OK ||
              hb_block_add_child(b, "encoder", hb_transformer_encoder_new(2, WIDTH, 4, &o)) != HB_OK ||
              hb_block_add_child(b, "head", hb_linear_new(WIDTH, CLASSES)) != HB_OK)) {
        hb_block_release(b);
        return NULL;
    }
    return b;
}

/* ids [batch, seq] → next-token scores [batch, seq, vocab]. */
static hb_tensor *lm_forward(hb_block *self, hb_tensor *ids)
{
    hb_tensor *x = hb_block_call(hb_block_child(self, "embedding"), ids);
    hb_tensor *h = hb_block_call(hb_block_child(self, "rnn"), x);
    return hb_block_call(hb_block_child(self, "decoder"), h);
}

hb_block *lstm_lm_new(void)
{
    hb_block *b = hb_block_new("LSTMLanguageModel", lm_forward);
    if (b && (hb_block_add_child(b, "embedding", hb_embedding_new(VOCAB, WIDTH)) != HB_OK ||
              hb_block_add_child(b, "rnn", hb_lstm_new(WIDTH, HIDDEN, 1, false)) != HB_OK ||
              hb_block_add_child(b, "decoder", hb_linear_new(HIDDEN, VOCAB)) != HB_OK)) {
        hb_block_release(b);
        return NULL;
    }
    return b;
}

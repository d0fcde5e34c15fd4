/* Blocks for sequences, with PyTorch's parameter names so its state dicts load: GELU,
 * LayerNorm, MultiheadAttention (self-attention, batch first), TransformerEncoderLayer and
 * TransformerEncoder, LSTM and GRU (batch first). Each is built on the public API, as a user's
 * block would be, from ops that trace and compile (matmul, softmax, slices, elementwise). */
#include "frontend.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- composites ---------------------------------------------------------------------------- */

hb_tensor *hb_gelu(hb_tensor *x, bool tanh_form)
{
    if (!tanh_form) /* x·Φ(x) = x·(1 + erf(x/√2))/2 */
        return hb_mul(hb_mul_scalar(x, 0.5f),
                      hb_add_scalar(hb_erf(hb_mul_scalar(x, (float)M_SQRT1_2)), 1.0f));
    /* x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2 */
    hb_tensor *cube = hb_mul(hb_mul(x, x), x);
    hb_tensor *inner = hb_mul_scalar(hb_add(x, hb_mul_scalar(cube, 0.044715f)),
                                     (float)(M_2_SQRTPI * M_SQRT1_2));
    return hb_mul(hb_mul_scalar(x, 0.5f), hb_add_scalar(hb_tanh(inner), 1.0f));
}

hb_tensor *hb_layer_norm(hb_tensor *x, int axis, hb_tensor *weight, hb_tensor *bias, float eps)
{
    if (!x || (axis < -x->shape.ndim || axis >= x->shape.ndim))
        return x ? hb_frame_fail(HB_ERR_ARG, "layer_norm: axis %d is out of range for %d dims",
                                 axis, x->shape.ndim), NULL
                 : NULL;
    int a = axis < 0 ? axis + x->shape.ndim : axis;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < x->shape.ndim; i++)
        *(i < a ? &outer : &inner) *= x->shape.dim[i];
    /* over rows of the normalized axes: (x − mean) / √(var + eps), var the biased one */
    hb_tensor *rows = hb_reshape(x, 2, (int64_t[]){outer, inner});
    hb_tensor *d = hb_sub(rows, hb_mean_axis(rows, 1, true));
    hb_tensor *var = hb_mean_axis(hb_mul(d, d), 1, true);
    hb_tensor *norm = hb_div(d, hb_sqrt(hb_add_scalar(var, eps)));
    hb_tensor *y = hb_reshape(norm, x->shape.ndim, x->shape.dim);
    y = weight ? hb_mul(y, weight) : y;
    return bias ? hb_add(y, bias) : y;
}

/* ---- GELU and LayerNorm --------------------------------------------------------------------- */

static hb_tensor *gelu_forward(hb_block *self, hb_tensor *x)
{
    return hb_gelu(x, *(const bool *)hb_block_state(self));
}

hb_block *hb_gelu_new(bool tanh_form)
{
    return hb_block_new_with("GELU", gelu_forward, &tanh_form, sizeof tanh_form);
}

typedef struct norm_state {
    int64_t dim;
    float eps;
} norm_state;

static hb_tensor *layer_norm_forward(hb_block *self, hb_tensor *x)
{
    const norm_state *s = hb_block_state(self);
    if (x && (x->shape.ndim < 1 || x->shape.dim[x->shape.ndim - 1] != s->dim)) {
        char sb[96];
        return hb_frame_fail(HB_ERR_SHAPE, "LayerNorm(%lld): input %s does not end in %lld",
                             (long long)s->dim, hb_shape_str(x->shape.ndim, x->shape.dim, sb,
                                                             sizeof sb), (long long)s->dim),
               NULL;
    }
    return hb_layer_norm(x, -1, hb_block_param(self, "weight"), hb_block_param(self, "bias"),
                         s->eps);
}

hb_block *hb_layer_norm_new(int64_t dim, float eps)
{
    if (dim <= 0 || !(eps >= 0))
        return hb_frame_fail(HB_ERR_ARG, "LayerNorm(%lld, eps %g): the size must be positive "
                             "and eps not negative", (long long)dim, (double)eps), NULL;
    hb_block *b = hb_block_new_with("LayerNorm", layer_norm_forward, &(norm_state){dim, eps},
                                    sizeof(norm_state));
    hb_init ones = {HB_INIT_CONSTANT, 1.0f, 0.0f, NULL};
    if (b && (hb_block_add_param(b, "weight", HB_SHAPE(dim), ones) != HB_OK ||
              hb_block_add_param(b, "bias", HB_SHAPE(dim), (hb_init){HB_INIT_ZEROS, 0, 0, NULL}) != HB_OK)) {
        hb_block_release(b);
        return NULL;
    }
    return b;
}

/* ---- Embedding ----------------------------------------------------------------------------- */

/* ids (int32 or int64, any shape) → ids.shape + [dim], the rows of weight: nn.Embedding. */
static hb_tensor *embedding_forward(hb_block *self, hb_tensor *ids)
{
    if (ids && ids->dtype != HB_I64 && ids->dtype != HB_I32)
        return hb_frame_fail(HB_ERR_ARG, "Embedding: ids are %s; it takes int64 or int32 ids",
                             hb_dtypes[ids->dtype].name), NULL;
    return hb_gather(hb_block_param(self, "weight"), ids, 0);
}

hb_block *hb_embedding_new(int64_t num, int64_t dim)
{
    if (num <= 0 || dim <= 0)
        return hb_frame_fail(HB_ERR_ARG, "Embedding(%lld, %lld): both sizes must be positive",
                             (long long)num, (long long)dim), NULL;
    hb_block *b = hb_block_new("Embedding", embedding_forward);
    /* PyTorch's init: standard normal */
    if (b && hb_block_add_param(b, "weight", HB_SHAPE(num, dim),
                                (hb_init){HB_INIT_NORMAL, 0.0f, 1.0f, NULL}) != HB_OK) {
        hb_block_release(b);
        return NULL;
    }
    return b;
}

/* ---- MultiheadAttention ---------------------------------------------------------------------- */

typedef struct mha_state {
    int64_t embed, heads;
} mha_state;

/* [B, T, E] → [B, H, T, E/H]: each head's part of the features. */
static hb_tensor *split_heads(hb_tensor *x, int64_t b, int64_t t, int64_t h, int64_t dh)
{
    return hb_transpose(hb_reshape(x, 4, (int64_t[]){b, t, h, dh}), 1, 2);
}

/* A mask as a term added to the scores [B, H, T, T], shaped to broadcast over them (shape
 * [B, 1, 1, T] for a key padding mask, [T, T] for an attention mask): bool true is -inf (may
 * not attend), a float32 mask is added as it is. NULL with the error set if its shape or dtype
 * is not one of those. */
static hb_tensor *mask_term(hb_tensor *m, const char *what, int ndim, const int64_t *want,
                            const int64_t *as)
{
    char sb[96], wb[96];
    bool fits = m->shape.ndim == ndim && (m->dtype == HB_BOOL || m->dtype == HB_F32);
    for (int i = 0; fits && i < ndim; i++)
        fits = m->shape.dim[i] == want[i];
    if (!fits)
        return hb_frame_fail(HB_ERR_SHAPE, "MultiheadAttention: %s is %s%s; it must be bool or "
                             "float32 %s", what, hb_dtype_name(m->dtype),
                             hb_shape_str(m->shape.ndim, m->shape.dim, sb, sizeof sb),
                             hb_shape_str(ndim, want, wb, sizeof wb)), NULL;
    hb_tensor *add = m->dtype == HB_BOOL ? hb_where(m, hb_scalar(-INFINITY), hb_scalar(0.0f)) : m;
    return add ? hb_reshape(add, 4, as) : NULL;
}

/* Self-attention over x [B, T, E]: q, k, v from in_proj (one [3E, E] weight, as PyTorch keeps
 * it), softmax(q·kᵀ/√d + masks) per head, the heads put together and out_proj. The masks come
 * with the call (hb_attention_call). */
static hb_tensor *mha_forward(hb_block *self, hb_tensor *x)
{
    const mha_state *s = hb_block_state(self);
    const hb_attention_masks *masks = hb_frame_top()->extra;
    if (x && (x->shape.ndim != 3 || x->shape.dim[2] != s->embed)) {
        char sb[96];
        return hb_frame_fail(HB_ERR_SHAPE, "MultiheadAttention(%lld): input %s is not [batch, "
                             "sequence, %lld]", (long long)s->embed,
                             hb_shape_str(x->shape.ndim, x->shape.dim, sb, sizeof sb),
                             (long long)s->embed), NULL;
    }
    if (!x)
        return NULL;
    int64_t b = x->shape.dim[0], t = x->shape.dim[1], e = s->embed, h = s->heads, dh = e / h;
    hb_tensor *qkv = hb_linear(x, hb_block_param(self, "in_proj_weight"),
                               hb_block_param(self, "in_proj_bias"));
    hb_tensor *q = split_heads(hb_slice(qkv, 2, 0, e), b, t, h, dh);
    hb_tensor *k = split_heads(hb_slice(qkv, 2, e, e), b, t, h, dh);
    hb_tensor *v = split_heads(hb_slice(qkv, 2, 2 * e, e), b, t, h, dh);
    hb_tensor *scores = hb_matmul(hb_mul_scalar(q, 1.0f / sqrtf((float)dh)), hb_transpose(k, 2, 3));
    if (masks && masks->key_padding)
        scores = hb_add(scores, mask_term(masks->key_padding, "the key padding mask", 2,
                                          (int64_t[]){b, t}, (int64_t[]){b, 1, 1, t}));
    if (masks && masks->attn)
        scores = hb_add(scores, mask_term(masks->attn, "the attention mask", 2,
                                          (int64_t[]){t, t}, (int64_t[]){1, 1, t, t}));
    hb_tensor *heads = hb_matmul(hb_softmax(scores, -1), v); /* [B, H, T, dh] */
    hb_tensor *joined = hb_reshape(hb_transpose(heads, 1, 2), 3, (int64_t[]){b, t, e});
    return hb_block_call(hb_block_child(self, "out_proj"), joined);
}

hb_block *hb_multihead_attention_new(int64_t embed, int64_t heads)
{
    if (embed <= 0 || heads <= 0 || embed % heads)
        return hb_frame_fail(HB_ERR_ARG, "MultiheadAttention(%lld, %lld heads): the width must "
                             "be positive and split evenly into the heads", (long long)embed,
                             (long long)heads), NULL;
    hb_block *b = hb_block_new_with("MultiheadAttention", mha_forward,
                                    &(mha_state){embed, heads}, sizeof(mha_state));
    /* PyTorch's init: in_proj_weight Xavier-uniform (±√(6 / (fan_in + fan_out))), in_proj_bias
     * 0, out_proj a Linear */
    float bound = sqrtf(6.0f / (float)(4 * embed));
    hb_init xavier = {HB_INIT_UNIFORM, -bound, bound, NULL};
    if (b && (hb_block_add_param(b, "in_proj_weight", HB_SHAPE(3 * embed, embed), xavier) != HB_OK ||
              hb_block_add_param(b, "in_proj_bias", HB_SHAPE(3 * embed),
                                 (hb_init){HB_INIT_ZEROS, 0, 0, NULL}) != HB_OK ||
              hb_block_add_child(b, "out_proj", hb_linear_new(embed, embed)) != HB_OK)) {
        hb_block_release(b);
        return NULL;
    }
    return b;
}

hb_tensor *hb_attention_call(hb_block *b, hb_tensor *x, const hb_attention_masks *masks)
{
    const char *type = b ? hb_block_type(b) : "";
    if (!b || (strcmp(type, "MultiheadAttention") != 0 && strcmp(type, "TransformerEncoderLayer") != 0 &&
               strcmp(type, "TransformerEncoder") != 0))
        return hb_frame_fail(HB_ERR_ARG, "hb_attention_call: %s is not a MultiheadAttention, "
                             "TransformerEncoderLayer or TransformerEncoder", b ? type : "NULL"),
               NULL;
    if (!masks || (!masks->key_padding && !masks->attn))
        return hb_block_call(b, x);
    return hb_block_call_extra(b, x, masks);
}

/* ---- TransformerEncoderLayer and TransformerEncoder -------------------------------------------- */

typedef struct encoder_state {
    hb_transformer_options o;
} encoder_state;

static hb_tensor *feed_forward(hb_block *self, const hb_transformer_options *o, hb_tensor *x)
{
    hb_tensor *h = hb_block_call(hb_block_child(self, "linear1"), x);
    h = o->gelu ? hb_gelu(h, false) : hb_relu(h);
    return hb_block_call(hb_block_child(self, "linear2"), h);
}

/* PyTorch's order: x = norm1(x + sa(x)); x = norm2(x + ff(x)), or with norm_first
 * x = x + sa(norm1(x)); x = x + ff(norm2(x)). Dropout is inference's: none. */
static hb_tensor *encoder_layer_forward(hb_block *self, hb_tensor *x)
{
    const hb_transformer_options *o = &((const encoder_state *)hb_block_state(self))->o;
    const hb_attention_masks *masks = hb_frame_top()->extra;
    hb_block *sa = hb_block_child(self, "self_attn"), *n1 = hb_block_child(self, "norm1"),
             *n2 = hb_block_child(self, "norm2");
    if (o->norm_first) {
        x = hb_add(x, hb_attention_call(sa, hb_block_call(n1, x), masks));
        return hb_add(x, feed_forward(self, o, hb_block_call(n2, x)));
    }
    x = hb_block_call(n1, hb_add(x, hb_attention_call(sa, x, masks)));
    return hb_block_call(n2, hb_add(x, feed_forward(self, o, x)));
}

static hb_transformer_options options_or_default(const hb_transformer_options *o)
{
    hb_transformer_options d = o ? *o : (hb_transformer_options){0};
    d.feed_forward = d.feed_forward ? d.feed_forward : 2048;
    d.eps = d.eps > 0 ? d.eps : 1e-5f;
    return d;
}

hb_block *hb_transformer_encoder_layer_new(int64_t d_model, int64_t heads,
                                           const hb_transformer_options *o)
{
    encoder_state s = {options_or_default(o)};
    if (s.o.feed_forward < 0)
        return hb_frame_fail(HB_ERR_ARG, "TransformerEncoderLayer: feed_forward %lld is negative",
                             (long long)s.o.feed_forward), NULL;
    hb_block *b = hb_block_new_with("TransformerEncoderLayer", encoder_layer_forward, &s,
                                    sizeof s);
    if (b && (hb_block_add_child(b, "self_attn", hb_multihead_attention_new(d_model, heads)) ||
              hb_block_add_child(b, "linear1", hb_linear_new(d_model, s.o.feed_forward)) ||
              hb_block_add_child(b, "linear2", hb_linear_new(s.o.feed_forward, d_model)) ||
              hb_block_add_child(b, "norm1", hb_layer_norm_new(d_model, s.o.eps)) ||
              hb_block_add_child(b, "norm2", hb_layer_norm_new(d_model, s.o.eps)))) {
        hb_block_release(b);
        return NULL;
    }
    return b;
}

/* The layers in order, each given the call's masks; under the path "layers" as without. */
static hb_tensor *encoder_forward(hb_block *self, hb_tensor *x)
{
    const hb_attention_masks *masks = hb_frame_top()->extra;
    hb_block *layers = hb_block_child(self, "layers");
    if (!masks)
        return hb_block_call(layers, x);
    if (hb_frame_push(layers, NULL) != HB_OK)
        return NULL;
    for (int i = 0; x && i < hb_block_num_children(layers); i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        x = hb_attention_call(hb_block_child(layers, key), x, masks);
    }
    hb_tensor_retain(x);
    hb_frame_pop();
    return hb_frame_adopt(x);
}

hb_block *hb_transformer_encoder_new(int layers, int64_t d_model, int64_t heads,
                                     const hb_transformer_options *o)
{
    if (layers < 1)
        return hb_frame_fail(HB_ERR_ARG, "TransformerEncoder: %d layers (at least 1)", layers),
               NULL;
    hb_block *seq = hb_sequential_new();
    for (int i = 0; seq && i < layers; i++)
        if (hb_sequential_add(seq, hb_transformer_encoder_layer_new(d_model, heads, o)) != HB_OK)
            hb_block_release(seq), seq = NULL;
    hb_block *b = seq ? hb_block_new("TransformerEncoder", encoder_forward) : NULL;
    if (b && hb_block_add_child(b, "layers", seq) == HB_OK)
        return b;
    if (!b)
        hb_block_release(seq);
    hb_block_release(b);
    return NULL;
}

/* ---- LSTM and GRU ------------------------------------------------------------------------------ */

typedef struct rnn_state {
    int64_t input, hidden;
    int layers;
    bool bidirectional, lstm;
} rnn_state;

/* PyTorch's LSTM step, gates i, f, g, o: c = f·c + i·g, h = o·tanh(c). */
static hb_tensor *lstm_cell(hb_tensor *gates, hb_tensor **c, int64_t h)
{
    hb_tensor *i = hb_sigmoid(hb_slice(gates, 1, 0, h)), *f = hb_sigmoid(hb_slice(gates, 1, h, h));
    hb_tensor *g = hb_tanh(hb_slice(gates, 1, 2 * h, h));
    hb_tensor *o = hb_sigmoid(hb_slice(gates, 1, 3 * h, h));
    *c = hb_add(hb_mul(f, *c), hb_mul(i, g));
    return hb_mul(o, hb_tanh(*c));
}

/* PyTorch's GRU step, gates r, z, n: n = tanh(xn + r·hn), h = (1 − z)·n + z·h. */
static hb_tensor *gru_cell(hb_tensor *xg, hb_tensor *hg, hb_tensor *prev, int64_t h)
{
    hb_tensor *rz = hb_sigmoid(hb_add(hb_slice(xg, 1, 0, 2 * h), hb_slice(hg, 1, 0, 2 * h)));
    hb_tensor *r = hb_slice(rz, 1, 0, h), *z = hb_slice(rz, 1, h, h);
    hb_tensor *n = hb_tanh(hb_add(hb_slice(xg, 1, 2 * h, h), hb_mul(r, hb_slice(hg, 1, 2 * h, h))));
    return hb_add(n, hb_mul(z, hb_sub(prev, n)));
}

static hb_tensor *param_of(hb_block *self, const char *what, int layer, int dir)
{
    char name[48];
    snprintf(name, sizeof name, "%s_l%d%s", what, layer, dir ? "_reverse" : "");
    return hb_block_param(self, name);
}

/* One direction of one layer over seq [B, T, in]: the hidden states [B, T, H]. */
static hb_tensor *rnn_direction(hb_block *self, const rnn_state *s, hb_tensor *seq, int layer,
                                int dir)
{
    int64_t b = seq->shape.dim[0], t_len = seq->shape.dim[1], h = s->hidden;
    int64_t g = (s->lstm ? 4 : 3) * h;
    hb_tensor *w_hh = param_of(self, "weight_hh", layer, dir);
    hb_tensor *b_hh = param_of(self, "bias_hh", layer, dir);
    hb_tensor *xw = hb_linear(seq, param_of(self, "weight_ih", layer, dir),
                              param_of(self, "bias_ih", layer, dir)); /* every step at once */
    hb_tensor *state = hb_zeros(2, (int64_t[]){b, h}), *cell = hb_zeros(2, (int64_t[]){b, h});
    hb_tensor *steps[4096];
    for (int64_t k = 0; k < t_len && state; k++) {
        int64_t t = dir ? t_len - 1 - k : k;
        hb_tensor *xt = hb_reshape(hb_slice(xw, 1, t, 1), 2, (int64_t[]){b, g});
        hb_tensor *hw = hb_linear(state, w_hh, b_hh);
        state = s->lstm ? lstm_cell(hb_add(xt, hw), &cell, h) : gru_cell(xt, hw, state, h);
        steps[t] = hb_reshape(state, 3, (int64_t[]){b, 1, h});
    }
    return state ? hb_concat((int)t_len, steps, 1) : NULL;
}

/* x [B, T, input] → every step's output [B, T, dirs·hidden], PyTorch's batch_first y. */
static hb_tensor *rnn_forward(hb_block *self, hb_tensor *x)
{
    const rnn_state *s = hb_block_state(self);
    if (x && (x->shape.ndim != 3 || x->shape.dim[2] != s->input || x->shape.dim[1] < 1 ||
              x->shape.dim[1] > 4096)) {
        char sb[96];
        return hb_frame_fail(HB_ERR_SHAPE, "%s(%lld, %lld): input %s is not [batch, 1 to 4096 "
                             "steps, %lld]", hb_block_type(self), (long long)s->input,
                             (long long)s->hidden,
                             hb_shape_str(x->shape.ndim, x->shape.dim, sb, sizeof sb),
                             (long long)s->input), NULL;
    }
    hb_tensor *seq = x;
    for (int l = 0; l < s->layers && seq; l++) {
        hb_tensor *fw = rnn_direction(self, s, seq, l, 0);
        seq = s->bidirectional && fw
                  ? hb_concat(2, (hb_tensor *[]){fw, rnn_direction(self, s, seq, l, 1)}, 2)
                  : fw;
    }
    return seq;
}

static hb_block *rnn_new(const char *type, bool lstm, int64_t input, int64_t hidden, int layers,
                         bool bidirectional)
{
    if (input <= 0 || hidden <= 0 || layers < 1)
        return hb_frame_fail(HB_ERR_ARG, "%s(%lld, %lld, %d layers): sizes and layers must be "
                             "positive", type, (long long)input, (long long)hidden, layers),
               NULL;
    rnn_state s = {input, hidden, layers, bidirectional, lstm};
    hb_block *b = hb_block_new_with(type, rnn_forward, &s, sizeof s);
    int64_t g = (lstm ? 4 : 3) * hidden;
    /* PyTorch's init: every weight and bias uniform in ±1/√hidden */
    float bound = 1.0f / sqrtf((float)hidden);
    hb_init init = {HB_INIT_UNIFORM, -bound, bound, NULL};
    for (int l = 0; b && l < layers; l++)
        for (int d = 0; b && d < (bidirectional ? 2 : 1); d++) {
            int64_t in = l == 0 ? input : hidden * (bidirectional ? 2 : 1);
            const char *suffix = d ? "_reverse" : "";
            char n[4][48];
            snprintf(n[0], 48, "weight_ih_l%d%s", l, suffix);
            snprintf(n[1], 48, "weight_hh_l%d%s", l, suffix);
            snprintf(n[2], 48, "bias_ih_l%d%s", l, suffix);
            snprintf(n[3], 48, "bias_hh_l%d%s", l, suffix);
            if (hb_block_add_param(b, n[0], HB_SHAPE(g, in), init) != HB_OK ||
                hb_block_add_param(b, n[1], HB_SHAPE(g, hidden), init) != HB_OK ||
                hb_block_add_param(b, n[2], HB_SHAPE(g), init) != HB_OK ||
                hb_block_add_param(b, n[3], HB_SHAPE(g), init) != HB_OK)
                hb_block_release(b), b = NULL;
        }
    return b;
}

hb_block *hb_lstm_new(int64_t input, int64_t hidden, int layers, bool bidirectional)
{
    return rnn_new("LSTM", true, input, hidden, layers, bidirectional);
}

hb_block *hb_gru_new(int64_t input, int64_t hidden, int layers, bool bidirectional)
{
    return rnn_new("GRU", false, input, hidden, layers, bidirectional);
}

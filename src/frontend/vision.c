/* Convolutional networks: batch normalization and global pooling written with the op table's
 * ops, and the blocks of a ResNet (Conv2d, BatchNorm2d, pools, BasicBlock, the builder).
 *
 * Batch normalization is not an op of its own. Written as the elementwise and reduction ops
 * it is, it gets its gradient from theirs (no second rule to keep right), and in inference it
 * is x·scale + shift with per-channel scale and shift: fusion puts that into the preceding
 * convolution's epilogue, and with frozen weights the fold_bn pass moves it into the
 * convolution's weights and bias. The blocks keep torchvision's names (conv1, bn1,
 * layer2.0.downsample.0, running_mean, ...), so its state dicts load as they are. */
#include "frontend.h"

#include <math.h>
#include <string.h>

/* ---- batch normalization and global pooling ------------------------------------------------ */

/* The intermediates of a composite op. Inside a block's forward the call's frame owns every
 * tensor an op returns; outside, the caller does: a scope collects them then, and releases all
 * but the result. */
typedef struct scope {
    hb_tensor *t[40];
    int n;
} scope;

static hb_tensor *keep(scope *s, hb_tensor *t)
{
    if (t && hb_frame_depth() == 0 && s->n < (int)HB_ARRAY_LEN(s->t))
        s->t[s->n++] = t;
    return t;
}

static hb_tensor *scope_end(scope *s, hb_tensor *result)
{
    for (int i = 0; i < s->n; i++)
        if (s->t[i] != result)
            hb_tensor_release(s->t[i]);
    return result;
}

/* [C] reshaped to broadcast along axis 1 of an ndim-dimensional tensor: [C, 1, ...] */
static hb_tensor *per_channel(hb_tensor *v, int ndim)
{
    int64_t dims[HB_MAX_DIMS];
    dims[0] = -1;
    for (int i = 1; i < ndim - 1; i++)
        dims[i] = 1;
    return hb_reshape(v, ndim - 1, dims);
}

static bool check_stat(const char *what, hb_tensor *t, int64_t c, const hb_tensor *x)
{
    if (!t || (hb_tensor_ndim(t) == 1 && hb_tensor_dim(t, 0) == c))
        return true;
    char a[96], b[96];
    hb_frame_fail(HB_ERR_SHAPE, "batch_norm: %s %s does not fit input %s: needs [%lld]", what,
                  hb_shape_str(hb_tensor_ndim(t), hb_tensor_shape(t), a, sizeof a),
                  hb_shape_str(hb_tensor_ndim(x), hb_tensor_shape(x), b, sizeof b), (long long)c);
    return false;
}

/* running ← (1 − momentum)·running + momentum·batch, outside any gradient. */
static void move_towards(scope *sc, hb_tensor *running, hb_tensor *batch, float momentum)
{
    bool was_on = hb_grad_on;
    hb_grad_on = false;
    hb_tensor *kept = keep(sc, hb_mul_scalar(running, 1.0f - momentum));
    hb_tensor *next = keep(sc, hb_add(kept, keep(sc, hb_mul_scalar(batch, momentum))));
    if (next)
        hb_assign(running, next);
    hb_grad_on = was_on;
}

/* Training: (x − mean)·(1/sqrt(var + eps)) over [N, C, L] with the batch's statistics, which
 * the running ones move towards. */
static hb_tensor *batch_stats_norm(scope *sc, hb_tensor *x, hb_tensor *rm, hb_tensor *rv,
                                   float momentum, float eps)
{
    int64_t n = hb_tensor_dim(x, 0), c = hb_tensor_dim(x, 1);
    int64_t count = hb_tensor_numel(x) / (c ? c : 1);
    if (count < 2) {
        char b[96];
        return hb_frame_fail(HB_ERR_SHAPE, "batch_norm: training needs more than one value per "
                             "channel, input %s has %lld", hb_shape_str(hb_tensor_ndim(x),
                             hb_tensor_shape(x), b, sizeof b), (long long)count), NULL;
    }
    /* means over L, then over N: every image has L values, so that is the overall mean */
    hb_tensor *rows = keep(sc, hb_reshape(x, HB_SHAPE(n, c, -1)));
    hb_tensor *mean = keep(sc, hb_mean_axis(keep(sc, hb_mean_axis(rows, 2, true)), 0, true));
    hb_tensor *d = keep(sc, hb_sub(rows, mean));
    hb_tensor *sq = keep(sc, hb_mul(d, d));
    hb_tensor *var = keep(sc, hb_mean_axis(keep(sc, hb_mean_axis(sq, 2, true)), 0, true));
    hb_tensor *root = keep(sc, hb_sqrt(keep(sc, hb_add_scalar(var, eps))));
    hb_tensor *inv = keep(sc, hb_rdiv_scalar(root, 1.0f));
    if (rm)
        move_towards(sc, rm, keep(sc, hb_reshape(mean, HB_SHAPE(c))), momentum);
    if (rv) { /* the running variance is the unbiased one, as PyTorch keeps it */
        hb_tensor *unbiased = keep(sc, hb_mul_scalar(var, (float)count / (float)(count - 1)));
        move_towards(sc, rv, keep(sc, hb_reshape(unbiased, HB_SHAPE(c))), momentum);
    }
    return keep(sc, hb_mul(d, inv));
}

hb_tensor *hb_batch_norm(hb_tensor *x, hb_tensor *running_mean, hb_tensor *running_var,
                         hb_tensor *weight, hb_tensor *bias, bool training, float momentum,
                         float eps)
{
    if (!x) {
        if (hb_last_status() == HB_OK)
            hb_frame_fail(HB_ERR_ARG, "batch_norm: input is NULL");
        return NULL;
    }
    if (hb_tensor_ndim(x) < 2) {
        char b[96];
        return hb_frame_fail(HB_ERR_SHAPE, "batch_norm: input %s needs [N, C, ...]",
                             hb_shape_str(hb_tensor_ndim(x), hb_tensor_shape(x), b, sizeof b)),
               NULL;
    }
    if (!(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return hb_frame_fail(HB_ERR_ARG, "batch_norm: needs eps > 0 and momentum in [0, 1], got "
                             "%g and %g", eps, momentum), NULL;
    int64_t c = hb_tensor_dim(x, 1);
    int nd = hb_tensor_ndim(x);
    if (!check_stat("running_mean", running_mean, c, x) ||
        !check_stat("running_var", running_var, c, x) || !check_stat("weight", weight, c, x) ||
        !check_stat("bias", bias, c, x))
        return NULL;
    if (!training && (!running_mean || !running_var))
        return hb_frame_fail(HB_ERR_ARG, "batch_norm: inference needs the running mean and "
                             "variance"), NULL;
    scope sc = {.n = 0};
    hb_tensor *y;
    if (training) {
        y = batch_stats_norm(&sc, x, running_mean, running_var, momentum, eps); /* [N, C, L] */
        int64_t dims[3] = {1, c, 1};
        if (weight)
            y = keep(&sc, hb_mul(y, keep(&sc, hb_reshape(weight, 3, dims))));
        if (bias)
            y = keep(&sc, hb_add(y, keep(&sc, hb_reshape(bias, 3, dims))));
        y = keep(&sc, hb_reshape(y, nd, hb_tensor_shape(x)));
    } else {
        /* x·scale + shift: scale = weight / sqrt(var + eps), shift = bias − mean·scale */
        hb_tensor *root = keep(&sc, hb_sqrt(keep(&sc, hb_add_scalar(running_var, eps))));
        hb_tensor *scale = keep(&sc, weight ? hb_div(weight, root) : hb_rdiv_scalar(root, 1.0f));
        hb_tensor *moved = keep(&sc, hb_mul(running_mean, scale));
        hb_tensor *shift = keep(&sc, bias ? hb_sub(bias, moved) : hb_neg(moved));
        hb_tensor *scaled = keep(&sc, hb_mul(x, keep(&sc, per_channel(scale, nd))));
        y = keep(&sc, hb_add(scaled, keep(&sc, per_channel(shift, nd))));
    }
    return scope_end(&sc, y);
}

hb_tensor *hb_global_avg_pool2d(hb_tensor *x)
{
    if (!x) {
        if (hb_last_status() == HB_OK)
            hb_frame_fail(HB_ERR_ARG, "global_avg_pool2d: input is NULL");
        return NULL;
    }
    if (hb_tensor_ndim(x) != 4) {
        char b[96];
        return hb_frame_fail(HB_ERR_SHAPE, "global_avg_pool2d: needs an input [N, C, H, W], got %s",
                             hb_shape_str(hb_tensor_ndim(x), hb_tensor_shape(x), b, sizeof b)),
               NULL;
    }
    int64_t n = hb_tensor_dim(x, 0), c = hb_tensor_dim(x, 1);
    scope sc = {.n = 0};
    hb_tensor *rows = keep(&sc, hb_reshape(x, HB_SHAPE(n, c, -1)));
    hb_tensor *mean = keep(&sc, hb_mean_axis(rows, 2, false));
    return scope_end(&sc, keep(&sc, hb_reshape(mean, HB_SHAPE(n, c, 1, 1))));
}

/* ---- the transposed convolution -------------------------------------------------------------- */

/* The op table's conv_transpose2d (the convolution's input gradient) on x, with the output
 * size the options ask for, then the bias per channel. The op's output is one a convolution
 * with the same window takes back to x's size, so output_padding must stay below the stride
 * there; PyTorch allows it up to the dilation too, and then the full result (no padding) is
 * cut to size with a pad. */
hb_tensor *hb_conv_transpose2d(hb_tensor *x, hb_tensor *w, hb_tensor *bias,
                               const hb_conv_transpose2d_options *o)
{
    if (!x || !w) {
        if (hb_last_status() == HB_OK)
            hb_frame_fail(HB_ERR_ARG, "conv_transpose2d: %s is NULL", x ? "weight" : "input");
        return NULL;
    }
    char a[96], b[96];
    const char *xs = hb_shape_str(hb_tensor_ndim(x), hb_tensor_shape(x), a, sizeof a);
    const char *ws = hb_shape_str(hb_tensor_ndim(w), hb_tensor_shape(w), b, sizeof b);
    if (hb_tensor_ndim(x) != 4 || hb_tensor_ndim(w) != 4)
        return hb_frame_fail(HB_ERR_SHAPE,
                             "conv_transpose2d: input %s and weight %s need [N, C, H, W] "
                             "and [C, O/groups, kh, kw]", xs, ws), NULL;
    if (hb_tensor_dim(x, 2) < 1 || hb_tensor_dim(x, 3) < 1 || hb_tensor_dim(w, 2) < 1 ||
        hb_tensor_dim(w, 3) < 1)
        return hb_frame_fail(HB_ERR_SHAPE, "conv_transpose2d: input %s and weight %s need H, W, kh "
                             "and kw >= 1", xs, ws), NULL;
    hb_conv_transpose2d_options d = o ? *o : (hb_conv_transpose2d_options){.groups = 0};
    hb_attrs at = {.win = {.groups = d.groups ? d.groups : 1}};
    hb_window *win = &at.win;
    bool cut = false; /* an output_padding the op cannot take: full result, then a pad */
    for (int i = 0; i < 2; i++) {
        win->stride[i] = d.stride[i] ? d.stride[i] : 1;
        win->dilation[i] = d.dilation[i] ? d.dilation[i] : 1;
        win->pad[i] = d.padding[i];
    }
    for (int i = 0; i < 2; i++) {
        int most = win->stride[i] > win->dilation[i] ? win->stride[i] : win->dilation[i];
        if (win->stride[i] < 1 || win->dilation[i] < 1 || d.padding[i] < 0 ||
            d.output_padding[i] < 0 || d.output_padding[i] >= most)
            return hb_frame_fail(HB_ERR_ARG, "conv_transpose2d: needs stride and dilation >= 1, "
                                 "padding >= 0 and 0 <= output_padding < max(stride, dilation), "
                                 "got stride [%d, %d], dilation [%d, %d], padding [%d, %d], "
                                 "output_padding [%d, %d]", win->stride[0], win->stride[1],
                                 win->dilation[0], win->dilation[1], d.padding[0], d.padding[1],
                                 d.output_padding[0], d.output_padding[1]), NULL;
        cut = cut || d.output_padding[i] >= win->stride[i];
    }
    int64_t c = hb_tensor_dim(w, 0), groups = win->groups, channels;
    if (groups < 1 || hb_tensor_dim(x, 1) != c || c % groups ||
        !hb_mul_ok(hb_tensor_dim(w, 1), groups, &channels))
        return hb_frame_fail(HB_ERR_SHAPE,
                             "conv_transpose2d: input %s and weight %s do not fit %lld " "group%s",
                             xs, ws, (long long)groups, groups == 1 ? "" : "s"), NULL;
    hb_shape out = {.ndim = 4, .dim = {hb_tensor_dim(x, 0), channels}}, full = out;
    for (int i = 0; i < 2; i++) {
        int64_t span, grown; /* dims < 2^56 and ints: only the products can overflow */
        bool fits = hb_mul_ok(hb_tensor_dim(x, 2 + i) - 1, win->stride[i], &grown) &&
                    hb_mul_ok(win->dilation[i], hb_tensor_dim(w, 2 + i) - 1, &span) &&
                    grown <= ((int64_t)1 << 56) && span <= ((int64_t)1 << 56);
        if (!fits)
            return hb_frame_fail(HB_ERR_SHAPE,
                                 "conv_transpose2d: input %s and weight %s with stride "
                                 "[%d, %d] make an output too large", xs, ws, win->stride[0],
                                 win->stride[1]), NULL;
        full.dim[2 + i] = grown + span + 1;
        out.dim[2 + i] = full.dim[2 + i] - 2 * (int64_t)d.padding[i] + d.output_padding[i];
        if (out.dim[2 + i] < 1)
            return hb_frame_fail(HB_ERR_SHAPE,
                                 "conv_transpose2d: input %s and weight %s with padding "
                                 "[%d, %d] leave no output", xs, ws, d.padding[0],
                                 d.padding[1]), NULL;
    }
    scope sc = {.n = 0};
    hb_tensor *y;
    if (!cut) {
        y = keep(&sc, hb_conv2d_grad_x(x, w, &at, &out));
    } else {
        win->pad[0] = win->pad[1] = 0;
        y = keep(&sc, hb_conv2d_grad_x(x, w, &at, &full));
        int64_t before[4] = {0, 0, -d.padding[0], -d.padding[1]};
        int64_t after[4] = {0, 0, d.output_padding[0] - d.padding[0],
                            d.output_padding[1] - d.padding[1]};
        y = keep(&sc, hb_pad(y, before, after, 0.0f));
    }
    if (bias) {
        if (hb_tensor_ndim(bias) != 1 || hb_tensor_dim(bias, 0) != out.dim[1]) {
            scope_end(&sc, NULL);
            return hb_frame_fail(HB_ERR_SHAPE,
                                 "conv_transpose2d: bias %s does not fit weight %s with "
                                 "%lld group%s: needs [%lld]",
                                 hb_shape_str(hb_tensor_ndim(bias), hb_tensor_shape(bias), a,
                                              sizeof a),
                                 ws, (long long)groups, groups == 1 ? "" : "s",
                                 (long long)out.dim[1]), NULL;
        }
        y = keep(&sc, hb_add(y, keep(&sc, per_channel(bias, 4))));
    }
    return scope_end(&sc, y);
}

/* ---- Conv2d ------------------------------------------------------------------------------- */

typedef struct conv_state {
    hb_conv2d_options opts;
    bool bias;
} conv_state;

static hb_tensor *conv_forward(hb_block *self, hb_tensor *x)
{
    conv_state *s = hb_block_state(self);
    hb_param *p = hb_block_find_param(self, "weight");
    hb_tensor *w = p->value; /* (hb_block_param would call a deferred one an error) */
    if (!w) { /* in-channels deferred: the first input's */
        if (hb_tensor_ndim(x) != 4) {
            char b[96];
            return hb_frame_fail(HB_ERR_SHAPE, "Conv2d: input %s needs [N, C, H, W]",
                                 hb_shape_str(hb_tensor_ndim(x), hb_tensor_shape(x), b, sizeof b)),
                   NULL;
        }
        int groups = s->opts.groups ? s->opts.groups : 1;
        w = hb_block_param_infer(self, "weight", HB_SHAPE(p->shape.dim[0],
                                 hb_tensor_dim(x, 1) / groups, p->shape.dim[2],
                                 p->shape.dim[3]));
        if (!w)
            return NULL;
    }
    return s->bias ? hb_conv2d(x, w, hb_block_param(self, "bias"), &s->opts)
                   : hb_conv2d_nobias(x, w, &s->opts);
}

/* b with parameters weight (shape w, init) and, if bias > 0, bias [bias] in ±1/sqrt of the
 * weight's fan-in, as PyTorch's convolutions; NULL (b released) if either cannot be added. */
static hb_block *with_weight(hb_block *b, const int64_t w[4], hb_init init, int64_t bias)
{
    if (!b)
        return NULL;
    hb_init bias_init = HB_INIT_DEFAULT;
    bias_init.fan_in_of = "weight";
    if (hb_block_add_param(b, "weight", 4, w, init) != HB_OK ||
        (bias && hb_block_add_param(b, "bias", HB_SHAPE(bias), bias_init) != HB_OK)) {
        hb_block_release(b);
        return NULL;
    }
    return b;
}

static hb_block *conv_new(int64_t in, int64_t out, int kh, int kw, const hb_conv2d_options *o,
                          bool bias, hb_init init)
{
    int groups = o && o->groups ? o->groups : 1;
    if (in < 0 || out <= 0 || kh <= 0 || kw <= 0 || groups < 1 || out % groups ||
        in % groups)
        return hb_frame_fail(HB_ERR_ARG,
                             "Conv2d(%lld, %lld, kernel [%d, %d], groups %d): sizes must "
                             "be positive (in may be 0 to infer it) and channels divisible by "
                             "groups",
                             (long long)in, (long long)out, kh, kw, groups), NULL;
    conv_state st = {.opts = o ? *o : (hb_conv2d_options){.groups = 0}, .bias = bias};
    return with_weight(hb_block_new_with("Conv2d", conv_forward, &st, sizeof st),
                       (int64_t[]){out, in / groups, kh, kw}, init, bias ? out : 0);
}

/* PyTorch's default, kaiming_uniform(a=√5): uniform in ±1/sqrt(fan_in), the bias too. */
hb_block *hb_conv2d_new(int64_t in, int64_t out, int kh, int kw, const hb_conv2d_options *o,
                        bool bias)
{
    return conv_new(in, out, kh, kw, o, bias, HB_INIT_DEFAULT);
}

/* ---- ConvTranspose2d ------------------------------------------------------------------------ */

typedef struct conv_transpose_state {
    hb_conv_transpose2d_options opts;
    bool bias;
} conv_transpose_state;

static hb_tensor *conv_transpose_forward(hb_block *self, hb_tensor *x)
{
    conv_transpose_state *s = hb_block_state(self);
    return hb_conv_transpose2d(x, hb_block_param(self, "weight"),
                               s->bias ? hb_block_param(self, "bias") : NULL, &s->opts);
}

/* PyTorch's init: kaiming_uniform(a=√5) with fan_in from the weight's dims after the first
 * ((out/groups)·kh·kw), the bias in ±1/sqrt of that. */
hb_block *hb_conv_transpose2d_new(int64_t in, int64_t out, int kh, int kw,
                                  const hb_conv_transpose2d_options *o, bool bias)
{
    int groups = o && o->groups ? o->groups : 1;
    if (in <= 0 || out <= 0 || kh <= 0 || kw <= 0 || groups < 1 || out % groups ||
        in % groups)
        return hb_frame_fail(HB_ERR_ARG, "ConvTranspose2d(%lld, %lld, kernel [%d, %d], groups %d): "
                             "sizes must be positive and channels divisible by groups",
                             (long long)in, (long long)out, kh, kw, groups), NULL;
    conv_transpose_state st = {.opts = o ? *o : (hb_conv_transpose2d_options){.groups = 0},
                               .bias = bias};
    return with_weight(hb_block_new_with("ConvTranspose2d", conv_transpose_forward, &st,
                                         sizeof st),
                       (int64_t[]){in, out / groups, kh, kw}, HB_INIT_DEFAULT, bias ? out : 0);
}

/* ---- BatchNorm2d -------------------------------------------------------------------------- */

typedef struct bn_state {
    float eps, momentum;
} bn_state;

static hb_tensor *bn_forward(hb_block *self, hb_tensor *x)
{
    bn_state *s = hb_block_state(self);
    if (x && hb_tensor_ndim(x) != 4) {
        char b[96];
        return hb_frame_fail(HB_ERR_SHAPE, "BatchNorm2d: input %s needs [N, C, H, W]",
                             hb_shape_str(hb_tensor_ndim(x), hb_tensor_shape(x), b, sizeof b)),
               NULL;
    }
    return hb_batch_norm(x, hb_block_param(self, "running_mean"),
                         hb_block_param(self, "running_var"), hb_block_param(self, "weight"),
                         hb_block_param(self, "bias"), hb_block_is_training(self), s->momentum,
                         s->eps);
}

hb_block *hb_batch_norm2d_new(int64_t channels, float eps, float momentum)
{
    if (channels <= 0 || !(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return hb_frame_fail(HB_ERR_ARG,
                             "BatchNorm2d(%lld, eps %g, momentum %g): needs channels > 0, "
                             "eps > 0 and momentum in [0, 1]", (long long)channels, eps, momentum),
               NULL;
    hb_block *b = hb_block_new_with("BatchNorm2d", bn_forward, &(bn_state){eps, momentum},
                                    sizeof(bn_state));
    if (!b)
        return NULL;
    /* torchvision's order: weight, bias, running_mean, running_var (the statistics are
     * constants: saved and loaded, never trained; a training-mode call updates them) */
    if (hb_block_add_param(b, "weight", HB_SHAPE(channels), (hb_init){.kind = HB_INIT_CONSTANT, .a = 1.0f}) ||
        hb_block_add_param(b, "bias", HB_SHAPE(channels), (hb_init){.kind = HB_INIT_ZEROS}) ||
        hb_block_add_const(b, "running_mean", hb_zeros(HB_SHAPE(channels))) ||
        hb_block_add_const(b, "running_var", hb_ones(HB_SHAPE(channels)))) {
        hb_block_release(b);
        return NULL;
    }
    return b;
}

/* ---- pools -------------------------------------------------------------------------------- */

typedef struct pool_state {
    hb_pool2d_options opts;
} pool_state;

static hb_tensor *max_pool_forward(hb_block *self, hb_tensor *x)
{
    return hb_max_pool2d(x, &((pool_state *)hb_block_state(self))->opts);
}

static hb_tensor *avg_pool_forward(hb_block *self, hb_tensor *x)
{
    return hb_avg_pool2d(x, &((pool_state *)hb_block_state(self))->opts);
}

static hb_block *pool_new(const char *type, hb_forward_fn forward, const hb_pool2d_options *o)
{
    if (!o || o->kernel[0] < 1 || o->kernel[1] < 1)
        return hb_frame_fail(HB_ERR_ARG, "%s: needs a kernel size of at least 1", type), NULL;
    return hb_block_new_with(type, forward, &(pool_state){*o}, sizeof(pool_state));
}

hb_block *hb_max_pool2d_new(const hb_pool2d_options *o)
{
    return pool_new("MaxPool2d", max_pool_forward, o);
}

hb_block *hb_avg_pool2d_new(const hb_pool2d_options *o)
{
    return pool_new("AvgPool2d", avg_pool_forward, o);
}

static hb_tensor *global_pool_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    return hb_global_avg_pool2d(x);
}

hb_block *hb_global_avg_pool2d_new(void)
{
    return hb_block_new("AdaptiveAvgPool2d", global_pool_forward);
}

/* ---- ResNet ------------------------------------------------------------------------------- */

/* relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the shortcut a strided 1×1 conv and a
 * batch norm where the shape changes. */
static hb_tensor *basic_block_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *y = hb_block_call(hb_block_child(self, "conv1"), x);
    y = hb_relu(hb_block_call(hb_block_child(self, "bn1"), y));
    y = hb_block_call(hb_block_child(self, "conv2"), y);
    y = hb_block_call(hb_block_child(self, "bn2"), y);
    hb_block *down = NULL; /* present only where the shape changes */
    for (int i = 0; i < hb_block_num_children(self); i++) {
        const char *key;
        hb_block *c = hb_block_child_at(self, i, &key);
        if (strcmp(key, "downsample") == 0)
            down = c;
    }
    hb_tensor *shortcut = down ? hb_block_call(down, x) : x;
    return hb_relu(hb_add(y, shortcut));
}

/* torchvision's conv init: normal with std sqrt(2 / fan_out) (kaiming_normal, fan_out, relu). */
static hb_block *conv_kaiming(int64_t in, int64_t out, int k, int stride, int pad)
{
    hb_conv2d_options o = {.stride = {stride, stride}, .padding = {pad, pad}};
    return conv_new(in, out, k, k, &o, false,
                    (hb_init){.kind = HB_INIT_NORMAL, .b = sqrtf(2.0f / (float)(out * k * k))});
}

static hb_block *bn(int64_t c) { return hb_batch_norm2d_new(c, 1e-5f, 0.1f); }

hb_block *hb_basic_block_new(int64_t in, int64_t out, int stride)
{
    if (in <= 0 || out <= 0 || stride < 1)
        return hb_frame_fail(HB_ERR_ARG, "BasicBlock(%lld, %lld, stride %d): needs positive sizes "
                             "and stride", (long long)in, (long long)out, stride), NULL;
    hb_block *b = hb_block_new("BasicBlock", basic_block_forward);
    if (!b || hb_block_add_child(b, "conv1", conv_kaiming(in, out, 3, stride, 1)) ||
        hb_block_add_child(b, "bn1", bn(out)) ||
        hb_block_add_child(b, "conv2", conv_kaiming(out, out, 3, 1, 1)) ||
        hb_block_add_child(b, "bn2", bn(out)) ||
        ((stride != 1 || in != out) &&
         hb_block_add_child(b, "downsample", hb_sequential_of(conv_kaiming(in, out, 1, stride, 0),
                                                              bn(out))))) {
        hb_block_release(b);
        return NULL;
    }
    return b;
}

static hb_tensor *resnet_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *y = hb_block_call(hb_block_child(self, "conv1"), x);
    y = hb_relu(hb_block_call(hb_block_child(self, "bn1"), y));
    y = hb_block_call(hb_block_child(self, "maxpool"), y);
    static const char *const stages[] = {"layer1", "layer2", "layer3", "layer4"};
    for (int i = 0; i < 4; i++)
        y = hb_block_call(hb_block_child(self, stages[i]), y);
    y = hb_flatten(hb_block_call(hb_block_child(self, "avgpool"), y));
    return hb_block_call(hb_block_child(self, "fc"), y);
}

hb_block *hb_resnet_new(const hb_resnet_config *c)
{
    bool ok = c && c->classes > 0 && c->in_channels >= 0;
    for (int i = 0; ok && i < 4; i++)
        ok = c->widths[i] > 0 && c->blocks[i] > 0;
    if (!ok)
        return hb_frame_fail(HB_ERR_ARG,
                             "ResNet: needs four positive stage widths and block counts "
                             "and a positive class count"), NULL;
    hb_block *r = hb_block_new("ResNet", resnet_forward);
    hb_pool2d_options pool = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
    if (!r || hb_block_add_child(r, "conv1", conv_kaiming(c->in_channels ? c->in_channels : 3,
                                                          c->widths[0], 7, 2, 3)) ||
        hb_block_add_child(r, "bn1", bn(c->widths[0])) ||
        hb_block_add_child(r, "maxpool", hb_max_pool2d_new(&pool))) {
        hb_block_release(r);
        return NULL;
    }
    int64_t in = c->widths[0];
    for (int s = 0; s < 4; s++) {
        char key[16];
        snprintf(key, sizeof key, "layer%d", s + 1);
        hb_block *stage = hb_sequential_new();
        for (int i = 0; stage && i < c->blocks[s]; i++) {
            if (hb_sequential_add(stage, hb_basic_block_new(in, c->widths[s],
                                                            i == 0 && s > 0 ? 2 : 1))) {
                hb_block_release(stage);
                stage = NULL;
            }
            in = c->widths[s];
        }
        if (hb_block_add_child(r, key, stage)) {
            hb_block_release(r);
            return NULL;
        }
    }
    if (hb_block_add_child(r, "avgpool", hb_global_avg_pool2d_new()) ||
        hb_block_add_child(r, "fc", hb_linear_new(in, c->classes))) {
        hb_block_release(r);
        return NULL;
    }
    return r;
}

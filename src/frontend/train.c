/* Losses and optimizers, eagerly. The losses are compositions of recorded ops, so hb_backward
 * differentiates them with the ops' own rules; the optimizers update each trainable parameter
 * in place from the gradient hb_backward left on it, following PyTorch's torch.optim update
 * formulas so that a run here and a run there take the same steps. */
#include "frontend.h"

#include <math.h>
#include <string.h>

hb_tensor *hb_mse_loss(hb_tensor *pred, hb_tensor *target)
{
    if (!pred || !target)
        return hb_fail(HB_ERR_ARG, "mse_loss: %s is NULL", pred ? "the target" : "the prediction"),
               NULL;
    if (!hb_tensor_same_shape(pred, target)) {
        char a[96], b[96];
        return hb_fail(HB_ERR_SHAPE, "mse_loss: prediction %s and target %s differ in shape",
                       hb_shape_fmt(&pred->shape, a, sizeof a),
                       hb_shape_fmt(&target->shape, b, sizeof b)),
               NULL;
    }
    hb_tensor *d = hb_sub(pred, target), *dd = d ? hb_mul(d, d) : NULL;
    hb_tensor *loss = dd ? hb_mean(dd) : NULL;
    hb_tensor_release(d), hb_tensor_release(dd);
    return loss;
}

/* −mean over rows of log_softmax(logits)[row, label]: the one-hot mask is a constant, so the
 * gradient, softmax − one-hot over N, comes out of the mul and log_softmax rules. */
hb_tensor *hb_cross_entropy(hb_tensor *logits, const int64_t *labels)
{
    if (!logits || !labels)
        return hb_fail(HB_ERR_ARG, "cross_entropy: %s is NULL", logits ? "labels" : "logits"),
               NULL;
    if (logits->shape.ndim != 2 || logits->shape.dim[0] == 0 || logits->shape.dim[1] == 0) {
        char a[96];
        return hb_fail(HB_ERR_SHAPE, "cross_entropy: logits must be [N, C] with N, C > 0, got %s",
                       hb_shape_fmt(&logits->shape, a, sizeof a)),
               NULL;
    }
    int64_t n = logits->shape.dim[0], c = logits->shape.dim[1];
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= c)
            return hb_fail(HB_ERR_ARG, "cross_entropy: label %lld of row %lld is outside 0..%lld",
                           (long long)labels[i], (long long)i, (long long)(c - 1)),
                   NULL;
    hb_tensor *mask = hb_zeros(2, logits->shape.dim);
    if (!mask)
        return NULL;
    float *m = hb_tensor_data(mask);
    for (int64_t i = 0; i < n; i++)
        m[i * c + labels[i]] = 1.0f;
    hb_tensor *lp = hb_log_softmax(logits, 1);
    hb_tensor *picked = lp ? hb_mul(lp, mask) : NULL;
    hb_tensor *total = picked ? hb_sum(picked) : NULL;
    hb_tensor *loss = total ? hb_mul_scalar(total, -1.0f / (float)n) : NULL;
    hb_tensor_release(mask), hb_tensor_release(lp), hb_tensor_release(picked),
        hb_tensor_release(total);
    return loss;
}

/* ---- optimizers ---------------------------------------------------------------------------- */

typedef struct slot {
    hb_tensor *param; /* retained */
    float *m, *v;     /* momentum buffer / Adam's moments, numel each */
    int64_t steps;    /* updates made (per parameter, as torch.optim counts them) */
} slot;

struct hb_optimizer {
    hb_block *root; /* retained: its frozen plans are dropped after each step */
    hb_optimizer_kind kind;
    hb_optim_options o;
    slot *slots;
    int n, cap;
};

static hb_status collect(void *ctx, const char *name, hb_block *owner, hb_param *p)
{
    (void)owner;
    hb_optimizer *opt = ctx;
    if (!p->trainable)
        return HB_OK;
    if (!p->value)
        return hb_fail(HB_ERR_STATE,
                       "optimizer: parameter %s is still deferred; run the block once first",
                       name);
    for (int i = 0; i < opt->n; i++)
        if (opt->slots[i].param == p->value)
            return HB_OK; /* a shared parameter is one parameter */
    if (opt->n == opt->cap) {
        int cap = opt->cap ? 2 * opt->cap : 16;
        slot *grown = hb_realloc(opt->slots, sizeof *grown * (size_t)cap);
        if (!grown)
            return hb_fail(HB_ERR_NOMEM, "optimizer: out of memory");
        opt->slots = grown, opt->cap = cap;
    }
    size_t numel = (size_t)p->value->numel;
    slot *s = &opt->slots[opt->n];
    bool adam = opt->kind == HB_OPTIM_ADAM, momentum = adam || opt->o.momentum > 0;
    *s = (slot){.param = hb_tensor_retain(p->value),
                .m = momentum ? hb_calloc(numel, sizeof(float)) : NULL,
                .v = adam ? hb_calloc(numel, sizeof(float)) : NULL};
    opt->n++;
    if ((momentum && !s->m) || (adam && !s->v))
        return hb_fail(HB_ERR_NOMEM, "optimizer: out of memory for the state of %s", name);
    return HB_OK;
}

hb_optimizer *hb_optimizer_new(hb_block *b, hb_optimizer_kind kind, const hb_optim_options *o)
{
    if (!b || !o)
        return hb_fail(HB_ERR_ARG, "optimizer: %s is NULL", b ? "the options" : "the block"), NULL;
    if (kind != HB_OPTIM_SGD && kind != HB_OPTIM_ADAM)
        return hb_fail(HB_ERR_ARG, "optimizer: unknown kind %d", (int)kind), NULL;
    if (!(o->lr > 0) || o->momentum < 0 || o->weight_decay < 0)
        return hb_fail(HB_ERR_ARG,
                       "optimizer: need lr > 0, momentum >= 0, weight_decay >= 0 (got %g, %g, %g)",
                       o->lr, o->momentum, o->weight_decay),
               NULL;
    if (kind == HB_OPTIM_ADAM &&
        !(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1 && o->eps > 0))
        return hb_fail(HB_ERR_ARG, "adam: need 0 <= beta1, beta2 < 1 and eps > 0 (got %g, %g, %g)",
                       o->beta1, o->beta2, o->eps),
               NULL;
    hb_optimizer *opt = hb_calloc(1, sizeof *opt);
    if (!opt)
        return hb_fail(HB_ERR_NOMEM, "optimizer: out of memory"), NULL;
    opt->kind = kind, opt->o = *o, opt->root = hb_block_retain(b);
    if (hb_block_walk(b, collect, opt) != HB_OK) {
        hb_optimizer_free(opt);
        return NULL;
    }
    return opt;
}

hb_optim_options hb_optim_defaults(float lr)
{
    /* torch.optim's defaults; SGD ignores the Adam fields, Adam the momentum */
    return (hb_optim_options){.lr = lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
}

static void sgd(const hb_optim_options *o, slot *s, const float *g)
{
    float *p = s->param->data;
    for (int64_t i = 0; i < s->param->numel; i++) {
        float d = g[i] + o->weight_decay * p[i];
        if (o->momentum > 0) {
            s->m[i] = o->momentum * s->m[i] + d; /* m starts at 0: the first step's m is d */
            d = s->m[i];
        }
        p[i] -= o->lr * d;
    }
}

static void adam(const hb_optim_options *o, slot *s, const float *g)
{
    int64_t t = s->steps + 1;
    float *p = s->param->data;
    float c1 = 1.0f - powf(o->beta1, (float)t), c2 = 1.0f - powf(o->beta2, (float)t);
    float step = o->lr / c1, root_c2 = sqrtf(c2);
    for (int64_t i = 0; i < s->param->numel; i++) {
        float d = g[i] + o->weight_decay * p[i];
        s->m[i] = o->beta1 * s->m[i] + (1 - o->beta1) * d;
        s->v[i] = o->beta2 * s->v[i] + (1 - o->beta2) * d * d;
        p[i] -= step * s->m[i] / (sqrtf(s->v[i]) / root_c2 + o->eps);
    }
}

hb_status hb_optimizer_step(hb_optimizer *opt)
{
    if (!opt)
        return hb_fail(HB_ERR_ARG, "optimizer_step: the optimizer is NULL");
    for (int i = 0; i < opt->n; i++) {
        slot *s = &opt->slots[i];
        if (!s->param->grad)
            continue; /* not reached by this loss: left alone, as torch.optim does */
        const float *g = hb_tensor_cdata(s->param->grad);
        if (opt->kind == HB_OPTIM_SGD)
            sgd(&opt->o, s, g);
        else
            adam(&opt->o, s, g);
        s->steps++;
    }
    hb_block_params_updated(opt->root);
    return HB_OK;
}

int hb_optimizer_num_params(const hb_optimizer *opt) { return opt ? opt->n : 0; }

void hb_optimizer_free(hb_optimizer *opt)
{
    if (!opt)
        return;
    for (int i = 0; i < opt->n; i++) {
        hb_tensor_release(opt->slots[i].param);
        hb_free(opt->slots[i].m), hb_free(opt->slots[i].v);
    }
    hb_free(opt->slots);
    hb_block_release(opt->root);
    hb_free(opt);
}

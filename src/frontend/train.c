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
        return hb_frame_fail(HB_ERR_ARG, "mse_loss: %s is NULL",
                             pred ? "the target" : "the prediction"),
               NULL;
    if (!hb_tensor_same_shape(pred, target)) {
        char a[96], b[96];
        return hb_frame_fail(HB_ERR_SHAPE, "mse_loss: prediction %s and target %s differ in shape",
                             hb_shape_fmt(&pred->shape, a, sizeof a),
                             hb_shape_fmt(&target->shape, b, sizeof b)),
               NULL;
    }
    hb_tensor *d = hb_sub(pred, target), *dd = d ? hb_mul(d, d) : NULL;
    hb_tensor *loss = dd ? hb_mean(dd) : NULL;
    hb_tensor_release(d), hb_tensor_release(dd);
    return loss;
}

hb_tensor *hb_one_hot(const int64_t *labels, int64_t n, int64_t classes)
{
    if (!labels || n <= 0 || classes <= 0)
        return hb_frame_fail(HB_ERR_ARG,
                             "one_hot: need labels, n > 0 and classes > 0 (got %s, %lld, " "%lld)",
                             labels ? "labels" : "NULL", (long long)n, (long long)classes),
               NULL;
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return hb_frame_fail(HB_ERR_ARG, "label %lld of row %lld is outside 0..%lld",
                                 (long long)labels[i], (long long)i, (long long)(classes - 1)),
                   NULL;
    hb_tensor *mask = hb_zeros(2, (int64_t[]){n, classes});
    float *m = mask ? hb_tensor_data(mask) : NULL;
    for (int64_t i = 0; m && i < n; i++)
        m[i * classes + labels[i]] = 1.0f;
    return mask;
}

/* −mean over rows of Σ target · log_softmax(logits): with a one-hot target, −log p[label]. The
 * gradient, (softmax − target) / N, comes out of the mul and log_softmax rules. */
static hb_tensor *cross_entropy(hb_tensor *logits, hb_tensor *target)
{
    if (logits->shape.ndim != 2 || logits->shape.dim[0] == 0 || logits->shape.dim[1] == 0) {
        char a[96];
        return hb_frame_fail(HB_ERR_SHAPE,
                             "cross_entropy: logits must be [N, C] with N, C > 0, got %s",
                             hb_shape_fmt(&logits->shape, a, sizeof a)),
               NULL;
    }
    if (!hb_tensor_same_shape(logits, target)) {
        char a[96], b[96];
        return hb_frame_fail(HB_ERR_SHAPE, "cross_entropy: target %s does not match the logits %s",
                             hb_shape_fmt(&target->shape, a, sizeof a),
                             hb_shape_fmt(&logits->shape, b, sizeof b)),
               NULL;
    }
    hb_tensor *lp = hb_log_softmax(logits, 1);
    hb_tensor *picked = lp ? hb_mul(lp, target) : NULL;
    hb_tensor *total = picked ? hb_sum(picked) : NULL;
    hb_tensor *loss = total ? hb_mul_scalar(total, -1.0f / (float)logits->shape.dim[0]) : NULL;
    hb_tensor_release(lp), hb_tensor_release(picked), hb_tensor_release(total);
    return loss;
}

hb_tensor *hb_cross_entropy(hb_tensor *logits, const int64_t *labels)
{
    if (!logits || !labels)
        return hb_frame_fail(HB_ERR_ARG, "cross_entropy: %s is NULL", logits ? "labels" : "logits"),
               NULL;
    if (logits->shape.ndim != 2)
        return cross_entropy(logits, logits); /* fails with the message about the shape */
    hb_tensor *mask = hb_one_hot(labels, logits->shape.dim[0], logits->shape.dim[1]);
    hb_tensor *loss = mask ? cross_entropy(logits, mask) : NULL;
    hb_tensor_release(mask);
    return loss;
}

/* sum(y · g): the loss whose gradients are the vector-Jacobian product with g. */
static hb_tensor *dot_loss(hb_tensor *y, hb_tensor *g)
{
    if (!hb_tensor_same_shape(y, g)) {
        char a[96], b[96];
        return hb_frame_fail(HB_ERR_SHAPE, "dot loss: the weights %s do not match the output %s",
                             hb_shape_fmt(&g->shape, a, sizeof a),
                             hb_shape_fmt(&y->shape, b, sizeof b)),
               NULL;
    }
    hb_tensor *yg = hb_mul(y, g), *loss = yg ? hb_sum(yg) : NULL;
    hb_tensor_release(yg);
    return loss;
}

hb_tensor *hb_train_loss_of(hb_loss_kind kind, hb_tensor *y, hb_tensor *target)
{
    switch (kind) {
    case HB_LOSS_CROSS_ENTROPY: return cross_entropy(y, target);
    case HB_LOSS_MSE: return hb_mse_loss(y, target);
    case HB_LOSS_DOT: return dot_loss(y, target);
    }
    return hb_frame_fail(HB_ERR_ARG, "unknown loss kind %d", (int)kind), NULL;
}

/* ---- optimizers ---------------------------------------------------------------------------- */

/* Tensors, not arrays: a compiled training step reads and writes them in place. */
typedef struct slot {
    hb_tensor *param; /* retained */
    hb_tensor *m, *v; /* momentum buffer / Adam's moments, the parameter's shape; or NULL */
    hb_tensor *t;     /* [1]: updates made (per parameter, as torch.optim counts them) */
} slot;

struct hb_optimizer {
    hb_block *root; /* retained: its frozen plans are dropped after each step */
    hb_optimizer_kind kind;
    hb_optim_options o;
    slot *slots;
    int n, cap;
};

/* Zeros owned by the optimizer (not by a block call, not seen by a trace). */
static hb_tensor *zeros(const hb_shape *s)
{
    hb_tensor *t = hb_tensor_alloc(s);
    if (t)
        memset(t->data, 0, sizeof(float) * (size_t)t->numel);
    return t;
}

static hb_status collect(void *ctx, const char *name, hb_block *owner, hb_param *p)
{
    (void)owner;
    hb_optimizer *opt = ctx;
    if (!p->trainable)
        return HB_OK;
    if (!p->value)
        return hb_frame_fail(HB_ERR_STATE,
                             "optimizer: parameter %s is still deferred; run the block once first",
                             name);
    for (int i = 0; i < opt->n; i++)
        if (opt->slots[i].param == p->value)
            return HB_OK; /* a shared parameter is one parameter */
    if (opt->n == opt->cap) {
        int cap = opt->cap ? 2 * opt->cap : 16;
        slot *grown = hb_realloc(opt->slots, sizeof *grown * (size_t)cap);
        if (!grown)
            return hb_frame_fail(HB_ERR_NOMEM, "optimizer: out of memory");
        opt->slots = grown, opt->cap = cap;
    }
    slot *s = &opt->slots[opt->n];
    bool adam = opt->kind == HB_OPTIM_ADAM, momentum = adam || opt->o.momentum > 0;
    *s = (slot){.param = hb_tensor_retain(p->value),
                .m = momentum ? zeros(&p->value->shape) : NULL,
                .v = adam ? zeros(&p->value->shape) : NULL,
                .t = zeros(&(hb_shape){.ndim = 1, .dim = {1}})};
    opt->n++;
    if ((momentum && !s->m) || (adam && !s->v) || !s->t)
        return hb_frame_fail(HB_ERR_NOMEM, "optimizer: out of memory for the state of %s", name);
    return HB_OK;
}

hb_optimizer *hb_optimizer_new(hb_block *b, hb_optimizer_kind kind, const hb_optim_options *o)
{
    if (!b || !o)
        return hb_frame_fail(HB_ERR_ARG, "optimizer: %s is NULL",
                             b ? "the options" : "the block"), NULL;
    if (kind != HB_OPTIM_SGD && kind != HB_OPTIM_ADAM)
        return hb_frame_fail(HB_ERR_ARG, "optimizer: unknown kind %d", (int)kind), NULL;
    if (!(o->lr > 0) || o->momentum < 0 || o->weight_decay < 0)
        return hb_frame_fail(HB_ERR_ARG, "optimizer: need lr > 0, momentum >= 0, weight_decay >= 0 "
                             "(got %g, %g, %g)", o->lr, o->momentum, o->weight_decay),
               NULL;
    if (kind == HB_OPTIM_ADAM &&
        !(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1 && o->eps > 0))
        return hb_frame_fail(HB_ERR_ARG,
                             "adam: need 0 <= beta1, beta2 < 1 and eps > 0 (got %g, %g, %g)",
                             o->beta1, o->beta2, o->eps),
               NULL;
    hb_optimizer *opt = hb_calloc(1, sizeof *opt);
    if (!opt)
        return hb_frame_fail(HB_ERR_NOMEM, "optimizer: out of memory"), NULL;
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
    float *p = s->param->data, *m = s->m ? s->m->data : NULL;
    for (int64_t i = 0; i < s->param->numel; i++) {
        float d = g[i] + o->weight_decay * p[i];
        if (o->momentum > 0) {
            m[i] = o->momentum * m[i] + d; /* m starts at 0: the first step's m is d */
            d = m[i];
        }
        p[i] -= o->lr * d;
    }
}

static void adam(const hb_optim_options *o, slot *s, const float *g)
{
    float t = s->t->data[0] + 1;
    float *p = s->param->data, *m = s->m->data, *v = s->v->data;
    float c1 = 1.0f - powf(o->beta1, t), c2 = 1.0f - powf(o->beta2, t);
    float step = o->lr / c1, root_c2 = sqrtf(c2);
    for (int64_t i = 0; i < s->param->numel; i++) {
        float d = g[i] + o->weight_decay * p[i];
        m[i] = o->beta1 * m[i] + (1 - o->beta1) * d;
        v[i] = o->beta2 * v[i] + (1 - o->beta2) * d * d;
        p[i] -= step * m[i] / (sqrtf(v[i]) / root_c2 + o->eps);
    }
}

hb_status hb_optimizer_step(hb_optimizer *opt)
{
    if (!opt)
        return hb_frame_fail(HB_ERR_ARG, "optimizer_step: the optimizer is NULL");
    for (int i = 0; i < opt->n; i++) {
        slot *s = &opt->slots[i];
        if (!s->param->grad)
            continue; /* not reached by this loss: left alone, as torch.optim does */
        const float *g = hb_tensor_cdata(s->param->grad);
        if (opt->kind == HB_OPTIM_SGD)
            sgd(&opt->o, s, g);
        else
            adam(&opt->o, s, g);
        hb_tensor_changed(s->param);
        s->t->data[0] += 1;
    }
    hb_hybrid_params_updated(opt->root);
    return HB_OK;
}

/* ---- the same updates as ops (a compiled training step's) ------------------------------------ */

/* The tensors one update makes (Adam with weight decay: 24), released together at its end. */
typedef struct made {
    hb_tensor *t[32];
    int n;
} made;

static hb_tensor *K(made *m, hb_tensor *t)
{
    if (m->n < (int)HB_ARRAY_LEN(m->t)) {
        m->t[m->n++] = t;
        return t;
    }
    hb_tensor_release(t); /* never with the formulas below; an op given NULL fails cleanly */
    hb_frame_fail(HB_ERR_STATE, "optimizer update: more tensors than it keeps track of");
    return NULL;
}

hb_status hb_optimizer_emit(hb_optimizer *opt, hb_tensor *param, hb_tensor *grad,
                            const char *name)
{
    slot *s = NULL;
    for (int i = 0; i < opt->n && !s; i++)
        if (opt->slots[i].param == param)
            s = &opt->slots[i];
    if (!s)
        return hb_frame_fail(HB_ERR_NAME, "parameter %s is not one of the optimizer's (made for "
                             "another block?)", name);
    const hb_optim_options *o = &opt->o;
    bool adam = opt->kind == HB_OPTIM_ADAM;
    hb_tensor *state[3] = {s->m, s->v, s->t};
    const char *what[3] = {adam ? "adam.m" : "momentum", "adam.v", "steps"};
    for (int i = 0; i < 3; i++) /* the state joins the graph as tensors read live */
        if (state[i]) {
            char label[300];
            snprintf(label, sizeof label, "%s %s", what[i], name);
            if (!hb_trace_leaf(hb_tracing, state[i], label, true))
                return hb_frame_fail(HB_ERR_NOMEM, "out of memory adding the optimizer state of %s",
                                     name);
        }
    made m = {0};
    /* d = g + weight_decay · p */
    hb_tensor *d = grad;
    if (o->weight_decay > 0)
        d = K(&m, hb_add(d, K(&m, hb_mul_scalar(param, o->weight_decay))));
    hb_tensor *p_new, *m_new = NULL, *v_new = NULL, *t_new = NULL;
    if (!adam) {
        if (o->momentum > 0) /* m = momentum · m + d; the step follows m */
            d = m_new = K(&m, hb_add(K(&m, hb_mul_scalar(s->m, o->momentum)), d));
        p_new = K(&m, hb_sub(param, K(&m, hb_mul_scalar(d, o->lr))));
    } else {
        /* t = t + 1; m = β1 m + (1 − β1) d; v = β2 v + (1 − β2) d²;
         * p −= lr / (1 − β1^t) · m / (√v / √(1 − β2^t) + eps), β^t as exp(t ln β) */
        t_new = K(&m, hb_add_scalar(s->t, 1.0f));
        m_new = K(&m, hb_add(K(&m, hb_mul_scalar(s->m, o->beta1)),
                             K(&m, hb_mul_scalar(d, 1 - o->beta1))));
        hb_tensor *d2 = K(&m, hb_mul(K(&m, hb_mul_scalar(d, 1 - o->beta2)), d));
        v_new = K(&m, hb_add(K(&m, hb_mul_scalar(s->v, o->beta2)), d2));
        hb_tensor *p1 = K(&m, hb_exp(K(&m, hb_mul_scalar(t_new, logf(o->beta1)))));
        hb_tensor *p2 = K(&m, hb_exp(K(&m, hb_mul_scalar(t_new, logf(o->beta2)))));
        hb_tensor *step = K(&m, hb_rdiv_scalar(K(&m, hb_rsub_scalar(p1, 1.0f)), o->lr));
        hb_tensor *root_c2 = K(&m, hb_sqrt(K(&m, hb_rsub_scalar(p2, 1.0f))));
        hb_tensor *denom = K(&m, hb_add_scalar(K(&m, hb_div(K(&m, hb_sqrt(v_new)), root_c2)),
                                               o->eps));
        p_new = K(&m, hb_sub(param, K(&m, hb_div(K(&m, hb_mul(step, m_new)), denom))));
    }
    /* Every read above comes before these writes. */
    hb_status st = p_new ? hb_assign(param, p_new) : hb_last_status();
    if (st == HB_OK && m_new)
        st = hb_assign(s->m, m_new);
    if (st == HB_OK && v_new)
        st = hb_assign(s->v, v_new);
    if (st == HB_OK && t_new)
        st = hb_assign(s->t, t_new);
    for (int i = 0; i < m.n; i++)
        hb_tensor_release(m.t[i]);
    return st;
}

hb_block *hb_optimizer_block(const hb_optimizer *opt) { return opt->root; }

int hb_optimizer_num_params(const hb_optimizer *opt) { return opt ? opt->n : 0; }

void hb_optimizer_free(hb_optimizer *opt)
{
    if (!opt)
        return;
    for (int i = 0; i < opt->n; i++) {
        hb_tensor_release(opt->slots[i].param);
        hb_tensor_release(opt->slots[i].m), hb_tensor_release(opt->slots[i].v);
        hb_tensor_release(opt->slots[i].t);
    }
    hb_free(opt->slots);
    hb_block_release(opt->root);
    hb_free(opt);
}

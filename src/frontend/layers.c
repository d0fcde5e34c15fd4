/* The library's blocks: Linear/Dense, activations, Flatten, Sequential, Parallel and the
 * factory of exercise 3. Each is an ordinary block built on the public API, as a user's would
 * be; only their private state structs live here. */
#include "frontend.h"

#include <string.h>

/* ---- Linear and Dense --------------------------------------------------------------------- */

typedef struct dense_state {
    int64_t in, out;
    hb_activation act;
    bool bias;
} dense_state;

static hb_tensor *activate(hb_tensor *x, hb_activation act)
{
    switch (act) {
    case HB_ACT_RELU: return hb_relu(x);
    case HB_ACT_SIGMOID: return hb_sigmoid(x);
    case HB_ACT_TANH: return hb_tanh(x);
    case HB_ACT_NONE: break;
    }
    return x;
}

static hb_tensor *dense_forward(hb_block *self, hb_tensor *x)
{
    dense_state *s = hb_block_state(self);
    if (hb_tensor_ndim(x) < 1) {
        char sb[96];
        return hb_frame_fail(HB_ERR_SHAPE, "%s: input %s needs at least 1 dim", hb_block_type(self),
                             hb_shape_str(0, NULL, sb, sizeof sb)), NULL;
    }
    int64_t in = hb_tensor_dim(x, -1);
    /* Deferred until now: the first input's width is the in-size. */
    hb_tensor *w = hb_block_find_param(self, "weight")->value
                       ? hb_block_param(self, "weight")
                       : hb_block_param_infer(self, "weight", HB_SHAPE(s->out, in));
    hb_tensor *b = s->bias ? hb_block_param(self, "bias") : NULL;
    if (!w || (s->bias && !b))
        return NULL;
    return activate(s->bias ? hb_linear(x, w, b) : hb_linear_nobias(x, w), s->act);
}

hb_block *hb_dense_new(int64_t in, int64_t out, hb_activation act, bool bias)
{
    if ((unsigned)act > HB_ACT_TANH)
        return hb_frame_fail(HB_ERR_ARG, "Dense: unknown activation %d", (int)act), NULL;
    if (in < 0 || out <= 0)
        return hb_frame_fail(HB_ERR_ARG, "Linear(%lld, %lld): sizes must be positive (in may be 0 "
                             "to infer it)", (long long)in, (long long)out), NULL;
    hb_block *b = hb_block_new_with(act == HB_ACT_NONE ? "Linear" : "Dense", dense_forward,
                                    &(dense_state){in, out, act, bias}, sizeof(dense_state));
    if (!b)
        return NULL;
    /* PyTorch's default: weight and bias uniform in ±1/sqrt(in). */
    hb_init bias_init = HB_INIT_DEFAULT;
    bias_init.fan_in_of = "weight";
    if (hb_block_add_param(b, "weight", HB_SHAPE(out, in), HB_INIT_DEFAULT) != HB_OK ||
        (bias && hb_block_add_param(b, "bias", HB_SHAPE(out), bias_init) != HB_OK)) {
        hb_block_release(b);
        return NULL;
    }
    return b;
}

hb_block *hb_linear_new(int64_t in, int64_t out)
{
    return hb_dense_new(in, out, HB_ACT_NONE, true);
}

/* ---- stateless blocks --------------------------------------------------------------------- */

static hb_tensor *relu_forward(hb_block *self, hb_tensor *x) { (void)self; return hb_relu(x); }
static hb_tensor *sigmoid_forward(hb_block *self, hb_tensor *x) { (void)self; return hb_sigmoid(x); }
static hb_tensor *tanh_forward(hb_block *self, hb_tensor *x) { (void)self; return hb_tanh(x); }
static hb_tensor *flatten_forward(hb_block *self, hb_tensor *x) { (void)self; return hb_flatten(x); }

hb_block *hb_relu_new(void) { return hb_block_new("ReLU", relu_forward); }
hb_block *hb_sigmoid_new(void) { return hb_block_new("Sigmoid", sigmoid_forward); }
hb_block *hb_tanh_new(void) { return hb_block_new("Tanh", tanh_forward); }
hb_block *hb_flatten_new(void) { return hb_block_new("Flatten", flatten_forward); }

/* ---- containers --------------------------------------------------------------------------- */

static hb_tensor *sequential_forward(hb_block *self, hb_tensor *x)
{
    for (int i = 0; i < hb_block_num_children(self) && x; i++)
        x = hb_block_call(hb_block_child_at(self, i, NULL), x);
    return x;
}

hb_block *hb_sequential_new(void) { return hb_block_new("Sequential", sequential_forward); }

hb_status hb_sequential_add(hb_block *seq, hb_block *c)
{
    char key[24];
    snprintf(key, sizeof key, "%d", hb_block_num_children(seq));
    return hb_block_add_child(seq, key, c);
}

hb_block *hb_sequential_from(int n, hb_block *const *blocks)
{
    bool ok = n >= 0 && blocks;
    for (int i = 0; ok && i < n; i++)
        ok = blocks[i] != NULL; /* a constructor failed: its message stands */
    hb_block *seq = ok ? hb_sequential_new() : NULL;
    int i = 0;
    for (; seq && i < n; i++)
        if (hb_sequential_add(seq, blocks[i]) != HB_OK)
            break;
    if (seq && i == n)
        return seq;
    for (int j = seq ? i + 1 : 0; blocks && j < n; j++)
        hb_block_release(blocks[j]); /* the list is ours to consume even after a failure */
    hb_block_release(seq);
    if (hb_last_status() == HB_OK)
        hb_frame_fail(HB_ERR_ARG, "hb_sequential_from: bad block list");
    return NULL;
}

typedef struct parallel_state {
    int axis;
} parallel_state;

static hb_tensor *parallel_forward(hb_block *self, hb_tensor *x)
{
    int n = hb_block_num_children(self);
    if (n == 0)
        return hb_frame_fail(HB_ERR_STATE, "Parallel has no children"), NULL;
    hb_tensor **outs = hb_malloc(sizeof *outs * (size_t)n);
    if (!outs)
        return NULL;
    hb_tensor *y = NULL;
    int i = 0;
    for (; i < n; i++)
        if (!(outs[i] = hb_block_call(hb_block_child_at(self, i, NULL), x)))
            break;
    if (i == n)
        y = hb_concat(n, outs, ((parallel_state *)hb_block_state(self))->axis);
    hb_free(outs);
    return y;
}

hb_block *hb_parallel_new(int axis)
{
    return hb_block_new_with("Parallel", parallel_forward, &(parallel_state){axis},
                             sizeof(parallel_state));
}

hb_block *hb_block_factory(int n, hb_block *(*make)(void *arg), void *arg)
{
    if (n < 0 || !make)
        return hb_frame_fail(HB_ERR_ARG, "hb_block_factory: needs n >= 0 and a constructor"), NULL;
    hb_block *seq = hb_sequential_new();
    for (int i = 0; seq && i < n; i++)
        if (hb_sequential_add(seq, make(arg)) != HB_OK) {
            hb_block_release(seq);
            return NULL;
        }
    return seq;
}

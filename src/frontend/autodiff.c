/* Gradients, eagerly: while enabled, every op that reads a tensor requiring a gradient (a
 * trainable parameter, or something made from one) goes on this thread's tape, holding its
 * inputs and output. hb_backward walks the tape backwards from the loss, applying each op's
 * gradient rule (written with the eager ops themselves) and adding into each input's grad;
 * parameters keep what they collect, shared ones the sum over their uses. */
#include "../ir/graph.h"
#include "frontend.h"

#include <math.h>
#include <string.h>

typedef struct entry {
    hb_op op;
    hb_attrs at;
    int n;
    hb_tensor **in;
    hb_tensor *out;
} entry;

_Thread_local bool hb_grad_on;
static _Thread_local entry *tape;
static _Thread_local int ntape, cap_tape;
static _Thread_local bool tape_broken; /* an entry could not be recorded (out of memory) */

void hb_grad_enable(bool on) { hb_grad_on = on; }

static void clear_tape(void)
{
    for (int i = 0; i < ntape; i++) {
        for (int j = 0; j < tape[i].n; j++)
            hb_tensor_release(tape[i].in[j]);
        hb_free(tape[i].in);
        /* intermediate gradients go with the tape; parameters keep theirs */
        hb_tensor_release(tape[i].out->grad);
        tape[i].out->grad = NULL;
        hb_tensor_release(tape[i].out);
    }
    hb_free(tape);
    tape = NULL, ntape = cap_tape = 0;
    tape_broken = false;
}

void hb_grad_record(hb_op op, const hb_attrs *at, int n, hb_tensor *const *in, hb_tensor *out)
{
    bool needed = false;
    for (int i = 0; i < n; i++)
        needed = needed || in[i]->requires_grad;
    if (!needed)
        return;
    if (ntape == cap_tape) {
        int cap = cap_tape ? 2 * cap_tape : 64;
        entry *grown = hb_realloc(tape, sizeof *grown * (size_t)cap);
        if (!grown) {
            tape_broken = true; /* hb_backward refuses an incomplete tape */
            return;
        }
        tape = grown, cap_tape = cap;
    }
    entry *e = &tape[ntape];
    *e = (entry){op, *at, n, hb_malloc(sizeof *e->in * (size_t)n), out};
    if (!e->in) {
        tape_broken = true;
        return;
    }
    for (int i = 0; i < n; i++)
        e->in[i] = hb_tensor_retain(in[i]);
    hb_tensor_retain(out);
    out->requires_grad = true;
    ntape++;
}

/* ---- helpers over eager ops: each takes over what it is given and returns a new tensor --- */

static hb_tensor *done(hb_tensor *consumed, hb_tensor *result)
{
    hb_tensor_release(consumed);
    return result;
}

/* g summed over the dims that broadcasting added to (or stretched in) shape s. */
static hb_tensor *unbroadcast(hb_tensor *g, const hb_shape *s)
{
    while (g && g->shape.ndim > s->ndim)
        g = done(g, hb_sum_axis(g, 0, false));
    for (int i = 0; g && i < s->ndim; i++)
        if (s->dim[i] == 1 && g->shape.dim[i] != 1)
            g = done(g, hb_sum_axis(g, i, true));
    return g;
}

/* g, reduced over axis (or all), made to x's shape again. */
static hb_tensor *expand(hb_tensor *g, const hb_tensor *x, const hb_attrs *at)
{
    if (!at->all && !at->keepdim) {
        hb_shape k = x->shape;
        k.dim[at->axis] = 1;
        g = done(g, hb_reshape(g, k.ndim, k.dim));
    }
    hb_tensor *ones = hb_ones(x->shape.ndim, x->shape.dim);
    hb_tensor *r = hb_mul(ones, g);
    hb_tensor_release(ones);
    return done(g, r);
}

static void add_grad(hb_tensor *t, hb_tensor *g)
{
    if (!g || !t->requires_grad) {
        hb_tensor_release(g);
        return;
    }
    if (!t->grad) {
        t->grad = g;
        return;
    }
    hb_tensor *sum = hb_add(t->grad, g);
    hb_tensor_release(g);
    if (sum) {
        hb_tensor_release(t->grad);
        t->grad = sum;
    }
}

static hb_tensor *mul2(hb_tensor *a, hb_tensor *b) /* a·b, both taken over */
{
    hb_tensor *r = hb_mul(a, b);
    hb_tensor_release(a), hb_tensor_release(b);
    return r;
}

static hb_tensor *last_two_swapped(hb_tensor *t) { return hb_transpose(t, -1, -2); }

/* ---- the rules: one per op of ops.def, table below; a missing one fails to compile -------- */

/* g is d loss / d y, y = op(in...), x = in[0]; s is the op's scalar. */
#define RULE(NAME)                                                                            \
    static void grad_##NAME(const entry *e __attribute__((unused)), hb_tensor *g,             \
                            hb_tensor **in __attribute__((unused)),                            \
                            hb_tensor *x __attribute__((unused)),                              \
                            hb_tensor *y __attribute__((unused)),                              \
                            const hb_attrs *at __attribute__((unused)),                        \
                            float s __attribute__((unused)))

RULE(MATMUL)
{
    hb_tensor *bt = last_two_swapped(in[1]), *at_ = last_two_swapped(x);
    add_grad(x, unbroadcast(done(bt, hb_matmul(g, bt)), &x->shape));
    add_grad(in[1], unbroadcast(done(at_, hb_matmul(at_, g)), &in[1]->shape));
}

RULE(LINEAR)
{
    int64_t o = in[1]->shape.dim[0], i = in[1]->shape.dim[1];
    add_grad(x, hb_matmul(g, in[1])); /* [..., o] · [o, i] */
    hb_tensor *g2 = hb_reshape(g, HB_SHAPE(-1, o)), *x2 = hb_reshape(x, HB_SHAPE(-1, i));
    hb_tensor *g2t = hb_transpose(g2, 0, 1);
    add_grad(in[1], hb_matmul(g2t, x2));
    if (e->n == 3)
        add_grad(in[2], hb_sum_axis(g2, 0, false));
    hb_tensor_release(g2), hb_tensor_release(x2), hb_tensor_release(g2t);
}

RULE(ADD)
{
    add_grad(x, unbroadcast(hb_tensor_copy(g), &x->shape));
    add_grad(in[1], unbroadcast(hb_tensor_copy(g), &in[1]->shape));
}

RULE(SUB)
{
    add_grad(x, unbroadcast(hb_tensor_copy(g), &x->shape));
    add_grad(in[1], unbroadcast(hb_neg(g), &in[1]->shape));
}

RULE(MUL)
{
    add_grad(x, unbroadcast(hb_mul(g, in[1]), &x->shape));
    add_grad(in[1], unbroadcast(hb_mul(g, x), &in[1]->shape));
}

RULE(DIV)
{
    /* d(a/b) = da/b − a·db/b², and a/b² = y/b */
    add_grad(x, unbroadcast(hb_div(g, in[1]), &x->shape));
    hb_tensor *q = hb_div(y, in[1]), *gq = hb_mul(g, q);
    add_grad(in[1], unbroadcast(done(gq, hb_neg(gq)), &in[1]->shape));
    hb_tensor_release(q);
}

RULE(POW)
{
    /* d(a^b) = b·a^(b−1)·da + a^b·ln a·db; where a is 0 the second term is 0 (PyTorch's
     * convention, so that 0^b with b > 0 does not give NaN gradients to b) */
    hb_tensor *bm1 = hb_add_scalar(in[1], -1.0f), *p = hb_pow(x, bm1);
    hb_tensor_release(bm1);
    add_grad(x, unbroadcast(mul2(hb_mul(g, in[1]), p), &x->shape));
    if (!in[1]->requires_grad)
        return;
    hb_tensor *nz = hb_ne(x, 0.0f), *la = hb_log(x), *safe = hb_mul(la, nz);
    hb_tensor_release(la);
    hb_tensor *t = mul2(hb_mul(g, y), safe);
    add_grad(in[1], unbroadcast(done(nz, t), &in[1]->shape));
}

/* g to the larger (smaller) input; half to each where they tie, as PyTorch does. */
static void grad_extremum(hb_tensor *g, hb_tensor *a, hb_tensor *b, bool max)
{
    hb_tensor *d = hb_sub(a, b), *eq = hb_eq(d, 0.0f);
    hb_tensor *tie = done(eq, hb_mul_scalar(eq, 0.5f));
    hb_tensor *wins = max ? hb_gt(d, 0.0f) : hb_lt(d, 0.0f), *loses = max ? hb_lt(d, 0.0f)
                                                                        : hb_gt(d, 0.0f);
    add_grad(a, unbroadcast(mul2(hb_tensor_copy(g), hb_add(wins, tie)), &a->shape));
    add_grad(b, unbroadcast(mul2(hb_tensor_copy(g), hb_add(loses, tie)), &b->shape));
    hb_tensor_release(d), hb_tensor_release(tie), hb_tensor_release(wins),
        hb_tensor_release(loses);
}

RULE(MAXIMUM)
{
    grad_extremum(g, x, in[1], true);
}

RULE(MINIMUM)
{
    grad_extremum(g, x, in[1], false);
}

RULE(PAD)
{
    /* the input's part of g: the same pads negated (what was added is cropped, and back) */
    int64_t b[HB_MAX_DIMS], a[HB_MAX_DIMS];
    for (int i = 0; i < at->before.ndim; i++)
        b[i] = -at->before.dim[i], a[i] = -at->after.dim[i];
    add_grad(x, hb_pad(g, b, a, 0.0f));
}

RULE(ADD_SCALAR)
{
    add_grad(x, hb_tensor_copy(g));
}

RULE(MUL_SCALAR)
{
    add_grad(x, hb_mul_scalar(g, s));
}

RULE(POW_SCALAR)
{
    /* s·x^(s−1); 0 for s = 0 (even at x = 0, where x^−1 is infinite) */
    if (s == 0.0f) {
        add_grad(x, hb_mul_scalar(g, 0.0f));
        return;
    }
    hb_tensor *p = hb_pow_scalar(x, s - 1.0f);
    add_grad(x, mul2(hb_mul_scalar(g, s), p));
}

RULE(DIV_SCALAR)
{
    add_grad(x, hb_div_scalar(g, s));
}

RULE(RSUB_SCALAR)
{
    add_grad(x, hb_neg(g));
}

RULE(RDIV_SCALAR)
{
    /* d(s/x) = −s/x² = −y/x */
    add_grad(x, mul2(hb_neg(g), hb_div(y, x)));
}

RULE(RELU)
{
    /* y > 0 exactly where x > 0: reading y lets x die in the forward (fused into its GEMM) */
    add_grad(x, mul2(hb_tensor_copy(g), hb_gt(y, 0.0f)));
}

RULE(SIGMOID)
{
    /* y(1 − y) */
    add_grad(x, mul2(hb_mul(g, y), hb_rsub_scalar(y, 1.0f)));
}

RULE(TANH)
{
    /* 1 − y² */
    hb_tensor *yy = hb_mul(y, y);
    add_grad(x, mul2(hb_tensor_copy(g), done(yy, hb_rsub_scalar(yy, 1.0f))));
}

RULE(EXP)
{
    add_grad(x, hb_mul(g, y));
}

RULE(ERF)
{
    /* 2/√π · exp(−x²) */
    hb_tensor *xx = hb_mul(x, x);
    hb_tensor *m = done(xx, hb_mul_scalar(xx, -1.0f));
    add_grad(x, mul2(hb_mul_scalar(g, 1.12837916709551257f), done(m, hb_exp(m))));
}

RULE(SIN)
{
    hb_tensor *cx = hb_cos(x);
    add_grad(x, done(cx, hb_mul(g, cx)));
}

RULE(COS)
{
    hb_tensor *sx = hb_sin(x);
    hb_tensor *m = done(sx, hb_mul(g, sx));
    add_grad(x, done(m, hb_neg(m)));
}

RULE(LOG)
{
    add_grad(x, hb_div(g, x));
}

RULE(ABS)
{
    /* sign(x); 0 at 0 */
    hb_tensor *pos = hb_gt(x, 0.0f), *neg = hb_lt(x, 0.0f);
    add_grad(x, mul2(hb_tensor_copy(g), hb_sub(pos, neg)));
    hb_tensor_release(pos), hb_tensor_release(neg);
}

RULE(SQRT)
{
    /* 1/(2y) */
    hb_tensor *q = hb_div(g, y);
    add_grad(x, done(q, hb_mul_scalar(q, 0.5f)));
}

RULE(SUM)
{
    add_grad(x, expand(hb_tensor_copy(g), x, at));
}

RULE(MEAN)
{
    int64_t len = at->all ? x->numel : x->shape.dim[at->axis];
    add_grad(x, expand(hb_div_scalar(g, (float)len), x, at));
}

RULE(MAX)
{
    /* to the elements equal to the maximum */
    hb_tensor *m = expand(hb_tensor_copy(y), x, at), *d = hb_sub(x, m);
    add_grad(x, mul2(expand(hb_tensor_copy(g), x, at), hb_eq(d, 0.0f)));
    hb_tensor_release(m), hb_tensor_release(d);
}

RULE(SOFTMAX)
{
    /* y·(g − Σ g·y) */
    hb_tensor *gy = hb_mul(g, y), *s_ = hb_sum_axis(gy, at->axis, true);
    add_grad(x, mul2(hb_sub(g, s_), hb_tensor_copy(y)));
    hb_tensor_release(gy), hb_tensor_release(s_);
}

RULE(LOG_SOFTMAX)
{
    /* g − exp(y)·Σ g */
    hb_tensor *s_ = hb_sum_axis(g, at->axis, true), *p = hb_exp(y);
    hb_tensor *ps = hb_mul(p, s_);
    add_grad(x, hb_sub(g, ps));
    hb_tensor_release(s_), hb_tensor_release(p), hb_tensor_release(ps);
}

RULE(RESHAPE)
{
    add_grad(x, hb_reshape(g, x->shape.ndim, x->shape.dim));
}

RULE(TRANSPOSE)
{
    add_grad(x, hb_transpose(g, at->axis, at->axis2));
}

RULE(CONCAT)
{
    int64_t start = 0;
    for (int i = 0; i < e->n; i++) {
        int64_t len = in[i]->shape.dim[at->axis];
        add_grad(in[i], hb_slice(g, at->axis, start, len));
        start += len;
    }
}

RULE(SLICE)
{
    /* g where the slice came from, zeros around */
    hb_shape before = x->shape, after = x->shape;
    before.dim[at->axis] = at->start;
    after.dim[at->axis] = x->shape.dim[at->axis] - at->start - at->length;
    hb_tensor *z0 = hb_zeros(before.ndim, before.dim), *z1 = hb_zeros(after.ndim, after.dim);
    hb_tensor *parts[3] = {z0, g, z1};
    add_grad(x, hb_concat(3, parts, at->axis));
    hb_tensor_release(z0), hb_tensor_release(z1);
}

RULE(CONV2D)
{
    /* the input's gradient is the costly one, and the first layer's input needs none */
    if (x->requires_grad)
        add_grad(x, hb_conv2d_grad_x(g, in[1], at, &x->shape));
    if (in[1]->requires_grad)
        add_grad(in[1], hb_conv2d_grad_w(g, x, at, &in[1]->shape));
    if (e->n == 3 && in[2]->requires_grad) { /* Σ g over images and positions, per channel */
        int64_t n = g->shape.dim[0], o = g->shape.dim[1];
        hb_tensor *rows = hb_reshape(g, HB_SHAPE(n, o, -1));
        hb_tensor *per_image = done(rows, hb_sum_axis(rows, 2, false));
        add_grad(in[2], done(per_image, hb_sum_axis(per_image, 0, false)));
    }
}

/* y = Tᵀx, T the convolution by w: dx = T·g (the convolution of g), and dw is the
 * convolution's weight gradient with g as its input and x as its output's gradient. */
RULE(CONV_TRANSPOSE2D)
{
    if (x->requires_grad)
        add_grad(x, hb_conv2d_nobias_with(g, in[1], at));
    if (in[1]->requires_grad)
        add_grad(in[1], hb_conv2d_grad_w(x, g, at, &in[1]->shape));
}

RULE(MAX_POOL2D)
{
    add_grad(x, hb_max_pool2d_grad(g, x, at));
}

RULE(AVG_POOL2D)
{
    add_grad(x, hb_avg_pool2d_grad(g, at, &x->shape));
}

/* y = cond ? a : b: g goes to a where cond holds and to b where it does not. */
RULE(WHERE)
{
    hb_tensor *zero = hb_scalar(0.0f);
    if (in[1]->requires_grad)
        add_grad(in[1], unbroadcast(hb_where(x, g, zero), &in[1]->shape));
    if (in[2]->requires_grad)
        add_grad(in[2], unbroadcast(hb_where(x, zero, g), &in[2]->shape));
    hb_tensor_release(zero);
}

/* r = a - q·b with q = (a - r) / b a whole number, flat between its steps: da = g, db = -g·q. */
RULE(MOD)
{
    add_grad(x, unbroadcast(hb_tensor_copy(g), &x->shape));
    if (in[1]->requires_grad) {
        hb_tensor *d = hb_sub(x, y), *q = done(d, hb_div(d, in[1]));
        hb_tensor *gq = done(q, hb_mul(g, q));
        add_grad(in[1], unbroadcast(done(gq, hb_neg(gq)), &in[1]->shape));
    }
}

/* y = x[idx]: g added into zeros of x's shape at the slices it read. */
RULE(GATHER_ND)
{
    hb_tensor *zeros = hb_zeros(x->shape.ndim, x->shape.dim);
    add_grad(x, done(zeros, hb_scatter_nd(zeros, in[1], g, true)));
}

/* y = x with x[idx] = u (or += u): u gets g[idx]; x gets g, zeroed where it was replaced. */
RULE(SCATTER_ND)
{
    if (x->requires_grad && !at->accumulate) {
        hb_tensor *zeros = hb_zeros(in[2]->shape.ndim, in[2]->shape.dim);
        add_grad(x, done(zeros, hb_scatter_nd(g, in[1], zeros, false)));
    } else if (x->requires_grad) {
        add_grad(x, hb_tensor_copy(g));
    }
    if (in[2]->requires_grad)
        add_grad(in[2], hb_gather_nd(g, in[1]));
}

/* Only a float input can need a gradient: g in its dtype. */
RULE(CAST)
{
    add_grad(x, hb_cast(g, x->dtype));
}

/* g added back where each gathered element came from (an embedding's rows, summed over
 * repeats). */
RULE(GATHER)
{
    add_grad(x, hb_gather_grad(HB_OP_GATHER, g, in[1], at->axis, &x->shape));
}

RULE(GATHER_ELEMENTS)
{
    add_grad(x, hb_gather_grad(HB_OP_GATHER_ELEMENTS, g, in[1], at->axis, &x->shape));
}

/* Ops whose gradient is zero wherever it exists: comparisons and logic are flat almost
 * everywhere, a guard's test and an in-place update pass nothing back. */
RULE(ZERO) { (void)g; }

/* Why no gradient passes through an op whose row says NO_GRAD(WHY); such ops are made by
 * tracing and passes, never by eager calls, so they never reach the tape. */
static const char refuse_ISLAND[] = "an eager island (its block reads values on the host, and "
                                    "its gradient would need its eager backward)";
static const char refuse_LOOP[] = "a lifted loop or scan";
static const char refuse_FUSED[] = "a fused op (autodiff runs before fusion)";
static const char refuse_SECOND[] = "a gradient op (no second derivatives)";

typedef void (*rule_fn)(const entry *, hb_tensor *, hb_tensor **, hb_tensor *, hb_tensor *,
                        const hb_attrs *, float);

/* The grad column of ops.def read twice (an entry must expand without commas): the rule,
 * grad_X for GRAD(X) and none for NO_GRAD, and the refusal, refuse_WHY for NO_GRAD(WHY). */
#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad) [HB_OP_##NAME] = grad,
#define GRAD(RULE_NAME) grad_##RULE_NAME
#define NO_GRAD(WHY) NULL
static const rule_fn rules[HB_OP_COUNT] = {
#include "../ir/ops.def"
};
#undef GRAD
#undef NO_GRAD
#define GRAD(RULE_NAME) NULL
#define NO_GRAD(WHY) refuse_##WHY
static const char *const refusals[HB_OP_COUNT] = {
#include "../ir/ops.def"
};
#undef GRAD
#undef NO_GRAD
#undef HB_OP

static void rule(const entry *e, hb_tensor *g)
{
    if (rules[e->op]) /* a NO_GRAD op is never recorded */
        rules[e->op](e, g, e->in, e->in[0], e->out, &e->at, e->at.scalar);
}

hb_status hb_backward(hb_tensor *loss, hb_tensor *grad_output)
{
    if (!loss)
        return hb_frame_fail(HB_ERR_ARG, "hb_backward: the loss is NULL");
    if (hb_frame_depth() > 0)
        return hb_frame_fail(HB_ERR_STATE, "hb_backward: call it outside any block's forward");
    if (grad_output && !hb_tensor_same_shape(loss, grad_output)) {
        char a[96], b[96];
        return hb_frame_fail(HB_ERR_SHAPE, "hb_backward: grad_output %s does not match the loss %s",
                             hb_shape_fmt(&grad_output->shape, a, sizeof a),
                             hb_shape_fmt(&loss->shape, b, sizeof b));
    }
    if (tape_broken) {
        clear_tape();
        return hb_frame_fail(HB_ERR_NOMEM,
                             "hb_backward: out of memory while recording the forward; "
                             "its gradients would be incomplete");
    }
    if (!loss->requires_grad)
        return hb_frame_fail(HB_ERR_STATE,
                             "hb_backward: the loss was not recorded: turn gradients on "
                             "(hb_grad_enable) before the forward, which must read a trainable "
                             "parameter");
    hb_clear_error(); /* the status returned is this pass's, not an earlier call's */
    bool was_on = hb_grad_on;
    hb_grad_on = false; /* the rules' own ops are not recorded */
    hb_tensor_release(loss->grad);
    loss->grad = grad_output ? hb_tensor_copy(grad_output)
                             : hb_ones(loss->shape.ndim, loss->shape.dim);
    for (int i = ntape - 1; i >= 0; i--)
        if (tape[i].out->grad)
            rule(&tape[i], tape[i].out->grad);
    hb_status st = hb_last_status();
    clear_tape();
    hb_tensor_release(loss->grad);
    loss->grad = NULL;
    hb_grad_on = was_on;
    return st;
}

/* ---- the same rules over a graph (the autodiff pass's vjp) ----------------------------------- */

/* Applies node's rule with tensors that stand for its values: every op the rule calls becomes
 * a node of g (hb_trace_attach), and each input's gradient is the value its tensor collected. */
hb_status hb_graph_vjp(void *ctx, hb_graph *g, int node, int grad, const bool *wants,
                       int *in_grads)
{
    (void)ctx;
    const hb_node *n = &g->nodes[node];
    const char *why = refusals[n->op];
    if (why)
        return hb_error_set(HB_ERR_UNSUPPORTED, "%s: no gradient through %s",
                            n->path && n->path[0] ? n->path : hb_op_table[n->op].name, why);
    char *path = hb_strdup(n->path ? n->path : "");
    entry e = {n->op, n->attrs, n->ninputs, hb_calloc((size_t)n->ninputs, sizeof *e.in), NULL};
    hb_trace *tr = path && e.in ? hb_trace_attach(g, path) : NULL;
    hb_tensor *gt = tr ? hb_trace_value_tensor(tr, grad) : NULL;
    bool ok = gt && (e.out = hb_trace_value_tensor(tr, n->output));
    for (int i = 0; ok && i < e.n; i++) {
        ok = (e.in[i] = hb_trace_value_tensor(tr, g->nodes[node].inputs[i])) != NULL;
        if (ok)
            e.in[i]->requires_grad = wants[i];
    }
    if (ok) {
        bool was_on = hb_grad_on;
        hb_grad_on = false;
        hb_clear_error();
        rule(&e, gt); /* g->nodes may move from here on */
        hb_grad_on = was_on;
        ok = hb_last_status() == HB_OK;
    }
    for (int i = 0; i < e.n; i++) {
        in_grads[i] = ok && e.in[i]->grad ? e.in[i]->grad->trace_value : -1;
        if (e.in) /* NULL if its allocation failed */
            hb_tensor_release(e.in[i]);
    }
    hb_tensor_release(e.out), hb_tensor_release(gt);
    if (tr && !hb_trace_detach(tr))
        ok = false;
    hb_free(e.in), hb_free(path);
    if (!ok && hb_last_status() == HB_OK)
        hb_error_set(HB_ERR_NOMEM, "autodiff: out of memory");
    return ok ? HB_OK : hb_last_status();
}

hb_tensor *hb_tensor_grad(const hb_tensor *t) { return t ? t->grad : NULL; }

void hb_tensor_set_requires_grad(hb_tensor *t, bool on)
{
    if (t)
        t->requires_grad = on;
}

static hb_status zero(void *ctx, const char *name, hb_block *owner, hb_param *p)
{
    (void)ctx, (void)name, (void)owner;
    if (p->value) {
        hb_tensor_release(p->value->grad);
        p->value->grad = NULL;
    }
    return HB_OK;
}

void hb_block_zero_grad(hb_block *b) { hb_block_walk(b, zero, NULL); }
void hb_grad_clear(void) { clear_tape(); }

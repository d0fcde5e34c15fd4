/* The "diff" suite: a differential tester of hybridization.
 *
 * A generator driven by a seeded hb_rng builds random block compositions:
 * - custom blocks ("Prog") whose forward interprets a random program over registers (r0 is
 *   the input): Linear/Dense children of random widths (in-size inferred or given), hb_linear
 *   and hb_matmul against block constants or parameters (from either side), matmul of two
 *   intermediates (including contractions over the batch), relu/sigmoid/tanh/exp (on bounded
 *   inputs)/abs/neg/sqrt(abs(x)+c)/log(abs(x)+c), add/sub/mul/div with broadcasting against
 *   constants of shape [], [n], [1,n], [1] or full and against other intermediates, the
 *   *_scalar forms with scalars including 1, 0, -0.0 and 0.5, sum/mean/max over all or one
 *   axis (keepdim on and off), softmax/log_softmax, reshape/flatten/transpose, concat of
 *   branches, constants and hb_full tensors as operands (so that folding has work), rarely a
 *   host read (an eager island), and dead code (most registers are never returned);
 * - shared children: a child called twice, registered under two names, and one block used in
 *   several parents (or twice in one Parallel);
 * - Sequential and Parallel containers and library leaves, nested 1 to 4 levels deep.
 * Shapes are tracked symbolically while generating (B, the batch, may sit on any axis, and
 * twice after x·xᵀ), so every model is valid for every batch size.
 *
 * Each model runs eagerly on 3 inputs of one batch size and 2 of another (now and then a
 * batch of 0, and inputs with NaN, infinities, -0 or huge values in a few places). Then, on
 * the same instance or (40%) on a twin built from the same seed and hybridized before its
 * first call (deferred parameters take their shape while tracing):
 *   - sometimes only one descendant hybridized inside an eager parent;
 *   - hybridized: trace, plan runs, a retrace for the other batch, that plan on other values,
 *     the first plan again; each call equal to eager within 1e-5 (a call where eager failed,
 *     a batch of 0 under max, must fail too); sometimes every trainable parameter is then
 *     changed in place and the plans must follow (parameters are read live);
 *   - hybridized with freeze: the same calls within 1e-4 (scales fold into weights);
 *   - eager again: the same bits as the first eager calls, inputs untouched.
 * NaN and infinity positions must match exactly; the relative error (rel_error) is taken over
 * the finite values. A difference above the tolerance that is no larger than 4 times what
 * perturbing every weight (and the input) by a few ulps moves the eager result is rounding
 * amplified by the model (cancellation after a reordered sum), counted, not failed.
 *
 * Thousands of cases per run, bounded by time (HB_DIFF_SECONDS, default 20, 8 under ASan) and
 * count (HB_DIFF_CASES); the run stops after HB_DIFF_MAX_FAILURES (5) failing cases. The base
 * seed is HB_DIFF_SEED; HB_DIFF_CASE=N runs case N alone and prints its model (replay).
 * HB_DIFF_MAX_OPS / HB_DIFF_MAX_DEPTH shrink the generated models (to look for small
 * reproducers); HB_DIFF_ISLANDS=0 leaves out host reads; HB_DIFF_STATS=1 prints how often
 * each pass found work. A mismatch prints the seed, the case, the model (as a program per
 * custom block), the dump of every pass (hb_block_dump(.., "all", ..)), explain and both
 * outputs to stderr; a crash prints the case to replay.
 *
 * The "bugs" case holds minimized reproducers of library bugs the generator found. */
#include "harness.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define DIFF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DIFF_ASAN 1
#endif
#endif
#ifndef DIFF_ASAN
#define DIFF_ASAN 0
#endif
#if DIFF_ASAN
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum {
    SYM = -1,       /* the batch dim in a generator shape */
    MAX_INS = 24,   /* instructions of one program */
    MAX_REGS = MAX_INS + 1,
    BMAX = 64,      /* the largest batch: bounds for magnitudes */
    MAX_ND = 5,     /* ranks the generator makes */
    MAX_POOL = 64,
};

#define LIMIT 1e6 /* estimated magnitudes above this get squashed */

/* ---- random helpers ----------------------------------------------------------------------- */

static uint32_t rnd(hb_rng *r, uint32_t n) { return n ? (uint32_t)(hb_rng_next(r) % n) : 0; }
static bool chance(hb_rng *r, double p) { return hb_rng_uniform(r) < p; }
static float uni(hb_rng *r, float lo, float hi) { return lo + (hi - lo) * hb_rng_uniform(r); }

/* ---- symbolic shapes ---------------------------------------------------------------------- */

typedef struct gshape {
    int nd;
    int64_t d[HB_MAX_DIMS]; /* SYM: the batch */
} gshape;

static char *gs_str(const gshape *s, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < s->nd && n < size; i++) {
        if (s->d[i] == SYM)
            n += (size_t)snprintf(buf + n, size - n, "%sB", i ? ", " : "");
        else
            n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)s->d[i]);
    }
    if (n < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}
#define GS(s) gs_str((s), (char[96]){0}, 96)

static bool gs_equal(const gshape *a, const gshape *b)
{
    if (a->nd != b->nd)
        return false;
    for (int i = 0; i < a->nd; i++)
        if (a->d[i] != b->d[i])
            return false;
    return true;
}

static int gs_nsym(const gshape *s)
{
    int n = 0;
    for (int i = 0; i < s->nd; i++)
        n += s->d[i] == SYM;
    return n;
}

static int64_t gs_dim_bound(int64_t d) { return d == SYM ? BMAX : d; }

static double gs_numel_bound(const gshape *s)
{
    double n = 1;
    for (int i = 0; i < s->nd; i++)
        n *= (double)gs_dim_bound(s->d[i]);
    return n;
}

static int64_t gs_last(const gshape *s) { return s->nd ? s->d[s->nd - 1] : 0; }

/* NumPy broadcasting valid for every batch size: B only meets B or 1. */
static bool gs_broadcast(const gshape *a, const gshape *b, gshape *out)
{
    int nd = a->nd > b->nd ? a->nd : b->nd;
    gshape r = {.nd = nd};
    for (int i = 0; i < nd; i++) {
        int ia = a->nd - nd + i, ib = b->nd - nd + i;
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da == db)
            r.d[i] = da;
        else if (da == 1)
            r.d[i] = db;
        else if (db == 1)
            r.d[i] = da;
        else
            return false;
    }
    *out = r;
    return true;
}

static bool gs_matmul(const gshape *a, const gshape *b, gshape *out)
{
    if (a->nd < 2 || b->nd < 2 || a->d[a->nd - 1] != b->d[b->nd - 2])
        return false;
    gshape ba = {.nd = a->nd - 2}, bb = {.nd = b->nd - 2}, r;
    memcpy(ba.d, a->d, sizeof(int64_t) * (size_t)ba.nd);
    memcpy(bb.d, b->d, sizeof(int64_t) * (size_t)bb.nd);
    if (!gs_broadcast(&ba, &bb, &r) || r.nd + 2 > MAX_ND)
        return false;
    r.d[r.nd++] = a->d[a->nd - 2];
    r.d[r.nd++] = b->d[b->nd - 1];
    *out = r;
    return true;
}

/* ---- programs ----------------------------------------------------------------------------- */

typedef enum kind {
    K_CHILD,     /* y = child(key)(a) */
    K_LINEAR_C,  /* y = linear(a, W, b) with W, b block constants or parameters */
    K_MATMUL_C,  /* y = a @ C */
    K_CMATMUL,   /* y = C @ a */
    K_MATMUL,    /* y = a @ b */
    K_CONST,     /* y = constant or parameter key */
    K_FULL,      /* y = full(shape of a, s) */
    K_UNARY,
    K_BIN,       /* y = op(a, b) */
    K_SCALAR,    /* y = op(a, s) */
    K_REDUCE,    /* op over all or axis */
    K_SOFTMAX,   /* (log_)softmax over axis */
    K_RESHAPE,
    K_FLATTEN,
    K_TRANSPOSE,
    K_CONCAT,    /* concat(a, b[, c]) along axis */
    K_BRANCH,    /* island: sum(a) > 0 ? relu(a) : neg(a) */
    K_GBRANCH,   /* guarded: hb_test(sum(a) > 0) ? relu(a) : neg(a) */
    K_GLOOP,     /* guarded loop: while hb_test(1 < max|y| < inf): y = y/2 */
} kind;

typedef enum gop {
    U_RELU, U_SIGMOID, U_TANH, U_EXP, U_LOG, U_ABS, U_NEG, U_SQRT,
    B_ADD, B_SUB, B_MUL, B_DIV,
    S_ADD, S_SUB, S_MUL, S_DIV, S_RSUB, S_RDIV,
    R_SUM, R_MEAN, R_MAX,
} gop;

static const char *const gop_names[] = {
    "relu", "sigmoid", "tanh", "exp", "log", "abs", "neg", "sqrt",
    "add", "sub", "mul", "div",
    "add_scalar", "sub_scalar", "mul_scalar", "div_scalar", "rsub_scalar", "rdiv_scalar",
    "sum", "mean", "max",
};

typedef struct gins {
    kind k;
    gop op;
    int a, b, c;       /* source registers; c: a concat's third (-1: none) */
    char key[24];      /* child, constant or weight */
    char key2[24];     /* linear's bias ("" for none) */
    float s;
    int axis, axis2;
    bool all, keepdim, log;
    int nd;
    int64_t shape[HB_MAX_DIMS]; /* reshape target (-1 for the batch) */
} gins;

typedef struct gprog {
    int id;
    int n, out;
    gshape shapes[MAX_REGS]; /* of each register, for the description */
    gins ins[MAX_INS];
} gprog;

static hb_tensor *unary(gop op, hb_tensor *x)
{
    switch (op) {
    case U_RELU: return hb_relu(x);
    case U_SIGMOID: return hb_sigmoid(x);
    case U_TANH: return hb_tanh(x);
    case U_EXP: return hb_exp(x);
    case U_LOG: return hb_log(x);
    case U_ABS: return hb_abs(x);
    case U_NEG: return hb_neg(x);
    case U_SQRT: return hb_sqrt(x);
    default: return NULL;
    }
}

static hb_tensor *binary(gop op, hb_tensor *a, hb_tensor *b)
{
    switch (op) {
    case B_ADD: return hb_add(a, b);
    case B_SUB: return hb_sub(a, b);
    case B_MUL: return hb_mul(a, b);
    case B_DIV: return hb_div(a, b);
    default: return NULL;
    }
}

static hb_tensor *scalar_op(gop op, hb_tensor *a, float s)
{
    switch (op) {
    case S_ADD: return hb_add_scalar(a, s);
    case S_SUB: return hb_sub_scalar(a, s);
    case S_MUL: return hb_mul_scalar(a, s);
    case S_DIV: return hb_div_scalar(a, s);
    case S_RSUB: return hb_rsub_scalar(a, s);
    case S_RDIV: return hb_rdiv_scalar(a, s);
    default: return NULL;
    }
}

static hb_tensor *reduce(const gins *in, hb_tensor *a)
{
    switch (in->op) {
    case R_SUM: return in->all ? hb_sum(a) : hb_sum_axis(a, in->axis, in->keepdim);
    case R_MEAN: return in->all ? hb_mean(a) : hb_mean_axis(a, in->axis, in->keepdim);
    case R_MAX: return in->all ? hb_max(a) : hb_max_axis(a, in->axis, in->keepdim);
    default: return NULL;
    }
}

/* The forward of every generated custom block: runs its program. */
static hb_tensor *prog_forward(hb_block *self, hb_tensor *x)
{
    const gprog *p = hb_block_state(self);
    hb_tensor *r[MAX_REGS] = {x};
    for (int i = 0; i < p->n; i++) {
        const gins *in = &p->ins[i];
        hb_tensor *a = r[in->a], *b = in->b >= 0 ? r[in->b] : NULL, *y = NULL;
        switch (in->k) {
        case K_CHILD:
            y = hb_block_call(hb_block_child(self, in->key), a);
            break;
        case K_LINEAR_C:
            y = in->key2[0] ? hb_linear(a, hb_block_param(self, in->key),
                                        hb_block_param(self, in->key2))
                            : hb_linear_nobias(a, hb_block_param(self, in->key));
            break;
        case K_MATMUL_C: y = hb_matmul(a, hb_block_param(self, in->key)); break;
        case K_CMATMUL: y = hb_matmul(hb_block_param(self, in->key), a); break;
        case K_MATMUL: y = hb_matmul(a, b); break;
        case K_CONST: y = hb_block_param(self, in->key); break;
        case K_FULL: y = a ? hb_full(hb_tensor_ndim(a), hb_tensor_shape(a), in->s) : NULL; break;
        case K_UNARY: y = unary(in->op, a); break;
        case K_BIN: y = binary(in->op, a, b); break;
        case K_SCALAR: y = scalar_op(in->op, a, in->s); break;
        case K_REDUCE: y = reduce(in, a); break;
        case K_SOFTMAX: y = in->log ? hb_log_softmax(a, in->axis) : hb_softmax(a, in->axis); break;
        case K_RESHAPE: y = hb_reshape(a, in->nd, in->shape); break;
        case K_FLATTEN: y = hb_flatten(a); break;
        case K_TRANSPOSE: y = hb_transpose(a, in->axis, in->axis2); break;
        case K_CONCAT: {
            hb_tensor *xs[3] = {a, b, in->c >= 0 ? r[in->c] : NULL};
            y = hb_concat(in->c >= 0 ? 3 : 2, xs, in->axis);
            break;
        }
        case K_BRANCH: {
            hb_tensor *s = hb_sum(a);
            y = s ? (hb_item(s) > 0 ? hb_relu(a) : hb_neg(a)) : NULL;
            break;
        }
        case K_GBRANCH: {
            hb_tensor *s = hb_sum(a);
            y = s ? (hb_test(hb_gt(s, 0.0f)) ? hb_relu(a) : hb_neg(a)) : NULL;
            break;
        }
        case K_GLOOP: {
            y = a;
            for (hb_tensor *m; y && (m = hb_max(hb_abs(y))) &&
                               hb_test(hb_logical_and(hb_gt(m, 1.0f), hb_lt(m, INFINITY)));)
                y = hb_mul_scalar(y, 0.5f);
            break;
        }
        }
        r[i + 1] = y;
    }
    return r[p->out];
}

static bool is_prog(const hb_block *b) { return strcmp(hb_block_type(b), "Prog") == 0; }

/* ---- describing a model ------------------------------------------------------------------- */

static void ins_print(FILE *f, const gprog *p, int i)
{
    const gins *in = &p->ins[i];
    fprintf(f, "      r%d = ", i + 1);
    switch (in->k) {
    case K_CHILD: fprintf(f, "call %s(r%d)", in->key, in->a); break;
    case K_LINEAR_C:
        fprintf(f, "linear(r%d, %s%s%s)", in->a, in->key, in->key2[0] ? ", " : "", in->key2);
        break;
    case K_MATMUL_C: fprintf(f, "matmul(r%d, %s)", in->a, in->key); break;
    case K_CMATMUL: fprintf(f, "matmul(%s, r%d)", in->key, in->a); break;
    case K_MATMUL: fprintf(f, "matmul(r%d, r%d)", in->a, in->b); break;
    case K_CONST: fprintf(f, "%s", in->key); break;
    case K_FULL: fprintf(f, "full(shape of r%d, %g)", in->a, (double)in->s); break;
    case K_UNARY: fprintf(f, "%s(r%d)", gop_names[in->op], in->a); break;
    case K_BIN: fprintf(f, "%s(r%d, r%d)", gop_names[in->op], in->a, in->b); break;
    case K_SCALAR:
        fprintf(f, "%s(r%d, %s%g)", gop_names[in->op], in->a,
                in->s == 0 && signbit(in->s) ? "-" : "", (double)in->s);
        break;
    case K_REDUCE:
        if (in->all)
            fprintf(f, "%s(r%d)", gop_names[in->op], in->a);
        else
            fprintf(f, "%s_axis(r%d, %d, keepdim=%d)", gop_names[in->op], in->a, in->axis,
                    in->keepdim);
        break;
    case K_SOFTMAX: fprintf(f, "%s(r%d, %d)", in->log ? "log_softmax" : "softmax", in->a, in->axis); break;
    case K_RESHAPE:
        fprintf(f, "reshape(r%d, [", in->a);
        for (int d = 0; d < in->nd; d++)
            fprintf(f, "%s%lld", d ? ", " : "", (long long)in->shape[d]);
        fprintf(f, "])");
        break;
    case K_FLATTEN: fprintf(f, "flatten(r%d)", in->a); break;
    case K_TRANSPOSE: fprintf(f, "transpose(r%d, %d, %d)", in->a, in->axis, in->axis2); break;
    case K_CONCAT:
        fprintf(f, "concat(r%d, r%d", in->a, in->b);
        if (in->c >= 0)
            fprintf(f, ", r%d", in->c);
        fprintf(f, "; axis %d)", in->axis);
        break;
    case K_BRANCH: fprintf(f, "item(sum(r%d)) > 0 ? relu(r%d) : neg(r%d)   [host read]", in->a, in->a, in->a); break;
    case K_GBRANCH: fprintf(f, "test(sum(r%d) > 0) ? relu(r%d) : neg(r%d)   [guard]", in->a, in->a, in->a); break;
    case K_GLOOP: fprintf(f, "while test(1 < max|y| < inf): y = y/2, from r%d   [guards]", in->a); break;
    }
    fprintf(f, "   %s\n", GS(&p->shapes[i + 1]));
}

typedef struct seen {
    const hb_block *b[256];
    char where[256][64];
    int n;
} seen;

static void describe(FILE *f, hb_block *b, const char *key, int indent, seen *sn)
{
    for (int i = 0; i < sn->n; i++)
        if (sn->b[i] == b) {
            fprintf(f, "%*s%s: the same block as %s\n", indent, "", key, sn->where[i]);
            return;
        }
    if (sn->n < (int)ARRAY_LEN(sn->b)) {
        sn->b[sn->n] = b;
        snprintf(sn->where[sn->n++], 64, "%s", key);
    }
    fprintf(f, "%*s%s: %s", indent, "", key, hb_block_type(b));
    if (is_prog(b)) {
        const gprog *p = hb_block_state(b);
        fprintf(f, " #%d (input %s)\n", p->id, GS(&p->shapes[0]));
    } else {
        hb_tensor *w = hb_block_param(b, "weight");
        hb_clear_error();
        if (w)
            fprintf(f, "(%lld, %lld)%s", (long long)hb_tensor_dim(w, 1),
                    (long long)hb_tensor_dim(w, 0), hb_block_param(b, "bias") ? "" : " no bias");
        hb_clear_error();
        fprintf(f, "\n");
    }
    if (is_prog(b)) {
        const gprog *p = hb_block_state(b);
        hb_state_dict sd;
        /* its own constants and parameters (names without a dot) */
        if (hb_block_state_dict(b, &sd) == HB_OK) {
            for (int i = 0; i < sd.count; i++) {
                if (strchr(sd.items[i].name, '.'))
                    continue;
                char sb[96];
                fprintf(f, "%*s    %s %s %s\n", indent, "", sd.items[i].trainable ? "param" : "const",
                        sd.items[i].name,
                        hb_shape_str(sd.items[i].ndim, sd.items[i].shape, sb, sizeof sb));
            }
            hb_state_dict_free(&sd);
        }
        for (int i = 0; i < p->n; i++) {
            fprintf(f, "%*s", indent, "");
            ins_print(f, p, i);
        }
        fprintf(f, "%*s      return r%d\n", indent, "", p->out);
    }
    for (int i = 0; i < hb_block_num_children(b); i++) {
        const char *ck;
        hb_block *c = hb_block_child_at(b, i, &ck);
        char path[64];
        snprintf(path, sizeof path, "%.40s/%.20s", key, ck);
        describe(f, c, path, indent + 2, sn);
    }
}

/* ---- the generator ------------------------------------------------------------------------ */

typedef struct reg {
    gshape s;
    double mag; /* an estimated bound of |x| */
    double lo;  /* > 0: every value is at least lo (safe to divide by) */
} reg;

typedef struct pooled {
    hb_block *b;
    gshape in;
    reg out;
} pooled;

typedef struct gen {
    hb_rng *r;
    int budget;    /* instructions left for the whole model */
    int max_ops;   /* per program */
    int nprogs;
    bool islands;
    pooled pool[MAX_POOL];
    int npool;
} gen;

typedef struct lin_child {
    char key[24];
    int64_t in, out;
    hb_activation act;
} lin_child;

typedef struct blk_child {
    char key[24];
    gshape in;
    reg out;
} blk_child;

/* A program being built. */
typedef struct pb {
    gen *g;
    hb_block *b;
    gprog *p;
    int depth;
    reg R[MAX_REGS];
    int nregs;
    int nchild, nconst;
    lin_child lins[16];
    int nlins;
    blk_child blks[16];
    int nblks;
} pb;

static hb_block *gen_block(gen *g, const reg *in, int depth, reg *out);

static bool room(const pb *q, int k) { return q->p->n + k <= MAX_INS && q->g->budget >= k; }

static int emit(pb *q, gins in, gshape s, double mag, double lo)
{
    if (!room(q, 1) || in.a < 0 ||
        ((in.k == K_BIN || in.k == K_MATMUL || in.k == K_CONCAT) && in.b < 0))
        return -1; /* no room, or an operand that could not be made */
    q->p->ins[q->p->n++] = in;
    int r = q->nregs++;
    q->R[r] = (reg){s, mag, lo};
    q->p->shapes[r] = s;
    q->g->budget--;
    return r;
}

static gins I(kind k, gop op, int a) { return (gins){.k = k, .op = op, .a = a, .b = -1, .c = -1}; }

static int pick_src(pb *q)
{
    return chance(q->g->r, 0.5) ? q->nregs - 1 : (int)rnd(q->g->r, (uint32_t)q->nregs);
}

static float pick_scalar(hb_rng *r)
{
    static const float list[] = {1.0f, 0.0f, -0.0f, 0.5f, -1.0f, 2.0f, -2.5f, 0.1f, 3.0f,
                                 -0.75f, 1.0f, 0.5f, 0.0f, -0.0f};
    if (chance(r, 0.2))
        return uni(r, -3.0f, 3.0f);
    return list[rnd(r, ARRAY_LEN(list))];
}

/* Some axis of an nd-D shape, negative half the time. */
static int pick_axis(hb_rng *r, int nd, int *norm)
{
    int a = (int)rnd(r, (uint32_t)nd);
    *norm = a;
    return chance(r, 0.5) ? a - nd : a;
}

static hb_tensor *values(hb_rng *r, int nd, const int64_t *shape, float lo, float hi)
{
    hb_tensor *t = hb_tensor_new(nd, shape);
    float *d = hb_tensor_data(t);
    for (int64_t i = 0; i < hb_tensor_numel(t); i++)
        d[i] = uni(r, lo, hi);
    return t;
}

/* A new constant (or, when trainable, a parameter) of q's block; its name into name. */
static void add_tensor(pb *q, char *name, const gshape *s, float lo, float hi, bool trainable)
{
    snprintf(name, 24, "%s%d", trainable ? "p" : "k", q->nconst++);
    if (trainable)
        ck_assert_msg(hb_block_add_param(q->b, name, s->nd, s->d,
                                         (hb_init){HB_INIT_UNIFORM, lo, hi, NULL}) == HB_OK,
                      "%s", hb_last_error());
    else
        ck_assert_msg(hb_block_add_const(q->b, name, values(q->g->r, s->nd, s->d, lo, hi)) ==
                          HB_OK, "%s", hb_last_error());
}

/* Squashes register j into a small range. */
static int squash(pb *q, int j)
{
    hb_rng *r = q->g->r;
    const reg *x = &q->R[j];
    switch (rnd(r, 4)) {
    case 0: return emit(q, I(K_UNARY, U_TANH, j), x->s, 1, 0);
    case 1: return emit(q, I(K_UNARY, U_SIGMOID, j), x->s, 1, 0);
    case 2:
        if (x->s.nd > 0) {
            gins in = I(K_SOFTMAX, 0, j);
            in.axis = -1;
            return emit(q, in, x->s, 1, 0);
        }
        return emit(q, I(K_UNARY, U_TANH, j), x->s, 1, 0);
    default: {
        if (!room(q, 3))
            return -1;
        gins in = I(K_SCALAR, S_ADD, emit(q, I(K_UNARY, U_ABS, j), x->s, x->mag, 0));
        in.s = 1.0f;
        int k = emit(q, in, q->R[j].s, q->R[j].mag + 1, 1);
        return emit(q, I(K_UNARY, U_LOG, k), q->R[j].s, log(q->R[j].mag + 1) + 1, 0);
    }
    }
}

/* A register holding a strictly positive version of j (>= some lo), for denominators. */
static int make_safe(pb *q, int j)
{
    hb_rng *r = q->g->r;
    if (q->R[j].lo >= 0.1 && chance(r, 0.8))
        return j;
    if (!room(q, 2))
        return -1;
    gshape s = q->R[j].s;
    double mag = q->R[j].mag;
    switch (rnd(r, 4)) {
    case 0: { /* abs(x) + c */
        float c = chance(r, 0.5) ? 1.0f : chance(r, 0.5) ? 0.5f : 2.0f;
        int k = emit(q, I(K_UNARY, U_ABS, j), s, mag, 0);
        gins in = I(K_SCALAR, S_ADD, k);
        in.s = c;
        return emit(q, in, s, mag + c, c);
    }
    case 1: { /* exp(tanh(x)) */
        int k = emit(q, I(K_UNARY, U_TANH, j), s, 1, 0);
        return emit(q, I(K_UNARY, U_EXP, k), s, exp(1.0), exp(-1.0));
    }
    case 2: { /* sigmoid(x) + 0.5 */
        int k = emit(q, I(K_UNARY, U_SIGMOID, j), s, 1, 0);
        gins in = I(K_SCALAR, S_ADD, k);
        in.s = 0.5f;
        return emit(q, in, s, 1.5, 0.5);
    }
    default: { /* x*x + 1 */
        if (mag > 1e3) {
            int k = emit(q, I(K_UNARY, U_TANH, j), s, 1, 0);
            j = k, mag = 1;
        }
        gins in = I(K_BIN, B_MUL, j);
        in.b = j;
        int k = emit(q, in, s, mag * mag, 0);
        in = I(K_SCALAR, S_ADD, k);
        in.s = 1.0f;
        return emit(q, in, s, mag * mag + 1, 1);
    }
    }
}

/* Linear/Dense child, new or shared. */
static int gen_linear_child(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg *x = &q->R[src];
    if (x->s.nd < 1 || gs_last(&x->s) == SYM || x->mag * 7 > LIMIT)
        return -1;
    int64_t in = gs_last(&x->s);
    const lin_child *use = NULL;
    if (q->nlins && chance(r, 0.4)) { /* the same child called again */
        int cands[16], nc = 0;
        for (int i = 0; i < q->nlins; i++)
            if (q->lins[i].in == in)
                cands[nc++] = i;
        if (nc)
            use = &q->lins[cands[rnd(r, (uint32_t)nc)]];
    }
    if (!use) {
        if (q->nlins + 2 > (int)ARRAY_LEN(q->lins))
            return -1;
        int64_t out = 1 + rnd(r, 40);
        bool given = chance(r, 0.4);
        hb_block *c;
        hb_activation act = HB_ACT_NONE;
        if (chance(r, 0.7)) {
            c = hb_linear_new(given ? in : 0, out);
        } else {
            act = (hb_activation)rnd(r, 4);
            c = hb_dense_new(given ? in : 0, out, act, chance(r, 0.5));
        }
        ck_assert_ptr_nonnull(c);
        lin_child *l = &q->lins[q->nlins++];
        int id = q->nchild++;
        snprintf(l->key, sizeof l->key, "lin%d", id);
        l->in = in, l->out = out, l->act = act;
        if (chance(r, 0.2)) { /* registered under a second name too */
            lin_child *alias = &q->lins[q->nlins++];
            *alias = *l;
            snprintf(alias->key, sizeof alias->key, "lin%d_also", id);
            ck_assert_int_eq(hb_block_add_child(q->b, alias->key, hb_block_retain(c)), HB_OK);
        }
        ck_assert_int_eq(hb_block_add_child(q->b, l->key, c), HB_OK);
        use = l;
    }
    gshape s = x->s;
    s.d[s.nd - 1] = use->out;
    double mag = sqrt((double)in) * x->mag + 1;
    if (use->act == HB_ACT_SIGMOID || use->act == HB_ACT_TANH)
        mag = 1;
    gins ins = I(K_CHILD, 0, src);
    snprintf(ins.key, sizeof ins.key, "%s", use->key);
    return emit(q, ins, s, mag, 0);
}

/* A generated sub-block as a child: new, shared with another parent, or called again. */
static int gen_block_child(pb *q, int src)
{
    hb_rng *r = q->g->r;
    gen *g = q->g;
    const reg x = q->R[src];
    if (q->depth <= 1 || g->budget < 4 || x.mag > LIMIT / 100)
        return -1;
    blk_child *use = NULL;
    for (int i = 0; i < q->nblks && !use; i++)
        if (gs_equal(&q->blks[i].in, &x.s) && chance(r, 0.5))
            use = &q->blks[i]; /* the same child called twice */
    if (!use) {
        if (q->nblks + 2 > (int)ARRAY_LEN(q->blks))
            return -1;
        hb_block *c = NULL;
        reg out;
        for (int i = 0; i < g->npool && !c; i++) /* a block another parent has too */
            if (gs_equal(&g->pool[i].in, &x.s) && chance(r, 0.3)) {
                c = hb_block_retain(g->pool[i].b);
                out = g->pool[i].out;
                out.mag = fmax(out.mag, 1.0) * fmax(x.mag / 2, 1.0); /* linear in its input */
            }
        if (!c)
            c = gen_block(g, &x, q->depth - 1, &out);
        blk_child *bc = &q->blks[q->nblks++];
        int id = q->nchild++;
        snprintf(bc->key, sizeof bc->key, "blk%d", id);
        bc->in = x.s, bc->out = out;
        if (chance(r, 0.2)) {
            blk_child *alias = &q->blks[q->nblks++];
            *alias = *bc;
            snprintf(alias->key, sizeof alias->key, "blk%d_also", id);
            ck_assert_int_eq(hb_block_add_child(q->b, alias->key, hb_block_retain(c)), HB_OK);
        }
        ck_assert_int_eq(hb_block_add_child(q->b, bc->key, c), HB_OK);
        use = bc;
    }
    gins ins = I(K_CHILD, 0, src);
    snprintf(ins.key, sizeof ins.key, "%s", use->key);
    return emit(q, ins, use->out.s, use->out.mag, use->out.lo);
}

static int gen_linear_c(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg x = q->R[src];
    if (x.s.nd < 1 || gs_last(&x.s) == SYM || x.mag * 7 > LIMIT || !room(q, 1))
        return -1;
    int64_t k = gs_last(&x.s), n = chance(r, 0.3) ? 32 + rnd(r, 9) : 1 + rnd(r, 40);
    float lim = 1.0f / sqrtf((float)k);
    gins ins = I(K_LINEAR_C, 0, src);
    bool trainable = chance(r, 0.4);
    add_tensor(q, ins.key, &(gshape){2, {n, k}}, -lim, lim, trainable);
    if (chance(r, 0.7))
        add_tensor(q, ins.key2, &(gshape){1, {n}}, -lim, lim, trainable && chance(r, 0.7));
    gshape s = x.s;
    s.d[s.nd - 1] = n;
    return emit(q, ins, s, sqrt((double)k) * x.mag + 1, 0);
}

static int gen_matmul_c(pb *q, int src, bool left)
{
    hb_rng *r = q->g->r;
    const reg x = q->R[src];
    if (x.s.nd < 2 || x.mag * 7 > LIMIT || !room(q, 1))
        return -1;
    int64_t k = left ? x.s.d[x.s.nd - 2] : gs_last(&x.s);
    if (k == SYM)
        return -1;
    int64_t n = 1 + rnd(r, 40);
    gshape cs = left ? (gshape){2, {n, k}} : (gshape){2, {k, n}}, out;
    if (!left && chance(r, 0.25))
        cs = (gshape){3, {1, k, n}};
    if (!(left ? gs_matmul(&cs, &x.s, &out) : gs_matmul(&x.s, &cs, &out)))
        return -1;
    float lim = 1.0f / sqrtf((float)k);
    gins ins = I(left ? K_CMATMUL : K_MATMUL_C, 0, src);
    add_tensor(q, ins.key, &cs, -lim, lim, chance(r, 0.3));
    return emit(q, ins, out, sqrt((double)k) * x.mag, 0);
}

/* a @ b of two intermediates, or a gram matrix a @ aᵀ / aᵀ @ a. */
static int gen_matmul_rr(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg a = q->R[src];
    if (a.s.nd < 2 || a.mag > 100)
        return -1;
    int cands[MAX_REGS], nc = 0;
    gshape out;
    for (int j = 0; j < q->nregs; j++)
        if (q->R[j].mag <= 100 && gs_matmul(&a.s, &q->R[j].s, &out))
            cands[nc++] = j;
    if (nc && chance(r, 0.6)) {
        int j = cands[rnd(r, (uint32_t)nc)];
        gs_matmul(&a.s, &q->R[j].s, &out);
        double k = (double)gs_dim_bound(gs_last(&a.s));
        double mag = k * a.mag * q->R[j].mag;
        if (mag > LIMIT)
            return -1;
        gins ins = I(K_MATMUL, 0, src);
        ins.b = j;
        return emit(q, ins, out, mag, 0);
    }
    if (!room(q, 2))
        return -1;
    gshape t = a.s;
    t.d[t.nd - 1] = a.s.d[a.s.nd - 2], t.d[t.nd - 2] = a.s.d[a.s.nd - 1];
    bool first = chance(r, 0.5);
    if (!(first ? gs_matmul(&a.s, &t, &out) : gs_matmul(&t, &a.s, &out)))
        return -1;
    double k = (double)gs_dim_bound(first ? gs_last(&a.s) : a.s.d[a.s.nd - 2]);
    if (k * a.mag * a.mag > LIMIT)
        return -1;
    gins tr = I(K_TRANSPOSE, 0, src);
    tr.axis = chance(r, 0.5) ? -1 : a.s.nd - 1;
    tr.axis2 = chance(r, 0.5) ? -2 : a.s.nd - 2;
    int tj = emit(q, tr, t, a.mag, a.lo);
    gins ins = I(K_MATMUL, 0, first ? src : tj);
    ins.b = first ? tj : src;
    return emit(q, ins, out, k * a.mag * a.mag, 0);
}

static int gen_unary(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg x = q->R[src];
    switch (rnd(r, 9)) {
    case 0: return emit(q, I(K_UNARY, U_RELU, src), x.s, x.mag, x.lo);
    case 1: return emit(q, I(K_UNARY, U_SIGMOID, src), x.s, 1, x.mag < 20 ? 1 / (1 + exp(x.mag)) : 0);
    case 2: return emit(q, I(K_UNARY, U_TANH, src), x.s, 1, 0);
    case 3: return emit(q, I(K_UNARY, U_ABS, src), x.s, x.mag, x.lo);
    case 4: return emit(q, I(K_UNARY, U_NEG, src), x.s, x.mag, 0);
    case 5: { /* exp on bounded inputs */
        int j = src;
        if (x.mag > 20 || chance(r, 0.3)) {
            if (!room(q, 2))
                return -1;
            j = emit(q, I(K_UNARY, chance(r, 0.5) ? U_TANH : U_SIGMOID, src), x.s, 1, 0);
        }
        double m = q->R[j].mag;
        return emit(q, I(K_UNARY, U_EXP, j), x.s, exp(m), exp(-m));
    }
    case 6:
    case 7: { /* log or sqrt of abs(x) + c, or of a positive value directly */
        gop op = chance(r, 0.5) ? U_LOG : U_SQRT;
        if (x.lo > 0.01 && chance(r, 0.3))
            return emit(q, I(K_UNARY, op, src), x.s, op == U_LOG ? fabs(log(x.lo)) + log(x.mag + 1) : sqrt(x.mag), op == U_SQRT ? sqrt(x.lo) : 0);
        if (!room(q, 3))
            return -1;
        float c = chance(r, 0.7) ? 1.0f : chance(r, 0.5) ? 0.5f : 2.0f;
        int j = emit(q, I(K_UNARY, U_ABS, src), x.s, x.mag, x.lo);
        gins in = I(K_SCALAR, S_ADD, j);
        in.s = c;
        j = emit(q, in, x.s, x.mag + c, c);
        return emit(q, I(K_UNARY, op, j), x.s, op == U_LOG ? log(x.mag + c) + 1 : sqrt(x.mag + c),
                    op == U_SQRT ? sqrt(c) : 0);
    }
    default: return emit(q, I(K_UNARY, chance(r, 0.5) ? U_RELU : U_TANH, src), x.s, x.mag, 0);
    }
}

static double bin_mag(gop op, const reg *a, const reg *b)
{
    switch (op) {
    case B_ADD:
    case B_SUB: return a->mag + b->mag;
    case B_MUL: return a->mag * b->mag;
    default: return b->lo > 0 ? a->mag / b->lo : INFINITY;
    }
}

static double bin_lo(gop op, const reg *a, const reg *b)
{
    if (a->lo <= 0 || b->lo <= 0)
        return 0;
    switch (op) {
    case B_ADD: return a->lo + b->lo;
    case B_MUL: return a->lo * b->lo;
    case B_DIV: return a->lo / b->mag;
    default: return 0;
    }
}

/* op(a, constant) or op(constant, a), the constant [], [1], [n], [1, n] or a's whole shape. */
static int gen_bin_const(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg x = q->R[src];
    if (!room(q, 2))
        return -1;
    gop op = (gop)(B_ADD + rnd(r, 4));
    int64_t n = x.s.nd && gs_last(&x.s) != SYM ? gs_last(&x.s) : 1;
    if (x.s.nd == 0 && chance(r, 0.5))
        n = 1 + rnd(r, 6);
    gshape cs;
    switch (rnd(r, 5)) {
    case 0: cs = (gshape){0, {0}}; break;
    case 1: cs = (gshape){1, {1}}; break;
    case 2: cs = (gshape){1, {n}}; break;
    case 3: cs = (gshape){2, {1, n}}; break;
    default: cs = gs_nsym(&x.s) == 0 ? x.s : (gshape){1, {n}}; break;
    }
    gshape out;
    if (!gs_broadcast(&x.s, &cs, &out) || out.nd > MAX_ND)
        return -1;
    bool const_first = chance(r, 0.4);
    if (op == B_DIV && const_first && x.lo < 0.1)
        const_first = false;
    bool den = op == B_DIV && !const_first;
    gins c = I(K_CONST, 0, 0);
    add_tensor(q, c.key, &cs, den ? 0.5f : -2.0f, 2.0f, chance(r, 0.3));
    reg cr = {cs, 2, den ? 0.5 : 0};
    int cj = emit(q, c, cs, cr.mag, cr.lo);
    gins in = I(K_BIN, op, const_first ? cj : src);
    in.b = const_first ? src : cj;
    const reg *ra = &q->R[in.a], *rb = &q->R[in.b];
    return emit(q, in, out, bin_mag(op, ra, rb), bin_lo(op, ra, rb));
}

/* op(a, b) of two intermediates that broadcast (b may be a itself). */
static int gen_bin_reg(pb *q, int src)
{
    hb_rng *r = q->g->r;
    int cands[MAX_REGS], nc = 0;
    gshape out;
    for (int j = 0; j < q->nregs; j++)
        if (gs_broadcast(&q->R[src].s, &q->R[j].s, &out) && out.nd <= MAX_ND)
            cands[nc++] = j;
    if (!nc)
        return -1;
    int j = cands[rnd(r, (uint32_t)nc)];
    gop op = (gop)(B_ADD + rnd(r, 4));
    int a = src, b = j;
    if (chance(r, 0.5))
        a = j, b = src;
    if (op == B_DIV && (b = make_safe(q, b)) < 0)
        return -1;
    const reg ra = q->R[a], rb = q->R[b];
    double mag = bin_mag(op, &ra, &rb);
    if (mag > LIMIT && !isinf(ra.mag) && !isinf(rb.mag))
        return -1;
    gs_broadcast(&ra.s, &rb.s, &out);
    gins in = I(K_BIN, op, a);
    in.b = b;
    return emit(q, in, out, mag, bin_lo(op, &ra, &rb));
}

static int gen_scalar(pb *q, int src)
{
    hb_rng *r = q->g->r;
    gop op = (gop)(S_ADD + rnd(r, 6));
    float s = pick_scalar(r);
    if ((op == S_DIV || op == S_RDIV) && s == 0 && chance(r, 0.85))
        s = 0.5f; /* division by a zero scalar: rare (inf and NaN everywhere after) */
    if (op == S_RDIV && (src = make_safe(q, src)) < 0)
        return -1;
    const reg x = q->R[src];
    double as = fabs((double)s), mag = x.mag, lo = 0;
    bool pos = s > 0;
    switch (op) {
    case S_ADD: mag = x.mag + as, lo = x.lo > 0 && pos ? x.lo + s : 0; break;
    case S_SUB: mag = x.mag + as, lo = x.lo > 0 && s < 0 ? x.lo - s : 0; break;
    case S_MUL: mag = x.mag * as, lo = x.lo > 0 && pos ? x.lo * s : 0; break;
    case S_DIV: mag = s == 0 ? INFINITY : x.mag / as, lo = x.lo > 0 && pos ? x.lo / s : 0; break;
    case S_RSUB: mag = x.mag + as; break;
    default: mag = as / x.lo, lo = pos && isfinite(x.mag) && x.mag > 0 ? s / x.mag : 0; break;
    }
    if (mag > LIMIT && isfinite(x.mag) && s != 0)
        return -1;
    gins in = I(K_SCALAR, op, src);
    in.s = s;
    return emit(q, in, x.s, mag, lo);
}

static int gen_reduce(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg x = q->R[src];
    gins in = I(K_REDUCE, (gop)(R_SUM + rnd(r, 3)), src);
    gshape out = {.nd = 0};
    double count;
    in.all = x.s.nd == 0 || chance(r, 0.3);
    if (in.all) {
        count = gs_numel_bound(&x.s);
    } else {
        int ax;
        in.axis = pick_axis(r, x.s.nd, &ax);
        in.keepdim = chance(r, 0.5);
        count = (double)gs_dim_bound(x.s.d[ax]);
        for (int i = 0; i < x.s.nd; i++)
            if (i != ax)
                out.d[out.nd++] = x.s.d[i];
            else if (in.keepdim)
                out.d[out.nd++] = 1;
    }
    double mag = in.op == R_SUM ? x.mag * count : x.mag;
    if (mag > LIMIT && isfinite(x.mag))
        return -1;
    return emit(q, in, out, mag, x.lo);
}

static int gen_softmax(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg x = q->R[src];
    if (x.s.nd < 1)
        return -1;
    gins in = I(K_SOFTMAX, 0, src);
    int ax;
    in.axis = pick_axis(r, x.s.nd, &ax);
    in.log = chance(r, 0.5);
    return emit(q, in, x.s, in.log ? 2 * x.mag + log((double)gs_dim_bound(x.s.d[ax])) + 1 : 1, 0);
}

/* Writes a random factorization of p into k dims. */
static void factorize(hb_rng *r, int64_t p, int k, int64_t *out)
{
    for (int i = 0; i < k; i++)
        out[i] = 1;
    for (int64_t f = 2; p > 1;) {
        if (p % f == 0) {
            out[rnd(r, (uint32_t)k)] *= f;
            p /= f;
        } else {
            f++;
        }
    }
}

static int gen_reshape(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg x = q->R[src];
    int nsym = gs_nsym(&x.s);
    if (nsym > 1)
        return -1;
    int64_t p = 1;
    for (int i = 0; i < x.s.nd; i++)
        if (x.s.d[i] != SYM)
            p *= x.s.d[i];
    int k = (int)rnd(r, 4) + (nsym ? 0 : 1); /* concrete dims */
    if (k + nsym == 0)
        k = 1;
    if (k == 0 && p != 1)
        k = 1;
    int64_t dims[HB_MAX_DIMS];
    factorize(r, p, k, dims);
    gins in = I(K_RESHAPE, 0, src);
    gshape out = {.nd = 0};
    int at = nsym ? (int)rnd(r, (uint32_t)k + 1) : -1;
    for (int i = 0, j = 0; i < k + nsym; i++) {
        if (i == at) {
            out.d[out.nd++] = SYM;
            in.shape[in.nd++] = -1;
        } else {
            out.d[out.nd++] = dims[j];
            in.shape[in.nd++] = dims[j++];
        }
    }
    if (!nsym && out.nd && chance(r, 0.3)) /* -1 for a known dim */
        in.shape[rnd(r, (uint32_t)out.nd)] = -1;
    if (!nsym && out.nd == 0 && p != 1)
        return -1;
    return emit(q, in, out, x.mag, x.lo);
}

static int gen_flatten(pb *q, int src)
{
    const reg x = q->R[src];
    if (x.s.nd < 1)
        return -1;
    int64_t p = 1;
    for (int i = 1; i < x.s.nd; i++) {
        if (x.s.d[i] == SYM)
            return -1;
        p *= x.s.d[i];
    }
    gshape out = {2, {x.s.d[0], p}};
    return emit(q, I(K_FLATTEN, 0, src), out, x.mag, x.lo);
}

static int gen_transpose(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg x = q->R[src];
    if (x.s.nd < 1 || (x.s.nd < 2 && chance(r, 0.8)))
        return -1;
    gins in = I(K_TRANSPOSE, 0, src);
    int a, b;
    in.axis = pick_axis(r, x.s.nd, &a);
    in.axis2 = pick_axis(r, x.s.nd, &b);
    if (a == b && x.s.nd > 1 && chance(r, 0.8)) {
        b = (a + 1 + (int)rnd(r, (uint32_t)x.s.nd - 1)) % x.s.nd;
        in.axis2 = chance(r, 0.5) ? b : b - x.s.nd;
    }
    gshape out = x.s;
    out.d[a] = x.s.d[b], out.d[b] = x.s.d[a];
    return emit(q, in, out, x.mag, x.lo);
}

/* Whether b fits a for a concat along axis (which must be concrete in both). */
static bool concat_fits(const gshape *a, const gshape *b, int axis)
{
    if (a->nd != b->nd || a->d[axis] == SYM || b->d[axis] == SYM)
        return false;
    for (int i = 0; i < a->nd; i++)
        if (i != axis && a->d[i] != b->d[i])
            return false;
    return true;
}

static int gen_concat(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg x = q->R[src];
    if (x.s.nd < 1)
        return -1;
    int ax = chance(r, 0.7) ? x.s.nd - 1 : (int)rnd(r, (uint32_t)x.s.nd);
    if (x.s.d[ax] == SYM)
        return -1;
    int cands[MAX_REGS], nc = 0;
    for (int j = 0; j < q->nregs; j++)
        if (concat_fits(&x.s, &q->R[j].s, ax))
            cands[nc++] = j; /* includes src: concat(x, x) */
    gins in = I(K_CONCAT, 0, src);
    in.b = cands[rnd(r, (uint32_t)nc)];
    if (chance(r, 0.25))
        in.c = cands[rnd(r, (uint32_t)nc)];
    if (chance(r, 0.5)) { /* src need not come first */
        int t = in.a;
        in.a = in.b, in.b = t;
    }
    in.axis = chance(r, 0.5) ? ax : ax - x.s.nd;
    gshape out = x.s;
    out.d[ax] = q->R[in.a].s.d[ax] + q->R[in.b].s.d[ax] + (in.c >= 0 ? q->R[in.c].s.d[ax] : 0);
    double mag = fmax(q->R[in.a].mag, q->R[in.b].mag);
    double lo = fmin(q->R[in.a].lo, q->R[in.b].lo);
    if (in.c >= 0)
        mag = fmax(mag, q->R[in.c].mag), lo = fmin(lo, q->R[in.c].lo);
    return emit(q, in, out, mag, lo);
}

/* A constant or parameter as a register of its own (ops on it alone are folded). */
static int gen_const_reg(pb *q)
{
    hb_rng *r = q->g->r;
    gshape s;
    switch (rnd(r, 4)) {
    case 0: s = (gshape){0, {0}}; break;
    case 1: s = (gshape){1, {1 + rnd(r, 8)}}; break;
    case 2: s = (gshape){2, {1 + rnd(r, 5), 1 + rnd(r, 8)}}; break;
    default: { /* shaped like the input without the batch */
        s = q->R[0].s;
        for (int i = 0; i < s.nd; i++)
            if (s.d[i] == SYM)
                s.d[i] = 1;
    }
    }
    gins in = I(K_CONST, 0, 0);
    bool pos = chance(r, 0.3);
    add_tensor(q, in.key, &s, pos ? 0.5f : -2.0f, 2.0f, chance(r, 0.3));
    return emit(q, in, s, 2, pos ? 0.5 : 0);
}

static int gen_full(pb *q, int src)
{
    hb_rng *r = q->g->r;
    gins in = I(K_FULL, 0, src);
    in.s = pick_scalar(r);
    return emit(q, in, q->R[src].s, fabs((double)in.s), in.s > 0 ? in.s : 0);
}

static int gen_branch(pb *q, int src)
{
    const reg x = q->R[src];
    return emit(q, I(K_BRANCH, 0, src), x.s, x.mag, 0);
}

/* Control flow that stays compiled: an if/else or a halving loop on hb_test (guards; a plan
 * per path). Only where the value has elements: max of nothing is an error. */
static int gen_guarded(pb *q, int src)
{
    const reg x = q->R[src];
    if (chance(q->g->r, 0.5))
        return emit(q, I(K_GBRANCH, 0, src), x.s, x.mag, 0);
    return emit(q, I(K_GLOOP, 0, src), x.s, x.mag > 1 ? x.mag : 1, 0);
}

/* A long elementwise chain (fusion groups, GEMM epilogues and their limits on registers and
 * instructions): scalars, constants and activations one after another. */
static int gen_chain(pb *q, int src)
{
    hb_rng *r = q->g->r;
    int len = 6 + (int)rnd(r, 14), j = src;
    for (int i = 0; i < len && j >= 0; i++) {
        int k = q->R[j].mag > 1e3 ? squash(q, j)
                : chance(r, 0.4) ? gen_bin_const(q, j)
                : chance(r, 0.6) ? gen_scalar(q, j)
                                 : emit(q, I(K_UNARY, (gop)(U_RELU + rnd(r, 3)), j), q->R[j].s,
                                        fmax(q->R[j].mag, 1), 0);
        if (k < 0)
            break;
        j = k;
    }
    return j == src ? -1 : j;
}

/* A scale right after a product (what fold moves into constant weights), now and then. */
static int then_scale(pb *q, int j)
{
    hb_rng *r = q->g->r;
    if (j < 0 || !chance(r, 0.3))
        return j;
    gins in = I(K_SCALAR, chance(r, 0.6) ? S_MUL : S_DIV, j);
    in.s = chance(r, 0.5) ? 0.5f : chance(r, 0.5) ? -1.5f : pick_scalar(r);
    if (in.op == S_DIV && in.s == 0 && chance(r, 0.8))
        in.s = 3.0f;
    double as = fabs((double)in.s), mag = in.op == S_MUL ? q->R[j].mag * as
                                      : as > 0 ? q->R[j].mag / as : INFINITY;
    int k = emit(q, in, q->R[j].s, mag, 0);
    return k < 0 ? j : k;
}

/* Sometimes an elementwise op first, so that the reduction can take it in. */
static int gen_reduce_fused(pb *q, int src)
{
    hb_rng *r = q->g->r;
    const reg x = q->R[src];
    if (x.s.nd == 0 || !room(q, 2))
        return -1;
    int j = chance(r, 0.5) ? emit(q, I(K_UNARY, chance(r, 0.5) ? U_ABS : U_TANH, src), x.s,
                                  fmin(x.mag, chance(r, 0.5) ? x.mag : 1), 0)
                           : gen_bin_const(q, src);
    if (j < 0)
        return -1;
    gins in = I(K_REDUCE, (gop)(R_SUM + rnd(r, 3)), j);
    in.all = chance(r, 0.4);
    const reg y = q->R[j];
    gshape out = {.nd = 0};
    if (!in.all) {
        in.axis = chance(r, 0.5) ? -1 : y.s.nd - 1;
        in.keepdim = chance(r, 0.5);
        out = y.s;
        if (in.keepdim)
            out.d[out.nd - 1] = 1;
        else
            out.nd--;
    }
    double count = in.all ? gs_numel_bound(&y.s) : (double)gs_dim_bound(gs_last(&y.s));
    double mag = in.op == R_SUM ? y.mag * count : y.mag;
    if (mag > LIMIT && isfinite(y.mag))
        return -1;
    return emit(q, in, out, mag, 0);
}

static int gen_step(pb *q)
{
    hb_rng *r = q->g->r;
    int src = pick_src(q);
    if (q->R[src].mag > 1e3 && isfinite(q->R[src].mag) && chance(r, 0.7))
        return squash(q, src);
    static const int weights[] = {10, 8, 3, 4, 2, 3, 14, 10, 8, 12, 6, 3, 3, 2, 3, 5, 2, 1, 1, 2};
    int total = 0;
    for (size_t i = 0; i < ARRAY_LEN(weights); i++)
        total += weights[i];
    int w = (int)rnd(r, (uint32_t)total), choice = 0;
    while (w >= weights[choice])
        w -= weights[choice++];
    switch (choice) {
    case 0: return then_scale(q, gen_linear_child(q, src));
    case 1: return gen_block_child(q, src);
    case 2: return then_scale(q, gen_linear_c(q, src));
    case 3: return then_scale(q, gen_matmul_c(q, src, false));
    case 4: return gen_matmul_c(q, src, true);
    case 5: return gen_matmul_rr(q, src);
    case 6: return gen_unary(q, src);
    case 7: return gen_bin_const(q, src);
    case 8: return gen_bin_reg(q, src);
    case 9: return gen_scalar(q, src);
    case 10: return chance(r, 0.4) ? gen_reduce_fused(q, src) : gen_reduce(q, src);
    case 11: return gen_softmax(q, src);
    case 12: return gen_reshape(q, src);
    case 13: return gen_flatten(q, src);
    case 14: return gen_transpose(q, src);
    case 15: return gen_concat(q, src);
    case 16: return gen_const_reg(q);
    case 17: return gen_full(q, src);
    case 18: return chance(r, 0.5) ? gen_guarded(q, src)
                   : q->g->islands && chance(r, 0.5) ? gen_branch(q, src) : -1;
    default: return gen_chain(q, src);
    }
}

static void gprog_free(void *p) { free(p); }

static hb_block *gen_prog(gen *g, const reg *in, int depth, reg *out)
{
    hb_rng *r = g->r;
    pb *q = calloc(1, sizeof *q);
    ck_assert_ptr_nonnull(q);
    q->g = g, q->depth = depth;
    q->p = calloc(1, sizeof *q->p);
    ck_assert_ptr_nonnull(q->p);
    q->p->id = g->nprogs++;
    q->b = hb_block_new("Prog", prog_forward);
    ck_assert_ptr_nonnull(q->b);
    hb_block_set_state(q->b, q->p, gprog_free);
    q->R[0] = *in;
    q->p->shapes[0] = in->s;
    q->nregs = 1;
    int want = 1 + (int)rnd(r, (uint32_t)(g->max_ops < MAX_INS ? g->max_ops : MAX_INS));
    for (int tries = 0; q->p->n < want && g->budget > 0 && tries < 4 * want; tries++)
        gen_step(q);
    /* Mostly the last result; else any register (the input, a constant: dead code around). */
    int o = q->nregs - 1;
    if (chance(r, 0.2))
        o = (int)rnd(r, (uint32_t)q->nregs);
    q->p->out = o;
    *out = q->R[o];
    hb_block *b = q->b;
    free(q);
    return b;
}

/* A library block for input x, or NULL if none fits. */
static hb_block *gen_leaf(gen *g, const reg *x, reg *out)
{
    hb_rng *r = g->r;
    bool lin = x->s.nd >= 1 && gs_last(&x->s) != SYM && x->mag * 7 < LIMIT;
    bool flat = x->s.nd >= 1;
    for (int i = 1; i < x->s.nd; i++)
        flat = flat && x->s.d[i] != SYM;
    for (int tries = 0; tries < 8; tries++) {
        switch (rnd(r, 6)) {
        case 0:
        case 1:
            if (lin) {
                int64_t in = gs_last(&x->s), n = 1 + rnd(r, 40);
                hb_activation act = chance(r, 0.5) ? HB_ACT_NONE : (hb_activation)rnd(r, 4);
                hb_block *b = act == HB_ACT_NONE && chance(r, 0.5)
                                  ? hb_linear_new(chance(r, 0.5) ? in : 0, n)
                                  : hb_dense_new(chance(r, 0.5) ? in : 0, n, act, chance(r, 0.7));
                *out = *x;
                out->s.d[out->s.nd - 1] = n;
                out->mag = act == HB_ACT_SIGMOID || act == HB_ACT_TANH ? 1 : sqrt((double)in) * x->mag + 1;
                out->lo = 0;
                return b;
            }
            break;
        case 2: *out = *x; return hb_relu_new();
        case 3: *out = (reg){x->s, 1, 0}; return hb_sigmoid_new();
        case 4: *out = (reg){x->s, 1, 0}; return hb_tanh_new();
        default:
            if (flat) {
                int64_t p = 1;
                for (int i = 1; i < x->s.nd; i++)
                    p *= x->s.d[i];
                *out = *x;
                out->s = (gshape){2, {x->s.d[0], p}};
                return hb_flatten_new();
            }
            break;
        }
    }
    *out = *x;
    return hb_relu_new();
}

static hb_block *gen_sequential(gen *g, const reg *in, int depth, reg *out)
{
    hb_rng *r = g->r;
    hb_block *seq = hb_sequential_new();
    ck_assert_ptr_nonnull(seq);
    int n = 1 + (int)rnd(r, 3);
    reg cur = *in;
    for (int i = 0; i < n; i++) {
        reg next;
        hb_block *c = depth > 1 && chance(r, 0.7) ? gen_block(g, &cur, depth - 1, &next)
                                                  : gen_leaf(g, &cur, &next);
        ck_assert_int_eq(hb_sequential_add(seq, c), HB_OK);
        cur = next;
    }
    *out = cur;
    return seq;
}

static hb_block *gen_parallel(gen *g, const reg *in, int depth, reg *out)
{
    hb_rng *r = g->r;
    reg o0;
    hb_block *first = gen_block(g, in, depth - 1, &o0);
    int axes[HB_MAX_DIMS], na = 0;
    for (int i = 0; i < o0.s.nd; i++)
        if (o0.s.d[i] != SYM)
            axes[na++] = i;
    if (!na) { /* nothing to concatenate along: a Sequential of one */
        hb_block *seq = hb_sequential_new();
        ck_assert_int_eq(hb_sequential_add(seq, first), HB_OK);
        *out = o0;
        return seq;
    }
    int ax = o0.s.d[o0.s.nd - 1] != SYM && chance(r, 0.7) ? o0.s.nd - 1 : axes[rnd(r, (uint32_t)na)];
    hb_block *par = hb_parallel_new(chance(r, 0.5) ? ax : ax - o0.s.nd);
    ck_assert_ptr_nonnull(par);
    ck_assert_int_eq(hb_block_add_child(par, "0", first), HB_OK);
    *out = o0;
    int n = 2 + (chance(r, 0.3) ? 1 : 0);
    for (int i = 1; i < n; i++) {
        hb_block *c = NULL;
        reg oc;
        for (int tries = 0; tries < 4 && !c && g->budget > 2; tries++) {
            c = gen_block(g, in, depth - 1, &oc);
            if (!concat_fits(&o0.s, &oc.s, ax)) {
                hb_block_release(c);
                c = NULL;
            }
        }
        /* Linear(0, n) keeps the leading dims: it fits when the first child did too. */
        gshape lin_out = in->s;
        if (!c && in->s.nd && gs_last(&in->s) != SYM && ax == in->s.nd - 1 &&
            (lin_out.d[ax] = o0.s.d[ax], gs_equal(&lin_out, &o0.s)) && chance(r, 0.5)) {
            int64_t w = 1 + rnd(r, 40);
            c = hb_linear_new(0, w);
            oc = (reg){in->s, sqrt((double)gs_last(&in->s)) * in->mag + 1, 0};
            oc.s.d[ax] = w;
        }
        if (!c) { /* the first child again: one block under two keys */
            c = hb_block_retain(first);
            oc = o0;
        }
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        ck_assert_int_eq(hb_block_add_child(par, key, c), HB_OK);
        out->s.d[ax] += oc.s.d[ax];
        out->mag = fmax(out->mag, oc.mag);
        out->lo = fmin(out->lo, oc.lo);
    }
    return par;
}

static hb_block *gen_block(gen *g, const reg *in, int depth, reg *out)
{
    hb_rng *r = g->r;
    hb_block *b;
    if (g->budget <= 0)
        b = gen_leaf(g, in, out);
    else if (depth <= 1)
        b = chance(r, 0.75) ? gen_prog(g, in, depth, out) : gen_leaf(g, in, out);
    else {
        uint32_t c = rnd(r, 20);
        b = c < 11  ? gen_prog(g, in, depth, out)
            : c < 15 ? gen_sequential(g, in, depth, out)
            : c < 19 ? gen_parallel(g, in, depth, out)
                     : gen_leaf(g, in, out);
    }
    ck_assert_ptr_nonnull(b);
    if (g->npool < MAX_POOL)
        g->pool[g->npool++] = (pooled){hb_block_retain(b), in->s, *out};
    return b;
}

/* ---- running a case ----------------------------------------------------------------------- */

typedef struct config {
    uint64_t base;
    int max_ops, max_depth;
    bool islands;
    bool verbose;
    bool stats;
} config;

static uint64_t case_seed(uint64_t base, long idx) { return base * 0x9E3779B97F4A7C15ull + (uint64_t)idx; }

/* What one case made: the model and its input shape. */
typedef struct model {
    hb_block *net;
    gshape in;
    int depth;
} model;

static model make_model(const config *cfg, long idx)
{
    uint64_t seed = case_seed(cfg->base, idx);
    hb_rng rng;
    hb_rng_seed(&rng, seed);
    hb_seed(seed ^ 0xD1FFu); /* parameter initialization draws from the default generator */
    gen g = {.r = &rng, .islands = cfg->islands};
    g.max_ops = cfg->max_ops;
    g.budget = 6 + (int)rnd(&rng, (uint32_t)(cfg->max_ops * 3));
    model m = {.depth = 1 + (int)rnd(&rng, (uint32_t)cfg->max_depth)};
    int64_t f = 1 + rnd(&rng, 40);
    switch (rnd(&rng, 20)) {
    case 0: m.in = (gshape){1, {f}}; break;                            /* no batch */
    case 1: m.in = (gshape){3, {1 + rnd(&rng, 4), SYM, f}}; break;     /* batch in the middle */
    case 2: case 3: case 4: m.in = (gshape){3, {SYM, 1 + rnd(&rng, 5), f}}; break;
    default: m.in = (gshape){2, {SYM, f}}; break;
    }
    reg in = {m.in, 2, 0}, out;
    m.net = gen_block(&g, &in, m.depth, &out);
    hb_block_set_name(m.net, "net");
    for (int i = 0; i < g.npool; i++)
        hb_block_release(g.pool[i].b);
    return m;
}

static hb_tensor *make_input(hb_rng *r, const gshape *s, int64_t batch)
{
    int64_t dims[HB_MAX_DIMS];
    for (int i = 0; i < s->nd; i++)
        dims[i] = s->d[i] == SYM ? batch : s->d[i];
    return values(r, s->nd, dims, -2.0f, 2.0f);
}

static int64_t pick_batch(hb_rng *r)
{
    static const int64_t big[] = {17, 32, 33, 64};
    uint32_t c = rnd(r, 20);
    return c < 12 ? 1 + (int64_t)rnd(r, 8) : c < 17 ? 9 + (int64_t)rnd(r, 12) : big[rnd(r, 4)];
}

/* got against want: NaN and infinities where want has them, relative error over the rest. */
static double compare(const hb_tensor *got, const hb_tensor *want, char *why, size_t size)
{
    why[0] = '\0';
    if (!got || !want) {
        snprintf(why, size, "%s", got ? "no reference" : hb_last_error());
        return INFINITY;
    }
    if (!hb_tensor_same_shape(got, want)) {
        char a[96], b[96];
        snprintf(why, size, "shape %s, want %s",
                 hb_shape_str(hb_tensor_ndim(got), hb_tensor_shape(got), a, sizeof a),
                 hb_shape_str(hb_tensor_ndim(want), hb_tensor_shape(want), b, sizeof b));
        return INFINITY;
    }
    int64_t n = hb_tensor_numel(want);
    const float *g = hb_tensor_cdata(got), *w = hb_tensor_cdata(want);
    bool special = false;
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(g[i]) && isfinite(w[i]))
            continue;
        special = true;
        if (isnan(g[i]) != isnan(w[i]) || (!isnan(w[i]) && g[i] != w[i])) {
            snprintf(why, size, "element %lld is %g, want %g", (long long)i, (double)g[i],
                     (double)w[i]);
            return INFINITY;
        }
    }
    double err;
    if (!special) {
        err = rel_error(got, want);
    } else {
        hb_tensor *fg = hb_tensor_copy(got), *fw = hb_tensor_copy(want);
        float *a = hb_tensor_data(fg), *b = hb_tensor_data(fw);
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(b[i]))
                a[i] = b[i] = 0.0f;
        err = rel_error(fg, fw);
        hb_tensor_release(fg), hb_tensor_release(fw);
    }
    if (err > 0) { /* name the worst element */
        double scale = 0, worst = -1;
        int64_t at = 0;
        for (int64_t i = 0; i < n; i++)
            if (isfinite(w[i]))
                scale = fmax(scale, fabs((double)w[i]));
        for (int64_t i = 0; i < n; i++)
            if (isfinite(w[i]) && fabs((double)g[i] - w[i]) > worst)
                worst = fabs((double)g[i] - w[i]), at = i;
        snprintf(why, size, "worst element %lld: %.9g, want %.9g (scale %g)", (long long)at,
                 (double)g[at], (double)w[at], scale);
    }
    return err;
}

static bool same_bits(const hb_tensor *a, const hb_tensor *b)
{
    return a && b && hb_tensor_same_shape(a, b) &&
           memcmp(hb_tensor_cdata(a), hb_tensor_cdata(b),
                  sizeof(float) * (size_t)hb_tensor_numel(a)) == 0;
}

/* How much the eager result moves when every parameter and constant (and then the input too)
 * is perturbed by a few ulps: a reordered sum (a packed weight, a scale folded into one) may
 * move it that much. The largest move of three tries. Runs net eagerly, then restores the
 * values and net's hybridization. */
static double sensitivity(hb_block *net, hb_tensor *x, const hb_tensor *ref, bool freeze)
{
    hb_state_dict sd;
    if (hb_block_state_dict(net, &sd) != HB_OK)
        return 0;
    hb_tensor **saved = calloc((size_t)sd.count + 1, sizeof *saved);
    hb_rng r;
    hb_rng_seed(&r, 77);
    hb_hybridize(net, false);
    double sens = 0;
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < sd.count; i++) {
            if (!sd.items[i].value)
                continue;
            if (!saved[i])
                saved[i] = hb_tensor_copy(sd.items[i].value);
            float *d = hb_tensor_data(sd.items[i].value);
            const float *o = hb_tensor_cdata(saved[i]);
            for (int64_t j = 0; j < hb_tensor_numel(sd.items[i].value); j++)
                d[j] = o[j] * (1.0f + uni(&r, -1.0f, 1.0f) * 0x1p-20f); /* up to 16 ulps */
        }
        hb_tensor *xp = hb_tensor_copy(x);
        float *d = hb_tensor_data(xp);
        for (int64_t j = 0; t == 2 && j < hb_tensor_numel(xp); j++)
            d[j] *= 1.0f + uni(&r, -1.0f, 1.0f) * 0x1p-21f;
        hb_tensor *y = hb_block_call(net, xp);
        char why[256];
        double e = compare(y, ref, why, sizeof why);
        if (isfinite(e))
            sens = fmax(sens, e);
        hb_tensor_release(y), hb_tensor_release(xp);
    }
    /* A tensor listed twice (a shared block) was saved a second time after the first listing
     * had perturbed it: restoring in reverse order writes the first, original copy last. */
    for (int i = sd.count - 1; i >= 0; i--)
        if (saved[i]) {
            memcpy(hb_tensor_data(sd.items[i].value), hb_tensor_cdata(saved[i]),
                   sizeof(float) * (size_t)hb_tensor_numel(saved[i]));
            hb_tensor_release(saved[i]);
        }
    free(saved);
    hb_state_dict_free(&sd);
    hb_hybridize_with(net, true, &(hb_hybrid_options){.freeze = freeze});
    return sens;
}

enum { CASE_OK = 0, CASE_MISMATCH = 1, CASE_GEN_ERROR = 2 };

static void print_model(FILE *f, const model *m)
{
    seen *sn = calloc(1, sizeof *sn);
    fprintf(f, "model (input %s, depth %d):\n", GS(&m->in), m->depth);
    describe(f, m->net, "net", 2, sn);
    free(sn);
}

static void report(const config *cfg, long idx, const model *m, const char *mode,
                   const char *what, hb_tensor *x, hb_tensor *got, const hb_tensor *want,
                   double err, double tol, const char *why)
{
    char sb[96];
    fprintf(stderr, "\n==== diff: MISMATCH in case %ld (replay: HB_DIFF_SEED=%llu HB_DIFF_CASE=%ld"
            " HB_DIFF_MAX_OPS=%d HB_DIFF_MAX_DEPTH=%d%s)\n", idx, (unsigned long long)cfg->base,
            idx, cfg->max_ops, cfg->max_depth, cfg->islands ? "" : " HB_DIFF_ISLANDS=0");
    fprintf(stderr, "%s, %s call on input %s: relative error %g > %g%s%s\n", mode, what,
            hb_shape_str(hb_tensor_ndim(x), hb_tensor_shape(x), sb, sizeof sb), err, tol,
            why[0] ? ": " : "", why);
    print_model(stderr, m);
    fprintf(stderr, "---- hb_block_dump(net, x, \"all\"):\n");
    if (hb_block_dump(m->net, x, "all", false, stderr) != HB_OK)
        fprintf(stderr, "(dump failed: %s)\n", hb_last_error());
    fprintf(stderr, "---- hb_block_explain:\n");
    hb_block_explain(m->net, stderr, false);
    fprintf(stderr, "---- input:\n");
    hb_tensor_print(stderr, x);
    fprintf(stderr, "\n---- %s:\n", mode);
    if (got)
        hb_tensor_print(stderr, got);
    else
        fprintf(stderr, "NULL: %s", hb_last_error());
    fprintf(stderr, "\n---- eager:\n");
    if (want)
        hb_tensor_print(stderr, want);
    else
        fprintf(stderr, "NULL (the eager call failed)");
    fprintf(stderr, "\n==== end of case %ld\n", idx);
}

static volatile long current_case = -1;
static long tolerated; /* mismatches within what perturbing the weights by ulps moves */
static uint64_t current_base;

/* HB_DIFF_STATS=1: how often the passes found work, summed from hb_block_explain's notes. */
static const char *const stat_keys[] = {
    "rules applied", "nodes merged", "constants computed", "scales moved into weights",
    "GEMMs took their epilogue", "weights packed", "elementwise groups fused",
    "into reductions", "nodes removed", "results written in place", "took a path no plan had",
    "guards (one path", "loops lifted", "eager island",
};
static long stat_cases[ARRAY_LEN(stat_keys)], stat_total[ARRAY_LEN(stat_keys)], stat_runs;

static void collect_stats(hb_block *net)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    hb_block_explain(net, f, false);
    fclose(f);
    stat_runs++;
    for (size_t k = 0; k < ARRAY_LEN(stat_keys); k++) {
        long sum = 0;
        for (const char *p = buf; (p = strstr(p, stat_keys[k])); p += strlen(stat_keys[k])) {
            const char *q = p;
            while (q > buf && q[-1] == ' ')
                q--;
            while (q > buf && q[-1] >= '0' && q[-1] <= '9')
                q--;
            sum += k == ARRAY_LEN(stat_keys) - 1 ? 1 : strtol(q, NULL, 10);
        }
        stat_total[k] += sum;
        stat_cases[k] += sum > 0;
    }
    free(buf);
}

/* One case while it runs. */
typedef struct run {
    const config *cfg;
    long idx;
    model m;        /* the model the hybrid phases run (the eager reference's twin if fresh) */
    model twin;     /* the instance the references came from, when m is a fresh one */
    hb_tensor **xs, **ref;
    int status;
    char *summary;
    size_t size;
} run;

/* Calls m on xs[xi] and compares with want (NULL: eager failed there, so must this call). */
static void check_call(run *c, int xi, const hb_tensor *want, double tol, bool freeze,
                       const char *mode, const char *what)
{
    if (c->status != CASE_OK)
        return;
    hb_tensor *y = hb_block_call(c->m.net, c->xs[xi]);
    char why[256] = "";
    double err;
    if (!want)
        err = y ? (snprintf(why, sizeof why, "eager failed, this call did not"), INFINITY) : 0;
    else
        err = compare(y, want, why, sizeof why);
    if (!(err <= tol) && isfinite(err)) {
        /* rounding amplified by the model (cancellation after a reordered sum)? */
        double sens = sensitivity(c->m.net, c->xs[xi], want, freeze);
        if (err <= 4 * sens) {
            tolerated++;
            err = 0;
        }
    }
    if (!(err <= tol)) {
        report(c->cfg, c->idx, &c->m, mode, what, c->xs[xi], y, want, err, tol, why);
        snprintf(c->summary, c->size, "case %ld: %s, %s call: relative error %g > %g (%s)",
                 c->idx, mode, what, err, tol, why);
        c->status = CASE_MISMATCH;
    }
    hb_tensor_release(y);
}

/* A block of the tree other than the root, or NULL. */
static hb_block *some_descendant(hb_block *b, hb_rng *r)
{
    int n = hb_block_num_children(b);
    if (!n)
        return NULL;
    hb_block *c = hb_block_child_at(b, (int)rnd(r, (uint32_t)n), NULL);
    hb_block *deeper = chance(r, 0.5) ? some_descendant(c, r) : NULL;
    return deeper ? deeper : c;
}

/* Adds noise to every trainable parameter (in place); returns their copies for restore(). */
static hb_tensor **update_params(hb_block *net, hb_state_dict *sd, hb_rng *r)
{
    if (hb_block_state_dict(net, sd) != HB_OK)
        return NULL;
    hb_tensor **saved = calloc((size_t)sd->count + 1, sizeof *saved);
    for (int i = 0; i < sd->count; i++) {
        if (!sd->items[i].value || !sd->items[i].trainable)
            continue;
        saved[i] = hb_tensor_copy(sd->items[i].value);
        float *d = hb_tensor_data(sd->items[i].value);
        for (int64_t j = 0; j < hb_tensor_numel(sd->items[i].value); j++)
            d[j] += uni(r, -0.25f, 0.25f);
    }
    return saved;
}

static void restore_params(hb_state_dict *sd, hb_tensor **saved)
{
    for (int i = sd->count - 1; saved && i >= 0; i--)
        if (saved[i]) {
            memcpy(hb_tensor_data(sd->items[i].value), hb_tensor_cdata(saved[i]),
                   sizeof(float) * (size_t)hb_tensor_numel(saved[i]));
            hb_tensor_release(saved[i]);
        }
    free(saved);
    hb_state_dict_free(sd);
}

/* Special values in a few places of an input: NaN, infinities, -0, huge and tiny numbers. */
static void sprinkle(hb_rng *r, hb_tensor *x)
{
    static const float special[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 1e30f, -1e30f,
                                    1e-40f, 88.0f, -100.0f};
    int64_t n = hb_tensor_numel(x);
    float *d = hb_tensor_data(x);
    for (int k = 0; n && k < 1 + (int)rnd(r, 3); k++)
        d[rnd(r, (uint32_t)n)] = special[rnd(r, ARRAY_LEN(special))];
}

/* Runs case idx: 0 if compiled equals eager, else CASE_MISMATCH / CASE_GEN_ERROR. */
static int run_case(const config *cfg, long idx, char *summary, size_t size)
{
    current_case = idx;
    run c = {.cfg = cfg, .idx = idx, .summary = summary, .size = size};
    c.m = make_model(cfg, idx);
    if (cfg->verbose)
        print_model(stdout, &c.m);
    hb_rng rng;
    hb_rng_seed(&rng, case_seed(cfg->base, idx) ^ 0x1234567ull);
    bool batched = gs_nsym(&c.m.in) > 0;
    int64_t b1 = pick_batch(&rng), b2 = chance(&rng, 0.03) ? 0 : pick_batch(&rng);
    while (b2 == b1)
        b2 = pick_batch(&rng);
    enum { NX = 5 };
    hb_tensor *xs[NX] = {make_input(&rng, &c.m.in, b1), make_input(&rng, &c.m.in, b1),
                         make_input(&rng, &c.m.in, b1), make_input(&rng, &c.m.in, b2),
                         make_input(&rng, &c.m.in, b2)};
    if (chance(&rng, 0.05))
        sprinkle(&rng, xs[chance(&rng, 0.5) ? 1 : 4]);
    hb_tensor *saved[NX], *ref[NX];
    for (int i = 0; i < NX; i++)
        saved[i] = hb_tensor_copy(xs[i]);
    c.xs = xs, c.ref = ref;
    summary[0] = '\0';
    bool fresh = chance(&rng, 0.4), partial = !fresh && chance(&rng, 0.3);
    bool updates = chance(&rng, 0.3);

    /* Eager references (deferred parameters take their values here). A batch of 0 may fail
     * (max over nothing): then the compiled calls must fail too. */
    for (int i = 0; i < NX; i++) {
        ref[i] = hb_block_call(c.m.net, xs[i]);
        if (!ref[i] && c.status == CASE_OK && !(batched && i >= 3 && b2 == 0)) {
            fprintf(stderr, "\n==== diff: GENERATOR ERROR in case %ld (HB_DIFF_SEED=%llu "
                    "HB_DIFF_CASE=%ld): the eager call failed: %s\n", idx,
                    (unsigned long long)cfg->base, idx, hb_last_error());
            print_model(stderr, &c.m);
            snprintf(summary, size, "case %ld: generator error: %s", idx, hb_last_error());
            c.status = CASE_GEN_ERROR;
        }
    }
    if (fresh) { /* a twin built from the same seed, hybridized before its first call */
        c.twin = c.m;
        c.m = make_model(cfg, idx);
        ck_assert_int_eq(hb_hybridize(c.m.net, true), HB_OK);
    }

    /* The calls: the first traces, the retrace is the other batch size, the rest run plans. */
    static const struct {
        int x;
        const char *what;
    } calls[] = {{0, "first (traced)"}, {0, "second (plan)"}, {1, "plan"},
                 {3, "other batch (retraced)"}, {4, "other batch (plan)"},
                 {2, "first plan again"}};
    if (partial) { /* an eager parent around one hybridized block */
        hb_block *d = some_descendant(c.m.net, &rng);
        if (d) {
            ck_assert_int_eq(hb_hybridize_with(d, true, &(hb_hybrid_options){.freeze = false}),
                             HB_OK);
            for (size_t k = 0; k < ARRAY_LEN(calls); k++)
                check_call(&c, calls[k].x, ref[calls[k].x], 1e-5, false,
                           "one descendant hybridized", calls[k].what);
        }
    }
    for (int mode = 0; mode < 2 && c.status == CASE_OK; mode++) {
        bool freeze = mode == 1;
        const char *mname = freeze ? "hybridized with freeze" : "hybridized";
        ck_assert_int_eq(hb_hybridize_with(c.m.net, true, &(hb_hybrid_options){.freeze = freeze}),
                         HB_OK);
        for (size_t k = 0; k < ARRAY_LEN(calls); k++)
            check_call(&c, calls[k].x, ref[calls[k].x], freeze ? 1e-4 : 1e-5, freeze, mname,
                       calls[k].what);
        if (cfg->stats)
            collect_stats(c.m.net);
        if (!freeze && updates && c.status == CASE_OK) {
            /* Parameters are read live: changed in place, the plans see it. */
            hb_state_dict sd;
            hb_tensor **old = update_params(c.m.net, &sd, &rng);
            ck_assert_int_eq(hb_hybridize(c.m.net, false), HB_OK);
            hb_tensor *want0 = hb_block_call(c.m.net, xs[0]), *want3 = hb_block_call(c.m.net, xs[3]);
            ck_assert_int_eq(hb_hybridize(c.m.net, true), HB_OK);
            check_call(&c, 0, want0, 1e-5, false, "hybridized, parameters updated", "plan");
            check_call(&c, 3, want3, 1e-5, false, "hybridized, parameters updated",
                       "other batch (plan)");
            hb_tensor_release(want0), hb_tensor_release(want3);
            restore_params(&sd, old);
        }
    }
    /* Eager again: the same bits (plans wrote into no parameter), inputs untouched. */
    if (c.status == CASE_OK) {
        ck_assert_int_eq(hb_hybridize(c.m.net, false), HB_OK);
        for (int i = 0; i < NX && c.status == CASE_OK; i++) {
            hb_tensor *y = hb_block_call(c.m.net, xs[i]);
            const char *bad = !same_bits(xs[i], saved[i]) ? "a call wrote into its input"
                              : !ref[i] ? (y ? "eager succeeded, it failed before" : NULL)
                              : !y || (!same_bits(y, ref[i]) &&
                                       compare(y, ref[i], (char[256]){0}, 256) != 0)
                                  ? "eager after hybridizing differs from eager before"
                                  : NULL;
            if (bad) {
                report(cfg, idx, &c.m, "eager again", bad, xs[i], y, ref[i], INFINITY, 0, bad);
                snprintf(summary, size, "case %ld: %s", idx, bad);
                c.status = CASE_MISMATCH;
            }
            hb_tensor_release(y);
        }
    }
    for (int i = 0; i < NX; i++)
        hb_tensor_release(xs[i]), hb_tensor_release(saved[i]), hb_tensor_release(ref[i]);
    hb_block_release(c.m.net);
    hb_block_release(c.twin.net);
    current_case = -1;
    return c.status;
}

/* ---- crash breadcrumbs -------------------------------------------------------------------- */

static void breadcrumb(void)
{
    if (current_case < 0)
        return;
    char buf[200];
    int n = snprintf(buf, sizeof buf, "\n==== diff: died in case %ld (replay: HB_DIFF_SEED=%llu "
                     "HB_DIFF_CASE=%ld)\n", current_case, (unsigned long long)current_base,
                     current_case);
    if (n > 0 && write(2, buf, (size_t)n) < 0)
        return;
}

static struct sigaction old_actions[32];

static void on_signal(int sig)
{
    breadcrumb();
    sigaction(sig, &old_actions[sig], NULL); /* the previous handler (or the default) next */
    if (sig == SIGABRT)
        raise(sig);
}

static void install_breadcrumbs(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < ARRAY_LEN(sigs); i++) {
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, &old_actions[sigs[i]]);
    }
#if DIFF_ASAN
    __sanitizer_set_death_callback(breadcrumb);
#endif
}

/* ---- the random test ---------------------------------------------------------------------- */

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 0) : def;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static config default_config(void)
{
    config cfg = {.base = 20240601, .max_ops = 10, .max_depth = 4, .islands = true};
    const char *s = getenv("HB_DIFF_SEED");
    if (s && *s)
        cfg.base = strtoull(s, NULL, 0);
    cfg.max_ops = (int)env_long("HB_DIFF_MAX_OPS", cfg.max_ops);
    cfg.max_ops = cfg.max_ops < 1 ? 1 : cfg.max_ops > MAX_INS ? MAX_INS : cfg.max_ops;
    cfg.max_depth = (int)env_long("HB_DIFF_MAX_DEPTH", cfg.max_depth);
    cfg.max_depth = cfg.max_depth < 1 ? 1 : cfg.max_depth;
    cfg.islands = env_long("HB_DIFF_ISLANDS", 1) != 0;
    return cfg;
}

START_TEST(random_models)
{
    config cfg = default_config();
    current_base = cfg.base;
    install_breadcrumbs();
    long only = env_long("HB_DIFF_CASE", -1);
    long max_cases = only >= 0 ? 1 : env_long("HB_DIFF_CASES", 1000000);
    double budget = (double)env_long("HB_DIFF_SECONDS", DIFF_ASAN ? 8 : 20);
    long max_reports = env_long("HB_DIFF_MAX_FAILURES", 5);
    cfg.verbose = only >= 0 || env_long("HB_DIFF_VERBOSE", 0);
    cfg.stats = env_long("HB_DIFF_STATS", 0) != 0;
    double t0 = now();
    long cases = 0, mismatches = 0, gen_errors = 0, leaks = 0;
    char first[600] = "", summary[512];
    for (long i = 0; i < max_cases && (only >= 0 || now() - t0 < budget); i++) {
        long idx = only >= 0 ? only : i;
        int st = run_case(&cfg, idx, summary, sizeof summary);
        cases++;
        if (st != CASE_OK && !first[0])
            snprintf(first, sizeof first, "%s", summary);
        mismatches += st == CASE_MISMATCH;
        gen_errors += st == CASE_GEN_ERROR;
        if (mismatches + gen_errors >= max_reports)
            break;
#if DIFF_ASAN
        /* LeakSanitizer now and then, so that a leak is pinned to a range of cases */
        if ((cases % 200 == 0 || only >= 0) && __lsan_do_recoverable_leak_check()) {
            fprintf(stderr, "==== diff: leaks in cases %ld to %ld (seed %llu)\n",
                    only >= 0 ? idx : idx - 199, idx, (unsigned long long)cfg.base);
            if (!leaks++)
                snprintf(first + strlen(first), sizeof first - strlen(first),
                         "%sleaks in cases %ld to %ld", first[0] ? "; " : "",
                         only >= 0 ? idx : idx - 199, idx);
        }
#endif
    }
    double dt = now() - t0;
    printf("diff: seed %llu: %ld cases in %.1f s (%.0f cases/s), %ld mismatches, %ld generator "
           "errors, %ld differences within rounding sensitivity\n", (unsigned long long)cfg.base,
           cases, dt, cases / (dt > 0 ? dt : 1), mismatches, gen_errors, tolerated);
    for (size_t k = 0; cfg.stats && k < ARRAY_LEN(stat_keys); k++)
        printf("  %-28s in %5.1f%% of %ld hybridized runs (%ld in all)\n", stat_keys[k],
               100.0 * (double)stat_cases[k] / (double)(stat_runs ? stat_runs : 1), stat_runs,
               stat_total[k]);
    fflush(stdout);
    ck_assert_msg(mismatches == 0 && gen_errors == 0 && leaks == 0,
                  "%ld of %ld random models: compiled differs from eager (%ld generator errors); "
                  "first: %s (seed %llu; details on stderr)",
                  mismatches, cases, gen_errors, first, (unsigned long long)cfg.base);
}
END_TEST

/* ---- minimized reproducers of what the generator found ----------------------------------- */

/* A. fold moved the scale of a dead x·W·s into W, which the live x·W reads too (any dead scale,
 *    also one left dead by cse when a block is used twice on the same input). Fixed by
 *    0ee00f9 ("fold skips dead nodes"); kept as a regression test. */
static hb_tensor *dead_scale_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *y = hb_matmul(x, hb_block_param(self, "w"));
    hb_mul_scalar(y, 0.0f); /* dead code */
    return y;
}

START_TEST(bug_dead_scale_moved_into_weights)
{
    hb_block *net = hb_block_new("DeadScale", dead_scale_forward);
    ck_assert_int_eq(hb_block_add_const(net, "w", hb_ones(HB_SHAPE(2, 1))), HB_OK);
    hb_tensor *x = hb_ones(HB_SHAPE(1, 2));
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    hb_tensor_release(hb_block_call(net, x)); /* traces */
    hb_tensor *y = hb_block_call(net, x);     /* the plan */
    float got = y ? hb_tensor_cdata(y)[0] : NAN;
    hb_tensor_release(y), hb_tensor_release(x);
    hb_block_release(net);
    ck_assert_msg(got == 2.0f, "fold: the dead (x @ w) * 0 moved its 0 into w, which the returned "
                  "x @ w reads too: plan %g, want 2", (double)got);
}
END_TEST

/* B. An island's result made by a hybridized child's own trace (the island runs while the
 *    parent's trace is paused, and the child traces its first call of that shape) keeps the
 *    child trace's id: the parent's trace takes it for an outside tensor, read live, and the
 *    plan returns the values of the call that traced it (src/frontend/trace.c,
 *    hb_trace_island: `y->trace_value = v` without y->trace_id). */
static hb_tensor *branch_linear_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *h = hb_item(hb_sum(x)) > 0 ? hb_relu(x) : hb_neg(x); /* a host read: island */
    return hb_block_call(hb_block_child(self, "lin"), h);
}

START_TEST(bug_island_result_from_nested_trace)
{
    hb_seed(1);
    hb_block *branch = hb_block_new("Branch", branch_linear_forward);
    ck_assert_int_eq(hb_block_add_child(branch, "lin", hb_linear_new(1, 1)), HB_OK);
    hb_block *net = hb_sequential_of(branch);
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    hb_tensor *x1 = hb_full(HB_SHAPE(2, 1), 1.0f); /* traces: Branch becomes an island */
    hb_tensor *x2 = hb_full(HB_SHAPE(3, 1), 1.0f); /* a new shape: traced around the island */
    hb_tensor *x3 = hb_full(HB_SHAPE(3, 1), 2.0f); /* runs that plan */
    hb_tensor_release(hb_block_call(net, x1));
    hb_tensor_release(hb_block_call(net, x2));
    hb_tensor *y = hb_block_call(net, x3);
    ck_assert_int_eq(hb_hybridize(net, false), HB_OK);
    hb_tensor *want = hb_block_call(net, x3);
    float got = y ? hb_tensor_cdata(y)[0] : NAN, w = want ? hb_tensor_cdata(want)[0] : NAN;
    hb_tensor_release(y), hb_tensor_release(want);
    hb_tensor_release(x1), hb_tensor_release(x2), hb_tensor_release(x3);
    hb_block_release(net);
    ck_assert_msg(got == w, "trace: an island's result made by its child's own trace is taken for "
                  "an outside tensor: the plan returns the traced call's values: plan %g, eager %g",
                  (double)got, (double)w);
}
END_TEST

/* C. The tracer remembers an island's result (made while the trace was paused) by its address
 *    alone, holding no reference: once the result is freed, a tensor allocated at that
 *    address later in the trace (here hb_full's) is taken for the island's result
 *    (hb_trace_island -> remember). Depends on malloc reusing the address: AddressSanitizer's
 *    quarantine hides it. */
static hb_tensor *island_relu_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    hb_item(hb_sum(x)); /* a host read: this block runs as an island */
    return hb_relu(x);
}

static hb_tensor *drop_island_forward(hb_block *self, hb_tensor *x)
{
    hb_block_call(hb_block_child(self, "island"), x); /* unused: freed when this call returns */
    return hb_mul_scalar(x, 2.0f);
}

static hb_tensor *add_ones_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    return hb_add(x, hb_full(hb_tensor_ndim(x), hb_tensor_shape(x), 1.0f));
}

START_TEST(bug_island_result_address_reused)
{
    hb_block *a = hb_block_new("A", drop_island_forward);
    ck_assert_int_eq(hb_block_add_child(a, "island", hb_block_new("Island", island_relu_forward)),
                     HB_OK);
    hb_block *net = hb_sequential_of(a, hb_block_new("B", add_ones_forward));
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    hb_tensor *x1 = hb_full(HB_SHAPE(2, 3), 1.0f);  /* traces: Island becomes an island */
    hb_tensor *x2 = hb_full(HB_SHAPE(4, 3), -1.0f); /* a new shape: traced around the island */
    hb_tensor *x3 = hb_full(HB_SHAPE(4, 3), -2.0f); /* runs that plan: 2·(-2) + 1 */
    hb_tensor_release(hb_block_call(net, x1));
    hb_tensor_release(hb_block_call(net, x2));
    hb_tensor *y = hb_block_call(net, x3);
    float got = y ? hb_tensor_cdata(y)[0] : NAN;
    hb_tensor_release(y), hb_tensor_release(x1), hb_tensor_release(x2), hb_tensor_release(x3);
    hb_block_release(net);
    ck_assert_msg(got == -3.0f, "trace: a freed island result's address was reused by hb_full's "
                  "tensor, which the plan then reads as the island's result: plan %g, want -3",
                  (double)got);
}
END_TEST

/* D. An island is taken to have failed when any error was set during its call (exec.c:
 *    hb_last_status() after the island), not when it returned NULL: a forward that ignored a
 *    failed op (its result unused) returned a result eagerly and when traced, but failed in
 *    the plan. Now any op failing inside a forward fails the call (block.c), so all three
 *    fail alike, with that op's message. */
static hb_tensor *ignores_error_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    hb_item(hb_sum(x));       /* a host read: this block runs as an island */
    hb_sum_axis(x, 5, false); /* fails (no axis 5); the result is never used */
    return hb_relu(x);
}

START_TEST(bug_island_fails_on_an_ignored_error)
{
    hb_block *net = hb_sequential_of(hb_block_new("Island", ignores_error_forward));
    hb_tensor *x = hb_ones(HB_SHAPE(2, 3));
    hb_tensor *e = hb_block_call(net, x); /* eager */
    bool eager_said = !e && strstr(hb_last_error(), "axis 5");
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    hb_tensor *y1 = hb_block_call(net, x); /* traced */
    bool traced_said = !y1 && strstr(hb_last_error(), "axis 5");
    hb_tensor *y2 = hb_block_call(net, x); /* the plan, or a trace again */
    char err[256];
    snprintf(err, sizeof err, "%s", hb_last_error());
    bool ok = eager_said && traced_said && !y2 && strstr(err, "axis 5");
    hb_tensor_release(e), hb_tensor_release(y1), hb_tensor_release(y2), hb_tensor_release(x);
    hb_block_release(net);
    ck_assert_msg(ok, "eager, traced and compiled calls must agree: all fail with the error "
                  "the forward ignored: %s", err);
}
END_TEST

/* F. A failure pending in an eager parent's forward must fail the parent's call even when a
 *    hybridized child runs a plan with an island in between (exec.c cleared the thread's
 *    error before every island, so the parent's failure was lost and calls 2 and 3 returned
 *    a result). */
static hb_tensor *island_reader_forward(hb_block *self, hb_tensor *x)
{
    (void)self;
    return hb_item(hb_sum(x)) > -1e30f ? hb_relu(x) : hb_neg(x);
}

static hb_tensor *island_child_forward(hb_block *self, hb_tensor *x)
{
    return hb_block_call(hb_block_child(self, "r"), hb_mul_scalar(x, 2.0f));
}

static hb_tensor *failing_parent_forward(hb_block *self, hb_tensor *x)
{
    hb_sum_axis(x, 5, false); /* fails; the result is unused */
    return hb_block_call(hb_block_child(self, "c"), x);
}

START_TEST(bug_island_clears_a_parents_failure)
{
    hb_block *child = hb_block_new("Child", island_child_forward);
    hb_block_add_child(child, "r", hb_block_new("Reader", island_reader_forward));
    hb_block *parent = hb_block_new("Parent", failing_parent_forward);
    hb_block_add_child(parent, "c", child);
    ck_assert_int_eq(hb_hybridize(child, true), HB_OK);
    hb_tensor *x = hb_ones(HB_SHAPE(2, 3));
    int results = 0;
    for (int call = 0; call < 3; call++) { /* traces, then runs the child's plan */
        hb_tensor *y = hb_block_call(parent, x);
        results += y != NULL && !strstr(hb_last_error(), "axis 5");
        hb_tensor_release(y);
    }
    hb_tensor_release(x);
    hb_block_release(parent);
    ck_assert_msg(results == 0, "exec: %d of 3 calls lost the parent's failure", results);
}
END_TEST

/* E. fold moves any scale into constant weights, 0 and non-finite ones too: (x @ w) / 0 is
 *    ±inf, x @ (w / 0) sums ±inf terms: NaN. Without freeze too (a block constant). */
static hb_tensor *zero_scale_forward(hb_block *self, hb_tensor *x)
{
    return hb_div_scalar(hb_matmul(x, hb_block_param(self, "w")), 0.0f);
}

START_TEST(bug_zero_scale_moved_into_weights)
{
    hb_block *net = hb_block_new("ZeroScale", zero_scale_forward);
    ck_assert_int_eq(hb_block_add_const(net, "w", hb_tensor_from((const float[]){1.0f, -1.0f},
                                                                 HB_SHAPE(2, 1))), HB_OK);
    hb_tensor *x = hb_tensor_from((const float[]){2.0f, 1.0f}, HB_SHAPE(1, 2)); /* x @ w = 1 */
    hb_tensor *e = hb_block_call(net, x); /* inf */
    ck_assert_int_eq(hb_hybridize(net, true), HB_OK);
    hb_tensor_release(hb_block_call(net, x));
    hb_tensor *y = hb_block_call(net, x);
    float got = y ? hb_tensor_cdata(y)[0] : 0.0f, want = e ? hb_tensor_cdata(e)[0] : 0.0f;
    hb_tensor_release(e), hb_tensor_release(y), hb_tensor_release(x);
    hb_block_release(net);
    ck_assert_msg(got == want, "fold: (x @ w) / 0 became x @ (w / 0): plan %g, eager %g",
                  (double)got, (double)want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("diff");
    TCase *tc = tcase_create("random");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, random_models);
    suite_add_tcase(s, tc);

    tc = tcase_create("bugs");
    tcase_add_test(tc, bug_dead_scale_moved_into_weights);
    tcase_add_test(tc, bug_island_result_from_nested_trace);
    tcase_add_test(tc, bug_island_result_address_reused);
    tcase_add_test(tc, bug_island_fails_on_an_ignored_error);
    tcase_add_test(tc, bug_island_clears_a_parents_failure);
    tcase_add_test(tc, bug_zero_scale_moved_into_weights);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

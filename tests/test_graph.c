/* The "graph" suite: the IR's text form, its parser, the verifier and the DOT picture.
 *
 * Graphs are built by hand (shapes from hb_op_infer), printed, parsed back and printed again:
 * the two texts must match byte for byte. One small graph is checked against a golden text.
 * Hostile texts must fail with "line N: ..." and leave nothing allocated; so must every parse
 * whose allocations fail one at a time. */
#include "harness.h"
#include "../src/ir/graph.h"
#include "../src/passes/pass.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- building graphs --------------------------------------------------------------------- */

static hb_shape shape_of(const int64_t *dims, int ndim) { return hb_shape_make(ndim, dims); }
#define SHAPE(...) shape_of((int64_t[]){__VA_ARGS__}, (int)(sizeof((int64_t[]){__VA_ARGS__}) / 8))
#define SCALAR ((hb_shape){.ndim = 0})

static int leaf(hb_graph *g, hb_value_kind kind, const char *name, hb_shape s)
{
    int v = hb_graph_add_value(g, kind, &s, name);
    ck_assert_int_ge(v, 0);
    return v;
}

/* Adds a node with the attributes as given (not normalized) and the shape its op infers. */
static int node(hb_graph *g, hb_op op, hb_attrs at, const char *path, int n, const int *in)
{
    hb_shape shapes[64], out;
    for (int i = 0; i < n; i++)
        shapes[i] = g->values[in[i]].shape;
    hb_attrs norm = at;
    char why[256];
    ck_assert_msg(hb_op_infer(op, &norm, n, shapes, &out, why, sizeof why) == HB_OK, "%s: %s",
                  hb_op_table[op].name, why);
    int v = hb_graph_add_node(g, op, &at, n, in, &out, path);
    ck_assert_int_ge(v, 0);
    return v;
}
#define NODE(g, op, at, path, ...)                                                               \
    node(g, op, at, path, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__})
#define NOATTRS ((hb_attrs){0})

/* Programs for fused nodes: INS(op, a, b) and INS_S(op, a, scalar) instructions. */
static hb_program program_of(int ninputs, int nins, const hb_prog_ins *ins)
{
    hb_program p = {.ninputs = ninputs, .nins = nins};
    memcpy(p.ins, ins, sizeof *ins * (size_t)nins);
    return p;
}
#define PROG(ninputs, ...)                                                                     \
    program_of(ninputs, (int)(sizeof((hb_prog_ins[]){__VA_ARGS__}) / sizeof(hb_prog_ins)),   \
               (hb_prog_ins[]){__VA_ARGS__})
#define INS(op_, a_, b_) ((hb_prog_ins){.op = HB_OP_##op_, .a = (a_), .b = (b_)})
#define INS_S(op_, a_, x) ((hb_prog_ins){.op = HB_OP_##op_, .a = (a_), .scalar = (x)})

static int island(hb_graph *g, int in, hb_shape out, const char *reason, const char *path)
{
    int v = NODE(g, HB_OP_ISLAND, ((hb_attrs){.shape = out}), path, in);
    if (reason)
        g->nodes[g->nnodes - 1].reason = hb_strdup(reason);
    return v;
}

static const char golden_text[] =
    "graph mlp {\n"
    "  %0 = input : f32[2, 20]\n"
    "  %1 = param \"0.weight\" : f32[256, 20]\n"
    "  %2 = param \"0.bias\" : f32[256]\n"
    "  %3 = const \"2.rand_weight\" : f32[20, 20]\n"
    "  %4 = extern \"e0\" : f32[20]\n"
    "  %5 = linear(%0, %1, %2) : f32[2, 256]  @mlp/0\n"
    "  %6 = sum(%5) {all} : f32[]  @mlp\n"
    "  %7 = sum(%5) {axis=1, keepdim} : f32[2, 1]  @mlp\n"
    "  %8 = max(%5) {axis=0} : f32[256]  @mlp\n"
    "  %9 = add_scalar(%5) {scalar=1} : f32[2, 256]  @mlp/1\n"
    "  %10 = reshape(%5) {shape=[2, 16, 16]} : f32[2, 16, 16]  @mlp\n"
    "  %11 = transpose(%5) {axes=[0, 1]} : f32[256, 2]  @mlp\n"
    "  %12 = softmax(%5) {axis=1} : f32[2, 256]  @mlp\n"
    "  %13 = concat(%5, %5) {axis=1} : f32[2, 512]  @mlp\n"
    "  %14 = island(%5) {reason=\"hb_item read a value of sum at chimera/2\"} : f32[]  "
    "@chimera/2\n"
    "  return %14\n"
    "}\n";

static const char fused_golden_text[] =
    "graph fused {\n"
    "  %0 = input : f32[2, 4]\n"
    "  %1 = extern \"e0\" : f32[4]\n"
    "  %2 = param \"fc.weight\" : f32[3, 4]\n"
    "  %3 = param \"fc.bias\" : f32[3]\n"
    "  %4 = const \"proj\" : f32[4, 2]\n"
    "  %5 = fused(%0, %1) {prog=[mul(r0, r1), add_scalar(r2, 1), tanh(r3)]} : f32[2, 4]  "
    "@net/act\n"
    "  %6 = gemm(%5, %2, %3) {trans_b, prog=[add(r0, r1), relu(r2)]} : f32[2, 3]  @net/fc\n"
    "  %7 = gemm(%5, %4) {prog=[mul_scalar(r0, 0.5)]} : f32[2, 2]  @net/proj\n"
    "  %8 = fused_reduce(%6) {reduce=sum, all, prog=[abs(r0)]} : f32[]  @loss\n"
    "  %9 = fused_reduce(%6, %3) {reduce=max, axis=1, prog=[sub(r0, r1)]} : f32[2]  @loss\n"
    "  %10 = fused_reduce(%7) {reduce=mean, axis=-1, keepdim, prog=[rsub_scalar(r0, -inf), "
    "exp(r1), div_scalar(r2, nan), copy(r3)]} : f32[2, 1]  @loss\n"
    "  %11 = fused(%8, %10) {prog=[add(r0, r1)]} : f32[2, 1]\n"
    "  return %11\n"
    "}\n";

/* The fused golden graph, leaves added between nodes so the printer renumbers. */
static hb_graph *fused_graph(void)
{
    hb_graph *g = hb_graph_new("fused");
    ck_assert_ptr_nonnull(g);
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, SHAPE(2, 4));
    int e = leaf(g, HB_VAL_EXTERN, "e0", SHAPE(4));
    hb_program p = PROG(2, INS(MUL, 0, 1), INS_S(ADD_SCALAR, 2, 1.0f), INS(TANH, 3, 0));
    int act = NODE(g, HB_OP_FUSED, ((hb_attrs){.prog = &p}), "net/act", x, e);
    int w = leaf(g, HB_VAL_PARAM, "fc.weight", SHAPE(3, 4));
    int b = leaf(g, HB_VAL_PARAM, "fc.bias", SHAPE(3));
    p = PROG(2, INS(ADD, 0, 1), INS(RELU, 2, 0));
    int fc = NODE(g, HB_OP_GEMM, ((hb_attrs){.prog = &p, .trans_b = true}), "net/fc", act, w, b);
    int proj = leaf(g, HB_VAL_CONST, "proj", SHAPE(4, 2));
    p = PROG(1, INS_S(MUL_SCALAR, 0, 0.5f));
    proj = NODE(g, HB_OP_GEMM, ((hb_attrs){.prog = &p}), "net/proj", act, proj);
    p = PROG(1, INS(ABS, 0, 0));
    int total = NODE(g, HB_OP_FUSED_REDUCE,
                     ((hb_attrs){.prog = &p, .reduce = HB_OP_SUM, .all = true}), "loss", fc);
    p = PROG(2, INS(SUB, 0, 1));
    NODE(g, HB_OP_FUSED_REDUCE, ((hb_attrs){.prog = &p, .reduce = HB_OP_MAX, .axis = 1}), "loss",
         fc, b);
    p = PROG(1, INS_S(RSUB_SCALAR, 0, -INFINITY), INS(EXP, 1, 0), INS_S(DIV_SCALAR, 2, NAN),
             INS(COPY, 3, 0));
    int mean = NODE(g, HB_OP_FUSED_REDUCE,
                    ((hb_attrs){.prog = &p, .reduce = HB_OP_MEAN, .axis = -1, .keepdim = true}),
                    "loss", proj);
    p = PROG(2, INS(ADD, 0, 1));
    g->output = NODE(g, HB_OP_FUSED, ((hb_attrs){.prog = &p}), NULL, total, mean);
    return g;
}

/* The golden graph, with the constant and the extern added after the first node so the
 * printer has to renumber. */
static hb_graph *golden_graph(void)
{
    hb_graph *g = hb_graph_new("mlp");
    ck_assert_ptr_nonnull(g);
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, SHAPE(2, 20));
    int w = leaf(g, HB_VAL_PARAM, "0.weight", SHAPE(256, 20));
    int b = leaf(g, HB_VAL_PARAM, "0.bias", SHAPE(256));
    int h = NODE(g, HB_OP_LINEAR, NOATTRS, "mlp/0", x, w, b);
    leaf(g, HB_VAL_CONST, "2.rand_weight", SHAPE(20, 20));
    leaf(g, HB_VAL_EXTERN, "e0", SHAPE(20));
    NODE(g, HB_OP_SUM, ((hb_attrs){.all = true}), "mlp", h);
    NODE(g, HB_OP_SUM, ((hb_attrs){.axis = 1, .keepdim = true}), "mlp", h);
    NODE(g, HB_OP_MAX, ((hb_attrs){.axis = 0}), "mlp", h);
    NODE(g, HB_OP_ADD_SCALAR, ((hb_attrs){.scalar = 1.0f}), "mlp/1", h);
    NODE(g, HB_OP_RESHAPE, ((hb_attrs){.shape = SHAPE(2, 16, 16)}), "mlp", h);
    NODE(g, HB_OP_TRANSPOSE, ((hb_attrs){.axis = 0, .axis2 = 1}), "mlp", h);
    NODE(g, HB_OP_SOFTMAX, ((hb_attrs){.axis = 1}), "mlp", h);
    NODE(g, HB_OP_CONCAT, ((hb_attrs){.axis = 1}), "mlp", h, h);
    g->output = island(g, h, SCALAR, "hb_item read a value of sum at chimera/2", "chimera/2");
    return g;
}

/* Every op in ops.def, with unnormalized attributes (negative axes, reshape's -1), values added
 * in an order the printer must renumber, and scalars that test the number format. */
static hb_graph *all_ops_graph(void)
{
    hb_graph *g = hb_graph_new("all-ops_1.0");
    ck_assert_ptr_nonnull(g);
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, SHAPE(2, 3, 4));
    int w = leaf(g, HB_VAL_PARAM, "lin.weight", SHAPE(5, 4));
    int r = NODE(g, HB_OP_RELU, NOATTRS, "net/0", x);
    int b = leaf(g, HB_VAL_PARAM, "lin.bias", SHAPE(5));
    int c = leaf(g, HB_VAL_CONST, "c0", SHAPE(4, 6));
    int e = leaf(g, HB_VAL_EXTERN, "e0", SHAPE(4));
    int lin = NODE(g, HB_OP_LINEAR, NOATTRS, "net/1", r, w, b);
    NODE(g, HB_OP_LINEAR, NOATTRS, "net/1", r, w);
    int mm = NODE(g, HB_OP_MATMUL, NOATTRS, "net/2", x, c);
    int s = NODE(g, HB_OP_ADD, NOATTRS, "", x, e);
    s = NODE(g, HB_OP_SUB, NOATTRS, "", s, x);
    s = NODE(g, HB_OP_MUL, NOATTRS, "", s, e);
    s = NODE(g, HB_OP_DIV, NOATTRS, NULL, s, x);
    s = NODE(g, HB_OP_MAXIMUM, NOATTRS, "", s, e);
    s = NODE(g, HB_OP_MINIMUM, NOATTRS, "", x, s);
    s = NODE(g, HB_OP_POW, NOATTRS, "", s, e);
    s = NODE(g, HB_OP_POW_SCALAR, ((hb_attrs){.scalar = 2.0f}), "", s);
    const hb_op scalar_ops[] = {HB_OP_ADD_SCALAR, HB_OP_SUB_SCALAR, HB_OP_MUL_SCALAR,
                                HB_OP_DIV_SCALAR, HB_OP_RSUB_SCALAR, HB_OP_RDIV_SCALAR};
    const float scalars[] = {0.1f, -0.0f, FLT_TRUE_MIN, FLT_MAX, INFINITY, NAN, -INFINITY,
                             1.0f / 3.0f, 1e-38f, -123456789.0f, 2.5f, 16777217.0f};
    for (size_t i = 0; i < ARRAY_LEN(scalars); i++)
        s = NODE(g, scalar_ops[i % ARRAY_LEN(scalar_ops)],
                 ((hb_attrs){.scalar = scalars[i]}), "scalars", s);
    const hb_op unary[] = {HB_OP_RELU, HB_OP_SIGMOID, HB_OP_TANH, HB_OP_EXP, HB_OP_LOG,
                           HB_OP_ABS, HB_OP_NEG, HB_OP_SQRT, HB_OP_ERF, HB_OP_COPY,
                           HB_OP_SIN,  HB_OP_COS, HB_OP_FLOOR, HB_OP_CEIL, HB_OP_ROUND, HB_OP_SIGN};
    for (size_t i = 0; i < ARRAY_LEN(unary); i++)
        s = NODE(g, unary[i], NOATTRS, "unary", s);
    NODE(g, HB_OP_SUM, ((hb_attrs){.all = true}), "red", s);
    NODE(g, HB_OP_SUM, ((hb_attrs){.axis = -1, .keepdim = true}), "red", s);
    NODE(g, HB_OP_MEAN, ((hb_attrs){.axis = 1}), "red", s);
    NODE(g, HB_OP_MEAN, ((hb_attrs){.all = true, .keepdim = true}), "red", s);
    NODE(g, HB_OP_MAX, ((hb_attrs){.axis = 0, .keepdim = true}), "red", s);
    NODE(g, HB_OP_MAX, ((hb_attrs){.all = true}), "red", s);
    NODE(g, HB_OP_SOFTMAX, ((hb_attrs){.axis = -1}), "sm", lin);
    NODE(g, HB_OP_LOG_SOFTMAX, ((hb_attrs){.axis = 2}), "sm", lin);
    int rs = NODE(g, HB_OP_RESHAPE, ((hb_attrs){.shape = SHAPE(-1, 6)}), "shape", mm);
    NODE(g, HB_OP_RESHAPE, ((hb_attrs){.shape = SCALAR}), "shape",
         NODE(g, HB_OP_SUM, ((hb_attrs){.all = true}), "shape", rs));
    int t = NODE(g, HB_OP_TRANSPOSE, ((hb_attrs){.axis = -1, .axis2 = 0}), "shape", mm);
    NODE(g, HB_OP_CONCAT, ((hb_attrs){.axis = 0}), "cat", t);
    int cat = NODE(g, HB_OP_CONCAT, ((hb_attrs){.axis = -2}), "cat", x, s, x);
    NODE(g, HB_OP_SLICE, ((hb_attrs){.axis = 1, .start = 2, .length = 5}), "cat", cat);
    NODE(g, HB_OP_PAD, ((hb_attrs){.before = SHAPE(1, 0, -2), .after = SHAPE(0, 3, 1),
                                   .scalar = -INFINITY}), "pad", cat);
    /* Fused ops, their programs using every kind of instruction and odd scalars. */
    hb_program p = PROG(2, INS(MUL, 0, 1), INS_S(ADD_SCALAR, 2, NAN),
                        INS_S(RDIV_SCALAR, 3, -INFINITY), INS_S(MUL_SCALAR, 4, -0.0f),
                        INS_S(SUB_SCALAR, 5, 0.1f), INS(TANH, 6, 0), INS(SUB, 7, 0),
                        INS(COPY, 8, 0), INS_S(RSUB_SCALAR, 9, FLT_TRUE_MIN));
    int f = NODE(g, HB_OP_FUSED, ((hb_attrs){.prog = &p}), "fused", x, e);
    hb_program one = PROG(1, INS(NEG, 0, 0));
    NODE(g, HB_OP_FUSED, ((hb_attrs){.prog = &one}), "fused", f);
    p = PROG(2, INS(DIV, 1, 0), INS(SQRT, 2, 0), INS(LOG, 3, 0));
    NODE(g, HB_OP_FUSED_REDUCE,
         ((hb_attrs){.prog = &p, .reduce = HB_OP_SUM, .all = true, .keepdim = true}), "fred",
         x, e);
    NODE(g, HB_OP_FUSED_REDUCE,
         ((hb_attrs){.prog = &p, .reduce = HB_OP_MEAN, .axis = -1, .keepdim = true}), "fred",
         x, e);
    NODE(g, HB_OP_FUSED_REDUCE, ((hb_attrs){.prog = &one, .reduce = HB_OP_MAX, .axis = 2}),
         "fred", f);
    p = PROG(2, INS(ADD, 0, 1), INS(RELU, 2, 0));
    NODE(g, HB_OP_GEMM, ((hb_attrs){.prog = &p, .trans_b = true}), "gemm", r, w, b);
    int row = leaf(g, HB_VAL_PARAM, "row", SHAPE(1, 6));
    int sc = NODE(g, HB_OP_SUM, ((hb_attrs){.all = true}), "gemm", f);
    p = PROG(3, INS(MUL, 0, 2), INS(ADD, 3, 1), INS(SIGMOID, 4, 4), INS_S(DIV_SCALAR, 5, 3.0f),
             INS(ABS, 6, 0), INS(EXP, 7, 0));
    NODE(g, HB_OP_GEMM, ((hb_attrs){.prog = &p}), "gemm", x, c, row, sc);
    int ct = NODE(g, HB_OP_TRANSPOSE, ((hb_attrs){.axis = 0, .axis2 = 1}), "gemm", c);
    p = PROG(1, INS(COPY, 0, 0));
    NODE(g, HB_OP_GEMM, ((hb_attrs){.prog = &p}), "", mm, ct);
    NODE(g, HB_OP_GEMM, ((hb_attrs){.prog = &p, .trans_a = true, .trans_b = true}), "gemm", c, w);
    /* Comparisons and logic, a guard on their outcome, and the same inside a program. */
    const hb_op compare[] = {HB_OP_GT, HB_OP_LT, HB_OP_GE, HB_OP_LE, HB_OP_EQ, HB_OP_NE};
    int tot = NODE(g, HB_OP_SUM, ((hb_attrs){.all = true}), "cmp", s), cond = -1;
    for (size_t i = 0; i < ARRAY_LEN(compare); i++) {
        int v = NODE(g, compare[i], ((hb_attrs){.scalar = (float)i - 2.5f}), "cmp", tot);
        cond = cond < 0 ? v : NODE(g, i % 2 ? HB_OP_AND : HB_OP_OR, NOATTRS, "cmp", cond, v);
    }
    cond = NODE(g, HB_OP_NOT, NOATTRS, "cmp", cond);
    NODE(g, HB_OP_GUARD, ((hb_attrs){.scalar = 1.0f}), "loop", cond);
    NODE(g, HB_OP_GUARD, ((hb_attrs){.scalar = 0.0f}), "loop", cond);
    p = PROG(2, INS_S(GT, 0, 0.5f), INS_S(LE, 1, -1.0f), INS(AND, 2, 3), INS(NOT, 4, 0),
             INS(OR, 5, 2));
    NODE(g, HB_OP_FUSED, ((hb_attrs){.prog = &p}), "fused", x, e);
    /* A training step's in-place write of a parameter. */
    NODE(g, HB_OP_ASSIGN, NOATTRS, "update lin.bias", b,
         NODE(g, HB_OP_MUL_SCALAR, ((hb_attrs){.scalar = 0.5f}), "update lin.bias", b));
    /* Convolutions and pools over an image, their gradients, and a fused convolution. */
    int img = leaf(g, HB_VAL_PARAM, "img", SHAPE(1, 4, 7, 6));
    int k = leaf(g, HB_VAL_PARAM, "conv.weight", SHAPE(6, 2, 3, 2));
    int kb = leaf(g, HB_VAL_PARAM, "conv.bias", SHAPE(6));
    hb_window cw = {.stride = {2, 1}, .pad = {1, 0}, .dilation = {1, 2}, .groups = 2};
    int y = NODE(g, HB_OP_CONV2D, ((hb_attrs){.win = cw}), "conv", img, k, kb);
    NODE(g, HB_OP_CONV2D, ((hb_attrs){.win = cw}), "conv", img, k);
    NODE(g, HB_OP_CONV_TRANSPOSE2D, ((hb_attrs){.win = cw, .shape = SHAPE(1, 4, 7, 6)}), "conv", y,
         k);
    NODE(g, HB_OP_CONV2D_GRAD_W, ((hb_attrs){.win = cw, .shape = SHAPE(6, 2, 3, 2)}), "conv", y,
         img);
    hb_window pw = {.kernel = {3, 2}, .stride = {2, 2}, .pad = {1, 1}};
    int mp = NODE(g, HB_OP_MAX_POOL2D, ((hb_attrs){.win = pw}), "pool", img);
    NODE(g, HB_OP_MAX_POOL2D_GRAD, ((hb_attrs){.win = pw}), "pool", mp, img);
    int ap = NODE(g, HB_OP_AVG_POOL2D, ((hb_attrs){.win = pw}), "pool", img);
    NODE(g, HB_OP_AVG_POOL2D_GRAD, ((hb_attrs){.win = pw, .shape = SHAPE(1, 4, 7, 6)}), "pool",
         ap);
    hb_window ceil = {.kernel = {3, 2}, .stride = {2, 2}, .pad = {1, 1}, .ceil_mode = 1};
    NODE(g, HB_OP_MAX_POOL2D, ((hb_attrs){.win = ceil}), "pool", img);
    hb_window excl = {.kernel = {3, 2}, .stride = {2, 2}, .pad = {1, 1}, .exclude_pad = 1};
    NODE(g, HB_OP_AVG_POOL2D, ((hb_attrs){.win = excl}), "pool", img);
    excl.ceil_mode = 1;
    ap = NODE(g, HB_OP_AVG_POOL2D, ((hb_attrs){.win = excl}), "pool", img);
    NODE(g, HB_OP_AVG_POOL2D_GRAD, ((hb_attrs){.win = excl, .shape = SHAPE(1, 4, 7, 6)}),
         "pool", ap);
    int chan = leaf(g, HB_VAL_CONST, "bn.scale", SHAPE(6, 1, 1));
    p = PROG(3, INS(MUL, 0, 1), INS(ADD, 3, 2), INS(RELU, 4, 0));
    NODE(g, HB_OP_FUSED_CONV, ((hb_attrs){.win = cw, .prog = &p}), "conv", img, k, chan, y);
    /* A loop: state x times the row e, while sum > 1, the body with a nested island. */
    hb_graph *body = hb_graph_new("body");
    ck_assert_ptr_nonnull(body);
    int bx = body->input = leaf(body, HB_VAL_INPUT, NULL, SHAPE(2, 3, 4));
    int brow = leaf(body, HB_VAL_INPUT, NULL, SHAPE(4));
    int next = NODE(body, HB_OP_MUL, NOATTRS, "loop", bx, brow);
    island(body, next, SHAPE(1), "inside \"a\" loop", "loop/island");
    body->cond = NODE(body, HB_OP_GT, ((hb_attrs){.scalar = 1.0f}), "loop",
                      NODE(body, HB_OP_SUM, ((hb_attrs){.all = true}), "loop", next));
    body->output = next;
    NODE(g, HB_OP_LOOP, ((hb_attrs){.body = body}), "loop", x, e);
    hb_node_set_body(&g->nodes[g->nnodes - 1], body);
    /* A scan: 3 rounds up a [6, 4] sequence from row 4, state h [4] (h + row)·w, each round's
     * row [h, h]: the step value is h, stacked along axis 0. */
    hb_graph *rounds = hb_graph_new("body");
    ck_assert_ptr_nonnull(rounds);
    int sh = rounds->input = leaf(rounds, HB_VAL_INPUT, NULL, SHAPE(4));
    int srow = leaf(rounds, HB_VAL_INPUT, NULL, SHAPE(1, 4));
    int sw = leaf(rounds, HB_VAL_INPUT, NULL, SHAPE(4));
    int flat_row = NODE(rounds, HB_OP_RESHAPE, ((hb_attrs){.shape = SHAPE(4)}), "scan", srow);
    int nh = NODE(rounds, HB_OP_MUL, NOATTRS, "scan", NODE(rounds, HB_OP_ADD, NOATTRS, "scan", sh,
                                                           flat_row), sw);
    rounds->output = NODE(rounds, HB_OP_CONCAT, ((hb_attrs){.axis = 0}), "scan", nh, nh);
    int h0 = leaf(g, HB_VAL_CONST, "h0", SHAPE(4)), seq = leaf(g, HB_VAL_CONST, "rows", SHAPE(6, 4));
    hb_scan_attrs up = {.steps = 3, .carries = 1, .seqs = 1, .start = 4, .length = 1, .axis = 0,
                        .stack = 0, .reverse = true};
    NODE(g, HB_OP_SCAN, ((hb_attrs){.body = rounds, .shape = SHAPE(4), .scan = up}), "scan", h0,
         seq, e);
    hb_node_set_body(&g->nodes[g->nnodes - 1], rounds);
    /* Other dtypes: int64 ids into an embedding, a bool mask from every comparison and logic
     * op, selection, argmax/argmin, the gathers' gradients and casts. */
    int ids = leaf(g, HB_VAL_EXTERN, "ids", SHAPE(2, 3));
    g->values[ids].dtype = HB_I64;
    int emb = leaf(g, HB_VAL_PARAM, "emb.weight", SHAPE(10, 4));
    int looked = NODE(g, HB_OP_GATHER, ((hb_attrs){.axis = 0}), "emb", emb, ids);
    NODE(g, HB_OP_GATHER_GRAD, ((hb_attrs){.axis = 0, .shape = SHAPE(10, 4)}), "emb", looked, ids);
    const hb_op cmp2[] = {HB_OP_EQUAL, HB_OP_LESS, HB_OP_GREATER, HB_OP_LESS_EQUAL,
                          HB_OP_GREATER_EQUAL};
    const hb_op logic2[] = {HB_OP_AND, HB_OP_OR, HB_OP_XOR, HB_OP_AND};
    int mask = NODE(g, cmp2[0], NOATTRS, "mask", x, looked);
    for (size_t i = 1; i < ARRAY_LEN(cmp2); i++)
        mask = NODE(g, logic2[i - 1], NOATTRS, "mask", mask,
                    NODE(g, cmp2[i], NOATTRS, "mask", x, looked));
    mask = NODE(g, HB_OP_NOT, NOATTRS, "mask", mask);
    int sel = NODE(g, HB_OP_WHERE, NOATTRS, "mask", mask, x, looked);
    int idx = NODE(g, HB_OP_ARGMAX, ((hb_attrs){.axis = -1, .keepdim = true}), "arg", sel);
    NODE(g, HB_OP_ARGMIN, ((hb_attrs){.all = true}), "arg", sel);
    NODE(g, HB_OP_ARGMIN, ((hb_attrs){.axis = 1, .last = true}), "arg", sel);
    int picked = NODE(g, HB_OP_GATHER_ELEMENTS, ((hb_attrs){.axis = -1}), "arg", sel, idx);
    NODE(g, HB_OP_GATHER_ELEMENTS_GRAD, ((hb_attrs){.axis = 2, .shape = SHAPE(2, 3, 4)}), "arg",
         picked, idx);
    int nd_idx = NODE(g, HB_OP_RESHAPE, ((hb_attrs){.shape = SHAPE(2, 3, 1)}), "nd", ids);
    int nd = NODE(g, HB_OP_GATHER_ND, NOATTRS, "nd", emb, nd_idx);
    NODE(g, HB_OP_SCATTER_ND, NOATTRS, "nd", emb, nd_idx, nd);
    NODE(g, HB_OP_SCATTER_ND, ((hb_attrs){.accumulate = true}), "nd", emb, nd_idx, nd);
    int i32 = NODE(g, HB_OP_CAST, ((hb_attrs){.dtype = HB_I32}), "cast", idx);
    NODE(g, HB_OP_MOD, NOATTRS, "cast", NODE(g, HB_OP_ADD, NOATTRS, "cast", i32, i32), i32);
    NODE(g, HB_OP_MOD, ((hb_attrs){.fmod = true}), "mod", x, looked);
    NODE(g, HB_OP_CAST, ((hb_attrs){.dtype = HB_F16}), "cast", x);
    NODE(g, HB_OP_RESHAPE, ((hb_attrs){.shape = SHAPE(-1)}), "cast", mask);
    island(g, cat, SHAPE(7), NULL, "odd/island");
    g->output = island(g, cat, SHAPE(2, 2), "read \"it\"", "");
    return g;
}

/* Names, paths and reasons with every kind of byte the text form must carry. */
static const char odd[] = "a\"b\\c\nd\te\x01" "f\xff" "g #h {i} %j @k";

static hb_graph *odd_names_graph(void)
{
    hb_graph *g = hb_graph_new(odd);
    ck_assert_ptr_nonnull(g);
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, SHAPE(3));
    int p = leaf(g, HB_VAL_PARAM, odd, SHAPE(3));
    int q = leaf(g, HB_VAL_CONST, "", SHAPE(3));
    int e = leaf(g, HB_VAL_EXTERN, NULL, SHAPE(1));
    int s = NODE(g, HB_OP_ADD, NOATTRS, odd, x, p);
    s = NODE(g, HB_OP_MUL, NOATTRS, "with space/0", s, q);
    s = NODE(g, HB_OP_SUB, NOATTRS, "\"", s, e);
    g->output = island(g, s, SHAPE(3), odd, "x\xff/y");
    return g;
}

/* A graph without input whose output is a leaf. */
static hb_graph *leaf_output_graph(void)
{
    hb_graph *g = hb_graph_new("");
    ck_assert_ptr_nonnull(g);
    g->output = leaf(g, HB_VAL_CONST, "c", SCALAR);
    return g;
}

typedef hb_graph *(*graph_maker)(void);
static const graph_maker makers[] = {golden_graph, all_ops_graph, odd_names_graph,
                                     leaf_output_graph, fused_graph};

/* ---- helpers ----------------------------------------------------------------------------- */

static char *print_to_memory(hb_status (*print)(FILE *, const hb_graph *), const hb_graph *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(print(f, g), HB_OK);
    ck_assert_int_eq(fclose(f), 0);
    return buf; /* free() */
}

static hb_graph *parse_ok(const char *text)
{
    char err[512] = "untouched";
    hb_graph *g = hb_graph_parse(text, err, sizeof err);
    ck_assert_msg(g != NULL, "parse failed: %s\n--- text ---\n%s", err, text);
    ck_assert_str_eq(err, "");
    return g;
}

/* ---- printing ---------------------------------------------------------------------------- */

START_TEST(print_golden)
{
    hb_graph *g = golden_graph();
    char err[256];
    ck_assert_msg(hb_graph_verify(g, err, sizeof err) == HB_OK, "%s", err);
    char *text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, golden_text);
    char *via_file = print_to_memory(hb_graph_print, g);
    ck_assert_str_eq(via_file, golden_text);
    free(via_file);
    hb_free(text);
    hb_graph_free(g);
}
END_TEST

START_TEST(golden_text_parses)
{
    hb_graph *g = parse_ok(golden_text);
    ck_assert_str_eq(g->name, "mlp");
    ck_assert_int_eq(g->nvalues, 15);
    ck_assert_int_eq(g->nnodes, 10);
    ck_assert_int_eq(g->input, 0);
    ck_assert_int_eq(g->output, 14);
    ck_assert_int_eq(g->values[1].kind, HB_VAL_PARAM);
    ck_assert_str_eq(g->values[1].name, "0.weight");
    ck_assert_ptr_null(g->values[1].data);
    ck_assert_int_eq(g->values[3].kind, HB_VAL_CONST);
    ck_assert_int_eq(g->values[4].kind, HB_VAL_EXTERN);
    const hb_node *n = &g->nodes[0];
    ck_assert_int_eq(n->op, HB_OP_LINEAR);
    ck_assert_int_eq(n->ninputs, 3);
    ck_assert_str_eq(n->path, "mlp/0");
    ck_assert(g->nodes[1].attrs.all);
    ck_assert(!g->nodes[2].attrs.all && g->nodes[2].attrs.keepdim);
    ck_assert_int_eq(g->nodes[2].attrs.axis, 1);
    ck_assert(g->nodes[4].attrs.scalar == 1.0f);
    ck_assert_int_eq(g->nodes[5].attrs.shape.ndim, 3);
    ck_assert_int_eq(g->nodes[5].attrs.shape.dim[2], 16);
    ck_assert_int_eq(g->nodes[6].attrs.axis2, 1);
    const hb_node *isl = &g->nodes[9];
    ck_assert_int_eq(isl->op, HB_OP_ISLAND);
    ck_assert_str_eq(isl->reason, "hb_item read a value of sum at chimera/2");
    ck_assert_int_eq(isl->attrs.shape.ndim, 0);
    ck_assert_ptr_null(isl->attrs.callee);
    char *again = hb_graph_to_string(g);
    ck_assert_str_eq(again, golden_text);
    hb_free(again);
    hb_graph_free(g);
}
END_TEST

START_TEST(print_fused_golden)
{
    hb_graph *g = fused_graph();
    char err[256];
    ck_assert_msg(hb_graph_verify(g, err, sizeof err) == HB_OK, "%s", err);
    char *text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, fused_golden_text);
    hb_free(text);
    hb_graph_free(g);
}
END_TEST

static void assert_ins(const hb_prog_ins *in, hb_op op, int a, int b)
{
    ck_assert_str_eq(hb_op_table[in->op].name, hb_op_table[op].name);
    ck_assert_int_eq(in->a, a);
    if (hb_op_table[op].min_inputs == 2)
        ck_assert_int_eq(in->b, b);
}

START_TEST(fused_golden_parses)
{
    hb_graph *g = parse_ok(fused_golden_text);
    ck_assert_int_eq(g->nnodes, 7);
    for (int i = 0; i < g->nnodes; i++) {
        ck_assert_ptr_nonnull(g->nodes[i].prog);
        ck_assert_ptr_eq(g->nodes[i].attrs.prog, g->nodes[i].prog); /* the node owns it */
    }
    const hb_program *p = g->nodes[0].prog;
    ck_assert_int_eq(g->nodes[0].op, HB_OP_FUSED);
    ck_assert_int_eq(p->ninputs, 2);
    ck_assert_int_eq(p->nins, 3);
    assert_ins(&p->ins[0], HB_OP_MUL, 0, 1);
    assert_ins(&p->ins[1], HB_OP_ADD_SCALAR, 2, 0);
    ck_assert(p->ins[1].scalar == 1.0f);
    assert_ins(&p->ins[2], HB_OP_TANH, 3, 0);
    const hb_node *n = &g->nodes[1];
    ck_assert_int_eq(n->op, HB_OP_GEMM);
    ck_assert(n->attrs.trans_b);
    ck_assert_int_eq(n->prog->ninputs, 2); /* r0 the product, r1 the bias */
    assert_ins(&n->prog->ins[0], HB_OP_ADD, 0, 1);
    assert_ins(&n->prog->ins[1], HB_OP_RELU, 2, 0);
    n = &g->nodes[2];
    ck_assert(!n->attrs.trans_b);
    ck_assert_int_eq(n->prog->ninputs, 1);
    ck_assert(n->prog->ins[0].scalar == 0.5f);
    n = &g->nodes[3];
    ck_assert_int_eq(n->op, HB_OP_FUSED_REDUCE);
    ck_assert_int_eq(n->attrs.reduce, HB_OP_SUM);
    ck_assert(n->attrs.all);
    n = &g->nodes[4];
    ck_assert_int_eq(n->attrs.reduce, HB_OP_MAX);
    ck_assert(!n->attrs.all && !n->attrs.keepdim);
    ck_assert_int_eq(n->attrs.axis, 1);
    ck_assert_int_eq(n->prog->ninputs, 2);
    n = &g->nodes[5];
    ck_assert_int_eq(n->attrs.reduce, HB_OP_MEAN);
    ck_assert(!n->attrs.all && n->attrs.keepdim);
    ck_assert_int_eq(n->attrs.axis, -1); /* kept as written */
    ck_assert_int_eq(n->prog->nins, 4);
    ck_assert(isinf(n->prog->ins[0].scalar) && n->prog->ins[0].scalar < 0);
    ck_assert(isnan(n->prog->ins[2].scalar));
    assert_ins(&n->prog->ins[3], HB_OP_COPY, 3, 0);
    char *again = hb_graph_to_string(g);
    ck_assert_str_eq(again, fused_golden_text);
    hb_free(again);
    hb_graph_free(g);
}
END_TEST

/* Every fused node's program comes back equal, scalars bit for bit (nan as some nan). */
START_TEST(programs_exact)
{
    hb_graph *g = makers[_i]();
    char *text = hb_graph_to_string(g);
    hb_graph *back = parse_ok(text);
    ck_assert_int_eq(back->nnodes, g->nnodes);
    for (int i = 0; i < g->nnodes; i++) {
        const hb_program *a = g->nodes[i].prog, *b = back->nodes[i].prog;
        ck_assert_int_eq(back->nodes[i].op, g->nodes[i].op);
        if (!(hb_op_table[g->nodes[i].op].flags & HB_FUSED)) {
            ck_assert_ptr_null(b);
            continue;
        }
        ck_assert_ptr_nonnull(b);
        ck_assert_ptr_ne(a, b);
        ck_assert_msg(hb_program_equal(a, b), "node %d's program changed", i);
        for (int k = 0; k < a->nins; k++) {
            float x = a->ins[k].scalar, y = b->ins[k].scalar;
            if (hb_op_table[a->ins[k].op].attrs != HB_ATTRS_SCALAR)
                continue;
            if (isnan(x))
                ck_assert(isnan(y));
            else
                ck_assert_msg(memcmp(&x, &y, sizeof x) == 0, "scalar %.9g came back as %.9g",
                              (double)x, (double)y);
        }
        ck_assert_int_eq(back->nodes[i].attrs.trans_b, g->nodes[i].attrs.trans_b);
        ck_assert_int_eq(back->nodes[i].attrs.trans_a, g->nodes[i].attrs.trans_a);
        if (g->nodes[i].op == HB_OP_FUSED_REDUCE) {
            ck_assert_int_eq(back->nodes[i].attrs.reduce, g->nodes[i].attrs.reduce);
            ck_assert_int_eq(back->nodes[i].attrs.all, g->nodes[i].attrs.all);
        }
    }
    hb_free(text);
    hb_graph_free(back);
    hb_graph_free(g);
}
END_TEST

START_TEST(all_ops_covered)
{
    hb_graph *g = all_ops_graph();
    bool seen[HB_OP_COUNT] = {0};
    for (int i = 0; i < g->nnodes; i++)
        seen[g->nodes[i].op] = true;
    for (int op = 0; op < HB_OP_COUNT; op++)
        ck_assert_msg(seen[op], "op %s is not in the all-ops graph", hb_op_table[op].name);
    char err[256];
    ck_assert_msg(hb_graph_verify(g, err, sizeof err) == HB_OK, "%s", err);
    hb_graph_free(g);
}
END_TEST

/* Changes field fd of a (false for fields this test cannot change without another node). */
static bool change_field(const hb_attr_field *fd, hb_attrs *a, bool second)
{
    switch (fd->type) {
    case HB_FIELD_SCALAR: { /* another value whatever it was (+1 leaves 1e30 as it is) */
        float *x = HB_FIELD_AT(float, a, fd->at);
        *x = *x == 1.0f ? 2.0f : 1.0f;
        return true;
    }
    case HB_FIELD_INT:
        *HB_FIELD_AT(int, a, fd->at) += 1;
        return true;
    case HB_FIELD_PAIR:
        *HB_FIELD_AT(int, a, second ? fd->at2 : fd->at) += 1;
        return true;
    case HB_FIELD_COUNT:
        *HB_FIELD_AT(int64_t, a, fd->at) += 1;
        return true;
    case HB_FIELD_FLAG:
        if (fd->size == sizeof(bool))
            *HB_FIELD_AT(bool, a, fd->at) ^= true;
        else
            *HB_FIELD_AT(int, a, fd->at) ^= 1;
        return true;
    case HB_FIELD_DIMS: {
        hb_shape *s = HB_FIELD_AT(hb_shape, a, fd->at);
        if (s->ndim == 0)
            s->dim[s->ndim++] = 1;
        else
            s->dim[0] += 1;
        return true;
    }
    case HB_FIELD_REDUCTION:
        a->reduce = a->reduce == HB_OP_SUM ? HB_OP_MAX : HB_OP_SUM;
        return true;
    case HB_FIELD_DTYPE:
        a->dtype = a->dtype == HB_I64 ? HB_I32 : HB_I64;
        return true;
    case HB_FIELD_EXTENT:
        a->all = !a->all;
        return true;
    case HB_FIELD_KEEPDIM:
        if (a->all)
            return false;
        a->keepdim = !a->keepdim;
        return true;
    case HB_FIELD_PROGRAM: /* programs_exact and the goldens check programs */
    case HB_FIELD_EXPECT:  /* never equal: checked below */
    case HB_FIELD_BODY:
    case HB_FIELD_REASON:
    case HB_FIELD_END:
        return false;
    }
    return false;
}

/* Every field of attrs.def's rows is one the printer writes and hb_attrs_equal compares (the
 * round trip shows the parser reads what the printer writes): changing any field of any node
 * of the all-ops graph changes its text and makes it unequal to the node it was. */
START_TEST(attr_fields_printed_and_compared)
{
    hb_graph *g = all_ops_graph();
    char *text = hb_graph_to_string(g);
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        hb_node *n = &g->nodes[i];
        for (const hb_attr_field *fd = hb_attr_kinds[hb_op_table[n->op].attrs].fields;
             fd->type != HB_FIELD_END; fd++) {
            if (fd->type == HB_FIELD_EXPECT || fd->type == HB_FIELD_BODY ||
                fd->type == HB_FIELD_REASON) {
                ck_assert_msg(!hb_attrs_equal(n->op, &n->attrs, &n->attrs),
                              "%s: a node with %s equals itself", hb_op_table[n->op].name,
                              fd->key);
                continue;
            }
            for (int second = 0; second < (fd->type == HB_FIELD_PAIR ? 2 : 1); second++) {
                hb_attrs was = n->attrs;
                if (!change_field(fd, &n->attrs, second))
                    continue;
                char *now = hb_graph_to_string(g);
                ck_assert_msg(strcmp(now, text) != 0, "%s: changing %s does not show",
                              hb_op_table[n->op].name, fd->key);
                ck_assert_msg(!hb_attrs_equal(n->op, &was, &n->attrs),
                              "%s: changing %s leaves the node equal", hb_op_table[n->op].name,
                              fd->key);
                n->attrs = was;
                hb_free(now);
                changed++;
            }
        }
    }
    ck_assert_int_gt(changed, 30);
    hb_free(text);
    hb_graph_free(g);
}
END_TEST

/* print -> parse -> print is the identity, for each graph maker. */
START_TEST(round_trip)
{
    hb_graph *g = makers[_i]();
    char err[256];
    ck_assert_msg(hb_graph_verify(g, err, sizeof err) == HB_OK, "%s", err);
    char *text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(text);
    hb_graph *back = parse_ok(text);
    char *again = hb_graph_to_string(back);
    ck_assert_str_eq(again, text);
    ck_assert_int_eq(back->nnodes, g->nnodes);
    ck_assert_int_eq(back->nvalues, g->nvalues);
    ck_assert_str_eq(back->name, g->name);
    for (int i = 0; i < g->nnodes; i++) { /* what the text carries, not just what it says */
        const hb_node *a = &g->nodes[i], *b = &back->nodes[i];
        hb_attr_kind k = a->op < HB_OP_COUNT ? hb_op_table[a->op].attrs : HB_ATTRS_NONE;
        ck_assert_int_eq(a->op, b->op);
        /* a scan's body makes it unequal to anything: its other fields compared one by one */
        const hb_scan_attrs *sa = &a->attrs.scan, *sb = &b->attrs.scan;
        bool same_scan = k == HB_ATTRS_SCAN && sa->steps == sb->steps &&
                         sa->carries == sb->carries && sa->seqs == sb->seqs &&
                         sa->start == sb->start && sa->length == sb->length &&
                         sa->axis == sb->axis && sa->stack == sb->stack &&
                         sa->reverse == sb->reverse &&
                         hb_shape_equal(&a->attrs.shape, &b->attrs.shape);
        ck_assert_msg(k == HB_ATTRS_REASON || k == HB_ATTRS_EXPECT || k == HB_ATTRS_BODY ||
                          same_scan || hb_attrs_equal(a->op, &a->attrs, &b->attrs),
                      "node %d (%s): attributes changed", i, hb_op_table[a->op].name);
    }
    hb_free(again);
    hb_free(text);
    hb_graph_free(back);
    hb_graph_free(g);
}
END_TEST

/* Scalars come back bit for bit (nan as some nan). */
START_TEST(scalars_exact)
{
    hb_graph *g = all_ops_graph();
    char *text = hb_graph_to_string(g);
    hb_graph *back = parse_ok(text);
    int checked = 0;
    for (int i = 0, j = 0; i < g->nnodes; i++) {
        if (!strstr(hb_op_table[g->nodes[i].op].name, "_scalar"))
            continue;
        while (!strstr(hb_op_table[back->nodes[j].op].name, "_scalar"))
            j++;
        float a = g->nodes[i].attrs.scalar, b = back->nodes[j++].attrs.scalar;
        if (isnan(a))
            ck_assert(isnan(b));
        else
            ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "scalar %.9g came back as %.9g",
                          (double)a, (double)b);
        checked++;
    }
    ck_assert_int_eq(checked, 14); /* the scalar ops, and the update's mul_scalar */
    ck_assert_ptr_nonnull(strstr(text, "{scalar=inf}"));
    ck_assert_ptr_nonnull(strstr(text, "{scalar=-inf}"));
    ck_assert_ptr_nonnull(strstr(text, "{scalar=nan}"));
    ck_assert_ptr_nonnull(strstr(text, "{scalar=-0}"));
    ck_assert_ptr_nonnull(strstr(text, "{scalar=0.100000001}"));
    hb_free(text);
    hb_graph_free(back);
    hb_graph_free(g);
}
END_TEST

START_TEST(odd_names_round_trip)
{
    hb_graph *g = odd_names_graph();
    char *text = hb_graph_to_string(g);
    /* Only printable ASCII and newlines between lines reach the text. */
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        ck_assert_msg(*c == '\n' || (*c >= 0x20 && *c < 0x7f), "raw byte 0x%02x in text", *c);
    ck_assert_ptr_nonnull(strstr(text, "\"a\\\"b\\\\c\\nd\\te\\x01f\\xffg #h {i} %j @k\""));
    hb_graph *back = parse_ok(text);
    ck_assert_str_eq(back->name, odd);
    ck_assert_str_eq(back->values[1].name, odd);
    ck_assert_str_eq(back->values[2].name, "");
    ck_assert_str_eq(back->values[3].name, "");
    ck_assert_str_eq(back->nodes[0].path, odd);
    ck_assert_str_eq(back->nodes[1].path, "with space/0");
    ck_assert_str_eq(back->nodes[2].path, "\"");
    ck_assert_str_eq(back->nodes[3].reason, odd);
    ck_assert_str_eq(back->nodes[3].path, "x\xff/y");
    char *again = hb_graph_to_string(back);
    ck_assert_str_eq(again, text);
    hb_free(again);
    hb_free(text);
    hb_graph_free(back);
    hb_graph_free(g);
}
END_TEST

START_TEST(bare_and_quoted_names)
{
    hb_graph *g = leaf_output_graph();
    char *text = hb_graph_to_string(g);
    ck_assert_str_eq(text, "graph \"\" {\n  %0 = const \"c\" : f32[]\n  return %0\n}\n");
    hb_free(text);
    hb_graph_free(g);

    g = hb_graph_new("my graph");
    int x = g->input = leaf(g, HB_VAL_INPUT, "ignored", SHAPE(1));
    g->output = NODE(g, HB_OP_NEG, NOATTRS, "a b", x);
    text = hb_graph_to_string(g);
    ck_assert_str_eq(text, "graph \"my graph\" {\n  %0 = input : f32[1]\n"
                           "  %1 = neg(%0) : f32[1]  @\"a b\"\n  return %1\n}\n");
    hb_free(text);
    hb_graph_free(g);
}
END_TEST

/* Spaces, tabs, CRLF, comments and blank lines are all tolerated; the print is canonical. */
START_TEST(parse_is_whitespace_tolerant)
{
    const char *loose =
        "# a hand-written graph\n"
        "\n"
        "graph\tmlp{   # the name\r\n"
        "%0=input:f32[ 2 ,20 ]\n"
        "\t%1 = param\"0.weight\" : f32 [256,20]   \n"
        "   \n"
        "  %2 = linear( %0 ,%1 ) :f32[2,256]@mlp/0 # trailing comment\n"
        "  %3 = sum(%2){ axis = -1 ,keepdim }:f32[2,1]\n"
        "  %4 = island(%3) {reason=\"# not a comment\"} : f32[7]\n"
        "  return %4\n"
        "}\n"
        "\n# done\n";
    hb_graph *g = parse_ok(loose);
    char *text = hb_graph_to_string(g);
    ck_assert_str_eq(text, "graph mlp {\n"
                           "  %0 = input : f32[2, 20]\n"
                           "  %1 = param \"0.weight\" : f32[256, 20]\n"
                           "  %2 = linear(%0, %1) : f32[2, 256]  @mlp/0\n"
                           "  %3 = sum(%2) {axis=-1, keepdim} : f32[2, 1]\n"
                           "  %4 = island(%3) {reason=\"# not a comment\"} : f32[7]\n"
                           "  return %4\n"
                           "}\n");
    ck_assert_int_eq(g->nodes[2].attrs.shape.ndim, 1);
    ck_assert_int_eq(g->nodes[2].attrs.shape.dim[0], 7);
    hb_free(text);
    hb_graph_free(g);
    /* The same inside programs. */
    g = parse_ok("graph g{\n%0=input:f32[3]\n%1=param\"w\":f32[2,3]\n"
                 "%2=fused_reduce(%0,%0){ reduce = max ,axis=-1 , keepdim,prog = [ mul( r0 ,r1 ) ,"
                 "\tadd_scalar(r2,+1.50)]}:f32[1]\n"
                 "%3=gemm(%0,%1,%2){trans_b,prog=[add(r0,r1)]}:f32[2]\n"
                 "%4=fused(%3){prog=[\r neg(r0)\t]}:f32[2]# c\nreturn %4\n}\n");
    text = hb_graph_to_string(g);
    ck_assert_str_eq(text, "graph g {\n"
                           "  %0 = input : f32[3]\n"
                           "  %1 = param \"w\" : f32[2, 3]\n"
                           "  %2 = fused_reduce(%0, %0) {reduce=max, axis=-1, keepdim, "
                           "prog=[mul(r0, r1), add_scalar(r2, 1.5)]} : f32[1]\n"
                           "  %3 = gemm(%0, %1, %2) {trans_b, prog=[add(r0, r1)]} : f32[2]\n"
                           "  %4 = fused(%3) {prog=[neg(r0)]} : f32[2]\n"
                           "  return %4\n"
                           "}\n");
    hb_free(text);
    hb_graph_free(g);
    /* No trailing newline at the end of the text. */
    g = parse_ok("graph g {\n %0 = input : f32[]\n return %0\n}");
    hb_graph_free(g);
}
END_TEST

/* ---- the verifier ------------------------------------------------------------------------ */

static void assert_verify_fails(hb_graph *g, const char *const *needles)
{
    char err[256] = "";
    ck_assert_int_ne(hb_graph_verify(g, err, sizeof err), HB_OK);
    for (; *needles; needles++)
        ck_assert_msg(strstr(err, *needles), "'%s' not in the message '%s'", *needles, err);
    /* What the verifier rejects, the parser rejects too. */
    char *text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(text);
    char perr[256] = "";
    hb_graph *back = hb_graph_parse(text, perr, sizeof perr);
    ck_assert_msg(back == NULL, "parsed a broken graph:\n%s", text);
    ck_assert_ptr_nonnull(strstr(perr, "line "));
    hb_free(text);
    hb_graph_free(g);
}

START_TEST(verify_use_before_def)
{
    hb_graph *g = hb_graph_new("g");
    hb_shape s = SHAPE(4);
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, s);
    int later = x + 2;
    hb_graph_add_node(g, HB_OP_RELU, &NOATTRS, 1, &later, &s, "blk/a");
    g->output = hb_graph_add_node(g, HB_OP_NEG, &NOATTRS, 1, &x, &s, "blk/b");
    assert_verify_fails(g, (const char *[]){"node 0", "relu", "blk/a", "not defined", NULL});
}
END_TEST

/* A node value no node defines (left behind by a careless rewrite). */
START_TEST(verify_dangling_value)
{
    hb_graph *g = hb_graph_new("g");
    hb_shape s = SHAPE(4);
    g->input = leaf(g, HB_VAL_INPUT, NULL, s);
    int ghost = hb_graph_add_value(g, HB_VAL_NODE, &s, NULL);
    g->output = hb_graph_add_node(g, HB_OP_EXP, &NOATTRS, 1, &ghost, &s, "blk/exp");
    char *text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(strstr(text, "exp(%?)"));
    hb_free(text);
    assert_verify_fails(g, (const char *[]){"node 0", "exp", "blk/exp", "not defined", NULL});
}
END_TEST

START_TEST(verify_wrong_shape)
{
    hb_graph *g = hb_graph_new("g");
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, SHAPE(2, 3));
    hb_shape bad = SHAPE(3, 2);
    int r = NODE(g, HB_OP_RELU, NOATTRS, "ok", x);
    g->output = hb_graph_add_node(g, HB_OP_SIGMOID, &NOATTRS, 1, &r, &bad, "blk/sig");
    assert_verify_fails(g, (const char *[]){"node 1", "sigmoid", "blk/sig", "[3, 2]", "[2, 3]",
                                            NULL});
}
END_TEST

START_TEST(verify_wrong_arity)
{
    hb_graph *g = hb_graph_new("g");
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, SHAPE(2, 2));
    hb_shape s = SHAPE(2, 2);
    g->output = hb_graph_add_node(g, HB_OP_MATMUL, &NOATTRS, 1, &x, &s, "blk/mm");
    assert_verify_fails(g, (const char *[]){"node 0", "matmul", "blk/mm", "got 1", NULL});
}
END_TEST

START_TEST(verify_no_output)
{
    hb_graph *g = hb_graph_new("g");
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, SHAPE(2));
    NODE(g, HB_OP_RELU, NOATTRS, "blk", x);
    assert_verify_fails(g, (const char *[]){"returns no value", NULL});
}
END_TEST

START_TEST(verify_bad_axis)
{
    hb_graph *g = hb_graph_new("g");
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, SHAPE(2));
    hb_attrs at = {.axis = 3};
    hb_shape s = SHAPE(2);
    g->output = hb_graph_add_node(g, HB_OP_SOFTMAX, &at, 1, &x, &s, "blk/sm");
    assert_verify_fails(g, (const char *[]){"node 0", "blk/sm", "softmax", "axis 3", NULL});
}
END_TEST

/* Fused nodes without a program, with a program of the wrong width or a bad op, or with a
 * reduce that is not sum, mean or max: they print, and neither the verifier nor the parser
 * takes them. */
START_TEST(verify_bad_programs)
{
    hb_graph *g = hb_graph_new("g");
    hb_shape s = SHAPE(2);
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, s);
    g->output = hb_graph_add_node(g, HB_OP_FUSED, &NOATTRS, 1, &x, &s, "blk/f");
    char *text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(strstr(text, "fused(%0) {prog=[]} : f32[2]"));
    hb_free(text);
    assert_verify_fails(g, (const char *[]){"node 0", "blk/f", "fused", "no program", NULL});

    g = hb_graph_new("g");
    x = g->input = leaf(g, HB_VAL_INPUT, NULL, s);
    hb_program p = PROG(2, INS(ADD, 0, 1));
    g->output = hb_graph_add_node(g, HB_OP_FUSED, &(hb_attrs){.prog = &p}, 1, &x, &s, "blk/f");
    assert_verify_fails(g, (const char *[]){"fused", "program reads 2 inputs", NULL});

    g = hb_graph_new("g");
    x = g->input = leaf(g, HB_VAL_INPUT, NULL, s);
    p = PROG(1, INS(MATMUL, 0, 0));
    g->output = hb_graph_add_node(g, HB_OP_FUSED, &(hb_attrs){.prog = &p}, 1, &x, &s, "blk/f");
    text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(strstr(text, "{prog=[matmul(r0, r0)]}"));
    hb_free(text);
    assert_verify_fails(g, (const char *[]){"not an elementwise op", NULL});

    g = hb_graph_new("g");
    x = g->input = leaf(g, HB_VAL_INPUT, NULL, s);
    p = PROG(1, INS(RELU, 0, 0));
    p.ins[0].op = (hb_op)(HB_OP_COUNT + 7);
    g->output = hb_graph_add_node(g, HB_OP_FUSED, &(hb_attrs){.prog = &p}, 1, &x, &s, "blk/f");
    text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(strstr(text, "{prog=[?(r0)]}"));
    hb_free(text);
    assert_verify_fails(g, (const char *[]){"not an elementwise op", NULL});

    g = hb_graph_new("g");
    x = g->input = leaf(g, HB_VAL_INPUT, NULL, s);
    p = PROG(1, INS(RELU, 0, 0));
    hb_shape none = SCALAR;
    g->output = hb_graph_add_node(g, HB_OP_FUSED_REDUCE, &(hb_attrs){.prog = &p, .all = true},
                                  1, &x, &none, "blk/r");
    text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(strstr(text, "{reduce=matmul, all, prog=[relu(r0)]}"));
    hb_free(text);
    assert_verify_fails(g, (const char *[]){"fused_reduce", "not sum, mean or max", NULL});

    g = hb_graph_new("g");
    x = g->input = leaf(g, HB_VAL_INPUT, NULL, s);
    g->output = hb_graph_add_node(g, HB_OP_FUSED_REDUCE,
                                  &(hb_attrs){.prog = &p, .reduce = (hb_op)-1, .all = true}, 1,
                                  &x, &none, "blk/r");
    text = hb_graph_to_string(g);
    ck_assert_ptr_nonnull(strstr(text, "{reduce=?, all, prog=[relu(r0)]}"));
    hb_free(text);
    assert_verify_fails(g, (const char *[]){"fused_reduce", "not sum, mean or max", NULL});

    g = hb_graph_new("g");
    x = g->input = leaf(g, HB_VAL_INPUT, NULL, SHAPE(2, 2));
    s = SHAPE(2, 2);
    p = PROG(1, INS(RELU, 0, 0));
    p.nins = 99; /* out of range: printed no further than the array */
    g->output = hb_graph_add_node(g, HB_OP_GEMM, &(hb_attrs){.prog = &p}, 2, (int[]){x, x}, &s,
                                  "blk/g");
    assert_verify_fails(g, (const char *[]){"gemm", "1 to 24 instructions", NULL});
}
END_TEST

/* ---- hostile text ------------------------------------------------------------------------ */

#define HEAD "graph t {\n  %0 = input : f32[2, 3]\n"
#define TAIL "  return %1\n}\n"

typedef struct bad_text {
    const char *text;
    const char *needle; /* must appear in the message */
} bad_text;

static const bad_text bad_texts[] = {
    {"graph t {\n  %0 = input : f32[]\n  %1 = guard(%0) {expect=maybe} : f32[]\n  return %1\n}\n",
     "line 3: expected true or false"},
    {"graph t {\n  %0 = input : f32[]\n  %1 = guard(%0) {scalar=1} : f32[]\n  return %1\n}\n",
     "line 3: expected 'expect'"},
    {"graph t {\n  %0 = input : f32[2]\n  %1 = guard(%0) {expect=true} : f32[2]\n  return %1\n}\n",
     "line 3"},
    {"", "line 1: expected 'graph', found end of input"},
    {"   \n\n# only a comment\n", "line 4: expected 'graph'"},
    {"grap t {\n", "line 1: expected 'graph', found 'grap'"},
    {"graph", "line 1: expected a graph name, found end of input"},
    {"graph {\n}\n", "line 1: expected a graph name, found '{'"},
    {"graph t\n{\n", "line 1: expected '{', found end of line"},
    {"graph t { x\n", "line 1: expected end of line, found 'x'"},
    {"graph \"t {\n", "line 1: expected '\"' to close the string, found end of line"},
    {"graph t {\n", "line 2: expected '}' to close the graph, found end of input"},
    {"graph t {\n  %0 = input : f32[2]\n", "line 3: expected '}' to close the graph"},
    {"graph t {\n}\n", "line 2: expected a line 'return %N' before '}'"},
    {"graph t {\n  %1 = input : f32[2]\n  return %1\n}\n",
     "line 2: expected %0 (values are numbered in order from 0), found %1"},
    {HEAD "  %0 = relu(%0) : f32[2, 3]\n" TAIL, "line 3: expected %1"},
    {HEAD "  %1 = relu(%2) : f32[2, 3]\n" TAIL,
     "line 3: expected a value defined on an earlier line, found %2"},
    {HEAD "  %1 = relu(%1) : f32[2, 3]\n" TAIL, "line 3: expected a value defined"},
    {HEAD "  %1 = frobnicate(%0) : f32[2, 3]\n" TAIL, "line 3: expected an op name"},
    {HEAD "  %1 = matmul(%0) : f32[2, 3]\n" TAIL,
     "line 3: expected 2 inputs to matmul, found 1"},
    {HEAD "  %1 = linear(%0, %0, %0, %0) : f32[2, 3]\n" TAIL,
     "line 3: expected 2 to 3 inputs to linear, found 4"},
    {HEAD "  %1 = relu() : f32[2, 3]\n" TAIL, "line 3: expected 1 input to relu, found 0"},
    {HEAD "  %1 = concat() {axis=0} : f32[2, 3]\n" TAIL,
     "line 3: expected at least 1 input to concat, found 0"},
    {HEAD "  %1 = relu(%0) : f32[2, 4]\n" TAIL,
     "line 3: expected type f32[2, 3] for relu, found f32[2, 4]"},
    {HEAD "  %1 = matmul(%0, %0) : f32[2, 3]\n" TAIL, "line 3: matmul: "},
    {"graph t {\n  %0 = input : f32[1, 1, 1, 1, 1, 1, 1, 1, 1]\n  return %0\n}\n",
     "line 2: expected at most 8 dims, found more"},
    {"graph t {\n  %0 = input : f32[99999999999999999999999]\n  return %0\n}\n",
     "line 2: expected a dim in [0, 72057594037927936], found '99999999999999999999999'"},
    {"graph t {\n  %0 = input : f32[-1]\n  return %0\n}\n",
     "line 2: expected a dim in [0, "},
    {"graph t {\n  %0 = input : f32[72057594037927936, 72057594037927936]\n  return %0\n}\n",
     "line 2: expected a type of at most 2^63-1 elements"},
    {"graph t {\n  %0 = input : f32[2, 3\n  return %0\n}\n",
     "line 2: expected ',' or ']', found end of line"},
    {"graph t {\n  %0 = input : f32[2,]\n  return %0\n}\n", "line 2: expected a dim"},
    {"graph t {\n  %0 = input : f32[2x]\n  return %0\n}\n", "line 2: expected a dim"},
    {"graph t {\n  %0 = input\n  return %0\n}\n", "line 2: expected ':', found end of line"},
    {"graph t {\n  %0 = input : f65[2]\n  return %0\n}\n",
     "line 2: expected a dtype (f32, i64, bool, ...), found 'f65'"},
    {"graph t {\n  %0 = input : i64[2]\n  %1 = relu(%0) : f32[2]\n  return %1\n}\n",
     "line 3: relu: input 0 is int64; it takes float32 (cast it)"},
    {"graph t {\n  %0 = input : i64[2]\n  %1 = neg(%0) : f32[2]\n  return %1\n}\n",
     "line 3: expected type i64[2] for neg, found f32[2]"},
    {"graph t {\n  %0 = input : f32[2]\n  %1 = where(%0, %0, %0) : f32[2]\n  return %1\n}\n",
     "line 3: where: input 0 is float32; it takes a bool condition"},
    {"graph t {\n  %0 = input \"x\" : f32[2]\n  return %0\n}\n", "line 2: expected ':'"},
    {"graph t {\n  %0 input : f32[2]\n  return %0\n}\n", "line 2: expected '=', found 'input'"},
    {"graph t {\n  % 0 = input : f32[2]\n  return %0\n}\n", "line 2: expected a value '%N'"},
    {"graph t {\n  %99999999999 = input : f32[2]\n  return %0\n}\n",
     "line 2: expected a value number in [0, 2147483647]"},
    {"graph t {\n  %0 = param \"abc : f32[2]\n  return %0\n}\n",
     "line 2: expected '\"' to close the string, found end of line"},
    {"graph t {\n  %0 = param \"abc", "line 2: expected '\"' to close the string, found end "
                                      "of input"},
    {"graph t {\n  %0 = param \"a\\qb\" : f32[2]\n  return %0\n}\n",
     "line 2: expected an escape"},
    {"graph t {\n  %0 = param \"a\\x4\" : f32[2]\n  return %0\n}\n",
     "line 2: expected an escape"},
    {"graph t {\n  %0 = param \"a\\x00b\" : f32[2]\n  return %0\n}\n",
     "line 2: expected a byte other than \\x00"},
    {"graph t {\n  %0 = param \"a\\", "line 2: expected an escape"},
    {"graph t {\n  %0 = param abc : f32[2]\n  return %0\n}\n",
     "line 2: expected a quoted string, found 'abc'"},
    {HEAD "  %1 = softmax(%0) : f32[2, 3]\n" TAIL, "line 3: expected '{', found ':'"},
    {HEAD "  %1 = softmax(%0) {axis=1 : f32[2, 3]\n" TAIL, "line 3: expected '}', found ':'"},
    {HEAD "  %1 = softmax(%0) {dim=1} : f32[2, 3]\n" TAIL,
     "line 3: expected 'axis', found 'dim'"},
    {HEAD "  %1 = relu(%0) {axis=1} : f32[2, 3]\n" TAIL,
     "line 3: expected ':' (relu takes no attributes), found '{'"},
    {HEAD "  %1 = softmax(%0) {axis=5} : f32[2, 3]\n" TAIL, "line 3: softmax: axis 5"},
    {HEAD "  %1 = softmax(%0) {axis=99999999999} : f32[2, 3]\n" TAIL,
     "line 3: expected an axis in [-2147483648, 2147483647]"},
    {HEAD "  %1 = add_scalar(%0) {scalar=abc} : f32[2, 3]\n" TAIL,
     "line 3: expected a number, found 'abc'"},
    {HEAD "  %1 = add_scalar(%0) {scalar=1e99} : f32[2, 3]\n" TAIL,
     "line 3: expected a number within f32 range"},
    {HEAD "  %1 = add_scalar(%0) {scalar=} : f32[2, 3]\n" TAIL, "line 3: expected a number"},
    {HEAD "  %1 = sum(%0) {axis=1, keep} : f32[2, 1]\n" TAIL,
     "line 3: expected 'keepdim', found 'keep'"},
    {HEAD "  %1 = sum(%0) {} : f32[]\n" TAIL, "line 3: expected 'all' or 'axis', found '}'"},
    {HEAD "  %1 = sum(%0) {all} : f32[2]\n" TAIL, "line 3: expected type f32[] for sum"},
    {HEAD "  %1 = reshape(%0) {shape=[7]} : f32[7]\n" TAIL, "line 3: reshape: cannot reshape"},
    {HEAD "  %1 = reshape(%0) {shape=[-1, -1]} : f32[6]\n" TAIL, "line 3: reshape: "},
    {HEAD "  %1 = reshape(%0) {shape=[-2]} : f32[6]\n" TAIL, "line 3: expected a dim in [-1, "},
    {HEAD "  %1 = transpose(%0) {axes=[0, 1, 2]} : f32[3, 2]\n" TAIL,
     "line 3: expected ']', found ','"},
    {HEAD "  %1 = island(%0) : f32[]\n" TAIL, "line 3: expected '{', found ':'"},
    {HEAD "  %1 = relu(%0 : f32[2, 3]\n" TAIL, "line 3: expected ',' or ')', found ':'"},
    {HEAD "  %1 = relu(%0) : f32[2, 3]  @\n" TAIL,
     "line 3: expected a block path, found end of line"},
    {HEAD "  %1 = relu(%0) : f32[2, 3]  @a b\n" TAIL, "line 3: expected end of line, found 'b'"},
    {HEAD "  %1 = relu(%0) : f32[2, 3]\n  %2 = param \"p\" : f32[1]\n  return %1\n}\n",
     "line 4: expected a node"},
    {HEAD "  return %9\n}\n", "line 3: expected a value defined on an earlier line, found %9"},
    {HEAD "  return 0\n}\n", "line 3: expected a value '%N', found '0'"},
    {HEAD "  return %0 %0\n}\n", "line 3: expected end of line, found '%0'"},
    {HEAD "  return %0\n  return %0\n}\n", "line 4: expected '}' after the return line"},
    {HEAD "  return %0\n  %1 = relu(%0) : f32[2, 3]\n}\n",
     "line 4: expected '}' after the return line"},
    {HEAD "  return %0\n}\ngraph u {\n", "line 5: expected end of input after the graph"},
    {HEAD "  return %0\n} x\n", "line 4: expected end of line, found 'x'"},
    {HEAD "  bogus\n" TAIL, "line 3: expected a value '%N = ...', 'return' or '}'"},
    {HEAD "  %1 = \x01\xff(%0) : f32[2, 3]\n" TAIL, "found '\\x01'"},
    /* fused ops and their programs */
    {HEAD "  %1 = fused(%0) : f32[2, 3]\n" TAIL, "line 3: expected '{', found ':'"},
    {HEAD "  %1 = fused(%0) {} : f32[2, 3]\n" TAIL, "line 3: expected 'prog', found '}'"},
    {HEAD "  %1 = fused(%0) {prog=relu(r0)} : f32[2, 3]\n" TAIL,
     "line 3: expected '[', found 'relu'"},
    {HEAD "  %1 = fused(%0) {prog=[]} : f32[2, 3]\n" TAIL,
     "line 3: expected an elementwise op in the program, found ']'"},
    {HEAD "  %1 = fused(%0) {prog=[frob(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected an elementwise op in the program, found 'frob'"},
    {HEAD "  %1 = fused(%0) {prog=[matmul(r0, r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected an elementwise op in the program, found 'matmul'"},
    {HEAD "  %1 = fused(%0) {prog=[sum(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected an elementwise op in the program, found 'sum'"},
    {HEAD "  %1 = fused(%0) {prog=[island(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected an elementwise op in the program, found 'island'"},
    {HEAD "  %1 = fused(%0) {prog=[fused(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected an elementwise op in the program, found 'fused'"},
    {HEAD "  %1 = fused(%0) {prog=[gemm(r0, r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected an elementwise op in the program, found 'gemm'"},
    {HEAD "  %1 = fused(%0) {prog=[(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected an elementwise op in the program, found '('"},
    {HEAD "  %1 = fused(%0) {prog=[relu]} : f32[2, 3]\n" TAIL,
     "line 3: expected '(', found ']'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r1)]} : f32[2, 3]\n" TAIL,
     "line 3: expected a register written before this instruction (r0 to r0), found 'r1'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0), add(r1, r2)]} : f32[2, 3]\n" TAIL,
     "line 3: expected a register written before this instruction (r0 to r1), found 'r2'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r99999999999999999999999)]} : f32[2, 3]\n" TAIL,
     "line 3: expected a register written before this instruction (r0 to r0), found "
     "'r99999999999999999999999'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r-1)]} : f32[2, 3]\n" TAIL,
     "line 3: expected a register 'rN', found 'r-1'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(x0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected a register 'rN', found 'x0'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0x)]} : f32[2, 3]\n" TAIL,
     "line 3: expected a register 'rN', found 'r0x'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r)]} : f32[2, 3]\n" TAIL,
     "line 3: expected a register 'rN', found 'r'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(%0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected a register 'rN', found '%0'"},
    {HEAD "  %1 = fused(%0) {prog=[relu()]} : f32[2, 3]\n" TAIL,
     "line 3: expected a register 'rN', found ')'"},
    {HEAD "  %1 = fused(%0) {prog=[add(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected ',', found ')'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0, r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected ')', found ','"},
    {HEAD "  %1 = fused(%0) {prog=[add(r0, r0, r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected ')', found ','"},
    {HEAD "  %1 = fused(%0) {prog=[add_scalar(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected ',', found ')'"},
    {HEAD "  %1 = fused(%0) {prog=[add_scalar(r0, r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected a number, found 'r0'"},
    {HEAD "  %1 = fused(%0) {prog=[add_scalar(r0, 1e99)]} : f32[2, 3]\n" TAIL,
     "line 3: expected a number within f32 range"},
    {HEAD "  %1 = fused(%0) {prog=[add_scalar(r0, 1, 2)]} : f32[2, 3]\n" TAIL,
     "line 3: expected ')', found ','"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0) tanh(r1)]} : f32[2, 3]\n" TAIL,
     "line 3: expected ',' or ']', found 'tanh'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0),]} : f32[2, 3]\n" TAIL,
     "line 3: expected an elementwise op in the program, found ']'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0)} : f32[2, 3]\n" TAIL,
     "line 3: expected ',' or ']', found '}'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0)\n" TAIL, "line 3: expected ',' or ']', found end "
                                                      "of line"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0)] : f32[2, 3]\n" TAIL,
     "line 3: expected '}', found ':'"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0)], axis=1} : f32[2, 3]\n" TAIL,
     "line 3: expected '}', found ','"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0)]} : f32[2, 4]\n" TAIL,
     "line 3: expected type f32[2, 3] for fused, found f32[2, 4]"},
    {HEAD "  %1 = fused(%0, %0) {prog=[relu(r0)]} : f32[2, 4]\n" TAIL,
     "line 3: expected type f32[2, 3] for fused"},
    {HEAD "  %1 = fused() {prog=[relu(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected at least 1 input to fused, found 0"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0)]} : f32[2, 3]", "line 3: expected '}' to close the "
                                                          "graph, found end of input"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r0)]", "line 3: expected '}', found end of input"},
    {HEAD "  %1 = fused(%0) {prog=[add_scalar(r0, ", "line 3: expected a number, found end of "
                                                   "input"},
    {HEAD "  %1 = fused(%0) {prog=[relu(r", "line 3: expected a register 'rN', found 'r'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=min, all, prog=[abs(r0)]} : f32[]\n" TAIL,
     "line 3: expected 'sum', 'mean' or 'max', found 'min'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=summ, all, prog=[abs(r0)]} : f32[]\n" TAIL,
     "line 3: expected 'sum', 'mean' or 'max', found 'summ'"},
    {HEAD "  %1 = fused_reduce(%0) {all, prog=[abs(r0)]} : f32[]\n" TAIL,
     "line 3: expected 'reduce', found 'all'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=sum all, prog=[abs(r0)]} : f32[]\n" TAIL,
     "line 3: expected ',', found 'all'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=sum, prog=[abs(r0)]} : f32[]\n" TAIL,
     "line 3: expected 'all' or 'axis', found 'prog'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=sum, all} : f32[]\n" TAIL,
     "line 3: expected ',', found '}'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=sum, all, keepdim, prog=[abs(r0)]} : f32[]\n" TAIL,
     "line 3: expected 'prog', found 'keepdim'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=sum, axis=1 prog=[abs(r0)]} : f32[2]\n" TAIL,
     "line 3: expected ',', found 'prog'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=sum, axis=1, keep, prog=[abs(r0)]} : f32[2]\n" TAIL,
     "line 3: expected 'keepdim' or 'prog', found 'keep'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=sum, axis=1, keepdim prog=[abs(r0)]} : f32[2]\n"
     TAIL, "line 3: expected ',', found 'prog'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=sum, axis=x, prog=[abs(r0)]} : f32[2]\n" TAIL,
     "line 3: expected an axis in [-2147483648, 2147483647], found 'x'"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=sum, axis=0, prog=[abs(r0)]} : f32[3]\n" TAIL,
     "line 3: fused_reduce: reduces axis 0 of [2, 3]: only all or the last axis"},
    {HEAD "  %1 = fused_reduce(%0) {reduce=max, axis=1, prog=[abs(r0)]} : f32[2, 1]\n" TAIL,
     "line 3: expected type f32[2] for fused_reduce, found f32[2, 1]"},
    {HEAD "  %1 = fused_reduce() {reduce=max, all, prog=[abs(r0)]} : f32[]\n" TAIL,
     "line 3: expected at least 1 input to fused_reduce, found 0"},
    {"graph t {\n  %0 = input : f32[0]\n  %1 = fused_reduce(%0) {reduce=max, all, "
     "prog=[abs(r0)]} : f32[]\n" TAIL, "line 3: fused_reduce: max over nothing"},
    {HEAD "  %1 = param \"w\" : f32[2, 3]\n  %2 = assign(%1, %0) : f32[0]\n"
          "  %3 = add(%1, %0) : f32[2, 3]\n  return %3\n}\n",
     "reads %1 after node 0 assigned it"},
    {HEAD "  %1 = gemm(%0) {prog=[copy(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected at least 2 inputs to gemm, found 1"},
    {HEAD "  %1 = gemm() {trans_b, prog=[copy(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected at least 2 inputs to gemm, found 0"},
    {HEAD "  %1 = gemm(%0, %0) {trans, prog=[copy(r0)]} : f32[2, 2]\n" TAIL,
     "line 3: expected 'trans_a', 'trans_b' or 'prog', found 'trans'"},
    {HEAD "  %1 = gemm(%0, %0) {trans_a, trans, prog=[copy(r0)]} : f32[2, 2]\n" TAIL,
     "line 3: expected 'trans_b' or 'prog', found 'trans'"},
    {HEAD "  %1 = gemm(%0, %0) {trans_b, trans_a, prog=[copy(r0)]} : f32[2, 2]\n" TAIL,
     "line 3: expected 'prog', found 'trans_a'"},
    {HEAD "  %1 = gemm(%0, %0) {trans_b prog=[copy(r0)]} : f32[2, 2]\n" TAIL,
     "line 3: expected ',', found 'prog'"},
    {HEAD "  %1 = gemm(%0, %0) {trans_b, trans_b, prog=[copy(r0)]} : f32[2, 2]\n" TAIL,
     "line 3: expected 'prog', found 'trans_b'"},
    {HEAD "  %1 = gemm(%0, %0) {prog=[copy(r1)]} : f32[2, 2]\n" TAIL,
     "line 3: expected a register written before this instruction (r0 to r0), found 'r1'"},
    {HEAD "  %1 = gemm(%0, %0) {prog=[copy(r0)]} : f32[2, 2]\n" TAIL,
     "line 3: gemm: input [2, 3] does not fit [2, 3]"},
    {HEAD "  %1 = gemm(%0, %0) {trans_b, prog=[copy(r0)]} : f32[2, 3]\n" TAIL,
     "line 3: expected type f32[2, 2] for gemm, found f32[2, 3]"},
    {HEAD "  %1 = gemm(%0, %0, %0) {trans_b, prog=[add(r0, r1)]} : f32[2, 2]\n" TAIL,
     "line 3: gemm: epilogue input [2, 3] is not a row of 2"},
};

START_TEST(parse_rejects)
{
    const bad_text *b = &bad_texts[_i];
    char err[512] = "";
    hb_graph *g = hb_graph_parse(b->text, err, sizeof err);
    ck_assert_msg(g == NULL, "case %d parsed:\n%s", _i, b->text);
    ck_assert_msg(strstr(err, "line ") == err, "case %d: message without a line: '%s'", _i, err);
    ck_assert_msg(strstr(err, b->needle), "case %d: '%s' not in '%s'", _i, b->needle, err);
    ck_assert_ptr_nonnull(strstr(hb_last_error(), err));
}
END_TEST

START_TEST(parse_too_many_inputs)
{
    char text[4096];
    int used = snprintf(text, sizeof text, "graph t {\n  %%0 = input : f32[1]\n  %%1 = concat(");
    for (int i = 0; i < 65; i++)
        used += snprintf(text + used, sizeof text - (size_t)used, i ? ", %%0" : "%%0");
    snprintf(text + used, sizeof text - (size_t)used, ") {axis=0} : f32[65]\n  return %%1\n}\n");
    char err[256];
    ck_assert_ptr_null(hb_graph_parse(text, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "line 3: expected at most 64 inputs"));
}
END_TEST

/* A fused node over nin copies of %0 whose program has nins instructions (relu of the last
 * register each). */
static char *fused_text(int nin, int nins)
{
    size_t size = 64 + 6 * (size_t)nin + 16 * (size_t)nins + 64;
    char *text = malloc(size);
    int used = snprintf(text, size, "graph t {\n  %%0 = input : f32[1]\n  %%1 = fused(");
    for (int i = 0; i < nin; i++)
        used += snprintf(text + used, size - (size_t)used, i ? ", %%0" : "%%0");
    used += snprintf(text + used, size - (size_t)used, ") {prog=[");
    for (int i = 0; i < nins; i++)
        used += snprintf(text + used, size - (size_t)used, "%srelu(r%d)", i ? ", " : "",
                         nin + i - 1);
    snprintf(text + used, size - (size_t)used, "]} : f32[1]\n  return %%1\n}\n");
    return text;
}

START_TEST(parse_program_limits)
{
    char err[256];
    /* HB_PROG_MAX_INS instructions, then one too many. */
    char *text = fused_text(1, HB_PROG_MAX_INS);
    hb_graph *g = parse_ok(text);
    ck_assert_int_eq(g->nodes[0].prog->nins, HB_PROG_MAX_INS);
    char *again = hb_graph_to_string(g);
    ck_assert_str_eq(again, text);
    hb_free(again);
    hb_graph_free(g);
    free(text);
    text = fused_text(1, HB_PROG_MAX_INS + 1);
    ck_assert_ptr_null(hb_graph_parse(text, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "line 3: expected at most 24 instructions in a program, "
                                      "found more"));
    free(text);
    /* HB_PROG_MAX_REGS registers in all, then one too many either way. */
    text = fused_text(HB_PROG_MAX_REGS - 1, 1);
    g = parse_ok(text);
    ck_assert_int_eq(g->nodes[0].prog->ninputs, HB_PROG_MAX_REGS - 1);
    hb_graph_free(g);
    free(text);
    text = fused_text(HB_PROG_MAX_REGS - 2, 3);
    ck_assert_ptr_null(hb_graph_parse(text, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "line 3: expected at most 40 registers in a program"));
    free(text);
    text = fused_text(HB_PROG_MAX_REGS, 1);
    ck_assert_ptr_null(hb_graph_parse(text, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "line 3: expected at most 40 registers in a program "
                                      "(40 inputs"));
    free(text);
    text = fused_text(64, 1);
    ck_assert_ptr_null(hb_graph_parse(text, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "line 3: expected at most 40 registers"));
    free(text);
    /* A gemm's program reads one register less than the node has inputs. */
    g = parse_ok("graph t {\n  %0 = input : f32[2, 3]\n  %1 = param \"w\" : f32[3, 4]\n"
                 "  %2 = param \"b\" : f32[4]\n"
                 "  %3 = gemm(%0, %1, %2, %2) {prog=[add(r0, r1), sub(r3, r2)]} : f32[2, 4]\n"
                 "  return %3\n}\n");
    ck_assert_int_eq(g->nodes[0].prog->ninputs, 3);
    ck_assert_int_eq(g->nodes[0].prog->nins, 2);
    hb_graph_free(g);
}
END_TEST

START_TEST(parse_null_and_small_buffers)
{
    char err[16];
    ck_assert_ptr_null(hb_graph_parse(NULL, err, sizeof err));
    ck_assert_str_eq(err, "line 1: expecte"); /* truncated, still terminated */
    ck_assert_ptr_null(hb_graph_parse("graph", NULL, 0));
    ck_assert_ptr_null(hb_graph_parse("graph", err, 0));
}
END_TEST

/* Every prefix and many one-byte mutations of a valid text: never a crash or a leak, and a
 * graph that parses is one that prints and verifies. */
START_TEST(parse_survives_mutations)
{
    hb_graph *g = all_ops_graph();
    char *text = hb_graph_to_string(g);
    hb_graph_free(g);
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    char err[256];
    int parsed = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        memcpy(buf, text, cut);
        buf[cut] = '\0';
        hb_graph *p = hb_graph_parse(buf, err, sizeof err);
        ck_assert_msg(p || strncmp(err, "line ", 5) == 0, "cut %zu: '%s'", cut, err);
        parsed += p != NULL;
        hb_graph_free(p);
    }
    ck_assert_int_ge(parsed, 1); /* at least the whole text */
    static const char bytes[] = "\0\n\"\\%{}[](),=:@#-9 x\x01\xffr1_";
    unsigned seed = 12345;
    for (int k = 0; k < 4000; k++) {
        memcpy(buf, text, len + 1);
        seed = seed * 1103515245u + 12345u;
        size_t at = (seed >> 8) % len;
        seed = seed * 1103515245u + 12345u;
        buf[at] = bytes[(seed >> 8) % (sizeof bytes - 1)];
        hb_graph *p = hb_graph_parse(buf, err, sizeof err);
        if (p) {
            char verr[256];
            ck_assert_int_eq(hb_graph_verify(p, verr, sizeof verr), HB_OK);
            char *again = hb_graph_to_string(p);
            hb_graph *twice = parse_ok(again);
            char *third = hb_graph_to_string(twice);
            ck_assert_str_eq(third, again);
            hb_free(third);
            hb_free(again);
            hb_graph_free(twice);
        } else {
            ck_assert_msg(strncmp(err, "line ", 5) == 0, "mutation %d: '%s'", k, err);
        }
        hb_graph_free(p);
    }
    free(buf);
    hb_free(text);
}
END_TEST

/* Allocation failures, one at a time: every parse and print fails cleanly. */
static long alloc_count, alloc_fail_at;

static bool counting_hook(size_t n)
{
    (void)n;
    return alloc_count++ != alloc_fail_at;
}

static const graph_maker alloc_makers[] = {odd_names_graph, fused_graph};

START_TEST(alloc_failures)
{
    hb_graph *g = alloc_makers[_i]();
    char *text = hb_graph_to_string(g);
    alloc_count = 0, alloc_fail_at = -1;
    hb_alloc_hook = counting_hook;
    hb_graph *p = hb_graph_parse(text, NULL, 0);
    long parse_allocs = alloc_count;
    hb_graph_free(p);
    ck_assert_int_gt(parse_allocs, 3);
    char err[256];
    for (alloc_fail_at = 0; alloc_fail_at < parse_allocs; alloc_fail_at++) {
        alloc_count = 0;
        p = hb_graph_parse(text, err, sizeof err);
        ck_assert_msg(p == NULL, "allocation %ld failed but the parse succeeded", alloc_fail_at);
        ck_assert_ptr_nonnull(strstr(err, "out of memory"));
    }
    for (alloc_fail_at = 0; alloc_fail_at < 2; alloc_fail_at++) {
        alloc_count = 0;
        ck_assert_ptr_null(hb_graph_to_string(g));
    }
    alloc_count = 0, alloc_fail_at = 0;
    FILE *null = fopen("/dev/null", "w");
    ck_assert_int_eq(hb_graph_print_dot(null, g), HB_ERR_NOMEM);
    fclose(null);
    hb_alloc_hook = NULL;
    hb_free(text);
    hb_graph_free(g);
}
END_TEST

/* ---- DOT --------------------------------------------------------------------------------- */

START_TEST(dot_output)
{
    hb_graph *g = makers[_i]();
    char *dot = print_to_memory(hb_graph_print_dot, g);
    ck_assert_ptr_nonnull(strstr(dot, "digraph"));
    ck_assert_ptr_nonnull(strstr(dot, "rankdir=TB"));
    ck_assert_ptr_nonnull(strstr(dot, "label=\"return\""));
    for (const unsigned char *c = (const unsigned char *)dot; *c; c++)
        ck_assert_msg(*c == '\n' || (*c >= 0x20 && *c < 0x7f), "raw byte 0x%02x in DOT", *c);
    bool has_island = false;
    for (int i = 0; i < g->nnodes; i++)
        has_island |= g->nodes[i].op == HB_OP_ISLAND;
    if (has_island)
        ck_assert_ptr_nonnull(strstr(dot, "style=filled"));
    if (access("/usr/bin/dot", X_OK) == 0) {
        char path[600], cmd[2000];
        snprintf(path, sizeof path, "%s", temp_path("graph.dot"));
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(dot, f);
        fclose(f);
        snprintf(cmd, sizeof cmd, "/usr/bin/dot -Tsvg '%s' -o '%s.svg' 2>'%s.err'", path, path,
                 path);
        int st = system(cmd);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "dot -Tsvg failed (status %d) on:\n%s", st, dot);
        snprintf(cmd, sizeof cmd, "%s.err", path);
        f = fopen(cmd, "r");
        ck_assert_ptr_nonnull(f);
        char warn[256] = "";
        ck_assert_msg(!fgets(warn, sizeof warn, f), "dot warned: %s", warn);
        fclose(f);
        unlink(cmd);
        snprintf(cmd, sizeof cmd, "%s.svg", path);
        unlink(cmd);
        unlink(path);
    }
    free(dot);
    hb_graph_free(g);
}
END_TEST

START_TEST(dot_escapes_labels)
{
    hb_graph *g = odd_names_graph();
    char *dot = print_to_memory(hb_graph_print_dot, g);
    ck_assert_ptr_nonnull(strstr(dot, "a\\\"b\\\\c\\nd\\\\x09e\\\\x01f\\\\xffg #h {i} %j @k"));
    ck_assert_ptr_nonnull(strstr(dot, "fillcolor="));
    free(dot);
    hb_graph_free(g);
}
END_TEST

/* Fused nodes show their programs, a few instructions to a line, with what fused_reduce
 * reduces and whether gemm transposes. */
START_TEST(dot_fused_labels)
{
    hb_graph *g = fused_graph();
    char *dot = print_to_memory(hb_graph_print_dot, g);
    ck_assert_ptr_nonnull(strstr(dot, "label=\"%5 fused\\nmul(r0, r1); add_scalar(r2, 1); "
                                      "tanh(r3)\\nf32[2, 4]\\n@net/act\"]"));
    ck_assert_ptr_nonnull(strstr(dot, "%6 gemm\\ntrans_b\\nadd(r0, r1); relu(r2)\\nf32[2, 3]"));
    ck_assert_ptr_nonnull(strstr(dot, "%7 gemm\\nmul_scalar(r0, 0.5)\\nf32[2, 2]"));
    ck_assert_ptr_nonnull(strstr(dot, "%8 fused_reduce\\nabs(r0)\\nthen sum over all\\nf32[]"));
    ck_assert_ptr_nonnull(strstr(dot, "then max over axis 1\\nf32[2]"));
    ck_assert_ptr_nonnull(strstr(dot, "rsub_scalar(r0, -inf); exp(r1); div_scalar(r2, nan); "
                                      "copy(r3)\\nthen mean over axis -1, keepdim\\nf32[2, 1]"));
    free(dot);
    hb_graph_free(g);

    g = all_ops_graph();
    dot = print_to_memory(hb_graph_print_dot, g);
    ck_assert_ptr_nonnull(strstr(dot, "mul(r0, r1); add_scalar(r2, nan); rdiv_scalar(r3, -inf); "
                                      "mul_scalar(r4, -0);\\nsub_scalar(r5, 0.100000001); "));
    free(dot);
    hb_graph_free(g);

    /* A broken fused node still draws. */
    g = hb_graph_new("g");
    hb_shape s = SHAPE(2);
    int x = g->input = leaf(g, HB_VAL_INPUT, NULL, s);
    g->output = hb_graph_add_node(g, HB_OP_FUSED, &NOATTRS, 1, &x, &s, "");
    dot = print_to_memory(hb_graph_print_dot, g);
    ck_assert_ptr_nonnull(strstr(dot, "fused\\n(no program)\\nf32[2]"));
    free(dot);
    hb_graph_free(g);
}
END_TEST

/* ---- main -------------------------------------------------------------------------------- */

int main(void)
{
    Suite *s = suite_create("graph");

    TCase *tc = tcase_create("print");
    tcase_add_test(tc, print_golden);
    tcase_add_test(tc, golden_text_parses);
    tcase_add_test(tc, print_fused_golden);
    tcase_add_test(tc, fused_golden_parses);
    tcase_add_loop_test(tc, programs_exact, 0, (int)ARRAY_LEN(makers));
    tcase_add_test(tc, all_ops_covered);
    tcase_add_test(tc, attr_fields_printed_and_compared);
    tcase_add_loop_test(tc, round_trip, 0, (int)ARRAY_LEN(makers));
    tcase_add_test(tc, scalars_exact);
    tcase_add_test(tc, odd_names_round_trip);
    tcase_add_test(tc, bare_and_quoted_names);
    tcase_add_test(tc, parse_is_whitespace_tolerant);
    suite_add_tcase(s, tc);

    tc = tcase_create("verify");
    tcase_add_test(tc, verify_use_before_def);
    tcase_add_test(tc, verify_dangling_value);
    tcase_add_test(tc, verify_wrong_shape);
    tcase_add_test(tc, verify_wrong_arity);
    tcase_add_test(tc, verify_no_output);
    tcase_add_test(tc, verify_bad_axis);
    tcase_add_test(tc, verify_bad_programs);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_loop_test(tc, parse_rejects, 0, (int)ARRAY_LEN(bad_texts));
    tcase_add_test(tc, parse_too_many_inputs);
    tcase_add_test(tc, parse_program_limits);
    tcase_add_test(tc, parse_null_and_small_buffers);
    tcase_add_test(tc, parse_survives_mutations);
    tcase_add_loop_test(tc, alloc_failures, 0, (int)ARRAY_LEN(alloc_makers));
    suite_add_tcase(s, tc);

    tc = tcase_create("dot");
    tcase_add_loop_test(tc, dot_output, 0, (int)ARRAY_LEN(makers));
    tcase_add_test(tc, dot_escapes_labels);
    tcase_add_test(tc, dot_fused_labels);
    suite_add_tcase(s, tc);

    return run_suite(s);
}

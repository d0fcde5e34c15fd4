/* Convolutions, pools and batch norm: every case against PyTorch 1.13's outputs and gradients
 * (tests/data/conv, made by gen_conv.py), eager and compiled; the direct convolution kernel
 * against the reference too; batch-norm blocks in both modes; resnet-mini against its fixture
 * eager, hybridized and frozen, and a few training steps eager against compiled. */
#include "harness.h"
#include "models.h"
#include "../src/common.h" /* hb_alloc_hook */
#include "../src/runtime/conv.h" /* hb_conv_band, hb_conv_winograd_tiles */

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const case_names[] = {
    "conv_3x3", "conv_groups_dilated", "conv_depthwise", "conv_depthwise_x2", "conv_1x1",
    "conv_1x1_stride2", "conv_stem_7x7", "conv_wide_pad", "conv_winograd", "conv_winograd_odd",
    "max_3x3_s2_p1", "max_2x2",
    "avg_3x3_s2_p1", "avg_3x2_s1x2_p1x0", "bn_train", "bn_eval", "bn_train_momentum",
    "max_ceil", "max_ceil_dropped", "avg_ceil", "avg_ceil_dropped", "avg_exclude_pad",
    "avg_ceil_exclude_pad", "convt_up2", "convt_3x3_s2_p1_op1", "convt_groups_dilated",
    "convt_outpad_dilation", "max_ceil_long_kernel", "avg_ceil_long_kernel",
};

static hb_state_dict ref;

static void load_ref(void)
{
    ck_assert_msg(hb_safetensors_load(data_path("conv/cases.safetensors"), &ref) == HB_OK, "%s",
                  hb_last_error());
}

static void free_ref(void) { hb_state_dict_free(&ref); }

/* A copy of the reference tensor CASE.key, or NULL if the case has none. */
static hb_tensor *get(const char *c, const char *key)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%s", c, key);
    for (int i = 0; i < ref.count; i++)
        if (strcmp(ref.items[i].name, name) == 0)
            return hb_tensor_copy(ref.items[i].value);
    return NULL;
}

static hb_tensor *need(const char *c, const char *key)
{
    hb_tensor *t = get(c, key);
    ck_assert_msg(t != NULL, "%s: no %s in the reference", c, key);
    return t;
}

static void check_close(const char *c, const char *what, const hb_tensor *have,
                        const hb_tensor *want, double tol)
{
    ck_assert_msg(have != NULL, "%s %s: %s", c, what, hb_last_error());
    double err = rel_error(have, want);
    ck_assert_msg(err <= tol, "%s %s: relative error %g", c, what, err);
}

/* ---- a case as an op over tensors ----------------------------------------------------------- */

typedef struct op_case {
    const char *name;
    float p[12];       /* the params tensor */
    hb_tensor *in[5];  /* x, then w and b (conv) or weight, bias, running mean and var (bn) */
    int nin;
} op_case;

static op_case load_case(const char *c)
{
    op_case k = {.name = c};
    hb_tensor *p = need(c, "params");
    memcpy(k.p, hb_tensor_cdata(p), sizeof(float) * (size_t)hb_tensor_numel(p));
    hb_tensor_release(p);
    k.in[k.nin++] = need(c, "x");
    if (k.p[0] == 0 || k.p[0] == 4) {
        k.in[k.nin++] = need(c, "w");
        if (k.p[8] != 0)
            k.in[k.nin++] = need(c, "b");
    } else if (k.p[0] == 3) {
        k.in[k.nin++] = need(c, "w");
        k.in[k.nin++] = need(c, "b");
        k.in[k.nin++] = need(c, "running_mean");
        k.in[k.nin++] = need(c, "running_var");
    }
    return k;
}

static void free_case(op_case *k)
{
    for (int i = 0; i < k->nin; i++)
        hb_tensor_release(k->in[i]);
}

/* The case's op on in (in[1..] may be other tensors than the case's own). */
static hb_tensor *apply_case(const op_case *k, hb_tensor *const *in)
{
    const float *p = k->p;
    if (p[0] == 0) {
        hb_conv2d_options o = {{(int)p[1], (int)p[2]}, {(int)p[3], (int)p[4]},
                               {(int)p[5], (int)p[6]}, (int)p[7]};
        return p[8] != 0 ? hb_conv2d(in[0], in[1], in[2], &o) : hb_conv2d_nobias(in[0], in[1], &o);
    }
    if (p[0] == 4) {
        hb_conv_transpose2d_options o = {{(int)p[1], (int)p[2]}, {(int)p[3], (int)p[4]},
                                         {(int)p[9], (int)p[10]}, {(int)p[5], (int)p[6]},
                                         (int)p[7]};
        return hb_conv_transpose2d(in[0], in[1], p[8] != 0 ? in[2] : NULL, &o);
    }
    if (p[0] == 1 || p[0] == 2) {
        hb_pool2d_options o = {{(int)p[1], (int)p[2]}, {(int)p[3], (int)p[4]},
                               {(int)p[5], (int)p[6]}, p[7] != 0, p[8] != 0};
        return p[0] == 1 ? hb_max_pool2d(in[0], &o) : hb_avg_pool2d(in[0], &o);
    }
    return hb_batch_norm(in[0], in[3], in[4], in[1], in[2], p[1] != 0, p[2], p[3]);
}

static const char *const grad_keys[] = {"dx", "dw", "db"};

/* Forward and every gradient eagerly against PyTorch's. */
START_TEST(eager_matches_pytorch)
{
    const char *c = case_names[_i];
    load_ref();
    op_case k = load_case(c);
    int ngrad = k.p[0] == 3 ? 3 : k.nin; /* not the running statistics */
    for (int i = 0; i < ngrad; i++)
        hb_tensor_set_requires_grad(k.in[i], true);
    hb_grad_enable(true);
    hb_tensor *y = apply_case(&k, k.in);
    hb_tensor *want = need(c, "y"), *g = need(c, "g");
    check_close(c, "output", y, want, 1e-5);
    ck_assert_msg(hb_backward(y, g) == HB_OK, "%s: %s", c, hb_last_error());
    hb_grad_enable(false);
    for (int i = 0; i < ngrad; i++) {
        hb_tensor *w = need(c, grad_keys[i]);
        check_close(c, grad_keys[i], hb_tensor_grad(k.in[i]), w, 1e-4);
        hb_tensor_release(w);
    }
    if (k.p[0] == 3 && k.p[1] != 0) { /* training moved the running statistics */
        hb_tensor *rm = need(c, "running_mean_after"), *rv = need(c, "running_var_after");
        check_close(c, "running_mean", k.in[3], rm, 1e-5);
        check_close(c, "running_var", k.in[4], rv, 1e-5);
        hb_tensor_release(rm), hb_tensor_release(rv);
    }
    hb_tensor_release(y), hb_tensor_release(want), hb_tensor_release(g);
    free_case(&k);
    free_ref();
}
END_TEST

/* ---- the same ops in plans ------------------------------------------------------------------ */

/* The case's op with in[1..] as the block's parameters p1... */
static hb_tensor *case_forward(hb_block *self, hb_tensor *x)
{
    const op_case *k = hb_block_state(self);
    hb_tensor *in[5] = {x};
    const char *names[5] = {"", "p1", "p2", "p3", "p4"};
    for (int i = 1; i < k->nin; i++)
        in[i] = hb_block_param(self, names[i]);
    return apply_case(k, in);
}

static hb_block *case_block(op_case *k)
{
    hb_block *b = hb_block_new("Case", case_forward);
    hb_block_set_state(b, k, NULL);
    const char *names[5] = {"", "p1", "p2", "p3", "p4"};
    for (int i = 1; i < k->nin; i++) {
        /* a batch norm's running statistics are constants, as BatchNorm2d keeps them */
        hb_status st = k->p[0] == 3 && i >= 3
                           ? hb_block_add_const(b, names[i], hb_tensor_copy(k->in[i]))
                           : hb_block_add_param(b, names[i], hb_tensor_ndim(k->in[i]),
                                                hb_tensor_shape(k->in[i]), HB_INIT_DEFAULT);
        ck_assert_int_eq(st, HB_OK);
        memcpy(hb_tensor_data(hb_block_param(b, names[i])), hb_tensor_cdata(k->in[i]),
               sizeof(float) * (size_t)hb_tensor_numel(k->in[i]));
    }
    return b;
}

/* Three calls of a hybridized block (trace, plan, plan) against three eager ones: outputs,
 * and for batch norm in training the running statistics each call moved. */
START_TEST(compiled_matches_eager)
{
    const char *c = case_names[_i];
    load_ref();
    op_case k = load_case(c);
    hb_block *eager = case_block(&k), *hybrid = case_block(&k);
    hb_hybridize(hybrid, true);
    for (int call = 0; call < 3; call++) {
        hb_tensor *ye = test_call_ok(eager, k.in[0]), *yh = test_call_ok(hybrid, k.in[0]);
        ck_assert_msg(test_same_result(yh, ye), "%s call %d: compiled differs by %g", c, call,
                      rel_error(yh, ye));
        hb_tensor_release(ye), hb_tensor_release(yh);
    }
    ck_assert_ptr_nonnull(hb_block_plan(hybrid, hb_tensor_ndim(k.in[0]),
                                        hb_tensor_shape(k.in[0])));
    for (int i = 3; k.p[0] == 3 && i < 5; i++) {
        const char *names[5] = {"", "", "", "p3", "p4"};
        hb_tensor *se = hb_block_param(eager, names[i]), *sh = hb_block_param(hybrid, names[i]);
        ck_assert_msg(rel_error(sh, se) <= 1e-6, "%s: running statistic %d differs by %g", c, i,
                      rel_error(sh, se));
    }
    hb_block_release(eager), hb_block_release(hybrid);
    free_case(&k);
    free_ref();
}
END_TEST

/* The direct convolution (which every convolution falls back to when the lowered input gets no
 * memory) against PyTorch: a fresh thread, whose lowering buffer is empty, refused it. */
static size_t refused_size;

static bool refuse_lowering(size_t n) { return n != refused_size; }

static void *run_conv(void *arg)
{
    const op_case *k = arg;
    hb_alloc_hook = refuse_lowering;
    hb_tensor *y = apply_case(k, k->in);
    hb_alloc_hook = NULL;
    return y;
}

START_TEST(direct_kernel_matches_pytorch)
{
    const char *c = case_names[_i];
    load_ref();
    op_case k = load_case(c);
    hb_tensor *want = need(c, "y");
    const int64_t *xs = hb_tensor_shape(k.in[0]), *ws = hb_tensor_shape(k.in[1]),
                  *ys = hb_tensor_shape(want);
    refused_size = sizeof(float) * (size_t)(ws[1] * ws[2] * ws[3] * ys[2] * ys[3]);
    (void)xs;
    pthread_t t;
    void *y = NULL;
    ck_assert_int_eq(pthread_create(&t, NULL, run_conv, &k), 0);
    pthread_join(t, &y);
    check_close(c, "direct output", y, want, 1e-5);
    hb_tensor_release(y), hb_tensor_release(want);
    free_case(&k);
    free_ref();
}
END_TEST

/* Each convolution by im2col (whole and banded), and the 3×3 stride-1 ones by Winograd
 * F(2×2, 3×3) and F(4×4, 3×3) too, however large: every path the kernel may choose gives
 * PyTorch's output. */
START_TEST(every_path_matches_pytorch)
{
    const char *c = case_names[_i];
    load_ref();
    op_case k = load_case(c);
    hb_tensor *want = need(c, "y");
    const int64_t band = hb_conv_band, tiles = hb_conv_winograd_tiles;
    const int wino_m = hb_conv_winograd_m;
    const int64_t bands[] = {0, -64}; /* one band; a row a band */
    const int forms[] = {0, 2, 4};    /* no Winograd; F(2×2) always; F(4×4) always */
    for (int b = 0; b < 2; b++)
        for (int w = 0; w < 3; w++) {
            hb_conv_band = bands[b], hb_conv_winograd_tiles = forms[w] ? 1 : 0;
            hb_conv_winograd_m = forms[w];
            hb_tensor *y = apply_case(&k, k.in);
            char what[64];
            snprintf(what, sizeof what, "output (band %lld, winograd %s)", (long long)bands[b],
                     forms[w] == 0 ? "never" : forms[w] == 2 ? "F(2x2)" : "F(4x4)");
            check_close(c, what, y, want, 1e-5);
            hb_tensor_release(y);
        }
    hb_conv_band = band, hb_conv_winograd_tiles = tiles, hb_conv_winograd_m = wino_m;
    hb_tensor_release(want);
    free_case(&k);
    free_ref();
}
END_TEST

/* On two and three of hybrid's threads, a convolution big enough to be split (by output rows,
 * by channels when depthwise, by Winograd's products and transforms) gives one thread's bits;
 * with bias and a batch norm's shift in the fused epilogue of a compiled block too. */
static hb_tensor *conv_block_forward(hb_block *self, hb_tensor *x)
{
    const hb_conv2d_options *o = hb_block_state(self);
    return hb_relu(hb_conv2d(x, hb_block_param(self, "w"), hb_block_param(self, "b"), o));
}

START_TEST(threads_give_one_threads_bits)
{
    static const struct {
        int64_t c, o, k, h;
        hb_conv2d_options opt;
        int winograd; /* 0 never, else always, with output tiles of this side */
    } cases[] = {
        {16, 32, 3, 40, {.stride = {1, 1}, .padding = {1, 1}, .groups = 1}, 0}, /* im2col */
        {16, 32, 3, 40, {.stride = {1, 1}, .padding = {1, 1}, .groups = 1}, 2}, /* Winograd */
        {16, 32, 3, 41, {.stride = {1, 1}, .padding = {1, 1}, .groups = 1}, 4},
        {64, 64, 3, 128, {.stride = {1, 1}, .padding = {1, 1}, .groups = 64}, 0}, /* depthwise */
        {8, 24, 7, 70, {.stride = {2, 2}, .padding = {3, 3}, .groups = 1}, 0},  /* a stem */
        /* 7×7 outputs: one lowering, the product turned (yᵀ = colᵀ·Wᵀ) and split by
         * output channels */
        {256, 128, 3, 7, {.stride = {1, 1}, .padding = {1, 1}, .groups = 1}, 0},
    };
    const int64_t tiles = hb_conv_winograd_tiles;
    const int wino_m = hb_conv_winograd_m;
    hb_rng rng;
    hb_rng_seed(&rng, 3);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hb_conv_winograd_tiles = cases[i].winograd ? 1 : 0;
        hb_conv_winograd_m = cases[i].winograd;
        hb_block *b = hb_block_new("Conv", conv_block_forward);
        hb_conv2d_options *o = malloc(sizeof *o);
        *o = cases[i].opt;
        hb_block_set_state(b, o, free);
        hb_init init = {HB_INIT_UNIFORM, -0.3f, 0.3f, NULL};
        ck_assert_int_eq(hb_block_add_param(b, "w", HB_SHAPE(cases[i].o, cases[i].c / o->groups,
                                                             cases[i].k, cases[i].k), init), HB_OK);
        ck_assert_int_eq(hb_block_add_param(b, "b", HB_SHAPE(cases[i].o), init), HB_OK);
        hb_tensor *x = hb_randn(HB_SHAPE(2, cases[i].c, cases[i].h, cases[i].h), &rng);
        /* eager, compiled, and frozen (weights packed once at lowering, and for Winograd
         * transformed first): each the same bits on any thread count, frozen eager's too;
         * explain names the method */
        hb_tensor *want[3];
        static const char *const how[3] = {"eager", "compiled", "frozen"};
        for (int compiled = 0; compiled < 3; compiled++) {
            hb_set_num_threads(1);
            hb_hybridize_with(b, compiled > 0, &(hb_hybrid_options){.freeze = compiled == 2});
            hb_tensor_release(hb_block_call(b, x)); /* traces */
            want[compiled] = hb_block_call(b, x);
            ck_assert_tensor_ok(want[compiled]);
            if (compiled == 2 && o->groups == 1) {
                char *text = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&text, &len);
                hb_block_explain(b, f, false);
                fclose(f);
                ck_assert_msg(strstr(text, "1 convolution's weights packed"), "case %zu:\n%s", i,
                              text);
                const char *method = cases[i].winograd == 4   ? "conv: 1 by Winograd F(4×4, 3×3)"
                                     : cases[i].winograd == 2 ? "conv: 1 by Winograd F(2×2, 3×3)"
                                     : cases[i].h == 7        ? "conv: 1 by im2col GEMM turned"
                                                              : "conv: 1 by im2col GEMM\n";
                ck_assert_msg(strstr(text, method), "case %zu: no \"%s\" in\n%s", i, method,
                              text);
                free(text);
            }
            if (compiled == 2)
                ck_assert_msg(memcmp(hb_tensor_cdata(want[2]), hb_tensor_cdata(want[0]),
                                     sizeof(float) * (size_t)hb_tensor_numel(want[0])) == 0,
                              "case %zu: frozen gives other bits than eager", i);
            for (int threads = 2; threads <= 3; threads++) {
                hb_set_num_threads(threads);
                hb_tensor *y = hb_block_call(b, x);
                ck_assert_tensor_ok(y);
                ck_assert_msg(memcmp(hb_tensor_cdata(y), hb_tensor_cdata(want[compiled]),
                                     sizeof(float) * (size_t)hb_tensor_numel(y)) == 0,
                              "case %zu, %s, %d threads: other bits than one thread's", i,
                              how[compiled], threads);
                hb_tensor_release(y);
            }
        }
        hb_tensor_release(want[0]), hb_tensor_release(want[1]), hb_tensor_release(want[2]);
        hb_tensor_release(x);
        hb_block_release(b);
    }
    hb_conv_winograd_tiles = tiles, hb_conv_winograd_m = wino_m;
    hb_set_num_threads(2);
}
END_TEST

/* A NaN in a window makes that window's maximum NaN (as PyTorch's), at the edges and inside. */
START_TEST(max_pool_propagates_nan)
{
    hb_tensor *x = hb_zeros(HB_SHAPE(1, 1, 6, 7));
    float *d = hb_tensor_data(x);
    d[0] = NAN;          /* the corner: only window (0, 0) with padding 1 */
    d[3 * 7 + 4] = NAN;  /* inside: windows (1, 2) and (2, 2) */
    hb_tensor *y = hb_max_pool2d(x, &(hb_pool2d_options){.kernel = {3, 3}, .stride = {2, 2},
                                                         .padding = {1, 1}});
    ck_assert_tensor_ok(y);
    const float *r = hb_tensor_cdata(y); /* [1, 1, 3, 4] */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            bool want = (i == 0 && j == 0) || ((i == 1 || i == 2) && j == 2);
            ck_assert_msg(isnan(r[i * 4 + j]) == want, "window (%d, %d): %g", i, j, r[i * 4 + j]);
        }
    hb_tensor_release(x), hb_tensor_release(y);
}
END_TEST

/* The reference file holds exactly the cases above. */
START_TEST(reference_has_every_case)
{
    load_ref();
    int params = 0;
    for (int i = 0; i < ref.count; i++)
        params += strstr(ref.items[i].name, ".params") != NULL;
    ck_assert_int_eq(params, (int)ARRAY_LEN(case_names));
    for (size_t i = 0; i < ARRAY_LEN(case_names); i++) {
        hb_tensor *p = get(case_names[i], "params");
        ck_assert_msg(p != NULL, "no case %s", case_names[i]);
        hb_tensor_release(p);
    }
    free_ref();
}
END_TEST

/* ---- shapes and options the ops refuse ------------------------------------------------------ */

START_TEST(bad_shapes_are_named)
{
    hb_tensor *x = hb_zeros(HB_SHAPE(1, 4, 5, 5)), *w = hb_zeros(HB_SHAPE(6, 3, 3, 3));
    hb_tensor *w2 = hb_zeros(HB_SHAPE(6, 2, 3, 3)), *b = hb_zeros(HB_SHAPE(5));
    hb_tensor *flat = hb_zeros(HB_SHAPE(4, 5)), *big = hb_zeros(HB_SHAPE(6, 4, 9, 9));
    hb_tensor *single = hb_zeros(HB_SHAPE(1, 4, 1, 1)), *empty = hb_zeros(HB_SHAPE(1, 1, 0, 3));
#define REFUSED(call, msg)                                                                     \
    do {                                                                                      \
        hb_tensor *y_ = (call);                                                               \
        ck_assert_msg(y_ == NULL, "%s succeeded", #call);                                     \
        ck_assert_msg(strstr(hb_last_error(), msg), "%s: message \"%s\" lacks \"%s\"", #call,   \
                      hb_last_error(), msg);                                                  \
        hb_clear_error();                                                                     \
    } while (0)
    REFUSED(hb_conv2d_nobias(x, w, NULL),
            "conv2d: input [1, 4, 5, 5] and weight [6, 3, 3, 3] do not fit 1 group");
    REFUSED(hb_conv2d_nobias(x, w2, &(hb_conv2d_options){.groups = 3}), "do not fit 3 groups");
    REFUSED(hb_conv2d(x, w2, b, &(hb_conv2d_options){.groups = 2}),
            "bias [5] does not fit weight [6, 2, 3, 3]");
    REFUSED(hb_conv2d_nobias(flat, w, NULL), "needs an input [N, C, H, W]");
    REFUSED(hb_conv2d_nobias(x, big, NULL), "is larger than input [1, 4, 5, 5]");
    REFUSED(hb_conv2d_nobias(x, w2, &(hb_conv2d_options){.stride = {-1, 1}, .groups = 2}),
            "stride [-1, 1]");
    REFUSED(hb_max_pool2d(x, &(hb_pool2d_options){.kernel = {2, 2}, .padding = {2, 0}}),
            "padding [2, 0] is more than half the kernel [2, 2]");
    REFUSED(hb_avg_pool2d(x, &(hb_pool2d_options){.kernel = {0, 2}}), "kernel [0, 2]");
    REFUSED(hb_max_pool2d(flat, &(hb_pool2d_options){.kernel = {2, 2}}),
            "max_pool2d: needs an input [N, C, H, W], got [4, 5]");
    REFUSED(hb_global_avg_pool2d(flat), "global_avg_pool2d: needs an input [N, C, H, W], got [4, 5]");
    REFUSED(hb_batch_norm(x, NULL, NULL, b, NULL, true, 0.1f, 1e-5f),
            "batch_norm: weight [5] does not fit input [1, 4, 5, 5]: needs [4]");
    REFUSED(hb_batch_norm(x, NULL, NULL, NULL, NULL, false, 0.1f, 1e-5f),
            "inference needs the running mean and variance");
    REFUSED(hb_batch_norm(single, NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f),
            "more than one value per channel");
    REFUSED(hb_max_pool2d(x, &(hb_pool2d_options){.kernel = {2, 2}, .exclude_padding = true}),
            "max_pool2d: exclude_padding is an average pool's");
    /* a window over padding alone would have no maximum */
    REFUSED(hb_max_pool2d(empty, &(hb_pool2d_options){.kernel = {2, 2}, .padding = {1, 1}}),
            "max_pool2d: input [1, 1, 0, 3] has an empty plane");
    hb_tensor_release(x), hb_tensor_release(w), hb_tensor_release(w2), hb_tensor_release(b);
    hb_tensor_release(flat), hb_tensor_release(big), hb_tensor_release(single);
    hb_tensor_release(empty);
}
END_TEST

/* ---- batch-norm blocks in both modes --------------------------------------------------------- */

/* Plans made in one mode are not used in the other, and an inference plan made before
 * training-mode calls moved the running statistics does not keep the old ones. */
START_TEST(mode_changes_drop_plans)
{
    hb_block *bn = hb_batch_norm2d_new(3, 1e-5f, 0.1f), *twin = hb_batch_norm2d_new(3, 1e-5f, 0.1f);
    hb_rng rng;
    hb_rng_seed(&rng, 3);
    hb_tensor *x = hb_randn(HB_SHAPE(2, 3, 4, 4), &rng);
    hb_hybridize(bn, true);
    ck_assert(hb_block_is_training(bn));
    for (int round = 0; round < 3; round++) {
        bool training = round != 1;
        hb_block_set_training(bn, training);
        hb_block_set_training(twin, training);
        for (int call = 0; call < 2; call++) {
            hb_tensor *yh = test_call_ok(bn, x), *ye = test_call_ok(twin, x);
            ck_assert_msg(rel_error(yh, ye) <= 1e-6, "round %d call %d: %g", round, call,
                          rel_error(yh, ye));
            hb_tensor_release(yh), hb_tensor_release(ye);
        }
        ck_assert_ptr_nonnull(hb_block_plan(bn, HB_SHAPE(2, 3, 4, 4)));
    }
    /* the statistics moved in rounds 0 and 2, eight calls, the same in both */
    ck_assert_double_le(rel_error(hb_block_param(bn, "running_mean"),
                                  hb_block_param(twin, "running_mean")), 1e-6);
    ck_assert_double_gt(fabs(hb_tensor_cdata(hb_block_param(bn, "running_mean"))[0]), 1e-4);
    /* inference after training sees the new statistics (the first inference plan had the
     * old ones folded in) */
    hb_block_set_training(bn, false);
    hb_block_set_training(twin, false);
    hb_tensor *yh = test_call_ok(bn, x), *yh2 = test_call_ok(bn, x), *ye = test_call_ok(twin, x);
    ck_assert_double_le(rel_error(yh2, ye), 1e-6);
    hb_tensor_release(yh), hb_tensor_release(yh2), hb_tensor_release(ye), hb_tensor_release(x);
    hb_block_release(bn), hb_block_release(twin);
}
END_TEST

/* ---- what the passes must leave alone ------------------------------------------------------- */

/* conv(x) · v + u, v and u constants of the block: state picks their shapes and values. */
typedef struct edge_case {
    const char *name;
    int64_t vshape[4], ushape[4];
    int vdims, udims;
    float special; /* put into v[0]: inf or NaN, which must not move into the weights */
    bool reuse;    /* the convolution's output is read again after the scale */
} edge_case;

static hb_tensor *edge_forward(hb_block *self, hb_tensor *x)
{
    const edge_case *e = hb_block_state(self);
    hb_tensor *y = hb_conv2d_nobias(x, hb_block_param(self, "w"),
                                    &(hb_conv2d_options){.padding = {1, 1}});
    hb_tensor *z = hb_add(hb_mul(y, hb_block_param(self, "v")), hb_block_param(self, "u"));
    return e->reuse ? hb_relu(hb_add(z, y)) : hb_relu(z);
}

/* Eager against compiled and frozen: a [C] vector broadcasts along W (NumPy), not per channel,
 * even where W = C; a non-finite scale stays out of the weights; a convolution read twice
 * keeps its result. */
START_TEST(passes_keep_semantics)
{
    static const edge_case cases[] = {
        {"[C] along W, W = C", {4}, {4}, 1, 1, 0, false},
        {"per channel, inf scale", {4, 1, 1}, {4, 1, 1}, 3, 3, INFINITY, false},
        {"per channel, NaN scale", {1, 4, 1, 1}, {4, 1, 1}, 4, 3, NAN, false},
        {"per channel, conv read twice", {4, 1, 1}, {4, 1, 1}, 3, 3, 0, true},
        {"scalar [1] and whole", {1}, {1, 4, 5, 4}, 1, 4, 0, false},
        {"scalar inf scale", {1}, {4, 1, 1}, 1, 3, INFINITY, false},
    };
    const edge_case *e = &cases[_i];
    hb_rng rng;
    hb_rng_seed(&rng, 21);
    hb_tensor *x = hb_randn(HB_SHAPE(1, 3, 5, 4), &rng);
    hb_tensor *ref = NULL;
    for (int mode = 0; mode < 3; mode++) {
        hb_rng_seed(&rng, 22);
        hb_block *b = hb_block_new("Edge", edge_forward);
        hb_block_set_state(b, (void *)e, NULL);
        hb_block_add_const(b, "w", hb_randn(HB_SHAPE(4, 3, 3, 3), &rng));
        hb_tensor *v = hb_randn(e->vdims, e->vshape, &rng), *u = hb_randn(e->udims, e->ushape, &rng);
        if (e->special != 0)
            hb_tensor_data(v)[0] = e->special;
        hb_block_add_const(b, "v", v);
        hb_block_add_const(b, "u", u);
        if (mode > 0)
            hb_hybridize_with(b, true, &(hb_hybrid_options){.freeze = mode == 2});
        for (int call = 0; call < 2; call++) {
            hb_tensor *y = test_call_ok(b, x);
            if (!ref) {
                ref = y;
                continue;
            }
            const float *a = hb_tensor_cdata(y), *r = hb_tensor_cdata(ref);
            for (int64_t i = 0; i < hb_tensor_numel(y); i++)
                ck_assert_msg(a[i] == r[i] || (isnan(a[i]) && isnan(r[i])) || fabsf(a[i] - r[i]) <= 1e-5f * (1 + fabsf(r[i])),
                              "%s, mode %d call %d, [%lld]: %g, eager %g", e->name, mode, call,
                              (long long)i, a[i], r[i]);
            hb_tensor_release(y);
        }
        hb_block_release(b);
    }
    hb_tensor_release(ref), hb_tensor_release(x);
}
END_TEST

/* A convolution with no output channels, frozen: nothing to fold, an empty result. */
static hb_tensor *empty_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *y = hb_conv2d_nobias(x, hb_block_param(self, "w"), NULL);
    return hb_relu(hb_mul(y, hb_block_param(self, "v")));
}

START_TEST(no_output_channels)
{
    hb_block *b = hb_block_new("Empty", empty_forward);
    hb_block_add_const(b, "w", hb_zeros(HB_SHAPE(0, 3, 3, 3)));
    hb_block_add_const(b, "v", hb_zeros(HB_SHAPE(0, 1, 1)));
    hb_hybridize_with(b, true, &(hb_hybrid_options){.freeze = true});
    hb_tensor *x = hb_ones(HB_SHAPE(1, 3, 5, 4));
    for (int call = 0; call < 2; call++) {
        hb_tensor *y = test_call_ok(b, x);
        const int64_t *s = hb_tensor_shape(y);
        ck_assert_msg(hb_tensor_ndim(y) == 4 && s[1] == 0 && s[2] == 3 && s[3] == 2,
                      "call %d: not [1, 0, 3, 2]", call);
        hb_tensor_release(y);
    }
    hb_tensor_release(x);
    hb_block_release(b);
}
END_TEST

/* ConvTranspose2d: PyTorch's parameter names, shapes and init bound, an upsampled output, a
 * plan, and refusals (the op's values and gradients against PyTorch are the cases above; its
 * rule in compiled steps, the autodiff suite's). */
START_TEST(conv_transpose_block)
{
    hb_conv_transpose2d_options o = {.stride = {2, 2}, .padding = {1, 1},
                                     .output_padding = {1, 1}};
    hb_block *c = hb_conv_transpose2d_new(4, 6, 3, 3, &o, true);
    ck_assert_ptr_nonnull(c);
    const int64_t *w = hb_tensor_shape(hb_block_param(c, "weight"));
    ck_assert_msg(w[0] == 4 && w[1] == 6 && w[2] == 3 && w[3] == 3, "weight not [4, 6, 3, 3]");
    ck_assert_int_eq(hb_tensor_dim(hb_block_param(c, "bias"), 0), 6);
    float bound = 1.0f / sqrtf(6 * 9); /* fan_in from the dims after the first */
    const float *wv = hb_tensor_cdata(hb_block_param(c, "weight"));
    for (int i = 0; i < 4 * 6 * 9; i++)
        ck_assert_float_le(fabsf(wv[i]), bound);
    hb_tensor *x = hb_ones(HB_SHAPE(2, 4, 5, 5));
    hb_tensor *y = test_call_ok(c, x);
    ck_assert_int_eq(hb_tensor_dim(y, 2), 10); /* (5 − 1)·2 − 2 + 3 + 1 */
    ck_assert_int_eq(hb_tensor_dim(y, 1), 6);
    hb_tensor_release(y);
    hb_hybridize(c, true);
    for (int call = 0; call < 2; call++) {
        hb_tensor *yh = test_call_ok(c, x);
        hb_tensor_release(yh);
    }
    ck_assert_ptr_nonnull(hb_block_plan(c, HB_SHAPE(2, 4, 5, 5)));
    /* refusals name what is wrong */
    ck_assert_ptr_null(hb_conv_transpose2d(x, hb_block_param(c, "weight"), NULL,
                                           &(hb_conv_transpose2d_options){.output_padding = {1, 0}}));
    ck_assert_msg(strstr(hb_last_error(), "0 <= output_padding < max(stride, dilation), got "
                         "stride [1, 1], dilation [1, 1]"), "%s", hb_last_error());
    hb_tensor *x3 = hb_ones(HB_SHAPE(2, 3, 5, 5));
    ck_assert_ptr_null(hb_conv_transpose2d(x3, hb_block_param(c, "weight"), NULL, NULL));
    ck_assert_msg(strstr(hb_last_error(), "conv_transpose2d: input [2, 3, 5, 5] and weight "
                         "[4, 6, 3, 3] do not fit 1 group"), "%s", hb_last_error());
    hb_clear_error();
    hb_tensor_release(x), hb_tensor_release(x3);
    hb_block_release(c);
}
END_TEST

/* Conv2d(0, …) takes its input channels from the first call, which runs like any other. */
START_TEST(deferred_in_channels)
{
    hb_block *c = hb_conv2d_new(0, 4, 3, 3, &(hb_conv2d_options){.padding = {1, 1}}, true);
    ck_assert_ptr_nonnull(c);
    hb_tensor *x = hb_ones(HB_SHAPE(2, 5, 6, 6));
    hb_tensor *y = test_call_ok(c, x);
    const int64_t *w = hb_tensor_shape(hb_block_param(c, "weight"));
    ck_assert_msg(w[0] == 4 && w[1] == 5 && w[2] == 3 && w[3] == 3,
                  "weight not [4, 5, 3, 3]");
    hb_tensor *y2 = test_call_ok(c, x);
    ck_assert_double_eq(rel_error(y, y2), 0);
    hb_tensor_release(x), hb_tensor_release(y), hb_tensor_release(y2);
    hb_block_release(c);
}
END_TEST

/* bn(x), then a branch on a value computed after it: the plan's guard is read after the batch
 * norm ran. A call the guard sends back to eager must not have moved the running statistics
 * already: they move once per call, as in an eager twin. */
static hb_tensor *branchy_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *y = hb_block_call(hb_block_child(self, "bn"), x);
    if (hb_test(hb_gt(hb_mean(hb_add(y, x)), 0.0f)))
        return hb_relu(y);
    return hb_neg(y);
}

static hb_block *branchy_new(void)
{
    hb_block *b = hb_block_new("Branchy", branchy_forward);
    hb_block_add_child(b, "bn", hb_batch_norm2d_new(3, 1e-5f, 0.1f));
    return b;
}

static void assert_same_stats(hb_block *a, hb_block *b, const char *when)
{
    static const char *const names[] = {"running_mean", "running_var"};
    for (int i = 0; i < 2; i++) {
        const hb_tensor *ra = hb_block_param(hb_block_child(a, "bn"), names[i]);
        const hb_tensor *rb = hb_block_param(hb_block_child(b, "bn"), names[i]);
        ck_assert_msg(rel_error(ra, rb) <= 1e-6, "%s: %s differs by %g", when, names[i],
                      rel_error(ra, rb));
    }
}

START_TEST(side_exit_writes_statistics_once)
{
    hb_block *h = branchy_new(), *e = branchy_new();
    hb_hybridize(h, true);
    hb_rng rng;
    hb_rng_seed(&rng, 5);
    hb_tensor *r = hb_randn(HB_SHAPE(2, 3, 4, 4), &rng);
    hb_tensor *pos = hb_add_scalar(r, 2.0f), *neg = hb_add_scalar(r, -2.0f);
    hb_tensor *const order[] = {pos, pos, neg, neg, pos, neg};
    for (int i = 0; i < (int)ARRAY_LEN(order); i++) {
        hb_tensor *yh = test_call_ok(h, order[i]), *ye = test_call_ok(e, order[i]);
        ck_assert_msg(rel_error(yh, ye) <= 1e-6, "call %d: %g", i, rel_error(yh, ye));
        hb_tensor_release(yh), hb_tensor_release(ye);
        char when[32];
        snprintf(when, sizeof when, "after call %d", i);
        assert_same_stats(h, e, when);
    }
    hb_tensor_release(r), hb_tensor_release(pos), hb_tensor_release(neg);
    hb_block_release(h), hb_block_release(e);
}
END_TEST

/* Setting a child's mode drops the parent's plans too: the parent was traced with the child's
 * old mode baked in. */
START_TEST(child_mode_drops_parent_plans)
{
    hb_block *h = branchy_new(), *e = branchy_new();
    hb_hybridize(h, true);
    hb_rng rng;
    hb_rng_seed(&rng, 6);
    hb_tensor *r = hb_randn(HB_SHAPE(2, 3, 4, 4), &rng), *x = hb_add_scalar(r, 1.0f);
    hb_tensor_release(r);
    for (int round = 0; round < 2; round++) {
        for (int call = 0; call < 3; call++) {
            hb_tensor *yh = test_call_ok(h, x), *ye = test_call_ok(e, x);
            ck_assert_msg(rel_error(yh, ye) <= 1e-6, "round %d call %d: %g", round, call,
                          rel_error(yh, ye));
            hb_tensor_release(yh), hb_tensor_release(ye);
            assert_same_stats(h, e, round ? "inference" : "training");
        }
        /* the child alone, not the parent */
        hb_block_set_training(hb_block_child(h, "bn"), false);
        hb_block_set_training(hb_block_child(e, "bn"), false);
    }
    hb_tensor_release(x);
    hb_block_release(h), hb_block_release(e);
}
END_TEST

/* Dumping (or trying to export) a block in training mode traces one call, which must leave
 * the running statistics where they were: neither changes anything. */
START_TEST(dump_leaves_statistics)
{
    hb_block *b = branchy_new();
    hb_tensor *x = hb_full(HB_SHAPE(2, 3, 4, 4), 3.0f);
    hb_tensor *rm = hb_block_param(hb_block_child(b, "bn"), "running_mean");
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(hb_block_dump(b, x, NULL, false, f), HB_OK);
    ck_assert_int_eq(hb_block_dump(b, x, "all", false, f), HB_OK);
    fclose(f);
    /* export refuses the running statistics' writes, after tracing them */
    ck_assert_int_ne(hb_onnx_export(b, x, temp_path("bn-training.onnx")), HB_OK);
    ck_assert_msg(strstr(hb_last_error(), "assign at Branchy/bn"), "%s", hb_last_error());
    hb_clear_error();
    for (int c = 0; c < 3; c++)
        ck_assert_float_eq(hb_tensor_cdata(rm)[c], 0.0f);
    hb_tensor *y = test_call_ok(b, x); /* a call does move them */
    ck_assert_float_eq_tol(hb_tensor_cdata(rm)[0], 0.3f, 1e-6f);
    hb_tensor_release(y), hb_tensor_release(x);
    hb_block_release(b);
}
END_TEST

/* ---- ResNet ----------------------------------------------------------------------------------- */

static hb_block *resnet_mini(void)
{
    hb_block *net = example_model_new("resnet-mini", 0);
    ck_assert_ptr_nonnull(net);
    ck_assert_msg(hb_block_load(net, data_path("resnet-mini/weights.safetensors")) == HB_OK, "%s",
                  hb_last_error());
    return net;
}

/* torchvision's names: every one of the fixture's tensors, and no more. */
START_TEST(resnet_names_are_torchvisions)
{
    hb_block *net = resnet_mini();
    hb_state_dict sd, want;
    ck_assert_int_eq(hb_block_state_dict(net, &sd), HB_OK);
    ck_assert_int_eq(hb_safetensors_load(data_path("resnet-mini/weights.safetensors"), &want),
                     HB_OK);
    ck_assert_int_eq(sd.count, want.count);
    const char *expect[] = {"conv1.weight", "bn1.running_var", "layer1.0.conv2.weight",
                            "layer2.0.downsample.0.weight", "layer4.0.downsample.1.running_mean",
                            "fc.bias"};
    for (size_t i = 0; i < ARRAY_LEN(expect); i++) {
        bool found = false;
        for (int j = 0; j < sd.count; j++)
            found = found || strcmp(sd.items[j].name, expect[i]) == 0;
        ck_assert_msg(found, "no %s", expect[i]);
    }
    hb_state_dict_free(&sd), hb_state_dict_free(&want);
    hb_block_release(net);
}
END_TEST

/* ResNet-18 from the same builder: torchvision's 11,689,512 parameters under its 102 names
 * (its state dict without num_batches_tracked), and a [1, 1000] output for a 224×224 image. */
START_TEST(resnet18_is_torchvisions)
{
    hb_block *net = example_model_new("resnet18", 0);
    ck_assert_ptr_nonnull(net);
    hb_state_dict sd;
    ck_assert_int_eq(hb_block_state_dict(net, &sd), HB_OK);
    int64_t trainable = 0;
    for (int i = 0; i < sd.count; i++)
        trainable += sd.items[i].trainable ? hb_tensor_numel(sd.items[i].value) : 0;
    ck_assert_int_eq(sd.count, 102);
    ck_assert_int_eq(trainable, 11689512);
    hb_state_dict_free(&sd);
    ck_assert(!hb_block_is_training(net));
    hb_tensor *x = hb_rand(HB_SHAPE(1, 3, 224, 224), NULL);
    hb_tensor *y = test_call_ok(net, x);
    ck_assert_int_eq(hb_tensor_ndim(y), 2);
    ck_assert_int_eq(hb_tensor_dim(y, 1), 1000);
    hb_tensor_release(x), hb_tensor_release(y);
    hb_block_release(net);
}
END_TEST

/* The fixture's output within 1e-4: eager, hybridized (trace and plan), and frozen. */
START_TEST(resnet_mini_matches_pytorch)
{
    hb_tensor *x = hb_npy_load(data_path("resnet-mini/input.npy"));
    hb_tensor *want = hb_npy_load(data_path("resnet-mini/output.npy"));
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(want);
    for (int mode = 0; mode < 3; mode++) {
        hb_block *net = resnet_mini();
        if (mode > 0)
            hb_hybridize_with(net, true, &(hb_hybrid_options){.freeze = mode == 2});
        for (int call = 0; call < 2; call++) {
            hb_tensor *y = test_call_ok(net, x);
            ck_assert_msg(rel_error(y, want) <= 1e-4, "mode %d call %d: relative error %g", mode,
                          call, rel_error(y, want));
            hb_tensor_release(y);
        }
        if (mode > 0)
            ck_assert_ptr_nonnull(hb_block_plan(net, HB_SHAPE(2, 3, 32, 32)));
        hb_block_release(net);
    }
    hb_tensor_release(x), hb_tensor_release(want);
}
END_TEST

/* d sum(output · G) / d parameter for every parameter of resnet-mini in inference mode, eager
 * (the tape) and compiled (a training step without an optimizer), against PyTorch's. */
START_TEST(resnet_mini_gradients_match_pytorch)
{
    hb_tensor *x = hb_npy_load(data_path("resnet-mini/input.npy"));
    hb_tensor *g = hb_npy_load(data_path("conv/resnet-mini-grad_output.npy"));
    hb_state_dict want;
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(hb_safetensors_load(data_path("conv/resnet-mini-grads.safetensors"), &want),
                     HB_OK);
    for (int compiled = 0; compiled < 2; compiled++) {
        hb_block *net = resnet_mini();
        if (compiled) {
            hb_trainer *tr = hb_trainer_new(net, HB_LOSS_DOT, NULL, true);
            float loss;
            ck_assert_msg(hb_train_step(tr, x, g, &loss) == HB_OK, "%s", hb_last_error());
            hb_trainer_free(tr);
        } else {
            hb_grad_enable(true);
            hb_tensor *y = test_call_ok(net, x);
            ck_assert_msg(hb_backward(y, g) == HB_OK, "%s", hb_last_error());
            hb_grad_enable(false);
            hb_tensor_release(y);
        }
        hb_state_dict have;
        ck_assert_int_eq(hb_block_state_dict(net, &have), HB_OK);
        int checked = 0;
        for (int i = 0; i < have.count; i++) {
            if (!have.items[i].trainable)
                continue;
            const hb_tensor *w = NULL;
            for (int k = 0; k < want.count && !w; k++)
                if (strcmp(want.items[k].name, have.items[i].name) == 0)
                    w = want.items[k].value;
            ck_assert_msg(w != NULL, "no reference gradient for %s", have.items[i].name);
            double err = rel_error(hb_tensor_grad(have.items[i].value), w);
            ck_assert_msg(err <= 1e-4, "%s %s: relative error %g", compiled ? "compiled" : "eager",
                          have.items[i].name, err);
            checked++;
        }
        ck_assert_int_eq(checked, want.count);
        hb_state_dict_free(&have);
        hb_block_release(net);
    }
    hb_state_dict_free(&want);
    hb_tensor_release(x), hb_tensor_release(g);
}
END_TEST

/* A few SGD steps in training mode, eager and compiled from the same weights: the same losses,
 * the same weights and running statistics after. */
START_TEST(resnet_mini_training_steps)
{
    hb_block *net[2] = {resnet_mini(), resnet_mini()};
    hb_optim_options o = hb_optim_defaults(0.05f);
    o.momentum = 0.9f;
    hb_optimizer *opt[2];
    hb_trainer *tr[2];
    for (int i = 0; i < 2; i++) {
        hb_block_set_training(net[i], true);
        opt[i] = hb_optimizer_new(net[i], HB_OPTIM_SGD, &o);
        tr[i] = hb_trainer_new(net[i], HB_LOSS_CROSS_ENTROPY, opt[i], i == 1);
    }
    hb_rng rng;
    hb_rng_seed(&rng, 11);
    hb_tensor *x = hb_randn(HB_SHAPE(4, 3, 32, 32), &rng);
    int64_t labels[4] = {3, 1, 4, 1};
    hb_tensor *t = hb_one_hot(labels, 4, 10);
    for (int step = 0; step < 4; step++) {
        float loss[2];
        for (int i = 0; i < 2; i++)
            ck_assert_msg(hb_train_step(tr[i], x, t, &loss[i]) == HB_OK, "%s", hb_last_error());
        ck_assert_msg(fabsf(loss[0] - loss[1]) <= 1e-4f * fabsf(loss[0]),
                      "step %d: eager loss %g, compiled %g", step, loss[0], loss[1]);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    hb_trainer_explain(tr[1], f);
    fclose(f);
    ck_assert_msg(strstr(text, "4 steps: 3 ran a plan") || strstr(text, "4 steps: 4 ran a plan"),
                  "not compiled: %s", text);
    free(text);
    hb_state_dict a, b;
    ck_assert_int_eq(hb_block_state_dict(net[0], &a), HB_OK);
    ck_assert_int_eq(hb_block_state_dict(net[1], &b), HB_OK);
    for (int i = 0; i < a.count; i++) {
        double err = rel_error(b.items[i].value, a.items[i].value);
        ck_assert_msg(err <= 1e-3, "%s: compiled differs from eager by %g", a.items[i].name, err);
    }
    hb_state_dict_free(&a), hb_state_dict_free(&b);
    for (int i = 0; i < 2; i++) {
        hb_trainer_free(tr[i]);
        hb_optimizer_free(opt[i]);
        hb_block_release(net[i]);
    }
    hb_tensor_release(x), hb_tensor_release(t);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("ops");
    tcase_add_test(tc, reference_has_every_case);
    tcase_add_loop_test(tc, eager_matches_pytorch, 0, (int)ARRAY_LEN(case_names));
    tcase_add_loop_test(tc, compiled_matches_eager, 0, (int)ARRAY_LEN(case_names));
    tcase_add_loop_test(tc, direct_kernel_matches_pytorch, 0, 10); /* the convolutions */
    tcase_add_loop_test(tc, every_path_matches_pytorch, 0, 10);
    tcase_add_test(tc, bad_shapes_are_named);
    tcase_add_test(tc, max_pool_propagates_nan);
    tcase_add_test(tc, threads_give_one_threads_bits);
    tcase_add_loop_test(tc, passes_keep_semantics, 0, 6);
    tcase_add_test(tc, mode_changes_drop_plans);
    tcase_add_test(tc, no_output_channels);
    tcase_add_test(tc, deferred_in_channels);
    tcase_add_test(tc, conv_transpose_block);
    tcase_add_test(tc, side_exit_writes_statistics_once);
    tcase_add_test(tc, child_mode_drops_parent_plans);
    tcase_add_test(tc, dump_leaves_statistics);
    suite_add_tcase(s, tc);
    TCase *rn = tcase_create("resnet");
    tcase_set_timeout(rn, 300);
    tcase_add_test(rn, resnet_names_are_torchvisions);
    tcase_add_test(rn, resnet18_is_torchvisions);
    tcase_add_test(rn, resnet_mini_matches_pytorch);
    tcase_add_test(rn, resnet_mini_gradients_match_pytorch);
    tcase_add_test(rn, resnet_mini_training_steps);
    suite_add_tcase(s, rn);
    return s;
}

int main(void) { return run_suite(conv_suite()); }

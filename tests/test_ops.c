/* The eager ops of hybrid.h against naive double-precision references written here, and the
 * errors they report for shapes and axes that do not fit.
 *
 * Every input comes from an hb_rng seeded with hb_rng_seed, so a failure reproduces. Ops called
 * here run outside any block, so each result is the test's to release: the suite is meant to be
 * clean under AddressSanitizer and LeakSanitizer. */
#include "harness.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shapes and indices ------------------------------------------------------------------- */

/* A shape held by value, for tables of cases. */
typedef struct shp {
    int nd;
    int64_t d[HB_MAX_DIMS];
} shp;

#define SH(...) {(int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), {__VA_ARGS__}}
#define SH0 {0, {0}}
#define NCASES(table) ((int)(sizeof(table) / sizeof((table)[0])))

static int64_t numel_of(int nd, const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= d[i];
    return n;
}

/* Steps idx through the row-major indices of shape d; false after the last one. */
static bool next_index(int64_t *idx, int nd, const int64_t *d)
{
    for (int i = nd - 1; i >= 0; i--) {
        if (++idx[i] < d[i])
            return true;
        idx[i] = 0;
    }
    return false;
}

/* Offset in a row-major tensor of shape (nd, d) of the element that index idx of an
 * out_nd-dim result reads under NumPy broadcasting: right-aligned, size-1 dims stay at 0. */
static int64_t bcast_offset(const int64_t *idx, int out_nd, int nd, const int64_t *d)
{
    int64_t off = 0;
    for (int i = 0; i < nd; i++)
        off = off * d[i] + (d[i] == 1 ? 0 : idx[out_nd - nd + i]);
    return off;
}

/* ---- inputs ------------------------------------------------------------------------------- */

static hb_rng seeded(uint64_t seed)
{
    hb_rng rng;
    hb_rng_seed(&rng, seed);
    return rng;
}

/* Uniform values in [lo, hi). */
static hb_tensor *uniform(hb_rng *rng, int nd, const int64_t *d, float lo, float hi)
{
    hb_tensor *t = hb_rand(nd, d, rng);
    ck_assert_tensor_ok(t);
    float *p = hb_tensor_data(t);
    for (int64_t i = 0; i < hb_tensor_numel(t); i++)
        p[i] = lo + (hi - lo) * p[i];
    return t;
}

/* Normal values with standard deviation scale. */
static hb_tensor *normal(hb_rng *rng, int nd, const int64_t *d, float scale)
{
    hb_tensor *t = hb_randn(nd, d, rng);
    ck_assert_tensor_ok(t);
    float *p = hb_tensor_data(t);
    for (int64_t i = 0; i < hb_tensor_numel(t); i++)
        p[i] *= scale;
    return t;
}

/* Magnitudes in [0.5, 2) with alternating signs: safe divisors. */
static hb_tensor *away_from_zero(hb_rng *rng, int nd, const int64_t *d)
{
    hb_tensor *t = uniform(rng, nd, d, 0.5f, 2.0f);
    float *p = hb_tensor_data(t);
    for (int64_t i = 1; i < hb_tensor_numel(t); i += 2)
        p[i] = -p[i];
    return t;
}

/* A zeroed reference buffer of n doubles (never NULL, even for n = 0). */
static double *ref_alloc(int64_t n)
{
    double *r = calloc((size_t)(n ? n : 1), sizeof *r);
    ck_assert_ptr_nonnull(r);
    return r;
}

static void release_all(int n, hb_tensor **ts)
{
    for (int i = 0; i < n; i++)
        hb_tensor_release(ts[i]);
}

/* ---- checks ------------------------------------------------------------------------------- */

#define expect_shape(t, ...) expect_shape_at(__LINE__, (t), __VA_ARGS__)
static void expect_shape_at(int line, const hb_tensor *t, int nd, const int64_t *d)
{
    ck_assert_msg(t != NULL, "line %d: NULL tensor: %s", line, hb_last_error());
    char got[160], want[160];
    hb_shape_str(hb_tensor_ndim(t), hb_tensor_shape(t), got, sizeof got);
    hb_shape_str(nd, d, want, sizeof want);
    ck_assert_msg(strcmp(got, want) == 0, "line %d: shape %s, expected %s", line, got, want);
}

/* Element by element: |got - ref| <= atol + rtol·|ref|; NaN where ref is NaN; the same
 * infinity where ref is infinite or overflows float. */
#define expect_close(t, ref, rtol, atol) expect_close_at(__LINE__, (t), (ref), (rtol), (atol))
static void expect_close_at(int line, const hb_tensor *t, const double *ref, double rtol,
                            double atol)
{
    ck_assert_msg(t != NULL, "line %d: NULL tensor: %s", line, hb_last_error());
    const float *p = hb_tensor_cdata(t);
    for (int64_t i = 0; i < hb_tensor_numel(t); i++) {
        double g = p[i], r = ref[i];
        bool ok;
        if (isnan(r))
            ok = isnan(g);
        else if (fabs(r) > FLT_MAX)
            ok = g == (r > 0 ? INFINITY : -INFINITY);
        else
            ok = !isnan(g) && fabs(g - r) <= atol + rtol * fabs(r);
        ck_assert_msg(ok, "line %d: element %lld is %.9g, reference %.9g", line, (long long)i, g,
                      r);
    }
}

/* Sums of products (GEMMs) round in an order of BLAS's choosing: relative to the largest
 * reference value (the harness's measure). */
#define expect_gemm_close(t, ref) expect_gemm_close_at(__LINE__, (t), (ref))
static void expect_gemm_close_at(int line, const hb_tensor *t, const double *ref)
{
    ck_assert_msg(t != NULL, "line %d: NULL tensor: %s", line, hb_last_error());
    double err = rel_error_buf(hb_tensor_cdata(t), ref, hb_tensor_numel(t));
    ck_assert_msg(err <= 1e-5, "line %d: relative error %g", line, err);
}

/* Same shape and bit-identical values. */
#define expect_identical(t, u) expect_identical_at(__LINE__, (t), (u))
static void expect_identical_at(int line, const hb_tensor *t, const hb_tensor *u)
{
    ck_assert_msg(t && u, "line %d: NULL tensor: %s", line, hb_last_error());
    ck_assert_msg(hb_tensor_same_shape(t, u), "line %d: shapes differ", line);
    ck_assert_msg(memcmp(hb_tensor_cdata(t), hb_tensor_cdata(u),
                         sizeof(float) * (size_t)hb_tensor_numel(t)) == 0,
                  "line %d: values differ", line);
}

/* t is NULL, the status is st, and the message contains every word of the list. Releases t if
 * the op wrongly succeeded. */
#define expect_error(t, st, ...)                                                              \
    expect_error_at(__LINE__, (t), (st), (const char *const[]){__VA_ARGS__, NULL})
static void expect_error_at(int line, hb_tensor *t, hb_status st, const char *const *words)
{
    bool got_tensor = t != NULL;
    hb_tensor_release(t);
    ck_assert_msg(!got_tensor, "line %d: expected an error, got a tensor", line);
    const char *msg = hb_last_error();
    ck_assert_msg(hb_last_status() == st, "line %d: status %d, expected %d (%s)", line,
                  (int)hb_last_status(), (int)st, msg);
    for (int i = 0; words[i]; i++)
        ck_assert_msg(strstr(msg, words[i]), "line %d: message \"%s\" lacks \"%s\"", line, msg,
                      words[i]);
}

/* ---- references --------------------------------------------------------------------------- */

typedef enum binop { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MAX, OP_MIN } binop;

static double binop_apply(binop op, double a, double b)
{
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_MAX: return a > b ? a : b;
    case OP_MIN: return a < b ? a : b;
    default: return a / b;
    }
}

/* a op b broadcast to the shape (nd, d). */
static double *ref_binary(binop op, const hb_tensor *a, const hb_tensor *b, int nd,
                          const int64_t *d)
{
    int64_t n = numel_of(nd, d), idx[HB_MAX_DIMS] = {0};
    double *r = ref_alloc(n);
    const float *pa = hb_tensor_cdata(a), *pb = hb_tensor_cdata(b);
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = bcast_offset(idx, nd, hb_tensor_ndim(a), hb_tensor_shape(a));
        int64_t ib = bcast_offset(idx, nd, hb_tensor_ndim(b), hb_tensor_shape(b));
        r[i] = binop_apply(op, pa[ia], pb[ib]);
        (void)next_index(idx, nd, d);
    }
    return r;
}

/* a [.., m, k] @ b [.., k, n] with the batch dims broadcast to those of the result (nd, d). */
static double *ref_matmul(const hb_tensor *a, const hb_tensor *b, int nd, const int64_t *d)
{
    int na = hb_tensor_ndim(a), nb = hb_tensor_ndim(b);
    const int64_t *as = hb_tensor_shape(a), *bs = hb_tensor_shape(b);
    int64_t m = as[na - 2], k = as[na - 1], n = bs[nb - 1];
    int64_t batches = numel_of(nd - 2, d), idx[HB_MAX_DIMS] = {0};
    const float *pa = hb_tensor_cdata(a), *pb = hb_tensor_cdata(b);
    double *r = ref_alloc(batches * m * n);
    for (int64_t t = 0; t < batches; t++) {
        const float *ta = pa + bcast_offset(idx, nd - 2, na - 2, as) * m * k;
        const float *tb = pb + bcast_offset(idx, nd - 2, nb - 2, bs) * k * n;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (int64_t p = 0; p < k; p++)
                    acc += (double)ta[i * k + p] * tb[p * n + j];
                r[(t * m + i) * n + j] = acc;
            }
        (void)next_index(idx, nd - 2, d);
    }
    return r;
}

/* x [.., k] · w[o, k]ᵀ + bias[o] (bias may be NULL). */
static double *ref_linear(const hb_tensor *x, const hb_tensor *w, const hb_tensor *bias)
{
    int64_t o = hb_tensor_dim(w, 0), k = hb_tensor_dim(w, 1);
    int64_t rows = numel_of(hb_tensor_ndim(x) - 1, hb_tensor_shape(x));
    const float *px = hb_tensor_cdata(x), *pw = hb_tensor_cdata(w);
    double *r = ref_alloc(rows * o);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < o; j++) {
            double acc = bias ? hb_tensor_cdata(bias)[j] : 0.0;
            for (int64_t p = 0; p < k; p++)
                acc += (double)px[i * k + p] * pw[j * k + p];
            r[i * o + j] = acc;
        }
    return r;
}

typedef enum red_kind { RED_SUM, RED_MEAN, RED_MAX } red_kind;

/* Folds v into the running value r[o] (NaN wins a max, as in PyTorch). */
static void red_step(red_kind kind, double *r, double v)
{
    if (kind != RED_MAX)
        *r += v;
    else if (!isnan(*r) && (isnan(v) || v > *r))
        *r = v;
}

/* x reduced over axis (non-negative), laid out as x without that axis; axis = -1: over all. */
static double *ref_reduce(red_kind kind, const hb_tensor *x, int axis)
{
    int nd = hb_tensor_ndim(x);
    const int64_t *d = hb_tensor_shape(x);
    int64_t n = hb_tensor_numel(x), len = axis < 0 ? n : d[axis], n_out = 1;
    for (int i = 0; i < nd && axis >= 0; i++)
        n_out *= i == axis ? 1 : d[i];
    double *r = ref_alloc(n_out);
    for (int64_t o = 0; o < n_out; o++)
        r[o] = kind == RED_MAX ? -INFINITY : 0.0;
    int64_t idx[HB_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t o = 0;
        for (int j = 0; j < nd && axis >= 0; j++)
            if (j != axis)
                o = o * d[j] + idx[j];
        red_step(kind, &r[o], hb_tensor_cdata(x)[i]);
        (void)next_index(idx, nd, d);
    }
    for (int64_t o = 0; o < n_out && kind == RED_MEAN; o++)
        r[o] = len ? r[o] / (double)len : NAN;
    return r;
}

/* softmax or log_softmax of x along axis (may be negative). */
static double *ref_softmax(const hb_tensor *x, int axis, bool take_log)
{
    int nd = hb_tensor_ndim(x);
    axis = axis < 0 ? axis + nd : axis;
    const int64_t *d = hb_tensor_shape(x);
    int64_t outer = numel_of(axis, d), len = d[axis], inner = numel_of(nd - axis - 1, d + axis + 1);
    const float *p = hb_tensor_cdata(x);
    double *r = ref_alloc(hb_tensor_numel(x));
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i;
            double m = -INFINITY, total = 0.0;
            for (int64_t j = 0; j < len; j++)
                m = fmax(m, p[base + j * inner]);
            for (int64_t j = 0; j < len; j++)
                total += exp(p[base + j * inner] - m);
            for (int64_t j = 0; j < len; j++) {
                double v = p[base + j * inner] - m;
                r[base + j * inner] = take_log ? v - log(total) : exp(v) / total;
            }
        }
    return r;
}

/* x with axes a0 and a1 (non-negative) swapped: element idx goes to the swapped index. */
static double *ref_transpose(const hb_tensor *x, int a0, int a1)
{
    int nd = hb_tensor_ndim(x);
    int64_t od[HB_MAX_DIMS], idx[HB_MAX_DIMS] = {0};
    memcpy(od, hb_tensor_shape(x), sizeof(int64_t) * (size_t)nd);
    od[a0] = hb_tensor_shape(x)[a1], od[a1] = hb_tensor_shape(x)[a0];
    double *r = ref_alloc(hb_tensor_numel(x));
    for (int64_t i = 0; i < hb_tensor_numel(x); i++) {
        int64_t o = 0;
        for (int j = 0; j < nd; j++)
            o = o * od[j] + idx[j == a0 ? a1 : j == a1 ? a0 : j];
        r[o] = hb_tensor_cdata(x)[i];
        (void)next_index(idx, nd, hb_tensor_shape(x));
    }
    return r;
}

/* xs joined along axis (non-negative) into the shape (nd, d): each element moves along axis
 * by the lengths of the inputs before it. */
static double *ref_concat(int n, hb_tensor *const *xs, int axis, int nd, const int64_t *d)
{
    double *r = ref_alloc(numel_of(nd, d));
    int64_t shift = 0;
    for (int t = 0; t < n; t++) {
        int64_t idx[HB_MAX_DIMS] = {0};
        for (int64_t i = 0; i < hb_tensor_numel(xs[t]); i++) {
            int64_t o = 0;
            for (int j = 0; j < nd; j++)
                o = o * d[j] + idx[j] + (j == axis ? shift : 0);
            r[o] = hb_tensor_cdata(xs[t])[i];
            (void)next_index(idx, nd, hb_tensor_shape(xs[t]));
        }
        shift += hb_tensor_shape(xs[t])[axis];
    }
    return r;
}

/* ---- matmul and linear -------------------------------------------------------------------- */

static const struct mm_case {
    shp a, b, out;
} mm_cases[] = {
    {SH(1, 1), SH(1, 1), SH(1, 1)},
    {SH(1, 5), SH(5, 1), SH(1, 1)},
    {SH(5, 1), SH(1, 4), SH(5, 4)},
    {SH(1, 7), SH(7, 3), SH(1, 3)},
    {SH(4, 3), SH(3, 1), SH(4, 1)},
    {SH(3, 4), SH(4, 5), SH(3, 5)},
    {SH(17, 33), SH(33, 9), SH(17, 9)},
    {SH(64, 65), SH(65, 63), SH(64, 63)},
    {SH(0, 4), SH(4, 3), SH(0, 3)},          /* m = 0 */
    {SH(3, 4), SH(4, 0), SH(3, 0)},          /* n = 0 */
    {SH(4, 3, 5), SH(4, 5, 2), SH(4, 3, 2)}, /* batched */
    {SH(1, 3, 5), SH(4, 5, 2), SH(4, 3, 2)},
    {SH(4, 3, 5), SH(1, 5, 2), SH(4, 3, 2)},
    {SH(4, 1, 5), SH(4, 5, 1), SH(4, 1, 1)},
    {SH(4, 3, 5), SH(5, 2), SH(4, 3, 2)},    /* batched @ 2-D weight */
    {SH(2, 3, 4, 5), SH(5, 6), SH(2, 3, 4, 6)},
    {SH(3, 5), SH(4, 5, 2), SH(4, 3, 2)},    /* 2-D @ batched */
    {SH(2, 1, 3, 4), SH(3, 4, 5), SH(2, 3, 3, 5)}, /* broadcast batch dims */
    {SH(2, 1, 3, 4), SH(1, 5, 4, 2), SH(2, 5, 3, 2)},
    {SH(3, 1, 2, 2, 3), SH(4, 1, 3, 2), SH(3, 4, 2, 2, 2)},
    {SH(0, 3, 4), SH(4, 5), SH(0, 3, 5)},    /* zero-size batch */
    {SH(0, 3, 4), SH(0, 4, 5), SH(0, 3, 5)},
    {SH(2, 3, 0), SH(2, 0, 4), SH(2, 3, 4)}, /* batched k = 0: zeros */
};

START_TEST(matmul_shapes)
{
    const struct mm_case *c = &mm_cases[_i];
    hb_rng rng = seeded(1000 + (uint64_t)_i);
    hb_tensor *a = normal(&rng, c->a.nd, c->a.d, 1.0f), *b = normal(&rng, c->b.nd, c->b.d, 1.0f);
    hb_tensor *y = hb_matmul(a, b);
    expect_shape(y, c->out.nd, c->out.d);
    double *ref = ref_matmul(a, b, c->out.nd, c->out.d);
    expect_gemm_close(y, ref);
    free(ref);
    release_all(3, (hb_tensor *[]){a, b, y});
}
END_TEST

START_TEST(matmul_k0_is_zeros)
{
    hb_tensor *a = hb_ones(HB_SHAPE(3, 0)), *b = hb_ones(HB_SHAPE(0, 4));
    hb_tensor *y = hb_matmul(a, b);
    expect_shape(y, HB_SHAPE(3, 4));
    double zeros[12] = {0};
    expect_close(y, zeros, 0.0, 0.0);
    hb_tensor *a3 = hb_ones(HB_SHAPE(2, 3, 0)), *y3 = hb_matmul(a3, b);
    expect_shape(y3, HB_SHAPE(2, 3, 4));
    double zeros24[24] = {0};
    expect_close(y3, zeros24, 0.0, 0.0);
    release_all(5, (hb_tensor *[]){a, b, y, a3, y3});
}
END_TEST

/* The result does not depend on what the output buffer held: repeated calls agree exactly. */
START_TEST(matmul_repeatable)
{
    hb_rng rng = seeded(7);
    hb_tensor *a = normal(&rng, HB_SHAPE(2, 6, 5), 1.0f), *b = normal(&rng, HB_SHAPE(5, 3), 1.0f);
    hb_tensor *y1 = hb_matmul(a, b), *y2 = hb_matmul(a, b);
    expect_identical(y1, y2);
    release_all(4, (hb_tensor *[]){a, b, y1, y2});
}
END_TEST

static const struct lin_case {
    shp x, w, out;
    bool bias;
} lin_cases[] = {
    {SH(5, 7), SH(3, 7), SH(5, 3), true},
    {SH(5, 7), SH(3, 7), SH(5, 3), false},
    {SH(2, 3, 7), SH(4, 7), SH(2, 3, 4), true},
    {SH(2, 3, 7), SH(4, 7), SH(2, 3, 4), false},
    {SH(7), SH(3, 7), SH(3), true},
    {SH(1, 1), SH(1, 1), SH(1, 1), true},
    {SH(1, 33), SH(65, 33), SH(1, 65), true},
    {SH(40, 20), SH(10, 20), SH(40, 10), true},
    {SH(0, 7), SH(3, 7), SH(0, 3), true},
    {SH(3, 0), SH(4, 0), SH(3, 4), true},  /* k = 0: every row is the bias */
    {SH(3, 0), SH(4, 0), SH(3, 4), false}, /* k = 0 without bias: zeros */
};

START_TEST(linear_shapes)
{
    const struct lin_case *c = &lin_cases[_i];
    hb_rng rng = seeded(2000 + (uint64_t)_i);
    hb_tensor *x = normal(&rng, c->x.nd, c->x.d, 1.0f), *w = normal(&rng, c->w.nd, c->w.d, 0.5f);
    hb_tensor *b = c->bias ? normal(&rng, HB_SHAPE(c->w.d[0]), 1.0f) : NULL;
    hb_tensor *y = b ? hb_linear(x, w, b) : hb_linear_nobias(x, w);
    expect_shape(y, c->out.nd, c->out.d);
    double *ref = ref_linear(x, w, b);
    expect_gemm_close(y, ref);
    free(ref);
    release_all(4, (hb_tensor *[]){x, w, b, y});
}
END_TEST

/* linear(x, w, b) is matmul(x, transpose(w)) + b. */
START_TEST(linear_matches_matmul)
{
    hb_rng rng = seeded(21);
    hb_tensor *x = normal(&rng, HB_SHAPE(6, 5), 1.0f), *w = normal(&rng, HB_SHAPE(4, 5), 1.0f);
    hb_tensor *b = normal(&rng, HB_SHAPE(4), 1.0f);
    hb_tensor *wt = hb_transpose(w, 0, 1), *xw = hb_matmul(x, wt), *want = hb_add(xw, b);
    hb_tensor *y = hb_linear(x, w, b);
    ck_assert_msg(rel_error(y, want) <= 1e-5, "linear and matmul + add differ");
    release_all(7, (hb_tensor *[]){x, w, b, wt, xw, want, y});
}
END_TEST

/* ---- elementwise -------------------------------------------------------------------------- */

typedef hb_tensor *(*binary_fn)(hb_tensor *, hb_tensor *);
static const struct {
    const char *name;
    binary_fn fn;
    binop op;
} binary_ops[] = {
    {"add", hb_add, OP_ADD},
    {"sub", hb_sub, OP_SUB},
    {"mul", hb_mul, OP_MUL},
    {"div", hb_div, OP_DIV},
    {"maximum", hb_maximum, OP_MAX},
    {"minimum", hb_minimum, OP_MIN},
};

/* maximum and minimum let NaN through from either side, and -0 and 0 tie. */
START_TEST(extrema_nan)
{
    hb_tensor *a = hb_tensor_from((float[]){NAN, 1.0f, 2.0f, -0.0f}, HB_SHAPE(4));
    hb_tensor *b = hb_tensor_from((float[]){1.0f, NAN, 3.0f, 0.0f}, HB_SHAPE(4));
    hb_tensor *mx = hb_maximum(a, b), *mn = hb_minimum(a, b);
    const float *x = hb_tensor_cdata(mx), *n = hb_tensor_cdata(mn);
    ck_assert(isnan(x[0]) && isnan(x[1]) && isnan(n[0]) && isnan(n[1]));
    ck_assert_float_eq(x[2], 3.0f);
    ck_assert_float_eq(n[2], 2.0f);
    ck_assert(x[3] == 0.0f && n[3] == 0.0f);
    release_all(4, (hb_tensor *[]){a, b, mx, mn});
}
END_TEST

/* pow against double-precision pow: a positive base and exponents in [-3, 3], broadcast, and
 * the special cases where the sign of the base and the exponent's kind matter. */
START_TEST(pow_matches_reference)
{
    hb_rng rng = seeded(4100);
    hb_tensor *a = uniform(&rng, HB_SHAPE(4, 6), 0.1f, 4.0f), *b = uniform(&rng, HB_SHAPE(6), -3, 3);
    hb_tensor *y = hb_pow(a, b);
    expect_shape(y, 2, (int64_t[]){4, 6});
    double *ref = ref_alloc(24);
    for (int i = 0; i < 24; i++)
        ref[i] = pow(hb_tensor_cdata(a)[i], hb_tensor_cdata(b)[i % 6]);
    expect_close(y, ref, 2e-6, 1e-30);
    free(ref);
    float base[] = {-2.0f, -2.0f, 0.0f, 0.0f, -0.0f, 5.0f, NAN, 1.0f, INFINITY};
    float expo[] = {3.0f, 0.5f, -1.0f, 2.0f, -3.0f, 0.0f, 0.0f, NAN, -2.0f};
    hb_tensor *sa = hb_tensor_from(base, HB_SHAPE(9)), *sb = hb_tensor_from(expo, HB_SHAPE(9));
    hb_tensor *sy = hb_pow(sa, sb);
    double sref[9];
    for (int i = 0; i < 9; i++)
        sref[i] = pow(base[i], expo[i]);
    expect_close(sy, sref, 1e-6, 0);
    release_all(6, (hb_tensor *[]){a, b, y, sa, sb, sy});
}
END_TEST

/* pow_scalar: x·x for 2 (bit for bit), 1/√x for −0.5 with pow's signed zeros and infinities,
 * pow otherwise; each equal to pow with a one-element exponent tensor within an ulp. */
START_TEST(pow_scalar_matches_reference)
{
    hb_rng rng = seeded(4101);
    const float exps[] = {2.0f, -0.5f, 3.0f, 0.5f, -1.0f, 0.0f, 1.5f};
    hb_tensor *x = uniform(&rng, HB_SHAPE(5, 7), 0.05f, 3.0f);
    float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, -2.0f, NAN, 1e-30f};
    memcpy(hb_tensor_data(x), special, sizeof special);
    for (size_t k = 0; k < NCASES(exps); k++) {
        hb_tensor *y = hb_pow_scalar(x, exps[k]);
        expect_shape(y, 2, (int64_t[]){5, 7});
        double *ref = ref_alloc(35);
        for (int i = 0; i < 35; i++)
            ref[i] = pow(hb_tensor_cdata(x)[i], exps[k]);
        expect_close(y, ref, 1.2e-7, 1e-37); /* (1e-30)² underflows in float, not in double */
        for (int i = 0; exps[k] == 2.0f && i < 35; i++) {
            float v = hb_tensor_cdata(x)[i];
            ck_assert(isnan(v) || hb_tensor_cdata(y)[i] == v * v);
        }
        free(ref);
        hb_tensor_release(y);
    }
    hb_tensor_release(x);
}
END_TEST

static const struct bc_case {
    shp a, b, out;
} bc_cases[] = {
    {SH(3, 4), SH(3, 4), SH(3, 4)},
    {SH(7, 33), SH(7, 33), SH(7, 33)},
    {SH0, SH(3, 4), SH(3, 4)},  /* scalar tensor */
    {SH(3, 4), SH0, SH(3, 4)},
    {SH0, SH0, SH0},
    {SH(1), SH0, SH(1)},
    {SH(4), SH(3, 4), SH(3, 4)}, /* row */
    {SH(3, 4), SH(4), SH(3, 4)},
    {SH(3, 1), SH(3, 4), SH(3, 4)}, /* column */
    {SH(3, 4), SH(3, 1), SH(3, 4)},
    {SH(3, 1), SH(1, 4), SH(3, 4)}, /* column against row */
    {SH(1, 4), SH(3, 1), SH(3, 4)},
    {SH(2, 3, 4), SH(2, 3, 4), SH(2, 3, 4)},
    {SH(2, 3, 4), SH(4), SH(2, 3, 4)},
    {SH(2, 3, 4), SH(3, 1), SH(2, 3, 4)},
    {SH(3, 1), SH(2, 3, 4), SH(2, 3, 4)},
    {SH(2, 1, 4), SH(1, 3, 1), SH(2, 3, 4)},
    {SH(2, 1, 1), SH(1, 1, 5), SH(2, 1, 5)},
    {SH(5, 1, 3), SH(2, 1), SH(5, 2, 3)},
    {SH(1, 3, 1), SH(2, 1, 4), SH(2, 3, 4)},
    {SH(2, 1, 3, 1), SH(4, 1, 5), SH(2, 4, 3, 5)},
    {SH(0, 3), SH(3), SH(0, 3)}, /* zero-size */
    {SH(1, 3), SH(0, 1), SH(0, 3)},
};

START_TEST(binary_broadcast)
{
    const struct bc_case *c = &bc_cases[_i];
    hb_rng rng = seeded(3000 + (uint64_t)_i);
    hb_tensor *a = uniform(&rng, c->a.nd, c->a.d, -2.0f, 2.0f);
    hb_tensor *b = away_from_zero(&rng, c->b.nd, c->b.d);
    for (int k = 0; k < NCASES(binary_ops); k++) {
        hb_tensor *y = binary_ops[k].fn(a, b);
        expect_shape(y, c->out.nd, c->out.d);
        double *ref = ref_binary(binary_ops[k].op, a, b, c->out.nd, c->out.d);
        expect_close(y, ref, 1e-6, 1e-30);
        free(ref);
        hb_tensor_release(y);
    }
    release_all(2, (hb_tensor *[]){a, b});
}
END_TEST

typedef hb_tensor *(*scalar_fn)(hb_tensor *, float);
static const struct scalar_case {
    const char *name;
    scalar_fn fn;
    binop op;
    bool reversed; /* s op a */
} scalar_ops[] = {
    {"add_scalar", hb_add_scalar, OP_ADD, false},
    {"sub_scalar", hb_sub_scalar, OP_SUB, false},
    {"mul_scalar", hb_mul_scalar, OP_MUL, false},
    {"div_scalar", hb_div_scalar, OP_DIV, false},
    {"rsub_scalar", hb_rsub_scalar, OP_SUB, true},
    {"rdiv_scalar", hb_rdiv_scalar, OP_DIV, true},
};

/* The same op through the broadcasting binary form with a shape [] tensor. */
static hb_tensor *via_binary(const struct scalar_case *c, hb_tensor *a, float s)
{
    binary_fn fns[] = {hb_add, hb_sub, hb_mul, hb_div};
    hb_tensor *st = hb_scalar(s);
    hb_tensor *y = c->reversed ? fns[c->op](st, a) : fns[c->op](a, st);
    hb_tensor_release(st);
    return y;
}

START_TEST(scalar_forms)
{
    const struct scalar_case *c = &scalar_ops[_i];
    static const shp shapes[] = {SH(3, 4), SH0, SH(0, 2), SH(2, 3, 5)};
    const float svals[] = {2.5f, -0.75f, 1.0f};
    hb_rng rng = seeded(4000 + (uint64_t)_i);
    for (int k = 0; k < NCASES(shapes); k++) {
        hb_tensor *a = away_from_zero(&rng, shapes[k].nd, shapes[k].d);
        for (int j = 0; j < 3; j++) {
            float s = svals[j];
            hb_tensor *y = c->fn(a, s), *y2 = via_binary(c, a, s);
            expect_shape(y, shapes[k].nd, shapes[k].d);
            double *ref = ref_alloc(hb_tensor_numel(a));
            for (int64_t i = 0; i < hb_tensor_numel(a); i++) {
                double x = hb_tensor_cdata(a)[i];
                ref[i] = c->reversed ? binop_apply(c->op, s, x) : binop_apply(c->op, x, s);
            }
            expect_close(y, ref, 1e-6, 1e-30);
            expect_identical(y, y2);
            free(ref);
            release_all(2, (hb_tensor *[]){y, y2});
        }
        hb_tensor_release(a);
    }
}
END_TEST

static double ref_relu(double x) { return isnan(x) ? x : x > 0 ? x : 0.0; }
static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_neg(double x) { return -x; }
static double ref_sign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }

typedef hb_tensor *(*unary_fn)(hb_tensor *);
static const struct unary_case {
    const char *name;
    unary_fn fn;
    double (*ref)(double);
    float lo, hi; /* random inputs in [lo, hi) */
    double rtol, atol;
    int nspecial;
    float special[8]; /* written over the first inputs */
} unary_ops[] = {
    {"relu", hb_relu, ref_relu, -3, 3, 0, 0, 7,
     {NAN, -INFINITY, INFINITY, -0.0f, 0.0f, 1e-30f, -1e-30f}},
    {"sigmoid", hb_sigmoid, ref_sigmoid, -12, 12, 1e-5, 1e-7, 8,
     {1000.0f, -1000.0f, 100.0f, -100.0f, 88.7f, -88.7f, 0.0f, -20.0f}},
    {"tanh", hb_tanh, tanh, -4, 4, 1e-5, 1e-7, 7,
     {20.0f, -20.0f, 1000.0f, -1000.0f, 0.0f, 1e-4f, -1e-6f}},
    {"exp", hb_exp, exp, -20, 20, 1e-5, 1e-30, 6,
     {0.0f, -1000.0f, 100.0f, -INFINITY, INFINITY, 88.0f}},
    {"log", hb_log, log, 1e-3f, 100, 1e-5, 1e-7, 6,
     {1.0f, 0.0f, -1.0f, INFINITY, 1e-30f, 3e38f}},
    {"abs", hb_abs, fabs, -5, 5, 0, 0, 5, {-0.0f, -INFINITY, NAN, -1e-30f, 7.0f}},
    {"neg", hb_neg, ref_neg, -5, 5, 0, 0, 3, {0.0f, INFINITY, -3.5f}},
    {"sqrt", hb_sqrt, sqrt, 0, 100, 1e-6, 1e-30, 5, {0.0f, 1e-30f, -1.0f, INFINITY, 2.0f}},
    {"erf", hb_erf, erf, -5, 5, 0, 5e-7, 8,
     {0.0f, -0.0f, 1e-30f, INFINITY, -INFINITY, NAN, 3.9f, -0.47f}},
    {"sin", hb_sin, sin, -10, 10, 1e-6, 1e-7, 5, {0.0f, -0.0f, INFINITY, NAN, 1e4f}},
    {"cos", hb_cos, cos, -10, 10, 1e-6, 1e-7, 5, {0.0f, -0.0f, -INFINITY, NAN, 1e4f}},
    {"floor", hb_floor, floor, -5, 5, 0, 0, 7, {-0.5f, 0.5f, -0.0f, 2.0f, NAN, -INFINITY, 8388609.0f}},
    {"ceil", hb_ceil, ceil, -5, 5, 0, 0, 7, {-0.5f, 0.5f, -0.0f, 2.0f, NAN, INFINITY, -8388609.0f}},
    {"round", hb_round, nearbyint, -5, 5, 0, 0, 8,
     {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 2.4999998f, NAN, INFINITY}},
    {"sign", hb_sign, ref_sign, -5, 5, 0, 0, 5, {0.0f, -0.0f, NAN, -INFINITY, 1e-40f}},
};

START_TEST(unary_ops_match_reference)
{
    const struct unary_case *c = &unary_ops[_i];
    static const shp shapes[] = {SH(3, 37), SH0, SH(0, 4), SH(2, 2, 5)};
    hb_rng rng = seeded(5000 + (uint64_t)_i);
    for (int k = 0; k < NCASES(shapes); k++) {
        hb_tensor *x = uniform(&rng, shapes[k].nd, shapes[k].d, c->lo, c->hi);
        int64_t n = hb_tensor_numel(x);
        for (int64_t i = 0; i < n && i < c->nspecial; i++)
            hb_tensor_data(x)[i] = c->special[i];
        hb_tensor *y = c->fn(x);
        expect_shape(y, shapes[k].nd, shapes[k].d);
        double *ref = ref_alloc(n);
        for (int64_t i = 0; i < n; i++)
            ref[i] = c->ref(hb_tensor_cdata(x)[i]);
        expect_close(y, ref, c->rtol, c->atol);
        free(ref);
        release_all(2, (hb_tensor *[]){x, y});
    }
}
END_TEST

START_TEST(relu_keeps_nan)
{
    hb_tensor *x = hb_tensor_from((const float[]){NAN, -1.0f, 2.0f}, HB_SHAPE(3));
    hb_tensor *y = hb_relu(x);
    ck_assert_tensor_ok(y);
    ck_assert_float_nan(hb_tensor_cdata(y)[0]);
    ck_assert_float_eq(hb_tensor_cdata(y)[1], 0.0f);
    ck_assert_float_eq(hb_tensor_cdata(y)[2], 2.0f);
    release_all(2, (hb_tensor *[]){x, y});
}
END_TEST

START_TEST(sigmoid_saturates_without_nan)
{
    const float xs[] = {-1e30f, -1000.0f, -100.0f, -50.0f, 50.0f, 100.0f, 1000.0f, 1e30f,
                        -INFINITY, INFINITY};
    hb_tensor *x = hb_tensor_from(xs, HB_SHAPE(10));
    hb_tensor *y = hb_sigmoid(x);
    ck_assert_tensor_ok(y);
    for (int i = 0; i < 10; i++) {
        float v = hb_tensor_cdata(y)[i];
        ck_assert_msg(!isnan(v) && v >= 0.0f && v <= 1.0f, "sigmoid(%g) = %g", xs[i], v);
        ck_assert_msg(fabs(v - ref_sigmoid(xs[i])) <= 1e-7, "sigmoid(%g) = %g", xs[i], v);
    }
    release_all(2, (hb_tensor *[]){x, y});
}
END_TEST

/* No op writes into its inputs. */
START_TEST(ops_leave_inputs_alone)
{
    hb_rng rng = seeded(6);
    hb_tensor *a = uniform(&rng, HB_SHAPE(4, 5), 0.5f, 2.0f), *b = normal(&rng, HB_SHAPE(5), 1.0f);
    hb_tensor *a0 = hb_tensor_copy(a), *b0 = hb_tensor_copy(b);
    for (int k = 0; k < NCASES(unary_ops); k++)
        hb_tensor_release(unary_ops[k].fn(a));
    for (int k = 0; k < NCASES(scalar_ops); k++)
        hb_tensor_release(scalar_ops[k].fn(a, 3.0f));
    for (int k = 0; k < NCASES(binary_ops); k++)
        hb_tensor_release(binary_ops[k].fn(a, b));
    hb_tensor *w = hb_transpose(a, 0, 1);
    hb_tensor *outs[] = {hb_softmax(a, 1), hb_log_softmax(a, 0), hb_sum_axis(a, 0, false),
                         hb_mean(a), hb_max_axis(a, 1, true), hb_reshape(a, HB_SHAPE(-1)),
                         hb_flatten(a), hb_matmul(a, w), hb_linear_nobias(a, a),
                         hb_concat(2, (hb_tensor *[]){a, a}, 0)};
    for (int k = 0; k < NCASES(outs); k++)
        ck_assert_msg(outs[k], "op %d failed: %s", k, hb_last_error());
    expect_identical(a, a0);
    expect_identical(b, b0);
    release_all(NCASES(outs), outs);
    release_all(5, (hb_tensor *[]){a, b, a0, b0, w});
}
END_TEST

/* ---- reductions --------------------------------------------------------------------------- */

typedef hb_tensor *(*reduce_all_fn)(hb_tensor *);
typedef hb_tensor *(*reduce_axis_fn)(hb_tensor *, int, bool);
static const struct {
    const char *name;
    red_kind kind;
    reduce_all_fn all;
    reduce_axis_fn axis;
} reducers[] = {
    {"sum", RED_SUM, hb_sum, hb_sum_axis},
    {"mean", RED_MEAN, hb_mean, hb_mean_axis},
    {"max", RED_MAX, hb_max, hb_max_axis},
};

static const shp reduce_shapes[] = {SH(5), SH(4, 6), SH(2, 3, 4), SH(3, 1, 5, 2), SH(1, 1),
                                    SH(300, 7)};

START_TEST(reduce_over_all)
{
    hb_rng rng = seeded(7000);
    static const shp shapes[] = {SH0, SH(1), SH(7), SH(4, 6), SH(2, 3, 4), SH(1000)};
    for (int k = 0; k < NCASES(shapes); k++) {
        hb_tensor *x = normal(&rng, shapes[k].nd, shapes[k].d, 2.0f);
        for (int r = 0; r < NCASES(reducers); r++) {
            hb_tensor *y = reducers[r].all(x);
            expect_shape(y, HB_SCALAR_SHAPE);
            double *ref = ref_reduce(reducers[r].kind, x, -1);
            expect_close(y, ref, 1e-6, 1e-6);
            free(ref);
            hb_tensor_release(y);
        }
        hb_tensor_release(x);
    }
}
END_TEST

/* The shape of x reduced over axis (non-negative). */
static shp reduced_shape(const hb_tensor *x, int axis, bool keepdim)
{
    shp s = {0, {0}};
    for (int i = 0; i < hb_tensor_ndim(x); i++)
        if (i != axis || keepdim)
            s.d[s.nd++] = i == axis ? 1 : hb_tensor_shape(x)[i];
    return s;
}

START_TEST(reduce_over_axis)
{
    const shp *s = &reduce_shapes[_i];
    hb_rng rng = seeded(7100 + (uint64_t)_i);
    hb_tensor *x = normal(&rng, s->nd, s->d, 2.0f);
    for (int r = 0; r < NCASES(reducers); r++)
        for (int axis = -s->nd; axis < s->nd; axis++)
            for (int keep = 0; keep < 2; keep++) {
                int ax = axis < 0 ? axis + s->nd : axis;
                hb_tensor *y = reducers[r].axis(x, axis, keep);
                shp want = reduced_shape(x, ax, keep);
                expect_shape(y, want.nd, want.d);
                double *ref = ref_reduce(reducers[r].kind, x, ax);
                expect_close(y, ref, 1e-6, 1e-6);
                free(ref);
                hb_tensor_release(y);
            }
    hb_tensor_release(x);
}
END_TEST

START_TEST(reduce_empty)
{
    hb_tensor *x = hb_zeros(HB_SHAPE(0, 3)), *v = hb_zeros(HB_SHAPE(0));
    hb_tensor *s = hb_sum(x), *sv = hb_sum(v), *s0 = hb_sum_axis(x, 0, false),
              *s0k = hb_sum_axis(x, 0, true), *s1 = hb_sum_axis(x, 1, false),
              *m = hb_mean(x), *mx1 = hb_max_axis(x, -1, false);
    expect_shape(s, HB_SCALAR_SHAPE);
    ck_assert_float_eq(hb_item(s), 0.0f);
    expect_shape(sv, HB_SCALAR_SHAPE);
    ck_assert_float_eq(hb_item(sv), 0.0f);
    expect_shape(s0, HB_SHAPE(3));
    expect_close(s0, ((const double[]){0, 0, 0}), 0, 0);
    expect_shape(s0k, HB_SHAPE(1, 3));
    expect_close(s0k, ((const double[]){0, 0, 0}), 0, 0);
    expect_shape(s1, HB_SHAPE(0));
    expect_shape(m, HB_SCALAR_SHAPE); /* the mean of nothing is NaN, as in PyTorch */
    ck_assert_float_nan(hb_item(m));
    expect_shape(mx1, HB_SHAPE(0)); /* no rows: nothing to take a max of, and no error */
    release_all(9, (hb_tensor *[]){x, v, s, sv, s0, s0k, s1, m, mx1});
}
END_TEST

START_TEST(max_of_empty_is_an_error)
{
    hb_tensor *x = hb_zeros(HB_SHAPE(0, 3));
    expect_error(hb_max(x), HB_ERR_SHAPE, "max", "[0, 3]");
    expect_error(hb_max_axis(x, 0, false), HB_ERR_SHAPE, "max", "[0, 3]");
    expect_error(hb_max_axis(x, -2, true), HB_ERR_SHAPE, "max", "[0, 3]");
    hb_tensor_release(x);
}
END_TEST

START_TEST(max_propagates_nan)
{
    hb_tensor *x = hb_tensor_from((const float[]){1, NAN, 3, 4, 5, 6}, HB_SHAPE(2, 3));
    hb_tensor *m = hb_max(x), *m1 = hb_max_axis(x, 1, false), *m0 = hb_max_axis(x, 0, false);
    ck_assert_float_nan(hb_item(m));
    expect_close(m1, ((const double[]){NAN, 6}), 0, 0);
    expect_close(m0, ((const double[]){4, NAN, 6}), 0, 0);
    release_all(4, (hb_tensor *[]){x, m, m1, m0});
}
END_TEST

START_TEST(max_of_negatives)
{
    hb_tensor *x = hb_full(HB_SHAPE(3, 4), -5.0f);
    hb_tensor_data(x)[6] = -2.0f;
    hb_tensor *m = hb_max(x), *m1 = hb_max_axis(x, 1, true);
    ck_assert_float_eq(hb_item(m), -2.0f);
    expect_shape(m1, HB_SHAPE(3, 1));
    expect_close(m1, ((const double[]){-5, -2, -5}), 0, 0);
    release_all(3, (hb_tensor *[]){x, m, m1});
}
END_TEST

/* ---- softmax ------------------------------------------------------------------------------ */

/* softmax and log_softmax of x along axis against the reference; softmax lines sum to 1 and
 * log_softmax is finite wherever x is. */
static void check_softmax(hb_tensor *x, int axis)
{
    hb_tensor *y = hb_softmax(x, axis), *ly = hb_log_softmax(x, axis);
    expect_shape(y, hb_tensor_ndim(x), hb_tensor_shape(x));
    expect_shape(ly, hb_tensor_ndim(x), hb_tensor_shape(x));
    double *ref = ref_softmax(x, axis, false), *lref = ref_softmax(x, axis, true);
    expect_close(y, ref, 1e-5, 1e-12);
    expect_close(ly, lref, 1e-5, 1e-6);
    hb_tensor *sums = hb_sum_axis(y, axis, false);
    ck_assert_tensor_ok(sums);
    for (int64_t i = 0; i < hb_tensor_numel(sums); i++)
        ck_assert_msg(fabs(hb_tensor_cdata(sums)[i] - 1.0) <= 1e-5, "axis %d: line %lld sums to %g",
                      axis, (long long)i, hb_tensor_cdata(sums)[i]);
    for (int64_t i = 0; i < hb_tensor_numel(x); i++)
        ck_assert_msg(!isfinite(hb_tensor_cdata(x)[i]) || isfinite(hb_tensor_cdata(ly)[i]),
                      "axis %d: log_softmax[%lld] = %g", axis, (long long)i,
                      hb_tensor_cdata(ly)[i]);
    free(ref), free(lref);
    release_all(3, (hb_tensor *[]){y, ly, sums});
}

START_TEST(softmax_2d)
{
    hb_rng rng = seeded(8000);
    hb_tensor *x = normal(&rng, HB_SHAPE(4, 7), 3.0f);
    for (int axis = -2; axis < 2; axis++)
        check_softmax(x, axis);
    hb_tensor_release(x);
}
END_TEST

START_TEST(softmax_3d)
{
    hb_rng rng = seeded(8001);
    hb_tensor *x = normal(&rng, HB_SHAPE(2, 3, 5), 3.0f);
    for (int axis = -3; axis < 3; axis++)
        check_softmax(x, axis);
    hb_tensor_release(x);
}
END_TEST

START_TEST(softmax_small_shapes)
{
    hb_rng rng = seeded(8002);
    hb_tensor *v = normal(&rng, HB_SHAPE(6), 1.0f), *col = normal(&rng, HB_SHAPE(3, 1), 1.0f);
    check_softmax(v, 0);
    check_softmax(v, -1);
    check_softmax(col, 0);
    check_softmax(col, 1); /* one element per line: all ones, log all zeros */
    hb_tensor *y = hb_softmax(col, 1);
    expect_close(y, ((const double[]){1, 1, 1}), 0, 0);
    release_all(3, (hb_tensor *[]){v, col, y});
}
END_TEST

START_TEST(softmax_large_values)
{
    hb_rng rng = seeded(8003);
    hb_tensor *x = normal(&rng, HB_SHAPE(3, 4), 1.0f);
    float *p = hb_tensor_data(x);
    for (int i = 0; i < 4; i++) /* row 0 near 1000, row 1 spread over ±1000 */
        p[i] += 1000.0f;
    p[4] = 1000.0f, p[5] = 0.0f, p[6] = -1000.0f, p[7] = 999.0f;
    p[8] = -1000.0f, p[9] = -1001.0f, p[10] = -999.5f, p[11] = -1000.0f;
    for (int axis = -2; axis < 2; axis++)
        check_softmax(x, axis);
    hb_tensor *y = hb_softmax(x, 1);
    for (int i = 0; i < 12; i++)
        ck_assert_msg(isfinite(hb_tensor_cdata(y)[i]), "softmax[%d] = %g", i,
                      hb_tensor_cdata(y)[i]);
    release_all(2, (hb_tensor *[]){x, y});
}
END_TEST

START_TEST(softmax_with_neg_infinity)
{
    hb_tensor *x = hb_tensor_from((const float[]){0, -INFINITY, 1, -INFINITY, 2, 2}, HB_SHAPE(2, 3));
    hb_tensor *y = hb_softmax(x, -1), *ly = hb_log_softmax(x, -1);
    double *ref = ref_softmax(x, -1, false), *lref = ref_softmax(x, -1, true);
    expect_close(y, ref, 1e-6, 1e-12);
    expect_close(ly, lref, 1e-6, 1e-6); /* -inf where the input is -inf */
    free(ref), free(lref);
    release_all(3, (hb_tensor *[]){x, y, ly});
}
END_TEST

/* ---- data movement ------------------------------------------------------------------------ */

START_TEST(reshape_keeps_values)
{
    hb_rng rng = seeded(9000);
    hb_tensor *x = normal(&rng, HB_SHAPE(2, 3, 4), 1.0f);
    static const struct {
        shp target, out;
    } cases[] = {
        {SH(4, 6), SH(4, 6)},       {SH(-1, 4), SH(6, 4)},       {SH(2, -1), SH(2, 12)},
        {SH(24), SH(24)},           {SH(-1), SH(24)},            {SH(1, 24, 1), SH(1, 24, 1)},
        {SH(2, 3, 4), SH(2, 3, 4)}, {SH(3, -1, 2), SH(3, 4, 2)}, {SH(1, -1), SH(1, 24)},
    };
    for (int k = 0; k < NCASES(cases); k++) {
        hb_tensor *y = hb_reshape(x, cases[k].target.nd, cases[k].target.d);
        expect_shape(y, cases[k].out.nd, cases[k].out.d);
        ck_assert(memcmp(hb_tensor_cdata(y), hb_tensor_cdata(x), 24 * sizeof(float)) == 0);
        hb_tensor_release(y);
    }
    hb_tensor_release(x);
}
END_TEST

START_TEST(reshape_scalar_and_empty)
{
    hb_tensor *one = hb_full(HB_SHAPE(1, 1), 4.5f), *s = hb_reshape(one, HB_SCALAR_SHAPE);
    expect_shape(s, HB_SCALAR_SHAPE);
    ck_assert_float_eq(hb_item(s), 4.5f);
    hb_tensor *back = hb_reshape(s, HB_SHAPE(1, -1, 1));
    expect_shape(back, HB_SHAPE(1, 1, 1));
    hb_tensor *e = hb_zeros(HB_SHAPE(0, 3)), *e1 = hb_reshape(e, HB_SHAPE(3, -1)),
              *e2 = hb_reshape(e, HB_SHAPE(-1, 3));
    expect_shape(e1, HB_SHAPE(3, 0));
    expect_shape(e2, HB_SHAPE(0, 3));
    release_all(6, (hb_tensor *[]){one, s, back, e, e1, e2});
}
END_TEST

START_TEST(flatten_shapes)
{
    hb_rng rng = seeded(9100);
    hb_tensor *x = normal(&rng, HB_SHAPE(2, 3, 4), 1.0f), *y = hb_flatten(x);
    expect_shape(y, HB_SHAPE(2, 12));
    ck_assert(memcmp(hb_tensor_cdata(y), hb_tensor_cdata(x), 24 * sizeof(float)) == 0);
    hb_tensor *z = hb_zeros(HB_SHAPE(0, 3, 4)), *fz = hb_flatten(z);
    expect_shape(fz, HB_SHAPE(0, 12)); /* the width survives a zero-size batch */
    hb_tensor *w = hb_zeros(HB_SHAPE(2, 3, 0)), *fw = hb_flatten(w);
    expect_shape(fw, HB_SHAPE(2, 0));
    hb_tensor *c = normal(&rng, HB_SHAPE(5, 1), 1.0f), *fc = hb_flatten(c);
    expect_shape(fc, HB_SHAPE(5, 1));
    hb_tensor *d4 = normal(&rng, HB_SHAPE(3, 2, 1, 2), 1.0f), *f4 = hb_flatten(d4);
    expect_shape(f4, HB_SHAPE(3, 4));
    release_all(10, (hb_tensor *[]){x, y, z, fz, w, fw, c, fc, d4, f4});
}
END_TEST

/* transpose(x, a0, a1) against the reference, axes possibly negative. */
static void check_transpose(hb_tensor *x, int a0, int a1)
{
    int nd = hb_tensor_ndim(x), n0 = a0 < 0 ? a0 + nd : a0, n1 = a1 < 0 ? a1 + nd : a1;
    int64_t od[HB_MAX_DIMS];
    memcpy(od, hb_tensor_shape(x), sizeof(int64_t) * (size_t)nd);
    od[n0] = hb_tensor_shape(x)[n1], od[n1] = hb_tensor_shape(x)[n0];
    hb_tensor *y = hb_transpose(x, a0, a1);
    expect_shape(y, nd, od);
    double *ref = ref_transpose(x, n0, n1);
    expect_close(y, ref, 0, 0);
    free(ref);
    hb_tensor_release(y);
}

START_TEST(transpose_axes)
{
    hb_rng rng = seeded(9200);
    hb_tensor *m = normal(&rng, HB_SHAPE(3, 5), 1.0f), *t = normal(&rng, HB_SHAPE(2, 3, 4), 1.0f);
    hb_tensor *q = normal(&rng, HB_SHAPE(2, 3, 4, 5), 1.0f), *row = normal(&rng, HB_SHAPE(1, 4), 1.0f);
    hb_tensor *e = hb_zeros(HB_SHAPE(0, 3));
    check_transpose(m, 0, 1);
    check_transpose(m, 1, 0);
    check_transpose(m, -1, -2);
    check_transpose(m, 1, 1);
    check_transpose(t, 0, 2);
    check_transpose(t, 2, 0);
    check_transpose(t, 1, 2);
    check_transpose(t, 0, 1);
    check_transpose(t, -1, 0);
    check_transpose(t, -3, -2);
    check_transpose(q, 1, 3);
    check_transpose(q, 0, -1);
    check_transpose(row, 0, 1);
    check_transpose(e, 0, 1);
    hb_tensor *tt = hb_transpose(m, 0, 1), *back = hb_transpose(tt, 1, 0);
    expect_identical(back, m);
    release_all(7, (hb_tensor *[]){m, t, q, row, e, tt, back});
}
END_TEST

/* concat of n tensors of the given shapes along axis into out, against the reference. */
static void check_concat(hb_rng *rng, int n, const shp *shapes, int axis, shp out)
{
    hb_tensor *xs[16];
    ck_assert_int_le(n, 16);
    for (int i = 0; i < n; i++)
        xs[i] = normal(rng, shapes[i].nd, shapes[i].d, 1.0f);
    hb_tensor *y = hb_concat(n, xs, axis);
    expect_shape(y, out.nd, out.d);
    double *ref = ref_concat(n, xs, axis < 0 ? axis + out.nd : axis, out.nd, out.d);
    expect_close(y, ref, 0, 0);
    free(ref);
    hb_tensor_release(y);
    release_all(n, xs);
}

START_TEST(concat_axes)
{
    hb_rng rng = seeded(9300);
    check_concat(&rng, 2, (shp[]){SH(2, 3), SH(4, 3)}, 0, (shp)SH(6, 3));
    check_concat(&rng, 2, (shp[]){SH(2, 3), SH(2, 5)}, 1, (shp)SH(2, 8));
    check_concat(&rng, 2, (shp[]){SH(2, 3), SH(2, 5)}, -1, (shp)SH(2, 8));
    check_concat(&rng, 2, (shp[]){SH(2, 3), SH(4, 3)}, -2, (shp)SH(6, 3));
    check_concat(&rng, 3, (shp[]){SH(2, 3), SH(1, 3), SH(3, 3)}, 0, (shp)SH(6, 3));
    check_concat(&rng, 3, (shp[]){SH(2, 1), SH(2, 4), SH(2, 2)}, 1, (shp)SH(2, 7));
    check_concat(&rng, 3, (shp[]){SH(2, 1), SH(2, 4), SH(2, 2)}, -1, (shp)SH(2, 7));
    check_concat(&rng, 2, (shp[]){SH(2, 3, 4), SH(5, 3, 4)}, 0, (shp)SH(7, 3, 4));
    check_concat(&rng, 3, (shp[]){SH(2, 3, 4), SH(2, 1, 4), SH(2, 2, 4)}, 1, (shp)SH(2, 6, 4));
    check_concat(&rng, 3, (shp[]){SH(2, 3, 4), SH(2, 3, 1), SH(2, 3, 2)}, -1, (shp)SH(2, 3, 7));
    check_concat(&rng, 2, (shp[]){SH(2, 3, 4), SH(2, 3, 2)}, 2, (shp)SH(2, 3, 6));
    check_concat(&rng, 3, (shp[]){SH(2, 3, 4), SH(2, 0, 4), SH(2, 2, 4)}, 1, (shp)SH(2, 5, 4));
    check_concat(&rng, 1, (shp[]){SH(2, 3)}, 1, (shp)SH(2, 3));
    check_concat(&rng, 2, (shp[]){SH(5), SH(2)}, 0, (shp)SH(7));
}
END_TEST

/* More inputs than eager.c keeps inline (8). */
START_TEST(concat_many_inputs)
{
    hb_rng rng = seeded(9301);
    shp shapes[12];
    int64_t total = 0;
    for (int i = 0; i < 12; i++) {
        shapes[i] = (shp)SH(1 + i % 3, 2);
        total += 1 + i % 3;
    }
    check_concat(&rng, 12, shapes, 0, (shp)SH(total, 2));
    for (int i = 0; i < 12; i++)
        shapes[i] = (shp)SH(2, 1 + i % 3);
    check_concat(&rng, 12, shapes, 1, (shp)SH(2, total));
}
END_TEST

/* ---- errors ------------------------------------------------------------------------------- */

START_TEST(matmul_errors)
{
    hb_tensor *a = hb_ones(HB_SHAPE(2, 3)), *b = hb_ones(HB_SHAPE(4, 5)), *v = hb_ones(HB_SHAPE(3));
    hb_tensor *m = hb_ones(HB_SHAPE(3, 2)), *s = hb_scalar(1.0f);
    hb_tensor *b3 = hb_ones(HB_SHAPE(2, 3, 4)), *c3 = hb_ones(HB_SHAPE(3, 4, 5));
    expect_error(hb_matmul(a, b), HB_ERR_SHAPE, "matmul", "[2, 3]", "[4, 5]");
    expect_error(hb_matmul(b, a), HB_ERR_SHAPE, "matmul", "[4, 5]", "[2, 3]");
    expect_error(hb_matmul(v, m), HB_ERR_SHAPE, "matmul", "[3]", "[3, 2]");
    expect_error(hb_matmul(a, v), HB_ERR_SHAPE, "matmul", "[2, 3]", "[3]");
    expect_error(hb_matmul(v, v), HB_ERR_SHAPE, "matmul", "[3]");
    expect_error(hb_matmul(s, a), HB_ERR_SHAPE, "matmul", "[]", "[2, 3]");
    expect_error(hb_matmul(b3, c3), HB_ERR_SHAPE, "matmul", "[2, 3, 4]", "[3, 4, 5]");
    release_all(7, (hb_tensor *[]){a, b, v, m, s, b3, c3});
}
END_TEST

START_TEST(linear_errors)
{
    hb_tensor *x = hb_ones(HB_SHAPE(2, 3)), *w = hb_ones(HB_SHAPE(4, 5)), *w3 = hb_ones(HB_SHAPE(4, 3));
    hb_tensor *b5 = hb_ones(HB_SHAPE(5)), *b14 = hb_ones(HB_SHAPE(1, 4)), *b4 = hb_ones(HB_SHAPE(4));
    hb_tensor *v = hb_ones(HB_SHAPE(3)), *s = hb_scalar(1.0f), *w33 = hb_ones(HB_SHAPE(1, 4, 3));
    expect_error(hb_linear_nobias(x, w), HB_ERR_SHAPE, "linear", "[2, 3]", "[4, 5]");
    expect_error(hb_linear(x, w, b4), HB_ERR_SHAPE, "linear", "[2, 3]", "[4, 5]");
    expect_error(hb_linear(x, w3, b5), HB_ERR_SHAPE, "linear", "[5]", "[4, 3]");
    expect_error(hb_linear(x, w3, b14), HB_ERR_SHAPE, "linear", "[1, 4]", "[4, 3]");
    expect_error(hb_linear(x, w3, s), HB_ERR_SHAPE, "linear", "[]", "[4, 3]");
    expect_error(hb_linear_nobias(x, v), HB_ERR_SHAPE, "linear", "[2, 3]", "[3]");
    expect_error(hb_linear_nobias(x, w33), HB_ERR_SHAPE, "linear", "[2, 3]", "[1, 4, 3]");
    expect_error(hb_linear_nobias(s, w3), HB_ERR_SHAPE, "linear", "[]", "[4, 3]");
    release_all(9, (hb_tensor *[]){x, w, w3, b5, b14, b4, v, s, w33});
}
END_TEST

START_TEST(broadcast_errors)
{
    hb_tensor *a = hb_ones(HB_SHAPE(2, 3)), *b = hb_ones(HB_SHAPE(4, 5)), *r = hb_ones(HB_SHAPE(2));
    hb_tensor *t = hb_ones(HB_SHAPE(3, 2)), *c = hb_ones(HB_SHAPE(2, 2, 3)), *z = hb_ones(HB_SHAPE(0));
    for (int k = 0; k < NCASES(binary_ops); k++) {
        binary_fn f = binary_ops[k].fn;
        const char *name = binary_ops[k].name;
        expect_error(f(a, b), HB_ERR_SHAPE, name, "[2, 3]", "[4, 5]");
        expect_error(f(a, r), HB_ERR_SHAPE, name, "[2, 3]", "[2]");
        expect_error(f(t, a), HB_ERR_SHAPE, name, "[3, 2]", "[2, 3]");
        expect_error(f(c, t), HB_ERR_SHAPE, name, "[2, 2, 3]", "[3, 2]");
        expect_error(f(z, a), HB_ERR_SHAPE, name, "[0]", "[2, 3]");
    }
    release_all(6, (hb_tensor *[]){a, b, r, t, c, z});
}
END_TEST

START_TEST(axis_errors)
{
    hb_tensor *x = hb_ones(HB_SHAPE(2, 3)), *s = hb_scalar(1.0f);
    for (int r = 0; r < NCASES(reducers); r++) {
        expect_error(reducers[r].axis(x, 2, false), HB_ERR_ARG, reducers[r].name, "axis", "2",
                     "[2, 3]");
        expect_error(reducers[r].axis(x, -3, true), HB_ERR_ARG, reducers[r].name, "axis", "-3",
                     "[2, 3]");
        expect_error(reducers[r].axis(x, 1000, false), HB_ERR_ARG, reducers[r].name, "[2, 3]");
    }
    expect_error(hb_softmax(x, 2), HB_ERR_ARG, "softmax", "[2, 3]");
    expect_error(hb_softmax(x, -3), HB_ERR_ARG, "softmax", "[2, 3]");
    expect_error(hb_log_softmax(x, 2), HB_ERR_ARG, "log_softmax", "[2, 3]");
    expect_error(hb_log_softmax(x, -3), HB_ERR_ARG, "log_softmax", "[2, 3]");
    expect_error(hb_softmax(s, 0), HB_ERR_ARG, "softmax", "[]");
    expect_error(hb_transpose(x, 0, 2), HB_ERR_ARG, "transpose", "[2, 3]");
    expect_error(hb_transpose(x, -3, 0), HB_ERR_ARG, "transpose", "[2, 3]");
    expect_error(hb_transpose(s, 0, 0), HB_ERR_ARG, "transpose", "[]");
    release_all(2, (hb_tensor *[]){x, s});
}
END_TEST

START_TEST(reshape_errors)
{
    hb_tensor *x = hb_ones(HB_SHAPE(2, 3)), *s = hb_scalar(1.0f);
    expect_error(hb_reshape(x, HB_SHAPE(4, 2)), HB_ERR_SHAPE, "reshape", "[2, 3]", "[4, 2]");
    expect_error(hb_reshape(x, HB_SHAPE(7)), HB_ERR_SHAPE, "reshape", "[2, 3]", "[7]");
    expect_error(hb_reshape(x, HB_SCALAR_SHAPE), HB_ERR_SHAPE, "reshape", "[2, 3]", "[]");
    expect_error(hb_reshape(x, HB_SHAPE(-1, 4)), HB_ERR_SHAPE, "reshape", "[2, 3]", "[-1, 4]");
    expect_error(hb_reshape(x, HB_SHAPE(-1, -1)), HB_ERR_ARG, "reshape", "[2, 3]");
    expect_error(hb_reshape(x, HB_SHAPE(-2, -3)), HB_ERR_ARG, "reshape", "[2, 3]");
    expect_error(hb_reshape(x, HB_SHAPE(1, 1, 1, 1, 1, 1, 1, 2, 3)), HB_ERR_ARG, "reshape");
    expect_error(hb_reshape(x, 2, NULL), HB_ERR_ARG, "reshape");
    expect_error(hb_flatten(s), HB_ERR_SHAPE, "flatten", "[]");
    release_all(2, (hb_tensor *[]){x, s});
}
END_TEST

START_TEST(concat_errors)
{
    hb_tensor *a = hb_ones(HB_SHAPE(2, 3)), *b = hb_ones(HB_SHAPE(2, 4)), *c = hb_ones(HB_SHAPE(2, 3, 1));
    hb_tensor *s = hb_scalar(1.0f);
    expect_error(hb_concat(2, (hb_tensor *[]){a, b}, 0), HB_ERR_SHAPE, "concat", "[2, 3]",
                 "[2, 4]");
    expect_error(hb_concat(3, (hb_tensor *[]){a, a, b}, -2), HB_ERR_SHAPE, "concat", "[2, 3]",
                 "[2, 4]");
    expect_error(hb_concat(2, (hb_tensor *[]){a, c}, 1), HB_ERR_SHAPE, "concat", "[2, 3]",
                 "[2, 3, 1]");
    expect_error(hb_concat(2, (hb_tensor *[]){a, a}, 2), HB_ERR_ARG, "concat", "[2, 3]");
    expect_error(hb_concat(2, (hb_tensor *[]){a, a}, -3), HB_ERR_ARG, "concat", "[2, 3]");
    expect_error(hb_concat(2, (hb_tensor *[]){s, s}, 0), HB_ERR_ARG, "concat", "[]");
    expect_error(hb_concat(0, (hb_tensor *[]){a}, 0), HB_ERR_ARG, "concat");
    hb_clear_error();
    expect_error(hb_concat(2, NULL, 0), HB_ERR_ARG, "concat");
    release_all(4, (hb_tensor *[]){a, b, c, s});
}
END_TEST

/* hb_relu(hb_add(a, bad)) fails with the add's message, and so do longer chains. */
START_TEST(null_keeps_first_message)
{
    hb_tensor *a = hb_ones(HB_SHAPE(2, 3)), *bad = hb_ones(HB_SHAPE(4, 5));
    hb_tensor *w = hb_ones(HB_SHAPE(3, 3));
    hb_clear_error();
    hb_tensor_release(hb_add(a, bad));
    char first[512];
    snprintf(first, sizeof first, "%s", hb_last_error());
    ck_assert_msg(strstr(first, "add") && strstr(first, "[4, 5]"), "message: %s", first);
    hb_clear_error();
    expect_error(hb_relu(hb_add(a, bad)), HB_ERR_SHAPE, first);
    ck_assert_str_eq(hb_last_error(), first);
    hb_clear_error();
    hb_tensor *y = hb_sum(hb_softmax(hb_matmul(hb_relu(hb_add(a, bad)), w), -1));
    expect_error(y, HB_ERR_SHAPE, first);
    ck_assert_str_eq(hb_last_error(), first);
    release_all(3, (hb_tensor *[]){a, bad, w});
}
END_TEST

/* Every op given NULL anywhere returns NULL and leaves a pending message alone. */
START_TEST(every_op_propagates_null)
{
    hb_tensor *a = hb_ones(HB_SHAPE(2, 3)), *w = hb_ones(HB_SHAPE(4, 3)), *b = hb_ones(HB_SHAPE(4));
    hb_clear_error();
    hb_tensor_release(hb_matmul(a, a)); /* the first failure */
    char first[512];
    snprintf(first, sizeof first, "%s", hb_last_error());
    ck_assert_msg(first[0] != '\0', "matmul of [2, 3] and [2, 3] set no message");
    hb_tensor *outs[] = {
        hb_matmul(NULL, a), hb_matmul(a, NULL), hb_linear(NULL, w, b), hb_linear(a, NULL, b),
        hb_linear_nobias(NULL, w), hb_sum(NULL), hb_mean(NULL), hb_max(NULL),
        hb_sum_axis(NULL, 0, false), hb_mean_axis(NULL, 0, true), hb_max_axis(NULL, -1, false),
        hb_softmax(NULL, 0), hb_log_softmax(NULL, -1), hb_reshape(NULL, HB_SHAPE(-1)),
        hb_flatten(NULL), hb_transpose(NULL, 0, 1), hb_concat(2, (hb_tensor *[]){a, NULL}, 0),
        hb_concat(2, (hb_tensor *[]){NULL, a}, 0)};
    for (int k = 0; k < NCASES(outs); k++)
        ck_assert_msg(outs[k] == NULL, "op %d returned a tensor", k);
    for (int k = 0; k < NCASES(binary_ops); k++) {
        ck_assert_ptr_null(binary_ops[k].fn(NULL, a));
        ck_assert_ptr_null(binary_ops[k].fn(a, NULL));
        ck_assert_ptr_null(binary_ops[k].fn(NULL, NULL));
    }
    for (int k = 0; k < NCASES(scalar_ops); k++)
        ck_assert_ptr_null(scalar_ops[k].fn(NULL, 2.0f));
    for (int k = 0; k < NCASES(unary_ops); k++)
        ck_assert_ptr_null(unary_ops[k].fn(NULL));
    ck_assert_str_eq(hb_last_error(), first);
    ck_assert_int_eq(hb_last_status(), HB_ERR_SHAPE);
    release_all(3, (hb_tensor *[]){a, w, b});
}
END_TEST

/* With no failure pending, an op given NULL says so itself, naming the op. */
#define expect_null_named(call, name)                                                         \
    do {                                                                                      \
        hb_clear_error();                                                                     \
        expect_error((call), HB_ERR_ARG, (name));                                             \
    } while (0)

START_TEST(null_without_pending_error)
{
    hb_tensor *a = hb_ones(HB_SHAPE(2, 3));
    for (int k = 0; k < NCASES(unary_ops); k++)
        expect_null_named(unary_ops[k].fn(NULL), unary_ops[k].name);
    for (int k = 0; k < NCASES(scalar_ops); k++)
        expect_null_named(scalar_ops[k].fn(NULL, 1.0f), scalar_ops[k].name);
    for (int k = 0; k < NCASES(binary_ops); k++)
        expect_null_named(binary_ops[k].fn(a, NULL), binary_ops[k].name);
    for (int r = 0; r < NCASES(reducers); r++) {
        expect_null_named(reducers[r].all(NULL), reducers[r].name);
        expect_null_named(reducers[r].axis(NULL, 0, false), reducers[r].name);
    }
    expect_null_named(hb_matmul(NULL, a), "matmul");
    expect_null_named(hb_linear_nobias(a, NULL), "linear");
    expect_null_named(hb_softmax(NULL, 0), "softmax");
    expect_null_named(hb_log_softmax(NULL, 0), "log_softmax");
    expect_null_named(hb_reshape(NULL, HB_SHAPE(-1)), "reshape");
    expect_null_named(hb_transpose(NULL, 0, 1), "transpose");
    expect_null_named(hb_concat(2, (hb_tensor *[]){a, NULL}, 0), "concat");
    hb_tensor_release(a);
}
END_TEST

START_TEST(flatten_null_without_pending_error)
{
    hb_clear_error();
    expect_error(hb_flatten(NULL), HB_ERR_ARG, "flatten");
}
END_TEST

/* A NULL bias is a failure upstream, never "no bias": that is hb_linear_nobias. */
START_TEST(linear_null_bias_is_an_error)
{
    hb_tensor *x = hb_ones(HB_SHAPE(2, 3)), *w = hb_ones(HB_SHAPE(4, 3));
    hb_clear_error();
    expect_error(hb_linear(x, w, NULL), HB_ERR_ARG, "linear", "input 2");
    hb_tensor_release(x), hb_tensor_release(w);
}
END_TEST

/* A successful op after a failure does not hide it, and a new failure replaces an old one. */
START_TEST(errors_replace_and_persist)
{
    hb_tensor *a = hb_ones(HB_SHAPE(2, 3)), *b = hb_ones(HB_SHAPE(4, 5));
    hb_clear_error();
    expect_error(hb_add(a, b), HB_ERR_SHAPE, "add");
    expect_error(hb_sum_axis(a, 5, false), HB_ERR_ARG, "sum", "axis 5");
    ck_assert_ptr_null(strstr(hb_last_error(), "add"));
    hb_clear_error();
    ck_assert_int_eq(hb_last_status(), HB_OK);
    ck_assert_str_eq(hb_last_error(), "");
    release_all(2, (hb_tensor *[]){a, b});
}
END_TEST

/* ---- suite -------------------------------------------------------------------------------- */

/* Comparisons with a scalar and logic against plain C, NaN included (every comparison with
 * NaN is false except !=), and logic broadcasting a row against a matrix. */
START_TEST(comparisons_and_logic)
{
    const float v[8] = {-2.0f, -0.0f, 0.0f, 0.5f, 1.0f, 3.0f, NAN, INFINITY};
    hb_tensor *x = hb_tensor_from(v, HB_SHAPE(2, 4));
    const float s = 0.5f;
    hb_tensor *r[6] = {hb_gt(x, s), hb_lt(x, s), hb_ge(x, s), hb_le(x, s), hb_eq(x, s),
                       hb_ne(x, s)};
    for (int i = 0; i < 8; i++) {
        const bool want[6] = {v[i] > s, v[i] < s, v[i] >= s, v[i] <= s, v[i] == s, v[i] != s};
        for (int k = 0; k < 6; k++)
            ck_assert_msg(hb_tensor_data(r[k])[i] == (want[k] ? 1.0f : 0.0f), "op %d at %g", k,
                          (double)v[i]);
    }
    hb_tensor *row = hb_tensor_from((float[]){1, 0, 0, 2}, HB_SHAPE(4));
    hb_tensor *and = hb_logical_and(x, row), *or = hb_logical_or(x, row), *not = hb_logical_not(x);
    for (int i = 0; i < 8; i++) {
        bool a = v[i] != 0.0f, b = hb_tensor_data(row)[i % 4] != 0.0f;
        ck_assert_float_eq(hb_tensor_data(and)[i], a && b ? 1.0f : 0.0f);
        ck_assert_float_eq(hb_tensor_data(or)[i], a || b ? 1.0f : 0.0f);
        ck_assert_float_eq(hb_tensor_data(not)[i], a ? 0.0f : 1.0f);
    }
    hb_tensor *three = hb_ones(HB_SHAPE(3));
    ck_assert_ptr_null(hb_logical_and(x, three)); /* [2, 4] and [3] do not broadcast */
    hb_tensor_release(three);
    for (int k = 0; k < 6; k++)
        hb_tensor_release(r[k]);
    hb_tensor_release(and), hb_tensor_release(or), hb_tensor_release(not);
    hb_tensor_release(row), hb_tensor_release(x);
}
END_TEST

/* Slices against plain index arithmetic, on every axis; slicing a concat gives its parts back
 * bit for bit; out-of-range slices are errors naming the shape. */
START_TEST(slice_matches_reference)
{
    hb_rng rng;
    hb_rng_seed(&rng, 77);
    hb_tensor *x = hb_randn(HB_SHAPE(3, 4, 5), &rng);
    const float *v = hb_tensor_cdata(x);
    for (int axis = 0; axis < 3; axis++) {
        int64_t dim = hb_tensor_dim(x, axis);
        for (int64_t start = 0; start < dim; start++)
            for (int64_t len = 0; start + len <= dim; len++) {
                hb_tensor *y = hb_slice(x, axis - (start % 2 ? 3 : 0), start, len);
                ck_assert_tensor_ok(y);
                ck_assert_int_eq(hb_tensor_dim(y, axis), len);
                const float *w = hb_tensor_cdata(y);
                int64_t k = 0;
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 4; j++)
                        for (int l = 0; l < 5; l++) {
                            int64_t idx[3] = {i, j, l};
                            if (idx[axis] < start || idx[axis] >= start + len)
                                continue;
                            ck_assert_float_eq(w[k++], v[(i * 4 + j) * 5 + l]);
                        }
                ck_assert_int_eq(k, hb_tensor_numel(y));
                hb_tensor_release(y);
            }
    }
    hb_tensor *a = hb_slice(x, 1, 0, 1), *b = hb_slice(x, 1, 1, 3);
    hb_tensor *parts[2] = {a, b}, *cat = hb_concat(2, parts, 1);
    ck_assert(memcmp(hb_tensor_cdata(cat), v, sizeof(float) * 60) == 0);
    ck_assert_ptr_null(hb_slice(x, 2, 3, 3));
    ck_assert_int_eq(hb_last_status(), HB_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(hb_last_error(), "[3, 4, 5]"));
    ck_assert_ptr_null(hb_slice(x, 3, 0, 1));
    ck_assert_ptr_null(hb_slice(x, 0, -1, 1));
    hb_tensor_release(a), hb_tensor_release(b), hb_tensor_release(cat), hb_tensor_release(x);
}
END_TEST

/* Pads against index arithmetic: each output element is the input's element it came from, or
 * the fill; negative counts crop. */
START_TEST(pad_matches_reference)
{
    static const int64_t cases[][2][3] = {
        {{1, 0, 2}, {0, 3, 1}},   /* pads only */
        {{-1, 2, 0}, {1, -2, -3}}, /* crops and pads mixed */
        {{0, 0, 0}, {0, 0, 0}},    /* nothing */
        {{-2, 0, 0}, {-1, 0, 0}},  /* everything cropped along axis 0: an empty result */
    };
    hb_rng rng;
    hb_rng_seed(&rng, 78);
    hb_tensor *x = hb_randn(HB_SHAPE(3, 4, 5), &rng);
    const float *v = hb_tensor_cdata(x);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int64_t *b = cases[c][0], *a = cases[c][1];
        hb_tensor *y = hb_pad(x, b, a, -7.5f);
        ck_assert_tensor_ok(y);
        int64_t d[3];
        for (int k = 0; k < 3; k++) {
            d[k] = hb_tensor_dim(x, k) + b[k] + a[k];
            ck_assert_int_eq(hb_tensor_dim(y, k), d[k]);
        }
        const float *w = hb_tensor_cdata(y);
        for (int64_t i = 0; i < d[0]; i++)
            for (int64_t j = 0; j < d[1]; j++)
                for (int64_t l = 0; l < d[2]; l++) {
                    int64_t si = i - b[0], sj = j - b[1], sl = l - b[2];
                    bool inside = si >= 0 && si < 3 && sj >= 0 && sj < 4 && sl >= 0 && sl < 5;
                    float want = inside ? v[(si * 4 + sj) * 5 + sl] : -7.5f;
                    ck_assert_msg(w[(i * d[1] + j) * d[2] + l] == want, "case %zu, [%lld, %lld, "
                                  "%lld]", c, (long long)i, (long long)j, (long long)l);
                }
        hb_tensor_release(y);
    }
    /* NULL: no padding on that side; a 0-D tensor pads to itself */
    hb_tensor *y = hb_pad(x, NULL, (int64_t[]){0, 0, 1}, 0.0f), *s = hb_full(HB_SHAPE(), 2.0f);
    ck_assert_int_eq(hb_tensor_dim(y, 2), 6);
    hb_tensor *s2 = hb_pad(s, NULL, NULL, 0.0f);
    ck_assert_float_eq(hb_tensor_cdata(s2)[0], 2.0f);
    hb_tensor_release(y), hb_tensor_release(s), hb_tensor_release(s2);
    /* removing more than an axis has, from either side or both */
    ck_assert_ptr_null(hb_pad(x, (int64_t[]){0, -5, 0}, NULL, 0.0f));
    ck_assert_msg(strstr(hb_last_error(), "pad: before [0, -5, 0] and after [0, 0, 0] remove "
                         "more than input [3, 4, 5] has along axis 1"), "%s", hb_last_error());
    ck_assert_ptr_null(hb_pad(x, (int64_t[]){0, 0, -3}, (int64_t[]){0, 0, -3}, 0.0f));
    ck_assert_int_eq(hb_last_status(), HB_ERR_SHAPE);
    hb_clear_error();
    hb_tensor_release(x);
}
END_TEST

/* A block that pads, compiled and frozen, gives its eager results bit for bit. */
static hb_tensor *pad_forward(hb_block *self, hb_tensor *x)
{
    hb_tensor *p = hb_pad(x, (int64_t[]){0, 1, -1}, (int64_t[]){0, 2, 1}, -INFINITY);
    hb_tensor *q = hb_pad(hb_relu(x), NULL, (int64_t[]){0, 3, 0}, 0.5f);
    return hb_add(hb_mul(hb_block_param(self, "w"), hb_relu(p)), q);
}

START_TEST(pad_compiled_matches_eager)
{
    hb_rng rng;
    hb_rng_seed(&rng, 79);
    hb_tensor *x = hb_randn(HB_SHAPE(2, 4, 6), &rng), *ref = NULL;
    for (int mode = 0; mode < 3; mode++) {
        hb_block *b = hb_block_new("Pad", pad_forward);
        hb_block_add_const(b, "w", hb_full(HB_SHAPE(6), 1.5f));
        if (mode > 0)
            hb_hybridize_with(b, true, &(hb_hybrid_options){.freeze = mode == 2});
        for (int call = 0; call < 2; call++) {
            hb_tensor *y = hb_block_call(b, x);
            ck_assert_msg(y != NULL, "%s", hb_last_error());
            ck_assert_int_eq(hb_tensor_dim(y, 1), 7);
            if (!ref) {
                ref = y;
                continue;
            }
            ck_assert_msg(memcmp(hb_tensor_cdata(y), hb_tensor_cdata(ref),
                                 sizeof(float) * (size_t)hb_tensor_numel(y)) == 0,
                          "mode %d call %d differs from eager", mode, call);
            hb_tensor_release(y);
        }
        if (mode > 0)
            ck_assert_ptr_nonnull(hb_block_plan(b, HB_SHAPE(2, 4, 6)));
        hb_block_release(b);
    }
    hb_tensor_release(ref), hb_tensor_release(x);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");

    TCase *mm = tcase_create("matmul");
    tcase_add_loop_test(mm, matmul_shapes, 0, NCASES(mm_cases));
    tcase_add_test(mm, matmul_k0_is_zeros);
    tcase_add_test(mm, matmul_repeatable);
    tcase_add_loop_test(mm, linear_shapes, 0, NCASES(lin_cases));
    tcase_add_test(mm, linear_matches_matmul);
    suite_add_tcase(s, mm);

    TCase *ew = tcase_create("elementwise");
    tcase_add_loop_test(ew, binary_broadcast, 0, NCASES(bc_cases));
    tcase_add_test(ew, extrema_nan);
    tcase_add_test(ew, pow_matches_reference);
    tcase_add_test(ew, pow_scalar_matches_reference);
    tcase_add_loop_test(ew, scalar_forms, 0, NCASES(scalar_ops));
    tcase_add_loop_test(ew, unary_ops_match_reference, 0, NCASES(unary_ops));
    tcase_add_test(ew, comparisons_and_logic);
    tcase_add_test(ew, slice_matches_reference);
    tcase_add_test(ew, pad_matches_reference);
    tcase_add_test(ew, pad_compiled_matches_eager);
    tcase_add_test(ew, relu_keeps_nan);
    tcase_add_test(ew, sigmoid_saturates_without_nan);
    tcase_add_test(ew, ops_leave_inputs_alone);
    suite_add_tcase(s, ew);

    TCase *red = tcase_create("reductions");
    tcase_add_test(red, reduce_over_all);
    tcase_add_loop_test(red, reduce_over_axis, 0, NCASES(reduce_shapes));
    tcase_add_test(red, reduce_empty);
    tcase_add_test(red, max_of_empty_is_an_error);
    tcase_add_test(red, max_propagates_nan);
    tcase_add_test(red, max_of_negatives);
    suite_add_tcase(s, red);

    TCase *sm = tcase_create("softmax");
    tcase_add_test(sm, softmax_2d);
    tcase_add_test(sm, softmax_3d);
    tcase_add_test(sm, softmax_small_shapes);
    tcase_add_test(sm, softmax_large_values);
    tcase_add_test(sm, softmax_with_neg_infinity);
    suite_add_tcase(s, sm);

    TCase *mv = tcase_create("movement");
    tcase_add_test(mv, reshape_keeps_values);
    tcase_add_test(mv, reshape_scalar_and_empty);
    tcase_add_test(mv, flatten_shapes);
    tcase_add_test(mv, transpose_axes);
    tcase_add_test(mv, concat_axes);
    tcase_add_test(mv, concat_many_inputs);
    suite_add_tcase(s, mv);

    TCase *err = tcase_create("errors");
    tcase_add_test(err, matmul_errors);
    tcase_add_test(err, linear_errors);
    tcase_add_test(err, broadcast_errors);
    tcase_add_test(err, axis_errors);
    tcase_add_test(err, reshape_errors);
    tcase_add_test(err, concat_errors);
    tcase_add_test(err, null_keeps_first_message);
    tcase_add_test(err, every_op_propagates_null);
    tcase_add_test(err, null_without_pending_error);
    tcase_add_test(err, flatten_null_without_pending_error);
    tcase_add_test(err, linear_null_bias_is_an_error);
    tcase_add_test(err, errors_replace_and_persist);
    suite_add_tcase(s, err);
    return s;
}

int main(void) { return run_suite(ops_suite()); }

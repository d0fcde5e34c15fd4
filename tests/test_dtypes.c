/* The "dtypes" suite: tensors of other dtypes than float32 and the ops over them (src/ir/dtype.c,
 * src/runtime/typed.c) against references written here; the errors an op gives a dtype it
 * lacks; gradients through where and the gathers; and blocks over int64 ids and bool masks,
 * hybridized, against their eager runs. Ops here run outside any block, so each result is the
 * test's to release. */
#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hb_tensor *i64s(int ndim, const int64_t *shape, const int64_t *v)
{
    hb_tensor *t = hb_tensor_from_typed(HB_I64, v, ndim, shape);
    ck_assert_tensor_ok(t);
    return t;
}

static hb_tensor *floats(int ndim, const int64_t *shape, const float *v)
{
    hb_tensor *t = hb_tensor_from(v, ndim, shape);
    ck_assert_tensor_ok(t);
    return t;
}

static void assert_bools(const hb_tensor *t, const char *want)
{
    ck_assert_tensor_ok(t);
    ck_assert_int_eq(hb_tensor_dtype(t), HB_BOOL);
    ck_assert_int_eq(hb_tensor_numel(t), (int64_t)strlen(want));
    const uint8_t *r = hb_tensor_raw((hb_tensor *)t);
    for (size_t i = 0; i < strlen(want); i++)
        ck_assert_msg(r[i] == (want[i] == '1'), "element %zu is %d, want %c", i, r[i], want[i]);
}

static void assert_refused(hb_tensor *t, hb_status st, const char *words)
{
    ck_assert_ptr_null(t);
    ck_assert_int_eq(hb_last_status(), st);
    ck_assert_msg(strstr(hb_last_error(), words), "message \"%s\" lacks \"%s\"", hb_last_error(),
                  words);
    hb_clear_error();
}

/* ---- tensors ----------------------------------------------------------------------------------- */

START_TEST(names_sizes_and_host_access)
{
    ck_assert_str_eq(hb_dtype_name(HB_I64), "int64");
    ck_assert_str_eq(hb_dtype_name(HB_BOOL), "bool");
    ck_assert_int_eq(hb_dtype_size(HB_F16), 2);
    ck_assert_int_eq(hb_dtype_size(HB_U64), 8);
    ck_assert_ptr_null(hb_dtype_name(HB_DTYPE_COUNT));
    hb_tensor *z = hb_tensor_new_typed(HB_I32, HB_SHAPE(2, 3));
    ck_assert_tensor_ok(z);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(((const int32_t *)hb_tensor_raw(z))[i], 0);
    /* float views of other dtypes are refused, naming the dtype */
    ck_assert_ptr_null(hb_tensor_data(z));
    ck_assert_msg(strstr(hb_last_error(), "hb_tensor_data: the tensor is int32"), "%s",
                  hb_last_error());
    hb_clear_error();
    int64_t big = ((int64_t)1 << 53) + 1;
    hb_tensor *one = i64s(HB_SHAPE(1), &big);
    ck_assert_float_eq(hb_item(one), (float)big);
    assert_refused(hb_tensor_new_typed((hb_dtype)99, HB_SHAPE(2)), HB_ERR_ARG, "dtype 99");
    hb_tensor_release(z), hb_tensor_release(one);
}
END_TEST

/* ---- casts -------------------------------------------------------------------------------------- */

START_TEST(casts_match_reference)
{
    const float v[] = {1.5f, -1.5f, 2.99f, -0.0f, NAN, 1e30f, -1e30f, 300.0f, 65504.0f, 1e-8f};
    hb_tensor *x = floats(HB_SHAPE(10), v);
    /* to int64: toward zero, NaN 0, saturated */
    hb_tensor *i = hb_cast(x, HB_I64);
    ck_assert_tensor_ok(i);
    const int64_t *iv = hb_tensor_raw(i);
    const int64_t want_i[] = {1, -1, 2, 0, 0, INT64_MAX, INT64_MIN, 300, 65504, 0};
    for (int k = 0; k < 10; k++)
        ck_assert_msg(iv[k] == want_i[k], "int64 %d: %lld", k, (long long)iv[k]);
    /* int64 to uint8 keeps the low bits (300 -> 44), to bool is != 0 */
    hb_tensor *u = hb_cast(i, HB_U8), *b = hb_cast(x, HB_BOOL);
    ck_assert_tensor_ok(u);
    ck_assert_int_eq(((const uint8_t *)hb_tensor_raw(u))[7], 44);
    assert_bools(b, "1110111111"); /* -0 is false, NaN true */
    /* float16: exact where representable, rounded to nearest even, overflow to inf */
    hb_tensor *h = hb_cast(x, HB_F16), *back = h ? hb_cast(h, HB_F32) : NULL;
    ck_assert_tensor_ok(back);
    const float *f = hb_tensor_cdata(back);
    ck_assert_float_eq(f[0], 1.5f);
    ck_assert_float_eq(f[2], 2.990234375f); /* the nearest half to 2.99 */
    ck_assert(signbit(f[3]) && f[3] == 0.0f);
    ck_assert(isnan(f[4]));
    ck_assert(isinf(f[5]) && f[5] > 0);
    ck_assert_float_eq(f[8], 65504.0f);
    ck_assert(fabsf(f[9] - 1e-8f) < 3e-8f); /* a subnormal half: 2^-24 steps */
    /* bool and int64 back to float */
    hb_tensor *bf = hb_cast(b, HB_F32), *if_ = hb_cast(i, HB_F32);
    ck_assert_float_eq(hb_tensor_cdata(bf)[3], 0.0f);
    ck_assert_float_eq(hb_tensor_cdata(bf)[4], 1.0f);
    ck_assert_float_eq(hb_tensor_cdata(if_)[7], 300.0f);
    hb_tensor *t[] = {x, i, u, b, h, back, bf, if_};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        hb_tensor_release(t[k]);
}
END_TEST

/* ---- arithmetic, comparisons, logic ------------------------------------------------------ */

START_TEST(integer_arithmetic_wraps_and_never_traps)
{
    const int64_t a[] = {7, -7, INT64_MIN, INT64_MAX, 5, 0};
    const int64_t b[] = {2, 2, -1, 1, 0, 3};
    hb_tensor *ta = i64s(HB_SHAPE(6), a), *tb = i64s(HB_SHAPE(6), b);
    hb_tensor *sum = hb_add(ta, tb), *dif = hb_sub(ta, tb), *prod = hb_mul(ta, tb);
    hb_tensor *quo = hb_div(ta, tb), *mx = hb_maximum(ta, tb), *neg = hb_neg(ta), *ab = hb_abs(ta);
    ck_assert_tensor_ok(sum);
    ck_assert_int_eq(hb_tensor_dtype(sum), HB_I64);
    const int64_t *s = hb_tensor_raw(sum), *d = hb_tensor_raw(dif), *p = hb_tensor_raw(prod);
    const int64_t *q = hb_tensor_raw(quo), *m = hb_tensor_raw(mx), *n = hb_tensor_raw(neg);
    ck_assert(s[0] == 9 && s[3] == INT64_MIN && d[2] == INT64_MIN + 1 && p[1] == -14);
    ck_assert(q[0] == 3 && q[1] == -3 && q[2] == INT64_MIN && q[4] == 0); /* C's truncation */
    ck_assert(m[1] == 2 && m[2] == -1 && n[0] == -7 && n[2] == INT64_MIN);
    ck_assert(((const int64_t *)hb_tensor_raw(ab))[1] == 7);
    /* unsigned comparisons in max: 200 > 100 as uint8 */
    const uint8_t ua[] = {200, 1}, ub[] = {100, 2};
    hb_tensor *u1 = hb_tensor_from_typed(HB_U8, ua, HB_SHAPE(2));
    hb_tensor *u2 = hb_tensor_from_typed(HB_U8, ub, HB_SHAPE(2));
    hb_tensor *um = hb_maximum(u1, u2);
    ck_assert_tensor_ok(um);
    ck_assert(((const uint8_t *)hb_tensor_raw(um))[0] == 200);
    hb_tensor *t[] = {ta, tb, sum, dif, prod, quo, mx, neg, ab, u1, u2, um};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        hb_tensor_release(t[k]);
}
END_TEST

START_TEST(comparisons_broadcast_to_bool)
{
    const float a[] = {1, 2, 3, NAN, 0, -1};
    const float b[] = {2, NAN, 0};
    hb_tensor *ta = floats(HB_SHAPE(2, 3), a), *tb = floats(HB_SHAPE(3), b);
    hb_tensor *eq = hb_equal(ta, tb), *lt = hb_less(ta, tb), *gt = hb_greater(ta, tb);
    hb_tensor *le = hb_less_equal(ta, tb), *ge = hb_greater_equal(ta, tb);
    /* [1 2 3; nan 0 -1] against [2 nan 0] on each row */
    assert_bools(eq, "000000");
    assert_bools(lt, "100001");
    assert_bools(gt, "001000");
    assert_bools(le, "100001");
    assert_bools(ge, "001000");
    const int64_t ia[] = {1, 5}, ib[] = {5};
    hb_tensor *i1 = i64s(HB_SHAPE(2), ia), *i2 = i64s(HB_SHAPE(1), ib);
    hb_tensor *ieq = hb_equal(i1, i2);
    assert_bools(ieq, "01");
    /* logic on bool: and, or, xor, not */
    hb_tensor *an = hb_logical_and(lt, le), *o = hb_logical_or(lt, gt), *x = hb_logical_xor(lt, le);
    hb_tensor *no = hb_logical_not(o);
    assert_bools(an, "100001");
    assert_bools(o, "101001");
    assert_bools(x, "000000");
    assert_bools(no, "010110");
    /* one dtype per op: a message naming both */
    const int64_t three[] = {1, 2, 3};
    hb_tensor *i3 = i64s(HB_SHAPE(3), three);
    assert_refused(hb_equal(ta, i3), HB_ERR_ARG, "inputs 0 and 1 are float32 and int64");
    assert_refused(hb_add(i3, ta), HB_ERR_ARG, "add: inputs 0 and 1 are int64 and float32");
    hb_tensor_release(i3);
    assert_refused(hb_relu(i1), HB_ERR_UNSUPPORTED, "relu: input 0 is int64; it takes float32");
    assert_refused(hb_add(lt, lt), HB_ERR_ARG, "add: input 0 is bool; it takes numbers");
    hb_tensor *t[] = {ta, tb, eq, lt, gt, le, ge, i1, i2, ieq, an, o, x, no};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        hb_tensor_release(t[k]);
}
END_TEST

START_TEST(where_selects_and_broadcasts)
{
    const float a[] = {1, 2, 3, 4, 5, 6};
    const uint8_t c[] = {1, 0, 1};
    hb_tensor *ta = floats(HB_SHAPE(2, 3), a), *tc = hb_tensor_from_typed(HB_BOOL, c, HB_SHAPE(3));
    hb_tensor *zero = hb_scalar(-1.0f), *y = hb_where(tc, ta, zero);
    ck_assert_tensor_ok(y);
    const float want[] = {1, -1, 3, 4, -1, 6};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(hb_tensor_cdata(y)[i], want[i]);
    assert_refused(hb_where(ta, ta, ta), HB_ERR_ARG, "where: input 0 is float32; it takes a bool");
    hb_tensor_release(ta), hb_tensor_release(tc), hb_tensor_release(zero), hb_tensor_release(y);
}
END_TEST

/* Python's % and C's fmod, of floats and of integers (0 where the divisor is 0); the gradient
 * of a float remainder: 1 for a, -trunc or floor of a/b for b. */
START_TEST(mod_and_fmod)
{
    const float a[] = {5.5f, -5.5f, 5.5f, -5.5f}, b[] = {2, 2, -2, -2};
    hb_tensor *ta = floats(HB_SHAPE(4), a), *tb = floats(HB_SHAPE(4), b);
    hb_tensor *m = hb_mod(ta, tb), *f = hb_fmod(ta, tb);
    ck_assert_tensor_ok(m);
    const float want_m[] = {1.5f, 0.5f, -0.5f, -1.5f}, want_f[] = {1.5f, -1.5f, 1.5f, -1.5f};
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq(hb_tensor_cdata(m)[i], want_m[i]);
        ck_assert_float_eq(hb_tensor_cdata(f)[i], want_f[i]);
    }
    const int64_t ia[] = {7, -7, 7, 3}, ib[] = {3, 3, -3, 0};
    hb_tensor *xa = i64s(HB_SHAPE(4), ia), *xb = i64s(HB_SHAPE(4), ib), *im = hb_mod(xa, xb);
    ck_assert_tensor_ok(im);
    const int64_t *r = hb_tensor_raw(im);
    ck_assert(r[0] == 1 && r[1] == 2 && r[2] == -2 && r[3] == 0);
    /* gradients, eagerly, against (a - r) / b */
    hb_tensor_set_requires_grad(ta, true), hb_tensor_set_requires_grad(tb, true);
    hb_grad_enable(true);
    hb_tensor *y = hb_mod(ta, tb), *loss = hb_sum(y);
    ck_assert_int_eq(hb_backward(loss, NULL), HB_OK);
    hb_grad_enable(false);
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq(hb_tensor_cdata(hb_tensor_grad(ta))[i], 1.0f);
        ck_assert_float_eq(hb_tensor_cdata(hb_tensor_grad(tb))[i], -(a[i] - want_m[i]) / b[i]);
    }
    hb_tensor *t[] = {ta, tb, m, f, xa, xb, im, y, loss};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        hb_tensor_release(t[k]);
}
END_TEST

/* ---- indexing ---------------------------------------------------------------------------------- */

START_TEST(gather_is_an_embedding_lookup)
{
    float w[12];
    for (int i = 0; i < 12; i++)
        w[i] = (float)i;
    hb_tensor *emb = floats(HB_SHAPE(4, 3), w);
    const int64_t ids[] = {3, 0, -1, 1};
    hb_tensor *idx = i64s(HB_SHAPE(2, 2), ids), *y = hb_gather(emb, idx, 0);
    ck_assert_tensor_ok(y);
    ck_assert_int_eq(hb_tensor_ndim(y), 3);
    ck_assert_int_eq(hb_tensor_dim(y, 2), 3);
    const int64_t rows[] = {3, 0, 3, 1};
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < 3; k++)
            ck_assert_float_eq(hb_tensor_cdata(y)[r * 3 + k], (float)(rows[r] * 3 + k));
    /* along axis 1, with int32 indices */
    const int32_t cols[] = {2, 0};
    hb_tensor *c32 = hb_tensor_from_typed(HB_I32, cols, HB_SHAPE(2)), *yc = hb_gather(emb, c32, 1);
    ck_assert_tensor_ok(yc);
    ck_assert_float_eq(hb_tensor_cdata(yc)[0], 2.0f);
    ck_assert_float_eq(hb_tensor_cdata(yc)[2], 5.0f);
    ck_assert_float_eq(hb_tensor_cdata(yc)[3], 3.0f);
    /* out of range: an error naming the index and the axis, nothing read */
    const int64_t bad[] = {1, 4};
    hb_tensor *tb = i64s(HB_SHAPE(2), bad);
    assert_refused(hb_gather(emb, tb, 0), HB_ERR_ARG,
                   "gather: index 4 is out of range for axis 0 of length 4");
    assert_refused(hb_gather(emb, emb, 0), HB_ERR_ARG, "input 1 is float32; it takes int32 or int64");
    hb_tensor *t[] = {emb, idx, y, c32, yc, tb};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        hb_tensor_release(t[k]);
}
END_TEST

START_TEST(gather_elements_and_argmax)
{
    const float v[] = {0.5f, 3, -1, 3, NAN, 2, -4, -4, 1};
    hb_tensor *x = floats(HB_SHAPE(3, 3), v);
    hb_tensor *am = hb_argmax(x, 1, true), *an = hb_argmin(x, 1, false), *all = hb_argmax(x, 0, false);
    ck_assert_tensor_ok(am);
    ck_assert_int_eq(hb_tensor_dtype(am), HB_I64);
    ck_assert_int_eq(hb_tensor_ndim(am), 2);
    const int64_t *m = hb_tensor_raw(am), *n = hb_tensor_raw(an), *a0 = hb_tensor_raw(all);
    ck_assert(m[0] == 1 && m[1] == 1 && m[2] == 2); /* the first of ties; NaN is the largest */
    ck_assert(n[0] == 2 && n[1] == 1 && n[2] == 0); /* ... and the smallest */
    ck_assert(a0[0] == 1 && a0[1] == 1 && a0[2] == 1);
    hb_tensor *picked = hb_gather_elements(x, am, 1);
    ck_assert_tensor_ok(picked);
    ck_assert_float_eq(hb_tensor_cdata(picked)[0], 3.0f);
    ck_assert(isnan(hb_tensor_cdata(picked)[1]));
    ck_assert_float_eq(hb_tensor_cdata(picked)[2], 1.0f);
    const int64_t bad[] = {0, 3, 0};
    hb_tensor *tb = i64s(HB_SHAPE(3, 1), bad);
    assert_refused(hb_gather_elements(x, tb, 1), HB_ERR_ARG,
                   "gather_elements: index 3 is out of range for axis 1 of length 3");
    hb_tensor *t[] = {x, am, an, all, picked, tb};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        hb_tensor_release(t[k]);
}
END_TEST

/* gather_nd picks rows by index pairs; scatter_nd writes (or adds) them back; gradients route
 * through both. */
START_TEST(gather_and_scatter_nd)
{
    float v[6] = {0, 1, 2, 3, 4, 5};
    hb_tensor *x = floats(HB_SHAPE(2, 3), v);
    const int64_t pairs[] = {1, 2, 0, 0, 1, 2};
    hb_tensor *idx = i64s(HB_SHAPE(3, 2), pairs), *g = hb_gather_nd(x, idx);
    ck_assert_tensor_ok(g);
    ck_assert(hb_tensor_cdata(g)[0] == 5 && hb_tensor_cdata(g)[1] == 0 && hb_tensor_cdata(g)[2] == 5);
    const int64_t rows[] = {1};
    hb_tensor *ridx = i64s(HB_SHAPE(1, 1), rows), *u = hb_ones(HB_SHAPE(1, 3));
    hb_tensor *w = hb_scatter_nd(x, ridx, u, false), *a = hb_scatter_nd(x, ridx, u, true);
    ck_assert_tensor_ok(w);
    const float want_w[] = {0, 1, 2, 1, 1, 1}, want_a[] = {0, 1, 2, 4, 5, 6};
    for (int i = 0; i < 6; i++) {
        ck_assert_float_eq(hb_tensor_cdata(w)[i], want_w[i]);
        ck_assert_float_eq(hb_tensor_cdata(a)[i], want_a[i]);
    }
    const int64_t bad[] = {2};
    hb_tensor *tb = i64s(HB_SHAPE(1, 1), bad);
    assert_refused(hb_scatter_nd(x, tb, u, false), HB_ERR_ARG,
                   "scatter_nd: index 2 is out of range for axis 0 of length 2");
    /* d sum(gather_nd(x)) / dx counts each use; d sum(scatter_nd(x, r, u)) is 0 on row 1 of x */
    hb_tensor_set_requires_grad(x, true), hb_tensor_set_requires_grad(u, true);
    hb_grad_enable(true);
    hb_tensor *y = hb_gather_nd(x, idx), *l = hb_sum(y);
    ck_assert_int_eq(hb_backward(l, NULL), HB_OK);
    const float want_g[] = {1, 0, 0, 0, 0, 2};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(hb_tensor_cdata(hb_tensor_grad(x))[i], want_g[i]);
    hb_tensor *y2 = hb_scatter_nd(x, ridx, u, false), *l2 = hb_sum(y2);
    hb_tensor *before = hb_tensor_copy(hb_tensor_grad(x));
    ck_assert_int_eq(hb_backward(l2, NULL), HB_OK);
    hb_grad_enable(false);
    for (int i = 0; i < 6; i++) /* the new gradient adds 1 on row 0 and 0 on row 1 */
        ck_assert_float_eq(hb_tensor_cdata(hb_tensor_grad(x))[i] - hb_tensor_cdata(before)[i],
                           i < 3 ? 1.0f : 0.0f);
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq(hb_tensor_cdata(hb_tensor_grad(u))[i], 1.0f);
    hb_tensor *t[] = {x, idx, g, ridx, u, w, a, tb, y, l, y2, l2, before};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        hb_tensor_release(t[k]);
}
END_TEST

/* ---- gradients ------------------------------------------------------------------------------- */

static hb_tensor *embed_forward(hb_block *self, hb_tensor *ids)
{
    hb_tensor *rows = hb_gather(hb_block_param(self, "weight"), ids, 0);
    hb_tensor *mask = hb_greater(rows, hb_block_param(self, "floor"));
    return hb_where(mask, rows, hb_block_param(self, "floor"));
}

static hb_block *embedding(void)
{
    hb_block *b = hb_block_new("Embed", embed_forward);
    ck_assert_int_eq(hb_block_add_param(b, "weight", HB_SHAPE(5, 3), HB_INIT_DEFAULT), HB_OK);
    ck_assert_int_eq(hb_block_add_param(b, "floor", HB_SHAPE(3),
                                        (hb_init){HB_INIT_CONSTANT, -0.2f, 0, NULL}),
                     HB_OK);
    return b;
}

/* d sum(where(rows > floor, rows, floor)) / d weight: 1 per use of a row where it is above the
 * floor, summed over repeats; d / d floor: the count of elements at or below it. */
START_TEST(gradients_through_gather_and_where)
{
    hb_block *b = embedding();
    const int64_t ids[] = {1, 3, 1, 4};
    hb_tensor *idx = i64s(HB_SHAPE(4), ids);
    hb_grad_enable(true);
    hb_tensor *y = hb_block_call(b, idx);
    ck_assert_tensor_ok(y);
    hb_tensor *loss = hb_sum(y);
    ck_assert_int_eq(hb_backward(loss, NULL), HB_OK);
    hb_grad_enable(false);
    const float *w = hb_tensor_cdata(hb_block_param(b, "weight"));
    const float *gw = hb_tensor_cdata(hb_tensor_grad(hb_block_param(b, "weight")));
    const float *gf = hb_tensor_cdata(hb_tensor_grad(hb_block_param(b, "floor")));
    int uses[5] = {0, 2, 0, 1, 1};
    float below[3] = {0};
    for (int r = 0; r < 5; r++)
        for (int k = 0; k < 3; k++) {
            bool above = w[r * 3 + k] > -0.2f;
            ck_assert_float_eq_tol(gw[r * 3 + k], above ? (float)uses[r] : 0.0f, 1e-6f);
            below[k] += above ? 0.0f : (float)uses[r];
        }
    for (int k = 0; k < 3; k++)
        ck_assert_float_eq_tol(gf[k], below[k], 1e-6f);
    hb_tensor_release(idx), hb_tensor_release(y), hb_tensor_release(loss);
    hb_block_release(b);
}
END_TEST

/* ---- hybridized -------------------------------------------------------------------------------- */

/* int64 ids in, through the plan: the same values as eagerly, no island, the types in the IR,
 * and ids out of range still refused by the plan (the message names the index). */
START_TEST(hybridized_ids_and_masks)
{
    hb_block *hy = embedding(), *ea = embedding();
    memcpy(hb_tensor_data(hb_block_param(hy, "weight")), hb_tensor_cdata(hb_block_param(ea, "weight")),
           sizeof(float) * 15);
    ck_assert_int_eq(hb_hybridize(hy, true), HB_OK);
    const int64_t a[] = {0, 4, 2, 2, 1, 3}, bad[] = {0, 5, 2, 2, 1, 3};
    hb_tensor *ids = i64s(HB_SHAPE(2, 3), a), *ids_bad = i64s(HB_SHAPE(2, 3), bad);
    hb_tensor *e = test_call_ok(ea, ids);
    for (int call = 0; call < 3; call++) {
        hb_tensor *y = test_call_ok(hy, ids);
        ck_assert_msg(test_same_bits(y, e), "call %d differs from eager", call);
        hb_tensor_release(y);
    }
    const hb_graph *g = hb_block_graph(hy, HB_SHAPE(2, 3));
    ck_assert_ptr_nonnull(g);
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    ck_assert_int_eq(hb_block_dump(hy, ids, "all", false, f), HB_OK);
    fclose(f);
    ck_assert_msg(strstr(dump, "input : i64[2, 3]") && strstr(dump, ": bool[2, 3, 3]") &&
                  !strstr(dump, "island"), "%s", dump);
    free(dump);
    /* a float input of the same shape is another signature: traced anew, refused by gather */
    hb_tensor *fx = hb_zeros(HB_SHAPE(2, 3));
    assert_refused(hb_block_call(hy, fx), HB_ERR_ARG, "input 1 is float32; it takes int32 or int64");
    ck_assert_ptr_null(hb_block_call(hy, ids_bad));
    ck_assert_msg(strstr(hb_last_error(), "index 5 is out of range for axis 0 of length 5"), "%s",
                  hb_last_error());
    hb_clear_error();
    hb_tensor_release(ids), hb_tensor_release(ids_bad), hb_tensor_release(e), hb_tensor_release(fx);
    hb_block_release(hy), hb_block_release(ea);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dtypes");
    TCase *tc = tcase_create("dtypes");
    tcase_add_test(tc, names_sizes_and_host_access);
    tcase_add_test(tc, casts_match_reference);
    tcase_add_test(tc, integer_arithmetic_wraps_and_never_traps);
    tcase_add_test(tc, comparisons_broadcast_to_bool);
    tcase_add_test(tc, where_selects_and_broadcasts);
    tcase_add_test(tc, mod_and_fmod);
    tcase_add_test(tc, gather_is_an_embedding_lookup);
    tcase_add_test(tc, gather_elements_and_argmax);
    tcase_add_test(tc, gather_and_scatter_nd);
    tcase_add_test(tc, gradients_through_gather_and_where);
    tcase_add_test(tc, hybridized_ids_and_masks);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

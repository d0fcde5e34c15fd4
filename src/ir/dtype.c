/* Element types: what each is called (in the text form, the ONNX, NumPy and safetensors files),
 * how it is stored, the conversions between them, and the dtype rules of the ops that take
 * more than float32 (the HB_DTYPE_RULE rows at the end of ops.def; every other op takes and
 * gives float32 alone). Kernels over those ops read and write elements through hb_dtype_get*
 * and hb_dtype_set*: such data (ids, masks, indices) is small next to the float work, and one
 * generic loop per op is what keeps a dozen dtypes from multiplying the kernels by a dozen. */
#include "op.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const hb_dtype_info hb_dtypes[HB_DTYPE_COUNT] = {
    [HB_F32] = {"float32", "f32", 4, 1, "<f4", "F32", HB_KIND_FLOAT},
    [HB_F64] = {"float64", "f64", 8, 11, "<f8", "F64", HB_KIND_FLOAT},
    [HB_F16] = {"float16", "f16", 2, 10, "<f2", "F16", HB_KIND_FLOAT},
    [HB_BF16] = {"bfloat16", "bf16", 2, 16, NULL, "BF16", HB_KIND_FLOAT},
    [HB_I8] = {"int8", "i8", 1, 3, "|i1", "I8", HB_KIND_SIGNED},
    [HB_I16] = {"int16", "i16", 2, 5, "<i2", "I16", HB_KIND_SIGNED},
    [HB_I32] = {"int32", "i32", 4, 6, "<i4", "I32", HB_KIND_SIGNED},
    [HB_I64] = {"int64", "i64", 8, 7, "<i8", "I64", HB_KIND_SIGNED},
    [HB_U8] = {"uint8", "u8", 1, 2, "|u1", "U8", HB_KIND_UNSIGNED},
    [HB_U16] = {"uint16", "u16", 2, 4, "<u2", "U16", HB_KIND_UNSIGNED},
    [HB_U32] = {"uint32", "u32", 4, 12, "<u4", "U32", HB_KIND_UNSIGNED},
    [HB_U64] = {"uint64", "u64", 8, 13, "<u8", "U64", HB_KIND_UNSIGNED},
    [HB_BOOL] = {"bool", "bool", 1, 9, "|b1", "BOOL", HB_KIND_BOOL},
};

const char *hb_dtype_name(hb_dtype d)
{
    return (unsigned)d < HB_DTYPE_COUNT ? hb_dtypes[d].name : NULL;
}

size_t hb_dtype_size(hb_dtype d) { return (unsigned)d < HB_DTYPE_COUNT ? hb_dtypes[d].size : 0; }

bool hb_dtype_by_onnx(int code, hb_dtype *d)
{
    for (int i = 0; i < HB_DTYPE_COUNT; i++)
        if (hb_dtypes[i].onnx == code)
            return *d = (hb_dtype)i, true;
    return false;
}

/* ---- float16 and bfloat16 ------------------------------------------------------------------ */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, man = h & 0x3ff;
    float f;
    if (exp == 0) /* zero or subnormal: man · 2^-24 */
        f = ldexpf((float)man, -24);
    else if (exp == 31)
        f = man ? NAN : INFINITY;
    else
        f = ldexpf((float)(man | 0x400), (int)exp - 25);
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits |= sign;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t float_to_half(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, 4);
    uint16_t sign = (uint16_t)(bits >> 16 & 0x8000);
    float a = fabsf(f);
    if (isnan(f))
        return sign | 0x7e00;
    if (a >= 65520.0f) /* rounds past the largest half, 65504 */
        return sign | 0x7c00;
    if (a < ldexpf(1, -14)) /* subnormal: a multiple of 2^-24, rounded to even by rintf */
        return sign | (uint16_t)rintf(ldexpf(a, 24));
    int e;
    float m = frexpf(a, &e); /* a = m · 2^e, m in [0.5, 1) */
    uint32_t man = (uint32_t)rintf(ldexpf(m, 11)); /* 11 bits with the leading one */
    if (man == 1u << 11)
        man >>= 1, e++;
    return sign | (uint16_t)((uint32_t)(e + 14) << 10 | (man & 0x3ff));
}

static float bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t float_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if (isnan(f))
        return (uint16_t)(bits >> 16 | 0x40);
    bits += 0x7fff + (bits >> 16 & 1); /* round to nearest even */
    return (uint16_t)(bits >> 16);
}

/* ---- elements -------------------------------------------------------------------------------- */

#define AT(type) (((const type *)p)[i])

double hb_dtype_get(hb_dtype d, const void *p, int64_t i)
{
    switch (d) {
    case HB_F32: return AT(float);
    case HB_F64: return AT(double);
    case HB_F16: return half_to_float(AT(uint16_t));
    case HB_BF16: return bf16_to_float(AT(uint16_t));
    case HB_I8: return AT(int8_t);
    case HB_I16: return AT(int16_t);
    case HB_I32: return AT(int32_t);
    case HB_I64: return (double)AT(int64_t);
    case HB_U8: return AT(uint8_t);
    case HB_U16: return AT(uint16_t);
    case HB_U32: return AT(uint32_t);
    case HB_U64: return (double)AT(uint64_t);
    case HB_BOOL: return AT(uint8_t) != 0;
    case HB_DTYPE_COUNT: break;
    }
    return 0;
}

/* A float as an integer: toward zero, saturated at int64's range, NaN as 0 (C leaves an
 * out-of-range conversion undefined; ONNX leaves it unspecified). */
static int64_t float_to_int(double x)
{
    if (isnan(x))
        return 0;
    if (x >= 9223372036854775807.0)
        return INT64_MAX;
    if (x <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)x;
}

int64_t hb_dtype_get_int(hb_dtype d, const void *p, int64_t i)
{
    switch (d) {
    case HB_I8: return AT(int8_t);
    case HB_I16: return AT(int16_t);
    case HB_I32: return AT(int32_t);
    case HB_I64: return AT(int64_t);
    case HB_U8: return AT(uint8_t);
    case HB_U16: return AT(uint16_t);
    case HB_U32: return AT(uint32_t);
    case HB_U64: return (int64_t)AT(uint64_t); /* the same bits: wraps above 2^63 */
    case HB_BOOL: return AT(uint8_t) != 0;
    case HB_F32: case HB_F64: case HB_F16: case HB_BF16:
        return float_to_int(hb_dtype_get(d, p, i));
    case HB_DTYPE_COUNT: break;
    }
    return 0;
}
#undef AT

#define PUT(type, v) (((type *)p)[i] = (type)(v))

void hb_dtype_set(hb_dtype d, void *p, int64_t i, double v)
{
    switch (d) {
    case HB_F32: PUT(float, v); return;
    case HB_F64: PUT(double, v); return;
    case HB_F16: PUT(uint16_t, float_to_half((float)v)); return;
    case HB_BF16: PUT(uint16_t, float_to_bf16((float)v)); return;
    case HB_BOOL: PUT(uint8_t, v != 0); return;
    case HB_I8: case HB_I16: case HB_I32: case HB_I64:
    case HB_U8: case HB_U16: case HB_U32: case HB_U64:
        hb_dtype_set_int(d, p, i, float_to_int(v));
        return;
    case HB_DTYPE_COUNT: return;
    }
}

/* Integers narrow by keeping the low bits (two's complement, as C's casts on every machine
 * this builds on, and as NumPy's astype). */
void hb_dtype_set_int(hb_dtype d, void *p, int64_t i, int64_t v)
{
    uint64_t u = (uint64_t)v;
    switch (d) {
    case HB_I8: PUT(int8_t, (int8_t)(uint8_t)u); return;
    case HB_I16: PUT(int16_t, (int16_t)(uint16_t)u); return;
    case HB_I32: PUT(int32_t, (int32_t)(uint32_t)u); return;
    case HB_I64: PUT(int64_t, v); return;
    case HB_U8: PUT(uint8_t, u); return;
    case HB_U16: PUT(uint16_t, u); return;
    case HB_U32: PUT(uint32_t, u); return;
    case HB_U64: PUT(uint64_t, u); return;
    case HB_BOOL: PUT(uint8_t, v != 0); return;
    case HB_F32: case HB_F64: case HB_F16: case HB_BF16:
        hb_dtype_set(d, p, i, (double)v);
        return;
    case HB_DTYPE_COUNT: return;
    }
}
#undef PUT

bool hb_dtype_is_int(hb_dtype d)
{
    return hb_dtypes[d].kind == HB_KIND_SIGNED || hb_dtypes[d].kind == HB_KIND_UNSIGNED;
}

/* ---- the ops' dtype rules ------------------------------------------------------------------ */

typedef struct dtype_ctx {
    hb_op op;
    const hb_attrs *at;
    int n;
    const hb_dtype *in;
    hb_dtype *out;
    char *err;
    size_t err_size;
} dtype_ctx;

static hb_status refuse(dtype_ctx *c, int i, const char *wants)
{
    snprintf(c->err, c->err_size, "%s: input %d is %s; it takes %s", hb_op_table[c->op].name, i,
             hb_dtype_name(c->in[i]), wants);
    return HB_ERR_ARG;
}

/* Inputs first to last of one dtype, which must pass ok. */
static hb_status one_dtype(dtype_ctx *c, int first, int last, bool (*ok)(hb_dtype),
                           const char *wants)
{
    for (int i = first; i <= last && i < c->n; i++) {
        if (!ok(c->in[i]))
            return refuse(c, i, wants);
        if (c->in[i] != c->in[first]) {
            snprintf(c->err, c->err_size, "%s: inputs %d and %d are %s and %s; they must be of "
                     "one dtype (cast one)", hb_op_table[c->op].name, first, i,
                     hb_dtypes[c->in[first]].name, hb_dtype_name(c->in[i]));
            return HB_ERR_ARG;
        }
    }
    return HB_OK;
}

static bool is_f32(hb_dtype d) { return d == HB_F32; }
static bool is_any(hb_dtype d) { return (unsigned)d < HB_DTYPE_COUNT; }
static bool is_number(hb_dtype d) { return d != HB_BOOL; }
static bool is_logic(hb_dtype d) { return d == HB_BOOL || d == HB_F32; }
static bool is_index(hb_dtype d) { return d == HB_I32 || d == HB_I64; }

/* Valid elsewhere (ONNX has an int64 max pool, a float64 exp) but not computed here: said as
 * unsupported, not as a mistake. */
static hb_status dtype_float32(dtype_ctx *c)
{
    *c->out = HB_F32;
    return one_dtype(c, 0, c->n - 1, is_f32, "float32 (cast it)") == HB_OK ? HB_OK
                                                                            : HB_ERR_UNSUPPORTED;
}

static hb_status dtype_numeric(dtype_ctx *c)
{
    *c->out = c->in[0];
    return one_dtype(c, 0, c->n - 1, is_number, "numbers, not bool");
}

static hb_status dtype_logic(dtype_ctx *c)
{
    *c->out = c->in[0];
    return one_dtype(c, 0, c->n - 1, is_logic, "bool (or float32 0 and 1)");
}

static hb_status dtype_any(dtype_ctx *c)
{
    *c->out = c->in[0];
    return one_dtype(c, 0, c->n - 1, is_any, "any dtype");
}

static hb_status dtype_compare(dtype_ctx *c)
{
    *c->out = HB_BOOL;
    return one_dtype(c, 0, c->n - 1, is_any, "any dtype");
}

static hb_status dtype_where(dtype_ctx *c)
{
    *c->out = c->in[1];
    if (c->in[0] != HB_BOOL)
        return refuse(c, 0, "a bool condition");
    return one_dtype(c, 1, 2, is_any, "any dtype");
}

static hb_status dtype_cast(dtype_ctx *c)
{
    *c->out = c->at->dtype;
    return (unsigned)c->at->dtype < HB_DTYPE_COUNT ? HB_OK : refuse(c, 0, "a known target");
}

static hb_status dtype_gather(dtype_ctx *c)
{
    *c->out = c->in[0];
    return is_index(c->in[1]) ? HB_OK : refuse(c, 1, "int32 or int64 indices");
}

static hb_status dtype_scatter(dtype_ctx *c)
{
    *c->out = c->in[0];
    if (!is_index(c->in[1]))
        return refuse(c, 1, "int32 or int64 indices");
    return c->in[2] == c->in[0] ? HB_OK : refuse(c, 2, "updates of the data's dtype");
}

static hb_status dtype_gather_grad(dtype_ctx *c)
{
    *c->out = HB_F32;
    if (c->in[0] != HB_F32)
        return refuse(c, 0, "a float32 gradient");
    return is_index(c->in[1]) ? HB_OK : refuse(c, 1, "int32 or int64 indices");
}

static hb_status dtype_index(dtype_ctx *c)
{
    *c->out = HB_I64;
    return one_dtype(c, 0, 0, is_number, "numbers, not bool");
}

/* A scan's state is one flat row of one dtype (its result too); sequences and the other
 * inputs may be of any. */
static hb_status dtype_scan(dtype_ctx *c)
{
    *c->out = c->in[0];
    int carries = (int)c->at->scan.carries;
    return one_dtype(c, 0, (carries < c->n ? carries : c->n) - 1, is_number, "numbers, not bool");
}

typedef hb_status (*dtype_fn)(dtype_ctx *c);

/* The HB_DTYPE_RULE rows of ops.def; any other op takes and gives float32 alone. */
static dtype_fn rule_of(hb_op op)
{
    switch (op) {
#define HB_DTYPE_RULE(NAME, rule) case HB_OP_##NAME: return dtype_##rule;
#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad)
#include "ops.def"
#undef HB_OP
#undef HB_DTYPE_RULE
    default:
        return dtype_float32;
    }
}

hb_status hb_op_dtype(hb_op op, const hb_attrs *attrs, int n, const hb_dtype *in, hb_dtype *out,
                      char *err, size_t err_size)
{
    for (int i = 0; i < n; i++)
        if ((unsigned)in[i] >= HB_DTYPE_COUNT) {
            snprintf(err, err_size, "%s: input %d has no dtype (%d)", hb_op_table[op].name, i,
                     (int)in[i]);
            return HB_ERR_ARG;
        }
    dtype_ctx c = {op, attrs, n, in, out, err, err_size};
    return rule_of(op)(&c);
}

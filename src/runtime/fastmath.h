/* exp and tanh as straight-line float code the compiler vectorizes, shared by the elementwise
 * interpreter and the softmax kernels so that every exp in hybrid is the same function. */
#ifndef HB_RUNTIME_FASTMATH_H
#define HB_RUNTIME_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float hb_bits_to_float(int32_t i) { float f; memcpy(&f, &i, 4); return f; }
/* exp and tanh as straight-line float code the compiler vectorizes (libm's are calls per
 * element; softmax took 9 ns an element with double-precision exp). exp: Cephes' reduction to [-ln2/2, ln2/2] and degree-6 polynomial, with 2^n split
 * in two where n leaves the normal range; within 1 ulp of the exact result over the whole
 * float range (denormal results included), inf above 88.72, 0 below -103.97, NaN kept.
 * tanh: Cephes' odd polynomial below 0.625, 1 - 2/(e^2|x| + 1) above; within 1.3 ulp; ±1
 * beyond ±9. Measured against double-precision exp and tanh on a dense grid (tests/test_ops.c
 * checks them too). */
static inline float hb_fast_exp(float x)
{
    const float hi = 88.72283935546875f, lo = -103.97208404541015625f;
    float xc = x > hi ? hi : x;
    xc = xc < lo ? lo : xc;
    float fn = xc * 1.44269504088896341f + 12582912.0f;
    fn -= 12582912.0f;
    float r = xc - fn * 0.693359375f;
    r = r + fn * 2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    int32_t n = (int32_t)(fn == fn ? fn : 0.0f);
    /* 2^n as two factors where n leaves the normal range (results near FLT_MAX, denormals) */
    int32_t nn = n < -126 ? n + 126 : n > 127 ? n - 1 : n;
    float extra = n < -126 ? 1.17549435e-38f : n > 127 ? 2.0f : 1.0f;
    float res = p * hb_bits_to_float((nn + 127) << 23) * extra;
    res = x > hi ? INFINITY : res;
    return x < lo ? 0.0f : res;
}
static inline float hb_fast_tanh(float x)
{
    float ax = fabsf(x);
    float z = ax > 9.0f ? 9.0f : ax;
    float e = hb_fast_exp(2.0f * z);
    float big = 1.0f - 2.0f / (e + 1.0f);
    float s = x * x;
    float small = ((((-5.70498872745E-3f * s + 2.06390887954E-2f) * s - 5.37397155531E-2f) * s +
                    1.33314422036E-1f) * s - 3.33332819422E-1f) * s * x + x;
    float t = ax > 0.625f ? (x < 0 ? -big : big) : small;
    return t;
}

/* x^s: x·x for s = 2 (what pow rounds to as well), 1/√x for s = −0.5 (within 1 ulp; +0 and −0
 * both give +inf, −inf gives 0, as pow does), powf otherwise. */
static inline float hb_fast_pow(float x, float s)
{
    if (s == 2.0f)
        return x * x;
    if (s == -0.5f)
        return x == -INFINITY ? 0.0f : 1.0f / sqrtf(x + 0.0f); /* + 0: −0 becomes +0 */
    return powf(x, s);
}

/* erf as a rational function, x·P(x²)/Q(x²) of degrees 13 and 8 on x clamped to [-4, 4] (the
 * approximation TensorFlow and Eigen use for float): within 4.3e-7 of the exact erf over the
 * whole float range (measured against double-precision erf every 1e-5 over [-6, 6]); ±1 beyond
 * ±4, NaN kept. */
static inline float hb_fast_erf(float x)
{
    float xc = x > 4.0f ? 4.0f : x < -4.0f ? -4.0f : x;
    float s = xc * xc;
    float p = -2.72614225801306e-10f;
    p = p * s + 2.77068142495902e-08f;
    p = p * s - 2.10102402082508e-06f;
    p = p * s - 5.69250639462346e-05f;
    p = p * s - 7.34990630326855e-04f;
    p = p * s - 2.95459980854025e-03f;
    p = p * s - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * s - 2.13374055278905e-04f;
    q = q * s - 1.68282697438203e-03f;
    q = q * s - 7.37332916720468e-03f;
    q = q * s - 1.42647390514189e-02f;
    return xc * p / q;
}

#endif

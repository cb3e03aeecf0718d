/* What the compiled passes share (mnl/_mnl_pass.c, gev/_nl_pass.c, mixed/_mxl_pass.c): function
 * multiversioning, a vectorizable exp and log, and four dot products at once. Included by each;
 * every function here is static inline, so each library stands alone. */
#ifndef CK_SIMD_H
#define CK_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* one build, three code paths chosen at load time by the CPU (GCC function multiversioning):
 * AVX-512 and AVX2+FMA vectors where present, the baseline elsewhere. GCC names the x86-64
 * levels from version 11 on; older compilers and other platforms build the baseline only. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && \
    defined(__linux__)
#define CK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CK_CLONES
/* h[r] (+)= sum_i t[i] x[r][i] for r < 4; h is set when `fresh`, added to otherwise */
static inline void dot4(const double *t, const double *const *x, int64_t m, double *h,
                        int fresh)
{
    const double *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    double h0 = 0.0, h1 = 0.0, h2 = 0.0, h3 = 0.0;
#pragma omp simd reduction(+ : h0, h1, h2, h3)
    for (int64_t i = 0; i < m; i++) {
        h0 += t[i] * x0[i];
        h1 += t[i] * x1[i];
        h2 += t[i] * x2[i];
        h3 += t[i] * x3[i];
    }
    if (fresh) { h[0] = h0; h[1] = h1; h[2] = h2; h[3] = h3; }
    else { h[0] += h0; h[1] += h1; h[2] += h2; h[3] += h3; }
}

#endif

/* exp(x) for x <= 0 (x = -inf included), vectorizable: the libm call is not, and it was a
 * sixth of a pass. x = k ln2 + r with |r| <= ln2 / 2 (Cody-Waite: ln2 in two parts so that
 * k ln2 is exact), exp(r) by its Taylor series to r^13 (truncation < 4e-18 relative), times
 * 2^k built in the exponent bits. Below -708 the result is 0 (exp(-708) ~ 3e-308: a
 * probability that small changes no sum). Agrees with libm's exp to a few ulp. */
static inline double ck_exp(double x)
{
    const double shifter = 6755399441055744.0;  /* 1.5 * 2^52: adding it rounds to integer */
    const double xc = x < -708.0 ? -708.0 : x;
    const double t = xc * 1.4426950408889634 + shifter;
    const double kf = t - shifter;  /* round(x / ln2) */
    const double r = (xc - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10;
    double y = 1.0 / 6227020800.0;  /* 1 / 13! */
    y = y * r + 1.0 / 479001600.0;
    y = y * r + 1.0 / 39916800.0;
    y = y * r + 1.0 / 3628800.0;
    y = y * r + 1.0 / 362880.0;
    y = y * r + 1.0 / 40320.0;
    y = y * r + 1.0 / 5040.0;
    y = y * r + 1.0 / 720.0;
    y = y * r + 1.0 / 120.0;
    y = y * r + 1.0 / 24.0;
    y = y * r + 1.0 / 6.0;
    y = y * r + 0.5;
    y = y * r + 1.0;
    y = y * r + 1.0;
    uint64_t kb, sb;
    memcpy(&kb, &t, sizeof kb);
    memcpy(&sb, &shifter, sizeof sb);
    const uint64_t e = (kb - sb + 1023) << 52;  /* the bits of 2^k (k >= -1022 here) */
    double scale;
    memcpy(&scale, &e, sizeof scale);
    return x < -708.0 ? 0.0 : y * scale;
}

/* log(x) for a positive normal x (here a case's sum of exponentials, in [1, J]),
 * vectorizable: the libm call is not, and it was half of a small design's pass. x = 2^e * u
 * with u in [sqrt(1/2), sqrt(2)), log u = 2 atanh(s) = 2 (s + s^3/3 + ... + s^21/21) with
 * s = (u - 1) / (u + 1), |s| < 0.172 (next term < 1e-18 relative); e ln 2 in two parts. */
static inline double ck_log(double x)
{
    uint64_t bits, mb;
    memcpy(&bits, &x, sizeof bits);
    int64_t e = (int64_t)((bits >> 52) & 0x7ff) - 1023;
    mb = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;  /* u in [1, 2) */
    double u;
    memcpy(&u, &mb, sizeof u);
    const int big = u > 1.4142135623730951;
    u = big ? 0.5 * u : u;
    e += big;
    const double s = (u - 1.0) / (u + 1.0), s2 = s * s;
    double y = 1.0 / 21.0;
    y = y * s2 + 1.0 / 19.0;
    y = y * s2 + 1.0 / 17.0;
    y = y * s2 + 1.0 / 15.0;
    y = y * s2 + 1.0 / 13.0;
    y = y * s2 + 1.0 / 11.0;
    y = y * s2 + 1.0 / 9.0;
    y = y * s2 + 1.0 / 7.0;
    y = y * s2 + 1.0 / 5.0;
    y = y * s2 + 1.0 / 3.0;
    const double de = (double)e;
    return de * 6.93147180369123816490e-01 + (2.0 * s + 2.0 * s * s2 * y
                                              + de * 1.90821492927058770002e-10);
}

/* h[r] (+)= sum_i t[i] x[r][i] for r < 4; h is set when `fresh`, added to otherwise */
static inline void dot4(const double *t, const double *const *x, int64_t m, double *h,
                        int fresh)
{
    const double *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    double h0 = 0.0, h1 = 0.0, h2 = 0.0, h3 = 0.0;
#pragma omp simd reduction(+ : h0, h1, h2, h3)
    for (int64_t i = 0; i < m; i++) {
        h0 += t[i] * x0[i];
        h1 += t[i] * x1[i];
        h2 += t[i] * x2[i];
        h3 += t[i] * x3[i];
    }
    if (fresh) { h[0] = h0; h[1] = h1; h[2] = h2; h[3] = h3; }
    else { h[0] += h0; h[1] += h1; h[2] += h2; h[3] += h3; }
}

#endif

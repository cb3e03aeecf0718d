/*
 * One pass of the multinomial logit log-likelihood, score and information matrix over a
 * parameter-major design, fused per chunk of cases (choicekit/native.py loads this with
 * ctypes; choicekit/kernels.py:chunk_derivatives is the NumPy path it must agree with).
 *
 * Why C: the NumPy kernel makes ~30 calls per chunk of cache size, each a full pass over the
 * chunk's values in L2; fused here, the design is read from memory once per pass and each
 * value is touched a few times while it is in cache, and the K x K information block is
 * accumulated as K (K + 1) / 2 contiguous dot products (half of the symmetric X'WX that a BLAS
 * gemm computes in full). No Python API is used: this is a plain shared object.
 *
 * Notation (choicekit/kernels.py module docstring): case i, alternative j, stored attribute k,
 * weights w_i, chosen alternative c_i, probabilities P_ij. The pass returns
 *   ll                    = sum_i w_i (V_{i c_i} - logsum_i)
 *   g[k]                  = sum_i w_i (x_{i c_i k} - xbar_ik)                 (k < Kd)
 *   g[Kd + j]             = sum_i w_i (1[c_i = j] - P_ij)                     (per alternative)
 *   info[k, l]            = sum_i w_i (sum_j P_ij x_ijk x_ijl - xbar_ik xbar_il)
 *   info[k, Kd + j]       = sum_i w_i P_ij (x_ijk - xbar_ik)
 *   info[Kd + a, Kd + b]  = sum_i w_i P_ia (1[a = b] - P_ib)
 * i.e. the score and minus the Hessian for the Kd stored columns plus one constant per
 * alternative (the caller picks the constants it has), then the S alternative-specific
 * columns: column s enters alternative a_s only, with values z_is (a constant is such a
 * column with z = 1, and every formula above holds with z as a weight):
 *   g[Kd + J + s]         = sum_i w_i z_is (1[c_i = a_s] - P_{i a_s})
 *   info[u, v]            = sum_i w_i z_iu z_iv P_{i a_u} (1[a_u = a_v] - P_{i a_v})
 *   info[u, k]            = sum_i w_i z_iu P_{i a_u} (x_{i a_u k} - xbar_ik)
 * Utilities are
 *   V_ij = sum_k beta_k x_ijk + alt_add_j + sum_{s: a_s = j} beta_s z_is + offset_ji,
 * and V_ij = -inf where alternative j is unavailable.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../ck_simd.h"

/* the interface version of this library. native.py (ABI_VERSION) uses a library only when
 * the two agree, and otherwise estimates with NumPy: bump both with any change of an exported
 * function's signature, of the meaning of an argument, of the workspace size or of the output
 * layout. */
#define CK_ABI_VERSION 1

int64_t ck_abi_version(void) { return CK_ABI_VERSION; }

/* doubles of workspace per case of a chunk: V/P (J), WX (Kd J), wxbar and xbar (2 Kd), four
 * per-case scalars, and w P z for the S alternative-specific columns */
int64_t ck_work_per_case(int64_t Kd, int64_t J, int64_t S)
{
    return J + Kd * J + 2 * Kd + 4 + S;
}

/* doubles of workspace that ck_mnl_pass needs beyond the chunk part (the accumulators) */
int64_t ck_work_extra(int64_t Kd, int64_t J, int64_t S) { return Kd + J + Kd * J + J + 2 * S; }

typedef struct {
    const double *X;   /* x_ijk at X[k * sk + j * sj + i] */
    int64_t Kd, J, n, sk, sj;  /* n: the cases of the whole design (row length of avail) */
    const double *beta;     /* (Kd,) */
    const double *alt_add;  /* (J,): constants summed per alternative */
    const int64_t *chosen;  /* (n,) alternative index */
    const uint8_t *avail;   /* (J, n) alternative-major, or NULL when all are available */
    const double *offset;   /* (J, n) alternative-major, or NULL */
    const double *weight;   /* (n,) or NULL */
    int64_t S;              /* alternative-specific columns */
    const int64_t *spec_alt;  /* (S,) their alternatives a_s */
    const double *spec_val;   /* (S, n) their values z_is */
    const double *beta_s;     /* (S,) */
    int64_t order;
} pass_t;

/* sums over the pass; g and info as in the header, chosen sums kept apart until the end */
typedef struct {
    double ll;
    double *xc;     /* (Kd,)  sum_i w_i x_{i c_i k} */
    double *cnt;    /* (J,)   sum_i w_i 1[c_i = j] */
    double *bsum;   /* (Kd, J) sum_i w_i P_ij x_ijk */
    double *esum;   /* (J,)   sum_i w_i P_ij */
    double *info;   /* (Kd + J + S)^2, lower triangle accumulated */
    double *zc;     /* (S,)   sum_i w_i z_is 1[c_i = a_s] */
    double *qsum;   /* (S,)   sum_i w_i z_is P_{i a_s} */
} acc_t;


CK_CLONES
static void chunk(const pass_t *p, int64_t a, int64_t m, double *work, acc_t *s)
{
    const int64_t Kd = p->Kd, J = p->J, S = p->S, L = Kd + J + S;
    double *P = work;                 /* (J, m): utilities, then exp, then w_i P_ij */
    double *WX = P + J * m;           /* (Kd, J, m): w_i P_ij x_ijk */
    double *wxb = WX + Kd * J * m;    /* (Kd, m): w_i xbar_ik */
    double *xb = wxb + Kd * m;        /* (Kd, m): xbar_ik */
    double *mx = xb + Kd * m, *sm = mx + m, *lc = sm + m, *wi = lc + m;
    double *Q = wi + m;               /* (S, m): w_i P_{i a_s} z_is */

    /* utilities, alternative-major: one axpy per (k, j) run of m contiguous values */
    for (int64_t j = 0; j < J; j++) {
        double *v = P + j * m;
        const double c = p->alt_add[j];
        if (p->offset) {
            const double *o = p->offset + j * p->n + a;
            for (int64_t i = 0; i < m; i++) v[i] = c + o[i];
        } else {
            for (int64_t i = 0; i < m; i++) v[i] = c;
        }
    }
    for (int64_t k = 0; k < Kd; k++) {
        const double b = p->beta[k];
        if (b == 0.0) continue;  /* e.g. the start values: the design is read below anyway */
        for (int64_t j = 0; j < J; j++) {
            const double *x = p->X + k * p->sk + j * p->sj + a;
            double *v = P + j * m;
#pragma omp simd
            for (int64_t i = 0; i < m; i++) v[i] += b * x[i];
        }
    }
    for (int64_t u = 0; u < S; u++) {
        const double b = p->beta_s[u], *z = p->spec_val + u * p->n + a;
        double *v = P + p->spec_alt[u] * m;
        for (int64_t i = 0; i < m; i++) v[i] += b * z[i];
    }
    /* masked log-sum-exp with the per-case maximum (no overflow whatever the utilities) */
    for (int64_t i = 0; i < m; i++) { mx[i] = -INFINITY; sm[i] = 0.0; }
    for (int64_t j = 0; j < J; j++) {
        double *v = P + j * m;
        if (p->avail) {
            const uint8_t *av = p->avail + j * p->n + a;
            for (int64_t i = 0; i < m; i++) if (!av[i]) v[i] = -INFINITY;
        }
        for (int64_t i = 0; i < m; i++) mx[i] = v[i] > mx[i] ? v[i] : mx[i];
    }
    for (int64_t i = 0; i < m; i++) {
        const int64_t c = p->chosen[a + i];
        lc[i] = P[c * m + i] - mx[i];   /* V_{i c_i} - m_i */
    }
    for (int64_t j = 0; j < J; j++) {
        double *v = P + j * m;
#pragma omp simd
        for (int64_t i = 0; i < m; i++) { v[i] = ck_exp(v[i] - mx[i]); sm[i] += v[i]; }
    }
    /* lc becomes the case weights; wi their ratio to the sums. (Two loops, not a select
     * between the weights and 1: the vectorised select was a masked load from the NULL
     * pointer, which is not a fault but a microcode assist, a third of a small pass.) */
    double ll = 0.0;
    if (p->weight) {
        const double *wt = p->weight + a;
#pragma omp simd reduction(+ : ll)
        for (int64_t i = 0; i < m; i++) {
            ll += wt[i] * (lc[i] - ck_log(sm[i]));
            wi[i] = wt[i] / sm[i];
            lc[i] = wt[i];
        }
    } else {
#pragma omp simd reduction(+ : ll)
        for (int64_t i = 0; i < m; i++) {
            ll += lc[i] - ck_log(sm[i]);
            wi[i] = 1.0 / sm[i];
            lc[i] = 1.0;
        }
    }
    s->ll += ll;
    if (p->order < 1) return;
    /* weighted probabilities w_i P_ij in place of the exponentials */
    for (int64_t j = 0; j < J; j++) {
        double *v = P + j * m, e = 0.0;
#pragma omp simd reduction(+ : e)
        for (int64_t i = 0; i < m; i++) { v[i] *= wi[i]; e += v[i]; }
        s->esum[j] += e;
    }
    /* the chosen alternative's values, read while the chunk is in cache (a gather per k) */
    for (int64_t i = 0; i < m; i++) s->cnt[p->chosen[a + i]] += lc[i];
    for (int64_t k = 0; k < Kd; k++) {
        const double *x = p->X + k * p->sk + a;
        const int64_t *c = p->chosen + a;
        double q = 0.0;
#pragma omp simd reduction(+ : q)
        for (int64_t i = 0; i < m; i++) q += lc[i] * x[c[i] * p->sj + i];
        s->xc[k] += q;
    }
    for (int64_t u = 0; u < S; u++) {
        const int64_t au = p->spec_alt[u];
        const double *z = p->spec_val + u * p->n + a, *pa = P + au * m;
        const int64_t *c = p->chosen + a;
        double *q = Q + u * m, qs = 0.0, zc = 0.0;
        for (int64_t i = 0; i < m; i++) {
            q[i] = pa[i] * z[i];
            qs += q[i];
            zc += c[i] == au ? lc[i] * z[i] : 0.0;
        }
        s->qsum[u] += qs;
        s->zc[u] += zc;
    }
    /* w_i P_ij x_ijk, its within-case sums w_i xbar_ik and its per-alternative sums */
    for (int64_t k = 0; k < Kd; k++) {
        double *wb = wxb + k * m;
        for (int64_t i = 0; i < m; i++) wb[i] = 0.0;
        for (int64_t j = 0; j < J; j++) {
            const double *x = p->X + k * p->sk + j * p->sj + a, *pj = P + j * m;
            double *t = WX + (k * J + j) * m, b = 0.0;
#pragma omp simd reduction(+ : b)
            for (int64_t i = 0; i < m; i++) { t[i] = pj[i] * x[i]; wb[i] += t[i]; b += t[i]; }
            s->bsum[k * J + j] += b;
        }
    }
    if (p->order < 2) return;
    /* unweighted xbar_ik (zero-weight cases have zero sums: divide by 1) */
    for (int64_t i = 0; i < m; i++) wi[i] = lc[i] > 0.0 ? 1.0 / lc[i] : 1.0;
    for (int64_t k = 0; k < Kd; k++) {
        const double *wb = wxb + k * m;
        double *x = xb + k * m;
        for (int64_t i = 0; i < m; i++) x[i] = wb[i] * wi[i];
    }
    double *info = s->info;
    /* stored x stored: sum over the chunk's (j, i) of w P x_k x_l, minus sum_i w xbar_k xbar_l.
     * Four columns l at a time: one load of w P x_k feeds four independent sums, which keeps
     * the vector units busy (one running sum would wait on each addition's latency) */
    for (int64_t k = 0; k < Kd; k++) {
        for (int64_t l = 0; l <= k; l += 4) {
            const int64_t nl = k + 1 - l < 4 ? k + 1 - l : 4;
            double h[4];
            const double *t = WX + k * J * m, *xl[4];
            for (int64_t j = 0; j < J; j++, t += m) {
                for (int64_t r = 0; r < 4; r++)  /* rows past nl repeat row l (unused) */
                    xl[r] = p->X + (l + (r < nl ? r : 0)) * p->sk + j * p->sj + a;
                dot4(t, xl, m, h, j == 0);
            }
            const double *u = wxb + k * m;
            for (int64_t r = 0; r < 4; r++) xl[r] = xb + (l + (r < nl ? r : 0)) * m;
            double q[4];
            dot4(u, xl, m, q, 1);
            for (int64_t r = 0; r < nl; r++) info[k * L + l + r] += h[r] - q[r];
        }
    }
    /* constant x stored: sum_i w P_ij (x_ijk - xbar_ik) = bsum[k, j] - sum_i w P_ij xbar_ik;
     * the bsum part is added once at the end */
    for (int64_t j = 0; j < J; j++) {
        const double *pj = P + j * m;
        for (int64_t k = 0; k < Kd; k++) {
            const double *x = xb + k * m;
            double q = 0.0;
#pragma omp simd reduction(+ : q)
            for (int64_t i = 0; i < m; i++) q += pj[i] * x[i];
            info[(Kd + j) * L + k] -= q;
        }
    }
    /* constant x constant: -sum_i w P_ia P_ib (the diagonal esum part is added at the end) */
    for (int64_t i = 0; i < m; i++) wi[i] = lc[i] > 0.0 ? 1.0 / lc[i] : 0.0;
    for (int64_t a2 = 0; a2 < J; a2++) {
        const double *pa = P + a2 * m;
        for (int64_t b2 = 0; b2 <= a2; b2++) {
            const double *pb = P + b2 * m;
            double q = 0.0;
#pragma omp simd reduction(+ : q)
            for (int64_t i = 0; i < m; i++) q += pa[i] * pb[i] * wi[i];
            info[(Kd + a2) * L + Kd + b2] -= q;
        }
    }
    /* alternative-specific columns against the stored ones, the constants and each other
     * (the 1[a_s = b] * sum w z P term against constants is added at the end) */
    for (int64_t u = 0; u < S; u++) {
        const int64_t au = p->spec_alt[u], row = (Kd + J + u) * L;
        const double *z = p->spec_val + u * p->n + a, *qu = Q + u * m;
        for (int64_t k = 0; k < Kd; k++) {
            const double *t = WX + (k * J + au) * m, *x = xb + k * m;
            double h = 0.0, q = 0.0;
#pragma omp simd reduction(+ : h, q)
            for (int64_t i = 0; i < m; i++) { h += z[i] * t[i]; q += qu[i] * x[i]; }
            info[row + k] += h - q;
        }
        for (int64_t b2 = 0; b2 < J; b2++) {
            const double *pb = P + b2 * m;
            double q = 0.0;
#pragma omp simd reduction(+ : q)
            for (int64_t i = 0; i < m; i++) q += qu[i] * pb[i] * wi[i];
            info[row + Kd + b2] -= q;
        }
        for (int64_t v2 = 0; v2 <= u; v2++) {
            const double *qv = Q + v2 * m, *zv = p->spec_val + v2 * p->n + a;
            const int same = p->spec_alt[v2] == au;
            double q = 0.0, d = 0.0;
#pragma omp simd reduction(+ : q, d)
            for (int64_t i = 0; i < m; i++) {
                q += qu[i] * qv[i] * wi[i];
                d += same ? qu[i] * zv[i] : 0.0;
            }
            info[row + Kd + J + v2] += d - q;
        }
    }
}

/*
 * The pass over cases first..last-1, in chunks of `chunk_cases` cases (threads each take a
 * range: the sums of two ranges add up to the sums of both). `work` holds
 * chunk_cases * ck_work_per_case(Kd, J, S) + ck_work_extra(Kd, J, S) doubles; `out` receives
 * ll, then g (Kd + J + S), then info ((Kd + J + S)^2, symmetric). Returns 0.
 */
int64_t ck_mnl_pass(const double *X, int64_t Kd, int64_t J, int64_t n, int64_t sk, int64_t sj,
                    int64_t first, int64_t last,
                    const double *beta, const double *alt_add, const int64_t *chosen,
                    const uint8_t *avail, const double *offset, const double *weight,
                    int64_t S, const int64_t *spec_alt, const double *spec_val,
                    const double *beta_s,
                    int64_t order, int64_t chunk_cases, double *work, double *out)
{
    const int64_t L = Kd + J + S;
    pass_t p = {X, Kd, J, n, sk, sj, beta, alt_add, chosen, avail, offset, weight,
                S, spec_alt, spec_val, beta_s, order};
    double *g = out + 1, *info = out + 1 + L;
    memset(out, 0, sizeof(double) * (size_t)(1 + L + L * L));
    /* the accumulators live behind the workspace's chunk part */
    double *extra = work + chunk_cases * ck_work_per_case(Kd, J, S);
    double *esum = extra + Kd + J + Kd * J;
    acc_t s = {0.0, extra, extra + Kd, extra + Kd + J, esum, info, esum + J, esum + J + S};
    memset(extra, 0, sizeof(double) * (size_t)ck_work_extra(Kd, J, S));
    for (int64_t a = first; a < last; a += chunk_cases) {
        const int64_t m = last - a < chunk_cases ? last - a : chunk_cases;
        chunk(&p, a, m, work, &s);
    }
    out[0] = s.ll;
    if (order < 1) return 0;
    for (int64_t k = 0; k < Kd; k++) {
        double b = 0.0;
        for (int64_t j = 0; j < J; j++) b += s.bsum[k * J + j];
        g[k] = s.xc[k] - b;
    }
    for (int64_t j = 0; j < J; j++) g[Kd + j] = s.cnt[j] - s.esum[j];
    for (int64_t u = 0; u < S; u++) g[Kd + J + u] = s.zc[u] - s.qsum[u];
    if (order < 2) return 0;
    for (int64_t j = 0; j < J; j++) {
        for (int64_t k = 0; k < Kd; k++) info[(Kd + j) * L + k] += s.bsum[k * J + j];
        info[(Kd + j) * L + Kd + j] += s.esum[j];
    }
    for (int64_t u = 0; u < S; u++) info[(Kd + J + u) * L + Kd + spec_alt[u]] += s.qsum[u];
    for (int64_t r = 0; r < L; r++)
        for (int64_t c = r + 1; c < L; c++) info[r * L + c] = info[c * L + r];
    return 0;
}

/* the pass's own exp (of x <= 0) and log (of x > 0) of n values, for the tests: they must
 * agree with libm */
void ck_exp_n(const double *x, double *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = ck_exp(x[i]);
}

void ck_log_n(const double *x, double *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = ck_log(x[i]);
}

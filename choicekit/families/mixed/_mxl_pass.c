/* The compiled per-unit pass of the mixed logit (choicekit/families/mixed/native.py).
 *
 * For a block of whole units, every unit u and draw r: the utilities of the unit's cases
 *
 *     V_njr = V0_nj + sum_i C_iur X_nj,rand[i]
 *
 * (V0: the fixed slots' part and the offset; C: the random slots' coefficients at the unit's
 * draws), their logit probabilities P_njr, the unit's log-likelihood at the draw
 *
 *     ell_ur = sum_{n in u} (V_n,c_n,r - log sum_j exp V_njr)
 *
 * the unit's simulated log-likelihood log L_u = log mean_r exp(ell_ur), and (with_grad) the
 * derivative of ell_ur in every slot's coefficient weighted by the draw's posterior share
 *
 *     G_upr = omega_ur sum_{n in u} (X_n,c_n,p - sum_j P_njr X_njp),
 *     omega_ur = exp(ell_ur) / sum_r' exp(ell_ur').
 *
 * With M, G is not weighted by omega, and M holds the (unweighted) information of each draw in the coefficients,
 *
 *     M_upqr = sum_{n in u} sum_j P_njr (x_njp - xbar_nrp)(x_njq - xbar_nrq)   (q <= p),
 *
 * minus the Hessian of ell_ur in the coefficients, for the analytic Hessian (family.py).
 *
 * With H (and not M), the pass also applies the chain rule to the parameters itself, unit by
 * unit, from a sparse Jacobian of the columns' coefficients: entry e says that parameter
 * e_par[e] moves column e_col[e]'s coefficient by a_e,ur (A[e_aidx[e]], or 1 when e_aidx[e] <
 * 0). With the per-draw scores g_kur = sum_{e: e_par = k} a_e,ur G_u,e_col,r and omega_ur,
 *
 *     S_uk  = sum_r omega_ur g_kur,
 *     H_ukl = sum_r omega_ur (g_kur g_lur - sum_{e->k, f->l} a_e a_f M_u,e_col,f_col,r)
 *             - S_uk S_ul
 *
 * (M kept per unit in a work buffer; the second derivatives of nonlinear coefficients are
 * added by the caller from the unweighted G). Then nothing of size units x draws x columns^2
 * leaves the pass. Otherwise the chain rule is left to NumPy (family.py). Unavailable
 * alternatives (avail = 0) are skipped. No temporaries beyond one case's alternatives.
 * Reference and fallback: MixedFamily._unit_pass_numpy, which gives the same sums to rounding.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../ck_simd.h"

/* the interface version; native.py (ABI_VERSION) uses a library only when they agree */
#define CK_MXL_ABI_VERSION 2

int64_t ck_mxl_abi_version(void) { return CK_MXL_ABI_VERSION; }



/* One unit's score S (K) and Hessian H (K, K) in the parameters from its unweighted per-draw
 * derivatives g (P, R), information h (P, P, R; lower triangle), posterior shares w (R), and
 * the sparse Jacobian (see the top of the file); gk (K, R) is work space. */
static inline void unit_hessian(int64_t u, int64_t n_units, int64_t R, int64_t K, int64_t E,
                                const int64_t *e_col, const int64_t *e_par,
                                const int64_t *e_aidx, const double *A, const double *g,
                                const double *h, const double *w, double *gk, double *S,
                                double *H, int64_t P)
{
    memset(gk, 0, sizeof(double) * (size_t)(K * R));
    for (int64_t e = 0; e < E; ++e) {
        const double *restrict gc = g + e_col[e] * R;
        double *restrict ge = gk + e_par[e] * R;
        if (e_aidx[e] < 0) {
            for (int64_t r = 0; r < R; ++r) ge[r] += gc[r];
        } else {
            const double *restrict a = A + (e_aidx[e] * n_units + u) * R;
            for (int64_t r = 0; r < R; ++r) ge[r] += a[r] * gc[r];
        }
    }
    for (int64_t k = 0; k < K; ++k) {
        const double *restrict gkk = gk + k * R;
        double t = 0.0;
        for (int64_t r = 0; r < R; ++r) t += w[r] * gkk[r];
        S[k] = t;
    }
    for (int64_t k = 0; k < K; ++k) {
        const double *restrict a = gk + k * R;
        for (int64_t l = 0; l <= k; ++l) {
            const double *restrict b = gk + l * R;
            double t = 0.0;
            for (int64_t r = 0; r < R; ++r) t += w[r] * a[r] * b[r];
            t -= S[k] * S[l];
            H[k * K + l] = t;
            H[l * K + k] = t;
        }
    }
    /* - sum_r w a_e a_f M_{c_e c_f}: ordered pairs (e, f) and (f, e) both land on H */
    for (int64_t e = 0; e < E; ++e) {
        const double *ae = e_aidx[e] < 0 ? NULL : A + (e_aidx[e] * n_units + u) * R;
        for (int64_t f = 0; f <= e; ++f) {
            const double *af = e_aidx[f] < 0 ? NULL : A + (e_aidx[f] * n_units + u) * R;
            const int64_t ce = e_col[e], cf = e_col[f];
            const double *restrict mm = h + ((ce >= cf ? ce : cf) * P + (ce >= cf ? cf : ce)) * R;
            double t = 0.0;
            if (ae && af) {
                for (int64_t r = 0; r < R; ++r) t += w[r] * ae[r] * af[r] * mm[r];
            } else if (ae || af) {
                const double *restrict a = ae ? ae : af;
                for (int64_t r = 0; r < R; ++r) t += w[r] * a[r] * mm[r];
            } else {
                for (int64_t r = 0; r < R; ++r) t += w[r] * mm[r];
            }
            const int64_t k = e_par[e], l = e_par[f];
            H[k * K + l] -= t;
            if (f != e) H[l * K + k] -= t;
        }
    }
}

/* returns 0, -1 when the work buffer cannot be allocated, -2 for H without G or with M. Loops run over the draws
 * innermost (contiguous, vectorised): for every unit, the (alternatives x draws) utilities of one
 * case at a time. */
CK_CLONES
int64_t ck_mxl_pass(int64_t n_units, int64_t R, int64_t J, int64_t P, int64_t Pr,
                    const int64_t *unit_start, /* (n_units + 1), local case offsets */
                    const double *X,           /* (m, J, P) */
                    const double *V0,          /* (m, J) */
                    const uint8_t *avail,      /* (m, J) */
                    const int64_t *chosen,     /* (m,) */
                    const int64_t *rand_idx,   /* (Pr,) slots with a random coefficient */
                    const double *C,           /* (Pr, n_units, R) */
                    int64_t with_grad,
                    double *ell,               /* out (n_units, R) */
                    double *llu,               /* out (n_units,): log mean_r exp(ell_ur) */
                    double *G,                 /* out (n_units, P, R) when with_grad */
                    double *M,                 /* out (n_units, P, P, R) or NULL */
                    int64_t K,                 /* parameters (with H) */
                    int64_t E,                 /* Jacobian entries (with H) */
                    const int64_t *e_col,      /* (E,) distinct column of each entry */
                    const int64_t *e_par,      /* (E,) parameter of each entry */
                    const int64_t *e_aidx,     /* (E,) row of A, or -1 for a constant 1 */
                    const double *A,           /* (rows, n_units, R) */
                    double *S,                 /* out (n_units, K) with H */
                    double *H)                 /* out (n_units, K, K) or NULL */
{
    if (H && (!with_grad || M)) return -2;
    const size_t JR = (size_t)(J > 0 ? J : 1) * (size_t)(R > 0 ? R : 1);
    double *restrict V = (double *)malloc(sizeof(double) * JR);
    double *restrict mx = (double *)malloc(sizeof(double) * (size_t)(R > 0 ? R : 1));
    double *restrict sm = (double *)malloc(sizeof(double) * (size_t)(R > 0 ? R : 1));
    double *restrict xb = (double *)malloc(sizeof(double) * (size_t)(P > 0 ? P : 1) *
                                           (size_t)(R > 0 ? R : 1));
    /* with H: one unit's information (P, P, R) and per-draw parameter scores (K, R) */
    double *hw = H ? (double *)malloc(sizeof(double) * (size_t)(P > 0 ? P * P : 1) *
                                      (size_t)(R > 0 ? R : 1)) : NULL;
    double *gk = H ? (double *)malloc(sizeof(double) * (size_t)(K > 0 ? K : 1) *
                                      (size_t)(R > 0 ? R : 1)) : NULL;
    if (!V || !mx || !sm || !xb || (H && (!hw || !gk))) {
        free(V); free(mx); free(sm); free(xb); free(hw); free(gk);
        return -1;
    }
    for (int64_t u = 0; u < n_units; ++u) {
        const int64_t n0 = unit_start[u], n1 = unit_start[u + 1];
        double *restrict e = ell + u * R;
        for (int64_t r = 0; r < R; ++r) e[r] = 0.0;
        double *g = with_grad ? G + u * P * R : NULL;
        if (g) memset(g, 0, sizeof(double) * (size_t)(P * R));
        double *h = (g && M) ? M + u * P * P * R : (H ? hw : NULL);
        if (h) memset(h, 0, sizeof(double) * (size_t)(P * P * R));
        for (int64_t n = n0; n < n1; ++n) {
            const double *Xn = X + n * J * P;
            const double *V0n = V0 + n * J;
            const uint8_t *an = avail + n * J;
            const int64_t ch = chosen[n];
            for (int64_t r = 0; r < R; ++r) mx[r] = -INFINITY;
            for (int64_t j = 0; j < J; ++j) {
                if (!an[j]) continue;
                const double *x = Xn + j * P;
                double *restrict v = V + j * R;
                const double v0 = V0n[j];
                for (int64_t r = 0; r < R; ++r) v[r] = v0;
                for (int64_t i = 0; i < Pr; ++i) {
                    const double xi = x[rand_idx[i]];
                    if (xi == 0.0) continue;
                    const double *restrict c = C + (i * n_units + u) * R;
                    for (int64_t r = 0; r < R; ++r) v[r] += xi * c[r];
                }
                for (int64_t r = 0; r < R; ++r) mx[r] = v[r] > mx[r] ? v[r] : mx[r];
            }
            for (int64_t r = 0; r < R; ++r) sm[r] = 0.0;
            {
                const double *restrict vc = V + ch * R;
                for (int64_t r = 0; r < R; ++r) e[r] += vc[r] - mx[r];
            }
            for (int64_t j = 0; j < J; ++j) {
                if (!an[j]) continue;
                double *restrict v = V + j * R;
#pragma omp simd
                for (int64_t r = 0; r < R; ++r) {
                    v[r] = ck_exp(v[r] - mx[r]);
                    sm[r] += v[r];
                }
            }
#pragma omp simd
            for (int64_t r = 0; r < R; ++r) {
                e[r] -= ck_log(sm[r]);
                sm[r] = 1.0 / sm[r];
            }
            if (!g) continue;
            const double *xc = Xn + ch * P;
            for (int64_t j = 0; j < J; ++j) {
                if (!an[j]) continue;
                double *restrict v = V + j * R;
                for (int64_t r = 0; r < R; ++r) v[r] *= sm[r]; /* probabilities */
            }
            for (int64_t p = 0; p < P; ++p) {
                /* xbar_p = sum_j P_j x_jp */
                double *restrict b = xb + p * R;
                for (int64_t r = 0; r < R; ++r) b[r] = 0.0;
                for (int64_t j = 0; j < J; ++j) {
                    if (!an[j]) continue;
                    const double xjp = Xn[j * P + p];
                    if (xjp == 0.0) continue;
                    const double *restrict v = V + j * R;
                    for (int64_t r = 0; r < R; ++r) b[r] += xjp * v[r];
                }
                double *restrict gp = g + p * R;
                const double xcp = xc[p];
                for (int64_t r = 0; r < R; ++r) gp[r] += xcp - b[r];
            }
            if (!h) continue;
            /* h_pq += sum_j P_j x_jp x_jq - xbar_p xbar_q (lower triangle, q <= p) */
            for (int64_t p = 0; p < P; ++p) {
                for (int64_t q = 0; q <= p; ++q) {
                    double *restrict hp = h + (p * P + q) * R;
                    const double *restrict bp = xb + p * R;
                    const double *restrict bq = xb + q * R;
                    for (int64_t r = 0; r < R; ++r) hp[r] -= bp[r] * bq[r];
                    for (int64_t j = 0; j < J; ++j) {
                        if (!an[j]) continue;
                        const double xx = Xn[j * P + p] * Xn[j * P + q];
                        if (xx == 0.0) continue;
                        const double *restrict v = V + j * R;
                        for (int64_t r = 0; r < R; ++r) hp[r] += xx * v[r];
                    }
                }
            }
        }
        /* the unit's simulated log-likelihood, and (with_grad) its posterior shares of the
         * draws, omega_ur = exp(ell_ur) / sum_r' exp(ell_ur'), folded into G */
        double m = -INFINITY;
        for (int64_t r = 0; r < R; ++r) m = e[r] > m ? e[r] : m;
        double tot = 0.0;
#pragma omp simd reduction(+ : tot)
        for (int64_t r = 0; r < R; ++r) {
            sm[r] = ck_exp(e[r] - m);
            tot += sm[r];
        }
        llu[u] = m + log(tot) - log((double)R);
        if (!g) continue;
        const double it = 1.0 / tot;
        for (int64_t r = 0; r < R; ++r) sm[r] *= it; /* omega_ur */
        if (H) {
            unit_hessian(u, n_units, R, K, E, e_col, e_par, e_aidx, A, g, h, sm, gk,
                         S + u * K, H + u * K * K, P);
            continue; /* G stays unweighted (the caller's second derivatives) */
        }
        if (h) continue; /* with M, G stays unweighted (the caller weights) */
        for (int64_t p = 0; p < P; ++p) {
            double *restrict gp = g + p * R;
            for (int64_t r = 0; r < R; ++r) gp[r] *= sm[r];
        }
    }
    free(V); free(mx); free(sm); free(xb); free(hw); free(gk);
    return 0;
}

/*
 * One pass of the nested logit log-likelihood, score and exact Hessian over a parameter-major
 * design, fused per chunk of cases (choicekit/families/gev/native.py loads this with ctypes;
 * the NumPy kernel choicekit/families/gev/nl.py with the chain rule of
 * choicekit/families/gev/family.py is the reference it must agree with).
 *
 * Why C: the NumPy kernel runs some forty array operations per tree node and block, and the
 * chain rule through V = X beta rebuilt the (cases x alternatives x parameters) block and
 * multiplied (n, J, J) by (n, J, K) batches at every evaluation: a 200,000 x 5 x 14 nested
 * logit fit took 22 times the MNL fit on the same design. Here the design is read from the
 * parameter-major storage once per pass, as the MNL pass reads it.
 *
 * Per chunk of cases:
 *   1. utilities V_ij (alternative-major, one axpy per stored column), -inf if unavailable;
 *   2. the tree recursion in utility space (trees of any depth; nodes 0..M-1 are the nests,
 *      in topological order parents[m] < m, node M the root with lambda 1):
 *        W_q = lambda_q log sum_{c child of q} exp(W_c / lambda_q)   (W_c = V_c for an alt)
 *      with its gradient g_q and Hessian H_q over the node's local parameters (the utilities
 *      below it and the lambdas of its subtree, in theta = (V_1..V_J, lambda_1..lambda_M)),
 *      and from them log P of the chosen alternative, its gradient d (D = J + M) and its
 *      Hessian h (D x D, packed lower triangle) -- the formulas of nl.py (_nl_pass,
 *      _nl_deriv_chunk, _nl_hessian). Every per-case quantity is stored case-innermost, so
 *      each step is one loop over the chunk's cases that the compiler vectorises (with
 *      ck_exp and ck_log): the case-by-case version, with scalar exp and log, took 2-5x as
 *      long;
 *   3. the chain rule through V = X beta, vectorised over the chunk's cases:
 *        g_k      = sum_i w_i sum_j x_ijk d_ij,
 *        T_ijk    = sum_b h_i,jb x_ibk,
 *        H_kl     = sum_i w_i sum_j T_ijk x_ijl,
 *        H_k,lam  = sum_i w_i sum_j x_ijk h_i,j(J+q),
 *      and the same with a constant per alternative (x = 1 at its alternative) and the S
 *      alternative-specific columns (values z_is at alternative a_s).
 *
 * Output layout (L = Kd + J + S + M): out[0] = ll, out[1..L] = g, out[1+L..] = H (L x L, the
 * Hessian itself: negative semi-definite near a maximum, symmetric) in the order: stored
 * columns, one constant per alternative, specific columns, the M lambdas (absolute values;
 * the caller applies the parameters' maps, e.g. Biogeme's mu = 1 / lambda).
 * Utilities as in _mnl_pass.c:
 *   V_ij = sum_k beta_k x_ijk + alt_add_j + sum_{s: a_s = j} beta_s z_is + offset_ji.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../ck_simd.h"

/* the interface version of this library; native.py (ABI_VERSION) uses it only when the two
 * agree. Bump both with any change of a signature, an argument's meaning or a layout. */
#define CK_NL_ABI_VERSION 2

/* the clamp of log-weights whose weight is exactly 0, as nl.py's _LOGMIN */
#define CK_LOGMIN (-1e150)

/* nodes (nests + the root) a tree may have here */
#define MAXNODES 128

int64_t ck_nl_abi_version(void) { return CK_NL_ABI_VERSION; }

/* the tree, laid out by native.py (node q: nests 0..M-1 in topological order, the root M):
 *   kid_off (M + 2), kids (J + M): the children of node q are kids[kid_off[q]..kid_off[q+1]),
 *     an id j < J an alternative, J + c the nest c;
 *   kpos (J + M): per child entry, an alternative's position in its parent's local set, or a
 *     nest's offset in npos;
 *   npos: for each nest child c, the positions of c's local set in its parent's (k_c values);
 *   loc_off (M + 2), loc: the local set of node q (the utilities of the alternatives below it
 *     and the lambdas of the nests in its subtree, ascending indices into theta = (V, lambda);
 *     the root's is all of theta), lpos (M): the position of the nest's own lambda in its set.
 * Every per-case quantity is stored case-innermost ((..., m) over the chunk's m cases), so
 * that each step of the recursion is a loop over the cases that the compiler vectorises. */
typedef struct {
    int64_t M;
    const int64_t *kid_off, *kids, *kpos, *npos, *loc_off, *loc, *lpos;
} tree_t;

static inline int64_t tri(int64_t a, int64_t b) /* packed lower triangle, any order */
{
    return a >= b ? a * (a + 1) / 2 + b : b * (b + 1) / 2 + a;
}

/* the workspace of a chunk of m cases: each array below starts at `offset * m` doubles and
 * holds `size * m` (case-innermost); computed once per pass (layout()) */
typedef struct {
    int64_t V, W, pi, lp, ent, sq, G, H, vec, ell, tp, d, h, T, mx, tot, wt, llc;
    int64_t per_case;                    /* doubles per case in all */
    int64_t goff[MAXNODES], hoff[MAXNODES]; /* node q's G and H within G and H */
} lay_t;

static void layout(int64_t J, const tree_t *t, lay_t *L)
{
    const int64_t M = t->M, D = J + M;
    int64_t sg = 0, sh = 0, kmax = 0, at = 0;
    for (int64_t q = 0; q <= M; q++) {
        const int64_t k = t->loc_off[q + 1] - t->loc_off[q];
        L->goff[q] = sg; sg += k;
        L->hoff[q] = sh; if (q < M) sh += k * (k + 1) / 2;
        kmax = k > kmax ? k : kmax;
    }
#define CK_NEXT(field, size) do { L->field = at; at += (size); } while (0)
    CK_NEXT(V, J);            /* utilities */
    CK_NEXT(W, M + 1);        /* inclusive values */
    CK_NEXT(pi, J + M);       /* each child's probability at its parent */
    CK_NEXT(lp, J + M);       /* and its (clamped) log */
    CK_NEXT(ent, M + 1);      /* entropy per node */
    CK_NEXT(sq, M + 1);       /* sum pi lp^2 per node */
    CK_NEXT(G, sg);           /* gradients of W_q over the local sets */
    CK_NEXT(H, sh);           /* their packed Hessians (nests) */
    CK_NEXT(vec, kmax);       /* a local vector */
    CK_NEXT(ell, M + 1);      /* log pi of the chosen path's child per node */
    CK_NEXT(tp, M);           /* the chosen path's nests */
    CK_NEXT(d, D);            /* gradient of log P over theta */
    CK_NEXT(h, D * (D + 1) / 2); /* its packed Hessian */
    CK_NEXT(T, J);            /* h X_k of one stored column */
    CK_NEXT(mx, 1);           /* scratch */
    CK_NEXT(tot, 1);          /* scratch */
    CK_NEXT(wt, 1);           /* case weights */
    CK_NEXT(llc, 1);          /* log P of the chosen alternative */
#undef CK_NEXT
    L->per_case = at;
}

/* doubles of workspace for a pass with chunks of `chunk_cases` cases, or -1 for a tree of
 * more than MAXNODES - 1 nests */
int64_t ck_nl_work_size(int64_t J, int64_t M, const int64_t *loc_off, int64_t chunk_cases)
{
    if (M + 1 > MAXNODES) return -1;
    tree_t t = {M, NULL, NULL, NULL, NULL, loc_off, NULL, NULL};
    lay_t L;
    layout(J, &t, &L);
    return chunk_cases * L.per_case;
}

typedef struct {
    const double *X; /* x_ijk at X[k * sk + j * sj + i] */
    int64_t Kd, J, n, sk, sj;
    const double *beta, *alt_add;
    const int64_t *chosen;
    const uint8_t *avail;   /* (J, n) or NULL */
    const double *offset;   /* (J, n) or NULL */
    const double *weight;   /* (n,) or NULL */
    int64_t S;
    const int64_t *spec_alt;
    const double *spec_val; /* (S, n) */
    const double *beta_s;
    const double *lam;      /* (M,) */
    const int64_t *parent;      /* (M,) parent node of each nest (M for the root) */
    const int64_t *alt_parent;  /* (J,) parent node of each alternative */
    tree_t t;
    int64_t order;
    lay_t lay;
} nlpass_t;

/* the tree recursion of a chunk's cases, bottom-up: inclusive values W, the children's
 * probabilities, and (order >= 1) the gradients G_q of W_q over the local sets, (order 2)
 * their Hessians H_q; then log P of the chosen alternatives (ell, ll), the gradient d and the
 * packed Hessian h over theta. The formulas are nl.py's (_nl_pass, _nl_deriv_chunk,
 * _nl_hessian). */
static inline __attribute__((always_inline)) void tree_pass(const nlpass_t *p, int64_t a0, int64_t m, double *work, double *llc)
{
    const int64_t J = p->J, M = p->t.M, D = J + M, root = M, order = p->order;
    const tree_t *t = &p->t;
    const lay_t *L = &p->lay;
    const int64_t *goff = L->goff, *hoff = L->hoff;
    double *Vt = work + L->V * m, *W = work + L->W * m, *pich = work + L->pi * m;
    double *lpch = work + L->lp * m, *ent = work + L->ent * m, *sq = work + L->sq * m;
    double *G = work + L->G * m, *H = work + L->H * m, *vec = work + L->vec * m;
    double *ell = work + L->ell * m, *tp = work + L->tp * m, *d = work + L->d * m;
    double *h = work + L->h * m, *mx = work + L->mx * m, *tot = work + L->tot * m;
    for (int64_t qq = 0; qq <= M; qq++) {
        const int64_t q = qq < M ? M - 1 - qq : root; /* children before parents */
        const double lq = q < M ? p->lam[q] : 1.0, inv = 1.0 / lq;
        const int64_t k0 = t->kid_off[q], k1 = t->kid_off[q + 1];
        double *Wq = W + q * m, *eq = ent + q * m, *sqq = sq + q * m;
        for (int64_t i = 0; i < m; i++) mx[i] = -INFINITY;
        for (int64_t r = k0; r < k1; r++) {
            const int64_t ch = t->kids[r];
            const double *src = ch < J ? Vt + ch * m : W + (ch - J) * m;
            double *sc = lpch + ch * m;
#pragma omp simd
            for (int64_t i = 0; i < m; i++) {
                sc[i] = src[i] * inv;
                mx[i] = sc[i] > mx[i] ? sc[i] : mx[i];
            }
        }
        for (int64_t i = 0; i < m; i++) {
            mx[i] = mx[i] > -1e300 ? mx[i] : 0.0; /* a nest with no available member */
            tot[i] = 0.0;
        }
        for (int64_t r = k0; r < k1; r++) {
            const int64_t ch = t->kids[r];
            double *sc = lpch + ch * m, *pc = pich + ch * m;
#pragma omp simd
            for (int64_t i = 0; i < m; i++) {
                sc[i] -= mx[i];
                pc[i] = ck_exp(sc[i]);
                tot[i] += pc[i];
            }
        }
        /* tot >= 1 where a child is available (its maximum gives exp(0)); the dead nest's
         * W is -inf, its children's probabilities 0 */
        for (int64_t i = 0; i < m; i++) {
            eq[i] = tot[i] > 0.0 ? 0.0 : -INFINITY; /* (eq: scratch until below) */
            tot[i] = tot[i] > 1.0 ? tot[i] : 1.0;
        }
#pragma omp simd
        for (int64_t i = 0; i < m; i++) {
            const double lt = ck_log(tot[i]);
            Wq[i] = lq * (mx[i] + lt) + eq[i];
            mx[i] = lt;            /* now log(tot) */
            tot[i] = 1.0 / tot[i]; /* now 1 / tot */
        }
        for (int64_t i = 0; i < m; i++) { eq[i] = 0.0; sqq[i] = 0.0; }
        for (int64_t r = k0; r < k1; r++) {
            const int64_t ch = t->kids[r];
            double *sc = lpch + ch * m, *pc = pich + ch * m;
#pragma omp simd
            for (int64_t i = 0; i < m; i++) {
                double lp = sc[i] - mx[i];
                lp = lp > CK_LOGMIN ? lp : CK_LOGMIN;
                sc[i] = lp;
                pc[i] *= tot[i];
                eq[i] -= pc[i] * lp;
                sqq[i] += pc[i] * lp * lp;
            }
        }
        if (order < 1) continue;
        const int64_t kq = t->loc_off[q + 1] - t->loc_off[q];
        double *Gq = G + goff[q] * m;
        for (int64_t i = 0; i < kq * m; i++) Gq[i] = 0.0;
        for (int64_t r = k0; r < k1; r++) {
            const int64_t ch = t->kids[r];
            const double *pc = pich + ch * m;
            if (ch < J) {
                double *ga = Gq + t->kpos[r] * m;
                for (int64_t i = 0; i < m; i++) ga[i] += pc[i];
            } else {
                const int64_t c = ch - J, kc = t->loc_off[c + 1] - t->loc_off[c];
                const int64_t *np = t->npos + t->kpos[r];
                const double *Gc = G + goff[c] * m;
                for (int64_t a = 0; a < kc; a++) {
                    double *ga = Gq + np[a] * m;
                    const double *gc = Gc + a * m;
#pragma omp simd
                    for (int64_t i = 0; i < m; i++) ga[i] += pc[i] * gc[i];
                }
            }
        }
        if (q == root) break;
        const int64_t lp = t->lpos[q];
        if (order >= 2) {
            double *Hq = H + hoff[q] * m;
            /* -(1/lam) g g' (g without the own lambda: still 0 there) */
            for (int64_t a = 0; a < kq; a++)
                for (int64_t b = 0; b <= a; b++) {
                    double *hab = Hq + (a * (a + 1) / 2 + b) * m;
                    const double *ga = Gq + a * m, *gb = Gq + b * m;
#pragma omp simd
                    for (int64_t i = 0; i < m; i++) hab[i] = -inv * ga[i] * gb[i];
                }
            for (int64_t i = 0; i < kq * m; i++) vec[i] = 0.0;
            for (int64_t r = k0; r < k1; r++) {
                const int64_t ch = t->kids[r];
                const double *pc = pich + ch * m, *lc = lpch + ch * m;
                if (ch < J) {
                    const int64_t a = t->kpos[r];
                    double *haa = Hq + (a * (a + 1) / 2 + a) * m, *va = vec + a * m;
#pragma omp simd
                    for (int64_t i = 0; i < m; i++) {
                        haa[i] += pc[i] * inv;
                        va[i] -= inv * pc[i] * (lc[i] + eq[i]);
                    }
                } else {
                    const int64_t c = ch - J, kc = t->loc_off[c + 1] - t->loc_off[c];
                    const int64_t *np = t->npos + t->kpos[r];
                    const double *Gc = G + goff[c] * m, *Hc = H + hoff[c] * m;
                    for (int64_t a = 0; a < kc; a++) {
                        const double *ga = Gc + a * m;
                        double *va = vec + np[a] * m;
#pragma omp simd
                        for (int64_t i = 0; i < m; i++)
                            va[i] -= inv * pc[i] * (lc[i] + eq[i]) * ga[i];
                        for (int64_t b = 0; b <= a; b++) {
                            const double *gb = Gc + b * m, *hc = Hc + (a * (a + 1) / 2 + b) * m;
                            double *hq = Hq + tri(np[a], np[b]) * m;
#pragma omp simd
                            for (int64_t i = 0; i < m; i++)
                                hq[i] += pc[i] * (hc[i] + inv * ga[i] * gb[i]);
                        }
                    }
                }
            }
            /* the own lambda's row: vec (its own entry is 0), and var(log pi) / lam */
            for (int64_t a = 0; a < kq; a++) {
                double *hq = Hq + tri(lp, a) * m;
                const double *va = vec + a * m;
                if (a != lp) {
                    for (int64_t i = 0; i < m; i++) hq[i] += va[i];
                } else {
#pragma omp simd
                    for (int64_t i = 0; i < m; i++) hq[i] += inv * (sqq[i] - eq[i] * eq[i]);
                }
            }
        }
        double *gl = Gq + lp * m;
        for (int64_t i = 0; i < m; i++) gl[i] = eq[i];
    }
    /* the chosen alternatives' paths: tp_m = 1 on the ancestors, ell_q = log pi of the path's
     * child at node q (case by case: a gather and a walk up the tree) */
    for (int64_t i = 0; i < (M + 1) * m; i++) ell[i] = 0.0;
    for (int64_t i = 0; i < M * m; i++) tp[i] = 0.0;
    const int64_t *chosen = p->chosen + a0;
    for (int64_t i = 0; i < m; i++) {
        const int64_t c = chosen[i];
        double s = lpch[c * m + i];
        ell[p->alt_parent[c] * m + i] = s;
        for (int64_t q = p->alt_parent[c]; q != root; q = p->parent[q]) {
            const double l2 = lpch[(J + q) * m + i];
            tp[q * m + i] = 1.0;
            ell[p->parent[q] * m + i] += l2;
            s += l2;
        }
        llc[i] = s;
    }
    if (order < 1) return;
    /* d = e_c / lam_p(c) + sum_m t_m c_m g_m - g_root - sum_m ell_m / lam_m e_(J+m),
     * c_m = 1/lam_p(m) - 1/lam_m (the root's loc is all of theta, in order) */
    const double *Gr = G + goff[root] * m;
    for (int64_t i = 0; i < D * m; i++) d[i] = -Gr[i];
    for (int64_t i = 0; i < m; i++) {
        const int64_t c = chosen[i], pc0 = p->alt_parent[c];
        d[c * m + i] += pc0 < M ? 1.0 / p->lam[pc0] : 1.0;
    }
    for (int64_t q = 0; q < M; q++) {
        const int64_t pm = p->parent[q], kq = t->loc_off[q + 1] - t->loc_off[q];
        const double cm = (pm < M ? 1.0 / p->lam[pm] : 1.0) - 1.0 / p->lam[q];
        const int64_t *lq = t->loc + t->loc_off[q];
        const double *Gq = G + goff[q] * m, *tq = tp + q * m;
        for (int64_t a = 0; a < kq; a++) {
            double *da = d + lq[a] * m;
            const double *ga = Gq + a * m;
#pragma omp simd
            for (int64_t i = 0; i < m; i++) da[i] += cm * tq[i] * ga[i];
        }
        double *dl = d + (J + q) * m;
        const double il = 1.0 / p->lam[q], *eq = ell + q * m;
        for (int64_t i = 0; i < m; i++) dl[i] -= eq[i] * il;
    }
    if (order < 2) return;
    /* h = g_r g_r' - diag(pi of the root's alternatives)
     *     + sum_m [t_m c_m - pi_m 1(m child of the root)] H_m - sum_{m child of root} pi_m g_m g_m'
     *     - sum_p (vec_p e_(J+p)' + e_(J+p) vec_p') / lam_p^2 + 2 ell_p / lam_p^2 e e' */
    for (int64_t a = 0; a < D; a++)
        for (int64_t b = 0; b <= a; b++) {
            double *hab = h + (a * (a + 1) / 2 + b) * m;
            const double *ga = Gr + a * m, *gb = Gr + b * m;
#pragma omp simd
            for (int64_t i = 0; i < m; i++) hab[i] = ga[i] * gb[i];
        }
    for (int64_t r = t->kid_off[root]; r < t->kid_off[root + 1]; r++) {
        const int64_t ch = t->kids[r];
        if (ch >= J) continue;
        double *hcc = h + (ch * (ch + 1) / 2 + ch) * m;
        const double *pc = pich + ch * m;
        for (int64_t i = 0; i < m; i++) hcc[i] -= pc[i];
    }
    for (int64_t q = 0; q < M; q++) {
        const int64_t pm = p->parent[q], kq = t->loc_off[q + 1] - t->loc_off[q];
        const double cm = (pm < M ? 1.0 / p->lam[pm] : 1.0) - 1.0 / p->lam[q];
        const int64_t *lq = t->loc + t->loc_off[q];
        const double *Gq = G + goff[q] * m, *Hq = H + hoff[q] * m, *tq = tp + q * m;
        const double *pq = pich + (J + q) * m;
        const int top = pm == root;
        /* wH = t c_m - pi_q 1(top) into tot, wg = -pi_q 1(top) into mx */
        for (int64_t i = 0; i < m; i++) {
            tot[i] = cm * tq[i] - (top ? pq[i] : 0.0);
            mx[i] = top ? -pq[i] : 0.0;
        }
        for (int64_t a = 0; a < kq; a++)
            for (int64_t b = 0; b <= a; b++) {
                double *hab = h + tri(lq[a], lq[b]) * m;
                const double *hq = Hq + (a * (a + 1) / 2 + b) * m;
                const double *ga = Gq + a * m, *gb = Gq + b * m;
#pragma omp simd
                for (int64_t i = 0; i < m; i++) hab[i] += tot[i] * hq[i] + mx[i] * ga[i] * gb[i];
            }
    }
    for (int64_t q = 0; q < M; q++) {
        const int64_t kq = t->loc_off[q + 1] - t->loc_off[q], lp = t->lpos[q];
        const int64_t *lq = t->loc + t->loc_off[q];
        const double *Gq = G + goff[q] * m, *tq = tp + q * m;
        const double i2 = 1.0 / (p->lam[q] * p->lam[q]);
        for (int64_t a = 0; a < kq; a++) {
            double *va = vec + a * m;
            const double *ga = Gq + a * m;
            for (int64_t i = 0; i < m; i++) va[i] = -tq[i] * ga[i];
        }
        for (int64_t r = t->kid_off[q]; r < t->kid_off[q + 1]; r++) {
            const int64_t ch = t->kids[r];
            if (ch < J) {
                double *va = vec + t->kpos[r] * m;
                for (int64_t i = 0; i < m; i++) va[i] += chosen[i] == ch ? 1.0 : 0.0;
            } else {
                const int64_t c = ch - J, kc = t->loc_off[c + 1] - t->loc_off[c];
                const int64_t *np = t->npos + t->kpos[r];
                const double *Gc = G + goff[c] * m, *tc = tp + c * m;
                for (int64_t a = 0; a < kc; a++) {
                    double *va = vec + np[a] * m;
                    const double *ga = Gc + a * m;
#pragma omp simd
                    for (int64_t i = 0; i < m; i++) va[i] += tc[i] * ga[i];
                }
            }
        }
        const int64_t gl = J + q;
        for (int64_t a = 0; a < kq; a++) {
            double *hq = h + tri(gl, lq[a]) * m;
            const double *va = vec + a * m;
            const double f = a == lp ? 2.0 * i2 : i2;
#pragma omp simd
            for (int64_t i = 0; i < m; i++) hq[i] -= f * va[i];
        }
        double *hll = h + tri(gl, gl) * m;
        const double *eq = ell + q * m;
        for (int64_t i = 0; i < m; i++) hll[i] += 2.0 * i2 * eq[i];
    }
}

CK_CLONES
static void chunk(const nlpass_t *p, int64_t a0, int64_t m, double *work, double *out)
{
    const int64_t Kd = p->Kd, J = p->J, S = p->S, M = p->t.M, D = J + M;
    const int64_t L = Kd + J + S + M, order = p->order;
    const lay_t *lay = &p->lay;
    double *Vt = work + lay->V * m, *d = work + lay->d * m, *h = work + lay->h * m;
    double *T = work + lay->T * m, *wt = work + lay->wt * m, *llc = work + lay->llc * m;
    double *g = out + 1, *Hs = out + 1 + L;
    ck_utilities(p->X, Kd, J, p->n, p->sk, p->sj, a0, m, p->beta, p->alt_add, p->offset, S,
                 p->spec_alt, p->spec_val, p->beta_s, Vt);
    if (p->avail)
        for (int64_t j = 0; j < J; j++) {
            const uint8_t *av = p->avail + j * p->n + a0;
            double *v = Vt + j * m;
            for (int64_t i = 0; i < m; i++) if (!av[i]) v[i] = -INFINITY;
        }
    for (int64_t i = 0; i < m; i++) wt[i] = p->weight ? p->weight[a0 + i] : 1.0;
    tree_pass(p, a0, m, work, llc);
    double ll = 0.0;
    for (int64_t i = 0; i < m; i++) ll += wt[i] * llc[i];
    out[0] += ll;
    if (order < 1) return;
    /* the case weights into d and h */
    for (int64_t a = 0; a < D; a++) {
        double *da = d + a * m;
        for (int64_t i = 0; i < m; i++) da[i] *= wt[i];
    }
    /* score: stored columns, constants, specific columns, lambdas */
    for (int64_t k = 0; k < Kd; k++) {
        double s = 0.0;
        for (int64_t j = 0; j < J; j++) {
            const double *x = p->X + k * p->sk + j * p->sj + a0, *gv = d + j * m;
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < m; i++) s += gv[i] * x[i];
        }
        g[k] += s;
    }
    for (int64_t j = 0; j < D; j++) {
        const double *gv = d + j * m;
        double s = 0.0;
        for (int64_t i = 0; i < m; i++) s += gv[i];
        g[j < J ? Kd + j : Kd + S + j] += s;
    }
    for (int64_t u = 0; u < S; u++) {
        const double *z = p->spec_val + u * p->n + a0, *gv = d + p->spec_alt[u] * m;
        double s = 0.0;
        for (int64_t i = 0; i < m; i++) s += z[i] * gv[i];
        g[Kd + J + u] += s;
    }
    if (order < 2) return;
    for (int64_t a = 0; a < D * (D + 1) / 2; a++) {
        double *ha = h + a * m;
        for (int64_t i = 0; i < m; i++) ha[i] *= wt[i];
    }
    /* per stored column k: T_jk = sum_b h_jb x_bk for the chunk (J x m, in L1), then at once
     * H_kl = sum_j T_jk . x_jl (l <= k, four at a time), the constants' sums_i T_jk and the
     * specific columns' sum_i z T_(a_s)k */
    for (int64_t k = 0; k < Kd; k++) {
        const double *xk = p->X + k * p->sk + a0;
        for (int64_t j = 0; j < J; j++) {
            double *tk = T + j * m;
            const double *h0 = h + tri(j, 0) * m;
#pragma omp simd
            for (int64_t i = 0; i < m; i++) tk[i] = h0[i] * xk[i];
            for (int64_t b = 1; b < J; b++) {
                const double *hv = h + tri(j, b) * m, *x = xk + b * p->sj;
#pragma omp simd
                for (int64_t i = 0; i < m; i++) tk[i] += hv[i] * x[i];
            }
        }
        for (int64_t l = 0; l <= k; l += 4) {
            const int64_t nl = k + 1 - l < 4 ? k + 1 - l : 4;
            double hsum[4];
            const double *xl[4];
            for (int64_t j = 0; j < J; j++) {
                for (int64_t r = 0; r < 4; r++)  /* rows past nl repeat row l (unused) */
                    xl[r] = p->X + (l + (r < nl ? r : 0)) * p->sk + j * p->sj + a0;
                dot4(T + j * m, xl, m, hsum, j == 0);
            }
            for (int64_t r = 0; r < nl; r++) Hs[k * L + l + r] += hsum[r];
        }
        for (int64_t j = 0; j < J; j++) {
            const double *tk = T + j * m;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < m; i++) s += tk[i];
            Hs[(Kd + j) * L + k] += s;
        }
        for (int64_t u = 0; u < S; u++) {
            const double *z = p->spec_val + u * p->n + a0, *tk = T + p->spec_alt[u] * m;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < m; i++) s += z[i] * tk[i];
            Hs[(Kd + J + u) * L + k] += s;
        }
    }
    /* constants against constants */
    for (int64_t j = 0; j < J; j++)
        for (int64_t b = 0; b <= j; b++) {
            const double *hv = h + tri(j, b) * m;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < m; i++) s += hv[i];
            Hs[(Kd + j) * L + Kd + b] += s;
        }
    /* specific columns against constants and each other */
    for (int64_t u = 0; u < S; u++) {
        const int64_t au = p->spec_alt[u], row = (Kd + J + u) * L;
        const double *z = p->spec_val + u * p->n + a0;
        for (int64_t b = 0; b < J; b++) {
            const double *hv = h + tri(au, b) * m;
            double s = 0.0;
            for (int64_t i = 0; i < m; i++) s += z[i] * hv[i];
            Hs[row + Kd + b] += s;
        }
        for (int64_t v2 = 0; v2 <= u; v2++) {
            const double *z2 = p->spec_val + v2 * p->n + a0;
            const double *hv = h + tri(au, p->spec_alt[v2]) * m;
            double s = 0.0;
            for (int64_t i = 0; i < m; i++) s += z[i] * z2[i] * hv[i];
            Hs[row + Kd + J + v2] += s;
        }
    }
    /* lambdas against stored, constants, specific columns and lambdas */
    for (int64_t q = 0; q < M; q++) {
        const int64_t row = (Kd + J + S + q) * L;
        for (int64_t k = 0; k < Kd; k++) {
            double s = 0.0;
            for (int64_t j = 0; j < J; j++) {
                const double *x = p->X + k * p->sk + j * p->sj + a0, *hl = h + tri(J + q, j) * m;
#pragma omp simd reduction(+ : s)
                for (int64_t i = 0; i < m; i++) s += hl[i] * x[i];
            }
            Hs[row + k] += s;
        }
        for (int64_t j = 0; j < J; j++) {
            const double *hl = h + tri(J + q, j) * m;
            double s = 0.0;
            for (int64_t i = 0; i < m; i++) s += hl[i];
            Hs[row + Kd + j] += s;
        }
        for (int64_t u = 0; u < S; u++) {
            const double *z = p->spec_val + u * p->n + a0, *hl = h + tri(J + q, p->spec_alt[u]) * m;
            double s = 0.0;
            for (int64_t i = 0; i < m; i++) s += z[i] * hl[i];
            Hs[row + Kd + J + u] += s;
        }
        for (int64_t r = 0; r <= q; r++) {
            const double *hl = h + tri(J + q, J + r) * m;
            double s = 0.0;
            for (int64_t i = 0; i < m; i++) s += hl[i];
            Hs[row + Kd + J + S + r] += s;
        }
    }
}

/*
 * The pass over cases first..last-1 in chunks of `chunk_cases` cases. `work` holds
 * ck_nl_work_size(J, M, loc_off, chunk_cases) doubles; `out` receives ll, g (L) and H
 * (L x L). Returns 0, or 1 when the tree has more than MAXNODES - 1 nests.
 */
int64_t ck_nl_pass(const double *X, int64_t Kd, int64_t J, int64_t n, int64_t sk, int64_t sj,
                   int64_t first, int64_t last,
                   const double *beta, const double *alt_add, const int64_t *chosen,
                   const uint8_t *avail, const double *offset, const double *weight,
                   int64_t S, const int64_t *spec_alt, const double *spec_val,
                   const double *beta_s,
                   int64_t M, const double *lam, const int64_t *parent,
                   const int64_t *alt_parent, const int64_t *kid_off, const int64_t *kids,
                   const int64_t *kpos, const int64_t *npos, const int64_t *loc_off,
                   const int64_t *loc, const int64_t *lpos,
                   int64_t order, int64_t chunk_cases, double *work, double *out)
{
    if (M + 1 > MAXNODES) return 1;
    const int64_t L = Kd + J + S + M;
    nlpass_t p = {X, Kd, J, n, sk, sj, beta, alt_add, chosen, avail, offset, weight,
                  S, spec_alt, spec_val, beta_s, lam, parent, alt_parent,
                  {M, kid_off, kids, kpos, npos, loc_off, loc, lpos}, order, {0}};
    layout(J, &p.t, &p.lay);
    memset(out, 0, sizeof(double) * (size_t)(1 + L + L * L));
    for (int64_t a = first; a < last; a += chunk_cases) {
        const int64_t m = last - a < chunk_cases ? last - a : chunk_cases;
        chunk(&p, a, m, work, out);
    }
    if (order >= 2) {
        double *H = out + 1 + L;
        for (int64_t r = 0; r < L; r++)
            for (int64_t c = r + 1; c < L; c++) H[r * L + c] = H[c * L + r];
    }
    return 0;
}

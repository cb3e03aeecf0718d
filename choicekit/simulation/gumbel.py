"""Derivation checks: the logit formula is what Gumbel random utility produces, by simulation.

The logit choice probability :math:`P_j = \\exp(V_j/\\mu) / \\sum_i \\exp(V_i/\\mu)` is a theorem
about random utility. With :math:`U_j = V_j + \\varepsilon_j`, :math:`\\varepsilon_j` i.i.d.
Gumbel with location 0 and scale :math:`\\mu`, and the choice :math:`\\arg\\max_j U_j`:

1. the choice probabilities are the softmax of :math:`V/\\mu` (McFadden 1974);
2. the difference of two independent Gumbel(0, :math:`\\mu`) variables is logistic with location
   0 and scale :math:`\\mu`, so binary logit is :math:`\\sigma((V_1 - V_2)/\\mu)`;
3. :math:`\\max_j U_j` is Gumbel with location :math:`\\mu\\,\\mathrm{logsum}(V/\\mu)` and scale
   :math:`\\mu` (the Gumbel family is max-stable), so the expected maximum utility is
   :math:`\\mu\\,\\mathrm{logsum}(V/\\mu) + \\gamma\\mu` with Euler's :math:`\\gamma \\approx
   0.5772` -- the basis of logsum consumer-surplus measures (Small & Rosen 1981);
4. only differences of utility matter: adding a constant to every :math:`V_j` leaves the
   probabilities unchanged;
5. independence of irrelevant alternatives: :math:`P_i/P_j = \\exp((V_i - V_j)/\\mu)` whatever
   other alternatives are available.

Each function here simulates one statement and tests it (chi-square / G, Kolmogorov-Smirnov,
z tests), and :func:`gumbel_check` runs them all and returns a :class:`GumbelCheck` report.
With ``error="normal"`` (independent normal errors with the Gumbel's variance, the probit) the
same checks are a negative control: statements 1-3 and 5 are false there and the tests reject
once the number of draws is large enough, which shows they have power. Statement 4 holds for
any additive error, so it passes under both.

References
----------
McFadden, D. (1974). Conditional logit analysis of qualitative choice behavior. In
P. Zarembka (ed.), *Frontiers in Econometrics*, 105-142.
Small, K. A. & Rosen, H. S. (1981). Applied welfare economics with discrete choice models.
*Econometrica* 49(1), 105-130.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., ch. 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from choicekit._lazy import stats
from choicekit.exceptions import SpecificationError
from choicekit.families.logit import logsum, softmax
from choicekit.simulation.choices import (
    ErrorKind,
    _check_arrays,
    _check_scale_error,
    as_generator,
    draw_errors,
    simulate_counts,
    spawn_generators,
)

__all__ = [
    "EULER_GAMMA", "DEFAULT_UTILITIES", "FrequencyCheck", "KSCheck", "MaxUtilityCheck",
    "ShiftCheck", "IIACheck", "GumbelCheck", "frequency_check", "logistic_difference_check",
    "max_utility_check", "shift_invariance_check", "iia_check", "gumbel_check",
]

#: Euler-Mascheroni constant, the mean of a standard Gumbel variable
EULER_GAMMA = float(np.euler_gamma)

#: default fixed design of :func:`gumbel_check`: the textbook softmax examples plus a
#: tie and a wide spread (``nan`` = alternative not in the choice set)
DEFAULT_UTILITIES = np.array([
    [0.25, 1.23, -0.8, np.nan, np.nan],
    [1.3, 5.1, 2.2, 0.7, 1.1],
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [-1.0, 0.0, 1.0, 2.0, 3.0],
])


def _pvalue_text(p: float) -> str:
    return "< 1e-300" if p < 1e-300 else f"{p:.3g}"


# ------------------------------------------------------------------------------ result types
@dataclass(frozen=True)
class FrequencyCheck:
    """Simulated choice frequencies against the softmax, per pattern and aggregated.

    Attributes
    ----------
    table : DataFrame
        One row per (pattern, available alternative): ``utility``, ``probability``
        (softmax of ``V / scale``), ``count``, ``frequency``, ``se`` (binomial standard error
        :math:`\\sqrt{P(1-P)/R}`) and ``z`` (``(frequency - probability) / se``).
    patterns : DataFrame
        Per pattern: Pearson ``chi2``, ``G``, ``df`` and their p-values.
    chi2, g, df : float, float, int
        Aggregated statistics (sums over the independent patterns).
    chi2_pvalue, g_pvalue : float
    n_draws : int
        Replications per pattern.
    """

    table: pd.DataFrame
    patterns: pd.DataFrame
    chi2: float
    chi2_pvalue: float
    g: float
    g_pvalue: float
    df: int
    n_draws: int

    @property
    def max_abs_z(self) -> float:
        """Largest cell deviation in binomial standard errors."""
        return float(np.abs(self.table["z"]).max())


@dataclass(frozen=True)
class KSCheck:
    """A one-sample Kolmogorov-Smirnov test of simulated draws against a distribution.

    Attributes
    ----------
    name : str
        What is tested.
    reference : str
        The hypothesised distribution, e.g. ``"logistic(loc=0, scale=1)"``.
    statistic, pvalue : float
    n : int
        Number of draws.
    sample : ndarray
        The draws (kept for plots; at most ``n``).
    loc, scale : float
        Parameters of the hypothesised distribution.
    """

    name: str
    reference: str
    statistic: float
    pvalue: float
    n: int
    sample: np.ndarray = field(repr=False)
    loc: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class MaxUtilityCheck:
    """The maximum utility is Gumbel at the logsum; its mean is logsum + Euler's gamma.

    Attributes
    ----------
    ks : KSCheck
        KS test of :math:`\\max_j U_j` against Gumbel(:math:`\\mu\\,\\mathrm{logsum}(V/\\mu)`,
        :math:`\\mu`).
    logsum : float
        :math:`\\mu\\,\\mathrm{logsum}(V/\\mu)`.
    expected_max : float
        ``logsum + gamma * scale``.
    mean_max, mean_max_se : float
        Simulated mean of the maximum and its Monte Carlo standard error.
    z, pvalue : float
        Two-sided z test of ``mean_max == expected_max``.
    """

    ks: KSCheck
    logsum: float
    expected_max: float
    mean_max: float
    mean_max_se: float
    z: float
    pvalue: float


@dataclass(frozen=True)
class ShiftCheck:
    """Frequencies at ``V`` and at ``V + shift`` from independent draws, and their homogeneity.

    Attributes
    ----------
    shift : float
    frequencies : DataFrame
        Columns ``base``, ``shifted`` and ``probability`` by alternative.
    chi2, df, pvalue : float, int, float
        Pearson chi-square test that both samples share one distribution.
    """

    shift: float
    frequencies: pd.DataFrame
    chi2: float
    df: int
    pvalue: float


@dataclass(frozen=True)
class IIACheck:
    """The odds of ``a`` against ``b`` with and without a third alternative ``c``.

    Attributes
    ----------
    a, b, removed : int
        Alternative positions.
    ratio_full, ratio_reduced : float
        Simulated :math:`\\hat P_a / \\hat P_b` with all alternatives and without ``removed``.
    ratio_theory : float
        :math:`\\exp((V_a - V_b)/\\mu)`.
    z, pvalue : float
        Two-sample z test that the conditional share :math:`P_a / (P_a + P_b)` is the same in
        both choice sets.
    """

    a: int
    b: int
    removed: int
    ratio_full: float
    ratio_reduced: float
    ratio_theory: float
    z: float
    pvalue: float


@dataclass(frozen=True)
class GumbelCheck:
    """Report of :func:`gumbel_check`; ``str()`` gives a readable table.

    Attributes
    ----------
    error : str
        Error distribution simulated (``"gumbel"`` or the ``"normal"`` negative control).
    scale : float
    frequencies : FrequencyCheck
    difference : KSCheck
        :math:`\\varepsilon_1 - \\varepsilon_2` against logistic(0, scale).
    maximum : MaxUtilityCheck
    shift : ShiftCheck
    iia : IIACheck
    alpha : float
        Level used for the ok/REJECT column of the text.
    """

    error: str
    scale: float
    frequencies: FrequencyCheck
    difference: KSCheck
    maximum: MaxUtilityCheck
    shift: ShiftCheck
    iia: IIACheck
    alpha: float = 0.01

    @property
    def tests(self) -> pd.DataFrame:
        """One row per test: ``statistic``, ``df`` (where relevant) and ``pvalue``."""
        f, d, m, s, i = self.frequencies, self.difference, self.maximum, self.shift, self.iia
        rows = [
            ("frequencies = softmax (Pearson chi2)", f.chi2, f.df, f.chi2_pvalue),
            ("frequencies = softmax (G test)", f.g, f.df, f.g_pvalue),
            (f"e1 - e2 ~ {d.reference} (KS)", d.statistic, np.nan, d.pvalue),
            (f"max U ~ {m.ks.reference} (KS)", m.ks.statistic, np.nan, m.ks.pvalue),
            ("E[max U] = logsum + gamma*scale (z)", m.z, np.nan, m.pvalue),
            (f"P(V + {s.shift:g}) = P(V) (chi2)", s.chi2, s.df, s.pvalue),
            ("IIA: P_a/P_b unchanged without c (z)", i.z, np.nan, i.pvalue),
        ]
        return pd.DataFrame(rows, columns=["test", "statistic", "df", "pvalue"]).set_index("test")

    def passed(self, alpha: float | None = None) -> bool:
        """Whether no test rejects at level ``alpha`` (default: the report's ``alpha``)."""
        a = self.alpha if alpha is None else alpha
        return bool((self.tests["pvalue"] >= a).all())

    def __str__(self) -> str:
        f = self.frequencies
        lines = [
            f"Gumbel derivation check: errors {self.error}, scale {self.scale:g}, "
            f"{f.n_draws:,} draws per pattern",
            "",
            "Choice frequencies against softmax(V / scale)",
        ]
        t = f.table.reset_index()
        lines.append(f"{'pattern':>7} {'alt':>4} {'V':>8} {'softmax':>9} {'frequency':>10} "
                     f"{'z':>7}")
        for r in t.itertuples(index=False):
            lines.append(f"{r.pattern:>7} {r.alternative:>4} {r.utility:>8.3f} "
                         f"{r.probability:>9.5f} {r.frequency:>10.5f} {r.z:>7.2f}")
        lines.append(f"largest |z| = {f.max_abs_z:.2f} (binomial standard errors)")
        m, i = self.maximum, self.iia
        lines += [
            "",
            f"E[max U]: simulated {m.mean_max:.4f} (MC s.e. {m.mean_max_se:.4f}); "
            f"logsum + gamma*scale = {m.logsum:.4f} + {EULER_GAMMA * self.scale:.4f} = "
            f"{m.expected_max:.4f}",
            f"IIA: P_{i.a}/P_{i.b} = {i.ratio_full:.4f} with all, {i.ratio_reduced:.4f} without "
            f"{i.removed}; exp((V_{i.a} - V_{i.b})/scale) = {i.ratio_theory:.4f}",
            "",
            f"{'test':<46} {'statistic':>10} {'df':>4} {'p-value':>9}  result (alpha "
            f"{self.alpha:g})",
        ]
        for name, r in self.tests.iterrows():
            df = "" if np.isnan(r["df"]) else f"{int(r['df'])}"
            verdict = "ok" if r["pvalue"] >= self.alpha else "REJECT"
            lines.append(f"{name:<46} {r['statistic']:>10.4g} {df:>4} "
                         f"{_pvalue_text(r['pvalue']):>9}  {verdict}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<GumbelCheck error={self.error!r} scale={self.scale:g} "
                f"passed={self.passed()}>")


# ------------------------------------------------------------------------------ checks
def _utilities_input(V: Any, available: Any) -> tuple[np.ndarray, np.ndarray, list[Any],
                                                       list[Any]]:
    """(V with NaN zero-filled, availability, row labels, column labels) from array/frame."""
    rows: list[Any]
    cols: list[Any]
    if isinstance(V, pd.DataFrame):
        rows, cols = list(V.index), list(V.columns)
        arr = V.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        arr = np.asarray(V, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        rows, cols = list(range(arr.shape[0])), list(range(arr.shape[1]))
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise SpecificationError(f"Utilities must be (patterns x alternatives) with at least 2 "
                                 f"alternatives; got shape {arr.shape}.")
    avail = ~np.isnan(arr)
    if available is not None:
        a = np.asarray(available)
        a = np.broadcast_to(a if a.dtype == bool else a != 0, arr.shape)
        avail = avail & a
    arr = np.where(avail, arr, 0.0)
    arr, _ = _check_arrays(arr, avail)
    return arr, avail, rows, cols


def frequency_check(V: Any, available: Any = None, *, n_draws: int = 10**6, rng: Any = None,
                    scale: float = 1.0, error: ErrorKind = "gumbel") -> FrequencyCheck:
    """Simulated choice frequencies against the softmax, with chi-square and G tests.

    Parameters
    ----------
    V : array_like or DataFrame, shape (patterns, J)
        Fixed utilities; NaN marks an alternative outside the choice set (so
        ``model.utilities(params)`` can be passed directly).
    available : array_like of bool, optional
        Further availability mask.
    n_draws : int, default 1_000_000
        Replications per pattern.
    rng : int, Generator, SeedSequence or None
    scale : float, default 1.0
    error : {"gumbel", "normal"}, default "gumbel"

    Returns
    -------
    FrequencyCheck

    Notes
    -----
    For each pattern the counts are multinomial with :math:`R` trials and probabilities
    :math:`P_j` under the logit. Pearson's :math:`X^2 = \\sum_j (O_j - R P_j)^2 / (R P_j)` and
    the likelihood-ratio :math:`G = 2 \\sum_j O_j \\log(O_j / (R P_j))` are asymptotically
    :math:`\\chi^2` with (available alternatives - 1) degrees of freedom; patterns are
    independent, so their statistics and degrees of freedom add up.
    """
    mu = _check_scale_error(scale, error)
    arr, avail, rows, cols = _utilities_input(V, available)
    counts = simulate_counts(arr, avail, n_draws=n_draws, rng=rng, scale=mu, error=error)
    P = softmax(arr / mu, available=avail)
    E = n_draws * P
    with np.errstate(divide="ignore", invalid="ignore"):
        freq = counts / n_draws
        se = np.sqrt(P * (1.0 - P) / n_draws)
        z = np.where(se > 0, (freq - P) / se, 0.0)
        chi_cells = np.where(avail, (counts - E) ** 2 / np.where(E > 0, E, 1.0), 0.0)
        g_cells = np.where(avail & (counts > 0), counts * np.log(counts / E), 0.0)
    chi_p = chi_cells.sum(axis=1)
    g_p = 2.0 * g_cells.sum(axis=1)
    df_p = avail.sum(axis=1) - 1
    ii, jj = np.nonzero(avail)
    table = pd.DataFrame({
        "pattern": [rows[i] for i in ii], "alternative": [cols[j] for j in jj],
        "utility": arr[ii, jj], "probability": P[ii, jj], "count": counts[ii, jj],
        "frequency": freq[ii, jj], "se": se[ii, jj], "z": z[ii, jj],
    }).set_index(["pattern", "alternative"])
    patterns = pd.DataFrame({
        "chi2": chi_p, "chi2_pvalue": stats.chi2.sf(chi_p, np.maximum(df_p, 1)),
        "g": g_p, "g_pvalue": stats.chi2.sf(g_p, np.maximum(df_p, 1)), "df": df_p,
    }, index=pd.Index(rows, name="pattern"))
    df = int(df_p.sum())
    chi2, g = float(chi_p.sum()), float(g_p.sum())
    return FrequencyCheck(
        table=table, patterns=patterns, chi2=chi2,
        chi2_pvalue=float(stats.chi2.sf(chi2, df)) if df else 1.0, g=g,
        g_pvalue=float(stats.chi2.sf(g, df)) if df else 1.0, df=df, n_draws=int(n_draws))


def _check_n(n_draws: Any) -> int:
    if not isinstance(n_draws, (int, np.integer)) or n_draws < 2:
        raise SpecificationError(f"`n_draws` must be an integer >= 2. Got {n_draws!r}.")
    return int(n_draws)


def logistic_difference_check(*, n_draws: int = 10**5, rng: Any = None, scale: float = 1.0,
                              error: ErrorKind = "gumbel", loc: float = 0.0) -> KSCheck:
    """KS test that the difference of two independent errors is logistic(``loc``, ``scale``).

    Parameters
    ----------
    n_draws : int, default 100_000
    rng : int, Generator, SeedSequence or None
    scale : float, default 1.0
        Gumbel scale :math:`\\mu` of each error.
    error : {"gumbel", "normal"}
    loc : float, default 0.0
        Location of the hypothesised logistic (0 is the theorem; anything else is a
        deliberately wrong hypothesis, to see the test reject).

    Notes
    -----
    If :math:`\\varepsilon_1, \\varepsilon_2` are i.i.d. Gumbel(0, :math:`\\mu`), then
    :math:`\\Pr(\\varepsilon_1 - \\varepsilon_2 \\le x) = 1/(1 + e^{-x/\\mu})`, hence
    :math:`\\Pr(U_1 > U_2) = \\sigma((V_1 - V_2)/\\mu)`: binary logit is the sigmoid.
    """
    mu = _check_scale_error(scale, error)
    n = _check_n(n_draws)
    e = draw_errors(as_generator(rng), (2, n), error=error, scale=mu)
    diff = e[0] - e[1]
    res = stats.kstest(diff, stats.logistic(loc=loc, scale=mu).cdf)
    return KSCheck("difference of two errors", f"logistic(loc={loc:g}, scale={mu:g})",
                   float(res.statistic), float(res.pvalue), n, diff, float(loc), mu)


def max_utility_check(v: Any, available: Any = None, *, n_draws: int = 10**5,
                      rng: Any = None, scale: float = 1.0, error: ErrorKind = "gumbel",
                      loc: float | None = None) -> MaxUtilityCheck:
    """The maximum of ``v + errors`` against Gumbel(logsum, scale), and its mean.

    Parameters
    ----------
    v : array_like, shape (J,)
        Utilities of one choice set (NaN: not in the set).
    available : array_like of bool, optional
    n_draws : int, default 100_000
    rng : int, Generator, SeedSequence or None
    scale : float, default 1.0
    error : {"gumbel", "normal"}
    loc : float, optional
        Location of the hypothesised Gumbel; default (the theorem)
        :math:`\\mu\\,\\mathrm{logsum}(v/\\mu)`. Pass another value to see the test reject.

    Notes
    -----
    :math:`\\Pr(\\max_j U_j \\le x) = \\prod_j \\exp(-e^{-(x - V_j)/\\mu})
    = \\exp(-e^{-(x - \\mu \\log\\sum_j e^{V_j/\\mu})/\\mu})`, a Gumbel with location
    :math:`\\mu\\,\\mathrm{logsum}(V/\\mu)`; its mean adds :math:`\\gamma\\mu`.
    """
    mu = _check_scale_error(scale, error)
    n = _check_n(n_draws)
    arr, avail, _, _ = _utilities_input(np.asarray(v, dtype=np.float64).ravel(), available)
    arr, avail = arr[0], avail[0]
    ls = float(mu * logsum(arr / mu, available=avail))
    e = draw_errors(as_generator(rng), (n, int(avail.sum())), error=error, scale=mu)
    e += arr[avail]
    umax = e.max(axis=1)
    hyp = ls if loc is None else float(loc)
    res = stats.kstest(umax, stats.gumbel_r(loc=hyp, scale=mu).cdf)
    ks = KSCheck("maximum utility", f"Gumbel(loc={hyp:.4g}, scale={mu:g})",
                 float(res.statistic), float(res.pvalue), n, umax, hyp, mu)
    expected = hyp + EULER_GAMMA * mu
    mean = float(umax.mean())
    se = float(umax.std(ddof=1) / math.sqrt(n))
    z = (mean - expected) / se
    return MaxUtilityCheck(ks, ls, expected, mean, se, float(z),
                           float(2.0 * stats.norm.sf(abs(z))))


def shift_invariance_check(v: Any, available: Any = None, *, shift: float = 10.0,
                           n_draws: int = 10**6, rng: Any = None, scale: float = 1.0,
                           error: ErrorKind = "gumbel") -> ShiftCheck:
    """Frequencies at ``v`` and ``v + shift`` (independent draws) and a homogeneity test.

    Notes
    -----
    :math:`\\arg\\max_j (V_j + c + \\varepsilon_j) = \\arg\\max_j (V_j + \\varepsilon_j)`, so
    only utility differences are identified. The two count vectors form a 2 x J contingency
    table; Pearson's test of homogeneity has J - 1 degrees of freedom.
    """
    mu = _check_scale_error(scale, error)
    arr, avail, _, cols = _utilities_input(np.asarray(v, dtype=np.float64).ravel(), available)
    gens = spawn_generators(rng, 2)
    base = simulate_counts(arr, avail, n_draws, gens[0], mu, error=error)[0]
    shifted = simulate_counts(arr + float(shift), avail, n_draws, gens[1], mu, error=error)[0]
    m = avail[0]
    table = np.vstack([base[m], shifted[m]]).astype(np.float64)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = float(np.where(expected > 0, (table - expected) ** 2 / expected, 0.0).sum())
    df = int(m.sum()) - 1
    freqs = pd.DataFrame({"base": base[m] / n_draws, "shifted": shifted[m] / n_draws,
                          "probability": softmax(arr[0] / mu, available=m)[m]},
                         index=pd.Index([c for c, a in zip(cols, m) if a], name="alternative"))
    return ShiftCheck(float(shift), freqs, chi2, df, float(stats.chi2.sf(chi2, df)))


def iia_check(v: Any, *, a: int = 0, b: int = 1, removed: int = 2, n_draws: int = 10**6,
              rng: Any = None, scale: float = 1.0, error: ErrorKind = "gumbel") -> IIACheck:
    """Odds of ``a`` against ``b`` with all alternatives and without ``removed``.

    Notes
    -----
    Under the logit :math:`P_a / P_b = \\exp((V_a - V_b)/\\mu)` in every choice set containing
    both. With counts :math:`n_a, n_b` (full set) and :math:`m_a, m_b` (reduced set), the
    conditional shares :math:`n_a/(n_a+n_b)` and :math:`m_a/(m_a+m_b)` are compared with a
    two-sample z test on independent draws.
    """
    mu = _check_scale_error(scale, error)
    arr = np.asarray(v, dtype=np.float64).ravel()
    J = arr.size
    if len({a, b, removed}) != 3 or not all(0 <= k < J for k in (a, b, removed)):
        raise SpecificationError(f"`a`, `b` and `removed` must be three different positions "
                                 f"among the {J} alternatives. Got {a}, {b}, {removed}.")
    arr, avail, _, _ = _utilities_input(arr, None)
    if not avail[0, [a, b, removed]].all():
        raise SpecificationError("The alternatives `a`, `b` and `removed` must be in the "
                                 "choice set (not NaN).")
    reduced = avail.copy()
    reduced[0, removed] = False
    gens = spawn_generators(rng, 2)
    full = simulate_counts(arr, avail, n_draws, gens[0], mu, error=error)[0]
    red = simulate_counts(arr, reduced, n_draws, gens[1], mu, error=error)[0]
    n1, n2 = full[a] + full[b], red[a] + red[b]
    p1, p2 = full[a] / n1, red[a] / n2
    pool = (full[a] + red[a]) / (n1 + n2)
    se = math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
    z = (p1 - p2) / se if se > 0 else 0.0
    return IIACheck(a, b, removed, float(full[a] / full[b]), float(red[a] / red[b]),
                    float(math.exp((arr[0, a] - arr[0, b]) / mu)), float(z),
                    float(2.0 * stats.norm.sf(abs(z))))


def gumbel_check(V: Any = None, available: Any = None, *, n_draws: int = 10**6,
                 n_draws_ks: int = 10**5, rng: Any = None, scale: float = 1.0,
                 error: ErrorKind = "gumbel", shift: float = 10.0,
                 alpha: float = 0.01) -> GumbelCheck:
    """Check the logit derivation from Gumbel random utility by simulation.

    Parameters
    ----------
    V : array_like or DataFrame, shape (patterns, J), optional
        Fixed utilities (NaN: not in the choice set), e.g. ``model.utilities(params)`` or a
        few rows of it. Default :data:`DEFAULT_UTILITIES`.
    available : array_like of bool, optional
        Further availability mask.
    n_draws : int, default 1_000_000
        Replications per pattern for the frequency, shift and IIA checks.
    n_draws_ks : int, default 100_000
        Draws for the two KS checks and the mean of the maximum.
    rng : int, Generator, SeedSequence or None
        One seed; each check gets an independent child stream (SeedSequence spawning).
    scale : float, default 1.0
        Gumbel scale :math:`\\mu`.
    error : {"gumbel", "normal"}, default "gumbel"
        ``"normal"`` runs the negative control: normal errors with the Gumbel's variance.
    shift : float, default 10.0
        Constant added to every utility in the shift check.
    alpha : float, default 0.01
        Level of the ok/REJECT column in the text report.

    Returns
    -------
    GumbelCheck
        ``str(report)`` is a table; the numbers are attributes (``report.tests`` collects the
        p-values).

    Notes
    -----
    The maximum-utility and IIA checks use the first pattern with the most alternatives in
    the choice set (at least 3 for IIA: the first three of them play ``a``, ``b`` and the
    removed alternative).

    Examples
    --------
    >>> import choicekit as ck
    >>> report = ck.gumbel_check(n_draws=20_000, n_draws_ks=5_000, rng=0)
    >>> report.passed()
    True
    """
    if not 0 < alpha < 1:
        raise SpecificationError(f"`alpha` must lie in (0, 1). Got {alpha!r}.")
    mu = _check_scale_error(scale, error)
    V = DEFAULT_UTILITIES if V is None else V
    arr, avail, _, _ = _utilities_input(V, available)
    if avail.sum(axis=1).max() < 3:
        raise SpecificationError("The IIA check needs a pattern with at least 3 alternatives "
                                 "in the choice set.")
    gens = spawn_generators(rng, 5)
    row = int(np.argmax(avail.sum(axis=1)))
    v = np.where(avail[row], arr[row], np.nan)
    in_set = np.flatnonzero(avail[row])
    freq = frequency_check(V, available, n_draws=n_draws, rng=gens[0], scale=mu, error=error)
    diff = logistic_difference_check(n_draws=n_draws_ks, rng=gens[1], scale=mu, error=error)
    mx = max_utility_check(v, n_draws=n_draws_ks, rng=gens[2], scale=mu, error=error)
    sh = shift_invariance_check(v, shift=shift, n_draws=n_draws, rng=gens[3], scale=mu,
                                error=error)
    iia = iia_check(v, a=int(in_set[0]), b=int(in_set[1]), removed=int(in_set[2]),
                    n_draws=n_draws, rng=gens[4], scale=mu, error=error)
    return GumbelCheck(error, mu, freq, diff, mx, sh, iia, alpha)

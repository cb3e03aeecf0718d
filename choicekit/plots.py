"""Figures (optional matplotlib): predicted vs observed shares, elasticity matrices, scenario
curves, the distribution of a random coefficient, and the Gumbel derivation checks and
recovery studies.

Every function imports matplotlib lazily, draws on a new :class:`matplotlib.figure.Figure`
(or on a given ``ax``) without touching pyplot's global state, and returns the Figure; none
calls ``show()``. Save with ``fig.savefig(path)``. Install the extra with
``pip install choicekit[plot]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from choicekit._lazy import stats
from choicekit.exceptions import SpecificationError
from choicekit.simulation.gumbel import FrequencyCheck, GumbelCheck, KSCheck, MaxUtilityCheck
from choicekit.simulation.recovery import RecoveryStudy

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_frequencies", "plot_gumbel_difference", "plot_max_utility", "plot_recovery",
           "plot_shares", "plot_elasticities", "plot_scenario_curve",
           "plot_random_coefficient"]


def _p(p: float) -> str:
    """``"p = 0.0123"``, or ``"p < 1e-300"`` where the p-value underflows."""
    return "p < 1e-300" if p < 1e-300 else f"p = {p:.3g}"


def _new_figure(**kwargs: Any) -> Figure:
    """A matplotlib Figure outside pyplot (no global figure registry, no GUI)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("Plots need matplotlib: pip install 'choicekit[plot]'.") from None
    return Figure(**kwargs)


def _figure(ax: Axes | None, **kwargs: Any) -> tuple[Figure, Axes]:
    """A new Figure with one Axes (no pyplot), or ``ax`` and its figure."""
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = _new_figure(**kwargs)
    return fig, fig.add_subplot()


def _part(check: Any, attr: str, kind: type) -> Any:
    """``check`` if it is a ``kind``, its ``attr`` if it is a whole GumbelCheck; else an error."""

    if isinstance(check, GumbelCheck):
        check = getattr(check, attr)
    if not isinstance(check, kind):
        raise SpecificationError(f"Expected a {kind.__name__} or GumbelCheck; got "
                                 f"{type(check).__name__}.")
    return check


def _ks_figure(ks: KSCheck, dist: Any, what: str, bins: int,
               ax: Axes | None) -> tuple[Figure, Axes, np.ndarray]:
    """Histogram of a KS check's draws with the hypothesised density ``dist.pdf`` over it.

    Returns the figure, the axes and the grid the density is drawn on.
    """
    fig, ax = _figure(ax, figsize=(6, 4))
    x = ks.sample
    lo, hi = np.quantile(x, [0.001, 0.999])
    ax.hist(x, bins=bins, range=(lo, hi), density=True, color="C0", alpha=0.5,
            label=f"{what} ({ks.n:,} draws)")
    grid = np.linspace(lo, hi, 400)
    ax.plot(grid, dist.pdf(grid, loc=ks.loc, scale=ks.scale), color="C3", label=ks.reference)
    ax.set_ylabel("density")
    return fig, ax, grid


def plot_frequencies(check: FrequencyCheck | GumbelCheck, *, ax: Axes | None = None,
                     n_se: float = 4.0) -> Figure:
    """Simulated choice frequency against softmax probability, one point per cell.

    Without ``ax`` a second panel shows each cell's deviation in binomial standard errors
    with the ``+/- n_se`` band, where a misfit that the first panel hides is visible.

    Parameters
    ----------
    check : FrequencyCheck or GumbelCheck
    ax : matplotlib Axes, optional
        Draw only the first panel, on this Axes.
    n_se : float, default 4.0
        Half-width of the error bars and of the band, in binomial standard errors.

    Returns
    -------
    matplotlib.figure.Figure
    """

    check = _part(check, "frequencies", FrequencyCheck)
    t = check.table
    if ax is None:
        fig = _new_figure(figsize=(10, 4.5), layout="constrained")
        ax, ax_z = fig.subplots(1, 2)
    else:
        fig, ax_z = ax.figure, None
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, label="frequency = probability")
    prob, freq, se = (t[c].to_numpy(dtype=np.float64) for c in ("probability", "frequency",
                                                                 "se"))
    ax.errorbar(prob, freq, yerr=n_se * se, fmt="o", ms=4,
                capsize=2, label=f"simulated (bars: {n_se:g} binomial s.e.)")
    ax.set_xlabel("softmax probability")
    ax.set_ylabel(f"simulated frequency ({check.n_draws:,} draws)")
    ax.set_title(f"Pearson chi2 = {check.chi2:.1f}, df = {check.df}, "
                 f"{_p(check.chi2_pvalue)}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    if ax_z is not None:
        ax_z.axhspan(-n_se, n_se, color="0.9", label=f"+/- {n_se:g} s.e.")
        ax_z.axhline(0, color="0.6", lw=1)
        ax_z.plot(np.arange(len(t)), t["z"].to_numpy(dtype=np.float64), "o", ms=4)
        labels = [f"{p}:{a}" for p, a in t.index]
        ax_z.set_xticks(np.arange(len(t)), labels, rotation=90, fontsize=7)
        ax_z.set_xlabel("pattern:alternative")
        ax_z.set_ylabel("(frequency - probability) / s.e.")
        ax_z.set_title(f"largest |z| = {check.max_abs_z:.2f}", fontsize=10)
        ax_z.legend(fontsize=8)
    return fig


def plot_gumbel_difference(check: KSCheck | GumbelCheck, *, bins: int = 100,
                           ax: Axes | None = None) -> Figure:
    """Empirical density of the error difference against the logistic density.

    The normal density with the same variance is drawn for comparison: the two are close,
    which is why the KS test needs many draws to tell them apart.
    """

    check = _part(check, "difference", KSCheck)
    fig, ax, grid = _ks_figure(check, stats.logistic, "e1 - e2", bins, ax)
    sd = check.scale * np.pi / np.sqrt(3.0)
    ax.plot(grid, stats.norm.pdf(grid, loc=check.loc, scale=sd), color="0.4", ls="--",
            label="normal, same variance")
    ax.set_xlabel("difference of errors")
    ax.set_title(f"KS = {check.statistic:.4f}, {_p(check.pvalue)}", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_max_utility(check: MaxUtilityCheck | GumbelCheck, *, bins: int = 100,
                     ax: Axes | None = None) -> Figure:
    """Empirical density of the maximum utility against Gumbel(logsum, scale)."""

    check = _part(check, "maximum", MaxUtilityCheck)
    ks = check.ks
    fig, ax, _ = _ks_figure(ks, stats.gumbel_r, "max utility", bins, ax)
    ax.axvline(check.logsum, color="0.3", ls=":", label=f"logsum = {check.logsum:.3f}")
    ax.axvline(check.expected_max, color="C2", ls="--",
               label=f"logsum + gamma*scale = {check.expected_max:.3f}")
    ax.set_xlabel("maximum utility")
    ax.set_title(f"KS = {ks.statistic:.4f}, {_p(ks.pvalue)}; "
                 f"mean {check.mean_max:.3f}",
                 fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_recovery(study: RecoveryStudy, *, cov_type: str | None = None,
                  bins: int = 30) -> Figure:
    """Sampling distribution of each estimate, with the true value and the mean marked.

    The normal density centred at the true value with the mean standard error of
    ``cov_type`` (default: the study's first) shows what the asymptotic theory predicts.
    """

    if not isinstance(study, RecoveryStudy):
        raise SpecificationError(f"Expected a RecoveryStudy; got {type(study).__name__}.")
    ct = study.cov_types[0] if cov_type is None else cov_type
    if ct not in study.std_errors:
        raise SpecificationError(f"The study has no standard errors of type {ct!r}; it has "
                                 f"{study.cov_types}.")
    names = list(study.true_params.index)
    k = len(names)
    ncol = min(3, k)
    nrow = -(-k // ncol)
    fig = _new_figure(figsize=(4 * ncol, 3 * nrow), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol)).ravel()
    est = study.estimates.to_numpy()[study.converged]
    mean_se = study.std_errors[ct].to_numpy()[study.converged].mean(axis=0)
    for i, name in enumerate(names):
        ax = axes[i]
        x = est[:, i]
        truth = float(study.true_params.iloc[i])
        ax.hist(x, bins=bins, density=True, color="C0", alpha=0.5)
        grid = np.linspace(min(x.min(), truth - 4 * mean_se[i]),
                           max(x.max(), truth + 4 * mean_se[i]), 300)
        ax.plot(grid, stats.norm.pdf(grid, truth, mean_se[i]), color="C3", lw=1,
                label=f"N(true, mean {ct} SE)")
        ax.axvline(truth, color="k", lw=1.5, label=f"true {truth:.3g}")
        ax.axvline(x.mean(), color="C2", ls="--", label=f"mean {x.mean():.3g}")
        ax.set_title(str(name), fontsize=10)
        ax.legend(fontsize=7)
    for ax in axes[k:]:
        ax.set_visible(False)
    fig.suptitle(f"Recovery: {study.n_used} replications of {study.n_cases:,} cases",
                 fontsize=11)
    return fig


# ============================================================================================
# Post-estimation figures (issue 16, item 6)
# ============================================================================================


def plot_shares(table: Any, *, by: Any = None, data: Any = None,
                ax: Axes | None = None) -> Figure:
    """Predicted against observed shares, one point per alternative (and segment).

    Parameters
    ----------
    table : MNLResults or DataFrame
        A fitted result (its :meth:`share_table` is computed with ``data`` and ``by``), or a
        share table (columns ``observed`` and ``predicted``; index the alternatives, or
        (segment, alternative)).
    by, data
        Passed to ``res.share_table`` when ``table`` is a result.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        Points on the 45-degree line are predicted exactly; a logit with a full set of
        constants reproduces the observed shares of its estimation sample (points on the
        line), so the plot is most telling by segment or on a holdout.
    """
    import pandas as pd

    if hasattr(table, "share_table"):
        table = table.share_table(data, by=by)
    if not (isinstance(table, pd.DataFrame) and {"observed", "predicted"} <= set(table)):
        raise SpecificationError("Expected a fitted result or a share table (columns "
                                 f"'observed' and 'predicted'); got {type(table).__name__}.")
    fig, ax = _figure(ax, figsize=(5, 5), layout="constrained")
    top = float(max(table["observed"].max(), table["predicted"].max(), 1e-12)) * 1.08
    ax.plot([0, top], [0, top], color="0.6", lw=1, ls="--", label="predicted = observed")
    if isinstance(table.index, pd.MultiIndex):
        segments = table.index.get_level_values(0)
        for i, seg in enumerate(segments.unique()):
            part = table[segments == seg]
            ax.scatter(part["observed"], part["predicted"], color=f"C{i % 10}", s=30,
                       label=f"{table.index.names[0] or 'segment'} {seg}")
            for (_, alt), row in part.iterrows():
                ax.annotate(str(alt), (row["observed"], row["predicted"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
    else:
        ax.scatter(table["observed"], table["predicted"], color="C0", s=30)
        for alt, row in table.iterrows():
            ax.annotate(str(alt), (row["observed"], row["predicted"]), fontsize=8,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.set_xlabel("observed share")
    ax.set_ylabel("predicted share")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_elasticities(table: Any, *, ax: Axes | None = None, decimals: int = 2,
                      cmap: str = "RdBu_r") -> Figure:
    """An elasticity (or marginal-effect) matrix as a heat map with its values written in.

    Parameters
    ----------
    table : EffectTable or DataFrame
        ``res.elasticities(...)`` (rows: the variable of an alternative; columns: the share of
        an alternative) or a DataFrame in that layout. Cells with a standard error show it in
        parentheses.
    decimals : int, default 2
    cmap : str, default "RdBu_r"
        A diverging map centred at 0: own effects and cross effects of opposite signs stand
        apart.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import pandas as pd

    se = None
    kind = "elasticity"
    if hasattr(table, "estimate") and hasattr(table, "se"):
        kind, se, table = table.kind, table.se, table.estimate
    if not isinstance(table, pd.DataFrame):
        raise SpecificationError(f"Expected an EffectTable or a DataFrame; got "
                                 f"{type(table).__name__}.")
    M = table.to_numpy(dtype=float)
    r, c = M.shape
    fig, ax = _figure(ax, figsize=(1.3 * c + 2.5, 0.8 * r + 1.5), layout="constrained")
    lim = float(np.nanmax(np.abs(M))) if np.isfinite(M).any() else 1.0
    im = ax.imshow(M, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
    for i in range(r):
        for j in range(c):
            if not np.isfinite(M[i, j]):
                continue
            text = f"{M[i, j]:.{decimals}f}"
            if se is not None and np.isfinite(se.iat[i, j]):
                text += f"\n({se.iat[i, j]:.{decimals}f})"
            dark = abs(M[i, j]) > 0.6 * lim
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    ax.set_xticks(range(c), [str(x) for x in table.columns])
    ax.set_yticks(range(r), [str(x) for x in table.index])
    ax.set_xlabel("effect on the share of")
    ax.set_ylabel("variable of")
    fig.colorbar(im, ax=ax, label=kind.replace("_", " "))
    return fig


def plot_scenario_curve(curve: Any, *, alternatives: Any = None, xlabel: str | None = None,
                        ax: Axes | None = None) -> Figure:
    """Predicted shares against a policy variable, with their confidence bands.

    Parameters
    ----------
    curve : mapping or DataFrame
        ``{policy value: res.predicted_shares(...)}`` (each a frame indexed by alternative
        with columns ``share``, ``lower``, ``upper``), or one DataFrame indexed by (policy
        value, alternative) with those columns (``pd.concat`` of such a mapping).
    alternatives : label or list, optional
        The alternatives to draw (default: all).
    xlabel : str, optional
        The policy variable's name (default: the index name, else "policy value").

    Returns
    -------
    matplotlib.figure.Figure
        One line per alternative, its band shaded (bands of NaN, e.g. ``se="none"``, are
        left out).

    Examples
    --------
    >>> curve = {p: res.predicted_shares(data.with_variables({"CAR_CO": df.CAR_CO * p}))
    ...          for p in (0.8, 1.0, 1.2, 1.5)}  # doctest: +SKIP
    >>> ck.plots.plot_scenario_curve(curve, alternatives="car",
    ...                              xlabel="car cost factor")  # doctest: +SKIP
    """
    import pandas as pd

    if isinstance(curve, dict):
        curve = pd.concat({k: v for k, v in curve.items()}, names=["policy", "alternative"])
    if not (isinstance(curve, pd.DataFrame) and isinstance(curve.index, pd.MultiIndex)
            and "share" in curve):
        raise SpecificationError("Expected {policy value: predicted shares frame} or a frame "
                                 "indexed by (policy value, alternative) with a 'share' column.")
    x_name = xlabel or curve.index.names[0] or "policy value"
    alts = list(curve.index.get_level_values(1).unique())
    if alternatives is not None:
        wanted = alternatives if isinstance(alternatives, (list, tuple)) else [alternatives]
        unknown = [a for a in wanted if a not in alts]
        if unknown:
            raise SpecificationError(f"Alternatives {unknown} are not in the curve; it has "
                                     f"{alts}.")
        alts = list(wanted)
    fig, ax = _figure(ax, figsize=(6, 4), layout="constrained")
    for i, alt in enumerate(alts):
        part = curve.xs(alt, level=1).sort_index()
        x = np.asarray(part.index, dtype=float)
        ax.plot(x, part["share"], marker="o", ms=3, color=f"C{i % 10}", label=str(alt))
        if {"lower", "upper"} <= set(part) and np.isfinite(part["lower"]).all():
            ax.fill_between(x, part["lower"], part["upper"], color=f"C{i % 10}", alpha=0.2,
                            lw=0)
    ax.set_xlabel(str(x_name))
    ax.set_ylabel("predicted share")
    ax.legend(fontsize=8, title="alternative")
    ax.grid(alpha=0.3)
    return fig


_DISTRIBUTIONS = {"normal": "normal", "n": "normal", "lognormal": "lognormal",
                  "ln": "lognormal", "uniform": "uniform", "u": "uniform",
                  "triangular": "triangular", "t": "triangular"}


def plot_random_coefficient(mean: float, sd: float, distribution: str = "normal", *,
                            name: str = "coefficient", sign: float = 1.0,
                            ax: Axes | None = None) -> Figure:
    """Density of a random coefficient given its estimated location and spread.

    Parameters
    ----------
    mean, sd : float
        The estimates (mlogit's conventions): ``"normal"`` mean and standard deviation;
        ``"lognormal"`` the mean and standard deviation of the coefficient's logarithm;
        ``"uniform"`` and ``"triangular"`` the centre and the half-width (spread) of the
        support.
    distribution : {"normal", "lognormal", "uniform", "triangular"} (or "n", "ln", "u", "t")
    name : str
        The coefficient's name, for the title.
    sign : {1, -1}
        -1 for a negative lognormal (``-exp(...)``), e.g. a cost coefficient.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        The density, the population mean and median marked and the share of the population
        with a coefficient below (or above, for the negative side) zero written in.
    """
    kind = _DISTRIBUTIONS.get(str(distribution).lower())
    if kind is None:
        raise SpecificationError(f"`distribution` must be one of {sorted(set(_DISTRIBUTIONS))}. "
                                 f"Got {distribution!r} instead.")
    if not (np.isfinite(mean) and np.isfinite(sd)):
        raise SpecificationError(f"`mean` and `sd` must be finite numbers; got {mean}, {sd}.")
    if sign not in (1, -1, 1.0, -1.0):
        raise SpecificationError(f"`sign` must be 1 or -1; got {sign!r}.")
    s = abs(float(sd))
    if kind == "normal":
        dist = stats.norm(mean, s)
    elif kind == "lognormal":
        dist = stats.lognorm(s=s, scale=np.exp(mean))
    elif kind == "uniform":
        dist = stats.uniform(mean - s, 2 * s)
    else:
        dist = stats.triang(0.5, loc=mean - s, scale=2 * s)
    lo, hi = dist.ppf([0.001, 0.999]) if s > 0 else (mean - 1, mean + 1)
    grid = np.linspace(lo, hi, 400)
    dens = dist.pdf(grid)
    x = sign * grid
    fig, ax = _figure(ax, figsize=(6, 4), layout="constrained")
    ax.plot(x, dens, color="C0")
    ax.fill_between(x, dens, color="C0", alpha=0.2, lw=0)
    pop_mean, median = sign * float(dist.mean()), sign * float(dist.median())
    ax.axvline(pop_mean, color="C3", lw=1.5, label=f"mean {pop_mean:.3g}")
    ax.axvline(median, color="C2", lw=1.2, ls="--", label=f"median {median:.3g}")
    ax.axvline(0.0, color="0.4", lw=0.8)
    below = float(dist.cdf(0.0)) if sign > 0 else float(dist.sf(0.0))
    label = {"normal": f"N({mean:.3g}, {s:.3g}\u00b2)",
             "lognormal": f"{'-' if sign < 0 else ''}exp(N({mean:.3g}, {s:.3g}\u00b2))",
             "uniform": f"U({mean - s:.3g}, {mean + s:.3g})",
             "triangular": f"triangular({mean - s:.3g}, {mean + s:.3g})"}[kind]
    ax.set_title(f"{name}: {label}", fontsize=10)
    ax.text(0.02, 0.95, f"{100 * below:.1f}% below 0", transform=ax.transAxes, va="top",
            fontsize=9)
    ax.set_xlabel(name)
    ax.set_ylabel("density")
    ax.legend(fontsize=8, loc="best")
    return fig

"""Figures for the Gumbel derivation checks and recovery studies (optional matplotlib).

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

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from choicekit.simulation.gumbel import FrequencyCheck, GumbelCheck, KSCheck, MaxUtilityCheck
    from choicekit.simulation.recovery import RecoveryStudy

__all__ = ["plot_frequencies", "plot_gumbel_difference", "plot_max_utility", "plot_recovery"]


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
    from choicekit.simulation.gumbel import GumbelCheck

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
    from choicekit.simulation.gumbel import FrequencyCheck

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
    from choicekit.simulation.gumbel import KSCheck

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
    from choicekit.simulation.gumbel import MaxUtilityCheck

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
    from choicekit.simulation.recovery import RecoveryStudy

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

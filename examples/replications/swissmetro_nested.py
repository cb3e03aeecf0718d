"""Replication: Biogeme's Swissmetro nested (``b09nested``) and cross-nested (``b11cnl``) logits.

Published values: ``tests/reference/biogeme_b09nested_swissmetro.json`` and
``tests/reference/biogeme_b11cnl_swissmetro.json`` (Biogeme estimation reports, 3 significant
digits, classical and robust SEs). The sample, availability and utilities are those of
``b01logit`` (:mod:`swissmetro_b01logit`); the nests are written in Biogeme's normalisation,
``mu = 1 / lambda`` with ``mu >= 1``:

* ``b09nested``: one nest "existing" = {train, car} with ``MU_EXISTING``; Swissmetro alone;
* ``b11cnl``: nests "existing" = {car: 1, train: ALPHA_EXISTING} and "public" =
  {train: 1 - ALPHA_EXISTING, Swissmetro: 1}, with ``MU_EXISTING`` and ``MU_PUBLIC``.

::

    python examples/replications/swissmetro_nested.py --data-dir ../shared/data
"""

from __future__ import annotations

import sys
from pathlib import Path

import choicekit as ck

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import _published as pub  # noqa: E402
from swissmetro_b01logit import load_data, utilities  # noqa: E402

B = ck.Beta


def nested() -> list[ck.Nest]:
    return [ck.Nest("existing", ["train", "car"], mu=B("MU_EXISTING", 1.0, lower=1.0))]


def cross_nested() -> list[ck.Nest]:
    alpha = B("ALPHA_EXISTING", 0.5, lower=0.0, upper=1.0)
    return [ck.Nest("existing", {"car": 1.0, "train": alpha},
                    mu=B("MU_EXISTING", 1.0, lower=1.0)),
            ck.Nest("public", {"train": 1 - alpha, "sm": 1.0},
                    mu=B("MU_PUBLIC", 1.0, lower=1.0))]


def fit_models(path: str | Path | None = None) -> dict[str, pub.Replication]:
    """Fit b09nested and b11cnl; ``{reference stem: Replication}``."""
    data = load_data(path)
    out: dict[str, pub.Replication] = {}
    for name, model in [
            ("biogeme_b09nested_swissmetro", ck.NestedLogit(data, utilities(), nested())),
            ("biogeme_b11cnl_swissmetro", ck.CrossNestedLogit(data, utilities(),
                                                              cross_nested()))]:
        res = model.fit()
        ref = pub.load_reference(name)
        robust = res.with_cov("robust")
        sig = pub.MIN_SIGNIFICANT[name]
        derived = {f"robust std err {k}": (v, float(robust.bse[k]),
                                           pub.derived_tol(v, sig, 1e-3 * v))
                   for k, v in ref["robust_std_errors"].items()}
        derived["n_obs"] = (ref["n_obs"], res.nobs, 0.0)
        names = {k: k for k in ref["params"]}
        out[name] = pub.Replication(name, res, names, derived)
    return out


def main(argv: list[str] | None = None) -> int:
    fits = fit_models(pub.data_dir_from_args(__doc__, "swissmetro.dat", argv))
    return pub.report(fits, fits["biogeme_b09nested_swissmetro"].result.with_cov("robust"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Smaller frictions of issue 16 (item 5), each a user's stumble in the trial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit._validation import suggest

B, V = ck.Beta, ck.Var


@pytest.fixture(scope="module")
def mode():
    df = ck.datasets.load_simulated_modechoice().copy()
    rng = np.random.default_rng(0)
    df["PURPOSE"] = rng.integers(1, 4, len(df)).astype(float)
    df["SIZE"] = pd.Categorical(rng.choice(["small", "medium", "large"], len(df)),
                                categories=["small", "medium", "large"], ordered=True)
    data = ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
        availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"})
    u = {"train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
         + B("B_COST") * V("TRAIN_COST") / 100,
         "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") / 100 + B("B_COST") * V("BUS_COST") / 100,
         "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_COST") / 100}
    return df, data, ck.MNL(data, u)


def test_partial_start_values_are_filled_from_the_betas(mode):
    _, _, model = mode
    full = model.fit()
    part = model.fit(start={"B_TIME": -1.3})
    assert np.allclose(part.params, full.params, atol=1e-8)
    with pytest.raises(ck.SpecificationError, match="Unknown parameters"):
        model.fit(start={"B_TIEM": -1.3})


def test_segment_labels_keep_integers_and_category_order(mode):
    df, _, model = mode
    res = model.fit()
    table = res.share_table(by="PURPOSE")
    assert list(table.index.get_level_values(0).unique()) == [1, 2, 3]
    assert "PURPOSE 1.0" not in str(table)
    by_size = res.predicted_shares(by=df["SIZE"].set_axis(res.model.data.cases), se="none")
    assert list(by_size.index.get_level_values(0).unique()) == ["small", "medium", "large"]
    assert list(res.share_table(by="SIZE").index.get_level_values(0).unique()) == [
        "small", "medium", "large"]


def test_suggestion_prefers_the_same_name_in_another_case():
    assert suggest("TIME", ["INCOME", "time", "cost"]).startswith(" Did you mean 'time'")


def test_repr_of_many_alternatives_is_short():
    df = pd.DataFrame({"c": np.repeat(range(3), 200), "a": np.tile(range(200), 3), "x": 1.0,
                       "y": 0})
    df.loc[df.a == 0, "y"] = 1
    text = repr(ck.ChoiceData.from_long(df, case="c", alt="a", choice="y"))
    assert text == "ChoiceData(3 cases, 200 alternatives [0, 1, 2, ..., 198, 199], long)"

"""Impact of aggressive orders: rebuilding them from executions, and held-out predictors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execgym.envs.market.analysis.impact.model import aggressive_orders, evaluate_impact_models, impact_dataset
from execgym.envs.market.analysis.microstructure.frames import mirror_day
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.data.simulated_day import simulate_day

from .conftest import flat_config

COLS = ["time_s", "type", "order_id", "size_shares", "price", "direction"]


def test_executions_of_one_timestamp_and_side_are_one_order():
    rows = [(1.0, 1, 1, 100, 1010000, -1), (1.0, 1, 2, 100, 1020000, -1), (1.0, 1, 3, 100, 990000, 1),
            (2.0, 4, 1, 100, 1010000, -1), (2.0, 4, 2, 50, 1020000, -1),   # a buy walking two levels
            (3.0, 4, 3, 30, 990000, 1),                                    # a sell
            (4.0, 4, 2, 20, 1020000, -1)]                                  # another buy
    m = pd.DataFrame(rows, columns=COLS)
    ob = np.array([[1010000, 100, 990000, 100]] * len(m))  # the grouping reads messages only
    orders = aggressive_orders(LobsterDay(m, ob))
    assert orders["sign"].tolist() == [1, -1, 1]
    assert orders["size_shares"].tolist() == [150, 30, 20]
    assert orders["n_fills"].tolist() == [2, 1, 1]
    assert orders["worst_price"].tolist() == [1020000, 990000, 1020000]


@pytest.fixture(scope="module")
def impact_day():
    cfg = flat_config(transient_ticks_per_share=5e-3, permanent_ticks_per_share=1e-4)
    return simulate_day(cfg, np.random.default_rng(11), 3600.0, levels=3)


def test_the_immediate_move_is_predicted_from_size_and_depth_on_both_sides(impact_day):
    # just after the order the mid moves only if it cleared the touch: a function of its
    # size, the touch depth and the gap behind it, which the boosted trees learn
    data = impact_dataset(impact_day, horizon_s=0.0)
    assert (data["impact_ticks"] >= 0).all()  # an aggressive order never moves the mid against itself
    res = evaluate_impact_models(data).scores.set_index("model")
    gbm = res.loc["gradient_boosting"]
    assert gbm["r2_oos"] > 0.7 and gbm["r2_oos_buy"] > 0.5 and gbm["r2_oos_sell"] > 0.5
    assert res.loc["square_root", "r2_oos"] > res.loc["kyle_linear", "r2_oos"]
    assert res.loc["train_mean", "r2_oos"] == 0.0


def test_the_later_move_is_partly_predictable_in_a_market_with_impact(impact_day):
    data = impact_dataset(impact_day, horizon_s=10.0)
    assert data["impact_ticks"].mean() > 0  # orders move the price their way on average
    res = evaluate_impact_models(data).scores.set_index("model")
    assert res.loc["gradient_boosting", "r2_oos"] > 0.05
    assert res.loc["zero", "mse"] > res.loc["gradient_boosting", "mse"]


def test_impacts_are_the_same_on_the_mirrored_day(sim_day):
    a = impact_dataset(sim_day, horizon_s=5.0)
    b = impact_dataset(mirror_day(sim_day), horizon_s=5.0)
    np.testing.assert_array_equal(a["sign"], -b["sign"])
    np.testing.assert_allclose(a["impact_ticks"], b["impact_ticks"])
    np.testing.assert_allclose(a["flow_signed_shares"], b["flow_signed_shares"])


def test_impact_inputs_are_checked(sim_day):
    with pytest.raises(ValueError, match="horizon_s must be >= 0"):
        impact_dataset(sim_day, horizon_s=-1.0)
    data = impact_dataset(sim_day, horizon_s=5.0)
    with pytest.raises(ValueError, match="at least 30"):
        evaluate_impact_models(data.iloc[:40])

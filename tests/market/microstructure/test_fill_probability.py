"""Queue-position fill probability: virtual orders against known fills, and held-out predictors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execgym.envs.market.analysis.microstructure.fill_probability import (
    QueueProbeAgent,
    evaluate_fill_models,
    fill_dataset,
    fill_rate_table,
    virtual_fill_times,
)
from execgym.envs.market.analysis.microstructure.frames import mirror_day
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.simulator import SimulatorConfig

from .conftest import flat_config

COLS = ["time_s", "type", "order_id", "size_shares", "price", "direction"]


def _queue_day() -> LobsterDay:
    """Bid 99.00: orders 1 (200) and 2 (100) rest before t = 5; order 3 (500) joins at t = 6."""
    rows = [
        (1.0, 1, 1, 200, 990000, 1), (2.0, 1, 2, 100, 990000, 1), (3.0, 1, 9, 100, 1000000, -1),
        (6.0, 1, 3, 500, 990000, 1),
        (7.0, 3, 3, 500, 990000, 1),    # cancel behind a virtual order placed at t = 5: no help
        (8.0, 4, 1, 150, 990000, 1),    # execution: 150 of the 300 ahead
        (9.0, 3, 2, 100, 990000, 1),    # cancel of an order that was ahead: 50 left ahead
        (10.0, 4, 1, 50, 990000, 1),    # exactly the rest ahead: not yet filled
        (11.0, 1, 4, 100, 990000, 1),
        (12.0, 4, 4, 30, 990000, 1),    # the next execution reaches the virtual order
    ]
    m = pd.DataFrame(rows, columns=COLS)
    ob = np.zeros((len(m), 4), dtype=np.int64)
    ob[:, 0], ob[:, 1], ob[:, 2] = 1000000, 100, 990000
    ob[:, 3] = [200, 300, 300, 800, 300, 150, 50, 0, 100, 70]
    return LobsterDay(m, ob, name="queue")


def test_virtual_order_fills_when_executions_pass_what_was_ahead():
    day = _queue_day()
    t = virtual_fill_times(day, [5.0], [1], [990000], [300], 30.0)
    assert t[0] == 12.0
    # a horizon that ends before then: not filled
    assert np.isnan(virtual_fill_times(day, [5.0], [1], [990000], [300], 6.5)[0])
    # at the front of the queue, the first execution fills it
    assert virtual_fill_times(day, [5.0], [1], [990000], [0], 30.0)[0] == 8.0


def test_virtual_order_fills_when_its_level_is_traded_through():
    rows = [(1.0, 1, 1, 100, 990000, 1), (2.0, 1, 2, 100, 980000, 1), (4.0, 4, 2, 10, 980000, 1)]
    m = pd.DataFrame(rows, columns=COLS)
    ob = np.array([[1000000, 100, 990000, 100]] * 3)
    day = LobsterDay(m, ob)
    assert virtual_fill_times(day, [3.0], [1], [990000], [5000], 10.0)[0] == 4.0
    # the same trade is not a trade-through for an ask
    assert np.isnan(virtual_fill_times(day, [3.0], [-1], [1000000], [0], 10.0)[0])


def test_virtual_fill_times_refuse_bad_input():
    day = _queue_day()
    with pytest.raises(ValueError, match="equal length"):
        virtual_fill_times(day, [1.0, 2.0], [1], [990000], [0], 10.0)
    with pytest.raises(ValueError, match="side"):
        virtual_fill_times(day, [1.0], [2], [990000], [0], 10.0)
    with pytest.raises(ValueError, match="max_horizon_s"):
        virtual_fill_times(day, [1.0], [1], [990000], [0], 0.0)


@pytest.fixture(scope="module")
def probed():
    agent = QueueProbeAgent(every_s=10.0, horizon_s=20.0)
    day = simulate_day(SimulatorConfig(warmup_s=100.0), np.random.default_rng(4), 1200.0, dt_s=0.1, levels=5,
                       agent=agent)
    return day, pd.DataFrame(agent.labels["probes"])


def test_virtual_orders_reproduce_the_fills_of_real_probe_orders_on_both_sides(probed):
    day, probes = probed
    m = day.messages
    k = np.flatnonzero(m["order_id"].isin(probes["order_id"]).to_numpy() & (m["type"] == 1).to_numpy())
    sub = m.iloc[k]
    before = day.orderbook[k - 1]  # the book the probe met
    side = sub["direction"].to_numpy()
    price = sub["price"].to_numpy()
    col = np.where(side == 1, 2, 0)
    ahead = np.zeros(len(k))
    for lev in range(day.levels):
        at = before[np.arange(len(k)), col + 4 * lev] == price
        ahead[at] = before[np.arange(len(k)), col + 4 * lev + 1][at]
    virtual = virtual_fill_times(day, sub["time_s"].to_numpy() + 1e-9, side, price, ahead, 20.0)
    truth = probes.set_index("order_id").loc[sub["order_id"], "fill_time"].to_numpy()
    assert len(k) > 200
    for s in (1, -1):
        mine = side == s
        filled = np.isfinite(truth[mine])
        assert 0.2 < filled.mean() < 1.0
        assert np.array_equal(np.isfinite(virtual[mine]), filled)
        np.testing.assert_allclose(virtual[mine][filled], truth[mine][filled], atol=1e-6)


@pytest.fixture(scope="module")
def dataset():
    # a stationary market (no intraday profile), so the later test part resembles training
    day = simulate_day(flat_config(), np.random.default_rng(11), 3600.0, levels=3)
    return fill_dataset(day, horizon_s=20.0, every_s=3.0, rng=np.random.default_rng(0))


def test_fill_rate_falls_with_the_level_on_both_sides(dataset):
    for side in (1, -1):
        rate = dataset[dataset["side"] == side].groupby("level")["filled"].mean()
        assert rate[0] > rate[1] > rate[2]
    table = fill_rate_table(dataset)
    assert set(table["level"]) == {0, 1, 2} and (table["n"] > 0).all()


def test_predictors_beat_the_base_rate_on_held_out_later_data_and_are_calibrated(dataset):
    res = evaluate_fill_models(dataset, train_frac=0.7)
    scores = res.scores.set_index("model")
    assert scores.loc["base_rate", "brier_skill"] == 0.0
    for name in ("logistic", "gradient_boosting"):
        assert scores.loc[name, "brier_skill"] > 0.3
        pred, obs = res.curves[name]  # ten equal-count bins of ~200 orders: se ~0.035 each
        assert np.mean(np.abs(pred - obs)) < 0.08
    assert res.n_train > res.n_test > 0


def test_fill_labels_mirror_with_the_day(sim_day):
    a = fill_dataset(sim_day, horizon_s=20.0, every_s=10.0, rng=np.random.default_rng(1))
    b = fill_dataset(mirror_day(sim_day), horizon_s=20.0, every_s=10.0, rng=np.random.default_rng(1))
    a = a.sort_values(["t_s", "side", "level"]).reset_index(drop=True)
    b = b.assign(side=-b["side"]).sort_values(["t_s", "side", "level"]).reset_index(drop=True)
    np.testing.assert_array_equal(a["filled"], b["filled"])
    np.testing.assert_allclose(a["queue_ahead_shares"], b["queue_ahead_shares"])


def test_evaluation_refuses_a_training_part_with_one_class(dataset):
    with pytest.raises(ValueError, match="single class"):
        evaluate_fill_models(dataset.assign(filled=0))
    with pytest.raises(ValueError, match="train_frac"):
        evaluate_fill_models(dataset, train_frac=1.0)

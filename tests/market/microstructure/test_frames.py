"""LOBSTER-format days: simulated ones are exact, seeded and validated; quotes and mirrors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execgym.envs.market.analysis.microstructure.frames import executions, mirror_day, prevailing_quotes, time_split
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.simulator import SimulatorConfig


def _short(seed):
    return simulate_day(SimulatorConfig(warmup_s=50.0), np.random.default_rng(seed), 120.0, levels=3)


def test_the_same_seed_gives_the_same_day_and_another_seed_another():
    a, b, c = _short(1), _short(1), _short(2)
    pd.testing.assert_frame_equal(a.messages, b.messages)
    np.testing.assert_array_equal(a.orderbook, b.orderbook)
    assert not a.messages.equals(c.messages)


def test_a_simulated_day_is_in_lobster_units_and_session_time():
    day = _short(3)
    m = day.messages
    assert list(m.columns) == ["time_s", "type", "order_id", "size_shares", "price", "direction"]
    assert m["time_s"].iloc[0] >= 34_200.0 and m["time_s"].iloc[-1] <= 34_200.0 + 120.0
    assert (m["price"] % 100 == 0).all() and day.price_units_per_tick == 100
    assert day.orderbook.shape == (len(m), 12)
    ask, bid = day.orderbook[:, 0], day.orderbook[:, 2]
    assert np.all(ask > bid)
    # the true sign of an execution is the opposite of the resting order's direction
    ex = executions(day)
    assert set(ex["sign"]) == {1, -1}
    # executions at the first time stamp have no earlier book row, hence no prevailing quote
    first = ex["time_s"] == m["time_s"].iloc[0]
    assert ex.loc[first, "ask"].isna().all() and ex.loc[~first, "ask"].notna().all()
    quoted = ex[~first]
    assert np.all((quoted["sign"] == 1) == (quoted["price"] >= quoted["ask"]))


def test_prevailing_quote_is_the_book_before_the_timestamp():
    rows = [(1.0, 1, 1, 100, 990000, 1), (1.0, 1, 2, 100, 1010000, -1), (2.0, 4, 2, 50, 1010000, -1)]
    m = pd.DataFrame(rows, columns=["time_s", "type", "order_id", "size_shares", "price", "direction"])
    ob = np.array([[9_999_999_999, 0, 990000, 100], [1010000, 100, 990000, 100], [1010000, 50, 990000, 100]])
    q = prevailing_quotes(LobsterDay(m, ob))
    assert np.isnan(q["bid"].iloc[0]) and np.isnan(q["bid"].iloc[1])  # nothing before t = 1
    assert q["ask"].iloc[2] == 1010000 and q["mid"].iloc[2] == 1000000
    with pytest.raises(ValueError, match="quote_lag_s"):
        prevailing_quotes(LobsterDay(m, ob), quote_lag_s=-1.0)


def test_mirroring_twice_gives_the_day_back(sim_day):
    twice = mirror_day(mirror_day(sim_day))
    pd.testing.assert_frame_equal(twice.messages, sim_day.messages)
    np.testing.assert_array_equal(twice.orderbook, sim_day.orderbook)


def test_bad_days_and_arguments_are_refused():
    m = pd.DataFrame({"time_s": [1.0, 0.5], "type": [1, 1], "order_id": [1, 2], "size_shares": [1, 1],
                      "price": [100, 100], "direction": [1, 1]})
    with pytest.raises(ValueError, match="time order"):
        LobsterDay(m, np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="differ in length"):
        LobsterDay(m.iloc[:1], np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="LOBSTER columns"):
        LobsterDay(m.drop(columns="direction"), np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(TypeError, match="SimulatorConfig"):
        simulate_day({"tick_size": 0.01}, np.random.default_rng(0), 10.0)
    with pytest.raises(ValueError, match="duration_s"):
        simulate_day(SimulatorConfig(), np.random.default_rng(0), 0.0)
    with pytest.raises(ValueError, match="train_frac"):
        time_split(pd.DataFrame({"t_s": [1.0, 2.0]}), 1.5)

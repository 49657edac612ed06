"""A simulated day recorded in LOBSTER's format reproduces the simulator's book."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.data.lobster import read_messages
from execgym.envs.market.data.lobster_data import DUMMY_ASK, units_per_tick
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig

CFG = SimulatorConfig(flow=FlowConfig(anchor="opposite_best"), warmup_s=50.0)


def test_last_order_book_row_is_the_simulators_book():
    day = simulate_day(CFG, np.random.default_rng(1), 150.0, dt_s=60.0, levels=5, open_time_s=34_200.0)
    messages, orderbook = day.messages, day.orderbook
    sim = MarketSimulator(CFG, np.random.default_rng(1))
    sim.advance(60.0), sim.advance(60.0), sim.advance(30.0)  # the same chunks as simulate_day
    bid_p, bid_s, ask_p, ask_s = sim.book.depth(5)
    last = orderbook[-1]
    np.testing.assert_array_equal(last[0::4], np.where(ask_s > 0, ask_p * 100, DUMMY_ASK))
    np.testing.assert_array_equal(last[1::4], ask_s)
    np.testing.assert_array_equal(last[2::4], bid_p * 100)
    np.testing.assert_array_equal(last[3::4], bid_s)
    assert messages["time_s"].between(34_200.0, 34_350.0).all()
    assert set(messages["type"]) <= {1, 2, 3, 4} and {1, 3, 4} <= set(messages["type"])
    assert (orderbook[:, 0] > orderbook[:, 2]).all()  # never crossed


def test_same_seed_same_day_and_the_messages_read_back(tmp_path):
    (a, ob_a), (b, ob_b), (c, _) = ((d.messages, d.orderbook) for d in (
        simulate_day(CFG, np.random.default_rng(seed), 60.0, dt_s=60.0) for seed in (4, 4, 5)))
    assert a.equals(b) and np.array_equal(ob_a, ob_b) and not a.equals(c)
    path = tmp_path / "m.csv"
    a.to_csv(path, header=False, index=False)
    back = read_messages(path)
    np.testing.assert_array_equal(back["price"], a["price"])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="tick_size"):
        units_per_tick(0.00001)
    with pytest.raises(ValueError, match="duration_s"):
        simulate_day(CFG, np.random.default_rng(0), 0.0)
    with pytest.raises(ValueError, match="levels"):
        simulate_day(CFG, np.random.default_rng(0), 10.0, levels=0)


def test_the_day_covers_its_session_and_an_agent_acts_between_steps_and_leaves_its_labels():
    class Recorder:
        def __init__(self):
            self.labels = {"clock_s": []}

        def act(self, sim, report):
            self.labels["clock_s"].append(sim.time_s)

    agent = Recorder()
    day = simulate_day(CFG, np.random.default_rng(2), 25.0, dt_s=10.0, levels=2, agent=agent, name="rec",
                       open_time_s=1000.0)
    assert agent.labels["clock_s"] == pytest.approx([0.0, 10.0, 20.0, 25.0])  # two whole steps and the rest
    assert day.labels == {"clock_s": agent.labels["clock_s"]} and day.labels is not agent.labels
    assert (day.start_s, day.end_s, day.name, day.levels) == (1000.0, 1025.0, "rec", 2)
    assert day.messages["time_s"].between(1000.0, 1025.0).all()
    sim = MarketSimulator(CFG, np.random.default_rng(2))
    sim.advance(10.0), sim.advance(10.0), sim.advance(5.0)
    bid_p, bid_s, ask_p, ask_s = sim.book.depth(2)
    s = day.book_levels()
    np.testing.assert_array_equal(s.bid_price_ticks[-1], np.where(bid_s > 0, bid_p, 0))
    np.testing.assert_array_equal(s.ask_size_shares[-1], ask_s)

"""A simulated day recorded in LOBSTER's format reproduces the simulator's book."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execgym.envs.market.data.lobster import read_messages
from execgym.envs.market.data.lobster_data import DUMMY_ASK, DUMMY_BID, units_per_tick
from execgym.envs.market.data.simulated_day import book_snapshots, simulate_day, top_level_messages
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig
from tests.market.reference_book import ReferenceBook
from tests.market.test_book_properties import event_streams

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


def test_the_message_file_holds_only_the_top_levels_events_as_lobster_does():
    """A level-L file: submissions whose price is among the top L levels after them,
    cancellations and executions among them before; every dropped event leaves the top L as
    they were, so the file's book rows evolve only through its own messages."""
    levels = 3
    full = simulate_day(CFG, np.random.default_rng(3), 120.0, dt_s=60.0, levels=levels, all_messages=True)
    day = simulate_day(CFG, np.random.default_rng(3), 120.0, dt_s=60.0, levels=levels)
    keep = top_level_messages(full.messages["type"].to_numpy(), full.messages["price"].to_numpy(),
                              full.messages["direction"].to_numpy(), full.orderbook)
    assert 0.2 * len(keep) < (~keep).sum() < len(keep)  # deep events exist and are dropped
    # the day's first message is judged against the warm-up's last book, which full lacks
    keep[0] = day.messages.iloc[0].equals(full.messages.iloc[0])
    pd.testing.assert_frame_equal(day.messages, full.messages[keep].reset_index(drop=True))
    np.testing.assert_array_equal(day.orderbook, full.orderbook[keep])
    rows = full.orderbook
    dropped = np.flatnonzero(~keep)
    dropped = dropped[dropped > 0]
    np.testing.assert_array_equal(rows[dropped], rows[dropped - 1])
    m = day.messages
    for i in range(1, len(m)):
        typ, price, direction = m.at[i, "type"], m.at[i, "price"], m.at[i, "direction"]
        row = day.orderbook[i] if typ == 1 else full.orderbook[np.flatnonzero(keep)[i] - 1]
        book_prices = row[2::4] if direction > 0 else row[0::4]
        assert price in book_prices, (i, typ, price, book_prices)


def test_top_level_messages_on_a_hand_made_book():
    # one level per side: ask 101 x 100, bid 99 x 200 after each message below
    rows = np.array([[101, 100, 99, 200]] * 6)
    types = np.array([1, 1, 3, 4, 2, 5])
    prices = np.array([99, 98, 101, 97, 99, 100])  # at the bid, behind it, the ask, deep, the bid; hidden
    directions = np.array([1, 1, -1, 1, 1, -1])
    # a hidden execution (type 5) never rests on a visible level: LOBSTER's files keep it
    assert top_level_messages(types, prices, directions, rows).tolist() == [True, False, True, False, True, True]
    # the same on the sell side, and nothing is within the book before the first message
    assert top_level_messages(np.array([3]), np.array([101]), np.array([-1]), rows[:1]).tolist() == [False]
    with pytest.raises(ValueError, match="one length"):
        top_level_messages(types, prices[:5], directions, rows)
    with pytest.raises(ValueError, match=r"rows must be \(n, 4 \* levels\).*\(6, 3\)"):
        top_level_messages(types, prices, directions, rows[:, :3])
    with pytest.raises(TypeError, match="prices must hold integers.*float64"):
        top_level_messages(types, prices.astype(float), directions, rows)


def _top_level_reference(types, prices, directions, rows):
    """The rule of :func:`top_level_messages` written with whole-array numpy operations."""
    before = np.zeros_like(rows)
    before[1:] = rows[:-1]  # nothing before the first message: no price matches
    submission, removal = types == 1, (types >= 2) & (types <= 4)
    seen = np.where(submission[:, None], rows, before)
    side = np.where(directions[:, None] > 0, seen[:, 2::4], seen[:, 0::4])
    sizes = np.where(directions[:, None] > 0, seen[:, 3::4], seen[:, 1::4])
    return np.where(submission | removal, ((side == prices[:, None]) & (sizes > 0)).any(axis=1), True)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_top_level_messages_agree_with_the_whole_array_rule(levels, n, seed):
    """Random books on a few prices (so that prices repeat across levels and sides), empty
    levels, every message type and both directions: the compiled pass and the reference agree."""
    rng = np.random.default_rng(seed)
    rows = np.empty((n, 4 * levels), dtype=np.int64)
    rows[:, 0::4], rows[:, 2::4] = rng.integers(95, 105, (2, n, levels))
    rows[:, 1::4], rows[:, 3::4] = rng.integers(0, 3, (2, n, levels)) * 100  # a third of the levels empty
    types, prices, directions = rng.integers(1, 8, n), rng.integers(94, 106, n), rng.choice([-1, 1], n)
    got = top_level_messages(types, prices, directions, rows)
    np.testing.assert_array_equal(got, _top_level_reference(types, prices, directions, rows))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_streams(), levels=st.integers(1, 3), unit=st.sampled_from([1, 100]))
def test_book_snapshots_are_the_reference_books_top_levels_after_every_event(events, levels, unit):
    """Each row is the top ``levels`` of the reference book after that event, in LOBSTER units
    (an empty level: the dummy price, size 0), whether the replay wrote it afresh or kept the
    row before (events beyond the deepest level, submissions, partial and whole cancellations,
    executions; modifications and trades write it afresh)."""
    ref, valid, rows = ReferenceBook(), [], []
    for ev in events:
        try:
            ref.apply(*ev)
        except ValueError:
            continue  # the replay takes complete, valid streams
        valid.append(ev)
        bid_px, bid_sz, ask_px, ask_sz = ref.depth(levels)
        row = []
        for j in range(levels):
            row += [ask_px[j] * unit if ask_sz[j] else DUMMY_ASK, ask_sz[j],
                    bid_px[j] * unit if bid_sz[j] else DUMMY_BID, bid_sz[j]]
        rows.append(row)
    if not valid:
        return
    got = book_snapshots(np.array(valid, dtype=np.int64), levels, unit)
    assert got.tolist() == rows

"""Quotes that follow the last change: a new order inside the spread goes to the side whose
best changed last with the probability of that change's kind and age, keeping its
improvement when it is moved; the statistic finds the configured probabilities in a
simulated day (buys and sells alike), the calibration maps a recorded day to them, and bad
settings are refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.calibration.quote_follow import follow_statistics
from execgym.envs.market.data.lobster_data import load_lobster, sample_lobster_dir
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation import rng as R
from execgym.envs.market.simulation.book import OrderBook
from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

DEPTH = (0.0,) * 8 + (400.0,) * 10  # nothing within 8 ticks of the opposite best: inside orders come from the rule
GAPS = (0.0, 0.05)
#: (submission, cancellation, market) x (within 50 ms, later)
PROBS = (0.9, 0.6, 0.2, 0.5, 0.7, 0.4)


def _market(follow=True, **flow):
    base = dict(market_rate_per_s=0.3, resilience_per_s=0.1, intraday=None, anchor="opposite_best",
                mean_limit_size_shares=100.0, depth_shares=DEPTH, inside_spread_ticks=(1.0, 3.0),
                inside_probs=(0.0, 0.5), inside_improve_fracs=(0.25, 0.5, 0.75),
                cluster_alphas_per_s=(20.0,), cluster_betas_per_s=(40.0,))
    if follow:
        base |= {"inside_follow_gaps_s": GAPS, "inside_follow_probs": PROBS}
    return SimulatorConfig(flow=FlowConfig(**(base | flow)), warmup_s=300.0)


def _state():
    """A fresh flow state record, its fields readable as attributes."""
    return F.new_flow_state(0.0, 100.0, 1.0).view(np.recarray)[0]


def _book(bid=90, ask=110):
    book = OrderBook(tick_size=0.01, lot_size=1, n_levels=256, base_price_ticks=0)
    book.limit(1, bid, 100)
    book.limit(-1, ask, 100)
    return book


def _fp(probs):
    flow = FlowConfig(inside_follow_gaps_s=(0.0,), inside_follow_probs=probs)
    return F.flow_params(flow, ImpactConfig(), 1)[0]


@pytest.mark.parametrize("changed", [1, -1])
def test_an_inside_order_moves_to_the_changed_side_keeping_its_improvement(changed):
    sc = _book().arrays.sc
    fs = _state()
    fs.chg_side, fs.chg_kind, fs.chg_t_s, fs.t_s = changed, 1, 0.0, 1.0
    rs = R.new_state(np.random.default_rng(0))
    to_changed = _fp((0.0, 1.0, 0.0))  # a cancellation's side always
    # a buy 5 ticks above the bid, a sell 2 ticks below the ask
    for side, price, mirrored in ((1, 95, 105), (-1, 108, 92)):
        got = F._follow_side(rs, to_changed, fs, sc, side, price)
        assert got == ((side, price) if side == changed else (changed, mirrored))
    away = _fp((1.0, 0.0, 1.0))  # never the cancellation's side
    for side, price, mirrored in ((1, 95, 105), (-1, 108, 92)):
        got = F._follow_side(rs, away, fs, sc, side, price)
        assert got == ((side, price) if side == -changed else (-changed, mirrored))


def test_orders_not_inside_or_before_any_change_are_left_and_draw_nothing():
    sc = _book().arrays.sc
    fs = _state()
    rs = R.new_state(np.random.default_rng(0))
    before = rs.copy()
    fp = _fp((0.0, 0.0, 0.0))
    assert F._follow_side(rs, fp, fs, sc, 1, 95) == (1, 95)  # no change seen yet
    fs.chg_side, fs.chg_kind = 1, 0
    for side, price in ((1, 90), (1, 80), (-1, 110), (-1, 130)):  # at or behind the best
        assert F._follow_side(rs, fp, fs, sc, side, price) == (side, price)
    np.testing.assert_array_equal(rs, before)


def test_changes_are_noted_by_side_kind_and_time():
    book = _book()
    a = book.arrays
    fs = _state()
    F._note_change(fs, a.sc, -1)  # both sides appeared: no single side changed
    assert fs.chg_side == 0 and (fs.best_bid_ticks, fs.best_ask_ticks) == (90, 110)
    fs.t_s = 2.0
    book.limit(1, 95, 10)
    F._note_change(fs, a.sc, 2)
    assert (fs.chg_side, fs.chg_kind, fs.chg_t_s) == (1, 2, 2.0)
    fs.t_s = 3.0
    book.limit(-1, 105, 10)  # the agent, between calls: a better ask is a submission
    F._note_change(fs, a.sc, -1)
    assert (fs.chg_side, fs.chg_kind, fs.chg_t_s) == (-1, 0, 3.0)
    book.market(1, 10)  # takes the 105 ask: a worse ask with a trade, a market order from outside
    F._note_change(fs, a.sc, -1)
    assert (fs.chg_side, fs.chg_kind, fs.best_ask_ticks) == (-1, 2, 110)
    book.limit(1, 97, 10)  # a better bid
    F._note_change(fs, a.sc, -1)
    assert (fs.chg_side, fs.chg_kind, fs.best_bid_ticks) == (1, 0, 97)
    book.cancel(book.last_order_id)  # withdrawn, nothing traded: a cancellation
    F._note_change(fs, a.sc, -1)
    assert (fs.chg_side, fs.chg_kind, fs.best_bid_ticks) == (1, 1, 95)
    book.market(1, 100)  # the ask side empties: worse, traded
    F._note_change(fs, a.sc, -1)
    assert (fs.chg_side, fs.chg_kind, fs.best_ask_ticks) == (-1, 2, -1)
    book.limit(-1, 120, 10)  # a quote on the empty side: better
    F._note_change(fs, a.sc, -1)
    assert (fs.chg_kind, fs.best_ask_ticks) == (0, 120)


@pytest.fixture(scope="module")
def follow_days():
    return {on: simulate_day(_market(on), np.random.default_rng(5), 5_400.0, dt_s=60.0, all_messages=True)
            for on in (True, False)}


@pytest.mark.parametrize("side", [1, -1])
def test_a_simulated_day_shows_the_configured_probabilities_on_both_sides(side, follow_days):
    stats = follow_statistics(follow_days[True], GAPS)
    samples = stats["samples"]
    assert len(samples) > 2_000 and stats["table"]["n_submissions"].sum() == len(samples)
    mine = samples[samples["changed_side"] == side]  # after a change of this side's best
    for (kind, gap), p in zip(stats["table"].index, PROBS):
        same = mine.loc[(mine["kind"] == kind) & (mine["gap_s"] == gap), "same_side"]
        if kind == "market" and len(same) < 100:
            continue  # market orders are rare
        assert len(same) >= 100, (kind, gap, len(same))
        assert same.mean() == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / len(same)) + 0.02), (kind, gap)


def test_without_following_a_coin_picks_the_side(follow_days):
    table = follow_statistics(follow_days[False], GAPS)["table"]
    for (kind, gap), row in table.iterrows():
        if row["n_submissions"] >= 200:
            assert row["same_side_share"] == pytest.approx(0.5, abs=4 * np.sqrt(0.25 / row["n_submissions"]) + 0.02)


@pytest.mark.parametrize("flow, field", [
    ({"inside_follow_gaps_s": (0.1,), "inside_follow_probs": (0.5,) * 3}, "inside_follow_gaps_s"),
    ({"inside_follow_gaps_s": (0.0, 0.0), "inside_follow_probs": (0.5,) * 6}, "inside_follow_gaps_s"),
    ({"inside_follow_gaps_s": tuple(range(F.MAX_FOLLOW_GAPS + 1)), "inside_follow_probs": (0.5,) * 27},
     "inside_follow_gaps_s"),
    ({"inside_follow_gaps_s": (0.0,), "inside_follow_probs": (0.5, 0.5)}, "inside_follow_probs"),
    ({"inside_follow_gaps_s": (0.0,), "inside_follow_probs": (0.5, 1.5, 0.5)}, "inside_follow_probs"),
    ({"inside_follow_probs": (0.5, 0.5, 0.5)}, "inside_follow_probs"),
    ({"inside_follow_gaps_s": (0.0, float("nan"), 1.0), "inside_follow_probs": (0.5,) * 9}, "inside_follow_gaps_s"),
])
def test_bad_settings_are_refused_by_name(flow, field):
    with pytest.raises(ValueError, match=field):
        FlowConfig(**flow)


def test_calibration_maps_a_recorded_day():
    d = sample_lobster_dir()
    day = load_lobster(d / "GOOG_2012-06-21_34200000_57600000_message_10.csv.xz",
                       d / "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.xz")
    stats = follow_statistics(day)
    table = stats["table"]
    # GOOG: outbidding within 100 ms, re-improving within a millisecond of a cancellation
    assert (table.loc["submission", "same_side_share"].iloc[:3] > 0.75).all()
    assert table.loc[("cancellation", 0.0), "same_side_share"] > 0.9
    assert abs(table.loc[("market", 1.0), "same_side_share"] - 0.5) < 0.1
    f = calibrate_flow(day, 20, anchor="opposite_best", follow=True).flow
    assert f.inside_follow_gaps_s == stats["gaps_s"] and f.inside_follow_probs == pytest.approx(stats["probs"])
    with pytest.raises(ValueError, match="gaps_s"):
        follow_statistics(day, (0.01, 0.1))


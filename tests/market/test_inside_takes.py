"""Orders posted inside the spread that are taken: a share of them, by how far into the spread
they go, draws (before any withdrawal) an opposite market order after a delay between its
bucket's quantiles (its size drawn as any market order's), if the quote still rests then; on
both sides; a taken share of 0 leaves the stream as it was, draw for draw; the statistics and
the calibration read the shares and the delays off a day; bad input is refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.calibration.inside import inside_statistics
from execgym.envs.market.data.lobster_data import price_vs_best
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import MAX_FLICKER_SLOTS, FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

#: nothing within 12 ticks of the opposite best: only the inside rule posts inside
DEPTH = (0.0,) * 12 + (600.0,) * 10
DELAY_S = 0.5


def _market(fleeting=0.0, taken=(1.0,), delays=(DELAY_S, DELAY_S), edges=(0.0,), **flow):
    base = dict(market_rate_per_s=0.02, resilience_per_s=0.01, intraday=None, anchor="opposite_best",
                mean_limit_size_shares=100.0, depth_shares=DEPTH, inside_spread_ticks=(1.0,), inside_probs=(0.3,),
                inside_improve_fracs=(0.2, 0.5), inside_fleeting_fracs=(fleeting,), inside_life_s=0.5,
                inside_life_quantiles_s=(0.01, 1.0), inside_flicker_slots=MAX_FLICKER_SLOTS,
                inside_take_edges=edges, inside_taken_fracs=taken, inside_take_quantiles_s=delays)
    return SimulatorConfig(flow=FlowConfig(**(base | flow)), warmup_s=300.0)


def _day(market, seed=7, duration_s=1_800.0):
    return simulate_day(market, np.random.default_rng(seed), duration_s, dt_s=60.0, levels=10, all_messages=True)


def _inside_fates(day):
    """Each submission strictly inside the spread: its side, and the delays (s) to its first
    execution and to its deletion (inf: none)."""
    m = day.messages
    better, has = price_vs_best(day)
    kind, ids, t = m["type"].to_numpy(), m["order_id"].to_numpy(), m["time_s"].to_numpy()
    book = day.orderbook
    prev = np.r_[0, np.arange(len(m) - 1)]
    two_sided = (book[prev, 0] > 0) & (book[prev, 2] > 0)
    rows = np.flatnonzero((kind == int(EventType.SUBMISSION)) & has & two_sided & (better > 0))
    rows = rows[rows > 0]
    first = {}
    for k in np.flatnonzero(np.isin(kind, (int(EventType.DELETION), int(EventType.EXECUTION_VISIBLE)))):
        first.setdefault((ids[k], kind[k]), t[k])
    taken = np.array([first.get((ids[r], int(EventType.EXECUTION_VISIBLE)), np.inf) - t[r] for r in rows])
    deleted = np.array([first.get((ids[r], int(EventType.DELETION)), np.inf) - t[r] for r in rows])
    return m["direction"].to_numpy()[rows], taken, deleted


@pytest.fixture(scope="module")
def takes_day():
    return _day(_market())


@pytest.mark.parametrize("side", [1, -1])
def test_every_quote_posted_inside_is_taken_after_its_delay_on_both_sides(takes_day, side):
    direction, taken, deleted = _inside_fates(takes_day)
    mine = direction == side
    assert mine.sum() > 150
    on_time = np.isclose(taken[mine], DELAY_S, atol=1e-6)
    # a take hits the side's best: all but the quotes a better one posted since shields (its
    # own take took the newer quote first) and those other events reached first
    assert on_time.mean() > 0.75
    assert np.mean(taken[mine] <= DELAY_S + 1e-6) > 0.9
    # the rest of a partly taken quote rests: hardly any is deleted within a second of its take,
    # most never (over seeds 0.78-0.85; the others meet the base cancellations tens of seconds later)
    assert np.mean(deleted[mine][on_time] < DELAY_S + 1.0) < 0.05
    assert np.isinf(deleted[mine][on_time]).mean() > 0.7


def test_takes_are_market_orders_on_top_of_the_others(takes_day):
    m = takes_day.messages
    kind = m["type"].to_numpy()
    _, taken, _ = _inside_fates(takes_day)
    n_market_like = np.sum(kind == int(EventType.EXECUTION_VISIBLE))
    # the base market orders alone (0.02/s for 1,800 s, each one or more executions) are far fewer
    assert n_market_like > 3 * 0.02 * 1_800.0
    assert np.isfinite(taken).mean() > 0.9


def test_a_taken_share_of_zero_leaves_the_stream_unchanged():
    zero = _market(fleeting=0.6, taken=(0.0,))
    off = dataclasses.replace(zero, flow=dataclasses.replace(zero.flow, inside_take_edges=(), inside_taken_fracs=(),
                                                             inside_take_quantiles_s=()))
    with_zero = _day(zero, seed=3, duration_s=600.0).messages
    without = _day(off, seed=3, duration_s=600.0).messages
    assert len(with_zero) > 500
    for col in ("time_s", "type", "order_id", "size_shares", "price", "direction"):
        np.testing.assert_array_equal(with_zero[col].to_numpy(), without[col].to_numpy())


def test_the_share_taken_follows_how_far_into_the_spread_the_quote_goes():
    # quotes improving by less than 30% of the spread are never taken, beyond it always
    day = _day(_market(taken=(0.0, 1.0), delays=(DELAY_S, DELAY_S, DELAY_S, DELAY_S), edges=(0.0, 0.3),
                       inside_improve_fracs=(0.1, 0.2, 0.5, 0.6)), seed=9, duration_s=3_600.0)
    m = day.messages
    better, _ = price_vs_best(day)
    book = day.orderbook
    kind = m["type"].to_numpy()
    rows = np.flatnonzero((kind == int(EventType.SUBMISSION)) & (better > 0))
    rows = rows[rows > 0]
    spread = (book[rows - 1, 0] - book[rows - 1, 2]) // day.price_units_per_tick
    frac = better[rows] / spread
    _, taken, _ = _inside_fates(day)
    on_time = np.isclose(taken, DELAY_S, atol=1e-6)
    assert len(frac) == len(taken) and (frac >= 0.3).sum() > 100 and (frac < 0.3).sum() > 100
    assert on_time[frac >= 0.3].mean() > 0.7
    assert on_time[frac < 0.3].mean() < 0.05


def test_withdrawals_and_takes_share_the_quotes():
    day = _day(_market(fleeting=0.4, taken=(0.4,), delays=(0.2, 2.0)), seed=5, duration_s=3_600.0)
    _, taken, deleted = _inside_fates(day)
    first_taken = taken < deleted
    assert len(taken) > 300
    # taken first: the 0.4 drawn, plus some of the 0.36 neither taken nor withdrawn, which rest
    # (a base cancellation every 100 s) until other market orders reach them
    assert 0.4 < first_taken.mean() < 0.76
    assert 0.2 < (deleted < taken).mean() < 0.4
    st = inside_statistics(day, (1.0,), take_edges=(0.0,))
    assert st["taken_fracs"][0] == pytest.approx(first_taken.mean(), abs=0.02)
    # deleted at all, of those not taken first (the base cancellations at last take most of the rest)
    assert st["untaken_deleted_fracs"][0] == pytest.approx(
        np.mean(np.isfinite(deleted[~first_taken])), abs=0.02)
    q = st["take_quantiles_s"]
    assert len(q) == F.MAX_TAKE_QUANTILES and np.all(np.diff(q) >= 0)
    # the planned delays are log-uniform on [0.2, 2] s and two thirds of the quotes executed
    # first; the others wait longer (resting quotes that other market orders reach) or less (a
    # take's market order that walks on into them): the quantiles at levels 1/9..5/9 are planned ones
    in_range = (q >= 0.2 - 1e-6) & (q <= 2.0 + 1e-6)
    assert in_range[1:6].all() and q[-1] > 2.0
    cal = calibrate_flow(day, max_distance=22, inside=True, inside_lives=True, inside_takes=True, bucket_s=300.0)
    full = inside_statistics(day)
    assert cal.flow.inside_take_edges == full["take_edges"] and len(cal.flow.inside_taken_fracs) == len(full["take_edges"])
    assert cal.flow.inside_take_quantiles_s == tuple(float(x) for x in full["take_quantiles_s"])
    assert cal.flow.inside_fleeting_fracs == tuple(float(x) for x in full["untaken_deleted_fracs"])
    with pytest.raises(ValueError, match="inside_takes=True.*inside_lives=True"):
        calibrate_flow(day, max_distance=22, inside=True, inside_takes=True, bucket_s=300.0)


def test_the_take_flag_stays_with_its_quote_in_the_slots():
    fs = F.new_flow_state(0.0, 10_000.5, 1.0)[0]
    for oid, t, take in ((11, 3.0, True), (12, 1.0, False), (13, 2.0, True)):
        F._push_flicker(fs, oid, t, take)
    order = []
    while fs["flick_n"]:
        order.append((int(fs["flick_id"]), bool(fs["flick_take"])))
        F._pop_flicker(fs)
    assert order == [(12, False), (13, True), (11, True)]


@pytest.mark.parametrize("change, match", [
    ({"inside_take_edges": ()}, "need inside_take_edges"),
    ({"inside_take_edges": (0.1,)}, "from 0"),
    ({"inside_take_edges": (0.0, 1.0), "inside_taken_fracs": (0.5, 0.5)}, "below 1"),
    ({"inside_take_edges": (0.0, 0.5, 0.3)}, "increasing"),
    ({"inside_taken_fracs": (0.5, 0.5)}, "inside_taken_fracs"),
    ({"inside_taken_fracs": (1.2,)}, "inside_taken_fracs"),
    ({"inside_take_quantiles_s": (0.5,)}, "2 to 10 delays per improvement bucket"),
    ({"inside_take_quantiles_s": (0.5, 0.1)}, "nondecreasing"),
    ({"inside_take_quantiles_s": (0.0, 0.1)}, "> 0"),
    ({"inside_take_quantiles_s": (0.1, float("inf"))}, r"improvement bucket 0\).*finite"),
    ({"inside_spread_ticks": (), "inside_probs": (), "inside_improve_fracs": (), "inside_fleeting_fracs": (),
      "inside_life_quantiles_s": (), "inside_flicker_slots": 1}, "need inside_spread_ticks"),
])
def test_bad_takes_are_refused(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(_market().flow, **change)


def test_non_numeric_takes_are_a_type_error():
    with pytest.raises(TypeError, match="inside_taken_fracs"):
        dataclasses.replace(_market().flow, inside_taken_fracs=("a",))

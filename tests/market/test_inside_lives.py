"""Orders posted inside the spread with the day's lives: a share of them is withdrawn after a
life drawn log-linearly between the configured quantiles, several pending at once (slots);
the statistics and the calibration read the lives off a day; bad input is refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.calibration.inside import inside_statistics
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.book import OrderBook
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import MAX_FLICKER_SLOTS, FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

#: nothing within 12 ticks of the opposite best: only the inside rule posts inside
DEPTH = (0.0,) * 12 + (600.0,) * 10


def _market(slots=MAX_FLICKER_SLOTS, lives=(0.01, 1.0), **flow):
    base = dict(market_rate_per_s=0.05, resilience_per_s=0.01, intraday=None, anchor="opposite_best",
                mean_limit_size_shares=100.0, depth_shares=DEPTH, inside_spread_ticks=(1.0,), inside_probs=(0.3,),
                inside_improve_fracs=(0.2, 0.5), inside_fleeting_fracs=(1.0,), inside_life_s=0.5,
                inside_life_quantiles_s=lives, inside_flicker_slots=slots)
    return SimulatorConfig(flow=FlowConfig(**(base | flow)), warmup_s=300.0)


def _lives(day):
    """Each deleted order posted strictly inside the spread: its life (s)."""
    m = day.messages
    rows = day.orderbook
    kind, ids, t = m["type"].to_numpy(), m["order_id"].to_numpy(), m["time_s"].to_numpy()
    price, side = m["price"].to_numpy(), m["direction"].to_numpy()
    sub = np.flatnonzero(kind == int(EventType.SUBMISSION))
    sub = sub[sub > 0]
    ask, bid = rows[sub - 1, 0], rows[sub - 1, 2]
    inside = sub[np.where(side[sub] > 0, price[sub] > bid, price[sub] < ask) & (ask - bid > 0)]
    deleted = {i: ti for i, ti, k in zip(ids, t, kind) if k == int(EventType.DELETION)}
    return inside, np.array([deleted[ids[i]] - t[i] for i in inside if ids[i] in deleted])


@pytest.fixture(scope="module")
def lives_day():
    return simulate_day(_market(), np.random.default_rng(7), 1_800.0, dt_s=60.0, levels=10, all_messages=True)


def test_lives_are_log_linear_between_the_quantiles(lives_day):
    inside, lives = _lives(lives_day)
    assert len(inside) > 300 and len(lives) > 0.9 * len(inside)  # every one flickers unless executed first
    # two quantiles: log-uniform on [0.01, 1] s (to the clock's nanosecond)
    assert lives.min() >= 0.01 - 1e-6 and lives.max() <= 1.0 + 1e-6
    assert stats.kstest(np.log10(lives), "uniform", args=(-2.0, 2.0)).pvalue > 1e-3


def test_several_quotes_wait_at_once_one_slot_keeps_one():
    many = _lives(simulate_day(_market(lives=(2.0, 2.0)), np.random.default_rng(8), 900.0, dt_s=60.0, levels=10,
                               all_messages=True))
    one = _lives(simulate_day(_market(slots=1, lives=(2.0, 2.0)), np.random.default_rng(8), 900.0, dt_s=60.0,
                              levels=10, all_messages=True))
    at_two = [np.isclose(lives, 2.0, atol=1e-6) for _, lives in (many, one)]
    # with slots every quote posted inside is withdrawn after its 2 s; one slot drops the plans
    # made while a quote waits (they rest, cancelled later at the base rate, or executed)
    assert at_two[0].sum() > 0.9 * len(many[0])
    assert at_two[1].sum() < 0.7 * at_two[0].sum()


def test_the_statistics_and_the_calibration_read_the_lives(lives_day):
    st = inside_statistics(lives_day, (1.0,))
    q = st["life_quantiles_s"]
    assert np.all(np.diff(q) >= 0) and q[0] >= 0.01 - 1e-6 and q[-1] <= 1.0 + 1e-6
    assert np.median(np.log10(q)) == pytest.approx(-1.0, abs=0.2)
    assert st["deleted_fracs"][0] > 0.9
    cal = calibrate_flow(lives_day, max_distance=22, inside=True, inside_lives=True, bucket_s=300.0)
    assert cal.flow.inside_flicker_slots == MAX_FLICKER_SLOTS
    assert cal.flow.inside_life_quantiles_s == tuple(float(x) for x in q)
    with pytest.raises(ValueError, match="inside_lives=True.*inside=True"):
        calibrate_flow(lives_day, max_distance=22, inside_lives=True, bucket_s=300.0)


@pytest.mark.parametrize("change, match", [
    ({"inside_life_quantiles_s": (0.5,)}, "inside_life_quantiles_s"),
    ({"inside_life_quantiles_s": (0.5, 0.1)}, "nondecreasing"),
    ({"inside_life_quantiles_s": (0.0, 0.1)}, "> 0"),
    ({"inside_life_quantiles_s": (0.1, float("inf"))}, "finite"),
    ({"inside_flicker_slots": 0}, "inside_flicker_slots"),
    ({"inside_flicker_slots": MAX_FLICKER_SLOTS + 1}, "inside_flicker_slots"),
    ({"inside_fleeting_fracs": ()}, "need inside_fleeting_fracs"),
])
def test_bad_lives_are_refused(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(_market().flow, **change)


def test_pending_quotes_are_withdrawn_earliest_first_and_dead_ones_freed():
    """Pushed with times 3, 1, 2 s, the quotes come out in the order 1, 2, 3; a purge frees the
    slots of quotes that no longer rest and keeps the earliest of the others first."""
    state = F.new_flow_state(0.0, 10_000.5, 1.0)
    fs = state[0]
    for oid, t in ((11, 3.0), (12, 1.0), (13, 2.0)):
        F._push_flicker(fs, oid, t, False)
    order = []
    while fs["flick_n"]:
        order.append((int(fs["flick_id"]), float(fs["flick_t_s"])))
        F._pop_flicker(fs)
    assert order == [(12, 1.0), (13, 2.0), (11, 3.0)] and fs["flick_id"] == 0
    book = OrderBook(tick_size=0.01)
    book.limit("buy", 10_000, 100, order_id=21)
    book.limit("buy", 9_999, 100, order_id=23)
    book.limit("buy", 9_998, 100, order_id=24)
    book.cancel(24)  # 22 below takes 24's freed slot: its entry is stale though the slot is used
    sc, lvl, orders, htab, fills, log = book.arrays
    slots = {int(oid): slot for slot, oid in enumerate(orders["id"]) if oid != K.EMPTY_KEY}
    free = int(sc[K.S_FREE])
    book.limit("buy", 9_997, 100, order_id=25)  # rests in 24's old slot
    entries = {21: F._live_entry(21, slots[21]), 22: F._live_entry(22, free), 23: F._live_entry(23, slots[23])}
    for oid, t in ((21, 5.0), (22, 0.5), (23, 4.0)):  # 22 never rested (filled or cancelled)
        F._push_flicker(fs, entries[oid], t, False)
    F._purge_flickers(fs, book.arrays[2])
    assert fs["flick_n"] == 2 and (int(fs["flick_id"]), float(fs["flick_t_s"])) == (entries[23], 4.0)

"""The flow's live list: each entry carries its order's slot, and says whether the order rests
exactly as the book's records do (the simulator keeps the flow's ids out of the id map)."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.book import OrderBook
from execgym.envs.market.simulation.simulator import FlowConfig, MarketSimulator, SimulatorConfig
from execgym.experiments.lib.builders import conf_file
from tests.market.live_lists import check_split_lists


def _preset(name):
    values = OmegaConf.to_container(OmegaConf.load(conf_file("market", f"{name}.yaml")))
    values.pop("defaults", None)
    return SimulatorConfig.from_mapping(values)


def test_a_stale_entry_is_told_apart_from_the_order_that_reuses_its_slot():
    book = OrderBook(lot_size=1)
    book.limit(1, 1_000, 100, order_id=5)
    orders, htab = book.arrays[2], book.arrays[3]
    slot = K.h_find(htab, orders, 5)
    entry = F._live_entry(5, slot)
    assert F._live_order(book.arrays[2], entry) == (5, slot)
    book.cancel(5)
    book.limit(-1, 1_010, 100, order_id=6)  # takes the freed slot
    assert K.h_find(book.arrays[3], book.arrays[2], 6) == slot
    assert F._live_order(book.arrays[2], entry) == (5, -1)


@pytest.mark.parametrize("flow", [
    {},  # Poisson, fills by market orders leave stale entries
    {"cluster_alphas_per_s": (2.0, 1200.0), "cluster_betas_per_s": (20.0, 2000.0), "cluster_levels": 5,
     "cluster_cancel_newest_frac": 0.3, "anchor": "opposite_best"},  # excited cancellations off the levels
    "goog_2012_06_21_scaled",  # the realistic flow: quotes that follow, flicker and cross the spread
])
def test_every_live_entry_agrees_with_the_book(flow):
    if isinstance(flow, str):
        cfg = _preset(flow)
    else:
        cfg = SimulatorConfig(flow=FlowConfig(intraday=None, market_rate_per_s=0.5, **flow), warmup_s=120.0)
    sim = MarketSimulator(cfg, np.random.default_rng(3))
    resting = stale = 0
    for _ in range(10):
        sim.advance(30.0)
        sc, lvl, orders, htab = sim.book.arrays[:4]
        # where each resting order is, read off the records (independent of the flow's lists)
        where = {int(oid): slot for slot, oid in enumerate(orders["id"]) if oid != K.EMPTY_KEY}
        for entry in sim._live[: int(sim._fs[0]["n_live"])]:
            oid, slot = F._live_order(orders, entry)
            assert slot == where.get(int(oid), -1), (oid, slot)
            assert K.h_find(htab, orders, oid) == -1  # the flow's ids stay out of the id map
            resting += slot != -1
            stale += slot == -1
        last = int(sim._fs[0]["last_id"])
        if last in where:
            assert where[last] == sim._fs[0]["last_slot"]
        sim.book.check_invariants()  # the map holds exactly the mapped resting orders: none of the flow's
        assert not (htab != K.EMPTY_SLOT).any()
    assert resting > 100 and stale > 0  # both kinds were checked


@pytest.mark.parametrize("side", [1, -1])
def test_the_kth_order_from_the_best_in_time_priority(side):
    # _kth_order walks a queue from its nearer end: every k must give the same order as the
    # queue read from its head, level by level from the best
    rng = np.random.default_rng(7)
    book = OrderBook(lot_size=1)
    expected = []  # (distance from the best, arrival) -> id
    for oid in range(1, 60):
        d = int(rng.integers(0, 5))
        book.limit(side, 1_000 - side * d, 100, order_id=oid)
        expected.append((d, oid))
    order = [oid for _, oid in sorted(expected)]  # nearest level first, then time priority
    sc, lvl, orders = book.arrays[:3]
    for k, oid in enumerate(order):
        assert orders[F._kth_order(sc, lvl, orders, side, k)]["id"] == oid


def test_the_split_cancels_from_the_whole_list_at_the_second_factor_and_the_top_groups_at_the_rest():
    # groups under 100 shares (factor 0.5) and from 100 (0.125), near factor 2: two streams; the
    # whole list is proposed at 0.125 and the odd lots also from the top list at 0.375
    flow = dict(depth_shares=(100.0,) * 5, resilience_per_s=0.05, cancel_size_edges_shares=(100.0,),
                cancel_size_factors=(0.5, 0.125), cancel_size_behind_ticks=2)
    fp = F.flow_params(FlowConfig(cancel_near_factor=2.0, **flow), F.ImpactConfig(), 1)[0]
    assert fp[F.P_CSZ_SPLIT] == 1.0 and fp[F.P_CSZ_ACC] == 0.125 and fp[F.P_CSZ_MAX] == 0.5
    assert fp[F.P_THETA] == pytest.approx(0.05 * 0.125) and fp[F.P_CSZ_TOP_RATE] == pytest.approx(0.05 * 0.375)
    assert F.live_width(fp, 64) == 256
    for near, factors in ((0.3, (0.5, 0.125)), (2.0, (0.5, 0.5))):  # one stream; all groups alike
        flat = F.flow_params(FlowConfig(**(flow | {"cancel_near_factor": near, "cancel_size_factors": factors})),
                             F.ImpactConfig(), 1)[0]
        assert flat[F.P_CSZ_SPLIT] == 0.0 and flat[F.P_CSZ_ACC] == 0.5 and flat[F.P_THETA] == pytest.approx(0.025)
        assert F.live_width(flat, 64) == 64


@pytest.mark.parametrize("side", [1, -1])
def test_the_split_lists_hold_every_resting_order_and_follow_the_agents_partial_fills(side):
    # the realistic preset (odd lots cancelled 2.7 times as fast as round lots): its lists
    # stay exact through the flow's events and the agent's trades; a round lot the agent's
    # market order leaves with a few shares enters the top list at once, and leaves both
    # lists when it is cancelled or filled
    sim = MarketSimulator(_preset("goog_2012_06_21_regimes"), np.random.default_rng(11))
    fp = sim._fp
    assert fp[F.P_CSZ_SPLIT] == 1.0
    regrouped = 0
    for _ in range(16):
        sim.advance(15.0)
        sc, lvl, orders = sim.book.arrays[:3]
        check_split_lists(fp, sim._fs[0], sim._live, orders)
        # the head of the opposite best queue: a background order of 100 shares or more is left
        # with 7 (an odd lot)
        best = sc[K.S_BEST_ASK] if side > 0 else sc[K.S_BEST_BID]
        head = lvl[1 if side > 0 else 0, best]["head"]
        size = int(orders[head]["size_shares"])
        if orders[head]["owner"] == 0 and size >= 100:
            oid = int(orders[head]["id"])
            fills = sim.submit_market(side, size - 7)
            assert fills["resting_id"][-1] == oid
            top = check_split_lists(fp, sim._fs[0], sim._live, sim.book.arrays[2])
            assert oid in top
            regrouped += 1
    assert regrouped >= 4
    assert sim._fs[0]["n_top"] > 50

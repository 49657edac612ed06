"""The flow's live list: each entry carries its order's slot, and says whether the order rests
exactly as the book's hash map does."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.book import OrderBook
from execgym.envs.market.simulation.simulator import FlowConfig, MarketSimulator, SimulatorConfig
from execgym.experiments.lib.builders import conf_file


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
def test_every_live_entry_agrees_with_the_hash_map(flow):
    if isinstance(flow, str):
        cfg = _preset(flow)
    else:
        cfg = SimulatorConfig(flow=FlowConfig(intraday=None, market_rate_per_s=0.5, **flow), warmup_s=120.0)
    sim = MarketSimulator(cfg, np.random.default_rng(3))
    resting = stale = 0
    for _ in range(10):
        sim.advance(30.0)
        sc, lvl, orders, htab = sim.book.arrays[:4]
        for entry in sim._live[: int(sim._fs[0]["n_live"])]:
            oid, slot = F._live_order(orders, entry)
            assert slot == K.h_find(htab, orders, oid), (oid, slot)
            resting += slot != -1
            stale += slot == -1
        last = int(sim._fs[0]["last_id"])
        if last and K.h_find(htab, orders, last) != -1:
            assert K.h_find(htab, orders, last) == sim._fs[0]["last_slot"]
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

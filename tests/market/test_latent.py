"""Latent liquidity: a share of the opposite-best flow's profile-placed orders sits around the
centre that the impact moves, so the book is pulled back towards it after a metaorder; at a
share of 0 the flow draws what it drew before."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from execgym.envs.market.analysis.impact.metaorder import metaorder_impact
from execgym.envs.market.data.lobster_data import price_vs_best
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig

NO_IMPACT = ImpactConfig(transient_ticks_per_share=0.0, permanent_ticks_per_share=0.0)
PROPAGATOR = ImpactConfig(transient_ticks_per_share=0.0, permanent_ticks_per_share=0.0,
                          propagator_ticks_per_share=0.02, propagator_exponent=0.5, propagator_time_s=5.0)


def _market(frac=0.0, offset=0, impact=NO_IMPACT, **flow):
    flow = FlowConfig(anchor="opposite_best", market_rate_per_s=0.5, intraday=None, latent_frac=frac,
                      latent_offset_ticks=offset, **flow)
    return SimulatorConfig(flow=flow, impact=impact, warmup_s=300.0, log_events=True)


def test_a_zero_share_draws_nothing():
    logs = []
    for cfg in (_market(), _market(0.0, 7)):
        sim = MarketSimulator(cfg, np.random.default_rng(1))
        sim.advance(1_800.0)
        logs.append(sim.book.event_log().to_numpy())
    assert np.array_equal(*logs)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_latent_orders_rest_on_their_side_of_the_centre_and_hold_the_book_there(side):
    """All orders latent, nothing moves the centre: a market order that walks one side moves
    the mid its way, then the new orders rest on their side of the centre (bids below it,
    asks above it) and the mid stays within a tick of it for an hour; the flow from the
    opposite best alone wanders away from it."""
    sign = 1 if side == "buy" else -1
    wander = {}
    for frac in (1.0, 0.0):
        sim = MarketSimulator(_market(frac), np.random.default_rng(3))
        centre = sim.reference_ticks
        sim.advance(300.0)
        book = sim.book
        _, bq, _, aq = book.depth(10)
        sim.submit_market(side, int(0.6 * (aq.sum() if sign > 0 else bq.sum())))
        moved = (book.best_bid + book.best_ask) / 2.0 - centre
        deviation = []
        for _ in range(360):
            sim.advance(10.0)
            deviation.append(abs((book.best_bid + book.best_ask) / 2.0 - centre))
        wander[frac] = max(deviation)
        if frac == 1.0:
            assert sign * moved >= 1.5
            bp, bq, ap, aq = book.depth(50)
            assert bp[bq > 0].max() < centre < ap[aq > 0].min()
            assert np.mean(deviation[180:]) <= 0.5
    assert wander[1.0] <= 1.5 and wander[0.0] >= 4.0


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_a_metaorders_impact_follows_the_propagator_and_relaxes_with_latent_liquidity(side):
    """Paired metaorders (common random numbers; impacts signed by the side): with latent
    liquidity the book follows the centre that the propagator moves, so the metaorder's impact
    is the propagator's (here several times the mechanical walk of this deep book) and the
    price gives back a good part of it after the metaorder; from the opposite best alone the
    propagator moves nothing and the small mechanical impact is kept."""
    peak, kept = {}, {}
    for frac in (0.5, 0.0):
        path = metaorder_impact(_market(frac, 1, PROPAGATOR), side=side, total_shares=3_000, duration_s=300.0,
                                n_slices=30, post_s=900.0, dt_s=10.0, n_runs=12, seed=4)
        peak[frac] = path[path["executing"]]["impact_ticks"].iloc[-1]
        kept[frac] = path["impact_ticks"].iloc[-1] / peak[frac]
    assert peak[0.0] > 0.0 and peak[0.5] > 4.0 * peak[0.0]
    assert kept[0.5] < 0.7 and kept[0.0] > 0.9


def test_bad_settings_are_refused_and_a_propagator_without_latent_orders_is_warned_of(caplog):
    for kwargs, match in [({"latent_frac": 1.5}, "latent_frac"), ({"latent_frac": -0.1}, "latent_frac"),
                          ({"latent_offset_ticks": -1}, "latent_offset_ticks")]:
        with pytest.raises(ValueError, match=match):
            FlowConfig(anchor="opposite_best", **kwargs)
    with pytest.raises(TypeError, match="latent_offset_ticks"):
        FlowConfig(anchor="opposite_best", latent_offset_ticks=2.5)
    with pytest.raises(ValueError, match="latent_frac=0.3 .*anchor='opposite_best', got anchor='reference'"):
        FlowConfig(anchor="reference", latent_frac=0.3)
    with caplog.at_level(logging.WARNING, logger="execgym.envs.market.simulation.simulator"):
        _market(0.3, 1, PROPAGATOR)
    assert "propagator" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="execgym.envs.market.simulation.simulator"):
        _market(0.0, 1, PROPAGATOR)
    assert "flow.latent_frac > 0" in caplog.text


INSIDE = dict(inside_spread_ticks=(1,), inside_probs=(0.0,), inside_improve_fracs=(0.1, 0.2))


def _improvements(improve, seed=2):
    """Ticks by which each submission (both sides) betters its side's best (``price_vs_best``)
    and the spread before it, every profile order latent around a centre that the propagator
    moves away from the book (the inside orders' improvement table given, their share 0)."""
    cfg = _market(1.0, 4, PROPAGATOR, latent_improve=improve, **INSIDE)
    day = simulate_day(cfg, np.random.default_rng(seed), 1_800.0, dt_s=60.0, levels=10)
    better, has = price_vs_best(day)
    m = day.messages
    keep = (m["type"].to_numpy() == int(EventType.SUBMISSION)) & has
    keep[0] = False
    levels = day.book_levels()
    spread = np.r_[0, (levels.ask_price_ticks[:-1, 0] - levels.bid_price_ticks[:-1, 0])]
    return better[keep], m["direction"].to_numpy()[keep], spread[keep]


@pytest.mark.parametrize("side", [1, -1])
def test_latent_orders_better_their_best_as_far_as_the_mode_allows(side):
    """``"spread"``: latent orders of one side land deep inside the spread when the centre sits
    beyond it; ``"join"``: no submission betters its side's best; ``"inside"``: none betters it
    by more than the improvement table allows (a fifth of the spread, at least one tick), some
    reach one tick; on both sides."""
    free, direction, _ = _improvements("spread")
    assert (free[direction == side] > 2).sum() >= 5
    joined, direction, _ = _improvements("join")
    assert (direction == side).sum() > 500 and joined[direction == side].max() == 0
    inside, direction, spread = _improvements("inside")
    mine = direction == side
    assert mine.sum() > 500
    assert np.all(inside[mine] <= np.maximum(1, np.floor(0.2 * spread[mine] + 0.5)))
    assert inside[mine].max() >= 1


def test_the_bound_is_refused_when_bad_or_without_what_it_needs():
    with pytest.raises(ValueError, match="latent_improve must be one of"):
        FlowConfig(anchor="opposite_best", latent_frac=0.3, latent_improve="half")
    with pytest.raises(ValueError, match="latent_improve='join' .*latent_frac > 0"):
        FlowConfig(anchor="opposite_best", latent_improve="join")
    with pytest.raises(ValueError, match="latent_improve='inside' .*inside_improve_fracs"):
        FlowConfig(anchor="opposite_best", latent_frac=0.3, latent_improve="inside")

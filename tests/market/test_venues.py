"""Venues: a shared fundamental, independent flows, NBBO, latency-ordered marketable routing."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.venues import VenueConfig, VenueMarket, VenueMarketConfig, default_venues


def quiet_flow(**kw):
    return FlowConfig(**{"intraday": None, **kw})


def market(seed=0, **kw):
    cfg = VenueMarketConfig(**{"warmup_s": 100.0, "flow": quiet_flow(), **kw})
    return VenueMarket(cfg, np.random.default_rng(seed))


def test_venues_share_one_fundamental_usd_path_across_tick_sizes_but_trade_independently():
    m = market(1, transient_usd_per_share=0.0, permanent_usd_per_share=0.0, sigma_usd_per_sqrt_s=0.01)
    assert m.tick_size_usd.tolist() == [0.01, 0.01, 0.02]
    start = m.fundamental_usd()
    trades = [[], [], []]
    for _ in range(10):
        for k, sim in enumerate(m.sims):
            trades[k].append(sim.advance(5.0).trades["size_shares"].sum())
        f = m.fundamental_usd()
        np.testing.assert_allclose(f, f[0], rtol=0, atol=1e-9)
    assert not np.allclose(m.fundamental_usd(), start)  # it diffused
    assert trades[0] != trades[1] and trades[0] != trades[2]  # independent flows


def test_same_seed_same_market_and_another_seed_another():
    def run(seed):
        m = market(seed)
        r = m.route("buy", np.array([300, 100, 300]), 101.0, 10.0)
        return np.concatenate([r.value_usd, r.market_volume_shares, m.ladder("bid", 3)[1].ravel()])

    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_nbbo_is_the_best_quote_over_venues_with_the_size_of_all_venues_at_it():
    m = market(2)
    bids, bid_sizes = m.ladder("bid", 1)
    asks, ask_sizes = m.ladder("ask", 1)
    bid, bid_size, ask, ask_size = m.nbbo()
    assert bid == np.nanmax(bids) and ask == np.nanmin(asks) and bid < ask
    assert bid_size == bid_sizes[np.isclose(bids[:, 0], bid), 0].sum()
    assert ask_size == ask_sizes[np.isclose(asks[:, 0], ask), 0].sum()


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_route_fills_within_the_limit_charges_taker_fees_and_ends_every_venue_at_the_interval(side):
    m = market(5)
    sign = 1 if side == "buy" else -1
    bid, _, ask, _ = m.nbbo()
    limit = (ask + 0.02) if side == "buy" else (bid - 0.02)
    sizes = np.array([400, 150, 600])
    r = m.route(side, sizes, limit, 12.0)
    assert np.all(r.filled_shares <= sizes) and r.filled_shares.sum() > 0
    avg = r.value_usd[r.filled_shares > 0] / r.filled_shares[r.filled_shares > 0]
    assert np.all(sign * (avg - limit) <= 1e-9)
    np.testing.assert_allclose(r.fees_usd, m.taker_fee_usd * r.filled_shares)
    assert [sim.time_s for sim in m.sims] == [12.0, 12.0, 12.0]
    assert np.all(r.market_volume_shares >= r.filled_shares)


def test_a_slices_book_moves_during_its_latency_and_not_without_one():
    # the touch moves within 5 s in roughly a fifth of these quiet markets; 40 seeds make
    # "it moves sometimes" a statement about the dynamics, not about a lucky seed
    moved = 0
    for seed in range(40):
        slow = market(seed, venues=(VenueConfig("a", latency_s=0.0), VenueConfig("b", latency_s=5.0)))
        r = slow.route("buy", np.array([50, 50]), 101.0, 10.0)
        assert r.touch_at_arrival_usd[0] == r.touch_at_decision_usd[0]
        moved += r.touch_at_arrival_usd[1] != r.touch_at_decision_usd[1]
        np.testing.assert_allclose(r.latency_slippage_usd,
                                   (r.touch_at_arrival_usd - r.touch_at_decision_usd) * r.filled_shares)
    assert moved >= 4


def test_a_fill_on_one_venue_moves_the_reference_of_the_others():
    venues = (VenueConfig("a"), VenueConfig("b", tick_size_usd=0.02, latency_s=1.0))
    kw = dict(venues=venues, transient_usd_per_share=1e-5, permanent_usd_per_share=2e-6)
    traded, idle = market(7, **kw), market(7, **kw)
    before = traded.sims[1].reference_ticks
    assert before == idle.sims[1].reference_ticks
    r = traded.route("buy", np.array([1000, 0]), 101.0, 1.0)
    idle.route("buy", np.array([0, 0]), 101.0, 1.0)
    shares = r.filled_shares[0]
    assert shares > 0
    # both venues then ran 1 s of identical flow; venue b's reference carries the impact in its ticks
    # (transient part decayed at rho for at most 1 s)
    shift_usd = (traded.sims[1].reference_ticks - idle.sims[1].reference_ticks) * 0.02
    rho = traded.config.flow.resilience_per_s
    assert 2e-6 * shares + 1e-5 * shares * np.exp(-rho) - 1e-9 <= shift_usd <= 1.2e-5 * shares + 1e-9


def test_bad_input_raises_naming_the_value_and_changes_nothing():
    m = market(0)
    t = m.time_s
    with pytest.raises(ValueError, match="sizes_shares"):
        m.route("buy", np.array([1, 2]), 101.0, 5.0)
    with pytest.raises(ValueError, match="sizes_shares"):
        m.route("buy", np.array([1, -2, 0]), 101.0, 5.0)
    with pytest.raises(ValueError, match="latency"):
        m.route("buy", np.array([0, 0, 10]), 101.0, 1.0)  # slow_wide has 2 s latency
    with pytest.raises(ValueError, match="side"):
        m.route("hold", np.array([1, 1, 1]), 101.0, 5.0)
    assert m.time_s == t
    with pytest.raises(ValueError, match="latency_s"):
        VenueConfig("x", latency_s=-1.0)
    with pytest.raises(ValueError, match="unique"):
        VenueMarketConfig(venues=(VenueConfig("x"), VenueConfig("x")))
    with pytest.raises(TypeError, match="unknown"):
        VenueMarketConfig.from_mapping({"venue": []})
    cfg = VenueMarketConfig.from_mapping({"venues": [{"name": "x", "taker_fee_usd_per_share": -0.001}]})
    assert cfg.venues == (VenueConfig("x", taker_fee_usd_per_share=-0.001),)
    assert len(default_venues()) == 3

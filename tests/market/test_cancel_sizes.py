"""Cancellation by size (``FlowConfig.cancel_size_edges_shares`` / ``cancel_size_factors``):
each resting order is cancelled at ``resilience_per_s`` times its size group's factor, on both
sides; factors normalised as the calibration does keep the resting shares and rest fewer,
larger orders; the calibration (``cancel_size_factors``, ``calibrate_flow(cancel_sizes=True)``)
recovers the simulated factors from the order lives; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.cancel_sizes import (
    DEFAULT_EDGES_SHARES,
    cancel_size_factors,
    near_hazard,
    order_lives,
)
from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.calibration.refine import refine_depth
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation import rng as R
from execgym.envs.market.simulation.book import OrderBook
from execgym.envs.market.simulation.flow import SIZE_PLACES, FlowConfig
from execgym.envs.market.simulation.simulator import ImpactConfig, SimulatorConfig

THETA_PER_S = 0.05
SIZES = (50.0, 100.0, 200.0, 600.0)  # one in each of the default groups
PROBS = (0.4, 0.4, 0.15, 0.05)


def _market(**flow):
    base = dict(anchor="opposite_best", intraday=None, market_rate_per_s=0.05, depth_shares=(400.0,) * 30,
                resilience_per_s=THETA_PER_S, size_distribution="empirical", mean_limit_size_shares=float(
                    np.dot(SIZES, PROBS)), limit_sizes_shares=SIZES, limit_size_probs=PROBS,
                mean_market_size_shares=100.0, market_sizes_shares=(100.0,), market_size_probs=(1.0,))
    return SimulatorConfig(flow=FlowConfig(**(base | flow)), warmup_s=300.0)


def _day(seed, duration_s=3_600.0, levels=10, **flow):
    return simulate_day(_market(**flow), np.random.default_rng(seed), duration_s, dt_s=60.0, levels=levels,
                        all_messages=True, open_time_s=0.0)


def _hazards(lives, edges):
    """Deletions over the seconds alive in each size group (the exponential lives' MLE)."""
    group = np.searchsorted(np.asarray(edges), lives["size_shares"].to_numpy(), side="right")
    return np.array([lives["deleted"][group == g].sum() / lives["life_s"][group == g].sum()
                     for g in range(len(edges) + 1)])


@pytest.fixture(scope="module")
def sized_day():
    return _day(3, cancel_size_edges_shares=(100.0,), cancel_size_factors=(2.0, 0.5))


def test_each_size_group_is_cancelled_at_its_factor_of_the_rate_on_both_sides(sized_day):
    m = sized_day.messages
    for side in (1, -1):
        ids = m.loc[(m["type"] == 1) & (m["direction"] == side), "order_id"]
        lives = order_lives(sized_day)
        lives = lives[lives.index.isin(ids)]
        small, large = _hazards(lives, (100.0,))
        assert (lives["size_shares"] < 100).sum() > 2_000 and (lives["size_shares"] >= 100).sum() > 2_000
        # 0.1 and 0.025 per s (a few fills end lives too: the hazard counts deletions only)
        assert small == pytest.approx(2.0 * THETA_PER_S, rel=0.08)
        assert large == pytest.approx(0.5 * THETA_PER_S, rel=0.08)
    plain = order_lives(_day(3))
    assert _hazards(plain, (100.0,)) == pytest.approx([THETA_PER_S] * 2, rel=0.08)  # off: one rate


def test_factors_that_keep_the_depth_rest_as_many_shares_in_fewer_larger_orders():
    # sum_g S_g / f_g = sum_g S_g (S_g: shares submitted in group g): the calibration's normalisation
    shares = np.array([SIZES[0] * PROBS[0], np.dot(SIZES[1:], PROBS[1:])])
    small = 3.0
    large = shares[1] / (shares.sum() - shares[0] / small)
    books = {}
    for name, flow in {"one rate": {}, "by size": {"cancel_size_edges_shares": (100.0,),
                                                    "cancel_size_factors": (small, large)}}.items():
        b = _day(5, duration_s=2_400.0, levels=40, depth_shares=(60.0,) * 30, **flow).book_levels()
        ok = np.concatenate([b.bid_ok, b.ask_ok], axis=1)
        sizes = np.concatenate([b.bid_size_shares, b.ask_size_shares], axis=1)
        books[name] = (np.where(ok, sizes, 0).sum(1).mean(), ok.sum(1).mean())
    (depth_one, levels_one), (depth_size, levels_size) = books["one rate"], books["by size"]
    assert depth_size == pytest.approx(depth_one, rel=0.1)
    assert levels_size < 0.9 * levels_one  # the same shares on fewer prices: larger orders


def test_the_calibration_recovers_the_factors_from_the_order_lives(sized_day):
    edges, factors, behind, table, _ = cancel_size_factors(sized_day, (100.0,), behind_ticks=0)
    assert behind == 0 and edges == (100.0,)
    assert factors[0] / factors[1] == pytest.approx(4.0, rel=0.1)
    shares = table["submitted_shares"].to_numpy()
    assert np.sum(shares / np.asarray(factors)) == pytest.approx(shares.sum())  # the depth in shares kept
    # over a rate: the hazards themselves (0.1 and 0.025 per s over THETA_PER_S)
    absolute = cancel_size_factors(sized_day, (100.0,), behind_ticks=0, rate_per_s=THETA_PER_S).factors
    assert absolute == pytest.approx((2.0, 0.5), rel=0.08)
    for bad in [0.0, -1.0, float("nan"), True, "0.1"]:
        with pytest.raises(ValueError, match="rate_per_s must be a finite number > 0"):
            cancel_size_factors(sized_day, (100.0,), rate_per_s=bad)
    lives = order_lives(sized_day)
    deep = lives[lives["behind_ticks"] > 0]  # the flow's factors act behind the best
    assert 0.8 * len(lives) < len(deep) < len(lives) and (lives.loc[lives["place"] != SIZE_PLACES.index("behind"), "behind_ticks"] == 0).all()
    assert list(table["orders"]) == [int((deep["size_shares"] < 100).sum()), int((deep["size_shares"] >= 100).sum())]
    # by default the deeper half: behind the median distance of the submissions behind the best
    _, _, median, table, _ = cancel_size_factors(sized_day, (100.0,))
    assert median == int(np.median(deep["behind_ticks"])) and median > 3
    assert table["orders"].sum() == (deep["behind_ticks"] > median).sum()


def test_calibrate_flow_fits_the_default_groups_and_writes_them():
    day = _day(7, duration_s=1_800.0, cancel_size_edges_shares=DEFAULT_EDGES_SHARES,
               cancel_size_factors=(2.0, 1.0, 0.8, 0.3))
    cal = calibrate_flow(day, 30, cancel_sizes=True, bucket_s=150.0, hawkes=False)
    f = np.asarray(cal.flow.cancel_size_factors)
    assert cal.flow.cancel_size_edges_shares == DEFAULT_EDGES_SHARES and cal.flow.cancel_size_behind_ticks > 3
    assert f[0] / f[1] == pytest.approx(2.0, rel=0.15) and f[1] / f[3] == pytest.approx(1.0 / 0.3, rel=0.3)
    # over the day's pooled rate (its near orders' rate is THETA_PER_S: the pooled one is between the groups')
    assert f[0] * cal.flow.resilience_per_s == pytest.approx(2.0 * THETA_PER_S, rel=0.15)
    cfg = SimulatorConfig.from_mapping(cal.market_config(0.01, 10_000.5, 300.0))
    assert cfg.flow.cancel_size_factors == pytest.approx(cal.flow.cancel_size_factors, rel=1e-3)
    assert cfg.flow.cancel_size_edges_shares == DEFAULT_EDGES_SHARES
    assert cfg.flow.cancel_size_behind_ticks == cal.flow.cancel_size_behind_ticks
    assert calibrate_flow(day, 30, bucket_s=150.0, hawkes=False).flow.cancel_size_factors == ()  # off unless asked


def test_a_sparse_size_group_is_merged_and_one_group_is_refused(sized_day):
    # no order of 60-99 shares nor of 1,000 or more: both groups merge into their smaller neighbour
    fit = cancel_size_factors(sized_day, (60.0, 100.0, 1000.0), behind_ticks=0)
    assert fit.edges_shares == (100.0,) and fit.table["deletions"].min() >= 20
    assert fit.factors == pytest.approx(cancel_size_factors(sized_day, (100.0,), behind_ticks=0).factors)
    with pytest.raises(ValueError, match="fall in one group"):
        cancel_size_factors(sized_day, (1000.0, 2000.0), behind_ticks=0)
    for bad in [(), (100.0, 50.0), (-1.0,), (1.0,) * 8]:
        with pytest.raises(ValueError, match="edges_shares must be"):
            cancel_size_factors(sized_day, bad)
    for bad in [-1, 2.5, True]:
        with pytest.raises(ValueError, match="behind_ticks must be an int >= 0"):
            cancel_size_factors(sized_day, (100.0,), behind_ticks=bad)
    top = simulate_day(_market(), np.random.default_rng(1), 300.0, dt_s=60.0, levels=1, open_time_s=0.0)
    with pytest.raises(ValueError, match="records no submission behind its side's best"):
        cancel_size_factors(top)


@pytest.mark.parametrize("near_factor", [1.0, 2.0])
def test_the_size_factors_act_beyond_behind_ticks_and_the_near_factor_within(near_factor):
    day = _day(9, duration_s=2_400.0, cancel_size_edges_shares=(100.0,), cancel_size_factors=(0.25, 0.25),
               cancel_size_behind_ticks=8, cancel_near_factor=near_factor)
    lives = order_lives(day)
    # placed far / at or inside the best
    deep, near = lives[lives["behind_ticks"] >= 20], lives[lives["place"] < SIZE_PLACES.index("behind")]
    assert len(deep) > 3_000 and len(near) > 300
    hazard = lambda x: x["deleted"].sum() / x["life_s"].sum()  # noqa: E731
    assert hazard(deep) == pytest.approx(0.25 * THETA_PER_S, rel=0.15)
    # mostly within 8 ticks of the best: the near factor's rate (some drift deeper, slower;
    # the bound above allows for the noise of a few hundred deletions, about 6%)
    assert 0.75 * near_factor * THETA_PER_S < hazard(near) < 1.15 * near_factor * THETA_PER_S
    fit = cancel_size_factors(day, (100.0,), behind_ticks=8, rate_per_s=THETA_PER_S)
    assert 0.75 * near_factor < fit.near_factor < 1.05 * near_factor
    assert cancel_size_factors(day, (100.0,), behind_ticks=8).near_factor == 1.0  # without a rate: the one rate


@pytest.mark.parametrize("start", [1.0, 4.0])
def test_the_refinement_moves_the_near_factor_to_the_days_near_hazard(start):
    # a recorded day with near factor 2 (orders within 8 ticks of their best deleted at 0.1/s);
    # refined from 1 or 4, the factor lands near 2 and the simulated near hazard near the day's
    sizes = dict(cancel_size_edges_shares=(100.0,), cancel_size_factors=(0.5, 0.5), cancel_size_behind_ticks=8)
    day = simulate_day(_market(cancel_near_factor=2.0, **sizes), np.random.default_rng(11), 1_800.0, dt_s=60.0,
                       levels=10, open_time_s=0.0)
    target = near_hazard(day, 8)
    lives = order_lives(day)
    near = lives[lives["behind_ticks"] <= 8]
    assert target == pytest.approx(near["deleted"].sum() / near["life_s"].sum())
    assert 0.75 * 2.0 * THETA_PER_S < target < 1.05 * 2.0 * THETA_PER_S
    market, _ = refine_depth(_market(cancel_near_factor=start, **sizes), day, iterations=2, seed=5, cancel_near=True)
    assert 1.6 < market.flow.cancel_near_factor < 2.5
    assert market.flow.cancel_size_factors == (0.5, 0.5)  # the size factors are the fit's
    unrefined, _ = refine_depth(_market(cancel_near_factor=start, **sizes), day, iterations=1, seed=5)
    assert unrefined.flow.cancel_near_factor == start  # off unless asked
    with pytest.raises(ValueError, match="cancel_near=True refines the cancellation by size's near factor"):
        refine_depth(_market(), day, iterations=1, cancel_near=True)


@pytest.mark.parametrize("bad, error, match", [
    ({"cancel_size_edges_shares": (100.0,)}, ValueError, "one factor per size group"),
    ({"cancel_size_factors": (1.0, 2.0)}, ValueError, "cancel_size_edges_shares must hold 1 to 7"),
    ({"cancel_size_edges_shares": (100.0, 100.0), "cancel_size_factors": (1.0,) * 3}, ValueError, "increasing"),
    ({"cancel_size_edges_shares": (100.0,), "cancel_size_factors": (1.0, 0.0)}, ValueError, "finite and > 0"),
    ({"cancel_size_edges_shares": (100.0,), "cancel_size_factors": (1.0, float("nan"))}, ValueError, "finite"),
    ({"cancel_size_edges_shares": "100", "cancel_size_factors": (1.0, 2.0)}, TypeError, "cancel_size_edges_shares"),
    ({"cancel_size_edges_shares": (100.0,), "cancel_size_factors": 2.0}, TypeError, "cancel_size_factors"),
    ({"cancel_size_edges_shares": (100.0,), "cancel_size_factors": (1.0, 2.0), "cancel_size_behind_ticks": -1},
     ValueError, "cancel_size_behind_ticks"),
    ({"cancel_size_edges_shares": (100.0,), "cancel_size_factors": (1.0, 2.0), "cancel_size_behind_ticks": 1.5},
     TypeError, "cancel_size_behind_ticks"),
    ({"cancel_near_factor": 2.0}, ValueError, "cancel_near_factor=2.0 is part of the cancellation by size"),
    ({"cancel_size_edges_shares": (100.0,), "cancel_size_factors": (1.0, 2.0), "cancel_near_factor": 0.0},
     ValueError, "cancel_near_factor"),
])
def test_bad_cancellation_sizes_are_refused(bad, error, match):
    with pytest.raises(error, match=match):
        FlowConfig(anchor="opposite_best", intraday=None, **bad)


def _split_params(near_factor, factors=(0.5, 0.125), behind_ticks=2):
    """The kernel's parameters of a cancellation by size split at 100 shares (flow_params)."""
    flow = FlowConfig(depth_shares=(100.0,) * 5, resilience_per_s=THETA_PER_S, cancel_size_edges_shares=(100.0,),
                      cancel_size_factors=factors, cancel_size_behind_ticks=behind_ticks,
                      cancel_near_factor=near_factor)
    return F.flow_params(flow, ImpactConfig(), 1)[0]


def test_the_near_stream_takes_the_flows_near_orders_at_the_near_factor_less_their_groups():
    # bids 1000..995 and asks 1010..1015, one order each: 100 shares, or 50 at 999 and 1011;
    # an agent's at 1000. Within 2 ticks of each best: 1000..998 and 1010..1012 (7 orders)
    book = OrderBook(lot_size=1)
    for oid, (side, price) in enumerate([(1, p) for p in range(1_000, 994, -1)] + [(-1, p) for p in range(1_010, 1_016)]):
        book.limit(side, price, 50 if price in (999, 1_011) else 100, order_id=oid + 1)
    book.limit(1, 1_000, 100, order_id=99, owner=1)  # the agent's: never the flow's to cancel
    sc, lvl, orders = book.arrays[:3]
    fp = _split_params(2.0)
    assert fp[F.P_CSZ_MAX] == 0.5 and fp[F.P_CSZ_FMIN] == 0.125  # the list's proposals at the groups' largest
    assert fp[F.P_CSZ_NEAR_RATE] == pytest.approx(THETA_PER_S * (2.0 - 0.125))
    n_bid, n_ask = F._near_counts(fp, sc, lvl)
    assert (n_bid, n_ask) == (4, 3)  # the agent's counted: a proposal to it is rejected
    rs = R.new_state(np.random.default_rng(0))
    draws = 14_000
    slots = [F._near_stream_slot(rs, fp, sc, lvl, orders, n_bid, n_ask) for _ in range(draws)]
    taken = [int(orders[s]["id"]) for s in slots if s != -1]
    price = {oid + 1: p for oid, p in enumerate(list(range(1_000, 994, -1)) + list(range(1_010, 1_016)))}
    near = [oid for oid, p in price.items() if 998 <= p <= 1_012]
    assert set(taken) == set(near)  # never the agent's nor an order further behind, on both sides
    # each candidate proposed at 1/7 = 2,000 draws; kept at (2 - f) / (2 - 0.125): 1 for the
    # round lots, 0.8 for the odd lots (1,600); sd about 40
    for oid in near:
        expected = draws / 7 * (0.8 if price[oid] in (999, 1_011) else 1.0)
        assert abs(taken.count(oid) - expected) < 5 * np.sqrt(expected), (oid, taken.count(oid), expected)
    # the list's factor is the group's wherever the order rests (the near stream adds the rest)
    slot_best = int(np.flatnonzero(orders["id"] == 1)[0])
    assert orders[slot_best]["price_ticks"] == 1_000
    assert F._cancel_size_factor(fp, sc, orders, slot_best) == 0.125
    one_stream = _split_params(0.3)  # a near factor below the groups' largest: one stream
    assert one_stream[F.P_CSZ_NEAR_RATE] == 0.0 and one_stream[F.P_CSZ_FMIN] == 0.0
    assert F._cancel_size_factor(one_stream, sc, orders, slot_best) == 0.3


@pytest.mark.parametrize("near_factor", [0.3, 2.0])
def test_near_orders_of_every_group_are_cancelled_at_the_near_factor_deep_ones_at_their_groups(near_factor):
    # groups at 0.5 and 0.125: a near factor of 2 takes the second stream, 0.3 the one stream
    day = _day(13, duration_s=9_600.0, cancel_size_edges_shares=(100.0,), cancel_size_factors=(0.5, 0.125),
               cancel_size_behind_ticks=8, cancel_near_factor=near_factor)
    m = day.messages
    for side in (1, -1):
        lives = order_lives(day)
        lives = lives[lives.index.isin(m.loc[(m["type"] == 1) & (m["direction"] == side), "order_id"])]
        small = lives["size_shares"] < 100
        deep, near = lives["behind_ticks"] >= 20, lives["place"] < SIZE_PLACES.index("behind")
        hazard = lambda x: x["deleted"].sum() / x["life_s"].sum()  # noqa: E731
        assert hazard(lives[deep & small]) == pytest.approx(0.5 * THETA_PER_S, rel=0.2)
        assert hazard(lives[deep & ~small]) == pytest.approx(0.125 * THETA_PER_S, rel=0.2)
        for group in (small, ~small):  # mostly within 8 ticks of the best (some drift deeper)
            assert (near & group).sum() > 500
            assert 0.7 * near_factor * THETA_PER_S < hazard(lives[near & group]) < 1.1 * near_factor * THETA_PER_S


def test_the_group_factor_table_is_the_search_over_the_edges():
    # the factor of each size group by remaining shares is read from a table below 512 shares
    # (the search over the edges otherwise): the same factor for every size, both ways
    book = OrderBook(lot_size=1)
    for size in range(1, 700):
        book.limit(1, 1_000 - size % 50, size, order_id=size)
    orders = book.arrays[2]
    slots = np.flatnonzero(orders["id"] > 0)
    for edges, factors in (((100.0, 101.0, 500.0), (1.5, 0.5, 0.6, 0.3)), ((50.0,), (0.2, 2.0)),
                           ((100.0, 600.0), (1.0, 0.5, 0.25))):
        flow = FlowConfig(anchor="opposite_best", intraday=None, cancel_size_edges_shares=edges,
                          cancel_size_factors=factors)
        fp = F.flow_params(flow, ImpactConfig(), 1)[0]
        assert fp[F.P_CSZ_TAB_ON] == (1.0 if edges[-1] < F.CSZ_TABLE else 0.0)
        searched = fp.copy()
        searched[F.P_CSZ_TAB_ON] = 0.0
        for slot in slots:
            size = orders[slot]["size_shares"]
            expected = factors[int(np.searchsorted(edges, size, side="right"))]
            assert F._group_factor(fp, orders, slot) == F._group_factor(searched, orders, slot) == expected, size

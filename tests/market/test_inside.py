"""Orders inside a wide spread: with the probability of the spread's bucket a new limit order
improves its side's best by the configured fraction of the spread, a share of them flicker
(withdrawn after an exponential delay); the statistics find both in a simulated day, the
refinement moves the probabilities towards a day's shares, and without them the stream is
unchanged."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration import refine as refine_module
from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.calibration.inside import (
    inside_buckets,
    inside_probs,
    inside_statistics,
    submissions_in_spread,
)
from execgym.envs.market.analysis.calibration.refine import refine_depth
from execgym.envs.market.data.lobster_data import load_lobster, sample_lobster_dir
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

#: nothing placed within 12 ticks of the opposite best: while the spread is at most 12 ticks
#: the depth profile puts no order inside it
DEPTH = (0.0,) * 12 + (600.0,) * 10
EDGES = (1.0, 4.0)


@pytest.fixture(scope="module")
def goog_day():
    d = sample_lobster_dir()
    return load_lobster(d / "GOOG_2012-06-21_34200000_57600000_message_10.csv.xz",
                        d / "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.xz")


def _market(probs=(), fracs=(0.5,), fleeting=(), life_s=0.05, **flow):
    inside = {} if not probs else {"inside_spread_ticks": EDGES, "inside_probs": probs, "inside_improve_fracs": fracs,
                                   "inside_fleeting_fracs": fleeting, "inside_life_s": life_s}
    base = dict(market_rate_per_s=0.4, resilience_per_s=0.1, intraday=None, anchor="opposite_best",
                mean_limit_size_shares=100.0, depth_shares=DEPTH)
    return SimulatorConfig(flow=FlowConfig(**(base | inside | flow)), warmup_s=300.0)


def _day(market, seconds=1_800.0, seed=0):
    return simulate_day(market, np.random.default_rng(seed), seconds, dt_s=60.0, all_messages=True)


def test_without_orders_inside_the_stream_is_unchanged():
    a = _day(_market(), 600.0, seed=2).messages
    b = _day(_market(probs=(0.0, 0.0), fleeting=(0.0, 0.0)), 600.0, seed=2).messages
    assert a.equals(b)  # zero probabilities and shares draw nothing
    subs = submissions_in_spread(_day(_market(), 600.0, seed=2))
    assert (subs.loc[subs["spread_ticks"] <= 12, "improvement_ticks"] <= 0).all()  # the profile's: none inside


@pytest.fixture(scope="module")
def inside_day():
    return _day(_market(probs=(0.0, 0.4), fracs=(0.25, 0.75)), 3_600.0)


@pytest.mark.parametrize("side", [1, -1])
def test_orders_land_inside_with_the_buckets_probability_and_the_configured_improvement(side, inside_day):
    day = inside_day
    subs = submissions_in_spread(day)
    sides = day.messages.loc[(day.messages["type"] == 1), "direction"]
    assert abs((sides == 1).mean() - 0.5) < 0.05  # both sides post
    subs = subs.assign(direction=_directions(day))
    mine = subs[(subs["direction"] == side) & (subs["spread_ticks"] <= 12)]
    inside = mine["improvement_ticks"] > 0
    narrow = mine["spread_ticks"] < 4
    assert len(mine[~narrow]) > 200 and not inside[narrow].any()  # below 4 ticks: probability 0
    share = inside[~narrow].mean()
    assert share == pytest.approx(0.4, abs=4 * np.sqrt(0.24 / (~narrow).sum()) + 0.01)
    # the improvement is round(x s) clipped to [1, s - 1], x in {0.25, 0.75}
    s = mine.loc[inside, "spread_ticks"].to_numpy()
    k = mine.loc[inside, "improvement_ticks"].to_numpy()
    allowed = [np.clip(np.floor(x * s + 0.5), 1, s - 1) for x in (0.25, 0.75)]
    assert np.all((k == allowed[0]) | (k == allowed[1]))
    assert 0.3 < np.mean(k == allowed[0]) < 0.7


def _directions(day):
    """The direction of each submission :func:`submissions_in_spread` keeps (same filter)."""
    m = day.messages
    s = day.book_levels()
    t = m["time_s"].to_numpy()
    rows = np.flatnonzero((m["type"].to_numpy() == 1) & (t >= day.start_s) & (t < day.end_s))
    rows = rows[rows > 0]
    ok = s.bid_ok[rows - 1, 0] & s.ask_ok[rows - 1, 0]
    rows = rows[ok]
    wide = (s.ask_price_ticks[rows - 1, 0] - s.bid_price_ticks[rows - 1, 0]) >= 2
    return m["direction"].to_numpy()[rows[wide]]


def test_flickering_quotes_are_withdrawn_after_the_configured_delay():
    flicker = inside_statistics(_day(_market(probs=(0.0, 0.4), fleeting=(0.0, 1.0), life_s=0.05)), EDGES)
    steady = inside_statistics(_day(_market(probs=(0.0, 0.4))), EDGES)
    # one flicker at a time, and some are filled first: most, not all, are withdrawn within 1 s
    assert flicker["fleeting_fracs"][1] > 0.6 and steady["fleeting_fracs"][1] < 0.1
    assert flicker["life_s"] == pytest.approx(0.05, rel=0.3)
    assert flicker["shares"][1] == pytest.approx(steady["shares"][1], abs=0.1)


def test_any_new_order_inside_the_spread_flickers_however_it_got_there():
    """The depth profile puts orders inside a spread of two ticks or more (one to six ticks
    from the opposite best); with no probability of its own the rule still withdraws them."""
    near = dict(depth_shares=(300.0,) * 6)
    edges = (1.0, 2.0)
    flicker = _market(probs=(0.0, 0.0), fleeting=(0.0, 1.0), life_s=0.05, **near)
    flicker = dataclasses.replace(flicker, flow=dataclasses.replace(flicker.flow, inside_spread_ticks=edges))
    steady = dataclasses.replace(flicker, flow=dataclasses.replace(flicker.flow, inside_fleeting_fracs=(0.0, 0.0)))
    got, base = (inside_statistics(_day(m, 1_200.0), edges) for m in (flicker, steady))
    assert got["shares"][1] > 0.1  # the profile does put orders inside
    assert got["fleeting_fracs"][1] > 0.5 and base["fleeting_fracs"][1] < 0.1


def test_statistics_and_buckets_of_the_recorded_day(goog_day):
    stats = inside_statistics(goog_day)
    edges = stats["spread_ticks"]
    assert edges == inside_buckets(goog_day) and edges[0] == 1.0 and list(edges) == sorted(edges)
    # the wider the spread, the more orders go inside it (GOOG: 11% at the tightest, over half when wide)
    assert stats["shares"][0] < 0.2 < 0.5 < stats["shares"][-1]
    assert np.all(np.diff(stats["improve_fracs"]) >= 0) and 0 < stats["improve_fracs"][0] < stats["improve_fracs"][-1] <= 1
    # orders inside a wide spread flicker (GOOG: 0.68 beyond 67 ticks), inside a tight one hardly more than others
    assert np.all((0.0 <= stats["fleeting_fracs"]) & (stats["fleeting_fracs"] <= 1.0)) and 0.0 < stats["life_s"] < 1.0
    assert stats["fleeting_fracs"][0] < 0.2 < 0.5 < stats["fleeting_fracs"][-2]
    with pytest.raises(ValueError, match="spread_ticks"):
        inside_statistics(goog_day, (2.0, 5.0))


def test_calibration_writes_the_mechanisms_and_reads_them_back(inside_day):
    cal = calibrate_flow(inside_day, max_distance=len(DEPTH), inside=True, refill=True, opening_burst=True)
    f = cal.flow
    stats = inside_statistics(inside_day)
    assert f.inside_spread_ticks == stats["spread_ticks"] and f.refill_empty_side
    assert f.inside_probs == pytest.approx(tuple(inside_probs(stats, f.depth_shares)))
    assert f.intraday.burst_boost >= 0.0
    again = SimulatorConfig.from_mapping(cal.market_config(0.01, 1000.0, 300.0)).flow
    assert again.inside_spread_ticks == f.inside_spread_ticks and again.refill_empty_side
    assert again.inside_probs == pytest.approx(f.inside_probs, rel=1e-3)
    assert again.inside_improve_fracs == pytest.approx(f.inside_improve_fracs, rel=1e-3)
    assert again.intraday.burst_boost == pytest.approx(f.intraday.burst_boost, rel=1e-3, abs=1e-9)
    if f.intraday.burst_boost > 0:  # (a flat simulated day has none: its width is then not written)
        assert again.intraday.burst_decay_frac == pytest.approx(f.intraday.burst_decay_frac, rel=1e-3)
    # the day's probability of 0.4 above four ticks, where its profile put nothing inside
    narrow = [p for e, p in zip(stats["spread_ticks"], stats["shares"]) if 4 <= e < 12]
    assert narrow and np.mean(narrow) == pytest.approx(0.4, abs=0.1)
    assert all(0.0 <= p <= s for p, s in zip(f.inside_probs, stats["shares"]))  # less what the profile puts there


def test_first_guess_takes_off_what_the_depth_profile_puts_inside(inside_day):
    stats = inside_statistics(inside_day, EDGES)
    # nothing within 12 ticks: at spreads up to 13 ticks the profile puts nothing inside
    far = inside_probs(stats, DEPTH)
    assert far == pytest.approx(np.clip(stats["shares"], 0, 0.95), abs=0.02)
    # everything one tick from the opposite best: inside any spread of two ticks or more
    near = inside_probs(stats, (100.0,) + (0.0,) * 5)
    assert np.all(near == 0.0)
    with pytest.raises(ValueError, match="depth_shares"):
        inside_probs(stats, (0.0, 0.0))


def test_a_bucket_the_simulation_does_not_reach_follows_the_nearest_below():
    sim = {"shares": np.array([0.2, 0.55, 0.0]), "counts": np.array([100, 100, 0])}
    # bucket 1: the odds of 0.4 times the day's odds (0.4 / 0.6) over the simulated ones (0.55 / 0.45)
    odds = (0.4 / 0.6) * (0.4 / 0.6) / (0.55 / 0.45)
    new = refine_module._inside_probs((0.2, 0.4, 0.8), np.array([0.2, 0.4, 0.9]), sim)
    unreached = 4.0 * odds / (0.4 / 0.6)  # bucket 2's odds (4) by bucket 1's factor
    assert new == pytest.approx((0.2, odds / (1 + odds), unreached / (1 + unreached)))
    # a reached bucket that falls to 0 (the day has nothing inside there) takes the unreached one's
    # odds down by at most a factor of 4 a step
    new = refine_module._inside_probs((0.2, 0.4, 0.8), np.array([0.2, 0.0, 0.9]), sim)
    assert new == pytest.approx((0.2, 0.0, 0.5))
    # an odds step is at most a factor of 4 either way
    sim = {"shares": np.array([0.2, 0.99, 0.0]), "counts": np.array([100, 100, 0])}
    new = refine_module._inside_probs((0.2, 0.4, 0.8), np.array([0.2, 0.4, 0.9]), sim)
    assert new[1] / (1 - new[1]) == pytest.approx((0.4 / 0.6) / 4)


@pytest.mark.parametrize("recorded", [0.25, 0.6, 1.0])
def test_one_step_lands_on_the_days_share_when_only_recorded_orders_differ(recorded):
    """A file records every order posted inside but only a share ``r`` of the others: the
    recorded share is ``T = p / (p + (1 - p) r)``. From a probability that overshoots (the GOOG
    ``_follow`` model's narrowest bucket: ``p = 0.104``, ``R = 0.109``), one step of the odds
    lands on the day's share, whatever ``r``; reading ``T`` as if every order were recorded
    (``q = (T - p) / (1 - p)``) would jump to 0 for ``r = 0.25``."""
    def recorded_share(p):
        return p / (p + (1 - p) * recorded)

    day_share = 0.109
    for start in (0.104, 0.01, 0.5):
        sim = {"shares": np.array([recorded_share(start)]), "counts": np.array([10_000])}
        (new,) = refine_module._inside_probs((start,), np.array([day_share]), sim)
        odds_step = (day_share / (1 - day_share)) / (sim["shares"][0] / (1 - sim["shares"][0]))
        if 0.25 <= odds_step <= 4:
            assert recorded_share(new) == pytest.approx(day_share, rel=1e-9), start
        else:  # beyond the step's bound: a factor of 4 towards it
            assert new / (1 - new) == pytest.approx(start / (1 - start) * (4 if odds_step > 4 else 0.25))
    # from 0 the first step reads the simulated share as the rest's: p = (R - T) / (1 - T)
    sim = {"shares": np.array([0.05]), "counts": np.array([10_000])}
    assert refine_module._inside_probs((0.0,), np.array([day_share]), sim)[0] == pytest.approx(
        (day_share - 0.05) / 0.95)


def test_refinement_moves_the_probabilities_towards_the_days_shares():
    day = _day(_market(probs=(0.0, 0.4)), 1_200.0, seed=5)
    start = _market(probs=(0.0, 0.05))
    refined, _ = refine_depth(start, day, iterations=2, seed=1, inside=True)
    assert refined.flow.inside_probs[1] > 0.2
    assert refined.flow.inside_probs[0] == 0.0  # nothing inside below 4 ticks in the day either
    with pytest.raises(ValueError, match="inside_probs"):
        refine_depth(_market(), day, iterations=1, inside=True)


@pytest.mark.parametrize("kwargs, match", [
    ({"inside_spread_ticks": (1.0, 4.0), "inside_probs": (0.1,), "inside_improve_fracs": (0.5,)}, "inside_probs"),
    ({"inside_spread_ticks": (2.0, 4.0), "inside_probs": (0.1, 0.1), "inside_improve_fracs": (0.5,)}, "inside_spread_ticks"),
    ({"inside_spread_ticks": (1.0,), "inside_probs": (1.5,), "inside_improve_fracs": (0.5,)}, r"inside_probs\[0\]"),
    ({"inside_spread_ticks": (1.0,), "inside_probs": (0.5,)}, "inside_improve_fracs"),
    ({"inside_spread_ticks": (1.0,), "inside_probs": (0.5,), "inside_improve_fracs": (0.6, 0.2)}, "inside_improve_fracs"),
    ({"inside_spread_ticks": (1.0,), "inside_probs": (0.5,), "inside_improve_fracs": (0.0,)}, "inside_improve_fracs"),
    ({"inside_spread_ticks": (1.0, float("inf")), "inside_probs": (0.5, 0.5), "inside_improve_fracs": (0.5,)},
     "inside_spread_ticks"),
    ({"inside_spread_ticks": (1.0,), "inside_probs": (0.5,), "inside_improve_fracs": (0.5,),
      "inside_fleeting_fracs": (0.1, 0.2)}, "inside_fleeting_fracs"),
    ({"inside_spread_ticks": (1.0,), "inside_probs": (0.5,), "inside_improve_fracs": (0.5,),
      "inside_fleeting_fracs": (-0.1,)}, r"inside_fleeting_fracs\[0\]"),
    ({"inside_life_s": 0.0}, "inside_life_s"),
])
def test_bad_settings_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"inside_spread_ticks": (1.0, 2.0), "inside_probs": (None, 0.5), "inside_improve_fracs": (0.5,)}, "inside_probs"),
    ({"inside_spread_ticks": (1.0,), "inside_probs": 0.5, "inside_improve_fracs": (0.5,)}, "inside_probs"),
    ({"inside_spread_ticks": (1.0,), "inside_probs": (0.5,), "inside_improve_fracs": ("x",)}, "inside_improve_fracs"),
    ({"refill_empty_side": 1}, "refill_empty_side"),
])
def test_settings_of_the_wrong_type_are_refused_by_name(kwargs, match):
    with pytest.raises(TypeError, match=match):
        FlowConfig(**kwargs)


def test_a_side_never_empties_with_the_refill():
    """A thin book and large market orders: without the refill a side is often empty; with
    it every empty book row is followed, at the same time, by a quote on that side."""
    thin = dict(depth_shares=(40.0,) * 6, market_rate_per_s=1.0, mean_market_size_shares=300.0)
    plain = _day(_market(**thin), 900.0, seed=3)
    refilled = _day(_market(refill_empty_side=True, **thin), 900.0, seed=3)
    for day, expect_empty in ((plain, True), (refilled, False)):
        s = day.book_levels()
        hold = day.durations_s()
        empty = {1: ~s.bid_ok[:, 0], -1: ~s.ask_ok[:, 0]}
        if expect_empty:
            assert all(hold[e].sum() > 1.0 for e in empty.values())  # both sides, for seconds
            continue
        m = day.messages
        for side, e in empty.items():
            rows = np.flatnonzero(e[:-1])
            assert len(rows) > 5  # swept often ...
            nxt = rows + 1  # ... and quoted again at once, on that side
            assert (m["type"].to_numpy()[nxt] == 1).all() and (m["direction"].to_numpy()[nxt] == side).all()
            assert np.allclose(m["time_s"].to_numpy()[nxt], m["time_s"].to_numpy()[rows])
            assert hold[e].sum() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("edges", [(1.0, 15.0, 20.0, 23.0, 98.0), (1.0,), (1.0, 2.0, 300.0)])
def test_the_spread_lookup_tables_give_the_searched_bucket(edges):
    """The flow finds a spread's bucket (orders inside, market orders' factor) in a table
    below SPREAD_LUT_TICKS and by searching the bounds above: the same bucket either way."""
    from execgym.envs.market.simulation import flow as F

    n = len(edges)
    flow = F.FlowConfig(anchor="opposite_best", inside_spread_ticks=edges, inside_probs=(0.1,) * n,
                        inside_improve_fracs=(0.5,), market_spread_ticks=edges, market_spread_factor=(1.0,) * n)
    fp = F.flow_params(flow, F.ImpactConfig(), 1)[0]
    for s in range(F.SPREAD_LUT_TICKS + 50):
        for lut, first, count in ((F.P_IN_LUT0, F.P_IN_EDGE0, F.P_IN_N), (F.P_MO_SPREAD_LUT0, F.P_MO_SPREAD_EDGE0,
                                                                          F.P_MO_SPREAD_N)):
            searched = max([k for k in range(n) if edges[k] <= s], default=0)
            assert F._spread_bucket(fp, lut, first, int(fp[count]), s) == searched == F._bucket(fp, first, n, s)

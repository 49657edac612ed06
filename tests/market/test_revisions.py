"""Order revisions: resting orders are cancelled and re-posted a few ticks away (same side
and size) at their own rate; the statistics find the revisions of a simulated day again,
the refinement moves the rates towards a day's counts, and without them the stream is
unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.calibration.refine import refine_depth
from execgym.envs.market.analysis.calibration.revisions import revision_rates, revision_statistics
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import MAX_REVISE_TICKS, FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

DEPTH = (0.0, 0.0, 300.0, 600.0, 900.0, 1200.0, 1200.0, 1200.0, 1200.0, 1200.0)
N_MOVES = 2 * MAX_REVISE_TICKS + 1


def _moves(weights: dict[int, float]) -> tuple[float, ...]:
    w = np.zeros(N_MOVES)
    for k, x in weights.items():
        w[k + MAX_REVISE_TICKS] = x
    return tuple(w)


def _market(best=0.0, deep=0.0, delay=0.0, best_moves=None, deep_moves=None, **flow):
    base = dict(market_rate_per_s=0.3, resilience_per_s=0.1, intraday=None, anchor="opposite_best",
                mean_limit_size_shares=100.0, depth_shares=DEPTH, revise_best_per_s=best, revise_deep_per_s=deep,
                revise_delay_s=delay, revise_best_probs=best_moves or (), revise_deep_probs=deep_moves or ())
    return SimulatorConfig(flow=FlowConfig(**(base | flow)), warmup_s=300.0)


def _day(market, seconds=1_800.0, seed=0):
    return simulate_day(market, np.random.default_rng(seed), seconds, dt_s=60.0)


def test_without_revisions_the_stream_is_unchanged():
    a = _day(_market(), 600.0, seed=2).messages
    b = _day(_market(best_moves=_moves({1: 1.0})), 600.0, seed=2).messages
    assert a.equals(b)  # weights alone, at zero rates, draw nothing


def test_revisions_re_post_the_same_size_on_the_same_side_a_few_ticks_away():
    moves = _moves({-1: 0.5, 1: 0.5})
    day = _day(_market(best=0.5, deep=0.2, best_moves=moves, deep_moves=moves))
    stats = revision_statistics(day)
    plain = revision_statistics(_day(_market()))
    assert stats["best_share"] > 0.6 and stats["deep_share"] > 0.6
    assert plain["best_share"] < 0.2 and plain["deep_share"] < 0.2
    # the moves found are the configured ones (the re-post is at most one tick inside the spread)
    near = stats["best_probs"][MAX_REVISE_TICKS - 1] + stats["best_probs"][MAX_REVISE_TICKS + 1]
    assert near > 0.8
    def sizes_kept(d):  # a cancellation followed by a same-side submission of its size
        m = d.messages
        cancels = np.flatnonzero(m["type"].isin([2, 3]).to_numpy())
        nxt = cancels[cancels + 1 < len(m)] + 1
        kind, side, size = m["type"].to_numpy(), m["direction"].to_numpy(), m["size_shares"].to_numpy()
        same = (kind[nxt] == 1) & (side[nxt] == side[nxt - 1])
        return (size[nxt][same] == size[nxt - 1][same]).mean()

    assert sizes_kept(day) > 0.9 and sizes_kept(_day(_market())) < 0.5
    # revisions move orders: the depth stays about the configured one
    depth = lambda d: d.book_levels().bid_size_shares.sum(axis=1).mean()  # noqa: E731
    assert depth(day) == pytest.approx(depth(_day(_market())), rel=0.3)


def test_buy_and_sell_orders_are_revised_alike():
    day = _day(_market(best=0.5, deep=0.2, best_moves=_moves({-2: 1.0}), deep_moves=_moves({-2: 1.0})), 3_600.0)
    m = day.messages
    cancels = m[m["type"].isin([2, 3])]
    bids, asks = (cancels["direction"] == 1).sum(), (cancels["direction"] == -1).sum()
    assert abs(bids - asks) < 4.0 * np.sqrt(bids + asks)
    stats = revision_statistics(day)
    assert stats["best_probs"][MAX_REVISE_TICKS - 2] > 0.8  # two ticks less aggressive, on both sides


def test_the_delay_separates_the_two_messages():
    day = _day(_market(best=0.5, deep=0.2, delay=0.002), 1_200.0)
    stats = revision_statistics(day, window_s=0.05)
    assert 0.0005 < stats["median_delay_s"] < 0.003  # exponential of mean 2 ms: median 1.4 ms
    instant = revision_statistics(_day(_market(best=0.5, deep=0.2), 1_200.0))
    assert instant["median_delay_s"] == 0.0


def test_calibration_and_refinement_move_the_rates_towards_the_days_counts():
    truth = _market(best=0.4, deep=0.1, best_moves=_moves({1: 0.5, -1: 0.5}))
    day = _day(truth, 1_800.0, seed=4)
    target = revision_statistics(day)
    cal = calibrate_flow(day, max_distance=10, revisions=True)
    assert cal.flow.revise_best_per_s > 0 and cal.flow.revise_deep_per_s > 0
    again = SimulatorConfig.from_mapping(cal.market_config(0.01, 1000.0, 300.0))
    assert again.flow.revise_best_probs == pytest.approx(cal.flow.revise_best_probs, abs=1e-3)
    start = _market(best=0.05, deep=0.01)
    before = revision_statistics(_day(start, 1_800.0, seed=9))
    refined, _ = refine_depth(start, day, iterations=3, seed=5, revisions=True)
    after = revision_statistics(_day(refined, 1_800.0, seed=9))
    assert refined.flow.revise_best_per_s > 0.05 and refined.flow.revise_deep_per_s > 0.01
    for stat in ("best_per_s", "deep_per_s"):
        assert abs(after[stat] - target[stat]) < 0.5 * abs(before[stat] - target[stat])
    with pytest.raises(ValueError, match="no revise_best_per_s"):
        refine_depth(_market(), day, iterations=1, revisions=True)
    rates = revision_rates(day, 100.0, target)
    assert rates["revise_best_per_s"] > rates["revise_deep_per_s"] > 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(revise_best_per_s=-1.0), "revise_best_per_s"),
    (dict(revise_delay_s=-0.1), "revise_delay_s"),
    (dict(revise_best_probs=(1.0, 2.0)), f"{N_MOVES} weights"),
    (dict(revise_deep_probs=(0.0,) * N_MOVES), "positive weight"),
    (dict(revise_best_probs=(-1.0,) + (1.0,) * (N_MOVES - 1)), r"revise_best_probs\[0\]"),
])
def test_bad_revision_settings_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(**kwargs)


def test_revision_moves_that_are_not_numbers_are_refused_by_name():
    with pytest.raises(TypeError, match="revise_deep_probs"):
        FlowConfig(revise_deep_probs=(None,) * N_MOVES)


def test_revisions_do_not_walk_orders_away_from_the_book():
    # every revision moves its order 30 ticks back; the re-post stays within the flow's
    # farthest placement (10 ticks here) of the opposite best
    away = _moves({-MAX_REVISE_TICKS: 1.0})
    day = _day(_market(best=0.5, deep=0.5, best_moves=away, deep_moves=away), 1_200.0, seed=3)
    s = day.book_levels()
    ok = s.ask_ok[:, 0] & s.bid_ok[:, 0] & s.ask_ok[:, 4] & s.bid_ok[:, 4]
    # the fifth level of each side from the opposite best (uncapped: 36 ticks at the 99th percentile)
    bid_reach = (s.ask_price_ticks[ok, 0] - s.bid_price_ticks[ok, 4]).astype(float)
    ask_reach = (s.ask_price_ticks[ok, 4] - s.bid_price_ticks[ok, 0]).astype(float)
    for reach in (bid_reach, ask_reach):
        assert np.quantile(reach, 0.99) <= 2 * len(DEPTH)

"""Fleeting orders: the clustering's excited submissions join (or improve) their best quote and
its excited cancellations take the newest order, as the recorded day's bursts do; the
refinement finds the shares again."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import FLEETING_S, calibrate_flow, fleeting_shares
from execgym.envs.market.analysis.calibration.refine import refine_depth
from execgym.envs.market.analysis.realism import metric_samples
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

CLUSTER = dict(cluster_alphas_per_s=(40.0,), cluster_betas_per_s=(60.0,))


def _market(**flow):
    # no depth within 4 ticks of the opposite best: a spread of several ticks, room to improve
    base = dict(market_rate_per_s=0.5, resilience_per_s=0.2, intraday=None, anchor="opposite_best",
                mean_limit_size_shares=100.0, depth_shares=(0.0, 0.0, 0.0, 0.0, 1500.0, 2000.0, 2500.0, 2500.0),
                **CLUSTER)
    return SimulatorConfig(flow=FlowConfig(**(base | flow)), warmup_s=300.0)


def _day(market, seconds=3_600.0, seed=0):
    return simulate_day(market, np.random.default_rng(seed), seconds, dt_s=60.0)


def test_excited_submissions_join_or_improve_their_best():
    names = ["order_level_ticks", "spread_ticks"]
    plain = metric_samples(_day(_market()), names)
    join = metric_samples(_day(_market(cluster_join_frac=1.0)), names)
    improve = metric_samples(_day(_market(cluster_improve_frac=0.5)), names)
    assert np.median(plain["spread_ticks"]) >= 5
    assert np.mean(join["order_level_ticks"] == 0) > np.mean(plain["order_level_ticks"] == 0) + 0.3
    # improving orders narrow the spread a tick at a time, down to one tick, never across
    assert np.median(improve["spread_ticks"]) == 1 and improve["spread_ticks"].min() >= 1
    assert np.mean(improve["order_level_ticks"] == 0) > np.mean(plain["order_level_ticks"] == 0) + 0.1


def test_excited_cancellations_of_the_newest_order_are_fleeting():
    plain = fleeting_shares(_day(_market()))["fast_cancel_share"]
    newest = fleeting_shares(_day(_market(cluster_cancel_newest_frac=1.0)))["fast_cancel_share"]
    assert newest > plain + 0.15
    life = metric_samples(_day(_market(cluster_cancel_newest_frac=1.0)), ["log10_time_to_cancel_s"])
    assert np.mean(life["log10_time_to_cancel_s"] < np.log10(FLEETING_S)) == pytest.approx(newest, abs=0.05)


def test_without_the_shares_the_clustered_stream_is_unchanged():
    a = _day(_market(), 600.0).messages
    b = _day(_market(cluster_join_frac=0.0, cluster_cancel_newest_frac=0.0), 600.0).messages
    assert a.equals(b)


def test_refinement_moves_the_shares_towards_the_day():
    truth = _market(cluster_join_frac=0.5, cluster_cancel_newest_frac=0.6)
    day = _day(truth, 1_800.0, seed=7)
    target = fleeting_shares(day)
    start = _market(cluster_join_frac=0.1, cluster_cancel_newest_frac=0.1)
    first = fleeting_shares(_day(start, 1_800.0, seed=8))
    refined, _ = refine_depth(start, day, iterations=2, seed=3, fleeting=True)
    after = fleeting_shares(_day(refined, 1_800.0, seed=8))
    for stat in ("join_share", "fast_cancel_share"):
        assert abs(after[stat] - target[stat]) < 0.5 * abs(first[stat] - target[stat])
    assert refined.flow.cluster_join_frac > 0.1 and refined.flow.cluster_cancel_newest_frac > 0.1


@pytest.mark.parametrize("kwargs, match", [
    (dict(cluster_join_frac=0.2), "cluster_alphas_per_s"),
    (dict(cluster_cancel_newest_frac=0.2), "cluster_alphas_per_s"),
    (dict(cluster_join_frac=0.7, cluster_improve_frac=0.5, **CLUSTER), "must be <= 1"),
    (dict(cluster_improve_frac=1.5, **CLUSTER), "cluster_improve_frac"),
])
def test_bad_fleeting_settings_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(**kwargs)


def test_fleeting_calibration_needs_clustering():
    day = _day(_market(), 1_800.0)
    with pytest.raises(ValueError, match="clustering"):
        calibrate_flow(day, max_distance=10, fleeting=True)
    with pytest.raises(ValueError, match="no clustering"):
        refine_depth(SimulatorConfig(), day, iterations=1, fleeting=True)

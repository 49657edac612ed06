"""Quote-stuffing and layering detectors against an agent that injects both at known times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execgym.envs.market.analysis.microstructure.frames import mirror_day
from execgym.envs.market.analysis.microstructure.manipulation import (
    LayeringParams,
    ManipulationAgent,
    ManipulationConfig,
    StuffingParams,
    detect_layering,
    detect_quote_stuffing,
    interval_scores,
    layering_scores,
)
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.simulator import SimulatorConfig

DAY_S = 1800.0
CFG = ManipulationConfig(n_stuffing_bursts=6, n_layering_episodes=6, max_wait_s=60.0)


def _day(config=CFG, seed=3):
    agent = ManipulationAgent(config, np.random.default_rng(seed), DAY_S)
    day = simulate_day(SimulatorConfig(warmup_s=100.0), np.random.default_rng(seed + 100), DAY_S,
                       dt_s=0.1, levels=5, agent=agent, name="manipulated")
    return day, agent


@pytest.fixture(scope="module")
def manipulated():
    return _day()


def test_agent_labels_match_what_it_did_and_repeat_with_the_seed(manipulated):
    day, agent = manipulated
    labels = day.labels
    assert len(labels["stuffing"]) == 6 and len(labels["layering"]) == 6
    assert sorted(e["side"] for e in labels["layering"]) == [-1, -1, -1, 1, 1, 1]
    m = day.messages
    for t0, t1 in labels["stuffing"]:
        burst = m[(m["time_s"] >= t0) & (m["time_s"] <= t1 + 1e-6) & (m["order_id"] >= 1 << 50)]
        assert (burst["type"] == 1).sum() == CFG.burst_messages // 2
        assert (burst["type"] == 3).sum() == CFG.burst_messages // 2
    for e in labels["layering"]:
        rows = m[m["order_id"].isin(e["order_ids"])]
        assert (rows["type"] == 1).sum() == CFG.n_layers and (rows["direction"] == e["side"]).all()
        assert (rows.loc[rows["type"] == 1, "size_shares"] == CFG.layer_size_shares).all()
    again = ManipulationAgent(CFG, np.random.default_rng(3), DAY_S)
    assert again.schedule == agent.schedule


def test_injected_stuffing_bursts_are_all_found_and_nothing_else(manipulated):
    # the background sends ~25 quote messages/s; a burst adds ~100/s, over 8 robust
    # deviations (sqrt(25) = 5) above the baseline, where a Poisson count almost never goes
    day, _ = manipulated
    found = detect_quote_stuffing(day.messages)
    scores = interval_scores(found, day.labels["stuffing"])
    assert scores["recall"] == 1.0 and scores["precision"] == 1.0
    starts = np.sort(found["t_start"].to_numpy())
    true = np.sort([t0 for t0, _ in day.labels["stuffing"]])
    assert np.all(np.abs(starts - true) <= 1.0)  # within one 1-s bin


def test_bursts_within_the_noise_are_not_found():
    weak = ManipulationConfig(n_stuffing_bursts=6, n_layering_episodes=0, burst_messages=20)
    day, _ = _day(weak, seed=5)
    scores = interval_scores(detect_quote_stuffing(day.messages), day.labels["stuffing"])
    assert scores["recall"] <= 0.5


def test_layering_is_found_on_both_sides(manipulated):
    # background limit orders are geometric with mean 500 shares: one above 12x the
    # median (~3800 shares) is rare (P ~ e^-7.6, a handful in 30 minutes), and it must
    # also die within 0.2 s of an opposite execution (executions come about once a
    # second per side, so P ~ 0.2); every injected spoof order does (the agent reacts
    # within its 0.1-s step)
    day, _ = manipulated
    flagged, episodes = detect_layering(day)
    scores = layering_scores(flagged, day.labels).set_index("side")
    for side in ("buy", "sell"):
        row = scores.loc[side]
        assert row["true_orders"] == 3 * CFG.n_layers
        assert row["executed_episode_recall"] == 1.0
        assert row["precision"] >= 0.8
    # requiring several layers per episode removes the lone large background orders
    flagged2, _ = detect_layering(day, LayeringParams(min_orders=2))
    strict = layering_scores(flagged2, day.labels).set_index("side")
    assert strict.loc["all", "precision"] == 1.0
    assert strict.loc["all", "executed_episode_recall"] == 1.0
    assert len(episodes) >= strict.loc["all", "episodes_executed"]


def test_layering_detection_is_symmetric_under_mirroring(manipulated):
    day, _ = manipulated
    a, _ = detect_layering(day)
    b, _ = detect_layering(mirror_day(day))
    assert sorted(a["order_id"]) == sorted(b["order_id"])
    pd.testing.assert_series_equal(b.set_index("order_id")["side"].sort_index(),
                                   -a.set_index("order_id")["side"].sort_index())


def test_small_orders_near_the_touch_are_not_layering(manipulated):
    day, _ = manipulated
    flagged, _ = detect_layering(day, LayeringParams(size_factor=1000.0))
    assert flagged.empty


def test_configs_refuse_bad_values():
    with pytest.raises(ValueError, match="layering_side"):
        ManipulationConfig(layering_side="up")
    with pytest.raises(ValueError, match="burst_messages"):
        ManipulationConfig(burst_messages=1)
    with pytest.raises(ValueError, match="cannot hold"):
        ManipulationAgent(CFG, np.random.default_rng(0), 100.0)
    with pytest.raises(TypeError, match="rng"):
        ManipulationAgent(CFG, 0, DAY_S)
    with pytest.raises(ValueError, match="baseline_s"):
        StuffingParams(bin_s=1.0, baseline_s=2.0)
    with pytest.raises(ValueError, match="min_orders"):
        LayeringParams(min_orders=0)
    with pytest.raises(TypeError, match="StuffingParams"):
        detect_quote_stuffing(pd.DataFrame({"time_s": [1.0], "type": [1]}), params={"z": 3})


def test_interval_scores_count_overlaps():
    det = pd.DataFrame({"t_start": [0.0, 10.0, 50.0], "t_end": [2.0, 12.0, 51.0]})
    s = interval_scores(det, [(1.0, 3.0), (11.5, 13.0), (30.0, 31.0)])
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
